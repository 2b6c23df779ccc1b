/*
 * later: one deferred call from the loop (see later.h).
 */
#include "config.h"

#include "later.h"
#include "log.h"

/*
 * The "do not wait now" guard, one per loop: an idle watcher started
 * before a later's fn runs and stopped at the loop's next turn.  It is
 * the loop's, not the later's, because fn may free its later.  A cleanup
 * watcher gives the slot back when the loop is destroyed.
 */
#define LATER_LOOPS	8	/* live loops per thread */

struct guard {
	struct ev_loop	*loop;		/* NULL: slot free */
	ev_idle		 quiet;
	ev_cleanup	 gone;
};

static _Thread_local struct guard guards[LATER_LOOPS];
/* Depth of later callbacks now running (one loop per thread). */
static _Thread_local int later_running;

static void
quiet_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	ev_idle_stop(loop, w);
}

static void
gone_cb(struct ev_loop *loop, ev_cleanup *w, int revents)
{
	struct guard *g = w->data;

	ev_idle_stop(loop, &g->quiet);
	ev_cleanup_stop(loop, &g->gone);
	g->loop = NULL;
}

static struct guard *
guard_of(struct ev_loop *loop)
{
	struct guard *g, *free = NULL;

	for (g = guards; g < guards + LATER_LOOPS; g++)
		if (g->loop == loop)
			return g;
		else if (g->loop == NULL && free == NULL)
			free = g;
	if (free == NULL)
		fatalx("later: more than %d event loops in one thread",
		    LATER_LOOPS);
	free->loop = loop;
	ev_idle_init(&free->quiet, quiet_cb);
	ev_cleanup_init(&free->gone, gone_cb);
	free->gone.data = free;
	ev_cleanup_start(loop, &free->gone);	/* holds no loop reference */
	return free;
}

/* fn may free l (after later_cancel()): l is not touched after it. */
static void
later_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct later *l = w->data;

	ev_prepare_stop(loop, w);
	if (!l->armed)		/* cancelled after being fed */
		return;
	l->armed = 0;
	ev_idle_start(loop, &guard_of(loop)->quiet);
	later_running++;
	l->fn(l->arg);
	later_running--;
}

void
later_init(struct later *l, struct ev_loop *loop, void (*fn)(void *),
    void *arg)
{
	ev_prepare_init(&l->w, later_cb);
	l->w.data = l;
	l->loop = loop;
	l->fn = fn;
	l->arg = arg;
	l->armed = 0;
}

void
later_arm(struct later *l)
{
	if (l->armed)
		return;
	l->armed = 1;
	ev_prepare_start(l->loop, &l->w);
	/* In the prepare phase a new prepare watcher waits a whole turn:
	   make it pending now, so it runs in this phase. */
	if (later_running > 0)
		ev_feed_event(l->loop, &l->w, EV_PREPARE);
}

void
later_cancel(struct later *l)
{
	l->armed = 0;
	ev_prepare_stop(l->loop, &l->w);	/* also clears a pending feed */
}

int
later_armed(const struct later *l)
{
	return l->armed;
}
