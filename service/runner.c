/*
 * runner.c - job runners.
 *
 * Theory of operation
 * -------------------
 * The master forks jobs.runners runner processes beside its workers (and
 * replaces them the same way: a runner that dies is reaped by its pid, the
 * slot it held is reclaimed, and the job it was running ends "interrupted").
 * Processes rather than a thread in each worker: a worker is busy for the
 * whole of a sync request, so jobs would wait on unrelated traffic; a
 * crash in a run's bookkeeping takes one runner and one job, never a
 * request; and the number of jobs running at once is simply jobs.runners.
 *
 * A runner loops:
 *   1. past its stop flag (SIGTERM, SIGINT, only looked at between jobs)
 *      it exits: a running job always finishes, queued ones stay queued
 *      for the next start;
 *   2. once a second it expires old results (jobstore_expire);
 *   3. it takes the oldest queued job only when a slot is free and no sync
 *      request waits for one (metrics' waiting count), and then only with
 *      a slot already in hand (pool_acquire without waiting, inside the
 *      store's write transaction): a sync request never queues behind a
 *      job that has not started yet;
 *   4. it runs the job as POST /api/v1/run would (job_execute), storing
 *      the streamed events as they happen, then the /run answer;
 *   5. with nothing to take, it sleeps POLL_MS with the stop signals open.
 *
 * Cancellation: the run's cancel_fd is the read end of a pipe whose write
 * end this process holds.  A watcher thread (its own store connection)
 * looks for DELETE's flag on the current job every CANCEL_POLL_MS; closing
 * the write end hangs the pipe up, and the sandbox kills the run at once.
 * The watcher and the loop swap (job, fd) under one mutex, so a flag read
 * for a job that has just ended can never close the next job's pipe.
 *
 * Callbacks are sent by a third thread (callback.c) from the store, so a
 * slow receiver never holds up the next job.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "service/callback.h"
#include "service/jobstore.h"
#include "service/jsonmem.h"
#include "service/log.h"
#include "service/response.h"
#include "service/runner.h"
#include "service/server.h"
#include "service/stream.h"

#define POLL_MS 20
#define CANCEL_POLL_MS 100

static volatile sig_atomic_t runner_stop;

/* The job running and its pipe's write end: the loop's and the watcher's. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t current_seq;
static int current_wr = -1;

static void on_signal(int sig)
{
	(void)sig;
	runner_stop = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int runner_interrupted(struct service *svc, pid_t pid)
{
	char err[512];
	struct jobstore *js = jobstore_open(svc->cfg.jobs_state_dir, err, sizeof err);
	int n = js ? jobstore_interrupt(js, pid, err, sizeof err) : -1;

	if (n < 0)
		log_msg(LOG_ERR, "%s", err);
	else if (n > 0)
		log_msg(LOG_WARNING, "%d job%s running when %s ended: reported done, "
			"\"interrupted\", not run again", n, n == 1 ? " was" : "s were",
			pid ? "its runner" : "runboxd last");
	jobstore_close(js);
	return n < 0 ? -1 : 0;
}

static void *watch_cancel(void *arg)
{
	struct service *svc = arg;
	char err[512];
	struct jobstore *js = jobstore_open(svc->cfg.jobs_state_dir, err, sizeof err);

	if (!js) {
		log_msg(LOG_ERR, "runner: cancellations will not be seen: %s", err);
		return NULL;
	}
	for (;;) {
		sleep_ms(CANCEL_POLL_MS);
		pthread_mutex_lock(&current_lock);
		int64_t seq = current_seq;
		pthread_mutex_unlock(&current_lock);
		if (!seq || !jobstore_cancel_requested(js, seq))
			continue;
		pthread_mutex_lock(&current_lock);
		if (current_seq == seq && current_wr >= 0) {
			close(current_wr);
			current_wr = -1;
		}
		pthread_mutex_unlock(&current_lock);
	}
	return NULL;
}

/* ---- one job --------------------------------------------------------- */

struct runner {
	struct service *svc;
	struct jobstore *js;
	unsigned slot;
	bool have_slot;
};

/* jobstore_claim's condition: a slot, taken now, and no sync request
   waiting for one. */
static int take_slot(void *arg)
{
	struct runner *r = arg;
	struct pool *pool = r->svc->pool;

	if (metrics_waiting_now(r->svc->metrics) || pool_busy(pool) >= pool_size(pool))
		return 1;
	if (pool_acquire(pool, 0, &r->slot) != 0)
		return 1;
	r->have_slot = true;
	return 0;
}

static void give_slot(struct runner *r)
{
	if (r->have_slot)
		pool_release(r->svc->pool, r->slot);
	r->have_slot = false;
}

/* The job's events into the store, one row per NDJSON line. */
struct event_sink {
	struct jobstore *js;
	int64_t seq, n;
	bool failed;
};

static int sink_begin(void *arg, const struct http_response *resp)
{
	(void)arg;
	(void)resp;
	return 0;
}

static int sink_write(void *arg, const char *data, size_t len)
{
	struct event_sink *s = arg;
	/* A failed write loses an event, not the run: the result is stored
	   on its own. */
	if (!s->failed && jobstore_add_event(s->js, s->seq, s->n++, data, len) < 0) {
		s->failed = true;
		log_msg(LOG_ERR, "job %lld: its events could not be stored", (long long)s->seq);
	}
	return 0;
}

