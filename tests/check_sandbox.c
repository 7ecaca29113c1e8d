/*
 * check_sandbox.c - the sandbox keeps every promise in sandbox/sandbox.h.
 *
 * Each test runs a real program through sbx_run() and checks what came back
 * against what the program did.  Most programs are the fixtures built next
 * to this suite (tests/fixtures/probe reports its own process state,
 * tests/fixtures/misbehave does one bad thing on purpose); the rest are
 * /bin/sh, /bin/cat, /bin/true and /bin/sleep.
 *
 * Check forks each test, so a test may change its own process state (ignore
 * signals, open descriptors, change groups) to make a guarantee observable.
 * Every run carries a wall-time limit as a safety net, so a broken sandbox
 * shows up as a wrong status or a slow run rather than a Check timeout.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#ifndef FIXTURES_DIR
/* tests/local.mk passes the absolute build path; this only helps -fsyntax-only. */
#define FIXTURES_DIR "tests/fixtures"
#endif

/*
 * The fixtures run as other uids too (nobody, BOMB_UID), which cannot reach
 * the build tree when the checkout sits under a directory only root may
 * enter (root's home, a `mktemp -d` folder).  main() copies them into a
 * directory of the suite's own under /tmp and every test runs the copies.
 */
static char fixtures_copy[] = "/tmp/runbox-fixtures.XXXXXX";
static char probe_path[sizeof fixtures_copy + 16];
static char misbehave_path[sizeof fixtures_copy + 16];
#define PROBE probe_path
#define MISBEHAVE misbehave_path

#define MIB (1024u * 1024u)
#define SAFETY_WALL_MS 10000 /* every run ends by then, whatever happens */
#define QUICK_MS 3000        /* "returns at once", generously */
#define NOBODY 65534
/*
 * RLIMIT_NPROC counts every process of a uid on the host, so the fork bomb
 * runs as a uid nothing else uses (not nobody, not runboxd's slot uids).
 */
#define BOMB_UID 64999

/* ---------------------------------------------------------------- helpers */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A spec with no limits but the safety net, an empty environment, no stdin. */
static void spec_init(struct sbx_spec *spec, char *const *argv)
{
	memset(spec, 0, sizeof(*spec));
	spec->argv = argv;
	spec->limits.wall_time_ms = SAFETY_WALL_MS;
}

/* Runs spec, failing the test if the sandbox itself fails; returns elapsed ms. */
static uint64_t run(const struct sbx_spec *spec, struct sbx_result *res)
{
	char err[256] = "";
	uint64_t start = now_ms();
	int rc = sbx_run(spec, res, err, sizeof(err));

	ck_assert_msg(rc == 0, "sbx_run returned %d: %s", rc, err);
	return now_ms() - start;
}

#define ck_assert_status(res, want)                                        \
	ck_assert_msg((res)->status == (want),                             \
		      "status %s (\"%s\"), expected %s",                   \
		      sbx_status_name((res)->status), (res)->message,      \
		      sbx_status_name(want))

/* The byte misbehave writes at offset i (see tests/fixtures/misbehave.c). */
static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)(i % 251);
}

static void ck_assert_pattern(const struct sbx_buf *buf, size_t len)
{
	size_t i;

	ck_assert_uint_eq(buf->len, len);
	ck_assert_msg(buf->data != NULL, "no data");
	/* One assertion, not one per byte: each costs a message to Check. */
	for (i = 0; i < len; i++)
		if ((unsigned char)buf->data[i] != pattern_byte(i))
			break;
	ck_assert_msg(i == len, "byte %zu is %u, expected %u", i,
		      (unsigned char)buf->data[i], pattern_byte(i));
	ck_assert_msg(buf->data[len] == '\0', "data not NUL-terminated");
}

/*
 * The value of the "key=value" line in a probe's output, copied to val.
 * Fails the test when the line is missing.
 */
static const char *field(const struct sbx_buf *out, const char *key, char *val,
			 size_t vallen)
{
	size_t klen = strlen(key);
	const char *line = out->data;

	while (line != NULL && *line != '\0') {
		const char *eol = strchr(line, '\n');
		size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);

		if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
			len -= klen + 1;
			if (len >= vallen)
				len = vallen - 1;
			memcpy(val, line + klen + 1, len);
			val[len] = '\0';
			return val;
		}
		line = eol != NULL ? eol + 1 : NULL;
	}
	ck_abort_msg("no \"%s=\" in output: %s", key, out->data);
	return NULL;
}

#define ck_assert_field(res, key, want)                                    \
	do {                                                               \
		char v_[512];                                              \
		ck_assert_str_eq(field(&(res)->out, (key), v_, sizeof(v_)), \
				 (want));                                  \
	} while (0)

static long field_long(const struct sbx_result *res, const char *key)
{
	char v[64];

	return strtol(field(&res->out, key, v, sizeof(v)), NULL, 10);
}

/* Open descriptors of this process, not counting the one used to count. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir /proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir /proc/self/task: %s", strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The state letter of /proc/PID/stat, or 0 when the process is gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : 0;
}

/*
 * True once pid has died (gone, or a zombie waiting for init to reap it).
 * The kill is asynchronous and the reaper is not us, so poll for up to 2 s.
 */
static bool wait_dead(pid_t pid)
{
	int i;

	for (i = 0; i < 200; i++) {
		char st;

		if (kill(pid, 0) != 0 && errno == ESRCH)
			return true;
		st = proc_state(pid);
		if (st == 0 || st == 'Z' || st == 'X')
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Processes of uid that are alive (not zombies), found through /proc. */
static int count_live_uid(uid_t uid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir /proc: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		char path[300], line[256];
		long ruid = -1;
		char state = 0;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue; /* gone meanwhile */
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "State:", 6) == 0)
				sscanf(line + 6, " %c", &state);
			else if (strncmp(line, "Uid:", 4) == 0)
				ruid = strtol(line + 4, NULL, 10);
		}
		fclose(f);
		if (ruid == (long)uid && state != 'Z' && state != 'X')
			n++;
	}
	closedir(d);
	return n;
}

/* True once no live process of uid is left; polls for up to 2 s. */
static bool wait_uid_dead(uid_t uid)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (count_live_uid(uid) == 0)
			return true;
		sleep_ms(10);
	}
	return false;
}

/*
 * Cleanup after a failed test: SIGKILL every process of uid, by becoming
 * that uid in a child and signalling all it may signal (kill(-1)).
 */
static void kill_uid(uid_t uid)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (setresgid(uid, uid, uid) == 0 && setresuid(uid, uid, uid) == 0)
			kill(-1, SIGKILL);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* ---------------------------------------------------------------- statuses */

/* The names come from one table and match the documented snake_case. */
START_TEST(test_status_names)
{
	static const char *const want[SBX_STATUS_COUNT] = {
		[SBX_OK] = "ok",
		[SBX_NONZERO_EXIT] = "nonzero_exit",
		[SBX_SIGNALED] = "signaled",
		[SBX_CPU_TIME_EXCEEDED] = "cpu_time_exceeded",
		[SBX_WALL_TIME_EXCEEDED] = "wall_time_exceeded",
		[SBX_MEMORY_EXCEEDED] = "memory_exceeded",
		[SBX_OUTPUT_EXCEEDED] = "output_exceeded",
		[SBX_FILE_SIZE_EXCEEDED] = "file_size_exceeded",
		[SBX_EXEC_FAILED] = "exec_failed",
		[SBX_CANCELLED] = "cancelled",
	};
	int s;

	ck_assert_int_eq(SBX_STATUS_COUNT, 10);
	for (s = 0; s < SBX_STATUS_COUNT; s++)
		ck_assert_str_eq(sbx_status_name((enum sbx_status)s), want[s]);
	ck_assert_str_eq(sbx_status_name(SBX_STATUS_COUNT), "unknown");
	ck_assert_str_eq(sbx_status_name((enum sbx_status)-1), "unknown");
	ck_assert_str_eq(sbx_status_name((enum sbx_status)1000), "unknown");
}
END_TEST

/* Signal numbers map to their C names; unknown numbers to NULL. */
START_TEST(test_signal_names)
{
	ck_assert_str_eq(sbx_signal_name(SIGSEGV), "SIGSEGV");
	ck_assert_str_eq(sbx_signal_name(SIGKILL), "SIGKILL");
	ck_assert_str_eq(sbx_signal_name(SIGXCPU), "SIGXCPU");
	ck_assert_str_eq(sbx_signal_name(SIGXFSZ), "SIGXFSZ");
	ck_assert_ptr_null(sbx_signal_name(-1));
	ck_assert_ptr_null(sbx_signal_name(1000));
}
END_TEST

