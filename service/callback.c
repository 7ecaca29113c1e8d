/*
 * callback.c - signed callbacks of finished jobs (see callback.h).
 *
 * The queue of callbacks is the store itself: a job finished with a
 * callback_url is "pending" with a due time.  Every runner has a sender
 * thread that takes a due one with a lease (the due time moved past the
 * attempt's end, in one conditional UPDATE, so two senders never send the
 * same attempt), POSTs it, and marks it sent, or due again after a backoff
 * of 1, 2, 4... s, or failed after jobs.callback_attempts tries.  A sender
 * that dies mid-attempt leaves a lease that runs out: the attempt is made
 * again.  The receiver may see a callback twice and must dedupe on the
 * job id (X-Runbox-Job).
 *
 * What the request may reach: the URL as given (it starts with an
 * allow-listed prefix, checked at submit), no redirect followed, no proxy
 * from the environment, http and https only.
 *
 * Signature: X-Runbox-Timestamp is the Unix time of the attempt;
 * X-Runbox-Signature is "sha256=" and the hex HMAC-SHA256, keyed with the
 * job's key, of the timestamp, ".", and the body.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service/auth.h"
#include "service/callback.h"
#include "service/jobs.h"
#include "service/jobstore.h"
#include "service/jsonmem.h"
#include "service/log.h"

static const char context[] = "runbox-callback-v1";

int callback_server_key(const char *dir, uint8_t key[CALLBACK_KEY_BYTES], char *err,
			size_t errlen)
{
	char path[4096];
	struct stat st;
	int fd;

	snprintf(path, sizeof path, "%s/callback.key", dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			randombytes_buf(key, CALLBACK_KEY_BYTES);
			bool ok = write(fd, key, CALLBACK_KEY_BYTES) == CALLBACK_KEY_BYTES &&
				  fsync(fd) == 0;
			close(fd);
			if (ok)
				return 0;
			unlink(path);
			snprintf(err, errlen, "%s: cannot be written", path);
			return -1;
		}
		if (errno == EEXIST) /* another process made it first */
			fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) || read(fd, key, CALLBACK_KEY_BYTES) != CALLBACK_KEY_BYTES) {
		close(fd);
		snprintf(err, errlen, "%s must be a %d-byte file of uid %u, mode 0600", path,
			 CALLBACK_KEY_BYTES, (unsigned)geteuid());
		return -1;
	}
	close(fd);
	return 0;
}

int callback_seal_key(const char *authorization, const uint8_t server[CALLBACK_KEY_BYTES],
		      uint8_t sealed[CALLBACK_SEALED_BYTES])
{
	crypto_auth_hmacsha256_state st;
	uint8_t key[CALLBACK_KEY_BYTES];
	const char *token = auth_bearer(authorization);

	if (!token)
		return -1;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)token, strlen(token));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)context, sizeof context - 1);
	crypto_auth_hmacsha256_final(&st, key);
	randombytes_buf(sealed, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, key, sizeof key, sealed,
			      server);
	sodium_memzero(key, sizeof key);
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* One attempt: 0 when the receiver answered 2xx, else -1 with why. */
static int post(const struct config *cfg, const char *url, const char *id,
		const char *body, const uint8_t key[CALLBACK_KEY_BYTES], char *why,
		size_t whylen)
{
	char ts[32], sig[crypto_auth_hmacsha256_BYTES * 2 + 1];
	char h_ts[64], h_sig[128], h_job[128];
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	struct curl_slist *hdrs = NULL;
	long code = 0;
	int rc = -1;

	snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
	crypto_auth_hmacsha256_init(&st, key, CALLBACK_KEY_BYTES);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(sig, sizeof sig, mac, sizeof mac);
	snprintf(h_ts, sizeof h_ts, "X-Runbox-Timestamp: %s", ts);
	snprintf(h_sig, sizeof h_sig, "X-Runbox-Signature: sha256=%s", sig);
	snprintf(h_job, sizeof h_job, "X-Runbox-Job: %s", id);

	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(why, whylen, "libcurl could not be initialised");
		return -1;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, h_ts);
	hdrs = curl_slist_append(hdrs, h_sig);
	hdrs = curl_slist_append(hdrs, h_job);
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_USERAGENT, "runboxd/" PACKAGE_VERSION);
	/* Only where it was told: no redirects, no proxy, http(s) only. */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->jobs_callback_timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && code < 300)
			rc = 0;
		else
			snprintf(why, whylen, "the receiver answered HTTP %ld%s", code,
				 code >= 300 && code < 400 ? " (redirects are not followed)" : "");
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

/* The callback of seq: the body (the job as GET shows it) and the key. */
static int send_one(struct service *svc, struct jobstore *js, const struct callback_due *due,
		    const uint8_t server[CALLBACK_KEY_BYTES], char *why, size_t whylen)
{
	struct job_row row;
	uint8_t key[CALLBACK_KEY_BYTES];
	char err[512];
	int rc = -1;

	if (jobstore_get(js, due->id, &row, err, sizeof err) != 0) {
		snprintf(why, whylen, "the job is gone");
		return -1;
	}
	if (crypto_secretbox_open_easy(key, due->sealed + crypto_secretbox_NONCEBYTES,
				       CALLBACK_SEALED_BYTES - crypto_secretbox_NONCEBYTES,
				       due->sealed, server) != 0) {
		snprintf(why, whylen, "its key cannot be opened (callback.key changed?)");
		job_row_free(&row);
		return -1;
	}
	json_t *o = jobs_row_json(&row);
	char *body = o ? jsonmem_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (body)
		rc = post(&svc->cfg, row.callback_url, row.id, body, key, why, whylen);
	else
		snprintf(why, whylen, "out of memory");
	sodium_memzero(key, sizeof key);
	free(body);
	job_row_free(&row);
	return rc;
}

void *callback_thread(void *arg)
{
	struct service *svc = arg;
	uint8_t server[CALLBACK_KEY_BYTES];
	char err[512];
	struct jobstore *js = jobstore_open(svc->cfg.jobs_state_dir, err, sizeof err);

	if (!js || callback_server_key(svc->cfg.jobs_state_dir, server, err, sizeof err) < 0) {
		log_msg(LOG_ERR, "callbacks will not be sent: %s", err);
		jobstore_close(js);
		return NULL;
	}
	for (;;) {
		struct callback_due due;
		char why[300];
		/* The lease: this attempt's longest, and a margin. */
		int64_t lease = (int64_t)svc->cfg.jobs_callback_timeout_ms + 10000;
		int rc = jobstore_callback_take(js, lease, &due);
		if (rc != 0) {
			struct timespec ts = { 0, 200 * 1000000L };
			nanosleep(&ts, NULL);
			continue;
		}
		if (send_one(svc, js, &due, server, why, sizeof why) == 0) {
			jobstore_callback_done(js, due.seq, true, 0, NULL);
			log_msg(LOG_INFO, "job %s: callback delivered", due.id);
			continue;
		}
		bool last = due.attempts + 1 >= svc->cfg.jobs_callback_attempts;
		int64_t backoff = 1000LL << (due.attempts < 10 ? due.attempts : 10);
		jobstore_callback_done(js, due.seq, false, last ? 0 : backoff, why);
		log_msg(LOG_WARNING, "job %s: callback attempt %u failed: %s%s", due.id,
			due.attempts + 1, why, last ? "; giving up" : "");
	}
	return NULL;
}
