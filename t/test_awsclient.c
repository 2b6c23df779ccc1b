/*
 * awsclient against two servers.
 *
 * t/faultserver.py (one per run, reset before every test, the endpoint of
 * every service through AWS_ENDPOINT_URL): each test scripts the answers
 * and checks what the server received (the exact headers, the body, a
 * signature recomputed here from the recorded request, how many
 * attempts) and what the callback got (error kind, code, the exact
 * message).
 *
 * botocore (t/aws/botocheck.py, started once): the requests afu9 sent to
 * the fault server, signed again by botocore's SigV4 signer at the time
 * they name; afu9's Authorization must be botocore's byte for byte, for
 * every service, with and without a session token, another region,
 * endpoints with paths and retried attempts.  Without botocore these
 * tests are left out the same way as moto's (below).
 *
 * moto_server (started once through t/aws/moto.py on an ephemeral port):
 * real ECS, CloudWatch Logs and CloudWatch calls and a real error.  When
 * moto_server is not installed its tests are left out (a "# SKIP" note in
 * the TAP stream) unless AFU9_REQUIRE_MOTO=1, which makes them run and
 * fail.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <ev.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"
#include "redact.h"
#include "aws/awsclient.h"
#include "aws/awsconf.h"
#include "aws/creds.h"
#include "aws/sigv4.h"
#include "faultclient.h"
#include "testutil.h"

#define AKID		"AKIDAFU9EXAMPLE"
#define SECRET		"wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY"
#define STOKEN		"IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN=="
#define MAX_RESPONSE	(256 * 1024)

/* ---- the fault server ---- */

/*
 * Queue `times` AWS JSON error answers: status, {"__type": type,
 * "message": msg} (msg NULL: none), x-amzn-RequestId: rid.
 */
static void
fs_push_error(int status, const char *type, const char *msg,
    const char *rid, int times)
{
	json_t *body = json_pack("{s:s}", "__type", type);

	if (msg != NULL)
		json_object_set_new(body, "message", json_string(msg));
	fc_push(json_pack("{s:i, s:i, s:o, s:{s:s, s:s}, s:{s:s}}", "status",
	    status, "times", times, "json", body, "headers",
	    "x-amzn-RequestId", rid, "Content-Type",
	    "application/x-amz-json-1.1", "match", "method", "POST"));
}

/* Queue one 200 with JSON `body` (stolen) and x-amzn-RequestId: rid. */
static void
fs_push_ok(json_t *body, const char *rid)
{
	fc_push(json_pack("{s:i, s:o, s:{s:s}, s:{s:s}}", "status", 200,
	    "json", body, "headers", "x-amzn-RequestId", rid, "match",
	    "method", "POST"));
}

/* ---- moto ---- */

static struct tproc	moto;
static int		moto_port;	/* 0: not running */
static char		moto_why[4200];	/* why not */

/* ---- botocore ---- */

static struct tproc	bc;
static int		bc_ready;	/* botocheck.py said READY */
static char		bc_why[4200];	/* else why not */

/*
 * Start t/aws/botocheck.py, which signs recorded requests with botocore;
 * sets bc_ready, or bc_why to its "ABSENT reason" or what went wrong.
 */
static void
bc_start(void)
{
	char *line = fc_tool_start(&bc, "t/aws/botocheck.py", 30000);

	if (line == NULL)
		snprintf(bc_why, sizeof(bc_why), "t/aws/botocheck.py said "
		    "nothing");
	else if (strncmp(line, "READY ", 6) == 0)
		bc_ready = 1;
	else
		snprintf(bc_why, sizeof(bc_why), "%s", line);
	free(line);
}

/* ---- the client under test ---- */

struct outcome {
	int		 done;
	enum aws_err	 err;
	char		*message;
	char		*code;
	char		*fault;
	char		*request_id;
	long		 status;
	json_t		*body;
	unsigned	 attempts;
};

static struct ev_loop	*loop;
static struct httpc	*hc;
static struct aws_config cfg;
static struct aws_creds_provider *prov;
static struct aws_client *cl;
static struct aws_client_opts copts;

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
on_done(const struct aws_result *res, void *arg)
{
	struct outcome *o = arg;

	o->done++;
	o->err = res->err;
	o->status = res->status;
	o->attempts = res->attempts;
	ck_assert((res->err == AWS_OK) == (res->message == NULL));
	ck_assert((res->err == AWS_OK) == (res->body != NULL));
	if (res->message != NULL)
		ck_assert_msg(strstr(res->message, SECRET) == NULL &&
		    strstr(res->message, STOKEN) == NULL,
		    "secret in message: %s", res->message);
	o->message = dup_or_null(res->message);
	o->code = dup_or_null(res->code);
	o->fault = dup_or_null(res->fault);
	o->request_id = dup_or_null(res->request_id);
	o->body = json_incref(res->body);
}

static void
outcome_free(struct outcome *o)
{
	free(o->message);
	free(o->code);
	free(o->fault);
	free(o->request_id);
	json_decref(o->body);
	memset(o, 0, sizeof(*o));
}

static void
watchdog_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	(void)revents;
	*(int *)t->data = 1;
	ev_break(l, EVBREAK_ONE);
}

/* Run the loop until o is done (or for `ms` when o is NULL). */
static void
run_for(struct outcome *o, double ms)
{
	ev_timer wd;
	int fired = 0;

	ev_timer_init(&wd, watchdog_cb, ms / 1000.0, 0.);
	wd.data = &fired;
	ev_timer_start(loop, &wd);
	while (!fired && (o == NULL || !o->done))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &wd);
}

static void
run(struct outcome *o)
{
	run_for(o, 10000.0 * t_slow());
	ck_assert_msg(o->done == 1, "no callback");
}

/* Run the loop until the server has seen n requests. */
static void
run_until_requests(size_t n)
{
	double end = t_now_ms() + 8000.0 * t_slow();
	json_t *r;
	int ok;

	while (t_now_ms() < end) {
		run_for(NULL, 10);
		r = fc_cmd(json_pack("{s:s, s:i, s:i}", "cmd", "wait",
		    "requests", (int)n, "timeout_ms", 10));
		ok = json_is_true(json_object_get(r, "ok"));
		json_decref(r);
		if (ok)
			return;
	}
	ck_abort_msg("server never saw %zu requests", n);
}

/* (Re)build config, credentials provider and client from the env. */
static void
rebuild(void)
{
	char err[1024];

	aws_client_free(cl);
	aws_creds_free(prov);
	aws_config_free(&cfg);
	ck_assert_msg(aws_config_load(&cfg, err, sizeof(err)) == 0, "%s", err);
	prov = aws_creds_new(loop, hc, &cfg);
	ck_assert_ptr_nonnull(prov);
	cl = aws_client_new(loop, hc, prov, &cfg, &copts, err, sizeof(err));
	ck_assert_msg(cl != NULL, "%s", err);
}

static void
env_reset(const char *endpoint)
{
	fc_aws_env(endpoint, AKID, SECRET);
	setenv("AWS_SESSION_TOKEN", STOKEN, 1);
}

static void
loop_setup(void)
{
	struct httpc_opts o;

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	memset(&o, 0, sizeof(o));
	o.max_response = MAX_RESPONSE;
	o.timeout_ms = 10000 * t_slow();
	hc = httpc_new(loop, &o);
	ck_assert_ptr_nonnull(hc);
	memset(&copts, 0, sizeof(copts));
	copts.backoff_base_s = 0.01;
	copts.backoff_cap_s = 0.05;
	cl = NULL;
	prov = NULL;
	memset(&cfg, 0, sizeof(cfg));
	rebuild();
}

static void
setup(void)
{
	fc_reset();
	env_reset(fc_base());
	loop_setup();
}

static void
teardown(void)
{
	aws_client_free(cl);
	cl = NULL;
	aws_creds_free(prov);
	prov = NULL;
	aws_config_free(&cfg);
	httpc_free(hc);
	hc = NULL;
	ev_loop_destroy(loop);
	loop = NULL;
}

/* Call, run to completion, the outcome in *o. */
static void
call(struct outcome *o, enum aws_service svc, const char *op,
    const json_t *params)
{
	memset(o, 0, sizeof(o[0]));
	ck_assert_ptr_nonnull(aws_call(cl, svc, op, params, on_done, o));
	run(o);
}

/* ---- signature check ---- */

/* "YYYYMMDDTHHMMSSZ" as seconds since the epoch. */
static time_t
amz_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	ck_assert_int_eq(strlen(s), 16);
	ck_assert_int_eq(sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec), 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/*
 * Recompute the signature of the recorded request `req` with the given
 * credentials, for `service` in us-east-1, from the headers it names as
 * signed and the time in its X-Amz-Date; assert the Authorization header
 * sent is exactly the one computed and SignedHeaders is `signed_want`.
 */
/* The SignedHeaders list of a recorded request's Authorization into
   names (namelen bytes). */
