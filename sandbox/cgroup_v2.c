/*
 * cgroup_v2.c - slot cgroups on cgroup v2 (see cgroup.c for what is
 * common to both versions).
 *
 * Layout (memory and pids, and cpu when offered, delegated to us):
 *   <own>/<instance>/supervisor   runboxd's own processes (v2 allows no
 *                                 process in a cgroup that hands out
 *                                 controllers, so they move down here)
 *   <own>/<instance>/<slot>       one per slot
 * A run's child is cloned straight into its slot (CLONE_INTO_CGROUP with
 * the slot's directory fd).  Swap is off (memory.swap.max 0) and an OOM
 * kill takes the whole slot (memory.oom.group).  memory.peak is reset per
 * open file, CPU time comes from cpu.stat, and cgroup.kill ends every
 * member at once, forks racing with it included.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/cgroup_impl.h"
#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

/* The instance. */
static struct {
	char own[PATH_MAX];  /* the cgroup we started in */
	char base[PATH_MAX]; /* <own>/<instance> */
	int lock;            /* base, flock()ed */
} V2;

struct cgv2 {
	struct sbx_cgroup cg; /* cg.procs_dir: dir */
	int dir;
	int cpu_fd;           /* cpu.stat, kept open */
	int peak_fd;          /* memory.peak, reset per fd */
};

static int cgv2_init(const char *instance, char *what, size_t len)
{
	char mp[PATH_MAX], own[PATH_MAX], ctl[256] = "", path[PATH_MAX];
	int own_fd = -1, inst_fd = -1;

	V2.lock = -1;
	if (cg_mount_point("", mp, sizeof mp) < 0 || cg_own_path("", own, sizeof own) < 0)
		return -1;
	if (cg_join_path(V2.own, sizeof V2.own, mp, own, "") < 0)
		return -1;
	own_fd = open(V2.own, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (own_fd < 0 || cg_read_at(own_fd, "cgroup.controllers", ctl, sizeof ctl) < 0 ||
	    !strstr(ctl, "memory") || !strstr(ctl, "pids")) {
		sbx_set_error(what, len, "cgroup v2 at %s does not delegate memory and pids",
			V2.own);
		goto fail;
	}
	if (cg_join_path(path, sizeof path, V2.own, instance, "") < 0)
		goto fail;
	cg_remove_stale(V2.own);
	if ((V2.lock = cg_hold_instance(path)) < 0 ||
	    (inst_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (mkdirat(inst_fd, "supervisor", 0755) < 0 && errno != EEXIST) ||
	    sbx_write_file(inst_fd, "supervisor/cgroup.procs", "0") < 0) {
		sbx_set_error(what, len, "cgroup v2: cannot set up %s: %s", path, strerror(errno));
		goto fail;
	}
	const char *enable = strstr(ctl, "cpu ") || strstr(ctl, "cpu\n") ?
		"+memory +pids +cpu" : "+memory +pids";
	if (sbx_write_file(own_fd, "cgroup.subtree_control", enable) < 0 ||
	    sbx_write_file(inst_fd, "cgroup.subtree_control", enable) < 0) {
		sbx_set_error(what, len, "cgroup v2: cannot enable controllers under %s: %s",
			V2.own, strerror(errno));
		goto fail;
	}
	snprintf(V2.base, sizeof V2.base, "%s", path);
	close(own_fd);
	close(inst_fd);
	sbx_set_error(what, len, "cgroup v2 (memory, pids%s) under %s",
		strstr(enable, "cpu") ? ", cpu" : "", path);
	return 0;
fail:
	if (own_fd >= 0)
		close(own_fd);
	if (inst_fd >= 0)
		close(inst_fd);
	if (V2.lock >= 0) {
		/* Leave it as found: nothing of ours stays behind. */
		char sup[PATH_MAX + 16];
		snprintf(sup, sizeof sup, "%s/supervisor", path);
		rmdir(sup);
		rmdir(path);
		close(V2.lock);
		V2.lock = -1;
	}
	return -1;
}

static void cgv2_fini(void)
{
	char path[PATH_MAX + 32];

	/* Back to where we started, then the empty leaves go. */
	snprintf(path, sizeof path, "%s/cgroup.procs", V2.own);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "0", 1);
		close(fd);
	}
	snprintf(path, sizeof path, "%s/supervisor", V2.base);
	rmdir(path);
	rmdir(V2.base);
	/* Let go only once the directories are gone. */
	if (V2.lock >= 0) {
		close(V2.lock);
		V2.lock = -1;
	}
}

static struct sbx_cgroup *cgv2_create(const char *name, char *err, size_t errlen)
{
	struct cgv2 *v = cg_alloc(sizeof *v, &cg_v2_ops, name, err, errlen);

