/*
 * supervisor: fork/exec child processes, watch them, restart them, on one
 * libev loop.  Process management only; the owner speaks MCP over the
 * stdin/stdout pipes it is handed.
 *
 * A child record is made from a spec (sup_add) and lives until
 * sup_remove().  Each start forks one process:
 *  - no shell: argv[0] is run as given when it contains '/', else searched
 *    in the child's PATH (execvp rules, without the /bin/sh fallback
 *    for ENOEXEC).  Resolving a name "next to the afu9 binary" is the
 *    caller's job.
 *  - the environment is exactly the spec's env pairs, nothing else: what
 *    passes through from afu9's own environment is decided by the caller
 *    (config_build_env() in conf/).  A bare argv[0] is searched in the
 *    PATH of that environment (/bin:/usr/bin when it has none).
 *  - own process group (pgid = pid); signal dispositions reset to default
 *    and signal mask empty; every fd above 2 closed; stdin, stdout and
 *    stderr on fresh pipes.
 *  - a failure before or at execve (chdir, exec) reaches the parent through
 *    a close-on-exec status pipe, so the cause reads "exec failed: No such
 *    file or directory", not "exited with status 127".
 *
 * Lifecycle of one process: STARTING until the exec is confirmed (the
 * status pipe closes), then RUNNING; the owner's `started` callback gets
 * the write end of the child's stdin and the read end of its stdout (both
 * non-blocking, close-on-exec).  The process is "gone" only after it was
 * reaped and its stderr reached EOF (a descendant holding stderr open past
 * linger_ms after the reap gets SIGKILL on the whole group).  Then the
 * restart policy decides: BACKOFF (or FAILED) with a timer, or STOPPED.
 *
 * Backoff: consecutive failures n = 1, 2, 3 ... wait base * 2^(n-1) ms,
 * capped at backoff_max_ms.  A process that stays RUNNING for healthy_ms
 * resets n to 0.  At n >= crashloop the child is in a crash loop: it waits
 * in FAILED instead of BACKOFF and info.crashloop stays set until a healthy
 * run, but retries go on, the delay still doubling up to the cap.
 * Every unrequested exit that leads to a restart counts as a failure,
 * including exit 0 under SUP_ALWAYS (a server is not meant to exit).
 *
 * Stderr is read line by line: lines are bounded by max_line bytes (a longer
 * line is cut, on a UTF-8 boundary, into pieces flagged SUP_LINE_SPLIT /
 * SUP_LINE_CONT), and an unterminated last line is passed at EOF flagged
 * SUP_LINE_PARTIAL.  Without a `line` callback, sup_log_line() logs them.
 *
 * Callbacks `started`, `gone` and `line` run from the loop only; `state`
 * and `close_input` also run inside the sup_start/stop/restart call that
 * causes them.  Any sup_* call is allowed from a callback, sup_remove()
 * included (the record is freed at a safe point); sup_free() is not.
 *
 * ev_child needs the default loop: sup_new() refuses any other.  libev
 * reaps every child of the process (waitpid(-1)), so the process should not
 * fork other children it means to wait for itself.
 */
#ifndef AFU9_SUPERVISOR_H
#define AFU9_SUPERVISOR_H

#include <stddef.h>
#include <sys/types.h>
#include <ev.h>

#define SUP_NAME_MAX		64	/* bytes of a child name */
#define SUP_ARGV_MAX		1024	/* argv entries */
#define SUP_ENV_MAX		256	/* entries of env */
#define SUP_STR_MAX		(64u * 1024) /* one argv/env string, cwd */
#define SUP_LINE_MIN		64
#define SUP_LINE_MAX		(1024u * 1024)
#define SUP_CAUSE_MAX		256

#define SUP_DEFAULT_BACKOFF_BASE_MS	100
#define SUP_DEFAULT_BACKOFF_MAX_MS	30000
#define SUP_DEFAULT_HEALTHY_MS		60000
#define SUP_DEFAULT_CRASHLOOP		5
#define SUP_DEFAULT_LINGER_MS		2000
#define SUP_DEFAULT_MAX_LINE		8192

enum sup_policy {
	SUP_ALWAYS = 0,		/* restart after any exit */
	SUP_ON_FAILURE,		/* restart unless it exited with status 0 */
	SUP_NEVER,		/* never restart */
};

enum sup_state {
	SUP_STOPPED = 0,	/* no process, no restart planned */
	SUP_STARTING,		/* forked; exec not confirmed yet */
	SUP_RUNNING,		/* exec'd; the owner holds its stdin/stdout */
	SUP_BACKOFF,		/* gone; restart timer armed */
	SUP_FAILED,		/* as BACKOFF, but crash-looping */
	SUP_STOPPING,		/* SIGTERM sent (SIGKILL after grace); no
				   restart when it is gone */
};

/* Flags of one stderr line. */
#define SUP_LINE_SPLIT		0x1	/* cut at max_line: more of it follows */
#define SUP_LINE_CONT		0x2	/* continues a cut line */
#define SUP_LINE_PARTIAL	0x4	/* no '\n' before EOF */

/*
 * What to run.  Everything is borrowed during sup_add() only (deep copied).
 * Numeric fields left 0 take the SUP_DEFAULT_* value.
 */
