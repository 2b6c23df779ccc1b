/*
 * Shared helpers for the Check suites: spawning real server processes on
 * pipes, reading their output with a deadline, and locating build files.
 */
#ifndef AFU9_TESTUTIL_H
#define AFU9_TESTUTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <check.h>
#include <ev.h>

struct tproc {
	pid_t	pid;
	int	in;	/* write end: the child's stdin */
	int	out;	/* read end: the child's stdout */
	int	err;	/* read end: the child's stderr, or -1 if inherited */
};

/*
 * Path of a file in the build tree ($AFU9_BUILDDIR, else ".") or source
 * tree ($AFU9_SRCDIR, else "."); static buffer rotated among 4 slots.
 */
const char *t_builddir(const char *rel);
const char *t_srcdir(const char *rel);

/*
 * Spawn argv with stdin/stdout (and stderr when capture_err) on pipes.
 * $AFU9_TEST_WRAPPER (e.g. a valgrind command line) is prepended when set.
 * envp NULL inherits the environment.  Returns 0 or -1.
 */
int	t_spawn(struct tproc *, char *const argv[], char *const envp[],
	    int capture_err);
/* Write all bytes (blocking). 0 or -1. */
int	t_write(int fd, const void *, size_t);
/*
 * Read until `needle` appears in what was read, EOF, or timeout_ms.
 * Returns a malloc'd NUL-terminated string of everything read (caller
 * frees), or NULL on timeout with nothing read.  *eof set on EOF.
 */
char	*t_read_until(int fd, const char *needle, int timeout_ms, int *eof);
/* Read one NDJSON line (without '\n'); malloc'd; NULL on timeout/EOF. */
char	*t_read_line(int fd, int timeout_ms);
/* Read one Content-Length framed body; malloc'd; NULL on timeout/EOF/bad. */
char	*t_read_cl(int fd, int timeout_ms);
/* Close stdin, wait up to timeout_ms for exit; returns the wait status, or
   -1 on timeout (the child is then killed). */
int	t_finish(struct tproc *, int timeout_ms);
/* Is the process still alive (not a zombie)? */
int	t_alive(pid_t);
/* Milliseconds from a monotonic clock. */
double	t_now_ms(void);
/*
 * Run every test of s and free it.  The runner takes its verbosity and
 * its TAP log ($CK_TAP_LOG_FILE_NAME, set by the harness) from the
 * environment.  Returns main()'s exit status: 0 all passed, 1 failures.
 */
int	t_run(Suite *s);
/*
 * Data a test needs that lives outside the repository (../shared/) is
 * missing, as `why` says.  With AFU9_REQUIRE_SHARED=1 (set by .ci/run)
 * returns 1: the test runs and fails on the absence.  Otherwise prints the
 * TAP skip-all line "1..0 # SKIP why (...)" and returns 0: the caller
 * exits 0 at once.
 */
int	t_shared_data(const char *why);
/* Multiplier for timeouts: 10 under valgrind ($AFU9_UNDER_VALGRIND), else 1. */
int	t_slow(void);
/*
 * Run loop until pred() holds or ms milliseconds pass (a 5 ms tick keeps
 * the loop turning when nothing else is due); pred's last value.
 */
int	t_run_until(struct ev_loop *loop, int (*pred)(void), int ms);
/* Everything written to fp so far (a tmpfile() a test logs to), from its
   start; malloc'd.  Aborts the test on failure. */
char	*t_file_text(FILE *fp);
/* How many times needle occurs in hay, not overlapping. */
int	t_count_str(const char *hay, const char *needle);

#endif
