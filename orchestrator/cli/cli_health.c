/*
 * cli_health: `afu9 health [URL]` (see cli.h), one GET through httpc on
 * a loop of its own.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "httpc.h"
#include "cli/cli.h"
#include "cli/cli_int.h"

#define HEALTH_TIMEOUT_MS	5000
#define HEALTH_MAX		(1024u * 1024)

/* ---- health ---- */

struct health_get {
	long		 status;	/* -1: no answer yet; 0: transport error */
	struct buf	*body;
	char		*err;
	size_t		 errlen;
};

static void
health_done(struct httpc_req *rq, const struct httpc_response *res,
    void *arg)
{
	struct health_get *g = arg;

	(void)rq;
	g->status = res->status;
	if (res->error != 0 || res->status == 0) {
		g->status = 0;
		snprintf(g->err, g->errlen, "%s", res->error_text ?
		    res->error_text : "no HTTP response");
	} else if (buf_append(g->body, res->body, res->body_len) == -1) {
		g->status = 0;
		snprintf(g->err, g->errlen, "response larger than %u bytes",
		    HEALTH_MAX);
	}
}

/* GET url through httpc on a loop of its own; the status code (the body,
   NUL-terminated, in *body), or -1 with err. */
static int
http_get(const char *url, struct buf *body, char *err, size_t errlen)
{
	struct httpc_opts o = { .user_agent = "afu9-health",
	    .connect_timeout_ms = HEALTH_TIMEOUT_MS,
	    .timeout_ms = HEALTH_TIMEOUT_MS, .max_response = HEALTH_MAX,
	    .max_host_connections = 1 };
	struct health_get g = { -1, body, err, errlen };
	struct ev_loop *loop;
	struct httpc *hc;

	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		snprintf(err, errlen, "only http:// and https:// URLs are "
		    "supported");
		return -1;
	}
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
		snprintf(err, errlen, "cannot create an event loop");
		return -1;
	}
	if ((hc = httpc_new(loop, &o)) == NULL) {
		snprintf(err, errlen, "cannot create the HTTP client");
		ev_loop_destroy(loop);
		return -1;
	}
	if (httpc_request(hc, "GET", url, NULL, NULL, 0, 0, health_done,
	    &g) == NULL)
		snprintf(err, errlen, "malformed URL: %.200s", url);
	else
		while (g.status == -1)
			ev_run(loop, EVRUN_ONCE);
	httpc_free(hc);
	ev_loop_destroy(loop);
	if (g.status <= 0 || buf_append(body, "", 1) == -1)
		return -1;
	return (int)g.status;
}

int
cli_health(int argc, char **argv)
{
	const char *url = "http://127.0.0.1:8080/health", *port;
	struct config_env env;
	char err[512], def[64], pbuf[8];
	struct buf body;
	int status;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: afu9 health [URL]\n");
		return EX_USAGE;
	}
	if (argc == 2)
		url = argv[1];
	else if (cli_env(&env, "afu9 health") == -1)
		return EX_USAGE;
	else if ((port = config_env_listen_port(&env, pbuf, sizeof(pbuf)))
	    != NULL) {
		snprintf(def, sizeof(def), "http://127.0.0.1:%s/health", port);
		url = def;
	}
	buf_init(&body, HEALTH_MAX);
	status = http_get(url, &body, err, sizeof(err));
	if (status < 0) {
		fprintf(stderr, "afu9 health: %s\n", err);
		buf_free(&body);
		return 1;
	}
	fputs(buf_data(&body), stdout);
	if (buf_used(&body) > 1 && buf_data(&body)[buf_used(&body) - 2] != '\n')
		putchar('\n');
	if (status != 200)
		fprintf(stderr, "afu9 health: %s: HTTP %d\n", url, status);
	buf_free(&body);
	return status == 200 ? 0 : 1;
}
