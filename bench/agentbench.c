/*
 * agentbench: what the agent loop (orchestrator/agent/agent.h) costs per
 * turn, beside what its parts cost alone, in one process and one run.
 *
 *	agentbench --server PATH [--runs N] [--turns T] [--baseline N]
 *	    [--long T] [--json]
 *
 * A child process is an OpenAI-compatible provider that answers every
 * request at once with a canned stream (text/event-stream, four events):
 * a tool call of conf.echo {"text": "turn K"} (K the tool results the
 * request carries), or, once a run's conversation holds T - 1 results,
 * the final text.  The tools are two t/conformance-server children
 * behind a real router: 20 of their tools are offered to the model
 * (conf.*, and conf2.echo, add, big, count).  Measured, each sequentially on the
 * one libev loop:
 *   baseline http   N POSTs of a first turn's request body to the
 *                   provider through httpc (the body collected, not
 *                   parsed): the HTTP round trip alone;
 *   baseline tool   N router_call()s of conf.echo: the tool round trip
 *                   alone;
 *   agent           R runs of T turns (T - 1 tool turns and the answer);
 *   long            one run of L turns (the conversation grows to L
 *                   turns: each request carries all of it), each turn's
 *                   clocks read (the agent's turn event), so that its last
 *                   tenth, turns 0.9 L to L, is measured on its own: the
 *                   loop's cost when the conversation is long.
 * Wall time and this process's CPU time (getrusage: the loop, httpc, the
 * router's client side; not the children) per operation; the loop's
 * overhead per turn is the agent's per turn less the baselines' share (a
 * request, and (T - 1) / T tool calls).  RSS (VmRSS) is read after every
 * tenth of the agent runs: flat means nothing is kept from run to run.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "httpc.h"
#include "log.h"
#include "strv.h"
#include "conf/conf.h"
#include "mcp/router.h"
#include "agent/agent.h"
#include "benchutil.h"

#define MAX_CONNS	16
#define MAX_REQ		(64u << 20)

/* ---- the provider: one child, poll(), keep-alive ---- */

struct sconn {
	int	 fd;
	char	*buf;
	size_t	 len, cap;
};

