/*
 * check_judge.c - output comparison of judge mode.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "service/judge.h"

static bool same(const char *got, const char *want, enum compare_mode m)
{
	return output_matches(got, strlen(got), want, strlen(want), m);
}

START_TEST(test_exact)
{
	ck_assert(same("1 2\n", "1 2\n", COMPARE_EXACT));
	ck_assert(!same("1 2\n", "1 2", COMPARE_EXACT));
	ck_assert(!same("1 2 \n", "1 2\n", COMPARE_EXACT));
	ck_assert(output_matches("a\0b", 3, "a\0b", 3, COMPARE_EXACT));
	ck_assert(!output_matches("a\0b", 3, "a\0c", 3, COMPARE_EXACT));
}
END_TEST

START_TEST(test_trailing_whitespace)
{
	const enum compare_mode m = COMPARE_TRAILING_WHITESPACE;
	ck_assert(same("3", "3\n", m));
	ck_assert(same("3  \n\n\n", "3", m));
	ck_assert(same("a \t\r\nb\n", "a\nb", m));
	ck_assert(same("", "\n\n", m));
	/* Leading blanks, inner blank lines and inner spaces count. */
	ck_assert(!same(" 3", "3", m));
	ck_assert(!same("a\n\nb", "a\nb", m));
	ck_assert(!same("a b", "a  b", m));
	ck_assert(!same("1\n2", "1\n2\n3", m));
	ck_assert(!same("1\n2\n3", "1\n2", m));
	/* One definition of whitespace: VT and FF end a line's content as
	   they end the output's. */
	ck_assert(same("1\f\n2", "1\n2\f", m));
	ck_assert(same("1\v\n2\n", "1\n2", m));
	ck_assert(same("1 \f\t\v\r\n2", "1\n2", m));
	ck_assert(!same("1\f2", "1 2", m));
}
END_TEST

START_TEST(test_tokens)
{
	const enum compare_mode m = COMPARE_TOKENS;
	ck_assert(same("1 2\n3", "1\n2   3\n", m));
	ck_assert(same("", " \n\t", m));
	ck_assert(!same("1 2", "1 2 3", m));
	ck_assert(!same("12", "1 2", m));
}
END_TEST

START_TEST(test_parse)
{
	ck_assert_int_eq(compare_mode_parse("exact"), COMPARE_EXACT);
	ck_assert_int_eq(compare_mode_parse("trailing_whitespace"), COMPARE_TRAILING_WHITESPACE);
	ck_assert_int_eq(compare_mode_parse("tokens"), COMPARE_TOKENS);
	ck_assert_int_eq(compare_mode_parse("fuzzy"), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("judge");
	TCase *tc = tcase_create("compare");
	tcase_add_test(tc, test_exact);
	tcase_add_test(tc, test_trailing_whitespace);
	tcase_add_test(tc, test_tokens);
	tcase_add_test(tc, test_parse);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
