/*
 * internal.h - what the parent side (run.c) hands to the child side
 * (child.c).  Not part of the public interface.
 */
#ifndef RUNBOX_SANDBOX_INTERNAL_H
#define RUNBOX_SANDBOX_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

struct sock_fprog;

/*
 * The child's setup steps, in the order it performs them.  A failure is
 * reported to the parent as {step, errno}; the names appear in messages
 * ("setrlimit(RLIMIT_AS): Invalid argument", "chdir: No such file...").
 */
#define CHILD_STEP_MAP(X)                                  \
	X(SETSID, "setsid")                                \
	X(CGROUP, "join the slot's cgroup")                \
	X(SIGNALS, "reset signals")                        \
	X(FDS, "set up stdin/stdout/stderr")               \
	X(CLOSE_FDS, "close inherited descriptors")        \
	X(RLIMIT_CPU, "setrlimit(RLIMIT_CPU)")             \
	X(RLIMIT_AS, "setrlimit(RLIMIT_AS)")               \
	X(RLIMIT_STACK, "setrlimit(RLIMIT_STACK)")         \
	X(RLIMIT_NPROC, "setrlimit(RLIMIT_NPROC)")         \
	X(RLIMIT_NOFILE, "setrlimit(RLIMIT_NOFILE)")       \
	X(RLIMIT_FSIZE, "setrlimit(RLIMIT_FSIZE)")         \
	X(RLIMIT_CORE, "setrlimit(RLIMIT_CORE)")           \
	X(NAMESPACES, "set up namespaces")                 \
	X(USERNS, "wait for the user namespace maps")      \
	X(CAPS, "drop capabilities")                       \
	X(MOUNT_WORKDIR, "keep the work directory visible") \
	X(MOUNT_PRIVATE, "make mounts private")            \
	X(ROOT_TMPFS, "mount the new root's tmpfs")        \
	X(ROOT_DIR, "make a directory in the new root")    \
	X(ROOT_FILE, "write a file of the new root")       \
	X(ROOT_SYMLINK, "make a symlink in the new root")  \
	X(ROOT_DEVICE, "bind a device node into the new root") \
	X(ROOT_MOUNT, "mount a private file system in the new root") \
	X(ROOT_BIND, "bind an allowed path read-only")     \
	X(ROOT_WORKDIR, "mount the work directory in the new root") \
	X(ROOT_WORKFS, "mount the run's file system in the new root") \
	X(PIVOT_ROOT, "pivot_root into the new root")      \
	X(ROOT_READONLY, "make the new root read-only")    \
	X(CGROUP_NS, "unshare the cgroup namespace")       \
	X(LOOPBACK, "bring up loopback")                   \
	X(SETNS_NET, "join the slot's network namespace")  \
	X(HOSTNAME, "sethostname")                         \
	X(FORK, "fork the program")                        \
	X(SETGROUPS, "setgroups")                          \
	X(SETGID, "setresgid")                             \
	X(SETUID, "setresuid")                             \
	X(PDEATHSIG, "prctl(PR_SET_PDEATHSIG)")            \
	X(CHDIR, "chdir")                                  \
	X(NO_NEW_PRIVS, "prctl(PR_SET_NO_NEW_PRIVS)")      \
	X(SECCOMP, "install the seccomp filter")           \
	X(EXECVE, "execve")

enum child_step {
#define CHILD_STEP_ENUM(id, name) CHILD_STEP_##id,
	CHILD_STEP_MAP(CHILD_STEP_ENUM)
#undef CHILD_STEP_ENUM
	CHILD_STEP_COUNT
};

const char *child_step_name(int step);

/* Write text to dirfd/path (a /proc or cgroupfs file) in one write:
   0, or -1 with errno. */
int sbx_write_file(int dirfd, const char *path, const char *text);

