/*
 * check_config.c - runboxd's config and languages files are strict: the
 * shipped ones load, and every mistake is refused with the key's path.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/jsonx.h"
#include "service/languages.h"
#include "service/settings.h"

static char dir[] = "/tmp/runbox-check-config.XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/runbox-check-config.XXXXXX");
}

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

#define LIMITS "{\"cpu_time_ms\":1000,\"wall_time_ms\":2000,\"memory_bytes\":2000000," \
	"\"stack_bytes\":1000000,\"processes\":8,\"open_files\":64," \
	"\"file_size_bytes\":1000,\"output_bytes\":1000,\"disk_bytes\":2000000}"

/* A valid config with one key replaced or added by extra. */
static const char *config_with(const char *extra)
{
	static char text[4096];
	snprintf(text, sizeof text,
		 "{\"work_root\":\"/tmp/w\",\"languages_file\":\"langs.json\","
		 "\"sandbox\":{\"uid_base\":60000,\"gid_base\":60000},"
		 "\"default_limits\":" LIMITS ",\"max_limits\":" LIMITS ","
		 "\"environment\":{\"PATH\":\"/bin\"}%s%s}",
		 *extra ? "," : "", extra);
	return write_file("runboxd.json", text);
}

static void expect_config_error(const char *extra, const char *want)
{
	struct config cfg;
	char err[1024];
	ck_assert_msg(config_load(&cfg, config_with(extra), err, sizeof err) == -1,
		      "accepted: %s", extra);
	ck_assert_msg(strstr(err, want), "error \"%s\" lacks \"%s\"", err, want);
}

