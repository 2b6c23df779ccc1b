/*
 * tools: the op machinery shared by every afu9-observability tool and
 * the compact result helpers.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/srvmain.h"
#include "common/text.h"
#include "log.h"
#include "observability/timeparse.h"
#include "observability/tools.h"

#define NOTES_MAX	32	/* distinct notes kept */

/* ---- the op ---- */

static void
op_free(void *arg)
{
	struct obs_op *op = arg;

	if (op->req != NULL)
		aws_call_cancel(op->req);
	ev_timer_stop(op->obs->loop, &op->timer);
	json_decref(op->acc);
	json_decref(op->out);
	json_decref(op->notes);
	free(op->query_id);
	free(op);
}

/* The peer cancelled: a running Insights query is stopped too, since
   nobody will read it and it costs by the byte scanned. */
static void
op_cancel(struct mcp_call *call, void *arg)
{
	struct obs_op *op = arg;

	(void)call;
	if (op->query_id != NULL && !op->query_done)
		obs_stop_query_detached(op->obs, op->query_id);
	op_free(op);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct obs_op *op = t->data;
	obs_step fn = op->next;

	(void)loop;
	(void)revents;
	op->next = NULL;
	fn(op, NULL);
}

struct obs_op *
obs_op_new(struct mcp_call *call, const json_t *args, void *udata)
{
	struct obs_op *op;
	json_t *notes;

	if ((op = srv_op_alloc(call, sizeof(*op), &notes)) == NULL)
		return NULL;
	op->notes = notes;
	op->call = call;
	op->obs = udata;
	op->args = args;
	ev_timer_init(&op->timer, timer_cb, 0., 0.);
	op->timer.data = op;
	mcp_call_on_cancel(call, op_cancel, op);
	if (op->obs->config_err[0] != '\0') {
		obs_error(op, "%s", op->obs->config_err);
		return NULL;
	}
	return op;
}

static void
op_aws_done(const struct aws_result *res, void *arg)
{
	struct obs_op *op = arg;
	obs_step fn = op->next;

	op->req = NULL;
	op->next = NULL;
	if (res->err != AWS_OK && !op->errors_too) {
		obs_error(op, "%s", res->message);
		return;
	}
	op->errors_too = 0;
	fn(op, res);
}

void
obs_send(struct obs_op *op, enum aws_service svc, const char *operation,
    json_t *params, obs_step next)
{
	op->next = next;
	op->req = aws_call(op->obs->aws, svc, operation, params, op_aws_done,
	    op);
	json_decref(params);
	if (op->req == NULL)
		obs_error(op, "could not start %s %s: the request is too large "
		    "or memory ran out", aws_service_title(svc), operation);
}

void
obs_after(struct obs_op *op, long ms, obs_step next)
{
	op->next = next;
	ev_timer_set(&op->timer, (double)ms / 1000.0, 0.);
	ev_timer_start(op->obs->loop, &op->timer);
}

void
obs_return(struct obs_op *op, json_t *structured)
{
	srv_call_return(op->call, structured, op->notes, op_free, op);
}

void
obs_error(struct obs_op *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	srv_call_verror(op->call, op_free, op, fmt, ap);
	va_end(ap);
}

void
obs_note(struct obs_op *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	srv_vnote(op->notes, NOTES_MAX, fmt, ap);
	va_end(ap);
}

/* ---- helpers ---- */

static void
stop_done(const struct aws_result *res, void *arg)
{
	(void)arg;
	if (res->err == AWS_OK)
		log_debug("StopQuery: the cancelled query was stopped");
	else
		log_info("StopQuery after a cancel: %s", res->message);
}

void
obs_stop_query_detached(struct obs *obs, const char *query_id)
{
	json_t *p = json_pack("{s:s}", "queryId", query_id);

	if (p == NULL || aws_call(obs->aws, AWS_SVC_LOGS, "StopQuery", p,
	    stop_done, NULL) == NULL)
		log_warnx("could not send StopQuery for %s", query_id);
	json_decref(p);
}

int64_t
obs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One optional time argument; 0, 1 absent, or -1 (op ended). */
static int
time_arg(struct obs_op *op, const char *key, int64_t now, int64_t *out)
{
	const json_t *v = json_object_get(op->args, key);
	char err[512];

	if (v == NULL || json_is_null(v))
		return 1;
	if (obs_time_json(v, now, out, err, sizeof(err)) == -1) {
		obs_error(op, "%s: %s", key, err);
		return -1;
	}
	return 0;
}

int
obs_window(struct obs_op *op, const char *start_key, const char *end_key)
{
	int64_t now = obs_now_ms();
	char a[OBS_TIME_ISO_LEN], b[OBS_TIME_ISO_LEN];
	int rs, re;

	if ((re = time_arg(op, end_key, now, &op->end_ms)) == -1 ||
	    (rs = time_arg(op, start_key, now, &op->start_ms)) == -1)
		return -1;
	if (re == 1)
		op->end_ms = now;
	if (rs == 1)
		op->start_ms = op->end_ms - OBS_DEFAULT_WINDOW_MS;
	if (op->start_ms < 0)
		op->start_ms = 0;
	if (op->start_ms > op->end_ms) {
		obs_error(op, "%s (%s) is after %s (%s)", start_key,
		    obs_time_format(op->start_ms, a, sizeof(a)), end_key,
		    obs_time_format(op->end_ms, b, sizeof(b)));
		return -1;
	}
	return 0;
}

json_t *
obs_iso(int64_t ms)
{
	char buf[OBS_TIME_ISO_LEN];

	return json_string(obs_time_format(ms, buf, sizeof(buf)));
}

json_t *
obs_text(struct obs_op *op, const char *s, size_t cap, const char *what)
{
	struct ghtext t;
	json_t *j;

	if (s == NULL)
		return json_null();
	if (ghtext_clean(s, strlen(s), cap, GHTEXT_STRIP, &t) == -1)
		return NULL;
	if (t.cut > 0)
		obs_note(op, "%s longer than %zu bytes were cut there", what,
		    cap);
	if (t.invisible > 0)
		obs_note(op, "invisible Unicode characters were removed from "
		    "%s", what);
	op->bytes += t.len;
	j = json_stringn(t.s, t.len);
	free(t.s);
	return j;
}

const char *
obs_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

long long
obs_int(const json_t *o, const char *key, long long dflt)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return dflt;
}
