/*
 * cli_int.h: what the files of cli/ share, for them only (cli.h is the
 * interface):
 *   cli.c         what every subcommand uses; `version`
 *   cli_call.c    `tools` and `call`: the servers started for one
 *                 command, arguments coerced by the tool's schema
 *   cli_db.c      `migrate` and `audit`, on DATABASE_URL
 *   cli_health.c  `health`
 *   cli_token.c   `token`: API tokens on DATABASE_URL
 *   cli_workflow.c `workflow`: definitions validated against the
 *                 servers of cli_call.c, executions on DATABASE_URL
 *   cli_agent.c   `agent`: a run on the servers of cli_call.c
 */
#ifndef AFU9_CLI_INT_H
#define AFU9_CLI_INT_H

#include <ev.h>
#include <jansson.h>

#include "conf/conf_env.h"
#include "mcp/router.h"
#include "store/store.h"

/* Exit statuses (cli.h says which subcommand gives which). */
#define EX_TOOL_ERROR		1
#define EX_USAGE		2
#define EX_UNAVAILABLE		3

/*
 * The environment (conf/conf_env.h) into e, or a message naming the bad
 * variable for `who` on stderr: 0, or -1.
 */
int	cli_env(struct config_env *e, const char *who);

/*
 * The configured servers, started for one command (cli_call.c): `tools`,
 * `call` and `workflow apply` use them.
 */
struct cli {
	struct ev_loop		*loop;
	struct config_env	 env;
	struct afu9_config	*cfg;
	struct router		*r;
	struct store		*st;		/* audit; NULL: none */
	ev_timer		 deadline;
	int			 want;		/* server index; -1: all */
	int			 waiting;
	/* one call */
	int			 done;
	json_t			*result;	/* owned */
	enum router_ekind	 ekind;
	char			 emsg[1024];
};

/*
 * Load the configuration (path; NULL: $AFU9_CONFIG or the built-in one),
 * start its servers (only `server` when not NULL) without restarts and
 * wait until each is ready or has failed (at most 30 s); audit: open the
 * store when DATABASE_URL is set.  0, or an exit status with the reason
 * on stderr.  Call cli_down() afterwards in either case.
 */
int	cli_boot(struct cli *c, const char *path, const char *server,
	    int audit);
/* Stop the servers, write the queued audit rows, free everything. */
void	cli_down(struct cli *c);
/* Print each wanted server that is not ready to stderr; their count. */
int	cli_report_down(struct cli *c);

#endif
