/*
 * ghbench: a burst of getIssue calls through afu9-github against a local
 * fixture HTTP server, and the baselines measured in the same run.
 *
 *	ghbench [-n N] [-w W] [--url http://127.0.0.1:PORT] [--json] \
 *	    -- path/to/afu9-github
 *
 * Without --url, ghbench forks its own fixture server: a poll() loop on
 * 127.0.0.1 that answers every request with one canned issue document
 * (the shape and size of GitHub's, about 2.3 KB) over keep-alive
 * HTTP/1.1.  With --url it measures that server instead (t/faultserver.py
 * with a "default" answer set, say).
 *
 * Measured, in order, each after 10% untimed warm-up requests:
 *  1. raw HTTP: N GETs over one kept-alive connection, then N with W
 *     connections each keeping one request in flight (the fixture
 *     server's own rate: the ceiling for everything below);
 *  2. MCP ping on afu9-github: N sequential, N with W in flight (the
 *     server's own protocol overhead);
 *  3. getIssue on afu9-github: N sequential, N with W in flight;
 *  4. afu9-github's VmRSS and VmHWM, and the connections it opened to
 *     the fixture server.
 * Every phase reports calls/s and p50/p99 latency; getIssue is also given
 * as a ratio of the raw HTTP and ping rates.  Each wait has a deadline;
 * any failed call or stray answer ends the run with a message.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"

#define GB_MAX_N	1000000L
#define GB_MAX_W	64
#define GB_MAX_CONN	256
#define GB_BUF		(256 * 1024)
#define GB_DEADLINE_MS	10000
#define GB_TOKEN	"ghbench-not-a-real-token"

/* One issue in the shape of GET /repos/{owner}/{repo}/issues/{n}. */
static const char issue_json[] =
    "{\"url\":\"https://api.github.com/repos/acme/widgets/issues/7\","
    "\"repository_url\":\"https://api.github.com/repos/acme/widgets\","
    "\"labels_url\":\"https://api.github.com/repos/acme/widgets/issues/7/"
    "labels{/name}\",\"comments_url\":\"https://api.github.com/repos/acme/"
    "widgets/issues/7/comments\",\"events_url\":\"https://api.github.com/"
    "repos/acme/widgets/issues/7/events\",\"html_url\":\"https://github.com/"
    "acme/widgets/issues/7\",\"id\":2257000001,\"node_id\":\"I_kwDOBench7\","
    "\"number\":7,\"title\":\"Login fails on Safari\",\"user\":{\"login\":"
    "\"octocat\",\"id\":1,\"node_id\":\"MDQ6VXNlcjE=\",\"avatar_url\":"
    "\"https://github.com/images/error/octocat_happy.gif\",\"url\":"
    "\"https://api.github.com/users/octocat\",\"html_url\":"
    "\"https://github.com/octocat\",\"type\":\"User\",\"site_admin\":false},"
    "\"labels\":[{\"id\":208045946,\"node_id\":\"MDU6TGFiZWwyMDgwNDU5NDY=\","
    "\"url\":\"https://api.github.com/repos/acme/widgets/labels/bug\","
    "\"name\":\"bug\",\"description\":\"Something isn't working\","
    "\"color\":\"f29513\",\"default\":true}],\"state\":\"open\","
    "\"locked\":false,\"assignee\":{\"login\":\"hubot\",\"id\":2},"
    "\"assignees\":[{\"login\":\"hubot\",\"id\":2,\"type\":\"User\"}],"
    "\"milestone\":null,\"comments\":2,\"created_at\":\"2024-04-22T13:33:48Z\","
    "\"updated_at\":\"2024-04-23T09:00:00Z\",\"closed_at\":null,"
    "\"author_association\":\"MEMBER\",\"active_lock_reason\":null,"
    "\"body\":\"Steps to reproduce:\\n1. open the login page in Safari 17\\n"
    "2. enter valid credentials\\n3. press Log in\\n\\nExpected: the "
    "dashboard.\\nActual: the page reloads and the form is empty again. "
    "The console shows a blocked third-party cookie warning. Chrome and "
    "Firefox work. This started after the session cookie moved to "
    "SameSite=None; the Safari ITP rules may be the cause.\","
    "\"closed_by\":null,\"reactions\":{\"url\":\"https://api.github.com/"
    "repos/acme/widgets/issues/7/reactions\",\"total_count\":0,\"+1\":0,"
    "\"-1\":0,\"laugh\":0,\"hooray\":0,\"confused\":0,\"heart\":0,"
    "\"rocket\":0,\"eyes\":0},\"timeline_url\":\"https://api.github.com/"
    "repos/acme/widgets/issues/7/timeline\",\"performed_via_github_app\":"
    "null,\"state_reason\":null}";

