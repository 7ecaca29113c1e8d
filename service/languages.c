/*
 * languages.c - load conf/languages.json and find each language's version.
 */
#include "config.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/execute.h"
#include "service/jsonx.h"
#include "service/languages.h"
#include "service/limits.h"

static void language_free(struct language *l)
{
	free(l->id);
	free(l->name);
	free(l->version);
	free(l->source_file);
	jx_strv_free(l->compile);
	jx_strv_free(l->run);
	jx_strv_free(l->env);
	jx_strv_free(l->version_command);
	jx_strv_free(l->paths);
	jx_strv_free(l->packages);
	jx_strv_free(l->binds);
	free(l->version_fixed);
	free(l->sample);
}

void languages_free(struct languages *langs)
{
	for (size_t i = 0; i < langs->n; i++)
		language_free(&langs->v[i]);
	free(langs->v);
	langs->v = NULL;
	langs->n = 0;
}

static int dup_string(json_t *v, const char *path, bool required, char **out,
		      char *err, size_t errlen)
{
	const char *s;
	size_t len;

	if (!v) {
		if (!required)
			return 0;
		snprintf(err, errlen, "%s is required", path);
		return -1;
	}
	if (jx_string(v, path, &s, &len, err, errlen) < 0)
		return -1;
	if (!len || strlen(s) != len) {
		snprintf(err, errlen, "%s must be a non-empty string without NUL", path);
		return -1;
	}
	if (!(*out = strdup(s))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int check_id(const char *id, const char *path, char *err, size_t errlen)
{
	for (const char *c = id; *c; c++)
		if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) ||
		      *c == '_' || *c == '-' || *c == '+')) {
			snprintf(err, errlen, "%s must use only a-z, 0-9, '_', '-', '+'", path);
			return -1;
		}
	return 0;
}

/* The root of the language's runs: the config's allow-list and its own. */
static int build_root(struct language *l, const struct config *cfg)
{
	size_t n = jx_strv_len(cfg->root_binds), m = jx_strv_len(l->paths);

	if (!(l->binds = calloc(n + m + 1, sizeof *l->binds)))
		return -1;
	for (size_t i = 0; i < n + m; i++)
		if (!(l->binds[i] = strdup(i < n ? cfg->root_binds[i] : l->paths[i - n])))
			return -1;
	l->root = cfg->root;
	l->root.binds = l->binds;
	return 0;
}

