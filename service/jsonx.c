/*
 * jsonx.c - strict JSON field readers for the config and the API.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/jsonx.h"
#include "service/utf8.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	utf8_vformat(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

const char *jx_path(char *buf, size_t len, const char *parent, const char *key)
{
	snprintf(buf, len, "%s%s%s", parent, *parent ? "." : "", key);
	return buf;
}

int jx_only_keys(json_t *obj, const char *path, const char *const *allowed,
		 char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, key) != 0)
			a++;
		if (!*a) {
			char p[256];
			return fail(err, errlen, "unknown field \"%s\"",
				    jx_path(p, sizeof p, path, key));
		}
	}
	return 0;
}

int jx_object(json_t *v, const char *path, char *err, size_t errlen)
{
	if (!json_is_object(v))
		return fail(err, errlen, "%s must be an object", path);
	return 0;
}

int jx_string(json_t *v, const char *path, const char **s, size_t *len,
	      char *err, size_t errlen)
{
	if (!json_is_string(v))
		return fail(err, errlen, "%s must be a string", path);
	*s = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	else if (strlen(*s) != json_string_length(v))
		/* Read as a C string, "sh\u0000zzz" would name "sh". */
		return fail(err, errlen, "%s must not contain NUL characters", path);
	return 0;
}

int jx_uint(json_t *v, const char *path, uint64_t min, uint64_t max,
	    uint64_t *out, char *err, size_t errlen)
{
	if (!json_is_integer(v))
		return fail(err, errlen, "%s must be an integer", path);
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return fail(err, errlen, "%s must be between %llu and %llu",
			    path, (unsigned long long)min,
			    (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

int jx_bool(json_t *v, const char *path, bool *out, char *err, size_t errlen)
{
	if (!json_is_boolean(v))
		return fail(err, errlen, "%s must be true or false", path);
	*out = json_is_true(v);
	return 0;
}

void jx_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static bool env_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > 128 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

int jx_env(json_t *v, const char *path, size_t max, char ***out, char *err,
	   size_t errlen)
{
	const char *name;
	json_t *val;
	size_t n = 0;

	jx_strv_free(*out);
	*out = NULL;
	if (jx_object(v, path, err, errlen) < 0)
		return -1;
	if (json_object_size(v) > max)
		return fail(err, errlen, "%s may hold at most %zu variables", path, max);
	if (!(*out = calloc(json_object_size(v) + 1, sizeof **out)))
		goto nomem;
	json_object_foreach(v, name, val) {
		const char *s = NULL;
		size_t len = 0;
		char p[300];
		if (!env_name_ok(name))
			return fail(err, errlen, "%s: \"%.128s\" is not a valid variable name "
				    "(letters, digits and '_', not starting with a digit)",
				    path, name);
		jx_path(p, sizeof p, path, name);
		if (jx_string(val, p, &s, &len, err, errlen) < 0)
			return -1;
		if (strlen(s) != len)
			return fail(err, errlen, "%s must not contain NUL characters", p);
		if (asprintf(&(*out)[n], "%s=%s", name, s) < 0) {
			(*out)[n] = NULL;
			goto nomem;
		}
		n++;
	}
	return 0;
nomem:
	errno = ENOMEM;
	return fail(err, errlen, "out of memory");
}

size_t jx_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int jx_strv(json_t *v, const char *path, bool allow_empty, char ***out,
	    char *err, size_t errlen)
{
	size_t i, n;
	char **sv;

	if (!json_is_array(v))
		return fail(err, errlen, "%s must be an array of strings", path);
	n = json_array_size(v);
	if (!n && !allow_empty)
		return fail(err, errlen, "%s must not be empty", path);
	if (!(sv = calloc(n + 1, sizeof *sv)))
		return fail(err, errlen, "out of memory");
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);
		if (!json_is_string(e)) {
			jx_strv_free(sv);
			return fail(err, errlen, "%s[%zu] must be a string", path, i);
		}
		if (strlen(json_string_value(e)) != json_string_length(e)) {
			jx_strv_free(sv);
			return fail(err, errlen, "%s[%zu] must not contain NUL characters",
				    path, i);
		}
		if (!(sv[i] = strdup(json_string_value(e)))) {
			jx_strv_free(sv);
			return fail(err, errlen, "out of memory");
		}
	}
	*out = sv;
	return 0;
}
