/*
 * pipebench: the physical limit mcpbench is compared against.
 *
 *	pipebench [-s spawns] [-n count] [-m messages] [-w window] [--json]
 *
 * The parent runs its own binary again as an echo child on two pipes
 * (fork + exec, as mcpbench starts a server) and sends it messages of
 * the size of an NDJSON ping request; the child writes back every byte it
 * reads, with no parsing.  Measured, with the same write / poll / read
 * pattern as mcpbench:
 *  1. spawn: fork() to the first echoed message, over -s fresh children;
 *  2. sequential round trip p50/p99 over -n messages (after --warmup);
 *  3. pipelined throughput: -m messages with --window in flight;
 *  4. the echo child's peak RSS (VmHWM), the floor for a C process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define PB_MAX_COUNT	100000000L
#define PB_MAX_SIZE	65536L
#define PB_CHUNK	65536
#define PB_MAX_ROUNDS	100

struct opts {
	long	 spawns, n, m, window, rounds, warmup, size;
	int	 timeout_ms;
	int	 json;
};

/* An echo child and the parent's ends of its pipes (non-blocking). */
struct peer {
	pid_t	 pid;
	int	 wfd, rfd;
};

static char	 self[4096];	/* our own binary, for exec */
static char	*msg;		/* one message, opts.size bytes */

/* The child: copy stdin to stdout until EOF.  Never returns. */
static void __attribute__((noreturn))
echo_child(void)
{
	static char buf[PB_CHUNK];
	ssize_t n, w, off;

	for (;;) {
		n = read(0, buf, sizeof(buf));
		if (n == 0)
			_exit(0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (off = 0; off < n; off += w)
			if ((w = write(1, buf + off, (size_t)(n - off))) == -1 &&
			    errno != EINTR)
				_exit(1);
			else if (w == -1)
				w = 0;
	}
}

/* Start an echo child.  Exits on failure. */
static void
peer_spawn(struct peer *p)
{
	int in[2], out[2];
	char *argv[] = { self, "--echo-child", NULL };

	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		bu_die("pipe: %s", strerror(errno));
	if ((p->pid = fork()) == -1)
		bu_die("fork: %s", strerror(errno));
	if (p->pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1)
			_exit(126);
		execv(self, argv);
		_exit(127);
	}
	bu_live_pid = p->pid;
	close(in[0]);
	close(out[1]);
	p->wfd = in[1];
	p->rfd = out[0];
	fcntl(p->wfd, F_SETFL, O_NONBLOCK);
	fcntl(p->rfd, F_SETFL, O_NONBLOCK);
}

/*
 * Close the child's stdin and reap it; returns its VmHWM in KiB or -1, and
 * stores the CPU time of its life (user + system, ms) in *cpu.
 */
static long
peer_close(struct peer *p, int want_rss, double *cpu)
{
	struct rusage ru;
	long hwm;
	int status;

	hwm = want_rss ? bu_read_rss(p->pid).vmhwm : -1;
	close(p->wfd);
	close(p->rfd);
	while (wait4(p->pid, &status, 0, &ru) == -1)
		if (errno != EINTR)
			bu_die("wait4: %s", strerror(errno));
	bu_live_pid = 0;
	*cpu = bu_cpu_ms(&ru);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bu_die("echo child ended badly (wait status %#x)", status);
	return hwm;
}

/*
 * Move bytes: write from out[*woff..wlen) when writable, read into a
 * scratch buffer when readable.  Blocks in poll() until some input was
 * read; returns the number of bytes read.  Exits on EOF or the deadline.
 */
