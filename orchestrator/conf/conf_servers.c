/*
 * conf_servers: the mcpServers entries of the configuration (conf.h):
 * each server's keys checked and defaulted, ${VAR} references expanded
 * in its command, args and env, its envPassthrough (or the default list
 * for its command) and the secrets it lets through, "afu9-*" commands
 * resolved, the built-in servers, and the environment of one start.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "buf.h"
#include "redact.h"
#include "conf/conf.h"
#include "conf/conf_int.h"

extern char **environ;

#define EXEC_PATH_MAX	4096

static const char *const pass_common[] = {
	"PATH", "HOME", "LANG", "TZ", "TMPDIR", "AFU9_LOG_LEVEL",
	"AFU9_LOG_FORMAT", "AFU9_MAX_MESSAGE_BYTES", "SSL_CERT_FILE",
	"SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy",
	NULL
};
static const char *const pass_github[] = {
	"GITHUB_TOKEN", "GITHUB_TOKEN_FILE", "GITHUB_API_URL", NULL
};
static const char *const pass_aws[] = {
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_CONTAINER_CREDENTIALS_*", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL*",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", NULL
};

static const char *const framing_names[] = { "content-length", "ndjson" };
static const enum frame_mode framing_modes[] = { FRAME_CL, FRAME_NDJSON };
static const char *const restart_names[] = { "always", "on-failure", "never" };
static const enum sup_policy restart_modes[] = {
	SUP_ALWAYS, SUP_ON_FAILURE, SUP_NEVER
};

/* --- names and files ---------------------------------------------------- */

/* A name, or a name prefix followed by one final '*'. */
static int
is_pass_pattern(const char *s)
{
	size_t n = var_span(s);

	if (n == 0 || n > CONFIG_VAR_MAX)
		return 0;
	return s[n] == '\0' || (s[n] == '*' && s[n + 1] == '\0');
}

static int
is_server_name(const char *s)
{
	size_t n = name_span(s);

	return s[n] == '\0' && n >= 1 && n <= CONFIG_NAME_MAX;
}

/* Does the environment entry "NAME=value" have a name matching pat? */
static int
pass_match(const char *pat, const char *entry, size_t namelen)
{
	size_t plen = strlen(pat);

	if (plen > 0 && pat[plen - 1] == '*')
		return namelen >= plen - 1 && memcmp(pat, entry, plen - 1) == 0;
	return namelen == plen && memcmp(pat, entry, plen) == 0;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static int
is_exec_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0;
}

/* --- environment references -------------------------------------------- */

/*
 * Parse the reference at p ("${NAME}" or "${NAME:-default}"): the name
 * into name[], the default (or NULL) into *def and *deflen, and the end of
 * the reference into *next.  0, or -1 with the error set.
 */
static int
parse_ref(struct ctx *c, const char *p, char *name, const char **def,
    size_t *deflen, const char **next)
{
	const char *start = p + 2, *end, *q;
	size_t n;

	if ((end = strchr(start, '}')) == NULL)
		return ctx_err(c, "unterminated \"${\"");
	n = var_span(start);
	q = start + n;
	*def = NULL;
	*deflen = 0;
	if (n > 0 && n <= CONFIG_VAR_MAX && q[0] == ':' && q[1] == '-' &&
	    q + 2 <= end) {
		*def = q + 2;
		*deflen = (size_t)(end - *def);
	} else if (n == 0 || n > CONFIG_VAR_MAX || q != end)
		return ctx_err(c, "bad reference \"%.*s\": use ${NAME} or "
		    "${NAME:-default}", (int)((end - p + 1) > 64 ? 64 :
		    (end - p + 1)), p);
	memcpy(name, start, n);
	name[n] = '\0';
	*next = end + 1;
	return 0;
}

/*
 * Append the value of one reference to b, keeping a secret for the
 * redactor.  0; -1 with the error set; -2 when b refuses (errno set).
 */
static int
subst(struct ctx *c, struct buf *b, const char *name, const char *def,
    size_t deflen)
{
	const char *val = getenv(name);

	if (val != NULL && *val != '\0') {
		if (ctx_is_secret(c, name) && ctx_keep_secret(c, val) == -1)
			return -1;
		return buf_append(b, val, strlen(val)) == -1 ? -2 : 0;
	}
	if (def != NULL)
		return buf_append(b, def, deflen) == -1 ? -2 : 0;
	if (val == NULL)
		return ctx_err(c, "environment variable %s is not set", name);
	return 0;
}

