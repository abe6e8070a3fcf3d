/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_cluster: this daemon's view of the corosync cluster.
 *
 * Joins CPG group "hasvc" and tracks votequorum; both fds are polled on the
 * daemon's qb_loop and dispatched with CS_DISPATCH_ALL. The view (which
 * configured nodes are members, whether we are quorate, who coordinates) is
 * read by the API and the coordinator through hs_cluster_view_get().
 *
 * The coordinator is the lowest nodeid among the CPG members while the
 * partition is quorate: every member computes the same answer from the same
 * configuration change, so no election messages are needed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <qb/qbloop.h>

#include "hs_config.h"
#include "hs_name.h"

#define HS_CLUSTER_MAX_NODES 64

struct hs_cluster;

struct hs_node_view {
	char name[HS_NAME_MAX + 1];
	uint32_t nodeid;
	bool online;           /* a member of our CPG group now */
	uint64_t changed_usec; /* CLOCK_REALTIME of the last online/offline change, 0 = never */
	bool host_lost;        /* left with its corosync (host down or cut off), not just hasvcd */
	bool host_up;          /* its corosync is in our totem ring, whether hasvcd runs there or not */
};

struct hs_cluster_view {
	uint32_t local_nodeid;
	bool joined;           /* our CPG join completed */
	bool quorate;          /* votequorum says so */
	uint32_t coordinator;  /* 0 when not quorate */
	uint32_t expected_votes;
	uint32_t total_votes;
	uint64_t ring_id;      /* CPG ring sequence of the last configuration change */
	uint64_t membership_changes;
	size_t n_nodes;        /* configured nodes, in config order */
	struct hs_node_view nodes[HS_CLUSTER_MAX_NODES];
};

/* Called on the loop after each membership or quorum change. */
typedef void (*hs_cluster_change_fn)(void *userdata, const struct hs_cluster_view *view);
/* Called on the loop for each CPG message, in agreed order. */
typedef void (*hs_cluster_deliver_fn)(void *userdata, uint32_t sender_nodeid, const void *msg,
				      size_t len);

/*
 * Called on the loop at each CPG configuration change, at the same point of
 * the message order on every member (before the change callback).
 */
typedef void (*hs_cluster_confchg_fn)(void *userdata, const uint32_t *members, size_t n_members);

/*
 * Called on the loop when the cluster cannot be served with this
 * configuration (hasvc.conf disagrees with corosync's nodelist); MESSAGE was
 * logged. The daemon stops.
 */
typedef void (*hs_cluster_fatal_fn)(void *userdata, const char *message);

struct hs_cluster_callbacks {
	hs_cluster_change_fn change;
	hs_cluster_confchg_fn confchg;
	hs_cluster_deliver_fn deliver;
	hs_cluster_fatal_fn fatal;
	/*
	 * The configuration's nodes were not read from corosync (it did not
	 * answer at start-up): check them against its nodelist at the first
	 * join, and call fatal on a mismatch.
	 */
	bool check_nodes;
	void *userdata;
};

int hs_cluster_new(qb_loop_t *loop, const struct hs_config *config,
		   const struct hs_cluster_callbacks *callbacks, struct hs_cluster **ret);
void hs_cluster_free(struct hs_cluster *cluster);

void hs_cluster_view_get(const struct hs_cluster *cluster, struct hs_cluster_view *ret);
/* NAME as the membership sees it now; false when NAME is not a configured node. */
bool hs_cluster_node_get(const struct hs_cluster *cluster, const char *name,
			 struct hs_node_view *ret);

/* Multicasts MSG to the group with agreed ordering; -EAGAIN when corosync is busy. */
int hs_cluster_send(struct hs_cluster *cluster, const void *msg, size_t len);
