#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "conf/conf.h"
#include "store/migrate.h"
#include "log.h"
#include "redact.h"

#ifndef AFU9_MIGRATIONS_DATADIR
#define AFU9_MIGRATIONS_DATADIR	""
#endif
#ifndef AFU9_BUILD_TREE
#define AFU9_BUILD_TREE		""
#endif
#ifndef AFU9_SOURCE_TREE
#define AFU9_SOURCE_TREE	""
#endif

/* One migration file, read whole. */
struct mfile {
	long long	 version;
	char		 name[MIG_NAME_MAX + 1];
	char		*sql;		/* NUL-terminated, no NUL inside */
	size_t		 len;
	char		 sum[MIG_SHA_HEX];
};

struct mfiles {
	struct mfile	*v;
	size_t		 n;
};

static const char create_table_sql[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version bigint PRIMARY KEY CHECK (version >= 0),"
	" name text NOT NULL,"
	" checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"
	" applied_at timestamptz NOT NULL DEFAULT now(),"
	" duration_ms bigint NOT NULL CHECK (duration_ms >= 0))";

static const char select_rows_sql[] =
	"SELECT version, name, checksum,"
	" to_char(applied_at AT TIME ZONE 'UTC',"
	" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), duration_ms"
	" FROM schema_migrations ORDER BY version";

/* The server's message of a failed result, without the trailing newline;
   points into res or conn (borrowed). */
static const char *
pg_msg(PGconn *conn, const PGresult *res, char *buf, size_t len)
{
	const char *m = res ? PQresultErrorMessage(res) : "";
	size_t n;

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(conn);
	if (m == NULL || *m == '\0')
		m = "unknown error";
	snprintf(buf, len, "%s", m);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

int
mig_parse_name(const char *name, long long *version)
{
	const char *p = name;
	size_t digits = 0, word = 0, len;
	long long v = 0;

	if (name == NULL || (len = strlen(name)) > MIG_NAME_MAX)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		if (digits < MIG_DIGITS_MAX)
			v = v * 10 + (*p - '0');
	if (digits < MIG_DIGITS_MIN || digits > MIG_DIGITS_MAX || *p++ != '_')
		return -1;
	for (; (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
	    *p == '_'; p++)
		word++;
	if (word == 0 || strcmp(p, ".sql") != 0)
		return -1;
	if (version)
		*version = v;
	return 0;
}

char *
mig_conninfo_redact(const char *conninfo, char *out, size_t outlen)
{
	PQconninfoOption *opts, *o;
	size_t used = 0;
	int n;

	if (outlen == 0)
		return out;
	out[0] = '\0';
	if (conninfo == NULL ||
	    (opts = PQconninfoParse(conninfo, NULL)) == NULL) {
		snprintf(out, outlen, "(unparsable conninfo)");
		return out;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		n = snprintf(out + used, outlen - used, "%s%s=%s",
		    used ? " " : "", o->keyword,
		    strcmp(o->keyword, "password") == 0 ? REDACTED : o->val);
		if (n < 0 || (size_t)n >= outlen - used) {
			out[used] = '\0';	/* whole pairs only */
			break;
		}
		used += (size_t)n;
	}
	PQconninfoFree(opts);
	return out;
}

int
mig_register_password(const char *conninfo, const char *pgpassword)
{
	PQconninfoOption *opts, *o;
	char *msg = NULL;
	int rc = 0;

	if ((opts = PQconninfoParse(conninfo ? conninfo : "", &msg)) == NULL) {
		PQfreemem(msg);
		rc = -1;
	} else {
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val &&
			    strlen(o->val) >= 4)
				redact_add_secret(o->val);
		PQconninfoFree(opts);
	}
	if (pgpassword != NULL && strlen(pgpassword) >= 4)
		redact_add_secret(pgpassword);
	return rc;
}

static void
notice_discard(void *arg, const char *msg)
{
}

int
mig_connect(const char *conninfo, PGconn **out, char *err, size_t errlen)
{
	char shown[1024], msg[MIG_ERR_MAX];
	PGconn *conn;
	const char *pw;

	*out = NULL;
	/* Unparsable: PQconnectdb() below fails and says why. */
	(void)mig_register_password(conninfo, NULL);	/* PGPASSWORD: PQpass() below */
	mig_conninfo_redact(conninfo, shown, sizeof(shown));
	if ((conn = PQconnectdb(conninfo ? conninfo : "")) == NULL)
		return errfmt(err, errlen, "database %s: out of memory", shown);
	if ((pw = PQpass(conn)) != NULL && strlen(pw) >= 4)
		redact_add_secret(pw);
	if (PQstatus(conn) != CONNECTION_OK) {
		errfmt(err, errlen, "cannot connect to database %s: %s", shown,
		    pg_msg(conn, NULL, msg, sizeof(msg)));
		PQfinish(conn);
		return -1;
	}
	PQsetNoticeProcessor(conn, notice_discard, NULL);
	*out = conn;
	return 0;
}

/* Run one command that returns no rows; 0 or -1 with err set. */
static int
exec_cmd(PGconn *conn, const char *sql, const char *what, char *err,
    size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	char msg[MIG_ERR_MAX];
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		errfmt(err, errlen, "%s: %s", what, pg_msg(conn, res, msg,
		    sizeof(msg)));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

static void
mfiles_free(struct mfiles *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		free(fs->v[i].sql);
	free(fs->v);
	fs->v = NULL;
	fs->n = 0;
}

static void
sha256_hex(const void *data, size_t len, char out[MIG_SHA_HEX])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, MIG_SHA_HEX, h, sizeof(h));
}

/*
 * Read dir/name into f: a regular file of at most MIG_FILE_MAX bytes
 * without NUL bytes.  f->sql is malloc'd (f's own).  0 or -1 with err.
 */
static int
mfile_read(int dfd, const char *dir, const char *name, struct mfile *f,
    char *err, size_t errlen)
{
	struct stat st;
	size_t cap, len = 0;
	ssize_t r = 0;
	int fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return errfmt(err, errlen, "migration %s/%s: %s", dir, name,
		    strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errfmt(err, errlen, "migration %s/%s: not a regular file",
		    dir, name);
	}
	if ((size_t)st.st_size > MIG_FILE_MAX) {
		close(fd);
		return errfmt(err, errlen, "migration %s/%s: larger than %u bytes",
		    dir, name, MIG_FILE_MAX);
	}
	cap = (size_t)st.st_size + 1;
	if ((f->sql = malloc(cap + 1)) == NULL) {
		close(fd);
		return errfmt(err, errlen, "migration %s/%s: out of memory", dir,
		    name);
	}
	/* Read one byte more than stat said, to notice a growing file. */
	while (len < cap) {
		r = read(fd, f->sql + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (r == -1)
		return errfmt(err, errlen, "migration %s/%s: %s", dir, name,
		    strerror(errno));
	if (len == cap)
		return errfmt(err, errlen, "migration %s/%s: changed while read",
		    dir, name);
	f->sql[len] = '\0';
	f->len = len;
	if (memchr(f->sql, '\0', len) != NULL)
		return errfmt(err, errlen, "migration %s/%s: contains a NUL byte",
		    dir, name);
	sha256_hex(f->sql, len, f->sum);
	return 0;
}

static int
mfile_cmp(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->name, y->name);	/* stable error messages */
}

/* Add one directory entry to fs (grows fs->v).  0 or -1 with err. */
static int
mfiles_add(struct mfiles *fs, size_t *cap, int dfd, const char *dir,
    const char *name, char *err, size_t errlen)
{
	struct mfile *f, *nv;
	long long version;

	if (mig_parse_name(name, &version) == -1)
		return errfmt(err, errlen, "migration %s/%s: bad file name "
		    "(want NNN_name.sql: %d to %d digits, '_', [a-z0-9_]+, "
		    "\".sql\")", dir, name, MIG_DIGITS_MIN, MIG_DIGITS_MAX);
	if (fs->n == MIG_FILES_MAX)
		return errfmt(err, errlen, "migrations %s: more than %d files",
		    dir, MIG_FILES_MAX);
	if (fs->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		if ((nv = reallocarray(fs->v, *cap, sizeof(*nv))) == NULL)
			return errfmt(err, errlen, "migrations %s: out of memory",
			    dir);
		fs->v = nv;
	}
	f = &fs->v[fs->n++];
	memset(f, 0, sizeof(*f));
	f->version = version;
	memcpy(f->name, name, strlen(name) + 1);	/* parsed: fits */
	return mfile_read(dfd, dir, name, f, err, errlen);
}

/*
 * Read every migration file of dir, sorted by version, into *fs (the
 * caller's, to mfiles_free() also after an error).  0 or -1 with err.
 */
static int
mfiles_load(const char *dir, struct mfiles *fs, char *err, size_t errlen)
{
	struct dirent *de;
	size_t cap = 0, i;
	DIR *d;
	int rc = 0;

	fs->v = NULL;
	fs->n = 0;
	if (dir == NULL || (d = opendir(dir)) == NULL)
		return errfmt(err, errlen, "migrations %s: %s", dir ? dir : "(null)",
		    dir ? strerror(errno) : "no directory");
	while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		rc = mfiles_add(fs, &cap, dirfd(d), dir, de->d_name, err,
		    errlen);
	}
	if (rc == 0 && errno != 0)
		rc = errfmt(err, errlen, "migrations %s: %s", dir,
		    strerror(errno));
	closedir(d);
	if (rc == -1)
		return -1;
	if (fs->n > 1)
		qsort(fs->v, fs->n, sizeof(fs->v[0]), mfile_cmp);
	for (i = 1; i < fs->n; i++)
		if (fs->v[i].version == fs->v[i - 1].version)
			return errfmt(err, errlen, "migrations %s: %s and %s have "
			    "the same version", dir, fs->v[i - 1].name,
			    fs->v[i].name);
	return 0;
}

/* Does schema_migrations exist (in the search path)?  1, 0, or -1. */
static int
table_exists(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res;
	char msg[MIG_ERR_MAX];
	int yes;

	res = PQexec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		errfmt(err, errlen, "reading schema_migrations: %s",
		    pg_msg(conn, res, msg, sizeof(msg)));
		PQclear(res);
		return -1;
	}
	yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return yes;
}

