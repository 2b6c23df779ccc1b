/*
 * defn: workflow definitions, parsed and validated (doc/workflows.md).
 *
 * A definition is a JSON object:
 *   {"name": "deploy_and_verify",          ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$
 *                                          required
 *    "version": 3,                         optional integer >= 1
 *    "description": "...",                 optional string
 *    "inputs": {JSON Schema of the input object}, optional; jschema
 *                                          subset; "type", if given,
 *                                          "object"; a property's
 *                                          "default" (valid against it)
 *                                          is what inputs.NAME gives
 *                                          when the input lacks NAME
 *    "steps": [ step, ... ],               1..DEFN_STEPS_MAX, required
 *    "output": any JSON with templates}    optional
 * A step:
 *   {"id": "deploy",                       ^[A-Za-z_][A-Za-z0-9_-]{0,63}$, unique
 *    "type": "tool" | "approval" | "sleep" | "wait" | "agent",  required
 *    "if": "${{ expr }}",                  optional condition
 *    "retry": {"max_attempts": 1..100, "initial_interval_ms": 0..86400000,
 *              "backoff_coefficient": 1..100 (a number),
 *              "max_interval_ms": initial..86400000,
 *              "non_retryable": ["tool", ...]},       optional; defaults
 *                                          1, 1000, 2, and 60000 or the
 *                                          initial interval if larger
 *    "timeout_ms": 1..604800000,           tool and wait only; optional
 *                                          for tool, required for wait
 *    "on_error": "fail" | "continue" | {"goto": "ID"}, optional ("fail")
 *    -- tool and wait:
 *    "tool": "server.tool",                required; server
 *                                          [A-Za-z0-9_-]{1,64}, tool
 *                                          [A-Za-z0-9_./-]+, at most
 *                                          DEFN_QNAME_MAX bytes
 *    "arguments": {JSON object with templates}  optional ({})
 *    -- wait (all required):
 *    "interval_ms": 10..3600000, "until": "${{ expr }}"
 *    -- sleep: exactly one of
 *    "duration_ms": 0..31536000000, "until": "${{ expr }}" or an ISO 8601
 *                                          timestamp with its zone:
 *                                          YYYY-MM-DDTHH:MM:SS (from
 *                                          1970), optional .fraction
 *                                          (1-9 digits), then Z or
 *                                          +HH:MM / -HH:MM
 *    -- tool and wait:
 *    "fail_if": "${{ expr }}"             optional: after the tool
 *                                          answered (and, for a wait,
 *                                          `until` held), the attempt
 *                                          fails (kind "tool") when it
 *                                          holds; it sees the answer as
 *                                          steps.ID.output
 *    -- approval:
 *    "message": string with templates (optional)
 *    -- agent:
 *    "task": string with templates,        required, the first user
 *                                          message
 *    "tools": ["server.tool" pattern, ...] optional, 1..DEFN_PATTERNS_MAX,
 *                                          each [A-Za-z0-9_.*-]{1,128}
 *                                          ('*': any run of bytes); one
 *                                          without '*' must name a
 *                                          known tool; absent: the
 *                                          read-only tools
 *    "budget": {"max_turns": 1..1000, "max_tokens": 1..1000000000,
 *               "max_cost_usd": a number > 0 and <= 10000,
 *               "max_wall_ms": 1..604800000}  optional; max_turns
 *                                          DEFN_TURNS_DEFAULT and
 *                                          max_wall_ms DEFN_WALL_DEFAULT
 *                                          when not given (never
 *                                          unbounded)
 *    "output_schema": {JSON Schema},       optional (jschema subset):
 *                                          the run's answer must be
 *                                          JSON valid against it
 *    "provider": "openai" | "anthropic",   optional
 *    "model": "...",                       optional, 1..255 bytes}
 * A field a step's type does not take is refused, as an unknown one is.
 *
 * Validation (defn_parse()) refuses, each with a message naming the step
 * and the field ("step 'deploy': field 'tool': unknown tool
 * 'deploy.updateServce'"; "step 3: ..." counting from 1 for a step
 * without a valid id; no step for the top-level fields): unknown or
 * missing fields of the wrong type, an unknown step type, a duplicate or
 * invalid step id, an
 * expression or template that does not parse, a string holding a NUL
 * byte, a reference that cannot resolve (below), an unknown server.tool
 * (when a tool lookup is given), literal arguments that fail the tool's
 * inputSchema, a wait step whose tool is not read-only, a `goto` to an
 * unknown step or one that does not come later (a jump back is a cycle),
 * unknown error kinds in non_retryable, a definition over DEFN_TEXT_MAX.
 *
 * References, in `if`, `until`, `fail_if`, and the templates of
 * arguments, message, task and output: steps.ID names a step that comes
 * earlier (a wait step's `until` and a step's `fail_if` may also name
 * the step itself; the output any step); a bare
 * `steps` is refused.  inputs.NAME names a property of the `inputs`
 * schema when it declares properties and its additionalProperties is
 * absent or false (else any name).  execution.id is the one execution
 * field.  env.NAME is any name: only configured names resolve at run
 * time.
 *
 * Arguments, with a tool lookup: every name in the inputSchema's
 * `required` is present (a literal or a template; an idempotencyKey
 * the schema declares may be left to the engine); a name outside its
 * `properties` is refused when additionalProperties is false; a value
 * without "${{" anywhere in it is validated (jschema_validate) against
 * its property's schema (or additionalProperties' schema).  A value with
 * a template cannot be checked before it runs, nor can a schema outside
 * the jschema subset (the server checks the call).
 *
 * Error kinds (enum defn_ekind, names for non_retryable and the
 * workflow_steps.error_kind column): "tool" (the result said isError),
 * "protocol" (the server answered a JSON-RPC error), "timeout",
 * "unavailable" (the server is not ready or died), "expression" (a
 * reference did not resolve, a condition failed to evaluate), "rejected"
 * (an approval said no), "cancelled", "internal", "interrupted" (the
 * task running a step stopped during a call the engine may not repeat;
 * never retried).
 */
