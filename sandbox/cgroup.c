/*
 * cgroup.c - per-slot cgroups: the memory limit of a whole process tree
 * with a true memory_exceeded, the pids limit, CPU time and peak memory of
 * the tree, and killing everything that is left after a run.
 *
 * Layout.  Everything lives beneath the cgroup this process runs in (read
 * from /proc/self/cgroup), the way a systemd service with Delegate=yes gets
 * it; nothing is made at a hierarchy's root and no process is moved out of
 * its own subtree.
 *   cgroup v1 (one hierarchy per controller: memory, pids, cpuacct, and
 *   freezer when present):  <mount>/<own>/<instance>/<slot>
 *   cgroup v2 (memory and pids delegated to us):
 *     <own>/<instance>/supervisor   runboxd's own processes (v2 allows no
 *                                   process in a cgroup that hands out
 *                                   controllers, so they move down here)
 *     <own>/<instance>/<slot>       one per slot
 * A run's child joins the slot's cgroups itself before it execs (v1: it
 * writes "0" to each cgroup.procs), or is cloned straight into it (v2:
 * CLONE_INTO_CGROUP).
 *
 * Instances.  Several instances may share one cgroup (tests, a benchmark,
 * runboxd in containers that share the host's cgroup tree but not its PID
 * namespace).  <instance> is "<prefix>.<pid namespace inode>.<pid>", unique
 * on the host, and its directory is held with flock() on the directory
 * itself from before its first slot exists until the instance ends.  The
 * lock lives where the cgroups live, so every instance that can see our
 * cgroups sees our lock, whatever its PID namespace; it goes with the
 * holder's last process, so a dead instance's lock is free.  At start, a
 * sibling "<prefix>.<n>.<n>" whose lock we can take is provably dead and
 * its empty cgroups go; anything else (held, or not named so: an older
 * runboxd took no lock) is left alone.
 *
 * Per run: set memory and pids limits, reset the memory peak, take a
 * baseline of the OOM-kill count and CPU counters; afterwards the run's
 * share is the difference.  Emptying: cgroup.kill (v2), else freeze, kill
 * every member, thaw (v1 with freezer), else kill members until none is
 * left; then wait, bounded, until the cgroup is empty.
 */
#include "config.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

enum { C_MEMORY, C_PIDS, C_CPUACCT, C_FREEZER, C_COUNT };
static const char *const ctrl_names[C_COUNT] = { "memory", "pids", "cpuacct", "freezer" };

#define EMPTY_WAIT_MS 2000 /* longest wait for killed processes to go */
#define TCP_WAIT_MS 500    /* longest wait for a killed run's sockets to go */
#define TCP_SLACK (256u << 10) /* socket charges come in pages; see cg_tcp_over */

static struct {
	enum sbx_cgroup_mode mode;
	char base[C_COUNT][PATH_MAX]; /* v1: per controller; v2: base[0] */
	bool have[C_COUNT];
	char own_v2[PATH_MAX];        /* v2: the cgroup we started in */
	char name[128];               /* <prefix>.<pid namespace inode>.<pid> */
	int lock[C_COUNT];            /* instance directories, flock()ed */
} G;

#define LOCK_WAIT_MS 2000 /* longest wait for a sweeper to let go of ours */

struct sbx_cgroup {
	enum sbx_cgroup_mode mode;
	int dir[C_COUNT];  /* v1: per controller; v2: dir[0] */
	int cpu_fd;        /* cpuacct.usage (v1) or cpu.stat (v2), kept open */
	int peak_fd;       /* v2: memory.peak, reset per fd */
	/* v1 files used by every run, opened once: each open of a cgroup
	   file costs about as much as the read or write itself. */
	int f_limit, f_memsw, f_usage, f_maxusage, f_oom, f_pidsmax,
	    f_user, f_sys;
	/* v1: memory.kmem.tcp.{limit_in_bytes,failcnt,max_usage_in_bytes},
	   -1 where the kernel has no TCP accounting for v1 (cg_prepare). */
	int f_tcp_limit, f_tcp_fail, f_tcp_max;
	uint64_t tcp_limit; /* this run's */
	int f_join[C_COUNT];
	char name[256];
};




static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- small file helpers (cgroupfs files are short) ------------------ */


static ssize_t read_fd(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);
	if (n < 0) {
		if (lseek(fd, 0, SEEK_SET) < 0)
			return -1;
		n = read(fd, buf, len - 1);
	}
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static ssize_t read_at(int dirfd, const char *file, char *buf, size_t len)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read_fd(fd, buf, len);
	close(fd);
	return n;
}

