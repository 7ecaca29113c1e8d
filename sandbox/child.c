/*
 * child.c - the child side of a run, between clone and execve.
 *
 * This code runs in a copy of a possibly multi-threaded process, so it makes
 * only async-signal-safe calls: raw system calls and their thin wrappers.
 * No malloc, no stdio, no locks.  Every input was prepared by the parent
 * (run.c) before the clone.  The steps below are the list of guarantees the
 * program gets; a failing step writes {step, errno} to the close-on-exec
 * error pipe and exits 127.  End-of-file on that pipe tells the parent that
 * execve succeeded.
 *
 * Two shapes:
 *  - without namespaces the clone's child is the program: session,
 *    cgroups, stdio, then program(): signals, fds, rlimits, credentials,
 *    parent-death signal, cwd, seccomp, execve;
 *  - with a PID namespace the clone's child is that namespace's init
 *    (pid 1): as root (or as uid 0 of its own user namespace, after the
 *    parent wrote the maps) it joins or sets up the other namespaces,
 *    builds the run's minimal root and pivots into it (setup_root), forks the program (pid 2, which goes through program()),
 *    and becomes reaper(): it reaps every orphan and, when the program
 *    exits, reports its wait status on a pipe and exits, which takes the
 *    whole namespace down with it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/internal.h"

_Noreturn static void fail_op(const struct child_plan *plan, int step, int err,
			      int op)
{
	struct child_error ce = { .step = step, .err = err, .op = op };
	ssize_t n;

	do
		n = write(plan->error_fd, &ce, sizeof ce);
	while (n < 0 && errno == EINTR);
	_exit(127);
}

_Noreturn static void fail(const struct child_plan *plan, int step, int err)
{
	fail_op(plan, step, err, -1);
}

/* A new session and process group: the parent kills the group by its id. */
static int setup_session(void)
{
	return setsid() < 0 ? -1 : 0;
}

/* Enter the slot's cgroups (v1) before anything else can fork. */
static int join_cgroups(const struct child_plan *plan)
{
	for (int i = 0; i < plan->njoin; i++)
		if (write(plan->join_fds[i], "0", 1) != 1)
			return -1;
	return 0;
}

/*
 * The parent blocked every signal around the clone so that none of its
 * handlers could run here.  Restore default dispositions first, then
 * unblock: the program starts with a clean slate whatever the service
 * ignored or blocked (SIGPIPE, SIGTERM...).
 */
static int setup_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;

	for (int sig = 1; sig < _NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* glibc reserves two real-time signals; EINVAL is expected. */
		(void)sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Move fd above 2 so that the dup2 calls below cannot clobber it. */
static int lift_fd(int *fd)
{
	if (*fd > 2)
		return 0;
	int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -1;
	*fd = nfd;
	return 0;
}

static int setup_stdio(const struct child_plan *plan, int *error_fd)
{
	int fds[3] = { plan->stdin_fd, plan->stdout_fd, plan->stderr_fd };

	for (int i = 0; i < 3; i++)
		if (lift_fd(&fds[i]) < 0)
			return -1;
	if (lift_fd(error_fd) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0) /* dup2 clears close-on-exec */
			return -1;
	return 0;
}

/*
 * Close every descriptor but 0-2 and the error pipe (which closes itself on
 * exec).  close-on-exec alone is not enough: a descriptor the service
 * opened without it, or one another thread is creating right now, must not
 * reach the program.
 */
static int close_other_fds(int keep)
{
	if (keep > 3 && syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U) < 0)
		return -1;
	if (syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) < 0)
		return -1;
	return 0;
}

static int setup_rlimits(const struct child_plan *plan, int *failed_step)
{
	for (int i = 0; i < plan->n_rlimits; i++) {
		const struct child_rlimit *r = &plan->rlimits[i];
		if (setrlimit(r->resource, &r->lim) < 0) {
			*failed_step = r->step;
			return -1;
		}
	}
	return 0;
}

/*
 * Drop to the run's identity with no supplementary groups.  Raw system
 * calls: glibc's wrappers broadcast the change to every thread, machinery
 * that has no business running in a forked child.
 */
static int setup_credentials(const struct child_plan *plan, int *failed_step)
{
	/* No capability can come back through a setuid-root binary either
	   (NO_NEW_PRIVS already stops that; this is the second lock). */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;
	*failed_step = CHILD_STEP_SETGROUPS;
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		return -1;
	*failed_step = CHILD_STEP_SETGID;
	if (syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0)
		return -1;
	*failed_step = CHILD_STEP_SETUID;
	if (syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0)
		return -1;
	return 0;
}

/*
 * Die with the thread that started the run.  Set after the credential
 * change, which clears it, and checked against a parent that is already
 * gone.
 */
