/*
 * later: run a function once from the event loop, after the callback that
 * asked for it has returned and before the loop next waits for events.
 * Asking again before it ran runs it once: a writer queues many frames
 * and writes them in one go, the audit store sends one batch per loop
 * turn, a completion found inside a public call runs outside the
 * caller's stack.  It is afu9's one "run later" mechanism; a timer is
 * for a delay, never for "now".
 *
 * Built on an ev_prepare watcher.  Two guards make it safe for code that
 * completes requests from it:
 *  - the loop does not wait right after fn ran (an ev_idle watcher of
 *    the loop's is active meanwhile, also when fn freed its later), so
 *    fn's effects are seen at once: an ev_break()
 *    in fn ends ev_run() without waiting for some other event first, and
 *    a caller looping on ev_run(loop, EVRUN_ONCE) sees its condition;
 *  - a later armed while later callbacks run (one later's fn arms
 *    another) still runs before the loop waits: libev would otherwise
 *    leave a prepare watcher started during the prepare phase to the next
 *    turn, after a wait that may never end.
 * At most 8 live loops per thread (a broken invariant is fatal).
 */
#ifndef AFU9_LATER_H
#define AFU9_LATER_H

#include <ev.h>

struct later {
	ev_prepare	 w;
	struct ev_loop	*loop;
	void		(*fn)(void *);
	void		*arg;
	int		 armed;
};

/* Set l up, not armed; fn(arg) is what runs.  Nothing to free. */
void	later_init(struct later *l, struct ev_loop *loop, void (*fn)(void *),
	    void *arg);
/* Run fn once, soon (see above).  Idempotent while armed. */
void	later_arm(struct later *l);
/* Not any more; safe at any time, also from fn.  Required before l's
   memory is freed or reused (its watchers are in the loop). */
void	later_cancel(struct later *l);
/* Armed and not yet run? */
int	later_armed(const struct later *l);

#endif /* AFU9_LATER_H */
