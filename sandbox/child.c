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
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/internal.h"

_Noreturn static void fail(const struct child_plan *plan, int step, int err)
{
	struct child_error ce = { .step = step, .err = err };
	ssize_t n;

	do
		n = write(plan->error_fd, &ce, sizeof ce);
	while (n < 0 && errno == EINTR);
	_exit(127);
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
	if (setup_signals() < 0)
		fail(&p, CHILD_STEP_SIGNALS, errno);
	if (setup_stdio(plan, &error_fd) < 0)
		fail(&p, CHILD_STEP_FDS, errno);
	p.error_fd = error_fd;
	if (close_other_fds(error_fd) < 0)
		fail(&p, CHILD_STEP_CLOSE_FDS, errno);
	if (setup_rlimits(plan, &step) < 0)
		fail(&p, step, errno);
	if (plan->set_ids && setup_credentials(plan, &step) < 0)
		fail(&p, step, errno);
	if (setup_parent_death(plan) < 0)
		fail(&p, CHILD_STEP_PDEATHSIG, errno);
	if (plan->cwd && chdir(plan->cwd) < 0)
		fail(&p, CHILD_STEP_CHDIR, errno);
	exec_program(plan);
	fail(&p, CHILD_STEP_EXECVE, errno);
}
