/*
 * check_quota.c - who may run and how much: the tokens file (auth.c), the
 * per-token rates and runs in flight (quota.c) and the execution slots
 * (pool.c), each shared across worker processes.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "service/auth.h"
#include "service/pool.h"
#include "service/quota.h"

static char dir[] = "/tmp/runbox-check-quota.XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/runbox-check-quota.XXXXXX");
}

static const char *tokens_file(const char *text)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/tokens", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- the tokens file ------------------------------------------------- */

START_TEST(test_tokens_file_policies)
{
	struct auth a;
	char err[256];

	ck_assert_int_eq(auth_load(&a, tokens_file("# comment\n" HASH "\n"
						   HASH " web rate=5 burst=9 concurrency=2\n"
						   HASH " rate=7\n"), err, sizeof err), 0);
	ck_assert_uint_eq(a.n, 3);
	ck_assert_uint_eq(a.policy[0].rate_per_s, 0);
	ck_assert_uint_eq(a.policy[0].concurrency, 0);
	ck_assert_uint_eq(a.policy[1].rate_per_s, 5);
	ck_assert_uint_eq(a.policy[1].burst, 9);
	ck_assert_uint_eq(a.policy[1].concurrency, 2);
	ck_assert_uint_eq(a.policy[2].rate_per_s, 7);
	ck_assert_uint_eq(a.policy[2].burst, 7); /* one second's worth */
	auth_free(&a);
}
END_TEST

START_TEST(test_tokens_file_errors)
{
	static const struct { const char *text, *word; } bad[] = {
		{ "abc\n", "64 hex digits" },
		{ HASH "0\n", "64 hex digits" },
		{ HASH " web rate=0\n", "rate must be" },
		{ HASH " web rate=1x\n", "rate must be" },
		{ HASH " web speed=3\n", "speed=3" },
		{ HASH " web burst=3\n", "burst goes with rate" },
	};
	struct auth a;
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(auth_load(&a, tokens_file(bad[i].text), err, sizeof err), -1);
		ck_assert_msg(strstr(err, bad[i].word) && strstr(err, ":1:"),
			      "%s: %s", bad[i].text, err);
	}
}
END_TEST

START_TEST(test_add_and_find_token)
{
	struct token_policy p = { .rate_per_s = 4, .concurrency = 3 };
	char token[64], token2[64], err[256], header[96];
	struct auth a;
	const char *path = tokens_file("");

	ck_assert_int_eq(auth_add_token(path, "first", &p, token, err, sizeof err), 0);
	ck_assert_int_eq(auth_add_token(path, NULL, &(struct token_policy){ 0 }, token2, err,
					sizeof err), 0);
	ck_assert_int_eq(strncmp(token, "rbx_", 4), 0);
	ck_assert_uint_eq(strlen(token), 44);
	ck_assert_str_ne(token, token2);
	ck_assert_int_eq(auth_load(&a, path, err, sizeof err), 0);
	snprintf(header, sizeof header, "Bearer %s", token2);
	ck_assert_int_eq(auth_find(&a, header), 1);
	snprintf(header, sizeof header, "bearer   %s", token);
	ck_assert_int_eq(auth_find(&a, header), 0);
	ck_assert_uint_eq(a.policy[0].burst, 4);
	ck_assert_uint_eq(a.policy[0].concurrency, 3);
	snprintf(header, sizeof header, "Bearer %sx", token);
	ck_assert_int_eq(auth_find(&a, header), -1);
	ck_assert_int_eq(auth_find(&a, "Basic abc"), -1);
	ck_assert_int_eq(auth_find(&a, NULL), -1);
	auth_free(&a);

	/* Labels: bounded, one word, no '=' (it would read as an option). */
	char longlabel[160];
	memset(longlabel, 'x', 129);
	longlabel[129] = '\0';
	ck_assert_int_eq(auth_add_token(path, longlabel, &p, token, err, sizeof err), -1);
	ck_assert_int_eq(auth_add_token(path, "a=b", &p, token, err, sizeof err), -1);
	ck_assert_int_eq(auth_add_token(path, "two words", &p, token, err, sizeof err), -1);
}
END_TEST

/* ---- rates and runs in flight ------------------------------------------ */

static const uint8_t hash_a[SHA256_LEN] = { 1 }, hash_b[SHA256_LEN] = { 2 };

