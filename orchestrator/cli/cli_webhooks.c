/*
 * cli_webhooks: `afu9 webhooks list` and `afu9 webhooks redeliver` (see
 * cli.h, doc/webhooks.md "Redelivery").
 *
 * `list` reads the deliveries afu9 recorded (webhook_events, migration
 * 005) on DATABASE_URL through afu9_webhook_events_json(), the function
 * the console reads them with.
 *
 * `redeliver` exists because GitHub never sends a failed delivery again
 * on its own.  It lists a hook's deliveries through GitHub's REST API
 * (servers/github/gh.h: the token, retries and rate limits of
 * afu9-github), picks those that failed at or after --since whose event
 * (guid) was never delivered OK, and asks GitHub to attempt each again,
 * one at a time (GitHub asks for mutating requests in series).
 *
 * GitHub's list is the source of what failed, not the table: what
 * GitHub could not deliver (afu9 down, a 5xx, a timeout, a refused
 * signature) is exactly what the table does not have.  A row whose
 * outcome is 'failed' was answered 2xx, and GitHub redelivers with the
 * same X-GitHub-Delivery, which afu9 counts as a duplicate and does
 * nothing with.  With DATABASE_URL the table serves as a check instead:
 * a failed delivery afu9 recorded anyway (it answered after GitHub gave
 * up) is skipped, since its redelivery would change nothing.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "engine/defn.h"
#include "github/gh.h"
#include "httpc.h"
#include "log.h"

#define WH_FAIL		1
#define WH_LIMIT_DEFAULT 50
#define WH_LIMIT_MAX	1000
#define WH_SINCE_MAX_S	(3650.0 * 86400)	/* a span back from now */
#define WH_PAGES_MAX	500	/* of 100 deliveries: a later --since */
#define WH_GUID_MAX	100	/* webhook_events.delivery_id's bound */
#define WH_TEXT_MAX	120	/* bytes of GitHub's status text shown */

static const char *const outcomes[] = {
	"started", "woke", "ignored", "failed", "pending", NULL
};

static int
wh_usage_to(FILE *f)
{
	fprintf(f,
	    "usage: afu9 webhooks list [--since T] [--outcome O] [--limit N] "
	    "[--after CURSOR] [--json]\n"
	    "       afu9 webhooks redeliver --failed --since T "
	    "(--repo OWNER/REPO | --org ORG) --hook ID [--dry-run]\n"
	    "\n"
	    "  list       the deliveries afu9 recorded, newest first "
	    "(DATABASE_URL);\n"
	    "             O: started, woke, ignored, failed or pending\n"
	    "  redeliver  ask GitHub to send again each delivery of the hook "
	    "that\n"
	    "             failed at or after T and was never delivered OK "
	    "(GITHUB_TOKEN,\n"
	    "             GITHUB_API_URL); with DATABASE_URL, those afu9 "
	    "recorded anyway\n"
	    "             are skipped.  GitHub App hooks (--app) are not "
	    "supported: their\n"
	    "             deliveries need a JWT signed with the app's private "
	    "key\n"
	    "\n"
	    "T: an RFC 3339 time (2026-12-07T09:00:00Z) or a span back from "
	    "now (30m, 24h, 3d).\n"
	    "Exit status: 0 done (redeliver: every redelivery asked for was "
	    "accepted);\n"
	    "1 the database or GitHub failed or refused; 2 usage or "
	    "configuration.\n");
	return EX_USAGE;
}

