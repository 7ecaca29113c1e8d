/*
 * sbx-run - run one program in the sandbox from the command line and print
 * the result.  A demo and a debugging aid, not part of the service.
 *
 *   sbx-run [--cpu MS] [--wall MS] [--memory BYTES] [--stack BYTES]
 *           [--processes N] [--open-files N] [--file-size BYTES]
 *           [--output BYTES] [--uid UID --gid GID] [--cwd DIR]
 *           [--stdin FILE] [--cgroup] [--namespaces | --userns]
 *           [--seccomp] [--bind PATH]... -- PROGRAM [ARG...]
 *
 * With namespaces the program sees a minimal root: /usr, /bin, /lib*,
 * /sbin, the dynamic loader's cache, and each --bind PATH, read-only.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

static uint64_t number(const char *opt, const char *arg)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-') {
		fprintf(stderr, "sbx-run: --%s: not a number: %s\n", opt, arg);
		exit(2);
	}
	return v;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f) {
		fprintf(stderr, "sbx-run: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (!(data = realloc(data, cap)))
				exit(2);
		}
		size_t n = fread(data + *len, 1, cap - *len, f);
		if (!n)
			break;
		*len += n;
	}
	fclose(f);
	return data;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cpu", required_argument, NULL, 'c' },
		{ "wall", required_argument, NULL, 'w' },
		{ "memory", required_argument, NULL, 'm' },
		{ "stack", required_argument, NULL, 's' },
		{ "processes", required_argument, NULL, 'p' },
		{ "open-files", required_argument, NULL, 'n' },
		{ "file-size", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "cwd", required_argument, NULL, 'd' },
		{ "stdin", required_argument, NULL, 'i' },
		{ "cgroup", no_argument, NULL, 'C' },
		{ "namespaces", no_argument, NULL, 'N' },
		{ "seccomp", no_argument, NULL, 'S' },
		{ "userns", no_argument, NULL, 'U' },
		{ "bind", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
				      "LANG=C.UTF-8", NULL };
	struct sbx_spec spec = { .envp = envp, .rlimit_as = true,
				 .limits.output_bytes = 1 << 20 };
	struct sbx_result res;
	char err[256];
	char *in = NULL;
	int c, have_uid = 0, have_gid = 0, use_cgroup = 0, nbind = 0;
	/* The root's allow-list: --bind adds to what any program needs. */
	char *binds[32] = { "/usr", "/bin", "/lib", "/lib64", "/sbin",
			    "/etc/alternatives", "/etc/ld.so.cache", NULL };
	struct sbx_root root = { .binds = binds };

	while (binds[nbind])
		nbind++;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		const char *name = NULL;
		for (const struct option *o = opts; o->name; o++)
			if (o->val == c)
				name = o->name;
		switch (c) {
		case 'c': spec.limits.cpu_time_ms = number(name, optarg); break;
		case 'w': spec.limits.wall_time_ms = number(name, optarg); break;
		case 'm': spec.limits.memory_bytes = number(name, optarg); break;
		case 's': spec.limits.stack_bytes = number(name, optarg); break;
		case 'p': spec.limits.processes = number(name, optarg); break;
		case 'n': spec.limits.open_files = number(name, optarg); break;
		case 'f': spec.limits.file_size_bytes = number(name, optarg); break;
		case 'o': spec.limits.output_bytes = number(name, optarg); break;
		case 'u': spec.uid = (uid_t)number(name, optarg); have_uid = 1; break;
		case 'g': spec.gid = (gid_t)number(name, optarg); have_gid = 1; break;
		case 'd': spec.cwd = optarg; break;
		case 'i': in = slurp(optarg, &spec.stdin_len); break;
		case 'C': use_cgroup = 1; break;
		case 'N': spec.namespaces = SBX_NS_ALL; break;
		case 'S': spec.seccomp = true; break;
		case 'U': spec.namespaces = SBX_NS_ALL | SBX_NS_USER; break;
		case 'B':
			if (nbind < 31)
				binds[nbind++] = optarg;
			break;
		case 'h':
			printf("usage: sbx-run [--cpu MS] [--wall MS] [--memory BYTES] [--stack BYTES]\n"
			       "               [--processes N] [--open-files N] [--file-size BYTES]\n"
			       "               [--output BYTES] [--uid UID --gid GID] [--cwd DIR]\n"
			       "               [--stdin FILE] [--cgroup] [--namespaces | --userns] [--seccomp]\n"
			       "               [--bind PATH]... -- PROGRAM [ARG...]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (have_uid != have_gid) {
		fprintf(stderr, "sbx-run: --uid and --gid go together\n");
		return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "sbx-run: no program given (try --help)\n");
		return 2;
	}
	spec.set_ids = have_uid;
	spec.root = &root;
	spec.argv = argv + optind;
	spec.stdin_data = in;

	if (use_cgroup) {
		char what[512];
		if (sbx_cgroup_init("sbx-run", what, sizeof what) == SBX_CGROUP_NONE ||
		    sbx_cgroup_create(&spec.cgroup, "run", err, sizeof err) < 0) {
			fprintf(stderr, "sbx-run: no cgroup: %s\n", what);
			sbx_cgroup_fini();
			return 1;
		}
		fprintf(stderr, "sbx-run: %s\n", what);
	}
	int rc = sbx_run(&spec, &res, err, sizeof err);
	if (spec.cgroup) {
		sbx_cgroup_destroy(spec.cgroup);
		sbx_cgroup_fini();
	}
	if (rc < 0) {
		fprintf(stderr, "sbx-run: %s\n", err);
		free(in);
		return 1;
	}
	fwrite(res.out.data, 1, res.out.len, stdout);
	fwrite(res.err.data, 1, res.err.len, stderr);
	fflush(stdout);
	fprintf(stderr,
		"--\nstatus: %s\nmessage: %s\nexit_code: %d\nsignal: %s\n"
		"stdout: %zu bytes%s, stderr: %zu bytes%s\n"
		"cpu: %" PRIu64 " ms (user %" PRIu64 ", system %" PRIu64 "), wall: %" PRIu64
		" ms, max rss: %" PRIu64 " bytes\n",
		sbx_status_name(res.status), res.message, res.exit_code,
		res.signal ? sbx_signal_name(res.signal) : "none",
		res.out.len, res.out.truncated ? " (truncated)" : "",
		res.err.len, res.err.truncated ? " (truncated)" : "",
		res.usage.cpu_time_ms, res.usage.user_time_ms, res.usage.system_time_ms,
		res.usage.wall_time_ms, res.usage.max_rss_bytes);
	int code = res.status == SBX_OK ? 0 : 1;
	sbx_result_free(&res);
	free(in);
	return code;
}
