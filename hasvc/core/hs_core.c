// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_core: the core's life (loop, state, cluster: built in that order, freed
 * in reverse), its change hooks, and the node and pair queries of hs_core.h.
 *
 * The cluster connection's callbacks are wired here, because they are the
 * replicated state's: a configuration change and each delivered message go
 * to the replication engine (sdb_repl) at their point of the agreed order; a
 * view change (membership, quorum) goes to the hooks as HS_CORE_MEMBERSHIP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_core.h"
#include "hs_corosync_nodes.h"
#include "hs_sd_notify.h"
#include "sdb.h"
#include "sdb_repl.h"

static void cluster_confchg(void *userdata, const uint32_t *members, size_t n)
{
	struct hs_core *core = userdata;
	int r = sdb_repl_confchg(core->repl, members, n);

	if (r < 0)
		qb_log(LOG_ERR, "cannot start a state sync round: %s", strerror(-r));
}

static void cluster_deliver(void *userdata, uint32_t sender, const void *msg, size_t len)
{
	struct hs_core *core = userdata;
	int r = sdb_repl_deliver(core->repl, sender, msg, len);

	if (r < 0)
		qb_log(LOG_WARNING, "ignoring a message of %zu bytes from nodeid %u: %s", len, sender,
		       strerror(-r));
}

static void cluster_changed(void *userdata, const struct hs_cluster_view *view)
{
	qb_log(LOG_DEBUG, "cluster view: joined=%d quorate=%d coordinator=%u ring=%llu",
	       view->joined, view->quorate, view->coordinator, (unsigned long long)view->ring_id);
	hs_core_changed(userdata, HS_CORE_MEMBERSHIP);
}

static void cluster_fatal(void *userdata, const char *message)
{
	struct hs_core *core = userdata;

	core->failed = true;
	qb_loop_stop(core->loop);
}

#define NODES_WAIT_USEC 1000000ULL

/*
 * The hosts: corosync's nodelist merged with hasvc.conf. Returns 1 when
 * corosync did not answer and CONFIG is taken as it is, to be checked at the
 * first join; 0 when merged; -EINVAL (logged) on a mismatch.
 */
static int core_nodes_resolve(struct hs_config *config)
{
	uint64_t wait_usec = NODES_WAIT_USEC, watchdog_usec;
	bool logged = false;
	int r;

	/* the service manager's watchdog runs while we wait: ping it at half its period */
	if (hs_sd_watchdog_usec(&watchdog_usec) == 1 && watchdog_usec / 2 < wait_usec)
		wait_usec = watchdog_usec / 2;

	for (;;) {
		struct hs_corosync_nodelist *l = calloc(1, sizeof(*l));
		_cleanup_free_ char *error = NULL;

		if (!l)
			return -ENOMEM;
		r = hs_corosync_nodes_read(l, &error);
		if (r >= 0)
			r = hs_corosync_nodes_merge(config, l, &error);
		free(l);
		if (r >= 0) {
			qb_log(LOG_INFO, "%zu nodes from corosync's nodelist; this host is %s",
			       config->n_nodes, config->node_name);
			return 0;
		}
		if (r != -ECONNREFUSED) {
			qb_log(LOG_CRIT, "hasvc.conf disagrees with corosync's nodelist: %s",
			       error ? error : strerror(-r));
			return r;
		}
		if (hs_config_nodes_complete(config)) {
			qb_log(LOG_NOTICE, "corosync does not answer: starting with hasvc.conf's %zu "
			       "nodes, checked against corosync's nodelist once it does",
			       config->n_nodes);
			return 1;
		}
		if (!logged)
			qb_log(LOG_WARNING, "corosync does not answer; waiting for it to read its "
			       "nodelist (hasvc.conf does not name every host on its own)");
		logged = true;
		/*
		 * Alive, only waiting: the watchdog (WatchdogSec=) must not
		 * restart a daemon that waits for corosync to start.
		 */
		hs_sd_notify("WATCHDOG=1");
		usleep(wait_usec);
	}
}

int hs_core_new(struct hs_config *config, struct hs_core **ret)
{
	struct hs_core *core = calloc(1, sizeof(*core));
	struct hs_cluster_callbacks cb = {
		.change = cluster_changed,
		.confchg = cluster_confchg,
		.deliver = cluster_deliver,
		.fatal = cluster_fatal,
	};
	int r;

	if (!core) {
		hs_config_free(config);
		return -ENOMEM;
	}
	core->config = config;
	r = core_nodes_resolve(config);
	if (r < 0)
		goto out_free;
	cb.check_nodes = r > 0;
	if (config->n_nodes > HS_CLUSTER_MAX_NODES) {
		qb_log(LOG_ERR, "%zu nodes: hasvc serves at most %d", config->n_nodes,
		       HS_CLUSTER_MAX_NODES);
		r = -E2BIG;
		goto out_free;
	}
	core->self = hs_config_node_by_name(config, config->node_name);
	core->started_usec = hs_now_usec(CLOCK_REALTIME);
	core->loop = qb_loop_create();
	if (!core->loop) {
		r = -ENOMEM;
		qb_log(LOG_ERR, "cannot create the main loop");
		goto out_free;
	}
	r = hs_state_open(core);
	if (r < 0)
		goto out_free; /* hs_state logged why */
	cb.userdata = core;
	r = hs_cluster_new(core->loop, config, &cb, &core->cluster);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot set up the cluster connection: %s", strerror(-r));
		goto out_free;
	}
	if (core->failed) { /* corosync came up meanwhile and disagrees: logged */
		r = -EINVAL;
		goto out_free;
	}
	*ret = core;
	return 0;

