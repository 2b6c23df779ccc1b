/*
 * Timing and statistics shared by the benchmarks (bench/mcpbench,
 * bench/pipebench).
 */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

struct bu_stats {
	long		 n;
	double		 p50, p99, mean, min, max;
};

double		 bu_now_us(void);
struct bu_stats	 bu_summarize(double *v, long n);
double		 bu_cpu_per_msg_us(long long before, long long after,
		    long msgs);
void		 bu_print_stats(const char *label, const char *unit,
		    const struct bu_stats *s);

#endif
