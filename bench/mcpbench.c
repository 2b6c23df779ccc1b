/*
 * mcpbench: a load client for MCP servers over stdio.
 *
 *	mcpbench [options] -- command [arg ...]
 *
 * Spawns the server command on pipes and measures, in this order:
 *  1. spawn: the time from fork() to the initialize response, over
 *     --spawns fresh processes (median, min, max);
 *  2. sequential round trips on one session: -n pings, then -n tools/call
 *     requests when --tool is given (p50, p99, mean; after --warmup
 *     untimed requests of each kind);
 *  3. pipelined throughput: -m pings with --window requests kept in
 *     flight (messages per second);
 *     With --pipe-calls, the same for tools/call requests;
 *  4. with --busy S: tools/call requests kept --window in flight for S
 *     seconds (load for another tool to measure under: the gateway's
 *     /health under wrk, say);
 *  5. the server's peak RSS: VmHWM and friends from /proc/PID/status read
 *     just before stdin is closed, and ru_maxrss from wait4().
 *
 * Beside the server's own CPU time per call, the CPU time of its direct
 * children is reported (a gateway such as `afu9 serve --stdio` forwards
 * each call to one; for a plain server it is 0).
 *
 * The client is deliberately thin so that it measures the server: each
 * request is a preformatted string with only the id changing; responses
 * are validated by an allocation-free JSON scanner that also finds the
 * id and result/error (jansson handles the rare other messages).  I/O is
 * the same write / poll / read pattern as bench/pipebench.c, whose
 * figures are the physical limit to compare against.  The server's CPU
 * time per message is reported beside the wall-clock figures, which a
 * busy machine disturbs more.
 *
 * Robustness: every wait has a deadline (--timeout, per response; for the
 * pipelined phase, per stretch without progress); a server that exits,
 * closes a pipe, answers with an error or an unexpected id, or frames a
 * message badly ends the run with a message naming the cause and the tail
 * of the server's stderr (which is captured in an unlinked temporary
 * file).  Server notifications are counted and skipped; server requests
 * are answered with -32601 so that the server never waits on us.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "benchutil.h"

#define MB_MAX_MSG		(64u * 1024 * 1024)	/* one response */
#define MB_MAX_HEADER		8192u			/* CL header block */
#define MB_MAX_OUT		(256u * 1024 * 1024)	/* queued requests */
#define MB_READ_CHUNK		65536u
#define MB_STDERR_TAIL		600
#define MB_MAX_COUNT		100000000L
#define MB_CLOSE_MS		3000
#define MB_MAX_ROUNDS		100	/* grace for exit after stdin EOF */

enum framing {
	FR_NDJSON,
	FR_CL,
};

struct opts {
	enum framing	 framing;
	long		 spawns;	/* fresh processes for phase 1 */
	long		 n;		/* sequential requests per kind */
	long		 m;		/* pipelined pings */
	long		 window;	/* pipelined requests in flight */
	long		 rounds;	/* pipelined rounds */
	long		 warmup;	/* untimed requests before timing */
	int		 timeout_ms;
	const char	*tool;		/* NULL: no tools/call phase */
	const char	*args;		/* JSON object text */
	const char	*protover;
	int		 json;
	int		 pipe_calls;	/* pipeline tools/call too */
	long		 busy_s;	/* seconds of busy load; 0: none */
	char		**argv;		/* the server command */
};

/*
 * One server process and its pipes.  `in` holds bytes read from the
 * server, `out` requests not yet written.  Parser state for CL framing is
 * `body_len` (0 while the header block is still being read).
 */
struct conn {
	pid_t		 pid;
	int		 wfd;		/* the server's stdin; -1 once closed */
	int		 rfd;		/* the server's stdout */
	int		 errfd;		/* unlinked file holding its stderr */
	enum framing	 framing;
	struct buf	 in;
	struct buf	 out;
	size_t		 scanned;	/* bytes of `in` known to hold no end */
	size_t		 body_len;	/* CL: body length once headers are read */
	int		 have_hdr;
	int		 reaped;
	int		 status;	/* wait status once reaped */
	struct rusage	 ru;
	long		 notifications;	/* server notifications skipped */
	long		 server_requests; /* server requests refused */
	char		 err[1024];
};

/* What a response said, as far as the benchmark cares. */
struct reply {
	long long	 id;
	int		 is_error;	/* JSON-RPC error response */
	int		 tool_error;	/* result.isError == true */
	int		 err_code;
	char		 err_msg[200];
};

/* Per-kind request text: prefix, the id, suffix. */
struct reqtmpl {
	char		*pre;
	char		*post;
	char		*scratch;	/* pre + id + post */
	size_t		 prelen, postlen;
};