static int setup_parent_death(const struct child_plan *plan)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -1;
	if (getppid() != plan->parent_pid)
		_exit(127);
	return 0;
}

/*
 * Try each candidate path like execvpe does, but without allocating.  The
 * most telling error wins: "permission denied" on one candidate says more
 * than "not found" on the others.
 */
static int exec_program(const struct child_plan *plan)
{
	int err = ENOENT;

	for (char *const *p = plan->paths; *p; p++) {
		execve(*p, plan->argv, plan->envp);
		if (errno != ENOENT && errno != ENOTDIR && err == ENOENT)
			err = errno;
		if (errno != ENOENT && errno != ENOTDIR && errno != EACCES)
			break;
	}
	errno = err;
	return -1;
}

/* Write all of len bytes (a generated file of the new root). */
static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The host's src, cloned with its submounts, read-only before it is
   attached anywhere (no moment where a write could reach the host). */
static int bind_readonly(const struct root_op *op)
{
	struct mount_attr attr = { .attr_set = op->flags };
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, op->src,
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	int rc = -1;

	if (fd < 0)
		return -1;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE,
		    &attr, sizeof attr) == 0 &&
	    syscall(SYS_move_mount, fd, "", AT_FDCWD, op->path,
		    MOVE_MOUNT_F_EMPTY_PATH) == 0)
		rc = 0;
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/*
 * A copy of the run's file system, moved onto path: the caller's mount
 * stays detached and its own, so the next step of the same request (the
 * program after its compile step) can be given the same files again.
 */
static int move_clone(int from, const char *path)
{
	int fd = (int)syscall(SYS_open_tree, from, "",
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	int rc;

	if (fd < 0)
		return -1;
	rc = (int)syscall(SYS_move_mount, fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int replay_root_op(const struct root_op *op, int workdir, int workfs)
{
	int fd;

	switch (op->kind) {
	case ROOT_OP_DIR:
		return mkdir(op->path, op->mode) < 0 && errno != EEXIST ? -1 : 0;
	case ROOT_OP_FILE:
		fd = open(op->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  op->mode);
		if (fd < 0)
			return -1;
		if (write_all(fd, op->data, op->len) < 0) {
			close(fd);
			return -1;
		}
		return close(fd);
	case ROOT_OP_SYMLINK:
		return symlink(op->data, op->path);
	case ROOT_OP_BIND:
		return bind_readonly(op);
	case ROOT_OP_MOUNT:
		return mount(op->src, op->path, op->src, op->flags, op->data);
	case ROOT_OP_WORKDIR:
		return (int)syscall(SYS_move_mount, workdir, "", AT_FDCWD, op->path,
				    MOVE_MOUNT_F_EMPTY_PATH);
	case ROOT_OP_WORKFS:
		return move_clone(workfs, op->path);
	case ROOT_OP_SUBDIR:
		/* A bind keeps the source mount's nosuid and nodev. */
		return mount(op->src, op->path, NULL, MS_BIND, NULL);
	case ROOT_OP_DETACH:
		if (umount2(op->path, MNT_DETACH) < 0)
			return -1;
		return rmdir(op->path);
	}
	errno = EINVAL;
	return -1;
}

/*
 * The run's root, in its own mount namespace, made by its init as root (of
 * the host or of its user namespace): nothing propagates back to the host;
 * a small tmpfs is filled from the plan root.c made (the allow-list bound
 * read-only, generated /etc files, a minimal /dev, /proc of the run's PID
 * namespace, a private /tmp, the work directory); then pivot_root into it
 * and the old root detached, so nothing of the host outside the allow-list
 * is reachable by any path, and the root's own tmpfs made read-only.
 */
static int setup_root(const struct child_plan *plan, int *step, int *failed_op)
{
	const unsigned long hard = MS_NOSUID | MS_NODEV;
	int tree = -1;

	/* A detached copy of the work directory, taken while its path still
	   leads to it, moved into the new root below. */
	*step = CHILD_STEP_MOUNT_WORKDIR;
	if (plan->cwd && plan->workfs_fd < 0 &&
	    (tree = (int)syscall(SYS_open_tree, AT_FDCWD, plan->cwd,
				 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)) < 0)
		return -1;
	*step = CHILD_STEP_MOUNT_PRIVATE;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	*step = CHILD_STEP_ROOT_TMPFS;
	if (mount("tmpfs", plan->root_at, "tmpfs", hard, plan->root_opts) < 0 ||
	    chdir(plan->root_at) < 0)
		return -1;
	for (size_t i = 0; i < plan->n_root_ops; i++) {
		if (replay_root_op(&plan->root_ops[i], tree, plan->workfs_fd) < 0) {
			*step = plan->root_ops[i].step;
			*failed_op = (int)i;
			return -1;
		}
	}
	if (tree >= 0)
		close(tree);
	/* The new root over the old one, then the old one let go of: what
	   was the host's is no longer anywhere in this namespace. */
	*step = CHILD_STEP_PIVOT_ROOT;
	if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
	    chdir("/") < 0)
		return -1;
	*step = CHILD_STEP_ROOT_READONLY;
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | hard, NULL) < 0)
		return -1;
	return 0;
}

