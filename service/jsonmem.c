/*
 * jsonmem.c - jansson's counted allocator (see jsonmem.h).
 *
 * Each block carries its size in a header in front of it, because
 * jansson's free hook is not told the size.  Workers are single-threaded
 * and the master parses only between its own events, so plain counters do.
 */
#include "config.h"

#include <jansson.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/jsonmem.h"

struct header {
	alignas(max_align_t) size_t size;
};

static size_t live;
static size_t limit = SIZE_MAX;
static bool refused;

static void *counted_malloc(size_t n)
{
	if (n > SIZE_MAX - sizeof(struct header) - live ||
	    live + n + sizeof(struct header) > limit) {
		refused = true;
		return NULL;
	}
	struct header *h = malloc(sizeof *h + n);
	if (!h)
		return NULL;
	h->size = sizeof *h + n;
	live += h->size;
	return h + 1;
}

static void counted_free(void *p)
{
	if (!p)
		return;
	struct header *h = (struct header *)p - 1;
	live -= h->size;
	free(h);
}

void jsonmem_install(void)
{
	json_set_alloc_funcs(counted_malloc, counted_free);
}

void jsonmem_budget_begin(size_t bytes)
{
	refused = false;
	limit = bytes > SIZE_MAX - live ? SIZE_MAX : live + bytes;
}

bool jsonmem_budget_end(void)
{
	limit = SIZE_MAX;
	return refused;
}

size_t jsonmem_live(void)
{
	return live;
}

struct growing {
	char *data;
	size_t len, cap;
};

static int append(const char *buf, size_t n, void *arg)
{
	struct growing *g = arg;

	if (g->len + n + 1 > g->cap) {
		size_t cap = g->cap ? g->cap : 256;
		while (cap < g->len + n + 1)
			cap *= 2;
		char *p = realloc(g->data, cap);
		if (!p)
			return -1;
		g->data = p;
		g->cap = cap;
	}
	memcpy(g->data + g->len, buf, n);
	g->len += n;
	g->data[g->len] = '\0';
	return 0;
}

char *jsonmem_dumps(const json_t *j, size_t flags)
{
	struct growing g = { 0 };

	if (json_dump_callback(j, append, &g, flags) < 0 || !g.data) {
		free(g.data);
		return NULL;
	}
	return g.data;
}
