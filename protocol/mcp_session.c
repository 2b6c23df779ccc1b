/*
 * mcp_session: MCP dispatch with no transport (see mcp_session.h).
 *
 * Calls.  A tools/call becomes a struct mcp_call owned by the session and
 * lent to the tool handler until it completes.  Cancellation (the peer's
 * notifications/cancelled, or the transport's mcp_session_cancel_all())
 * runs the call's cancel hook and frees the call; a call without a hook
 * (a handler that keeps no asynchronous state should complete at once and
 * need none) is only marked: its response is suppressed when the handler
 * completes it, and it is freed then or by mcp_session_free().  A hook
 * that completes its call by mistake is tolerated: the completion is
 * ignored.
 *
 * Safe freeing: a call is freed only by its own completion or after its
 * hook returned, never while the session still uses it; the session is
 * freed only by mcp_session_free(), which must not be called from a
 * callback.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jschema.h"
#include "log.h"
#include "mcp_session.h"
#include "redact.h"
#include "rpc.h"
#include "utf8.h"

#ifndef AFU9_VERSION
#define AFU9_VERSION "0"
#endif

/* Calls in flight at once; more are refused with -32603. */
#define MCP_MAX_INFLIGHT	4096
#define MCP_TOOL_NAME_MAX	64
/* JSON tools carry "server.tool" names. */
#define MCP_JSON_TOOL_NAME_MAX	128
/* Longest tool name quoted back in "Unknown tool: ...", before the cut
   mark */
#define MCP_QUOTE_MAX		128
/* Longest message of mcp_call_fail(), before the cut mark */
#define MCP_FAIL_MAX		1024

static const char *const mcp_versions[] = {
	MCP_LATEST_VERSION, "2025-06-18", "2025-03-26", "2024-11-05",
};

static const char *const mcp_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert",
	"emergency",
};
#define MCP_NLEVELS	(sizeof(mcp_levels) / sizeof(mcp_levels[0]))
#define MCP_LEVEL_INFO	1

/*
 * A registered tool.  Each is allocated on its own so a call can hold it
 * while tools are added or removed: a removed tool is freed when the last
 * call on it is.
 */
struct ses_tool {
	const struct mcp_tool	*def;		/* NULL for a JSON tool */
	char			*name;		/* owned */
	mcp_tool_fn		 fn;
	void			*udata;
	json_t			*input_schema;	/* owned */
	json_t			*output_schema;	/* owned; NULL if none (always
						   for a JSON tool) */
	json_t			*listing;	/* owned: the tools/list entry */
	int			 raw_args;	/* fn takes the arguments text */
	unsigned		 refs;		/* calls holding it */
	int			 removed;
};

struct mcp_call {
	struct mcp_session	*ses;
	struct mcp_call		*prev, *next;
	struct ses_tool		*tool;
	char			*id_raw;	/* owned */
	json_t			*args;		/* owned reference */
	json_t			*progress_token;/* owned reference; NULL */
	double			 last_progress;
	int			 sent_progress;
	mcp_cancel_fn		 cancel_fn;
	void			*cancel_arg;
	int			 cancelled;	/* response suppressed */
	int			 in_hook;	/* cancel hook running */
};

struct mcp_session {
	struct mcp_session_opts	 opts;
	struct mcp_session_io	 io;

	struct ses_tool		**tools;
	size_t			 ntools, captools;
	/* name -> tool: open addressing, linear probing, tombstones */
	struct ses_tool		**htab;
	size_t			 hsize;		/* power of two; 0: none */
	size_t			 hused;		/* tools + tombstones */
	/* the tools/call being handed to its handler, and its params text */
	struct mcp_call		*cur_call;
	const char		*cur_params;
	size_t			 cur_params_len;
	const char		*cur_args;	/* "arguments" span; NULL: look */
	size_t			 cur_args_len;
	int			 raw_tools;	/* a raw-arguments tool was ever
						   registered: parse params
						   lazily */
	struct mcp_call		*calls;
	size_t			 nactive;	/* calls not cancelled */

	json_t			*empty;		/* owned: {}, the result of
						   ping and logging/setLevel */
	int			 log_level;	/* index into mcp_levels */
	uint32_t		 salt;		/* cursor tags */
	char			 version[16];	/* negotiated revision */
	int			 initialized;
	int			 freeing;	/* send nothing, run no io
						   callback */
};

static void tool_free(struct ses_tool *);

/* ---- small helpers ---- */

/*
 * Text quoted back to the peer is made valid UTF-8 (U+FFFD for a bad
 * byte) and, past a bound, cut at a character boundary and marked with
 * CUT_MARK: u8_clean() with the mark on top of the bound, so that as
 * much of the text is kept as the bound allows.
 */
#define CUT_MARK	"..."
#define CUT_BOUND(max)	((max) + sizeof(CUT_MARK) - 1)

/* New JSON string of s, repaired when s is not valid UTF-8; NULL on ENOMEM. */
static json_t *
jstr(const char *s)
{
	json_t *v;
	char *clean;

	if ((v = json_string(s)) != NULL)
		return v;
	if ((clean = u8_clean(s, SIZE_MAX, NULL)) == NULL)
		return NULL;
	v = json_string(clean);
	free(clean);
	return v;
}

/* A JSON number for d: an integer when d has no fraction. */
static json_t *
jnum(double d)
{
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		return json_integer((json_int_t)d);
	return json_real(d);
}

static int
level_index(const char *level)
{
	size_t i;

	for (i = 0; level && i < MCP_NLEVELS; i++)
		if (strcmp(level, mcp_levels[i]) == 0)
			return (int)i;
	return -1;
}

