/*
 * api.h - the HTTP API v1, independent of FastCGI: a request (method, path,
 * body) in, a response (status, JSON body) out.
 */
#ifndef RUNBOX_API_H
#define RUNBOX_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "service/auth.h"
#include "service/execute.h"
#include "service/metrics.h"
#include "service/languages.h"
#include "service/pool.h"
#include "service/quota.h"

struct box_keeper;
#include "service/settings.h"

/* What a worker knows: config, languages, slots and their work roots. */
struct service {
	struct config cfg;
	struct languages langs;
	char *languages_body;      /* GET /api/v1/languages, rendered once */
	struct pool *pool;
	struct slot slots[CONFIG_MAX_SLOTS];
	time_t started;
	const char *isolation_note; /* what is in force, for health */
	struct auth auth;
	struct metrics *metrics;    /* shared by all processes */
	struct quota *quota;        /* per-token rates and runs, shared too */
	struct box_keeper *boxes;   /* the master's: the slots' boxes
				       (slotbox.h), or NULL where runs build
				       their own isolation */
	/* Re-read config, languages and tokens (SIGHUP): 0 when the new
	   ones are in force, -1 (logged) when the old ones stay. */
	int (*reload)(struct service *svc);
	struct jobstore *jobs;      /* this process's connection, opened on
				       first use (never across a fork) */
};

struct http_request {
	const char *method;
	const char *path;        /* without the query string */
	const char *query;       /* after "?", or "" */
	const char *body;
	size_t body_len;
	bool body_too_large;     /* more than cfg.max_body_bytes arrived */
	const char *authorization; /* the Authorization header, or NULL */
	const char *content_type;  /* the Content-Type header, or "" */
	const char *origin;        /* the Origin header, or "" */
	const char *host;          /* the Host header, or "" */
	const char *scheme;        /* "http" or "https" as the client used */
	int conn_fd;             /* the connection the answer goes back on
				    (to nginx), or -1 */
	const char *accept;      /* the Accept header, or "" */
	const struct http_stream *stream; /* how to answer in pieces, or NULL */
};

struct http_response;

/* An answer sent while it is made (NDJSON), by the server for the API. */
struct http_stream {
	void *arg;
	/* Send the head of resp (status, content type, CORS and rate
	   headers; no length) now: 0, or -1 when the client is gone. */
	int (*begin)(void *arg, const struct http_response *resp);
	/* Send these body bytes now (flushed): 0, or -1. */
	int (*write)(void *arg, const char *data, size_t len);
};

struct http_response {
	int status;
	json_t *json;            /* the body as a value, rendered while sent */
	char *body;              /* or a malloc'd body as it is */
	size_t body_len;         /* of body; of json once the server sized it */
	const char *content_type; /* NULL: application/json */
	const char *allow;       /* Allow header for 405 and OPTIONS */
	const char *cors_origin; /* a listed origin (http.cors_origins) that
				    asked: Access-Control-Allow-Origin */
	bool preflight;          /* OPTIONS from it: the Allow-* headers */
	bool www_authenticate;   /* 401: say which scheme */
	unsigned retry_after;    /* seconds, for 503 and 429 */
	struct quota_state rate; /* RateLimit-* headers when rate.limited */
	bool streamed;           /* head and body went out through the
				    request's stream; body_len: its bytes */
	const char *run_status;  /* for the log: the run's status word */
	unsigned slot;           /* for the log */
	bool used_slot;
};

struct job;
struct api_error;
/* A /run body (or a job's) parsed and validated into job, its worst-case
   answer checked against http.max_response_bytes: 0, or -1 with e. */
int api_validate_run(struct service *svc, const char *body, size_t len, bool streamed,
		     struct job *job, struct api_error *e);
/* The answer: body (taken), or a {"error": {code, message}}. */
void api_set_json(struct http_response *resp, int status, json_t *body);
void api_set_error(struct http_response *resp, int status, const char *code,
		   const char *message);

void api_handle(struct service *svc, const struct http_request *req,
		struct http_response *resp);
void http_response_free(struct http_response *resp);
const char *http_reason(int status);

#endif