static int
wh_usage(void)
{
	return wh_usage_to(stderr);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * T as --since takes it into *out (seconds since the epoch): an RFC 3339
 * time with its zone (defn_time_parse()), or digits and a unit s, m, h
 * or d, that long before now.  A time after now is refused (a typo, not
 * a window).  0, or -1 with the reason on stderr.
 */
static int
since_parse(const struct wf *w, const char *s, double *out)
{
	double now = now_s(), n = 0, unit;
	size_t i, len = strlen(s);

	if (len >= 2 && len <= 8 && strchr("smhd", s[len - 1]) != NULL) {
		for (i = 0; i + 1 < len && s[i] >= '0' && s[i] <= '9'; i++)
			n = n * 10 + (s[i] - '0');
		unit = s[len - 1] == 's' ? 1 : s[len - 1] == 'm' ? 60 :
		    s[len - 1] == 'h' ? 3600 : 86400;
		if (i + 1 == len && n > 0 && n * unit <= WH_SINCE_MAX_S) {
			*out = now - n * unit;
			return 0;
		}
	} else if (defn_time_parse(s, out) == 0) {
		if (*out <= now)
			return 0;
		wf_err(w, "--since %.100s: that is in the future", s);
		return -1;
	}
	wf_err(w, "--since %.100s: not a time (RFC 3339 with its zone, as "
	    "2026-12-07T09:00:00Z) nor a span back from now (30m, 24h, 3d; "
	    "at most 3650d)", s);
	return -1;
}

/* ---- list ---- */

/*
 * A page newest first, cut to the deliveries received at or after $5
 * (NULL: all).  The cut keeps a prefix of the page, so a page with rows
 * cut is the last one.
 */
#define WH_LIST_SQL \
	"SELECT coalesce(jsonb_agg(e ORDER BY o), '[]') FROM " \
	"jsonb_array_elements(afu9_webhook_events_json($1, $2::integer, " \
	"$3::timestamptz, $4::uuid)) WITH ORDINALITY AS t(e, o) " \
	"WHERE $5::float8 IS NULL OR " \
	"(e->>'received_at')::timestamptz >= to_timestamp($5::float8)"

static int
outcome_ok(const char *s)
{
	size_t i;

	for (i = 0; outcomes[i] != NULL; i++)
		if (strcmp(s, outcomes[i]) == 0)
			return 1;
	return 0;
}

static void
print_events(const json_t *v)
{
	const json_t *e;
	char ev[140], hook[24], *t;
	size_t i, ew = 5, rw = 10;

	/* widths of what is printed: the escaped text, at most 40 */
	json_array_foreach(v, i, e) {
		snprintf(ev, sizeof(ev), "%s%s%s", jstr(e, "event"),
		    *jstr(e, "action") ? "." : "", jstr(e, "action"));
		if ((t = safe_dup(ev)) != NULL && strlen(t) > ew)
			ew = strlen(t) > 40 ? 40 : strlen(t);
		free(t);
		if ((t = safe_dup(jstr(e, "repository"))) != NULL &&
		    strlen(t) > rw)
			rw = strlen(t) > 40 ? 40 : strlen(t);
		free(t);
	}
	printf("%-24s  %-36s  %-*s  %-*s  %-10s  %-8s  %s\n", "RECEIVED",
	    "DELIVERY", (int)ew, "EVENT", (int)rw, "REPOSITORY", "HOOK",
	    "OUTCOME", "DETAIL");
	json_array_foreach(v, i, e) {
		snprintf(ev, sizeof(ev), "%s%s%s", jstr(e, "event"),
		    *jstr(e, "action") ? "." : "", jstr(e, "action"));
		if (json_is_integer(json_object_get(e, "hook_id")))
			snprintf(hook, sizeof(hook), "%lld", (long long)
			    json_integer_value(json_object_get(e, "hook_id")));
		else
			snprintf(hook, sizeof(hook), "-");
		put_col(stdout, jstr(e, "received_at"), 24, 0);
		fputs("  ", stdout);
		put_col(stdout, jstr(e, "delivery_id"), 36, 0);
		fputs("  ", stdout);
		put_col(stdout, ev, ew, 1);
		fputs("  ", stdout);
		put_col(stdout, *jstr(e, "repository") ? jstr(e, "repository") :
		    "-", rw, 1);
		printf("  %-10s  ", hook);
		put_col(stdout, jstr(e, "outcome"), 8, 0);
		fputs("  ", stdout);
		print_trim(stdout, *jstr(e, "detail") ? jstr(e, "detail") :
		    "", 80);
	}
}

static int
cli_webhooks_list(int argc, char **argv)
{
	const char *p[5] = { NULL, NULL, NULL, NULL, NULL };
	char lim[16], ts[64], since[32];
	unsigned long n = WH_LIMIT_DEFAULT;
	double t;
	struct wf w;
	json_t *v;
	int i, rc, as_json = 0;

	memset(&w, 0, sizeof(w));
	w.cmd = "afu9 webhooks list";
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else if (i + 1 >= argc)
			return wh_usage();
		else if (strcmp(argv[i], "--outcome") == 0) {
			if (!outcome_ok(p[0] = argv[++i])) {
				wf_err(&w, "--outcome %.100s: not an outcome "
				    "(started, woke, ignored, failed, "
				    "pending)", p[0]);
				return EX_USAGE;
			}
		} else if (strcmp(argv[i], "--limit") == 0) {
			if (num_ok(argv[++i], 1, WH_LIMIT_MAX, &n) == -1) {
				wf_err(&w, "--limit %.100s: a number from 1 "
				    "to %d", argv[i], WH_LIMIT_MAX);
				return EX_USAGE;
			}
		} else if (strcmp(argv[i], "--after") == 0) {
			if (cursor_ok(argv[++i], ts, sizeof(ts), &p[3]) ==
			    -1) {
				wf_err(&w, "--after %.100s: not a cursor (the "
				    "TIME/ID a page ended with)", argv[i]);
				return EX_USAGE;
			}
			p[2] = ts;
		} else if (strcmp(argv[i], "--since") == 0) {
			if (since_parse(&w, argv[++i], &t) == -1)
				return EX_USAGE;
			snprintf(since, sizeof(since), "%.3f", t);
			p[4] = since;
		} else
			return wh_usage();
	}
	snprintf(lim, sizeof(lim), "%lu", n);
	p[1] = lim;
	if ((rc = wf_open(&w, w.cmd)) != 0)
		return rc;
	v = wf_json(&w, WH_LIST_SQL, 5, p, &rc);
	wf_close(&w);
	if (v == NULL)
		return rc ? rc : WH_FAIL;
	if (as_json) {
		json_dumpf(v, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (json_array_size(v) == 0)
		printf("no webhook deliveries\n");
	else
		print_events(v);
	if (!as_json && json_array_size(v) == n)
		fprintf(stderr, "more may follow: --after %s\n",
		    jstr(json_array_get(v, n - 1), "cursor"));
	json_decref(v);
	return cli_out_done(w.cmd, 0);
}

/* ---- redeliver ---- */

/* One delivery of GitHub's list, as far as redelivery needs it. */
struct dl {
	long long	 id;
	char		 guid[WH_GUID_MAX + 1];
	double		 t;		/* delivered_at */
	char		 at[32];	/* delivered_at as GitHub gave it */
	int		 ok;		/* "OK" and a 2xx status code */
	long		 code;		/* status_code; 0: no answer */
	char		 status[WH_TEXT_MAX + 1];
	char		 event[140];	/* event[.action] */
	enum { DL_NONE, DL_REDELIVER, DL_SKIP } what;
	long long	 other;		/* DL_SKIP: the delivery that makes
					   it unneeded; 0: recorded */
	const char	*recorded;	/* DL_SKIP, other 0: the outcome */
	enum { AT_TODO, AT_DONE, AT_REFUSED, AT_UNTRIED } at_state;
};

struct rd {
	struct wf	 w;
	struct ev_loop	*loop;
	struct httpc	*hc;
	struct gh	*gh;
	char		 base[256];	/* "/repos/O/R/hooks/ID" */
	const char	*what;		/* "hook 42 of acme/shop" */
	double		 since;
	struct dl	*d;		/* newest first, as listed */
	size_t		 nd, cap;
	size_t		 listed;
	unsigned	 pages;
	size_t		*todo;		/* indexes of d to redeliver, in
					   order */
	size_t		 ntodo, next;
	int		 busy;		/* a request in flight */
	int		 rc;
	json_t		*recorded;	/* guid -> outcome; NULL: no table */
};

/* 1..max of [A-Za-z0-9._-], not "." or "..": a guid as webhook_events
   takes it, GitHub's owner, repository and organization names. */
static int
name_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr("._-", s[i]) != NULL))
			return 0;
	return i >= 1 && i <= max && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

