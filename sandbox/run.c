/*
 * run.c - sbx_run(): one run of one program, from clone to reaping.
 *
 * Theory of operation
 * -------------------
 * Processes.  The calling thread (the "parent") clones one child with
 * clone3(CLONE_PIDFD) and exit_signal 0: the kernel hands back a pidfd
 * atomically, no SIGCHLD is ever sent (the host's SIGCHLD disposition is
 * irrelevant and untouched) and only this thread ever reaps this child, by
 * its pid.  The child (child.c) makes itself a session and process group
 * leader, resets signals, applies rlimits, drops credentials and execs.
 * Everything the program starts stays in that process group unless it calls
 * setsid(); the group is killed as a whole.
 *
 * Descriptors, all close-on-exec in the parent:
 *   in[2]   stdin pipe;  the parent writes spec->stdin_data, non-blocking,
 *           then closes its end so the program sees EOF.
 *   out[2]  stdout pipe; read non-blocking into a buffer capped at
 *           limits.output_bytes.
 *   err[2]  stderr pipe; likewise.
 *           With merge_output, err[1] is a second descriptor of out[1]
 *           and err[0] does not exist: one pipe holds both streams.
 *   errp[2] error pipe; the child writes {step, errno} if a setup step
 *           fails.  EOF without data means execve succeeded.
 *   pidfd   readable when the child has exited.
 *   cancel  the caller's cancel_fd, polled for a hang-up only.
 *
 * The loop polls the pidfd and the three pipes with a timeout that is the
 * nearer of the wall deadline and the next CPU sample (at most every 50 ms,
 * sooner when the CPU limit is close; on cgroup v1 the socket-buffer
 * counter is sampled as often, since passing it only stalls the sender).
 * A run ends in one of these ways:
 *   - the main process exits or is killed: the whole group is SIGKILLed
 *     (background children do not outlive the run), the pipes are drained
 *     for at most DRAIN_MS (a setsid'd grandchild holding stdout open
 *     cannot make the run wait), the child is reaped with wait4;
 *   - the wall deadline passes, the sampled CPU time passes the limit, the
 *     socket buffers pass the memory limit (v1) or a stream passes its
 *     cap: the group is SIGKILLed, the kill reason is remembered, and the
 *     run ends as above when the main process is gone;
 *   - the cancel descriptor's peer hangs up, or on_output refuses bytes:
 *     likewise, and the status is cancelled.
 * Live output (on_output): the captured buffers are the queue.  sent[]
 * marks how much of each the caller has had; bytes wait there at most
 * SBX_OUTPUT_DELAY_MS (the poll timeout includes that deadline), so a
 * program writing a byte at a time costs one call per stream per delay,
 * not one per byte.  What is left is delivered after the drain.
 * The status is decided once, at the end, from the kill reason, the wait
 * status and the usage: a limit status wins over the signal it caused.
 *
 * SIGPIPE.  Writing stdin to a program that has exited raises SIGPIPE in
 * this thread.  It stays blocked in the thread for the duration of the run
 * and a SIGPIPE raised by our own write is consumed before returning, so
 * the host needs no process-wide SIG_IGN.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

#define CPU_SAMPLE_MS 50 /* longest gap between two CPU samples */
#define DRAIN_MS 50      /* longest wait for output after the main exit */
#define READ_CHUNK 65536

/* A long-lived box (box.c): its init, its socket, what it was made with. */
struct sbx_box {
	pid_t pid;
	int pidfd;
	int sock;
	struct sbx_cgroup *cg;
	unsigned ns;
	bool broken; /* a request went wrong half-way: not to be used again */
};

enum kill_reason { KILL_NONE, KILL_WALL, KILL_CPU, KILL_OUTPUT, KILL_CANCEL, KILL_TCP };

