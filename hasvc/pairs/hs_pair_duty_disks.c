// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_duty_disks: the backup host's watch over its disks (watch-disks,
 * initial-sync and in-sync).
 *
 * An image replaced at its path while the backup's QEMU runs leaves that
 * QEMU writing the old, unlinked file: the pair would look in step and a
 * promotion would run, until the next start of the VM there opened the path
 * and found other data (mirror_disk_watch.c). The backup host looks (below
 * how often) and, when a disk is no longer the file its QEMU holds, fails
 * the mirror through the cluster: the pair degrades (never promotable), the
 * next preparation starts the backup afresh on the file at the path, whose
 * identity it checks, and the copy is full, with the reason.
 */
#include <stdio.h>

#include <qb/qblog.h>

#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"
#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"
#include "sdb.h"

/*
 * In sync, a look every 2 s. In initial-sync at every round: there a resume
 * may land any moment (a heal), and once it has, the primary's copy of the
 * delta into a replaced disk's old file would be the pair's record of being
 * in step until the next look. A resume needs a second or more after a heal
 * (QEMU's reconnect: docs/mirror.md), a round is 300 ms.
 */
#define WATCH_IN_SYNC_USEC (2000 * 1000ULL)

void hs__duty_watch_disks(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	_cleanup_free_ char *xml = NULL;
	_cleanup_json_ json_object *sizes = NULL;
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	char why[512];

	if (now < t->disks_next_usec || t->disks_failed_gen == v->generation)
		return;
	t->disks_next_usec = v->state == HS_PAIR_IN_SYNC ? now + WATCH_IN_SYNC_USEC : now;
	if (sdb_pair_spec_get(p->core->db, v->vm, &xml, &sizes) < 0 || !xml)
		return;
	/*
	 * An error reply to the primary (parallel sync writes): its connections
	 * shut down, so that a primary hasvcd that missed QEMU's event for it
	 * cannot vouch for its quorum child (mirror_backup_refusals.c). The
	 * primary's side degrades the pair; nothing to propose from here.
	 */
	if (v->nbd_port && mirror_backup_refusals(v->vm, v->nbd_port, &t->backup_qemu_pid, why,
						  sizeof(why)) == 1)
		qb_log(LOG_WARNING, "%s: its backup here answered a write with an error (%s)", v->vm,
		       why);
	/* no QEMU, unreadable /proc: nothing to say here (a lost backup is seen elsewhere) */
	if (mirror_backup_disks_replaced(xml, &t->backup_qemu_pid, why, sizeof(why)) != 1)
		return;
	t->disks_failed_gen = v->generation;
	hs__pairs_transition(p, v, HS_EV_MIRROR_FAILED, NULL, "%s (backup on %s); %s runs on %s "
			     "unprotected until a full copy onto that path",
			     why, v->backup, v->vm, v->primary);
}