/* A new network namespace has only "lo", and it is down. */
static int setup_loopback(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	if (fd < 0)
		return -1;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

static int setup_seccomp(const struct child_plan *plan, int *step)
{
	*step = CHILD_STEP_NO_NEW_PRIVS;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	*step = CHILD_STEP_SECCOMP;
	if (plan->seccomp &&
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, plan->seccomp) < 0)
		return -1;
	return 0;
}

/*
 * In its own user namespace the program is uid 0 there (the caller's uid
 * outside): take away every capability so that 0 means nothing more than
 * any unprivileged uid.
 */
static int drop_capabilities(void)
{
	struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 }; /* v3 */
	struct { uint32_t effective, permitted, inheritable; } data[2] = { 0 };

	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0) < 0 &&
		    errno == EINVAL)
			break;
	return (int)syscall(SYS_capset, &hdr, data);
}

/*
 * The OOM killer's first choice in the run's cgroup (and on the host): the
 * program, never its init (a box's, or a run's PID namespace's), which is a
 * copy of runboxd and may well be bigger than a program that forks small
 * children.  Raising the score needs no privilege.  Written by root with
 * CAP_SYS_RESOURCE it is also the program's floor (it cannot lower it
 * again); without, the floor is its init's (0), never below the init.
 */
static void prefer_for_oom(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)write_all(fd, "1000", 4);
		close(fd);
	}
}

void child_box_init_oom(void)
{
	/* Only with CAP_SYS_RESOURCE (not every root has it): then the
	   program cannot even bring itself level with its init. */
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)write_all(fd, "-1000", 5);
		close(fd);
	}
}

/* The program's side: everything from here on applies to it. */
_Noreturn static void program(const struct child_plan *plan, struct child_plan *p,
			      int error_fd)
{
	int step;

	prefer_for_oom();
	if (setup_signals() < 0)
		fail(p, CHILD_STEP_SIGNALS, errno);
	if (close_other_fds(error_fd) < 0)
		fail(p, CHILD_STEP_CLOSE_FDS, errno);
	if (setup_rlimits(plan, &step) < 0)
		fail(p, step, errno);
	if (plan->ns & SBX_NS_USER) {
		if (drop_capabilities() < 0)
			fail(p, CHILD_STEP_CAPS, errno);
	} else if (plan->set_ids && setup_credentials(plan, &step) < 0) {
		fail(p, step, errno);
	}
	if (!(plan->ns & SBX_NS_PID) && setup_parent_death(plan) < 0)
		fail(p, CHILD_STEP_PDEATHSIG, errno);
	if (plan->start_dir && chdir(plan->start_dir) < 0)
		fail(p, CHILD_STEP_CHDIR, errno);
	/* Last before exec: the filter refuses what the setup needed. */
	if (plan->seccomp && setup_seccomp(plan, &step) < 0)
		fail(p, step, errno);
	exec_program(plan);
	fail(p, CHILD_STEP_EXECVE, errno);
}

/*
 * The init of the run's PID namespace.  It holds no pipe of the program's
 * (so end-of-file still means the program and its tree are done), reaps
 * every orphan, and when the program exits reports its wait status and
 * exits: the kernel then kills whatever is left in the namespace.  Signals
 * from inside the namespace cannot touch it; the parent kills it with
 * SIGKILL to end the run.
 */
/*
 * The init is a copy of the service: without this, /proc/1/cmdline would
 * show runboxd's command line (config path, socket, work root) to the
 * program.  Rename it and overwrite its copy of the argument area (the
 * kernel reads cmdline from there; PR_SET_MM would need CAP_SYS_RESOURCE).
 */
void rename_init(const struct child_plan *plan)
{
	static const char name[] = "runbox-init";
	char *a = (char *)plan->arg_start;
	size_t len = plan->arg_end > plan->arg_start ? plan->arg_end - plan->arg_start : 0;

	prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
	if (len > sizeof name) {
		memcpy(a, name, sizeof name);
		memset(a + sizeof name, 0, len - sizeof name);
	}
}

_Noreturn static void reaper(const struct child_plan *plan, pid_t prog)
{
	int status;

	/* Only now: the program, a copy made before this, still needs the
	   argv and paths that may live in that area. */
	rename_init(plan);
	syscall(SYS_close_range, 0U, (unsigned)plan->status_fd - 1, 0U);
	syscall(SYS_close_range, (unsigned)plan->status_fd + 1, ~0U, 0U);
	for (;;) {
		pid_t p = (pid_t)wait4(-1, &status, __WALL, NULL);
		if (p == prog) {
			ssize_t n;
			do
				n = write(plan->status_fd, &status, sizeof status);
			while (n < 0 && errno == EINTR);
			_exit(0);
		}
		if (p < 0 && errno == ECHILD)
			_exit(0);
	}
}

