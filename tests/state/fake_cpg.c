// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fake_cpg: the in-process CPG of the sdb_repl tests (see fake_cpg.h).
 *
 * The queue is a plain array of events; the head index moves on as they are
 * delivered. Each message records the incarnation of its sender, so that a
 * message sent before a crash can never be delivered "from" the restarted
 * node. Randomness comes from a private xorshift generator so that a failing
 * seed replays exactly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_cpg.h"
#include "sdb_msg.h"
#include "state_test.h"

enum fake_kind {
	FAKE_MSG,
	FAKE_JOIN,
	FAKE_LEAVE,
};

struct fake_event {
	enum fake_kind kind;
	uint32_t node; /* sender, or the node joining/leaving */
	unsigned incarnation;
	char *buf;
	size_t len;
};

struct fake_cpg {
	char *dir;
	size_t chunk;
	struct fake_node nodes[FAKE_CPG_MAX_NODES];
	size_t n_nodes;
	uint32_t members[FAKE_CPG_MAX_NODES];
	size_t n_members;
	struct fake_event *queue;
	size_t head, n, cap;
	size_t last_confchg; /* index + 1 of the last queued confchg */
	uint64_t rng;
};

void fake_cpg_seed(struct fake_cpg *cpg, unsigned seed)
{
	cpg->rng = 0x9e3779b97f4a7c15ull ^ seed;
}

unsigned fake_cpg_rand(struct fake_cpg *cpg)
{
	cpg->rng ^= cpg->rng << 13;
	cpg->rng ^= cpg->rng >> 7;
	cpg->rng ^= cpg->rng << 17;
	return (unsigned)(cpg->rng >> 16);
}

static void queue_insert(struct fake_cpg *cpg, size_t pos, struct fake_event ev)
{
	if (cpg->n == cpg->cap) {
		cpg->cap = cpg->cap ? 2 * cpg->cap : 64;
		cpg->queue = realloc(cpg->queue, cpg->cap * sizeof(*cpg->queue));
		cr_assert(cpg->queue);
	}
	memmove(cpg->queue + pos + 1, cpg->queue + pos, (cpg->n - pos) * sizeof(*cpg->queue));
	cpg->queue[pos] = ev;
	cpg->n++;
	if (ev.kind != FAKE_MSG)
		cpg->last_confchg = pos + 1;
	else if (pos < cpg->last_confchg)
		cpg->last_confchg++;
}

static int fake_send(void *userdata, const void *buf, size_t len)
{
	struct fake_node *node = userdata;
	struct fake_event ev = {FAKE_MSG, node->nodeid, node->incarnation, NULL, len};

	if (node->send_fails)
		return -EAGAIN;
	ev.buf = malloc(len);
	cr_assert(ev.buf);
	memcpy(ev.buf, buf, len);
	queue_insert(node->cpg, node->cpg->n, ev);
	return 0;
}

static void fake_synced(void *userdata)
{
	((struct fake_node *)userdata)->synced++;
}

static void fake_applied(void *userdata, uint32_t sender, json_object *msg, int result)
{
	struct fake_node *node = userdata;

	if (result == 0)
		node->applied++;
	else if (result == -ECANCELED)
		node->canceled++;
	else if (sdb_apply_refused(result))
		node->refused++;
	else
		node->local_errors++;
}

static void fake_error(void *userdata, int error, const char *message)
{
	struct fake_node *node = userdata;

	node->errors++;
	snprintf(node->last_error, sizeof(node->last_error), "%s", message);
	if (getenv("FAKE_CPG_VERBOSE"))
		fprintf(stderr, "node%u: %s (%s)\n", node->nodeid, message, strerror(-error));
}

int fake_cpg_new(size_t n_nodes, size_t chunk, struct fake_cpg **ret)
{
	struct fake_cpg *cpg = calloc(1, sizeof(*cpg));

	cr_assert(cpg && n_nodes <= FAKE_CPG_MAX_NODES);
	cpg->dir = test_mkdtemp();
	cpg->chunk = chunk;
	cpg->n_nodes = n_nodes;
	fake_cpg_seed(cpg, 1);
	for (size_t i = 0; i < n_nodes; i++) {
		struct fake_node *node = &cpg->nodes[i];

		node->nodeid = (uint32_t)i + 1;
		node->cpg = cpg;
		cr_assert(asprintf(&node->path, "%s/node%zu.db", cpg->dir, i + 1) > 0);
	}
	*ret = cpg;
	return 0;
}

static void node_crash(struct fake_node *node)
{
	json_object *st = NULL;

	if (node->repl && sdb_repl_status(node->repl, &st) == 0) {
		node->snapshots +=
		    json_object_get_int(json_object_object_get(st, "snapshots_received"));
		json_object_put(st);
	}
	sdb_repl_free(node->repl);
	node->repl = NULL;
	sdb_close(node->db);
	node->db = NULL;
	node->incarnation++;
}

void fake_cpg_free(struct fake_cpg *cpg)
{
	if (!cpg)
		return;
	for (size_t i = 0; i < cpg->n_nodes; i++) {
		node_crash(&cpg->nodes[i]);
		free(cpg->nodes[i].path);
	}
	for (size_t i = cpg->head; i < cpg->n; i++)
		free(cpg->queue[i].buf);
	free(cpg->queue);
	test_rmdir(cpg->dir);
	free(cpg->dir);
	free(cpg);
}

struct fake_node *fake_cpg_node(struct fake_cpg *cpg, uint32_t nodeid)
{
	cr_assert(nodeid >= 1 && nodeid <= cpg->n_nodes);
	return &cpg->nodes[nodeid - 1];
}

