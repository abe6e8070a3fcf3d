// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the duties and the plan (hasvc/pairs) on one host over the fakes
 * of pairs_test.h: each state's duty runs on the host the state names, asks
 * mirror/ for the right thing, and proposes the transition the table says
 * for the answer; a lost host moves its pairs as the promotion rule says; an
 * edge not in the table is refused and nothing is proposed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"
#include "pairs_test.h"
#include "sdb_msg.h"

static void teardown(void)
{
	pt_teardown();
}

TestSuite(duties, .fini = teardown);

static json_object *jobs(bool active, bool job, bool ready, uint64_t cur, uint64_t end)
{
	json_object *o = json_object_new_object(), *disks = json_object_new_array();
	json_object *d = json_object_new_object();

	json_object_object_add(d, "target", json_object_new_string("vda"));
	json_object_object_add(d, "job", json_object_new_boolean(job));
	json_object_object_add(d, "ready", json_object_new_boolean(ready));
	json_object_object_add(d, "cur", json_object_new_int64((int64_t)cur));
	json_object_object_add(d, "end", json_object_new_int64((int64_t)end));
	json_object_array_add(disks, d);
	json_object_object_add(o, "active", json_object_new_boolean(active));
	json_object_object_add(o, "disks", disks);
	return o;
}

Test(duties, the_backup_host_prepares_then_the_pair_syncs)
{
	struct pt_call *c;
	json_object *data = json_object_new_object();
	struct hs_pair v;

	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "creating");
	pt_round();
	c = pt_pending("backup_prepare");
	cr_assert_not_null(c, "the backup host prepares in creating");
	cr_assert(c->sync, "a new pair's backup is fresh");
	/* with TLS the export lets in only the pair's primary: its name goes along */
	cr_assert_str_eq(c->primary, "node1");
	/* the port bound, not the one asked, is recorded */
	json_object_object_add(data, "port", json_object_new_int(10811));
	pt_answer(c, 0, "backup prepared", data);
	cr_assert_str_eq(pt_pair_state("vm1"), "initial-sync");
	v = pt_pair("vm1");
	cr_assert_eq(v.nbd_port, 10811);
	hs_pair_release(&v);
	cr_assert_eq(pt_events("pair", "creating -> initial-sync (backup-prepared)"), 1);
	pt_round();
	cr_assert_null(pt_pending("backup_prepare"), "the duty ran once for its generation");
}

/*
 * Chaos seed 2 (a local run): the backup host's prepare answered while its
 * partition had no quorum (corosync restarting elsewhere); the proposal was
 * lost, the duty was done for that generation, and the pair stayed in
 * creating for good, nobody preparing. The outcome is kept and proposed
 * again once the host may act; the backup is not prepared twice.
 */
Test(duties, a_prepared_backup_whose_proposal_was_lost_is_proposed_again)
{
	json_object *data = json_object_new_object();

	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "creating");
	pt_round();
	pt_quorate_set(false);
	json_object_object_add(data, "port", json_object_new_int(10811));
	pt_answer(pt_pending("backup_prepare"), 0, "backup prepared", data);
	cr_assert_str_eq(pt_pair_state("vm1"), "creating", "no quorum: nothing applied");
	pt_quorate_set(true);
	pt_calls_clear();
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "initial-sync");
	cr_assert_null(pt_pending("backup_prepare"), "the outcome was kept: no second prepare");
	cr_assert_eq(pt_events("pair", "creating -> initial-sync (backup-prepared)"), 1);
}

Test(duties, the_primary_host_does_not_prepare)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "creating");
	pt_round();
	cr_assert_null(pt_pending("backup_prepare"));
}

Test(duties, a_new_pair_whose_backup_cannot_be_prepared_goes)
{
	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "creating");
	pt_round();
	pt_answer(pt_pending("backup_prepare"), -EIO, "no room for the images", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "deleting");
	cr_assert_eq(pt_events("pair", "could not be prepared on node2: no room"), 1);
}

Test(duties, libvirtd_away_is_tried_again_not_failed)
{
	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "creating");
	pt_round();
	pt_answer(pt_pending("backup_prepare"), -ECONNREFUSED, "libvirtd is not there", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
}

