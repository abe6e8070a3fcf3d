// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of a pair's copy bandwidth changed while it runs (issue 13, `hasvc
 * pair set VM --bandwidth`) and of what the lag means in sync mode, over the
 * fakes of pairs_test.h:
 *
 *   - pair set refuses what it cannot take and says why (a bad name, a value
 *     out of range, an unknown VM, no quorum), answers "done" for the value
 *     the pair has, and otherwise records the new value in the replicated
 *     pair, with its event, without a transition;
 *   - the primary host brings its running jobs to the pair's bandwidth at its
 *     next look at them (the initial sync goes on, it is not started again),
 *     once, and a copy started later (a resync) is started with it;
 *   - a READY sync-mode mirror reports no lag for the writes in flight (none
 *     is acknowledged to the guest before the backup has it); an async one
 *     reports what the backup lacks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hs_pairs_internal.h"
#include "pairs_test.h"
#include "sdb.h"
#include "sdb_msg.h"

static void teardown(void)
{
	pt_teardown();
	pt_engine_qmp = false;
}

TestSuite(bandwidth, .fini = teardown);

/* One disk's job (vda), SPEED its rate limit in bytes/s. */
static json_object *job(bool ready, uint64_t cur, uint64_t end, uint64_t speed)
{
	json_object *o = json_object_new_object(), *disks = json_object_new_array();
	json_object *d = json_object_new_object();

	json_object_object_add(d, "target", json_object_new_string("vda"));
	json_object_object_add(d, "job", json_object_new_boolean(true));
	json_object_object_add(d, "ready", json_object_new_boolean(ready));
	json_object_object_add(d, "cur", json_object_new_int64((int64_t)cur));
	json_object_object_add(d, "end", json_object_new_int64((int64_t)end));
	json_object_object_add(d, "speed", json_object_new_int64((int64_t)speed));
	json_object_array_add(disks, d);
	json_object_object_add(o, "active", json_object_new_boolean(true));
	json_object_object_add(o, "disks", disks);
	return o;
}

static struct pt_reply *set(struct pt_reply *r, const char *vm, int64_t mib)
{
	memset(r, 0, sizeof(*r));
	hs_pairs_set(pt.pairs, &(struct hs_pair_settings){.vm = vm, .bandwidth_mib = mib},
		     pt_reply_fn, r);
	pt_deliver();
	return r;
}

static int64_t pair_number(const char *vm, const char *key)
{
	json_object *o = NULL;
	int64_t n;

	cr_assert_eq(sdb_pair_get(pt.core->db, vm, &o), 0);
	n = json_object_get_int64(json_object_object_get(o, key));
	json_object_put(o);
	return n;
}

/* The state's pair progress of VM's one disk, as a primary would report it. */
static void progress(const char *vm, uint64_t done, uint64_t total, bool ready)
{
	struct sdb_disk_spec d = {
	    .target = "vda", .bytes_done = done, .bytes_total = total, .ready = ready};
	char *buf = NULL;
	size_t len;
	int built = sdb_msg_pair_progress(vm, done, total, &d, 1, &buf, &len);

	pt_propose(built, buf, len);
}

Test(bandwidth, set_refusals_say_why)
{
	struct pt_reply r;

	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	expect_answer(set(&r, "vm/1", 5), -EINVAL, "vm must be a domain name");
	expect_answer(set(&r, "vm1", -1), -EINVAL, "from 0 (unlimited) to 1000000, not -1");
	expect_answer(set(&r, "vm1", 1000001), -EINVAL, "not 1000001");
	expect_answer(set(&r, "vm9", 5), -ENOENT, "no pair for VM 'vm9'");
	expect_answer(set(&r, "vm1", 0), HS_PAIRS_DONE, "unlimited already");
	pt_quorate_set(false);
	expect_answer(set(&r, "vm1", 5), -ENOLINK, "no quorum");
	cr_assert_eq(pair_number("vm1", "bandwidth_mib"), 0, "nothing was changed");
	cr_assert_eq(pt_calls(), 0, "libvirt was not asked");
}

/* Any host may set it (here the backup host); no transition, one event. */
Test(bandwidth, set_records_the_value_without_a_transition)
{
	struct pt_reply r;
	int64_t gen;

	pt_setup("node2");
	pt_pair_put("vm1", "node1", "node2", "initial-sync");
	gen = pair_number("vm1", "generation");
	expect_answer(set(&r, "vm1", 1), HS_PAIRS_ACCEPTED, "node1 applies it");
	cr_assert_eq(pair_number("vm1", "bandwidth_mib"), 1);
	cr_assert_eq(pair_number("vm1", "generation"), gen, "the initial sync is not restarted");
	cr_assert_str_eq(pt_pair_state("vm1"), "initial-sync");
	cr_assert_eq(
	    pt_events("pair", "bandwidth of vm1 set to 1 MiB/s per disk (was unlimited)"), 1);
	expect_answer(set(&r, "vm1", 0), HS_PAIRS_ACCEPTED, "set to unlimited");
	cr_assert_eq(pair_number("vm1", "bandwidth_mib"), 0);
	cr_assert_eq(pt_events("pair", "set to unlimited (was 1 MiB/s per disk)"), 1);
}

Test(bandwidth, the_primary_applies_it_to_the_running_copy_once)
{
	struct pt_reply r;
	struct pt_call *c;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "initial-sync");
	expect_answer(set(&r, "vm1", 1), HS_PAIRS_ACCEPTED, "");
	pt_round();
	c = pt_pending("start");
	cr_assert_not_null(c);
	cr_assert_eq(c->bandwidth_mib, 1, "a copy starts with the pair's bandwidth");
	pt_answer(c, 0, "mirror started", NULL);

	/* let go while the initial sync runs: the jobs are set, the copy goes on */
	expect_answer(set(&r, "vm1", 0), HS_PAIRS_ACCEPTED, "");
	usleep(1100 * 1000); /* POLL_USEC */
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(false, 10 << 20, 256 << 20, 1 << 20));
	c = pt_pending("set_speed");
	cr_assert_not_null(c, "a job slower than the pair's bandwidth is set");
	cr_assert_eq(c->bandwidth_mib, 0);
	cr_assert_null(pt_pending("start"), "the copy is not started again");
	pt_answer(c, 0, "vm1: copy speed unlimited (1 disk(s))", NULL);
	cr_assert_eq(pt_events("pair", "vm1: copy speed unlimited"), 1);
	cr_assert_str_eq(pt_pair_state("vm1"), "initial-sync");

	/* the jobs run at it now: nothing more to set */
	usleep(1100 * 1000);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(false, 200 << 20, 256 << 20, 0));
	cr_assert_null(pt_pending("set_speed"));
	/* a job that says otherwise after it was set is not set at every poll */
	usleep(1100 * 1000);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(false, 210 << 20, 256 << 20, 4096));
	cr_assert_null(pt_pending("set_speed"));

	/* READY: in sync, the steady mirror keeps it too */
	usleep(1100 * 1000);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(true, 256 << 20, 256 << 20, 0));
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync");
	expect_answer(set(&r, "vm1", 3), HS_PAIRS_ACCEPTED, "");
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(true, 256 << 20, 256 << 20, 0));
	c = pt_pending("set_speed");
	cr_assert_not_null(c, "the steady mirror's jobs are set too");
	cr_assert_eq(c->bandwidth_mib, 3);
}

Test(bandwidth, a_failure_to_apply_is_said_once_and_tried_again)
{
	struct pt_reply r;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	expect_answer(set(&r, "vm1", 2), HS_PAIRS_ACCEPTED, "");
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(true, 1 << 20, 1 << 20, 0));
	pt_answer(pt_pending("set_speed"), -EIO, "cannot set the copy speed of disk vda", NULL);
	cr_assert_eq(pt_events("pair", "not applied yet: cannot set the copy speed"), 1);
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync", "a speed not set is no mirror failure");
	usleep(1100 * 1000);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(true, 1 << 20, 1 << 20, 0));
	cr_assert_null(pt_pending("set_speed"), "not again before RETRY_USEC");
}

/*
 * Issue 13: a sync-mode pair showed in-sync with lag_bytes 4096, a write in
 * flight when the jobs were read. A READY write-blocking job has no lag: the
 * guest's write completes once the backup has it.
 */
Test(bandwidth, a_ready_sync_mirror_has_no_lag)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	progress("vm1", (1 << 20) - 4096, 1 << 20, true); /* what an older build reported */
	cr_assert_eq(pair_number("vm1", "lag_bytes"), 4096);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(true, (2 << 20) - 4096, 2 << 20, 0));
	cr_assert_eq(pair_number("vm1", "lag_bytes"), 0, "a write in flight is no lag");
	cr_assert_eq(pair_number("vm1", "bytes_total"), 2 << 20);
}

Test(bandwidth, an_async_mirror_reports_what_the_backup_lacks)
{
	struct sdb_pair_change async = {.vm = "vm1", .mode = "async"};

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_pair_change(&async);
	progress("vm1", 1 << 20, 1 << 20, true);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(true, (2 << 20) - 4096, 2 << 20, 0));
	cr_assert_eq(pair_number("vm1", "lag_bytes"), 4096);
}

/* Before READY a sync mirror's rest is real: what the initial sync still has to copy. */
Test(bandwidth, a_sync_mirror_catching_up_reports_its_rest)
{
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "initial-sync");
	pt_round();
	pt_answer(pt_pending("start"), 0, "mirror started", NULL);
	usleep(1100 * 1000);
	pt_round();
	pt_answer(pt_pending("jobs"), 0, "jobs", job(false, 1 << 20, 4 << 20, 0));
	cr_assert_eq(pair_number("vm1", "lag_bytes"), 3 << 20);
}

/*
 * A pair keeps its bandwidth through what follows: a resync after an outage
 * (qmp engine: a later generation's initial sync resumes or copies again)
 * starts with it, as the first copy did.
 */
Test(bandwidth, a_resync_starts_with_the_pairs_bandwidth)
{
	struct sdb_pair_change again = {.vm = "vm1", .reason = "a later generation"};
	struct pt_reply r;
	struct pt_call *c;

	pt_engine_qmp = true;
	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "initial-sync");
	expect_answer(set(&r, "vm1", 7), HS_PAIRS_ACCEPTED, "");
	for (int i = 0; i < 2; i++) /* generation 3: the pair had a backup before */
		pt_pair_change(&again);
	pt_round();
	c = pt_pending("start_resync");
	cr_assert_not_null(c);
	cr_assert(c->may_resume, "a later generation may resume");
	cr_assert_eq(c->bandwidth_mib, 7, "the resync starts with the pair's bandwidth");
}
