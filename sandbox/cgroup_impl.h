/*
 * cgroup_impl.h - private to cgroup.c, cgroup_v1.c and cgroup_v2.c: the
 * operations each cgroup version provides, the part of a slot's cgroup the
 * common code uses, and the helpers both versions share.  The rest of
 * sandbox/ uses cgroup.h and sandbox.h only.
 */
#ifndef RUNBOX_SANDBOX_CGROUP_IMPL_H
#define RUNBOX_SANDBOX_CGROUP_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"

/*
 * A slot's cgroup.  Each version allocates a larger struct that begins with
 * this one (cg_alloc) and gets it back with CG_IMPL().
 */
struct sbx_cgroup {
	const struct cg_ops *ops;
	int procs_dir; /* the directory whose cgroup.procs lists the members
			  (v1: the pids hierarchy's); owned by the version */
	char name[256];
};

#define CG_IMPL(type, cg) ((type *)(cg))

/*
 * One cgroup version, chosen once by sbx_cgroup_init.  Functions not
 * needed by a version are NULL where the comment says so.
 */
struct cg_ops {
	enum sbx_cgroup_mode mode;
	/* Make and hold <own>/<instance> in each hierarchy used (cg_hold_
	   instance), sweeping dead siblings first (cg_remove_stale).  0 with
	   a description for the health report in what, or -1 with the reason
	   in what and nothing of ours left behind. */
	int (*init)(const char *instance, char *what, size_t len);
	/* Remove the instance directories, then let go of their locks. */
	void (*fini)(void);
	/* The slot's cgroup beneath the instance: made (or reused) and opened,
	   or NULL with a sentence.  On failure after cg_alloc, it releases
	   what it made with sbx_cgroup_destroy. */
	struct sbx_cgroup *(*create)(const char *name, char *err, size_t errlen);
	/* Close and remove the (emptied) slot cgroup, and free it. */
	void (*destroy)(struct sbx_cgroup *cg);
	/* With the cgroup empty (but for keep): set the run's limits, reset
	   the peak, take the baseline; fill join_fds/njoin (v1) or v2_dirfd
	   (v2).  NULL, or the file that failed with errno set. */
	const char *(*prepare)(struct sbx_cgroup *cg, const struct sbx_limits *limits,
			       struct cg_baseline *base, int join_fds[CG_MAX_JOIN],
			       int *njoin, int *v2_dirfd);
	/* CPU counters of the tree in ns (user and sys only when user is
	   not NULL): 0, or -1. */
	int (*read_cpu)(struct sbx_cgroup *cg, uint64_t *cpu, uint64_t *user, uint64_t *sys);
	/* After the run: u->oom, u->peak_bytes/have_peak, u->tcp_over. */
	void (*collect_memory)(struct sbx_cgroup *cg, const struct cg_baseline *base,
			       struct cg_usage *u);
	/* The version's own way to end every member but keep at once (the
	   common loop in cg_kill_all then kills what is left until the
	   cgroup is empty); NULL: none. */
	void (*kill_fast)(struct sbx_cgroup *cg, pid_t keep, uint64_t until_ms);
	/* See cg_watch_tcp and cg_tcp_over in cgroup.h; NULL: no TCP
	   counter (v2 charges sockets to memory.max). */
	bool (*watch_tcp)(const struct sbx_cgroup *cg);
	bool (*tcp_over)(struct sbx_cgroup *cg);
};

extern const struct cg_ops cg_v1_ops, cg_v2_ops;

/* ---- shared by both versions (cgroup.c) -------------------------------- */

uint64_t cg_now_ms(void);

/* Small cgroupfs files: read whole (NUL-terminated, at most len - 1
   bytes), or written in one write at offset 0.  -1 with errno. */
ssize_t cg_read_fd(int fd, char *buf, size_t len);
ssize_t cg_read_at(int dirfd, const char *file, char *buf, size_t len);
int cg_write_fd(int fd, const char *text);
int cg_read_u64_fd(int fd, uint64_t *v);
/* "key value" lines (memory.oom_control, memory.events, cpu.stat). */
int cg_keyed_u64(const char *text, const char *key, uint64_t *v);
int cg_keyed_at(int dirfd, const char *file, const char *key, uint64_t *v);

/* Detection: our own path in the hierarchy holding ctrl ("" for v2's 0::
   line), and the mount point of the v1 hierarchy with ctrl, or of cgroup2
   (ctrl "").  0, or -1. */
int cg_own_path(const char *ctrl, char *out, size_t len);
int cg_mount_point(const char *ctrl, char *out, size_t len);
/* out = a/b/c, with b "/" or "" and c "" left out. */
int cg_join_path(char *out, size_t len, const char *a, const char *b, const char *c);
/* Instances (see cgroup.c): remove dead siblings of ours beneath parent;
   make the instance directory at path and hold it (an fd, or -1). */
void cg_remove_stale(const char *parent);
int cg_hold_instance(const char *path);

/* A zeroed slot cgroup of size bytes (a version's struct), with ops and
   name set and procs_dir -1; NULL with a sentence. */
void *cg_alloc(size_t size, const struct cg_ops *ops, const char *name, char *err,
	       size_t errlen);
/* Make (or reuse) base/name and open it: a directory fd, or -1 with a
   sentence. */
int cg_open_dir(const char *base, const char *name, char *err, size_t errlen);

/* Members of the cgroup at dir: fn for each but keep; how many, or -1. */
int cg_for_each_pid(int dir, void (*fn)(pid_t), pid_t keep);
void cg_sigkill(pid_t pid);

#endif
