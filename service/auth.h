/*
 * auth.h - bearer tokens.  The tokens file holds SHA-256 hashes only (one
 * per line, hex, then an optional label); a request's token is hashed and
 * compared with every entry in constant time.
 */
#ifndef RUNBOX_AUTH_H
#define RUNBOX_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/sha256.h"

struct auth {
	bool enabled;          /* a tokens file is configured */
	uint8_t (*hashes)[SHA256_LEN];
	size_t n;
};

/* Load path (NULL: auth off).  -1 with "file:line: reason" in err. */
int auth_load(struct auth *a, const char *path, char *err, size_t errlen);
void auth_free(struct auth *a);
/* The Authorization header's value carries a valid token. */
bool auth_check(const struct auth *a, const char *authorization);
/* Longest label: a line (hash, space, label, newline) must fit the
   reader's line buffer (AUTH_LINE_MAX). */
#define AUTH_LABEL_MAX 128
#define AUTH_LINE_MAX 512
/* Make a token, append its hash (and label, one word of at most
   AUTH_LABEL_MAX printable characters) to path, put the token in
   token[64].  The token itself is never stored. */
int auth_add_token(const char *path, const char *label, char token[64],
		   char *err, size_t errlen);

#endif
