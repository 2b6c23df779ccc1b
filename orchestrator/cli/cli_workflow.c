/*
 * cli_workflow: `afu9 workflow ...` (see cli.h, doc/workflows.md).
 * Definitions are validated against the tools of the configured servers
 * (started as `afu9 tools` starts them) and stored; executions are
 * started, watched, cancelled and decided.  Each subcommand holds one
 * blocking connection to DATABASE_URL and uses the statements of
 * engine/wfsql.h, which the HTTP API shares, so both read and write the
 * tables the same way.  User input is checked here before it reaches the
 * database: a malformed id or number is a usage error with its own
 * message, never a server's cast error.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <libpq-fe.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "engine/defn.h"
#include "engine/wfsql.h"
#include "log.h"
#include "redact.h"
#include "store/migrate.h"
#include "store/store.h"
#include "utf8.h"

#define WF_FAIL		1		/* exit: refused or failed */
#define WF_FILE_MAX	DEFN_TEXT_MAX	/* bytes of one definition file */
#define WF_FILES_MAX	256		/* definition files of one apply */
#define WF_TRIM		200		/* bytes of an output or error
					   `logs` shows without --full */
#define WF_COMMENT_MAX	4096		/* bytes of an approval comment */
#define WF_KEY_MAX	255		/* bytes of an idempotency key
					   (the column's check) */
#define WF_LIMIT_DEFAULT 20		/* list-executions rows */
#define WF_LIMIT_MAX	1000
#define WF_POLL_MIN_MS	100		/* --wait: first look after this; */
#define WF_POLL_MAX_MS	1000		/* growing to this while nothing
					   changes */
#define WF_LOST_S	60		/* --wait: give up after the database
					   has not answered for this long */
#define WF_WHO		"cli"		/* triggered_by, cancelled_by,
					   decided_by */

/* ---- messages ---- */

/* "CMD: message" on stderr, with every registered secret redacted. */
void
wf_err(const struct wf *w, const char *fmt, ...)
{
	char buf[4096], *r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r = redact_str(buf);
	fprintf(stderr, "%s: %s%s%s\n", w->cmd, w->ctx ? w->ctx : "",
	    w->ctx ? ": " : "", r ? r : "(message lost: out of memory)");
	free(r);
}

/* ---- what the user gives ---- */

static int
in_class(int ch, const char *extra)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' && strchr(extra, ch));
}

/* A workflow name: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (the column's). */
static int
name_ok(const char *s)
{
	size_t i;

	if (!in_class(s[0], "") || strlen(s) > 128)
		return 0;
	for (i = 1; s[i]; i++)
		if (!in_class(s[i], "._-"))
			return 0;
	return 1;
}

/* A step id: ^[A-Za-z_][A-Za-z0-9_-]{0,63}$ (defn.h). */
static int
step_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0' || (s[0] >= '0' && s[0] <= '9') || s[0] == '-' ||
	    !in_class(s[0], "_") || strlen(s) > DEFN_ID_MAX)
		return 0;
	for (i = 1; s[i]; i++)
		if (!in_class(s[i], "_-"))
			return 0;
	return 1;
}

