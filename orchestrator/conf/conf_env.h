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
};

/*
 * Fill e from the environment.  0, or -1 with the first bad value named
 * in err (AFU9_AUDIT_LINGER_MS not 0..10000 digits, AFU9_AUDIT_SYNC_COMMIT
 * not on/off); the values are never shown.
 */
int	config_env_read(struct config_env *e, char *err, size_t errlen);

/* The port of AFU9_HTTP_LISTEN ("...:PORT", 1 to 5 digits) into buf, for
   `afu9 health`'s default URL; NULL when unset or without one. */
const char *config_env_listen_port(const struct config_env *e, char *buf,
	    size_t len);

#endif
