/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_pairs: the pairs' life carried out. Every host runs the same loop over
 * the replicated pairs (from the daemon's cron):
 *
 *   - duties: while a pair is in a state, the host the state names does that
 *     state's work (hs_pair_duties.c: the duty table) -- the backup host
 *     prepares in `creating`, the primary host mirrors in `initial-sync`, the
 *     backup host promotes in `promoting`, ... -- once per pair generation,
 *     and proposes the transition that follows from the result;
 *   - the coordinator's plan (hs_coord_plan) from the membership: hosts lost
 *     or back, re-protection; the coordinator proposes those transitions;
 *   - maintenance: the coordinator moves the primaries off a host in
 *     maintenance.
 *
 * Every transition is a replicated compare-and-set on (state, generation):
 * a stale proposal is refused on every host alike, so duplicate proposals,
 * a coordinator change or a host that restarts half-way do no harm; the next
 * round of the loop picks up from whatever state the pair is in.
 *
 * Admin operations (hs_pair_ops.c) only validate and propose the first
 * transition. They speak no HTTP: the answer is a result (-errno, or done, or
 * accepted) and a struct hs_pairs_answer; api/ maps the errno to a status.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct hs_core;
struct hs_pairs;

/* The mirror/ thread is started here; -errno when it cannot be. */
int hs_pairs_new(struct hs_core *core, struct hs_pairs **ret);
void hs_pairs_free(struct hs_pairs *p);
void hs_pairs_cron(struct hs_pairs *p);

/* A result of an operation that is not an error. */
enum {
	HS_PAIRS_DONE = 0,     /* it is over */
	HS_PAIRS_ACCEPTED = 1, /* it is under way: the pair's state and events tell the rest */
};

/* What an operation says; NULL fields are not part of the answer. */
struct hs_pairs_answer {
	const char *vm, *node, *state, *primary, *backup;
	unsigned nbd_port; /* 0: none */
	const char *message;
};

/*
 * The answer to an operation: RESULT is HS_PAIRS_DONE, HS_PAIRS_ACCEPTED or
 * -errno, with ANSWER->message saying why:
 *   -EINVAL  a value the operation cannot take (a bad name, mode, bandwidth)
 *   -ENOENT  no such pair, node or VM
 *   -EEXIST  the VM is paired already
 *   -EBUSY   the pair is busy with another operation (-EALREADY: this one)
 *   -EPERM   refused: the state of the cluster does not allow it now
 *   -ENOLINK this host's partition has no quorum
 *   other    the daemon could not do it (memory, libvirt, the state)
 * It may be called before the operation returns.
 */
typedef void (*hs_pairs_reply_fn)(void *userdata, int result, const struct hs_pairs_answer *answer);

/* What `pair create` asks, its types checked by the API already. */
struct hs_pair_request {
	const char *vm;
	const char *backup;
	const char *mode;       /* NULL: sync */
	int64_t bandwidth_mib; /* 0: unlimited */
};

/* The largest bandwidth a pair takes, in MiB/s per disk (0 is unlimited). */
#define HS_PAIR_BANDWIDTH_MAX_MIB 1000000

/* Pairs REQ->vm, which must run on this host, with a backup on REQ->backup. */
void hs_pairs_create(struct hs_pairs *p, const struct hs_pair_request *req,
		     hs_pairs_reply_fn reply, void *userdata);
void hs_pairs_delete(struct hs_pairs *p, const char *vm, hs_pairs_reply_fn reply, void *userdata);

/* What `pair set` asks: the settings of a pair that may change while it runs. */
struct hs_pair_settings {
	const char *vm;
	int64_t bandwidth_mib; /* MiB/s per disk, 0: unlimited */
};

/*
 * Changes SET->vm's settings in the replicated pair (on any host of the
 * cluster): the host that runs the pair's copy applies the bandwidth to its
 * running jobs (initial sync, resync, the steady mirror) within a poll, and
 * every copy started later takes it. Answers HS_PAIRS_ACCEPTED once proposed.
 */
void hs_pairs_set(struct hs_pairs *p, const struct hs_pair_settings *set, hs_pairs_reply_fn reply,
		  void *userdata);
/*
 * The online verify of VM's pair (hs_pair_verify.c, docs/pairs.md): on its
 * primary host, while the guest runs, every mirrored disk compared with the
 * backup's chunk by chunk; REPAIR: the ranges out of sync copied from the
 * primary with the guest paused briefly. Answers HS_PAIRS_ACCEPTED once it
 * runs; the outcome is the pair's "verify" in the replicated state, and an
 * event naming the ranges. Refused: -EPERM on another host than the
 * primary's, or when the pair is not in-sync in sync mode; -EALREADY while
 * one runs; -EBUSY when an operation (a switchover) runs on the pair.
 */
void hs_pairs_verify(struct hs_pairs *p, const char *vm, bool repair, hs_pairs_reply_fn reply,
		     void *userdata);
/* How a planned move goes (hs_pairs_switchover). */
enum hs_switchover_kind {
	HS_SWITCHOVER_COLD,         /* the guest stops, the mirror drains, the backup boots */
	HS_SWITCHOVER_LIVE,         /* live migration: no reboot, no disk copy (qmp engine) */
	HS_SWITCHOVER_LIVE_OR_COLD, /* live; if that fails with the guest still here, cold */
};

/*
 * A planned move of VM onto its backup host, as KIND says (docs/pairs.md
 * "Live switchover"). A live one needs the qmp engine on the primary host,
 * and is refused up front without it (this host's engine tells: a cluster's
 * hosts run one configuration).
 */
void hs_pairs_switchover(struct hs_pairs *p, const char *vm, enum hs_switchover_kind kind,
			 hs_pairs_reply_fn reply, void *userdata);
/* Puts NODE into maintenance (ON) or takes it out. */
void hs_pairs_maintenance(struct hs_pairs *p, const char *node, bool on, hs_pairs_reply_fn reply,
			  void *userdata);