START_TEST(test_shipped)
{
	struct config cfg;
	struct languages langs;
	char err[1024];

	ck_assert_msg(config_load(&cfg, SRCDIR "/conf/runboxd.json", err, sizeof err) == 0,
		      "%s", err);
	ck_assert_uint_eq(cfg.slots, 16);
	ck_assert_str_eq(cfg.socket_group, "www-data");
	ck_assert_ptr_nonnull(strstr(cfg.languages_file, "/conf/languages.json"));
	ck_assert_msg(languages_load(&langs, cfg.languages_file, &cfg, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_ptr_nonnull(languages_find(&langs, "python3"));
	ck_assert_ptr_nonnull(languages_find(&langs, "sh"));
	const struct language *c = languages_find(&langs, "c");
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(c->compile);
	ck_assert_ptr_null(languages_find(&langs, "no-such-language"));
	/* Interpreters are Debian's, never whatever is first on PATH. */
	ck_assert_str_eq(languages_find(&langs, "python3")->run[0], "/usr/bin/python3");
	languages_free(&langs);
	config_free(&cfg);
}
END_TEST

START_TEST(test_config_errors)
{
	struct config cfg;
	char err[1024];

	expect_config_error("\"bogus\":1", "unknown field \"bogus\"");
	expect_config_error("\"slots\":0", "slots must be between 1 and 256");
	expect_config_error("\"slots\":\"4\"", "slots must be an integer");
	expect_config_error("\"log\":\"file\"", "log must be");
	expect_config_error("\"socket_group\":\"\"", "socket_group must be a group name");
	expect_config_error("\"socket_group\":33", "socket_group must be a string");
	expect_config_error("\"sandbox\":{\"uid_base\":0,\"gid_base\":1}",
			    "duplicate");
	expect_config_error("\"requests\":{\"max_file_depth\":33}",
			    "requests.max_file_depth must be between 0 and 32");
	expect_config_error("\"requests\":{\"max_options\":3}",
			    "unknown field \"requests.max_options\"");
	expect_config_error("\"requests\":{\"max_compile_option_bytes\":0}",
			    "requests.max_compile_option_bytes must be between 1 and 4096");
	expect_config_error("\"judge\":{\"max_total_wall_ms\":999}",
			    "judge.max_total_wall_ms must be between 1000 and 3600000");
	expect_config_error("\"judge\":{\"max_total_wall_ms\":\"60s\"}",
			    "judge.max_total_wall_ms must be an integer");
	/* The default wall limit (2000 in LIMITS) must fit in it. */
	expect_config_error("\"judge\":{\"max_total_wall_ms\":1999}",
			    "default_limits.wall_time_ms (2000) is above "
			    "judge.max_total_wall_ms (1999)");
	ck_assert_msg(config_load(&cfg, config_with("\"judge\":{\"max_total_wall_ms\":2000}"),
				  err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(cfg.max_total_wall_ms, 2000);
	/* nginx waits for the queue, every step and 30 s more. */
	ck_assert_uint_eq(config_request_ms(&cfg), cfg.queue_timeout_ms + 2000 + 30000);
	config_free(&cfg);
	ck_assert_msg(config_load(&cfg, config_with(""), err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(cfg.max_total_wall_ms, 60000);
	config_free(&cfg);
	/* default_limits above max_limits */
	snprintf(err, sizeof err, "%s", "");
	const char *path = write_file("bad.json",
		"{\"work_root\":\"/tmp/w\",\"languages_file\":\"l.json\","
		"\"sandbox\":{\"uid_base\":60000,\"gid_base\":60000},"
		"\"default_limits\":" LIMITS ",\"max_limits\":{\"cpu_time_ms\":10,"
		"\"wall_time_ms\":2000,\"memory_bytes\":2000000,\"stack_bytes\":1000000,"
		"\"processes\":8,\"open_files\":64,\"file_size_bytes\":1000,"
		"\"output_bytes\":1000,\"disk_bytes\":2000000},\"environment\":{}}");
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "default_limits.cpu_time_ms must be between 1 and 10"),
		      "%s", err);
	path = write_file("nolimit.json",
		"{\"work_root\":\"/tmp/w\",\"languages_file\":\"l.json\","
		"\"sandbox\":{\"uid_base\":60000,\"gid_base\":60000},"
		"\"default_limits\":{},\"max_limits\":" LIMITS ",\"environment\":{}}");
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "default_limits.cpu_time_ms is required"), "%s", err);
	path = write_file("relative.json",
		"{\"work_root\":\"w\",\"languages_file\":\"l.json\"}");
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "work_root must be an absolute path"), "%s", err);
	path = write_file("syntax.json", "{\"slots\": 4,,}");
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "syntax.json:1:"), "%s", err);
}
END_TEST

static void expect_lang_error(const char *langs_text, const char *want)
{
	struct config cfg;
	struct languages langs;
	char err[1024];

	ck_assert_msg(config_load(&cfg, config_with(""), err, sizeof err) == 0, "%s", err);
	write_file("langs.json", langs_text);
	ck_assert_msg(languages_load(&langs, cfg.languages_file, &cfg, err, sizeof err) == -1,
		      "accepted: %s", langs_text);
	ck_assert_msg(strstr(err, want), "error \"%s\" lacks \"%s\"", err, want);
	config_free(&cfg);
}

/* The same with its own run argv (a JSON array). */
#define LANG_RUN(run) "{\"languages\":[{\"id\":\"x\",\"name\":\"X\",\"source_file\":" \
	"\"m.x\",\"run\":" run ",\"version\":\"1.0\"}]}"

#define LANG(extra) "{\"languages\":[{\"id\":\"x\",\"name\":\"X\",\"source_file\":\"m.x\"," \
	"\"run\":[\"/bin/x\",\"{file}\"],\"version\":\"1.0\"" extra "}]}"