struct opts {
	long		 n;
	int		 w;
	int		 json;
	char		 host[64];
	int		 port;
	char		*const *server;	/* argv of afu9-github */
};

struct stats {
	double		 rate;		/* calls per second */
	double		 p50, p99;	/* ms */
};

/* The monotonic clock in ms, the unit of every figure here. */
static double
now_ms(void)
{
	return bu_now_us() / 1e3;
}

/* Rate and percentiles of n latencies (sorted in place) over wall ms. */
static struct stats
summarise(double *lat, long n, double wall)
{
	struct stats s;

	bu_sort(lat, n);
	s.rate = n / (wall / 1e3);
	s.p50 = lat[n / 2];
	s.p99 = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
	return s;
}

/* ---- the fixture server (a child process) ---- */

struct fconn {
	int		 fd;
	size_t		 len;
	char		 buf[8192];
};

/* Answer each complete request head in c->buf; -1 when c is done. */
static int
fixture_serve(struct fconn *c, const char *resp, size_t rlen)
{
	char *end;
	size_t used, off;
	ssize_t w;

	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) != NULL) {
		used = (size_t)(end - c->buf) + 4;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		for (off = 0; off < rlen; off += (size_t)w)
			if ((w = write(c->fd, resp + off, rlen - off)) <= 0) {
				if (w == -1 && errno == EINTR) {
					w = 0;
					continue;
				}
				return -1;
			}
	}
	return c->len == sizeof(c->buf) ? -1 : 0;
}

/* Serve on lfd until SIGTERM; report accepted connections on rfd. */
static void
fixture_run(int lfd, int rfd)
{
	static struct fconn conns[GB_MAX_CONN];
	struct pollfd pfd[GB_MAX_CONN + 1];
	char resp[4096];
	long accepted = 0;
	size_t i, n = 0;
	ssize_t r;
	int len, fd, one = 1;
	sigset_t ss;

	len = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "X-RateLimit-Limit: 5000\r\nX-RateLimit-Remaining: 4999\r\n\r\n%s",
	    sizeof(issue_json) - 1, issue_json);
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &ss, NULL);
	for (;;) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < n; i++) {
			pfd[i + 1].fd = conns[i].fd;
			pfd[i + 1].events = POLLIN;
		}
		if (poll(pfd, n + 1, 500) == -1) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (getppid() == 1)
			_exit(0);
		for (i = n; i > 0; i--) {
			struct fconn *c = &conns[i - 1];

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(c->fd, c->buf + c->len, sizeof(c->buf) -
			    c->len);
			if (r > 0)
				c->len += (size_t)r;
			if (r <= 0 || fixture_serve(c, resp, (size_t)len) ==
			    -1) {
				close(c->fd);
				conns[i - 1] = conns[--n];
			}
		}
		if ((pfd[0].revents & POLLIN) &&
		    (fd = accept(lfd, NULL, NULL)) != -1) {
			accepted++;
			if (write(rfd, &accepted, sizeof(accepted)) < 0)
				_exit(1);
			if (n == GB_MAX_CONN) {
				close(fd);
				continue;
			}
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
			conns[n].fd = fd;
			conns[n].len = 0;
			n++;
		}
	}
}

/* Fork the fixture server; its port.  *pid, and *rfd for its counts. */
static int
fixture_start(pid_t *pid, int *rfd)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lfd, p[2];

	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		bu_die("socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 128) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) == -1)
		bu_die("fixture server: %s", strerror(errno));
	if (pipe(p) == -1 || (*pid = fork()) == -1)
		bu_die("fork: %s", strerror(errno));
	if (*pid == 0) {
		close(p[0]);
		fixture_run(lfd, p[1]);
	}
	close(p[1]);
	close(lfd);
	*rfd = p[0];
	return ntohs(sa.sin_port);
}

/* Connections the fixture server accepted so far (the latest count). */
static long
fixture_accepted(int rfd)
{
	struct pollfd pfd = { rfd, POLLIN, 0 };
	long v, last = 0;

	while (poll(&pfd, 1, 0) == 1 && read(rfd, &v, sizeof(v)) ==
	    (ssize_t)sizeof(v))
		last = v;
	return last;
}

/* ---- raw HTTP client ---- */

struct hconn {
	int		 fd;
	double		 sent;
	size_t		 len;
	char		 buf[16384];
};

