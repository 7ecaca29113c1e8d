/*
 * runner.h - the job runner: a process forked by the master like a worker,
 * that takes queued jobs in order and runs them in free execution slots.
 */
#ifndef RUNBOX_RUNNER_H
#define RUNBOX_RUNNER_H

#include <sys/types.h>

#include "service/api.h"

/* The runner's life; exits 0 when asked to stop (SIGTERM, SIGINT) between
   jobs, finishing the one in hand first. */
_Noreturn void runner_main(struct service *svc);

/* The master, at start (pid 0) or when runner pid died: the jobs it was
   running end as "interrupted" (never run again).  -1 logged. */
int runner_interrupted(struct service *svc, pid_t pid);

#endif
