// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the online verify (issue 13, item 6: hs_pairs_verify) over the
 * fakes of pairs_test.h:
 *
 *   - it is refused, saying why, for a bad name, an unknown VM, on a host
 *     that is not the pair's primary, for a pair that is not in-sync, an
 *     async pair, without quorum, and while one runs;
 *   - otherwise the primary asks mirror/ to verify against the backup's
 *     export (its address and port, repair as asked), answers "accepted" at
 *     once, and leaves the pair's duties free meanwhile (the verify is no
 *     request of the task: the mirror's poll still goes out);
 *   - the answer becomes the pair's "verify" in the replicated state with an
 *     event naming the ranges; a failed verify is recorded as failed; after
 *     it another verify may run.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hs_pairs_internal.h"
#include "pairs_test.h"
#include "sdb.h"
#include "sdb_msg.h"

static void teardown(void)
{
	pt_teardown();
}

TestSuite(verify, .fini = teardown);

static struct pt_reply *verify(struct pt_reply *r, const char *vm, bool repair)
{
	memset(r, 0, sizeof(*r));
	hs_pairs_verify(pt.pairs, vm, repair, pt_reply_fn, r);
	pt_deliver();
	return r;
}

/* The pair's "verify" member KEY as text ("" when absent). */
static const char *verify_text(const char *vm, const char *key, char *buf, size_t size)
{
	json_object *o = NULL, *v;

	cr_assert_eq(sdb_pair_get(pt.core->db, vm, &o), 0);
	v = json_object_object_get(json_object_object_get(o, "verify"), key);
	snprintf(buf, size, "%s", v ? json_object_get_string(v) : "");
	json_object_put(o);
	return buf;
}

Test(verify, refused_saying_why)
{
	struct pt_reply r;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_pair_put("vm2", "node2", "node1", "in-sync");
	pt_pair_put("vm3", "node1", "node2", "initial-sync");
	pt_pair_put("vm4", "node1", "node2", "degraded");
	expect_answer(verify(&r, "bad/name", false), -EINVAL, "vm must be a domain name");
	expect_answer(verify(&r, "vm9", false), -ENOENT, "no pair for VM 'vm9'");
	expect_answer(verify(&r, "vm2", false), -EPERM, "the primary host of vm2 is node2");
	expect_answer(verify(&r, "vm3", false), -EPERM, "vm3 is initial-sync, not in-sync");
	expect_answer(verify(&r, "vm4", false), -EPERM, "vm4 is degraded, not in-sync");
	pt_pair_change(&(struct sdb_pair_change){.vm = "vm1", .mode = "async"});
	expect_answer(verify(&r, "vm1", false), -EPERM, "vm1 is an async pair");
	pt_pair_change(&(struct sdb_pair_change){.vm = "vm1", .mode = "sync"});
	pt_quorate_set(false);
	expect_answer(verify(&r, "vm1", false), -ENOLINK, "");
	pt_quorate_set(true);
	cr_assert_null(pt_pending("verify"), "a refused verify reached mirror/");
}

Test(verify, runs_on_the_primary_and_records_its_outcome)
{
	struct pt_reply r;
	struct pt_call *c;
	json_object *found = json_object_new_object();
	char buf[256];

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	expect_answer(verify(&r, "vm1", true), HS_PAIRS_ACCEPTED, "verify of vm1 started on node1");
	c = pt_pending("verify");
	cr_assert_not_null(c);
	cr_assert_eq(c->port, 10809, "the backup's export");
	cr_assert(c->repair);
	expect_answer(verify(&r, "vm1", false), -EALREADY, "a verify of vm1 runs already on node1");
	memset(&r, 0, sizeof(r));
	hs_pairs_switchover(pt.pairs, "vm1", HS_SWITCHOVER_COLD, pt_reply_fn, &r);
	expect_answer(&r, -EBUSY, "a verify of vm1 runs on this host");
	cr_assert_eq(pt_events("pair", "verify of vm1 started on node1"), 1);

	/* the pair's duties go on beside it: the in-sync poll of the jobs is asked */
	pt_round();
	cr_assert_not_null(pt_pending("jobs"), "the verify held the pair's duties");

	json_object_object_add(found, "bytes_compared", json_object_new_int64(1 << 20));
	json_object_object_add(found, "out_of_sync_bytes", json_object_new_int64(4096));
	json_object_object_add(found, "ranges_count", json_object_new_int64(1));
	json_object_object_add(found, "ranges", json_object_new_string("vda:0+4096"));
	json_object_object_add(found, "repaired_bytes", json_object_new_int64(4096));
	pt_answer(c, 0, "vm1: 1048576 bytes compared: 4096 bytes out of sync in 1 range(s): vda:0+4096",
		  found);
	cr_assert_str_eq(verify_text("vm1", "result", buf, sizeof(buf)), "repaired");
	cr_assert_str_eq(verify_text("vm1", "ranges", buf, sizeof(buf)), "vda:0+4096");
	cr_assert_str_eq(verify_text("vm1", "node", buf, sizeof(buf)), "node1");
	cr_assert_str_eq(verify_text("vm1", "repair", buf, sizeof(buf)), "true");
	cr_assert_eq(pt_events("pair", "4096 bytes out of sync in 1 range(s) (vda:0+4096), 4096 "
				       "repaired with the guest paused"),
		     1, "the event names the ranges and the repair");
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync", "a verify is no transition");

	/* ranges beyond what mirror/'s message holds: the event has every one */
	expect_answer(verify(&r, "vm1", false), HS_PAIRS_ACCEPTED, "started");
	c = pt_pending("verify");
	found = json_object_new_object();
	{
		char many[2048] = "";

		for (int i = 0; i < 32; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many), "%svda:%d+1048576",
				 i ? ", " : "", (2 * i) << 20);
		json_object_object_add(found, "out_of_sync_bytes", json_object_new_int64(32 << 20));
		json_object_object_add(found, "ranges_count", json_object_new_int64(32));
		json_object_object_add(found, "ranges", json_object_new_string(many));
		pt_answer(c, 0, "vm1: ... (cut short)", found);
		cr_assert_eq(pt_events("pair", many), 1, "an event lists all 32 ranges");
		cr_assert_str_eq(verify_text("vm1", "result", buf, sizeof(buf)), "out-of-sync");
	}

	/* over: another may run; a failed one is recorded as failed */
	expect_answer(verify(&r, "vm1", false), HS_PAIRS_ACCEPTED, "started");
	c = pt_pending("verify");
	cr_assert_not_null(c);
	cr_assert_not(c->repair);
	pt_answer(c, -EBUSY, "vm1's QEMU serves NBD already", NULL);
	cr_assert_str_eq(verify_text("vm1", "result", buf, sizeof(buf)), "failed");
	cr_assert_eq(pt_events("pair", "verify of vm1 failed: vm1's QEMU serves NBD already"), 1);
}
