/*
 * check_userns.c - the sandbox for a caller that is not root: each run in
 * its own user namespace owning the other namespaces.  Each test drops
 * this (forked) test process to an unprivileged uid first.
 */
#include "config.h"

#include <check.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define NOBODY 65534

static char dir[] = "/tmp/runbox-check-userns.XXXXXX";
static char work[sizeof dir + 8], secret[sizeof dir + 8];

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(work, sizeof work, "%s/work", dir);
	snprintf(secret, sizeof secret, "%s/secret", dir);
	ck_assert_int_eq(mkdir(work, 0700), 0);
	ck_assert_int_eq(mkdir(secret, 0700), 0);
	char marker[sizeof dir + 8];
	snprintf(marker, sizeof marker, "%s/marker", dir);
	FILE *f = fopen(marker, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(chown(marker, NOBODY, NOBODY), 0);
	char path[sizeof secret + 8];
	snprintf(path, sizeof path, "%s/key", secret);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("top secret\n", f);
	fclose(f);
	ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
	ck_assert_int_eq(chown(work, NOBODY, NOBODY), 0);
	ck_assert_int_eq(chown(secret, NOBODY, NOBODY), 0);
	ck_assert_int_eq(chown(path, NOBODY, NOBODY), 0);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	/* From here on, this test process is an ordinary user. */
	ck_assert_int_eq(setgroups(0, NULL), 0);
	ck_assert_int_eq(setresgid(NOBODY, NOBODY, NOBODY), 0);
	ck_assert_int_eq(setresuid(NOBODY, NOBODY, NOBODY), 0);
}

/* Runs as the unprivileged uid that owns everything below dir. */
static void teardown(void)
{
	char cmd[sizeof dir + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void run_sh(const char *script, struct sbx_result *res)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	char *binds[] = { "/usr", "/bin", "/lib", "/lib64", "/etc/ld.so.cache", NULL };
	struct sbx_root root = { .binds = binds };
	struct sbx_spec spec = {
		.argv = argv, .envp = envp, .cwd = work, .root = &root,
		.namespaces = SBX_NS_ALL | SBX_NS_USER, .seccomp = true,
		.limits = { .wall_time_ms = 10000, .cpu_time_ms = 5000,
			    .output_bytes = 1 << 16, .processes = 64 },
	};
	char err[256];
	ck_assert_msg(sbx_run(&spec, res, err, sizeof err) == 0, "%s", err);
}

/* The program is uid 0 of its own namespace, with no capability at all. */
START_TEST(test_identity)
{
	struct sbx_result res;
	run_sh("id -u; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status", &res);
	ck_assert_msg(res.status == SBX_OK, "%s: %s", res.message, res.err.data);
	ck_assert_str_eq(res.out.data, "0\nCapPrm:\t0000000000000000\n"
			 "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n");
	sbx_result_free(&res);
}
END_TEST

/* Fresh /proc (the run's processes only), loopback only, no /sys, nothing
   of the host beside the work directory outside the allow-list, the work
   directory writable; /dev/null works (a bound node: no mknod here). */
START_TEST(test_namespaces)
{
	struct sbx_result res;
	char script[512];
	snprintf(script, sizeof script,
		 "ls /proc | grep -c '^[0-9]'; grep -o '^ *lo:' /proc/net/dev | tr -d ' :'; "
		 "ls /sys 2>/dev/null || echo no-sys; hostname; "
		 "ls %s/marker 2>/dev/null || echo no-marker; "
		 "cat %s/key 2>/dev/null || echo no-secret; echo x > f && cat f; "
		 "echo y >/dev/null && ls / | tr '\\n' ' '",
		 dir, secret);
	run_sh(script, &res);
	ck_assert_msg(res.status == SBX_OK, "%s: %s", res.message, res.err.data);
	int procs = atoi(res.out.data);
	ck_assert_msg(procs >= 2 && procs <= 6, "%d processes visible", procs);
	ck_assert_msg(strstr(res.out.data, "\nlo\nno-sys\nrunbox\nno-marker\nno-secret\nx\n"
			      "bin dev etc lib lib64 proc tmp usr "),
		      "got %s", res.out.data);
	sbx_result_free(&res);
}
END_TEST

/* What the program leaves behind dies with it. */
START_TEST(test_nothing_lingers)
{
	struct sbx_result res;
	run_sh("(setsid sleep 30 &); echo started", &res);
	ck_assert_msg(res.status == SBX_OK, "%s", res.message);
	ck_assert_msg(res.usage.wall_time_ms < 3000, "took %llu ms",
		      (unsigned long long)res.usage.wall_time_ms);
	sbx_result_free(&res);
	/* The sleeper was in the run's PID namespace: gone with its init. */
	FILE *p = popen("pgrep -u 65534 -x sleep", "r");
	char line[64] = "";
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(fgets(line, sizeof line, p));
	pclose(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("userns");
	TCase *tc = tcase_create("unprivileged");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_identity);
	tcase_add_test(tc, test_namespaces);
	tcase_add_test(tc, test_nothing_lingers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
