/* SPDX-License-Identifier: MIT */
/*
 * Organizations: which projects of an organization's summary this
 * exporter polls as discovered projects.
 */
#ifndef CIE_ORG_H
#define CIE_ORG_H

#include <stdbool.h>

#include "config.h"
#include "parse.h"

/*
 * Return true when the project slug belongs to the organization org_slug:
 * it is org_slug followed by "/" and a name.
 */
bool cie_org_contains(const char *org_slug, const char *slug);

/*
 * Return true when cfg lists the project slug under `projects`; such a
 * project is polled with its own settings, never as discovered.
 */
bool cie_org_project_configured(const struct cie_config *cfg, const char *slug);

/*
 * Fill out (caller-owned, released with cie_string_list_cleanup()) with
 * the slugs to poll as discovered projects of org, sorted and unique. A
 * name of names gives "ORG-SLUG/NAME" when it passes the organization's
 * include and exclude filter, makes a valid project slug, belongs to this
 * exporter's shard and is not configured under `projects`. Returns false
 * when out of memory, with out empty.
 */
bool cie_org_discover(const struct cie_config *cfg,
		      const struct cie_org_config *org,
		      const struct cie_string_list *names,
		      struct cie_string_list *out);

#endif