#ifndef AFU9_DEFN_H
#define AFU9_DEFN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/expr.h"

#define DEFN_STEPS_MAX	256
#define DEFN_TEXT_MAX	(1u << 20)	/* bytes of definition JSON */
#define DEFN_ID_MAX	64
#define DEFN_ERR_MAX	1024
#define DEFN_QNAME_MAX	128	/* bytes of "server.tool", as the router */

enum defn_stype {
	STEP_TOOL = 0,
	STEP_APPROVAL,
	STEP_SLEEP,
	STEP_WAIT,
	STEP_AGENT,
};
#define DEFN_STYPES		(STEP_AGENT + 1)

#define DEFN_PATTERNS_MAX	64	/* tool patterns of an agent step */
#define DEFN_MODEL_MAX		255	/* bytes of a model name */
#define DEFN_TURNS_DEFAULT	50	/* an agent step's max_turns */
#define DEFN_WALL_DEFAULT	3600000ull /* ... and max_wall_ms */

enum defn_ekind {
	EK_TOOL = 0,
	EK_PROTOCOL,
	EK_TIMEOUT,
	EK_UNAVAILABLE,
	EK_EXPRESSION,
	EK_REJECTED,
	EK_CANCELLED,
	EK_INTERNAL,
	EK_INTERRUPTED,	/* its task stopped mid-call and the tool may
				   not be called again: never retried */
	EK_COUNT
};

enum defn_onerr {
	ONERR_FAIL = 0,
	ONERR_CONTINUE,
	ONERR_GOTO,
};

/* An agent step's budget (defn.h top): every field set, defaults
   filled in for max_turns and max_wall_ms; 0: no such bound. */
struct defn_budget {
	unsigned	 max_turns;
	uint64_t	 max_tokens;
	uint64_t	 max_cost_micro;	/* max_cost_usd in micro-dollars */
	uint64_t	 max_wall_ms;
};

struct defn_retry {
	unsigned	 max_attempts;		/* >= 1; 1 (no retry) default */
	uint64_t	 initial_interval_ms;	/* default 1000 */
	double		 backoff_coefficient;	/* default 2 */
	uint64_t	 max_interval_ms;	/* default 60000 */
	unsigned	 non_retryable;		/* bit (1u << enum defn_ekind) */
};

