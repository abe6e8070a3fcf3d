/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdb_repl: keeping the sdb of every member identical, over any transport that
 * delivers multicast messages and membership changes in one agreed order
 * (corosync CPG in hasvcd, a fake in the tests).
 *
 * The daemon feeds it what CPG delivers: every configuration change
 * (sdb_repl_confchg) and every message (sdb_repl_deliver), in delivery order;
 * it multicasts what the engine hands to ops->send. A local change is offered
 * with sdb_repl_propose(): it is sent, and applied here like everywhere else
 * when it comes back in the agreed order.
 *
 * After every configuration change the members run a sync round before
 * applying any change (docs/state.md has the full protocol and its proofs):
 *
 *   confchg        every member: drop buffered changes, phase STARTING;
 *                  the lowest nodeid (the leader) sends sync_start(epoch)
 *   sync_start     from the leader: every member sends sync_state(epoch,
 *                  version, digest, in_sync, protocol), phase COLLECTING
 *   protocol       a member whose change protocol differs from the
 *                  cluster's (that of its members in sync, else the
 *                  leader's) is not joined: phase "incompatible", it and
 *                  the others say so through ops->error
 *   all states in  donor = among members in sync (else all), the highest
 *                  version, then the lowest nodeid. Members equal to the
 *                  donor are SYNCED at once; if any differs the donor sends
 *                  its state as sync_snapshot parts, and the others are
 *                  RECEIVING until they have loaded it
 *   changes        delivered while not SYNCED are buffered and applied, in
 *                  order, when this member becomes SYNCED
 *
 * Stale round messages (an older epoch, a leader that is no longer the
 * lowest member, a donor that is not this round's) are ignored. A member that
 * fails to apply a change for a local reason (disk full, I/O error) stops
 * applying and sends sync_request, which every member treats like a
 * configuration change: the next round brings its state back.
 *
 * Callbacks run inside sdb_repl_confchg/deliver; they may call
 * sdb_repl_propose(). A struct sdb_repl is used by one thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sdb.h"

/* Default bytes of state carried by one sync_snapshot message. */
#define SDB_REPL_CHUNK_DEFAULT (256u * 1024u)
/* Default bound of a whole snapshot a member receives (the state is far smaller). */
#define SDB_REPL_SNAPSHOT_MAX_DEFAULT (512u << 20)

struct sdb_repl;

struct sdb_repl_ops {
	/*
	 * Multicast BUF to the group, agreed order, delivered to ourselves
	 * too. 0 when queued; -EAGAIN (or any -errno) when not: the engine
	 * keeps its own messages and sends them again at sdb_repl_flush().
	 */
	int (*send)(void *userdata, const void *buf, size_t len);
	/* This member is now synced: its state may have been replaced, re-read it. */
	void (*synced)(void *userdata);
	/*
	 * A change message was applied (RESULT 0), refused alike on every
	 * member (sdb_apply_refused()), failed here for a local reason
	 * (anything else), or was dropped unapplied because a new sync round
	 * began before it could be (-ECANCELED; its proposer may propose it
	 * again). MSG is borrowed.
	 */
	void (*applied)(void *userdata, uint32_t sender, json_object *msg, int result);
	/* Something went wrong here, for the caller to log: "cannot load snapshot: ...". */
	void (*error)(void *userdata, int error, const char *message);
	void *userdata;
	size_t snapshot_chunk; /* 0: SDB_REPL_CHUNK_DEFAULT */
	/*
	 * The most bytes of snapshot this member takes from a donor (0:
	 * SDB_REPL_SNAPSHOT_MAX_DEFAULT): a larger one is refused, the member
	 * stays RECEIVING (ops->error says why) and holds no more than that.
	 */
	size_t snapshot_max;
};

/* DB stays owned by the caller and must outlive the engine; OPS is copied. */
int sdb_repl_new(struct sdb *db, uint32_t local_nodeid, const struct sdb_repl_ops *ops,
		 struct sdb_repl **ret);
void sdb_repl_free(struct sdb_repl *repl);

/* A configuration change: the N current MEMBERS (any order). */
int sdb_repl_confchg(struct sdb_repl *repl, const uint32_t *members, size_t n);

/*
 * One delivered message. Returns 0, or -EINVAL for a message that is not
 * ours (not JSON, no type), or -ENOMEM. The fate of a change message is
 * told through ops->applied, trouble through ops->error.
 */
int sdb_repl_deliver(struct sdb_repl *repl, uint32_t sender, const void *buf, size_t len);

/*
 * Sends a change message (built by a sdb_msg_*() builder). -EAGAIN while
 * this member is not synced (a sync round is running) or its own round
 * messages are still waiting to be sent; -EPROTONOSUPPORT while this member
 * speaks another change protocol than the cluster (not joined: retrying will
 * not help until a round says otherwise); -EINVAL for something that is not a
 * change message; else what ops->send returned.
 */
int sdb_repl_propose(struct sdb_repl *repl, const void *buf, size_t len);

/* Sends the round messages ops->send refused before: 0 when none is left, else its error. */
int sdb_repl_flush(struct sdb_repl *repl);
/* True while round messages wait for sdb_repl_flush(). */
bool sdb_repl_pending(const struct sdb_repl *repl);

/* Asks every member for a new sync round (after a failed snapshot load, say). */
int sdb_repl_resync(struct sdb_repl *repl);

bool sdb_repl_is_synced(const struct sdb_repl *repl);

/*
 * {"phase":"synced","in_sync":true,"members":[1,2],"leader":1,"donor":2,
 *  "rounds":3,"snapshots_received":1,"buffered":0,"pending":0,
 *  "protocol":2,"cluster_protocol":2}; phase "incompatible": not joined.
 *
 * Test hook: HASVC_TEST_STATE_PROTOCOL=N in the environment of the process
 * at sdb_repl_new() makes this member announce change protocol N (tests
 * only: see docs/state.md).
 */
int sdb_repl_status(const struct sdb_repl *repl, json_object **ret);
