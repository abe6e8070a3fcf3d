// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_qmp_sync: sync mode at the cost of the slower write, not the sum of
 * both (issue 15; experimental: HASVC_SYNC_WRITES=parallel with the qmp
 * engine; docs/mirror.md "Parallel sync writes").
 *
 * QEMU's write-blocking mirror writes the local disk, then the backup, one
 * after the other (block/mirror.c do_sync_target_write). Its quorum driver
 * writes every child at once and completes when all have (block/quorum.c),
 * and passes guest flushes to every child, which the mirror never does. So
 * in steady state each mirrored disk TARGET ("vda") runs as
 *
 *   guest device -> quorum "hs-g-TARGET" (vote-threshold 1, read-pattern fifo)
 *                     -> the disk's format node (first: reads stay local)
 *                     -> NBD node "hs-s-TARGET-<epoch>.<n>" to the backup's export
 *
 * with no block job at all; a dirty bitmap "hs-d-TARGET-<ms>@<host>:<port>"
 * on the format node records every write, for the resync after a failure.
 *
 * The states of a disk, read from QEMU every poll (nothing is kept here but
 * what the names say, so a restarted hasvcd reads the same):
 *
 *   COPYING   the mirror job "hs-TARGET" from hs-g into the backup
 *             (mirror_qmp.c's target), full or from equal disks; READY ->
 *             handover
 *   BACKFILL  a resync: the mirror, sync none (every new write reaches the
 *             backup after the local disk), and the backup job
 *             "hs-bk-TARGET" copying the bitmap's blocks as they were at its
 *             start; a guest write into a block it has not copied yet waits
 *             (its copy-before-write filter) until the old block is on the
 *             backup, so old never lands over new (datapath-experiments B6);
 *             concluded -> handover
 *   STEADY    the quorum with both children, no job
 *   BROKEN    the quorum with the local child only: what the backup lacks is
 *             in the bitmaps; shown to the pairs as a paused job that owes it
 *
 * Handover: a new bitmap, the NBD child added (the quorum drains), the mirror
 * checked to have every write on the backup, then cancelled (READY: nothing
 * pivots), the older bitmaps dropped.
 *
 * A failed write or flush of the NBD child is still acknowledged to the guest
 * (vote-threshold 1), as the mirror's is, and QEMU says so with
 * QUORUM_REPORT_BAD: mirror.c has that event delivered on its connection,
 * and the child is removed at once (mirror__qsync_child_failed). Removed,
 * it cannot reconnect and take new writes over the holes of the missed ones
 * (datapath-experiments B3's hazard). Events are only known to arrive on the
 * connection that was open when the child was added: the child's name
 * carries that connection's epoch, and a child of another epoch (a hasvcd or
 * libvirtd restarted meanwhile) is kept only when mirror_qsync_vouch.c can
 * vouch for the gap (its sockets never ended); otherwise it is removed and
 * the bitmaps resynced.
 *
 * Bitmaps rotate while STEADY: a new one every ROTATE_MS; one is dropped once
 * a newer one is LINGER_MS old, for by then every write it alone holds was
 * answered by the backup or reported failed (a write to a silent backup ends
 * within the link watch's cut and the node's reconnect-delay, seconds).
 *
 * Runs on the mirror thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "mirror_internal.h"

#define ROTATE_MS 30000
#define LINGER_MS 30000
#define BITMAP_GRANULARITY 262144 /* as the sync mirror's (mirror_qmp.c says why) */
#define HANDOVER_WAIT_MS 10000   /* a cancelled READY mirror leaves query-block-jobs */

enum qsync_state { QSYNC_NONE, QSYNC_COPYING, QSYNC_BACKFILL, QSYNC_STEADY, QSYNC_BROKEN };

/* What QEMU says of one disk. */
struct qsync_disk {
	char format[128];    /* the format node */
	bool attached;       /* the guest device sits on hs-g-TARGET */
	char child[128];     /* the NBD child under hs-g, "" none */
	char child_edge[32];
	char qdev[256];      /* the guest device's backend QOM path */
	uint64_t size;       /* the disk's virtual size */
	struct mirror__qmp_job mirror;
	bool backup_job, backup_done, backup_failed;
	uint64_t backup_cur, backup_total;
	char backup_error[200];
	/* our bitmaps, as named: created ms and where the backup was */
	struct {
		char name[200];
		int64_t ms;
		uint64_t count;
	} maps[8];
	size_t n_maps;
	uint64_t dirty; /* the union's count, at most: the sum */
	char where[300]; /* "host:port" of the bitmaps' backup, "" none */
	const char *why; /* BROKEN: why the backup is out, for the pairs */
};

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void quiet(virDomainPtr d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void quiet(virDomainPtr d, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	mirror__qmp_quiet(d, cmd);
}

static int cmd(struct request *r, virDomainPtr d, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cmd(struct request *r, virDomainPtr d, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return mirror__qmp(r, d, buf);
}

static void guest_quorum(char *buf, size_t size, const char *target)
{
	snprintf(buf, size, "hs-g-%s", target);
}

/* "hs-s-vda-<epoch>.": the prefix of TARGET's NBD children of connection EPOCH. */
static void child_prefix(char *buf, size_t size, const char *target, int64_t epoch)
{
	snprintf(buf, size, "hs-s-%s-%" PRId64 ".", target, epoch);
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
		const char *name = str_of(o, "name");

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
			const char *name = str_of(o, "name");

			if (!json_object_object_get_ex(o, "id", &id) ||
			    json_object_get_int64(id) != json_object_get_int64(c) || !name ||
			    strcmp(name, skip) == 0)
				continue;
			snprintf(node, node_size, "%s", name);
			snprintf(edge, edge_size, "%s", str_of(e, "name") ?: "");
		}
	}
}

/* The edge of child NODE under PARENT ("children.3"); "" when not there. */
static void child_edge_of(virDomainPtr d, const char *parent, const char *node, char *edge,
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
			const char *name = str_of(o, "name");

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
				snprintf(edge, size, "%s", str_of(e, "name") ?: "");
		}
	}
	json_object_put(parsed);
}