/* One of WFSQL_STATUSES. */
static int
status_ok(const char *s)
{
	const char *p = WFSQL_STATUSES;
	size_t n = strlen(s);

	while (n > 0 && *p) {
		if (strncmp(p, s, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	return 0;
}

/* A decimal number lo..hi (digits only) into *out: 0, or -1. */
int
num_ok(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '\0' || strlen(s) > 10)
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Text without control characters (a key, a comment: no NUL is possible
   in an argument). */
static int
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int
name_arg(const struct wf *w, const char *s)
{
	if (name_ok(s))
		return 0;
	wf_err(w, "%.200s: not a workflow name (letters, digits, '.', '_', "
	    "'-'; at most 128, starting with a letter or digit)", s);
	return -1;
}

static int
exec_arg(const struct wf *w, const char *s)
{
	if (store_uuid_ok(s))
		return 0;
	wf_err(w, "%.200s: not an execution id (a UUID such as "
	    "0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b)", s);
	return -1;
}

/* ---- the database ---- */

/*
 * Read the environment and connect.  0, or the exit status with the
 * reason on stderr: 2 for the environment (DATABASE_URL unset), 1 when
 * the connection failed (the conninfo redacted).
 */
int
wf_open(struct wf *w, const char *cmd)
{
	char err[MIG_ERR_MAX];

	memset(w, 0, sizeof(*w));
	w->cmd = cmd;
	if (cli_env(&w->env, cmd) == -1)
		return EX_USAGE;
	if (w->env.database_url == NULL) {
		wf_err(w, "DATABASE_URL is not set (the workflows live in "
		    "PostgreSQL)");
		return EX_USAGE;
	}
	log_init("afu9");
	if (mig_connect(w->env.database_url, &w->conn, err, sizeof(err)) ==
	    -1) {
		wf_err(w, "%s", err);
		return WF_FAIL;
	}
	return 0;
}

void
wf_close(struct wf *w)
{
	if (w->conn != NULL)
		PQfinish(w->conn);
	w->conn = NULL;
}

/*
 * Run sql with n text parameters (NULL: SQL NULL).  The result (the
 * caller's, to PQclear()), or NULL with the server's reason on stderr
 * and its SQLSTATE in w->state.
 */
static PGresult *
wf_exec(struct wf *w, const char *sql, int n, const char *const *p)
{
	PGresult *r;
	const char *st, *msg;
	size_t len;

	w->state[0] = '\0';
	r = PQexecParams(w->conn, sql, n, NULL, p, NULL, NULL, 0);
	if (r != NULL && (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK))
		return r;
	st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (st != NULL)
		snprintf(w->state, sizeof(w->state), "%s", st);
	if (msg == NULL) {
		msg = PQerrorMessage(w->conn);
		len = strcspn(msg, "\n");
	} else
		len = strlen(msg);
	if (strcmp(w->state, "42P01") == 0 || strcmp(w->state, "42883") == 0)
		wf_err(w, "%.*s (the workflow tables are missing: run afu9 "
		    "migrate)", (int)len, msg);
	else
		wf_err(w, "%.*s", (int)len, msg[0] ? msg :
		    "the database did not answer");
	PQclear(r);
	return NULL;
}

/* Cell (row, col) as JSON (a new reference), or NULL for SQL NULL or
   text that does not parse. */
static json_t *
cell_json(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
}

/*
 * The one jsonb value of a one-column query as JSON (a new reference),
 * or NULL: *rc is then 0 when the answer was no row or SQL NULL, else
 * the exit status (the reason on stderr).
 */
json_t *
wf_json(struct wf *w, const char *sql, int n, const char *const *p, int *rc)
{
	PGresult *r;
	json_t *v;

	*rc = 0;
	if ((r = wf_exec(w, sql, n, p)) == NULL) {
		*rc = WF_FAIL;
		return NULL;
	}
	if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return NULL;
	}
	if ((v = cell_json(r, 0, 0)) == NULL) {
		wf_err(w, "the database's answer is not JSON");
		*rc = WF_FAIL;
	}
	PQclear(r);
	return v;
}

/* The newest version of workflow name as WFSQL_SHOW gives it, or NULL
   (*rc as wf_json(); "no workflow" is reported here, 1). */
static json_t *
wf_show(struct wf *w, const char *name, const char *version, int *rc)
{
	const char *p[2] = { name, version };
	json_t *v;

	if ((v = wf_json(w, WFSQL_SHOW, 2, p, rc)) == NULL && *rc == 0) {
		*rc = WF_FAIL;
		wf_err(w, "no workflow %s%s%s", name, version ? " version " :
		    "", version ? version : "");
	}
	return v;
}

/* ---- printing ---- */

const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* Compact JSON text of v (malloc'd); "null" for NULL. */
char *
jtext(const json_t *v)
{
	if (v == NULL)
		return strdup("null");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void
put_safe(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if ((k = u8_charlen(p + i, n - i)) == 0) {
			fputs("\xef\xbf\xbd", f);	/* U+FFFD, utf8.h's rule */
			i++;
			continue;
		}
		if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] == '\r')
			fputs("\\r", f);
		else if (p[i] == '\t')
			fputs("\\t", f);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(f, "\\x%02x", p[i]);
		else if (k == 2 && p[i] == 0xc2 && p[i + 1] <= 0x9f)
			fprintf(f, "\\u%04x", p[i + 1]);	/* C1 */
		else
			fwrite(p + i, 1, k, f);
		i += k;
	}
}

/* Where to cut s[0..len) to at most max bytes (0: no bound). */
static size_t
cut_at(const char *s, size_t len, size_t max)
{
	return max > 0 ? u8_cut(s, len, max) : len;
}

void
put_cut(FILE *f, const char *s, size_t max)
{
	size_t len = strlen(s), n = cut_at(s, len, max);

	put_safe(f, s, n);
	if (n < len)
		fputs("...", f);
}

char *
safe_dup(const char *s)
{
	char *b = NULL;
	size_t n = 0;
	FILE *f;

	if ((f = open_memstream(&b, &n)) == NULL)
		return NULL;
	put_safe(f, s, strlen(s));
	if (fclose(f) != 0) {
		free(b);
		return NULL;
	}
	return b;
}

void
put_col(FILE *f, const char *s, size_t width, int cut)
{
	char *t = safe_dup(s);
	const char *p = t != NULL ? t : "?";
	size_t n = cut ? cut_at(p, strlen(p), width) : strlen(p);

	fprintf(f, "%-*.*s", (int)width, (int)n, p);
	free(t);
}

/*
 * Print s to f, cut to at most max bytes at a UTF-8 character boundary
 * (max 0: all of it) with a note of its full size, through put_safe() so
 * one value stays on one line and nothing in it reaches the terminal as
 * a control.
 */
void
print_trim(FILE *f, const char *s, size_t max)
{
	size_t len = strlen(s), n = cut_at(s, len, max);

	put_safe(f, s, n);
	if (n < len)
		fprintf(f, "... (%zu bytes; --full shows all)", len);
	fputc('\n', f);
}

/* Seconds between two afu9_ts() texts, or -1 when either is missing. */
double
span_s(const char *from, const char *to)
{
	double a, b;

	if (defn_time_parse(from, &a) == -1 || defn_time_parse(to, &b) == -1)
		return -1;
	return b - a;
}

/* "12 ms", "3.4 s", "5 min 2 s", "2 h 1 min" into buf. */
const char *
fmt_span(double s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 1)
		snprintf(buf, len, "%.0f ms", s * 1000);
	else if (s < 60)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 3600)
		snprintf(buf, len, "%d min %d s", (int)(s / 60),
		    (int)s % 60);
	else
		snprintf(buf, len, "%d h %d min", (int)(s / 3600),
		    (int)s / 60 % 60);
	return buf;
}

/* Now as afu9_ts() writes times. */
static const char *
now_ts(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char date[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", date, (int)(ts.tv_nsec / 1000000));
	return buf;
}

int
cli_out_done(const char *cmd, int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: writing the output: %s\n", cmd,
		    strerror(errno));
		return rc ? rc : 1;
	}
	return rc;
}

static int
out_done(int rc)
{
	return cli_out_done("afu9 workflow", rc);
}

/* ---- apply ---- */

struct wfile {
	char		*path;
	json_t		*doc;
	struct defn	*d;
};

struct wset {
	struct wfile	 v[WF_FILES_MAX];
	size_t		 n;
	int		 bad;	/* files refused so far */
};

static int
json_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 &&
	    strcmp(d->d_name + n - 5, ".json") == 0;
}

static int
set_add(struct wf *w, struct wset *s, const char *dir, const char *name)
{
	struct wfile *f;

	if (s->n == WF_FILES_MAX) {
		wf_err(w, "more than %d definition files", WF_FILES_MAX);
		return -1;
	}
	f = &s->v[s->n];
	if ((dir ? asprintf(&f->path, "%s%s%s", dir, dir[strlen(dir) - 1] ==
	    '/' ? "" : "/", name) :
	    asprintf(&f->path, "%s", name)) == -1) {
		f->path = NULL;
		wf_err(w, "out of memory");
		return -1;
	}
	s->n++;
	return 0;
}

/* The files named by arg: itself, or a directory's *.json in name
   order.  0, or -1 (reported). */
