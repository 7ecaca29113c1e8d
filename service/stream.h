/*
 * stream.h - the streamed answer to POST /api/v1/run (Accept:
 * application/x-ndjson): one JSON object per line, each sent as soon as it
 * exists.  The events are the hooks of job_execute(); the HTTP side is
 * struct http_stream (api.h), so this file knows nothing of FastCGI.
 */
#ifndef RUNBOX_STREAM_H
#define RUNBOX_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "service/api.h"
#include "service/execute.h"
#include "service/request.h"

struct run_stream {
	const struct http_stream *http;
	const struct job *job;
	bool failed;        /* a write failed: the client is gone */
	uint64_t sent;      /* body bytes sent */
	/* utf-8 mode: the start of a character whose end has not been read
	   yet, per stream (stdout, stderr); sent with the next bytes. */
	char carry[2][4];
	size_t ncarry[2];
};

/* true if an Accept header names application/x-ndjson. */
bool stream_wanted(const char *accept);

/* Send the head (200, application/x-ndjson, resp's CORS and rate
   headers): 0, or -1 when the client is gone. */
int stream_begin(struct run_stream *s, const struct http_stream *http,
		 const struct job *job, const struct http_response *resp);

/* The job_execute hooks (arg: the struct run_stream). */
int stream_output(void *arg, int stream, const char *data, size_t len);
int stream_compiled(void *arg, const struct job_result *res);
int stream_test(void *arg, const struct job_result *res, size_t i);

/* The last event: {"event":"result", ...}; takes the reference. */
int stream_result(struct run_stream *s, json_t *result);
/* A failure after the stream started: {"event":"error","error":{...}}. */
int stream_error(struct run_stream *s, const char *code, const char *message);

#endif
