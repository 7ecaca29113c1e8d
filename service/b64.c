/*
 * b64.c - strict RFC 4648 base64.
 *
 * Four characters carry three bytes.  The last group may end in "==" (one
 * byte) or "=" (two bytes); the bits the last real character carries beyond
 * those bytes must be zero, otherwise two encodings would decode to the same
 * bytes and the decoder would not be strict.
 */
#include "config.h"

#include "service/b64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of an alphabet character, or -1 for anything else. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

char *b64_encode(const void *data, size_t len, size_t *outlen)
{
	const unsigned char *in = data;
	size_t groups, n, i, o;
	char *out;

	groups = len / 3 + (len % 3 != 0);
	if (groups > (SIZE_MAX - 1) / 4) {
		errno = ENOMEM;
		return NULL;
	}
	n = groups * 4;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;

	for (i = 0, o = 0; len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return out;
}

/*
 * Decode one group of four characters into up to three bytes.  Returns the
 * number of bytes (1, 2 or 3), or -1 if the group is invalid.  Padding is
 * allowed only when last is true.
 */
static int b64_decode_group(const unsigned char *g, int last, unsigned char *dst)
{
	int a, b, c, d;

	a = b64_value(g[0]);
	b = b64_value(g[1]);
	if (a < 0 || b < 0)
		return -1;

	if (last && g[2] == '=' && g[3] == '=') {
		if (b & 0x0f)
			return -1; /* non-zero trailing bits */
		dst[0] = (unsigned char)(a << 2 | b >> 4);
		return 1;
	}

	c = b64_value(g[2]);
	if (c < 0)
		return -1;
	if (last && g[3] == '=') {
		if (c & 0x03)
			return -1; /* non-zero trailing bits */
		dst[0] = (unsigned char)(a << 2 | b >> 4);
		dst[1] = (unsigned char)((b & 0x0f) << 4 | c >> 2);
		return 2;
	}

	d = b64_value(g[3]);
	if (d < 0)
		return -1;
	dst[0] = (unsigned char)(a << 2 | b >> 4);
	dst[1] = (unsigned char)((b & 0x0f) << 4 | c >> 2);
	dst[2] = (unsigned char)((c & 0x03) << 6 | d);
	return 3;
}

int b64_decode(const char *in, size_t inlen, char **out, size_t *outlen)
{
	const unsigned char *src = (const unsigned char *)in;
	unsigned char *buf;
	size_t i, o;

	*out = NULL;
	*outlen = 0;
	if (inlen % 4 != 0) {
		errno = EINVAL;
		return -1;
	}

	/* inlen / 4 * 3 cannot overflow; the padding only shortens it. */
	buf = malloc(inlen / 4 * 3 + 1);
	if (buf == NULL)
		return -1;

	for (i = 0, o = 0; i < inlen; i += 4) {
		int n = b64_decode_group(src + i, i + 4 == inlen, buf + o);

		if (n < 0) {
			free(buf);
			errno = EINVAL;
			return -1;
		}
		o += (size_t)n;
	}
	buf[o] = '\0';
	*out = (char *)buf;
	*outlen = o;
	return 0;
}
