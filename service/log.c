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

void log_open(bool use_syslog)
{
	to_syslog = use_syslog;
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

void log_request(const char *method, const char *path, int http_status,
		 const char *run_status, int slot, uint64_t wall_ms,
		 size_t bytes_in, size_t bytes_out)
{
	char line[1024], safe[256];
	size_t j = 0;

	/* The path comes from the client: keep the line one printable line. */
	for (size_t i = 0; path[i] && j < sizeof safe - 1; i++)
		safe[j++] = (path[i] >= 0x20 && path[i] < 0x7f) ? path[i] : '?';
	safe[j] = '\0';
	snprintf(line, sizeof line,
		 "%.16s %s %d run=%s slot=%d wall_ms=%llu in=%zu out=%zu",
		 method, safe, http_status, run_status ? run_status : "-", slot,
		 (unsigned long long)wall_ms, bytes_in, bytes_out);
	emit(LOG_INFO, line);
}
