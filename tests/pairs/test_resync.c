// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the pairs' side of the qmp mirror engine (HASVC_MIRROR_ENGINE=qmp,
 * mirror/mirror_qmp.c), over the fakes of pairs_test.h: a job paused on its
 * failed target writes degrades the pair (it owes what it kept) and the cut
 * keeps it; the pair's next initial sync asks mirror/ to resume it when the
 * pair had a backup before, never for a new pair; an unpairing ends the jobs
 * for good (release). With the default engine none of this is asked.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hs_cleanup.h"
#include "hs_pairs_internal.h"
#include "pairs_test.h"
#include "sdb_msg.h"

static void teardown(void)
{
	pt_teardown();
	pt_engine_qmp = false;
}

TestSuite(resync, .fini = teardown);

static json_object *paused_job(uint64_t cur, uint64_t end)
{
	json_object *o = json_object_new_object(), *disks = json_object_new_array();
	json_object *d = json_object_new_object();

	json_object_object_add(d, "target", json_object_new_string("vda"));
	json_object_object_add(d, "job", json_object_new_boolean(true));
	json_object_object_add(d, "ready", json_object_new_boolean(false));
	json_object_object_add(d, "paused", json_object_new_boolean(true));
	json_object_object_add(d, "cur", json_object_new_int64((int64_t)cur));
	json_object_object_add(d, "end", json_object_new_int64((int64_t)end));
	json_object_array_add(disks, d);
	json_object_object_add(o, "active", json_object_new_boolean(true));
	json_object_object_add(o, "disks", disks);
	return o;
}

/*
 * The replicated change the backup host proposes once it prepared the backup
 * again; OTHER_DISKS (NULL: none) why the disks it found were not the ones
 * it left (issue 13, item 4).
 */
static void backup_prepared_found(const char *vm, const char *other_disks)
{
	struct hs_pair v = pt_pair(vm);
	struct sdb_pair_change c = {.vm = vm,
				    .expect_state = "creating",
				    .expect_generation = v.generation,
				    .state = "initial-sync",
				    .pair_event = hs_pair_event_name(HS_EV_BACKUP_PREPARED),
				    .reason = "",
				    .backup_disk_id = other_disks ? "bbbb2222" : NULL,
				    .backup_disk_reason = other_disks,
				    .event = "creating -> initial-sync (backup-prepared): test",
				    .event_node = "node2"};

	hs_pair_release(&v);
	pt_pair_change(&c);
}

static void backup_prepared(const char *vm)
{
	backup_prepared_found(vm, NULL);
}

/*
 * The backup host of vm1 is up again: after the re-protection delay the pair
 * goes creating, the backup is prepared, and the primary is asked to start
 * the initial sync's copy (returned, NULL if it was not).
 */
static struct pt_call *backup_back_and_prepared(void)
{
	usleep(3100 * 1000); /* REPROTECT_DELAY_USEC */
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	backup_prepared("vm1");
	cr_assert_str_eq(pt_pair_state("vm1"), "initial-sync");
	pt_calls_clear();
	pt_round();
	return pt_pending("start_resync");
}

/* An in-sync pair on the qmp engine, its job list answered with JOBS: the pair as it is then */
static struct hs_pair in_sync_pair_answered(struct json_object *jobs)
{
	pt_setup("node1");
	pt_engine_qmp = true;
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", jobs);
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	return pt_pair("vm1");
}

Test(resync, a_paused_job_degrades_the_pair_and_the_cut_keeps_it)
{
	struct hs_pair v = in_sync_pair_answered(paused_job(100, 16 << 20 | 100));

	cr_assert_not_null(strstr(v.reason, "paused on a failed write to the backup (16777216 bytes owed"),
			   "%s", v.reason);
	hs_pair_release(&v);
	pt_round();
	cr_assert_not_null(pt_pending("cut"), "degraded: the job is cut (paused), not released");
	cr_assert_null(pt_pending("release"));
}

/* mirror/ knows why the backup is out (parallel sync writes): that is the reason */
Test(resync, a_paused_jobs_reason_from_mirror_is_the_pairs)
{
	struct hs_pair v = in_sync_pair_answered(
		json_tokener_parse("{\"active\":true,\"disks\":[{\"target\":\"vda\",\"job\":true,"
				   "\"ready\":false,\"paused\":true,\"cur\":0,\"end\":4096,"
				   "\"why\":\"hasvcd cannot vouch\"}]}"));

	cr_assert_not_null(strstr(v.reason, "hasvcd cannot vouch (4096 bytes owed"), "%s", v.reason);
	cr_assert_null(strstr(v.reason, "failed write"), "%s", v.reason);
	hs_pair_release(&v);
}

