/*
 * response.c - turn run results into the API's JSON.  The JSON is always
 * valid whatever bytes the program wrote: invalid UTF-8 becomes U+FFFD in
 * utf-8 mode, and base64 mode returns the exact bytes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "service/base64.h"
#include "service/limits.h"
#include "service/response.h"
#include "service/utf8.h"

json_t *response_bytes(const char *data, size_t len, bool base64)
{
	size_t n;
	char *s = base64 ? b64_encode(data, len, &n) : utf8_sanitize(data, len, &n);
	json_t *j;

	if (!s)
		return NULL;
	j = json_stringn_nocheck(s, n);
	free(s);
	return j;
}

json_t *response_error(const char *code, const char *message)
{
	return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
}

static json_t *usage_json(const struct sbx_usage *u)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}",
			 "cpu_time_ms", (json_int_t)u->cpu_time_ms,
			 "user_time_ms", (json_int_t)u->user_time_ms,
			 "system_time_ms", (json_int_t)u->system_time_ms,
			 "wall_time_ms", (json_int_t)u->wall_time_ms,
			 "max_rss_bytes", (json_int_t)u->max_rss_bytes);
}

/* The fields a run and a compile step share. */
static json_t *step_json(const struct sbx_result *r, bool base64)
{
	const char *sig = r->signal ? sbx_signal_name(r->signal) : NULL;
	json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o*, s:o*, s:b, s:b, s:o*}",
		"status", sbx_status_name(r->status),
		"message", r->message,
		"exit_code", r->exit_code >= 0 ? json_integer(r->exit_code) : json_null(),
		"signal", sig ? json_string(sig) :
			  r->signal ? json_integer(r->signal) : json_null(),
		"stdout", response_bytes(r->out.data, r->out.len, base64),
		"stderr", response_bytes(r->err.data, r->err.len, base64),
		"stdout_truncated", r->out.truncated,
		"stderr_truncated", r->err.truncated,
		"usage", usage_json(&r->usage));
	/* json_pack's "o*" drops a NULL (ENOMEM) value; refuse a partial body. */
	if (o && (!json_object_get(o, "stdout") || !json_object_get(o, "stderr") ||
		  !json_object_get(o, "usage"))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *files_json(const struct collected *files, size_t n, bool base64)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++) {
		const struct collected *c = &files[i];
		json_t *f = c->error ? json_pack("{s:s}", "error", c->error)
				     : json_pack("{s:o, s:b}", "content",
						 response_bytes(c->data, c->len, base64),
						 "truncated", c->truncated);
		if (!f || json_object_set_new(o, c->name, f) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

const char *response_verdict(const struct test_outcome *t)
{
	if (t->skipped)
		return "skipped";
	if (t->accepted)
		return "accepted";
	if (t->run.status == SBX_OK)
		return "wrong_answer";
	return sbx_status_name(t->run.status);
}

/* Judge mode: one object per test, a summary, and the first failure. */
static json_t *tests_json(const struct job *job, const struct job_result *res,
			  json_t *top)
{
	json_t *arr = json_array();
	size_t passed = 0, failed = 0, skipped = 0, first = (size_t)-1;

	for (size_t i = 0; arr && i < res->ntests; i++) {
		const struct test_outcome *t = &res->tests[i];
		json_t *o;
		if (t->skipped) {
			skipped++;
			o = json_pack("{s:s, s:s, s:s}", "verdict", "skipped",
				      "status", "skipped",
				      "message", "not run: an earlier test failed");
		} else {
			o = step_json(&t->run, job->base64);
			if (o) {
				json_object_set_new(o, "verdict", json_string(response_verdict(t)));
				if (job->collect)
					json_object_set_new(o, "files",
							    files_json(t->files, t->nfiles,
								       job->base64));
			}
			if (t->accepted)
				passed++;
			else if (failed++ == 0)
				first = i;
		}
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	if (!arr)
		return NULL;
	char msg[320];
	if (!failed) {
		json_object_set_new(top, "status", json_string("ok"));
		snprintf(msg, sizeof msg, "all %zu tests passed", res->ntests);
	} else {
		const struct test_outcome *t = &res->tests[first];
		json_object_set_new(top, "status", json_string(response_verdict(t)));
		if (t->run.status == SBX_OK)
			snprintf(msg, sizeof msg, "test %zu of %zu: wrong answer", first + 1,
				 res->ntests);
		else
			snprintf(msg, sizeof msg, "test %zu of %zu: %s", first + 1, res->ntests,
				 t->run.message);
	}
	json_object_set_new(top, "message", json_string(msg));
	json_object_set_new(top, "summary", json_pack("{s:I, s:I, s:I}",
		"passed", (json_int_t)passed, "failed", (json_int_t)failed,
		"skipped", (json_int_t)skipped));
	return arr;
}

json_t *response_run(const struct job *job, const struct job_result *res)
{
	json_t *o, *limits = limits_to_json(&job->limits);

	if (!limits)
		return NULL;
	if (res->ran) {
		o = step_json(&res->run, job->base64);
		if (o && job->collect)
			json_object_set_new(o, "files", files_json(res->files, res->nfiles,
								  job->base64));
	} else if (res->tests) {
		o = json_object();
		json_t *tests = o ? tests_json(job, res, o) : NULL;
		if (!tests) {
			json_decref(o);
			o = NULL;
		} else {
			json_object_set_new(o, "tests", tests);
		}
	} else {
		/* compile_error: the program did not run. */
		struct sbx_result none = { .exit_code = -1 };
		char empty[1] = "";
		none.out.data = none.err.data = empty;
		o = step_json(&none, job->base64);
		if (o) {
			char msg[320];
			snprintf(msg, sizeof msg, "compilation failed: %s",
				 res->compile.message);
			json_object_set_new(o, "status", json_string("compile_error"));
			json_object_set_new(o, "message", json_string(msg));
		}
	}
	if (!o) {
		json_decref(limits);
		return NULL;
	}
	json_object_set_new(o, "limits", limits);
	if (res->compiled) {
		json_t *c = step_json(&res->compile, job->base64);
		if (!c) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(c, "limits", limits_to_json(&job->lang->compile_limits));
		json_object_set_new(o, "compile", c);
	}
	return o;
}

/* Everything of one step but its outputs and files (status, message,
   usage, limits, verdict, keys), generously: messages are < 512 bytes. */
#define STEP_OVERHEAD 4096u
/* The top of the answer (status, message, summary) and a file's keys. */
#define TOP_OVERHEAD 4096u
#define FILE_OVERHEAD 256u

/* One output of at most n bytes, quoted: base64, or all escapes. */
static uint64_t worst_string(uint64_t n, bool base64)
{
	return (base64 ? (n + 2) / 3 * 4 : n * 6) + 2;
}

uint64_t response_worst_bytes(const struct job *job, const struct config *cfg)
{
	uint64_t run = STEP_OVERHEAD + 2 * worst_string(job->limits.output_bytes, job->base64);
	uint64_t total = TOP_OVERHEAD;

	for (char **c = job->collect; c && *c; c++)
		run += FILE_OVERHEAD + worst_string(strlen(*c), false) +
		       worst_string(cfg->max_collect_bytes, job->base64);
	total += (job->tests ? job->ntests : 1) * run;
	if (job->lang && job->lang->compile)
		total += STEP_OVERHEAD +
			 2 * worst_string(job->lang->compile_limits.output_bytes, job->base64);
	return total;
}
