/*
 * GitHub webhooks (orchestrator/api/webhook.h) through the afu9 binary
 * with a real PostgreSQL (t/pgtest.h), fed the real payloads of the npm
 * package @octokit/webhooks-examples (t/node_modules), each signed as
 * GitHub signs: HMAC-SHA256 of the exact body bytes under the secret, in
 * X-Hub-Signature-256.
 *
 * No route without a secret; the signature (missing, wrong, malformed,
 * repeated: 401 and nothing stored); headers and bodies out of form; an
 * example of every event (recorded, answered, handled: ping and unknown
 * events ignored); the rules (issues labelled afu9 -> a workflow,
 * pull_request merged into the default branch -> another, an input the
 * workflow's schema refuses); redeliveries deduplicated; check_suite
 * completed waking the wait step parked on that repository and commit
 * only; the 25 MB bound and the server's own bound elsewhere; a dead
 * task's claim taken over without starting its execution twice, a live
 * one's left alone, and a delivery given up after its attempts.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>
#include <sodium.h>

#include "httptest.h"
#include "orchtest.h"
#include "pgquery.h"
#include "pgtest.h"
#include "testutil.h"

#define SECRET	"whsec-Vq3Lw8Rz5Nk2Xc7Hp4"
#define TOKEN	"apitok-Vq3Lw8Rz5Nk2Xc7H"	/* the console's login */
#define REPO	"Codertocat/Hello-World"	/* the examples' */
#define SHA	"ec26c3e57ca3a959ca5aad62de7213c562f8c821"
#define EXAMPLES \
	"t/node_modules/@octokit/webhooks-examples/api.github.com/index.json"

static char tmpdir[] = "/tmp/afu9-webhooks-XXXXXX";
static struct pgtest *pg;
static json_t *examples;	/* {event: [payload, ...]} */

/* ---- the database ---- */

static void
pg_up(void)
{
	pg = pgt_start_db(NULL);
}

static void
pg_down(void)
{
	pgt_stop(pg);
	pg = NULL;
}

/* Wait until no delivery is left unhandled but those claimed by others
   ('alive'); fails after a generous deadline. */
static void
wait_handled(const char *ci)
{
	q_wait(ci, "SELECT count(*) FROM webhook_events WHERE processed_at IS "
	    "NULL AND claimed_by IS DISTINCT FROM 'alive'", 0, 30000);
}

/* ---- afu9 serve ---- */

struct afu9 {
	struct tproc	 p;
	int		 port;
	char		*log;
};

static void
start_serve(struct afu9 *a, const char *config)
{
	const char *args[] = { "serve", "--config", config, NULL };
	char *at;
	int eof;

	ot_spawn_afu9(&a->p, args);
	a->log = t_read_until(a->p.err, "(port ", 20000 * t_slow(), &eof);
	ck_assert_msg(a->log && (at = strstr(a->log, "(port ")) != NULL,
	    "no listening line: %s", a->log ? a->log : "(nothing)");
	a->port = atoi(at + 6);
	ck_assert_int_gt(a->port, 0);
}

/* SIGTERM; exit 0 and the secret never in its log. */
static void
end_ok(struct afu9 *a)
{
	char *rest, *log;
	int eof, st;

	kill(a->p.pid, SIGTERM);
	rest = t_read_until(a->p.err, "\001never", 20000 * t_slow(), &eof);
	close(a->p.in);
	st = t_finish(&a->p, 20000 * t_slow());
	close(a->p.out);
	close(a->p.err);
	ck_assert_int_ne(asprintf(&log, "%s%s", a->log, rest ? rest : ""),
	    -1);
	free(a->log);
	free(rest);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, log);
	ck_assert_msg(!strstr(log, SECRET), "the secret in the log: %s", log);
	free(log);
}

static const char *
config(const char *rules)
{
	static char text[8192];

	snprintf(text, sizeof(text), "{\"mcpServers\":{\"conf\":{\"command\":"
	    "\"@SERVER@\"}},\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"},"
	    "\"shutdownGraceMs\":3000%s%s}}", rules ? ",\"webhooks\":" : "",
	    rules ? rules : "");
	return ot_write_config(tmpdir, "wh.json", text);
}

/* ---- HTTP ---- */

