/*
 * jobs.c - the jobs API (see jobs.h): validation and submission, a job's
 * state and result, its events, cancellation.
 *
 * A job's body is validated exactly as POST /api/v1/run validates one
 * (api_validate_run) before anything is stored; a batch is stored all or
 * none.  Only the validated body is kept: the runner parses it again when
 * the job starts (a reload in between may refuse it then, and the job
 * ends with that error).
 *
 * Who sees a job: the token that made it (its SHA-256 is the row's owner),
 * or, for a job made without a token, whoever holds its id (128 random
 * bits).  Another token's job answers 404 exactly as a job that never
 * existed, so ids cannot be probed.
 *
 * ?wait=S and the events stream poll the store every POLL_MS: the worker
 * is held meanwhile (jobs.max_wait_s bounds it), and a client that goes
 * away lets it go at the next poll.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/callback.h"
#include "service/jobs.h"
#include "service/jobstore.h"
#include "service/jsonmem.h"
#include "service/log.h"
#include "service/request.h"
#include "service/response.h"
#include "service/utf8.h"

#define POLL_MS 25

struct jobstore *jobs_store(struct service *svc)
{
	char err[512];

	if (!svc->jobs && !(svc->jobs = jobstore_open(svc->cfg.jobs_state_dir, err, sizeof err)))
		log_msg(LOG_ERR, "%s", err);
	return svc->jobs;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The client hung up (nginx closed the FastCGI connection). */
static bool client_gone(const struct http_request *req)
{
	struct pollfd p = { .fd = req->conn_fd, .events = POLLRDHUP };
	if (req->conn_fd < 0)
		return false;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static json_t *time_json(int64_t ms)
{
	char buf[40];
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	if (!ms || !gmtime_r(&t, &tm))
		return json_null();
	size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)(ms % 1000));
	return json_string(buf);
}

const char *jobs_callback_refusal(const struct config *cfg, const char *url)
{
	if (strpbrk(url, " \t\r\n\\") || strchr(url, '#'))
		return "must not hold white space, a backslash or a fragment";
	/* Dot segments would be resolved by the client, out of the prefix. */
	if (strstr(url, "/.") || strcasestr(url, "%2e") || strcasestr(url, "%2f"))
		return "must not hold \"/.\" segments or encoded dots and slashes";
	for (char **p = cfg->jobs_callback_allow; p && *p; p++)
		if (!strncmp(url, *p, strlen(*p)))
			return NULL;
	return cfg->jobs_callback_allow && cfg->jobs_callback_allow[0]
		? "does not start with any of jobs.callback_allow's prefixes"
		: "is refused: jobs.callback_allow is empty on this service";
}

/* ---- POST /api/v1/jobs ---------------------------------------------- */

struct batch {
	struct job_new *v;
	size_t n;
};

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].body);
	free(b->v);
}

/*
 * One body of the submission (the whole request, or batch[i]): its
 * callback_url taken out and checked, the rest validated as a /run body
 * and kept as compact JSON.  0, or -1 with e (prefixed with where).
 */
static int take_body(struct service *svc, json_t *body, const char *where, long tok,
		     struct job_new *out, struct api_error *e)
{
	json_t *cb;
	struct job job;
	struct api_error inner = { 0 };

	memset(out, 0, sizeof *out);
	if (!json_is_object(body)) {
		e->http = 400;
		e->code = "invalid_request";
		snprintf(e->message, sizeof e->message, "%s%sthe body must be a JSON object",
			 where, *where ? ": " : "");
		return -1;
	}
	if ((cb = json_object_get(body, "callback_url"))) {
		const char *why = NULL;
		if (!json_is_string(cb))
			why = "must be a string";
		else if (json_string_length(cb) > 2000)
			why = "is longer than 2000 bytes";
		else if (tok < 0)
			why = "needs a token: the callback is signed with a key derived from "
			      "the caller's token";
		else
			why = jobs_callback_refusal(&svc->cfg, json_string_value(cb));
		if (why) {
			e->http = 400;
			e->code = "invalid_request";
			utf8_format(e->message, sizeof e->message, "%s%scallback_url %s",
				    where, *where ? ": " : "", why);
			return -1;
		}
		out->callback_url = json_string_value(cb);
	}
	/* The run's own fields, as POST /api/v1/run takes them. */
	json_t *run = json_copy(body);
	if (!run)
		goto nomem;
	json_object_del(run, "callback_url");
	out->body = jsonmem_dumps(run, JSON_COMPACT);
	json_decref(run);
	if (!out->body)
		goto nomem;
	out->len = strlen(out->body);
	if (api_validate_run(svc, out->body, out->len, false, &job, &inner) < 0) {
		*e = inner;
		e->code = inner.code;
		if (*where)
			snprintf(e->message, sizeof e->message, "%s: %.480s", where,
				 inner.message);
		free(out->body);
		out->body = NULL;
		return -1;
	}
	job_free(&job);
	return 0;
nomem:
	e->http = 500;
	e->code = "internal";
	snprintf(e->message, sizeof e->message, "out of memory");
	return -1;
}

