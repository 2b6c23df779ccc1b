/*
 * mcp_client: one MCP client session toward one server, on one libev loop.
 *
 * States: a session is OPEN (reading, writing when output is queued) until
 * the peer goes away or the owner closes it; then CLOSED (fds closed, every
 * pending request failed, `closed` called) until it is freed.
 *
 * Pending requests live in a hash table keyed by id (ids are allocated
 * 1, 2, 3 ... so `id & mask` spreads them evenly) and, for failing them in
 * issue order, on a doubly linked list.  A request leaves the table the
 * moment its fate is known (response, timeout, cancel, close), so a late
 * response finds nothing and is dropped.
 *
 * Re-entrancy: every entry from the loop and every public call that may run
 * callbacks holds `busy`; mcp_client_free() only marks the session and the
 * outermost holder frees it.  Completions decided inside a public call
 * (mcp_client_cancel) and failures found there are queued and run from a
 * zero-delay timer, so no callback runs inside the caller's call.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h>

#include "frame.h"
#include "json_scan.h"
#include "later.h"
#include "log.h"
#include "mcp_client.h"
#include "mcp_session.h"		/* MCP_LATEST_VERSION */
#include "rpc.h"

#ifndef AFU9_VERSION
#define AFU9_VERSION "0"
#endif

#define CLIENT_TAB_MIN	64

enum client_state {
	CLIENT_OPEN,		/* fds open: reading; writing while output is queued */
	CLIENT_CLOSED,		/* fds closed, nothing pending; waits for free */
};

struct pending {
	int64_t			 id;
	char			*method;
	struct mcp_client	*c;
	mcp_reply_fn		 fn;
	mcp_raw_reply_fn	 raw_fn;	/* instead of fn */
	mcp_progress_fn		 progress;
	void			*arg;
	double			 timeout_s;
	ev_timer		 timer;
	struct pending		*hnext;		/* hash chain */
	TAILQ_ENTRY(pending)	 q;		/* on `pending` (issue order)
						   or on `done` */
	int			 err_code;	/* local completion (done queue) */
	char			*err_msg;
};

struct mcp_client {
	struct ev_loop		*loop;
	enum client_state	 state;
	int			 rfd, wfd;
	ev_io			 rio, wio;
	struct later		 kick;		/* writes what was queued, in
						   one go */
	struct later		 defer;		/* runs the done queue, aborts */
	struct frame_reader	 rd;
	struct frame_writer	 wr;
	struct mcp_client_cb	 cb;
	void			*arg;
	char			*name, *version, *peer;

	int64_t			 next_id;
	struct pending		**tab;
	size_t			 tabsize;	/* power of two */
	size_t			 npending;
	TAILQ_HEAD(, pending)	 pending;	/* in the table, issue order */
	TAILQ_HEAD(, pending)	 done;		/* completed locally, callback
						   not run yet */

	json_t			*server_info;	/* initialize result */
	int64_t			 init_id;	/* initialize in flight */
	mcp_reply_fn		 init_done;
	void			*init_arg;

	int			 busy;		/* callbacks may be running */
	int			 want_free;
	char			 abort[256];	/* deferred close reason */
	char			 reason[256];	/* why the session closed */
};

static const char *const client_versions[] = {
	MCP_LATEST_VERSION, "2025-06-18", "2025-03-26", "2024-11-05",
};

static void	client_close_now(struct mcp_client *, const char *);

/* --- lifetime ---------------------------------------------------------- */

static void
client_enter(struct mcp_client *c)
{
	c->busy++;
}

static void
pending_free(struct pending *p)
{
	free(p->method);
	free(p->err_msg);
	free(p);
}

/* Release everything.  Only from client_leave(), with nothing running. */
static void
client_destroy(struct mcp_client *c)
{
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	later_cancel(&c->kick);
	later_cancel(&c->defer);
	/* Closing drained both lists. */
	INVARIANT(TAILQ_EMPTY(&c->pending) && TAILQ_EMPTY(&c->done));
	frame_reader_free(&c->rd);
	frame_writer_free(&c->wr);
	json_decref(c->server_info);
	free(c->tab);
	free(c->name);
	free(c->peer);
	free(c->version);
	free(c);
}

/*
 * Drop one hold.  Returns 1 when this was the last hold on a session marked
 * for freeing: it is gone and the caller must not touch it.
 */
static int
client_leave(struct mcp_client *c)
{
	INVARIANT(c->busy > 0);
	if (--c->busy == 0 && c->want_free) {
		client_destroy(c);
		return 1;
	}
	return 0;
}

