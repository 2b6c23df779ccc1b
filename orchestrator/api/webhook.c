/*
 * api/webhook: GitHub webhook deliveries, received and handled (see
 * api/webhook.h).
 *
 * Two halves on connections of their own.  The receiver: one struct
 * wreq per request, from its handler to the answer of its one statement
 * (afu9_webhook_record()), on the least busy of WEBHOOK_RECV_CONNS pgq
 * connections.  Not the handler's: pgq answers in order, so on one
 * shared connection an answer waited behind the claims (up to
 * WEBHOOK_CLAIM_BATCH payloads of up to 25 MB each) and finishes in
 * flight before it; and not one only: one backend commits its
 * statements one after the other, a WAL flush each, where several
 * backends committing at once share flushes (bench/webhookbench.sh,
 * doc/performance.md).  The handler: a claim statement at a time;
 * each delivery claimed becomes a struct wjob whose payload is parsed
 * off the loop (struct parser), then goes through at most two more
 * statements (the workflows its rules name, then afu9_webhook_finish())
 * and is freed after the last answer.
 *
 * The parser is one thread because jansson takes about 27 ms for a
 * payload of 1 MiB (a push of 2,000 commits; GitHub's cap is 25 MB),
 * and on the loop every request of every route waited that long.  It
 * only runs json_loads(): a job is in its hands (queued or being parsed)
 * with nothing else of it touched by the loop, and comes back through
 * an ev_async with the tree, which the loop alone uses from then on.
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "buf.h"
#include "later.h"
#include "log.h"
#include "metrics.h"
#include "engine/defn.h"
#include "engine/expr.h"
#include "store/pgq.h"
#include "api/webhook.h"

#define SIG_PREFIX	"sha256="
#define SIG_HEX		(2 * crypto_auth_hmacsha256_BYTES)
#define DETAIL_MAX	1024
#define OWNER_MAX	128
#define JOBS_MAX	64	/* deliveries handled at once */

/* The outcomes of afu9_webhook_finish(), in the table's order. */
enum outcome { O_STARTED = 0, O_WOKE, O_IGNORED, O_FAILED, O_COUNT };
static const char *const outcome_names[O_COUNT] = {
	"started", "woke", "ignored", "failed"
};

static const struct pgq_stmt stmts[] = {
	{ "wh_record", "SELECT id, duplicate, outcome FROM "
	  "afu9_webhook_record($1, $2, $3::bigint, $4)", 4 },
	{ "wh_claim", "SELECT id, token, delivery_id, event, action, "
	  "repository, attempts, payload, repository_id, default_branch "
	  "FROM afu9_webhook_claim($1, $2::integer, $3::integer)", 3 },
	/* the newest enabled version of each name in $1 (a JSON array) */
	{ "wh_defs", "SELECT DISTINCT ON (name) name, id, definition "
	  "FROM workflows WHERE enabled AND name IN (SELECT "
	  "json_array_elements_text($1::json)) ORDER BY name, version DESC",
	  1 },
	{ "wh_finish", "SELECT afu9_webhook_finish($1::uuid, $2::bigint, "
	  "$3, $4, $5::jsonb, $6::jsonb)", 6 },
};

/* One rule of afu9.webhooks, compiled. */
struct rule {
	char		*event;
	char		*action;	/* NULL: any */
	struct expr	*cond;		/* NULL: always */
	json_t		*input;		/* templates */
	char		*workflow;
};

struct rules {
	char		*repo;		/* lowered OWNER/NAME; NULL: common */
	struct rule	*r;
	size_t		 n;
};

struct webhook;

/* A request waiting for afu9_webhook_record(). */
struct wreq {
	TAILQ_ENTRY(wreq)	 entry;
	struct webhook		*wh;
	struct http_exchange	*x;
	struct pgq_op		*op;
	double			 t0;
	int			 ping;
	char			 delivery[WEBHOOK_DELIVERY_MAX + 1];
};

/* A run a rule asks for: its workflow, its input. */
struct run {
	size_t		 rule;		/* index in its list */
	const char	*workflow;	/* the rule's */
	json_t		*input;
};

/* A claimed delivery being handled. */
struct wjob {
	TAILQ_ENTRY(wjob)	 entry;
	struct webhook		*wh;
	struct pgq_op		*op;
	char			*id, *token, *delivery, *event, *action,
				*repo;
	int			 attempts;
	json_t			*ctx;		/* {"event": {...}} */
	struct run		*runs;
	size_t			 nruns;
	json_t			*checks;	/* afu9_checks_completed()'s
						   arguments, or NULL */
	struct buf		 detail;	/* why, for the row */
	int			 failed;
	/* for the parser: */
	TAILQ_ENTRY(wjob)	 pentry;
	char			*text;		/* the payload as stored */
	json_t			*parsed;	/* json_loads() of it */
	char			*repo_id, *branch;	/* of the claim */
};

TAILQ_HEAD(wjobs, wjob);

struct parser {
	pthread_t		 th;
	int			 started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct wjobs		 todo, done;	/* under mu */
	int			 stop;		/* under mu */
	ev_async		 async;		/* done has some */
};

