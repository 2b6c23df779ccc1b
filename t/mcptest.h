/*
 * Helpers for the suites that drive an afu9 MCP server binary over stdio
 * (NDJSON): spawning it, writing requests, ending it, and running the
 * official TypeScript SDK client against it.
 */
#ifndef AFU9_MCPTEST_H
#define AFU9_MCPTEST_H

#include <jansson.h>

#include "testutil.h"

/*
 * Spawn the build-tree binary `rel` with the extra arguments (NULL
 * terminated, at most 14 used) and stderr captured; env as set.
 * Returns t_spawn()'s 0 or -1.
 */
int	mt_spawn(struct tproc *, const char *rel, const char *const *extra);
/* Write msg (stolen) compact as one NDJSON line to fd.  0 or -1. */
int	mt_send(int fd, json_t *msg);
/*
 * End the server: close its stdin, read stdout and stderr to EOF into
 * *out and *err (malloc'd, caller frees; NULL when nothing came) within
 * timeout_ms each, and reap it.  Returns t_finish()'s wait status.
 */
int	mt_stop(struct tproc *, int timeout_ms, char **out, char **err);
/* The first content item's text of a tools/call result (borrowed; NULL
   when there is none). */
const char	*mt_text(const json_t *res);
/*
 * Assert the tools/call result res (stolen) of `tool` is not an error;
 * its structuredContent (new reference).
 */
json_t	*mt_ok(const char *tool, json_t *res);
/* Assert res (stolen) is an error with a text; that text (malloc'd). */
char	*mt_err(const char *tool, json_t *res);
/*
 * Spawn `script` with the arguments more[] (NULL terminated, at most 16
 * used) under the Node that t/interop/pick-node.sh picks (exit 77 when
 * none); stderr captured when capture_err.  Returns t_spawn()'s 0 or -1.
 */
int	mt_node_spawn(struct tproc *, const char *script,
	    const char *const *more, int capture_err);
/*
 * Run the SDK client script (source-tree path) against the build-tree
 * server `server_rel` (under $AFU9_TEST_WRAPPER when set), stdin closed.
 * Returns 0 with *out (malloc'd or NULL) and *status (wait status) set,
 * or -1 when Node could not be spawned.
 */
int	mt_sdk_run(const char *script_rel, const char *server_rel,
	    int timeout_ms, char **out, int *status);
/*
 * Are the SDK tests to run: t/node_modules is there, or
 * $AFU9_REQUIRE_NODE_TESTS=1.  Otherwise prints skip_line (a TAP
 * "# SKIP" line) and returns 0.
 */
int	mt_node_available(const char *skip_line);

#endif
