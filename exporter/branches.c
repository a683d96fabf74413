/* SPDX-License-Identifier: MIT */
/*
 * Expansion of branch globs against a project's branch list.
 */
#include "branches.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

bool cie_branch_is_glob(const char *entry)
{
	return strchr(entry, '*') != NULL && strcmp(entry, "*") != 0;
}

bool cie_branches_have_glob(const struct cie_poll_settings *s)
{
	for (size_t i = 0; i < s->branch_count; i++) {
		if (cie_branch_is_glob(s->branches[i]))
			return true;
	}
	return false;
}

static bool listed(const struct cie_string_list *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->items[i], name) == 0)
			return true;
	}
	return false;
}

static bool matches_glob(const struct cie_poll_settings *s, const char *name)
{
	for (size_t i = 0; i < s->branch_count; i++) {
		if (cie_branch_is_glob(s->branches[i]) &&
		    fnmatch(s->branches[i], name, 0) == 0)
			return true;
	}
	return false;
}

static bool append(struct cie_string_list *list, const char *name)
{
	char **items = realloc(list->items, (list->count + 1) * sizeof(*items));

	if (!items)
		return false;
	list->items = items;
	items[list->count] = strdup(name);
	if (!items[list->count])
		return false;
	list->count++;
	return true;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool cie_branches_expand(const struct cie_poll_settings *s,
			 const struct cie_string_list *known, size_t max_matched,
			 struct cie_string_list *out, size_t *dropped)
{
	struct cie_string_list list = { 0 }, matched = { 0 };
	bool ok = true;

	*dropped = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; ok && i < s->branch_count; i++) {
		if (!cie_branch_is_glob(s->branches[i]))
			ok = append(&list, s->branches[i]);
	}
	for (size_t i = 0; ok && known && i < known->count; i++) {
		const char *name = known->items[i];

		if (matches_glob(s, name) && !listed(&list, name) &&
		    !listed(&matched, name))
			ok = append(&matched, name);
	}
	if (ok && matched.count > 1)
		qsort(matched.items, matched.count, sizeof(*matched.items),
		      compare_strings);
	for (size_t i = 0; ok && i < matched.count; i++) {
		if (i >= max_matched)
			(*dropped)++;
		else
			ok = append(&list, matched.items[i]);
	}
	cie_string_list_cleanup(&matched);
	if (!ok) {
		cie_string_list_cleanup(&list);
		*dropped = 0;
		return false;
	}
	*out = list;
	return true;
}
