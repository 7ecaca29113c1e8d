/*
 * api.c - routes and handlers of API v1.
 *
 *   POST /api/v1/run        run a program (request.c, execute.c, response.c)
 *   GET  /api/v1/languages  the languages offered
 *   GET  /api/v1/health     service state and the isolation in force
 * Everything else under the API is 404 not_found or 405 method_not_allowed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "service/api.h"
#include "service/jobs.h"
#include "service/judge.h"
#include "service/limits.h"
#include "service/log.h"
#include "service/request.h"
#include "service/response.h"
#include "service/stream.h"
#include "service/utf8.h"

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* The body is kept as a value: the server writes it out as it renders it,
   so no whole copy of a large answer is ever held as text. */
void api_set_json(struct http_response *resp, int status, json_t *body)
{
	resp->status = status;
	json_decref(resp->json);
	resp->json = body;
	if (!body) {
		/* Out of memory while building it: a fixed body still goes out. */
		static const char fallback[] =
			"{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		resp->status = 500;
		resp->body = strdup(fallback);
		resp->body_len = resp->body ? strlen(resp->body) : 0;
	}
}

void api_set_error(struct http_response *resp, int status, const char *code,
		   const char *message)
{
	api_set_json(resp, status, response_error(code, message));
}

#define set_json api_set_json
#define set_error api_set_error

int api_validate_run(struct service *svc, const char *body, size_t len, bool streamed,
		     struct job *job, struct api_error *e)
{
	if (job_parse(job, body, len, &svc->cfg, &svc->langs, e) < 0)
		return -1;
	/* A streamed answer sends the outputs twice: as they come, and in
	   the result event. */
	uint64_t worst = streamed ? response_stream_worst_bytes(job, &svc->cfg)
				  : response_worst_bytes(job, &svc->cfg);
	if (worst <= svc->cfg.max_response_bytes)
		return 0;
	char *m = e->message;
	size_t left = sizeof e->message;
	int n = snprintf(m, left, "the %s could reach %llu bytes (every output at "
			 "its cap, escaped), more than http.max_response_bytes (%llu): "
			 "lower limits.output_bytes (%llu)",
			 streamed ? "streamed answer" : "answer",
			 (unsigned long long)worst,
			 (unsigned long long)svc->cfg.max_response_bytes,
			 (unsigned long long)job->limits.output_bytes);
	if (job->tests && n > 0 && (size_t)n < left)
		n += snprintf(m + n, left - (size_t)n, ", send fewer tests (%zu)",
			      job->ntests);
	if (job->collect && n > 0 && (size_t)n < left) {
		size_t files = 0;
		while (job->collect[files])
			files++;
		snprintf(m + n, left - (size_t)n, ", collect fewer files (%zu, "
			 "up to %llu bytes each)", files,
			 (unsigned long long)svc->cfg.max_collect_bytes);
	}
	e->http = 400;
	e->code = "invalid_request";
	job_free(job);
	return -1;
}

static void handle_run(struct service *svc, const struct http_request *req,
		       struct http_response *resp)
{
	struct api_error e = { 0 };
	struct job job;
	struct job_result res;
	char err[512];
	unsigned index;
	int rc;