/* The bodies of the submission; 0 and *b, or -1 with e. */
static int parse_submission(struct service *svc, const struct http_request *req, long tok,
			    struct batch *b, json_t **rootp, struct api_error *e)
{
	json_error_t jerr;
	json_t *root, *list;
	size_t budget = (size_t)svc->cfg.parse_memory_factor * req->body_len + (1u << 20);

	memset(b, 0, sizeof *b);
	jsonmem_budget_begin(budget);
	root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
			  JSON_DECODE_ANY, &jerr);
	bool over = jsonmem_budget_end();
	*rootp = root;
	if (!root) {
		e->http = over ? 413 : 400;
		e->code = over ? "payload_too_large" : "invalid_json";
		if (over)
			snprintf(e->message, sizeof e->message, "the body holds too many values: "
				 "parsing it would take more than %zu bytes of memory "
				 "(http.parse_memory_factor %llu per body byte, plus 1 MiB)",
				 budget, (unsigned long long)svc->cfg.parse_memory_factor);
		else
			utf8_format(e->message, sizeof e->message, "the body is not valid JSON: "
				    "%s (at line %d, column %d)", jerr.text, jerr.line,
				    jerr.column);
		return -1;
	}
	list = json_is_object(root) ? json_object_get(root, "batch") : NULL;
	if (!list) {
		if (!(b->v = calloc(1, sizeof *b->v)))
			goto nomem;
		if (take_body(svc, root, "", tok, &b->v[0], e) < 0)
			return -1;
		b->n = 1;
		return 0;
	}
	e->http = 400;
	e->code = "invalid_request";
	if (json_object_size(root) != 1) {
		snprintf(e->message, sizeof e->message, "a batch is {\"batch\": [body, ...]} "
			 "and nothing else; put callback_url in each body");
		return -1;
	}
	if (!json_is_array(list) || !json_array_size(list)) {
		snprintf(e->message, sizeof e->message, "batch must be a non-empty array of "
			 "/run bodies");
		return -1;
	}
	if (json_array_size(list) > svc->cfg.jobs_max_batch) {
		snprintf(e->message, sizeof e->message, "batch holds %zu bodies, more than "
			 "jobs.max_batch (%llu)", json_array_size(list),
			 (unsigned long long)svc->cfg.jobs_max_batch);
		return -1;
	}
	if (!(b->v = calloc(json_array_size(list), sizeof *b->v)))
		goto nomem;
	for (size_t i = 0; i < json_array_size(list); i++) {
		char where[32];
		snprintf(where, sizeof where, "batch[%zu]", i);
		if (take_body(svc, json_array_get(list, i), where, tok, &b->v[i], e) < 0)
			return -1;
		b->n = i + 1;
	}
	return 0;
nomem:
	e->http = 500;
	e->code = "internal";
	snprintf(e->message, sizeof e->message, "out of memory");
	return -1;
}

static void owner_hex(struct service *svc, long tok, char out[JOB_OWNER_HEX])
{
	out[0] = '\0';
	if (tok >= 0)
		sodium_bin2hex(out, JOB_OWNER_HEX, svc->auth.hashes[tok], SHA256_LEN);
}

static void submit(struct service *svc, const struct http_request *req,
		   struct http_response *resp, long tok)
{
	struct api_error e = { 0 };
	struct batch b;
	json_t *root = NULL;
	char owner[JOB_OWNER_HEX], err[512];
	uint8_t server[CALLBACK_KEY_BYTES], *sealed = NULL;
	struct jobstore *js;