static void
signed_list(const json_t *req, char *names, size_t namelen)
{
	const char *auth, *p;
	int cnt;

	auth = fc_header(req, "Authorization", &cnt);
	ck_assert_int_eq(cnt, 1);
	ck_assert_ptr_nonnull(p = strstr(auth, "SignedHeaders="));
	p += strlen("SignedHeaders=");
	snprintf(names, namelen, "%.*s", (int)strcspn(p, ","), p);
}

/*
 * Sign the recorded request `req` again with afu9's signer, as it names
 * in SignedHeaders and at the time in its X-Amz-Date, into *out (free
 * with aws_sigv4_out_free()).
 */
static void
resign(const json_t *req, const struct aws_sigv4_creds *sc,
    const char *region, const char *service, struct aws_sigv4_out *out)
{
	struct aws_sigv4_header hs[AWS_SIGV4_MAX_HEADERS];
	struct aws_sigv4_req rq;
	const char *date, *body;
	char names[512], *name, *save, err[256];
	size_t n = 0;
	int cnt;

	date = fc_header(req, "X-Amz-Date", &cnt);
	ck_assert_int_eq(cnt, 1);
	signed_list(req, names, sizeof(names));
	for (name = strtok_r(names, ";", &save); name != NULL;
	    name = strtok_r(NULL, ";", &save)) {
		if (strcmp(name, "x-amz-date") == 0 ||
		    strcmp(name, "x-amz-security-token") == 0)
			continue;	/* the signer adds these itself */
		ck_assert_uint_lt(n, AWS_SIGV4_MAX_HEADERS);
		hs[n].name = name;
		hs[n].value = fc_header(req, name, &cnt);
		ck_assert_msg(cnt == 1, "%s sent %d times", name, cnt);
		n++;
	}
	body = json_string_value(json_object_get(req, "body"));
	memset(&rq, 0, sizeof(rq));
	rq.method = json_string_value(json_object_get(req, "method"));
	rq.path = json_string_value(json_object_get(req, "path"));
	rq.query = json_string_value(json_object_get(req, "query"));
	rq.headers = hs;
	rq.nheaders = n;
	rq.body = body;
	rq.body_len = strlen(body);
	memset(out, 0, sizeof(*out));
	ck_assert_msg(aws_sigv4_sign(&rq, sc, region, service,
	    amz_time(date), out, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(out->amz_date, date);
}

static void
assert_signed(const json_t *req, const char *akid, const char *secret,
    const char *token, const char *service, const char *signed_want)
{
	struct aws_sigv4_creds sc = { akid, secret, token };
	struct aws_sigv4_out out;
	const char *auth, *date;
	char names[512], scope[128];
	int cnt;

	auth = fc_header(req, "Authorization", &cnt);
	ck_assert_int_eq(cnt, 1);
	date = fc_header(req, "X-Amz-Date", &cnt);
	ck_assert_int_eq(cnt, 1);
	snprintf(scope, sizeof(scope), "Credential=%s/%.8s/us-east-1/%s/"
	    "aws4_request, ", akid, date, service);
	ck_assert_msg(strstr(auth, scope) != NULL, "%s", auth);
	signed_list(req, names, sizeof(names));
	ck_assert_str_eq(names, signed_want);
	resign(req, &sc, "us-east-1", service, &out);
	ck_assert_str_eq(auth, out.authorization);
	aws_sigv4_out_free(&out);
	if (token != NULL)
		fc_assert_header(req, "X-Amz-Security-Token", token);
	else
		fc_assert_no_header(req, "X-Amz-Security-Token");
}

/*
 * Have botocore sign the recorded request `req` again (t/aws/botocheck.py:
 * the same method, URL, body and the headers its SignedHeaders names, at
 * the time in its X-Amz-Date, with these credentials for `service` in
 * `region`) and assert that the Authorization afu9 sent is byte for byte
 * botocore's, that SignedHeaders is `signed_want`, and that botocore
 * sent the same X-Amz-Date and X-Amz-Security-Token.  On a mismatch the
 * message shows both canonical requests.
 */
static void
assert_botocore(const json_t *req, const char *akid, const char *secret,
    const char *token, const char *region, const char *service,
    const char *signed_want)
{
	struct aws_sigv4_creds sc = { akid, secret, token };
	struct aws_sigv4_out out;
	const char *auth, *date, *bauth, *sent_token;
	char names[512], msg[8192];
	json_t *reply;
	long long skew;
	int cnt;

	ck_assert_msg(bc_ready, "botocore not available: %s", bc_why);
	auth = fc_header(req, "Authorization", &cnt);
	ck_assert_int_eq(cnt, 1);
	date = fc_header(req, "X-Amz-Date", &cnt);
	ck_assert_int_eq(cnt, 1);
	/* signed now, not at some fixed time both sides might share */
	skew = (long long)amz_time(date) - (long long)time(NULL);
	ck_assert_msg(skew > -300 && skew < 300, "X-Amz-Date %s is %llds "
	    "off", date, skew);
	signed_list(req, names, sizeof(names));
	ck_assert_str_eq(names, signed_want);
	sent_token = fc_header(req, "X-Amz-Security-Token", &cnt);
	ck_assert_int_eq(cnt, token != NULL);

	reply = fc_proc_cmd(&bc, "botocheck.py", json_pack("{s:O, s:s, s:s, "
	    "s:s?, s:s, s:s}", "request", req, "access_key", akid,
	    "secret_key", secret, "token", token, "region", region,
	    "service", service));
	ck_assert_msg(json_is_true(json_object_get(reply, "ok")),
	    "botocore could not sign it: %s", json_string_value(
	    json_object_get(reply, "error")));
	ck_assert_str_eq(json_string_value(json_object_get(reply,
	    "amz_date")), date);
	if (token != NULL) {
		ck_assert_str_eq(sent_token, token);
		ck_assert_str_eq(json_string_value(json_object_get(reply,
		    "security_token")), token);
	} else
		ck_assert(json_is_null(json_object_get(reply,
		    "security_token")));
	bauth = json_string_value(json_object_get(reply, "authorization"));
	ck_assert_ptr_nonnull(bauth);
	if (strcmp(auth, bauth) != 0) {
		resign(req, &sc, region, service, &out);
		snprintf(msg, sizeof(msg), "Authorization differs from "
		    "botocore's\nafu9:     %s\nbotocore: %s\n"
		    "botocore canonical request:\n%s\n"
		    "afu9 canonical request (recomputed):\n%s", auth, bauth,
		    json_string_value(json_object_get(reply,
		    "canonical_request")), out.canonical_request);
		aws_sigv4_out_free(&out);
		json_decref(reply);
		ck_abort_msg("%s", msg);
	}
	json_decref(reply);
}

/* ---- wire format ---- */

START_TEST(ecs_request_on_the_wire)
{
	struct outcome o;
	json_t *params, *reqs, *rq;
	char host[64];

	fs_push_ok(json_pack("{s:[s]}", "clusterArns",
	    "arn:aws:ecs:us-east-1:123456789012:cluster/c1"), "rid-1");
	params = json_pack("{s:s, s:[s]}", "cluster", "c1", "services", "s1");
	call(&o, AWS_SVC_ECS, "DescribeServices", params);
	json_decref(params);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	ck_assert_int_eq(o.status, 200);
	ck_assert_int_eq(o.attempts, 1);
	ck_assert_str_eq(o.request_id, "rid-1");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(
	    o.body, "clusterArns"), 0)),
	    "arn:aws:ecs:us-east-1:123456789012:cluster/c1");

	reqs = fc_requests();
	ck_assert_int_eq(json_array_size(reqs), 1);
	rq = json_array_get(reqs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(rq, "method")),
	    "POST");
	ck_assert_str_eq(json_string_value(json_object_get(rq, "target")),
	    "/");
	ck_assert_str_eq(json_string_value(json_object_get(rq, "body")),
	    "{\"cluster\":\"c1\",\"services\":[\"s1\"]}");
	snprintf(host, sizeof(host), "127.0.0.1:%d", fc_port());
	fc_assert_header(rq, "Host", host);
	fc_assert_header(rq, "Content-Type", "application/x-amz-json-1.1");
	fc_assert_header(rq, "X-Amz-Target",
	    "AmazonEC2ContainerServiceV20141113.DescribeServices");
	fc_assert_header(rq, "Content-Length", "34");
	fc_assert_no_header(rq, "x-amzn-query-mode");
	fc_assert_no_header(rq, "Expect");
	assert_signed(rq, AKID, SECRET, STOKEN, "ecs",
	    "content-type;host;x-amz-date;x-amz-security-token;x-amz-target");
	json_decref(reqs);
	outcome_free(&o);
}
END_TEST