static void __attribute__((format(printf, 2, 3)))
seterr(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

/* ---- process ---- */

/*
 * Fork and exec argv with stdin/stdout on pipes and stderr into an
 * unlinked temporary file.  Returns 0 with c ready (both pipe ends
 * non-blocking in the parent), or -1 with c->err set.
 */
static int
conn_spawn(struct conn *c, char **argv, enum framing fr)
{
	int in[2], out[2];
	char tmpl[] = "/tmp/mcpbench.XXXXXX";
	sigset_t all, old;

	memset(c, 0, sizeof(*c));
	c->wfd = c->rfd = c->errfd = -1;
	c->framing = fr;
	buf_init(&c->in, MB_MAX_MSG + MB_MAX_HEADER);
	buf_init(&c->out, MB_MAX_OUT);
	if ((c->errfd = mkostemp(tmpl, O_CLOEXEC)) == -1) {
		seterr(c, "temporary file: %s", strerror(errno));
		return -1;
	}
	unlink(tmpl);
	if (pipe2(in, O_CLOEXEC) == -1) {
		seterr(c, "pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) == -1) {
		seterr(c, "pipe: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		return -1;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	c->pid = fork();
	if (c->pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1 ||
		    dup2(c->errfd, 2) == -1)
			_exit(126);
		execvp(argv[0], argv);
		dprintf(2, "mcpbench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(in[0]);
	close(out[1]);
	if (c->pid == -1) {
		seterr(c, "fork: %s", strerror(errno));
		close(in[1]);
		close(out[0]);
		return -1;
	}
	bu_live_pid = c->pid;
	c->wfd = in[1];
	c->rfd = out[0];
	fcntl(c->wfd, F_SETFL, O_NONBLOCK);
	fcntl(c->rfd, F_SETFL, O_NONBLOCK);
	return 0;
}

/* Text for a wait status, into buf. */
static const char *
status_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "wait status %#x", status);
	return buf;
}

/*
 * What the server wrote on stderr, as one line (newlines shown as '|'):
 * all of it when short, else its first line (where runtimes put the
 * error) and its last MB_STDERR_TAIL bytes.  buf must hold
 * MB_STDERR_TAIL + 256 bytes.
 */
static const char *
stderr_text(struct conn *c, char *buf)
{
	struct stat st;
	off_t from = 0;
	ssize_t n;
	size_t i, len = 0;
	char *nl;

	buf[0] = '\0';
	if (c->errfd == -1 || fstat(c->errfd, &st) == -1)
		return buf;
	if (st.st_size > MB_STDERR_TAIL) {
		if ((n = pread(c->errfd, buf, 200, 0)) > 0) {
			len = (size_t)n;
			if ((nl = memchr(buf, '\n', len)) != NULL)
				len = (size_t)(nl - buf);
			memcpy(buf + len, " ... ", 5);
			len += 5;
		}
		from = st.st_size - MB_STDERR_TAIL;
	}
	if ((n = pread(c->errfd, buf + len, MB_STDERR_TAIL, from)) > 0)
		len += (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	for (i = 0; i < len; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = '|';
	return buf;
}

/*
 * Wait up to ms for the child to exit and reap it (rusage into c->ru).
 * Uses a pidfd when the kernel has one, else polls waitpid() every
 * millisecond.  Returns 1 once reaped, 0 if still running at the deadline.
 */
static int
conn_reap(struct conn *c, int ms)
{
	struct pollfd pfd;
	double deadline = bu_now_us() + ms * 1e3;
	struct timespec tick = { 0, 1000000 };
	pid_t r;
	int pidfd;

	if (c->reaped)
		return 1;
#ifdef SYS_pidfd_open
	if ((pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0)) != -1) {
		pfd.fd = pidfd;
		pfd.events = POLLIN;
		while (poll(&pfd, 1, ms) == -1 && errno == EINTR)
			;
		close(pidfd);
	}
#endif
	for (;;) {
		r = wait4(c->pid, &c->status, WNOHANG, &c->ru);
		if (r == c->pid) {
			c->reaped = 1;
			if (bu_live_pid == c->pid)
				bu_live_pid = 0;
			return 1;
		}
		if (r == -1 && errno != EINTR)
			return 0;
		if (bu_now_us() >= deadline)
			return 0;
		nanosleep(&tick, NULL);
	}
}

/*
 * The server went away (EOF on its stdout or EPIPE on its stdin) while
 * doing `what`: reap it briefly and set c->err to say how it ended and
 * what it last wrote on stderr.  Always returns -1.
 */
static int
conn_died(struct conn *c, const char *what)
{
	char st[128], tail[MB_STDERR_TAIL + 256];

	if (conn_reap(c, 1000))
		status_text(c->status, st, sizeof(st));
	else
		snprintf(st, sizeof(st), "closed its pipes but is still running");
	stderr_text(c, tail);
	seterr(c, "server %s while %s%s%s", st, what,
	    tail[0] ? "; its stderr: " : " (its stderr is empty)", tail);
	return -1;
}

/*
 * Close stdin and wait for the server to exit: up to MB_CLOSE_MS, then
 * SIGTERM, then SIGKILL.  Returns 0 on a clean exit (status 0), 1 if it
 * had to be signalled or exited non-zero (c->err says which).
 */
static int
conn_close(struct conn *c)
{
	char st[128];
	int rc = 0;

	if (c->wfd != -1) {
		close(c->wfd);
		c->wfd = -1;
	}
	if (!conn_reap(c, MB_CLOSE_MS)) {
		kill(c->pid, SIGTERM);
		if (!conn_reap(c, 1000)) {
			kill(c->pid, SIGKILL);
			conn_reap(c, 5000);
		}
		seterr(c, "server did not exit within %d ms of stdin EOF; "
		    "signalled", MB_CLOSE_MS);
		rc = 1;
	} else if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0) {
		seterr(c, "server %s after stdin EOF",
		    status_text(c->status, st, sizeof(st)));
		rc = 1;
	}
	return rc;
}

static void
conn_free(struct conn *c)
{
	if (c->wfd != -1)
		close(c->wfd);
	if (c->rfd != -1)
		close(c->rfd);
	if (c->errfd != -1)
		close(c->errfd);
	c->wfd = c->rfd = c->errfd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
}

/* ---- framing ---- */

/* Decimal text of u into buf (24 bytes); returns its length. */
static size_t
fmt_u64(char *buf, unsigned long long u)
{
	char tmp[24];
	size_t n = 0, i;

	/* By hand: printf was a visible share of the client's time. */
	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* Queue one JSON text, framed.  0, or -1 with c->err set. */
static int
conn_queue(struct conn *c, const char *json, size_t len)
{
	char hdr[64];
	size_t n;
	int r = 0;

	if (c->framing == FR_CL) {
		memcpy(hdr, "Content-Length: ", 16);
		n = 16 + fmt_u64(hdr + 16, len);
		memcpy(hdr + n, "\r\n\r\n", 4);
		r = buf_append(&c->out, hdr, n + 4);
	}
	if (r == 0)
		r = buf_append(&c->out, json, len);
	if (r == 0 && c->framing == FR_NDJSON)
		r = buf_append(&c->out, "\n", 1);
	if (r == -1)
		seterr(c, "cannot queue request: %s", strerror(errno));
	return r;
}

/*
 * Write queued bytes without blocking.  Returns 0 (all or part written),
 * or -1 with c->err set (the server closed its stdin, or another error).
 */
static int
conn_flush(struct conn *c)
{
	ssize_t n;

	while (buf_used(&c->out) > 0) {
		n = write(c->wfd, buf_data(&c->out), buf_used(&c->out));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			if (errno == EPIPE)
				return conn_died(c, "we were writing to it");
			seterr(c, "write to server: %s", strerror(errno));
			return -1;
		}
		buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

/*
 * Wait until the server's stdout is readable (flushing queued requests
 * whenever its stdin is writable) and read what is there.  Returns 0 after
 * reading some bytes, -1 with c->err set on EOF, error or the deadline
 * (bu_now_us() clock).
 */
static int
conn_fill(struct conn *c, double deadline, const char *what)
{
	struct pollfd pfd[2];
	size_t avail;
	ssize_t n;
	char *p;
	int left, nfd;

	for (;;) {
		left = (int)((deadline - bu_now_us()) / 1e3);
		if (left <= 0) {
			seterr(c, "timed out while %s", what);
			return -1;
		}
		pfd[0].fd = c->rfd;
		pfd[0].events = POLLIN;
		nfd = 1;
		if (buf_used(&c->out) > 0) {
			pfd[1].fd = c->wfd;
			pfd[1].events = POLLOUT;
			nfd = 2;
		}
		if (poll(pfd, (nfds_t)nfd, left) == -1) {
			if (errno == EINTR)
				continue;
			seterr(c, "poll: %s", strerror(errno));
			return -1;
		}
		if (nfd == 2 && pfd[1].revents && conn_flush(c) == -1)
			return -1;
		if (pfd[0].revents == 0)
			continue;
		if ((p = buf_reserve(&c->in, MB_READ_CHUNK, &avail)) == NULL) {
			seterr(c, "input buffer full (%u bytes) while %s",
			    MB_MAX_MSG + MB_MAX_HEADER, what);
			return -1;
		}
		n = read(c->rfd, p, avail);
		if (n > 0) {
			buf_commit(&c->in, (size_t)n);
			return 0;
		}
		if (n == 0)
			return conn_died(c, what);
		if (errno != EINTR && errno != EAGAIN) {
			seterr(c, "read from server: %s", strerror(errno));
			return -1;
		}
	}
}

/*
 * NDJSON: the next non-empty line.  Returns 1 with *msg, *len pointing into
 * c->in (valid until the next conn_fill), 0 if no full line is buffered,
 * -1 with c->err set on a line longer than MB_MAX_MSG.
 */
static int
next_ndjson(struct conn *c, const char **msg, size_t *len)
{
	const char *d, *nl;
	size_t used, n;

	for (;;) {
		d = buf_data(&c->in);
		used = buf_used(&c->in);
		nl = used > c->scanned ? memchr(d + c->scanned, '\n',
		    used - c->scanned) : NULL;
		if (nl == NULL) {
			if (used > MB_MAX_MSG) {
				seterr(c, "server sent a line over %u bytes",
				    MB_MAX_MSG);
				return -1;
			}
			c->scanned = used;
			return 0;
		}
		n = (size_t)(nl - d);
		buf_consume(&c->in, n + 1);
		c->scanned = 0;
		while (n > 0 && (d[n - 1] == '\r' || d[n - 1] == ' ' ||
		    d[n - 1] == '\t'))
			n--;
		if (n > 0) {
			*msg = d;
			*len = n;
			return 1;
		}
	}
}

/*
 * Content-Length: parse a complete header block at the front of c->in.
 * Returns 1 (c->body_len set, block consumed), 0 if incomplete, -1 with
 * c->err set when malformed or over MB_MAX_HEADER.
 */
static int
parse_cl_header(struct conn *c)
{
	const char *d = buf_data(&c->in), *line, *nl, *v;
	size_t used = buf_used(&c->in), pos = 0, ll;
	unsigned long long cl = 0;
	int have = 0;

	for (;;) {
		nl = used > pos ? memchr(d + pos, '\n', used - pos) : NULL;
		if (nl == NULL) {
			if (used > MB_MAX_HEADER) {
				seterr(c, "server header block over %u bytes",
				    MB_MAX_HEADER);
				return -1;
			}
			return 0;
		}
		line = d + pos;
		ll = (size_t)(nl - line);
		pos += ll + 1;
		if (pos > MB_MAX_HEADER) {
			seterr(c, "server header block over %u bytes",
			    MB_MAX_HEADER);
			return -1;
		}
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break;
		if (ll < 15 || strncasecmp(line, "content-length:", 15) != 0)
			continue;
		for (v = line + 15; v < line + ll && (*v == ' ' || *v == '\t'); v++)
			;
		if (v == line + ll) {
			seterr(c, "server sent an empty Content-Length");
			return -1;
		}
		for (cl = 0; v < line + ll; v++) {
			if (*v < '0' || *v > '9' || cl > MB_MAX_MSG) {
				seterr(c, "server sent a bad or oversized "
				    "Content-Length: %.*s", (int)ll, line);
				return -1;
			}
			cl = cl * 10 + (unsigned)(*v - '0');
		}
		have = 1;
	}
	if (!have) {
		seterr(c, "server header block has no Content-Length");
		return -1;
	}
	if (cl > MB_MAX_MSG) {
		seterr(c, "server message of %llu bytes is over %u", cl,
		    MB_MAX_MSG);
		return -1;
	}
	buf_consume(&c->in, pos);
	c->body_len = (size_t)cl;
	c->have_hdr = 1;
	return 1;
}

/* Content-Length: as next_ndjson(). */
static int
next_cl(struct conn *c, const char **msg, size_t *len)
{
	int r;

	if (!c->have_hdr && (r = parse_cl_header(c)) <= 0)
		return r;
	if (buf_used(&c->in) < c->body_len)
		return 0;
	*msg = buf_data(&c->in);
	*len = c->body_len;
	buf_consume(&c->in, c->body_len);
	c->have_hdr = 0;
	return 1;
}

static int
conn_next(struct conn *c, const char **msg, size_t *len)
{
	return c->framing == FR_CL ? next_cl(c, msg, len) :
	    next_ndjson(c, msg, len);
}

/* ---- a fast JSON check for the common case ---- */

/*
 * Parsing every response with jansson costs the client about as much as a
 * small server spends on the request (a hash table and several mallocs per
 * message), which would cap the pipelined figure at the client.  So plain
 * responses go through this allocation-free scanner: it validates the
 * whole text against the JSON grammar (RFC 8259; UTF-8 is not checked)
 * and records where the values of a few top-level keys are.  Anything
 * else (requests, notifications, errors, escaped keys) takes jansson.
 */
#define JS_MAX_DEPTH	256

struct span {
	const char	*p;	/* NULL: key absent */
	size_t		 n;
};

static const char *js_value(const char *, const char *, int);

static const char *
js_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int
is_hex(int ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

/* p at '"'.  Returns the byte after the closing quote, or NULL. */
static const char *
js_string(const char *p, const char *e, int *escaped)
{
	for (p++; p < e; p++) {
		if (*p == '"')
			return p + 1;
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\')
			continue;
		*escaped = 1;
		if (++p == e)
			return NULL;
		if (*p == 'u') {
			if (e - p < 5 || !is_hex(p[1]) || !is_hex(p[2]) ||
			    !is_hex(p[3]) || !is_hex(p[4]))
				return NULL;
			p += 4;
		} else if (strchr("\"\\/bfnrt", *p) == NULL)
			return NULL;
	}
	return NULL;
}

static const char *
js_digits(const char *p, const char *e)
{
	const char *s = p;

	while (p < e && *p >= '0' && *p <= '9')
		p++;
	return p == s ? NULL : p;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *
js_number(const char *p, const char *e)
{
	if (p < e && *p == '-')
		p++;
	if (p < e && *p == '0')
		p++;
	else if ((p = js_digits(p, e)) == NULL)
		return NULL;
	if (p < e && *p == '.' && (p = js_digits(p + 1, e)) == NULL)
		return NULL;
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		p = js_digits(p, e);
	}
	return p;
}

/*
 * p at '{'.  Returns the byte after the closing '}', or NULL.  When keys
 * is not NULL, out[i] receives the value span of keys[i] (last one wins),
 * and *escaped is set if any key contains an escape (it could then spell
 * one of keys without matching byte for byte).
 */
static const char *
js_object(const char *p, const char *e, int depth, const char *const *keys,
    struct span *out, int nkeys, int *escaped)
{
	const char *k, *kend, *v;
	int i, esc;

	if (depth > JS_MAX_DEPTH)
		return NULL;
	p = js_ws(p + 1, e);
	if (p < e && *p == '}')
		return p + 1;
	for (;;) {
		if (p == e || *p != '"')
			return NULL;
		k = p + 1;
		esc = 0;
		if ((p = js_string(p, e, &esc)) == NULL)
			return NULL;
		kend = p - 1;
		if (esc && escaped)
			*escaped = 1;
		p = js_ws(p, e);
		if (p == e || *p != ':')
			return NULL;
		v = js_ws(p + 1, e);
		if ((p = js_value(v, e, depth + 1)) == NULL)
			return NULL;
		for (i = 0; keys && i < nkeys; i++) {
			size_t kl = strlen(keys[i]);

			/* The key text ends at the quote js_string() found. */
			if (kend - k == (ptrdiff_t)kl &&
			    memcmp(k, keys[i], kl) == 0) {
				out[i].p = v;
				out[i].n = (size_t)(p - v);
			}
		}
		p = js_ws(p, e);
		if (p < e && *p == ',') {
			p = js_ws(p + 1, e);
			continue;
		}
		return p < e && *p == '}' ? p + 1 : NULL;
	}
}

static const char *
js_array(const char *p, const char *e, int depth)
{
	if (depth > JS_MAX_DEPTH)
		return NULL;
	p = js_ws(p + 1, e);
	if (p < e && *p == ']')
		return p + 1;
	for (;;) {
		if ((p = js_value(p, e, depth + 1)) == NULL)
			return NULL;
		p = js_ws(p, e);
		if (p < e && *p == ',') {
			p = js_ws(p + 1, e);
			continue;
		}
		return p < e && *p == ']' ? p + 1 : NULL;
	}
}

/* One value starting at p (no leading space).  Returns its end or NULL. */
static const char *
js_value(const char *p, const char *e, int depth)
{
	int esc = 0;

	if (p == e)
		return NULL;
	switch (*p) {
	case '{':
		return js_object(p, e, depth, NULL, NULL, 0, NULL);
	case '[':
		return js_array(p, e, depth);
	case '"':
		return js_string(p, e, &esc);
	case 't':
		return e - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return e - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return e - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return js_number(p, e);
	}
}

/*
 * Is [p, e) exactly one JSON object (surrounding space allowed)?  Returns
 * 0 with out[] filled as js_object() does, or -1.
 */
static int
js_scan(const char *p, const char *e, const char *const *keys,
    struct span *out, int nkeys, int *escaped)
{
	int i;

	for (i = 0; i < nkeys; i++)
		out[i].p = NULL;
	p = js_ws(p, e);
	if (p == e || *p != '{')
		return -1;
	if ((p = js_object(p, e, 0, keys, out, nkeys, escaped)) == NULL)
		return -1;
	return js_ws(p, e) == e ? 0 : -1;
}

/* A span holding a plain integer (no fraction or exponent) into *v. */
static int
span_int(const struct span *s, long long *v)
{
	const char *p = s->p, *e = s->p + s->n;
	unsigned long long u = 0;
	int neg = 0;

	if (p == NULL || p == e)
		return -1;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (p == e || e - p > 18)
		return -1;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		u = u * 10 + (unsigned)(*p - '0');
	}
	*v = neg ? -(long long)u : (long long)u;
	return 0;
}

static int
span_is(const struct span *s, const char *lit)
{
	return s->p && s->n == strlen(lit) && memcmp(s->p, lit, s->n) == 0;
}

/* ---- JSON-RPC ---- */

/* Answer a server request with -32601 (we offer no client features). */
static int
refuse_request(struct conn *c, json_t *id)
{
	char *idtxt, *msg;
	int n, r;

	if ((idtxt = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT)) == NULL) {
		seterr(c, "out of memory");
		return -1;
	}
	n = asprintf(&msg, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":"
	    "{\"code\":-32601,\"message\":\"Method not found\"}}", idtxt);
	free(idtxt);
	if (n < 0) {
		seterr(c, "out of memory");
		return -1;
	}
	r = conn_queue(c, msg, (size_t)n);
	free(msg);
	c->server_requests++;
	return r;
}

/* Fill r from a response object. */
static void
read_reply(json_t *root, struct reply *r)
{
	json_t *err, *res, *v;

	memset(r, 0, sizeof(*r));
	r->id = json_integer_value(json_object_get(root, "id"));
	if ((err = json_object_get(root, "error")) != NULL) {
		r->is_error = 1;
		r->err_code = (int)json_integer_value(json_object_get(err,
		    "code"));
		snprintf(r->err_msg, sizeof(r->err_msg), "%s",
		    json_string_value(json_object_get(err, "message")) ?
		    json_string_value(json_object_get(err, "message")) : "?");
	}
	res = json_object_get(root, "result");
	if (res && (v = json_object_get(res, "isError")) && json_is_true(v))
		r->tool_error = 1;
}

/*
 * The jansson path for everything but a plain result: as handle_msg().
 */
static int
handle_msg_slow(struct conn *c, const char *msg, size_t len, struct reply *r)
{
	json_error_t je;
	json_t *root, *id, *method;
	int rc;

	if ((root = json_loadb(msg, len, 0, &je)) == NULL) {
		seterr(c, "server sent invalid JSON (%s): %.*s", je.text,
		    (int)(len > 200 ? 200 : len), msg);
		return -1;
	}
	id = json_object_get(root, "id");
	method = json_object_get(root, "method");
	if (json_is_object(root) && json_is_string(method)) {
		if (id)
			rc = refuse_request(c, id);
		else {
			c->notifications++;
			rc = 0;
		}
	} else if (json_is_object(root) && json_is_integer(id) &&
	    !json_object_get(root, "result") != !json_object_get(root,
	    "error")) {
		read_reply(root, r);
		rc = 1;
	} else {
		seterr(c, "server sent a message that is neither a request, "
		    "a notification nor a response to us: %.*s",
		    (int)(len > 200 ? 200 : len), msg);
		rc = -1;
	}
	json_decref(root);
	return rc;
}

/*
 * Classify one message.  Returns 1 with *r filled for a response to one of
 * our (integer) ids, 0 for a message handled here (a notification,
 * counted, or a server request, refused), -1 with c->err set when the
 * message is not JSON-RPC we can accept.
 */
static int
handle_msg(struct conn *c, const char *msg, size_t len, struct reply *r)
{
	static const char *const top[] = { "jsonrpc", "id", "result",
	    "error", "method" };
	static const char *const res[] = { "isError" };
	struct span sp[5], is_err[1];
	int esc = 0;

	if (js_scan(msg, msg + len, top, sp, 5, &esc) == -1) {
		seterr(c, "server sent invalid JSON: %.*s",
		    (int)(len > 200 ? 200 : len), msg);
		return -1;
	}
	if (esc || sp[3].p || sp[4].p || sp[2].p == NULL)
		return handle_msg_slow(c, msg, len, r);
	memset(r, 0, sizeof(*r));
	if (!span_is(&sp[0], "\"2.0\"") || span_int(&sp[1], &r->id) == -1) {
		seterr(c, "server sent a response without jsonrpc \"2.0\" "
		    "or an integer id: %.*s", (int)(len > 200 ? 200 : len),
		    msg);
		return -1;
	}
	if (*sp[2].p == '{' && js_scan(sp[2].p, sp[2].p + sp[2].n, res,
	    is_err, 1, &esc) == 0 && span_is(&is_err[0], "true"))
		r->tool_error = 1;
	return 1;
}

/*
 * Read until the response to `id` arrives.  Returns 0 with *r filled, or
 * -1 with c->err set (timeout, server gone, bad message, response to a
 * different id).
 */
static int
conn_await(struct conn *c, long long id, int timeout_ms, const char *what,
    struct reply *r)
{
	double deadline = bu_now_us() + timeout_ms * 1e3;
	const char *msg;
	size_t len;
	int k;

	for (;;) {
		while ((k = conn_next(c, &msg, &len)) == 1) {
			if ((k = handle_msg(c, msg, len, r)) == -1)
				return -1;
			if (k == 0)
				continue;
			if (r->id != id) {
				seterr(c, "response to id %lld while awaiting "
				    "id %lld (%s)", r->id, id, what);
				return -1;
			}
			return 0;
		}
		if (k == -1 || conn_flush(c) == -1 ||
		    conn_fill(c, deadline, what) == -1)
			return -1;
	}
}

static int
tmpl_init(struct reqtmpl *t, const char *pre, const char *post)
{
	t->pre = strdup(pre);
	t->post = strdup(post);
	if (t->pre == NULL || t->post == NULL)
		return -1;
	t->prelen = strlen(pre);
	t->postlen = strlen(post);
	t->scratch = malloc(t->prelen + t->postlen + 24);
	if (t->scratch == NULL)
		return -1;
	memcpy(t->scratch, t->pre, t->prelen);
	return 0;
}

static void
tmpl_free(struct reqtmpl *t)
{
	free(t->pre);
	free(t->post);
	free(t->scratch);
}

/* Queue the request text with this id.  0 or -1 (c->err set). */
static int
queue_req(struct conn *c, struct reqtmpl *t, long long id)
{
	char *d = t->scratch + t->prelen;

	if (id < 0) {
		*d++ = '-';
		d += fmt_u64(d, 0ULL - (unsigned long long)id);
	} else
		d += fmt_u64(d, (unsigned long long)id);
	memcpy(d, t->post, t->postlen);
	d += t->postlen;
	return conn_queue(c, t->scratch, (size_t)(d - t->scratch));
}

/*
 * One request and its response.  Returns 0 with *r filled (which may be a
 * JSON-RPC error: the caller judges), or -1 with c->err set.
 */
static int
roundtrip(struct conn *c, struct reqtmpl *t, long long id, int timeout_ms,
    const char *what, struct reply *r)
{
	if (queue_req(c, t, id) == -1 || conn_flush(c) == -1)
		return -1;
	return conn_await(c, id, timeout_ms, what, r);
}

/*
 * CPU time used so far by the direct children of pid (processes whose
 * parent it is, found by scanning /proc/N/stat), in nanoseconds, as
 * bu_proc_cpu_ns() sums it.  Children that exited meanwhile are not
 * counted, nor grandchildren.  Returns 0 when there are none, -1 when
 * /proc cannot be read.
 */
static long long
proc_children_cpu_ns(pid_t pid)
{
	char path[96], line[512], *rp;
	struct dirent *de;
	long long sum = 0, v;
	long ppid;
	DIR *d;
	FILE *f;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		/* "pid (comm) state ppid ...": comm may hold spaces. */
		if (fgets(line, sizeof(line), f) != NULL &&
		    (rp = strrchr(line, ')')) != NULL &&
		    sscanf(rp + 1, " %*c %ld", &ppid) == 1 && ppid == pid &&
		    (v = bu_proc_cpu_ns((pid_t)atol(de->d_name))) > 0)
			sum += v;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* ---- phases ---- */

struct bench {
	struct opts	*o;
	struct reqtmpl	 init, ping, call;
	long long	 next_id;
	/* results */
	struct bu_stats	 spawn_ms, spawn_cpu_ms, ping_us, call_us;
	long		 call_tool_errors;
	struct bu_stats	 pipe_rate;	/* msg/s over the rounds */
	double		 ping_cpu_us, call_cpu_us, pipe_cpu_us;	/* server's */
	double		 call_child_us;	/* its children's, per call */
	struct bu_stats	 pcall_rate;	/* --pipe-calls: calls/s */
	double		 pcall_cpu_us, pcall_child_us;
	long		 pcall_tool_errors;
	long		 busy_calls, busy_tool_errors;	/* --busy */
	double		 busy_rate, busy_cpu_us, busy_child_us;
	struct bu_rss	 rss;
	long		 ru_maxrss;	/* KiB */
	long		 notifications, server_requests;
	int		 exit_status;	/* -1 unknown */
	char		 close_note[1024];
};

/*
 * Spawn, initialize (the clock runs from just before fork() to the
 * response), and leave the session ready (notifications/initialized sent).
 * *ms gets the spawn-to-initialize time.  Exits on failure.
 */
static void
session_open(struct bench *b, struct conn *c, double *ms)
{
	struct reply r;
	double t0;
	const char *note = "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}";

	t0 = bu_now_us();
	if (conn_spawn(c, b->o->argv, b->o->framing) == -1)
		bu_die("%s: %s", b->o->argv[0], c->err);
	if (roundtrip(c, &b->init, 0, b->o->timeout_ms,
	    "awaiting the initialize response", &r) == -1)
		bu_die("%s", c->err);
	*ms = (bu_now_us() - t0) / 1e3;
	if (r.is_error)
		bu_die("initialize failed: %d %s", r.err_code, r.err_msg);
	if (conn_queue(c, note, strlen(note)) == -1 || conn_flush(c) == -1)
		bu_die("%s", c->err);
}

/*
 * --spawns fresh sessions: the wall time from fork() to the initialize
 * response, and the CPU time each process used in its whole life (exec,
 * loading, initialize, exit), which a busy machine disturbs less.
 */
static void
phase_spawn(struct bench *b)
{
	struct conn c;
	double *v, *cpu;
	long i;

	if (b->o->spawns <= 0)
		return;
	v = calloc((size_t)b->o->spawns, sizeof(*v));
	cpu = calloc((size_t)b->o->spawns, sizeof(*cpu));
	if (v == NULL || cpu == NULL)
		bu_die("out of memory");
	for (i = 0; i < b->o->spawns; i++) {
		session_open(b, &c, &v[i]);
		if (conn_close(&c) != 0)
			fprintf(stderr, "mcpbench: spawn %ld: %s\n", i, c.err);
		cpu[i] = bu_cpu_ms(&c.ru);
		conn_free(&c);
	}
	b->spawn_ms = bu_summarize(v, b->o->spawns);
	b->spawn_cpu_ms = bu_summarize(cpu, b->o->spawns);
	free(v);
	free(cpu);
}

/*
 * n timed round trips of one request kind after `warmup` untimed ones.
 * JSON-RPC errors end the run; tool errors (isError) are counted.
 */
static struct bu_stats
phase_seq(struct bench *b, struct conn *c, struct reqtmpl *t,
    const char *label, long *tool_errors, double *cpu_us, double *child_us)
{
	long long cpu0 = -1, ch0 = -1;
	struct reply r;
	char what[256];
	double *v, t0;
	long i, total = b->o->warmup + b->o->n;

	if ((v = calloc((size_t)b->o->n, sizeof(*v))) == NULL)
		bu_die("out of memory");
	for (i = 0; i < total; i++) {
		long long id = ++b->next_id;

		snprintf(what, sizeof(what), "awaiting the response to %s "
		    "id %lld", label, id);
		if (i == b->o->warmup) {
			cpu0 = bu_proc_cpu_ns(c->pid);
			if (child_us)
				ch0 = proc_children_cpu_ns(c->pid);
		}
		t0 = bu_now_us();
		if (roundtrip(c, t, id, b->o->timeout_ms, what, &r) == -1)
			bu_die("%s", c->err);
		if (i >= b->o->warmup)
			v[i - b->o->warmup] = bu_now_us() - t0;
		if (r.is_error)
			bu_die("%s: error %d %s", what, r.err_code, r.err_msg);
		if (r.tool_error && tool_errors && i >= b->o->warmup)
			(*tool_errors)++;
	}
	*cpu_us = bu_cpu_per_msg_us(cpu0, bu_proc_cpu_ns(c->pid), b->o->n);
	if (child_us)
		*child_us = bu_cpu_per_msg_us(ch0, proc_children_cpu_ns(c->pid),
		    b->o->n);
	struct bu_stats s = bu_summarize(v, b->o->n);
	free(v);
	return s;
}

/*
 * One pipelined round of requests from template t (`label` names them in
 * errors): m requests with up to `window` in flight, or, when `until` is
 * non-zero, as many as are sent before that bu_now_us() time (m is then only
 * the upper bound).  Requests are queued in batches and written together;
 * responses may arrive in any order, each id is checked against a bitmap
 * of outstanding ids.  The deadline is per stretch without a response.
 * A JSON-RPC error ends the run; isError results are added to
 * *tool_errors when it is not NULL.  Returns responses per second, and
 * their number in *done.
 */
static double
pipe_round(struct bench *b, struct conn *c, struct reqtmpl *t,
    const char *label, long m, double until, long *done, long *tool_errors)
{
	long w = b->o->window, sent = 0, got = 0;
	long long base = b->next_id + 1, id;
	unsigned char *seen;
	struct reply r;
	const char *msg;
	double t0, deadline;
	char what[160];
	size_t len;
	int k, progress = 0;

	snprintf(what, sizeof(what), "awaiting pipelined %s responses", label);
	if ((seen = calloc((size_t)m / 8 + 1, 1)) == NULL)
		bu_die("out of memory");
	t0 = bu_now_us();
	deadline = t0 + b->o->timeout_ms * 1e3;
	while (got < m) {
		if (until > 0 && sent < m && bu_now_us() >= until)
			m = sent;
		while (sent < m && sent - got < w)
			if (queue_req(c, t, base + sent++) == -1)
				bu_die("%s", c->err);
		if (got == m)
			break;
		if (conn_flush(c) == -1 || conn_fill(c, deadline, what) == -1)
			bu_die("%s (%ld of %ld answered)", c->err, got, sent);
		while ((k = conn_next(c, &msg, &len)) == 1) {
			if ((k = handle_msg(c, msg, len, &r)) == -1)
				bu_die("%s", c->err);
			if (k == 0)
				continue;
			id = r.id - base;
			if (id < 0 || id >= sent || (seen[id / 8] & (1u << (id % 8))))
				bu_die("pipelined: unexpected or repeated "
				    "response id %lld", r.id);
			if (r.is_error)
				bu_die("pipelined %s %lld: error %d %s", label,
				    r.id, r.err_code, r.err_msg);
			if (r.tool_error && tool_errors)
				(*tool_errors)++;
			seen[id / 8] |= (unsigned char)(1u << (id % 8));
			got++;
			progress = 1;
		}
		if (k == -1)
			bu_die("%s", c->err);
		if (progress)
			deadline = bu_now_us() + b->o->timeout_ms * 1e3;
		progress = 0;
	}
	t0 = (bu_now_us() - t0) / 1e6;
	b->next_id = base + sent;
	free(seen);
	*done = got;
	return t0 > 0 ? got / t0 : 0;
}

/*
 * --rounds pipelined rounds of pings on one session, then as many of
 * tools/call with --pipe-calls; the median is the figure (a round can be
 * slowed by whatever else the machine runs).
 */
static void
phase_pipe(struct bench *b, struct conn *c)
{
	double v[MB_MAX_ROUNDS];
	long long cpu0 = bu_proc_cpu_ns(c->pid), ch0;
	long i, done;

	for (i = 0; i < b->o->rounds; i++)
		v[i] = pipe_round(b, c, &b->ping, "ping", b->o->m, 0, &done,
		    NULL);
	b->pipe_cpu_us = bu_cpu_per_msg_us(cpu0, bu_proc_cpu_ns(c->pid),
	    b->o->rounds * b->o->m);
	b->pipe_rate = bu_summarize(v, b->o->rounds);
	if (!b->o->pipe_calls)
		return;
	cpu0 = bu_proc_cpu_ns(c->pid);
	ch0 = proc_children_cpu_ns(c->pid);
	for (i = 0; i < b->o->rounds; i++)
		v[i] = pipe_round(b, c, &b->call, "tools/call", b->o->m, 0,
		    &done, &b->pcall_tool_errors);
	b->pcall_cpu_us = bu_cpu_per_msg_us(cpu0, bu_proc_cpu_ns(c->pid),
	    b->o->rounds * b->o->m);
	b->pcall_child_us = bu_cpu_per_msg_us(ch0, proc_children_cpu_ns(c->pid),
	    b->o->rounds * b->o->m);
	b->pcall_rate = bu_summarize(v, b->o->rounds);
}

/* --busy: tools/call with --window in flight for --busy seconds. */
static void
phase_busy(struct bench *b, struct conn *c)
{
	long long cpu0 = bu_proc_cpu_ns(c->pid), ch0;

	ch0 = proc_children_cpu_ns(c->pid);
	b->busy_rate = pipe_round(b, c, &b->call, "tools/call", MB_MAX_COUNT,
	    bu_now_us() + b->o->busy_s * 1e6, &b->busy_calls,
	    &b->busy_tool_errors);
	b->busy_cpu_us = bu_cpu_per_msg_us(cpu0, bu_proc_cpu_ns(c->pid),
	    b->busy_calls);
	b->busy_child_us = bu_cpu_per_msg_us(ch0, proc_children_cpu_ns(c->pid),
	    b->busy_calls);
}

static void
phase_session(struct bench *b)
{
	struct conn c;
	double ms;
	char label[160];

	if (b->o->n <= 0 && b->o->m <= 0 && b->o->busy_s <= 0)
		return;
	session_open(b, &c, &ms);
	if (b->o->n > 0) {
		b->ping_us = phase_seq(b, &c, &b->ping, "ping", NULL,
		    &b->ping_cpu_us, NULL);
		if (b->o->tool) {
			snprintf(label, sizeof(label), "tools/call %s",
			    b->o->tool);
			b->call_us = phase_seq(b, &c, &b->call, label,
			    &b->call_tool_errors, &b->call_cpu_us,
			    &b->call_child_us);
		}
	}
	if (b->o->m > 0)
		phase_pipe(b, &c);
	if (b->o->busy_s > 0)
		phase_busy(b, &c);
	b->rss = bu_read_rss(c.pid);
	b->notifications = c.notifications;
	b->server_requests = c.server_requests;
	if (conn_close(&c) != 0)
		snprintf(b->close_note, sizeof(b->close_note), "%s", c.err);
	b->exit_status = WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
	b->ru_maxrss = c.ru.ru_maxrss;
	conn_free(&c);
}

/* ---- setup and output ---- */

/* Build the request templates from the options.  Exits on bad input. */
static void
build_templates(struct bench *b)
{
	struct opts *o = b->o;
	json_error_t je;
	json_t *args, *name;
	char *pre, *argtxt, *nametxt, post[640];

	snprintf(post, sizeof(post), ",\"method\":\"initialize\",\"params\":"
	    "{\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":"
	    "{\"name\":\"mcpbench\",\"version\":\"%s\"}}}", o->protover,
	    AFU9_VERSION);
	if (tmpl_init(&b->init, "{\"jsonrpc\":\"2.0\",\"id\":", post) == -1 ||
	    tmpl_init(&b->ping, "{\"jsonrpc\":\"2.0\",\"id\":",
	    ",\"method\":\"ping\"}") == -1)
		bu_die("out of memory");
	if (o->tool == NULL)
		return;
	if ((args = json_loads(o->args, 0, &je)) == NULL)
		bu_die("--args: %s", je.text);
	if (!json_is_object(args))
		bu_die("--args must be a JSON object");
	name = json_string(o->tool);
	argtxt = json_dumps(args, JSON_COMPACT | JSON_PRESERVE_ORDER);
	nametxt = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
	if (argtxt == NULL || nametxt == NULL)
		bu_die("--tool: not valid UTF-8, or out of memory");
	if (asprintf(&pre, ",\"method\":\"tools/call\",\"params\":{\"name\":"
	    "%s,\"arguments\":%s}}", nametxt, argtxt) < 0 ||
	    tmpl_init(&b->call, "{\"jsonrpc\":\"2.0\",\"id\":", pre) == -1)
		bu_die("out of memory");
	free(pre);
	free(argtxt);
	free(nametxt);
	json_decref(name);
	json_decref(args);
}

static char *
command_line(char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; argv[i]; i++)
		len += strlen(argv[i]) + 1;
	if ((s = calloc(len, 1)) == NULL)
		bu_die("out of memory");
	for (i = 0; argv[i]; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static void
set_stats(json_t *o, const char *pfx, const char *unit, struct bu_stats *s)
{
	char k[64];

	snprintf(k, sizeof(k), "%s_n", pfx);
	json_object_set_new(o, k, json_integer(s->n));
	if (s->n == 0)
		return;
#define SETF(name, val) do { \
	snprintf(k, sizeof(k), "%s_%s_%s", pfx, name, unit); \
	json_object_set_new(o, k, json_real(round((val) * 1000) / 1000)); \
} while (0)
	SETF("p50", s->p50);
	SETF("p99", s->p99);
	SETF("mean", s->mean);
	SETF("min", s->min);
	SETF("max", s->max);
#undef SETF
}

/* A CPU figure, rounded to 0.001; omitted when unknown. */
static void
set_cpu(json_t *o, const char *key, double us)
{
	if (us >= 0)
		json_object_set_new(o, key, json_real(round(us * 1000) / 1000));
}

/* One flat JSON object, keys in a fixed order, one per line. */
static void
print_json(struct bench *b, const char *cmd)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "command", json_string(cmd));
	json_object_set_new(o, "framing", json_string(b->o->framing == FR_CL ?
	    "cl" : "ndjson"));
	set_stats(o, "spawn_init", "ms", &b->spawn_ms);
	if (b->spawn_cpu_ms.n > 0)
		set_stats(o, "spawn_cpu", "ms", &b->spawn_cpu_ms);
	set_stats(o, "ping", "us", &b->ping_us);
	if (b->ping_us.n > 0)
		set_cpu(o, "ping_srv_cpu_us", b->ping_cpu_us);
	if (b->o->tool) {
		json_object_set_new(o, "call_tool", json_string(b->o->tool));
		set_stats(o, "call", "us", &b->call_us);
		if (b->call_us.n > 0) {
			set_cpu(o, "call_srv_cpu_us", b->call_cpu_us);
			set_cpu(o, "call_child_cpu_us", b->call_child_us);
		}
		json_object_set_new(o, "call_tool_errors",
		    json_integer(b->call_tool_errors));
	}
	if (b->o->m > 0) {
		json_object_set_new(o, "pipe_messages", json_integer(b->o->m));
		json_object_set_new(o, "pipe_window",
		    json_integer(b->o->window));
		json_object_set_new(o, "pipe_rounds",
		    json_integer(b->o->rounds));
		json_object_set_new(o, "pipe_msgs_per_s",
		    json_integer((json_int_t)b->pipe_rate.p50));
		json_object_set_new(o, "pipe_msgs_per_s_min",
		    json_integer((json_int_t)b->pipe_rate.min));
		json_object_set_new(o, "pipe_msgs_per_s_max",
		    json_integer((json_int_t)b->pipe_rate.max));
		set_cpu(o, "pipe_srv_cpu_us", b->pipe_cpu_us);
	}
	if (b->o->m > 0 && b->o->pipe_calls) {
		json_object_set_new(o, "pipe_call_msgs_per_s",
		    json_integer((json_int_t)b->pcall_rate.p50));
		json_object_set_new(o, "pipe_call_msgs_per_s_min",
		    json_integer((json_int_t)b->pcall_rate.min));
		json_object_set_new(o, "pipe_call_msgs_per_s_max",
		    json_integer((json_int_t)b->pcall_rate.max));
		set_cpu(o, "pipe_call_srv_cpu_us", b->pcall_cpu_us);
		set_cpu(o, "pipe_call_child_cpu_us", b->pcall_child_us);
		json_object_set_new(o, "pipe_call_tool_errors",
		    json_integer(b->pcall_tool_errors));
	}
	if (b->o->busy_s > 0) {
		json_object_set_new(o, "busy_s", json_integer(b->o->busy_s));
		json_object_set_new(o, "busy_calls",
		    json_integer(b->busy_calls));
		json_object_set_new(o, "busy_calls_per_s",
		    json_integer((json_int_t)b->busy_rate));
		set_cpu(o, "busy_srv_cpu_us", b->busy_cpu_us);
		set_cpu(o, "busy_child_cpu_us", b->busy_child_us);
		json_object_set_new(o, "busy_tool_errors",
		    json_integer(b->busy_tool_errors));
	}
	if (b->o->n > 0 || b->o->m > 0 || b->o->busy_s > 0) {
		json_object_set_new(o, "vmhwm_kib", json_integer(b->rss.vmhwm));
		json_object_set_new(o, "vmrss_kib", json_integer(b->rss.vmrss));
		json_object_set_new(o, "rssanon_kib",
		    json_integer(b->rss.rssanon));
		json_object_set_new(o, "rssfile_kib",
		    json_integer(b->rss.rssfile));
		json_object_set_new(o, "ru_maxrss_kib",
		    json_integer(b->ru_maxrss));
		json_object_set_new(o, "notifications",
		    json_integer(b->notifications));
		json_object_set_new(o, "server_requests",
		    json_integer(b->server_requests));
		json_object_set_new(o, "exit_status",
		    json_integer(b->exit_status));
		if (b->close_note[0])
			json_object_set_new(o, "close_note",
			    json_string(b->close_note));
	}
	if ((s = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(12))) == NULL)
		bu_die("out of memory");
	puts(s);
	free(s);
	json_decref(o);
}

static void
print_text(struct bench *b, const char *cmd)
{
	char label[64];

	printf("server: %s\nframing: %s\n", cmd,
	    b->o->framing == FR_CL ? "Content-Length" : "NDJSON");
	if (b->spawn_ms.n) {
		bu_print_stats("spawn->initialize", "ms", &b->spawn_ms);
		bu_print_stats("  server CPU per life", "ms", &b->spawn_cpu_ms);
	}
	if (b->ping_us.n) {
		bu_print_stats("ping round trip", "us", &b->ping_us);
		printf("%-22s %.2f us per ping\n", "  server CPU",
		    b->ping_cpu_us);
	}
	if (b->call_us.n) {
		snprintf(label, sizeof(label), "tools/call %s", b->o->tool);
		bu_print_stats(label, "us", &b->call_us);
		printf("%-22s %.2f us per call (its children: %.2f us)\n",
		    "  server CPU", b->call_cpu_us, b->call_child_us);
		if (b->call_tool_errors)
			printf("  (%ld results had isError: true)\n",
			    b->call_tool_errors);
	}
	if (b->o->m > 0)
		printf("%-22s %ld pings, window %ld, %ld rounds: median %.0f "
		    "msg/s (min %.0f, max %.0f)\n", "pipelined", b->o->m,
		    b->o->window, b->o->rounds, b->pipe_rate.p50,
		    b->pipe_rate.min, b->pipe_rate.max);
	if (b->o->m > 0)
		printf("%-22s %.2f us per ping\n", "  server CPU",
		    b->pipe_cpu_us);
	if (b->o->m > 0 && b->o->pipe_calls)
		printf("%-22s %ld calls, window %ld, %ld rounds: median %.0f "
		    "calls/s (min %.0f, max %.0f)\n%-22s %.2f us per call "
		    "(its children: %.2f us)\n", "pipelined tools/call",
		    b->o->m, b->o->window, b->o->rounds, b->pcall_rate.p50,
		    b->pcall_rate.min, b->pcall_rate.max, "  server CPU",
		    b->pcall_cpu_us, b->pcall_child_us);
	if (b->o->busy_s > 0)
		printf("%-22s %ld calls in %ld s, window %ld: %.0f calls/s\n"
		    "%-22s %.2f us per call (its children: %.2f us)\n",
		    "busy load", b->busy_calls, b->o->busy_s, b->o->window,
		    b->busy_rate, "  server CPU", b->busy_cpu_us,
		    b->busy_child_us);
	if (b->o->n > 0 || b->o->m > 0 || b->o->busy_s > 0) {
		printf("%-22s VmHWM %ld KiB  VmRSS %ld KiB  (RssAnon %ld, "
		    "RssFile %ld)  ru_maxrss %ld KiB\n", "server memory",
		    b->rss.vmhwm, b->rss.vmrss, b->rss.rssanon,
		    b->rss.rssfile, b->ru_maxrss);
		if (b->notifications || b->server_requests)
			printf("%-22s %ld notifications, %ld requests "
			    "refused\n", "server sent", b->notifications,
			    b->server_requests);
		if (b->close_note[0])
			printf("note: %s\n", b->close_note);
	}
}

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: mcpbench [options] -- command [arg ...]\n"
	    "  --framing ndjson|cl   framing to speak (default ndjson)\n"
	    "  -s, --spawns N        spawn-to-initialize samples (default 20)\n"
	    "  -n, --count N         sequential requests per kind (default 2000)\n"
	    "  -m, --messages N      pipelined pings (default 50000)\n"
	    "  -w, --window N        pipelined requests in flight (default 64)\n"
	    "  -r, --rounds N        pipelined rounds, median reported (default 3)\n"
	    "  --warmup N            untimed requests per kind (default 200)\n"
	    "  --tool NAME           also time tools/call NAME\n"
	    "  --args JSON           its arguments (default {})\n"
	    "  --pipe-calls          pipeline tools/call too (-m, -w, -r)\n"
	    "  --busy SECONDS        then keep -w tools/call in flight that long\n"
	    "  --protocol VERSION    protocolVersion to offer (default 2025-11-25)\n"
	    "  --timeout MS          per-response deadline (default 10000)\n"
	    "  --json                one JSON object on stdout\n"
	    "A count of 0 skips that phase.\n");
	exit(code);
}

