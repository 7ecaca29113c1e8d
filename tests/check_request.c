/*
 * check_request.c - request validation: every error of the API contract
 * comes back with its HTTP status and code, and a message naming the field.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/jsonx.h"
#include "service/languages.h"
#include "service/request.h"
#include "service/settings.h"
#include "service/utf8.h"

static struct config cfg;
static struct languages langs;

static void setup(void)
{
	char err[1024];
	ck_assert_msg(config_load(&cfg, SRCDIR "/conf/runboxd.json", err, sizeof err) == 0,
		      "%s", err);
	ck_assert_msg(languages_load(&langs, cfg.languages_file, &cfg, err, sizeof err) == 0,
		      "%s", err);
	/* No version probe here: every language counts as present. */
	for (size_t i = 0; i < langs.n; i++)
		langs.v[i].present = true;
}

static void teardown(void)
{
	languages_free(&langs);
	config_free(&cfg);
}

/* Parse body; expect failure with (http, code) and a message holding want. */
static void expect_error(const char *body, int http, const char *code, const char *want)
{
	struct api_error e = { 0 };
	struct job job;
	int rc = job_parse(&job, body, strlen(body), &cfg, &langs, &e);
	if (rc == 0)
		job_free(&job);
	ck_assert_msg(rc == -1, "accepted: %s", body);
	ck_assert_int_eq(e.http, http);
	ck_assert_str_eq(e.code, code);
	ck_assert_msg(strstr(e.message, want), "message \"%s\" lacks \"%s\" for %s",
		      e.message, want, body);
	/* It goes out as a JSON string: never a character cut in two. */
	ck_assert_msg(utf8_valid(e.message, strlen(e.message)),
		      "message \"%s\" is not valid UTF-8", e.message);
}

static void expect_ok(const char *body, struct job *job)
{
	struct api_error e = { 0 };
	ck_assert_msg(job_parse(job, body, strlen(body), &cfg, &langs, &e) == 0,
		      "refused %s: %s", body, e.message);
}

START_TEST(test_invalid_json)
{
	expect_error("{\"command\": [", 400, "invalid_json", "not valid JSON");
	expect_error("", 400, "invalid_json", "not valid JSON");
	expect_error("{\"command\":[\"/bin/true\"],\"command\":[\"/bin/true\"]}", 400,
		     "invalid_json", "duplicate");
	expect_error("[1,2]", 400, "invalid_request", "JSON object");
	expect_error("\"x\"", 400, "invalid_request", "JSON object");
	expect_error("42", 400, "invalid_request", "JSON object");
	expect_error("null", 400, "invalid_request", "JSON object");
}
END_TEST

START_TEST(test_shape)
{
	expect_error("{}", 400, "invalid_request", "either language");
	expect_error("{\"language\":\"sh\",\"code\":\"true\",\"command\":[\"/bin/true\"]}",
		     400, "invalid_request", "not both");
	expect_error("{\"command\":[\"/bin/true\"],\"bogus\":1}", 400, "invalid_request",
		     "unknown field \"bogus\"");
	expect_error("{\"command\":[\"/bin/true\"],\"limits\":{\"cpu\":1}}", 400,
		     "invalid_request", "unknown field \"limits.cpu\"");
	expect_error("{\"language\":\"sh\"}", 400, "invalid_request", "code is required");
	expect_error("{\"command\":[\"/bin/true\"],\"code\":\"x\"}", 400, "invalid_request",
		     "code goes with language");
	expect_error("{\"language\":\"cobol-74\",\"code\":\"x\"}", 400, "unknown_language",
		     "\"cobol-74\"");
}
END_TEST

