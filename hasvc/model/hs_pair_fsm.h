/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_pair_fsm: the life of a VM pair as one table of transitions.
 *
 * The table is pure: given the pair's state and an event it says which
 * action to take, who takes it, and the next state. It touches nothing. The
 * daemon turns a row into a replicated compare-and-set update ("pair vm1 from
 * in-sync to fencing"), so every node applies the same transition at the same
 * point of the agreed order, and a stale proposal (the state moved on in the
 * meantime) is refused everywhere alike. A pair (state, event) not in the
 * table is logged and refused by the caller.
 *
 * Beside it, the duties: what each state asks of whom while a pair is in it
 * (hs_pair_fsm_duties), which pairs/ binds to its handlers by action.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum hs_pair_state {
	HS_PAIR_CREATING,       /* backup host defines the paused backup and exports its disks */
	HS_PAIR_INITIAL_SYNC,   /* mirror running; not every disk READY yet: never promoted */
	HS_PAIR_IN_SYNC,        /* every disk READY since pairing: protected */
	HS_PAIR_DEGRADED,       /* backup lost or mirror failed: primary runs, unprotected */
	HS_PAIR_FENCING,        /* primary host lost: waiting for a verified fence */
	HS_PAIR_PROMOTING,      /* primary host fenced: backup host resumes the backup */
	HS_PAIR_UNPROTECTED,    /* promoted backup runs as the primary; no backup yet */
	HS_PAIR_LOST_UNSYNCED,  /* primary host lost before the first sync: not promoted */
	HS_PAIR_SWITCHING_OVER, /* admin switchover: primary stopped, drained, backup promoted */
	HS_PAIR_DELETING,       /* mirror stopped and backup torn down, then the pair is gone */
	HS_PAIR_ERROR,          /* an action failed in a way that needs the operator */
	/* a live switchover (docs/pairs.md): the guest moves without a reboot */
	HS_PAIR_HANDING_OVER,   /* backup host: a stand-in takes the backup's exports over */
	HS_PAIR_CATCHING_UP,    /* primary: its jobs copy what the hand-over owed them */
	HS_PAIR_MIGRATING,      /* primary: live migration onto the backup host, left paused */
	HS_PAIR_REVERSING,      /* new primary: mirror back from equal disks, resume the guest */
	HS_PAIR_GUEST_DOWN,     /* the primary's guest kept dying and is left off until started */
	HS_PAIR_STATE_MAX,
};

enum hs_pair_event {
	HS_EV_BACKUP_PREPARED,  /* backup domain defined, paused, disks exported */
	HS_EV_PREPARE_FAILED,   /* the backup host could not prepare: roll the pair back */
	HS_EV_MIRROR_READY,     /* every disk's block job is READY */
	HS_EV_MIRROR_FAILED,    /* a block job failed or was cut */
	HS_EV_BACKUP_LOST,      /* the backup host left the membership */
	HS_EV_PRIMARY_LOST,     /* the primary host left the membership */
	HS_EV_FENCED,           /* the primary host's fence is verified */
	HS_EV_PROMOTED,         /* the backup runs */
	HS_EV_PROMOTE_FAILED,   /* resuming the backup failed */
	HS_EV_HOST_RETURNED,    /* the host we wait for (backup, or lost primary) is back */
	HS_EV_REPROTECT,        /* a new backup host was chosen */
	HS_EV_SWITCHOVER,       /* admin asked for a planned switchover */
	HS_EV_SWITCHOVER_FAILED,/* a switchover step failed: rolled back to the primary */
	HS_EV_DELETE,           /* admin asked to unpair */
	HS_EV_DELETED,          /* everything of the pair is gone */
	HS_EV_PRIMARY_STOPPED,  /* switchover: primary stopped and its mirror drained */
	HS_EV_REPROTECT_FAILED, /* a new backup could not be prepared: still unprotected */
	HS_EV_LIVE_SWITCHOVER,  /* admin asked for a live switchover */
	HS_EV_STANDIN_READY,    /* the stand-in serves the backup's disks on its port */
	HS_EV_MIGRATED,         /* the guest is on the backup host (paused): roles swapped */
	HS_EV_MIGRATION_FAILED, /* the guest still runs on the primary host */
	HS_EV_REVERSED,         /* the new primary mirrors back and its guest runs */
	HS_EV_REVERSE_FAILED,   /* no mirror back: the new primary runs unprotected */
	HS_EV_GUEST_LEFT_OFF,   /* the primary's guest died once more than keep-running starts */
	HS_EV_GUEST_STARTED,    /* a guest left off runs again (started by hand) */
	HS_EV_MAX,
};

/* Who carries out a row's action. */
enum hs_pair_actor {
	HS_ACTOR_NONE,
	HS_ACTOR_PRIMARY,     /* the daemon on the pair's primary host */
	HS_ACTOR_BACKUP,      /* the daemon on the pair's backup host */
	HS_ACTOR_COORDINATOR, /* the quorate partition's coordinator */
};

enum hs_pair_action {
	HS_ACT_NONE,
	HS_ACT_START_MIRROR,     /* primary: block copy every disk into the backup's export */
	HS_ACT_CUT_MIRROR,       /* primary: abort the mirror at once, guest I/O must not stall */
	HS_ACT_FENCE,            /* coordinator: fence the primary host */
	HS_ACT_PROMOTE,          /* backup: stop exports, resume the domain */
	HS_ACT_REFUSE_PROMOTION, /* coordinator: say loudly why the backup is not promoted */
	HS_ACT_PREPARE_BACKUP,   /* backup: (re)define the paused backup and export its disks */
	HS_ACT_RESTART_PRIMARY,  /* primary: start the VM again on its returned host */
	HS_ACT_SWITCHOVER,       /* primary: stop cleanly and drain; then backup promotes */
	HS_ACT_TEARDOWN,         /* both: stop mirror, destroy and undefine the backup */
	HS_ACT_REPORT_ERROR,     /* coordinator: the pair needs the operator */
	/* what a state asks while the pair is in it (hs_pair_duty), beside the above */
	HS_ACT_WATCH_MIRROR,     /* primary: read the block jobs, report progress and lag */
	HS_ACT_AWAIT_FENCE,      /* coordinator: promote once the primary host's fence is verified */
	HS_ACT_WATCH_BACKUP,     /* primary: cut the mirror if the backup host leaves the ring */
	HS_ACT_RELEASE_MIRROR,   /* primary: stop mirroring so the backup may go */
	HS_ACT_REMOVE_ORPHAN,    /* coordinator: remove a pair whose backup host is gone */
	HS_ACT_WATCH_LINK,       /* primary: a replication link silent too long degrades the pair */
	HS_ACT_HAND_OVER,        /* backup: destroy the paused backup, a stand-in exports its disks */
	HS_ACT_CATCH_UP,         /* primary: resume the paused jobs until READY */
	HS_ACT_MIGRATE,          /* primary: live-migrate the guest onto the backup host, paused */
	HS_ACT_REVERSE,          /* new primary: mirror into the old host's stand-in, resume */
	HS_ACT_CONTINUE,         /* primary: a guest a live switchover left paused runs again */
	HS_ACT_WATCH_DISKS,      /* backup: an image replaced under its running QEMU fails the mirror */
	HS_ACT_KEEP_RUNNING,     /* primary: a guest whose QEMU died here is started again */
	HS_ACT_MAX,
};

struct hs_pair_transition {
	enum hs_pair_state state;
	enum hs_pair_event event;
	enum hs_pair_action action;
	enum hs_pair_actor actor;
	enum hs_pair_state next;
};

/*
 * What a state asks of whom while the pair is in it: the duties. A row's
 * ACTION is carried out by its ACTOR once per pair generation; the events
 * the duty's result proposes are rows of the transition table leaving STATE.
 * URGENT duties run even while another request of the VM is in flight (a
 * cut must not wait behind a write stuck on a silent backup).
 */
struct hs_pair_duty {
	enum hs_pair_state state;
	enum hs_pair_action action;
	enum hs_pair_actor actor;
	bool urgent;
};

/* The duties of STATE: *RET_N rows (0: the state asks nothing). */
const struct hs_pair_duty *hs_pair_fsm_duties(enum hs_pair_state state, size_t *ret_n);

/* The row for (STATE, EVENT), or NULL when that event is not allowed there. */
const struct hs_pair_transition *hs_pair_fsm_lookup(enum hs_pair_state state,
						    enum hs_pair_event event);

const char *hs_pair_state_name(enum hs_pair_state state);
const char *hs_pair_event_name(enum hs_pair_event event);
const char *hs_pair_action_name(enum hs_pair_action action);
/* -EINVAL for an unknown name. */
int hs_pair_state_from_name(const char *name, enum hs_pair_state *ret);
int hs_pair_event_from_name(const char *name, enum hs_pair_event *ret);

/* A pair in this state may be promoted only when it is IN_SYNC: the one rule. */
bool hs_pair_state_promotable(enum hs_pair_state state);
/* Stable states accept admin operations; others are busy with one. */
bool hs_pair_state_busy(enum hs_pair_state state);
