/*
 * mcp_stdio: the MCP server on a pair of fds (see mcp_server.h): framing,
 * non-blocking I/O, back-pressure, signals and the shutdown grace around
 * one mcp_session, which does everything MCP.
 *
 * Connection states, derived from flags rather than one enum because they
 * combine:
 *   reading   input watcher on; messages are dispatched as they complete.
 *   paused    queued output reached the high-water mark (max_out / 2):
 *             neither read(2) nor dispatch until the writer drains below
 *             it.  A peer that does not read us is not read either, so
 *             memory stays bounded by max_msg + max_out.
 *   stopping  EOF, SIGTERM/SIGINT, mcp_server_shutdown() or a fatal framing
 *             error: input is closed, calls in flight get `shutdown_grace`
 *             seconds, then are cancelled; the loop ends once no call is
 *             active and the output is flushed.
 *   out_dead  write(2) failed (EPIPE: nobody is listening): every call is
 *             cancelled and the loop ends at once with status 1.
 *
 * Exit statuses from mcp_server_run(): 0 after EOF or a signal; 1 after an
 * output error, or after a fatal framing error (a Content-Length stream
 * that cannot be resynchronised: the peer got a -32700 error with id null,
 * in-flight calls were still answered, and the session ended).
 *
 * The session reaches the transport only through stdio_send() and
 * stdio_idle(); both may run deep inside a tool's completion, so neither
 * handles an I/O error on the spot (see srv_flush()).  The server is freed
 * only by mcp_server_free(), which must not be called from a callback.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mcp_server.h"
#include "rpc.h"

struct mcp_server {
	struct ev_loop		*loop;
	struct mcp_server_opts	 opts;
	struct mcp_session	*ses;
	int			 in_fd, out_fd;
	struct frame_reader	 rd;
	struct frame_writer	 wr;
	size_t			 hwm;
	ev_io			 rio, wio;
	ev_signal		 sigterm, sigint;
	ev_timer		 grace;

	int			 in_pump;	/* dispatching: write at the end */
	int			 paused;
	int			 in_eof;
	int			 stopping;
	int			 out_dead;
	int			 freeing;
	int			 done;
	int			 status;
};

static void srv_pump(struct mcp_server *);

/* ---- I/O ---- */

/*
 * Write queued output now, unless the write watcher already waits for the
 * descriptor.  Returns what frame_writer_flush() returns, or 1 when there
 * is nothing to do here.  An error is not handled here (this may run deep
 * inside a tool completion): the output stays queued, so the write watcher
 * is armed and meets the error again at a safe point, srv_write_cb().
 */
static int
srv_flush(struct mcp_server *srv)
{
	if (srv->out_dead || srv->freeing || ev_is_active(&srv->wio) ||
	    frame_writer_pending(&srv->wr) == 0)
		return 1;
	return frame_writer_flush(&srv->wr, srv->out_fd);
}

/*
 * Watcher interest follows state: read when there is room, write only
 * when output is still pending after a direct write (the pipe is full).
 * A request and its answer so cost one read(2) and one write(2), with no
 * epoll_ctl(2) in between.
 */
static void
srv_update_io(struct mcp_server *srv)
{
	int want_read, want_write;

	if (srv->freeing)
		return;
	srv_flush(srv);
	want_read = !srv->stopping && !srv->in_eof && !srv->paused &&
	    !srv->out_dead;
	want_write = !srv->out_dead && frame_writer_pending(&srv->wr) > 0;
	if (want_read && !ev_is_active(&srv->rio))
		ev_io_start(srv->loop, &srv->rio);
	else if (!want_read && ev_is_active(&srv->rio))
		ev_io_stop(srv->loop, &srv->rio);
	if (want_write && !ev_is_active(&srv->wio))
		ev_io_start(srv->loop, &srv->wio);
	else if (!want_write && ev_is_active(&srv->wio))
		ev_io_stop(srv->loop, &srv->wio);
}

