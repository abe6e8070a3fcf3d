// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the admin operations of hasvc/pairs (create, delete, switchover,
 * maintenance) over the fakes of pairs_test.h: every refusal an operator can
 * meet answers its -errno and says why; an accepted one proposes its first
 * transition. And maintenance's "cannot leave" is said once per pair, even
 * for a VM name of the longest length.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "hs_name.h"
#include "pairs_test.h"

static void teardown(void)
{
	pt_teardown();
}

TestSuite(ops, .fini = teardown);

/* The answer lands in R, now or when libvirt answers. */
static struct pt_reply *create(struct pt_reply *r, const char *vm, const char *backup,
			       const char *mode, int64_t bw)
{
	struct hs_pair_request req = {.vm = vm, .backup = backup, .mode = mode, .bandwidth_mib = bw};

	memset(r, 0, sizeof(*r));
	hs_pairs_create(pt.pairs, &req, pt_reply_fn, r);
	return r;
}

#define expect_refused(reply, err, text)                                                           \
	do {                                                                                       \
		struct pt_reply _r = *(reply);                                                      \
		cr_assert(_r.got, "no answer");                                                    \
		cr_assert_eq(_r.result, err, "result %d (%s)", _r.result, _r.message);             \
		cr_assert_not_null(strstr(_r.message, text), "message: %s", _r.message);           \
	} while (0)

Test(ops, create_refusals_say_why)
{
	struct pt_reply r;

	pt_setup("node1");
	expect_refused(create(&r, "vm/1", "node2", NULL, 0), -EINVAL, "vm must be a domain name");
	expect_refused(create(&r, "vm1", "node2", "fast", 0), -EINVAL, "mode must be sync or async");
	expect_refused(create(&r, "vm1", "node2", NULL, -1), -EINVAL, "bandwidth_mib");
	expect_refused(create(&r, "vm1", "node2", NULL, 1000001), -EINVAL, "bandwidth_mib");
	expect_refused(create(&r, "vm1", "node9", NULL, 0), -ENOENT, "no node 'node9'");
	expect_refused(create(&r, "vm1", "node1", NULL, 0), -EPERM, "another host than the primary");
	pt_node_set("node3", false, false);
	expect_refused(create(&r, "vm1", "node3", NULL, 0), -EPERM, "not in the cluster now");
	pt_node_admin("node2", "maintenance");
	expect_refused(create(&r, "vm1", "node2", NULL, 0), -EPERM, "in maintenance");
	pt_quorate_set(false);
	expect_refused(create(&r, "vm1", "node2", NULL, 0), -ENOLINK, "no quorum");
	cr_assert_eq(pt_calls(), 0, "libvirt was not asked");
}

Test(ops, create_of_a_paired_vm_is_refused)
{
	struct pt_reply r;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	expect_refused(create(&r, "vm1", "node3", NULL, 0), -EEXIST, "already paired (primary node1");
}

Test(ops, create_asks_libvirt_then_proposes_the_pair)
{
	struct pt_reply r;
	json_object *data = json_object_new_object(), *disks = json_object_new_array();
	json_object *d = json_object_new_object();
	struct hs_pair v;

	pt_setup("node1");
	create(&r, "vm1", "node2", "async", 0);
	cr_assert(!r.got, "the answer waits for libvirt");
	json_object_object_add(d, "target", json_object_new_string("vda"));
	json_object_object_add(d, "bytes", json_object_new_int64(1 << 20));
	json_object_array_add(disks, d);
	json_object_object_add(data, "disks", disks);
	json_object_object_add(data, "xml", json_object_new_string("<domain/>"));
	pt_answer(pt_pending("inspect"), 0, "vm1 is mirrorable", data);
	cr_assert(r.got);
	cr_assert_eq(r.result, HS_PAIRS_ACCEPTED, "%s", r.message);
	cr_assert_str_eq(r.state, "creating");
	/* pt_answer delivered: the pair is in the state */
	cr_assert_str_eq(pt_pair_state("vm1"), "creating");
	v = pt_pair("vm1");
	cr_assert_eq(v.mode, HS_MODE_ASYNC);
	cr_assert_str_eq(v.backup, "node2");
	hs_pair_release(&v);
	cr_assert_eq(pt_events("pair", "pairing vm1: primary node1, backup node2, async mode"), 1);
}