/*
 * One element of a page into *d: id, guid, delivered_at and status_code
 * must be there and well formed; status, event and action are shown
 * only.  0, or -1 with what is wrong in why.
 */
static int
dl_parse(const json_t *o, struct dl *d, const char **why)
{
	const json_t *id = json_object_get(o, "id");
	const json_t *code = json_object_get(o, "status_code");
	const char *at = jstr(o, "delivered_at"), *act = jstr(o, "action");

	memset(d, 0, sizeof(*d));
	if (!json_is_integer(id) || json_integer_value(id) <= 0)
		return (*why = "no id"), -1;
	d->id = json_integer_value(id);
	if (!name_ok(jstr(o, "guid"), WH_GUID_MAX))
		return (*why = "no guid, or not 1..100 of [A-Za-z0-9._-]"), -1;
	snprintf(d->guid, sizeof(d->guid), "%s", jstr(o, "guid"));
	if (strlen(at) >= sizeof(d->at) || defn_time_parse(at, &d->t) == -1)
		return (*why = "delivered_at is not an RFC 3339 time"), -1;
	snprintf(d->at, sizeof(d->at), "%s", at);
	if (!json_is_integer(code) || json_integer_value(code) < 0 ||
	    json_integer_value(code) > 999)
		return (*why = "no status_code"), -1;
	d->code = (long)json_integer_value(code);
	snprintf(d->status, sizeof(d->status), "%s", jstr(o, "status"));
	d->ok = strcmp(jstr(o, "status"), "OK") == 0 && d->code >= 200 &&
	    d->code <= 299;
	snprintf(d->event, sizeof(d->event), "%.63s%s%.64s",
	    *jstr(o, "event") ? jstr(o, "event") : "?", *act ? "." : "", act);
	return 0;
}

