/*
 * orchestrator/metrics: the Prometheus text every /metrics section is
 * written with: escaping, histogram lines, and a full buffer.
 */
#include "config.h"

#include <check.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "testutil.h"

/* The buffer's text, NUL-terminated (the buf keeps its bound). */
static const char *
text(struct buf *b)
{
	static char out[8192];

	ck_assert_uint_lt(buf_used(b), sizeof(out));
	memcpy(out, buf_data(b), buf_used(b));
	out[buf_used(b)] = '\0';
	return out;
}

START_TEST(label_escapes)
{
	struct buf b;

	buf_init(&b, 1024);
	ck_assert_int_eq(metrics_label(&b, "plain"), 0);
	ck_assert_str_eq(text(&b), "plain");
	buf_reset(&b);
	ck_assert_int_eq(metrics_label(&b, "a\"b\\c\nd"), 0);
	ck_assert_str_eq(text(&b), "a\\\"b\\\\c\\nd");
	buf_reset(&b);
	ck_assert_int_eq(metrics_label(&b, ""), 0);
	ck_assert_uint_eq(buf_used(&b), 0);
	buf_free(&b);
}
END_TEST

START_TEST(head_lines)
{
	struct buf b;

	buf_init(&b, 1024);
	ck_assert_int_eq(metrics_head(&b, "x_total", "counter", "Xs seen."), 0);
	ck_assert_str_eq(text(&b), "# HELP x_total Xs seen.\n"
	    "# TYPE x_total counter\n");
	buf_free(&b);
}
END_TEST

/* Buckets are cumulative on output; an observation on a bound counts in
   it; one past the last bound only in +Inf. */
START_TEST(histogram_lines)
{
	struct metrics_hist h;
	struct buf b;
	const char *t;

	memset(&h, 0, sizeof(h));
	metrics_observe(&h, 0.001);
	metrics_observe(&h, 0.005);
	metrics_observe(&h, 0.2);
	metrics_observe(&h, 61);
	buf_init(&b, 8192);
	ck_assert_int_eq(metrics_hist_write(&b, "d_seconds", "s=\"a\"", &h), 0);
	t = text(&b);
	ck_assert_ptr_nonnull(strstr(t, "d_seconds_bucket{s=\"a\",le=\"0.005\"} 2\n"
	    "d_seconds_bucket{s=\"a\",le=\"0.01\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "d_seconds_bucket{s=\"a\",le=\"0.25\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(t, "d_seconds_bucket{s=\"a\",le=\"60\"} 3\n"
	    "d_seconds_bucket{s=\"a\",le=\"+Inf\"} 4\n"
	    "d_seconds_sum{s=\"a\"} 61.206000\n"
	    "d_seconds_count{s=\"a\"} 4\n"));
	ck_assert_int_eq((int)(strstr(t, "le=\"+Inf\"") - t) > 0, 1);
	buf_reset(&b);
	ck_assert_int_eq(metrics_hist_write(&b, "d", "", &h), 0);
	t = text(&b);
	ck_assert_ptr_nonnull(strstr(t, "d_bucket{le=\"0.005\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "d_sum 61.206000\nd_count 4\n"));
	buf_free(&b);
}
END_TEST

/* A buffer too small for the output: -1, never an overrun. */
START_TEST(full_buffer)
{
	struct metrics_hist h;
	struct buf b;

	memset(&h, 0, sizeof(h));
	metrics_observe(&h, 1);
	buf_init(&b, 100);
	ck_assert_int_eq(metrics_hist_write(&b, "d_seconds", "", &h), -1);
	ck_assert_uint_le(buf_used(&b), 100);
	buf_reset(&b);
	ck_assert_int_eq(metrics_head(&b, "n", "gauge", "0123456789012345678901"
	    "23456789012345678901234567890123456789012345678901234567890123456"
	    "789"), -1);
	buf_free(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, label_escapes);
	tcase_add_test(tc, head_lines);
	tcase_add_test(tc, histogram_lines);
	tcase_add_test(tc, full_buffer);
	suite_add_tcase(s, tc);
	return t_run(s);
}
