/*
 * supervisor: fork/exec, reap and restart child processes on one libev
 * loop (the model is tmux job.c for the fork, OpenBSD proc.c for the rest).
 *
 * Per process the parent holds four pipe ends: the child's stdin (write)
 * and stdout (read), handed to the owner once the exec is confirmed; its
 * stderr (read), kept here and split into lines; and a close-on-exec status
 * pipe that yields EOF when execve succeeded, or 8 bytes {stage, errno}
 * when the child failed before it.  "Gone" needs all of: reaped, stderr at
 * EOF, status pipe read.  Only then is the record's process cleared and the
 * restart decided, so an exit cause is always complete and no watcher is
 * left on a dead fd.
 *
 * Re-entrancy: every loop callback and every public call that may run an
 * owner callback holds `busy`; sup_remove() marks the record and the
 * outermost holder (or the gone event) frees it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "strv.h"
#include "utf8.h"
#include "proc/supervisor.h"

#define SUP_PATH_DIRS_MAX	256	/* $PATH elements tried */
#define SUP_PATH_LEN_MAX	4096
#define SUP_FD_SCAN_MAX		(1 << 20) /* last-resort close loop bound */
#define SUP_DRAIN_READS		16	/* reads when linger gives up */

/* Where the child failed before running the program. */
enum exec_stage {
	STAGE_OK = 0,
	STAGE_SETUP,		/* setpgid, fd moves */
	STAGE_CHDIR,
	STAGE_EXEC,
};

/* What the child writes to the status pipe on failure. */
struct exec_report {
	int32_t	stage;
	int32_t	err;
};

struct sup {
	struct ev_loop		*loop;
	LIST_HEAD(, sup_child)	 children;
};

struct sup_child {
	struct sup		*sup;
	LIST_ENTRY(sup_child)	 link;		/* in sup->children */

	/* The spec, deep copied. */
	char			*name;
	char			**argv;
	char			**env;		/* the child's whole environment */
	char			*cwd;
	enum sup_policy		 policy;
	unsigned		 base_ms, max_ms, healthy_ms, crashloop;
	unsigned		 linger_ms;
	size_t			 max_line;
	struct sup_cb		 cb;
	void			*arg;

	enum sup_state		 state;

	/* The current process; pid 0 when there is none. */
	pid_t			 pid;
	int			 reaped;
	int			 wstatus;
	int			 in_fd, out_fd;	/* ours until handed over */
	int			 err_fd;	/* stderr; -1 at EOF */
	int			 st_fd;		/* status pipe; -1 once read */
	struct exec_report	 report;
	int			 restart_now;	/* sup_restart(): restart */
	/* The exec paths, held here across fork() so that a child which
	   fails to exec still references them (leak checkers follow it). */
	char			**spawn_paths;
	double			 run_start;	/* ev_now() at RUNNING */
	ev_child		 cw;
	ev_io			 eio;		/* stderr */
	ev_io			 sio;		/* status pipe */
	ev_timer		 ktimer;	/* SIGKILL after the grace */
	ev_timer		 ltimer;	/* linger for stderr after reap */
	ev_timer		 htimer;	/* a healthy run */
	ev_timer		 rtimer;	/* backoff before a restart */

	/* Stderr line assembly: lbuf holds max_line + 1 bytes. */
	char			*lbuf;
	size_t			 llen;
	int			 lcont;		/* next piece continues a cut */

	unsigned		 restarts, failures, backoff_ms;
	int			 crashlooping;
	double			 started_at;
	char			 cause[SUP_CAUSE_MAX];

	int			 busy;
	int			 removed;
};

static const char *const state_names[] = {
	"stopped", "starting", "running", "backoff", "failed", "stopping",
};

/* --- strings ------------------------------------------------------------ */

/*
 * Deep copy of a NULL-terminated vector of at most max entries of at most
 * SUP_STR_MAX bytes each (NULL src gives an empty vector).  Returns a new
 * vector the caller frees with strv_free(), or NULL with err set.
 */
static char **
strv_copy(const char *const *src, size_t max, const char *what, char *err,
    size_t errlen)
{
	size_t n = strv_len(src), i;
	char **v;

	if (n > max) {
		errfmt(err, errlen, "%s: more than %zu entries", what, max);
		return NULL;
	}
	if ((v = calloc(n + 1, sizeof(*v))) == NULL) {
		errfmt(err, errlen, "%s: %s", what, strerror(errno));
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (strlen(src[i]) > SUP_STR_MAX) {
			errfmt(err, errlen, "%s[%zu]: longer than %u bytes",
			    what, i, SUP_STR_MAX);
			strv_free(v);
			return NULL;
		}
		if ((v[i] = strdup(src[i])) == NULL) {
			errfmt(err, errlen, "%s: %s", what, strerror(errno));
			strv_free(v);
			return NULL;
		}
	}
	return v;
}

