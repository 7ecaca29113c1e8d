/*
 * log.c - runboxd's log lines.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/log.h"
#include "service/utf8.h"

static bool to_syslog;
static bool json_lines;

void log_open(bool use_syslog, bool json)
{
	to_syslog = use_syslog;
	json_lines = json;
	if (to_syslog)
		openlog("runboxd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void stamp(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char day[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03ldZ", day, ts.tv_nsec / 1000000);
}

/* text as the inside of a JSON string: quotes, backslashes and control
   characters escaped; bytes of invalid UTF-8 become '?'. */
static void json_text(char *out, size_t len, const char *in)
{
	bool utf8 = utf8_valid(in, strlen(in));
	size_t j = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)in; *p && j + 7 < len; p++) {
		if (*p == '"' || *p == '\\') {
			out[j++] = '\\';
			out[j++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			j += (size_t)snprintf(out + j, len - j, "\\u%04x", *p);
		} else {
			out[j++] = *p >= 0x80 && !utf8 ? '?' : (char)*p;
		}
	}
	if (*p) /* cut short: never in the middle of a character */
		while (j > 0 && ((unsigned char)out[j - 1] & 0x80)) {
			bool lead = ((unsigned char)out[j - 1] & 0xc0) == 0xc0;
			j--;
			if (lead)
				break;
		}
	out[j] = '\0';
}

static void emit(int prio, const char *line)
{
	static const char *const levels[] = { "emerg", "alert", "crit", "err",
					       "warning", "notice", "info", "debug" };
	char when[48], buf[2048];
	int n;

	if (json_lines) {
		/* A document per line, like the request lines. */
		char text[1600];
		json_text(text, sizeof text, line);
		stamp(when, sizeof when);
		n = snprintf(buf, sizeof buf, "{\"time\":\"%s\",\"pid\":%d,\"level\":\"%s\","
			     "\"message\":\"%s\"}", when, (int)getpid(),
			     levels[LOG_PRI(prio)], text);
		if (to_syslog)
			syslog(prio, "%s", buf);
		else if (n > 0 && (size_t)n < sizeof buf - 1) {
			buf[n++] = '\n';
			(void)!write(STDERR_FILENO, buf, (size_t)n);
		}
		return;
	}
	if (to_syslog) {
		syslog(prio, "%s", line);
		return;
	}
	stamp(when, sizeof when);
	/* One write per line so lines of concurrent workers do not mix. */
	n = snprintf(buf, sizeof buf, "%s runboxd[%d]: %s\n", when, (int)getpid(), line);
	if (n > 0)
		(void)!write(STDERR_FILENO, buf,
			     (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void log_msg(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	emit(prio, line);
}

/* Client text in a log line: printable ASCII without quotes or
   backslashes, so the line stays one line and valid JSON. */
static void clean(char *out, size_t len, const char *in)
{
	size_t j = 0;
	for (size_t i = 0; in && in[i] && j < len - 1; i++)
		out[j++] = (in[i] >= 0x20 && in[i] < 0x7f && in[i] != '"' &&
			    in[i] != '\\') ? in[i] : '?';
	out[j] = '\0';
}

void log_request(const char *request_id, const char *method, const char *path,
		 int http_status, const char *run_status, int slot, uint64_t wall_ms,
		 size_t bytes_in, size_t bytes_out)
{
	char line[1024], safe[256], m[24], id[48];

	clean(safe, sizeof safe, path);
	clean(m, sizeof m, method);
	clean(id, sizeof id, request_id);
	if (json_lines)
		snprintf(line, sizeof line,
			 "{\"request_id\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
			 "\"status\":%d,\"run_status\":%s%s%s,\"slot\":%d,"
			 "\"wall_ms\":%llu,\"bytes_in\":%zu,\"bytes_out\":%zu}",
			 id, m, safe, http_status, run_status ? "\"" : "",
			 run_status ? run_status : "null", run_status ? "\"" : "", slot,
			 (unsigned long long)wall_ms, bytes_in, bytes_out);
	else
		snprintf(line, sizeof line,
			 "%s %s %s %d run=%s slot=%d wall_ms=%llu in=%zu out=%zu",
			 id, m, safe, http_status, run_status ? run_status : "-", slot,
			 (unsigned long long)wall_ms, bytes_in, bytes_out);
	if (json_lines && !to_syslog) {
		/* JSON lines carry no prefix, so that each is a document. */
		char buf[1100];
		int n = snprintf(buf, sizeof buf, "%s\n", line);
		if (n > 0)
			(void)!write(STDERR_FILENO, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
		return;
	}
	emit(LOG_INFO, line);
}