	if (req->body_too_large) {
		snprintf(err, sizeof err, "the request body is larger than %llu bytes",
			 (unsigned long long)svc->cfg.max_body_bytes);
		set_error(resp, 413, "payload_too_large", err);
		return;
	}
	/* A streamed answer sends the outputs twice: as they come, and in
	   the result event. */
	bool streamed = req->stream && stream_wanted(req->accept);
	if (api_validate_run(svc, req->body, req->body_len, streamed, &job, &e) < 0) {
		metrics_reject(svc->metrics, REJECT_INVALID);
		set_error(resp, e.http, e.code, e.message);
		return;
	}
	struct timespec w0, w1;
	clock_gettime(CLOCK_MONOTONIC, &w0);
	metrics_waiting(svc->metrics, 1);
	rc = pool_acquire(svc->pool, svc->cfg.queue_timeout_ms, &index);
	metrics_waiting(svc->metrics, -1);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	metrics_queue_wait(svc->metrics, (uint64_t)((w1.tv_sec - w0.tv_sec) * 1000 +
						    (w1.tv_nsec - w0.tv_nsec) / 1000000));
	if (rc != 0) {
		if (rc > 0) {
			metrics_reject(svc->metrics, REJECT_BUSY);
			resp->retry_after = 1;
			set_error(resp, 503, "busy",
				  "every execution slot is busy; retry later");
		} else {
			log_msg(LOG_ERR, "cannot take an execution slot: %s", strerror(errno));
			set_error(resp, 500, "internal", "cannot take an execution slot");
		}
		job_free(&job);
		return;
	}
	resp->used_slot = true;
	resp->slot = index;
	struct job_hooks hooks = { .cancel_fd = req->conn_fd };
	struct run_stream st;
	if (streamed) {
		/* The request is valid and holds a slot: the answer starts. */
		resp->status = 200;
		resp->streamed = true;
		resp->content_type = "application/x-ndjson";
		stream_begin(&st, req->stream, &job, resp);
		hooks.arg = &st;
		hooks.output = stream_output;
		hooks.compiled = stream_compiled;
		hooks.test_done = stream_test;
	}
	rc = job_execute(&job, &svc->cfg, &svc->slots[index], &hooks, &res, err,
			 sizeof err);
	pool_release(svc->pool, index);
	clock_gettime(CLOCK_MONOTONIC, &w0);
	if (rc < 0) {
		metrics_cleanup_failure(svc->metrics);
		log_msg(LOG_ERR, "slot %u: %s", index, err);
		if (streamed) {
			stream_error(&st, "internal", "the service failed to run the program");
			resp->body_len = st.sent;
		} else {
			set_error(resp, 500, "internal", "the service failed to run the program");
		}
		job_free(&job);
		return;
	}
	/* The request's final status, as the answer's "status" says it. */
	struct judge_summary sum;
	judge_conclude(&res, &sum);
	resp->run_status = sum.name;
	if (res.cleanup_failed)
		metrics_cleanup_failure(svc->metrics);
	if (res.cancelled) {
		/* The answer goes nowhere; the slot was given back early. */
		metrics_abandoned_tests(svc->metrics, res.abandoned);
		if (res.tests)
			log_msg(LOG_INFO, "slot %u: cancelled: the client went away; %zu of "
				"%zu tests not run", index, res.abandoned, res.ntests);
		else
			log_msg(LOG_INFO, "slot %u: cancelled: the client went away", index);
	}
	metrics_run(svc->metrics, job.lang ? (int)(job.lang - svc->langs.v) : -1,
		    sum.status, (uint64_t)((w0.tv_sec - w1.tv_sec) * 1000 +
					   (w0.tv_nsec - w1.tv_nsec) / 1000000));
	if (streamed) {
		json_t *result = response_run(&job, &res);
		if (result)
			stream_result(&st, result);
		else
			stream_error(&st, "internal", "out of memory");
		resp->body_len = st.sent;
	} else {
		set_json(resp, 200, response_run(&job, &res));
	}
	job_result_free(&res);
	job_free(&job);
}