/*
 * Expand in (see conf.h) into a new string *out.  lookup 0 only checks
 * the syntax and copies in as written.  Values taken from the environment
 * whose variable is a secret name are kept for the redactor.  0, or -1
 * with the error set.
 */
static int
expand(struct ctx *c, const char *in, int lookup, char **out)
{
	char name[CONFIG_VAR_MAX + 1];
	const char *p = in, *q, *def;
	struct buf b;
	size_t deflen;
	int rc = -1, r;

	buf_init(&b, CONFIG_MAX_STR + 1);
	while (*p != '\0') {
		if (*p != '$') {
			q = strchr(p, '$');
			if (q == NULL)
				q = p + strlen(p);
			if (buf_append(&b, p, (size_t)(q - p)) == -1)
				goto toolong;
			p = q;
			continue;
		}
		if (p[1] == '$') {
			if (buf_append(&b, "$", 1) == -1)
				goto toolong;
			p += 2;
			continue;
		}
		if (p[1] != '{') {
			ctx_errf(c, 1, "a '$' must start ${NAME} or "
			    "${NAME:-default}; write $$ for a '$'");
			goto done;
		}
		if (parse_ref(c, p, name, &def, &deflen, &q) == -1)
			goto done;
		if (lookup && (r = subst(c, &b, name, def, deflen)) != 0) {
			if (r == -2)
				goto toolong;
			goto done;
		}
		p = q;
	}
	if (!lookup) {
		buf_reset(&b);
		if (buf_append(&b, in, strlen(in)) == -1)
			goto toolong;
	}
	if (buf_append(&b, "", 1) == -1)
		goto toolong;
	if ((*out = strdup(buf_data(&b))) == NULL)
		ctx_oom(c);
	else
		rc = 0;
	goto done;
toolong:
	if (errno == ENOMEM)
		ctx_oom(c);
	else
		ctx_errf(c, 1, "longer than %u bytes%s", CONFIG_MAX_STR,
		    lookup ? " after expansion" : "");
done:
	if (b.base != NULL)
		sodium_memzero(b.base, b.cap);
	buf_free(&b);
	return rc;
}

/* --- one server --------------------------------------------------------- */

static const char *const server_keys[] = {
	"type", "command", "args", "env", "envPassthrough", "framing",
	"restart", "required", "disabled", "callTimeoutMs", "pingIntervalMs",
	"pingTimeoutMs", "maxMessageBytes", NULL
};

static int
parse_args(struct ctx *c, const json_t *a, int lookup, struct strv *out)
{
	const json_t *v;
	const char *s;
	size_t i, at;
	char *x;

	if (want_array(c, a) == -1)
		return -1;
	if (json_array_size(a) > CONFIG_MAX_ARGS)
		return ctx_err(c, "more than %u entries", CONFIG_MAX_ARGS);
	json_array_foreach(a, i, v) {
		at = path_index(c, i);
		if (want_string(c, v, &s) == -1 ||
		    expand(c, s, lookup, &x) == -1)
			return -1;
		if (strv_take(out, x) == -1)
			return ctx_oom(c);
		path_pop(c, at);
	}
	return 0;
}

static int
parse_env(struct ctx *c, const json_t *o, int lookup, struct strv *out)
{
	const char *key, *s;
	const json_t *v;
	size_t at;
	char *x, *pair;
	int rc;

	if (want_object(c, o) == -1)
		return -1;
	if (json_object_size(o) > CONFIG_MAX_ENV)
		return ctx_err(c, "more than %u entries", CONFIG_MAX_ENV);
	json_object_foreach((json_t *)o, key, v) {
		at = path_key(c, key);
		if (!var_name_ok(key))
			return ctx_err(c, "variable names must match "
			    "[A-Za-z_][A-Za-z0-9_]* (at most %u bytes)",
			    CONFIG_VAR_MAX);
		if (want_string(c, v, &s) == -1 ||
		    expand(c, s, lookup, &x) == -1)
			return -1;
		rc = lookup && ctx_is_secret(c, key) ?
		    ctx_keep_secret(c, x) : 0;
		if (asprintf(&pair, "%s=%s", key, x) == -1)
			pair = NULL;
		redact_wipe_free(x);
		if (rc == -1) {
			redact_wipe_free(pair);
			return -1;
		}
		if (strv_take(out, pair) == -1)
			return ctx_oom(c);
		path_pop(c, at);
	}
	return 0;
}

