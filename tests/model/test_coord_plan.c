// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the coordinator's plan: who is lost, who is promoted, who is
 * refused, where a new backup goes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hs_coord_plan.h"

static const char *const names[] = {"node1", "node2", "node3"};
static bool up[3];        /* hasvcd is a member */
static bool host_down[3]; /* the host left the ring (up[] is false then too) */
static bool closed[3];    /* maintenance */

static int idx(const char *n)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(names[i], n) == 0)
			return i;
	cr_assert_fail("unknown node %s", n);
	return -1;
}
static bool online(void *ud, const char *n) { return up[idx(n)]; }
static bool ring(void *ud, const char *n) { return !host_down[idx(n)]; }
static bool accepts(void *ud, const char *n) { return up[idx(n)] && !closed[idx(n)]; }

/* Without host_up, "lost" is "hasvcd gone" (what most tests set up). */
static bool fenced[3];
static bool is_fenced(void *ud, const char *n) { return fenced[idx(n)]; }

static const struct hs_plan_nodes nodes = {
	.online = online, .accepts_backups = accepts, .names = names, .n_names = 3};
static const struct hs_plan_nodes with_ring = {.online = online, .host_up = ring,
					       .accepts_backups = accepts, .fenced = is_fenced,
					       .names = names, .n_names = 3};

static void all_up(void)
{
	for (int i = 0; i < 3; i++) {
		up[i] = true;
		host_down[i] = false;
		fenced[i] = false;
		closed[i] = false;
	}
}

TestSuite(coord_plan, .init = all_up);

Test(coord_plan, healthy_cluster_needs_nothing)
{
	struct hs_pair_brief pairs[] = {
		{"vm1", "node1", "node2", HS_PAIR_IN_SYNC, false, false},
		{"vm2", "node2", "node3", HS_PAIR_INITIAL_SYNC, false, false},
	};
	struct hs_plan_step steps[4];
	cr_assert_eq(hs_coord_plan(pairs, 2, &nodes, steps, 4), 0);
}

Test(coord_plan, lost_primary_fences_synced_and_refuses_unsynced)
{
	struct hs_pair_brief pairs[] = {
		{"vm1", "node1", "node2", HS_PAIR_IN_SYNC, false, false},
		{"vm2", "node1", "node3", HS_PAIR_INITIAL_SYNC, false, false},
		{"vm3", "node2", "node1", HS_PAIR_IN_SYNC, false, false},
		{"vm4", "node1", "node2", HS_PAIR_DEGRADED, false, false},
	};
	struct hs_plan_step steps[8];

	up[0] = false;
	cr_assert_eq(hs_coord_plan(pairs, 4, &nodes, steps, 8), 4);
	cr_assert_eq(steps[0].event, HS_EV_PRIMARY_LOST);
	cr_assert_eq(hs_pair_fsm_lookup(pairs[0].state, steps[0].event)->next, HS_PAIR_FENCING);
	cr_assert_eq(steps[1].event, HS_EV_PRIMARY_LOST);
	cr_assert_eq(hs_pair_fsm_lookup(pairs[1].state, steps[1].event)->next, HS_PAIR_LOST_UNSYNCED);
	cr_assert_eq(steps[2].pair, 2);
	cr_assert_eq(steps[2].event, HS_EV_BACKUP_LOST, "vm3's backup was on node1");
	cr_assert_eq(steps[3].event, HS_EV_PRIMARY_LOST);
	cr_assert_eq(hs_pair_fsm_lookup(pairs[3].state, steps[3].event)->next, HS_PAIR_LOST_UNSYNCED);
}

Test(coord_plan, both_hosts_lost_is_a_lost_primary)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node1", "node2", HS_PAIR_IN_SYNC, false, false}};
	struct hs_plan_step steps[2];

	up[0] = up[1] = false;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_PRIMARY_LOST);
}

Test(coord_plan, degraded_resyncs_when_its_backup_returns)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node1", "node2", HS_PAIR_DEGRADED, false, false}};
	struct hs_plan_step steps[2];

	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_HOST_RETURNED);
}

Test(coord_plan, degraded_moves_its_backup_when_that_host_is_gone)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node1", "node2", HS_PAIR_DEGRADED, false, false}};
	struct hs_plan_step steps[2];

	up[1] = false;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_REPROTECT);
	cr_assert_str_eq(steps[0].new_backup, "node3");
}

