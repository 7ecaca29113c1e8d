/*
 * seccomp.c - the system call filter of every sandboxed program.
 *
 * The policy is a deny list on top of uid, namespace and cgroup isolation:
 * the calls below open kernel attack surface or the way out of the
 * namespaces, and no ordinary program (python3, gcc, sh, a JVM) needs them.
 * They fail with EPERM, which programs handle like any refused operation.
 *
 * A deny list fails open where it is silent, so the filter closes the three
 * ways it could be:
 *  - arguments: clone() with any CLONE_NEW* flag is refused (a new user
 *    namespace gives a full capability set inside it, and with it the
 *    netfilter, packet-socket and mount surface of most recent local-root
 *    exploits); clone3() answers ENOSYS, because its flags live in memory
 *    a filter cannot read, and glibc then falls back to clone() for
 *    threads, fork, vfork and posix_spawn; socket(AF_VSOCK) and
 *    personality() with anything but the default personalities (no way to
 *    switch ASLR off, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO...) are refused;
 *  - names libseccomp does not know yet: on x86_64 the table below carries
 *    their numbers, elsewhere an unknown name is an error at start, never a
 *    silently missing rule;
 *  - system calls newer than the filter: on x86_64 every number above the
 *    highest one it was written against answers ENOSYS, as on a kernel that
 *    lacks them (programs fall back as they do there).
 * A system call made through a foreign ABI (i386 int 0x80 or x32 on x86_64)
 * could bypass all of this, so it kills the process (SIGSYS).
 *
 * libseccomp allocates, so it cannot run in the child after clone.  The
 * filter is compiled once per process, exported as BPF into a memfd, read
 * back into memory behind a short hand-written prefix (the two x86_64 rules
 * libseccomp cannot express: a number range and a set of allowed values of
 * one argument), and the child installs that with one prctl().
 */
#include "config.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

const char *const sbx_seccomp_denied[] = {
	/* debugging and reading other processes */
	"ptrace", "process_vm_readv", "process_vm_writev", "process_madvise",
	"kcmp", "pidfd_getfd",
	/* kernel attack surface */
	"bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
	"io_uring_enter", "io_uring_register", "keyctl", "add_key",
	"request_key", "lookup_dcookie", "fanotify_init", "open_by_handle_at",
	"name_to_handle_at", "modify_ldt", "memfd_secret", "uselib",
	/* the way out of the namespaces, and what shows the host's mounts */
	"mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"move_mount", "open_tree", "open_tree_attr", "fsopen", "fsmount",
	"fsconfig", "fspick", "mount_setattr", "statmount", "listmount",
	/* the machine itself */
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl",
	"quotactl_fd", "settimeofday", "clock_settime", "clock_adjtime",
	"adjtimex", "syslog", "vhangup", "iopl", "ioperm",
	NULL,
};

/* Namespace flags clone() must not carry.  (CLONE_NEWTIME shares its bit
   with the exit signal in clone()'s flags: only clone3 and unshare take it,
   and both are refused whole.) */
static const unsigned long clone_new_flags[] = {
	CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
};

#if defined(__x86_64__)
/* x86_64 numbers of the denied calls that libseccomp 2.5 does not name. */
static const struct { const char *name; int nr; } x86_64_numbers[] = {
	{ "statmount", 457 },
	{ "listmount", 458 },
	{ "open_tree_attr", 467 },
};

/* The filter was written against Linux 6.18's x86_64 table, whose last
   call is file_setattr (469).  Review the list above when raising this. */
#define HIGHEST_KNOWN_NR 469
#define X32_SYSCALL_BIT 0x40000000u
#define PERSONALITY_NR SYS_personality
/* personality(): PER_LINUX, PER_LINUX32 and the query 0xffffffff. */
#define PER_LINUX_ 0x0000u
#define PER_LINUX32_ 0x0008u
#define PER_QUERY 0xffffffffu

