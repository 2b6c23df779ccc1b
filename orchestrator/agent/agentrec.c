/*
 * agentrec: the recorder of agent runs on PostgreSQL (see agentrec.h).
 *
 * Every write is a struct awrite of one run, in one of three places:
 * held by its run (the run's row is not committed yet), in the queue
 * (waiting for the connection, or for room among the statements in
 * flight), or in flight (op set).  A write lost with the connection or
 * not answered in time goes back to the queue.  The parameters of a
 * message are built when the message comes; those of a run's insert,
 * progress and finish when they are sent, from the run, so a progress
 * waiting in the queue always sends the newest totals and the retry of
 * a lost one does too.
 *
 * A run is freed once its finish is written (or refused) and none of
 * its writes is left, or when its begin fails.
 */
#include "config.h"

#include <sys/queue.h>

#ifndef TAILQ_FOREACH_SAFE	/* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agentrec.h"
#include "agent/agentsql.h"
#include "later.h"
#include "log.h"
#include "metrics.h"
#include "redact.h"
#include "store/param.h"
#include "store/pgq.h"
#include "store/store.h"
#include "utf8.h"

#define NPARAMS_MAX	13
#define PROVIDER_MAX	64	/* bytes, as agent_runs_provider_check */
#define MODEL_MAX	255	/* characters, as agent_runs_model_check */
#define SEQ_MAX		2147483647u
#define COST_MAX	99999999999999ULL /* micro-dollars numeric(14,6)
					   holds */
#define INT_MAX_	2147483647ULL
#define BIGINT_MAX	9223372036854775807ULL
#define WRITE_BYTES	256	/* what a write costs besides its text */
#define NTURN_LE	11

static char other[] = "other";
static const unsigned turn_le[NTURN_LE] = {
	1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000
};

enum wkind { W_BEGIN, W_MESSAGE, W_PROGRESS, W_FINISH };
static const char *const wkind_stmt[] = {
	"agent_begin", "agent_message", "agent_progress", "agent_finish"
};

enum rstate {
	R_BEGINNING,	/* the insert not yet committed */
	R_ACTIVE,	/* committed: writes go out */
	R_ABANDONED	/* begin gave up waiting; the insert may still
			   commit: then the run is closed at once */
};

enum rstatus { S_SUCCEEDED, S_FAILED, S_CANCELLED, S_COUNT };
static const char *const status_names[S_COUNT] = {
	"succeeded", "failed", "cancelled"
};

struct arun;

struct awrite {
	TAILQ_ENTRY(awrite)	 link;	/* run->held, rec->queue or
					   rec->sent (op set) */
	struct arun		*run;
	enum wkind		 kind;
	struct pgq_op		*op;	/* in flight */
	size_t			 bytes;
	/* a message's parameters (the others are built when sent) */
	char			*p[AGENTSQL_MESSAGE_N];
};
TAILQ_HEAD(wlist, awrite);

struct series {
	char		 provider[PROVIDER_MAX + 1];
	char		*model;
	uint64_t	 runs[S_COUNT];
	uint64_t	 active;
	uint64_t	 tokens[4];	/* input, output, cache read, write */
	uint64_t	 cost_micro;
	uint64_t	 turns_bucket[NTURN_LE];	/* not cumulative */
	uint64_t	 turns_n, turns_sum;
};

struct arun {
	TAILQ_ENTRY(arun)	 link;
	struct agentrec		*rec;
	char			 id[37];
	enum rstate		 state;
	struct series		*ser;
	/* the insert's parameters, until it is written */
	char			*bp[AGENTSQL_BEGIN_N];
	void			(*done)(void *, int, const char *);
	void			*done_arg;
	ev_timer		 begin_timer;
	struct wlist		 held;		/* before the row commits */
	size_t			 nwrites;	/* held, queued or in flight */
	struct awrite		*progress;	/* queued and not sent */
	struct agent_totals	 totals;	/* the newest */
	struct agent_totals	 counted;	/* in the metrics so far */
	unsigned		 dropped;	/* messages */
	int			 warned;	/* a drop was logged */
	int			 finished;	/* finish came (or made up) */
	int			 fin_written;
	int			 counted_end;	/* in runs_total */
	enum rstatus		 status;
	char			*error;		/* finish's, parameter text */
	char			*result;
};
TAILQ_HEAD(rlist, arun);

struct agentrec {
	struct ev_loop		*loop;
	struct pgq		*db;
	struct agent_recorder	 iface;
	unsigned		 begin_timeout_ms;
	size_t			 buffer_max;
	size_t			 content_max;
	struct rlist		 runs;
	struct wlist		 queue;
	struct wlist		 sent;		/* in flight */
	size_t			 ninflight;
	struct agentrec_stats	 st;	/* pending, bytes, active kept live */
	struct series		 series[AGENTREC_SERIES_MAX];
	size_t			 nseries;
	/* drain */
	int			 draining;
	void			(*drain_done)(void *);
	void			*drain_arg;
	ev_timer		 drain_timer;
	struct later		 drain_later;
};

static const struct pgq_stmt stmts[] = {
	{ "agent_begin", AGENTSQL_BEGIN, AGENTSQL_BEGIN_N },
	{ "agent_message", AGENTSQL_MESSAGE, AGENTSQL_MESSAGE_N },
	{ "agent_progress", AGENTSQL_PROGRESS, AGENTSQL_PROGRESS_N },
	{ "agent_finish", AGENTSQL_FINISH, AGENTSQL_FINISH_N },
};

static void	flush(struct agentrec *);
static void	drain_check(struct agentrec *);

