/*
 * runbox.c - the command-line client: run a file on a runbox server.
 *
 *   runbox [OPTIONS] run [OPTIONS] FILE [ARGS...]
 *   runbox [OPTIONS] submit [OPTIONS] FILE [ARGS...]   (a job: prints its id)
 *   runbox [OPTIONS] wait [-q] ID                       (then as run would)
 *   runbox [OPTIONS] cancel ID
 *   runbox [OPTIONS] languages
 *   runbox --help | --version
 *
 * Theory of operation.  One command is one HTTP request and one answer:
 *
 *   1. parse_args() fills a struct options.  It is strict: an unknown
 *      option, a number that is not one, an option given twice or given to
 *      a command that does not take it is an error (EXIT_USAGE), before any
 *      file is read or any connection made.
 *   2. build_run_body() reads FILE and the input to send (our own stdin
 *      unless it is a terminal, or --stdin FILE), the --file files and the
 *      --tests file, and makes the JSON body.  The request's encoding is
 *      "base64": code, stdin, files and the tests' texts go as base64 and
 *      stdout/stderr and collected files come back as base64, so every
 *      byte survives both ways (utf-8 mode would turn invalid UTF-8 into
 *      U+FFFD).
 *   3. http_exchange() sends it with libcurl (Authorization: Bearer when a
 *      token is set) and keeps the HTTP status, the body and the
 *      X-Request-Id and Retry-After headers.  With --stream a 200 answer
 *      is NDJSON instead: each event is handled as it arrives (see
 *      "streamed answers") and only the result event is kept.
 *   4. report_run() writes the program's stdout and stderr, decoded, to our
 *      stdout and stderr (unless streamed already), or a line per test in
 *      judge mode, writes --collect files next to FILE, and turns the
 *      answer's status into our exit code (RUN_EXITS below).  Errors are
 *      reported by report_error_answer().
 *
 * Two kinds of failure, never mixed: what the program did is an exit code
 * of its own (0-255, 128+signal, 201-208); what went wrong on the way (the
 * server refused, could not be reached, bad arguments, a collected file
 * that cannot be written) is 250-253 with one sentence on stderr, and
 * Ctrl-C during --stream is 130.  A program that itself exits with 201-208
 * or 250-253 cannot be told apart from those: --json gives the whole
 * answer.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown" /* built outside the autotools tree */
#endif

#define DEFAULT_SERVER "http://127.0.0.1:8080"
/* The most runbox reads of FILE or of the input, and keeps of an answer.
   Servers refuse far less (max_body_bytes, 1 MiB when shipped); the caps
   only keep an endless pipe from eating the client's memory. */
#define MAX_INPUT_BYTES ((size_t)64 << 20)
#define MAX_ANSWER_BYTES ((size_t)256 << 20)

/*
 * Exit codes.  A run that ended on its own gives the program's own code;
 * every other way a run ends has a code of its own, well above what
 * programs commonly use and above 128+signal (at most 192 on Linux):
 *
 *   status / failure       exit code
 *   ok, nonzero_exit       the program's exit code (0-255)
 *   signaled               128 + the signal's number, as a shell says it
 *                          (SIGKILL 137, SIGSEGV 139)
 *   cpu_time_exceeded      201
 *   wall_time_exceeded     202
 *   memory_exceeded        203
 *   output_exceeded        204   (stdout/stderr hold what was kept)
 *   file_size_exceeded     205
 *   exec_failed            206
 *   compile_error          207   (the compiler's stdout and stderr on stderr)
 *   API error              250   any non-2xx answer (401, 400, 429, 503...),
 *                                 or an answer that is not runbox's
 *   server unreachable     251   resolve, connect or transfer failed
 *   usage                  252   bad arguments, unreadable FILE or --stdin
 *                                 file, unknown extension
 *   internal               253   out of memory, cannot write our output
 *
 * RUN_EXITS and CLIENT_EXITS below are that table for the code and for
 * --help; keep the three in step.
 */
#define RUN_EXITS(X)                                                               \
	X("cpu_time_exceeded", 201, "used more CPU time than its limit")            \
	X("wall_time_exceeded", 202, "still running at its wall-time limit")        \
	X("memory_exceeded", 203, "passed its memory limit")                        \
	X("output_exceeded", 204, "wrote more than the output limit to a stream")   \
	X("file_size_exceeded", 205, "wrote a file larger than its limit")          \
	X("exec_failed", 206, "could not be started")                               \
	X("compile_error", 207, "did not compile (the compiler's output is on stderr)") \
	X("wrong_answer", 208, "--tests: a test exited 0 with output other than expected")

/* ...and what went wrong on the way, whatever the command. */
#define CLIENT_EXITS(X)                                                            \
	X(EXIT_INTERRUPTED, 130, "interrupted (Ctrl-C) during --stream: the run was cancelled") \
	X(EXIT_API, 250, "the server refused the request (its message is on stderr)\n" \
	  "        or did not answer like runbox")                                  \
	X(EXIT_UNREACHABLE, 251, "the server could not be reached, or the connection broke") \
	X(EXIT_USAGE, 252, "bad arguments, an unreadable file, an unknown extension") \
	X(EXIT_INTERNAL, 253, "runbox itself failed (out of memory, cannot write output\n" \
	  "        or a collected file)")

enum client_exit {
#define X(name, code, help) name = code,
	CLIENT_EXITS(X)
#undef X
};

static const struct run_exit {
	const char *status;
	int code;
	const char *help;
} run_exits[] = {
#define X(status, code, help) { status, code, help },
	RUN_EXITS(X)
#undef X
};

static const struct client_exit_doc {
	int code;
	const char *help;
} client_exits[] = {
#define X(name, code, help) { code, help },
	CLIENT_EXITS(X)
#undef X
};

/* The request's limits: one table drives the options, the JSON and --help.
   X(field, option, takes a K/M/G suffix, help) */
#define LIMITS(X)                                                                   \
	X(cpu_time_ms, "cpu-time-ms", false, "CPU time of the whole process tree, in ms") \
	X(wall_time_ms, "wall-time-ms", false, "elapsed time, in ms")                 \
	X(memory_bytes, "memory-bytes", true, "memory of the whole process tree")     \
	X(stack_bytes, "stack-bytes", true, "stack size")                             \
	X(processes, "processes", false, "processes and threads")                     \
	X(open_files, "open-files", false, "open file descriptors per process")       \
	X(file_size_bytes, "file-size-bytes", true, "largest file the program may write") \
	X(output_bytes, "output-bytes", true, "stdout and stderr, each")                \
	X(disk_bytes, "disk-bytes", true, "the run's files: work dir, /tmp, /dev/shm")

enum limit_id {
#define X(field, option, bytes, help) LIMIT_##field,
	LIMITS(X)
#undef X
	NLIMITS
};

static const struct limit_doc {
	const char *field;
	const char *option;
	bool bytes;
	const char *help;
} limit_docs[NLIMITS] = {
#define X(field, option, bytes, help) [LIMIT_##field] = { #field, option, bytes, help },
	LIMITS(X)
#undef X
};

/* Languages by file name extension; --language overrides. */
static const struct {
	const char *ext;
	const char *language;
} extensions[] = {
	{ ".py", "python3" },
	{ ".sh", "sh" },
	{ ".c", "c" },
};

/* Every option; the value getopt_long returns for it.  Limits follow
   OPT_LIMIT, in LIMITS order. */
enum option_id {
	OPT_SERVER = 256,
	OPT_TOKEN,
	OPT_LANGUAGE,
	OPT_STDIN,
	OPT_NO_STDIN,
	OPT_JSON,
	OPT_QUIET,
	OPT_HELP,
	OPT_VERSION,
	OPT_STREAM,
	OPT_FILE,
	OPT_TESTS,
	OPT_COLLECT,
	OPT_MERGE_OUTPUT,
	OPT_LIMIT,
	OPT_END = OPT_LIMIT + NLIMITS
};

static const struct option long_options[] = {
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "language", required_argument, NULL, OPT_LANGUAGE },
	{ "stdin", required_argument, NULL, OPT_STDIN },
	{ "no-stdin", no_argument, NULL, OPT_NO_STDIN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "stream", no_argument, NULL, OPT_STREAM },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "tests", required_argument, NULL, OPT_TESTS },
	{ "collect", required_argument, NULL, OPT_COLLECT },
	{ "merge-output", no_argument, NULL, OPT_MERGE_OUTPUT },