/* --- pending table ------------------------------------------------------ */

static size_t
tab_slot(const struct mcp_client *c, int64_t id)
{
	return (size_t)((uint64_t)id & (c->tabsize - 1));
}

static struct pending *
tab_find(const struct mcp_client *c, int64_t id)
{
	struct pending *p;

	for (p = c->tab[tab_slot(c, id)]; p != NULL; p = p->hnext)
		if (p->id == id)
			return p;
	return NULL;
}

/*
 * Double the bucket array and rehash everything on the issue list.  -1 on
 * ENOMEM, keeping the old array (chains just get longer).
 */
static int
tab_grow(struct mcp_client *c)
{
	struct pending **ntab, *p;
	size_t nsize = c->tabsize * 2, i;

	if ((ntab = calloc(nsize, sizeof(*ntab))) == NULL)
		return -1;
	free(c->tab);
	c->tab = ntab;
	c->tabsize = nsize;
	TAILQ_FOREACH(p, &c->pending, q) {
		i = tab_slot(c, p->id);
		p->hnext = c->tab[i];
		c->tab[i] = p;
	}
	return 0;
}

static void
tab_insert(struct mcp_client *c, struct pending *p)
{
	size_t i;

	TAILQ_INSERT_TAIL(&c->pending, p, q);
	c->npending++;
	/* A successful grow links p too: it is on the list already. */
	if (c->npending <= c->tabsize || tab_grow(c) == -1) {
		i = tab_slot(c, p->id);
		p->hnext = c->tab[i];
		c->tab[i] = p;
	}
}

static void
tab_remove(struct mcp_client *c, struct pending *p)
{
	struct pending **pp;

	for (pp = &c->tab[tab_slot(c, p->id)]; *pp != p; pp = &(*pp)->hnext)
		INVARIANT(*pp != NULL);		/* p is in its chain */
	*pp = p->hnext;
	TAILQ_REMOVE(&c->pending, p, q);
	p->hnext = NULL;
	c->npending--;
	ev_timer_stop(c->loop, &p->timer);
}

/* --- completions -------------------------------------------------------- */

/*
 * Run p's callback (exactly once) with a failure and free p.  p is out of
 * the table.
 */
static void
pending_reply(struct mcp_client *c, struct pending *p,
    const struct mcp_error *err)
{
	if (p->raw_fn != NULL)
		p->raw_fn(c, p->id, NULL, 0, err, p->arg);
	else if (p->fn != NULL)
		p->fn(c, p->id, NULL, err, p->arg);
	pending_free(p);
}

static void
pending_fail(struct mcp_client *c, struct pending *p, int code,
    const char *msg)
{
	struct mcp_error e = { code, msg, NULL };

	pending_reply(c, p, &e);
}

/*
 * Run p's callback with the result of response m and free p.  A raw
 * callback gets the text as sent (or the tree's encoding when the strict
 * parser built it); a tree callback gets the tree (parsed here when the
 * parser left it as text).
 */