/* Bitmaps and size of the format node, from query-named-block-nodes' LIST. */
static void read_node(json_object *list, const char *target, struct qsync_disk *q)
{
	for (size_t k = 0; list && k < json_object_array_length(list); k++) {
		json_object *o = json_object_array_get_idx(list, k), *maps, *image, *v;
		const char *name = str_of(o, "node-name");

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
			const char *bname = str_of(b, "name");
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
		const char *jid = str_of(o, "id"), *status = str_of(o, "status");

		if (!jid || strcmp(jid, id) != 0)
			continue;
		q->backup_job = true;
		q->backup_done = status && strcmp(status, "concluded") == 0;
		q->backup_failed = q->backup_done && str_of(o, "error");
		snprintf(q->backup_error, sizeof(q->backup_error), "%s", str_of(o, "error") ?: "");
		q->backup_cur = json_object_object_get_ex(o, "current-progress", &v) ? (uint64_t)json_object_get_int64(v) : 0;
		q->backup_total = json_object_object_get_ex(o, "total-progress", &v) ? (uint64_t)json_object_get_int64(v) : 0;
	}
}

/*
 * Everything of DOM's disks in Q[n_disks]; -EIO when QEMU does not answer.
 * ATTACHED counts the disks whose device is on our quorum.
 */
