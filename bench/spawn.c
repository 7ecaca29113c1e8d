/*
 * bench/spawn - what it costs to start one program: bare, through runbox's
 * sandbox one isolation layer at a time, through the kernel primitives the
 * sandbox is made of, and through its peers; measured side by side in one
 * process.
 *
 *   bench/spawn [-m] [-n RUNS] [-O OSLO_PEER] [[--] PROGRAM [ARG]...]
 *	Per-run cost of PROGRAM (absolute; default /bin/true, 2000 runs;
 *	arguments for the oslo rows must not hold spaces).  A round runs
 *	every row once, RUNS rounds in all, so every row sees the same
 *	machine state: first the rows without a cgroup, in an order that
 *	rotates from round to round so that none always follows the same
 *	neighbour, then the rows with one, in table order (per_run() says
 *	why).  OSLO_PEER is bench/oslo_peer.py: it is started once, under
 *	Debian's /usr/bin/python3, and asked for one processutils.execute()
 *	per round.
 *
 *   bench/spawn [-m] -t SECONDS -j WORKERS [-s] [-C DIR] [-e NAME=VALUE]...
 *		 [-l LABEL] -- ARGV...
 *	Throughput: WORKERS processes each start ARGV in a loop for SECONDS,
 *	bare (fork, execve, waitpid) or, with -s, through the sandbox exactly
 *	as runboxd runs a program (each worker its own uid, cgroup and box:
 *	every namespace, the minimal root, seccomp; a 64 MiB tmpfs per run).
 *
 * Times are the wall time of one run as its caller sees it, from before the
 * fork to having the exit status in hand.  "CPU/run" is what the bench
 * process and everything it reaped used (getrusage), so it includes the
 * parent's side of the sandbox (pipes, poll, cgroup files); work the kernel
 * hands to its own threads (tearing a network namespace down) is not in
 * it, nor is a process that was not reaped up the chain to the bench
 * (bubblewrap's CPU is far below its wall time even for python3: take it as
 * a lower bound).  -m prints tab-separated lines for bench/bench.py
 * instead of a table.
 *
 * Not a test: the numbers belong to the machine that made them.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "service/workdir.h"

#define MAX_ROWS 24
#define MAX_WORKERS 64
#define MAX_ENV 32
#define WARMUP_ROUNDS 20
#define BENCH_UID 60999       /* outside runboxd's default slot uids */
#define WORKER_UID_BASE 60980 /* throughput workers: 60980 + worker */
#define LAT_CAP (1u << 20)    /* runs remembered per throughput worker */
#define COLD_GAP_MS 50        /* "idle" for the cold cgroup row */

static bool machine; /* -m */
static volatile sig_atomic_t stopping; /* SIGINT, SIGTERM or SIGHUP came */

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Ctrl-C ends the measuring early but still removes the cgroups, the
   temporary directories and the Python peer. */
static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const double *v, size_t n, double p)
{
	double exact = p / 100.0 * (double)n;
	size_t k = (size_t)exact;
	if ((double)k < exact)
		k++;
	return n ? v[k ? k - 1 : 0] : 0;
}

/* CPU time, in microseconds, of this process plus everything it reaped. */
static double cpu_us(void)
{
	struct rusage s, c;
	getrusage(RUSAGE_SELF, &s);
	getrusage(RUSAGE_CHILDREN, &c);
	return (double)(s.ru_utime.tv_sec + s.ru_stime.tv_sec + c.ru_utime.tv_sec +
			c.ru_stime.tv_sec) * 1e6 +
	       (double)(s.ru_utime.tv_usec + s.ru_stime.tv_usec + c.ru_utime.tv_usec +
			c.ru_stime.tv_usec);
}

/* The first executable NAME in the usual directories, or NULL. */
static char *find_tool(const char *name)
{
	static const char *const dirs[] = { "/usr/local/bin", "/usr/bin", "/bin",
					    "/usr/local/sbin", "/usr/sbin", "/sbin" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return strdup(path);
	}
	return NULL;
}

/* "exit 3", "signal 9": what a wait status that is not success means. */
static void explain_status(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "failed: exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "failed: killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "failed: wait status %#x", (unsigned)st);
}

