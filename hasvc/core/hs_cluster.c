// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_cluster: membership and quorum from corosync, on the daemon's qb_loop.
 *
 * Two corosync connections, each an fd polled on the loop and dispatched with
 * CS_DISPATCH_ALL (the corosync-notifyd pattern):
 *   - CPG, group "hasvc": who runs hasvcd now (configuration changes) and the
 *     agreed-order message stream every replicated change travels on;
 *   - votequorum: whether this partition may act.
 *
 * Corosync may be absent (not started yet, restarted, crashed). Then the view
 * says "not joined, not quorate", which stops every action that needs the
 * cluster, and a reconnect timer tries again every second. A failed dispatch
 * (corosync went away) is treated the same way. CS_ERR_TRY_AGAIN is never
 * fatal: it is retried.
 *
 * The coordinator is derived, not elected: the lowest nodeid among the CPG
 * members, but only while quorate. All members see the same configuration
 * changes in the same order, so they agree without exchanging a message.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <corosync/cpg.h>
#include <corosync/votequorum.h>
#include <qb/qblog.h>

#include "hs_cluster.h"
#include "hs_corosync_crypto.h"
#include "hs_corosync_nodes.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"

#define HS_CPG_GROUP "hasvc"
#define RECONNECT_MS 1000
#define TRY_AGAIN_MAX 50
#define TRY_AGAIN_SLEEP_US 20000

struct hs_cluster {
	qb_loop_t *loop;
	const struct hs_config *config;
	struct hs_cluster_callbacks cb;

	cpg_handle_t cpg;
	bool cpg_connected;
	uint32_t totem[HS_CLUSTER_MAX_NODES]; /* the corosync ring: hosts up, hasvcd or not */
	size_t n_totem;
	bool totem_known; /* a totem configuration arrived since we joined */
	votequorum_handle_t vq;
	bool vq_connected;
	qb_loop_timer_handle reconnect_timer;
	bool reconnect_armed;
	bool logged_unreachable; /* so a dead corosync is logged once, not every second */

	uint32_t members[HS_CLUSTER_MAX_NODES];
	size_t n_members;
	struct hs_cluster_view view;
};

static const char *cluster_strerror(cs_error_t err)
{
	switch (err) {
	case CS_OK: return "ok";
	case CS_ERR_LIBRARY: return "cannot connect to corosync";
	case CS_ERR_TRY_AGAIN: return "corosync busy";
	case CS_ERR_BAD_HANDLE: return "connection to corosync lost";
	case CS_ERR_ACCESS: return "access denied by corosync";
	case CS_ERR_EXIST: return "already joined";
	case CS_ERR_NOT_EXIST: return "not joined";
	default: return "corosync error";
	}
}

static int cs_to_errno(cs_error_t err)
{
	switch (err) {
	case CS_OK: return 0;
	case CS_ERR_TRY_AGAIN: return -EAGAIN;
	case CS_ERR_NO_MEMORY: return -ENOMEM;
	case CS_ERR_ACCESS: return -EACCES;
	case CS_ERR_TOO_BIG: return -EMSGSIZE;
	case CS_ERR_NOT_EXIST: return -ENOTCONN;
	default: return -ECONNRESET;
	}
}

static void cluster_schedule_reconnect(struct hs_cluster *c);

static bool is_member(const struct hs_cluster *c, uint32_t nodeid)
{
	for (size_t i = 0; i < c->n_members; i++)
		if (c->members[i] == nodeid)
			return true;
	return false;
}

static const char *node_name(const struct hs_cluster *c, uint32_t nodeid)
{
	const struct hs_config_node *n = hs_config_node_by_id(c->config, nodeid);

	return n ? n->name : "(unconfigured)";
}

static bool in_totem(const struct hs_cluster *c, uint32_t nodeid)
{
	for (size_t i = 0; i < c->n_totem; i++)
		if (c->totem[i] == nodeid)
			return true;
	return false;
}