static int read_disks(virDomainPtr d, const struct mirror_domain *dom, struct qsync_disk *q,
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
			guest_quorum(quorum, sizeof(quorum), target);
			if (mirror__qmp_format_node(d, &dom->disks[i], q[i].format, sizeof(q[i].format)) < 0)
				continue;
			for (size_t k = 0; blocks && k < json_object_array_length(blocks); k++) {
				json_object *b = json_object_array_get_idx(blocks, k), *ins;
				const char *node;

				if (!json_object_object_get_ex(b, "inserted", &ins) ||
				    !(node = str_of(ins, "node-name")))
					continue;
				if (strcmp(node, quorum) == 0 || strcmp(node, q[i].format) == 0) {
					q[i].attached = strcmp(node, quorum) == 0;
					snprintf(q[i].qdev, sizeof(q[i].qdev), "%s", str_of(b, "qdev") ?: "");
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

static enum qsync_state state_of(const struct qsync_disk *q)
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
static int bitmap_add(struct request *r, virDomainPtr d, const char *target, const char *format,
		      int64_t ms, const char *where)
{
	return cmd(r, d,
		   "{\"execute\":\"block-dirty-bitmap-add\",\"arguments\":{\"node\":\"%s\","
		   "\"name\":\"hs-d-%s-%" PRId64 "@%s\",\"granularity\":%d}}",
		   format, target, ms, where, BITMAP_GRANULARITY);
}

/*
 * Where the NBD node NODE goes, "host:port", from its filename in
 * query-named-block-nodes ("nbd://10.77.0.12:10809/vda"); -ENOENT.
 */
static int node_where(virDomainPtr d, const char *node, char *where, size_t size)
{
	json_object *parsed, *list;
	int e = -ENOENT;

	if (mirror__qmp_return(d, "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}",
			       &parsed, &list) < 0)
		return -EIO;
	for (size_t k = 0; list && k < json_object_array_length(list); k++) {
		json_object *o = json_object_array_get_idx(list, k);
		const char *name = str_of(o, "node-name"), *file = str_of(o, "file"), *at, *slash;

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

static void bitmap_del(virDomainPtr d, const char *format, const char *name)
{
	quiet(d, "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"%s\",\"name\":\"%s\"}}",
	      format, name);
}

/* Removes TARGET's NBD child from its quorum and deletes it; idempotent. */
static void child_drop(virDomainPtr d, const char *target, const char *child)
{
	char quorum[128], edge[32];

	guest_quorum(quorum, sizeof(quorum), target);
	child_edge_of(d, quorum, child, edge, sizeof(edge));
	if (edge[0])
		quiet(d, "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"child\":\"%s\"}}",
		      quorum, edge);
	quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", child);
	mirror__vouch_forget(virDomainGetName(d), target);
}

static int nbd_add(struct request *r, virDomainPtr d, const char *node, const char *target, bool tls)
{
	return cmd(r, d,
		   "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"nbd\","
		   "\"node-name\":\"%s\",\"server\":{\"type\":\"inet\",\"host\":\"%s\","
		   "\"port\":\"%u\"},\"export\":\"%s\",\"reconnect-delay\":%d,"
		   "\"open-timeout\":5%s}}",
		   node, r->host, r->port, target, MIRROR__QMP_RECONNECT_DELAY_S,
		   tls ? ",\"tls-creds\":\"" MIRROR__QMP_TLS_ID "\"" : "");
}

/*
 * The guest devices of DOM onto our quorums, the guest paused for it (the
 * device sits for a moment on a placeholder: datapath-experiments B1). Only
 * virtio-blk devices take a new drive while realized. -errno after
 * mirror__say; a disk done stays done (the next start goes on from there).
 */
static int attach(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
		  struct qsync_disk *q)
{
	int state = VIR_DOMAIN_NOSTATE, reason, e = 0;
	bool paused_here = false;

	for (size_t i = 0; i < dom->n_disks; i++)
		if (!q[i].attached && !strstr(q[i].qdev, "/virtio-backend"))
			return mirror__say(r, -EOPNOTSUPP,
					   "%s: parallel sync writes need virtio-blk disks; disk %s "
					   "is on %s",
					   r->vm, dom->disks[i].target, q[i].qdev[0] ? q[i].qdev : "no device");
	if (virDomainGetState(d, &state, &reason, 0) == 0 && state == VIR_DOMAIN_RUNNING) {
		if (virDomainSuspend(d) < 0)
			return mirror__say(r, -EIO, "cannot pause %s to put its disks on a quorum: %s",
					   r->vm, mirror__virt_error());
		paused_here = true;
	}
	for (size_t i = 0; i < dom->n_disks && e == 0; i++) {
		const char *t = dom->disks[i].target;
		char quorum[128], edge[32];

		if (q[i].attached)
			continue;
		guest_quorum(quorum, sizeof(quorum), t);
		quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-n-%s\"}}", t);
		if ((e = cmd(r, d,
			     "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"null-co\","
			     "\"node-name\":\"hs-n-%s\",\"size\":%" PRIu64 "}}",
			     t, q[i].size)) < 0 ||
		    (e = cmd(r, d,
			     "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"quorum\","
			     "\"node-name\":\"%s\",\"vote-threshold\":1,\"read-pattern\":\"fifo\","
			     "\"children\":[\"hs-n-%s\"]}}",
			     quorum, t)) < 0)
			break;
		if ((e = cmd(r, d,
			     "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"%s\","
			     "\"property\":\"drive\",\"value\":\"%s\"}}",
			     q[i].qdev, quorum)) < 0 ||
		    (e = cmd(r, d,
			     "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\","
			     "\"node\":\"%s\"}}",
			     quorum, q[i].format)) < 0)
			break;
		char n_node[128];

		snprintf(n_node, sizeof(n_node), "hs-n-%s", t);
		child_edge_of(d, quorum, n_node, edge, sizeof(edge));
		if ((e = cmd(r, d,
			     "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\","
			     "\"child\":\"%s\"}}",
			     quorum, edge)) < 0)
			break;
		quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-n-%s\"}}", t);
		q[i].attached = true;
	}
	if (paused_here && virDomainResume(d) < 0 && e == 0)
		e = mirror__say(r, -EIO, "cannot resume %s after putting its disks on a quorum: %s",
				r->vm, mirror__virt_error());
	if (e < 0) {
		char why[MIRROR_MSG_MAX];

		snprintf(why, sizeof(why), "%s", r->message);
		return mirror__say(r, e, "%s: cannot put the disks on a quorum for parallel sync writes: %s",
				   r->vm, why);
	}
	return 0;
}

void mirror__qsync_detach(virDomainPtr d, const struct mirror_domain *dom)
{
	struct qsync_disk q[dom->n_disks ?: 1];
	int state = VIR_DOMAIN_NOSTATE, reason;
	bool paused_here = false;
	size_t attached;

	if (read_disks(d, dom, q, &attached) < 0)
		return;
	for (size_t i = 0; i < dom->n_disks; i++) {
		/* nothing of ours on this disk (the qmp engine without parallel writes) */
		if (!q[i].attached && !q[i].backup_job && q[i].n_maps == 0)
			continue;
		quiet(d, "{\"execute\":\"job-cancel\",\"arguments\":{\"id\":\"hs-bk-%s\"}}", dom->disks[i].target);
		quiet(d, "{\"execute\":\"job-dismiss\",\"arguments\":{\"id\":\"hs-bk-%s\"}}", dom->disks[i].target);
		quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-b-%s\"}}", dom->disks[i].target);
		for (size_t k = 0; k < q[i].n_maps; k++)
			bitmap_del(d, q[i].format, q[i].maps[k].name);
		quiet(d, "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"%s\",\"name\":\"hs-r-%s\"}}",
		      q[i].format, dom->disks[i].target);
	}
	if (attached == 0)
		return;
	if (virDomainGetState(d, &state, &reason, 0) == 0 && state == VIR_DOMAIN_RUNNING)
		paused_here = virDomainSuspend(d) == 0;
	for (size_t i = 0; i < dom->n_disks; i++) {
		const char *t = dom->disks[i].target;
		char quorum[128], edge[32];

		if (!q[i].attached)
			continue;
		guest_quorum(quorum, sizeof(quorum), t);
		quiet(d, "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"null-co\","
			 "\"node-name\":\"hs-n-%s\",\"size\":%" PRIu64 "}}", t, q[i].size);
		quiet(d, "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"node\":\"hs-n-%s\"}}",
		      quorum, t);
		if (q[i].child[0])
			child_drop(d, t, q[i].child);
		child_edge_of(d, quorum, q[i].format, edge, sizeof(edge));
		if (edge[0])
			quiet(d, "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"child\":\"%s\"}}",
			      quorum, edge);
		quiet(d, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"%s\",\"property\":\"drive\",\"value\":\"%s\"}}",
		      q[i].qdev, q[i].format);
		quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", quorum);
		quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-n-%s\"}}", t);
	}
	if (paused_here)
		virDomainResume(d);
}

/*
 * COPYING or BACKFILL -> STEADY for disk I: a new bitmap, the NBD child in,
 * the mirror checked and cancelled, the older bitmaps out. Nothing changes
 * when a step fails (the next poll tries again), but the child, which goes
 * again: a disk is never left STEADY without its mirror's word.
 */
static int handover(struct request *r, virDomainPtr d, const struct mirror_domain *dom, size_t i,
		    struct qsync_disk *q, bool tls)
{
	const char *t = dom->disks[i].target;
	char quorum[128], child[128], prefix[96], mirror_id[128], target_node[128], where[300];
	char host[300], *colon;
	unsigned long before[MIRROR__VOUCH_INODES_MAX];
	size_t n_before = 0;
	static unsigned counter;
	struct mirror__qmp_job after[dom->n_disks ?: 1];
	json_object *parsed, *list;
	int64_t now = mirror__now_ms();
	bool ok;

	if (r->conn_epoch <= 0)
		return mirror__say(r, -EOPNOTSUPP,
				   "%s: QEMU's QUORUM_REPORT_BAD events do not reach hasvcd on this "
				   "connection: the backup's failures could not be seen",
				   r->vm);
	guest_quorum(quorum, sizeof(quorum), t);
	child_prefix(prefix, sizeof(prefix), t, r->conn_epoch);
	snprintf(child, sizeof(child), "%s%u", prefix, ++counter);
	snprintf(mirror_id, sizeof(mirror_id), "hs-%s", t);
	/* the child goes where the mirror went */
	if (mirror__qmp_target_node(d, t, target_node, sizeof(target_node)) < 0 ||
	    node_where(d, target_node, where, sizeof(where)) < 0 || !(colon = strrchr(where, ':')))
		return mirror__say(r, -ENOENT, "%s: cannot tell where the mirror of disk %s goes",
				   r->vm, t);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - where), where);
	r->host = host;
	r->port = (unsigned)atoi(colon + 1);
	if (bitmap_add(r, d, t, q->format, now, where) < 0)
		goto out;
	/* the connections there before the child's: not its own (mirror_qsync_vouch.c) */
	mirror__vouch_sockets(r->vm, host, r->port, before, MIRROR__VOUCH_INODES_MAX, &n_before);
	if (nbd_add(r, d, child, t, tls) < 0 ||
	    cmd(r, d, "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"node\":\"%s\"}}",
		quorum, child) < 0) {
		quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", child);
		goto out;
	}
	/* the add drained the quorum: every write before it went through the mirror */
	if (mirror__qmp_return(d, "{\"execute\":\"query-block-jobs\"}", &parsed, &list) < 0) {
		child_drop(d, t, child);
		mirror__say(r, -EIO, "%s: cannot read the mirror of disk %s", r->vm, t);
		goto out;
	}
	mirror__qmp_jobs_parse(list, dom, after);
	json_object_put(parsed);
	ok = after[i].exists && !after[i].paused && strcmp(after[i].io_status, "failed") != 0 &&
	     after[i].offset == after[i].len;
	if (!ok) {
		child_drop(d, t, child);
		mirror__say(r, -EAGAIN, "%s: the mirror of disk %s is not in step yet", r->vm, t);
		goto out;
	}
	quiet(d, "{\"execute\":\"block-job-cancel\",\"arguments\":{\"device\":\"%s\"}}", mirror_id);
	for (int waited = 0; waited < HANDOVER_WAIT_MS; waited += 50) {
		bool gone = true;

		if (mirror__qmp_return(d, "{\"execute\":\"query-block-jobs\"}", &parsed, &list) == 0) {
			mirror__qmp_jobs_parse(list, dom, after);
			json_object_put(parsed);
			gone = !after[i].exists;
		}
		if (gone)
			break;
		usleep(50000);
	}
	mirror__qmp_target_del(d, t);
	for (size_t k = 0; k < q->n_maps; k++)
		bitmap_del(d, q->format, q->maps[k].name);
	quiet(d, "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"%s\",\"name\":\"hs-r-%s\"}}",
	      q->format, t);
	snprintf(q->child, sizeof(q->child), "%s", child);
	q->mirror.exists = false;
	q->backup_job = false;
	q->n_maps = 1;
	q->maps[0].ms = now;
	q->dirty = 0;
	snprintf(q->where, sizeof(q->where), "%s", where);
	/* unrecorded, the child is only vouched for on this connection: never wrong, only slower */
	mirror__vouch_record(r->vm, t, child, r->conn_epoch, host, r->port, before, n_before);
	r->result = 0;
