/*
 * serve: `afu9 serve [--config FILE] [--stdio] [--check-config]
 * [--no-migrate]`, the orchestrator process: configuration -> database
 * (migrations, then the store) -> supervisor and router (one MCP session
 * per child) -> HTTP routes -> signals and graceful shutdown.
 *
 * Database: with DATABASE_URL set, pending migrations are applied first
 * (blocking, before any child starts) unless --no-migrate is given or
 * AFU9_MIGRATE=0; a failure (database unreachable, a migration refused)
 * ends the process with exit status 1 and the redacted error.  Then every
 * tool call is audited and server states are recorded through the store.
 * Without DATABASE_URL afu9 runs without a database ("disabled" in
 * /ready) and audits nothing.
 */
#ifndef AFU9_SERVE_H
#define AFU9_SERVE_H

#include "conf/conf.h"

/* `afu9 serve ...` (argv[0] is "serve").  Returns the exit status. */
int	serve_main(int argc, char **argv);
#endif
