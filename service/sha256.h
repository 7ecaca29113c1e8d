/*
 * sha256.h - SHA-256 (FIPS 180-4), for API token hashes.
 */
#ifndef RUNBOX_SHA256_H
#define RUNBOX_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
/* Lower-case hex of the digest into hex[65]. */
void sha256_hex(const void *data, size_t len, char hex[2 * SHA256_LEN + 1]);

#endif
