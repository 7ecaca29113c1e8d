/*
 * sandbox.h - run one untrusted program under limits and report everything.
 *
 * This header is the only door between sandbox/ and the rest of runbox.
 * sandbox/ knows nothing of JSON or HTTP; it turns a struct sbx_spec into a
 * struct sbx_result with one call, sbx_run().
 *
 * Two kinds of failure are kept apart:
 *  - the program failed (crashed, exceeded a limit, could not be executed):
 *    sbx_run() returns 0 and the result's status says what happened;
 *  - the sandbox failed (pipe2, fork, poll... returned an error): sbx_run()
 *    returns -1 and fills the caller's error buffer with a sentence.
 *
 * sbx_run() is thread-safe: many runs may proceed at once in one process,
 * each reaping only its own child.  It never touches SIGCHLD.
 */
#ifndef RUNBOX_SANDBOX_H
#define RUNBOX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Run statuses.  One table generates the enum and the names, so
 * sbx_status_name() can never drift from the enum.
 */
#define SBX_STATUS_MAP(X)                                   \
	X(OK, "ok")                                         \
	X(NONZERO_EXIT, "nonzero_exit")                     \
	X(SIGNALED, "signaled")                             \
	X(CPU_TIME_EXCEEDED, "cpu_time_exceeded")           \
	X(WALL_TIME_EXCEEDED, "wall_time_exceeded")         \
	X(MEMORY_EXCEEDED, "memory_exceeded")               \
	X(OUTPUT_EXCEEDED, "output_exceeded")               \
	X(FILE_SIZE_EXCEEDED, "file_size_exceeded")         \
	X(EXEC_FAILED, "exec_failed")                       \
	X(CANCELLED, "cancelled")

enum sbx_status {
#define SBX_STATUS_ENUM(id, name) SBX_##id,
	SBX_STATUS_MAP(SBX_STATUS_ENUM)
#undef SBX_STATUS_ENUM
	SBX_STATUS_COUNT
};

/* "ok", "nonzero_exit", ...; "unknown" for an out-of-range value. */
const char *sbx_status_name(enum sbx_status status);

/*
 * Limits.  0 means "no limit" for every field.  Byte counts are bytes,
 * times are milliseconds.
 */
struct sbx_limits {
	uint64_t cpu_time_ms;     /* CPU time (user + system) of the run */
	uint64_t wall_time_ms;    /* monotonic time from start to end */
	uint64_t memory_bytes;    /* cgroup memory limit of the tree, else
				     RLIMIT_AS per process */
	uint64_t stack_bytes;     /* RLIMIT_STACK */
	uint64_t processes;       /* cgroup pids limit and RLIMIT_NPROC */
	uint64_t open_files;      /* RLIMIT_NOFILE */
	uint64_t file_size_bytes; /* RLIMIT_FSIZE */
	uint64_t output_bytes;    /* cap per stream (stdout, stderr) */
	uint64_t disk_bytes;      /* the run's files (work dir, /tmp, /dev/shm):
				     the size of the tmpfs the caller makes and
				     passes as workfs_fd_plus1; not applied here */
};

/*
 * Resource control with cgroups: one cgroup per execution slot, created
 * once and reused for every run of that slot.  With a cgroup, memory_bytes
 * is the memory limit of the whole process tree (and an OOM kill is
 * memory_exceeded), processes is its pids limit (threads count), CPU time
 * and peak memory are the whole tree's, and every process left in the
 * cgroup is killed at the end of the run.  Without one, rlimits only.
 */
struct sbx_cgroup;

enum sbx_cgroup_mode { SBX_CGROUP_NONE, SBX_CGROUP_V1, SBX_CGROUP_V2 };

