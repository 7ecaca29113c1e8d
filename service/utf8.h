/*
 * utf8.h - UTF-8 validation and repair for text that goes into JSON.
 *
 * A program's output is arbitrary bytes, but a JSON string must be valid
 * UTF-8 (jansson refuses anything else).  "Valid" here is the Unicode
 * definition (Unicode 15, table 3-7): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences.
 * NUL is a valid character.
 */
#ifndef RUNBOX_UTF8_H
#define RUNBOX_UTF8_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* true if the len bytes at s are well-formed UTF-8 (an empty string is). */
bool utf8_valid(const char *s, size_t len);

/*
 * A malloc'd, NUL-terminated copy of the len bytes at data in which every
 * byte that is not part of a well-formed sequence is replaced by U+FFFD
 * (EF BF BD): one replacement per invalid byte, so a truncated 3-byte
 * sequence becomes two replacements.  Well-formed sequences, including
 * NUL bytes, are copied unchanged.  Stores the output length (without the
 * terminating NUL) in *outlen when outlen is not NULL.  Returns NULL only
 * when memory runs out (errno = ENOMEM).
 */
char *utf8_sanitize(const char *data, size_t len, size_t *outlen);

/*
 * vsnprintf into buf (size > 0), then drop in place every byte that is not
 * part of a well-formed sequence.  A precision ("%.200s") or the buffer's
 * size that cut a character of a quoted name in two leaves no half of it
 * behind: every error message about user text is formatted through here,
 * so it stays a valid JSON string (jansson refuses anything else).
 */
void utf8_vformat(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void utf8_format(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