out:
	r->host = NULL;
	return r->result;
}

/* STEADY: a new bitmap every ROTATE_MS; one older than the LINGER_MS of a newer goes. */
static void rotate(virDomainPtr d, const char *target, const struct qsync_disk *q)
{
	int64_t now = mirror__now_ms(), newest = 0;
	struct request scratch = {0};

	for (size_t k = 0; k < q->n_maps; k++)
		newest = q->maps[k].ms > newest ? q->maps[k].ms : newest;
	for (size_t k = 0; k < q->n_maps; k++)
		if (q->maps[k].ms < newest && now - newest >= LINGER_MS)
			bitmap_del(d, q->format, q->maps[k].name);
	if (now - newest >= ROTATE_MS)
		bitmap_add(&scratch, d, target, q->format, now, q->where); /* retried next poll */
}

int mirror__qsync_jobs_read(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			    size_t *ret_ready, bool *ret_drained)
{
	struct qsync_disk q[dom->n_disks ?: 1];
	char unvouched[dom->n_disks ?: 1][200], why_buf[dom->n_disks ?: 1][400];
	int state = VIR_DOMAIN_NOSTATE, reason;
	size_t attached = 0, ready = 0;
	bool drained = true;

	if (virDomainGetState(d, &state, &reason, 0) < 0)
		return mirror__say(r, -EIO, "cannot read the state of %s: %s", r->vm, mirror__virt_error());
	if ((state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED) &&
	    read_disks(d, dom, q, &attached) < 0)
		return mirror__say(r, -EIO, "cannot read the disks of %s: %s", r->vm, mirror__virt_error());
	if (attached == 0)
		return mirror__qmp_jobs_read(r, d, dom, ret_ready, ret_drained);
	for (size_t i = 0; i < dom->n_disks; i++) {
		enum qsync_state s = state_of(&q[i]);

		if (s == QSYNC_BACKFILL && q[i].mirror.exists && q[i].mirror.paused) {
			/* the new writes' mirror failed: start over from the bitmaps */
			quiet(d, "{\"execute\":\"job-cancel\",\"arguments\":{\"id\":\"hs-bk-%s\"}}",
			      dom->disks[i].target);
			q[i].backup_done = q[i].backup_failed = true;
		}
		if (s == QSYNC_BACKFILL && q[i].backup_done) {
			quiet(d, "{\"execute\":\"job-dismiss\",\"arguments\":{\"id\":\"hs-bk-%s\"}}",
			      dom->disks[i].target);
			quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-b-%s\"}}",
			      dom->disks[i].target);
			q[i].backup_job = false;
			if (q[i].backup_failed) {
				/* the copy failed: the bitmaps still hold all of it */
				mirror__qmp_jobs_cancel(d, dom, true);
				q[i].mirror.exists = false;
			}
			s = state_of(&q[i]);
		}
		if (s == QSYNC_COPYING && q[i].mirror.ready) {
			struct request scratch = {.vm = r->vm, .conn_epoch = r->conn_epoch,
						  .tls_dir = r->tls_dir, .tls_mode = r->tls_mode};
			char dir[4096];
			int tls = mirror__tls_for(&scratch, dir, sizeof(dir));

			if (tls >= 0 && handover(&scratch, d, dom, i, &q[i], tls > 0) == 0)
				s = QSYNC_STEADY;
		}
		if (s == QSYNC_STEADY &&
		    mirror__qsync_child_epoch(q[i].child) != r->conn_epoch &&
		    mirror__vouch_check(r->vm, dom->disks[i].target, q[i].child, r->conn_epoch,
					unvouched[i], sizeof(unvouched[i])) == 0) {
			/* not added on this connection: its failures may have gone unseen */
			child_drop(d, dom->disks[i].target, q[i].child);
			q[i].child[0] = '\0';
			s = QSYNC_BROKEN;
			snprintf(why_buf[i], sizeof(why_buf[i]),
				 "hasvcd cannot vouch that every write reached the backup: its quorum "
				 "child was added before hasvcd or libvirtd restarted, and %s; it is "
				 "taken out and resynced from the dirty bitmaps",
				 unvouched[i]);
			q[i].why = why_buf[i];
		}
		if (s == QSYNC_BROKEN && !q[i].why)
			q[i].why = "the backup is out of the disk's writes (parallel sync writes: a "
				   "write or flush to it failed, or its link was cut)";
		if (s == QSYNC_STEADY && q[i].where[0])
			rotate(d, dom->disks[i].target, &q[i]);
		q[i].mirror.exists = s != QSYNC_NONE;
		q[i].mirror.ready = s == QSYNC_STEADY;
		q[i].mirror.paused = s == QSYNC_BROKEN;
		if (s == QSYNC_STEADY || s == QSYNC_NONE) {
			q[i].mirror.offset = q[i].mirror.len = 0;
		} else if (s == QSYNC_BROKEN) {
			q[i].mirror.offset = 0;
			q[i].mirror.len = q[i].dirty;
		} else if (s == QSYNC_BACKFILL) {
			q[i].mirror.offset = q[i].backup_cur;
			q[i].mirror.len = q[i].backup_total;
		}
	}
	mirror__answer_clear(r);
	r->jobs.disks = calloc(dom->n_disks ?: 1, sizeof(*r->jobs.disks));
	if (!r->jobs.disks)
		return mirror__say(r, -ENOMEM, "out of memory");
	r->answer = MIRROR__ANSWER_JOBS;
	r->jobs.active = true;
	r->jobs.paused = state == VIR_DOMAIN_PAUSED;
	for (size_t i = 0; i < dom->n_disks; i++) {
		const struct mirror__qmp_job *m = &q[i].mirror;
		struct mirror_disk_job *j = &r->jobs.disks[i];

		ready += m->ready;
		drained = drained && m->ready;
		*j = (struct mirror_disk_job){.target = strdup(dom->disks[i].target),
					      .job = m->exists,
					      .ready = m->ready,
					      .paused = m->paused,
					      .cur = m->offset,
					      .end = m->len,
					      .speed = m->speed,
					      .why = m->paused && q[i].why ? strdup(q[i].why) : NULL};
		if (!j->target)
			return mirror__say(r, -ENOMEM, "out of memory");
		r->jobs.n_disks++;
	}
	if (ret_ready)
		*ret_ready = ready;
	if (ret_drained)
		*ret_drained = drained;
	return 0;
}

