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
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			 "cpu_time_ms", (json_int_t)u->cpu_time_ms,
			 "user_time_ms", (json_int_t)u->user_time_ms,
			 "system_time_ms", (json_int_t)u->system_time_ms,
			 "wall_time_ms", (json_int_t)u->wall_time_ms,
			 "max_rss_bytes", (json_int_t)u->max_rss_bytes,
			 "disk_bytes", (json_int_t)u->disk_bytes);
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

/* One test's entry: the fields of a run plus its verdict (and files). */
json_t *response_test(const struct job *job, const struct job_result *res, size_t i)
{
	const struct test_outcome *t = &res->tests[i];
	json_t *o;

	if (t->skipped)
		return json_pack("{s:s, s:s, s:s}", "verdict", "skipped",
				 "status", "skipped", "message",
				 t->abandoned ? "not run: the client went away"
					      : "not run: an earlier test failed");
	o = step_json(&t->run, job->base64);
	if (o) {
		json_object_set_new(o, "verdict", json_string(judge_verdict(t)));
		if (job->collect)
			json_object_set_new(o, "files", files_json(t->files, t->nfiles,
								   job->base64));
	}
	return o;
}

/* Judge mode: one object per test. */
static json_t *tests_json(const struct job *job, const struct job_result *res)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < res->ntests; i++) {
		json_t *o = response_test(job, res, i);
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

json_t *response_compile(const struct job *job, const struct job_result *res)
{
	json_t *c = step_json(&res->compile, job->base64);

	if (c && json_object_set_new(c, "limits",
				     limits_to_json(&job->lang->compile_limits)) < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

json_t *response_run(const struct job *job, const struct job_result *res)
{
	struct judge_summary sum;
	json_t *o, *limits = limits_to_json(&job->limits);

	if (!limits)
		return NULL;
	judge_conclude(res, &sum);
	if (res->tests) {
		json_t *tests = tests_json(job, res);
		o = tests ? json_pack("{s:s, s:s, s:{s:I, s:I, s:I}, s:o}",
				      "status", sum.name, "message", sum.message,
				      "summary", "passed", (json_int_t)sum.passed,
				      "failed", (json_int_t)sum.failed,
				      "skipped", (json_int_t)sum.skipped, "tests", tests)
			  : NULL;
	} else if (res->ran) {
		o = step_json(&res->run, job->base64);
		if (o && job->collect)
			json_object_set_new(o, "files", files_json(res->files, res->nfiles,
								  job->base64));
	} else {
		/* compile_error or cancelled: the program did not run. */
		struct sbx_result none = { .exit_code = -1 };
		char empty[1] = "";
		none.out.data = none.err.data = empty;
		o = step_json(&none, job->base64);
		if (o) {
			json_object_set_new(o, "status", json_string(sum.name));
			json_object_set_new(o, "message", json_string(sum.message));
		}
	}
	if (!o) {
		json_decref(limits);
		return NULL;
	}
	json_object_set_new(o, "limits", limits);
	if (res->compiled) {
		json_t *c = response_compile(job, res);
		if (!c) {
			json_decref(o);
			return NULL;
		}
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

/* An event's own bytes around its data: {"event":"stdout","data":""}\n,
   and what base64 may add when a chunk is encoded on its own. */
#define EVENT_OVERHEAD 64u
/* The sandbox's drain after the main process, generously. */
#define DRAIN_SLACK_MS 100u

uint64_t response_stream_worst_bytes(const struct job *job, const struct config *cfg)
{
	uint64_t runs = job->tests ? job->ntests : 1;
	uint64_t cap = job->limits.output_bytes;
	/* Output calls per stream and run: one per delay or batch, one at
	   the end, one for a character left over in utf-8 mode. */
	uint64_t calls = (job->limits.wall_time_ms + DRAIN_SLACK_MS) / SBX_OUTPUT_DELAY_MS +
			 cap / SBX_OUTPUT_BATCH + 3;
	uint64_t live = 2 * (worst_string(cap, job->base64) + calls * EVENT_OVERHEAD);

	/* The result event is the whole answer; the compile and test events
	   repeat parts of it, never more than all of it once more. */
	return 2 * response_worst_bytes(job, cfg) + runs * live +
	       (runs + 3) * EVENT_OVERHEAD;
}