static void
hconn_open(struct hconn *c, const struct opts *o)
{
	struct sockaddr_in sa;
	int one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)o->port);
	if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1)
		bu_die("--url: %s is not an IPv4 address", o->host);
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		bu_die("connect to %s:%d: %s", o->host, o->port, strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->len = 0;
}

static void
hconn_send(struct hconn *c)
{
	static const char req[] = "GET /repos/acme/widgets/issues/7 HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAccept: application/vnd.github+json\r\n"
	    "User-Agent: ghbench\r\n\r\n";

	c->sent = now_ms();
	if (write(c->fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		bu_die("raw HTTP: write: %s", strerror(errno));
}

/* Read on c; 1 when a whole 200 response is in (and consumed), else 0. */
static int
hconn_read(struct hconn *c)
{
	char *end, *cl;
	size_t head, total;
	ssize_t r;

	r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (r <= 0)
		bu_die("raw HTTP: the server closed the connection");
	c->len += (size_t)r;
	if ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
		return 0;
	head = (size_t)(end - c->buf) + 4;
	if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0)
		bu_die("raw HTTP: not a 200: %.40s", c->buf);
	*end = '\0';
	if ((cl = strcasestr(c->buf, "\r\nContent-Length:")) == NULL)
		bu_die("raw HTTP: no Content-Length");
	total = head + strtoul(cl + 17, NULL, 10);
	*end = '\r';
	if (total > sizeof(c->buf))
		bu_die("raw HTTP: answer too large");
	if (c->len < total)
		return 0;
	memmove(c->buf, c->buf + total, c->len - total);
	c->len -= total;
	return 1;
}

/* n GETs with w connections, one request in flight on each. */
static struct stats
raw_http(const struct opts *o, long n, int w, double *lat)
{
	struct hconn *c = calloc((size_t)w, sizeof(*c));
	struct pollfd pfd[GB_MAX_W];
	long sent = 0, done = 0;
	double t0;
	int i, k;

	if (c == NULL)
		bu_die("out of memory");
	for (i = 0; i < w; i++)
		hconn_open(&c[i], o);
	t0 = now_ms();
	for (i = 0; i < w && sent < n; i++, sent++)
		hconn_send(&c[i]);
	while (done < n) {
		for (i = 0; i < w; i++) {
			pfd[i].fd = c[i].fd;
			pfd[i].events = POLLIN;
		}
		if ((k = poll(pfd, (nfds_t)w, GB_DEADLINE_MS)) <= 0)
			bu_die("raw HTTP: no answer within %d ms", GB_DEADLINE_MS);
		for (i = 0; i < w; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP)) ||
			    !hconn_read(&c[i]))
				continue;
			lat[done++] = now_ms() - c[i].sent;
			if (sent < n) {
				hconn_send(&c[i]);
				sent++;
			}
		}
	}
	t0 = now_ms() - t0;
	for (i = 0; i < w; i++)
		close(c[i].fd);
	free(c);
	return summarise(lat, n, t0);
}

/* ---- afu9-github on pipes ---- */

struct mcp {
	pid_t		 pid;
	int		 in, out;
	size_t		 len;
	char		*buf;
	double		*sent;		/* by id */
	const char	*argv0;
};

static void
mcp_start(struct mcp *m, const struct opts *o, long maxid)
{
	char url[128];
	int pin[2], pout[2];

	snprintf(url, sizeof(url), "http://%s:%d", o->host, o->port);
	if (pipe(pin) == -1 || pipe(pout) == -1 || (m->pid = fork()) == -1)
		bu_die("spawn: %s", strerror(errno));
	if (m->pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		close(pin[0]);
		close(pin[1]);
		close(pout[0]);
		close(pout[1]);
		setenv("GITHUB_API_URL", url, 1);
		setenv("GITHUB_TOKEN", GB_TOKEN, 1);
		setenv("AFU9_LOG_LEVEL", "warn", 1);
		execv(o->server[0], o->server);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	m->argv0 = o->server[0];
	m->in = pin[1];
	m->out = pout[0];
	m->len = 0;
	if ((m->buf = malloc(GB_BUF)) == NULL ||
	    (m->sent = calloc((size_t)maxid + 1, sizeof(double))) == NULL)
		bu_die("out of memory");
}

static void
mcp_write(struct mcp *m, const char *s, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(m->in, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			bu_die("write to afu9-github: %s (did %s start?)",
			    strerror(errno), m->argv0);
		}
		s += w;
		len -= (size_t)w;
	}
}

/* The next line from the server (in m->buf, NUL-terminated); its length
   plus one is consumed by mcp_consume(). */