struct sup_spec {
	const char		*name;		/* log component; 1..SUP_NAME_MAX */
	const char *const	*argv;		/* NULL-terminated, argv[0] set */
	const char *const	*env;		/* "NAME=value"; NULL-terminated;
						   may be NULL */
	const char		*cwd;		/* NULL: the supervisor's */
	enum sup_policy		 policy;
	unsigned		 backoff_base_ms;
	unsigned		 backoff_max_ms;	/* >= base */
	unsigned		 healthy_ms;
	unsigned		 crashloop;	/* failures that make FAILED */
	unsigned		 linger_ms;	/* stderr EOF wait after reap */
	size_t			 max_line;	/* SUP_LINE_MIN..SUP_LINE_MAX */
};

struct sup;
struct sup_child;

/* All optional; `arg` is the pointer given to sup_add(). */
struct sup_cb {
	/*
	 * The exec succeeded.  in_fd writes to the child's stdin, out_fd
	 * reads its stdout; both are the owner's from now on, to close when
	 * done (stdout may still hold unread output after `gone`).  Without
	 * this callback the supervisor closes them at once.
	 */
	void	(*started)(struct sup_child *, int in_fd, int out_fd,
		    void *arg);
	/* sup_stop() wants the child's stdin closed: close in_fd now. */
	void	(*close_input)(struct sup_child *, void *arg);
	/*
	 * The process is reaped and its stderr is at EOF.  cause: "exited
	 * with status 3", "killed by signal 9 (Killed)", "exec failed: ...".
	 * The new state (BACKOFF, FAILED, STOPPED) is already set.
	 */
	void	(*gone)(struct sup_child *, const char *cause, void *arg);
	/* Every state change, as it happens. */
	void	(*state)(struct sup_child *, enum sup_state, void *arg);
	/* One stderr line, without '\n' (and a '\r' before it); line
	   borrowed, not NUL-terminated.  NULL: sup_log_line(). */
	void	(*line)(struct sup_child *, const char *line, size_t len,
		    int flags, void *arg);
};

/* A snapshot; strings borrowed until the next callback of this child. */
struct sup_info {
	const char	*name;
	enum sup_state	 state;
	int		 crashloop;	/* crash loop seen, no healthy run since */
	pid_t		 pid;		/* 0 when no process */
	unsigned	 restarts;	/* processes started by the supervisor
					   after the first sup_start() */
	unsigned	 failures;	/* consecutive, since the last healthy
					   run */
	unsigned	 backoff_ms;	/* delay of the last restart scheduled */
	double		 started_at;	/* epoch seconds of the last start; 0 */
	const char	*last_cause;	/* "" before the first exit */
};

/* NULL on ENOMEM, or EINVAL when loop is not the default loop. */
struct sup	*sup_new(struct ev_loop *loop);
/*
 * Hard stop: SIGKILL to every child's process group, reap them (blocking),
 * close every fd the supervisor holds, free every record.  No callbacks
 * run.  Not from a callback.  For a graceful end, sup_stop_all() and run
 * the loop until sup_active() is 0.
 */
void		 sup_free(struct sup *);
/*
 * A new child record, STOPPED.  Returns NULL with a reason in err when the
 * spec is invalid (bounds above, an env pair without '=', base > max) or
 * on ENOMEM.  cb is copied; arg borrowed for the record's life.
 */
struct sup_child *sup_add(struct sup *, const struct sup_spec *,
		    const struct sup_cb *, void *arg, char *err, size_t errlen);
/*
 * Start a STOPPED child, or one waiting in BACKOFF/FAILED (at once).
 * 0, or -1 with a reason in err: busy (a process exists), or the spawn
 * failed (pipe, fork: resources); the state is then unchanged.
 */
int		 sup_start(struct sup_child *, char *err, size_t errlen);
/*
 * Stop and do not restart: a waiting child becomes STOPPED; a live one
 * gets close_input, SIGTERM to its group, and SIGKILL after grace_ms, and
 * is STOPPING until gone.  0; also 0 when already stopped or stopping.
 */
int		 sup_stop(struct sup_child *, unsigned grace_ms);
/* sup_stop() on every child. */
void		 sup_stop_all(struct sup *, unsigned grace_ms);
/*
 * Send sig to the child's process group; what follows is up to the policy.
 * 0, or -1 with errno ESRCH when there is no process.
 */
int		 sup_kill(struct sup_child *, int sig);
/*
 * For a liveness failure: SIGKILL the group and restart when gone,
 * whatever the policy (counted as a failure: the backoff applies).  A
 * child without a process is started at once.  0, or -1 (sup_start()).
 */
int		 sup_restart(struct sup_child *);
/*
 * Forget the child: SIGKILL its group if it has one; no callback runs after
 * this call; the record is freed once the process is gone (reaped, stderr
 * closed) and no callback of it is running.  The owner closes the fds it
 * was given.
 */
void		 sup_remove(struct sup_child *);
/* Children whose process is not gone yet (removed ones included). */
size_t		 sup_active(const struct sup *);
void		 sup_info(const struct sup_child *, struct sup_info *);
const char	*sup_name(const struct sup_child *);
/* "stopped", "starting", "running", "backoff", "failed", "stopping". */
const char	*sup_state_name(enum sup_state);
/*
 * The default stderr sink: log_emit() with component = the child's name,
 * fields {"stream":"stderr"} (+ "split"/"partial" true per flags), level
 * info.  A whole line that is a JSON object with a string "msg" is passed
 * through: its "level" (debug/info/warn/warning/error; else info), its
 * "msg", and its "fields" object merged under "stream".
 */
void		 sup_log_line(struct sup_child *, const char *line, size_t len,
		    int flags);

#endif
