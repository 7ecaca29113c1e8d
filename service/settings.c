/*
 * settings.c - load and validate runboxd's JSON configuration.
 *
 * The shipped conf/runboxd.json documents every key; this file is the
 * authority on what each one accepts.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/settings.h"
#include "service/jsonx.h"
#include "service/limits.h"

static char *resolve(const char *config_path, const char *file)
{
	char *copy, *dir, *out;

	if (file[0] == '/')
		return strdup(file);
	if (!(copy = strdup(config_path)))
		return NULL;
	dir = dirname(copy);
	if (asprintf(&out, "%s/%s", dir, file) < 0)
		out = NULL;
	free(copy);
	return out;
}

/*
 * A path a run's root may show: absolute, not "/" (the host's whole tree)
 * and without "." or ".." components (what is shown is what is written).
 */
int config_check_root_path(const char *p, const char *key, char *err, size_t errlen)
{
	bool bad = p[0] != '/' || !p[1] || strstr(p, "//") ||
		strstr(p, "/./") || strstr(p, "/../");
	size_t n = strlen(p);

	bad |= (n >= 2 && !strcmp(p + n - 2, "/.")) ||
		(n >= 3 && !strcmp(p + n - 3, "/..")) || n >= 1024;
	if (bad)
		snprintf(err, errlen, "%s: \"%s\" must be an absolute path other than "
			 "\"/\", without \".\", \"..\" or \"//\"", key, p);
	return bad ? -1 : 0;
}

/*
 * sandbox.root: what a run's minimal root shows of the host (an
 * allow-list, read-only).  Without the key: the dynamic loader's and the
 * usual system directories, the same list conf/runboxd.json ships.
 */
static int parse_box_root(json_t *v, struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "bind", "ptys", NULL };
	static const char *const dflt[] = {
		"/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc/alternatives",
		"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/localtime", "/etc/ssl/certs", NULL,
	};
	uint64_t u = 16;
	json_t *o;

	if (!v) {
		size_t n = sizeof dflt / sizeof dflt[0];
		if (!(cfg->root_binds = calloc(n, sizeof *cfg->root_binds)))
			goto nomem;
		for (size_t i = 0; dflt[i]; i++)
			if (!(cfg->root_binds[i] = strdup(dflt[i])))
				goto nomem;
	} else {
		if (jx_object(v, "sandbox.root", err, errlen) < 0 ||
		    jx_only_keys(v, "sandbox.root", keys, err, errlen) < 0)
			return -1;
		if (!(o = json_object_get(v, "bind"))) {
			snprintf(err, errlen, "sandbox.root.bind is required");
			return -1;
		}
		if (jx_strv(o, "sandbox.root.bind", true, &cfg->root_binds, err, errlen) < 0)
			return -1;
		for (char **b = cfg->root_binds; *b; b++)
			if (config_check_root_path(*b, "sandbox.root.bind", err, errlen) < 0)
				return -1;
		if ((o = json_object_get(v, "ptys")) &&
		    jx_uint(o, "sandbox.root.ptys", 1, 1024, &u, err, errlen) < 0)
			return -1;
	}
	cfg->root.binds = cfg->root_binds;
	cfg->root.ptys = (unsigned)u;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int parse_sandbox(json_t *v, struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "uid_base", "gid_base", "namespaces",
					    "seccomp", "tmp_size", "cgroups",
					    "allow_weaker_isolation", "root", NULL };
	uint64_t u;
	json_t *o;

	if (jx_object(v, "sandbox", err, errlen) < 0 ||
	    jx_only_keys(v, "sandbox", keys, err, errlen) < 0)
		return -1;
	/* Never 0 (root), and slot uids stay below the 32-bit overflow uid. */
	if (jx_uint(json_object_get(v, "uid_base"), "sandbox.uid_base", 1,
		    4000000000u, &u, err, errlen) < 0)
		return -1;
	cfg->uid_base = (uid_t)u;
	if (jx_uint(json_object_get(v, "gid_base"), "sandbox.gid_base", 1,
		    4000000000u, &u, err, errlen) < 0)
		return -1;
	cfg->gid_base = (gid_t)u;
	cfg->namespaces = cfg->seccomp = cfg->cgroups = true;
	if ((o = json_object_get(v, "cgroups")) &&
	    jx_bool(o, "sandbox.cgroups", &cfg->cgroups, err, errlen) < 0)
		return -1;
	if ((o = json_object_get(v, "namespaces")) &&
	    jx_bool(o, "sandbox.namespaces", &cfg->namespaces, err, errlen) < 0)
		return -1;
	if ((o = json_object_get(v, "seccomp")) &&
	    jx_bool(o, "sandbox.seccomp", &cfg->seccomp, err, errlen) < 0)
		return -1;
	if ((o = json_object_get(v, "allow_weaker_isolation")) &&
	    jx_bool(o, "sandbox.allow_weaker_isolation", &cfg->allow_weaker, err, errlen) < 0)
		return -1;
	snprintf(cfg->tmp_size, sizeof cfg->tmp_size, "64m");
	if ((o = json_object_get(v, "tmp_size"))) {
		const char *s;
		size_t n;
		if (jx_string(o, "sandbox.tmp_size", &s, NULL, err, errlen) < 0)
			return -1;
		n = strspn(s, "0123456789");
		if (!n || n > 8 || (s[n] && (strchr("kmg", s[n]) == NULL || s[n + 1]))) {
			snprintf(err, errlen, "sandbox.tmp_size must be a size like \"64m\"");
			return -1;
		}
		snprintf(cfg->tmp_size, sizeof cfg->tmp_size, "%s", s);
	}
	return parse_box_root(json_object_get(v, "root"), cfg, err, errlen);
}

