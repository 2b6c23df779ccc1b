/*
 * webhookbench: signed GitHub deliveries against a running `afu9 serve`
 * (bench/webhookbench.sh starts it; doc/performance.md has the figures).
 *
 *	webhookbench -p PORT [-n N] [-c C] [--large-every K]
 *	    [--health-ms MS] [--tag TAG] [--examples index.json] [-s SECONDS]
 *
 * N deliveries POSTed to /v1/webhooks/github on C keep-alive connections
 * (closed loop: a connection sends its next delivery once the last one
 * is answered; the load balancer in front keeps connections to its
 * targets alive too), each signed as GitHub signs (HMAC-SHA256 of the
 * body under AFU9_GITHUB_WEBHOOK_SECRET, read from the environment so
 * that it stays off the command line) with a delivery id of its own
 * (TAG-INDEX).  The bodies: every example payload of
 * @octokit/webhooks-examples (--examples, its api.github.com/index.json;
 * 1 to 28 KB, in the file's order, with their events) or, without it, a
 * built-in issues.labeled payload; and every K-th delivery a large one,
 * 64 KiB, 256 KiB and 1 MiB in turn: a push of that many commits (copies
 * of the example's one, as a push of up to 2,048 commits is), or the
 * built-in issue with a body that long.
 *
 * Beside them, on a connection of its own, GET /health every MS
 * milliseconds while deliveries are in flight: the same event loop under
 * the same load, without a database round trip.  The answer times are
 * from the request's first byte written to its answer's last byte read.
 *
 * Then, with DATABASE_URL (the server's database), waits until every
 * delivery of TAG is handled (processed_at set; at most SECONDS) and
 * reads from the table the time from the first request to the last
 * delivery handled, the time from each delivery's received_at to its
 * processed_at, and the outcomes.  Client and server share the clock
 * (one machine).
 *
 * Prints flat JSON (bench/benchlib.sh reads it).  Exit status 1 when a
 * delivery is not answered 200 or 202 (the first such answer is shown),
 * a connection fails, or the deliveries are not all handled in time.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "benchutil.h"

#define CONNS_MAX	256
#define HEAD_MAX	1024
#define ANSWER_MAX	(64 * 1024)
#define LARGE_SIZES	3

static const size_t large_sizes[LARGE_SIZES] = {
	64 * 1024, 256 * 1024, 1024 * 1024
};

/* Without the examples: an issue labelled, as GitHub sends it (cut). */
static const char builtin_payload[] =
	"{\"action\":\"labeled\",\"issue\":{\"url\":\"https://api.github.com/"
	"repos/Codertocat/Hello-World/issues/1\",\"id\":444500041,"
	"\"node_id\":\"MDU6SXNzdWU0NDQ1MDAwNDE=\",\"number\":1,\"title\":"
	"\"Spelling error in the README file\",\"user\":{\"login\":"
	"\"Codertocat\",\"id\":21031067,\"type\":\"User\",\"site_admin\":"
	"false},\"labels\":[{\"id\":1362934389,\"node_id\":"
	"\"MDU6TGFiZWwxMzYyOTM0Mzg5\",\"name\":\"bug\",\"color\":\"d73a4a\","
	"\"default\":true}],\"state\":\"open\",\"locked\":false,\"assignee\":"
	"null,\"assignees\":[],\"milestone\":null,\"comments\":0,"
	"\"created_at\":\"2019-05-15T15:20:18Z\",\"updated_at\":"
	"\"2019-05-15T15:20:21Z\",\"closed_at\":null,\"author_association\":"
	"\"OWNER\",\"body\":\"It looks like you accidently spelled "
	"'commit' with two 't's.\"},\"label\":{\"id\":1362934389,\"node_id\":"
	"\"MDU6TGFiZWwxMzYyOTM0Mzg5\",\"name\":\"bug\",\"color\":\"d73a4a\","
	"\"default\":true},\"repository\":{\"id\":186853002,\"node_id\":"
	"\"MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=\",\"name\":\"Hello-World\","
	"\"full_name\":\"Codertocat/Hello-World\",\"private\":false,"
	"\"owner\":{\"login\":\"Codertocat\",\"id\":21031067,\"type\":"
	"\"User\",\"site_admin\":false},\"default_branch\":\"master\"},"
	"\"sender\":{\"login\":\"Codertocat\",\"id\":21031067,\"type\":"
	"\"User\",\"site_admin\":false}}";