static int parse_language(json_t *o, const char *path, struct language *l,
			  const struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"id", "name", "source_file", "compile", "compile_limits", "run",
		"env", "rlimit_as", "network", "version_command", "version", "sample",
		"paths", "packages", NULL,
	};
	char p[256];
	json_t *v;

	if (jx_object(o, path, err, errlen) < 0 ||
	    jx_only_keys(o, path, keys, err, errlen) < 0)
		return -1;
	if (dup_string(json_object_get(o, "id"), jx_path(p, sizeof p, path, "id"),
		       true, &l->id, err, errlen) < 0 ||
	    check_id(l->id, p, err, errlen) < 0)
		return -1;
	if (dup_string(json_object_get(o, "name"), jx_path(p, sizeof p, path, "name"),
		       true, &l->name, err, errlen) < 0)
		return -1;
	if (dup_string(json_object_get(o, "source_file"),
		       jx_path(p, sizeof p, path, "source_file"), true,
		       &l->source_file, err, errlen) < 0)
		return -1;
	if (strchr(l->source_file, '/') || !strcmp(l->source_file, ".") ||
	    !strcmp(l->source_file, "..")) {
		snprintf(err, errlen, "%s must be a plain file name", p);
		return -1;
	}
	if (jx_strv(json_object_get(o, "run"), jx_path(p, sizeof p, path, "run"),
		    false, &l->run, err, errlen) < 0)
		return -1;
	if ((v = json_object_get(o, "compile"))) {
		if (jx_strv(v, jx_path(p, sizeof p, path, "compile"), false,
			    &l->compile, err, errlen) < 0)
			return -1;
		l->compile_limits = cfg->default_limits;
		if ((v = json_object_get(o, "compile_limits")) &&
		    limits_parse(v, jx_path(p, sizeof p, path, "compile_limits"),
				 false, NULL, &l->compile_limits, err, errlen) < 0)
			return -1;
		/* Else no request in this language could run at its defaults. */
		if (l->compile_limits.wall_time_ms + cfg->default_limits.wall_time_ms >
		    cfg->max_total_wall_ms) {
			snprintf(err, errlen, "%s.compile_limits.wall_time_ms (%llu) + "
				 "default_limits.wall_time_ms (%llu) is above "
				 "judge.max_total_wall_ms (%llu)", path,
				 (unsigned long long)l->compile_limits.wall_time_ms,
				 (unsigned long long)cfg->default_limits.wall_time_ms,
				 (unsigned long long)cfg->max_total_wall_ms);
			return -1;
		}
	} else if (json_object_get(o, "compile_limits")) {
		snprintf(err, errlen, "%s.compile_limits needs %s.compile", path, path);
		return -1;
	}
	if ((v = json_object_get(o, "env")) &&
	    jx_env(v, jx_path(p, sizeof p, path, "env"), 256, &l->env, err, errlen) < 0)
		return -1;
	l->rlimit_as = true;
	if ((v = json_object_get(o, "rlimit_as")) &&
	    jx_bool(v, jx_path(p, sizeof p, path, "rlimit_as"), &l->rlimit_as,
		    err, errlen) < 0)
		return -1;
	if ((v = json_object_get(o, "network")) &&
	    jx_bool(v, jx_path(p, sizeof p, path, "network"), &l->network,
		    err, errlen) < 0)
		return -1;
	if ((v = json_object_get(o, "paths"))) {
		if (jx_strv(v, jx_path(p, sizeof p, path, "paths"), true, &l->paths,
			    err, errlen) < 0)
			return -1;
		for (char **d = l->paths; *d; d++)
			if (config_check_root_path(*d, p, err, errlen) < 0)
				return -1;
	}
	if ((v = json_object_get(o, "packages")) &&
	    jx_strv(v, jx_path(p, sizeof p, path, "packages"), true, &l->packages,
		    err, errlen) < 0)
		return -1;
	if (build_root(l, cfg) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((v = json_object_get(o, "version_command")) &&
	    jx_strv(v, jx_path(p, sizeof p, path, "version_command"), false,
		    &l->version_command, err, errlen) < 0)
		return -1;
	if (dup_string(json_object_get(o, "version"),
		       jx_path(p, sizeof p, path, "version"), false,
		       &l->version_fixed, err, errlen) < 0)
		return -1;
	if (!l->version_command == !l->version_fixed) {
		snprintf(err, errlen, "%s needs exactly one of version_command or version",
			 path);
		return -1;
	}
	if (dup_string(json_object_get(o, "sample"), jx_path(p, sizeof p, path, "sample"),
		       false, &l->sample, err, errlen) < 0)
		return -1;
	return 0;
}

int languages_load(struct languages *langs, const char *path,
		   const struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "languages", NULL };
	json_error_t jerr;
	json_t *root, *arr;
	char msg[512], p[64];
	size_t i;

	memset(langs, 0, sizeof *langs);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column,
			 jerr.text);
		return -1;
	}
	if (jx_object(root, "the top level", msg, sizeof msg) < 0 ||
	    jx_only_keys(root, "", keys, msg, sizeof msg) < 0)
		goto fail;
	arr = json_object_get(root, "languages");
	if (!json_is_array(arr) || !json_array_size(arr)) {
		snprintf(msg, sizeof msg, "languages must be a non-empty array");
		goto fail;
	}
	langs->v = calloc(json_array_size(arr), sizeof *langs->v);
	if (!langs->v) {
		snprintf(msg, sizeof msg, "out of memory");
		goto fail;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		snprintf(p, sizeof p, "languages[%zu]", i);
		langs->n++;
		if (parse_language(json_array_get(arr, i), p, &langs->v[i], cfg,
				   msg, sizeof msg) < 0)
			goto fail;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(langs->v[j].id, langs->v[i].id)) {
				snprintf(msg, sizeof msg, "%s.id: \"%s\" is defined twice",
					 p, langs->v[i].id);
				goto fail;
			}
	}
	json_decref(root);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, msg);
	json_decref(root);
	languages_free(langs);
	return -1;
}

