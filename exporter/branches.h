/* SPDX-License-Identifier: MIT */
/*
 * Branch patterns: a `branches` entry containing '*' (other than "*"
 * alone, which means all branches together) is a glob, matched with
 * fnmatch(3) and no flags against the project's branch list from
 * `GET /insights/{slug}/branches`, so '*' also matches '/'.
 */
#ifndef CIE_BRANCHES_H
#define CIE_BRANCHES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "parse.h"

/* Return true when the `branches` entry is a glob. */
bool cie_branch_is_glob(const char *entry);

/* Return true when one of the settings' `branches` entries is a glob. */
bool cie_branches_have_glob(const struct cie_poll_settings *s);

/*
 * Build the branch entries to poll into out (caller-owned, released with
 * cie_string_list_cleanup()). First come the configured entries that are
 * not globs, in config order. Then come the branches of known that match
 * a glob and are not listed by name, sorted by strcmp(), at most
 * max_matched of them. *dropped receives how many matching branches the
 * cap left out. known may be NULL or empty when the branch list was never
 * fetched. Returns false when out of memory, with out empty.
 */
bool cie_branches_expand(const struct cie_poll_settings *s,
			 const struct cie_string_list *known, size_t max_matched,
			 struct cie_string_list *out, size_t *dropped);

#endif
