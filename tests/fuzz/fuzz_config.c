/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: loading and validating a YAML config from memory
 * (cie_config_load_data), then describing it as --check-config does.
 */
#include "fuzz.h"

#include "config.h"
#include "log.h"

FUZZ_INIT(config)
{
	(void)argc;
	(void)argv;
	/* Warnings (e.g. a world-readable file) are expected; keep the output short. */
	cie_log_setup(CIE_LOG_ERROR, CIE_LOG_LOGFMT);
	setenv("FUZZ_TOKEN", "fuzz-token-0123456789", 1);
	return 0;
}

/*
 * Whether the input could name a file to read: token_file, password_file,
 * cert_file and key_file are read at load time, and a fuzzer that found
 * /dev/stdin or a FIFO would block. YAML's \x, \u and \U escapes could
 * spell the underscore, so inputs with them are skipped too.
 */
static bool names_a_file(const uint8_t *data, size_t size)
{
	static const char *const needles[] = { "_file", "\\x", "\\u", "\\U" };

	for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++) {
		if (memmem(data, size, needles[i], strlen(needles[i])))
			return true;
	}
	return false;
}

FUZZ_TARGET(config)
{
	struct cie_config *cfg = NULL;
	struct cie_error err = { 0 };
	FILE *out;

	if (names_a_file(data, size))
		return 0;
	if (cie_config_load_data((const char *)data, size, &cfg, &err) != CIE_OK) {
		FUZZ_CHECK(cfg == NULL);
		FUZZ_CHECK(err.detail[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(cfg->circleci.token != NULL && cfg->circleci.token[0] != '\0');
	FUZZ_CHECK(cfg->sharding.index < cfg->sharding.total);
	out = fopen("/dev/null", "w");
	if (out) {
		cie_config_describe(cfg, out);
		fclose(out);
	}
	cie_config_free(cfg);
	return 0;
}