static int
parse_pass(struct ctx *c, const json_t *a, struct strv *out)
{
	const json_t *v;
	const char *s;
	size_t i, at;

	if (want_array(c, a) == -1)
		return -1;
	if (json_array_size(a) > CONFIG_MAX_PASS)
		return ctx_err(c, "more than %u entries", CONFIG_MAX_PASS);
	json_array_foreach(a, i, v) {
		at = path_index(c, i);
		if (want_string(c, v, &s) == -1)
			return -1;
		if (!is_pass_pattern(s))
			return ctx_err(c, "must be a variable name, or a name "
			    "prefix ending in '*'");
		if (strv_has(out->v, s))
			return ctx_err(c, "\"%s\" is listed twice", s);
		if (strv_take(out, strdup(s)) == -1)
			return ctx_oom(c);
		path_pop(c, at);
	}
	return 0;
}

static int
set_default_pass(struct ctx *c, struct config_server *s)
{
	const char *const *lists[3] = { pass_common, NULL, NULL };
	const char *base = base_name(s->command);
	struct strv sv = { 0 };
	size_t l, i;

	if (strcmp(base, "afu9-github") == 0)
		lists[1] = pass_github;
	else if (strcmp(base, "afu9-deploy") == 0 ||
	    strcmp(base, "afu9-observability") == 0)
		lists[1] = pass_aws;
	for (l = 0; l < 3 && lists[l] != NULL; l++)
		for (i = 0; lists[l][i] != NULL; i++)
			if (strv_take(&sv, strdup(lists[l][i])) == -1) {
				strv_free(sv.v);
				return ctx_oom(c);
			}
	s->npass = sv.n;
	if ((s->pass = strv_steal(&sv)) == NULL)
		return ctx_oom(c);
	return 0;
}

/* Values of the secret variables s lets through into its children. */
static int
find_pass_secrets(struct ctx *c, const struct config_server *s)
{
	char name[CONFIG_VAR_MAX + 1];
	const char *eq;
	size_t i, j, len;

	for (i = 0; i < s->npass; i++) {
		for (j = 0; environ != NULL && environ[j] != NULL; j++) {
			if ((eq = strchr(environ[j], '=')) == NULL)
				continue;
			len = (size_t)(eq - environ[j]);
			if (len > CONFIG_VAR_MAX ||
			    !pass_match(s->pass[i], environ[j], len))
				continue;
			memcpy(name, environ[j], len);
			name[len] = '\0';
			if (ctx_is_secret(c, name) &&
			    ctx_keep_secret(c, eq + 1) == -1)
				return -1;
		}
	}
	return 0;
}

/* A bare "afu9-*" command found in exe_dir becomes that path. */
static int
resolve_command(struct ctx *c, struct config_server *s, const char *exe_dir)
{
	char *p;

	if (exe_dir == NULL || *exe_dir == '\0' ||
	    strchr(s->command, '/') != NULL ||
	    strncmp(s->command, "afu9-", 5) != 0)
		return 0;
	if (asprintf(&p, "%s/%s", exe_dir, s->command) == -1)
		return ctx_oom(c);
	if (!is_exec_file(p)) {
		free(p);
		return 0;
	}
	free(s->command);
	s->command = p;
	return 0;
}

/* argv = command, then args (taken: args is emptied). */
static int
set_argv(struct ctx *c, struct config_server *s, struct strv *args)
{
	char *cmd;

	if ((cmd = strdup(s->command)) == NULL || strv_take(args, cmd) == -1)
		return ctx_oom(c);
	memmove(args->v + 1, args->v, (args->n - 1) * sizeof(*args->v));
	args->v[0] = cmd;
	s->argc = args->n;
	s->argv = strv_steal(args);
	return 0;
}

static void
server_defaults(struct config_server *s)
{
	s->framing = FRAME_AUTO;	/* decided from the command later */
	s->restart = SUP_ALWAYS;
	s->required = 1;
	s->call_timeout_ms = CONFIG_DEFAULT_CALL_TIMEOUT_MS;
	s->ping_interval_ms = CONFIG_DEFAULT_PING_INTERVAL_MS;
	s->ping_timeout_ms = CONFIG_DEFAULT_PING_TIMEOUT_MS;
	s->max_message_bytes = frame_max_msg_from_env();
}