#define X(field, option, bytes, help) \
	{ option, required_argument, NULL, OPT_LIMIT + LIMIT_##field },
	LIMITS(X)
#undef X
	{ NULL, 0, NULL, 0 },
};

/* Options that only `run` takes (the others go with every command). */
static bool run_only(int id)
{
	return id == OPT_LANGUAGE || id == OPT_STDIN || id == OPT_NO_STDIN ||
	       id == OPT_QUIET || id == OPT_STREAM || id == OPT_FILE || id == OPT_TESTS ||
	       id == OPT_COLLECT || id == OPT_MERGE_OUTPUT || id >= OPT_LIMIT;
}

/* Options that may be given more than once. */
static bool repeatable(int id)
{
	return id == OPT_FILE || id == OPT_COLLECT;
}

struct options {
	const char *server; /* --server, RUNBOX_URL or DEFAULT_SERVER */
	const char *token;  /* --token or RUNBOX_TOKEN; NULL: none */
	const char *language;
	const char *stdin_path; /* NULL: our stdin unless it is a terminal */
	bool no_stdin, json, quiet, help, version, stream, merge_output;
	const char *tests_path; /* --tests FILE.json: judge mode */
	/* --file NAME=PATH and --collect NAME, in order (pointers into argv;
	   the arrays have room for every argument). */
	const char **files, **collect;
	int nfiles, ncollect;
	bool has_limit[NLIMITS];
	long long limit[NLIMITS];
	bool seen[OPT_END - OPT_SERVER];
	const char *command; /* "run", "submit", "wait", "cancel" or "languages" */
	char **operands;     /* run: FILE then ARGS */
	int noperands;
};

/* A growing byte buffer. */
struct buf {
	char *data;
	size_t len, cap;
};

struct stream;

/* One HTTP answer. */
struct answer {
	long status;
	CURL *curl;
	struct stream *stream; /* --stream: where an NDJSON body goes */
	bool decided;          /* the first byte of the body came */
	bool streaming;        /* ...and the body is NDJSON: it went to stream */
	struct buf body;
	bool too_large; /* the body passed MAX_ANSWER_BYTES */
	bool out_of_memory;
	char request_id[80];
	char retry_after[32];
};