struct webhook {
	struct ev_loop		*loop;
	struct pgq		*db;		/* the handler's; NULL: no
						   DATABASE_URL */
	struct pgq		*rdb[WEBHOOK_RECV_CONNS]; /* the receiver's
						   (with db) */
	size_t			 nrdb;
	unsigned char		*key;		/* the secret */
	size_t			 klen;
	char			 owner[OWNER_MAX];
	unsigned		 ttl_ms;
	struct rules		*lists;		/* [0]: the common list */
	size_t			 nlists;
	TAILQ_HEAD(, wreq)	 reqs;
	TAILQ_HEAD(, wjob)	 jobs;
	size_t			 njobs;
	struct pgq_op		*claim;		/* the claim in flight */
	int			 again;		/* claim once more after it */
	int			 running;	/* started, not stopped */
	ev_timer		 poll;
	struct later		 stopped;	/* stop's done, from the loop */
	void			(*done)(void *);
	void			*done_arg;
	uint64_t		 count[HTTP_STATUS_MAX - HTTP_STATUS_MIN + 1];
	uint64_t		 handled[O_COUNT];
	struct metrics_hist	 answer;
	struct parser		 ps;
};

/* ---- the signature ---- */

int
webhook_signature_ok(const char *key, size_t klen, const char *sig,
    size_t len, const void *body, size_t blen)
{
	crypto_auth_hmacsha256_state st;
	unsigned char want[crypto_auth_hmacsha256_BYTES];
	unsigned char got[crypto_auth_hmacsha256_BYTES];
	size_t n = 0;
	int ok;

	/* The digest is computed whatever was sent, so a malformed header
	   costs what a wrong one does. */
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, klen);
	crypto_auth_hmacsha256_update(&st, body, blen);
	crypto_auth_hmacsha256_final(&st, want);
	memset(got, 0, sizeof(got));
	ok = len == sizeof(SIG_PREFIX) - 1 + SIG_HEX &&
	    memcmp(sig, SIG_PREFIX, sizeof(SIG_PREFIX) - 1) == 0 &&
	    sodium_hex2bin(got, sizeof(got), sig + sizeof(SIG_PREFIX) - 1,
	    SIG_HEX, NULL, &n, NULL) == 0 && n == sizeof(got);
	ok &= sodium_memcmp(got, want, sizeof(want)) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

/* ---- answers ---- */

static void
wreq_free(struct wreq *q)
{
	TAILQ_REMOVE(&q->wh->reqs, q, entry);
	pgq_op_forget(q->op);
	free(q);
}

/* Answer q with status and the JSON object v (stolen), count, free q. */
static void
reply(struct wreq *q, int status, json_t *v, const char *extra)
{
	const char *hdr[4] = { "Content-Type: application/json",
	    "Cache-Control: no-store", extra, NULL };
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	if (s == NULL)
		status = 500;
	if (http_respond(q->x, status, hdr, s ? s :
	    "{\"error\":\"out of memory\"}", s ? strlen(s) : 25) == -1)
		status = 500;
	free(s);
	q->wh->count[status - HTTP_STATUS_MIN]++;
	metrics_observe(&q->wh->answer, metrics_now_s() - q->t0);
	q->x = NULL;
	wreq_free(q);
}

static void __attribute__((format(printf, 4, 5)))
reply_err(struct wreq *q, int status, const char *extra, const char *fmt,
    ...)
{
	char msg[DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply(q, status, json_pack("{s:s}", "error", msg), extra);
}

/* ---- the request ---- */

/* How many header fields are named name; the first in *first. */
static size_t
header_count(const struct http_request *req, const char *name,
    const struct http_header **first)
{
	size_t i, n = 0, len = strlen(name);

	*first = NULL;
	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i].name.len == len &&
		    strncasecmp(req->headers[i].name.p, name, len) == 0 &&
		    n++ == 0)
			*first = &req->headers[i];
	return n;
}

/*
 * The one header `name` whose value is 1..max bytes of set (strspn) into
 * out[max + 1]; 0, or -1.
 */
static int
header_word(const struct http_request *req, const char *name,
    const char *set, size_t max, char *out)
{
	const struct http_header *h;
	size_t i;

	if (header_count(req, name, &h) != 1 || h->value.len < 1 ||
	    h->value.len > max)
		return -1;
	for (i = 0; i < h->value.len; i++)
		if (strchr(set, h->value.p[i]) == NULL || h->value.p[i] == '\0')
			return -1;
	memcpy(out, h->value.p, h->value.len);
	out[h->value.len] = '\0';
	return 0;
}

#define LOWER	"abcdefghijklmnopqrstuvwxyz"
#define UPPER	"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS	"0123456789"

static void
record_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct wreq *q = arg;
	const char *id, *dup, *outcome;

	q->op = NULL;
	if (err != NULL) {
		if (strcmp(err->sqlstate, "22P02") == 0 ||
		    strcmp(err->sqlstate, "22023") == 0 ||
		    strcmp(err->sqlstate, "22021") == 0)
			reply_err(q, 400, NULL, "the body is not a JSON object: "
			    "%s", err->message);
		else if (err->lost || err->timeout)
			reply_err(q, 503, "Retry-After: 1", "the database did "
			    "not answer: the delivery may not be recorded; "
			    "redeliver it");
		else {
			log_warnx("webhooks: delivery %s: database error %s: "
			    "%s", q->delivery, err->sqlstate, err->message);
			reply_err(q, 500, NULL, "database error (SQLSTATE %s)",
			    err->sqlstate[0] ? err->sqlstate : "none");
		}
		return;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		reply_err(q, 500, NULL, "the database recorded nothing");
		return;
	}
	id = PQgetvalue(res, 0, 0);
	dup = PQgetvalue(res, 0, 1);
	outcome = PQgetisnull(res, 0, 2) ? "pending" : PQgetvalue(res, 0, 2);
	if (strcmp(dup, "t") == 0)
		reply(q, 200, json_pack("{s:s,s:s,s:b,s:s}", "delivery",
		    q->delivery, "id", id, "duplicate", 1, "outcome", outcome),
		    NULL);
	else
		reply(q, q->ping ? 200 : 202, json_pack("{s:s,s:s,s:b}",
		    "delivery", q->delivery, "id", id, "duplicate", 0), NULL);
}