static void
pending_result(struct mcp_client *c, struct pending *p,
    const struct rpc_msg *m)
{
	const char *raw = m->result_raw;
	size_t len = m->result_len;
	json_t *tree = NULL;
	char *text = NULL;

	if (p->raw_fn != NULL && raw == NULL) {
		if ((text = json_dumps(m->result, JSON_COMPACT |
		    JSON_ENCODE_ANY)) == NULL) {
			pending_fail(c, p, RPC_INTERNAL_ERROR, "internal error: "
			    "out of memory for the result");
			return;
		}
		raw = text;
		len = strlen(text);
	}
	if (p->raw_fn == NULL && m->result == NULL &&
	    (tree = json_loadb(raw, len, JSON_DECODE_ANY |
	    JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		pending_fail(c, p, RPC_INTERNAL_ERROR, "internal error: "
		    "out of memory for the result");
		return;
	}
	if (p->raw_fn != NULL)
		p->raw_fn(c, p->id, raw, len, NULL, p->arg);
	else if (p->fn != NULL)
		p->fn(c, p->id, tree ? tree : m->result, NULL, p->arg);
	json_decref(tree);
	free(text);
	pending_free(p);
}

/* Queue p (out of the table) to fail with code/msg from the loop. */
static void
pending_complete_later(struct mcp_client *c, struct pending *p, int code,
    const char *msg)
{
	p->err_code = code;
	p->err_msg = strdup(msg);
	TAILQ_INSERT_TAIL(&c->done, p, q);
	later_arm(&c->defer);
}

/* Run the queued local completions, in order; each is unlinked first. */
static void
client_run_done(struct mcp_client *c)
{
	struct pending *p;

	while ((p = TAILQ_FIRST(&c->done)) != NULL) {
		TAILQ_REMOVE(&c->done, p, q);
		pending_fail(c, p, p->err_code,
		    p->err_msg != NULL ? p->err_msg : "request cancelled");
	}
}

/*
 * Ask for the session to close from the loop (a failure found inside a
 * public call, where callbacks must not run).  The first reason wins.
 */
static void
client_abort(struct mcp_client *c, const char *reason)
{
	if (c->abort[0] == '\0')
		snprintf(c->abort, sizeof(c->abort), "%s", reason);
	later_arm(&c->defer);
}

/* --- output ------------------------------------------------------------- */

/*
 * Queue one framed message.  `text` (from an rpc_build_* call, may be NULL
 * on ENOMEM) is freed.  0, or -1 with errno (ENOBUFS: output bound).
 */
static int
client_queue(struct mcp_client *c, char *text, size_t len)
{
	int rc, saved;

	if (text == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (log_tracing(LOG_TRACE_MCP))
		log_trace(LOG_TRACE_MCP, "out", c->peer, text, len);
	rc = frame_write(&c->wr, text, len);
	saved = errno;
	free(text);
	if (rc == -1) {
		errno = saved;
		return -1;
	}
	/* Written when the loop is about to block: everything queued in
	   this loop turn goes in one write(2), and the write watcher (two
	   epoll_ctl(2) a message) is armed only when the pipe is full. */
	if (!ev_is_active(&c->wio))
		later_arm(&c->kick);
	return 0;
}

/* A message the session sends on its own: failure to queue ends it. */
static void
client_send_internal(struct mcp_client *c, char *text, size_t len)
{
	char reason[160];

	if (client_queue(c, text, len) == 0)
		return;
	if (errno == ENOBUFS)
		snprintf(reason, sizeof(reason), "output bound exceeded: the "
		    "server is not reading (%zu bytes queued)",
		    frame_writer_pending(&c->wr));
	else
		snprintf(reason, sizeof(reason), "cannot queue output: %s",
		    strerror(errno));
	client_abort(c, reason);
}

static void
client_send_cancelled(struct mcp_client *c, int64_t id, const char *reason)
{
	json_t *params;
	size_t len = 0;
	char *text;

	params = json_pack("{s:I, s:s}", "requestId", (json_int_t)id,
	    "reason", reason);
	text = params ? rpc_build_notification("notifications/cancelled",
	    params, &len) : NULL;
	json_decref(params);
	client_send_internal(c, text, len);
}

/* --- closing ------------------------------------------------------------ */

/*
 * End the session: stop watchers, close the fds (after one best-effort
 * flush), run queued completions, fail every pending request in issue order
 * with RPC_CONNECTION_CLOSED, then call `closed` once.  The caller holds
 * busy; callbacks may close or free again (no-op / deferred).
 */
static void
client_close_now(struct mcp_client *c, const char *reason)
{
	struct pending *p;
	char msg[300];

	if (c->state != CLIENT_OPEN)
		return;
	c->state = CLIENT_CLOSED;
	snprintf(c->reason, sizeof(c->reason), "%s",
	    reason != NULL && *reason != '\0' ? reason : "closed by client");
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	later_cancel(&c->kick);
	later_cancel(&c->defer);
	if (frame_writer_pending(&c->wr) > 0)
		(void)frame_writer_flush(&c->wr, c->wfd);
	if (c->wfd != c->rfd)
		close(c->wfd);
	close(c->rfd);
	c->rfd = c->wfd = -1;

	client_run_done(c);
	snprintf(msg, sizeof(msg), "connection closed: %s", c->reason);
	while ((p = TAILQ_FIRST(&c->pending)) != NULL) {
		tab_remove(c, p);
		pending_fail(c, p, RPC_CONNECTION_CLOSED, msg);
	}
	if (c->cb.closed != NULL)
		c->cb.closed(c, c->reason, c->arg);
}

static void
client_defer_cb(void *arg)
{
	struct mcp_client *c = arg;

	client_enter(c);
	client_run_done(c);
	if (c->abort[0] != '\0')
		client_close_now(c, c->abort);
	client_leave(c);
}

/* --- input -------------------------------------------------------------- */

/* Strict decimal id text ("17") -> 1 and *id; else 0. */
static int
id_from_raw(const char *raw, int64_t *id)
{
	char *end;
	long long v;

	if (raw == NULL || *raw < '0' || *raw > '9')
		return 0;
	errno = 0;
	v = strtoll(raw, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return 0;
	*id = v;
	return 1;
}

static void
client_on_response(struct mcp_client *c, const struct rpc_msg *m)
{
	struct mcp_error e;
	struct pending *p = NULL;
	int64_t id = 0;

	if (json_is_integer(m->id)) {
		id = json_integer_value(m->id);
		p = tab_find(c, id);
	}
	if (p == NULL) {
		if (id >= 1 && id < c->next_id)
			log_debug("mcp client: dropped a late response to "
			    "request %lld", (long long)id);
		else
			log_warnx("mcp client: dropped a response to unknown "
			    "id %.40s", m->id_raw ? m->id_raw : "null");
		return;
	}
	tab_remove(c, p);
	if (m->kind == RPC_RESPONSE) {
		pending_result(c, p, m);
		return;
	}
	e.code = m->error_code;
	e.message = m->error_message;
	e.data = json_object_get(m->error, "data");
	pending_reply(c, p, &e);
}

/* The server asked something: "ping" gets {}, anything else -32601. */
static void
client_on_request(struct mcp_client *c, const struct rpc_msg *m)
{
	json_t *empty;
	size_t len = 0;
	char *text, msg[160];

	if (strcmp(m->method, "ping") == 0) {
		empty = json_object();
		text = empty ? rpc_build_result(m->id_raw, empty, &len) : NULL;
		json_decref(empty);
	} else {
		snprintf(msg, sizeof(msg), "Method not found: %.100s",
		    m->method);
		text = rpc_build_error(m->id_raw, RPC_METHOD_NOT_FOUND, msg,
		    NULL, &len);
	}
	client_send_internal(c, text, len);
}

static void
client_on_progress(struct mcp_client *c, const json_t *params)
{
	const json_t *tok = json_object_get(params, "progressToken");
	struct pending *p = NULL;

	if (json_is_integer(tok))
		p = tab_find(c, json_integer_value(tok));
	if (p == NULL || p->progress == NULL) {
		log_debug("mcp client: dropped progress for a token with no "
		    "pending request");
		return;
	}
	p->progress(c, p->id, params, p->arg);
}

static void
client_on_notification(struct mcp_client *c, const struct rpc_msg *m)
{
	if (strcmp(m->method, "notifications/progress") == 0)
		client_on_progress(c, m->params);
	else if (c->cb.notify != NULL)
		c->cb.notify(c, m->method, m->params, c->arg);
}

/*
 * A message that failed validation.  A broken response whose id names a
 * pending request fails that request now (rather than at its timeout);
 * a broken request is answered when JSON-RPC says so; the rest is logged.
 */
static void
client_on_invalid(struct mcp_client *c, const struct rpc_err *e)
{
	struct pending *p = NULL;
	int64_t id;
	size_t len = 0;
	char msg[300], *text;

	if (e->is_response) {
		if (id_from_raw(e->id_raw, &id))
			p = tab_find(c, id);
		if (p == NULL) {
			log_warnx("mcp client: dropped an invalid response: %s",
			    e->message);
			return;
		}
		tab_remove(c, p);
		snprintf(msg, sizeof(msg), "invalid response from the server: "
		    "%s", e->message);
		pending_fail(c, p, e->code, msg);
		return;
	}
	if (!rpc_err_answerable(e)) {
		log_warnx("mcp client: dropped an invalid message from the "
		    "server: %s", e->message);
		return;
	}
	text = rpc_build_error(e->id_raw, e->code, e->message, NULL, &len);
	client_send_internal(c, text, len);
}

static void
client_dispatch(struct mcp_client *c, const char *text, size_t len)
{
	struct rpc_msg m;
	struct rpc_err e;

	if (log_tracing(LOG_TRACE_MCP))
		log_trace(LOG_TRACE_MCP, "in", c->peer, text, len);
	memset(&m, 0, sizeof(m));
	memset(&e, 0, sizeof(e));
	/* Results reach callbacks as text or tree: build only when asked. */
	if (rpc_parse_flags(text, len, RPC_PARSE_RAW_RESULT, &m, &e) == -1) {
		client_on_invalid(c, &e);
		rpc_err_clear(&e);
		return;
	}
	switch (m.kind) {
	case RPC_RESPONSE:
	case RPC_ERROR_RESPONSE:
		client_on_response(c, &m);
		break;
	case RPC_REQUEST:
		client_on_request(c, &m);
		break;
	case RPC_NOTIFICATION:
		client_on_notification(c, &m);
		break;
	}
	rpc_msg_free(&m);
}

/*
 * A message from the server over max_msg was skipped.  When its first
 * bytes (the reader's head) show a top-level integer "id" and no
 * "method", it was the answer to that request: fail the request now,
 * saying why, rather than let it wait for its timeout.  Anything else is
 * only logged.
 */
static void
client_on_oversize(struct mcp_client *c)
{
	struct jscan_top top;
	struct pending *p = NULL;
	char raw[32], msg[300];
	int64_t id;

	(void)jscan_text(c->rd.head, c->rd.head_len, &top);
	if (c->rd.head_len > 0 && top.ids == 1 && !top.has_method &&
	    top.id != NULL && top.id_len < sizeof(raw)) {
		memcpy(raw, top.id, top.id_len);
		raw[top.id_len] = '\0';
		if (id_from_raw(raw, &id))
			p = tab_find(c, id);
	}
	if (p == NULL) {
		log_warnx("mcp client: dropped a bad message from the "
		    "server: %s", c->rd.err);
		return;
	}
	tab_remove(c, p);
	snprintf(msg, sizeof(msg), "the server's answer cannot be read: %s",
	    c->rd.err);
	pending_fail(c, p, c->rd.err_code, msg);
}

/* Hand every complete message to the dispatcher while the session lives. */
static void
client_drain_input(struct mcp_client *c)
{
	enum frame_status st;
	const char *msg;
	size_t len;
	char reason[256];

	while (c->state == CLIENT_OPEN) {
		st = frame_reader_next(&c->rd, &msg, &len);
		switch (st) {
		case FRAME_MORE:
			return;
		case FRAME_MSG:
			client_dispatch(c, msg, len);
			break;
		case FRAME_BAD:
			client_on_oversize(c);
			break;
		case FRAME_FATAL:
			snprintf(reason, sizeof(reason), "framing error from "
			    "the server: %s", c->rd.err);
			client_close_now(c, reason);
			return;
		}
	}
}

static void
client_read(struct mcp_client *c)
{
	char reason[256], *p;
	size_t avail;
	ssize_t n;

	if ((p = frame_reader_space(&c->rd, &avail)) == NULL) {
		snprintf(reason, sizeof(reason), "input from the server "
		    "cannot be buffered: %s", c->rd.err[0] ? c->rd.err :
		    strerror(errno));
		client_close_now(c, reason);
		return;
	}
	n = read(c->rfd, p, avail);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		snprintf(reason, sizeof(reason), "read from the server "
		    "failed: %s", strerror(errno));
		client_close_now(c, reason);
		return;
	}
	if (n == 0) {
		client_close_now(c, frame_reader_eof(&c->rd) ?
		    "the server closed the connection in the middle of a "
		    "message (EOF)" : "the server closed the connection (EOF)");
		return;
	}
	frame_reader_commit(&c->rd, (size_t)n);
	client_drain_input(c);
}

static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mcp_client *c = w->data;

	client_enter(c);
	client_read(c);
	client_leave(c);
}

/*
 * Before the loop blocks: write what was queued.  What the pipe does not
 * take, and any error, is left to the write watcher (the error then
 * closes the client there, as for a later write).
 */
static void
client_kick_cb(void *arg)
{
	struct mcp_client *c = arg;

	if (c->state == CLIENT_OPEN && frame_writer_pending(&c->wr) > 0 &&
	    frame_writer_flush(&c->wr, c->wfd) != 1)
		ev_io_start(c->loop, &c->wio);
}

static void
client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mcp_client *c = w->data;
	char reason[256];
	int r;

	client_enter(c);
	r = frame_writer_flush(&c->wr, c->wfd);
	if (r == 1)
		ev_io_stop(loop, w);
	else if (r == -1) {
		snprintf(reason, sizeof(reason), "write to the server failed: "
		    "%s", strerror(errno));
		client_close_now(c, reason);
	}
	client_leave(c);
}

static void
client_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pending *p = w->data;
	struct mcp_client *c = p->c;
	char reason[64], msg[200];

	client_enter(c);
	tab_remove(c, p);
	snprintf(reason, sizeof(reason), "timeout after %gs", p->timeout_s);
	/* MCP: the initialize request must not be cancelled. */
	if (p->id != c->init_id)
		client_send_cancelled(c, p->id, reason);
	snprintf(msg, sizeof(msg), "%.100s timed out after %gs", p->method,
	    p->timeout_s);
	pending_fail(c, p, RPC_REQUEST_TIMEOUT, msg);
	client_leave(c);
}

