/*
 * cgroup_v1.c - slot cgroups on cgroup v1 (see cgroup.c for what is
 * common to both versions).
 *
 * Layout.  One hierarchy per controller: memory, pids, cpuacct, and
 * freezer when present; each gets <mount>/<own>/<instance>/<slot>, and the
 * instance directory of each is held (flock) on its own.  A run's child
 * joins the slot's cgroups itself before it execs: it writes "0" to each
 * cgroup.procs, through fds opened here once (cg_prepare hands them out).
 *
 * Files.  The files every run reads or writes are opened once per slot:
 * each open of a cgroup file costs about as much as the read or write
 * itself.  memory.max_usage_in_bytes is the peak (reset by writing 0),
 * memory.oom_control's oom_kill the OOM count, cpuacct.usage{,_user,_sys}
 * the CPU time.  Swap is off (memory.swappiness 0; memsw, where swap
 * accounting exists, follows the memory limit).
 *
 * Sockets are charged to memory.kmem.tcp, not to the memory limit: they
 * get a limit of their own (cgv1_prepare) and a watch (cgv1_tcp_over).
 *
 * Emptying: with freezer, freeze, kill every member, thaw (frozen processes
 * cannot fork), before the common kill loop.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/cgroup_impl.h"
#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

enum { C_MEMORY, C_PIDS, C_CPUACCT, C_FREEZER, C_COUNT };
static const char *const ctrl_names[C_COUNT] = { "memory", "pids", "cpuacct", "freezer" };

#define TCP_WAIT_MS 500    /* longest wait for a killed run's sockets to go */
#define TCP_SLACK (256u << 10) /* socket charges come in pages; see cgv1_tcp_over */

/* The instance: <mount>/<own>/<instance> per controller. */
static struct {
	char base[C_COUNT][PATH_MAX];
	bool have[C_COUNT];
	int lock[C_COUNT]; /* instance directories, flock()ed */
} V1;

struct cgv1 {
	struct sbx_cgroup cg; /* cg.procs_dir: dir[C_PIDS] */
	int dir[C_COUNT];
	int cpu_fd;           /* cpuacct.usage, kept open */
	/* files used by every run, opened once */
	int f_limit, f_memsw, f_usage, f_maxusage, f_oom, f_pidsmax,
	    f_user, f_sys;
	/* memory.kmem.tcp.{limit_in_bytes,failcnt,max_usage_in_bytes},
	   -1 where the kernel has no TCP accounting for v1 (cgv1_prepare). */
	int f_tcp_limit, f_tcp_fail, f_tcp_max;
	uint64_t tcp_limit; /* this run's */
	int f_join[C_COUNT];
};

static int cgv1_init(const char *instance, char *what, size_t len)
{
	char mp[PATH_MAX], own[PATH_MAX], parent[PATH_MAX];
	char list[128] = "";

	for (int c = 0; c < C_COUNT; c++) {
		V1.have[c] = false;
		V1.lock[c] = -1;
		if (cg_mount_point(ctrl_names[c], mp, sizeof mp) < 0 ||
		    cg_own_path(ctrl_names[c], own, sizeof own) < 0 ||
		    cg_join_path(parent, sizeof parent, mp, own, "") < 0 ||
		    cg_join_path(V1.base[c], sizeof V1.base[c], mp, own, instance) < 0)
			continue;
		cg_remove_stale(parent);
		if ((V1.lock[c] = cg_hold_instance(V1.base[c])) < 0)
			continue;
		V1.have[c] = true;
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
			 *list ? ", " : "", ctrl_names[c]);
	}
	if (!V1.have[C_MEMORY] || !V1.have[C_PIDS] || !V1.have[C_CPUACCT]) {
		for (int c = 0; c < C_COUNT; c++)
			if (V1.have[c]) {
				rmdir(V1.base[c]);
				close(V1.lock[c]);
				V1.lock[c] = -1;
			}
		sbx_set_error(what, len, "cgroup v1 lacks a usable memory, pids or cpuacct "
			"hierarchy (found: %s)", *list ? list : "none");
		return -1;
	}
	sbx_set_error(what, len, "cgroup v1 (%s)", list);
	return 0;
}