struct payload {
	char		 event[65];
	char		*body;
	size_t		 len;
	char		 sig[8 + 2 * crypto_auth_hmacsha256_BYTES];
};

enum cstate { C_IDLE, C_SENDING, C_READING };

struct conn {
	int		 fd;
	int		 health;	/* the GET /health connection */
	enum cstate	 state;
	char		 head[HEAD_MAX];
	size_t		 hlen;
	const char	*body;
	size_t		 blen;
	size_t		 off;		/* sent of head and body */
	char		 in[ANSWER_MAX];
	size_t		 inlen;
	long		 idx;		/* the delivery's, -1 for /health */
	double		 t0;
};

struct opts {
	long		 port, n, conns, large_every, health_ms, seconds;
	const char	*tag, *examples;
};

static struct payload	*pl;		/* the examples, then the large */
static size_t		 npl, nsmall;
static struct sockaddr_in sa;

static double
real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the payloads ---- */

static void
add_payload(const char *event, json_t *p, const char *key, size_t klen)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	struct payload *q;

	if ((pl = realloc(pl, (npl + 1) * sizeof(*pl))) == NULL)
		bu_die("out of memory");
	q = &pl[npl++];
	snprintf(q->event, sizeof(q->event), "%s", event);
	if ((q->body = json_dumps(p, JSON_COMPACT)) == NULL)
		bu_die("out of memory");
	q->len = strlen(q->body);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, klen);
	crypto_auth_hmacsha256_update(&st, (unsigned char *)q->body, q->len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(q->sig, "sha256=", 7);
	sodium_bin2hex(q->sig + 7, sizeof(q->sig) - 7, mac, sizeof(mac));
}

/* A payload of at least size bytes grown from p (a copy): more commits
   when p has some, else a longer issue body. */
static json_t *
grow(const json_t *p, size_t size)
{
	json_t *g = json_deep_copy(p), *commits, *c, *issue;
	size_t have = 0, each, i, k;
	char *s, id[41];

	if (g == NULL)
		bu_die("out of memory");
	commits = json_object_get(g, "commits");
	if (json_array_size(commits) > 0) {
		c = json_array_get(commits, 0);
		s = json_dumps(g, JSON_COMPACT);
		have = strlen(s);
		free(s);
		s = json_dumps(c, JSON_COMPACT);
		each = strlen(s) + 1;
		free(s);
		for (k = 1; have < size; k++, have += each) {
			json_t *d = json_deep_copy(c);

			snprintf(id, sizeof(id), "%040zx", k);
			json_object_set_new(d, "id", json_string(id));
			json_array_append_new(commits, d);
		}
		return g;
	}
	if ((issue = json_object_get(g, "issue")) == NULL)
		bu_die("grow: the payload has neither commits nor an issue");
	if ((s = malloc(size + 1)) == NULL)
		bu_die("out of memory");
	for (i = 0; i < size; i++)
		s[i] = "Steps to reproduce the bug, line by line.\n"[i % 42];
	s[size] = '\0';
	json_object_set_new(issue, "body", json_string(s));
	free(s);
	return g;
}

