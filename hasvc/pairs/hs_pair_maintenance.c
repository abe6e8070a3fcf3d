// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_maintenance: a host in maintenance, seen from the pairs.
 *
 * The admin operation (hs_pairs_maintenance) records the node's admin state
 * "maintenance" (or "enabled" again) in the replicated nodes table, beside
 * its membership state, which goes on following the ring. Then the
 * coordinator, at each round (hs__pairs_maintenance_cron), switches over
 * the in-sync pairs whose primary runs there, maintenance_moves at a time,
 * live or cold as maintenance_switchover says, and says once, per pair, why
 * one that cannot move yet stays ("cannot leave"): the names it has said it
 * for are kept whole (HS_NAME_MAX + 1 bytes), so a VM with a name of the
 * longest length is not mistaken for a new one at every round.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hs_cleanup.h"
#include "hs_pairs_internal.h"
#include "sdb_msg.h"

void hs_pairs_maintenance(struct hs_pairs *p, const char *node, bool on, hs_pairs_reply_fn reply,
			  void *userdata)
{
	struct hs_core *core = p->core;
	enum hs_node_admin want = on ? HS_NODE_IN_MAINTENANCE : HS_NODE_ENABLED;
	struct hs_node row = {.state = HS_NODE_UNKNOWN, .admin = HS_NODE_ENABLED};
	bool has_row;
	char *buf = NULL;
	size_t len;
	int r;

	if (!hs_config_node_by_name(core->config, node)) {
		hs__pairs_refuse(reply, userdata, -ENOENT, "no node '%s'", node);
		return;
	}
	has_row = hs_core_node_get(core, node, &row) >= 0;
	if (!on && row.admin != HS_NODE_IN_MAINTENANCE) {
		hs__pairs_refuse(reply, userdata, -EPERM, "%s is not in maintenance", node);
		return;
	}
	if (on && (row.state == HS_NODE_FENCING || row.state == HS_NODE_FENCED)) {
		hs__pairs_refuse(reply, userdata, -EPERM, "%s is %s; maintenance is for a running host",
				 node, hs_node_state_name(row.state));
		return;
	}
	if (row.admin != want) {
		/* not recorded yet (the cluster just formed): its row goes first;
		 * not a member (-ENOENT): the change alone, the state refuses it */
		r = hs_state_ensure_node(core, node);
		if (r >= 0 || r == -ENOENT)
			r = sdb_msg_node_admin(node, hs_node_admin_name(want),
					       has_row ? hs_node_admin_name(row.admin) : NULL, &buf,
					       &len);
		if (r >= 0)
			r = hs_state_propose(core, buf, len);
		if (r < 0) {
			hs__pairs_refuse_proposal(reply, userdata, r);
			return;
		}
		hs_state_event(core, NULL, "maintenance", "node %s %s", node,
			       on ? "enters maintenance: its primaries move away, it takes no new "
				    "backups"
				  : "leaves maintenance: it takes backups again");
	}
	p->n_maintenance_noted = 0;
	reply(userdata, HS_PAIRS_DONE,
	      &(struct hs_pairs_answer){
		  .node = node,
		  /* the word the node list shows for it now (hs_api_status.c) */
		  .state = on ? "maintenance" : hs_node_state_name(hs_core_node_online(core, node)
								       ? HS_NODE_ONLINE
								       : HS_NODE_OFFLINE)});
}

/* True when VM's "cannot leave" was said already; else it is remembered as said. */
static bool noted(struct hs_pairs *p, const char *vm)
{
	for (size_t i = 0; i < p->n_maintenance_noted; i++)
		if (strcmp(p->maintenance_noted[i], vm) == 0)
			return true;
	if (p->n_maintenance_noted < ARRAY_SIZE(p->maintenance_noted))
		snprintf(p->maintenance_noted[p->n_maintenance_noted++],
			 sizeof(p->maintenance_noted[0]), "%s", vm);
	return false;
}

/*
 * maintenance_switchover: live, cold, or auto: live where this host runs the
 * qmp engine, falling back to cold for a guest that cannot move live.
 */
static enum hs_switchover_kind moves_as(const struct hs_pairs *p)
{
	const char *how = p->core->config->maintenance_switchover;

	if (how && strcmp(how, "live") == 0)
		return HS_SWITCHOVER_LIVE;
	if (how && strcmp(how, "cold") == 0)
		return HS_SWITCHOVER_COLD;
	return mirror_engine_qmp(p->mirror) ? HS_SWITCHOVER_LIVE_OR_COLD : HS_SWITCHOVER_COLD;
}

void hs__pairs_maintenance_cron(struct hs_pairs *p, const struct hs_pair *pairs, size_t n)
{
	size_t moving = 0, max = p->core->config->maintenance_moves;
	enum hs_switchover_kind kind = moves_as(p);

	if (!hs_core_is_coordinator(p->core))
		return;
	/* a few at a time: each move copies the guest's memory over the same links */
	for (size_t i = 0; i < n; i++)
		moving += pairs[i].switchover || pairs[i].live;
	for (size_t i = 0; i < n; i++) {
		const struct hs_pair *v = &pairs[i];

		if (!hs_core_node_in_maintenance(p->core, v->primary))
			continue;
		if (v->state == HS_PAIR_IN_SYNC && !v->op && hs_core_node_online(p->core, v->backup)) {
			if (moving >= (max ? max : 2))
				continue;
			if (hs__pairs_switchover_start(p, v, kind, "maintenance") >= 0)
				moving++;
		} else if (!hs_pair_state_busy(v->state) && v->state != HS_PAIR_INITIAL_SYNC &&
			   !noted(p, v->vm)) {
			hs_state_event(p->core, v->vm, "maintenance",
				       "%s cannot leave %s yet: it is %s, a move needs an in-sync "
				       "backup",
				       v->vm, v->primary, hs_pair_state_name(v->state));
		}
	}
}