Test(duties, the_primary_host_mirrors_until_every_disk_is_ready)
{
	struct pt_call *c;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "initial-sync");
	pt_round();
	c = pt_pending("start");
	cr_assert_not_null(c, "the primary host starts the mirror in initial-sync");
	cr_assert_eq(c->port, 10809);
	cr_assert(c->sync, "sync is the default mode");
	pt_answer(c, 0, "mirror started", NULL);
	usleep(1100 * 1000); /* POLL_USEC */
	pt_round();
	c = pt_pending("jobs");
	cr_assert_not_null(c, "then it watches the jobs");
	pt_answer(c, 0, "jobs", jobs(true, true, true, 100, 100));
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync");
}

Test(duties, a_block_copy_that_stopped_degrades_the_pair)
{
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", jobs(true, false, false, 0, 100));
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	v = pt_pair("vm1");
	cr_assert_not_null(strstr(v.reason, "the block copy of disk vda stopped"), "%s", v.reason);
	hs_pair_release(&v);
	/* degraded: the primary cuts the mirror at once */
	pt_round();
	cr_assert_not_null(pt_pending("cut"));
}

Test(duties, an_in_sync_pair_whose_primary_host_is_lost_is_fenced_then_promoted)
{
	struct hs_pair v;

	pt_setup("node1"); /* the coordinator, and the backup host */
	pt_pair_put("vm1", "node2", "node1", "in-sync");
	pt_node_set("node2", false, false);
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "fencing");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "fencing", "nothing is promoted before the fence");
	cr_assert_null(pt_pending("promote"));
	pt_node_state("node2", "fenced");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "promoting");
	pt_round();
	pt_answer(pt_pending("promote"), 0, "vm1 resumed", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "unprotected");
	v = pt_pair("vm1");
	cr_assert_str_eq(v.primary, "node1");
	cr_assert_str_eq(v.backup, "node2", "the old primary host stays recorded");
	hs_pair_release(&v);
	cr_assert_eq(pt_events("pair", "fencing -> promoting (fenced)"), 1);
}

Test(duties, a_pair_lost_before_its_first_sync_is_not_promoted)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node2", "node1", "initial-sync");
	pt_node_set("node2", false, false);
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "lost-unsynced");
	cr_assert_eq(pt_events("pair", "is NOT promoted"), 1);
	cr_assert_null(pt_pending("promote"));
}

Test(duties, a_lost_backup_host_degrades_the_pair_and_the_mirror_is_cut)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_node_set("node2", false, false);
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	pt_round();
	cr_assert_not_null(pt_pending("cut"));
}

Test(duties, a_failed_switchover_restarts_the_primary)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "switching-over");
	pt_round();
	pt_answer(pt_pending("stop_primary"), -EIO, "the guest would not stop", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "switching-over");
	pt_answer(pt_pending("restart"), 0, "vm1 started", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	cr_assert_eq(pt_events("pair", "switchover failed (the guest would not stop); vm1 runs again"),
		     1);
}

/*
 * The stop's drain waits on a backup whose replication link went silent
 * (its host still in the ring): after the link watch's bound the primary
 * closes the connections, so the drain ends instead of waiting for TCP
 * (chaos seed 1, 500 steps). A short silence closes nothing.
 */
Test(duties, a_switchover_drain_on_a_silent_link_closes_the_connections)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "switching-over");
	pt_link_silence_ms = 200;
	pt_round();
	cr_assert_not_null(pt_pending("stop_primary"), "the drain runs");
	cr_assert_null(pt_pending("cut"), "a short silence is a busy backup");
	usleep(5100 * 1000);
	pt_link_silence_ms = 5300;
	pt_round();
	cr_assert_not_null(pt_pending("cut"), "the silent link's connections closed");
	cr_assert_eq(pt_events("pair", "acknowledged nothing for 5300 ms during vm1's switchover drain"), 1);
	pt_round();
	cr_assert_eq(pt_events("pair", "switchover drain"), 1, "said and done once");
	pt_answer(pt_pending("stop_primary"), -EPIPE, "the mirror of vm1 stopped before it drained", NULL);
	pt_answer(pt_pending("restart"), 0, "vm1 started", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	pt_link_silence_ms = 0;
}

