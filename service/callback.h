/*
 * callback.h - a job's callback_url: the result POSTed, signed, when the
 * job ends, with bounded retries (docs/API.md, "Callbacks").
 *
 * The signing key of a job is HMAC-SHA256(key = the caller's token,
 * message = "runbox-callback-v1"): the caller computes it from its token,
 * and runboxd, which keeps only SHA-256 hashes of tokens, can compute it
 * only while a request carries the token.  So it is derived at submit and
 * stored encrypted (XSalsa20-Poly1305, libsodium secretbox) under a key of
 * the service's own, jobs.state_dir/callback.key (0600, made at first
 * start): the store alone never yields it.
 */
#ifndef RUNBOX_CALLBACK_H
#define RUNBOX_CALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "service/api.h"
#include "service/jobstore.h"

#define CALLBACK_KEY_BYTES 32
#define CALLBACK_SEALED_BYTES JOB_SEALED_KEY /* nonce 24, MAC 16, key 32 */

/* Load jobs.state_dir/callback.key, making it the first time: 0 or -1
   with err. */
int callback_server_key(const char *dir, uint8_t key[CALLBACK_KEY_BYTES], char *err,
			size_t errlen);

/* The job's signing key from the Authorization header's token, sealed
   under the server key: 0, or -1 (no token). */
int callback_seal_key(const char *authorization, const uint8_t server[CALLBACK_KEY_BYTES],
		      uint8_t sealed[CALLBACK_SEALED_BYTES]);

/* The callback sender (a thread of each runner): sends due callbacks from
   the store until the process ends. */
void *callback_thread(void *svc);

#endif