static void handle_languages(struct service *svc, struct http_response *resp)
{
	resp->status = 200;
	resp->body = strdup(svc->languages_body);
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	if (!resp->body)
		set_error(resp, 500, "internal", "out of memory");
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (; a && v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* What a run's minimal root shows (sbx_root, root.c): the allow-list, each
   language's additions, and what is made for the run. */
static json_t *root_json(struct service *svc)
{
	json_t *langs = json_object();

	for (size_t i = 0; langs && i < svc->langs.n; i++)
		if (svc->langs.v[i].paths && svc->langs.v[i].paths[0])
			json_object_set_new(langs, svc->langs.v[i].id,
					    strv_json(svc->langs.v[i].paths));
	return json_pack("{s:o, s:o, s:o, s:[sss], s:[ssss], s:b}",
		"bind", strv_json(svc->cfg.root_binds),
		"language_paths", langs,
		"devices", strv_json((char *const *)sbx_root_devices),
		"generated", "/etc/passwd", "/etc/group", "/etc/hosts",
		"private", "/proc", "/tmp", "/dev/shm", "/dev/pts",
		"read_only", 1);
}

/* What every run gets, read off the spec the runs are given
   (slot_isolation), so the description cannot drift from the policy. */
static json_t *isolation_json(struct service *svc)
{
	static const struct { unsigned bit; const char *name; } ns_names[] = {
		{ SBX_NS_PID, "pid" }, { SBX_NS_MNT, "mount" }, { SBX_NS_NET, "network" },
		{ SBX_NS_IPC, "ipc" }, { SBX_NS_UTS, "uts" }, { SBX_NS_MNT, "cgroup" },
		{ SBX_NS_USER, "user" },
	};
	const struct config *c = &svc->cfg;
	struct sbx_spec spec;
	json_t *ns = json_array();

	slot_isolation(&spec, c, NULL, &svc->slots[0]);
	for (size_t i = 0; i < sizeof ns_names / sizeof ns_names[0]; i++)
		if (spec.namespaces & ns_names[i].bit)
			json_array_append_new(ns, json_string(ns_names[i].name));
	/* hidden_paths: nothing is hidden any more, everything is unless
	   allowed (root); kept, empty, for clients that read it. */
	return json_pack("{s:{s:b, s:b, s:I, s:I, s:b}, s:o, s:s, s:b, s:b, s:[], s:i, s:o, s:s, s:b, s:s}",
		"identity", "own_uid_per_slot", spec.set_ids,
		"user_namespace", (spec.namespaces & SBX_NS_USER) != 0,
		"uid_first", (json_int_t)c->uid_base,
		"uid_last", (json_int_t)(c->uid_base + c->slots - 1),
		"no_supplementary_groups", 1,
		"namespaces", ns,
		"resource_control", svc->isolation_note ? svc->isolation_note : "rlimits only",
		"seccomp", spec.seccomp && !sbx_seccomp_status(),
		"no_new_privs", spec.seccomp,
		"hidden_paths",
		"hidden_paths_count", 0,
		"root", spec.namespaces & SBX_NS_MNT ? root_json(svc) : json_null(),
		"network", spec.namespaces & SBX_NS_NET ?
			"loopback only (per-language opt-in)" : "host",
		"weaker", c->weaker,
		"box", svc->boxes ? "one long-lived box per slot: a run is a fork in it" :
			"built for each run");
}

static void handle_health(struct service *svc, struct http_response *resp)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:i, s:{s:o, s:o}, s:o, s:o}",
		"status", "ok",
		"version", PACKAGE_VERSION,
		"host", svc->cfg.host_id,
		"uptime_s", (json_int_t)(time(NULL) - svc->started),
		"slots", (int)pool_size(svc->pool),
		"busy", (int)pool_busy(svc->pool),
		"queue", (int)svc->cfg.queue,
		"limits", "default", limits_to_json(&svc->cfg.default_limits),
		"max", limits_to_json(&svc->cfg.max_limits),
		"isolation", isolation_json(svc),
		"languages_missing", languages_missing_json(&svc->langs));
	if (o)
		json_object_set_new(o, "jobs", jobs_health(svc));
	set_json(resp, 200, o);
}

