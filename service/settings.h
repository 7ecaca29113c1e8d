/*
 * settings.h - runboxd's configuration: a strict JSON file (unknown keys and
 * bad values are errors naming the key path).
 */
#ifndef RUNBOX_SERVICE_CONFIG_H
#define RUNBOX_SERVICE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

#define CONFIG_MAX_SLOTS 256

struct config {
	char *path;            /* the file it was read from */
	char *listen;          /* "/path/to.sock", "127.0.0.1:9000" or NULL */
	char *socket_group;    /* a unix socket's group: nginx's (mode 0660) */
	unsigned slots;        /* runs at once */
	unsigned queue;        /* requests that may wait for a slot */
	uint64_t queue_timeout_ms; /* how long they wait before 503 busy */
	uint64_t max_body_bytes;
	char *work_root;
	char *languages_file;  /* resolved against the config's directory */
	uid_t uid_base;        /* slot i runs as uid_base + i */
	gid_t gid_base;
	bool namespaces;       /* PID, mount, network, IPC, UTS per run */
	bool allow_weaker;     /* may run without root: no own uid per slot,
				  no namespaces (said at start and in health) */
	bool weaker;           /* in force: not root, no user namespaces */
	bool userns;           /* in force: not root, isolation from a user
				  namespace per run */
	bool seccomp;          /* NO_NEW_PRIVS + the seccomp filter */
	bool cgroups;          /* a cgroup per slot when the host offers one */
	char tmp_size[16];     /* private /tmp and /dev/shm, e.g. "64m" */
	char **root_binds;     /* sandbox.root.bind: what a run's root shows */
	struct sbx_root root;  /* the root of runs: root_binds, ptys */
	struct sbx_limits default_limits;
	struct sbx_limits max_limits;
	char **env;            /* base environment of programs, "NAME=value" */
	bool log_syslog;
	bool log_json;         /* access log as JSON lines */
	char *tokens_file;     /* NULL: no tokens, the API is open */
	char **open_paths;     /* paths that need no token */
	uint64_t rate_per_s;   /* nginx: requests per second per client */
	uint64_t rate_burst;   /* nginx: burst above that */
	uint64_t conns_per_client; /* nginx: connections per client */
	uint64_t max_response_bytes; /* the largest answer a request may get,
					checked against its worst case first */
	uint64_t parse_memory_factor; /* parse budget: bytes per body byte */
	char **server_names;   /* nginx: the Host names answered */
	char **cors_origins;   /* web origins allowed besides the service's own */
	char **trusted_proxies; /* nginx: whose X-Real-IP etc. are believed */
	char *metrics_listen;  /* nginx: ADDRESS:PORT of the /metrics listener */
	uint64_t client_timeout_s; /* nginx: header, body and send timeouts */
	uint64_t max_tests;    /* test cases per request */
	uint64_t max_collect_files;
	uint64_t max_collect_bytes; /* per collected file */
	uint64_t max_total_wall_ms; /* compile + every run of a request, at
				       their wall limits */
	uint64_t max_files;    /* "files" of a request */
	uint64_t max_file_depth; /* folders in a file's name ("pkg/x.py": 1) */
	uint64_t max_compile_options; /* "compile_options" of a request */
	uint64_t max_compile_option_bytes; /* each */
	char host_id[64];      /* names this host in X-Runbox-Host and health,
				  and prefixes its job ids */
	/* jobs: runs submitted now and collected later (jobs.c, runner.c) */
	char *jobs_state_dir;  /* the SQLite store's directory */
	uint64_t jobs_runners; /* runner processes: jobs running at once */
	uint64_t jobs_max_batch; /* bodies in one {"batch": [...]} */
	uint64_t jobs_max_queued; /* queued jobs in all */
	uint64_t jobs_max_queued_per_token;
	uint64_t jobs_ttl_s;   /* a finished job's result is kept this long */
	uint64_t jobs_max_bytes; /* results and events kept, in all */
	uint64_t jobs_max_wait_s; /* GET ...?wait=S at most */
	char **jobs_callback_allow; /* URL prefixes callback_url may start with */
	uint64_t jobs_callback_attempts;
	uint64_t jobs_callback_timeout_ms;
};

/* A path sandbox.root.bind or a language's "paths" may hold: 0, or -1
   with a sentence naming key. */
int config_check_root_path(const char *p, const char *key, char *err, size_t errlen);
/* Read and validate path into *cfg; -1 with "file: key: reason" in err. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);
void config_free(struct config *cfg);
/*
 * The longest a request may keep its connection, in ms: the wait for a
 * slot, every step at its wall limit, and a margin.  nginx's FastCGI
 * timeouts and the master's grace at stop are derived from it.
 */
uint64_t config_request_ms(const struct config *cfg);

#endif
