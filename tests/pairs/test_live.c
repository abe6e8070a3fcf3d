// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the live switchover's duties (hasvc/pairs/hs_pair_duty_live.c)
 * over the fakes of pairs_test.h: each step runs on the host its state
 * names, asks mirror/ for the right thing, and proposes what the table says
 * for the answer; the roles swap when the guest has moved, and a failure
 * leaves the guest where it runs, on the road back to a backup.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hs_pairs_internal.h"
#include "pairs_test.h"
#include "sdb_msg.h"

static void teardown(void)
{
	pt_teardown();
}

TestSuite(live, .fini = teardown);

/* The live switchover's op, as hs_pairs_switchover claims it. */
static void op_begin(const char *vm, const char *op, const char *node)
{
	char *buf = NULL;
	size_t len = 0;
	char ref[64];
	int built;

	/* as hs__pairs_switchover_start makes it: the host the guest leaves at its end */
	snprintf(ref, sizeof(ref), "t-1-from-%s", node);
	built = sdb_msg_op_begin(vm, op, node, ref, &buf, &len);

	pt_propose(built, buf, len);
}

static void live_op(const char *vm, const char *node)
{
	op_begin(vm, "live-switchover", node);
}

static const char *op_of(const char *vm)
{
	static char op[32];
	struct hs_pair v = pt_pair(vm);

	snprintf(op, sizeof(op), "%s", v.op ? v.op : "");
	hs_pair_release(&v);
	return op;
}

Test(live, the_backup_host_hands_its_exports_to_a_stand_in)
{
	struct pt_call *c;

	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "handing-over");
	pt_round();
	c = pt_pending("standin_start");
	cr_assert_not_null(c, "the backup host starts the stand-in in handing-over");
	cr_assert(c->replace, "the paused backup's QEMU goes first");
	cr_assert_eq(c->port, 10809, "the stand-in answers on the backup's own port");
	cr_assert_str_eq(c->host, "10.0.0.2");
	cr_assert_str_eq(c->primary, "node1", "only the primary may connect");
	pt_answer(c, 0, "stand-in pid 42", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "catching-up");
	pt_round();
	cr_assert_null(pt_pending("standin_start"), "once per generation");
}

Test(live, a_stand_in_that_fails_puts_the_backup_back)
{
	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "handing-over");
	live_op("vm1", "node1");
	pt_round();
	pt_answer(pt_pending("standin_start"), -EADDRINUSE, "port 10809 is taken", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	cr_assert_eq(pt_events("pair", "no stand-in for the backup on node2 (port 10809 is taken)"), 1);
	cr_assert_str_eq(op_of("vm1"), "", "the VM is free for the next operation");
}

Test(live, the_primary_catches_up_then_migrates_then_offers_the_way_back)
{
	struct pt_call *c;
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "catching-up");
	pt_round();
	c = pt_pending("resume");
	cr_assert_not_null(c, "the primary resumes the jobs the hand-over paused");
	cr_assert_eq(c->port, 10809);
	pt_answer(c, 0, "READY", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "migrating");
	pt_round();
	c = pt_pending("standin_arm");
	cr_assert_not_null(c, "the way back is armed before the guest leaves");
	cr_assert_str_eq(c->primary, "node2", "the new primary is the one let in");
	cr_assert_null(pt_pending("migrate"), "not before the stand-in is armed");
	pt_answer(c, 0, "stand-in pid 43 (inactive)", NULL);
	c = pt_pending("migrate");
	cr_assert_not_null(c, "the primary migrates in migrating");
	cr_assert_str_eq(c->host, "10.0.0.2", "onto the backup host's replication address");
	pt_answer(c, 0, "migrated in 1900 ms, downtime 25 ms", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "migrating", "the way back comes first");
	c = pt_pending("standin_activate");
	cr_assert_not_null(c, "the armed stand-in serves once the guest has left");
	pt_answer(c, 0, "activated in 2 ms", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "reversing");
	v = pt_pair("vm1");
	cr_assert_str_eq(v.primary, "node2", "the roles swap with the guest");
	cr_assert_str_eq(v.backup, "node1");
	cr_assert_neq(v.nbd_port, 0);
	hs_pair_release(&v);
	cr_assert_eq(pt_events("pair", "migrated in 1900 ms, downtime 25 ms on node2"), 1);
}