static void handle_metrics(struct service *svc, struct http_response *resp)
{
	size_t len;
	char *text = metrics_render(svc->metrics, &svc->langs, pool_size(svc->pool),
				    pool_busy(svc->pool), &len);
	if (!text) {
		set_error(resp, 500, "internal", "out of memory");
		return;
	}
	text = jobs_metrics(svc, text, &len);
	if (!text) {
		set_error(resp, 500, "internal", "out of memory");
		return;
	}
	resp->status = 200;
	resp->body = text;
	resp->body_len = len;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static bool is_open(const struct service *svc, const char *path)
{
	for (char **p = svc->cfg.open_paths; p && *p; p++)
		if (!strcmp(*p, path))
			return true;
	return false;
}

/*
 * host[:port] in lower case into out, the scheme's default port left out,
 * so that "Example.org:443" over https and "example.org" compare equal.
 */
static void authority(const char *scheme, const char *hostport, char *out, size_t len)
{
	size_t n = 0;

	for (; hostport[n] && n + 1 < len; n++)
		out[n] = (char)(hostport[n] >= 'A' && hostport[n] <= 'Z' ? hostport[n] + 32
									  : hostport[n]);
	out[n] = '\0';
	const char *dflt = !strcmp(scheme, "https") ? ":443" : ":80";
	if (n > strlen(dflt) && !strcmp(out + n - strlen(dflt), dflt))
		out[n - strlen(dflt)] = '\0';
}

/*
 * CSRF and DNS rebinding: a browser names the page that sent a request in
 * Origin.  A request without one is not a browser's cross-site request
 * (browsers send Origin on every POST and every cross-origin fetch); with
 * one, it must be this service's own origin (the scheme and Host the
 * request came with) or listed in http.cors_origins.
 */
static bool origin_allowed(const struct service *svc, const struct http_request *req,
			   const char **listed)
{
	char own[600], theirs[600];
	const char *o = req->origin ? req->origin : "", *sep;

	*listed = NULL;
	if (!*o)
		return true;
	for (char **c = svc->cfg.cors_origins; c && *c; c++)
		if (!strcasecmp(*c, o)) {
			*listed = *c;
			return true;
		}
	if (!(sep = strstr(o, "://")) || !req->host || !*req->host)
		return false;
	if ((size_t)(sep - o) != strlen(req->scheme) || strncasecmp(o, req->scheme, (size_t)(sep - o)))
		return false;
	authority(req->scheme, sep + 3, theirs, sizeof theirs);
	authority(req->scheme, req->host, own, sizeof own);
	return !strcmp(own, theirs);
}

/* "application/json", any case, with parameters (charset) or without. */
static bool is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof want - 1;

	if (!ct || strncasecmp(ct, want, n))
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return !*ct || *ct == ';';
}

struct route {
	const char *path;
	const char *method;      /* what it takes, as the Allow header says it */
	int id;
	bool prefix;             /* path is a prefix: /api/v1/jobs/{id}... */
	const char *open_as;     /* the auth.open entry that opens it */
};

/* method is one of list's ("GET, DELETE"). */
static bool takes(const char *list, const char *method)
{
	size_t n = strlen(method);
	for (const char *p = list; (p = strstr(p, method)); p += n)
		if ((p == list || p[-1] == ' ') && (!p[n] || p[n] == ','))
			return true;
	return false;
}

void api_handle(struct service *svc, const struct http_request *req,
		struct http_response *resp)
{
	static const struct route routes[] = {
		{ "/api/v1/run", "POST", 0, false, NULL },
		{ "/api/v1/languages", "GET", 1, false, NULL },
		{ "/api/v1/health", "GET", 2, false, NULL },
		{ "/metrics", "GET", 3, false, NULL },
		{ "/api/v1/jobs", "POST", 4, false, "/api/v1/jobs" },
		{ "/api/v1/jobs/", "GET, DELETE", 5, true, "/api/v1/jobs" },
	};
	char msg[256];

