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
 *     fencing exists to make promotion safe.
 *
 * Two-node clusters: after a split both halves are quorate (two_node) and
 * each fences the other. To leave exactly one host running, the host with the
 * lower nodeid fences at once and the other waits TWO_NODE_DELAY_MS, by
 * which time it has been powered off if the other side was alive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_coord.h"
#include "hs_daemon.h"
#include "hs_fencing.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"
#include "sdb.h"

#define RETRY_MS 10000
#define TWO_NODE_DELAY_MS 8000

struct hs_coord {
	struct hs_daemon *d;
	uint64_t last_attempt_usec[HS_CLUSTER_MAX_NODES];
};

int hs_coord_new(struct hs_daemon *d, struct hs_coord **ret)
{
	struct hs_coord *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->d = d;
	*ret = c;
	return 0;
}

void hs_coord_free(struct hs_coord *c)
{
	free(c);
}

static bool runs_primaries(struct hs_daemon *d, const char *node)
{
	json_object *pairs = NULL;
	bool found = false;

	if (sdb_pairs_list_by_node(d->db, node, &pairs) < 0)
		return true; /* cannot tell: err on the side of fencing */
	for (size_t i = 0; i < json_object_array_length(pairs); i++) {
		json_object *p = json_object_array_get_idx(pairs, i), *primary, *backup, *state;
		if (json_object_object_get_ex(p, "primary", &primary) &&
		    strcmp(json_object_get_string(primary), node) == 0)
			found = true;
		/* a backup told to resume may run the VM now: as good as a primary */
		if (json_object_object_get_ex(p, "backup", &backup) &&
		    json_object_object_get_ex(p, "state", &state) &&
		    strcmp(json_object_get_string(backup), node) == 0 &&
		    strcmp(json_object_get_string(state), "promoting") == 0)
			found = true;
	}
	json_object_put(pairs);
	return found;
}

static const char *recorded_state(struct hs_daemon *d, const char *node, char *buf, size_t len)
{
	json_object *row = NULL, *state;

	buf[0] = '\0';
	if (sdb_node_get(d->db, node, &row) == 0 && json_object_object_get_ex(row, "state", &state))
		snprintf(buf, len, "%s", json_object_get_string(state));
	json_object_put(row);
	return buf;
}

static void fence_done(void *userdata, bool verified, const char *message)
{
	/* hs_fencing recorded the result; the next cron retries a failure. */
}

void hs_coord_cron(struct hs_coord *c)
{
	struct hs_daemon *d = c->d;
	struct hs_cluster_view v;
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	bool always = d->config->fence_lost_hosts &&
		      strcmp(d->config->fence_lost_hosts, "always") == 0;

	hs_cluster_view_get(d->cluster, &v);
	/* two nodes: a lost backup host holds its primary's writes until it is fenced */
	always = always || v.n_nodes == 2;
	if (!v.quorate || v.coordinator != v.local_nodeid)
		return;
	for (size_t i = 0; i < v.n_nodes; i++) {
		const struct hs_node_view *n = &v.nodes[i];
		char state[16];
		uint64_t delay = 0;
		int r;

		if (n->online || !n->host_lost || n->nodeid == v.local_nodeid)
			continue;
		recorded_state(d, n->name, state, sizeof(state));
		if (strcmp(state, "offline") != 0 && strcmp(state, "fencing") != 0 &&
		    strcmp(state, "maintenance") != 0)
			continue;
		if (strcmp(state, "fencing") == 0 && now < c->last_attempt_usec[i] + RETRY_MS * 1000ULL)
			continue;
		if (!always && !runs_primaries(d, n->name))
			continue;
		if (v.n_nodes == 2 && v.local_nodeid > n->nodeid)
			delay = TWO_NODE_DELAY_MS * 1000ULL;
		if (now < n->changed_usec + delay)
			continue;
		r = hs_fencing_start(d->fencing, n->name, "host lost", fence_done, c);
		if (r == -EBUSY)
			continue;
		c->last_attempt_usec[i] = now;
		if (r < 0)
			qb_log(LOG_ERR, "cannot fence lost host %s: %s", n->name, strerror(-r));
	}
}