/* --- public ------------------------------------------------------------- */

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A dead server must show up as EPIPE, not kill the process. */
static void
ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigemptyset(&sa.sa_mask);
		(void)sigaction(SIGPIPE, &sa, NULL);
	}
}

/*
 * New open session on rfd/wfd (made non-blocking; may be the same fd).  The
 * session owns the fds from here on, also on failure (they are closed then).
 * opts and cb may be NULL (Content-Length, defaults, no callbacks); their
 * strings are copied.  Sets SIGPIPE to ignored if it was at its default.
 * Returns NULL on ENOMEM or a bad fd.
 */
struct mcp_client *
mcp_client_new(struct ev_loop *loop, int rfd, int wfd,
    const struct mcp_client_opts *opts, const struct mcp_client_cb *cb,
    void *arg)
{
	struct mcp_client_opts o = { .mode = FRAME_CL };
	struct mcp_client *c;

	if (opts != NULL)
		o = *opts;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    set_nonblock(rfd) == -1 || set_nonblock(wfd) == -1)
		goto fail;
	c->name = strdup(o.name != NULL ? o.name : "afu9");
	c->version = strdup(o.version != NULL ? o.version : AFU9_VERSION);
	c->peer = strdup(o.peer != NULL ? o.peer : "server");
	c->tabsize = CLIENT_TAB_MIN;
	c->tab = calloc(c->tabsize, sizeof(*c->tab));
	if (c->name == NULL || c->version == NULL || c->peer == NULL ||
	    c->tab == NULL)
		goto fail;
	ignore_sigpipe();
	c->loop = loop;
	c->rfd = rfd;
	c->wfd = wfd;
	c->arg = arg;
	if (cb != NULL)
		c->cb = *cb;
	c->next_id = 1;
	TAILQ_INIT(&c->pending);
	TAILQ_INIT(&c->done);
	frame_reader_init(&c->rd, o.mode,
	    o.max_msg ? o.max_msg : frame_max_msg_from_env());
	c->rd.keep_head = 1;
	frame_writer_init(&c->wr, o.mode,
	    o.max_out ? o.max_out : FRAME_DEFAULT_MAX_OUT);
	ev_io_init(&c->rio, client_read_cb, rfd, EV_READ);
	ev_io_init(&c->wio, client_write_cb, wfd, EV_WRITE);
	later_init(&c->kick, loop, client_kick_cb, c);
	later_init(&c->defer, loop, client_defer_cb, c);
	c->rio.data = c->wio.data = c;
	ev_io_start(loop, &c->rio);
	return c;
