/*
 * box.c - the init of a long-lived box: runs are forks inside it.
 *
 * Theory of operation
 * -------------------
 * A box is made once (sbx_box_create, run.c): the same clone as a run's
 * namespace init (child.c) joins the cgroup, makes the namespaces, builds
 * the minimal root and pivots into it, with /box, /tmp and /dev/shm as
 * empty mount points.  Instead of forking one program it then closes its
 * error pipe (end-of-file there tells the creator the box is ready) and
 * serves requests on its socket, one at a time, until the socket closes.
 *
 * A request (internal.h: struct box_request) carries the program's fds
 * (stdin, stdout, stderr, the caller's close-on-exec error pipe and the
 * run's detached tmpfs), the strings (execve candidates, argv, envp, the
 * start directory) and the rlimits and identity.  For each the init:
 *   1. mounts clones of the tmpfs's "work", "tmp" and "shm" on /box, /tmp
 *      and /dev/shm (the caller keeps its own mount: it wrote the files
 *      and reads them back);
 *   2. takes a fresh IPC namespace (SysV objects of one run are gone for
 *      the next);
 *   3. starts the program as posix_spawn does (CLONE_VM | CLONE_VFORK: no
 *      copy of the init's page tables): no namespace, no mount of the root
 *      and no cgroup move on this path; the child goes through child_box_program()
 *      (session, stdio, rlimits, identity, NO_NEW_PRIVS, seccomp, execve)
 *      and reports a failed step on the error pipe as a run's child does;
 *   4. waits for the program (its pidfd) while reaping orphans and
 *      listening for "K" (kill everything but me: kill(-1), which in a PID
 *      namespace's init spares only the init);
 *   5. kills everything else in the namespace, reaps it all until ECHILD,
 *      unmounts the run's file systems, and only then answers with the
 *      program's wait status and rusage: a box never takes a run it has not
 *      cleaned.
 * The caller keeps the wall and CPU limits, the output caps and the cgroup
 * usage as for any run; it kills through "K".  A box whose init died (a
 * SIGKILL from outside) is seen by its pidfd or a closed socket, and the
 * owner makes a new one.
 *
 * Per-language paths: a box is built for one struct sbx_root, so a slot
 * keeps one box per root it has served (the languages' roots are few and
 * fixed by the config); this keeps the hot path free of mounts of the
 * allow-list, and a language's extra paths are never visible to another.
 *
 * Like child.c this runs in a copy of a multi-threaded process: raw system
 * calls only, no malloc (the strings go to a buffer mapped once), no stdio.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/internal.h"

#define BOX_MAX_FDS 5
#define REAP_MS 100 /* how often orphans are reaped during a run */
#define PROGRAM_STACK (256 * 1024) /* the program's until its execve */

/* Where each part of the run's file system goes, in order. */
static const char *const workfs_parts[][2] = {
	{ "work", NULL /* the start dir's mount point: the request's box dir */ },
	{ "tmp", "/tmp" },
	{ "shm", "/dev/shm" },
};

struct box_run {
	struct box_request req;
	int fds[BOX_MAX_FDS];
	int nfds;
	const char *mounted[3];
	int nmounted;
};

/* One message; 0 at end of file; skips stale one-byte kill requests when
   a request is awaited (want_header). */
static ssize_t recv_msg(int sock, void *buf, size_t len, int *fds, int *nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * BOX_MAX_FDS)];
	} c;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	for (;;) {
		mh.msg_control = fds ? c.buf : NULL;
		mh.msg_controllen = fds ? sizeof c.buf : 0;
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1 && ((char *)buf)[0] == 'K')
			continue; /* a kill for a run that is over */
		break;
	}
	if (fds && n > 0) {
		*nfds = 0;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
				continue;
			int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k && *nfds < BOX_MAX_FDS; i++)
				memcpy(&fds[(*nfds)++], CMSG_DATA(h) + i * sizeof(int),
				       sizeof(int));
		}
	}
	return n;
}

static void close_run_fds(struct box_run *br)
{
	for (int i = 0; i < br->nfds; i++)
		close(br->fds[i]);
	br->nfds = 0;
}

/* The strings: npaths + argc + envc + 1, each NUL-terminated, into
   NULL-terminated vectors placed after them in the same buffer. */
