noinst_LTLIBRARIES += sandbox/libsandbox.la
sandbox_libsandbox_la_SOURCES = \
	sandbox/sandbox.h \
	sandbox/internal.h \
	sandbox/status.c \
	sandbox/child.c \
	sandbox/run.c \
	sandbox/denied.c \
	sandbox/cgroup.c \
	sandbox/cgroup.h \
	sandbox/cgroup_impl.h \
	sandbox/cgroup_v1.c \
	sandbox/cgroup_v2.c \
	sandbox/seccomp.c \
	sandbox/root.c \
	sandbox/box.c

# A command-line demo of the sandbox: sbx-run [limits] -- argv...
noinst_PROGRAMS += sandbox/sbx-run
sandbox_sbx_run_SOURCES = sandbox/sbx-run.c
sandbox_sbx_run_LDADD = sandbox/libsandbox.la
sandbox_libsandbox_la_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)
sandbox_libsandbox_la_LIBADD = $(SECCOMP_LIBS)