static void finish(struct runner *r, const struct job_row *row, const char *state,
		   const char *result, const char *code, const char *message)
{
	char err[512];

	if (jobstore_finish(r->js, row->seq, state, result, code, message, err,
			    sizeof err) < 0)
		log_msg(LOG_ERR, "job %s: %s", row->id, err);
}

static void run_job(struct runner *r, const struct job_row *row)
{
	struct service *svc = r->svc;
	struct api_error e = { 0 };
	struct job job;
	struct job_result res;
	struct timespec t0, t1;
	char err[512];
	int p[2];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	const char *body = row->result ? row->result : "";
	if (job_parse(&job, body, strlen(body), &svc->cfg, &svc->langs, &e) < 0) {
		/* Valid when submitted, refused by the config now in force. */
		give_slot(r);
		finish(r, row, "done", NULL, e.code, e.message);
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		give_slot(r);
		log_msg(LOG_ERR, "job %s: pipe: %s", row->id, strerror(errno));
		finish(r, row, "done", NULL, "internal", "the service failed to run the program");
		job_free(&job);
		return;
	}
	pthread_mutex_lock(&current_lock);
	current_seq = row->seq;
	current_wr = p[1];
	pthread_mutex_unlock(&current_lock);

	struct event_sink sink = { .js = r->js, .seq = row->seq };
	struct http_stream http = { .arg = &sink, .begin = sink_begin, .write = sink_write };
	struct http_response head = { .status = 200 };
	struct run_stream st;
	stream_begin(&st, &http, &job, &head);
	struct job_hooks hooks = { .cancel_fd = p[0], .arg = &st, .output = stream_output,
				   .compiled = stream_compiled, .test_done = stream_test };
	int rc = job_execute(&job, &svc->cfg, &svc->slots[r->slot], &hooks, &res, err,
			     sizeof err);
	unsigned slot = r->slot;
	give_slot(r);

	pthread_mutex_lock(&current_lock);
	current_seq = 0;
	if (current_wr >= 0)
		close(current_wr);
	current_wr = -1;
	pthread_mutex_unlock(&current_lock);
	close(p[0]);

	if (rc < 0) {
		metrics_cleanup_failure(svc->metrics);
		log_msg(LOG_ERR, "job %s: slot %u: %s", row->id, slot, err);
		stream_error(&st, "internal", "the service failed to run the program");
		finish(r, row, "done", NULL, "internal", "the service failed to run the program");
		job_free(&job);
		return;
	}
	struct judge_summary sum;
	judge_conclude(&res, &sum);
	if (res.cleanup_failed)
		metrics_cleanup_failure(svc->metrics);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	uint64_t ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 +
				 (t1.tv_nsec - t0.tv_nsec) / 1000000);
	metrics_run(svc->metrics, job.lang ? (int)(job.lang - svc->langs.v) : -1,
		    sum.status, ms);
	json_t *answer = response_run(&job, &res);
	char *text = answer ? jsonmem_dumps(answer, JSON_COMPACT) : NULL;
	if (answer)
		stream_result(&st, answer);
	else
		stream_error(&st, "internal", "out of memory");
	log_msg(LOG_INFO, "job %s: %s (slot %u, %llu ms)", row->id, sum.name, slot,
		(unsigned long long)ms);
	if (text)
		finish(r, row, res.cancelled ? "cancelled" : "done", text, NULL, NULL);
	else
		finish(r, row, "done", NULL, "internal", "out of memory");
	free(text);
	job_result_free(&res);
	job_free(&job);
}

/* ---- the loop -------------------------------------------------------- */

_Noreturn void runner_main(struct service *svc)
{
	sigset_t waiting;
	struct runner r = { .svc = svc };
	struct timespec last = { 0 }, now;
	pthread_t watcher, sender;
	char err[512];

	/* SIGTERM and SIGINT blocked in every thread (the threads started
	   below inherit the mask); opened only while the loop sleeps. */
	server_child_signals(on_signal, &waiting);
	prctl(PR_SET_NAME, "runboxd-runner");

	if (!(r.js = jobstore_open(svc->cfg.jobs_state_dir, err, sizeof err)) ||
	    jobstore_durable(r.js, err, sizeof err) < 0) {
		log_msg(LOG_ERR, "runner: %s", err);
		_exit(1);
	}
	if (pthread_create(&watcher, NULL, watch_cancel, svc) != 0 ||
	    pthread_create(&sender, NULL, callback_thread, svc) != 0) {
		log_msg(LOG_ERR, "runner: cannot start the cancel watcher");
		_exit(1);
	}
	while (!runner_stop) {
		struct job_row row;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec != last.tv_sec) {
			last = now;
			if (jobstore_expire(r.js, svc->cfg.jobs_ttl_s, svc->cfg.jobs_max_bytes) < 0)
				log_msg(LOG_ERR, "runner: expiring old results failed");
		}
		int rc = jobstore_claim(r.js, getpid(), take_slot, &r, &row, err, sizeof err);
		if (rc == 0) {
			run_job(&r, &row);
			job_row_free(&row);
			continue;
		}
		give_slot(&r); /* taken, but the job could not be marked */
		if (rc < 0)
			log_msg(LOG_ERR, "runner: %s", err);
		struct timespec pause = { 0, (rc < 0 ? 500 : POLL_MS) * 1000000L };
		pselect(0, NULL, NULL, NULL, &pause, &waiting);
	}
	_exit(0);
}