/* The value of NAME in the "NAME=value" pairs, or NULL. */
static const char *
env_get(char *const *pairs, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; pairs != NULL && pairs[i] != NULL; i++)
		if (strncmp(pairs[i], name, len) == 0 && pairs[i][len] == '=')
			return pairs[i] + len + 1;
	return NULL;
}

/*
 * Paths execve() tries for prog: prog itself when it holds a '/', else
 * each element of the PATH in the child's environment env (an empty one
 * meaning "."; no PATH: /bin:/usr/bin) joined with prog, as execvp() does;
 * candidates longer than SUP_PATH_LEN_MAX are left out.  A new vector, or
 * NULL on ENOMEM.
 */
static char **
path_build(const char *prog, char *const *env)
{
	const char *path = env_get(env, "PATH"), *p, *e;
	char **v;
	size_t n = 0, dlen;

	if ((v = calloc(SUP_PATH_DIRS_MAX + 1, sizeof(*v))) == NULL)
		return NULL;
	if (strchr(prog, '/') != NULL) {
		if ((v[0] = strdup(prog)) == NULL)
			goto fail;
		return v;
	}
	if (path == NULL || *path == '\0')
		path = "/bin:/usr/bin";
	for (p = path; n < SUP_PATH_DIRS_MAX; p = e + 1) {
		if ((e = strchr(p, ':')) == NULL)
			e = p + strlen(p);
		dlen = (size_t)(e - p);
		if (dlen + strlen(prog) + 2 <= SUP_PATH_LEN_MAX &&
		    asprintf(&v[n++], "%.*s/%s", (int)(dlen ? dlen : 1),
		    dlen ? p : ".", prog) == -1) {
			v[--n] = NULL;
			goto fail;
		}
		if (*e == '\0')
			break;
	}
	return v;
fail:
	strv_free(v);
	return NULL;
}

/* --- the child side of fork(): async-signal-safe calls only ------------- */

struct spawn_ctx {
	int		 fds[3];	/* become 0, 1, 2 */
	int		 st;		/* status pipe, write end */
	char *const	*argv;
	char *const	*envp;
	char *const	*paths;
	const char	*cwd;
};

static void __attribute__((noreturn))
child_fail(int st, enum exec_stage stage, int err)
{
	struct exec_report r = { .stage = stage, .err = err };
	ssize_t n;

	do
		n = write(st, &r, sizeof(r));
	while (n == -1 && errno == EINTR);
	_exit(127);
}

#ifdef __linux__
struct dirent64_raw {
	uint64_t	d_ino;
	int64_t		d_off;
	unsigned short	d_reclen;
	unsigned char	d_type;
	char		d_name[];
};

/* Close every fd >= lowfd listed in /proc/self/fd.  0, or -1 if unread. */
static int
close_proc_fds(int lowfd)
{
	char buf[4096] __attribute__((aligned(8)));
	long n, off;
	int dfd, fd;
	const char *s;

	if ((dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n; ) {
			struct dirent64_raw *d = (void *)(buf + off);

			off += d->d_reclen;
			for (fd = 0, s = d->d_name; *s >= '0' && *s <= '9' &&
			    fd < (1 << 24); s++)
				fd = fd * 10 + (*s - '0');
			if (*s == '\0' && s != d->d_name && fd >= lowfd &&
			    fd != dfd)
				close(fd);
		}
	}
	close(dfd);
	return n == 0 ? 0 : -1;
}
#endif