Test(ops, create_of_a_vm_not_here_is_not_found)
{
	struct pt_reply r;

	pt_setup("node1");
	create(&r, "vm1", "node2", NULL, 0);
	pt_answer(pt_pending("inspect"), -ENOENT, "no domain vm1", NULL);
	expect_refused(&r, -ENOENT, "run pair create on the host where the VM runs");
	cr_assert_str_eq(pt_pair_state("vm1"), "gone");
}

Test(ops, delete_and_switchover_of_an_unknown_pair)
{
	struct pt_reply r = {0};

	pt_setup("node1");
	hs_pairs_delete(pt.pairs, "vm1", pt_reply_fn, &r);
	expect_refused(&r, -ENOENT, "no pair for VM 'vm1'");
	memset(&r, 0, sizeof(r));
	hs_pairs_switchover(pt.pairs, "vm1", HS_SWITCHOVER_COLD, pt_reply_fn, &r);
	expect_refused(&r, -ENOENT, "no pair for VM 'vm1'");
}

Test(ops, delete_waits_for_a_failover_to_end)
{
	struct pt_reply r = {0};

	pt_setup("node1");
	pt_pair_put("vm1", "node2", "node1", "fencing");
	hs_pairs_delete(pt.pairs, "vm1", pt_reply_fn, &r);
	expect_refused(&r, -EBUSY, "vm1 is fencing; unpair it when that is over");
}

Test(ops, delete_is_accepted)
{
	struct pt_reply r = {0};

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	hs_pairs_delete(pt.pairs, "vm1", pt_reply_fn, &r);
	cr_assert_eq(r.result, HS_PAIRS_ACCEPTED, "%s", r.message);
	cr_assert_str_eq(r.state, "deleting");
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "deleting");
}

Test(ops, switchover_needs_an_in_sync_pair_and_both_hosts)
{
	struct pt_reply r = {0};

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "degraded");
	hs_pairs_switchover(pt.pairs, "vm1", HS_SWITCHOVER_COLD, pt_reply_fn, &r);
	expect_refused(&r, -EPERM, "a switchover needs an in-sync backup");
	pt_pair_put("vm2", "node1", "node2", "creating");
	memset(&r, 0, sizeof(r));
	hs_pairs_switchover(pt.pairs, "vm2", HS_SWITCHOVER_COLD, pt_reply_fn, &r);
	expect_refused(&r, -EBUSY, "vm2 is creating; try again later");
	pt_pair_put("vm3", "node1", "node2", "in-sync");
	pt_node_set("node2", false, true);
	memset(&r, 0, sizeof(r));
	hs_pairs_switchover(pt.pairs, "vm3", HS_SWITCHOVER_COLD, pt_reply_fn, &r);
	expect_refused(&r, -EPERM, "both hosts must be in the cluster");
	pt_node_set("node2", true, true);
	pt_node_admin("node2", "maintenance");
	memset(&r, 0, sizeof(r));
	hs_pairs_switchover(pt.pairs, "vm3", HS_SWITCHOVER_COLD, pt_reply_fn, &r);
	expect_refused(&r, -EPERM, "vm3's backup host node2 is in maintenance and runs no VMs");
}

Test(ops, switchover_is_accepted_and_marks_the_operation)
{
	struct pt_reply r = {0};
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	hs_pairs_switchover(pt.pairs, "vm1", HS_SWITCHOVER_COLD, pt_reply_fn, &r);
	cr_assert_eq(r.result, HS_PAIRS_ACCEPTED, "%s", r.message);
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "switching-over");
	v = pt_pair("vm1");
	cr_assert(v.switchover);
	hs_pair_release(&v);
}

