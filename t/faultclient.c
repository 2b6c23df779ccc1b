/*
 * Client of t/faultserver.py: start it, send it commands, read what it
 * recorded.  See faultclient.h.
 */
#include "config.h"

#include <sys/types.h>

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "faultclient.h"
#include "testutil.h"

static struct tproc	fc;
static int		fc_portnum;
static long		fc_seq;
static char		fc_url[64];	/* http://127.0.0.1:PORT */

char *
fc_tool_start(struct tproc *p, const char *rel, int timeout_ms)
{
	const char *py = getenv("PYTHON");
	const char *wrap = getenv("AFU9_TEST_WRAPPER");
	char script[4096], *saved = wrap ? strdup(wrap) : NULL, *line = NULL;
	char *argv[3];

	snprintf(script, sizeof(script), "%s", t_srcdir(rel));
	argv[0] = (char *)(py && *py ? py : "python3");
	argv[1] = script;
	argv[2] = NULL;
	/* the helpers are test tools, not afu9 code: never wrapped */
	unsetenv("AFU9_TEST_WRAPPER");
	if (t_spawn(p, argv, NULL, 0) == 0)
		line = t_read_line(p->out, timeout_ms);
	else
		p->pid = 0;
	if (saved != NULL) {
		setenv("AFU9_TEST_WRAPPER", saved, 1);
		free(saved);
	}
	return line;
}

int
fc_moto_start(struct tproc *p, char *why, size_t whylen)
{
	char *line = fc_tool_start(p, "t/aws/moto.py", 30000);
	int port = 0;

	if (line == NULL)
		snprintf(why, whylen, "t/aws/moto.py said nothing");
	else if (strncmp(line, "PORT ", 5) == 0)
		port = atoi(line + 5);
	else
		snprintf(why, whylen, "%s", line);
	free(line);
	return port;
}

int
fc_tool_wanted(int ready, const char *why, const char *what)
{
	const char *req = getenv("AFU9_REQUIRE_MOTO");

	if (ready || (req != NULL && strcmp(req, "1") == 0) ||
	    strncmp(why, "ABSENT ", 7) != 0)
		return 1;
	printf("# SKIP %s: %s (AFU9_REQUIRE_MOTO=1 makes this a failure)\n",
	    what, why + 7);
	fflush(stdout);
	return 0;
}

void
fc_aws_env(const char *endpoint, const char *akid, const char *secret)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS",
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
		"AWS_ENDPOINT_URL_CLOUDWATCH",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_ROLE_SESSION_NAME",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("AWS_CONFIG_FILE", "/nonexistent/afu9-test/aws/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	    "/nonexistent/afu9-test/aws/credentials", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ENDPOINT_URL", endpoint, 1);
	setenv("AWS_ACCESS_KEY_ID", akid, 1);
	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
}

void
fc_start(void)
{
	char *line = fc_tool_start(&fc, "t/faultserver.py", 20000);

	if (line == NULL) {
		fprintf(stderr, "cannot start %s\n",
		    t_srcdir("t/faultserver.py"));
		exit(99);
	}
	fc_portnum = atoi(line);
	free(line);
	if (fc_portnum <= 0 || fc_portnum > 65535) {
		fprintf(stderr, "t/faultserver.py: no port\n");
		exit(99);
	}
	snprintf(fc_url, sizeof(fc_url), "http://127.0.0.1:%d", fc_portnum);
}

int
fc_stop(int timeout_ms)
{
	return t_finish(&fc, timeout_ms);
}

int
fc_port(void)
{
	return fc_portnum;
}

const char *
fc_base(void)
{
	return fc_url;
}

json_t *
fc_proc_cmd(struct tproc *p, const char *what, json_t *cmd)
{
	long long id = (long long)getpid() * 1000000 + ++fc_seq;
	json_t *reply;
	char *s, *line;

	json_object_set_new(cmd, "id", json_integer(id));
	s = json_dumps(cmd, JSON_COMPACT);
	json_decref(cmd);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(t_write(p->in, s, strlen(s)), 0);
	ck_assert_int_eq(t_write(p->in, "\n", 1), 0);
	free(s);
	for (;;) {
		line = t_read_line(p->out, 15000 * t_slow());
		ck_assert_msg(line != NULL, "%s did not answer", what);
		reply = json_loads(line, 0, NULL);
		free(line);
		ck_assert_ptr_nonnull(reply);
		if (json_integer_value(json_object_get(reply, "id")) == id)
			return reply;
		json_decref(reply);
	}
}

json_t *
fc_cmd(json_t *cmd)
{
	return fc_proc_cmd(&fc, "fault server", cmd);
}

void
fc_simple(json_t *cmd)
{
	json_decref(fc_cmd(cmd));
}

void
fc_reset(void)
{
	fc_simple(json_pack("{s:s}", "cmd", "reset"));
}

void
fc_push(json_t *spec)
{
	fc_simple(json_pack("{s:s, s:o}", "cmd", "push", "response", spec));
}

json_t *
fc_requests(void)
{
	json_t *r = fc_cmd(json_pack("{s:s}", "cmd", "requests"));
	json_t *a = json_incref(json_object_get(r, "requests"));

	json_decref(r);
	return a;
}

json_t *
fc_body(size_t n)
{
	json_t *a = fc_requests(), *b;

	b = json_loads(json_string_value(json_object_get(json_array_get(a, n),
	    "body")), 0, NULL);
	json_decref(a);
	ck_assert_msg(b != NULL, "request %zu has no JSON body", n);
	return b;
}

size_t
fc_count(void)
{
	json_t *a = fc_requests();
	size_t n = json_array_size(a);

	json_decref(a);
	return n;
}

const char *
fc_header(const json_t *req, const char *name, int *count)
{
	const json_t *h = json_object_get(req, "headers"), *kv;
	const char *v = NULL;
	size_t i;

	*count = 0;
	json_array_foreach(h, i, kv)
		if (strcasecmp(json_string_value(json_array_get(kv, 0)),
		    name) == 0) {
			v = json_string_value(json_array_get(kv, 1));
			(*count)++;
		}
	return v;
}

void
fc_assert_header(const json_t *req, const char *name, const char *want)
{
	int n;
	const char *v = fc_header(req, name, &n);

	ck_assert_msg(n == 1, "%s sent %d times", name, n);
	ck_assert_str_eq(v, want);
}

void
fc_assert_no_header(const json_t *req, const char *name)
{
	int n;

	fc_header(req, name, &n);
	ck_assert_msg(n == 0, "%s sent", name);
}
