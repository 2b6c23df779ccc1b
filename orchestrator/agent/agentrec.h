/*
 * agentrec: the agent runner's recorder (struct agent_recorder of
 * agent.h) on PostgreSQL: the agent_runs row of every run and its
 * transcript in agent_messages (migrations/003_agent_runs.sql; doc/
 * agents.md, "What is recorded").
 *
 * One pgq connection of its own (pipelined, never blocking the loop).
 * Nothing the loop calls waits: each call builds its statement's
 * parameters (redacted again with redact_json()/redact_str(), whatever
 * the loop did; cleaned to UTF-8; \u0000 made U+FFFD) and queues it.
 *
 *  - begin: the INSERT is sent at once; done(arg, 0, NULL) runs once it
 *    has committed, so the router's audit rows of the run's calls, which
 *    reference the row, are never refused.  Messages, progress and finish
 *    that come before that are held and sent after it, in order (a task
 *    "" is none, as for a run resuming another; one longer than
 *    AGENT_TASK_MAX once redacted is cut at a character).  begin
 *    fails (done(arg, -1, reason), maybe from inside the call) on
 *    arguments out of form, a run id already being recorded, a refusal
 *    by the database (an execution or step that does not exist), a full
 *    buffer (below), or when the row is not committed within
 *    begin_timeout_ms: a run is never started unrecorded.  A row that
 *    commits after its begin gave up is closed at once (failed,
 *    "recording: ..."), so no row is left running for a run that never
 *    ran.
 *  - message: one INSERT per message, content as given (an object; one
 *    over AGENTREC_CONTENT_MAX bytes as JSON is stored as {"omitted":
 *    "..."} saying how large it was, so the transcript keeps its seq;
 *    opts.content_max sets another bound).
 *  - progress: the totals of the running row raised; while an update is
 *    waiting to be sent, later totals replace it (only the newest is
 *    sent).
 *  - finish: status, error, result, finished_at and the final totals.
 *
 * The database going away: statements in flight when the connection
 * breaks, or not answered in time, are sent again when it is back (every
 * write is safe to repeat: agentsql.h).  What waits is held in memory up
 * to buffer_max bytes (AGENTREC_BUFFER_MAX).  Once half of it is used,
 * a run cannot begin (its begin fails at once: the rest is kept for the
 * runs going on); past all of it, a message of a running run is
 * dropped: counted in the run's messages_dropped column (written with
 * its totals, which are always kept: one update per run at most waits),
 * in afu9_agent_record_dropped_messages_total, and logged once per run.
 * So a transcript with a gap says so.  At stop, the recorder waits up to
 * its grace for what is left, then logs how many writes of how many runs
 * were not written.
 *
 * Metrics (agentrec_metrics(), and the subsystem's): runs ended by
 * provider, model and status; runs going on; tokens by kind and cost
 * totals; turns per run (a histogram); and the recorder's own: writes
 * and bytes waiting, writes sent again, messages dropped, begins failed.
 * Counted when the loop reports them, whatever the database does.
 *
 * Not thread-safe: everything from the loop's thread.
 */
#ifndef AFU9_AGENT_AGENTREC_H
#define AFU9_AGENT_AGENTREC_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <jansson.h>

#include "agent/agent.h"
#include "buf.h"
#include "subsys.h"

#define AGENTREC_BUFFER_MAX	(64u << 20)	/* bytes waiting for the
						   database, every run */
#define AGENTREC_CONTENT_MAX	(8u << 20)	/* bytes of one message's
						   content as JSON */
#define AGENTREC_BEGIN_TIMEOUT_MS 10000		/* a row committed */
#define AGENTREC_OP_TIMEOUT_MS	30000		/* one statement answered */
#define AGENTREC_INFLIGHT	256	/* statements sent at once */
#define AGENTREC_RUNS_MAX	10000	/* runs recorded at once */
#define AGENTREC_SERIES_MAX	64	/* provider/model pairs in metrics;
					   the rest count as "other" */
#define AGENTREC_ERROR_MAX	65536	/* bytes of a run's error */

struct agentrec;

struct agentrec_opts {
	const char	*password;	/* PGPASSWORD, to redact; NULL */
	unsigned	 begin_timeout_ms; /* 0: AGENTREC_BEGIN_TIMEOUT_MS */
	unsigned	 op_timeout_ms;		/* 0: AGENTREC_OP_TIMEOUT_MS */
	size_t		 buffer_max;		/* 0: AGENTREC_BUFFER_MAX */
	size_t		 content_max;		/* 0: AGENTREC_CONTENT_MAX */
	double		 backoff_cap_s;		/* reconnects; 0: pgq's */
};

struct agentrec_stats {
	uint64_t	 runs;		/* begun (row committed) */
	uint64_t	 begin_failed;
	uint64_t	 messages;	/* written */
	uint64_t	 dropped_full;	/* messages dropped: buffer full */
	uint64_t	 dropped_refused; /* ...: refused by the database */
	uint64_t	 retried;	/* writes sent again */
	uint64_t	 unknown;	/* calls naming no run being recorded */
	size_t		 pending;	/* writes not yet written */
	size_t		 bytes;		/* their bytes */
	size_t		 active;	/* runs being recorded */
};

/*
 * A recorder writing to conninfo (copied; the connection starts from the
 * loop).  opts may be NULL.  NULL with err on failure (the message never
 * shows the password).
 */
struct agentrec	*agentrec_new(struct ev_loop *, const char *conninfo,
		    const struct agentrec_opts *, char *err, size_t errlen);
/*
 * Close the connection and free everything, written or not (no
 * callback runs: a begin still waiting never gets its done).  NULL is
 * fine.  Not from inside a recorder callback.
 */
void		 agentrec_free(struct agentrec *);
/* The recorder interface for agent_start() (borrowed; valid until
   agentrec_free()). */
const struct agent_recorder *agentrec_recorder(struct agentrec *);
/*
 * done(arg) once, from the loop, when everything queued so far is
 * written, or after grace_ms with what is left logged.  For one-shot
 * commands (`afu9 agent run`) and the subsystem's stop.
 */
void		 agentrec_drain(struct agentrec *, unsigned grace_ms,
		    void (*done)(void *), void *arg);
void		 agentrec_get_stats(const struct agentrec *,
		    struct agentrec_stats *);
/* Its Prometheus text.  0, or -1 when out is full. */
int		 agentrec_metrics(const struct agentrec *, struct buf *out);
/* {"database": "up"|"down", "error"?, "runs", "pending_writes",
   "pending_bytes"}: a new reference, NULL on ENOMEM. */
json_t		*agentrec_status(const struct agentrec *);
/* The recorder as a subsystem ("agents"): stop drains (above) for up to
   grace_ms, always ready (the database's state is in its status), its
   metrics. */
void		 agentrec_subsys(struct agentrec *, unsigned grace_ms,
		    struct subsys *out);
/* Drop the connection now (tests): what is in flight is sent again
   once it is back. */
void		 agentrec_reconnect(struct agentrec *);

#endif /* AFU9_AGENT_AGENTREC_H */
