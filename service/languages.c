/*
 * languages.c - load conf/languages.json, find which languages are present
 * (and their versions), and expand their argv and env templates.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	jx_strv_free(l->compile_options);
	for (size_t i = 0; i < l->noption_re; i++)
		regfree(&l->option_re[i]);
	free(l->option_re);
	jx_strv_free(l->debian_packages);
	free(l->missing);
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

/*
 * Templates.  The scalar placeholders any element may hold; "{args}" and
 * "{compile_options}" stand for lists, so only a whole element may be one.
 */
#define TMPL_ARGS 1u
#define TMPL_OPTIONS 2u
#define PLACEHOLDERS "{file}, {memory_mb}, {memory_bytes}, {processes}, {stack_kb}"

/* One placeholder's value into f: 0, or -1 for a name that is not a
   scalar placeholder. */
static int put_value(FILE *f, const char *name, size_t n, const struct expand_values *v)
{
	const struct sbx_limits *l = v->limits;
#define IS(word) (n == sizeof word - 1 && !memcmp(name, word, n))
	if (IS("file"))
		fputs(v->file, f);
	else if (IS("memory_mb"))
		fprintf(f, "%llu", (unsigned long long)(l->memory_bytes >> 20 ?
							l->memory_bytes >> 20 : 1));
	else if (IS("memory_bytes"))
		fprintf(f, "%llu", (unsigned long long)l->memory_bytes);
	else if (IS("processes"))
		fprintf(f, "%llu", (unsigned long long)l->processes);
	else if (IS("stack_kb"))
		fprintf(f, "%llu", (unsigned long long)(l->stack_bytes >> 10));
	else
		return -1;
#undef IS
	return 0;
}

/*
 * Expand the scalar placeholders of one element: 0 with *out, -1 with the
 * offending name in bad (not a scalar placeholder), -2 out of memory.
 */
static int expand_element(const char *s, const struct expand_values *v, char **out,
			  char *bad, size_t badlen)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	int rc = 0;

	if (!f)
		return -2;
	while (*s && rc == 0) {
		size_t n;
		if (s[0] == '{' && s[1] == '{') {
			fputc('{', f);
			s += 2;
		} else if (s[0] == '{' &&
			   (n = strspn(s + 1, "abcdefghijklmnopqrstuvwxyz_")) && s[n + 1] == '}') {
			if (put_value(f, s + 1, n, v) < 0) {
				snprintf(bad, badlen, "%.*s", (int)n, s + 1);
				rc = -1;
			}
			s += n + 2;
		} else {
			fputc(*s++, f);
		}
	}
	if (fclose(f) != 0)
		rc = -2;
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* The list an element stands for when it is a whole "{args}" or
   "{compile_options}" (*is_list), else NULL. */
static char *const *list_of(const char *element, const struct expand_values *v,
			    bool *is_list)
{
	*is_list = true;
	if (!strcmp(element, "{args}"))
		return v->args;
	if (!strcmp(element, "{compile_options}"))
		return v->compile_options;
	*is_list = false;
	return NULL;
}

char **language_expand(char *const *tmpl, const struct expand_values *v)
{
	size_t n = 0, k = 0;
	char **out;
	char bad[64];
	bool is_list;

	for (char *const *a = tmpl; *a; a++) {
		char *const *list = list_of(*a, v, &is_list);
		n += is_list ? jx_strv_len(list) : 1;
	}
	if (!(out = calloc(n + 1, sizeof *out)))
		return NULL;
	for (char *const *a = tmpl; *a; a++) {
		char *const *list = list_of(*a, v, &is_list);
		if (!is_list) {
			if (expand_element(*a, v, &out[k++], bad, sizeof bad) < 0)
				goto fail;
			continue;
		}
		for (; list && *list; list++)
			if (!(out[k++] = strdup(*list)))
				goto fail;
	}
	return out;
fail:
	jx_strv_free(out);
	return NULL;
}