/* Close every fd >= lowfd: close_range(2), else /proc, else a loop. */
static void
close_from(int lowfd)
{
	struct rlimit rl;
	long max = 1024, fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
#ifdef __linux__
	if (close_proc_fds(lowfd) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = (long)rl.rlim_cur;
	if (max > SUP_FD_SCAN_MAX)
		max = SUP_FD_SCAN_MAX;
	for (fd = lowfd; fd < max; fd++)
		close((int)fd);
}

/* Try each candidate path like execvp(); returns the errno to report. */
static int
child_execve(const struct spawn_ctx *sp)
{
	int e = ENOENT, eacces = 0, i;

	for (i = 0; sp->paths[i] != NULL; i++) {
		execve(sp->paths[i], sp->argv, sp->envp);
		e = errno;
		switch (e) {
		case EACCES:
			eacces = 1;
			/* FALLTHROUGH */
		case ENOENT:
		case ENOTDIR:
		case ESTALE:
		case ELOOP:
		case ENAMETOOLONG:
		case ENODEV:
		case ETIMEDOUT:
			continue;
		default:
			return e;
		}
	}
	return eacces ? EACCES : e;
}

/*
 * glibc keeps signals 32 and 33 for itself and refuses sigaction() on
 * them, yet a parent may have left them ignored, and ignored dispositions
 * survive exec.  The kernel accepts SIG_DFL for them: ask it directly.
 */
static void
reset_reserved_signal(int sig)
{
	struct {
		void		(*handler)(int);
		unsigned long	 flags;
		void		(*restorer)(void);
		unsigned long	 mask;
	} ksa;

	memset(&ksa, 0, sizeof(ksa));
	ksa.handler = SIG_DFL;
	(void)syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
}

/*
 * In the forked child, with every signal blocked: default dispositions, own
 * process group, pipes on 0/1/2, the status pipe on 3 (close-on-exec),
 * everything else closed, empty signal mask, exec.  Never returns.
 */
static void __attribute__((noreturn))
child_run(const struct spawn_ctx *sp)
{
	struct sigaction sa;
	sigset_t none;
	int fds[3], st, i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 1; i < NSIG; i++)
		if (sigaction(i, &sa, NULL) == -1 && i < SIGRTMIN)
			reset_reserved_signal(i);
	st = sp->st;
	if (setpgid(0, 0) == -1)
		child_fail(st, STAGE_SETUP, errno);
	/* Lift every fd needed above 2 first, so no dup2 clobbers a source. */
	if ((st = fcntl(sp->st, F_DUPFD_CLOEXEC, 3)) == -1)
		child_fail(sp->st, STAGE_SETUP, errno);
	for (i = 0; i < 3; i++)
		if ((fds[i] = fcntl(sp->fds[i], F_DUPFD_CLOEXEC, 3)) == -1)
			child_fail(st, STAGE_SETUP, errno);
	for (i = 0; i < 3; i++)
		if (dup2(fds[i], i) == -1)
			child_fail(st, STAGE_SETUP, errno);
	if (st != 3) {
		if (dup2(st, 3) == -1)
			child_fail(st, STAGE_SETUP, errno);
		st = 3;
		if (fcntl(st, F_SETFD, FD_CLOEXEC) == -1)
			child_fail(st, STAGE_SETUP, errno);
	}
	close_from(4);
	if (sp->cwd != NULL && chdir(sp->cwd) == -1)
		child_fail(st, STAGE_CHDIR, errno);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	child_fail(st, STAGE_EXEC, child_execve(sp));
}

/* --- lifetime ------------------------------------------------------------ */

static void
child_enter(struct sup_child *c)
{
	c->busy++;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Free the record and what it owns; it is unlinked, its watchers idle. */
static void
child_free(struct sup_child *c)
{
	free(c->name);
	strv_free(c->argv);
	strv_free(c->env);
	free(c->cwd);
	free(c->lbuf);
	free(c);
}

/* Unlink and release everything.  No callback may be running. */
static void
child_destroy(struct sup_child *c)
{
	struct ev_loop *loop = c->sup->loop;

	ev_child_stop(loop, &c->cw);
	ev_io_stop(loop, &c->eio);
	ev_io_stop(loop, &c->sio);
	ev_timer_stop(loop, &c->ktimer);
	ev_timer_stop(loop, &c->ltimer);
	ev_timer_stop(loop, &c->htimer);
	ev_timer_stop(loop, &c->rtimer);
	close_fd(&c->in_fd);
	close_fd(&c->out_fd);
	close_fd(&c->err_fd);
	close_fd(&c->st_fd);
	LIST_REMOVE(c, link);
	child_free(c);
}

/* Drop one hold; 1 when the record was freed (the caller must not touch it). */
static int
child_leave(struct sup_child *c)
{
	INVARIANT(c->busy > 0);
	if (--c->busy == 0 && c->removed && c->pid == 0) {
		child_destroy(c);
		return 1;
	}
	return 0;
}

static void
set_state(struct sup_child *c, enum sup_state s)
{
	c->state = s;
	if (c->cb.state != NULL && !c->removed)
		c->cb.state(c, s, c->arg);
}

/* Signal the process group (the leader alone if the group is not there). */
static int
group_kill(struct sup_child *c, int sig)
{
	if (c->pid == 0) {
		errno = ESRCH;
		return -1;
	}
	if (kill(-c->pid, sig) == 0)
		return 0;
	if (!c->reaped)
		return kill(c->pid, sig);
	return -1;
}

/* --- spawning ------------------------------------------------------------ */

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	return 0;
}

/*
 * Fork and exec one process for c (which has none).  0, with the state
 * STARTING; or -1 with a reason in err and in c->cause, the state and
 * every fd unchanged.
 */