static void
load_payloads(const char *examples)
{
	const char *key = getenv("AFU9_GITHUB_WEBHOOK_SECRET");
	json_t *all, *e, *ex, *base = NULL, *g;
	json_error_t je;
	const char *event, *base_event = "issues";
	size_t i, j, klen;

	if (key == NULL || strlen(key) < 16)
		bu_die("AFU9_GITHUB_WEBHOOK_SECRET: the server's secret (at "
		    "least 16 bytes) is needed to sign");
	klen = strlen(key);
	if (examples != NULL) {
		if ((all = json_load_file(examples, 0, &je)) == NULL ||
		    !json_is_array(all))
			bu_die("%s: %s", examples, all ? "not an array" :
			    je.text);
		json_array_foreach(all, i, e) {
			event = json_string_value(json_object_get(e, "name"));
			if (event == NULL)
				continue;
			json_array_foreach(json_object_get(e, "examples"), j,
			    ex) {
				add_payload(event, ex, key, klen);
				if (base == NULL && strcmp(event, "push") == 0
				    && json_array_size(json_object_get(ex,
				    "commits")) > 0) {
					base = json_incref(ex);
					base_event = "push";
				}
			}
		}
		json_decref(all);
		if (npl == 0)
			bu_die("%s: no example payloads", examples);
	}
	if (base == NULL) {
		if ((base = json_loads(builtin_payload, 0, &je)) == NULL)
			bu_die("the built-in payload: %s", je.text);
		if (npl == 0)
			add_payload("issues", base, key, klen);
	}
	nsmall = npl;
	for (i = 0; i < LARGE_SIZES; i++) {
		g = grow(base, large_sizes[i]);
		add_payload(base_event, g, key, klen);
		json_decref(g);
	}
	json_decref(base);
}

/* The payload of delivery i. */
static const struct payload *
payload_of(const struct opts *o, long i)
{
	if (o->large_every > 0 && (i + 1) % o->large_every == 0)
		return &pl[nsmall + ((i + 1) / o->large_every - 1) %
		    LARGE_SIZES];
	return &pl[i % (long)nsmall];
}

/* ---- the connections ---- */

