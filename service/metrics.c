/*
 * metrics.c - shared counters and their Prometheus text format.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "service/metrics.h"

static const int codes[] = { 200, 400, 401, 404, 405, 413, 429, 500, 503 };
#define NCODES (sizeof codes / sizeof codes[0])
/* Upper bounds of the duration buckets, in ms (+Inf is implied). */
static const uint64_t bounds[] = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
				   5000, 10000, 30000 };
#define NBOUNDS (sizeof bounds / sizeof bounds[0])

struct histogram {
	uint64_t bucket[NBOUNDS + 1];
	uint64_t count;
	uint64_t sum_ms;
};

struct metrics {
	uint64_t requests[NCODES + 1]; /* last: any other code */
	/* [language + 1][status]; language 0 is "command" */
	uint64_t runs[METRICS_MAX_LANGS + 1][JUDGE_STATUS_COUNT];
	struct histogram duration;
	struct histogram queue_wait;
	int64_t waiting;
	uint64_t rejected[REJECT_COUNT];
	uint64_t worker_restarts;
	uint64_t box_rebuilds;
	uint64_t cleanup_failures;
	uint64_t abandoned_tests;
};

static void add(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

struct metrics *metrics_create(void)
{
	struct metrics *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	memset(m, 0, sizeof *m);
	return m;
}

void metrics_destroy(struct metrics *m)
{
	if (m)
		munmap(m, sizeof *m);
}

void metrics_request(struct metrics *m, int http_status)
{
	size_t i = 0;
	if (!m)
		return;
	while (i < NCODES && codes[i] != http_status)
		i++;
	add(&m->requests[i], 1);
}

static void observe(struct histogram *h, uint64_t ms)
{
	size_t i = 0;
	while (i < NBOUNDS && ms > bounds[i])
		i++;
	add(&h->bucket[i], 1);
	add(&h->count, 1);
	add(&h->sum_ms, ms);
}

void metrics_run(struct metrics *m, int lang, int status, uint64_t wall_ms)
{
	if (!m || lang >= METRICS_MAX_LANGS || status < 0 || status >= JUDGE_STATUS_COUNT)
		return;
	add(&m->runs[lang + 1][status], 1);
	observe(&m->duration, wall_ms);
}

void metrics_queue_wait(struct metrics *m, uint64_t ms)
{
	if (m)
		observe(&m->queue_wait, ms);
}

unsigned metrics_waiting_now(const struct metrics *m)
{
	int64_t n = m ? __atomic_load_n(&m->waiting, __ATOMIC_RELAXED) : 0;
	return n > 0 ? (unsigned)n : 0;
}

void metrics_waiting(struct metrics *m, int delta)
{
	if (m)
		__atomic_fetch_add(&m->waiting, delta, __ATOMIC_RELAXED);
}

void metrics_reject(struct metrics *m, enum metrics_reject why)
{
	if (m && why < REJECT_COUNT)
		add(&m->rejected[why], 1);
}

void metrics_worker_restart(struct metrics *m)
{
	if (m)
		add(&m->worker_restarts, 1);
}

void metrics_box_rebuild(struct metrics *m)
{
	if (m)
		add(&m->box_rebuilds, 1);
}

void metrics_cleanup_failure(struct metrics *m)
{
	if (m)
		add(&m->cleanup_failures, 1);
}

void metrics_abandoned_tests(struct metrics *m, uint64_t n)
{
	if (m)
		add(&m->abandoned_tests, n);
}

/* A growing text buffer; on ENOMEM it stops growing and render fails. */
struct text {
	char *s;
	size_t len, cap;
	bool failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0 || t->failed) {
			t->failed = true;
			return;
		}
		if (t->s && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 8192;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(t->s, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->s = p;
		t->cap = cap;
	}
}

static void put_histogram(struct text *t, const char *name, const char *help,
			  const struct histogram *h)
{
	uint64_t cum = 0;
	put(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < NBOUNDS; i++) {
		cum += get(&h->bucket[i]);
		put(t, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds[i] / 1000.0,
		    (unsigned long long)cum);
	}
	cum += get(&h->bucket[NBOUNDS]);
	put(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	put(t, "%s_sum %g\n%s_count %llu\n", name, (double)get(&h->sum_ms) / 1000.0,
	    name, (unsigned long long)get(&h->count));
}

char *metrics_render(const struct metrics *m, const struct languages *langs,
		     unsigned slots, unsigned busy, size_t *len)
{
	static const char *const reject_names[] = { "busy", "unauthorized", "invalid",
						    "rate_limited" };
	struct text t = { 0 };

	put(&t, "# HELP runbox_http_requests_total Requests answered by runboxd, by HTTP status.\n"
		"# TYPE runbox_http_requests_total counter\n");
	for (size_t i = 0; i < NCODES; i++)
		put(&t, "runbox_http_requests_total{code=\"%d\"} %llu\n", codes[i],
		    (unsigned long long)get(&m->requests[i]));
	put(&t, "runbox_http_requests_total{code=\"other\"} %llu\n",
	    (unsigned long long)get(&m->requests[NCODES]));

	put(&t, "# HELP runbox_runs_total Runs by language and final status.\n"
		"# TYPE runbox_runs_total counter\n");
	for (size_t l = 0; l <= langs->n && l <= METRICS_MAX_LANGS; l++)
		for (int s = 0; s < JUDGE_STATUS_COUNT; s++) {
			uint64_t v = get(&m->runs[l][s]);
			if (!v)
				continue;
			put(&t, "runbox_runs_total{language=\"%s\",status=\"%s\"} %llu\n",
			    l ? langs->v[l - 1].id : "command",
			    judge_status_name(s),
			    (unsigned long long)v);
		}
	put_histogram(&t, "runbox_run_duration_seconds",
		      "Time from a slot taken to the response body ready.", &m->duration);
	put_histogram(&t, "runbox_queue_wait_seconds",
		      "Time a request waited for a free slot.", &m->queue_wait);
	put(&t, "# HELP runbox_slots Execution slots.\n# TYPE runbox_slots gauge\n"
		"runbox_slots %u\n"
		"# HELP runbox_slots_busy Slots running a program now.\n# TYPE runbox_slots_busy gauge\n"
		"runbox_slots_busy %u\n"
		"# HELP runbox_queue_length Requests waiting for a slot now.\n"
		"# TYPE runbox_queue_length gauge\nrunbox_queue_length %lld\n",
	    slots, busy, (long long)__atomic_load_n(&m->waiting, __ATOMIC_RELAXED));
	put(&t, "# HELP runbox_rejected_total Requests refused, by reason.\n"
		"# TYPE runbox_rejected_total counter\n");
	for (int i = 0; i < REJECT_COUNT; i++)
		put(&t, "runbox_rejected_total{reason=\"%s\"} %llu\n", reject_names[i],
		    (unsigned long long)get(&m->rejected[i]));
	put(&t, "# HELP runbox_worker_restarts_total Workers that died and were replaced.\n"
		"# TYPE runbox_worker_restarts_total counter\nrunbox_worker_restarts_total %llu\n"
		"# HELP runbox_cleanup_failures_total Runs whose processes or work directory "
		"could not be removed.\n# TYPE runbox_cleanup_failures_total counter\n"
		"runbox_cleanup_failures_total %llu\n"
		"# HELP runbox_abandoned_tests_total Judge tests not run because the client "
		"had gone away.\n# TYPE runbox_abandoned_tests_total counter\n"
		"runbox_abandoned_tests_total %llu\n"
		"# HELP runbox_box_rebuilds_total Slot boxes found dead or unfit and made "
		"again.\n# TYPE runbox_box_rebuilds_total counter\nrunbox_box_rebuilds_total %llu\n",
	    (unsigned long long)get(&m->worker_restarts),
	    (unsigned long long)get(&m->cleanup_failures),
	    (unsigned long long)get(&m->abandoned_tests),
	    (unsigned long long)get(&m->box_rebuilds));
	if (t.failed) {
		free(t.s);
		return NULL;
	}
	*len = t.len;
	return t.s;
}