/*
 * Check a template when the file is loaded: every {name} is known, and
 * the list placeholders stand alone where whole allows them.  env: the
 * elements are "NAME=value" (errors name the variable).
 */
static int check_template(char *const *tmpl, const char *path, unsigned whole,
			  bool env, char *err, size_t errlen)
{
	static const struct sbx_limits zero;
	const struct expand_values v = { .file = "x", .limits = &zero };
	char where[300], bad[64], *out;

	for (size_t i = 0; tmpl && tmpl[i]; i++) {
		const char *e = tmpl[i];
		if (env)
			snprintf(where, sizeof where, "%s.%.*s", path, (int)strcspn(e, "="), e);
		else
			snprintf(where, sizeof where, "%s[%zu]", path, i);
		if (!strcmp(e, "{args}") || !strcmp(e, "{compile_options}")) {
			if (whole & (e[1] == 'a' ? TMPL_ARGS : TMPL_OPTIONS))
				continue;
			snprintf(err, errlen, "%s: %s is not a placeholder of %s%s", where, e,
				 env ? "env" : path, e[1] == 'a' ? " ({args} goes in run)" :
				 " ({compile_options} goes in compile)");
			return -1;
		}
		int rc = expand_element(env ? e + strcspn(e, "=") : e, &v, &out, bad,
					sizeof bad);
		free(out);
		if (rc == -2) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (rc == -1 && (!strcmp(bad, "args") || !strcmp(bad, "compile_options"))) {
			snprintf(err, errlen, "%s: {%s} must be an element of its own", where, bad);
			return -1;
		}
		if (rc == -1) {
			snprintf(err, errlen, "%.150s: unknown placeholder {%s} (known: " PLACEHOLDERS
				 ", and {args} in run, {compile_options} in compile; "
				 "\"{{\" is a literal \"{\")", where, bad);
			return -1;
		}
	}
	return 0;
}

/* "limits" (over default_limits) and "min_limits", within max_limits, with
   each minimum at or below the language's default. */
