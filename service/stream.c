/*
 * stream.c - the NDJSON answer: events built from the same JSON as the
 * whole answer (response.c), one compact object and "\n" each, written and
 * flushed at once.
 *
 * Output events carry the program's bytes as job_execute's output hook
 * gets them (at most SBX_OUTPUT_DELAY_MS late, never past output_bytes).
 * In utf-8 mode a chunk that ends inside a character keeps that
 * character's start for the next chunk (carry), so no event splits one;
 * what is left at the end of a run goes out before its test or result
 * event, where the sanitizer turns it into U+FFFD as the answer does.  So
 * the events' data, joined, is exactly the result's stdout and stderr.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "service/base64.h"
#include "service/response.h"
#include "service/stream.h"
#include "service/utf8.h"

bool stream_wanted(const char *accept)
{
	static const char want[] = "application/x-ndjson";

	for (const char *p = accept; p && *p;) {
		p += strspn(p, " \t,");
		size_t n = strcspn(p, ",; \t");
		if (n == sizeof want - 1 && !strncasecmp(p, want, n))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static int send_bytes(struct run_stream *s, const char *data, size_t len)
{
	if (s->failed)
		return -1;
	if (s->http->write(s->http->arg, data, len) < 0) {
		s->failed = true;
		return -1;
	}
	s->sent += len;
	return 0;
}

/* {"event": name, ...body's members} and a newline; body is taken. */
static int send_event(struct run_stream *s, const char *name, json_t *body)
{
	json_t *o = json_pack("{s:s}", "event", name);
	char *text = NULL;
	size_t n = 0;
	int rc = -1;

	/* json_dumpb into our own buffer: json_dumps' memory would belong to
	   jansson's allocator (jsonmem.c). */
	if (o && body && json_object_update(o, body) == 0 &&
	    (n = json_dumpb(o, NULL, 0, JSON_COMPACT)) > 0 && (text = malloc(n + 1)) &&
	    json_dumpb(o, text, n, JSON_COMPACT) != n) {
		free(text);
		text = NULL;
	}
	json_decref(o);
	json_decref(body);
	if (!text) {
		/* Out of memory: the stream ends with a fixed error line. */
		static const char oom[] = "{\"event\":\"error\",\"error\":{\"code\":"
					  "\"internal\",\"message\":\"out of memory\"}}\n";
		send_bytes(s, oom, sizeof oom - 1);
		s->failed = true;
		return -1;
	}
	text[n] = '\n'; /* the line goes out in one write */
	rc = send_bytes(s, text, n + 1);
	free(text);
	return rc;
}

int stream_begin(struct run_stream *s, const struct http_stream *http,
		 const struct job *job, const struct http_response *resp)
{
	memset(s, 0, sizeof *s);
	s->http = http;
	s->job = job;
	if (http->begin(http->arg, resp) < 0) {
		s->failed = true;
		return -1;
	}
	return 0;
}

/* Where a chunk may end without cutting a character: before the last
   lead byte when the sequence it starts is not complete. */
static size_t whole_chars(const char *p, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = (unsigned char)p[len - back];
		if ((c & 0xC0) == 0x80)
			continue; /* a continuation byte: look further back */
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		return need > back ? len - back : len;
	}
	return len;
}

static int send_data(struct run_stream *s, int which, const char *data, size_t len)
{
	json_t *d = response_bytes(data, len, s->job->base64);
	if (!d)
		return send_event(s, "error", NULL);
	return send_event(s, which == 1 ? "stdout" : "stderr", json_pack("{s:o}", "data", d));
}

int stream_output(void *arg, int stream, const char *data, size_t len)
{
	struct run_stream *s = arg;
	int i = stream == 2 ? 1 : 0;

	if (s->failed)
		return -1;
	if (s->job->base64)
		return len ? send_data(s, stream, data, len) : 0;
	char *buf = malloc(s->ncarry[i] + len);
	if (!buf)
		return send_event(s, "error", NULL);
	memcpy(buf, s->carry[i], s->ncarry[i]);
	memcpy(buf + s->ncarry[i], data, len);
	size_t all = s->ncarry[i] + len, whole = whole_chars(buf, all);
	s->ncarry[i] = all - whole;
	memcpy(s->carry[i], buf + whole, s->ncarry[i]);
	int rc = whole ? send_data(s, stream, buf, whole) : 0;
	free(buf);
	return rc;
}

/* A run ended: what it left of a character goes out now. */
static int flush_carry(struct run_stream *s)
{
	for (int i = 0; i < 2; i++)
		if (s->ncarry[i]) {
			size_t n = s->ncarry[i];
			s->ncarry[i] = 0;
			if (send_data(s, i + 1, s->carry[i], n) < 0)
				return -1;
		}
	return 0;
}

int stream_compiled(void *arg, const struct job_result *res)
{
	struct run_stream *s = arg;
	return send_event(s, "compile", response_compile(s->job, res));
}

int stream_test(void *arg, const struct job_result *res, size_t i)
{
	struct run_stream *s = arg;
	json_t *o = response_test(s->job, res, i);

	json_t *entry = json_pack("{s:I}", "index", (json_int_t)i);

	if (flush_carry(s) < 0) {
		json_decref(o);
		json_decref(entry);
		return -1;
	}
	/* "index" first, then the entry as "tests" holds it. */
	if (entry && (!o || json_object_update(entry, o) < 0)) {
		json_decref(entry);
		entry = NULL;
	}
	json_decref(o);
	return send_event(s, "test", entry);
}

int stream_result(struct run_stream *s, json_t *result)
{
	if (flush_carry(s) < 0) {
		json_decref(result);
		return -1;
	}
	return send_event(s, "result", result);
}

int stream_error(struct run_stream *s, const char *code, const char *message)
{
	return send_event(s, "error", response_error(code, message));
}