/*
 * Every disk still COPYING: its mirror job owes what it has not copied and
 * what a cut left dirty, as a job of the qmp engine does (mirror_qmp.c), so
 * it is resumed as that engine resumes one (a live switchover's way back
 * is cut so while the old primary's stand-in gives way to its backup).
 */
static bool all_copying(const struct mirror_domain *dom, const struct qsync_disk *q)
{
	for (size_t i = 0; i < dom->n_disks; i++)
		if (state_of(&q[i]) != QSYNC_COPYING)
			return false;
	return dom->n_disks > 0;
}

int mirror__qsync_resumable(virDomainPtr d, const struct mirror_domain *dom, const char *host,
			    unsigned port, char *why, size_t size)
{
	struct qsync_disk q[dom->n_disks ?: 1];
	char want[300];
	size_t attached;

	if (read_disks(d, dom, q, &attached) < 0) {
		snprintf(why, size, "its disks cannot be read");
		return -EIO;
	}
	if (attached == 0 || all_copying(dom, q))
		return mirror__qmp_resumable(d, dom, host, port, why, size);
	snprintf(want, sizeof(want), "%s:%u", host, port);
	for (size_t i = 0; i < dom->n_disks; i++) {
		if (state_of(&q[i]) == QSYNC_COPYING) {
			/* its job owes what it has not copied yet: it must go to WANT */
			if (!mirror__qmp_node_goes_to(d, dom->disks[i].target, host, port)) {
				snprintf(why, size, "the mirror of disk %s went to another backup than %s",
					 dom->disks[i].target, want);
				return -ESTALE;
			}
			continue;
		}
		if (q[i].n_maps == 0) {
			snprintf(why, size,
				 "the primary's QEMU restarted or never mirrored this pair: disk %s "
				 "has no dirty bitmap of ours",
				 dom->disks[i].target);
			return -ENOENT;
		}
		if (strcmp(q[i].where, want) != 0) {
			snprintf(why, size, "the bitmaps of disk %s are for the backup at %s, not %s",
				 dom->disks[i].target, q[i].where, want);
			return -ESTALE;
		}
	}
	return 0;
}