Test(coord_plan, unprotected_prefers_its_old_host_and_skips_maintenance)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node2", "node1", HS_PAIR_UNPROTECTED, false, false}};
	struct hs_plan_step steps[2];

	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_str_eq(steps[0].new_backup, "node1");
	closed[0] = true;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_str_eq(steps[0].new_backup, "node3");
	closed[2] = true;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 0, "nowhere to go: stays unprotected");
}

Test(coord_plan, lost_unsynced_restarts_when_its_host_returns)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node1", "node2", HS_PAIR_LOST_UNSYNCED, false, false}};
	struct hs_plan_step steps[2];

	up[0] = false;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 0, "still waiting for node1");
	up[0] = true;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_HOST_RETURNED);
}

Test(coord_plan, fencing_ends_when_the_primary_returns_unfenced)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node1", "node2", HS_PAIR_FENCING, false, false}};
	struct hs_plan_step steps[2];

	up[0] = false;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 0, "waits for the fence");
	up[0] = true;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_HOST_RETURNED);
	cr_assert_eq(hs_pair_fsm_lookup(HS_PAIR_FENCING, steps[0].event)->next, HS_PAIR_IN_SYNC);
}

Test(coord_plan, old_host_policy_waits_for_the_previous_host)
{
	struct hs_plan_nodes wait = nodes;
	struct hs_pair_brief pairs[] = {{"vm1", "node2", "node1", HS_PAIR_UNPROTECTED, false, false}};
	struct hs_plan_step steps[2];

	wait.old_host_only = true;
	up[0] = false;
	cr_assert_eq(hs_coord_plan(pairs, 1, &wait, steps, 2), 0, "node3 is not the old host");
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1, "any: node3 at once");
	cr_assert_str_eq(steps[0].new_backup, "node3");
	up[0] = true;
	cr_assert_eq(hs_coord_plan(pairs, 1, &wait, steps, 2), 1);
	cr_assert_str_eq(steps[0].new_backup, "node1");
}

/*
 * Chaos seed 2: vm1 (primary node2) re-protected onto node1, whose libvirtd
 * was gone; node1's prepare failed (reprotect-failed) and host-returned sent
 * the backup straight back to node1, for good: creating 60 s, degraded 3 s.
 */
Test(coord_plan, a_failed_prepare_sends_the_backup_to_another_host)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node2", "node1", HS_PAIR_DEGRADED, false, true}};
	struct hs_plan_step steps[2];

	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_REPROTECT, "node1 never left: not host-returned");
	cr_assert_str_eq(steps[0].new_backup, "node3");
	cr_assert(steps[0].after_failure);
	cr_assert_eq(hs_pair_fsm_lookup(HS_PAIR_DEGRADED, steps[0].event)->next, HS_PAIR_CREATING);

	pairs[0].backup_failed = false;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_HOST_RETURNED, "a mirror that failed resyncs onto node1");
	cr_assert_not(steps[0].after_failure);
}

Test(coord_plan, a_failed_prepare_is_retried_there_only_when_no_other_host_can)
{
	struct hs_plan_nodes wait = nodes;
	struct hs_pair_brief pairs[] = {{"vm1", "node2", "node1", HS_PAIR_DEGRADED, false, true}};
	struct hs_plan_step steps[2];

	closed[2] = true; /* node3 in maintenance */
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_HOST_RETURNED);
	cr_assert(steps[0].after_failure, "the coordinator waits longer before this retry");

	closed[2] = false;
	wait.old_host_only = true;
	cr_assert_eq(hs_coord_plan(pairs, 1, &wait, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_HOST_RETURNED, "old-host policy: node1 or nothing");
	cr_assert(steps[0].after_failure);

	up[0] = false; /* the failed host gone as well: nowhere */
	closed[2] = true;
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 0);
}

Test(coord_plan, failing_hosts_are_tried_in_turn)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node1", "node3", HS_PAIR_DEGRADED, false, true}};
	struct hs_plan_step steps[2];

	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_eq(steps[0].event, HS_EV_REPROTECT);
	cr_assert_str_eq(steps[0].new_backup, "node2", "after node3, round past the primary");
	pairs[0].backup = "node2";
	cr_assert_eq(hs_coord_plan(pairs, 1, &nodes, steps, 2), 1);
	cr_assert_str_eq(steps[0].new_backup, "node3");
}

