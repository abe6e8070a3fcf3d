// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_qsync_resync: parallel sync writes' resync after the backup was
 * away, from the dirty bitmaps and the paused initial copies
 * (mirror_qmp_sync.c says how it keeps old from landing over new).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mirror_qsync.h"

/*
 * Every disk still COPYING: its mirror job owes what it has not copied and
 * what a cut left dirty, as a job of the qmp engine does (mirror_qmp.c), so
 * it is resumed as that engine resumes one (a live switchover's way back
 * is cut so while the old primary's stand-in gives way to its backup).
 */
static bool all_copying(const struct mirror_domain *dom, const struct qsync_disk *q)
{
	for (size_t i = 0; i < dom->n_disks; i++)
		if (mirror__qsync_state(&q[i]) != QSYNC_COPYING)
			return false;
	return dom->n_disks > 0;
}

int mirror__qsync_resumable(virDomainPtr d, const struct mirror_domain *dom, const char *host,
			    unsigned port, char *why, size_t size)
{
	struct qsync_disk q[dom->n_disks ?: 1];
	char want[300];
	size_t attached;

	if (mirror__qsync_read_disks(d, dom, q, &attached) < 0) {
		snprintf(why, size, "its disks cannot be read");
		return -EIO;
	}
	if (attached == 0 || all_copying(dom, q))
		return mirror__qmp_resumable(d, dom, host, port, why, size);
	snprintf(want, sizeof(want), "%s:%u", host, port);
	for (size_t i = 0; i < dom->n_disks; i++) {
		if (mirror__qsync_state(&q[i]) == QSYNC_COPYING) {
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

	if (mirror__qsync_read_disks(d, dom, q, &attached) < 0)
		return mirror__say(r, -EIO, "cannot read the disks of %s: %s", r->vm, mirror__virt_error());
	if (attached == 0 || all_copying(dom, q))
		return mirror__qmp_resume(r, d, dom, tls);
	for (size_t i = 0; i < dom->n_disks; i++) {
		const char *t = dom->disks[i].target;
		enum qsync_state s = mirror__qsync_state(&q[i]);
		size_t len = 0;

		if (s == QSYNC_COPYING && q[i].mirror.paused) {
			/* beside disks in step or out (a cut during the initial copy): its job goes on */
			to_copy += q[i].mirror.len - q[i].mirror.offset;
			mirror__qsync_quiet(d, "{\"execute\":\"block-job-resume\",\"arguments\":{\"device\":\"hs-%s\"}}", t);
			copies++;
			continue;
		}
		if (s != QSYNC_BROKEN)
			continue;
		owed += q[i].dirty;
		/* the union of the bitmaps, for the backup job: it takes one */
		mirror__qsync_quiet(d, "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"%s\",\"name\":\"hs-r-%s\"}}",
		      q[i].format, t);
		if (mirror__qsync_cmd(r, d,
			"{\"execute\":\"block-dirty-bitmap-add\",\"arguments\":{\"node\":\"%s\","
			"\"name\":\"hs-r-%s\",\"granularity\":%d}}",
			q[i].format, t, BITMAP_GRANULARITY) < 0)
			return r->result;
		for (size_t k = 0; k < q[i].n_maps; k++)
			len += (size_t)snprintf(merge + len, sizeof(merge) - len, "%s\"%s\"", k ? "," : "",
						q[i].maps[k].name);
		if (mirror__qsync_cmd(r, d,
			"{\"execute\":\"block-dirty-bitmap-merge\",\"arguments\":{\"node\":\"%s\","
			"\"target\":\"hs-r-%s\",\"bitmaps\":[%s]}}",
			q[i].format, t, merge) < 0)
			return r->result;
		/* 1: every new write reaches the backup, after the local disk */
		if (mirror__qmp_target_add(r, d, t, tls, node, sizeof(node)) < 0)
			return r->result;
		if (mirror__qsync_cmd(r, d,
			"{\"execute\":\"blockdev-mirror\",\"arguments\":{\"job-id\":\"hs-%s\","
			"\"device\":\"hs-g-%s\",\"target\":\"%s\",\"sync\":\"none\","
			"\"on-target-error\":\"stop\",\"copy-mode\":\"write-blocking\"}}",
			t, t, node) < 0) {
			mirror__qmp_target_del(d, t);
			return r->result;
		}
		/* 2: what the backup missed, as it is now; old before new */
		snprintf(node, sizeof(node), "hs-b-%s", t);
		mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", node);
		if (mirror__qmp_nbd_add(r, d, node, t, tls) < 0 ||
		    mirror__qsync_cmd(r, d,
			"{\"execute\":\"blockdev-backup\",\"arguments\":{\"job-id\":\"hs-bk-%s\","
			"\"device\":\"%s\",\"target\":\"%s\",\"sync\":\"bitmap\",\"bitmap\":\"hs-r-%s\","
			"\"bitmap-mode\":\"never\",\"auto-dismiss\":false,\"speed\":%" PRIu64 "}}",
			t, q[i].format, node, t, r->bandwidth_mib << 20) < 0) {
			char why[MIRROR_MSG_MAX];

			snprintf(why, sizeof(why), "%s", r->message);
			mirror__qmp_jobs_cancel(d, dom, true);
			mirror__qsync_quiet(d, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"%s\"}}", node);
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

