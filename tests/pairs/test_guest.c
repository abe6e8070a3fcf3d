// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of keep-running (hasvc/pairs/hs_pair_duty_guest.c) over the fakes of
 * pairs_test.h: the primary host starts again a guest whose QEMU died, says
 * so, and after KEEP_RUNNING_STARTS starts in the window leaves it off in
 * guest-down until it runs again; never from another host.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"
#include "mirror.h"
#include "pairs_test.h"
#include "sdb_msg.h"

static void teardown(void)
{
	pt_teardown();
}

TestSuite(guest, .fini = teardown);

/* One look of keep-running, answered RESULT (then delivered); whether it asked to start. */
static bool look(int result, const char *message)
{
	struct pt_call *c;
	bool may_start;

	pt_round();
	c = pt_pending("revive");
	cr_assert_not_null(c, "the primary host looks at its guest");
	may_start = c->may_start;
	pt_answer(c, result, message, NULL);
	pt_deliver();
	return may_start;
}

/* The next look is 2 s on: moved back, so a test does not sleep. */
static void next_look_now(const char *vm)
{
	struct task *t = hs__task_get(pt.pairs, vm);

	cr_assert_not_null(t);
	t->keep_next_usec = 0;
}

Test(guest, a_dead_guest_is_started_again_and_said_so)
{
	pt_setup("node1");
	pt_revive_runs = false;
	pt_pair_put("vm1", "node1", "node2", "degraded");
	cr_assert(look(MIRROR_REVIVE_STARTED,
		       "vm1 was shut off (its QEMU crashed or was killed); started again from its disk"),
		  "a first start is allowed");
	cr_assert_eq(pt_events("pair", "vm1 was shut off (its QEMU crashed or was killed); started "
				       "again from its disk on node1 (start 1 of the 3 allowed within 10 "
				       "min); its backup is copied again in full"),
		     1);
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded", "the start proposes nothing itself");
}

Test(guest, a_running_guest_is_left_alone_and_not_looked_at_every_round)
{
	pt_setup("node1");
	pt_revive_runs = false;
	pt_pair_put("vm1", "node1", "node2", "unprotected");
	look(MIRROR_REVIVE_RUNS, "vm1 is not shut off here (state 1)");
	pt_round();
	cr_assert_null(pt_pending("revive"), "one look every 2 s, not every round");
	cr_assert_eq(pt_events("pair", "on node1"), 0);
}

Test(guest, a_guest_that_keeps_dying_is_left_off_in_guest_down_until_started_by_hand)
{
	struct hs_pair v;

	pt_setup("node1");
	pt_revive_runs = false;
	pt_pair_put("vm1", "node1", "node2", "degraded");
	for (int i = 0; i < KEEP_RUNNING_STARTS; i++) {
		cr_assert(look(MIRROR_REVIVE_STARTED, "vm1 was shut off (crashed); started again"),
			  "start %d is allowed", i + 1);
		next_look_now("vm1");
	}
	cr_assert_not(look(MIRROR_REVIVE_DOWN, "vm1 is shut off (crashed); left off"),
		      "no fourth start within the window");
	cr_assert_str_eq(pt_pair_state("vm1"), "guest-down",
			 "left off: nothing re-protects a pair whose guest is down");
	v = pt_pair("vm1");
	cr_assert_not_null(strstr(v.reason, "vm1 is shut off (crashed); left off on node1: it "
					    "stopped 3 times within 10 min; start it by hand (virsh "
					    "start vm1 on node1)"),
			   "%s", v.reason);
	hs_pair_release(&v);
	next_look_now("vm1");
	cr_assert_not(look(MIRROR_REVIVE_DOWN, "vm1 is shut off (crashed); left off"),
		      "guest-down only looks");
	cr_assert_eq(pt_events("pair", "start it by hand"), 1, "said once, not at every look");
	/* started by hand: degraded, from where the plan re-protects it */
	next_look_now("vm1");
	look(MIRROR_REVIVE_RUNS, "vm1 is not shut off here (state 1)");
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	cr_assert_eq(pt_events("pair", "vm1 runs again on node1 (started by hand)"), 1);
}

Test(guest, the_window_forgets_old_starts)
{
	struct task t = {0};
	uint64_t now = 1000 * KEEP_RUNNING_WINDOW_USEC;

	for (size_t i = 0; i < KEEP_RUNNING_STARTS; i++)
		t.starts_usec[t.n_starts++] = now - KEEP_RUNNING_WINDOW_USEC + 1000 * (i + 1);
	cr_assert_not(hs__keep_running_allowed(&t, now));
	cr_assert(hs__keep_running_allowed(&t, now + 1000), "the oldest start left the window");
	cr_assert_eq(t.n_starts, KEEP_RUNNING_STARTS - 1);
}

Test(guest, only_the_primary_host_looks)
{
	pt_setup("node2");
	pt_revive_runs = false;
	pt_pair_put("vm1", "node1", "node2", "degraded");
	pt_round();
	cr_assert_null(pt_pending("revive"), "the backup host never starts the primary's guest");
}

Test(guest, nobody_looks_in_sync)
{
	pt_setup("node1");
	pt_revive_runs = false;
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_round();
	cr_assert_null(pt_pending("revive"),
		       "in sync the mirror's poll sees a dead guest first (the pair degrades)");
}

/*
 * Found in the lab: the plan re-protected the pair (degraded -> creating)
 * 0.5 s after the degrade, before the start's answer came; the answer of an
 * older state was dropped, so the start was neither said nor counted.
 */
Test(guest, a_start_answered_after_the_pair_moved_is_said_and_counted)
{
	struct task *t;

	pt_setup("node1");
	pt_revive_runs = false;
	pt_pair_put("vm1", "node1", "node2", "degraded");
	pt_round();
	cr_assert_not_null(pt_pending("revive"));
	pt_pair_change(&(struct sdb_pair_change){
	    .vm = "vm1", .state = "creating", .pair_event = "reprotect", .reason = ""});
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	pt_answer(pt_pending("revive"), MIRROR_REVIVE_STARTED,
		  "vm1 was shut off (crashed); started again from its disk", NULL);
	cr_assert_eq(pt_events("pair", "started again from its disk on node1 (start 1 of the 3"), 1);
	t = hs__task_get(pt.pairs, "vm1");
	cr_assert_eq(t->n_starts, 1);
}