/* On node1, vm1 migrating to node2: the way back armed, the migration asked for. */
static void migration_asked(void)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "migrating");
	live_op("vm1", "node1");
	pt_round();
	pt_answer(pt_pending("standin_arm"), 0, "stand-in (inactive)", NULL);
}

Test(live, a_failed_migration_leaves_the_guest_and_puts_the_backup_back)
{
	migration_asked();
	pt_answer(pt_pending("migrate"), -ETIMEDOUT, "not converged in 120 s", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "migrating", "the armed stand-in goes first");
	pt_answer(pt_pending("standin_stop"), 0, "the stand-in of vm1 stopped", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	cr_assert_null(pt_pending("standin_activate"));
	cr_assert_eq(pt_events("pair", "not converged in 120 s; vm1 keeps running on node1"), 1);
	cr_assert_str_eq(op_of("vm1"), "");
}

Test(live, the_new_primary_mirrors_back_from_equal_disks_then_resumes)
{
	struct pt_call *c;

	pt_setup("node2");
	pt_pair_put("vm1", "node2", "node1", "reversing");
	live_op("vm1", "node1");
	pt_round();
	c = pt_pending("start_resync");
	cr_assert_not_null(c, "the new primary mirrors back in reversing");
	cr_assert(c->from_equal, "equal disks: only what is written from now on");
	cr_assert_null(pt_pending("continue"), "the guest stays paused until the mirror runs");
	pt_answer(c, 0, "mirroring", NULL);
	c = pt_pending("continue");
	cr_assert_not_null(c);
	pt_answer(c, 0, "vm1 resumed", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "creating", "the old primary becomes the backup");
	cr_assert_str_eq(op_of("vm1"), "");
}

Test(live, no_mirror_back_degrades_first_then_the_guest_runs)
{
	struct pt_call *c;

	pt_setup("node2");
	pt_pair_put("vm1", "node2", "node1", "reversing");
	live_op("vm1", "node1");
	pt_round();
	pt_answer(pt_pending("start_resync"), -ECONNREFUSED, "no stand-in answers", NULL);
	cr_assert_null(pt_pending("continue"),
		       "not resumed while the old host still counts as holding every write");
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	pt_round();
	pt_answer(pt_pending("cut"), 0, "mirror cut", NULL);
	pt_round(); /* continue: a duty of degraded, beside the cut */
	c = pt_pending("continue");
	cr_assert_not_null(c, "degraded after a live switchover: the guest runs again");
	pt_answer(c, 0, "vm1 resumed", NULL);
	cr_assert_str_eq(op_of("vm1"), "");
}

Test(live, a_degraded_pair_without_a_live_switchover_is_not_resumed)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "degraded");
	pt_round();
	pt_answer(pt_pending("cut"), 0, "mirror cut", NULL);
	pt_round(); /* continue: a duty of degraded, beside the cut */
	cr_assert_null(pt_pending("continue"), "an admin's pause is the admin's");
}

Test(live, the_primary_lost_before_catching_up_is_not_promoted)
{
	pt_setup("node2"); /* the coordinator once node1 is gone, and the backup host */
	pt_pair_put("vm1", "node1", "node2", "catching-up");
	pt_node_set("node1", false, false);
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "lost-unsynced");
	/* the reason true to the state: it did finish its initial sync (fault_live_crash_handover) */
	cr_assert_eq(pt_events("pair", "handing its disks to a stand-in"), 1);
	cr_assert_eq(pt_events("pair", "never finished its initial sync"), 0);
}

Test(live, the_primary_lost_while_migrating_is_fenced_then_promoted)
{
	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "migrating");
	pt_node_set("node1", false, false);
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "fencing");
	pt_node_state("node1", "fenced");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "promoting");
	pt_round();
	cr_assert_not_null(pt_pending("promote"),
			   "the backup host promotes: mirror/ finds the migrated guest or the stand-in");
}