static void cgv1_fini(void)
{
	for (int c = 0; c < C_COUNT; c++)
		if (V1.have[c])
			rmdir(V1.base[c]);
	/* Let go only once the directories are gone. */
	for (int c = 0; c < C_COUNT; c++)
		if (V1.lock[c] >= 0) {
			close(V1.lock[c]);
			V1.lock[c] = -1;
		}
}

static struct sbx_cgroup *cgv1_create(const char *name, char *err, size_t errlen)
{
	struct cgv1 *v = cg_alloc(sizeof *v, &cg_v1_ops, name, err, errlen);

	if (!v)
		return NULL;
	v->cpu_fd = -1;
	v->f_limit = v->f_memsw = v->f_usage = v->f_maxusage = v->f_oom =
		v->f_pidsmax = v->f_user = v->f_sys = -1;
	v->f_tcp_limit = v->f_tcp_fail = v->f_tcp_max = -1;
	for (int c = 0; c < C_COUNT; c++)
		v->dir[c] = v->f_join[c] = -1;
	for (int c = 0; c < C_COUNT; c++) {
		if (!V1.have[c])
			continue;
		if ((v->dir[c] = cg_open_dir(V1.base[c], name, err, errlen)) < 0)
			goto fail;
		if (c == C_PIDS)
			v->cg.procs_dir = v->dir[c];
	}
	int mem = v->dir[C_MEMORY];
	v->cpu_fd = openat(v->dir[C_CPUACCT], "cpuacct.usage", O_RDONLY | O_CLOEXEC);
	v->f_limit = openat(mem, "memory.limit_in_bytes", O_WRONLY | O_CLOEXEC);
	v->f_memsw = openat(mem, "memory.memsw.limit_in_bytes", O_WRONLY | O_CLOEXEC);
	v->f_usage = openat(mem, "memory.usage_in_bytes", O_RDONLY | O_CLOEXEC);
	v->f_maxusage = openat(mem, "memory.max_usage_in_bytes", O_RDWR | O_CLOEXEC);
	v->f_oom = openat(mem, "memory.oom_control", O_RDONLY | O_CLOEXEC);
	v->f_pidsmax = openat(v->dir[C_PIDS], "pids.max", O_WRONLY | O_CLOEXEC);
	v->f_user = openat(v->dir[C_CPUACCT], "cpuacct.usage_user", O_RDONLY | O_CLOEXEC);
	v->f_sys = openat(v->dir[C_CPUACCT], "cpuacct.usage_sys", O_RDONLY | O_CLOEXEC);
	v->f_tcp_limit = openat(mem, "memory.kmem.tcp.limit_in_bytes", O_WRONLY | O_CLOEXEC);
	v->f_tcp_fail = openat(mem, "memory.kmem.tcp.failcnt", O_RDWR | O_CLOEXEC);
	v->f_tcp_max = openat(mem, "memory.kmem.tcp.max_usage_in_bytes", O_RDWR | O_CLOEXEC);
	if ((v->f_tcp_limit < 0) != (v->f_tcp_fail < 0) ||
	    (v->f_tcp_limit < 0) != (v->f_tcp_max < 0)) {
		sbx_set_error(err, errlen, "cgroup %s: memory.kmem.tcp files: %s",
			name, strerror(errno));
		goto fail;
	}
	for (int c = 0; c < C_COUNT; c++)
		if (v->dir[c] >= 0 &&
		    (v->f_join[c] = openat(v->dir[c], "cgroup.procs", O_WRONLY | O_CLOEXEC)) < 0) {
			sbx_set_error(err, errlen, "cgroup %s: %s/cgroup.procs: %s", name,
				ctrl_names[c], strerror(errno));
			goto fail;
		}
	if (v->f_limit < 0 || v->f_usage < 0 || v->f_maxusage < 0 ||
	    v->f_oom < 0 || v->f_pidsmax < 0) {
		sbx_set_error(err, errlen, "cgroup %s: memory or pids files: %s", name,
			strerror(errno));
		goto fail;
	}
	/* No swap: memsw (when swap accounting exists) follows memory. */
	sbx_write_file(v->dir[C_MEMORY], "memory.swappiness", "0");
	if (v->cpu_fd < 0) {
		sbx_set_error(err, errlen, "cgroup %s: no CPU accounting: %s", name, strerror(errno));
		goto fail;
	}
	return &v->cg;
fail:
	sbx_cgroup_destroy(&v->cg);
	return NULL;
}