/* End the loop once stopping, no call is active and the output is out. */
static void
srv_check_done(struct mcp_server *srv)
{
	if (srv->done || !srv->stopping || mcp_session_active(srv->ses) > 0)
		return;
	if (!srv->out_dead && frame_writer_pending(&srv->wr) > 0)
		return;
	srv->done = 1;
	ev_timer_stop(srv->loop, &srv->grace);
	ev_break(srv->loop, EVBREAK_ONE);
}

/*
 * The session's send(): queue one framed message and, outside srv_pump()
 * (which writes once per batch of input), write it out.  Notifications
 * are refused while output is above the high-water mark (they are
 * advisory); responses are queued up to max_out.  0, or -1 with errno as
 * struct mcp_session_io says.
 */
static int
stdio_send(void *arg, const char *text, size_t len, int response)
{
	struct mcp_server *srv = arg;

	if (srv->out_dead || srv->freeing) {
		errno = EPIPE;
		return -1;
	}
	if (!response && frame_writer_pending(&srv->wr) >= srv->hwm) {
		log_debug("notification dropped: %zu bytes of output queued",
		    frame_writer_pending(&srv->wr));
		errno = ENOBUFS;
		return -1;
	}
	if (frame_write(&srv->wr, text, len) == -1) {
		errno = len > srv->wr.out.max ? EMSGSIZE : ENOBUFS;
		return -1;
	}
	if (log_tracing(LOG_TRACE_MCP))
		log_trace(LOG_TRACE_MCP, "out", "client", text, len);
	if (!srv->in_pump)
		srv_update_io(srv);
	return 0;
}

/* The session's idle(): the last active call ended. */
static void
stdio_idle(void *arg)
{
	srv_check_done(arg);
}

/* ---- lifecycle ---- */

static void
srv_begin_stop(struct mcp_server *srv, int status)
{
	if (status > srv->status)
		srv->status = status;
	if (srv->stopping)
		return;
	srv->stopping = 1;
	srv_update_io(srv);
	if (mcp_session_active(srv->ses) > 0 && !srv->done) {
		ev_timer_set(&srv->grace, srv->opts.shutdown_grace, 0.);
		ev_timer_start(srv->loop, &srv->grace);
	}
	srv_check_done(srv);
}

static void
srv_output_failed(struct mcp_server *srv, int err)
{
	if (err == EPIPE || err == ECONNRESET)
		log_debug("peer closed our output");
	else
		log_warnx("write: %s", strerror(err));
	srv->out_dead = 1;
	srv->status = 1;
	srv->stopping = 1;
	srv_update_io(srv);
	mcp_session_cancel_all(srv->ses);
	srv_check_done(srv);
}

static void
srv_grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mcp_server *srv = w->data;

	if (mcp_session_active(srv->ses) > 0)
		log_warnx("shutdown: cancelling %zu call(s) still running",
		    mcp_session_active(srv->ses));
	mcp_session_cancel_all(srv->ses);
	srv_check_done(srv);
}

static void
srv_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct mcp_server *srv = w->data;

	if (srv->stopping) {
		/* A second signal: no more grace. */
		mcp_session_cancel_all(srv->ses);
		srv_check_done(srv);
		return;
	}
	log_info("signal %d: stopping", w->signum);
	srv_begin_stop(srv, 0);
}

static void
srv_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mcp_server *srv = w->data;

	if (frame_writer_flush(&srv->wr, srv->out_fd) == -1) {
		srv_output_failed(srv, errno);
		return;
	}
	if (srv->paused && frame_writer_pending(&srv->wr) < srv->hwm)
		srv_pump(srv);
	else
		srv_update_io(srv);
	srv_check_done(srv);
}

/* A framing error: the peer gets it with id null. */
static void
srv_frame_error(struct mcp_server *srv)
{
	mcp_session_error(srv->ses, srv->rd.err_code ? srv->rd.err_code :
	    RPC_PARSE_ERROR, srv->rd.err);
}

