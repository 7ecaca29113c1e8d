/*
 * log.h - runboxd's log: one line per request, and events, to stderr or
 * syslog.
 */
#ifndef RUNBOX_LOG_H
#define RUNBOX_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

void log_open(bool use_syslog, bool json_lines);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_request(const char *request_id, const char *method, const char *path,
		 int http_status, const char *run_status, int slot, uint64_t wall_ms,
		 size_t bytes_in, size_t bytes_out);

#endif
