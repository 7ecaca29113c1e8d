/*
 * check_api.c - the router and the handlers through the FastCGI-free seam
 * of api.h: routes, methods, tokens and per-token quotas, the validation
 * errors a run gets before it takes a slot, health, and the metrics they
 * leave.  No program runs here (no slot is ever taken), so it needs
 * neither root nor nginx.
 */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/api.h"
#include "service/jsonmem.h"

static struct service svc;
static char dir[] = "/tmp/runbox-check-api.XXXXXX";
static const char *token = "rbx_test-token-for-the-unit-suite";

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* The shipped languages python3, sh and c (the others' default and
   minimum limits are above this config's tiny maximums). */
static void write_languages(void)
{
	char path[512];
	json_error_t jerr;
	json_t *all, *keep = json_array();

	snprintf(path, sizeof path, "%s/conf/languages.json", SRCDIR);
	all = json_load_file(path, 0, &jerr);
	ck_assert_msg(all != NULL, "%s: %s", path, jerr.text);
	json_t *v = json_object_get(all, "languages");
	for (size_t i = 0; i < json_array_size(v); i++) {
		const char *id = json_string_value(json_object_get(json_array_get(v, i), "id"));
		if (id && (!strcmp(id, "python3") || !strcmp(id, "sh") || !strcmp(id, "c")))
			json_array_append(keep, json_array_get(v, i));
	}
	ck_assert_int_eq(json_array_size(keep), 3);
	snprintf(path, sizeof path, "%s/languages.json", dir);
	json_t *o = json_pack("{s:o}", "languages", keep);
	ck_assert_int_eq(json_dump_file(o, path, 0), 0);
	json_decref(o);
	json_decref(all);
}

/* The shipped config's shape, the shipped languages python3, sh and c; a
   tokens file with one token (rate 1, burst 2) when `tokens`. */
static void setup_service(bool tokens)
{
	char err[512], path[256], hex[65], cfgtext[2048];
	uint8_t h[SHA256_LEN];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	char line[160];
	snprintf(line, sizeof line, "%s unit rate=1 burst=2\n", hex);
	write_file("tokens", line);
	write_languages();
	snprintf(cfgtext, sizeof cfgtext,
		 "{\"work_root\":\"%s/work\",\"languages_file\":\"%s/languages.json\","
		 "\"sandbox\":{\"uid_base\":60000,\"gid_base\":60000},"
		 "\"default_limits\":%s,\"max_limits\":%s,\"environment\":{\"PATH\":\"/bin\"},"
		 "\"http\":{\"cors_origins\":[\"https://app.example\"]},"
		 "\"jobs\":{\"state_dir\":\"%s/state\"},"
		 "\"auth\":{\"tokens_file\":%s%s%s}}",
		 dir, dir,
		 "{\"cpu_time_ms\":1000,\"wall_time_ms\":2000,\"memory_bytes\":2000000,"
		 "\"stack_bytes\":1000000,\"processes\":8,\"open_files\":64,"
		 "\"file_size_bytes\":1000,\"output_bytes\":1000000,\"disk_bytes\":1048576}",
		 "{\"cpu_time_ms\":1000,\"wall_time_ms\":2000,\"memory_bytes\":2000000,"
		 "\"stack_bytes\":1000000,\"processes\":8,\"open_files\":64,"
		 "\"file_size_bytes\":1000,\"output_bytes\":1000000,\"disk_bytes\":1048576}",
		 dir, tokens ? "\"" : "", tokens ? "tokens" : "null", tokens ? "\"" : "");
	write_file("runboxd.json", cfgtext);
	snprintf(path, sizeof path, "%s/runboxd.json", dir);
	memset(&svc, 0, sizeof svc);
	ck_assert_msg(config_load(&svc.cfg, path, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(languages_load(&svc.langs, svc.cfg.languages_file, &svc.cfg, err,
				     sizeof err) == 0, "%s", err);
	/* No version probe here: every language counts as present. */
	for (size_t i = 0; i < svc.langs.n; i++)
		svc.langs.v[i].present = true;
	ck_assert_msg(auth_load(&svc.auth, svc.cfg.tokens_file, err, sizeof err) == 0, "%s", err);
	ck_assert_ptr_nonnull(svc.pool = pool_create(svc.cfg.slots));
	ck_assert_ptr_nonnull(svc.metrics = metrics_create());
	ck_assert_ptr_nonnull(svc.quota = quota_create());
}

static void setup_open(void) { setup_service(false); }
static void setup_tokens(void) { setup_service(true); }

static void teardown(void)
{
	char cmd[128];
	auth_free(&svc.auth);
	languages_free(&svc.langs);
	config_free(&svc.cfg);
	pool_destroy(svc.pool);
	metrics_destroy(svc.metrics);
	quota_destroy(svc.quota);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/runbox-check-api.XXXXXX");
}

/* One request; the answer's status, and its error code (or "") in code. */
static int call(const char *method, const char *path, const char *body,
		const char *authorization, struct http_response *resp, char *code,
		size_t codelen)
{
	struct http_request req = {
		.method = method, .path = path, .body = body ? body : "",
		.body_len = body ? strlen(body) : 0, .authorization = authorization,
		.content_type = body ? "application/json" : "", .origin = "",
		.host = "127.0.0.1:8080", .scheme = "http", .conn_fd = -1,
	};
	api_handle(&svc, &req, resp);
	code[0] = '\0';
	json_t *err = resp->json ? json_object_get(resp->json, "error") : NULL;
	if (err)
		snprintf(code, codelen, "%s", json_string_value(json_object_get(err, "code")));
	return resp->status;
}

static const char *message(const struct http_response *resp)
{
	return json_string_value(json_object_get(json_object_get(resp->json, "error"),
						 "message"));
}

START_TEST(test_routes_and_methods)
{
	struct http_response r;
	char code[64];

	ck_assert_int_eq(call("GET", "/api/v1/nope", NULL, NULL, &r, code, sizeof code), 404);
	ck_assert_str_eq(code, "not_found");
	ck_assert_ptr_nonnull(strstr(message(&r), "/api/v1/nope"));
	http_response_free(&r);

	ck_assert_int_eq(call("GET", "/api/v1/run", NULL, NULL, &r, code, sizeof code), 405);
	ck_assert_str_eq(code, "method_not_allowed");
	ck_assert_str_eq(r.allow, "POST");
	http_response_free(&r);

	ck_assert_int_eq(call("POST", "/api/v1/health", "{}", NULL, &r, code, sizeof code), 405);
	ck_assert_str_eq(r.allow, "GET");
	http_response_free(&r);

	/* HEAD is GET without a body: the same route answers. */
	ck_assert_int_eq(call("HEAD", "/api/v1/health", NULL, NULL, &r, code, sizeof code), 200);
	http_response_free(&r);
}
END_TEST

START_TEST(test_health_and_languages)
{
	struct http_response r;
	char code[64];

	ck_assert_int_eq(call("GET", "/api/v1/health", NULL, NULL, &r, code, sizeof code), 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "slots")), svc.cfg.slots);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "busy")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
		json_object_get(r.json, "limits"), "max"), "output_bytes")), 1000000);
	http_response_free(&r);

	svc.languages_body = strdup("[{\"id\":\"x\"}]");
	ck_assert_int_eq(call("GET", "/api/v1/languages", NULL, NULL, &r, code, sizeof code), 200);
	ck_assert_str_eq(r.body, "[{\"id\":\"x\"}]");
	http_response_free(&r);
	free(svc.languages_body);
}
END_TEST