/* ---- metrics series ---- */

/* The series of provider/model; the last slot is "other"/"other" once
   the table is full. */
static struct series *
series_get(struct agentrec *rec, const char *provider, const char *model)
{
	struct series *s;
	size_t i;

	for (i = 0; i < rec->nseries; i++) {
		s = &rec->series[i];
		if (strcmp(s->provider, provider) == 0 &&
		    strcmp(s->model, model) == 0)
			return s;
	}
	if (rec->nseries < AGENTREC_SERIES_MAX - 1) {
		s = &rec->series[rec->nseries];
		if ((s->model = strdup(model)) != NULL) {
			snprintf(s->provider, sizeof(s->provider), "%s",
			    provider);
			rec->nseries++;
			return s;
		}
	}
	s = &rec->series[AGENTREC_SERIES_MAX - 1];
	if (s->model == NULL) {
		snprintf(s->provider, sizeof(s->provider), "other");
		s->model = other;	/* never freed: see agentrec_free() */
	}
	return s;
}

/* Add what t has beyond what the metrics counted of run r. */
static void
count_totals(struct arun *r, const struct agent_totals *t)
{
	struct series *s = r->ser;
	const uint64_t now[4] = { t->usage.input, t->usage.output,
	    t->usage.cache_read, t->usage.cache_write };
	const uint64_t was[4] = { r->counted.usage.input,
	    r->counted.usage.output, r->counted.usage.cache_read,
	    r->counted.usage.cache_write };
	size_t i;

	for (i = 0; i < 4; i++)
		if (now[i] > was[i])
			s->tokens[i] += now[i] - was[i];
	if (t->cost_micro > r->counted.cost_micro)
		s->cost_micro += t->cost_micro - r->counted.cost_micro;
	r->counted = *t;
}

/* The run ended (once): runs_total, the gauge, turns. */
static void
count_end(struct arun *r, enum rstatus st)
{
	struct series *s = r->ser;
	size_t i;

	if (r->counted_end)
		return;
	r->counted_end = 1;
	s->runs[st]++;
	if (s->active > 0)
		s->active--;
	for (i = 0; i < NTURN_LE; i++)
		if (r->totals.turns <= turn_le[i]) {
			s->turns_bucket[i]++;
			break;
		}
	s->turns_n++;
	s->turns_sum += r->totals.turns;
}

/* ---- runs and writes ---- */