Test(resync, a_pair_that_had_a_backup_resumes_its_jobs_a_new_one_copies_in_full)
{
	struct pt_call *c;

	pt_setup("node1");
	pt_engine_qmp = true;
	pt_pair_put("vm1", "node1", "node2", "initial-sync");
	pt_round();
	c = pt_pending("start_resync");
	cr_assert_not_null(c, "the qmp engine starts through mirror_start_resync");
	cr_assert_not(c->may_resume, "a new pair has no job to resume");
	cr_assert_null(pt_pending("start"));
	pt_teardown();

	pt_setup("node1");
	pt_engine_qmp = true;
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", paused_job(0, 1 << 20));
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
	c = backup_back_and_prepared(); /* the backup host is up, it comes back */
	cr_assert_not_null(c);
	cr_assert(c->may_resume, "a pair that had a backup may resume its paused jobs");
	cr_assert(c->sync);
	pt_answer(c, 0, "vm1: incremental resync: 1 paused mirror job(s) resumed after 2 try(s), "
			"1048576 bytes copied", NULL);
	pt_round(); /* the event may wait in the outbox behind the answer */
	cr_assert_geq(pt_events("pair", "incremental resync"), 1,
		     "the kind of resync is in the events");
}

/*
 * A live switchover's way back: the backup's QEMU took longer to listen than
 * the NBD node waits, and a write made meanwhile paused the job after the
 * resync had found it READY. Still syncing: resumed once, not degraded; a
 * resume that fails degrades.
 */
Test(resync, a_job_paused_while_still_syncing_is_resumed_once_before_it_degrades)
{
	pt_setup("node1");
	pt_engine_qmp = true;
	pt_pair_put("vm1", "node1", "node2", "initial-sync");
	pt_round();
	pt_answer(pt_pending("start_resync"), 0, "vm1: incremental resync: nothing to resume", NULL);
	usleep(1100 * 1000); /* the jobs are polled a second apart */
	pt_round();
	cr_assert_not_null(pt_pending("jobs"));
	pt_answer(pt_pending("jobs"), 0, "jobs", paused_job(100, 512 | 100));
	cr_assert_str_eq(pt_pair_state("vm1"), "initial-sync", "resumed, not degraded");
	cr_assert_not_null(pt_pending("resume"));
	pt_answer(pt_pending("resume"), -EHOSTUNREACH, "the mirror stays paused after 20 resume(s)",
		  NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "degraded");
}

Test(resync, the_default_engine_starts_and_cuts_as_before)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "initial-sync");
	pt_round();
	cr_assert_not_null(pt_pending("start"));
	cr_assert_null(pt_pending("start_resync"));
}

Test(resync, unpairing_releases_the_jobs_for_good)
{
	pt_setup("node1");
	pt_engine_qmp = true;
	pt_pair_put("vm1", "node1", "node2", "deleting");
	pt_round();
	cr_assert_not_null(pt_pending("release"), "the qmp engine's paused jobs must not linger");
	cr_assert_null(pt_pending("cut"));
}

static json_object *copying_job(uint64_t cur, uint64_t end)
{
	json_object *o = paused_job(cur, end), *d;

	d = json_object_array_get_idx(json_object_object_get(o, "disks"), 0);
	json_object_object_del(d, "paused");
	return o;
}

/* The pair's "copy" (state/'s record of the copy's kind), as the API shows it. */
static const char *copy_field(const char *vm, const char *key, char *buf, size_t size)
{
	struct hs_pair v = pt_pair(vm);
	json_object *copy = json_object_object_get(v.row, "copy"), *f;

	buf[0] = '\0';
	if (copy && json_object_object_get_ex(copy, key, &f))
		snprintf(buf, size, "%s", json_object_get_string(f));
	hs_pair_release(&v);
	return buf;
}

/* The degraded pair of the qmp engine comes back: its initial sync's start, asked. */
static struct pt_call *resync_started(void)
{
	pt_setup("node1");
	pt_engine_qmp = true;
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", paused_job(0, 1 << 20));
	return backup_back_and_prepared();
}

static json_object *copy_answer(const char *kind, const char *reason)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	return o;
}