/* Everything a run is refused for before it takes a slot. */
START_TEST(test_run_validation)
{
	static const struct { const char *body; int status; const char *code, *word; } cases[] = {
		{ "{", 400, "invalid_json", "line 1" },
		{ "[]", 400, "invalid_request", "JSON object" },
		{ "{\"language\":\"cobol-74\",\"code\":\"\"}", 400, "unknown_language", "cobol-74" },
		{ "{\"command\":[\"/bin/true\"],\"limits\":{\"cpu_time_ms\":99999}}", 400,
		  "invalid_request", "cpu_time_ms" },
		{ "{\"command\":[\"/bin/true\"],\"bogus\":1}", 400, "invalid_request", "bogus" },
		/* 64 tests x 2 streams x 1 MB x 6: past the 64 MiB answer budget. */
		{ "{\"command\":[\"/bin/true\"],\"limits\":{\"output_bytes\":1000000},"
		  "\"tests\":[{},{},{},{},{},{},{},{},{},{}]}", 400, "invalid_request",
		  "max_response_bytes" },
	};
	struct http_response r;
	char code[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int st = call("POST", "/api/v1/run", cases[i].body, NULL, &r, code, sizeof code);
		ck_assert_msg(st == cases[i].status && !strcmp(code, cases[i].code) &&
			      strstr(message(&r), cases[i].word),
			      "%s: %d %s %s", cases[i].body, st, code, message(&r));
		ck_assert_msg(!r.used_slot, "%s took a slot", cases[i].body);
		http_response_free(&r);
	}
	ck_assert_uint_eq(pool_busy(svc.pool), 0);

	/* The metrics counted each refusal as invalid. */
	size_t len;
	char *text = metrics_render(svc.metrics, &svc.langs, pool_size(svc.pool),
				    pool_busy(svc.pool), &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "runbox_rejected_total{reason=\"invalid\"} 6\n"));
	free(text);
}
END_TEST

START_TEST(test_body_too_large)
{
	struct http_request req = { .method = "POST", .path = "/api/v1/run", .body = "",
				    .body_too_large = true, .content_type = "application/json",
				    .origin = "", .host = "127.0.0.1:8080", .scheme = "http",
				    .conn_fd = -1 };
	struct http_response r;

	api_handle(&svc, &req, &r);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "error"),
							   "code")), "payload_too_large");
	http_response_free(&r);
}
END_TEST

/* A page on another site cannot make a browser run code here: a POST that
   needs no preflight (text/plain, a form) is 415; a foreign Origin is 403;
   the service's own origin is fine. */