static void
srv_input_eof(struct mcp_server *srv)
{
	srv->in_eof = 1;
	/* The peer may still read: tell it its last message was cut. */
	if (frame_reader_eof(&srv->rd)) {
		log_warnx("input ended inside a message: %s", srv->rd.err);
		srv_frame_error(srv);
	}
	srv_begin_stop(srv, 0);
}

static void
srv_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mcp_server *srv = w->data;
	size_t avail;
	ssize_t n;
	char *p;

	if ((p = frame_reader_space(&srv->rd, &avail)) == NULL) {
		srv_pump(srv);
		if (!srv->stopping) {
			log_warnx("input buffer exhausted");
			srv_begin_stop(srv, 1);
		}
		return;
	}
	n = read(srv->in_fd, p, avail);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno != ECONNRESET)
			log_warn("read");
		n = 0;
	}
	if (n == 0) {
		srv_input_eof(srv);
		return;
	}
	frame_reader_commit(&srv->rd, (size_t)n);
	srv_pump(srv);
}

/*
 * Dispatch every complete message buffered, unless output reaches the
 * high-water mark and cannot be written out (then pause until the writer
 * drains).  The answers to a batch of input go out in one write(2).
 */
static void
srv_pump(struct mcp_server *srv)
{
	enum frame_status st;
	const char *msg;
	size_t len;

	srv->paused = 0;
	srv->in_pump++;
	while (!srv->stopping) {
		if (frame_writer_pending(&srv->wr) >= srv->hwm)
			srv_flush(srv);
		if (frame_writer_pending(&srv->wr) >= srv->hwm) {
			srv->paused = 1;
			break;
		}
		st = frame_reader_next(&srv->rd, &msg, &len);
		if (srv->wr.mode == FRAME_AUTO && srv->rd.mode != FRAME_AUTO)
			srv->wr.mode = srv->rd.mode;
		if (st == FRAME_MORE)
			break;
		if (st == FRAME_MSG) {
			if (log_tracing(LOG_TRACE_MCP))
				log_trace(LOG_TRACE_MCP, "in", "client", msg,
				    len);
			mcp_session_input(srv->ses, msg, len);
			continue;
		}
		srv_frame_error(srv);
		if (st == FRAME_FATAL) {
			log_warnx("input framing: %s; closing", srv->rd.err);
			srv_begin_stop(srv, 1);
		}
	}
	srv->in_pump--;
	srv_update_io(srv);
	srv_check_done(srv);
}

/* ---- public ---- */

struct mcp_server *
mcp_server_new(struct ev_loop *loop, const struct mcp_server_opts *opts,
    int in_fd, int out_fd)
{
	struct mcp_session_opts so = {
		.name = opts->name, .title = opts->title,
		.version = opts->version, .instructions = opts->instructions,
		.page_size = opts->page_size,
	};
	struct mcp_session_io io = { stdio_send, stdio_idle, NULL };
	struct mcp_server *srv;
	int fl;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return NULL;
	io.arg = srv;
	if ((srv->ses = mcp_session_new(&so, &io)) == NULL) {
		free(srv);
		return NULL;
	}
	srv->loop = loop;
	srv->opts = *opts;
	if (srv->opts.max_msg == 0)
		srv->opts.max_msg = frame_max_msg_from_env();
	if (srv->opts.max_out == 0)
		srv->opts.max_out = FRAME_DEFAULT_MAX_OUT;
	if (srv->opts.shutdown_grace == 0)
		srv->opts.shutdown_grace = 10.;
	else if (srv->opts.shutdown_grace < 0)
		srv->opts.shutdown_grace = 0.;
	srv->hwm = srv->opts.max_out / 2 ? srv->opts.max_out / 2 : 1;
	srv->in_fd = in_fd;
	srv->out_fd = out_fd;
	frame_reader_init(&srv->rd, srv->opts.mode, srv->opts.max_msg);
	frame_writer_init(&srv->wr, srv->opts.mode, srv->opts.max_out);
	if ((fl = fcntl(in_fd, F_GETFL)) != -1)
		fcntl(in_fd, F_SETFL, fl | O_NONBLOCK);
	if ((fl = fcntl(out_fd, F_GETFL)) != -1)
		fcntl(out_fd, F_SETFL, fl | O_NONBLOCK);
	ev_io_init(&srv->rio, srv_read_cb, in_fd, EV_READ);
	ev_io_init(&srv->wio, srv_write_cb, out_fd, EV_WRITE);
	ev_signal_init(&srv->sigterm, srv_signal_cb, SIGTERM);
	ev_signal_init(&srv->sigint, srv_signal_cb, SIGINT);
	ev_timer_init(&srv->grace, srv_grace_cb, 0., 0.);
	srv->rio.data = srv->wio.data = srv;
	srv->sigterm.data = srv->sigint.data = srv->grace.data = srv;
	srv_update_io(srv);
	return srv;
}