fail:
	if (c != NULL) {
		free(c->name);
		free(c->version);
		free(c->peer);
		free(c->tab);
		free(c);
	}
	close(rfd);
	if (wfd != rfd)
		close(wfd);
	return NULL;
}

static int
version_known(const char *v)
{
	size_t i;

	for (i = 0; v != NULL && i < sizeof(client_versions) /
	    sizeof(client_versions[0]); i++)
		if (strcmp(v, client_versions[i]) == 0)
			return 1;
	return 0;
}

/*
 * The initialize answer: accept a known revision (keep the result, send
 * notifications/initialized, pass it on), or fail `done` and the session.
 */
static void
client_init_reply(struct mcp_client *c, int64_t id, const json_t *result,
    const struct mcp_error *err, void *unused)
{
	mcp_reply_fn done = c->init_done;
	void *arg = c->init_arg;
	struct mcp_error e;
	const char *v;
	size_t len = 0;
	char msg[256], *text;

	c->init_done = NULL;
	c->init_arg = NULL;
	c->init_id = 0;
	if (err != NULL) {
		if (done != NULL)
			done(c, id, NULL, err, arg);
		return;
	}
	v = json_string_value(json_object_get(result, "protocolVersion"));
	if (!version_known(v)) {
		snprintf(msg, sizeof(msg), "the server answered protocol "
		    "revision \"%.40s\", which this client does not support "
		    "(supported: %s, %s, %s, %s)", v != NULL ? v : "(none)",
		    client_versions[0], client_versions[1],
		    client_versions[2], client_versions[3]);
		e.code = RPC_CONNECTION_CLOSED;
		e.message = msg;
		e.data = NULL;
		if (done != NULL)
			done(c, id, NULL, &e, arg);
		client_close_now(c, msg);
		return;
	}
	json_decref(c->server_info);
	c->server_info = json_incref((json_t *)result);
	text = rpc_build_notification("notifications/initialized", NULL, &len);
	client_send_internal(c, text, len);
	if (done != NULL)
		done(c, id, result, NULL, arg);
}

