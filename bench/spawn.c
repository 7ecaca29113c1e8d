/*
 * bench/spawn - the per-run cost of the sandbox against a bare
 * fork/execve/waitpid of the same program, measured side by side in one
 * process (runs interleaved so that both see the same machine state).
 *
 *   bench/spawn [-n RUNS] [PROGRAM]     (default /bin/true, 2000 runs)
 *
 * Prints the median and p90 per run in microseconds and the ratio of each
 * median to the bare one; each row adds one isolation layer (as root).  Not a test: numbers depend on the machine.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
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
	char *prog = "/bin/true";
	char what[512], err[256];

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c == 'n')
			n = atoi(optarg);
		else
			return 2;
	}
	if (optind < argc)
		prog = argv[optind];
	if (n < 10)
		n = 10;

	char *args[] = { prog, NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	char cwd[] = "/tmp/runbox-bench.XXXXXX";
	if (!mkdtemp(cwd) || chmod(cwd, 0777) < 0) {
		perror("bench: mkdtemp");
		return 1;
	}
	struct sbx_spec base = {
		.argv = args, .envp = envp, .cwd = cwd, .rlimit_as = true,
		.limits = { .cpu_time_ms = 1000, .wall_time_ms = 5000,
			    .memory_bytes = 256 << 20, .stack_bytes = 8 << 20,
			    .processes = 64, .open_files = 64,
			    .file_size_bytes = 1 << 20, .output_bytes = 65536 },
	};
	bool root = geteuid() == 0;
	struct sbx_cgroup *cg = NULL;
	char instance[64];
	snprintf(instance, sizeof instance, "runbox-bench.%d", (int)getpid());
	if (root && sbx_cgroup_init(instance, what, sizeof what) != SBX_CGROUP_NONE &&
	    sbx_cgroup_create(&cg, "bench", err, sizeof err) < 0)
		cg = NULL;

	/* Each row adds one layer to the row above it. */
	struct row {
		const char *name;
		struct sbx_spec spec;
		double *t;
	} rows[8];
	int nrows = 0;
	rows[nrows++] = (struct row){ "sandbox: session, rlimits, pipes, pidfd", base, NULL };
	if (root) {
		struct sbx_spec s2 = base;
		s2.set_ids = true;
		s2.uid = s2.gid = 60999;
		rows[nrows++] = (struct row){ "+ own uid/gid", s2, NULL };
		if (cg) {
			s2.cgroup = cg;
			rows[nrows++] = (struct row){ "+ cgroup (memory, pids, cpu)", s2, NULL };
		}
		s2.namespaces = SBX_NS_PID | SBX_NS_MNT | SBX_NS_IPC | SBX_NS_UTS;
		rows[nrows++] = (struct row){ "+ PID/mount/IPC/UTS namespaces", s2, NULL };
		s2.namespaces |= SBX_NS_NET;
		rows[nrows++] = (struct row){ "+ network namespace", s2, NULL };
		s2.seccomp = true;
		rows[nrows++] = (struct row){ "+ seccomp (= runboxd default)", s2, NULL };
	}
	double *b = calloc((size_t)n, sizeof *b);
	for (int r = 0; r < nrows; r++)
		rows[r].t = calloc((size_t)n, sizeof(double));

	for (int i = 0; i < 50; i++) { /* warm up page cache and allocator */
		bare(args, envp);
		for (int r = 0; r < nrows; r++)
			sandboxed(&rows[r].spec);
	}
	for (int i = 0; i < n; i++) {
		b[i] = bare(args, envp);
		for (int r = 0; r < nrows; r++)
			rows[r].t[i] = sandboxed(&rows[r].spec);
	}
	printf("per run of %s, %d runs each, interleaved (microseconds)%s\n", prog, n,
	       cg ? "" : root ? " [no cgroup available]" : " [not root: no uid, cgroup, namespaces]");
	printf("%-44s %9s %9s %8s\n", "", "median", "p90", "ratio");
	qsort(b, (size_t)n, sizeof *b, cmp);
	double med = b[n / 2];
	report("bare fork+execve+waitpid", b, n, med);
	for (int r = 0; r < nrows; r++) {
		report(rows[r].name, rows[r].t, n, med);
		free(rows[r].t);
	}
	free(b);
	sbx_cgroup_destroy(cg);
	sbx_cgroup_fini();
	rmdir(cwd);
	return 0;
}