static int
spawn(struct sup_child *c, char *err, size_t errlen)
{
	struct spawn_ctx sp;
	sigset_t all, old;
	int p[4][2], i, e;
	char **paths = NULL;
	pid_t pid;

	for (i = 0; i < 4; i++)
		p[i][0] = p[i][1] = -1;
	if ((paths = c->spawn_paths = path_build(c->argv[0], c->env)) == NULL) {
		e = errno;
		goto fail;
	}
	for (i = 0; i < 4; i++)
		if (pipe2(p[i], O_CLOEXEC) == -1) {
			e = errno;
			goto fail;
		}
	/* Our ends: stdin write, stdout/stderr/status read. */
	if (set_nonblock(p[0][1]) == -1 || set_nonblock(p[1][0]) == -1 ||
	    set_nonblock(p[2][0]) == -1 || set_nonblock(p[3][0]) == -1) {
		e = errno;
		goto fail;
	}
	sp.fds[0] = p[0][0];
	sp.fds[1] = p[1][1];
	sp.fds[2] = p[2][1];
	sp.st = p[3][1];
	sp.argv = c->argv;
	sp.envp = c->env;
	sp.paths = paths;
	sp.cwd = c->cwd;

	/* No handler of ours may run in the child before it resets them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child_run(&sp);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1)
		goto fail;
	(void)setpgid(pid, pid);	/* also done by the child: no race */
	strv_free(paths);
	c->spawn_paths = NULL;
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	close(p[3][1]);

	c->pid = pid;
	c->reaped = 0;
	c->wstatus = 0;
	c->in_fd = p[0][1];
	c->out_fd = p[1][0];
	c->err_fd = p[2][0];
	c->st_fd = p[3][0];
	memset(&c->report, 0, sizeof(c->report));
	c->llen = 0;
	c->lcont = 0;
	c->started_at = ev_time();
	ev_child_set(&c->cw, pid, 0);
	ev_child_start(c->sup->loop, &c->cw);
	ev_io_set(&c->eio, c->err_fd, EV_READ);
	ev_io_start(c->sup->loop, &c->eio);
	ev_io_set(&c->sio, c->st_fd, EV_READ);
	ev_io_start(c->sup->loop, &c->sio);
	set_state(c, SUP_STARTING);
	return 0;
fail:
	strv_free(paths);
	c->spawn_paths = NULL;
	for (i = 0; i < 4; i++) {
		close_fd(&p[i][0]);
		close_fd(&p[i][1]);
	}
	snprintf(c->cause, sizeof(c->cause), "spawn failed: %s", strerror(e));
	errfmt(err, errlen, "%s", c->cause);
	return -1;
}

/* base * 2^(n-1), capped at max; n >= 1. */
static unsigned
backoff_delay(unsigned base, unsigned max, unsigned n)
{
	unsigned d = base;

	while (--n > 0 && d < max)
		d = d > max / 2 ? max : d * 2;
	return d < max ? d : max;
}

/* Count a failure and wait before the next start (BACKOFF or FAILED). */
static void
schedule_restart(struct sup_child *c)
{
	if (c->failures < UINT32_MAX)
		c->failures++;
	c->backoff_ms = backoff_delay(c->base_ms, c->max_ms, c->failures);
	if (c->failures >= c->crashloop)
		c->crashlooping = 1;
	ev_timer_set(&c->rtimer, c->backoff_ms / 1000.0, 0.);
	ev_timer_start(c->sup->loop, &c->rtimer);
	set_state(c, c->crashlooping ? SUP_FAILED : SUP_BACKOFF);
}

static void
restart_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup_child *c = w->data;

	child_enter(c);
	if (!c->removed) {
		if (spawn(c, NULL, 0) == 0)
			c->restarts++;
		else
			schedule_restart(c);
	}
	child_leave(c);
}

/* --- the process ends -------------------------------------------------- */

/* The exit cause as the owner reads it. */
static void
describe_end(const struct sup_child *c, char *buf, size_t len)
{
	int st = c->wstatus, sig;

	switch (c->report.stage) {
	case STAGE_OK:
		break;
	case STAGE_EXEC:
		snprintf(buf, len, "exec failed: %s", strerror(c->report.err));
		return;
	case STAGE_CHDIR:
		snprintf(buf, len, "chdir to %s failed: %s",
		    c->cwd ? c->cwd : "?", strerror(c->report.err));
		return;
	default:
		snprintf(buf, len, "child setup failed: %s",
		    strerror(c->report.err));
		return;
	}
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st)) {
		sig = WTERMSIG(st);
		snprintf(buf, len, "killed by signal %d (%s)%s", sig,
		    strsignal(sig), WCOREDUMP(st) ? ", core dumped" : "");
	} else
		snprintf(buf, len, "ended with wait status %#x", (unsigned)st);
}

