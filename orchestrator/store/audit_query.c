/*
 * audit_query: the mcp_tool_calls rows `afu9 audit` shows (see
 * store.h): one blocking query on a connection of its own, never on the
 * loop, and the one-line-per-row text form.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "redact.h"
#include "store/migrate.h"
#include "store/store.h"

static const char query_sql[] =
    "SELECT json_build_object('id', id, 'server', server, 'tool', tool, "
    "'rpc_id', rpc_id, 'caller', caller, 'arguments', arguments, "
    "'status', status, 'result_summary', result_summary, "
    "'is_error', is_error, 'error_code', error_code, "
    "'error_message', error_message, 'started_at', "
    "to_char(started_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'duration_ms', duration_ms, "
    "'execution_id', execution_id, 'step_id', step_id, "
    "'agent_run_id', agent_run_id)::text "
    "FROM mcp_tool_calls "
    "WHERE ($1::text IS NULL OR server = $1) "
    "AND ($5::uuid IS NULL OR execution_id = $5::uuid) "
    "AND ($2::timestamptz IS NULL OR started_at >= $2) "
    "AND ($3::double precision IS NULL OR "
    "started_at >= now() - make_interval(secs => $3)) "
    "ORDER BY started_at DESC, id LIMIT $4::integer";

/*
 * A relative age "90s", "15m", "2h", "7d" in seconds, or -1 when since is
 * not one (then it is a timestamp for PostgreSQL to parse).
 */
static double
since_age(const char *since)
{
	size_t n = strspn(since, "0123456789");
	double v;

	if (n == 0 || n > 9 || since[n] == '\0' || since[n + 1] != '\0')
		return -1;
	v = strtod(since, NULL);
	switch (since[n]) {
	case 's':
		return v;
	case 'm':
		return v * 60;
	case 'h':
		return v * 3600;
	case 'd':
		return v * 86400;
	}
	return -1;
}

/* The rows of a successful query as a JSON array; NULL with err. */
static json_t *
query_rows(PGresult *res, char *err, size_t errlen)
{
	json_t *rows = json_array(), *row;
	json_error_t je = { .text = "out of memory" };
	int i;

	for (i = 0; rows && i < PQntuples(res); i++) {
		row = json_loads(PQgetvalue(res, i, 0), 0, &je);
		if (row == NULL || json_array_append_new(rows, row) == -1) {
			errfmt(err, errlen, "audit query: bad row: %s",
			    je.text);
			json_decref(rows);
			return NULL;
		}
	}
	if (rows == NULL)
		errfmt(err, errlen, "out of memory");
	return rows;
}

int
store_audit_query(const char *conninfo, const struct audit_query *q,
    json_t **out, char *err, size_t errlen)
{
	const char *params[5] = { NULL, NULL, NULL, NULL, NULL };
	char age[32], lim[16], *m;
	unsigned limit = q && q->limit ? q->limit : 100;
	PGconn *c;
	PGresult *res;
	double a;

	*out = NULL;
	if (limit > STORE_QUERY_MAX)
		limit = STORE_QUERY_MAX;
	if (q && q->server)
		params[0] = q->server;
	if (q && q->since && (a = since_age(q->since)) >= 0) {
		snprintf(age, sizeof(age), "%.0f", a);
		params[2] = age;
	} else if (q && q->since)
		params[1] = q->since;
	snprintf(lim, sizeof(lim), "%u", limit);
	params[3] = lim;
	if (q && q->execution) {
		if (!store_uuid_ok(q->execution)) {
			errfmt(err, errlen, "not an execution id (a UUID): "
			    "\"%.64s\"", q->execution);
			return -1;
		}
		params[4] = q->execution;
	}
	if (mig_connect(conninfo, &c, err, errlen) == -1)
		return -1;
	res = PQexecParams(c, query_sql, 5, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*out = query_rows(res, err, errlen);
	else {
		m = redact_str(PQresultErrorMessage(res));
		if (m)
			m[strcspn(m, "\n")] = '\0';
		errfmt(err, errlen, "audit query: %s", m ? m : "out of memory");
		free(m);
	}
	PQclear(res);
	PQfinish(c);
	return *out ? 0 : -1;
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

int
store_audit_print(FILE *fp, const json_t *rows)
{
	const json_t *r;
	size_t i;

	json_array_foreach(rows, i, r) {
		if (fprintf(fp, "%s  %s.%s  %s%s  %lld ms  %s\n",
		    jstr(r, "started_at"), jstr(r, "server"), jstr(r, "tool"),
		    jstr(r, "status"), json_is_true(json_object_get(r,
		    "is_error")) ? " (tool error)" : "",
		    (long long)json_integer_value(json_object_get(r,
		    "duration_ms")), jstr(r, "caller")) < 0)
			return -1;
		if (json_is_string(json_object_get(r, "execution_id")) &&
		    fprintf(fp, "  execution %s step %s\n",
		    jstr(r, "execution_id"), jstr(r, "step_id")) < 0)
			return -1;
		if (json_is_integer(json_object_get(r, "error_code")) &&
		    fprintf(fp, "  error %lld: %s\n",
		    (long long)json_integer_value(json_object_get(r,
		    "error_code")), jstr(r, "error_message")) < 0)
			return -1;
	}
	return fflush(fp) == 0 ? 0 : -1;
}
