/*
 * wfbench: the PostgreSQL side of the workflow engine benchmark
 * (bench/wfbench.sh drives it; doc/performance.md has the figures).
 *
 *	wfbench rows    [-c C] [-w W] [-e E] [-n N]
 *	wfbench latency [-k K] --workflow NAME [--post 127.0.0.1:PORT]
 *	wfbench claim   [-r R] [-l L]
 *	wfbench wait    --tag TAG [-s SECONDS]
 *
 * The database is DATABASE_URL's (a migrated afu9 database; the
 * environment keeps its password off the command line).
 *
 * rows: the baseline, the same durable work as the engine's steps done as
 * plain rows.  E executions (rows of workflow_executions, waiting until
 * 'infinity' so that no engine claims them) get N steps each; a step is
 * one INSERT of a running workflow_steps row (the columns the engine's
 * afu9_step_begin() writes, RETURNING its id) and one UPDATE of it to
 * succeeded with an output (as afu9_advance() does), each statement its
 * own transaction (synchronous_commit as the server has it).  C
 * connections, each in libpq pipeline mode with W executions in flight
 * (W = 1: one statement at a time).  No fencing, no execution row
 * update, no tool call, no audit row: what remains is what any engine
 * that commits a step's start and its outcome must pay.  Steps/s is
 * measured from the committed rows (the last finished_at minus the first
 * started_at), as for the engine.
 *
 * latency: K times, an execution of workflow NAME created with
 * afu9_execution_create() (autocommit), or with --post by POST
 * /v1/workflows/NAME/executions to afu9's HTTP API (a new connection
 * each, the token from AFU9_API_TOKEN), and the wait for its first step's
 * row; the time from just before the statement was sent (the POST
 * arriving) and from its answer (the POST answered) to that row's
 * started_at, each waited until the execution ended so that the engine
 * is idle at the next.  Client and server share the clock (one machine).
 *
 * claim: R times BEGIN; afu9_claim('wfbench', 10000, L); ROLLBACK, the
 * claim alone timed, so the pending executions stay as they are.
 *
 * wait: until every execution triggered_by TAG has ended (polled on one
 * connection every 50 ms, at most SECONDS), then the steps/s of their
 * committed rows as for rows, and how many did not succeed.
 *
 * Prints flat JSON (bench/benchlib.sh reads it).  Exit status 1 on any
 * error, with the server's message.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "benchutil.h"

#define CONNS_MAX	64
#define INFLIGHT_MAX	1024

struct opts {
	const char	*url;		/* DATABASE_URL */
	const char	*workflow;
	const char	*tag;
	const char	*post;		/* 127.0.0.1:PORT of afu9's HTTP API */
	long		 conns, window, execs, steps, samples, reps, limit;
	long		 seconds;
};

static double
real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static PGconn *
connect_db(const char *url)
{
	PGconn *c = PQconnectdb(url);

	if (PQstatus(c) != CONNECTION_OK)
		bu_die("cannot connect: %s", PQerrorMessage(c));
	return c;
}

/* A statement that must succeed; its result (PQclear it). */
static PGresult *
q(PGconn *c, const char *sql, int n, const char *const *p)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_COMMAND_OK)
		bu_die("%s: %s", sql, PQresultErrorMessage(r));
	return r;
}

static void
q_do(PGconn *c, const char *sql)
{
	PQclear(q(c, sql, 0, NULL));
}

