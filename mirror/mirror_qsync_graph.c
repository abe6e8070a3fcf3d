// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_qsync_graph: parallel sync writes' view of QEMU's block graph (the
 * names we give nodes and bitmaps, what each disk's nodes and jobs say) and
 * its small edits (a bitmap, an NBD child in or out). mirror_qmp_sync.c
 * says what the states mean.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror_qsync.h"

const char *mirror__qsync_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

void mirror__qsync_quiet(virDomainPtr d, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	mirror__qmp_quiet(d, cmd);
}

int mirror__qsync_cmd(struct request *r, virDomainPtr d, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return mirror__qmp(r, d, buf);
}

void mirror__qsync_quorum_name(char *buf, size_t size, const char *target)
{
	snprintf(buf, size, "hs-g-%s", target);
}

int mirror__qsync_child_target(const char *node, char *target, size_t size)
{
	const char *dash;

	if (strncmp(node, "hs-s-", 5) != 0 || !(dash = strrchr(node + 5, '-')) || dash == node + 5)
		return -EINVAL;
	snprintf(target, size, "%.*s", (int)(dash - (node + 5)), node + 5);
	return 0;
}

int64_t mirror__qsync_child_epoch(const char *node)
{
	const char *dash = strrchr(node, '-');
	char *end;
	long long e;

	if (strncmp(node, "hs-s-", 5) != 0 || !dash)
		return -1;
	e = strtoll(dash + 1, &end, 10);
	return *end == '.' && e > 0 ? e : -1;
}

int mirror__qsync_bitmap_parse(const char *name, const char *target, int64_t *ms, char *where,
			       size_t size)
{
	char prefix[160], *end;
	size_t n;
	long long v;

	snprintf(prefix, sizeof(prefix), "hs-d-%s-", target);
	n = strlen(prefix);
	if (strncmp(name, prefix, n) != 0)
		return -EINVAL;
	v = strtoll(name + n, &end, 10);
	if (end == name + n || *end != '@' || v <= 0 || !strchr(end + 1, ':'))
		return -EINVAL;
	*ms = v;
	snprintf(where, size, "%s", end + 1);
	return 0;
}

/* --- reading the graph ------------------------------------------------------- */

/* The children of node PARENT in x-debug-query-block-graph's GRAPH, by name and edge. */
static void graph_children(json_object *graph, const char *parent, const char *skip,
			   char *node, size_t node_size, char *edge, size_t edge_size)
{
	json_object *nodes, *edges;
	int64_t parent_id = -1;

	node[0] = edge[0] = '\0';
	if (!graph || !json_object_object_get_ex(graph, "nodes", &nodes) ||
	    !json_object_object_get_ex(graph, "edges", &edges) ||
	    !json_object_is_type(nodes, json_type_array) || !json_object_is_type(edges, json_type_array))
		return;
	for (size_t k = 0; k < json_object_array_length(nodes); k++) {
		json_object *o = json_object_array_get_idx(nodes, k), *id;
		const char *name = mirror__qsync_str(o, "name");

		if (name && strcmp(name, parent) == 0 && json_object_object_get_ex(o, "id", &id))
			parent_id = json_object_get_int64(id);
	}
	for (size_t k = 0; parent_id >= 0 && k < json_object_array_length(edges); k++) {
		json_object *e = json_object_array_get_idx(edges, k), *p, *c;

		if (!json_object_object_get_ex(e, "parent", &p) ||
		    !json_object_object_get_ex(e, "child", &c) || json_object_get_int64(p) != parent_id)
			continue;
		for (size_t j = 0; j < json_object_array_length(nodes); j++) {
			json_object *o = json_object_array_get_idx(nodes, j), *id;
			const char *name = mirror__qsync_str(o, "name");

			if (!json_object_object_get_ex(o, "id", &id) ||
			    json_object_get_int64(id) != json_object_get_int64(c) || !name ||
			    strcmp(name, skip) == 0)
				continue;
			snprintf(node, node_size, "%s", name);
			snprintf(edge, edge_size, "%s", mirror__qsync_str(e, "name") ?: "");
		}
	}
}

