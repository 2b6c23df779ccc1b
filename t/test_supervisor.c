#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "log.h"
#include "testutil.h"
#include "proc/supervisor.h"

#define TMO	3000
#define MAXREC	256

/* What one child's callbacks saw. */
struct line {
	char	*s;
	size_t	 len;
	int	 flags;
};

struct rec {
	struct sup_child *c;
	int		 started, gone, closed_input, remove_on_gone;
	int		 in, out;
	pid_t		 pid;		/* at the last start */
	char		 cause[SUP_CAUSE_MAX];
	int		 lines_at_gone;
	double		 gone_at;
	enum sup_state	 states[MAXREC];
	int		 nstates;
	/* Each wait before a restart: delay, state, failures. */
	unsigned	 delays[MAXREC];
	enum sup_state	 waits[MAXREC];
	unsigned	 fails[MAXREC];
	int		 nwaits;
	struct line	 lines[64];
	int		 nlines;
};

static struct ev_loop	*loop;
static struct sup	*sup;
static ev_timer		 tick;

static void
tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
}

/* Run the loop until cond holds or ms (scaled under valgrind) pass. */
#define RUN_UNTIL(cond, ms) do {					\
	double dl_ = t_now_ms() + (double)(ms) * t_slow();		\
	while (!(cond) && t_now_ms() < dl_)				\
		ev_run(loop, EVRUN_ONCE);				\
} while (0)

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(0);
	ck_assert_ptr_nonnull(loop);
	ck_assert_ptr_nonnull(sup = sup_new(loop));
	ev_timer_init(&tick, tick_cb, 0.005, 0.005);
	ev_timer_start(loop, &tick);
}

/* The hard stop: kills and reaps what is left without any callback (the
   test's records may be gone already). */
static void
teardown(void)
{
	sup_free(sup);
	sup = NULL;
	ev_timer_stop(loop, &tick);
}

static void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->in = r->out = -1;
}

static void
rec_free(struct rec *r)
{
	int i;

	for (i = 0; i < r->nlines; i++)
		free(r->lines[i].s);
	if (r->in >= 0)
		close(r->in);
	if (r->out >= 0)
		close(r->out);
	r->in = r->out = -1;
}

static void
on_started(struct sup_child *c, int in, int out, void *arg)
{
	struct rec *r = arg;
	struct sup_info i;

	r->started++;
	if (r->in >= 0)
		close(r->in);
	if (r->out >= 0)
		close(r->out);
	r->in = in;
	r->out = out;
	sup_info(c, &i);
	r->pid = i.pid;
}

static void
on_close_input(struct sup_child *c, void *arg)
{
	struct rec *r = arg;

	r->closed_input++;
	if (r->in >= 0)
		close(r->in);
	r->in = -1;
}

static void
on_gone(struct sup_child *c, const char *cause, void *arg)
{
	struct rec *r = arg;

	r->gone++;
	snprintf(r->cause, sizeof(r->cause), "%s", cause);
	r->lines_at_gone = r->nlines;
	r->gone_at = t_now_ms();
	/* stdout stays open: what the child wrote is still to be read. */
	if (r->in >= 0)
		close(r->in);
	r->in = -1;
	if (r->remove_on_gone) {
		sup_remove(c);
		r->c = NULL;
	}
}

static void
on_state(struct sup_child *c, enum sup_state s, void *arg)
{
	struct rec *r = arg;
	struct sup_info i;

	if (r->nstates < MAXREC)
		r->states[r->nstates++] = s;
	if ((s == SUP_BACKOFF || s == SUP_FAILED) && r->nwaits < MAXREC) {
		sup_info(c, &i);
		r->delays[r->nwaits] = i.backoff_ms;
		r->waits[r->nwaits] = s;
		r->fails[r->nwaits] = i.failures;
		r->nwaits++;
	}
}

static void
on_line(struct sup_child *c, const char *s, size_t len, int flags, void *arg)
{
	struct rec *r = arg;
	struct line *l;

	ck_assert_int_lt(r->nlines, 64);
	l = &r->lines[r->nlines++];
	l->s = malloc(len + 1);
	memcpy(l->s, s, len);
	l->s[len] = '\0';
	l->len = len;
	l->flags = flags;
}

static const struct sup_cb all_cb = {
	.started = on_started,
	.close_input = on_close_input,
	.gone = on_gone,
	.state = on_state,
	.line = on_line,
};

static const char *
crashy(void)
{
	return t_builddir("t/crashy");
}

static void
spec_init(struct sup_spec *sp, const char *name, const char *const *argv,
    enum sup_policy policy)
{
	memset(sp, 0, sizeof(*sp));
	sp->name = name;
	sp->argv = argv;
	sp->policy = policy;
}

/* Add and start a child recording into r. */
static struct sup_child *
go(struct rec *r, const struct sup_spec *sp, const struct sup_cb *cb)
{
	char err[256] = "";

	r->c = sup_add(sup, sp, cb ? cb : &all_cb, r, err, sizeof(err));
	ck_assert_msg(r->c != NULL, "sup_add: %s", err);
	ck_assert_msg(sup_start(r->c, err, sizeof(err)) == 0, "sup_start: %s",
	    err);
	return r->c;
}