/* Exit code 0 is "ok" with a sentence that gives the code. */
START_TEST(test_exit_zero_is_ok)
{
	char *argv[] = { "/bin/true", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_int_eq(res.signal, 0);
	ck_assert_msg(strstr(res.message, "0") != NULL,
		      "message does not give the code: %s", res.message);
	ck_assert_uint_eq(res.out.len, 0);
	ck_assert_uint_eq(res.err.len, 0);
	sbx_result_free(&res);
}
END_TEST

/* A nonzero exit is reported with its code, and no signal. */
START_TEST(test_nonzero_exit)
{
	char *argv[] = { "/bin/sh", "-c", "exit 37", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_NONZERO_EXIT);
	ck_assert_int_eq(res.exit_code, 37);
	ck_assert_int_eq(res.signal, 0);
	ck_assert_msg(strstr(res.message, "37") != NULL,
		      "message does not give the code: %s", res.message);
	sbx_result_free(&res);
}
END_TEST

/* A crash is a successful run with status signaled, named in the message. */
START_TEST(test_segv_is_signaled)
{
	char *argv[] = { MISBEHAVE, "segv", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_SIGNALED);
	ck_assert_int_eq(res.signal, SIGSEGV);
	ck_assert_int_eq(res.exit_code, -1);
	ck_assert_msg(strstr(res.message, "SIGSEGV") != NULL,
		      "message does not name the signal: %s", res.message);
	sbx_result_free(&res);
}
END_TEST

/* ------------------------------------------------------------------- child */

/* The program leads a new session and process group of its own. */
START_TEST(test_new_session)
{
	char *argv[] = { PROBE, NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	long pid;

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	pid = field_long(&res, "pid");
	ck_assert_int_ne(pid, getpid());
	ck_assert_int_eq(field_long(&res, "sid"), pid);
	ck_assert_int_eq(field_long(&res, "pgid"), pid);
	sbx_result_free(&res);
}
END_TEST

/*
 * Ignored signals and the blocked mask survive execve, so the sandbox must
 * reset them: the caller here ignores SIGPIPE/SIGINT and blocks SIGUSR1, and
 * the program still sees defaults, an empty mask, and a parent-death signal.
 */
START_TEST(test_signals_reset)
{
	char *argv[] = { PROBE, NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	sigset_t block;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &block, NULL), 0);

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_field(&res, "ignored", "none");
	ck_assert_field(&res, "blocked", "none");
	ck_assert_msg(field_long(&res, "pdeathsig") > 0,
		      "no parent-death signal: %s", res.out.data);
	sbx_result_free(&res);
}
END_TEST

/*
 * Every limit is applied with the documented value; hard limits equal soft
 * ones (or the program could raise them) except CPU, whose hard limit is one
 * second later so SIGXCPU comes before SIGKILL.  Core dumps are always off.
 */
START_TEST(test_rlimits_applied)
{
	char *argv[] = { PROBE, NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	spec.rlimit_as = true;
	spec.limits.cpu_time_ms = 2500;
	spec.limits.memory_bytes = 256u * MIB;
	spec.limits.stack_bytes = 16u * MIB;
	spec.limits.processes = 64;
	spec.limits.open_files = 32;
	spec.limits.file_size_bytes = 1u * MIB;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_field(&res, "rlimit_cpu", "3/4");
	ck_assert_field(&res, "rlimit_as", "268435456/268435456");
	ck_assert_field(&res, "rlimit_stack", "16777216/16777216");
	ck_assert_field(&res, "rlimit_nproc", "64/64");
	ck_assert_field(&res, "rlimit_nofile", "32/32");
	ck_assert_field(&res, "rlimit_fsize", "1048576/1048576");
	ck_assert_field(&res, "rlimit_core", "0/0");
	sbx_result_free(&res);

	/* Whole seconds are not rounded up a second time. */
	spec.limits.cpu_time_ms = 1000;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_field(&res, "rlimit_cpu", "1/2");
	sbx_result_free(&res);
}
END_TEST

/*
 * stdin/stdout/stderr are pipes and nothing else is inherited, not even
 * descriptors the caller left open without close-on-exec.
 */
START_TEST(test_fds_closed)
{
	char *argv[] = { PROBE, NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	int a = open("/dev/null", O_RDONLY);
	int b = open("/dev/null", O_WRONLY);

	ck_assert_int_ge(a, 3);
	ck_assert_int_ge(b, 3);
	ck_assert_int_eq(dup2(a, 100), 100);
	ck_assert_int_eq(dup2(b, 1000), 1000);

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_field(&res, "fds", "0,1,2");
	ck_assert_field(&res, "fd0", "pipe");
	ck_assert_field(&res, "fd1", "pipe");
	ck_assert_field(&res, "fd2", "pipe");
	sbx_result_free(&res);
	close(a);
	close(b);
	close(100);
	close(1000);
}
END_TEST

/*
 * set_ids drops to the given uid/gid for good, with no supplementary groups
 * even though the caller has some.  (nobody runs the fixture's copy under
 * /tmp, see PROBE.)
 */
START_TEST(test_ids_dropped)
{
	char *argv[] = { PROBE, NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	gid_t groups[] = { 0, 4 };

	if (geteuid() != 0) {
		fprintf(stderr, "test_ids_dropped: needs root, not run\n");
		return;
	}
	ck_assert_int_eq(setgroups(2, groups), 0);

	spec_init(&spec, argv);
	spec.set_ids = true;
	spec.uid = NOBODY;
	spec.gid = NOBODY;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_int_eq(field_long(&res, "uid"), NOBODY);
	ck_assert_int_eq(field_long(&res, "euid"), NOBODY);
	ck_assert_int_eq(field_long(&res, "gid"), NOBODY);
	ck_assert_int_eq(field_long(&res, "egid"), NOBODY);
	ck_assert_int_eq(field_long(&res, "groups"), 0);
	ck_assert_field(&res, "regained_root", "no");
	sbx_result_free(&res);
}
END_TEST

/* Without set_ids the program keeps the caller's ids. */
START_TEST(test_ids_kept)
{
	char *argv[] = { PROBE, NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_int_eq(field_long(&res, "uid"), (long)getuid());
	ck_assert_int_eq(field_long(&res, "gid"), (long)getgid());
	sbx_result_free(&res);
}
END_TEST

/* The program starts in cwd. */
START_TEST(test_cwd)
{
	char dir[] = "/tmp/check-sandbox-cwd-XXXXXX";
	char *argv[] = { PROBE, NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	spec_init(&spec, argv);
	spec.cwd = dir;
	run(&spec, &res);
	rmdir(dir); /* before asserting: a failed assertion ends the test */
	ck_assert_status(&res, SBX_OK);
	ck_assert_field(&res, "cwd", dir);
	sbx_result_free(&res);
}
END_TEST

/* The environment is exactly envp, in order; the caller's does not leak. */
START_TEST(test_exact_environment)
{
	char *argv[] = { PROBE, "env", NULL };
	char *envp[] = { "A=1", "B=two words", "EMPTY=", "PATH=/nowhere", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	ck_assert_int_eq(setenv("RUNBOX_MUST_NOT_LEAK", "yes", 1), 0);
	spec_init(&spec, argv);
	spec.envp = envp;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "A=1\nB=two words\nEMPTY=\nPATH=/nowhere\n");
	sbx_result_free(&res);

	/* envp NULL is the empty environment, not the caller's. */
	spec.envp = NULL;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "");
	sbx_result_free(&res);
}
END_TEST

/* A bare name is found through envp's PATH, skipping missing directories. */
START_TEST(test_path_search)
{
	char *argv[] = { "echo", "found", NULL };
	char *envp[] = { "PATH=/nonexistent:/usr/bin:/bin", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	spec.envp = envp;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "found\n");
	sbx_result_free(&res);
}
END_TEST

/* ------------------------------------------------------------ setup errors */

/* A missing program is exec_failed, naming the step and the errno. */
START_TEST(test_missing_program)
{
	char *argv[] = { "/nonexistent/program", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_EXEC_FAILED);
	ck_assert_msg(strstr(res.message, "execve") != NULL, "%s", res.message);
	ck_assert_msg(strstr(res.message, "No such file or directory") != NULL,
		      "%s", res.message);
	sbx_result_free(&res);
}
END_TEST

/* A file without execute permission is exec_failed with EACCES's text. */
START_TEST(test_not_executable)
{
	char *argv[] = { "/etc/passwd", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_EXEC_FAILED);
	ck_assert_msg(strstr(res.message, "execve") != NULL, "%s", res.message);
	ck_assert_msg(strstr(res.message, "Permission denied") != NULL, "%s",
		      res.message);
	sbx_result_free(&res);
}
END_TEST

/* A missing working directory is exec_failed naming chdir. */
START_TEST(test_missing_cwd)
{
	char *argv[] = { "/bin/true", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	spec.cwd = "/nonexistent/dir";
	run(&spec, &res);
	ck_assert_status(&res, SBX_EXEC_FAILED);
	ck_assert_msg(strstr(res.message, "chdir") != NULL, "%s", res.message);
	sbx_result_free(&res);
}
END_TEST

/* Without PATH in envp a bare name is not found (no default search path). */
START_TEST(test_no_path_in_env)
{
	char *argv[] = { "echo", "hi", NULL };
	char *envp[] = { "HOME=/", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	ck_assert_int_eq(setenv("PATH", "/usr/bin:/bin", 1), 0);
	spec_init(&spec, argv);
	spec.envp = envp;
	run(&spec, &res);
	ck_assert_status(&res, SBX_EXEC_FAILED);
	ck_assert_uint_eq(res.out.len, 0);
	sbx_result_free(&res);
}
END_TEST

/* No program at all is a caller error: -1 and a sentence, not a status. */
START_TEST(test_invalid_argv)
{
	char *empty[] = { NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	char err[256];

	spec_init(&spec, NULL);
	err[0] = '\0';
	ck_assert_int_eq(sbx_run(&spec, &res, err, sizeof(err)), -1);
	ck_assert_msg(err[0] != '\0', "no error sentence for argv NULL");

	spec_init(&spec, empty);
	err[0] = '\0';
	ck_assert_int_eq(sbx_run(&spec, &res, err, sizeof(err)), -1);
	ck_assert_msg(err[0] != '\0', "no error sentence for empty argv");
}
END_TEST

/* ------------------------------------------------------ unreachable paths */

/*
 * A program or work directory the run's user cannot reach is exec_failed
 * naming the directory it cannot enter, not a bare "Permission denied".
 * The layout, made by root under /tmp:
 *   closed/          0700, root's: nobody cannot enter it
 *   closed/sub/      0755
 *   closed/sub/prog  0755, a shell script that prints "ran"
 *   open/            0755
 *   open/link        -> closed/sub/prog
 *   open/script      0755, "#!closed/sub/prog"
 *   open/noexec      0644, "#!closed/sub/prog"
 *   open/own/        0700, nobody's
 *   open/own/noexec  0644
 */
struct unreachable {
	char closed[64], sub[80], prog[96];
	char open[64], link[80], script[80], noexec[80], own[80], own_noexec[96];
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void unreachable_make(struct unreachable *u)
{
	char text[128];

	snprintf(u->closed, sizeof u->closed, "/tmp/check-sandbox-closed-XXXXXX");
	snprintf(u->open, sizeof u->open, "/tmp/check-sandbox-open-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(u->closed));
	ck_assert_ptr_nonnull(mkdtemp(u->open));
	ck_assert_int_eq(chmod(u->closed, 0700), 0);
	ck_assert_int_eq(chmod(u->open, 0755), 0);
	snprintf(u->sub, sizeof u->sub, "%s/sub", u->closed);
	snprintf(u->prog, sizeof u->prog, "%s/prog", u->sub);
	snprintf(u->link, sizeof u->link, "%s/link", u->open);
	snprintf(u->script, sizeof u->script, "%s/script", u->open);
	snprintf(u->noexec, sizeof u->noexec, "%s/noexec", u->open);
	snprintf(u->own, sizeof u->own, "%s/own", u->open);
	snprintf(u->own_noexec, sizeof u->own_noexec, "%s/noexec", u->own);
	ck_assert_int_eq(mkdir(u->sub, 0755), 0);
	write_file(u->prog, "#!/bin/sh\necho ran\n", 0755);
	ck_assert_int_eq(symlink(u->prog, u->link), 0);
	snprintf(text, sizeof text, "#!%s\n", u->prog);
	write_file(u->script, text, 0755);
	write_file(u->noexec, text, 0644);
	ck_assert_int_eq(mkdir(u->own, 0700), 0);
	write_file(u->own_noexec, "#!/bin/sh\n", 0644);
	ck_assert_int_eq(chown(u->own, NOBODY, NOBODY), 0);
}

static void unreachable_remove(const struct unreachable *u)
{
	const char *files[] = { u->prog, u->link, u->script, u->noexec, u->own_noexec };

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		unlink(files[i]);
	rmdir(u->own);
	rmdir(u->sub);
	rmdir(u->closed);
	rmdir(u->open);
}

/* Runs argv as nobody in cwd (NULL: the caller's) with envp. */
static void run_as_nobody(char *const *argv, char *const *envp, const char *cwd,
			  struct sbx_result *res)
{
	struct sbx_spec spec;

	spec_init(&spec, argv);
	spec.envp = envp;
	spec.cwd = cwd;
	spec.set_ids = true;
	spec.uid = spec.gid = NOBODY;
	run(&spec, res);
}

#define ck_assert_denied(res, fmt, ...)                                    \
	do {                                                               \
		char want_[512];                                           \
		snprintf(want_, sizeof want_, fmt, __VA_ARGS__);           \
		ck_assert_status(res, SBX_EXEC_FAILED);                    \
		ck_assert_str_eq((res)->message, want_);                   \
	} while (0)

START_TEST(test_unreachable_program)
{
	struct unreachable u;
	struct sbx_result res;

	if (geteuid() != 0) {
		fprintf(stderr, "test_unreachable_program: needs root, not run\n");
		return;
	}
	unreachable_make(&u);
	char *argv[] = { u.prog, NULL };
	run_as_nobody(argv, NULL, NULL, &res);
	/* The same program once the directory may be searched: it was the
	   directory, not the program. */
	ck_assert_int_eq(chmod(u.closed, 0711), 0);
	struct sbx_result after;
	run_as_nobody(argv, NULL, NULL, &after);
	ck_assert_int_eq(chmod(u.closed, 0700), 0);
	unreachable_remove(&u);
	ck_assert_denied(&res, "execve %s: permission denied: the run's user "
			 "(uid 65534) cannot enter %s (mode 0700)", u.prog, u.closed);
	sbx_result_free(&res);
	ck_assert_status(&after, SBX_OK);
	ck_assert_str_eq(after.out.data, "ran\n");
	sbx_result_free(&after);
}
END_TEST

/* Found through PATH, reached through a symlink, or as a script's
   interpreter: the blocked directory is named all the same. */
START_TEST(test_unreachable_indirect)
{
	struct unreachable u;
	struct sbx_result by_path, by_link, by_interp;
	char path_env[128];

	if (geteuid() != 0) {
		fprintf(stderr, "test_unreachable_indirect: needs root, not run\n");
		return;
	}
	unreachable_make(&u);
	snprintf(path_env, sizeof path_env, "PATH=/nonexistent:%s", u.sub);
	char *bare[] = { "prog", NULL }, *envp[] = { path_env, NULL };
	char *link[] = { u.link, NULL }, *script[] = { u.script, NULL };
	run_as_nobody(bare, envp, NULL, &by_path);
	run_as_nobody(link, NULL, NULL, &by_link);
	run_as_nobody(script, NULL, NULL, &by_interp);
	unreachable_remove(&u);
	ck_assert_denied(&by_path, "execve %s: permission denied: the run's user "
			 "(uid 65534) cannot enter %s (mode 0700)", u.prog, u.closed);
	ck_assert_denied(&by_link, "execve %s: permission denied: the run's user "
			 "(uid 65534) cannot enter %s (mode 0700)", u.link, u.closed);
	ck_assert_denied(&by_interp, "execve %s: permission denied: the run's user "
			 "(uid 65534) cannot enter %s (mode 0700) on the way to its "
			 "interpreter %s", u.script, u.closed, u.prog);
	sbx_result_free(&by_path);
	sbx_result_free(&by_link);
	sbx_result_free(&by_interp);
}
END_TEST

/* A work directory the run's user cannot reach names the directory too. */
START_TEST(test_unreachable_cwd)
{
	struct unreachable u;
	struct sbx_result res;
	char *argv[] = { "/bin/true", NULL };

	if (geteuid() != 0) {
		fprintf(stderr, "test_unreachable_cwd: needs root, not run\n");
		return;
	}
	unreachable_make(&u);
	run_as_nobody(argv, NULL, u.sub, &res);
	unreachable_remove(&u);
	ck_assert_denied(&res, "chdir %s: permission denied: the run's user "
			 "(uid 65534) cannot enter %s (mode 0700)", u.sub, u.closed);
	sbx_result_free(&res);
}
END_TEST

/* When every directory may be entered (its own 0700 one included) and the
   program itself is not executable, no directory is blamed, not even the
   one its "#!" line points into. */
START_TEST(test_denied_program_itself)
{
	struct unreachable u;
	struct sbx_result in_open, in_own;

	if (geteuid() != 0) {
		fprintf(stderr, "test_denied_program_itself: needs root, not run\n");
		return;
	}
	unreachable_make(&u);
	char *a[] = { u.noexec, NULL }, *b[] = { u.own_noexec, NULL };
	run_as_nobody(a, NULL, NULL, &in_open);
	run_as_nobody(b, NULL, NULL, &in_own);
	unreachable_remove(&u);
	ck_assert_status(&in_open, SBX_EXEC_FAILED);
	ck_assert_str_eq(in_open.message, "execve: Permission denied");
	ck_assert_status(&in_own, SBX_EXEC_FAILED);
	ck_assert_str_eq(in_own.message, "execve: Permission denied");
	sbx_result_free(&in_open);
	sbx_result_free(&in_own);
}
END_TEST

/* ----------------------------------------------------------------- capture */

/*
 * 1 MiB of binary stdin through a program that writes as much back: the
 * sandbox must feed and drain at once (either alone deadlocks on the 64 KiB
 * pipe buffers) and lose or change no byte, NULs included.
 */
START_TEST(test_stdin_roundtrip)
{
	char *argv[] = { "/bin/cat", NULL };
	const size_t len = MIB;
	unsigned char *in = malloc(len);
	uint32_t x = 2463534242u;
	struct sbx_spec spec;
	struct sbx_result res;
	size_t i;

	ck_assert_ptr_nonnull(in);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		in[i] = (unsigned char)(i % 4096 == 0 ? 0 : x >> 24);
	}
	spec_init(&spec, argv);
	spec.stdin_data = in;
	spec.stdin_len = len;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_uint_eq(res.out.len, len);
	ck_assert_msg(!res.out.truncated, "truncated without a cap");
	ck_assert_msg(memcmp(res.out.data, in, len) == 0, "output differs from input");
	ck_assert_uint_eq(res.err.len, 0);
	sbx_result_free(&res);
	free(in);
}
END_TEST

/* Empty stdin is end-of-file at once, not a pipe left open. */
START_TEST(test_empty_stdin)
{
	char *argv[] = { "/bin/cat", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms;

	spec_init(&spec, argv);
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_uint_eq(res.out.len, 0);
	ck_assert_uint_lt(ms, QUICK_MS);
	sbx_result_free(&res);
}
END_TEST

/*
 * A program that exits without reading 4 MiB of stdin: the run is ok, ends
 * at once, and the sandbox's write to the closed pipe does not kill the
 * caller (SIGPIPE is left at its default here on purpose).
 */
START_TEST(test_unread_stdin)
{
	char *argv[] = { "/bin/true", NULL };
	const size_t len = 4u * MIB;
	char *in = calloc(1, len);
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms;

	ck_assert_ptr_nonnull(in);
	signal(SIGPIPE, SIG_DFL);
	spec_init(&spec, argv);
	spec.stdin_data = in;
	spec.stdin_len = len;
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_uint_lt(ms, QUICK_MS);
	sbx_result_free(&res);
	free(in);
}
END_TEST

/*
 * Feeding stdin never blocks the clock: a program that ignores 4 MiB of
 * stdin and sleeps is still stopped by a 500 ms wall limit.
 */
START_TEST(test_stdin_does_not_block_timer)
{
	char *argv[] = { "/bin/sleep", "10", NULL };
	const size_t len = 4u * MIB;
	char *in = calloc(1, len);
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms;

	ck_assert_ptr_nonnull(in);
	spec_init(&spec, argv);
	spec.stdin_data = in;
	spec.stdin_len = len;
	spec.limits.wall_time_ms = 500;
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_WALL_TIME_EXCEEDED);
	ck_assert_uint_lt(ms, QUICK_MS);
	sbx_result_free(&res);
	free(in);
}
END_TEST

/* The stdout cap keeps exactly the first cap bytes and says it cut. */
START_TEST(test_stdout_cap)
{
	char *argv[] = { MISBEHAVE, "write", "1", "1000000", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	spec.limits.output_bytes = 1000;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OUTPUT_EXCEEDED);
	ck_assert_pattern(&res.out, 1000);
	ck_assert_msg(res.out.truncated, "stdout not marked truncated");
	ck_assert_uint_eq(res.err.len, 0);
	ck_assert_msg(!res.err.truncated, "stderr marked truncated");
	sbx_result_free(&res);
}
END_TEST

/* The same cap applies to stderr on its own. */
START_TEST(test_stderr_cap)
{
	char *argv[] = { MISBEHAVE, "write", "2", "1000000", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	spec.limits.output_bytes = 1000;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OUTPUT_EXCEEDED);
	ck_assert_pattern(&res.err, 1000);
	ck_assert_msg(res.err.truncated, "stderr not marked truncated");
	ck_assert_uint_eq(res.out.len, 0);
	ck_assert_msg(!res.out.truncated, "stdout marked truncated");
	sbx_result_free(&res);
}
END_TEST

/* Writing exactly the cap is not exceeding it. */
START_TEST(test_exact_cap)
{
	char *argv[] = { MISBEHAVE, "write", "1", "1000", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	spec.limits.output_bytes = 1000;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_pattern(&res.out, 1000);
	ck_assert_msg(!res.out.truncated, "exact output marked truncated");
	sbx_result_free(&res);
}
END_TEST

/* A writer that never stops is stopped as soon as it passes the cap. */
START_TEST(test_endless_writer)
{
	char *argv[] = { MISBEHAVE, "write", "1", "inf", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms;

	spec_init(&spec, argv);
	spec.limits.output_bytes = 1000;
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_OUTPUT_EXCEEDED);
	ck_assert_pattern(&res.out, 1000);
	ck_assert_msg(res.out.truncated, "stdout not marked truncated");
	ck_assert_uint_lt(ms, QUICK_MS);
	sbx_result_free(&res);
}
END_TEST

/*
 * Closing the pipe does not stop a writer that ignores SIGPIPE and EPIPE:
 * passing the cap must kill the program, not just stop reading.
 */
START_TEST(test_stubborn_writer)
{
	char *argv[] = { MISBEHAVE, "flood", "2", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms;

	spec_init(&spec, argv);
	spec.limits.output_bytes = 1000;
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_OUTPUT_EXCEEDED);
	ck_assert_pattern(&res.err, 1000);
	ck_assert_uint_lt(ms, QUICK_MS);
	sbx_result_free(&res);
}
END_TEST

/* Without a cap every byte is kept (0 means no limit). */
START_TEST(test_uncapped_output)
{
	char *argv[] = { MISBEHAVE, "write", "1", "3000000", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_pattern(&res.out, 3000000);
	ck_assert_msg(!res.out.truncated, "truncated without a cap");
	sbx_result_free(&res);
}
END_TEST

/* ------------------------------------------------------------------ limits */

/* A sleeper is stopped at the wall limit, not when it wakes up. */
START_TEST(test_wall_limit)
{
	char *argv[] = { "/bin/sleep", "10", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms;

	spec_init(&spec, argv);
	spec.limits.wall_time_ms = 500;
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_WALL_TIME_EXCEEDED);
	ck_assert_uint_lt(ms, QUICK_MS);
	ck_assert_uint_ge(res.usage.wall_time_ms, 500);
	sbx_result_free(&res);
}
END_TEST

/*
 * A spinner is stopped near its 300 ms CPU limit: the sandbox samples CPU
 * time instead of waiting for RLIMIT_CPU, which cannot fire before 1 s.
 */
START_TEST(test_cpu_limit)
{
	char *argv[] = { MISBEHAVE, "spin", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms;

	spec_init(&spec, argv);
	spec.limits.cpu_time_ms = 300;
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_CPU_TIME_EXCEEDED);
	ck_assert_uint_ge(res.usage.cpu_time_ms, 300);
	ck_assert_msg(res.usage.cpu_time_ms < 700,
		      "used %llu ms of CPU: waited for RLIMIT_CPU?",
		      (unsigned long long)res.usage.cpu_time_ms);
	ck_assert_uint_lt(ms, QUICK_MS);
	sbx_result_free(&res);
}
END_TEST

/* CPU time is counted over all threads of the program. */
START_TEST(test_cpu_limit_threads)
{
	char *argv[] = { MISBEHAVE, "spin", "2", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms;

	spec_init(&spec, argv);
	spec.limits.cpu_time_ms = 300;
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_CPU_TIME_EXCEEDED);
	ck_assert_uint_ge(res.usage.cpu_time_ms, 300);
	ck_assert_msg(res.usage.cpu_time_ms < 700,
		      "used %llu ms of CPU: waited for RLIMIT_CPU?",
		      (unsigned long long)res.usage.cpu_time_ms);
	ck_assert_uint_lt(ms, QUICK_MS);
	sbx_result_free(&res);
}
END_TEST

/*
 * With a 1 s limit RLIMIT_CPU's SIGXCPU usually lands before the next
 * sample; either way the limit is the status, not the signal it caused.
 */
START_TEST(test_sigxcpu_is_cpu_exceeded)
{
	char *argv[] = { MISBEHAVE, "spin", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	spec.limits.cpu_time_ms = 1000;
	run(&spec, &res);
	ck_assert_status(&res, SBX_CPU_TIME_EXCEEDED);
	sbx_result_free(&res);
}
END_TEST

/* Catching SIGXCPU does not buy a program more time. */
START_TEST(test_caught_sigxcpu)
{
	char *argv[] = { MISBEHAVE, "spin-catch-xcpu", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, argv);
	spec.limits.cpu_time_ms = 1000;
	run(&spec, &res);
	ck_assert_status(&res, SBX_CPU_TIME_EXCEEDED);
	ck_assert_msg(res.usage.cpu_time_ms < 2500, "ran %llu ms of CPU",
		      (unsigned long long)res.usage.cpu_time_ms);
	sbx_result_free(&res);
}
END_TEST

/* Writing past RLIMIT_FSIZE (SIGXFSZ) is file_size_exceeded. */
START_TEST(test_file_size_limit)
{
	char dir[] = "/tmp/check-sandbox-fsize-XXXXXX";
	char *argv[] = { MISBEHAVE, "file", "big.bin", "1000000", NULL };
	char path[128];
	struct sbx_spec spec;
	struct sbx_result res;
	struct stat st;
	int stat_rc;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	spec_init(&spec, argv);
	spec.cwd = dir;
	spec.limits.file_size_bytes = 4096;
	run(&spec, &res);
	snprintf(path, sizeof(path), "%s/big.bin", dir);
	stat_rc = stat(path, &st);
	unlink(path); /* before asserting: a failed assertion ends the test */
	rmdir(dir);
	ck_assert_status(&res, SBX_FILE_SIZE_EXCEEDED);
	ck_assert_int_eq(stat_rc, 0);
	ck_assert_int_le(st.st_size, 4096);
	sbx_result_free(&res);
}
END_TEST

/*
 * RLIMIT_NPROC holds a fork bomb run under its own uid, and its children
 * (all in the run's process group) do not outlive the run.
 */
START_TEST(test_fork_bomb)
{
	char *argv[] = { MISBEHAVE, "forkbomb", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	char v[64];

	if (geteuid() != 0) {
		fprintf(stderr, "test_fork_bomb: needs root, not run\n");
		return;
	}
	spec_init(&spec, argv);
	spec.set_ids = true;
	spec.uid = BOMB_UID;
	spec.gid = BOMB_UID;
	spec.limits.processes = 16;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	/* "forked=N error=E": the bomb ran into the limit, not into its cap. */
	field(&res.out, "forked", v, sizeof(v));
	ck_assert_msg(strstr(v, " error=EAGAIN") != NULL, "forked=%s", v);
	ck_assert_int_lt(atoi(v), 16);
	sbx_result_free(&res);

	if (!wait_uid_dead(BOMB_UID)) {
		kill_uid(BOMB_UID);
		ck_abort_msg("fork bomb children survived the run");
	}
}
END_TEST

/* ---------------------------------------------------------- escape cleanup */

/*
 * The run ends when the main process exits, although a background sleep
 * in a subshell still holds stdout.
 */
START_TEST(test_background_does_not_hold_run)
{
	char *argv[] = { "/bin/sh", "-c", "(/bin/sleep 50 &); echo done", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms;

	spec_init(&spec, argv);
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "done\n");
	ck_assert_uint_lt(ms, QUICK_MS);
	sbx_result_free(&res);
}
END_TEST

/*
 * A daemon in its own session escapes the process-group kill and keeps
 * stdout open for 30 s; the sandbox drains for a bounded time only, keeping
 * what was written before the main process exited.
 */
START_TEST(test_daemon_bounded_drain)
{
	char *argv[] = { MISBEHAVE, "daemon", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	const char *p;
	uint64_t ms;

	spec_init(&spec, argv);
	ms = run(&spec, &res);
	ck_assert_ptr_nonnull(res.out.data);
	p = strstr(res.out.data, "daemon=");
	if (p != NULL)
		kill((pid_t)atol(p + strlen("daemon=")), SIGKILL); /* clean up */
	ck_assert_status(&res, SBX_OK);
	ck_assert_uint_lt(ms, QUICK_MS);
	ck_assert_msg(p != NULL, "lost output written before exit: \"%s\"",
		      res.out.data);
	sbx_result_free(&res);
}
END_TEST

/* Background children in the run's process group die when the main exits. */
START_TEST(test_background_killed_on_exit)
{
	char *argv[] = { "/bin/sh", "-c", "/bin/sleep 30 & echo $!", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	pid_t pid;
	uint64_t ms;

	spec_init(&spec, argv);
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_uint_lt(ms, QUICK_MS);
	ck_assert_ptr_nonnull(res.out.data);
	pid = (pid_t)atol(res.out.data);
	ck_assert_int_gt(pid, 1);
	if (!wait_dead(pid)) {
		kill(pid, SIGKILL);
		ck_abort_msg("background sleep %ld survived the run", (long)pid);
	}
	sbx_result_free(&res);
}
END_TEST

/* ... and when the run is stopped by its wall limit. */
START_TEST(test_background_killed_on_timeout)
{
	char *argv[] = { "/bin/sh", "-c", "/bin/sleep 30 & echo $!; /bin/sleep 30",
			 NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	pid_t pid;
	uint64_t ms;

	spec_init(&spec, argv);
	spec.limits.wall_time_ms = 500;
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_WALL_TIME_EXCEEDED);
	ck_assert_uint_lt(ms, QUICK_MS);
	ck_assert_ptr_nonnull(res.out.data);
	pid = (pid_t)atol(res.out.data);
	ck_assert_int_gt(pid, 1);
	if (!wait_dead(pid)) {
		kill(pid, SIGKILL);
		ck_abort_msg("background sleep %ld survived the run", (long)pid);
	}
	sbx_result_free(&res);
}
END_TEST

/* ------------------------------------------------------------- concurrency */

#define NRUNS 32
#define NROUNDS 8

struct concurrent_run {
	pthread_barrier_t *start;
	int index;
	char failure[512]; /* the first thing that went wrong, or "" */
};

/* Checks one result against what run `index` must produce; "" if right. */
static void check_concurrent(const struct sbx_result *res, int index,
			     char *failure, size_t len)
{
	char out[32], err[32];
	enum sbx_status want = index == 0 ? SBX_OK : SBX_NONZERO_EXIT;

	snprintf(out, sizeof(out), "out-%d\n", index);
	snprintf(err, sizeof(err), "err-%d\n", index);
	if (res->status != want || res->exit_code != index || res->signal != 0)
		snprintf(failure, len, "run %d: status %s, exit %d, signal %d (%s)",
			 index, sbx_status_name(res->status), res->exit_code,
			 res->signal, res->message);
	else if (res->out.data == NULL || strcmp(res->out.data, out) != 0)
		snprintf(failure, len, "run %d: stdout \"%s\"", index,
			 res->out.data != NULL ? res->out.data : "(null)");
	else if (res->err.data == NULL || strcmp(res->err.data, err) != 0)
		snprintf(failure, len, "run %d: stderr \"%s\"", index,
			 res->err.data != NULL ? res->err.data : "(null)");
}

static void *concurrent_main(void *arg)
{
	struct concurrent_run *r = arg;
	char index[16], input[32], err[256];
	char *argv[] = { "/bin/sh", "-c", "/bin/cat; echo err-$0 >&2; exit $0",
			 index, NULL };
	struct sbx_spec spec;
	int round;

	snprintf(index, sizeof(index), "%d", r->index);
	snprintf(input, sizeof(input), "out-%d\n", r->index);
	spec_init(&spec, argv);
	spec.stdin_data = input;
	spec.stdin_len = strlen(input);
	for (round = 0; round < NROUNDS; round++) {
		struct sbx_result res;

		/* All runs of a round start, and so end, close together. */
		pthread_barrier_wait(r->start);
		if (r->failure[0] != '\0')
			continue;
		if (sbx_run(&spec, &res, err, sizeof(err)) != 0) {
			snprintf(r->failure, sizeof(r->failure),
				 "run %d: sbx_run failed: %s", r->index, err);
			continue;
		}
		check_concurrent(&res, r->index, r->failure, sizeof(r->failure));
		sbx_result_free(&res);
	}
	return NULL;
}

/*
 * 32 runs at once, eight times over, each get their own exit code, stdin,
 * stdout and stderr: no run reaps another's child or reads another's pipes.
 */
START_TEST(test_concurrent_runs)
{
	static struct concurrent_run runs[NRUNS];
	pthread_t threads[NRUNS];
	pthread_barrier_t start;
	int i;

	pthread_barrier_init(&start, NULL, NRUNS);
	for (i = 0; i < NRUNS; i++) {
		runs[i].start = &start;
		runs[i].index = i;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, concurrent_main,
						&runs[i]), 0);
	}
	for (i = 0; i < NRUNS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&start);
	for (i = 0; i < NRUNS; i++)
		ck_assert_msg(runs[i].failure[0] == '\0', "%s", runs[i].failure);
}
END_TEST

#define NPROBES 16

struct probe_run {
	pthread_barrier_t *start;
	int rc;
	char err[256];
	struct sbx_result res;
};

static void *probe_main(void *arg)
{
	struct probe_run *r = arg;
	char *argv[] = { PROBE, NULL };
	struct sbx_spec spec;

	spec_init(&spec, argv);
	pthread_barrier_wait(r->start);
	r->rc = sbx_run(&spec, &r->res, r->err, sizeof(r->err));
	return NULL;
}

/*
 * Pipes of one run never leak into another run's program, even when the
 * runs fork at the same moment.
 */
START_TEST(test_concurrent_fds_isolated)
{
	static struct probe_run runs[NPROBES];
	pthread_t threads[NPROBES];
	pthread_barrier_t start;
	int i;

	pthread_barrier_init(&start, NULL, NPROBES);
	for (i = 0; i < NPROBES; i++) {
		runs[i].start = &start;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, probe_main,
						&runs[i]), 0);
	}
	for (i = 0; i < NPROBES; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&start);

	for (i = 0; i < NPROBES; i++) {
		ck_assert_msg(runs[i].rc == 0, "run %d: %s", i, runs[i].err);
		ck_assert_status(&runs[i].res, SBX_OK);
		ck_assert_field(&runs[i].res, "fds", "0,1,2");
		sbx_result_free(&runs[i].res);
	}
}
END_TEST

/* ------------------------------------------------------------------- usage */

/* CPU time is user + system, and wall time brackets it for one thread. */
START_TEST(test_cpu_usage_sums)
{
	char *argv[] = { MISBEHAVE, "spin", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	uint64_t ms, sum;

	spec_init(&spec, argv);
	spec.limits.cpu_time_ms = 200;
	ms = run(&spec, &res);
	ck_assert_status(&res, SBX_CPU_TIME_EXCEEDED);
	sum = res.usage.user_time_ms + res.usage.system_time_ms;
	ck_assert_msg(res.usage.cpu_time_ms + 1 >= sum &&
			      res.usage.cpu_time_ms <= sum + 1,
		      "cpu %llu != user %llu + system %llu",
		      (unsigned long long)res.usage.cpu_time_ms,
		      (unsigned long long)res.usage.user_time_ms,
		      (unsigned long long)res.usage.system_time_ms);
	ck_assert_uint_ge(res.usage.cpu_time_ms, 200);
	ck_assert_uint_le(res.usage.wall_time_ms, ms + 1);
	ck_assert_uint_ge(res.usage.wall_time_ms + 20, res.usage.cpu_time_ms);
	sbx_result_free(&res);
}
END_TEST

/* Peak memory is the program's: 50 MiB touched shows as at least 45 MiB. */
START_TEST(test_max_rss)
{
	char *small[] = { "/bin/true", NULL };
	char *big[] = { MISBEHAVE, "mem", "50", NULL };
	struct sbx_spec spec;
	struct sbx_result res;

	spec_init(&spec, small);
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_uint_gt(res.usage.max_rss_bytes, 0);
	sbx_result_free(&res);

	spec_init(&spec, big);
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "touched=50\n");
	ck_assert_uint_ge(res.usage.max_rss_bytes, 45u * MIB);
	sbx_result_free(&res);
}
END_TEST

/*
 * Usage belongs to one run: after a 50 MiB run and a CPU-bound run, a run
 * of /bin/true reports small numbers (RUSAGE_CHILDREN would not).  The
 * runs use a cgroup, as the service does: without one the peak is the
 * kernel's ru_maxrss, which also counts the pages the child shared with
 * this process before execve (hundreds of MiB under ASan).
 */
START_TEST(test_usage_is_per_run)
{
	char *big[] = { MISBEHAVE, "mem", "50", NULL };
	char *spin[] = { MISBEHAVE, "spin", NULL };
	char *small[] = { "/bin/true", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	struct sbx_cgroup *cg = NULL;
	char what[512], err[256];

	ck_assert_msg(sbx_cgroup_init("check-sandbox", what, sizeof what) != SBX_CGROUP_NONE,
		      "this test needs a cgroup (memory, pids, cpu): %s", what);
	ck_assert_msg(sbx_cgroup_create(&cg, "usage", err, sizeof err) == 0, "%s", err);

	spec_init(&spec, big);
	spec.cgroup = cg;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_uint_ge(res.usage.max_rss_bytes, 45u * MIB);
	sbx_result_free(&res);

	spec_init(&spec, spin);
	spec.cgroup = cg;
	spec.limits.cpu_time_ms = 300;
	run(&spec, &res);
	ck_assert_status(&res, SBX_CPU_TIME_EXCEEDED);
	sbx_result_free(&res);

	spec_init(&spec, small);
	spec.cgroup = cg;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_uint_lt(res.usage.max_rss_bytes, 10u * MIB);
	ck_assert_uint_lt(res.usage.cpu_time_ms, 100);
	sbx_result_free(&res);
	sbx_cgroup_destroy(cg);
	sbx_cgroup_fini();
}
END_TEST

/* ------------------------------------------------------------------- leaks */

/*
 * 1,000 runs leave no descriptor, thread or child behind: every pipe is
 * closed and every child reaped by the run that made it.
 */
START_TEST(test_no_leaks)
{
	char *argv[] = { "/bin/true", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	int fds = count_fds(), threads = count_threads(), i;

	spec_init(&spec, argv);
	for (i = 0; i < 1000; i++) {
		run(&spec, &res);
		ck_assert_status(&res, SBX_OK);
		sbx_result_free(&res);
	}
	ck_assert_int_eq(count_fds(), fds);
	ck_assert_int_eq(count_threads(), threads);
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}
END_TEST


/* ------------------------------------------------- cancel, live output, merge */

struct closer {
	int fd;
	long after_ms;
};

static void *close_later(void *arg)
{
	struct closer *c = arg;

	sleep_ms(c->after_ms);
	close(c->fd);
	return NULL;
}

/* The peer of cancel_fd hangs up mid-run: the tree (a background sleep
   included) is killed at once and the status says cancelled. */
START_TEST(test_cancel_fd)
{
	char *argv[] = { "/bin/sh", "-c", "/bin/sleep 30 & echo $!; /bin/sleep 30", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	pthread_t th;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	struct closer c = { .fd = p[1], .after_ms = 300 };
	spec_init(&spec, argv);
	spec.cancel_fd_plus1 = p[0] + 1;
	ck_assert_int_eq(pthread_create(&th, NULL, close_later, &c), 0);
	uint64_t ms = run(&spec, &res);
	pthread_join(th, NULL);
	ck_assert_status(&res, SBX_CANCELLED);
	ck_assert_uint_ge(ms, 250);
	ck_assert_uint_lt(ms, 2000);
	ck_assert_ptr_nonnull(strstr(res.message, "cancel"));
	pid_t pid = (pid_t)atol(res.out.data);
	ck_assert_int_gt(pid, 1);
	if (!wait_dead(pid)) {
		kill(pid, SIGKILL);
		ck_abort_msg("background sleep %ld survived the cancellation", (long)pid);
	}
	/* The descriptor is the caller's: still open. */
	ck_assert_int_ge(fcntl(p[0], F_GETFD), 0);
	close(p[0]);
	sbx_result_free(&res);
}
END_TEST

/* A cancel descriptor whose peer stays is no reason to stop. */
START_TEST(test_cancel_fd_quiet)
{
	char *argv[] = { "/bin/echo", "fine", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	spec_init(&spec, argv);
	spec.cancel_fd_plus1 = p[0] + 1;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "fine\n");
	close(p[0]);
	close(p[1]);
	sbx_result_free(&res);
}
END_TEST

struct capture {
	char data[2][8192];
	size_t len[2];
	int calls;
	uint64_t first_at;   /* ms, of the first call */
	int refuse_after;    /* -1 after that many calls; 0 never */
};

static int capture_output(void *arg, int stream, const char *data, size_t len)
{
	struct capture *c = arg;

	ck_assert_msg(stream == 1 || stream == 2, "stream %d", stream);
	ck_assert_uint_gt(len, 0);
	if (!c->calls++)
		c->first_at = now_ms();
	size_t room = sizeof c->data[0] - c->len[stream - 1];
	size_t n = len < room ? len : room;
	memcpy(c->data[stream - 1] + c->len[stream - 1], data, n);
	c->len[stream - 1] += n;
	return c->refuse_after && c->calls >= c->refuse_after ? -1 : 0;
}

/* Live output arrives while the program still runs, and what the calls
   carry is exactly what the result holds, cap included. */
START_TEST(test_live_output)
{
	char *argv[] = { "/bin/sh", "-c", "echo one; echo err >&2; /bin/sleep 1; "
			 "echo two; printf 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	struct capture c = { .calls = 0 };

	spec_init(&spec, argv);
	spec.limits.output_bytes = 20;
	spec.on_output = capture_output;
	spec.on_output_arg = &c;
	uint64_t t0 = now_ms();
	run(&spec, &res);
	ck_assert_status(&res, SBX_OUTPUT_EXCEEDED);
	ck_assert_msg(c.first_at - t0 < 700, "first output after %llu ms",
		      (unsigned long long)(c.first_at - t0));
	ck_assert_uint_eq(c.len[0], res.out.len);
	ck_assert_uint_eq(res.out.len, 20);
	ck_assert_int_eq(memcmp(c.data[0], res.out.data, res.out.len), 0);
	ck_assert_uint_eq(c.len[1], res.err.len);
	ck_assert_int_eq(memcmp(c.data[1], "err\n", 4), 0);
	sbx_result_free(&res);
}
END_TEST

/* A caller that refuses bytes (its reader is gone) cancels the run. */
START_TEST(test_output_refused)
{
	char *argv[] = { "/bin/sh", "-c", "echo one; /bin/sleep 30", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	struct capture c = { .refuse_after = 1 };

	spec_init(&spec, argv);
	spec.on_output = capture_output;
	spec.on_output_arg = &c;
	uint64_t ms = run(&spec, &res);
	ck_assert_status(&res, SBX_CANCELLED);
	ck_assert_uint_lt(ms, QUICK_MS);
	ck_assert_int_eq(c.calls, 1);
	sbx_result_free(&res);
}
END_TEST

/* merge_output: one pipe, both streams in the order written. */
START_TEST(test_merge_output)
{
	char *argv[] = { "/bin/sh", "-c", "echo 1; echo 2 >&2; echo 3; echo 4 >&2", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	struct capture c = { .calls = 0 };

	spec_init(&spec, argv);
	spec.merge_output = true;
	spec.on_output = capture_output;
	spec.on_output_arg = &c;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "1\n2\n3\n4\n");
	ck_assert_uint_eq(res.err.len, 0);
	ck_assert_uint_eq(c.len[1], 0);
	ck_assert_uint_eq(c.len[0], 8);
	sbx_result_free(&res);
}
END_TEST

/* ------------------------------------------------------------------- suite */

static TCase *tcase(Suite *s, const char *name, double timeout)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}

/* ------------------------------------------------------------- namespaces */

#define NS_UID 64998 /* used by nothing else on the host */

static char *test_binds[] = { "/usr", "/bin", "/lib", "/lib64", "/sbin",
			      "/etc/ld.so.cache", "/etc/alternatives", "/etc/no-such-file", NULL };
static const struct sbx_root test_root = { .binds = test_binds, .ptys = 4 };

/* Runs a shell script in all namespaces (joining netns_fd when >= 0). */
static void run_ns(const char *script, int netns_fd, struct sbx_result *res)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	static char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct sbx_spec spec;

	spec_init(&spec, argv);
	spec.envp = envp;
	spec.root = &test_root;
	spec.namespaces = SBX_NS_ALL;
	spec.netns_fd_plus1 = netns_fd + 1;
	spec.set_ids = true;
	spec.uid = spec.gid = NS_UID;
	spec.seccomp = true;
	spec.limits.output_bytes = 1 << 16;
	run(&spec, res);
}

/* The program's tree is alone in its PID namespace and dies with it. */
START_TEST(test_pid_namespace)
{
	struct sbx_result res;
	run_ns("echo $$; ls /proc | grep -c '^[0-9]'; (setsid sleep 30 &); hostname", -1, &res);
	ck_assert_status(&res, SBX_OK);
	int pid = 0, n = 0;
	char host[64] = "";
	ck_assert_int_eq(sscanf(res.out.data, "%d %d %63s", &pid, &n, host), 3);
	ck_assert_int_eq(pid, 2); /* the init is 1 */
	ck_assert_msg(n >= 3 && n <= 6, "%d processes visible", n);
	ck_assert_str_eq(host, "runbox");
	sbx_result_free(&res);
	ck_assert_int_eq(count_live_uid(NS_UID), 0);
}
END_TEST

/* A slot's network namespace, made once, is joined by each run: the same
   namespace every time, with only loopback, and up. */
START_TEST(test_joined_network_namespace)
{
	char err[256];
	int fd = sbx_netns_create(err, sizeof err);
	struct sbx_result a, b;

	ck_assert_msg(fd >= 0, "%s", err);
	run_ns("readlink /proc/self/ns/net; ls /proc/sys/net/ipv4/conf | grep -v all | grep -v default; "
	       "grep -c '^ *lo:' /proc/net/dev", fd, &a);
	run_ns("readlink /proc/self/ns/net", fd, &b);
	ck_assert_status(&a, SBX_OK);
	ck_assert_status(&b, SBX_OK);
	ck_assert_ptr_nonnull(strstr(a.out.data, "\nlo\n1\n"));
	ck_assert_int_eq(strncmp(a.out.data, b.out.data, strcspn(b.out.data, "\n")), 0);
	sbx_result_free(&a);
	sbx_result_free(&b);
	close(fd);
}
END_TEST

/* "a b c" from what a shell printed one per line. */
static void squash(char *s)
{
	for (char *c = s; *c; c++)
		if (*c == '\n')
			*c = ' ';
}

/*
 * The root of a run is an allow-list: / holds the bound paths that exist on
 * this host (a symlink stays one), the generated /etc files, a minimal /dev
 * and the private /proc and /tmp, nothing else; it is read-only, the host's
 * paths outside it are not there, /proc/self/cgroup shows the run's cgroup
 * as "/" and mountinfo names only the root's own mount points.
 */
START_TEST(test_minimal_root)
{
	struct sbx_result res;
	char want_top[256] = "", want_dev[256] = "", got[4096];
	const char *top[] = { "bin", "dev", "etc", "lib", "lib64", "proc", "sbin",
			      "tmp", "usr", NULL };
	struct stat st;

	for (const char *const *t = top; *t; t++) {
		char path[64];
		snprintf(path, sizeof path, "/%s", *t);
		/* dev, etc, proc, tmp are made for the run; the rest bound */
		if (!strcmp(*t, "dev") || !strcmp(*t, "etc") || !strcmp(*t, "proc") ||
		    !strcmp(*t, "tmp") || lstat(path, &st) == 0)
			snprintf(want_top + strlen(want_top), sizeof want_top - strlen(want_top),
				 "%s ", *t);
	}
	const char *dev[] = { "fd", "full", "null", "ptmx", "pts", "random", "shm",
			      "stderr", "stdin", "stdout", "tty", "urandom", "zero", NULL };
	for (const char *const *d = dev; *d; d++) {
		char path[64];
		snprintf(path, sizeof path, "/dev/%s", *d);
		if (lstat(path, &st) == 0 || !strcmp(*d, "fd") || !strcmp(*d, "ptmx") ||
		    !strncmp(*d, "std", 3) || !strcmp(*d, "pts") || !strcmp(*d, "shm"))
			snprintf(want_dev + strlen(want_dev), sizeof want_dev - strlen(want_dev),
				 "%s ", *d);
	}
	run_ns("LC_ALL=C ls -A / | LC_ALL=C sort; echo --; LC_ALL=C ls -A /dev | LC_ALL=C sort; "
	       "echo --; ls -A /etc | LC_ALL=C sort; echo --; readlink /bin; "
	       "grep -c '^runbox:x:64998:64998:' /etc/passwd; "
	       "touch /usr/x 2>/dev/null || echo usr-ro; touch /x 2>/dev/null || echo root-ro; "
	       "echo data > /dev/null && head -c 4 /dev/zero | wc -c; "
	       "echo t > /tmp/t && cat /tmp/t; "
	       "grep -v ':/$' /proc/self/cgroup | wc -l; "
	       "awk '{print $5}' /proc/self/mountinfo | LC_ALL=C sort | tr '\\n' ' '; echo; "
	       "ls -d /home /var /run /sys /root /opt 2>&1 | grep -c 'No such file'", -1, &res);
	ck_assert_status(&res, SBX_OK);
	snprintf(got, sizeof got, "%s", res.out.data);
	squash(got);
	char want[2048];
	snprintf(want, sizeof want,
		 "%s-- %s-- alternatives group hosts ld.so.cache passwd -- %s1 usr-ro root-ro 4 t 0 ",
		 want_top, want_dev,
		 lstat("/bin", &st) == 0 && S_ISLNK(st.st_mode) ? "usr/bin " : "");
	ck_assert_msg(!strncmp(got, want, strlen(want)), "got  %s\nwant %s", got, want);
	/* mount points: the root, its binds, devices and private mounts */
	const char *mounts = got + strlen(want);
	ck_assert_msg(strstr(mounts, "/ /dev/full ") && strstr(mounts, "/dev/pts ") &&
		      strstr(mounts, "/proc /tmp /usr "), "mount points: %s", mounts);
	for (const char *m = mounts; *m; ) {
		size_t n = strcspn(m, " ");
		if (n == 0)
			break;
		ck_assert_msg(!strncmp(m, "/ ", 2) || !strncmp(m, "/dev/", 5) ||
			      !strncmp(m, "/etc/", 5) || !strncmp(m, "/usr ", 5) ||
			      !strncmp(m, "/proc ", 6) || !strncmp(m, "/tmp ", 5) ||
			      !strncmp(m, "/lib", 4) || !strncmp(m, "/bin ", 5) ||
			      !strncmp(m, "/sbin ", 6) || isdigit((unsigned char)*m),
			      "unexpected mount point in %s", mounts);
		if (isdigit((unsigned char)*m)) {
			ck_assert_int_eq(atoi(m), 6); /* /home ... /opt: none there */
			break;
		}
		m += n;
		while (*m == ' ')
			m++;
	}
	sbx_result_free(&res);
}
END_TEST

/*
 * A run's own file system (workfs_fd_plus1): its "work", "tmp" and "shm"
 * are the run's box_dir (where it starts), /tmp and /dev/shm, all on the
 * one tmpfs (the files are there through the caller's fd afterwards),
 * nothing of it is left as a mount in the run's root, usage.disk_bytes is
 * what the files use at the end (the quota: dd filled it), and the same fd
 * serves a second run.
 */
START_TEST(test_run_file_system)
{
	char *argv[] = { "/bin/sh", "-c", "echo a > f && echo b > /tmp/f && "
			 "echo c > /dev/shm/f && pwd && "
			 "grep -c -e ' /.workfs ' /proc/self/mountinfo; "
			 "dd if=/dev/zero of=/tmp/big bs=1M count=8 2>&1 | grep -o 'No space'",
			 NULL };
	static char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct sbx_spec spec;
	struct sbx_result res;
	char buf[8];
	int fs = fsopen("tmpfs", FSOPEN_CLOEXEC), mnt, d;

	ck_assert_int_ge(fs, 0);
	ck_assert_int_eq(fsconfig(fs, FSCONFIG_SET_STRING, "size", "4194304", 0), 0);
	ck_assert_int_eq(fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0), 0);
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	ck_assert_int_ge(mnt, 0);
	close(fs);
	ck_assert_int_eq(mkdirat(mnt, "work", 0700), 0);
	ck_assert_int_eq(fchownat(mnt, "work", NS_UID, NS_UID, 0), 0);
	ck_assert_int_eq(mkdirat(mnt, "tmp", 0777), 0);
	ck_assert_int_eq(fchmodat(mnt, "tmp", 01777, 0), 0);
	ck_assert_int_eq(mkdirat(mnt, "shm", 0777), 0);
	ck_assert_int_eq(fchmodat(mnt, "shm", 01777, 0), 0);

	spec_init(&spec, argv);
	spec.envp = envp;
	spec.root = &test_root;
	spec.box_dir = "/box/run";
	spec.workfs_fd_plus1 = mnt + 1;
	spec.namespaces = SBX_NS_ALL;
	spec.set_ids = true;
	spec.uid = spec.gid = NS_UID;
	spec.limits.file_size_bytes = 64 << 20;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "/box/run\n0\nNo space\n");
	ck_assert_msg(res.usage.disk_bytes > (4u << 20) - (64u << 10) &&
		      res.usage.disk_bytes <= 4u << 20,
		      "disk_bytes %llu on a full 4 MiB tmpfs",
		      (unsigned long long)res.usage.disk_bytes);
	sbx_result_free(&res);
	const char *files[][2] = { { "work/f", "a" }, { "tmp/f", "b" }, { "shm/f", "c" } };
	for (int i = 0; i < 3; i++) {
		d = openat(mnt, files[i][0], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ck_assert_msg(d >= 0, "%s: %s", files[i][0], strerror(errno));
		ck_assert_int_eq(read(d, buf, sizeof buf), 2);
		ck_assert_int_eq(buf[0], files[i][1][0]);
		close(d);
	}
	/* The same file system again: the files are still there. */
	argv[2] = "cat f /tmp/f /dev/shm/f";
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "a\nb\nc\n");
	sbx_result_free(&res);
	close(mnt);
}
END_TEST

/*
 * A host work directory (no file system of the run's own) shown at
 * box_dir: the program starts there, HOME-like paths name no host
 * directory, what it writes lands in the host directory, and disk_bytes
 * stays 0 (nothing to measure).
 */
START_TEST(test_box_dir_host_cwd)
{
	char *argv[] = { "/bin/sh", "-c", "pwd; echo hi > f; ls -d /tmp/check-sandbox-box-* "
			 "2>/dev/null | wc -l", NULL };
	static char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	char dir[] = "/tmp/check-sandbox-box-XXXXXX", buf[8] = "";
	struct sbx_spec spec;
	struct sbx_result res;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chown(dir, NS_UID, NS_UID), 0);
	spec_init(&spec, argv);
	spec.envp = envp;
	spec.root = &test_root;
	spec.cwd = dir;
	spec.box_dir = "/box";
	spec.namespaces = SBX_NS_ALL;
	spec.set_ids = true;
	spec.uid = spec.gid = NS_UID;
	run(&spec, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "/box\n0\n");
	ck_assert_uint_eq(res.usage.disk_bytes, 0);
	sbx_result_free(&res);
	char path[sizeof dir + 8];
	snprintf(path, sizeof path, "%s/f", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof buf), 3);
	ck_assert_str_eq(buf, "hi\n");
	close(fd);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------------ boxes */

/* A run's own file system as the service makes it: work (NS_UID's), tmp,
   shm, on a tmpfs of 4 MiB. */
static int make_workfs(void)
{
	int fs = fsopen("tmpfs", FSOPEN_CLOEXEC), mnt;

	ck_assert_int_ge(fs, 0);
	ck_assert_int_eq(fsconfig(fs, FSCONFIG_SET_STRING, "size", "4194304", 0), 0);
	ck_assert_int_eq(fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0), 0);
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	ck_assert_int_ge(mnt, 0);
	close(fs);
	ck_assert_int_eq(mkdirat(mnt, "work", 0700), 0);
	ck_assert_int_eq(fchownat(mnt, "work", NS_UID, NS_UID, 0), 0);
	ck_assert_int_eq(mkdirat(mnt, "tmp", 0777), 0);
	ck_assert_int_eq(fchmodat(mnt, "tmp", 01777, 0), 0);
	ck_assert_int_eq(mkdirat(mnt, "shm", 0777), 0);
	ck_assert_int_eq(fchmodat(mnt, "shm", 01777, 0), 0);
	return mnt;
}

static struct sbx_box *make_box(void)
{
	struct sbx_spec tmpl;
	struct sbx_box *box = NULL;
	char err[256] = "";

	spec_init(&tmpl, (char *[]){ "unused", NULL });
	tmpl.root = &test_root;
	tmpl.box_dir = "/box";
	tmpl.namespaces = SBX_NS_ALL;
	tmpl.set_ids = true;
	tmpl.uid = tmpl.gid = NS_UID;
	tmpl.seccomp = true;
	ck_assert_msg(sbx_box_create(&box, &tmpl, err, sizeof err) == 0,
		      "sbx_box_create: %s", err);
	ck_assert(sbx_box_alive(box));
	return box;
}

/* A script run in box with a fresh file system of its own; the result in
   res, the file system closed (dropped) afterwards. */
static void run_in_box(struct sbx_box *box, const char *script,
		       uint64_t wall_ms, struct sbx_result *res)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	static char *envp[] = { "PATH=/usr/bin:/bin", "HOME=/box", NULL };
	struct sbx_spec spec;
	int mnt = make_workfs();

	spec_init(&spec, argv);
	spec.envp = envp;
	spec.box = box;
	spec.box_dir = "/box";
	spec.workfs_fd_plus1 = mnt + 1;
	spec.set_ids = true;
	spec.uid = spec.gid = NS_UID;
	spec.seccomp = true;
	spec.limits.wall_time_ms = wall_ms;
	spec.limits.output_bytes = 1 << 16;
	run(&spec, res);
	close(mnt);
}

/*
 * Runs are forks inside one long-lived init: each starts in /box on its
 * own file system, as the run's uid, under seccomp; what a run leaves
 * (a setsid'd sleeper, files, a SysV message queue) is gone for the next;
 * the init stays the same process throughout.
 */
START_TEST(test_box_runs)
{
	struct sbx_box *box = make_box();
	pid_t init = sbx_box_pid(box);
	struct sbx_result res;

	run_in_box(box, "pwd; id -u; echo left > f; echo t > /tmp/t; "
		   "(setsid sleep 30 &); ipcmk -Q >/dev/null 2>&1; "
		   "ipcs -q | grep -c '^0x'; unshare -U true 2>/dev/null || echo denied",
		   10000, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "/box\n64998\n1\ndenied\n");
	ck_assert(!res.leftovers);
	sbx_result_free(&res);

	run_in_box(box, "ls -A; ls -A /tmp; ls /proc | grep -c '^[0-9]'; "
		   "ipcs -q | grep -c '^0x'", 10000, &res);
	ck_assert_status(&res, SBX_NONZERO_EXIT); /* grep -c of nothing: 1 */
	/* Nothing in /box or /tmp; /proc: the init, sh, ls and grep (no
	   sleeper from the run before); no message queue. */
	ck_assert_str_eq(res.out.data, "4\n0\n");
	sbx_result_free(&res);
	ck_assert(sbx_box_alive(box));
	ck_assert_int_eq(sbx_box_pid(box), init);
	sbx_box_destroy(box);
}
END_TEST

/* Limits and failures of one run leave the box fit for the next. */
START_TEST(test_box_failures)
{
	struct sbx_box *box = make_box();
	struct sbx_result res;
	char *argv[] = { "/no/such/program", NULL };
	struct sbx_spec spec;
	int mnt;

	run_in_box(box, "sleep 10", 300, &res);
	ck_assert_status(&res, SBX_WALL_TIME_EXCEEDED);
	ck_assert_uint_lt(res.usage.wall_time_ms, 3000);
	sbx_result_free(&res);

	mnt = make_workfs();
	spec_init(&spec, argv);
	spec.box = box;
	spec.box_dir = "/box";
	spec.workfs_fd_plus1 = mnt + 1;
	run(&spec, &res);
	close(mnt);
	ck_assert_status(&res, SBX_EXEC_FAILED);
	ck_assert_msg(strstr(res.message, "execve"), "message: %s", res.message);
	sbx_result_free(&res);

	run_in_box(box, "kill -9 $$", 5000, &res);
	ck_assert_status(&res, SBX_SIGNALED);
	ck_assert_int_eq(res.signal, SIGKILL);
	sbx_result_free(&res);

	run_in_box(box, "echo fine", 5000, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "fine\n");
	sbx_result_free(&res);
	sbx_box_destroy(box);
}
END_TEST

/* A box whose init was killed from outside is seen as dead; a run given
   to it fails as a sandbox error, never as the program's; a new box
   serves the next run. */
START_TEST(test_box_killed_init)
{
	struct sbx_box *box = make_box();
	struct sbx_result res;
	char err[256] = "";
	char *argv[] = { "/bin/true", NULL };
	struct sbx_spec spec;
	int mnt;

	ck_assert_int_eq(kill(sbx_box_pid(box), SIGKILL), 0);
	for (int i = 0; i < 100 && sbx_box_alive(box); i++)
		usleep(10000);
	ck_assert(!sbx_box_alive(box));
	mnt = make_workfs();
	spec_init(&spec, argv);
	spec.box = box;
	spec.box_dir = "/box";
	spec.workfs_fd_plus1 = mnt + 1;
	ck_assert_int_eq(sbx_run(&spec, &res, err, sizeof err), -1);
	ck_assert_msg(err[0], "no error sentence");
	close(mnt);
	sbx_box_destroy(box);

	box = make_box();
	run_in_box(box, "echo again", 5000, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data, "again\n");
	sbx_result_free(&res);
	sbx_box_destroy(box);
}
END_TEST

/* seccomp refuses what opens the way out, with EPERM. */
START_TEST(test_seccomp_refuses)
{
	struct sbx_result res;
	run_ns("unshare -U true 2>&1; echo rc=$?", -1, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_msg(strstr(res.out.data, "Operation not permitted") &&
		      strstr(res.out.data, "rc=1"), "got %s", res.out.data);
	sbx_result_free(&res);
	ck_assert_ptr_null(sbx_seccomp_status());
}
END_TEST

/*
 * No namespace of its own through clone() either (a user namespace would
 * hand the program every capability inside it); clone3 is ENOSYS, and
 * Python's fork (which glibc routes through clone after that) still works.
 */
START_TEST(test_seccomp_clone_namespaces)
{
	struct sbx_result res;
	run_ns("/usr/bin/python3 -c '"
	       "import ctypes, os\n"
	       "libc = ctypes.CDLL(None, use_errno=True)\n"
	       "for flags in (0x10000000, 0x40000000, 0x20000, 0x20000000):\n"
	       "    rc = libc.syscall(56, flags | 17, 0, 0, 0, 0)\n"
	       "    if rc == 0: os._exit(0)\n"
	       "    print(hex(flags), rc, ctypes.get_errno())\n"
	       "print(\"clone3\", libc.syscall(435, 0, 0), ctypes.get_errno())\n"
	       "pid = os.fork()\n"
	       "if pid == 0: os._exit(7)\n"
	       "print(\"fork\", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
	       "'", -1, &res);
	ck_assert_status(&res, SBX_OK);
	ck_assert_str_eq(res.out.data,
			 "0x10000000 -1 1\n0x40000000 -1 1\n0x20000 -1 1\n"
			 "0x20000000 -1 1\nclone3 -1 38\nfork 7\n");
	sbx_result_free(&res);
}
END_TEST

static Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc;

	tc = tcase(s, "statuses", 30);
	tcase_add_test(tc, test_status_names);
	tcase_add_test(tc, test_signal_names);
	tcase_add_test(tc, test_exit_zero_is_ok);
	tcase_add_test(tc, test_nonzero_exit);
	tcase_add_test(tc, test_segv_is_signaled);

	tc = tcase(s, "cancel_and_live_output", 30);
	tcase_add_test(tc, test_cancel_fd);
	tcase_add_test(tc, test_cancel_fd_quiet);
	tcase_add_test(tc, test_live_output);
	tcase_add_test(tc, test_output_refused);
	tcase_add_test(tc, test_merge_output);

	tc = tcase(s, "child", 30);
	tcase_add_test(tc, test_new_session);
	tcase_add_test(tc, test_signals_reset);
	tcase_add_test(tc, test_rlimits_applied);
	tcase_add_test(tc, test_fds_closed);
	tcase_add_test(tc, test_ids_dropped);
	tcase_add_test(tc, test_ids_kept);
	tcase_add_test(tc, test_cwd);
	tcase_add_test(tc, test_exact_environment);
	tcase_add_test(tc, test_path_search);

	tc = tcase(s, "setup errors", 30);
	tcase_add_test(tc, test_missing_program);
	tcase_add_test(tc, test_not_executable);
	tcase_add_test(tc, test_missing_cwd);
	tcase_add_test(tc, test_no_path_in_env);
	tcase_add_test(tc, test_invalid_argv);

	tc = tcase(s, "unreachable paths", 30);
	tcase_add_test(tc, test_unreachable_program);
	tcase_add_test(tc, test_unreachable_indirect);
	tcase_add_test(tc, test_unreachable_cwd);
	tcase_add_test(tc, test_denied_program_itself);

	tc = tcase(s, "capture", 30);
	tcase_add_test(tc, test_stdin_roundtrip);
	tcase_add_test(tc, test_empty_stdin);
	tcase_add_test(tc, test_unread_stdin);
	tcase_add_test(tc, test_stdin_does_not_block_timer);
	tcase_add_test(tc, test_stdout_cap);
	tcase_add_test(tc, test_stderr_cap);
	tcase_add_test(tc, test_exact_cap);
	tcase_add_test(tc, test_endless_writer);
	tcase_add_test(tc, test_stubborn_writer);
	tcase_add_test(tc, test_uncapped_output);

	tc = tcase(s, "limits", 30);
	tcase_add_test(tc, test_wall_limit);
	tcase_add_test(tc, test_cpu_limit);
	tcase_add_test(tc, test_cpu_limit_threads);
	tcase_add_test(tc, test_sigxcpu_is_cpu_exceeded);
	tcase_add_test(tc, test_caught_sigxcpu);
	tcase_add_test(tc, test_file_size_limit);
	tcase_add_test(tc, test_fork_bomb);

	tc = tcase(s, "escape cleanup", 30);
	tcase_add_test(tc, test_background_does_not_hold_run);
	tcase_add_test(tc, test_daemon_bounded_drain);
	tcase_add_test(tc, test_background_killed_on_exit);
	tcase_add_test(tc, test_background_killed_on_timeout);

	tc = tcase(s, "concurrency", 60);
	tcase_add_test(tc, test_concurrent_runs);
	tcase_add_test(tc, test_concurrent_fds_isolated);

	tc = tcase(s, "usage", 30);
	tcase_add_test(tc, test_cpu_usage_sums);
	tcase_add_test(tc, test_max_rss);
	tcase_add_test(tc, test_usage_is_per_run);

	tc = tcase(s, "namespaces", 30);
	tcase_add_test(tc, test_pid_namespace);
	tcase_add_test(tc, test_joined_network_namespace);
	tcase_add_test(tc, test_minimal_root);
	tcase_add_test(tc, test_run_file_system);
	tcase_add_test(tc, test_box_dir_host_cwd);
	tcase_add_test(tc, test_seccomp_refuses);
	tcase_add_test(tc, test_seccomp_clone_namespaces);

	tc = tcase(s, "boxes", 30);
	tcase_add_test(tc, test_box_runs);
	tcase_add_test(tc, test_box_failures);
	tcase_add_test(tc, test_box_killed_init);

	tc = tcase(s, "leaks", 120);
	tcase_add_test(tc, test_no_leaks);

	return s;
}

/* Copies the fixture name from the build tree to fixtures_copy, mode 0755. */
static int copy_fixture(const char *name, char *dst, size_t len)
{
	char src[PATH_MAX], buf[65536];
	int in, out, rc = -1;
	ssize_t n;

	snprintf(src, sizeof src, "%s/%s", FIXTURES_DIR, name);
	snprintf(dst, len, "%s/%s", fixtures_copy, name);
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "check_sandbox: %s: %s (built by make check)\n", src,
			strerror(errno));
		return -1;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (out >= 0 && n == 0 && fchmod(out, 0755) == 0 && close(out) == 0)
		rc = 0;
	else
		fprintf(stderr, "check_sandbox: copying %s to %s: %s\n", src, dst,
			strerror(errno));
	close(in);
	return rc;
}

static void remove_fixtures(void)
{
	unlink(probe_path);
	unlink(misbehave_path);
	rmdir(fixtures_copy);
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!mkdtemp(fixtures_copy) || chmod(fixtures_copy, 0755) < 0) {
		fprintf(stderr, "check_sandbox: cannot make a directory under /tmp for "
			"the fixtures (%s): the tests run them as other users, who need "
			"a directory they can enter; make /tmp writable (mode 1777)\n",
			strerror(errno));
		return EXIT_FAILURE;
	}
	if (copy_fixture("probe", probe_path, sizeof probe_path) < 0 ||
	    copy_fixture("misbehave", misbehave_path, sizeof misbehave_path) < 0) {
		remove_fixtures();
		return EXIT_FAILURE;
	}
	sr = srunner_create(sandbox_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_fixtures();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
