/*
 * cli: the one-shot subcommands of afu9 (see cli.h; main.c dispatches to
 * them).  This file holds what they share and `version`; `tools` and
 * `call` are in cli_call.c, `migrate` and `audit` in cli_db.c, `health`
 * in cli_health.c.
 */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"
#include "cli/cli_int.h"

/* The environment (conf/conf_env.h), or a message naming the bad variable
   for `who`: 0, or -1. */
int
cli_env(struct config_env *e, const char *who)
{
	char err[256];

	if (config_env_read(e, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "%s: %s\n", who, err);
	return -1;
}

int
cli_version(int argc, char **argv)
{
	printf("afu9 %s\n", AFU9_VERSION);
	return 0;
}