static int wait_pid(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* ---- the rows ------------------------------------------------------- */

enum kind {
	K_BARE,        /* fork, execve, waitpid */
	K_POSIX_SPAWN, /* glibc: clone(CLONE_VM | CLONE_VFORK) */
	K_CLONE,       /* raw clone3 with namespace flags, optional setns */
	K_SANDBOX,     /* sbx_run() */
	K_COMMAND,     /* fork/exec of a peer's command line */
	K_OSLO,        /* one processutils.execute() in the Python peer */
};

struct row {
	const char *name;
	enum kind kind;
	char how[1024];         /* the exact command or setup, for the notes */
	struct sbx_spec spec;   /* K_SANDBOX */
	char **argv;            /* K_COMMAND: argv[0] is absolute */
	uint64_t clone_flags;   /* K_CLONE */
	int netns_fd;           /* K_CLONE: join this network namespace */
	const char *oslo_op;    /* K_OSLO: "limits" or "plain" */
	char skip[256];         /* why the row is not measured */
	double *t;
	size_t n;
	double cpu;             /* summed over the measured runs */
	bool cold;              /* K_SANDBOX: runs after COLD_GAP_MS without
				   any cgroup join */
	uint64_t workfs_bytes;  /* K_SANDBOX: a work tmpfs of this size made
				   and dropped per run, as runboxd does */
	unsigned idle_ms;       /* runs after this long without any run of
				   any row (a lone request), */
	int every;              /* in one round of this many only */
};

/* The program every row starts (argv, and argv joined with spaces), and
   its environment. */
static char **prog_argv;
static char prog_line[256];
static char *prog_envp[] = { "PATH=/usr/bin:/bin", NULL };

/* The Python peer: one process, asked for one run per line. */
static struct {
	pid_t pid;
	int to;
	FILE *from;
	char missing[200];
} oslo = { .pid = -1, .to = -1 };

static double run_bare(struct row *row)
{
	double t0 = now_us();
	pid_t pid = fork();
	if (pid == 0) {
		execve(prog_argv[0], prog_argv, prog_envp);
		_exit(127);
	}
	int st = pid < 0 ? -1 : wait_pid(pid);
	double t = now_us() - t0;
	if (st != 0) {
		explain_status(st, row->skip, sizeof row->skip);
		return -1;
	}
	return t;
}

static double run_posix_spawn(struct row *row)
{
	pid_t pid;
	double t0 = now_us();
	int rc = posix_spawn(&pid, prog_argv[0], NULL, NULL, prog_argv, prog_envp);
	int st = rc ? -1 : wait_pid(pid);
	double t = now_us() - t0;
	if (st != 0) {
		explain_status(st, row->skip, sizeof row->skip);
		return -1;
	}
	return t;
}

/* clone3 like fork, into new namespaces, nothing mounted: what the kernel
   charges for the namespaces themselves. */
static double run_clone(struct row *row)
{
	struct clone_args args = { .flags = row->clone_flags, .exit_signal = SIGCHLD };
	double t0 = now_us();
	long pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid == 0) {
		if (row->netns_fd >= 0 && setns(row->netns_fd, CLONE_NEWNET) < 0)
			_exit(126);
		execve(prog_argv[0], prog_argv, prog_envp);
		_exit(127);
	}
	int st = pid < 0 ? -1 : wait_pid((pid_t)pid);
	double t = now_us() - t0;
	if (pid < 0) {
		snprintf(row->skip, sizeof row->skip, "failed: clone3: %s", strerror(errno));
		return -1;
	}
	if (st != 0) {
		explain_status(st, row->skip, sizeof row->skip);
		return -1;
	}
	return t;
}

static double run_sandbox(struct row *row)
{
	struct sbx_result res;
	struct workdir wd = { .fd = -1, .mnt_fd = -1 };
	struct sbx_spec spec = row->spec;
	char err[256];
	double t0 = now_us();
	if (row->workfs_bytes) {
		if (workdir_create_tmpfs(&wd, spec.cwd, row->workfs_bytes, spec.uid,
					 spec.gid, err, sizeof err) < 0) {
			snprintf(row->skip, sizeof row->skip, "failed: %.200s", err);
			return -1;
		}
		spec.workfs_fd_plus1 = wd.mnt_fd + 1;
	}
	int rc = sbx_run(&spec, &res, err, sizeof err);
	workdir_remove(&wd, NULL, 0);
	if (rc < 0) {
		snprintf(row->skip, sizeof row->skip, "failed: %.200s", err);
		return -1;
	}
	double t = now_us() - t0;
	if (res.status != SBX_OK) {
		snprintf(row->skip, sizeof row->skip, "failed: run ended %s: %.180s",
			 sbx_status_name(res.status), res.message);
		sbx_result_free(&res);
		return -1;
	}
	sbx_result_free(&res);
	return t;
}

static double run_command(struct row *row)
{
	double t0 = now_us();
	pid_t pid = fork();
	if (pid == 0) {
		execve(row->argv[0], row->argv, prog_envp);
		_exit(127);
	}
	int st = pid < 0 ? -1 : wait_pid(pid);
	double t = now_us() - t0;
	if (st != 0) {
		explain_status(st, row->skip, sizeof row->skip);
		return -1;
	}
	return t;
}