/* "sha256=" and the hex HMAC-SHA256 of body under SECRET, into out. */
static void
sign(const char *body, size_t len, char out[72])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET,
	    strlen(SECRET));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "sha256=", 7);
	sodium_bin2hex(out + 7, 65, mac, sizeof(mac));
}

/*
 * POST body as delivery `delivery` of `event` to the webhook route:
 * signed unless sig is given ("" : no signature header), with extra
 * header lines (each ending in \r\n) and application/json unless extra
 * has a Content-Type.
 */
static void
deliver(int port, const char *event, const char *delivery, const char *body,
    const char *sig, const char *extra, struct ht_resp *r)
{
	char mine[72], *head;
	size_t len = strlen(body);

	if (sig == NULL) {
		sign(body, len, mine);
		sig = mine;
	}
	ck_assert_int_ne(asprintf(&head, "POST /v1/webhooks/github HTTP/1.1\r\n"
	    "Host: t\r\nConnection: close\r\nUser-Agent: GitHub-Hookshot/t\r\n"
	    "%s%s%s%s%s%s%s%s%sContent-Length: %zu\r\n",
	    event ? "X-GitHub-Event: " : "", event ? event : "",
	    event ? "\r\n" : "", delivery ? "X-GitHub-Delivery: " : "",
	    delivery ? delivery : "", delivery ? "\r\n" : "",
	    *sig ? "X-Hub-Signature-256: " : "", sig, *sig ? "\r\n" : "",
	    len), -1);
	{
		char *h2;

		ck_assert_int_ne(asprintf(&h2, "%s%s%s\r\n", head, extra ?
		    extra : "", extra && strcasestr(extra, "content-type:") ? "" :
		    "Content-Type: application/json\r\n"), -1);
		free(head);
		head = h2;
	}
	ht_send(port, head, body, len, r);
	free(head);
}

/* deliver() a payload (JSON, borrowed) that must be answered status. */
static void
deliver_ok(int port, const char *event, const char *delivery,
    const json_t *payload, int status)
{
	char *body = json_dumps(payload, JSON_COMPACT);
	struct ht_resp r;

	ck_assert_ptr_nonnull(body);
	deliver(port, event, delivery, body, NULL, NULL, &r);
	ck_assert_msg(r.status == status, "%s %s: %d, want %d: %s", event,
	    delivery, r.status, status, r.body);
	ck_assert_msg(strcasestr(r.head, "\r\nContent-Type: application/json"),
	    "%s", r.head);
	ht_resp_free(&r);
	free(body);
}

/* A copy of the first example of event with action (NULL: any). */
static json_t *
example(const char *event, const char *action)
{
	json_t *a = json_object_get(examples, event), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (action == NULL || (json_string_value(json_object_get(v,
		    "action")) && strcmp(json_string_value(json_object_get(v,
		    "action")), action) == 0))
			return json_deep_copy(v);
	ck_abort_msg("no example of %s.%s", event, action ? action : "*");
	return NULL;
}

/* ---- no secret ---- */

START_TEST(route_off)
{
	struct afu9 a;
	struct ht_resp r;
	char *out, *err;
	const char *args[] = { "serve", "--check-config", NULL };

	unsetenv("DATABASE_URL");
	unsetenv("AFU9_GITHUB_WEBHOOK_SECRET");
	start_serve(&a, config(NULL));
	deliver(a.port, "ping", "d-1", "{}", NULL, NULL, &r);
	ck_assert_msg(r.status == 404, "%d: %s", r.status, r.body);
	ht_resp_free(&r);
	end_ok(&a);
	/* a secret too short to be one stops afu9 at once */
	setenv("AFU9_GITHUB_WEBHOOK_SECRET", "short", 1);
	ck_assert_int_eq(ot_run_afu9(args, &out, &err), 2);
	ck_assert_msg(strstr(err, "AFU9_GITHUB_WEBHOOK_SECRET must be at "
	    "least 16 bytes") && !strstr(err, "short"), "%s", err);
	free(out);
	free(err);
	unsetenv("AFU9_GITHUB_WEBHOOK_SECRET");
}
END_TEST

/* ---- deliveries ---- */

