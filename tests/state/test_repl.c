// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of sdb_repl over the fake CPG (fake_cpg.h): a new cluster syncs
 * without a snapshot; a joiner with empty state and a node restarted with a
 * stale state get the cluster's state; a whole-cluster restart converges on
 * the newest state; the donor may crash half way through its snapshot;
 * changes sent around configuration changes are applied alike or dropped
 * alike; a node that fails to apply a change locally is brought back; and,
 * above all, random interleavings of all of it always end with every member
 * synced and holding the same digest.
 *
 * tests/CMakeLists.txt builds tests/state/test_*.c into the test binary; the
 * fake lives in its own file and is compiled here, as part of this one.
 */
#include "fake_cpg.c"

#include "sdb_internal.h"
#include "sdb_repl_internal.h"

TestSuite(repl);

static struct fake_cpg *cpg;

static void cluster_new(size_t n, size_t chunk)
{
	cr_assert_eq(fake_cpg_new(n, chunk, &cpg), 0);
}

/* N nodes, the first STARTED of them started and settled. */
static void cluster_up(size_t n, size_t started, size_t chunk)
{
	cluster_new(n, chunk);
	for (uint32_t id = 1; id <= started; id++)
		fake_cpg_start(cpg, id, false);
	fake_cpg_run(cpg);
}

static void cluster_free(void)
{
	fake_cpg_free(cpg);
	cpg = NULL;
}

static const char *phase_of(uint32_t nodeid)
{
	static char phase[32];
	json_object *st = NULL;

	cr_assert_eq(sdb_repl_status(fake_cpg_node(cpg, nodeid)->repl, &st), 0);
	snprintf(phase, sizeof(phase), "%s",
		 json_object_get_string(json_object_object_get(st, "phase")));
	json_object_put(st);
	return phase;
}

static void digest_of(uint32_t nodeid, char ret[65])
{
	struct fake_node *node = fake_cpg_node(cpg, nodeid);

	cr_assert_eq(sdb_digest(node->db, ret), 0, "%s", sdb_errmsg(node->db));
}

static uint64_t version_of(uint32_t nodeid)
{
	uint64_t v;

	cr_assert_eq(sdb_version(fake_cpg_node(cpg, nodeid)->db, &v), 0);
	return v;
}

/* Every running node is synced and all hold the same state, returned in DIGEST. */
static void assert_converged(char digest[65], const char *context)
{
	char d[65];
	bool first = true;

	for (uint32_t id = 1; id <= cpg->n_nodes; id++) {
		if (!fake_cpg_running(cpg, id))
			continue;
		cr_assert(sdb_repl_is_synced(fake_cpg_node(cpg, id)->repl),
			  "%s: node%u is %s, not synced", context, id, phase_of(id));
		digest_of(id, first ? digest : d);
		if (!first)
			cr_assert_str_eq(digest, d, "%s: node%u differs", context, id);
		first = false;
	}
}

#define PROPOSE(node, builder, ...)                                                                \
	({                                                                                         \
		char *p_buf_ = NULL;                                                               \
		size_t p_len_ = 0;                                                                 \
		int p_r_ = builder(__VA_ARGS__, &p_buf_, &p_len_);                                 \
		fake_cpg_propose(cpg, node, p_r_, p_buf_, p_len_);                                 \
	})

/* Proposes the cluster's usual content from NODE and lets it settle. */
static void seed_state(uint32_t node, int events)
{
	struct sdb_node_info n[3] = {{.name = "node1", .nodeid = 1},
				     {.name = "node2", .nodeid = 2},
				     {.name = "node3", .nodeid = 3}};
	struct sdb_pair_spec p = {.vm = "vm1", .primary = "node1", .backup = "node2"};

	for (int i = 0; i < 3; i++)
		cr_assert_eq(PROPOSE(node, sdb_msg_node_upsert, &n[i]), 0);
	cr_assert_eq(PROPOSE(node, sdb_msg_pair_create, &p), 0);
	for (int i = 0; i < events; i++)
		cr_assert_eq(PROPOSE(node, sdb_msg_event, "node1", "vm1", "test",
				     "an event of the seeded state: ünïcödé ✓✓✓ ∑ 日本", NULL),
			     0);
	fake_cpg_run(cpg);
}