/* Recomputes the derived parts of the view and tells the daemon. */
static void view_update(struct hs_cluster *c)
{
	struct hs_cluster_view *v = &c->view;
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	uint32_t coordinator = 0;

	v->joined = c->cpg_connected;
	if (!c->vq_connected)
		v->quorate = false;
	for (size_t i = 0; i < v->n_nodes; i++) {
		bool online = v->joined && is_member(c, v->nodes[i].nodeid);

		/*
		 * A hasvcd that stopped leaves the CPG group but not the ring:
		 * its host and VMs still run. Only a host gone from the ring is
		 * lost (fenced, failed over).
		 */
		if (c->totem_known) {
			v->nodes[i].host_up = online || in_totem(c, v->nodes[i].nodeid);
			v->nodes[i].host_lost = v->joined && !v->nodes[i].host_up;
		} else {
			/* until the ring is known, trust the CPG leave reasons */
			v->nodes[i].host_up = online || !v->nodes[i].host_lost;
		}

		if (online != v->nodes[i].online) {
			v->nodes[i].online = online;
			v->nodes[i].changed_usec = now;
		}
	}
	if (v->joined && v->quorate)
		for (size_t i = 0; i < c->n_members; i++)
			if (coordinator == 0 || c->members[i] < coordinator)
				coordinator = c->members[i];
	if (coordinator != v->coordinator) {
		if (coordinator)
			qb_log(LOG_NOTICE, "coordinator is now %s (nodeid %u)%s",
			       node_name(c, coordinator), coordinator,
			       coordinator == v->local_nodeid ? ", this host" : "");
		else
			qb_log(LOG_WARNING, "no coordinator: %s",
			       v->joined ? "partition has no quorum" : "not in the cluster");
		v->coordinator = coordinator;
	}
	if (c->cb.change)
		c->cb.change(c->cb.userdata, v);
}

static void node_lost_set(struct hs_cluster *c, uint32_t nodeid, bool lost)
{
	for (size_t i = 0; i < c->view.n_nodes; i++)
		if (c->view.nodes[i].nodeid == nodeid)
			c->view.nodes[i].host_lost = lost;
}

static void cpg_deliver_cb(cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid,
			   uint32_t pid, void *msg, size_t len)
{
	struct hs_cluster *c = NULL;

	cpg_context_get(handle, (void **)&c);
	if (c && c->cb.deliver)
		c->cb.deliver(c->cb.userdata, nodeid, msg, len);
}

static void cpg_confchg_cb(cpg_handle_t handle, const struct cpg_name *group,
			   const struct cpg_address *members, size_t n_members,
			   const struct cpg_address *left, size_t n_left,
			   const struct cpg_address *joined, size_t n_joined)
{
	struct hs_cluster *c = NULL;

	cpg_context_get(handle, (void **)&c);
	if (!c)
		return;
	/* One hasvcd per host: several pids of one nodeid count once. */
	c->n_members = 0;
	for (size_t i = 0; i < n_members && c->n_members < HS_CLUSTER_MAX_NODES; i++)
		if (!is_member(c, members[i].nodeid))
			c->members[c->n_members++] = members[i].nodeid;
	for (size_t i = 0; i < n_left; i++) {
		qb_log(LOG_NOTICE, "node %s (nodeid %u) left the cluster%s",
		       node_name(c, left[i].nodeid), left[i].nodeid,
		       left[i].reason == CPG_REASON_NODEDOWN ? " (host down or cut off)" :
		       left[i].reason == CPG_REASON_PROCDOWN ? " (hasvcd stopped)" : "");
		node_lost_set(c, left[i].nodeid, left[i].reason == CPG_REASON_NODEDOWN);
	}
	for (size_t i = 0; i < n_joined; i++)
		node_lost_set(c, joined[i].nodeid, false);
	for (size_t i = 0; i < n_joined; i++)
		qb_log(LOG_NOTICE, "node %s (nodeid %u) joined the cluster",
		       node_name(c, joined[i].nodeid), joined[i].nodeid);
	c->view.membership_changes++;
	if (c->cb.confchg)
		c->cb.confchg(c->cb.userdata, c->members, c->n_members);
	view_update(c);
}

static void cpg_totem_confchg_cb(cpg_handle_t handle, struct cpg_ring_id ring_id,
				 uint32_t n_members, const uint32_t *members)
{
	struct hs_cluster *c = NULL;

	cpg_context_get(handle, (void **)&c);
	if (!c)
		return;
	c->view.ring_id = ring_id.seq;
	c->n_totem = 0;
	c->totem_known = true;
	for (uint32_t i = 0; i < n_members && c->n_totem < HS_CLUSTER_MAX_NODES; i++)
		c->totem[c->n_totem++] = members[i];
	view_update(c);
}

static void vq_refresh_votes(struct hs_cluster *c)
{
	struct votequorum_info info;

	if (votequorum_getinfo(c->vq, 0, &info) == CS_OK) {
		c->view.expected_votes = info.node_expected_votes;
		c->view.total_votes = info.total_votes;
	}
}

static void vq_quorum_cb(votequorum_handle_t handle, uint64_t context, uint32_t quorate,
			 uint32_t n_nodes, votequorum_node_t nodes[])
{
	struct hs_cluster *c = (struct hs_cluster *)(uintptr_t)context;

	if (c->view.quorate != !!quorate)
		qb_log(quorate ? LOG_NOTICE : LOG_WARNING, "quorum %s (%u nodes in the partition)",
		       quorate ? "gained" : "lost: this host will not fence, promote or change pairs",
		       n_nodes);
	c->view.quorate = !!quorate;
	vq_refresh_votes(c);
	view_update(c);
}