static int parse_auth(json_t *v, struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "tokens_file", "open", NULL };
	static const char *const known[] = { "/api/v1/languages", "/api/v1/health",
					     "/api/v1/run", "/api/v1/jobs", "/metrics", NULL };
	const char *s;
	json_t *o;

	if (!v || json_is_null(v)) {
		if (!(cfg->open_paths = calloc(1, sizeof *cfg->open_paths)))
			goto nomem;
		return 0;
	}
	if (jx_object(v, "auth", err, errlen) < 0 ||
	    jx_only_keys(v, "auth", keys, err, errlen) < 0)
		return -1;
	if ((o = json_object_get(v, "tokens_file")) && !json_is_null(o)) {
		if (jx_string(o, "auth.tokens_file", &s, NULL, err, errlen) < 0)
			return -1;
		if (!*s) {
			snprintf(err, errlen, "auth.tokens_file must not be empty");
			return -1;
		}
		if (!(cfg->tokens_file = resolve(cfg->path, s)))
			goto nomem;
	}
	if ((o = json_object_get(v, "open"))) {
		if (jx_strv(o, "auth.open", true, &cfg->open_paths, err, errlen) < 0)
			return -1;
		for (char **p = cfg->open_paths; *p; p++) {
			const char *const *k = known;
			while (*k && strcmp(*k, *p))
				k++;
			if (!*k) {
				snprintf(err, errlen, "auth.open: \"%s\" is not an endpoint "
					 "(one of /api/v1/languages, /api/v1/health, "
					 "/api/v1/run, /api/v1/jobs, /metrics)", *p);
				return -1;
			}
		}
	} else {
		/* /metrics is open too: nginx serves it to loopback only. */
		cfg->open_paths = calloc(4, sizeof *cfg->open_paths);
		if (!cfg->open_paths || !(cfg->open_paths[0] = strdup("/api/v1/languages")) ||
		    !(cfg->open_paths[1] = strdup("/api/v1/health")) ||
		    !(cfg->open_paths[2] = strdup("/metrics")))
			goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/*
 * Judge mode: how many tests and collected files a request may have, and
 * the wall time all its steps together may take in the worst case.
 */
static int parse_judge(json_t *v, struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "max_tests", "max_collect_files",
					    "max_collect_bytes", "max_total_wall_ms", NULL };
	json_t *o;

	cfg->max_tests = 64;
	cfg->max_collect_files = 16;
	cfg->max_collect_bytes = 1 << 20;
	cfg->max_total_wall_ms = 60000;
	if (v && (jx_object(v, "judge", err, errlen) < 0 ||
		  jx_only_keys(v, "judge", keys, err, errlen) < 0))
		return -1;
	if (v && (o = json_object_get(v, "max_tests")) &&
	    jx_uint(o, "judge.max_tests", 1, 1024, &cfg->max_tests, err, errlen) < 0)
		return -1;
	if (v && (o = json_object_get(v, "max_collect_files")) &&
	    jx_uint(o, "judge.max_collect_files", 0, 256, &cfg->max_collect_files,
		    err, errlen) < 0)
		return -1;
	if (v && (o = json_object_get(v, "max_collect_bytes")) &&
	    jx_uint(o, "judge.max_collect_bytes", 1, 1u << 30, &cfg->max_collect_bytes,
		    err, errlen) < 0)
		return -1;
	if (v && (o = json_object_get(v, "max_total_wall_ms")) &&
	    jx_uint(o, "judge.max_total_wall_ms", 1000, 3600000, &cfg->max_total_wall_ms,
		    err, errlen) < 0)
		return -1;
	/* A request with the default limits must fit. */
	if (cfg->default_limits.wall_time_ms > cfg->max_total_wall_ms) {
		snprintf(err, errlen, "default_limits.wall_time_ms (%llu) is above "
			 "judge.max_total_wall_ms (%llu)",
			 (unsigned long long)cfg->default_limits.wall_time_ms,
			 (unsigned long long)cfg->max_total_wall_ms);
		return -1;
	}
	return 0;
}