START_TEST(each_service_on_the_wire)
{
	static const struct {
		enum aws_service svc;
		const char	*op;
		const char	*target;
		const char	*ctype;
		const char	*name;
		int		 query_mode;
	} t[] = {
		{ AWS_SVC_LOGS, "FilterLogEvents",
		  "Logs_20140328.FilterLogEvents",
		  "application/x-amz-json-1.1", "logs", 0 },
		{ AWS_SVC_MONITORING, "GetMetricData",
		  "GraniteServiceVersion20100801.GetMetricData",
		  "application/x-amz-json-1.0", "monitoring", 1 },
		{ AWS_SVC_SECRETSMANAGER, "GetSecretValue",
		  "secretsmanager.GetSecretValue",
		  "application/x-amz-json-1.1", "secretsmanager", 0 },
		{ AWS_SVC_ECS, "ListClusters",
		  "AmazonEC2ContainerServiceV20141113.ListClusters",
		  "application/x-amz-json-1.1", "ecs", 0 },
	};
	struct outcome o;
	json_t *reqs, *rq;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fc_reset();
		fs_push_ok(json_object(), "r");
		call(&o, t[i].svc, t[i].op, NULL);
		ck_assert_msg(o.err == AWS_OK, "%s", o.message);
		outcome_free(&o);
		reqs = fc_requests();
		ck_assert_int_eq(json_array_size(reqs), 1);
		rq = json_array_get(reqs, 0);
		ck_assert_str_eq(json_string_value(json_object_get(rq,
		    "body")), "{}");
		fc_assert_header(rq, "X-Amz-Target", t[i].target);
		fc_assert_header(rq, "Content-Type", t[i].ctype);
		if (t[i].query_mode) {
			fc_assert_header(rq, "x-amzn-query-mode", "true");
			assert_signed(rq, AKID, SECRET, STOKEN, t[i].name,
			    "content-type;host;x-amz-date;"
			    "x-amz-security-token;x-amz-target;"
			    "x-amzn-query-mode");
		} else {
			fc_assert_no_header(rq, "x-amzn-query-mode");
			assert_signed(rq, AKID, SECRET, STOKEN, t[i].name,
			    "content-type;host;x-amz-date;"
			    "x-amz-security-token;x-amz-target");
		}
		json_decref(reqs);
	}
}
END_TEST

START_TEST(long_term_credentials_send_no_token)
{
	struct outcome o;
	json_t *reqs;

	unsetenv("AWS_SESSION_TOKEN");
	rebuild();
	fs_push_ok(json_object(), "r");
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	outcome_free(&o);
	reqs = fc_requests();
	assert_signed(json_array_get(reqs, 0), AKID, SECRET, NULL, "ecs",
	    "content-type;host;x-amz-date;x-amz-target");
	json_decref(reqs);
}
END_TEST

START_TEST(endpoint_path_kept)
{
	struct outcome o;
	json_t *reqs, *rq;
	char url[128];

	/* a path under the endpoint is kept and signed */
	snprintf(url, sizeof(url), "%s/aws/proxy", fc_base());
	setenv("AWS_ENDPOINT_URL_ECS", url, 1);
	rebuild();
	fs_push_ok(json_object(), "r");
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	outcome_free(&o);
	reqs = fc_requests();
	rq = json_array_get(reqs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(rq, "target")),
	    "/aws/proxy/");
	assert_signed(rq, AKID, SECRET, STOKEN, "ecs",
	    "content-type;host;x-amz-date;x-amz-security-token;x-amz-target");
	json_decref(reqs);
}
END_TEST

/* ---- retries ---- */

START_TEST(throttled_twice_then_success)
{
	struct outcome o;
	json_t *reqs;
	size_t i;

	fs_push_error(400, "ThrottlingException", "Rate exceeded", "t-1", 1);
	fs_push_error(400, "com.amazonaws.ecs#TooManyRequestsException", NULL,
	    "t-2", 1);
	fs_push_ok(json_pack("{s:[]}", "clusterArns"), "t-3");
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	ck_assert_int_eq(o.attempts, 3);
	ck_assert_str_eq(o.request_id, "t-3");
	outcome_free(&o);
	reqs = fc_requests();
	ck_assert_int_eq(json_array_size(reqs), 3);
	for (i = 0; i < 3; i++)
		assert_signed(json_array_get(reqs, i), AKID, SECRET, STOKEN,
		    "ecs", "content-type;host;x-amz-date;"
		    "x-amz-security-token;x-amz-target");
	json_decref(reqs);
}
END_TEST

START_TEST(throttled_three_times_fails)
{
	struct outcome o;

	fs_push_error(400, "ThrottlingException", "Rate exceeded", "t-1", 1);
	fs_push_error(400, "ThrottlingException", "Rate exceeded", "t-2", 1);
	fs_push_error(400, "ThrottlingException", "Rate exceeded", "t-3", 1);
	fs_push_ok(json_object(), "never");
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.message, "ECS ListClusters failed: "
	    "ThrottlingException: Rate exceeded (request id t-3; gave up "
	    "after 3 attempts)");
	ck_assert_str_eq(o.code, "ThrottlingException");
	ck_assert_str_eq(o.request_id, "t-3");
	ck_assert_int_eq(o.status, 400);
	ck_assert_int_eq(o.attempts, 3);
	outcome_free(&o);
	run_for(NULL, 100);
	ck_assert_int_eq(fc_count(), 3);
}
END_TEST

START_TEST(max_attempts_option)
{
	struct outcome o;

	copts.max_attempts = 1;
	rebuild();
	fs_push_error(400, "ThrottlingException", "Rate exceeded", "t-1", 0);
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_str_eq(o.message, "ECS ListClusters failed: "
	    "ThrottlingException: Rate exceeded (request id t-1)");
	outcome_free(&o);
	ck_assert_int_eq(fc_count(), 1);
}
END_TEST

START_TEST(server_errors_retried)
{
	struct outcome o;

	fs_push_error(500, "InternalFailure", NULL, "s-1", 1);
	fc_push(json_pack("{s:i, s:s}", "status", 503, "body",
	    "<html>busy</html>"));
	fs_push_ok(json_pack("{s:i}", "n", 1), "s-3");
	call(&o, AWS_SVC_LOGS, "DescribeLogGroups", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	ck_assert_int_eq(o.attempts, 3);
	ck_assert_int_eq(json_integer_value(json_object_get(o.body, "n")), 1);
	outcome_free(&o);
	ck_assert_int_eq(fc_count(), 3);
}
END_TEST

START_TEST(server_errors_exhausted)
{
	struct outcome o;

	fc_push(json_pack("{s:i, s:s, s:i}", "status", 502, "body",
	    "<html>bad\r\ngateway</html>", "times", 0));
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.message, "ECS ListClusters failed: HTTP 502: "
	    "<html>bad  gateway</html> (no request id; gave up after 3 "
	    "attempts)");
	ck_assert_ptr_null(o.code);
	ck_assert_ptr_null(o.request_id);
	ck_assert_int_eq(o.status, 502);
	outcome_free(&o);
	ck_assert_int_eq(fc_count(), 3);
}
END_TEST

START_TEST(transient_codes_retried)
{
	static const char *const codes[] = {
		"RequestTimeout", "RequestTimeoutException", "InternalError",
		"ServiceUnavailable", "SlowDown", "RequestLimitExceeded",
		"LimitExceededException", "PriorRequestNotComplete",
	};
	struct outcome o;
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		fc_reset();
		fs_push_error(400, codes[i], "try again", "x", 1);
		fs_push_ok(json_object(), "y");
		call(&o, AWS_SVC_ECS, "ListClusters", NULL);
		ck_assert_msg(o.err == AWS_OK, "%s: %s", codes[i], o.message);
		ck_assert_int_eq(o.attempts, 2);
		outcome_free(&o);
	}
}
END_TEST

START_TEST(validation_error_not_retried)
{
	struct outcome o;

	fs_push_error(400, "ValidationException", "1 validation error "
	    "detected: Value '0' at 'limit' failed to satisfy constraint",
	    "v-1", 0);
	call(&o, AWS_SVC_LOGS, "FilterLogEvents", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.message, "CloudWatch Logs FilterLogEvents failed: "
	    "ValidationException: 1 validation error detected: Value '0' at "
	    "'limit' failed to satisfy constraint (request id v-1)");
	ck_assert_str_eq(o.code, "ValidationException");
	ck_assert_ptr_null(o.fault);
	ck_assert_int_eq(o.attempts, 1);
	outcome_free(&o);
	run_for(NULL, 100);
	ck_assert_int_eq(fc_count(), 1);
}
END_TEST

