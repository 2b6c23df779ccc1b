/*
 * metrics: the Prometheus text format, written once for every subsystem's
 * /metrics section (the router's tool calls, the store's audit, the HTTP
 * server, the process).
 *
 * Every writer appends to a struct buf and returns 0, or -1 when the
 * buffer could not grow (the output is then incomplete and should be
 * dropped).  Nothing here allocates but the buf.
 */
#ifndef AFU9_METRICS_H
#define AFU9_METRICS_H

#include <stdint.h>

#include "buf.h"

/* The histogram's upper bounds in seconds: tool calls from 5 ms to 60 s. */
#define METRICS_NBUCKETS	13
extern const double metrics_le[METRICS_NBUCKETS];

/* One histogram series: per-bucket counts (not cumulative: cumulated when
   written), the count and the sum of all observations. */
struct metrics_hist {
	uint64_t	bucket[METRICS_NBUCKETS];
	uint64_t	n;
	double		sum;
};

/* Count one observation of `seconds`. */
void	metrics_observe(struct metrics_hist *, double seconds);
/* The monotonic clock in seconds, for the durations observed. */
double	metrics_now_s(void);

/* "# HELP name help\n# TYPE name type\n". */
int	metrics_head(struct buf *, const char *name, const char *type,
	    const char *help);

/* A label value, escaped as the format asks: backslash, double quote and
   newline. */
int	metrics_label(struct buf *, const char *value);

/*
 * The _bucket (one per bound and +Inf), _sum and _count lines of one
 * histogram series.  labels: the series' labels already written and
 * escaped, without braces (`server="github",tool="getIssue"`), or "".
 */
int	metrics_hist_write(struct buf *, const char *name, const char *labels,
	    const struct metrics_hist *);

#endif
