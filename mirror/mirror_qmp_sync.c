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

#include "mirror_qsync.h"

#define ROTATE_MS 30000
#define LINGER_MS 30000
#define HANDOVER_WAIT_MS 10000   /* a cancelled READY mirror leaves query-block-jobs */

/* "hs-s-vda-<epoch>.": the prefix of TARGET's NBD children of connection EPOCH. */
static void child_prefix(char *buf, size_t size, const char *target, int64_t epoch)
{
	snprintf(buf, size, "hs-s-%s-%" PRId64 ".", target, epoch);
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
		mirror__qsync_quorum_name(quorum, sizeof(quorum), t);
		mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-n-%s\"}}", t);
		if ((e = mirror__qsync_cmd(r, d,
			     "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"null-co\","
			     "\"node-name\":\"hs-n-%s\",\"size\":%" PRIu64 "}}",
			     t, q[i].size)) < 0 ||
		    (e = mirror__qsync_cmd(r, d,
			     "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"quorum\","
			     "\"node-name\":\"%s\",\"vote-threshold\":1,\"read-pattern\":\"fifo\","
			     "\"children\":[\"hs-n-%s\"]}}",
			     quorum, t)) < 0)
			break;
		if ((e = mirror__qsync_cmd(r, d,
			     "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"%s\","
			     "\"property\":\"drive\",\"value\":\"%s\"}}",
			     q[i].qdev, quorum)) < 0 ||
		    (e = mirror__qsync_cmd(r, d,
			     "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\","
			     "\"node\":\"%s\"}}",
			     quorum, q[i].format)) < 0)
			break;
		char n_node[128];

		snprintf(n_node, sizeof(n_node), "hs-n-%s", t);
		mirror__qsync_child_edge(d, quorum, n_node, edge, sizeof(edge));
		if ((e = mirror__qsync_cmd(r, d,
			     "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\","
			     "\"child\":\"%s\"}}",
			     quorum, edge)) < 0)
			break;
		mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-n-%s\"}}", t);
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

	if (mirror__qsync_read_disks(d, dom, q, &attached) < 0)
		return;
	for (size_t i = 0; i < dom->n_disks; i++) {
		/* nothing of ours on this disk (the qmp engine without parallel writes) */
		if (!q[i].attached && !q[i].backup_job && q[i].n_maps == 0)
			continue;
		mirror__qsync_quiet(d, "{\"execute\":\"job-cancel\",\"arguments\":{\"id\":\"hs-bk-%s\"}}", dom->disks[i].target);
		mirror__qsync_quiet(d, "{\"execute\":\"job-dismiss\",\"arguments\":{\"id\":\"hs-bk-%s\"}}", dom->disks[i].target);
		mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-b-%s\"}}", dom->disks[i].target);
		for (size_t k = 0; k < q[i].n_maps; k++)
			mirror__qsync_bitmap_del(d, q[i].format, q[i].maps[k].name);
		mirror__qsync_quiet(d, "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"%s\",\"name\":\"hs-r-%s\"}}",
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
		mirror__qsync_quorum_name(quorum, sizeof(quorum), t);
		mirror__qsync_quiet(d, "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"null-co\","
			 "\"node-name\":\"hs-n-%s\",\"size\":%" PRIu64 "}}", t, q[i].size);
		mirror__qsync_quiet(d, "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"node\":\"hs-n-%s\"}}",
		      quorum, t);
		if (q[i].child[0])
			mirror__qsync_child_drop(d, t, q[i].child);
		mirror__qsync_child_edge(d, quorum, q[i].format, edge, sizeof(edge));
		if (edge[0])
			mirror__qsync_quiet(d, "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"child\":\"%s\"}}",
			      quorum, edge);
		mirror__qsync_quiet(d, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"%s\",\"property\":\"drive\",\"value\":\"%s\"}}",
		      q[i].qdev, q[i].format);
		mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", quorum);
		mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-n-%s\"}}", t);
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
	mirror__qsync_quorum_name(quorum, sizeof(quorum), t);
	child_prefix(prefix, sizeof(prefix), t, r->conn_epoch);
	snprintf(child, sizeof(child), "%s%u", prefix, ++counter);
	snprintf(mirror_id, sizeof(mirror_id), "hs-%s", t);
	/* the child goes where the mirror went */
	if (mirror__qmp_target_node(d, t, target_node, sizeof(target_node)) < 0 ||
	    mirror__qsync_node_where(d, target_node, where, sizeof(where)) < 0 || !(colon = strrchr(where, ':')))
		return mirror__say(r, -ENOENT, "%s: cannot tell where the mirror of disk %s goes",
				   r->vm, t);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - where), where);
	r->host = host;
	r->port = (unsigned)atoi(colon + 1);
	if (mirror__qsync_bitmap_add(r, d, t, q->format, now, where) < 0)
		goto out;
	/* the connections there before the child's: not its own (mirror_qsync_vouch.c) */
	mirror__vouch_sockets(r->vm, host, r->port, before, MIRROR__VOUCH_INODES_MAX, &n_before);
	if (mirror__qmp_nbd_add(r, d, child, t, tls) < 0 ||
	    mirror__qsync_cmd(r, d, "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"%s\",\"node\":\"%s\"}}",
		quorum, child) < 0) {
		mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", child);
		goto out;
	}
	/* the add drained the quorum: every write before it went through the mirror */
	if (mirror__qmp_return(d, "{\"execute\":\"query-block-jobs\"}", &parsed, &list) < 0) {
		mirror__qsync_child_drop(d, t, child);
		mirror__say(r, -EIO, "%s: cannot read the mirror of disk %s", r->vm, t);
		goto out;
	}
	mirror__qmp_jobs_parse(list, dom, after);
	json_object_put(parsed);
	ok = after[i].exists && !after[i].paused && strcmp(after[i].io_status, "failed") != 0 &&
	     after[i].offset == after[i].len;
	if (!ok) {
		mirror__qsync_child_drop(d, t, child);
		mirror__say(r, -EAGAIN, "%s: the mirror of disk %s is not in step yet", r->vm, t);
		goto out;
	}
	mirror__qsync_quiet(d, "{\"execute\":\"block-job-cancel\",\"arguments\":{\"device\":\"%s\"}}", mirror_id);
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
		mirror__qsync_bitmap_del(d, q->format, q->maps[k].name);
	mirror__qsync_quiet(d, "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"%s\",\"name\":\"hs-r-%s\"}}",
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
			mirror__qsync_bitmap_del(d, q->format, q->maps[k].name);
	if (now - newest >= ROTATE_MS)
		mirror__qsync_bitmap_add(&scratch, d, target, q->format, now, q->where); /* retried next poll */
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
	    mirror__qsync_read_disks(d, dom, q, &attached) < 0)
		return mirror__say(r, -EIO, "cannot read the disks of %s: %s", r->vm, mirror__virt_error());
	if (attached == 0)
		return mirror__qmp_jobs_read(r, d, dom, ret_ready, ret_drained);
	for (size_t i = 0; i < dom->n_disks; i++) {
		enum qsync_state s = mirror__qsync_state(&q[i]);

		if (s == QSYNC_BACKFILL && q[i].mirror.exists && q[i].mirror.paused) {
			/* the new writes' mirror failed: start over from the bitmaps */
			mirror__qsync_quiet(d, "{\"execute\":\"job-cancel\",\"arguments\":{\"id\":\"hs-bk-%s\"}}",
			      dom->disks[i].target);
			q[i].backup_done = q[i].backup_failed = true;
		}
		if (s == QSYNC_BACKFILL && q[i].backup_done) {
			mirror__qsync_quiet(d, "{\"execute\":\"job-dismiss\",\"arguments\":{\"id\":\"hs-bk-%s\"}}",
			      dom->disks[i].target);
			mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-b-%s\"}}",
			      dom->disks[i].target);
			q[i].backup_job = false;
			if (q[i].backup_failed) {
				/* the copy failed: the bitmaps still hold all of it */
				mirror__qmp_jobs_cancel(d, dom, true);
				q[i].mirror.exists = false;
			}
			s = mirror__qsync_state(&q[i]);
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
			mirror__qsync_child_drop(d, dom->disks[i].target, q[i].child);
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
	if (mirror__qsync_read_disks(d, dom, q, &attached) < 0)
		return mirror__say(r, -EIO, "cannot read the disks of %s: %s", r->vm, mirror__virt_error());
	/* a new full copy: nothing of an older one may survive it */
	for (size_t i = 0; i < dom->n_disks; i++) {
		mirror__qsync_quiet(d, "{\"execute\":\"job-cancel\",\"arguments\":{\"id\":\"hs-bk-%s\"}}", dom->disks[i].target);
		mirror__qsync_quiet(d, "{\"execute\":\"job-dismiss\",\"arguments\":{\"id\":\"hs-bk-%s\"}}", dom->disks[i].target);
		mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hs-b-%s\"}}", dom->disks[i].target);
		if (q[i].child[0])
			mirror__qsync_child_drop(d, dom->disks[i].target, q[i].child);
		for (size_t k = 0; k < q[i].n_maps; k++)
			mirror__qsync_bitmap_del(d, q[i].format, q[i].maps[k].name);
	}
	if (attach(r, d, dom, q) < 0)
		return r->result;
	return mirror__qmp_start_from(r, d, dom, tls_dir, why_full, "hs-g-");
}

void mirror__qsync_cut(virDomainPtr d, const struct mirror_domain *dom)
{
	struct qsync_disk q[dom->n_disks ?: 1];
	size_t attached;

	if (mirror__qsync_read_disks(d, dom, q, &attached) < 0 || attached == 0)
		return;
	for (size_t i = 0; i < dom->n_disks; i++)
		if (q[i].child[0])
			mirror__qsync_child_drop(d, dom->disks[i].target, q[i].child);
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
		mirror__qsync_child_drop(d, target, node);
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