static int parse_limits(json_t *o, const char *path, struct language *l,
			const struct config *cfg, char *err, size_t errlen)
{
	char p[256];
	json_t *v;

	l->limits = cfg->default_limits;
	if ((v = json_object_get(o, "limits")) &&
	    limits_parse(v, jx_path(p, sizeof p, path, "limits"), false, &cfg->max_limits,
			 &l->limits, err, errlen) < 0)
		return -1;
	memset(&l->min_limits, 0, sizeof l->min_limits);
	if (!(v = json_object_get(o, "min_limits")))
		return 0;
	if (limits_parse(v, jx_path(p, sizeof p, path, "min_limits"), false,
			 &cfg->max_limits, &l->min_limits, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < limit_field_count; i++) {
		const struct limit_field *f = &limit_fields[i];
		uint64_t min = limit_get(&l->min_limits, f), dflt = limit_get(&l->limits, f);
		if (min > dflt) {
			snprintf(err, errlen, "%s.min_limits.%s (%llu) is above the language's "
				 "default (%llu): raise %s.limits.%s too", path, f->name,
				 (unsigned long long)min, (unsigned long long)dflt, path, f->name);
			return -1;
		}
	}
	return 0;
}

/* "compile_options": POSIX extended regular expressions, each compiled
   once; an option must match one of them whole. */
static int parse_options(json_t *v, const char *path, struct language *l,
			 char *err, size_t errlen)
{
	char p[256], why[200];

	jx_path(p, sizeof p, path, "compile_options");
	if (!l->compile) {
		snprintf(err, errlen, "%s needs %s.compile", p, path);
		return -1;
	}
	if (jx_strv(v, p, false, &l->compile_options, err, errlen) < 0)
		return -1;
	size_t n = jx_strv_len(l->compile_options);
	bool used = false;
	for (char **a = l->compile; *a; a++)
		used |= !strcmp(*a, "{compile_options}");
	if (!used) {
		snprintf(err, errlen, "%s: %s.compile has no \"{compile_options}\" element "
			 "to put the options in", p, path);
		return -1;
	}
	if (!(l->option_re = calloc(n, sizeof *l->option_re))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = regcomp(&l->option_re[i], l->compile_options[i], REG_EXTENDED);
		if (rc != 0) {
			regerror(rc, NULL, why, sizeof why);
			snprintf(err, errlen, "%.150s[%zu]: \"%.100s\" is not a POSIX extended "
				 "regular expression: %.100s", p, i, l->compile_options[i], why);
			return -1;
		}
		l->noption_re++;
	}
	return 0;
}

bool language_option_allowed(const struct language *lang, const char *option)
{
	size_t len = strlen(option);

	for (size_t i = 0; i < lang->noption_re; i++) {
		regmatch_t m;
		/* The leftmost-longest match must cover the whole option. */
		if (regexec(&lang->option_re[i], option, 1, &m, 0) == 0 && m.rm_so == 0 &&
		    (size_t)m.rm_eo == len)
			return true;
	}
	return false;
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
		"paths", "packages", "limits", "min_limits", "compile_options",
		"debian_packages", NULL,
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
		    false, &l->run, err, errlen) < 0 ||
	    check_template(l->run, p, TMPL_ARGS, false, err, errlen) < 0)
		return -1;
	if (parse_limits(o, path, l, cfg, err, errlen) < 0)
		return -1;
	if ((v = json_object_get(o, "compile"))) {
		if (jx_strv(v, jx_path(p, sizeof p, path, "compile"), false,
			    &l->compile, err, errlen) < 0 ||
		    check_template(l->compile, p, TMPL_OPTIONS, false, err, errlen) < 0)
			return -1;
		l->compile_limits = l->limits;
		if ((v = json_object_get(o, "compile_limits")) &&
		    limits_parse(v, jx_path(p, sizeof p, path, "compile_limits"),
				 false, NULL, &l->compile_limits, err, errlen) < 0)
			return -1;
	} else if (json_object_get(o, "compile_limits")) {
		snprintf(err, errlen, "%s.compile_limits needs %s.compile", path, path);
		return -1;
	}
	/* Else no request in this language could run at its defaults. */
	if ((l->compile ? l->compile_limits.wall_time_ms : 0) + l->limits.wall_time_ms >
	    cfg->max_total_wall_ms) {
		json_t *own = json_object_get(o, "limits");
		bool mine = own && json_object_get(own, "wall_time_ms");
		snprintf(err, errlen, "%s.compile_limits.wall_time_ms (%llu) + "
			 "%s%slimits.wall_time_ms (%llu) is above judge.max_total_wall_ms (%llu)",
			 path, (unsigned long long)(l->compile ? l->compile_limits.wall_time_ms : 0),
			 mine ? path : "default_", mine ? "." : "",
			 (unsigned long long)l->limits.wall_time_ms,
			 (unsigned long long)cfg->max_total_wall_ms);
		return -1;
	}
	if ((v = json_object_get(o, "compile_options")) &&
	    parse_options(v, path, l, err, errlen) < 0)
		return -1;
	if ((v = json_object_get(o, "env")) &&
	    (jx_env(v, jx_path(p, sizeof p, path, "env"), 256, &l->env, err, errlen) < 0 ||
	     check_template(l->env, p, 0, true, err, errlen) < 0))
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
	if ((v = json_object_get(o, "debian_packages"))) {
		if (jx_strv(v, jx_path(p, sizeof p, path, "debian_packages"), false,
			    &l->debian_packages, err, errlen) < 0)
			return -1;
		for (char **d = l->debian_packages; *d; d++)
			if (strspn(*d, "abcdefghijklmnopqrstuvwxyz0123456789.+-") != strlen(*d) ||
			    !isalnum((unsigned char)**d)) {
				snprintf(err, errlen, "%s: \"%s\" is not a Debian package name",
					 p, *d);
				return -1;
			}
	}
	if (build_root(l, cfg) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((v = json_object_get(o, "version_command")) &&
	    (jx_strv(v, jx_path(p, sizeof p, path, "version_command"), false,
		     &l->version_command, err, errlen) < 0 ||
	     check_template(l->version_command, p, 0, false, err, errlen) < 0))
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

/* " (Debian package kotlin)", or "" when the entry names none. */
static void package_note(const struct language *l, char *buf, size_t len)
{
	size_t n = jx_strv_len(l->debian_packages), k = 0;

	buf[0] = '\0';
	if (!n)
		return;
	k = (size_t)snprintf(buf, len, " (Debian package%s ", n > 1 ? "s" : "");
	for (size_t i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "",
				      l->debian_packages[i]);
	if (k < len)
		snprintf(buf + k, len - k, ")");
}

static int set_missing(struct language *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Mark l as not served, and why: 0, or -1 out of memory. */
static int set_missing(struct language *l, const char *fmt, ...)
{
	char note[256], *why;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&why, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	package_note(l, note, sizeof note);
	rc = asprintf(&l->missing, "%s%s", why, note);
	free(why);
	if (rc < 0) {
		l->missing = NULL;
		return -1;
	}
	l->present = false;
	return 0;
}

/*
 * The program an argv starts, when the config names it by an absolute
 * path: is it an executable file on this host (whose /usr the runs' root
 * shows)?  A relative one (the compiled "./main") is made by the run.
 * 0, or 1 with l marked missing, or -1 out of memory.
 */
static int check_tool(struct language *l, char *const *argv)
{
	struct stat st;

	if (!argv || argv[0][0] != '/' || strchr(argv[0], '{'))
		return 0;
	if (stat(argv[0], &st) < 0)
		return set_missing(l, "%s: %s", argv[0], errno == ENOENT || errno == ENOTDIR ?
				   "not installed" : strerror(errno)) < 0 ? -1 : 1;
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return set_missing(l, "%s: not an executable file", argv[0]) < 0 ? -1 : 1;
	return 0;
}

/* Run l's version command in slot and keep its version: 0 (present or
   marked missing), -1 out of memory. */
static int probe_version(struct language *l, const struct config *cfg,
			 const struct slot *slot)
{
	struct sbx_spec spec;
	struct sbx_result res;
	char serr[256];
	int rc;

	/* The limits of a run in this language, with time enough for a cold
	   start. */
	slot_isolation(&spec, cfg, l, slot);
	spec.limits = l->limits;
	if (spec.limits.wall_time_ms < 10000)
		spec.limits.wall_time_ms = 10000;
	if (spec.limits.cpu_time_ms < 10000)
		spec.limits.cpu_time_ms = 10000;
	/* Its argv and env as a run's, from those limits; home is the
	   probe's private /tmp (no work directory is made for it). */
	struct expand_values v = { .file = l->source_file, .limits = &spec.limits };
	char **argv = language_expand(l->version_command, &v);
	char **env = exec_env(cfg, l, "/tmp", &spec.limits, NULL);
	if (!argv || !env) {
		jx_strv_free(argv);
		jx_strv_free(env);
		return -1;
	}
	spec.argv = argv;
	spec.envp = env;
	/* Inside a namespaced root the program starts at its "/" (no work
	   directory is shown at /box). */
	spec.cwd = cfg->userns || cfg->namespaces ? NULL : "/";
	spec.box_dir = NULL;
	rc = sbx_run(&spec, &res, serr, sizeof serr);
	jx_strv_free(argv);
	jx_strv_free(env);
	if (rc < 0)
		return set_missing(l, "version command %s could not be started: %s",
				   l->version_command[0], serr);
	if (res.status != SBX_OK) {
		rc = set_missing(l, "version command %s: %s", l->version_command[0],
				 res.message);
		sbx_result_free(&res);
		return rc;
	}
	l->version = version_token(res.out.data);
	if (!l->version)
		l->version = version_token(res.err.data);
	sbx_result_free(&res);
	if (!l->version)
		return set_missing(l, "no version number in the output of %s",
				   l->version_command[0]);
	l->present = true;
	return 0;
}

/* Probe one language: 0 (present or marked missing), -1 out of memory. */
static int probe_language(struct language *l, const struct config *cfg,
			  const struct slot *slot)
{
	int rc;

	free(l->version);
	free(l->missing);
	l->version = l->missing = NULL;
	l->present = false;
	if ((rc = check_tool(l, l->run)) == 0 && (rc = check_tool(l, l->compile)) == 0)
		rc = check_tool(l, l->version_command);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (l->version_fixed) {
		if (!(l->version = strdup(l->version_fixed)))
			return -1;
		l->present = true;
		return 0;
	}
	return probe_version(l, cfg, slot);
}

/* One thread per slot takes the next language not yet probed: each
   language is written by one thread only. */
struct prober {
	pthread_t thread;
	struct languages *langs;
	const struct config *cfg;
	const struct slot *slot;
	atomic_size_t *next;
	int rc;
};

static void *prober_main(void *arg)
{
	struct prober *p = arg;
	size_t i;

	while ((i = atomic_fetch_add(p->next, 1)) < p->langs->n)
		if (probe_language(&p->langs->v[i], p->cfg, p->slot) < 0)
			p->rc = -1;
	return NULL;
}

int languages_probe_versions(struct languages *langs, const struct config *cfg,
			     const struct slot *const *slots, size_t nslots, char *err,
			     size_t errlen)
{
	struct prober pr[LANGUAGES_PROBE_THREADS];
	atomic_size_t next = 0;
	size_t n = nslots < LANGUAGES_PROBE_THREADS ? nslots : LANGUAGES_PROBE_THREADS;
	size_t started = 0;
	int rc = 0;

	for (size_t k = 0; k < n; k++) {
		pr[k] = (struct prober){ .langs = langs, .cfg = cfg, .slot = slots[k],
					 .next = &next };
		/* The first runs here; a thread that cannot start leaves its
		   share to the others. */
		if (k > 0 && pthread_create(&pr[k].thread, NULL, prober_main, &pr[k]) != 0)
			break;
		started = k + 1;
	}
	prober_main(&pr[0]);
	for (size_t k = 1; k < started; k++)
		pthread_join(pr[k].thread, NULL);
	for (size_t k = 0; k < started; k++)
		rc |= pr[k].rc;
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	return rc < 0 ? -1 : 0;
}

json_t *languages_to_json(const struct languages *langs)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < langs->n; i++) {
		const struct language *l = &langs->v[i];
		if (!l->present)
			continue;
		json_t *pk = json_array(), *opts = json_array(), *min = json_object();
		for (char **k = l->packages; pk && k && *k; k++)
			json_array_append_new(pk, json_string(*k));
		for (char **k = l->compile_options; opts && k && *k; k++)
			json_array_append_new(opts, json_string(*k));
		for (size_t f = 0; min && f < limit_field_count; f++)
			if (limit_get(&l->min_limits, &limit_fields[f]))
				json_object_set_new(min, limit_fields[f].name, json_integer(
					(json_int_t)limit_get(&l->min_limits, &limit_fields[f])));
		json_t *o = json_pack("{s:s, s:s, s:s?, s:b, s:s?, s:o, s:o, s:o, s:o}",
				      "id", l->id, "name", l->name, "version", l->version,
				      "compiled", l->compile != NULL,
				      "sample", l->sample, "packages", pk,
				      "compile_options", opts,
				      "limits", limits_to_json(&l->limits), "min_limits", min);
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *languages_missing_json(const struct languages *langs)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < langs->n; i++) {
		const struct language *l = &langs->v[i];
		if (l->present)
			continue;
		json_t *o = json_pack("{s:s, s:s}", "id", l->id, "reason",
				      l->missing ? l->missing : "not probed");
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