static int write_fd(int fd, const char *text)
{
	ssize_t n = pwrite(fd, text, strlen(text), 0);
	if (n < 0 && errno == ESPIPE)
		n = write(fd, text, strlen(text));
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int read_u64_fd(int fd, uint64_t *v)
{
	char buf[64];
	if (fd < 0 || read_fd(fd, buf, sizeof buf) <= 0)
		return -1;
	*v = strtoull(buf, NULL, 10);
	return 0;
}


/* "key value" lines (memory.oom_control, memory.events, cpu.stat). */
static int keyed_u64(const char *text, const char *key, uint64_t *v)
{
	size_t klen = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, klen) && l[klen] == ' ') {
			*v = strtoull(l + klen + 1, NULL, 10);
			return 0;
		}
	return -1;
}

static int keyed_at(int dirfd, const char *file, const char *key, uint64_t *v)
{
	char buf[2048];
	if (read_at(dirfd, file, buf, sizeof buf) < 0)
		return -1;
	return keyed_u64(buf, key, v);
}

/* ---- detection ------------------------------------------------------- */

static void remove_stale(const char *parent);
static int hold_instance(const char *path);

/* Our own path in the hierarchy holding ctrl ("" for v2's 0:: line). */
static int own_path(const char *ctrl, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	int found = -1;

	if (!f)
		return -1;
	while (found < 0 && fgets(line, sizeof line, f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		line[strcspn(c2 + 1, "\n") + (size_t)(c2 + 1 - line)] = '\0';
		const char *list = c1 + 1, *path = c2 + 1;
		if (!*ctrl) {
			if (!*list && !strncmp(line, "0:", 2))
				found = snprintf(out, len, "%s", path) < (int)len ? 0 : -1;
			continue;
		}
		for (const char *p = list; *p;) {
			size_t n = strcspn(p, ",");
			if (n == strlen(ctrl) && !strncmp(p, ctrl, n)) {
				found = snprintf(out, len, "%s", path) < (int)len ? 0 : -1;
				break;
			}
			p += n + (p[n] == ',');
		}
	}
	fclose(f);
	return found;
}

/* Mount point of the v1 hierarchy with ctrl, or of cgroup2 (ctrl ""). */
static int mount_point(const char *ctrl, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int found = -1;

	if (!f)
		return -1;
	while (found < 0 && fgets(line, sizeof line, f)) {
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		char fstype[64], source[256], opts[1024] = "";
		if (sscanf(sep + 3, "%63s %255s %1023s", fstype, source, opts) < 2)
			continue;
		bool match;
		if (!*ctrl) {
			match = !strcmp(fstype, "cgroup2");
		} else {
			match = false;
			if (!strcmp(fstype, "cgroup"))
				for (char *p = opts; *p;) {
					size_t n = strcspn(p, ",");
					if (n == strlen(ctrl) && !strncmp(p, ctrl, n))
						match = true;
					p += n + (p[n] == ',');
				}
		}
		if (!match)
			continue;
		/* field 5 is the mount point */
		char mp[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1)
			found = snprintf(out, len, "%s", mp) < (int)len ? 0 : -1;
	}
	fclose(f);
	return found;
}

static int join_path(char *out, size_t len, const char *a, const char *b, const char *c)
{
	int n = snprintf(out, len, "%s%s%s%s%s", a, (b[0] == '/' || !b[0]) ? "" : "/",
			 strcmp(b, "/") ? b : "", c[0] ? "/" : "", c);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static enum sbx_cgroup_mode init_v2(const char *instance, char *what, size_t len)
{
	char mp[PATH_MAX], own[PATH_MAX], ctl[256] = "", path[PATH_MAX];
	int own_fd = -1, inst_fd = -1;

	if (mount_point("", mp, sizeof mp) < 0 || own_path("", own, sizeof own) < 0)
		return SBX_CGROUP_NONE;
	if (join_path(G.own_v2, sizeof G.own_v2, mp, own, "") < 0)
		return SBX_CGROUP_NONE;
	own_fd = open(G.own_v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (own_fd < 0 || read_at(own_fd, "cgroup.controllers", ctl, sizeof ctl) < 0 ||
	    !strstr(ctl, "memory") || !strstr(ctl, "pids")) {
		sbx_set_error(what, len, "cgroup v2 at %s does not delegate memory and pids",
			G.own_v2);
		goto fail;
	}
	if (join_path(path, sizeof path, G.own_v2, instance, "") < 0)
		goto fail;
	remove_stale(G.own_v2);
	if ((G.lock[0] = hold_instance(path)) < 0 ||
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
			G.own_v2, strerror(errno));
		goto fail;
	}
	snprintf(G.base[0], sizeof G.base[0], "%s", path);
	close(own_fd);
	close(inst_fd);
	sbx_set_error(what, len, "cgroup v2 (memory, pids%s) under %s",
		strstr(enable, "cpu") ? ", cpu" : "", path);
	return SBX_CGROUP_V2;
fail:
	if (own_fd >= 0)
		close(own_fd);
	if (inst_fd >= 0)
		close(inst_fd);
	if (G.lock[0] >= 0) {
		/* Leave it as found: nothing of ours stays behind. */
		char sup[PATH_MAX + 16];
		snprintf(sup, sizeof sup, "%s/supervisor", path);
		rmdir(sup);
		rmdir(path);
		close(G.lock[0]);
		G.lock[0] = -1;
	}
	return SBX_CGROUP_NONE;
}

static enum sbx_cgroup_mode init_v1(const char *instance, char *what, size_t len)
{
	char mp[PATH_MAX], own[PATH_MAX], parent[PATH_MAX];
	char list[128] = "";

	for (int c = 0; c < C_COUNT; c++) {
		G.have[c] = false;
		if (mount_point(ctrl_names[c], mp, sizeof mp) < 0 ||
		    own_path(ctrl_names[c], own, sizeof own) < 0 ||
		    join_path(parent, sizeof parent, mp, own, "") < 0 ||
		    join_path(G.base[c], sizeof G.base[c], mp, own, instance) < 0)
			continue;
		remove_stale(parent);
		if ((G.lock[c] = hold_instance(G.base[c])) < 0)
			continue;
		G.have[c] = true;
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
			 *list ? ", " : "", ctrl_names[c]);
	}
	if (!G.have[C_MEMORY] || !G.have[C_PIDS] || !G.have[C_CPUACCT]) {
		for (int c = 0; c < C_COUNT; c++)
			if (G.have[c]) {
				rmdir(G.base[c]);
				close(G.lock[c]);
				G.lock[c] = -1;
			}
		sbx_set_error(what, len, "cgroup v1 lacks a usable memory, pids or cpuacct "
			"hierarchy (found: %s)", *list ? list : "none");
		return SBX_CGROUP_NONE;
	}
	sbx_set_error(what, len, "cgroup v1 (%s)", list);
	return SBX_CGROUP_V1;
}

/* Is name "<prefix>.<digits>.<digits>", an instance made by this code? */
static bool instance_name(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *a = name + n + 1, *b;

	if (strncmp(name, prefix, n) || name[n] != '.')
		return false;
	b = a + strspn(a, "0123456789");
	if (b == a || *b != '.')
		return false;
	return b[1] && strspn(b + 1, "0123456789") == strlen(b + 1);
}

/*
 * Make the instance directory at path and hold it: an fd with flock() on
 * it, or -1.  A sweeper may hold the lock for a moment, and may remove the
 * directory between our mkdir and our flock: then make it again.  Where
 * flock() does not work at all the directory is used unheld (nobody else
 * can take its lock either, so nobody sweeps it).
 */
static int hold_instance(const char *path)
{
	uint64_t until = now_ms() + LOCK_WAIT_MS;

	for (;;) {
		struct stat a, b;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -1;
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT && now_ms() < until)
				continue; /* swept right after our mkdir */
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
			close(fd);
			if (now_ms() >= until)
				return -1;
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		/* Still the directory at path (not one swept meanwhile)? */
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return fd;
		close(fd);
		if (now_ms() >= until)
			return -1;
	}
}