static int parse_strings(char *buf, size_t cap, const struct box_request *req,
			 char ***paths, char ***argv, char ***envp, char **dir)
{
	const uint32_t counts[4] = { req->npaths, req->argc, req->envc, 1 };
	size_t nstr = (size_t)req->npaths + req->argc + req->envc + 1;
	size_t off = ((size_t)req->len + 15) & ~(size_t)15;
	char **v = (char **)(buf + off), **starts[4];
	char *s = buf, *end = buf + req->len;
	size_t k = 0;

	if (nstr > req->len || off + (nstr + 4) * sizeof(char *) > cap)
		return -1;
	for (int g = 0; g < 4; g++) {
		starts[g] = v + k;
		for (uint32_t i = 0; i < counts[g]; i++) {
			char *z = memchr(s, '\0', (size_t)(end - s));
			if (!z)
				return -1;
			v[k++] = s;
			s = z + 1;
		}
		v[k++] = NULL;
	}
	*paths = starts[0];
	*argv = starts[1];
	*envp = starts[2];
	*dir = starts[3][0];
	return 0;
}

static int mount_part(int workfs, const char *part, const char *at)
{
	int fd = (int)syscall(SYS_open_tree, workfs, part,
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = (int)syscall(SYS_move_mount, fd, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static void unmount_run(struct box_run *br)
{
	while (br->nmounted > 0)
		umount2(br->mounted[--br->nmounted], MNT_DETACH);
}

/* Everything in the namespace but this process, killed and reaped. */
static void clean_box(void)
{
	kill(-1, SIGKILL);
	for (;;) {
		pid_t p = (pid_t)wait4(-1, NULL, __WALL, NULL);
		if (p < 0 && errno == ECHILD)
			break;
	}
}

static void reply(int sock, int wstatus, const struct rusage *ru)
{
	struct box_reply rep = { .magic = BOX_MAGIC, .wstatus = wstatus, .clean = true };
	if (ru)
		rep.ru = *ru;
	while (send(sock, &rep, sizeof rep, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void report_step(int error_fd, int step, int err)
{
	struct child_error ce = { .step = step, .err = err, .op = -1 };
	while (write(error_fd, &ce, sizeof ce) < 0 && errno == EINTR)
		;
}

/* Wait for the program while reaping orphans and obeying "K".  Returns
   its wait status, or -1 when the socket closed (the owner is gone). */
static int watch(int sock, pid_t prog, int pidfd, struct rusage *ru)
{
	int status = 0;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sock, .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};
		int rc = poll(pfd, 2, REAP_MS);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (pfd[0].revents) {
			char c[16];
			ssize_t n = recv(sock, c, sizeof c, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return -1;
			if (n > 0)
				kill(-1, SIGKILL);
		}
		/* Orphans, and the program once it is gone. */
		for (;;) {
			struct rusage r;
			int st;
			pid_t p = (pid_t)wait4(-1, &st, __WALL | WNOHANG, &r);
			if (p <= 0)
				break;
			if (p == prog) {
				*ru = r;
				status = st;
				return status;
			}
		}
	}
}

#ifndef __SANITIZE_ADDRESS__
static int program_main(void *plan)
{
	child_box_program(plan);
}
#endif

/*
 * Start the program the way posix_spawn does: the child shares the init's
 * memory (CLONE_VM) and runs on a stack of its own until its execve, while
 * the init waits (CLONE_VFORK).  No page table is copied and no page is
 * copied on write afterwards, which a fork of the init (a copy of runboxd)
 * would cost on every run.  The child's side (child.c) makes raw system
 * calls only and writes nothing the init reads but the stack given here,
 * which the next run reuses: the init resumes only once the child has
 * exec'd or exited.  Its pid, or -1.
 */
static long spawn_program(struct child_plan *p, char *stack, int *pidfd)
{
#ifdef __SANITIZE_ADDRESS__
	/*
	 * Under ASan (the test build) a fork: on a stack ASan does not know,
	 * its no-return hook prints a warning to fd 2, which is the program's
	 * stderr by then.  The plain build (production, and make distcheck's
	 * run of every suite) takes the path below.
	 */
	struct clone_args args = {
		.flags = CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
	};
	(void)stack;
	long pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid == 0)
		child_box_program(p);
	return pid;
#else
	return clone(program_main, stack + PROGRAM_STACK,
		     CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, p, pidfd);
#endif
}

_Noreturn void box_main(const struct child_plan *plan, int error_fd)
{
	const size_t cap = BOX_MAX_STRINGS + 4 * 65536;
	char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *stack = mmap(NULL, PROGRAM_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	int sock = plan->box_fd;

	if (buf == MAP_FAILED || stack == MAP_FAILED) {
		report_step(error_fd, CHILD_STEP_FORK, errno);
		_exit(127);
	}
	rename_init(plan);
	child_box_init_oom();
	/* Ready: end-of-file on the creator's error pipe. */
	close(error_fd);
	syscall(SYS_close_range, 0U, (unsigned)sock - 1, 0U);
	syscall(SYS_close_range, (unsigned)sock + 1, ~0U, 0U);

	for (;;) {
		struct box_run br = { .nfds = 0 };
		char **paths, **argv, **envp, *dir;
		ssize_t n = recv_msg(sock, &br.req, sizeof br.req, br.fds, &br.nfds);
		if (n <= 0)
			_exit(0);
		if ((size_t)n != sizeof br.req || br.req.magic != BOX_MAGIC ||
		    br.req.len > BOX_MAX_STRINGS || br.nfds != (int)br.req.nfds ||
		    br.nfds < 4 || (br.req.has_workfs && br.nfds < 5) ||
		    br.req.n_rlimits < 0 || br.req.n_rlimits > CHILD_MAX_RLIMITS)
			_exit(1); /* the protocol is broken: the owner rebuilds */
		for (size_t got = 0; got < br.req.len;) {
			n = recv_msg(sock, buf + got, br.req.len - got, NULL, NULL);
			if (n <= 0)
				_exit(n == 0 ? 0 : 1);
			got += (size_t)n;
		}
		if (parse_strings(buf, cap, &br.req, &paths, &argv, &envp, &dir) < 0)
			_exit(1);

		struct child_plan p = *plan;
		p.stdin_fd = br.fds[0];
		p.stdout_fd = br.fds[1];
		p.stderr_fd = br.fds[2];
		p.error_fd = br.fds[3];
		p.paths = paths;
		p.argv = argv;
		p.envp = envp;
		p.start_dir = dir;
		p.set_ids = br.req.set_ids;
		p.uid = br.req.uid;
		p.gid = br.req.gid;
		p.n_rlimits = br.req.n_rlimits;
		memcpy(p.rlimits, br.req.rlimits, sizeof p.rlimits);
		if (!br.req.seccomp)
			p.seccomp = NULL;

		int step = -1;
		if (br.req.has_workfs) {
			for (size_t i = 0; i < 3; i++) {
				const char *at = workfs_parts[i][1] ? workfs_parts[i][1] : dir;
				if (mount_part(br.fds[4], workfs_parts[i][0], at) < 0) {
					step = CHILD_STEP_ROOT_WORKFS;
					break;
				}
				br.mounted[br.nmounted++] = at;
			}
		}
		if (step < 0 && plan->ns & SBX_NS_IPC && unshare(CLONE_NEWIPC) < 0)
			step = CHILD_STEP_NAMESPACES;
		if (step >= 0) {
			report_step(p.error_fd, step, errno);
			/* The IPC namespace may be new; the mounts go below. */
			close_run_fds(&br);
			unmount_run(&br);
			reply(sock, 127 << 8, NULL);
			continue;
		}

		int pidfd = -1;
		long pid = spawn_program(&p, stack, &pidfd);
		if (pid < 0)
			report_step(p.error_fd, CHILD_STEP_FORK, errno);
		close_run_fds(&br);
		if (pid < 0) {
			unmount_run(&br);
			reply(sock, 127 << 8, NULL);
			continue;
		}
		struct rusage ru;
		memset(&ru, 0, sizeof ru);
		int status = watch(sock, (pid_t)pid, pidfd, &ru);
		close(pidfd);
		clean_box();
		unmount_run(&br);
		if (status < 0)
			_exit(0);
		reply(sock, status, &ru);
	}
}
