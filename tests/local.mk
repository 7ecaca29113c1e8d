# Check suites: one per module.  Each links the code under test as a
# convenience library, like the daemon does.
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LIBS = $(CHECK_LIBS)

check_PROGRAMS += tests/check_sandbox
tests_check_sandbox_SOURCES = tests/check_sandbox.c
tests_check_sandbox_CFLAGS = $(TEST_CFLAGS) -DFIXTURES_DIR='"$(abs_top_builddir)/tests/fixtures"'
tests_check_sandbox_LDADD = sandbox/libsandbox.la $(TEST_LIBS)
TESTS += tests/check_sandbox