Test(ops, a_live_switchover_is_its_own_operation_and_road)
{
	struct pt_reply r = {0};
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_engine_qmp = false;
	hs_pairs_switchover(pt.pairs, "vm1", HS_SWITCHOVER_LIVE, pt_reply_fn, &r);
	expect_refused(&r, -EPERM, "a live switchover needs the qmp engine");
	cr_assert_str_eq(pt_pair_state("vm1"), "in-sync", "nothing moved");
	memset(&r, 0, sizeof(r));
	pt_engine_qmp = true;
	hs_pairs_switchover(pt.pairs, "vm1", HS_SWITCHOVER_LIVE, pt_reply_fn, &r);
	pt_engine_qmp = false;
	cr_assert_eq(r.result, HS_PAIRS_ACCEPTED, "%s", r.message);
	cr_assert_str_eq(r.state, "handing-over");
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "handing-over");
	v = pt_pair("vm1");
	cr_assert(v.live);
	cr_assert_not(v.switchover, "not the cold road: its failures are not a stop's");
	hs_pair_release(&v);
	memset(&r, 0, sizeof(r));
	hs_pairs_switchover(pt.pairs, "vm1", HS_SWITCHOVER_COLD, pt_reply_fn, &r);
	expect_refused(&r, -EBUSY, "vm1 is handing-over, running live-switchover; try again later");
}

Test(ops, a_live_switchover_with_parallel_sync_writes_takes_the_live_road)
{
	struct pt_reply r = {0};
	struct hs_pair v;

	pt_setup("node1");
	pt_pair_put("vm1", "node1", "node2", "in-sync");
	pt_engine_qmp = pt_sync_parallel = true;
	hs_pairs_switchover(pt.pairs, "vm1", HS_SWITCHOVER_LIVE, pt_reply_fn, &r);
	pt_engine_qmp = pt_sync_parallel = false;
	cr_assert_eq(r.result, HS_PAIRS_ACCEPTED, "%s", r.message);
	cr_assert_str_eq(r.state, "handing-over");
	pt_deliver();
	cr_assert_str_eq(pt_pair_state("vm1"), "handing-over");
	v = pt_pair("vm1");
	cr_assert(v.live, "the quorums go with the migration: mirror_qmp_sync.c");
	hs_pair_release(&v);
}

Test(ops, maintenance_refusals)
{
	struct pt_reply r = {0};

	pt_setup("node1");
	hs_pairs_maintenance(pt.pairs, "node9", true, pt_reply_fn, &r);
	expect_refused(&r, -ENOENT, "no node 'node9'");
	memset(&r, 0, sizeof(r));
	hs_pairs_maintenance(pt.pairs, "node2", false, pt_reply_fn, &r);
	expect_refused(&r, -EPERM, "node2 is not in maintenance");
	pt_node_state("node3", "fenced");
	memset(&r, 0, sizeof(r));
	hs_pairs_maintenance(pt.pairs, "node3", true, pt_reply_fn, &r);
	expect_refused(&r, -EPERM, "node3 is fenced; maintenance is for a running host");
}

Test(ops, maintenance_moves_in_sync_primaries_away)
{
	struct pt_reply r = {0};

	pt_setup("node1"); /* the coordinator */
	pt_pair_put("vm1", "node2", "node3", "in-sync");
	hs_pairs_maintenance(pt.pairs, "node2", true, pt_reply_fn, &r);
	cr_assert_eq(r.result, HS_PAIRS_DONE, "%s", r.message);
	cr_assert_str_eq(r.state, "maintenance");
	pt_deliver();
	pt_round();
	cr_assert_str_eq(pt_pair_state("vm1"), "switching-over");
	memset(&r, 0, sizeof(r));
	hs_pairs_maintenance(pt.pairs, "node2", false, pt_reply_fn, &r);
	cr_assert_eq(r.result, HS_PAIRS_DONE, "%s", r.message);
	cr_assert_str_eq(r.state, "online");
}

/*
 * A VM name of the longest length (64): "cannot leave" once, not at every
 * round (a 64-byte buffer once cut the name, so it never matched itself).
 */
Test(ops, cannot_leave_is_said_once_even_for_the_longest_name)
{
	char vm[HS_NAME_MAX + 1];
	struct pt_reply r = {0};

	memset(vm, 'v', HS_NAME_MAX);
	vm[HS_NAME_MAX] = '\0';
	cr_assert(hs_name_valid(vm));
	pt_setup("node1");
	pt_pair_put(vm, "node2", "node3", "error");
	pt_pair_put("vm2", "node2", "node3", "error");
	hs_pairs_maintenance(pt.pairs, "node2", true, pt_reply_fn, &r);
	cr_assert_eq(r.result, HS_PAIRS_DONE, "%s", r.message);
	pt_deliver();
	for (int i = 0; i < 4; i++)
		pt_round();
	cr_assert_eq(pt_events("maintenance", "cannot leave node2 yet"), 2, "once per pair");
}