/*
 * Remove the cgroups of dead instances beneath parent: siblings named like
 * ours whose lock we can take (see "Instances" above).  rmdir refuses a
 * cgroup that still has processes, so nothing running is touched either.
 */
static void remove_stale(const char *parent)
{
	char prefix[128];
	DIR *d;
	struct dirent *de;

	snprintf(prefix, sizeof prefix, "%.*s", (int)strcspn(G.name, "."), G.name);
	if (!(d = opendir(parent)))
		return;
	while ((de = readdir(d))) {
		if (!instance_name(de->d_name, prefix) || !strcmp(de->d_name, G.name))
			continue;
		int fd = openat(dirfd(d), de->d_name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd); /* held: its instance lives */
			continue;
		}
		DIR *sub = fdopendir(dup(fd));
		struct dirent *se;
		while (sub && (se = readdir(sub)))
			if (se->d_type == DT_DIR && se->d_name[0] != '.')
				unlinkat(fd, se->d_name, AT_REMOVEDIR);
		if (sub)
			closedir(sub);
		unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
		close(fd);
	}
	closedir(d);
}

enum sbx_cgroup_mode sbx_cgroup_init(const char *prefix, char *what, size_t len)
{
	char why2[256] = "";
	struct stat ns;

	memset(&G, 0, sizeof G);
	for (int c = 0; c < C_COUNT; c++)
		G.lock[c] = -1;
	if (!*prefix || strchr(prefix, '/') || strchr(prefix, '.') ||
	    strlen(prefix) > 64) {
		sbx_set_error(what, len, "bad cgroup instance prefix \"%s\"", prefix);
		return SBX_CGROUP_NONE;
	}
	/* A pid alone is not unique beside other PID namespaces. */
	snprintf(G.name, sizeof G.name, "%s.%llu.%d", prefix,
		 stat("/proc/self/ns/pid", &ns) == 0 ? (unsigned long long)ns.st_ino : 0ULL,
		 (int)getpid());
	G.mode = init_v2(G.name, why2, sizeof why2);
	if (G.mode == SBX_CGROUP_NONE)
		G.mode = init_v1(G.name, what, len);
	else
		sbx_set_error(what, len, "%s", why2);
	if (G.mode == SBX_CGROUP_NONE && *why2) {
		size_t n = strlen(what);
		snprintf(what + n, len - n, "; %s", why2);
	}
	return G.mode;
}

