/*
 * conf: load, check, expand and default the orchestrator configuration.
 * The file format and every rule are in conf.h.  This file reads the
 * file, checks the afu9 keys and holds what both files of conf/ use;
 * the mcpServers entries are in conf_servers.c (see conf_int.h).
 */
#include "config.h"

#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "redact.h"
#include "conf/conf.h"
#include "conf/conf_int.h"

#define KEY_SHOW_MAX	40	/* bytes of one key shown in a path */
#define REASON_MAX	512
#define LISTEN_MAX	255
#define MIN_SECRET	4	/* redact.h: shorter values are not kept */
#define BUILTIN_LABEL	"built-in config"

/* The built-in servers: name, command. */
static const char *const builtin[][2] = {
	{ "github", "afu9-github" },
	{ "deploy", "afu9-deploy" },
	{ "observability", "afu9-observability" },
};

/* --- names ---------------------------------------------------------------- */

/* [A-Za-z_][A-Za-z0-9_]*, at most CONFIG_VAR_MAX bytes; len of the name. */
size_t
var_span(const char *s)
{
	size_t n = 0;

	if (!(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	while (s[n] == '_' || (s[n] >= 'A' && s[n] <= 'Z') ||
	    (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9'))
		n++;
	return n;
}

int
var_name_ok(const char *s)
{
	size_t n = var_span(s);

	return n > 0 && n <= CONFIG_VAR_MAX && s[n] == '\0';
}

/* Bytes of s before the first byte outside [A-Za-z0-9_-]. */
size_t
name_span(const char *s)
{
	size_t n;

	for (n = 0; s[n] == '_' || s[n] == '-' ||
	    (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
	    (s[n] >= '0' && s[n] <= '9'); n++)
		;
	return n;
}

/* --- messages ----------------------------------------------------------- */

void
ctx_errf(struct ctx *c, int with_path, const char *fmt, ...)
{
	char reason[REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (c->err == NULL || c->errlen == 0)
		return;
	if (with_path)
		snprintf(c->err, c->errlen, "%s: %s: %s", c->label, c->path,
		    reason);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->label, reason);
}

static void
path_add(struct ctx *c, const char *s, size_t n)
{
	if (n > sizeof(c->path) - 1 - c->plen)
		n = sizeof(c->path) - 1 - c->plen;
	memcpy(c->path + c->plen, s, n);
	c->plen += n;
	c->path[c->plen] = '\0';
}

/*
 * Descend into key: ".key" when it is plain, else ["key"] with '"' and
 * '\' escaped, other unprintable bytes shown as '?', cut at KEY_SHOW_MAX.
 * Returns the depth to give back to path_pop().
 */
size_t
path_key(struct ctx *c, const char *key)
{
	size_t saved = c->plen, i, n = strlen(key);
	char ch;

	if (n > 0 && n <= KEY_SHOW_MAX && name_span(key) == n) {
		path_add(c, ".", 1);
		path_add(c, key, n);
		return saved;
	}
	path_add(c, "[\"", 2);
	for (i = 0; i < n && i < KEY_SHOW_MAX; i++) {
		ch = key[i];
		if (ch == '"' || ch == '\\')
			path_add(c, "\\", 1);
		if ((unsigned char)ch < 0x20 || (unsigned char)ch >= 0x7f)
			ch = '?';
		path_add(c, &ch, 1);
	}
	if (n > KEY_SHOW_MAX)
		path_add(c, "...", 3);
	path_add(c, "\"]", 2);
	return saved;
}

size_t
path_index(struct ctx *c, size_t i)
{
	size_t saved = c->plen;
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "[%zu]", i);

	path_add(c, tmp, (size_t)n);
	return saved;
}

void
path_pop(struct ctx *c, size_t saved)
{
	c->plen = saved;
	c->path[saved] = '\0';
}

int
ctx_oom(struct ctx *c)
{
	return ctx_ferr(c, "out of memory");
}

/* Keep value to register with the redactor if the load succeeds. */
int
ctx_keep_secret(struct ctx *c, const char *value)
{
	if (strlen(value) < MIN_SECRET || strv_has(c->found.v, value))
		return 0;
	if (strv_take(&c->found, strdup(value)) == -1)
		return ctx_oom(c);
	return 0;
}

int
ctx_is_secret(struct ctx *c, const char *name)
{
	return redact_is_sensitive_key(name) || strv_has(c->secret_names, name);
}

/* --- typed getters: each reports at the current path ------------------- */

int
want_object(struct ctx *c, const json_t *v)
{
	return json_is_object(v) ? 0 : ctx_err(c, "must be an object");
}

int
want_array(struct ctx *c, const json_t *v)
{
	return json_is_array(v) ? 0 : ctx_err(c, "must be an array");
}

int
want_string(struct ctx *c, const json_t *v, const char **out)
{
	if (!json_is_string(v))
		return ctx_err(c, "must be a string");
	*out = json_string_value(v);
	return 0;
}

int
want_bool(struct ctx *c, const json_t *v, int *out)
{
	if (!json_is_boolean(v))
		return ctx_err(c, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

int
want_uint(struct ctx *c, const json_t *v, unsigned long long min,
    unsigned long long max, unsigned long long *out)
{
	json_int_t n;

	if (!json_is_integer(v))
		return ctx_err(c, "must be an integer");
	n = json_integer_value(v);
	if (n < 0 || (unsigned long long)n < min ||
	    (unsigned long long)n > max)
		return ctx_err(c, "must be between %llu and %llu", min, max);
	*out = (unsigned long long)n;
	return 0;
}

/* One of names[n]: *idx.  The message lists them. */
int
want_enum(struct ctx *c, const json_t *v, const char *const *names, size_t n,
    size_t *idx)
{
	char list[128];
	const char *s;
	size_t i, len = 0;

	if (want_string(c, v, &s) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*idx = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len,
		    "%s\"%s\"", i == 0 ? "" : i + 1 == n ? " or " : ", ",
		    names[i]);
	return ctx_err(c, "must be %s", list);
}

/* Every key of o is in known (NULL-terminated). */
int
want_keys(struct ctx *c, const json_t *o, const char *const *known)
{
	const char *key;
	const json_t *v;
	size_t i;

	json_object_foreach((json_t *)o, key, v) {
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (known[i] == NULL) {
			path_key(c, key);
			return ctx_err(c, "unknown key");
		}
	}
	return 0;
}

/* --- afu9 keys ---------------------------------------------------------- */

/*
 * IPv4:PORT or [IPv6]:PORT, numeric, port 0..65535.  0, or -1 with a
 * reason in why.
 */
static int
check_listen(const char *s, char *why, size_t whylen)
{
	char host[LISTEN_MAX + 1];
	const char *colon, *p;
	unsigned char addr[sizeof(struct in6_addr)];
	unsigned long port = 0;
	size_t hlen, len = strlen(s);
	int v6 = 0, ok;

	if (len == 0 || len > LISTEN_MAX)
		goto bad;
	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL || p[1] != ':')
			goto bad;
		hlen = (size_t)(p - s - 1);
		memcpy(host, s + 1, hlen);
		colon = p + 1;
		v6 = 1;
	} else {
		if ((colon = strchr(s, ':')) == NULL ||
		    strchr(colon + 1, ':') != NULL)
			goto bad;
		hlen = (size_t)(colon - s);
		memcpy(host, s, hlen);
	}
	host[hlen] = '\0';
	ok = inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) == 1;
	for (p = colon + 1; ok && *p != '\0'; p++)
		if (*p < '0' || *p > '9' || (port = port * 10 +
		    (unsigned long)(*p - '0')) > 65535)
			ok = 0;
	if (ok && p > colon + 1 && p - (colon + 1) <= 5)
		return 0;
bad:
	snprintf(why, whylen, "must be IPv4:PORT or [IPv6]:PORT, numeric "
	    "(e.g. \"0.0.0.0:8080\", \"[::]:8080\")");
	return -1;
}

static int
parse_http(struct ctx *c, const json_t *o, struct afu9_config *cfg)
{
	static const char *const keys[] = { "listen", NULL };
	const json_t *v;
	const char *s;
	char why[160];
	size_t at;

	if (want_object(c, o) == -1 || want_keys(c, o, keys) == -1)
		return -1;
	if ((v = json_object_get(o, "listen")) != NULL) {
		at = path_key(c, "listen");
		if (want_string(c, v, &s) == -1)
			return -1;
		if (check_listen(s, why, sizeof(why)) == -1)
			return ctx_err(c, "%s", why);
		if ((cfg->listen = strdup(s)) == NULL)
			return ctx_oom(c);
		path_pop(c, at);
	}
	return 0;
}

static int
parse_secret_names(struct ctx *c, const json_t *a, struct afu9_config *cfg)
{
	struct strv sv = { 0 };
	const json_t *v;
	const char *s;
	size_t i, at;

	if (want_array(c, a) == -1)
		return -1;
	if (json_array_size(a) > CONFIG_MAX_SECRETS)
		return ctx_err(c, "more than %u entries", CONFIG_MAX_SECRETS);
	json_array_foreach(a, i, v) {
		at = path_index(c, i);
		if (want_string(c, v, &s) == -1 || (!var_name_ok(s) &&
		    ctx_err(c, "must be a variable name") == -1) ||
		    (strv_has(sv.v, s) &&
		    ctx_err(c, "\"%s\" is listed twice", s) == -1)) {
			strv_free(sv.v);
			return -1;
		}
		if (strv_take(&sv, strdup(s)) == -1) {
			strv_free(sv.v);
			return ctx_oom(c);
		}
		path_pop(c, at);
	}
	cfg->nsecrets = sv.n;
	if ((cfg->secrets = strv_steal(&sv)) == NULL)
		return ctx_oom(c);
	return 0;
}

static int
parse_afu9(struct ctx *c, const json_t *o, struct afu9_config *cfg)
{
	static const char *const keys[] = {
		"http", "shutdownGraceMs", "secrets", "webhooks", NULL
	};
	const json_t *v;
	unsigned long long n;
	size_t at;

	if (want_object(c, o) == -1 || want_keys(c, o, keys) == -1)
		return -1;
	if ((v = json_object_get(o, "http")) != NULL) {
		at = path_key(c, "http");
		if (parse_http(c, v, cfg) == -1)
			return -1;
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "shutdownGraceMs")) != NULL) {
		at = path_key(c, "shutdownGraceMs");
		if (want_uint(c, v, 0, CONFIG_MS_MAX, &n) == -1)
			return -1;
		cfg->shutdown_grace_ms = (unsigned)n;
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "secrets")) != NULL) {
		at = path_key(c, "secrets");
		if (parse_secret_names(c, v, cfg) == -1)
			return -1;
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "webhooks")) != NULL) {
		at = path_key(c, "webhooks");
		if (config_parse_webhooks(c, v, cfg) == -1)
			return -1;
		path_pop(c, at);
	}
	return 0;
}

