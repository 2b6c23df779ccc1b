/*
 * conf_env: the orchestrator's environment variables (see conf_env.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf/conf_env.h"

/* getenv(), with "" as unset. */
static const char *
env_str(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Digits only, at most max; -1 otherwise. */
static int
env_ms(const char *v, unsigned max, unsigned *out)
{
	unsigned ms = 0;

	if (*v == '\0')
		return -1;
	for (; *v >= '0' && *v <= '9'; v++)
		if ((ms = ms * 10 + (unsigned)(*v - '0')) > max)
			return -1;
	if (*v != '\0')
		return -1;
	*out = ms;
	return 0;
}

/* A number of bytes within [min, max] into *out (left 0 when unset). */
static int
env_bytes(const char *name, unsigned long long min, unsigned long long max,
    unsigned long long *out, char *err, size_t errlen)
{
	const char *v = env_str(name), *p;
	unsigned long long n = 0;

	*out = 0;
	if (v == NULL)
		return 0;
	for (p = v; *p >= '0' && *p <= '9' && n <= max; p++)
		n = n * 10 + (unsigned long long)(*p - '0');
	if (*p != '\0' || n < min || n > max) {
		snprintf(err, errlen, "%s must be a number of bytes from %llu "
		    "to %llu", name, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

/* A count within [min, max] into *out (left 0 when unset). */
static int
env_count(const char *name, unsigned min, unsigned max, unsigned *out,
    char *err, size_t errlen)
{
	const char *v = env_str(name);

	if (v == NULL)
		return 0;
	if (env_ms(v, max, out) == -1 || *out < min) {
		snprintf(err, errlen, "%s must be a number from %u to %u", name,
		    min, max);
		return -1;
	}
	return 0;
}

static int
env_mcp_all(struct config_env *e, char *err, size_t errlen)
{
	if ((e->gateway_bare = env_str("AFU9_GATEWAY_BARE_SERVER")) != NULL &&
	    (strlen(e->gateway_bare) > 32 || strspn(e->gateway_bare,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
	    != strlen(e->gateway_bare))) {
		snprintf(err, errlen, "AFU9_GATEWAY_BARE_SERVER must be a server "
		    "name ([A-Za-z0-9_-]{1,32})");
		return -1;
	}
	e->mcp.allowed_hosts = env_str("AFU9_MCP_ALLOWED_HOSTS");
	e->mcp.allowed_origins = env_str("AFU9_MCP_ALLOWED_ORIGINS");
	e->mcp.resource = env_str("AFU9_MCP_RESOURCE");
	e->mcp.auth_servers = env_str("AFU9_MCP_AUTHORIZATION_SERVERS");
	return env_count("AFU9_MCP_MAX_SESSIONS", 1, CONFIG_MCP_COUNT_MAX,
	    &e->mcp.max_sessions, err, errlen) == -1 ||
	    env_count("AFU9_MCP_SESSION_REQUESTS", 1, CONFIG_MCP_COUNT_MAX,
	    &e->mcp.session_requests, err, errlen) == -1 ||
	    env_count("AFU9_MCP_MAX_STREAMS", 1, CONFIG_MCP_COUNT_MAX,
	    &e->mcp.max_streams, err, errlen) == -1 ||
	    env_count("AFU9_MCP_MAX_MESSAGE_BYTES", CONFIG_MCP_MESSAGE_MIN,
	    CONFIG_MCP_MESSAGE_MAX, &e->mcp.max_message, err, errlen) == -1 ||
	    env_count("AFU9_MCP_IDLE_S", CONFIG_MCP_IDLE_MIN, CONFIG_MCP_IDLE_MAX,
	    &e->mcp.idle_s, err, errlen) == -1 ||
	    env_count("AFU9_MCP_HEARTBEAT_MS", CONFIG_MCP_HEARTBEAT_MIN,
	    CONFIG_MCP_HEARTBEAT_MAX, &e->mcp.heartbeat_ms, err, errlen) == -1 ?
	    -1 : 0;
}

int
config_env_read(struct config_env *e, char *err, size_t errlen)
{
	const char *v;

	memset(e, 0, sizeof(*e));
	e->database_url = env_str("DATABASE_URL");
	e->config_path = env_str("AFU9_CONFIG");
	e->http_listen = env_str("AFU9_HTTP_LISTEN");
	e->migrations_dir = env_str("AFU9_MIGRATIONS_DIR");
	e->migrate = !((v = getenv("AFU9_MIGRATE")) != NULL &&
	    strcmp(v, "0") == 0);
	e->log_level_set = getenv("AFU9_LOG_LEVEL") != NULL;
	e->pgpassword = getenv("PGPASSWORD");
	e->audit_linger_ms = CONFIG_LINGER_MS_DEFAULT;
	if ((v = env_str("AFU9_AUDIT_LINGER_MS")) != NULL &&
	    env_ms(v, CONFIG_LINGER_MS_MAX, &e->audit_linger_ms) == -1) {
		snprintf(err, errlen, "AFU9_AUDIT_LINGER_MS must be a number "
		    "of milliseconds from 0 to %d", CONFIG_LINGER_MS_MAX);
		return -1;
	}
	if ((v = env_str("AFU9_AUDIT_SYNC_COMMIT")) != NULL &&
	    strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
		snprintf(err, errlen, "AFU9_AUDIT_SYNC_COMMIT must be on or off");
		return -1;
	}
	e->audit_async_commit = v != NULL && strcmp(v, "off") == 0;
	e->engine = !((v = getenv("AFU9_ENGINE")) != NULL &&
	    strcmp(v, "0") == 0);
	e->workflows_dir = env_str("AFU9_WORKFLOWS_DIR");
	e->workflow_env = env_str("AFU9_WORKFLOW_ENV");
	e->lease_ttl_ms = CONFIG_LEASE_TTL_DEFAULT;
	if ((v = env_str("AFU9_LEASE_TTL_MS")) != NULL &&
	    (env_ms(v, CONFIG_LEASE_TTL_MAX, &e->lease_ttl_ms) == -1 ||
	    e->lease_ttl_ms < CONFIG_LEASE_TTL_MIN)) {
		snprintf(err, errlen, "AFU9_LEASE_TTL_MS must be a number of "
		    "milliseconds from %d to %d", CONFIG_LEASE_TTL_MIN,
		    CONFIG_LEASE_TTL_MAX);
		return -1;
	}
	e->concurrency = CONFIG_CONCURRENCY_DEFAULT;
	if ((v = env_str("AFU9_ENGINE_CONCURRENCY")) != NULL &&
	    (env_ms(v, CONFIG_CONCURRENCY_MAX, &e->concurrency) == -1 ||
	    e->concurrency < 1)) {
		snprintf(err, errlen, "AFU9_ENGINE_CONCURRENCY must be a number "
		    "from 1 to %d", CONFIG_CONCURRENCY_MAX);
		return -1;
	}
	if ((e->api_token = env_str("AFU9_API_TOKEN")) != NULL &&
	    strlen(e->api_token) < CONFIG_API_TOKEN_MIN) {
		snprintf(err, errlen, "AFU9_API_TOKEN must be at least %d "
		    "bytes (a random token: openssl rand -hex 32)",
		    CONFIG_API_TOKEN_MIN);
		return -1;
	}
	/* the front door (api/auth.h, doc/api.md) */
	e->metrics_open = 0;
	if ((v = env_str("AFU9_METRICS")) != NULL) {
		if (strcmp(v, "open") == 0)
			e->metrics_open = 1;
		else if (strcmp(v, "token") != 0) {
			snprintf(err, errlen, "AFU9_METRICS must be token or "
			    "open");
			return -1;
		}
	}
	e->metrics_listen = env_str("AFU9_METRICS_LISTEN");
	e->trust_forwarded = 0;
	if ((v = env_str("AFU9_TRUST_FORWARDED")) != NULL) {
		if (strcmp(v, "1") == 0)
			e->trust_forwarded = 1;
		else if (strcmp(v, "0") != 0) {
			snprintf(err, errlen, "AFU9_TRUST_FORWARDED must be 0 "
			    "or 1");
			return -1;
		}
	}
	if (env_bytes("AFU9_HTTP_BODY_TOTAL", CONFIG_HTTP_BODY_TOTAL_MIN,
	    CONFIG_HTTP_BODY_TOTAL_MAX, &e->http_body_total, err, errlen) == -1 ||
	    env_count("AFU9_HTTP_MAX_CONNECTIONS", 1,
	    CONFIG_HTTP_CONNECTIONS_MAX, &e->http_connections, err,
	    errlen) == -1 ||
	    env_count("AFU9_HTTP_RESERVE_CONNECTIONS", 1,
	    CONFIG_HTTP_RESERVE_MAX, &e->http_reserve, err, errlen) == -1)
		return -1;
	e->agent.provider = env_str("AFU9_AGENT_PROVIDER");
	e->agent.model = env_str("AFU9_AGENT_MODEL");
	e->agent.prices = env_str("AFU9_AGENT_PRICES");
	e->agent.openai_key = env_str("OPENAI_API_KEY");
	e->agent.openai_url = env_str("OPENAI_BASE_URL");
	e->agent.anthropic_key = env_str("ANTHROPIC_API_KEY");
	e->agent.anthropic_url = env_str("ANTHROPIC_BASE_URL");
	if (e->agent.provider != NULL &&
	    strcmp(e->agent.provider, "openai") != 0 &&
	    strcmp(e->agent.provider, "anthropic") != 0) {
		snprintf(err, errlen, "AFU9_AGENT_PROVIDER must be openai or "
		    "anthropic");
		return -1;
	}
	if ((e->webhook_secret = env_str("AFU9_GITHUB_WEBHOOK_SECRET")) !=
	    NULL && strlen(e->webhook_secret) < CONFIG_WEBHOOK_SECRET_MIN) {
		snprintf(err, errlen, "AFU9_GITHUB_WEBHOOK_SECRET must be at "
		    "least %d bytes (a random secret: openssl rand -hex 32)",
		    CONFIG_WEBHOOK_SECRET_MIN);
		return -1;
	}
	return env_mcp_all(e, err, errlen);
}

int
config_env_workflow_env(const struct config_env *e, json_t **out, char *err,
    size_t errlen)
{
	const char *p = e->workflow_env, *v;
	char name[256];
	size_t n, count = 0;
	json_t *o;

	if ((o = json_object()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (p != NULL && *p != '\0') {
		n = strcspn(p, ",");
		if (n == 0 || n >= sizeof(name) || strspn(p, "ABCDEFGHIJKLMNOP"
		    "QRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != n ||
		    (*p >= '0' && *p <= '9')) {
			snprintf(err, errlen, "AFU9_WORKFLOW_ENV: a comma-"
			    "separated list of variable names");
			json_decref(o);
			return -1;
		}
		if (++count > CONFIG_WORKFLOW_ENV_MAX) {
			snprintf(err, errlen, "AFU9_WORKFLOW_ENV: at most %d "
			    "names", CONFIG_WORKFLOW_ENV_MAX);
			json_decref(o);
			return -1;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		if ((v = getenv(name)) != NULL &&
		    json_object_set_new(o, name, json_string(v)) == -1) {
			snprintf(err, errlen, "AFU9_WORKFLOW_ENV: %s: not "
			    "UTF-8, or out of memory", name);
			json_decref(o);
			return -1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*out = o;
	return 0;
}

const char *
config_env_listen_port(const struct config_env *e, char *buf, size_t len)
{
	const char *colon;
	size_t n;

	if (e->http_listen == NULL ||
	    (colon = strrchr(e->http_listen, ':')) == NULL)
		return NULL;
	n = strlen(colon + 1);
	if (n == 0 || n > 5 || strspn(colon + 1, "0123456789") != n ||
	    n >= len)
		return NULL;
	memcpy(buf, colon + 1, n + 1);
	return buf;
}
