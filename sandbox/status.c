/*
 * status.c - names of run statuses, child steps and signals.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

static const char *const status_names[] = {
#define SBX_STATUS_NAME(id, name) [SBX_##id] = name,
	SBX_STATUS_MAP(SBX_STATUS_NAME)
#undef SBX_STATUS_NAME
};

const char *sbx_status_name(enum sbx_status status)
{
	if ((unsigned)status >= SBX_STATUS_COUNT)
		return "unknown";
	return status_names[status];
}

static const char *const step_names[] = {
#define CHILD_STEP_NAME(id, name) [CHILD_STEP_##id] = name,
	CHILD_STEP_MAP(CHILD_STEP_NAME)
#undef CHILD_STEP_NAME
};

int sbx_write_file(int dirfd, const char *path, const char *text)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

void sbx_set_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!errbuf || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

const char *child_step_name(int step)
{
	if (step < 0 || step >= CHILD_STEP_COUNT)
		return "unknown step";
	return step_names[step];
}

/*
 * sigabbrev_np() gives "SEGV"; the API speaks "SIGSEGV".  The table is
 * built once from the C library so it covers every signal it knows.
 */
const char *sbx_signal_name(int sig)
{
	static const struct {
		int sig;
		const char *name;
	} names[] = {
#define SIG(s) { s, #s }
		SIG(SIGHUP), SIG(SIGINT), SIG(SIGQUIT), SIG(SIGILL),
		SIG(SIGTRAP), SIG(SIGABRT), SIG(SIGBUS), SIG(SIGFPE),
		SIG(SIGKILL), SIG(SIGUSR1), SIG(SIGSEGV), SIG(SIGUSR2),
		SIG(SIGPIPE), SIG(SIGALRM), SIG(SIGTERM), SIG(SIGSTKFLT),
		SIG(SIGCHLD), SIG(SIGCONT), SIG(SIGSTOP), SIG(SIGTSTP),
		SIG(SIGTTIN), SIG(SIGTTOU), SIG(SIGURG), SIG(SIGXCPU),
		SIG(SIGXFSZ), SIG(SIGVTALRM), SIG(SIGPROF), SIG(SIGWINCH),
		SIG(SIGIO), SIG(SIGPWR), SIG(SIGSYS),
#undef SIG
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].sig == sig)
			return names[i].name;
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		static const char *const rt[] = {
			"SIGRTMIN", "SIGRTMIN+1", "SIGRTMIN+2", "SIGRTMIN+3", "SIGRTMIN+4", "SIGRTMIN+5", "SIGRTMIN+6", "SIGRTMIN+7", "SIGRTMIN+8", "SIGRTMIN+9", "SIGRTMIN+10", "SIGRTMIN+11", "SIGRTMIN+12", "SIGRTMIN+13", "SIGRTMIN+14", "SIGRTMIN+15", "SIGRTMIN+16", "SIGRTMIN+17", "SIGRTMIN+18", "SIGRTMIN+19", "SIGRTMIN+20", "SIGRTMIN+21", "SIGRTMIN+22", "SIGRTMIN+23", "SIGRTMIN+24", "SIGRTMIN+25", "SIGRTMIN+26", "SIGRTMIN+27", "SIGRTMIN+28", "SIGRTMIN+29", "SIGRTMIN+30", "SIGRTMIN+31"
		};
		if (sig - SIGRTMIN < (int)(sizeof rt / sizeof rt[0]))
			return rt[sig - SIGRTMIN];
	}
	return NULL;
}