int
mcp_client_initialize(struct mcp_client *c, double timeout_s,
    mcp_reply_fn done, void *arg)
{
	json_t *params;
	int64_t id;

	/* One initialize per session: not while one runs, not after one
	   succeeded. */
	if (c->state != CLIENT_OPEN || c->init_id != 0 || c->server_info != NULL)
		return -1;
	params = json_pack("{s:s, s:{}, s:{s:s, s:s}}",
	    "protocolVersion", MCP_LATEST_VERSION,
	    "capabilities",
	    "clientInfo", "name", c->name, "version", c->version);
	if (params == NULL)
		return -1;
	id = mcp_client_request(c, "initialize", params, timeout_s,
	    client_init_reply, NULL, NULL);
	if (id < 0)
		return -1;
	c->init_id = id;
	c->init_done = done;
	c->init_arg = arg;
	return 0;
}

const json_t *
mcp_client_server_info(const struct mcp_client *c)
{
	return c->server_info;
}

/*
 * params._meta.progressToken = id, creating params/_meta as needed.
 * Returns params (maybe new), or NULL (params released) when it is not an
 * object or memory runs out.
 */
static json_t *
add_progress_token(json_t *params, int64_t id)
{
	json_t *meta;

	if (params == NULL && (params = json_object()) == NULL)
		return NULL;
	if (!json_is_object(params))
		goto fail;
	meta = json_object_get(params, "_meta");
	if (!json_is_object(meta)) {
		if ((meta = json_object()) == NULL ||
		    json_object_set_new(params, "_meta", meta) == -1)
			goto fail;
	}
	if (json_object_set_new(meta, "progressToken",
	    json_integer((json_int_t)id)) == -1)
		goto fail;
	return params;
fail:
	json_decref(params);
	return NULL;
}

