/*
 * cli_token: `afu9 token create|list|revoke` (see cli.h, doc/api.md).
 *
 * The tokens of the HTTP API live in api_tokens (migration 004) as
 * digests only (api/auth.h): `create` prints the token once, on stdout
 * alone (so `T=$(afu9 token create ...)` catches it), and nothing can
 * show it again; `list` never shows a token or a digest.  One blocking
 * connection to DATABASE_URL per command.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "api/auth.h"
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "log.h"
#include "redact.h"
#include "store/migrate.h"

#define TK_FAIL		1
#define TK_DAYS_MAX	3650	/* --expires: ten years at most */

static const char *cmd = "afu9 token";

/* A token's name: ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ (the column's). */
static int
name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    (i > 0 && strchr("._-", s[i]) != NULL)))
			return 0;
	return i >= 1 && i <= AUTH_NAME_MAX;
}

static int
name_arg(const char *s)
{
	if (name_ok(s))
		return 0;
	fprintf(stderr, "%s: %.200s: not a token name (letters, digits, '.', "
	    "'_', '-'; at most %d, starting with a letter or digit)\n", cmd, s,
	    AUTH_NAME_MAX);
	return -1;
}

/* Connect to DATABASE_URL: 0, or the exit status with the reason said. */
static int
tk_open(PGconn **conn)
{
	struct config_env env;
	char err[MIG_ERR_MAX];

	if (cli_env(&env, cmd) == -1)
		return EX_USAGE;
	if (env.database_url == NULL) {
		fprintf(stderr, "%s: DATABASE_URL is not set (the tokens live "
		    "in PostgreSQL)\n", cmd);
		return EX_USAGE;
	}
	log_init("afu9");
	if (mig_connect(env.database_url, conn, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", cmd, err);
		return TK_FAIL;
	}
	return 0;
}

/*
 * Run sql; the result, or NULL with the reason on stderr and the
 * SQLSTATE in state[6].
 */
static PGresult *
tk_exec(PGconn *conn, const char *sql, int n, const char *const *p,
    char *state)
{
	PGresult *r;
	const char *st, *msg;
	char *red;

	state[0] = '\0';
	r = PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0);
	if (r != NULL && (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK))
		return r;
	st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (st != NULL)
		snprintf(state, 6, "%s", st);
	if (msg == NULL)
		msg = PQerrorMessage(conn);
	red = redact_str(msg);
	if (strcmp(state, "42P01") == 0)
		fprintf(stderr, "%s: %s (the tokens table is missing: run afu9 "
		    "migrate)\n", cmd, red ? red : "no table");
	else if (strcmp(state, "23505") != 0)
		fprintf(stderr, "%s: %.*s\n", cmd, red ? (int)strcspn(red,
		    "\n") : 20, red ? red : "(out of memory)");
	free(red);
	PQclear(r);
	return NULL;
}

/* ---- create ---- */

static int
create_usage(void)
{
	fprintf(stderr, "usage: afu9 token create --name NAME --scope "
	    "read|run|admin [--expires DAYS]\n");
	return EX_USAGE;
}

static int
tk_create(int argc, char **argv)
{
	static const char sql[] =
	    "INSERT INTO api_tokens (name, scope, token_hash, expires) "
	    "VALUES ($1, $2, $3::bytea, now() + make_interval(days => "
	    "$4::int)) RETURNING to_char(expires AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
	const char *name = NULL, *scope = NULL, *days = NULL, *p[4];
	char tok[AUTH_TOKEN_LEN + 1], hex[2 + 2 * AUTH_DIGEST_LEN + 1],
	    state[6], *end;
	unsigned char d[AUTH_DIGEST_LEN];
	PGconn *conn = NULL;
	PGresult *r;
	long n;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--name") == 0)
			name = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--scope") == 0)
			scope = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--expires") == 0)
			days = argv[++i];
		else
			return create_usage();
	}
	if (name == NULL || scope == NULL)
		return create_usage();
	if (name_arg(name) == -1)
		return EX_USAGE;
	if (auth_scope_parse(scope, strlen(scope)) == AUTH_NONE) {
		fprintf(stderr, "%s: %.200s: not a scope (read, run or "
		    "admin)\n", cmd, scope);
		return EX_USAGE;
	}
	if (days != NULL) {
		errno = 0;
		n = strtol(days, &end, 10);
		if (days[0] < '0' || days[0] > '9' || *end != '\0' ||
		    errno != 0 || n < 1 || n > TK_DAYS_MAX) {
			fprintf(stderr, "%s: --expires %.200s: not a number of "
			    "days from 1 to %d\n", cmd, days, TK_DAYS_MAX);
			return EX_USAGE;
		}
	}
	if ((rc = tk_open(&conn)) != 0)
		return rc;
	if (auth_token_new(tok, d) == -1) {
		fprintf(stderr, "%s: libsodium did not initialise\n", cmd);
		PQfinish(conn);
		return TK_FAIL;
	}
	memcpy(hex, "\\x", 2);
	sodium_bin2hex(hex + 2, sizeof(hex) - 2, d, sizeof(d));
	p[0] = name;
	p[1] = scope;
	p[2] = hex;
	p[3] = days;
	r = tk_exec(conn, sql, 4, p, state);
	PQfinish(conn);
	if (r == NULL) {
		sodium_memzero(tok, sizeof(tok));
		if (strcmp(state, "23505") == 0)
			fprintf(stderr, "%s: there is a token named %s already "
			    "(afu9 token revoke %s first, or choose another "
			    "name)\n", cmd, name, name);
		return TK_FAIL;
	}
	printf("%s\n", tok);
	sodium_memzero(tok, sizeof(tok));
	if (PQgetisnull(r, 0, 0))
		fprintf(stderr, "%s: token %s (scope %s, no expiry) created: "
		    "it is shown once, above\n", cmd, name, scope);
	else
		fprintf(stderr, "%s: token %s (scope %s, expires %s) created: "
		    "it is shown once, above\n", cmd, name, scope,
		    PQgetvalue(r, 0, 0));
	PQclear(r);
	return cli_out_done(cmd, 0);
}