static int
ended_ok(const struct sup_child *c)
{
	return c->report.stage == STAGE_OK && WIFEXITED(c->wstatus) &&
	    WEXITSTATUS(c->wstatus) == 0;
}

/*
 * Reaped, stderr at EOF, status read: clear the process, decide what
 * comes next, then tell the owner.  Inside a hold.
 */
static void
child_gone(struct sup_child *c)
{
	struct ev_loop *loop = c->sup->loop;
	int again;

	describe_end(c, c->cause, sizeof(c->cause));
	ev_timer_stop(loop, &c->ktimer);
	ev_timer_stop(loop, &c->ltimer);
	ev_timer_stop(loop, &c->htimer);
	close_fd(&c->in_fd);
	close_fd(&c->out_fd);
	if (c->state == SUP_RUNNING && c->run_start > 0 &&
	    ev_now(loop) - c->run_start >= c->healthy_ms / 1000.0) {
		c->failures = 0;
		c->crashlooping = 0;
	}
	c->pid = 0;
	c->run_start = 0;
	if (c->removed)
		return;
	if (c->restart_now)
		again = 1;
	else if (c->state == SUP_STOPPING)
		again = 0;
	else if (c->policy == SUP_ALWAYS)
		again = 1;
	else if (c->policy == SUP_ON_FAILURE)
		again = !ended_ok(c);
	else
		again = 0;
	c->restart_now = 0;
	if (again)
		schedule_restart(c);
	else
		set_state(c, SUP_STOPPED);
	if (c->cb.gone != NULL && !c->removed)
		c->cb.gone(c, c->cause, c->arg);
}

static void
check_gone(struct sup_child *c)
{
	if (c->pid != 0 && c->reaped && c->err_fd == -1 && c->st_fd == -1)
		child_gone(c);
}

static void
reap_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct sup_child *c = w->data;

	child_enter(c);
	ev_child_stop(loop, w);
	c->reaped = 1;
	c->wstatus = w->rstatus;
	if (c->err_fd != -1) {
		/* A descendant may hold stderr open: give it linger_ms. */
		ev_timer_set(&c->ltimer, c->linger_ms / 1000.0, 0.);
		ev_timer_start(loop, &c->ltimer);
	}
	check_gone(c);
	child_leave(c);
}

static void
kill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup_child *c = w->data;

	(void)group_kill(c, SIGKILL);
}

static void
healthy_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup_child *c = w->data;

	c->failures = 0;
	c->crashlooping = 0;
}

/* Exec confirmed: RUNNING, and the owner gets stdin/stdout. */
static void
child_running(struct sup_child *c)
{
	int in = c->in_fd, out = c->out_fd;

	c->run_start = ev_now(c->sup->loop);
	ev_timer_set(&c->htimer, c->healthy_ms / 1000.0, 0.);
	ev_timer_start(c->sup->loop, &c->htimer);
	set_state(c, SUP_RUNNING);
	if (c->state != SUP_RUNNING || c->pid == 0)
		return;		/* the state callback stopped it */
	c->in_fd = c->out_fd = -1;
	if (c->cb.started == NULL || c->removed) {
		close(in);
		close(out);
		return;
	}
	c->cb.started(c, in, out, c->arg);
}

static void
status_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sup_child *c = w->data;
	struct exec_report r;
	ssize_t n;

	n = read(c->st_fd, &r, sizeof(r));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	child_enter(c);
	if (n == (ssize_t)sizeof(r))
		c->report = r;
	else if (n > 0) {
		c->report.stage = STAGE_SETUP;
		c->report.err = EIO;
	}
	ev_io_stop(loop, w);
	close_fd(&c->st_fd);
	if (c->report.stage == STAGE_OK && c->state == SUP_STARTING)
		child_running(c);
	check_gone(c);
	child_leave(c);
}

/* --- stderr lines ------------------------------------------------------- */

static void
line_deliver(struct sup_child *c, const char *s, size_t len, int flags)
{
	if (c->removed)
		return;
	if (!(flags & SUP_LINE_SPLIT) && len > 0 && s[len - 1] == '\r')
		len--;
	if (c->cb.line != NULL)
		c->cb.line(c, s, len, flags, c->arg);
	else
		sup_log_line(c, s, len, flags);
}

