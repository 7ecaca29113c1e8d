/*
 * jobstore.h - jobs and their results in SQLite (jobs.state_dir/jobs.db).
 *
 * Every process opens its own connection (never one carried across a
 * fork): the master to recover at start and after a runner dies, each
 * worker for the API, each runner to take and finish jobs.  WAL mode and a
 * busy timeout let them all write; each change is one transaction.
 *
 * A job's life: queued -> running -> done | cancelled, then expired once
 * its result is older than jobs.ttl_s (or the store is past
 * jobs.max_bytes); a queued job may go straight to cancelled.  The expired
 * row (no body, result or events) stays one more ttl_s (at least a
 * minute) so that its id answers "expired", then it is deleted.
 */
#ifndef RUNBOX_JOBSTORE_H
#define RUNBOX_JOBSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct jobstore;

#define JOB_ID_RANDOM 32   /* hex digits after "<host_id>-" */
#define JOB_ID_MAX (64 + 1 + JOB_ID_RANDOM + 1)
#define JOB_OWNER_HEX 65   /* a token's SHA-256, hex, NUL */
#define JOB_SEALED_KEY 72  /* a callback key, sealed (callback.h) */

/* A job as the API shows it. */
struct job_row {
	int64_t seq;
	char id[JOB_ID_MAX];
	char state[16];
	char owner[JOB_OWNER_HEX];   /* "" for an anonymous job */
	int64_t created_ms, started_ms, finished_ms; /* 0: not yet */
	char *result;        /* the /run answer as JSON text, or NULL */
	char *error_code;    /* a job that ended without an answer */
	char *error_message;
	char *callback_url;  /* or NULL */
	pid_t runner;        /* while running */
	bool cancel;         /* DELETE asked while running */
	char cb_state[16];   /* "", waiting, pending, sent, failed */
	unsigned cb_attempts;
	char *cb_error;      /* the last attempt's failure */
};

/* A job to submit: its body (the /run body, callback_url removed). */
struct job_new {
	char id[JOB_ID_MAX];
	char *body;
	size_t len;
	const char *callback_url;
	const uint8_t *sealed_key; /* JOB_SEALED_KEY bytes with callback_url */
};

/* A callback due now, leased to the caller. */
struct callback_due {
	int64_t seq;
	char id[JOB_ID_MAX];
	uint8_t sealed[JOB_SEALED_KEY];
	unsigned attempts;   /* made before this one */
};

struct job_stats {
	uint64_t queued, running, finished, expired;
	int64_t oldest_queued_ms; /* created_ms of the oldest queued, or 0 */
	uint64_t bytes;           /* results and events kept */
};

int64_t jobstore_now_ms(void);

/* Open (creating dir 0700 and the schema as needed).  The directory must
   be ours and not writable by group or others.  NULL with err. */
struct jobstore *jobstore_open(const char *dir, char *err, size_t errlen);
void jobstore_close(struct jobstore *js);
/* Every commit of this connection on disk when it returns (the runner's:
   a job marked running stays so through a power cut). */
int jobstore_durable(struct jobstore *js, char *err, size_t errlen);

/* Jobs that were running in runner pid (0: in any runner, at start) end
   now: state done, error "interrupted" (never run again).  How many, or
   -1 with err. */
int jobstore_interrupt(struct jobstore *js, pid_t pid, char *err, size_t errlen);

/* n new jobs, all or none, with fresh ids "<host>-<hex>"; owner NULL for
   anonymous.  0, or -1 with err. */
int jobstore_submit(struct jobstore *js, const char *host, const char *owner,
		    struct job_new *jobs, size_t n, char *err, size_t errlen);

/* Queued jobs of owner (NULL: of everyone). -1 on error. */
int64_t jobstore_queued(struct jobstore *js, const char *owner);

/* 0 with *row, 1 when there is no such job, -1 with err. */
int jobstore_get(struct jobstore *js, const char *id, struct job_row *row,
		 char *err, size_t errlen);
void job_row_free(struct job_row *row);

/* Cancel: a queued job ends now (0); a running one is flagged for its
   runner (0); a finished one is left (1).  -1 with err. */
int jobstore_cancel(struct jobstore *js, int64_t seq, char *err, size_t errlen);

/* The runner: take the oldest queued job if take() agrees (it takes an
   execution slot and returns 0; non-zero leaves the job queued).
   0 with *row (body in row->result, to parse), 1 when nothing was taken,
   -1 with err. */
int jobstore_claim(struct jobstore *js, pid_t runner, int (*take)(void *arg),
		   void *arg, struct job_row *row, char *err, size_t errlen);
/* Is the running job seq asked to stop? */
bool jobstore_cancel_requested(struct jobstore *js, int64_t seq);
/* The job ended with answer result (JSON text) or error code/message;
   state "done" or "cancelled". */
int jobstore_finish(struct jobstore *js, int64_t seq, const char *state,
		    const char *result, const char *error_code, const char *error_message,
		    char *err, size_t errlen);
/* Event n (one NDJSON line) of job seq. */
int jobstore_add_event(struct jobstore *js, int64_t seq, int64_t n, const char *line,
		       size_t len);
/* Events of seq from n on, at most max: fn(line, len, arg) for each;
   the number given, or -1. */
int jobstore_events(struct jobstore *js, int64_t seq, int64_t from, int max,
		    int (*fn)(const char *line, size_t len, void *arg), void *arg);

/* A callback due now, leased for lease_ms: 0 with *d, 1 when none. */
int jobstore_callback_take(struct jobstore *js, int64_t lease_ms, struct callback_due *d);
/* The attempt's end: delivered, or due again in retry_ms (0: failed for
   good) with why. */
int jobstore_callback_done(struct jobstore *js, int64_t seq, bool ok, int64_t retry_ms,
			   const char *why);

/* Expire results past ttl_s and, oldest first, past max_bytes; delete
   expired rows older than max(ttl_s, 60) more.  Rows changed, or -1. */
int jobstore_expire(struct jobstore *js, uint64_t ttl_s, uint64_t max_bytes);

int jobstore_stats(struct jobstore *js, struct job_stats *st);

#endif
