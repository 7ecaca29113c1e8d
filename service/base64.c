/*
 * base64.c - the API's base64 on libsodium's codec: its original variant
 * with padding is strict (a length that is a multiple of 4, no whitespace,
 * padding only at the end, zero unused bits), which is the contract of
 * base64.h, except for one gap closed here (bytes >= 0x80).  This file
 * adapts it to malloc'd, NUL-terminated buffers and errno.
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

#include "service/base64.h"

#define VARIANT sodium_base64_VARIANT_ORIGINAL

char *b64_encode(const void *data, size_t len, size_t *outlen)
{
	size_t size = sodium_base64_encoded_len(len, VARIANT); /* with the NUL */
	char *out = malloc(size);

	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	sodium_bin2base64(out, size, data ? data : "", len, VARIANT);
	if (outlen)
		*outlen = size - 1;
	return out;
}

int b64_decode(const char *in, size_t inlen, char **out, size_t *outlen)
{
	size_t max = inlen / 4 * 3, got = 0;
	char *buf;

	*out = NULL;
	*outlen = 0;
	if (inlen % 4) {
		errno = EINVAL;
		return -1;
	}
	/* libsodium 1.0.18 (Debian 12) decodes bytes >= 0x80 as if they
	   were alphabet characters: refuse them here. */
	for (size_t i = 0; i < inlen; i++)
		if ((unsigned char)in[i] >= 0x80) {
			errno = EINVAL;
			return -1;
		}
	if (!(buf = malloc(max + 1))) {
		errno = ENOMEM;
		return -1;
	}
	/* No end pointer: input left over after the padding is an error. */
	if (sodium_base642bin((unsigned char *)buf, max, in, inlen, NULL, &got, NULL,
			      VARIANT) != 0) {
		free(buf);
		errno = EINVAL;
		return -1;
	}
	buf[got] = '\0';
	*out = buf;
	*outlen = got;
	return 0;
}