const struct language *languages_find(const struct languages *langs,
				      const char *id)
{
	for (size_t i = 0; i < langs->n; i++)
		if (!strcmp(langs->v[i].id, id))
			return &langs->v[i];
	return NULL;
}

/* The first token that starts with a digit and holds a dot: "3.11.2". */
static char *version_token(const char *text)
{
	for (const char *c = text; *c; c++) {
		if (!isdigit((unsigned char)*c) || (c > text && isalnum((unsigned char)c[-1])))
			continue;
		size_t n = strspn(c, "0123456789.-+~abcdefghijklmnopqrstuvwxyz");
		while (n && strchr(".-+~", c[n - 1]))
			n--;
		if (memchr(c, '.', n))
			return strndup(c, n);
	}
	return NULL;
}

int languages_probe_versions(struct languages *langs, const struct config *cfg,
			     const struct slot *slot, char *err, size_t errlen)
{
	for (size_t i = 0; i < langs->n; i++) {
		struct language *l = &langs->v[i];
		struct sbx_spec spec;
		struct sbx_result res;
		char serr[256];

		/* The limits of a run, with time enough for a cold start. */
		exec_isolation(&spec, cfg, l, slot);
		spec.argv = l->version_command;
		spec.envp = cfg->env;
		/* Inside a namespaced root the program starts at its "/". */
		spec.cwd = cfg->userns || cfg->namespaces ? NULL : "/";
		spec.box_dir = NULL;
		spec.limits = cfg->default_limits;
		if (spec.limits.wall_time_ms < 10000)
			spec.limits.wall_time_ms = 10000;
		if (spec.limits.cpu_time_ms < 10000)
			spec.limits.cpu_time_ms = 10000;
		if (l->version_fixed) {
			if (!(l->version = strdup(l->version_fixed)))
				goto nomem;
			continue;
		}
		if (sbx_run(&spec, &res, serr, sizeof serr) < 0) {
			snprintf(err, errlen, "language %s: version: %s", l->id, serr);
			return -1;
		}
		if (res.status != SBX_OK) {
			snprintf(err, errlen, "language %s: version command %s: %s",
				 l->id, l->version_command[0], res.message);
			sbx_result_free(&res);
			return -1;
		}
		l->version = version_token(res.out.data);
		if (!l->version)
			l->version = version_token(res.err.data);
		sbx_result_free(&res);
		if (!l->version) {
			snprintf(err, errlen, "language %s: no version number in the output of %s",
				 l->id, l->version_command[0]);
			return -1;
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

json_t *languages_to_json(const struct languages *langs)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < langs->n; i++) {
		const struct language *l = &langs->v[i];
		json_t *pk = json_array();
		for (char **k = l->packages; pk && k && *k; k++)
			json_array_append_new(pk, json_string(*k));
		json_t *o = json_pack("{s:s, s:s, s:s?, s:b, s:s?, s:o}", "id", l->id,
				      "name", l->name, "version", l->version,
				      "compiled", l->compile != NULL,
				      "sample", l->sample, "packages", pk);
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

char **language_expand(char *const *argv, const char *file, char *const *args)
{
	size_t n = 0, nargs = jx_strv_len(args), k = 0;
	char **out;

	for (char *const *a = argv; *a; a++)
		n += strcmp(*a, "{args}") == 0 ? nargs : 1;
	if (!(out = calloc(n + 1, sizeof *out)))
		return NULL;
	for (char *const *a = argv; *a; a++) {
		if (strcmp(*a, "{args}") == 0) {
			for (size_t i = 0; i < nargs; i++)
				if (!(out[k++] = strdup(args[i])))
					goto nomem;
			continue;
		}
		const char *f = strstr(*a, "{file}");
		if (f) {
			if (asprintf(&out[k], "%.*s%s%s", (int)(f - *a), *a, file,
				     f + 6) < 0) {
				out[k] = NULL;
				goto nomem;
			}
			k++;
		} else if (!(out[k++] = strdup(*a)))
			goto nomem;
	}
	return out;
nomem:
	jx_strv_free(out);
	return NULL;
}
