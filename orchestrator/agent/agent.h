/*
 * agent: one agent run, a loop on the caller's libev loop (doc/agents.md,
 * "The loop"): a request to the model provider (httpc.h, streamed by
 * default, assembled by provider.h from sse.h's events), the tool calls
 * of its reply made through the router (router.h, audited with caller
 * AUDIT_AGENT and the run's id), their results sent back, until the model
 * ends its turn without calls, a budget ends the run, or it is cancelled.
 *
 * What the loop does between the provider and the tools:
 *  - tools: the router's tools matching the run's patterns ("server.tool",
 *    '*' matching any run of bytes: "github.*", "*.get*"); with no
 *    patterns, only the tools whose MCP annotations say readOnlyHint:
 *    true.  A pattern given explicitly selects write tools too;
 *  - every call's arguments are validated against the tool's inputSchema
 *    (jschema.h) before the call: a refusal goes back to the model as an
 *    error result, as does a call of a tool the run does not offer;
 *  - tool results (outside text) reach the model as text, with hidden
 *    content removed (HTML comments, invisible and bidirectional-control
 *    Unicode) and cut to max_result_bytes with a note saying what was cut;
 *  - the same tool, arguments and result three times: the third result is
 *    replaced by a note telling the model it repeats itself; a fourth time
 *    ends the run, failed, "loop detected: ...";
 *  - with an output schema, the final text must be a JSON value valid
 *    against it; an invalid one is sent back to the model, saying why,
 *    while the budget allows;
 *  - provider errors: 429 and 529 wait for retry-after (or a backoff) and
 *    try again, 5xx and cut or stalled streams are retried a bounded number
 *    of times with httpc_backoff(), all within the budget; 400 and the
 *    other refusals end the run, failed, with the provider's message.
 *
 * Budgets (each 0: none): max_turns (provider requests answered),
 * max_tokens (input + output, cache tokens included, of all turns),
 * max_cost_micro (prov_cost() of every turn, in micro-dollars), max_wall_ms
 * (from agent_start()).  Crossing one ends the run, failed, with the error
 * "budget: ..." naming it, and the result says what was done so far.
 *
 * Ownership: agent_start() copies everything it is given (strings, JSON,
 * patterns); the env's loop, httpc, router, recorder and events, and the
 * provider's price table, are borrowed and must outlive the run.  Whatever a callback is handed is borrowed for the
 * call.
 */
#ifndef AFU9_AGENT_H
#define AFU9_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <jansson.h>

#include "provider.h"

struct httpc;
struct router;
struct agent;

#define AGENT_ID_LEN		36	/* a uuid as text */
#define AGENT_TASK_MAX		(1u << 20)	/* bytes of the task text */
#define AGENT_PATTERNS_MAX	64	/* tool patterns of one run */
#define AGENT_RESULT_DEFAULT	(32u << 10)	/* max_result_bytes default */
#define AGENT_OUTPUT_DEFAULT	4096	/* max_output_tokens default */
#define AGENT_RETRIES_DEFAULT	4	/* max_retries default */
#define AGENT_IDLE_DEFAULT	60000	/* idle_timeout_ms default */
#define AGENT_LOOP_WARN		3	/* identical calls told to the model */
#define AGENT_LOOP_FAIL		4	/* identical calls ending the run */

enum agent_status {
	AGENT_RUNNING = 0,
	AGENT_SUCCEEDED,
	AGENT_FAILED,
	AGENT_CANCELLED
};

/* "running", "succeeded", "failed", "cancelled": agent_runs.status. */
const char *agent_status_name(enum agent_status);

/* Everything the run has used so far. */
struct agent_totals {
	struct prov_usage	 usage;		/* tokens by kind, all turns */
	uint64_t		 cost_micro;	/* micro-dollars, rounded up */
	unsigned		 turns;		/* provider replies received */
	unsigned		 tool_calls;	/* calls made (or refused) */
	unsigned		 retries;	/* provider requests retried */
	long			 wall_ms;	/* since agent_start() */
};