/* --- whole loads -------------------------------------------------------- */

static struct afu9_config *
config_new(void)
{
	struct afu9_config *cfg;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	cfg->shutdown_grace_ms = CONFIG_DEFAULT_GRACE_MS;
	return cfg;
}

/*
 * Global defaults (listen from AFU9_HTTP_LISTEN), the secrets of
 * afu9.secrets, then register every secret found.  0, or -1.
 */
static int
finish(struct ctx *c, struct afu9_config *cfg)
{
	const char *v;
	char why[160];
	size_t i;

	if (cfg->secrets == NULL &&
	    (cfg->secrets = calloc(1, sizeof(*cfg->secrets))) == NULL)
		return ctx_oom(c);
	if (cfg->listen != NULL)
		cfg->listen_explicit = 1;
	else {
		v = getenv("AFU9_HTTP_LISTEN");
		if (v == NULL || *v == '\0')
			v = CONFIG_DEFAULT_LISTEN;
		else if (check_listen(v, why, sizeof(why)) == -1)
			return ctx_ferr(c, "AFU9_HTTP_LISTEN: %s", why);
		else
			cfg->listen_explicit = 1;
		if ((cfg->listen = strdup(v)) == NULL)
			return ctx_oom(c);
	}
	for (i = 0; i < cfg->nsecrets; i++)
		if ((v = getenv(cfg->secrets[i])) != NULL &&
		    ctx_keep_secret(c, v) == -1)
			return -1;
	for (i = 0; i < c->found.n; i++) {
		if (redact_add_secret(c->found.v[i]) == -1)
			return ctx_ferr(c, "cannot register a secret with the "
			    "redactor: %s", errno == ENOSPC ? "too many secrets" :
			    errno == EINVAL ? "a secret value is too long" :
			    strerror(errno));
	}
	return 0;
}

