/*
 * cli: the one-shot subcommands of afu9.  `tools` and `call` start the
 * configured servers themselves (no daemon needed; one process per
 * server, no restarts), wait until they are ready or have failed, act,
 * and stop them.
 *
 *   afu9 tools [--json] [--config FILE]
 *   afu9 call [--config FILE] [--raw] SERVER.TOOL [--json '{...}'] [KEY=VALUE...]
 *   afu9 migrate [up | status] [--dir DIR]
 *                               DATABASE_URL required; DIR default:
 *                               mig_dir()
 *   afu9 audit [--server S] [--since T] [--execution ID] [--json]
 *              [--limit N]
 *                               recent tool calls from mcp_tool_calls
 *   afu9 workflow apply|list|show|enable|disable|run|status|logs|
 *                 cancel|approve|reject|list-executions ...
 *                               definitions and executions on
 *                               DATABASE_URL (cli_workflow.c)
 *   afu9 token create|list|revoke ...
 *                               API tokens on DATABASE_URL
 *                               (cli_token.c)
 *   afu9 agent run --task TEXT [--tools PATTERNS] [--provider P]
 *                  [--model M] [--max-turns N] [--max-tokens N]
 *                  [--max-cost USD] [--max-wall-ms N]
 *                  [--output-schema FILE] [--config FILE]
 *                               one agent run on the configured servers
 *                               (cli_agent.c), its provider from the
 *                               environment (agent_provider_env());
 *                               recorded (agentrec.h) and its calls
 *                               audited when DATABASE_URL is set
 *   afu9 webhooks list [--since T] [--outcome O] [--limit N]
 *                 [--after CURSOR] [--json]
 *   afu9 webhooks redeliver --failed --since T (--repo OWNER/REPO |
 *                 --org ORG) --hook ID [--dry-run]
 *                               recorded deliveries on DATABASE_URL; a
 *                               hook's failed deliveries redelivered by
 *                               GitHub (cli_webhooks.c)
 *   afu9 health [URL]           default http://127.0.0.1:PORT/health,
 *                               PORT from $AFU9_HTTP_LISTEN, else 8080
 *   afu9 version
 *
 * Exit status of `call`: 0 success; 1 the tool reported an error
 * (isError); 2 usage or protocol error (unknown tool, bad arguments, a
 * JSON-RPC error); 3 server unavailable (did not start, died, timed out).
 * `tools`: 0, 2 (usage, configuration), 3 when a server could not be
 * listed (the others are still printed).  `health`: 0 if the answer is
 * 200, else 1 (2: usage).  `migrate`: 0 done (up) or everything applied
 * (status); 1 the database or a migration failed (nothing of a failed
 * file stays applied); 2 usage or DATABASE_URL unset; 3 (status) some
 * migration pending, modified or missing.  `audit`: 0, 1 database error
 * or bad --since, 2 usage or DATABASE_URL unset.  `workflow`: 0 done
 * (`run --wait`: the execution succeeded); 1 refused or failed: a
 * definition that does not validate (nothing of the set stored), an
 * unknown or disabled workflow, an unknown execution, an approval not
 * waiting, a finished execution to cancel, a database error, `run
 * --wait`: the execution failed or was cancelled; 2 usage, a malformed
 * argument (execution id, status, number, name, KEY=VALUE), an input the
 * workflow's inputs schema refuses or one over WFSQL_INPUT_MAX, or
 * DATABASE_URL unset; 3 (`apply`) a definition refused while a server
 * had not started.  `token`: 0 done; 1 refused or failed (a name
 * taken, no live token of that name, a database error); 2 usage or
 * DATABASE_URL unset.
 *
 * `webhooks`: 0 done (`redeliver`: every redelivery asked for was
 * accepted, or none was needed, or --dry-run); 1 the database or GitHub
 * failed or refused (listing the deliveries, or one redelivery: the
 * others are still asked for unless GitHub refuses the token or limits
 * the rate); 2 usage, a malformed argument (a --since that is neither
 * RFC 3339 nor a span, --app), no usable GITHUB_TOKEN or DATABASE_URL
 * unset (`list`).
 *
 * `agent run`: 0 the run succeeded (its answer, or its structured
 * output as JSON, on stdout; its turns on stderr as they come); 1 it
 * failed (a budget, the provider, a loop: the reason on stderr); 2 usage
 * or configuration (no provider, key or model, a bad schema, a pattern
 * matching no tool); 3 the servers could not be started; 4 cancelled
 * (SIGINT, SIGTERM).
 *
 * Audit: with DATABASE_URL set, `call` writes its mcp_tool_calls row
 * (caller "cli") and waits up to 5 s for it to be written before exiting
 * (the store logs a row it could not write).  `tools` makes no tool call
 * and writes nothing.
 */
#ifndef AFU9_CLI_H
#define AFU9_CLI_H

#include <jansson.h>

/* argv[0] is the subcommand name.  Each returns the exit status. */
int	cli_tools(int argc, char **argv);
int	cli_call(int argc, char **argv);
int	cli_migrate(int argc, char **argv);
int	cli_audit(int argc, char **argv);
int	cli_workflow(int argc, char **argv);
int	cli_agent(int argc, char **argv);
int	cli_health(int argc, char **argv);
int	cli_token(int argc, char **argv);
int	cli_webhooks(int argc, char **argv);
int	cli_version(int argc, char **argv);

/*
 * Coerce one KEY=VALUE argument by the property schema `prop` (borrowed,
 * may be NULL: a string): integer, number, boolean (true/false/1/0/yes/
 * no), array (JSON text starting with '[', else comma-separated items
 * coerced by "items"), object (JSON text), else string.  A new reference,
 * or NULL with a reason in err.
 */
json_t	*cli_coerce(const json_t *prop, const char *value, char *err,
	    size_t errlen);

#endif