/* Copy a row of schema_migrations into e (state left to the caller). */
static void
entry_from_row(const PGresult *res, int row, struct mig_entry *e)
{
	e->version = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	snprintf(e->file, sizeof(e->file), "%s", PQgetvalue(res, row, 1));
	snprintf(e->sum_db, sizeof(e->sum_db), "%s", PQgetvalue(res, row, 2));
	snprintf(e->applied_at, sizeof(e->applied_at), "%s",
	    PQgetvalue(res, row, 3));
	e->duration_ms = strtoll(PQgetvalue(res, row, 4), NULL, 10);
}

static void
entry_from_file(const struct mfile *f, struct mig_entry *e)
{
	e->version = f->version;
	snprintf(e->file, sizeof(e->file), "%s", f->name);
	snprintf(e->sum_file, sizeof(e->sum_file), "%s", f->sum);
	e->duration_ms = -1;
	e->state = MIG_PENDING;
}

/*
 * Merge the sorted files with the rows of res (sorted by version; NULL: no
 * table) into a new report.  0, or -1 on ENOMEM.
 */
static int
merge(const struct mfiles *fs, const PGresult *res, struct mig_report *out)
{
	size_t i = 0, k = 0, nrows = res ? (size_t)PQntuples(res) : 0;
	struct mig_entry *e;
	long long rv;

	out->n = 0;
	if ((out->v = calloc(fs->n + nrows + 1, sizeof(*out->v))) == NULL)
		return -1;
	while (i < fs->n || k < nrows) {
		e = &out->v[out->n++];
		rv = k < nrows ? strtoll(PQgetvalue(res, (int)k, 0), NULL, 10) :
		    0;
		if (k == nrows || (i < fs->n && fs->v[i].version < rv)) {
			entry_from_file(&fs->v[i++], e);
			continue;
		}
		entry_from_row(res, (int)k++, e);
		if (i == fs->n || fs->v[i].version > rv) {
			e->state = MIG_MISSING;
			continue;
		}
		snprintf(e->sum_file, sizeof(e->sum_file), "%s", fs->v[i].sum);
		e->state = strcmp(e->sum_file, e->sum_db) == 0 &&
		    strcmp(e->file, fs->v[i].name) == 0 ? MIG_APPLIED :
		    MIG_MODIFIED;
		if (e->state == MIG_MODIFIED) {	/* show the file's name */
			snprintf(e->name_db, sizeof(e->name_db), "%s", e->file);
			snprintf(e->file, sizeof(e->file), "%s", fs->v[i].name);
		}
		i++;
	}
	return 0;
}

