/*
 * Remote MCP over Streamable HTTP (orchestrator/api/mcphttp.h) through
 * the afu9 binary, with a real PostgreSQL (t/pgtest.h) and
 * t/conformance-server as the child:
 *  - edges: the refusals with their exact status (Host, Origin, token
 *    with its RFC 9728 challenge, Content-Type, Accept, protocol version,
 *    body size, malformed messages, missing and unknown sessions), the
 *    metadata document, initialize (the session row holds a digest, not
 *    the id), 202 for notifications, JSON answers, a tool call as SSE
 *    with its priming event, progress and result, audited as 'gateway',
 *    a resume with Last-Event-ID, the log level kept in the row, DELETE;
 *  - limits: sessions in all, requests in flight per session, idle
 *    expiry; a second GET stream replacing the first;
 *  - two_tasks: two afu9 tasks on one database; a call runs on A, its
 *    stream is followed on B, B is killed with SIGKILL mid-call, the
 *    client resumes on A and gets every message once; then A is killed
 *    mid-call while B follows: B answers the orphaned request with an
 *    error, and serves the session on;
 *  - cancel_across_tasks: a call on A cancelled by a notification sent
 *    to B.
 */
#include "config.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>

#include "httptest.h"
#include "orchtest.h"
#include "pgquery.h"
#include "pgtest.h"
#include "testutil.h"

#define TOKEN	"mcptok-Vq3Lw8Rz5Nk2Xc7H"
#define TOKEN2	"mcptok-Vq3Lw8Rz5Nk2Xc7J"	/* same length, wrong */
#define ACCEPT	"Accept: application/json, text/event-stream\r\n"
#define JSONCT	"Content-Type: application/json\r\n"

static char tmpdir[] = "/tmp/afu9-mcphttp-XXXXXX";
static struct pgtest *pg;

/* ---- the database and the tasks ---- */

static int
our_task(long pid)
{
	char path[64], cmd[4096];
	size_t n, i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	for (i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	cmd[n] = '\0';
	return strstr(cmd, tmpdir) != NULL && strstr(cmd, " serve ") != NULL;
}

static void
pg_up(void)
{
	pg = pgt_start_db("mcp");
}

/* A failed test leaves its tasks running: kill those noted in pids. */
static void
pg_down(void)
{
	char path[600];
	FILE *f;
	long pid;

	snprintf(path, sizeof(path), "%s/pids", tmpdir);
	if ((f = fopen(path, "r")) != NULL) {
		while (fscanf(f, "%ld", &pid) == 1)
			if (pid > 1 && t_alive((pid_t)pid) && our_task(pid))
				kill((pid_t)pid, SIGKILL);
		fclose(f);
		unlink(path);
	}
	pgt_stop(pg);
	pg = NULL;
}

/*
 * The one database of the suite (made and migrated by the first afu9
 * started: migrating takes seconds), emptied of sessions and audit rows;
 * its conninfo (malloc'd).  The environment of a test from scratch.
 */
static char *
use_db(void)
{
	char *ci;

	ck_assert_ptr_nonnull(ci = pgt_conninfo(pg, "mcp"));
	q_do(ci, "DO $$ BEGIN IF to_regclass('mcp_sessions') IS NOT NULL THEN "
	    "DELETE FROM mcp_sessions; DELETE FROM mcp_tool_calls; END IF; "
	    "END $$");
	setenv("DATABASE_URL", ci, 1);
	setenv("AFU9_API_TOKEN", TOKEN, 1);
	setenv("AFU9_ENGINE", "0", 1);
	setenv("AFU9_MCP_HEARTBEAT_MS", "200", 1);
	unsetenv("AFU9_MCP_MAX_SESSIONS");
	unsetenv("AFU9_MCP_SESSION_REQUESTS");
	unsetenv("AFU9_MCP_IDLE_S");
	unsetenv("AFU9_MCP_MAX_MESSAGE_BYTES");
	unsetenv("AFU9_MCP_ALLOWED_HOSTS");
	unsetenv("AFU9_MCP_ALLOWED_ORIGINS");
	unsetenv("AFU9_MIGRATIONS_DIR");
	unsetenv("AFU9_MIGRATE");
	return ci;
}

struct afu9 {
	struct tproc	 p;
	int		 port;
	char		*log;
};

static void
start_serve(struct afu9 *a)
{
	const char *conf = ot_write_config(tmpdir, "mcp.json",
	    "{\"mcpServers\":{\"conf\":{\"command\":\"@SERVER@\"}},"
	    "\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"},"
	    "\"shutdownGraceMs\":3000}}");
	const char *args[] = { "serve", "--config", conf, NULL };
	char path[600], *at;
	FILE *f;
	int eof;

	ot_spawn_afu9(&a->p, args);
	snprintf(path, sizeof(path), "%s/pids", tmpdir);
	if ((f = fopen(path, "a")) != NULL) {
		fprintf(f, "%ld\n", (long)a->p.pid);
		fclose(f);
	}
	a->log = t_read_until(a->p.err, "mcp: connected", 20000, &eof);
	ck_assert_msg(a->log && strstr(a->log, "mcp: connected"), "%s",
	    a->log ? a->log : "(nothing)");
	ck_assert_msg((at = strstr(a->log, "(port ")) != NULL, "%s", a->log);
	a->port = atoi(at + 6);
	ck_assert_int_gt(a->port, 0);
}

