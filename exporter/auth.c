/* SPDX-License-Identifier: MIT */
/*
 * Basic-auth checks: bcrypt through libcrypt's crypt_r, constant-time
 * comparisons, and a cache of accepted credentials keyed by HMAC-SHA-256
 * (GnuTLS) under a random key made at start.
 */
#include "auth.h"

#include <crypt.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "timeutil.h"

#define DIGEST_SIZE 32
#define KEY_SIZE 32
#define CACHE_SLOTS 16

/*
 * How long an accepted pair is trusted without bcrypt, in seconds. The
 * hash cannot change while the server runs, so this only bounds how long
 * a digest of a password stays in memory.
 */
#define CACHE_SECONDS 600.0

struct cache_entry {
	unsigned char digest[DIGEST_SIZE];
	double expires;               /* monotonic seconds; 0 = empty slot */
};

struct cie_auth {
	pthread_mutex_t lock;         /* guards running, cache and next_slot */
	unsigned char key[KEY_SIZE];  /* HMAC key of the digests */
	unsigned char user_digest[DIGEST_SIZE];
	char *hash;                   /* the bcrypt hash */
	unsigned max_parallel;
	unsigned running;             /* bcrypt computations in progress */
	struct cache_entry cache[CACHE_SLOTS];
	size_t next_slot;
};

/* Compare n bytes in a time that depends on n only. */
static bool equal_ct(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(x[i] ^ y[i]);
	return diff == 0;
}

/* HMAC-SHA-256 of first, then a NUL and second when second is not NULL. */
static bool keyed_digest(const struct cie_auth *a, const char *first,
			 const char *second, unsigned char out[DIGEST_SIZE])
{
	gnutls_hmac_hd_t h;

	if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, a->key, KEY_SIZE) < 0)
		return false;
	gnutls_hmac(h, first, strlen(first));
	if (second) {
		gnutls_hmac(h, "", 1);
		gnutls_hmac(h, second, strlen(second));
	}
	gnutls_hmac_deinit(h, out);
	return true;
}

struct cie_auth *cie_auth_new(const char *username, const char *bcrypt_hash,
			      unsigned max_parallel, struct cie_error *err)
{
	struct cie_auth *a = calloc(1, sizeof(*a));

	if (!a || !(a->hash = strdup(bcrypt_hash))) {
		free(a);
		cie_error_set(err, CIE_ERR_NOMEM, "basic auth");
		return NULL;
	}
	pthread_mutex_init(&a->lock, NULL);
	a->max_parallel = max_parallel ? max_parallel : 1;
	if (getrandom(a->key, KEY_SIZE, 0) != KEY_SIZE ||
	    !keyed_digest(a, username, NULL, a->user_digest)) {
		cie_auth_free(a);
		cie_error_set(err, CIE_ERR_IO,
			      "basic auth: cannot get random bytes or HMAC-SHA-256 for the credential cache");
		return NULL;
	}
	return a;
}

void cie_auth_free(struct cie_auth *a)
{
	if (!a)
		return;
	explicit_bzero(a->hash, strlen(a->hash));
	free(a->hash);
	pthread_mutex_destroy(&a->lock);
	explicit_bzero(a, sizeof(*a));
	free(a);
}

/* Whether digest is cached and not expired; scans every slot. Locked. */
static bool cache_find(const struct cie_auth *a, const unsigned char *digest,
		       double now)
{
	bool found = false;

	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		const struct cache_entry *e = &a->cache[i];

		if (equal_ct(e->digest, digest, DIGEST_SIZE) && e->expires > now)
			found = true;
	}
	return found;
}

/* Store digest in an empty or expired slot, else over the oldest. Locked. */
static void cache_add(struct cie_auth *a, const unsigned char *digest,
		      double now)
{
	struct cache_entry *e = &a->cache[a->next_slot];

	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		if (a->cache[i].expires <= now) {
			e = &a->cache[i];
			break;
		}
	}
	if (e == &a->cache[a->next_slot])
		a->next_slot = (a->next_slot + 1) % CACHE_SLOTS;
	memcpy(e->digest, digest, DIGEST_SIZE);
	e->expires = now + CACHE_SECONDS;
}

/* The slow check: bcrypt always runs, so a wrong username takes as long. */
static bool verify(const struct cie_auth *a, const char *username,
		   const char *password)
{
	unsigned char digest[DIGEST_SIZE];
	struct crypt_data *data = calloc(1, sizeof(*data));
	size_t hash_len = strlen(a->hash);
	bool user_ok, password_ok = false;
	const char *out;

	if (!data)
		return false;
	user_ok = keyed_digest(a, username, NULL, digest) &&
		  equal_ct(digest, a->user_digest, DIGEST_SIZE);
	out = crypt_r(password, a->hash, data);
	/* libcrypt returns NULL or a string starting with '*' on failure. */
	if (out && out[0] != '*' && strlen(out) == hash_len)
		password_ok = equal_ct(out, a->hash, hash_len);
	explicit_bzero(data, sizeof(*data));
	free(data);
	return user_ok && password_ok;
}

enum cie_auth_result cie_auth_check(struct cie_auth *a, const char *username,
				    const char *password)
{
	unsigned char digest[DIGEST_SIZE];
	double now = cie_time_mono();
	bool cached, ok;

	if (!username || !password || !keyed_digest(a, username, password, digest))
		return CIE_AUTH_DENIED;

	pthread_mutex_lock(&a->lock);
	cached = cache_find(a, digest, now);
	if (!cached && a->running >= a->max_parallel) {
		pthread_mutex_unlock(&a->lock);
		explicit_bzero(digest, sizeof(digest));
		return CIE_AUTH_BUSY;
	}
	if (!cached)
		a->running++;
	pthread_mutex_unlock(&a->lock);
	if (cached) {
		explicit_bzero(digest, sizeof(digest));
		return CIE_AUTH_OK;
	}

	ok = verify(a, username, password);

	pthread_mutex_lock(&a->lock);
	a->running--;
	if (ok)
		cache_add(a, digest, cie_time_mono());
	pthread_mutex_unlock(&a->lock);
	explicit_bzero(digest, sizeof(digest));
	return ok ? CIE_AUTH_OK : CIE_AUTH_DENIED;
}
