/*
 * Helpers for the suites that drive an afu9 MCP server over stdio.
 */
#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcptest.h"

int
mt_spawn(struct tproc *p, const char *rel, const char *const *extra)
{
	char *argv[16];
	size_t n = 0;

	argv[n++] = (char *)t_builddir(rel);
	while (extra != NULL && *extra != NULL && n < 15)
		argv[n++] = (char *)*extra++;
	argv[n] = NULL;
	return t_spawn(p, argv, NULL, 1);
}

int
mt_send(int fd, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	int rc = -1;

	json_decref(msg);
	if (s != NULL && t_write(fd, s, strlen(s)) == 0 &&
	    t_write(fd, "\n", 1) == 0)
		rc = 0;
	free(s);
	return rc;
}

int
mt_stop(struct tproc *p, int timeout_ms, char **out, char **err)
{
	int eof;

	close(p->in);
	p->in = -1;
	*out = t_read_until(p->out, "\x01", timeout_ms, &eof);
	*err = t_read_until(p->err, "\x01", timeout_ms, &eof);
	return t_finish(p, timeout_ms);
}

int
mt_node_spawn(struct tproc *p, const char *script, const char *const *more,
    int capture_err)
{
	char *argv[24];
	size_t n = 0;

	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = "mods=$1; . \"$2\"; [ -n \"$node\" ] || exit 77; "
	    "shift 2; exec \"$node\" \"$@\"";
	argv[n++] = "sh";
	argv[n++] = (char *)t_srcdir("t/node_modules");
	argv[n++] = (char *)t_srcdir("t/interop/pick-node.sh");
	argv[n++] = (char *)script;
	while (more != NULL && *more != NULL && n < 23)
		argv[n++] = (char *)*more++;
	argv[n] = NULL;
	return t_spawn(p, argv, NULL, capture_err);
}

int
mt_sdk_run(const char *script_rel, const char *server_rel, int timeout_ms,
    char **out, int *status)
{
	const char *env = getenv("AFU9_TEST_WRAPPER");
	const char *more[16];
	char script[4096], *wrap, *words = NULL, *w;
	struct tproc p;
	size_t n = 0;
	int eof, rc;

	wrap = env != NULL ? strdup(env) : NULL;
	snprintf(script, sizeof(script), "%s", t_srcdir(script_rel));
	more[n++] = "--";
	if (wrap != NULL && *wrap) {
		words = strdup(wrap);
		for (w = words ? strtok(words, " ") : NULL; w && n < 12;
		    w = strtok(NULL, " "))
			more[n++] = w;
	}
	more[n++] = t_builddir(server_rel);
	more[n] = NULL;
	unsetenv("AFU9_TEST_WRAPPER");
	rc = mt_node_spawn(&p, script, more, 0);
	if (wrap != NULL)
		setenv("AFU9_TEST_WRAPPER", wrap, 1);
	free(wrap);
	if (rc != 0) {
		free(words);
		return -1;
	}
	close(p.in);
	p.in = -1;
	*out = t_read_until(p.out, "\x01", timeout_ms, &eof);
	*status = t_finish(&p, timeout_ms);
	free(words);
	return 0;
}

int
mt_node_available(const char *skip_line)
{
	struct stat sb;
	const char *req = getenv("AFU9_REQUIRE_NODE_TESTS");

	if (stat(t_srcdir("t/node_modules/@modelcontextprotocol/sdk"), &sb) ==
	    0)
		return 1;
	if (req != NULL && strcmp(req, "1") == 0)
		return 1;
	printf("%s", skip_line);
	fflush(stdout);
	return 0;
}

const char *
mt_text(const json_t *res)
{
	return json_string_value(json_object_get(json_array_get(
	    json_object_get(res, "content"), 0), "text"));
}

json_t *
mt_ok(const char *tool, json_t *res)
{
	json_t *sc;

	ck_assert_msg(!json_is_true(json_object_get(res, "isError")),
	    "%s failed: %s", tool, mt_text(res));
	sc = json_incref(json_object_get(res, "structuredContent"));
	ck_assert_ptr_nonnull(sc);
	json_decref(res);
	return sc;
}

char *
mt_err(const char *tool, json_t *res)
{
	char *s;

	ck_assert_msg(json_is_true(json_object_get(res, "isError")),
	    "%s succeeded", tool);
	ck_assert_ptr_nonnull(mt_text(res));
	s = strdup(mt_text(res));
	json_decref(res);
	return s;
}