/* Pass on every complete line; cut the buffer when it is full. */
static void
lines_emit(struct sup_child *c)
{
	size_t start = 0, len, cut;
	char *nl;

	while ((nl = memchr(c->lbuf + start, '\n', c->llen - start)) != NULL) {
		len = (size_t)(nl - (c->lbuf + start));
		line_deliver(c, c->lbuf + start, len,
		    c->lcont ? SUP_LINE_CONT : 0);
		c->lcont = 0;
		start += len + 1;
	}
	memmove(c->lbuf, c->lbuf + start, c->llen - start);
	c->llen -= start;
	if (c->llen == c->max_line + 1) {
		cut = u8_cut(c->lbuf, c->llen, c->max_line);
		line_deliver(c, c->lbuf, cut,
		    SUP_LINE_SPLIT | (c->lcont ? SUP_LINE_CONT : 0));
		c->lcont = 1;
		memmove(c->lbuf, c->lbuf + cut, c->llen - cut);
		c->llen -= cut;
	}
}

/* Stderr is at EOF (or broken): flush the partial line, close, maybe gone. */
static void
stderr_eof(struct sup_child *c)
{
	if (c->llen > 0)
		line_deliver(c, c->lbuf, c->llen, SUP_LINE_PARTIAL |
		    (c->lcont ? SUP_LINE_CONT : 0));
	c->llen = 0;
	c->lcont = 0;
	ev_io_stop(c->sup->loop, &c->eio);
	ev_timer_stop(c->sup->loop, &c->ltimer);
	close_fd(&c->err_fd);
	check_gone(c);
}

/* One read; 1 when more may follow, 0 at EOF or error, -1 on EAGAIN. */
static int
stderr_read(struct sup_child *c)
{
	ssize_t n;

	n = read(c->err_fd, c->lbuf + c->llen, c->max_line + 1 - c->llen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return -1;
	if (n <= 0)
		return 0;
	c->llen += (size_t)n;
	lines_emit(c);
	return 1;
}

static void
stderr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sup_child *c = w->data;

	child_enter(c);
	if (stderr_read(c) == 0)
		stderr_eof(c);
	child_leave(c);
}

/*
 * The leader was reaped linger_ms ago and stderr is still open: a
 * descendant holds it.  Kill the group, take what is buffered, close.
 */
static void
linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup_child *c = w->data;
	int i;

	child_enter(c);
	(void)group_kill(c, SIGKILL);
	for (i = 0; i < SUP_DRAIN_READS && c->err_fd != -1; i++)
		if (stderr_read(c) != 1)
			break;
	if (c->err_fd != -1)
		stderr_eof(c);
	child_leave(c);
}

void
sup_log_line(struct sup_child *c, const char *line, size_t len, int flags)
{
	enum log_level lvl = LOG_LVL_INFO;
	json_t *fields, *j = NULL, *cf;
	const char *msg = NULL, *lv;

	if ((fields = json_object()) == NULL)
		return;
	if (!(flags & (SUP_LINE_SPLIT | SUP_LINE_CONT)) && len > 0 &&
	    line[0] == '{' && (j = json_loadb(line, len, 0, NULL)) != NULL &&
	    json_is_object(j) &&
	    (msg = json_string_value(json_object_get(j, "msg"))) != NULL) {
		lv = json_string_value(json_object_get(j, "level"));
		if (lv != NULL && (strcasecmp(lv, "fatal") == 0 ||
		    strcasecmp(lv, "critical") == 0))
			lvl = LOG_LVL_ERROR;
		else if (lv != NULL && strcasecmp(lv, "trace") == 0)
			lvl = LOG_LVL_DEBUG;
		else if (lv == NULL || log_level_parse(lv, &lvl) == -1)
			lvl = LOG_LVL_INFO;
		cf = json_object_get(j, "fields");
		if (json_is_object(cf))
			json_object_update(fields, cf);
	}
	json_object_set_new(fields, "stream", json_string("stderr"));
	if (flags & SUP_LINE_SPLIT)
		json_object_set_new(fields, "split", json_true());
	if (flags & SUP_LINE_PARTIAL)
		json_object_set_new(fields, "partial", json_true());
	if (msg != NULL)
		log_emit(lvl, c->name, fields, "%s", msg);
	else
		log_emit(LOG_LVL_INFO, c->name, fields, "%.*s", (int)len, line);
	json_decref(fields);
	json_decref(j);
}

/* --- public ------------------------------------------------------------ */

struct sup *
sup_new(struct ev_loop *loop)
{
	struct sup *s;

	if (loop == NULL || !ev_is_default_loop(loop)) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->loop = loop;
	LIST_INIT(&s->children);
	return s;
}

/* Kill and reap c's process synchronously (sup_free only). */
static void
child_hard_stop(struct sup_child *c)
{
	pid_t r;

	if (c->pid == 0)
		return;
	(void)group_kill(c, SIGKILL);
	if (!c->reaped) {
		do
			r = waitpid(c->pid, NULL, 0);
		while (r == -1 && errno == EINTR);
	}
	c->pid = 0;
}

