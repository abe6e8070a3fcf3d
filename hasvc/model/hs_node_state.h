/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_node_state: the states a node's row of the replicated state records
 * (state/'s nodes.state column), as an enum, with the one rule of which are
 * decisions.
 *
 * online and offline follow the membership; fencing and fenced are the
 * coordinator's decisions and maintenance is the admin's: a decision stands
 * until it is undone on purpose (a fenced host that rejoined, maintenance
 * left), whatever the membership says meanwhile.
 */
#pragma once

#include <stdbool.h>

enum hs_node_state {
	HS_NODE_UNKNOWN,     /* no row yet (the cluster just formed) */
	HS_NODE_ONLINE,      /* a member of the hasvc group */
	HS_NODE_OFFLINE,     /* not a member */
	HS_NODE_FENCING,     /* a fence is under way or failed: never taken as fenced */
	HS_NODE_FENCED,      /* powered off, verified */
	HS_NODE_MAINTENANCE, /* the admin moves its primaries away; it takes no new backups */
	HS_NODE_STATE_MAX,
};

/* "online", ...; "" for HS_NODE_UNKNOWN. */
const char *hs_node_state_name(enum hs_node_state s);
/* HS_NODE_UNKNOWN for NULL or an unknown name. */
enum hs_node_state hs_node_state_from_name(const char *name);
/* fencing, fenced, maintenance: recorded decisions, not the membership's word. */
bool hs_node_state_decided(enum hs_node_state s);