/* ---- the recorder (agentrec.h implements it on PostgreSQL) ---- */

/*
 * What the agent_runs row starts with.  Strings borrowed for the call.
 */
struct agent_run_meta {
	const char	*run_id;	/* uuid, made by the loop */
	const char	*provider;	/* "openai" | "anthropic" */
	const char	*model;
	const char	*task;		/* redacted */
	const char	*execution_id;	/* uuid or NULL */
	const char	*step_id;	/* uuid or NULL */
	const char	*resumed_from;	/* the run resumed (uuid), or NULL */
	const json_t	*params;	/* {"tools": [...], "budget": {...},
					   "output_schema": ...}, redacted */
};

/*
 * Transcript messages (the recorder's `message`), one per message of the
 * conversation, in order, seq from 0.  role and content:
 *   "system"    {"text": "..."}                   (each block)
 *   "user"      {"text": "..."}
 *   "assistant" {"text": "...", "tool_calls": [{"id": ..., "tool":
 *               "server.tool" | null, "name": provider's name,
 *               "arguments": {...} | null, "raw": text when the
 *               arguments could not be parsed}]}   (tool_calls only if any)
 *   "tool"      {"call_id": ..., "tool": ..., "text": what the model got,
 *               "is_error": bool}
 * Content is redacted (redact_json()) before the recorder sees it; usage
 * is the reply's for "assistant" messages, else NULL.  The same array of
 * {"role", "content"} objects, in seq order, is what agent_params.resume
 * takes back.
 */
struct agent_recorder {
	void	*self;
	/*
	 * Insert the agent_runs row (status running); done(arg, 0, NULL)
	 * once it is committed, or done(arg, -1, reason) when it could not
	 * be: the run then fails ("recording: reason") without a tool call.
	 * The loop makes no tool call before done(0) (the audit rows of the
	 * calls name the row).  done may run from inside begin, and must
	 * run exactly once, also after the run has ended or been freed
	 * (arg stays valid for it).
	 */
	void	(*begin)(void *self, const struct agent_run_meta *,
		    void (*done)(void *arg, int rc, const char *err),
		    void *arg);
	/* One transcript message (see above).  May come before begin's
	   done: the recorder keeps the order. */
	void	(*message)(void *self, const char *run_id, unsigned seq,
		    const char *role, const json_t *content,
		    const struct prov_usage *usage);
	/* Totals after each turn and each batch of tool calls. */
	void	(*progress)(void *self, const char *run_id,
		    const struct agent_totals *);
	/*
	 * Once, last: status "succeeded" | "failed" | "cancelled", error
	 * (redacted) or NULL, result (see struct agent_result) or NULL.
	 * After it the loop never names run_id again.
	 */
	void	(*finish)(void *self, const char *run_id, const char *status,
		    const char *error, const json_t *result,
		    const struct agent_totals *);
};

/* ---- a run ---- */

/* The provider and how to reach it. */
struct agent_provider {
	enum prov_kind	 kind;
	const char	*base_url;	/* "https://api.openai.com": the
					   path (prov_path()) is appended;
					   a trailing "/v1" (the SDKs'
					   OPENAI_BASE_URL) is not doubled */
	const char	*api_key;	/* NULL: none (OpenAI-compatible
					   local servers only) */
	const char	*model;
	int		 max_completion_tokens;	/* see struct prov_opts */
	/* Prices (NULL: the built-in table; borrowed: it must outlive the
	   run).  A model with no price costs 0, and max_cost_micro then
	   refuses to start the run. */
	const struct prov_prices *prices;
};

struct agent_budget {
	unsigned	 max_turns;
	uint64_t	 max_tokens;
	uint64_t	 max_cost_micro;
	long		 max_wall_ms;
};