START_TEST(cloudwatch_query_error_code)
{
	struct outcome o;

	fc_push(json_pack("{s:i, s:{s:s, s:s}, s:{s:s, s:s}}", "status", 400,
	    "json", "__type",
	    "com.amazonaws.cloudwatch#InvalidParameterValueException",
	    "Message", "The value -1 for parameter Period is not valid.",
	    "headers", "x-amzn-query-error", "InvalidParameterValue;Sender",
	    "x-amzn-RequestId", "q-1"));
	call(&o, AWS_SVC_MONITORING, "GetMetricData", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.message, "CloudWatch GetMetricData failed: "
	    "InvalidParameterValue: The value -1 for parameter Period is not "
	    "valid. (request id q-1)");
	ck_assert_str_eq(o.code, "InvalidParameterValue");
	ck_assert_str_eq(o.fault, "Sender");
	outcome_free(&o);

	/* a throttling code given only in the query header is retried */
	fc_reset();
	fc_push(json_pack("{s:i, s:{s:s}, s:{s:s}}", "status", 400, "json",
	    "__type", "com.amazonaws.cloudwatch#SomethingElse", "headers",
	    "x-amzn-query-error", "Throttling;Sender"));
	fs_push_ok(json_object(), "q-2");
	call(&o, AWS_SVC_MONITORING, "DescribeAlarms", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	ck_assert_int_eq(o.attempts, 2);
	outcome_free(&o);
}
END_TEST

static double
half(void)
{
	return 0.5;
}

START_TEST(backoff_waits_between_attempts)
{
	struct outcome o;
	json_t *reqs;
	double t[3];
	size_t i;

	/* u = 0.5, base 0.2 s: waits of 0.1 s, then 0.2 s (lower bounds
	   only, with room for the loop's cached clock) */
	copts.backoff_base_s = 0.2;
	copts.backoff_cap_s = 20;
	copts.random = half;
	rebuild();
	fs_push_error(503, "ServiceUnavailable", NULL, "b", 2);
	fs_push_ok(json_object(), "c");
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	outcome_free(&o);
	reqs = fc_requests();
	ck_assert_int_eq(json_array_size(reqs), 3);
	for (i = 0; i < 3; i++)
		t[i] = json_number_value(json_object_get(json_array_get(reqs,
		    i), "t_ms"));
	ck_assert_msg(t[1] - t[0] >= 80, "%f", t[1] - t[0]);
	ck_assert_msg(t[2] - t[1] >= 160, "%f", t[2] - t[1]);
	json_decref(reqs);
}
END_TEST

/* ---- credentials ---- */

#define SECRET2		"se2/K7MDENG+bPxRfiCYEXAMPLEKEYtwo"
#define STOKEN2		"IQoJb3JpZ2luX2VjSECONDsessionTOKEN=="

/* Serve container credentials from the fault server at /creds/1. */
static void
use_container_creds(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds/1", 1);
	rebuild();
	ck_assert_int_eq(aws_creds_set_container_base(prov, fc_base()), 0);
}

/* Queue one container credentials answer, valid for 6 hours. */
static void
fs_push_creds(const char *akid, const char *secret, const char *token)
{
	char exp[32];
	time_t t = time(NULL) + 6 * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fc_push(json_pack("{s:i, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s}}",
	    "status", 200, "json", "AccessKeyId", akid, "SecretAccessKey",
	    secret, "Token", token, "Expiration", exp, "match", "method",
	    "GET", "prefix", "/creds/"));
}

START_TEST(expired_token_renews_credentials)
{
	struct outcome o;
	json_t *reqs;
	const char *const signed_h =
	    "content-type;host;x-amz-date;x-amz-security-token;x-amz-target";

	use_container_creds();
	fs_push_creds("ASIAFIRST", SECRET, STOKEN);
	fs_push_creds("ASIASECOND", SECRET2, STOKEN2);
	fs_push_error(400, "ExpiredTokenException", "The security token "
	    "included in the request is expired", "e-1", 1);
	fs_push_ok(json_object(), "e-2");
	call(&o, AWS_SVC_ECS, "ListServices", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	ck_assert_int_eq(o.attempts, 2);
	outcome_free(&o);
	reqs = fc_requests();
	ck_assert_int_eq(json_array_size(reqs), 4);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    reqs, 0), "method")), "GET");
	assert_signed(json_array_get(reqs, 1), "ASIAFIRST", SECRET, STOKEN,
	    "ecs", signed_h);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    reqs, 2), "method")), "GET");
	assert_signed(json_array_get(reqs, 3), "ASIASECOND", SECRET2, STOKEN2,
	    "ecs", signed_h);
	json_decref(reqs);
}
END_TEST

START_TEST(expired_token_retried_once)
{
	struct outcome o;
	json_t *reqs;
	size_t i, posts = 0;

	use_container_creds();
	fs_push_creds("ASIAFIRST", SECRET, STOKEN);
	fs_push_creds("ASIASECOND", SECRET2, STOKEN2);
	fs_push_error(403, "ExpiredToken", "The security token included in "
	    "the request is expired", "e-1", 0);
	call(&o, AWS_SVC_ECS, "ListServices", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.message, "ECS ListServices failed: ExpiredToken: "
	    "The security token included in the request is expired (request "
	    "id e-1; gave up after 2 attempts)");
	ck_assert_int_eq(o.attempts, 2);
	outcome_free(&o);
	run_for(NULL, 100);
	reqs = fc_requests();
	for (i = 0; i < json_array_size(reqs); i++)
		posts += strcmp(json_string_value(json_object_get(
		    json_array_get(reqs, i), "method")), "POST") == 0;
	ck_assert_int_eq(posts, 2);
	json_decref(reqs);
}
END_TEST

START_TEST(no_credentials_no_network)
{
	struct outcome o;

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	rebuild();
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_CONFIG);
	ck_assert_msg(strncmp(o.message, "ECS ListClusters failed: no AWS "
	    "credentials: environment: AWS_ACCESS_KEY_ID not set; web "
	    "identity: ", 87) == 0, "%s", o.message);
	ck_assert_msg(strstr(o.message, "; shared files: ") != NULL &&
	    strstr(o.message, "; container: ") != NULL, "%s", o.message);
	ck_assert_int_eq(o.attempts, 0);
	ck_assert_int_eq(o.status, 0);
	outcome_free(&o);
	ck_assert_int_eq(fc_count(), 0);
}
END_TEST

START_TEST(no_region_or_endpoint)
{
	struct outcome o;

	unsetenv("AWS_REGION");
	rebuild();
	call(&o, AWS_SVC_LOGS, "FilterLogEvents", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_CONFIG);
	ck_assert_str_eq(o.message, "CloudWatch Logs FilterLogEvents failed: "
	    "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region "
	    "in the profile's section of the config file)");
	outcome_free(&o);

	unsetenv("AWS_ENDPOINT_URL");
	rebuild();
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_CONFIG);
	ck_assert_msg(strncmp(o.message, "ECS ListClusters failed: ", 25) ==
	    0 && strstr(o.message, "AWS_REGION") != NULL, "%s", o.message);
	ck_assert_int_eq(o.attempts, 0);
	outcome_free(&o);
	ck_assert_int_eq(fc_count(), 0);
}
END_TEST

START_TEST(secrets_redacted_from_messages)
{
	struct outcome o;

	fs_push_error(400, "AccessDeniedException", "key " SECRET " and "
	    STOKEN " rejected", "a-1", 1);
	call(&o, AWS_SVC_SECRETSMANAGER, "GetSecretValue", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.message, "Secrets Manager GetSecretValue failed: "
	    "AccessDeniedException: key [REDACTED] and [REDACTED] rejected "
	    "(request id a-1)");
	outcome_free(&o);
}
END_TEST

/* ---- answers that are not what they should be ---- */

START_TEST(malformed_bodies)
{
	struct outcome o;

	fc_push(json_pack("{s:i, s:s, s:{s:s}}", "status", 200, "body",
	    "not json", "headers", "x-amzn-RequestId", "m-1"));
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_RESPONSE);
	ck_assert_msg(strncmp(o.message, "ECS ListClusters failed: the answer "
	    "is not JSON (request id m-1): ", 61) == 0 &&
	    strlen(o.message) > 61, "%s", o.message);
	ck_assert_ptr_null(o.code);
	ck_assert_int_eq(o.status, 200);
	ck_assert_int_eq(o.attempts, 1);
	outcome_free(&o);
	ck_assert_int_eq(fc_count(), 1);

	fc_push(json_pack("{s:i, s:s}", "status", 200, "body", "[1,2]"));
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_RESPONSE);
	ck_assert_str_eq(o.message, "ECS ListClusters failed: the answer is "
	    "not a JSON object (no request id)");
	outcome_free(&o);

	/* an empty 200 is an empty output */
	fc_push(json_pack("{s:i, s:s}", "status", 200, "body", ""));
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	ck_assert_int_eq(json_object_size(o.body), 0);
	outcome_free(&o);

	/* a 4xx that is not JSON: quoted, not retried */
	fc_push(json_pack("{s:i, s:s, s:i}", "status", 403, "body",
	    "Forbidden by proxy", "times", 0));
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.message, "ECS ListClusters failed: HTTP 403: "
	    "Forbidden by proxy (no request id)");
	outcome_free(&o);
	ck_assert_int_eq(fc_count(), 4);
}
END_TEST

