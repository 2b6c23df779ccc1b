/*
 * engine: the durable workflow engine (doc/workflows.md).
 *
 * Executions live in PostgreSQL (workflow_executions, workflow_steps;
 * migrations/002_workflow_engine.sql).  Any number of orchestrator tasks
 * share them: a task claims due executions with afu9_claim() (FOR UPDATE
 * SKIP LOCKED, a lease of lease_ttl_ms and a fencing token that grows at
 * every claim), renews its leases by a heartbeat every lease_ttl_ms / 3,
 * and runs each execution's steps one after the other.  Every write it
 * makes for an execution passes its token, and the database refuses it
 * (SQLSTATE AF001) once the task no longer holds the execution; the task
 * then drops the execution at once (its tool call in flight gets
 * notifications/cancelled).  Each step's outcome and the execution's next
 * step are committed together before the next step starts.
 *
 * Waking: LISTEN afu9_work (sent by the transactions that make work due:
 * a new execution, a decided approval, a parked execution that is due,
 * a released lease) and afu9_cancel (payload: the execution id).
 * Notifications are coalesced: however many arrive, one claim runs per
 * loop turn, for at most the free slots (concurrency - held, at most
 * claim_batch per statement).  A poll every poll_ms claims what no
 * notification announced: expired leases (a task that died) and timers
 * that came due.
 *
 * Resuming: a claimed execution goes on at its next_step.  That step's
 * latest attempt, when there is one, says where: finished (an approval
 * decided, or a failure whose retry is due) → the outcome is applied;
 * running (its task died mid-step) → by step type: a tool step is called
 * again when the tool is read-only or idempotent (its annotations) or
 * takes an idempotencyKey (the same key as before:
 * "afu9:EXECUTION:STEP:ATTEMPT"); any other tool step fails with error
 * kind "interrupted", never retried on its own; a wait step polls again
 * (its timeout counts from the attempt's start), a sleep goes on sleeping
 * until its stored time, an approval goes on waiting.
 *
 * Delays (retry backoff, sleep, wait intervals) up to hold_max_ms are
 * timers of the task that holds the execution; longer ones park it
 * (status waiting, run_after set, lease given back) for any task to
 * claim when due.
 *
 * Everything runs on the loop with the non-blocking pgq connection: no
 * call blocks, no thread per execution.
 */
#ifndef AFU9_ENGINE_H
#define AFU9_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <jansson.h>

#include "buf.h"

#define ENGINE_OUTPUT_MAX	(1u << 20)	/* bytes of one step's output
						   JSON; more is stored as
						   {"truncated":true,...} */
#define ENGINE_WORKFLOWS_MAX	64	/* workflow names with their own
					   metric series */

struct engine;
struct router;
struct subsys;
struct httpc;
struct agent_recorder;
struct config_env;

struct engine_opts {
	const char	*owner;		/* lease owner; NULL: host:pid:random */
	unsigned	 lease_ttl_ms;	/* 0: 10000 */
	unsigned	 poll_ms;	/* 0: min(1000, ttl / 4) */
	unsigned	 concurrency;	/* executions held at once; 0: 256 */
	unsigned	 claim_batch;	/* per claim statement; 0: 64 */
	unsigned	 hold_max_ms;	/* 0: ttl / 2 */
	const json_t	*env;		/* ${{ env.NAME }}: an object of the
					   allowed names and their values
					   (borrowed for engine_new());
					   NULL: none */
	const char	*workflows_dir;	/* built-in definitions applied on
					   start (*.json); NULL: none */
	const char	*password;	/* of the conninfo, to redact */
	/* agent steps */
	struct httpc	*http;		/* their provider requests (borrowed);
					   NULL: the engine's own */
	const struct agent_recorder *agent_rec;	/* borrowed; NULL: the
					   runs are not recorded (tests) */
	/*
	 * The model providers of agent steps: the agent part of a
	 * config_env (conf/conf_env.h: AFU9_AGENT_PROVIDER, _MODEL, _PRICES,
	 * OPENAI_*, ANTHROPIC_*), read by the rule afu9 agent run follows
	 * (agent_provider_env(), agent_prices_env()), a step's provider and
	 * model before the defaults.  Borrowed for engine_new(), which
	 * copies what it needs and refuses a price table that does not
	 * parse.  NULL: config_env_read() of the environment.
	 */
	const struct config_env *agents;
};

struct engine_stats {
	uint64_t	 claimed;	/* claims of an execution */
	uint64_t	 takeovers;	/* ... whose lease had expired */
	uint64_t	 started;	/* executions begun (first claim) */
	uint64_t	 succeeded, failed;
	uint64_t	 steps;		/* attempts whose outcome was
					   committed */
	uint64_t	 fenced;	/* writes refused: no longer held */
	uint64_t	 dropped;	/* executions given up (fenced, lost
					   lease, database error) */
	uint64_t	 parked;
	size_t		 held;		/* executions held now */
};

/*
 * An engine on loop using DATABASE_URL conninfo and the router r (both
 * borrowed; r must outlive it).  Nothing is claimed before
 * engine_start().  NULL with err set.
 */
struct engine	*engine_new(struct ev_loop *, const char *conninfo,
		    struct router *r, const struct engine_opts *,
		    char *err, size_t errlen);
void		 engine_free(struct engine *);
/*
 * Begin: once the router is ready, apply the built-in workflows (if
 * any) and claim.  0, or -1 with err (an unreadable workflows_dir, a
 * built-in that does not validate against the running servers is only
 * logged).
 */
int		 engine_start(struct engine *, char *err, size_t errlen);
/*
 * Stop claiming; let steps in flight end for up to grace_ms (their
 * outcomes are committed); then give back every lease (afu9_release(),
 * so another task goes on at once) and call done(arg) from the loop.
 */
void		 engine_shutdown(struct engine *, unsigned grace_ms,
		    void (*done)(void *), void *arg);
void		 engine_get_stats(const struct engine *, struct engine_stats *);
/* The engine as a subsystem ("engine", /ready key "engine"). */
void		 engine_subsys(struct engine *, unsigned grace_ms,
		    struct subsys *out);
/* The lease owner name (borrowed). */
const char	*engine_owner(const struct engine *);

#endif /* AFU9_ENGINE_H */
