/*
 * provider: the model providers' side of the agent runner (doc/agents.md,
 * "Providers"), with no network of its own: a provider-neutral
 * conversation, the request bodies and headers of OpenAI-compatible chat
 * completions and of Anthropic Messages built from it, their replies
 * (whole JSON bodies, or streams fed event by event from sse.h) read back
 * into it, their errors classified, and the cost of a reply in
 * micro-dollars.  The HTTP transfer and the loop are the caller's.
 *
 * Conversation: system text (one or more blocks), then messages: user
 * text; an assistant turn (text and tool calls {id, name, arguments});
 * tool results {call id, text, is_error}, each answering a call of the
 * assistant turn before it, once.  Tools come from MCP tools/list entries
 * ({"name":"server.tool","description":...,"inputSchema":{...}}) and get
 * names the providers accept (^[a-zA-Z0-9_-]{1,64}$, see
 * prov_conv_add_tools()); replies name tools that way and are mapped
 * back.
 *
 * Bounds (each crossing is an error that says which): PROV_MAX_TOOLS
 * tools, PROV_MAX_MESSAGES messages, PROV_MAX_TEXT bytes of one text
 * (a message's, a reply's, a tool result's), PROV_MAX_CALLS tool calls
 * in one turn, PROV_MAX_ARGS bytes of one call's arguments, PROV_MAX_BLOCKS
 * content blocks of one streamed reply.
 *
 * Ownership: everything a struct here points to is its own; the
 * functions that take strings or JSON copy them (json values: a deep
 * copy), except where "steals" is said.  Getters borrow.
 */
#ifndef AFU9_PROVIDER_H
#define AFU9_PROVIDER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "sse.h"

#define PROV_MAX_TOOLS		256
#define PROV_MAX_MESSAGES	10000
#define PROV_MAX_TEXT		(4u << 20)
#define PROV_MAX_CALLS		64
#define PROV_MAX_ARGS		(1u << 20)
#define PROV_MAX_BLOCKS		256
#define PROV_NAME_MAX		64	/* bytes of a provider's tool name */
#define PROV_TOOL_MAX		256	/* bytes of a "server.tool" name */
#define PROV_MSG_MAX		1024	/* bytes of a provider's error text kept */
#define PROV_TOKENS_MAX		100000000ULL	/* of one usage count */

enum prov_kind {
	PROV_OPENAI,		/* POST /v1/chat/completions */
	PROV_ANTHROPIC		/* POST /v1/messages */
};

struct prov_call {
	char	*id;		/* the provider's call id */
	char	*name;		/* the provider's tool name */
	char	*tool;		/* "server.tool", NULL: not one of ours */
	json_t	*args;		/* a JSON object; NULL when error is set */
	char	*raw;		/* the arguments as the model wrote them */
	char	*error;		/* why this call cannot be made, or NULL */
};

enum prov_msg_kind { PROV_MSG_USER, PROV_MSG_ASSISTANT, PROV_MSG_RESULT };

struct prov_msg {
	enum prov_msg_kind	 kind;
	char			*text;	 /* user, assistant (may be ""), result */
	struct prov_call	*calls;	 /* assistant */
	size_t			 ncalls;
	char			*call_id; /* result: the call it answers */
	int			 is_error; /* result */
};

struct prov_tool {
	char	*tool;		/* "server.tool" */
	char	*name;		/* the provider's name for it */
	char	*description;	/* may be NULL */
	json_t	*schema;	/* inputSchema, an object */
};

struct prov_ser;

/*
 * Messages are never changed once added (nothing here changes one; a
 * caller must not either): that is what lets prov_request_text() keep
 * their serialised form.
 */
struct prov_conv {
	char			**system;	/* blocks */
	size_t			  nsystem;
	struct prov_msg		 *msgs;
	size_t			  nmsgs, capmsgs;
	struct prov_tool	 *tools;
	size_t			  ntools;
	struct prov_ser		 *ser;		/* prov_request_text()'s */
};

void	prov_conv_init(struct prov_conv *);
void	prov_conv_free(struct prov_conv *);
/*
 * Each returns 0, or -1 with the reason in err (a bound, a result for a
 * call that the last assistant turn did not make or that already has
 * one, ENOMEM), the conversation unchanged.  Text must be UTF-8.
 */
int	prov_conv_add_system(struct prov_conv *, const char *text,
	    char *err, size_t errlen);
int	prov_conv_add_user(struct prov_conv *, const char *text,
	    char *err, size_t errlen);
/* The reply's text and calls (copied) as the next assistant turn. */
struct prov_reply;
int	prov_conv_add_reply(struct prov_conv *, const struct prov_reply *,
	    char *err, size_t errlen);
