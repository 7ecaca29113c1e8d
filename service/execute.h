/*
 * execute.h - carry out a validated job in one execution slot: a fresh work
 * directory, the compile step if the language has one, the run, and the
 * removal of the work directory whatever happened.
 */
#ifndef RUNBOX_EXECUTE_H
#define RUNBOX_EXECUTE_H

#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"
#include "service/request.h"
#include "service/settings.h"
#include "service/slot.h"

/* A file read back from the work directory after a run. */
struct collected {
	char *name;
	char *data;        /* NULL with error set */
	size_t len;
	bool truncated;
	char *error;       /* why it could not be read, or NULL */
};

struct test_outcome {
	bool skipped;      /* not run: an earlier test failed (stop_on_failure),
			      or the client went away (abandoned) */
	bool abandoned;
	bool ran;
	bool accepted;     /* exit 0 and the expected output */
	struct sbx_result run;
	struct collected *files;
	size_t nfiles;
};

struct job_result {
	bool compiled;           /* a compile step ran */
	struct sbx_result compile;
	bool ran;                /* the single run happened */
	struct sbx_result run;
	struct collected *files; /* "collect" of the single run */
	size_t nfiles;
	struct test_outcome *tests; /* judge mode */
	size_t ntests;
	bool cleanup_failed;     /* leftovers: processes or a work dir */
	bool cancelled;          /* the client went away: the program running
				    was killed (status cancelled) or nothing
				    more was started */
	size_t abandoned;        /* tests not run: the client had gone away */
};

/*
 * What job_execute tells its caller while it works, and how the caller
 * stops it.  Every member may be left 0 (cancel_fd -1).
 */
struct job_hooks {
	int cancel_fd;  /* the connection the answer goes back on, or -1:
			   once its peer has closed it (the client went away
			   and nginx let go of the request), the program
			   running is killed and nothing more is started */
	void *arg;
	/* The program's live output (sbx_spec.on_output); not the compile
	   step's.  -1: the reader is gone, cancel. */
	int (*output)(void *arg, int stream, const char *data, size_t len);
	/* The compile step ended (res->compile is filled). */
	int (*compiled)(void *arg, const struct job_result *res);
	/* Test i ended: it ran, or it was skipped. */
	int (*test_done)(void *arg, const struct job_result *res, size_t i);
};

/*
 * 0 with *res filled, or -1 with a sentence (a failure of the service).
 * hooks may be NULL.  A cancellation (hooks->cancel_fd hung up, or a hook
 * returned -1) sets res->cancelled; in judge mode the tests not started
 * are skipped and res->abandoned counts them.
 */
int job_execute(const struct job *job, const struct config *cfg,
		const struct slot *slot, const struct job_hooks *hooks,
		struct job_result *res, char *err, size_t errlen);
void job_result_free(struct job_result *res);

/* The environment of a program of lang (NULL: a command) whose home and
   temporary directory is home, under limits: the config's, HOME, TMPDIR,
   the language's (placeholders expanded), request_env (may be NULL).
   NULL-terminated (jx_strv_free), NULL when out of memory. */
char **exec_env(const struct config *cfg, const struct language *lang, const char *home,
		const struct sbx_limits *limits, char *const *request_env);

#endif
