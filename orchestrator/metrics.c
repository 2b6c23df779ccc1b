/*
 * metrics: Prometheus text helpers (see metrics.h).
 */
#include "config.h"

#include <time.h>

#include "metrics.h"

const double metrics_le[METRICS_NBUCKETS] = { 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };

void
metrics_observe(struct metrics_hist *h, double d)
{
	size_t i;

	h->n++;
	h->sum += d;
	for (i = 0; i < METRICS_NBUCKETS; i++)
		if (d <= metrics_le[i]) {
			h->bucket[i]++;
			break;
		}
}

int
metrics_head(struct buf *out, const char *name, const char *type,
    const char *help)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

int
metrics_label(struct buf *out, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		if (*s != '"' && *s != '\\' && *s != '\n')
			continue;
		if (buf_append(out, run, (size_t)(s - run)) == -1 ||
		    buf_printf(out, "\\%c", *s == '\n' ? 'n' : *s) == -1)
			return -1;
		run = s + 1;
	}
	return buf_append(out, run, (size_t)(s - run));
}

int
metrics_hist_write(struct buf *out, const char *name, const char *labels,
    const struct metrics_hist *h)
{
	const char *sep = *labels ? "," : "";
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += h->bucket[i];
		if (buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name,
		    labels, sep, metrics_le[i], (unsigned long long)cum) == -1)
			return -1;
	}
	if (buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
	    sep, (unsigned long long)h->n) == -1)
		return -1;
	if (*labels)
		return buf_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n",
		    name, labels, h->sum, name, labels,
		    (unsigned long long)h->n);
	return buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, h->sum,
	    name, (unsigned long long)h->n);
}

double
metrics_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