static void
prepare(PGconn *c, const char *name, const char *sql, int n)
{
	PGresult *r = PQprepare(c, name, sql, n, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		bu_die("prepare %s: %s", name, r ? PQresultErrorMessage(r) :
		    PQerrorMessage(c));
	PQclear(r);
}

/*
 * The steps of the executions triggered_by tag, from their rows: how
 * many succeeded, from the first started_at to the last finished_at,
 * and the executions that did not succeed.  The end of a JSON object.
 */
static void
print_rows(PGconn *c, const char *tag)
{
	const char *p[1] = { tag };
	PGresult *r;
	double span;
	long n;

	r = q(c, "SELECT count(*) FILTER (WHERE s.status = 'succeeded'), "
	    "coalesce(extract(epoch FROM max(s.finished_at) - "
	    "min(s.started_at)), 0), (SELECT count(*) FROM workflow_executions "
	    "WHERE triggered_by = $1 AND status <> 'succeeded') "
	    "FROM workflow_steps s JOIN workflow_executions x "
	    "ON x.id = s.execution_id WHERE x.triggered_by = $1", 1, p);
	n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	span = strtod(PQgetvalue(r, 0, 1), NULL);
	printf(" \"rows\": %ld,\n \"failed\": %s,\n \"span_s\": %.6f,\n"
	    " \"steps_per_s\": %.1f\n}\n", n, PQgetvalue(r, 0, 2), span,
	    span > 0 ? n / span : 0.);
	PQclear(r);
}

/* ---- rows ---- */

#define ROWS_INSERT \
	"INSERT INTO workflow_steps (execution_id, step_index, step_name, " \
	"attempt, kind, status, tool, input, lease_token, started_at) " \
	"VALUES ($1, $2, $3, 1, 'tool', 'running', 'conf.add', " \
	"'{\"a\": 1, \"b\": 2}', 1, now()) RETURNING id"
#define ROWS_UPDATE \
	"UPDATE workflow_steps SET status = 'succeeded', " \
	"output = '{\"sum\": 3}', finished_at = now() " \
	"WHERE id = $1 AND status = 'running'"

struct rexec {
	char		 id[37];
	char		 step[37];
	long		 next;		/* step index */
	int		 updating;	/* the UPDATE is in flight */
};

struct rconn {
	PGconn		*c;
	long		 fifo[INFLIGHT_MAX];	/* rexec of each statement */
	long		 head, len;
	int		 want_write;
};

static void
rows_send(struct rconn *k, struct rexec *x, long xi)
{
	char idx[24], name[32];
	const char *p[3];

	if (x->updating) {
		p[0] = x->step;
		if (!PQsendQueryPrepared(k->c, "up", 1, p, NULL, NULL, 0))
			bu_die("send: %s", PQerrorMessage(k->c));
	} else {
		snprintf(idx, sizeof(idx), "%ld", x->next);
		snprintf(name, sizeof(name), "s%ld", x->next);
		p[0] = x->id;
		p[1] = idx;
		p[2] = name;
		if (!PQsendQueryPrepared(k->c, "ins", 3, p, NULL, NULL, 0))
			bu_die("send: %s", PQerrorMessage(k->c));
	}
	if (!PQpipelineSync(k->c))
		bu_die("sync: %s", PQerrorMessage(k->c));
	if (k->len == INFLIGHT_MAX)
		bu_die("more than %d statements in flight", INFLIGHT_MAX);
	k->fifo[(k->head + k->len++) % INFLIGHT_MAX] = xi;
}

static void
rows(const struct opts *o)
{
	PGconn *c = connect_db(o->url);
	struct rconn *k = calloc((size_t)o->conns, sizeof(*k));
	struct rexec *x = calloc((size_t)o->execs, sizeof(*x));
	struct pollfd pfd[CONNS_MAX];
	long i, next_exec = 0, done = 0, total = o->execs * o->steps;
	char tag[64], lim[24];
	const char *p[2];
	PGresult *r, *res;
	double t0, t1;

	if (k == NULL || x == NULL)
		bu_die("out of memory");
	snprintf(tag, sizeof(tag), "wfbench-rows-%ld-%.6f", (long)getpid(),
	    real_s());
	snprintf(lim, sizeof(lim), "%ld", o->execs);
	p[0] = tag;
	p[1] = lim;
	r = q(c, "INSERT INTO workflow_executions (workflow_id, status, "
	    "run_after, triggered_by, started_at) SELECT (SELECT id FROM "
	    "workflows ORDER BY created_at LIMIT 1), 'waiting', 'infinity', "
	    "$1, now() FROM generate_series(1, $2::integer) RETURNING id", 2,
	    p);
	if (PQntuples(r) != o->execs)
		bu_die("made %d executions, not %ld (is a workflow stored?)",
		    PQntuples(r), o->execs);
	for (i = 0; i < o->execs; i++)
		snprintf(x[i].id, sizeof(x[i].id), "%s", PQgetvalue(r, i, 0));
	PQclear(r);

	for (i = 0; i < o->conns; i++) {
		k[i].c = connect_db(o->url);
		PQclear(q(k[i].c, "SELECT 1", 0, NULL));
		prepare(k[i].c, "ins", ROWS_INSERT, 3);
		prepare(k[i].c, "up", ROWS_UPDATE, 1);
		if (PQsetnonblocking(k[i].c, 1) != 0 ||
		    !PQenterPipelineMode(k[i].c))
			bu_die("pipeline: %s", PQerrorMessage(k[i].c));
	}
	t0 = bu_now_us();
	/* W executions per connection, each on the connection it began on */
	for (i = 0; i < o->conns; i++) {
		long w;

		for (w = 0; w < o->window && next_exec < o->execs; w++) {
			rows_send(&k[i], &x[next_exec], next_exec);
			next_exec++;
		}
	}
	while (done < total) {
		for (i = 0; i < o->conns; i++) {
			int fr = PQflush(k[i].c);

			if (fr == -1)
				bu_die("flush: %s", PQerrorMessage(k[i].c));
			pfd[i].fd = PQsocket(k[i].c);
			pfd[i].events = POLLIN | (fr == 1 ? POLLOUT : 0);
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)o->conns, 30000) <= 0)
			bu_die("no answer from the server in 30 s");
		for (i = 0; i < o->conns; i++) {
			struct rconn *kc = &k[i];

			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (!PQconsumeInput(kc->c))
				bu_die("read: %s", PQerrorMessage(kc->c));
			while (kc->len > 0 && !PQisBusy(kc->c)) {
				long xi = kc->fifo[kc->head];
				struct rexec *e = &x[xi];
				ExecStatusType st;

				if ((res = PQgetResult(kc->c)) == NULL)
					continue;	/* end of a statement */
				st = PQresultStatus(res);
				if (st == PGRES_PIPELINE_SYNC) {
					PQclear(res);
					continue;
				}
				if (st != PGRES_TUPLES_OK &&
				    st != PGRES_COMMAND_OK)
					bu_die("%s", PQresultErrorMessage(res));
				kc->head = (kc->head + 1) % INFLIGHT_MAX;
				kc->len--;
				if (!e->updating) {
					if (PQntuples(res) != 1)
						bu_die("INSERT returned no id");
					snprintf(e->step, sizeof(e->step), "%s",
					    PQgetvalue(res, 0, 0));
					e->updating = 1;
					rows_send(kc, e, xi);
				} else {
					if (strcmp(PQcmdTuples(res), "1") != 0)
						bu_die("UPDATE changed no row");
					done++;
					e->updating = 0;
					if (++e->next < o->steps)
						rows_send(kc, e, xi);
					else if (next_exec < o->execs) {
						rows_send(kc, &x[next_exec],
						    next_exec);
						next_exec++;
					}
				}
				PQclear(res);
			}
		}
	}
	t1 = bu_now_us();
	printf("{\n \"conns\": %ld,\n \"window\": %ld,\n \"execs\": %ld,\n"
	    " \"steps\": %ld,\n \"wall_steps_per_s\": %.1f,\n", o->conns,
	    o->window, o->execs, total, total / ((t1 - t0) / 1e6));
	print_rows(c, tag);
	for (i = 0; i < o->conns; i++)
		PQfinish(k[i].c);
	PQfinish(c);
	free(k);
	free(x);
}

