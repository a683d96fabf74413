/* SPDX-License-Identifier: MIT */
/*
 * Discovery of an organization's projects from its summary's all_projects.
 */
#include "org.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shard.h"

bool cie_org_contains(const char *org_slug, const char *slug)
{
	size_t n = strlen(org_slug);

	return strncmp(slug, org_slug, n) == 0 && slug[n] == '/' &&
	       slug[n + 1] != '\0' && strchr(slug + n + 1, '/') == NULL;
}

bool cie_org_project_configured(const struct cie_config *cfg, const char *slug)
{
	for (size_t i = 0; i < cfg->project_count; i++) {
		if (strcmp(cfg->projects[i].slug, slug) == 0)
			return true;
	}
	return false;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Return the slug of a discovered project, or NULL when it is skipped. */
static char *wanted_slug(const struct cie_config *cfg,
			 const struct cie_org_config *org, const char *name,
			 bool *nomem)
{
	const char *why;
	size_t n = strlen(org->slug) + strlen(name) + 2;
	char *slug;

	*nomem = false;
	if (!cie_name_filter_match(&org->projects, name))
		return NULL;
	slug = malloc(n);
	if (!slug) {
		*nomem = true;
		return NULL;
	}
	snprintf(slug, n, "%s/%s", org->slug, name);
	if (!cie_config_valid_slug(slug, &why)) {
		cie_log(CIE_LOG_DEBUG, "skipping a project name that makes no valid slug",
			"org", org->slug, "name", name, "err", why, NULL);
	} else if (cie_shard_owns(cfg->sharding.total, cfg->sharding.index, slug) &&
		   !cie_org_project_configured(cfg, slug)) {
		return slug;
	}
	free(slug);
	return NULL;
}

bool cie_org_discover(const struct cie_config *cfg,
		      const struct cie_org_config *org,
		      const struct cie_string_list *names,
		      struct cie_string_list *out)
{
	struct cie_string_list list = { 0 };
	size_t kept = 0;
	bool nomem = false;

	memset(out, 0, sizeof(*out));
	list.items = calloc(names->count + 1, sizeof(*list.items));
	if (!list.items)
		return false;
	for (size_t i = 0; i < names->count && !nomem; i++) {
		char *slug = wanted_slug(cfg, org, names->items[i], &nomem);

		if (slug)
			list.items[list.count++] = slug;
	}
	if (nomem) {
		cie_string_list_cleanup(&list);
		return false;
	}

	/* Sort and drop names listed twice. */
	if (list.count > 1)
		qsort(list.items, list.count, sizeof(*list.items), compare_strings);
	for (size_t i = 0; i < list.count; i++) {
		if (kept && strcmp(list.items[kept - 1], list.items[i]) == 0) {
			free(list.items[i]);
			continue;
		}
		list.items[kept++] = list.items[i];
	}
	list.count = kept;
	*out = list;
	return true;
}