#define LD_W(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define JGE(k, t, f) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (k), (t), (f))
#define JGT(k, t, f) BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (k), (t), (f))
#define RET(k) BPF_STMT(BPF_RET | BPF_K, (k))

/*
 * Runs before libseccomp's program; "next" falls through to it (jump
 * offsets are relative, so prepending keeps its own jumps right).  The low
 * word of args[0] is personality()'s whole argument (an unsigned int).
 */
static const struct sock_filter prefix[] = {
	/* 0 */ LD_W(offsetof(struct seccomp_data, arch)),
	/* 1 */ JEQ(AUDIT_ARCH_X86_64, 0, 10),            /* else next */
	/* 2 */ LD_W(offsetof(struct seccomp_data, nr)),
	/* 3 */ JGE(X32_SYSCALL_BIT, 8, 0),               /* x32: next (kills) */
	/* 4 */ JGT(HIGHEST_KNOWN_NR, 6, 0),              /* newer: ENOSYS */
	/* 5 */ JEQ(PERSONALITY_NR, 0, 6),                /* else next */
	/* 6 */ LD_W(offsetof(struct seccomp_data, args[0])),
	/* 7 */ JEQ(PER_LINUX_, 4, 0),
	/* 8 */ JEQ(PER_LINUX32_, 3, 0),
	/* 9 */ JEQ(PER_QUERY, 2, 0),
	/* 10 */ RET(SECCOMP_RET_ERRNO | EPERM),
	/* 11 */ RET(SECCOMP_RET_ERRNO | ENOSYS),
	/* 12: next */
};
#define PREFIX_LEN (sizeof prefix / sizeof prefix[0])
#else
#define PREFIX_LEN 0
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct sock_fprog prog;
static char why_not[256];

/* The number of a denied call, or -1 when this architecture has none. */
static int denied_number(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr != __NR_SCMP_ERROR)
		return nr;
#if defined(__x86_64__)
	for (size_t i = 0; i < sizeof x86_64_numbers / sizeof x86_64_numbers[0]; i++)
		if (strcmp(x86_64_numbers[i].name, name) == 0)
			return x86_64_numbers[i].nr;
#endif
	return -1;
}

static int add_rules(scmp_filter_ctx ctx)
{
	int rc = 0;

	for (const char *const *name = sbx_seccomp_denied; rc == 0 && *name; name++) {
		int nr = denied_number(*name);
		if (nr < 0) {
			snprintf(why_not, sizeof why_not,
				 "libseccomp does not know the system call %s: "
				 "refusing an incomplete filter", *name);
			return -1;
		}
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	/* One rule per flag: a rule compares an argument once, rules OR. */
	for (size_t i = 0; rc == 0 && i < sizeof clone_new_flags / sizeof clone_new_flags[0]; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, clone_new_flags[i],
					      clone_new_flags[i]));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_VSOCK));
	if (rc < 0)
		snprintf(why_not, sizeof why_not, "building the filter: %s", strerror(-rc));
	return rc;
}

static void build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	struct sock_filter *f = NULL;
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
	if (rc < 0) {
		snprintf(why_not, sizeof why_not, "configuring the filter: %s", strerror(-rc));
		goto out;
	}
	if (add_rules(ctx) < 0)
		goto out;
	fd = memfd_create("runbox-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0 ||
	    (len = lseek(fd, 0, SEEK_END)) <= 0 || len % sizeof *f) {
		snprintf(why_not, sizeof why_not, "exporting the filter failed");
		goto out;
	}
	size_t n = (size_t)len / sizeof *f + PREFIX_LEN;
	if (n > BPF_MAXINSNS || !(f = calloc(n, sizeof *f)) ||
	    pread(fd, f + PREFIX_LEN, (size_t)len, 0) != len) {
		free(f);
		snprintf(why_not, sizeof why_not, "reading the filter back failed");
		goto out;
	}
#if defined(__x86_64__)
	memcpy(f, prefix, sizeof prefix);
#endif
	prog.filter = f;
	prog.len = (unsigned short)n;
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
