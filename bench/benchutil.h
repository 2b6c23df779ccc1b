/*
 * Timing, statistics, /proc readings, the command line and the error exit
 * shared by the benchmarks (bench/mcpbench, bench/pipebench, bench/ghbench).
 */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <sys/types.h>

struct rusage;

struct bu_stats {
	long		 n;
	double		 p50, p99, mean, min, max;
};

/* From /proc/PID/status, in KiB; -1 for a field that is absent. */
struct bu_rss {
	long		 vmhwm, vmrss, rssanon, rssfile;
};

/*
 * bu_die() prints "bu_progname: message" and exits 1, killing
 * bu_live_pid first when it is set (a child not yet reaped).
 */
extern const char	*bu_progname;
extern pid_t		 bu_live_pid;

/* One option of a benchmark's command line; a table ends with name NULL. */
enum bu_kind {
	BU_LONG,	/* long *, within [min, max] */
	BU_INT,		/* int *, within [min, max] */
	BU_STR,		/* const char ** (borrowed from argv) */
	BU_FLAG,	/* int *, set to 1 */
};

struct bu_opt {
	const char	*name;		/* the long name, without "--" */
	int		 letter;	/* short option letter, or 0 */
	enum bu_kind	 kind;
	void		*val;
	long		 min, max;
};

/*
 * Parse argv by opts (at most 31) with getopt_long, stopping at the first
 * operand or "--": "-h" and "--help" call usage(0), an unknown option or
 * a missing value usage(2); a number outside its range is fatal (bu_die).
 * Returns the index of the first operand (argc when none).
 */
int		 bu_parse(int argc, char **argv, const struct bu_opt *opts,
		    void (*usage)(int));

void		 bu_die(const char *fmt, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));
long		 bu_num_arg(const char *s, const char *flag, long min,
		    long max);

double		 bu_now_us(void);
void		 bu_sort(double *v, long n);
struct bu_stats	 bu_summarize(double *v, long n);
double		 bu_cpu_per_msg_us(long long before, long long after,
		    long msgs);
void		 bu_print_stats(const char *label, const char *unit,
		    const struct bu_stats *s);

long long	 bu_proc_cpu_ns(pid_t pid);
double		 bu_cpu_ms(const struct rusage *ru);
struct bu_rss	 bu_read_rss(pid_t pid);

#endif
