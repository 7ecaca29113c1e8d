/*
 * slotbox.c - each slot's long-lived box: the master keeps them, the
 * workers run in them.
 *
 * Theory of operation
 * -------------------
 * A box (sandbox/box.c) is an init made once in the slot's cgroup and in its
 * own namespaces, pivoted into a minimal root; a run is a fork inside it,
 * with no namespace, mount or cgroup set-up on the way.  A box is made for
 * one isolation (root, namespaces, network, identity, seccomp: everything
 * slot_isolation() puts in a spec and sbx_box_create() reads, hashed into a
 * key); a run of a language whose isolation differs from the slot's box
 * gets a new box, which replaces the old one (the slot's cgroup holds
 * nothing but its box's init between runs, so one box per slot).
 *
 * Who owns a box: the master.  Workers come and go (a crash, a reload) and
 * take turns on the slots, so a box made by one would be a child, and
 * after its death a zombie, of a process the next user of the slot does
 * not know.  The master makes every box (its init is the master's child and
 * dies with it: PR_SET_PDEATHSIG), polls each box's pidfd and reaps a dead
 * init at once, by that pidfd.  A worker asks for a slot's box over its
 * channel (a SOCK_SEQPACKET socketpair made when the master forked it):
 * {seq, slot, language, key}; the master answers {seq, ok, init pid, key,
 * error} with copies of the box's socket and pidfd (SCM_RIGHTS).  The
 * worker keeps its copy and asks again only when that box's init is dead
 * (killed from outside, or replaced: the master kills the old one) or its
 * key differs.  Only the slot's holder asks for a slot, so the master never
 * replaces a box a run is using.  A key the master computes differently
 * (the worker was forked before a reload) gets no box: that run builds its
 * own isolation, as every run did before boxes.
 *
 * A box found dead (its pidfd readable, or not alive when asked for) is
 * reaped, logged, and made again on the next request for its slot:
 * runbox_box_rebuilds_total counts those.  A box killed on purpose (its
 * worker died during a run, the master takes the slot for version
 * commands) is not counted.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "service/execute.h"
#include "service/languages.h"
#include "service/log.h"
#include "service/metrics.h"
#include "service/settings.h"
#include "service/slotbox.h"

#define LANG_ID_MAX 128

struct box_req {
	uint32_t seq;
	uint32_t slot;
	uint64_t key;
	char lang[LANG_ID_MAX]; /* "" for a command */
};

