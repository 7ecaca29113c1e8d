# Check suites: one per module.  Each links the code under test as a
# convenience library, like the daemon does.
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LIBS = $(CHECK_LIBS)

check_PROGRAMS += tests/check_sandbox
tests_check_sandbox_SOURCES = tests/check_sandbox.c
tests_check_sandbox_CFLAGS = $(TEST_CFLAGS) -DFIXTURES_DIR='"$(abs_top_builddir)/tests/fixtures"'
tests_check_sandbox_LDADD = sandbox/libsandbox.la $(TEST_LIBS)
TESTS += tests/check_sandbox

check_PROGRAMS += tests/check_encode
tests_check_encode_SOURCES = tests/check_encode.c
tests_check_encode_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS)
tests_check_encode_LDADD = service/librunbox.la $(TEST_LIBS)
TESTS += tests/check_encode

check_PROGRAMS += tests/check_workdir
tests_check_workdir_SOURCES = tests/check_workdir.c
tests_check_workdir_CFLAGS = $(TEST_CFLAGS)
tests_check_workdir_LDADD = service/librunbox.la $(TEST_LIBS)
TESTS += tests/check_workdir

check_PROGRAMS += tests/check_request
tests_check_request_SOURCES = tests/check_request.c
tests_check_request_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) -DSRCDIR='"$(abs_top_srcdir)"'
tests_check_request_LDADD = service/librunbox.la $(TEST_LIBS)
TESTS += tests/check_request

check_PROGRAMS += tests/check_config
tests_check_config_SOURCES = tests/check_config.c
tests_check_config_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) -DSRCDIR='"$(abs_top_srcdir)"'
tests_check_config_LDADD = service/librunbox.la $(TEST_LIBS)
TESTS += tests/check_config

check_PROGRAMS += tests/check_judge
tests_check_judge_SOURCES = tests/check_judge.c
tests_check_judge_CFLAGS = $(TEST_CFLAGS)
tests_check_judge_LDADD = service/librunbox.la $(TEST_LIBS)
TESTS += tests/check_judge

check_PROGRAMS += tests/check_api
tests_check_api_SOURCES = tests/check_api.c
tests_check_api_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) $(FCGI_CFLAGS) $(SODIUM_CFLAGS) -DSRCDIR='"$(abs_top_srcdir)"'
tests_check_api_LDADD = service/librunbox.la $(TEST_LIBS)
TESTS += tests/check_api

check_PROGRAMS += tests/check_quota
tests_check_quota_SOURCES = tests/check_quota.c
tests_check_quota_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
tests_check_quota_LDADD = service/librunbox.la $(TEST_LIBS)
TESTS += tests/check_quota

check_PROGRAMS += tests/check_userns
tests_check_userns_SOURCES = tests/check_userns.c
tests_check_userns_CFLAGS = $(TEST_CFLAGS)
tests_check_userns_LDADD = sandbox/libsandbox.la $(TEST_LIBS)
TESTS += tests/check_userns

# The README's test commands are the ones .ci/run runs.
TESTS += tests/readme-commands
EXTRA_DIST += tests/readme-commands

# End-to-end suites through real nginx + runboxd (tests/e2e/).  They run one
# at a time (tests/e2e/serial): each starts its own service, and the hostile
# suite checks that no process of the slot uids is left on the host.
E2E_SUITES = tests/e2e/check_e2e tests/e2e/check_hostile tests/e2e/check_accounting \
	tests/e2e/check_openapi tests/e2e/check_reload tests/e2e/check_judge_e2e \
	tests/e2e/check_ops tests/e2e/check_client_python tests/e2e/check_stream \
	tests/e2e/check_languages_infra tests/e2e/check_languages tests/e2e/check_jobs \
	tests/cluster/check_cluster
TESTS += $(E2E_SUITES)
EXTRA_DIST += $(E2E_SUITES) tests/e2e/serial tests/e2e/harness.py \
	tests/e2e/test_api.py tests/e2e/test_hostile.py tests/e2e/test_accounting.py \
	tests/e2e/test_openapi.py tests/e2e/test_reload.py tests/e2e/test_judge.py \
	tests/e2e/test_ops.py tests/e2e/test_client_python.py tests/e2e/test_stream.py \
	tests/e2e/test_languages_infra.py tests/e2e/test_languages.py tests/e2e/test_jobs.py \
	tests/cluster/test_cluster.py
# The playground in headless Chromium (playwright-core from npm).
BROWSER_SUITES = tests/browser/check_browser
TESTS += $(BROWSER_SUITES)
EXTRA_DIST += tests/browser/check_browser tests/browser/test_playground.mjs \
	tests/browser/package.json tests/browser/package-lock.json
CLEANFILES += tests/browser/playground.png tests/browser/playground-phone.png \
	tests/browser/playground-dark.png tests/browser/playground-live.png \
	tests/browser/playground-stopped.png tests/browser/playground-tests.png \
	tests/browser/playground-shared-tests.png tests/browser/playground-files.png \
	tests/browser/playground-plot.png tests/browser/fail-*.png
clean-local:
	rm -rf tests/browser-deps

# The suites need the daemon and the playground files built first.
tests/e2e/check_e2e.log tests/e2e/check_hostile.log tests/e2e/check_accounting.log \
tests/e2e/check_openapi.log tests/e2e/check_reload.log tests/e2e/check_judge_e2e.log \
tests/e2e/check_ops.log tests/e2e/check_client_python.log tests/e2e/check_stream.log \
tests/e2e/check_languages_infra.log tests/e2e/check_languages.log tests/e2e/check_jobs.log \
	tests/cluster/check_cluster.log \
tests/browser/check_browser.log: service/runboxd