START_TEST(test_bucket)
{
	struct quota *q = quota_create();
	struct token_policy p = { .rate_per_s = 20, .burst = 3 };
	struct quota_state st;

	ck_assert_ptr_nonnull(q);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(quota_admit(q, hash_a, &p, false, &st), QUOTA_ADMITTED);
		ck_assert(st.limited);
		ck_assert_uint_eq(st.limit, 3);
		ck_assert_uint_eq(st.remaining, (uint64_t)(2 - i));
	}
	ck_assert_int_eq(quota_admit(q, hash_a, &p, false, &st), QUOTA_RATE);
	ck_assert_uint_eq(st.retry_after_s, 1);
	/* Another token has its own bucket. */
	ck_assert_int_eq(quota_admit(q, hash_b, &p, false, &st), QUOTA_ADMITTED);
	/* 20 per second: one token back within 50 ms (and a margin). */
	struct timespec t = { 0, 120 * 1000000L };
	nanosleep(&t, NULL);
	ck_assert_int_eq(quota_admit(q, hash_a, &p, false, &st), QUOTA_ADMITTED);
	/* No rate: never limited, no headers. */
	struct token_policy none = { 0 };
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(quota_admit(q, hash_a, &none, true, &st), QUOTA_ADMITTED);
	ck_assert(!st.limited);
	quota_destroy(q);
}
END_TEST

START_TEST(test_concurrency_across_processes)
{
	struct quota *q = quota_create();
	struct token_policy p = { .concurrency = 2 };
	struct quota_state st;
	int go[2], ready[2];
	pid_t kids[2];

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	/* Two "workers" each hold a run of the token. */
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		ck_assert_int_ne(kids[i], -1);
		if (kids[i] == 0) {
			char c;
			int v = quota_admit(q, hash_a, &p, true, &st);
			if (write(ready[1], &v, sizeof v) != sizeof v)
				_exit(1);
			if (read(go[0], &c, 1) < 0)
				_exit(1);
			if (i == 0)
				quota_done(q); /* the first ends its run; the second dies */
			_exit(0);
		}
	}
	for (int i = 0; i < 2; i++) {
		int v;
		ck_assert_int_eq(read(ready[0], &v, sizeof v), sizeof v);
		ck_assert_int_eq(v, QUOTA_ADMITTED);
	}
	/* A third run of the token waits; a non-run request passes. */
	ck_assert_int_eq(quota_admit(q, hash_a, &p, true, &st), QUOTA_CONCURRENCY);
	ck_assert_uint_eq(st.retry_after_s, 1);
	ck_assert_int_eq(quota_admit(q, hash_a, &p, false, &st), QUOTA_ADMITTED);
	ck_assert_int_eq(write(go[1], "gg", 2), 2);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(waitpid(kids[i], NULL, 0), kids[i]);
	/* The second died holding its run: until the master reaps it, it
	   counts; after, the token has room for two again. */
	ck_assert_int_eq(quota_admit(q, hash_a, &p, true, &st), QUOTA_ADMITTED);
	ck_assert_int_eq(quota_admit(q, hash_a, &p, true, &st), QUOTA_CONCURRENCY);
	quota_reap(q, kids[1]);
	ck_assert_int_eq(quota_admit(q, hash_a, &p, true, &st), QUOTA_ADMITTED);
	quota_done(q);
	quota_destroy(q);
}
END_TEST

/* ---- slots --------------------------------------------------------------- */

static void count_reclaimed(unsigned index, void *arg)
{
	(void)index;
	(*(int *)arg)++;
}

START_TEST(test_pool)
{
	struct pool *p = pool_create(2);
	unsigned a, b, c;

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(pool_create(0));
	ck_assert_uint_eq(pool_size(p), 2);
	ck_assert_int_eq(pool_acquire(p, 100, &a), 0);
	ck_assert_int_eq(pool_acquire(p, 100, &b), 0);
	ck_assert_uint_ne(a, b);
	ck_assert_uint_eq(pool_busy(p), 2);
	/* Full: a bounded wait, then "none". */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(pool_acquire(p, 150, &c), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(ms >= 100 && ms < 3000, "waited %ld ms", ms);
	pool_release(p, a);
	ck_assert_int_eq(pool_acquire(p, 100, &c), 0);
	ck_assert_uint_eq(c, a);

	/* A worker that dies holding a slot: the master takes it back. */
	pid_t kid = fork();
	if (kid == 0) {
		unsigned s;
		pool_release(p, b);
		_exit(pool_acquire(p, 1000, &s) == 0 ? 0 : 1);
	}
	int status, reclaimed = 0;
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_uint_eq(pool_busy(p), 2);
	pool_reclaim(p, kid, count_reclaimed, &reclaimed);
	ck_assert_int_eq(reclaimed, 1);
	ck_assert_uint_eq(pool_busy(p), 1);
	pool_destroy(p);
}
END_TEST

static Suite *quota_suite(void)
{
	Suite *s = suite_create("quota");
	TCase *tc = tcase_create("tokens");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tokens_file_policies);
	tcase_add_test(tc, test_tokens_file_errors);
	tcase_add_test(tc, test_add_and_find_token);
	suite_add_tcase(s, tc);
	tc = tcase_create("quota");
	tcase_add_test(tc, test_bucket);
	tcase_add_test(tc, test_concurrency_across_processes);
	suite_add_tcase(s, tc);
	tc = tcase_create("pool");
	tcase_add_test(tc, test_pool);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(quota_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