START_TEST(response_too_large)
{
	struct outcome o;
	char want[256];

	fc_push(json_pack("{s:i, s:s, s:i}", "status", 200, "body", "x",
	    "repeat", MAX_RESPONSE + 1));
	call(&o, AWS_SVC_LOGS, "FilterLogEvents", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_RESPONSE);
	snprintf(want, sizeof(want), "CloudWatch Logs FilterLogEvents failed: "
	    "response from %s exceeds %d bytes", fc_base(), MAX_RESPONSE);
	ck_assert_str_eq(o.message, want);
	outcome_free(&o);
	run_for(NULL, 100);
	ck_assert_int_eq(fc_count(), 1);
}
END_TEST

/* A loopback port with nothing listening. */
static int
closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

START_TEST(network_errors)
{
	struct outcome o;
	char url[64], want[128];
	const char *tail = " (gave up after 3 attempts)";
	size_t n;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	setenv("AWS_ENDPOINT_URL_ECS", url, 1);
	rebuild();
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_int_eq(o.err, AWS_ERR_NETWORK);
	ck_assert_int_eq(o.attempts, 3);
	ck_assert_int_eq(o.status, 0);
	snprintf(want, sizeof(want), "ECS ListClusters failed: could not "
	    "reach %s: ", url);
	n = strlen(o.message);
	ck_assert_msg(strncmp(o.message, want, strlen(want)) == 0 &&
	    n > strlen(want) + strlen(tail) &&
	    strcmp(o.message + n - strlen(tail), tail) == 0, "%s", o.message);
	ck_assert_msg(strstr(o.message, "request to ") == NULL, "%s",
	    o.message);
	outcome_free(&o);

	/* a connection dropped without an answer is retried */
	unsetenv("AWS_ENDPOINT_URL_ECS");
	rebuild();
	fc_push(json_pack("{s:s, s:{s:s}}", "action", "drop", "match",
	    "method", "POST"));
	fs_push_ok(json_object(), "d-2");
	call(&o, AWS_SVC_ECS, "ListClusters", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	ck_assert_int_eq(o.attempts, 2);
	outcome_free(&o);
}
END_TEST

/* ---- cancellation and release ---- */

/* Wait until the server saw connection `conn` of request i close. */
static void
assert_conn_closed(size_t i)
{
	json_t *reqs, *r;
	json_int_t conn;

	reqs = fc_requests();
	conn = json_integer_value(json_object_get(json_array_get(reqs, i),
	    "conn"));
	json_decref(reqs);
	r = fc_cmd(json_pack("{s:s, s:I, s:i}", "cmd", "wait", "closed_conn",
	    conn, "timeout_ms", 5000 * t_slow()));
	ck_assert_msg(json_is_true(json_object_get(r, "ok")),
	    "server did not see the connection close");
	json_decref(r);
}

START_TEST(cancel_in_flight)
{
	struct outcome o;
	struct aws_call *k;

	memset(&o, 0, sizeof(o));
	fc_push(json_pack("{s:s}", "action", "hold"));
	k = aws_call(cl, AWS_SVC_ECS, "ListClusters", NULL, on_done, &o);
	ck_assert_ptr_nonnull(k);
	run_until_requests(1);
	aws_call_cancel(k);
	assert_conn_closed(0);
	run_for(NULL, 50);
	ck_assert_int_eq(o.done, 0);
	ck_assert_uint_eq(httpc_active(hc), 0);
}
END_TEST

START_TEST(cancel_while_waiting)
{
	struct outcome o;
	struct aws_call *k;

	/* before credentials arrive: nothing is ever sent */
	memset(&o, 0, sizeof(o));
	k = aws_call(cl, AWS_SVC_ECS, "ListClusters", NULL, on_done, &o);
	ck_assert_ptr_nonnull(k);
	aws_call_cancel(k);
	run_for(NULL, 100);
	ck_assert_int_eq(o.done, 0);
	ck_assert_int_eq(fc_count(), 0);

	/* during the backoff wait (2.5 s): no second attempt */
	copts.backoff_base_s = 5;
	copts.backoff_cap_s = 5;
	copts.random = half;
	rebuild();
	fs_push_error(400, "ThrottlingException", "slow down", "w-1", 0);
	k = aws_call(cl, AWS_SVC_ECS, "ListClusters", NULL, on_done, &o);
	ck_assert_ptr_nonnull(k);
	run_until_requests(1);
	run_for(NULL, 100);
	ck_assert_int_eq(httpc_active(hc), 0);	/* the answer is in */
	aws_call_cancel(k);
	run_for(NULL, 100);
	ck_assert_int_eq(o.done, 0);
	ck_assert_int_eq(fc_count(), 1);
}
END_TEST

struct self {
	struct aws_call	*k;
	struct outcome	 o;
};

static void
cancel_self_cb(const struct aws_result *res, void *arg)
{
	struct self *s = arg;

	aws_call_cancel(s->k);	/* a no-op inside its own callback */
	on_done(res, &s->o);
}

START_TEST(cancel_inside_own_callback)
{
	struct self s;

	memset(&s, 0, sizeof(s));
	fs_push_ok(json_object(), "c-1");
	s.k = aws_call(cl, AWS_SVC_ECS, "ListClusters", NULL, cancel_self_cb,
	    &s);
	ck_assert_ptr_nonnull(s.k);
	run(&s.o);
	ck_assert_int_eq(s.o.err, AWS_OK);
	outcome_free(&s.o);
}
END_TEST

START_TEST(free_with_calls_pending)
{
	struct outcome o1, o2;

	memset(&o1, 0, sizeof(o1));
	memset(&o2, 0, sizeof(o2));
	fc_push(json_pack("{s:s}", "action", "hold"));
	ck_assert_ptr_nonnull(aws_call(cl, AWS_SVC_ECS, "ListClusters", NULL,
	    on_done, &o1));
	run_until_requests(1);
	ck_assert_ptr_nonnull(aws_call(cl, AWS_SVC_LOGS, "DescribeLogGroups",
	    NULL, on_done, &o2));
	aws_client_free(cl);
	cl = NULL;
	assert_conn_closed(0);
	run_for(NULL, 100);
	ck_assert_int_eq(o1.done + o2.done, 0);
	ck_assert_int_eq(fc_count(), 1);
}
END_TEST

static void
free_client_cb(const struct aws_result *res, void *arg)
{
	on_done(res, arg);
	aws_client_free(cl);
	aws_client_free(cl);	/* twice: still deferred, still harmless */
	cl = NULL;
}

START_TEST(free_inside_callback)
{
	struct outcome o1, o2;

	memset(&o1, 0, sizeof(o1));
	memset(&o2, 0, sizeof(o2));
	fs_push_ok(json_object(), "f-1");
	ck_assert_ptr_nonnull(aws_call(cl, AWS_SVC_ECS, "ListClusters", NULL,
	    free_client_cb, &o1));
	run(&o1);
	ck_assert_int_eq(o1.err, AWS_OK);
	ck_assert_ptr_null(cl);
	outcome_free(&o1);

	/* with a second call in flight: it is closed, never answered */
	rebuild();
	fc_reset();
	fc_push(json_pack("{s:s, s:{s:s}}", "action", "hold", "match",
	    "method", "POST"));
	fs_push_ok(json_object(), "f-2");
	ck_assert_ptr_nonnull(aws_call(cl, AWS_SVC_LOGS, "DescribeLogGroups",
	    NULL, on_done, &o2));
	run_until_requests(1);
	/* the hold is spent; the next POST gets the 200 */
	ck_assert_ptr_nonnull(aws_call(cl, AWS_SVC_ECS, "ListClusters", NULL,
	    free_client_cb, &o1));
	run(&o1);
	ck_assert_int_eq(o1.err, AWS_OK);
	assert_conn_closed(0);
	run_for(NULL, 100);
	ck_assert_int_eq(o2.done, 0);
	outcome_free(&o1);
}
END_TEST

START_TEST(bad_arguments)
{
	struct outcome o;
	struct aws_call *k;
	char op[AWS_CLIENT_MAX_OPERATION + 2], err[128];
	json_t *arr = json_array(), *big;
	char *s;

	memset(&o, 0, sizeof(o));
	errno = 0;
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_STS, "GetCallerIdentity",
	    NULL, on_done, &o));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_COUNT, "X", NULL, on_done,
	    &o));
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_ECS, "", NULL, on_done, &o));
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_ECS, "List Clusters", NULL,
	    on_done, &o));
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_ECS, "ListClusters\r\nX: y",
	    NULL, on_done, &o));
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_ECS, NULL, NULL, on_done,
	    &o));
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_ECS, "ListClusters", NULL,
	    NULL, &o));
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_ECS, "ListClusters", arr,
	    on_done, &o));
	ck_assert_int_eq(errno, EINVAL);
	memset(op, 'A', sizeof(op));
	op[AWS_CLIENT_MAX_OPERATION + 1] = '\0';
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_ECS, op, NULL, on_done, &o));
	op[AWS_CLIENT_MAX_OPERATION] = '\0';
	k = aws_call(cl, AWS_SVC_ECS, op, NULL, on_done, &o);
	ck_assert_ptr_nonnull(k);
	aws_call_cancel(k);

	/* the body bound: one byte over is refused, at it is sent */
	s = malloc(AWS_CLIENT_MAX_BODY);
	ck_assert_ptr_nonnull(s);
	memset(s, 'a', AWS_CLIENT_MAX_BODY);
	big = json_pack("{s:s#}", "k", s, (int)(AWS_CLIENT_MAX_BODY - 7));
	errno = 0;
	ck_assert_ptr_null(aws_call(cl, AWS_SVC_LOGS, "PutLogEvents", big,
	    on_done, &o));
	ck_assert_int_eq(errno, EMSGSIZE);
	json_decref(big);
	big = json_pack("{s:s#}", "k", s, (int)(AWS_CLIENT_MAX_BODY - 8));
	k = aws_call(cl, AWS_SVC_LOGS, "PutLogEvents", big, on_done, &o);
	ck_assert_ptr_nonnull(k);
	aws_call_cancel(k);
	json_decref(big);
	free(s);
	json_decref(arr);
	ck_assert_int_eq(o.done, 0);

	ck_assert_ptr_null(aws_client_new(loop, hc, NULL, &cfg, NULL, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "aws_client_new: missing argument");
	aws_client_free(NULL);
	aws_call_cancel(NULL);
}
END_TEST