/* Start the Python peer; it answers "ready" or "missing: why". */
static void oslo_start(const char *script)
{
	int to[2], from[2];
	char line[256];

	if (!script || access(script, R_OK) < 0) {
		snprintf(oslo.missing, sizeof oslo.missing, "not installed (no %s)",
			 script ? script : "oslo_peer.py given (-O)");
		return;
	}
	if (access("/usr/bin/python3", X_OK) < 0) {
		snprintf(oslo.missing, sizeof oslo.missing, "not installed (no /usr/bin/python3)");
		return;
	}
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0) {
		snprintf(oslo.missing, sizeof oslo.missing, "failed: pipe2: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* A clean environment: no PYTHONPATH, no pyenv shims. */
		char *envp[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL };
		char *argv[] = { "/usr/bin/python3", "-I", (char *)script, NULL };
		dup2(to[0], 0);
		dup2(from[1], 1);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	oslo.pid = pid;
	oslo.to = to[1];
	oslo.from = fdopen(from[0], "r");
	if (!oslo.from || !fgets(line, sizeof line, oslo.from)) {
		snprintf(oslo.missing, sizeof oslo.missing, "failed: the Python peer did not start");
		return;
	}
	line[strcspn(line, "\n")] = '\0';
	if (strcmp(line, "ready") != 0)
		snprintf(oslo.missing, sizeof oslo.missing, "%.190s", line);
}

static void oslo_stop(void)
{
	if (oslo.to >= 0)
		close(oslo.to);
	if (oslo.from)
		fclose(oslo.from);
	if (oslo.pid > 0)
		wait_pid(oslo.pid);
}

/* One run in the peer; it measures its own wall and CPU time. */
static double run_oslo(struct row *row, double *cpu)
{
	char line[512];
	double wall, used;

	dprintf(oslo.to, "%s %s\n", row->oslo_op, prog_line);
	if (!fgets(line, sizeof line, oslo.from)) {
		snprintf(row->skip, sizeof row->skip, "failed: the Python peer exited");
		return -1;
	}
	line[strcspn(line, "\n")] = '\0';
	if (sscanf(line, "ok %lf %lf", &wall, &used) != 2) {
		snprintf(row->skip, sizeof row->skip, "%.240s", line);
		return -1;
	}
	*cpu = used;
	return wall;
}

/* One measured run of a row: its wall time, or -1 with row->skip set. */
static double run_row(struct row *row, double *cpu)
{
	double c0 = cpu_us(), t;

	switch (row->kind) {
	case K_BARE: t = run_bare(row); break;
	case K_POSIX_SPAWN: t = run_posix_spawn(row); break;
	case K_CLONE: t = run_clone(row); break;
	case K_SANDBOX: t = run_sandbox(row); break;
	case K_COMMAND: t = run_command(row); break;
	case K_OSLO: return run_oslo(row, cpu);
	default: t = -1;
	}
	*cpu = cpu_us() - c0;
	return t;
}

/* ---- the sandbox's surroundings -------------------------------------- */

/*
 * What runboxd's runs see: a work root with a per-run directory in it
 * (config and socket directories beside it, as runboxd has them), and the
 * minimal root of the shipped config's allow-list.  The bench makes the
 * same shape under one temporary directory.
 */
static char *bench_binds[] = {
	"/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc/alternatives",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/etc/localtime", "/etc/ssl/certs", NULL,
};
static const struct sbx_root bench_root = { .binds = bench_binds, .ptys = 16 };

struct site {
	char root[64];
	char dirs[4][96]; /* conf, sock, work, work/run */
	bool made;
};

static int site_make(struct site *s)
{
	static const char *const names[] = { "conf", "sock", "work", "work/run" };
	static const mode_t modes[] = { 0755, 0755, 0711, 0777 };

	snprintf(s->root, sizeof s->root, "/tmp/runbox-bench.XXXXXX");
	if (!mkdtemp(s->root) || chmod(s->root, 0711) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		snprintf(s->dirs[i], sizeof s->dirs[i], "%s/%s", s->root, names[i]);
		if (mkdir(s->dirs[i], modes[i]) < 0 || chmod(s->dirs[i], modes[i]) < 0)
			return -1;
	}
	s->made = true;
	return 0;
}

static void site_remove(struct site *s)
{
	if (!s->made)
		return;
	for (int i = 3; i >= 0; i--)
		rmdir(s->dirs[i]);
	rmdir(s->root);
}

static const struct sbx_limits bench_limits = {
	.cpu_time_ms = 1000, .wall_time_ms = 5000,
	.memory_bytes = 256 << 20, .stack_bytes = 8 << 20,
	.processes = 64, .open_files = 64,
	.file_size_bytes = 1 << 20, .output_bytes = 65536,
};

/* The spec runboxd uses (service/execute.c run_step) with the defaults of
   conf/runboxd.json. */
static struct sbx_spec full_spec(char *const *argv, char *const *envp, const char *cwd,
				 uid_t uid, struct sbx_cgroup *cg)
{
	return (struct sbx_spec){
		.argv = argv, .envp = envp, .cwd = cwd, .rlimit_as = true,
		.set_ids = true, .uid = uid, .gid = uid, .cgroup = cg,
		.namespaces = SBX_NS_ALL, .root = &bench_root, .tmp_size = "64m",
		.seccomp = true, .limits = bench_limits,
	};
}

/* A network namespace made once, to join with setns(); -1 if impossible. */
static int make_netns(void)
{
	int orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd = -1;
	if (orig < 0)
		return -1;
	if (unshare(CLONE_NEWNET) == 0) {
		fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (setns(orig, CLONE_NEWNET) < 0) {
			perror("bench: setns back to the host network");
			exit(1);
		}
	}
	close(orig);
	return fd;
}

/* ---- per-run mode ----------------------------------------------------- */

static struct row *add_row(struct row *rows, int *n, const char *name, enum kind kind)
{
	if (*n >= MAX_ROWS) {
		fprintf(stderr, "bench: too many rows\n");
		exit(1);
	}
	struct row *r = &rows[(*n)++];
	memset(r, 0, sizeof *r);
	r->name = name;
	r->kind = kind;
	r->netns_fd = -1;
	return r;
}

static void add_sandbox_row(struct row *rows, int *n, const char *name,
			    struct sbx_spec spec, const char *how)
{
	struct row *r = add_row(rows, n, name, K_SANDBOX);
	r->spec = spec;
	snprintf(r->how, sizeof r->how, "%s", how);
}

/*
 * A peer's command line: its own words (words[0] is the tool's name, looked
 * up in the usual directories), then the program's argv.
 */
static void add_command_row(struct row *rows, int *n, const char *name,
			    char *const *words)
{
	struct row *r = add_row(rows, n, name, K_COMMAND);
	size_t nw = 0, np = 0, len = 0;

	while (words[nw])
		nw++;
	while (prog_argv[np])
		np++;
	char *path = find_tool(words[0]);
	if (!path) {
		snprintf(r->skip, sizeof r->skip, "not installed (no %s)", words[0]);
		return;
	}
	if (!(r->argv = calloc(nw + np + 1, sizeof *r->argv))) {
		perror("bench: calloc");
		exit(1);
	}
	r->argv[0] = path;
	memcpy(r->argv + 1, words + 1, (nw - 1) * sizeof *words);
	memcpy(r->argv + nw, prog_argv, np * sizeof *prog_argv);
	for (char **a = r->argv; *a; a++)
		len += (size_t)snprintf(r->how + len, len < sizeof r->how ? sizeof r->how - len : 0,
					"%s%s", a == r->argv ? "" : " ", *a);
	/* The tools a chain execs by absolute path must be there too. */
	for (char **a = r->argv + 1; *a && *a != prog_argv[0]; a++)
		if ((*a)[0] == '/' && access(*a, X_OK) < 0)
			snprintf(r->skip, sizeof r->skip, "not installed (no %s)", *a);
}

static void print_row(const struct row *r, double base)
{
	if (r->skip[0] || r->n == 0) {
		if (machine)
			printf("run\t%s\t0\t\t\t\t\t\t%s\t%s\n", r->name,
			       r->skip[0] ? r->skip : "no runs", r->how);
		else
			printf("%-52s %s\n", r->name, r->skip[0] ? r->skip : "no runs");
		return;
	}
	double med = percentile(r->t, r->n, 50), p90 = percentile(r->t, r->n, 90);
	double p99 = percentile(r->t, r->n, 99), cpu = r->cpu / (double)r->n;
	double ratio = base > 0 ? med / base : 1.0;
	if (machine)
		printf("run\t%s\t%zu\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\tok\t%s\n", r->name, r->n,
		       med, p90, p99, cpu, ratio, r->how);
	else
		printf("%-52s %8.0f %8.0f %8.0f %8.0f %7.2fx\n", r->name, med, p90, p99,
		       cpu, ratio);
}

static int per_run(int n, const char *oslo_script)
{
	struct row rows[MAX_ROWS];
	int nrows = 0;
	bool root = geteuid() == 0;
	struct sbx_cgroup *cg = NULL, *box_cg = NULL;
	struct sbx_box *box = NULL;
	char what[512] = "not root", err[256];
	struct site site = { 0 };

	if (site_make(&site) < 0) {
		perror("bench: temporary directory");
		return 1;
	}
	const char *cwd = site.dirs[3];
	if (root) {
		if (sbx_cgroup_init("runbox-bench", what, sizeof what) != SBX_CGROUP_NONE &&
		    sbx_cgroup_create(&cg, "bench", err, sizeof err) < 0) {
			snprintf(what, sizeof what, "%s", err);
			cg = NULL;
		}
	}

	/* The baseline and what the kernel offers for less. */
	struct row *r = add_row(rows, &nrows, "bare fork+execve+waitpid", K_BARE);
	snprintf(r->how, sizeof r->how, "fork(); execve(%s); waitpid()", prog_line);
	r = add_row(rows, &nrows, "posix_spawn (CLONE_VM + CLONE_VFORK)", K_POSIX_SPAWN);
	snprintf(r->how, sizeof r->how, "glibc posix_spawn(%s); waitpid()", prog_line);
	if (root) {
		const uint64_t ns4 = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
		r = add_row(rows, &nrows, "clone3 + new PID/mnt/IPC/UTS ns, no mounts", K_CLONE);
		r->clone_flags = ns4;
		snprintf(r->how, sizeof r->how, "clone3(CLONE_NEWPID|NEWNS|NEWIPC|NEWUTS); execve; waitpid");
		r = add_row(rows, &nrows, "  same + new network ns", K_CLONE);
		r->clone_flags = ns4 | CLONE_NEWNET;
		snprintf(r->how, sizeof r->how, "clone3(... | CLONE_NEWNET); execve; waitpid");
		r = add_row(rows, &nrows, "  same + setns() into a network ns made once", K_CLONE);
		r->clone_flags = ns4;
		r->netns_fd = make_netns();
		snprintf(r->how, sizeof r->how, "clone3(4 namespaces); setns(fd, CLONE_NEWNET) in the child; execve; waitpid");
		if (r->netns_fd < 0)
			snprintf(r->skip, sizeof r->skip, "failed: unshare(CLONE_NEWNET): %s",
				 strerror(errno));
	}

	/* runbox's sandbox, one layer at a time. */
	struct sbx_spec s = {
		.argv = prog_argv, .envp = prog_envp, .cwd = cwd, .rlimit_as = true,
		.limits = bench_limits,
	};
	add_sandbox_row(rows, &nrows, "runbox: session, rlimits, pipes, pidfd", s,
			"sbx_run: clone3(CLONE_PIDFD), setsid, 7 rlimits, stdin/stdout/stderr/error pipes, poll loop");
	if (root) {
		s.set_ids = true;
		s.uid = s.gid = BENCH_UID;
		add_sandbox_row(rows, &nrows, "  + own uid/gid", s, "+ empty capability bounding set, setgroups/setresgid/setresuid, PR_SET_PDEATHSIG");
		if (cg) {
			s.cgroup = cg;
			add_sandbox_row(rows, &nrows, "  + cgroup (memory, pids, cpu)", s, what);
		}
		s.namespaces = SBX_NS_PID | SBX_NS_MNT | SBX_NS_IPC | SBX_NS_UTS;
		s.root = &bench_root;
		add_sandbox_row(rows, &nrows, "  + PID/mount/IPC/UTS/cgroup ns, minimal root", s,
				"+ clone3 new PID/mount/IPC/UTS ns, cgroup ns; init reaps; a tmpfs root with the allow-list bound read-only, /etc files, /dev, /proc, /tmp, /dev/shm, work dir moved in, pivot_root; hostname");
		s.namespaces |= SBX_NS_NET;
		add_sandbox_row(rows, &nrows, "  + network namespace (loopback up)", s,
				"+ CLONE_NEWNET, lo brought up");
		s.seccomp = true;
		add_sandbox_row(rows, &nrows, "  + seccomp", s,
				"+ PR_SET_NO_NEW_PRIVS, seccomp deny list");
		add_sandbox_row(rows, &nrows, "  + own 64 MiB tmpfs (all of it built per run)", s,
				"+ fsopen/fsconfig/fsmount a tmpfs per run (disk_bytes), work/tmp/shm in it, bound at cwd, /tmp, /dev/shm; dropped after");
		rows[nrows - 1].workfs_bytes = 64u << 20;
		if (cg) {
			add_sandbox_row(rows, &nrows, "  the same, first run after 50 ms idle", s,
					"the row above, run after 50 ms without any cgroup join (a lone request)");
			rows[nrows - 1].cold = true;
			rows[nrows - 1].workfs_bytes = 64u << 20;
		}
		/* The same isolation as a fork in a long-lived box, with a
		   cgroup of its own (the rows above empty theirs per run). */
		struct sbx_spec b = s;
		b.box_dir = "/box";
		if (cg && sbx_cgroup_create(&box_cg, "bench-box", err, sizeof err) < 0) {
			fprintf(stderr, "bench: %s\n", err);
			box_cg = NULL;
		}
		b.cgroup = box_cg;
		if (sbx_box_create(&box, &b, err, sizeof err) < 0) {
			fprintf(stderr, "bench: %s\n", err);
			box = NULL;
		}
		b.box = box;
		for (int idle = 0; idle < 2; idle++) {
			add_sandbox_row(rows, &nrows, idle ?
					"  the box, first run after 1 s idle" :
					"  the same in the slot's long-lived box (= what runboxd runs)", b,
					idle ? "the row above, each run after 1 s without any run (one round in 25)" :
					"a fork in a box made once (sbx_box_create: the namespaces, root and cgroup above); per run the run's 64 MiB tmpfs is handed over by SCM_RIGHTS and mounted at /box, /tmp, /dev/shm, a fresh IPC namespace, the box cleaned before the answer");
			rows[nrows - 1].workfs_bytes = 64u << 20;
			if (idle) {
				rows[nrows - 1].idle_ms = 1000;
				rows[nrows - 1].every = 25;
			}
			if (!box)
				snprintf(rows[nrows - 1].skip, sizeof rows[nrows - 1].skip,
					 "failed: no box");
		}
	}

	/* Peers, as installed from Debian. */
	char uidopt[16], gidopt[16];
	snprintf(uidopt, sizeof uidopt, "%d", BENCH_UID);
	snprintf(gidopt, sizeof gidopt, "%d", BENCH_UID);
	char *bwrap_words[] = {
		"bwrap", "--unshare-all", "--die-with-parent", "--new-session",
		"--ro-bind", "/", "/", "--proc", "/proc", "--tmpfs", "/tmp",
		"--tmpfs", "/dev/shm", "--uid", uidopt, "--gid", gidopt,
		"--cap-drop", "ALL", "--chdir", "/tmp", NULL };
	add_command_row(rows, &nrows, "bubblewrap (bwrap --unshare-all ...)", bwrap_words);

	char *prlimit_words[] = {
		"timeout", "-s", "KILL", "5", "/usr/bin/prlimit", "--cpu=1:2",
		"--as=268435456", "--stack=8388608", "--nproc=64", "--nofile=64",
		"--fsize=1048576", "--core=0", NULL };
	add_command_row(rows, &nrows, "timeout + prlimit (coreutils, util-linux)",
			prlimit_words);

	if (root) {
		char *unshare_words[] = {
			"timeout", "-s", "KILL", "5", "/usr/bin/unshare", "--pid", "--fork",
			"--kill-child", "--mount", "--mount-proc", "--net", "--ipc", "--uts",
			"/usr/bin/setpriv", "--reuid", uidopt, "--regid", gidopt,
			"--clear-groups", "/usr/bin/prlimit", "--cpu=1:2", "--as=268435456",
			"--stack=8388608", "--nproc=64", "--nofile=64", "--fsize=1048576",
			"--core=0", NULL };
		add_command_row(rows, &nrows, "timeout + unshare + setpriv + prlimit",
				unshare_words);
	}

	oslo_start(oslo_script);
	r = add_row(rows, &nrows, "oslo processutils.execute, no limits", K_OSLO);
	r->oslo_op = "plain";
	snprintf(r->how, sizeof r->how, "/usr/bin/python3: processutils.execute('%s', timeout=5)",
		 prog_line);
	snprintf(r->skip, sizeof r->skip, "%s", oslo.missing);
	r = add_row(rows, &nrows, "oslo processutils.execute + ProcessLimits", K_OSLO);
	r->oslo_op = "limits";
	snprintf(r->how, sizeof r->how,
		 "/usr/bin/python3: processutils.execute('%s', timeout=5, prlimit=ProcessLimits(address_space=256 MiB, cpu_time=1, stack_size=8 MiB, number_processes=64, number_files=64, file_size=1 MiB, core_file_size=0))",
		 prog_line);
	snprintf(r->skip, sizeof r->skip, "%s", oslo.missing);

	for (int i = 0; i < nrows; i++)
		if (!(rows[i].t = calloc((size_t)n, sizeof(double)))) {
			perror("bench: calloc");
			return 1;
		}

	/*
	 * A round: the rows without a cgroup in rotating order, then the ones
	 * with a cgroup in table order, the cold row first.  Joining a cgroup
	 * v1 takes a global lock for writing (cgroup_threadgroup_rwsem), and
	 * the first writer after a quiet spell waits for an RCU grace period;
	 * writers close behind it do not.  So the cold row (the first join
	 * after COLD_GAP_MS without one) shows what a lone request pays, and
	 * the layer rows, each right after another join, what runs cost on a
	 * busy service.  Rotating them would spread the grace period over
	 * whichever row happened to come first.
	 */
	double last_cg = 0, last_run = 0;
	for (int round = -WARMUP_ROUNDS; round < n && !stopping; round++) {
		int order[MAX_ROWS], k = 0, nplain = 0;
		for (int i = 0; i < nrows; i++)
			if (!rows[i].spec.cgroup)
				nplain++;
		for (int i = 0; i < nplain; i++) {
			int skipped = (round + WARMUP_ROUNDS + i) % nplain;
			for (int j = 0; j < nrows; j++)
				if (!rows[j].spec.cgroup && skipped-- == 0)
					order[k++] = j;
		}
		for (int i = 0; i < nrows; i++)
			if (rows[i].cold)
				order[k++] = i;
		for (int i = 0; i < nrows; i++)
			if (rows[i].spec.cgroup && !rows[i].cold)
				order[k++] = i;
		for (int i = 0; i < k; i++) {
			struct row *row = &rows[order[i]];
			double cpu = 0;
			if (row->skip[0])
				continue;
			if (row->cold) {
				double quiet = last_cg + COLD_GAP_MS * 1000.0 - now_us();
				if (quiet > 0)
					usleep((useconds_t)quiet);
			}
			if (row->idle_ms) {
				if (round < 0 || round % row->every)
					continue;
				double quiet = last_run + row->idle_ms * 1000.0 - now_us();
				if (quiet > 0)
					usleep((useconds_t)quiet);
			}
			double t = run_row(row, &cpu);
			last_run = now_us();
			if (row->spec.cgroup)
				last_cg = now_us();
			if (t < 0 || round < 0)
				continue;
			row->t[row->n++] = t;
			row->cpu += cpu;
		}
	}

	for (int i = 0; i < nrows; i++)
		qsort(rows[i].t, rows[i].n, sizeof(double), cmp_double);
	double base = rows[0].n ? percentile(rows[0].t, rows[0].n, 50) : 0;
	if (machine) {
		printf("info\tprogram\t%s\n", prog_line);
		printf("info\truns\t%d\n", n);
		printf("info\tcgroup\t%s\n", cg ? what : root ? "none" : "not root");
		printf("info\tseccomp\t%s\n", sbx_seccomp_status() ? sbx_seccomp_status() : "on");
	} else {
		printf("per run of %s, %d runs of each row, interleaved (microseconds)%s\n",
		       prog_line, n,
		       cg ? "" : root ? " [no cgroup available]" : " [not root: no uid, cgroup, namespaces]");
		printf("%-52s %8s %8s %8s %8s %8s\n", "", "median", "p90", "p99", "CPU/run",
		       "ratio");
	}
	for (int i = 0; i < nrows; i++) {
		print_row(&rows[i], base);
		free(rows[i].t);
		if (rows[i].kind == K_COMMAND && rows[i].argv) {
			free(rows[i].argv[0]);
			free(rows[i].argv);
		}
		if (rows[i].netns_fd >= 0)
			close(rows[i].netns_fd);
	}
	oslo_stop();
	sbx_box_destroy(box);
	sbx_cgroup_destroy(box_cg);
	sbx_cgroup_destroy(cg);
	sbx_cgroup_fini();
	site_remove(&site);
	return 0;
}

/* ---- throughput mode --------------------------------------------------- */

struct worker_share {
	double end;      /* when the worker finished its last run */
	size_t runs;
	char failed[256];
	float lat[];     /* LAT_CAP run times, microseconds */
};

static size_t share_size(void)
{
	return sizeof(struct worker_share) + LAT_CAP * sizeof(float);
}

/* Copy the regular files of the directory from into the directory fd to. */
static int copy_files(const char *from, int to)
{
	DIR *d = opendir(from);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -1;
	while (rc == 0 && (de = readdir(d))) {
		char buf[65536];
		ssize_t n;
		int in = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out;
		struct stat st;
		if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (in >= 0)
				close(in);
			continue;
		}
		out = openat(to, de->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			     0644);
		if (out < 0)
			rc = -1;
		while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n)
				rc = -1;
		close(in);
		if (out >= 0)
			close(out);
	}
	closedir(d);
	return rc;
}