/* The edge of child NODE under PARENT ("children.3"); "" when not there. */
void mirror__qsync_child_edge(virDomainPtr d, const char *parent, const char *node, char *edge,
			  size_t size)
{
	json_object *parsed, *graph, *nodes, *edges;
	int64_t pid = -1, cid = -1;

	edge[0] = '\0';
	if (mirror__qmp_return(d, "{\"execute\":\"x-debug-query-block-graph\"}", &parsed, &graph) < 0)
		return;
	if (graph && json_object_object_get_ex(graph, "nodes", &nodes) &&
	    json_object_object_get_ex(graph, "edges", &edges)) {
		for (size_t k = 0; k < json_object_array_length(nodes); k++) {
			json_object *o = json_object_array_get_idx(nodes, k), *id;
			const char *name = mirror__qsync_str(o, "name");

			if (!name || !json_object_object_get_ex(o, "id", &id))
				continue;
			if (strcmp(name, parent) == 0)
				pid = json_object_get_int64(id);
			if (strcmp(name, node) == 0)
				cid = json_object_get_int64(id);
		}
		for (size_t k = 0; pid >= 0 && cid >= 0 && k < json_object_array_length(edges); k++) {
			json_object *e = json_object_array_get_idx(edges, k), *p, *c;

			if (json_object_object_get_ex(e, "parent", &p) &&
			    json_object_object_get_ex(e, "child", &c) && json_object_get_int64(p) == pid &&
			    json_object_get_int64(c) == cid)
				snprintf(edge, size, "%s", mirror__qsync_str(e, "name") ?: "");
		}
	}
	json_object_put(parsed);
}

