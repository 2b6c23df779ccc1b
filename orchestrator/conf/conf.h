/*
 * conf: the orchestrator's configuration (`afu9 serve [--config FILE]`):
 * parse, validate, expand and default it, once, at start.
 *
 * (Named conf.h, not config.h: a config.h in this directory would shadow
 * the autoconf config.h that each orchestrator source file includes first.)
 *
 * The file is one JSON object in the `mcpServers` shape MCP hosts use,
 * plus afu9 keys.  Every key is optional unless marked required:
 *
 *   {
 *     "mcpServers": {                   object of servers (at most 64)
 *       "<name>": {                     [A-Za-z0-9_-]{1,32}; tools are
 *                                       addressed as "<name>.<tool>"
 *         "type": "stdio",              the only transport accepted
 *         "command": "afu9-github",     string, required, not empty
 *         "args": ["--x", "y"],         array of strings (at most 1023)
 *         "env": {"NAME": "value"},     object of strings (at most 128);
 *                                       NAME is [A-Za-z_][A-Za-z0-9_]*
 *         "envPassthrough": ["PATH"],   names of variables copied from
 *                                       the orchestrator's environment,
 *                                       or prefixes ending in '*'
 *                                       ("AWS_ENDPOINT_URL*"); at most
 *                                       128; replaces the default list
 *         "framing": "content-length",  or "ndjson"; default
 *                                       "content-length" when the command's
 *                                       basename starts with "afu9-",
 *                                       else "ndjson"
 *         "restart": "always",          or "on-failure" or "never"
 *         "required": true,             counts for /ready
 *         "disabled": false,            checked, never started
 *         "callTimeoutMs": 60000,       1..3600000, one tools/call
 *         "pingIntervalMs": 30000,      0..3600000, 0: no pings
 *         "pingTimeoutMs": 10000,       1..3600000
 *         "maxMessageBytes": 16777216   1024..1073741824; default
 *                                       $AFU9_MAX_MESSAGE_BYTES or 16 MiB
 *       }
 *     },
 *     "afu9": {
 *       "http": {"listen": "0.0.0.0:8080"},  IPv4:PORT or [IPv6]:PORT,
 *                                       numeric; default
 *                                       $AFU9_HTTP_LISTEN, else
 *                                       "0.0.0.0:8080"
 *       "shutdownGraceMs": 20000,       0..3600000, SIGTERM to SIGKILL
 *       "secrets": ["MY_API_KEY"],      variable names (at most 64) whose
 *                                       values are kept out of logs
 *       "webhooks": {                   GitHub deliveries -> workflows
 *         "rules": [RULE],              for every repository (at most 64)
 *         "repositories": {             OWNER/NAME: its own rules, which
 *           "o/r": [RULE]               replace "rules" (at most 1000)
 *         }
 *       }
 *     }
 *   }
 * RULE (doc/webhooks.md):
 *   {"event": "issues",                 required, [a-z][a-z0-9_]{0,63}
 *    "action": "labeled",               optional: only this action
 *    "if": "${{ expr }}",               optional condition on `event`
 *    "workflow": "issue_to_pr",         required, a workflow name
 *    "input": {templates}}              optional object ({})
 * The database is not configured here: DATABASE_URL is read where used.
 *
 * Refused: unknown keys (a typo is a bug), wrong types, numbers out of
 * bounds or not integers, duplicate keys, files over CONFIG_MAX_FILE
 * bytes.  The first error is returned, as "FILE: $.json.path: reason",
 * e.g. "c.json: $.mcpServers.github.args[1]: must be a string", or
 * "FILE:LINE:COLUMN: reason" for malformed JSON, or "FILE: out of
 * memory".
 *
 * Environment references, in command, args and env values:
 *   ${NAME}            the variable's value; an error if it is unset
 *   ${NAME:-default}   the default when NAME is unset or empty (the
 *                      default is literal text up to the first '}')
 *   $$                 one '$'
 * Any other '$' is an error.  An expanded string holds at most
 * CONFIG_MAX_STR bytes.  A disabled server is checked but not expanded:
 * its strings stay as written.
 *
 * Secrets registered with the redactor (redact_add_secret()) when a
 * load succeeds, so they never reach a log line:
 *  - the value of every ${NAME} whose NAME is sensitive
 *    (redact_is_sensitive_key()) or listed in afu9.secrets;
 *  - the whole value of an env entry whose key is sensitive or listed;
 *  - the value of every variable listed in afu9.secrets;
 *  - the value of every sensitive variable a server's envPassthrough
 *    lets through (GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY ...).
 * Values under 4 bytes are skipped; any other refusal (the redactor is
 * full, a value too long) fails the load, and the secrets registered
 * before it stay registered.
 *
 * Default envPassthrough (when a server has none):
 *   every server: PATH HOME LANG TZ TMPDIR AFU9_LOG_LEVEL AFU9_LOG_FORMAT
 *     AFU9_MAX_MESSAGE_BYTES SSL_CERT_FILE SSL_CERT_DIR HTTPS_PROXY
 *     https_proxy NO_PROXY no_proxy
 *   command basename afu9-github, also: GITHUB_TOKEN GITHUB_TOKEN_FILE
 *     GITHUB_API_URL
 *   afu9-deploy and afu9-observability, also: AWS_REGION
 *     AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
 *     AWS_SESSION_TOKEN AWS_PROFILE AWS_CONFIG_FILE
 *     AWS_SHARED_CREDENTIALS_FILE AWS_CONTAINER_CREDENTIALS_*
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *     AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ROLE_SESSION_NAME
 *     AWS_ENDPOINT_URL* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
 *
 * Commands: a bare command name starting with "afu9-" is run from
 * exe_dir (the directory of the afu9 binary) when an executable file of
 * that name is there; any other bare name is left to the supervisor's
 * $PATH search.  Without a file, the built-in configuration runs
 * github (afu9-github), deploy (afu9-deploy) and observability
 * (afu9-observability), each found in exe_dir, in the build tree's
 * exe_dir/../servers/NAME/, or else on $PATH (stored as a full path); a
 * binary found nowhere keeps its bare name, so afu9 still starts and that
 * child fails with "exec failed", which /ready shows.  Every default
 * above applies.
 *
 * Environment variables are read with getenv() during the load only.
 */