static void
parse_opts(struct opts *o, int argc, char **argv)
{
	const char *framing = "ndjson";
	const struct bu_opt opts[] = {
		{ "framing", 0, BU_STR, &framing, 0, 0 },
		{ "spawns", 's', BU_LONG, &o->spawns, 0, 100000 },
		{ "count", 'n', BU_LONG, &o->n, 0, MB_MAX_COUNT },
		{ "messages", 'm', BU_LONG, &o->m, 0, MB_MAX_COUNT },
		{ "window", 'w', BU_LONG, &o->window, 1, 1000000 },
		{ "rounds", 'r', BU_LONG, &o->rounds, 1, MB_MAX_ROUNDS },
		{ "warmup", 0, BU_LONG, &o->warmup, 0, MB_MAX_COUNT },
		{ "tool", 0, BU_STR, &o->tool, 0, 0 },
		{ "args", 0, BU_STR, &o->args, 0, 0 },
		{ "protocol", 0, BU_STR, &o->protover, 0, 0 },
		{ "timeout", 0, BU_INT, &o->timeout_ms, 1, 3600000 },
		{ "json", 0, BU_FLAG, &o->json, 0, 0 },
		{ "pipe-calls", 0, BU_FLAG, &o->pipe_calls, 0, 0 },
		{ "busy", 0, BU_LONG, &o->busy_s, 0, 86400 },
		{ NULL, 0, 0, NULL, 0, 0 },
	};
	int first;

	*o = (struct opts){ .framing = FR_NDJSON, .spawns = 20, .n = 2000,
	    .m = 50000, .window = 64, .rounds = 3, .warmup = 200, .timeout_ms = 10000,
	    .args = "{}", .protover = "2025-11-25" };
	first = bu_parse(argc, argv, opts, usage);
	if (strcmp(framing, "ndjson") == 0)
		o->framing = FR_NDJSON;
	else if (strcmp(framing, "cl") == 0)
		o->framing = FR_CL;
	else
		bu_die("--framing: ndjson or cl, not '%s'", framing);
	if (strpbrk(o->protover, "\"\\") || strlen(o->protover) > 64)
		bu_die("--protocol: not a version string");
	if (first >= argc)
		usage(2);
	if ((o->pipe_calls || o->busy_s > 0) && o->tool == NULL)
		bu_die("--pipe-calls and --busy need --tool");
	o->argv = argv + first;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct bench b;
	char *cmd;

	bu_progname = "mcpbench";
	parse_opts(&o, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	memset(&b, 0, sizeof(b));
	b.o = &o;
	b.exit_status = -1;
	build_templates(&b);
	cmd = command_line(o.argv);
	phase_spawn(&b);
	phase_session(&b);
	if (o.json)
		print_json(&b, cmd);
	else
		print_text(&b, cmd);
	free(cmd);
	tmpl_free(&b.init);
	tmpl_free(&b.ping);
	if (o.tool)
		tmpl_free(&b.call);
	return 0;
}
