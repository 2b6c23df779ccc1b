/*
 * tools_logs: searchLogs (FilterLogEvents) and queryLogs (Logs Insights).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observability/timeparse.h"
#include "observability/tools.h"

#define SEARCH_PAGE	100	/* events asked for per page */

/* ---- searchLogs ---- */

static void	search_page(struct obs_op *, const struct aws_result *);

/* One event, compact: ISO time, stream, message without its line end. */
static json_t *
search_event(struct obs_op *op, const json_t *ev)
{
	const char *m = obs_str(ev, "message");
	char *trim = NULL;
	size_t len;
	json_t *o, *text;

	if (m != NULL && (len = strlen(m)) > 0 && m[len - 1] == '\n') {
		while (len > 0 && (m[len - 1] == '\n' || m[len - 1] == '\r'))
			len--;
		if ((trim = strndup(m, len)) == NULL)
			return NULL;
		m = trim;
	}
	text = obs_text(op, m, OBS_MESSAGE_CAP, "messages");
	free(trim);
	o = json_pack("{s:o, s:o, s:o}", "timestamp",
	    obs_iso(obs_int(ev, "timestamp", 0)), "logStream",
	    obs_text(op, obs_str(ev, "logStreamName"), 512, "stream names"),
	    "message", text ? text : json_null());
	return o;
}