void sbx_cgroup_fini(void)
{
	if (G.mode == SBX_CGROUP_V1) {
		for (int c = 0; c < C_COUNT; c++)
			if (G.have[c])
				rmdir(G.base[c]);
	} else if (G.mode == SBX_CGROUP_V2) {
		char path[PATH_MAX + 32];
		/* Back to where we started, then the empty leaves go. */
		snprintf(path, sizeof path, "%s/cgroup.procs", G.own_v2);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "0", 1);
			close(fd);
		}
		snprintf(path, sizeof path, "%s/supervisor", G.base[0]);
		rmdir(path);
		rmdir(G.base[0]);
	}
	/* Let go only once the directories are gone. */
	for (int c = 0; c < C_COUNT; c++)
		if (G.lock[c] >= 0) {
			close(G.lock[c]);
			G.lock[c] = -1;
		}
	G.mode = SBX_CGROUP_NONE;
}

/* ---- one slot's cgroup ------------------------------------------------ */

int sbx_cgroup_create(struct sbx_cgroup **out, const char *name, char *err,
		      size_t errlen)
{
	struct sbx_cgroup *cg;
	int n = G.mode == SBX_CGROUP_V1 ? C_COUNT : 1;

	*out = NULL;
	if (G.mode == SBX_CGROUP_NONE) {
		sbx_set_error(err, errlen, "no cgroup hierarchy is in use");
		return -1;
	}
	if (strchr(name, '/') || !*name || name[0] == '.') {
		sbx_set_error(err, errlen, "bad cgroup name \"%s\"", name);
		return -1;
	}
	if (!(cg = calloc(1, sizeof *cg))) {
		sbx_set_error(err, errlen, "out of memory");
		return -1;
	}
	cg->mode = G.mode;
	cg->cpu_fd = cg->peak_fd = -1;
	cg->f_limit = cg->f_memsw = cg->f_usage = cg->f_maxusage = cg->f_oom =
		cg->f_pidsmax = cg->f_user = cg->f_sys = -1;
	cg->f_tcp_limit = cg->f_tcp_fail = cg->f_tcp_max = -1;
	snprintf(cg->name, sizeof cg->name, "%s", name);
	for (int c = 0; c < C_COUNT; c++)
		cg->dir[c] = cg->f_join[c] = -1;
	for (int c = 0; c < n; c++) {
		char path[PATH_MAX + 256];
		if (G.mode == SBX_CGROUP_V1 && !G.have[c])
			continue;
		snprintf(path, sizeof path, "%s/%s", G.base[c], name);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			sbx_set_error(err, errlen, "mkdir %s: %s", path, strerror(errno));
			goto fail;
		}
		cg->dir[c] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg->dir[c] < 0) {
			sbx_set_error(err, errlen, "open %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (G.mode == SBX_CGROUP_V1) {
		int mem = cg->dir[C_MEMORY];
		cg->cpu_fd = openat(cg->dir[C_CPUACCT], "cpuacct.usage", O_RDONLY | O_CLOEXEC);
		cg->f_limit = openat(mem, "memory.limit_in_bytes", O_WRONLY | O_CLOEXEC);
		cg->f_memsw = openat(mem, "memory.memsw.limit_in_bytes", O_WRONLY | O_CLOEXEC);
		cg->f_usage = openat(mem, "memory.usage_in_bytes", O_RDONLY | O_CLOEXEC);
		cg->f_maxusage = openat(mem, "memory.max_usage_in_bytes", O_RDWR | O_CLOEXEC);
		cg->f_oom = openat(mem, "memory.oom_control", O_RDONLY | O_CLOEXEC);
		cg->f_pidsmax = openat(cg->dir[C_PIDS], "pids.max", O_WRONLY | O_CLOEXEC);
		cg->f_user = openat(cg->dir[C_CPUACCT], "cpuacct.usage_user", O_RDONLY | O_CLOEXEC);
		cg->f_sys = openat(cg->dir[C_CPUACCT], "cpuacct.usage_sys", O_RDONLY | O_CLOEXEC);
		cg->f_tcp_limit = openat(mem, "memory.kmem.tcp.limit_in_bytes",
					 O_WRONLY | O_CLOEXEC);
		cg->f_tcp_fail = openat(mem, "memory.kmem.tcp.failcnt", O_RDWR | O_CLOEXEC);
		cg->f_tcp_max = openat(mem, "memory.kmem.tcp.max_usage_in_bytes",
				       O_RDWR | O_CLOEXEC);
		if ((cg->f_tcp_limit < 0) != (cg->f_tcp_fail < 0) ||
		    (cg->f_tcp_limit < 0) != (cg->f_tcp_max < 0)) {
			sbx_set_error(err, errlen, "cgroup %s: memory.kmem.tcp files: %s",
				name, strerror(errno));
			goto fail;
		}
		for (int c = 0; c < C_COUNT; c++)
			if (cg->dir[c] >= 0 &&
			    (cg->f_join[c] = openat(cg->dir[c], "cgroup.procs",
						    O_WRONLY | O_CLOEXEC)) < 0) {
				sbx_set_error(err, errlen, "cgroup %s: %s/cgroup.procs: %s", name,
					ctrl_names[c], strerror(errno));
				goto fail;
			}
		if (cg->f_limit < 0 || cg->f_usage < 0 || cg->f_maxusage < 0 ||
		    cg->f_oom < 0 || cg->f_pidsmax < 0) {
			sbx_set_error(err, errlen, "cgroup %s: memory or pids files: %s", name,
				strerror(errno));
			goto fail;
		}
		/* No swap: memsw (when swap accounting exists) follows memory. */
		sbx_write_file(cg->dir[C_MEMORY], "memory.swappiness", "0");
	} else {
		cg->cpu_fd = openat(cg->dir[0], "cpu.stat", O_RDONLY | O_CLOEXEC);
		sbx_write_file(cg->dir[0], "memory.swap.max", "0");
		sbx_write_file(cg->dir[0], "memory.oom.group", "1");
	}
	if (cg->cpu_fd < 0) {
		sbx_set_error(err, errlen, "cgroup %s: no CPU accounting: %s", name, strerror(errno));
		goto fail;
	}
	*out = cg;
	return 0;
fail:
	sbx_cgroup_destroy(cg);
	return -1;
}