Test(duties, unpairing_cuts_the_mirror_then_the_backup_host_removes_the_backup)
{
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "deleting");
	pt_round();
	pt_answer(pt_pending("cut"), 0, "mirror stopped", NULL);
	v = pt_pair("vm1");
	cr_assert_eq(v.desired, HS_DESIRED_DELETED, "the primary host let go of the mirror");
	hs_pair_release(&v);
	cr_assert_null(pt_pending("teardown"), "the backup is node2's to remove");
}

Test(duties, the_backup_host_removes_a_released_backup_and_the_pair)
{
	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "deleting");
	pt_round();
	cr_assert_null(pt_pending("teardown"), "not while the primary host mirrors");
	pt_node_set("node1", false, true);
	pt_round();
	pt_answer(pt_pending("teardown"), 0, "backup removed", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "gone");
}

Test(duties, an_edge_not_in_the_table_is_refused_and_nothing_is_proposed)
{
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "degraded");
	v = pt_pair("vm1");
	cr_assert_eq(hs__pairs_transition(pt.pairs, &v, HS_EV_PROMOTED, NULL, "nonsense"), -EINVAL);
	cr_assert_eq(hs__pairs_transition(pt.pairs, &v, HS_EV_FENCED, NULL, "nonsense"), -EINVAL);
	hs_pair_release(&v);
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	cr_assert_eq(pt_events("pair", "nonsense"), 0);
}

Test(duties, one_step_is_proposed_once_from_one_generation)
{
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	v = pt_pair("vm1");
	cr_assert_eq(hs__pairs_transition(pt.pairs, &v, HS_EV_MIRROR_FAILED, NULL, "first"), 0);
	cr_assert_eq(hs__pairs_transition(pt.pairs, &v, HS_EV_MIRROR_FAILED, NULL, "again"),
		     -EALREADY);
	hs_pair_release(&v);
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	cr_assert_eq(pt_events("pair", "again"), 0);
}

Test(duties, a_stale_proposal_is_refused_by_the_state)
{
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	v = pt_pair("vm1");
	/* another host moved the pair meanwhile */
	pt_pair_change(&(struct sdb_pair_change){
	    .vm = "vm1", .state = "degraded", .pair_event = "mirror-failed"});
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	/* a proposal made from the old state: compare-and-set refuses it everywhere */
	cr_assert_eq(hs__pairs_transition(pt.pairs, &v, HS_EV_SWITCHOVER, NULL, "late"), 0);
	hs_pair_release(&v);
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	cr_assert_eq(pt_events("pair", "late"), 0);
}

Test(duties, nothing_acts_without_quorum)
{
	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "creating");
	pt_quorate_set(false);
	pt_round();
	cr_assert_null(pt_pending("backup_prepare"));
}

Test(duties, every_duty_of_the_table_has_its_handler)
{
	for (int s = 0; s < HS_PAIR_STATE_MAX; s++) {
		size_t n;
		const struct hs_pair_duty *d = hs_pair_fsm_duties(s, &n);

		for (size_t i = 0; i < n; i++)
			cr_assert_not_null(hs__pair_duty_handler(d[i].action), "%s: %s",
					   hs_pair_state_name(s), hs_pair_action_name(d[i].action));
	}
	cr_assert_null(hs__pair_duty_handler(HS_ACT_NONE));
	cr_assert_null(hs__pair_duty_handler(HS_ACT_MAX));
}

Test(duties, a_degraded_pair_is_protected_again_after_a_pause)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "degraded");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded", "a pair just degraded waits");
	usleep(3100 * 1000); /* REPROTECT_DELAY_USEC */
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	cr_assert_eq(pt_events("pair", "degraded -> creating"), 1);
}

/*
 * Chaos seed 2: the backup host (here node1, coordinating too) could not
 * prepare a new backup (its libvirtd was gone). It never left the cluster,
 * so "it is back" is no reason to try it again: before, host-returned sent
 * the backup straight back, creating and degraded in turn for good. Now the
 * pair waits degraded, its reason the failure, and the next host that
 * accepts backups takes it.
 */
