/*
 * seccomp.c - the system call filter of every sandboxed program.
 *
 * The policy is a deny list on top of uid, namespace and cgroup isolation:
 * the calls below open kernel attack surface or the way out of the
 * namespaces, and no ordinary program (python3, gcc, sh) needs them.  They
 * fail with EPERM, which programs handle like any refused operation.  A
 * system call made through a foreign ABI (i386 int 0x80 or x32 on x86_64)
 * could bypass a filter written for the native numbers, so it kills the
 * process (SIGSYS).
 *
 * libseccomp allocates, so it cannot run in the child after clone.  The
 * filter is compiled once per process, exported as BPF into a memfd, read
 * back into memory, and the child installs that with one prctl().
 */
#include "config.h"

#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

const char *const sbx_seccomp_denied[] = {
	/* debugging and reading other processes */
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"pidfd_getfd",
	/* kernel attack surface */
	"bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
	"io_uring_enter", "io_uring_register", "keyctl", "add_key",
	"request_key", "lookup_dcookie", "fanotify_init", "open_by_handle_at",
	"name_to_handle_at",
	/* the way out of the namespaces */
	"mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"move_mount", "open_tree", "fsopen", "fsmount", "fsconfig", "fspick",
	"mount_setattr",
	/* the machine itself */
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"syslog", "vhangup", "iopl", "ioperm",
	NULL,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct sock_fprog prog;
static char why_not[256];

static void build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fd = -1, rc;
	off_t len;

	if (!ctx) {
		snprintf(why_not, sizeof why_not, "seccomp_init failed");
		return;
	}
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* NO_NEW_PRIVS is set by the child itself, before loading. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (const char *const *name = sbx_seccomp_denied; rc == 0 && *name; name++) {
		int nr = seccomp_syscall_resolve_name(*name);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	if (rc < 0) {
		snprintf(why_not, sizeof why_not, "building the filter: %s", strerror(-rc));
		goto out;
	}
	fd = memfd_create("runbox-seccomp", MFD_CLOEXEC);
	if (fd < 0 || (rc = seccomp_export_bpf(ctx, fd)) < 0 ||
	    (len = lseek(fd, 0, SEEK_END)) <= 0) {
		snprintf(why_not, sizeof why_not, "exporting the filter failed");
		goto out;
	}
	struct sock_filter *f = malloc((size_t)len);
	if (!f || pread(fd, f, (size_t)len, 0) != len) {
		free(f);
		snprintf(why_not, sizeof why_not, "reading the filter back failed");
		goto out;
	}
	prog.filter = f;
	prog.len = (unsigned short)((size_t)len / sizeof *f);
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
}

const struct sock_fprog *seccomp_program(void)
{
	pthread_once(&once, build);
	return prog.filter ? &prog : NULL;
}

const char *sbx_seccomp_status(void)
{
	return seccomp_program() ? NULL : why_not;
}