/* ---- error parsing, no server ---- */

/* Parse an answer made of status, body and NULL-terminated name/value
   pairs. */
static void
parse(long status, const char *body, const char *const *hv,
    struct aws_error *e)
{
	struct httpc_header h[8];
	struct httpc_response r;
	size_t n = 0;

	memset(&r, 0, sizeof(r));
	for (; hv != NULL && hv[0] != NULL; hv += 2, n++) {
		h[n].name = (char *)hv[0];
		h[n].value = (char *)hv[1];
	}
	r.status = status;
	r.body = body;
	r.body_len = strlen(body);
	r.headers = h;
	r.nheaders = n;
	aws_error_parse(&r, e);
}

START_TEST(error_parsing)
{
	struct aws_error e;
	char big[4096], rid[400];
	size_t i;

	parse(400, "{\"__type\":\"com.amazonaws.ecs#ClusterNotFoundException\","
	    "\"message\":\"Cluster not found.\"}", (const char *const[]){
	    "x-amzn-RequestId", "9f0c-1", NULL }, &e);
	ck_assert_str_eq(e.code, "ClusterNotFoundException");
	ck_assert_str_eq(e.message, "Cluster not found.");
	ck_assert_str_eq(e.request_id, "9f0c-1");
	ck_assert_str_eq(e.fault, "");

	parse(400, "{\"__type\":\"ExpiredTokenException:http://internal.amazon"
	    ".com/coral/com.amazon.coral.service/\",\"Message\":\"expired\"}",
	    (const char *const[]){ "x-amz-request-id", "s3-style", NULL }, &e);
	ck_assert_str_eq(e.code, "ExpiredTokenException");
	ck_assert_str_eq(e.message, "expired");
	ck_assert_str_eq(e.request_id, "s3-style");

	/* x-amzn-RequestId wins; "code" and errorMessage as fallbacks */
	parse(400, "{\"code\":\"aws.x#Odd\",\"errorMessage\":\"em\"}",
	    (const char *const[]){ "x-amz-request-id", "second",
	    "X-AMZN-REQUESTID", "first", NULL }, &e);
	ck_assert_str_eq(e.code, "Odd");
	ck_assert_str_eq(e.message, "em");
	ck_assert_str_eq(e.request_id, "first");

	/* the query header wins over __type */
	parse(400, "{\"__type\":\"ns#ResourceNotFoundException\",\"message\":"
	    "\"m\",\"Message\":\"M\"}", (const char *const[]){
	    "x-amzn-query-error", "ResourceNotFound;Sender", NULL }, &e);
	ck_assert_str_eq(e.code, "ResourceNotFound");
	ck_assert_str_eq(e.fault, "Sender");
	ck_assert_str_eq(e.message, "m");
	parse(400, "{\"__type\":\"A\"}", (const char *const[]){
	    "x-amzn-query-error", ";Sender", NULL }, &e);
	ck_assert_str_eq(e.code, "A");

	/* the error-type header as the last resort; non-JSON body */
	parse(404, "<html/>", (const char *const[]){ "X-Amzn-Errortype",
	    "ResourceNotFoundException:http://internal.amazon.com/", NULL },
	    &e);
	ck_assert_str_eq(e.code, "ResourceNotFoundException");
	ck_assert_str_eq(e.message, "");
	parse(500, "", NULL, &e);
	ck_assert_str_eq(e.code, "");
	ck_assert_str_eq(e.request_id, "");

	/* bounds and control bytes */
	for (i = 0; i + 2 < sizeof(big) - 40; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);	/* é */
	big[i] = '\0';
	{
		char *doc = malloc(strlen(big) + 64);

		sprintf(doc, "{\"__type\":\"X\",\"message\":\"a\\nb%s\"}",
		    big);
		parse(400, doc, NULL, &e);
		free(doc);
	}
	ck_assert_int_le(strlen(e.message), AWS_CLIENT_MAX_TEXT - 1);
	ck_assert_int_ge(strlen(e.message), AWS_CLIENT_MAX_TEXT - 5);
	ck_assert(strncmp(e.message, "a b\xc3\xa9", 5) == 0);
	ck_assert_str_eq(e.message + strlen(e.message) - 3, "...");
	ck_assert_int_eq((unsigned char)e.message[strlen(e.message) - 4],
	    0xa9);
	memset(rid, 'r', sizeof(rid) - 1);
	rid[sizeof(rid) - 1] = '\0';
	rid[3] = ' ';
	parse(400, "{}", (const char *const[]){ "x-amzn-RequestId", rid,
	    NULL }, &e);
	ck_assert_int_eq(strlen(e.request_id), AWS_CLIENT_MAX_REQID - 1);
	ck_assert_int_eq(e.request_id[3], '?');
}
END_TEST

START_TEST(code_classes)
{
	static const char *const thr[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException",
		"TransactionInProgressException", "RequestLimitExceeded",
		"BandwidthLimitExceeded", "LimitExceededException",
		"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
		"EC2ThrottledException",
	};
	static const char *const tra[] = {
		"RequestTimeout", "RequestTimeoutException", "InternalError",
		"InternalFailure", "ServiceUnavailable",
	};
	size_t i;

	for (i = 0; i < sizeof(thr) / sizeof(thr[0]); i++)
		ck_assert_msg(aws_code_is_throttling(thr[i]), "%s", thr[i]);
	for (i = 0; i < sizeof(tra) / sizeof(tra[0]); i++)
		ck_assert_msg(aws_code_is_transient(tra[i]), "%s", tra[i]);
	ck_assert(aws_code_is_expired("ExpiredToken"));
	ck_assert(aws_code_is_expired("ExpiredTokenException"));
	ck_assert(!aws_code_is_throttling("ValidationException"));
	ck_assert(!aws_code_is_throttling("throttling"));
	ck_assert(!aws_code_is_transient(NULL));
	ck_assert(!aws_code_is_expired("InvalidClientTokenId"));
	ck_assert_str_eq(aws_service_title(AWS_SVC_LOGS), "CloudWatch Logs");
	ck_assert_str_eq(aws_service_title(AWS_SVC_COUNT), "AWS");
	ck_assert_str_eq(aws_err_name(AWS_ERR_NETWORK), "network");
}
END_TEST

/* ---- moto_server ---- */

static void
moto_setup(void)
{
	char url[64];

	if (moto_port == 0)
		ck_abort_msg("moto_server not available: %s", moto_why);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", moto_port);
	env_reset(url);
	loop_setup();
}

/* Call and require success; the output (new reference) is returned. */
static json_t *
moto_ok(enum aws_service svc, const char *op, json_t *params)
{
	struct outcome o;
	json_t *body;

	call(&o, svc, op, params);
	json_decref(params);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	ck_assert_int_eq(o.status, 200);
	body = json_incref(o.body);
	outcome_free(&o);
	return body;
}

/* moto's request ids: 52 letters and digits. */
static void
assert_moto_request_id(const char *rid)
{
	regex_t re;

	ck_assert_ptr_nonnull(rid);
	ck_assert_int_eq(regcomp(&re, "^[A-Za-z0-9]{52}$", REG_EXTENDED |
	    REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, rid, 0, NULL, 0) == 0, "%s", rid);
	regfree(&re);
}