static void	rd_page(struct rd *, const char *path);
static void	rd_next_attempt(struct rd *);

static void
rd_stop(struct rd *r, int rc)
{
	if (rc != 0)
		r->rc = rc;
	r->busy = 0;
	ev_break(r->loop, EVBREAK_ALL);
}

static void
page_done(struct gh_req *q, struct gh_result *res, void *arg)
{
	struct rd *r = arg;
	const json_t *o;
	const char *why;
	struct dl d, *nd;
	int older = 0;
	size_t i;

	(void)q;
	r->pages++;
	if (res->err != GH_OK) {
		wf_err(&r->w, "listing the deliveries of %s: %s", r->what,
		    res->message ? res->message : gh_err_name(res->err));
		json_decref(res->body);
		rd_stop(r, WH_FAIL);
		return;
	}
	if (!json_is_array(res->body)) {
		wf_err(&r->w, "listing the deliveries of %s: GitHub's answer "
		    "(page %u) is not a list of deliveries", r->what, r->pages);
		json_decref(res->body);
		rd_stop(r, WH_FAIL);
		return;
	}
	json_array_foreach(res->body, i, o) {
		r->listed++;
		if (dl_parse(o, &d, &why) == -1) {
			wf_err(&r->w, "listing the deliveries of %s: "
			    "delivery %zu of page %u: %s", r->what, i + 1,
			    r->pages, why);
			json_decref(res->body);
			rd_stop(r, WH_FAIL);
			return;
		}
		/* GitHub lists newest first: the rest is older still. */
		if (d.t < r->since) {
			older = 1;
			break;
		}
		if (r->nd == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 128;
			if ((nd = reallocarray(r->d, r->cap, sizeof(*nd))) ==
			    NULL) {
				wf_err(&r->w, "out of memory");
				json_decref(res->body);
				rd_stop(r, WH_FAIL);
				return;
			}
			r->d = nd;
		}
		r->d[r->nd++] = d;
	}
	json_decref(res->body);
	if (older || res->next_url == NULL) {
		rd_stop(r, 0);
		return;
	}
	if (r->pages >= WH_PAGES_MAX) {
		wf_err(&r->w, "%s has more than %d pages of deliveries since "
		    "then: give a later --since", r->what, WH_PAGES_MAX);
		rd_stop(r, WH_FAIL);
		return;
	}
	rd_page(r, res->next_url);
}

