/*
 * limits.h - the limits object of the API and the config, driven by one
 * table whose names are the API's ("cpu_time_ms", ...) and the fields of
 * struct sbx_limits.
 */
#ifndef RUNBOX_LIMITS_H
#define RUNBOX_LIMITS_H

#include <jansson.h>
#include <stddef.h>

#include "sandbox/sandbox.h"

#define LIMIT_MAP(X)        \
	X(cpu_time_ms)      \
	X(wall_time_ms)     \
	X(memory_bytes)     \
	X(stack_bytes)      \
	X(processes)        \
	X(open_files)       \
	X(file_size_bytes)  \
	X(output_bytes)     \
	X(disk_bytes)

struct limit_field {
	const char *name;
	size_t offset;
	uint64_t min;   /* the smallest value that makes sense */
};

extern const struct limit_field limit_fields[];
extern const size_t limit_field_count;

uint64_t *limit_ref(struct sbx_limits *l, const struct limit_field *f);
uint64_t limit_get(const struct sbx_limits *l, const struct limit_field *f);

/*
 * Read a limits object at path.  With `complete`, every field is required
 * (the config); otherwise missing fields keep their value in *out (the
 * request, over the defaults).  Each value must be in 1..max (max NULL:
 * no upper bound).  Errors name the field and the maximum.
 */
int limits_parse(json_t *obj, const char *path, bool complete,
		 const struct sbx_limits *max, struct sbx_limits *out,
		 char *err, size_t errlen);

json_t *limits_to_json(const struct sbx_limits *l);

#endif
