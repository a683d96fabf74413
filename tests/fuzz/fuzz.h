/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets. Each target defines its entry points with
 * FUZZ_TARGET(name) and FUZZ_INIT(name). Built alone, they are libFuzzer's
 * LLVMFuzzerTestOneInput and LLVMFuzzerInitialize. Built into the
 * regression driver (CIE_FUZZ_REGRESS defined), they get per-target names,
 * so that one program can replay the inputs of every target.
 */
#ifndef CIE_FUZZ_H
#define CIE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CIE_FUZZ_REGRESS
#define FUZZ_TARGET(name) \
	int fuzz_test_##name(const uint8_t *data, size_t size); \
	int fuzz_test_##name(const uint8_t *data, size_t size)
#define FUZZ_INIT(name) \
	int fuzz_init_##name(int *argc, char ***argv); \
	int fuzz_init_##name(int *argc, char ***argv)
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
#define FUZZ_TARGET(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#define FUZZ_INIT(name) int LLVMFuzzerInitialize(int *argc, char ***argv)
#endif

/* Abort with a message when a property of the code under test fails. */
#define FUZZ_CHECK(cond)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                \
			abort();                                           \
		}                                                          \
	} while (0)

/* A NUL-terminated copy of the input, cut at its first NUL; NULL when out of memory. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* Reads typed values from the front of the input; past the end, zeros. */
struct fuzz_reader {
	const uint8_t *data;
	size_t size;
};

static inline uint8_t fuzz_byte(struct fuzz_reader *r)
{
	uint8_t b = 0;

	if (r->size) {
		b = r->data[0];
		r->data++;
		r->size--;
	}
	return b;
}

static inline double fuzz_double(struct fuzz_reader *r)
{
	uint8_t bytes[sizeof(double)] = { 0 };
	double v;

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = fuzz_byte(r);
	memcpy(&v, bytes, sizeof(v));
	return v;
}

/* A new string of up to max bytes (length from one byte), without NUL bytes. */
static inline char *fuzz_text(struct fuzz_reader *r, size_t max)
{
	size_t len = fuzz_byte(r) % (max + 1), n = 0;
	char *s = malloc(len + 1);

	if (!s)
		return NULL;
	while (n < len && r->size) {
		uint8_t b = fuzz_byte(r);

		if (b)
			s[n++] = (char)b;
	}
	s[n] = '\0';
	return s;
}

#endif