static struct arun *
run_find(struct agentrec *rec, const char *id)
{
	struct arun *r;

	if (id == NULL)
		return NULL;
	TAILQ_FOREACH(r, &rec->runs, link)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

static void
write_free(struct awrite *w)
{
	struct agentrec *rec = w->run->rec;

	pgq_op_forget(w->op);
	param_free(w->p, AGENTSQL_MESSAGE_N);
	rec->st.pending--;
	rec->st.bytes -= w->bytes;
	w->run->nwrites--;
	if (w->run->progress == w)
		w->run->progress = NULL;
	free(w);
}

static void
run_free(struct arun *r)
{
	struct agentrec *rec = r->rec;
	struct awrite *w, *n;

	ev_timer_stop(rec->loop, &r->begin_timer);
	TAILQ_FOREACH_SAFE(w, &r->held, link, n) {
		TAILQ_REMOVE(&r->held, w, link);
		write_free(w);
	}
	TAILQ_FOREACH_SAFE(w, &rec->queue, link, n)
		if (w->run == r) {
			TAILQ_REMOVE(&rec->queue, w, link);
			write_free(w);
		}
	TAILQ_FOREACH_SAFE(w, &rec->sent, link, n)
		if (w->run == r) {
			TAILQ_REMOVE(&rec->sent, w, link);
			rec->ninflight--;
			write_free(w);	/* forgets the statement */
		}
	param_free(r->bp, AGENTSQL_BEGIN_N);
	free(r->error);
	free(r->result);
	TAILQ_REMOVE(&rec->runs, r, link);
	rec->st.active--;
	free(r);
	drain_check(rec);
}

/* Free r if nothing of it is left to write. */
static void
run_maybe_free(struct arun *r)
{
	if ((r->fin_written || r->state == R_ABANDONED) && r->nwrites == 0)
		run_free(r);
}

static struct awrite *
write_new(struct arun *r, enum wkind kind, size_t bytes)
{
	struct awrite *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->run = r;
	w->kind = kind;
	w->bytes = WRITE_BYTES + bytes;
	r->nwrites++;
	r->rec->st.pending++;
	r->rec->st.bytes += w->bytes;
	return w;
}

/* Queue w for sending, or hold it while its run's row is not in. */
static void
write_put(struct awrite *w)
{
	struct arun *r = w->run;

	if (r->state == R_BEGINNING && w->kind != W_BEGIN)
		TAILQ_INSERT_TAIL(&r->held, w, link);
	else {
		TAILQ_INSERT_TAIL(&r->rec->queue, w, link);
		flush(r->rec);
	}
}

/* ---- parameters ---- */

static char *
num_text(uint64_t v, uint64_t max)
{
	return param_printf("%" PRIu64, v > max ? max : v);
}

/* $2..$10 of AGENTSQL_TOTALS from r into p[1..9]; 0, or -1 (ENOMEM). */
static int
totals_params(const struct arun *r, char **p)
{
	const struct agent_totals *t = &r->totals;
	uint64_t c = t->cost_micro > COST_MAX ? COST_MAX : t->cost_micro;

	p[1] = num_text(t->usage.input, BIGINT_MAX);
	p[2] = num_text(t->usage.output, BIGINT_MAX);
	p[3] = num_text(t->usage.cache_read, BIGINT_MAX);
	p[4] = num_text(t->usage.cache_write, BIGINT_MAX);
	p[5] = param_printf("%" PRIu64 ".%06" PRIu64, c / 1000000,
	    c % 1000000);
	p[6] = num_text(t->turns, INT_MAX_);
	p[7] = num_text(t->tool_calls, INT_MAX_);
	p[8] = num_text(t->retries, INT_MAX_);
	p[9] = num_text(r->dropped, INT_MAX_);
	return p[1] && p[2] && p[3] && p[4] && p[5] && p[6] && p[7] && p[8] &&
	    p[9] ? 0 : -1;
}

static void
write_done(const PGresult *res, const struct pgq_err *err, void *arg);

/* Send w; 0, or -1 when pgq has no room (w stays queued). */
static int
write_send(struct agentrec *rec, struct awrite *w)
{
	struct arun *r = w->run;
	char *own[NPARAMS_MAX] = { NULL };
	const char *p[NPARAMS_MAX];
	int n, i;

	switch (w->kind) {
	case W_BEGIN:
		n = AGENTSQL_BEGIN_N;
		for (i = 0; i < n; i++)
			p[i] = r->bp[i];
		break;
	case W_MESSAGE:
		n = AGENTSQL_MESSAGE_N;
		for (i = 0; i < n; i++)
			p[i] = w->p[i];
		break;
	case W_PROGRESS:
	case W_FINISH:
		n = w->kind == W_PROGRESS ? AGENTSQL_PROGRESS_N :
		    AGENTSQL_FINISH_N;
		if (totals_params(r, own) == -1) {
			param_free(own, NPARAMS_MAX);
			return -1;
		}
		p[0] = r->id;
		for (i = 1; i < AGENTSQL_PROGRESS_N; i++)
			p[i] = own[i];
		if (w->kind == W_FINISH) {
			p[10] = status_names[r->status];
			p[11] = r->error;
			p[12] = r->result;
		}
		break;
	default:
		return -1;
	}
	w->op = pgq_exec(rec->db, wkind_stmt[w->kind], n, p, write_done, w);
	param_free(own, NPARAMS_MAX);
	if (w->op == NULL)
		return -1;
	if (r->progress == w)
		r->progress = NULL;	/* later totals need a new one */
	rec->ninflight++;
	return 0;
}

/* Send what the queue holds, while the connection is up and there is
   room. */
static void
flush(struct agentrec *rec)
{
	struct awrite *w;

	while (pgq_up(rec->db) && rec->ninflight < AGENTREC_INFLIGHT &&
	    (w = TAILQ_FIRST(&rec->queue)) != NULL) {
		if (write_send(rec, w) == -1)
			return;	/* pgq full or ENOMEM: on the next answer */
		TAILQ_REMOVE(&rec->queue, w, link);
		TAILQ_INSERT_TAIL(&rec->sent, w, link);
	}
}

/* ---- begin ---- */

/* begin ends for the loop: done once, r's callback cleared first. */
static void
begin_report(struct arun *r, int rc, const char *fmt, ...)
{
	void (*done)(void *, int, const char *) = r->done;
	void *arg = r->done_arg;
	char msg[PGQ_ERR_MAX + 128];
	va_list ap;

	r->done = NULL;
	ev_timer_stop(r->rec->loop, &r->begin_timer);
	msg[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (done != NULL)
		done(arg, rc, rc == 0 ? NULL : msg);
}

/* The begin failed for good: count it, tell the loop, forget the run. */
static void __attribute__((format(printf, 2, 3)))
begin_fail(struct arun *r, const char *fmt, ...)
{
	char msg[PGQ_ERR_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->rec->st.begin_failed++;
	log_warnx("agent run %s: not recorded: %s", r->id, msg);
	count_end(r, S_FAILED);
	r->state = R_ABANDONED;
	begin_report(r, -1, "%s", msg);
}

/* The row is in: what was held goes out. */
static void
begin_ok(struct arun *r, const PGresult *res)
{
	struct agentrec *rec = r->rec;
	struct awrite *w;
	const char *closed = PQntuples(res) == 1 && PQnfields(res) == 2 ?
	    PQgetvalue(res, 0, 1) : "0";

	if (strcmp(closed, "0") != 0)
		log_info("agent run %s resumes run %s, which was still "
		    "running: that one is now failed (interrupted)", r->id,
		    r->bp[6] ? r->bp[6] : "?");
	param_free(r->bp, AGENTSQL_BEGIN_N);
	if (r->state == R_ABANDONED) {
		/* the loop gave up on it: close the row now */
		if (!r->finished) {
			r->finished = 1;
			r->status = S_FAILED;
			free(r->error);
			r->error = param_printf("recording: the row was "
			    "committed after the run had stopped waiting for "
			    "it (%u ms)", rec->begin_timeout_ms);
		}
	} else {
		r->state = R_ACTIVE;
		rec->st.runs++;
	}
	while ((w = TAILQ_FIRST(&r->held)) != NULL) {
		TAILQ_REMOVE(&r->held, w, link);
		if (r->state == R_ABANDONED && w->kind != W_FINISH) {
			write_free(w);
			continue;
		}
		TAILQ_INSERT_TAIL(&rec->queue, w, link);
	}
	if (r->state == R_ABANDONED && r->finished) {
		if ((w = write_new(r, W_FINISH, 0)) != NULL)
			TAILQ_INSERT_TAIL(&rec->queue, w, link);
	}
	flush(rec);
	if (r->state == R_ACTIVE)
		begin_report(r, 0, NULL);
}

static void
begin_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct arun *r = t->data;
	struct agentrec *rec = r->rec;
	struct awrite *w, *n;
	int inflight = 0;

	TAILQ_FOREACH_SAFE(w, &rec->queue, link, n)
		if (w->run == r && w->kind == W_BEGIN) {
			TAILQ_REMOVE(&rec->queue, w, link);
			write_free(w);
		}
	TAILQ_FOREACH_SAFE(w, &r->held, link, n) {
		TAILQ_REMOVE(&r->held, w, link);
		write_free(w);
	}
	inflight = r->nwrites > 0;
	begin_fail(r, "the database did not take the run's row within %u ms "
	    "(%s)", rec->begin_timeout_ms, pgq_up(rec->db) ? "no answer" :
	    pgq_last_error(rec->db));
	/* in flight: wait for its outcome (begin_ok() closes the row) */
	if (!inflight)
		run_free(r);
}

/* Characters of UTF-8 s[0..n): the bytes that start one. */
static size_t
u8_chars(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* A uuid or NULL, lowered into out[37]; 0, or -1. */
static int
uuid_param(const char *s, char *out)
{
	size_t i;

	if (s == NULL)
		return 0;
	if (!store_uuid_ok(s))
		return -1;
	for (i = 0; i < 36; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] + 32 : s[i]);
	out[36] = '\0';
	return 0;
}

/* A copy of s for a parameter: redacted, UTF-8, at most max bytes;
   NULL in, NULL out.  -1 on ENOMEM. */
static int
text_param(const char *s, size_t max, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	return (*out = param_text(s, max)) == NULL ? -1 : 0;
}

/* The checks of begin: NULL, or why meta is refused. */
static const char *
meta_check(const struct agent_run_meta *m, char ids[4][37])
{
	size_t n;

	memset(ids, 0, 4 * 37);
	if (m == NULL || m->run_id == NULL || uuid_param(m->run_id,
	    ids[0]) == -1)
		return "the run id is not a uuid";
	if (m->provider == NULL || (n = strlen(m->provider)) < 1 ||
	    n > PROVIDER_MAX)
		return "the provider's name is not 1 to 64 bytes";
	if (m->model == NULL || (n = strlen(m->model)) < 1 ||
	    !u8_valid(m->model, n) || u8_chars(m->model, n) > MODEL_MAX)
		return "the model's name is not 1 to 255 characters of UTF-8";
	if (uuid_param(m->execution_id, ids[1]) == -1)
		return "the execution id is not a uuid";
	if (uuid_param(m->step_id, ids[2]) == -1)
		return "the step id is not a uuid";
	if (uuid_param(m->resumed_from, ids[3]) == -1)
		return "the id of the run resumed is not a uuid";
	if (m->resumed_from != NULL && strcmp(ids[0], ids[3]) == 0)
		return "a run cannot resume itself";
	if (m->params != NULL && !json_is_object(m->params))
		return "the run's params are not a JSON object";
	return NULL;
}

static void
rec_begin(void *self, const struct agent_run_meta *m,
    void (*done)(void *, int, const char *), void *arg)
{
	struct agentrec *rec = self;
	char ids[4][37], *task = NULL;
	const char *why;
	struct awrite *w;
	struct arun *r;
	json_t *pr;
	size_t i;

	if ((why = meta_check(m, ids)) != NULL) {
		rec->st.begin_failed++;
		done(arg, -1, why);
		return;
	}
	if (run_find(rec, ids[0]) != NULL) {
		rec->st.begin_failed++;
		done(arg, -1, "a run with this id is being recorded already");
		return;
	}
	/* half the buffer is kept for the runs going on */
	if (rec->draining || rec->st.active >= AGENTREC_RUNS_MAX ||
	    rec->st.bytes > rec->buffer_max / 2) {
		rec->st.begin_failed++;
		log_warnx("agent run %s: not recorded: %s", ids[0],
		    rec->draining ? "the recorder is stopping" :
		    "too much is waiting for the database");
		done(arg, -1, rec->draining ? "the recorder is stopping" :
		    "too much is waiting for the database already (the "
		    "recorder's buffer is full)");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->rec = rec;
	memcpy(r->id, ids[0], sizeof(r->id));
	TAILQ_INIT(&r->held);
	ev_timer_init(&r->begin_timer, begin_timeout_cb,
	    rec->begin_timeout_ms / 1000.0, 0.);
	r->begin_timer.data = r;
	r->done = done;
	r->done_arg = arg;
	pr = m->params ? redact_json(m->params) : NULL;
	if ((m->params != NULL && pr == NULL) ||
	    text_param(m->task && *m->task ? m->task : NULL, AGENT_TASK_MAX,
	    &task) == -1 ||
	    (r->bp[0] = strdup(ids[0])) == NULL ||
	    (r->bp[1] = strdup(m->provider)) == NULL ||
	    (r->bp[2] = param_text(m->model, 1024)) == NULL ||
	    (pr != NULL && (r->bp[7] = param_json(pr)) == NULL)) {
		json_decref(pr);
		free(task);
		param_free(r->bp, AGENTSQL_BEGIN_N);
		free(r);
		goto nomem;
	}
	json_decref(pr);
	r->bp[3] = task;
	for (i = 1; i < 4; i++)
		if (ids[i][0] != '\0' &&
		    (r->bp[3 + i] = strdup(ids[i])) == NULL) {
			param_free(r->bp, AGENTSQL_BEGIN_N);
			free(r);
			goto nomem;
		}
	if ((r->ser = series_get(rec, m->provider, r->bp[2])) == NULL ||
	    (w = write_new(r, W_BEGIN, 0)) == NULL) {
		param_free(r->bp, AGENTSQL_BEGIN_N);
		free(r);
		goto nomem;
	}
	for (i = 0; i < AGENTSQL_BEGIN_N; i++)
		if (r->bp[i] != NULL)
			w->bytes += strlen(r->bp[i]);
	rec->st.bytes += w->bytes - WRITE_BYTES;
	r->ser->active++;
	TAILQ_INSERT_TAIL(&rec->runs, r, link);
	rec->st.active++;
	ev_timer_start(rec->loop, &r->begin_timer);
	write_put(w);
	return;
nomem:
	rec->st.begin_failed++;
	done(arg, -1, "out of memory");
}

/* ---- message, progress, finish ---- */

static const char *const roles[] = { "system", "user", "assistant", "tool" };

static int
role_ok(const char *role)
{
	size_t i;

	for (i = 0; role != NULL && i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(role, roles[i]) == 0)
			return 1;
	return 0;
}

/* A dropped message: counted in the run's row and the metrics. */
static void
drop_message(struct arun *r, unsigned seq, const char *why, int full)
{
	struct agentrec *rec = r->rec;
	struct awrite *w;

	r->dropped++;
	if (full)
		rec->st.dropped_full++;
	else
		rec->st.dropped_refused++;
	if (!r->warned++)
		log_warnx("agent run %s: transcript message %u dropped: %s "
		    "(the run's messages_dropped counts this and any more)",
		    r->id, seq, why);
	/* the count reaches the row with the totals */
	if (!r->finished && r->progress == NULL &&
	    (w = write_new(r, W_PROGRESS, 0)) != NULL) {
		r->progress = w;
		write_put(w);
	}
}

/* The content as parameter text: redacted, an object, bounded. */
static char *
content_param(const json_t *content, size_t max, const char *run,
    unsigned seq)
{
	json_t *c = content ? redact_json(content) : json_object();
	char *s;
	size_t n;

	if (c == NULL)
		return NULL;
	if (!json_is_object(c)) {
		json_decref(c);
		return param_printf("{\"omitted\":\"the content was not a "
		    "JSON object\"}");
	}
	s = param_json(c);
	json_decref(c);
	if (s == NULL || (n = strlen(s)) <= max)
		return s;
	free(s);
	log_warnx("agent run %s: transcript message %u: content of %zu bytes "
	    "stored as a note", run, seq, n);
	return param_printf("{\"omitted\":\"%zu bytes of content, more than "
	    "the recorder keeps (%zu)\"}", n, max);
}

static void
rec_message(void *self, const char *run_id, unsigned seq, const char *role,
    const json_t *content, const struct prov_usage *u)
{
	struct agentrec *rec = self;
	struct arun *r = run_find(rec, run_id);
	struct awrite *w;
	size_t i, n = 0;

	if (r == NULL || r->state == R_ABANDONED || r->finished) {
		rec->st.unknown++;
		return;
	}
	if (!role_ok(role) || seq > SEQ_MAX) {
		drop_message(r, seq, "a role or seq out of form", 0);
		return;
	}
	if ((w = write_new(r, W_MESSAGE, 0)) == NULL) {
		drop_message(r, seq, "out of memory", 0);
		return;
	}
	w->p[0] = strdup(r->id);
	w->p[1] = param_printf("%u", seq);
	w->p[2] = strdup(role);
	w->p[3] = content_param(content, rec->content_max, r->id, seq);
	if (u != NULL) {
		w->p[4] = num_text(u->input, BIGINT_MAX);
		w->p[5] = num_text(u->output, BIGINT_MAX);
		w->p[6] = num_text(u->cache_read, BIGINT_MAX);
		w->p[7] = num_text(u->cache_write, BIGINT_MAX);
	}
	for (i = 0; i < AGENTSQL_MESSAGE_N; i++)
		if (w->p[i] != NULL)
			n += strlen(w->p[i]);
	if (!w->p[0] || !w->p[1] || !w->p[2] || !w->p[3] || (u != NULL &&
	    (!w->p[4] || !w->p[5] || !w->p[6] || !w->p[7]))) {
		write_free(w);
		drop_message(r, seq, "out of memory", 0);
		return;
	}
	if (rec->st.bytes + n > rec->buffer_max) {
		write_free(w);
		drop_message(r, seq, "too much is waiting for the database "
		    "(the recorder's buffer is full)", 1);
		return;
	}
	w->bytes += n;
	rec->st.bytes += n;
	write_put(w);
}

static void
rec_progress(void *self, const char *run_id, const struct agent_totals *t)
{
	struct agentrec *rec = self;
	struct arun *r = run_find(rec, run_id);
	struct awrite *w;

	if (r == NULL || r->state == R_ABANDONED || r->finished || t == NULL) {
		rec->st.unknown++;
		return;
	}
	r->totals = *t;
	count_totals(r, t);
	if (r->progress != NULL)
		return;		/* the one waiting sends these totals */
	if ((w = write_new(r, W_PROGRESS, 0)) == NULL)
		return;		/* the finish carries them */
	r->progress = w;
	write_put(w);
}

static int
status_parse(const char *s, enum rstatus *out)
{
	int i;

	for (i = 0; s != NULL && i < S_COUNT; i++)
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum rstatus)i;
			return 0;
		}
	return -1;
}

static void
rec_finish(void *self, const char *run_id, const char *status,
    const char *error, const json_t *result, const struct agent_totals *t)
{
	struct agentrec *rec = self;
	struct arun *r = run_find(rec, run_id);
	struct awrite *w, *n;
	enum rstatus st;
	json_t *res = NULL;

	if (r == NULL || r->finished) {
		rec->st.unknown++;
		return;
	}
	if (status_parse(status, &st) == -1) {
		log_warnx("agent run %s: finished with status '%s', which is "
		    "none of succeeded, failed, cancelled: recorded as failed",
		    r->id, status ? status : "(null)");
		st = S_FAILED;
		if (error == NULL)
			error = "finished with an unknown status";
	}
	r->finished = 1;
	r->status = st;
	if (t != NULL) {
		r->totals = *t;
		count_totals(r, t);
	}
	count_end(r, st);
	if (result != NULL && json_is_object(result) &&
	    (res = redact_json(result)) != NULL) {
		r->result = param_json(res);
		json_decref(res);
	}
	if (error != NULL)
		r->error = param_text(error, AGENTREC_ERROR_MAX);
	if (r->state == R_ABANDONED)
		return;		/* begin_ok() sends it if the row appears */
	/* the finish carries the totals: a progress still waiting goes */
	TAILQ_FOREACH_SAFE(w, &rec->queue, link, n)
		if (w == r->progress) {
			TAILQ_REMOVE(&rec->queue, w, link);
			write_free(w);
		}
	TAILQ_FOREACH_SAFE(w, &r->held, link, n)
		if (w == r->progress) {
			TAILQ_REMOVE(&r->held, w, link);
			write_free(w);
		}
	if ((w = write_new(r, W_FINISH, (r->error ? strlen(r->error) : 0) +
	    (r->result ? strlen(r->result) : 0))) == NULL) {
		log_warnx("agent run %s: its end is not recorded: out of "
		    "memory", r->id);
		return;
	}
	write_put(w);
}

/* ---- answers ---- */

static void
write_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct awrite *w = arg;
	struct arun *r = w->run;
	struct agentrec *rec = r->rec;

	w->op = NULL;
	TAILQ_REMOVE(&rec->sent, w, link);
	rec->ninflight--;
	if (err != NULL && (err->lost || err->timeout)) {
		rec->st.retried++;
		if (w->kind == W_BEGIN && r->state == R_ABANDONED) {
			/* the row may be in or not: close it if it is */
			if (!r->finished) {
				r->finished = 1;
				r->status = S_FAILED;
				r->error = param_printf("recording: the run "
				    "had stopped waiting for its row (%u ms)",
				    rec->begin_timeout_ms);
			}
			w->kind = W_FINISH;
		}
		TAILQ_INSERT_TAIL(&rec->queue, w, link);
		flush(rec);
		return;
	}
	if (err != NULL) {
		switch (w->kind) {
		case W_BEGIN:
			write_free(w);
			if (r->state == R_BEGINNING)
				begin_fail(r, "the database refused the run's "
				    "row: %s", err->message);
			run_free(r);
			flush(rec);
			return;
		case W_MESSAGE:
			log_warnx("agent run %s: the database refused a "
			    "transcript message: %s", r->id, err->message);
			write_free(w);
			drop_message(r, 0, "refused by the database", 0);
			break;
		case W_PROGRESS:
		case W_FINISH:
			log_warnx("agent run %s: the database refused its %s: "
			    "%s", r->id, w->kind == W_FINISH ? "end" :
			    "totals", err->message);
			if (w->kind == W_FINISH)
				r->fin_written = 1;
			write_free(w);
			break;
		}
		flush(rec);
		run_maybe_free(r);
		return;
	}
	switch (w->kind) {
	case W_BEGIN:
		write_free(w);
		begin_ok(r, res);
		break;
	case W_MESSAGE:
		rec->st.messages++;
		write_free(w);
		break;
	case W_PROGRESS:
		write_free(w);
		break;
	case W_FINISH:
		if (strcmp(PQcmdTuples((PGresult *)res), "0") == 0)
			log_info("agent run %s: its row was not running any "
			    "more (closed already, or by a run resuming it): "
			    "the end is not written over it", r->id);
		r->fin_written = 1;
		write_free(w);
		break;
	}
	flush(rec);
	run_maybe_free(r);
}

