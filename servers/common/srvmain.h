/*
 * srvmain: the command line, environment and start-up that afu9-github,
 * afu9-deploy and afu9-observability share.
 *
 * A server describes itself in a struct srv_def (its name, its tool
 * table, its --help text, its numeric environment knobs and any extra
 * on/off options); srv_parse() then reads
 *
 *   --help, -h              the server's usage on stdout, exit 0
 *   --version               "NAME VERSION" on stdout, exit 0
 *   --read-only             serve only the tools marked read_only
 *   --tools A,B / --tools=A,B                  serve only these
 *   --exclude-tools A,B / --exclude-tools=A,B  do not serve these
 *   the def's flags         (--allow-write ...), or their variables at 1
 *   the def's knobs         numbers from the environment, bounded
 *
 * Every name in a tool list must name a tool of the table; a list is at
 * most SRV_MAX_TOOL_LIST bytes.  srv_start() and srv_server_new() are the
 * common start-up around mcp_server_new(); they end the process through
 * fatalx() when the loop, the HTTP client or a tool cannot be set up, as
 * a server's main() would.
 *
 * srv_op_alloc() begins, and srv_call_return() and srv_call_verror() end,
 * a tool call that keeps its state in an op of the server's own kind: at
 * the end the op is freed, then the call completes.
 */
#ifndef AFU9_SRVMAIN_H
#define AFU9_SRVMAIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct ev_loop;
struct httpc;
struct mcp_call;
struct mcp_server;
struct mcp_server_opts;
struct mcp_tool;

#define SRV_MAX_TOOL_LIST	4096	/* --tools / --exclude-tools value */

/*
 * The optional idempotencyKey argument of the write tools (github
 * createBranch, createPullRequest, addIssueComment, pushFiles; deploy
 * updateService), as an input schema property: JSON text for a tool
 * table, `how` (a string literal, may be "") telling what the tool does
 * with it.  The workflow engine passes a key only to a tool whose schema
 * declares it.  The characters allowed are safe inside an HTML comment,
 * a commit trailer and a URL query, so a tool never escapes a key.
 */
#define SRV_KEY_MAX		255
#define SRV_P_IDEMPOTENCY_KEY(how) \
	"\"idempotencyKey\":{\"type\":\"string\",\"minLength\":1," \
	"\"maxLength\":255,\"pattern\":\"^[A-Za-z0-9._:-]{1,255}$\"," \
	"\"description\":\"A key that makes a repeated call return the " \
	"first call's result instead of writing again (letters, digits and " \
	". _ : -, at most 255). " how "\"}"

enum srv_knob_type {
	SRV_KNOB_LONG,			/* stored as (long)(value * scale) */
	SRV_KNOB_DOUBLE			/* stored as value * scale */
};

/*
 * A numeric environment knob: the variable, when set and not empty, must
 * hold a number from min to max (strtod syntax); value * scale is stored
 * at base + off, base being what srv_parse() is given.
 */
struct srv_knob {
	const char		*name;
	double			 min, max;
	double			 scale;
	enum srv_knob_type	 type;
	size_t			 off;
};

/*
 * The two knobs every server has, with the same bounds: the time one
 * HTTP attempt may take (1 ms to an hour, a long), and the backoff base
 * before a retry (1 ms to a minute, stored in seconds as a double).
 */
#define SRV_KNOB_TIMEOUT_MS(name, off) \
	{ (name), 1, 3600000, 1, SRV_KNOB_LONG, (off) }
#define SRV_KNOB_RETRY_BASE_MS(name, off) \
	{ (name), 1, 60000, 0.001, SRV_KNOB_DOUBLE, (off) }

/* An on/off option: `opt` on the command line, or `env` set to "1",
   sets the int at base + off to 1. */
struct srv_flag {
	const char	*opt;		/* "--allow-write" */
	const char	*env;		/* or NULL */
	size_t		 off;
};

struct srv_def {
	const char		*name;	/* "afu9-github": messages, log_init() */
	const struct mcp_tool	*(*table)(size_t *n);	/* static table */
	void			(*usage)(FILE *);	/* the --help text */
	const char		*read_only_env;	/* "1": as --read-only; or NULL */
	const struct srv_flag	*flags;
	size_t			 nflags;
	const struct srv_knob	*knobs;
	size_t			 nknobs;
};

/* What srv_parse() read.  The lists borrow from argv. */
struct srv_opts {
	int		 read_only;
	const char	*only;		/* --tools, or NULL */
	const char	*exclude;	/* --exclude-tools, or NULL */
};

/*
 * Read argv and the environment as def says into *so and (flags, knobs)
 * the struct at base.  Returns 0 to go on serving, with the logger set up
 * by log_init(def->name).  Otherwise returns -1 with *status the exit
 * status: 0 after --help or --version, 2 after a usage error, an unknown
 * tool or a knob out of bounds (the message, "NAME: ...", is on stderr).
 */
int	srv_parse(const struct srv_def *def, int argc, char **argv,
	    struct srv_opts *so, void *base, int *status);

/*
 * The part of a usage text the servers share: the --tools, --exclude-tools,
 * --help and --version lines, a blank line, then the tools of the table,
 * with an r/w column unless every tool only reads.
 */
void	srv_usage_tools(FILE *f, const struct srv_def *def);

/* The default event loop and an HTTP client on it (httpc_free() it);
   fatalx() when either cannot be had. */
void	srv_start(struct ev_loop **loopp, struct httpc **hcp);

/*
 * A server on stdin/stdout with the tools of def->table that *so selects,
 * each registered with `udata` (borrowed; it must outlive the server).
 * *ntools is their count.  fatalx() on ENOMEM or a tool that cannot be
 * registered (logged first).  Run it with srv_run().
 */
struct mcp_server *srv_server_new(struct ev_loop *loop,
	    const struct mcp_server_opts *mo, const struct srv_def *def,
	    const struct srv_opts *so, void *udata, int *ntools);

/* Run the server until the session ends, free it, and return the
   process exit status (mcp_server_run()'s). */
int	srv_run(struct mcp_server *srv);

/*
 * The start of a server's op: `size` zeroed bytes, and in *notes a new
 * empty array for it; both are the caller's.  On ENOMEM neither is kept,
 * the call fails with -32603 and NULL is returned.
 */
void	*srv_op_alloc(struct mcp_call *call, size_t size, json_t **notes);

/* Frees a server's op (and whatever it holds). */
typedef void	srv_free_fn(void *op);

/*
 * Success: when structured is not NULL and `notes` (an array the op owns,
 * or NULL) is not empty, structured gets a reference to it as "notes";
 * then free_op(op), then mcp_call_return(call, structured, NULL), which
 * steals structured.
 */
void	srv_call_return(struct mcp_call *call, json_t *structured,
	    json_t *notes, srv_free_fn *free_op, void *op);

/*
 * A tool error: the message is formatted first (its arguments may point
 * into the op), then free_op(op), then mcp_call_error(call) with it, or
 * with "out of memory" when it cannot be formatted.
 */
void	srv_call_verror(struct mcp_call *call, srv_free_fn *free_op, void *op,
	    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

#define SRV_NOTE_MAX	512	/* bytes of one note, with the NUL */

/*
 * Append a note, formatted and cut at SRV_NOTE_MAX - 1 bytes, to the
 * array `notes` (borrowed).  With `distinct` 0 every note is appended;
 * otherwise a note already there is not added again and at most
 * `distinct` notes are kept.  A note that cannot be allocated is dropped.
 */
void	srv_vnote(json_t *notes, size_t distinct, const char *fmt, va_list ap)
	    __attribute__((format(printf, 3, 0)));

#endif