START_TEST(test_language_errors)
{
	expect_lang_error("{\"languages\":[]}", "languages must be a non-empty array");
	expect_lang_error(LANG(",\"bogus\":1"), "unknown field \"languages[0].bogus\"");
	expect_lang_error("{\"languages\":[{\"id\":\"x\",\"name\":\"X\",\"source_file\":\"m\","
			  "\"version\":\"1\"}]}", "languages[0].run must be an array");
	expect_lang_error(LANG(",\"run\":[]"), "duplicate");
	expect_lang_error(LANG(",\"compile_limits\":{}"), "needs languages[0].compile");
	expect_lang_error(LANG(",\"version_command\":[\"/bin/v\"]"),
			  "exactly one of version_command or version");
	expect_lang_error(LANG(",\"compile\":[\"/bin/cc\"],\"compile_limits\":{\"cpu\":1}"),
			  "unknown field \"languages[0].compile_limits.cpu\"");
	expect_lang_error("{\"languages\":[{\"id\":\"X Y\",\"name\":\"X\",\"source_file\":\"m\","
			  "\"run\":[\"/bin/x\"],\"version\":\"1\"}]}", "languages[0].id must use");
	expect_lang_error("{\"languages\":[{\"id\":\"x\",\"name\":\"X\",\"source_file\":\"../m\","
			  "\"run\":[\"/bin/x\"],\"version\":\"1\"}]}", "plain file name");
	expect_lang_error("{\"languages\":[{\"id\":\"x\",\"name\":\"X\",\"source_file\":\"m\","
			  "\"run\":[\"/bin/x\"],\"version\":\"1\"},{\"id\":\"x\",\"name\":\"Y\","
			  "\"source_file\":\"m\",\"run\":[\"/bin/x\"],\"version\":\"1\"}]}",
			  "\"x\" is defined twice");
	/* A compile step that leaves no room for a run at the default limits. */
	expect_lang_error(LANG(",\"compile\":[\"/bin/cc\"],\"compile_limits\":{"
			       "\"wall_time_ms\":59000}"),
			  "languages[0].compile_limits.wall_time_ms (59000) + "
			  "default_limits.wall_time_ms (2000) is above judge.max_total_wall_ms");
	expect_lang_error(LANG(",\"compile\":[\"/bin/cc\"],\"compile_limits\":{"
			       "\"wall_time_ms\":59000},\"limits\":{\"wall_time_ms\":1500}"),
			  "languages[0].compile_limits.wall_time_ms (59000) + "
			  "languages[0].limits.wall_time_ms (1500) is above");
	/* Per-language limits: within max_limits, minimums at most the defaults. */
	expect_lang_error(LANG(",\"limits\":{\"processes\":9}"),
			  "languages[0].limits.processes must be between 1 and 8");
	expect_lang_error(LANG(",\"limits\":{\"threads\":9}"),
			  "unknown field \"languages[0].limits.threads\"");
	expect_lang_error(LANG(",\"min_limits\":{\"memory_bytes\":3000000}"),
			  "languages[0].min_limits.memory_bytes must be between");
	expect_lang_error(LANG(",\"min_limits\":{\"processes\":8},\"limits\":{\"processes\":4}"),
			  "languages[0].min_limits.processes (8) is above the language's "
			  "default (4)");
	/* Placeholders: known names only, list ones as whole elements. */
	expect_lang_error(LANG_RUN("[\"/bin/x\",\"-Xmx{memory_gb}g\"]"),
			  "languages[0].run[1]: unknown placeholder {memory_gb}");
	expect_lang_error(LANG(",\"env\":{\"OPTS\":\"-m {mem}\"}"),
			  "languages[0].env.OPTS: unknown placeholder {mem}");
	expect_lang_error(LANG(",\"env\":{\"A\":\"{args}\"}"),
			  "languages[0].env.A: {args} must be an element of its own");
	expect_lang_error(LANG_RUN("[\"/bin/x\",\"--{args}\"]"),
			  "languages[0].run[1]: {args} must be an element of its own");
	expect_lang_error(LANG_RUN("[\"/bin/x\",\"{compile_options}\"]"),
			  "languages[0].run[1]: {compile_options} is not a placeholder of");
	expect_lang_error(LANG(",\"compile\":[\"/bin/cc\",\"{args}\"]"),
			  "languages[0].compile[1]: {args} is not a placeholder of");
	expect_lang_error(LANG(",\"compile\":[\"/bin/cc\",\"{filename}\"]"),
			  "unknown placeholder {filename}");
	expect_lang_error("{\"languages\":[{\"id\":\"x\",\"name\":\"X\",\"source_file\":\"m\","
			  "\"run\":[\"/bin/x\"],\"version_command\":[\"/bin/x\",\"-m{mem}\"]}]}",
			  "languages[0].version_command[1]: unknown placeholder {mem}");
	expect_lang_error("{\"languages\":[{\"id\":\"x\",\"name\":\"X\",\"source_file\":\"m\","
			  "\"run\":[\"/bin/x\"],\"version_command\":[\"/bin/x\",\"{args}\"]}]}",
			  "languages[0].version_command[1]: {args} is not a placeholder of");
	/* compile_options: with a compile step that takes them, valid ERE. */
	expect_lang_error(LANG(",\"compile_options\":[\"^-O$\"]"),
			  "languages[0].compile_options needs languages[0].compile");
	expect_lang_error(LANG(",\"compile\":[\"/bin/cc\"],\"compile_options\":[\"^-O$\"]"),
			  "has no \"{compile_options}\" element");
	expect_lang_error(LANG(",\"compile\":[\"/bin/cc\",\"{compile_options}\"],"
			       "\"compile_options\":[\"^-O[0-3$\"]"),
			  "languages[0].compile_options[0]: \"^-O[0-3$\" is not a POSIX extended");
	expect_lang_error(LANG(",\"compile\":[\"/bin/cc\",\"{compile_options}\"],"
			       "\"compile_options\":[]"),
			  "languages[0].compile_options must not be empty");
	expect_lang_error(LANG(",\"debian_packages\":[\"Kotlin JDK\"]"),
			  "\"Kotlin JDK\" is not a Debian package name");
	expect_lang_error(LANG(",\"debian_packages\":\"kotlin\""),
			  "languages[0].debian_packages must be an array");
}
END_TEST

