/*
 * conf_int.h: what the files of conf/ share, for them only (conf.h is
 * the interface):
 *   conf.c          the file: reading it, the load context (JSON path,
 *                   first error, secrets found), typed getters, the
 *                   afu9 keys, whole loads, the built-in configuration
 *   conf_servers.c  the mcpServers entries: command, args, env and
 *                   ${VAR} references, envPassthrough and its defaults,
 *                   per-server limits, and a child's environment
 * A function one file gives the other has the prefix of what it works
 * on (var_, name_, ctx_, path_, want_, config_) and its contract
 * here.  Every getter and check reports at the current path and returns
 * 0, or -1 with the error set.
 */
#ifndef AFU9_CONF_INT_H
#define AFU9_CONF_INT_H

#include <stddef.h>
#include <jansson.h>

#include "conf/conf.h"
#include "strv.h"

#define PATH_TEXT_MAX	512	/* bytes of a JSON path in a message */


/* Where a load is, and what it has to register when it succeeds. */
struct ctx {
	const char	*label;		/* file path or BUILTIN_LABEL */
	char		 path[PATH_TEXT_MAX];	/* "$.mcpServers.x" */
	size_t		 plen;
	char		*err;
	size_t		 errlen;
	char *const	*secret_names;	/* afu9.secrets; NULL-terminated */
	struct strv	 found;		/* secret values to register */
};

/*
 * ctx_err(): "label: $.path: reason"; ctx_ferr(): "label: reason".  Both
 * are -1, visibly to the compiler.
 */
#define ctx_err(c, ...)		(ctx_errf((c), 1, __VA_ARGS__), -1)
#define ctx_ferr(c, ...)	(ctx_errf((c), 0, __VA_ARGS__), -1)

/* ---- conf.c: strings, vectors, names ---- */

/* Length of the [A-Za-z_][A-Za-z0-9_]* name at the start of s. */
size_t	 var_span(const char *s);
/* Is s such a name, whole, of at most CONFIG_VAR_MAX bytes? */
int	 var_name_ok(const char *s);
/* Bytes of s before the first byte outside [A-Za-z0-9_-]. */
size_t	 name_span(const char *s);

/* ---- conf.c: the load context ---- */

/* The first error, "label: $.path: reason" (with_path) or "label: reason". */
void	 ctx_errf(struct ctx *c, int with_path, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Descend into key, or index i; each returns the depth for path_pop(). */
size_t	 path_key(struct ctx *c, const char *key);
size_t	 path_index(struct ctx *c, size_t i);
void	 path_pop(struct ctx *c, size_t saved);
/* "out of memory" as the error: -1. */
int	 ctx_oom(struct ctx *c);
/* Keep value to register with the redactor if the load succeeds: 0, or
   -1 (out of memory, the error set). */
int	 ctx_keep_secret(struct ctx *c, const char *value);
/* Is name sensitive (redact.h) or listed in afu9.secrets? */
int	 ctx_is_secret(struct ctx *c, const char *name);

/* ---- conf.c: typed getters (*out borrowed from the JSON) ---- */

int	 want_object(struct ctx *c, const json_t *v);
int	 want_array(struct ctx *c, const json_t *v);
int	 want_string(struct ctx *c, const json_t *v, const char **out);
int	 want_bool(struct ctx *c, const json_t *v, int *out);
int	 want_uint(struct ctx *c, const json_t *v, unsigned long long min,
	    unsigned long long max, unsigned long long *out);
/* One of names[n]: its index in *idx; the message lists them. */
int	 want_enum(struct ctx *c, const json_t *v, const char *const *names,
	    size_t n, size_t *idx);
/* Every key of o is in known (NULL-terminated). */
int	 want_keys(struct ctx *c, const json_t *o, const char *const *known);

/* ---- conf_servers.c ---- */

/*
 * The mcpServers object o into cfg->servers, in file order; exe_dir
 * (may be NULL) is where "afu9-*" commands are looked for first.
 */
int	 config_parse_servers(struct ctx *c, const json_t *o,
	    struct afu9_config *cfg, const char *exe_dir);
/*
 * s as the built-in server name running prog (found in exe_dir, the
 * build tree or $PATH, else kept bare), every default applied.
 */
int	 config_builtin_server(struct ctx *c, struct config_server *s,
	    const char *name, const char *prog, const char *exe_dir);

/* ---- conf_webhooks.c ---- */

/* afu9.webhooks (the object o) checked, and a copy in cfg->webhooks. */
int	 config_parse_webhooks(struct ctx *c, const json_t *o,
	    struct afu9_config *cfg);

#endif