/*
 * Queue request `text` (new, freed here; NULL on ENOMEM) as id c->next_id
 * and record it as pending.  Returns the id, or -1 (nothing queued).
 */
static int64_t
request_queue(struct mcp_client *c, const char *method, char *text,
    size_t len, double timeout_s, mcp_reply_fn fn, mcp_raw_reply_fn raw_fn,
    mcp_progress_fn progress, void *arg)
{
	struct pending *p = NULL;
	int64_t id = c->next_id;

	if (text == NULL || (p = calloc(1, sizeof(*p))) == NULL ||
	    (p->method = strdup(method)) == NULL) {
		free(text);
		free(p);
		return -1;
	}
	if (client_queue(c, text, len) == -1) {
		pending_free(p);
		return -1;
	}
	c->next_id++;
	p->id = id;
	p->c = c;
	p->fn = fn;
	p->raw_fn = raw_fn;
	p->progress = progress;
	p->arg = arg;
	p->timeout_s = timeout_s;
	ev_timer_init(&p->timer, client_timeout_cb, timeout_s, 0.);
	p->timer.data = p;
	tab_insert(c, p);
	if (timeout_s > 0) {
		/* The loop's clock may be stale if the caller ran long. */
		ev_now_update(c->loop);
		ev_timer_start(c->loop, &p->timer);
	}
	return id;
}

/*
 * See mcp_client.h.  Also -1 (params released) when params is not an
 * object.  The id is used up only when the request was queued.  The reply
 * callback runs from the loop or from a later close/free, never from here.
 */
int64_t
mcp_client_request(struct mcp_client *c, const char *method, json_t *params,
    double timeout_s, mcp_reply_fn fn, mcp_progress_fn progress, void *arg)
{
	int64_t id = c->next_id;
	size_t len = 0;
	char *id_raw, *text = NULL;

	if (c->state != CLIENT_OPEN || c->want_free || method == NULL ||
	    (params != NULL && !json_is_object(params))) {
		json_decref(params);
		return -1;
	}
	if (progress != NULL && (params = add_progress_token(params, id)) == NULL)
		return -1;
	if ((id_raw = rpc_id_from_int(id)) != NULL)
		text = rpc_build_request(id_raw, method, params, &len);
	free(id_raw);
	json_decref(params);
	return request_queue(c, method, text, len, timeout_s, fn, NULL,
	    progress, arg);
}

/*
 * The request text for params text `params` with the progressToken `id`
 * spliced in as a new last member "_meta".  NULL on ENOMEM, or when
 * params has (or may have) a "_meta" already: the caller merges then.
 */