START_TEST(test_types)
{
	expect_error("{\"language\":\"sh\",\"code\":1}", 400, "invalid_request",
		     "code must be a string");
	expect_error("{\"language\":7,\"code\":\"x\"}", 400, "invalid_request",
		     "language must be a string");
	expect_error("{\"command\":\"/bin/true\"}", 400, "invalid_request",
		     "command must be an array");
	expect_error("{\"command\":[]}", 400, "invalid_request", "command must not be empty");
	expect_error("{\"command\":[\"\"]}", 400, "invalid_request", "command[0]");
	expect_error("{\"command\":[\"/bin/true\", 3]}", 400, "invalid_request",
		     "command[1] must be a string");
	expect_error("{\"command\":[\"/bin/true\"],\"args\":\"x\"}", 400, "invalid_request",
		     "args must be an array");
	expect_error("{\"command\":[\"/bin/true\"],\"args\":[\"a\\u0000b\"]}", 400,
		     "invalid_request", "args[0] must not contain NUL");
	expect_error("{\"command\":[\"/bin/true\"],\"stdin\":[]}", 400, "invalid_request",
		     "stdin must be a string");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":[]}", 400, "invalid_request",
		     "files must be an object");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"a\":1}}", 400,
		     "invalid_request", "files[\"a\"] must be a string");
	expect_error("{\"command\":[\"/bin/true\"],\"env\":{\"A\":1}}", 400,
		     "invalid_request", "env.A must be a string");
	expect_error("{\"command\":[\"/bin/true\"],\"env\":{\"A=B\":\"x\"}}", 400,
		     "invalid_request", "not a valid variable name");
	expect_error("{\"command\":[\"/bin/true\"],\"encoding\":\"latin1\"}", 400,
		     "invalid_request", "encoding must be");
	expect_error("{\"command\":[\"/bin/true\"],\"limits\":5}", 400, "invalid_request",
		     "limits must be an object");
}
END_TEST

START_TEST(test_limits)
{
	expect_error("{\"command\":[\"/bin/true\"],\"limits\":{\"cpu_time_ms\":\"5\"}}", 400,
		     "invalid_request", "limits.cpu_time_ms must be an integer");
	expect_error("{\"command\":[\"/bin/true\"],\"limits\":{\"cpu_time_ms\":0}}", 400,
		     "invalid_request", "limits.cpu_time_ms must be between 1 and 10000");
	expect_error("{\"command\":[\"/bin/true\"],\"limits\":{\"wall_time_ms\":-1}}", 400,
		     "invalid_request", "limits.wall_time_ms must be between 1 and 20000");
	expect_error("{\"command\":[\"/bin/true\"],\"limits\":{\"output_bytes\":1048577}}",
		     400, "invalid_request", "limits.output_bytes must be between 1 and 1048576");
	expect_error("{\"command\":[\"/bin/true\"],\"limits\":{\"memory_bytes\":4095}}", 400,
		     "invalid_request", "limits.memory_bytes must be between 1048576 and");
	expect_error("{\"command\":[\"/bin/true\"],\"limits\":{\"memory_bytes\":1.5}}", 400,
		     "invalid_request", "limits.memory_bytes must be an integer");

	/* Given limits override the defaults, the others stay. */
	struct job job;
	expect_ok("{\"command\":[\"/bin/true\"],\"limits\":{\"cpu_time_ms\":10000}}", &job);
	ck_assert_uint_eq(job.limits.cpu_time_ms, 10000);
	ck_assert_uint_eq(job.limits.wall_time_ms, cfg.default_limits.wall_time_ms);
	job_free(&job);
}
END_TEST

