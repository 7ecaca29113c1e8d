/*
 * slotbox.h - each slot's long-lived box (sandbox.h, struct sbx_box): made,
 * watched and reaped by the master (the keeper), used by the workers (the
 * clients) through a channel each.
 */
#ifndef RUNBOX_SLOTBOX_H
#define RUNBOX_SLOTBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/sandbox.h"

struct config;
struct language;
struct languages;
struct metrics;
struct slot;

/* ---- the master's side ------------------------------------------------ */

struct box_keeper;

/* Rebuilds are counted in m.  NULL with errno. */
struct box_keeper *box_keeper_create(struct metrics *m);
/* Kill and reap every box. */
void box_keeper_destroy(struct box_keeper *k);
/* The pidfd of slot's box to poll (readable once its init died), or -1. */
int box_keeper_pidfd(const struct box_keeper *k, unsigned slot);
/* Its init died (the pidfd was readable): reap it and log it; the next
   request for the slot makes a new one, counted as a rebuild. */
void box_keeper_died(struct box_keeper *k, unsigned slot);
/* Kill and reap slot's box on purpose (its worker died during a run, or
   the master takes the slot for itself): not a rebuild. */
void box_keeper_drop(struct box_keeper *k, unsigned slot);
/* A channel for a new worker: 0 with *mine (the master's end, to poll and
   serve) and *theirs (the worker's, for box_client_create), or -1. */
int box_channel(int *mine, int *theirs);
/* Answer the one request waiting on ch (a worker's channel) with the box
   of the slot and language it names, made for it when it has none or one
   of another isolation.  -1 when the channel is closed or broken (the
   worker is gone: close it). */
int box_keeper_serve(struct box_keeper *k, int ch, const struct config *cfg,
		     const struct languages *langs, const struct slot *slots,
		     unsigned nslots);

/* ---- a worker's side --------------------------------------------------- */

struct box_client;

/* ch: the worker's end of its channel (taken).  NULL with errno. */
struct box_client *box_client_create(int ch);
/* Let go of the copies (the boxes stay the master's). */
void box_client_destroy(struct box_client *c);

/*
 * The box of slot for runs of lang (NULL: a command) isolated as tmpl
 * (slot_isolation's spec): this worker's copy while its init lives, else
 * asked of the master.  The caller must hold the slot.  0 with *box, or
 * with *box NULL when the master's isolation differs (a reload in
 * between: the run goes without a box), or -1 with a sentence.
 */
int slot_box_get(struct box_client *c, const struct slot *slot,
		 const struct language *lang, const struct sbx_spec *tmpl,
		 struct sbx_box **box, char *err, size_t errlen);

#endif
