#include "config.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "pgquery.h"
#include "pgtest.h"
#include "testutil.h"

#define PGT_PORT	"5432"	/* only names the socket file in our dir */
#define PGT_USER	"afu9"
#define PGT_START_MS	60000	/* initdb + start, scaled by t_slow(); 35 s
				   was once too little on a machine whose
				   cores were all taken */
#define PGT_LOG_TAIL	1500

struct pgtest {
	char	dir[256];
	char	password[33];
	pid_t	keeper;
	int	ctl;		/* write end; its EOF tells the keeper to stop */
};

/* Who runs initdb and postgres: ourselves, or an unprivileged user. */
struct runas {
	int	drop;
	uid_t	uid;
	gid_t	gid;
};

static const char *
bindir(void)
{
	static const char *const cand[] = {
		"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
		"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/14/bin",
		"/usr/lib/postgresql/13/bin", "/usr/local/pgsql/bin",
	};
	static char path[512];
	const char *env = getenv("AFU9_PG_BINDIR");
	size_t i;

	if (env && *env)
		return env;
	for (i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		snprintf(path, sizeof(path), "%s/postgres", cand[i]);
		if (access(path, X_OK) == 0)
			return cand[i];
	}
	return NULL;
}

static int
runas_pick(struct runas *ra, char *err, size_t errlen)
{
	struct passwd *pw;

	memset(ra, 0, sizeof(*ra));
	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam("postgres")) == NULL &&
	    (pw = getpwnam("nobody")) == NULL) {
		snprintf(err, errlen, "running as root and neither user "
		    "\"postgres\" nor \"nobody\" exists");
		return -1;
	}
	ra->drop = 1;
	ra->uid = pw->pw_uid;
	ra->gid = pw->pw_gid;
	return 0;
}

/* Append the last PGT_LOG_TAIL bytes of a log file to msg. */
static void
log_tail(const char *path, char *msg, size_t len)
{
	char buf[PGT_LOG_TAIL + 1];
	size_t used = strlen(msg);
	ssize_t n;
	off_t end;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	end = lseek(fd, 0, SEEK_END);
	lseek(fd, end > PGT_LOG_TAIL ? end - PGT_LOG_TAIL : 0, SEEK_SET);
	n = read(fd, buf, PGT_LOG_TAIL);
	close(fd);
	if (n <= 0 || used >= len)
		return;
	buf[n] = '\0';
	snprintf(msg + used, len - used, "\n--- %s:\n%s", path, buf);
}

/*
 * In a child: drop privileges when asked, send stdout/stderr to logpath,
 * exec argv with a minimal environment.  Never returns.  pdeath: signal
 * the child gets when the keeper dies (0: none).
 */