START_TEST(test_files)
{
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"../x\":\"\"}}", 400,
		     "invalid_request", "files: file name \"../x\" must not have a \"..\" part");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"/etc/x\":\"\"}}", 400,
		     "invalid_request", "files: file name \"/etc/x\" must be relative");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"a//b\":\"\"}}", 400,
		     "invalid_request", "files: file name \"a//b\" has an empty part");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"a/./b\":\"\"}}", 400,
		     "invalid_request", "files: file name \"a/./b\" must not have a \".\" part");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"pkg/\":\"\"}}", 400,
		     "invalid_request", "has an empty part");
	/* Folders: up to requests.max_file_depth (8 shipped). */
	struct job job;
	expect_ok("{\"command\":[\"/bin/true\"],\"files\":{\"pkg/util.py\":\"x\","
		  "\"pkg/__init__.py\":\"\",\"a/b/c/d/e/f/g/h/i\":\"\"}}", &job);
	ck_assert_uint_eq(job.nfiles, 3);
	job_free(&job);
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"a/b/c/d/e/f/g/h/i/j\":\"\"}}",
		     400, "invalid_request", "has more than 8 folders (requests.max_file_depth)");
	/* A file and a folder of the same name. */
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"pkg\":\"\",\"pkg/x\":\"\"}}",
		     400, "invalid_request", "\"pkg\" and \"pkg/x\": one is the other's folder");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"pkg/x/y\":\"\",\"pkg/x\":\"\"}}",
		     400, "invalid_request", "one is the other's folder");
	expect_error("{\"language\":\"python3\",\"code\":\"\",\"files\":{\"main.py/x\":\"\"}}",
		     400, "invalid_request", "is the name of the source file (as a folder)");
	expect_error("{\"command\":[\"/bin/true\"],\"collect\":[\"../etc/passwd\"]}",
		     400, "invalid_request", "collect: file name \"../etc/passwd\" must not have");
	expect_ok("{\"command\":[\"/bin/true\"],\"collect\":[\"out/plot.png\"]}", &job);
	job_free(&job);
	/* The count is the config's. */
	cfg.max_files = 2;
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"a\":\"\",\"b\":\"\",\"c\":\"\"}}",
		     400, "invalid_request", "files may hold at most 2 files (requests.max_files)");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"..\":\"\"}}", 400,
		     "invalid_request", "files:");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\".\":\"\"}}", 400,
		     "invalid_request", "files:");
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"\":\"\"}}", 400,
		     "invalid_request", "files:");
	expect_error("{\"language\":\"python3\",\"code\":\"\",\"files\":{\"main.py\":\"\"}}",
		     400, "invalid_request", "source file");
}
END_TEST

START_TEST(test_base64)
{
	expect_error("{\"command\":[\"/bin/true\"],\"encoding\":\"base64\",\"stdin\":\"@@@@\"}",
		     400, "invalid_request", "stdin is not valid base64");
	expect_error("{\"language\":\"sh\",\"encoding\":\"base64\",\"code\":\"abc\"}",
		     400, "invalid_request", "code is not valid base64");
	expect_error("{\"command\":[\"/bin/true\"],\"encoding\":\"base64\","
		     "\"files\":{\"f\":\"a b=\"}}", 400, "invalid_request",
		     "files[\"f\"] is not valid base64");

	struct job job;
	expect_ok("{\"command\":[\"/bin/cat\"],\"encoding\":\"base64\",\"stdin\":\"AP8=\"}", &job);
	ck_assert(job.base64);
	ck_assert_uint_eq(job.stdin_len, 2);
	ck_assert_uint_eq((unsigned char)job.stdin_data[0], 0x00);
	ck_assert_uint_eq((unsigned char)job.stdin_data[1], 0xff);
	job_free(&job);
}
END_TEST

/* A valid request keeps every field, NULs in utf-8 text included. */
START_TEST(test_valid)
{
	struct job job;
	expect_ok("{\"language\":\"python3\",\"code\":\"print(1)\",\"args\":[\"a\",\"b\"],"
		  "\"stdin\":\"x\\u0000y\",\"files\":{\"d.txt\":\"data\"},"
		  "\"env\":{\"K\":\"v\"}}", &job);
	ck_assert_str_eq(job.lang->id, "python3");
	ck_assert_uint_eq(job.code_len, 8);
	ck_assert_str_eq(job.args[1], "b");
	ck_assert_ptr_null(job.args[2]);
	ck_assert_uint_eq(job.stdin_len, 3);
	ck_assert_uint_eq(job.nfiles, 1);
	ck_assert_str_eq(job.files[0].name, "d.txt");
	ck_assert_str_eq(job.env[0], "K=v");
	ck_assert_uint_eq(job.limits.cpu_time_ms, cfg.default_limits.cpu_time_ms);
	job_free(&job);
}
END_TEST