int mirror__qsync_resume(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			 bool tls)
{
	struct qsync_disk q[dom->n_disks ?: 1];
	char node[128], merge[2048];
	size_t attached, started = 0, copies = 0;
	uint64_t owed = 0, to_copy = 0;
	char also[160] = "";

	if (read_disks(d, dom, q, &attached) < 0)
		return mirror__say(r, -EIO, "cannot read the disks of %s: %s", r->vm, mirror__virt_error());
	if (attached == 0 || all_copying(dom, q))
		return mirror__qmp_resume(r, d, dom, tls);
	for (size_t i = 0; i < dom->n_disks; i++) {
		const char *t = dom->disks[i].target;
		enum qsync_state s = state_of(&q[i]);
		size_t len = 0;

		if (s == QSYNC_COPYING && q[i].mirror.paused) {
			/* beside disks in step or out (a cut during the initial copy): its job goes on */
			to_copy += q[i].mirror.len - q[i].mirror.offset;
			quiet(d, "{\"execute\":\"block-job-resume\",\"arguments\":{\"device\":\"hs-%s\"}}", t);
			copies++;
			continue;
		}
		if (s != QSYNC_BROKEN)
			continue;
		owed += q[i].dirty;
		/* the union of the bitmaps, for the backup job: it takes one */
		quiet(d, "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"%s\",\"name\":\"hs-r-%s\"}}",
		      q[i].format, t);
		if (cmd(r, d,
			"{\"execute\":\"block-dirty-bitmap-add\",\"arguments\":{\"node\":\"%s\","
			"\"name\":\"hs-r-%s\",\"granularity\":%d}}",
			q[i].format, t, BITMAP_GRANULARITY) < 0)
			return r->result;
		for (size_t k = 0; k < q[i].n_maps; k++)
			len += (size_t)snprintf(merge + len, sizeof(merge) - len, "%s\"%s\"", k ? "," : "",
						q[i].maps[k].name);
		if (cmd(r, d,
			"{\"execute\":\"block-dirty-bitmap-merge\",\"arguments\":{\"node\":\"%s\","
			"\"target\":\"hs-r-%s\",\"bitmaps\":[%s]}}",
			q[i].format, t, merge) < 0)
			return r->result;
		/* 1: every new write reaches the backup, after the local disk */
		if (mirror__qmp_target_add(r, d, t, tls, node, sizeof(node)) < 0)
			return r->result;
		if (cmd(r, d,
			"{\"execute\":\"blockdev-mirror\",\"arguments\":{\"job-id\":\"hs-%s\","
			"\"device\":\"hs-g-%s\",\"target\":\"%s\",\"sync\":\"none\","
			"\"on-target-error\":\"stop\",\"copy-mode\":\"write-blocking\"}}",
			t, t, node) < 0) {
			mirror__qmp_target_del(d, t);
			return r->result;
		}
		/* 2: what the backup missed, as it is now; old before new */
		snprintf(node, sizeof(node), "hs-b-%s", t);
		quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", node);
		if (nbd_add(r, d, node, t, tls) < 0 ||
		    cmd(r, d,
			"{\"execute\":\"blockdev-backup\",\"arguments\":{\"job-id\":\"hs-bk-%s\","
			"\"device\":\"%s\",\"target\":\"%s\",\"sync\":\"bitmap\",\"bitmap\":\"hs-r-%s\","
			"\"bitmap-mode\":\"never\",\"auto-dismiss\":false,\"speed\":%" PRIu64 "}}",
			t, q[i].format, node, t, r->bandwidth_mib << 20) < 0) {
			char why[MIRROR_MSG_MAX];

			snprintf(why, sizeof(why), "%s", r->message);
			mirror__qmp_jobs_cancel(d, dom, true);
			quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", node);
			return mirror__say(r, -EIO, "%s: cannot start the resync of disk %s: %s", r->vm, t, why);
		}
		started++;
	}
	if (copies)
		snprintf(also, sizeof(also), "; %zu initial copy(ies) resumed, %" PRIu64 " bytes still to copy",
			 copies, to_copy);
	return mirror__say(r, 0,
			   "%s: incremental resync: %zu disk(s) copying %" PRIu64
			   " bytes (written while the backup was away, from the dirty bitmaps)%s, "
			   "new writes to both meanwhile (parallel sync writes)",
			   r->vm, started, owed, also);
}