int
mcp_server_run(struct mcp_server *srv)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	ev_signal_start(srv->loop, &srv->sigterm);
	ev_signal_start(srv->loop, &srv->sigint);
	srv_update_io(srv);
	if (!srv->done)
		ev_run(srv->loop, 0);
	ev_signal_stop(srv->loop, &srv->sigterm);
	ev_signal_stop(srv->loop, &srv->sigint);
	ev_io_stop(srv->loop, &srv->rio);
	ev_io_stop(srv->loop, &srv->wio);
	ev_timer_stop(srv->loop, &srv->grace);
	return srv->status;
}

void
mcp_server_shutdown(struct mcp_server *srv)
{
	srv_begin_stop(srv, 0);
}

void
mcp_server_free(struct mcp_server *srv)
{
	if (srv == NULL)
		return;
	ev_io_stop(srv->loop, &srv->rio);
	ev_io_stop(srv->loop, &srv->wio);
	ev_timer_stop(srv->loop, &srv->grace);
	ev_signal_stop(srv->loop, &srv->sigterm);
	ev_signal_stop(srv->loop, &srv->sigint);
	srv->freeing = 1;
	srv->stopping = 1;
	srv->done = 1;
	mcp_session_free(srv->ses);
	frame_reader_free(&srv->rd);
	frame_writer_free(&srv->wr);
	free(srv);
}

struct ev_loop *
mcp_server_loop(struct mcp_server *srv)
{
	return srv->loop;
}

struct mcp_session *
mcp_server_session(struct mcp_server *srv)
{
	return srv->ses;
}

/* Every server's session has the server as its io arg. */
struct mcp_server *
mcp_call_server(struct mcp_call *c)
{
	return mcp_session_arg(mcp_call_session(c));
}

/* ---- the session's registry and notifications, by server ---- */

int
mcp_server_add_tool(struct mcp_server *srv, const struct mcp_tool *tool,
    void *udata, char *err, size_t errlen)
{
	return mcp_session_add_tool(srv->ses, tool, udata, err, errlen);
}

int
mcp_server_add_tool_json(struct mcp_server *srv, const json_t *listing,
    mcp_tool_fn fn, void *udata, char *err, size_t errlen)
{
	return mcp_session_add_tool_json(srv->ses, listing, fn, udata, err,
	    errlen);
}

int
mcp_server_add_tool_raw(struct mcp_server *srv, const json_t *listing,
    mcp_tool_fn fn, void *udata, char *err, size_t errlen)
{
	return mcp_session_add_tool_raw(srv->ses, listing, fn, udata, err,
	    errlen);
}

int
mcp_server_remove_tool(struct mcp_server *srv, const char *name)
{
	return mcp_session_remove_tool(srv->ses, name);
}

int
mcp_server_log(struct mcp_server *srv, const char *level, const char *logger,
    json_t *data)
{
	return mcp_session_log(srv->ses, level, logger, data);
}

void
mcp_server_tools_changed(struct mcp_server *srv)
{
	mcp_session_tools_changed(srv->ses);
}