	if (!v)
		return NULL;
	v->cpu_fd = v->peak_fd = -1;
	if ((v->dir = cg_open_dir(V2.base, name, err, errlen)) < 0)
		goto fail;
	v->cg.procs_dir = v->dir;
	v->cpu_fd = openat(v->dir, "cpu.stat", O_RDONLY | O_CLOEXEC);
	sbx_write_file(v->dir, "memory.swap.max", "0");
	sbx_write_file(v->dir, "memory.oom.group", "1");
	if (v->cpu_fd < 0) {
		sbx_set_error(err, errlen, "cgroup %s: no CPU accounting: %s", name, strerror(errno));
		goto fail;
	}
	return &v->cg;
fail:
	sbx_cgroup_destroy(&v->cg);
	return NULL;
}

static void cgv2_destroy(struct sbx_cgroup *cg)
{
	struct cgv2 *v = CG_IMPL(struct cgv2, cg);

	if (v->cpu_fd >= 0)
		close(v->cpu_fd);
	if (v->peak_fd >= 0)
		close(v->peak_fd);
	if (v->dir >= 0) {
		close(v->dir);
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", V2.base, cg->name);
		rmdir(path);
	}
	free(v);
}

static int cgv2_read_cpu(struct sbx_cgroup *cg, uint64_t *cpu, uint64_t *user, uint64_t *sys)
{
	struct cgv2 *v = CG_IMPL(struct cgv2, cg);
	char buf[1024];
	uint64_t us = 0;
	if (cg_read_fd(v->cpu_fd, buf, sizeof buf) <= 0 ||
	    cg_keyed_u64(buf, "usage_usec", &us) < 0)
		return -1;
	*cpu = us * 1000;
	if (user) {
		uint64_t u = 0, s = 0;
		cg_keyed_u64(buf, "user_usec", &u);
		cg_keyed_u64(buf, "system_usec", &s);
		*user = u * 1000;
		*sys = s * 1000;
	}
	return 0;
}

/* A v2 limit file's text: the number, or "max" for 0 (no limit). */
static const char *limit_text(char *buf, size_t len, uint64_t v)
{
	if (v)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "max");
	return buf;
}

static const char *cgv2_prepare(struct sbx_cgroup *cg, const struct sbx_limits *limits,
				struct cg_baseline *base, int join_fds[CG_MAX_JOIN],
				int *njoin, int *v2_dirfd)
{
	struct cgv2 *v = CG_IMPL(struct cgv2, cg);
	char s[32];

	(void)join_fds;
	(void)njoin;
	if (sbx_write_file(v->dir, "memory.max", limit_text(s, sizeof s,
							     limits->memory_bytes)) < 0)
		return "memory.max";
	/* memory.peak is reset per open file by a write (Linux 6.12). */
	if (v->peak_fd >= 0)
		close(v->peak_fd);
	v->peak_fd = openat(v->dir, "memory.peak", O_RDWR | O_CLOEXEC);
	if (v->peak_fd >= 0 && write(v->peak_fd, "reset", 5) < 0) {
		close(v->peak_fd);
		v->peak_fd = openat(v->dir, "memory.peak", O_RDONLY | O_CLOEXEC);
	}
	cg_keyed_at(v->dir, "memory.events", "oom_kill", &base->oom_kills);
	if (sbx_write_file(v->dir, "pids.max", limit_text(s, sizeof s, limits->processes)) < 0)
		return "pids.max";
	if (cgv2_read_cpu(cg, &base->cpu_ns, &base->user_ns, &base->sys_ns) < 0)
		return "cpu.stat";
	*v2_dirfd = v->dir;
	return NULL;
}

static void cgv2_collect_memory(struct sbx_cgroup *cg, const struct cg_baseline *base,
				struct cg_usage *u)
{
	struct cgv2 *v = CG_IMPL(struct cgv2, cg);
	uint64_t oom = 0;
	char buf[64];

	if (cg_keyed_at(v->dir, "memory.events", "oom_kill", &oom) == 0)
		u->oom = oom > base->oom_kills;
	if (v->peak_fd >= 0 && cg_read_fd(v->peak_fd, buf, sizeof buf) > 0) {
		u->peak_bytes = strtoull(buf, NULL, 10);
		u->have_peak = true;
	}
}

/* The kernel kills every member, forks racing with it included; it cannot
   spare keep, which the common loop then handles alone. */
static void cgv2_kill_fast(struct sbx_cgroup *cg, pid_t keep, uint64_t until)
{
	(void)until;
	if (!keep)
		sbx_write_file(cg->procs_dir, "cgroup.kill", "1");
}

const struct cg_ops cg_v2_ops = {
	.mode = SBX_CGROUP_V2,
	.init = cgv2_init,
	.fini = cgv2_fini,
	.create = cgv2_create,
	.destroy = cgv2_destroy,
	.prepare = cgv2_prepare,
	.read_cpu = cgv2_read_cpu,
	.collect_memory = cgv2_collect_memory,
	.kill_fast = cgv2_kill_fast,
	.watch_tcp = NULL,
	.tcp_over = NULL,
};