	if (req->body_too_large) {
		snprintf(err, sizeof err, "the request body is larger than %llu bytes",
			 (unsigned long long)svc->cfg.max_body_bytes);
		api_set_error(resp, 413, "payload_too_large", err);
		return;
	}
	if (parse_submission(svc, req, tok, &b, &root, &e) < 0) {
		metrics_reject(svc->metrics, REJECT_INVALID);
		api_set_error(resp, e.http, e.code, e.message);
		goto out;
	}
	if (!(js = jobs_store(svc))) {
		api_set_error(resp, 500, "internal", "the job store cannot be opened");
		goto out;
	}
	owner_hex(svc, tok, owner);
	/* The queue's bounds: per token (429, as its other limits), and in
	   all (503, the service is full). */
	int64_t mine = tok >= 0 ? jobstore_queued(js, owner) : 0;
	int64_t all = jobstore_queued(js, NULL);
	if (mine < 0 || all < 0) {
		api_set_error(resp, 500, "internal", "the job store cannot be read");
		goto out;
	}
	if (tok >= 0 && (uint64_t)mine + b.n > svc->cfg.jobs_max_queued_per_token) {
		uint64_t max = svc->cfg.jobs_max_queued_per_token;
		metrics_reject(svc->metrics, REJECT_RATE);
		resp->retry_after = 1;
		resp->rate.limited = true;
		resp->rate.limit = max;
		resp->rate.remaining = (uint64_t)mine < max ? max - (uint64_t)mine : 0;
		resp->rate.reset_s = 1;
		snprintf(err, sizeof err, "this token has %lld jobs queued; %zu more would pass "
			 "jobs.max_queued_per_token (%llu): retry when some have started",
			 (long long)mine, b.n, (unsigned long long)max);
		api_set_error(resp, 429, "rate_limited", err);
		goto out;
	}
	if ((uint64_t)all + b.n > svc->cfg.jobs_max_queued) {
		metrics_reject(svc->metrics, REJECT_BUSY);
		resp->retry_after = 1;
		snprintf(err, sizeof err, "the job queue is full (jobs.max_queued, %llu); "
			 "retry later", (unsigned long long)svc->cfg.jobs_max_queued);
		api_set_error(resp, 503, "busy", err);
		goto out;
	}
	for (size_t i = 0; i < b.n; i++) {
		if (!b.v[i].callback_url)
			continue;
		if (!sealed) {
			if (!(sealed = calloc(b.n, JOB_SEALED_KEY)) ||
			    callback_server_key(svc->cfg.jobs_state_dir, server, err,
						sizeof err) < 0) {
				log_msg(LOG_ERR, "%s", sealed ? err : "out of memory");
				api_set_error(resp, 500, "internal", "callbacks cannot be signed");
				goto out;
			}
		}
		/* take_body refused callback_url without a token. */
		if (callback_seal_key(req->authorization, server,
				      sealed + i * JOB_SEALED_KEY) < 0) {
			api_set_error(resp, 400, "invalid_request", "callback_url needs a token");
			goto out;
		}
		b.v[i].sealed_key = sealed + i * JOB_SEALED_KEY;
	}
	if (jobstore_submit(js, svc->cfg.host_id, tok >= 0 ? owner : NULL, b.v, b.n, err,
			    sizeof err) < 0) {
		log_msg(LOG_ERR, "%s", err);
		api_set_error(resp, 500, "internal", "the job could not be stored");
		goto out;
	}
	json_t *created = time_json(jobstore_now_ms());
	json_t *list = json_array();
	for (size_t i = 0; list && i < b.n; i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:O}", "id", b.v[i].id,
						      "state", "queued", "created_at", created));
	if (!json_object_get(root, "batch"))
		api_set_json(resp, 202, json_incref(json_array_get(list, 0)));
	else
		api_set_json(resp, 202, json_pack("{s:O}", "jobs", list));
	json_decref(list);
	json_decref(created);
out:
	sodium_memzero(server, sizeof server);
	free(sealed);
	batch_free(&b);
	json_decref(root);
}

/* ---- GET / DELETE /api/v1/jobs/{id}[/events] ------------------------ */

