#include "config.h"

#include <sys/stat.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redact.h"
#include "testutil.h"
#include "conf/conf.h"

/* Every variable a test may set; all unset around each test. */
static const char *const tvars[] = {
	"AFU9_T_API", "AFU9_T_ROOT", "AFU9_T_UNSET_LEGACY", "AFU9_T_LISTED",
	"AFU9_T_GH_TOKEN", "AFU9_T_A", "AFU9_T_B", "AFU9_T_EMPTY",
	"AFU9_T_UNSET", "AFU9_T_PLAIN", "AFU9_T_MY_TOKEN", "AFU9_T_ORPHAN",
	"AFU9_T_SHORT", "AFU9_T_LONG", "AFU9_T_KEY_VALUE", "GITHUB_TOKEN",
	"GITHUB_API_URL", "AFU9_HTTP_LISTEN", "AFU9_MAX_MESSAGE_BYTES",
	NULL
};

static char	 tdir[64];
static char	*saved_path;
static char	 err[1024];

static void
setup(void)
{
	size_t i;

	strcpy(tdir, "/tmp/afu9-conf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	for (i = 0; tvars[i] != NULL; i++)
		unsetenv(tvars[i]);
	saved_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	redact_clear();
	err[0] = '\0';
}

static void
teardown(void)
{
	char cmd[128];
	size_t i;

	for (i = 0; tvars[i] != NULL; i++)
		unsetenv(tvars[i]);
	if (saved_path != NULL)
		setenv("PATH", saved_path, 1);
	free(saved_path);
	saved_path = NULL;
	redact_clear();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Path of name in the temp dir (static buffer rotated among 4). */
static const char *
tpath(const char *name)
{
	static char b[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(b[k], sizeof(b[k]), "%s/%s", tdir, name);
	return b[k];
}

static void
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(t_write(fd, data, len), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* Load text as the file tdir/c.json. */
static struct afu9_config *
load_text(const char *text, const char *exe_dir)
{
	const char *p = tpath("c.json");

	write_file(p, text, strlen(text), 0644);
	return config_load_file(p, exe_dir, err, sizeof(err));
}

/* The load of text fails with exactly "<file>: want". */
static void
expect_error(const char *text, const char *want)
{
	struct afu9_config *cfg = load_text(text, NULL);
	char full[1024];

	snprintf(full, sizeof(full), "%s: %s", tpath("c.json"), want);
	ck_assert_msg(cfg == NULL, "loaded: %s", text);
	ck_assert_str_eq(err, full);
}

static void
mkdir_p(const char *p)
{
	ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void
fake_exec(const char *path, mode_t mode)
{
	static const char sh[] = "#!/bin/sh\nexit 0\n";

	write_file(path, sh, sizeof(sh) - 1, mode);
}

/* Vector v equals want (both NULL-terminated), shown on failure. */
static void
assert_strv(char *const *v, const char *const *want)
{
	size_t i;

	ck_assert_ptr_nonnull(v);
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(v[i] != NULL, "entry %zu missing, want \"%s\"",
		    i, want[i]);
		ck_assert_str_eq(v[i], want[i]);
	}
	ck_assert_msg(v[i] == NULL, "extra entry %zu: \"%s\"", i, v[i]);
}

/* --- valid files ---------------------------------------------------------- */

START_TEST(full_fixture)
{
	static const char *const gh_env[] = {
		"GITHUB_API_URL=https://api.github.com", NULL
	};
	static const char *const fs_argv[] = {
		"npx", "-y", "@modelcontextprotocol/server-filesystem",
		"/srv/data", NULL
	};
	static const char *const fs_env[] = {
		"NODE_OPTIONS=--max-old-space-size=256", "PRICE=$5", NULL
	};
	static const char *const fs_pass[] = {
		"PATH", "HOME", "NPM_CONFIG_*", NULL
	};
	static const char *const legacy_argv[] = {
		"/opt/legacy/bin/afu9-legacy", "--root",
		"${AFU9_T_UNSET_LEGACY}", NULL
	};
	static const char *const secrets[] = { "AFU9_T_LISTED", NULL };
	const struct config_server *s;
	struct afu9_config *cfg;
	char path[PATH_MAX];

	setenv("AFU9_T_ROOT", "/srv/data", 1);
	snprintf(path, sizeof(path), "%s", t_srcdir("t/config/full.json"));
	cfg = config_load_file(path, NULL, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->source, path);
	ck_assert_str_eq(cfg->listen, "[::]:9090");
	ck_assert_uint_eq(cfg->shutdown_grace_ms, 5000);
	assert_strv(cfg->secrets, secrets);
	ck_assert_uint_eq(cfg->nservers, 3);

	s = &cfg->servers[0];
	ck_assert_str_eq(s->name, "github");
	ck_assert_str_eq(s->command, "afu9-github");
	ck_assert_uint_eq(s->argc, 1);
	ck_assert_str_eq(s->argv[0], "afu9-github");
	ck_assert_ptr_null(s->argv[1]);
	assert_strv(s->env, gh_env);
	ck_assert_uint_eq(s->nenv, 1);
	ck_assert_int_eq(s->framing, FRAME_CL);
	ck_assert_int_eq(s->restart, SUP_ALWAYS);
	ck_assert_int_eq(s->required, 1);
	ck_assert_int_eq(s->disabled, 0);
	ck_assert_uint_eq(s->call_timeout_ms, CONFIG_DEFAULT_CALL_TIMEOUT_MS);
	ck_assert_uint_eq(s->ping_interval_ms,
	    CONFIG_DEFAULT_PING_INTERVAL_MS);
	ck_assert_uint_eq(s->ping_timeout_ms, CONFIG_DEFAULT_PING_TIMEOUT_MS);
	ck_assert_uint_eq(s->max_message_bytes, FRAME_DEFAULT_MAX_MSG);

	s = config_server_find(cfg, "fs");
	ck_assert_ptr_eq(s, &cfg->servers[1]);
	assert_strv(s->argv, fs_argv);
	ck_assert_uint_eq(s->argc, 4);
	assert_strv(s->env, fs_env);
	assert_strv(s->pass, fs_pass);
	ck_assert_uint_eq(s->npass, 3);
	ck_assert_int_eq(s->framing, FRAME_NDJSON);
	ck_assert_int_eq(s->restart, SUP_ON_FAILURE);
	ck_assert_int_eq(s->required, 0);
	ck_assert_uint_eq(s->call_timeout_ms, 120000);
	ck_assert_uint_eq(s->ping_interval_ms, 0);
	ck_assert_uint_eq(s->ping_timeout_ms, 5000);
	ck_assert_uint_eq(s->max_message_bytes, 1048576);

	/* Disabled: checked, not expanded (its variable is unset). */
	s = config_server_find(cfg, "legacy");
	ck_assert_int_eq(s->disabled, 1);
	assert_strv(s->argv, legacy_argv);
	ck_assert_int_eq(s->framing, FRAME_NDJSON);
	ck_assert_int_eq(s->restart, SUP_NEVER);
	ck_assert_ptr_null(config_server_find(cfg, "nope"));
	config_free(cfg);
}
END_TEST

START_TEST(host_shape_accepted)
{
	struct afu9_config *cfg;

	setenv("AFU9_T_GH_TOKEN", "tok-0123456789", 1);
	cfg = config_load_file(t_srcdir("t/config/claude-desktop.json"), NULL,
	    err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_uint_eq(cfg->nservers, 2);
	ck_assert_str_eq(cfg->servers[0].env[0], "GITHUB_TOKEN=tok-0123456789");
	ck_assert_int_eq(cfg->servers[0].framing, FRAME_CL);
	ck_assert_int_eq(cfg->servers[1].framing, FRAME_NDJSON);
	ck_assert_str_eq(cfg->listen, CONFIG_DEFAULT_LISTEN);
	ck_assert_uint_eq(cfg->shutdown_grace_ms, CONFIG_DEFAULT_GRACE_MS);
	ck_assert_ptr_nonnull(cfg->secrets);
	ck_assert_ptr_null(cfg->secrets[0]);
	config_free(cfg);
}
END_TEST

START_TEST(empty_server_set)
{
	struct afu9_config *cfg = load_text("{\"mcpServers\": {}}", NULL);

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_uint_eq(cfg->nservers, 0);
	config_free(cfg);
}
END_TEST

START_TEST(framing_defaults)
{
	struct afu9_config *cfg = load_text("{\"mcpServers\": {"
	    "\"a\": {\"command\": \"/usr/lib/afu9/afu9-x\"},"
	    "\"b\": {\"command\": \"./afu9\"},"
	    "\"c\": {\"command\": \"afu9-y\", \"framing\": \"ndjson\"},"
	    "\"d\": {\"command\": \"node\", \"framing\": \"content-length\"},"
	    "\"e\": {\"command\": \"/opt/afu9-dir/server\"}}}", NULL);

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->servers[0].framing, FRAME_CL);
	ck_assert_int_eq(cfg->servers[1].framing, FRAME_NDJSON);
	ck_assert_int_eq(cfg->servers[2].framing, FRAME_NDJSON);
	ck_assert_int_eq(cfg->servers[3].framing, FRAME_CL);
	ck_assert_int_eq(cfg->servers[4].framing, FRAME_NDJSON);
	ck_assert_str_eq(config_framing_name(FRAME_CL), "content-length");
	ck_assert_str_eq(config_framing_name(FRAME_NDJSON), "ndjson");
	ck_assert_str_eq(config_restart_name(SUP_ON_FAILURE), "on-failure");
	config_free(cfg);
}
END_TEST

START_TEST(bounds_accepted)
{
	struct afu9_config *cfg = load_text("{\"mcpServers\": {"
	    "\"a-b_C9\": {\"command\": \"x\", \"callTimeoutMs\": 1,"
	    " \"pingTimeoutMs\": 3600000, \"pingIntervalMs\": 3600000,"
	    " \"maxMessageBytes\": 1024},"
	    "\"abcdefghijklmnopqrstuvwxyz012345\": {\"command\": \"x\","
	    " \"maxMessageBytes\": 1073741824, \"callTimeoutMs\": 3600000}},"
	    "\"afu9\": {\"shutdownGraceMs\": 0,"
	    " \"http\": {\"listen\": \"127.0.0.1:0\"}}}", NULL);

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_uint_eq(cfg->servers[0].call_timeout_ms, 1);
	ck_assert_uint_eq(cfg->servers[0].ping_timeout_ms, 3600000);
	ck_assert_uint_eq(cfg->servers[0].max_message_bytes, 1024);
	ck_assert_uint_eq(cfg->servers[1].max_message_bytes, 1073741824);
	ck_assert_uint_eq(cfg->shutdown_grace_ms, 0);
	ck_assert_str_eq(cfg->listen, "127.0.0.1:0");
	config_free(cfg);
}
END_TEST

START_TEST(max_message_default_from_env)
{
	struct afu9_config *cfg;

	setenv("AFU9_MAX_MESSAGE_BYTES", "2048", 1);
	cfg = load_text("{\"mcpServers\": {\"a\": {\"command\": \"x\"}}}",
	    NULL);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_uint_eq(cfg->servers[0].max_message_bytes, 2048);
	config_free(cfg);
}
END_TEST

/* --- refused files: the exact message ------------------------------------- */

static const struct {
	const char	*json;
	const char	*want;
} bads[] = {
	{ "[]", "$: must be an object" },
	{ "{}", "$: missing key \"mcpServers\"" },
	{ "{\"mcpServers\": {}, \"mcpServer\": {}}",
	  "$.mcpServer: unknown key" },
	{ "{\"mcpServers\": []}", "$.mcpServers: must be an object" },
	{ "{\"mcpServers\": {\"a\": 1}}", "$.mcpServers.a: must be an object" },
	{ "{\"mcpServers\": {\"a b\": {\"command\": \"x\"}}}",
	  "$.mcpServers[\"a b\"]: server names are 1 to 32 of "
	  "A-Z a-z 0-9 _ -" },
	{ "{\"mcpServers\": {\"\": {\"command\": \"x\"}}}",
	  "$.mcpServers[\"\"]: server names are 1 to 32 of A-Z a-z 0-9 _ -" },
	{ "{\"mcpServers\": {\"abcdefghijklmnopqrstuvwxyz0123456\": "
	  "{\"command\": \"x\"}}}",
	  "$.mcpServers.abcdefghijklmnopqrstuvwxyz0123456: server names are "
	  "1 to 32 of A-Z a-z 0-9 _ -" },
	{ "{\"mcpServers\": {\"gh.x\": {\"command\": \"x\"}}}",
	  "$.mcpServers[\"gh.x\"]: server names are 1 to 32 of "
	  "A-Z a-z 0-9 _ -" },
	{ "{\"mcpServers\": {\"a\": {}}}",
	  "$.mcpServers.a: missing key \"command\"" },
	{ "{\"mcpServers\": {\"a\": {\"comand\": \"x\"}}}",
	  "$.mcpServers.a.comand: unknown key" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"a\\\"b\": 1}}}",
	  "$.mcpServers.a[\"a\\\"b\"]: unknown key" },
	{ "{\"mcpServers\": {\"a\": {\"command\": 42}}}",
	  "$.mcpServers.a.command: must be a string" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"\"}}}",
	  "$.mcpServers.a.command: must not be empty" },
	{ "{\"mcpServers\": {\"github\": {\"command\": \"x\", "
	  "\"args\": [\"a\", 1]}}}",
	  "$.mcpServers.github.args[1]: must be a string" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"args\": \"-v\"}}}",
	  "$.mcpServers.a.args: must be an array" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"env\": []}}}",
	  "$.mcpServers.a.env: must be an object" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"env\": {\"X\": 1}}}}",
	  "$.mcpServers.a.env.X: must be a string" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"env\": {\"1X\": \"v\"}}}}",
	  "$.mcpServers.a.env.1X: variable names must match "
	  "[A-Za-z_][A-Za-z0-9_]* (at most 128 bytes)" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"env\": {\"A=B\": \"v\"}}}}",
	  "$.mcpServers.a.env[\"A=B\"]: variable names must match "
	  "[A-Za-z_][A-Za-z0-9_]* (at most 128 bytes)" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"type\": \"http\"}}}",
	  "$.mcpServers.a.type: must be \"stdio\" (the only transport "
	  "supported)" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"framing\": \"lsp\"}}}",
	  "$.mcpServers.a.framing: must be \"content-length\" or \"ndjson\"" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"restart\": \"sometimes\"}}}",
	  "$.mcpServers.a.restart: must be \"always\", \"on-failure\" or "
	  "\"never\"" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"restart\": true}}}",
	  "$.mcpServers.a.restart: must be a string" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"required\": \"yes\"}}}",
	  "$.mcpServers.a.required: must be true or false" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"disabled\": 0}}}",
	  "$.mcpServers.a.disabled: must be true or false" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"callTimeoutMs\": 0}}}",
	  "$.mcpServers.a.callTimeoutMs: must be between 1 and 3600000" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"callTimeoutMs\": 3600001}}}",
	  "$.mcpServers.a.callTimeoutMs: must be between 1 and 3600000" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"callTimeoutMs\": 1.5}}}",
	  "$.mcpServers.a.callTimeoutMs: must be an integer" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"callTimeoutMs\": \"100\"}}}",
	  "$.mcpServers.a.callTimeoutMs: must be an integer" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"pingIntervalMs\": -1}}}",
	  "$.mcpServers.a.pingIntervalMs: must be between 0 and 3600000" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"pingTimeoutMs\": 0}}}",
	  "$.mcpServers.a.pingTimeoutMs: must be between 1 and 3600000" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"maxMessageBytes\": 1023}}}",
	  "$.mcpServers.a.maxMessageBytes: must be between 1024 and "
	  "1073741824" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"maxMessageBytes\": 99999999999999999}}}",
	  "$.mcpServers.a.maxMessageBytes: must be between 1024 and "
	  "1073741824" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"envPassthrough\": \"PATH\"}}}",
	  "$.mcpServers.a.envPassthrough: must be an array" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"envPassthrough\": [\"PATH\", \"A*B\"]}}}",
	  "$.mcpServers.a.envPassthrough[1]: must be a variable name, or a "
	  "name prefix ending in '*'" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"envPassthrough\": [\"*\"]}}}",
	  "$.mcpServers.a.envPassthrough[0]: must be a variable name, or a "
	  "name prefix ending in '*'" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"envPassthrough\": [\"PATH\", \"PATH\"]}}}",
	  "$.mcpServers.a.envPassthrough[1]: \"PATH\" is listed twice" },
	/* environment references */
	{ "{\"mcpServers\": {\"github\": {\"command\": \"x\", "
	  "\"env\": {\"GITHUB_TOKEN\": \"${AFU9_T_UNSET}\"}}}}",
	  "$.mcpServers.github.env.GITHUB_TOKEN: environment variable "
	  "AFU9_T_UNSET is not set" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"${AFU9_T_UNSET}/bin\"}}}",
	  "$.mcpServers.a.command: environment variable AFU9_T_UNSET is "
	  "not set" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"args\": [\"ok\", \"a${AFU9_T_A\"]}}}",
	  "$.mcpServers.a.args[1]: unterminated \"${\"" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"args\": [\"${1A}\"]}}}",
	  "$.mcpServers.a.args[0]: bad reference \"${1A}\": use ${NAME} or "
	  "${NAME:-default}" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"args\": [\"${}\"]}}}",
	  "$.mcpServers.a.args[0]: bad reference \"${}\": use ${NAME} or "
	  "${NAME:-default}" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"args\": [\"${A-b}\"]}}}",
	  "$.mcpServers.a.args[0]: bad reference \"${A-b}\": use ${NAME} or "
	  "${NAME:-default}" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"args\": [\"${A:b}\"]}}}",
	  "$.mcpServers.a.args[0]: bad reference \"${A:b}\": use ${NAME} or "
	  "${NAME:-default}" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"args\": [\"cost: $5\"]}}}",
	  "$.mcpServers.a.args[0]: a '$' must start ${NAME} or "
	  "${NAME:-default}; write $$ for a '$'" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"args\": [\"$HOME\"]}}}",
	  "$.mcpServers.a.args[0]: a '$' must start ${NAME} or "
	  "${NAME:-default}; write $$ for a '$'" },
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	  "\"args\": [\"end$\"]}}}",
	  "$.mcpServers.a.args[0]: a '$' must start ${NAME} or "
	  "${NAME:-default}; write $$ for a '$'" },
	/* a disabled server is still checked for syntax */
	{ "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"disabled\": true, "
	  "\"args\": [\"${\"]}}}",
	  "$.mcpServers.a.args[0]: unterminated \"${\"" },
	{ "{\"mcpServers\": {\"a\": {\"disabled\": true}}}",
	  "$.mcpServers.a: missing key \"command\"" },
	/* afu9 keys */
	{ "{\"mcpServers\": {}, \"afu9\": []}", "$.afu9: must be an object" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"listen\": \"0.0.0.0:1\"}}",
	  "$.afu9.listen: unknown key" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"http\": {\"port\": 1}}}",
	  "$.afu9.http.port: unknown key" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"http\": "
	  "{\"listen\": \"localhost:8080\"}}}",
	  "$.afu9.http.listen: must be IPv4:PORT or [IPv6]:PORT, numeric "
	  "(e.g. \"0.0.0.0:8080\", \"[::]:8080\")" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"http\": "
	  "{\"listen\": \"0.0.0.0:65536\"}}}",
	  "$.afu9.http.listen: must be IPv4:PORT or [IPv6]:PORT, numeric "
	  "(e.g. \"0.0.0.0:8080\", \"[::]:8080\")" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"http\": {\"listen\": \"::1:80\"}}}",
	  "$.afu9.http.listen: must be IPv4:PORT or [IPv6]:PORT, numeric "
	  "(e.g. \"0.0.0.0:8080\", \"[::]:8080\")" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"http\": {\"listen\": \"[::1]:\"}}}",
	  "$.afu9.http.listen: must be IPv4:PORT or [IPv6]:PORT, numeric "
	  "(e.g. \"0.0.0.0:8080\", \"[::]:8080\")" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"http\": {\"listen\": 8080}}}",
	  "$.afu9.http.listen: must be a string" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"shutdownGraceMs\": -1}}",
	  "$.afu9.shutdownGraceMs: must be between 0 and 3600000" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"secrets\": [1]}}",
	  "$.afu9.secrets[0]: must be a string" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"secrets\": [\"MY-KEY\"]}}",
	  "$.afu9.secrets[0]: must be a variable name" },
	{ "{\"mcpServers\": {}, \"afu9\": {\"secrets\": [\"A\", \"A\"]}}",
	  "$.afu9.secrets[1]: \"A\" is listed twice" },
	/* the first error wins: afu9 before mcpServers, keys in order */
	{ "{\"mcpServers\": {\"a\": {\"command\": 1}}, \"afu9\": "
	  "{\"shutdownGraceMs\": true}}",
	  "$.afu9.shutdownGraceMs: must be an integer" },
	{ "{\"mcpServers\": {\"a\": {\"command\": 1, \"args\": 1}, "
	  "\"b\": {}}}",
	  "$.mcpServers.a.command: must be a string" },
	/* malformed JSON reports line and column */
	{ "{\"mcpServers\": {", NULL },
};

START_TEST(refused)
{
	char want[1024];

	if (bads[_i].want != NULL) {
		expect_error(bads[_i].json, bads[_i].want);
		return;
	}
	ck_assert_ptr_null(load_text(bads[_i].json, NULL));
	snprintf(want, sizeof(want), "%s:1:16: string or '}' expected near "
	    "end of file", tpath("c.json"));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(duplicate_keys_refused)
{
	char path[PATH_MAX], want[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s", t_srcdir("t/config/duplicate.json"));
	ck_assert_ptr_null(config_load_file(path, NULL, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:4:12: duplicate object key near "
	    "'\"github\"'", path);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(load_text("{\"mcpServers\": {\"a\": "
	    "{\"command\": \"x\", \"env\": {\"A\": \"1\", \"A\": \"2\"}}}}",
	    NULL));
	snprintf(want, sizeof(want), "%s:1:59: duplicate object key near "
	    "'\"A\"'", tpath("c.json"));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(truncated_file)
{
	char path[PATH_MAX], want[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s", t_srcdir("t/config/truncated.json"));
	ck_assert_ptr_null(config_load_file(path, NULL, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:4:0: '}' expected near "
	    "end of file", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(unreadable_files)
{
	char want[PATH_MAX + 128];

	ck_assert_ptr_null(config_load_file(tpath("missing.json"), NULL, err,
	    sizeof(err)));
	snprintf(want, sizeof(want), "%s: cannot open: No such file or "
	    "directory", tpath("missing.json"));
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(config_load_file(tdir, NULL, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: cannot read: is a directory", tdir);
	ck_assert_str_eq(err, want);
}
END_TEST

/* A valid file of exactly n bytes: the object padded with spaces. */
static void
write_padded(const char *path, size_t n)
{
	static const char obj[] = "{\"mcpServers\": {}}";
	char *b = malloc(n);

	ck_assert_ptr_nonnull(b);
	memset(b, ' ', n);
	memcpy(b, obj, sizeof(obj) - 1);
	write_file(path, b, n, 0644);
	free(b);
}

START_TEST(file_size_limit)
{
	struct afu9_config *cfg;
	char want[PATH_MAX + 128];

	write_padded(tpath("big.json"), CONFIG_MAX_FILE);
	cfg = config_load_file(tpath("big.json"), NULL, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	config_free(cfg);
	write_padded(tpath("big.json"), CONFIG_MAX_FILE + 1);
	ck_assert_ptr_null(config_load_file(tpath("big.json"), NULL, err,
	    sizeof(err)));
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes",
	    tpath("big.json"));
	ck_assert_str_eq(err, want);
}
END_TEST

/* {"mcpServers": {"s0": {"command": "x"}, ... n servers}} */
static char *
servers_json(int n)
{
	char *b = malloc((size_t)n * 40 + 64);
	size_t len;
	int i;

	ck_assert_ptr_nonnull(b);
	len = (size_t)sprintf(b, "{\"mcpServers\": {");
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(b + len, "%s\"s%d\": {\"command\": \"x\"}",
		    i ? ", " : "", i);
	strcpy(b + len, "}}");
	return b;
}

START_TEST(server_count_limit)
{
	struct afu9_config *cfg;
	char *j = servers_json(CONFIG_MAX_SERVERS);

	cfg = load_text(j, NULL);
	free(j);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_uint_eq(cfg->nservers, 64);
	ck_assert_str_eq(cfg->servers[63].name, "s63");
	config_free(cfg);
	j = servers_json(CONFIG_MAX_SERVERS + 1);
	expect_error(j, "$.mcpServers: more than 64 servers");
	free(j);
}
END_TEST

/* A server with n args "a", or n env entries "Vi": "v". */
static char *
list_json(int n, int env)
{
	char *b = malloc((size_t)n * 16 + 128);
	size_t len;
	int i;

	ck_assert_ptr_nonnull(b);
	len = (size_t)sprintf(b, "{\"mcpServers\": {\"a\": {\"command\": "
	    "\"x\", \"%s\": %c", env ? "env" : "args", env ? '{' : '[');
	for (i = 0; i < n; i++)
		len += (size_t)(env ? sprintf(b + len, "%s\"V%d\": \"v\"",
		    i ? ", " : "", i) : sprintf(b + len, "%s\"a\"",
		    i ? ", " : ""));
	sprintf(b + len, "%c}}}", env ? '}' : ']');
	return b;
}

START_TEST(list_limits)
{
	struct afu9_config *cfg;
	char *j;

	j = list_json(CONFIG_MAX_ARGS, 0);
	cfg = load_text(j, NULL);
	free(j);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_uint_eq(cfg->servers[0].argc, SUP_ARGV_MAX);
	config_free(cfg);
	j = list_json(CONFIG_MAX_ARGS + 1, 0);
	expect_error(j, "$.mcpServers.a.args: more than 1023 entries");
	free(j);

	j = list_json(CONFIG_MAX_ENV, 1);
	cfg = load_text(j, NULL);
	free(j);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_uint_eq(cfg->servers[0].nenv, 128);
	config_free(cfg);
	j = list_json(CONFIG_MAX_ENV + 1, 1);
	expect_error(j, "$.mcpServers.a.env: more than 128 entries");
	free(j);
}
END_TEST

/* --- environment references ----------------------------------------------- */

/* Expand s as the one arg of a server; returns it (static) or NULL. */
static const char *
expand_arg(const char *s)
{
	static char out[CONFIG_MAX_STR + 1];
	struct afu9_config *cfg;
	char *j;
	json_t *o = json_pack("{s:{s:{s:s,s:[s]}}}", "mcpServers", "a",
	    "command", "x", "args", s);

	ck_assert_ptr_nonnull(o);
	j = json_dumps(o, 0);
	json_decref(o);
	ck_assert_ptr_nonnull(j);
	cfg = load_text(j, NULL);
	free(j);
	if (cfg == NULL)
		return NULL;
	snprintf(out, sizeof(out), "%s", cfg->servers[0].argv[1]);
	config_free(cfg);
	return out;
}

START_TEST(expansion)
{
	setenv("AFU9_T_A", "alpha", 1);
	setenv("AFU9_T_B", "b:{}$x", 1);
	setenv("AFU9_T_EMPTY", "", 1);

	ck_assert_str_eq(expand_arg("${AFU9_T_A}"), "alpha");
	ck_assert_str_eq(expand_arg("pre-${AFU9_T_A}-${AFU9_T_B}-post"),
	    "pre-alpha-b:{}$x-post");
	ck_assert_str_eq(expand_arg("${AFU9_T_A:-d}"), "alpha");
	ck_assert_str_eq(expand_arg("${AFU9_T_UNSET:-d}"), "d");
	ck_assert_str_eq(expand_arg("${AFU9_T_UNSET:-a:b c/d}"), "a:b c/d");
	ck_assert_str_eq(expand_arg("${AFU9_T_UNSET:-}"), "");
	ck_assert_str_eq(expand_arg("${AFU9_T_UNSET:-$}"), "$");
	ck_assert_str_eq(expand_arg("${AFU9_T_EMPTY}"), "");
	ck_assert_str_eq(expand_arg("${AFU9_T_EMPTY:-dflt}"), "dflt");
	ck_assert_str_eq(expand_arg("$$"), "$");
	ck_assert_str_eq(expand_arg("$$5 and $$$$"), "$5 and $$");
	ck_assert_str_eq(expand_arg("$${AFU9_T_A}"), "${AFU9_T_A}");
	ck_assert_str_eq(expand_arg("$$${AFU9_T_A}"), "$alpha");
	ck_assert_str_eq(expand_arg("{}}"), "{}}");
	ck_assert_str_eq(expand_arg(""), "");
	ck_assert_ptr_null(expand_arg("${AFU9_T_UNSET}"));
	ck_assert_str_eq(err + strlen(tpath("c.json")),
	    ": $.mcpServers.a.args[0]: environment variable AFU9_T_UNSET is "
	    "not set");
}
END_TEST

START_TEST(expansion_everywhere)
{
	static const char *const env[] = {
		"URL=http://h:1/x", "LIT=${AFU9_T_A}", NULL
	};
	struct afu9_config *cfg;

	setenv("AFU9_T_A", "/opt/bin", 1);
	cfg = load_text("{\"mcpServers\": {\"a\": {"
	    "\"command\": \"${AFU9_T_A}/srv\","
	    "\"env\": {\"URL\": \"http://${AFU9_T_UNSET:-h:1}/x\","
	    " \"LIT\": \"$${AFU9_T_A}\"}}}}", NULL);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->servers[0].command, "/opt/bin/srv");
	ck_assert_str_eq(cfg->servers[0].argv[0], "/opt/bin/srv");
	assert_strv(cfg->servers[0].env, env);
	config_free(cfg);
}
END_TEST

START_TEST(expansion_length_limit)
{
	char *v = malloc(20001);

	ck_assert_ptr_nonnull(v);
	memset(v, 'v', 20000);
	v[20000] = '\0';
	setenv("AFU9_T_LONG", v, 1);
	free(v);
	ck_assert_uint_eq(strlen(expand_arg("${AFU9_T_LONG}")), 20000);
	ck_assert_ptr_null(expand_arg("${AFU9_T_LONG}${AFU9_T_LONG}"));
	ck_assert_str_eq(err + strlen(tpath("c.json")),
	    ": $.mcpServers.a.args[0]: longer than 32768 bytes after "
	    "expansion");
}
END_TEST

/* --- secrets -------------------------------------------------------------- */

static int
registered(const char *v)
{
	return redact_contains_secret(v, strlen(v));
}

START_TEST(secrets_registered)
{
	struct afu9_config *cfg;

	setenv("AFU9_T_MY_TOKEN", "tokval-1111", 1);	/* sensitive name */
	setenv("AFU9_T_PLAIN", "plainval-2222", 1);	/* not sensitive */
	setenv("AFU9_T_KEY_VALUE", "keyval-3333", 1);	/* under API_KEY */
	setenv("AFU9_T_LISTED", "listed-4444", 1);	/* in afu9.secrets */
	setenv("AFU9_T_ORPHAN", "orphan-5555", 1);	/* listed, unused */
	setenv("GITHUB_TOKEN", "ghtoken-6666", 1);	/* passed through */
	setenv("GITHUB_API_URL", "http://127.0.0.1:1", 1); /* passed, plain */
	setenv("AFU9_T_SHORT", "abc", 1);		/* too short: skipped */
	cfg = load_text("{\"mcpServers\": {"
	    "\"a\": {\"command\": \"x\", \"args\": [\"--t=${AFU9_T_MY_TOKEN}\","
	    " \"${AFU9_T_PLAIN}\", \"${AFU9_T_LISTED}\"],"
	    " \"env\": {\"API_KEY\": \"k-${AFU9_T_KEY_VALUE}\","
	    " \"DB_PASSWORD\": \"literal-7777\","
	    " \"AFU9_T_SHORT_TOKEN\": \"${AFU9_T_SHORT}\"}},"
	    "\"gh\": {\"command\": \"afu9-github\"}},"
	    "\"afu9\": {\"secrets\": [\"AFU9_T_LISTED\", \"AFU9_T_ORPHAN\"]}}",
	    NULL);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert(registered("tokval-1111"));
	ck_assert(!registered("plainval-2222"));
	ck_assert(registered("k-keyval-3333"));
	ck_assert(registered("listed-4444"));
	ck_assert(registered("orphan-5555"));
	ck_assert(registered("ghtoken-6666"));
	ck_assert(!registered("http://127.0.0.1:1"));
	ck_assert(registered("literal-7777"));
	ck_assert(!registered("abc"));
	config_free(cfg);
}
END_TEST

START_TEST(secrets_not_registered_on_failure)
{
	setenv("AFU9_T_MY_TOKEN", "tokval-1111", 1);
	setenv("GITHUB_TOKEN", "ghtoken-6666", 1);
	ck_assert_ptr_null(load_text("{\"mcpServers\": {"
	    "\"a\": {\"command\": \"afu9-github\","
	    " \"args\": [\"${AFU9_T_MY_TOKEN}\"]},"
	    "\"b\": {\"command\": \"x\", \"restart\": \"maybe\"}}}", NULL));
	ck_assert(!registered("tokval-1111"));
	ck_assert(!registered("ghtoken-6666"));
}
END_TEST

START_TEST(secrets_of_disabled_server_ignored)
{
	struct afu9_config *cfg;

	setenv("AFU9_T_MY_TOKEN", "tokval-1111", 1);
	setenv("GITHUB_TOKEN", "ghtoken-6666", 1);
	cfg = load_text("{\"mcpServers\": {\"a\": {\"command\": "
	    "\"afu9-github\", \"disabled\": true,"
	    " \"args\": [\"${AFU9_T_MY_TOKEN}\"]}}}", NULL);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert(!registered("tokval-1111"));
	ck_assert(!registered("ghtoken-6666"));
	config_free(cfg);
}
END_TEST

/* The redactor holds 64 secrets: one more fails the load, with a reason. */
START_TEST(secrets_beyond_redactor_capacity)
{
	char *b = malloc(80 * 48 + 128), want[PATH_MAX + 128];
	size_t len;
	int i;

	ck_assert_ptr_nonnull(b);
	len = (size_t)sprintf(b, "{\"mcpServers\": {\"a\": {\"command\": "
	    "\"x\", \"env\": {");
	for (i = 0; i < 65; i++)
		len += (size_t)sprintf(b + len, "%s\"T%d_TOKEN\": \"value-%04d\"",
		    i ? ", " : "", i, i);
	strcpy(b + len, "}}}}");
	ck_assert_ptr_null(load_text(b, NULL));
	snprintf(want, sizeof(want), "%s: cannot register a secret with the "
	    "redactor: too many secrets", tpath("c.json"));
	ck_assert_str_eq(err, want);
	/* 64 fit. */
	strcpy(strstr(b, ", \"T64_TOKEN\""), "}}}}");
	redact_clear();
	{
		struct afu9_config *cfg = load_text(b, NULL);

		ck_assert_msg(cfg != NULL, "%s", err);
		ck_assert(registered("value-0063"));
		config_free(cfg);
	}
	free(b);
}
END_TEST

/* --- commands next to the binary, and the built-in default ---------------- */

START_TEST(file_commands_resolved_in_exe_dir)
{
	struct afu9_config *cfg;
	char bin[512], want[PATH_MAX];

	snprintf(bin, sizeof(bin), "%s", tpath("bin"));
	mkdir_p(bin);
	fake_exec(tpath("bin/afu9-github"), 0755);
	fake_exec(tpath("bin/afu9-noexec"), 0644);
	fake_exec(tpath("bin/tool"), 0755);
	cfg = load_text("{\"mcpServers\": {"
	    "\"a\": {\"command\": \"afu9-github\"},"
	    "\"b\": {\"command\": \"afu9-deploy\"},"
	    "\"c\": {\"command\": \"afu9-noexec\"},"
	    "\"d\": {\"command\": \"tool\"},"
	    "\"e\": {\"command\": \"/usr/bin/afu9-github\"}}}", bin);
	ck_assert_msg(cfg != NULL, "%s", err);
	snprintf(want, sizeof(want), "%s/afu9-github", bin);
	ck_assert_str_eq(cfg->servers[0].command, want);
	ck_assert_str_eq(cfg->servers[0].argv[0], want);
	ck_assert_int_eq(cfg->servers[0].framing, FRAME_CL);
	ck_assert_str_eq(cfg->servers[1].command, "afu9-deploy");
	ck_assert_str_eq(cfg->servers[2].command, "afu9-noexec");
	ck_assert_str_eq(cfg->servers[3].command, "tool");
	ck_assert_str_eq(cfg->servers[4].command, "/usr/bin/afu9-github");
	config_free(cfg);
}
END_TEST

static void
check_builtin_pass(const struct afu9_config *cfg)
{
	ck_assert_str_eq(cfg->servers[0].pass[14], "GITHUB_TOKEN");
	ck_assert_uint_eq(cfg->servers[0].npass, 17);
	ck_assert_str_eq(cfg->servers[1].pass[14], "AWS_REGION");
	ck_assert_uint_eq(cfg->servers[1].npass, 30);
	ck_assert_uint_eq(cfg->servers[2].npass, 30);
}

START_TEST(default_from_exe_dir)
{
	static const char *const names[] = {
		"github", "deploy", "observability"
	};
	static const char *const progs[] = {
		"afu9-github", "afu9-deploy", "afu9-observability"
	};
	struct afu9_config *cfg;
	char bin[512], want[PATH_MAX];
	size_t i;

	snprintf(bin, sizeof(bin), "%s", tpath("bin"));
	mkdir_p(bin);
	for (i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "%s/%s", bin, progs[i]);
		fake_exec(want, 0755);
	}
	setenv("PATH", "/nonexistent", 1);
	cfg = config_load(NULL, bin, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_ptr_null(cfg->source);
	ck_assert_uint_eq(cfg->nservers, 3);
	for (i = 0; i < 3; i++) {
		const struct config_server *s = &cfg->servers[i];

		snprintf(want, sizeof(want), "%s/%s", bin, progs[i]);
		ck_assert_str_eq(s->name, names[i]);
		ck_assert_str_eq(s->command, want);
		ck_assert_str_eq(s->argv[0], want);
		ck_assert_ptr_null(s->argv[1]);
		ck_assert_uint_eq(s->argc, 1);
		ck_assert_ptr_null(s->env[0]);
		ck_assert_int_eq(s->framing, FRAME_CL);
		ck_assert_int_eq(s->restart, SUP_ALWAYS);
		ck_assert_int_eq(s->required, 1);
		ck_assert_int_eq(s->disabled, 0);
	}
	check_builtin_pass(cfg);
	ck_assert_str_eq(cfg->listen, "0.0.0.0:8080");
	ck_assert_uint_eq(cfg->shutdown_grace_ms, 20000);
	config_free(cfg);
}
END_TEST

START_TEST(default_from_path)
{
	struct afu9_config *cfg;
	char bin[512], p1[512], p2[512], env[2048];
	char want[PATH_MAX + 32];

	snprintf(bin, sizeof(bin), "%s", tpath("bin"));
	snprintf(p1, sizeof(p1), "%s", tpath("p1"));
	snprintf(p2, sizeof(p2), "%s", tpath("p2"));
	mkdir_p(bin);
	mkdir_p(p1);
	mkdir_p(p2);
	fake_exec(tpath("bin/afu9-github"), 0755);
	fake_exec(tpath("bin/afu9-deploy"), 0644);	/* not executable */
	fake_exec(tpath("p1/afu9-github"), 0755);	/* exe dir wins */
	fake_exec(tpath("p1/afu9-observability"), 0755);
	fake_exec(tpath("p2/afu9-deploy"), 0755);
	fake_exec(tpath("p2/afu9-observability"), 0755);
	/* "" and a relative element are skipped, the first match wins */
	snprintf(env, sizeof(env), ":.:%s:%s", p1, p2);
	setenv("PATH", env, 1);
	setenv("AFU9_HTTP_LISTEN", "[::1]:9999", 1);
	cfg = config_default(bin, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	snprintf(want, sizeof(want), "%s/afu9-github", bin);
	ck_assert_str_eq(cfg->servers[0].command, want);
	snprintf(want, sizeof(want), "%s/afu9-deploy", p2);
	ck_assert_str_eq(cfg->servers[1].command, want);
	snprintf(want, sizeof(want), "%s/afu9-observability", p1);
	ck_assert_str_eq(cfg->servers[2].command, want);
	ck_assert_str_eq(cfg->listen, "[::1]:9999");
	config_free(cfg);

	/* No exe dir: $PATH only. */
	cfg = config_default(NULL, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	snprintf(want, sizeof(want), "%s/afu9-github", p1);
	ck_assert_str_eq(cfg->servers[0].command, want);
	config_free(cfg);
}
END_TEST

/* A missing server binary keeps its bare name: afu9 still starts and that
 * child fails with "exec failed", visible in /ready. */
START_TEST(default_missing_server)
{
	struct afu9_config *cfg;
	char bin[512], want[PATH_MAX];

	snprintf(bin, sizeof(bin), "%s", tpath("bin"));
	mkdir_p(bin);
	fake_exec(tpath("bin/afu9-github"), 0755);
	fake_exec(tpath("bin/afu9-observability"), 0755);
	setenv("PATH", bin, 1);
	cfg = config_default(bin, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->servers[1].name, "deploy");
	ck_assert_str_eq(cfg->servers[1].command, "afu9-deploy");
	snprintf(want, sizeof(want), "%s/afu9-github", bin);
	ck_assert_str_eq(cfg->servers[0].command, want);
	config_free(cfg);
	cfg = config_default(NULL, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	config_free(cfg);
}
END_TEST

/* The build tree: orchestrator/afu9 finds servers/<name>/afu9-<name>. */
START_TEST(default_build_tree_layout)
{
	struct afu9_config *cfg;
	char orch[512], want[PATH_MAX], *real;

	snprintf(orch, sizeof(orch), "%s", tpath("tree/orchestrator"));
	mkdir_p(tpath("tree"));
	mkdir_p(orch);
	mkdir_p(tpath("tree/servers"));
	mkdir_p(tpath("tree/servers/deploy"));
	fake_exec(tpath("tree/servers/deploy/afu9-deploy"), 0755);
	setenv("PATH", "/nonexistent", 1);
	cfg = config_default(orch, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	real = realpath(tpath("tree/servers/deploy/afu9-deploy"), NULL);
	snprintf(want, sizeof(want), "%s", real);
	free(real);
	ck_assert_str_eq(cfg->servers[1].command, want);
	ck_assert_str_eq(cfg->servers[0].command, "afu9-github");
	config_free(cfg);
}
END_TEST

START_TEST(listen_from_env)
{
	struct afu9_config *cfg;
	char want[PATH_MAX + 128];

	setenv("AFU9_HTTP_LISTEN", "127.0.0.1:7070", 1);
	cfg = load_text("{\"mcpServers\": {}}", NULL);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->listen, "127.0.0.1:7070");
	config_free(cfg);
	/* The file wins over the variable, which is then not checked. */
	setenv("AFU9_HTTP_LISTEN", "bogus", 1);
	cfg = load_text("{\"mcpServers\": {}, \"afu9\": {\"http\": "
	    "{\"listen\": \"0.0.0.0:1\"}}}", NULL);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->listen, "0.0.0.0:1");
	config_free(cfg);
	ck_assert_ptr_null(load_text("{\"mcpServers\": {}}", NULL));
	snprintf(want, sizeof(want), "%s: AFU9_HTTP_LISTEN: must be "
	    "IPv4:PORT or [IPv6]:PORT, numeric (e.g. \"0.0.0.0:8080\", "
	    "\"[::]:8080\")", tpath("c.json"));
	ck_assert_str_eq(err, want);
}
END_TEST

/* conf_env: every orchestrator variable read in one place; "" is unset;
   bad numbers and switches are refused by name, never echoed. */
START_TEST(env_read_values)
{
	static const char *const vars[] = { "DATABASE_URL", "AFU9_CONFIG",
	    "AFU9_HTTP_LISTEN", "AFU9_MIGRATIONS_DIR", "AFU9_MIGRATE",
	    "AFU9_LOG_LEVEL", "AFU9_AUDIT_LINGER_MS", "AFU9_AUDIT_SYNC_COMMIT",
	    "PGPASSWORD", NULL };
	struct config_env e;
	char buf[8];
	size_t i;

	for (i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_ptr_null(e.database_url);
	ck_assert_ptr_null(e.config_path);
	ck_assert_int_eq(e.migrate, 1);
	ck_assert_int_eq(e.log_level_set, 0);
	ck_assert_uint_eq(e.audit_linger_ms, CONFIG_LINGER_MS_DEFAULT);
	ck_assert_int_eq(e.audit_async_commit, 0);
	ck_assert_ptr_null(config_env_listen_port(&e, buf, sizeof(buf)));
	setenv("DATABASE_URL", "", 1);
	setenv("AFU9_CONFIG", "/etc/afu9.json", 1);
	setenv("AFU9_HTTP_LISTEN", "[::]:8443", 1);
	setenv("AFU9_MIGRATE", "0", 1);
	setenv("AFU9_LOG_LEVEL", "debug", 1);
	setenv("AFU9_AUDIT_LINGER_MS", "0", 1);
	setenv("AFU9_AUDIT_SYNC_COMMIT", "off", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_ptr_null(e.database_url);
	ck_assert_str_eq(e.config_path, "/etc/afu9.json");
	ck_assert_int_eq(e.migrate, 0);
	ck_assert_int_eq(e.log_level_set, 1);
	ck_assert_uint_eq(e.audit_linger_ms, 0);
	ck_assert_int_eq(e.audit_async_commit, 1);
	ck_assert_str_eq(config_env_listen_port(&e, buf, sizeof(buf)), "8443");
	setenv("AFU9_HTTP_LISTEN", "0.0.0.0:123456", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_ptr_null(config_env_listen_port(&e, buf, sizeof(buf)));
	setenv("AFU9_MIGRATE", "no", 1);
	setenv("AFU9_AUDIT_LINGER_MS", "10001", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "AFU9_AUDIT_LINGER_MS must be a number of "
	    "milliseconds from 0 to 10000");
	setenv("AFU9_AUDIT_LINGER_MS", "10000", 1);
	setenv("AFU9_AUDIT_SYNC_COMMIT", "s3cret-typo", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "AFU9_AUDIT_SYNC_COMMIT must be on or off");
	setenv("AFU9_AUDIT_SYNC_COMMIT", "on", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.migrate, 1);
	ck_assert_int_eq(e.audit_async_commit, 0);
	for (i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
}
END_TEST

/* The workflow engine's variables: defaults, bounds at and past each
   end, refused by name without echoing the value. */
START_TEST(env_engine_values)
{
	static const char *const vars[] = { "AFU9_ENGINE",
	    "AFU9_LEASE_TTL_MS", "AFU9_ENGINE_CONCURRENCY",
	    "AFU9_WORKFLOW_ENV", "AFU9_WORKFLOWS_DIR", "AFU9_API_TOKEN",
	    "AFU9_T_WF_A", NULL };
	struct config_env e;
	json_t *o;
	size_t i;

	for (i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.engine, 1);
	ck_assert_uint_eq(e.lease_ttl_ms, CONFIG_LEASE_TTL_DEFAULT);
	ck_assert_uint_eq(e.concurrency, CONFIG_CONCURRENCY_DEFAULT);
	ck_assert_ptr_null(e.api_token);
	ck_assert_int_eq(config_env_workflow_env(&e, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(json_object_size(o), 0);
	json_decref(o);
	setenv("AFU9_ENGINE", "0", 1);
	setenv("AFU9_LEASE_TTL_MS", "500", 1);
	setenv("AFU9_ENGINE_CONCURRENCY", "10000", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.engine, 0);
	ck_assert_uint_eq(e.lease_ttl_ms, 500);
	ck_assert_uint_eq(e.concurrency, 10000);
	setenv("AFU9_LEASE_TTL_MS", "499", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "AFU9_LEASE_TTL_MS must be a number of "
	    "milliseconds from 500 to 600000");
	setenv("AFU9_LEASE_TTL_MS", "600001", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
	setenv("AFU9_LEASE_TTL_MS", "1e4", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
	setenv("AFU9_LEASE_TTL_MS", "600000", 1);
	setenv("AFU9_ENGINE_CONCURRENCY", "0", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "AFU9_ENGINE_CONCURRENCY must be a number "
	    "from 1 to 10000");
	setenv("AFU9_ENGINE_CONCURRENCY", "10001", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
	setenv("AFU9_ENGINE_CONCURRENCY", "1", 1);
	setenv("AFU9_API_TOKEN", "short-s3cret-15", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "short-s3cret"));
	setenv("AFU9_API_TOKEN", "long-s3cret-16ch", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_str_eq(e.api_token, "long-s3cret-16ch");
	/* AFU9_WORKFLOW_ENV: set names given, unset ones left out */
	setenv("AFU9_T_WF_A", "alpha", 1);
	setenv("AFU9_WORKFLOW_ENV", "AFU9_T_WF_A,AFU9_T_WF_UNSET", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_int_eq(config_env_workflow_env(&e, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(json_object_size(o), 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "AFU9_T_WF_A")),
	    "alpha");
	json_decref(o);
	setenv("AFU9_WORKFLOW_ENV", "AFU9_T_WF_A,,B", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_int_eq(config_env_workflow_env(&e, &o, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "AFU9_WORKFLOW_ENV: a comma-separated list of "
	    "variable names");
	setenv("AFU9_WORKFLOW_ENV", "9A", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_int_eq(config_env_workflow_env(&e, &o, err, sizeof(err)),
	    -1);
	{
		char many[65 * 4 + 1];
		size_t n = 0;

		for (i = 0; i < 65; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n,
			    "%sV%02zu", i ? "," : "", i);
		setenv("AFU9_WORKFLOW_ENV", many, 1);
		ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
		ck_assert_int_eq(config_env_workflow_env(&e, &o, err,
		    sizeof(err)), -1);
		ck_assert_str_eq(err, "AFU9_WORKFLOW_ENV: at most 64 names");
		many[64 * 4 - 1] = '\0';	/* 64 names */
		setenv("AFU9_WORKFLOW_ENV", many, 1);
		ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
		ck_assert_int_eq(config_env_workflow_env(&e, &o, err,
		    sizeof(err)), 0);
		json_decref(o);
	}
	for (i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
}
END_TEST

/* AFU9_HTTP_BODY_TOTAL: unset 0 (http.h's default), bytes in range. */
START_TEST(env_http_body_total)
{
	static const char *const bad[] = { "1048575", "17179869185", "64M",
	    "-1", " 1048576", "99999999999999999999999", NULL };
	struct config_env e;
	size_t i;

	unsetenv("AFU9_HTTP_BODY_TOTAL");
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.http_body_total, 0);
	setenv("AFU9_HTTP_BODY_TOTAL", "1048576", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.http_body_total, 1048576);
	setenv("AFU9_HTTP_BODY_TOTAL", "17179869184", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.http_body_total, 17179869184ull);
	for (i = 0; bad[i] != NULL; i++) {
		setenv("AFU9_HTTP_BODY_TOTAL", bad[i], 1);
		ck_assert_msg(config_env_read(&e, err, sizeof(err)) == -1,
		    "%s", bad[i]);
		ck_assert_str_eq(err, "AFU9_HTTP_BODY_TOTAL must be a number "
		    "of bytes from 1048576 to 17179869184");
	}
	unsetenv("AFU9_HTTP_BODY_TOTAL");
}
END_TEST

/* AFU9_HTTP_MAX_CONNECTIONS, AFU9_HTTP_RESERVE_CONNECTIONS: unset 0
   (http.h's defaults), else counts in range. */
START_TEST(env_http_connections)
{
	static const struct {
		const char	*name, *max, *msg;
	} v[] = {
		{ "AFU9_HTTP_MAX_CONNECTIONS", "1000000",
		    "AFU9_HTTP_MAX_CONNECTIONS must be a number from 1 to "
		    "1000000" },
		{ "AFU9_HTTP_RESERVE_CONNECTIONS", "1024",
		    "AFU9_HTTP_RESERVE_CONNECTIONS must be a number from 1 to "
		    "1024" },
	};
	static const char *const bad[] = { "0", "1000001", "-1", " 5", "5 ",
	    "1e3", "0x10", "99999999999999999999", NULL };
	struct config_env e;
	size_t i, j;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsetenv(v[i].name);
		ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
		ck_assert_uint_eq(i ? e.http_reserve : e.http_connections, 0);
		setenv(v[i].name, "1", 1);
		ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
		ck_assert_uint_eq(i ? e.http_reserve : e.http_connections, 1);
		setenv(v[i].name, v[i].max, 1);
		ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
		ck_assert_uint_eq(i ? e.http_reserve : e.http_connections,
		    strtoul(v[i].max, NULL, 10));
		for (j = 0; bad[j] != NULL; j++) {
			setenv(v[i].name, bad[j], 1);
			ck_assert_msg(config_env_read(&e, err, sizeof(err)) ==
			    -1, "%s=%s", v[i].name, bad[j]);
			ck_assert_str_eq(err, v[i].msg);
		}
		setenv(v[i].name, "1025", 1);
		ck_assert_int_eq(config_env_read(&e, err, sizeof(err)),
		    i ? -1 : 0);
		unsetenv(v[i].name);
	}
}
END_TEST

/* config_open(): the path given, else AFU9_CONFIG, else built in; and
   whether the HTTP address was chosen (file or variable) or defaulted. */
START_TEST(open_and_listen_explicit)
{
	static const char text[] = "{\"mcpServers\": {}, \"afu9\": "
	    "{\"http\": {\"listen\": \"127.0.0.1:1\"}}}";
	struct afu9_config *cfg;
	struct config_env e;

	unsetenv("AFU9_HTTP_LISTEN");
	unsetenv("AFU9_CONFIG");
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	cfg = config_open(NULL, &e, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_ptr_null(cfg->source);
	ck_assert_int_eq(cfg->listen_explicit, 0);
	config_free(cfg);
	write_file(tpath("open.json"), text, strlen(text), 0644);
	setenv("AFU9_CONFIG", tpath("open.json"), 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	cfg = config_open(NULL, &e, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->source, tpath("open.json"));
	ck_assert_int_eq(cfg->listen_explicit, 1);
	config_free(cfg);
	ck_assert_ptr_null(config_open(tpath("absent.json"), &e, err,
	    sizeof(err)));
	unsetenv("AFU9_CONFIG");
	setenv("AFU9_HTTP_LISTEN", "127.0.0.1:2", 1);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	cfg = config_open(NULL, &e, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->listen_explicit, 1);
	config_free(cfg);
	unsetenv("AFU9_HTTP_LISTEN");
}
END_TEST

START_TEST(exe_dir_of_self)
{
	char dir[PATH_MAX], want[PATH_MAX], *r;

	ck_assert_int_eq(config_exe_dir(dir, sizeof(dir)), 0);
	ck_assert_ptr_nonnull(r = realpath(t_builddir("t"), NULL));
	snprintf(want, sizeof(want), "%s", r);
	free(r);
	ck_assert_str_eq(dir, want);
	ck_assert_int_eq(config_exe_dir(dir, 4), -1);
}
END_TEST

/* --- the child environment ------------------------------------------------ */

START_TEST(build_env_exact)
{
	static char *envp[] = {
		"HOME=/root", "AWS_ENDPOINT_URL=http://a", "PATH=/bin",
		"AWS_ENDPOINT_URL_ECS=http://ecs", "OTHER=z", "PATH=/dup",
		"noequals", "=empty", "AWS_ENDPOINT_UR=short", "X=from-env",
		"AWS_ENDPOINT_URLS=x", NULL
	};
	static const char *const want[] = {
		"PATH=/bin", "AWS_ENDPOINT_URL=http://a",
		"AWS_ENDPOINT_URL_ECS=http://ecs", "AWS_ENDPOINT_URLS=x",
		"HOME=/h", "X=1", NULL
	};
	static const char *const only_env[] = { "HOME=/h", "X=1", NULL };
	struct afu9_config *cfg;
	char **e;

	cfg = load_text("{\"mcpServers\": {\"a\": {\"command\": \"x\","
	    "\"envPassthrough\": [\"PATH\", \"AWS_ENDPOINT_URL*\", \"HOME\","
	    " \"X\", \"AWS_ENDPOINT_URL_ECS\"],"
	    "\"env\": {\"HOME\": \"/h\", \"X\": \"1\"}},"
	    "\"b\": {\"command\": \"x\", \"envPassthrough\": []}}}", NULL);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_ptr_nonnull(e = config_build_env(&cfg->servers[0], envp));
	assert_strv(e, want);
	config_env_free(e);
	ck_assert_ptr_nonnull(e = config_build_env(&cfg->servers[0], NULL));
	assert_strv(e, only_env);
	config_env_free(e);
	ck_assert_ptr_nonnull(e = config_build_env(&cfg->servers[1], envp));
	ck_assert_ptr_null(e[0]);
	config_env_free(e);
	config_env_free(NULL);
	config_free(cfg);
}
END_TEST

START_TEST(build_env_defaults)
{
	static char *envp[] = {
		"SECRET_OTHER=no", "PATH=/usr/bin", "HOME=/home/a", "LANG=C",
		"TZ=UTC", "TMPDIR=/tmp", "AFU9_LOG_LEVEL=debug",
		"AFU9_LOG_FORMAT=text", "AFU9_MAX_MESSAGE_BYTES=4096",
		"SSL_CERT_FILE=/c.pem", "SSL_CERT_DIR=/c", "HTTPS_PROXY=hp",
		"https_proxy=hp2", "NO_PROXY=np", "no_proxy=np2",
		"GITHUB_TOKEN=gt", "GITHUB_TOKEN_FILE=/gt", "GITHUB_API_URL=u",
		"AWS_REGION=eu-central-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=ak", "AWS_SECRET_ACCESS_KEY=sk",
		"AWS_SESSION_TOKEN=st", "AWS_PROFILE=p", "AWS_CONFIG_FILE=/cf",
		"AWS_SHARED_CREDENTIALS_FILE=/sc",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/c",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://f",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=at",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/at",
		"AWS_WEB_IDENTITY_TOKEN_FILE=/wi", "AWS_ROLE_ARN=arn",
		"AWS_ROLE_SESSION_NAME=sn", "AWS_ENDPOINT_URL=http://e",
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://l",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false",
		"AWS_EC2_METADATA_DISABLED=true", "DATABASE_URL=postgres://",
		"AFU9_HTTP_LISTEN=0.0.0.0:1", NULL
	};
	static const char *const gh[] = {
		"PATH=/usr/bin", "HOME=/home/a", "LANG=C", "TZ=UTC",
		"TMPDIR=/tmp", "AFU9_LOG_LEVEL=debug", "AFU9_LOG_FORMAT=text",
		"AFU9_MAX_MESSAGE_BYTES=4096", "SSL_CERT_FILE=/c.pem",
		"SSL_CERT_DIR=/c", "HTTPS_PROXY=hp", "https_proxy=hp2",
		"NO_PROXY=np", "no_proxy=np2", "GITHUB_TOKEN=gt",
		"GITHUB_TOKEN_FILE=/gt", "GITHUB_API_URL=u", NULL
	};
	static const char *const aws[] = {
		"PATH=/usr/bin", "HOME=/home/a", "LANG=C", "TZ=UTC",
		"TMPDIR=/tmp", "AFU9_LOG_LEVEL=debug", "AFU9_LOG_FORMAT=text",
		"AFU9_MAX_MESSAGE_BYTES=4096", "SSL_CERT_FILE=/c.pem",
		"SSL_CERT_DIR=/c", "HTTPS_PROXY=hp", "https_proxy=hp2",
		"NO_PROXY=np", "no_proxy=np2",
		"AWS_REGION=eu-central-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=ak", "AWS_SECRET_ACCESS_KEY=sk",
		"AWS_SESSION_TOKEN=st", "AWS_PROFILE=p", "AWS_CONFIG_FILE=/cf",
		"AWS_SHARED_CREDENTIALS_FILE=/sc",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/c",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://f",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=at",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/at",
		"AWS_WEB_IDENTITY_TOKEN_FILE=/wi", "AWS_ROLE_ARN=arn",
		"AWS_ROLE_SESSION_NAME=sn", "AWS_ENDPOINT_URL=http://e",
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://l",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false", NULL
	};
	static const char *const other[] = {
		"PATH=/usr/bin", "HOME=/home/a", "LANG=C", "TZ=UTC",
		"TMPDIR=/tmp", "AFU9_LOG_LEVEL=debug", "AFU9_LOG_FORMAT=text",
		"AFU9_MAX_MESSAGE_BYTES=4096", "SSL_CERT_FILE=/c.pem",
		"SSL_CERT_DIR=/c", "HTTPS_PROXY=hp", "https_proxy=hp2",
		"NO_PROXY=np", "no_proxy=np2", NULL
	};
	struct afu9_config *cfg;
	char **e;

	cfg = load_text("{\"mcpServers\": {"
	    "\"gh\": {\"command\": \"/x/afu9-github\"},"
	    "\"dep\": {\"command\": \"afu9-deploy\"},"
	    "\"obs\": {\"command\": \"afu9-observability\"},"
	    "\"other\": {\"command\": \"afu9-other\"}}}", NULL);
	ck_assert_msg(cfg != NULL, "%s", err);
	check_builtin_pass(cfg);
	ck_assert_ptr_nonnull(e = config_build_env(&cfg->servers[0], envp));
	assert_strv(e, gh);
	config_env_free(e);
	ck_assert_ptr_nonnull(e = config_build_env(&cfg->servers[1], envp));
	assert_strv(e, aws);
	config_env_free(e);
	ck_assert_ptr_nonnull(e = config_build_env(&cfg->servers[2], envp));
	assert_strv(e, aws);
	config_env_free(e);
	ck_assert_ptr_nonnull(e = config_build_env(&cfg->servers[3], envp));
	assert_strv(e, other);
	config_env_free(e);
	config_free(cfg);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, full_fixture);
	tcase_add_test(tc, host_shape_accepted);
	tcase_add_test(tc, empty_server_set);
	tcase_add_test(tc, framing_defaults);
	tcase_add_test(tc, bounds_accepted);
	tcase_add_test(tc, max_message_default_from_env);
	tcase_add_loop_test(tc, refused, 0,
	    (int)(sizeof(bads) / sizeof(bads[0])));
	tcase_add_test(tc, duplicate_keys_refused);
	tcase_add_test(tc, truncated_file);
	tcase_add_test(tc, unreadable_files);
	tcase_add_test(tc, file_size_limit);
	tcase_add_test(tc, server_count_limit);
	tcase_add_test(tc, list_limits);
	tcase_add_test(tc, expansion);
	tcase_add_test(tc, expansion_everywhere);
	tcase_add_test(tc, expansion_length_limit);
	tcase_add_test(tc, secrets_registered);
	tcase_add_test(tc, secrets_not_registered_on_failure);
	tcase_add_test(tc, secrets_of_disabled_server_ignored);
	tcase_add_test(tc, secrets_beyond_redactor_capacity);
	tcase_add_test(tc, file_commands_resolved_in_exe_dir);
	tcase_add_test(tc, default_from_exe_dir);
	tcase_add_test(tc, default_from_path);
	tcase_add_test(tc, default_missing_server);
	tcase_add_test(tc, default_build_tree_layout);
	tcase_add_test(tc, listen_from_env);
	tcase_add_test(tc, env_read_values);
	tcase_add_test(tc, env_engine_values);
	tcase_add_test(tc, env_http_body_total);
	tcase_add_test(tc, env_http_connections);
	tcase_add_test(tc, open_and_listen_explicit);
	tcase_add_test(tc, exe_dir_of_self);
	tcase_add_test(tc, build_env_exact);
	tcase_add_test(tc, build_env_defaults);
	suite_add_tcase(s, tc);
	return t_run(s);
}