Test(repl, new_cluster_syncs_without_snapshot, .fini = cluster_free)
{
	char digest[65];

	cluster_new(3, 0);
	for (uint32_t id = 1; id <= 3; id++)
		fake_cpg_start(cpg, id, false);
	fake_cpg_run(cpg);
	assert_converged(digest, "new cluster");
	for (uint32_t id = 1; id <= 3; id++) {
		json_object *st = NULL;

		cr_assert_eq(sdb_repl_status(fake_cpg_node(cpg, id)->repl, &st), 0);
		cr_assert_eq(json_object_get_int(json_object_object_get(st, "snapshots_received")),
			     0);
		json_object_put(st);
		cr_assert_geq(fake_cpg_node(cpg, id)->synced, 1);
	}

	/* a change proposed anywhere is applied everywhere */
	seed_state(2, 3);
	assert_converged(digest, "after changes");
	cr_assert_eq(version_of(1), 7);
	cr_assert_eq(fake_cpg_node(cpg, 3)->applied, 7);
}

Test(repl, joiner_with_empty_state_gets_the_state, .fini = cluster_free)
{
	char before[65], after[65];
	json_object *pair = NULL;

	cluster_new(3, 512); /* small parts: a snapshot of several messages */
	fake_cpg_start(cpg, 1, false);
	fake_cpg_start(cpg, 2, false);
	fake_cpg_run(cpg);
	seed_state(1, 40);
	assert_converged(before, "two nodes");

	fake_cpg_start(cpg, 3, false);
	fake_cpg_run(cpg);
	assert_converged(after, "after the join");
	cr_assert_str_eq(before, after, "the join changed the cluster's state");
	cr_assert_eq(sdb_pair_get(fake_cpg_node(cpg, 3)->db, "vm1", &pair), 0);
	json_object_put(pair);
	cr_assert_eq(fake_cpg_node(cpg, 3)->synced, 1);
	cr_assert_eq(fake_cpg_node(cpg, 3)->errors, 0);
}

Test(repl, restarted_node_with_stale_state_catches_up, .fini = cluster_free)
{
	char digest[65], stale[65];

	cluster_new(3, 0);
	for (uint32_t id = 1; id <= 3; id++)
		fake_cpg_start(cpg, id, false);
	fake_cpg_run(cpg);
	seed_state(3, 2);

	/* node1, the lowest nodeid and so the leader, is away while things change */
	fake_cpg_stop(cpg, 1, false);
	fake_cpg_run(cpg);
	struct sdb_pair_change c = {
	    .vm = "vm1", .state = "initial-sync", .pair_event = "backup-prepared"};
	cr_assert_eq(PROPOSE(2, sdb_msg_pair_update, &c), 0);
	cr_assert_eq(PROPOSE(3, sdb_msg_event, NULL, NULL, "k", "while node1 was away", NULL), 0);
	fake_cpg_run(cpg);
	assert_converged(digest, "without node1");

	fake_cpg_start(cpg, 1, false);
	digest_of(1, stale);
	cr_assert_str_neq(stale, digest);
	fake_cpg_run(cpg);
	assert_converged(stale, "node1 back");
	cr_assert_str_eq(stale, digest, "the stale node's state won");
	cr_assert_eq(version_of(1), version_of(2));
}

Test(repl, newer_joiner_does_not_overwrite_a_running_cluster, .fini = cluster_free)
{
	char running[65], after[65];

	/* node3 applied more than node1 and node2 ever did, then they restart without it */
	cluster_new(3, 0);
	for (uint32_t id = 1; id <= 3; id++)
		fake_cpg_start(cpg, id, false);
	fake_cpg_run(cpg);
	seed_state(1, 1);
	fake_cpg_stop(cpg, 1, false);
	fake_cpg_stop(cpg, 2, false);
	fake_cpg_run(cpg);
	seed_state(3, 5); /* refused upserts/create, 5 events: node3 is ahead */
	fake_cpg_stop(cpg, 3, false);
	fake_cpg_run(cpg);
	fake_cpg_start(cpg, 1, false);
	fake_cpg_start(cpg, 2, false);
	fake_cpg_run(cpg);
	cr_assert_eq(PROPOSE(1, sdb_msg_event, NULL, NULL, "k", "acted upon", NULL), 0);
	fake_cpg_run(cpg);
	assert_converged(running, "node1+node2");

	fake_cpg_start(cpg, 3, false);
	fake_cpg_run(cpg);
	assert_converged(after, "node3 back");
	cr_assert_str_eq(running, after, "a returning node replaced the running cluster's state");
}

