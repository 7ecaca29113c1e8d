/*
 * auth.c - bearer tokens stored as SHA-256 hashes.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/auth.h"

int auth_load(struct auth *a, const char *path, char *err, size_t errlen)
{
	char line[512];
	FILE *f;
	int lineno = 0;

	memset(a, 0, sizeof *a);
	if (!path)
		return 0;
	a->enabled = true;
	if (!(f = fopen(path, "re"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *p = line;
		uint8_t h[SHA256_LEN];
		lineno++;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		size_t got = 0;
		const char *end = NULL;
		if (sodium_hex2bin(h, sizeof h, p, 2 * SHA256_LEN, NULL, &got, &end) != 0 ||
		    got != SHA256_LEN || end != p + 2 * SHA256_LEN)
			goto bad;
		if (p[2 * SHA256_LEN] && !isspace((unsigned char)p[2 * SHA256_LEN]))
			goto bad;
		void *grown = realloc(a->hashes, (a->n + 1) * sizeof *a->hashes);
		if (!grown) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		a->hashes = grown;
		memcpy(a->hashes[a->n++], h, SHA256_LEN);
		continue;
bad:
		snprintf(err, errlen, "%s:%d: expected a SHA-256 hash (64 hex digits) "
			 "and an optional label", path, lineno);
		goto fail;
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	auth_free(a);
	return -1;
}

void auth_free(struct auth *a)
{
	free(a->hashes);
	memset(a, 0, sizeof *a);
}

bool auth_check(const struct auth *a, const char *authorization)
{
	uint8_t h[SHA256_LEN];
	unsigned match = 0;

	if (!a->enabled)
		return true;
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	const char *token = authorization + 7;
	while (*token == ' ')
		token++;
	if (!*token)
		return false;
	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	/* Every entry, every byte: the time does not depend on which entry
	   or how much of it matched. */
	for (size_t i = 0; i < a->n; i++)
		match |= (unsigned)(sodium_memcmp(a->hashes[i], h, SHA256_LEN) == 0);
	return match != 0;
}

int auth_add_token(const char *path, const char *label, char token[64],
		   char *err, size_t errlen)
{
	uint8_t raw[30], h[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1], line[256];
	int fd, n;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium could not be initialised");
		return -1;
	}
	/* "rbx_" + 40 base64url characters (240 random bits). */
	randombytes_buf(raw, sizeof raw);
	memcpy(token, "rbx_", 4);
	sodium_bin2base64(token + 4, 64 - 4, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	for (const char *c = label; c && *c; c++)
		if (!isgraph((unsigned char)*c)) {
			snprintf(err, errlen, "a label is one word of printable characters");
			return -1;
		}
	n = snprintf(line, sizeof line, "%s%s%s\n", hex, label ? " " : "", label ? label : "");
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
