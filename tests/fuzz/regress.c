/* SPDX-License-Identifier: MIT */
/*
 * Replays the seed corpus and the saved crash inputs of every fuzz target
 * through its entry point, without libFuzzer, so that the normal build
 * (gcc, any sanitizer setting) checks that no saved input crashes again.
 *
 * Usage: fuzz-regressions FUZZ_DIR [TARGET...]
 * FUZZ_DIR is tests/fuzz; for each target the files of
 * FUZZ_DIR/corpus/TARGET/ and FUZZ_DIR/regressions/TARGET/ are run.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define TARGET_LIST(X) \
	X(parse_summary) X(parse_runs) X(parse_project) X(config) \
	X(render) X(timeutil) X(percent_encode) X(http_negotiation) \
	X(parse_insights)

#define DECLARE(name) \
	int fuzz_test_##name(const uint8_t *data, size_t size); \
	int fuzz_init_##name(int *argc, char ***argv);
TARGET_LIST(DECLARE)

struct target {
	const char *name;
	int (*test)(const uint8_t *data, size_t size);
	int (*init)(int *argc, char ***argv);
};

#define ENTRY(name) { #name, fuzz_test_##name, fuzz_init_##name },
static const struct target targets[] = { TARGET_LIST(ENTRY) };

/* Inputs larger than this are not replayed; libFuzzer runs use smaller ones. */
#define INPUT_MAX (4u << 20)

static bool read_input(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (!f)
		return false;
	buf = malloc(INPUT_MAX);
	n = buf ? fread(buf, 1, INPUT_MAX, f) : 0;
	fclose(f);
	if (!buf)
		return false;
	/* An exact-size copy, so that AddressSanitizer detects any over-read. */
	*data = malloc(n ? n : 1);
	if (*data)
		memcpy(*data, buf, n);
	free(buf);
	*size = n;
	return *data != NULL;
}

/* Run every file of dir; returns the count, or -1 when a file cannot be read. */
static long run_dir(const struct target *t, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long count = 0;
	char path[4096];

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		uint8_t *data;
		size_t size;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!read_input(path, &data, &size)) {
			fprintf(stderr, "cannot read %s\n", path);
			closedir(d);
			return -1;
		}
		t->test(data, size);
		free(data);
		count++;
	}
	closedir(d);
	return count;
}

static int run_target(const struct target *t, const char *fuzz_dir, int *argc,
		      char ***argv)
{
	char dir[4096];
	long corpus, regressions;

	t->init(argc, argv);
	snprintf(dir, sizeof(dir), "%s/corpus/%s", fuzz_dir, t->name);
	corpus = run_dir(t, dir);
	snprintf(dir, sizeof(dir), "%s/regressions/%s", fuzz_dir, t->name);
	regressions = run_dir(t, dir);
	if (corpus < 0 || regressions < 0)
		return 1;
	printf("%-18s %4ld corpus inputs, %3ld regression inputs: no crash\n",
	       t->name, corpus, regressions);
	if (corpus == 0) {
		fprintf(stderr, "%s: no corpus under %s/corpus/%s\n", t->name,
			fuzz_dir, t->name);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FUZZ_DIR [TARGET...]\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		bool selected = argc == 2;

		for (int j = 2; j < argc; j++)
			selected = selected || strcmp(argv[j], targets[i].name) == 0;
		if (selected)
			failed |= run_target(&targets[i], argv[1], &argc, &argv);
	}
	return failed;
}