Test(live, a_failed_live_switchover_with_allow_cold_goes_on_cold_once_in_sync)
{
	pt_setup("node1"); /* the coordinator and the primary host */
	pt_pair_put("vm1", "node1", "node2", "migrating");
	op_begin("vm1", "live-switchover-or-cold", "node1");
	pt_round();
	pt_answer(pt_pending("standin_arm"), -EADDRINUSE, "port taken", NULL);
	pt_answer(pt_pending("migrate"), -ETIMEDOUT, "not converged in 120 s", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	cr_assert_str_eq(op_of("vm1"), "live-switchover-or-cold", "kept for the cold move");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "creating", "not before the pair is protected again");
	teardown();

	/* in sync again after the failure (the pair changed after the op began): cold now */
	pt_setup("node1");
	op_begin("vm1", "live-switchover-or-cold", "node1");
	usleep(2000);
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "switching-over");
	cr_assert_str_eq(op_of("vm1"), "switchover");
	cr_assert_eq(pt_events("pair", "a cold switchover, as asked (--allow-cold)"), 1);
}

Test(live, a_request_whose_first_step_has_not_landed_is_not_taken_for_a_failure)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	usleep(2000);
	op_begin("vm1", "live-switchover-or-cold", "node1");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync");
	cr_assert_str_eq(op_of("vm1"), "live-switchover-or-cold");
}

/*
 * hasvcd restarted while its migration ran on in libvirt: the guest is no
 * longer here. Putting the backup back would destroy the migrated copy; the
 * roles swap instead.
 */
Test(live, a_guest_gone_from_the_primary_while_migrating_is_the_backup_hosts_now)
{
	migration_asked();
	pt_answer(pt_pending("migrate"), -ESRCH, "vm1 is not running on this host", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "migrating");
	pt_answer(pt_pending("standin_activate"), 0, "activated", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "reversing");
	cr_assert_null(pt_pending("backup_prepare"));
}

Test(live, a_guest_that_never_arrived_is_booted_from_the_new_primarys_disk)
{
	pt_setup("node2");
	pt_pair_put("vm1", "node2", "node1", "degraded");
	live_op("vm1", "node1");
	pt_round();
	pt_answer(pt_pending("cut"), 0, "mirror cut", NULL);
	pt_round(); /* continue: a duty of degraded, beside the cut */
	pt_answer(pt_pending("continue"), -ESRCH, "vm1 is not active on this host", NULL);
	pt_answer(pt_pending("promote"), 0, "vm1 booted from its disk", NULL);
	cr_assert_eq(pt_events("pair", "booted from this host's disk"), 1);
	cr_assert_str_eq(op_of("vm1"), "");
}

/*
 * fault_live_crash_backup: the backup host lost while migrating. The guest
 * starts again on the primary host only once degraded is applied (its cut,
 * then continue, then a boot if it left), never on the view before: a
 * `migrated` the cluster applied first must win.
 */
Test(live, the_backup_host_lost_while_migrating_restarts_the_guest_only_once_degraded)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "migrating");
	live_op("vm1", "node1");
	pt_node_set("node2", false, false);
	pt_round();
	cr_assert_null(pt_pending("restart"), "nothing is started on the view before the transition");
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	/* the arming's late answer finds the pair moved on: dropped, no migration */
	pt_answer(pt_pending("standin_arm"), 0, "stand-in (inactive)", NULL);
	cr_assert_null(pt_pending("migrate"));
	pt_round();
	pt_answer(pt_pending("cut"), 0, "mirror cut", NULL);
	pt_round(); /* continue: a duty of degraded, beside the cut */
	pt_answer(pt_pending("continue"), -ESRCH, "vm1 is not active on this host", NULL);
	cr_assert_not_null(pt_pending("promote"), "booted from its own disk, which has every write");
}

/*
 * fault_live_partition_backup: the backup host cut off (not crashed) while
 * migrating, the migration's connect to it waiting on the cut link. Once
 * degraded, the guest still runs here, but the migration may yet go on when
 * the link heals: mirror_continue cancels it and fails (-EAGAIN) until it has
 * ended. The op stays claimed meanwhile (a "runs already" then would be
 * false: the guest left for the cut-off host and stayed paused there, the
 * pair saying it ran here), and the continue is tried again.
 */