void
sup_free(struct sup *s)
{
	struct sup_child *c;

	if (s == NULL)
		return;
	while ((c = LIST_FIRST(&s->children)) != NULL) {
		child_hard_stop(c);
		child_destroy(c);
	}
	free(s);
}

/* Check the spec's scalars and strings; 0 or -1 with err. */
static int
spec_check(const struct sup_spec *sp, char *err, size_t errlen)
{
	size_t i;

	if (sp->name == NULL || *sp->name == '\0' ||
	    strlen(sp->name) > SUP_NAME_MAX)
		return errfmt(err, errlen, "name: 1 to %d bytes", SUP_NAME_MAX);
	if (sp->argv == NULL || sp->argv[0] == NULL || *sp->argv[0] == '\0')
		return errfmt(err, errlen, "%s: argv[0] missing", sp->name);
	for (i = 0; sp->env != NULL && sp->env[i] != NULL; i++)
		if (sp->env[i][0] == '=' || strchr(sp->env[i], '=') == NULL)
			return errfmt(err, errlen, "%s: env[%zu]: not "
			    "NAME=value", sp->name, i);
	if (sp->cwd != NULL && (*sp->cwd == '\0' ||
	    strlen(sp->cwd) > SUP_STR_MAX))
		return errfmt(err, errlen, "%s: bad cwd", sp->name);
	if (sp->policy != SUP_ALWAYS && sp->policy != SUP_ON_FAILURE &&
	    sp->policy != SUP_NEVER)
		return errfmt(err, errlen, "%s: bad restart policy", sp->name);
	if (sp->max_line != 0 && (sp->max_line < SUP_LINE_MIN ||
	    sp->max_line > SUP_LINE_MAX))
		return errfmt(err, errlen, "%s: max_line outside %d..%u",
		    sp->name, SUP_LINE_MIN, SUP_LINE_MAX);
	return 0;
}

/* Take the spec's numbers, defaults for zeros; 0 or -1 with err. */
static int
child_numbers(struct sup_child *c, const struct sup_spec *sp, char *err,
    size_t errlen)
{
	c->policy = sp->policy;
	c->base_ms = sp->backoff_base_ms ? sp->backoff_base_ms :
	    SUP_DEFAULT_BACKOFF_BASE_MS;
	c->max_ms = sp->backoff_max_ms ? sp->backoff_max_ms :
	    SUP_DEFAULT_BACKOFF_MAX_MS;
	c->healthy_ms = sp->healthy_ms ? sp->healthy_ms :
	    SUP_DEFAULT_HEALTHY_MS;
	c->crashloop = sp->crashloop ? sp->crashloop : SUP_DEFAULT_CRASHLOOP;
	c->linger_ms = sp->linger_ms ? sp->linger_ms : SUP_DEFAULT_LINGER_MS;
	c->max_line = sp->max_line ? sp->max_line : SUP_DEFAULT_MAX_LINE;
	if (c->base_ms > c->max_ms) {
		errfmt(err, errlen, "%s: backoff base %u ms above the cap %u ms",
		    sp->name, c->base_ms, c->max_ms);
		return -1;
	}
	return 0;
}

static void
child_init_watchers(struct sup_child *c)
{
	ev_init(&c->cw, reap_cb);
	ev_init(&c->eio, stderr_cb);
	ev_init(&c->sio, status_cb);
	ev_init(&c->ktimer, kill_cb);
	ev_init(&c->ltimer, linger_cb);
	ev_init(&c->htimer, healthy_cb);
	ev_init(&c->rtimer, restart_cb);
	c->cw.data = c->eio.data = c->sio.data = c;
	c->ktimer.data = c->ltimer.data = c->htimer.data = c->rtimer.data = c;
}

struct sup_child *
sup_add(struct sup *s, const struct sup_spec *sp, const struct sup_cb *cb,
    void *arg, char *err, size_t errlen)
{
	struct sup_child *c;

	if (spec_check(sp, err, errlen) == -1)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		errfmt(err, errlen, "%s: %s", sp->name, strerror(errno));
		return NULL;
	}
	c->sup = s;
	c->in_fd = c->out_fd = c->err_fd = c->st_fd = -1;
	if (child_numbers(c, sp, err, errlen) == -1)
		goto fail;
	if ((c->argv = strv_copy(sp->argv, SUP_ARGV_MAX, "argv", err,
	    errlen)) == NULL ||
	    (c->env = strv_copy(sp->env, SUP_ENV_MAX, "env", err, errlen))
	    == NULL)
		goto fail;
	if ((c->name = strdup(sp->name)) == NULL ||
	    (sp->cwd != NULL && (c->cwd = strdup(sp->cwd)) == NULL) ||
	    (c->lbuf = malloc(c->max_line + 1)) == NULL) {
		errfmt(err, errlen, "%s: %s", sp->name, strerror(errno));
		goto fail;
	}
	if (cb != NULL)
		c->cb = *cb;
	c->arg = arg;
	child_init_watchers(c);
	LIST_INSERT_HEAD(&s->children, c, link);
	return c;
