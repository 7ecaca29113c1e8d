/*
 * bench/spawn - the per-run cost of the sandbox against a bare
 * fork/execve/waitpid of the same program, measured side by side in one
 * process (runs interleaved so that both see the same machine state).
 *
 *   bench/spawn [-n RUNS] [-u UID] [PROGRAM]     (default /bin/true, 2000 runs)
 *
 * Prints the median and p90 per run in microseconds and the ratio of the
 * medians.  Not a test: numbers depend on the machine.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double bare(char *const argv[], char *const envp[])
{
	double t0 = now_us();
	pid_t pid = fork();
	if (pid == 0) {
		execve(argv[0], argv, envp);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return now_us() - t0;
}

static double sandboxed(const struct sbx_spec *spec)
{
	struct sbx_result res;
	char err[256];
	double t0 = now_us();
	if (sbx_run(spec, &res, err, sizeof err) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	double t = now_us() - t0;
	if (res.status != SBX_OK) {
		fprintf(stderr, "bench: run ended %s: %s\n", sbx_status_name(res.status),
			res.message);
		exit(1);
	}
	sbx_result_free(&res);
	return t;
}

static void report(const char *name, double *v, int n, double base)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	double med = v[n / 2], p90 = v[n * 9 / 10];
	printf("%-44s %9.0f %9.0f %7.2fx\n", name, med, p90, base > 0 ? med / base : 1.0);
}

int main(int argc, char **argv)
{
	int n = 2000, c;
	long uid = -1;
	char *prog = "/bin/true";

	while ((c = getopt(argc, argv, "n:u:")) != -1) {
		if (c == 'n')
			n = atoi(optarg);
		else if (c == 'u')
			uid = atol(optarg);
		else
			return 2;
	}
	if (optind < argc)
		prog = argv[optind];
	if (n < 10)
		n = 10;

	char *args[] = { prog, NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct sbx_spec limits = {
		.argv = args, .envp = envp, .rlimit_as = true,
		.limits = { .cpu_time_ms = 1000, .wall_time_ms = 5000,
			    .memory_bytes = 256 << 20, .stack_bytes = 8 << 20,
			    .processes = 64, .open_files = 64,
			    .file_size_bytes = 1 << 20, .output_bytes = 65536 },
	};
	struct sbx_spec with_uid = limits;
	if (uid >= 0 || geteuid() == 0) {
		with_uid.set_ids = true;
		with_uid.uid = with_uid.gid = (uid_t)(uid >= 0 ? uid : 65534);
	}
	double *b = calloc((size_t)n, sizeof *b), *s = calloc((size_t)n, sizeof *s),
	       *u = calloc((size_t)n, sizeof *u);
	if (!b || !s || !u)
		return 1;

	for (int i = 0; i < 50; i++) { /* warm up page cache and allocator */
		bare(args, envp);
		sandboxed(&limits);
	}
	for (int i = 0; i < n; i++) {
		b[i] = bare(args, envp);
		s[i] = sandboxed(&limits);
		u[i] = sandboxed(&with_uid);
	}
	printf("per run of %s, %d runs each, interleaved (microseconds)\n", prog, n);
	printf("%-44s %9s %9s %8s\n", "", "median", "p90", "ratio");
	qsort(b, (size_t)n, sizeof *b, cmp);
	double base = b[n / 2];
	report("bare fork+execve+waitpid", b, n, base);
	report("sbx_run: session, rlimits, pipes, pidfd", s, n, base);
	report(with_uid.set_ids ? "sbx_run + own uid/gid" : "sbx_run (no uid: not root)",
	       u, n, base);
	free(b);
	free(s);
	free(u);
	return 0;
}