/* Everything the child writes to stdout until EOF. */
static char *
read_all(int fd)
{
	int eof;
	char *s = t_read_until(fd, NULL, TMO, &eof);

	ck_assert_msg(s != NULL && eof, "no EOF on the child's stdout");
	return s;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* Children of this process in state Z. */
static int
count_zombies(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], buf[512], *p, st;
	int n = 0, ppid;
	FILE *f;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %c %d", &st, &ppid) == 2 &&
		    ppid == (int)getpid() && st == 'Z')
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* --- tests --------------------------------------------------------------- */

START_TEST(test_echo_and_stop)
{
	const char *argv[] = { crashy(), "echo", NULL };
	struct sup_spec sp;
	struct sup_info i;
	struct rec r;
	char *l;

	rec_init(&r);
	spec_init(&sp, "echo", argv, SUP_ALWAYS);
	go(&r, &sp, NULL);
	sup_info(r.c, &i);
	ck_assert_int_eq(i.state, SUP_STARTING);
	ck_assert_int_gt(i.pid, 0);
	ck_assert_str_eq(i.name, "echo");
	ck_assert_str_eq(i.last_cause, "");
	RUN_UNTIL(r.started, TMO);
	ck_assert_int_eq(r.started, 1);
	sup_info(r.c, &i);
	ck_assert_int_eq(i.state, SUP_RUNNING);
	ck_assert_int_eq(i.pid, r.pid);
	ck_assert(i.started_at > 0);
	ck_assert_int_eq(fcntl(r.in, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	ck_assert_int_eq(fcntl(r.out, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	ck_assert_int_eq(t_write(r.in, "hello\n", 6), 0);
	l = t_read_line(r.out, TMO);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l, "hello");
	free(l);

	ck_assert_int_eq(sup_stop(r.c, 2000), 0);
	ck_assert_int_eq(r.closed_input, 1);
	ck_assert_int_eq(r.in, -1);
	sup_info(r.c, &i);
	ck_assert_int_eq(i.state, SUP_STOPPING);
	RUN_UNTIL(r.gone, TMO);
	ck_assert_int_eq(r.gone, 1);
	sup_info(r.c, &i);
	ck_assert_int_eq(i.state, SUP_STOPPED);
	ck_assert_int_eq(i.pid, 0);
	ck_assert_msg(strcmp(r.cause, "exited with status 0") == 0 ||
	    strcmp(r.cause, "killed by signal 15 (Terminated)") == 0,
	    "cause: %s", r.cause);
	ck_assert_str_eq(i.last_cause, r.cause);
	/* Stopped means stopped: nothing restarts it. */
	RUN_UNTIL(0, 100);
	ck_assert_int_eq(r.started, 1);
	ck_assert_int_eq(r.states[r.nstates - 1], SUP_STOPPED);
	ck_assert_int_eq(sup_active(sup), 0);
	rec_free(&r);
}
END_TEST

START_TEST(test_exit_causes)
{
	static const struct {
		const char	*mode, *arg, *cause;
	} t[] = {
		{ "exit", "3", "exited with status 3" },
		{ "exit", "0", "exited with status 0" },
		{ "signal", "9", "killed by signal 9 (Killed)" },
		{ "signal", "10", "killed by signal 10 (User defined signal 1)" },
		{ "signal", "15", "killed by signal 15 (Terminated)" },
	};
	struct rec r[5];
	struct sup_spec sp;
	struct sup_info i;
	size_t k;

	ck_assert_int_eq(SIGUSR1, 10);
	for (k = 0; k < 5; k++) {
		const char *argv[] = { crashy(), t[k].mode, t[k].arg, NULL };

		rec_init(&r[k]);
		spec_init(&sp, "causes", argv, SUP_NEVER);
		go(&r[k], &sp, NULL);
	}
	RUN_UNTIL(r[0].gone && r[1].gone && r[2].gone && r[3].gone &&
	    r[4].gone, TMO);
	for (k = 0; k < 5; k++) {
		ck_assert_int_eq(r[k].gone, 1);
		ck_assert_int_eq(r[k].started, 1);
		ck_assert_str_eq(r[k].cause, t[k].cause);
		sup_info(r[k].c, &i);
		ck_assert_int_eq(i.state, SUP_STOPPED);
		ck_assert_str_eq(i.last_cause, t[k].cause);
		rec_free(&r[k]);
	}
}
END_TEST

START_TEST(test_policies)
{
	const char *ok[] = { crashy(), "exit", "0", NULL };
	const char *bad[] = { crashy(), "exit", "4", NULL };
	struct rec r[4];
	struct sup_spec sp;
	struct sup_info i;
	int k;

	for (k = 0; k < 4; k++)
		rec_init(&r[k]);
	spec_init(&sp, "p", ok, SUP_ON_FAILURE);
	sp.backoff_base_ms = 60000;
	sp.backoff_max_ms = 60000;
	go(&r[0], &sp, NULL);		/* on-failure, exit 0: stays down */
	sp.argv = bad;
	go(&r[1], &sp, NULL);		/* on-failure, exit 4: restarts */
	sp.argv = ok;
	sp.policy = SUP_ALWAYS;
	go(&r[2], &sp, NULL);		/* always, exit 0: restarts */
	sp.argv = bad;
	sp.policy = SUP_NEVER;
	go(&r[3], &sp, NULL);		/* never, exit 4: stays down */
	RUN_UNTIL(r[0].gone && r[1].gone && r[2].gone && r[3].gone, TMO);
	sup_info(r[0].c, &i);
	ck_assert_int_eq(i.state, SUP_STOPPED);
	sup_info(r[1].c, &i);
	ck_assert_int_eq(i.state, SUP_BACKOFF);
	ck_assert_uint_eq(i.backoff_ms, 60000);
	ck_assert_uint_eq(i.failures, 1);
	sup_info(r[2].c, &i);
	ck_assert_int_eq(i.state, SUP_BACKOFF);
	sup_info(r[3].c, &i);
	ck_assert_int_eq(i.state, SUP_STOPPED);
	ck_assert_str_eq(i.last_cause, "exited with status 4");

	/* Stopping a waiting child cancels the restart. */
	ck_assert_int_eq(sup_stop(r[1].c, 0), 0);
	sup_info(r[1].c, &i);
	ck_assert_int_eq(i.state, SUP_STOPPED);
	/* Starting a waiting child starts it at once. */
	ck_assert_int_eq(sup_start(r[2].c, NULL, 0), 0);
	RUN_UNTIL(r[2].gone == 2, TMO);
	ck_assert_int_eq(r[2].started, 2);
	for (k = 0; k < 4; k++)
		rec_free(&r[k]);
}
END_TEST

START_TEST(test_exec_failures)
{
	const char *missing[] = { "/nonexistent/afu9-nope", NULL };
	const char *bare[] = { "afu9-no-such-program-anywhere", NULL };
	const char *noexec[] = { t_srcdir("Makefile.am"), NULL };
	const char *cwd[] = { crashy(), "exit", "0", NULL };
	const char *viapath[] = { "sh", "-c", "exit 5", NULL };
	const char *wrongpath[] = { "PATH=/nonexistent-afu9-dir", NULL };
	struct rec r[6];
	struct sup_spec sp;
	int k;

	for (k = 0; k < 6; k++)
		rec_init(&r[k]);
	spec_init(&sp, "missing", missing, SUP_NEVER);
	go(&r[0], &sp, NULL);
	sp.argv = bare;
	go(&r[1], &sp, NULL);
	sp.argv = noexec;
	go(&r[2], &sp, NULL);
	sp.argv = cwd;
	sp.cwd = "/nonexistent-afu9-dir";
	go(&r[3], &sp, NULL);
	sp.argv = viapath;
	sp.cwd = NULL;
	go(&r[4], &sp, NULL);
	/* A bare name is searched in the child's PATH, not afu9's. */
	sp.env = wrongpath;
	go(&r[5], &sp, NULL);
	RUN_UNTIL(r[0].gone && r[1].gone && r[2].gone && r[3].gone &&
	    r[4].gone && r[5].gone, TMO);
	ck_assert_str_eq(r[0].cause, "exec failed: No such file or directory");
	ck_assert_str_eq(r[1].cause, "exec failed: No such file or directory");
	ck_assert_str_eq(r[2].cause, "exec failed: Permission denied");
	ck_assert_str_eq(r[3].cause, "chdir to /nonexistent-afu9-dir failed: "
	    "No such file or directory");
	ck_assert_str_eq(r[4].cause, "exited with status 5");
	ck_assert_str_eq(r[5].cause, "exec failed: No such file or directory");
	ck_assert_int_eq(r[5].started, 0);
	for (k = 0; k < 4; k++) {
		ck_assert_int_eq(r[k].started, 0);
		ck_assert_int_eq(r[k].states[r[k].nstates - 1], SUP_STOPPED);
	}
	ck_assert_int_eq(r[4].started, 1);
	for (k = 0; k < 6; k++)
		rec_free(&r[k]);
}
END_TEST

START_TEST(test_exec_failure_restarts)
{
	const char *missing[] = { "/nonexistent/afu9-nope", NULL };
	struct sup_spec sp;
	struct sup_info i;
	struct rec r;

	rec_init(&r);
	spec_init(&sp, "missing", missing, SUP_ON_FAILURE);
	sp.backoff_base_ms = 1;
	sp.backoff_max_ms = 1;
	sp.crashloop = 3;
	go(&r, &sp, NULL);
	RUN_UNTIL(r.gone >= 4, TMO);
	ck_assert_int_ge(r.gone, 4);
	sup_info(r.c, &i);
	ck_assert_int_eq(i.crashloop, 1);
	ck_assert_int_ge(i.restarts, 3);
	ck_assert_str_eq(i.last_cause, "exec failed: No such file or directory");
	ck_assert_int_eq(r.started, 0);
	rec_free(&r);
}
END_TEST

START_TEST(test_cwd)
{
	const char *argv[] = { crashy(), "cwd", NULL };
	struct sup_spec sp;
	struct rec r;
	char *s;

	rec_init(&r);
	spec_init(&sp, "cwd", argv, SUP_NEVER);
	sp.cwd = "/";
	go(&r, &sp, NULL);
	RUN_UNTIL(r.started, TMO);
	ck_assert_int_eq(r.started, 1);
	s = read_all(r.out);
	ck_assert_str_eq(s, "/\n");
	free(s);
	RUN_UNTIL(r.gone, TMO);
	ck_assert_str_eq(r.cause, "exited with status 0");
	rec_free(&r);
}
END_TEST

/* The child's environment is the spec's env, exactly: nothing of the
   supervisor's own leaks in (config_build_env() in conf/ decides what
   passes through; t/test_config tests it). */
START_TEST(test_env_exact)
{
	const char *argv[] = { crashy(), "env", NULL };
	const char *env[] = { "FOO=bar baz", "AFU9_T_OVER=spec", "EMPTY=",
	    NULL };
	struct sup_spec sp;
	struct rec r;
	char *s;

	setenv("AFU9_T_SECRET", "must-not-leak", 1);
	setenv("AFU9_T_OVER", "parent", 1);
	rec_init(&r);
	spec_init(&sp, "env", argv, SUP_NEVER);
	sp.env = env;
	go(&r, &sp, NULL);
	RUN_UNTIL(r.started, TMO);
	ck_assert_int_eq(r.started, 1);
	s = read_all(r.out);
	ck_assert_str_eq(s, "FOO=bar baz\nAFU9_T_OVER=spec\nEMPTY=\n");
	free(s);
	RUN_UNTIL(r.gone, TMO);
	rec_free(&r);
	unsetenv("AFU9_T_SECRET");
	unsetenv("AFU9_T_OVER");
}
END_TEST

START_TEST(test_fds_closed)
{
	const char *argv[] = { crashy(), "fds", NULL };
	struct sup_spec sp;
	struct rec r;
	int leak, pp[2], high;
	char *s;

	/* Inheritable fds in the parent, low and high. */
	ck_assert_int_ge(leak = open("/dev/null", O_RDONLY), 0);
	ck_assert_int_eq(pipe(pp), 0);
	ck_assert_int_eq(high = dup2(leak, 200), 200);
	rec_init(&r);
	spec_init(&sp, "fds", argv, SUP_NEVER);
	go(&r, &sp, NULL);
	RUN_UNTIL(r.started, TMO);
	ck_assert_int_eq(r.started, 1);
	s = read_all(r.out);
	ck_assert_str_eq(s, "0,1,2\n");
	free(s);
	RUN_UNTIL(r.gone, TMO);
	ck_assert_str_eq(r.cause, "exited with status 0");
	close(leak);
	close(pp[0]);
	close(pp[1]);
	close(high);
	rec_free(&r);
}
END_TEST

START_TEST(test_pgid_and_signals)
{
	const char *pg[] = { crashy(), "pgid", NULL };
	const char *ss[] = { crashy(), "sigstate", NULL };
	struct sup_spec sp;
	struct rec r[2];
	sigset_t usr1, old;
	int pid, pgid;
	char *s;

	/* What a child must not inherit: an ignored and a blocked signal. */
	signal(SIGINT, SIG_IGN);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	rec_init(&r[0]);
	rec_init(&r[1]);
	spec_init(&sp, "pgid", pg, SUP_NEVER);
	go(&r[0], &sp, NULL);
	sp.argv = ss;
	go(&r[1], &sp, NULL);
	RUN_UNTIL(r[0].started && r[1].started, TMO);
	ck_assert_int_eq(r[0].started + r[1].started, 2);
	s = read_all(r[0].out);
	ck_assert_int_eq(sscanf(s, "%d %d", &pid, &pgid), 2);
	free(s);
	ck_assert_int_eq(pid, r[0].pid);
	ck_assert_int_eq(pgid, pid);
	ck_assert_int_ne(pgid, getpgid(0));
	s = read_all(r[1].out);
	ck_assert_str_eq(s, "blk=0000000000000000 ign=0000000000000000\n");
	free(s);
	RUN_UNTIL(r[0].gone && r[1].gone, TMO);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGINT, SIG_DFL);
	rec_free(&r[0]);
	rec_free(&r[1]);
}
END_TEST

START_TEST(test_stderr_lines)
{
	const char *argv[] = { crashy(), "stderr-long", "20000", NULL };
	struct sup_spec sp;
	struct rec r;
	char *x;

	rec_init(&r);
	spec_init(&sp, "lines", argv, SUP_NEVER);
	go(&r, &sp, NULL);
	RUN_UNTIL(r.gone, TMO);
	ck_assert_int_eq(r.gone, 1);
	ck_assert_int_eq(r.nlines, 6);
	ck_assert_int_eq(r.lines_at_gone, 6);	/* lines first, then gone */
	ck_assert_str_eq(r.lines[0].s, "one");	/* '\r' stripped */
	ck_assert_int_eq(r.lines[0].flags, 0);
	ck_assert_str_eq(r.lines[1].s, "two");
	ck_assert_int_eq(r.lines[1].flags, 0);
	x = malloc(8193);
	memset(x, 'x', 8192);
	x[8192] = '\0';
	ck_assert_uint_eq(r.lines[2].len, SUP_DEFAULT_MAX_LINE);
	ck_assert_str_eq(r.lines[2].s, x);
	ck_assert_int_eq(r.lines[2].flags, SUP_LINE_SPLIT);
	ck_assert_uint_eq(r.lines[3].len, SUP_DEFAULT_MAX_LINE);
	ck_assert_int_eq(r.lines[3].flags, SUP_LINE_SPLIT | SUP_LINE_CONT);
	ck_assert_uint_eq(r.lines[4].len, 20000 - 2 * 8192);
	ck_assert_int_eq(r.lines[4].flags, SUP_LINE_CONT);
	ck_assert_str_eq(r.lines[5].s, "tail");
	ck_assert_int_eq(r.lines[5].flags, SUP_LINE_PARTIAL);
	free(x);
	rec_free(&r);
}
END_TEST

/* A cut never splits a UTF-8 sequence. */
START_TEST(test_stderr_utf8_cut)
{
	char text[128];
	const char *argv[] = { crashy(), "stderr", text, NULL };
	struct sup_spec sp;
	struct rec r;

	memset(text, 'a', 63);
	strcpy(text + 63, "\xc3\xa9" "b\\n" "\xc3\xa9" "\\nlast");
	rec_init(&r);
	spec_init(&sp, "utf8", argv, SUP_NEVER);
	sp.max_line = 64;
	go(&r, &sp, NULL);
	RUN_UNTIL(r.gone, TMO);
	ck_assert_int_eq(r.nlines, 4);
	ck_assert_uint_eq(r.lines[0].len, 63);
	ck_assert_int_eq(r.lines[0].flags, SUP_LINE_SPLIT);
	ck_assert_str_eq(r.lines[1].s, "\xc3\xa9" "b");
	ck_assert_int_eq(r.lines[1].flags, SUP_LINE_CONT);
	ck_assert_str_eq(r.lines[2].s, "\xc3\xa9");
	ck_assert_int_eq(r.lines[2].flags, 0);
	ck_assert_str_eq(r.lines[3].s, "last");
	ck_assert_int_eq(r.lines[3].flags, SUP_LINE_PARTIAL);
	rec_free(&r);
}
END_TEST

static json_t *
log_next(int fd)
{
	char *l = t_read_line(fd, TMO);
	json_t *j;

	ck_assert_msg(l != NULL, "no log line");
	j = json_loads(l, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", l);
	free(l);
	return j;
}

static const char *
jstr(const json_t *o, const char *path1, const char *path2)
{
	const json_t *v = json_object_get(o, path1);

	if (path2 != NULL)
		v = json_object_get(v, path2);
	return json_string_value(v);
}

/* The default sink: plain lines at info, JSON log lines passed through. */
START_TEST(test_stderr_default_log)
{
	const char *argv[] = { crashy(), "stderr",
	    "{\"level\":\"warn\",\"msg\":\"disk low\",\"fields\":{\"pct\":91}}"
	    "\\nplain text\\n{\"level\":\"debug\",\"msg\":\"hidden\"}\\n"
	    "{\"level\":\"bogus\",\"msg\":\"odd\"}\\n{\"no\":\"msg\"}\\nend",
	    NULL };
	struct sup_cb cb = all_cb;
	struct sup_spec sp;
	struct rec r;
	int cap[2];
	json_t *j;

	ck_assert_int_eq(pipe2(cap, O_CLOEXEC), 0);
	unsetenv("AFU9_LOG_LEVEL");
	unsetenv("AFU9_LOG_FORMAT");
	log_set_fd(cap[1]);
	log_init("test");
	cb.line = NULL;
	rec_init(&r);
	spec_init(&sp, "jsonkid", argv, SUP_NEVER);
	go(&r, &sp, &cb);
	RUN_UNTIL(r.gone, TMO);
	log_set_fd(2);
	close(cap[1]);

	j = log_next(cap[0]);
	ck_assert_str_eq(jstr(j, "level", NULL), "warn");
	ck_assert_str_eq(jstr(j, "component", NULL), "jsonkid");
	ck_assert_str_eq(jstr(j, "msg", NULL), "disk low");
	ck_assert_str_eq(jstr(j, "fields", "stream"), "stderr");
	ck_assert_int_eq(json_integer_value(json_object_get(
	    json_object_get(j, "fields"), "pct")), 91);
	json_decref(j);
	j = log_next(cap[0]);
	ck_assert_str_eq(jstr(j, "level", NULL), "info");
	ck_assert_str_eq(jstr(j, "msg", NULL), "plain text");
	ck_assert_str_eq(jstr(j, "fields", "stream"), "stderr");
	json_decref(j);
	/* The debug line is below the level: dropped. */
	j = log_next(cap[0]);
	ck_assert_str_eq(jstr(j, "level", NULL), "info");
	ck_assert_str_eq(jstr(j, "msg", NULL), "odd");
	json_decref(j);
	j = log_next(cap[0]);
	ck_assert_str_eq(jstr(j, "msg", NULL), "{\"no\":\"msg\"}");
	json_decref(j);
	j = log_next(cap[0]);
	ck_assert_str_eq(jstr(j, "msg", NULL), "end");
	ck_assert(json_is_true(json_object_get(json_object_get(j, "fields"),
	    "partial")));
	json_decref(j);
	close(cap[0]);
	rec_free(&r);
}
END_TEST

START_TEST(test_backoff_and_crashloop)
{
	const char *argv[] = { crashy(), "exit", "1", NULL };
	static const unsigned want[] = { 10, 20, 40, 40, 40, 40 };
	struct sup_spec sp;
	struct sup_info i;
	struct rec r;
	int k;

	rec_init(&r);
	spec_init(&sp, "loop", argv, SUP_ALWAYS);
	sp.backoff_base_ms = 10;
	sp.backoff_max_ms = 40;
	sp.crashloop = 3;
	go(&r, &sp, NULL);
	RUN_UNTIL(r.nwaits >= 6, TMO);
	ck_assert_int_ge(r.nwaits, 6);
	for (k = 0; k < 6; k++) {
		ck_assert_uint_eq(r.delays[k], want[k]);
		ck_assert_uint_eq(r.fails[k], (unsigned)k + 1);
		/* Crash loop from the third failure on; retries go on. */
		ck_assert_int_eq(r.waits[k], k < 2 ? SUP_BACKOFF : SUP_FAILED);
	}
	ck_assert_int_ge(r.started, 6);
	sup_info(r.c, &i);
	ck_assert_int_eq(i.crashloop, 1);
	ck_assert_uint_ge(i.restarts, 5);
	ck_assert_str_eq(i.last_cause, "exited with status 1");
	sup_stop(r.c, 0);
	RUN_UNTIL(sup_active(sup) == 0, TMO);
	sup_info(r.c, &i);
	ck_assert_int_eq(i.state, SUP_STOPPED);
	rec_free(&r);
}
END_TEST

START_TEST(test_backoff_resets_after_healthy_run)
{
	char file[] = "/tmp/afu9-sup-runs-XXXXXX";
	/* Runs 1-2 crash at once, run 3 lives 1.5 s (healthy), and so on;
	   healthy_ms leaves a quick crash room for a slow exec (sanitizers,
	   a loaded machine) without counting it as healthy. */
	const char *argv[] = { crashy(), "runs", file, "3", "1500", NULL };
	static const unsigned want[] = { 10, 20, 10, 20 };
	static const enum sup_state wstate[] = { SUP_BACKOFF, SUP_FAILED,
	    SUP_BACKOFF, SUP_FAILED };
	struct sup_spec sp;
	struct rec r;
	int fd, k;

	ck_assert_int_ge(fd = mkstemp(file), 0);
	close(fd);
	rec_init(&r);
	spec_init(&sp, "reset", argv, SUP_ALWAYS);
	sp.backoff_base_ms = 10;
	sp.backoff_max_ms = 10000;
	sp.healthy_ms = 600;
	sp.crashloop = 2;
	go(&r, &sp, NULL);
	RUN_UNTIL(r.nwaits >= 4, 3 * TMO);
	sup_stop(r.c, 0);
	unlink(file);
	ck_assert_int_ge(r.nwaits, 4);
	for (k = 0; k < 4; k++) {
		ck_assert_uint_eq(r.delays[k], want[k]);
		ck_assert_int_eq(r.waits[k], wstate[k]);
	}
	rec_free(&r);
}
END_TEST

START_TEST(test_stop_grace_kills)
{
	const char *ign[] = { crashy(), "ignterm", NULL };
	const char *slp[] = { crashy(), "sleep", "20000", NULL };
	struct sup_spec sp;
	struct sup_info i;
	struct rec r[2];
	double t0;
	char *l;

	rec_init(&r[0]);
	rec_init(&r[1]);
	spec_init(&sp, "stubborn", ign, SUP_ALWAYS);
	go(&r[0], &sp, NULL);
	sp.argv = slp;
	go(&r[1], &sp, NULL);
	RUN_UNTIL(r[0].started && r[1].started, TMO);
	ck_assert_int_eq(r[0].started + r[1].started, 2);
	l = t_read_line(r[0].out, TMO);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l, "ready");
	free(l);

	t0 = t_now_ms();
	sup_stop(r[0].c, 300);
	sup_stop(r[1].c, 20000);
	RUN_UNTIL(r[0].gone && r[1].gone, TMO);
	ck_assert_str_eq(r[0].cause, "killed by signal 9 (Killed)");
	ck_assert_msg(r[0].gone_at - t0 >= 250, "SIGKILL before the grace: "
	    "%.0f ms", r[0].gone_at - t0);
	ck_assert_str_eq(r[1].cause, "killed by signal 15 (Terminated)");
	sup_info(r[0].c, &i);
	ck_assert_int_eq(i.state, SUP_STOPPED);
	RUN_UNTIL(0, 50);
	ck_assert_int_eq(r[0].started, 1);
	ck_assert_int_eq(r[1].started, 1);
	rec_free(&r[0]);
	rec_free(&r[1]);
}
END_TEST

START_TEST(test_restart_and_kill)
{
	const char *argv[] = { crashy(), "echo", NULL };
	struct sup_spec sp;
	struct sup_info i;
	struct rec r;
	pid_t first;
	char *l;

	rec_init(&r);
	spec_init(&sp, "live", argv, SUP_NEVER);
	sp.backoff_base_ms = 10;
	go(&r, &sp, NULL);
	RUN_UNTIL(r.started, TMO);
	first = r.pid;
	/* Liveness failure: restart whatever the policy. */
	ck_assert_int_eq(sup_restart(r.c), 0);
	RUN_UNTIL(r.started == 2, TMO);
	ck_assert_int_eq(r.started, 2);
	ck_assert_str_eq(r.cause, "killed by signal 9 (Killed)");
	ck_assert_int_ne(r.pid, first);
	sup_info(r.c, &i);
	ck_assert_uint_eq(i.restarts, 1);
	ck_assert_int_eq(t_write(r.in, "again\n", 6), 0);
	l = t_read_line(r.out, TMO);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l, "again");
	free(l);
	/* A signal of the owner's choice; policy never: stays down. */
	ck_assert_int_eq(sup_kill(r.c, SIGUSR1), 0);
	RUN_UNTIL(r.gone == 2, TMO);
	ck_assert_str_eq(r.cause, "killed by signal 10 (User defined signal 1)");
	sup_info(r.c, &i);
	ck_assert_int_eq(i.state, SUP_STOPPED);
	errno = 0;
	ck_assert_int_eq(sup_kill(r.c, SIGTERM), -1);
	ck_assert_int_eq(errno, ESRCH);
	/* A stopped child restarts at once. */
	ck_assert_int_eq(sup_restart(r.c), 0);
	ck_assert_int_ne(sup_start(r.c, NULL, 0), 0);	/* busy */
	RUN_UNTIL(r.started == 3, TMO);
	ck_assert_int_eq(r.started, 3);
	rec_free(&r);
}
END_TEST

/* A descendant holding stderr does not keep the child from being gone. */
START_TEST(test_linger_kills_group)
{
	const char *argv[] = { crashy(), "daemon", NULL };
	struct sup_spec sp;
	struct rec r;
	int gpid = 0;
	char *l;

	rec_init(&r);
	spec_init(&sp, "daemon", argv, SUP_NEVER);
	sp.linger_ms = 200;
	go(&r, &sp, NULL);
	RUN_UNTIL(r.started, TMO);
	l = t_read_line(r.out, TMO);
	ck_assert_ptr_nonnull(l);
	gpid = atoi(l);
	free(l);
	ck_assert_int_gt(gpid, 0);
	ck_assert(t_alive(gpid));
	RUN_UNTIL(r.gone, TMO);
	ck_assert_int_eq(r.gone, 1);
	ck_assert_str_eq(r.cause, "exited with status 0");
	RUN_UNTIL(!t_alive(gpid), TMO);
	ck_assert(!t_alive(gpid));
	rec_free(&r);
}
END_TEST

START_TEST(test_remove)
{
	const char *crash[] = { crashy(), "exit", "1", NULL };
	const char *slp[] = { crashy(), "sleep", "20000", NULL };
	struct sup_spec sp;
	struct rec r[2];

	rec_init(&r[0]);
	rec_init(&r[1]);
	/* Removed from inside its own gone callback. */
	r[0].remove_on_gone = 1;
	spec_init(&sp, "crash", crash, SUP_ALWAYS);
	sp.backoff_base_ms = 1;
	go(&r[0], &sp, NULL);
	sp.argv = slp;
	go(&r[1], &sp, NULL);
	RUN_UNTIL(r[0].gone && r[1].started, TMO);
	ck_assert_int_eq(r[0].gone, 1);
	ck_assert_ptr_null(r[0].c);
	ck_assert_int_eq(sup_active(sup), 1);
	/* Removed while running: killed, no callback after this. */
	sup_remove(r[1].c);
	RUN_UNTIL(sup_active(sup) == 0, TMO);
	ck_assert_int_eq(sup_active(sup), 0);
	RUN_UNTIL(0, 50);
	ck_assert_int_eq(r[0].started, 1);
	ck_assert_int_eq(r[1].gone, 0);
	rec_free(&r[0]);
	rec_free(&r[1]);
}
END_TEST

/* Without a `started` callback the pipes close at once: stdin EOF. */
START_TEST(test_no_owner_closes_pipes)
{
	const char *argv[] = { crashy(), "echo", NULL };
	struct sup_cb cb = all_cb;
	struct sup_spec sp;
	struct rec r;

	cb.started = NULL;
	rec_init(&r);
	spec_init(&sp, "orphan", argv, SUP_NEVER);
	go(&r, &sp, &cb);
	RUN_UNTIL(r.gone, TMO);
	ck_assert_int_eq(r.gone, 1);
	ck_assert_str_eq(r.cause, "exited with status 0");
	rec_free(&r);
}
END_TEST

START_TEST(test_cycles_leave_nothing)
{
	const char *argv[] = { crashy(), "exit", "1", NULL };
	struct sup_spec sp;
	struct sup_info i;
	struct rec r;
	int fds0;

	/* Warm up: libev opens its signal fds on first use. */
	rec_init(&r);
	spec_init(&sp, "cycle", argv, SUP_NEVER);
	go(&r, &sp, NULL);
	RUN_UNTIL(r.gone, TMO);
	sup_remove(r.c);
	rec_free(&r);
	fds0 = count_fds();

	rec_init(&r);
	spec_init(&sp, "cycle", argv, SUP_ALWAYS);
	sp.backoff_base_ms = 1;
	sp.backoff_max_ms = 1;
	sp.crashloop = 1000;
	go(&r, &sp, NULL);
	RUN_UNTIL(r.gone >= 101, 30000);	/* a deadline, not a timing */
	ck_assert_int_ge(r.gone, 101);
	sup_stop(r.c, 0);
	RUN_UNTIL(sup_active(sup) == 0, TMO);
	sup_info(r.c, &i);
	ck_assert_uint_ge(i.restarts, 100);
	ck_assert_int_eq(i.state, SUP_STOPPED);
	ck_assert_str_eq(i.last_cause, "exited with status 1");
	sup_remove(r.c);
	rec_free(&r);
	ck_assert_int_eq(count_fds(), fds0);
	ck_assert_int_eq(count_zombies(), 0);
}
END_TEST

START_TEST(test_spec_errors)
{
	const char *argv[] = { crashy(), NULL };
	const char *noarg[] = { NULL };
	const char *badenv[] = { "NOEQUALS", NULL };
	struct sup_spec sp;
	char err[256];
	struct ev_loop *other;

	spec_init(&sp, "bad", argv, SUP_ALWAYS);
	sp.env = badenv;
	ck_assert_ptr_null(sup_add(sup, &sp, NULL, NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "bad: env[0]: not NAME=value");
	sp.env = NULL;
	sp.backoff_base_ms = 200;
	sp.backoff_max_ms = 100;
	ck_assert_ptr_null(sup_add(sup, &sp, NULL, NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "bad: backoff base 200 ms above the cap 100 ms");
	sp.backoff_base_ms = sp.backoff_max_ms = 0;
	sp.max_line = SUP_LINE_MIN - 1;
	ck_assert_ptr_null(sup_add(sup, &sp, NULL, NULL, err, sizeof(err)));
	sp.max_line = SUP_LINE_MAX + 1;
	ck_assert_ptr_null(sup_add(sup, &sp, NULL, NULL, err, sizeof(err)));
	sp.max_line = 0;
	sp.argv = noarg;
	ck_assert_ptr_null(sup_add(sup, &sp, NULL, NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "bad: argv[0] missing");
	sp.argv = argv;
	sp.name = "";
	ck_assert_ptr_null(sup_add(sup, &sp, NULL, NULL, err, sizeof(err)));
	sp.name = "x123456789x123456789x123456789x123456789x123456789"
	    "x123456789x12345";
	ck_assert_ptr_null(sup_add(sup, &sp, NULL, NULL, err, sizeof(err)));
	sp.name = "ok";
	ck_assert_ptr_nonnull(sup_add(sup, &sp, NULL, NULL, err, sizeof(err)));

	other = ev_loop_new(0);
	errno = 0;
	ck_assert_ptr_null(sup_new(other));
	ck_assert_int_eq(errno, EINVAL);
	ev_loop_destroy(other);
	ck_assert_str_eq(sup_state_name(SUP_FAILED), "failed");
	ck_assert_str_eq(sup_state_name((enum sup_state)42), "unknown");
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("supervisor");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_echo_and_stop);
	tcase_add_test(tc, test_exit_causes);
	tcase_add_test(tc, test_policies);
	tcase_add_test(tc, test_exec_failures);
	tcase_add_test(tc, test_exec_failure_restarts);
	tcase_add_test(tc, test_cwd);
	tcase_add_test(tc, test_env_exact);
	tcase_add_test(tc, test_fds_closed);
	tcase_add_test(tc, test_pgid_and_signals);
	tcase_add_test(tc, test_stderr_lines);
	tcase_add_test(tc, test_stderr_utf8_cut);
	tcase_add_test(tc, test_stderr_default_log);
	tcase_add_test(tc, test_backoff_and_crashloop);
	tcase_add_test(tc, test_backoff_resets_after_healthy_run);
	tcase_add_test(tc, test_stop_grace_kills);
	tcase_add_test(tc, test_restart_and_kill);
	tcase_add_test(tc, test_linger_kills_group);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_no_owner_closes_pipes);
	tcase_add_test(tc, test_cycles_leave_nothing);
	tcase_add_test(tc, test_spec_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return t_run(suite());
}
