/*
 * cli_int.h: what the files of cli/ share, for them only (cli.h is the
 * interface):
 *   cli.c         what every subcommand uses; `version`
 *   cli_call.c    `tools` and `call`: the servers started for one
 *                 command, arguments coerced by the tool's schema
 *   cli_db.c      `migrate` and `audit`, on DATABASE_URL
 *   cli_health.c  `health`
 */
#ifndef AFU9_CLI_INT_H
#define AFU9_CLI_INT_H

#include "conf/conf_env.h"

/* Exit statuses (cli.h says which subcommand gives which). */
#define EX_TOOL_ERROR		1
#define EX_USAGE		2
#define EX_UNAVAILABLE		3

/*
 * The environment (conf/conf_env.h) into e, or a message naming the bad
 * variable for `who` on stderr: 0, or -1.
 */
int	cli_env(struct config_env *e, const char *who);

#endif