void sbx_cgroup_destroy(struct sbx_cgroup *cg)
{
	if (!cg)
		return;
	cg_kill_all(cg, 0, NULL, 0);
	if (cg->cpu_fd >= 0)
		close(cg->cpu_fd);
	if (cg->peak_fd >= 0)
		close(cg->peak_fd);
	int files[] = { cg->f_limit, cg->f_memsw, cg->f_usage, cg->f_maxusage,
			cg->f_oom, cg->f_pidsmax, cg->f_user, cg->f_sys,
			cg->f_tcp_limit, cg->f_tcp_fail, cg->f_tcp_max };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (files[i] >= 0)
			close(files[i]);
	for (int c = 0; c < C_COUNT; c++) {
		if (cg->f_join[c] >= 0)
			close(cg->f_join[c]);
		if (cg->dir[c] < 0)
			continue;
		close(cg->dir[c]);
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", G.base[cg->mode == SBX_CGROUP_V1 ? c : 0],
			 cg->name);
		rmdir(path);
	}
	free(cg);
}

bool cg_has_memory(const struct sbx_cgroup *cg)
{
	return cg && cg->dir[0] >= 0;
}

static int set_memory_v1(struct sbx_cgroup *cg, uint64_t bytes)
{
	char v[32];
	snprintf(v, sizeof v, "%" PRIu64, bytes);
	/* memsw >= memory must hold at every step: order the two writes. */
	if (write_fd(cg->f_limit, v) == 0) {
		if (cg->f_memsw >= 0 && write_fd(cg->f_memsw, v) < 0)
			return -1;
		return 0;
	}
	if (cg->f_memsw < 0 || write_fd(cg->f_memsw, v) < 0)
		return -1;
	return write_fd(cg->f_limit, v);
}