/*
 * A run in a box (box.c): the init forked this process from its request;
 * it becomes the program the way a run's pid 2 does.
 */
_Noreturn void child_box_program(const struct child_plan *plan)
{
	struct child_plan p = *plan;
	int error_fd = plan->error_fd;

	if (setup_session() < 0)
		fail(&p, CHILD_STEP_SETSID, errno);
	if (setup_stdio(plan, &error_fd) < 0)
		fail(&p, CHILD_STEP_FDS, errno);
	p.error_fd = error_fd;
	program(plan, &p, error_fd);
}

_Noreturn void child_main(const struct child_plan *plan)
{
	int error_fd = plan->error_fd;
	struct child_plan p = *plan;
	int step;

	p.error_fd = error_fd;
	if (setup_session() < 0)
		fail(&p, CHILD_STEP_SETSID, errno);
	if (join_cgroups(plan) < 0)
		fail(&p, CHILD_STEP_CGROUP, errno);
	if (setup_stdio(plan, &error_fd) < 0)
		fail(&p, CHILD_STEP_FDS, errno);
	p.error_fd = error_fd;
	if (!(plan->ns & SBX_NS_PID))
		program(plan, &p, error_fd);

	/* Init of the new PID namespace (still root, still all signals
	   blocked): die with the service, build the mounts, start the
	   program. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(&p, CHILD_STEP_PDEATHSIG, errno);
	if (plan->ns & SBX_NS_USER) {
		/* Unmapped, this process can create nothing: wait for the
		   parent to write the maps (EOF without a byte: it failed). */
		char go;
		ssize_t n;
		/* A non-dumpable parent (runboxd) makes this process's /proc
		   files root's: its own uid could not write the maps. */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 ||
		    write(plan->userns_ready_fd, "r", 1) != 1)
			fail(&p, CHILD_STEP_USERNS, errno);
		do
			n = read(plan->userns_fd, &go, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			fail(&p, CHILD_STEP_USERNS, n < 0 ? errno : EPROTO);
	}
	if (plan->netns_fd >= 0 && setns(plan->netns_fd, CLONE_NEWNET) < 0)
		fail(&p, CHILD_STEP_SETNS_NET, errno);
	if (plan->ns & SBX_NS_MNT) {
		int op = -1;
		if (setup_root(plan, &step, &op) < 0)
			fail_op(&p, step, errno, op);
		/* The slot's cgroups, joined above, become this namespace's
		   root: /proc/self/cgroup shows "/" and nothing of the host's
		   hierarchy (runboxd's cgroup names its pid). */
		if (unshare(CLONE_NEWCGROUP) < 0)
			fail(&p, CHILD_STEP_CGROUP_NS, errno);
	}
	if (plan->ns & SBX_NS_NET && plan->netns_fd < 0 && setup_loopback() < 0)
		fail(&p, CHILD_STEP_LOOPBACK, errno);
	if (plan->ns & SBX_NS_UTS && sethostname("runbox", 6) < 0)
		fail(&p, CHILD_STEP_HOSTNAME, errno);

	if (plan->box_fd >= 0)
		box_main(plan, error_fd);

	struct clone_args args = { .exit_signal = SIGCHLD };
	long pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0)
		fail(&p, CHILD_STEP_FORK, errno);
	if (pid == 0) {
		if (setsid() < 0)
			fail(&p, CHILD_STEP_SETSID, errno);
		program(plan, &p, error_fd);
	}
	reaper(plan, (pid_t)pid);
}

/*
 * sbx_netns_create()'s child: a fresh network namespace with loopback up,
 * then wait until the parent has opened it (EOF on the pipe).
 *
 * A slot's runs share this namespace, and a TCP connection outlives the
 * processes that closed it in TIME_WAIT (60 s): the next run would see it
 * in /proc/net/tcp (addresses, ports, which side closed).  With no
 * TIME_WAIT buckets (a per-namespace sysctl) a closed connection goes at
 * once; the kernel counts each one in TCPTimeWaitOverflow, nothing more.
 * Renewing the namespace per run would do it too, at about 1 ms a run.
 */
_Noreturn void netns_holder_main(int wait_fd)
{
	char c;
	if (setup_loopback() < 0)
		_exit(1);
	/* The net sysctls are those of the opener's network namespace. */
	int fd = open("/proc/sys/net/ipv4/tcp_max_tw_buckets", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		_exit(2);
	close(fd);
	while (read(wait_fd, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}