struct agent_params {
	const char	 *task;		/* required: the first user message */
	const char	 *system;	/* NULL: the default system prompt
					   (agent_default_system()) */
	const char *const *tools;	/* patterns, NULL-terminated; NULL or
					   empty: the read-only tools */
	struct agent_budget budget;
	const json_t	 *output_schema; /* NULL: the result is text;
					    checked by jschema_check() */
	long		  max_output_tokens; /* per request; 0: default */
	size_t		  max_result_bytes;  /* per tool result; 0: default */
	unsigned	  max_retries;	/* per request; 0: default */
	long		  idle_timeout_ms; /* no byte for this long: the
					      request failed; 0: default */
	long		  request_timeout_ms; /* one request, total; 0: 10
						 minutes; never past the
						 wall budget's rest */
	int		  no_stream;	/* ask for whole replies */
	const char	 *run_id;	/* NULL: a new uuid */
	const char	 *execution_id;	/* the workflow step's, or NULL */
	const char	 *step_id;
	/*
	 * Start from an earlier run's transcript (a JSON array of {"role",
	 * "content"} as the recorder got them): the conversation is rebuilt
	 * from it (system and tools are the run's own: the transcript's
	 * system messages are skipped), a call left without a result gets
	 * the error result "interrupted: the run was restarted" and the
	 * conversation goes on from there; task is then not added again
	 * (it may be NULL).  resumed_from names the earlier run, and
	 * resume_totals (NULL: none) count against the budget.
	 */
	const json_t	 *resume;
	const char	 *resumed_from;
	const struct agent_totals *resume_totals;
	/* Backoff of the retries (httpc_backoff() base, full jitter, capped
	   at 30 s) when the provider gives no retry-after; 0: 500 ms. */
	long		  retry_base_ms;
};

/*
 * How a run ended; everything borrowed for the done callback.
 * result, the JSON the recorder gets:
 *   {"text": final (or last) assistant text, "output": the structured
 *    result (with an output schema) or absent, "tool_calls": [{"tool",
 *    "is_error"}, ...] (the first 200), "stop": the last stop reason}
 */
struct agent_result {
	enum agent_status	 status;
	const char		*error;	/* NULL when succeeded; redacted */
	const char		*text;	/* final text, "" if none */
	const json_t		*output; /* valid against the output schema,
					    or NULL */
	const json_t		*result;
	struct agent_totals	 totals;
	const char		*run_id;
};

/* Progress for a display (the CLI); each may be NULL. */
struct agent_events {
	/* A reply arrived: turn number (1...), the reply, totals so far. */
	void	(*turn)(void *arg, unsigned turn, const struct prov_reply *,
		    const struct agent_totals *);
	/* A tool call ended (or was refused before it ran): its
	   "server.tool" (or the provider's name), its result text as the
	   model gets it, whether it is an error, its duration. */
	void	(*tool)(void *arg, const char *tool, const json_t *args,
		    const char *text, int is_error, double ms);
	/* A request is retried after delay_ms, and why. */
	void	(*retry)(void *arg, unsigned attempt, long delay_ms,
		    const char *why);
};

struct agent_env {
	struct ev_loop		*loop;
	struct httpc		*http;
	struct router		*router;	/* NULL: no tools at all */
	const struct agent_recorder *rec;	/* NULL: nothing recorded */
	const struct agent_events *events;	/* NULL: none */
	void			*events_arg;
};

/* Called once per run, from the loop, unless the run was freed first. */
typedef void (*agent_done_fn)(struct agent *, const struct agent_result *,
	    void *arg);

/*
 * Start a run: validates everything first (a task, the provider's
 * base_url and model, an output schema jschema_check() accepts, at most
 * AGENT_PATTERNS_MAX patterns, budgets in range, a resume transcript of
 * the shape above, ids that are uuids) and returns NULL with the reason
 * in err (never holding the key) when anything is wrong: nothing is
 * recorded then.  Otherwise the run has started (the recorder's begin
 * has been called) and done will run from the loop.
 */