/*
 * The receiver's connection for the next statement: of those up, the one
 * with the fewest statements pending (several backends commit at once,
 * so their WAL flushes are shared); else the first while it is still
 * connecting for the first time (the statement waits for it); else NULL.
 */
static struct pgq *
receiver_db(const struct webhook *wh)
{
	struct pgq *best = NULL;
	size_t i;

	for (i = 0; i < wh->nrdb; i++)
		if (pgq_up(wh->rdb[i]) && (best == NULL ||
		    pgq_pending(wh->rdb[i]) < pgq_pending(best)))
			best = wh->rdb[i];
	if (best == NULL && strcmp(pgq_last_error(wh->rdb[0]),
	    "connecting") == 0)
		best = wh->rdb[0];
	return best;
}

static void
h_github(const struct http_request *req, struct http_exchange *x, void *arg)
{
	struct webhook *wh = arg;
	struct pgq *rdb;
	const struct http_header *h;
	const char *p[4], *v;
	char event[65], hook[21], peer[64], *body;
	struct wreq *q;
	size_t n;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	q->wh = wh;
	q->x = x;
	q->t0 = metrics_now_s();
	TAILQ_INSERT_TAIL(&wh->reqs, q, entry);
	/* The signature first: nothing of an unsigned body is looked at. */
	n = header_count(req, "x-hub-signature-256", &h);
	if (!webhook_signature_ok((const char *)wh->key, wh->klen,
	    n == 1 ? h->value.p : "", n == 1 ? h->value.len : 0, req->body,
	    req->body_len)) {
		log_warnx("webhooks: refused a delivery from %s: %s",
		    http_exchange_peer(x, peer, sizeof(peer)), n == 0 ?
		    "no X-Hub-Signature-256" : n > 1 ? "more than one "
		    "X-Hub-Signature-256" : "X-Hub-Signature-256 does not "
		    "match the body");
		reply_err(q, 401, NULL, "%s", n == 1 ? "X-Hub-Signature-256 "
		    "does not match the body: the webhook's secret must be "
		    "afu9's AFU9_GITHUB_WEBHOOK_SECRET" : "one "
		    "X-Hub-Signature-256 header is required");
		return;
	}
	if (header_word(req, "x-github-event", LOWER DIGITS "_", 64,
	    event) == -1 || !islower((unsigned char)event[0])) {
		reply_err(q, 400, NULL, "one X-GitHub-Event header naming the "
		    "event ([a-z][a-z0-9_]*, at most 64 bytes) is required");
		return;
	}
	if (header_word(req, "x-github-delivery", LOWER UPPER DIGITS "._-",
	    WEBHOOK_DELIVERY_MAX, q->delivery) == -1) {
		reply_err(q, 400, NULL, "one X-GitHub-Delivery header (the "
		    "delivery's GUID: letters, digits, '.', '_', '-', at most "
		    "%d bytes) is required", WEBHOOK_DELIVERY_MAX);
		return;
	}
	hook[0] = '\0';
	if (header_count(req, "x-github-hook-id", &h) > 0 &&
	    header_word(req, "x-github-hook-id", DIGITS, 18, hook) == -1) {
		reply_err(q, 400, NULL, "X-GitHub-Hook-ID: one header of at "
		    "most 18 digits");
		return;
	}
	n = header_count(req, "content-type", &h);
	v = h ? h->value.p : "";
	if (n != 1 || h->value.len < 16 || strncasecmp(v, "application/json",
	    16) != 0 || (h->value.len > 16 && v[16] != ';' && v[16] != ' ')) {
		reply_err(q, 415, NULL, "the body must be JSON: set the "
		    "webhook's content type to application/json");
		return;
	}
	if (req->body_len == 0 || memchr(req->body, '\0', req->body_len)) {
		reply_err(q, 400, NULL, "the body is not a JSON object");
		return;
	}
	if (wh->db == NULL) {
		reply_err(q, 503, NULL, "no database: DATABASE_URL is not set");
		return;
	}
	if ((rdb = receiver_db(wh)) == NULL) {
		reply_err(q, 503, "Retry-After: 1", "the database is "
		    "unavailable: %s", pgq_last_error(wh->rdb[0]));
		return;
	}
	if ((body = malloc(req->body_len + 1)) == NULL) {
		reply_err(q, 503, NULL, "out of memory");
		return;
	}
	memcpy(body, req->body, req->body_len);
	body[req->body_len] = '\0';
	q->ping = strcmp(event, "ping") == 0;
	p[0] = q->delivery;
	p[1] = event;
	p[2] = hook[0] ? hook : NULL;
	p[3] = body;
	q->op = pgq_exec(rdb, "wh_record", 4, p, record_done, q);
	free(body);
	if (q->op == NULL)
		reply_err(q, 503, "Retry-After: 1", "%s", errno == ENOSPC ||
		    errno == EMSGSIZE ? "too many deliveries are waiting for "
		    "the database" : "cannot queue the delivery");
}

/* ---- the rules ---- */

static void
rules_free(struct webhook *wh)
{
	size_t i, j;

	for (i = 0; i < wh->nlists; i++) {
		for (j = 0; j < wh->lists[i].n; j++) {
			free(wh->lists[i].r[j].event);
			free(wh->lists[i].r[j].action);
			expr_free(wh->lists[i].r[j].cond);
			json_decref(wh->lists[i].r[j].input);
			free(wh->lists[i].r[j].workflow);
		}
		free(wh->lists[i].r);
		free(wh->lists[i].repo);
	}
	free(wh->lists);
	wh->lists = NULL;
	wh->nlists = 0;
}