/* Judge mode fields: tests, compare, stop_on_failure, collect. */
START_TEST(test_judge)
{
	expect_error("{\"command\":[\"/bin/cat\"],\"tests\":{}}", 400, "invalid_request",
		     "tests must be an array");
	expect_error("{\"command\":[\"/bin/cat\"],\"tests\":[]}", 400, "invalid_request",
		     "tests must hold 1 to 64");
	expect_error("{\"command\":[\"/bin/cat\"],\"tests\":[{\"input\":\"x\"}]}", 400,
		     "invalid_request", "unknown field \"tests[0].input\"");
	expect_error("{\"command\":[\"/bin/cat\"],\"tests\":[{},{\"stdin\":1}]}", 400,
		     "invalid_request", "tests[1].stdin must be a string");
	expect_error("{\"command\":[\"/bin/cat\"],\"compare\":\"exact\"}", 400,
		     "invalid_request", "compare goes with tests");
	expect_error("{\"command\":[\"/bin/cat\"],\"tests\":[{}],\"compare\":\"fuzzy\"}",
		     400, "invalid_request", "compare must be");
	expect_error("{\"command\":[\"/bin/cat\"],\"stop_on_failure\":true}", 400,
		     "invalid_request", "stop_on_failure goes with tests");
	expect_error("{\"command\":[\"/bin/cat\"],\"collect\":[\"../x\"]}", 400,
		     "invalid_request", "collect:");
	expect_error("{\"command\":[\"/bin/cat\"],\"collect\":[\"a\",\"a\"]}", 400,
		     "invalid_request", "twice");
	expect_error("{\"command\":[\"/bin/cat\"],\"encoding\":\"base64\","
		     "\"tests\":[{\"expected_stdout\":\"!\"}]}", 400, "invalid_request",
		     "tests[0].expected_stdout is not valid base64");

	/* The worst case, compile step + tests x wall_time_ms, fits in
	   judge.max_total_wall_ms (60000); C compiles for up to 20000. */
	expect_error("{\"command\":[\"/bin/true\"],\"tests\":[{},{},{},{},{},{},{},{},{},{},"
		     "{},{},{}]}", 400, "invalid_request",
		     "could take 65000 ms (compile step 0 ms + 13 tests x "
		     "limits.wall_time_ms 5000 ms), above judge.max_total_wall_ms (60000 ms)");
	expect_error("{\"language\":\"c\",\"code\":\"\",\"limits\":{\"wall_time_ms\":10000},"
		     "\"tests\":[{},{},{},{},{}]}", 400, "invalid_request",
		     "compile step 20000 ms + 5 tests x limits.wall_time_ms 10000 ms");
	expect_error("{\"language\":\"c\",\"code\":\"\",\"limits\":{\"wall_time_ms\":10000},"
		     "\"tests\":[{},{},{},{},{}]}", 400, "invalid_request", "or send fewer tests");
	struct job job;
	expect_ok("{\"command\":[\"/bin/true\"],\"tests\":[{},{},{},{},{},{},{},{},{},{},"
		  "{},{}]}", &job);
	ck_assert_uint_eq(job.ntests, 12);
	job_free(&job);
	expect_ok("{\"language\":\"c\",\"code\":\"\",\"limits\":{\"wall_time_ms\":10000},"
		  "\"tests\":[{},{},{},{}]}", &job);
	job_free(&job);
	/* One run at the largest wall limit after the compile step fits. */
	expect_ok("{\"language\":\"c\",\"code\":\"\",\"limits\":{\"wall_time_ms\":20000}}",
		  &job);
	job_free(&job);

	expect_ok("{\"command\":[\"/bin/cat\"],\"tests\":[{\"stdin\":\"a\","
		  "\"expected_stdout\":\"a\"},{\"args\":[\"x\"]}],\"compare\":\"tokens\","
		  "\"stop_on_failure\":true,\"collect\":[\"out.txt\"]}", &job);
	ck_assert_uint_eq(job.ntests, 2);
	ck_assert_uint_eq(job.tests[0].expected_len, 1);
	ck_assert_ptr_null(job.tests[1].expected);
	ck_assert_str_eq(job.tests[1].args[0], "x");
	ck_assert_int_eq(job.compare, COMPARE_TOKENS);
	ck_assert(job.stop_on_failure);
	ck_assert_str_eq(job.collect[0], "out.txt");
	job_free(&job);
}
END_TEST