int	prov_conv_add_result(struct prov_conv *, const char *call_id,
	    const char *text, int is_error, char *err, size_t errlen);
/*
 * The tools of a tools/list answer (its "tools" array, borrowed), with
 * their provider names: "server.tool" becomes "server__tool", any byte
 * outside [a-zA-Z0-9_-] becomes '_'.  A name whose form is longer than
 * PROV_NAME_MAX, or that another tool of the list maps to as well, gets
 * instead its first 51 bytes, '_' and 12 hex digits of a hash of the
 * whole name (FNV-1a, 64 bits): deterministic, whatever the order of the
 * list.  A list where two tools still get the same name (or one tool is
 * listed twice) is refused, as are entries without a name or with a
 * schema that is not an object.  Replaces the tools set before.
 */
int	prov_conv_add_tools(struct prov_conv *, const json_t *tools,
	    char *err, size_t errlen);
/* Provider name -> "server.tool" (borrowed), NULL when none. */
const char *prov_conv_tool(const struct prov_conv *, const char *name);
/* "server.tool" -> provider name (borrowed), NULL when none. */
const char *prov_conv_name(const struct prov_conv *, const char *tool);
/* The mapping alone: the provider name tool would get if no other tool
   collided with it, in out (PROV_NAME_MAX + 1 bytes). */
void	prov_name_map(const char *tool, char out[PROV_NAME_MAX + 1]);

/* ---- requests ---- */

struct prov_opts {
	enum prov_kind	 kind;
	const char	*model;
	long		 max_tokens;	/* > 0; Anthropic requires it */
	int		 stream;
	/* OpenAI: send max_completion_tokens (OpenAI's newer models)
	   rather than max_tokens (what compatible servers read). */
	int		 max_completion_tokens;
};

/* The request path, "/v1/chat/completions" or "/v1/messages". */
const char *prov_path(enum prov_kind);
/*
 * The request body for the conversation: a new reference, or NULL with
 * the reason in err (no model, max_tokens out of range, no message,
 * the conversation not starting with a user turn (Anthropic), ENOMEM).
 */
json_t	*prov_request(const struct prov_conv *, const struct prov_opts *,
	    char *err, size_t errlen);
/*
 * The same body as text, byte for byte what json_dumps(prov_request(),
 * JSON_COMPACT) gives, with its length in *len (malloc'd; NULL with err
 * as above).  The serialised system, tools and messages are kept in the
 * conversation (an append-only log): the next request serialises only
 * the messages added since, so a run's request costs what its new
 * messages cost plus a copy, not a walk of the whole conversation.
 * Adding system blocks or replacing the tools serialises those again;
 * another provider kind starts over.
 */
char	*prov_request_text(struct prov_conv *, const struct prov_opts *,
	    size_t *len, char *err, size_t errlen);
/*
 * The request headers, "Name: value" strings in a NULL-terminated vector
 * (strv_free() it: it wipes them): content-type, and Authorization:
 * Bearer key (OpenAI; none when key is NULL, for local servers), or
 * x-api-key and anthropic-version (Anthropic: key required), accept:
 * text/event-stream when streaming.  The key is registered with
 * redact_add_secret() first, so it never reaches a log.  NULL with err on
 * a key that is empty, too long (4096) or holds a control byte.
 */
char	**prov_headers(enum prov_kind, const char *key, int stream,
	    char *err, size_t errlen);

/* ---- replies ---- */

enum prov_stop {
	PROV_STOP_NONE,		/* not said (an error, a cut stream) */
	PROV_STOP_END,		/* end_turn, stop_sequence / stop */
	PROV_STOP_TOOL_USE,	/* tool_use / tool_calls, function_call */
	PROV_STOP_MAX_TOKENS,	/* max_tokens / length */
	PROV_STOP_OTHER		/* refusal, pause_turn, content_filter ... */
};

enum prov_err {
	PROV_OK,
	PROV_E_RATE_LIMITED,	/* 429 */
	PROV_E_OVERLOADED,	/* 529, overloaded_error */
	PROV_E_SERVER,		/* 5xx */
	PROV_E_INVALID,		/* 400, 404, 413, 422: the request's fault */
	PROV_E_AUTH,		/* 401, 403 */
	PROV_E_STREAM,		/* an error event in a 200 stream */
	PROV_E_TRUNCATED,	/* the stream ended before its end */
	PROV_E_MALFORMED,	/* a body or event that is not what the
				   provider's format says, or over a bound */
	PROV_E_OTHER		/* any other status */
};

/* Tokens as billed: input excludes the cache's (OpenAI's prompt_tokens
   includes its cached_tokens: they are taken out). */