_Noreturn static void worker(struct worker_share *ws, double deadline, int go,
			     char *const *argv, char *const *envp, const char *cwd,
			     const struct sbx_spec *spec)
{
	struct sbx_box *box = NULL;
	char c, err[256];

	/* As runboxd: the worker's slot has a box, made once (by runboxd's
	   master; here by the worker itself), and each run a fresh 64 MiB
	   tmpfs handed to it. */
	if (spec && sbx_box_create(&box, spec, err, sizeof err) < 0) {
		snprintf(ws->failed, sizeof ws->failed, "failed: %.200s", err);
		spec = NULL;
		deadline = 0;
	}
	while (read(go, &c, 1) < 0 && errno == EINTR)
		;
	while (now_us() < deadline && !stopping) {
		double t0 = now_us(), t;
		if (spec) {
			struct sbx_result res;
			struct sbx_spec s = *spec;
			struct workdir wd = { .fd = -1, .mnt_fd = -1 };
			if (workdir_create_tmpfs(&wd, s.cwd, 64u << 20, s.uid, s.gid, err,
						 sizeof err) < 0) {
				snprintf(ws->failed, sizeof ws->failed, "failed: %.200s", err);
				break;
			}
			s.workfs_fd_plus1 = wd.mnt_fd + 1;
			s.box = box;
			/* The program's files, as runboxd writes a request's. */
			if (cwd && copy_files(cwd, wd.fd) < 0) {
				snprintf(ws->failed, sizeof ws->failed, "failed: copying %s: %s",
					 cwd, strerror(errno));
				workdir_remove(&wd, NULL, 0);
				break;
			}
			int rc = sbx_run(&s, &res, err, sizeof err);
			workdir_remove(&wd, NULL, 0);
			if (rc < 0) {
				snprintf(ws->failed, sizeof ws->failed, "failed: %.200s", err);
				break;
			}
			t = now_us() - t0;
			if (res.status != SBX_OK) {
				snprintf(ws->failed, sizeof ws->failed, "failed: run ended %s: %.180s",
					 sbx_status_name(res.status), res.message);
				sbx_result_free(&res);
				break;
			}
			sbx_result_free(&res);
		} else {
			pid_t pid = fork();
			if (pid == 0) {
				if (cwd && chdir(cwd) < 0)
					_exit(126);
				execve(argv[0], argv, envp);
				_exit(127);
			}
			int st = pid < 0 ? -1 : wait_pid(pid);
			t = now_us() - t0;
			if (st != 0) {
				explain_status(st, ws->failed, sizeof ws->failed);
				break;
			}
		}
		if (ws->runs < LAT_CAP)
			ws->lat[ws->runs] = (float)t;
		ws->runs++;
	}
	ws->end = now_us();
	sbx_box_destroy(box);
	_exit(0);
}