static const struct {
	const char		*key;
	unsigned long long	 min;
	unsigned long long	 max;
	size_t			 off;	/* of an unsigned in config_server */
} server_nums[] = {
	{ "callTimeoutMs", 1, CONFIG_MS_MAX,
	    offsetof(struct config_server, call_timeout_ms) },
	{ "pingIntervalMs", 0, CONFIG_MS_MAX,
	    offsetof(struct config_server, ping_interval_ms) },
	{ "pingTimeoutMs", 1, CONFIG_MS_MAX,
	    offsetof(struct config_server, ping_timeout_ms) },
};

/* Scalar keys: type, disabled, framing, restart, required, numbers. */
static int
parse_scalars(struct ctx *c, const json_t *o, struct config_server *s)
{
	const json_t *v;
	unsigned long long n;
	size_t at, i, idx;
	const char *t;

	if ((v = json_object_get(o, "type")) != NULL) {
		at = path_key(c, "type");
		if (want_string(c, v, &t) == -1)
			return -1;
		if (strcmp(t, "stdio") != 0)
			return ctx_err(c, "must be \"stdio\" (the only "
			    "transport supported)");
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "framing")) != NULL) {
		at = path_key(c, "framing");
		if (want_enum(c, v, framing_names, 2, &idx) == -1)
			return -1;
		s->framing = framing_modes[idx];
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "restart")) != NULL) {
		at = path_key(c, "restart");
		if (want_enum(c, v, restart_names, 3, &idx) == -1)
			return -1;
		s->restart = restart_modes[idx];
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "required")) != NULL) {
		at = path_key(c, "required");
		if (want_bool(c, v, &s->required) == -1)
			return -1;
		path_pop(c, at);
	}
	for (i = 0; i < sizeof(server_nums) / sizeof(server_nums[0]); i++) {
		if ((v = json_object_get(o, server_nums[i].key)) == NULL)
			continue;
		at = path_key(c, server_nums[i].key);
		if (want_uint(c, v, server_nums[i].min, server_nums[i].max,
		    &n) == -1)
			return -1;
		*(unsigned *)((char *)s + server_nums[i].off) = (unsigned)n;
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "maxMessageBytes")) != NULL) {
		at = path_key(c, "maxMessageBytes");
		if (want_uint(c, v, FRAME_MIN_MAX_MSG, CONFIG_MAX_MSG_MAX,
		    &n) == -1)
			return -1;
		s->max_message_bytes = (size_t)n;
		path_pop(c, at);
	}
	return 0;
}

/* The string keys: command, args, env, envPassthrough. */
static int
parse_strings(struct ctx *c, const json_t *o, struct config_server *s,
    const char *exe_dir, struct strv *args, struct strv *env,
    struct strv *pass, int *have_pass)
{
	const json_t *v;
	const char *t;
	size_t at;
	int lookup = !s->disabled;

	if ((v = json_object_get(o, "command")) == NULL)
		return ctx_err(c, "missing key \"command\"");
	at = path_key(c, "command");
	if (want_string(c, v, &t) == -1 ||
	    expand(c, t, lookup, &s->command) == -1)
		return -1;
	if (s->command[0] == '\0')
		return ctx_err(c, "must not be empty");
	path_pop(c, at);
	if (lookup && resolve_command(c, s, exe_dir) == -1)
		return -1;
	if ((v = json_object_get(o, "args")) != NULL) {
		at = path_key(c, "args");
		if (parse_args(c, v, lookup, args) == -1)
			return -1;
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "env")) != NULL) {
		at = path_key(c, "env");
		if (parse_env(c, v, lookup, env) == -1)
			return -1;
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "envPassthrough")) != NULL) {
		at = path_key(c, "envPassthrough");
		if (parse_pass(c, v, pass) == -1)
			return -1;
		*have_pass = 1;
		path_pop(c, at);
	}
	return 0;
}

/*
 * Fill s (name already set, defaults applied) from the object o at the
 * current path.  0, or -1 with the error set; s may then hold partial
 * data for config_free().
 */