int mirror__qsync_start(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			const char *tls_dir, const char *why_full)
{
	struct qsync_disk q[dom->n_disks ?: 1];
	size_t attached;

	if (r->conn_epoch <= 0)
		return mirror__say(r, -EOPNOTSUPP,
				   "%s: parallel sync writes need QEMU's QUORUM_REPORT_BAD events, "
				   "which libvirt does not deliver on this connection",
				   r->vm);
	if (read_disks(d, dom, q, &attached) < 0)
		return mirror__say(r, -EIO, "cannot read the disks of %s: %s", r->vm, mirror__virt_error());
	/* a new full copy: nothing of an older one may survive it */
	for (size_t i = 0; i < dom->n_disks; i++) {
		quiet(d, "{\"execute\":\"job-cancel\",\"arguments\":{\"id\":\"hs-bk-%s\"}}", dom->disks[i].target);
		quiet(d, "{\"execute\":\"job-dismiss\",\"arguments\":{\"id\":\"hs-bk-%s\"}}", dom->disks[i].target);
		quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-b-%s\"}}", dom->disks[i].target);
		if (q[i].child[0])
			child_drop(d, dom->disks[i].target, q[i].child);
		for (size_t k = 0; k < q[i].n_maps; k++)
			bitmap_del(d, q[i].format, q[i].maps[k].name);
	}
	if (attach(r, d, dom, q) < 0)
		return r->result;
	return mirror__qmp_start_from(r, d, dom, tls_dir, why_full, "hs-g-");
}