static int read_cpu_v1(struct sbx_cgroup *cg, uint64_t *cpu, uint64_t *user, uint64_t *sys)
{
	char buf[64];
	if (read_fd(cg->cpu_fd, buf, sizeof buf) <= 0)
		return -1;
	*cpu = strtoull(buf, NULL, 10);
	if (user && (read_u64_fd(cg->f_user, user) < 0 || read_u64_fd(cg->f_sys, sys) < 0))
		*user = *sys = 0;
	return 0;
}

static int read_cpu_v2(struct sbx_cgroup *cg, uint64_t *cpu, uint64_t *user, uint64_t *sys)
{
	char buf[1024];
	uint64_t us = 0;
	if (read_fd(cg->cpu_fd, buf, sizeof buf) <= 0 || keyed_u64(buf, "usage_usec", &us) < 0)
		return -1;
	*cpu = us * 1000;
	if (user) {
		uint64_t u = 0, s = 0;
		keyed_u64(buf, "user_usec", &u);
		keyed_u64(buf, "system_usec", &s);
		*user = u * 1000;
		*sys = s * 1000;
	}
	return 0;
}

int cg_prepare(struct sbx_cgroup *cg, const struct sbx_limits *limits,
	       struct cg_baseline *base, int join_fds[CG_MAX_JOIN], int *njoin,
	       int *v2_dirfd, pid_t keep, char *err, size_t errlen)
{
	char v[32];
	const char *step;

	memset(base, 0, sizeof *base);
	*njoin = 0;
	*v2_dirfd = -1;
	/* A slot is reused only once it is empty (but for its box's init). */
	if (cg_kill_all(cg, keep, err, errlen) < 0)
		return -1;
	if (cg->mode == SBX_CGROUP_V1) {
		uint64_t usage = 0;
		char buf[256];
		step = "memory.limit_in_bytes";
		if (set_memory_v1(cg, limits->memory_bytes ? limits->memory_bytes
							: (uint64_t)INT64_MAX) < 0)
			goto fail;
		/* Page cache charged by earlier runs would count in this run's
		   peak: drop it while the cgroup is empty.  That costs about
		   0.3 ms, so a residue under 1 MiB is left to count. */
		if (read_u64_fd(cg->f_usage, &usage) == 0 && usage > (1u << 20))
			sbx_write_file(cg->dir[C_MEMORY], "memory.force_empty", "0");
		step = "memory.max_usage_in_bytes";
		if (write_fd(cg->f_maxusage, "0") < 0)
			goto fail;
		/* v1 charges socket buffers to memory.kmem.tcp, never to the
		   memory limit (v2 charges them to memory.max): without a TCP
		   limit a program holds gigabytes in unread loopback sockets.
		   The same number as the memory limit bounds them; reaching
		   it ends the run as memory_exceeded (cg_tcp_over). */
		step = "memory.kmem.tcp.limit_in_bytes";
		if (cg->f_tcp_limit >= 0) {
			cg->tcp_limit = limits->memory_bytes ? limits->memory_bytes
							     : (uint64_t)INT64_MAX;
			snprintf(v, sizeof v, "%" PRIu64, cg->tcp_limit);
			/* EBUSY: the last run's sockets, closed by the kill,
			   still hold more than this run's limit; they go
			   within moments. */
			uint64_t until = now_ms() + TCP_WAIT_MS;
			int rc;
			while ((rc = write_fd(cg->f_tcp_limit, v)) < 0 && errno == EBUSY &&
			       now_ms() < until) {
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);
			}
			if (rc < 0 || write_fd(cg->f_tcp_fail, "0") < 0 ||
			    write_fd(cg->f_tcp_max, "0") < 0)
				goto fail;
		}
		if (read_fd(cg->f_oom, buf, sizeof buf) > 0)
			keyed_u64(buf, "oom_kill", &base->oom_kills);
		step = "pids.max";
		if (limits->processes)
			snprintf(v, sizeof v, "%" PRIu64, limits->processes);
		else
			snprintf(v, sizeof v, "max");
		if (write_fd(cg->f_pidsmax, v) < 0)
			goto fail;
		step = "cpuacct.usage";
		if (read_cpu_v1(cg, &base->cpu_ns, &base->user_ns, &base->sys_ns) < 0)
			goto fail;
		/* The child writes "0" to these to join; the fds stay ours. */
		for (int c = 0; c < C_COUNT; c++)
			if (cg->f_join[c] >= 0)
				join_fds[(*njoin)++] = cg->f_join[c];
		return 0;
	}
	/* v2 */
	int dir = cg->dir[0];
	step = "memory.max";
	if (limits->memory_bytes)
		snprintf(v, sizeof v, "%" PRIu64, limits->memory_bytes);
	else
		snprintf(v, sizeof v, "max");
	if (sbx_write_file(dir, "memory.max", v) < 0)
		goto fail;
	/* memory.peak is reset per open file by a write (Linux 6.12). */
	if (cg->peak_fd >= 0)
		close(cg->peak_fd);
	cg->peak_fd = openat(dir, "memory.peak", O_RDWR | O_CLOEXEC);
	if (cg->peak_fd >= 0 && write(cg->peak_fd, "reset", 5) < 0) {
		close(cg->peak_fd);
		cg->peak_fd = openat(dir, "memory.peak", O_RDONLY | O_CLOEXEC);
	}
	keyed_at(dir, "memory.events", "oom_kill", &base->oom_kills);
	step = "pids.max";
	if (limits->processes)
		snprintf(v, sizeof v, "%" PRIu64, limits->processes);
	else
		snprintf(v, sizeof v, "max");
	if (sbx_write_file(dir, "pids.max", v) < 0)
		goto fail;
	step = "cpu.stat";
	if (read_cpu_v2(cg, &base->cpu_ns, &base->user_ns, &base->sys_ns) < 0)
		goto fail;
	*v2_dirfd = dir;
	return 0;
