/*
 * api/health: /health, /ready and /metrics (see api/health.h).
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "metrics.h"
#include "api/auth.h"
#include "api/health.h"

#define METRICS_MAX	(8u * 1024 * 1024)

struct health {
	const struct subsys	*subs;
	size_t			 nsubs;
	double			 started;	/* monotonic seconds */
};

static const char *const json_hdr[] = {
	"Content-Type: application/json", "Cache-Control: no-store", NULL };

/* Answer x with the compact JSON of v (stolen). */
static void
respond_json(struct http_exchange *x, int status, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	if (s == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	http_respond(x, status, json_hdr, s, strlen(s));
	free(s);
}

static void
h_health(const struct http_request *req, struct http_exchange *x, void *arg)
{
	struct health *rt = arg;
	char body[128];
	int n;

	/*
	 * The load balancer asks often: one snprintf, no JSON tree.  The
	 * version is a plain configure-time string (digits, dots, letters),
	 * so it needs no escaping; the bytes are what json_dumps() wrote.
	 */
	n = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"service\":"
	    "\"afu9\",\"version\":\"%s\",\"uptime_s\":%lld}", AFU9_VERSION,
	    (long long)(metrics_now_s() - rt->started));
	if (n < 0 || (size_t)n >= sizeof(body)) {
		http_respond(x, 500, NULL, "internal error\n", 15);
		return;
	}
	http_respond(x, 200, json_hdr, body, (size_t)n);
}

/*
 * Ready when every subsystem is; the body has each one's status under
 * its key, in wiring order.
 */
static void
h_ready(const struct http_request *req, struct http_exchange *x, void *arg)
{
	struct health *rt = arg;
	const struct subsys *ss;
	json_t *body = json_object(), *st;
	int ready = 1;
	size_t i;

	for (i = 0; i < rt->nsubs; i++) {
		ss = &rt->subs[i];
		if (ss->ready != NULL && !ss->ready(ss->self))
			ready = 0;
	}
	if (body == NULL || json_object_set_new(body, "status",
	    json_string(ready ? "ready" : "not ready")) == -1 ||
	    json_object_set_new(body, "ready", json_boolean(ready)) == -1) {
		json_decref(body);
		body = NULL;
	}
	for (i = 0; body != NULL && i < rt->nsubs; i++) {
		ss = &rt->subs[i];
		if (ss->key == NULL || ss->status == NULL)
			continue;
		if ((st = ss->status(ss->self)) == NULL ||
		    json_object_set_new(body, ss->key, st) == -1) {
			json_decref(body);
			body = NULL;
		}
	}
	respond_json(x, ready ? 200 : 503, body);
}

/* Resident set size in bytes from /proc/self/statm; -1 if unknown. */
static long long
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long long size, res;
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "%lld %lld", &size, &res);
	fclose(f);
	if (n != 2)
		return -1;
	return res * sysconf(_SC_PAGESIZE);
}

/* Open file descriptors (entries of /proc/self/fd); -1 if unknown. */
static long
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static int
process_metrics(struct buf *b)
{
	long long rss = rss_bytes();
	long fds = open_fds();

	if (rss >= 0 && (metrics_head(b, "process_resident_memory_bytes",
	    "gauge", "Resident memory size in bytes.") == -1 ||
	    buf_printf(b, "process_resident_memory_bytes %lld\n", rss) == -1))
		return -1;
	if (fds >= 0 && (metrics_head(b, "process_open_fds", "gauge",
	    "Open file descriptors.") == -1 ||
	    buf_printf(b, "process_open_fds %ld\n", fds) == -1))
		return -1;
	return 0;
}

static void
h_metrics(const struct http_request *req, struct http_exchange *x, void *arg)
{
	static const char *const hdr[] = {
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8",
	    "Cache-Control: no-store", NULL };
	struct health *rt = arg;
	struct buf b;

	const struct subsys *ss;
	size_t i;

	buf_init(&b, METRICS_MAX);
	for (i = 0; i < rt->nsubs; i++) {
		ss = &rt->subs[i];
		if (ss->metrics != NULL && ss->metrics(ss->self, &b) == -1)
			break;
	}
	if (i < rt->nsubs || process_metrics(&b) == -1) {
		buf_free(&b);
		http_respond(x, 500, NULL, "metrics too large\n", 18);
		return;
	}
	http_respond(x, 200, hdr, buf_data(&b), buf_used(&b));
	buf_free(&b);
}

static void
h_metrics_auth(const struct http_request *req, struct http_exchange *x,
    const struct auth_result *who, void *arg)
{
	h_metrics(req, x, arg);
}

struct health *
health_new(struct http_server *hs, const struct subsys *subs, size_t nsubs,
    enum health_metrics metrics, struct auth *auth, char *err, size_t errlen)
{
	static const struct auth_need need = { AUTH_READ, NULL };
	struct health *rt;
	int r = 0;

	if ((rt = calloc(1, sizeof(*rt))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rt->subs = subs;
	rt->nsubs = nsubs;
	rt->started = metrics_now_s();
	if (http_server_route(hs, "GET", "/health", HTTP_ROUTE_EXACT,
	    h_health, rt) == -1 ||
	    http_server_route(hs, "GET", "/ready", HTTP_ROUTE_EXACT,
	    h_ready, rt) == -1 ||
	    /* the load balancer's checks, answered past the connection cap */
	    http_server_route_reserve(hs, "GET", "/health") == -1 ||
	    http_server_route_reserve(hs, "GET", "/ready") == -1)
		r = -1;
	else if (metrics == HEALTH_METRICS_OPEN)
		r = http_server_route(hs, "GET", "/metrics", HTTP_ROUTE_EXACT,
		    h_metrics, rt);
	else if (metrics == HEALTH_METRICS_TOKEN)
		r = auth == NULL ? -1 : auth_route(auth, hs, "GET", "/metrics",
		    HTTP_ROUTE_EXACT, &need, h_metrics_auth, rt);
	if (r == -1) {
		snprintf(err, errlen, "cannot add HTTP routes");
		free(rt);
		return NULL;
	}
	return rt;
}

void
health_free(struct health *rt)
{
	free(rt);
}