/* Everything one run holds; run_cleanup() is its only releaser. */
struct run {
	const struct sbx_spec *spec;
	struct child_plan plan;
	char **paths;
	int in[2], out[2], err[2], errp[2];
	int pidfd;
	pid_t pid;
	bool reaped;
	const char *in_data;
	size_t in_left;
	uint64_t start_ns;
	clockid_t cpu_clock;
	bool have_cpu_clock;
	enum kill_reason reason;
	uint64_t killed_at_cpu_ms;
	int output_stream; /* 1 stdout, 2 stderr: the one that passed its cap */
	bool tcp_over;     /* v1: socket buffers passed the memory limit */
	struct sbx_result *res;
	struct sbx_cgroup *cg;     /* the slot's cgroup, or NULL */
	struct cg_baseline cg_base;
	int join_fds[CG_MAX_JOIN]; /* owned by the cgroup, not the run */
	int njoin;
	int cg_dirfd;              /* v2: CLONE_INTO_CGROUP target */
	int statp[2];              /* PID namespace: the program's wait status */
	int userns[2];             /* user namespace: "maps written" pipe */
	int usready[2];            /* and "ready for the maps" pipe */
	struct root_plan root;     /* SBX_NS_MNT: the new root, planned */
	char tmp_opts[64];
	int cancel_fd;             /* the caller's, watched; -1 once fired */
	size_t sent[2];            /* bytes of out, err given to on_output */
	uint64_t waiting_since[2]; /* when the oldest byte not given was
				      read; 0 when none waits */
	bool output_refused;       /* on_output returned -1 */
	struct sbx_box *box;       /* the run is a request to this box */
	struct sbx_spec box_spec;  /* then: the spec with the box's isolation
				      (its root the box's, already built: only
				      explain_denied reads it) */
	bool box_clean;            /* the box said it is clean again */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void free_paths(char **paths)
{
	if (!paths)
		return;
	for (char **p = paths; *p; p++)
		free(*p);
	free(paths);
}

/*
 * execve candidates for argv[0]: itself when it holds a '/', otherwise each
 * directory of the PATH in the program's own environment.  No PATH there
 * means nothing to search: the run fails with ENOENT, it never falls back
 * to the service's PATH.
 */
static char **build_paths(const struct sbx_spec *spec)
{
	const char *name = spec->argv[0];
	const char *path = NULL;
	char **paths;
	size_t n = 0, cap = 1;

	if (strchr(name, '/')) {
		paths = calloc(2, sizeof *paths);
		if (!paths || !(paths[0] = strdup(name))) {
			free(paths);
			return NULL;
		}
		return paths;
	}
	for (char *const *e = spec->envp; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	if (path)
		for (const char *c = path; *c; c++)
			cap += *c == ':';
	paths = calloc(cap + 1, sizeof *paths);
	if (!paths)
		return NULL;
	for (const char *dir = path; dir;) {
		const char *end = strchr(dir, ':');
		size_t len = end ? (size_t)(end - dir) : strlen(dir);
		/* An empty entry means the current directory, as in execvp. */
		if (asprintf(&paths[n], "%.*s%s%s", (int)len, dir,
			     len ? "/" : "", name) < 0) {
			paths[n] = NULL;
			free_paths(paths);
			return NULL;
		}
		n++;
		dir = end ? end + 1 : NULL;
	}
	return paths;
}

static void add_rlimit(struct child_plan *plan, int resource, int step,
		       uint64_t soft, uint64_t hard)
{
	struct child_rlimit *r = &plan->rlimits[plan->n_rlimits++];
	r->resource = resource;
	r->step = step;
	r->lim.rlim_cur = soft;
	r->lim.rlim_max = hard;
}

/*
 * RLIMIT_CPU is a backstop in whole seconds (soft = ceil(ms/1000) sends
 * SIGXCPU, hard = soft + 1 sends SIGKILL); the millisecond limit comes from
 * sampling in the parent.  CORE is always 0.
 */
static void plan_rlimits(struct child_plan *plan, const struct sbx_spec *spec)
{
	/* The limits that map one to one onto an rlimit (soft = hard). */
	static const struct {
		int resource;
		int step;
		size_t offset;
	} direct[] = {
		{ RLIMIT_STACK, CHILD_STEP_RLIMIT_STACK, offsetof(struct sbx_limits, stack_bytes) },
		{ RLIMIT_NPROC, CHILD_STEP_RLIMIT_NPROC, offsetof(struct sbx_limits, processes) },
		{ RLIMIT_NOFILE, CHILD_STEP_RLIMIT_NOFILE, offsetof(struct sbx_limits, open_files) },
		{ RLIMIT_FSIZE, CHILD_STEP_RLIMIT_FSIZE, offsetof(struct sbx_limits, file_size_bytes) },
	};
	const struct sbx_limits *l = &spec->limits;

	if (l->cpu_time_ms) {
		uint64_t s = (l->cpu_time_ms + 999) / 1000;
		add_rlimit(plan, RLIMIT_CPU, CHILD_STEP_RLIMIT_CPU, s, s + 1);
	}
	/* With a cgroup the memory limit is the tree's real memory; an
	   address-space limit would only turn it into malloc failures. */
	if (l->memory_bytes && spec->rlimit_as && !cg_has_memory(spec->cgroup))
		add_rlimit(plan, RLIMIT_AS, CHILD_STEP_RLIMIT_AS,
			   l->memory_bytes, l->memory_bytes);
	for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++) {
		uint64_t v = *(const uint64_t *)((const char *)l + direct[i].offset);
		/* In a user namespace the uid is the caller's own: RLIMIT_NPROC
		   would count the caller's processes too.  The cgroup's pids
		   limit (when there is one) bounds the tree instead. */
		if (direct[i].resource == RLIMIT_NPROC && spec->namespaces & SBX_NS_USER)
			continue;
		if (v)
			add_rlimit(plan, direct[i].resource, direct[i].step, v, v);
	}
	add_rlimit(plan, RLIMIT_CORE, CHILD_STEP_RLIMIT_CORE, 0, 0);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Fields 48 and 49 of /proc/self/stat: where argv lives, read once. */
static uintptr_t arg_area[2];
static pthread_once_t arg_once = PTHREAD_ONCE_INIT;

static void read_arg_area(void)
{
	char buf[2048];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* The command name may hold spaces: count fields after its ')'. */
	char *p = strrchr(buf, ')');
	int field = 2;
	unsigned long v[2] = { 0, 0 };
	while (p && *p && field < 49) {
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
		field++;
		if (field == 48 || field == 49)
			v[field - 48] = strtoul(p, NULL, 10);
	}
	if (v[0] && v[1] > v[0]) {
		arg_area[0] = v[0];
		arg_area[1] = v[1];
	}
}

/*
 * The child's user namespace maps our uid and gid to 0 inside; an
 * unprivileged process may map only itself, and must deny setgroups first.
 */
static int write_file_at_pid(pid_t pid, const char *name, const char *text)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	return sbx_write_file(AT_FDCWD, path, text);
}

static int write_id_maps(pid_t pid)
{
	char map[64];

	if (write_file_at_pid(pid, "setgroups", "deny") < 0 && errno != ENOENT)
		return -1;
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)geteuid());
	if (write_file_at_pid(pid, "uid_map", map) < 0)
		return -1;
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getegid());
	return write_file_at_pid(pid, "gid_map", map);
}

/* Everything the namespace init needs, prepared before the clone. */
static int prepare_namespaces(struct run *r, const char **step)
{
	const struct sbx_spec *spec = r->spec;

	if (!(spec->namespaces & SBX_NS_PID))
		return 0;
	*step = "pipe2";
	if (pipe2(r->statp, O_CLOEXEC) < 0 || set_nonblock(r->statp[0]) < 0)
		return -1;
	if (spec->namespaces & SBX_NS_USER &&
	    (pipe2(r->userns, O_CLOEXEC) < 0 || pipe2(r->usready, O_CLOEXEC) < 0))
		return -1;
	pthread_once(&arg_once, read_arg_area);
	if (!(spec->namespaces & SBX_NS_MNT))
		return 0;
	snprintf(r->tmp_opts, sizeof r->tmp_opts, "mode=1777,size=%s",
		 spec->tmp_size ? spec->tmp_size : "64m");
	*step = "cwd and box_dir must be absolute with SBX_NS_MNT";
	if ((spec->cwd && spec->cwd[0] != '/') ||
	    (spec->box_dir && (spec->box_dir[0] != '/' || !spec->box_dir[1]))) {
		errno = EINVAL;
		return -1;
	}
	return root_plan_build(&r->root, spec, r->tmp_opts, step);
}


static void run_cleanup(struct run *r)
{
	int *fds[] = { &r->in[0], &r->in[1], &r->out[0], &r->out[1],
		       &r->err[0], &r->err[1], &r->errp[0], &r->errp[1],
		       &r->pidfd };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		close_fd(fds[i]);
	close_fd(&r->statp[0]);
	close_fd(&r->statp[1]);
	close_fd(&r->userns[0]);
	close_fd(&r->userns[1]);
	close_fd(&r->usready[0]);
	close_fd(&r->usready[1]);
	root_plan_free(&r->root);
	free_paths(r->paths);
	r->paths = NULL;
}

static int open_pipes(struct run *r)
{
	int *pipes[] = { r->in, r->out, r->errp, r->err };
	bool merge = r->spec->merge_output;
	for (size_t i = 0; i < (merge ? 3u : 4u); i++)
		if (pipe2(pipes[i], O_CLOEXEC) < 0)
			return -1;
	/* Merged: the child's stderr is the same pipe as its stdout, given
	   as a second descriptor so the child's setup is the same. */
	if (merge && (r->err[1] = fcntl(r->out[1], F_DUPFD_CLOEXEC, 3)) < 0)
		return -1;
	/* Only the parent's ends are non-blocking; the program gets normal
	   blocking pipes. */
	if (set_nonblock(r->in[1]) < 0 || set_nonblock(r->out[0]) < 0 ||
	    (!merge && set_nonblock(r->err[0]) < 0))
		return -1;
	return 0;
}

/*
 * clone3 with a pidfd and no exit signal.  Every signal is blocked in this
 * thread across the call so that no handler of the host runs in the child
 * before it resets them.
 */
