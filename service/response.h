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
/*
 * The same for a streamed answer: the output events (each output at its
 * cap, escaped, and each event's own bytes, their number bounded by
 * SBX_OUTPUT_DELAY_MS and SBX_OUTPUT_BATCH), the compile and test events,
 * and the result event, which is the whole answer.
 */
uint64_t response_stream_worst_bytes(const struct job *job, const struct config *cfg);
/* The compile step (compiled languages), with its limits. */
json_t *response_compile(const struct job *job, const struct job_result *res);
/* Judge mode: test i's entry in "tests". */
json_t *response_test(const struct job *job, const struct job_result *res, size_t i);
/* {"error": {"code": ..., "message": ...}} */
json_t *response_error(const char *code, const char *message);
/* Output bytes as a JSON string: U+FFFD for invalid UTF-8, or base64. */
json_t *response_bytes(const char *data, size_t len, bool base64);

#endif
