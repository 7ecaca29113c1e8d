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
	ck_assert_ptr_null(languages_find(&langs, "cobol"));
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
}
END_TEST

/* {file} and {args} placeholders expand as documented. */
START_TEST(test_expand)
{
	char *argv[] = { "/usr/bin/python3", "-I", "{file}", "{args}", "--x={file}", NULL };
	char *args[] = { "a", "b c", NULL };
	char *none[] = { NULL };
	char **v = language_expand(argv, "main.py", args);

	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(jx_strv_len(v), 6);
	ck_assert_str_eq(v[2], "main.py");
	ck_assert_str_eq(v[3], "a");
	ck_assert_str_eq(v[4], "b c");
	ck_assert_str_eq(v[5], "--x=main.py");
	jx_strv_free(v);
	v = language_expand(argv, "main.py", none);
	ck_assert_uint_eq(jx_strv_len(v), 4);
	ck_assert_str_eq(v[3], "--x=main.py");
	jx_strv_free(v);
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
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