static void
rd_page(struct rd *r, const char *path)
{
	r->busy = 1;
	if (gh_request(r->gh, "GET", path, NULL, 0, page_done, r) == NULL) {
		wf_err(&r->w, "listing the deliveries of %s: GitHub's next "
		    "page link is not under GITHUB_API_URL, or out of memory",
		    r->what);
		rd_stop(r, WH_FAIL);
	}
}

/* What a failed delivery's line says about it. */
static void
print_dl(const struct dl *d, const char *verb, const char *why)
{
	printf("%-15s %lld  ", verb, d->id);
	put_cut(stdout, d->guid, 0);
	fputs("  ", stdout);
	put_cut(stdout, d->at, 0);
	fputs("  ", stdout);
	put_cut(stdout, d->event, 0);
	fputs("  (was ", stdout);
	if (d->code > 0)
		printf("%ld ", d->code);
	put_cut(stdout, *d->status ? d->status : "no answer", WH_TEXT_MAX);
	printf(")%s", why ? ": " : "");
	if (why)
		put_cut(stdout, why, 300);
	putchar('\n');
}

static void
attempt_done(struct gh_req *q, struct gh_result *res, void *arg)
{
	struct rd *r = arg;
	struct dl *d = &r->d[r->todo[r->next]];

	(void)q;
	json_decref(res->body);
	if (res->err == GH_OK) {
		d->at_state = AT_DONE;
		print_dl(d, "redelivered", NULL);
	} else {
		d->at_state = AT_REFUSED;
		print_dl(d, "refused", res->message ? res->message :
		    gh_err_name(res->err));
		r->rc = WH_FAIL;
		/* What refuses every request refuses the next one too. */
		if (res->err == GH_ERR_AUTH || res->err == GH_ERR_FORBIDDEN ||
		    res->err == GH_ERR_RATE_LIMIT ||
		    res->err == GH_ERR_SECONDARY_LIMIT ||
		    res->err == GH_ERR_NETWORK || res->err == GH_ERR_CONFIG) {
			r->next++;
			rd_stop(r, WH_FAIL);
			return;
		}
	}
	r->next++;
	rd_next_attempt(r);
}

static void
rd_next_attempt(struct rd *r)
{
	char path[320];
	struct dl *d;

	if (r->next >= r->ntodo) {
		rd_stop(r, 0);
		return;
	}
	d = &r->d[r->todo[r->next]];
	snprintf(path, sizeof(path), "%s/deliveries/%lld/attempts", r->base,
	    d->id);
	r->busy = 1;
	if (gh_request(r->gh, "POST", path, NULL, 0, attempt_done, r) ==
	    NULL) {
		wf_err(&r->w, "out of memory");
		rd_stop(r, WH_FAIL);
	}
}

/*
 * Which failed deliveries to redeliver, oldest first (so the events come
 * again in the order they happened): not one whose guid was delivered OK
 * in the window, not a second one of a guid, not one afu9 recorded.
 */