static bool finished(const char *state)
{
	return strcmp(state, "queued") && strcmp(state, "running");
}

json_t *jobs_row_json(const struct job_row *row)
{
	json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o}", "id", row->id,
			      "state", row->state,
			      "created_at", time_json(row->created_ms),
			      "started_at", time_json(row->started_ms),
			      "finished_at", time_json(row->finished_ms));
	if (!o)
		return NULL;
	if (row->result) {
		json_t *r = json_loads(row->result, JSON_ALLOW_NUL, NULL);
		json_object_set_new(o, "result", r ? r : json_null());
	} else {
		json_object_set_new(o, "result", json_null());
	}
	if (row->error_code)
		json_object_set_new(o, "error", json_pack("{s:s, s:s?}", "code", row->error_code,
							  "message", row->error_message));
	if (!strcmp(row->state, "expired"))
		json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", "expired",
			"message", "the result was removed: it was kept jobs.ttl_s seconds "
			"(or the store was past jobs.max_bytes)"));
	if (row->cb_state[0])
		json_object_set_new(o, "callback", json_pack("{s:s, s:i, s:s?}",
			"state", row->cb_state, "attempts", (int)row->cb_attempts,
			"error", row->cb_error));
	return o;
}

/*
 * The id from /api/v1/jobs/{id}[/events], checked: "<host_id>-<32 hex>".
 * 0 with the id in out and *events; else the error is set in resp.
 */
static int parse_id(struct service *svc, const char *path, char out[JOB_ID_MAX],
		    bool *events, struct http_response *resp)
{
	const char *id = path + strlen("/api/v1/jobs/");
	size_t n = strcspn(id, "/");
	char msg[400];

	*events = false;
	if (id[n]) {
		if (strcmp(id + n, "/events") != 0) {
			utf8_format(msg, sizeof msg, "no such endpoint: %.200s (a job has "
				    "/api/v1/jobs/{id} and /api/v1/jobs/{id}/events)", path);
			api_set_error(resp, 404, "not_found", msg);
			return -1;
		}
		*events = true;
	}
	const char *dash = n > JOB_ID_RANDOM ? id + n - JOB_ID_RANDOM - 1 : NULL;
	if (!n || n >= JOB_ID_MAX || !dash || *dash != '-' || dash == id ||
	    strspn(dash + 1, "0123456789abcdef") < JOB_ID_RANDOM ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") < n) {
		utf8_format(msg, sizeof msg, "\"%.*s\" is not a job id (HOST-ID, then \"-\" "
			    "and %d lower-case hex digits)", (int)(n > 100 ? 100 : n), id,
			    JOB_ID_RANDOM);
		api_set_error(resp, 400, "invalid_job_id", msg);
		return -1;
	}
	if ((size_t)(dash - id) != strlen(svc->cfg.host_id) ||
	    strncmp(id, svc->cfg.host_id, (size_t)(dash - id))) {
		utf8_format(msg, sizeof msg, "job %.*s belongs to host \"%.*s\", not to this "
			    "one (\"%s\")", (int)n, id, (int)(dash - id), id, svc->cfg.host_id);
		api_set_error(resp, 404, "job_not_found", msg);
		return -1;
	}
	memcpy(out, id, n);
	out[n] = '\0';
	return 0;
}

/* The caller's job: 0 with *row; else the answer is set. */
static int find(struct service *svc, struct jobstore *js, const char *id, long tok,
		struct job_row *row, struct http_response *resp)
{
	char owner[JOB_OWNER_HEX], err[512], msg[300];
	int rc = jobstore_get(js, id, row, err, sizeof err);

	if (rc < 0) {
		log_msg(LOG_ERR, "%s", err);
		api_set_error(resp, 500, "internal", "the job store cannot be read");
		return -1;
	}
	owner_hex(svc, tok, owner);
	if (rc == 0 && *row->owner && strcmp(row->owner, owner)) {
		job_row_free(row);
		rc = 1;
	}
	if (rc == 1) {
		snprintf(msg, sizeof msg, "no job %s here (never made, deleted after it "
			 "expired, or made with another token)", id);
		api_set_error(resp, 404, "job_not_found", msg);
		return -1;
	}
	return 0;
}