static int
parse_server(struct ctx *c, const json_t *o, struct config_server *s,
    const char *exe_dir)
{
	struct strv args = { 0 }, env = { 0 }, pass = { 0 };
	const json_t *v;
	int have_pass = 0, rc = -1;
	size_t at;

	if (want_object(c, o) == -1 || want_keys(c, o, server_keys) == -1)
		return -1;
	if ((v = json_object_get(o, "disabled")) != NULL) {
		at = path_key(c, "disabled");
		if (want_bool(c, v, &s->disabled) == -1)
			return -1;
		path_pop(c, at);
	}
	if (parse_scalars(c, o, s) == -1 ||
	    parse_strings(c, o, s, exe_dir, &args, &env, &pass,
	    &have_pass) == -1)
		goto out;
	if (set_argv(c, s, &args) == -1)
		goto out;
	s->nenv = env.n;
	if ((s->env = strv_steal(&env)) == NULL) {
		ctx_oom(c);
		goto out;
	}
	if (have_pass) {
		s->npass = pass.n;
		if ((s->pass = strv_steal(&pass)) == NULL) {
			ctx_oom(c);
			goto out;
		}
	} else if (set_default_pass(c, s) == -1)
		goto out;
	if (s->framing == FRAME_AUTO)
		s->framing = strncmp(base_name(s->command), "afu9-", 5) == 0 ?
		    FRAME_CL : FRAME_NDJSON;
	if (!s->disabled && find_pass_secrets(c, s) == -1)
		goto out;
	rc = 0;
out:
	strv_free(args.v);
	strv_free(env.v);
	strv_free(pass.v);
	return rc;
}

int
config_parse_servers(struct ctx *c, const json_t *o,
    struct afu9_config *cfg, const char *exe_dir)
{
	const char *key;
	const json_t *v;
	struct config_server *s;
	size_t at;

	if (want_object(c, o) == -1)
		return -1;
	if (json_object_size(o) > CONFIG_MAX_SERVERS)
		return ctx_err(c, "more than %u servers", CONFIG_MAX_SERVERS);
	if ((cfg->servers = calloc(json_object_size(o) + 1,
	    sizeof(*cfg->servers))) == NULL)
		return ctx_oom(c);
	json_object_foreach((json_t *)o, key, v) {
		at = path_key(c, key);
		if (!is_server_name(key))
			return ctx_err(c, "server names are 1 to %u of "
			    "A-Z a-z 0-9 _ -", CONFIG_NAME_MAX);
		s = &cfg->servers[cfg->nservers++];
		server_defaults(s);
		if ((s->name = strdup(key)) == NULL)
			return ctx_oom(c);
		if (parse_server(c, v, s, exe_dir) == -1)
			return -1;
		path_pop(c, at);
	}
	return 0;
}

const struct config_server *
config_server_find(const struct afu9_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nservers; i++)
		if (strcmp(cfg->servers[i].name, name) == 0)
			return &cfg->servers[i];
	return NULL;
}

/* --- built-in servers --------------------------------------------------- */

/*
 * Full path of prog: in exe_dir, else the first absolute $PATH element
 * holding an executable file of that name.  New string in *out; 0, or -1
 * (not found: *out NULL; ENOMEM: also -1 with errno set).
 */
static int
find_exec(const char *exe_dir, const char *prog, char **out)
{
	const char *path = getenv("PATH"), *p, *e;
	char cand[EXEC_PATH_MAX];
	int n;

	*out = NULL;
	errno = 0;
	if (exe_dir != NULL && *exe_dir != '\0') {
		n = snprintf(cand, sizeof(cand), "%s/%s", exe_dir, prog);
		if (n > 0 && (size_t)n < sizeof(cand) && is_exec_file(cand))
			return (*out = strdup(cand)) != NULL ? 0 : -1;
		/* the build tree: orchestrator/afu9, servers/github/afu9-github */
		if (strncmp(prog, "afu9-", 5) == 0) {
			n = snprintf(cand, sizeof(cand), "%s/../servers/%s/%s",
			    exe_dir, prog + 5, prog);
			if (n > 0 && (size_t)n < sizeof(cand) &&
			    is_exec_file(cand))
				return (*out = realpath(cand, NULL)) != NULL ?
				    0 : -1;
		}
	}
	for (p = path; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		if ((e = strchr(p, ':')) == NULL)
			e = p + strlen(p);
		if (*p != '/')
			continue;	/* "" and relative: not "." by chance */
		n = snprintf(cand, sizeof(cand), "%.*s/%s", (int)(e - p), p,
		    prog);
		if (n > 0 && (size_t)n < sizeof(cand) && is_exec_file(cand))
			return (*out = strdup(cand)) != NULL ? 0 : -1;
	}
	errno = 0;
	return -1;
}

