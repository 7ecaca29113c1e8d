/*
 * runboxd - the runbox FastCGI responder.
 *
 *   runboxd --config FILE [--listen ADDR] [--socket-group GROUP] [--work-root DIR]
 *                         [--state-dir DIR]
 *   runboxd --config FILE --check-config
 *   runboxd --config FILE --render TEMPLATE [--port N] [--runtime DIR] [--www DIR]
 *                                 [--addr IP] [--metrics-listen ADDR:PORT]
 *
 * --render prints TEMPLATE with @PORT@, @RUNTIME@, @WWW@, @SOCKET@, @SOCKET_GROUP@,
 * @MAX_BODY@, @READ_TIMEOUT@, @FRONT_READ_TIMEOUT@, @RATE@, @BURST@, @CONNS@,
 * @ADDR@, @ADDR_NAME@, @SERVER_NAMES@, @REAL_IP_FROM@, @TRUSTED_GEO@,
 * @METRICS_LISTEN@, @METRICS_NAME@, @CLIENT_TIMEOUT@ and @BACKEND_CONNS@ replaced from the config (other @NAME@s are left as they are),
 * so that the nginx configuration never disagrees with runboxd's.
 */
#include "config.h"

#include <errno.h>
#include <curl/curl.h>
#include <getopt.h>
#include <sodium.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/jsonmem.h"
#include "service/api.h"
#include "service/idclaim.h"
#include "service/log.h"
#include "service/quota.h"
#include "service/server.h"
#include "service/slotbox.h"
#include "service/slotbox.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: runboxd --config FILE [--listen ADDR] [--socket-group GROUP]\n"
		"                              [--work-root DIR] [--state-dir DIR]\n"
		"       runboxd --config FILE --check-config\n"
		"       runboxd --config FILE --add-token[=LABEL] [--rate=N [--burst=N]]\n"
		"               [--concurrency=N]\n"
		"       runboxd --config FILE --render TEMPLATE [--addr IP] [--port N] [--runtime DIR]\n"
		"               [--www DIR] [--metrics-listen ADDR:PORT]\n"
		"ADDR is /path/to.sock or host:port; without one (and none in the config),\n"
		"runboxd serves the listening socket on fd 0 (spawn-fcgi).  GROUP (nginx's,\n"
		"config socket_group) owns a unix socket, mode 0660.  A token's --rate\n"
		"(requests per second, --burst above it) and --concurrency (runs at once)\n"
		"are enforced per token by runboxd; without them the token is unlimited.\n");
}