/* Bitmaps and size of the format node, from query-named-block-nodes' LIST. */
static void read_node(json_object *list, const char *target, struct qsync_disk *q)
{
	for (size_t k = 0; list && k < json_object_array_length(list); k++) {
		json_object *o = json_object_array_get_idx(list, k), *maps, *image, *v;
		const char *name = mirror__qsync_str(o, "node-name");

		if (!name || strcmp(name, q->format) != 0)
			continue;
		if (json_object_object_get_ex(o, "image", &image) &&
		    json_object_object_get_ex(image, "virtual-size", &v))
			q->size = (uint64_t)json_object_get_int64(v);
		if (!json_object_object_get_ex(o, "dirty-bitmaps", &maps) ||
		    !json_object_is_type(maps, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(maps); j++) {
			json_object *b = json_object_array_get_idx(maps, j), *count;
			const char *bname = mirror__qsync_str(b, "name");
			int64_t ms;
			char where[300];

			if (!bname || q->n_maps == sizeof(q->maps) / sizeof(q->maps[0]) ||
			    mirror__qsync_bitmap_parse(bname, target, &ms, where, sizeof(where)) < 0)
				continue;
			snprintf(q->maps[q->n_maps].name, sizeof(q->maps[0].name), "%s", bname);
			q->maps[q->n_maps].ms = ms;
			q->maps[q->n_maps].count =
			    json_object_object_get_ex(b, "count", &count) ? (uint64_t)json_object_get_int64(count) : 0;
			q->dirty += q->maps[q->n_maps].count;
			snprintf(q->where, sizeof(q->where), "%s", where);
			q->n_maps++;
		}
	}
}

/* The backup job of TARGET in query-jobs' LIST. */
static void read_backup_job(json_object *list, const char *target, struct qsync_disk *q)
{
	char id[128];

	snprintf(id, sizeof(id), "hs-bk-%s", target);
	for (size_t k = 0; list && k < json_object_array_length(list); k++) {
		json_object *o = json_object_array_get_idx(list, k), *v;
		const char *jid = mirror__qsync_str(o, "id"), *status = mirror__qsync_str(o, "status");

		if (!jid || strcmp(jid, id) != 0)
			continue;
		q->backup_job = true;
		q->backup_done = status && strcmp(status, "concluded") == 0;
		q->backup_failed = q->backup_done && mirror__qsync_str(o, "error");
		snprintf(q->backup_error, sizeof(q->backup_error), "%s", mirror__qsync_str(o, "error") ?: "");
		q->backup_cur = json_object_object_get_ex(o, "current-progress", &v) ? (uint64_t)json_object_get_int64(v) : 0;
		q->backup_total = json_object_object_get_ex(o, "total-progress", &v) ? (uint64_t)json_object_get_int64(v) : 0;
	}
}

/*
 * Everything of DOM's disks in Q[n_disks]; -EIO when QEMU does not answer.
 * ATTACHED counts the disks whose device is on our quorum.
 */
int mirror__qsync_read_disks(virDomainPtr d, const struct mirror_domain *dom, struct qsync_disk *q,
		      size_t *attached)
{
	json_object *p_block = NULL, *blocks, *p_nodes = NULL, *nodes, *p_graph = NULL, *graph;
	json_object *p_jobs = NULL, *jobs, *p_bj = NULL, *bjobs;
	int e = -EIO;

	*attached = 0;
	memset(q, 0, sizeof(*q) * dom->n_disks);
	if (mirror__qmp_return(d, "{\"execute\":\"query-block\"}", &p_block, &blocks) < 0 ||
	    mirror__qmp_return(d, "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}",
			       &p_nodes, &nodes) < 0 ||
	    mirror__qmp_return(d, "{\"execute\":\"x-debug-query-block-graph\"}", &p_graph, &graph) < 0 ||
	    mirror__qmp_return(d, "{\"execute\":\"query-jobs\"}", &p_jobs, &jobs) < 0 ||
	    mirror__qmp_return(d, "{\"execute\":\"query-block-jobs\"}", &p_bj, &bjobs) < 0)
		goto out;
	{
		struct mirror__qmp_job mj[dom->n_disks ?: 1];

		mirror__qmp_jobs_parse(bjobs, dom, mj);
		for (size_t i = 0; i < dom->n_disks; i++) {
			const char *target = dom->disks[i].target;
			char quorum[128];

			q[i].mirror = mj[i];
			mirror__qsync_quorum_name(quorum, sizeof(quorum), target);
			if (mirror__qmp_format_node(d, &dom->disks[i], q[i].format, sizeof(q[i].format)) < 0)
				continue;
			for (size_t k = 0; blocks && k < json_object_array_length(blocks); k++) {
				json_object *b = json_object_array_get_idx(blocks, k), *ins;
				const char *node;

				if (!json_object_object_get_ex(b, "inserted", &ins) ||
				    !(node = mirror__qsync_str(ins, "node-name")))
					continue;
				if (strcmp(node, quorum) == 0 || strcmp(node, q[i].format) == 0) {
					q[i].attached = strcmp(node, quorum) == 0;
					snprintf(q[i].qdev, sizeof(q[i].qdev), "%s", mirror__qsync_str(b, "qdev") ?: "");
				}
			}
			if (q[i].attached) {
				graph_children(graph, quorum, q[i].format, q[i].child, sizeof(q[i].child),
					       q[i].child_edge, sizeof(q[i].child_edge));
				(*attached)++;
			}
			read_node(nodes, target, &q[i]);
			read_backup_job(jobs, target, &q[i]);
		}
	}
	e = 0;
out:
	json_object_put(p_block);
	json_object_put(p_nodes);
	json_object_put(p_graph);
	json_object_put(p_jobs);
	json_object_put(p_bj);
	return e;
}

enum qsync_state mirror__qsync_state(const struct qsync_disk *q)
{
	if (!q->attached)
		return QSYNC_NONE;
	if (q->backup_job)
		return QSYNC_BACKFILL;
	if (q->mirror.exists)
		return QSYNC_COPYING;
	return q->child[0] ? QSYNC_STEADY : QSYNC_BROKEN;
}

/* --- changing the graph ------------------------------------------------------ */

/* A new bitmap of TARGET, created at MS, for the backup at WHERE ("host:port"). */
int mirror__qsync_bitmap_add(struct request *r, virDomainPtr d, const char *target, const char *format,
		      int64_t ms, const char *where)
{
	return mirror__qsync_cmd(r, d,
		   "{\"execute\":\"block-dirty-bitmap-add\",\"arguments\":{\"node\":\"%s\","
		   "\"name\":\"hs-d-%s-%" PRId64 "@%s\",\"granularity\":%d}}",
		   format, target, ms, where, BITMAP_GRANULARITY);
}

/*
 * Where the NBD node NODE goes, "host:port", from its filename in
 * query-named-block-nodes ("nbd://10.77.0.12:10809/vda"); -ENOENT.
 */
int mirror__qsync_node_where(virDomainPtr d, const char *node, char *where, size_t size)
{
	json_object *parsed, *list;
	int e = -ENOENT;

	if (mirror__qmp_return(d, "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}",
			       &parsed, &list) < 0)
		return -EIO;
	for (size_t k = 0; list && k < json_object_array_length(list); k++) {
		json_object *o = json_object_array_get_idx(list, k);
		const char *name = mirror__qsync_str(o, "node-name"), *file = mirror__qsync_str(o, "file"), *at, *slash;

		if (!name || !file || strcmp(name, node) != 0 || !(at = strstr(file, "//")))
			continue;
		at += 2;
		slash = strchr(at, '/');
		snprintf(where, size, "%.*s", (int)(slash ? slash - at : (long)strlen(at)), at);
		e = 0;
	}
	json_object_put(parsed);
	return e;
}

void mirror__qsync_bitmap_del(virDomainPtr d, const char *format, const char *name)
{
	mirror__qsync_quiet(d, "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"%s\",\"name\":\"%s\"}}",
	      format, name);
}

/* Removes TARGET's NBD child from its quorum and deletes it; idempotent. */
void mirror__qsync_child_drop(virDomainPtr d, const char *target, const char *child)
{
	char quorum[128], edge[32];

	mirror__qsync_quorum_name(quorum, sizeof(quorum), target);
	mirror__qsync_child_edge(d, quorum, child, edge, sizeof(edge));
	if (edge[0])
		mirror__qsync_quiet(d, "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"child\":\"%s\"}}",
		      quorum, edge);
	mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", child);
	mirror__vouch_forget(virDomainGetName(d), target);
}

