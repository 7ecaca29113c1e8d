/*
 * jsonx.h - strict reading of JSON objects with errors that name the field.
 *
 * Every function fills err with one sentence naming the field's path
 * ("limits.cpu_time_ms must be an integer") and returns -1 on failure.
 */
#ifndef RUNBOX_JSONX_H
#define RUNBOX_JSONX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Refuse any key of obj that is not in allowed (NULL-terminated). */
int jx_only_keys(json_t *obj, const char *path, const char *const *allowed,
		 char *err, size_t errlen);
int jx_object(json_t *v, const char *path, char *err, size_t errlen);
/* A string.  With len, any bytes (NUL included) and their length; without
   it, a C string: a NUL inside is refused (it names something, and a name
   cut at a NUL would be another name). */
int jx_string(json_t *v, const char *path, const char **s, size_t *len,
	      char *err, size_t errlen);
int jx_uint(json_t *v, const char *path, uint64_t min, uint64_t max,
	    uint64_t *out, char *err, size_t errlen);
int jx_bool(json_t *v, const char *path, bool *out, char *err, size_t errlen);
/* A non-empty array of strings without NULs, copied as a NULL-terminated
   vector (free with jx_strv_free). */
int jx_strv(json_t *v, const char *path, bool allow_empty, char ***out,
	    char *err, size_t errlen);
void jx_strv_free(char **v);
/*
 * An object of environment variables: at most max of them, names of
 * letters, digits and '_' not starting with a digit (at most 128 bytes),
 * string values without NUL.  *out (freed first) becomes a NULL-terminated
 * "NAME=value" vector, to free with jx_strv_free even after a failure.
 * Out of memory: -1 with errno ENOMEM.
 */
int jx_env(json_t *v, const char *path, size_t max, char ***out, char *err,
	   size_t errlen);
size_t jx_strv_len(char *const *v);
/* "a" + "b" -> "a.b"; "" + "b" -> "b" (into buf). */
const char *jx_path(char *buf, size_t len, const char *parent, const char *key);

#endif
