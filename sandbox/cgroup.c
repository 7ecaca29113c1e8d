/*
 * cgroup.c - per-slot cgroups: the memory limit of a whole process tree
 * with a true memory_exceeded, the pids limit, CPU time and peak memory of
 * the tree, and killing everything that is left after a run.
 *
 * Which file does what.  This file finds what may be used and chooses the
 * version once (sbx_cgroup_init: v2 when our own cgroup delegates memory
 * and pids, else v1), owns the instance (its name, lock and the sweep of
 * dead ones), and implements sbx_cgroup_* and cg_* by dispatching to the
 * version's struct cg_ops (cgroup_impl.h), with what both share: the file
 * helpers and the loop that empties a cgroup.  cgroup_v1.c and cgroup_v2.c
 * hold everything that knows a version's files.
 *
 * How the versions differ.  v1 has one hierarchy per controller (memory,
 * pids, cpuacct, freezer), so a slot is a directory in each; the run's
 * child joins by writing "0" to each cgroup.procs; the peak and the OOM
 * count are per cgroup (reset by a write); socket buffers are charged to
 * memory.kmem.tcp, not to the memory limit, so they get a limit and a
 * watch of their own; emptying freezes the cgroup first when freezer is
 * there.  v2 has one tree: runboxd's own processes move to a leaf of their
 * own, a child is cloned straight into the slot (CLONE_INTO_CGROUP), the
 * peak is reset per open file (memory.peak), CPU time comes from cpu.stat
 * and cgroup.kill ends every member at once.
 *
 * Layout.  Everything lives beneath the cgroup this process runs in (read
 * from /proc/self/cgroup), the way a systemd service with Delegate=yes gets
 * it; nothing is made at a hierarchy's root and no process is moved out of
 * its own subtree.  Each hierarchy used gets <own>/<instance>, and beneath
 * it one cgroup per slot, <own>/<instance>/<slot> (the versions' files
 * give the details).
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
#include <errno.h>
#include <fcntl.h>
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
#include "sandbox/cgroup_impl.h"
#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

#define EMPTY_WAIT_MS 2000 /* longest wait for killed processes to go */
#define LOCK_WAIT_MS 2000  /* longest wait for a sweeper to let go of ours */

static struct {
	const struct cg_ops *ops; /* the version in force, or NULL */
	char name[128];           /* <prefix>.<pid namespace inode>.<pid> */
} G;

uint64_t cg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- small file helpers (cgroupfs files are short) ------------------ */

ssize_t cg_read_fd(int fd, char *buf, size_t len)
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

ssize_t cg_read_at(int dirfd, const char *file, char *buf, size_t len)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = cg_read_fd(fd, buf, len);
	close(fd);
	return n;
}

int cg_write_fd(int fd, const char *text)
{
	ssize_t n = pwrite(fd, text, strlen(text), 0);
	if (n < 0 && errno == ESPIPE)
		n = write(fd, text, strlen(text));
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

int cg_read_u64_fd(int fd, uint64_t *v)
{
	char buf[64];
	if (fd < 0 || cg_read_fd(fd, buf, sizeof buf) <= 0)
		return -1;
	*v = strtoull(buf, NULL, 10);
	return 0;
}

int cg_keyed_u64(const char *text, const char *key, uint64_t *v)
{
	size_t klen = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, klen) && l[klen] == ' ') {
			*v = strtoull(l + klen + 1, NULL, 10);
			return 0;
		}
	return -1;
}

int cg_keyed_at(int dirfd, const char *file, const char *key, uint64_t *v)
{
	char buf[2048];
	if (cg_read_at(dirfd, file, buf, sizeof buf) < 0)
		return -1;
	return cg_keyed_u64(buf, key, v);
}

/* ---- detection ------------------------------------------------------- */

int cg_own_path(const char *ctrl, char *out, size_t len)
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

int cg_mount_point(const char *ctrl, char *out, size_t len)
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

int cg_join_path(char *out, size_t len, const char *a, const char *b, const char *c)
{
	int n = snprintf(out, len, "%s%s%s%s%s", a, (b[0] == '/' || !b[0]) ? "" : "/",
			 strcmp(b, "/") ? b : "", c[0] ? "/" : "", c);
	return n > 0 && (size_t)n < len ? 0 : -1;
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
int cg_hold_instance(const char *path)
{
	uint64_t until = cg_now_ms() + LOCK_WAIT_MS;

	for (;;) {
		struct stat a, b;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -1;
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT && cg_now_ms() < until)
				continue; /* swept right after our mkdir */
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
			close(fd);
			if (cg_now_ms() >= until)
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
		if (cg_now_ms() >= until)
			return -1;
	}
}

/*
 * Remove the cgroups of dead instances beneath parent: siblings named like
 * ours whose lock we can take (see "Instances" above).  rmdir refuses a
 * cgroup that still has processes, so nothing running is touched either.
 */
void cg_remove_stale(const char *parent)
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
	if (!*prefix || strchr(prefix, '/') || strchr(prefix, '.') ||
	    strlen(prefix) > 64) {
		sbx_set_error(what, len, "bad cgroup instance prefix \"%s\"", prefix);
		return SBX_CGROUP_NONE;
	}
	/* A pid alone is not unique beside other PID namespaces. */
	snprintf(G.name, sizeof G.name, "%s.%llu.%d", prefix,
		 stat("/proc/self/ns/pid", &ns) == 0 ? (unsigned long long)ns.st_ino : 0ULL,
		 (int)getpid());
	if (cg_v2_ops.init(G.name, why2, sizeof why2) == 0) {
		G.ops = &cg_v2_ops;
		sbx_set_error(what, len, "%s", why2);
	} else if (cg_v1_ops.init(G.name, what, len) == 0) {
		G.ops = &cg_v1_ops;
	} else if (*why2) {
		size_t n = strlen(what);
		snprintf(what + n, len - n, "; %s", why2);
	}
	return G.ops ? G.ops->mode : SBX_CGROUP_NONE;
}

