/*
 * rpc: JSON-RPC 2.0 envelopes.
 *
 * Parsing is strict: the text must be one JSON object (an array is a batch:
 * -32600 "batches are not supported"), parsed with duplicate keys rejected,
 * valid UTF-8, nesting bounded by jansson (2048 levels).  "jsonrpc" must be
 * exactly "2.0"; "id" a string or an integer (not null, float, bool, object,
 * array); "method" a string; "params" an object when present (arrays are
 * refused: MCP uses named params only).  A message with "method" is a
 * request (with id) or a notification (without).  A message without
 * "method" is a response: exactly one of "result"/"error", an id present,
 * "error" an object with integer "code" and string "message".
 *
 * Ids are kept as the exact bytes the peer sent (id_raw), so a reply echoes
 * them byte for byte: a string id with escapes ("\u0041") comes back with
 * the same escapes, not re-encoded by jansson.
 *
 * Ownership: rpc_parse() fills a struct rpc_msg that owns `root` and
 * `id_raw`; every other pointer borrows from root.  rpc_msg_free() releases.
 * Builders return new malloc'd, NUL-terminated, compact JSON text (no raw
 * newline inside, so it is valid NDJSON); they borrow their json_t inputs.
 */
#ifndef AFU9_RPC_H
#define AFU9_RPC_H

#include <stddef.h>
#include <jansson.h>

#define RPC_PARSE_ERROR		(-32700)
#define RPC_INVALID_REQUEST	(-32600)
#define RPC_METHOD_NOT_FOUND	(-32601)
#define RPC_INVALID_PARAMS	(-32602)
#define RPC_INTERNAL_ERROR	(-32603)
/* MCP: request cancelled / timed out locally (client side only). */
#define RPC_REQUEST_TIMEOUT	(-32001)
#define RPC_CONNECTION_CLOSED	(-32000)

enum rpc_kind {
	RPC_REQUEST,
	RPC_NOTIFICATION,
	RPC_RESPONSE,		/* has result */
	RPC_ERROR_RESPONSE,	/* has error */
};

struct rpc_msg {
	enum rpc_kind	 kind;
	json_t		*root;		/* owned */
	char		*id_raw;	/* owned; exact id bytes; NULL if none */
	json_t		*id;		/* borrowed from root */
	const char	*method;	/* borrowed; requests and notifications */
	json_t		*params;	/* borrowed; NULL when absent */
	json_t		*result;	/* borrowed; RPC_RESPONSE */
	json_t		*error;		/* borrowed; RPC_ERROR_RESPONSE */
	int		 error_code;	/* RPC_ERROR_RESPONSE: error.code */
	const char	*error_message;	/* RPC_ERROR_RESPONSE: error.message */
	/*
	 * The exact text of "params" / "result" as sent, borrowed from the
	 * parsed buffer (valid while it is), when the single-pass scanner
	 * took the message; NULL otherwise (then use the trees).  The text
	 * is valid JSON but may hold whitespace, raw newlines included.
	 */
	const char	*params_raw;
	size_t		 params_len;
	const char	*result_raw;
	size_t		 result_len;
};

/*
 * rpc_parse_flags(): with RPC_PARSE_RAW_RESULT a response's result is
 * checked (everything jansson would refuse is refused or left to jansson)
 * but not built when it can be: then m->result is NULL, m->root has no
 * "result" member and result_raw/result_len hold its text.  Otherwise
 * (and without the flag) the result is built as by rpc_parse().
 */
#define RPC_PARSE_RAW_RESULT	0x1
/*
 * With RPC_PARSE_RAW_PARAMS a request's or notification's params object
 * is checked the same way and, when it can be, not built: m->params is
 * NULL, m->root has no "params" member and params_raw/params_len hold its
 * text (json_loadb() of it then gives the tree rpc_parse() would have).
 */
#define RPC_PARSE_RAW_PARAMS	0x2

struct rpc_err {
	int	 code;		/* RPC_PARSE_ERROR, RPC_INVALID_REQUEST, ... */
	char	 message[200];	/* human text for error.message */
	char	*id_raw;	/* owned; the id when it could be recovered and
				   is valid, else NULL (reply with id null) */
	int	 is_response;	/* the bad message looked like a response:
				   never answer it, only log it */
	int	 is_notification; /* it had "method" and no "id": a
				   notification, never answered either */
};

/*
 * Parse one message.  Returns 0 and fills *m, or -1 and fills *e (release
 * e->id_raw with rpc_err_clear()).  A notification that fails validation
 * (no id) must not be answered either: e->id_raw is NULL and callers check
 * rpc_err_answerable().  Out of memory is RPC_INTERNAL_ERROR, with the
 * message classified (and its id recovered when it can be) all the same.
 */
int	 rpc_parse(const char *buf, size_t len, struct rpc_msg *m, struct rpc_err *e);
int	 rpc_parse_flags(const char *buf, size_t len, int flags,
	    struct rpc_msg *m, struct rpc_err *e);
void	 rpc_msg_free(struct rpc_msg *);
void	 rpc_err_clear(struct rpc_err *);
/* Should an error reply be sent for this failed parse? (not for responses,
   nor for well-formed notifications with a bad field). */
int	 rpc_err_answerable(const struct rpc_err *);

/* {"jsonrpc":"2.0","id":ID,"result":RESULT} */
char	*rpc_build_result(const char *id_raw, const json_t *result, size_t *len);
/* {"jsonrpc":"2.0","id":ID|null,"error":{"code":C,"message":M[,"data":D]}} */
char	*rpc_build_error(const char *id_raw, int code, const char *message,
	    const json_t *data, size_t *len);
/* {"jsonrpc":"2.0","id":ID,"method":M[,"params":P]} */
char	*rpc_build_request(const char *id_raw, const char *method,
	    const json_t *params, size_t *len);
/* {"jsonrpc":"2.0","method":M[,"params":P]} */
char	*rpc_build_notification(const char *method, const json_t *params,
	    size_t *len);
/*
 * As rpc_build_result() and rpc_build_request(), with the value given as
 * JSON text (len bytes, borrowed): it must be valid JSON (params: an
 * object); whitespace outside strings is dropped, so the message stays
 * one NDJSON line.  NULL on ENOMEM.
 */
char	*rpc_build_result_text(const char *id_raw, const char *result,
	    size_t rlen, size_t *len);
char	*rpc_build_request_text(const char *id_raw, const char *method,
	    const char *params, size_t plen, size_t *len);
/*
 * In the valid JSON object text obj (len bytes), the value of the
 * top-level member `name`: 1 with *val and *vlen set (borrowed from obj),
 * 0 when there is no such member, -1 when it cannot tell cheaply (a
 * member name with an escape, or obj is not an object): parse it then.
 */
int	 rpc_raw_member(const char *obj, size_t len, const char *name,
	    const char **val, size_t *vlen);
/* Raw text of an integer id, e.g. for client-allocated ids; new string. */
char	*rpc_id_from_int(long long);
/*
 * The elements of the valid JSON array text arr (len bytes), one per
 * call: start with *pos = 0.  1 with *val and *vlen set (borrowed from
 * arr) and *pos advanced, 0 past the last element, -1 when arr is not an
 * array.
 */
int	 rpc_raw_element(const char *arr, size_t len, size_t *pos,
	    const char **val, size_t *vlen);
/* Compare a raw id against a json id value (for routing); 1 if equal. */
int	 rpc_id_equal(const char *id_raw, const json_t *id);
/* Text name for a standard code ("Parse error", ...). */
const char *rpc_code_name(int code);

#endif
