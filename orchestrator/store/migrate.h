/*
 * migrate: applies the numbered SQL files of migrations/ to PostgreSQL
 * (`afu9 migrate up|status`).
 *
 * Blocking by design: libpq is used synchronously here, because migrating
 * is a start-up / command-line step that runs before any event loop and
 * must finish (or fail) before the orchestrator serves anything.  Never
 * call these from a libev callback.
 *
 * Files: every directory entry whose name does not start with '.' must be
 * a regular file named NNN_name.sql: MIG_DIGITS_MIN..MIG_DIGITS_MAX
 * decimal digits (the version), '_', then [a-z0-9_]+, then ".sql"; at most
 * MIG_NAME_MAX bytes in all, at most MIG_FILE_MAX bytes of SQL without NUL
 * bytes, at most MIG_FILES_MAX files.  Anything else, and two files with
 * the same version, is refused before the database is touched.
 *
 * Bookkeeping: table schema_migrations (version bigint primary key, name,
 * checksum = lowercase hex SHA-256 of the file bytes, applied_at,
 * duration_ms).  `up` holds the session advisory lock MIG_LOCK_KEY for its
 * whole run, so tasks that start at once apply each migration exactly
 * once: the others wait, then find nothing pending.  Each pending file runs
 * in its own transaction together with the insert of its row; a file that
 * fails leaves no trace.  Files must therefore not contain BEGIN/COMMIT
 * (one that ends the transaction is reported as an error) nor statements
 * that cannot run in a transaction block.
 *
 * `up` refuses, without applying anything, when an applied migration's
 * file changed (checksum or name) or is missing, or when a pending file is
 * older than the newest applied one.
 *
 * Errors go to the caller's buffer: the file name, and the server's message
 * (PQresultErrorMessage) where there is one.  They never carry the
 * connection password: mig_connect() registers it with redact_add_secret()
 * and every message passes through redact_str().
 */
#ifndef AFU9_MIGRATE_H
#define AFU9_MIGRATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <libpq-fe.h>

#define MIG_LOCK_KEY	INT64_C(0x61667539) /* "afu9": pg_advisory_lock key */
#define MIG_DIGITS_MIN	3
#define MIG_DIGITS_MAX	9
#define MIG_NAME_MAX	128		/* bytes of a file name */
#define MIG_FILE_MAX	(4u * 1024 * 1024) /* bytes of one file */
#define MIG_FILES_MAX	10000
#define MIG_SHA_HEX	65		/* 64 hex digits and a NUL */
#define MIG_TIME_MAX	64
#define MIG_ERR_MAX	2048		/* a good size for error buffers */

enum mig_state {
	MIG_APPLIED = 0,	/* file and row agree */
	MIG_PENDING,		/* file without a row */
	MIG_MODIFIED,		/* row whose file's checksum or name differs */
	MIG_MISSING,		/* row without a file */
};

struct mig_entry {
	long long	 version;
	char		 file[MIG_NAME_MAX + 1];	/* "001_x.sql"; for
							   MISSING rebuilt
							   from the row */
	char		 name_db[MIG_NAME_MAX + 1];	/* the row's name when
							   MODIFIED, else "" */
	enum mig_state	 state;
	char		 sum_file[MIG_SHA_HEX];	/* "" when MISSING */
	char		 sum_db[MIG_SHA_HEX];	/* "" when PENDING */
	char		 applied_at[MIG_TIME_MAX]; /* UTC, ISO 8601; "" when
						    PENDING */
	long long	 duration_ms;		/* -1 when PENDING */
};

/* The merged view of files and rows, ordered by version. */
struct mig_report {
	struct mig_entry *v;
	size_t		  n;
};

/*
 * Connect (blocking).  On success *out is the caller's, to PQfinish().
 * The password in effect (from conninfo, PGPASSWORD or a passfile) is
 * registered with redact_add_secret(); libpq notices are discarded.
 * Returns 0, or -1 with err naming the redacted conninfo and libpq's
 * reason.
 */
int	mig_connect(const char *conninfo, PGconn **out, char *err, size_t);

/*
 * Apply every pending migration of dir, in version order (see above).
 * *applied (may be NULL) gets how many were applied by this call, also
 * when it fails part way (the ones before the failure stay applied).
 * Returns 0, or -1 with err set.
 */
int	mig_up(PGconn *, const char *dir, int *applied, char *err, size_t);

/*
 * Compare dir with schema_migrations (read only; no lock; a database
 * without the table has everything pending).  On success *out is the
 * caller's, to mig_report_free().  Returns 0, or -1 with err set.
 */
int	mig_status(PGconn *, const char *dir, struct mig_report *out,
	    char *err, size_t);
void	mig_report_free(struct mig_report *);

/*
 * One line per entry, e.g.
 *   001_initial_schema.sql  applied   2025-01-02T03:04:05Z  (41 ms)
 *   002_more.sql            pending
 *   003_x.sql               modified  file sha256 ab.. != applied cd..
 *   005_new_name.sql        modified  applied as 005_old_name.sql
 *   004_gone.sql            missing   applied 2025-01-02T03:04:05Z, no file
 * Returns 0, or -1 on a write error.
 */
int	mig_report_print(FILE *, const struct mig_report *);
const char *mig_state_name(enum mig_state);

/*
 * Parse a migration file name.  Returns 0 and sets *version (may be NULL),
 * or -1 if name does not follow the rule above.
 */
int	mig_parse_name(const char *name, long long *version);

/*
 * Write conninfo (key=value or URI form) to out as key=value pairs with
 * any password replaced by REDACTED; an unparsable conninfo becomes
 * "(unparsable conninfo)".  Always NUL-terminates; returns out.
 */
char	*mig_conninfo_redact(const char *conninfo, char *out, size_t);

/*
 * Register with redact_add_secret(), before anything can echo them, the
 * password in conninfo (NULL counts as "") and pgpassword (libpq's
 * PGPASSWORD, from struct config_env; may be NULL), each when at least 4
 * bytes.  0, or -1 when conninfo cannot be parsed (pgpassword is
 * registered then too).
 */
int	mig_register_password(const char *conninfo, const char *pgpassword);

/*
 * The migrations directory: opt if not NULL, else env_dir
 * ($AFU9_MIGRATIONS_DIR) when set, else the source tree's migrations/
 * when this binary runs from its build tree, else the installed
 * $(datadir)/afu9/migrations.  Written to buf; returns buf.
 */
const char *mig_dir(const char *opt, const char *env_dir, char *buf,
	    size_t len);
/* The same for the built-in workflow definitions: opt, env_dir
   (AFU9_WORKFLOWS_DIR), the source tree's workflows/, the installed
   $(datadir)/afu9/workflows. */
const char *mig_workflows_dir(const char *opt, const char *env_dir,
	    char *buf, size_t len);
/*
 * Connect to conninfo and apply the pending migrations of dir (BLOCKING:
 * never from the loop).  0 with *applied set (may be NULL), or -1 with
 * err set (redacted: never the password).
 */
int	mig_apply(const char *conninfo, const char *dir, int *applied,
	    char *err, size_t errlen);

#endif
