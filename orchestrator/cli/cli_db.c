/*
 * cli_db: `afu9 migrate` and `afu9 audit` (see cli.h), each one blocking
 * connection to DATABASE_URL.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "log.h"
#include "store/migrate.h"
#include "store/store.h"

/* ---- migrate ---- */

static int
migrate_usage(void)
{
	fprintf(stderr, "usage: afu9 migrate [up | status] [--dir DIR]\n");
	return EX_USAGE;
}

/* The report of `status`; 0 when everything is applied, else 3. */
static int
migrate_status(PGconn *conn, const char *dir)
{
	struct mig_report rep;
	char err[MIG_ERR_MAX];
	size_t i;
	int rc = 0;

	if (mig_status(conn, dir, &rep, err, sizeof(err)) == -1) {
		fprintf(stderr, "afu9 migrate: %s\n", err);
		return 1;
	}
	if (rep.n == 0)
		printf("no migrations in %s\n", dir);
	if (mig_report_print(stdout, &rep) == -1)
		rc = 1;
	for (i = 0; rc == 0 && i < rep.n; i++)
		if (rep.v[i].state != MIG_APPLIED)
			rc = EX_UNAVAILABLE;
	mig_report_free(&rep);
	return rc;
}

int
cli_migrate(int argc, char **argv)
{
	const char *dir = NULL, *cmd = "up";
	char dbuf[PATH_MAX], err[MIG_ERR_MAX];
	struct config_env env;
	PGconn *conn;
	int i, applied = 0, rc, have_cmd = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strncmp(argv[i], "--dir=", 6) == 0)
			dir = argv[i] + 6;
		else if (!have_cmd && (strcmp(argv[i], "up") == 0 ||
		    strcmp(argv[i], "status") == 0)) {
			cmd = argv[i];
			have_cmd = 1;
		} else
			return migrate_usage();
	}
	if (cli_env(&env, "afu9 migrate") == -1)
		return EX_USAGE;
	if (env.database_url == NULL) {
		fprintf(stderr, "afu9 migrate: DATABASE_URL is not set\n");
		return EX_USAGE;
	}
	log_init("afu9");
	mig_dir(dir, env.migrations_dir, dbuf, sizeof(dbuf));
	if (mig_connect(env.database_url, &conn, err, sizeof(err)) == -1) {
		fprintf(stderr, "afu9 migrate: %s\n", err);
		return 1;
	}
	if (strcmp(cmd, "status") == 0)
		rc = migrate_status(conn, dbuf);
	else if (mig_up(conn, dbuf, &applied, err, sizeof(err)) == -1) {
		fprintf(stderr, "afu9 migrate: %s\n", err);
		if (applied > 0)
			fprintf(stderr, "afu9 migrate: %d migration(s) were "
			    "applied before the failure\n", applied);
		rc = 1;
	} else {
		if (applied > 0)
			printf("applied %d migration(s) from %s\n", applied,
			    dbuf);
		else
			printf("up to date: nothing to apply from %s\n", dbuf);
		rc = 0;
	}
	PQfinish(conn);
	if (fflush(stdout) == EOF && rc == 0)
		rc = 1;
	return rc;
}

/* ---- audit ---- */

static int
audit_usage(void)
{
	fprintf(stderr, "usage: afu9 audit [--server S] [--since T] "
	    "[--execution ID] [--json] [--limit N]\n");
	return EX_USAGE;
}

int
cli_audit(int argc, char **argv)
{
	struct audit_query q = { NULL, NULL, 0, NULL };
	struct config_env env;
	char err[MIG_ERR_MAX], *end;
	json_t *rows;
	unsigned long n;
	int i, as_json = 0, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			q.server = argv[++i];
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			q.since = argv[++i];
		else if (strcmp(argv[i], "--execution") == 0 && i + 1 < argc)
			q.execution = argv[++i];
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			errno = 0;
			n = strtoul(argv[++i], &end, 10);
			if (*argv[i] < '0' || *argv[i] > '9' || *end != '\0' ||
			    errno != 0 || n < 1 || n > STORE_QUERY_MAX) {
				fprintf(stderr, "afu9 audit: --limit: a number "
				    "from 1 to %d\n", STORE_QUERY_MAX);
				return EX_USAGE;
			}
			q.limit = (unsigned)n;
		} else
			return audit_usage();
	}
	if (cli_env(&env, "afu9 audit") == -1)
		return EX_USAGE;
	if (env.database_url == NULL) {
		fprintf(stderr, "afu9 audit: DATABASE_URL is not set\n");
		return EX_USAGE;
	}
	log_init("afu9");
	if (store_audit_query(env.database_url, &q, &rows, err, sizeof(err))
	    == -1) {
		fprintf(stderr, "afu9 audit: %s\n", err);
		return 1;
	}
	if (as_json) {
		if (json_dumpf(rows, stdout, JSON_INDENT(2)) == -1 ||
		    putchar('\n') == EOF)
			rc = 1;
	} else if (store_audit_print(stdout, rows) == -1)
		rc = 1;
	json_decref(rows);
	if (fflush(stdout) == EOF)
		rc = 1;
	return rc;
}