static int
rd_choose(struct rd *r)
{
	const json_t *rec;
	size_t i, j;
	struct dl *d;

	if ((r->todo = calloc(r->nd ? r->nd : 1, sizeof(*r->todo))) == NULL) {
		wf_err(&r->w, "out of memory");
		return -1;
	}
	for (i = r->nd; i-- > 0;) {
		d = &r->d[i];
		if (d->ok)
			continue;
		d->what = DL_REDELIVER;
		for (j = 0; j < r->nd && d->what == DL_REDELIVER; j++) {
			if (j == i || strcmp(r->d[j].guid, d->guid) != 0)
				continue;
			if (r->d[j].ok || (j > i && r->d[j].what ==
			    DL_REDELIVER)) {
				d->what = DL_SKIP;
				d->other = r->d[j].id;
			}
		}
		if (d->what == DL_REDELIVER && r->recorded != NULL &&
		    (rec = json_object_get(r->recorded, d->guid)) != NULL) {
			d->what = DL_SKIP;
			d->recorded = json_string_value(rec);
		}
		if (d->what == DL_REDELIVER)
			r->todo[r->ntodo++] = i;
	}
	return 0;
}

/*
 * The guids of the failed deliveries that afu9 has in webhook_events,
 * with their outcome, into r->recorded.  The guids were checked to be of
 * [A-Za-z0-9._-], so they quote safely in an array literal.  0, or the
 * exit status.
 */
static int
rd_recorded(struct rd *r)
{
	const char *p[1];
	char *arr;
	size_t i, len = 3, at = 0;
	int rc;

	for (i = 0; i < r->nd; i++)
		len += strlen(r->d[i].guid) + 3;
	if ((arr = malloc(len)) == NULL) {
		wf_err(&r->w, "out of memory");
		return WH_FAIL;
	}
	arr[at++] = '{';
	for (i = 0; i < r->nd; i++)
		if (!r->d[i].ok)
			at += (size_t)snprintf(arr + at, len - at, "%s\"%s\"",
			    arr[at - 1] == '{' ? "" : ",", r->d[i].guid);
	arr[at++] = '}';
	arr[at] = '\0';
	p[0] = arr;
	r->recorded = wf_json(&r->w, "SELECT coalesce(jsonb_object_agg("
	    "delivery_id, coalesce(outcome, 'pending')), '{}') FROM "
	    "webhook_events WHERE delivery_id = ANY($1::text[])", 1, p, &rc);
	free(arr);
	if (r->recorded == NULL)
		return rc ? rc : WH_FAIL;
	return 0;
}

/* Was delivery id of the list delivered OK? */
static int
dl_ok(const struct rd *r, long long id)
{
	size_t i;

	for (i = 0; i < r->nd; i++)
		if (r->d[i].id == id)
			return r->d[i].ok;
	return 0;
}

static int
any_failed(const struct rd *r)
{
	size_t i;

	for (i = 0; i < r->nd; i++)
		if (!r->d[i].ok)
			return 1;
	return 0;
}

static void
rd_report(struct rd *r, int dry_run)
{
	char since[32];
	time_t t = (time_t)r->since;
	struct tm tm;
	size_t i, failed = 0, skipped = 0, done = 0, refused = 0, untried = 0;
	char why[160];
	struct dl *d;

	for (i = r->nd; i-- > 0;) {
		d = &r->d[i];
		if (d->ok)
			continue;
		failed++;
		if (d->what == DL_SKIP) {
			skipped++;
			if (d->other != 0)
				snprintf(why, sizeof(why), dl_ok(r, d->other) ?
				    "delivered OK as delivery %lld" : "the same "
				    "event as delivery %lld", d->other);
			else
				snprintf(why, sizeof(why), "recorded by afu9 "
				    "already (outcome %s)", d->recorded ?
				    d->recorded : "?");
			print_dl(d, "skipped", why);
		} else if (dry_run)
			print_dl(d, "would redeliver", NULL);
		else if (d->at_state == AT_DONE)
			done++;
		else if (d->at_state == AT_REFUSED)
			refused++;
		else {
			untried++;
			print_dl(d, "not tried", NULL);
		}
	}
	gmtime_r(&t, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%zu deliveries of %s listed back to %s (%u page%s), %zu "
	    "failed: ", r->listed, r->what, since, r->pages,
	    r->pages == 1 ? "" : "s", failed);
	if (dry_run)
		printf("%zu to redeliver (dry run: nothing asked), %zu "
		    "skipped\n", r->ntodo, skipped);
	else
		printf("%zu redelivered, %zu skipped, %zu refused, %zu not "
		    "tried\n", done, skipped, refused, untried);
}