START_TEST(moto_ecs_clusters)
{
	json_t *out, *arns, *v;
	char name[64], suffix[80];
	size_t i;
	int found = 0;

	snprintf(name, sizeof(name), "afu9-%ld", (long)getpid());
	out = moto_ok(AWS_SVC_ECS, "CreateCluster", json_pack("{s:s}",
	    "clusterName", name));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    out, "cluster"), "clusterName")), name);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    out, "cluster"), "status")), "ACTIVE");
	json_decref(out);

	out = moto_ok(AWS_SVC_ECS, "ListClusters", json_object());
	snprintf(suffix, sizeof(suffix), ":cluster/%s", name);
	arns = json_object_get(out, "clusterArns");
	json_array_foreach(arns, i, v) {
		const char *a = json_string_value(v);

		if (strlen(a) > strlen(suffix) && strcmp(a + strlen(a) -
		    strlen(suffix), suffix) == 0)
			found++;
	}
	ck_assert_msg(found == 1, "%s not listed", name);
	json_decref(out);

	out = moto_ok(AWS_SVC_ECS, "DescribeClusters", json_pack("{s:[s]}",
	    "clusters", name));
	ck_assert_int_eq(json_array_size(json_object_get(out, "clusters")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(out, "clusters"), 0), "clusterName")), name);
	ck_assert_int_eq(json_array_size(json_object_get(out, "failures")), 0);
	json_decref(out);
}
END_TEST

START_TEST(moto_ecs_error)
{
	struct outcome o;
	json_t *params;
	char want[256];

	params = json_pack("{s:s, s:[s]}", "cluster", "afu9-no-such-cluster",
	    "services", "web");
	call(&o, AWS_SVC_ECS, "DescribeServices", params);
	json_decref(params);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.code, "ClusterNotFoundException");
	ck_assert_int_eq(o.status, 400);
	ck_assert_int_eq(o.attempts, 1);
	assert_moto_request_id(o.request_id);
	snprintf(want, sizeof(want), "ECS DescribeServices failed: "
	    "ClusterNotFoundException: Cluster not found. (request id %s)",
	    o.request_id);
	ck_assert_str_eq(o.message, want);
	outcome_free(&o);
}
END_TEST

START_TEST(moto_logs)
{
	struct outcome o;
	json_t *out, *ev, *params;
	char group[64];
	long long now_ms = (long long)time(NULL) * 1000;

	snprintf(group, sizeof(group), "/afu9/test-%ld", (long)getpid());
	json_decref(moto_ok(AWS_SVC_LOGS, "CreateLogGroup", json_pack("{s:s}",
	    "logGroupName", group)));
	json_decref(moto_ok(AWS_SVC_LOGS, "CreateLogStream", json_pack(
	    "{s:s, s:s}", "logGroupName", group, "logStreamName", "app")));
	out = moto_ok(AWS_SVC_LOGS, "PutLogEvents", json_pack("{s:s, s:s, "
	    "s:[{s:I, s:s}, {s:I, s:s}]}", "logGroupName", group,
	    "logStreamName", "app", "logEvents", "timestamp",
	    (json_int_t)(now_ms - 1000), "message", "INFO started",
	    "timestamp", (json_int_t)now_ms, "message", "ERROR boom"));
	json_decref(out);
	out = moto_ok(AWS_SVC_LOGS, "FilterLogEvents", json_pack("{s:s, s:s}",
	    "logGroupName", group, "filterPattern", "ERROR"));
	ev = json_object_get(out, "events");
	ck_assert_int_eq(json_array_size(ev), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ev,
	    0), "message")), "ERROR boom");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ev,
	    0), "logStreamName")), "app");
	json_decref(out);

	/* a second create: the service's own error, not retried */
	params = json_pack("{s:s}", "logGroupName", group);
	call(&o, AWS_SVC_LOGS, "CreateLogGroup", params);
	json_decref(params);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.code, "ResourceAlreadyExistsException");
	ck_assert_int_eq(o.attempts, 1);
	assert_moto_request_id(o.request_id);
	outcome_free(&o);
}
END_TEST

/*
 * CloudWatch in its JSON protocol (awsJson1_0 with x-amzn-query-mode):
 * moto 5 answers it, and its errors carry x-amzn-query-error.
 */
START_TEST(moto_cloudwatch)
{
	struct outcome o;
	json_t *out, *r, *params;
	char ns[64], alarm[64], want[256];
	long long now = (long long)time(NULL);

	snprintf(ns, sizeof(ns), "afu9/test-%ld", (long)getpid());
	snprintf(alarm, sizeof(alarm), "afu9-alarm-%ld", (long)getpid());
	json_decref(moto_ok(AWS_SVC_MONITORING, "PutMetricData", json_pack(
	    "{s:s, s:[{s:s, s:f, s:s}]}", "Namespace", ns, "MetricData",
	    "MetricName", "deploys", "Value", 3.0, "Unit", "Count")));
	out = moto_ok(AWS_SVC_MONITORING, "GetMetricData", json_pack(
	    "{s:[{s:s, s:{s:{s:s, s:s}, s:i, s:s}}], s:I, s:I}",
	    "MetricDataQueries", "Id", "q1", "MetricStat", "Metric",
	    "Namespace", ns, "MetricName", "deploys", "Period", 60, "Stat",
	    "Sum", "StartTime", (json_int_t)(now - 600), "EndTime",
	    (json_int_t)(now + 600)));
	r = json_array_get(json_object_get(out, "MetricDataResults"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(r, "Id")), "q1");
	ck_assert(json_number_value(json_array_get(json_object_get(r,
	    "Values"), 0)) == 3.0);
	json_decref(out);

	json_decref(moto_ok(AWS_SVC_MONITORING, "PutMetricAlarm", json_pack(
	    "{s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:s}", "AlarmName", alarm,
	    "MetricName", "deploys", "Namespace", ns, "Statistic", "Sum",
	    "Period", 60, "EvaluationPeriods", 1, "Threshold", 5.0,
	    "ComparisonOperator", "GreaterThanThreshold")));
	out = moto_ok(AWS_SVC_MONITORING, "DescribeAlarms", json_pack(
	    "{s:[s]}", "AlarmNames", alarm));
	ck_assert_int_eq(json_array_size(json_object_get(out,
	    "MetricAlarms")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(out, "MetricAlarms"), 0), "AlarmName")), alarm);
	json_decref(out);

	params = json_pack("{s:s}", "DashboardName", "afu9-no-such-board");
	call(&o, AWS_SVC_MONITORING, "GetDashboard", params);
	json_decref(params);
	ck_assert_int_eq(o.err, AWS_ERR_SERVICE);
	ck_assert_str_eq(o.code, "ResourceNotFound");
	ck_assert_str_eq(o.fault, "Sender");
	ck_assert_int_eq(o.status, 404);
	assert_moto_request_id(o.request_id);
	snprintf(want, sizeof(want), "CloudWatch GetDashboard failed: "
	    "ResourceNotFound: Dashboard does not exist (request id %s)",
	    o.request_id);
	ck_assert_str_eq(o.message, want);
	outcome_free(&o);
}
END_TEST

static void
moto_teardown(void)
{
	if (loop != NULL)	/* NULL: moto_setup() gave up */
		teardown();
}

/* ---- afu9's signatures against botocore's signer ---- */

#define SIGNED_JSON \
	"content-type;host;x-amz-date;x-amz-security-token;x-amz-target"

static void
botocore_setup(void)
{
	if (!bc_ready)	/* only with AFU9_REQUIRE_MOTO=1 */
		ck_abort_msg("botocore not available: %s", bc_why);
	setup();
}

static void
botocore_teardown(void)
{
	if (loop != NULL)	/* NULL: botocore_setup() gave up */
		teardown();
}

/*
 * Make one call (params borrowed), answered 200 {}, and return the one
 * request the server saw (new reference to the array holding it in *reqs).
 */
static const json_t *
one_request(json_t **reqs, enum aws_service svc, const char *op,
    const json_t *params)
{
	struct outcome o;

	fc_reset();
	fs_push_ok(json_object(), "r");
	call(&o, svc, op, params);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	outcome_free(&o);
	*reqs = fc_requests();
	ck_assert_int_eq(json_array_size(*reqs), 1);
	return json_array_get(*reqs, 0);
}

/* Each service afu9 calls, with a session token, bodies as afu9 sends
   them (UTF-8, escapes, numbers). */
