/*
 * server.c - the master and its workers.
 *
 * Theory of operation
 * -------------------
 * The master opens the listening socket, creates the slot pool (shared
 * memory) and forks `slots + queue` workers.  Each worker accepts FastCGI
 * requests on the shared socket one at a time (libfcgi), takes a slot from
 * the pool for a run (waiting at most queue_timeout_ms, else 503 busy),
 * and gives it back when the run is over.  So at most `slots` programs run
 * at once, at most `queue` requests wait for a slot, and the rest wait in
 * the socket's bounded backlog.
 *
 * The master also keeps the slots' long-lived boxes (slotbox.c): it polls
 * each worker's box channel (a socketpair made at its fork) and answers a
 * request for a slot's box with copies of its fds, making the box first if
 * need be, and polls each box's pidfd to reap an init that died.  A slot
 * whose worker died has its box dropped with it.
 *
 * The master holds a pidfd per worker and a signalfd for SIGTERM, SIGINT
 * and SIGHUP, and polls them: a worker that exits is reaped by its own pid,
 * logged, its slot (if it held one) is cleaned up and returned to the pool,
 * and a new worker takes its place at once.  On SIGTERM or SIGINT the
 * master asks every worker to stop (SIGTERM: finish the request in hand,
 * then exit), waits for them up to config_request_ms() (a request's longest),
 * kills what is left, removes leftover work directories and exits 0.
 *
 * SIGHUP reloads: the master reads and checks the config, languages and
 * tokens again; a bad one is refused with a log line and nothing changes.
 * A good one replaces the master's copy, and every worker is asked to
 * finish what it holds and exit; each is replaced at once by a worker
 * forked from the reloaded master.  No in-flight run is dropped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <grp.h>
#include <malloc.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "service/log.h"
#include "service/runner.h"
#include "service/server.h"
#include "service/slotbox.h"
#include "service/workdir.h"

#define MAX_WORKERS (CONFIG_MAX_SLOTS + 4096)

struct worker {
	pid_t pid;
	int pidfd;
	time_t started;
	bool retiring; /* asked to finish and go after a reload */
	bool runner;   /* a job runner (runner.c), not a request worker */
	int box_ch;    /* the master's end of its box channel (slotbox.h), or -1 */
};

static volatile sig_atomic_t worker_stop;

/* ---- listening socket ---------------------------------------------- */