/* ---- small helpers -------------------------------------------------- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;
	fputs("runbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("runbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'runbox --help'.\n", stderr);
	return EXIT_USAGE;
}

/* Room for n more bytes (and a terminating NUL); -1 past max. */
static int buf_reserve(struct buf *b, size_t n, size_t max)
{
	if (n > max || b->len > max - n)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

/*
 * All of fd into b, at most max bytes.  0, or -1 with errno (ENOMEM when
 * memory ran out, EFBIG past max, else read's).
 */
static int read_all(int fd, struct buf *b, size_t max)
{
	for (;;) {
		/* One byte beyond max tells "exactly max" from "more". */
		size_t want = max + 1 - b->len < 65536 ? max + 1 - b->len : 65536;
		if (buf_reserve(b, want, max + 1) < 0) {
			errno = ENOMEM;
			return -1;
		}
		ssize_t n = read(fd, b->data + b->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
		if (b->len > max) {
			errno = EFBIG;
			return -1;
		}
	}
	b->data[b->len] = '\0';
	return 0;
}

/* Every byte of data to fd; 0, or -1 with errno. */
static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
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

/* ---- base64 (RFC 4648, with padding; libsodium's codec) ------------- */

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

static char *b64_encode(const unsigned char *in, size_t len, size_t *outlen)
{
	size_t size = sodium_base64_encoded_len(len, B64_VARIANT);
	char *out = malloc(size);

	if (!out)
		return NULL;
	sodium_bin2base64(out, size, in, len, B64_VARIANT);
	*outlen = size - 1;
	return out;
}

/* Decode in into out (replacing what it held); -1 if it is not base64 or
   memory runs out. */
static int b64_decode(const char *in, size_t len, struct buf *out)
{
	size_t got = 0;

	out->len = 0;
	if (len % 4 != 0 || buf_reserve(out, len / 4 * 3, SIZE_MAX / 2) < 0)
		return -1;
	if (sodium_base642bin((unsigned char *)out->data, len / 4 * 3, in, len, NULL,
			      &got, NULL, B64_VARIANT) != 0)
		return -1;
	out->len = got;
	out->data[out->len] = '\0';
	return 0;
}

/* ---- arguments ------------------------------------------------------ */

/* A limit's value: decimal digits, ≥ 1, with K, M or G (powers of 1024)
   for byte limits.  0, or -1 with a sentence in err. */
static int parse_limit(const struct limit_doc *d, const char *s, long long *out,
		       char *err, size_t errlen)
{
	unsigned long long v = 0, unit = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (unsigned long long)(INT64_MAX - (*p - '0')) / 10)
			goto range;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (*p && d->bytes && !p[1]) {
		switch (*p) {
		case 'K': case 'k': unit = 1ULL << 10; break;
		case 'M': case 'm': unit = 1ULL << 20; break;
		case 'G': case 'g': unit = 1ULL << 30; break;
		default: goto bad;
		}
		p++;
	}
	if (*p)
		goto bad;
	if (v > (unsigned long long)INT64_MAX / unit)
		goto range;
	v *= unit;
	if (v < 1)
		goto range;
	*out = (long long)v;
	return 0;
bad:
	snprintf(err, errlen, "--%s: expected a positive integer%s, got '%s'", d->option,
		 d->bytes ? " (optionally with K, M or G)" : "", s);
	return -1;
range:
	snprintf(err, errlen, "--%s: '%s' is out of range (1 to %lld)", d->option, s,
		 (long long)INT64_MAX);
	return -1;
}

/* The name a user typed for option id, for messages. */
static const char *option_name(int id)
{
	if (id >= OPT_LIMIT)
		return limit_docs[id - OPT_LIMIT].option;
	for (const struct option *o = long_options; o->name; o++)
		if (o->val == id)
			return o->name;
	return "?";
}

/* One getopt_long pass over argv (argv[0] is skipped); stops at the first
   operand.  0, or an exit code. */
static int parse_pass(int argc, char **argv, struct options *o)
{
	char err[256];
	int c;

	optind = 0; /* glibc: start afresh (the second pass has a new argv) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hjl:q", long_options, NULL)) != -1) {
		switch (c) {
		case 'h': c = OPT_HELP; break;
		case 'j': c = OPT_JSON; break;
		case 'l': c = OPT_LANGUAGE; break;
		case 'q': c = OPT_QUIET; break;
		case ':':
			return usage_error("option %s needs a value", argv[optind - 1]);
		case '?':
			if (optopt >= OPT_SERVER)
				return usage_error("--%s takes no value", option_name(optopt));
			if (optopt)
				return usage_error("unknown option -%c", optopt);
			return usage_error("unknown or ambiguous option %s", argv[optind - 1]);
		}
		if (o->seen[c - OPT_SERVER] && !repeatable(c))
			return usage_error("--%s is given twice", option_name(c));
		o->seen[c - OPT_SERVER] = true;
		switch (c) {
		case OPT_SERVER: o->server = optarg; break;
		case OPT_TOKEN: o->token = optarg; break;
		case OPT_LANGUAGE: o->language = optarg; break;
		case OPT_STDIN: o->stdin_path = optarg; break;
		case OPT_NO_STDIN: o->no_stdin = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_HELP: o->help = true; break;
		case OPT_VERSION: o->version = true; break;
		case OPT_STREAM: o->stream = true; break;
		case OPT_FILE: o->files[o->nfiles++] = optarg; break;
		case OPT_TESTS: o->tests_path = optarg; break;
		case OPT_COLLECT: o->collect[o->ncollect++] = optarg; break;
		case OPT_MERGE_OUTPUT: o->merge_output = true; break;
		default: {
			size_t k = (size_t)(c - OPT_LIMIT);
			if (parse_limit(&limit_docs[k], optarg, &o->limit[k], err, sizeof err) < 0)
				return usage_error("%s", err);
			o->has_limit[k] = true;
		}
		}
	}
	return 0;
}

static bool valid_token(const char *t)
{
	if (!*t)
		return false;
	for (; *t; t++)
		if (*t < 0x21 || *t > 0x7e)
			return false;
	return true;
}

/* The length of NAME in a --file NAME=PATH. */
static size_t file_name_len(const char *spec)
{
	return strcspn(spec, "=");
}

/* --file, --collect and --tests make sense together.  0, or an exit code. */
static int check_file_options(const struct options *o)
{
	for (int i = 0; i < o->nfiles; i++) {
		const char *spec = o->files[i];
		size_t n = file_name_len(spec);
		if (!spec[n] || n == 0 || !spec[n + 1])
			return usage_error("--file %s: expected NAME=PATH (the file's name in the "
					   "run's directory, then the local file)", spec);
		for (int j = 0; j < i; j++)
			if (file_name_len(o->files[j]) == n && !strncmp(o->files[j], spec, n))
				return usage_error("--file: the name '%.*s' is given twice", (int)n,
						   spec);
	}
	for (int i = 0; i < o->ncollect; i++) {
		const char *name = o->collect[i];
		/* What comes back is written next to FILE under this name: a
		   plain name, nothing that leaves that directory. */
		if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
			return usage_error("--collect '%s': expected a plain file name (no '/', "
					   "not '.' or '..')", name);
		for (int j = 0; j < i; j++)
			if (!strcmp(o->collect[j], name))
				return usage_error("--collect: '%s' is given twice", name);
	}
	if (o->tests_path && !*o->tests_path)
		return usage_error("--tests needs a file");
	if (o->tests_path && o->ncollect)
		return usage_error("--collect does not go with --tests: each test collects its "
				   "own files (run once without --tests, or see them with --json)");
	return 0;
}

static void options_free(struct options *o)
{
	free(o->files);
	free(o->collect);
	o->files = o->collect = NULL;
}

/* Options, then the command, then its options, then its operands. */
static int parse_args(int argc, char **argv, struct options *o)
{
	int rc;

	memset(o, 0, sizeof *o);
	/* Each argument is at most one --file or --collect. */
	o->files = calloc((size_t)argc + 1, sizeof *o->files);
	o->collect = calloc((size_t)argc + 1, sizeof *o->collect);
	if (!o->files || !o->collect) {
		say("out of memory");
		return EXIT_INTERNAL;
	}
	if ((rc = parse_pass(argc, argv, o)) != 0)
		return rc;
	if (o->help || o->version)
		return 0;
	if (optind >= argc)
		return usage_error("no command: use 'run FILE [ARGS...]' or 'languages'");
	int first = optind;
	o->command = argv[first];
	bool runlike = !strcmp(o->command, "run") || !strcmp(o->command, "submit");
	bool byid = !strcmp(o->command, "wait") || !strcmp(o->command, "cancel");
	if (!runlike && !byid && strcmp(o->command, "languages") != 0)
		return usage_error("unknown command '%s' (commands: run, submit, wait, cancel, "
				   "languages)", o->command);
	if ((rc = parse_pass(argc - first, argv + first, o)) != 0)
		return rc;
	if (o->help || o->version)
		return 0;
	o->operands = argv + first + optind;
	o->noperands = argc - first - optind;

	if (byid) {
		for (int id = OPT_SERVER; id < OPT_END; id++)
			if (o->seen[id - OPT_SERVER] && run_only(id) &&
			    !(id == OPT_QUIET && !strcmp(o->command, "wait")))
				return usage_error("--%s is not an option of '%s'", option_name(id),
						   o->command);
		if (o->noperands != 1)
			return usage_error("'%s' takes one job ID (what 'submit' printed)",
					   o->command);
		/* It goes into the URL's path: an id's own characters only. */
		const char *id = o->operands[0];
		if (!*id || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789.-_") != strlen(id) || strlen(id) > 200)
			return usage_error("'%s' is not a job ID", id);
	} else if (!strcmp(o->command, "languages")) {
		for (int id = OPT_SERVER; id < OPT_END; id++)
			if (o->seen[id - OPT_SERVER] && run_only(id))
				return usage_error("--%s is an option of 'run', not of 'languages'",
						   option_name(id));
		if (o->noperands > 0)
			return usage_error("'languages' takes no operand (got '%s')",
					   o->operands[0]);
	} else {
		if (o->noperands < 1)
			return usage_error("'%s' needs a FILE to run", o->command);
		if (o->stream && !strcmp(o->command, "submit"))
			return usage_error("--stream is for 'run'; a job's output comes with "
					   "'wait'");
		if (o->stdin_path && o->no_stdin)
			return usage_error("--stdin and --no-stdin exclude each other");
		if (o->language && !*o->language)
			return usage_error("--language needs a language id");
		if ((rc = check_file_options(o)) != 0)
			return rc;
	}

	if (!o->server) {
		const char *env = getenv("RUNBOX_URL");
		o->server = env && *env ? env : DEFAULT_SERVER;
	}
	if (strncasecmp(o->server, "http://", 7) != 0 &&
	    strncasecmp(o->server, "https://", 8) != 0)
		return usage_error("the server must be an http:// or https:// URL, got '%s'%s",
				   o->server, o->seen[OPT_SERVER - OPT_SERVER] ? "" : " (from RUNBOX_URL)");
	if (!o->token) {
		const char *env = getenv("RUNBOX_TOKEN");
		o->token = env && *env ? env : NULL;
	} else if (!*o->token) {
		return usage_error("--token is empty");
	}
	/* The token goes into a header line: nothing that could end it. */
	if (o->token && !valid_token(o->token))
		return usage_error("the token (%s) has spaces or control characters",
				   o->seen[OPT_TOKEN - OPT_SERVER] ? "--token" : "RUNBOX_TOKEN");
	return 0;
}

static void print_help(void)
{
	printf("usage: runbox [OPTIONS] run [OPTIONS] FILE [ARGS...]\n"
	       "       runbox [OPTIONS] submit [OPTIONS] FILE [ARGS...]\n"
	       "       runbox [OPTIONS] wait [-q] ID\n"
	       "       runbox [OPTIONS] cancel ID\n"
	       "       runbox [OPTIONS] languages\n"
	       "       runbox --help | --version\n"
	       "\n"
	       "Runs FILE on a runbox server and behaves like the program: its stdout and\n"
	       "stderr (exact bytes) on ours, and its exit code as ours.  ARGS go to the\n"
	       "program; options come before FILE ('--' ends them).\n"
	       "\n"
	       "Commands:\n"
	       "  run FILE [ARGS...]   run FILE; its language comes from its extension\n"
	       "                       (");
	for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
		printf("%s%s %s", i ? ", " : "", extensions[i].ext, extensions[i].language);
	printf(") unless --language is given\n"
	       "  submit FILE [ARGS...] the same run as a job: queued on the server, its\n"
	       "                       id printed at once (run's options, but --stream)\n"
	       "  wait ID              wait for job ID to end, then behave as 'run' would\n"
	       "                       have (its output, its exit code)\n"
	       "  cancel ID            cancel job ID (a running job is killed)\n"
	       "  languages            list the server's languages\n"
	       "\n"
	       "Options:\n"
	       "  --server URL         the server (default: $RUNBOX_URL, else\n"
	       "                       %s)\n"
	       "  --token TOKEN        sent as 'Authorization: Bearer TOKEN' (default:\n"
	       "                       $RUNBOX_TOKEN; prefer it: a command line is visible\n"
	       "                       to every user of the host)\n"
	       "  -j, --json           print the server's JSON answer instead (stdout and\n"
	       "                       stderr in it are base64); the exit code is the same\n"
	       "  -h, --help           this text\n"
	       "      --version        runbox's version\n"
	       "Options of run:\n"
	       "  -l, --language ID    the language (an id from 'runbox languages')\n"
	       "  --stdin FILE         send FILE as the program's stdin ('-': our stdin)\n"
	       "  --no-stdin           send an empty stdin\n"
	       "                       (default: our stdin, read to its end, unless it is a\n"
	       "                       terminal: then nothing)\n"
	       "  -q, --quiet          no note on stderr about how a run ended\n"
	       "  --stream             write the output as it comes (Ctrl-C closes the\n"
	       "                       connection, which cancels the run: exit 130)\n"
	       "  --merge-output       stderr into stdout, in the order written\n"
	       "  --file NAME=PATH     send the local file PATH as NAME in the run's\n"
	       "                       directory (repeatable)\n"
	       "  --collect NAME       write the run's file NAME next to FILE afterwards\n"
	       "                       (repeatable; never through a link: a NAME there\n"
	       "                       that is not a regular file is refused)\n"
	       "  --tests FILE.json    judge mode: FILE.json is a JSON array of tests\n"
	       "                       ({\"stdin\", \"expected_stdout\", \"args\"}); prints\n"
	       "                       'test N: VERDICT' each; exit 0 when all are accepted\n"
	       "Limits of run (default and maximum: the server's; see GET /api/v1/health):\n",
	       DEFAULT_SERVER);
	for (size_t i = 0; i < NLIMITS; i++) {
		char opt[40];
		snprintf(opt, sizeof opt, "--%s N%s", limit_docs[i].option,
			 limit_docs[i].bytes ? "[KMG]" : "");
		printf("  %-25s %s\n", opt, limit_docs[i].help);
	}
	printf("\n"
	       "Exit codes:\n"
	       "  0-255 ok, nonzero_exit: the program's own exit code\n"
	       "  128+N signaled: killed by signal N, as a shell says it (SIGSEGV: 139)\n");
	for (size_t i = 0; i < sizeof run_exits / sizeof run_exits[0]; i++)
		printf("  %-5d %s: %s\n", run_exits[i].code, run_exits[i].status,
		       run_exits[i].help);
	for (size_t i = 0; i < sizeof client_exits / sizeof client_exits[0]; i++)
		printf("  %-5d %s\n", client_exits[i].code, client_exits[i].help);
	printf("A note on stderr says how a run ended when it was not by exiting (-q: none).\n"
	       "With --tests, the code is that of the first test not accepted.\n"
	       "A program that itself exits with one of 201-208 or 250-253 cannot be told\n"
	       "from those: use --json.\n");
}

/* ---- streamed answers (NDJSON) ------------------------------------- */

/*
 * With --stream the request says Accept: application/x-ndjson and a 200
 * answer is one JSON event per line (docs/API.md, "Streamed answers").
 * libcurl hands the body over in chunks that ignore lines, so
 * stream_feed() gathers each line up to its '\n' and stream_event()
 * handles it at once: an output event is decoded and written to our
 * stdout or stderr with write(2) (no stdio buffer in between), a judge
 * test prints its line, and the result event is kept for report_run(),
 * which then ends the command as without --stream, minus the output that
 * is already out.  Any other answer (an error, an older server's plain
 * JSON) goes to the answer's body as usual.
 *
 * Ctrl-C only sets a flag; libcurl's progress callback sees it and aborts
 * the transfer, which closes the connection: the server takes that as
 * the run's cancel and kills it.
 */
struct stream {
	const struct options *o;
	struct buf line;    /* the line being gathered */
	struct buf scratch; /* decoded output */
	json_t *result;     /* the result event, without its "event" key */
	int rc;             /* nonzero: the stream is abandoned (said on stderr) */
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* "test 2: wrong_answer" for tests[index] (t); 0, or an exit code. */
static int print_test_line(json_t *t, json_int_t index)
{
	const char *verdict = json_string_value(json_object_get(t, "verdict"));
	const char *message = json_string_value(json_object_get(t, "message"));
	/* The message only says more when the run itself went wrong. */
	bool plain = !verdict || !message || !strcmp(verdict, "accepted") ||
		     !strcmp(verdict, "wrong_answer") || !strcmp(verdict, "skipped");

	if (printf("test %lld: %s%s%s%s\n", (long long)index + 1, verdict ? verdict : "?",
		   plain ? "" : " (", plain ? "" : message, plain ? "" : ")") < 0 ||
	    fflush(stdout) != 0) {
		say("cannot write to stdout: %s", strerror(errno));
		return EXIT_INTERNAL;
	}
	return 0;
}

/* An output event: its bytes to fd (unless --json or --tests, whose
   output is the answer or the tests' lines). */
static int stream_output(struct stream *s, json_t *e, const char *event, int fd)
{
	json_t *data = json_object_get(e, "data");

	if (s->o->json || s->o->tests_path)
		return 0;
	if (!json_is_string(data) ||
	    b64_decode(json_string_value(data), json_string_length(data), &s->scratch) < 0) {
		say("a %s event of the stream is not base64", event);
		return EXIT_API;
	}
	if (write_all(fd, s->scratch.data, s->scratch.len) < 0) {
		say("cannot write the program's %s: %s", event, strerror(errno));
		return EXIT_INTERNAL;
	}
	return 0;
}

/* One line of the stream; sets s->rc when the stream must stop. */
static void stream_event(struct stream *s, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *e = json_loadb(line, len, 0, &jerr);
	const char *event = json_string_value(json_object_get(e, "event"));

	if (!json_is_object(e) || !event) {
		say("the stream has a line that is not an event (%s)",
		    e ? "no \"event\" name" : jerr.text);
		s->rc = EXIT_API;
	} else if (!strcmp(event, "stdout") || !strcmp(event, "stderr")) {
		s->rc = stream_output(s, e, event,
				      event[3] == 'o' ? STDOUT_FILENO : STDERR_FILENO);
	} else if (!strcmp(event, "test")) {
		json_t *index = json_object_get(e, "index");
		if (!json_is_integer(index) || json_integer_value(index) < 0) {
			say("a test event of the stream has no index");
			s->rc = EXIT_API;
		} else if (!s->o->json) {
			s->rc = print_test_line(e, json_integer_value(index));
		}
	} else if (!strcmp(event, "result")) {
		if (s->result) {
			say("the stream has two result events");
			s->rc = EXIT_API;
		} else {
			json_object_del(e, "event");
			s->result = json_incref(e);
		}
	} else if (!strcmp(event, "error")) {
		json_t *err = json_object_get(e, "error");
		const char *code = json_string_value(json_object_get(err, "code"));
		const char *message = json_string_value(json_object_get(err, "message"));
		say("the server failed during the run: %s: %s", code ? code : "?",
		    message ? message : "(no message)");
		s->rc = EXIT_API;
	}
	/* "compile" (its output comes with the result) and events this
	   client does not know yet need nothing. */
	json_decref(e);
}

/* A chunk of the body; false when the transfer must stop. */
static bool stream_feed(struct stream *s, const char *data, size_t len)
{
	while (len > 0 && s->rc == 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (buf_reserve(&s->line, take, MAX_ANSWER_BYTES) < 0) {
			bool big = s->line.len + take > MAX_ANSWER_BYTES;
			if (big)
				say("an event of the stream is larger than %zu MiB",
				    MAX_ANSWER_BYTES >> 20);
			else
				say("out of memory");
			s->rc = big ? EXIT_API : EXIT_INTERNAL;
			break;
		}
		memcpy(s->line.data + s->line.len, data, take);
		s->line.len += take;
		if (!nl)
			break;
		data += take + 1;
		len -= take + 1;
		if (s->line.len > 0)
			stream_event(s, s->line.data, s->line.len);
		s->line.len = 0;
	}
	return s->rc == 0;
}

/* The body ended: 0 when a result came, else an exit code (said). */
static int stream_end(struct stream *s)
{
	if (s->rc == 0 && s->line.len > 0) /* a last line without its '\n' */
		stream_event(s, s->line.data, s->line.len);
	if (s->rc == 0 && !s->result) {
		say("the stream ended without its result event");
		s->rc = EXIT_API;
	}
	return s->rc;
}

static void stream_free(struct stream *s)
{
	buf_free(&s->line);
	buf_free(&s->scratch);
	json_decref(s->result);
	s->result = NULL;
}

/* libcurl's progress callback: nonzero aborts the transfer. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)user, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return interrupted != 0;
}

/* ---- HTTP ----------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
	struct answer *a = user;
	size_t len = size * n;

	if (a->stream && !a->decided) {
		long code = 0;
		char *type = NULL;
		curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(a->curl, CURLINFO_CONTENT_TYPE, &type);
		a->streaming = code == 200 && type &&
			       !strncasecmp(type, "application/x-ndjson", 20);
	}
	a->decided = true;
	if (a->streaming)
		return stream_feed(a->stream, data, len) ? len : 0;
	if (buf_reserve(&a->body, len, MAX_ANSWER_BYTES) < 0) {
		if (a->body.len + len > MAX_ANSWER_BYTES)
			a->too_large = true;
		else
			a->out_of_memory = true;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	memcpy(a->body.data + a->body.len, data, len);
	a->body.len += len;
	a->body.data[a->body.len] = '\0';
	return len;
}

/* Keep one header's value (trimmed) if line is "name: value". */
static void keep_header(const char *line, size_t len, const char *name, char *out,
			size_t outlen)
{
	size_t nlen = strlen(name);
	if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return;
	const char *v = line + nlen + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	size_t vlen = (size_t)(end - v) < outlen - 1 ? (size_t)(end - v) : outlen - 1;
	for (size_t i = 0; i < vlen; i++) /* for messages: printable only */
		out[i] = isprint((unsigned char)v[i]) ? v[i] : '?';
	out[vlen] = '\0';
}

static size_t on_header(char *line, size_t size, size_t n, void *user)
{
	struct answer *a = user;
	keep_header(line, size * n, "X-Request-Id", a->request_id, sizeof a->request_id);
	keep_header(line, size * n, "Retry-After", a->retry_after, sizeof a->retry_after);
	return size * n;
}

/*
 * GET path (body NULL) or POST body to path on the server; the answer in
 * a.  With stream, ask for NDJSON: a streamed answer goes to stream as it
 * comes (a->streaming), and Ctrl-C aborts.  0 when an answer came
 * (whatever its HTTP status), else an exit code with one sentence on
 * stderr.
 */
static int http_exchange(const struct options *o, const char *method, const char *path,
			 const char *body, size_t body_len, struct answer *a,
			 struct stream *stream)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL, *h;
	char *url = NULL, *auth = NULL;
	size_t slen = strlen(o->server);
	int rc = EXIT_INTERNAL;
	CURLcode cc;
	CURL *curl;

	memset(a, 0, sizeof *a);
	if (!(curl = curl_easy_init())) {
		say("cannot start libcurl");
		return EXIT_INTERNAL;
	}
	while (slen > 0 && o->server[slen - 1] == '/')
		slen--;
	if (!(url = malloc(slen + strlen(path) + 1)))
		goto oom;
	memcpy(url, o->server, slen);
	strcpy(url + slen, path);

	if (body) {
		if (!(h = curl_slist_append(headers, "Content-Type: application/json")))
			goto oom;
		headers = h;
	}
	if (stream) {
		if (!(h = curl_slist_append(headers, "Accept: application/x-ndjson")))
			goto oom;
		headers = h;
		a->stream = stream;
		a->curl = curl;
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	}
	/* No "Expect: 100-continue" round trip before the body. */
	if (!(h = curl_slist_append(headers, "Expect:")))
		goto oom;
	headers = h;
	if (o->token) {
		size_t alen = strlen("Authorization: Bearer ") + strlen(o->token) + 1;
		if (!(auth = malloc(alen)))
			goto oom;
		snprintf(auth, alen, "Authorization: Bearer %s", o->token);
		if (!(h = curl_slist_append(headers, auth)))
			goto oom;
		headers = h;
	}

	if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK
#else
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS,
			     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK
#endif
	   ) {
		say("the server URL '%s' is not usable", o->server);
		rc = EXIT_USAGE;
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "runbox/" PACKAGE_VERSION);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, a);
	if (method)
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}

	cc = curl_easy_perform(curl);
	if (cc == CURLE_ABORTED_BY_CALLBACK && interrupted) {
		say("interrupted: the connection is closed, which cancels the run");
		rc = EXIT_INTERRUPTED;
	} else if (cc == CURLE_WRITE_ERROR && a->streaming && stream->rc) {
		rc = stream->rc; /* said */
	} else if (cc == CURLE_WRITE_ERROR && a->too_large) {
		say("%s: the answer is larger than %zu MiB", url, MAX_ANSWER_BYTES >> 20);
		rc = EXIT_API;
	} else if (cc == CURLE_OUT_OF_MEMORY || (cc == CURLE_WRITE_ERROR && a->out_of_memory)) {
		goto oom;
	} else if (cc != CURLE_OK) {
		say("cannot reach the server %s: %s", o->server,
		      *errbuf ? errbuf : curl_easy_strerror(cc));
		rc = EXIT_UNREACHABLE;
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
		if (!a->body.data && buf_reserve(&a->body, 0, MAX_ANSWER_BYTES) < 0)
			goto oom;
		a->body.data[a->body.len] = '\0';
		rc = 0;
	}
	goto out;
oom:
	say("out of memory");
	rc = EXIT_INTERNAL;
out:
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	if (auth) {
		/* The token does not outlive the request in our memory. */
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	free(url);
	if (rc != 0)
		buf_free(&a->body);
	return rc;
}

static void answer_free(struct answer *a)
{
	buf_free(&a->body);
}

/* The answer's JSON, or NULL (with a sentence on stderr). */
static json_t *parse_answer(const struct options *o, const struct answer *a)
{
	json_error_t jerr;
	json_t *j = json_loadb(a->body.data, a->body.len, 0, &jerr);
	if (!j)
		say("%s answered HTTP %ld with something that is not JSON (%s)", o->server,
		      a->status, jerr.text);
	return j;
}

/* data (an answer's JSON) on stdout, ending in a newline. */
static int print_json_text(const char *data, size_t len)
{
	if (fflush(stdout) != 0 || write_all(STDOUT_FILENO, data, len) < 0 ||
	    ((len == 0 || data[len - 1] != '\n') &&
	     write_all(STDOUT_FILENO, "\n", 1) < 0)) {
		say("cannot write to stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* A non-2xx answer: one sentence on stderr; EXIT_API. */
static int report_error_answer(const struct options *o, const struct answer *a)
{
	json_t *j = json_loadb(a->body.data, a->body.len, 0, NULL);
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *message = json_string_value(json_object_get(e, "message"));
	const char *hint = "";
	char retry[64] = "", rid[112] = "";

	if (o->json && j)
		print_json_text(a->body.data, a->body.len);
	if (a->status == 401)
		hint = " (give a token with --token or RUNBOX_TOKEN)";
	if (*a->retry_after)
		snprintf(retry, sizeof retry, " (retry after %s s)", a->retry_after);
	if (*a->request_id)
		snprintf(rid, sizeof rid, " [request %s]", a->request_id);
	if (code && message)
		say("the server answered HTTP %ld %s: %s%s%s%s", a->status, code, message,
		      hint, retry, rid);
	else
		say("%s answered HTTP %ld, not a runbox answer%s%s", o->server, a->status,
		      retry, rid);
	json_decref(j);
	return EXIT_API;
}

/* ---- run ------------------------------------------------------------ */

static const char *language_of(const char *file)
{
	const char *base = strrchr(file, '/');
	const char *dot = strrchr(base ? base + 1 : file, '.');
	if (!dot)
		return NULL;
	for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
		if (!strcmp(dot, extensions[i].ext))
			return extensions[i].language;
	return NULL;
}

/* The whole of path ("-": our stdin); name is how messages call it.
   0, or an exit code. */
static int read_input(const char *path, const char *name, struct buf *b)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;

	if (fd < 0) {
		say("cannot open %s: %s", name, strerror(errno));
		return EXIT_USAGE;
	}
	int rc = read_all(fd, b, MAX_INPUT_BYTES);
	int e = errno;
	if (fd != STDIN_FILENO)
		close(fd);
	if (rc == 0)
		return 0;
	if (e == EFBIG)
		say("%s is larger than %zu MiB", name, MAX_INPUT_BYTES >> 20);
	else
		say("cannot read %s: %s", name, strerror(e));
	return e == ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
}

/* base64 of data as a JSON string, or NULL. */
static json_t *b64_json(const struct buf *data)
{
	size_t n;
	char *s = b64_encode((const unsigned char *)data->data, data->len, &n);
	json_t *j = s ? json_stringn_nocheck(s, n) : NULL;
	free(s);
	return j;
}

/* --file NAME=PATH...: the request's files, base64.  0, or an exit code. */
static int add_files(const struct options *o, json_t *req)
{
	json_t *files;
	int rc = 0;

	if (o->nfiles == 0)
		return 0;
	if (!(files = json_object()) || json_object_set_new(req, "files", files) < 0)
		goto oom;
	for (int i = 0; i < o->nfiles; i++) {
		const char *spec = o->files[i];
		size_t n = file_name_len(spec);
		struct buf content = { 0 };
		char *name = strndup(spec, n);
		json_t *v;

		if (!name)
			goto oom;
		if ((rc = read_input(spec + n + 1, spec + n + 1, &content)) != 0) {
			free(name);
			return rc;
		}
		v = b64_json(&content);
		buf_free(&content);
		if (!v) {
			free(name);
			goto oom;
		}
		/* jansson refuses a key that is not UTF-8 (and takes v anyway). */
		rc = json_object_set_new(files, name, v);
		free(name);
		if (rc < 0) {
			say("--file %s: the name must be UTF-8 text", spec);
			return EXIT_USAGE;
		}
	}
	return 0;
oom:
	say("out of memory");
	return EXIT_INTERNAL;
}

/* One text field of a test from --tests as base64 (the request's
   encoding); 0, or an exit code. */
static int test_field_b64(json_t *t, size_t i, const char *field, const char *path)
{
	json_t *v = json_object_get(t, field);
	struct buf raw = { 0 };

	if (!v)
		return 0;
	if (!json_is_string(v)) {
		say("--tests %s: tests[%zu].%s must be a string", path, i, field);
		return EXIT_USAGE;
	}
	/* Borrow the string's bytes (it may hold NUL: JSON_ALLOW_NUL). */
	raw.data = (char *)json_string_value(v);
	raw.len = json_string_length(v);
	if (json_object_set_new(t, field, b64_json(&raw)) < 0) {
		say("out of memory");
		return EXIT_INTERNAL;
	}
	return 0;
}

/*
 * --tests FILE.json: a JSON array of test objects as the API takes them
 * (stdin, expected_stdout and args as text).  Their text goes as base64
 * like the rest of the request; the server checks the rest.  0, or an
 * exit code.
 */
static int add_tests(const struct options *o, json_t *req)
{
	const char *path = o->tests_path;
	json_error_t jerr;
	json_t *tests, *t;
	size_t i;
	int rc;

	if (!path)
		return 0;
	tests = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!tests) {
		if (jerr.line < 0)
			say("--tests %s: %s", path, jerr.text);
		else
			say("--tests %s: line %d, column %d: %s", path, jerr.line, jerr.column,
			    jerr.text);
		return EXIT_USAGE;
	}
	if (!json_is_array(tests) || json_array_size(tests) == 0) {
		say("--tests %s: expected a JSON array of test objects (at least one), like "
		    "[{\"stdin\": \"1 2\\n\", \"expected_stdout\": \"3\\n\"}]", path);
		json_decref(tests);
		return EXIT_USAGE;
	}
	json_array_foreach(tests, i, t) {
		if (!json_is_object(t)) {
			say("--tests %s: tests[%zu] is not an object", path, i);
			json_decref(tests);
			return EXIT_USAGE;
		}
		if ((rc = test_field_b64(t, i, "stdin", path)) != 0 ||
		    (rc = test_field_b64(t, i, "expected_stdout", path)) != 0) {
			json_decref(tests);
			return rc;
		}
	}
	if (json_object_set_new(req, "tests", tests) < 0) {
		say("out of memory");
		return EXIT_INTERNAL;
	}
	return 0;
}

/* --collect and --merge-output; 0, or an exit code. */
static int add_collect(const struct options *o, json_t *req)
{
	json_t *names;

	if (o->merge_output && json_object_set_new(req, "merge_output", json_true()) < 0)
		goto oom;
	if (o->ncollect == 0)
		return 0;
	if (!(names = json_array()) || json_object_set_new(req, "collect", names) < 0)
		goto oom;
	for (int i = 0; i < o->ncollect; i++) {
		json_t *s = json_string(o->collect[i]);
		if (!s) {
			say("--collect: the name must be UTF-8 text");
			return EXIT_USAGE;
		}
		if (json_array_append_new(names, s) < 0)
			goto oom;
	}
	return 0;
oom:
	say("out of memory");
	return EXIT_INTERNAL;
}

/* The request body for `run`; 0, or an exit code. */
static int build_run_body(const struct options *o, const char *language, char **body)
{
	struct buf code = { 0 }, input = { 0 };
	json_t *req = NULL, *args = NULL, *limits = NULL;
	int rc;

	*body = NULL;
	if ((rc = read_input(o->operands[0], o->operands[0], &code)) != 0)
		goto out;
	/* Our stdin unless told otherwise; a terminal means nobody meant to
	   send anything, and a closed fd 0 is empty. */
	if (o->stdin_path)
		rc = read_input(o->stdin_path, strcmp(o->stdin_path, "-") ? o->stdin_path
						: "stdin", &input);
	else if (!o->no_stdin && !isatty(STDIN_FILENO) && fcntl(STDIN_FILENO, F_GETFD) >= 0)
		rc = read_input("-", "stdin", &input);
	if (rc != 0)
		goto out;

	rc = EXIT_INTERNAL;
	if (!(req = json_object()) || !(args = json_array()) || !(limits = json_object()))
		goto oom;
	for (int i = 1; i < o->noperands; i++) {
		json_t *s = json_string(o->operands[i]);
		if (!s) {
			say("argument %d is not valid UTF-8: the API takes text arguments only", i);
			rc = EXIT_USAGE;
			goto out;
		}
		if (json_array_append_new(args, s) < 0)
			goto oom;
	}
	for (size_t k = 0; k < NLIMITS; k++)
		if (o->has_limit[k] &&
		    json_object_set_new(limits, limit_docs[k].field,
					json_integer((json_int_t)o->limit[k])) < 0)
			goto oom;
	if (json_object_set_new(req, "language", json_string(language)) < 0 ||
	    json_object_set_new(req, "code", b64_json(&code)) < 0 ||
	    json_object_set_new(req, "stdin", b64_json(&input)) < 0 ||
	    json_object_set_new(req, "encoding", json_string("base64")) < 0)
		goto oom;
	if (json_array_size(args) && json_object_set(req, "args", args) < 0)
		goto oom;
	if (json_object_size(limits) && json_object_set(req, "limits", limits) < 0)
		goto oom;
	if ((rc = add_files(o, req)) != 0 || (rc = add_tests(o, req)) != 0 ||
	    (rc = add_collect(o, req)) != 0)
		goto out;
	rc = EXIT_INTERNAL;
	if (!(*body = json_dumps(req, JSON_COMPACT)))
		goto oom;
	rc = 0;
	goto out;
oom:
	say("out of memory");
out:
	json_decref(limits);
	json_decref(args);
	json_decref(req);
	buf_free(&code);
	buf_free(&input);
	return rc;
}

/* Decode a base64 field of o and write it to fd.  0, or an exit code. */
static int write_field(json_t *o, const char *field, int fd, struct buf *scratch)
{
	json_t *v = json_object_get(o, field);

	if (!v)
		return 0;
	if (!json_is_string(v) ||
	    b64_decode(json_string_value(v), json_string_length(v), scratch) < 0) {
		say("the answer's %s is not base64", field);
		return EXIT_API;
	}
	if (write_all(fd, scratch->data, scratch->len) < 0) {
		say("cannot write the program's %s: %s", field, strerror(errno));
		return EXIT_INTERNAL;
	}
	return 0;
}

/* Signal name (as the API gives it) to number; 0 if unknown. */
static int signal_number(json_t *sig)
{
	const char *s = json_string_value(sig);

	if (json_is_integer(sig)) {
		json_int_t n = json_integer_value(sig);
		return n > 0 && n < 128 ? (int)n : 0;
	}
	if (!s)
		return 0;
	/* glibc knows the names without "SIG": "SEGV" for SIGSEGV. */
	for (int n = 1; n < SIGRTMIN; n++) {
		const char *abbrev = sigabbrev_np(n);
		if (abbrev && !strncmp(s, "SIG", 3) && !strcmp(s + 3, abbrev))
			return n;
	}
	if (!strncmp(s, "SIGRTMIN", 8)) {
		int n = 0;
		if (s[8] == '+' && isdigit((unsigned char)s[9]))
			n = atoi(s + 9);
		else if (s[8])
			return 0;
		return SIGRTMIN + n <= SIGRTMAX ? SIGRTMIN + n : 0;
	}
	return 0;
}

/* Judge mode: the first test that was not accepted (nor skipped). */
static json_t *first_failing_test(json_t *tests)
{
	size_t i;
	json_t *t;

	json_array_foreach(tests, i, t) {
		const char *verdict = json_string_value(json_object_get(t, "verdict"));
		if (verdict && strcmp(verdict, "accepted") != 0 && strcmp(verdict, "skipped") != 0)
			return t;
	}
	return NULL;
}

/*
 * Our exit code for a result r (RUN_EXITS), or -1 (said).  In judge mode
 * the top level has no exit_code or signal: ok is 0, and nonzero_exit or
 * signaled take them from the first failing test.
 */
static int run_exit_code(json_t *r, const char *status, const char *message)
{
	json_t *tests = json_object_get(r, "tests");
	json_t *from = r;
	int code = -1;

	if (json_is_array(tests) && !json_object_get(r, "exit_code")) {
		if (!strcmp(status, "ok"))
			return 0;
		if (!(from = first_failing_test(tests)))
			from = r;
	}
	if (!strcmp(status, "ok") || !strcmp(status, "nonzero_exit")) {
		json_t *exit_code = json_object_get(from, "exit_code");
		json_int_t v = json_integer_value(exit_code);
		if (json_is_integer(exit_code) && v >= 0 && v <= 255)
			code = (int)v;
	} else if (!strcmp(status, "signaled")) {
		int sig = signal_number(json_object_get(from, "signal"));
		if (sig > 0)
			code = 128 + sig;
	} else {
		size_t i = 0;
		while (i < sizeof run_exits / sizeof run_exits[0] &&
		       strcmp(status, run_exits[i].status) != 0)
			i++;
		if (i == sizeof run_exits / sizeof run_exits[0]) {
			say("the answer's status '%s' (%s) is not one runbox knows", status,
			    message);
			return -1;
		}
		code = run_exits[i].code;
	}
	if (code < 0)
		say("the answer's status '%s' (%s) comes without a usable %s", status, message,
		    !strcmp(status, "signaled") ? "signal" : "exit_code");
	return code;
}

/* The directory FILE is in (where --collect writes), opened; -1 (said). */
static int open_dir_of(const char *file, char **dir)
{
	const char *slash = strrchr(file, '/');
	int fd;

	*dir = slash ? strndup(file, slash == file ? 1 : (size_t)(slash - file)) : strdup(".");
	if (!*dir) {
		say("out of memory");
		return -1;
	}
	if ((fd = open(*dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		say("--collect: cannot open the directory %s: %s", *dir, strerror(errno));
	return fd;
}

/*
 * data as name in dirfd (dir, for messages), never through a link: an
 * existing name that is not a regular file (a symbolic link, a
 * directory...) is refused, and the bytes go to a new file (O_EXCL |
 * O_NOFOLLOW) renamed over name, which replaces the entry itself should a
 * link appear there meanwhile.  0, or -1 (said).
 */
static int save_file(int dirfd, const char *dir, const char *name, const struct buf *data)
{
	unsigned char rnd[8] = { 0 };
	char tmp[48];
	struct stat st;
	int fd = -1;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode)) {
			say("--collect %s: %s/%s is %s: refused, never written through", name,
			    dir, name, S_ISLNK(st.st_mode) ? "a symbolic link" :
			    S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
			return -1;
		}
	} else if (errno != ENOENT) {
		say("--collect %s: cannot look at %s/%s: %s", name, dir, name, strerror(errno));
		return -1;
	}
	for (int tries = 0; fd < 0 && tries < 8; tries++) {
		/* A random name, so a file planted in advance cannot be it;
		   O_EXCL refuses one that exists anyway. */
		if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) < 0)
			rnd[0] = (unsigned char)tries;
		snprintf(tmp, sizeof tmp, ".runbox-%02x%02x%02x%02x%02x%02x%02x%02x.tmp", rnd[0],
			 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		say("--collect %s: cannot create a file in %s: %s", name, dir, strerror(errno));
		return -1;
	}
	int wrote = write_all(fd, data->data, data->len);
	int e = errno;
	if (close(fd) < 0 && wrote == 0) {
		wrote = -1;
		e = errno;
	}
	if (wrote < 0) {
		say("--collect %s: cannot write %s/%s: %s", name, dir, tmp, strerror(e));
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		say("--collect %s: cannot rename %s/%s to %s: %s", name, dir, tmp, name,
		    strerror(errno));
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

/* --collect: each file the answer r brought back, next to FILE.  0, or
   an exit code (said). */
static int save_collected(const struct options *o, json_t *r, struct buf *scratch)
{
	json_t *files = json_object_get(r, "files");
	char *dir = NULL;
	int dirfd, rc = 0;

	if (o->ncollect == 0)
		return 0;
	if ((dirfd = open_dir_of(o->operands[0], &dir)) < 0) {
		free(dir);
		return EXIT_INTERNAL;
	}
	for (int i = 0; i < o->ncollect; i++) {
		const char *name = o->collect[i];
		json_t *f = json_object_get(files, name);
		json_t *content = json_object_get(f, "content");
		const char *error = json_string_value(json_object_get(f, "error"));

		if (error) {
			/* The program's doing (no such file, a link it planted):
			   a note, as for how a run ended. */
			if (!o->quiet)
				say("--collect %s: not collected: %s", name, error);
			continue;
		}
		if (!json_is_string(content) ||
		    b64_decode(json_string_value(content), json_string_length(content),
			       scratch) < 0) {
			say("--collect %s: the answer has no base64 content for it", name);
			rc = EXIT_API;
			continue;
		}
		if (json_is_true(json_object_get(f, "truncated")) && !o->quiet)
			say("--collect %s: truncated to %zu bytes by the server", name, scratch->len);
		if (save_file(dirfd, dir, name, scratch) < 0)
			rc = EXIT_INTERNAL;
	}
	close(dirfd);
	free(dir);
	return rc;
}

/* Judge mode without --stream: a line per test, then the summary. */
static int print_tests(json_t *r)
{
	json_t *tests = json_object_get(r, "tests"), *t;
	size_t i;
	int rc;

	json_array_foreach(tests, i, t)
		if ((rc = print_test_line(t, (json_int_t)i)) != 0)
			return rc;
	return 0;
}

/*
 * The result r of `run` (a 200 answer, or a stream's result event): the
 * program's output (unless streamed already), collected files, and our
 * exit code.  raw: the answer's text for --json (NULL: r is printed).
 */
static int report_run(const struct options *o, json_t *r, const struct buf *raw,
		      bool streamed)
{
	struct buf scratch = { 0 };
	int rc = EXIT_API, code, saved;

	const char *status = json_string_value(json_object_get(r, "status"));
	const char *message = json_string_value(json_object_get(r, "message"));
	if (!status || !message) {
		say("the answer has no status or message: not a runbox answer");
		goto out;
	}
	/* Our exit code first: --json needs it as much as the plain mode. */
	if ((code = run_exit_code(r, status, message)) < 0)
		goto out;

	if (o->json) {
		char *text = raw ? NULL : json_dumps(r, JSON_COMPACT);
		if (!raw && !text) {
			say("out of memory");
			rc = EXIT_INTERNAL;
			goto out;
		}
		rc = print_json_text(raw ? raw->data : text, raw ? raw->len : strlen(text));
		free(text);
		if (rc < 0) {
			rc = EXIT_INTERNAL;
			goto out;
		}
	} else {
		if (!strcmp(status, "compile_error")) {
			/* The compiler's words are the useful part: all on stderr. */
			json_t *c = json_object_get(r, "compile");
			if ((rc = write_field(c, "stdout", STDERR_FILENO, &scratch)) != 0 ||
			    (rc = write_field(c, "stderr", STDERR_FILENO, &scratch)) != 0)
				goto out;
		}
		if (!streamed &&
		    ((rc = write_field(r, "stdout", STDOUT_FILENO, &scratch)) != 0 ||
		     (rc = write_field(r, "stderr", STDERR_FILENO, &scratch)) != 0))
			goto out;
		if (!streamed && o->tests_path && (rc = print_tests(r)) != 0)
			goto out;
		/* A program's own exit code needs no note, but in judge mode
		   the note says which test failed. */
		if (!o->quiet && strcmp(status, "ok") != 0 &&
		    (strcmp(status, "nonzero_exit") != 0 || o->tests_path))
			say("%s: %s", status, message);
	}
	/* Files are written whatever the output mode; failing to write one
	   is our failure, above the program's code. */
	saved = save_collected(o, r, &scratch);
	rc = saved ? saved : code;
out:
	buf_free(&scratch);
	return rc;
}

/* Ctrl-C during a streamed run: a flag (SIGINT's default again after). */
static void catch_sigint(bool on)
{
	struct sigaction sa = { .sa_handler = on ? on_sigint : SIG_DFL };

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the wait in libcurl wakes up for the flag. */
	sigaction(SIGINT, &sa, NULL);
}

static int cmd_run(const struct options *o)
{
	const char *file = o->operands[0];
	const char *language = o->language ? o->language : language_of(file);
	struct stream stream = { .o = o };
	struct answer a;
	json_t *r;
	char *body;
	int rc;

	if (!language) {
		const char *base = strrchr(file, '/');
		const char *dot = strrchr(base ? base + 1 : file, '.');
		say("cannot tell the language of %s from %s; give --language ID "
		      "(see 'runbox languages')", file,
		      dot ? "its extension" : "its name (it has no extension)");
		return EXIT_USAGE;
	}
	if ((rc = build_run_body(o, language, &body)) != 0)
		return rc;
	if (o->stream)
		catch_sigint(true);
	rc = http_exchange(o, NULL, "/api/v1/run", body, strlen(body), &a,
			   o->stream ? &stream : NULL);
	if (o->stream)
		catch_sigint(false);
	free(body);
	if (rc != 0)
		goto out;
	if (a.streaming) {
		if ((rc = stream_end(&stream)) == 0)
			rc = report_run(o, stream.result, NULL, true);
	} else if (a.status != 200) {
		rc = report_error_answer(o, &a);
	} else if ((r = parse_answer(o, &a)) != NULL) {
		rc = report_run(o, r, &a.body, false);
		json_decref(r);
	} else {
		rc = EXIT_API;
	}
	answer_free(&a);
out:
	stream_free(&stream);
	return rc;
}

/* ---- jobs ----------------------------------------------------------- */

/* A 2xx answer's JSON, or the error reported (rc set). */
static json_t *job_answer(const struct options *o, struct answer *a, long want, int *rc)
{
	json_t *j;

	if (a->status != want) {
		*rc = report_error_answer(o, a);
		return NULL;
	}
	if (!(j = parse_answer(o, a)) || !json_is_object(j)) {
		json_decref(j);
		*rc = EXIT_API;
		return NULL;
	}
	return j;
}

static int cmd_submit(const struct options *o)
{
	const char *file = o->operands[0];
	const char *language = o->language ? o->language : language_of(file);
	struct answer a;
	json_t *j;
	char *body;
	int rc;

	if (!language) {
		say("cannot tell the language of %s; give --language ID", file);
		return EXIT_USAGE;
	}
	if ((rc = build_run_body(o, language, &body)) != 0)
		return rc;
	rc = http_exchange(o, NULL, "/api/v1/jobs", body, strlen(body), &a, NULL);
	free(body);
	if (rc != 0)
		return rc;
	if ((j = job_answer(o, &a, 202, &rc))) {
		const char *id = json_string_value(json_object_get(j, "id"));
		if (o->json)
			rc = print_json_text(a.body.data, a.body.len) < 0 ? EXIT_INTERNAL : 0;
		else if (id)
			rc = printf("%s\n", id) < 0 || fflush(stdout) ? EXIT_INTERNAL : 0;
		else
			rc = EXIT_API;
		json_decref(j);
	}
	answer_free(&a);
	return rc;
}

/* wait: held GETs of 30 s until the job ends; then its result as run
   reports one.  cancel: DELETE, then the state it ended in. */
static int cmd_job(const struct options *o, bool cancel)
{
	char path[320];
	struct answer a;
	json_t *j = NULL;
	int rc;

	for (;;) {
		snprintf(path, sizeof path, "/api/v1/jobs/%s%s", o->operands[0],
			 cancel ? "" : "?wait=30");
		if ((rc = http_exchange(o, cancel ? "DELETE" : NULL, path, NULL, 0, &a, NULL)))
			return rc;
		if (!(j = job_answer(o, &a, 200, &rc))) {
			answer_free(&a);
			return rc;
		}
		const char *state = json_string_value(json_object_get(j, "state"));
		if (cancel || !state || (strcmp(state, "queued") && strcmp(state, "running")))
			break;
		json_decref(j);
		answer_free(&a);
	}
	const char *state = json_string_value(json_object_get(j, "state"));
	json_t *result = json_object_get(j, "result");
	if (o->json) {
		rc = print_json_text(a.body.data, a.body.len) < 0 ? EXIT_INTERNAL : 0;
	} else if (cancel) {
		rc = printf("%s %s\n", o->operands[0], state ? state : "?") < 0 ||
		     fflush(stdout) ? EXIT_INTERNAL : 0;
	} else if (json_is_object(result)) {
		rc = report_run(o, result, NULL, false);
	} else {
		json_t *e = json_object_get(j, "error");
		say("job %s is %s without a result: %s", o->operands[0], state ? state : "?",
		    json_string_value(json_object_get(e, "message")) ?
		    json_string_value(json_object_get(e, "message")) : "no reason given");
		rc = EXIT_API;
	}
	json_decref(j);
	answer_free(&a);
	return rc;
}

/* ---- languages ------------------------------------------------------ */

static int cmd_languages(const struct options *o)
{
	struct answer a;
	json_t *list = NULL, *l;
	size_t i, width = 2;
	int rc;

	if ((rc = http_exchange(o, NULL, "/api/v1/languages", NULL, 0, &a, NULL)) != 0)
		return rc;
	if (a.status != 200) {
		rc = report_error_answer(o, &a);
		goto out;
	}
	rc = EXIT_API;
	if (!(list = parse_answer(o, &a)))
		goto out;
	if (!json_is_array(list)) {
		say("the languages answer is not a list");
		goto out;
	}
	if (o->json) {
		rc = print_json_text(a.body.data, a.body.len) < 0 ? EXIT_INTERNAL : 0;
		goto out;
	}
	json_array_foreach(list, i, l) {
		const char *id = json_string_value(json_object_get(l, "id"));
		if (!id) {
			say("language %zu of the answer has no id", i + 1);
			goto out;
		}
		if (strlen(id) > width)
			width = strlen(id);
	}
	printf("%-*s  %-12s %s\n", (int)width, "ID", "VERSION", "NAME");
	json_array_foreach(list, i, l) {
		const char *version = json_string_value(json_object_get(l, "version"));
		const char *name = json_string_value(json_object_get(l, "name"));
		printf("%-*s  %-12s %s%s\n", (int)width,
		       json_string_value(json_object_get(l, "id")),
		       version ? version : "?", name ? name : "?",
		       json_is_true(json_object_get(l, "compiled")) ? " (compiled)" : "");
	}
	rc = fflush(stdout) == 0 ? 0 : EXIT_INTERNAL;
	if (rc)
		say("cannot write to stdout: %s", strerror(errno));
out:
	json_decref(list);
	answer_free(&a);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	int rc = parse_args(argc, argv, &o);

	if (rc != 0)
		goto out;
	if (o.help) {
		print_help();
		rc = fflush(stdout) == 0 ? 0 : EXIT_INTERNAL;
		goto out;
	}
	if (o.version) {
		const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
		printf("runbox %s (libcurl %s, jansson %s)\n", PACKAGE_VERSION,
		       cv ? cv->version : "?", jansson_version_str());
		rc = fflush(stdout) == 0 ? 0 : EXIT_INTERNAL;
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		say("cannot initialise libcurl");
		rc = EXIT_INTERNAL;
		goto out;
	}
	if (!strcmp(o.command, "run"))
		rc = cmd_run(&o);
	else if (!strcmp(o.command, "submit"))
		rc = cmd_submit(&o);
	else if (!strcmp(o.command, "wait") || !strcmp(o.command, "cancel"))
		rc = cmd_job(&o, !strcmp(o.command, "cancel"));
	else
		rc = cmd_languages(&o);
	curl_global_cleanup();
out:
	options_free(&o);
	return rc;
}