static void
state_cb(struct pgq *db, int up, void *arg)
{
	if (up)
		flush(arg);
}

/* ---- drain ---- */

static void
drain_fire(void *arg)
{
	struct agentrec *rec = arg;
	void (*done)(void *) = rec->drain_done;

	if (done == NULL)
		return;
	ev_timer_stop(rec->loop, &rec->drain_timer);
	rec->drain_done = NULL;
	done(rec->drain_arg);
}

static void
drain_check(struct agentrec *rec)
{
	if (rec->drain_done != NULL && rec->st.pending == 0)
		later_arm(&rec->drain_later);
}

static void
drain_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct agentrec *rec = t->data;
	struct arun *r;
	size_t runs = 0;

	TAILQ_FOREACH(r, &rec->runs, link)
		if (r->nwrites > 0)
			runs++;
	if (rec->st.pending > 0)
		log_warnx("agent recorder: %zu write(s) of %zu run(s) not "
		    "in the database (%s): those runs' rows and transcripts "
		    "are incomplete", rec->st.pending, runs,
		    pgq_up(rec->db) ? "no answer in time" :
		    pgq_last_error(rec->db));
	drain_fire(rec);
}

void
agentrec_drain(struct agentrec *rec, unsigned grace_ms,
    void (*done)(void *), void *arg)
{
	rec->draining = 1;
	rec->drain_done = done;
	rec->drain_arg = arg;
	ev_timer_stop(rec->loop, &rec->drain_timer);
	ev_timer_set(&rec->drain_timer, grace_ms / 1000.0, 0.);
	ev_timer_start(rec->loop, &rec->drain_timer);
	flush(rec);
	drain_check(rec);
}