/* Two workflows with schemas, a rule set for them. */
#define WF_ISSUE "{\"name\":\"wf_issue\",\"inputs\":{\"type\":\"object\"," \
	"\"properties\":{\"owner\":{\"type\":\"string\"},\"repo\":{\"type\":" \
	"\"string\"},\"number\":{\"type\":\"integer\"},\"title\":{\"type\":" \
	"\"string\"}},\"required\":[\"owner\",\"repo\",\"number\",\"title\"]," \
	"\"additionalProperties\":false},\"steps\":[{\"id\":\"s\",\"type\":" \
	"\"sleep\",\"duration_ms\":0}]}"
#define WF_DEPLOY "{\"name\":\"wf_deploy\",\"inputs\":{\"type\":\"object\"," \
	"\"properties\":{\"repo\":{\"type\":\"string\"},\"sha\":{\"type\":" \
	"\"string\"}},\"required\":[\"repo\",\"sha\"]},\"steps\":[{\"id\":" \
	"\"s\",\"type\":\"sleep\",\"duration_ms\":0}]}"
#define RULES "{\"rules\":[" \
	"{\"event\":\"issues\",\"action\":\"labeled\",\"if\":\"${{ " \
	"event.payload.label.name == 'afu9' }}\",\"workflow\":\"wf_issue\"," \
	"\"input\":{\"owner\":\"${{ event.repository.owner }}\",\"repo\":" \
	"\"${{ event.repository.name }}\",\"number\":\"${{ " \
	"event.payload.issue.number }}\",\"title\":\"${{ " \
	"event.payload.issue.title }}\"}}," \
	"{\"event\":\"pull_request\",\"action\":\"closed\",\"if\":\"${{ " \
	"event.payload.pull_request.merged && " \
	"event.payload.pull_request.base.ref == " \
	"event.repository.default_branch }}\",\"workflow\":\"wf_deploy\"," \
	"\"input\":{\"repo\":\"${{ event.repository.full_name }}\",\"sha\":" \
	"\"${{ event.payload.pull_request.merge_commit_sha }}\"}}," \
	"{\"event\":\"issues\",\"action\":\"opened\",\"workflow\":" \
	"\"wf_issue\",\"input\":{\"owner\":\"x\"}}]}"

static void
apply(const char *ci, const char *name, const char *def)
{
	q_dof(ci, "SELECT afu9_workflow_apply('%s', NULL, NULL, '%s'::jsonb)",
	    name, def);
}

/* The outcome of delivery d ("" while pending). */
static char *
outcome(const char *ci, const char *d)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT coalesce(outcome, '') || ' ' || "
	    "coalesce(detail, '') FROM webhook_events WHERE delivery_id = "
	    "'%s'", d);
	return q_str(ci, sql);
}

static void
ck_outcome(const char *ci, const char *d, const char *want)
{
	char *got = outcome(ci, d);

	ck_assert_msg(strncmp(got, want, strlen(want)) == 0, "%s: %s, want "
	    "%s...", d, got, want);
	free(got);
}