static size_t
pump(struct peer *p, const char *out, size_t wlen, size_t *woff,
    double deadline)
{
	static char in[PB_CHUNK];
	struct pollfd pfd[2];
	ssize_t n;
	int left, nfd;

	for (;;) {
		left = (int)((deadline - bu_now_us()) / 1e3);
		if (left <= 0)
			bu_die("timed out waiting for the echo child");
		pfd[0] = (struct pollfd){ .fd = p->rfd, .events = POLLIN };
		nfd = 1;
		if (*woff < wlen) {
			pfd[1] = (struct pollfd){ .fd = p->wfd,
			    .events = POLLOUT };
			nfd = 2;
		}
		if (poll(pfd, (nfds_t)nfd, left) == -1) {
			if (errno == EINTR)
				continue;
			bu_die("poll: %s", strerror(errno));
		}
		if (nfd == 2 && pfd[1].revents) {
			n = write(p->wfd, out + *woff, wlen - *woff);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				bu_die("write: %s", strerror(errno));
			if (n > 0)
				*woff += (size_t)n;
		}
		if (pfd[0].revents == 0)
			continue;
		n = read(p->rfd, in, sizeof(in));
		if (n > 0)
			return (size_t)n;
		if (n == 0)
			bu_die("echo child closed its stdout");
		if (errno != EAGAIN && errno != EINTR)
			bu_die("read: %s", strerror(errno));
	}
}

/* Write what can be written now without blocking. */
static void
push(struct peer *p, const char *out, size_t wlen, size_t *woff)
{
	ssize_t n;

	while (*woff < wlen) {
		n = write(p->wfd, out + *woff, wlen - *woff);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			bu_die("write: %s", strerror(errno));
		}
		*woff += (size_t)n;
	}
}

/* One message out and back. */
static void
roundtrip(struct peer *p, const struct opts *o)
{
	size_t woff = 0, got = 0, len = (size_t)o->size;
	double deadline = bu_now_us() + o->timeout_ms * 1e3;

	push(p, msg, len, &woff);
	while (got < len)
		got += pump(p, msg, len, &woff, deadline);
	if (got != len)
		bu_die("echo child sent %zu bytes for one %zu-byte message",
		    got, len);
}

/* Wall time fork() to first echo into *wall; CPU per child life into *cpu. */
static void
phase_spawn(const struct opts *o, struct bu_stats *wall, struct bu_stats *cpu)
{
	struct peer p;
	double *v, *c, t0;
	long i;

	v = calloc((size_t)o->spawns, sizeof(*v));
	c = calloc((size_t)o->spawns, sizeof(*c));
	if (v == NULL || c == NULL)
		bu_die("out of memory");
	for (i = 0; i < o->spawns; i++) {
		t0 = bu_now_us();
		peer_spawn(&p);
		roundtrip(&p, o);
		v[i] = (bu_now_us() - t0) / 1e3;
		peer_close(&p, 0, &c[i]);
	}
	*wall = bu_summarize(v, o->spawns);
	*cpu = bu_summarize(c, o->spawns);
	free(v);
	free(c);
}

/* Sequential round trips; the child's CPU per message into *cpu_us. */
static struct bu_stats
phase_seq(struct peer *p, const struct opts *o, double *cpu_us)
{
	struct bu_stats s;
	double *v, t0;
	long long cpu0;
	long i;

	if ((v = calloc((size_t)o->n, sizeof(*v))) == NULL)
		bu_die("out of memory");
	for (i = 0; i < o->warmup; i++)
		roundtrip(p, o);
	cpu0 = bu_proc_cpu_ns(p->pid);
	for (i = 0; i < o->n; i++) {
		t0 = bu_now_us();
		roundtrip(p, o);
		v[i] = bu_now_us() - t0;
	}
	*cpu_us = bu_cpu_per_msg_us(cpu0, bu_proc_cpu_ns(p->pid), o->n);
	s = bu_summarize(v, o->n);
	free(v);
	return s;
}

/*
 * m messages with up to `window` in flight, queued in batches as replies
 * come back.  Returns messages per second.
 */