struct prov_usage {
	uint64_t	input, output, cache_read, cache_write;
};

struct prov_reply {
	char			*text;		/* never NULL once parsed */
	size_t			 textlen;
	struct prov_call	*calls;
	size_t			 ncalls;
	enum prov_stop		 stop;
	char			*stop_raw;	/* the provider's word, or NULL */
	struct prov_usage	 usage;
	int			 has_usage;
	char			*id, *model;	/* or NULL */
	/* error */
	enum prov_err		 err;
	int			 status;	/* HTTP status, 0: none */
	int			 retryable;	/* worth trying again later */
	int			 context_too_long;
	char			*err_type;	/* "rate_limit_error" ..., or NULL */
	char			*err_msg;	/* the provider's message or ours,
						   redacted, <= PROV_MSG_MAX */
	long			 retry_after_ms; /* retry-after(-ms); -1: none */
	long			 reset_ms;	/* the latest rate-limit reset
						   header, from now; -1: none */
};

void	prov_reply_init(struct prov_reply *);
void	prov_reply_free(struct prov_reply *);
const char *prov_err_name(enum prov_err);
const char *prov_stop_name(enum prov_stop);

/*
 * A whole response: status, its headers ("Name: value" strings, NULL-
 * terminated, may be NULL), body[0..len).  Fills r (prov_reply_init()
 * first): a 2xx body is read as the provider's reply, anything else (or a
 * 2xx body holding an "error" object) as its error, classified; `now`
 * turns the reset times Anthropic sends as dates into durations.
 * Returns 0 when r is a reply, -1 when r->err says what went wrong.  The
 * conversation (borrowed) maps tool names back.
 */
int	prov_parse(enum prov_kind, const struct prov_conv *, int status,
	    const char *const *headers, const char *body, size_t len,
	    time_t now, struct prov_reply *r);
/*
 * Only the rate-limit headers: retry_after_ms and reset_ms of r.  For a
 * caller that reads a 2xx stream yet wants them.
 */
void	prov_parse_headers(enum prov_kind, const char *const *headers,
	    time_t now, struct prov_reply *r);

/*
 * A streamed 2xx reply, assembled from its events (sse.h) as they come.
 * prov_stream_event() returns 0 (go on; also for events that do not
 * matter: ping, unknown types, anything after the end) or -1 once the
 * reply has failed (an error event, a malformed or oversized event; the
 * stream should be dropped).  prov_stream_sse is an sse_event_fn over it.
 * prov_stream_finish() hands the reply over to r (prov_reply_init()
 * first) when the stream has ended: 0, or -1 with r->err (the failure, or
 * PROV_E_TRUNCATED when no [DONE] / message_stop came).
 */
struct prov_stream;
struct prov_stream *prov_stream_new(enum prov_kind, const struct prov_conv *);
int	prov_stream_event(struct prov_stream *, const struct sse_event *);
int	prov_stream_sse(const struct sse_event *, void *stream);
int	prov_stream_finish(struct prov_stream *, struct prov_reply *r);
void	prov_stream_free(struct prov_stream *);

/* ---- prices and cost ---- */

/* Micro-dollars per million tokens. */
struct prov_price {
	char		*model;	/* exact, or a prefix ending in '*' */
	uint64_t	 input, output, cache_read, cache_write;
};

struct prov_prices {
	struct prov_price	*v;
	size_t			 n;
};

#define PROV_PRICE_MAX	10000000000ULL	/* $10,000 per million tokens */
#define PROV_PRICES_MAX	1024

/*
 * A table from JSON (borrowed): {"model": {"input": 3, "output": 15,
 * "cache_read": 0.3, "cache_write": 3.75}, ...}, dollars per million
 * tokens, all four given, each a number >= 0 with at most six decimals
 * and at most PROV_PRICE_MAX; model names non-empty, at most 128 bytes,
 * '*' only last.  0, or -1 with err naming the entry; t is then empty.
 */
int	prov_prices_parse(struct prov_prices *t, const json_t *v,
	    char *err, size_t errlen);
void	prov_prices_free(struct prov_prices *t);
/* The built-in table (a few current models; the config's comes first). */
const struct prov_prices *prov_prices_default(void);
/*
 * The price of model in t (NULL: none), else in the built-in table: an
 * exact name first, else the longest matching prefix.  Borrowed, or NULL.
 */
const struct prov_price *prov_price_find(const struct prov_prices *t,
	    const char *model);
/* The cost of u at p in micro-dollars, rounded up (a budget is never
   under-counted); exact, saturating at UINT64_MAX. */
uint64_t prov_cost(const struct prov_price *p, const struct prov_usage *u);

#endif /* AFU9_PROVIDER_H */