/* The rules of array a (conf.h checked their shape) into l.  0, or -1
   with err naming path. */
static int
rules_compile(struct rules *l, const json_t *a, const char *path, char *err,
    size_t errlen)
{
	char eb[EXPR_ERR_MAX];
	const json_t *o, *v;
	struct rule *r;
	json_t *chk;
	size_t i;

	if ((l->r = calloc(json_array_size(a) + 1, sizeof(*l->r))) == NULL)
		goto oom;
	for (i = 0; i < json_array_size(a); i++) {
		o = json_array_get(a, i);
		r = &l->r[l->n++];
		r->event = strdup(json_string_value(json_object_get(o,
		    "event")));
		r->workflow = strdup(json_string_value(json_object_get(o,
		    "workflow")));
		if (r->event == NULL || r->workflow == NULL)
			goto oom;
		if ((v = json_object_get(o, "action")) != NULL &&
		    (r->action = strdup(json_string_value(v))) == NULL)
			goto oom;
		if ((v = json_object_get(o, "if")) != NULL &&
		    (r->cond = expr_parse(json_string_value(v), eb,
		    sizeof(eb))) == NULL) {
			snprintf(err, errlen, "%s[%zu].if: %s", path, i, eb);
			return -1;
		}
		v = json_object_get(o, "input");
		r->input = v ? json_deep_copy(v) : json_object();
		if (r->input == NULL)
			goto oom;
		if (expr_template(r->input, NULL, &chk, eb, sizeof(eb)) == -1) {
			snprintf(err, errlen, "%s[%zu].input: %s", path, i, eb);
			return -1;
		}
		json_decref(chk);
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int
rules_load(struct webhook *wh, const json_t *cfg, char *err, size_t errlen)
{
	const json_t *repos = json_object_get(cfg, "repositories"), *a;
	const char *name;
	char path[160];
	size_t i;

	wh->lists = calloc(1 + json_object_size(repos), sizeof(*wh->lists));
	if (wh->lists == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	wh->nlists = 1;
	if ((a = json_object_get(cfg, "rules")) != NULL &&
	    rules_compile(&wh->lists[0], a, "afu9.webhooks.rules", err,
	    errlen) == -1)
		return -1;
	json_object_foreach((json_t *)repos, name, a) {
		struct rules *l = &wh->lists[wh->nlists++];

		if ((l->repo = strdup(name)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (i = 0; l->repo[i]; i++)
			l->repo[i] = (char)tolower((unsigned char)l->repo[i]);
		snprintf(path, sizeof(path), "afu9.webhooks.repositories.%s",
		    name);
		if (rules_compile(l, a, path, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* The rules for repository repo (NULL: none): its own, else common. */
static const struct rules *
rules_for(const struct webhook *wh, const char *repo)
{
	size_t i;

	for (i = 1; repo != NULL && i < wh->nlists; i++)
		if (strcasecmp(wh->lists[i].repo, repo) == 0)
			return &wh->lists[i];
	return &wh->lists[0];
}

/* ---- handling ---- */

static void claim(struct webhook *);
static void parsed(struct wjob *);

static void
job_free(struct wjob *j)
{
	size_t i;

	TAILQ_REMOVE(&j->wh->jobs, j, entry);
	j->wh->njobs--;
	pgq_op_forget(j->op);
	free(j->id);
	free(j->token);
	free(j->delivery);
	free(j->event);
	free(j->action);
	free(j->repo);
	json_decref(j->ctx);
	for (i = 0; i < j->nruns; i++)
		json_decref(j->runs[i].input);
	free(j->runs);
	json_decref(j->checks);
	buf_free(&j->detail);
	free(j->text);
	json_decref(j->parsed);
	free(j->repo_id);
	free(j->branch);
	free(j);
}

static void __attribute__((format(printf, 2, 3)))
note(struct wjob *j, const char *fmt, ...)
{
	char msg[DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)buf_printf(&j->detail, "%s%s", buf_used(&j->detail) ? "; " :
	    "", msg);
}

static void
finish_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct wjob *j = arg;
	struct webhook *wh = j->wh;

	j->op = NULL;
	if (err != NULL) {
		/* AF005: another task took the delivery over; anything else:
		   the claim expires and it is handled again */
		if (strcmp(err->sqlstate, "AF005") != 0)
			log_warnx("webhooks: delivery %s: cannot commit its "
			    "handling (%s): it is handled again once the claim "
			    "expires", j->delivery, err->message);
		job_free(j);
		return;
	}
	(void)res;
	job_free(j);
	if (wh->again)
		claim(wh);
}

/* Commit the outcome and the runs (those with a workflow id). */
static void
finish(struct wjob *j, enum outcome o)
{
	const char *p[6];
	char *runs = NULL, *checks = NULL;
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < j->nruns; i++)
		if (j->runs[i].workflow == NULL)
			continue;	/* refused: in the detail */
		else if (json_array_append_new(a, json_pack("{s:s,s:O,s:I}",
		    "workflow", j->runs[i].workflow, "input",
		    j->runs[i].input, "rule", (json_int_t)j->runs[i].rule)) ==
		    -1) {
			json_decref(a);
			a = NULL;
		}
	if (a == NULL || (runs = json_dumps(a, JSON_COMPACT)) == NULL ||
	    (j->checks && (checks = json_dumps(j->checks,
	    JSON_COMPACT)) == NULL) || buf_append(&j->detail, "", 1) == -1) {
		log_warnx("webhooks: delivery %s: out of memory", j->delivery);
		json_decref(a);
		free(runs);
		job_free(j);
		return;
	}
	json_decref(a);
	j->wh->handled[o]++;
	log_info("webhooks: delivery %s (%s%s%s%s%s): %s: %s", j->delivery,
	    j->event, j->action ? "." : "", j->action ? j->action : "",
	    j->repo ? " " : "", j->repo ? j->repo : "", outcome_names[o],
	    buf_data(&j->detail));
	p[0] = j->id;
	p[1] = j->token;
	p[2] = outcome_names[o];
	p[3] = buf_data(&j->detail)[0] ? buf_data(&j->detail) : NULL;
	p[4] = runs;
	p[5] = checks;
	if ((j->op = pgq_exec(j->wh->db, "wh_finish", 6, p, finish_done,
	    j)) == NULL) {
		log_warnx("webhooks: delivery %s: cannot queue its outcome",
		    j->delivery);
		job_free(j);
	}
	free(runs);
	free(checks);
}

/* The outcome from what was done. */
static enum outcome
outcome_of(const struct wjob *j)
{
	size_t i, started = 0;

	for (i = 0; i < j->nruns; i++)
		started += j->runs[i].workflow != NULL;
	if (j->failed)
		return O_FAILED;
	return started ? O_STARTED : j->checks ? O_WOKE : O_IGNORED;
}

/* The definitions are here: check each run's input against its own. */
static void
defs_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct wjob *j = arg;
	char e[DEFN_ERR_MAX];
	struct defn *d;
	json_t *doc;
	size_t i;
	int k;

	j->op = NULL;
	if (err != NULL) {
		log_warnx("webhooks: delivery %s: cannot read its workflows "
		    "(%s): it is handled again once the claim expires",
		    j->delivery, err->message);
		job_free(j);
		return;
	}
	for (i = 0; i < j->nruns; i++) {
		struct run *r = &j->runs[i];
		const char *name = r->workflow;

		r->workflow = NULL;	/* unless all is well below */
		for (k = 0; k < PQntuples(res); k++)
			if (strcmp(PQgetvalue(res, k, 0), name) == 0)
				break;
		if (k == PQntuples(res)) {
			note(j, "rule %zu: workflow '%s' does not exist or is "
			    "disabled", r->rule, name);
			j->failed = 1;
			continue;
		}
		doc = json_loads(PQgetvalue(res, k, 2), 0, NULL);
		d = doc ? defn_parse(doc, NULL, NULL, e, sizeof(e)) : NULL;
		json_decref(doc);
		if (d == NULL) {
			note(j, "rule %zu: the stored definition of '%s' does "
			    "not validate", r->rule, name);
			j->failed = 1;
			continue;
		}
		if (defn_check_input(d, r->input, e, sizeof(e)) == -1) {
			note(j, "rule %zu: the input for '%s' is refused: %s",
			    r->rule, name, e);
			j->failed = 1;
		} else {
			r->workflow = PQgetvalue(res, k, 1);
			note(j, "rule %zu: %s started", r->rule, name);
		}
		defn_free(d);
	}
	/* r->workflow points into res: finish() copies it now */
	finish(j, outcome_of(j));
}

/* Apply the rules for j's repository; the runs they ask for. */
static void
match(struct wjob *j)
{
	const struct rules *l = rules_for(j->wh, j->repo);
	char eb[EXPR_ERR_MAX];
	const struct rule *r;
	json_t *in;
	size_t i;
	int t;

	if ((j->runs = calloc(l->n + 1, sizeof(*j->runs))) == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		r = &l->r[i];
		if (strcmp(r->event, j->event) != 0 || (r->action != NULL &&
		    (j->action == NULL || strcmp(r->action, j->action) != 0)))
			continue;
		if (r->cond != NULL) {
			if ((t = expr_test(r->cond, j->ctx, eb,
			    sizeof(eb))) == -1) {
				note(j, "rule %zu: if: %s", i, eb);
				j->failed = 1;
				continue;
			}
			if (t == 0)
				continue;
		}
		if (expr_template(r->input, j->ctx, &in, eb, sizeof(eb)) ==
		    -1) {
			note(j, "rule %zu: input: %s", i, eb);
			j->failed = 1;
			continue;
		}
		if (!json_is_object(in)) {
			json_decref(in);
			note(j, "rule %zu: input: not an object", i);
			j->failed = 1;
			continue;
		}
		j->runs[j->nruns].rule = i;
		j->runs[j->nruns].workflow = r->workflow;
		j->runs[j->nruns++].input = in;
	}
}

/* check_suite / check_run completed: afu9_checks_completed()'s arguments. */
static void
checks_of(struct wjob *j, const json_t *payload)
{
	const json_t *o = json_object_get(payload, strcmp(j->event,
	    "check_suite") == 0 ? "check_suite" : "check_run");
	const json_t *repo = json_object_get(payload, "repository");
	const char *sha = json_string_value(json_object_get(o, "head_sha"));
	const char *owner = json_string_value(json_object_get(
	    json_object_get(repo, "owner"), "login"));
	const char *name = json_string_value(json_object_get(repo, "name"));

	if (owner == NULL || name == NULL) {
		note(j, "no repository owner and name in the payload");
		return;
	}
	j->checks = json_pack("{s:s,s:s,s:s?}", "owner", owner, "repo", name,
	    "sha", sha);
}

/* The rules' context: {"event": {name, action, delivery, payload,
   repository}}; payload stolen. */
static json_t *
context(struct wjob *j, json_t *payload, const char *repo_id,
    const char *branch)
{
	const json_t *repo = json_object_get(payload, "repository");
	json_t *ctx;

	if (branch == NULL)
		branch = json_string_value(json_object_get(repo,
		    "default_branch"));
	ctx = json_pack("{s:{s:s,s:s?,s:s,s:o,s:{s:s?,s:s?,s:s?,s:s?,s:s?}}}",
	    "event", "name", j->event, "action", j->action, "delivery",
	    j->delivery, "payload", payload, "repository",
	    "owner", json_string_value(json_object_get(json_object_get(repo,
	    "owner"), "login")), "name", json_string_value(json_object_get(
	    repo, "name")), "full_name", j->repo, "default_branch", branch,
	    "id", repo_id);
	return ctx;
}

static char *
col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : strdup(PQgetvalue(res, row,
	    c));
}

/* Handle row `row` of a claim's answer. */
static void
handle(struct webhook *wh, const PGresult *res, int row)
{
	struct wjob *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;		/* the claim expires: handled later */
	j->wh = wh;
	buf_init(&j->detail, 64 * 1024);
	TAILQ_INSERT_TAIL(&wh->jobs, j, entry);
	wh->njobs++;
	j->id = col(res, row, 0);
	j->token = col(res, row, 1);
	j->delivery = col(res, row, 2);
	j->event = col(res, row, 3);
	j->action = col(res, row, 4);
	j->repo = col(res, row, 5);
	j->attempts = atoi(PQgetvalue(res, row, 6));
	if (j->id == NULL || j->token == NULL || j->delivery == NULL ||
	    j->event == NULL) {
		job_free(j);
		return;
	}
	if (j->attempts > WEBHOOK_ATTEMPTS_MAX) {
		note(j, "its handling did not finish in %d attempts (the tasks "
		    "handling it stopped, or the database failed them)",
		    WEBHOOK_ATTEMPTS_MAX);
		j->failed = 1;
		finish(j, O_FAILED);
		return;
	}
	if (PQgetisnull(res, row, 7)) {
		note(j, "the stored payload is not a JSON object");
		j->failed = 1;
		finish(j, O_FAILED);
		return;
	}
	j->repo_id = col(res, row, 8);
	j->branch = col(res, row, 9);
	if ((j->text = strdup(PQgetvalue(res, row, 7))) == NULL ||
	    (PQgetisnull(res, row, 8) == 0 && j->repo_id == NULL) ||
	    (PQgetisnull(res, row, 9) == 0 && j->branch == NULL)) {
		job_free(j);
		return;
	}
	pthread_mutex_lock(&wh->ps.mu);
	TAILQ_INSERT_TAIL(&wh->ps.todo, j, pentry);
	pthread_cond_signal(&wh->ps.cv);
	pthread_mutex_unlock(&wh->ps.mu);
}

/* Job j's payload is parsed: match it (the rest of handle()). */
static void
parsed(struct wjob *j)
{
	struct webhook *wh = j->wh;
	json_t *payload = j->parsed, *names;
	const char *p[1];
	char *s;
	size_t i;

	j->parsed = NULL;
	free(j->text);
	j->text = NULL;
	if (!json_is_object(payload)) {
		json_decref(payload);
		note(j, "the stored payload is not a JSON object");
		j->failed = 1;
		finish(j, O_FAILED);
		return;
	}
	if (strcmp(j->event, "ping") == 0)
		note(j, "ping: the hook reaches afu9");
	if ((strcmp(j->event, "check_suite") == 0 ||
	    strcmp(j->event, "check_run") == 0) && j->action != NULL &&
	    strcmp(j->action, "completed") == 0)
		checks_of(j, payload);
	j->ctx = context(j, payload, j->repo_id, j->branch);
	if (j->ctx == NULL) {
		job_free(j);
		return;
	}
	match(j);
	if (j->nruns == 0) {
		if (buf_used(&j->detail) == 0 && j->checks == NULL)
			note(j, "no rule for %s%s%s", j->event, j->action ?
			    "." : "", j->action ? j->action : "");
		finish(j, outcome_of(j));
		return;
	}
	if ((names = json_array()) == NULL) {
		job_free(j);
		return;
	}
	for (i = 0; i < j->nruns; i++)
		json_array_append_new(names, json_string(j->runs[i].workflow));
	s = json_dumps(names, JSON_COMPACT);
	json_decref(names);
	p[0] = s;
	if (s == NULL || (j->op = pgq_exec(wh->db, "wh_defs", 1, p,
	    defs_done, j)) == NULL)
		job_free(j);
	free(s);
}

/* ---- the parser ---- */

static void *
parser_main(void *arg)
{
	struct parser *ps = arg;
	struct wjob *j;
	json_t *v;

	pthread_mutex_lock(&ps->mu);
	for (;;) {
		while (!ps->stop && TAILQ_EMPTY(&ps->todo))
			pthread_cond_wait(&ps->cv, &ps->mu);
		if (ps->stop)
			break;
		j = TAILQ_FIRST(&ps->todo);
		TAILQ_REMOVE(&ps->todo, j, pentry);
		pthread_mutex_unlock(&ps->mu);
		/* j->text is the parser's until j is on done */
		v = json_loads(j->text, JSON_DECODE_ANY, NULL);
		pthread_mutex_lock(&ps->mu);
		j->parsed = v;
		TAILQ_INSERT_TAIL(&ps->done, j, pentry);
		ev_async_send(j->wh->loop, &ps->async);
	}
	pthread_mutex_unlock(&ps->mu);
	return NULL;
}

/* From the loop: the jobs parsed so far go on. */
static void
parser_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct webhook *wh = w->data;
	struct wjobs ready;
	struct wjob *j;

	TAILQ_INIT(&ready);
	pthread_mutex_lock(&wh->ps.mu);
	TAILQ_CONCAT(&ready, &wh->ps.done, pentry);
	pthread_mutex_unlock(&wh->ps.mu);
	while ((j = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, j, pentry);
		parsed(j);
	}
}

/* Start the thread (every signal blocked in it: they are the loop's). */
static int
parser_start(struct webhook *wh, char *err, size_t errlen)
{
	sigset_t all, old;
	int e;

	if (wh->ps.started)
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&wh->ps.th, NULL, parser_main, &wh->ps);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		snprintf(err, errlen, "webhooks: cannot start the payload "
		    "parser: %s", strerror(e));
		return -1;
	}
	wh->ps.started = 1;
	ev_async_start(wh->loop, &wh->ps.async);
	ev_unref(wh->loop);	/* it alone keeps no loop running */
	return 0;
}

/* Stop and join the thread; what it held is the loop's again. */
static void
parser_stop(struct webhook *wh)
{
	if (!wh->ps.started)
		return;
	pthread_mutex_lock(&wh->ps.mu);
	wh->ps.stop = 1;
	pthread_cond_signal(&wh->ps.cv);
	pthread_mutex_unlock(&wh->ps.mu);
	pthread_join(wh->ps.th, NULL);
	ev_ref(wh->loop);
	ev_async_stop(wh->loop, &wh->ps.async);
	wh->ps.started = 0;
	/* the jobs on todo and done are on wh->jobs too: freed there */
	TAILQ_INIT(&wh->ps.todo);
	TAILQ_INIT(&wh->ps.done);
}

static void
claim_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct webhook *wh = arg;
	int i, n;

	wh->claim = NULL;
	if (err != NULL) {
		if (!err->lost)
			log_warnx("webhooks: claim: %s", err->message);
		return;		/* the poll tries again */
	}
	n = PQntuples(res);
	for (i = 0; i < n && wh->running; i++)
		handle(wh, res, i);
	/* a full batch: there may be more */
	if (n == WEBHOOK_CLAIM_BATCH)
		wh->again = 1;
	if (wh->again)
		claim(wh);
}

static void
claim(struct webhook *wh)
{
	char ttl[16], lim[16];
	const char *p[3] = { wh->owner, ttl, lim };

	if (!wh->running || wh->db == NULL || wh->claim != NULL ||
	    !pgq_up(wh->db))
		return;
	if (wh->njobs + WEBHOOK_CLAIM_BATCH > JOBS_MAX) {
		wh->again = 1;		/* once some are done */
		return;
	}
	wh->again = 0;
	snprintf(ttl, sizeof(ttl), "%u", wh->ttl_ms);
	snprintf(lim, sizeof(lim), "%d", WEBHOOK_CLAIM_BATCH);
	wh->claim = pgq_exec(wh->db, "wh_claim", 3, p, claim_done, wh);
}

static void
poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	claim(w->data);
}