static char *
mcp_line(struct mcp *m, size_t *linelen)
{
	struct pollfd pfd = { m->out, POLLIN, 0 };
	char *nl;
	ssize_t r;

	while ((nl = memchr(m->buf, '\n', m->len)) == NULL) {
		if (m->len == GB_BUF)
			bu_die("a message longer than %d bytes", GB_BUF);
		if (poll(&pfd, 1, GB_DEADLINE_MS) != 1)
			bu_die("afu9-github did not answer within %d ms",
			    GB_DEADLINE_MS);
		if ((r = read(m->out, m->buf + m->len, GB_BUF - m->len)) <= 0)
			bu_die("afu9-github closed its output");
		m->len += (size_t)r;
	}
	*nl = '\0';
	*linelen = (size_t)(nl - m->buf) + 1;
	return m->buf;
}

static void
mcp_consume(struct mcp *m, size_t n)
{
	memmove(m->buf, m->buf + n, m->len - n);
	m->len -= n;
}

static void
mcp_send(struct mcp *m, long id, int ping)
{
	char req[512];
	int n;

	if (ping)
		n = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%ld,"
		    "\"method\":\"ping\"}\n", id);
	else
		n = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%ld,"
		    "\"method\":\"tools/call\",\"params\":{\"name\":"
		    "\"getIssue\",\"arguments\":{\"owner\":\"acme\",\"repo\":"
		    "\"widgets\",\"number\":7}}}\n", id);
	m->sent[id] = now_ms();
	mcp_write(m, req, (size_t)n);
}

/* Read one response; its id.  A failed call ends the run. */
static long
mcp_recv(struct mcp *m, int ping)
{
	size_t n;
	char *l = mcp_line(m, &n), *p;
	long id;

	if ((p = strstr(l, "\"id\":")) == NULL)
		bu_die("a message without an id: %.200s", l);
	id = strtol(p + 5, NULL, 10);
	if (strstr(l, "\"result\"") == NULL || strstr(l, "\"isError\":true") ||
	    (!ping && strstr(l, "Login fails on Safari") == NULL))
		bu_die("call %ld failed: %.300s", id, l);
	mcp_consume(m, n);
	return id;
}

