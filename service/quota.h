/*
 * quota.h - per-token request rates and concurrent runs, shared by every
 * worker (shared memory made by the master before it forks them).
 *
 * A web app's back end sends all its users' runs from one address, so
 * limits follow the token, not the address.  The rate is a token bucket
 * (`rate_per_s` refill, `burst` capacity) keyed by the token's hash, so a
 * reload that reorders the tokens file keeps each token's bucket.
 * Concurrency is counted from which worker serves which token: a worker
 * that dies holding a run is reaped by the master and its run no longer
 * counts, so nothing leaks.
 */
#ifndef RUNBOX_QUOTA_H
#define RUNBOX_QUOTA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "service/auth.h"

/* What the answer's RateLimit-* headers say (IETF httpapi draft). */
struct quota_state {
	bool limited;          /* the token has a rate: send the headers */
	uint64_t limit;        /* RateLimit-Limit: the burst */
	uint64_t remaining;    /* RateLimit-Remaining */
	uint64_t reset_s;      /* RateLimit-Reset: until the bucket is full */
	uint64_t retry_after_s; /* with a refusal */
};

enum quota_verdict {
	QUOTA_ADMITTED,
	QUOTA_RATE,        /* the token's rate is spent */
	QUOTA_CONCURRENCY, /* the token has its maximum of runs in flight */
};

struct quota *quota_create(void);
void quota_destroy(struct quota *q);

/* Admit one request of the token (hash, policy).  A run also counts
   against the token's concurrency until quota_done() in this process. */
enum quota_verdict quota_admit(struct quota *q, const uint8_t hash[SHA256_LEN],
			       const struct token_policy *p, bool run,
			       struct quota_state *st);
/* This worker's run is over. */
void quota_done(struct quota *q);
/* The master: worker pid is gone, its run (if any) no longer counts. */
void quota_reap(struct quota *q, pid_t pid);

#endif
