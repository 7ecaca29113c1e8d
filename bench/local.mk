# Benchmarks: built and run by `make bench`, never by `make check`.
#
#   make bench [RUNS=N] [DURATION=S] [QUIET_WAIT=S]
#
# One table (stdout, and Markdown in bench/results/latest.md of the source
# tree): per-run cost of bare spawn, of the sandbox layer by layer and of
# its peers (bench/spawn, bench/oslo_peer.py), spawn throughput, and the
# service end to end through nginx with wrk (bench/bench.py, bench/post.lua).
# RUNS (default 1000) scales it all: about 3.5 minutes with the defaults,
# after waiting up to QUIET_WAIT (60) seconds for the machine to be idle.
EXTRA_PROGRAMS = bench/spawn
bench_spawn_SOURCES = bench/spawn.c
bench_spawn_LDADD = service/librunbox.la
CLEANFILES += bench/spawn
EXTRA_DIST += bench/bench.py bench/oslo_peer.py bench/post.lua bench/languages.py

bench: bench/spawn service/runboxd
	RUNS='$(RUNS)' DURATION='$(DURATION)' QUIET_WAIT='$(QUIET_WAIT)' \
	$(PYTHON3) $(srcdir)/bench/bench.py \
		--builddir '$(abs_top_builddir)' --srcdir '$(abs_top_srcdir)' --nginx '$(NGINX)'
	$(MAKE) $(AM_MAKEFLAGS) bench-languages
# Per language: median compile and run time and peak memory of its sample
# (LANG_RUNS requests each, default 5), and docs/LANGUAGES.md generated from
# them and the conformance matrix's table (bench/languages.py).
bench-languages: service/runboxd
	LANG_RUNS='$(LANG_RUNS)' NGINX='$(NGINX)' $(PYTHON3) $(srcdir)/bench/languages.py \
		--builddir '$(abs_top_builddir)' --srcdir '$(abs_top_srcdir)'
.PHONY: bench bench-languages
EXTRA_DIST += bench/cluster.py bench/isolation_http.py BENCHMARKS.md bench/throughput.svg \
	bench/jobs.py