Test(repl, whole_cluster_restart_takes_the_newest_state, .fini = cluster_free)
{
	char newest[65], digest[65];

	for (uint32_t newest_node = 1; newest_node <= 3; newest_node++) {
		cluster_new(3, 300);
		for (uint32_t id = 1; id <= 3; id++)
			fake_cpg_start(cpg, id, false);
		fake_cpg_run(cpg);
		seed_state(1, 1);
		/* stop all but NEWEST_NODE one by one, changing things in between */
		for (uint32_t id = 1; id <= 3; id++) {
			if (id == newest_node)
				continue;
			fake_cpg_stop(cpg, id, false);
			fake_cpg_run(cpg);
			cr_assert_eq(
			    PROPOSE(newest_node, sdb_msg_event, NULL, NULL, "k", "later", NULL), 0);
			fake_cpg_run(cpg);
		}
		digest_of(newest_node, newest);
		fake_cpg_stop(cpg, newest_node, false);
		fake_cpg_run(cpg);

		/* power comes back: all start at once, in some order */
		for (uint32_t i = 0; i < 3; i++)
			fake_cpg_start(cpg, (newest_node + i) % 3 + 1, false);
		fake_cpg_run(cpg);
		assert_converged(digest, "after the restart");
		cr_assert_str_eq(digest, newest, "newest was node%u", newest_node);
		cluster_free();
	}
}

Test(repl, donor_crashing_mid_snapshot, .fini = cluster_free)
{
	char before[65], after[65];
	int steps = 0;

	cluster_new(3, 200); /* many parts */
	fake_cpg_start(cpg, 1, false);
	fake_cpg_start(cpg, 2, false);
	fake_cpg_run(cpg);
	seed_state(2, 30);
	assert_converged(before, "two nodes");

	fake_cpg_start(cpg, 3, false);
	while (strcmp(phase_of(3), "receiving") != 0 && fake_cpg_step(cpg))
		steps++;
	cr_assert_str_eq(phase_of(3), "receiving");
	/* a few parts of the snapshot arrive, then the donor (node1) dies */
	for (int i = 0; i < 3; i++)
		fake_cpg_step(cpg);
	cr_assert_gt(fake_cpg_queued(cpg), 0, "the snapshot was too short for this test");
	fake_cpg_stop(cpg, 1, false);
	fake_cpg_run(cpg);
	assert_converged(after, "donor gone");
	cr_assert_str_eq(before, after);
}

Test(repl, changes_around_configuration_changes, .fini = cluster_free)
{
	char d1[65], d2[65];

	cluster_new(3, 0);
	fake_cpg_start(cpg, 1, false);
	fake_cpg_start(cpg, 2, false);
	fake_cpg_run(cpg);
	seed_state(1, 0);

	/* changes sent, then a join ordered before some of them */
	for (int i = 0; i < 6; i++)
		cr_assert_eq(PROPOSE(1 + i % 2, sdb_msg_event, NULL, NULL, "k", "around", NULL), 0);
	fake_cpg_seed(cpg, 7);
	fake_cpg_start(cpg, 3, true);
	/* while the round runs, nobody may propose */
	cr_assert_eq(PROPOSE(3, sdb_msg_event, NULL, NULL, "k", "too early", NULL), -EAGAIN);
	fake_cpg_run(cpg);
	assert_converged(d1, "after the join");

	/* every node counted the same fate for every change it saw */
	struct fake_node *n1 = fake_cpg_node(cpg, 1), *n2 = fake_cpg_node(cpg, 2);
	cr_assert_eq(n1->applied, n2->applied);
	cr_assert_eq(n1->canceled, n2->canceled);
	cr_assert_eq(n1->applied + n1->canceled, 4 + 6);

	/* a change sent during a round (buffered) is applied after it, everywhere */
	fake_cpg_stop(cpg, 3, false);
	fake_cpg_step(cpg); /* the leave: a round starts */
	cr_assert_eq(PROPOSE(1, sdb_msg_event, NULL, NULL, "k", "x", NULL), -EAGAIN);
	fake_cpg_run(cpg);
	assert_converged(d2, "after the leave");
	cr_assert_str_eq(d1, d2);
}

