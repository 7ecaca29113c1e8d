/*
 * request.h - a POST /api/v1/run body, parsed and validated into a job.
 */
#ifndef RUNBOX_REQUEST_H
#define RUNBOX_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/sandbox.h"
#include "service/judge.h"
#include "service/languages.h"
#include "service/settings.h"

/* An API error: HTTP status, snake_case code, one sentence. */
struct api_error {
	int http;
	const char *code;
	char message[512];
};

struct job_file {
	char *name;
	char *data;
	size_t len;
};

/* One test case of judge mode. */
struct job_test {
	char *stdin_data;            /* NULL: the request's stdin */
	size_t stdin_len;
	char *expected;              /* NULL: any output, exit 0 passes */
	size_t expected_len;
	char **args;                 /* NULL: the request's args */
};

/* A validated request.  job_free() releases everything it holds. */
struct job {
	const struct language *lang; /* NULL in command mode */
	char **command;              /* argv in command mode */
	char *code;
	size_t code_len;
	char **args;                 /* never NULL */
	char **compile_options;      /* allowed by the language, or NULL */
	char *stdin_data;
	size_t stdin_len;
	struct job_file *files;
	size_t nfiles;
	char **env;                  /* request's "NAME=value", never NULL */
	bool base64;
	struct sbx_limits limits;    /* effective: defaults + request */
	struct job_test *tests;      /* judge mode, or NULL */
	size_t ntests;
	enum compare_mode compare;
	bool stop_on_failure;
	char **collect;              /* files to return, or NULL */
	bool merge_output;           /* stderr into stdout, in order */
};

/* 0 and a job, or -1 and the error to send. */
int job_parse(struct job *job, const char *body, size_t len,
	      const struct config *cfg, const struct languages *langs,
	      struct api_error *e);
void job_free(struct job *job);

#endif