/*
 * Read schema_migrations (when it exists) and merge it with fs into *out.
 * 0 or -1 with err set.
 */
static int
load_report(PGconn *conn, const struct mfiles *fs, int have_table,
    struct mig_report *out, char *err, size_t errlen)
{
	PGresult *res = NULL;
	char msg[MIG_ERR_MAX];
	int rc;

	if (have_table) {
		res = PQexec(conn, select_rows_sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			errfmt(err, errlen, "reading schema_migrations: %s",
			    pg_msg(conn, res, msg, sizeof(msg)));
			PQclear(res);
			return -1;
		}
	}
	rc = merge(fs, res, out);
	PQclear(res);
	if (rc == -1)
		return errfmt(err, errlen, "migration status: out of memory");
	return 0;
}

int
mig_status(PGconn *conn, const char *dir, struct mig_report *out, char *err,
    size_t errlen)
{
	struct mfiles fs;
	int have, rc = -1;

	out->v = NULL;
	out->n = 0;
	if (mfiles_load(dir, &fs, err, errlen) == 0 &&
	    (have = table_exists(conn, err, errlen)) != -1)
		rc = load_report(conn, &fs, have, out, err, errlen);
	mfiles_free(&fs);
	return rc;
}

void
mig_report_free(struct mig_report *r)
{
	if (r == NULL)
		return;
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

const char *
mig_state_name(enum mig_state s)
{
	switch (s) {
	case MIG_APPLIED:
		return "applied";
	case MIG_PENDING:
		return "pending";
	case MIG_MODIFIED:
		return "modified";
	case MIG_MISSING:
		return "missing";
	}
	return "unknown";
}

int
mig_report_print(FILE *fp, const struct mig_report *r)
{
	size_t i, w = 0, l;
	const struct mig_entry *e;
	int n = 0;

	for (i = 0; i < r->n; i++)
		if ((l = strlen(r->v[i].file)) > w)
			w = l;
	for (i = 0; i < r->n && n >= 0; i++) {
		e = &r->v[i];
		if (e->state == MIG_PENDING) {
			n = fprintf(fp, "%-*s  %s\n", (int)w, e->file,
			    mig_state_name(e->state));
			continue;
		}
		n = fprintf(fp, "%-*s  %-8s", (int)w, e->file,
		    mig_state_name(e->state));
		if (n < 0)
			break;
		if (e->state == MIG_APPLIED)
			n = fprintf(fp, "  %s  (%lld ms)\n", e->applied_at,
			    e->duration_ms);
		else if (e->state == MIG_MODIFIED &&
		    strcmp(e->sum_file, e->sum_db) == 0)
			n = fprintf(fp, "  applied as %s\n", e->name_db);
		else if (e->state == MIG_MODIFIED)
			n = fprintf(fp, "  file sha256 %s != applied %s\n",
			    e->sum_file, e->sum_db);
		else
			n = fprintf(fp, "  applied %s, no file\n",
			    e->applied_at);
	}
	return n < 0 || fflush(fp) == EOF ? -1 : 0;
}

/*
 * Refuse to migrate over a history that does not match the files: any
 * modified or missing entry, or a pending file older than the newest
 * applied one.  0 or -1 with err naming the file.
 */
static int
check_history(const struct mig_report *r, const char *dir, char *err,
    size_t errlen)
{
	const struct mig_entry *e, *last = NULL;
	size_t i;

	for (i = 0; i < r->n; i++) {
		e = &r->v[i];
		if (e->state == MIG_MODIFIED &&
		    strcmp(e->sum_file, e->sum_db) == 0)
			return errfmt(err, errlen, "migration %s/%s was applied "
			    "under the name %s; file names must not change",
			    dir, e->file, e->name_db);
		if (e->state == MIG_MODIFIED)
			return errfmt(err, errlen, "migration %s/%s was changed "
			    "after it was applied: file sha256 %s, applied "
			    "sha256 %s; add a new migration instead", dir,
			    e->file, e->sum_file, e->sum_db);
		if (e->state == MIG_MISSING)
			return errfmt(err, errlen, "migration %s (version %lld) "
			    "is applied but missing from %s", e->file,
			    e->version, dir);
		if (e->state != MIG_PENDING)
			last = e;
	}
	for (i = 0; last && i < r->n; i++) {
		e = &r->v[i];
		if (e->state == MIG_PENDING && e->version < last->version)
			return errfmt(err, errlen, "migration %s/%s is pending "
			    "but older than applied %s; renumber it after %s",
			    dir, e->file, last->file, last->file);
	}
	return 0;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Record f as applied, inside the open transaction.  0 or -1 with err. */
static int
insert_row(PGconn *conn, const struct mfile *f, long long ms, char *err,
    size_t errlen)
{
	char vbuf[32], dbuf[32], msg[MIG_ERR_MAX];
	const char *params[4] = { vbuf, f->name, f->sum, dbuf };
	PGresult *res;

	snprintf(vbuf, sizeof(vbuf), "%lld", f->version);
	snprintf(dbuf, sizeof(dbuf), "%lld", ms);
	res = PQexecParams(conn, "INSERT INTO schema_migrations (version, "
	    "name, checksum, duration_ms) VALUES ($1, $2, $3, $4)", 4, NULL,
	    params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		errfmt(err, errlen, "migration %s: recording it: %s", f->name,
		    pg_msg(conn, res, msg, sizeof(msg)));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

/*
 * A file that started COPY (there is no data to give it): end the copy so
 * the session is usable again, and drop what the server sends back.
 */
static void
copy_abort(PGconn *conn, ExecStatusType st)
{
	PGresult *res;
	char *buf;

	if (st == PGRES_COPY_IN)
		PQputCopyEnd(conn, "COPY is not supported in migrations");
	else if (st == PGRES_COPY_OUT)
		while (PQgetCopyData(conn, &buf, 0) > 0)
			PQfreemem(buf);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

/*
 * Apply one file in its own transaction with its schema_migrations row.
 * On failure everything it did is rolled back.  0 or -1 with err.
 */
static int
apply_one(PGconn *conn, const char *dir, const struct mfile *f, char *err,
    size_t errlen)
{
	char msg[MIG_ERR_MAX];
	PGresult *res;
	ExecStatusType st;
	double t0;

	if (exec_cmd(conn, "BEGIN", "BEGIN", err, errlen) == -1)
		return -1;
	t0 = now_ms();
	res = PQexec(conn, f->sql);
	st = PQresultStatus(res);
	if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
		copy_abort(conn, st);
		errfmt(err, errlen, "migration %s/%s failed, rolled back: COPY "
		    "is not supported in migrations", dir, f->name);
		goto fail;
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY) {
		errfmt(err, errlen, "migration %s/%s failed, rolled back: %s",
		    dir, f->name, pg_msg(conn, res, msg, sizeof(msg)));
		goto fail;
	}
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		errfmt(err, errlen, "migration %s/%s ended the transaction "
		    "(COMMIT or ROLLBACK inside the file): not recorded; "
		    "migrations must not control transactions", dir, f->name);
		goto fail;
	}
	PQclear(res);
	res = NULL;
	if (insert_row(conn, f, (long long)(now_ms() - t0), err, errlen) == -1)
		goto fail;
	if (exec_cmd(conn, "COMMIT", "COMMIT", msg, sizeof(msg)) == -1) {
		errfmt(err, errlen, "migration %s/%s: %s", dir, f->name, msg);
		goto fail;
	}
	return 0;
fail:
	PQclear(res);
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

/* Under the lock: make the table, compare, apply what is pending. */
static int
up_locked(PGconn *conn, const char *dir, const struct mfiles *fs,
    int *applied, char *err, size_t errlen)
{
	struct mig_report r;
	size_t i, k = 0;
	int rc;

	if (exec_cmd(conn, create_table_sql, "creating schema_migrations", err,
	    errlen) == -1)
		return -1;
	if (load_report(conn, fs, 1, &r, err, errlen) == -1)
		return -1;
	rc = check_history(&r, dir, err, errlen);
	for (i = 0; rc == 0 && i < r.n; i++) {
		if (r.v[i].state != MIG_PENDING)
			continue;
		/* Files and pending entries are both in version order. */
		while (fs->v[k].version != r.v[i].version)
			k++;
		if ((rc = apply_one(conn, dir, &fs->v[k], err, errlen)) == 0)
			(*applied)++;
	}
	mig_report_free(&r);
	return rc;
}

int
mig_up(PGconn *conn, const char *dir, int *applied, char *err, size_t errlen)
{
	char key[32], msg[MIG_ERR_MAX];
	const char *params[1] = { key };
	struct mfiles fs;
	PGresult *res;
	int n = 0, rc;

	if (applied)
		*applied = 0;
	if (mfiles_load(dir, &fs, err, errlen) == -1) {
		mfiles_free(&fs);
		return -1;
	}
	snprintf(key, sizeof(key), "%" PRId64, MIG_LOCK_KEY);
	res = PQexecParams(conn, "SELECT pg_advisory_lock($1::bigint)", 1,
	    NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		errfmt(err, errlen, "taking the migration lock: %s",
		    pg_msg(conn, res, msg, sizeof(msg)));
		PQclear(res);
		mfiles_free(&fs);
		return -1;
	}
	PQclear(res);
	rc = up_locked(conn, dir, &fs, &n, err, errlen);
	PQclear(PQexecParams(conn, "SELECT pg_advisory_unlock($1::bigint)", 1,
	    NULL, params, NULL, NULL, 0));
	mfiles_free(&fs);
	if (applied)
		*applied = n;
	return rc;
}

static int
is_dir(const char *path)
{
	struct stat sb;

	return *path != '\0' && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Does this binary run from the build tree it was configured in? */
static int
in_build_tree(void)
{
	char exe[PATH_MAX], want[PATH_MAX], real[PATH_MAX];

	if (*AFU9_BUILD_TREE == '\0' || config_exe_dir(exe, sizeof(exe)) == -1)
		return 0;
	if ((size_t)snprintf(want, sizeof(want), "%s/orchestrator",
	    AFU9_BUILD_TREE) >= sizeof(want) || realpath(want, real) == NULL)
		return 0;
	return strcmp(exe, real) == 0;
}

/* opt, else env_dir, else the source tree's sub (a build-tree binary),
   else the installed one. */
static const char *
data_dir(const char *sub, const char *installed, const char *opt,
    const char *env_dir, char *buf, size_t len)
{
	char src[PATH_MAX];

	if (opt != NULL)
		snprintf(buf, len, "%s", opt);
	else if (env_dir != NULL && *env_dir != '\0')
		snprintf(buf, len, "%s", env_dir);
	else if (in_build_tree() && (size_t)snprintf(src, sizeof(src),
	    "%s/%s", AFU9_SOURCE_TREE, sub) < sizeof(src) && is_dir(src))
		snprintf(buf, len, "%s", src);
	else
		snprintf(buf, len, "%s", installed);
	return buf;
}

const char *
mig_dir(const char *opt, const char *env_dir, char *buf, size_t len)
{
	return data_dir("migrations", AFU9_MIGRATIONS_DATADIR, opt, env_dir,
	    buf, len);
}

const char *
mig_workflows_dir(const char *opt, const char *env_dir, char *buf,
    size_t len)
{
	return data_dir("workflows", AFU9_WORKFLOWS_DATADIR, opt, env_dir,
	    buf, len);
}

int
mig_apply(const char *conninfo, const char *dir, int *applied, char *err,
    size_t errlen)
{
	PGconn *conn;
	int rc;

	if (applied)
		*applied = 0;
	if (mig_connect(conninfo, &conn, err, errlen) == -1)
		return -1;
	rc = mig_up(conn, dir, applied, err, errlen);
	PQfinish(conn);
	return rc;
}