/* Fill a caller's error buffer (NULL or 0 length: nothing). */
void sbx_set_error(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * After execve (or, with is_cwd, chdir) of path failed with EACCES: when a
 * directory on the way is one the run's user may not enter, a sentence
 * naming it in why ("the run's user (uid 60003) cannot enter /root (mode
 * 0700)") and true.  Runs in the parent (denied.c).
 */
bool explain_denied(const struct sbx_spec *spec, const char *path, bool is_cwd,
		    char *why, size_t len);

/* What travels over the error pipe when a setup step fails. */
struct child_error {
	int step;
	int err;
	int op; /* the root_op that failed (its path names it), or -1 */
};

/*
 * One step of building the run's new root, relative to it (the init's
 * working directory while it builds).  root.c plans them in the parent;
 * child.c replays them with raw system calls, in order.
 */
enum root_op_kind {
	ROOT_OP_DIR,     /* mkdir path (mode); an existing one is fine */
	ROOT_OP_FILE,    /* create path (mode) holding data[0..len) */
	ROOT_OP_SYMLINK, /* path -> data */
	ROOT_OP_BIND,    /* the host's src, cloned with its submounts, made
			    read-only (attr: MOUNT_ATTR_*), moved onto path */
	ROOT_OP_MOUNT,   /* a new file system of type src at path: flags
			    (MS_*) and options data */
	ROOT_OP_WORKDIR, /* the work directory's clone, moved onto path */
	ROOT_OP_WORKFS,  /* the run's file system (workfs_fd), moved onto path */
	ROOT_OP_SUBDIR,  /* a directory of the new root (src) bound at path */
	ROOT_OP_DETACH,  /* path unmounted (lazily) and removed */
};

struct root_op {
	enum root_op_kind kind;
	int step;          /* CHILD_STEP_* reported when it fails */
	char *path;        /* relative to the new root ("usr", "dev/null") */
	char *src;
	char *data;
	size_t len;
	unsigned mode;
	uint64_t flags;
};

/* The plan of a run's new root; root_plan_free() releases it. */
struct root_plan {
	struct root_op *ops;
	size_t n, cap;
	char mnt_opts[64]; /* the root tmpfs's options */
};

/*
 * Plan the new root for spec (SBX_NS_MNT): the allow-list read-only, the
 * generated /etc files, the minimal /dev, /proc, /tmp (tmp_opts), and the
 * work directory at spec->cwd.  0, or -1 with errno and *what naming the
 * failing step (a static string).
 */
int root_plan_build(struct root_plan *rp, const struct sbx_spec *spec,
		    const char *tmp_opts, const char **what);
void root_plan_free(struct root_plan *rp);

#define CHILD_MAX_RLIMITS 8

struct child_rlimit {
	int resource;
	int step;
	struct rlimit lim;
};

/*
 * Everything the child needs, prepared before the clone so that the child
 * only makes async-signal-safe calls.
 */
struct child_plan {
	int stdin_fd;  /* child ends of the three pipes */
	int stdout_fd;
	int stderr_fd;
	int error_fd;  /* write end of the close-on-exec error pipe */
	int join_fds[4]; /* cgroup.procs files to write "0" to (v1) */
	int njoin;
	pid_t parent_pid;

	char *const *paths; /* execve candidates, NULL-terminated */
	char *const *argv;
	char *const *envp;
	const char *cwd;       /* the host's work directory */
	const char *start_dir; /* where the program starts: cwd, or the
				  work directory's place in the new root */

	struct child_rlimit rlimits[CHILD_MAX_RLIMITS];
	int n_rlimits;

	bool set_ids;
	uid_t uid;
	gid_t gid;

	/* Namespaces (SBX_NS_*).  With SBX_NS_PID the child is the init of
	   the new namespace: it sets up mounts, forks the program, reaps, and
	   reports the program's wait status on status_fd. */
	unsigned ns;
	int status_fd;          /* write end, close-on-exec */
	const char *root_at;    /* where the new root's tmpfs is mounted
				   before pivot_root ("/tmp" of the old one) */
	const char *root_opts;  /* its mount options */
	const struct root_op *root_ops; /* how to fill it, in order */
	int workfs_fd;          /* the run's file system (a detached mount), -1 */
	size_t n_root_ops;
	const struct sock_fprog *seccomp; /* NULL: none */
	int userns_fd;          /* SBX_NS_USER: read end; a byte arrives when
				   the parent has written the uid/gid maps */
	int userns_ready_fd;    /* write end: "the maps may be written now" */
	int netns_fd;           /* join it (setns) instead of CLONE_NEWNET; -1 */
	uintptr_t arg_start, arg_end; /* this process's argv area (from
					 /proc/self/stat), overwritten in the init */
	int box_fd;             /* >= 0: the init becomes a box's init and
				   serves runs on this socket (box.c) */
};

/* The init's rename (child.c): runboxd's command line hidden. */
void rename_init(const struct child_plan *plan);
/* A box's program after the init's fork: session, stdio, program(). */
_Noreturn void child_box_program(const struct child_plan *plan);
/* In the box's init: never the OOM killer's choice, where allowed. */
void child_box_init_oom(void);
/* A box's init: serve runs until the socket closes (box.c). */
_Noreturn void box_main(const struct child_plan *plan, int error_fd);

/*
 * The box protocol, on a SOCK_SEQPACKET socketpair.  The caller sends a
 * request: one message struct box_request with the fds (stdin, stdout,
 * stderr, error pipe, and the run's file system when has_workfs), then
 * the strings (paths, argv, envp, start_dir, each NUL-terminated) in
 * messages of at most BOX_CHUNK bytes.  A one-byte message "K" at any time
 * asks the init to kill everything in the box but itself (stale ones are
 * ignored).  The init answers each request with one struct box_reply,
 * once the program is gone and the box is clean again.
 */
#define BOX_MAGIC 0x72627831u /* "rbx1" */
#define BOX_CHUNK 65536
#define BOX_MAX_STRINGS (8u << 20) /* bytes of paths, argv, envp, dir */

struct box_request {
	uint32_t magic;
	uint32_t len;        /* bytes of strings that follow */
	uint32_t npaths, argc, envc;
	uint32_t nfds;
	bool has_workfs;
	bool set_ids;
	bool seccomp;
	uid_t uid;
	gid_t gid;
	int n_rlimits;
	struct child_rlimit rlimits[CHILD_MAX_RLIMITS];
};

struct box_reply {
	uint32_t magic;
	int wstatus;          /* the program's wait status */
	struct rusage ru;     /* its own and its reaped descendants' */
	bool clean;           /* nothing but the init left in the box */
};

const struct sock_fprog *seccomp_program(void);

_Noreturn void netns_holder_main(int wait_fd);

/* Runs in the child after clone; never returns. */
_Noreturn void child_main(const struct child_plan *plan);

#endif