#ifndef AFU9_CONF_H
#define AFU9_CONF_H

#include <stddef.h>

#include <jansson.h>

#include "frame.h"
#include "conf/conf_env.h"
#include "proc/supervisor.h"

#define CONFIG_MAX_FILE		(1024u * 1024)	/* bytes of the file */
#define CONFIG_MAX_SERVERS	64
#define CONFIG_NAME_MAX		32		/* bytes of a server name */
#define CONFIG_MAX_ARGS		(SUP_ARGV_MAX - 1)
#define CONFIG_MAX_ENV		128		/* env entries */
#define CONFIG_MAX_PASS		128		/* envPassthrough entries */
#define CONFIG_MAX_SECRETS	64		/* afu9.secrets entries */
#define CONFIG_MAX_STR		(32u * 1024)	/* one expanded string */
#define CONFIG_VAR_MAX		128		/* bytes of a variable name */
#define CONFIG_MS_MAX		3600000u
#define CONFIG_MAX_MSG_MAX	(1024u * 1024 * 1024)
#define CONFIG_MAX_RULES	64		/* webhook rules in one list */
#define CONFIG_MAX_RULE_REPOS	1000		/* afu9.webhooks.repositories */

#define CONFIG_DEFAULT_LISTEN		"0.0.0.0:8080"
#define CONFIG_DEFAULT_GRACE_MS		20000u
#define CONFIG_DEFAULT_CALL_TIMEOUT_MS	60000u
#define CONFIG_DEFAULT_PING_INTERVAL_MS	30000u
#define CONFIG_DEFAULT_PING_TIMEOUT_MS	10000u

/* One server; every string and vector owned by the config. */
struct config_server {
	char		 *name;
	char		 *command;	/* argv[0]: expanded, maybe resolved */
	char		**argv;		/* command then args; NULL-terminated */
	size_t		  argc;
	char		**env;		/* "NAME=value"; NULL-terminated */
	size_t		  nenv;
	char		**pass;		/* envPassthrough; NULL-terminated */
	size_t		  npass;
	enum frame_mode	  framing;	/* FRAME_CL or FRAME_NDJSON */
	enum sup_policy	  restart;
	int		  required;
	int		  disabled;
	unsigned	  call_timeout_ms;
	unsigned	  ping_interval_ms;	/* 0: none */
	unsigned	  ping_timeout_ms;
	size_t		  max_message_bytes;
};

struct afu9_config {
	char			 *source;	/* the file path; NULL: built-in */
	char			 *listen;
	int			  listen_explicit; /* from the file's key or
						     AFU9_HTTP_LISTEN, not
						     the default */
	unsigned		  shutdown_grace_ms;
	char			**secrets;	/* names; NULL-terminated */
	size_t			  nsecrets;
	struct config_server	 *servers;	/* in file order */
	size_t			  nservers;
	json_t			 *webhooks;	/* afu9.webhooks as checked;
						   NULL: none */
};

/*
 * Load and check the file at path.  exe_dir (may be NULL) is where
 * "afu9-*" commands are looked for first.  Returns a new config (free
 * with config_free()), or NULL with the first error in err[errlen].
 * Secrets are registered only once everything else succeeded.
 */
struct afu9_config *config_load_file(const char *path, const char *exe_dir,
	    char *err, size_t errlen);
/*
 * The built-in configuration (see above); exe_dir may be NULL (then
 * $PATH only).  A new config, or NULL with a reason in err.
 */
struct afu9_config *config_default(const char *exe_dir, char *err,
	    size_t errlen);
/* config_load_file(), or config_default() when path is NULL. */
struct afu9_config *config_load(const char *path, const char *exe_dir,
	    char *err, size_t errlen);
/*
 * The configuration afu9 runs with: path, else env->config_path
 * ($AFU9_CONFIG), else the built-in one, with "afu9-*" commands looked up
 * next to this binary.  NULL with err filled.
 */
struct afu9_config *config_open(const char *path,
	    const struct config_env *env, char *err, size_t errlen);
/* Wipes and frees every string; NULL is a no-op. */
void	config_free(struct afu9_config *);
/* The server named name, borrowed from cfg; NULL if there is none. */
const struct config_server *config_server_find(const struct afu9_config *,
	    const char *name);

/*
 * The environment for one start of s: each entry of envp ("NAME=value";
 * envp may be NULL) whose NAME matches s->pass (first occurrence of a
 * name only; pass order, then envp order), minus names that s->env sets,
 * then s->env in order.  Exactly that, nothing else.  A new
 * NULL-terminated vector in one allocation (pointers and strings): free
 * it with config_env_free(), which wipes it.  NULL on ENOMEM.  Meant
 * for struct sup_spec's env: the one place that decides what of afu9's
 * environment a child sees ('*' prefixes are resolved here).
 */
char	**config_build_env(const struct config_server *s, char *const *envp);
void	  config_env_free(char **);

/* Directory of the running binary (/proc/self/exe) into buf: 0, or -1. */
int	config_exe_dir(char *buf, size_t len);
/* "content-length" / "ndjson"; "always" / "on-failure" / "never". */
const char *config_framing_name(enum frame_mode);
const char *config_restart_name(enum sup_policy);

#endif