static void
end_ok(struct afu9 *a)
{
	char *rest, *log;
	int eof, st;

	kill(a->p.pid, SIGTERM);
	rest = t_read_until(a->p.err, "\001never", 20000, &eof);
	close(a->p.in);
	st = t_finish(&a->p, 20000);
	close(a->p.out);
	close(a->p.err);
	ck_assert_int_ne(asprintf(&log, "%s%s", a->log, rest ? rest : ""),
	    -1);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, log);
	ck_assert_msg(!strstr(log, TOKEN), "the token in the log");
	free(a->log);
	free(rest);
	free(log);
}

static void
kill_hard(struct afu9 *a)
{
	kill(a->p.pid, SIGKILL);
	close(a->p.in);
	(void)t_finish(&a->p, 20000);
	close(a->p.out);
	close(a->p.err);
	free(a->log);
}

/* ---- HTTP ---- */

struct conn {
	int	 fd;
	char	*buf;
	size_t	 len, pos;	/* pos: what was consumed */
	int	 eof;
};

static void
c_open(struct conn *c, int port)
{
	memset(c, 0, sizeof(*c));
	c->fd = ht_dial(port);
}

static void
c_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Read until needle is in what was not consumed (or EOF); the match,
   consumed up to its end, or NULL at EOF. */
static const char *
c_wait(struct conn *c, const char *needle, int ms)
{
	double end = t_now_ms() + ms * t_slow();
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char tmp[65536], *at;
	ssize_t n;

	for (;;) {
		if (c->buf != NULL && (at = strstr(c->buf + c->pos, needle)) !=
		    NULL) {
			c->pos = (size_t)(at - c->buf) + strlen(needle);
			return at;
		}
		if (c->eof)
			return NULL;
		ck_assert_msg(t_now_ms() < end, "no \"%s\" in %zu bytes: %s",
		    needle, c->len, c->buf ? c->buf + c->pos : "");
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((n = read(c->fd, tmp, sizeof(tmp))) <= 0) {
			c->eof = 1;
			continue;
		}
		ck_assert_ptr_nonnull(c->buf = realloc(c->buf, c->len + n + 1));
		memcpy(c->buf + c->len, tmp, (size_t)n);
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
	}
}

/* Send a request with Host: host and extra header lines. */
static void
c_send(struct conn *c, const char *method, const char *host,
    const char *extra, const char *body)
{
	char *head;

	if (body)
		ck_assert_int_ne(asprintf(&head, "%s /mcp HTTP/1.1\r\nHost: %s"
		    "\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n%s",
		    method, host, extra ? extra : "", strlen(body), body), -1);
	else
		ck_assert_int_ne(asprintf(&head, "%s /mcp HTTP/1.1\r\nHost: %s"
		    "\r\nConnection: close\r\n%s\r\n", method, host,
		    extra ? extra : ""), -1);
	(void)t_write(c->fd, head, strlen(head));
	free(head);
}

static char hostbuf[64];

static const char *
loopback(int port)
{
	snprintf(hostbuf, sizeof(hostbuf), "127.0.0.1:%d", port);
	return hostbuf;
}

/* One request, read to EOF. */
static void
req(int port, const char *method, const char *host, const char *extra,
    const char *body, struct ht_resp *r)
{
	struct conn c;

	c_open(&c, port);
	c_send(&c, method, host ? host : loopback(port), extra, body);
	(void)c_wait(&c, "\001never", 20000);
	ck_assert_ptr_nonnull(c.buf);
	ht_parse(c.buf, r);
	c_close(&c);
}