/* Issue 13, honest fallback: the kind of copy, its reason, recorded with the pair. */
Test(resync, a_new_pair_records_a_full_copy_for_a_new_backup)
{
	char buf[160];

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "initial-sync");
	pt_round();
	pt_answer(pt_pending("start"), 0, "vm1: 1 disk(s) mirroring to 10.0.0.2:10809",
		  copy_answer("full", "libvirt block copy has no delta"));
	cr_assert_str_eq(copy_field("vm1", "kind", buf, sizeof(buf)), "",
			 "recorded with the first progress, not before");
	usleep(1100 * 1000); /* POLL_USEC */
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", copying_job(1 << 18, 1 << 20));
	cr_assert_str_eq(copy_field("vm1", "kind", buf, sizeof(buf)), "full");
	cr_assert_str_eq(copy_field("vm1", "reason", buf, sizeof(buf)), "new backup",
			 "a new pair's backup is new, whatever the engine");
	cr_assert_str_eq(copy_field("vm1", "bytes_done", buf, sizeof(buf)), "262144");
	cr_assert_str_eq(copy_field("vm1", "running", buf, sizeof(buf)), "true");
	cr_assert_eq(pt_events("pair", "full copy of vm1 to node2 (new backup)"), 1);
}

Test(resync, a_resumed_resync_records_a_delta_and_keeps_it_in_sync)
{
	struct pt_call *c = resync_started();
	char buf[160];

	cr_assert_not_null(c);
	pt_answer(c, 0, "vm1: incremental resync: 1 paused mirror job(s) resumed",
		  copy_answer("delta", "paused jobs resumed"));
	pt_round();
	cr_assert_eq(pt_events("pair", "delta copy of vm1 to node2 (paused jobs resumed)"), 1);
	usleep(1100 * 1000);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", copying_job(1 << 20, 1 << 20));
	cr_assert_str_eq(copy_field("vm1", "kind", buf, sizeof(buf)), "delta");
	cr_assert_str_eq(copy_field("vm1", "reason", buf, sizeof(buf)), "paused jobs resumed");
}

Test(resync, a_full_resync_says_why)
{
	struct pt_call *c = resync_started();
	char buf[160];

	cr_assert_not_null(c);
	pt_answer(c, 0, "vm1: 1 disk(s) mirroring (qmp engine, full copy); full resync: ...",
		  copy_answer("full", "the primary's QEMU restarted or never mirrored this pair: "
				      "no job to resume"));
	usleep(1100 * 1000);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", copying_job(0, 1 << 20));
	cr_assert_str_eq(copy_field("vm1", "kind", buf, sizeof(buf)), "full");
	cr_assert_not_null(strstr(copy_field("vm1", "reason", buf, sizeof(buf)),
				  "QEMU restarted"),
			   "%s", buf);
	cr_assert_geq(pt_events("pair", "full copy of vm1 to node2 (the primary's QEMU restarted"),
		      1);
}

/*
 * Issue 13, item 3: failback. The VM failed over to node1 (node2 fenced,
 * node1's backup promoted); node2 comes back and is the backup again. Its
 * disk may hold writes never acknowledged, so the copy is full, and its
 * reason says it is a failback's rather than the engine's "no job".
 */
Test(resync, a_failback_copy_is_full_and_says_why)
{
	struct pt_call *c;
	char buf[160];

	pt_setup("node1"); /* the coordinator, and the backup host */
	pt_engine_qmp = true;
	pt_pair_put("vm1", "node2", "node1", "in-sync");
	pt_node_set("node2", false, false);
	pt_round();
	pt_node_state("node2", "fenced");
	pt_round();
	pt_round();
	pt_answer(pt_pending("promote"), 0, "vm1 resumed", NULL);
	cr_assert_str_eq(pt_pair_state("vm1"), "unprotected");

	pt_node_state("node2", "online");
	pt_node_set("node2", true, true);
	c = backup_back_and_prepared();
	cr_assert_not_null(c);
	pt_answer(c, 0, "vm1: 1 disk(s) mirroring (qmp engine, full copy)",
		  copy_answer("full", "the primary's QEMU restarted or never mirrored this pair: "
				      "no job to resume"));
	pt_round();
	cr_assert_eq(pt_events("pair", "full copy of vm1 to node2 (failback: node2 ran the VM"), 1);
	usleep(1100 * 1000);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", copying_job(0, 1 << 20));
	cr_assert_str_eq(copy_field("vm1", "kind", buf, sizeof(buf)), "full");
	cr_assert_not_null(strstr(copy_field("vm1", "reason", buf, sizeof(buf)), "failback"), "%s",
			   buf);
}

/*
 * Issue 13, item 4, on the backup host: the prepare is given the identity the
 * cluster recorded and a new one to write; what it found is recorded with
 * backup-prepared (the new identity, and why the disks were not the ones left).
 */
