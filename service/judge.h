/*
 * judge.h - comparing a program's output with the expected output.
 */
#ifndef RUNBOX_JUDGE_H
#define RUNBOX_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

enum compare_mode {
	COMPARE_EXACT,               /* byte for byte */
	COMPARE_TRAILING_WHITESPACE, /* ignore spaces/tabs/CR at line ends and
					trailing blank lines (the default) */
	COMPARE_TOKENS,              /* the same whitespace-separated tokens */
};

/* "exact", "trailing_whitespace", "tokens" -> mode; -1 if unknown. */
int compare_mode_parse(const char *name);
bool output_matches(const char *got, size_t got_len, const char *want,
		    size_t want_len, enum compare_mode mode);

#endif
