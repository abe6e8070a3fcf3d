/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_node_state: the states a node's row of the replicated state records
 * (state/'s nodes.state column), as an enum, with the one rule of which are
 * decisions.
 *
 * online and offline follow the membership; fencing and fenced are the
 * coordinator's decisions: a decision stands until it is undone on purpose (a
 * fenced host that rejoined), whatever the membership says meanwhile.
 *
 * Maintenance is not one of them: it is the admin's, a field of its own
 * (nodes.admin_state), so a host in maintenance still reads online or offline
 * (or fencing, when it was lost) like any other.
 */
#pragma once

#include <stdbool.h>

enum hs_node_state {
	HS_NODE_UNKNOWN,     /* no row yet (the cluster just formed) */
	HS_NODE_ONLINE,      /* a member of the hasvc group */
	HS_NODE_OFFLINE,     /* not a member */
	HS_NODE_FENCING,     /* a fence is under way or failed: never taken as fenced */
	HS_NODE_FENCED,      /* powered off, verified */
	HS_NODE_STATE_MAX,
};

/* What the admin wants of a node (nodes.admin_state). */
enum hs_node_admin {
	HS_NODE_ENABLED,        /* takes primaries and backups */
	HS_NODE_IN_MAINTENANCE, /* its primaries move away; it takes no new backups */
};

/* "online", ...; "" for HS_NODE_UNKNOWN. */
const char *hs_node_state_name(enum hs_node_state s);
/* HS_NODE_UNKNOWN for NULL or an unknown name. */
enum hs_node_state hs_node_state_from_name(const char *name);
/* fencing, fenced: recorded decisions, not the membership's word. */
bool hs_node_state_decided(enum hs_node_state s);

/* "enabled" | "maintenance". */
const char *hs_node_admin_name(enum hs_node_admin a);
/* HS_NODE_ENABLED for NULL or an unknown name (a row from before admin_state). */
enum hs_node_admin hs_node_admin_from_name(const char *name);
