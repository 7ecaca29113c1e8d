/*
 * metrics.h - counters shared by every runboxd process (a shared anonymous
 * mapping made by the master), rendered as Prometheus text by GET /metrics.
 */
#ifndef RUNBOX_METRICS_H
#define RUNBOX_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"
#include "service/judge.h"
#include "service/languages.h"

#define METRICS_MAX_LANGS 64

struct metrics;

struct metrics *metrics_create(void);
void metrics_destroy(struct metrics *m);

void metrics_request(struct metrics *m, int http_status);
/* lang: index into the languages (or -1 for command); status: the
   request's, as judge_conclude() decides it (an sbx_status or JUDGE_*). */
void metrics_run(struct metrics *m, int lang, int status, uint64_t wall_ms);
void metrics_queue_wait(struct metrics *m, uint64_t ms);
void metrics_waiting(struct metrics *m, int delta);
/* Requests waiting for a slot now (a job runner lets them go first). */
unsigned metrics_waiting_now(const struct metrics *m);
enum metrics_reject { REJECT_BUSY, REJECT_UNAUTHORIZED, REJECT_INVALID, REJECT_RATE, REJECT_COUNT };
void metrics_reject(struct metrics *m, enum metrics_reject why);
void metrics_worker_restart(struct metrics *m);
/* A slot's box was found dead (or unfit) and made again. */
void metrics_box_rebuild(struct metrics *m);
void metrics_cleanup_failure(struct metrics *m);
/* n judge tests were not run: the client had gone away. */
void metrics_abandoned_tests(struct metrics *m, uint64_t n);

/* The text exposition (malloc'd). */
char *metrics_render(const struct metrics *m, const struct languages *langs,
		     unsigned slots, unsigned busy, size_t *len);

#endif