fail:
	child_free(c);
	return NULL;
}

int
sup_start(struct sup_child *c, char *err, size_t errlen)
{
	int rc;

	if (c->removed) {
		errfmt(err, errlen, "%s: removed", c->name);
		errno = EINVAL;
		return -1;
	}
	if (c->pid != 0) {
		errfmt(err, errlen, "%s: already has a process (%s)", c->name,
		    sup_state_name(c->state));
		errno = EBUSY;
		return -1;
	}
	child_enter(c);
	if ((rc = spawn(c, err, errlen)) == 0)
		ev_timer_stop(c->sup->loop, &c->rtimer);
	child_leave(c);
	return rc;
}

int
sup_stop(struct sup_child *c, unsigned grace_ms)
{
	int handed;

	if (c->removed)
		return 0;
	child_enter(c);
	switch (c->state) {
	case SUP_BACKOFF:
	case SUP_FAILED:
		ev_timer_stop(c->sup->loop, &c->rtimer);
		set_state(c, SUP_STOPPED);
		break;
	case SUP_STARTING:
	case SUP_RUNNING:
		handed = c->state == SUP_RUNNING && c->cb.started != NULL;
		c->restart_now = 0;
		set_state(c, SUP_STOPPING);
		if (handed && c->cb.close_input != NULL && !c->removed)
			c->cb.close_input(c, c->arg);
		close_fd(&c->in_fd);
		(void)group_kill(c, SIGTERM);
		/* The grace runs from the SIGTERM, not from the loop's cached
		   time, which is stale when this is called outside a
		   callback or after a long one. */
		ev_now_update(c->sup->loop);
		ev_timer_set(&c->ktimer, grace_ms / 1000.0, 0.);
		ev_timer_start(c->sup->loop, &c->ktimer);
		break;
	case SUP_STOPPED:
	case SUP_STOPPING:
		break;
	}
	child_leave(c);
	return 0;
}

void
sup_stop_all(struct sup *s, unsigned grace_ms)
{
	struct sup_child *c, *next;

	for (c = LIST_FIRST(&s->children); c != NULL; c = next) {
		/* A state callback may remove c but not free it: we hold it. */
		child_enter(c);
		sup_stop(c, grace_ms);
		next = LIST_NEXT(c, link);
		child_leave(c);
	}
}

int
sup_kill(struct sup_child *c, int sig)
{
	if (c->removed) {
		errno = ESRCH;
		return -1;
	}
	return group_kill(c, sig);
}

int
sup_restart(struct sup_child *c)
{
	int rc = 0;

	if (c->removed) {
		errno = EINVAL;
		return -1;
	}
	child_enter(c);
	if (c->pid != 0) {
		c->restart_now = 1;
		(void)group_kill(c, SIGKILL);
	} else if ((rc = spawn(c, NULL, 0)) == 0) {
		ev_timer_stop(c->sup->loop, &c->rtimer);
		c->restarts++;
	}
	child_leave(c);
	return rc;
}

void
sup_remove(struct sup_child *c)
{
	if (c == NULL || c->removed)
		return;
	c->removed = 1;
	ev_timer_stop(c->sup->loop, &c->rtimer);
	ev_timer_stop(c->sup->loop, &c->htimer);
	if (c->pid != 0)
		(void)group_kill(c, SIGKILL);
	else if (c->busy == 0)
		child_destroy(c);
}

size_t
sup_active(const struct sup *s)
{
	const struct sup_child *c;
	size_t n = 0;

	LIST_FOREACH(c, &s->children, link)
		if (c->pid != 0)
			n++;
	return n;
}

void
sup_info(const struct sup_child *c, struct sup_info *i)
{
	memset(i, 0, sizeof(*i));
	i->name = c->name;
	i->state = c->state;
	i->crashloop = c->crashlooping;
	i->pid = c->pid;
	i->restarts = c->restarts;
	i->failures = c->failures;
	i->backoff_ms = c->backoff_ms;
	i->started_at = c->started_at;
	i->last_cause = c->cause;
}

const char *
sup_name(const struct sup_child *c)
{
	return c->name;
}

const char *
sup_state_name(enum sup_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(*state_names))
		return "unknown";
	return state_names[s];
}