/* "a" then n copies of "é" (two bytes): every cut at an even length from
   the start falls inside a character. */
static char *odd_name(size_t n)
{
	char *s = malloc(1 + 2 * n + 1);
	ck_assert_ptr_nonnull(s);
	s[0] = 'a';
	for (size_t i = 0; i < n; i++)
		memcpy(s + 1 + 2 * i, "\xc3\xa9", 2);
	s[1 + 2 * n] = '\0';
	return s;
}

static void expect_error_with(const char *before, const char *name, const char *after,
			      const char *code, const char *want)
{
	char *body;
	ck_assert_int_ge(asprintf(&body, "%s%s%s", before, name, after), 0);
	expect_error(body, 400, code, want);
	free(body);
}

/* Messages quoting long non-ASCII names are cut between characters
   (a cut inside one made the answer 500 "out of memory"). */
START_TEST(test_utf8_messages)
{
	char *n60 = odd_name(60), *n100 = odd_name(100), *n200 = odd_name(200);

	expect_error_with("{\"language\":\"", n60, "\",\"code\":\"x\"}", "unknown_language",
			  "is not offered here");
	expect_error_with("{\"command\":[\"/bin/true\"],\"files\":{\"", n100, "\":1}}",
			  "invalid_request", "must be a string");
	expect_error_with("{\"command\":[\"/bin/true\"],\"files\":{\"", n200, "\":\"x\"}}",
			  "invalid_request", "bytes long");
	expect_error_with("{\"command\":[\"/bin/true\"],\"files\":{\"", n100, "/\":\"x\"}}",
			  "invalid_request", "has an empty part");
	expect_error_with("{\"command\":[\"/bin/true\"],\"", n200, "\":1}", "invalid_request",
			  "unknown field");
	expect_error_with("{\"command\":[\"/bin/true\"],\"env\":{\"", n100, "\":\"v\"}}",
			  "invalid_request", "not a valid variable name");
	expect_error_with("{\"command\":[\"/bin/true\"],\"limits\":{\"", n200, "\":1}}",
			  "invalid_request", "unknown field");
	expect_error_with("{\"command\":[\"/bin/true\"],\"collect\":[\"", n100, "/\"]}",
			  "invalid_request", "collect:");
	free(n60);
	free(n100);
	free(n200);
}
END_TEST

/* A string that names something may not hold a NUL: "sh\u0000zzz" read as
   a C string names "sh". */