static void cgv1_destroy(struct sbx_cgroup *cg)
{
	struct cgv1 *v = CG_IMPL(struct cgv1, cg);
	int files[] = { v->cpu_fd, v->f_limit, v->f_memsw, v->f_usage, v->f_maxusage,
			v->f_oom, v->f_pidsmax, v->f_user, v->f_sys,
			v->f_tcp_limit, v->f_tcp_fail, v->f_tcp_max };

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (files[i] >= 0)
			close(files[i]);
	for (int c = 0; c < C_COUNT; c++) {
		if (v->f_join[c] >= 0)
			close(v->f_join[c]);
		if (v->dir[c] < 0)
			continue;
		close(v->dir[c]);
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", V1.base[c], cg->name);
		rmdir(path);
	}
	free(v);
}

static int set_memory(struct cgv1 *v, uint64_t bytes)
{
	char s[32];
	snprintf(s, sizeof s, "%" PRIu64, bytes);
	/* memsw >= memory must hold at every step: order the two writes. */
	if (cg_write_fd(v->f_limit, s) == 0) {
		if (v->f_memsw >= 0 && cg_write_fd(v->f_memsw, s) < 0)
			return -1;
		return 0;
	}
	if (v->f_memsw < 0 || cg_write_fd(v->f_memsw, s) < 0)
		return -1;
	return cg_write_fd(v->f_limit, s);
}

static int cgv1_read_cpu(struct sbx_cgroup *cg, uint64_t *cpu, uint64_t *user, uint64_t *sys)
{
	struct cgv1 *v = CG_IMPL(struct cgv1, cg);
	char buf[64];
	if (cg_read_fd(v->cpu_fd, buf, sizeof buf) <= 0)
		return -1;
	*cpu = strtoull(buf, NULL, 10);
	if (user && (cg_read_u64_fd(v->f_user, user) < 0 || cg_read_u64_fd(v->f_sys, sys) < 0))
		*user = *sys = 0;
	return 0;
}

static const char *cgv1_prepare(struct sbx_cgroup *cg, const struct sbx_limits *limits,
				struct cg_baseline *base, int join_fds[CG_MAX_JOIN],
				int *njoin, int *v2_dirfd)
{
	struct cgv1 *v = CG_IMPL(struct cgv1, cg);
	uint64_t usage = 0;
	char s[32], buf[256];

	(void)v2_dirfd;
	if (set_memory(v, limits->memory_bytes ? limits->memory_bytes
					       : (uint64_t)INT64_MAX) < 0)
		return "memory.limit_in_bytes";
	/* Page cache charged by earlier runs would count in this run's
	   peak: drop it while the cgroup is empty.  That costs about
	   0.3 ms, so a residue under 1 MiB is left to count. */
	if (cg_read_u64_fd(v->f_usage, &usage) == 0 && usage > (1u << 20))
		sbx_write_file(v->dir[C_MEMORY], "memory.force_empty", "0");
	if (cg_write_fd(v->f_maxusage, "0") < 0)
		return "memory.max_usage_in_bytes";
	/* v1 charges socket buffers to memory.kmem.tcp, never to the
	   memory limit (v2 charges them to memory.max): without a TCP
	   limit a program holds gigabytes in unread loopback sockets.
	   The same number as the memory limit bounds them; reaching
	   it ends the run as memory_exceeded (cg_tcp_over). */
	if (v->f_tcp_limit >= 0) {
		v->tcp_limit = limits->memory_bytes ? limits->memory_bytes : (uint64_t)INT64_MAX;
		snprintf(s, sizeof s, "%" PRIu64, v->tcp_limit);
		/* EBUSY: the last run's sockets, closed by the kill,
		   still hold more than this run's limit; they go
		   within moments. */
		uint64_t until = cg_now_ms() + TCP_WAIT_MS;
		int rc;
		while ((rc = cg_write_fd(v->f_tcp_limit, s)) < 0 && errno == EBUSY &&
		       cg_now_ms() < until) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
		if (rc < 0 || cg_write_fd(v->f_tcp_fail, "0") < 0 ||
		    cg_write_fd(v->f_tcp_max, "0") < 0)
			return "memory.kmem.tcp.limit_in_bytes";
	}
	if (cg_read_fd(v->f_oom, buf, sizeof buf) > 0)
		cg_keyed_u64(buf, "oom_kill", &base->oom_kills);
	if (limits->processes)
		snprintf(s, sizeof s, "%" PRIu64, limits->processes);
	else
		snprintf(s, sizeof s, "max");
	if (cg_write_fd(v->f_pidsmax, s) < 0)
		return "pids.max";
	if (cgv1_read_cpu(cg, &base->cpu_ns, &base->user_ns, &base->sys_ns) < 0)
		return "cpuacct.usage";
	/* The child writes "0" to these to join; the fds stay ours. */
	for (int c = 0; c < C_COUNT; c++)
		if (v->f_join[c] >= 0)
			join_fds[(*njoin)++] = v->f_join[c];
	return NULL;
}

