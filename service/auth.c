/*
 * auth.c - bearer tokens stored as SHA-256 hashes.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/auth.h"

int auth_policy_option(struct token_policy *p, const char *word, char *err,
		       size_t errlen)
{
	static const struct { const char *name; size_t off; } opts[] = {
		{ "rate", offsetof(struct token_policy, rate_per_s) },
		{ "burst", offsetof(struct token_policy, burst) },
		{ "concurrency", offsetof(struct token_policy, concurrency) },
	};
	const char *eq = strchr(word, '=');

	for (size_t i = 0; eq && i < sizeof opts / sizeof opts[0]; i++) {
		if (strlen(opts[i].name) != (size_t)(eq - word) ||
		    strncmp(word, opts[i].name, (size_t)(eq - word)) != 0)
			continue;
		char *end;
		errno = 0;
		unsigned long long v = strtoull(eq + 1, &end, 10);
		if (!isdigit((unsigned char)eq[1]) || *end || errno || v < 1 ||
		    v > AUTH_MAX_RATE) {
			snprintf(err, errlen, "%s must be a whole number from 1 to %d",
				 opts[i].name, AUTH_MAX_RATE);
			return -1;
		}
		*(uint64_t *)((char *)p + opts[i].off) = v;
		return 0;
	}
	snprintf(err, errlen, "\"%.40s\" is not rate=N, burst=N or concurrency=N", word);
	return -1;
}

/* A burst defaults to one second's worth of the rate. */
static void policy_complete(struct token_policy *p)
{
	if (p->rate_per_s && !p->burst)
		p->burst = p->rate_per_s;
}

/* "label rate=N burst=N concurrency=N" after a hash: the label is the
   first word without '=', every other word an option. */
static int parse_rest(char *rest, struct token_policy *p, char *err, size_t errlen)
{
	bool labelled = false;
	char *save = NULL;

	memset(p, 0, sizeof *p);
	for (char *w = strtok_r(rest, " \t\r\n", &save); w;
	     w = strtok_r(NULL, " \t\r\n", &save)) {
		if (!strchr(w, '=') && !labelled) {
			labelled = true;
			continue;
		}
		if (auth_policy_option(p, w, err, errlen) < 0)
			return -1;
	}
	if (p->burst && !p->rate_per_s) {
		snprintf(err, errlen, "burst goes with rate");
		return -1;
	}
	policy_complete(p);
	return 0;
}

int auth_load(struct auth *a, const char *path, char *err, size_t errlen)
{
	char line[512], why[128];
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
		struct token_policy pol;
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: the line is longer than %zu bytes",
				 path, lineno, sizeof line - 2);
			goto fail;
		}
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
		if (parse_rest(p + 2 * SHA256_LEN, &pol, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto fail;
		}
		if (a->n == AUTH_MAX_TOKENS) {
			snprintf(err, errlen, "%s:%d: more than %d tokens", path, lineno,
				 AUTH_MAX_TOKENS);
			goto fail;
		}
		void *grown = realloc(a->hashes, (a->n + 1) * sizeof *a->hashes);
		if (grown)
			a->hashes = grown;
		void *grown2 = grown ? realloc(a->policy, (a->n + 1) * sizeof *a->policy) : NULL;
		if (!grown || !grown2) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		a->policy = grown2;
		memcpy(a->hashes[a->n], h, SHA256_LEN);
		a->policy[a->n++] = pol;
		continue;
bad:
		snprintf(err, errlen, "%s:%d: expected a SHA-256 hash (64 hex digits), "
			 "an optional label and rate=N burst=N concurrency=N", path, lineno);
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
	free(a->policy);
	memset(a, 0, sizeof *a);
}

const char *auth_bearer(const char *authorization)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *token = authorization + 7;
	while (*token == ' ')
		token++;
	return *token ? token : NULL;
}

long auth_find(const struct auth *a, const char *authorization)
{
	const char *token = auth_bearer(authorization);
	uint8_t h[SHA256_LEN];
	long found = -1;

	if (!token)
		return -1;
	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	/* Every entry, every byte: the time does not depend on how much of
	   an entry matched. */
	for (size_t i = 0; i < a->n; i++)
		if (sodium_memcmp(a->hashes[i], h, SHA256_LEN) == 0 && found < 0)
			found = (long)i;
	return found;
}

bool auth_check(const struct auth *a, const char *authorization)
{
	return !a->enabled || auth_find(a, authorization) >= 0;
}

int auth_add_token(const char *path, const char *label,
		   const struct token_policy *policy, char token[64],
		   char *err, size_t errlen)
{
	uint8_t raw[30], h[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1], line[320];
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
	if (label && (!*label || strlen(label) > AUTH_MAX_LABEL)) {
		snprintf(err, errlen, "a label is 1 to %d characters", AUTH_MAX_LABEL);
		return -1;
	}
	for (const char *c = label; c && *c; c++)
		if (!isgraph((unsigned char)*c) || *c == '=' || *c == '#') {
			snprintf(err, errlen, "a label is one word of printable characters "
				 "without '=' or '#'");
			return -1;
		}
	n = snprintf(line, sizeof line, "%s%s%s", hex, label ? " " : "", label ? label : "");
	if (policy->rate_per_s)
		n += snprintf(line + n, sizeof line - (size_t)n, " rate=%llu burst=%llu",
			      (unsigned long long)policy->rate_per_s,
			      (unsigned long long)(policy->burst ? policy->burst
								 : policy->rate_per_s));
	if (policy->concurrency)
		n += snprintf(line + n, sizeof line - (size_t)n, " concurrency=%llu",
			      (unsigned long long)policy->concurrency);
	n += snprintf(line + n, sizeof line - (size_t)n, "\n");
	if (n <= 0 || (size_t)n >= sizeof line) {
		snprintf(err, errlen, "the token's line would not fit");
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