static int
tool_name_ok(const char *name, size_t max)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("_./-", name[i]) != NULL))
			return 0;
	return 1;
}

/* ---- output ---- */

/*
 * Hand one message to the transport.  0, or -1 with errno as send()
 * gives it (EPIPE while the session is being freed).
 */
static int
ses_send(struct mcp_session *ses, const char *text, size_t len, int response)
{
	if (ses->freeing) {
		errno = EPIPE;
		return -1;
	}
	return ses->io.send(ses->io.arg, text, len, response);
}

static void
ses_send_error(struct mcp_session *ses, const char *id_raw, int code,
    const char *message)
{
	size_t len;
	char *text;

	if ((text = rpc_build_error(id_raw, code, message, NULL, &len)) == NULL) {
		log_warnx("cannot build error response (code %d)", code);
		return;
	}
	if (ses_send(ses, text, len, 1) == -1 && errno != EPIPE)
		log_warnx("error response dropped: output queue full");
	free(text);
}

/*
 * Send the response text (NULL: it could not be built) to request
 * id_raw; one the transport refuses becomes a -32603 error, so the peer
 * is never left waiting.
 */
static void
ses_send_response(struct mcp_session *ses, const char *id_raw,
    const char *text, size_t len)
{
	if (text == NULL) {
		ses_send_error(ses, id_raw, RPC_INTERNAL_ERROR,
		    "internal error: cannot encode the result");
		return;
	}
	if (ses_send(ses, text, len, 1) == 0 || errno == EPIPE)
		return;
	if (errno == EMSGSIZE) {
		log_warnx("response of %zu bytes dropped: larger than the "
		    "output bound", len);
		ses_send_error(ses, id_raw, RPC_INTERNAL_ERROR,
		    "internal error: result too large");
	} else {
		log_warnx("response of %zu bytes dropped: output queue full",
		    len);
		ses_send_error(ses, id_raw, RPC_INTERNAL_ERROR,
		    "internal error: output queue full");
	}
}

/* Answer request id_raw with `result` (stolen). */
static void
ses_reply(struct mcp_session *ses, const char *id_raw, json_t *result)
{
	size_t len = 0;
	char *text = NULL;

	if (result != NULL)
		text = rpc_build_result(id_raw, result, &len);
	json_decref(result);
	ses_send_response(ses, id_raw, text, len);
	free(text);
}

/* A notification; params stolen (may be NULL). */
static void
ses_notify(struct mcp_session *ses, const char *method, json_t *params)
{
	size_t len;
	char *text;

	text = rpc_build_notification(method, params, &len);
	json_decref(params);
	if (text == NULL)
		return;
	(void)ses_send(ses, text, len, 0);
	free(text);
}

/* A call ended or was cancelled: tell the transport when none is left. */
static void
ses_call_ended(struct mcp_session *ses)
{
	if (ses->nactive == 0 && !ses->freeing && ses->io.idle != NULL)
		ses->io.idle(ses->io.arg);
}

/* ---- calls ---- */

static void
ses_call_free(struct mcp_call *c)
{
	struct mcp_session *ses = c->ses;

	if (c->prev)
		c->prev->next = c->next;
	else
		ses->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (!c->cancelled)
		ses->nactive--;
	if (--c->tool->refs == 0 && c->tool->removed)
		tool_free(c->tool);
	free(c->id_raw);
	json_decref(c->args);
	json_decref(c->progress_token);
	free(c);
	ses_call_ended(ses);
}

/* Cancel one active call: run its hook and free it, or mark it. */
static void
ses_call_cancel(struct mcp_call *c)
{
	struct mcp_session *ses = c->ses;

	if (c->cancelled || c->in_hook)
		return;
	if (c->cancel_fn == NULL) {
		c->cancelled = 1;
		ses->nactive--;
		ses_call_ended(ses);
		return;
	}
	c->in_hook = 1;
	c->cancel_fn(c, c->cancel_arg);
	ses_call_free(c);
}

void
mcp_session_cancel_all(struct mcp_session *ses)
{
	struct mcp_call *c;

	for (;;) {
		for (c = ses->calls; c && (c->cancelled || c->in_hook);
		    c = c->next)
			;
		if (c == NULL)
			break;
		ses_call_cancel(c);
	}
}

/*
 * Completion: `result` (stolen) answers the call unless it was cancelled.
 * Frees the call.
 */
static void
ses_call_complete(struct mcp_call *c, json_t *result)
{
	if (c->in_hook) {
		json_decref(result);
		return;
	}
	if (!c->cancelled)
		ses_reply(c->ses, c->id_raw, result);
	else
		json_decref(result);
	ses_call_free(c);
}

/* ---- methods ---- */

static void
m_initialize(struct mcp_session *ses, struct rpc_msg *m)
{
	json_t *v = m->params ? json_object_get(m->params, "protocolVersion") :
	    NULL;
	json_t *res, *info;
	const char *want, *ver = MCP_LATEST_VERSION;
	size_t i;

	if (!json_is_string(v)) {
		ses_send_error(ses, m->id_raw, RPC_INVALID_PARAMS,
		    "invalid params: protocolVersion must be a string");
		return;
	}
	want = json_string_value(v);
	for (i = 0; i < sizeof(mcp_versions) / sizeof(mcp_versions[0]); i++)
		if (strcmp(want, mcp_versions[i]) == 0)
			ver = mcp_versions[i];
	snprintf(ses->version, sizeof(ses->version), "%s", ver);

	info = json_object();
	json_object_set_new(info, "name", jstr(ses->opts.name));
	if (ses->opts.title)
		json_object_set_new(info, "title", jstr(ses->opts.title));
	json_object_set_new(info, "version", jstr(ses->opts.version));
	res = json_pack("{s:s, s:{s:{s:b}, s:{}}, s:o}",
	    "protocolVersion", ver,
	    "capabilities", "tools", "listChanged", 1, "logging",
	    "serverInfo", info);
	if (res && ses->opts.instructions)
		json_object_set_new(res, "instructions",
		    jstr(ses->opts.instructions));
	ses_reply(ses, m->id_raw, res);
}

