/*
 * Helpers shared by the afu9 binary tests; see orchtest.h.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "orchtest.h"

/*
 * Write dir/name with text, @SERVER@ and @CRASHY@ replaced by the paths
 * of t/conformance-server and t/crashy.  Returns the path in one of four
 * static buffers (reused in turn).
 */
const char *
ot_write_config(const char *dir, const char *name, const char *text)
{
	static char path[4][512];
	static int slot;
	char *p = path[slot++ % 4];
	FILE *f;
	const char *s;

	snprintf(p, 512, "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	for (s = text; *s; s++) {
		if (strncmp(s, "@SERVER@", 8) == 0) {
			fputs(t_builddir("t/conformance-server"), f);
			s += 7;
		} else if (strncmp(s, "@CRASHY@", 8) == 0) {
			fputs(t_builddir("t/crashy"), f);
			s += 7;
		} else
			fputc(*s, f);
	}
	fclose(f);
	return p;
}

/* Start orchestrator/afu9 with args (NULL-terminated, at most 30) on
   pipes into *p. */
void
ot_spawn_afu9(struct tproc *p, const char *const *args)
{
	char *argv[32];
	int i, n = 0;

	argv[n++] = (char *)t_builddir("orchestrator/afu9");
	for (i = 0; args[i] && n < 31; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	ck_assert_int_eq(t_spawn(p, argv, NULL, 1), 0);
}

/*
 * Close a spawned afu9's stdin, collect stdout and stderr into *out and
 * *err (malloc'd, "" when empty) and reap it.  Returns the exit status,
 * 128 + signal, or -1.
 */
int
ot_reap_afu9(struct tproc *p, char **out, char **err)
{
	int eof, st;

	close(p->in);
	*out = t_read_until(p->out, "\001never", 30000 * t_slow(), &eof);
	*err = t_read_until(p->err, "\001never", 30000 * t_slow(), &eof);
	if (*out == NULL)
		*out = strdup("");
	if (*err == NULL)
		*err = strdup("");
	close(p->out);
	close(p->err);
	if (waitpid(p->pid, &st, 0) == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run afu9 with args to the end; as ot_reap_afu9(). */
int
ot_run_afu9(const char *const *args, char **out, char **err)
{
	struct tproc p;

	ot_spawn_afu9(&p, args);
	return ot_reap_afu9(&p, out, err);
}

/*
 * Send the request text req (a whole HTTP/1.1 request, "Connection:
 * close") to 127.0.0.1:port and read the answer to EOF; the status, the
 * body in *body (malloc'd).
 */
int
ot_http_raw(int port, const char *req, char **body)
{
	struct sockaddr_in sa;
	char *resp, *sep;
	int fd, eof, status = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(t_write(fd, req, strlen(req)), 0);
	resp = t_read_until(fd, "\001never", 5000 * t_slow(), &eof);
	close(fd);
	ck_assert_ptr_nonnull(resp);
	sscanf(resp, "HTTP/1.1 %d", &status);
	sep = strstr(resp, "\r\n\r\n");
	*body = strdup(sep ? sep + 4 : "");
	free(resp);
	return status;
}

/* A blocking GET on 127.0.0.1:port; as ot_http_raw(). */
int
ot_http_get(int port, const char *path, char **body)
{
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n", path);
	return ot_http_raw(port, req, body);
}

/* Write one whole line to the gateway's stdin fd. */
void
ot_send(int fd, const char *line)
{
	ck_assert_int_eq(t_write(fd, line, strlen(line)), 0);
}

/*
 * Read lines from fd until a reply carries "id":id (id as JSON text);
 * returns it (malloc'd).  Counts list_changed notifications seen on the
 * way into *list_changed when not NULL.
 */
char *
ot_reply(int fd, const char *id, int timeout_ms, int *list_changed)
{
	char want[64], *l;
	double end = t_now_ms() + timeout_ms;

	snprintf(want, sizeof(want), "\"id\":%s", id);
	while (t_now_ms() < end) {
		if ((l = t_read_line(fd, (int)(end - t_now_ms()) + 1)) == NULL)
			break;
		if (list_changed && strstr(l,
		    "\"notifications/tools/list_changed\""))
			(*list_changed)++;
		if (strstr(l, want) && !strstr(l, "\"method\""))
			return l;
		free(l);
	}
	ck_abort_msg("no reply with id %s", id);
	return NULL;
}

/*
 * Make tmpdir (a mkdtemp template), run suite s, remove tmpdir.  Returns
 * the exit code for main(): 0 all passed, 1 failures, 99 no tmpdir.
 */
int
ot_main(Suite *s, char *tmpdir)
{
	int failed;
	char cmd[600];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	signal(SIGPIPE, SIG_IGN);
	/* the suites read /metrics without a token (t/test_auth checks
	   the default, which asks for one) */
	setenv("AFU9_METRICS", "open", 1);
	failed = t_run(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed;
}