START_TEST(test_nul_in_names)
{
	expect_error("{\"language\":\"sh\\u0000zzz\",\"code\":\"echo hi\"}", 400,
		     "invalid_request", "language must not contain NUL");
	expect_error("{\"language\":\"sh\",\"code\":\"echo\",\"encoding\":\"utf-8\\u0000x\"}",
		     400, "invalid_request", "encoding must not contain NUL");
	expect_error("{\"command\":[\"/bin/cat\"],\"tests\":[{}],"
		     "\"compare\":\"exact\\u0000x\"}", 400, "invalid_request",
		     "compare must not contain NUL");
	expect_error("{\"command\":[\"/bin/sh\\u0000x\"]}", 400, "invalid_request",
		     "command[0] must not contain NUL");
	expect_error("{\"command\":[\"/bin/true\"],\"collect\":[\"a\\u0000b\"]}", 400,
		     "invalid_request", "collect[0] must not contain NUL");
	expect_error("{\"command\":[\"/bin/true\"],\"env\":{\"K\":\"a\\u0000b\"}}", 400,
		     "invalid_request", "env.K must not contain NUL");
	/* Object keys (file and variable names): the JSON parser refuses them. */
	expect_error("{\"command\":[\"/bin/true\"],\"files\":{\"a\\u0000b\":\"x\"}}", 400,
		     "invalid_json", "NUL");
	expect_error("{\"command\":[\"/bin/true\"],\"env\":{\"A\\u0000B\":\"x\"}}", 400,
		     "invalid_json", "NUL");

	/* Data may hold NULs: code, stdin, file contents. */
	struct job job;
	expect_ok("{\"language\":\"sh\",\"code\":\"a\\u0000b\",\"stdin\":\"\\u0000\","
		  "\"files\":{\"f\":\"\\u0000\"}}", &job);
	ck_assert_uint_eq(job.code_len, 3);
	ck_assert_uint_eq(job.files[0].len, 1);
	job_free(&job);
}
END_TEST

/* Load a languages file of our own (all present) in place of the shipped one. */
static void use_languages(const char *text)
{
	char path[] = "/tmp/runbox-check-request.XXXXXX", err[1024];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	languages_free(&langs);
	int rc = languages_load(&langs, path, &cfg, err, sizeof err);
	unlink(path);
	ck_assert_msg(rc == 0, "%s", err);
	for (size_t i = 0; i < langs.n; i++)
		langs.v[i].present = true;
}

#define TEST_LANGS "{\"languages\":[" \
	"{\"id\":\"jv\",\"name\":\"J\",\"source_file\":\"M.j\"," \
	"\"compile\":[\"/bin/jc\",\"{compile_options}\",\"{file}\"]," \
	"\"compile_options\":[\"^-O[0-3]$\",\"^-std=[a-z0-9+]+$\",\"^-Wall$\"," \
	"\"^-D[A-Za-z_][A-Za-z0-9_]*(=[^ ]*)?$\",\"^-lm$\"]," \
	"\"run\":[\"/bin/j\",\"{file}\"],\"version\":\"1\"," \
	"\"limits\":{\"memory_bytes\":536870912,\"processes\":64}," \
	"\"min_limits\":{\"memory_bytes\":268435456,\"processes\":16}}," \
	"{\"id\":\"sc\",\"name\":\"S\",\"source_file\":\"m.s\"," \
	"\"run\":[\"/bin/sh\",\"{file}\"],\"version\":\"1\"}]}"

/* A language's own default limits, its minimums (in judge mode too), and
   a language whose toolchain is missing. */
START_TEST(test_language_limits)
{
	struct job job;

	use_languages(TEST_LANGS);
	expect_ok("{\"language\":\"jv\",\"code\":\"x\",\"limits\":{\"cpu_time_ms\":1000}}",
		  &job);
	ck_assert_uint_eq(job.limits.memory_bytes, 536870912);
	ck_assert_uint_eq(job.limits.processes, 64);
	ck_assert_uint_eq(job.limits.cpu_time_ms, 1000);
	job_free(&job);
	/* Another language keeps the server's defaults. */
	expect_ok("{\"language\":\"sc\",\"code\":\"x\"}", &job);
	ck_assert_uint_eq(job.limits.memory_bytes, cfg.default_limits.memory_bytes);
	ck_assert_uint_eq(job.limits.processes, cfg.default_limits.processes);
	job_free(&job);
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"limits\":"
		     "{\"memory_bytes\":67108864}}", 400, "invalid_request",
		     "limits.memory_bytes: jv needs at least 268435456");
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"limits\":{\"processes\":2},"
		     "\"tests\":[{\"stdin\":\"\"}]}", 400, "invalid_request",
		     "limits.processes: jv needs at least 16");
	/* At the minimum exactly: accepted. */
	expect_ok("{\"language\":\"jv\",\"code\":\"x\",\"limits\":"
		  "{\"memory_bytes\":268435456,\"processes\":16}}", &job);
	job_free(&job);
	/* A minimum of one language is not another's. */
	expect_ok("{\"language\":\"sc\",\"code\":\"x\",\"limits\":{\"processes\":2}}",
		  &job);
	job_free(&job);
	/* Not installed: refused with the reason. */
	langs.v[1].present = false;
	langs.v[1].missing = strdup("/bin/sh: not installed (Debian package dash)");
	expect_error("{\"language\":\"sc\",\"code\":\"x\"}", 400, "unknown_language",
		     "language \"sc\" is not installed here: /bin/sh: not installed "
		     "(Debian package dash)");
}
END_TEST