static int throughput(double seconds, int workers, bool sandboxed, char *const *argv,
		      char *const *envp, const char *cwd, const char *label)
{
	struct sbx_cgroup *cgs[MAX_WORKERS] = { NULL };
	struct sbx_spec specs[MAX_WORKERS];
	struct site site = { 0 };
	char what[512] = "", err[256], fail[256] = "";
	pid_t pids[MAX_WORKERS];
	int go[2];

	if (sandboxed) {
		if (geteuid() != 0) {
			fprintf(stderr, "bench: -s needs root\n");
			return 1;
		}
		if (site_make(&site) < 0) {
			perror("bench: temporary directory");
			return 1;
		}
		bool have_cg = sbx_cgroup_init("runbox-bench", what, sizeof what) != SBX_CGROUP_NONE;
		for (int w = 0; w < workers; w++) {
			char name[16];
			snprintf(name, sizeof name, "w%d", w);
			if (have_cg && sbx_cgroup_create(&cgs[w], name, err, sizeof err) < 0)
				cgs[w] = NULL;
			specs[w] = full_spec(argv, envp, cwd ? cwd : site.dirs[3],
					     (uid_t)(WORKER_UID_BASE + w), cgs[w]);
			specs[w].box_dir = "/box";
		}
	}
	size_t sz = share_size();
	char *mem = mmap(NULL, sz * (size_t)workers, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED || pipe2(go, O_CLOEXEC) < 0) {
		perror("bench: mmap/pipe2");
		return 1;
	}
	fflush(stdout);
	double cpu0 = cpu_us();
	double start = now_us() + 20000; /* after every worker is forked */
	double deadline = start + seconds * 1e6;
	for (int w = 0; w < workers; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			close(go[1]);
			worker((struct worker_share *)(mem + sz * (size_t)w), deadline, go[0],
			       argv, envp, cwd, sandboxed ? &specs[w] : NULL);
		}
		if (pids[w] < 0) {
			perror("bench: fork");
			return 1;
		}
	}
	close(go[0]);
	double pause = start - now_us();
	if (pause > 0)
		usleep((useconds_t)pause);
	start = now_us();
	close(go[1]); /* every worker starts now */

	size_t total = 0, kept = 0;
	double end = start;
	for (int w = 0; w < workers; w++) {
		struct worker_share *ws = (struct worker_share *)(mem + sz * (size_t)w);
		wait_pid(pids[w]);
		total += ws->runs;
		kept += ws->runs < LAT_CAP ? ws->runs : LAT_CAP;
		if (ws->end > end)
			end = ws->end;
		if (ws->failed[0] && !fail[0])
			snprintf(fail, sizeof fail, "%s", ws->failed);
	}
	/* The workers and everything they reaped, per run. */
	double cpu_run = total ? (cpu_us() - cpu0) / (double)total : 0;
	double *lat = calloc(kept ? kept : 1, sizeof *lat);
	size_t k = 0;
	for (int w = 0; w < workers; w++) {
		struct worker_share *ws = (struct worker_share *)(mem + sz * (size_t)w);
		for (size_t i = 0; i < ws->runs && i < LAT_CAP; i++)
			lat[k++] = ws->lat[i];
	}
	qsort(lat, k, sizeof *lat, cmp_double);
	double secs = (end - start) / 1e6, rate = secs > 0 ? (double)total / secs : 0;
	const char *status = fail[0] ? fail : "ok";
	if (machine)
		printf("rate\t%s\t%d\t%zu\t%.3f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%.1f\n", label,
		       workers, total, secs, rate, percentile(lat, k, 50),
		       percentile(lat, k, 90), percentile(lat, k, 99), status, cpu_run);
	else
		printf("%s, %d worker%s: %zu runs in %.2f s = %.0f runs/s; per run p50 %.0f, p90 %.0f, p99 %.0f us, CPU %.0f us%s%s\n",
		       label, workers, workers == 1 ? "" : "s", total, secs, rate,
		       percentile(lat, k, 50), percentile(lat, k, 90), percentile(lat, k, 99),
		       cpu_run, fail[0] ? "; " : "", fail[0] ? fail : "");
	free(lat);
	munmap(mem, sz * (size_t)workers);
	if (sandboxed) {
		for (int w = 0; w < workers; w++)
			sbx_cgroup_destroy(cgs[w]);
		sbx_cgroup_fini();
		site_remove(&site);
	}
	return fail[0] ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench/spawn [-m] [-n RUNS] [-O OSLO_PEER] [[--] PROGRAM [ARG]...]\n"
		"       bench/spawn [-m] -t SECONDS -j WORKERS [-s] [-C DIR] [-e NAME=VALUE]...\n"
		"                   [-l LABEL] -- ARGV...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int n = 2000, workers = 0, c, nenv = 0;
	double seconds = 0;
	bool sandboxed = false;
	const char *oslo_script = NULL, *cwd = NULL, *label = NULL;
	char *envp[MAX_ENV + 1] = { NULL };

	while ((c = getopt(argc, argv, "mn:O:t:j:sC:e:l:")) != -1) {
		switch (c) {
		case 'm': machine = true; break;
		case 'n': n = atoi(optarg); break;
		case 'O': oslo_script = optarg; break;
		case 't': seconds = atof(optarg); break;
		case 'j': workers = atoi(optarg); break;
		case 's': sandboxed = true; break;
		case 'C': cwd = optarg; break;
		case 'e':
			if (nenv == MAX_ENV || !strchr(optarg, '='))
				usage();
			envp[nenv++] = optarg;
			break;
		case 'l': label = optarg; break;
		default: usage();
		}
	}
	/* Output goes to a pipe under bench.py: keep lines whole and in order
	   with the children's. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	catch_stop_signals();

	if (seconds > 0) {
		if (workers < 1 || workers > MAX_WORKERS || optind >= argc)
			usage();
		if (!nenv)
			envp[nenv++] = "PATH=/usr/bin:/bin";
		if (!label)
			label = argv[optind];
		return throughput(seconds, workers, sandboxed, argv + optind, envp, cwd, label);
	}
	if (n < 10)
		n = 10;
	static char *true_argv[] = { "/bin/true", NULL };
	prog_argv = optind < argc ? argv + optind : true_argv;
	if (prog_argv[0][0] != '/') {
		fprintf(stderr, "bench: PROGRAM must be an absolute path\n");
		return 2;
	}
	for (size_t i = 0, len = 0; prog_argv[i]; i++)
		len += (size_t)snprintf(prog_line + len,
					len < sizeof prog_line ? sizeof prog_line - len : 0,
					"%s%s", i ? " " : "", prog_argv[i]);
	return per_run(n, oslo_script);
}
