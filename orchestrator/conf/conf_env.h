/*
 * conf_env: every environment variable the orchestrator reads, in one
 * place (doc/configuration.md lists them).  Nothing else in orchestrator/
 * calls getenv(); the protocol library keeps AFU9_LOG_* and
 * AFU9_MAX_MESSAGE_BYTES (shared with the servers), and conf.c and
 * conf_servers.c read the variables a configuration file names (${VAR},
 * envPassthrough, secrets), PATH to resolve a command, and
 * AFU9_HTTP_LISTEN as the default of afu9.http.listen (the file loader
 * runs without a struct config_env; both read the same value).
 *
 * The strings are borrowed from the environment: valid until it changes.
 * Read it again (config_env_read()) after a setenv().
 */
#ifndef AFU9_CONF_ENV_H
#define AFU9_CONF_ENV_H

#include <stddef.h>

#define CONFIG_LINGER_MS_DEFAULT	5
#define CONFIG_LINGER_MS_MAX		10000
#define CONFIG_LEASE_TTL_DEFAULT	10000
#define CONFIG_LEASE_TTL_MIN		500
#define CONFIG_LEASE_TTL_MAX		600000
#define CONFIG_CONCURRENCY_DEFAULT	256
#define CONFIG_CONCURRENCY_MAX		10000
#define CONFIG_API_TOKEN_MIN		16	/* bytes of AFU9_API_TOKEN */
#define CONFIG_WORKFLOW_ENV_MAX		64	/* names in AFU9_WORKFLOW_ENV */
/* remote MCP (/mcp): bounds of the AFU9_MCP_* numbers */
#define CONFIG_MCP_COUNT_MAX		1000000	/* sessions, requests, streams */
#define CONFIG_MCP_MESSAGE_MIN		4096
#define CONFIG_MCP_MESSAGE_MAX		(64u << 20)
#define CONFIG_MCP_IDLE_MIN		1
#define CONFIG_MCP_IDLE_MAX		604800	/* a week */
#define CONFIG_MCP_HEARTBEAT_MIN	100
#define CONFIG_MCP_HEARTBEAT_MAX	600000
#define CONFIG_WEBHOOK_SECRET_MIN	16	/* bytes of the webhook secret */
/* AFU9_HTTP_BODY_TOTAL: request body bytes buffered, all connections */
#define CONFIG_HTTP_BODY_TOTAL_MIN	(1ull << 20)
#define CONFIG_HTTP_BODY_TOTAL_MAX	(16ull << 30)
/* AFU9_HTTP_MAX_CONNECTIONS, AFU9_HTTP_RESERVE_CONNECTIONS */
#define CONFIG_HTTP_CONNECTIONS_MAX	1000000
#define CONFIG_HTTP_RESERVE_MAX		1024

