/*
 * request.c - validate a run request strictly: every field's type, unknown
 * fields, names, encodings and limits, with a message naming the field.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/jsonmem.h"
#include "service/base64.h"
#include "service/jsonx.h"
#include "service/limits.h"
#include "service/request.h"
#include "service/utf8.h"
#include "service/workdir.h"

#define MAX_ARGS 256
#define MAX_ENV 64

static int invalid(struct api_error *e, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int invalid(struct api_error *e, const char *code, const char *fmt, ...)
{
	va_list ap;
	e->http = 400;
	e->code = code;
	va_start(ap, fmt);
	utf8_vformat(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return -1;
}

static int bad(struct api_error *e)
{
	e->http = 400;
	e->code = "invalid_request";
	return -1;
}

static int internal(struct api_error *e)
{
	e->http = 500;
	e->code = "internal";
	snprintf(e->message, sizeof e->message, "out of memory");
	return -1;
}

/* A text field: a JSON string, base64-decoded in base64 mode. */
static int get_bytes(json_t *v, const char *path, bool base64, char **out,
		     size_t *len, struct api_error *e)
{
	const char *s;
	size_t n;

	if (jx_string(v, path, &s, &n, e->message, sizeof e->message) < 0)
		return bad(e);
	if (base64) {
		if (b64_decode(s, n, out, len) < 0)
			return invalid(e, "invalid_request",
				       "%s is not valid base64", path);
		return 0;
	}
	if (!(*out = malloc(n + 1)))
		return internal(e);
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	*len = n;
	return 0;
}

/* A name in files or collect (field): folders allowed, up to the config's
   depth (named when that is the reason). */
static int check_name(const char *name, const struct config *cfg, const char *field,
		      struct api_error *e)
{
	char why[300];

	if (workdir_check_path(name, (unsigned)cfg->max_file_depth, why, sizeof why) == 0)
		return 0;
	bool depth = workdir_check_path(name, WORKDIR_DEPTH_MAX, NULL, 0) == 0;
	return invalid(e, "invalid_request", "%s: %s%s", field, why,
		       depth ? " (requests.max_file_depth)" : "");
}

/* Is a the folder of b ("pkg" and "pkg/util.py")? */
static bool folder_of(const char *a, const char *b)
{
	size_t n = strlen(a);
	return !strncmp(a, b, n) && b[n] == '/';
}

static int parse_files(json_t *v, struct job *job, const struct config *cfg,
		       struct api_error *e)
{
	const char *name;
	json_t *val;
	char p[512];

	if (jx_object(v, "files", e->message, sizeof e->message) < 0)
		return bad(e);
	if (json_object_size(v) > cfg->max_files)
		return invalid(e, "invalid_request", "files may hold at most %llu files "
			       "(requests.max_files)", (unsigned long long)cfg->max_files);
	if (!(job->files = calloc(json_object_size(v) + 1, sizeof *job->files)))
		return internal(e);
	json_object_foreach(v, name, val) {
		struct job_file *f = &job->files[job->nfiles];
		snprintf(p, sizeof p, "files[\"%.200s\"]", name);
		if (check_name(name, cfg, "files", e) < 0)
			return -1;
		if (job->lang && (!strcmp(name, job->lang->source_file) ||
				  folder_of(job->lang->source_file, name)))
			return invalid(e, "invalid_request",
				       "files: \"%s\" is the name of the source file%s", name,
				       strcmp(name, job->lang->source_file) ? " (as a folder)" : "");
		/* A name cannot be both a file and another file's folder. */
		for (size_t i = 0; i < job->nfiles; i++)
			if (folder_of(job->files[i].name, name) || folder_of(name, job->files[i].name))
				return invalid(e, "invalid_request", "files: \"%s\" and \"%s\": "
					       "one is the other's folder", job->files[i].name, name);
		if (!(f->name = strdup(name)))
			return internal(e);
		job->nfiles++;
		if (get_bytes(val, p, job->base64, &f->data, &f->len, e) < 0)
			return -1;
	}
	return 0;
}

static int parse_argv(json_t *v, const char *path, bool allow_empty, char ***out,
		      struct api_error *e)
{
	if (json_is_array(v) && json_array_size(v) > MAX_ARGS)
		return invalid(e, "invalid_request", "%s may hold at most %d items",
			       path, MAX_ARGS);
	jx_strv_free(*out);
	*out = NULL;
	if (jx_strv(v, path, allow_empty, out, e->message, sizeof e->message) < 0)
		return bad(e);
	return 0;
}

/*
 * Options for the compiler, each allowed by one of the language's
 * patterns (conf/languages.json "compile_options"), which go where its
 * compile argv says "{compile_options}".
 */
