/*
 * gateway: the orchestrator as an MCP server (see gateway.h).
 *
 * A forwarded call is a struct gwcall tying the runtime's mcp_call to the
 * router's call.  Exactly one side ends it: the router's done callback
 * (which completes the mcp_call), or the runtime's cancel hook (which
 * cancels the router call: no router callback follows).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/gateway.h"
#include "log.h"
#include "mcp_server.h"
#include "rpc.h"

#define LOGGER_MAX	256

/* The router's tools on one session. */
struct gateway_tools {
	struct router		*r;
	struct mcp_session	*ses;
	json_t			*reg;	/* name -> listing registered */
	char			*bare;	/* server offered under its own
					   names; NULL: none */
	json_t			*qual;	/* bare name -> server.tool */
};

struct gateway {
	struct mcp_server	*srv;
	struct gateway_tools	*gt;
};

struct gwcall {
	struct mcp_call		*call;
	struct router_call	*rc;
};

/* The old way, for a result that is not an object: rebuilt from parts. */
static void
gw_return_tree(struct mcp_call *call, const char *res, size_t len)
{
	json_t *result = json_loadb(res, len, JSON_DECODE_ANY, NULL);
	json_t *content = json_object_get(result, "content");
	json_t *sc = json_object_get(result, "structuredContent");

	mcp_call_return_content(call, json_is_array(content) ?
	    json_incref(content) : json_array(), sc ? json_incref(sc) : NULL,
	    json_is_true(json_object_get(result, "isError")));
	json_decref(result);
}

/*
 * The child's result goes to the client as the child wrote it, under the
 * client's id: no tree is built or encoded on the way.
 */
static void
gw_done(struct router_call *rc, const char *res, size_t len, int is_error,
    const struct router_err *e, void *arg)
{
	struct gwcall *gc = arg;
	size_t i = 0;

	if (e != NULL) {
		if (e->kind == ROUTER_E_PROTOCOL)
			mcp_call_fail(gc->call, e->code, e->message);
		else if (e->kind == ROUTER_E_UNKNOWN)
			mcp_call_fail(gc->call, RPC_INVALID_PARAMS, e->message);
		else
			mcp_call_error(gc->call, "%s", e->message);
		free(gc);
		return;
	}
	while (i < len && strchr(" \t\r\n", res[i]) != NULL)
		i++;
	if (i < len && res[i] == '{')
		mcp_call_return_raw(gc->call, res, len);
	else
		gw_return_tree(gc->call, res, len);
	free(gc);
}

static void
gw_progress(struct router_call *rc, const json_t *params, void *arg)
{
	struct gwcall *gc = arg;
	const json_t *p = json_object_get(params, "progress");
	const json_t *t = json_object_get(params, "total");

	if (!json_is_number(p))
		return;
	mcp_call_progress(gc->call, json_number_value(p), json_is_number(t) ?
	    json_number_value(t) : -1,
	    json_string_value(json_object_get(params, "message")));
}

static void
gw_cancel(struct mcp_call *call, void *arg)
{
	struct gwcall *gc = arg;

	router_call_cancel(gc->rc, "cancelled by the client");
	free(gc);
}

static void
gw_tool(struct mcp_call *call, const json_t *args, void *udata)
{
	struct gateway_tools *gt = udata;
	struct router_origin o = { .caller = AUDIT_GATEWAY };
	struct router_err e;
	struct gwcall *gc;
	const char *raw, *name;
	size_t len = 0;
	char *text = NULL;

	if ((gc = calloc(1, sizeof(*gc))) == NULL) {
		mcp_call_fail(call, RPC_INTERNAL_ERROR,
		    "internal error: out of memory");
		return;
	}
	gc->call = call;
	/* The arguments as the client wrote them, else encoded once (args
	   is NULL only when the text is at hand). */
	if ((raw = mcp_call_arguments_raw(call, &len)) == NULL) {
		if ((text = json_dumps(args, JSON_COMPACT)) == NULL) {
			free(gc);
			mcp_call_fail(call, RPC_INTERNAL_ERROR,
			    "internal error: out of memory");
			return;
		}
		raw = text;
		len = strlen(text);
	}
	/* The id as the client sent it, for the audit row (if any). */
	o.rpc_id_text = mcp_call_id(call);
	if ((name = json_string_value(json_object_get(gt->qual,
	    mcp_call_tool(call)))) == NULL)
		name = mcp_call_tool(call);
	gc->rc = router_call_raw(gt->r, name, raw, len, &o,
	    gw_done, mcp_call_has_progress(call) ? gw_progress : NULL, gc, &e);
	free(text);
	if (gc->rc == NULL) {
		free(gc);
		if (e.kind == ROUTER_E_UNKNOWN)
			mcp_call_fail(call, RPC_INVALID_PARAMS, e.message);
		else
			mcp_call_error(call, "%s", e.message);
		return;
	}
	mcp_call_on_cancel(call, gw_cancel, gc);
}