/* Each entry of v between pre and post, on one line: NULL without memory. */
static char *join_each(char **v, const char *pre, const char *post)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);

	if (!m)
		return NULL;
	for (size_t i = 0; v && v[i]; i++)
		fprintf(m, "%s%s%s", pre, v[i], post);
	if (fclose(m) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The host part of an nginx listen address ("127.0.0.1:9100" ->
   "127.0.0.1", "[::1]:9100" -> "[::1]"); empty for a bare port. */
static void listen_host(const char *listen, char *out, size_t len)
{
	const char *end = listen[0] == '[' ? strchr(listen, ']') : strrchr(listen, ':');

	if (listen[0] == '[' && end)
		end++;
	if (!end || (size_t)(end - listen) >= len)
		end = listen;
	snprintf(out, len, "%.*s", (int)(end - listen), listen);
}

static int render(const struct config *cfg, const char *template, const char *addr,
		  const char *port, const char *runtime, const char *www,
		  const char *metrics_listen)
{
	FILE *f = fopen(template, "r");
	char line[4096], num[32], timeout[32], front[32], rate[32], burst[32], conns[32];
	char client[32], backend[32], addr_name[80], metrics_name[80];
	uint64_t worst = config_request_ms(cfg);
	char *names = join_each(cfg->server_names, " ", "");
	char *realip = join_each(cfg->trusted_proxies, "set_real_ip_from ", "; ");
	char *geo = join_each(cfg->trusted_proxies, "", " 1; ");
	/* nginx's own answers (429, 413, 503...) carry CORS for the same
	   listed origins as runboxd's: "origin" $http_origin; per line. */
	char *cors = join_each(cfg->cors_origins, "\"", "\" $http_origin; ");

	if (!names || !realip || !geo || !cors) {
		fprintf(stderr, "runboxd: out of memory\n");
		goto fail;
	}
	if (!f) {
		fprintf(stderr, "runboxd: %s: %s\n", template, strerror(errno));
		goto fail;
	}
	/* nginx answers only these names (another Host is a DNS rebinding
	   page's): the configured ones and the address make run listens on,
	   an IPv6 one in brackets as it appears in Host. */
	snprintf(addr_name, sizeof addr_name, "%s%s%s", strchr(addr, ':') ? "[" : "", addr,
		 strchr(addr, ':') ? "]" : "");
	for (char **n = cfg->server_names; *n; n++)
		if (!strcasecmp(*n, addr_name))
			addr_name[0] = '\0'; /* named already: nginx would warn */
	/* The same for /metrics' listener: its own address's name (the host
	   part of http.metrics_listen, brackets kept) besides the names. */
	if (!metrics_listen)
		metrics_listen = cfg->metrics_listen;
	listen_host(metrics_listen, metrics_name, sizeof metrics_name);
	for (char **n = cfg->server_names; *n; n++)
		if (!strcasecmp(*n, metrics_name))
			metrics_name[0] = '\0';
	snprintf(client, sizeof client, "%llus", (unsigned long long)cfg->client_timeout_s);
	/* nginx opens at most one connection to runboxd per worker process
	   of runboxd's, so none ever waits in (or overflows) its backlog. */
	snprintf(backend, sizeof backend, "%u", cfg->slots + cfg->queue);
	snprintf(num, sizeof num, "%llu", (unsigned long long)cfg->max_body_bytes);
	/* Above the longest a request can take (config_request_ms); a front
	   proxy waits 10 s more, so that the host's own answer reaches it. */
	snprintf(timeout, sizeof timeout, "%llus", (unsigned long long)((worst + 999) / 1000));
	snprintf(front, sizeof front, "%llus", (unsigned long long)((worst + 999) / 1000 + 10));
	snprintf(rate, sizeof rate, "%llur/s", (unsigned long long)cfg->rate_per_s);
	snprintf(burst, sizeof burst, "%llu", (unsigned long long)cfg->rate_burst);
	snprintf(conns, sizeof conns, "%llu", (unsigned long long)cfg->conns_per_client);
	while (fgets(line, sizeof line, f)) {
		const char *keys[] = { "@PORT@", "@RUNTIME@", "@WWW@", "@SOCKET_GROUP@",
				       "@SOCKET@", "@MAX_BODY@", "@READ_TIMEOUT@",
				       "@FRONT_READ_TIMEOUT@", "@RATE@", "@BURST@",
				       "@CONNS@", "@ADDR_NAME@", "@ADDR@", "@SERVER_NAMES@",
				       "@REAL_IP_FROM@", "@TRUSTED_GEO@", "@METRICS_LISTEN@",
				       "@CLIENT_TIMEOUT@", "@BACKEND_CONNS@", "@CORS_MAP@",
				       "@METRICS_NAME@" };
		const char *vals[] = { port, runtime, www, cfg->socket_group,
				       cfg->listen ? cfg->listen : "", num, timeout, front,
				       rate, burst, conns, addr_name, addr, names, realip,
				       geo, metrics_listen, client, backend, cors, metrics_name };
		const size_t nkeys = sizeof keys / sizeof keys[0];
		for (char *p = line; *p;) {
			size_t k;
			for (k = 0; k < nkeys; k++)
				if (!strncmp(p, keys[k], strlen(keys[k])))
					break;
			if (k < nkeys) {
				fputs(vals[k], stdout);
				p += strlen(keys[k]);
			} else {
				putchar(*p++);
			}
		}
	}
	fclose(f);
	free(names);
	free(realip);
	free(geo);
	free(cors);
	return 0;
fail:
	if (f)
		fclose(f);
	free(names);
	free(realip);
	free(geo);
	free(cors);
	return 1;
}

/* Longest wait at a reload for a slot to run the version commands in. */
#define RELOAD_SLOT_WAIT_MS 30000

static char isolation[512];

/* Can this process give a run its own user namespace?  Try one. */
static bool userns_works(const struct config *cfg, char *err, size_t errlen)
{
	char *argv[] = { "/bin/true", NULL };
	struct sbx_spec spec = {
		.argv = argv, .envp = cfg->env,
		.namespaces = SBX_NS_ALL | SBX_NS_USER, .root = &cfg->root,
		.limits = { .wall_time_ms = 5000 },
	};
	struct sbx_result res;

	if (sbx_run(&spec, &res, err, errlen) < 0)
		return false;
	bool ok = res.status == SBX_OK;
	if (!ok)
		snprintf(err, errlen, "%s", res.message);
	sbx_result_free(&res);
	return ok;
}

static int setup_slots(struct service *svc)
{
	char err[512], what[400];
	enum sbx_cgroup_mode mode;

	/* One cgroup per slot, made once, beneath runboxd's own cgroup. */
	if (svc->cfg.cgroups) {
		mode = sbx_cgroup_init("runbox", what, sizeof what);
	} else {
		mode = SBX_CGROUP_NONE;
		snprintf(what, sizeof what, "sandbox.cgroups is false");
	}
	if (mode == SBX_CGROUP_NONE)
		log_msg(LOG_WARNING, "no cgroups (%s): limits fall back to rlimits, "
			"memory_exceeded cannot be reported", what);
	else
		log_msg(LOG_INFO, "resource control: %s", what);
	snprintf(isolation, sizeof isolation, "%s",
		 mode == SBX_CGROUP_NONE ? "rlimits only" : what);
	if (svc->cfg.seccomp && sbx_seccomp_status()) {
		log_msg(LOG_ERR, "seccomp: %s", sbx_seccomp_status());
		return -1;
	}

	if (mkdir(svc->cfg.work_root, 0711) < 0 && errno != EEXIST) {
		log_msg(LOG_ERR, "work root %s: %s", svc->cfg.work_root, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < svc->cfg.slots; i++)
		if (slot_open(&svc->slots[i], i, &svc->cfg, mode != SBX_CGROUP_NONE, err,
			      sizeof err) < 0 ||
		    slot_clear(&svc->slots[i], err, sizeof err) < 0) {
			log_msg(LOG_ERR, "slot %u: %s", i, err);
			return -1;
		}
	return 0;
}

/*
 * Find each language's version (in the sandbox) and render the body of
 * GET /api/v1/languages once: at start and at every reload.  NULL with err.
 */
static char *languages_body(struct languages *langs, const struct config *cfg,
			    const struct slot *const *slots, size_t nslots, char *err,
			    size_t errlen)
{
	json_t *lj;
	char *body;

	if (languages_probe_versions(langs, cfg, slots, nslots, err, errlen) < 0)
		return NULL;
	/* A missing toolchain is not served, and said so (here and in
	   /health); the other languages are. */
	for (size_t i = 0; i < langs->n; i++)
		if (!langs->v[i].present)
			log_msg(LOG_WARNING, "language %s is not served: %s", langs->v[i].id,
				langs->v[i].missing);
	lj = languages_to_json(langs);
	body = lj ? jsonmem_dumps(lj, JSON_COMPACT) : NULL;
	json_decref(lj);
	if (!body)
		snprintf(err, errlen, "out of memory");
	return body;
}

/*
 * SIGHUP: read config, languages and tokens again.  Everything is checked
 * before anything changes; what needs a restart (socket, work root, slots,
 * queue, uids) must stay the same.  The command line's --listen and
 * --work-root and --state-dir still win.
 */
static int reload(struct service *svc)
{
	struct config cfg;
	struct languages langs = { 0 };
	struct auth auth = { 0 };
	char err[1024];
	char *body = NULL;
	unsigned slot;

	if (config_load(&cfg, svc->cfg.path, err, sizeof err) < 0) {
		log_msg(LOG_ERR, "reload refused, the running config stays: %s", err);
		return -1;
	}
	free(cfg.listen);
	free(cfg.work_root);
	free(cfg.jobs_state_dir);
	cfg.jobs_state_dir = strdup(svc->cfg.jobs_state_dir);
	cfg.listen = svc->cfg.listen ? strdup(svc->cfg.listen) : NULL;
	free(cfg.socket_group);
	cfg.socket_group = strdup(svc->cfg.socket_group);
	cfg.work_root = strdup(svc->cfg.work_root);
	cfg.weaker = svc->cfg.weaker;
	cfg.userns = svc->cfg.userns;
	if (cfg.weaker || cfg.userns)
		cfg.namespaces = svc->cfg.namespaces;
	if (!cfg.work_root || !cfg.socket_group || (svc->cfg.listen && !cfg.listen) ||
	    !cfg.jobs_state_dir) {
		snprintf(err, sizeof err, "out of memory");
		goto refuse;
	}
	if (cfg.slots != svc->cfg.slots || cfg.queue != svc->cfg.queue ||
	    cfg.jobs_runners != svc->cfg.jobs_runners ||
	    cfg.uid_base != svc->cfg.uid_base || cfg.gid_base != svc->cfg.gid_base) {
		snprintf(err, sizeof err, "slots, queue, jobs.runners and sandbox uid/gid "
			 "bases change only with a restart");
		goto refuse;
	}
	if (languages_load(&langs, cfg.languages_file, &cfg, err, sizeof err) < 0 ||
	    auth_load(&auth, cfg.tokens_file, err, sizeof err) < 0)
		goto refuse;
	/* The probes run in slots like any run: take one from the workers'
	   pool for the moment (waiting for it), and up to three more that
	   are free right now. */
	unsigned held[LANGUAGES_PROBE_THREADS];
	const struct slot *probe_slots[LANGUAGES_PROBE_THREADS];
	size_t nheld = 0;
	/* (1 is a timeout: no slot is held then.) */
	if (pool_acquire(svc->pool, RELOAD_SLOT_WAIT_MS, &slot) != 0) {
		snprintf(err, sizeof err, "no slot became free within %d ms to run the "
			 "version commands in", RELOAD_SLOT_WAIT_MS);
		goto refuse;
	}
	held[nheld++] = slot;
	while (nheld < LANGUAGES_PROBE_THREADS && pool_acquire(svc->pool, 0, &slot) == 0)
		held[nheld++] = slot;
	for (size_t i = 0; i < nheld; i++) {
		probe_slots[i] = &svc->slots[held[i]];
		/* The version commands run as runs did before boxes: their
		   set-up empties the slot's cgroup, the box's init with it. */
		box_keeper_drop(svc->boxes, held[i]);
	}
	body = languages_body(&langs, &cfg, probe_slots, nheld, err, sizeof err);
	for (size_t i = 0; i < nheld; i++)
		pool_release(svc->pool, held[i]);
	if (!body)
		goto refuse;
	config_free(&svc->cfg);
	languages_free(&svc->langs);
	auth_free(&svc->auth);
	free(svc->languages_body);
	svc->cfg = cfg;
	svc->langs = langs;
	svc->auth = auth;
	svc->languages_body = body;
	size_t present = 0;
	for (size_t i = 0; i < svc->langs.n; i++)
		present += svc->langs.v[i].present;
	log_msg(LOG_INFO, "reloaded %s: %zu languages (%zu present)%s; replacing the workers",
		svc->cfg.path, svc->langs.n, present, svc->auth.enabled ? ", tokens on" : "");
	return 0;
refuse:
	log_msg(LOG_ERR, "reload refused, the running config stays: %s", err);
	languages_free(&langs);
	auth_free(&auth);
	config_free(&cfg);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "socket-group", required_argument, NULL, 'g' },
		{ "work-root", required_argument, NULL, 'w' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "render", required_argument, NULL, 'r' },
		{ "port", required_argument, NULL, 'p' },
		{ "runtime", required_argument, NULL, 't' },
		{ "www", required_argument, NULL, 'W' },
		{ "addr", required_argument, NULL, 'a' },
		{ "metrics-listen", required_argument, NULL, 'M' },
		{ "add-token", optional_argument, NULL, 'A' },
		{ "rate", required_argument, NULL, 'R' },
		{ "burst", required_argument, NULL, 'B' },
		{ "concurrency", required_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct service svc;
	static struct id_claim ids = { .dir_fd = -1 };
	const char *config = NULL, *listen_addr = NULL, *work_root = NULL, *group = NULL;
	const char *state_dir = NULL;
	const char *template = NULL, *port = "8080", *runtime = ".", *www = ".";
	const char *addr = "127.0.0.1", *metrics_listen = NULL;
	bool check = false, add_token = false;
	const char *token_label = NULL;
	struct token_policy policy = { 0 };
	bool policy_given = false;
	char err[1024], word[64];
	int c, fd;

	jsonmem_install();
	/* libsodium picks its implementations and opens its random source
	   once, before any worker forks. */
	if (sodium_init() < 0) {
		fprintf(stderr, "runboxd: libsodium could not be initialised\n");
		return 1;
	}
	/* libcurl (job callbacks) once, before any thread or worker. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "runboxd: libcurl could not be initialised\n");
		return 1;
	}
	while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'l': listen_addr = optarg; break;
		case 'g': group = optarg; break;
		case 'w': work_root = optarg; break;
		case 'S': state_dir = optarg; break;
		case 'k': check = true; break;
		case 'r': template = optarg; break;
		case 'p': port = optarg; break;
		case 't': runtime = optarg; break;
		case 'W': www = optarg; break;
		case 'a': addr = optarg; break;
		case 'M': metrics_listen = optarg; break;
		case 'A': add_token = true; token_label = optarg; break;
		case 'R': case 'B': case 'C':
			snprintf(word, sizeof word, "%s=%s", c == 'R' ? "rate" :
				 c == 'B' ? "burst" : "concurrency", optarg);
			if (auth_policy_option(&policy, word, err, sizeof err) < 0) {
				fprintf(stderr, "runboxd: --%s\n", err);
				return 2;
			}
			policy_given = true;
			break;
		case 'V': printf("runboxd %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!config || optind != argc || (policy_given && !add_token)) {
		usage(stderr);
		return 2;
	}
	if (policy.burst && !policy.rate_per_s) {
		fprintf(stderr, "runboxd: --burst goes with --rate\n");
		return 2;
	}
	if (config_load(&svc.cfg, config, err, sizeof err) < 0) {
		fprintf(stderr, "runboxd: %s\n", err);
		return 1;
	}
	if (listen_addr) {
		free(svc.cfg.listen);
		svc.cfg.listen = strdup(listen_addr);
	}
	if (group) {
		free(svc.cfg.socket_group);
		svc.cfg.socket_group = strdup(group);
	}
	if (work_root) {
		free(svc.cfg.work_root);
		svc.cfg.work_root = strdup(work_root);
	}
	if (state_dir) {
		free(svc.cfg.jobs_state_dir);
		svc.cfg.jobs_state_dir = strdup(state_dir);
	}
	if ((listen_addr && !svc.cfg.listen) || !svc.cfg.work_root || !svc.cfg.socket_group ||
	    !svc.cfg.jobs_state_dir) {
		fprintf(stderr, "runboxd: out of memory\n");
		return 1;
	}
	if (add_token) {
		char token[64];
		if (!svc.cfg.tokens_file) {
			fprintf(stderr, "runboxd: %s has no auth.tokens_file\n", config);
			return 1;
		}
		if (auth_add_token(svc.cfg.tokens_file, token_label, &policy, token, err,
				   sizeof err) < 0) {
			fprintf(stderr, "runboxd: %s\n", err);
			return 1;
		}
		printf("%s\n", token);
		fprintf(stderr, "runboxd: its SHA-256 was added to %s; the token itself is "
			"not stored anywhere: keep it now.  Restart runboxd to use it.\n",
			svc.cfg.tokens_file);
		return 0;
	}
	if (auth_load(&svc.auth, svc.cfg.tokens_file, err, sizeof err) < 0) {
		fprintf(stderr, "runboxd: %s\n", err);
		return 1;
	}
	if (languages_load(&svc.langs, svc.cfg.languages_file, &svc.cfg, err,
			   sizeof err) < 0) {
		fprintf(stderr, "runboxd: %s\n", err);
		return 1;
	}
	if (template)
		return render(&svc.cfg, template, addr, port, runtime, www, metrics_listen);
	if (check) {
		printf("runboxd: %s and %s are valid (%zu languages)\n", config,
		       svc.cfg.languages_file, svc.langs.n);
		return 0;
	}

	log_open(svc.cfg.log_syslog, svc.cfg.log_json);
	signal(SIGPIPE, SIG_IGN);
	/* Nobody may ptrace runboxd or read its memory through /proc. */
	prctl(PR_SET_DUMPABLE, 0);
	if (geteuid() != 0 && svc.cfg.namespaces && userns_works(&svc.cfg, err, sizeof err)) {
		/* Not root: the same namespaces, owned by a user namespace per
		   run; programs are its uid 0, i.e. runboxd's uid outside,
		   with no capability. */
		svc.cfg.userns = true;
		log_msg(LOG_WARNING, "not root: each run gets its own user namespace (uid 0 "
			"inside is uid %u outside, without capabilities); slots share "
			"that uid, so their separation rests on the namespaces",
			(unsigned)geteuid());
	} else if (geteuid() != 0) {
		if (!svc.cfg.allow_weaker) {
			log_msg(LOG_ERR, "runboxd is not root and cannot make user namespaces (%s): "
				"no uid per slot, no namespaces; refusing to start (set "
				"sandbox.allow_weaker_isolation to accept that)",
				svc.cfg.namespaces ? err : "sandbox.namespaces is false");
			return 1;
		}
		/* Programs then run as runboxd's own uid, without namespaces:
		   rlimits, seccomp and (if delegated) cgroups only. */
		svc.cfg.weaker = true;
		svc.cfg.namespaces = false;
		log_msg(LOG_WARNING, "WEAKER ISOLATION: runboxd is not root: programs run as "
			"uid %u without namespaces (sandbox.allow_weaker_isolation)",
			(unsigned)geteuid());
	}
	/* Root gives each slot its own uid and gid: take them on this host
	   before the first program runs. */
	if (!svc.cfg.weaker && !svc.cfg.userns &&
	    ids_claim(&ids, svc.cfg.uid_base, svc.cfg.gid_base, svc.cfg.slots,
		      svc.cfg.path, err, sizeof err) < 0) {
		log_msg(LOG_ERR, "refusing to start: %s", err);
		return 1;
	}
	if (!(svc.pool = pool_create(svc.cfg.slots)) ||
	    !(svc.metrics = metrics_create()) || !(svc.quota = quota_create())) {
		log_msg(LOG_ERR, "cannot set up: %s", strerror(errno));
		return 1;
	}
	if (setup_slots(&svc) < 0)
		return 1;
	/* Before any worker exists every slot is free: the probes share
	   several. */
	const struct slot *probe_slots[LANGUAGES_PROBE_THREADS];
	size_t nprobe = svc.cfg.slots < LANGUAGES_PROBE_THREADS ? svc.cfg.slots :
			LANGUAGES_PROBE_THREADS;
	for (size_t i = 0; i < nprobe; i++)
		probe_slots[i] = &svc.slots[i];
	if (!(svc.languages_body = languages_body(&svc.langs, &svc.cfg, probe_slots, nprobe,
						  err, sizeof err))) {
		log_msg(LOG_ERR, "%s", err);
		return 1;
	}
	/* A long-lived box per slot where runs have a file system of their
	   own to hand one (as root, with namespaces): made by the master on
	   a worker's first request for the slot, and kept. */
	if (svc.cfg.namespaces && !svc.cfg.userns && !svc.cfg.weaker &&
	    !(svc.boxes = box_keeper_create(svc.metrics))) {
		log_msg(LOG_ERR, "cannot set up the slots' boxes: %s", strerror(errno));
		return 1;
	}
	svc.started = time(NULL);
	svc.isolation_note = isolation;
	svc.reload = reload;

	if (svc.cfg.listen) {
		fd = server_listen(svc.cfg.listen, svc.cfg.socket_group, 128, err, sizeof err);
		if (fd < 0) {
			log_msg(LOG_ERR, "%s", err);
			return 1;
		}
	} else if (server_inherited_socket()) {
		fd = 0;
	} else {
		log_msg(LOG_ERR, "no listen address and fd 0 is not a listening socket");
		return 1;
	}
	int rc = server_run(&svc, fd, svc.cfg.slots + svc.cfg.queue);
	for (unsigned i = 0; i < svc.cfg.slots; i++) {
		slot_close(&svc.slots[i]);
	}
	sbx_cgroup_fini();
	if (svc.cfg.listen && (svc.cfg.listen[0] == '/' || svc.cfg.listen[0] == '.'))
		unlink(svc.cfg.listen);
	ids_release(&ids);
	box_keeper_destroy(svc.boxes);
	pool_destroy(svc.pool);
	metrics_destroy(svc.metrics);
	auth_free(&svc.auth);
	free(svc.languages_body);
	languages_free(&svc.langs);
	config_free(&svc.cfg);
	return rc;
}