START_TEST(test_cross_site)
{
	struct http_request req = {
		.method = "POST", .path = "/api/v1/run", .body = "{", .body_len = 1,
		.content_type = "text/plain", .origin = "", .host = "127.0.0.1:8080",
		.scheme = "http", .conn_fd = -1,
	};
	struct http_response r;

	api_handle(&svc, &req, &r);
	ck_assert_int_eq(r.status, 415);
	http_response_free(&r);
	req.content_type = "application/json; charset=utf-8";
	req.origin = "http://attacker.example";
	api_handle(&svc, &req, &r);
	ck_assert_int_eq(r.status, 403);
	http_response_free(&r);
	req.origin = "http://127.0.0.1:8080";
	api_handle(&svc, &req, &r);
	ck_assert_int_eq(r.status, 400); /* through to the parser: "{" */
	http_response_free(&r);
}
END_TEST

/* CORS for a listed origin: the preflight is answered without a token,
   every answer names the origin (the config's string). */
START_TEST(test_cors_preflight)
{
	struct http_request req = {
		.method = "OPTIONS", .path = "/api/v1/run", .content_type = "", .body = "",
		.origin = "https://app.example", .host = "127.0.0.1:8080", .scheme = "http",
		.conn_fd = -1,
	};
	struct http_response r;

	api_handle(&svc, &req, &r);
	ck_assert_int_eq(r.status, 204);
	ck_assert(r.preflight);
	ck_assert_str_eq(r.cors_origin, "https://app.example");
	ck_assert_str_eq(r.allow, "POST");
	http_response_free(&r);

	req.method = "GET";
	req.path = "/api/v1/health";
	api_handle(&svc, &req, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(!r.preflight);
	ck_assert_str_eq(r.cors_origin, "https://app.example");
	http_response_free(&r);

	req.origin = "https://other.example";
	api_handle(&svc, &req, &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_ptr_null(r.cors_origin);
	http_response_free(&r);
}
END_TEST

START_TEST(test_parse_budget)
{
	/* 600 KiB of empty objects: far more than 8 bytes per byte to parse. */
	size_t n = 200000, len = 0;
	char *body = malloc(3 * n + 32);
	struct http_response r;
	char code[64];

	ck_assert_ptr_nonnull(body);
	len += (size_t)sprintf(body, "{\"args\":[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(body + len, i ? ",{}" : "{}");
	strcpy(body + len, "]}");
	jsonmem_install();
	ck_assert_int_eq(call("POST", "/api/v1/run", body, NULL, &r, code, sizeof code), 413);
	ck_assert_str_eq(code, "payload_too_large");
	ck_assert_ptr_nonnull(strstr(message(&r), "parse_memory_factor"));
	http_response_free(&r);
	free(body);
}
END_TEST

START_TEST(test_tokens_and_quota)
{
	struct http_response r;
	char code[64], good[128];

	snprintf(good, sizeof good, "Bearer %s", token);
	ck_assert_int_eq(call("POST", "/api/v1/run", "{}", NULL, &r, code, sizeof code), 401);
	ck_assert(r.www_authenticate);
	http_response_free(&r);
	ck_assert_int_eq(call("POST", "/api/v1/run", "{}", "Bearer rbx_wrong", &r, code,
			      sizeof code), 401);
	http_response_free(&r);
	/* Open endpoints need no token. */
	ck_assert_int_eq(call("GET", "/api/v1/health", NULL, NULL, &r, code, sizeof code), 200);
	ck_assert(!r.rate.limited);
	http_response_free(&r);

	/* rate 1, burst 2: two pass (remaining 1, 0), the third is 429. */
	ck_assert_int_eq(call("POST", "/api/v1/run", "{", good, &r, code, sizeof code), 400);
	ck_assert(r.rate.limited);
	ck_assert_uint_eq(r.rate.limit, 2);
	ck_assert_uint_eq(r.rate.remaining, 1);
	http_response_free(&r);
	ck_assert_int_eq(call("POST", "/api/v1/run", "{", good, &r, code, sizeof code), 400);
	ck_assert_uint_eq(r.rate.remaining, 0);
	http_response_free(&r);
	ck_assert_int_eq(call("POST", "/api/v1/run", "{", good, &r, code, sizeof code), 429);
	ck_assert_str_eq(code, "rate_limited");
	ck_assert_uint_eq(r.retry_after, 1);
	ck_assert_uint_eq(r.rate.remaining, 0);
	ck_assert_uint_ge(r.rate.reset_s, 1);
	http_response_free(&r);
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("open");

	tcase_add_checked_fixture(tc, setup_open, teardown);
	tcase_add_test(tc, test_routes_and_methods);
	tcase_add_test(tc, test_health_and_languages);
	tcase_add_test(tc, test_run_validation);
	tcase_add_test(tc, test_body_too_large);
	tcase_add_test(tc, test_cross_site);
	tcase_add_test(tc, test_cors_preflight);
	tcase_add_test(tc, test_parse_budget);
	suite_add_tcase(s, tc);
	tc = tcase_create("tokens");
	tcase_add_checked_fixture(tc, setup_tokens, teardown);
	tcase_add_test(tc, test_tokens_and_quota);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(api_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