static void
mcp_init(struct mcp *m)
{
	static const char init[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":"
	    "\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
	    "\"capabilities\":{},\"clientInfo\":{\"name\":\"ghbench\","
	    "\"version\":\"1\"}}}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
	size_t n;

	mcp_write(m, init, sizeof(init) - 1);
	mcp_line(m, &n);
	mcp_consume(m, n);
}

/* Ids first..first+n-1, w in flight; latencies into lat. */
static struct stats
mcp_run(struct mcp *m, long first, long n, int w, int ping, double *lat)
{
	long next = first, done = 0, id;
	double t0 = now_ms();

	while (next < first + n && next - first < w)
		mcp_send(m, next++, ping);
	while (done < n) {
		id = mcp_recv(m, ping);
		if (id < first || id >= first + n)
			bu_die("an answer to id %ld, not in [%ld, %ld)", id, first,
			    first + n);
		lat[done++] = now_ms() - m->sent[id];
		if (next < first + n)
			mcp_send(m, next++, ping);
	}
	return summarise(lat, n, now_ms() - t0);
}

/* ---- main ---- */

static void
usage(int code)
{
	fprintf(code ? stderr : stdout, "usage: ghbench [-n N] [-w W] [--url "
	    "http://127.0.0.1:PORT] [--json] [--] afu9-github [arg ...]\n");
	exit(code);
}

static void
parse(int argc, char **argv, struct opts *o)
{
	const char *url = NULL;
	const struct bu_opt opts[] = {
		{ "count", 'n', BU_LONG, &o->n, 10, GB_MAX_N },
		{ "window", 'w', BU_INT, &o->w, 1, GB_MAX_W },
		{ "json", 0, BU_FLAG, &o->json, 0, 0 },
		{ "url", 0, BU_STR, &url, 0, 0 },
		{ NULL, 0, 0, NULL, 0, 0 },
	};
	int first;

	o->n = 20000;
	o->w = 16;
	first = bu_parse(argc, argv, opts, usage);
	if (url != NULL && sscanf(url, "http://%63[0-9.]:%d", o->host,
	    &o->port) != 2)
		bu_die("--url: want http://IPV4:PORT, got '%s'", url);
	if (first >= argc)
		usage(2);
	o->server = argv + first;
}

struct result {
	const char	*name;
	struct stats	 seq, conc;
};

static void
print_text(const struct opts *o, const struct result *r, size_t nr,
    long rss, long hwm, long conns)
{
	size_t i;

	printf("ghbench: n=%ld, window %d, fixture %s:%d\n", o->n, o->w,
	    o->host, o->port);
	printf("%-10s %12s %9s %9s %12s %9s %9s\n", "", "seq calls/s",
	    "p50 ms", "p99 ms", "w calls/s", "p50 ms", "p99 ms");
	for (i = 0; i < nr; i++)
		printf("%-10s %12.0f %9.3f %9.3f %12.0f %9.3f %9.3f\n",
		    r[i].name, r[i].seq.rate, r[i].seq.p50, r[i].seq.p99,
		    r[i].conc.rate, r[i].conc.p50, r[i].conc.p99);
	printf("getIssue / raw HTTP: %.2f sequential, %.2f window %d\n",
	    r[2].seq.rate / r[0].seq.rate, r[2].conc.rate / r[0].conc.rate,
	    o->w);
	printf("getIssue / ping:     %.2f sequential, %.2f window %d\n",
	    r[2].seq.rate / r[1].seq.rate, r[2].conc.rate / r[1].conc.rate,
	    o->w);
	printf("afu9-github VmRSS %ld KiB, VmHWM %ld KiB", rss, hwm);
	if (conns >= 0)
		printf("; it opened %ld connection%s to the fixture", conns,
		    conns == 1 ? "" : "s");
	printf("\n");
}

static void
print_json(const struct opts *o, const struct result *r, size_t nr,
    long rss, long hwm, long conns)
{
	size_t i;

	printf("{\n  \"n\": %ld,\n  \"window\": %d,\n", o->n, o->w);
	for (i = 0; i < nr; i++)
		printf("  \"%s_seq_rate\": %.1f,\n  \"%s_seq_p50_ms\": %.4f,\n"
		    "  \"%s_seq_p99_ms\": %.4f,\n  \"%s_win_rate\": %.1f,\n"
		    "  \"%s_win_p50_ms\": %.4f,\n  \"%s_win_p99_ms\": %.4f,\n",
		    r[i].name, r[i].seq.rate, r[i].name, r[i].seq.p50,
		    r[i].name, r[i].seq.p99, r[i].name, r[i].conc.rate,
		    r[i].name, r[i].conc.p50, r[i].name, r[i].conc.p99);
	printf("  \"vmrss_kib\": %ld,\n  \"vmhwm_kib\": %ld,\n"
	    "  \"fixture_connections\": %ld\n}\n", rss, hwm, conns);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct result r[3] = { { "raw_http", { 0, 0, 0 }, { 0, 0, 0 } },
	    { "ping", { 0, 0, 0 }, { 0, 0, 0 } },
	    { "getIssue", { 0, 0, 0 }, { 0, 0, 0 } } };
	struct mcp m;
	pid_t fx = -1;
	double *lat;
	struct bu_rss mem;
	long warm, id = 1, conns = -1;
	int rfd = -1, i, st;

	memset(&o, 0, sizeof(o));
	bu_progname = "ghbench";
	parse(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	if (o.port == 0) {
		snprintf(o.host, sizeof(o.host), "127.0.0.1");
		o.port = fixture_start(&fx, &rfd);
	}
	warm = o.n / 10;
	if ((lat = calloc((size_t)o.n, sizeof(*lat))) == NULL)
		bu_die("out of memory");
	raw_http(&o, warm, 1, lat);
	r[0].seq = raw_http(&o, o.n, 1, lat);
	r[0].conc = raw_http(&o, o.n, o.w, lat);

	if (fx != -1)
		conns = fixture_accepted(rfd);
	mcp_start(&m, &o, 4 * (o.n + warm) + 8);
	mcp_init(&m);
	for (i = 1; i <= 2; i++) {
		mcp_run(&m, id, warm, 1, i == 1, lat);
		id += warm;
		r[i].seq = mcp_run(&m, id, o.n, 1, i == 1, lat);
		id += o.n;
		r[i].conc = mcp_run(&m, id, o.n, o.w, i == 1, lat);
		id += o.n;
	}
	mem = bu_read_rss(m.pid);
	close(m.in);
	if (waitpid(m.pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		bu_die("afu9-github did not exit cleanly (status %d)", st);
	if (fx != -1) {
		conns = fixture_accepted(rfd) - conns;
		kill(fx, SIGTERM);
		waitpid(fx, NULL, 0);
	}
	if (o.json)
		print_json(&o, r, 3, mem.vmrss, mem.vmhwm, conns);
	else
		print_text(&o, r, 3, mem.vmrss, mem.vmhwm, conns);
	free(lat);
	free(m.buf);
	free(m.sent);
	return 0;
}