/* Authorization, Accept, Content-Type and the session (may be NULL),
   plus more (each line ending in \r\n). */
static char *
hdrs(const char *sid, const char *more)
{
	char *h;

	ck_assert_int_ne(asprintf(&h, "Authorization: Bearer " TOKEN "\r\n"
	    ACCEPT JSONCT "%s%s%s%s", sid ? "Mcp-Session-Id: " : "",
	    sid ? sid : "", sid ? "\r\n" : "", more ? more : ""), -1);
	return h;
}

/* POST body with the usual headers; status want. */
static void
post(int port, const char *sid, const char *more, const char *body,
    int want, struct ht_resp *r)
{
	char *h = hdrs(sid, more);

	req(port, "POST", NULL, h, body, r);
	free(h);
	ck_assert_msg(r->status == want, "POST %s: %d, want %d: %s %s", body,
	    r->status, want, r->head, r->body);
}

/* POST answered 4xx with a JSON-RPC error (id null) naming want. */
static void
refused(int port, const char *host, const char *extra, const char *body,
    int status, const char *want)
{
	struct ht_resp r;
	const char *m;

	req(port, "POST", host, extra, body, &r);
	ck_assert_msg(r.status == status, "%s: %d, want %d: %s", body,
	    r.status, status, r.body);
	m = json_string_value(json_object_get(json_object_get(r.json,
	    "error"), "message"));
	ck_assert_msg(m && strstr(m, want), "%s: %s, want \"%s\"", body,
	    r.body, want);
	ck_assert_msg(json_is_null(json_object_get(r.json, "id")), "%s",
	    r.body);
	ck_assert_msg(!strstr(r.body, TOKEN), "the token echoed");
	ht_resp_free(&r);
}

#define INIT "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"," \
	"\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}," \
	"\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"

/* initialize; the session id (malloc'd). */
static char *
initialize(int port)
{
	struct ht_resp r;
	char *sid;

	post(port, NULL, NULL, INIT, 200, &r);
	ck_assert_ptr_nonnull(sid = ht_header(&r, "Mcp-Session-Id"));
	ck_assert_int_eq(strlen(sid), 43);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    r.json, "result"), "protocolVersion")), "2025-11-25");
	ht_resp_free(&r);
	post(port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}", 202, &r);
	ck_assert_str_eq(r.body, "");
	ht_resp_free(&r);
	return sid;
}

/* POST a tools/call (SSE) on c, left open; the stream id of its
   priming event. */
static long long
call_start(struct conn *c, int port, const char *sid, const char *id,
    const char *tool, const char *args)
{
	char *h = hdrs(sid, NULL), *body;
	const char *at;
	long long stream;

	ck_assert_int_ne(asprintf(&body, "{\"jsonrpc\":\"2.0\",\"id\":%s,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
	    "\"arguments\":%s,\"_meta\":{\"progressToken\":%s}}}", id, tool,
	    args, id), -1);
	c_open(c, port);
	c_send(c, "POST", loopback(port), h, body);
	free(h);
	free(body);
	ck_assert_ptr_nonnull(c_wait(c, "HTTP/1.1 200 OK\r\n", 20000));
	ck_assert_ptr_nonnull(c_wait(c, "Content-Type: text/event-stream",
	    5000));
	ck_assert_ptr_nonnull(at = c_wait(c, "\nid: ", 5000));
	stream = atoll(at + 5);
	ck_assert_int_gt(stream, 0);
	ck_assert_ptr_nonnull(c_wait(c, "-0\nretry: 1000\ndata: \n\n", 5000));
	return stream;
}

/* The next event on c: its id into id[64], its data (malloc'd). */
static char *
next_event(struct conn *c, char *id, int ms)
{
	const char *at, *d;
	char *data;

	ck_assert_ptr_nonnull(at = c_wait(c, "id: ", ms));
	ck_assert_ptr_nonnull(d = c_wait(c, "\ndata: ", 5000));
	snprintf(id, 64, "%.*s", (int)(d - at - 4), at + 4);
	ck_assert_ptr_nonnull(c_wait(c, "\n\n", 5000));
	data = strndup(d + 7, (size_t)(c->buf + c->pos - 2 - (d + 7)));
	return data;
}

