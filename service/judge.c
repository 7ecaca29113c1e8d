/*
 * judge.c - output comparison for test cases, and the verdicts: each
 * test's and the request's status, in one place.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "service/execute.h"
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

bool judge_accepts(const struct job *job, const struct job_test *t,
		   const struct sbx_result *run)
{
	if (run->status != SBX_OK)
		return false;
	return !t->expected || output_matches(run->out.data, run->out.len, t->expected,
					      t->expected_len, job->compare);
}

const char *judge_verdict(const struct test_outcome *t)
{
	if (t->skipped)
		return "skipped";
	if (t->accepted)
		return "accepted";
	if (t->run.status == SBX_OK)
		return "wrong_answer";
	return sbx_status_name(t->run.status);
}

const char *judge_status_name(int status)
{
	if (status == JUDGE_COMPILE_ERROR)
		return "compile_error";
	if (status == JUDGE_WRONG_ANSWER)
		return "wrong_answer";
	return sbx_status_name((enum sbx_status)status);
}

static void set_status(struct judge_summary *s, int status)
{
	s->status = status;
	s->name = judge_status_name(status);
}

static void conclude_tests(const struct job_result *res, struct judge_summary *s)
{
	size_t first = SIZE_MAX;

	for (size_t i = 0; i < res->ntests; i++) {
		const struct test_outcome *t = &res->tests[i];
		if (t->skipped)
			s->skipped++;
		else if (t->accepted)
			s->passed++;
		else if (s->failed++ == 0)
			first = i;
	}
	if (res->cancelled) {
		set_status(s, SBX_CANCELLED);
		snprintf(s->message, sizeof s->message, "cancelled: the client went away "
			 "(%zu of %zu tests not run)", res->abandoned, res->ntests);
	} else if (first == SIZE_MAX) {
		set_status(s, SBX_OK);
		snprintf(s->message, sizeof s->message, "all %zu tests passed", res->ntests);
	} else {
		const struct test_outcome *t = &res->tests[first];
		if (t->run.status == SBX_OK) {
			set_status(s, JUDGE_WRONG_ANSWER);
			snprintf(s->message, sizeof s->message, "test %zu of %zu: wrong answer",
				 first + 1, res->ntests);
		} else {
			set_status(s, (int)t->run.status);
			snprintf(s->message, sizeof s->message, "test %zu of %zu: %s",
				 first + 1, res->ntests, t->run.message);
		}
	}
}

void judge_conclude(const struct job_result *res, struct judge_summary *s)
{
	memset(s, 0, sizeof *s);
	if (res->tests) {
		conclude_tests(res, s);
	} else if (res->ran && !res->cancelled) {
		set_status(s, (int)res->run.status);
		snprintf(s->message, sizeof s->message, "%s", res->run.message);
	} else if (res->cancelled) {
		set_status(s, SBX_CANCELLED);
		snprintf(s->message, sizeof s->message, "cancelled: the client went away%s",
			 res->ran ? "" : " before the program started");
	} else {
		set_status(s, JUDGE_COMPILE_ERROR);
		snprintf(s->message, sizeof s->message, "compilation failed: %s",
			 res->compile.message);
	}
}