Test(live, a_migration_still_under_way_once_degraded_keeps_the_op_until_it_ends)
{
	migration_asked();
	cr_assert_not_null(pt_pending("migrate"), "the migration, waiting on the cut link");
	pt_node_set("node2", false, false);
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	pt_round();
	cr_assert_not_null(pt_pending("cut"), "degraded's cut, beside the migration");
	pt_answer(pt_pending("cut"), 0, "mirror cut", NULL);
	pt_round();
	cr_assert_not_null(pt_pending("continue"), "degraded's continue, beside the migration");
	pt_answer(pt_pending("continue"), -EAGAIN,
		  "a live migration of vm1 is still under way here though its pair no longer "
		  "migrates: cancelled; vm1 goes on once it has ended",
		  NULL);
	cr_assert_str_eq(op_of("vm1"), "live-switchover", "not over while the guest may yet leave");
	cr_assert_null(pt_pending("promote"), "no boot: the guest has not left");
	pt_answer(pt_pending("migrate"), -ECANCELED, "cancelled before it started", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded", "the late answer is dropped");
	hs__task_get(pt.pairs, "vm1")->next_usec = 0; /* (its retry, without waiting for it) */
	pt_round();
	cr_assert_not_null(pt_pending("continue"), "tried again");
	pt_answer(pt_pending("continue"), 0, "vm1 runs already", NULL);
	cr_assert_str_eq(op_of("vm1"), "");
}

/*
 * fault_live_crash_backup_host round 2: the old primary lost in reversing,
 * the mirror back stuck on its dead stand-in. The guest, still paused here,
 * resumes from a duty of the state the pair is in (degraded here; creating,
 * initial-sync and in-sync have it too), once the stuck request is over: not
 * from a step after one transition, which the pair moving on dropped (the
 * guest then stayed paused for good while the pair went back to in-sync).
 */
Test(live, a_guest_paused_behind_a_stuck_mirror_back_runs_again)
{
	pt_setup("node2"); /* the new primary, and the coordinator once node1 is gone */
	pt_pair_put("vm1", "node2", "node1", "reversing");
	live_op("vm1", "node1");
	pt_round();
	cr_assert_not_null(pt_pending("start_resync"), "the mirror back, stuck");
	pt_node_set("node1", false, false);
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	pt_round();
	/* the mirror thread serves one request at a time: the stuck one ends first */
	pt_answer(pt_pending("start_resync"), -ETIMEDOUT, "no stand-in answers at node1", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded", "its late answer is dropped");
	pt_answer(pt_pending("cut"), 0, "mirror cut", NULL);
	pt_round();
	cr_assert_not_null(pt_pending("continue"), "degraded's own duty resumes the guest");
	pt_answer(pt_pending("continue"), 0, "vm1 resumed", NULL);
	cr_assert_str_eq(op_of("vm1"), "");
}

/*
 * --allow-cold: the cold move follows only while the guest is still on the
 * host it was to leave (the op's reference names it). A guest that moved
 * (here: on node2, the op from node1) ends the op; nothing moves it back.
 */
Test(live, allow_cold_does_not_move_a_guest_that_already_moved)
{
	pt_setup("node2"); /* the new primary, not the coordinator (node1 is) */
	op_begin("vm1", "live-switchover-or-cold", "node1");
	usleep(2000);
	pt_pair_put("vm1", "node2", "node1", "in-sync");
	pt_round();
	cr_assert_not_null(pt_pending("continue"), "in-sync's continue runs beside its poll");
	pt_answer(pt_pending("continue"), 0, "vm1 resumed", NULL);
	cr_assert_str_eq(op_of("vm1"), "", "the op ends where the guest now runs");
	teardown();

	pt_setup("node1"); /* the coordinator: no cold move for a guest on node2 */
	op_begin("vm1", "live-switchover-or-cold", "node1");
	usleep(2000);
	pt_pair_put("vm1", "node2", "node1", "in-sync");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync");
}