/*
 * Find what this process may use, beneath the cgroup it runs in (never at a
 * hierarchy's root, never moving a process out of its own subtree), and
 * make the instance's parent cgroup, named "<prefix>.<pid namespace
 * inode>.<pid>" (e.g. "runbox.4026531836.1234") and held with flock() for
 * as long as this process or a child lives; dead instances' cgroups of the
 * same prefix beside it are removed.
 * Fills `what` with a description for health reports ("cgroup v1: memory,
 * pids, cpuacct, freezer" or why none).  Call once per process, before any
 * thread or worker is started.
 */
enum sbx_cgroup_mode sbx_cgroup_init(const char *prefix, char *what, size_t len);
/* Remove the instance's (empty) parent cgroup again. */
void sbx_cgroup_fini(void);
/* The slot's cgroup "<instance>/<name>": 0, or -1 with a sentence. */
int sbx_cgroup_create(struct sbx_cgroup **cg, const char *name, char *err,
		      size_t errlen);
/* Kill every process in it and wait (bounded) until it is empty. */
int sbx_cgroup_kill(struct sbx_cgroup *cg, char *err, size_t errlen);
/* Kill what is left in it and remove it. */
void sbx_cgroup_destroy(struct sbx_cgroup *cg);

/* Namespaces a run may get (sbx_spec.namespaces). */
#define SBX_NS_PID  0x01u /* own PID namespace: the tree dies with the run;
			     /proc shows only the run's processes */
#define SBX_NS_MNT  0x02u /* own mount namespace and a new minimal root
			     (struct sbx_root); also a cgroup namespace */
#define SBX_NS_NET  0x04u /* own network namespace: loopback only */
#define SBX_NS_IPC  0x08u
#define SBX_NS_UTS  0x10u /* hostname "runbox" */
#define SBX_NS_ALL  0x1fu
/* Own user namespace, for a caller that is not root: the caller's uid and
   gid are mapped to 0 inside, the namespaces above are owned by it, and the
   program runs as that 0 without any capability (set_ids is ignored). */
#define SBX_NS_USER 0x20u

/*
 * The seccomp filter (built once per process, on first use): the calls in
 * the table below return EPERM, and so do clone() with a CLONE_NEW* flag,
 * socket(AF_VSOCK) and personality() other than PER_LINUX/PER_LINUX32;
 * clone3() and (on x86_64) every call newer than the filter return ENOSYS;
 * a foreign system call ABI (x32, i386 on x86_64) kills the process with
 * SIGSYS.  Returns NULL when the filter is in force, else why not (a denied
 * name libseccomp cannot resolve is such a reason, never skipped).
 */
const char *sbx_seccomp_status(void);
/* The refused system calls, NULL-terminated (for reports and tests). */
extern const char *const sbx_seccomp_denied[];

/*
 * A network namespace with only loopback, up: made once per slot and joined
 * by each of its runs, which saves the ~0.5 ms a new one costs per run.
 * Nothing a program can do survives it in there: it has no capability to
 * change the namespace, and its sockets die with it.  Returns an O_CLOEXEC
 * fd, or -1 with a sentence.  Needs root (not for SBX_NS_USER runs).
 */
int sbx_netns_create(char *err, size_t errlen);

/*
 * The root a run with SBX_NS_MNT sees: an allow-list, never "the host minus
 * something".  The init of the run builds it on a small tmpfs and
 * pivot_root()s into it:
 *   - each path of binds, at the same path, read-only, nosuid, nodev, with
 *     what is mounted below it; a path missing on the host is skipped, a
 *     symlink is copied as a symlink (merged-/usr's /bin -> usr/bin);
 *   - /etc/passwd, /etc/group and /etc/hosts, generated: root, the run's
 *     user ("runbox", spec.uid/gid), nobody; localhost and "runbox";
 *   - /dev: the host's nodes of sbx_root_devices (bind mounts, which work
 *     in a user namespace where mknod does not), fd/stdin/stdout/stderr
 *     links, a private devpts instance (ptys at most) with ptmx, /dev/shm;
 *   - /proc of the run's PID namespace, a private /tmp;
 *   - the work directory (spec.cwd, or the run's file system), writable,
 *     at spec.box_dir (or at cwd's own path without one).
 * Nothing else of the host: no /sys, /run, /var, /home.  The root itself
 * is read-only once built.
 */
