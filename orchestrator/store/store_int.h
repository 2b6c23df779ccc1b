/*
 * store_int.h: what the files of store/ share, for them only (store.h
 * is the interface):
 *   store.c     the connection, the pipeline, the audit queue's sending
 *               and acknowledgement, the states, the drops
 *   audit.c     mcp_tool_calls rows: checked, built (redacted, the
 *               arguments' fast paths), queued; result summaries
 *   servers.c   mcp_servers rows: checked, built, one slot per server
 *   param.c     the text of statement parameters
 *   audit_query.c  the synchronous query of `afu9 audit` (needs only
 *               store.h)
 * A function one file gives the others has the prefix of its file
 * (store_, param_) and its contract here.
 */
#ifndef AFU9_STORE_INT_H
#define AFU9_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <ev.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "buf.h"
#include "later.h"
#include "store/param.h"
#include "store/store.h"

#define OPS_MAX		128	/* statements in flight on the pipeline */
#define AUDIT_NPARAM	16
#define RAND_POOL	4096	/* random bytes fetched at once */
#define SRV_NPARAM	11
#define NAME_MAX_SRV	64
#define TOOL_MAX	128
#define MSG_MAX		256	/* one failed operation's message */

enum op_kind {
	OP_SETUP = 0,	/* a PREPARE or the SET of the session */
	OP_AUDIT,	/* one row (STMT_AUDIT) or a batch (STMT_BATCH) */
	OP_SERVER,
};

/* One statement sent and not yet answered (its PIPELINE_SYNC pending). */
struct op {
	enum op_kind	 kind;
	const char	*stmt;		/* OP_SETUP: the statement prepared,
					   or the SET */
	size_t		 slot;		/* OP_SERVER: index in s->srv */
	size_t		 nrows;		/* OP_AUDIT: rows it carries */
	int		 batch;		/* OP_AUDIT: STMT_BATCH */
	int		 failed;	/* an error result came */
	int		 permanent;	/* ... for the row's data (22, 23) */
	size_t		 inserted;	/* OP_AUDIT: rows that went in */
	char		 msg[MSG_MAX];	/* the error, for the log */
};

/* Room for the short parameters: uuid, server, tool, an integer rpc_id,
   error_code, duration_ms, started_at, the three uuids of what the call
   was for, each with its NUL. */
#define ROW_INLINE	(37 + NAME_MAX_SRV + 1 + TOOL_MAX + 1 + 24 + 12 + \
			    12 + 32 + 3 * 37)
#define ROW_OWN		4	/* rpc_id, arguments, summary, message */

/*
 * An audit row as statement parameters (text; NULL is SQL NULL).  One
 * allocation holds the short ones (inl) and the pointers; p[] points
 * into inl, at constant strings, or at own[], which the row frees.
 */
struct qrow {
	const char	*p[AUDIT_NPARAM];
	char		*own[ROW_OWN];
	size_t		 bytes;		/* counted against queue_max_bytes */
	int		 sent;		/* was in a statement sent before */
	size_t		 used;		/* of inl */
	char		 inl[ROW_INLINE];
};

/* One server's reports: the newest waiting one and the one in flight. */
struct srv {
	char	 name[NAME_MAX_SRV + 1];
	char	*pending[SRV_NPARAM];
	char	*inflight[SRV_NPARAM];
	int	 has_pending;
	int	 has_inflight;
};

struct store {
	struct ev_loop	*loop;
	enum store_state state;
	struct store_opts o;
	char		*conninfo;
	char		 shown[512];	/* conninfo, password redacted */
	char		 reported_by[160];
	char		 err[STORE_ERR_MAX];
	PGconn		*conn;
	int		 connected;	/* PQconnectPoll said OK */
	int		 async_commit;	/* AFU9_AUDIT_SYNC_COMMIT=off */
	int		 nsetup;	/* OP_SETUP sent per connection */
	int		 prepared;	/* OP_SETUP answered */
	int		 ever_up;
	unsigned	 attempt;	/* failures since the last UP */
	ev_io		 io;
	ev_timer	 timer;		/* backoff, connect timeout, watchdog */
	struct later	 kick;		/* sends queued work once per loop */
	ev_timer	 droplog;	/* rate limit of the drop warning */
	ev_timer	 grace;		/* shutdown */
	ev_timer	 linger;	/* spacing of the audit batches */
	double		 linger_s;	/* AFU9_AUDIT_LINGER_MS / 1000 */
	double		 last_batch;	/* ev_now() when one was last sent */
	int		 linger_due;	/* the linger timer went off */

	struct qrow	**q;		/* ring of qcap; [qhead, +qlen) */
	size_t		 qcap, qhead, qlen;
	size_t		 qsent;		/* the first qsent rows are in flight */
	size_t		 qbytes;
	size_t		 isolate;	/* the first isolate rows go one
					   statement each (a batch of them
					   was refused) */
	struct buf	 arrays;	/* a batch's array literals */
	struct buf	 scratch;	/* arguments being written */
	unsigned char	 rand[RAND_POOL]; /* random bytes for uuids */
	size_t		 rand_used;	/* taken from rand (RAND_POOL:
					   empty) */

	struct srv	*srv;
	size_t		 nsrv;

	struct op	 ops[OPS_MAX];	/* ring; [ophead, +opn) */
	size_t		 ophead, opn;

	struct store_stats st;
	uint64_t	 drops_unlogged;

	int		 draining;
	int		 drained;
	void		(*done)(void *);
	void		*done_arg;
};

/* ---- store.c ---- */

/*
 * Something waits to be sent: have it sent before the loop next blocks,
 * or when the linger is over.
 */
void	 store_kick(struct store *);
/* Count a dropped audit row and warn (rate-limited); returns 1. */
int	 store_drop_row(struct store *);

/* ---- param.c: parameter text (store/param.h) ---- */

/* ---- queued audit rows (audit.c builds them) ---- */

/*
 * Free a queued row and what it owns; NULL is a no-op.  Inline: every
 * row written passes here.
 */
static inline void
qrow_free(struct qrow *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < ROW_OWN; i++)
		free(r->own[i]);
	free(r);
}

#endif