Test(coord_plan, reports_the_count_beyond_max)
{
	struct hs_pair_brief pairs[] = {
		{"vm1", "node1", "node2", HS_PAIR_IN_SYNC, false, false},
		{"vm2", "node1", "node3", HS_PAIR_IN_SYNC, false, false},
	};
	struct hs_plan_step steps[1];

	up[0] = false;
	cr_assert_eq(hs_coord_plan(pairs, 2, &nodes, steps, 1), 2);
	cr_assert_eq(steps[0].pair, 0);
}

Test(coord_plan, a_stopped_hasvcd_is_not_a_lost_host)
{
	struct hs_pair_brief pairs[] = {
		{"vm1", "node1", "node2", HS_PAIR_IN_SYNC, false, false},
		{"vm2", "node3", "node1", HS_PAIR_IN_SYNC, false, false},
	};
	struct hs_plan_step steps[4];

	/* node1's hasvcd is gone, its host (and vm1, and vm2's backup) still run */
	up[0] = false;
	cr_assert_eq(hs_coord_plan(pairs, 2, &with_ring, steps, 4), 0,
		     "a restarting hasvcd must not fence its host or degrade its backups");

	/* now the host itself leaves the ring: vm1 fails over, vm2 degrades */
	host_down[0] = true;
	cr_assert_eq(hs_coord_plan(pairs, 2, &with_ring, steps, 4), 2);
	cr_expect_eq(steps[0].event, HS_EV_PRIMARY_LOST);
	cr_expect_eq(steps[1].event, HS_EV_BACKUP_LOST);
}

Test(coord_plan, no_new_backup_on_a_host_without_hasvcd)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node1", "node2", HS_PAIR_UNPROTECTED, false, false}};
	struct hs_plan_step steps[2];

	up[1] = false; /* node2's host is up, its hasvcd is not: it cannot prepare a backup */
	cr_assert_eq(hs_coord_plan(pairs, 1, &with_ring, steps, 2), 1);
	cr_expect_eq(steps[0].event, HS_EV_REPROTECT);
	cr_expect_str_eq(steps[0].new_backup, "node3");
}

Test(coord_plan, switchover_losing_its_backup_host_fails_back_only_after_the_fence)
{
	struct hs_pair_brief pairs[] = {{"vm1", "node1", "node2", HS_PAIR_PROMOTING, true, false},
					{"vm2", "node3", "node2", HS_PAIR_PROMOTING, false, false}};
	struct hs_plan_step steps[4];

	up[1] = false;
	host_down[1] = true;
	/* node2 may have resumed vm1 already: node1 must not start it yet */
	cr_assert_eq(hs_coord_plan(pairs, 1, &with_ring, steps, 4), 0);
	fenced[1] = true;
	cr_assert_eq(hs_coord_plan(pairs, 1, &with_ring, steps, 4), 1);
	cr_expect_eq(steps[0].event, HS_EV_SWITCHOVER_FAILED);
	/* a failover's promotion losing its backup host too: nothing to fall back on */
	cr_assert_eq(hs_coord_plan(pairs + 1, 1, &with_ring, steps, 4), 1);
	cr_expect_eq(steps[0].event, HS_EV_BACKUP_LOST);
}

Test(coord_plan, two_nodes_hold_a_lost_backup_until_it_is_fenced)
{
	static const char *const two[] = {"node1", "node2"};
	struct hs_plan_nodes pair_of_nodes = with_ring;
	struct hs_pair_brief pairs[] = {{"vm1", "node2", "node1", HS_PAIR_IN_SYNC, false, false}};
	struct hs_plan_step steps[2];

	pair_of_nodes.names = two;
	pair_of_nodes.n_names = 2;
	up[0] = false;
	host_down[0] = true;
	/* node1 may be fencing node2 right now to promote vm1: no write may be
	 * acknowledged without it, so the mirror is not cut */
	cr_assert_eq(hs_coord_plan(pairs, 1, &pair_of_nodes, steps, 2), 0);
	fenced[0] = true;
	cr_assert_eq(hs_coord_plan(pairs, 1, &pair_of_nodes, steps, 2), 1);
	cr_expect_eq(steps[0].event, HS_EV_BACKUP_LOST);
	/* three nodes: quorum already tells which side goes on */
	fenced[0] = false;
	cr_assert_eq(hs_coord_plan(pairs, 1, &with_ring, steps, 2), 1);
	cr_expect_eq(steps[0].event, HS_EV_BACKUP_LOST);
}