struct sbx_root {
	char *const *binds;     /* absolute host paths, NULL-terminated */
	unsigned ptys;          /* pty limit of the private devpts (0: 16) */
};

/* The device nodes a root's /dev holds, NULL-terminated ("null", ...). */
extern const char *const sbx_root_devices[];

/*
 * A box: a long-lived init made once in its own namespaces, cgroup and
 * minimal root (box.c); each run given to it is a fork inside it, with no
 * namespace, root or cgroup set up on the way.  One run at a time.
 */
struct sbx_box;
struct sbx_spec;

/*
 * Make a box from tmpl's isolation: namespaces (SBX_NS_PID and SBX_NS_MNT
 * required), root, box_dir (required: where each run's "work" is mounted
 * and where it starts), tmp_size, cgroup, netns_fd_plus1 and seccomp; the
 * rest of tmpl is ignored.  0, or -1 with a sentence.
 */
int sbx_box_create(struct sbx_box **box, const struct sbx_spec *tmpl,
		   char *err, size_t errlen);
/* Is its init alive?  (A dead one is destroyed and made again.) */
bool sbx_box_alive(struct sbx_box *box);
/* Its init's pid (for reports and tests). */
pid_t sbx_box_pid(const struct sbx_box *box);
/* Kill its init (everything in it dies with it) and free it. */
void sbx_box_destroy(struct sbx_box *box);
/*
 * Sharing a box with other processes (runboxd's master makes the boxes, its
 * workers run in them): the maker hands out copies of the box's socket and
 * pidfd (sbx_box_fds; e.g. by SCM_RIGHTS); the receiver makes its handle
 * with sbx_box_attach (it owns the fds from then on, also on failure: -1
 * only when out of memory), giving the init's pid and the cgroup and
 * namespaces the box was made with, and lets go of it with
 * sbx_box_release, which leaves the init running.  Only the maker may
 * sbx_box_destroy (it reaps the init).
 */
void sbx_box_fds(const struct sbx_box *box, int *sock, int *pidfd);
int sbx_box_attach(struct sbx_box **box, int sock, int pidfd, pid_t init,
		   struct sbx_cgroup *cg, unsigned namespaces);
void sbx_box_release(struct sbx_box *box);

struct sbx_spec {
	/* Run in this box (see above): its namespaces, root, cgroup and
	   network are the run's, and namespaces, root, netns_fd_plus1 and
	   cgroup below are ignored; workfs_fd_plus1 is required.  The
	   limits, identity, seccomp, argv, envp, stdin, output and
	   cancellation are the run's own as without a box. */
	struct sbx_box *box;
	char *const *argv;      /* argv[0] is executed directly; a name
				   without '/' is searched in envp's PATH */
	char *const *envp;      /* exact environment (NULL = empty) */
	const char *cwd;        /* working directory (NULL = inherit); with
				   SBX_NS_MNT it is mounted at the same path
				   in the new root (NULL: the program starts
				   in "/") */
	const void *stdin_data; /* bytes fed to stdin, then EOF */
	size_t stdin_len;
	bool set_ids;           /* drop to uid/gid (no supplementary groups) */
	uid_t uid;
	gid_t gid;
	bool rlimit_as;         /* apply limits.memory_bytes as RLIMIT_AS when
				   no cgroup memory controller is in force */
	struct sbx_cgroup *cgroup; /* the slot's cgroup, or NULL */
	int netns_fd_plus1;     /* with SBX_NS_NET: 1 + an fd from
				   sbx_netns_create to join instead of making a
				   new namespace; 0 (the default) = a new one */
	unsigned namespaces;    /* SBX_NS_* */
	const struct sbx_root *root; /* required with SBX_NS_MNT */
	int workfs_fd_plus1;    /* with SBX_NS_MNT and cwd: 1 + a detached
				   mount (fsmount) whose "work", "tmp" and
				   "shm" become cwd, /tmp and /dev/shm: one
				   quota for all of the run's files; 0: cwd is
				   a host directory, /tmp and /dev/shm tmpfs of
				   tmp_size each */
	const char *box_dir;    /* with SBX_NS_MNT: where the work directory
				   (cwd of the host, or workfs's "work")
				   appears in the new root and where the
				   program starts, e.g. "/box": a fixed path
				   that names nothing of the host.  NULL: at
				   cwd's own path */
	const char *tmp_size;   /* size of the private /tmp and /dev/shm
				   ("64m"); NULL = "64m" */
	bool seccomp;           /* NO_NEW_PRIVS + the seccomp filter */
	struct sbx_limits limits;

