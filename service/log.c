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

static bool to_syslog;
static bool json_lines;

void log_open(bool use_syslog, bool json)
{
	to_syslog = use_syslog;
	json_lines = json;
	if (to_syslog)
		openlog("runboxd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void emit(int prio, const char *line)
{
	if (to_syslog) {
		syslog(prio, "%s", line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	/* One write per line so lines of concurrent workers do not mix. */
	char buf[2048];
	int n = snprintf(buf, sizeof buf, "%s.%03ldZ runboxd[%d]: %s\n", stamp,
			 ts.tv_nsec / 1000000, (int)getpid(), line);
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