Test(duties, a_backup_that_cannot_be_prepared_goes_to_another_host)
{
	struct hs_pair v;

	pt_setup("node1");
	pt_node_admin("node3", "maintenance");
	pt_pair_put("vm1", "node2", "node1", "degraded");
	usleep(3100 * 1000); /* REPROTECT_DELAY_USEC */
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "creating", "a mirror that failed: node1 again");
	pt_round();
	pt_answer(pt_pending("backup_prepare"), -EIO, "no room for the images", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	cr_assert_eq(pt_events("pair", "creating -> degraded (reprotect-failed)"), 1);

	usleep(3100 * 1000);
	pt_round();
	v = pt_pair("vm1");
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded", "node1 is not tried again at once");
	cr_assert_str_eq(v.backup, "node1");
	cr_assert(v.reason && strstr(v.reason, "could not be prepared on node1"), "reason: %s",
		  v.reason);
	hs_pair_release(&v);

	pt_node_admin("node3", "enabled");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	v = pt_pair("vm1");
	cr_assert_str_eq(v.backup, "node3");
	hs_pair_release(&v);
	cr_assert_eq(pt_events("pair", "new backup on node3: node1 could not prepare it"), 1);
}

Test(duties, a_host_back_before_its_fence_promotes_nothing)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node2", "node1", "fencing");
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync");
	cr_assert_eq(pt_events("pair", "came back before it was fenced"), 1);
}

Test(duties, only_the_coordinator_moves_a_pair_whose_host_is_lost)
{
	pt_setup("node3"); /* node1 coordinates */
	pt_pair_put("vm1", "node2", "node3", "in-sync");
	pt_node_set("node2", false, false);
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync");
}

/*
 * A replication link cut while corosync still lists the backup host: the
 * backup acknowledges nothing. The primary proposes degraded (through the
 * cluster: only a quorate primary gets it applied) and only then cuts; a
 * short silence is a busy backup, not a cut.
 */
/*
 * TCP's "last ACK received" counts the quiet time before a write too: a pair
 * idle for a minute whose next write is caught in flight reads 60 s of
 * silence. Only what the watch saw waiting counts.
 */
Test(duties, the_first_write_after_an_idle_spell_is_not_a_silent_link)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_link_silence_ms = 60000;
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync", "60 s since the last ACK, but seen waiting for none");
	pt_answer(pt_pending("jobs"), 0, "jobs", jobs(true, true, true, 100, 100));
	pt_calls_clear();
	usleep(1100 * 1000);
	pt_link_silence_ms = 300; /* acknowledged meanwhile; the next write waits */
	pt_round();
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync");
	pt_link_silence_ms = 0;
}

Test(duties, a_silent_replication_link_degrades_the_pair_before_the_cut)
{
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_link_silence_ms = 200; /* a write waits: the watch starts counting */
	pt_round();
	cr_assert_not_null(pt_pending("jobs"), "a short silence: the jobs are read as usual");
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync");
	pt_answer(pt_pending("jobs"), 0, "jobs", jobs(true, true, true, 100, 100));
	pt_calls_clear();
	usleep(3000 * 1000);
	pt_link_silence_ms = 3200; /* under LINK_SILENCE_MS: a busy backup, or corosync about to see a lost host */
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync");
	pt_answer(pt_pending("jobs"), 0, "jobs", jobs(true, true, true, 100, 100));
	pt_calls_clear();
	usleep(2100 * 1000);
	pt_link_silence_ms = 5300;
	pt_round();
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	v = pt_pair("vm1");
	cr_assert_not_null(strstr(v.reason, "acknowledged nothing for 5"), "%s", v.reason);
	hs_pair_release(&v);
	pt_round();
	cr_assert_not_null(pt_pending("cut"), "degraded first, then the cut");
	pt_link_silence_ms = 0;
}

/*
 * A backup image replaced at its path while the backup's QEMU runs: the
 * backup host fails the mirror through the cluster, once, with the reason;
 * the pair is never promotable on a QEMU that writes an unlinked file.
 */
Test(duties, a_backup_disk_replaced_under_its_qemu_degrades_the_pair_once)
{
	struct hs_pair v;

	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_round();
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync", "every disk its QEMU's: nothing to say");
	pt_disks_replaced = "the backup image /img/vm1.qcow2 was replaced while its QEMU ran";
	usleep(2100 * 1000);
	pt_round();
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	v = pt_pair("vm1");
	cr_assert_not_null(strstr(v.reason, "/img/vm1.qcow2 was replaced"), "%s", v.reason);
	hs_pair_release(&v);
	pt_disks_replaced = NULL;
}