bool fake_cpg_running(struct fake_cpg *cpg, uint32_t nodeid)
{
	return fake_cpg_node(cpg, nodeid)->repl != NULL;
}

/* Where a confchg goes: the end, or anywhere after the head and the last confchg. */
static size_t confchg_pos(struct fake_cpg *cpg, bool random)
{
	size_t lo = cpg->head > cpg->last_confchg ? cpg->head : cpg->last_confchg;

	if (!random || cpg->n == lo)
		return cpg->n;
	return lo + fake_cpg_rand(cpg) % (cpg->n - lo + 1);
}

void fake_cpg_start(struct fake_cpg *cpg, uint32_t nodeid, bool random)
{
	struct fake_node *node = fake_cpg_node(cpg, nodeid);
	struct sdb_repl_ops ops = {
	    .send = fake_send,
	    .synced = fake_synced,
	    .applied = fake_applied,
	    .error = fake_error,
	    .userdata = node,
	    .snapshot_chunk = cpg->chunk,
	    .snapshot_max = node->snapshot_max,
	};
	char *error = NULL;

	cr_assert_null(node->repl, "node%u runs already", nodeid);
	cr_assert_eq(sdb_open(node->path, &node->db, &error), 0, "%s", error);
	cr_assert_eq(sdb_repl_new(node->db, nodeid, &ops, &node->repl), 0);
	queue_insert(cpg, confchg_pos(cpg, random),
		     (struct fake_event){FAKE_JOIN, nodeid, node->incarnation, NULL, 0});
}

void fake_cpg_stop(struct fake_cpg *cpg, uint32_t nodeid, bool random)
{
	struct fake_node *node = fake_cpg_node(cpg, nodeid);

	cr_assert_not_null(node->repl, "node%u is not running", nodeid);
	queue_insert(cpg, confchg_pos(cpg, random),
		     (struct fake_event){FAKE_LEAVE, nodeid, node->incarnation, NULL, 0});
	node_crash(node);
}

static bool is_member(struct fake_cpg *cpg, uint32_t nodeid)
{
	for (size_t i = 0; i < cpg->n_members; i++)
		if (cpg->members[i] == nodeid)
			return true;
	return false;
}

static void deliver_confchg(struct fake_cpg *cpg)
{
	uint32_t members[FAKE_CPG_MAX_NODES];
	size_t n = cpg->n_members;

	/* callbacks may queue messages (and grow the queue): work on a copy */
	memcpy(members, cpg->members, n * sizeof(*members));
	for (size_t i = 0; i < n; i++) {
		struct fake_node *node = fake_cpg_node(cpg, members[i]);

		if (node->repl)
			cr_assert_eq(sdb_repl_confchg(node->repl, members, n), 0);
	}
}

bool fake_cpg_step(struct fake_cpg *cpg)
{
	struct fake_event ev;

	if (cpg->head == cpg->n)
		return false;
	if (cpg->head >= 1024) { /* drop what was delivered */
		memmove(cpg->queue, cpg->queue + cpg->head,
			(cpg->n - cpg->head) * sizeof(*cpg->queue));
		cpg->n -= cpg->head;
		cpg->last_confchg =
		    cpg->last_confchg > cpg->head ? cpg->last_confchg - cpg->head : 0;
		cpg->head = 0;
	}
	ev = cpg->queue[cpg->head++];
	switch (ev.kind) {
	case FAKE_JOIN:
		if (!is_member(cpg, ev.node))
			cpg->members[cpg->n_members++] = ev.node;
		deliver_confchg(cpg);
		break;
	case FAKE_LEAVE:
		for (size_t i = 0; i < cpg->n_members; i++)
			if (cpg->members[i] == ev.node)
				cpg->members[i] = cpg->members[--cpg->n_members];
		deliver_confchg(cpg);
		break;
	case FAKE_MSG:
		if (is_member(cpg, ev.node) &&
		    fake_cpg_node(cpg, ev.node)->incarnation == ev.incarnation) {
			uint32_t members[FAKE_CPG_MAX_NODES];
			size_t n = cpg->n_members;

			memcpy(members, cpg->members, n * sizeof(*members));
			for (size_t i = 0; i < n; i++) {
				struct fake_node *node = fake_cpg_node(cpg, members[i]);

				if (node->repl)
					cr_assert_eq(
					    sdb_repl_deliver(node->repl, ev.node, ev.buf, ev.len),
					    0);
			}
		}
		free(ev.buf);
		break;
	}
	return true;
}

size_t fake_cpg_queued(struct fake_cpg *cpg)
{
	return cpg->n - cpg->head;
}

size_t fake_cpg_run(struct fake_cpg *cpg)
{
	size_t steps = 0;
	bool again = true;

	while (again) {
		while (fake_cpg_step(cpg)) {
			steps++;
			cr_assert_lt(steps, 1000000u, "the fake cluster never settles");
		}
		again = false;
		for (size_t i = 0; i < cpg->n_nodes; i++) {
			struct fake_node *node = &cpg->nodes[i];

			if (node->repl && !node->send_fails && sdb_repl_pending(node->repl)) {
				sdb_repl_flush(node->repl);
				again = true;
			}
		}
	}
	return steps;
}

int fake_cpg_propose(struct fake_cpg *cpg, uint32_t nodeid, int build_result, char *buf, size_t len)
{
	struct fake_node *node = fake_cpg_node(cpg, nodeid);
	int r;

	cr_assert_eq(build_result, 0);
	r = node->repl ? sdb_repl_propose(node->repl, buf, len) : -ENOTCONN;
	free(buf);
	return r;
}
