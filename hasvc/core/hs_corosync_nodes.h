/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_corosync_nodes: the cluster's hosts as corosync knows them (cmap keys
 * nodelist.node.N.name, .nodeid, .ring0_addr), merged with what hasvc.conf
 * adds (replication addresses, fence devices).
 *
 * corosync.conf is the one place that names the hosts: hasvc.conf's [node]
 * sections may repeat a nodeid or address, but then they must agree, and a
 * [node X] or [fence X] for a host corosync does not list is refused. The
 * merge is a pure function of both lists, tested without corosync; only
 * hs_corosync_nodes_read() talks to it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"
#include "hs_name.h"

#define HS_COROSYNC_NODES_MAX 64

struct hs_corosync_node {
	char name[HS_NAME_MAX + 1];
	uint32_t nodeid;
	char address[256]; /* ring0_addr */
};

struct hs_corosync_nodelist {
	struct hs_corosync_node nodes[HS_COROSYNC_NODES_MAX];
	size_t n;
	uint32_t local_nodeid; /* runtime.votequorum.this_node_id; 0 when unknown */
};

/*
 * Reads corosync's nodelist and this host's nodeid from cmap. -ECONNREFUSED
 * when corosync does not answer; -EINVAL (and a malloc'd message in
 * ret_error) when a node lacks its name, nodeid or ring0_addr.
 */
int hs_corosync_nodes_read(struct hs_corosync_nodelist *ret, char **ret_error);

/*
 * Merges LIST into CONFIG: on success CONFIG's nodes are corosync's, in its
 * order, each with hasvc.conf's replication_address (else the ring0
 * address), and CONFIG's node_name is set (from the local nodeid when
 * [daemon] node was omitted). On a mismatch returns -EINVAL, leaves CONFIG
 * as it was and puts "file:line: what" in ret_error.
 */
int hs_corosync_nodes_merge(struct hs_config *config, const struct hs_corosync_nodelist *list,
			    char **ret_error);

/*
 * Whether CONFIG (already merged, or complete on its own: read while
 * corosync was down) agrees with LIST: the same hosts, nodeids and
 * addresses. -EINVAL and a message otherwise.
 */
int hs_corosync_nodes_check(const struct hs_config *config,
			    const struct hs_corosync_nodelist *list, char **ret_error);

/*
 * Whether CONFIG names every host on its own ([daemon] node and each
 * [node] with nodeid and address), so the daemon may start before corosync
 * answers and check the list once it does.
 */
bool hs_config_nodes_complete(const struct hs_config *config);