static int
set_collect(struct wf *w, struct wset *s, const char *arg)
{
	struct dirent **list;
	struct stat sb;
	int i, n, rc = 0;

	if (stat(arg, &sb) == -1) {
		wf_err(w, "%s: %s", arg, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode))
		return set_add(w, s, NULL, arg);
	if ((n = scandir(arg, &list, json_name, alphasort)) < 0) {
		wf_err(w, "%s: %s", arg, strerror(errno));
		return -1;
	}
	if (n == 0) {
		wf_err(w, "%s: no definition files (*.json) in the directory",
		    arg);
		rc = -1;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0)
			rc = set_add(w, s, arg, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	return rc;
}

/* Read and parse one file (at most WF_FILE_MAX bytes) into f->doc: 0,
   or -1 with the reason on stderr, naming the file. */
static int
file_load(struct wf *w, struct wfile *f)
{
	struct stat sb;
	json_error_t je;
	char *buf;
	size_t n;
	FILE *fp;

	if ((fp = fopen(f->path, "r")) == NULL) {
		wf_err(w, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &sb) == -1 || !S_ISREG(sb.st_mode)) {
		wf_err(w, "%s: not a regular file", f->path);
		fclose(fp);
		return -1;
	}
	if (sb.st_size > (off_t)WF_FILE_MAX) {
		wf_err(w, "%s: %lld bytes, over the bound of %u bytes (1 MiB) "
		    "for a definition", f->path, (long long)sb.st_size,
		    WF_FILE_MAX);
		fclose(fp);
		return -1;
	}
	if ((buf = malloc(WF_FILE_MAX + 1)) == NULL) {
		wf_err(w, "%s: out of memory", f->path);
		fclose(fp);
		return -1;
	}
	n = fread(buf, 1, WF_FILE_MAX + 1, fp);
	if (ferror(fp) || n > WF_FILE_MAX) {
		if (ferror(fp))
			wf_err(w, "%s: %s", f->path, strerror(errno));
		else
			wf_err(w, "%s: over the bound of %u bytes (1 MiB) for "
			    "a definition", f->path, WF_FILE_MAX);
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	f->doc = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (f->doc == NULL) {
		wf_err(w, "%s:%d:%d: invalid JSON: %s", f->path, je.line,
		    je.column, je.text);
		return -1;
	}
	return 0;
}

static const json_t *
tool_lookup(const char *qname, void *arg)
{
	return router_tool(arg, qname);
}

/* Validate every loaded file against the servers' tools; the files
   refused (reported, each naming its file). */
static int
set_validate(struct wf *w, struct wset *s, struct router *r)
{
	char err[DEFN_ERR_MAX];
	size_t i, j;
	int bad = 0;

	for (i = 0; i < s->n; i++) {
		if (s->v[i].doc == NULL)
			continue;
		s->v[i].d = defn_parse(s->v[i].doc, tool_lookup, r, err,
		    sizeof(err));
		if (s->v[i].d == NULL) {
			wf_err(w, "%s: %s", s->v[i].path, err);
			bad++;
			continue;
		}
		for (j = 0; j < i; j++)
			if (s->v[j].d && strcmp(s->v[j].d->name,
			    s->v[i].d->name) == 0) {
				wf_err(w, "%s: workflow %s is defined in %s "
				    "as well", s->v[i].path, s->v[i].d->name,
				    s->v[j].path);
				bad++;
				break;
			}
	}
	return bad;
}

/* Store every definition in one transaction and print what happened:
   0, or 1 with nothing stored. */
static int
set_store(struct wf *w, struct wset *s)
{
	PGresult *r, **res;
	char ver[16], *text;
	const char *p[4];
	size_t i, done = 0;
	int rc = 0;

	if ((res = calloc(s->n, sizeof(*res))) == NULL) {
		wf_err(w, "out of memory");
		return WF_FAIL;
	}
	if ((r = wf_exec(w, "BEGIN", 0, NULL)) == NULL) {
		free(res);
		return WF_FAIL;
	}
	PQclear(r);
	for (i = 0; i < s->n && rc == 0; i++) {
		if ((text = jtext(s->v[i].doc)) == NULL) {
			wf_err(w, "%s: out of memory", s->v[i].path);
			rc = WF_FAIL;
			break;
		}
		snprintf(ver, sizeof(ver), "%u", s->v[i].d->version);
		p[0] = s->v[i].d->name;
		p[1] = s->v[i].d->version ? ver : NULL;
		p[2] = s->v[i].d->description;
		p[3] = text;
		w->ctx = s->v[i].path;
		if ((res[i] = wf_exec(w, WFSQL_APPLY, 4, p)) == NULL)
			rc = WF_FAIL;
		else if (PQntuples(res[i]) != 1) {
			wf_err(w, "the database stored no row");
			rc = WF_FAIL;
		} else
			done++;
		w->ctx = NULL;
		free(text);
	}
	if ((r = wf_exec(w, rc == 0 ? "COMMIT" : "ROLLBACK", 0, NULL)) ==
	    NULL)
		rc = WF_FAIL;
	PQclear(r);
	if (rc != 0)
		wf_err(w, "nothing stored (a set is stored whole or not at "
		    "all)");
	for (i = 0; i < done && rc == 0; i++)
		printf("%s: version %s (%s)\n", s->v[i].d->name,
		    PQgetvalue(res[i], 0, 1), strcmp(PQgetvalue(res[i], 0, 2),
		    "t") == 0 ? "new" : "unchanged");
	for (i = 0; i < s->n; i++)
		PQclear(res[i]);
	free(res);
	return rc;
}

static int
wf_apply(int argc, char **argv)
{
	const char *config = NULL;
	struct wset *s;
	struct wf w;
	struct cli c;
	size_t i;
	int k, npaths = 0, rc, down = 0, bad;

	for (k = 1; k < argc; k++)
		if (strcmp(argv[k], "--config") == 0 && k + 1 < argc)
			config = argv[++k];
		else if (argv[k][0] == '-' && argv[k][1] != '\0')
			goto usage;
		else
			npaths++;
	if (npaths == 0)
		goto usage;
	if ((rc = wf_open(&w, "afu9 workflow apply")) != 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		wf_err(&w, "out of memory");
		wf_close(&w);
		return WF_FAIL;
	}
	/* Every file read and judged before anything is stored. */
	for (k = 1, rc = 0; k < argc && rc == 0; k++)
		if (strcmp(argv[k], "--config") == 0)
			k++;
		else if (set_collect(&w, s, argv[k]) == -1)
			rc = WF_FAIL;
	for (i = 0; rc == 0 && i < s->n; i++)
		if (file_load(&w, &s->v[i]) == -1)
			s->bad++;
	if (rc == 0) {
		if ((rc = cli_boot(&c, config, NULL, 0)) == 0) {
			down = cli_report_down(&c);
			bad = set_validate(&w, s, c.r) + s->bad;
			if (bad > 0) {
				wf_err(&w, "%d of %zu definition file(s) "
				    "refused; nothing stored", bad, s->n);
				rc = down ? EX_UNAVAILABLE : WF_FAIL;
			}
		}
		cli_down(&c);
	}
	if (rc == 0)
		rc = set_store(&w, s);
	for (i = 0; i < s->n; i++) {
		defn_free(s->v[i].d);
		json_decref(s->v[i].doc);
		free(s->v[i].path);
	}
	free(s);
	wf_close(&w);
	return out_done(rc);
usage:
	fprintf(stderr, "usage: afu9 workflow apply [--config FILE] "
	    "FILE|DIR ...\n");
	return EX_USAGE;
}

/* ---- list, show, enable, disable ---- */

static int
wf_list(int argc, char **argv)
{
	const json_t *e;
	json_t *v;
	struct wf w;
	size_t i, width = 4, n;
	const char *d;
	int rc, as_json = 0;

	for (i = 1; i < (size_t)argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else {
			fprintf(stderr, "usage: afu9 workflow list [--json]\n");
			return EX_USAGE;
		}
	if ((rc = wf_open(&w, "afu9 workflow list")) != 0)
		return rc;
	v = wf_json(&w, WFSQL_LIST, 0, NULL, &rc);
	wf_close(&w);
	if (v == NULL)
		return rc ? rc : WF_FAIL;
	if (as_json) {
		json_dumpf(v, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (json_array_size(v) == 0)
		printf("no workflows\n");
	else {
		json_array_foreach(v, i, e)
			if (strlen(jstr(e, "name")) > width)
				width = strlen(jstr(e, "name"));
		printf("%-*s  %7s  %-8s  %5s  %-24s  %s\n", (int)width, "NAME",
		    "VERSION", "ENABLED", "STEPS", "CREATED", "DESCRIPTION");
		json_array_foreach(v, i, e) {
			d = jstr(e, "description");
			n = strcspn(d, "\n");
			printf("%-*s  %7lld  %-8s  %5lld  %-24s  %.*s%s\n",
			    (int)width, jstr(e, "name"),
			    json_integer_value(json_object_get(e, "version")),
			    json_is_true(json_object_get(e, "enabled")) ?
			    "yes" : "no",
			    json_integer_value(json_object_get(e, "steps")),
			    jstr(e, "created_at"), (int)(n > 60 ? 60 : n), d,
			    n > 60 ? "..." : "");
		}
	}
	json_decref(v);
	return out_done(0);
}

static int
wf_show_cmd(int argc, char **argv)
{
	const char *name = NULL, *version = NULL;
	unsigned long n;
	struct wf w;
	json_t *v;
	int i, rc;

	memset(&w, 0, sizeof(w));
	w.cmd = "afu9 workflow show";
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--version") == 0 && i + 1 < argc) {
			version = argv[++i];
			if (num_ok(version, 1, INT32_MAX, &n) == -1) {
				wf_err(&w, "--version %.200s: a number from 1 "
				    "to %d", version, INT32_MAX);
				return EX_USAGE;
			}
		} else if (name == NULL && argv[i][0] != '-')
			name = argv[i];
		else {
			fprintf(stderr, "usage: afu9 workflow show NAME "
			    "[--version N]\n");
			return EX_USAGE;
		}
	if (name == NULL) {
		fprintf(stderr, "usage: afu9 workflow show NAME "
		    "[--version N]\n");
		return EX_USAGE;
	}
	if (name_arg(&w, name) == -1)
		return EX_USAGE;
	if ((rc = wf_open(&w, "afu9 workflow show")) != 0)
		return rc;
	v = wf_show(&w, name, version, &rc);
	wf_close(&w);
	if (v == NULL)
		return rc;
	json_dumpf(json_object_get(v, "definition"), stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(v);
	return out_done(0);
}

static int
wf_enable(int argc, char **argv, int on)
{
	const char *p[2];
	PGresult *r;
	struct wf w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.cmd = on ? "afu9 workflow enable" : "afu9 workflow disable";
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: afu9 workflow %s NAME\n", argv[0]);
		return EX_USAGE;
	}
	if (name_arg(&w, argv[1]) == -1)
		return EX_USAGE;
	if ((rc = wf_open(&w, w.cmd)) != 0)
		return rc;
	p[0] = argv[1];
	p[1] = on ? "true" : "false";
	if ((r = wf_exec(&w, WFSQL_ENABLE, 2, p)) == NULL)
		rc = WF_FAIL;
	else if (strcmp(PQcmdTuples(r), "0") == 0) {
		wf_err(&w, "no workflow %s", argv[1]);
		rc = WF_FAIL;
	} else
		printf("%s: %s (%s version%s)\n", argv[1], on ? "enabled" :
		    "disabled", PQcmdTuples(r), strcmp(PQcmdTuples(r), "1") ?
		    "s" : "");
	PQclear(r);
	wf_close(&w);
	return out_done(rc);
}

static int
wf_enable_cmd(int argc, char **argv)
{
	return wf_enable(argc, argv, 1);
}

static int
wf_disable_cmd(int argc, char **argv)
{
	return wf_enable(argc, argv, 0);
}

/* ---- status and logs ---- */

/* afu9_execution_json() of id, or NULL (*rc: 1, reported). */
static json_t *
exec_get(struct wf *w, const char *id, int *rc)
{
	const char *p[1] = { id };
	json_t *v;

	if ((v = wf_json(w, WFSQL_EXECUTION, 1, p, rc)) == NULL && *rc == 0) {
		wf_err(w, "no execution %s", id);
		*rc = WF_FAIL;
	}
	return v;
}

static int
finished(const char *status)
{
	return strcmp(status, "succeeded") == 0 ||
	    strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0;
}

static void
print_status(const json_t *x)
{
	const char *st = jstr(x, "status"), *end;
	char span[64], now[40];
	long long next = json_integer_value(json_object_get(x, "next_step"));
	long long total = json_integer_value(json_object_get(x,
	    "steps_total"));
	char *out;

	printf("execution  %s\n", jstr(x, "id"));
	printf("workflow   %s version %lld\n", jstr(x, "workflow"),
	    json_integer_value(json_object_get(x, "version")));
	printf("status     %s\n", st);
	if (*jstr(x, "triggered_by"))
		printf("triggered  by %s\n", jstr(x, "triggered_by"));
	if (*jstr(x, "idempotency_key"))
		printf("key        %s\n", jstr(x, "idempotency_key"));
	printf("created    %s\n", jstr(x, "created_at"));
	if (*jstr(x, "started_at"))
		printf("started    %s\n", jstr(x, "started_at"));
	if (*jstr(x, "finished_at"))
		printf("finished   %s\n", jstr(x, "finished_at"));
	if (*jstr(x, "started_at")) {
		end = *jstr(x, "finished_at") ? jstr(x, "finished_at") :
		    now_ts(now, sizeof(now));
		printf("%s%s\n", *jstr(x, "finished_at") ? "duration   " :
		    "running    for ", fmt_span(span_s(jstr(x, "started_at"),
		    end), span, sizeof(span)));
	}
	if (!finished(st))
		printf("step       %lld of %lld\n", next < total ? next + 1 :
		    total, total);
	if (*jstr(x, "run_after"))
		printf("waiting    until %s\n", jstr(x, "run_after"));
	if (*jstr(x, "error"))
		printf("error      %s\n", jstr(x, "error"));
	if (json_object_get(x, "output") &&
	    !json_is_null(json_object_get(x, "output"))) {
		out = jtext(json_object_get(x, "output"));
		printf("output     %s\n", out ? out : "(out of memory)");
		free(out);
	}
}

static int
exec_cmd_args(int argc, char **argv, const char *usage, const char **id,
    int *flag, const char *flagname)
{
	int i;

	*id = NULL;
	for (i = 1; i < argc; i++)
		if (flagname && strcmp(argv[i], flagname) == 0)
			*flag = 1;
		else if (*id == NULL && argv[i][0] != '-')
			*id = argv[i];
		else
			break;
	if (*id == NULL || i < argc) {
		fprintf(stderr, "usage: %s\n", usage);
		return -1;
	}
	return 0;
}

static int
wf_status(int argc, char **argv)
{
	const char *id;
	struct wf w;
	json_t *x;
	int rc, as_json = 0;

	memset(&w, 0, sizeof(w));
	w.cmd = "afu9 workflow status";
	if (exec_cmd_args(argc, argv, "afu9 workflow status EXECUTION "
	    "[--json]", &id, &as_json, "--json") == -1)
		return EX_USAGE;
	if (exec_arg(&w, id) == -1)
		return EX_USAGE;
	if ((rc = wf_open(&w, w.cmd)) != 0)
		return rc;
	x = exec_get(&w, id, &rc);
	wf_close(&w);
	if (x == NULL)
		return rc;
	if (as_json) {
		json_dumpf(x, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		print_status(x);
	json_decref(x);
	return out_done(0);
}

/* One attempt as `logs` shows it; trim 0: everything. */
static void
print_attempt(const json_t *s, long long total, size_t trim)
{
	const json_t *o = json_object_get(s, "output");
	char span[64], *t;

	printf("%s (step %lld/%lld, attempt %lld) %s%s%s: %s", jstr(s, "step"),
	    json_integer_value(json_object_get(s, "index")) + 1, total,
	    json_integer_value(json_object_get(s, "attempt")),
	    jstr(s, "kind"), *jstr(s, "tool") ? " " : "", jstr(s, "tool"),
	    jstr(s, "status"));
	if (*jstr(s, "started_at"))
		printf("  %s", jstr(s, "started_at"));
	if (json_is_number(json_object_get(s, "duration_ms")))
		printf("  %s", fmt_span(json_number_value(json_object_get(s,
		    "duration_ms")) / 1000, span, sizeof(span)));
	putchar('\n');
	if (*jstr(s, "decided_by"))
		printf("  decided by %s\n", jstr(s, "decided_by"));
	if (*jstr(s, "error")) {
		printf("  error%s%s%s: ", *jstr(s, "error_kind") ? " (" : "",
		    jstr(s, "error_kind"), *jstr(s, "error_kind") ? ")" : "");
		print_trim(stdout, jstr(s, "error"), trim);
	}
	if (o != NULL && !json_is_null(o)) {
		t = jtext(o);
		fputs("  output: ", stdout);
		print_trim(stdout, t ? t : "(out of memory)", trim);
		free(t);
	}
}

static int
wf_logs(int argc, char **argv)
{
	const json_t *s;
	const char *id;
	struct wf w;
	json_t *x;
	size_t i;
	int rc, full = 0;

	memset(&w, 0, sizeof(w));
	w.cmd = "afu9 workflow logs";
	if (exec_cmd_args(argc, argv, "afu9 workflow logs EXECUTION "
	    "[--full]", &id, &full, "--full") == -1)
		return EX_USAGE;
	if (exec_arg(&w, id) == -1)
		return EX_USAGE;
	if ((rc = wf_open(&w, w.cmd)) != 0)
		return rc;
	x = exec_get(&w, id, &rc);
	wf_close(&w);
	if (x == NULL)
		return rc;
	if (json_array_size(json_object_get(x, "steps")) == 0)
		printf("no step has begun (the execution is %s)\n",
		    jstr(x, "status"));
	json_array_foreach(json_object_get(x, "steps"), i, s)
		print_attempt(s, json_integer_value(json_object_get(x,
		    "steps_total")), full ? 0 : WF_TRIM);
	json_decref(x);
	return out_done(0);
}

/* ---- cancel, approve, reject ---- */

static int
wf_cancel(int argc, char **argv)
{
	const char *p[2], *id, *st;
	PGresult *r;
	struct wf w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.cmd = "afu9 workflow cancel";
	if (exec_cmd_args(argc, argv, "afu9 workflow cancel EXECUTION", &id,
	    NULL, NULL) == -1)
		return EX_USAGE;
	if (exec_arg(&w, id) == -1)
		return EX_USAGE;
	if ((rc = wf_open(&w, w.cmd)) != 0)
		return rc;
	p[0] = id;
	p[1] = WF_WHO;
	if ((r = wf_exec(&w, WFSQL_CANCEL, 2, p)) == NULL)
		rc = WF_FAIL;
	else if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		wf_err(&w, "no execution %s", id);
		rc = WF_FAIL;
	} else if (strcmp(st = PQgetvalue(r, 0, 0), "cancelled") != 0) {
		wf_err(&w, "execution %s has already finished (%s): not "
		    "cancelled", id, st);
		rc = WF_FAIL;
	} else
		printf("%s: cancelled\n", id);
	PQclear(r);
	wf_close(&w);
	return out_done(rc);
}

static int
wf_decide(int argc, char **argv, int approve)
{
	const char *p[5], *id = NULL, *step = NULL, *comment = NULL;
	PGresult *r;
	struct wf w;
	int i, rc;

	memset(&w, 0, sizeof(w));
	w.cmd = approve ? "afu9 workflow approve" : "afu9 workflow reject";
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--comment") == 0 && i + 1 < argc)
			comment = argv[++i];
		else if (argv[i][0] == '-')
			break;
		else if (id == NULL)
			id = argv[i];
		else if (step == NULL)
			step = argv[i];
		else
			break;
	if (i < argc || step == NULL) {
		fprintf(stderr, "usage: %s EXECUTION STEP [--comment TEXT]\n",
		    w.cmd);
		return EX_USAGE;
	}
	if (exec_arg(&w, id) == -1)
		return EX_USAGE;
	if (!step_ok(step)) {
		wf_err(&w, "%.200s: not a step id (a letter or '_', then "
		    "letters, digits, '_', '-'; at most %d)", step,
		    DEFN_ID_MAX);
		return EX_USAGE;
	}
	if (comment != NULL && (strlen(comment) > WF_COMMENT_MAX ||
	    !printable(comment))) {
		wf_err(&w, "--comment: at most %d bytes without control "
		    "characters", WF_COMMENT_MAX);
		return EX_USAGE;
	}
	if ((rc = wf_open(&w, w.cmd)) != 0)
		return rc;
	p[0] = id;
	p[1] = step;
	p[2] = approve ? "true" : "false";
	p[3] = WF_WHO;
	p[4] = comment;
	if ((r = wf_exec(&w, WFSQL_DECIDE, 5, p)) == NULL)
		rc = WF_FAIL;	/* AF002: not waiting there, in its words */
	else
		printf("%s: step %s %s\n", id, step, approve ? "approved" :
		    "rejected");
	PQclear(r);
	wf_close(&w);
	return out_done(rc);
}

static int
wf_approve(int argc, char **argv)
{
	return wf_decide(argc, argv, 1);
}

static int
wf_reject(int argc, char **argv)
{
	return wf_decide(argc, argv, 0);
}

/* ---- run ---- */

struct runargs {
	const char	*name;
	const char	*input;		/* --input JSON */
	const char	*key;		/* --idempotency-key */
	int		 wait;
	char		**kv;		/* KEY=VALUE words */
	int		 nkv;
};

static int
run_usage(void)
{
	fprintf(stderr, "usage: afu9 workflow run NAME [KEY=VALUE ... | "
	    "--input JSON] [--idempotency-key K] [--wait]\n");
	return EX_USAGE;
}

/* The input object from --input and the KEY=VALUE words (coerced by
   the inputs schema's properties), or NULL (reported). */
static json_t *
run_input(struct wf *w, const struct runargs *a, const struct defn *d)
{
	const json_t *props = json_object_get(d->inputs, "properties");
	char err[512], key[256], *eq;
	json_error_t je;
	json_t *in, *v;
	int i;

	if (a->input != NULL) {
		in = json_loads(a->input, JSON_DECODE_ANY |
		    JSON_REJECT_DUPLICATES, &je);
		if (in == NULL) {
			wf_err(w, "--input: invalid JSON: %s", je.text);
			return NULL;
		}
		if (!json_is_object(in)) {
			wf_err(w, "--input: the input must be a JSON object");
			json_decref(in);
			return NULL;
		}
	} else if ((in = json_object()) == NULL) {
		wf_err(w, "out of memory");
		return NULL;
	}
	for (i = 0; i < a->nkv; i++) {
		eq = strchr(a->kv[i], '=');
		snprintf(key, sizeof(key), "%.*s", (int)(eq - a->kv[i]),
		    a->kv[i]);
		if ((v = cli_coerce(json_object_get(props, key), eq + 1, err,
		    sizeof(err))) == NULL) {
			wf_err(w, "input %s: %s", key, err);
			json_decref(in);
			return NULL;
		}
		if (json_object_set_new(in, key, v) == -1) {
			wf_err(w, "input %s: not valid UTF-8", key);
			json_decref(in);
			return NULL;
		}
	}
	return in;
}

/* Parse the words of `run` into a: 0, or an exit status. */
static int
run_args(struct wf *w, int argc, char **argv, struct runargs *a)
{
	char *eq;
	int i;

	memset(a, 0, sizeof(*a));
	if ((a->kv = calloc((size_t)argc, sizeof(*a->kv))) == NULL) {
		wf_err(w, "out of memory");
		return WF_FAIL;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--input") == 0 && i + 1 < argc &&
		    a->input == NULL)
			a->input = argv[++i];
		else if (strcmp(argv[i], "--idempotency-key") == 0 &&
		    i + 1 < argc && a->key == NULL)
			a->key = argv[++i];
		else if (strcmp(argv[i], "--wait") == 0)
			a->wait = 1;
		else if (argv[i][0] == '-')
			return run_usage();
		else if (a->name == NULL)
			a->name = argv[i];
		else if ((eq = strchr(argv[i], '=')) == NULL ||
		    eq == argv[i] || eq - argv[i] > 255) {
			wf_err(w, "%.200s: an input is KEY=VALUE (a key of 1 "
			    "to 255 bytes)", argv[i]);
			return EX_USAGE;
		} else
			a->kv[a->nkv++] = argv[i];
	}
	if (a->name == NULL)
		return run_usage();
	if (name_arg(w, a->name) == -1)
		return EX_USAGE;
	if (a->input != NULL && strlen(a->input) > WFSQL_INPUT_MAX) {
		wf_err(w, "--input: %zu bytes, over the bound of %u",
		    strlen(a->input), WFSQL_INPUT_MAX);
		return EX_USAGE;
	}
	if (a->key != NULL && (a->key[0] == '\0' ||
	    strlen(a->key) > WF_KEY_MAX || !printable(a->key))) {
		wf_err(w, "--idempotency-key: 1 to %d bytes without control "
		    "characters", WF_KEY_MAX);
		return EX_USAGE;
	}
	return 0;
}

/*
 * The newest enabled version of name (its row id into id, a parsed
 * definition), or NULL with *rc set: an unknown and a disabled workflow
 * each have their message.
 */
static struct defn *
run_defn(struct wf *w, const char *name, char *id, size_t idlen, int *rc)
{
	const char *p[1] = { name };
	char err[DEFN_ERR_MAX];
	struct defn *d = NULL;
	PGresult *r;
	json_t *doc, *row;

	*rc = WF_FAIL;
	if ((r = wf_exec(w, WFSQL_LATEST, 1, p)) == NULL)
		return NULL;
	if (PQntuples(r) == 0) {
		PQclear(r);
		if ((row = wf_show(w, name, NULL, rc)) != NULL) {
			wf_err(w, "workflow %s is disabled (afu9 workflow "
			    "enable %s)", name, name);
			json_decref(row);
			*rc = WF_FAIL;
		}
		return NULL;
	}
	snprintf(id, idlen, "%s", PQgetvalue(r, 0, 0));
	if ((doc = cell_json(r, 0, 2)) == NULL)
		wf_err(w, "workflow %s: the stored definition is not JSON",
		    name);
	else if ((d = defn_parse(doc, NULL, NULL, err, sizeof(err))) == NULL)
		wf_err(w, "workflow %s version %s: the stored definition does "
		    "not parse: %s", name, PQgetvalue(r, 0, 1), err);
	else
		*rc = 0;
	json_decref(doc);
	PQclear(r);
	return d;
}

/* Print what is new in execution x since the last look: each attempt
   once when it has an outcome, an approval once while it waits. */
static void
wait_report(const json_t *x, json_t *seen)
{
	const json_t *s;
	char key[64], span[64];
	const char *st;
	long long total = json_integer_value(json_object_get(x,
	    "steps_total"));
	size_t i;
	int approval;

	json_array_foreach(json_object_get(x, "steps"), i, s) {
		st = jstr(s, "status");
		approval = strcmp(st, "running") == 0 &&
		    strcmp(jstr(s, "kind"), "approval") == 0;
		if (strcmp(st, "running") == 0 && !approval)
			continue;
		snprintf(key, sizeof(key), "%lld:%lld:%s",
		    json_integer_value(json_object_get(s, "index")),
		    json_integer_value(json_object_get(s, "attempt")),
		    approval ? "w" : "d");
		if (json_object_get(seen, key))
			continue;
		json_object_set_new(seen, key, json_true());
		if (approval) {
			fprintf(stderr, "step %s (%lld/%lld): waiting for an "
			    "approval (afu9 workflow approve %s %s)\n",
			    jstr(s, "step"), json_integer_value(
			    json_object_get(s, "index")) + 1, total,
			    jstr(x, "id"), jstr(s, "step"));
			continue;
		}
		fprintf(stderr, "step %s (%lld/%lld)", jstr(s, "step"),
		    json_integer_value(json_object_get(s, "index")) + 1,
		    total);
		if (json_integer_value(json_object_get(s, "attempt")) > 1)
			fprintf(stderr, " attempt %lld",
			    json_integer_value(json_object_get(s, "attempt")));
		fprintf(stderr, ": %s", st);
		if (json_is_number(json_object_get(s, "duration_ms")))
			fprintf(stderr, " in %s", fmt_span(json_number_value(
			    json_object_get(s, "duration_ms")) / 1000, span,
			    sizeof(span)));
		if (*jstr(s, "error")) {
			fputs(": ", stderr);
			print_trim(stderr, jstr(s, "error"), WF_TRIM);
		} else
			fputc('\n', stderr);
	}
}

/*
 * --wait: look at the execution until it has finished, each time
 * sooner after a change; survive the database going away for up to
 * WF_LOST_S.  0 succeeded, 1 otherwise.
 */
static int
run_wait(struct wf *w, const char *id)
{
	const char *p[1] = { id };
	char span[64], *out;
	unsigned delay = WF_POLL_MIN_MS;
	time_t lost = 0;
	json_t *x, *seen;
	int rc;
	char *prev = NULL, *now;

	if ((seen = json_object()) == NULL) {
		wf_err(w, "out of memory");
		return WF_FAIL;
	}
	for (;;) {
		x = wf_json(w, WFSQL_EXECUTION, 1, p, &rc);
		if (x == NULL && rc == 0) {
			wf_err(w, "execution %s is gone", id);
			break;
		}
		if (x == NULL) {
			if (PQstatus(w->conn) != CONNECTION_OK) {
				if (lost == 0)
					lost = time(NULL);
				if (time(NULL) - lost > WF_LOST_S) {
					wf_err(w, "no answer from the database "
					    "for %d s; the execution goes on "
					    "(afu9 workflow status %s)",
					    WF_LOST_S, id);
					break;
				}
				usleep(WF_POLL_MAX_MS * 1000);
				PQreset(w->conn);
				continue;
			}
			break;
		}
		lost = 0;
		wait_report(x, seen);
		if (finished(jstr(x, "status"))) {
			fprintf(stderr, "execution %s: %s in %s%s%s\n", id,
			    jstr(x, "status"), fmt_span(span_s(jstr(x,
			    "started_at"), jstr(x, "finished_at")), span,
			    sizeof(span)), *jstr(x, "error") ? ": " : "",
			    jstr(x, "error"));
			rc = strcmp(jstr(x, "status"), "succeeded") ? WF_FAIL :
			    0;
			if (rc == 0 && (out = jtext(json_object_get(x,
			    "output"))) != NULL) {
				printf("%s\n", out);
				free(out);
			}
			json_decref(x);
			json_decref(seen);
			free(prev);
			return rc;
		}
		/* sooner after a change, slower while nothing moves */
		now = json_dumps(json_object_get(x, "steps"), JSON_COMPACT);
		if (prev && now && strcmp(prev, now) == 0) {
			delay = delay * 3 / 2;
			if (delay > WF_POLL_MAX_MS)
				delay = WF_POLL_MAX_MS;
		} else
			delay = WF_POLL_MIN_MS;
		free(prev);
		prev = now;
		json_decref(x);
		usleep(delay * 1000);
	}
	json_decref(seen);
	free(prev);
	return WF_FAIL;
}

static int
wf_run(int argc, char **argv)
{
	char wid[64], err[DEFN_ERR_MAX], *text = NULL;
	const char *p[4];
	struct runargs a;
	struct defn *d = NULL;
	struct wf w;
	PGresult *r = NULL;
	json_t *in = NULL;
	int rc;

	memset(&w, 0, sizeof(w));
	w.cmd = "afu9 workflow run";
	if ((rc = run_args(&w, argc, argv, &a)) != 0)
		goto out;
	if ((rc = wf_open(&w, w.cmd)) != 0)
		goto out;
	if ((d = run_defn(&w, a.name, wid, sizeof(wid), &rc)) == NULL)
		goto out;
	rc = EX_USAGE;
	if ((in = run_input(&w, &a, d)) == NULL)
		goto out;
	if (defn_check_input(d, in, err, sizeof(err)) == -1) {
		wf_err(&w, "workflow %s: %s", a.name, err);
		goto out;
	}
	if ((text = jtext(in)) == NULL) {
		wf_err(&w, "out of memory");
		rc = WF_FAIL;
		goto out;
	}
	if (strlen(text) > WFSQL_INPUT_MAX) {
		wf_err(&w, "the input is %zu bytes of JSON, over the bound "
		    "of %u", strlen(text), WFSQL_INPUT_MAX);
		goto out;
	}
	p[0] = wid;
	p[1] = text;
	p[2] = a.key;
	p[3] = WF_WHO;
	rc = WF_FAIL;
	if ((r = wf_exec(&w, WFSQL_CREATE, 4, p)) == NULL ||
	    PQntuples(r) != 1)
		goto out;
	printf("%s\n", PQgetvalue(r, 0, 0));
	fflush(stdout);
	if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
		fprintf(stderr, "%s: idempotency key %s: the execution made "
		    "with it before (%s)\n", w.cmd, a.key, PQgetvalue(r, 0, 2));
	rc = a.wait ? run_wait(&w, PQgetvalue(r, 0, 0)) : 0;
out:
	PQclear(r);
	free(text);
	json_decref(in);
	defn_free(d);
	free(a.kv);
	wf_close(&w);
	return out_done(rc);
}

/* ---- list-executions ---- */

static int
lx_usage(void)
{
	fprintf(stderr, "usage: afu9 workflow list-executions [--status S] "
	    "[--workflow NAME] [--limit N] [--after CURSOR] [--json]\n");
	return EX_USAGE;
}

/* A cursor "TIME/UUID" as list-executions prints it: its two parts
   into ts and id.  0, or -1. */
int
cursor_ok(const char *s, char *ts, size_t tslen, const char **id)
{
	const char *slash = strrchr(s, '/');
	double t;

	if (slash == NULL || (size_t)(slash - s) >= tslen)
		return -1;
	snprintf(ts, tslen, "%.*s", (int)(slash - s), s);
	*id = slash + 1;
	return defn_time_parse(ts, &t) == 0 && store_uuid_ok(*id) ? 0 : -1;
}

static void
print_executions(const json_t *v)
{
	const json_t *e;
	size_t i, width = 8;
	char span[64];

	json_array_foreach(v, i, e)
		if (strlen(jstr(e, "workflow")) > width)
			width = strlen(jstr(e, "workflow"));
	printf("%-36s  %-*s  %7s  %-9s  %-24s  %-10s  %s\n", "ID", (int)width,
	    "WORKFLOW", "VERSION", "STATUS", "CREATED", "DURATION", "ERROR");
	json_array_foreach(v, i, e) {
		printf("%-36s  %-*s  %7lld  %-9s  %-24s  %-10s  ", jstr(e, "id"),
		    (int)width, jstr(e, "workflow"),
		    json_integer_value(json_object_get(e, "version")),
		    jstr(e, "status"), jstr(e, "created_at"),
		    fmt_span(span_s(jstr(e, "started_at"), jstr(e,
		    "finished_at")), span, sizeof(span)));
		print_trim(stdout, jstr(e, "error"), 60);
	}
}

static int
wf_list_executions(int argc, char **argv)
{
	const char *p[5] = { NULL, NULL, NULL, NULL, NULL };
	char lim[16], ts[64];
	unsigned long n = WF_LIMIT_DEFAULT;
	struct wf w;
	json_t *v, *row;
	int i, rc, as_json = 0;

	memset(&w, 0, sizeof(w));
	w.cmd = "afu9 workflow list-executions";
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else if (i + 1 >= argc)
			return lx_usage();
		else if (strcmp(argv[i], "--status") == 0) {
			if (!status_ok(p[0] = argv[++i])) {
				wf_err(&w, "--status %.200s: not a status (%s)",
				    p[0], WFSQL_STATUSES);
				return EX_USAGE;
			}
		} else if (strcmp(argv[i], "--workflow") == 0) {
			if (name_arg(&w, p[1] = argv[++i]) == -1)
				return EX_USAGE;
		} else if (strcmp(argv[i], "--limit") == 0) {
			if (num_ok(argv[++i], 1, WF_LIMIT_MAX, &n) == -1) {
				wf_err(&w, "--limit %.200s: a number from 1 "
				    "to %d", argv[i], WF_LIMIT_MAX);
				return EX_USAGE;
			}
		} else if (strcmp(argv[i], "--after") == 0) {
			if (cursor_ok(argv[++i], ts, sizeof(ts), &p[4]) ==
			    -1) {
				wf_err(&w, "--after %.200s: not a cursor (the "
				    "TIME/ID a page ended with)", argv[i]);
				return EX_USAGE;
			}
			p[3] = ts;
		} else
			return lx_usage();
	}
	snprintf(lim, sizeof(lim), "%lu", n);
	p[2] = lim;
	if ((rc = wf_open(&w, w.cmd)) != 0)
		return rc;
	if (p[1] != NULL) {
		if ((row = wf_show(&w, p[1], NULL, &rc)) == NULL) {
			wf_close(&w);
			return rc;
		}
		json_decref(row);
	}
	v = wf_json(&w, WFSQL_EXECUTIONS, 5, p, &rc);
	wf_close(&w);
	if (v == NULL)
		return rc ? rc : WF_FAIL;
	if (as_json) {
		json_dumpf(v, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (json_array_size(v) == 0)
		printf("no executions\n");
	else
		print_executions(v);
	if (!as_json && json_array_size(v) == n)
		fprintf(stderr, "more may follow: --after %s\n",
		    jstr(json_array_get(v, n - 1), "cursor"));
	json_decref(v);
	return out_done(0);
}

/* ---- dispatch ---- */

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} subs[] = {
	{ "apply", wf_apply },
	{ "list", wf_list },
	{ "show", wf_show_cmd },
	{ "enable", wf_enable_cmd },
	{ "disable", wf_disable_cmd },
	{ "run", wf_run },
	{ "status", wf_status },
	{ "logs", wf_logs },
	{ "cancel", wf_cancel },
	{ "approve", wf_approve },
	{ "reject", wf_reject },
	{ "list-executions", wf_list_executions },
};

static void
wf_usage(FILE *f)
{
	fprintf(f,
	    "usage: afu9 workflow COMMAND [ARGS]   (DATABASE_URL)\n"
	    "\n"
	    "  apply [--config FILE] FILE|DIR ...  validate against the\n"
	    "        servers' tools and store (all files or none)\n"
	    "  list [--json]                   every workflow's newest version\n"
	    "  show NAME [--version N]         the definition\n"
	    "  enable NAME | disable NAME\n"
	    "  run NAME [KEY=VALUE ... | --input JSON] [--idempotency-key K]\n"
	    "      [--wait]                    start an execution, print its id\n"
	    "  status EXECUTION [--json]\n"
	    "  logs EXECUTION [--full]         every attempt of every step\n"
	    "  cancel EXECUTION\n"
	    "  approve EXECUTION STEP [--comment TEXT]\n"
	    "  reject EXECUTION STEP [--comment TEXT]\n"
	    "  list-executions [--status S] [--workflow NAME] [--limit N]\n"
	    "      [--after CURSOR] [--json]\n"
	    "\n"
	    "Exit status: 0 done (run --wait: succeeded); 1 refused or\n"
	    "failed; 2 usage, bad input or DATABASE_URL unset; 3 (apply) a\n"
	    "server did not start.  See afu9(1) and doc/workflows.md.\n");
}

int
cli_workflow(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		wf_usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		wf_usage(stdout);
		return out_done(0);
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "afu9 workflow: unknown command %.200s\n", argv[1]);
	wf_usage(stderr);
	return EX_USAGE;
}