/* ---- list ---- */

static int
tk_list(int argc, char **argv)
{
	static const char sql[] =
	    "SELECT name, scope,"
	    " to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	    " coalesce(to_char(expires AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
	    " coalesce(to_char(last_used AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
	    " CASE WHEN revoked IS NOT NULL THEN 'revoked'"
	    " WHEN expires <= now() THEN 'expired' ELSE 'active' END"
	    " FROM api_tokens ORDER BY revoked IS NOT NULL, name, created";
	char state[6];
	PGconn *conn = NULL;
	PGresult *r;
	int rc, i, json = 0;
	json_t *a, *o;
	char *s;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc != 1) {
		fprintf(stderr, "usage: afu9 token list [--json]\n");
		return EX_USAGE;
	}
	if ((rc = tk_open(&conn)) != 0)
		return rc;
	r = tk_exec(conn, sql, 0, NULL, state);
	PQfinish(conn);
	if (r == NULL)
		return TK_FAIL;
	if (json) {
		if ((a = json_array()) == NULL)
			goto oom;
		for (i = 0; i < PQntuples(r); i++) {
			o = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s}", "name",
			    PQgetvalue(r, i, 0), "scope", PQgetvalue(r, i, 1),
			    "created", PQgetvalue(r, i, 2), "expires",
			    strcmp(PQgetvalue(r, i, 3), "-") ? PQgetvalue(r, i,
			    3) : NULL, "last_used", strcmp(PQgetvalue(r, i, 4),
			    "-") ? PQgetvalue(r, i, 4) : NULL, "status",
			    PQgetvalue(r, i, 5));
			if (o == NULL || json_array_append_new(a, o) == -1) {
				json_decref(a);
				goto oom;
			}
		}
		s = json_dumps(a, JSON_INDENT(2));
		json_decref(a);
		if (s == NULL)
			goto oom;
		printf("%s\n", s);
		free(s);
	} else {
		printf("%-24s %-6s %-20s %-20s %-20s %s\n", "NAME", "SCOPE",
		    "CREATED", "EXPIRES", "LAST USED", "STATUS");
		for (i = 0; i < PQntuples(r); i++)
			printf("%-24s %-6s %-20s %-20s %-20s %s\n",
			    PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
			    PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
	}
	PQclear(r);
	return cli_out_done(cmd, 0);
oom:
	PQclear(r);
	fprintf(stderr, "%s: out of memory\n", cmd);
	return TK_FAIL;
}

/* ---- revoke ---- */

static int
tk_revoke(int argc, char **argv)
{
	static const char sql[] =
	    "UPDATE api_tokens SET revoked = now() WHERE name = $1 AND "
	    "revoked IS NULL RETURNING scope";
	const char *p[1];
	char state[6];
	PGconn *conn = NULL;
	PGresult *r;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: afu9 token revoke NAME\n");
		return EX_USAGE;
	}
	if (name_arg(argv[1]) == -1)
		return EX_USAGE;
	if ((rc = tk_open(&conn)) != 0)
		return rc;
	p[0] = argv[1];
	r = tk_exec(conn, sql, 1, p, state);
	PQfinish(conn);
	if (r == NULL)
		return TK_FAIL;
	if (PQntuples(r) == 0) {
		PQclear(r);
		fprintf(stderr, "%s: no live token named %s\n", cmd, argv[1]);
		return TK_FAIL;
	}
	fprintf(stderr, "%s: token %s (scope %s) revoked: it is refused from "
	    "the next request on\n", cmd, argv[1], PQgetvalue(r, 0, 0));
	PQclear(r);
	return cli_out_done(cmd, 0);
}

static void
tk_usage(FILE *f)
{
	fprintf(f,
	    "usage: afu9 token COMMAND [ARGS]   (DATABASE_URL)\n"
	    "\n"
	    "  create --name NAME --scope read|run|admin [--expires DAYS]\n"
	    "        print a new API token (once: only its digest is kept)\n"
	    "  list [--json]     every token's name, scope, dates and status\n"
	    "  revoke NAME       refuse the live token NAME from now on\n"
	    "\n"
	    "Exit status: 0 done; 1 refused or failed (a name taken, no such\n"
	    "token, a database error); 2 usage or DATABASE_URL unset.  See\n"
	    "afu9(1) and doc/api.md.\n");
}

int
cli_token(int argc, char **argv)
{
	if (argc < 2) {
		tk_usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		tk_usage(stdout);
		return cli_out_done(cmd, 0);
	}
	if (strcmp(argv[1], "create") == 0)
		return tk_create(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return tk_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return tk_revoke(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command %.200s\n", cmd, argv[1]);
	tk_usage(stderr);
	return EX_USAGE;
}
