// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_corosync_nodes: corosync's nodelist read from cmap, and its merge with
 * hasvc.conf (see hs_corosync_nodes.h).
 *
 * cmap holds one key per field: nodelist.node.0.name, nodelist.node.0.nodeid,
 * nodelist.node.0.ring0_addr, nodelist.node.1.name, ... The reader walks the
 * prefix "nodelist.node." with cmap_iter and keeps the three fields of each
 * index; the order of the indexes is corosync.conf's. This host's nodeid is
 * runtime.votequorum.this_node_id (votequorum sets it as soon as corosync
 * runs, before any CPG join).
 *
 * The merge and the check take both lists as plain input and write "file:
 * line: what" errors naming the [node] or [fence] section, so that a wrong
 * nodeid is found in the file, not guessed at from a log.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corosync/cmap.h>

#include "hs_cleanup.h"
#include "hs_corosync_nodes.h"

#define NODELIST_PREFIX "nodelist.node."

static int error_set(char **ret_error, const char *path, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int error_set(char **ret_error, const char *path, unsigned line, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	if (!ret_error)
		return -EINVAL;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		*ret_error = NULL;
		return -EINVAL;
	}
	if (line)
		r = asprintf(ret_error, "%s:%u: %s", path ? path : "hasvc.conf", line, msg);
	else
		r = asprintf(ret_error, "%s: %s", path ? path : "hasvc.conf", msg);
	if (r < 0)
		*ret_error = NULL;
	return -EINVAL;
}

/* --- reading cmap ------------------------------------------------------ */

static int node_field_set(struct hs_corosync_nodelist *l, cmap_handle_t h, const char *key)
{
	const char *rest = key + strlen(NODELIST_PREFIX);
	char *end;
	unsigned long idx = strtoul(rest, &end, 10);
	struct hs_corosync_node *n;
	char *value = NULL;
	uint32_t id;

	if (end == rest || *end != '.' || idx >= HS_COROSYNC_NODES_MAX)
		return idx >= HS_COROSYNC_NODES_MAX && end != rest ? -E2BIG : 0;
	n = &l->nodes[idx];
	if (idx >= l->n)
		l->n = idx + 1;
	end++;
	if (strcmp(end, "nodeid") == 0) {
		if (cmap_get_uint32(h, key, &id) == CS_OK)
			n->nodeid = id;
	} else if (strcmp(end, "name") == 0 || strcmp(end, "ring0_addr") == 0) {
		if (cmap_get_string(h, key, &value) != CS_OK)
			return 0;
		if (strcmp(end, "name") == 0)
			snprintf(n->name, sizeof(n->name), "%s", value);
		else
			snprintf(n->address, sizeof(n->address), "%s", value);
		free(value);
	}
	return 0;
}

int hs_corosync_nodes_read(struct hs_corosync_nodelist *ret, char **ret_error)
{
	struct hs_corosync_nodelist *l = calloc(1, sizeof(*l));
	char key[CMAP_KEYNAME_MAXLEN + 1];
	cmap_iter_handle_t it;
	cmap_handle_t h;
	size_t len;
	cmap_value_types_t type;
	int r = 0;

	if (!l)
		return -ENOMEM;
	if (cmap_initialize(&h) != CS_OK) {
		free(l);
		return -ECONNREFUSED;
	}
	if (cmap_iter_init(h, NODELIST_PREFIX, &it) != CS_OK) {
		r = -ECONNREFUSED;
		goto out_finalize;
	}
	while (r == 0 && cmap_iter_next(h, it, key, &len, &type) == CS_OK)
		r = node_field_set(l, h, key);
	cmap_iter_finalize(h, it);
	if (cmap_get_uint32(h, "runtime.votequorum.this_node_id", &l->local_nodeid) != CS_OK)
		l->local_nodeid = 0;
	if (r == -E2BIG) {
		error_set(ret_error, "corosync", 0, "corosync's nodelist has more than %d nodes",
			  HS_COROSYNC_NODES_MAX);
		r = -EINVAL;
		goto out_finalize;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct hs_corosync_node *n = &l->nodes[i];

		if (!n->name[0] || n->nodeid == 0 || !n->address[0]) {
			r = error_set(ret_error, "corosync", 0,
				      "corosync's nodelist.node.%zu lacks its %s: hasvc needs name, "
				      "nodeid and ring0_addr for every node",
				      i, !n->name[0] ? "name" : n->nodeid == 0 ? "nodeid" : "ring0_addr");
			goto out_finalize;
		}
		if (!hs_name_valid(n->name)) {
			r = error_set(ret_error, "corosync", 0,
				      "corosync's node name '%s' is not a valid hasvc host name (" HS_NAME_RULE ")",
				      n->name);
			goto out_finalize;
		}
	}
	*ret = *l;

out_finalize:
	cmap_finalize(h);
	free(l);
	return r;
}

/* --- the merge --------------------------------------------------------- */

static const struct hs_corosync_node *list_by_name(const struct hs_corosync_nodelist *l,
						   const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->nodes[i].name, name) == 0)
			return &l->nodes[i];
	return NULL;
}

static const struct hs_corosync_node *list_by_id(const struct hs_corosync_nodelist *l,
						 uint32_t nodeid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->nodes[i].nodeid == nodeid)
			return &l->nodes[i];
	return NULL;
}