fail:
	sbx_set_error(err, errlen, "cgroup %s: %s: %s", cg->name, step, strerror(errno));
	return -1;
}

int64_t cg_cpu_ns(struct sbx_cgroup *cg, const struct cg_baseline *base)
{
	uint64_t cpu;
	int rc = cg->mode == SBX_CGROUP_V1 ? read_cpu_v1(cg, &cpu, NULL, NULL)
					   : read_cpu_v2(cg, &cpu, NULL, NULL);
	if (rc < 0)
		return -1;
	return cpu >= base->cpu_ns ? (int64_t)(cpu - base->cpu_ns) : 0;
}

/*
 * Members of a cgroup: calls fn for each pid but keep (a box's init; 0:
 * none); returns how many, or -1.  cgroup.procs is opened for each read:
 * v1 keeps the list it gave an open file and serves it again to the next
 * read of that file for as long as reads come within a second of each
 * other, so a file kept open would go on listing a process killed and
 * reaped since (seen as "1 process still present" for a box init killed
 * a moment before).
 */
static int for_each_pid(int dir, void (*fn)(pid_t), pid_t keep)
{
	char buf[65536];
	int n = 0;
	ssize_t len = read_at(dir, "cgroup.procs", buf, sizeof buf);
	if (len < 0)
		return -1;
	for (char *p = buf; *p;) {
		pid_t pid = (pid_t)strtol(p, &p, 10);
		if (pid > 0 && pid != keep) {
			n++;
			if (fn)
				fn(pid);
		}
		while (*p == '\n')
			p++;
	}
	return n;
}

static _Thread_local pid_t last_pid;

static void note_pid(pid_t pid)
{
	last_pid = pid;
}

static void kill_pid(pid_t pid)
{
	kill(pid, SIGKILL);
}

