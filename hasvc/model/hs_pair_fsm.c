// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_fsm: the transition table of a VM pair.
 *
 *                 prepare-failed / backup-lost / primary-lost / delete
 *      +-----------------------------------------------------------------+
 *      |                                                                 v
 *  [creating] --backup-prepared--> [initial-sync] --mirror-ready--> [in-sync]    [deleting]
 *      ^                              |        |                      |   |  \       |
 *      |                 mirror-failed|        |primary-lost          |   |   \      | deleted
 *      |                 backup-lost  v        v                      |   |    \     v
 *      +--host-returned/reprotect-- [degraded] [lost-unsynced]        |   |     \  (gone)
 *      |                               ^  ^         | host-returned   |   |      \
 *      |                               |  +---------+ (restart there) |   |  switchover
 *      |                               +----mirror-failed/backup-lost-+   |        \
 *      |                                                     primary-lost |   [switching-over]
 *      |                                                                  v        |
 *      |                                              [fencing] --fenced--> [promoting]
 *      |                                                                      | promoted
 *      +----------------------------reprotect--------------- [unprotected] <--+
 *
 * A live switchover leaves in-sync by another road, each step on one host:
 *
 *  [in-sync] --live-switchover--> [handing-over] --standin-ready--> [catching-up]
 *     --mirror-ready--> [migrating] --migrated (roles swapped)--> [reversing]
 *     --reversed--> [creating] (the old primary's QEMU becomes the backup: delta)
 *
 * and any failure on the way to creating (the backup's QEMU back, the jobs
 * resume) or degraded; a lost host as everywhere.
 *
 * The rule the whole project exists for is in the rows for primary-lost: only
 * in-sync (and switching-over, which starts in sync, and migrating and
 * reversing, where both disks hold every acknowledged write) goes to fencing
 * and then promoting; every other state refuses promotion and says why.
 */
#include <errno.h>
#include <string.h>

#include "hs_cleanup.h"
#include "hs_pair_fsm.h"

#define ROW(s, e, a, who, n) {HS_PAIR_##s, HS_EV_##e, HS_ACT_##a, HS_ACTOR_##who, HS_PAIR_##n}

static const struct hs_pair_transition transitions[] = {
	/* state           event              action            actor        next */
	ROW(CREATING, BACKUP_PREPARED, START_MIRROR, PRIMARY, INITIAL_SYNC),
	ROW(CREATING, PREPARE_FAILED, TEARDOWN, BACKUP, DELETING),
	/* a pair being (re)protected keeps its primary: losing a host never deletes it */
	ROW(CREATING, BACKUP_LOST, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(CREATING, PRIMARY_LOST, REFUSE_PROMOTION, COORDINATOR, LOST_UNSYNCED),
	ROW(CREATING, DELETE, TEARDOWN, BACKUP, DELETING),
	ROW(CREATING, REPROTECT_FAILED, NONE, NONE, DEGRADED),

	ROW(INITIAL_SYNC, MIRROR_READY, NONE, NONE, IN_SYNC),
	ROW(INITIAL_SYNC, MIRROR_FAILED, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(INITIAL_SYNC, BACKUP_LOST, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(INITIAL_SYNC, PRIMARY_LOST, REFUSE_PROMOTION, COORDINATOR, LOST_UNSYNCED),
	ROW(INITIAL_SYNC, DELETE, TEARDOWN, BACKUP, DELETING),

	ROW(IN_SYNC, MIRROR_FAILED, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(IN_SYNC, BACKUP_LOST, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(IN_SYNC, PRIMARY_LOST, FENCE, COORDINATOR, FENCING),
	ROW(IN_SYNC, SWITCHOVER, SWITCHOVER, PRIMARY, SWITCHING_OVER),
	ROW(IN_SYNC, DELETE, TEARDOWN, BACKUP, DELETING),

	ROW(DEGRADED, HOST_RETURNED, PREPARE_BACKUP, BACKUP, CREATING),
	ROW(DEGRADED, REPROTECT, PREPARE_BACKUP, BACKUP, CREATING),
	ROW(DEGRADED, PRIMARY_LOST, REFUSE_PROMOTION, COORDINATOR, LOST_UNSYNCED),
	ROW(DEGRADED, BACKUP_LOST, NONE, NONE, DEGRADED),
	ROW(DEGRADED, DELETE, TEARDOWN, BACKUP, DELETING),

	ROW(FENCING, FENCED, PROMOTE, BACKUP, PROMOTING),
	ROW(FENCING, BACKUP_LOST, REPORT_ERROR, COORDINATOR, ERROR),
	/* the primary host came back before it could be fenced: nothing was promoted */
	ROW(FENCING, HOST_RETURNED, NONE, NONE, IN_SYNC),

	ROW(PROMOTING, PROMOTED, NONE, NONE, UNPROTECTED),
	ROW(PROMOTING, PROMOTE_FAILED, REPORT_ERROR, COORDINATOR, ERROR),
	ROW(PROMOTING, BACKUP_LOST, REPORT_ERROR, COORDINATOR, ERROR),
	/* switchover: the backup did not start, the stopped primary starts again */
	ROW(PROMOTING, SWITCHOVER_FAILED, RESTART_PRIMARY, PRIMARY, DEGRADED),

	ROW(UNPROTECTED, REPROTECT, PREPARE_BACKUP, BACKUP, CREATING),
	ROW(UNPROTECTED, PRIMARY_LOST, REFUSE_PROMOTION, COORDINATOR, LOST_UNSYNCED),
	ROW(UNPROTECTED, DELETE, NONE, NONE, DELETING),

	ROW(LOST_UNSYNCED, HOST_RETURNED, RESTART_PRIMARY, PRIMARY, DEGRADED),
	ROW(LOST_UNSYNCED, DELETE, NONE, NONE, DELETING),

	ROW(SWITCHING_OVER, PRIMARY_STOPPED, PROMOTE, BACKUP, PROMOTING),
	ROW(SWITCHING_OVER, SWITCHOVER_FAILED, RESTART_PRIMARY, PRIMARY, DEGRADED),
	ROW(SWITCHING_OVER, PRIMARY_LOST, FENCE, COORDINATOR, FENCING),
	ROW(SWITCHING_OVER, BACKUP_LOST, RESTART_PRIMARY, PRIMARY, DEGRADED),

	/*
	 * Live switchover. Until the jobs are READY again after the hand-over
	 * the backup may lack writes (those made while nothing listened): not
	 * promotable. From migrating on, every acknowledged write is on both
	 * hosts' disks, wherever the guest is: promotable. A failure leaves the
	 * guest where it runs, and creating puts a backup's QEMU back in place
	 * of a stand-in (its jobs resume: a delta).
	 */
	ROW(IN_SYNC, LIVE_SWITCHOVER, HAND_OVER, BACKUP, HANDING_OVER),
	ROW(HANDING_OVER, STANDIN_READY, CATCH_UP, PRIMARY, CATCHING_UP),
	ROW(HANDING_OVER, SWITCHOVER_FAILED, PREPARE_BACKUP, BACKUP, CREATING),
	ROW(HANDING_OVER, BACKUP_LOST, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(HANDING_OVER, PRIMARY_LOST, REFUSE_PROMOTION, COORDINATOR, LOST_UNSYNCED),
	ROW(CATCHING_UP, MIRROR_READY, MIGRATE, PRIMARY, MIGRATING),
	ROW(CATCHING_UP, MIRROR_FAILED, PREPARE_BACKUP, BACKUP, CREATING),
	ROW(CATCHING_UP, BACKUP_LOST, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(CATCHING_UP, PRIMARY_LOST, REFUSE_PROMOTION, COORDINATOR, LOST_UNSYNCED),
	ROW(MIGRATING, MIGRATED, REVERSE, PRIMARY, REVERSING),
	ROW(MIGRATING, MIGRATION_FAILED, PREPARE_BACKUP, BACKUP, CREATING),
	/*
	 * The guest may have left already: degraded's cut resumes or boots it
	 * on the primary host, after the transition is applied, never before
	 * (a restart acted on a stale view would run beside a `migrated` the
	 * cluster applied first: fault_live_crash_backup)
	 */
	ROW(MIGRATING, BACKUP_LOST, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(MIGRATING, PRIMARY_LOST, FENCE, COORDINATOR, FENCING),
	/* reversing: the new primary is the primary; the old host's stand-in holds every write */
	ROW(REVERSING, REVERSED, PREPARE_BACKUP, BACKUP, CREATING),
	/* degraded's cut resumes a guest the live switchover left paused */
	ROW(REVERSING, REVERSE_FAILED, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(REVERSING, BACKUP_LOST, CUT_MIRROR, PRIMARY, DEGRADED),
	ROW(REVERSING, PRIMARY_LOST, FENCE, COORDINATOR, FENCING),

	/*
	 * A guest whose QEMU kept dying on a host that stays up is left off
	 * (hs_pair_duty_guest.c): nothing re-protects it, which would only
	 * fail on the dead domain round after round, until it runs again.
	 */
	ROW(DEGRADED, GUEST_LEFT_OFF, NONE, NONE, GUEST_DOWN),
	ROW(GUEST_DOWN, GUEST_STARTED, NONE, NONE, DEGRADED),
	ROW(GUEST_DOWN, PRIMARY_LOST, REFUSE_PROMOTION, COORDINATOR, LOST_UNSYNCED),
	ROW(GUEST_DOWN, DELETE, TEARDOWN, BACKUP, DELETING),

	ROW(DELETING, DELETED, NONE, NONE, DELETING),

	ROW(ERROR, DELETE, TEARDOWN, BACKUP, DELETING),
};

/*
 * The duties: while a pair is in a state, who does what. Rows of one state
 * are adjacent (hs_pair_fsm_duties returns a slice).
 */
#define DUTY(s, a, who, urgent) {HS_PAIR_##s, HS_ACT_##a, HS_ACTOR_##who, urgent}

static const struct hs_pair_duty duties[] = {
	/* state        action           actor        urgent */
	/*
	 * continue: wherever a live switchover can end (its op still claimed),
	 * the primary host resumes a guest it left paused, beside any slow
	 * request (urgent: a reverse mirror stuck on a dead stand-in must not
	 * hold the guest), and ends the op; a no-op otherwise.
	 */
	DUTY(CREATING, PREPARE_BACKUP, BACKUP, false),
	DUTY(CREATING, CONTINUE, PRIMARY, true),
	/* watch-link first (a duty that polls moves the task's next time on),
	 * urgent: it must run while a block-job request waits behind a stuck write */
	DUTY(INITIAL_SYNC, WATCH_LINK, PRIMARY, true),
	/* continue before the duties that poll (they move the task's next time on) */
	DUTY(INITIAL_SYNC, CONTINUE, PRIMARY, true),
	DUTY(INITIAL_SYNC, START_MIRROR, PRIMARY, false),
	/* the backup host's own look at its disks: beside anything, it only reads /proc */
	DUTY(INITIAL_SYNC, WATCH_DISKS, BACKUP, true),
	DUTY(IN_SYNC, WATCH_LINK, PRIMARY, true),
	DUTY(IN_SYNC, CONTINUE, PRIMARY, true),
	DUTY(IN_SYNC, WATCH_MIRROR, PRIMARY, false),
	DUTY(IN_SYNC, WATCH_DISKS, BACKUP, true),
	DUTY(DEGRADED, CUT_MIRROR, PRIMARY, true),
	DUTY(DEGRADED, CONTINUE, PRIMARY, true),
	/* a guest whose QEMU died with its host fine (hs_pair_duty_guest.c) */
	DUTY(DEGRADED, KEEP_RUNNING, PRIMARY, false),
	DUTY(FENCING, AWAIT_FENCE, COORDINATOR, false),
	DUTY(PROMOTING, PROMOTE, BACKUP, false),
	DUTY(UNPROTECTED, KEEP_RUNNING, PRIMARY, false),
	DUTY(GUEST_DOWN, KEEP_RUNNING, PRIMARY, false),
	DUTY(SWITCHING_OVER, SWITCHOVER, PRIMARY, false),
	DUTY(SWITCHING_OVER, WATCH_BACKUP, PRIMARY, true),
	DUTY(HANDING_OVER, HAND_OVER, BACKUP, false),
	DUTY(HANDING_OVER, WATCH_LINK, PRIMARY, true),
	DUTY(CATCHING_UP, WATCH_LINK, PRIMARY, true),
	DUTY(CATCHING_UP, CATCH_UP, PRIMARY, false),
	DUTY(MIGRATING, MIGRATE, PRIMARY, false),
	DUTY(REVERSING, REVERSE, PRIMARY, false),
	DUTY(DELETING, RELEASE_MIRROR, PRIMARY, false),
	DUTY(DELETING, TEARDOWN, BACKUP, false),
	DUTY(DELETING, REMOVE_ORPHAN, COORDINATOR, false),
};

const struct hs_pair_duty *hs_pair_fsm_duties(enum hs_pair_state state, size_t *ret_n)
{
	size_t i = 0, n = 0;

	while (i < ARRAY_SIZE(duties) && duties[i].state != state)
		i++;
	while (i + n < ARRAY_SIZE(duties) && duties[i + n].state == state)
		n++;
	*ret_n = n;
	return n ? &duties[i] : NULL;
}

static const char *const state_names[HS_PAIR_STATE_MAX] = {
	[HS_PAIR_CREATING] = "creating",
	[HS_PAIR_INITIAL_SYNC] = "initial-sync",
	[HS_PAIR_IN_SYNC] = "in-sync",
	[HS_PAIR_DEGRADED] = "degraded",
	[HS_PAIR_FENCING] = "fencing",
	[HS_PAIR_PROMOTING] = "promoting",
	[HS_PAIR_UNPROTECTED] = "unprotected",
	[HS_PAIR_LOST_UNSYNCED] = "lost-unsynced",
	[HS_PAIR_SWITCHING_OVER] = "switching-over",
	[HS_PAIR_DELETING] = "deleting",
	[HS_PAIR_ERROR] = "error",
	[HS_PAIR_HANDING_OVER] = "handing-over",
	[HS_PAIR_CATCHING_UP] = "catching-up",
	[HS_PAIR_MIGRATING] = "migrating",
	[HS_PAIR_REVERSING] = "reversing",
	[HS_PAIR_GUEST_DOWN] = "guest-down",
};

static const char *const event_names[HS_EV_MAX] = {
	[HS_EV_BACKUP_PREPARED] = "backup-prepared",
	[HS_EV_PREPARE_FAILED] = "prepare-failed",
	[HS_EV_MIRROR_READY] = "mirror-ready",
	[HS_EV_MIRROR_FAILED] = "mirror-failed",
	[HS_EV_BACKUP_LOST] = "backup-lost",
	[HS_EV_PRIMARY_LOST] = "primary-lost",
	[HS_EV_FENCED] = "fenced",
	[HS_EV_PROMOTED] = "promoted",
	[HS_EV_PROMOTE_FAILED] = "promote-failed",
	[HS_EV_HOST_RETURNED] = "host-returned",
	[HS_EV_REPROTECT] = "reprotect",
	[HS_EV_SWITCHOVER] = "switchover",
	[HS_EV_SWITCHOVER_FAILED] = "switchover-failed",
	[HS_EV_DELETE] = "delete",
	[HS_EV_DELETED] = "deleted",
	[HS_EV_PRIMARY_STOPPED] = "primary-stopped",
	[HS_EV_REPROTECT_FAILED] = "reprotect-failed",
	[HS_EV_LIVE_SWITCHOVER] = "live-switchover",
	[HS_EV_STANDIN_READY] = "standin-ready",
	[HS_EV_MIGRATED] = "migrated",
	[HS_EV_MIGRATION_FAILED] = "migration-failed",
	[HS_EV_REVERSED] = "reversed",
	[HS_EV_REVERSE_FAILED] = "reverse-failed",
	[HS_EV_GUEST_LEFT_OFF] = "guest-left-off",
	[HS_EV_GUEST_STARTED] = "guest-started",
};

static const char *const action_names[HS_ACT_MAX] = {
	[HS_ACT_NONE] = "none",
	[HS_ACT_START_MIRROR] = "start-mirror",
	[HS_ACT_CUT_MIRROR] = "cut-mirror",
	[HS_ACT_FENCE] = "fence",
	[HS_ACT_PROMOTE] = "promote",
	[HS_ACT_REFUSE_PROMOTION] = "refuse-promotion",
	[HS_ACT_PREPARE_BACKUP] = "prepare-backup",
	[HS_ACT_RESTART_PRIMARY] = "restart-primary",
	[HS_ACT_SWITCHOVER] = "switchover",
	[HS_ACT_TEARDOWN] = "teardown",
	[HS_ACT_REPORT_ERROR] = "report-error",
	[HS_ACT_WATCH_MIRROR] = "watch-mirror",
	[HS_ACT_AWAIT_FENCE] = "await-fence",
	[HS_ACT_WATCH_BACKUP] = "watch-backup",
	[HS_ACT_RELEASE_MIRROR] = "release-mirror",
	[HS_ACT_REMOVE_ORPHAN] = "remove-orphan",
	[HS_ACT_WATCH_LINK] = "watch-link",
	[HS_ACT_HAND_OVER] = "hand-over",
	[HS_ACT_CATCH_UP] = "catch-up",
	[HS_ACT_MIGRATE] = "migrate",
	[HS_ACT_REVERSE] = "reverse",
	[HS_ACT_CONTINUE] = "continue",
	[HS_ACT_WATCH_DISKS] = "watch-disks",
	[HS_ACT_KEEP_RUNNING] = "keep-running",
};

const struct hs_pair_transition *hs_pair_fsm_lookup(enum hs_pair_state state,
						    enum hs_pair_event event)
{
	for (size_t i = 0; i < ARRAY_SIZE(transitions); i++)
		if (transitions[i].state == state && transitions[i].event == event)
			return &transitions[i];
	return NULL;
}

const char *hs_pair_state_name(enum hs_pair_state state)
{
	return (unsigned)state < HS_PAIR_STATE_MAX ? state_names[state] : "?";
}

const char *hs_pair_event_name(enum hs_pair_event event)
{
	return (unsigned)event < HS_EV_MAX ? event_names[event] : "?";
}

const char *hs_pair_action_name(enum hs_pair_action action)
{
	return (unsigned)action < HS_ACT_MAX ? action_names[action] : "?";
}

static int index_of(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return i;
	return -EINVAL;
}

int hs_pair_state_from_name(const char *name, enum hs_pair_state *ret)
{
	int i = index_of(state_names, HS_PAIR_STATE_MAX, name);

	if (i < 0)
		return i;
	*ret = (enum hs_pair_state)i;
	return 0;
}

int hs_pair_event_from_name(const char *name, enum hs_pair_event *ret)
{
	int i = index_of(event_names, HS_EV_MAX, name);

	if (i < 0)
		return i;
	*ret = (enum hs_pair_event)i;
	return 0;
}

bool hs_pair_state_promotable(enum hs_pair_state state)
{
	return state == HS_PAIR_IN_SYNC || state == HS_PAIR_SWITCHING_OVER ||
	       state == HS_PAIR_MIGRATING || state == HS_PAIR_REVERSING;
}

bool hs_pair_state_busy(enum hs_pair_state state)
{
	switch (state) {
	case HS_PAIR_IN_SYNC:
	case HS_PAIR_DEGRADED:
	case HS_PAIR_UNPROTECTED:
	case HS_PAIR_LOST_UNSYNCED:
	case HS_PAIR_ERROR:
	case HS_PAIR_INITIAL_SYNC:
		return false;
	default:
		return true;
	}
}