/* ---- latency ---- */

/*
 * POST /v1/workflows/NAME/executions {"input": {}} to 127.0.0.1:PORT
 * (Connection: close, the token from AFU9_API_TOKEN); the new
 * execution's id into id.
 */
static void
post_create(const char *addr, const char *name, char *id, size_t idlen)
{
	const char *tok = getenv("AFU9_API_TOKEN"), *colon = strchr(addr, ':');
	static const char body[] = "{\"input\": {}}";
	char req[1024], resp[8192], *at, *end;
	struct sockaddr_in sa;
	size_t got = 0;
	ssize_t n;
	int fd, len;

	if (tok == NULL || colon == NULL)
		bu_die("--post needs ADDRESS:PORT and AFU9_API_TOKEN");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)bu_num_arg(colon + 1, "--post", 1,
	    65535));
	snprintf(req, sizeof(req), "%.*s", (int)(colon - addr), addr);
	if (inet_pton(AF_INET, req, &sa.sin_addr) != 1)
		bu_die("--post: %s is not an IPv4 address", req);
	len = snprintf(req, sizeof(req), "POST /v1/workflows/%s/executions "
	    "HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", name, addr, tok, sizeof(body) - 1,
	    body);
	if (len < 0 || (size_t)len >= sizeof(req))
		bu_die("--post: request too long");
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		bu_die("--post %s: %s", addr, strerror(errno));
	if (write(fd, req, (size_t)len) != len)
		bu_die("--post: write: %s", strerror(errno));
	while (got < sizeof(resp) - 1 &&
	    (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.1 201", 12) != 0)
		bu_die("--post: not 201 Created: %.200s", resp);
	if ((at = strstr(resp, "\"id\"")) == NULL ||
	    (at = strchr(at + 4, '"')) == NULL ||
	    (end = strchr(at + 1, '"')) == NULL || (size_t)(end - at) > idlen)
		bu_die("--post: no id in the answer: %.200s", resp);
	snprintf(id, idlen, "%.*s", (int)(end - at - 1), at + 1);
}

static void
latency(const struct opts *o)
{
	PGconn *c = connect_db(o->url);
	double *from_send = calloc((size_t)o->samples, sizeof(double));
	double *from_answer = calloc((size_t)o->samples, sizeof(double));
	double ts, ta, started, deadline;
	struct bu_stats s1, s2;
	char wf[37], id[37];
	const char *p[1];
	PGresult *r;
	long i;

	if (from_send == NULL || from_answer == NULL)
		bu_die("out of memory");
	p[0] = o->workflow;
	r = q(c, "SELECT id FROM workflows WHERE name = $1 ORDER BY version "
	    "DESC LIMIT 1", 1, p);
	if (PQntuples(r) != 1)
		bu_die("no workflow %s", o->workflow);
	snprintf(wf, sizeof(wf), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	prepare(c, "create", "SELECT id FROM afu9_execution_create($1, "
	    "'{}', NULL, 'wfbench-latency')", 1);
	for (i = 0; i < o->samples; i++) {
		p[0] = wf;
		ts = real_s();
		if (o->post != NULL) {
			post_create(o->post, o->workflow, id, sizeof(id));
			ta = real_s();
		} else {
			r = PQexecPrepared(c, "create", 1, p, NULL, NULL, 0);
			ta = real_s();
			if (PQresultStatus(r) != PGRES_TUPLES_OK ||
			    PQntuples(r) != 1)
				bu_die("afu9_execution_create: %s",
				    PQresultErrorMessage(r));
			snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
			PQclear(r);
		}
		p[0] = id;
		started = -1;
		deadline = ts + 30;
		/* polling only finds the row: its time is the server's */
		while (real_s() < deadline) {
			r = q(c, "SELECT extract(epoch FROM s.started_at), "
			    "x.finished_at IS NOT NULL FROM workflow_executions "
			    "x LEFT JOIN workflow_steps s ON s.execution_id = "
			    "x.id AND s.step_index = 0 AND s.attempt = 1 "
			    "WHERE x.id = $1", 1, p);
			if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
				started = strtod(PQgetvalue(r, 0, 0), NULL);
				if (*PQgetvalue(r, 0, 1) == 't') {
					PQclear(r);
					break;
				}
			}
			PQclear(r);
			usleep(1000);
		}
		if (started < 0 || real_s() >= deadline)
			bu_die("execution %s did not start and end within 30 s "
			    "(is afu9 serve running on this database?)", id);
		from_send[i] = (started - ts) * 1e3;
		from_answer[i] = (started - ta) * 1e3;
	}
	s1 = bu_summarize(from_send, o->samples);
	s2 = bu_summarize(from_answer, o->samples);
	printf("{\n \"samples\": %ld,\n \"send_p50_ms\": %.3f,\n"
	    " \"send_p99_ms\": %.3f,\n \"send_min_ms\": %.3f,\n"
	    " \"answer_p50_ms\": %.3f,\n \"answer_p99_ms\": %.3f,\n"
	    " \"answer_min_ms\": %.3f\n}\n", o->samples, s1.p50, s1.p99,
	    s1.min, s2.p50, s2.p99, s2.min);
	PQfinish(c);
	free(from_send);
	free(from_answer);
}

/* ---- claim ---- */

static void
claim(const struct opts *o)
{
	PGconn *c = connect_db(o->url);
	double *t = calloc((size_t)o->reps, sizeof(double)), t0;
	struct bu_stats s;
	char lim[24];
	const char *p[1];
	PGresult *r;
	long i, got = 0;

	if (t == NULL)
		bu_die("out of memory");
	snprintf(lim, sizeof(lim), "%ld", o->limit);
	prepare(c, "claim", "SELECT count(*) FROM afu9_claim('wfbench', "
	    "10000, $1)", 1);
	p[0] = lim;
	for (i = 0; i < o->reps; i++) {
		q_do(c, "BEGIN");
		t0 = bu_now_us();
		r = PQexecPrepared(c, "claim", 1, p, NULL, NULL, 0);
		t[i] = (bu_now_us() - t0) / 1e3;
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			bu_die("afu9_claim: %s", PQresultErrorMessage(r));
		got = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		q_do(c, "ROLLBACK");
	}
	s = bu_summarize(t, o->reps);
	printf("{\n \"reps\": %ld,\n \"claimed\": %ld,\n \"claim_p50_ms\": "
	    "%.3f,\n \"claim_p99_ms\": %.3f,\n \"claim_min_ms\": %.3f\n}\n",
	    o->reps, got, s.p50, s.p99, s.min);
	PQfinish(c);
	free(t);
}

/* ---- wait ---- */

static void
wait_tag(const struct opts *o)
{
	PGconn *c = connect_db(o->url);
	const char *p[1] = { o->tag };
	double deadline = bu_now_us() + o->seconds * 1e6;
	PGresult *r;
	int left;

	prepare(c, "left", "SELECT count(*) FROM workflow_executions "
	    "WHERE triggered_by = $1 AND finished_at IS NULL", 1);
	for (;;) {
		r = PQexecPrepared(c, "left", 1, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			bu_die("%s", PQresultErrorMessage(r));
		left = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
		PQclear(r);
		if (!left)
			break;
		if (bu_now_us() > deadline)
			bu_die("executions %s left unfinished after %ld s",
			    o->tag, o->seconds);
		usleep(50000);
	}
	printf("{\n");
	print_rows(c, o->tag);
	PQfinish(c);
}

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: wfbench rows [-c C] [-w W] [-e E] [-n N]\n"
	    "       wfbench latency [-k K] --workflow NAME "
	    "[--post 127.0.0.1:PORT]\n"
	    "       wfbench claim [-r R] [-l L]\n"
	    "       wfbench wait --tag TAG [-s SECONDS]\n"
	    "(the database: DATABASE_URL)\n");
	exit(code);
}