/* Sync the registered tools; tell the client when notify is set. */
static void
sync_tools(struct gateway_tools *gw, int notify)
{
	json_t *now, *want, *t, *c;
	const char *name;
	char err[256];
	void *tmp;
	size_t i, bl = gw->bare ? strlen(gw->bare) : 0;
	int changed = 0;

	if ((now = router_tools(gw->r)) == NULL || (want = json_object())
	    == NULL) {
		json_decref(now);
		return;
	}
	json_object_clear(gw->qual);
	json_array_foreach(now, i, t) {
		name = json_string_value(json_object_get(t, "name"));
		if (name == NULL)
			continue;
		if (bl == 0 || strncmp(name, gw->bare, bl) != 0 ||
		    name[bl] != '.' || (c = json_copy(t)) == NULL) {
			json_object_set(want, name, t);
			continue;
		}
		/* the bare server's tool under its own name */
		json_object_set_new(gw->qual, name + bl + 1, json_string(name));
		json_object_set_new(c, "name", json_string(name + bl + 1));
		json_object_set_new(want, name + bl + 1, c);
	}
	json_object_foreach_safe(gw->reg, tmp, name, t) {
		if (json_equal(t, json_object_get(want, name)))
			continue;
		mcp_session_remove_tool(gw->ses, name);
		json_object_del(gw->reg, name);
		changed = 1;
	}
	json_object_foreach(want, name, t) {
		if (json_object_get(gw->reg, name))
			continue;
		if (mcp_session_add_tool_raw(gw->ses, t, gw_tool, gw, err,
		    sizeof(err)) == -1) {
			log_warnx("tool %s not offered: %s", name, err);
			continue;
		}
		json_object_set(gw->reg, name, t);
		changed = 1;
	}
	json_decref(want);
	json_decref(now);
	if (changed && notify)
		mcp_session_tools_changed(gw->ses);
}

struct gateway_tools *
gateway_tools_new(struct router *r, struct mcp_session *ses,
    const char *bare)
{
	struct gateway_tools *gt;

	if ((gt = calloc(1, sizeof(*gt))) == NULL ||
	    (gt->reg = json_object()) == NULL ||
	    (gt->qual = json_object()) == NULL ||
	    (bare != NULL && (gt->bare = strdup(bare)) == NULL)) {
		if (gt != NULL) {
			json_decref(gt->reg);
			json_decref(gt->qual);
		}
		free(gt);
		return NULL;
	}
	gt->r = r;
	gt->ses = ses;
	sync_tools(gt, 0);
	return gt;
}

void
gateway_tools_sync(struct gateway_tools *gt)
{
	sync_tools(gt, 1);
}

void
gateway_tools_free(struct gateway_tools *gt)
{
	if (gt == NULL)
		return;
	json_decref(gt->reg);
	json_decref(gt->qual);
	free(gt->bare);
	free(gt);
}

void
gateway_sync(struct gateway *gw)
{
	gateway_tools_sync(gw->gt);
}

void
gateway_tools_message(struct gateway_tools *gt, const char *server,
    const json_t *params)
{
	const char *level = json_string_value(json_object_get(params,
	    "level"));
	const char *lg = json_string_value(json_object_get(params, "logger"));
	json_t *data = json_object_get(params, "data");
	char logger[LOGGER_MAX];

	if (lg)
		snprintf(logger, sizeof(logger), "%s/%s", server, lg);
	else
		snprintf(logger, sizeof(logger), "%s", server);
	(void)mcp_session_log(gt->ses, level ? level : "info", logger,
	    data ? json_incref(data) : NULL);
}

/* The server of a tool name as a client of gt calls it, or NULL. */
const char *
gateway_tools_server(const struct gateway_tools *gt, const char *tool,
    char *buf, size_t len)
{
	const char *q = json_string_value(json_object_get(gt->qual, tool));
	const char *dot;

	if (q == NULL)
		q = tool;
	if ((dot = strchr(q, '.')) == NULL || (size_t)(dot - q) >= len)
		return NULL;
	memcpy(buf, q, (size_t)(dot - q));
	buf[dot - q] = '\0';
	return buf;
}

void
gateway_message(struct gateway *gw, const char *server, const json_t *params)
{
	gateway_tools_message(gw->gt, server, params);
}

struct gateway *
gateway_new(struct ev_loop *loop, struct router *r, int in_fd, int out_fd,
    unsigned grace_ms, const char *bare, char *err, size_t errlen)
{
	struct mcp_server_opts o = {
		.name = "afu9",
		.title = "afu9 orchestrator",
		.version = AFU9_VERSION,
		.instructions = "afu9 gateway: the tools of every configured MCP "
		    "server, named server.tool (for example github.getIssue).",
		.mode = FRAME_AUTO,
		.shutdown_grace = grace_ms > 0 ? grace_ms / 1000. : -1.,
	};
	struct gateway *gw;

	if ((gw = calloc(1, sizeof(*gw))) == NULL ||
	    (gw->srv = mcp_server_new(loop, &o, in_fd, out_fd)) == NULL ||
	    (gw->gt = gateway_tools_new(r, mcp_server_session(gw->srv),
	    bare)) ==
	    NULL) {
		if (gw)
			mcp_server_free(gw->srv);
		free(gw);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return gw;
}

int
gateway_run(struct gateway *gw)
{
	return mcp_server_run(gw->srv);
}

void
gateway_free(struct gateway *gw)
{
	if (gw == NULL)
		return;
	mcp_server_free(gw->srv);
	gateway_tools_free(gw->gt);
	free(gw);
}
