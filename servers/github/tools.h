/*
 * tools: the afu9-github MCP tools over gh (the GitHub REST layer).
 *
 * Each tool call is one struct op: a small state machine that sends one
 * GitHub request at a time and continues in the callback (op->next).  It
 * ends exactly once, through op_return() or op_error(), which complete the
 * MCP call and free the op; a cancelled call frees it through the cancel
 * hook, which also cancels the request in flight.
 *
 * Results are compact: only the fields a model needs, issue and pull
 * request text cleaned by text.h and capped, with notes[] saying what was
 * removed or cut.
 */
#ifndef AFU9_GHTOOLS_H
#define AFU9_GHTOOLS_H

#include <stddef.h>
#include <jansson.h>

#include "github/gh.h"
#include "mcp_server.h"

/* Bounds */
#define GHT_BODY_CAP		16384u	/* issue / PR body, bytes */
#define GHT_COMMENT_CAP		4096u	/* one comment body */
#define GHT_TITLE_CAP		1024u	/* titles, label names */
#define GHT_FILE_CAP_DEFAULT	65536u	/* getFileContents text */
#define GHT_FILE_CAP_MAX	1048576u
#define GHT_LIST_DEFAULT	30
#define GHT_LIST_MAX		300
#define GHT_MAX_PAGES		100	/* Link pages followed in one call */
#define GHT_PUSH_MAX_FILES	100
#define GHT_PUSH_MAX_BYTES	(8u * 1024 * 1024)	/* all contents */
#define GHT_TREE_DEFAULT	1000	/* getRepositoryTree entries */
#define GHT_TREE_MAX		10000
#define GHT_CHECK_TEXT_DEFAULT	4096	/* a check's summary or text */
#define GHT_CHECK_TEXT_MAX	65536

struct op;
typedef void (*op_fn)(struct op *, struct gh_result *);
/* Paged listing: returns a new compact item, or NULL to skip it. */
typedef json_t *(*ght_keep_fn)(struct op *, const json_t *item);

struct op {
	struct mcp_call	*call;
	struct gh	*gh;
	const json_t	*args;		/* borrowed for the call's life */
	struct gh_req	*req;		/* in flight, or NULL */
	op_fn		 next;		/* continuation for req */
	const char	*owner;		/* borrowed from args */
	const char	*repo;
	/* scratch, owned by the op and freed with it */
	char		*s[5];
	json_t		*acc;
	json_t		*out;
	json_t		*notes;		/* array of strings */
	long		 n;
	long		 max;
	long		 pages;
	size_t		 i;
	int		 flag;
	ght_keep_fn	 keep;		/* ght_list() */
};

/*
 * A new op for `call`, with the cancel hook set and owner/repo taken from
 * args when present.  NULL (and the call failed) on ENOMEM.  The name
 * check rejects "." and ".." as owner or repo with an isError result.
 */
struct op *op_new(struct mcp_call *, const json_t *args, void *udata);
/*
 * Send METHOD to a path built from fmt (arguments already percent-
 * encoded), with body borrowed; continue in next.  On failure to start,
 * the call ends with an isError result and the op is gone.
 */
void	op_send(struct op *, const char *method, const json_t *body, int flags,
	    op_fn next, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));
/* Send to an absolute URL (a Link next). */
void	op_send_url(struct op *, const char *url, op_fn next);
/* Success: structured (stolen) gets op->notes as "notes" when any. */
void	op_return(struct op *, json_t *structured);
/* isError result; ends the op. */
void	op_error(struct op *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* isError result carrying gh's message, after an optional prefix. */
void	op_gh_error(struct op *, const struct gh_result *, const char *prefix);
/* Append a note (printf-style). */
void	op_note(struct op *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Percent-encode s (new malloc'd string; '/' kept when keep_slash).  NULL
   on ENOMEM. */
char	*ght_enc(const char *s, int keep_slash);
/* Borrowed string member, or NULL. */
const char *ght_str(const json_t *o, const char *key);
/* New JSON string for s or null when s is NULL. */
json_t	*ght_str_or_null(const char *s);
/*
 * GitHub text for a model: invisible characters stripped, capped at cap
 * bytes; a note names `what` when something was removed or cut.  New
 * reference (null when s is NULL).
 */
json_t	*ght_text(struct op *, const char *s, size_t cap, const char *what);
/* The login of a user object, or null. */
json_t	*ght_login(const json_t *user);
/* Array of logins of an array of users. */
json_t	*ght_logins(const json_t *users);
/* Array of (cleaned) label names. */
json_t	*ght_labels(struct op *, const json_t *labels);
/* Append "name=value" (value percent-encoded, "&" between pairs) to the
   query q; nothing when value is NULL.  0, or -1 when it does not fit. */
int	ght_qadd(char *q, size_t qlen, const char *name, const char *value);
/* v, or NULL when it is GitHub's default (left out of queries). */
const char *ght_nondefault(const char *v, const char *dflt);
/* Integer member, or dflt. */
long	ght_int(const json_t *o, const char *key, long dflt);

/* Tool handlers and their continuations, by file. */
void	tool_get_repository(struct mcp_call *, const json_t *, void *);
void	tool_get_file_contents(struct mcp_call *, const json_t *, void *);
void	tool_create_branch(struct mcp_call *, const json_t *, void *);
void	tool_push_files(struct mcp_call *, const json_t *, void *);
void	tool_get_issue(struct mcp_call *, const json_t *, void *);
void	tool_list_issues(struct mcp_call *, const json_t *, void *);
void	tool_add_issue_comment(struct mcp_call *, const json_t *, void *);
void	tool_get_pull_request(struct mcp_call *, const json_t *, void *);
void	tool_list_pull_requests(struct mcp_call *, const json_t *, void *);
void	tool_create_pull_request(struct mcp_call *, const json_t *, void *);
void	tool_merge_pull_request(struct mcp_call *, const json_t *, void *);
void	tool_mark_pull_request_ready(struct mcp_call *, const json_t *, void *);
void	tool_get_repository_tree(struct mcp_call *, const json_t *, void *);
void	tool_get_commit_checks(struct mcp_call *, const json_t *, void *);

/* A check run's conclusion that is a failure (failure, timed_out,
   cancelled, action_required, startup_failure, stale). */
int	ght_check_failed(const char *conclusion);
/* A ref usable in a path: non-empty, no empty, "." or ".." segment. */
int	ght_ref_ok(const char *ref);

/*
 * Read the default branch from a repository body into op->s[slot]
 * (malloc'd).  -1 (and the op ended) when GitHub did not name one.
 */
int	ght_default_branch(struct op *, const json_t *repo, int slot);

/*
 * Paged listing: GET first (a path), then Link rel="next" until op->max
 * items are kept or GHT_MAX_PAGES pages were read.  keep(op, item)
 * returns a new compact item or NULL to skip it; the op then ends with
 * {items, count, hasMore}.
 */
void	ght_list(struct op *, const char *first, ght_keep_fn keep);

/* The tool table (static) and its size. */
const struct mcp_tool *ghtools_table(size_t *n);

#endif