/* ?wait=S: -1 absent, else S; -2 with the error set. */
static long wait_param(struct service *svc, const char *query, struct http_response *resp)
{
	char msg[300];

	for (const char *p = query; p && *p; p += strcspn(p, "&"), p += *p == '&') {
		if (strncmp(p, "wait=", 5))
			continue;
		char *end;
		const char *v = p + 5;
		errno = 0;
		unsigned long s = strtoul(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || (*end && *end != '&') || errno ||
		    s > svc->cfg.jobs_max_wait_s) {
			utf8_format(msg, sizeof msg, "wait must be a whole number of seconds from 0 "
				    "to %llu (jobs.max_wait_s), not \"%.*s\"",
				    (unsigned long long)svc->cfg.jobs_max_wait_s,
				    (int)strcspn(v, "&") > 40 ? 40 : (int)strcspn(v, "&"), v);
			api_set_error(resp, 400, "invalid_request", msg);
			return -2;
		}
		return (long)s;
	}
	return -1;
}

struct event_out {
	const struct http_request *req;
	int64_t next;
	bool failed;
};

static int put_event(const char *line, size_t len, void *arg)
{
	struct event_out *o = arg;
	if (o->req->stream->write(o->req->stream->arg, line, len) < 0) {
		o->failed = true;
		return -1;
	}
	o->next++;
	return 0;
}

/* The job's events from the first, as they are stored, until its last. */
static void stream_events(struct service *svc, struct jobstore *js, const char *id,
			  long tok, struct job_row *row, const struct http_request *req,
			  struct http_response *resp)
{
	struct event_out o = { .req = req };

	if (!req->stream) {
		api_set_error(resp, 500, "internal", "this server cannot stream");
		return;
	}
	if (!strcmp(row->state, "expired")) {
		api_set_error(resp, 410, "expired", "the job's events were removed with its "
			      "result (jobs.ttl_s)");
		return;
	}
	resp->status = 200;
	resp->content_type = "application/x-ndjson";
	resp->streamed = true;
	if (req->stream->begin(req->stream->arg, resp) < 0)
		return;
	for (;;) {
		bool done = finished(row->state);
		int n = jobstore_events(js, row->seq, o.next, 256, put_event, &o);
		if (o.failed || n < 0)
			break;
		if (n > 0)
			continue;
		if (done || client_gone(req))
			break;
		sleep_ms(POLL_MS);
		job_row_free(row);
		if (find(svc, js, id, tok, row, resp) < 0)
			break;
	}
	resp->body_len = 0;
}

static void show(struct service *svc, struct jobstore *js, const char *id, long tok,
		 const struct http_request *req, struct http_response *resp)
{
	struct job_row row;
	long wait = wait_param(svc, req->query, resp);

	if (wait == -2 || find(svc, js, id, tok, &row, resp) < 0)
		return;
	if (wait > 0) {
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			if (finished(row.state) || client_gone(req))
				break;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >=
			    wait * 1000)
				break;
			sleep_ms(POLL_MS);
			job_row_free(&row);
			if (find(svc, js, id, tok, &row, resp) < 0)
				return;
		}
	}
	api_set_json(resp, 200, jobs_row_json(&row));
	job_row_free(&row);
}

/* Cancel; a running job's answer waits (a little) for its runner to stop it. */
static void cancel(struct service *svc, struct jobstore *js, const char *id, long tok,
		   struct http_response *resp)
{
	struct job_row row;
	char err[512], msg[300];

	if (find(svc, js, id, tok, &row, resp) < 0)
		return;
	int rc = jobstore_cancel(js, row.seq, err, sizeof err);
	if (rc < 0) {
		log_msg(LOG_ERR, "%s", err);
		api_set_error(resp, 500, "internal", "the job store cannot be written");
		job_row_free(&row);
		return;
	}
	if (rc == 1) {
		snprintf(msg, sizeof msg, "job %s has already ended (%s): there is nothing to "
			 "cancel", id, row.state);
		api_set_error(resp, 409, "job_finished", msg);
		job_row_free(&row);
		return;
	}
	/* The runner looks for the flag every 100 ms and kills the run. */
	for (int i = 0; i < 5000 / POLL_MS; i++) {
		job_row_free(&row);
		if (find(svc, js, id, tok, &row, resp) < 0)
			return;
		if (finished(row.state))
			break;
		sleep_ms(POLL_MS);
	}
	api_set_json(resp, 200, jobs_row_json(&row));
	job_row_free(&row);
}

