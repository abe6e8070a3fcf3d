// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the pair transition table: names round-trip, the table has no
 * duplicate rows, and the promotion rule holds for every state: losing the
 * primary leads to fencing (and so to promotion) only from a synced state.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "hs_node_state.h"
#include "hs_pair_fsm.h"

Test(pair_fsm, names_round_trip)
{
	for (int s = 0; s < HS_PAIR_STATE_MAX; s++) {
		enum hs_pair_state back;
		cr_assert_eq(hs_pair_state_from_name(hs_pair_state_name(s), &back), 0);
		cr_assert_eq(back, s);
	}
	for (int e = 0; e < HS_EV_MAX; e++) {
		enum hs_pair_event back;
		cr_assert_eq(hs_pair_event_from_name(hs_pair_event_name(e), &back), 0);
		cr_assert_eq(back, e);
	}
	enum hs_pair_state s;
	cr_assert_eq(hs_pair_state_from_name("in_sync", &s), -EINVAL);
}

Test(pair_fsm, primary_lost_promotes_only_synced_pairs)
{
	for (int s = 0; s < HS_PAIR_STATE_MAX; s++) {
		const struct hs_pair_transition *t = hs_pair_fsm_lookup(s, HS_EV_PRIMARY_LOST);
		if (!t)
			continue;
		if (hs_pair_state_promotable(s)) {
			cr_assert_eq(t->next, HS_PAIR_FENCING, "%s", hs_pair_state_name(s));
			cr_assert_eq(t->action, HS_ACT_FENCE);
		} else {
			cr_assert_neq(t->next, HS_PAIR_FENCING, "%s must not head for promotion",
				      hs_pair_state_name(s));
			cr_assert_neq(t->next, HS_PAIR_PROMOTING);
		}
	}
	/* The only ways into promoting: a verified fence, or a stopped and drained primary. */
	for (int s = 0; s < HS_PAIR_STATE_MAX; s++)
		for (int e = 0; e < HS_EV_MAX; e++) {
			const struct hs_pair_transition *t = hs_pair_fsm_lookup(s, e);
			if (t && t->next == HS_PAIR_PROMOTING)
				cr_assert((s == HS_PAIR_FENCING && e == HS_EV_FENCED) ||
					  (s == HS_PAIR_SWITCHING_OVER && e == HS_EV_PRIMARY_STOPPED),
					  "%s + %s leads to promoting", hs_pair_state_name(s),
					  hs_pair_event_name(e));
		}
	cr_assert_eq(hs_pair_fsm_lookup(HS_PAIR_INITIAL_SYNC, HS_EV_PRIMARY_LOST)->next,
		     HS_PAIR_LOST_UNSYNCED);
	cr_assert_eq(hs_pair_fsm_lookup(HS_PAIR_INITIAL_SYNC, HS_EV_PRIMARY_LOST)->action,
		     HS_ACT_REFUSE_PROMOTION);
}

Test(pair_fsm, events_not_in_the_table_are_refused)
{
	cr_assert_null(hs_pair_fsm_lookup(HS_PAIR_CREATING, HS_EV_FENCED));
	cr_assert_null(hs_pair_fsm_lookup(HS_PAIR_INITIAL_SYNC, HS_EV_SWITCHOVER),
		       "no switchover before the first sync");
	cr_assert_null(hs_pair_fsm_lookup(HS_PAIR_DEGRADED, HS_EV_SWITCHOVER));
	cr_assert_null(hs_pair_fsm_lookup(HS_PAIR_FENCING, HS_EV_DELETE),
		       "no unpairing in the middle of a failover");
}

Test(pair_fsm, every_state_but_deleting_can_be_left)
{
	for (int s = 0; s < HS_PAIR_STATE_MAX; s++) {
		bool out = false;
		for (int e = 0; e < HS_EV_MAX; e++) {
			const struct hs_pair_transition *t = hs_pair_fsm_lookup(s, e);
			out |= t && (int)t->next != s;
		}
		cr_assert(out || s == HS_PAIR_DELETING, "%s is a dead end", hs_pair_state_name(s));
	}
}