static int
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) <= 0) {
			if (w == -1 && errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* How many times needle occurs in hay[0..n). */
static long
count(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	const char *p = hay, *end = hay + n;
	long c = 0;

	while ((p = memmem(p, (size_t)(end - p), needle, k)) != NULL) {
		c++;
		p += k;
	}
	return c;
}

static int
answer(int fd, const char *body, size_t blen, long turns)
{
	static char sse[4096 + 256], head[256];
	long k = count(body, blen, "\"tool_call_id\"");
	int n, h;

	if (k + 1 >= turns)
		n = snprintf(sse, sizeof(sse),
		    "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\","
		    "\"created\":1,\"model\":\"bench\",\"choices\":[{\"index\":0,"
		    "\"delta\":{\"role\":\"assistant\",\"content\":\"done after "
		    "%ld calls\"},\"finish_reason\":null}]}\n\n"
		    "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\","
		    "\"created\":1,\"model\":\"bench\",\"choices\":[{\"index\":0,"
		    "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", k);
	else
		n = snprintf(sse, sizeof(sse),
		    "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\","
		    "\"created\":1,\"model\":\"bench\",\"choices\":[{\"index\":0,"
		    "\"delta\":{\"role\":\"assistant\",\"content\":null,"
		    "\"tool_calls\":[{\"index\":0,\"id\":\"call_%ld\",\"type\":"
		    "\"function\",\"function\":{\"name\":\"conf__echo\","
		    "\"arguments\":\"{\\\"text\\\":\\\"turn %ld\\\"}\"}}]},"
		    "\"finish_reason\":null}]}\n\n"
		    "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\","
		    "\"created\":1,\"model\":\"bench\",\"choices\":[{\"index\":0,"
		    "\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
		    k, k);
	n += snprintf(sse + n, sizeof(sse) - (size_t)n,
	    "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\","
	    "\"created\":1,\"model\":\"bench\",\"choices\":[],\"usage\":"
	    "{\"prompt_tokens\":100,\"completion_tokens\":10,"
	    "\"total_tokens\":110}}\n\ndata: [DONE]\n\n");
	/* one write: head and body in two would meet the client's delayed
	   ACK (Nagle), 40 ms a request */
	h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "text/event-stream\r\nContent-Length: %d\r\n\r\n", n);
	memmove(sse + h, sse, (size_t)n);
	memcpy(sse, head, (size_t)h);
	return send_all(fd, sse, (size_t)(h + n));
}

/* Answer every whole request in c's buffer.  -1: close it. */
static int
serve_buf(struct sconn *c, long turns)
{
	char *eoh, *cl;
	size_t hl, bl;

	for (;;) {
		if ((eoh = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
			return 0;
		hl = (size_t)(eoh - c->buf) + 4;
		*eoh = '\0';
		cl = strcasestr(c->buf, "\r\ncontent-length:");
		bl = cl ? strtoul(cl + 17, NULL, 10) : 0;
		*eoh = '\r';
		if (hl + bl > MAX_REQ)
			return -1;
		if (c->len < hl + bl)
			return 0;
		if (answer(c->fd, c->buf + hl, bl, turns) == -1)
			return -1;
		memmove(c->buf, c->buf + hl + bl, c->len - hl - bl);
		c->len -= hl + bl;
	}
}

static void
provider_main(int lfd, long turns)
{
	struct pollfd p[MAX_CONNS + 1];
	struct sconn c[MAX_CONNS];
	size_t i, n = 0;
	ssize_t r;
	int fd;

	for (;;) {
		p[0].fd = lfd;
		p[0].events = POLLIN;
		for (i = 0; i < n; i++) {
			p[i + 1].fd = c[i].fd;
			p[i + 1].events = POLLIN;
		}
		if (poll(p, n + 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if ((p[0].revents & POLLIN) && n < MAX_CONNS &&
		    (fd = accept(lfd, NULL, NULL)) >= 0) {
			c[n].fd = fd;
			c[n].len = 0;
			c[n].cap = 1 << 16;
			if ((c[n].buf = malloc(c[n].cap)) == NULL)
				_exit(1);
			n++;
		}
		for (i = n; i > 0; i--) {
			struct sconn *s = &c[i - 1];

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (s->len == s->cap) {
				s->cap *= 2;
				if (s->cap > MAX_REQ + 65536 ||
				    (s->buf = realloc(s->buf, s->cap)) == NULL)
					_exit(1);
			}
			r = recv(s->fd, s->buf + s->len, s->cap - s->len, 0);
			if (r > 0) {
				s->len += (size_t)r;
				if (serve_buf(s, turns) == 0)
					continue;
			} else if (r == -1 && errno == EINTR)
				continue;
			close(s->fd);
			free(s->buf);
			*s = c[--n];
			/* p[] is rebuilt next round; i-1 now holds the last */
		}
	}
}

static pid_t
provider_start(long turns, int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	pid_t pid;
	int lfd;

	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		bu_die("socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) == -1)
		bu_die("listen: %s", strerror(errno));
	*port = ntohs(sa.sin_port);
	if ((pid = fork()) == -1)
		bu_die("fork: %s", strerror(errno));
	if (pid == 0)
		provider_main(lfd, turns);
	close(lfd);
	return pid;
}

/* ---- the measurements ---- */

static struct ev_loop	*loop;
static struct router	*rt;
static struct httpc	*http;
static int		 pending;

static double
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
	    (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

static long
rss_kib(void)
{
	return bu_read_rss(getpid()).vmrss;
}

static void
http_done(struct httpc_req *r, const struct httpc_response *resp, void *a)
{
	if (resp->status != 200)
		bu_die("baseline request: %ld %s", resp->status,
		    resp->error_text ? resp->error_text : "");
	pending = 0;
}

static void
tool_done(struct router_call *c, const json_t *res,
    const struct router_err *e, void *a)
{
	if (e != NULL)
		bu_die("baseline tool call: %s", e->message);
	pending = 0;
}

static void
wait_pending(void)
{
	while (pending)
		ev_run(loop, EVRUN_ONCE);
}

struct result {
	double	 wall_us, cpu_us;	/* per operation */
};

/* The body of a first turn: system, task, the 20 tools. */
static char *
first_body(const json_t *tools, const char *model)
{
	struct prov_conv c;
	struct prov_opts o = { .kind = PROV_OPENAI, .model = model,
	    .max_tokens = 4096, .stream = 1 };
	char err[256], *s;
	json_t *req;

	prov_conv_init(&c);
	if (prov_conv_add_system(&c, agent_default_system(), err,
	    sizeof(err)) == -1 ||
	    prov_conv_add_tools(&c, tools, err, sizeof(err)) == -1 ||
	    prov_conv_add_user(&c, "Echo turn after turn.", err,
	    sizeof(err)) == -1 ||
	    (req = prov_request(&c, &o, err, sizeof(err))) == NULL)
		bu_die("body: %s", err);
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	prov_conv_free(&c);
	return s;
}

static struct result
bench_http(const char *url, char **headers, const char *body, long n)
{
	struct result r;
	double t0, c0;
	long i;

	t0 = bu_now_us();
	c0 = cpu_us();
	for (i = 0; i < n; i++) {
		pending = 1;
		if (httpc_request(http, "POST", url,
		    (const char *const *)headers, body, strlen(body), 0,
		    http_done, NULL) == NULL)
			bu_die("httpc_request failed");
		wait_pending();
	}
	r.wall_us = (bu_now_us() - t0) / (double)n;
	r.cpu_us = (cpu_us() - c0) / (double)n;
	return r;
}

static struct result
bench_tool(long n)
{
	struct router_err e;
	struct result r;
	double t0, c0;
	long i;

	t0 = bu_now_us();
	c0 = cpu_us();
	for (i = 0; i < n; i++) {
		pending = 1;
		if (router_call(rt, "conf.echo", json_pack("{s:s}", "text",
		    "turn 1"), NULL, tool_done, NULL, NULL, &e) == NULL)
			bu_die("router_call: %s", e.message);
		wait_pending();
	}
	r.wall_us = (bu_now_us() - t0) / (double)n;
	r.cpu_us = (cpu_us() - c0) / (double)n;
	return r;
}

struct run {
	int			 done;
	enum agent_status	 status;
	unsigned		 turns;
	char			 error[512];
};

static void
run_done(struct agent *a, const struct agent_result *res, void *arg)
{
	struct run *r = arg;

	r->done = 1;
	r->status = res->status;
	r->turns = res->totals.turns;
	snprintf(r->error, sizeof(r->error), "%s", res->error ? res->error :
	    "");
}

/* The long run's clocks at each turn (wall, CPU), from turn_cb. */
static double	*at_wall, *at_cpu;
static unsigned	 at_n, at_cap;

static void
turn_cb(void *arg, unsigned turn, const struct prov_reply *r,
    const struct agent_totals *t)
{
	if (at_n < at_cap) {
		at_wall[at_n] = bu_now_us();
		at_cpu[at_n++] = cpu_us();
	}
}

static const struct agent_events turn_events = { .turn = turn_cb };

/* One run to its end; its turns.  timed: each turn's clocks kept. */
static unsigned
one_run(const struct agent_provider *pv, const char *const *patterns,
    int timed)
{
	struct agent_env env = { .loop = loop, .http = http, .router = rt,
	    .events = timed ? &turn_events : NULL };
	struct agent_params pa;
	struct agent *a;
	struct run r;
	char err[512];

	memset(&pa, 0, sizeof(pa));
	pa.task = "Echo turn after turn.";
	pa.tools = patterns;
	memset(&r, 0, sizeof(r));
	if ((a = agent_start(&env, pv, &pa, run_done, &r, err,
	    sizeof(err))) == NULL)
		bu_die("agent_start: %s", err);
	while (!r.done)
		ev_run(loop, EVRUN_ONCE);
	agent_free(a);
	if (r.status != AGENT_SUCCEEDED)
		bu_die("run: %s %s", agent_status_name(r.status), r.error);
	return r.turns;
}

static int
ready(void)
{
	return router_ready(rt);
}

static void
tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
}

static long opt_runs = 100, opt_turns = 10, opt_base = 1000, opt_long = 1000;
static int opt_json;
static const char *opt_server;

static void
usage(int rc)
{
	fprintf(rc ? stderr : stdout, "usage: agentbench --server PATH "
	    "[--runs N] [--turns T] [--baseline N] [--long T] [--json]\n");
	exit(rc);
}

int
main(int argc, char **argv)
{
	static const struct bu_opt opts[] = {
		{ "server", 's', BU_STR, &opt_server, 0, 0 },
		{ "runs", 'r', BU_LONG, &opt_runs, 10, 100000 },
		{ "turns", 't', BU_LONG, &opt_turns, 2, 10000 },
		{ "baseline", 'b', BU_LONG, &opt_base, 10, 1000000 },
		{ "long", 'l', BU_LONG, &opt_long, 0, 5000 },
		{ "json", 'j', BU_FLAG, &opt_json, 0, 0 },
		{ NULL, 0, 0, NULL, 0, 0 }
	};
	const char *patterns[] = { "conf.*", "conf2.echo", "conf2.add",
	    "conf2.big", "conf2.count", NULL };
	char cfgpath[] = "/tmp/afu9-agentbench.XXXXXX", err[512], url[96];
	char base[64], **headers, *body;
	struct agent_provider pv;
	struct result rh, rt_, ra, rl, late;
	struct afu9_config *cfg;
	json_t *all, *sel;
	long rss[11], i, j, turns = 0, port_l, lo, hi, rss_long = 0;
	double t0, c0, over_wall, over_cpu, share;
	double late_over_wall = 0, late_over_cpu = 0;
	unsigned late_n = 0, k;
	pid_t prov, provl = 0;
	ev_timer tick;
	int fd, port;
	FILE *f;

	bu_progname = "agentbench";
	bu_parse(argc, argv, opts, usage);
	if (opt_server == NULL)
		usage(2);
	log_init("agentbench");
	log_set_level(LOG_LVL_WARN);
	signal(SIGPIPE, SIG_IGN);
	prov = provider_start(opt_turns, &port);
	bu_live_pid = prov;

	if ((fd = mkstemp(cfgpath)) == -1 || (f = fdopen(fd, "w")) == NULL)
		bu_die("mkstemp: %s", strerror(errno));
	fprintf(f, "{\"mcpServers\": {\"conf\": {\"command\": \"%s\"}, "
	    "\"conf2\": {\"command\": \"%s\"}}}", opt_server, opt_server);
	fclose(f);
	cfg = config_load_file(cfgpath, NULL, err, sizeof(err));
	unlink(cfgpath);
	if (cfg == NULL)
		bu_die("%s", err);
	loop = ev_default_loop(0);
	if ((rt = router_new(loop, cfg, NULL, NULL, NULL, err,
	    sizeof(err))) == NULL || router_start(rt, err, sizeof(err)) == -1)
		bu_die("router: %s", err);
	ev_timer_init(&tick, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &tick);
	t0 = bu_now_us();
	while (!ready() && bu_now_us() - t0 < 30e6)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	if (!ready())
		bu_die("the conformance servers did not start");
	if ((http = httpc_new(loop, NULL)) == NULL)
		bu_die("httpc_new");

	all = router_tools(rt);
	if ((sel = agent_select_tools(all, patterns, err, sizeof(err))) ==
	    NULL)
		bu_die("tools: %s", err);
	if (json_array_size(sel) != 20)
		bu_die("%zu tools selected, want 20", json_array_size(sel));
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	memset(&pv, 0, sizeof(pv));
	pv.kind = PROV_OPENAI;
	pv.base_url = base;
	pv.model = "bench";

	/* warm up: connections, caches */
	one_run(&pv, patterns, 0);
	snprintf(url, sizeof(url), "%s/v1/chat/completions", base);
	if ((headers = prov_headers(PROV_OPENAI, NULL, 1, err,
	    sizeof(err))) == NULL)
		bu_die("headers: %s", err);
	body = first_body(sel, "bench");
	bench_http(url, headers, body, opt_base / 10);
	bench_tool(opt_base / 10);

	rh = bench_http(url, headers, body, opt_base);
	rt_ = bench_tool(opt_base);
	rss[0] = rss_kib();
	t0 = bu_now_us();
	c0 = cpu_us();
	for (i = 0, j = 1; i < opt_runs; i++) {
		turns += one_run(&pv, patterns, 0);
		if ((i + 1) * 10 >= j * opt_runs && j <= 10)
			rss[j++] = rss_kib();
	}
	ra.wall_us = (bu_now_us() - t0) / (double)turns;
	ra.cpu_us = (cpu_us() - c0) / (double)turns;
	/* the loop's own share: the agent's turn less a request and the
	   tool calls of a turn */
	share = (double)(opt_turns - 1) / (double)opt_turns;
	over_wall = ra.wall_us - rh.wall_us - share * rt_.wall_us;
	over_cpu = ra.cpu_us - rh.cpu_us - share * rt_.cpu_us;

	memset(&rl, 0, sizeof(rl));
	memset(&late, 0, sizeof(late));
	if (opt_long > 0) {
		at_cap = (unsigned)opt_long + 1;
		if ((at_wall = calloc(at_cap, sizeof(double))) == NULL ||
		    (at_cpu = calloc(at_cap, sizeof(double))) == NULL)
			bu_die("out of memory");
		kill(prov, SIGKILL);
		waitpid(prov, NULL, 0);
		provl = provider_start(opt_long, &port);
		bu_live_pid = provl;
		snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
		t0 = bu_now_us();
		c0 = cpu_us();
		port_l = one_run(&pv, patterns, 1);
		rl.wall_us = (bu_now_us() - t0) / (double)port_l;
		rl.cpu_us = (cpu_us() - c0) / (double)port_l;
		/* the last tenth of its turns (each carrying 90 to 100% of
		   the conversation), less a request and a tool call */
		late_n = at_n / 10;
		if (late_n > 0) {
			k = at_n - 1;
			late.wall_us = (at_wall[k] - at_wall[k - late_n]) /
			    (double)late_n;
			late.cpu_us = (at_cpu[k] - at_cpu[k - late_n]) /
			    (double)late_n;
			late_over_wall = late.wall_us - rh.wall_us - rt_.wall_us;
			late_over_cpu = late.cpu_us - rh.cpu_us - rt_.cpu_us;
		}
		rss_long = rss_kib();
		prov = provl;
	}

	lo = hi = rss[1];
	for (i = 1; i <= 10; i++) {
		if (rss[i] < lo)
			lo = rss[i];
		if (rss[i] > hi)
			hi = rss[i];
	}
	if (opt_json)
		printf("{\n  \"tools\": 20,\n  \"runs\": %ld,\n  \"turns\": %ld,\n"
		    "  \"http_wall_us\": %.1f,\n  \"http_cpu_us\": %.1f,\n"
		    "  \"tool_wall_us\": %.1f,\n  \"tool_cpu_us\": %.1f,\n"
		    "  \"turn_wall_us\": %.1f,\n  \"turn_cpu_us\": %.1f,\n"
		    "  \"overhead_wall_us\": %.1f,\n  \"overhead_cpu_us\": %.1f,\n"
		    "  \"long_turns\": %ld,\n  \"long_turn_wall_us\": %.1f,\n"
		    "  \"long_turn_cpu_us\": %.1f,\n"
		    "  \"late_turns\": %u,\n  \"late_turn_wall_us\": %.1f,\n"
		    "  \"late_turn_cpu_us\": %.1f,\n"
		    "  \"late_overhead_wall_us\": %.1f,\n"
		    "  \"late_overhead_cpu_us\": %.1f,\n"
		    "  \"rss_start_kib\": %ld,\n"
		    "  \"rss_first_kib\": %ld,\n  \"rss_min_kib\": %ld,\n"
		    "  \"rss_max_kib\": %ld,\n  \"rss_last_kib\": %ld,\n"
		    "  \"rss_long_kib\": %ld\n}\n", opt_runs, turns, rh.wall_us,
		    rh.cpu_us, rt_.wall_us, rt_.cpu_us, ra.wall_us, ra.cpu_us,
		    over_wall, over_cpu, opt_long, rl.wall_us, rl.cpu_us,
		    late_n, late.wall_us, late.cpu_us, late_over_wall,
		    late_over_cpu, rss[0], rss[1], lo, hi, rss[10], rss_long);
	else {
		printf("per operation           wall us    cpu us (this "
		    "process)\n");
		printf("baseline http request  %8.1f  %8.1f\n", rh.wall_us,
		    rh.cpu_us);
		printf("baseline tool call     %8.1f  %8.1f\n", rt_.wall_us,
		    rt_.cpu_us);
		printf("agent turn (%ld x %ld)  %8.1f  %8.1f\n", opt_runs,
		    opt_turns, ra.wall_us, ra.cpu_us);
		printf("  loop overhead        %8.1f  %8.1f  (turn - request - "
		    "%.2f tool calls)\n", over_wall, over_cpu, share);
		if (opt_long > 0)
			printf("agent turn (1 x %ld)  %8.1f  %8.1f  (the "
			    "conversation grows; rss after it %ld KiB)\n",
			    opt_long, rl.wall_us, rl.cpu_us, rss_long);
		if (late_n > 0) {
			printf("  its last %u turns    %8.1f  %8.1f\n", late_n,
			    late.wall_us, late.cpu_us);
			printf("  loop overhead        %8.1f  %8.1f  (turn - "
			    "request - tool call)\n", late_over_wall,
			    late_over_cpu);
		}
		printf("rss KiB before the runs %ld, after each tenth:", rss[0]);
		for (i = 1; i <= 10; i++)
			printf(" %ld", rss[i]);
		printf("\nrss growth over the runs: %ld KiB (first tenth to "
		    "last)\n", rss[10] - rss[1]);
	}
	free(at_wall);
	free(at_cpu);
	free(body);
	strv_free(headers);
	json_decref(sel);
	json_decref(all);
	httpc_free(http);
	router_free(rt);
	config_free(cfg);
	kill(prov, SIGKILL);
	waitpid(prov, NULL, 0);
	return 0;
}