/* GET the stream after event last on c, left open; 200. */
static void
resume(struct conn *c, int port, const char *sid, const char *last)
{
	char *h;

	ck_assert_int_ne(asprintf(&h, "Authorization: Bearer " TOKEN "\r\n"
	    "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n"
	    "Last-Event-ID: %s\r\n", sid, last), -1);
	c_open(c, port);
	c_send(c, "GET", loopback(port), h, NULL);
	free(h);
	ck_assert_ptr_nonnull(c_wait(c, "HTTP/1.1 200 OK\r\n", 20000));
	ck_assert_ptr_nonnull(c_wait(c, "\r\n\r\n", 5000));
}

/* data is a progress notification with this value. */
static void
is_progress(const char *data, int value)
{
	json_t *j = json_loads(data, 0, NULL);

	ck_assert_msg(j != NULL, "not JSON: %s", data);
	ck_assert_msg(json_integer_value(json_object_get(json_object_get(j,
	    "params"), "progress")) == value && strcmp(json_string_value(
	    json_object_get(j, "method")), "notifications/progress") == 0,
	    "want progress %d: %s", value, data);
	json_decref(j);
}

/* ---- tests ---- */

START_TEST(edges)
{
	char *ci = use_db(), *sid, *h, *v, *data, sql[512];
	char id1[64], id2[64], id3[64];
	struct afu9 a;
	struct ht_resp r;
	struct conn c;
	int i;

	setenv("AFU9_MCP_MAX_MESSAGE_BYTES", "65536", 1);
	q_do(ci, "DO $$ BEGIN IF to_regclass('api_tokens') IS NOT NULL THEN "
	    "DELETE FROM api_tokens; END IF; END $$");
	start_serve(&a);

	/* Host, Origin: 403 before anything else */
	refused(a.port, "evil.example", ACCEPT JSONCT, INIT, 403, "Host");
	refused(a.port, "localhost", "Origin: http://evil.example\r\n"
	    ACCEPT JSONCT, INIT, 403, "Origin");
	refused(a.port, NULL, "Origin: http://localhost.evil\r\n" ACCEPT
	    JSONCT, INIT, 403, "Origin");
	/* the token (api/auth.h): every way of not having it gets the same
	   401, whose challenge names the RFC 9728 metadata */
	snprintf(sql, sizeof(sql), "Bearer realm=\"afu9\", resource_metadata="
	    "\"http://127.0.0.1:%d/.well-known/oauth-protected-resource/mcp\"",
	    a.port);
	{
		static const char *const bad[] = { ACCEPT JSONCT,
		    "Authorization: Bearer " TOKEN2 "\r\n" ACCEPT JSONCT,
		    "Authorization: Basic " TOKEN "\r\n" ACCEPT JSONCT };

		for (i = 0; i < 3; i++) {
			req(a.port, "POST", NULL, bad[i], INIT, &r);
			ck_assert_msg(r.status == 401, "%d: %s", r.status,
			    r.body);
			ck_assert_ptr_nonnull(v = ht_header(&r,
			    "WWW-Authenticate"));
			ck_assert_str_eq(v, sql);
			ck_assert_msg(!strstr(r.body, TOKEN), "echoed");
			free(v);
			ht_resp_free(&r);
		}
	}
	/* the metadata document (RFC 9728) */
	ck_assert_int_eq(ot_http_get(a.port, "/.well-known/oauth-protected-"
	    "resource/mcp", &data), 200);
	/* (ot_http_get sends Host: t) */
	ck_assert_msg(strstr(data, "\"resource\":\"http://t/mcp\"") && strstr(data,
	    "\"bearer_methods_supported\":[\"header\"]"), "%s", data);
	free(data);
	ck_assert_int_eq(ot_http_get(a.port, "/.well-known/oauth-protected-"
	    "resource", &data), 200);
	free(data);
	/* the form of a POST */
	h = hdrs(NULL, NULL);
	refused(a.port, NULL, "Authorization: Bearer " TOKEN "\r\n" ACCEPT
	    "Content-Type: text/plain\r\n", INIT, 415, "application/json");
	refused(a.port, NULL, "Authorization: Bearer " TOKEN "\r\n"
	    "Accept: application/json\r\n" JSONCT, INIT, 406, "accept both");
	refused(a.port, NULL, h, "{\"jsonrpc\":\"2.0\",\"id\":1,", 400, "");
	refused(a.port, NULL, h, "[" INIT "]", 400, "batch");
	refused(a.port, NULL, "Authorization: Bearer " TOKEN "\r\n" ACCEPT
	    JSONCT "MCP-Protocol-Version: 1999-01-01\r\n", INIT, 400,
	    "MCP-Protocol-Version");
	{
		char *big = malloc(70001);

		memset(big, ' ', 70000);
		big[70000] = '\0';
		memcpy(big, INIT, strlen(INIT));
		refused(a.port, NULL, h, big, 413, "at most 65536 bytes");
		free(big);
	}
	refused(a.port, NULL, h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"tools/list\"}", 400, "Mcp-Session-Id is required");
	free(h);
	h = hdrs("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL);
	refused(a.port, NULL, h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"tools/list\"}", 404, "no such session");
	free(h);
	h = hdrs("short", NULL);
	refused(a.port, NULL, h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"tools/list\"}", 404, "no such session");
	free(h);
	req(a.port, "PUT", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_ptr_nonnull(strstr(r.head, "Allow: "));
	ht_resp_free(&r);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_sessions"), 0);

	/* a session: the row keeps a digest of its id, not the id */
	sid = initialize(a.port);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM mcp_sessions WHERE "
	    "id = '%s' OR principal = '%s'", sid, sid);
	ck_assert_int_eq(q_int(ci, sql), 0);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_sessions WHERE "
	    "protocol_version = '2025-11-25' AND client_name = 't'"), 1);
	/* from a browser page of an allowed origin, too */
	h = hdrs(sid, "Origin: http://localhost:6274\r\n");
	req(a.port, "POST", NULL, h, "{\"jsonrpc\":\"2.0\",\"id\":\"p\","
	    "\"method\":\"ping\"}", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"jsonrpc\":\"2.0\",\"id\":\"p\","
	    "\"result\":{}}");
	ht_resp_free(&r);
	free(h);
	h = hdrs(sid, NULL);
	refused(a.port, NULL, h, INIT, 400, "without Mcp-Session-Id");
	free(h);
	post(a.port, sid, "MCP-Protocol-Version: 2025-11-25\r\n",
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", 200, &r);
	ck_assert_ptr_nonnull(strstr(r.head, "Content-Type: application/json"));
	ck_assert_msg(strstr(r.body, "\"name\":\"conf.echo\""), "%s", r.body);
	ht_resp_free(&r);
	/* a token of scope read lists but may not call, and the session
	   of another token is not its */
	{
		const char *args[] = { "token", "create", "--name", "reader",
		    "--scope", "read", NULL };
		char *out, *err, *rh;

		ck_assert_msg(ot_run_afu9(args, &out, &err) == 0, "%s", err);
		out[strcspn(out, "\n")] = '\0';
		ck_assert_int_ne(asprintf(&rh, "Authorization: Bearer %s\r\n"
		    ACCEPT JSONCT, out), -1);
		req(a.port, "POST", NULL, rh, INIT, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_ptr_nonnull(v = ht_header(&r, "Mcp-Session-Id"));
		ht_resp_free(&r);
		free(rh);
		ck_assert_int_ne(asprintf(&rh, "Authorization: Bearer %s\r\n"
		    ACCEPT JSONCT "Mcp-Session-Id: %s\r\n", out, v), -1);
		refused(a.port, NULL, rh, "{\"jsonrpc\":\"2.0\",\"id\":1,"
		    "\"method\":\"tools/call\",\"params\":{\"name\":"
		    "\"conf.echo\",\"arguments\":{\"text\":\"x\"}}}", 403,
		    "scope run");
		req(a.port, "POST", NULL, rh, "{\"jsonrpc\":\"2.0\",\"id\":2,"
		    "\"method\":\"tools/list\"}", &r);
		ck_assert_int_eq(r.status, 200);
		ht_resp_free(&r);
		free(rh);
		free(v);
		ck_assert_int_ne(asprintf(&rh, "Authorization: Bearer %s\r\n"
		    ACCEPT JSONCT "Mcp-Session-Id: %s\r\n", out, sid), -1);
		refused(a.port, NULL, rh, "{\"jsonrpc\":\"2.0\",\"id\":3,"
		    "\"method\":\"ping\"}", 404, "no such session");
		free(rh);
		free(out);
		free(err);
		q_do(ci, "DELETE FROM mcp_sessions WHERE principal = 'reader'");
	}
	/* a response from the client: 202 too */
	post(a.port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}",
	    202, &r);
	ht_resp_free(&r);

	/* a tool call: SSE, primed, audited as the gateway's */
	call_start(&c, a.port, sid, "7", "conf.echo", "{\"text\":\"hi\"}");
	data = next_event(&c, id1, 20000);
	ck_assert_str_eq(data, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":"
	    "{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}");
	free(data);
	ck_assert_ptr_nonnull(c_wait(&c, "0\r\n\r\n", 5000));	/* the end */
	c_close(&c);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "caller = 'gateway' AND server = 'conf' AND tool = 'echo'"), 1);

	/* progress, then the result; then a resume after the second */
	call_start(&c, a.port, sid, "8", "conf.sleep", "{\"ms\":200}");
	for (i = 1; i <= 4; i++) {
		data = next_event(&c, i == 2 ? id2 : id3, 20000);
		is_progress(data, i);
		free(data);
	}
	data = next_event(&c, id3, 20000);
	ck_assert_msg(strstr(data, "\"id\":8,\"result\""), "%s", data);
	free(data);
	c_close(&c);
	resume(&c, a.port, sid, id2);
	for (i = 3; i <= 4; i++) {
		data = next_event(&c, id1, 5000);
		is_progress(data, i);
		free(data);
	}
	data = next_event(&c, id1, 5000);
	ck_assert_str_eq(id1, id3);
	ck_assert_msg(strstr(data, "\"id\":8,\"result\""), "%s", data);
	free(data);
	ck_assert_ptr_nonnull(c_wait(&c, "0\r\n\r\n", 5000));
	c_close(&c);
	/* resumes refused: no such event, a bad id, not an event stream */
	h = NULL;
	ck_assert_int_ne(asprintf(&h, "Authorization: Bearer " TOKEN "\r\n"
	    "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n"
	    "Last-Event-ID: 999999-0\r\n", sid), -1);
	req(a.port, "GET", NULL, h, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ht_resp_free(&r);
	free(h);
	ck_assert_int_ne(asprintf(&h, "Authorization: Bearer " TOKEN "\r\n"
	    "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n"
	    "Last-Event-ID: x-1\r\n", sid), -1);
	req(a.port, "GET", NULL, h, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ht_resp_free(&r);
	free(h);
	ck_assert_int_ne(asprintf(&h, "Authorization: Bearer " TOKEN "\r\n"
	    "Accept: application/json\r\nMcp-Session-Id: %s\r\n", sid), -1);
	req(a.port, "GET", NULL, h, NULL, &r);
	ck_assert_int_eq(r.status, 406);
	ht_resp_free(&r);
	free(h);

	/* the log level is the session's, in its row */
	post(a.port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	    "\"logging/setLevel\",\"params\":{\"level\":\"warning\"}}", 200,
	    &r);
	ht_resp_free(&r);
	post(a.port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":"
	    "\"ping\"}", 200, &r);	/* after the update, in order */
	ht_resp_free(&r);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_sessions WHERE "
	    "log_level = 'warning'"), 1);

	/* DELETE ends it: 204, then 404 for everything */
	h = hdrs(sid, NULL);
	req(a.port, "DELETE", NULL, h, NULL, &r);
	ck_assert_int_eq(r.status, 204);
	ht_resp_free(&r);
	req(a.port, "DELETE", NULL, h, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ht_resp_free(&r);
	refused(a.port, NULL, h, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":"
	    "\"ping\"}", 404, "no such session");
	free(h);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_sessions"), 0);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_events"), 0);
	free(sid);
	end_ok(&a);
	free(ci);
}
END_TEST