/* ---- life ---- */

struct agentrec *
agentrec_new(struct ev_loop *loop, const char *conninfo,
    const struct agentrec_opts *o, char *err, size_t errlen)
{
	struct agentrec_opts none;
	struct pgq_opts po;
	struct agentrec *rec;

	if (o == NULL) {
		memset(&none, 0, sizeof(none));
		o = &none;
	}
	if ((rec = calloc(1, sizeof(*rec))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rec->loop = loop;
	rec->begin_timeout_ms = o->begin_timeout_ms ? o->begin_timeout_ms :
	    AGENTREC_BEGIN_TIMEOUT_MS;
	rec->buffer_max = o->buffer_max ? o->buffer_max : AGENTREC_BUFFER_MAX;
	rec->content_max = o->content_max ? o->content_max :
	    AGENTREC_CONTENT_MAX;
	TAILQ_INIT(&rec->runs);
	TAILQ_INIT(&rec->queue);
	TAILQ_INIT(&rec->sent);
	ev_timer_init(&rec->drain_timer, drain_timeout_cb, 1., 0.);
	rec->drain_timer.data = rec;
	later_init(&rec->drain_later, loop, drain_fire, rec);
	rec->iface.self = rec;
	rec->iface.begin = rec_begin;
	rec->iface.message = rec_message;
	rec->iface.progress = rec_progress;
	rec->iface.finish = rec_finish;
	memset(&po, 0, sizeof(po));
	po.name = "agents";
	po.op_timeout_ms = o->op_timeout_ms ? o->op_timeout_ms :
	    AGENTREC_OP_TIMEOUT_MS;
	po.backoff_cap_s = o->backoff_cap_s;
	po.password = o->password;
	po.state_changed = state_cb;
	po.arg = rec;
	if ((rec->db = pgq_new(loop, conninfo, &po, err, errlen)) == NULL ||
	    pgq_prepare_all(rec->db, stmts, sizeof(stmts) / sizeof(stmts[0]),
	    err, errlen) == -1) {
		agentrec_free(rec);
		return NULL;
	}
	return rec;
}

void
agentrec_free(struct agentrec *rec)
{
	struct awrite *w;
	struct arun *r;
	size_t i;

	if (rec == NULL)
		return;
	rec->drain_done = NULL;
	while ((w = TAILQ_FIRST(&rec->queue)) != NULL) {
		TAILQ_REMOVE(&rec->queue, w, link);
		write_free(w);
	}
	while ((w = TAILQ_FIRST(&rec->sent)) != NULL) {
		TAILQ_REMOVE(&rec->sent, w, link);
		write_free(w);		/* forgets its statement */
	}
	while ((r = TAILQ_FIRST(&rec->runs)) != NULL) {
		r->done = NULL;
		run_free(r);
	}
	if (rec->db != NULL)
		pgq_free(rec->db);
	ev_timer_stop(rec->loop, &rec->drain_timer);
	later_cancel(&rec->drain_later);
	for (i = 0; i < AGENTREC_SERIES_MAX - 1; i++)
		free(rec->series[i].model);
	free(rec);
}

const struct agent_recorder *
agentrec_recorder(struct agentrec *rec)
{
	return &rec->iface;
}

void
agentrec_reconnect(struct agentrec *rec)
{
	pgq_reconnect(rec->db);
}

void
agentrec_get_stats(const struct agentrec *rec, struct agentrec_stats *out)
{
	*out = rec->st;
}

/* ---- status and metrics ---- */

json_t *
agentrec_status(const struct agentrec *rec)
{
	int up = pgq_up(rec->db);

	return json_pack("{s:s,s:s?,s:I,s:I,s:I}", "database", up ? "up" :
	    "down", "error", up ? NULL : pgq_last_error(rec->db), "runs",
	    (json_int_t)rec->st.active, "pending_writes",
	    (json_int_t)rec->st.pending, "pending_bytes",
	    (json_int_t)rec->st.bytes);
}

/* `provider="p",model="m"` into b. */
static int
labels(struct buf *b, const struct series *s)
{
	int rc = 0;

	rc |= buf_printf(b, "provider=\"");
	rc |= metrics_label(b, s->provider);
	rc |= buf_printf(b, "\",model=\"");
	rc |= metrics_label(b, s->model);
	rc |= buf_printf(b, "\"");
	return rc;
}

static int
series_metrics(const struct agentrec *rec, struct buf *b)
{
	static const char *const kinds[4] = { "input", "output",
	    "cache_read", "cache_write" };
	const struct series *s;
	uint64_t cum;
	size_t i, k;
	int rc = 0;

	rc |= metrics_head(b, "afu9_agent_runs_total", "counter",
	    "Agent runs ended, by provider, model and status.");
	for (i = 0; i < AGENTREC_SERIES_MAX; i++) {
		s = &rec->series[i];
		for (k = 0; s->model != NULL && k < S_COUNT; k++) {
			if (s->runs[k] == 0)
				continue;
			rc |= buf_printf(b, "afu9_agent_runs_total{");
			rc |= labels(b, s);
			rc |= buf_printf(b, ",status=\"%s\"} %" PRIu64 "\n",
			    status_names[k], s->runs[k]);
		}
	}
	rc |= metrics_head(b, "afu9_agent_runs_active", "gauge",
	    "Agent runs going on, by provider and model.");
	for (i = 0; i < AGENTREC_SERIES_MAX; i++) {
		s = &rec->series[i];
		if (s->model == NULL)
			continue;
		rc |= buf_printf(b, "afu9_agent_runs_active{");
		rc |= labels(b, s);
		rc |= buf_printf(b, "} %" PRIu64 "\n", s->active);
	}
	rc |= metrics_head(b, "afu9_agent_tokens_total", "counter",
	    "Tokens the agent runs used, by provider, model and kind "
	    "(input excludes the cache's).");
	for (i = 0; i < AGENTREC_SERIES_MAX; i++) {
		s = &rec->series[i];
		for (k = 0; s->model != NULL && k < 4; k++) {
			rc |= buf_printf(b, "afu9_agent_tokens_total{");
			rc |= labels(b, s);
			rc |= buf_printf(b, ",kind=\"%s\"} %" PRIu64 "\n",
			    kinds[k], s->tokens[k]);
		}
	}
	rc |= metrics_head(b, "afu9_agent_cost_usd_total", "counter",
	    "What the agent runs cost, in US dollars (the price table's), "
	    "by provider and model.");
	for (i = 0; i < AGENTREC_SERIES_MAX; i++) {
		s = &rec->series[i];
		if (s->model == NULL)
			continue;
		rc |= buf_printf(b, "afu9_agent_cost_usd_total{");
		rc |= labels(b, s);
		rc |= buf_printf(b, "} %" PRIu64 ".%06" PRIu64 "\n",
		    s->cost_micro / 1000000, s->cost_micro % 1000000);
	}
	rc |= metrics_head(b, "afu9_agent_run_turns", "histogram",
	    "Turns (provider replies) per agent run ended, by provider and "
	    "model.");
	for (i = 0; i < AGENTREC_SERIES_MAX; i++) {
		s = &rec->series[i];
		if (s->model == NULL)
			continue;
		for (cum = 0, k = 0; k < NTURN_LE; k++) {
			cum += s->turns_bucket[k];
			rc |= buf_printf(b, "afu9_agent_run_turns_bucket{");
			rc |= labels(b, s);
			rc |= buf_printf(b, ",le=\"%u\"} %" PRIu64 "\n",
			    turn_le[k], cum);
		}
		rc |= buf_printf(b, "afu9_agent_run_turns_bucket{");
		rc |= labels(b, s);
		rc |= buf_printf(b, ",le=\"+Inf\"} %" PRIu64 "\n", s->turns_n);
		rc |= buf_printf(b, "afu9_agent_run_turns_sum{");
		rc |= labels(b, s);
		rc |= buf_printf(b, "} %" PRIu64 "\n", s->turns_sum);
		rc |= buf_printf(b, "afu9_agent_run_turns_count{");
		rc |= labels(b, s);
		rc |= buf_printf(b, "} %" PRIu64 "\n", s->turns_n);
	}
	return rc;
}

int
agentrec_metrics(const struct agentrec *rec, struct buf *b)
{
	const struct agentrec_stats *st = &rec->st;
	int rc = series_metrics(rec, b);

	rc |= metrics_head(b, "afu9_agent_record_pending_writes", "gauge",
	    "Agent run writes (rows, messages, totals) not yet in the "
	    "database.");
	rc |= buf_printf(b, "afu9_agent_record_pending_writes %zu\n",
	    st->pending);
	rc |= metrics_head(b, "afu9_agent_record_pending_bytes", "gauge",
	    "Bytes of those writes held in memory.");
	rc |= buf_printf(b, "afu9_agent_record_pending_bytes %zu\n",
	    st->bytes);
	rc |= metrics_head(b, "afu9_agent_record_retried_total", "counter",
	    "Agent run writes sent again after the connection broke or a "
	    "statement timed out.");
	rc |= buf_printf(b, "afu9_agent_record_retried_total %" PRIu64 "\n",
	    st->retried);
	rc |= metrics_head(b, "afu9_agent_record_dropped_messages_total",
	    "counter", "Transcript messages not recorded, by reason (each "
	    "counted in its run's messages_dropped).");
	rc |= buf_printf(b, "afu9_agent_record_dropped_messages_total{reason="
	    "\"buffer_full\"} %" PRIu64 "\n", st->dropped_full);
	rc |= buf_printf(b, "afu9_agent_record_dropped_messages_total{reason="
	    "\"refused\"} %" PRIu64 "\n", st->dropped_refused);
	rc |= metrics_head(b, "afu9_agent_record_begin_failures_total",
	    "counter", "Agent runs that could not start because their row "
	    "could not be recorded.");
	rc |= buf_printf(b, "afu9_agent_record_begin_failures_total %" PRIu64
	    "\n", st->begin_failed);
	return rc ? -1 : 0;
}

/* ---- subsystem ---- */

static void
ss_stop(void *self, unsigned grace_ms, void (*done)(void *), void *arg)
{
	agentrec_drain(self, grace_ms, done, arg);
}

static json_t *
ss_status(const void *self)
{
	return agentrec_status(self);
}

static int
ss_metrics(const void *self, struct buf *b)
{
	return agentrec_metrics(self, b);
}

void
agentrec_subsys(struct agentrec *rec, unsigned grace_ms, struct subsys *out)
{
	memset(out, 0, sizeof(*out));
	out->grace_ms = grace_ms;
	out->name = "agents";
	out->key = "agents";
	out->self = rec;
	out->stop = ss_stop;
	out->status = ss_status;
	out->metrics = ss_metrics;
}