Test(resync, the_prepare_records_the_backup_disks_identity)
{
	json_object *data = json_object_new_object();
	struct pt_call *c;
	struct hs_pair v;
	char token[80];

	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "creating");
	pt_round();
	c = pt_pending("backup_prepare");
	cr_assert_not_null(c);
	cr_assert_str_eq(c->id_expected, "", "nothing recorded for a new pair");
	cr_assert_eq(strlen(c->id_next), 32, "%s", c->id_next);
	cr_assert_eq(strspn(c->id_next, "0123456789abcdef"), 32, "%s", c->id_next);
	snprintf(token, sizeof(token), "%s", c->id_next);
	json_object_object_add(data, "port", json_object_new_int(10811));
	json_object_object_add(data, "disk_reason",
			       json_object_new_string("vm1.qcow2 carries no hasvc identity"));
	pt_answer(c, 0, "backup prepared", data);
	cr_assert_str_eq(pt_pair_state("vm1"), "initial-sync");
	v = pt_pair("vm1");
	cr_assert_str_eq(v.backup_disk_id, token);
	cr_assert_null(v.backup_disk_reason, "a new pair's disks are new: no reason to show");
	hs_pair_release(&v);

	/* lost and back: the prepare checks the identity recorded, and says what it found */
	{
		struct sdb_pair_change road[] = {
		    {.vm = "vm1", .state = "degraded", .pair_event = "mirror-failed"},
		    {.vm = "vm1", .state = "creating", .pair_event = "host-returned"},
		};

		for (size_t i = 0; i < ARRAY_SIZE(road); i++)
			pt_pair_change(&road[i]);
	}
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	pt_round();
	c = pt_pending("backup_prepare");
	cr_assert_not_null(c);
	cr_assert_str_eq(c->id_expected, token);
	cr_assert_str_neq(c->id_next, token, "each prepare writes a new identity");
	data = json_object_new_object();
	json_object_object_add(data, "port", json_object_new_int(10811));
	json_object_object_add(data, "disk_reason",
			       json_object_new_string("vm1.qcow2 carries no hasvc identity"));
	pt_answer(c, 0, "backup prepared", data);
	v = pt_pair("vm1");
	cr_assert_str_eq(v.backup_disk_reason, "vm1.qcow2 carries no hasvc identity");
	hs_pair_release(&v);
}

/*
 * ... and on the primary: its paused jobs are not resumed into disks that
 * are not the ones they wrote to; the copy is full and says why.
 */
Test(resync, paused_jobs_are_not_resumed_into_other_disks)
{
	struct pt_call *c;
	char buf[320];

	pt_setup("node1");
	pt_engine_qmp = true;
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", paused_job(0, 1 << 20));
	usleep(3100 * 1000); /* REPROTECT_DELAY_USEC */
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	backup_prepared_found("vm1", "/images/vm1.qcow2 carries no hasvc identity");
	cr_assert_str_eq(pt_pair_state("vm1"), "initial-sync");
	pt_calls_clear();
	pt_round();
	c = pt_pending("start_resync");
	cr_assert_not_null(c);
	cr_assert_not(c->may_resume, "never resumed into disks that are not the ones left");
	pt_answer(c, 0, "vm1: 1 disk(s) mirroring (qmp engine, full copy)",
		  copy_answer("full", "no resume asked"));
	usleep(1100 * 1000);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", copying_job(0, 1 << 20));
	cr_assert_str_eq(copy_field("vm1", "reason", buf, sizeof(buf)),
			 "the backup's disk is not the one in step: /images/vm1.qcow2 carries no "
			 "hasvc identity");
}

/*
 * A primary lost while its pair resyncs after an outage: not promoted, and
 * the reason says the backup is behind by what was written while it was
 * away, not that it "never finished its initial sync" (fault_resync_crash_primary).
 */
Test(resync, a_primary_lost_during_a_resync_is_not_promoted_and_says_why)
{
	struct sdb_pair_change road[] = {
	    {.vm = "vm1", .state = "degraded", .pair_event = "mirror-failed"},
	    {.vm = "vm1", .state = "creating", .pair_event = "host-returned"},
	    {.vm = "vm1", .state = "initial-sync", .pair_event = "backup-prepared"},
	};

	pt_setup("node1"); /* the coordinator */
	pt_pair_put("vm1", "node2", "node3", "in-sync");
	for (size_t i = 0; i < ARRAY_SIZE(road); i++)
		pt_pair_change(&road[i]);
	cr_assert_str_eq(pt_pair_state("vm1"), "initial-sync");
	pt_node_set("node2", false, false);
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "lost-unsynced");
	cr_assert_eq(pt_events("pair", "is NOT promoted, it was resyncing after an outage"), 1);
	cr_assert_eq(pt_events("pair", "never finished its initial sync"), 0);
	cr_assert_null(pt_pending("promote"));
}
