/*
 * serve: `afu9 serve [--config FILE] [--stdio] [--check-config]
 * [--no-migrate]`, the orchestrator process: configuration -> database
 * (migrations, then the store) -> supervisor and router (one MCP session
 * per child) -> HTTP routes -> signals and graceful shutdown.  Also the
 * shared start-up used by the CLI subcommands.
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
/*
 * Load the configuration: path, else $AFU9_CONFIG, else the built-in
 * one, with "afu9-*" commands looked up next to this binary.  NULL with
 * err filled.
 */
struct afu9_config *serve_load_config(const char *path, char *err,
	    size_t errlen);
/*
 * The migrations directory: opt if not NULL, else $AFU9_MIGRATIONS_DIR,
 * else the source tree's migrations/ when this binary runs from its build
 * tree, else the installed $(datadir)/afu9/migrations.  Written to buf;
 * returns buf.
 */
const char *serve_migrations_dir(const char *opt, char *buf, size_t len);
/*
 * Apply the pending migrations of dir to conninfo (BLOCKING: never from
 * the loop).  0 with *applied set (may be NULL), or -1 with err set
 * (redacted: never the password).
 */
int	serve_migrate(const char *conninfo, const char *dir, int *applied,
	    char *err, size_t errlen);

#endif
