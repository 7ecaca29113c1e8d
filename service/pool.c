/*
 * pool.c - execution slots in shared memory.
 */
#include "config.h"

#include <errno.h>
#include <semaphore.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "service/pool.h"
#include "service/settings.h"

struct pool {
	sem_t free;      /* number of free slots */
	unsigned nslots;
	pid_t owner[CONFIG_MAX_SLOTS]; /* 0 = free */
};

struct pool *pool_create(unsigned nslots)
{
	struct pool *p;

	if (!nslots || nslots > CONFIG_MAX_SLOTS) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, sizeof *p);
	p->nslots = nslots;
	if (sem_init(&p->free, 1, nslots) < 0) {
		munmap(p, sizeof *p);
		return NULL;
	}
	return p;
}

void pool_destroy(struct pool *pool)
{
	if (!pool)
		return;
	sem_destroy(&pool->free);
	munmap(pool, sizeof *pool);
}

int pool_acquire(struct pool *pool, uint64_t timeout_ms, unsigned *index)
{
	struct timespec deadline;
	pid_t self = getpid();

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)(timeout_ms / 1000);
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (sem_timedwait(&pool->free, &deadline) == 0)
			break;
		if (errno == EINTR)
			continue;
		return errno == ETIMEDOUT ? 1 : -1;
	}
	/* The semaphore guarantees a free slot exists; claim one. */
	for (;;) {
		for (unsigned i = 0; i < pool->nslots; i++) {
			pid_t expected = 0;
			if (__atomic_compare_exchange_n(&pool->owner[i], &expected, self,
							false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				*index = i;
				return 0;
			}
		}
	}
}

void pool_release(struct pool *pool, unsigned index)
{
	__atomic_store_n(&pool->owner[index], 0, __ATOMIC_RELEASE);
	sem_post(&pool->free);
}

unsigned pool_busy(const struct pool *pool)
{
	unsigned n = 0;
	for (unsigned i = 0; i < pool->nslots; i++)
		n += __atomic_load_n(&pool->owner[i], __ATOMIC_ACQUIRE) != 0;
	return n;
}

unsigned pool_size(const struct pool *pool)
{
	return pool->nslots;
}

void pool_reclaim(struct pool *pool, pid_t pid,
		  void (*fn)(unsigned index, void *arg), void *arg)
{
	for (unsigned i = 0; i < pool->nslots; i++)
		if (__atomic_load_n(&pool->owner[i], __ATOMIC_ACQUIRE) == pid) {
			if (fn)
				fn(i, arg);
			pool_release(pool, i);
		}
}