static char *
request_text_progress(const char *id_raw, int64_t id, const char *method,
    const char *params, size_t plen, size_t *len)
{
	const char *v;
	size_t vlen, end = plen, open = 0, n;
	char meta[64], *buf, *text;

	if (rpc_raw_member(params, plen, "_meta", &v, &vlen) != 0)
		return NULL;
	while (end > 0 && params[end - 1] != '}')
		end--;
	while (open < plen && params[open] != '{')
		open++;
	if (end == 0 || open >= end)
		return NULL;
	for (n = open + 1; n < end - 1 && strchr(" \t\r\n", params[n]); n++)
		;
	snprintf(meta, sizeof(meta), "%s\"_meta\":{\"progressToken\":%lld}}",
	    n < end - 1 ? "," : "", (long long)id);
	if ((buf = malloc(end - 1 + strlen(meta))) == NULL)
		return NULL;
	memcpy(buf, params, end - 1);
	memcpy(buf + end - 1, meta, strlen(meta));
	text = rpc_build_request_text(id_raw, method, buf,
	    end - 1 + strlen(meta), len);
	free(buf);
	return text;
}

int64_t
mcp_client_request_raw(struct mcp_client *c, const char *method,
    const char *params, size_t plen, double timeout_s,
    mcp_raw_reply_fn fn, mcp_progress_fn progress, void *arg)
{
	int64_t id = c->next_id;
	json_t *tree = NULL;
	size_t len = 0, i = 0;
	char *id_raw, *text = NULL;

	if (c->state != CLIENT_OPEN || c->want_free || method == NULL)
		return -1;
	if (params != NULL) {
		while (i < plen && strchr(" \t\r\n", params[i]) && params[i])
			i++;
		if (i >= plen || params[i] != '{')
			return -1;
	}
	if ((id_raw = rpc_id_from_int(id)) == NULL)
		return -1;
	if (progress == NULL)
		text = params ? rpc_build_request_text(id_raw, method, params,
		    plen, &len) : rpc_build_request(id_raw, method, NULL, &len);
	else if (params == NULL || (text = request_text_progress(id_raw, id,
	    method, params, plen, &len)) == NULL) {
		/* The general way: merge into the parsed params' _meta. */
		if (params != NULL && (tree = json_loadb(params, plen, 0,
		    NULL)) == NULL) {
			free(id_raw);
			return -1;
		}
		if ((tree = add_progress_token(tree, id)) != NULL)
			text = rpc_build_request(id_raw, method, tree, &len);
		json_decref(tree);
	}
	free(id_raw);
	return request_queue(c, method, text, len, timeout_s, NULL, fn,
	    progress, arg);
}

int
mcp_client_notify(struct mcp_client *c, const char *method, json_t *params)
{
	size_t len = 0;
	char *text;

	if (c->state != CLIENT_OPEN || c->want_free || method == NULL) {
		json_decref(params);
		return -1;
	}
	text = rpc_build_notification(method, params, &len);
	json_decref(params);
	return client_queue(c, text, len);
}

/*
 * See mcp_client.h.  The initialize request is failed locally but not
 * cancelled on the wire (MCP forbids it).  The callback runs from the loop.
 */
int
mcp_client_cancel(struct mcp_client *c, int64_t id, const char *reason)
{
	struct pending *p;
	char msg[300];

	if (c->state != CLIENT_OPEN || (p = tab_find(c, id)) == NULL)
		return -1;
	if (reason == NULL || *reason == '\0')
		reason = "cancelled by the client";
	tab_remove(c, p);
	if (p->id != c->init_id)
		client_send_cancelled(c, id, reason);
	snprintf(msg, sizeof(msg), "%.100s cancelled: %.180s", p->method,
	    reason);
	pending_complete_later(c, p, MCP_ERR_CANCELLED, msg);
	return 0;
}

size_t
mcp_client_pending(const struct mcp_client *c)
{
	return c->npending;
}

int
mcp_client_is_open(const struct mcp_client *c)
{
	return c->state == CLIENT_OPEN && !c->want_free;
}

/*
 * Callbacks (failed requests, then `closed`) run before this returns; if
 * one of them frees the session, it is gone when this returns.
 */
void
mcp_client_close(struct mcp_client *c, const char *reason)
{
	if (c == NULL)
		return;
	client_enter(c);
	client_close_now(c, reason);
	client_leave(c);
}

void
mcp_client_free(struct mcp_client *c)
{
	if (c == NULL || c->want_free)
		return;
	c->want_free = 1;
	client_enter(c);
	client_close_now(c, "the session was freed");
	client_leave(c);
}
