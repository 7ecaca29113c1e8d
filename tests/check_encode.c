/*
 * check_encode.c - base64 and UTF-8 repair, the two encodings between a
 * program's bytes and the JSON API.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/base64.h"
#include "service/utf8.h"

/* A small deterministic generator, so failures reproduce. */
static uint64_t rng_state = 0x243f6a8885a308d3u;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- base64 ------------------------------------------------------------ */

static void check_encodes_to(const char *plain, size_t len, const char *encoded)
{
	char *out, *back;
	size_t outlen, backlen;

	out = b64_encode(plain, len, &outlen);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, encoded);
	ck_assert_uint_eq(outlen, strlen(encoded));

	ck_assert_int_eq(b64_decode(encoded, strlen(encoded), &back, &backlen), 0);
	ck_assert_ptr_nonnull(back);
	ck_assert_uint_eq(backlen, len);
	ck_assert_mem_eq(back, plain, len);
	ck_assert_int_eq(back[backlen], '\0');
	free(out);
	free(back);
}

static void check_rejected(const char *in, size_t inlen)
{
	static char untouched[] = "untouched";
	char *out = untouched;
	size_t outlen = 42;

	errno = 0;
	ck_assert_msg(b64_decode(in, inlen, &out, &outlen) == -1,
		      "accepted invalid base64 \"%.*s\" (%zu bytes)", (int)inlen, in, inlen);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(outlen, 0);
}

static void check_rejected_str(const char *in)
{
	check_rejected(in, strlen(in));
}

START_TEST(test_b64_rfc4648_vectors)
{
	/* RFC 4648 section 10 */
	check_encodes_to("", 0, "");
	check_encodes_to("f", 1, "Zg==");
	check_encodes_to("fo", 2, "Zm8=");
	check_encodes_to("foo", 3, "Zm9v");
	check_encodes_to("foob", 4, "Zm9vYg==");
	check_encodes_to("fooba", 5, "Zm9vYmE=");
	check_encodes_to("foobar", 6, "Zm9vYmFy");
	/* both ends of the alphabet, and NULs */
	check_encodes_to("\xfb\xff\xbf", 3, "+/+/");
	check_encodes_to("\0\0\0", 3, "AAAA");
	check_encodes_to("\0", 1, "AA==");
}
END_TEST