static bool cgv1_watch_tcp(const struct sbx_cgroup *cg)
{
	return CG_IMPL(const struct cgv1, cg)->f_tcp_fail >= 0;
}

/*
 * The TCP counter refused a charge, or came within TCP_SLACK of its limit.
 * Both are needed: since Linux 6.x failcnt counts only for the memory and
 * memsw counters (it stays 0 here), while socket charges the stack must
 * not fail are forced past the limit, which the peak shows.  A refused
 * charge that was not forced left the peak within one charge (a few
 * pages) of the limit.
 */
static bool cgv1_tcp_over(struct sbx_cgroup *cg)
{
	struct cgv1 *v = CG_IMPL(struct cgv1, cg);
	uint64_t fails = 0, peak = 0;

	if (!cgv1_watch_tcp(cg))
		return false;
	if (cg_read_u64_fd(v->f_tcp_fail, &fails) == 0 && fails > 0)
		return true;
	/* A small limit gets a proportionate slack. */
	uint64_t slack = v->tcp_limit / 8 < TCP_SLACK ? v->tcp_limit / 8 : TCP_SLACK;
	return cg_read_u64_fd(v->f_tcp_max, &peak) == 0 && peak + slack >= v->tcp_limit;
}

static void cgv1_collect_memory(struct sbx_cgroup *cg, const struct cg_baseline *base,
				struct cg_usage *u)
{
	struct cgv1 *v = CG_IMPL(struct cgv1, cg);
	uint64_t oom = 0;
	char buf[256];

	if (cg_read_fd(v->f_oom, buf, sizeof buf) > 0 &&
	    cg_keyed_u64(buf, "oom_kill", &oom) == 0)
		u->oom = oom > base->oom_kills;
	u->have_peak = cg_read_u64_fd(v->f_maxusage, &u->peak_bytes) == 0;
	u->tcp_over = cgv1_tcp_over(cg);
}

static int wait_frozen(int dir, const char *file, const char *want, uint64_t until)
{
	char buf[64];
	while (cg_now_ms() < until) {
		if (cg_read_at(dir, file, buf, sizeof buf) < 0)
			return -1;
		if (!strncmp(buf, want, strlen(want)))
			return 0;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* Frozen processes cannot fork: kill them all, then thaw so the kill
   takes effect. */
static void cgv1_kill_fast(struct sbx_cgroup *cg, pid_t keep, uint64_t until)
{
	int fz = CG_IMPL(struct cgv1, cg)->dir[C_FREEZER];

	if (fz < 0)
		return;
	if (sbx_write_file(fz, "freezer.state", "FROZEN") == 0)
		wait_frozen(fz, "freezer.state", "FROZEN", until);
	cg_for_each_pid(fz, cg_sigkill, keep);
	sbx_write_file(fz, "freezer.state", "THAWED");
}

const struct cg_ops cg_v1_ops = {
	.mode = SBX_CGROUP_V1,
	.init = cgv1_init,
	.fini = cgv1_fini,
	.create = cgv1_create,
	.destroy = cgv1_destroy,
	.prepare = cgv1_prepare,
	.read_cpu = cgv1_read_cpu,
	.collect_memory = cgv1_collect_memory,
	.kill_fast = cgv1_kill_fast,
	.watch_tcp = cgv1_watch_tcp,
	.tcp_over = cgv1_tcp_over,
};
