/*
 * judge.h - comparing a program's output with the expected output, and
 * what a request came to: each test's verdict and the request's status,
 * decided here once for the answer, the stream, the metrics and the log.
 */
#ifndef RUNBOX_JUDGE_H
#define RUNBOX_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/sandbox.h"

struct job;
struct job_test;
struct job_result;
struct test_outcome;

/* A request's status: an sbx_status, or one of these. */
#define JUDGE_COMPILE_ERROR SBX_STATUS_COUNT
#define JUDGE_WRONG_ANSWER (SBX_STATUS_COUNT + 1)
#define JUDGE_STATUS_COUNT (SBX_STATUS_COUNT + 2)

enum compare_mode {
	COMPARE_EXACT,               /* byte for byte */
	COMPARE_TRAILING_WHITESPACE, /* ignore spaces/tabs/CR at line ends and
					trailing blank lines (the default) */
	COMPARE_TOKENS,              /* the same whitespace-separated tokens */
};

/* "exact", "trailing_whitespace", "tokens" -> mode; -1 if unknown. */
int compare_mode_parse(const char *name);
bool output_matches(const char *got, size_t got_len, const char *want,
		    size_t want_len, enum compare_mode mode);


/* A test is accepted when its run exited 0 and, if the test expects an
   output, stdout matches it under job->compare. */
bool judge_accepts(const struct job *job, const struct job_test *t,
		   const struct sbx_result *run);
/* accepted | wrong_answer | skipped | the run's status ("cancelled"...) */
const char *judge_verdict(const struct test_outcome *t);

/* What a request came to. */
struct judge_summary {
	int status;            /* an sbx_status or JUDGE_* */
	const char *name;      /* its word: "ok", "compile_error", "cancelled"... */
	char message[320];     /* one sentence */
	size_t passed, failed, skipped; /* judge mode */
};

/* The request's status from its result, in any mode: cancelled when the
   client went away; compile_error when the program did not run for it;
   the run's own status for a single run; in judge mode ok when no test
   failed, else the first failing test's verdict. */
void judge_conclude(const struct job_result *res, struct judge_summary *s);
const char *judge_status_name(int status);

#endif