START_TEST(limits)
{
	char *ci = use_db(), *s1, *s2, *h, *data, id[64];
	struct afu9 a;
	struct conn c, g1, g2;

	setenv("AFU9_MCP_MAX_SESSIONS", "2", 1);
	setenv("AFU9_MCP_SESSION_REQUESTS", "1", 1);
	setenv("AFU9_MCP_IDLE_S", "1", 1);
	start_serve(&a);
	s1 = initialize(a.port);
	s2 = initialize(a.port);
	h = hdrs(NULL, NULL);
	refused(a.port, NULL, h, INIT, 503, "2 sessions open");
	free(h);
	/* one request in flight per session: the second is refused */
	call_start(&c, a.port, s1, "1", "conf.sleep", "{\"ms\":800}");
	h = hdrs(s1, NULL);
	refused(a.port, NULL, h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"conf.echo\",\"arguments\":"
	    "{\"text\":\"x\"}}}", 429, "1 requests in flight");
	free(h);
	for (;;) {	/* 4 progress notifications, then the answer */
		data = next_event(&c, id, 20000);
		if (strstr(data, "\"result\"")) {
			free(data);
			break;
		}
		free(data);
	}
	c_close(&c);
	/* a second GET stream replaces the first, which ends */
	h = NULL;
	ck_assert_int_ne(asprintf(&h, "Authorization: Bearer " TOKEN "\r\n"
	    "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n", s1), -1);
	c_open(&g1, a.port);
	c_send(&g1, "GET", loopback(a.port), h, NULL);
	ck_assert_ptr_nonnull(c_wait(&g1, "retry: 1000\ndata: \n\n", 20000));
	c_open(&g2, a.port);
	c_send(&g2, "GET", loopback(a.port), h, NULL);
	ck_assert_ptr_nonnull(c_wait(&g2, "retry: 1000\ndata: \n\n", 20000));
	ck_assert_ptr_nonnull(c_wait(&g1, "0\r\n\r\n", 5000));
	free(h);
	c_close(&g1);
	c_close(&g2);
	/* s2 idle for longer than 1 s: gone */
	usleep(1100000);
	h = hdrs(s2, NULL);
	refused(a.port, NULL, h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	    "\"ping\"}", 404, "no such session");
	free(h);
	s2 = (free(s2), initialize(a.port));	/* room again */
	free(s1);
	free(s2);
	end_ok(&a);
	free(ci);
}
END_TEST