void mirror__qsync_cut(virDomainPtr d, const struct mirror_domain *dom)
{
	struct qsync_disk q[dom->n_disks ?: 1];
	size_t attached;

	if (read_disks(d, dom, q, &attached) < 0 || attached == 0)
		return;
	for (size_t i = 0; i < dom->n_disks; i++)
		if (q[i].child[0])
			child_drop(d, dom->disks[i].target, q[i].child);
}

int mirror__qsync_child_failed(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			       const char *node)
{
	char target[64];

	if (mirror__qsync_child_target(node, target, sizeof(target)) < 0)
		return mirror__say(r, -EINVAL, "%s: %s is not a node of ours", r->vm, node);
	for (size_t i = 0; i < dom->n_disks; i++) {
		if (strcmp(dom->disks[i].target, target) != 0)
			continue;
		child_drop(d, target, node);
		return mirror__say(r, -EIO,
				   "%s: a write to the backup of disk %s failed (QUORUM_REPORT_BAD on "
				   "%s): the backup is taken out of the disk's writes, what it misses "
				   "kept in the dirty bitmaps",
				   r->vm, target, node);
	}
	return mirror__say(r, -ENOENT, "%s: no disk %s", r->vm, target);
}

void mirror__qsync_bad_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__live_domain(m, r, &d);
	char target[64];

	if (!dom)
		return;
	mirror__qsync_child_failed(r, d, dom, r->note);
	if (mirror__qsync_child_target(r->note, target, sizeof(target)) == 0) {
		r->event.vm = strdup(r->vm);
		r->event.disk = strdup(target);
		r->event.status = MIRROR_JOB_FAILED;
		if (r->event.vm && r->event.disk)
			r->answer = MIRROR__ANSWER_EVENT;
	}
	virDomainFree(d);
	mirror_domain_free(dom);
}