static double
pipe_round(struct peer *p, const struct opts *o)
{
	size_t len = (size_t)o->size, cap = (size_t)o->window * len;
	size_t qlen = 0, woff = 0, back = 0;
	long sent = 0, got = 0;
	double t0, deadline;
	char *q;

	if ((q = malloc(cap)) == NULL)
		bu_die("out of memory");
	t0 = bu_now_us();
	deadline = t0 + o->timeout_ms * 1e3;
	while (got < o->m) {
		if (woff == qlen)
			woff = qlen = 0;
		while (sent < o->m && sent - got < o->window &&
		    qlen + len <= cap) {
			memcpy(q + qlen, msg, len);
			qlen += len;
			sent++;
		}
		push(p, q, qlen, &woff);
		back += pump(p, q, qlen, &woff, deadline);
		got = (long)(back / len);
		if (got > sent)
			bu_die("echo child sent more than it was sent");
		deadline = bu_now_us() + o->timeout_ms * 1e3;
	}
	free(q);
	return o->m / ((bu_now_us() - t0) / 1e6);
}

/* --rounds rounds; the median is the figure, as in mcpbench. */
static struct bu_stats
phase_pipe(struct peer *p, const struct opts *o, double *cpu_us)
{
	double v[PB_MAX_ROUNDS];
	long long cpu0 = bu_proc_cpu_ns(p->pid);
	long i;

	for (i = 0; i < o->rounds; i++)
		v[i] = pipe_round(p, o);
	*cpu_us = bu_cpu_per_msg_us(cpu0, bu_proc_cpu_ns(p->pid),
	    o->rounds * o->m);
	return bu_summarize(v, o->rounds);
}

static void
print_stats_json(const char *pfx, const char *unit, const struct bu_stats *s,
    int last)
{
	printf(" \"%s_n\": %ld,\n \"%s_p50_%s\": %.3f,\n \"%s_p99_%s\": %.3f,\n"
	    " \"%s_mean_%s\": %.3f,\n \"%s_min_%s\": %.3f,\n"
	    " \"%s_max_%s\": %.3f%s\n", pfx, s->n, pfx, unit, s->p50, pfx, unit,
	    s->p99, pfx, unit, s->mean, pfx, unit, s->min, pfx, unit, s->max,
	    last ? "" : ",");
}

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: pipebench [options]\n"
	    "  -s, --spawns N     fork+exec-to-first-echo samples (default 20)\n"
	    "  -n, --count N      sequential round trips (default 20000)\n"
	    "  -m, --messages N   pipelined messages (default 200000)\n"
	    "  -w, --window N     messages in flight (default 64)\n"
	    "  -r, --rounds N     pipelined rounds, median reported (default 3)\n"
	    "  --warmup N         untimed round trips (default 200)\n"
	    "  --size BYTES       message size (default: an NDJSON ping, %zu)\n"
	    "  --timeout MS       deadline per wait (default 10000)\n"
	    "  --json             one JSON object on stdout\n",
	    strlen(msg));
	exit(code);
}

static void
parse_opts(struct opts *o, int argc, char **argv)
{
	const struct bu_opt opts[] = {
		{ "spawns", 's', BU_LONG, &o->spawns, 0, 100000 },
		{ "count", 'n', BU_LONG, &o->n, 0, PB_MAX_COUNT },
		{ "messages", 'm', BU_LONG, &o->m, 0, PB_MAX_COUNT },
		{ "window", 'w', BU_LONG, &o->window, 1, 1000000 },
		{ "rounds", 'r', BU_LONG, &o->rounds, 1, PB_MAX_ROUNDS },
		{ "warmup", 0, BU_LONG, &o->warmup, 0, PB_MAX_COUNT },
		{ "size", 0, BU_LONG, &o->size, 1, PB_MAX_SIZE },
		{ "timeout", 0, BU_INT, &o->timeout_ms, 1, 3600000 },
		{ "json", 0, BU_FLAG, &o->json, 0, 0 },
		{ NULL, 0, 0, NULL, 0, 0 },
	};

	*o = (struct opts){ .spawns = 20, .n = 20000, .m = 200000,
	    .window = 64, .rounds = 3, .warmup = 200, .size = (long)strlen(msg),
	    .timeout_ms = 10000 };
	if (bu_parse(argc, argv, opts, usage) != argc)
		usage(2);
}