static void cluster_disconnect(struct hs_cluster *c)
{
	if (c->cpg_connected) {
		int fd;
		if (cpg_fd_get(c->cpg, &fd) == CS_OK)
			qb_loop_poll_del(c->loop, fd);
		cpg_finalize(c->cpg);
		c->cpg_connected = false;
	}
	if (c->vq_connected) {
		int fd;
		if (votequorum_fd_get(c->vq, &fd) == CS_OK)
			qb_loop_poll_del(c->loop, fd);
		votequorum_finalize(c->vq);
		c->vq_connected = false;
	}
	c->n_members = 0;
	c->n_totem = 0;
	c->totem_known = false;
	c->view.quorate = false;
}

static void cluster_lost(struct hs_cluster *c, const char *what, cs_error_t err)
{
	qb_log(LOG_ERR, "%s: %s (%d); leaving the cluster view until corosync is back", what,
	       cluster_strerror(err), err);
	cluster_disconnect(c);
	view_update(c);
	cluster_schedule_reconnect(c);
}

static int32_t cpg_fd_ready(int32_t fd, int32_t revents, void *data)
{
	struct hs_cluster *c = data;
	cs_error_t err;

	err = cpg_dispatch(c->cpg, CS_DISPATCH_ALL);
	if (err == CS_OK || err == CS_ERR_TRY_AGAIN)
		return 0;
	cluster_lost(c, "cpg dispatch", err);
	return 0;
}

static int32_t vq_fd_ready(int32_t fd, int32_t revents, void *data)
{
	struct hs_cluster *c = data;
	cs_error_t err;

	err = votequorum_dispatch(c->vq, CS_DISPATCH_ALL);
	if (err == CS_OK || err == CS_ERR_TRY_AGAIN)
		return 0;
	cluster_lost(c, "votequorum dispatch", err);
	return 0;
}

static cs_error_t cpg_connect(struct hs_cluster *c)
{
	cpg_model_v1_data_t model = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = cpg_deliver_cb,
		.cpg_confchg_fn = cpg_confchg_cb,
		.cpg_totem_confchg_fn = cpg_totem_confchg_cb,
		.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
	};
	struct cpg_name group;
	unsigned int nodeid;
	cs_error_t err;
	int fd, tries = 0;

	err = cpg_model_initialize(&c->cpg, CPG_MODEL_V1, (cpg_model_data_t *)&model, c);
	if (err != CS_OK)
		return err;
	err = cpg_local_get(c->cpg, &nodeid);
	if (err != CS_OK)
		goto out_finalize;
	c->view.local_nodeid = nodeid;

	strcpy(group.value, HS_CPG_GROUP);
	group.length = strlen(HS_CPG_GROUP);
	do {
		err = cpg_join(c->cpg, &group);
		if (err == CS_ERR_TRY_AGAIN)
			usleep(TRY_AGAIN_SLEEP_US);
	} while (err == CS_ERR_TRY_AGAIN && ++tries < TRY_AGAIN_MAX);
	if (err != CS_OK)
		goto out_finalize;

	err = cpg_fd_get(c->cpg, &fd);
	if (err != CS_OK)
		goto out_finalize;
	if (qb_loop_poll_add(c->loop, QB_LOOP_HIGH, fd, POLLIN | POLLNVAL, c, cpg_fd_ready) < 0) {
		err = CS_ERR_LIBRARY;
		goto out_finalize;
	}
	c->cpg_connected = true;
	return CS_OK;

out_finalize:
	cpg_finalize(c->cpg);
	return err;
}

static cs_error_t vq_connect(struct hs_cluster *c)
{
	votequorum_callbacks_t callbacks = {.votequorum_quorum_notify_fn = vq_quorum_cb};
	cs_error_t err;
	int fd;

	err = votequorum_initialize(&c->vq, &callbacks);
	if (err != CS_OK)
		return err;
	err = votequorum_trackstart(c->vq, (uint64_t)(uintptr_t)c, CS_TRACK_CHANGES | CS_TRACK_CURRENT);
	if (err != CS_OK)
		goto out_finalize;
	err = votequorum_fd_get(c->vq, &fd);
	if (err != CS_OK)
		goto out_finalize;
	if (qb_loop_poll_add(c->loop, QB_LOOP_HIGH, fd, POLLIN | POLLNVAL, c, vq_fd_ready) < 0) {
		err = CS_ERR_LIBRARY;
		goto out_finalize;
	}
	c->vq_connected = true;
	vq_refresh_votes(c);
	return CS_OK;

out_finalize:
	votequorum_finalize(c->vq);
	return err;
}