static int parse_compile_options(json_t *v, struct job *job, const struct config *cfg,
				 struct api_error *e)
{
	const struct language *l = job->lang;

	if (!json_is_array(v))
		return invalid(e, "invalid_request", "compile_options must be an array of strings");
	if (json_array_size(v) > cfg->max_compile_options)
		return invalid(e, "invalid_request", "compile_options may hold at most %llu "
			       "options (requests.max_compile_options)",
			       (unsigned long long)cfg->max_compile_options);
	if (jx_strv(v, "compile_options", true, &job->compile_options, e->message,
		    sizeof e->message) < 0)
		return bad(e);
	for (size_t i = 0; job->compile_options[i]; i++) {
		const char *o = job->compile_options[i];
		if (strlen(o) > cfg->max_compile_option_bytes)
			return invalid(e, "invalid_request", "compile_options[%zu] is %zu bytes "
				       "long, more than %llu (requests.max_compile_option_bytes)",
				       i, strlen(o),
				       (unsigned long long)cfg->max_compile_option_bytes);
		if (!l)
			return invalid(e, "invalid_request", "compile_options[%zu] \"%s\": "
				       "compile options go with a language, not with command",
				       i, o);
		if (!l->noption_re)
			return invalid(e, "invalid_request", "compile_options[%zu] \"%s\" is "
				       "not allowed: %s takes no compile options", i, o, l->id);
		if (!language_option_allowed(l, o))
			return invalid(e, "invalid_request", "compile_options[%zu] \"%s\" is "
				       "not allowed for %s (each option must match one of the "
				       "patterns GET /api/v1/languages lists)", i, o, l->id);
	}
	return 0;
}

static int parse_tests(json_t *v, struct job *job, const struct config *cfg,
		       struct api_error *e)
{
	static const char *const keys[] = { "stdin", "expected_stdout", "args", NULL };
	char path[64];
	json_t *o, *f;

	if (!json_is_array(v))
		return invalid(e, "invalid_request", "tests must be an array of objects");
	if (!json_array_size(v) || json_array_size(v) > cfg->max_tests)
		return invalid(e, "invalid_request", "tests must hold 1 to %llu test cases",
			       (unsigned long long)cfg->max_tests);
	if (!(job->tests = calloc(json_array_size(v), sizeof *job->tests)))
		return internal(e);
	for (size_t i = 0; i < json_array_size(v); i++) {
		struct job_test *t = &job->tests[i];
		o = json_array_get(v, i);
		job->ntests++;
		snprintf(path, sizeof path, "tests[%zu]", i);
		if (jx_object(o, path, e->message, sizeof e->message) < 0 ||
		    jx_only_keys(o, path, keys, e->message, sizeof e->message) < 0)
			return bad(e);
		if ((f = json_object_get(o, "stdin"))) {
			snprintf(path, sizeof path, "tests[%zu].stdin", i);
			if (get_bytes(f, path, job->base64, &t->stdin_data, &t->stdin_len, e) < 0)
				return -1;
		}
		if ((f = json_object_get(o, "expected_stdout"))) {
			snprintf(path, sizeof path, "tests[%zu].expected_stdout", i);
			if (get_bytes(f, path, job->base64, &t->expected, &t->expected_len, e) < 0)
				return -1;
		}
		if ((f = json_object_get(o, "args"))) {
			snprintf(path, sizeof path, "tests[%zu].args", i);
			if (parse_argv(f, path, true, &t->args, e) < 0)
				return -1;
		}
	}
	return 0;
}

static int parse_collect(json_t *v, struct job *job, const struct config *cfg,
			 struct api_error *e)
{
	if (json_is_array(v) && json_array_size(v) > cfg->max_collect_files)
		return invalid(e, "invalid_request", "collect may name at most %llu files",
			       (unsigned long long)cfg->max_collect_files);
	if (parse_argv(v, "collect", true, &job->collect, e) < 0)
		return -1;
	for (char **n = job->collect; *n; n++) {
		if (check_name(*n, cfg, "collect", e) < 0)
			return -1;
		for (char **m = job->collect; m < n; m++)
			if (!strcmp(*m, *n))
				return invalid(e, "invalid_request",
					       "collect names \"%s\" twice", *n);
	}
	return 0;
}

/* Some runtimes cannot start below a size (a JVM's heap, BEAM's threads):
   the language's min_limits. */
static int check_min_limits(const struct job *job, struct api_error *e)
{
	for (size_t i = 0; i < limit_field_count; i++) {
		const struct limit_field *f = &limit_fields[i];
		uint64_t min = limit_get(&job->lang->min_limits, f);
		if (min && limit_get(&job->limits, f) < min)
			return invalid(e, "invalid_request", "limits.%s: %s needs at least %llu",
				       f->name, job->lang->id, (unsigned long long)min);
	}
	return 0;
}