/* "node1, node2, node3": what an error about a missing name offers instead */
static void list_names(const struct hs_corosync_nodelist *l, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n && off < size; i++)
		off += snprintf(buf + off, size - off, "%s%s", i ? ", " : "", l->nodes[i].name);
}

/* Every check the merge and the late check share: hasvc.conf against corosync. */
static int config_agrees(const struct hs_config *c, const struct hs_corosync_nodelist *l,
			 const char **ret_self, char **ret_error)
{
	const struct hs_corosync_node *self = NULL;
	char names[512];

	list_names(l, names, sizeof(names));
	if (l->n == 0)
		return error_set(ret_error, c->path, 0,
				 "corosync's nodelist is empty: hasvc takes its hosts from "
				 "corosync.conf's nodelist { node { name, nodeid, ring0_addr } }");
	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct hs_config_node *n = &c->nodes[i];
		const struct hs_corosync_node *cs = list_by_name(l, n->name);

		if (!cs)
			return error_set(ret_error, c->path, n->line,
					 "[node %s]: corosync's nodelist has no node %s (it lists %s)",
					 n->name, n->name, names);
		if (n->nodeid && n->nodeid != cs->nodeid)
			return error_set(ret_error, c->path, n->line,
					 "%s has nodeid %u here but %u in corosync's nodelist", n->name,
					 n->nodeid, cs->nodeid);
		if (n->address && strcmp(n->address, cs->address) != 0)
			return error_set(ret_error, c->path, n->line,
					 "%s has address %s here but %s in corosync's nodelist",
					 n->name, n->address, cs->address);
	}
	for (size_t i = 0; i < c->n_fences; i++) {
		const struct hs_config_fence *f = &c->fences[i];

		if (!list_by_name(l, f->node))
			return error_set(ret_error, c->path, f->line,
					 "[fence %s]: corosync's nodelist has no node %s (it lists %s)",
					 f->node, f->node, names);
	}
	if (c->node_name) {
		self = list_by_name(l, c->node_name);
		if (!self)
			return error_set(ret_error, c->path, 0,
					 "[daemon] node = %s, but corosync's nodelist has no node %s "
					 "(it lists %s)",
					 c->node_name, c->node_name, names);
		if (l->local_nodeid && self->nodeid != l->local_nodeid)
			return error_set(ret_error, c->path, 0,
					 "[daemon] node = %s (nodeid %u), but corosync runs here as "
					 "nodeid %u",
					 c->node_name, self->nodeid, l->local_nodeid);
	} else {
		self = l->local_nodeid ? list_by_id(l, l->local_nodeid) : NULL;
		if (!self)
			return error_set(ret_error, c->path, 0,
					 "[daemon] node is not set and corosync's local nodeid %u is "
					 "not in its nodelist: which host is this?",
					 l->local_nodeid);
	}
	*ret_self = self->name;
	return 0;
}

int hs_corosync_nodes_merge(struct hs_config *c, const struct hs_corosync_nodelist *l,
			    char **ret_error)
{
	struct hs_config_node *nodes;
	const char *self_name;
	char *self = NULL;
	int r;

	r = config_agrees(c, l, &self_name, ret_error);
	if (r < 0)
		return r;
	nodes = calloc(l->n, sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	self = strdup(self_name);
	if (!self) {
		r = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct hs_config_node *given = hs_config_node_by_name(c, l->nodes[i].name);
		const char *repl = given && given->replication_address ? given->replication_address :
									 l->nodes[i].address;

		nodes[i].name = strdup(l->nodes[i].name);
		nodes[i].nodeid = l->nodes[i].nodeid;
		nodes[i].address = strdup(l->nodes[i].address);
		nodes[i].replication_address = strdup(repl);
		nodes[i].line = given ? given->line : 0;
		if (!nodes[i].name || !nodes[i].address || !nodes[i].replication_address) {
			r = -ENOMEM;
			goto out_free;
		}
	}
	/* all checked and built: only now is the configuration changed */
	for (size_t i = 0; i < c->n_nodes; i++) {
		free(c->nodes[i].name);
		free(c->nodes[i].address);
		free(c->nodes[i].replication_address);
	}
	free(c->nodes);
	c->nodes = nodes;
	c->n_nodes = l->n;
	free(c->node_name);
	c->node_name = self;
	return 0;

out_free:
	for (size_t i = 0; i < l->n; i++) {
		free(nodes[i].name);
		free(nodes[i].address);
		free(nodes[i].replication_address);
	}
	free(nodes);
	free(self);
	if (ret_error)
		*ret_error = strdup("out of memory");
	return r;
}

int hs_corosync_nodes_check(const struct hs_config *c, const struct hs_corosync_nodelist *l,
			    char **ret_error)
{
	const char *self;
	int r;

	r = config_agrees(c, l, &self, ret_error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l->n; i++)
		if (!hs_config_node_by_name(c, l->nodes[i].name))
			return error_set(ret_error, c->path, 0,
					 "corosync's nodelist has node %s (nodeid %u), which hasvc.conf "
					 "does not name; restart hasvcd to take it",
					 l->nodes[i].name, l->nodes[i].nodeid);
	return 0;
}

bool hs_config_nodes_complete(const struct hs_config *c)
{
	if (!c->node_name || c->n_nodes == 0 || !hs_config_node_by_name(c, c->node_name))
		return false;
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].nodeid == 0 || !c->nodes[i].address)
			return false;
	for (size_t i = 0; i < c->n_fences; i++)
		if (!hs_config_node_by_name(c, c->fences[i].node))
			return false;
	return true;
}