static void
notify_cb(struct pgq *db, const char *channel, const char *payload,
    void *arg)
{
	struct webhook *wh = arg;

	wh->again = 1;
	claim(wh);
}

static void
state_cb(struct pgq *db, int up, void *arg)
{
	if (up)
		claim(arg);
}

/* ---- life ---- */

static void stopped_cb(void *);

struct webhook *
webhook_new(struct ev_loop *loop, struct http_server *hs,
    const struct webhook_opts *o, char *err, size_t errlen)
{
	struct pgq_opts po;
	struct webhook *wh;
	char host[64];

	if (o == NULL || o->secret == NULL || *o->secret == '\0') {
		snprintf(err, errlen, "webhooks need a secret");
		return NULL;
	}
	if (sodium_init() < 0 || (wh = calloc(1, sizeof(*wh))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	wh->loop = loop;
	TAILQ_INIT(&wh->reqs);
	TAILQ_INIT(&wh->jobs);
	TAILQ_INIT(&wh->ps.todo);
	TAILQ_INIT(&wh->ps.done);
	pthread_mutex_init(&wh->ps.mu, NULL);
	pthread_cond_init(&wh->ps.cv, NULL);
	ev_async_init(&wh->ps.async, parser_cb);
	wh->ps.async.data = wh;
	wh->ttl_ms = o->claim_ttl_ms ? o->claim_ttl_ms : WEBHOOK_CLAIM_TTL_MS;
	ev_timer_init(&wh->poll, poll_cb, 0., (o->poll_ms ? o->poll_ms :
	    WEBHOOK_POLL_MS) / 1000.);
	wh->poll.data = wh;
	later_init(&wh->stopped, loop, stopped_cb, wh);
	if (o->owner != NULL)
		snprintf(wh->owner, sizeof(wh->owner), "%s", o->owner);
	else {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "afu9");
		host[sizeof(host) - 1] = '\0';
		snprintf(wh->owner, sizeof(wh->owner), "%s:%ld", host,
		    (long)getpid());
	}
	wh->klen = strlen(o->secret);
	if ((wh->key = malloc(wh->klen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		webhook_free(wh);
		return NULL;
	}
	memcpy(wh->key, o->secret, wh->klen);
	if (rules_load(wh, o->rules, err, errlen) == -1) {
		webhook_free(wh);
		return NULL;
	}
	if (o->conninfo != NULL) {
		memset(&po, 0, sizeof(po));
		po.name = "webhooks";
		po.op_timeout_ms = WEBHOOK_DB_TIMEOUT_MS;
		po.password = o->password;
		po.listen[0] = "afu9_webhook";
		po.notify = notify_cb;
		po.state_changed = state_cb;
		po.arg = wh;
		if ((wh->db = pgq_new(loop, o->conninfo, &po, err,
		    errlen)) == NULL ||
		    pgq_prepare_all(wh->db, stmts, sizeof(stmts) /
		    sizeof(stmts[0]), err, errlen) == -1) {
			webhook_free(wh);
			return NULL;
		}
		memset(&po, 0, sizeof(po));
		po.name = "webhooks receiver";
		po.op_timeout_ms = WEBHOOK_DB_TIMEOUT_MS;
		po.password = o->password;
		/* stmts[0]: wh_record alone */
		while (wh->nrdb < WEBHOOK_RECV_CONNS) {
			if ((wh->rdb[wh->nrdb] = pgq_new(loop, o->conninfo,
			    &po, err, errlen)) == NULL) {
				webhook_free(wh);
				return NULL;
			}
			if (pgq_prepare_all(wh->rdb[wh->nrdb++], stmts, 1,
			    err, errlen) == -1) {
				webhook_free(wh);
				return NULL;
			}
		}
	}
	if (http_server_route(hs, "POST", WEBHOOK_PATH, HTTP_ROUTE_EXACT,
	    h_github, wh) == -1 || http_server_route_body(hs, "POST",
	    WEBHOOK_PATH, WEBHOOK_BODY_MAX) == -1) {
		snprintf(err, errlen, "cannot add the webhook route: %s",
		    strerror(errno));
		webhook_free(wh);
		return NULL;
	}
	return wh;
}

void
webhook_free(struct webhook *wh)
{
	struct wreq *q;
	size_t i;

	if (wh == NULL)
		return;
	ev_timer_stop(wh->loop, &wh->poll);
	later_cancel(&wh->stopped);
	parser_stop(wh);
	while ((q = TAILQ_FIRST(&wh->reqs)) != NULL) {
		/* an orphan once the server is gone: this only frees it */
		http_respond(q->x, 503, NULL, "stopping\n", 9);
		wreq_free(q);
	}
	while (!TAILQ_EMPTY(&wh->jobs))
		job_free(TAILQ_FIRST(&wh->jobs));
	pgq_op_forget(wh->claim);
	if (wh->db != NULL)
		pgq_free(wh->db);
	for (i = 0; i < wh->nrdb; i++)
		pgq_free(wh->rdb[i]);
	rules_free(wh);
	if (wh->key != NULL) {
		sodium_memzero(wh->key, wh->klen);
		free(wh->key);
	}
	pthread_cond_destroy(&wh->ps.cv);
	pthread_mutex_destroy(&wh->ps.mu);
	free(wh);
}

/* ---- subsystem ---- */

static int
ws_start(void *self, char *err, size_t errlen)
{
	struct webhook *wh = self;

	if (wh->db == NULL)
		return 0;
	if (parser_start(wh, err, errlen) == -1)
		return -1;
	wh->running = 1;
	ev_timer_again(wh->loop, &wh->poll);
	claim(wh);
	return 0;
}

static void
ws_stop(void *self, unsigned grace_ms, void (*done)(void *), void *arg)
{
	struct webhook *wh = self;

	/* What is claimed and not finished is finished by its statements
	   still in flight, or handled elsewhere once its claim expires. */
	wh->running = 0;
	ev_timer_stop(wh->loop, &wh->poll);
	(void)grace_ms;
	wh->done = done;
	wh->done_arg = arg;
	later_arm(&wh->stopped);
}

static void
stopped_cb(void *arg)
{
	struct webhook *wh = arg;

	wh->done(wh->done_arg);
}

static json_t *
ws_status(const void *self)
{
	const struct webhook *wh = self;
	const struct pgq *down;
	size_t i;

	if (wh->db == NULL)
		return json_pack("{s:s,s:s}", "database", "disabled", "error",
		    "DATABASE_URL is not set");
	/* down when any of its connections is (one database behind all) */
	down = pgq_up(wh->db) ? NULL : wh->db;
	for (i = 0; i < wh->nrdb; i++)
		if (!pgq_up(wh->rdb[i]))
			down = wh->rdb[i];
	return json_pack("{s:s,s:s?}", "database", down ? "down" : "up",
	    "error", down ? pgq_last_error(down) : NULL);
}

static int
ws_metrics(const void *self, struct buf *b)
{
	const struct webhook *wh = self;
	int c, rc = 0;

	rc |= metrics_head(b, "afu9_webhook_requests_total", "counter",
	    "Webhook deliveries answered, by status code.");
	for (c = 0; c <= HTTP_STATUS_MAX - HTTP_STATUS_MIN; c++)
		if (wh->count[c] != 0)
			rc |= buf_printf(b, "afu9_webhook_requests_total{code="
			    "\"%d\"} %" PRIu64 "\n", c + HTTP_STATUS_MIN,
			    wh->count[c]);
	rc |= metrics_head(b, "afu9_webhook_answer_seconds", "histogram",
	    "Webhook deliveries from their request to their answer.");
	rc |= metrics_hist_write(b, "afu9_webhook_answer_seconds", "",
	    &wh->answer);
	rc |= metrics_head(b, "afu9_webhook_handled_total", "counter",
	    "Webhook deliveries handled by this task, by outcome.");
	for (c = 0; c < O_COUNT; c++)
		rc |= buf_printf(b, "afu9_webhook_handled_total{outcome=\"%s\"} "
		    "%" PRIu64 "\n", outcome_names[c], wh->handled[c]);
	return rc ? -1 : 0;
}

void
webhook_subsys(struct webhook *wh, struct subsys *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "webhooks";
	out->key = "webhooks";
	out->self = wh;
	out->start = ws_start;
	out->stop = ws_stop;
	out->status = ws_status;
	out->metrics = ws_metrics;
}
