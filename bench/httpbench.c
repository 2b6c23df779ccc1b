/*
 * httpbench: the embedded HTTP server alone, for load tools such as wrk.
 *
 *	httpbench [address]		(default 127.0.0.1:8080)
 *
 * Serves GET /health ("ok\n", text/plain) and GET /metrics (the server's
 * own counters) on one libev loop, as the orchestrator will, until
 * SIGINT or SIGTERM, which stops it gracefully.  Prints the bound port
 * on stdout.  Example:
 *
 *	bench/httpbench 127.0.0.1:8080 & wrk -t2 -c100 -d5s \
 *	    --latency http://127.0.0.1:8080/health
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "http/http.h"

static void
health(const struct http_request *req, struct http_exchange *x, void *arg)
{
	static const char *const hdrs[] = {
	    "Content-Type: text/plain; charset=utf-8", NULL };

	http_respond(x, 200, hdrs, "ok\n", 3);
}

static void
metrics(const struct http_request *req, struct http_exchange *x, void *arg)
{
	static const char *const hdrs[] = {
	    "Content-Type: text/plain; version=0.0.4", NULL };
	struct http_server *srv = arg;
	struct buf b;

	buf_init(&b, 1024 * 1024);
	if (http_server_metrics(srv, &b) == -1)
		http_respond(x, 500, NULL, NULL, 0);
	else
		http_respond(x, 200, hdrs, buf_data(&b), buf_used(&b));
	buf_free(&b);
}

static void
stopped(void *arg)
{
	ev_break(arg, EVBREAK_ALL);
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	http_server_stop(w->data, stopped, loop);
}

int
main(int argc, char *argv[])
{
	struct ev_loop *loop = EV_DEFAULT;
	struct http_server *srv;
	ev_signal sint, sterm;
	char err[256];

	if (argc > 2) {
		fprintf(stderr, "usage: httpbench [address:port]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	srv = http_server_new(loop, argc > 1 ? argv[1] : "127.0.0.1:8080",
	    &(struct http_limits){ .max_connections = 4096 }, err, sizeof(err));
	if (srv == NULL) {
		fprintf(stderr, "httpbench: %s\n", err);
		return 1;
	}
	if (http_server_route(srv, "GET", "/health", HTTP_ROUTE_EXACT, health,
	    NULL) == -1 || http_server_route(srv, "GET", "/metrics",
	    HTTP_ROUTE_EXACT, metrics, srv) == -1) {
		fprintf(stderr, "httpbench: route failed\n");
		return 1;
	}
	printf("%d\n", http_server_port(srv));
	fflush(stdout);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	sint.data = sterm.data = srv;
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &sterm);
	ev_run(loop, 0);
	http_server_free(srv);
	return 0;
}
