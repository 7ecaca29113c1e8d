/*
 * jsonmem.h - jansson's allocator, counted, so that parsing a request can be
 * given a memory budget.
 *
 * A JSON body can cost far more memory than its size: `[{},{},...]` makes
 * one object of ~100 bytes per 3 bytes of input.  Every jansson allocation
 * goes through jsonmem, which keeps the number of bytes alive; while a
 * budget is set, an allocation that would take the total past it fails, and
 * jansson reports that as an ordinary parse error.
 */
#ifndef RUNBOX_JSONMEM_H
#define RUNBOX_JSONMEM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Route jansson's allocations through the counter.  Call once, first thing
   in main(), before any JSON value exists (a value must be freed by the
   allocator that made it). */
void jsonmem_install(void);

/* From now on allow at most `bytes` more bytes than are alive now. */
void jsonmem_budget_begin(size_t bytes);
/* Lift the budget; true when an allocation was refused since _begin. */
bool jsonmem_budget_end(void);

/* json_dumps(), but the string is plain malloc()'d memory (free() it):
   jansson's own dumps allocates through the hook. */
char *jsonmem_dumps(const json_t *j, size_t flags);

/* Bytes alive in jansson values (headers included). */
size_t jsonmem_live(void);

#endif