int
main(int argc, char *argv[])
{
	struct opts o = { NULL, NULL, NULL, NULL, 1, 64, 200, 10, 50, 50, 64, 300 };
	const struct bu_opt opts[] = {
		{ "workflow", 0, BU_STR, &o.workflow, 0, 0 },
		{ "tag", 0, BU_STR, &o.tag, 0, 0 },
		{ "post", 0, BU_STR, &o.post, 0, 0 },
		{ "seconds", 's', BU_LONG, &o.seconds, 1, 86400 },
		{ "conns", 'c', BU_LONG, &o.conns, 1, CONNS_MAX },
		{ "window", 'w', BU_LONG, &o.window, 1, INFLIGHT_MAX / 2 },
		{ "execs", 'e', BU_LONG, &o.execs, 1, 1000000 },
		{ "steps", 'n', BU_LONG, &o.steps, 1, 256 },
		{ "samples", 'k', BU_LONG, &o.samples, 1, 100000 },
		{ "reps", 'r', BU_LONG, &o.reps, 1, 100000 },
		{ "limit", 'l', BU_LONG, &o.limit, 1, 10000 },
		{ NULL, 0, BU_FLAG, NULL, 0, 0 },
	};
	const char *mode;
	int first;

	bu_progname = "wfbench";
	if (argc < 2)
		usage(2);
	mode = argv[1];
	if (strcmp(mode, "-h") == 0 || strcmp(mode, "--help") == 0)
		usage(0);
	first = bu_parse(argc - 1, argv + 1, opts, usage);
	if (first != argc - 1)
		usage(2);
	if ((o.url = getenv("DATABASE_URL")) == NULL || *o.url == '\0')
		bu_die("DATABASE_URL is not set");
	if (strcmp(mode, "rows") == 0)
		rows(&o);
	else if (strcmp(mode, "latency") == 0) {
		if (o.workflow == NULL)
			bu_die("latency needs --workflow NAME");
		latency(&o);
	} else if (strcmp(mode, "claim") == 0)
		claim(&o);
	else if (strcmp(mode, "wait") == 0) {
		if (o.tag == NULL)
			bu_die("wait needs --tag TAG");
		wait_tag(&o);
	}
	else
		usage(2);
	return 0;
}