/* Every pointer of a step and of a definition is the definition's own. */
struct defn_step {
	char		 id[DEFN_ID_MAX + 1];
	enum defn_stype	 type;
	struct expr	*cond;		/* `if`; NULL: always */
	struct defn_retry retry;
	uint64_t	 timeout_ms;	/* 0: none (the server's own
					   call timeout still applies) */
	enum defn_onerr	 on_error;
	size_t		 goto_index;	/* ONERR_GOTO: the target's index */
	/* tool, wait */
	char		*tool;		/* "server.tool" */
	json_t		*arguments;	/* object, templates unresolved
					   ({} when the document gave none) */
	/* wait */
	uint64_t	 interval_ms;
	struct expr	*until;		/* wait: the condition; sleep: the
					   timestamp expression, or NULL */
	/* sleep */
	int		 has_duration;
	uint64_t	 duration_ms;
	char		*until_text;	/* sleep: a literal ISO 8601 time */
	/* approval */
	json_t		*message;	/* string template, or NULL */
	/* tool, wait */
	struct expr	*fail_if;	/* the answer means failure; NULL */
	/* agent */
	json_t		*task;		/* string template */
	char		**tools;	/* patterns, NULL-terminated; NULL:
					   the read-only tools */
	struct defn_budget budget;
	json_t		*output_schema;	/* or NULL */
	char		*provider;	/* "openai" | "anthropic"; NULL: the
					   configured default */
	char		*model;		/* NULL: the configured default */
};

struct defn {
	char		 name[129];
	unsigned	 version;	/* 1..INT32_MAX; 0: none given */
	char		*description;	/* NULL: none */
	json_t		*inputs;	/* schema, or NULL */
	json_t		*output;	/* template, or NULL */
	json_t		*doc;		/* the whole document (a reference) */
	size_t		 nsteps;
	struct defn_step steps[];
};

/*
 * The tools/list entry of "server.tool" (with inputSchema and maybe
 * annotations), borrowed until the next call, or NULL when there is no
 * such tool.
 */
typedef const json_t *(*defn_tool_fn)(const char *qname, void *arg);

/*
 * Parse and validate doc (borrowed; the definition keeps a reference).
 * tool NULL: tool names are checked for form only ("server.tool") and
 * arguments are not checked against a schema (used when a stored
 * definition is loaded to run it: it was checked when applied).
 * A new definition, or NULL with the reason in err and errno ENOMEM
 * (err "out of memory": try again later, the definition was not judged;
 * also when a pattern of its inputs schema could not be compiled for want
 * of memory) or EINVAL (refused).
 */
struct defn	*defn_parse(const json_t *doc, defn_tool_fn tool, void *arg,
		    char *err, size_t errlen);
void		 defn_free(struct defn *);
/* Index of step id, or -1. */
int		 defn_step_index(const struct defn *, const char *id);
/*
 * Validate an execution's input (borrowed) against the definition's
 * inputs schema (a definition without one takes any object).  0, or -1
 * with err and errno EINVAL ("input: missing required argument 'owner'
 * (required)") or ENOMEM (err "out of memory": no verdict, try again).
 */
int		 defn_check_input(const struct defn *, const json_t *input,
		    char *err, size_t errlen);
/*
 * The delay before attempt `next` (2..max_attempts) of a step:
 * min(initial * coefficient^(next-2), max) milliseconds, without
 * overflow for any next; 0 for next < 2.
 */
uint64_t	 defn_backoff_ms(const struct defn_retry *, unsigned next);
/*
 * "tool", "protocol", ... ("unknown" out of range); and back (-1 for an
 * unknown name or NULL).
 */
const char	*defn_ekind_name(enum defn_ekind);
int		 defn_ekind_parse(const char *);
/*
 * The ISO 8601 timestamp with its zone that a sleep's `until` takes
 * (YYYY-MM-DDTHH:MM:SS[.f](Z|+HH:MM|-HH:MM), year from 1970) as seconds
 * since the epoch in *out.  0, or -1 when s is not one.
 */
int		 defn_time_parse(const char *s, double *out);
/* "tool", "approval", "sleep", "wait", "agent" ("unknown" out of
   range). */
const char	*defn_stype_name(enum defn_stype);

#endif /* AFU9_DEFN_H */
