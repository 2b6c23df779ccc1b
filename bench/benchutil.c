/*
 * Timing and statistics shared by the benchmarks; see benchutil.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "benchutil.h"

/* The monotonic clock in microseconds. */
double
bu_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles of v[0..n) (sorted in place); n > 0. */
struct bu_stats
bu_summarize(double *v, long n)
{
	struct bu_stats s = { .n = n };
	double sum = 0;
	long i, k;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	k = (50 * n + 99) / 100 - 1;		/* ceil(0.50 n) - 1 */
	s.p50 = v[k];
	k = (99 * n + 99) / 100 - 1;		/* ceil(0.99 n) - 1 */
	s.p99 = v[k];
	s.mean = sum / n;
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

/* CPU per message in microseconds from two ns samples; -1 if unknown. */
double
bu_cpu_per_msg_us(long long before, long long after, long msgs)
{
	if (before < 0 || after < 0 || msgs <= 0)
		return -1;
	return (after - before) / 1e3 / msgs;
}

/* One text line of statistics, label padded to 22 columns. */
void
bu_print_stats(const char *label, const char *unit, const struct bu_stats *s)
{
	printf("%-22s p50 %9.2f %s  p99 %9.2f %s  mean %9.2f  min %9.2f  "
	    "max %9.2f  (n=%ld)\n", label, s->p50, unit, s->p99, unit,
	    s->mean, s->min, s->max, s->n);
}