static int spawn(struct run *r)
{
	int pidfd = -1;
	struct clone_args args = {
		.flags = CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = 0,
	};
	sigset_t all, old;
	long pid;
	int saved;

	unsigned ns = r->spec->namespaces;
	if (ns & SBX_NS_PID)
		args.flags |= CLONE_NEWPID;
	if (ns & SBX_NS_MNT)
		args.flags |= CLONE_NEWNS;
	if (ns & SBX_NS_NET && r->spec->netns_fd_plus1 <= 0)
		args.flags |= CLONE_NEWNET;
	if (ns & SBX_NS_IPC)
		args.flags |= CLONE_NEWIPC;
	if (ns & SBX_NS_UTS)
		args.flags |= CLONE_NEWUTS;
	if (ns & SBX_NS_USER)
		args.flags |= CLONE_NEWUSER;
	if (r->cg_dirfd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)r->cg_dirfd;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid == 0)
		child_main(&r->plan);
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		errno = saved;
		return -1;
	}
	r->pid = (pid_t)pid;
	r->pidfd = pidfd;
	return 0;
}

/* Ask the box's init to kill everything but itself ("K"). */
static void box_kill(struct sbx_box *box)
{
	(void)send(box->sock, "K", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void kill_group(struct run *r, enum kill_reason reason)
{
	if (r->reason == KILL_NONE && reason != KILL_NONE)
		r->reason = reason;
	if (r->box) {
		box_kill(r->box);
		return;
	}
	/* The group id is the child's pid; it cannot be reused before the
	   child is reaped, which happens only after this. */
	kill(-r->pid, SIGKILL);
	kill(r->pid, SIGKILL);
}

/* CPU time so far: the whole tree's with a cgroup, else the main
   process's (its threads included). */
static uint64_t cpu_ms_now(struct run *r)
{
	struct timespec ts;
	if (r->cg) {
		int64_t ns = cg_cpu_ns(r->cg, &r->cg_base);
		if (ns >= 0)
			return (uint64_t)ns / 1000000u;
	}
	if (!r->have_cpu_clock || clock_gettime(r->cpu_clock, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Append what a pipe holds to buf; returns 0 at EOF, 1 to go on. */
static int read_stream(struct run *r, int *fd, struct sbx_buf *buf, int which)
{
	uint64_t cap = r->spec->limits.output_bytes;
	char chunk[READ_CHUNK];

	for (;;) {
		ssize_t n = read(*fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			close_fd(fd); /* EIO and friends: treat as EOF */
			return 0;
		}
		if (n == 0) {
			close_fd(fd);
			return 0;
		}
		size_t take = (size_t)n;
		if (cap && buf->len + take > cap) {
			take = (size_t)(cap - buf->len);
			buf->truncated = true;
		}
		if (take) {
			char *p = realloc(buf->data, buf->len + take + 1);
			if (!p)
				return -1;
			buf->data = p;
			memcpy(buf->data + buf->len, chunk, take);
			buf->len += take;
			buf->data[buf->len] = '\0';
			if (!r->waiting_since[which - 1])
				r->waiting_since[which - 1] = now_ns();
		}
		if (buf->truncated) {
			if (r->reason == KILL_NONE)
				r->output_stream = which;
			kill_group(r, KILL_OUTPUT);
			close_fd(fd);
			return 0;
		}
	}
}

static void write_stdin(struct run *r)
{
	while (r->in_left) {
		size_t len = r->in_left > 65536 ? 65536 : r->in_left;
		ssize_t n = write(r->in[1], r->in_data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			break; /* EPIPE: the program closed stdin; fine */
		}
		r->in_data += n;
		r->in_left -= (size_t)n;
	}
	close_fd(&r->in[1]);
}

/* Milliseconds until the next thing the loop must do by itself. */
static int next_timeout(struct run *r, uint64_t now)
{
	const struct sbx_limits *l = &r->spec->limits;
	int64_t t = -1;

	if (r->reason != KILL_NONE)
		return 100; /* killed: only waiting for the exit now */
	for (int i = 0; i < 2 && r->spec->on_output; i++) {
		if (!r->waiting_since[i])
			continue;
		uint64_t due = r->waiting_since[i] + SBX_OUTPUT_DELAY_MS * 1000000u;
		int64_t d = now >= due ? 0 : (int64_t)((due - now + 999999) / 1000000);
		if (t < 0 || d < t)
			t = d;
	}
	if (l->wall_time_ms) {
		uint64_t deadline = r->start_ns + l->wall_time_ms * 1000000u;
		int64_t w = now >= deadline ? 0 : (int64_t)((deadline - now + 999999) / 1000000);
		if (t < 0 || w < t)
			t = w;
	}
	if (l->cpu_time_ms && (r->have_cpu_clock || r->cg)) {
		uint64_t used = cpu_ms_now(r);
		/* CPU time can grow faster than wall time with several
		   threads; sample sooner as the limit nears. */
		int64_t s = used >= l->cpu_time_ms ? 0 :
			(int64_t)(l->cpu_time_ms - used) / 2;
		if (s > CPU_SAMPLE_MS)
			s = CPU_SAMPLE_MS;
		if (s < 1)
			s = 1;
		if (t < 0 || s < t)
			t = s;
	}
	if (r->cg && cg_watch_tcp(r->cg) && (t < 0 || t > CPU_SAMPLE_MS))
		t = CPU_SAMPLE_MS;
	return t > INT_MAX ? INT_MAX : (int)t;
}

static void check_limits(struct run *r, uint64_t now)
{
	const struct sbx_limits *l = &r->spec->limits;

	if (r->reason != KILL_NONE)
		return;
	if (l->wall_time_ms && now >= r->start_ns + l->wall_time_ms * 1000000u) {
		kill_group(r, KILL_WALL);
		return;
	}
	if (l->cpu_time_ms) {
		uint64_t used = cpu_ms_now(r);
		if (used >= l->cpu_time_ms) {
			r->killed_at_cpu_ms = used;
			kill_group(r, KILL_CPU);
			return;
		}
	}
	if (r->cg && cg_tcp_over(r->cg))
		kill_group(r, KILL_TCP);
}

/* Add the output pipes still open to pfd at n; their places go in idx. */
static int poll_outputs(struct run *r, struct pollfd *pfd, int n, int idx[2])
{
	int *fds[2] = { &r->out[0], &r->err[0] };

	for (int i = 0; i < 2; i++) {
		idx[i] = -1;
		if (*fds[i] >= 0) {
			idx[i] = n;
			pfd[n++] = (struct pollfd){ .fd = *fds[i], .events = POLLIN };
		}
	}
	return n;
}

/* Read the output pipes poll() marked; -1 when out of memory. */
static int read_outputs(struct run *r, const struct pollfd *pfd, const int idx[2])
{
	if (idx[0] >= 0 && pfd[idx[0]].revents &&
	    read_stream(r, &r->out[0], &r->res->out, 1) < 0)
		return -1;
	if (idx[1] >= 0 && pfd[idx[1]].revents &&
	    read_stream(r, &r->err[0], &r->res->err, 2) < 0)
		return -1;
	return 0;
}

/* Give on_output what stream i (0 stdout, 1 stderr) holds beyond what it
   has had. */
static void deliver(struct run *r, int i)
{
	const struct sbx_buf *b = i ? &r->res->err : &r->res->out;
	size_t from = r->sent[i];

	r->waiting_since[i] = 0;
	if (!r->spec->on_output || r->output_refused || b->len <= from)
		return;
	r->sent[i] = b->len;
	if (r->spec->on_output(r->spec->on_output_arg, i + 1, b->data + from,
			       b->len - from) < 0) {
		r->output_refused = true;
		kill_group(r, KILL_CANCEL);
	}
}

/* Deliver what has waited its time (or a batch's worth), or with all
   everything; the stream whose bytes were read first goes first. */
static void deliver_due(struct run *r, uint64_t now, bool all)
{
	int first = r->waiting_since[1] && (!r->waiting_since[0] ||
		    r->waiting_since[1] < r->waiting_since[0]) ? 1 : 0;

	for (int k = 0; k < 2; k++) {
		int i = k ? 1 - first : first;
		const struct sbx_buf *b = i ? &r->res->err : &r->res->out;
		if (!r->waiting_since[i])
			continue;
		if (all || b->len - r->sent[i] >= SBX_OUTPUT_BATCH ||
		    now >= r->waiting_since[i] + SBX_OUTPUT_DELAY_MS * 1000000u)
			deliver(r, i);
	}
}

/* The poll loop; returns when the main process has exited. */
static int supervise(struct run *r)
{
	for (;;) {
		struct pollfd pfd[5];
		int n = 0, iin = -1, icancel = -1, iout[2];

		/* A box answers on its socket once the program is gone. */
		pfd[n++] = (struct pollfd){ .fd = r->box ? r->box->sock : r->pidfd,
					    .events = POLLIN };
		if (r->in[1] >= 0) {
			iin = n;
			pfd[n++] = (struct pollfd){ .fd = r->in[1], .events = POLLOUT };
		}
		/* Only a hang-up counts: POLLHUP and POLLERR come anyway. */
		if (r->cancel_fd >= 0) {
			icancel = n;
			pfd[n++] = (struct pollfd){ .fd = r->cancel_fd, .events = POLLRDHUP };
		}
		n = poll_outputs(r, pfd, n, iout);

		int rc = poll(pfd, (nfds_t)n, next_timeout(r, now_ns()));
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (iin >= 0 && pfd[iin].revents)
			write_stdin(r); /* POLLERR/POLLHUP: write fails, closes */
		if (read_outputs(r, pfd, iout) < 0)
			return -1;
		if (icancel >= 0 && pfd[icancel].revents) {
			/* Level-triggered: watched no more once it fired. */
			r->cancel_fd = -1;
			kill_group(r, KILL_CANCEL);
		}
		if (pfd[0].revents)
			return 0;
		uint64_t now = now_ns();
		deliver_due(r, now, false);
		check_limits(r, now);
	}
}

/*
 * The main process is gone.  Kill what is left of its group, then take the
 * output still in the pipes: everything until EOF, but never more than
 * DRAIN_MS — a process that left the group may hold the pipes open.
 */
static int drain(struct run *r)
{
	uint64_t until = now_ns() + (uint64_t)DRAIN_MS * 1000000u;

	/* Everything of the run, whatever session it moved to: a box's init
	   has killed and reaped all of it before it answered. */
	if (!r->box) {
		kill(-r->pid, SIGKILL);
		if (r->cg && cg_kill_all(r->cg, 0, NULL, 0) < 0)
			r->res->leftovers = true;
	}
	close_fd(&r->in[1]);
	while (r->out[0] >= 0 || r->err[0] >= 0) {
		struct pollfd pfd[2];
		int iout[2];
		uint64_t now = now_ns();
		int n = poll_outputs(r, pfd, 0, iout);
		int timeout = now >= until ? 0 : (int)((until - now) / 1000000) + 1;
		int rc = poll(pfd, (nfds_t)n, timeout);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		if (read_outputs(r, pfd, iout) < 0)
			return -1;
	}
	close_fd(&r->out[0]);
	close_fd(&r->err[0]);
	deliver_due(r, now_ns(), true);
	return 0;
}

static uint64_t tv_ms(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void describe(struct sbx_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void describe(struct sbx_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof res->message, fmt, ap);
	va_end(ap);
}

static const char *signal_label(int sig, char *buf, size_t len)
{
	const char *name = sbx_signal_name(sig);
	const char *descr = sigdescr_np(sig);

	if (name && descr)
		snprintf(buf, len, "%s (%s)", name, descr);
	else
		snprintf(buf, len, "signal %d", sig);
	return buf;
}

/* Decide the status, once, from everything known at the end. */
static void conclude(struct run *r, int wstatus, bool oom)
{
	const struct sbx_limits *l = &r->spec->limits;
	struct sbx_result *res = r->res;
	char sig[96];

	if (WIFEXITED(wstatus)) {
		res->exit_code = WEXITSTATUS(wstatus);
		res->signal = 0;
	} else {
		res->exit_code = -1;
		res->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
	}

	bool cpu_over = l->cpu_time_ms && res->usage.cpu_time_ms >= l->cpu_time_ms;
	if (oom) {
		res->status = SBX_MEMORY_EXCEEDED;
		describe(res, "the program was killed for using more than the "
			 "memory limit of %llu bytes",
			 (unsigned long long)l->memory_bytes);
	} else if (r->reason == KILL_TCP || r->tcp_over) {
		/* Checked before the other kill reasons: a sender stalled
		   on its socket buffers runs into the wall time next. */
		res->status = SBX_MEMORY_EXCEEDED;
		describe(res, "the program's socket buffers passed the memory limit "
			 "of %llu bytes", (unsigned long long)l->memory_bytes);
	} else if (r->reason == KILL_CANCEL) {
		res->status = SBX_CANCELLED;
		describe(res, "cancelled after %llu ms: %s",
			 (unsigned long long)res->usage.wall_time_ms,
			 r->output_refused ? "the output could not be delivered"
					   : "the cancel descriptor hung up");
	} else if (r->reason == KILL_OUTPUT ||
	    (r->reason == KILL_NONE && (res->out.truncated || res->err.truncated))) {
		int which = r->output_stream ? r->output_stream :
			res->out.truncated ? 1 : 2;
		res->status = SBX_OUTPUT_EXCEEDED;
		describe(res, "%s exceeded the output limit of %llu bytes",
			 which == 1 ? "stdout" : "stderr",
			 (unsigned long long)l->output_bytes);
	} else if (r->reason == KILL_CPU ||
		   (r->reason == KILL_NONE && res->signal == SIGXCPU) ||
		   /* Over the limit however it ended: killed by the hard
		      RLIMIT_CPU, or a runtime that catches SIGXCPU and exits
		      (Gforth says "CPU time limit exceeded." and exits 152). */
		   (r->reason == KILL_NONE && cpu_over)) {
		res->status = SBX_CPU_TIME_EXCEEDED;
		describe(res, "killed after %llu ms of CPU time (limit %llu ms)",
			 (unsigned long long)res->usage.cpu_time_ms,
			 (unsigned long long)l->cpu_time_ms);
	} else if (r->reason == KILL_WALL) {
		res->status = SBX_WALL_TIME_EXCEEDED;
		describe(res, "killed after %llu ms of wall time (limit %llu ms)",
			 (unsigned long long)res->usage.wall_time_ms,
			 (unsigned long long)l->wall_time_ms);
	} else if (res->signal == SIGXFSZ) {
		res->status = SBX_FILE_SIZE_EXCEEDED;
		describe(res, "killed by SIGXFSZ: a file exceeded the size limit of %llu bytes",
			 (unsigned long long)l->file_size_bytes);
	} else if (res->signal) {
		res->status = SBX_SIGNALED;
		describe(res, "killed by %s", signal_label(res->signal, sig, sizeof sig));
	} else if (res->exit_code == 0) {
		res->status = SBX_OK;
		describe(res, "exited with code 0");
	} else {
		res->status = SBX_NONZERO_EXIT;
		describe(res, "exited with code %d", res->exit_code);
	}
}

/* The box's answer: the program's status, its rusage, and "clean". */
static int box_reap(struct run *r, int *wstatus, struct rusage *ru)
{
	struct box_reply rep;
	ssize_t n;

	do
		n = recv(r->box->sock, &rep, sizeof rep, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof rep || rep.magic != BOX_MAGIC) {
		errno = n < 0 ? errno : EPIPE; /* the init died: no answer */
		return -1;
	}
	r->reaped = true;
	r->box_clean = rep.clean;
	*wstatus = rep.wstatus;
	*ru = rep.ru;
	return 0;
}

/* Did the box's init die (its socket closed)?  Waits a moment for its
   exit to show on the pidfd: the socket closes a little before. */
static bool box_init_died(const struct sbx_box *box)
{
	struct pollfd p = { .fd = box->pidfd, .events = POLLIN };
	int rc;

	do
		rc = poll(&p, 1, 1000);
	while (rc < 0 && errno == EINTR);
	return rc == 1;
}

static int reap(struct run *r, int *wstatus, struct rusage *ru)
{
	if (r->box)
		return box_reap(r, wstatus, ru);
	for (;;) {
		pid_t p = wait4(r->pid, wstatus, __WALL, ru);
		if (p == r->pid) {
			r->reaped = true;
			return 0;
		}
		if (p < 0 && errno != EINTR)
			return -1;
	}
}

static void fill_usage(struct run *r, const struct rusage *ru, bool *oom)
{
	struct sbx_usage *u = &r->res->usage;
	struct cg_usage cu = { 0 };

	if (r->cg)
		cg_collect(r->cg, &r->cg_base, &cu);
	if (oom)
		*oom = cu.oom;
	r->tcp_over = cu.tcp_over;
	if (cu.have_cpu) {
		/* The whole tree, reaped or not; split as the kernel saw it. */
		u->cpu_time_ms = cu.cpu_ns / 1000000u;
		u->user_time_ms = cu.user_ns / 1000000u;
		u->system_time_ms = cu.sys_ns / 1000000u;
		if (u->user_time_ms + u->system_time_ms > u->cpu_time_ms)
			u->cpu_time_ms = u->user_time_ms + u->system_time_ms;
	} else {
		u->user_time_ms = tv_ms(ru->ru_utime);
		u->system_time_ms = tv_ms(ru->ru_stime);
		u->cpu_time_ms = u->user_time_ms + u->system_time_ms;
	}
	/* A kill for CPU is decided on a finer clock than rusage's; never
	   report less than what triggered it. */
	if (r->killed_at_cpu_ms > u->cpu_time_ms)
		u->cpu_time_ms = r->killed_at_cpu_ms;
	u->wall_time_ms = (now_ns() - r->start_ns) / 1000000u;
	u->max_rss_bytes = cu.have_peak ? cu.peak_bytes : (uint64_t)ru->ru_maxrss * 1024u;
	/* The run's files as they are left: the tree is dead by now, so
	   nothing writes any more.  The caller's fd is the same superblock
	   as the mount the program saw. */
	struct statfs sf;
	if (r->plan.workfs_fd >= 0 && fstatfs(r->plan.workfs_fd, &sf) == 0 &&
	    sf.f_blocks >= sf.f_bfree)
		u->disk_bytes = (uint64_t)(sf.f_blocks - sf.f_bfree) * (uint64_t)sf.f_bsize;
}

/*
 * execve or chdir was refused: name the directory the run's user could not
 * enter, when that is why ("execve /root/x/prog: permission denied: the
 * run's user (uid 60003) cannot enter /root (mode 0700)").  With a PATH
 * search every candidate failed; the first one with such a directory is
 * named.
 */
static bool explain_exec_denied(struct run *r, const struct child_error *ce)
{
	char why[sizeof r->res->message];

	if (ce->step == CHILD_STEP_CHDIR && r->spec->cwd &&
	    explain_denied(r->spec, r->spec->cwd, true, why, sizeof why)) {
		describe(r->res, "chdir %s: permission denied: %s", r->spec->cwd, why);
		return true;
	}
	if (ce->step != CHILD_STEP_EXECVE)
		return false;
	for (char **p = r->paths; *p; p++)
		if (explain_denied(r->spec, *p, false, why, sizeof why)) {
			describe(r->res, "execve %s: permission denied: %s", *p, why);
			return true;
		}
	return false;
}

/* A setup step failed in the child: reap it and say which step. */
static int conclude_exec_failure(struct run *r, const struct child_error *ce)
{
	struct rusage ru;
	int wstatus;

	if (reap(r, &wstatus, &ru) < 0)
		return -1;
	fill_usage(r, &ru, NULL);
	r->res->status = SBX_EXEC_FAILED;
	r->res->exit_code = -1;
	r->res->signal = 0;
	if (ce->err == EACCES && explain_exec_denied(r, ce))
		return 0;
	const char *why = strerrordesc_np(ce->err) ? strerrordesc_np(ce->err) :
		"unknown error";
	if (ce->op >= 0 && (size_t)ce->op < r->root.n)
		describe(r->res, "%s /%s: %s", child_step_name(ce->step),
			 r->root.ops[ce->op].path, why);
	else
		describe(r->res, "%s: %s", child_step_name(ce->step), why);
	return 0;
}

/* Wait for the verdict of the error pipe: exec happened, or a step failed. */
static int read_exec_result(struct run *r, struct child_error *ce)
{
	size_t got = 0;

	while (got < sizeof *ce) {
		ssize_t n = read(r->errp[0], (char *)ce + got, sizeof *ce - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close_fd(&r->errp[0]);
	return got == sizeof *ce ? 1 : 0;
}

static int init_buf(struct sbx_buf *b)
{
	b->data = calloc(1, 1);
	b->len = 0;
	b->truncated = false;
	return b->data ? 0 : -1;
}

int sbx_netns_create(char *err, size_t errlen)
{
	struct clone_args args = { .flags = CLONE_NEWNET, .exit_signal = 0 };
	int sync[2], fd = -1, status;
	char path[64];
	sigset_t all, old;
	long pid;

	if (pipe2(sync, O_CLOEXEC) < 0) {
		sbx_set_error(err, errlen, "sandbox: pipe2 failed: %s", strerrordesc_np(errno));
		return -1;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid == 0) {
		close(sync[1]);
		netns_holder_main(sync[0]);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(sync[0]);
	if (pid < 0) {
		sbx_set_error(err, errlen, "sandbox: a network namespace: %s", strerrordesc_np(errno));
		close(sync[1]);
		return -1;
	}
	snprintf(path, sizeof path, "/proc/%ld/ns/net", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	int saved = errno;
	close(sync[1]); /* the holder may go: the fd keeps the namespace */
	while (wait4((pid_t)pid, &status, __WALL, NULL) < 0 && errno == EINTR)
		;
	if (fd < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		sbx_set_error(err, errlen, "sandbox: a network namespace: %s",
			  fd < 0 ? strerrordesc_np(saved) :
			  WIFEXITED(status) && WEXITSTATUS(status) == 2 ?
			  "net.ipv4.tcp_max_tw_buckets could not be set to 0" :
			  "loopback did not come up");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int sbx_box_create(struct sbx_box **out, const struct sbx_spec *tmpl,
		   char *err, size_t errlen)
{
	static char *const argv[] = { "runbox-box", NULL };
	static char *const none[] = { NULL };
	struct sbx_spec spec = *tmpl;
	struct sbx_box *box = calloc(1, sizeof *box);
	struct sbx_limits no_limits = { 0 };
	struct run r = {
		.spec = &spec, .pidfd = -1, .pid = -1,
		.in = { -1, -1 }, .out = { -1, -1 }, .err = { -1, -1 },
		.errp = { -1, -1 }, .cg = tmpl->cgroup, .cg_dirfd = -1,
		.statp = { -1, -1 }, .userns = { -1, -1 }, .usready = { -1, -1 },
		.cancel_fd = -1,
	};
	struct sbx_result res = { 0 };
	struct child_error ce;
	int sv[2] = { -1, -1 }, null_fd = -1, rc;
	const char *step = "malloc";

	*out = NULL;
	r.res = &res;
	spec.argv = argv;
	spec.cwd = NULL;
	spec.workfs_fd_plus1 = 0;
	spec.box = NULL;
	if (!box)
		goto fail;
	box->pidfd = box->sock = -1;
	step = "a box needs SBX_NS_PID, SBX_NS_MNT and a box_dir";
	if (!(spec.namespaces & SBX_NS_PID) || !(spec.namespaces & SBX_NS_MNT) ||
	    !spec.box_dir) {
		errno = EINVAL;
		goto fail;
	}
	step = "socketpair";
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	step = "open /dev/null";
	if ((null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		goto fail;
	step = "pipe2";
	if (pipe2(r.errp, O_CLOEXEC) < 0)
		goto fail;
	if (prepare_namespaces(&r, &step) < 0)
		goto fail;
	const struct sock_fprog *filter = NULL;
	step = "the seccomp filter";
	if (spec.seccomp && !(filter = seccomp_program())) {
		errno = EINVAL;
		goto fail;
	}
	if (r.cg && cg_prepare(r.cg, &no_limits, &r.cg_base, r.join_fds, &r.njoin,
			       &r.cg_dirfd, 0, err, errlen) < 0)
		goto fail_quiet;
	r.plan = (struct child_plan){
		.stdin_fd = null_fd, .stdout_fd = null_fd, .stderr_fd = null_fd,
		.error_fd = r.errp[1], .parent_pid = getpid(),
		.paths = none, .argv = argv, .envp = none,
		.set_ids = spec.set_ids, .uid = spec.uid, .gid = spec.gid,
		.njoin = r.njoin, .ns = spec.namespaces, .status_fd = r.statp[1],
		.root_at = "/tmp", .root_opts = r.root.mnt_opts,
		.root_ops = r.root.ops, .n_root_ops = r.root.n, .workfs_fd = -1,
		.seccomp = filter, .arg_start = arg_area[0], .arg_end = arg_area[1],
		.userns_fd = r.userns[0], .userns_ready_fd = r.usready[1],
		.netns_fd = spec.namespaces & SBX_NS_NET && spec.netns_fd_plus1 > 0 ?
			spec.netns_fd_plus1 - 1 : -1,
		.box_fd = sv[1],
	};
	memcpy(r.plan.join_fds, r.join_fds, sizeof r.join_fds);
	step = "clone3";
	if (spawn(&r) < 0)
		goto fail;
	close_fd(&r.errp[1]);
	close_fd(&r.statp[1]);
	close_fd(&r.userns[0]);
	close_fd(&r.usready[1]);
	close_fd(&sv[1]);
	close_fd(&null_fd);
	if (r.userns[1] >= 0) {
		char ready;
		ssize_t n;
		do
			n = read(r.usready[0], &ready, 1);
		while (n < 0 && errno == EINTR);
		step = "write the user namespace maps";
		if (n == 1 && write_id_maps(r.pid) < 0)
			goto fail_kill;
		step = "write(user namespace pipe)";
		if (write(r.userns[1], "", 1) != 1)
			goto fail_kill;
		close_fd(&r.userns[1]);
	}
	step = "read(error pipe)";
	rc = read_exec_result(&r, &ce);
	if (rc < 0)
		goto fail_kill;
	if (rc == 1) {
		/* A step of the box's setup failed: say which. */
		int wstatus;
		struct rusage ru;
		reap(&r, &wstatus, &ru);
		const char *why = strerrordesc_np(ce.err) ? strerrordesc_np(ce.err) :
			"unknown error";
		if (ce.op >= 0 && (size_t)ce.op < r.root.n)
			sbx_set_error(err, errlen, "sandbox: making a box: %s /%s: %s",
				      child_step_name(ce.step), r.root.ops[ce.op].path, why);
		else
			sbx_set_error(err, errlen, "sandbox: making a box: %s: %s",
				      child_step_name(ce.step), why);
		goto fail_quiet;
	}
	box->pid = r.pid;
	box->pidfd = r.pidfd;
	r.pidfd = -1;
	box->sock = sv[0];
	box->cg = r.cg;
	box->ns = spec.namespaces;
	run_cleanup(&r);
	*out = box;
	return 0;

fail_kill:
	rc = errno;
	kill(r.pid, SIGKILL);
	{
		int wstatus;
		struct rusage ru;
		reap(&r, &wstatus, &ru);
	}
	errno = rc;
fail:
	sbx_set_error(err, errlen, "sandbox: making a box: %s: %s", step,
		      strerrordesc_np(errno) ? strerrordesc_np(errno) : "unknown error");
fail_quiet:
	run_cleanup(&r);
	close_fd(&sv[0]);
	close_fd(&sv[1]);
	close_fd(&null_fd);
	free(box);
	return -1;
}

bool sbx_box_alive(struct sbx_box *box)
{
	struct pollfd p = { .fd = box->pidfd, .events = POLLIN };

	if (box->broken)
		return false;
	return poll(&p, 1, 0) == 0;
}

pid_t sbx_box_pid(const struct sbx_box *box)
{
	return box->pid;
}

void sbx_box_fds(const struct sbx_box *box, int *sock, int *pidfd)
{
	*sock = box->sock;
	*pidfd = box->pidfd;
}

int sbx_box_attach(struct sbx_box **out, int sock, int pidfd, pid_t init,
		   struct sbx_cgroup *cg, unsigned namespaces)
{
	struct sbx_box *box = calloc(1, sizeof *box);

	*out = box;
	if (!box) {
		close(sock);
		close(pidfd);
		return -1;
	}
	box->sock = sock;
	box->pidfd = pidfd;
	box->pid = init;
	box->cg = cg;
	box->ns = namespaces;
	return 0;
}

void sbx_box_release(struct sbx_box *box)
{
	if (!box)
		return;
	close(box->pidfd);
	close(box->sock);
	free(box);
}

void sbx_box_destroy(struct sbx_box *box)
{
	if (!box)
		return;
	/* Everything in the box dies with its init (a PID namespace). */
	syscall(SYS_pidfd_send_signal, box->pidfd, SIGKILL, NULL, 0);
	siginfo_t si;
	while (waitid(P_PIDFD, (id_t)box->pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR)
		;
	close(box->pidfd);
	close(box->sock);
	free(box);
}

/* Consume a SIGPIPE our own stdin writes raised, then unblock it. */
static void restore_sigpipe(const sigset_t *pipe_set, const sigset_t *old,
			    int was_pending)
{
	if (!was_pending) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(pipe_set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Strings of a vector one after the other, each with its NUL; n counts
   them.  Returns the bytes they take. */
static size_t strv_bytes(char *const *v, uint32_t *n)
{
	size_t len = 0;
	*n = 0;
	for (; v && *v; v++, (*n)++)
		len += strlen(*v) + 1;
	return len;
}

static char *strv_put(char *p, char *const *v)
{
	for (; v && *v; v++) {
		size_t l = strlen(*v) + 1;
		memcpy(p, *v, l);
		p += l;
	}
	return p;
}

/*
 * Hand the run to its box: the request header with the program's fds,
 * then the strings (internal.h describes the protocol).
 */
static int box_submit(struct run *r)
{
	const struct child_plan *pl = &r->plan;
	struct box_request req = {
		.magic = BOX_MAGIC, .set_ids = pl->set_ids, .uid = pl->uid,
		.gid = pl->gid, .seccomp = pl->seccomp != NULL,
		.n_rlimits = pl->n_rlimits, .has_workfs = pl->workfs_fd >= 0,
	};
	int fds[5] = { pl->stdin_fd, pl->stdout_fd, pl->stderr_fd, pl->error_fd,
		       pl->workfs_fd };
	const char *dir = r->spec->box_dir ? r->spec->box_dir : "/";
	size_t len = strv_bytes(pl->paths, &req.npaths) +
		strv_bytes(pl->argv, &req.argc) + strv_bytes(pl->envp, &req.envc) +
		strlen(dir) + 1;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof fds)];
	} c;
	char *strings, *p;
	int rc = -1;

	if (len > BOX_MAX_STRINGS) {
		errno = E2BIG;
		return -1;
	}
	memcpy(req.rlimits, pl->rlimits, sizeof req.rlimits);
	req.len = (uint32_t)len;
	req.nfds = req.has_workfs ? 5 : 4;
	if (!(strings = malloc(len)))
		return -1;
	p = strv_put(strings, pl->paths);
	p = strv_put(p, pl->argv);
	p = strv_put(p, pl->envp);
	memcpy(p, dir, strlen(dir) + 1);

	struct iovec iov = { .iov_base = &req, .iov_len = sizeof req };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
		.msg_controllen = CMSG_SPACE(sizeof(int) * req.nfds),
	};
	memset(&c, 0, sizeof c);
	c.h.cmsg_level = SOL_SOCKET;
	c.h.cmsg_type = SCM_RIGHTS;
	c.h.cmsg_len = CMSG_LEN(sizeof(int) * req.nfds);
	memcpy(CMSG_DATA(&c.h), fds, sizeof(int) * req.nfds);
	if (sendmsg(r->box->sock, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof req)
		goto out;
	for (size_t off = 0; off < len;) {
		size_t k = len - off > BOX_CHUNK ? BOX_CHUNK : len - off;
		ssize_t n = send(r->box->sock, strings + off, k, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)k)
			goto out;
		off += k;
	}
	rc = 0;
out:
	{
		int saved = errno;
		free(strings);
		errno = saved;
	}
	return rc;
}

void sbx_result_free(struct sbx_result *res)
{
	if (!res)
		return;
	free(res->out.data);
	free(res->err.data);
	res->out.data = res->err.data = NULL;
}

int sbx_run(const struct sbx_spec *spec, struct sbx_result *res,
	    char *errbuf, size_t errlen)
{
	struct run r = {
		.spec = spec, .res = res, .pidfd = -1, .pid = -1,
		.in = { -1, -1 }, .out = { -1, -1 }, .err = { -1, -1 },
		.errp = { -1, -1 }, .cg = spec ? spec->cgroup : NULL,
		.cg_dirfd = -1, .statp = { -1, -1 },
		.userns = { -1, -1 }, .usready = { -1, -1 },
		.cancel_fd = spec && spec->cancel_fd_plus1 > 0 ? spec->cancel_fd_plus1 - 1 : -1,
	};
	struct child_error ce;
	struct rusage ru;
	sigset_t pipe_set, old_mask;
	int pipe_was_pending, wstatus, rc;
	const char *step = NULL;

	memset(res, 0, sizeof *res);
	if (!spec || !spec->argv || !spec->argv[0] || !spec->argv[0][0]) {
		sbx_set_error(errbuf, errlen, "sandbox: no program to run (empty argv)");
		return -1;
	}
	if (spec->box) {
		/* The box's isolation is the run's; its init does the rest. */
		if (spec->workfs_fd_plus1 <= 0) {
			sbx_set_error(errbuf, errlen, "sandbox: a run in a box needs "
				      "its own file system (workfs_fd_plus1)");
			return -1;
		}
		r.box = spec->box;
		r.box_spec = *spec;
		r.box_spec.namespaces = spec->box->ns;
		r.box_spec.cgroup = spec->box->cg;
		r.box_spec.netns_fd_plus1 = 0;
		r.spec = spec = &r.box_spec;
		r.cg = spec->cgroup;
	}
	if (init_buf(&res->out) < 0 || init_buf(&res->err) < 0) {
		step = "malloc";
		goto fail_early;
	}

	/* Keep SIGPIPE from our own stdin writes in this thread. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	{
		sigset_t pend;
		sigpending(&pend);
		pipe_was_pending = sigismember(&pend, SIGPIPE);
	}

	if (!(r.paths = build_paths(spec))) {
		step = "malloc";
		goto fail;
	}
	if (open_pipes(&r) < 0) {
		step = "pipe2";
		goto fail;
	}
	if (spec->namespaces & ~SBX_NS_PID && !r.box)
		/* Only the init of a PID namespace sets the others up. */
		if (!(spec->namespaces & SBX_NS_PID)) {
			errno = EINVAL;
			step = "namespaces without SBX_NS_PID";
			goto fail;
		}
	if (!r.box && prepare_namespaces(&r, &step) < 0)
		goto fail;
	const struct sock_fprog *filter = NULL;
	if (spec->seccomp && !(filter = seccomp_program())) {
		sbx_set_error(errbuf, errlen, "sandbox: seccomp: %s", sbx_seccomp_status());
		run_cleanup(&r);
		restore_sigpipe(&pipe_set, &old_mask, pipe_was_pending);
		sbx_result_free(res);
		return -1;
	}
	/* In a box its init is one of the cgroup's processes too. */
	struct sbx_limits cg_limits = spec->limits;
	if (r.box && cg_limits.processes)
		cg_limits.processes++;
	if (r.cg && cg_prepare(r.cg, &cg_limits, &r.cg_base, r.join_fds,
			       &r.njoin, &r.cg_dirfd, r.box ? r.box->pid : 0,
			       errbuf, errlen) < 0) {
		run_cleanup(&r);
		restore_sigpipe(&pipe_set, &old_mask, pipe_was_pending);
		sbx_result_free(res);
		return -1;
	}
	r.plan = (struct child_plan){
		.stdin_fd = r.in[0], .stdout_fd = r.out[1], .stderr_fd = r.err[1],
		.error_fd = r.errp[1], .parent_pid = getpid(),
		.paths = r.paths, .argv = spec->argv,
		.envp = spec->envp ? spec->envp : (char *const[]){ NULL },
		.cwd = spec->cwd, .set_ids = spec->set_ids,
		.start_dir = spec->namespaces & SBX_NS_MNT && spec->box_dir ?
			spec->box_dir : spec->cwd,
		.uid = spec->uid, .gid = spec->gid,
		.njoin = r.njoin,
		.ns = spec->namespaces, .status_fd = r.statp[1],
		.root_at = "/tmp", .root_opts = r.root.mnt_opts,
		.root_ops = r.root.ops, .n_root_ops = r.root.n,
		.workfs_fd = spec->namespaces & SBX_NS_MNT && spec->workfs_fd_plus1 > 0 ?
			spec->workfs_fd_plus1 - 1 : -1,
		.seccomp = filter,
		.arg_start = arg_area[0], .arg_end = arg_area[1],
		.userns_fd = r.userns[0], .userns_ready_fd = r.usready[1],
		.netns_fd = spec->namespaces & SBX_NS_NET && spec->netns_fd_plus1 > 0 ?
			spec->netns_fd_plus1 - 1 : -1,
		.box_fd = -1,
	};
	memcpy(r.plan.join_fds, r.join_fds, sizeof r.join_fds);
	plan_rlimits(&r.plan, spec);
	r.in_data = spec->stdin_data;
	r.in_left = spec->stdin_data ? spec->stdin_len : 0;

	r.start_ns = now_ns();
	if (r.box) {
		if (box_submit(&r) < 0) {
			r.box->broken = true;
			step = "hand the run to its box";
			goto fail;
		}
	} else if (spawn(&r) < 0) {
		step = "clone3";
		goto fail;
	}
	close_fd(&r.in[0]);
	close_fd(&r.out[1]);
	close_fd(&r.err[1]);
	close_fd(&r.errp[1]);
	close_fd(&r.statp[1]);
	close_fd(&r.userns[0]);
	close_fd(&r.usready[1]);
	if (r.userns[1] >= 0) {
		char ready;
		ssize_t n;
		do
			n = read(r.usready[0], &ready, 1);
		while (n < 0 && errno == EINTR);
		/* EOF: the child failed early and says why on the error pipe. */
		if (n == 1 && write_id_maps(r.pid) < 0) {
			step = "write the user namespace maps";
			goto fail_kill;
		}
		if (write(r.userns[1], "", 1) != 1) {
			step = "write(user namespace pipe)";
			goto fail_kill;
		}
		close_fd(&r.userns[1]);
	}

	rc = read_exec_result(&r, &ce);
	if (rc < 0) {
		step = "read(error pipe)";
		goto fail_kill;
	}
	if (rc == 1) {
		if (conclude_exec_failure(&r, &ce) < 0) {
			step = "wait4";
			goto fail_kill;
		}
		goto done;
	}

	r.have_cpu_clock = !r.box && clock_getcpuclockid(r.pid, &r.cpu_clock) == 0;
	if (!r.in_left)
		close_fd(&r.in[1]); /* the program sees EOF at once */
	else
		write_stdin(&r);
	if (supervise(&r) < 0) {
		step = "poll";
		goto fail_kill;
	}
	if (drain(&r) < 0) {
		step = "poll";
		goto fail_kill;
	}
	if (reap(&r, &wstatus, &ru) < 0) {
		if (!r.box || !box_init_died(r.box)) {
			step = "wait4";
			goto fail_kill;
		}
		/* The box's init died during the run (killed from outside,
		   or the OOM killer's choice in the run's cgroup): everything
		   in its PID namespace died with it, the program too. */
		r.box->broken = true;
		r.reaped = true;
		r.box_clean = true;
		wstatus = SIGKILL;
		memset(&ru, 0, sizeof ru);
	}
	{
		bool oom = false;
		int prog_status;
		/* In a PID namespace the init reported the program's own
		   status; without it (init killed) the init's stands. */
		if (r.box && !r.box_clean)
			res->leftovers = true;
		if (r.statp[0] >= 0 &&
		    read(r.statp[0], &prog_status, sizeof prog_status) == sizeof prog_status)
			wstatus = prog_status;
		fill_usage(&r, &ru, &oom);
		conclude(&r, wstatus, oom);
	}

done:
	run_cleanup(&r);
	restore_sigpipe(&pipe_set, &old_mask, pipe_was_pending);
	return 0;

fail_kill:
	rc = errno;
	if (r.box)
		r.box->broken = true;
	kill_group(&r, KILL_NONE);
	if (!r.reaped && (r.box || r.pid > 0))
		reap(&r, &wstatus, &ru);
	errno = rc;
fail:
	rc = errno;
	run_cleanup(&r);
	restore_sigpipe(&pipe_set, &old_mask, pipe_was_pending);
	errno = rc;
fail_early:
	sbx_set_error(errbuf, errlen, "sandbox: %s failed: %s", step,
		  strerrordesc_np(errno) ? strerrordesc_np(errno) : "unknown error");
	sbx_result_free(res);
	return -1;
}