/*
 * hasvc.conf's nodes were taken on their own while corosync was down: now
 * that it answers, they must be its nodelist. False (the daemon is told to
 * stop) when they are not.
 */
static bool nodes_checked(struct hs_cluster *c)
{
	struct hs_corosync_nodelist *l = calloc(1, sizeof(*l));
	_cleanup_free_ char *error = NULL;
	int r = l ? hs_corosync_nodes_read(l, &error) : -ENOMEM;

	if (r >= 0) {
		l->local_nodeid = c->view.local_nodeid; /* cpg_local_get's answer */
		r = hs_corosync_nodes_check(c->config, l, &error);
	}
	free(l);
	if (r >= 0) {
		c->cb.check_nodes = false;
		qb_log(LOG_INFO, "hasvc.conf's nodes agree with corosync's nodelist");
		return true;
	}
	if (r == -ECONNREFUSED) /* gone again: the next join checks */
		return true;
	qb_log(LOG_CRIT, "hasvc.conf disagrees with corosync's nodelist: %s",
	       error ? error : strerror(-r));
	if (c->cb.fatal)
		c->cb.fatal(c->cb.userdata, error ? error : strerror(-r));
	return false;
}

static void cluster_connect(struct hs_cluster *c)
{
	cs_error_t err;

	err = cpg_connect(c);
	if (err == CS_OK) {
		err = vq_connect(c);
		if (err != CS_OK)
			cluster_disconnect(c);
	}
	if (err != CS_OK) {
		if (!c->logged_unreachable)
			qb_log(LOG_WARNING, "cannot join corosync group '%s': %s (%d); retrying every %d ms",
			       HS_CPG_GROUP, cluster_strerror(err), err, RECONNECT_MS);
		c->logged_unreachable = true;
		cluster_schedule_reconnect(c);
		return;
	}
	c->logged_unreachable = false;
	if (c->cb.check_nodes && !nodes_checked(c))
		return;
	qb_log(LOG_NOTICE, "joined corosync group '%s' as nodeid %u (%s)", HS_CPG_GROUP,
	       c->view.local_nodeid, node_name(c, c->view.local_nodeid));
	hs_corosync_crypto_warn();
	view_update(c);
}

static void reconnect_timer_fired(void *data)
{
	struct hs_cluster *c = data;

	c->reconnect_armed = false;
	if (!c->cpg_connected)
		cluster_connect(c);
}

static void cluster_schedule_reconnect(struct hs_cluster *c)
{
	if (c->reconnect_armed)
		return;
	if (qb_loop_timer_add(c->loop, QB_LOOP_LOW, (uint64_t)RECONNECT_MS * 1000000ULL, c,
			      reconnect_timer_fired, &c->reconnect_timer) == 0)
		c->reconnect_armed = true;
	else
		qb_log(LOG_ERR, "cannot arm the corosync reconnect timer");
}

int hs_cluster_new(qb_loop_t *loop, const struct hs_config *config,
		   const struct hs_cluster_callbacks *callbacks, struct hs_cluster **ret)
{
	struct hs_cluster *c;

	if (config->n_nodes > HS_CLUSTER_MAX_NODES)
		return -E2BIG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->config = config;
	if (callbacks)
		c->cb = *callbacks;
	c->view.n_nodes = config->n_nodes;
	for (size_t i = 0; i < config->n_nodes; i++) {
		snprintf(c->view.nodes[i].name, sizeof(c->view.nodes[i].name), "%s",
			 config->nodes[i].name);
		c->view.nodes[i].nodeid = config->nodes[i].nodeid;
	}
	cluster_connect(c);
	*ret = c;
	return 0;
}

void hs_cluster_free(struct hs_cluster *c)
{
	if (!c)
		return;
	if (c->reconnect_armed)
		qb_loop_timer_del(c->loop, c->reconnect_timer);
	cluster_disconnect(c);
	free(c);
}

void hs_cluster_view_get(const struct hs_cluster *c, struct hs_cluster_view *ret)
{
	*ret = c->view;
}

bool hs_cluster_node_get(const struct hs_cluster *c, const char *name, struct hs_node_view *ret)
{
	for (size_t i = 0; name && i < c->view.n_nodes; i++)
		if (strcmp(c->view.nodes[i].name, name) == 0) {
			*ret = c->view.nodes[i];
			return true;
		}
	return false;
}

int hs_cluster_send(struct hs_cluster *c, const void *msg, size_t len)
{
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	cs_error_t err;

	if (!c->cpg_connected)
		return -ENOTCONN;
	err = cpg_mcast_joined(c->cpg, CPG_TYPE_AGREED, &iov, 1);
	return cs_to_errno(err);
}
