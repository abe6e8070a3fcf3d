// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_coord: the coordinator's duties.
 *
 * Fencing lost hosts. A host is fenced when, seen from the coordinator of a
 * quorate partition:
 *   - it left the membership with its corosync (CPG_REASON_NODEDOWN: crashed,
 *     powered off or cut off) -- a hasvcd that merely restarted is not fenced;
 *   - the replicated state records it offline (or "fencing" after a failed
 *     attempt, retried every RETRY_MS), or in maintenance: the admin's mark
 *     does not make a crashed host safe, and its pairs (a primary that could
 *     not move, a backup holding a two-node primary's writes) wait for the
 *     fence; the fence's "fencing"/"fenced" replace the mark;
 *   - and the policy wants it: `fence_lost_hosts = always`, or (the default,
 *     `with-primaries`) it runs the primary of at least one pair, because
 *     fencing exists to make promotion safe (or holds what is as good as
 *     one: a backup being promoted, a live migration's destination).
 *
 * Two-node clusters: after a split both halves are quorate (two_node) and
 * each fences the other. To leave exactly one host running, the host with the
 * lower nodeid fences at once and the other waits TWO_NODE_DELAY_MS, by
 * which time it has been powered off if the other side was alive.
 *
 * The node table. The coordinator records every node's membership in the
 * replicated nodes table (hs_coord_nodes_reconcile), so that status, events
 * and the dashboard read one replicated truth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_clock.h"
#include "hs_coord.h"
#include "hs_core.h"
#include "hs_fencing.h"
#include "sdb.h"
#include "sdb_msg.h"

#define RETRY_MS 10000
#define TWO_NODE_DELAY_MS 8000

struct hs_coord {
	struct hs_core *core;
	struct hs_fencing *fencing;
	uint64_t last_attempt_usec[HS_CLUSTER_MAX_NODES];
};

int hs_coord_new(struct hs_core *core, struct hs_fencing *fencing, struct hs_coord **ret)
{
	struct hs_coord *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->core = core;
	c->fencing = fencing;
	*ret = c;
	return 0;
}

void hs_coord_free(struct hs_coord *c)
{
	free(c);
}

static bool runs_primaries(struct hs_core *core, const char *node)
{
	struct hs_pair_list l;
	bool found = false;

	if (hs_core_pairs_list(core, node, &l) < 0)
		return true; /* cannot tell: err on the side of fencing */
	for (size_t i = 0; i < l.n; i++) {
		const struct hs_pair *p = &l.pairs[i];

		if (strcmp(p->primary, node) == 0)
			found = true;
		/* a backup told to resume may run the VM now: as good as a primary */
		if (p->backup && strcmp(p->backup, node) == 0 && p->state == HS_PAIR_PROMOTING)
			found = true;
		/*
		 * The destination of a live migration (migrating, or degraded with
		 * the op still claimed: the primary host ends it only once its
		 * migration call is over) may hold the migrated guest, paused. A
		 * host cut off keeps that copy while the primary host boots the
		 * guest from its own disk, and nothing of the pair's would ever
		 * stop it: a full copy of the guest, memory and all, on a stale
		 * disk, one resume from a second running guest (found by
		 * fault_live_partition_backup). As good as a primary. The cluster
		 * cannot tell whether the guest arrived: from handing-over or
		 * catching-up (degraded, the op claimed a moment) it is fenced too.
		 */
		if (p->backup && strcmp(p->backup, node) == 0 && p->live &&
		    (p->state == HS_PAIR_MIGRATING || p->state == HS_PAIR_DEGRADED))
			found = true;
	}
	hs_pair_list_free(&l);
	return found;
}

static void fence_done(void *userdata, bool verified, const char *message)
{
	/* hs_fencing recorded the result; the next cron retries a failure. */
}

void hs_coord_cron(struct hs_coord *c)
{
	struct hs_core *d = c->core;
	struct hs_cluster_view v;
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	bool always = d->config->fence_always;

	hs_cluster_view_get(d->cluster, &v);
	/* two nodes: a lost backup host holds its primary's writes until it is fenced */
	always = always || v.n_nodes == 2;
	if (!hs_core_is_coordinator(d))
		return;
	for (size_t i = 0; i < v.n_nodes; i++) {
		const struct hs_node_view *n = &v.nodes[i];
		enum hs_node_state state;
		uint64_t delay = 0;
		int r;

		if (n->online || !n->host_lost || n->nodeid == v.local_nodeid)
			continue;
		state = hs_core_node_state(d, n->name);
		if (state != HS_NODE_OFFLINE && state != HS_NODE_FENCING)
			continue;
		if (state == HS_NODE_FENCING && now < c->last_attempt_usec[i] + RETRY_MS * 1000ULL)
			continue;
		if (!always && !runs_primaries(d, n->name))
			continue;
		if (v.n_nodes == 2 && v.local_nodeid > n->nodeid)
			delay = TWO_NODE_DELAY_MS * 1000ULL;
		if (now < n->changed_usec + delay)
			continue;
		r = hs_fencing_start(c->fencing, n->name, "host lost", fence_done, c);
		if (r == -EBUSY)
			continue;
		c->last_attempt_usec[i] = now;
		if (r < 0)
			qb_log(LOG_ERR, "cannot fence lost host %s: %s", n->name, strerror(-r));
	}
}

/*
 * Make the nodes table say what the membership says. online/offline follow
 * the membership. fencing and fenced are decisions: only a node that rejoined
 * after the decision is online again, and "offline" never hides them.
 * Maintenance is the admin's, in a field of its own: the membership's word
 * goes on being recorded for a host in maintenance.
 */
void hs_coord_nodes_reconcile(struct hs_coord *c)
{
	struct hs_core *d = c->core;
	struct hs_cluster_view v;

	if (!hs_core_is_coordinator(d) || !hs_state_idle(d))
		return;
	hs_cluster_view_get(d->cluster, &v);
	for (size_t i = 0; i < v.n_nodes; i++) {
		const struct hs_node_view *n = &v.nodes[i];
		enum hs_node_state want = n->online ? HS_NODE_ONLINE : HS_NODE_OFFLINE;
		json_object *row = NULL;
		struct hs_node have;
		char *buf = NULL;
		size_t len;

		if (sdb_node_get(d->db, n->name, &row) == -ENOENT) {
			hs_state_propose_node_row(d, n);
			continue;
		}
		if (!row || hs_node_decode(row, &have) < 0 || have.state == HS_NODE_UNKNOWN) {
			json_object_put(row);
			continue;
		}
		json_object_put(row);
		bool decided = hs_node_state_decided(have.state);
		bool rejoined = n->online && n->changed_usec > have.changed_usec;
		if (have.state != want && (!decided || (rejoined && have.state != HS_NODE_FENCING))) {
			if (sdb_msg_node_state(n->name, hs_node_state_name(want),
					       hs_node_state_name(have.state), &buf, &len) == 0 &&
			    hs_state_propose(d, buf, len) == 0)
				hs_state_event(d, NULL, "membership", "node %s is %s (was %s)", n->name,
					       hs_node_state_name(want), hs_node_state_name(have.state));
		}
	}
}