START_TEST(test_compile_options)
{
	struct job job;

	use_languages(TEST_LANGS);
	expect_ok("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":"
		  "[\"-O0\",\"-std=c++17\",\"-Wall\",\"-DN=3\",\"-DDEBUG\",\"-lm\"]}", &job);
	ck_assert_uint_eq(jx_strv_len(job.compile_options), 6);
	ck_assert_str_eq(job.compile_options[3], "-DN=3");
	job_free(&job);
	expect_ok("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":[]}", &job);
	job_free(&job);
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":"
		     "[\"-O2\",\"-fplugin=x\"]}", 400, "invalid_request",
		     "compile_options[1] \"-fplugin=x\" is not allowed for jv");
	/* Whole matches only: a pattern's match inside a longer option is not one. */
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":"
		     "[\"-O2 -fplugin=x\"]}", 400, "invalid_request", "compile_options[0]");
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":"
		     "[\"-DX=1 -o/etc/passwd\"]}", 400, "invalid_request", "compile_options[0]");
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":"
		     "[\"-O4\"]}", 400, "invalid_request", "compile_options[0] \"-O4\"");
	expect_error("{\"language\":\"sc\",\"code\":\"x\",\"compile_options\":[\"-O2\"]}",
		     400, "invalid_request",
		     "compile_options[0] \"-O2\" is not allowed: sc takes no compile options");
	expect_error("{\"command\":[\"/bin/true\"],\"compile_options\":[\"-O2\"]}",
		     400, "invalid_request", "compile options go with a language");
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":\"-O2\"}",
		     400, "invalid_request", "compile_options must be an array of strings");
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":[2]}",
		     400, "invalid_request", "compile_options[0] must be a string");
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":"
		     "[\"-O2\\u0000-fplugin\"]}", 400, "invalid_request",
		     "compile_options[0] must not contain NUL");
	/* Bounded by the config: count and length. */
	cfg.max_compile_options = 2;
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":"
		     "[\"-O1\",\"-O2\",\"-O3\"]}", 400, "invalid_request",
		     "compile_options may hold at most 2 options");
	cfg.max_compile_option_bytes = 8;
	expect_error("{\"language\":\"jv\",\"code\":\"x\",\"compile_options\":"
		     "[\"-DLONG=123456\"]}", 400, "invalid_request",
		     "compile_options[0] is 13 bytes long, more than 8");
}
END_TEST

static Suite *request_suite(void)
{
	Suite *s = suite_create("request");
	struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{ "invalid_json", test_invalid_json },
		{ "shape", test_shape },
		{ "types", test_types },
		{ "limits", test_limits },
		{ "files", test_files },
		{ "base64", test_base64 },
		{ "valid", test_valid },
		{ "judge", test_judge },
		{ "utf8_messages", test_utf8_messages },
		{ "nul_in_names", test_nul_in_names },
		{ "language_limits", test_language_limits },
		{ "compile_options", test_compile_options },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(request_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
