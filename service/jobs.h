/*
 * jobs.h - the jobs API: submit now, collect later (docs/API.md, "Jobs").
 *
 *   POST   /api/v1/jobs               one /run body, or {"batch": [...]}
 *   GET    /api/v1/jobs/{id}[?wait=S] state, timestamps, result
 *   GET    /api/v1/jobs/{id}/events   the job's NDJSON events
 *   DELETE /api/v1/jobs/{id}          cancel
 *
 * The requests are answered here, from the store (jobstore.c); the jobs
 * are run by the runner processes (runner.c).
 */
#ifndef RUNBOX_JOBS_H
#define RUNBOX_JOBS_H

#include <jansson.h>
#include <stddef.h>

#include "service/api.h"

/* tok: the caller's token index, or -1 (anonymous). */
void jobs_handle(struct service *svc, const struct http_request *req,
		 struct http_response *resp, long tok);
struct job_row;
/* A job as GET /api/v1/jobs/{id} shows it (and its callback sends it). */
json_t *jobs_row_json(const struct job_row *row);
/* The queue, for /health. */
json_t *jobs_health(struct service *svc);
/* text (len bytes, malloc'd) with the jobs' metrics added: the new text,
   or NULL (text freed). */
char *jobs_metrics(struct service *svc, char *text, size_t *len);
/* This process's store connection, opened on first use; NULL (logged). */
struct jobstore *jobs_store(struct service *svc);
/* callback_url against jobs.callback_allow: NULL when allowed, else why. */
const char *jobs_callback_refusal(const struct config *cfg, const char *url);

#endif