/*
 * The message: an NDJSON ping as mcpbench sends it (six-digit id), padded
 * with spaces before the newline or cut to o->size bytes.
 */
static void
make_message(long size)
{
	static const char ping[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":100000,\"method\":\"ping\"}";
	char *m;

	if ((m = malloc((size_t)size)) == NULL)
		bu_die("out of memory");
	memset(m, ' ', (size_t)size);
	memcpy(m, ping, (size_t)size - 1 < sizeof(ping) - 1 ?
	    (size_t)size - 1 : sizeof(ping) - 1);
	m[size - 1] = '\n';
	free(msg);
	msg = m;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct peer p;
	struct bu_stats sp = { 0 }, spc = { 0 }, rt = { 0 }, pr = { 0 };
	double cpu, seq_cpu = -1, pipe_cpu = -1;
	long hwm;
	ssize_t n;

	bu_progname = "pipebench";
	if (argc == 2 && strcmp(argv[1], "--echo-child") == 0)
		echo_child();
	msg = strdup("{\"jsonrpc\":\"2.0\",\"id\":100000,\"method\":"
	    "\"ping\"}\n");
	if (msg == NULL)
		bu_die("out of memory");
	parse_opts(&o, argc, argv);
	make_message(o.size);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		bu_die("readlink /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	signal(SIGPIPE, SIG_IGN);

	if (o.spawns > 0)
		phase_spawn(&o, &sp, &spc);
	peer_spawn(&p);
	if (o.n > 0)
		rt = phase_seq(&p, &o, &seq_cpu);
	if (o.m > 0)
		pr = phase_pipe(&p, &o, &pipe_cpu);
	hwm = peer_close(&p, 1, &cpu);

	if (o.json) {
		printf("{\n \"message_bytes\": %ld,\n", o.size);
		if (o.spawns > 0) {
			print_stats_json("spawn_init", "ms", &sp, 0);
			print_stats_json("spawn_cpu", "ms", &spc, 0);
		}
		if (o.n > 0) {
			print_stats_json("ping", "us", &rt, 0);
			if (seq_cpu >= 0)
				printf(" \"ping_srv_cpu_us\": %.3f,\n", seq_cpu);
		}
		if (o.m > 0)
			printf(" \"pipe_messages\": %ld,\n \"pipe_window\": %ld,\n"
			    " \"pipe_rounds\": %ld,\n \"pipe_msgs_per_s\": %.0f,\n"
			    " \"pipe_msgs_per_s_min\": %.0f,\n"
			    " \"pipe_msgs_per_s_max\": %.0f,\n", o.m, o.window,
			    o.rounds, pr.p50, pr.min, pr.max);
		if (o.m > 0 && pipe_cpu >= 0)
			printf(" \"pipe_srv_cpu_us\": %.3f,\n", pipe_cpu);
		printf(" \"vmhwm_kib\": %ld\n}\n", hwm);
		return 0;
	}
	printf("raw pipe echo, %ld-byte messages\n", o.size);
	if (o.spawns > 0) {
		bu_print_stats("spawn->first echo", "ms", &sp);
		bu_print_stats("  child CPU per life", "ms", &spc);
	}
	if (o.n > 0) {
		bu_print_stats("round trip", "us", &rt);
		printf("%-22s %.2f us per message\n", "  child CPU", seq_cpu);
	}
	if (o.m > 0)
		printf("%-22s %ld messages, window %ld, %ld rounds: median "
		    "%.0f msg/s (min %.0f, max %.0f)\n", "pipelined", o.m,
		    o.window, o.rounds, pr.p50, pr.min, pr.max);
	if (o.m > 0)
		printf("%-22s %.2f us per message\n", "  child CPU", pipe_cpu);
	printf("%-22s VmHWM %ld KiB\n", "echo child memory", hwm);
	return 0;
}
