/*
 * base64.h - standard base64 (RFC 4648 section 4: the '+/' alphabet with '='
 * padding), used for binary file contents and binary output in the JSON API.
 *
 * The decoder is strict on purpose: every byte string has exactly one
 * accepted encoding, so a client that sends something slightly wrong gets an
 * error instead of silently different bytes.
 */
#ifndef RUNBOX_BASE64_H
#define RUNBOX_BASE64_H

#include <stddef.h>

/*
 * Encode len bytes.  Returns a malloc'd, NUL-terminated string and stores
 * its length (without the NUL) in *outlen when outlen is not NULL.
 * Returns NULL only when memory runs out (errno = ENOMEM).
 */
char *b64_encode(const void *data, size_t len, size_t *outlen);

/*
 * Decode inlen characters of in (in need not be NUL-terminated).
 *
 * Accepted: a length that is a multiple of 4, only alphabet characters,
 * '=' only as the last one or two characters of the input, and zero
 * bits in the unused low bits of the last character before the padding.
 * Rejected: anything else, including whitespace and the URL-safe '-_'.
 *
 * Returns 0 with *out malloc'd (NUL-terminated for convenience; the data
 * may itself contain NULs) and *outlen set; empty input gives an empty,
 * non-NULL buffer.  Returns -1 with *out = NULL and *outlen = 0 on invalid
 * input (errno = EINVAL) or when memory runs out (errno = ENOMEM).
 */
int b64_decode(const char *in, size_t inlen, char **out, size_t *outlen);

#endif
