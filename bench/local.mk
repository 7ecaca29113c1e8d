# Benchmarks: built and run by `make bench`, never by `make check`.
EXTRA_PROGRAMS = bench/spawn
bench_spawn_SOURCES = bench/spawn.c
bench_spawn_LDADD = sandbox/libsandbox.la
CLEANFILES += bench/spawn

bench: bench/spawn
	bench/spawn -n $${RUNS:-2000}
.PHONY: bench
