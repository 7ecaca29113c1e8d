/*
 * limits.c - one table for the eight limits of the API and the config.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "service/jsonx.h"
#include "service/limits.h"

/* Below these the kernel refuses the setting (a memory limit under a
   page, a stack smaller than a process needs to start). */
static uint64_t limit_min(const char *name)
{
	if (!strcmp(name, "memory_bytes"))
		return 1u << 20;
	if (!strcmp(name, "stack_bytes"))
		return 64u << 10;
	if (!strcmp(name, "disk_bytes"))
		return 1u << 20;
	return 1;
}

const struct limit_field limit_fields[] = {
#define LIMIT_FIELD(name) { #name, offsetof(struct sbx_limits, name), 0 },
	LIMIT_MAP(LIMIT_FIELD)
#undef LIMIT_FIELD
};
const size_t limit_field_count = sizeof limit_fields / sizeof limit_fields[0];

uint64_t *limit_ref(struct sbx_limits *l, const struct limit_field *f)
{
	return (uint64_t *)((char *)l + f->offset);
}

uint64_t limit_get(const struct sbx_limits *l, const struct limit_field *f)
{
	return *(const uint64_t *)((const char *)l + f->offset);
}

int limits_parse(json_t *obj, const char *path, bool complete,
		 const struct sbx_limits *max, struct sbx_limits *out,
		 char *err, size_t errlen)
{
	const char *names[sizeof limit_fields / sizeof limit_fields[0] + 1];
	char p[128];

	if (jx_object(obj, path, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < limit_field_count; i++)
		names[i] = limit_fields[i].name;
	names[limit_field_count] = NULL;
	if (jx_only_keys(obj, path, names, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < limit_field_count; i++) {
		const struct limit_field *f = &limit_fields[i];
		json_t *v = json_object_get(obj, f->name);
		jx_path(p, sizeof p, path, f->name);
		if (!v) {
			if (complete) {
				snprintf(err, errlen, "%s is required", p);
				return -1;
			}
			continue;
		}
		uint64_t hi = max ? limit_get(max, f) : (uint64_t)INT64_MAX;
		if (jx_uint(v, p, limit_min(f->name), hi, limit_ref(out, f), err, errlen) < 0)
			return -1;
	}
	return 0;
}

json_t *limits_to_json(const struct sbx_limits *l)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < limit_field_count; i++)
		json_object_set_new(o, limit_fields[i].name,
				    json_integer((json_int_t)limit_get(l, &limit_fields[i])));
	return o;
}
