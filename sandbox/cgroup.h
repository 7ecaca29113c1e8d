/*
 * cgroup.h - internal interface between run.c and cgroup.c: what one run
 * needs from its slot's cgroup.  cgroup.c dispatches each call to the
 * version in force (cgroup_v1.c, cgroup_v2.c; see cgroup_impl.h).
 */
#ifndef RUNBOX_SANDBOX_CGROUP_H
#define RUNBOX_SANDBOX_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

#define CG_MAX_JOIN 4

/* Counters taken before a run, so that the run's own share can be told. */
struct cg_baseline {
	uint64_t oom_kills;
	uint64_t cpu_ns, user_ns, sys_ns;
};

/* Set the run's limits, reset the peak, take the baseline.  The fds the
   child writes "0" to, to join (v1), or the directory fd for
   CLONE_INTO_CGROUP (v2), are returned. */
int cg_prepare(struct sbx_cgroup *cg, const struct sbx_limits *limits,
	       struct cg_baseline *base, int join_fds[CG_MAX_JOIN], int *njoin,
	       int *v2_dirfd, pid_t keep, char *err, size_t errlen);
bool cg_has_memory(const struct sbx_cgroup *cg);
/* CPU time of the whole tree since the baseline, in ns; -1 if unknown. */
int64_t cg_cpu_ns(struct sbx_cgroup *cg, const struct cg_baseline *base);
/* v1 with TCP accounting: socket buffers have their own counter, which
   must be watched during the run (a refused charge only stalls the
   sender).  cg_tcp_over: the run tried to pass its TCP limit. */
bool cg_watch_tcp(const struct sbx_cgroup *cg);
bool cg_tcp_over(struct sbx_cgroup *cg);
/* Kill every process in the cgroup but keep (a box's init; 0: none) and
   wait until none other is left.  -1 if it could not be emptied (logged
   by the caller). */
int cg_kill_all(struct sbx_cgroup *cg, pid_t keep, char *err, size_t errlen);
/* After the run: OOM kills, peak memory, user/system time. */
struct cg_usage {
	bool oom;
	uint64_t peak_bytes;
	uint64_t user_ns, sys_ns, cpu_ns;
	bool have_cpu, have_peak;
	bool tcp_over; /* v1: socket buffers passed the memory limit */
};
void cg_collect(struct sbx_cgroup *cg, const struct cg_baseline *base,
		struct cg_usage *u);

#endif