static void
refusals(const char *ci, int port)
{
	char sig[72];
	struct ht_resp r;
	const char *body = "{\"zen\":\"Keep it logically awesome.\"}";
	char *two;

	/* the signature: none, wrong, another algorithm, cut, repeated */
	deliver(port, "ping", "d-none", body, "", NULL, &r);
	ck_assert_msg(r.status == 401, "%d: %s", r.status, r.body);
	ck_assert(strstr(r.body, "one X-Hub-Signature-256 header"));
	ht_resp_free(&r);
	sign("{}", 2, sig);
	deliver(port, "ping", "d-wrong", body, sig, NULL, &r);
	ck_assert_msg(r.status == 401, "%d: %s", r.status, r.body);
	ck_assert(strstr(r.body, "does not match the body"));
	ht_resp_free(&r);
	sign(body, strlen(body), sig);
	memcpy(sig, "sha1=", 5);
	deliver(port, "ping", "d-sha1", body, sig, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ht_resp_free(&r);
	sign(body, strlen(body), sig);
	sig[70] = '\0';
	deliver(port, "ping", "d-cut", body, sig, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ht_resp_free(&r);
	sign(body, strlen(body), sig);
	ck_assert_int_ne(asprintf(&two, "X-Hub-Signature-256: %s\r\n", sig),
	    -1);
	deliver(port, "ping", "d-two", body, NULL, two, &r);
	ck_assert_int_eq(r.status, 401);
	ht_resp_free(&r);
	free(two);
	/* signed, but out of form */
	deliver(port, NULL, "d-noevent", body, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ht_resp_free(&r);
	deliver(port, "Ping!", "d-badevent", body, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ht_resp_free(&r);
	deliver(port, "ping", NULL, body, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ht_resp_free(&r);
	deliver(port, "ping", "d/../x", body, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ht_resp_free(&r);
	deliver(port, "ping", "d-form", "payload=%7B%7D", NULL,
	    "Content-Type: application/x-www-form-urlencoded\r\n", &r);
	ck_assert_msg(r.status == 415, "%d: %s", r.status, r.body);
	ck_assert(strstr(r.body, "application/json"));
	ht_resp_free(&r);
	deliver(port, "ping", "d-array", "[1,2]", NULL, NULL, &r);
	ck_assert_msg(r.status == 400, "%d: %s", r.status, r.body);
	ht_resp_free(&r);
	deliver(port, "ping", "d-notjson", "{\"a\":", NULL, NULL, &r);
	ck_assert_msg(r.status == 400, "%d: %s", r.status, r.body);
	ck_assert(strstr(r.body, "not a JSON object"));
	ht_resp_free(&r);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM webhook_events"), 0);
}

/* An example of every event (at most 3 of each), as recorded. */
static int
every_event(int port)
{
	const char *event;
	json_t *a, *v;
	char d[128];
	size_t i;
	int n = 0;

	json_object_foreach(examples, event, a)
		json_array_foreach(a, i, v) {
			if (i >= 3)
				break;
			snprintf(d, sizeof(d), "ex-%s-%zu", event, i);
			deliver_ok(port, event, d, v, strcmp(event, "ping") ?
			    202 : 200);
			n++;
		}
	return n;
}

/* The console's list shows the deliveries, filtered. */
static void
console(int port)
{
	char *head, *sid, *end;
	struct ht_resp r;
	const char *form = "token=" TOKEN;

	ck_assert_int_ne(asprintf(&head, "POST /ui/login HTTP/1.1\r\nHost: "
	    "127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n",
	    port, port, strlen(form)), -1);
	ht_send(port, head, form, strlen(form), &r);
	free(head);
	ck_assert_msg(r.status == 303, "%d: %s", r.status, r.head);
	ck_assert_ptr_nonnull(sid = strstr(r.head, "afu9_session="));
	end = sid + strcspn(sid, ";\r");
	*end = '\0';
	ck_assert_int_ne(asprintf(&head, "GET /ui/webhooks?event=issues&"
	    "outcome=started HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s"
	    "\r\n\r\n", port, sid), -1);
	ht_resp_free(&r);
	ht_send(port, head, NULL, 0, &r);
	free(head);
	ck_assert_msg(r.status == 200, "%d: %s", r.status, r.body);
	ck_assert_msg(strstr(r.body, "<code>map-issue</code> <span "
	    "class=\"more\">(+1 redelivered)</span>") && strstr(r.body,
	    "<code>issues.labeled</code>") && strstr(r.body, "st-started") &&
	    strstr(r.body, "href=\"/ui/executions/") && !strstr(r.body,
	    "map-merged") && !strstr(r.body, "map-refused"), "%s", r.body);
	ht_resp_free(&r);
}

START_TEST(deliveries)
{
	char *ci = pgt_use_db(pg, "wh_deliveries"), *s, big_d[] = "d-big";
	struct afu9 a;
	struct ht_resp r;
	json_t *p;
	char *body, *head;
	size_t blen;
	int n;

	setenv("AFU9_ENGINE", "0", 1);		/* executions stay pending */
	setenv("AFU9_GITHUB_WEBHOOK_SECRET", SECRET, 1);
	setenv("AFU9_API_TOKEN", TOKEN, 1);
	start_serve(&a, config(RULES));
	unsetenv("AFU9_API_TOKEN");
	apply(ci, "wf_issue", WF_ISSUE);
	apply(ci, "wf_deploy", WF_DEPLOY);
	q_do(ci, "INSERT INTO repositories (owner, name, default_branch) "
	    "VALUES ('Codertocat', 'Hello-World', 'master')");
	refusals(ci, a.port);

	/* every event: recorded, answered, handled */
	n = every_event(a.port);
	ck_assert_int_ge(n, 100);
	wait_handled(ci);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM webhook_events"), n);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM webhook_events "
	    "WHERE payload IS NOT NULL"), 0);
	ck_outcome(ci, "ex-ping-0", "ignored ping: the hook reaches afu9");
	ck_outcome(ci, "ex-star-0", "ignored no rule for star.created");
	ck_outcome(ci, "ex-push-0", "ignored no rule for push");
	/* the examples label "bug" and close without merging: no rule */
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM webhook_events "
	    "WHERE outcome NOT IN ('ignored', 'woke', 'failed')"), 0);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM webhook_events "
	    "WHERE outcome = 'woke' AND event IN ('check_suite', 'check_run') "
	    "AND action = 'completed'"), q_int(ci, "SELECT count(*) FROM "
	    "webhook_events WHERE event IN ('check_suite', 'check_run') AND "
	    "action = 'completed'"));
	/* issues.opened meets rule 2, whose input is refused: nothing runs */
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions"),
	    0);
	s = q_str(ci, "SELECT hook_id IS NULL FROM webhook_events WHERE "
	    "delivery_id = 'ex-ping-0'");
	ck_assert_str_eq(s, "t");
	free(s);

	/* issues labelled afu9 -> wf_issue, input from the payload */
	p = example("issues", "labeled");
	json_object_set_new(json_object_get(p, "label"), "name",
	    json_string("afu9"));
	deliver_ok(a.port, "issues", "map-issue", p, 202);
	json_decref(p);
	/* merged into the default branch -> wf_deploy; elsewhere nothing */
	p = example("pull_request", "closed");
	json_object_set_new(json_object_get(p, "pull_request"), "merged",
	    json_true());
	deliver_ok(a.port, "pull_request", "map-merged", p, 202);
	json_object_set_new(json_object_get(json_object_get(p,
	    "pull_request"), "base"), "ref", json_string("feature"));
	deliver_ok(a.port, "pull_request", "map-other-base", p, 202);
	json_decref(p);
	/* a rule whose input the workflow's schema refuses */
	deliver_ok(a.port, "issues", "map-refused", p = example("issues",
	    "opened"), 202);
	json_decref(p);
	wait_handled(ci);
	ck_outcome(ci, "map-issue", "started rule 0: wf_issue started");
	ck_outcome(ci, "map-merged", "started rule 1: wf_deploy started");
	ck_outcome(ci, "map-other-base", "ignored no rule for "
	    "pull_request.closed");
	ck_outcome(ci, "map-refused", "failed rule 2: the input for "
	    "'wf_issue' is refused");
	s = q_str(ci, "SELECT x.input::text || ' ' || x.idempotency_key || "
	    "' ' || x.triggered_by || ' ' || (x.repository_id = r.id) FROM "
	    "workflow_executions x JOIN webhook_events e ON x.id = "
	    "e.executions[1] JOIN repositories r ON r.name = 'Hello-World' "
	    "WHERE e.delivery_id = 'map-issue'");
	ck_assert_str_eq(s, "{\"repo\": \"Hello-World\", \"owner\": "
	    "\"Codertocat\", \"title\": \"Spelling error in the README file\", "
	    "\"number\": 1} webhook:map-issue:0 webhook map-issue true");
	free(s);
	s = q_str(ci, "SELECT x.input->>'sha' FROM workflow_executions x "
	    "JOIN webhook_events e ON x.id = e.executions[1] WHERE "
	    "e.delivery_id = 'map-merged'");
	ck_assert_int_eq(strlen(s), 40);
	free(s);

	/* GitHub's redelivery: the same delivery id does nothing again */
	p = example("issues", "labeled");
	json_object_set_new(json_object_get(p, "label"), "name",
	    json_string("afu9"));
	body = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	deliver(a.port, "issues", "map-issue", body, NULL, NULL, &r);
	free(body);
	ck_assert_msg(r.status == 200, "%d: %s", r.status, r.body);
	ck_assert(json_is_true(json_object_get(r.json, "duplicate")));
	ck_assert_str_eq(json_string_value(json_object_get(r.json,
	    "outcome")), "started");
	ht_resp_free(&r);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions "
	    "WHERE idempotency_key LIKE 'webhook:map-issue:%'"), 1);
	ck_assert_int_eq(q_int(ci, "SELECT redeliveries FROM webhook_events "
	    "WHERE delivery_id = 'map-issue'"), 1);
	console(a.port);

	/* check_suite completed wakes the wait parked on that repo and
	   commit, not one on another commit */
	q_do(ci, "WITH w AS (SELECT id FROM workflows WHERE name = "
	    "'wf_deploy'), x AS (INSERT INTO workflow_executions (workflow_id, "
	    "status, run_after, started_at, idempotency_key) SELECT id, "
	    "'waiting', now() + interval '1 hour', now(), k FROM w, "
	    "(VALUES ('park-a'), ('park-b')) v(k) RETURNING id, "
	    "idempotency_key) INSERT INTO workflow_steps (execution_id, "
	    "step_index, step_name, kind, status, tool, input, started_at) "
	    "SELECT id, 0, 'ci', 'wait', 'running', 'github.getPullRequest', "
	    "jsonb_build_object('owner', 'codertocat', 'repo', 'hello-world', "
	    "'sha', CASE idempotency_key WHEN 'park-a' THEN '" SHA "' ELSE "
	    "'0000000000000000000000000000000000000000' END), now() FROM x");
	deliver_ok(a.port, "check_suite", "checks-done", p =
	    example("check_suite", "completed"), 202);
	json_decref(p);
	wait_handled(ci);
	ck_outcome(ci, "checks-done", "woke 1 waiting execution(s) due now");
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions "
	    "WHERE idempotency_key = 'park-a' AND run_after <= now()"), 1);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions "
	    "WHERE idempotency_key = 'park-b' AND run_after > now()"), 1);

	/* bodies: 2 MB (over the server's own 1 MiB) is a delivery; over
	   25 MB is refused before it is sent; 24 MB elsewhere is over the
	   server's bound (4 MiB with the API on) */
	p = example("issues", "opened");
	blen = 2u << 20;
	ck_assert_ptr_nonnull(body = malloc(blen + 1));
	memset(body, 'x', blen);
	body[blen] = '\0';
	json_object_set_new(json_object_get(p, "issue"), "body",
	    json_string(body));
	free(body);
	body = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	deliver(a.port, "issues", big_d, body, NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%d: %s", r.status, r.body);
	ht_resp_free(&r);
	ck_assert_int_gt(q_int(ci, "SELECT payload_bytes FROM webhook_events "
	    "WHERE delivery_id = 'd-big'"), 2 << 20);
	ck_assert_int_ne(asprintf(&head, "POST /v1/webhooks/github HTTP/1.1\r\n"
	    "Host: t\r\nContent-Type: application/json\r\nX-GitHub-Event: "
	    "issues\r\nX-GitHub-Delivery: d-huge\r\nContent-Length: "
	    "25000001\r\n\r\n"), -1);
	ht_send(a.port, head, NULL, 0, &r);
	ck_assert_msg(r.status == 413, "%d: %s", r.status, r.body);
	ht_resp_free(&r);
	free(head);
	ck_assert_int_ne(asprintf(&head, "POST /v1/other HTTP/1.1\r\nHost: t"
	    "\r\nContent-Type: application/json\r\nContent-Length: "
	    "24000000\r\n\r\n"), -1);
	ht_send(a.port, head, NULL, 0, &r);
	ck_assert_msg(r.status == 413, "%d: %s", r.status, r.body);
	ht_resp_free(&r);
	free(head);
	free(body);
	wait_handled(ci);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM webhook_events "
	    "WHERE delivery_id IN ('d-huge')"), 0);
	end_ok(&a);
	unsetenv("AFU9_ENGINE");
	unsetenv("AFU9_GITHUB_WEBHOOK_SECRET");
	free(ci);
}
END_TEST