/*
 * The longest the request could hold a slot: the compile step and every
 * run at their wall limits.  Above judge.max_total_wall_ms it is refused
 * before it runs: nginx would have given up on it long before the end.
 */
static int check_total_wall(const struct job *job, const struct config *cfg,
			    struct api_error *e)
{
	uint64_t compile = job->lang && job->lang->compile ?
		job->lang->compile_limits.wall_time_ms : 0;
	uint64_t runs = job->ntests ? job->ntests : 1;
	uint64_t total = compile + runs * job->limits.wall_time_ms;

	if (total <= cfg->max_total_wall_ms)
		return 0;
	return invalid(e, "invalid_request",
		       "the request could take %llu ms (compile step %llu ms + %llu %s x "
		       "limits.wall_time_ms %llu ms), above judge.max_total_wall_ms "
		       "(%llu ms): lower limits.wall_time_ms%s",
		       (unsigned long long)total, (unsigned long long)compile,
		       (unsigned long long)runs, job->ntests ? "tests" : "run",
		       (unsigned long long)job->limits.wall_time_ms,
		       (unsigned long long)cfg->max_total_wall_ms,
		       job->ntests > 1 ? " or send fewer tests" : "");
}

/*
 * The request's own files (the code and "files") go into a work directory
 * of limits.disk_bytes: refused before anything runs when they cannot fit
 * (each file takes whole 4 KiB pages on tmpfs).
 */
static int check_disk(const struct job *job, struct api_error *e)
{
	uint64_t page = 4096, need = 0;

	if (job->lang)
		need += (job->code_len + page - 1) / page * page;
	for (size_t i = 0; i < job->nfiles; i++)
		need += (job->files[i].len + page - 1) / page * page;
	if (need <= job->limits.disk_bytes)
		return 0;
	return invalid(e, "invalid_request",
		       "code and files take %llu bytes, more than limits.disk_bytes "
		       "(%llu): raise limits.disk_bytes or send less",
		       (unsigned long long)need, (unsigned long long)job->limits.disk_bytes);
}

static int parse_fields(json_t *root, struct job *job, const struct config *cfg,
			const struct languages *langs, struct api_error *e)
{
	static const char *const keys[] = {
		"language", "code", "command", "args", "stdin", "files", "env",
		"encoding", "limits", "tests", "compare", "stop_on_failure",
		"collect", "merge_output", "compile_options", NULL,
	};
	json_t *lang = json_object_get(root, "language");
	json_t *command = json_object_get(root, "command");
	json_t *code = json_object_get(root, "code");
	json_t *v;
	const char *s;

	if (!json_is_object(root))
		return invalid(e, "invalid_request", "the request body must be a JSON object");
	if (jx_only_keys(root, "", keys, e->message, sizeof e->message) < 0)
		return bad(e);

	if ((v = json_object_get(root, "encoding"))) {
		if (jx_string(v, "encoding", &s, NULL, e->message, sizeof e->message) < 0)
			return bad(e);
		if (!strcmp(s, "base64"))
			job->base64 = true;
		else if (strcmp(s, "utf-8") != 0)
			return invalid(e, "invalid_request",
				       "encoding must be \"utf-8\" or \"base64\"");
	}

	if (!lang == !command)
		return invalid(e, "invalid_request",
			       lang ? "give either language or command, not both"
				    : "give either language (with code) or command");
	if (lang) {
		if (jx_string(lang, "language", &s, NULL, e->message, sizeof e->message) < 0)
			return bad(e);
		if (!(job->lang = languages_find(langs, s)))
			return invalid(e, "unknown_language", "language \"%.100s\" is not "
				       "offered here (see GET /api/v1/languages)", s);
		if (!job->lang->present)
			return invalid(e, "unknown_language", "language \"%s\" is not "
				       "installed here: %.300s (see GET /api/v1/languages)",
				       job->lang->id, job->lang->missing ? job->lang->missing :
				       "its toolchain was not found");
		if (!code)
			return invalid(e, "invalid_request", "code is required with language");
		if (get_bytes(code, "code", job->base64, &job->code, &job->code_len, e) < 0)
			return -1;
	} else {
		if (code)
			return invalid(e, "invalid_request",
				       "code goes with language, not with command");
		if (parse_argv(command, "command", false, &job->command, e) < 0)
			return -1;
		if (!job->command[0][0])
			return invalid(e, "invalid_request", "command[0] must not be empty");
	}

	if ((v = json_object_get(root, "args")) &&
	    parse_argv(v, "args", true, &job->args, e) < 0)
		return -1;
	if ((v = json_object_get(root, "compile_options")) &&
	    parse_compile_options(v, job, cfg, e) < 0)
		return -1;
	if ((v = json_object_get(root, "stdin")) &&
	    get_bytes(v, "stdin", job->base64, &job->stdin_data, &job->stdin_len, e) < 0)
		return -1;
	if ((v = json_object_get(root, "files")) && parse_files(v, job, cfg, e) < 0)
		return -1;
	if ((v = json_object_get(root, "env")) &&
	    jx_env(v, "env", MAX_ENV, &job->env, e->message, sizeof e->message) < 0)
		return errno == ENOMEM ? internal(e) : bad(e);

	if ((v = json_object_get(root, "tests")) && parse_tests(v, job, cfg, e) < 0)
		return -1;
	job->compare = COMPARE_TRAILING_WHITESPACE;
	if ((v = json_object_get(root, "compare"))) {
		int mode;
		if (!job->tests)
			return invalid(e, "invalid_request", "compare goes with tests");
		if (jx_string(v, "compare", &s, NULL, e->message, sizeof e->message) < 0)
			return bad(e);
		if ((mode = compare_mode_parse(s)) < 0)
			return invalid(e, "invalid_request", "compare must be \"exact\", "
				       "\"trailing_whitespace\" or \"tokens\"");
		job->compare = (enum compare_mode)mode;
	}
	if ((v = json_object_get(root, "stop_on_failure"))) {
		if (!job->tests)
			return invalid(e, "invalid_request", "stop_on_failure goes with tests");
		if (jx_bool(v, "stop_on_failure", &job->stop_on_failure, e->message,
			    sizeof e->message) < 0)
			return bad(e);
	}
	if ((v = json_object_get(root, "collect")) && parse_collect(v, job, cfg, e) < 0)
		return -1;
	if ((v = json_object_get(root, "merge_output")) &&
	    jx_bool(v, "merge_output", &job->merge_output, e->message, sizeof e->message) < 0)
		return bad(e);

	/* A language's own defaults stand for the fields the request omits. */
	job->limits = job->lang ? job->lang->limits : cfg->default_limits;
	if ((v = json_object_get(root, "limits")) &&
	    limits_parse(v, "limits", false, &cfg->max_limits, &job->limits,
			 e->message, sizeof e->message) < 0)
		return bad(e);
	if (job->lang && check_min_limits(job, e) < 0)
		return -1;
	if (check_disk(job, e) < 0)
		return -1;
	return check_total_wall(job, cfg, e);
}

