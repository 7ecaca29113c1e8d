/*
 * response.h - the JSON bodies runboxd sends: run results and errors.
 */
#ifndef RUNBOX_RESPONSE_H
#define RUNBOX_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sandbox/sandbox.h"
#include "service/execute.h"
#include "service/request.h"

/* The body of a 200 answer to POST /api/v1/run; NULL on ENOMEM. */
json_t *response_run(const struct job *job, const struct job_result *res);
/*
 * The largest answer this job can get, whatever its programs write: every
 * output at its cap, and every byte of it a six-byte \u00XX escape (or
 * base64).  Known before the run, so a request that could pass
 * http.max_response_bytes is refused up front.
 */
uint64_t response_worst_bytes(const struct job *job, const struct config *cfg);
/* accepted | wrong_answer | skipped | the run's status */
const char *response_verdict(const struct test_outcome *t);
/* {"error": {"code": ..., "message": ...}} */
json_t *response_error(const char *code, const char *message);
/* Output bytes as a JSON string: U+FFFD for invalid UTF-8, or base64. */
json_t *response_bytes(const char *data, size_t len, bool base64);

#endif