static void
conn_open(struct conn *k)
{
	int one = 1;

	if ((k->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		bu_die("socket: %s", strerror(errno));
	if (connect(k->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		bu_die("connect to 127.0.0.1:%d: %s", ntohs(sa.sin_port),
		    strerror(errno));
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fcntl(k->fd, F_SETFL, O_NONBLOCK) == -1)
		bu_die("fcntl: %s", strerror(errno));
	k->state = C_IDLE;
}

static void
conn_send(struct conn *k, const struct opts *o, long idx)
{
	const struct payload *p;
	int n;

	k->idx = idx;
	if (idx < 0) {
		n = snprintf(k->head, sizeof(k->head), "GET /health HTTP/1.1\r\n"
		    "Host: 127.0.0.1\r\n\r\n");
		k->body = NULL;
		k->blen = 0;
	} else {
		p = payload_of(o, idx);
		n = snprintf(k->head, sizeof(k->head),
		    "POST /v1/webhooks/github HTTP/1.1\r\n"
		    "Host: 127.0.0.1\r\n"
		    "User-Agent: GitHub-Hookshot/webhookbench\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n"
		    "X-GitHub-Event: %s\r\n"
		    "X-GitHub-Delivery: %s-%ld\r\n"
		    "X-GitHub-Hook-ID: 123456789\r\n"
		    "X-Hub-Signature-256: %s\r\n\r\n",
		    p->len, p->event, o->tag, idx, p->sig);
		k->body = p->body;
		k->blen = p->len;
	}
	if (n < 0 || (size_t)n >= sizeof(k->head))
		bu_die("a request head over %d bytes", HEAD_MAX);
	k->hlen = (size_t)n;
	k->off = 0;
	k->inlen = 0;
	k->state = C_SENDING;
	k->t0 = bu_now_us();
}

/* Write what the socket takes. */
static void
conn_write(struct conn *k)
{
	struct iovec iov[2];
	int cnt = 0;
	ssize_t w;

	if (k->off < k->hlen) {
		iov[cnt].iov_base = k->head + k->off;
		iov[cnt++].iov_len = k->hlen - k->off;
		iov[cnt].iov_base = (void *)k->body;
		iov[cnt++].iov_len = k->blen;
	} else {
		iov[cnt].iov_base = (void *)(k->body + (k->off - k->hlen));
		iov[cnt++].iov_len = k->blen - (k->off - k->hlen);
	}
	if ((w = writev(k->fd, iov, cnt)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		bu_die("write: %s", strerror(errno));
	}
	k->off += (size_t)w;
	if (k->off == k->hlen + k->blen)
		k->state = C_READING;
}

/*
 * Read; when the answer is whole, its status (and *close when the server
 * closes after it), else 0.
 */
static int
conn_read(struct conn *k, int *close_after)
{
	char *end, *h, *line;
	long status, clen = -1;
	ssize_t r;
	size_t hl;

	r = read(k->fd, k->in + k->inlen, sizeof(k->in) - 1 - k->inlen);
	if (r == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		bu_die("read: %s", strerror(errno));
	}
	if (r == 0)
		bu_die("%s: the server closed the connection before "
		    "answering", k->idx < 0 ? "GET /health" : "a delivery");
	k->inlen += (size_t)r;
	k->in[k->inlen] = '\0';
	if ((end = strstr(k->in, "\r\n\r\n")) == NULL) {
		if (k->inlen == sizeof(k->in) - 1)
			bu_die("an answer head over %d bytes", ANSWER_MAX);
		return 0;
	}
	hl = (size_t)(end - k->in) + 4;
	if (sscanf(k->in, "HTTP/1.%*d %ld", &status) != 1)
		bu_die("not an HTTP answer: %.80s", k->in);
	*close_after = 0;
	for (h = strstr(k->in, "\r\n"); h != NULL && h < end;
	    h = strstr(h + 2, "\r\n")) {
		line = h + 2;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = strtol(line + 15, NULL, 10);
		else if (strncasecmp(line, "Connection:", 11) == 0 &&
		    strncasecmp(line + 11 + strspn(line + 11, " "), "close",
		    5) == 0)
			*close_after = 1;
	}
	if (clen < 0)
		bu_die("an answer without Content-Length: %.200s", k->in);
	if (hl + (size_t)clen >= sizeof(k->in))
		bu_die("an answer over %d bytes", ANSWER_MAX);
	if (k->inlen < hl + (size_t)clen)
		return 0;
	if (k->inlen > hl + (size_t)clen)
		bu_die("bytes after the answer: %.80s", k->in + hl + clen);
	return (int)status;
}

/* ---- the run ---- */

static void
print_stats(const char *pre, double *v, long n)
{
	struct bu_stats s;
	long k;

	if (n == 0) {
		printf(" \"%s_n\": 0,\n", pre);
		return;
	}
	s = bu_summarize(v, n);
	k = (90 * n + 99) / 100 - 1;		/* nearest rank, as p50/p99 */
	printf(" \"%s_n\": %ld,\n \"%s_p50_ms\": %.3f,\n \"%s_p90_ms\": %.3f,\n"
	    " \"%s_p99_ms\": %.3f,\n \"%s_max_ms\": %.3f,\n", pre, n, pre,
	    s.p50 / 1e3, pre, v[k] / 1e3, pre, s.p99 / 1e3, pre, s.max / 1e3);
}

/* Until every delivery of the run is handled; the table's figures. */
static void
handled(const struct opts *o, double start_real, double last_answer_real)
{
	const char *url = getenv("DATABASE_URL"), *p[1];
	char like[128];
	PGconn *c;
	PGresult *r;
	double t0 = bu_now_us();
	long pending = -1, total = 0;
	int i;

	if (url == NULL) {
		printf(" \"handled\": null\n}\n");
		return;
	}
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK)
		bu_die("DATABASE_URL: %s", PQerrorMessage(c));
	snprintf(like, sizeof(like), "%s-", o->tag);
	p[0] = like;
	for (;;) {
		r = PQexecParams(c, "SELECT count(*) FILTER (WHERE processed_at "
		    "IS NULL), count(*) FROM webhook_events WHERE "
		    "starts_with(delivery_id, $1)", 1, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			bu_die("webhook_events: %s", PQresultErrorMessage(r));
		pending = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		total = strtol(PQgetvalue(r, 0, 1), NULL, 10);
		PQclear(r);
		if (pending == 0 && total == o->n)
			break;
		if (bu_now_us() - t0 > o->seconds * 1e6)
			bu_die("%ld of %ld deliveries recorded, %ld not handled "
			    "after %ld s", total, o->n, pending, o->seconds);
		usleep(20000);
	}
	r = PQexecParams(c, "SELECT extract(epoch FROM max(processed_at)), "
	    "1e3 * percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch "
	    "FROM processed_at - received_at)), 1e3 * percentile_disc(0.99) "
	    "WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - "
	    "received_at)), 1e3 * max(extract(epoch FROM processed_at - "
	    "received_at)), count(*) FILTER (WHERE outcome = 'started'), "
	    "count(*) FILTER (WHERE outcome = 'woke'), count(*) FILTER "
	    "(WHERE outcome = 'ignored'), count(*) FILTER (WHERE outcome = "
	    "'failed'), coalesce(sum(cardinality(executions)), 0) "
	    "FROM webhook_events WHERE starts_with(delivery_id, $1)", 1, NULL,
	    p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		bu_die("webhook_events: %s", PQresultErrorMessage(r));
	printf(" \"handled_all_s\": %.3f,\n \"handled_after_last_answer_ms\": "
	    "%.1f,\n \"handle_p50_ms\": %s,\n \"handle_p99_ms\": %s,\n"
	    " \"handle_max_ms\": %s,\n", strtod(PQgetvalue(r, 0, 0), NULL) -
	    start_real, (strtod(PQgetvalue(r, 0, 0), NULL) -
	    last_answer_real) * 1e3, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
	    PQgetvalue(r, 0, 3));
	for (i = 0; i < 4; i++)
		printf(" \"outcome_%s\": %s,\n", (const char *[]){ "started",
		    "woke", "ignored", "failed" }[i], PQgetvalue(r, 0, 4 + i));
	printf(" \"executions\": %s\n}\n", PQgetvalue(r, 0, 8));
	PQclear(r);
	PQfinish(c);
}

static void
bench(const struct opts *o)
{
	struct conn *k = calloc((size_t)o->conns + 1, sizeof(*k));
	struct pollfd pfd[CONNS_MAX + 1];
	double *ans = calloc((size_t)o->n, sizeof(double)), *hv = NULL;
	long next = 0, done = 0, nh = 0, caph = 0, i, bytes = 0;
	long st200 = 0, st202 = 0;
	double t0, t1, start_real, next_health, now;
	int nk = (int)o->conns + 1, status, cl, timeout;

	if (k == NULL || ans == NULL)
		bu_die("out of memory");
	for (i = 0; i < nk; i++) {
		conn_open(&k[i]);
		k[i].health = i == nk - 1;
	}
	start_real = real_s();
	t0 = bu_now_us();
	next_health = t0;
	while (done < o->n) {
		now = bu_now_us();
		for (i = 0; i < nk; i++) {
			if (k[i].state != C_IDLE)
				continue;
			if (k[i].health && now >= next_health) {
				conn_send(&k[i], o, -1);
				next_health += o->health_ms * 1e3;
				if (next_health < now)
					next_health = now;
			} else if (!k[i].health && next < o->n)
				conn_send(&k[i], o, next++);
			if (k[i].state == C_SENDING)
				conn_write(&k[i]);
		}
		for (i = 0; i < nk; i++) {
			pfd[i].fd = k[i].state == C_IDLE ? -1 : k[i].fd;
			pfd[i].events = k[i].state == C_SENDING ? POLLOUT :
			    POLLIN;
			pfd[i].revents = 0;
		}
		timeout = (int)((next_health - bu_now_us()) / 1e3) + 1;
		if (timeout < 0)
			timeout = 0;
		if (poll(pfd, (nfds_t)nk, timeout) == -1 && errno != EINTR)
			bu_die("poll: %s", strerror(errno));
		for (i = 0; i < nk; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (k[i].state == C_SENDING) {
				conn_write(&k[i]);
				continue;
			}
			if ((status = conn_read(&k[i], &cl)) == 0)
				continue;
			t1 = bu_now_us();
			if (k[i].health) {
				if (status != 200)
					bu_die("GET /health: %d", status);
				if (nh == caph) {
					caph = caph ? 2 * caph : 1024;
					if ((hv = realloc(hv, (size_t)caph *
					    sizeof(*hv))) == NULL)
						bu_die("out of memory");
				}
				hv[nh++] = t1 - k[i].t0;
			} else {
				if (status != 200 && status != 202)
					bu_die("delivery %s-%ld (%s, %zu bytes): "
					    "%d: %s", o->tag, k[i].idx,
					    payload_of(o, k[i].idx)->event,
					    k[i].blen, status,
					    strstr(k[i].in, "\r\n\r\n") + 4);
				st200 += status == 200;
				st202 += status == 202;
				bytes += (long)k[i].blen;
				ans[done++] = t1 - k[i].t0;
			}
			k[i].state = C_IDLE;
			if (cl) {
				close(k[i].fd);
				conn_open(&k[i]);
			}
		}
	}
	t1 = bu_now_us();
	printf("{\n \"deliveries\": %ld,\n \"connections\": %ld,\n"
	    " \"payloads\": %zu,\n \"large_every\": %ld,\n"
	    " \"bytes\": %ld,\n \"answered_200\": %ld,\n"
	    " \"answered_202\": %ld,\n \"answer_s\": %.3f,\n"
	    " \"deliveries_per_s\": %.1f,\n", o->n, o->conns, npl,
	    o->large_every, bytes, st200, st202, (t1 - t0) / 1e6,
	    o->n / ((t1 - t0) / 1e6));
	print_stats("answer", ans, o->n);
	print_stats("health", hv, nh);
	for (i = 0; i < nk; i++)
		close(k[i].fd);
	free(k);
	free(ans);
	free(hv);
	handled(o, start_real, start_real + (t1 - t0) / 1e6);
}

static void
usage(int rc)
{
	fprintf(rc ? stderr : stdout, "usage: webhookbench -p PORT [-n N] "
	    "[-c C] [--large-every K] [--health-ms MS]\n"
	    "           [--tag TAG] [--examples index.json] [-s SECONDS]\n"
	    "AFU9_GITHUB_WEBHOOK_SECRET signs; DATABASE_URL, when set, is "
	    "where the deliveries\nare waited for until handled.\n");
	exit(rc);
}

int
main(int argc, char **argv)
{
	static char tag[64];
	struct opts o = { .n = 1000, .conns = 16, .large_every = 25,
	    .health_ms = 10, .seconds = 120 };
	const struct bu_opt opts[] = {
		{ "port", 'p', BU_LONG, &o.port, 1, 65535 },
		{ "deliveries", 'n', BU_LONG, &o.n, 1, 10000000 },
		{ "connections", 'c', BU_LONG, &o.conns, 1, CONNS_MAX },
		{ "large-every", 0, BU_LONG, &o.large_every, 0, 1000000 },
		{ "health-ms", 0, BU_LONG, &o.health_ms, 1, 10000 },
		{ "seconds", 's', BU_LONG, &o.seconds, 1, 3600 },
		{ "tag", 0, BU_STR, &o.tag, 0, 0 },
		{ "examples", 0, BU_STR, &o.examples, 0, 0 },
		{ NULL, 0, 0, NULL, 0, 0 }
	};

	bu_progname = "webhookbench";
	if (bu_parse(argc, argv, opts, usage) != argc)
		usage(2);
	if (o.port == 0)
		usage(2);
	if (o.tag == NULL) {
		snprintf(tag, sizeof(tag), "whb-%ld-%ld", (long)getpid(),
		    (long)time(NULL));
		o.tag = tag;
	} else if (strlen(o.tag) > 80 || strspn(o.tag, "abcdefghijklmnopqrs"
	    "tuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
	    strlen(o.tag) || *o.tag == '\0')
		bu_die("--tag: 1 to 80 letters, digits, '.', '_', '-'");
	if (sodium_init() < 0)
		bu_die("sodium_init failed");
	load_payloads(o.examples);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)o.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bench(&o);
	for (size_t i = 0; i < npl; i++)
		free(pl[i].body);
	free(pl);
	return 0;
}