START_TEST(two_tasks)
{
	char *ci = use_db(), *sid, *data, id[64], last[64];
	struct afu9 a, b;
	struct conn c;
	struct ht_resp r;
	int i;

	start_serve(&a);
	start_serve(&b);
	sid = initialize(a.port);

	/* The call runs on A; the client leaves A after the first progress
	   notification and follows on B. */
	call_start(&c, a.port, sid, "1", "conf.sleep", "{\"ms\":1200}");
	data = next_event(&c, last, 20000);
	is_progress(data, 1);
	free(data);
	c_close(&c);
	resume(&c, b.port, sid, last);
	data = next_event(&c, last, 20000);
	is_progress(data, 2);
	free(data);
	/* B dies mid-call; the client resumes on A and misses nothing */
	kill_hard(&b);
	c_close(&c);
	resume(&c, a.port, sid, last);
	for (i = 3; i <= 4; i++) {
		data = next_event(&c, id, 20000);
		is_progress(data, i);
		free(data);
	}
	data = next_event(&c, id, 20000);
	ck_assert_msg(strstr(data, "\"id\":1,\"result\"") &&
	    strstr(data, "slept 1200 ms"), "%s", data);
	free(data);
	ck_assert_ptr_nonnull(c_wait(&c, "0\r\n\r\n", 5000));
	c_close(&c);

	/* Now A runs a call and dies; B, following, answers it. */
	start_serve(&b);
	call_start(&c, a.port, sid, "2", "conf.sleep", "{\"ms\":4000}");
	data = next_event(&c, last, 20000);
	is_progress(data, 1);
	free(data);
	c_close(&c);
	resume(&c, b.port, sid, last);
	kill_hard(&a);
	data = next_event(&c, id, 20000);
	ck_assert_msg(strstr(data, "\"id\":2,\"error\"") && strstr(data,
	    "-32603") && strstr(data, "ended before it answered"), "%s", data);
	free(data);
	ck_assert_ptr_nonnull(c_wait(&c, "0\r\n\r\n", 5000));
	c_close(&c);
	/* and serves the session on */
	call_start(&c, b.port, sid, "3", "conf.echo", "{\"text\":\"on B\"}");
	data = next_event(&c, id, 20000);
	ck_assert_msg(strstr(data, "\"text\":\"on B\""), "%s", data);
	free(data);
	c_close(&c);
	post(b.port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":"
	    "\"tools/list\"}", 200, &r);
	ht_resp_free(&r);
	free(sid);
	end_ok(&b);
	free(ci);
}
END_TEST