START_TEST(test_b64_empty)
{
	char *out = NULL;
	size_t outlen = 42;
	char *enc;

	enc = b64_encode(NULL, 0, NULL);
	ck_assert_ptr_nonnull(enc);
	ck_assert_str_eq(enc, "");
	free(enc);

	ck_assert_int_eq(b64_decode("", 0, &out, &outlen), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(outlen, 0);
	ck_assert_int_eq(out[0], '\0');
	free(out);

	/* inlen counts, not the NUL */
	ck_assert_int_eq(b64_decode("Zg==garbage", 4, &out, &outlen), 0);
	ck_assert_uint_eq(outlen, 1);
	ck_assert_int_eq(out[0], 'f');
	free(out);
}
END_TEST

START_TEST(test_b64_all_bytes)
{
	unsigned char all[256];
	char *enc, *dec;
	size_t enclen, declen;
	int i;

	for (i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	enc = b64_encode(all, sizeof(all), &enclen);
	ck_assert_ptr_nonnull(enc);
	ck_assert_uint_eq(enclen, 344);
	ck_assert_uint_eq(strlen(enc), enclen);
	ck_assert_int_eq(b64_decode(enc, enclen, &dec, &declen), 0);
	ck_assert_uint_eq(declen, 256);
	ck_assert_mem_eq(dec, all, 256);
	free(enc);
	free(dec);

	/* each byte value alone, in each position of a group */
	for (i = 0; i < 256; i++) {
		unsigned char three[3] = { (unsigned char)i, (unsigned char)(255 - i), (unsigned char)i };
		size_t n;

		for (n = 1; n <= 3; n++) {
			enc = b64_encode(three, n, &enclen);
			ck_assert_ptr_nonnull(enc);
			ck_assert_uint_eq(enclen, 4);
			ck_assert_int_eq(b64_decode(enc, enclen, &dec, &declen), 0);
			ck_assert_uint_eq(declen, n);
			ck_assert_mem_eq(dec, three, n);
			free(enc);
			free(dec);
		}
	}
}
END_TEST

START_TEST(test_b64_random_round_trip)
{
	size_t len;

	for (len = 0; len < 2100; len += (len < 64 ? 1 : 37)) {
		unsigned char *blob = malloc(len + 1);
		char *enc, *dec;
		size_t enclen, declen, i;

		ck_assert_ptr_nonnull(blob);
		for (i = 0; i < len; i++)
			blob[i] = (unsigned char)rng_next();
		enc = b64_encode(blob, len, &enclen);
		ck_assert_ptr_nonnull(enc);
		ck_assert_uint_eq(enclen, (len + 2) / 3 * 4);
		ck_assert_uint_eq(strlen(enc), enclen);
		ck_assert_int_eq(b64_decode(enc, enclen, &dec, &declen), 0);
		ck_assert_uint_eq(declen, len);
		ck_assert_mem_eq(dec, blob, len);
		ck_assert_int_eq(dec[declen], '\0');
		free(enc);
		free(dec);
		free(blob);
	}
}
END_TEST

START_TEST(test_b64_invalid_forms)
{
	/* wrong length */
	check_rejected_str("Z");
	check_rejected_str("Zg");
	check_rejected_str("Zg=");
	check_rejected_str("Zm9vY");
	check_rejected_str("Zm9vYg=");
	check_rejected_str("Zm9vYg===");
	/* bad characters */
	check_rejected_str("Zm9*");
	check_rejected_str("Zm-v");   /* URL-safe alphabet */
	check_rejected_str("Zm_v");
	check_rejected_str("Zm9v\xc3\xa9YQ=");
	check_rejected("Zm\0v", 4);
	check_rejected_str("Zm9\x80");
	/* bad padding */
	check_rejected_str("====");
	check_rejected_str("Z===");
	check_rejected_str("=Zg=");
	check_rejected_str("==Zg");
	check_rejected_str("Z=g=");
	check_rejected_str("Zg=a");
	check_rejected_str("Zm=v");
	/* padding in the middle */
	check_rejected_str("Zg==Zg==");
	check_rejected_str("Zm8=Zm9v");
	check_rejected_str("Zg==AAAA");
	/* non-zero trailing bits: "Zg==" and "Zm8=" are the canonical ones */
	check_rejected_str("Zh==");
	check_rejected_str("Zv==");
	check_rejected_str("Zm9=");
	check_rejected_str("Zm+=");
	/* whitespace anywhere */
	check_rejected_str(" Zm9v");
	check_rejected_str("Zm9v ");
	check_rejected_str("Zm9v\nZm9v");
	check_rejected_str("Zm 9v");
	check_rejected_str("Zm9v\r\n");
	check_rejected_str("Zm\t9");
}
END_TEST

/*
 * Strictness as a property: a 4-character group decodes iff it is the
 * encoding of what it decodes to.  Every first three characters from the
 * alphabet plus '=' and a few strangers, and a last character from a
 * sample that includes '=': so every xx== and xxx= group is tried.
 */
START_TEST(test_b64_canonical_only)
{
	static const char chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= -_.\n";
	static const char last[] = "=AQgw/+9 \n-";
	size_t nchars = sizeof(chars) - 1;
	size_t a, b, c, d, accepted = 0;

	for (a = 0; a < nchars; a++)
		for (b = 0; b < nchars; b++)
			for (c = 0; c < nchars; c++)
				for (d = 0; d < sizeof(last) - 1; d++) {
					char g[4] = { chars[a], chars[b], chars[c], last[d] };
					char *dec, *enc;
					size_t declen, enclen;

					if (b64_decode(g, 4, &dec, &declen) != 0)
						continue;
					accepted++;
					enc = b64_encode(dec, declen, &enclen);
					/* if + ck_abort: ck_assert in a hot loop
					 * costs a message to the runner each */
					if (enc == NULL || enclen != 4 || memcmp(enc, g, 4) != 0)
						ck_abort_msg("accepted \"%.4s\", which encodes back as \"%s\"",
							     g, enc != NULL ? enc : "(null)");
					free(enc);
					free(dec);
				}
	/* all 64*64/16 xx== groups are there, so something was accepted */
	ck_assert_uint_gt(accepted, 256);
}
END_TEST

/* Every position of a valid encoding, replaced by every non-alphabet
 * byte, is rejected. */
START_TEST(test_b64_every_bad_byte)
{
	const char *good = "Zm9vYmFy";
	int pos, c;

	for (pos = 0; pos < 8; pos++)
		for (c = 0; c < 256; c++) {
			char s[8];

			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '+' || c == '/')
				continue;
			memcpy(s, good, 8);
			s[pos] = (char)c;
			check_rejected(s, 8);
		}
}
END_TEST

/* ---- UTF-8 ------------------------------------------------------------- */

/* Sanitize and compare with the expected output. */
static void check_sanitizes_to(const char *in, size_t inlen, const char *want, size_t wantlen)
{
	size_t outlen = 12345;
	char *out = utf8_sanitize(in, inlen, &outlen);

	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(outlen, wantlen);
	ck_assert_mem_eq(out, want, wantlen);
	ck_assert_int_eq(out[outlen], '\0');
	ck_assert(utf8_valid(out, outlen));
	free(out);
}

#define FFFD "\xef\xbf\xbd"
#define SANITIZES_TO(in, want) \
	check_sanitizes_to(in, sizeof(in) - 1, want, sizeof(want) - 1)
#define UNCHANGED(in) SANITIZES_TO(in, in)

START_TEST(test_utf8_valid_unchanged)
{
	UNCHANGED("");
	UNCHANGED("plain ASCII, with punctuation ~!@#$%^&*()\t\r\n\x7f");
	UNCHANGED("\xc2\x80 \xc3\xa9 \xdf\xbf");            /* 2 bytes: U+0080 U+00E9 U+07FF */
	UNCHANGED("\xe0\xa0\x80 \xe2\x82\xac \xef\xbf\xbf"); /* 3 bytes: U+0800 U+20AC U+FFFF */
	UNCHANGED("\xed\x9f\xbf \xee\x80\x80");             /* U+D7FF U+E000, around surrogates */
	UNCHANGED("\xf0\x90\x80\x80 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"); /* U+10000 U+1F600 U+10FFFF */
	UNCHANGED(FFFD);
	UNCHANGED("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xd0\xa0\xd1\x83\xd1\x81\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9");

	ck_assert(utf8_valid("", 0));
	ck_assert(utf8_valid(NULL, 0));
	ck_assert(utf8_valid("\xf4\x8f\xbf\xbf", 4));
}
END_TEST

START_TEST(test_utf8_nul_kept)
{
	UNCHANGED("a\0b");
	UNCHANGED("\0");
	UNCHANGED("\0\0\xc3\xa9\0");
	SANITIZES_TO("\0\xff\0", "\0" FFFD "\0");
	ck_assert(utf8_valid("a\0b", 3));
}
END_TEST

START_TEST(test_utf8_each_invalid_byte_replaced)
{
	/* lone continuation bytes */
	SANITIZES_TO("\x80", FFFD);
	SANITIZES_TO("a\xbf" "b", "a" FFFD "b");
	SANITIZES_TO("\x80\x80\x80", FFFD FFFD FFFD);
	/* truncated sequences, at the end and before other characters */
	SANITIZES_TO("\xc3", FFFD);
	SANITIZES_TO("ab\xe2\x82", "ab" FFFD FFFD);
	SANITIZES_TO("\xf0\x9f\x98", FFFD FFFD FFFD);
	SANITIZES_TO("\xe2\x82" "a", FFFD FFFD "a");
	SANITIZES_TO("\xc3\xc3\xa9", FFFD "\xc3\xa9");
	SANITIZES_TO("\xf0\x9f\x98" "\xf0\x9f\x98\x80", FFFD FFFD FFFD "\xf0\x9f\x98\x80");
	/* overlong forms */
	SANITIZES_TO("\xc0\x80", FFFD FFFD);
	SANITIZES_TO("\xc1\xbf", FFFD FFFD);
	SANITIZES_TO("\xe0\x80\x80", FFFD FFFD FFFD);
	SANITIZES_TO("\xe0\x9f\xbf", FFFD FFFD FFFD);
	SANITIZES_TO("\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD);
	SANITIZES_TO("\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD);
	/* surrogates */
	SANITIZES_TO("\xed\xa0\x80", FFFD FFFD FFFD);
	SANITIZES_TO("\xed\xbf\xbf", FFFD FFFD FFFD);
	SANITIZES_TO("\xed\xa0\xbd\xed\xb8\x80", FFFD FFFD FFFD FFFD FFFD FFFD); /* a CESU-8 pair */
	/* above U+10FFFF */
	SANITIZES_TO("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
	SANITIZES_TO("\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD);
	/* bytes that never appear in UTF-8 */
	SANITIZES_TO("\xf5", FFFD);
	SANITIZES_TO("\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD);
	SANITIZES_TO("\xfe\xff", FFFD FFFD);
	SANITIZES_TO("x\xffy", "x" FFFD "y");
	/* a valid character right after an invalid byte survives */
	SANITIZES_TO("\xe2\xe2\x82\xac", FFFD "\xe2\x82\xac");

	ck_assert(!utf8_valid("\xed\xa0\x80", 3));
	ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4));
	ck_assert(!utf8_valid("\xc0\x80", 2));
	ck_assert(!utf8_valid("abc\xe2\x82", 5));
	ck_assert(!utf8_valid("\x80", 1));
}
END_TEST

/*
 * An independent definition of well-formedness, by decoding: the code point
 * must need exactly as many bytes as it uses, and must not be a surrogate
 * or above U+10FFFF.  Returns the sequence length at p, or 0.
 */
static size_t ref_seq_len(const unsigned char *p, size_t avail)
{
	uint32_t cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
		return 0;
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static bool ref_valid(const unsigned char *p, size_t len)
{
	size_t i = 0, n;

	for (; i < len; i += n) {
		n = ref_seq_len(p + i, len - i);
		if (n == 0)
			return false;
	}
	return true;
}

/* The expected sanitized length: invalid bytes cost 3 each. */
static size_t ref_sanitized_len(const unsigned char *p, size_t len)
{
	size_t i = 0, n, out = 0;

	for (; i < len; i += n) {
		n = ref_seq_len(p + i, len - i);
		if (n == 0) {
			out += 3;
			n = 1;
		} else {
			out += n;
		}
	}
	return out;
}

START_TEST(test_utf8_matches_reference)
{
	/* Byte values at every boundary of table 3-7, and a few more. */
	static const unsigned char edges[] = {
		0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
		0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0,
		0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff,
	};
	size_t ne = sizeof(edges), a, b, c, d;
	unsigned int x;

	/* every 1- and 2-byte string (if + ck_abort: ck_assert in a hot
	 * loop costs a message to the runner each) */
	for (x = 0; x < 0x10000; x++) {
		unsigned char s[2] = { (unsigned char)(x >> 8), (unsigned char)x };

		if (utf8_valid((char *)s, 1) != ref_valid(s, 1) ||
		    utf8_valid((char *)s, 2) != ref_valid(s, 2))
			ck_abort_msg("utf8_valid disagrees with the reference on %02x %02x", s[0], s[1]);
	}
	/* 3- and 4-byte strings over the edge values */
	for (a = 0; a < ne; a++)
		for (b = 0; b < ne; b++)
			for (c = 0; c < ne; c++)
				for (d = 0; d < ne; d++) {
					unsigned char s[4] = { edges[a], edges[b], edges[c], edges[d] };
					char *out;
					size_t outlen;

					if (utf8_valid((char *)s, 4) != ref_valid(s, 4) ||
					    utf8_valid((char *)s, 3) != ref_valid(s, 3))
						ck_abort_msg("utf8_valid disagrees with the reference on %02x %02x %02x %02x",
							     s[0], s[1], s[2], s[3]);
					out = utf8_sanitize((char *)s, 4, &outlen);
					if (out == NULL || outlen != ref_sanitized_len(s, 4) ||
					    !ref_valid((unsigned char *)out, outlen))
						ck_abort_msg("bad sanitized output for %02x %02x %02x %02x",
							     s[0], s[1], s[2], s[3]);
					free(out);
				}
}
END_TEST

/* jansson (which validates UTF-8 itself) takes whatever comes out. */
static void check_json_accepts(const char *in, size_t inlen)
{
	json_t *str, *obj, *back;
	json_error_t jerr;
	size_t outlen;
	char *out, *dump;

	out = utf8_sanitize(in, inlen, &outlen);
	ck_assert_ptr_nonnull(out);
	ck_assert(utf8_valid(out, outlen));

	str = json_stringn(out, outlen);
	ck_assert_ptr_nonnull(str);
	obj = json_object();
	ck_assert_ptr_nonnull(obj);
	ck_assert_int_eq(json_object_set_new(obj, "stdout", str), 0);
	dump = json_dumps(obj, JSON_COMPACT);
	ck_assert_ptr_nonnull(dump);

	back = json_loads(dump, JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(back != NULL, "jansson cannot read its own dump: %s", jerr.text);
	ck_assert_uint_eq(json_string_length(json_object_get(back, "stdout")), outlen);
	ck_assert_mem_eq(json_string_value(json_object_get(back, "stdout")), out, outlen);

	json_decref(back);
	free(dump);
	json_decref(obj);
	free(out);
}

START_TEST(test_utf8_jansson_accepts)
{
	static const char mixed[] = "\xed\xa0\x80\xf4\x90\x80\x80\xc0\x80\xe2\x82\0tail\xff";
	size_t len;

	check_json_accepts(mixed, sizeof(mixed) - 1);
	check_json_accepts("", 0);

	/* random bytes, random mostly-valid text, of many lengths */
	for (len = 0; len < 600; len += 7) {
		char *buf = malloc(len + 1);
		size_t i;

		ck_assert_ptr_nonnull(buf);
		for (i = 0; i < len; i++)
			buf[i] = (char)rng_next();
		ck_assert_int_eq(utf8_valid(buf, len), ref_valid((unsigned char *)buf, len));
		check_json_accepts(buf, len);

		/* valid text with a few bytes flipped */
		for (i = 0; i + 3 <= len; i += 3)
			memcpy(buf + i, rng_next() % 2 ? "\xe2\x82\xac" : "abc", 3);
		for (i = 0; len > 0 && i < 3; i++)
			buf[rng_next() % len] = (char)rng_next();
		check_json_accepts(buf, len);
		free(buf);
	}
}
END_TEST

static Suite *encode_suite(void)
{
	Suite *s = suite_create("encode");
	TCase *tc;

	tc = tcase_create("b64_vectors");
	tcase_add_test(tc, test_b64_rfc4648_vectors);
	tcase_add_test(tc, test_b64_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("b64_round_trip");
	tcase_add_test(tc, test_b64_all_bytes);
	tcase_add_test(tc, test_b64_random_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("b64_strict");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_b64_invalid_forms);
	tcase_add_test(tc, test_b64_canonical_only);
	tcase_add_test(tc, test_b64_every_bad_byte);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8_valid");
	tcase_add_test(tc, test_utf8_valid_unchanged);
	tcase_add_test(tc, test_utf8_nul_kept);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8_invalid");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_utf8_each_invalid_byte_replaced);
	tcase_add_test(tc, test_utf8_matches_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8_jansson");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_utf8_jansson_accepts);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(encode_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
