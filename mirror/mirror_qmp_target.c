// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_qmp_target: where the qmp engine's job of a disk TARGET writes, and
 * how that place gets a fresh connection to the backup after an outage.
 *
 *   job "hs-TARGET" -> quorum node "hs-q-TARGET" (vote-threshold 1)
 *                        -> NBD node "hs-nbd-TARGET" (later "hs-nbd-TARGET-N")
 *
 * The quorum has one child and no vote to take: it is there because its
 * child can be exchanged while the job holds it (x-blockdev-change), which
 * no other node lets us do. After a cut of the replication link the NBD
 * node's own reconnect costs a second more than the copy: its connect,
 * begun during the cut, sits in the kernel's SYN backoff, and once hasvc
 * shuts it down QEMU's connect thread sleeps 1 s before it tries again
 * (QEMU 10.0 nbd/client-connection.c). A new NBD node connects at once on
 * blockdev-add. So a resume first swaps one in: add the new node, add it
 * to the quorum, remove the old child, delete the old node
 * (docs/datapath-experiments.md A8: heal to READY 1.2 s instead of 2.1 s).
 * The first design, a raw node reopened onto the new NBD node, is refused
 * by QEMU while the old node is disconnected (A7).
 *
 * x-blockdev-change and x-debug-query-block-graph are unstable QMP: when a
 * QEMU answers them differently the swap fails and the resume goes on the
 * old node's own reconnect, a second slower; test_resync_delta asserts
 * that the swap is taken (docs/mirror.md).
 *
 * Runs on the mirror thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "mirror_internal.h"

static void quorum_name(char *buf, size_t size, const char *target)
{
	snprintf(buf, size, "hs-q-%s", target);
}

/* NBD node GEN of TARGET: "hs-nbd-vda" for 0, "hs-nbd-vda-3" for 3. */
static void nbd_name(char *buf, size_t size, const char *target, unsigned gen)
{
	if (gen == 0)
		snprintf(buf, size, "hs-nbd-%s", target);
	else
		snprintf(buf, size, "hs-nbd-%s-%u", target, gen);
}

/* The generation of NBD node NAME of TARGET; -1 when NAME is no such node. */
static long nbd_gen(const char *name, const char *target)
{
	char base[128], *end;
	size_t n;
	long gen;

	nbd_name(base, sizeof(base), target, 0);
	n = strlen(base);
	if (strncmp(name, base, n) != 0)
		return -1;
	if (name[n] == '\0')
		return 0;
	if (name[n] != '-' || name[n + 1] < '1' || name[n + 1] > '9')
		return -1;
	gen = strtol(name + n + 1, &end, 10);
	return *end == '\0' && gen > 0 ? gen : -1;
}

static void node_del(virDomainPtr d, const char *node)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", node);
	mirror__qmp_quiet(d, cmd);
}

int mirror__qmp_nbd_add(struct request *r, virDomainPtr d, const char *node, const char *target,
			bool tls)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"nbd\","
		 "\"node-name\":\"%s\",\"server\":{\"type\":\"inet\",\"host\":\"%s\","
		 "\"port\":\"%u\"},\"export\":\"%s\",\"reconnect-delay\":%d,"
		 "\"open-timeout\":5%s}}",
		 node, r->host, r->port, target, MIRROR__QMP_RECONNECT_DELAY_S,
		 tls ? ",\"tls-creds\":\"" MIRROR__QMP_TLS_ID "\"" : "");
	return mirror__qmp(r, d, cmd);
}

int mirror__qmp_target_add(struct request *r, virDomainPtr d, const char *target, bool tls,
			   char *node, size_t size)
{
	char nbd[128], cmd[512];

	nbd_name(nbd, sizeof(nbd), target, 0);
	quorum_name(node, size, target);
	if (mirror__qmp_nbd_add(r, d, nbd, target, tls) < 0)
		return r->result;
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"quorum\","
		 "\"node-name\":\"%s\",\"vote-threshold\":1,\"read-pattern\":\"fifo\","
		 "\"children\":[\"%s\"]}}",
		 node, nbd);
	if (mirror__qmp(r, d, cmd) < 0) {
		node_del(d, nbd);
		return r->result;
	}
	return 0;
}