/* {file} and {args} placeholders expand as documented. */
START_TEST(test_expand)
{
	char *argv[] = { "/usr/bin/python3", "-I", "{file}", "{args}", "--x={file}", NULL };
	char *args[] = { "a", "b c", NULL };
	char *none[] = { NULL };
	struct sbx_limits lim = { .memory_bytes = 256u << 20 };
	struct expand_values ev = { .file = "main.py", .args = args, .limits = &lim };
	char **v = language_expand(argv, &ev);

	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(jx_strv_len(v), 6);
	ck_assert_str_eq(v[2], "main.py");
	ck_assert_str_eq(v[3], "a");
	ck_assert_str_eq(v[4], "b c");
	ck_assert_str_eq(v[5], "--x=main.py");
	jx_strv_free(v);
	ev.args = none;
	v = language_expand(argv, &ev);
	ck_assert_uint_eq(jx_strv_len(v), 4);
	ck_assert_str_eq(v[3], "--x=main.py");
	jx_strv_free(v);
}
END_TEST

/* The limit placeholders take the step's limits; {{ is a literal brace;
   a brace that starts no placeholder is kept. */
START_TEST(test_expand_limits)
{
	char *argv[] = { "/usr/bin/java", "-Xmx{memory_mb}m", "-Xss{stack_kb}k",
			 "{compile_options}", "n={processes}", "b={memory_bytes}",
			 "{{memory_mb}", "awk { print }", "{}", "{file}{file}", NULL };
	char *opts[] = { "-O0", "-Wall", NULL };
	struct sbx_limits lim = { .memory_bytes = (300u << 20) + 5, .stack_bytes = 8u << 20,
				  .processes = 17 };
	struct expand_values ev = { .file = "M.java", .compile_options = opts,
				    .limits = &lim };
	char **v = language_expand(argv, &ev);

	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(jx_strv_len(v), 11);
	ck_assert_str_eq(v[1], "-Xmx300m");
	ck_assert_str_eq(v[2], "-Xss8192k");
	ck_assert_str_eq(v[3], "-O0");
	ck_assert_str_eq(v[4], "-Wall");
	ck_assert_str_eq(v[5], "n=17");
	ck_assert_str_eq(v[6], "b=314572805");
	ck_assert_str_eq(v[7], "{memory_mb}");
	ck_assert_str_eq(v[8], "awk { print }");
	ck_assert_str_eq(v[9], "{}");
	ck_assert_str_eq(v[10], "M.javaM.java");
	jx_strv_free(v);
	/* Under a MiB: at least 1, never 0 (-Xmx0m is an error). */
	char *small[] = { "{memory_mb}", NULL };
	lim.memory_bytes = 1000;
	v = language_expand(small, &ev);
	ck_assert_str_eq(v[0], "1");
	jx_strv_free(v);
}
END_TEST

