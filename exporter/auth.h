/* SPDX-License-Identifier: MIT */
/*
 * HTTP basic authentication against one username and a bcrypt password
 * hash. A small cache of recently accepted credentials means that a
 * scraper sending the same header every few seconds costs one bcrypt
 * computation per cache lifetime, not one per scrape. Thread-safe.
 */
#ifndef CIE_AUTH_H
#define CIE_AUTH_H

#include <stddef.h>

#include "error.h"

struct cie_auth;

enum cie_auth_result {
	CIE_AUTH_OK,      /* the username and password are right */
	CIE_AUTH_DENIED,  /* wrong username or password */
	CIE_AUTH_BUSY,    /* every bcrypt slot is in use; try again shortly */
};

/*
 * Create a checker for username and bcrypt_hash ("$2a$", "$2b$" or "$2y$"),
 * both copied. At most max_parallel bcrypt computations run at once, so
 * that wrong passwords cannot occupy every server thread; 0 means 1.
 * Returns NULL with err set when out of memory or when the random key of
 * the cache cannot be had.
 */
struct cie_auth *cie_auth_new(const char *username, const char *bcrypt_hash,
			      unsigned max_parallel, struct cie_error *err);

/* Free the checker and wipe its secrets; NULL is allowed. */
void cie_auth_free(struct cie_auth *a);

/*
 * Check a username and password as sent by a client (either may be NULL,
 * which is denied). The comparison takes the same time whichever part is
 * wrong, and the password is neither stored nor logged: the cache keeps
 * only a keyed SHA-256 digest of accepted pairs, for a few minutes.
 */
enum cie_auth_result cie_auth_check(struct cie_auth *a, const char *username,
				    const char *password);

#endif
