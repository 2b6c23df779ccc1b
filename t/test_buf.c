#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "testutil.h"

START_TEST(append_within_bound)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_append(&b, "hello", 5), 0);
	ck_assert_int_eq(buf_append(&b, "world", 5), 0);
	ck_assert_uint_eq(buf_used(&b), 10);
	ck_assert(memcmp(buf_data(&b), "helloworld", 10) == 0);
	buf_free(&b);
}
END_TEST

START_TEST(append_past_bound_refused_whole)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_append(&b, "hello", 5), 0);
	errno = 0;
	ck_assert_int_eq(buf_append(&b, "world!", 6), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_eq(buf_used(&b), 5);
	buf_free(&b);
}
END_TEST

START_TEST(consume_then_reuse_space)
{
	struct buf b;
	size_t avail;
	char *p;
	int i;

	buf_init(&b, 8);
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(buf_append(&b, "abcdef", 6), 0);
		buf_consume(&b, 6);
	}
	ck_assert_uint_eq(buf_used(&b), 0);
	ck_assert_int_eq(buf_append(&b, "abcdef", 6), 0);
	buf_consume(&b, 4);
	p = buf_reserve(&b, 100, &avail);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(avail, 6);	/* bound is 8, 2 held */
	memcpy(p, "ghijkl", 6);
	buf_commit(&b, 6);
	ck_assert(memcmp(buf_data(&b), "efghijkl", 8) == 0);
	ck_assert_ptr_null(buf_reserve(&b, 1, &avail));
	ck_assert_int_eq(errno, ENOBUFS);
	buf_free(&b);
}
END_TEST

START_TEST(printf_long)
{
	struct buf b;
	char big[1000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 4096);
	ck_assert_int_eq(buf_printf(&b, "<%s>", big), 0);
	ck_assert_uint_eq(buf_used(&b), 1001);
	ck_assert_int_eq(buf_printf(&b, "%s%s%s%s", big, big, big, big), -1);
	ck_assert_uint_eq(buf_used(&b), 1001);
	buf_free(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_add_test(tc, append_within_bound);
	tcase_add_test(tc, append_past_bound_refused_whole);
	tcase_add_test(tc, consume_then_reuse_space);
	tcase_add_test(tc, printf_long);
	suite_add_tcase(s, tc);
	return t_run(s);
}