	/* Cancellation: 1 + a descriptor the run watches (a socket, a pipe's
	   read end), 0 (the default) = none.  When its peer hangs up
	   (POLLRDHUP, POLLHUP or POLLERR) the process tree is killed and the
	   run ends with status cancelled.  The descriptor stays the
	   caller's: it is polled, never read or closed. */
	int cancel_fd_plus1;
	/* stderr goes into the stdout pipe: out holds both in the order the
	   program wrote them (one output_bytes cap), err stays empty. */
	bool merge_output;
	/* Live output, or NULL: called on the thread of sbx_run() with the
	   bytes of stream 1 (stdout) or 2 (stderr) as the program writes
	   them, in order, never past the output_bytes cap: what the calls
	   carry is exactly what the result's out and err hold.  Small writes
	   are gathered for at most SBX_OUTPUT_DELAY_MS (below); between the two
	   streams the order is that of the first byte of each call (exact
	   only with merge_output).  A return of -1 cancels the run as
	   cancel_fd does (the reader is gone). */
	int (*on_output)(void *arg, int stream, const char *data, size_t len);
	void *on_output_arg;
};

/* The longest on_output holds back bytes it has read, in milliseconds;
   they go at once when SBX_OUTPUT_BATCH bytes of a stream wait.  So a
   stream gets at most one call per delay or batch, one more at the end. */
#define SBX_OUTPUT_DELAY_MS 20
#define SBX_OUTPUT_BATCH 65536

/* A captured stream: exactly the first `len` bytes the program wrote. */
struct sbx_buf {
	char *data; /* NUL-terminated for convenience; may contain NULs */
	size_t len;
	bool truncated; /* the program wrote more than the cap */
};

struct sbx_usage {
	uint64_t cpu_time_ms;    /* user + system */
	uint64_t user_time_ms;
	uint64_t system_time_ms;
	uint64_t wall_time_ms;
	uint64_t max_rss_bytes;  /* with a cgroup: the tree's peak memory;
				    without: the kernel's ru_maxrss, which also
				    counts pages the child shared with its
				    parent before execve */
	uint64_t disk_bytes;     /* with a run's file system (workfs_fd_plus1):
				    the bytes its files (work dir, /tmp,
				    /dev/shm) use when the run has ended, from
				    statfs; 0 without one */
};

struct sbx_result {
	enum sbx_status status;
	int exit_code;  /* -1 when the program did not exit normally */
	int signal;     /* terminating signal, 0 when it exited */
	struct sbx_buf out;
	struct sbx_buf err;
	struct sbx_usage usage;
	char message[256]; /* one human sentence explaining the status */
	bool leftovers;    /* processes of the run survived the final kill:
			      the caller must log it loudly */
};

/*
 * Run spec to completion.  Returns 0 with *res filled (free it with
 * sbx_result_free), or -1 with a sentence in errbuf when the sandbox itself
 * failed; *res then holds nothing to free.
 */
int sbx_run(const struct sbx_spec *spec, struct sbx_result *res,
	    char *errbuf, size_t errlen);

void sbx_result_free(struct sbx_result *res);

/* "SIGKILL", "SIGSEGV"...; NULL for an unknown signal number. */
const char *sbx_signal_name(int sig);

#endif