/* ---- claims ---- */

START_TEST(takeover)
{
	char *ci = pgt_use_db(pg, "wh_takeover"), *s, *sql;
	struct afu9 a;
	json_t *p;
	char *body;

	setenv("AFU9_ENGINE", "0", 1);
	setenv("AFU9_GITHUB_WEBHOOK_SECRET", SECRET, 1);
	/* before any task runs: a delivery a dead task held (its claim
	   expired) after starting its execution, one a live task holds,
	   one that failed every attempt */
	{
		const char *args[] = { "migrate", "up", NULL };
		char *out, *err;

		ck_assert_int_eq(ot_run_afu9(args, &out, &err), 0);
		free(out);
		free(err);
	}
	apply(ci, "wf_issue", WF_ISSUE);
	p = example("issues", "labeled");
	json_object_set_new(json_object_get(p, "label"), "name",
	    json_string("afu9"));
	body = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	ck_assert_int_ne(asprintf(&sql, "SELECT afu9_webhook_record(d, "
	    "'issues', 7, $b$%s$b$) FROM (VALUES ('dead'), ('alive'), ('spent')) "
	    "v(d)", body), -1);
	q_do(ci, sql);
	free(sql);
	free(body);
	q_do(ci, "UPDATE webhook_events SET claimed_by = delivery_id, "
	    "claim_expires_at = CASE delivery_id WHEN 'alive' THEN now() + "
	    "interval '1 hour' ELSE now() - interval '1 second' END, "
	    "claim_token = 1, attempts = CASE delivery_id WHEN 'spent' THEN 5 "
	    "ELSE 1 END");
	q_do(ci, "SELECT afu9_execution_create(id, '{\"owner\": \"o\", "
	    "\"repo\": \"r\", \"number\": 1, \"title\": \"t\"}', "
	    "'webhook:dead:0', 'webhook dead') FROM workflows");
	start_serve(&a, config(RULES));
	wait_handled(ci);
	ck_outcome(ci, "dead", "started rule 0: wf_issue started");
	ck_outcome(ci, "spent", "failed its handling did not finish in 5 "
	    "attempts");
	s = outcome(ci, "alive");
	ck_assert_str_eq(s, " ");
	free(s);
	/* the execution the dead task started is the delivery's, once */
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions"),
	    1);
	s = q_str(ci, "SELECT (executions[1] = (SELECT id FROM "
	    "workflow_executions))::text || ' ' || attempts || ' ' || "
	    "claim_token FROM webhook_events WHERE delivery_id = 'dead'");
	ck_assert_str_eq(s, "true 2 2");
	free(s);
	end_ok(&a);
	unsetenv("AFU9_ENGINE");
	unsetenv("AFU9_GITHUB_WEBHOOK_SECRET");
	free(ci);
}
END_TEST