struct box_rep {
	uint32_t seq;
	int32_t ok;       /* 1: fds attached; 0: no box (err says why) */
	int32_t init;     /* the init's pid */
	uint32_t ns;      /* its namespaces */
	uint64_t key;     /* the master's key for the request */
	char err[256];
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3u; /* FNV-1a */
	return h;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	return mix(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

/* What makes two boxes different: everything sbx_box_create reads. */
static uint64_t box_key(const struct sbx_spec *t)
{
	uint64_t h = 0xcbf29ce484222325u;

	h = mix(h, &t->namespaces, sizeof t->namespaces);
	h = mix(h, &t->netns_fd_plus1, sizeof t->netns_fd_plus1);
	h = mix(h, &t->seccomp, sizeof t->seccomp);
	h = mix(h, &t->set_ids, sizeof t->set_ids);
	h = mix(h, &t->uid, sizeof t->uid);
	h = mix(h, &t->gid, sizeof t->gid);
	h = mix_str(h, t->tmp_size);
	h = mix_str(h, t->box_dir);
	if (t->root) {
		h = mix(h, &t->root->ptys, sizeof t->root->ptys);
		for (char *const *b = t->root->binds; b && *b; b++)
			h = mix_str(h, *b);
	}
	return h ? h : 1;
}

/* ---- the master's side ------------------------------------------------ */

struct kept {
	struct sbx_box *box;
	uint64_t key;
	bool died;      /* found dead: the next one is a rebuild */
};

struct box_keeper {
	struct metrics *metrics;
	struct kept k[CONFIG_MAX_SLOTS];
};

struct box_keeper *box_keeper_create(struct metrics *m)
{
	struct box_keeper *k = calloc(1, sizeof *k);

	if (k)
		k->metrics = m;
	return k;
}

void box_keeper_drop(struct box_keeper *k, unsigned slot)
{
	if (!k || slot >= CONFIG_MAX_SLOTS || !k->k[slot].box)
		return;
	sbx_box_destroy(k->k[slot].box);
	k->k[slot].box = NULL;
}

void box_keeper_destroy(struct box_keeper *k)
{
	if (!k)
		return;
	for (unsigned i = 0; i < CONFIG_MAX_SLOTS; i++)
		box_keeper_drop(k, i);
	free(k);
}

int box_keeper_pidfd(const struct box_keeper *k, unsigned slot)
{
	int sock, pidfd;

	if (!k || slot >= CONFIG_MAX_SLOTS || !k->k[slot].box)
		return -1;
	sbx_box_fds(k->k[slot].box, &sock, &pidfd);
	return pidfd;
}

void box_keeper_died(struct box_keeper *k, unsigned slot)
{
	if (!k || slot >= CONFIG_MAX_SLOTS || !k->k[slot].box)
		return;
	log_msg(LOG_WARNING, "slot %u: its box's init (pid %d) died; a new box is made "
		"for the slot's next run", slot, (int)sbx_box_pid(k->k[slot].box));
	box_keeper_drop(k, slot);
	k->k[slot].died = true;
}

int box_channel(int *mine, int *theirs)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	*mine = sv[0];
	*theirs = sv[1];
	return 0;
}

static int send_rep(int ch, const struct box_rep *rep, const struct sbx_box *box)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)rep, .iov_len = sizeof *rep };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (box) {
		int fds[2];
		sbx_box_fds(box, &fds[0], &fds[1]);
		memset(&u, 0, sizeof u);
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof u.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof fds);
		memcpy(CMSG_DATA(c), fds, sizeof fds);
	}
	do
		n = sendmsg(ch, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof *rep ? 0 : -1;
}

int box_keeper_serve(struct box_keeper *k, int ch, const struct config *cfg,
		     const struct languages *langs, const struct slot *slots,
		     unsigned nslots)
{
	struct box_req req;
	struct box_rep rep = { 0 };
	ssize_t n;

	do
		n = recv(ch, &req, sizeof req, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n != (ssize_t)sizeof req)
		return -1; /* closed (0), or not one of ours */
	rep.seq = req.seq;
	req.lang[LANG_ID_MAX - 1] = '\0';
	if (req.slot >= nslots) {
		snprintf(rep.err, sizeof rep.err, "no slot %u", (unsigned)req.slot);
		return send_rep(ch, &rep, NULL);
	}
	const struct language *lang = req.lang[0] ? languages_find(langs, req.lang) : NULL;
	if (req.lang[0] && !lang) {
		snprintf(rep.err, sizeof rep.err, "language %s is not in the master's "
			 "config", req.lang);
		return send_rep(ch, &rep, NULL);
	}
	struct sbx_spec tmpl;
	slot_isolation(&tmpl, cfg, lang, &slots[req.slot]);
	rep.key = box_key(&tmpl);
	if (rep.key != req.key) {
		snprintf(rep.err, sizeof rep.err, "the master's isolation for %s differs "
			 "(a reload since the worker started)", lang ? lang->id : "a command");
		return send_rep(ch, &rep, NULL);
	}

	struct kept *kb = &k->k[req.slot];
	if (kb->box && !sbx_box_alive(kb->box))
		box_keeper_died(k, req.slot);
	if (kb->box && kb->key != rep.key)
		box_keeper_drop(k, req.slot); /* another language's: replaced */
	if (!kb->box) {
		if (sbx_box_create(&kb->box, &tmpl, rep.err, sizeof rep.err) < 0) {
			log_msg(LOG_ERR, "slot %u: %s", (unsigned)req.slot, rep.err);
			return send_rep(ch, &rep, NULL);
		}
		kb->key = rep.key;
		if (kb->died) {
			kb->died = false;
			metrics_box_rebuild(k->metrics);
			log_msg(LOG_WARNING, "slot %u: made a new box (init pid %d)",
				(unsigned)req.slot, (int)sbx_box_pid(kb->box));
		}
	}
	rep.ok = 1;
	rep.init = (int32_t)sbx_box_pid(kb->box);
	rep.ns = tmpl.namespaces;
	return send_rep(ch, &rep, kb->box);
}