/* Ask for the next page; token NULL for the first. */
static void
search_send(struct obs_op *op, const char *token)
{
	const char *pattern = obs_str(op->args, "filterPattern");
	long want = op->max - (long)json_array_size(op->acc);
	json_t *p;

	p = json_pack("{s:s, s:I, s:I, s:i}", "logGroupName",
	    obs_str(op->args, "logGroupName"), "startTime",
	    (json_int_t)op->start_ms, "endTime", (json_int_t)op->end_ms,
	    "limit", (int)(want < SEARCH_PAGE ? want : SEARCH_PAGE));
	if (p == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	if (pattern != NULL && *pattern != '\0')
		json_object_set_new(p, "filterPattern", json_string(pattern));
	if (token != NULL)
		json_object_set_new(p, "nextToken", json_string(token));
	op->pages++;
	obs_send(op, AWS_SVC_LOGS, "FilterLogEvents", p, search_page);
}

static void
search_finish(struct obs_op *op, const char *token)
{
	json_t *out;

	out = json_pack("{s:s, s:o, s:o, s:O, s:I, s:o, s:b}",
	    "logGroupName", obs_str(op->args, "logGroupName"),
	    "startTime", obs_iso(op->start_ms), "endTime",
	    obs_iso(op->end_ms), "events", op->acc, "count",
	    (json_int_t)json_array_size(op->acc), "nextToken",
	    token ? json_string(token) : json_null(), "hasMore", token != NULL);
	if (out == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	obs_return(op, out);
}

static void
search_page(struct obs_op *op, const struct aws_result *res)
{
	const json_t *evs = json_object_get(res->body, "events"), *ev;
	const char *token = obs_str(res->body, "nextToken");
	json_t *e;
	size_t i;

	json_array_foreach(evs, i, ev) {
		if ((long)json_array_size(op->acc) >= op->max)
			break;
		if ((e = search_event(op, ev)) == NULL) {
			obs_error(op, "out of memory");
			return;
		}
		json_array_append_new(op->acc, e);
	}
	if (token != NULL && *token == '\0')
		token = NULL;
	if (token == NULL || (long)json_array_size(op->acc) >= op->max) {
		search_finish(op, token);
		return;
	}
	if (op->bytes >= OBS_RESULT_BYTES) {
		obs_note(op, "stopped at %zu events: the result reached %u "
		    "KiB; pass nextToken to continue", json_array_size(op->acc),
		    OBS_RESULT_BYTES / 1024);
		search_finish(op, token);
		return;
	}
	if (op->pages >= OBS_SEARCH_MAX_PAGES) {
		obs_note(op, "stopped after %d pages; pass nextToken to "
		    "continue the search", OBS_SEARCH_MAX_PAGES);
		search_finish(op, token);
		return;
	}
	search_send(op, token);
}

void
tool_search_logs(struct mcp_call *call, const json_t *args, void *udata)
{
	struct obs_op *op;

	if ((op = obs_op_new(call, args, udata)) == NULL)
		return;
	if (obs_window(op, "startTime", "endTime") == -1)
		return;
	op->max = (long)obs_int(args, "limit", OBS_SEARCH_DEFAULT);
	if ((op->acc = json_array()) == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	search_send(op, obs_str(args, "nextToken"));
}

/* ---- queryLogs ---- */

static void	query_poll(struct obs_op *, const struct aws_result *);

/* One result row as an object, @ptr left out.  NULL on ENOMEM. */
static json_t *
query_row(struct obs_op *op, const json_t *row)
{
	const json_t *cell;
	const char *f;
	json_t *o = json_object(), *v;
	size_t i;

	if (o == NULL)
		return NULL;
	json_array_foreach(row, i, cell) {
		if ((f = obs_str(cell, "field")) == NULL ||
		    strcmp(f, "@ptr") == 0)
			continue;
		if ((v = obs_text(op, obs_str(cell, "value"), OBS_MESSAGE_CAP,
		    "values")) == NULL || json_object_set_new(o, f, v) == -1) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *
query_stats(const json_t *body)
{
	const json_t *s = json_object_get(body, "statistics");

	return json_pack("{s:I, s:I, s:I}",
	    "recordsMatched", (json_int_t)obs_int(s, "recordsMatched", 0),
	    "recordsScanned", (json_int_t)obs_int(s, "recordsScanned", 0),
	    "bytesScanned", (json_int_t)obs_int(s, "bytesScanned", 0));
}

static void
query_complete(struct obs_op *op, const json_t *body)
{
	const json_t *rows = json_object_get(body, "results"), *row;
	json_t *out, *acc = json_array(), *r;
	size_t i;

	op->query_done = 1;
	if (acc == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	json_array_foreach(rows, i, row) {
		if ((long)i >= op->max)
			break;
		if (op->bytes >= OBS_RESULT_BYTES) {
			obs_note(op, "only the first %zu of %zu rows are shown: "
			    "the result reached %u KiB", i,
			    json_array_size(rows), OBS_RESULT_BYTES / 1024);
			break;
		}
		if ((r = query_row(op, row)) == NULL) {
			json_decref(acc);
			obs_error(op, "out of memory");
			return;
		}
		json_array_append_new(acc, r);
	}
	out = json_pack("{s:s, s:s, s:o, s:o, s:I, s:o, s:o}", "queryId",
	    op->query_id, "status", "Complete", "startTime",
	    obs_iso(op->start_ms), "endTime", obs_iso(op->end_ms), "count",
	    (json_int_t)json_array_size(acc), "results", acc, "statistics",
	    query_stats(body));
	if (out == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	obs_return(op, out);
}

/* What a model can do about a query that ended without results. */
static const char *
query_advice(const char *status)
{
	if (strcmp(status, "Timeout") == 0)
		return "it ran past the Logs Insights time limit; narrow the "
		    "time range or the log groups";
	if (strcmp(status, "Cancelled") == 0)
		return "it was stopped before it completed";
	if (strcmp(status, "Failed") == 0)
		return "check the query syntax and the log group names";
	return "its state is unknown to Logs Insights; run it again";
}

static void
query_stopped(struct obs_op *op, const struct aws_result *res)
{
	op->query_done = 1;
	if (res->err != AWS_OK)
		obs_error(op, "Logs Insights query %s did not complete within "
		    "%ld ms (last status %s); stopping it failed: %s",
		    op->query_id, op->obs->cfg.query_wait_ms,
		    json_string_value(op->out), res->message);
	else
		obs_error(op, "Logs Insights query %s did not complete within "
		    "%ld ms (last status %s); it was stopped.  Narrow the time "
		    "range or the log groups, or add a limit", op->query_id,
		    op->obs->cfg.query_wait_ms, json_string_value(op->out));
}

static void
query_again(struct obs_op *op, const struct aws_result *res)
{
	(void)res;
	obs_send(op, AWS_SVC_LOGS, "GetQueryResults", json_pack("{s:s}",
	    "queryId", op->query_id), query_poll);
}

static void
query_poll(struct obs_op *op, const struct aws_result *res)
{
	const char *st = obs_str(res->body, "status");
	const json_t *s = json_object_get(res->body, "statistics");
	char msg[256];

	if (st == NULL) {
		obs_error(op, "Logs Insights answered GetQueryResults for query "
		    "%s without a status (request id %s)", op->query_id,
		    res->request_id ? res->request_id : "none");
		return;
	}
	if (strcmp(st, "Complete") == 0) {
		query_complete(op, res->body);
		return;
	}
	if (strcmp(st, "Scheduled") != 0 && strcmp(st, "Running") != 0) {
		op->query_done = 1;
		obs_error(op, "Logs Insights query %s ended with status %.32s: "
		    "%s", op->query_id, st, query_advice(st));
		return;
	}
	op->polls++;
	snprintf(msg, sizeof(msg), "query %s: %s, %lld records matched, %lld "
	    "scanned", op->query_id, st, obs_int(s, "recordsMatched", 0),
	    obs_int(s, "recordsScanned", 0));
	mcp_call_progress(op->call, (double)op->polls, -1, msg);
	json_decref(op->out);
	op->out = json_string(st);
	if (ev_now(op->obs->loop) >= op->deadline) {
		op->errors_too = 1;
		obs_send(op, AWS_SVC_LOGS, "StopQuery", json_pack("{s:s}",
		    "queryId", op->query_id), query_stopped);
		return;
	}
	obs_after(op, op->obs->cfg.poll_ms, query_again);
}

static void
query_started(struct obs_op *op, const struct aws_result *res)
{
	const char *id = obs_str(res->body, "queryId");

	if (id == NULL || *id == '\0' || strlen(id) > 256) {
		obs_error(op, "Logs Insights answered StartQuery without a "
		    "query id (request id %s)",
		    res->request_id ? res->request_id : "none");
		return;
	}
	if ((op->query_id = strdup(id)) == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	mcp_call_progress(op->call, 0, -1, "query started");
	query_again(op, NULL);
}

void
tool_query_logs(struct mcp_call *call, const json_t *args, void *udata)
{
	struct obs_op *op;
	json_t *p;

	if ((op = obs_op_new(call, args, udata)) == NULL)
		return;
	if (obs_window(op, "startTime", "endTime") == -1)
		return;
	op->max = (long)obs_int(args, "limit", OBS_QUERY_DEFAULT);
	op->deadline = ev_now(op->obs->loop) +
	    (double)op->obs->cfg.query_wait_ms / 1000.0;
	/* Insights takes seconds: the window rounded outwards */
	p = json_pack("{s:O, s:s, s:I, s:I, s:i}", "logGroupNames",
	    json_object_get(args, "logGroupNames"), "queryString",
	    obs_str(args, "query"), "startTime",
	    (json_int_t)(op->start_ms / 1000), "endTime",
	    (json_int_t)((op->end_ms + 999) / 1000), "limit", (int)op->max);
	if (p == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	obs_send(op, AWS_SVC_LOGS, "StartQuery", p, query_started);
}