int job_parse(struct job *job, const char *body, size_t len,
	      const struct config *cfg, const struct languages *langs,
	      struct api_error *e)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(job, 0, sizeof *job);
	job->args = calloc(1, sizeof *job->args);
	job->env = calloc(1, sizeof *job->env);
	if (!job->args || !job->env) {
		job_free(job);
		return internal(e);
	}
	/* Any JSON value parses; a scalar is then refused as "not an object".
	   The parse may use parse_memory_factor bytes per body byte (plus
	   1 MiB): a long string costs ~3, a body of tiny values far more. */
	size_t budget = (size_t)cfg->parse_memory_factor * len + (1u << 20);
	jsonmem_budget_begin(budget);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
			  JSON_DECODE_ANY, &jerr);
	bool over = jsonmem_budget_end();
	if (!root && over) {
		e->http = 413;
		e->code = "payload_too_large";
		snprintf(e->message, sizeof e->message,
			 "the body holds too many values: parsing it would take more "
			 "than %zu bytes of memory (http.parse_memory_factor %llu per "
			 "body byte, plus 1 MiB); send fewer, larger values", budget,
			 (unsigned long long)cfg->parse_memory_factor);
		job_free(job);
		return -1;
	}
	if (!root) {
		invalid(e, "invalid_json", "the body is not valid JSON: %s (at line %d, column %d)",
			jerr.text, jerr.line, jerr.column);
		job_free(job);
		return -1;
	}
	rc = parse_fields(root, job, cfg, langs, e);
	json_decref(root);
	if (rc < 0)
		job_free(job);
	return rc;
}

void job_free(struct job *job)
{
	jx_strv_free(job->command);
	free(job->code);
	jx_strv_free(job->args);
	jx_strv_free(job->compile_options);
	free(job->stdin_data);
	for (size_t i = 0; i < job->nfiles; i++) {
		free(job->files[i].name);
		free(job->files[i].data);
	}
	free(job->files);
	jx_strv_free(job->env);
	for (size_t i = 0; i < job->ntests; i++) {
		free(job->tests[i].stdin_data);
		free(job->tests[i].expected);
		jx_strv_free(job->tests[i].args);
	}
	free(job->tests);
	jx_strv_free(job->collect);
	memset(job, 0, sizeof *job);
}