void sbx_cgroup_fini(void)
{
	if (G.ops)
		G.ops->fini();
	G.ops = NULL;
}

/* ---- one slot's cgroup ------------------------------------------------ */

void *cg_alloc(size_t size, const struct cg_ops *ops, const char *name, char *err,
	       size_t errlen)
{
	struct sbx_cgroup *cg = calloc(1, size);

	if (!cg) {
		sbx_set_error(err, errlen, "out of memory");
		return NULL;
	}
	cg->ops = ops;
	cg->procs_dir = -1;
	snprintf(cg->name, sizeof cg->name, "%s", name);
	return cg;
}

int cg_open_dir(const char *base, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX + 256];

	snprintf(path, sizeof path, "%s/%s", base, name);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		sbx_set_error(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		sbx_set_error(err, errlen, "open %s: %s", path, strerror(errno));
	return fd;
}

int sbx_cgroup_create(struct sbx_cgroup **out, const char *name, char *err,
		      size_t errlen)
{
	*out = NULL;
	if (!G.ops) {
		sbx_set_error(err, errlen, "no cgroup hierarchy is in use");
		return -1;
	}
	if (strchr(name, '/') || !*name || name[0] == '.') {
		sbx_set_error(err, errlen, "bad cgroup name \"%s\"", name);
		return -1;
	}
	*out = G.ops->create(name, err, errlen);
	return *out ? 0 : -1;
}

void sbx_cgroup_destroy(struct sbx_cgroup *cg)
{
	if (!cg)
		return;
	cg_kill_all(cg, 0, NULL, 0);
	cg->ops->destroy(cg);
}

/* Every slot cgroup has the memory controller: both versions' init refuse
   a tree without it, and create fails without its directory. */
bool cg_has_memory(const struct sbx_cgroup *cg)
{
	return cg != NULL;
}

int cg_prepare(struct sbx_cgroup *cg, const struct sbx_limits *limits,
	       struct cg_baseline *base, int join_fds[CG_MAX_JOIN], int *njoin,
	       int *v2_dirfd, pid_t keep, char *err, size_t errlen)
{
	memset(base, 0, sizeof *base);
	*njoin = 0;
	*v2_dirfd = -1;
	/* A slot is reused only once it is empty (but for its box's init). */
	if (cg_kill_all(cg, keep, err, errlen) < 0)
		return -1;
	const char *step = cg->ops->prepare(cg, limits, base, join_fds, njoin, v2_dirfd);
	if (step) {
		sbx_set_error(err, errlen, "cgroup %s: %s: %s", cg->name, step, strerror(errno));
		return -1;
	}
	return 0;
}

int64_t cg_cpu_ns(struct sbx_cgroup *cg, const struct cg_baseline *base)
{
	uint64_t cpu;
	if (cg->ops->read_cpu(cg, &cpu, NULL, NULL) < 0)
		return -1;
	return cpu >= base->cpu_ns ? (int64_t)(cpu - base->cpu_ns) : 0;
}

bool cg_watch_tcp(const struct sbx_cgroup *cg)
{
	return cg->ops->watch_tcp && cg->ops->watch_tcp(cg);
}

bool cg_tcp_over(struct sbx_cgroup *cg)
{
	return cg->ops->tcp_over && cg->ops->tcp_over(cg);
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
int cg_for_each_pid(int dir, void (*fn)(pid_t), pid_t keep)
{
	char buf[65536];
	int n = 0;
	ssize_t len = cg_read_at(dir, "cgroup.procs", buf, sizeof buf);
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

void cg_sigkill(pid_t pid)
{
	kill(pid, SIGKILL);
}

int cg_kill_all(struct sbx_cgroup *cg, pid_t keep, char *err, size_t errlen)
{
	int dir = cg->procs_dir;
	uint64_t until = cg_now_ms() + EMPTY_WAIT_MS;
	int n = cg_for_each_pid(dir, NULL, keep);

	if (n == 0)
		return 0; /* the common case: nothing left */
	if (cg->ops->kill_fast)
		cg->ops->kill_fast(cg, keep, until);
	/* Until empty: kill whatever is (still or newly) listed. */
	while ((n = cg_for_each_pid(dir, cg_sigkill, keep)) > 0 && cg_now_ms() < until) {
		struct timespec ts = { 0, 500000 };
		nanosleep(&ts, NULL);
	}
	if (n != 0) {
		last_pid = 0;
		cg_for_each_pid(dir, note_pid, keep);
		char path[64], st[160] = "";
		snprintf(path, sizeof path, "/proc/%d/stat", (int)last_pid);
		cg_read_at(AT_FDCWD, path, st, sizeof st);
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
	uint64_t cpu = 0, user = 0, sys = 0;

	memset(u, 0, sizeof *u);
	cg->ops->collect_memory(cg, base, u);
	u->have_cpu = cg->ops->read_cpu(cg, &cpu, &user, &sys) == 0;
	if (u->have_cpu) {
		u->cpu_ns = cpu - (cpu >= base->cpu_ns ? base->cpu_ns : cpu);
		u->user_ns = user - (user >= base->user_ns ? base->user_ns : user);
		u->sys_ns = sys - (sys >= base->sys_ns ? base->sys_ns : sys);
	}
}