static void __attribute__((noreturn))
child_exec(const struct runas *ra, const char *dir, const char *logpath,
    char *const argv[], int pdeath)
{
	char home[300];
	char *envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC",
	    home, NULL };
	pid_t parent = getppid();
	int fd;

	snprintf(home, sizeof(home), "HOME=%s", dir);
	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1)
		_exit(126);
	if (dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
		_exit(126);
	if ((fd = open("/dev/null", O_RDONLY)) != -1)
		dup2(fd, 0);
	if (ra->drop && (setgroups(0, NULL) == -1 || setgid(ra->gid) == -1 ||
	    setuid(ra->uid) == -1))
		_exit(126);
	/* After setuid: a credential change clears the death signal. */
	if (pdeath && (prctl(PR_SET_PDEATHSIG, pdeath) == -1 ||
	    getppid() != parent))
		_exit(126);
	if (chdir(dir) == -1)
		_exit(126);
	signal(SIGPIPE, SIG_DFL);
	execve(argv[0], argv, envp);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path) == -1 && errno != ENOENT ? -1 : 0;
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Run initdb to completion.  0, or -1 with err and the log's tail. */
static int
keeper_initdb(const struct runas *ra, const struct pgtest *pg,
    const char *bin, char *err, size_t errlen)
{
	char exe[600], data[300], pwfile[300], pwopt[320], logp[300];
	char *argv[] = { exe, "-D", data, "-U", PGT_USER,
	    "-A", "scram-sha-256", pwopt, "-E", "UTF8", "--locale=C",
	    "--no-sync", "--no-instructions", NULL };
	pid_t pid;
	int fd, status;

	snprintf(exe, sizeof(exe), "%s/initdb", bin);
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	snprintf(pwfile, sizeof(pwfile), "%s/pwfile", pg->dir);
	snprintf(pwopt, sizeof(pwopt), "--pwfile=%s", pwfile);
	snprintf(logp, sizeof(logp), "%s/initdb.log", pg->dir);
	if ((fd = open(pwfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1 || write(fd, pg->password, strlen(pg->password)) !=
	    (ssize_t)strlen(pg->password) || (ra->drop &&
	    fchown(fd, ra->uid, ra->gid) == -1)) {
		snprintf(err, errlen, "pgtest: writing %s: %s", pwfile,
		    strerror(errno));
		return -1;
	}
	close(fd);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "pgtest: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child_exec(ra, pg->dir, logp, argv, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	unlink(pwfile);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(err, errlen, "pgtest: %s failed (status 0x%x)", exe, status);
	log_tail(logp, err, errlen);
	return -1;
}

static pid_t
keeper_postgres(const struct runas *ra, const struct pgtest *pg,
    const char *bin, char *err, size_t errlen)
{
	char exe[600], data[300], sock[300], logp[300];
	char *argv[] = { exe, "-D", data,
	    "-c", "listen_addresses=", "-c", sock, "-c", "port=" PGT_PORT,
	    "-c", "fsync=off", "-c", "synchronous_commit=off",
	    "-c", "full_page_writes=off", "-c", "shared_buffers=16MB",
	    "-c", "max_connections=40", "-c", "autovacuum=off",
	    "-c", "wal_level=minimal", "-c", "max_wal_senders=0",
	    "-c", "logging_collector=off", "-c", "log_min_messages=warning",
	    "-c", "log_min_error_statement=panic", NULL };
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s/postgres", bin);
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	snprintf(sock, sizeof(sock), "unix_socket_directories=%s", pg->dir);
	snprintf(logp, sizeof(logp), "%s/server.log", pg->dir);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "pgtest: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child_exec(ra, pg->dir, logp, argv, SIGQUIT);
	return pid;
}

/* Wait until the server accepts connections.  0, or -1 with err. */
static int
keeper_wait_ready(const struct pgtest *pg, pid_t pid, char *err,
    size_t errlen)
{
	double deadline = t_now_ms() + (double)PGT_START_MS * t_slow();
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	char *ci = pgt_conninfo(pg, "postgres"), logp[300];
	int status, rc = -1;

	snprintf(logp, sizeof(logp), "%s/server.log", pg->dir);
	while (ci) {
		if (PQping(ci) == PQPING_OK) {
			rc = 0;
			break;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			snprintf(err, errlen, "pgtest: postgres exited "
			    "(status 0x%x)", status);
			break;
		}
		if (t_now_ms() > deadline) {
			snprintf(err, errlen, "pgtest: postgres not ready "
			    "after %d ms", PGT_START_MS * t_slow());
			break;
		}
		nanosleep(&tick, NULL);	/* no fd to wait on: poll */
	}
	if (ci == NULL)
		snprintf(err, errlen, "pgtest: out of memory");
	free(ci);
	if (rc == -1)
		log_tail(logp, err, errlen);
	return rc;
}

/* initdb and start the server; its pid, or -1 with err set. */
static pid_t
keeper_start(const struct pgtest *pg, char *err, size_t errlen)
{
	const char *bin = bindir();
	struct runas ra;
	pid_t pid;

	if (bin == NULL) {
		snprintf(err, errlen, "pgtest: PostgreSQL server binaries "
		    "not found (set AFU9_PG_BINDIR)");
		return -1;
	}
	if (runas_pick(&ra, err, errlen) == -1)
		return -1;
	if (ra.drop && chown(pg->dir, ra.uid, ra.gid) == -1) {
		snprintf(err, errlen, "pgtest: chown %s: %s", pg->dir,
		    strerror(errno));
		return -1;
	}
	if (keeper_initdb(&ra, pg, bin, err, errlen) == -1 ||
	    (pid = keeper_postgres(&ra, pg, bin, err, errlen)) == -1)
		return -1;
	if (keeper_wait_ready(pg, pid, err, errlen) == -1) {
		kill(pid, SIGQUIT);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		return -1;
	}
	return pid;
}

/*
 * A command from pgt_server_stop()/pgt_server_start(): 'S' stops the
 * server (fast shutdown: sessions end with an error; the data stays),
 * 'R' starts it again on the same socket.  Returns the server's pid, 0
 * while it is stopped on request.
 */
static pid_t
keeper_command(const struct pgtest *pg, char c, pid_t pid)
{
	const char *bin = bindir();
	struct runas ra;
	char err[4096];

	if (c == 'S' && pid > 0) {
		kill(pid, SIGINT);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		return 0;
	}
	if (c != 'R' || pid > 0 || bin == NULL ||
	    runas_pick(&ra, err, sizeof(err)) == -1)
		return pid;
	if ((pid = keeper_postgres(&ra, pg, bin, err, sizeof(err))) == -1)
		return 0;
	if (keeper_wait_ready(pg, pid, err, sizeof(err)) == -1) {
		kill(pid, SIGQUIT);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		return 0;
	}
	return pid;
}

/*
 * The keeper: start the server, report "ok" or the error on st (then
 * close it), wait for EOF on ctl or the server's death, clean up.  Never
 * returns.
 */
static void __attribute__((noreturn))
keeper(const struct pgtest *pg, int ctl, int st)
{
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	char err[4096], c;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	if ((pid = keeper_start(pg, err, sizeof(err))) == -1) {
		(void)!write(st, err, strlen(err));
		rm_tree(pg->dir);
		_exit(1);
	}
	(void)!write(st, "ok", 2);
	close(st);
	for (;;) {
		if (poll(&pfd, 1, 200) == 1) {
			if (read(ctl, &c, 1) <= 0)
				break;
			pid = keeper_command(pg, c, pid);
			continue;
		}
		if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid) {
			pid = -1;
			break;
		}
	}
	if (pid > 0) {
		kill(pid, SIGQUIT);	/* immediate shutdown: it is throwaway */
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	rm_tree(pg->dir);
	_exit(0);
}

/* Everything the keeper writes before it closes fd, within ms. */
static void
read_all(int fd, char *buf, size_t len, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	double deadline = t_now_ms() + ms;
	size_t used = 0;
	ssize_t n;

	buf[0] = '\0';
	while (used + 1 < len && t_now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - t_now_ms()) + 1) <= 0)
			continue;
		if ((n = read(fd, buf + used, len - used - 1)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
	}
}

/* In the keeper: keep fds 0-2, ctl and st (moved to 3 and 4) only. */
static int
keeper_fds(int *ctl, int *st)
{
	int c, s, fd, max = (int)sysconf(_SC_OPEN_MAX);

	if ((c = fcntl(*ctl, F_DUPFD, 10000)) == -1 ||
	    (s = fcntl(*st, F_DUPFD, 10001)) == -1)
		return -1;
	if (max < 0 || max > 10000)
		max = 10000;
	for (fd = 3; fd < max; fd++)
		close(fd);
	/* dup2 clears close-on-exec; initdb and postgres must not hold
	   these, or the test would not see EOF on st. */
	if (dup2(c, 3) == -1 || dup2(s, 4) == -1 ||
	    fcntl(3, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(4, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	close(c);
	close(s);
	*ctl = 3;
	*st = 4;
	return 0;
}

struct pgtest *
pgt_start(char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	struct pgtest *pg;
	int ctl[2], st[2], status;
	unsigned char rnd[16];
	char msg[4096];

	if ((pg = calloc(1, sizeof(*pg))) == NULL ||
	    sodium_init() < 0) {
		snprintf(err, errlen, "pgtest: out of memory");
		free(pg);
		return NULL;
	}
	snprintf(pg->dir, sizeof(pg->dir), "%s/afu9pg.XXXXXX",
	    tmp && *tmp && strlen(tmp) < 60 ? tmp : "/tmp");
	if (mkdtemp(pg->dir) == NULL) {
		snprintf(err, errlen, "pgtest: mkdtemp %s: %s", pg->dir,
		    strerror(errno));
		free(pg);
		return NULL;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(pg->password, sizeof(pg->password), rnd, sizeof(rnd));
	if (pipe2(ctl, O_CLOEXEC) == -1 || pipe2(st, O_CLOEXEC) == -1 ||
	    (pg->keeper = fork()) == -1) {
		snprintf(err, errlen, "pgtest: %s", strerror(errno));
		rmdir(pg->dir);
		free(pg);
		return NULL;
	}
	if (pg->keeper == 0) {
		close(ctl[1]);
		close(st[0]);
		if (keeper_fds(&ctl[0], &st[1]) == -1)
			_exit(1);
		keeper(pg, ctl[0], st[1]);
	}
	close(ctl[0]);
	close(st[1]);
	pg->ctl = ctl[1];
	read_all(st[0], msg, sizeof(msg), PGT_START_MS * t_slow() + 5000);
	close(st[0]);
	if (strcmp(msg, "ok") == 0)
		return pg;
	snprintf(err, errlen, "%s", *msg ? msg :
	    "pgtest: the keeper process said nothing");
	close(pg->ctl);
	while (waitpid(pg->keeper, &status, 0) == -1 && errno == EINTR)
		;
	free(pg);
	return NULL;
}

void
pgt_stop(struct pgtest *pg)
{
	int status;

	if (pg == NULL)
		return;
	close(pg->ctl);
	while (waitpid(pg->keeper, &status, 0) == -1 && errno == EINTR)
		;
	free(pg);
}

char *
pgt_conninfo(const struct pgtest *pg, const char *db)
{
	char *s;

	if (asprintf(&s, "host=%s port=" PGT_PORT " user=" PGT_USER
	    " password=%s dbname=%s connect_timeout=10", pg->dir,
	    pg->password, db) == -1)
		return NULL;
	return s;
}

const char *
pgt_password(const struct pgtest *pg)
{
	return pg->password;
}

const char *
pgt_dir(const struct pgtest *pg)
{
	return pg->dir;
}

struct pgtest *
pgt_start_db(const char *db)
{
	struct pgtest *pg;
	char e[4096];

	if ((pg = pgt_start(e, sizeof(e))) == NULL)
		fprintf(stderr, "%s\n", e);
	ck_assert_msg(pg != NULL, "throwaway PostgreSQL did not start");
	if (db != NULL)
		ck_assert_msg(pgt_createdb(pg, db, e, sizeof(e)) == 0, "%s", e);
	return pg;
}

int
pgt_createdb(const struct pgtest *pg, const char *db, char *err,
    size_t errlen)
{
	char *ci = pgt_conninfo(pg, "postgres"), sql[200];
	PGconn *conn;
	PGresult *res;
	int rc = -1;

	if (strspn(db, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(db) ||
	    strlen(db) == 0 || strlen(db) > 63) {
		snprintf(err, errlen, "pgtest: bad database name");
		free(ci);
		return -1;
	}
	conn = PQconnectdb(ci ? ci : "");
	free(ci);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "pgtest: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0 "
	    "STRATEGY file_copy", db);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		rc = 0;
	else
		snprintf(err, errlen, "pgtest: %s", PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(conn);
	return rc;
}

/* Send a keeper command; then wait until PQping says want (deadline). */
static int
server_ctl(struct pgtest *pg, char c, PGPing want, char *err, size_t errlen)
{
	double deadline = t_now_ms() + (double)PGT_START_MS * t_slow();
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	char *ci = pgt_conninfo(pg, "postgres");
	int rc = -1;

	if (ci == NULL || write(pg->ctl, &c, 1) != 1) {
		snprintf(err, errlen, "pgtest: %s", ci ? strerror(errno) :
		    "out of memory");
		free(ci);
		return -1;
	}
	while (rc == -1 && t_now_ms() < deadline) {
		if (PQping(ci) == want)
			rc = 0;
		else
			nanosleep(&tick, NULL);	/* no fd to wait on: poll */
	}
	if (rc == -1)
		snprintf(err, errlen, "pgtest: the server did not %s within "
		    "%d ms", c == 'S' ? "stop" : "start",
		    PGT_START_MS * t_slow());
	free(ci);
	return rc;
}

int
pgt_server_stop(struct pgtest *pg, char *err, size_t errlen)
{
	return server_ctl(pg, 'S', PQPING_NO_RESPONSE, err, errlen);
}

int
pgt_server_start(struct pgtest *pg, char *err, size_t errlen)
{
	return server_ctl(pg, 'R', PQPING_OK, err, errlen);
}

char *
pgt_use_db(const struct pgtest *pg, const char *db)
{
	char e[1024], *ci;

	ck_assert_msg(pgt_createdb(pg, db, e, sizeof(e)) == 0, "%s", e);
	ck_assert_ptr_nonnull(ci = pgt_conninfo(pg, db));
	setenv("DATABASE_URL", ci, 1);
	unsetenv("AFU9_MIGRATIONS_DIR");
	unsetenv("AFU9_MIGRATE");
	return ci;
}

PGresult *
q_res(const char *ci, const char *sql)
{
	PGconn *c = PQconnectdb(ci);
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK, "%.300s: %s", sql,
	    PQresultErrorMessage(r));
	PQfinish(c);
	return r;
}

void
q_do(const char *ci, const char *sql)
{
	PQclear(q_res(ci, sql));
}

char *
q_str(const char *ci, const char *sql)
{
	PGresult *r = q_res(ci, sql);
	char *s;

	ck_assert_msg(PQntuples(r) == 1 && PQnfields(r) >= 1, "%.300s: %d rows",
	    sql, PQntuples(r));
	ck_assert_ptr_nonnull(s = strdup(PQgetvalue(r, 0, 0)));
	PQclear(r);
	return s;
}

long long
q_int(const char *ci, const char *sql)
{
	char *s = q_str(ci, sql);
	long long n = atoll(s);

	free(s);
	return n;
}

void
q_wait(const char *ci, const char *sql, long long want, int deadline_ms)
{
	double end = t_now_ms() + deadline_ms * t_slow();
	long long n;

	while ((n = q_int(ci, sql)) != want) {
		ck_assert_msg(t_now_ms() < end, "%.300s: %lld, want %lld", sql,
		    n, want);
		usleep(20000);
	}
}

static char *
vsql(const char *fmt, va_list ap)
{
	char *sql;

	ck_assert_int_ne(vasprintf(&sql, fmt, ap), -1);
	return sql;
}

void
q_dof(const char *ci, const char *fmt, ...)
{
	va_list ap;
	char *sql;

	va_start(ap, fmt);
	sql = vsql(fmt, ap);
	va_end(ap);
	q_do(ci, sql);
	free(sql);
}

char *
q_strf(const char *ci, const char *fmt, ...)
{
	va_list ap;
	char *sql, *s;

	va_start(ap, fmt);
	sql = vsql(fmt, ap);
	va_end(ap);
	s = q_str(ci, sql);
	free(sql);
	return s;
}

long long
q_intf(const char *ci, const char *fmt, ...)
{
	va_list ap;
	char *sql;
	long long n;

	va_start(ap, fmt);
	sql = vsql(fmt, ap);
	va_end(ap);
	n = q_int(ci, sql);
	free(sql);
	return n;
}
