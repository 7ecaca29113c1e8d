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
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/auth.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int auth_load(struct auth *a, const char *path, char *err, size_t errlen)
{
	char line[AUTH_LINE_MAX];
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
		if (!strchr(line, '\n') && !feof(f)) {
			/* Read in pieces, a long line would be several lines. */
			snprintf(err, errlen, "%s:%d: line longer than %d bytes", path,
				 lineno, AUTH_LINE_MAX - 2);
			goto fail;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		for (int i = 0; i < SHA256_LEN; i++) {
			int hi = hexval(p[2 * i]), lo = hi < 0 ? -1 : hexval(p[2 * i + 1]);
			if (hi < 0 || lo < 0)
				goto bad;
			h[i] = (uint8_t)(hi << 4 | lo);
		}
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
	sha256(token, strlen(token), h);
	/* Every entry, every byte: the time does not depend on which entry
	   or how much of it matched. */
	for (size_t i = 0; i < a->n; i++) {
		unsigned diff = 0;
		for (int j = 0; j < SHA256_LEN; j++)
			diff |= a->hashes[i][j] ^ h[j];
		match |= (unsigned)(diff == 0);
	}
	return match != 0;
}

int auth_add_token(const char *path, const char *label, char token[64],
		   char *err, size_t errlen)
{
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[30];
	char hex[2 * SHA256_LEN + 1], line[2 * SHA256_LEN + AUTH_LABEL_MAX + 3];
	int fd, n;

	/* Before anything is made: a bad label leaves the file untouched. */
	if (label && (!*label || strlen(label) > AUTH_LABEL_MAX)) {
		snprintf(err, errlen, "the label must be 1 to %d characters long (got %zu)",
			 AUTH_LABEL_MAX, strlen(label));
		return -1;
	}
	for (const char *c = label; c && *c; c++)
		if (!isgraph((unsigned char)*c)) {
			snprintf(err, errlen, "a label is one word of printable characters");
			return -1;
		}
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	/* "rbx_" + 40 base64url characters (240 random bits). */
	memcpy(token, "rbx_", 4);
	for (size_t i = 0; i < sizeof raw / 3; i++) {
		uint32_t v = (uint32_t)raw[3 * i] << 16 | (uint32_t)raw[3 * i + 1] << 8 |
			     raw[3 * i + 2];
		for (int j = 0; j < 4; j++)
			token[4 + 4 * i + (size_t)j] = b64url[(v >> (18 - 6 * j)) & 63];
	}
	token[4 + sizeof raw / 3 * 4] = '\0';
	sha256_hex(token, strlen(token), hex);
	n = snprintf(line, sizeof line, "%s%s%s\n", hex, label ? " " : "", label ? label : "");
	if (n < 0 || (size_t)n >= sizeof line) {
		snprintf(err, errlen, "internal error: the tokens line does not fit");
		return -1;
	}
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
