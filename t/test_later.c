/*
 * protocol/later: once, from the loop, before it waits; coalesced;
 * cancellable; safe to free from its own function; an ev_break() in it
 * ends ev_run() without a wait.
 */
#include "config.h"

#include <stdlib.h>

#include <check.h>
#include <ev.h>

#include "later.h"
#include "testutil.h"

static struct ev_loop *loop;
static ev_timer far;		/* keeps the loop alive; must never fire */
static int far_fired;

static void
far_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	far_fired = 1;
	ev_break(l, EVBREAK_ALL);
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	far_fired = 0;
	ev_timer_init(&far, far_cb, 30., 0.);
	ev_timer_start(loop, &far);
}

static void
teardown(void)
{
	ev_timer_stop(loop, &far);
	ev_loop_destroy(loop);
}

struct rec {
	struct later	 l;
	int		 runs;
	struct later	*chain;		/* armed from fn */
	int		 brk;		/* ev_break from fn */
};

static void
rec_fn(void *arg)
{
	struct rec *r = arg;

	r->runs++;
	if (r->chain != NULL)
		later_arm(r->chain);
	if (r->brk)
		ev_break(loop, EVBREAK_ALL);
}

/* Armed twice: runs once, in the next loop turn, which does not wait
   (the 30 s timer did not fire). */
START_TEST(once_and_coalesced)
{
	struct rec r = { 0 };

	later_init(&r.l, loop, rec_fn, &r);
	ck_assert(!later_armed(&r.l));
	later_arm(&r.l);
	later_arm(&r.l);
	ck_assert(later_armed(&r.l));
	ck_assert_int_eq(r.runs, 0);		/* never inside the call */
	ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(r.runs, 1);
	ck_assert(!later_armed(&r.l));
	ck_assert(!far_fired);
	ev_run(loop, EVRUN_NOWAIT);
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(r.runs, 1);
	later_arm(&r.l);			/* and again after it ran */
	ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(r.runs, 2);
	ck_assert(!far_fired);
}
END_TEST

/* One later's fn arms another: both run in the same turn, with no wait
   in between (libev alone would leave the second to after a wait). */
START_TEST(armed_from_a_later)
{
	struct rec a = { 0 }, b = { 0 }, c = { 0 };

	later_init(&a.l, loop, rec_fn, &a);
	later_init(&b.l, loop, rec_fn, &b);
	later_init(&c.l, loop, rec_fn, &c);
	a.chain = &b.l;
	b.chain = &c.l;
	later_arm(&a.l);
	ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(a.runs, 1);
	ck_assert_int_eq(b.runs, 1);
	ck_assert_int_eq(c.runs, 1);
	ck_assert(!far_fired);
}
END_TEST

/* ev_break() from fn: ev_run() returns at once, not after the next event. */
START_TEST(break_from_fn)
{
	struct rec r = { .brk = 1 };

	later_init(&r.l, loop, rec_fn, &r);
	later_arm(&r.l);
	ev_run(loop, 0);
	ck_assert_int_eq(r.runs, 1);
	ck_assert(!far_fired);
}
END_TEST

/* Cancelled: never runs; cancel is safe when not armed. */
START_TEST(cancelled)
{
	struct rec r = { 0 }, s = { 0 };

	later_init(&r.l, loop, rec_fn, &r);
	later_init(&s.l, loop, rec_fn, &s);
	later_cancel(&r.l);
	later_arm(&r.l);
	later_arm(&s.l);
	later_cancel(&r.l);
	ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(r.runs, 0);
	ck_assert_int_eq(s.runs, 1);
	/* Armed from a later and cancelled by the next one in the same
	   turn (the fed event is dropped too). */
	s.chain = &r.l;
	later_arm(&s.l);
	ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(s.runs, 2);
	ck_assert_int_eq(r.runs, 1);
}
END_TEST

static void
free_self(void *arg)
{
	struct rec *r = arg;

	later_cancel(&r->l);
	free(r);
}

/* fn cancels and frees its own later: no use after free (ASan and
   valgrind runs check it), and the loop goes on. */
START_TEST(free_from_fn)
{
	struct rec *r = calloc(1, sizeof(*r)), s = { 0 };

	ck_assert_ptr_nonnull(r);
	later_init(&r->l, loop, free_self, r);
	later_init(&s.l, loop, rec_fn, &s);
	later_arm(&r->l);
	ev_run(loop, EVRUN_ONCE);
	later_arm(&s.l);
	ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(s.runs, 1);
	ck_assert(!far_fired);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("later");
	TCase *tc = tcase_create("later");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, once_and_coalesced);
	tcase_add_test(tc, armed_from_a_later);
	tcase_add_test(tc, break_from_fn);
	tcase_add_test(tc, cancelled);
	tcase_add_test(tc, free_from_fn);
	suite_add_tcase(s, tc);
	return t_run(s);
}