START_TEST(botocore_each_service)
{
	static const struct {
		enum aws_service svc;
		const char	*op;
		const char	*params;
		const char	*target;
		const char	*name;
		const char	*signed_want;
	} t[] = {
		{ AWS_SVC_ECS, "DescribeServices",
		  "{\"cluster\": \"prod\", \"services\": [\"web\", \"api\"], "
		  "\"include\": [\"TAGS\"]}",
		  "AmazonEC2ContainerServiceV20141113.DescribeServices",
		  "ecs", SIGNED_JSON },
		{ AWS_SVC_LOGS, "FilterLogEvents",
		  "{\"logGroupName\": \"/ecs/web\", \"filterPattern\": "
		  "\"\\\"ERROR\\\" \u00e9t\u00e9 \u2713 \\\\d+\", "
		  "\"startTime\": 1700000000000, \"limit\": 100}",
		  "Logs_20140328.FilterLogEvents", "logs", SIGNED_JSON },
		{ AWS_SVC_MONITORING, "GetMetricData",
		  "{\"MetricDataQueries\": [{\"Id\": \"cpu\", \"MetricStat\": "
		  "{\"Metric\": {\"Namespace\": \"AWS/ECS\", \"MetricName\": "
		  "\"CPUUtilization\", \"Dimensions\": [{\"Name\": "
		  "\"ClusterName\", \"Value\": \"prod\"}]}, \"Period\": 300, "
		  "\"Stat\": \"Average\"}}], \"StartTime\": 1700000000, "
		  "\"EndTime\": 1700003600.5}",
		  "GraniteServiceVersion20100801.GetMetricData", "monitoring",
		  SIGNED_JSON ";x-amzn-query-mode" },
		{ AWS_SVC_SECRETSMANAGER, "GetSecretValue",
		  "{\"SecretId\": \"prod/db+main@x=1\"}",
		  "secretsmanager.GetSecretValue", "secretsmanager",
		  SIGNED_JSON },
	};
	json_t *params, *reqs;
	const json_t *rq;
	json_error_t jerr;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		params = json_loads(t[i].params, 0, &jerr);
		ck_assert_msg(params != NULL, "%s", jerr.text);
		rq = one_request(&reqs, t[i].svc, t[i].op, params);
		json_decref(params);
		fc_assert_header(rq, "X-Amz-Target", t[i].target);
		if (t[i].svc == AWS_SVC_MONITORING)
			fc_assert_header(rq, "x-amzn-query-mode", "true");
		if (t[i].svc == AWS_SVC_LOGS)	/* the UTF-8 went as is */
			ck_assert_ptr_nonnull(strstr(json_string_value(
			    json_object_get(rq, "body")), "\u00e9t\u00e9 "
			    "\u2713"));
		assert_botocore(rq, AKID, SECRET, STOKEN, "us-east-1",
		    t[i].name, t[i].signed_want);
		json_decref(reqs);
	}
}
END_TEST

START_TEST(botocore_long_term_credentials)
{
	json_t *reqs;
	const json_t *rq;

	unsetenv("AWS_SESSION_TOKEN");
	rebuild();
	rq = one_request(&reqs, AWS_SVC_LOGS, "DescribeLogGroups", NULL);
	assert_botocore(rq, AKID, SECRET, NULL, "us-east-1", "logs",
	    "content-type;host;x-amz-date;x-amz-target");
	json_decref(reqs);
}
END_TEST

/* Another region is in the scope and the signing key. */
START_TEST(botocore_other_region)
{
	json_t *reqs;
	const json_t *rq;

	setenv("AWS_REGION", "ap-southeast-2", 1);
	rebuild();
	rq = one_request(&reqs, AWS_SVC_MONITORING, "DescribeAlarms", NULL);
	assert_botocore(rq, AKID, SECRET, STOKEN, "ap-southeast-2",
	    "monitoring", SIGNED_JSON ";x-amzn-query-mode");
	json_decref(reqs);
}
END_TEST

/*
 * Endpoints with a path: a plain prefix, one with bytes the canonical URI
 * percent-encodes (an escape in it encoded again, as every service but S3
 * expects), and dot segments.  The recorded target is what went on the
 * wire; botocore signs that.
 */
START_TEST(botocore_endpoint_paths)
{
	static const struct {
		const char	*path;	/* after the base URL */
		const char	*sent;	/* the target on the wire */
	} t[] = {
		{ "/prefix", "/prefix/" },
		{ "/aws/proxy/", "/aws/proxy/" },
		{ "/a%20b/c:d=e,f(g)!*'$@+~x", "/a%20b/c:d=e,f(g)!*'$@+~x/" },
		{ "/x/./y/../z", "/x/z/" },
	};
	json_t *reqs;
	const json_t *rq;
	char url[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(url, sizeof(url), "%s%s", fc_base(), t[i].path);
		setenv("AWS_ENDPOINT_URL_ECS", url, 1);
		rebuild();
		rq = one_request(&reqs, AWS_SVC_ECS, "ListServices", NULL);
		ck_assert_str_eq(json_string_value(json_object_get(rq,
		    "target")), t[i].sent);
		assert_botocore(rq, AKID, SECRET, STOKEN, "us-east-1", "ecs",
		    SIGNED_JSON);
		json_decref(reqs);
	}
}
END_TEST

/* Every attempt of a retried call is signed afresh, and right. */
START_TEST(botocore_retried_attempts)
{
	struct outcome o;
	json_t *reqs;
	size_t i;

	fs_push_error(400, "ThrottlingException", "Rate exceeded", "t-1", 1);
	fs_push_error(503, "ServiceUnavailableException", NULL, "t-2", 1);
	fs_push_ok(json_object(), "t-3");
	call(&o, AWS_SVC_ECS, "UpdateService", NULL);
	ck_assert_msg(o.err == AWS_OK, "%s", o.message);
	ck_assert_int_eq(o.attempts, 3);
	outcome_free(&o);
	reqs = fc_requests();
	ck_assert_int_eq(json_array_size(reqs), 3);
	for (i = 0; i < 3; i++)
		assert_botocore(json_array_get(reqs, i), AKID, SECRET, STOKEN,
		    "us-east-1", "ecs", SIGNED_JSON);
	json_decref(reqs);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("awsclient");
	TCase *tc;
	int failed, with_moto, with_bc;

	/* the fault server and moto are test tools: never wrapped */
	unsetenv("AFU9_TEST_WRAPPER");
	fc_start();
	moto_port = fc_moto_start(&moto, moto_why, sizeof(moto_why));
	bc_start();
	with_moto = fc_tool_wanted(moto_port != 0, moto_why, "moto tests");
	with_bc = fc_tool_wanted(bc_ready, bc_why, "botocore cross-check");

	tc = tcase_create("parse");
	tcase_add_test(tc, error_parsing);
	tcase_add_test(tc, code_classes);
	suite_add_tcase(s, tc);

	tc = tcase_create("fault");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ecs_request_on_the_wire);
	tcase_add_test(tc, each_service_on_the_wire);
	tcase_add_test(tc, long_term_credentials_send_no_token);
	tcase_add_test(tc, endpoint_path_kept);
	tcase_add_test(tc, throttled_twice_then_success);
	tcase_add_test(tc, throttled_three_times_fails);
	tcase_add_test(tc, max_attempts_option);
	tcase_add_test(tc, server_errors_retried);
	tcase_add_test(tc, server_errors_exhausted);
	tcase_add_test(tc, transient_codes_retried);
	tcase_add_test(tc, validation_error_not_retried);
	tcase_add_test(tc, cloudwatch_query_error_code);
	tcase_add_test(tc, backoff_waits_between_attempts);
	tcase_add_test(tc, expired_token_renews_credentials);
	tcase_add_test(tc, expired_token_retried_once);
	tcase_add_test(tc, no_credentials_no_network);
	tcase_add_test(tc, no_region_or_endpoint);
	tcase_add_test(tc, secrets_redacted_from_messages);
	tcase_add_test(tc, malformed_bodies);
	tcase_add_test(tc, response_too_large);
	tcase_add_test(tc, network_errors);
	tcase_add_test(tc, cancel_in_flight);
	tcase_add_test(tc, cancel_while_waiting);
	tcase_add_test(tc, cancel_inside_own_callback);
	tcase_add_test(tc, free_with_calls_pending);
	tcase_add_test(tc, free_inside_callback);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);

	if (with_moto) {
		tc = tcase_create("moto");
		/* moto's first call of a service loads it: seconds */
		tcase_set_timeout(tc, 20 * t_slow());
		tcase_add_checked_fixture(tc, moto_setup, moto_teardown);
		tcase_add_test(tc, moto_ecs_clusters);
		tcase_add_test(tc, moto_ecs_error);
		tcase_add_test(tc, moto_logs);
		tcase_add_test(tc, moto_cloudwatch);
		suite_add_tcase(s, tc);
	}

	if (with_bc) {
		tc = tcase_create("botocore");
		tcase_add_checked_fixture(tc, botocore_setup,
		    botocore_teardown);
		tcase_add_test(tc, botocore_each_service);
		tcase_add_test(tc, botocore_long_term_credentials);
		tcase_add_test(tc, botocore_other_region);
		tcase_add_test(tc, botocore_endpoint_paths);
		tcase_add_test(tc, botocore_retried_attempts);
		suite_add_tcase(s, tc);
	}

	failed = t_run(s);
	fc_stop(5000);
	if (moto.pid > 0)
		t_finish(&moto, 10000);
	if (bc.pid > 0)
		t_finish(&bc, 5000);
	return failed;
}