int mirror__qmp_graph_child(json_object *graph, const char *parent, char *node, size_t node_size,
			    char *edge, size_t edge_size)
{
	json_object *nodes, *edges, *v;
	int64_t parent_id = -1, child_id = -1;
	const char *edge_name = NULL;

	if (!json_object_object_get_ex(graph, "nodes", &nodes) ||
	    !json_object_object_get_ex(graph, "edges", &edges) ||
	    !json_object_is_type(nodes, json_type_array) ||
	    !json_object_is_type(edges, json_type_array))
		return -EINVAL;
	for (size_t k = 0; k < json_object_array_length(nodes); k++) {
		json_object *o = json_object_array_get_idx(nodes, k), *name, *id;

		if (json_object_object_get_ex(o, "name", &name) &&
		    json_object_object_get_ex(o, "id", &id) &&
		    strcmp(json_object_get_string(name), parent) == 0)
			parent_id = json_object_get_int64(id);
	}
	if (parent_id < 0)
		return -ENOENT;
	for (size_t k = 0; k < json_object_array_length(edges); k++) {
		json_object *o = json_object_array_get_idx(edges, k), *p, *c, *n;

		if (!json_object_object_get_ex(o, "parent", &p) ||
		    !json_object_object_get_ex(o, "child", &c) ||
		    !json_object_object_get_ex(o, "name", &n) || json_object_get_int64(p) != parent_id)
			continue;
		if (edge_name) /* more than one child: a swap left half-done */
			return -EEXIST;
		edge_name = json_object_get_string(n);
		child_id = json_object_get_int64(c);
	}
	if (!edge_name)
		return -ENOENT;
	for (size_t k = 0; k < json_object_array_length(nodes); k++) {
		json_object *o = json_object_array_get_idx(nodes, k), *id;

		if (json_object_object_get_ex(o, "id", &id) && json_object_get_int64(id) == child_id &&
		    json_object_object_get_ex(o, "name", &v)) {
			snprintf(node, node_size, "%s", json_object_get_string(v));
			snprintf(edge, edge_size, "%s", edge_name);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * The NBD node our job of TARGET writes to now (NODE) and, under a quorum,
 * its edge (EDGE, "children.3"; "" when the job writes into the NBD node
 * itself, as a job started by a hasvcd before the quorum did). -EIO when
 * QEMU does not answer, -EEXIST for a quorum with two children.
 */
static int current_child(virDomainPtr d, const char *target, char *node, size_t node_size,
			 char *edge, size_t edge_size)
{
	json_object *parsed, *graph;
	char quorum[128];
	int e;

	quorum_name(quorum, sizeof(quorum), target);
	if (mirror__qmp_return(d, "{\"execute\":\"x-debug-query-block-graph\"}", &parsed, &graph) <
	    0)
		return -EIO;
	e = graph ? mirror__qmp_graph_child(graph, quorum, node, node_size, edge, edge_size)
		  : -ENOENT;
	json_object_put(parsed);
	if (e == -ENOENT) {
		nbd_name(node, node_size, target, 0);
		edge[0] = '\0';
		return 0;
	}
	return e;
}

int mirror__qmp_target_node(virDomainPtr d, const char *target, char *node, size_t size)
{
	char edge[64];

	return current_child(d, target, node, size, edge, sizeof(edge));
}

int mirror__qmp_target_swap(struct request *r, virDomainPtr d, const char *target, bool tls)
{
	char old[128], edge[64], fresh[128], quorum[128], cmd[512], why[MIRROR_MSG_MAX];
	long gen;
	int e;

	e = current_child(d, target, old, sizeof(old), edge, sizeof(edge));
	if (e < 0)
		return mirror__say(r, e, "cannot read the target of disk %s's mirror", target);
	if (!edge[0])
		return 1; /* no quorum above it: the node reconnects by itself */
	gen = nbd_gen(old, target);
	if (gen < 0)
		return mirror__say(r, -EINVAL, "the mirror of disk %s writes into %s, not ours",
				   target, old);
	nbd_name(fresh, sizeof(fresh), target, (unsigned)gen + 1);
	quorum_name(quorum, sizeof(quorum), target);
	node_del(d, fresh); /* left by a swap that stopped halfway */
	if (mirror__qmp_nbd_add(r, d, fresh, target, tls) < 0)
		goto fail;
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"node\":\"%s\"}}",
		 quorum, fresh);
	if (mirror__qmp(r, d, cmd) < 0) {
		node_del(d, fresh);
		goto fail;
	}
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"child\":\"%s\"}}",
		 quorum, edge);
	if (mirror__qmp(r, d, cmd) < 0) {
		/*
		 * Both children stay: each write goes to both, and one success is
		 * enough (vote-threshold 1). The next swap finds two children and
		 * refuses, and the resume goes on reconnecting.
		 */
		goto fail;
	}
	node_del(d, old);
	return 0;

fail:
	snprintf(why, sizeof(why), "%s", r->message);
	return mirror__say(r, r->result, "cannot give disk %s's mirror a new connection: %s",
			   target, why);
}

void mirror__qmp_target_del(virDomainPtr d, const char *target)
{
	json_object *parsed, *list;
	char quorum[128];

	quorum_name(quorum, sizeof(quorum), target);
	node_del(d, quorum);
	if (mirror__qmp_return(d,
			       "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}",
			       &parsed, &list) < 0)
		return;
	for (size_t k = 0; list && json_object_is_type(list, json_type_array) &&
			   k < json_object_array_length(list);
	     k++) {
		json_object *name;

		if (json_object_object_get_ex(json_object_array_get_idx(list, k), "node-name",
					      &name) &&
		    nbd_gen(json_object_get_string(name), target) >= 0)
			node_del(d, json_object_get_string(name));
	}
	json_object_put(parsed);
}