int
config_builtin_server(struct ctx *c, struct config_server *s,
    const char *name, const char *prog, const char *exe_dir)
{
	server_defaults(s);
	if ((s->name = strdup(name)) == NULL)
		return ctx_oom(c);
	/*
	 * Not found: keep the bare name.  The orchestrator still runs; that
	 * child fails with "exec failed: No such file or directory", which
	 * /ready shows, instead of the whole task refusing to start.
	 */
	if (find_exec(exe_dir, prog, &s->command) == -1 &&
	    (errno == ENOMEM || (s->command = strdup(prog)) == NULL))
		return ctx_oom(c);
	if ((s->argv = calloc(2, sizeof(*s->argv))) == NULL ||
	    (s->argv[0] = strdup(s->command)) == NULL ||
	    (s->env = calloc(1, sizeof(*s->env))) == NULL)
		return ctx_oom(c);
	s->argc = 1;
	s->framing = FRAME_CL;
	if (set_default_pass(c, s) == -1)
		return -1;
	return find_pass_secrets(c, s);
}

/* --- environment for a child ------------------------------------------- */

/* Is the name of entry (namelen bytes) set by s->env? */
static int
env_sets(const struct config_server *s, const char *entry, size_t namelen)
{
	size_t i;

	for (i = 0; i < s->nenv; i++)
		if (strncmp(s->env[i], entry, namelen) == 0 &&
		    s->env[i][namelen] == '=')
			return 1;
	return 0;
}

/* Is the name of entry already among pick[0..n)? */
static int
picked(const char *const *pick, size_t n, const char *entry, size_t namelen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strncmp(pick[i], entry, namelen + 1) == 0)
			return 1;
	return 0;
}

char **
config_build_env(const struct config_server *s, char *const *envp)
{
	const char **pick;
	const char *eq;
	char **out, *p;
	size_t nenvp = 0, n = 0, i, j, bytes = 0, len;

	while (envp != NULL && envp[nenvp] != NULL)
		nenvp++;
	if ((pick = calloc(nenvp + s->nenv + 1, sizeof(*pick))) == NULL)
		return NULL;
	for (i = 0; i < s->npass; i++) {
		for (j = 0; j < nenvp; j++) {
			if ((eq = strchr(envp[j], '=')) == NULL ||
			    eq == envp[j])
				continue;
			len = (size_t)(eq - envp[j]);
			if (pass_match(s->pass[i], envp[j], len) &&
			    !env_sets(s, envp[j], len) &&
			    !picked(pick, n, envp[j], len))
				pick[n++] = envp[j];
		}
	}
	for (i = 0; i < s->nenv; i++)
		pick[n++] = s->env[i];
	for (i = 0; i < n; i++)
		bytes += strlen(pick[i]) + 1;
	if ((out = malloc((n + 1) * sizeof(*out) + bytes)) == NULL) {
		free(pick);
		return NULL;
	}
	p = (char *)(out + n + 1);
	for (i = 0; i < n; i++) {
		len = strlen(pick[i]) + 1;
		memcpy(p, pick[i], len);
		out[i] = p;
		p += len;
	}
	out[n] = NULL;
	free(pick);
	return out;
}

void
config_env_free(char **envp)
{
	char *end;
	size_t n = 0;

	if (envp == NULL)
		return;
	while (envp[n] != NULL)
		n++;
	end = (char *)(envp + n + 1);
	if (n > 0)
		end = envp[n - 1] + strlen(envp[n - 1]) + 1;
	sodium_memzero(envp, (size_t)(end - (char *)envp));
	free(envp);
}


const char *
config_framing_name(enum frame_mode m)
{
	return m == FRAME_NDJSON ? "ndjson" : m == FRAME_CL ?
	    "content-length" : "auto";
}

const char *
config_restart_name(enum sup_policy p)
{
	return (unsigned)p < 3 ? restart_names[p] : "?";
}
