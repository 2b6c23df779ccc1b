/*
 * afu9: the orchestrator binary.  Subcommand dispatch and --help; each
 * subcommand lives in its own module (serve.c, cli/).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "serve.h"

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} commands[] = {
	{ "serve", serve_main },
	{ "tools", cli_tools },
	{ "call", cli_call },
	{ "migrate", cli_migrate },
	{ "audit", cli_audit },
	{ "workflow", cli_workflow },
	{ "token", cli_token },
	{ "agent", cli_agent },
	{ "webhooks", cli_webhooks },
	{ "health", cli_health },
	{ "version", cli_version },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: afu9 COMMAND [ARGS]\n"
	    "\n"
	    "  serve [--config FILE] [--stdio] [--check-config] [--no-migrate]\n"
	    "        run the orchestrator: supervise the MCP servers, serve\n"
	    "        /health /ready /metrics over HTTP; --stdio: be an MCP\n"
	    "        server on stdin/stdout offering their tools as server.tool;\n"
	    "        with DATABASE_URL: migrate first, audit every tool call,\n"
	    "        run workflows; with AFU9_API_TOKEN also the /v1 API\n"
	    "  tools [--json] [--config FILE]\n"
	    "        start the servers and list their tools\n"
	    "  call [--config FILE] [--raw] SERVER.TOOL [--json '{...}'] [KEY=VALUE...]\n"
	    "        call one tool; exit 0 ok, 1 tool error, 2 usage or\n"
	    "        protocol error, 3 server unavailable\n"
	    "  migrate [up | status] [--dir DIR]\n"
	    "        apply or show the database migrations (DATABASE_URL)\n"
	    "  audit [--server S] [--since T] [--execution ID] [--json] [--limit N]\n"
	    "        recent tool calls from the audit table, newest first\n"
	    "  workflow apply|list|show|enable|disable|run|status|logs|cancel|\n"
	    "           approve|reject|list-executions ...\n"
	    "        workflow definitions and executions (DATABASE_URL);\n"
	    "        afu9 workflow --help lists them\n"
	    "  token create|list|revoke ...\n"
	    "        API tokens for /v1, /mcp and the console (DATABASE_URL);\n"
	    "        afu9 token --help lists them\n"
	    "  agent run --task TEXT [--tools PATTERNS] [--provider P --model M]\n"
	    "            [--max-turns N --max-tokens N --max-cost USD --max-wall-ms N]\n"
	    "            [--output-schema FILE]\n"
	    "        one agent run on the servers' tools, turns shown as they\n"
	    "        happen; exit 0 succeeded, 1 failed, 4 cancelled\n"
	    "  agent show RUN [--full] [--json]\n"
	    "  agent list [--status S] [--execution ID] [--limit N] [--json]\n"
	    "        a recorded run and its transcript; runs newest first\n"
	    "        (DATABASE_URL)\n"
	    "  webhooks list [--since T] [--outcome O] [--limit N]\n"
	    "                [--after CURSOR] [--json]\n"
	    "        the GitHub deliveries afu9 recorded, newest first (DATABASE_URL)\n"
	    "  webhooks redeliver --failed --since T (--repo OWNER/REPO | --org ORG)\n"
	    "                     --hook ID [--dry-run]\n"
	    "        ask GitHub to send again what failed (GITHUB_TOKEN); exit 0\n"
	    "        all accepted, 1 GitHub failed or refused, 2 usage\n"
	    "  health [URL]\n"
	    "        GET URL (default http://127.0.0.1:8080/health); exit 0 on 200\n"
	    "  version\n"
	    "\n"
	    "Configuration: --config FILE, else $AFU9_CONFIG, else the built-in\n"
	    "github, deploy and observability servers.  See afu9(1).\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cli_version(argc - 1, argv + 1);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "afu9: unknown command %s\n", argv[1]);
	usage(stderr);
	return 2;
}
