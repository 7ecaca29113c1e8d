/*
 * pool.h - the execution slots, shared by every worker process.
 *
 * A slot is a uid, a work root and (later) a cgroup: at most one run uses
 * it at a time.  The pool lives in a shared anonymous mapping made by the
 * master before it forks the workers; a process-shared semaphore counts the
 * free slots so that a worker waits a bounded time for one, and each slot
 * records the pid of the worker holding it so the master can take it back
 * from a worker that died.
 */
#ifndef RUNBOX_POOL_H
#define RUNBOX_POOL_H

#include <stdint.h>
#include <sys/types.h>

struct pool;

struct pool *pool_create(unsigned nslots);
void pool_destroy(struct pool *pool);

/* 0 and a slot index; 1 when none freed within timeout_ms; -1 on error. */
int pool_acquire(struct pool *pool, uint64_t timeout_ms, unsigned *index);
void pool_release(struct pool *pool, unsigned index);
unsigned pool_busy(const struct pool *pool);
unsigned pool_size(const struct pool *pool);
/* Slots held by pid (a worker that died): calls fn for each, then frees it. */
void pool_reclaim(struct pool *pool, pid_t pid,
		  void (*fn)(unsigned index, void *arg), void *arg);

#endif
