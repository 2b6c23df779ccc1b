/*
 * pgtest: a throwaway PostgreSQL server for tests.
 *
 * pgt_start() makes a private directory under $TMPDIR (or /tmp), runs
 * initdb there (superuser "afu9", scram-sha-256 with a random password)
 * and starts `postgres` listening only on a unix socket in that directory,
 * tuned for speed (fsync off, small buffers).  When the process runs as
 * root, initdb and postgres run as the "postgres" user (else "nobody"),
 * since both refuse to run as root.
 *
 * The server is a child of a small keeper process, not of the test, so a
 * test's waitpid(-1) or libev child watcher never reaps it.  The keeper
 * stops the server and removes the directory when pgt_stop() is called or
 * when the test process dies in any way (it watches a pipe for EOF); the
 * server itself gets SIGQUIT if the keeper dies.
 *
 * Server binaries: $AFU9_PG_BINDIR, else /usr/lib/postgresql/<15,16,17,
 * 14,13>/bin, else /usr/local/pgsql/bin.
 */
#ifndef AFU9_PGTEST_H
#define AFU9_PGTEST_H

#include <stddef.h>

struct pgtest;

/* Start a server (blocking, about a second).  NULL with err set on
   failure, including the tail of initdb's or the server's log. */
struct pgtest	*pgt_start(char *err, size_t errlen);
/*
 * For a suite's unchecked fixture: pgt_start() and, when db is not NULL,
 * pgt_createdb(db).  Failures abort the fixture (Check), with the server's
 * log on stderr.
 */
struct pgtest	*pgt_start_db(const char *db);
/* Stop the server, remove its directory, free pg.  NULL is fine. */
void		 pgt_stop(struct pgtest *pg);
/*
 * conninfo "host=... port=... user=afu9 password=... dbname=<db>" (key=value
 * form); malloc'd, the caller frees.  NULL on ENOMEM.
 */
char		*pgt_conninfo(const struct pgtest *pg, const char *db);
/* The superuser's password (borrowed). */
const char	*pgt_password(const struct pgtest *pg);
/* The server's directory (socket dir; borrowed). */
const char	*pgt_dir(const struct pgtest *pg);
/* CREATE DATABASE db ([a-z0-9_]+).  0, or -1 with err set. */
int		 pgt_createdb(const struct pgtest *pg, const char *db,
		    char *err, size_t errlen);
/*
 * Stop the server (fast shutdown: open sessions end with an error) and
 * keep its data, for tests of a database that goes away; returns once it
 * no longer answers.  pgt_server_start() starts it again on the same
 * socket and returns once it accepts connections.  0, or -1 with err.
 */
int		 pgt_server_stop(struct pgtest *pg, char *err, size_t errlen);
int		 pgt_server_start(struct pgtest *pg, char *err, size_t errlen);

/*
 * For Check tests: a fresh database db (pgt_createdb()), named by
 * DATABASE_URL, with AFU9_MIGRATIONS_DIR and AFU9_MIGRATE unset so afu9
 * migrates it from the source tree; its conninfo (malloc'd).  Failures
 * abort the test.
 */
char		*pgt_use_db(const struct pgtest *pg, const char *db);

#endif