/* OWNER/REPO (owner 1..39, repository 1..100) split into owner and
   name. */
static int
repo_ok(const char *s, char *owner, char *name)
{
	const char *sl = strchr(s, '/');

	if (sl == NULL || sl - s > 39 || strlen(sl + 1) > 100)
		return 0;
	snprintf(owner, 40, "%.*s", (int)(sl - s), s);
	snprintf(name, 101, "%s", sl + 1);
	return name_ok(owner, 39) && name_ok(name, 100);
}

/* A hook id: 1 to 18 digits, not 0. */
static int
hook_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		;
	return s[i] == '\0' && i >= 1 && i <= 18 && s[0] != '0';
}

/* A knob of afu9-github's read the same way (digits, lo..hi); def when
   unset.  0, or -1 with the reason on stderr. */
static int
knob(const struct wf *w, const char *name, unsigned long lo,
    unsigned long hi, unsigned long def, unsigned long *out)
{
	const char *v = getenv(name);

	*out = def;
	if (v == NULL || *v == '\0')
		return 0;
	if (num_ok(v, lo, hi, out) == 0)
		return 0;
	wf_err(w, "%s %.40s: a number from %lu to %lu", name, v, lo, hi);
	return -1;
}

static int
cli_webhooks_redeliver(int argc, char **argv)
{
	const char *repo = NULL, *org = NULL, *hook = NULL, *since = NULL;
	char owner[40], name[101], what[200], first[300], err[512];
	struct gh_config gc;
	unsigned long base_ms, timeout_ms;
	struct config_env env;
	struct rd r;
	int i, failed = 0, dry_run = 0, rc;

	memset(&r, 0, sizeof(r));
	r.w.cmd = "afu9 webhooks redeliver";
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--failed") == 0)
			failed = 1;
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry_run = 1;
		else if (strcmp(argv[i], "--app") == 0) {
			wf_err(&r.w, "--app: a GitHub App's hook deliveries "
			    "(GET /app/hook/deliveries) need a JWT signed with "
			    "the app's private key, which afu9 does not make; "
			    "redeliver them from the app's settings "
			    "(Advanced), or give the repository's or "
			    "organization's own hook with --repo or --org");
			return EX_USAGE;
		} else if (i + 1 >= argc)
			return wh_usage();
		else if (strcmp(argv[i], "--repo") == 0)
			repo = argv[++i];
		else if (strcmp(argv[i], "--org") == 0)
			org = argv[++i];
		else if (strcmp(argv[i], "--hook") == 0)
			hook = argv[++i];
		else if (strcmp(argv[i], "--since") == 0)
			since = argv[++i];
		else
			return wh_usage();
	}
	if (!failed) {
		wf_err(&r.w, "--failed is required: only failed deliveries "
		    "are redelivered");
		return EX_USAGE;
	}
	if (since == NULL) {
		wf_err(&r.w, "--since is required (GitHub keeps a hook's "
		    "deliveries for a few days only)");
		return EX_USAGE;
	}
	if (since_parse(&r.w, since, &r.since) == -1)
		return EX_USAGE;
	if ((repo == NULL) == (org == NULL)) {
		wf_err(&r.w, "give the hook's repository (--repo OWNER/REPO) "
		    "or organization (--org ORG), one of them");
		return EX_USAGE;
	}
	if (repo != NULL && !repo_ok(repo, owner, name)) {
		wf_err(&r.w, "--repo %.100s: not OWNER/REPO (GitHub's names: "
		    "letters, digits, '.', '_', '-')", repo);
		return EX_USAGE;
	}
	if (org != NULL && !name_ok(org, 39)) {
		wf_err(&r.w, "--org %.100s: not an organization name", org);
		return EX_USAGE;
	}
	if (hook == NULL || !hook_ok(hook)) {
		wf_err(&r.w, "--hook %.40s: the hook's id is required, a "
		    "number (X-GitHub-Hook-ID of its deliveries; the HOOK "
		    "column of afu9 webhooks list)", hook ? hook : "");
		return EX_USAGE;
	}
	if (repo != NULL) {
		snprintf(r.base, sizeof(r.base), "/repos/%s/%s/hooks/%s",
		    owner, name, hook);
		snprintf(what, sizeof(what), "hook %s of %s/%s", hook, owner,
		    name);
	} else {
		snprintf(r.base, sizeof(r.base), "/orgs/%s/hooks/%s", org,
		    hook);
		snprintf(what, sizeof(what), "hook %s of %s", hook, org);
	}
	r.what = what;
	memset(&gc, 0, sizeof(gc));
	if (knob(&r.w, "AFU9_GITHUB_RETRY_BASE_MS", 1, 60000, 1000,
	    &base_ms) == -1 || knob(&r.w, "AFU9_GITHUB_TIMEOUT_MS", 1,
	    3600000, 0, &timeout_ms) == -1)
		return EX_USAGE;
	gc.backoff_base_s = base_ms / 1000.0;
	gc.timeout_ms = (long)timeout_ms;
	if (cli_env(&env, r.w.cmd) == -1)
		return EX_USAGE;
	log_init("afu9");
	r.rc = 0;
	r.loop = ev_loop_new(EVFLAG_AUTO);
	if (r.loop == NULL || (r.hc = httpc_new(r.loop, NULL)) == NULL) {
		wf_err(&r.w, "cannot start the HTTP client");
		rc = WH_FAIL;
		goto out;
	}
	if ((r.gh = gh_new(r.loop, r.hc, &gc, err, sizeof(err))) == NULL) {
		wf_err(&r.w, "%s", err);
		rc = EX_USAGE;
		goto out;
	}
	if (!gh_has_token(r.gh)) {
		wf_err(&r.w, "GITHUB_TOKEN (or GITHUB_TOKEN_FILE) is not set "
		    "or not a token: the deliveries are read and redelivered "
		    "with a token that may administer the hook (classic: "
		    "admin:repo_hook or admin:org_hook; fine-grained: "
		    "Webhooks read and write)");
		rc = EX_USAGE;
		goto out;
	}
	snprintf(first, sizeof(first), "%s/deliveries?per_page=100", r.base);
	rd_page(&r, first);
	if (r.busy)
		ev_run(r.loop, 0);
	if ((rc = r.rc) != 0)
		goto out;
	/* the table is asked only about failed deliveries, when any */
	if (env.database_url != NULL && any_failed(&r)) {
		if ((rc = wf_open(&r.w, r.w.cmd)) != 0 ||
		    (rc = rd_recorded(&r)) != 0) {
			wf_err(&r.w, "(unset DATABASE_URL to redeliver "
			    "without asking afu9's table what it recorded)");
			goto out;
		}
		wf_close(&r.w);
	}
	if (rd_choose(&r) == -1) {
		rc = WH_FAIL;
		goto out;
	}
	if (!dry_run && r.ntodo > 0) {
		rd_next_attempt(&r);
		if (r.busy)
			ev_run(r.loop, 0);
	}
	rd_report(&r, dry_run);
	rc = r.rc;
out:
	wf_close(&r.w);
	if (r.gh != NULL)
		gh_free(r.gh);
	if (r.hc != NULL)
		httpc_free(r.hc);
	if (r.loop != NULL)
		ev_loop_destroy(r.loop);
	json_decref(r.recorded);
	free(r.d);
	free(r.todo);
	return cli_out_done(r.w.cmd, rc);
}

int
cli_webhooks(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return cli_webhooks_list(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "redeliver") == 0)
		return cli_webhooks_redeliver(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		wh_usage_to(stdout);
		return 0;
	}
	return wh_usage();
}