static int wait_frozen(int dir, const char *file, const char *want, uint64_t until)
{
	char buf[64];
	while (now_ms() < until) {
		if (read_at(dir, file, buf, sizeof buf) < 0)
			return -1;
		if (!strncmp(buf, want, strlen(want)))
			return 0;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

bool cg_watch_tcp(const struct sbx_cgroup *cg)
{
	return cg->mode == SBX_CGROUP_V1 && cg->f_tcp_fail >= 0;
}

/*
 * The TCP counter refused a charge, or came within TCP_SLACK of its limit.
 * Both are needed: since Linux 6.x failcnt counts only for the memory and
 * memsw counters (it stays 0 here), while socket charges the stack must
 * not fail are forced past the limit, which the peak shows.  A refused
 * charge that was not forced left the peak within one charge (a few
 * pages) of the limit.
 */
bool cg_tcp_over(struct sbx_cgroup *cg)
{
	uint64_t fails = 0, peak = 0;

	if (!cg_watch_tcp(cg))
		return false;
	if (read_u64_fd(cg->f_tcp_fail, &fails) == 0 && fails > 0)
		return true;
	/* A small limit gets a proportionate slack. */
	uint64_t slack = cg->tcp_limit / 8 < TCP_SLACK ? cg->tcp_limit / 8 : TCP_SLACK;
	return read_u64_fd(cg->f_tcp_max, &peak) == 0 && peak + slack >= cg->tcp_limit;
}

int cg_kill_all(struct sbx_cgroup *cg, pid_t keep, char *err, size_t errlen)
{
	int dir = cg->mode == SBX_CGROUP_V1 ? cg->dir[C_PIDS] : cg->dir[0];
	uint64_t until = now_ms() + EMPTY_WAIT_MS;
	int n = for_each_pid(dir, NULL, keep);

	if (n == 0)
		return 0; /* the common case: nothing left */
	if (cg->mode == SBX_CGROUP_V2 && !keep &&
	    sbx_write_file(dir, "cgroup.kill", "1") == 0) {
		/* the kernel kills every member, forks racing with it included */
	} else if (cg->mode == SBX_CGROUP_V1 && cg->dir[C_FREEZER] >= 0) {
		/* Frozen processes cannot fork: kill them all, then thaw so the
		   kill takes effect. */
		int fz = cg->dir[C_FREEZER];
		if (sbx_write_file(fz, "freezer.state", "FROZEN") == 0)
			wait_frozen(fz, "freezer.state", "FROZEN", until);
		for_each_pid(fz, kill_pid, keep);
		sbx_write_file(fz, "freezer.state", "THAWED");
	}
	/* Until empty: kill whatever is (still or newly) listed. */
	while ((n = for_each_pid(dir, kill_pid, keep)) > 0 && now_ms() < until) {
		struct timespec ts = { 0, 500000 };
		nanosleep(&ts, NULL);
	}
	if (n != 0) {
		last_pid = 0;
		for_each_pid(dir, note_pid, keep);
		char path[64], st[160] = "";
		snprintf(path, sizeof path, "/proc/%d/stat", (int)last_pid);
		read_at(AT_FDCWD, path, st, sizeof st);
		st[strcspn(st, "\n")] = '\0';
		sbx_set_error(err, errlen, "cgroup %s: %d processes still present after %d ms "
			"(one: %s)", cg->name, n, EMPTY_WAIT_MS, st[0] ? st : "gone");
		return -1;
	}
	return 0;
}

int sbx_cgroup_kill(struct sbx_cgroup *cg, char *err, size_t errlen)
{
	return cg ? cg_kill_all(cg, 0, err, errlen) : 0;
}

void cg_collect(struct sbx_cgroup *cg, const struct cg_baseline *base,
		struct cg_usage *u)
{
	uint64_t oom = 0, cpu = 0, user = 0, sys = 0;

	memset(u, 0, sizeof *u);
	if (cg->mode == SBX_CGROUP_V1) {
		char buf[256];
		if (read_fd(cg->f_oom, buf, sizeof buf) > 0 &&
		    keyed_u64(buf, "oom_kill", &oom) == 0)
			u->oom = oom > base->oom_kills;
		u->have_peak = read_u64_fd(cg->f_maxusage, &u->peak_bytes) == 0;
		u->have_cpu = read_cpu_v1(cg, &cpu, &user, &sys) == 0;
		u->tcp_over = cg_tcp_over(cg);
	} else {
		char buf[64];
		if (keyed_at(cg->dir[0], "memory.events", "oom_kill", &oom) == 0)
			u->oom = oom > base->oom_kills;
		if (cg->peak_fd >= 0 && read_fd(cg->peak_fd, buf, sizeof buf) > 0) {
			u->peak_bytes = strtoull(buf, NULL, 10);
			u->have_peak = true;
		}
		u->have_cpu = read_cpu_v2(cg, &cpu, &user, &sys) == 0;
	}
	if (u->have_cpu) {
		u->cpu_ns = cpu - (cpu >= base->cpu_ns ? base->cpu_ns : cpu);
		u->user_ns = user - (user >= base->user_ns ? base->user_ns : user);
		u->sys_ns = sys - (sys >= base->sys_ns ? base->sys_ns : sys);
	}
}
