/*
 * judge.c - output comparison for test cases.
 */
#include "config.h"

#include <string.h>

#include "service/judge.h"

int compare_mode_parse(const char *name)
{
	if (!strcmp(name, "exact"))
		return COMPARE_EXACT;
	if (!strcmp(name, "trailing_whitespace"))
		return COMPARE_TRAILING_WHITESPACE;
	if (!strcmp(name, "tokens"))
		return COMPARE_TOKENS;
	return -1;
}

/* The one definition of whitespace, for every mode: the C locale's
   isspace().  A blank is whitespace that does not end a line. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_space(char c)
{
	return c == '\n' || is_blank(c);
}

/* Length of s without trailing blank lines and line-end blanks. */
static size_t content_end(const char *s, size_t len)
{
	while (len && is_space(s[len - 1]))
		len--;
	return len;
}

/* Next line of s[*pos..end), without its line-end blanks. */
static bool next_line(const char *s, size_t end, size_t *pos, const char **line,
		      size_t *len)
{
	if (*pos > end)
		return false;
	const char *start = s + *pos;
	const char *nl = memchr(start, '\n', end - *pos);
	size_t n = nl ? (size_t)(nl - start) : end - *pos;
	*pos += n + 1;
	while (n && is_blank(start[n - 1]))
		n--;
	*line = start;
	*len = n;
	return true;
}

static bool match_lines(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t ae = content_end(a, alen), be = content_end(b, blen);
	size_t ap = 0, bp = 0;
	const char *la, *lb;
	size_t na, nb;

	for (;;) {
		bool ha = next_line(a, ae, &ap, &la, &na);
		bool hb = next_line(b, be, &bp, &lb, &nb);
		if (!ha || !hb)
			return ha == hb;
		if (na != nb || memcmp(la, lb, na))
			return false;
	}
}

static bool next_token(const char *s, size_t len, size_t *pos, const char **tok,
		       size_t *tlen)
{
	while (*pos < len && is_space(s[*pos]))
		(*pos)++;
	if (*pos >= len)
		return false;
	*tok = s + *pos;
	while (*pos < len && !is_space(s[*pos]))
		(*pos)++;
	*tlen = (size_t)(s + *pos - *tok);
	return true;
}

static bool match_tokens(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t ap = 0, bp = 0, na, nb;
	const char *ta, *tb;

	for (;;) {
		bool ha = next_token(a, alen, &ap, &ta, &na);
		bool hb = next_token(b, blen, &bp, &tb, &nb);
		if (!ha || !hb)
			return ha == hb;
		if (na != nb || memcmp(ta, tb, na))
			return false;
	}
}

bool output_matches(const char *got, size_t got_len, const char *want,
		    size_t want_len, enum compare_mode mode)
{
	switch (mode) {
	case COMPARE_EXACT:
		return got_len == want_len && !memcmp(got, want, got_len);
	case COMPARE_TRAILING_WHITESPACE:
		return match_lines(got, got_len, want, want_len);
	case COMPARE_TOKENS:
		return match_tokens(got, got_len, want, want_len);
	}
	return false;
}