/* A language that loads with every new key, and what it keeps. */
START_TEST(test_language_keys)
{
	struct config cfg;
	struct languages langs;
	char err[1024];

	ck_assert_msg(config_load(&cfg, config_with(""), err, sizeof err) == 0, "%s", err);
	write_file("langs.json", "{\"languages\":[{\"id\":\"j\",\"name\":\"J\","
		   "\"source_file\":\"M.j\",\"compile\":[\"/bin/jc\",\"{compile_options}\","
		   "\"-J-Xmx{memory_mb}m\",\"{file}\"],\"run\":[\"/bin/j\",\"-Xmx{memory_mb}m\","
		   "\"{file}\",\"{args}\"],\"env\":{\"MEM\":\"{memory_mb}\"},"
		   "\"limits\":{\"processes\":6,\"memory_bytes\":1500000},"
		   "\"min_limits\":{\"processes\":4},"
		   "\"compile_options\":[\"^-O[0-3]$\",\"^-D[A-Za-z_][A-Za-z0-9_]*(=[^ ]*)?$\","
		   "\"-g\"],\"debian_packages\":[\"jdk\",\"j-tools\"],\"version\":\"1.0\"}]}");
	ck_assert_msg(languages_load(&langs, cfg.languages_file, &cfg, err, sizeof err) == 0,
		      "%s", err);
	const struct language *l = &langs.v[0];
	/* Its own defaults over the config's; the others stay the config's. */
	ck_assert_uint_eq(l->limits.processes, 6);
	ck_assert_uint_eq(l->limits.memory_bytes, 1500000);
	ck_assert_uint_eq(l->limits.cpu_time_ms, cfg.default_limits.cpu_time_ms);
	ck_assert_uint_eq(l->min_limits.processes, 4);
	ck_assert_uint_eq(l->min_limits.memory_bytes, 0);
	/* The compile step starts from the language's defaults too. */
	ck_assert_uint_eq(l->compile_limits.processes, 6);
	ck_assert_uint_eq(jx_strv_len(l->debian_packages), 2);
	/* Options match a whole pattern, never a part of one. */
	ck_assert(language_option_allowed(l, "-O2"));
	ck_assert(language_option_allowed(l, "-DNDEBUG"));
	ck_assert(language_option_allowed(l, "-DN=1"));
	ck_assert(language_option_allowed(l, "-g"));
	ck_assert(!language_option_allowed(l, "-O4"));
	ck_assert(!language_option_allowed(l, "-O2 -fplugin=x"));
	ck_assert(!language_option_allowed(l, "-DN=1 -fplugin=x"));
	ck_assert(!language_option_allowed(l, "-ggdb"));  /* "-g" unanchored */
	ck_assert(!language_option_allowed(l, "x-g"));
	ck_assert(!language_option_allowed(l, "-fplugin=x"));
	ck_assert(!language_option_allowed(l, ""));
	languages_free(&langs);
	config_free(&cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_shipped);
	tcase_add_test(tc, test_config_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("languages");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_language_errors);
	tcase_add_test(tc, test_expand);
	tcase_add_test(tc, test_expand_limits);
	tcase_add_test(tc, test_language_keys);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
