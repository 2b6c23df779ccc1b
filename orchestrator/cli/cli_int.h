/*
 * cli_int.h: what the files of cli/ share, for them only (cli.h is the
 * interface):
 *   cli.c         what every subcommand uses; `version`
 *   cli_call.c    `tools` and `call`: the servers started for one
 *                 command, arguments coerced by the tool's schema
 *   cli_db.c      `migrate` and `audit`, on DATABASE_URL
 *   cli_health.c  `health`
 *   cli_token.c   `token`: API tokens on DATABASE_URL
 *   cli_workflow.c `workflow`: definitions validated against the
 *                 servers of cli_call.c, executions on DATABASE_URL
 *   cli_agent.c   `agent`: a run on the servers of cli_call.c
 *   cli_agentrec.c `agent show|list`: recorded runs on DATABASE_URL
 *   cli_webhooks.c `webhooks list|redeliver`: webhook_events on
 *                 DATABASE_URL, a hook's deliveries on GitHub
 */
#ifndef AFU9_CLI_INT_H
#define AFU9_CLI_INT_H

#include <stdio.h>

#include <ev.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "conf/conf_env.h"
#include "mcp/router.h"
#include "store/store.h"

/* Exit statuses (cli.h says which subcommand gives which). */
#define EX_TOOL_ERROR		1
#define EX_USAGE		2
#define EX_UNAVAILABLE		3

/*
 * The environment (conf/conf_env.h) into e, or a message naming the bad
 * variable for `who` on stderr: 0, or -1.
 */
int	cli_env(struct config_env *e, const char *who);

/*
 * The configured servers, started for one command (cli_call.c): `tools`,
 * `call` and `workflow apply` use them.
 */
struct cli {
	struct ev_loop		*loop;
	struct config_env	 env;
	struct afu9_config	*cfg;
	struct router		*r;
	struct store		*st;		/* audit; NULL: none */
	ev_timer		 deadline;
	int			 want;		/* server index; -1: all */
	int			 waiting;
	/* one call */
	int			 done;
	json_t			*result;	/* owned */
	enum router_ekind	 ekind;
	char			 emsg[1024];
};

/*
 * Load the configuration (path; NULL: $AFU9_CONFIG or the built-in one),
 * start its servers (only `server` when not NULL) without restarts and
 * wait until each is ready or has failed (at most 30 s); audit: open the
 * store when DATABASE_URL is set.  0, or an exit status with the reason
 * on stderr.  Call cli_down() afterwards in either case.
 */
int	cli_boot(struct cli *c, const char *path, const char *server,
	    int audit);
/* Stop the servers, write the queued audit rows, free everything. */
void	cli_down(struct cli *c);
/* Print each wanted server that is not ready to stderr; their count. */
int	cli_report_down(struct cli *c);

/*
 * What cli_workflow.c gives the other commands on DATABASE_URL
 * (cli_agentrec.c): one blocking connection, messages, printing.
 */
struct wf {
	const char		*cmd;	/* "afu9 workflow run": messages */
	const char		*ctx;	/* NULL, or what the next message
					   is about (a file) */
	struct config_env	 env;
	PGconn			*conn;
	char			 state[6];	/* SQLSTATE of the last
						   failure, "" if none */
};

/* "CMD: message" on stderr, with every registered secret redacted. */
void	 wf_err(const struct wf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Read the environment and connect: 0, or the exit status (2: no
   DATABASE_URL, 1: the connection failed) with the reason on stderr. */
int	 wf_open(struct wf *, const char *cmd);
void	 wf_close(struct wf *);
/* The one jsonb value of a one-column query (a new reference), or NULL:
   *rc is 0 for no row or SQL NULL, else the exit status (the reason on
   stderr). */
json_t	*wf_json(struct wf *, const char *sql, int n, const char *const *p,
	    int *rc);
/* A decimal number lo..hi (digits only) into *out: 0, or -1. */
int	 num_ok(const char *s, unsigned long lo, unsigned long hi,
	    unsigned long *out);
/* A cursor "TIME/UUID" as the listings print it, split: 0, or -1. */
int	 cursor_ok(const char *s, char *ts, size_t tslen, const char **id);
/* The string member key of o (borrowed), "" when none. */
const char *jstr(const json_t *o, const char *key);
/* Compact JSON text of v (malloc'd); "null" for NULL. */
char	*jtext(const json_t *v);
/*
 * s[0..n) to f with nothing a terminal would act on: newline, CR and tab
 * as \n \r \t; the other C0 controls and DEL as \xNN; the C1
 * controls (U+0080..U+009F, which some terminals take as CSI and the
 * like) as \u00NN; a byte that is not part of a well-formed character
 * (utf8.h's u8_charlen()) as U+FFFD, utf8.h's one repair rule.  What a
 * row, a model or GitHub wrote is printed through it.
 */
void	 put_safe(FILE *f, const char *s, size_t n);
/* s through put_safe(), cut to max bytes (0: all) at a character
   boundary, "..." when cut. */
void	 put_cut(FILE *f, const char *s, size_t max);
/* s through put_safe(), malloc'd; NULL on ENOMEM. */
char	*safe_dup(const char *s);
/* s through put_safe(), padded to width bytes with spaces; when cut,
   also cut to width at a character boundary ("?" when out of memory). */
void	 put_col(FILE *f, const char *s, size_t width, int cut);
/* s through put_safe(), cut to max bytes (0: all) with a note of its
   size, then a newline. */
void	 print_trim(FILE *f, const char *s, size_t max);
/* rc once stdout is flushed; when it could not be written, the reason on
   stderr (after cmd) and rc, or 1 when rc is 0. */
int	 cli_out_done(const char *cmd, int rc);
/* Seconds between two afu9_ts() texts (-1: either missing); a span as
   "12 ms", "3.4 s", "5 min 2 s" into buf. */
double	 span_s(const char *from, const char *to);
const char *fmt_span(double s, char *buf, size_t len);

/*
 * `afu9 agent show RUN [--full] [--json]` and `afu9 agent list [--status
 * S] [--execution ID] [--limit N] [--after CURSOR] [--json]`
 * (cli_agentrec.c): argv[0] is "show" or "list"; the exit status.
 */
int	 cli_agent_show(int argc, char **argv);
int	 cli_agent_list(int argc, char **argv);

#endif