/* Only the admin removes a pair: no host loss or failure leads to deleting. */
Test(pair_fsm, losing_a_host_never_deletes_a_pair)
{
	for (int s = 0; s < HS_PAIR_STATE_MAX; s++)
		for (int e = 0; e < HS_EV_MAX; e++) {
			const struct hs_pair_transition *t = hs_pair_fsm_lookup(s, e);
			if (t && t->next == HS_PAIR_DELETING && s != HS_PAIR_DELETING)
				cr_assert(e == HS_EV_DELETE ||
						  (s == HS_PAIR_CREATING && e == HS_EV_PREPARE_FAILED),
					  "%s + %s deletes the pair", hs_pair_state_name(s),
					  hs_pair_event_name(e));
		}
}

Test(node_state, names_round_trip_and_decisions)
{
	for (int s = 1; s < HS_NODE_STATE_MAX; s++)
		cr_assert_eq(hs_node_state_from_name(hs_node_state_name(s)), s);
	cr_assert_eq(hs_node_state_from_name("lost"), HS_NODE_UNKNOWN);
	cr_assert_eq(hs_node_state_from_name(NULL), HS_NODE_UNKNOWN);
	cr_assert(!hs_node_state_decided(HS_NODE_ONLINE));
	cr_assert(!hs_node_state_decided(HS_NODE_OFFLINE));
	cr_assert(!hs_node_state_decided(HS_NODE_UNKNOWN));
	cr_assert(hs_node_state_decided(HS_NODE_FENCING));
	cr_assert(hs_node_state_decided(HS_NODE_FENCED));
	cr_assert_eq(hs_node_admin_from_name("maintenance"), HS_NODE_IN_MAINTENANCE);
	cr_assert_eq(hs_node_admin_from_name(NULL), HS_NODE_ENABLED);
	cr_assert_str_eq(hs_node_admin_name(HS_NODE_IN_MAINTENANCE), "maintenance");
}

Test(pair_fsm, duties_name_an_actor_and_states_that_ask_nothing_have_none)
{
	size_t total = 0;

	for (int s = 0; s < HS_PAIR_STATE_MAX; s++) {
		size_t n;
		const struct hs_pair_duty *d = hs_pair_fsm_duties(s, &n);

		for (size_t i = 0; i < n; i++) {
			cr_assert_eq(d[i].state, s);
			cr_assert_neq(d[i].actor, HS_ACTOR_NONE, "%s", hs_pair_state_name(s));
			cr_assert_neq(d[i].action, HS_ACT_NONE, "%s", hs_pair_state_name(s));
			cr_assert_str_neq(hs_pair_action_name(d[i].action), "?");
		}
		total += n;
	}
	cr_assert_eq(total, 28);
	size_t n;
	/* the replication link is watched, urgently, wherever the primary mirrors */
	const struct hs_pair_duty *in_sync = hs_pair_fsm_duties(HS_PAIR_IN_SYNC, &n);
	cr_assert_eq(n, 4);
	cr_assert_eq(in_sync[3].action, HS_ACT_WATCH_DISKS, "the backup host watches its disks");
	cr_assert_eq(in_sync[3].actor, HS_ACTOR_BACKUP);
	/* before the poll, which moves the task's next time on */
	cr_assert_eq(in_sync[1].action, HS_ACT_CONTINUE, "a live switchover's guest resumed");
	cr_assert(in_sync[1].urgent);
	cr_assert_eq(in_sync[0].action, HS_ACT_WATCH_LINK);
	cr_assert(in_sync[0].urgent);
	cr_assert_eq(in_sync[0].actor, HS_ACTOR_PRIMARY);
	/* unprotected asks one thing: its guest kept running where it runs */
	const struct hs_pair_duty *alone = hs_pair_fsm_duties(HS_PAIR_UNPROTECTED, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(alone[0].action, HS_ACT_KEEP_RUNNING);
	cr_assert_eq(alone[0].actor, HS_ACTOR_PRIMARY);
	cr_assert_null(hs_pair_fsm_duties(HS_PAIR_ERROR, &n));
	hs_pair_fsm_duties(HS_PAIR_DELETING, &n);
	cr_assert_eq(n, 3, "primary, backup and coordinator each have their part");
}

/*
 * A live switchover's states: a lost host has a row in each (none is a dead
 * end when a host goes), the backup is promotable only once the jobs are
 * READY again after the hand-over, and every failure leaves the road back
 * to a backup (creating) or the guest running unprotected (degraded).
 */
Test(pair_fsm, live_switchover_survives_a_lost_host_at_every_step)
{
	static const enum hs_pair_state live[] = {HS_PAIR_HANDING_OVER, HS_PAIR_CATCHING_UP,
						   HS_PAIR_MIGRATING, HS_PAIR_REVERSING};
	static const enum hs_pair_event failures[] = {HS_EV_SWITCHOVER_FAILED, HS_EV_MIRROR_FAILED,
						      HS_EV_MIGRATION_FAILED, HS_EV_REVERSE_FAILED};

	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		cr_assert_not_null(hs_pair_fsm_lookup(live[i], HS_EV_PRIMARY_LOST), "%s",
				   hs_pair_state_name(live[i]));
		cr_assert_not_null(hs_pair_fsm_lookup(live[i], HS_EV_BACKUP_LOST), "%s",
				   hs_pair_state_name(live[i]));
		cr_assert(hs_pair_state_busy(live[i]), "%s takes admin operations",
			  hs_pair_state_name(live[i]));
		cr_assert_null(hs_pair_fsm_lookup(live[i], HS_EV_DELETE));
		const struct hs_pair_transition *t = hs_pair_fsm_lookup(live[i], failures[i]);
		cr_assert_not_null(t, "%s has no way out on its failure", hs_pair_state_name(live[i]));
		cr_assert(t->next == HS_PAIR_CREATING || t->next == HS_PAIR_DEGRADED);
	}
	cr_assert_not(hs_pair_state_promotable(HS_PAIR_HANDING_OVER));
	cr_assert_not(hs_pair_state_promotable(HS_PAIR_CATCHING_UP));
	cr_assert(hs_pair_state_promotable(HS_PAIR_MIGRATING));
	cr_assert(hs_pair_state_promotable(HS_PAIR_REVERSING));
	cr_assert_eq(hs_pair_fsm_lookup(HS_PAIR_IN_SYNC, HS_EV_LIVE_SWITCHOVER)->next,
		     HS_PAIR_HANDING_OVER);
	cr_assert_null(hs_pair_fsm_lookup(HS_PAIR_DEGRADED, HS_EV_LIVE_SWITCHOVER),
		       "no live switchover without an in-sync backup");
	cr_assert_eq(hs_pair_fsm_lookup(HS_PAIR_REVERSING, HS_EV_REVERSED)->next, HS_PAIR_CREATING);
}