out_free:
	hs_core_free(core);
	return r;
}

void hs_core_free(struct hs_core *core)
{
	if (!core)
		return;
	hs_cluster_free(core->cluster);
	hs_state_close(core);
	if (core->loop)
		qb_loop_destroy(core->loop);
	hs_config_free(core->config);
	free(core);
}

int hs_core_on_change(struct hs_core *core, hs_core_change_fn fn, void *userdata)
{
	if (core->n_hooks == HS_CORE_MAX_HOOKS)
		return -ENOSPC;
	core->hooks[core->n_hooks].fn = fn;
	core->hooks[core->n_hooks].userdata = userdata;
	core->n_hooks++;
	return 0;
}

void hs_core_changed(struct hs_core *core, enum hs_core_change what)
{
	for (size_t i = 0; i < core->n_hooks; i++)
		core->hooks[i].fn(core->hooks[i].userdata, what);
}

/* --- nodes ------------------------------------------------------------- */

bool hs_core_is_self(const struct hs_core *core, const char *node)
{
	return node && strcmp(node, core->self->name) == 0;
}

bool hs_core_quorate(const struct hs_core *core)
{
	struct hs_cluster_view v;

	hs_cluster_view_get(core->cluster, &v);
	return v.quorate;
}

bool hs_core_is_coordinator(const struct hs_core *core)
{
	struct hs_cluster_view v;

	hs_cluster_view_get(core->cluster, &v);
	return v.quorate && v.coordinator != 0 && v.coordinator == v.local_nodeid;
}

bool hs_core_node_online(const struct hs_core *core, const char *node)
{
	struct hs_node_view n;

	return node && hs_cluster_node_get(core->cluster, node, &n) && n.online;
}

bool hs_core_host_up(const struct hs_core *core, const char *node)
{
	struct hs_node_view n;

	return node && hs_cluster_node_get(core->cluster, node, &n) && n.host_up;
}

int hs_core_node_get(const struct hs_core *core, const char *node, struct hs_node *ret)
{
	json_object *row = NULL;
	int r = -ENOENT;

	if (node && core->db && sdb_node_get(core->db, node, &row) == 0)
		r = hs_node_decode(row, ret);
	json_object_put(row);
	return r;
}

enum hs_node_state hs_core_node_state(const struct hs_core *core, const char *node)
{
	struct hs_node n = {0};

	return hs_core_node_get(core, node, &n) < 0 ? HS_NODE_UNKNOWN : n.state;
}

bool hs_core_node_in_maintenance(const struct hs_core *core, const char *node)
{
	struct hs_node n = {0};

	return hs_core_node_get(core, node, &n) >= 0 && n.admin == HS_NODE_IN_MAINTENANCE;
}

const char *hs_core_replication_address(const struct hs_core *core, const char *host)
{
	const struct hs_config_node *n = host ? hs_config_node_by_name(core->config, host) : NULL;

	if (!n)
		return NULL;
	return n->replication_address ? n->replication_address : n->address;
}

bool hs_core_may_act(const struct hs_core *core)
{
	return hs_core_quorate(core) && sdb_repl_is_synced(core->repl) &&
	       !sdb_repl_pending(core->repl);
}

/* --- pairs ------------------------------------------------------------- */

int hs_core_pair_get(const struct hs_core *core, const char *vm, struct hs_pair *ret)
{
	json_object *row = NULL;
	int r = sdb_pair_get(core->db, vm, &row);

	if (r >= 0)
		r = hs_pair_decode(row, ret);
	json_object_put(row); /* the record holds its own reference */
	return r;
}

enum hs_pair_event hs_core_pair_entered_by(const struct hs_core *core, const struct hs_pair *v)
{
	_cleanup_free_ char *name = NULL;
	enum hs_pair_event ev;

	if (sdb_pair_entered_by(core->db, v->vm, hs_pair_state_name(v->state), &name) < 0 ||
	    !name || hs_pair_event_from_name(name, &ev) < 0)
		return HS_EV_MAX;
	return ev;
}

int hs_core_pairs_list(const struct hs_core *core, const char *node, struct hs_pair_list *ret)
{
	struct hs_pair_list l = {0};
	size_t n;
	int r;

	r = node ? sdb_pairs_list_by_node(core->db, node, &l.rows) : sdb_pairs_list(core->db, &l.rows);
	if (r < 0)
		return r;
	n = json_object_array_length(l.rows);
	l.pairs = calloc(n ? n : 1, sizeof(*l.pairs));
	if (!l.pairs) {
		json_object_put(l.rows);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (hs_pair_decode(json_object_array_get_idx(l.rows, i), &l.pairs[l.n]) == 0)
			l.n++;
	*ret = l;
	return 0;
}