int server_inherited_socket(void)
{
	int v = 0;
	socklen_t len = sizeof v;
	return getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

/* A group name or number: its gid, or -1 with err. */
static int group_id(const char *group, gid_t *gid, char *err, size_t errlen)
{
	struct group gr, *found = NULL;
	char buf[4096], *end;
	int rc = getgrnam_r(group, &gr, buf, sizeof buf, &found);

	if (rc == 0 && found) {
		*gid = found->gr_gid;
		return 0;
	}
	unsigned long n = strtoul(group, &end, 10);
	if (*group >= '0' && *group <= '9' && !*end && n < (gid_t)-1) {
		*gid = (gid_t)n;
		return 0;
	}
	snprintf(err, errlen, "socket_group \"%s\" (nginx's group, which may connect to "
		 "the socket): %s", group, rc ? strerror(rc) : "no such group");
	return -1;
}

/*
 * The socket is nginx's way in, not everyone's: a local user connecting
 * to it directly would pass by nginx's rate limits and its /metrics rule.
 * So it is 0660 with nginx's group; umask keeps it closed from bind() on.
 */
static int listen_unix(const char *path, const char *group, int backlog, char *err,
		       size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	gid_t gid;
	mode_t mask;
	int fd, rc;

	if (group_id(group, &gid, err, errlen) < 0)
		return -1;

	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "listen: socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	/* Replace a stale socket, never anything else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "listen: %s exists and is not a socket", path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mask = umask(0177);
	rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(mask);
	if (rc < 0 || fchownat(AT_FDCWD, path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, backlog) < 0) {
		snprintf(err, errlen, "listen on %s (group %s): %s", path, group,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int listen_tcp(const char *addr, int backlog, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char host[256];
	const char *colon = strrchr(addr, ':');
	int fd = -1, one = 1, rc;

	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host) {
		snprintf(err, errlen, "listen: expected /path.sock or host:port, got %s", addr);
		return -1;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen on %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		snprintf(err, errlen, "listen on %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int server_listen(const char *addr, const char *group, int backlog, char *err,
		  size_t errlen)
{
	if (addr[0] == '/' || addr[0] == '.')
		return listen_unix(addr, group, backlog, err, errlen);
	return listen_tcp(addr, backlog, err, errlen);
}

/* ---- worker --------------------------------------------------------- */

static void on_worker_signal(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static const char *param(FCGX_Request *r, const char *name)
{
	const char *v = FCGX_GetParam(name, r->envp);
	return v ? v : "";
}

/* Read the body; past max bytes, stop keeping it and say so. */
static char *read_body(FCGX_Request *r, uint64_t max, size_t *len, bool *too_large)
{
	size_t cap = 0;
	char *buf = NULL, chunk[16384];
	int n;

	*len = 0;
	*too_large = false;
	while ((n = FCGX_GetStr(chunk, sizeof chunk, r->in)) > 0) {
		if (*too_large || *len + (size_t)n > max) {
			*too_large = true;
			continue; /* drain the rest so the connection stays sane */
		}
		if (*len + (size_t)n + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			while (ncap < *len + (size_t)n + 1)
				ncap *= 2;
			char *p = realloc(buf, ncap);
			if (!p) {
				free(buf);
				return NULL;
			}
			buf = p;
			cap = ncap;
		}
		memcpy(buf + *len, chunk, (size_t)n);
		*len += (size_t)n;
	}
	if (!buf && !(buf = calloc(1, 1)))
		return NULL;
	buf[*len] = '\0';
	return buf;
}

/* 32 hex digits from the kernel's random pool. */
static void new_request_id(char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16] = { 0 };
	size_t n = 0;

	if (getrandom(raw, sizeof raw, GRND_NONBLOCK) < 0)
		memset(raw, 0, sizeof raw);
	for (size_t i = 0; i < sizeof raw && n + 2 < len; i++) {
		out[n++] = hex[raw[i] >> 4];
		out[n++] = hex[raw[i] & 15];
	}
	out[n] = '\0';
}

static int count_bytes(const char *buf, size_t n, void *arg)
{
	(void)buf;
	*(size_t *)arg += n;
	return 0;
}

static int put_bytes(const char *buf, size_t n, void *arg)
{
	FCGX_Stream *out = arg;

	while (n) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
		if (FCGX_PutStr(buf, chunk, out) != chunk)
			return -1;
		buf += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

/*
 * The head of an answer.  libfcgi's own printf knows few conversions:
 * formatted here.  A streamed answer has no length (nginx sends it
 * chunked) and turns nginx's buffering off for itself.
 */
static int send_head(FCGX_Request *r, const struct http_response *resp,
		     const char *rid, const char *host_id, bool streamed)
{
	char head[2048];
	int hlen = snprintf(head, sizeof head,
			    "Status: %d %s\r\nContent-Type: %s\r\n"
			    "Cache-Control: no-store\r\n"
			    "X-Request-Id: %s\r\nX-Runbox-Host: %s\r\n%s%s%s%s",
			    resp->status, http_reason(resp->status),
			    resp->content_type ? resp->content_type : "application/json",
			    rid, host_id,
			    resp->www_authenticate ? "WWW-Authenticate: Bearer realm=\"runbox\"\r\n" : "",
			    resp->allow ? "Allow: " : "", resp->allow ? resp->allow : "",
			    resp->allow ? "\r\n" : "");
	if (streamed)
		hlen += snprintf(head + hlen, sizeof head - (size_t)hlen,
				 "X-Accel-Buffering: no\r\n");
	else
		hlen += snprintf(head + hlen, sizeof head - (size_t)hlen,
				 "Content-Length: %zu\r\n", resp->body_len);
	if (resp->retry_after)
		hlen += snprintf(head + hlen, sizeof head - (size_t)hlen,
				 "Retry-After: %u\r\n", resp->retry_after);
	/* CORS, for origins listed in http.cors_origins only (the value is
	   the config's string, never the request's). */
	if (resp->cors_origin)
		hlen += snprintf(head + hlen, sizeof head - (size_t)hlen,
				 "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
				 "Access-Control-Expose-Headers: X-Request-Id, Retry-After, "
				 "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset\r\n",
				 resp->cors_origin);
	if (resp->preflight)
		hlen += snprintf(head + hlen, sizeof head - (size_t)hlen,
				 "Access-Control-Allow-Methods: %s, OPTIONS\r\n"
				 "Access-Control-Allow-Headers: Authorization, Content-Type, "
				 "Accept\r\nAccess-Control-Max-Age: 600\r\n", resp->allow);
	if (resp->rate.limited)
		hlen += snprintf(head + hlen, sizeof head - (size_t)hlen,
				 "RateLimit-Limit: %llu\r\nRateLimit-Remaining: %llu\r\n"
				 "RateLimit-Reset: %llu\r\n",
				 (unsigned long long)resp->rate.limit,
				 (unsigned long long)resp->rate.remaining,
				 (unsigned long long)resp->rate.reset_s);
	hlen += snprintf(head + hlen, sizeof head - (size_t)hlen, "\r\n");
	if (FCGX_PutStr(head, hlen, r->out) != hlen)
		return -1;
	return streamed ? FCGX_FFlush(r->out) : 0;
}

/* struct http_stream over libfcgi: every piece is flushed at once. */
struct fcgi_stream {
	FCGX_Request *r;
	const char *rid;
	const char *host_id;
};

static int stream_head(void *arg, const struct http_response *resp)
{
	struct fcgi_stream *fs = arg;
	return send_head(fs->r, resp, fs->rid, fs->host_id, true);
}

static int stream_write(void *arg, const char *data, size_t len)
{
	struct fcgi_stream *fs = arg;
	if (put_bytes(data, len, fs->r->out) < 0 || FCGX_FFlush(fs->r->out) < 0)
		return -1;
	return 0;
}

static void serve_one(struct service *svc, FCGX_Request *r)
{
	struct http_request req = { 0 };
	struct http_response resp;
	struct timespec t0, t1;
	char path[1024];
	char *body;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	req.method = param(r, "REQUEST_METHOD");
	const char *uri = *param(r, "DOCUMENT_URI") ? param(r, "DOCUMENT_URI")
						   : param(r, "REQUEST_URI");
	snprintf(path, sizeof path, "%.*s", (int)strcspn(uri, "?"), uri);
	req.path = path;
	req.query = param(r, "QUERY_STRING");
	req.conn_fd = r->ipcFd;
	req.authorization = FCGX_GetParam("HTTP_AUTHORIZATION", r->envp);
	if (req.authorization && !*req.authorization)
		req.authorization = NULL;
	req.content_type = param(r, "CONTENT_TYPE");
	req.origin = param(r, "HTTP_ORIGIN");
	req.accept = param(r, "HTTP_ACCEPT");
	req.host = param(r, "HTTP_HOST");
	req.scheme = *param(r, "REQUEST_SCHEME") ? param(r, "REQUEST_SCHEME") : "http";
	/* nginx's $request_id when it sends one, so both logs agree. */
	char rid[40];
	const char *nid = param(r, "REQUEST_ID");
	if (strlen(nid) >= 8 && strlen(nid) < sizeof rid &&
	    strspn(nid, "0123456789abcdefABCDEF") == strlen(nid))
		snprintf(rid, sizeof rid, "%s", nid);
	else
		new_request_id(rid, sizeof rid);
	struct fcgi_stream fs = { .r = r, .rid = rid, .host_id = svc->cfg.host_id };
	struct http_stream stream = { .arg = &fs, .begin = stream_head, .write = stream_write };
	req.stream = &stream;
	body = read_body(r, svc->cfg.max_body_bytes, &req.body_len, &req.body_too_large);
	req.body = body ? body : "";
	if (!body) {
		memset(&resp, 0, sizeof resp);
		resp.status = 500;
		resp.body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
		resp.body_len = resp.body ? strlen(resp.body) : 0;
	} else {
		api_handle(svc, &req, &resp);
	}

	/* A JSON body is rendered twice, never held as text: once to count
	   its bytes for Content-Length, once into libfcgi's stream. */
	if (resp.json && !resp.streamed) {
		resp.body_len = 0;
		json_dump_callback(resp.json, count_bytes, &resp.body_len, JSON_COMPACT);
	}
	if (!resp.streamed)
		send_head(r, &resp, rid, svc->cfg.host_id, false);
	if (resp.streamed) {
		/* Sent already, event by event. */
	} else if (strcmp(req.method, "HEAD") != 0 && resp.json) {
		if (json_dump_callback(resp.json, put_bytes, r->out, JSON_COMPACT) < 0)
			log_msg(LOG_WARNING, "request %s: the answer could not be sent in "
				"full (the client is gone)", rid);
	} else if (strcmp(req.method, "HEAD") != 0 && resp.body) {
		put_bytes(resp.body, resp.body_len, r->out);
	}

	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_request(svc->metrics, resp.status);
	log_request(rid, req.method, path, resp.status, resp.run_status,
		    resp.used_slot ? (int)resp.slot : -1,
		    (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 +
			       (t1.tv_nsec - t0.tv_nsec) / 1000000),
		    req.body_len, resp.body_len);
	http_response_free(&resp);
	free(body);
}

/*
 * A worker stops only between requests.  SIGTERM and SIGINT stay blocked
 * except inside ppoll() on the listening socket, so a reload or a stop
 * never interrupts libfcgi's reads and writes of a request in hand (a cut
 * body, a truncated answer).  Several idle workers wake for one
 * connection: the socket is non-blocking, and the losers' accept() fails
 * with EAGAIN and they go back to waiting.
 */
void server_child_signals(void (*on_stop)(int), sigset_t *waiting)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t stop;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_SETMASK, &stop, waiting);
	sigdelset(waiting, SIGTERM);
	sigdelset(waiting, SIGINT);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(0);
}

_Noreturn static void worker_main(struct service *svc, int listen_fd)
{
	sigset_t waiting;
	FCGX_Request r;
	int fl;

	server_child_signals(on_worker_signal, &waiting);

	/* A fixed mmap threshold: glibc would otherwise raise it after the
	   first large free, and later large buffers (bodies, outputs) would
	   stay in the heap after the request that needed them. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	if ((fl = fcntl(listen_fd, F_GETFL)) < 0 ||
	    fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    FCGX_Init() != 0 || FCGX_InitRequest(&r, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_msg(LOG_ERR, "worker: FastCGI initialisation failed");
		_exit(1);
	}
	while (!worker_stop) {
		struct pollfd p = { .fd = listen_fd, .events = POLLIN };
		int rc = ppoll(&p, 1, NULL, &waiting);
		if (worker_stop)
			break;
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERR, "worker: poll failed: %s", strerror(errno));
			break;
		}
		if ((rc = FCGX_Accept_r(&r)) < 0) {
			if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR)
				continue; /* another worker took it */
			log_msg(LOG_ERR, "worker: accept failed: %s", strerror(-rc));
			break;
		}
		serve_one(svc, &r);
		FCGX_Finish_r(&r);
		/* What a large request took goes back to the system now, not
		   at the worker's end: idle workers stay small. */
		malloc_trim(0);
	}
	FCGX_Free(&r, 1);
	_exit(0);
}

/* ---- master --------------------------------------------------------- */

/* In a new worker: its way to the slots' boxes, and none of the master's
   ends of the other workers' channels. */
static void worker_boxes(struct service *svc, int ch, const struct worker *workers,
			 unsigned nworkers)
{
	struct box_client *c;

	for (unsigned i = 0; i < nworkers; i++)
		if (workers[i].box_ch >= 0)
			close(workers[i].box_ch);
	if (ch < 0)
		return;
	if (!(c = box_client_create(ch))) {
		log_msg(LOG_ERR, "worker: out of memory");
		_exit(1);
	}
	for (unsigned i = 0; i < svc->cfg.slots; i++)
		svc->slots[i].boxes = c;
}

static int spawn_worker(struct service *svc, int listen_fd, struct worker *workers,
			unsigned nworkers, struct worker *w, const sigset_t *master_mask,
			int sfd)
{
	int mine = -1, theirs = -1;

	w->box_ch = -1;
	if (svc->boxes && box_channel(&mine, &theirs) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		if (mine >= 0) {
			close(mine);
			close(theirs);
		}
		return -1;
	}
	if (pid == 0) {
		close(sfd);
		if (mine >= 0)
			close(mine);
		worker_boxes(svc, theirs, workers, nworkers);
		sigprocmask(SIG_SETMASK, master_mask, NULL);
		if (w->runner) {
			close(listen_fd);
			runner_main(svc);
		}
		worker_main(svc, listen_fd);
	}
	if (theirs >= 0)
		close(theirs);
	w->box_ch = mine;
	w->pid = pid;
	w->started = time(NULL);
	w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (w->pidfd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		w->pid = 0;
		if (w->box_ch >= 0)
			close(w->box_ch);
		w->box_ch = -1;
		return -1;
	}
	return 0;
}

/* A slot whose worker died: remove whatever run directory it left. */
static void reclaim_slot(unsigned index, void *arg)
{
	struct service *svc = arg;
	char err[256];

	log_msg(LOG_WARNING, "slot %u: its worker died during a run; cleaning up", index);
	/* Its box held the run: it goes with it, and the next run of the
	   slot gets a new one. */
	box_keeper_drop(svc->boxes, index);
	if (sbx_cgroup_kill(svc->slots[index].cgroup, err, sizeof err) < 0)
		log_msg(LOG_ERR, "slot %u: %s", index, err);
	if (slot_clear(&svc->slots[index], err, sizeof err) < 0)
		log_msg(LOG_ERR, "slot %u: cleanup failed: %s", index, err);
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with code %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped");
}

static void reap_worker(struct service *svc, struct worker *w, bool quiet)
{
	int status = 0;
	char how[96];

	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	close(w->pidfd);
	w->pidfd = -1;
	if (w->box_ch >= 0)
		close(w->box_ch);
	w->box_ch = -1;
	pool_reclaim(svc->pool, w->pid, reclaim_slot, svc);
	quota_reap(svc->quota, w->pid);
	if (w->runner && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		runner_interrupted(svc, w->pid);
	if (!quiet) {
		metrics_worker_restart(svc->metrics);
		describe_exit(status, how, sizeof how);
		log_msg(LOG_ERR, "worker %d %s; starting a new one", (int)w->pid, how);
	}
	w->pid = 0;
}

int server_run(struct service *svc, int listen_fd, unsigned nworkers)
{
	static struct worker workers[MAX_WORKERS];
	struct pollfd *pfd;
	sigset_t stop_set, old;
	bool stopping = false;
	uint64_t grace_ms = config_request_ms(&svc->cfg), waited = 0;
	int sfd;

	/* The job runners follow the request workers in the table. */
	nworkers += (unsigned)svc->cfg.jobs_runners;
	if (nworkers > MAX_WORKERS)
		nworkers = MAX_WORKERS;
	for (unsigned i = 0; i < nworkers; i++) {
		workers[i].runner = i >= nworkers - (unsigned)svc->cfg.jobs_runners;
		workers[i].box_ch = -1;
	}
	/* Jobs left running by the last runboxd were perhaps half run. */
	if (runner_interrupted(svc, 0) < 0)
		return 1;
	/* Polled: each worker's pidfd, its box channel, each slot's box's
	   pidfd, the signalfd. */
	unsigned nslots = pool_size(svc->pool);
	unsigned at_ch = nworkers, at_box = 2 * nworkers, at_sig = 2 * nworkers + nslots;
	pfd = calloc(at_sig + 1, sizeof *pfd);
	if (!pfd)
		return 1;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_set, &old);
	sfd = signalfd(-1, &stop_set, SFD_CLOEXEC);
	if (sfd < 0) {
		log_msg(LOG_ERR, "signalfd: %s", strerror(errno));
		free(pfd);
		return 1;
	}

	for (unsigned i = 0; i < nworkers; i++)
		if (spawn_worker(svc, listen_fd, workers, nworkers, &workers[i], &old, sfd) < 0)
			log_msg(LOG_ERR, "cannot start a worker: %s", strerror(errno));
	log_msg(LOG_INFO, "runboxd %s: %u slots, %u workers, %llu job runners, ready",
		PACKAGE_VERSION, pool_size(svc->pool), nworkers - (unsigned)svc->cfg.jobs_runners,
		(unsigned long long)svc->cfg.jobs_runners);

	for (;;) {
		unsigned alive = 0;
		for (unsigned i = 0; i < nworkers; i++) {
			pfd[i].fd = workers[i].pid ? workers[i].pidfd : -1;
			pfd[i].events = POLLIN;
			pfd[at_ch + i].fd = workers[i].pid ? workers[i].box_ch : -1;
			pfd[at_ch + i].events = POLLIN;
			alive += workers[i].pid != 0;
		}
		if (stopping && !alive)
			break;
		for (unsigned i = 0; i < nslots; i++) {
			pfd[at_box + i].fd = box_keeper_pidfd(svc->boxes, i);
			pfd[at_box + i].events = POLLIN;
		}
		pfd[at_sig].fd = sfd;
		pfd[at_sig].events = POLLIN;
		int rc = poll(pfd, at_sig + 1, stopping ? 100 : 1000);
		if (rc < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "poll: %s", strerror(errno));
			break;
		}
		if (stopping) {
			waited += 100;
			if (waited >= grace_ms) {
				for (unsigned i = 0; i < nworkers; i++)
					if (workers[i].pid)
						kill(workers[i].pid, SIGKILL);
			}
		}
		/* Boxes: a dead init is reaped at once; requests answered. */
		for (unsigned i = 0; rc > 0 && i < nslots; i++)
			if (pfd[at_box + i].fd >= 0 && pfd[at_box + i].revents)
				box_keeper_died(svc->boxes, i);
		for (unsigned i = 0; rc > 0 && i < nworkers; i++)
			if (pfd[at_ch + i].fd >= 0 && pfd[at_ch + i].revents &&
			    box_keeper_serve(svc->boxes, workers[i].box_ch, &svc->cfg,
					     &svc->langs, svc->slots, nslots) < 0) {
				/* The worker is gone (its pidfd says so too)
				   or sent nonsense: it asks no more. */
				close(workers[i].box_ch);
				workers[i].box_ch = -1;
			}
		if (rc > 0 && pfd[at_sig].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si && !stopping &&
			    si.ssi_signo == SIGHUP) {
				/* New workers are forked from the reloaded
				   master; the old ones finish what they hold. */
				if (svc->reload && svc->reload(svc) == 0)
					for (unsigned i = 0; i < nworkers; i++)
						if (workers[i].pid) {
							workers[i].retiring = true;
							kill(workers[i].pid, SIGTERM);
						}
			} else if (!stopping && si.ssi_signo != SIGHUP) {
				log_msg(LOG_INFO, "signal %u: stopping", si.ssi_signo);
				stopping = true;
				close(listen_fd);
				for (unsigned i = 0; i < nworkers; i++)
					if (workers[i].pid)
						kill(workers[i].pid, SIGTERM);
			}
		}
		for (unsigned i = 0; rc > 0 && i < nworkers; i++) {
			if (!workers[i].pid || !pfd[i].revents)
				continue;
			time_t born = workers[i].started;
			bool retiring = workers[i].retiring;
			reap_worker(svc, &workers[i], stopping || retiring);
			workers[i].retiring = false;
			if (stopping)
				continue;
			/* A worker that dies as soon as it starts would make
			   this loop fork flat out: slow the restarts down. */
			if (time(NULL) - born < 1 && !retiring) {
				struct timespec pause = { 0, 200 * 1000000L };
				nanosleep(&pause, NULL);
			}
			if (spawn_worker(svc, listen_fd, workers, nworkers, &workers[i], &old, sfd) < 0)
				log_msg(LOG_ERR, "cannot restart a worker: %s", strerror(errno));
		}
	}
	for (unsigned i = 0; i < pool_size(svc->pool); i++) {
		char err[256];
		box_keeper_drop(svc->boxes, i);
		if (slot_clear(&svc->slots[i], err, sizeof err) < 0)
			log_msg(LOG_ERR, "slot %u: cleanup failed: %s", i, err);
	}
	close(sfd);
	free(pfd);
	log_msg(LOG_INFO, "stopped");
	return 0;
}