/*
 * What a request may hold beyond its limits: files (and folders in their
 * names) and compile options.
 */
static int parse_requests(json_t *v, struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "max_files", "max_file_depth",
					    "max_compile_options",
					    "max_compile_option_bytes", NULL };
	static const struct {
		const char *key;
		uint64_t min, max, dflt;
		size_t off;
	} table[] = {
		{ "max_files", 0, 1024, 64, offsetof(struct config, max_files) },
		{ "max_file_depth", 0, 32, 8, offsetof(struct config, max_file_depth) },
		{ "max_compile_options", 0, 256, 32,
		  offsetof(struct config, max_compile_options) },
		{ "max_compile_option_bytes", 1, 4096, 256,
		  offsetof(struct config, max_compile_option_bytes) },
	};
	char p[64];
	json_t *o;

	if (v && (jx_object(v, "requests", err, errlen) < 0 ||
		  jx_only_keys(v, "requests", keys, err, errlen) < 0))
		return -1;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		uint64_t *out = (uint64_t *)((char *)cfg + table[i].off);
		*out = table[i].dflt;
		snprintf(p, sizeof p, "requests.%s", table[i].key);
		if (v && (o = json_object_get(v, table[i].key)) &&
		    jx_uint(o, p, table[i].min, table[i].max, out, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Every string of a list made only of the characters in ok (and not
   empty, not longer than max): -1 naming the key and the entry. */
static int check_words(char **v, const char *path, const char *ok, size_t max,
		       const char *what, char *err, size_t errlen)
{
	for (size_t i = 0; v[i]; i++) {
		size_t n = strlen(v[i]);
		if (!n || n > max || strspn(v[i], ok) != n) {
			snprintf(err, errlen, "%s[%zu]: \"%.80s\" is not %s", path, i, v[i],
				 what);
			return -1;
		}
	}
	return 0;
}

/* scheme://host[:port], lower case, nothing after: what a browser sends. */
static bool is_origin(const char *s)
{
	const char *h = !strncmp(s, "http://", 7) ? s + 7 : !strncmp(s, "https://", 8) ? s + 8
		: NULL;
	return h && *h && strspn(h, "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") == strlen(h);
}

/*
 * Who may talk to the service at all: the host names nginx answers
 * (others are closed unanswered), the web origins besides the service's
 * own that may send requests, the proxies whose X-Real-IP, X-Forwarded-*
 * and X-Request-Id are believed, and the address of the metrics listener.
 */
static int parse_edge(json_t *v, struct config *cfg, char *err, size_t errlen)
{
	static const char names_ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789.-_*:[]";
	json_t *o;
	const char *s;

	if (v && (o = json_object_get(v, "server_names"))) {
		if (jx_strv(o, "http.server_names", false, &cfg->server_names, err, errlen) < 0 ||
		    check_words(cfg->server_names, "http.server_names", names_ok, 253,
				"a host name or address", err, errlen) < 0)
			return -1;
	} else if (!(cfg->server_names = calloc(4, sizeof *cfg->server_names)) ||
		   !(cfg->server_names[0] = strdup("localhost")) ||
		   !(cfg->server_names[1] = strdup("127.0.0.1")) ||
		   !(cfg->server_names[2] = strdup("[::1]"))) {
		goto nomem;
	}
	if (v && (o = json_object_get(v, "cors_origins"))) {
		if (jx_strv(o, "http.cors_origins", true, &cfg->cors_origins, err, errlen) < 0)
			return -1;
		for (size_t i = 0; cfg->cors_origins[i]; i++)
			if (!is_origin(cfg->cors_origins[i])) {
				snprintf(err, errlen, "http.cors_origins[%zu]: \"%.80s\" is not an "
					 "origin (http:// or https://, a lower-case host, an "
					 "optional port, no path)", i, cfg->cors_origins[i]);
				return -1;
			}
	} else if (!(cfg->cors_origins = calloc(1, sizeof *cfg->cors_origins))) {
		goto nomem;
	}
	if (v && (o = json_object_get(v, "trusted_proxies"))) {
		if (jx_strv(o, "http.trusted_proxies", true, &cfg->trusted_proxies, err,
			    errlen) < 0 ||
		    check_words(cfg->trusted_proxies, "http.trusted_proxies",
				"0123456789abcdefABCDEF.:/", 43, "an address or CIDR block",
				err, errlen) < 0)
			return -1;
	} else if (!(cfg->trusted_proxies = calloc(1, sizeof *cfg->trusted_proxies))) {
		goto nomem;
	}
	s = "127.0.0.1:9180";
	if (v && (o = json_object_get(v, "metrics_listen")) &&
	    jx_string(o, "http.metrics_listen", &s, NULL, err, errlen) < 0)
		return -1;
	if (!*s || strlen(s) > 64 || strspn(s, "0123456789abcdefABCDEF.:[]") != strlen(s) ||
	    !strrchr(s, ':')) {
		snprintf(err, errlen, "http.metrics_listen must be ADDRESS:PORT (e.g. "
			 "\"127.0.0.1:9180\")");
		return -1;
	}
	if (!(cfg->metrics_listen = strdup(s)))
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* The HTTP side: limits nginx enforces in front of runboxd (rendered into
   its config) and the bounds runboxd itself puts on a body and an answer. */
static int parse_http(json_t *v, struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "rate_per_second", "rate_burst",
					    "connections_per_client", "max_response_bytes",
					    "parse_memory_factor", "server_names",
					    "cors_origins", "trusted_proxies",
					    "metrics_listen", "client_timeout_s", NULL };
	json_t *o;

	cfg->rate_per_s = 50;
	cfg->rate_burst = 100;
	cfg->conns_per_client = 64;
	cfg->max_response_bytes = 64u << 20;
	cfg->parse_memory_factor = 8;
	cfg->client_timeout_s = 5;
	if (v && (jx_object(v, "http", err, errlen) < 0 ||
		  jx_only_keys(v, "http", keys, err, errlen) < 0))
		return -1;
	if (parse_edge(v, cfg, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	if ((o = json_object_get(v, "client_timeout_s")) &&
	    jx_uint(o, "http.client_timeout_s", 1, 300, &cfg->client_timeout_s,
		    err, errlen) < 0)
		return -1;
	if ((o = json_object_get(v, "rate_per_second")) &&
	    jx_uint(o, "http.rate_per_second", 1, 1000000, &cfg->rate_per_s, err, errlen) < 0)
		return -1;
	if ((o = json_object_get(v, "rate_burst")) &&
	    jx_uint(o, "http.rate_burst", 0, 1000000, &cfg->rate_burst, err, errlen) < 0)
		return -1;
	if ((o = json_object_get(v, "connections_per_client")) &&
	    jx_uint(o, "http.connections_per_client", 1, 65535, &cfg->conns_per_client,
		    err, errlen) < 0)
		return -1;
	if ((o = json_object_get(v, "max_response_bytes")) &&
	    jx_uint(o, "http.max_response_bytes", 65536, 1ull << 30,
		    &cfg->max_response_bytes, err, errlen) < 0)
		return -1;
	if ((o = json_object_get(v, "parse_memory_factor")) &&
	    jx_uint(o, "http.parse_memory_factor", 4, 64, &cfg->parse_memory_factor,
		    err, errlen) < 0)
		return -1;
	return 0;
}

/*
 * Jobs: where they are stored, how many run at once, how many may wait,
 * how long results are kept, and where callbacks may go.  A callback URL
 * must start with one of callback_allow's prefixes, each a scheme, a host
 * and a path ending in "/" (so "http://a/x/" does not admit "http://a/xy"
 * nor "http://a.evil/").
 */
static int parse_jobs(json_t *v, struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "state_dir", "runners", "max_batch",
		"max_queued", "max_queued_per_token", "ttl_s", "max_bytes", "max_wait_s",
		"callback_allow", "callback_attempts", "callback_timeout_ms", NULL };
	static const struct {
		const char *key;
		uint64_t min, max, dflt;
		size_t off;
	} nums[] = {
		{ "runners", 1, CONFIG_MAX_SLOTS, 2, offsetof(struct config, jobs_runners) },
		{ "max_batch", 1, 1000, 20, offsetof(struct config, jobs_max_batch) },
		{ "max_queued", 1, 1000000, 10000, offsetof(struct config, jobs_max_queued) },
		{ "max_queued_per_token", 1, 1000000, 1000,
		  offsetof(struct config, jobs_max_queued_per_token) },
		{ "ttl_s", 1, 30 * 86400, 3600, offsetof(struct config, jobs_ttl_s) },
		{ "max_bytes", 1 << 20, 1ull << 40, 1ull << 30, offsetof(struct config, jobs_max_bytes) },
		{ "max_wait_s", 0, 3600, 60, offsetof(struct config, jobs_max_wait_s) },
		{ "callback_attempts", 1, 20, 5, offsetof(struct config, jobs_callback_attempts) },
		{ "callback_timeout_ms", 100, 60000, 5000,
		  offsetof(struct config, jobs_callback_timeout_ms) },
	};
	char path[64];
	const char *s = "/var/lib/runbox/jobs";
	json_t *o;

	if (v && (jx_object(v, "jobs", err, errlen) < 0 ||
		  jx_only_keys(v, "jobs", keys, err, errlen) < 0))
		return -1;
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		uint64_t *dst = (uint64_t *)((char *)cfg + nums[i].off);
		*dst = nums[i].dflt;
		snprintf(path, sizeof path, "jobs.%s", nums[i].key);
		if (v && (o = json_object_get(v, nums[i].key)) &&
		    jx_uint(o, path, nums[i].min, nums[i].max, dst, err, errlen) < 0)
			return -1;
	}
	/* A runner's job needs a slot: more runners than slots would only
	   wait (a config that lowers slots keeps working). */
	if (cfg->jobs_runners > cfg->slots)
		cfg->jobs_runners = cfg->slots;
	if (v && (o = json_object_get(v, "state_dir")) &&
	    jx_string(o, "jobs.state_dir", &s, NULL, err, errlen) < 0)
		return -1;
	if (s[0] != '/') {
		snprintf(err, errlen, "jobs.state_dir must be an absolute path");
		return -1;
	}
	if (!(cfg->jobs_state_dir = strdup(s)))
		goto nomem;
	if (v && (o = json_object_get(v, "callback_allow"))) {
		if (jx_strv(o, "jobs.callback_allow", true, &cfg->jobs_callback_allow,
			    err, errlen) < 0)
			return -1;
	} else if (!(cfg->jobs_callback_allow = calloc(1, sizeof (char *)))) {
		goto nomem;
	}
	for (size_t i = 0; cfg->jobs_callback_allow[i]; i++) {
		const char *p = cfg->jobs_callback_allow[i];
		const char *h = !strncmp(p, "http://", 7) ? p + 7 : !strncmp(p, "https://", 8)
			? p + 8 : NULL;
		const char *slash = h ? strchr(h, '/') : NULL;
		if (!h || !slash || slash == h || strpbrk(p, "@?# \t\\") ||
		    p[strlen(p) - 1] != '/') {
			snprintf(err, errlen, "jobs.callback_allow[%zu]: \"%.100s\" must be "
				 "http(s)://host[:port]/path/ ending in \"/\", without "
				 "credentials, query or fragment", i, p);
			return -1;
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int parse_root(json_t *root, struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"listen", "socket_group", "slots", "queue", "queue_timeout_ms", "max_body_bytes",
		"work_root", "languages_file", "sandbox", "default_limits",
		"max_limits", "environment", "log", "log_format", "auth", "http",
		"judge", "requests", "host_id", "jobs", NULL,
	};
	const char *s;
	uint64_t u;
	json_t *v;

	if (jx_object(root, "the top level", err, errlen) < 0 ||
	    jx_only_keys(root, "", keys, err, errlen) < 0)
		return -1;

	if ((v = json_object_get(root, "listen")) && !json_is_null(v)) {
		if (jx_string(v, "listen", &s, NULL, err, errlen) < 0)
			return -1;
		if (!*s) {
			snprintf(err, errlen, "listen must not be empty (use null for a socket on fd 0)");
			return -1;
		}
		if (!(cfg->listen = strdup(s)))
			goto nomem;
	}
	/* The group Debian's nginx runs as. */
	s = "www-data";
	if ((v = json_object_get(root, "socket_group")) &&
	    jx_string(v, "socket_group", &s, NULL, err, errlen) < 0)
		return -1;
	if (!*s || strchr(s, ':') || strchr(s, '/')) {
		snprintf(err, errlen, "socket_group must be a group name or number");
		return -1;
	}
	if (!(cfg->socket_group = strdup(s)))
		goto nomem;
	cfg->slots = 16;
	if ((v = json_object_get(root, "slots"))) {
		if (jx_uint(v, "slots", 1, CONFIG_MAX_SLOTS, &u, err, errlen) < 0)
			return -1;
		cfg->slots = (unsigned)u;
	}
	cfg->queue = cfg->slots;
	if ((v = json_object_get(root, "queue"))) {
		if (jx_uint(v, "queue", 0, 4096, &u, err, errlen) < 0)
			return -1;
		cfg->queue = (unsigned)u;
	}
	cfg->queue_timeout_ms = 2000;
	if ((v = json_object_get(root, "queue_timeout_ms")) &&
	    jx_uint(v, "queue_timeout_ms", 0, 600000, &cfg->queue_timeout_ms,
		    err, errlen) < 0)
		return -1;
	cfg->max_body_bytes = 16u << 20;
	if ((v = json_object_get(root, "max_body_bytes")) &&
	    jx_uint(v, "max_body_bytes", 1024, 1u << 30, &cfg->max_body_bytes,
		    err, errlen) < 0)
		return -1;

	if (jx_string(json_object_get(root, "work_root"), "work_root", &s,
		      NULL, err, errlen) < 0)
		return -1;
	if (s[0] != '/') {
		snprintf(err, errlen, "work_root must be an absolute path");
		return -1;
	}
	if (!(cfg->work_root = strdup(s)))
		goto nomem;

	if (jx_string(json_object_get(root, "languages_file"), "languages_file",
		      &s, NULL, err, errlen) < 0)
		return -1;
	if (!(cfg->languages_file = resolve(cfg->path, s)))
		goto nomem;

	if (parse_sandbox(json_object_get(root, "sandbox"), cfg, err, errlen) < 0)
		return -1;
	if (limits_parse(json_object_get(root, "max_limits"), "max_limits", true,
			 NULL, &cfg->max_limits, err, errlen) < 0)
		return -1;
	if (limits_parse(json_object_get(root, "default_limits"), "default_limits",
			 true, &cfg->max_limits, &cfg->default_limits, err, errlen) < 0)
		return -1;
	if (jx_env(json_object_get(root, "environment"), "environment", 256, &cfg->env,
		   err, errlen) < 0)
		return -1;

	if ((v = json_object_get(root, "log_format"))) {
		if (jx_string(v, "log_format", &s, NULL, err, errlen) < 0)
			return -1;
		if (strcmp(s, "json") == 0)
			cfg->log_json = true;
		else if (strcmp(s, "text") != 0) {
			snprintf(err, errlen, "log_format must be \"text\" or \"json\"");
			return -1;
		}
	}
	if (parse_auth(json_object_get(root, "auth"), cfg, err, errlen) < 0)
		return -1;
	if (parse_http(json_object_get(root, "http"), cfg, err, errlen) < 0)
		return -1;
	if (parse_judge(json_object_get(root, "judge"), cfg, err, errlen) < 0)
		return -1;
	if (parse_requests(json_object_get(root, "requests"), cfg, err, errlen) < 0)
		return -1;
	if (parse_jobs(json_object_get(root, "jobs"), cfg, err, errlen) < 0)
		return -1;
	if ((v = json_object_get(root, "host_id")) && !json_is_null(v)) {
		size_t n;
		if (jx_string(v, "host_id", &s, &n, err, errlen) < 0)
			return -1;
		if (!n || n >= sizeof cfg->host_id ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != n) {
			snprintf(err, errlen, "host_id must be 1 to 63 letters, digits, '.', '-' or '_'");
			return -1;
		}
		memcpy(cfg->host_id, s, n + 1);
	} else if (gethostname(cfg->host_id, sizeof cfg->host_id) < 0 || !cfg->host_id[0]) {
		snprintf(cfg->host_id, sizeof cfg->host_id, "localhost");
	}
	if ((v = json_object_get(root, "log"))) {
		if (jx_string(v, "log", &s, NULL, err, errlen) < 0)
			return -1;
		if (strcmp(s, "syslog") == 0)
			cfg->log_syslog = true;
		else if (strcmp(s, "stderr") != 0) {
			snprintf(err, errlen, "log must be \"stderr\" or \"syslog\"");
			return -1;
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	char msg[512];

	memset(cfg, 0, sizeof *cfg);
	if (!(cfg->path = strdup(path))) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column,
			 jerr.text);
		config_free(cfg);
		return -1;
	}
	if (parse_root(root, cfg, msg, sizeof msg) < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		json_decref(root);
		config_free(cfg);
		return -1;
	}
	json_decref(root);
	return 0;
}

uint64_t config_request_ms(const struct config *cfg)
{
	/* Every request's steps fit in judge.max_total_wall_ms (request.c
	   refuses the others); 30 s covers the work around them (work
	   directories, copies of the build, the answer). */
	return cfg->queue_timeout_ms + cfg->max_total_wall_ms + 30000;
}

void config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->listen);
	free(cfg->socket_group);
	free(cfg->work_root);
	free(cfg->languages_file);
	jx_strv_free(cfg->env);
	jx_strv_free(cfg->root_binds);
	free(cfg->tokens_file);
	jx_strv_free(cfg->open_paths);
	jx_strv_free(cfg->server_names);
	jx_strv_free(cfg->cors_origins);
	jx_strv_free(cfg->trusted_proxies);
	free(cfg->metrics_listen);
	free(cfg->jobs_state_dir);
	jx_strv_free(cfg->jobs_callback_allow);
	memset(cfg, 0, sizeof *cfg);
}