/*
 * guest-down: a guest left off is never promoted (its host is lost: refused,
 * lost-unsynced), never re-protected (no host-returned, reprotect or backup
 * rows: the plan proposes nothing), and leaves only when it runs again
 * (guest-started, degraded) or is deleted.
 */
Test(pair_fsm, a_guest_left_off_waits_in_guest_down)
{
	static const enum hs_pair_event none[] = {HS_EV_HOST_RETURNED, HS_EV_REPROTECT,
						  HS_EV_BACKUP_LOST, HS_EV_MIRROR_FAILED,
						  HS_EV_SWITCHOVER, HS_EV_LIVE_SWITCHOVER};
	const struct hs_pair_transition *row;

	cr_assert_eq(hs_pair_fsm_lookup(HS_PAIR_DEGRADED, HS_EV_GUEST_LEFT_OFF)->next,
		     HS_PAIR_GUEST_DOWN);
	cr_assert_eq(hs_pair_fsm_lookup(HS_PAIR_GUEST_DOWN, HS_EV_GUEST_STARTED)->next,
		     HS_PAIR_DEGRADED);
	row = hs_pair_fsm_lookup(HS_PAIR_GUEST_DOWN, HS_EV_PRIMARY_LOST);
	cr_assert_eq(row->action, HS_ACT_REFUSE_PROMOTION);
	cr_assert_eq(row->next, HS_PAIR_LOST_UNSYNCED);
	cr_assert_not(hs_pair_state_promotable(HS_PAIR_GUEST_DOWN));
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		cr_assert_null(hs_pair_fsm_lookup(HS_PAIR_GUEST_DOWN, none[i]), "%s",
			       hs_pair_event_name(none[i]));
	cr_assert_eq(hs_pair_fsm_lookup(HS_PAIR_GUEST_DOWN, HS_EV_DELETE)->next, HS_PAIR_DELETING);
}