/* Read at most CONFIG_MAX_FILE bytes of path into a new buffer. */
static char *
read_file(struct ctx *c, const char *path, size_t *lenp)
{
	struct stat st;
	char *b;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		ctx_errf(c, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		ctx_errf(c, 0, "cannot read: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		ctx_errf(c, 0, "cannot read: is a directory");
		close(fd);
		return NULL;
	}
	if ((b = malloc(CONFIG_MAX_FILE + 1)) == NULL) {
		ctx_oom(c);
		close(fd);
		return NULL;
	}
	while (len <= CONFIG_MAX_FILE) {
		n = read(fd, b + len, CONFIG_MAX_FILE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			ctx_errf(c, 0, "cannot read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_MAX_FILE) {
		ctx_errf(c, 0, "larger than %u bytes", CONFIG_MAX_FILE);
		goto fail;
	}
	close(fd);
	*lenp = len;
	return b;
fail:
	sodium_memzero(b, len);
	free(b);
	close(fd);
	return NULL;
}

static void
ctx_init(struct ctx *c, const char *label, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->label = label;
	c->err = err;
	c->errlen = errlen;
	path_add(c, "$", 1);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
}

static void
ctx_done(struct ctx *c)
{
	strv_free(c->found.v);
	memset(&c->found, 0, sizeof(c->found));
}

static int
parse_root(struct ctx *c, const json_t *root, struct afu9_config *cfg,
    const char *exe_dir)
{
	static const char *const keys[] = { "mcpServers", "afu9", NULL };
	const json_t *v;
	size_t at;

	if (want_object(c, root) == -1 || want_keys(c, root, keys) == -1)
		return -1;
	if ((v = json_object_get(root, "afu9")) != NULL) {
		at = path_key(c, "afu9");
		if (parse_afu9(c, v, cfg) == -1)
			return -1;
		path_pop(c, at);
	}
	c->secret_names = cfg->secrets;
	if ((v = json_object_get(root, "mcpServers")) == NULL)
		return ctx_err(c, "missing key \"mcpServers\"");
	at = path_key(c, "mcpServers");
	if (config_parse_servers(c, v, cfg, exe_dir) == -1)
		return -1;
	path_pop(c, at);
	return 0;
}

struct afu9_config *
config_load_file(const char *path, const char *exe_dir, char *err,
    size_t errlen)
{
	struct afu9_config *cfg = NULL;
	struct ctx c;
	json_error_t je;
	json_t *root = NULL;
	size_t len;
	char *text;

	ctx_init(&c, path, err, errlen);
	if ((text = read_file(&c, path, &len)) == NULL)
		return NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	sodium_memzero(text, len);
	free(text);
	if (root == NULL) {
		/* jansson sets no error when an allocation fails */
		if (je.text[0] == '\0' ||
		    json_error_code(&je) == json_error_out_of_memory)
			ctx_oom(&c);
		else if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:%d:%d: %s", path, je.line,
		    je.column, je.text);
		return NULL;
	}
	if ((cfg = config_new()) == NULL || (cfg->source = strdup(path)) ==
	    NULL) {
		ctx_oom(&c);
		goto fail;
	}
	if (parse_root(&c, root, cfg, exe_dir) == -1 || finish(&c, cfg) == -1)
		goto fail;
	json_decref(root);
	ctx_done(&c);
	return cfg;
fail:
	json_decref(root);
	ctx_done(&c);
	config_free(cfg);
	return NULL;
}

struct afu9_config *
config_default(const char *exe_dir, char *err, size_t errlen)
{
	struct afu9_config *cfg;
	struct ctx c;
	size_t i, n = sizeof(builtin) / sizeof(builtin[0]);

	ctx_init(&c, BUILTIN_LABEL, err, errlen);
	if ((cfg = config_new()) == NULL ||
	    (cfg->servers = calloc(n, sizeof(*cfg->servers))) == NULL) {
		ctx_oom(&c);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		cfg->nservers++;
		if (config_builtin_server(&c, &cfg->servers[i], builtin[i][0],
		    builtin[i][1], exe_dir) == -1)
			goto fail;
	}
	if (finish(&c, cfg) == -1)
		goto fail;
	ctx_done(&c);
	return cfg;
fail:
	ctx_done(&c);
	config_free(cfg);
	return NULL;
}

struct afu9_config *
config_load(const char *path, const char *exe_dir, char *err, size_t errlen)
{
	if (path == NULL)
		return config_default(exe_dir, err, errlen);
	return config_load_file(path, exe_dir, err, errlen);
}

void
config_free(struct afu9_config *cfg)
{
	struct config_server *s;
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nservers; i++) {
		s = &cfg->servers[i];
		free(s->name);
		redact_wipe_free(s->command);
		strv_free(s->argv);
		strv_free(s->env);
		strv_free(s->pass);
	}
	free(cfg->servers);
	free(cfg->source);
	free(cfg->listen);
	strv_free(cfg->secrets);
	json_decref(cfg->webhooks);
	free(cfg);
}

int
config_exe_dir(char *buf, size_t len)
{
	ssize_t n;
	char *slash;

	if (len < 2)
		return -1;
	if ((n = readlink("/proc/self/exe", buf, len - 1)) <= 0 ||
	    (size_t)n >= len - 1)
		return -1;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return -1;
	if (slash == buf)
		slash[1] = '\0';
	else
		*slash = '\0';
	return 0;
}


struct afu9_config *
config_open(const char *path, const struct config_env *env, char *err,
    size_t errlen)
{
	char dir[4096];
	const char *exe_dir = NULL;

	if (path == NULL)
		path = env->config_path;
	if (config_exe_dir(dir, sizeof(dir)) == 0)
		exe_dir = dir;
	return config_load(path, exe_dir, err, errlen);
}
