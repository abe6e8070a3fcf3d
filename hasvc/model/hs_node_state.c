// SPDX-License-Identifier: LGPL-2.1-or-later
/* hs_node_state: node state names and the decision rule (see hs_node_state.h). */
#include <string.h>

#include "hs_node_state.h"

static const char *const names[HS_NODE_STATE_MAX] = {
	[HS_NODE_UNKNOWN] = "",
	[HS_NODE_ONLINE] = "online",
	[HS_NODE_OFFLINE] = "offline",
	[HS_NODE_FENCING] = "fencing",
	[HS_NODE_FENCED] = "fenced",
};

const char *hs_node_state_name(enum hs_node_state s)
{
	return (unsigned)s < HS_NODE_STATE_MAX ? names[s] : "";
}

enum hs_node_state hs_node_state_from_name(const char *name)
{
	for (int i = 1; name && i < HS_NODE_STATE_MAX; i++)
		if (strcmp(names[i], name) == 0)
			return (enum hs_node_state)i;
	return HS_NODE_UNKNOWN;
}

bool hs_node_state_decided(enum hs_node_state s)
{
	return s == HS_NODE_FENCING || s == HS_NODE_FENCED;
}

const char *hs_node_admin_name(enum hs_node_admin a)
{
	return a == HS_NODE_IN_MAINTENANCE ? "maintenance" : "enabled";
}

enum hs_node_admin hs_node_admin_from_name(const char *name)
{
	return name && strcmp(name, "maintenance") == 0 ? HS_NODE_IN_MAINTENANCE : HS_NODE_ENABLED;
}
