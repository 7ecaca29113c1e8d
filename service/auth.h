/*
 * auth.h - bearer tokens.  The tokens file holds SHA-256 hashes only (one
 * per line, hex, then an optional label); a request's token is hashed and
 * compared with every entry in constant time.  Hashing, hex, comparison and
 * the random bytes of new tokens are libsodium's.
 */
#ifndef RUNBOX_AUTH_H
#define RUNBOX_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define SHA256_LEN crypto_hash_sha256_BYTES

/* What a token may do; 0 is "no limit".  Stored after the hash in the
   tokens file as rate=N burst=N concurrency=N. */
struct token_policy {
	uint64_t rate_per_s;   /* requests per second, refilled continuously */
	uint64_t burst;        /* requests at once above the rate (>= 1) */
	uint64_t concurrency;  /* runs in flight at once */
};

#define AUTH_MAX_TOKENS 1024
#define AUTH_MAX_LABEL 128
#define AUTH_MAX_RATE 1000000

struct auth {
	bool enabled;          /* a tokens file is configured */
	uint8_t (*hashes)[SHA256_LEN];
	struct token_policy *policy;
	size_t n;
};

/* The token of an "Authorization: Bearer <token>" value (spaces after
   "Bearer" skipped), or NULL when there is none. */
const char *auth_bearer(const char *authorization);

/* Load path (NULL: auth off).  -1 with "file:line: reason" in err. */
int auth_load(struct auth *a, const char *path, char *err, size_t errlen);
void auth_free(struct auth *a);
/* The index of the token the Authorization header's value carries, or -1
   (none, or not a valid one).  Every entry is compared in constant time. */
long auth_find(const struct auth *a, const char *authorization);
/* The Authorization header's value carries a valid token (always true
   when auth is off). */
bool auth_check(const struct auth *a, const char *authorization);
/* Parse "rate=N", "burst=N" or "concurrency=N" into p; -1 with err. */
int auth_policy_option(struct token_policy *p, const char *word, char *err,
		       size_t errlen);
/* Make a token, append its hash, label and policy to path, put the token
   in token[64].  The token itself is never stored. */
int auth_add_token(const char *path, const char *label,
		   const struct token_policy *policy, char token[64],
		   char *err, size_t errlen);

#endif