struct agent	*agent_start(const struct agent_env *,
		    const struct agent_provider *, const struct agent_params *,
		    agent_done_fn done, void *arg, char *err, size_t errlen);
/*
 * Cancel: the request in flight is aborted (its connection closed), the
 * tool calls in flight are cancelled (the servers get notifications/
 * cancelled), and done runs from the loop with status cancelled and
 * error "cancelled: reason".  No-op once done has run or is due.
 */
void		 agent_cancel(struct agent *, const char *reason);
/* Free: safe after done, or before to abandon a run (no callback;
   whatever is in flight cancelled, nothing more recorded).  Not from
   inside the run's own callbacks except done. */
void		 agent_free(struct agent *);
/* The run's id (uuid), valid until agent_free(). */
const char	*agent_run_id(const struct agent *);
/* The totals so far. */
void		 agent_totals(const struct agent *, struct agent_totals *);

/*
 * The provider from the environment (conf/conf_env.h, "agent"; doc/
 * agents.md, "Configuration"): name "openai" | "anthropic", or NULL for
 * AFU9_AGENT_PROVIDER, else anthropic when ANTHROPIC_API_KEY is set,
 * else openai when OPENAI_API_KEY or OPENAI_BASE_URL is; model, or NULL
 * for AFU9_AGENT_MODEL; base URLs OPENAI_BASE_URL (default
 * https://api.openai.com/v1) and ANTHROPIC_BASE_URL (default
 * https://api.anthropic.com); keys OPENAI_API_KEY (may be unset: a local
 * server) and ANTHROPIC_API_KEY (required).  out's strings are borrowed
 * from e, name and model; prices left NULL.  0, or -1 with err naming
 * what is missing (never a key's value).
 */
struct config_env;
int		 agent_provider_env(const struct config_env *e,
		    const char *name, const char *model,
		    struct agent_provider *out, char *err, size_t errlen);
/*
 * The price table of AFU9_AGENT_PRICES (JSON text, prov_prices_parse()'s
 * form) into t; unset: t empty (the built-in table serves).  0, or -1
 * with err.
 */
int		 agent_prices_env(const struct config_env *e,
		    struct prov_prices *t, char *err, size_t errlen);

/* The default system prompt. */
const char	*agent_default_system(void);

/*
 * The tools of a tools/list array (borrowed) that patterns select (see
 * above; NULL or empty: read-only ones): a new array reference, or NULL
 * with err (a pattern that is empty, too long, or holds a byte other than
 * [A-Za-z0-9_.*-]; ENOMEM).  An explicit pattern that selects nothing
 * is an error too (a typo would otherwise give the model fewer tools
 * than meant, silently).
 */
json_t		*agent_select_tools(const json_t *tools,
		    const char *const *patterns, char *err, size_t errlen);
/* Does "server.tool" match pattern ('*' any run of bytes). */
int		 agent_pattern_match(const char *pattern, const char *name);

/*
 * Outside text made safe to show a model: HTML comments (<!-- ... -->,
 * an unclosed one to the end) removed, and the invisible code points:
 * zero-width and joiners (U+200B..U+200F), bidirectional embeddings,
 * overrides and isolates (U+202A..U+202E, U+2066..U+2069, U+061C), the
 * word joiner and invisible operators (U+2060..U+2064), U+FEFF, soft
 * hyphen U+00AD, Unicode tags (U+E0000..U+E007F) and variation selectors
 * (U+FE00..U+FE0F, U+E0100..U+E01EF).  Bytes that are not UTF-8 become
 * U+FFFD.  A new malloc'd NUL-terminated string (length in *outlen, when
 * not NULL) and the number of hidden bytes removed in *removed; NULL on
 * ENOMEM.
 */
char		*agent_strip_hidden(const char *s, size_t len, size_t *outlen,
		    size_t *removed);

#endif /* AFU9_AGENT_H */
