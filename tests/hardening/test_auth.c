/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of exporter/auth.c: the basic-auth check against a bcrypt
 * hash made here with libcrypt, the cache of accepted credentials, and
 * the limit on bcrypt computations running at once.
 */
#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>

#include "../check.h"
#include "auth.h"

/* Make a bcrypt hash of password at cost (4 to 31) into out. */
static bool make_hash(const char *password, unsigned long cost, char *out,
		      size_t size)
{
	struct crypt_data *data = calloc(1, sizeof(*data));
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *hash = NULL;
	bool ok;

	if (data && crypt_gensalt_rn("$2b$", cost, NULL, 0, salt, sizeof(salt)))
		hash = crypt_r(password, salt, data);
	/* hash points into data: copy it before data is freed. */
	ok = hash && hash[0] != '*';
	if (ok)
		snprintf(out, size, "%s", hash);
	free(data);
	return ok;
}

static struct cie_auth *new_auth(const char *password, unsigned long cost,
				 unsigned max_parallel)
{
	struct cie_error err = { 0 };
	char hash[128];
	struct cie_auth *a;

	if (!CHECK(make_hash(password, cost, hash, sizeof(hash)),
		   "libcrypt cannot make a bcrypt hash"))
		return NULL;
	a = cie_auth_new("prometheus", hash, max_parallel, &err);
	CHECK(a != NULL, "cie_auth_new failed: %s", err.detail);
	return a;
}

static void test_auth_right_credentials(void)
{
	struct cie_auth *a = new_auth("s3cret", 4, 1);

	if (!a)
		return;
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", "s3cret"), CIE_AUTH_OK);
	/* The second check comes from the cache. */
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", "s3cret"), CIE_AUTH_OK);
	cie_auth_free(a);
}

static void test_auth_wrong_credentials(void)
{
	struct cie_auth *a = new_auth("s3cret", 4, 1);

	if (!a)
		return;
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", "s3cret!"), CIE_AUTH_DENIED);
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", "s3cre"), CIE_AUTH_DENIED);
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", ""), CIE_AUTH_DENIED);
	CHECK_INT_EQ(cie_auth_check(a, "Prometheus", "s3cret"), CIE_AUTH_DENIED);
	CHECK_INT_EQ(cie_auth_check(a, "prometheus2", "s3cret"), CIE_AUTH_DENIED);
	CHECK_INT_EQ(cie_auth_check(a, "", "s3cret"), CIE_AUTH_DENIED);
	CHECK_INT_EQ(cie_auth_check(a, NULL, "s3cret"), CIE_AUTH_DENIED);
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", NULL), CIE_AUTH_DENIED);
	cie_auth_free(a);
}

static void test_auth_cache_keeps_wrong_out(void)
{
	struct cie_auth *a = new_auth("s3cret", 4, 1);

	if (!a)
		return;
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", "s3cret"), CIE_AUTH_OK);
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", "wrong"), CIE_AUTH_DENIED);
	/* The pair is hashed with a separator: moving it does not match. */
	CHECK_INT_EQ(cie_auth_check(a, "prometheuss", "3cret"), CIE_AUTH_DENIED);
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", "s3cret"), CIE_AUTH_OK);
	cie_auth_free(a);
}

static void test_auth_invalid_hash_denies(void)
{
	struct cie_error err = { 0 };
	struct cie_auth *a = cie_auth_new("prometheus",
		"$2b$04$not-a-valid-bcrypt-hash-at-all-xxxxxxxxxxxxxxxxxxxxxxxx",
		1, &err);

	if (!CHECK(a != NULL, "cie_auth_new failed: %s", err.detail))
		return;
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", ""), CIE_AUTH_DENIED);
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", "x"), CIE_AUTH_DENIED);
	cie_auth_free(a);
}

struct racer {
	struct cie_auth *auth;
	pthread_barrier_t *start;
	const char *password;
	enum cie_auth_result result;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->start);
	r->result = cie_auth_check(r->auth, "prometheus", r->password);
	return NULL;
}

/*
 * Two uncached checks at once with max_parallel 1: one computes bcrypt,
 * the other is turned away busy. Cost 12 makes a computation last a few
 * hundred milliseconds, so the two overlap. A round in which one thread
 * finished before the other started is retried.
 */
static void test_auth_parallel_limit(void)
{
	struct cie_auth *a = new_auth("s3cret", 12, 1);
	bool busy_seen = false;

	if (!a)
		return;
	for (int round = 0; round < 10 && !busy_seen; round++) {
		pthread_barrier_t start;
		struct racer racers[2] = {
			{ a, &start, "wrong-one", CIE_AUTH_OK },
			{ a, &start, "wrong-two", CIE_AUTH_OK },
		};
		pthread_t threads[2];

		pthread_barrier_init(&start, NULL, 2);
		for (int i = 0; i < 2; i++)
			pthread_create(&threads[i], NULL, race, &racers[i]);
		for (int i = 0; i < 2; i++)
			pthread_join(threads[i], NULL);
		pthread_barrier_destroy(&start);
		for (int i = 0; i < 2; i++) {
			CHECK(racers[i].result != CIE_AUTH_OK,
			      "a wrong password was accepted");
			busy_seen = busy_seen || racers[i].result == CIE_AUTH_BUSY;
		}
	}
	CHECK(busy_seen, "no check was turned away in 10 rounds");
	/* Once the slot is free, a check runs again. */
	CHECK_INT_EQ(cie_auth_check(a, "prometheus", "s3cret"), CIE_AUTH_OK);
	cie_auth_free(a);
}

int main(void)
{
	RUN(test_auth_right_credentials);
	RUN(test_auth_wrong_credentials);
	RUN(test_auth_cache_keeps_wrong_out);
	RUN(test_auth_invalid_hash_denies);
	RUN(test_auth_parallel_limit);
	cie_auth_free(NULL);
	return check_summary();
}
