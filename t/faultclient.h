/*
 * Client of t/faultserver.py for the Check suites: one fault server per
 * test program (127.0.0.1, an ephemeral port), driven by one JSON command
 * per line.  Scripted answers are pushed, recorded requests fetched.
 *
 * The command functions assert (Check) on a dead or silent helper, so
 * they belong in test bodies and fixtures.
 */
#ifndef AFU9_FAULTCLIENT_H
#define AFU9_FAULTCLIENT_H

#include <stddef.h>

#include <jansson.h>

#include "testutil.h"

/*
 * Spawn the Python helper at source path `rel` (never under
 * $AFU9_TEST_WRAPPER, which is restored afterwards) on pipes and read its
 * first line.  Returns that line (malloc'd, caller frees), or NULL when it
 * could not be spawned (p->pid is then 0) or said nothing in timeout_ms.
 */
char		*fc_tool_start(struct tproc *p, const char *rel,
		    int timeout_ms);

/*
 * Start t/aws/moto.py (moto_server on an ephemeral port) on p.  Returns
 * its port, or 0 with why set to the helper's "ABSENT reason" line or to
 * what went wrong.
 */
int		 fc_moto_start(struct tproc *p, char *why, size_t whylen);
/*
 * Are the tests needing helper `what` to run?  Yes when it is ready, when
 * $AFU9_REQUIRE_MOTO=1, or when it failed other than with "ABSENT ..."
 * (the tests then fail and say why).  Otherwise prints the TAP line
 * "# SKIP <what>: <reason> (AFU9_REQUIRE_MOTO=1 makes this a failure)"
 * and returns 0.
 */
int		 fc_tool_wanted(int ready, const char *why, const char *what);
/*
 * The environment of a test of AWS client code: every AWS_* variable the
 * client reads cleared, no config or credentials file, region us-east-1,
 * the endpoint and these static credentials.
 */
void		 fc_aws_env(const char *endpoint, const char *akid,
		    const char *secret);

/* Start t/faultserver.py and read its port.  Exits 99 on failure. */
void		 fc_start(void);
/* Close its stdin and reap it; t_finish()'s result. */
int		 fc_stop(int timeout_ms);
/* Its port, and "http://127.0.0.1:PORT" (static storage). */
int		 fc_port(void);
const char	*fc_base(void);

/*
 * Send a command (stolen) to a line-per-command helper process and return
 * its reply (new reference).  Ids carry the pid: with CK_FORK each test is
 * a child of its own and a reply left behind by an earlier child is
 * skipped, never mistaken for ours.  `what` names the helper in the
 * failure message "<what> did not answer".
 */
json_t		*fc_proc_cmd(struct tproc *p, const char *what, json_t *cmd);
/* fc_proc_cmd() to the fault server. */
json_t		*fc_cmd(json_t *cmd);
/* A command (stolen) whose reply is dropped. */
void		 fc_simple(json_t *cmd);
/* Forget queued answers, the default answer and recorded requests. */
void		 fc_reset(void);
/* Queue one response (spec stolen). */
void		 fc_push(json_t *spec);
/* Every request the server has seen (new reference to the array). */
json_t		*fc_requests(void);
/* The JSON body of recorded request n (0-based; new reference); asserts
   there is one. */
json_t		*fc_body(size_t n);
/* How many requests the server has seen. */
size_t		 fc_count(void);

/*
 * The value of header `name` (any case) in recorded request `req`
 * (borrowed from req; the last one when repeated), NULL when absent, and
 * how often it occurs in *count.
 */
const char	*fc_header(const json_t *req, const char *name, int *count);
/* Assert header `name` was sent once, with value `want`. */
void		 fc_assert_header(const json_t *req, const char *name,
		    const char *want);
/* Assert header `name` was not sent. */
void		 fc_assert_no_header(const json_t *req, const char *name);

#endif
