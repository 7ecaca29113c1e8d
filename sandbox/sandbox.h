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
	X(EXEC_FAILED, "exec_failed")

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
	uint64_t memory_bytes;    /* address space (RLIMIT_AS) per process */
	uint64_t stack_bytes;     /* RLIMIT_STACK */
	uint64_t processes;       /* RLIMIT_NPROC (per uid) */
	uint64_t open_files;      /* RLIMIT_NOFILE */
	uint64_t file_size_bytes; /* RLIMIT_FSIZE */
	uint64_t output_bytes;    /* cap per stream (stdout, stderr) */
};

struct sbx_spec {
	char *const *argv;      /* argv[0] is executed directly; a name
				   without '/' is searched in envp's PATH */
	char *const *envp;      /* exact environment (NULL = empty) */
	const char *cwd;        /* working directory (NULL = inherit) */
	const void *stdin_data; /* bytes fed to stdin, then EOF */
	size_t stdin_len;
	bool set_ids;           /* drop to uid/gid (no supplementary groups) */
	uid_t uid;
	gid_t gid;
	bool rlimit_as;         /* apply limits.memory_bytes as RLIMIT_AS */
	struct sbx_limits limits;
};

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
	uint64_t max_rss_bytes;
};

struct sbx_result {
	enum sbx_status status;
	int exit_code;  /* -1 when the program did not exit normally */
	int signal;     /* terminating signal, 0 when it exited */
	struct sbx_buf out;
	struct sbx_buf err;
	struct sbx_usage usage;
	char message[256]; /* one human sentence explaining the status */
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