void jobs_handle(struct service *svc, const struct http_request *req,
		 struct http_response *resp, long tok)
{
	char id[JOB_ID_MAX];
	bool events;
	struct jobstore *js;

	/* A token that is not valid is refused even where anonymous callers
	   are let in: its jobs would silently be anyone's. */
	if (svc->auth.enabled && tok < 0 && req->authorization) {
		resp->www_authenticate = true;
		api_set_error(resp, 401, "unauthorized", "the token is not valid: send a valid "
			      "\"Authorization: Bearer <token>\", or none for an anonymous job");
		return;
	}
	if (!strcmp(req->path, "/api/v1/jobs")) {
		submit(svc, req, resp, tok);
		return;
	}
	if (parse_id(svc, req->path, id, &events, resp) < 0)
		return;
	if (events && strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		resp->allow = "GET";
		api_set_error(resp, 405, "method_not_allowed",
			      "a job's events take GET only");
		return;
	}
	if (!(js = jobs_store(svc))) {
		api_set_error(resp, 500, "internal", "the job store cannot be opened");
		return;
	}
	if (!strcmp(req->method, "DELETE")) {
		cancel(svc, js, id, tok, resp);
	} else if (events) {
		struct job_row row;
		if (find(svc, js, id, tok, &row, resp) == 0) {
			stream_events(svc, js, id, tok, &row, req, resp);
			job_row_free(&row);
		}
	} else {
		show(svc, js, id, tok, req, resp);
	}
}

/* ---- /health and /metrics ------------------------------------------- */

json_t *jobs_health(struct service *svc)
{
	struct job_stats st;
	struct jobstore *js = jobs_store(svc);

	if (!js || jobstore_stats(js, &st) < 0)
		return json_pack("{s:s}", "error", "the job store cannot be read");
	int64_t age = st.oldest_queued_ms ? jobstore_now_ms() - st.oldest_queued_ms : 0;
	return json_pack("{s:I, s:I, s:I, s:f, s:I, s:I}",
			 "queued", (json_int_t)st.queued, "running", (json_int_t)st.running,
			 "finished", (json_int_t)st.finished,
			 "oldest_queued_s", age > 0 ? (double)age / 1000.0 : 0.0,
			 "runners", (json_int_t)svc->cfg.jobs_runners,
			 "stored_bytes", (json_int_t)st.bytes);
}

char *jobs_metrics(struct service *svc, char *text, size_t *len)
{
	struct job_stats st;
	struct jobstore *js = jobs_store(svc);
	char *add = NULL;

	if (!js || jobstore_stats(js, &st) < 0)
		return text; /* the rest of the metrics still go out */
	int64_t age = st.oldest_queued_ms ? jobstore_now_ms() - st.oldest_queued_ms : 0;
	int n = asprintf(&add,
		"# HELP runbox_jobs Jobs in the store by state.\n# TYPE runbox_jobs gauge\n"
		"runbox_jobs{state=\"queued\"} %llu\nrunbox_jobs{state=\"running\"} %llu\n"
		"runbox_jobs{state=\"finished\"} %llu\nrunbox_jobs{state=\"expired\"} %llu\n"
		"# HELP runbox_jobs_oldest_queued_seconds Age of the oldest queued job.\n"
		"# TYPE runbox_jobs_oldest_queued_seconds gauge\n"
		"runbox_jobs_oldest_queued_seconds %.3f\n"
		"# HELP runbox_jobs_stored_bytes Results and events kept.\n"
		"# TYPE runbox_jobs_stored_bytes gauge\nrunbox_jobs_stored_bytes %llu\n",
		(unsigned long long)st.queued, (unsigned long long)st.running,
		(unsigned long long)st.finished, (unsigned long long)st.expired,
		age > 0 ? (double)age / 1000.0 : 0.0, (unsigned long long)st.bytes);
	if (n < 0)
		return text;
	char *p = realloc(text, *len + (size_t)n + 1);
	if (!p) {
		free(add);
		return text;
	}
	memcpy(p + *len, add, (size_t)n + 1);
	*len += (size_t)n;
	free(add);
	return p;
}
