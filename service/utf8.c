/*
 * utf8.c - UTF-8 validation and repair.
 *
 * Everything rests on utf8_seq_len(), which recognises one well-formed
 * sequence by the byte ranges of Unicode table 3-7.  Checking ranges of the
 * second byte (rather than decoding and then range-checking the code point)
 * rejects overlong forms, surrogates and values above U+10FFFF in one place:
 *
 *   00..7F
 *   C2..DF  80..BF
 *   E0      A0..BF  80..BF      (E0 80..9F would be overlong)
 *   E1..EC  80..BF  80..BF
 *   ED      80..9F  80..BF      (ED A0..BF would be a surrogate)
 *   EE..EF  80..BF  80..BF
 *   F0      90..BF  80..BF 80..BF   (F0 80..8F would be overlong)
 *   F1..F3  80..BF  80..BF 80..BF
 *   F4      80..8F  80..BF 80..BF   (F4 90.. would be above U+10FFFF)
 *
 * C0, C1 and F5..FF never start a sequence.  When no sequence starts at a
 * byte, that single byte is invalid; the scan moves on by one byte, so each
 * invalid byte is replaced on its own.
 */
#include "config.h"

#include "service/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char replacement[3] = { '\xef', '\xbf', '\xbd' }; /* U+FFFD */

static bool is_cont(unsigned char c)
{
	return c >= 0x80 && c <= 0xbf;
}

/*
 * The length (1 to 4) of the well-formed sequence that starts at p, of
 * which avail bytes are available, or 0 if none starts there.
 */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the 2nd byte */
	size_t n;

	if (c <= 0x7f)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;

	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;

	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	if (n >= 3 && !is_cont(p[2]))
		return 0;
	if (n == 4 && !is_cont(p[3]))
		return 0;
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

char *utf8_sanitize(const char *data, size_t len, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i, n, size = 0;
	char *out, *o;

	/* Each input byte becomes at most three output bytes. */
	if (len > (SIZE_MAX - 1) / 3) {
		errno = ENOMEM;
		return NULL;
	}

	/* First pass: the exact output size, so large outputs are not
	 * over-allocated threefold. */
	for (i = 0; i < len; i += n) {
		n = utf8_seq_len(p + i, len - i);
		if (n == 0) {
			size += sizeof(replacement);
			n = 1;
		} else {
			size += n;
		}
	}

	out = malloc(size + 1);
	if (out == NULL)
		return NULL;

	o = out;
	for (i = 0; i < len; i += n) {
		n = utf8_seq_len(p + i, len - i);
		if (n == 0) {
			memcpy(o, replacement, sizeof(replacement));
			o += sizeof(replacement);
			n = 1;
		} else {
			memcpy(o, p + i, n);
			o += n;
		}
	}
	*o = '\0';
	if (outlen != NULL)
		*outlen = size;
	return out;
}

void utf8_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	unsigned char *p = (unsigned char *)buf;
	size_t len, i = 0, o = 0;

	if (!size)
		return;
	vsnprintf(buf, size, fmt, ap);
	len = strlen(buf);
	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);
		if (!n) {
			i++;
			continue;
		}
		memmove(p + o, p + i, n);
		o += n;
		i += n;
	}
	buf[o] = '\0';
}

void utf8_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	utf8_vformat(buf, size, fmt, ap);
	va_end(ap);
}