struct config_env {
	const char	*database_url;	/* DATABASE_URL; NULL: unset or "" */
	const char	*config_path;	/* AFU9_CONFIG; NULL: unset or "" */
	const char	*http_listen;	/* AFU9_HTTP_LISTEN; NULL: unset or "",
					   else as given (checked by conf.c) */
	const char	*migrations_dir; /* AFU9_MIGRATIONS_DIR; NULL: unset */
	int		 migrate;	/* AFU9_MIGRATE: 0 only for "0" */
	int		 log_level_set;	/* AFU9_LOG_LEVEL is set */
	unsigned	 audit_linger_ms; /* AFU9_AUDIT_LINGER_MS, 0..MAX */
	int		 audit_async_commit; /* AFU9_AUDIT_SYNC_COMMIT=off */
	const char	*pgpassword;	/* PGPASSWORD (libpq's); NULL: unset */
	/* the workflow engine */
	int		 engine;	/* AFU9_ENGINE: 0 only for "0" */
	const char	*workflows_dir;	/* AFU9_WORKFLOWS_DIR; NULL: unset */
	unsigned	 lease_ttl_ms;	/* AFU9_LEASE_TTL_MS, MIN..MAX */
	unsigned	 concurrency;	/* AFU9_ENGINE_CONCURRENCY, 1..MAX */
	const char	*workflow_env;	/* AFU9_WORKFLOW_ENV: names, commas */
	const char	*api_token;	/* AFU9_API_TOKEN; NULL: unset (the
					   bootstrap admin token, api/auth.h) */
	const char	*gateway_bare;	/* AFU9_GATEWAY_BARE_SERVER: a server
					   whose tools the gateways offer
					   under their own names; NULL */
	/* remote MCP (api/mcphttp.h); 0 / NULL: unset (the defaults) */
	struct {
		const char	*allowed_hosts;	/* AFU9_MCP_ALLOWED_HOSTS */
		const char	*allowed_origins; /* AFU9_MCP_ALLOWED_ORIGINS */
		const char	*resource;	/* AFU9_MCP_RESOURCE */
		const char	*auth_servers;	/* AFU9_MCP_AUTHORIZATION_SERVERS */
		unsigned	 max_sessions;	/* AFU9_MCP_MAX_SESSIONS */
		unsigned	 session_requests; /* AFU9_MCP_SESSION_REQUESTS */
		unsigned	 max_streams;	/* AFU9_MCP_MAX_STREAMS */
		unsigned	 max_message;	/* AFU9_MCP_MAX_MESSAGE_BYTES */
		unsigned	 idle_s;	/* AFU9_MCP_IDLE_S */
		unsigned	 heartbeat_ms;	/* AFU9_MCP_HEARTBEAT_MS */
	} mcp;
	/* the front door (doc/api.md) */
	int		 metrics_open;	/* AFU9_METRICS: "open" 1, "token"
					   (the default) 0: /metrics on the
					   main address needs a token */
	const char	*metrics_listen; /* AFU9_METRICS_LISTEN: a second
					   address serving /metrics (and
					   /health, /ready) without a
					   token; NULL: none */
	int		 trust_forwarded; /* AFU9_TRUST_FORWARDED=1: the
					   client is the last address of
					   X-Forwarded-For */
	unsigned long long http_body_total; /* AFU9_HTTP_BODY_TOTAL, MIN..MAX
					   bytes; 0: unset (http.h's
					   default) */
	unsigned	 http_connections; /* AFU9_HTTP_MAX_CONNECTIONS,
					   1..MAX; 0: unset (http.h's) */
	unsigned	 http_reserve;	/* AFU9_HTTP_RESERVE_CONNECTIONS,
					   1..MAX; 0: unset (http.h's) */
	/* agent runs (agent/agent.h, agent_provider_env()); NULL: unset
	   or "" */
	struct {
		const char	*provider;	/* AFU9_AGENT_PROVIDER: "openai"
						   or "anthropic" (checked) */
		const char	*model;		/* AFU9_AGENT_MODEL */
		const char	*prices;	/* AFU9_AGENT_PRICES: JSON */
		const char	*openai_key;	/* OPENAI_API_KEY */
		const char	*openai_url;	/* OPENAI_BASE_URL */
		const char	*anthropic_key;	/* ANTHROPIC_API_KEY */
		const char	*anthropic_url;	/* ANTHROPIC_BASE_URL */
	} agent;
	const char	*webhook_secret; /* AFU9_GITHUB_WEBHOOK_SECRET; NULL:
					   unset (no webhook route) */
};

/*
 * Fill e from the environment.  0, or -1 with the first bad value named
 * in err (AFU9_AUDIT_LINGER_MS not 0..10000 digits, AFU9_AUDIT_SYNC_COMMIT
 * not on/off, AFU9_LEASE_TTL_MS or AFU9_ENGINE_CONCURRENCY out of range,
 * AFU9_API_TOKEN shorter than CONFIG_API_TOKEN_MIN, an AFU9_MCP_* number
 * out of its range, AFU9_METRICS not token/open, AFU9_TRUST_FORWARDED not
 * 0/1, AFU9_HTTP_BODY_TOTAL not a number of bytes in range,
 * AFU9_HTTP_MAX_CONNECTIONS or AFU9_HTTP_RESERVE_CONNECTIONS out of range,
 * AFU9_AGENT_PROVIDER neither openai nor anthropic,
 * AFU9_GATEWAY_BARE_SERVER not a server name, AFU9_GITHUB_WEBHOOK_SECRET
 * shorter than CONFIG_WEBHOOK_SECRET_MIN); the values are never
 * shown.
 */
int	config_env_read(struct config_env *e, char *err, size_t errlen);

/*
 * The values of the names AFU9_WORKFLOW_ENV allows (${{ env.NAME }} in
 * workflow definitions) as a new JSON object in *out; an allowed name
 * that is unset is left out (a reference to it fails).  0, or -1 with
 * err (a name not [A-Za-z_][A-Za-z0-9_]*, more than
 * CONFIG_WORKFLOW_ENV_MAX names, ENOMEM).
 */
struct json_t;
int	config_env_workflow_env(const struct config_env *e,
	    struct json_t **out, char *err, size_t errlen);

/* The port of AFU9_HTTP_LISTEN ("...:PORT", 1 to 5 digits) into buf, for
   `afu9 health`'s default URL; NULL when unset or without one. */
const char *config_env_listen_port(const struct config_env *e, char *buf,
	    size_t len);

#endif