	memset(resp, 0, sizeof *resp);
	if (!origin_allowed(svc, req, &resp->cors_origin)) {
		metrics_reject(svc->metrics, REJECT_INVALID);
		utf8_format(msg, sizeof msg, "the Origin header \"%.100s\" is neither this "
			    "service's own (%.10s://%.100s) nor in http.cors_origins",
			    req->origin, req->scheme, req->host ? req->host : "");
		set_error(resp, 403, "forbidden_origin", msg);
		return;
	}
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *r = &routes[i];
		if (r->prefix ? strncmp(req->path, r->path, strlen(r->path)) != 0
			      : strcmp(req->path, r->path) != 0)
			continue;
		bool head = !strcmp(req->method, "HEAD") && takes(r->method, "GET");
		/* CORS preflight (and a plain OPTIONS): what the route takes.
		   Before the token check: a browser sends no credentials here. */
		if (!strcmp(req->method, "OPTIONS")) {
			resp->status = 204;
			resp->allow = r->method;
			resp->preflight = resp->cors_origin != NULL;
			return;
		}
		if (!takes(r->method, req->method) && !head) {
			resp->allow = r->method;
			utf8_format(msg, sizeof msg, "%.200s does not accept %.16s; use %s",
				    req->path, req->method, r->method);
			set_error(resp, 405, "method_not_allowed", msg);
			return;
		}
		/* A body that is not JSON by its Content-Type is refused before
		   it is read as one: text/plain and form posts are what a web
		   page may send anywhere without a CORS preflight. */
		if (!strcmp(req->method, "POST") && !is_json_type(req->content_type)) {
			utf8_format(msg, sizeof msg, "the Content-Type header must be "
				    "application/json, not \"%.100s\"",
				    req->content_type && *req->content_type ?
				    req->content_type : "(none)");
			set_error(resp, 415, "unsupported_media_type", msg);
			return;
		}
		/* Tokens guard every endpoint the config does not open. */
		long tok = svc->auth.enabled ? auth_find(&svc->auth, req->authorization) : -1;
		if (!is_open(svc, r->open_as ? r->open_as : r->path) && svc->auth.enabled &&
		    tok < 0) {
			metrics_reject(svc->metrics, REJECT_UNAUTHORIZED);
			resp->www_authenticate = true;
			set_error(resp, 401, "unauthorized",
				  "a valid token is required: send \"Authorization: Bearer <token>\"");
			return;
		}
		/* A token's own rate and runs in flight (quota.c); anonymous
		   callers are limited by address in nginx. */
		bool counted = false;
		if (tok >= 0) {
			const struct token_policy *p = &svc->auth.policy[tok];
			bool run = r->id == 0;
			enum quota_verdict v = quota_admit(svc->quota, svc->auth.hashes[tok], p,
							   run, &resp->rate);
			if (v != QUOTA_ADMITTED) {
				metrics_reject(svc->metrics, REJECT_RATE);
				resp->retry_after = (unsigned)resp->rate.retry_after_s;
				if (v == QUOTA_RATE)
					snprintf(msg, sizeof msg, "this token's rate is spent (%llu "
						 "requests per second, burst %llu); retry in %u s",
						 (unsigned long long)p->rate_per_s,
						 (unsigned long long)p->burst, resp->retry_after);
				else
					snprintf(msg, sizeof msg, "this token already has %llu runs "
						 "in flight, its maximum; retry when one ends",
						 (unsigned long long)p->concurrency);
				set_error(resp, 429, "rate_limited", msg);
				return;
			}
			counted = run && p->concurrency;
		}
		switch (r->id) {
		case 0:
			handle_run(svc, req, resp);
			if (counted)
				quota_done(svc->quota);
			return;
		case 1: handle_languages(svc, resp); return;
		case 2: handle_health(svc, resp); return;
		case 3: handle_metrics(svc, resp); return;
		case 4:
		case 5: jobs_handle(svc, req, resp, tok); return;
		}
	}
	utf8_format(msg, sizeof msg, "no such endpoint: %.200s", req->path);
	set_error(resp, 404, "not_found", msg);
}

void http_response_free(struct http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	json_decref(resp->json);
	resp->json = NULL;
}