Test(repl, local_failure_is_repaired, .fini = cluster_free)
{
	char digest[65], text[3000];
	struct fake_node *n2;
	int r = 0;

	cluster_new(3, 0);
	for (uint32_t id = 1; id <= 3; id++)
		fake_cpg_start(cpg, id, false);
	fake_cpg_run(cpg);
	seed_state(1, 0);
	n2 = fake_cpg_node(cpg, 2);

	/* node2's disk fills up */
	memset(text, 'y', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	cr_assert_eq(sqlite3_exec(n2->db->conn, "PRAGMA max_page_count = 1", NULL, NULL, NULL),
		     SQLITE_OK);
	for (int i = 0; i < 40 && n2->local_errors == 0; i++) {
		r = PROPOSE(1, sdb_msg_event, NULL, NULL, "k", text, NULL);
		cr_assert(r == 0 || r == -EAGAIN);
		fake_cpg_run(cpg);
	}
	cr_assert_gt(n2->local_errors, 0, "node2 never failed");
	cr_assert_gt(n2->errors, 0);
	/* it asked for a round, but cannot load the snapshot while its disk is full */
	cr_assert(!sdb_repl_is_synced(n2->repl));
	cr_assert_str_eq(phase_of(2), "receiving");
	cr_assert(sdb_repl_is_synced(fake_cpg_node(cpg, 1)->repl));

	/* the operator frees space; the daemon asks again */
	cr_assert_eq(
	    sqlite3_exec(n2->db->conn, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL),
	    SQLITE_OK);
	cr_assert_eq(sdb_repl_resync(n2->repl), 0);
	fake_cpg_run(cpg);
	assert_converged(digest, "after the repair");
}

Test(repl, stale_round_messages_are_ignored, .fini = cluster_free)
{
	char before[65], after[65];
	const char *bogus[] = {
	    "{\"v\":1,\"type\":\"sync_state\",\"leader\":1,\"epoch\":1,\"version\":999,"
	    "\"digest\":\"x\",\"in_sync\":true}",
	    "{\"v\":1,\"type\":\"sync_snapshot\",\"leader\":1,\"epoch\":1,\"part\":0,"
	    "\"parts\":1,\"version\":0,\"digest\":\"x\",\"data\":\"{}\"}",
	    "{\"v\":1,\"type\":\"sync_start\",\"epoch\":5}", /* from node2: not the leader */
	};

	cluster_new(2, 0);
	fake_cpg_start(cpg, 1, false);
	fake_cpg_start(cpg, 2, false);
	fake_cpg_run(cpg);
	seed_state(1, 1);
	assert_converged(before, "before");
	for (size_t i = 0; i < ARRAY_SIZE(bogus); i++)
		for (uint32_t id = 1; id <= 2; id++)
			cr_assert_eq(sdb_repl_deliver(fake_cpg_node(cpg, id)->repl, 2, bogus[i],
						      strlen(bogus[i])),
				     0);
	cr_assert_eq(sdb_repl_deliver(fake_cpg_node(cpg, 1)->repl, 2, "garbage", 7), -EINVAL);
	assert_converged(after, "after");
	cr_assert_str_eq(before, after);
}

Test(repl, send_failures_are_retried, .fini = cluster_free)
{
	char digest[65];

	cluster_new(3, 256);
	for (uint32_t id = 1; id <= 2; id++)
		fake_cpg_start(cpg, id, false);
	fake_cpg_run(cpg);
	seed_state(1, 10);
	/* corosync is busy on node1 (leader and donor) when node3 joins */
	fake_cpg_node(cpg, 1)->send_fails = true;
	fake_cpg_start(cpg, 3, false);
	fake_cpg_run(cpg);
	cr_assert(sdb_repl_pending(fake_cpg_node(cpg, 1)->repl));
	cr_assert(!sdb_repl_is_synced(fake_cpg_node(cpg, 3)->repl));
	fake_cpg_node(cpg, 1)->send_fails = false;
	fake_cpg_run(cpg); /* flushes */
	assert_converged(digest, "after the retry");
}

/* ---- random interleavings ---------------------------------------------------------------- */

static const char *const states[] = {"creating", "initial-sync", "in-sync", "degraded",
				     "fencing",	 "promoting",	 "error"};
/* with the states above, some pairs of them are edges of the pair state machine */
static const char *const pair_events[] = {"backup-prepared", "mirror-ready", "mirror-failed",
					  "backup-lost",     "primary-lost", "fenced",
					  "promote-failed",  "host-returned"};

static void random_change(uint32_t node)
{
	char vm[8], ref[16], name[8];
	unsigned r = fake_cpg_rand(cpg);

	snprintf(vm, sizeof(vm), "vm%u", r % 4);
	snprintf(name, sizeof(name), "node%u", 1 + (r >> 4) % 3);
	snprintf(ref, sizeof(ref), "r%u", (r >> 8) % 3);
	switch ((r >> 12) % 8) {
	case 0: {
		struct sdb_node_info n = {.name = name, .nodeid = 1 + (r >> 4) % 3};
		PROPOSE(node, sdb_msg_node_upsert, &n);
		break;
	}
	case 1: {
		struct sdb_pair_spec p = {.vm = vm, .primary = "node1", .backup = name};
		PROPOSE(node, sdb_msg_pair_create, &p);
		break;
	}
	case 2: {
		struct sdb_pair_change c = {.vm = vm,
					    .state = states[(r >> 16) % ARRAY_SIZE(states)],
					    .pair_event = pair_events[(r >> 24) % ARRAY_SIZE(pair_events)],
					    .expect_state = (r & 1) ? states[(r >> 20) % 3] : NULL};
		PROPOSE(node, sdb_msg_pair_update, &c);
		break;
	}
	case 3:
		PROPOSE(node, sdb_msg_op_begin, vm, "switchover", name, ref);
		break;
	case 4:
		PROPOSE(node, sdb_msg_op_end, vm, (r & 1) ? ref : NULL);
		break;
	case 5:
		PROPOSE(node, sdb_msg_pair_progress, vm, r % 1000, 1000, NULL, 0);
		break;
	case 6:
		PROPOSE(node, sdb_msg_pair_delete, vm, NULL);
		break;
	default:
		PROPOSE(node, sdb_msg_event, name, vm, "random", "something happened", NULL);
	}
}

static size_t running_count(void)
{
	size_t n = 0;

	for (uint32_t id = 1; id <= cpg->n_nodes; id++)
		n += fake_cpg_running(cpg, id);
	return n;
}

Test(repl, random_interleavings_converge, .fini = cluster_free, .timeout = 240)
{
	char digest[65];
	unsigned snapshots = 0, canceled = 0, refused = 0, applied = 0;
	const unsigned seeds = getenv("REPL_SEEDS") ? (unsigned)atoi(getenv("REPL_SEEDS")) : 40;

	for (unsigned seed = 1; seed <= seeds; seed++) {
		cluster_new(4, 1 + seed * 37 % 700);
		fake_cpg_seed(cpg, seed);
		fake_cpg_start(cpg, 1, false);
		fake_cpg_start(cpg, 2, false);

		for (int op = 0; op < 300; op++) {
			unsigned r = fake_cpg_rand(cpg) % 100;
			uint32_t id = 1 + fake_cpg_rand(cpg) % 4;

			if (r < 55) {
				if (fake_cpg_running(cpg, id))
					random_change(id);
			} else if (r < 85) {
				for (unsigned k = fake_cpg_rand(cpg) % 16; k > 0; k--)
					fake_cpg_step(cpg);
			} else if (r < 89) {
				if (!fake_cpg_running(cpg, id))
					fake_cpg_start(cpg, id, true);
				else if (running_count() > 1)
					fake_cpg_stop(cpg, id, true);
			} else if (r < 96) {
				if (fake_cpg_running(cpg, id))
					fake_cpg_node(cpg, id)->send_fails ^= true;
			} else {
				for (uint32_t k = 1; k <= 4; k++)
					if (fake_cpg_running(cpg, k) &&
					    !fake_cpg_node(cpg, k)->send_fails)
						sdb_repl_flush(fake_cpg_node(cpg, k)->repl);
			}
		}
		/* corosync unblocks everywhere and the cluster settles */
		for (uint32_t k = 1; k <= 4; k++)
			fake_cpg_node(cpg, k)->send_fails = false;
		fake_cpg_run(cpg);
		char context[32];
		snprintf(context, sizeof(context), "seed %u", seed);
		assert_converged(digest, context);
		/* and it keeps working */
		for (uint32_t k = 1; k <= 4; k++)
			if (fake_cpg_running(cpg, k))
				random_change(k);
		fake_cpg_run(cpg);
		assert_converged(digest, context);
		for (uint32_t k = 1; k <= 4; k++) {
			struct fake_node *n = fake_cpg_node(cpg, k);

			cr_assert_eq(n->local_errors, 0);
			node_crash(n);
			snapshots += n->snapshots;
			canceled += n->canceled;
			refused += n->refused;
			applied += n->applied;
		}
		cluster_free();
	}
	if (getenv("FAKE_CPG_VERBOSE"))
		fprintf(stderr, "%u seeds: %u snapshots, %u applied, %u refused, %u canceled\n",
			seeds, snapshots, applied, refused, canceled);
	/* the runs did go through the paths they are meant to test */
	cr_assert_gt(snapshots, seeds, "too few state transfers");
	cr_assert_gt(canceled, 0, "no change was ever caught by a new round");
	cr_assert_gt(refused, 0);
	cr_assert_gt(applied, 10 * seeds);
}

/* A pair state change that is not an edge of the pair state machine: refused on every host. */
Test(repl, bad_pair_edge_is_refused_everywhere, .fini = cluster_free)
{
	struct sdb_pair_change forged = {
	    .vm = "vm1", .state = "promoting", .pair_event = "fenced", .event = "forged"};
	struct sdb_pair_change good = {
	    .vm = "vm1", .state = "initial-sync", .pair_event = "backup-prepared"};
	char before[65], after[65];
	unsigned refused[4];

	cluster_up(3, 3, 0);
	seed_state(1, 0);
	assert_converged(before, "seeded");
	for (uint32_t id = 1; id <= 3; id++)
		refused[id] = fake_cpg_node(cpg, id)->refused;

	/* proposed by node3, applied (refused) by all three in the agreed order */
	cr_assert_eq(PROPOSE(3, sdb_msg_pair_update, &forged), 0);
	fake_cpg_run(cpg);
	assert_converged(after, "after the forged change");
	cr_assert_str_eq(before, after, "a refused edge changed the state");
	for (uint32_t id = 1; id <= 3; id++) {
		struct fake_node *n = fake_cpg_node(cpg, id);

		cr_assert_eq(n->refused, refused[id] + 1, "node%u did not refuse it", id);
		cr_assert_eq(n->local_errors, 0, "node%u took the refusal for a local failure", id);
		cr_assert(strstr(sdb_errmsg(n->db), "creating -> promoting (fenced) is not an edge"),
			  "node%u: %s", id, sdb_errmsg(n->db));
	}

	/* and a valid edge still applies everywhere */
	cr_assert_eq(PROPOSE(2, sdb_msg_pair_update, &good), 0);
	fake_cpg_run(cpg);
	assert_converged(after, "after the valid change");
	cr_assert_str_neq(before, after);
}

/* Starts NODEID announcing change protocol PROTOCOL (the test hook), and lets it settle. */
static void start_with_protocol(uint32_t nodeid, const char *protocol)
{
	cr_assert_eq(setenv("HASVC_TEST_STATE_PROTOCOL", protocol, 1), 0);
	fake_cpg_start(cpg, nodeid, false);
	unsetenv("HASVC_TEST_STATE_PROTOCOL");
	fake_cpg_run(cpg);
}

/*
 * A host that speaks another change protocol (HASVC_TEST_STATE_PROTOCOL
 * makes one) is refused at join, clearly, on both sides: it is not synced,
 * its proposals are refused, and the cluster goes on without it.
 */
Test(repl, other_protocol_is_refused_at_join, .fini = cluster_free)
{
	char d1[65], d2[65], d3[65];
	struct fake_node *n1, *n3;

	cluster_up(3, 2, 0);
	seed_state(1, 2);
	start_with_protocol(3, "3");
	n1 = fake_cpg_node(cpg, 1);
	n3 = fake_cpg_node(cpg, 3);

	cr_assert_str_eq(phase_of(3), "incompatible");
	cr_assert(!sdb_repl_is_synced(n3->repl));
	cr_assert(strstr(n3->last_error, "state protocol 3 here, cluster speaks 2: not joining"),
		  "node3 said: %s", n3->last_error);
	cr_assert(strstr(n1->last_error, "node 3 speaks state protocol 3"), "node1 said: %s",
		  n1->last_error);
	cr_assert(sdb_repl_is_synced(n1->repl) && sdb_repl_is_synced(fake_cpg_node(cpg, 2)->repl));
	cr_assert_eq(n3->snapshots, 0, "node3 loaded the cluster's state");

	/* its writes are refused; the others' go on, and it does not apply them */
	cr_assert_eq(PROPOSE(3, sdb_msg_event, NULL, NULL, "k", "from node3", NULL),
		     -EPROTONOSUPPORT);
	digest_of(3, d3);
	cr_assert_eq(PROPOSE(2, sdb_msg_event, NULL, NULL, "k", "from node2", NULL), 0);
	fake_cpg_run(cpg);
	digest_of(1, d1);
	digest_of(2, d2);
	cr_assert_str_eq(d1, d2);
	digest_of(3, d2);
	cr_assert_str_eq(d3, d2, "node3 applied a change of a cluster it did not join");

	/* upgraded (here: the hook gone), it joins and catches up */
	fake_cpg_stop(cpg, 3, false);
	fake_cpg_start(cpg, 3, false);
	fake_cpg_run(cpg);
	assert_converged(d3, "node3 back with the cluster's protocol");
	cr_assert_str_eq(d1, d3);
}

/* A host of the old protocol (1, whose sync_state did not say it) refuses to join a new cluster. */
Test(repl, protocol_one_newcomer_is_refused, .fini = cluster_free)
{
	cluster_up(3, 2, 0);
	seed_state(2, 0);
	start_with_protocol(3, "1");
	cr_assert_str_eq(phase_of(3), "incompatible");
	cr_assert(strstr(fake_cpg_node(cpg, 3)->last_error,
			 "state protocol 1 here, cluster speaks 2: not joining"),
		  "%s", fake_cpg_node(cpg, 3)->last_error);
	/* a configuration change later (node2 leaves): still refused, the rest still synced */
	fake_cpg_stop(cpg, 2, false);
	fake_cpg_run(cpg);
	cr_assert_str_eq(phase_of(3), "incompatible");
	cr_assert(sdb_repl_is_synced(fake_cpg_node(cpg, 1)->repl));
}

/* Issue 16: a donor cannot make a receiver hold more snapshot than its bound. */
Test(repl, snapshot_beyond_the_bound_is_refused, .fini = cluster_free)
{
	struct fake_node *n3;
	char digest[65];

	cluster_up(3, 2, 1024); /* parts of 1 KiB */
	seed_state(1, 40);	/* a dump of several KiB */
	n3 = fake_cpg_node(cpg, 3);
	n3->snapshot_max = 4096;
	fake_cpg_start(cpg, 3, false);
	fake_cpg_run(cpg);
	cr_assert_str_eq(phase_of(3), "receiving");
	cr_assert_eq(n3->snapshots, 0, "node3 loaded a snapshot above its bound");
	cr_assert(strstr(n3->last_error, "larger than 4096 bytes"), "node3 said: %s",
		  n3->last_error);
	cr_assert_leq(n3->repl->snap_len, 4096u, "node3 holds %zu bytes", n3->repl->snap_len);
	cr_assert(sdb_repl_is_synced(fake_cpg_node(cpg, 1)->repl));

	/* with room enough, the next round brings the state */
	fake_cpg_stop(cpg, 3, false);
	n3->snapshot_max = 0;
	fake_cpg_start(cpg, 3, false);
	fake_cpg_run(cpg);
	assert_converged(digest, "node3 with the default bound");
}