static Suite *
webhooks_suite(void)
{
	Suite *s = suite_create("webhooks");
	TCase *tc = tcase_create("webhooks");

	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_set_timeout(tc, 120 * t_slow());
	tcase_add_test(tc, route_off);
	tcase_add_test(tc, deliveries);
	tcase_add_test(tc, takeover);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	const char *path = t_srcdir(EXAMPLES), *req;
	json_error_t je;
	json_t *all, *e;
	size_t i;

	if (access(path, R_OK) == -1) {
		req = getenv("AFU9_REQUIRE_NODE_TESTS");
		if (req != NULL && strcmp(req, "1") == 0) {
			printf("Bail out! %s is missing (scripts/node-deps.sh)\n",
			    path);
			return 1;
		}
		printf("1..0 # SKIP @octokit/webhooks-examples not installed "
		    "in t/node_modules (scripts/node-deps.sh installs it; "
		    "AFU9_REQUIRE_NODE_TESTS=1 makes this a failure)\n");
		return 0;
	}
	if ((all = json_load_file(path, 0, &je)) == NULL ||
	    (examples = json_object()) == NULL) {
		printf("Bail out! %s: %s\n", path, je.text);
		return 1;
	}
	json_array_foreach(all, i, e)
		json_object_set(examples, json_string_value(json_object_get(e,
		    "name")), json_object_get(e, "examples"));
	json_decref(all);
	if (sodium_init() < 0)
		return 1;
	i = (size_t)ot_main(webhooks_suite(), tmpdir);
	json_decref(examples);
	return (int)i;
}
