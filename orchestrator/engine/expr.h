/*
 * expr: the expressions of workflow definitions (doc: issue "Durable
 * workflows"; doc/workflows.md when the engine lands).
 *
 * References name values of the execution's context, a JSON object
 * {"inputs":{...}, "steps":{"ID":{"output":...,"status":"..."}},
 *  "execution":{"id":...}, "env":{...only the allowed names...}}:
 *     inputs.x   steps.ID.output.a.b[0]   steps.ID.status
 *     execution.id   env.NAME
 * (and, in the webhook rules of api/webhook.h only, event.payload.x:
 * their context is {"event": {...}} instead)
 * A condition combines them: == != < > <= >= && || ! ( ), string
 * ('...' or "...", backslash escapes \\ \' \" \n \t), number, true,
 * false and null literals, contains(haystack, needle) (substring, or an
 * array element equal to needle) and startsWith(string, prefix).
 * Falsy: false, null, 0, "" (anything else is truthy).  < > <= >= compare
 * two numbers or two strings (bytewise); anything else is an error.
 *
 * A reference that cannot be resolved is an error naming it: it never
 * becomes null, an empty string or the text "undefined".
 *
 * Templates: in a JSON value (a step's arguments), a string that is
 * exactly "${{ expr }}" becomes the value of expr with its JSON type; a
 * string holding "${{ expr }}" among other text gets the value's text
 * (a string as it is, anything else as compact JSON) in its place.
 *
 * Bounds: EXPR_TEXT_MAX bytes of expression text, EXPR_DEPTH_MAX levels
 * of nesting, EXPR_PATH_MAX segments per reference.
 */
#ifndef AFU9_EXPR_H
#define AFU9_EXPR_H

#include <stddef.h>

#include <jansson.h>

#define EXPR_TEXT_MAX	4096
#define EXPR_DEPTH_MAX	64
#define EXPR_PATH_MAX	32
#define EXPR_ERR_MAX	512

struct expr;

/*
 * Parse an expression: text (NUL-terminated) with or without its
 * "${{ ... }}" wrapper.  A new expression, or NULL with the reason in
 * err (ENOMEM included).
 */
struct expr	*expr_parse(const char *text, char *err, size_t errlen);
void		 expr_free(struct expr *);
/*
 * Call fn(root, first, arg) for every reference of e, where root is
 * "inputs", "steps", "execution", "env" or "event" and first its next segment
 * ("ID" for steps.ID...; NULL when there is none).  Stops at and returns
 * fn's first non-zero value; 0 when every call returned 0.
 */
int		 expr_refs(const struct expr *e,
		    int (*fn)(const char *root, const char *first, void *arg),
		    void *arg);
/*
 * Evaluate e in ctx (borrowed).  A new reference in *out, or -1 with the
 * reason in err (an unresolved reference names itself).
 */
int		 expr_eval(const struct expr *e, const json_t *ctx, json_t **out,
		    char *err, size_t errlen);
/* Evaluate e as a condition: 1 truthy, 0 falsy, -1 with err. */
int		 expr_test(const struct expr *e, const json_t *ctx, char *err,
		    size_t errlen);
/*
 * The value v (borrowed) with every template string resolved in ctx
 * (see above): a new reference in *out, or -1 with err.  Also a check
 * without ctx: ctx NULL parses every template and resolves nothing (*out
 * is then a copy of v).
 */
int		 expr_template(const json_t *v, const json_t *ctx, json_t **out,
		    char *err, size_t errlen);

#endif /* AFU9_EXPR_H */