/* ---- a worker's side --------------------------------------------------- */

struct copy {
	struct sbx_box *box;
	uint64_t key;
};

struct box_client {
	int ch;
	uint32_t seq;
	struct copy c[CONFIG_MAX_SLOTS];
};

struct box_client *box_client_create(int ch)
{
	struct box_client *c = calloc(1, sizeof *c);

	if (!c) {
		close(ch);
		return NULL;
	}
	c->ch = ch;
	return c;
}

void box_client_destroy(struct box_client *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < CONFIG_MAX_SLOTS; i++)
		sbx_box_release(c->c[i].box);
	close(c->ch);
	free(c);
}

/* One answer: 1 with fds[2] (received, close-on-exec), 0 without, -1 when
   the channel failed. */
static int recv_rep(int ch, struct box_rep *rep, int fds[2])
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof *rep };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof u.buf,
	};
	ssize_t n;

	do
		n = recvmsg(ch, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof *rep || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return -1;
	fds[0] = fds[1] = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(2 * sizeof(int))) {
			memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
			return 1;
		}
	return 0;
}

int slot_box_get(struct box_client *c, const struct slot *slot,
		 const struct language *lang, const struct sbx_spec *tmpl,
		 struct sbx_box **box, char *err, size_t errlen)
{
	struct copy *cp = &c->c[slot->index];
	struct box_req req = { .slot = slot->index, .key = box_key(tmpl) };
	struct box_rep rep;
	int fds[2];

	*box = NULL;
	if (cp->box && cp->key == req.key && sbx_box_alive(cp->box)) {
		*box = cp->box;
		return 0;
	}
	sbx_box_release(cp->box);
	cp->box = NULL;
	if (lang && strlen(lang->id) >= sizeof req.lang)
		return 0; /* cannot be named to the master: no box */
	if (lang)
		memcpy(req.lang, lang->id, strlen(lang->id));
	req.seq = ++c->seq;
	if (send(c->ch, &req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req) {
		snprintf(err, errlen, "asking the master for slot %u's box: %s",
			 slot->index, strerror(errno));
		return -1;
	}
	/* The master answers every request in order, and the worker waits
	   for each answer: the next one is this one's. */
	int got = recv_rep(c->ch, &rep, fds);
	if (got < 0 || rep.seq != req.seq) {
		if (got > 0) {
			close(fds[0]);
			close(fds[1]);
		}
		snprintf(err, errlen, "slot %u's box: no answer from the master",
			 slot->index);
		return -1;
	}
	if (!rep.ok || got == 0) {
		if (rep.key != req.key)
			return 0; /* a reload in between: without a box */
		rep.err[sizeof rep.err - 1] = '\0';
		snprintf(err, errlen, "%s", rep.err[0] ? rep.err : "no box");
		return -1;
	}
	if (sbx_box_attach(&cp->box, fds[0], fds[1], rep.init, slot->cgroup, rep.ns) < 0) {
		snprintf(err, errlen, "slot %u's box: out of memory", slot->index);
		return -1;
	}
	cp->key = req.key;
	*box = cp->box;
	return 0;
}
