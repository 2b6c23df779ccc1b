/*
 * Shared by the benchmarks; see benchutil.h.
 */
#include "config.h"

#include <sys/resource.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"

const char	*bu_progname = "bench";
pid_t		 bu_live_pid;

void
bu_die(const char *fmt, ...)
{
	va_list ap;

	if (bu_live_pid > 0)
		kill(bu_live_pid, SIGKILL);
	fprintf(stderr, "%s: ", bu_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The integer s for option flag, within [min, max]; exits otherwise. */
long
bu_num_arg(const char *s, const char *flag, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		bu_die("%s: want an integer from %ld to %ld, got '%s'", flag,
		    min, max, s);
	return v;
}

#define BU_MAX_OPTS	31

int
bu_parse(int argc, char **argv, const struct bu_opt *opts,
    void (*usage)(int))
{
	struct option lo[BU_MAX_OPTS + 2];
	char shorts[3 * BU_MAX_OPTS + 4] = "+h", *sp = shorts + 2, flag[64];
	const struct bu_opt *o;
	size_t n;
	int ch;

	for (n = 0; opts[n].name != NULL; n++) {
		if (n == BU_MAX_OPTS)
			bu_die("bu_parse: more than %d options", BU_MAX_OPTS);
		o = &opts[n];
		lo[n] = (struct option){ o->name, o->kind == BU_FLAG ?
		    no_argument : required_argument, NULL, 256 + (int)n };
		if (o->letter != 0) {
			*sp++ = (char)o->letter;
			if (o->kind != BU_FLAG)
				*sp++ = ':';
		}
	}
	*sp = '\0';
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		if (ch == 'h')
			usage(0);
		for (o = opts; o->name != NULL; o++)
			if (ch == 256 + (int)(o - opts) ||
			    (o->letter != 0 && ch == o->letter))
				break;
		if (o->name == NULL)
			usage(2);
		snprintf(flag, sizeof(flag), "--%s", o->name);
		switch (o->kind) {
		case BU_LONG:
			*(long *)o->val = bu_num_arg(optarg, flag, o->min,
			    o->max);
			break;
		case BU_INT:
			*(int *)o->val = (int)bu_num_arg(optarg, flag, o->min,
			    o->max);
			break;
		case BU_STR:
			*(const char **)o->val = optarg;
			break;
		case BU_FLAG:
			*(int *)o->val = 1;
			break;
		}
	}
	return optind;
}

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

/* v[0..n) in ascending order. */
void
bu_sort(double *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
}

/* Nearest-rank percentiles of v[0..n) (sorted in place); n > 0. */
struct bu_stats
bu_summarize(double *v, long n)
{
	struct bu_stats s = { .n = n };
	double sum = 0;
	long i, k;

	bu_sort(v, n);
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

/*
 * CPU time the process has used so far, in nanoseconds, summed over its
 * threads (/proc/PID/task/TID/schedstat, first field); -1 if unknown.
 * Wall-clock figures suffer when other work shares the machine; this one
 * much less, so it is reported beside them.
 */
long long
bu_proc_cpu_ns(pid_t pid)
{
	char path[96];
	struct dirent *de;
	long long sum = 0, v;
	DIR *d;
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%.20s/schedstat",
		    (long)pid, de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		if (fscanf(f, "%lld", &v) == 1) {
			sum += v;
			n++;
		}
		fclose(f);
	}
	closedir(d);
	return n > 0 ? sum : -1;
}

/* User + system CPU time in a wait4() rusage, in milliseconds. */
double
bu_cpu_ms(const struct rusage *ru)
{
	return (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e3 +
	    (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e3;
}

/* The memory figures of a live process; all -1 when it has none. */
struct bu_rss
bu_read_rss(pid_t pid)
{
	struct bu_rss s = { -1, -1, -1, -1 };
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return s;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmHWM: %ld", &s.vmhwm);
		sscanf(line, "VmRSS: %ld", &s.vmrss);
		sscanf(line, "RssAnon: %ld", &s.rssanon);
		sscanf(line, "RssFile: %ld", &s.rssfile);
	}
	fclose(f);
	return s;
}
