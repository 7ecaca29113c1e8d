/*
 * server.h - runboxd's processes: a master that supervises worker
 * processes, each a FastCGI responder serving one request at a time.
 */
#ifndef RUNBOX_SERVER_H
#define RUNBOX_SERVER_H

#include <signal.h>

#include "service/api.h"

/* Open the listening socket named by addr ("/path.sock" or "host:port");
   a unix socket gets mode 0660 and group `group` (a name or number). */
int server_listen(const char *addr, const char *group, int backlog, char *err,
		  size_t errlen);
/* True when fd 0 is a listening socket (started by spawn-fcgi). */
int server_inherited_socket(void);
/* In a process the master forked (a worker, a job runner): on_stop runs
   on SIGTERM and SIGINT, which stay blocked except where the caller
   unblocks them with *waiting (its mask without them, for ppoll and the
   like); SIGHUP and SIGPIPE are ignored; the process ends with the
   master (at once if the master is gone already). */
void server_child_signals(void (*on_stop)(int), sigset_t *waiting);
/* Run the master until SIGTERM/SIGINT; returns the exit status. */
int server_run(struct service *svc, int listen_fd, unsigned nworkers);

#endif
