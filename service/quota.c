/*
 * quota.c - per-token rates and concurrency in shared memory (quota.h).
 *
 * One robust, process-shared mutex guards everything: a worker killed
 * while holding it leaves it to the next taker, who marks it consistent
 * (the state it guards is a few integers, each written whole).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "service/quota.h"

#define QUOTA_MAX_TOKENS AUTH_MAX_TOKENS
#define QUOTA_MAX_WORKERS 8192
#define MILLI 1000u

struct bucket {
	bool used;
	uint8_t hash[SHA256_LEN];
	uint64_t milli;      /* tokens in the bucket, in thousandths */
	uint64_t last_ns;    /* when it was last refilled */
};

struct runner {
	pid_t pid;           /* 0: free */
	int bucket;          /* whose run it is */
};

struct quota {
	pthread_mutex_t lock;
	struct bucket b[QUOTA_MAX_TOKENS];
	struct runner r[QUOTA_MAX_WORKERS];
};

struct quota *quota_create(void)
{
	pthread_mutexattr_t a;
	struct quota *q = mmap(NULL, sizeof *q, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (q == MAP_FAILED)
		return NULL;
	memset(q, 0, sizeof *q);
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&q->lock, &a) != 0) {
		munmap(q, sizeof *q);
		return NULL;
	}
	pthread_mutexattr_destroy(&a);
	return q;
}

void quota_destroy(struct quota *q)
{
	if (q) {
		pthread_mutex_destroy(&q->lock);
		munmap(q, sizeof *q);
	}
}

static void lock(struct quota *q)
{
	if (pthread_mutex_lock(&q->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&q->lock);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The token's bucket; a token seen for the first time gets a full one.
   The table holds as many tokens as a tokens file may: when it is full,
   tokens removed by reloads left theirs, and the one idle longest is
   recycled. */
static int find_bucket(struct quota *q, const uint8_t hash[SHA256_LEN],
		       const struct token_policy *p, uint64_t now)
{
	int free_slot = -1;

	for (int i = 0; i < QUOTA_MAX_TOKENS; i++) {
		if (q->b[i].used && !memcmp(q->b[i].hash, hash, SHA256_LEN))
			return i;
		if (!q->b[i].used && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		uint64_t oldest = UINT64_MAX;
		for (int i = 0; i < QUOTA_MAX_TOKENS; i++)
			if (q->b[i].last_ns < oldest) {
				oldest = q->b[i].last_ns;
				free_slot = i;
			}
	}
	struct bucket *b = &q->b[free_slot];
	b->used = true;
	memcpy(b->hash, hash, SHA256_LEN);
	b->milli = p->burst * MILLI;
	b->last_ns = now;
	return free_slot;
}

/* Whole milliseconds since the last refill, each worth rate_per_s
   thousandths of a token; the remainder waits for the next call. */
static void refill(struct bucket *b, const struct token_policy *p, uint64_t now)
{
	uint64_t cap = p->burst * MILLI;
	uint64_t ms = (now - b->last_ns) / 1000000u;

	if (ms >= (cap + p->rate_per_s - 1) / p->rate_per_s || b->milli + ms * p->rate_per_s >= cap) {
		b->milli = cap;
		b->last_ns = now;
	} else {
		b->milli += ms * p->rate_per_s;
		b->last_ns += ms * 1000000u;
	}
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return b ? (a + b - 1) / b : 0;
}

enum quota_verdict quota_admit(struct quota *q, const uint8_t hash[SHA256_LEN],
			       const struct token_policy *p, bool run,
			       struct quota_state *st)
{
	enum quota_verdict v = QUOTA_ADMITTED;
	uint64_t now = now_ns();
	pid_t self = getpid();

	memset(st, 0, sizeof *st);
	if (!p->rate_per_s && !p->concurrency)
		return QUOTA_ADMITTED;
	lock(q);
	int i = find_bucket(q, hash, p, now);
	struct bucket *b = &q->b[i];
	if (p->rate_per_s) {
		refill(b, p, now);
		st->limited = true;
		st->limit = p->burst;
		if (b->milli < MILLI) {
			v = QUOTA_RATE;
			st->retry_after_s = ceil_div(MILLI - b->milli, p->rate_per_s * MILLI);
		}
	}
	if (v == QUOTA_ADMITTED && run && p->concurrency) {
		unsigned busy = 0;
		int mine = -1;
		for (int w = 0; w < QUOTA_MAX_WORKERS; w++) {
			if (q->r[w].pid && q->r[w].bucket == i)
				busy++;
			if (mine < 0 && (!q->r[w].pid || q->r[w].pid == self))
				mine = w;
		}
		if (busy >= p->concurrency) {
			v = QUOTA_CONCURRENCY;
			st->retry_after_s = 1;
		} else if (mine >= 0) {
			q->r[mine].pid = self;
			q->r[mine].bucket = i;
		}
	}
	if (v == QUOTA_ADMITTED && p->rate_per_s)
		b->milli -= MILLI;
	if (p->rate_per_s) {
		st->remaining = b->milli / MILLI;
		st->reset_s = ceil_div(p->burst * MILLI - b->milli, p->rate_per_s * MILLI);
	}
	pthread_mutex_unlock(&q->lock);
	return v;
}

static void release(struct quota *q, pid_t pid)
{
	lock(q);
	for (int w = 0; w < QUOTA_MAX_WORKERS; w++)
		if (q->r[w].pid == pid)
			q->r[w].pid = 0;
	pthread_mutex_unlock(&q->lock);
}

void quota_done(struct quota *q)
{
	release(q, getpid());
}

void quota_reap(struct quota *q, pid_t pid)
{
	release(q, pid);
}