static void
m_ping(struct mcp_session *ses, struct rpc_msg *m)
{
	ses_reply(ses, m->id_raw, json_incref(ses->empty));
}

static uint32_t
cursor_tag(const struct mcp_session *ses, uint32_t off)
{
	uint32_t h = ses->salt ^ (off * 0x9e3779b1u);

	h ^= h >> 15;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Offset encoded in an opaque cursor, or 0 if it is not one of ours. */
static size_t
cursor_decode(const struct mcp_session *ses, const char *s)
{
	unsigned long off, tag;
	char a[9], b[9], *end;

	if (strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
		return 0;
	memcpy(a, s, 8);
	memcpy(b, s + 8, 8);
	a[8] = b[8] = '\0';
	off = strtoul(a, &end, 16);
	tag = strtoul(b, &end, 16);
	if (off == 0 || off >= ses->ntools || tag != cursor_tag(ses, (uint32_t)off))
		return 0;
	return off;
}

static void
m_tools_list(struct mcp_session *ses, struct rpc_msg *m)
{
	json_t *cur = m->params ? json_object_get(m->params, "cursor") : NULL;
	json_t *res, *list;
	size_t off = 0, i, end;
	char next[24];

	if (cur && !json_is_null(cur)) {
		if (!json_is_string(cur) ||
		    (off = cursor_decode(ses, json_string_value(cur))) == 0) {
			ses_send_error(ses, m->id_raw, RPC_INVALID_PARAMS,
			    "invalid params: invalid cursor");
			return;
		}
	}
	end = off + ses->opts.page_size;
	if (end > ses->ntools)
		end = ses->ntools;
	list = json_array();
	for (i = off; i < end; i++)
		json_array_append(list, ses->tools[i]->listing);
	res = json_pack("{s:o}", "tools", list);
	if (res && end < ses->ntools) {
		snprintf(next, sizeof(next), "%08x%08x", (unsigned)end,
		    (unsigned)cursor_tag(ses, (uint32_t)end));
		json_object_set_new(res, "nextCursor", json_string(next));
	}
	ses_reply(ses, m->id_raw, res);
}

/* The index of the tool called name, or -1. */
static ssize_t
tool_index(const struct mcp_session *ses, const char *name)
{
	size_t i;

	for (i = 0; i < ses->ntools; i++)
		if (strcmp(ses->tools[i]->name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* A removed tool's slot in the name table: probing goes on past it. */
static struct ses_tool htab_tomb;

/* FNV-1a. */
static size_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The registered tool called name (a hash lookup), or NULL. */
static struct ses_tool *
find_tool(const struct mcp_session *ses, const char *name)
{
	struct ses_tool *t;
	size_t i, mask = ses->hsize - 1;

	if (ses->hsize == 0)
		return NULL;
	for (i = name_hash(name) & mask; (t = ses->htab[i]) != NULL;
	    i = (i + 1) & mask)
		if (t != &htab_tomb && strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static void
htab_put(struct ses_tool **tab, size_t size, struct ses_tool *t)
{
	size_t i;

	for (i = name_hash(t->name) & (size - 1);
	    tab[i] != NULL && tab[i] != &htab_tomb; i = (i + 1) & (size - 1))
		;
	tab[i] = t;
}

/*
 * Room in the name table for one more tool: rebuilt (tombstones dropped)
 * at half load.  0, or -1 on ENOMEM (the table is unchanged).
 */
static int
htab_reserve(struct mcp_session *ses)
{
	struct ses_tool **nt;
	size_t size = 16, i;

	if ((ses->hused + 1) * 2 <= ses->hsize)
		return 0;
	while (size < (ses->ntools + 1) * 4)
		size *= 2;
	if ((nt = calloc(size, sizeof(*nt))) == NULL)
		return -1;
	for (i = 0; i < ses->ntools; i++)
		htab_put(nt, size, ses->tools[i]);
	free(ses->htab);
	ses->htab = nt;
	ses->hsize = size;
	ses->hused = ses->ntools;
	return 0;
}

static void
htab_del(struct mcp_session *ses, const struct ses_tool *t)
{
	size_t i, mask = ses->hsize - 1;

	if (ses->hsize == 0)
		return;
	for (i = name_hash(t->name) & mask; ses->htab[i] != NULL;
	    i = (i + 1) & mask)
		if (ses->htab[i] == t) {
			ses->htab[i] = &htab_tomb;
			return;
		}
}

static void
call_unknown_tool(struct mcp_session *ses, struct rpc_msg *m, const char *name)
{
	char *q = u8_clean(name, CUT_BOUND(MCP_QUOTE_MAX), CUT_MARK);
	char *msg = NULL;

	if (q && asprintf(&msg, "Unknown tool: %s", q) == -1)
		msg = NULL;
	ses_send_error(ses, m->id_raw, RPC_INVALID_PARAMS,
	    msg ? msg : "Unknown tool");
	free(msg);
	free(q);
}

/* Arguments failed the input schema: an isError result the model can fix. */
static void
call_invalid_args(struct mcp_session *ses, struct rpc_msg *m,
    const struct ses_tool *t, const char *why)
{
	char *text = NULL;
	json_t *res;

	if (asprintf(&text, "Invalid arguments for tool %s: %s", t->name,
	    why) == -1)
		text = NULL;
	res = json_pack("{s:[{s:s, s:o}], s:b}", "content", "type", "text",
	    "text", jstr(text ? text : "Invalid arguments"), "isError", 1);
	free(text);
	ses_reply(ses, m->id_raw, res);
}

/* The call's _meta.progressToken when it is a string or an integer. */
static json_t *
progress_token(const json_t *params)
{
	json_t *meta = json_object_get(params, "_meta");
	json_t *tok = json_object_get(meta, "progressToken");

	if (json_is_string(tok) || json_is_integer(tok))
		return json_incref(tok);
	return NULL;
}

/*
 * Start a call of tool t and hand it to the handler.  args and tok
 * (progress token, may be NULL) are stolen; args is NULL only for a
 * raw-arguments tool given the arguments text (araw, alen: borrowed from
 * the message).
 */
static void
call_begin(struct mcp_session *ses, struct rpc_msg *m, struct ses_tool *t,
    json_t *args, json_t *tok, const char *araw, size_t alen)
{
	struct mcp_call *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->id_raw = strdup(m->id_raw)) == NULL) {
		free(c);
		json_decref(args);
		json_decref(tok);
		ses_send_error(ses, m->id_raw, RPC_INTERNAL_ERROR,
		    "internal error: out of memory");
		return;
	}
	c->ses = ses;
	c->tool = t;
	t->refs++;
	c->args = args;
	c->progress_token = tok;
	c->next = ses->calls;
	if (ses->calls)
		ses->calls->prev = c;
	ses->calls = c;
	ses->nactive++;
	ses->cur_call = c;
	ses->cur_params = m->params_raw;
	ses->cur_params_len = m->params_len;
	ses->cur_args = araw;
	ses->cur_args_len = alen;
	/* The handler may complete (and so free) the call before returning. */
	t->fn(c, c->args, t->udata);
	ses->cur_call = NULL;
	ses->cur_params = NULL;
	ses->cur_args = NULL;
}

/*
 * Build m->params from the text the parser kept (RPC_PARSE_RAW_PARAMS):
 * the tree rpc_parse() would have built.  0, or -1 on ENOMEM.
 */
static int
msg_params(struct rpc_msg *m)
{
	json_t *p;

	if (m->params != NULL || m->params_raw == NULL)
		return 0;
	if ((p = json_loadb(m->params_raw, m->params_len,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return -1;
	if (json_object_set_new_nocheck(m->root, "params", p) == -1)
		return -1;
	m->params = p;
	return 0;
}

/* A top-level member of the params text: 1 found, 0 absent, -1 unsure. */
static int
params_member(const struct rpc_msg *m, const char *name, const char **v,
    size_t *vlen)
{
	return rpc_raw_member(m->params_raw, m->params_len, name, v, vlen);
}

/*
 * tools/call of a raw-arguments tool without building the params tree:
 * name, arguments and _meta are found in the params text.  1 when it
 * cannot tell from the text (the tree path then decides, and answers
 * exactly as it always did), 0 when the request was handled.
 */
static int
call_lazy(struct mcp_session *ses, struct rpc_msg *m)
{
	char name[MCP_JSON_TOOL_NAME_MAX + 1];
	const char *v, *a = NULL;
	size_t vlen, alen = 0;
	struct ses_tool *t;
	json_t *meta, *tok = NULL;

	if (params_member(m, "name", &v, &vlen) != 1 || vlen < 2 ||
	    *v != '"' || vlen - 2 > MCP_JSON_TOOL_NAME_MAX ||
	    memchr(v, '\\', vlen) != NULL)
		return 1;
	memcpy(name, v + 1, vlen - 2);
	name[vlen - 2] = '\0';
	if ((t = find_tool(ses, name)) == NULL || !t->raw_args)
		return 1;
	switch (params_member(m, "arguments", &a, &alen)) {
	case -1:
		return 1;
	case 1:
		if (*a == '{')
			break;
		if (alen != 4 || memcmp(a, "null", 4) != 0) {
			ses_send_error(ses, m->id_raw, RPC_INVALID_PARAMS,
			    "invalid params: arguments must be an object");
			return 0;
		}
		/* FALLTHROUGH */
	default:
		a = NULL;
		break;
	}
	if (ses->nactive >= MCP_MAX_INFLIGHT) {
		ses_send_error(ses, m->id_raw, RPC_INTERNAL_ERROR,
		    "internal error: too many calls in flight");
		return 0;
	}
	switch (params_member(m, "_meta", &v, &vlen)) {
	case -1:
		return 1;
	case 1:
		meta = json_loadb(v, vlen, JSON_DECODE_ANY, NULL);
		tok = json_object_get(meta, "progressToken");
		tok = json_is_string(tok) || json_is_integer(tok) ?
		    json_incref(tok) : NULL;
		json_decref(meta);
		break;
	default:
		break;
	}
	call_begin(ses, m, t, a != NULL ? NULL : json_object(), tok, a, alen);
	return 0;
}

static void
m_tools_call(struct mcp_session *ses, struct rpc_msg *m)
{
	json_t *name = m->params ? json_object_get(m->params, "name") : NULL;
	json_t *args = m->params ? json_object_get(m->params, "arguments") :
	    NULL;
	struct ses_tool *t;
	char err[512];

	if (m->params == NULL && m->params_raw != NULL) {
		if (call_lazy(ses, m) == 0)
			return;
		if (msg_params(m) == -1) {
			ses_send_error(ses, m->id_raw, RPC_INTERNAL_ERROR,
			    "internal error: out of memory");
			return;
		}
		name = json_object_get(m->params, "name");
		args = json_object_get(m->params, "arguments");
	}
	if (!json_is_string(name)) {
		ses_send_error(ses, m->id_raw, RPC_INVALID_PARAMS,
		    "invalid params: name must be a string");
		return;
	}
	if ((t = find_tool(ses, json_string_value(name))) == NULL) {
		call_unknown_tool(ses, m, json_string_value(name));
		return;
	}
	if (args != NULL && !json_is_null(args) && !json_is_object(args)) {
		ses_send_error(ses, m->id_raw, RPC_INVALID_PARAMS,
		    "invalid params: arguments must be an object");
		return;
	}
	if (ses->nactive >= MCP_MAX_INFLIGHT) {
		ses_send_error(ses, m->id_raw, RPC_INTERNAL_ERROR,
		    "internal error: too many calls in flight");
		return;
	}
	args = json_is_object(args) ? json_incref(args) : json_object();
	/* A JSON tool's arguments are checked by the server behind it. */
	if (t->def != NULL &&
	    jschema_validate(t->input_schema, args, err, sizeof(err)) == -1) {
		json_decref(args);
		call_invalid_args(ses, m, t, err);
		return;
	}
	call_begin(ses, m, t, args, progress_token(m->params), NULL, 0);
}

static void
m_set_level(struct mcp_session *ses, struct rpc_msg *m)
{
	json_t *v = m->params ? json_object_get(m->params, "level") : NULL;
	int lvl = json_is_string(v) ? level_index(json_string_value(v)) : -1;

	if (lvl < 0) {
		ses_send_error(ses, m->id_raw, RPC_INVALID_PARAMS,
		    "invalid params: level must be one of debug, info, notice, "
		    "warning, error, critical, alert, emergency");
		return;
	}
	ses->log_level = lvl;
	ses_reply(ses, m->id_raw, json_incref(ses->empty));
}

static const struct {
	const char	*name;
	void		(*fn)(struct mcp_session *, struct rpc_msg *);
} methods[] = {
	{ "initialize", m_initialize },
	{ "ping", m_ping },
	{ "tools/list", m_tools_list },
	{ "tools/call", m_tools_call },
	{ "logging/setLevel", m_set_level },
};

static void
ses_request(struct mcp_session *ses, struct rpc_msg *m)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m->method, methods[i].name) == 0) {
			methods[i].fn(ses, m);
			return;
		}
	ses_send_error(ses, m->id_raw, RPC_METHOD_NOT_FOUND,
	    "Method not found");
}

static void
n_cancelled(struct mcp_session *ses, struct rpc_msg *m)
{
	json_t *id = m->params ? json_object_get(m->params, "requestId") : NULL;
	struct mcp_call *c;

	if (id == NULL)
		return;
	for (c = ses->calls; c; c = c->next)
		if (!c->cancelled && !c->in_hook && rpc_id_equal(c->id_raw, id))
			break;
	if (c == NULL) {
		log_debug("cancellation of a request not in flight ignored");
		return;
	}
	ses_call_cancel(c);
}

static void
ses_notification(struct mcp_session *ses, struct rpc_msg *m)
{
	if (strcmp(m->method, "notifications/initialized") == 0)
		ses->initialized = 1;
	else if (strcmp(m->method, "notifications/cancelled") == 0)
		n_cancelled(ses, m);
	else
		log_debug("notification %.64s ignored", m->method);
}

/* ---- public ---- */

void
mcp_session_input(struct mcp_session *ses, const char *msg, size_t len)
{
	struct rpc_msg m;
	struct rpc_err e;

	/* With raw-arguments tools, params stay text until a method needs
	   them (their tools/call does not). */
	if (rpc_parse_flags(msg, len, ses->raw_tools ? RPC_PARSE_RAW_PARAMS :
	    0, &m, &e) == -1) {
		if (rpc_err_answerable(&e))
			ses_send_error(ses, e.id_raw, e.code, e.message);
		else
			log_debug("unanswerable message ignored: %s", e.message);
		rpc_err_clear(&e);
		return;
	}
	switch (m.kind) {
	case RPC_REQUEST:
		if (strcmp(m.method, "tools/call") != 0 &&
		    msg_params(&m) == -1)
			ses_send_error(ses, m.id_raw, RPC_INTERNAL_ERROR,
			    "internal error: out of memory");
		else
			ses_request(ses, &m);
		break;
	case RPC_NOTIFICATION:
		if (msg_params(&m) == -1)
			log_debug("notification %.64s dropped: out of memory",
			    m.method);
		else
			ses_notification(ses, &m);
		break;
	default:
		log_debug("response to id %.64s ignored: we sent no request",
		    m.id_raw ? m.id_raw : "null");
		break;
	}
	rpc_msg_free(&m);
}

void
mcp_session_error(struct mcp_session *ses, int code, const char *message)
{
	ses_send_error(ses, NULL, code, message);
}

size_t
mcp_session_active(const struct mcp_session *ses)
{
	return ses->nactive;
}

void *
mcp_session_arg(const struct mcp_session *ses)
{
	return ses->io.arg;
}

struct mcp_session *
mcp_session_new(const struct mcp_session_opts *opts,
    const struct mcp_session_io *io)
{
	struct mcp_session *ses;

	if ((ses = calloc(1, sizeof(*ses))) == NULL)
		return NULL;
	if ((ses->empty = json_object()) == NULL) {
		free(ses);
		return NULL;
	}
	ses->opts = *opts;
	ses->io = *io;
	if (ses->opts.name == NULL)
		ses->opts.name = "afu9";
	if (ses->opts.version == NULL)
		ses->opts.version = AFU9_VERSION;
	if (ses->opts.page_size == 0)
		ses->opts.page_size = 100;
	ses->log_level = MCP_LEVEL_INFO;
	if (opts->cursor_salt != 0)
		ses->salt = (uint32_t)opts->cursor_salt;
	else
		ses->salt = (uint32_t)getpid() * 2654435761u ^
		    (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)ses;
	snprintf(ses->version, sizeof(ses->version), "%s", MCP_LATEST_VERSION);
	return ses;
}

const char *
mcp_session_version(const struct mcp_session *ses)
{
	size_t i;

	/* the static name, not the session's copy */
	for (i = 0; i < sizeof(mcp_versions) / sizeof(mcp_versions[0]); i++)
		if (strcmp(ses->version, mcp_versions[i]) == 0)
			return mcp_versions[i];
	return MCP_LATEST_VERSION;
}

const char *
mcp_session_log_level(const struct mcp_session *ses)
{
	return mcp_levels[ses->log_level];
}

int
mcp_session_set_log_level(struct mcp_session *ses, const char *level)
{
	int lvl = level_index(level);

	if (lvl < 0)
		return -1;
	ses->log_level = lvl;
	return 0;
}

void
mcp_session_free(struct mcp_session *ses)
{
	struct mcp_call *c;
	size_t i;

	if (ses == NULL)
		return;
	ses->freeing = 1;
	mcp_session_cancel_all(ses);
	while ((c = ses->calls) != NULL) {
		c->cancelled = 1;	/* already uncounted */
		ses_call_free(c);
	}
	for (i = 0; i < ses->ntools; i++)
		tool_free(ses->tools[i]);
	free(ses->tools);
	free(ses->htab);
	json_decref(ses->empty);
	free(ses);
}

static void
tool_free(struct ses_tool *t)
{
	free(t->name);
	json_decref(t->input_schema);
	json_decref(t->output_schema);
	json_decref(t->listing);
	free(t);
}

/* Append a copy of *t to the table (t's references move).  0 or -1. */
static int
tool_insert(struct mcp_session *ses, const struct ses_tool *t)
{
	struct ses_tool **nt, *p;
	size_t ncap;

	if (ses->ntools == ses->captools) {
		ncap = ses->captools ? ses->captools * 2 : 16;
		if ((nt = realloc(ses->tools, ncap * sizeof(*nt))) == NULL)
			return -1;
		ses->tools = nt;
		ses->captools = ncap;
	}
	if (htab_reserve(ses) == -1 || (p = malloc(sizeof(*p))) == NULL)
		return -1;
	*p = *t;
	ses->tools[ses->ntools++] = p;
	htab_put(ses->htab, ses->hsize, p);
	ses->hused++;
	return 0;
}

/* The tools/list entry for a tool; new reference or NULL. */
static json_t *
tool_listing(const struct ses_tool *t)
{
	const struct mcp_tool *d = t->def;
	json_t *o = json_object(), *ann = json_object();

	if (o == NULL || ann == NULL) {
		json_decref(o);
		json_decref(ann);
		return NULL;
	}
	json_object_set_new(o, "name", json_string(t->name));
	if (d->title) {
		json_object_set_new(o, "title", jstr(d->title));
		json_object_set_new(ann, "title", jstr(d->title));
	}
	if (d->description)
		json_object_set_new(o, "description", jstr(d->description));
	json_object_set(o, "inputSchema", t->input_schema);
	if (t->output_schema)
		json_object_set(o, "outputSchema", t->output_schema);
	json_object_set_new(ann, "readOnlyHint", json_boolean(d->read_only));
	json_object_set_new(ann, "destructiveHint",
	    json_boolean(d->destructive));
	json_object_set_new(ann, "idempotentHint", json_boolean(d->idempotent));
	json_object_set_new(ann, "openWorldHint", json_boolean(d->open_world));
	json_object_set_new(o, "annotations", ann);
	return o;
}

/* Parse and check one schema; new reference, or NULL with err filled. */
static json_t *
load_schema(const char *what, const char *text, char *err, size_t errlen)
{
	json_error_t je;
	json_t *s;
	char why[256];

	if ((s = json_loads(text, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		snprintf(err, errlen, "%s: %s (line %d)", what, je.text, je.line);
		return NULL;
	}
	if (!json_is_object(s)) {
		snprintf(err, errlen, "%s: not a JSON object", what);
		json_decref(s);
		return NULL;
	}
	if (jschema_check(s, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", what, why);
		json_decref(s);
		return NULL;
	}
	return s;
}

int
mcp_session_add_tool(struct mcp_session *ses, const struct mcp_tool *tool,
    void *udata, char *err, size_t errlen)
{
	struct ses_tool t;
	json_t *type;

	memset(&t, 0, sizeof(t));
	if (tool->name == NULL || !tool_name_ok(tool->name, MCP_TOOL_NAME_MAX)) {
		snprintf(err, errlen, "invalid tool name: 1-%d characters of "
		    "[A-Za-z0-9_./-]", MCP_TOOL_NAME_MAX);
		return -1;
	}
	if (find_tool(ses, tool->name)) {
		snprintf(err, errlen, "tool %s: name already registered",
		    tool->name);
		return -1;
	}
	if (tool->fn == NULL || tool->input_schema == NULL) {
		snprintf(err, errlen, "tool %s: handler and input schema are "
		    "required", tool->name);
		return -1;
	}
	t.def = tool;
	t.fn = tool->fn;
	t.udata = udata;
	if ((t.input_schema = load_schema("inputSchema", tool->input_schema,
	    err, errlen)) == NULL)
		return -1;
	type = json_object_get(t.input_schema, "type");
	if (!json_is_string(type) ||
	    strcmp(json_string_value(type), "object") != 0) {
		snprintf(err, errlen, "tool %s: inputSchema must have "
		    "\"type\": \"object\"", tool->name);
		json_decref(t.input_schema);
		return -1;
	}
	if (tool->output_schema && (t.output_schema = load_schema(
	    "outputSchema", tool->output_schema, err, errlen)) == NULL) {
		json_decref(t.input_schema);
		return -1;
	}
	if ((t.name = strdup(tool->name)) == NULL ||
	    (t.listing = tool_listing(&t)) == NULL ||
	    tool_insert(ses, &t) == -1) {
		snprintf(err, errlen, "out of memory");
		free(t.name);
		json_decref(t.listing);
		json_decref(t.input_schema);
		json_decref(t.output_schema);
		return -1;
	}
	return 0;
}

/* mcp_session_add_tool_json() and mcp_session_add_tool_raw(). */
static int
add_json_tool(struct mcp_session *ses, const json_t *listing, mcp_tool_fn fn,
    void *udata, int raw_args, char *err, size_t errlen)
{
	struct ses_tool t;
	const char *name;
	json_t *is;

	memset(&t, 0, sizeof(t));
	name = json_string_value(json_object_get(listing, "name"));
	if (name == NULL || !tool_name_ok(name, MCP_JSON_TOOL_NAME_MAX)) {
		snprintf(err, errlen, "invalid tool name: 1-%d characters of "
		    "[A-Za-z0-9_./-]", MCP_JSON_TOOL_NAME_MAX);
		return -1;
	}
	if (find_tool(ses, name)) {
		snprintf(err, errlen, "tool %s: name already registered", name);
		return -1;
	}
	is = json_object_get(listing, "inputSchema");
	if (fn == NULL || !json_is_object(is)) {
		snprintf(err, errlen, "tool %s: handler and an inputSchema "
		    "object are required", name);
		return -1;
	}
	t.fn = fn;
	t.udata = udata;
	t.raw_args = raw_args;
	if ((t.name = strdup(name)) == NULL ||
	    (t.input_schema = json_deep_copy(is)) == NULL ||
	    (t.listing = json_deep_copy(listing)) == NULL ||
	    tool_insert(ses, &t) == -1) {
		snprintf(err, errlen, "out of memory");
		free(t.name);
		json_decref(t.input_schema);
		json_decref(t.listing);
		return -1;
	}
	return 0;
}

int
mcp_session_add_tool_json(struct mcp_session *ses, const json_t *listing,
    mcp_tool_fn fn, void *udata, char *err, size_t errlen)
{
	return add_json_tool(ses, listing, fn, udata, 0, err, errlen);
}

int
mcp_session_add_tool_raw(struct mcp_session *ses, const json_t *listing,
    mcp_tool_fn fn, void *udata, char *err, size_t errlen)
{
	if (add_json_tool(ses, listing, fn, udata, 1, err, errlen) == -1)
		return -1;
	ses->raw_tools = 1;
	return 0;
}

int
mcp_session_remove_tool(struct mcp_session *ses, const char *name)
{
	ssize_t i = tool_index(ses, name);
	struct ses_tool *t;

	if (i < 0)
		return -1;
	t = ses->tools[i];
	htab_del(ses, t);
	memmove(&ses->tools[i], &ses->tools[i + 1],
	    (ses->ntools - (size_t)i - 1) * sizeof(ses->tools[0]));
	ses->ntools--;
	t->removed = 1;
	if (t->refs == 0)
		tool_free(t);
	return 0;
}

int
mcp_session_log(struct mcp_session *ses, const char *level, const char *logger,
    json_t *data)
{
	int lvl = level_index(level);
	json_t *params, *red;

	if (lvl < 0) {
		json_decref(data);
		return -1;
	}
	if (lvl < ses->log_level) {
		json_decref(data);
		return 0;
	}
	red = data ? redact_json(data) : json_null();
	json_decref(data);
	if (red == NULL)
		return 0;
	params = json_object();
	json_object_set_new(params, "level", json_string(mcp_levels[lvl]));
	if (logger)
		json_object_set_new(params, "logger", jstr(logger));
	json_object_set_new(params, "data", red);
	ses_notify(ses, "notifications/message", params);
	return 0;
}

void
mcp_session_tools_changed(struct mcp_session *ses)
{
	ses_notify(ses, "notifications/tools/list_changed", NULL);
}

/* ---- per call ---- */

struct mcp_session *
mcp_call_session(const struct mcp_call *c)
{
	return c->ses;
}

const char *
mcp_call_tool(const struct mcp_call *c)
{
	return c->tool->name;
}

const char *
mcp_call_id(const struct mcp_call *c)
{
	return c->id_raw;
}

void
mcp_call_on_cancel(struct mcp_call *c, mcp_cancel_fn fn, void *arg)
{
	c->cancel_fn = fn;
	c->cancel_arg = arg;
}

/*
 * The "arguments" text of the request, found in the params text the
 * parser kept, while the handler runs; NULL when there is none to give.
 */
const char *
mcp_call_arguments_raw(const struct mcp_call *c, size_t *len)
{
	const struct mcp_session *ses = c->ses;
	const char *v;
	size_t vlen;

	if (ses->cur_call == c && ses->cur_args != NULL) {
		*len = ses->cur_args_len;
		return ses->cur_args;
	}
	if (ses->cur_call != c || ses->cur_params == NULL ||
	    rpc_raw_member(ses->cur_params, ses->cur_params_len, "arguments",
	    &v, &vlen) != 1 || vlen == 0 || *v != '{')
		return NULL;
	*len = vlen;
	return v;
}

int
mcp_call_has_progress(const struct mcp_call *c)
{
	return c->progress_token != NULL;
}

void
mcp_call_progress(struct mcp_call *c, double progress, double total,
    const char *message)
{
	json_t *params;

	if (c->progress_token == NULL || c->cancelled || c->in_hook ||
	    !isfinite(progress))
		return;
	if (c->sent_progress && progress <= c->last_progress)
		return;
	c->sent_progress = 1;
	c->last_progress = progress;
	params = json_object();
	json_object_set(params, "progressToken", c->progress_token);
	json_object_set_new(params, "progress", jnum(progress));
	if (total >= 0 && isfinite(total))
		json_object_set_new(params, "total", jnum(total));
	if (message)
		json_object_set_new(params, "message", jstr(message));
	ses_notify(c->ses, "notifications/progress", params);
}

/*
 * Check a success result against the tool's outputSchema.  0 if fine;
 * -1 with err filled.
 */
static int
check_output(const struct mcp_call *c, const json_t *structured, char *err,
    size_t errlen)
{
	const json_t *schema = c->tool->output_schema;

	if (schema == NULL)
		return 0;
	if (structured == NULL) {
		snprintf(err, errlen, "no structured content");
		return -1;
	}
	return jschema_validate(schema, structured, err, errlen);
}

void
mcp_call_return_content(struct mcp_call *c, json_t *content,
    json_t *structured, int is_error)
{
	json_t *res;
	char err[512];

	if (content == NULL)
		content = json_array();
	if (!json_is_array(content)) {
		log_warnx("tool %s: content is not an array", mcp_call_tool(c));
		json_decref(content);
		json_decref(structured);
		mcp_call_fail(c, RPC_INTERNAL_ERROR,
		    "internal error: malformed tool result");
		return;
	}
	if (!is_error && !c->in_hook && !c->cancelled &&
	    check_output(c, structured, err, sizeof(err)) == -1) {
		log_warnx("tool %s: result does not match its outputSchema: %s",
		    mcp_call_tool(c), err);
		json_decref(content);
		json_decref(structured);
		mcp_call_error(c, "internal error: the tool result does not "
		    "match its outputSchema: %s", err);
		return;
	}
	res = json_object();
	json_object_set_new(res, "content", content);
	if (structured)
		json_object_set_new(res, "structuredContent", structured);
	if (is_error)
		json_object_set_new(res, "isError", json_true());
	ses_call_complete(c, res);
}

/*
 * The result as text: sent as it is (whitespace dropped) with the call's
 * id, unless the tool has an outputSchema to check it against (then it
 * goes through mcp_call_return_content()).  A result that is not an
 * object, cannot be built or is refused by the transport becomes a
 * JSON-RPC error.
 */
void
mcp_call_return_raw(struct mcp_call *c, const char *result, size_t len)
{
	json_t *res;
	size_t i = 0, n = 0;
	char *text;

	while (i < len && (result[i] == ' ' || result[i] == '\t' ||
	    result[i] == '\n' || result[i] == '\r'))
		i++;
	if (i >= len || result[i] != '{') {
		mcp_call_fail(c, RPC_INTERNAL_ERROR,
		    "internal error: malformed tool result");
		return;
	}
	if (c->tool->output_schema != NULL) {
		if ((res = json_loadb(result, len, 0, NULL)) == NULL) {
			mcp_call_fail(c, RPC_INTERNAL_ERROR,
			    "internal error: malformed tool result");
			return;
		}
		mcp_call_return_content(c, json_incref(json_object_get(res,
		    "content")), json_incref(json_object_get(res,
		    "structuredContent")), json_is_true(json_object_get(res,
		    "isError")));
		json_decref(res);
		return;
	}
	if (c->in_hook)
		return;
	if (c->cancelled) {
		ses_call_free(c);
		return;
	}
	text = rpc_build_result_text(c->id_raw, result, len, &n);
	ses_send_response(c->ses, c->id_raw, text, n);
	free(text);
	ses_call_free(c);
}

void
mcp_call_return(struct mcp_call *c, json_t *structured, const char *text)
{
	json_t *content = json_array(), *t = NULL;
	char *dump = NULL;

	if (text)
		t = jstr(text);
	else if (structured) {
		dump = json_dumps(structured, JSON_COMPACT | JSON_ENCODE_ANY);
		t = dump ? jstr(dump) : NULL;
		free(dump);
	}
	if (t)
		json_array_append_new(content,
		    json_pack("{s:s, s:o}", "type", "text", "text", t));
	mcp_call_return_content(c, content, structured, 0);
}

void
mcp_call_error(struct mcp_call *c, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	json_t *content, *t;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	t = jstr(r == -1 ? "tool failed" : msg);
	free(msg);
	content = json_pack("[{s:s, s:o}]", "type", "text", "text", t);
	mcp_call_return_content(c, content, NULL, 1);
}

void
mcp_call_fail(struct mcp_call *c, int code, const char *message)
{
	char *m;

	if (c->in_hook)
		return;
	if (!c->cancelled) {
		m = u8_clean(message ? message : "", CUT_BOUND(MCP_FAIL_MAX),
		    CUT_MARK);
		ses_send_error(c->ses, c->id_raw, code, m ? m : "error");
		free(m);
	}
	ses_call_free(c);
}