/*
 * Cancellation across tasks: a call runs on A; the client's
 * notifications/cancelled reaches B (sessions are served by any task).
 * B tells A (NOTIFY afu9_mcp "c ..."), A cancels the call: the child
 * gets notifications/cancelled (the audit row: cancelled by the caller,
 * long before the call's 50 s), the call's SSE response on A and the
 * copy B follows end without a response, and the stream is done, so
 * that the session's one request in flight is free again.  Then the
 * same with the call and its cancellation on one task.
 */
START_TEST(cancel_across_tasks)
{
	char *ci = use_db(), *sid, *data, prime[64], sql[256];
	struct afu9 a, b;
	struct conn c, f;
	struct ht_resp r;
	long long stream;
	double end;

	setenv("AFU9_MCP_SESSION_REQUESTS", "1", 1);
	start_serve(&a);
	start_serve(&b);
	sid = initialize(a.port);
	/* a cancellation of nothing in flight is accepted and does nothing */
	post(b.port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":42}}", 202,
	    &r);
	ht_resp_free(&r);

	stream = call_start(&c, a.port, sid, "\"long\\u0031\"", "conf.sleep",
	    "{\"ms\":50000}");
	snprintf(prime, sizeof(prime), "%lld-0", stream);
	resume(&f, b.port, sid, prime);
	/* cancellations naming no call, and hostile NOTIFY payloads on the
	   channel: accepted (a notification) and nothing cancelled */
	post(b.port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":"
	    "{\"id\":\"long1\"}}}", 202, &r);
	ht_resp_free(&r);
	post(b.port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{}}", 202, &r);
	ht_resp_free(&r);
	{
		char big[1200 + 128];

		memset(big, 0, sizeof(big));
		snprintf(big, sizeof(big), "{\"jsonrpc\":\"2.0\",\"method\":"
		    "\"notifications/cancelled\",\"params\":{\"requestId\":"
		    "\"%01200d\"}}", 0);
		post(b.port, sid, NULL, big, 202, &r);
		ht_resp_free(&r);
	}
	/* (the channel names a session by the digest it is stored under) */
	q_do(ci, "SELECT pg_notify('afu9_mcp', 'c ' || id || ' not json'), "
	    "pg_notify('afu9_mcp', 'c ' || id), pg_notify('afu9_mcp', "
	    "'c short'), pg_notify('afu9_mcp', 'c ' || id || ' {\"a\":1}'), "
	    "pg_notify('afu9_mcp', 'c ' || id || ' [\"long1\"]') "
	    "FROM mcp_sessions");
	usleep(300000);	/* a wrong cancel would have marked it by now */
	ck_assert_int_eq(q_intf(ci, "SELECT count(*) FROM mcp_streams WHERE "
	    "id = %lld AND NOT done", stream), 1);
	/* the id spelled otherwise than in the request: the same id */
	post(b.port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":\"long1\","
	    "\"reason\":\"the user gave up\"}}", 202, &r);
	ht_resp_free(&r);
	/* both copies of the stream end, neither with a response */
	ck_assert_ptr_nonnull(c_wait(&c, "0\r\n\r\n", 20000));
	ck_assert_msg(!strstr(c.buf, "\"result\"") && !strstr(c.buf,
	    "\"error\""), "%s", c.buf);
	ck_assert_ptr_nonnull(c_wait(&f, "0\r\n\r\n", 20000));
	ck_assert_msg(!strstr(f.buf, "\"result\"") && !strstr(f.buf,
	    "\"error\""), "%s", f.buf);
	c_close(&c);
	c_close(&f);
	/* the child was told: the router's audit row says so */
	end = t_now_ms() + 20000. * t_slow();
	while (q_int(ci, "SELECT count(*) FROM mcp_tool_calls WHERE tool = "
	    "'sleep' AND status = 'failed' AND error_message = 'cancelled by "
	    "the caller'") != 1) {
		ck_assert_msg(t_now_ms() < end, "no audit row of the cancel");
		usleep(50000);
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM mcp_streams WHERE "
	    "id = %lld AND done", stream);
	ck_assert_int_eq(q_int(ci, sql), 1);
	/* the same on the task running the call: its stream ends, its
	   slot is free */
	call_start(&c, b.port, sid, "3", "conf.sleep", "{\"ms\":50000}");
	post(b.port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":3}}", 202,
	    &r);
	ht_resp_free(&r);
	ck_assert_ptr_nonnull(c_wait(&c, "0\r\n\r\n", 20000));
	ck_assert_msg(!strstr(c.buf, "\"result\""), "%s", c.buf);
	c_close(&c);
	/* the session's one request in flight is free: a call on B */
	call_start(&c, b.port, sid, "2", "conf.echo", "{\"text\":\"again\"}");
	data = next_event(&c, prime, 20000);
	ck_assert_msg(strstr(data, "\"text\":\"again\""), "%s", data);
	free(data);
	c_close(&c);
	free(sid);
	end_ok(&a);
	end_ok(&b);
	free(ci);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("mcphttp");
	TCase *tc = tcase_create("mcphttp");

	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, edges);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, two_tasks);
	tcase_add_test(tc, cancel_across_tasks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ot_main(suite(), tmpdir);
}
