/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdb_repl_internal: what the two files of the replication engine share:
 * the engine's state (struct sdb_repl) and the helpers of the round that the
 * state transfer (sdb_repl_snapshot.c) needs from sdb_repl.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sdb_internal.h"
#include "sdb_repl.h"

/*
 * The "v" of round messages (sync_*): their format, which has not changed
 * since the first release. It is not the change protocol (SDB_MSG_PROTOCOL):
 * hosts of different change protocols must still understand each other's
 * rounds, to refuse each other clearly instead of waiting forever.
 */
#define SDB_REPL_ROUND_VERSION 1

enum sdb__repl_phase {
	PHASE_IDLE,	    /* not a member (yet): ignores everything */
	PHASE_STARTING,	    /* a round began: waiting for the leader's sync_start */
	PHASE_COLLECTING,   /* sync_start seen: waiting for every member's sync_state */
	PHASE_RECEIVING,    /* our state differs from the donor's: waiting for its snapshot */
	PHASE_SYNCED,	    /* applying changes as they come */
	PHASE_INCOMPATIBLE, /* we speak another change protocol than the cluster: not joined */
};

struct sdb__repl_member {
	uint32_t nodeid;
	bool have; /* its sync_state of this round arrived */
	bool in_sync;
	int protocol; /* the change protocol it speaks (1 when its sync_state does not say) */
	uint64_t version;
	char digest[65];
};

struct sdb__repl_buffered {
	uint32_t sender;
	json_object *msg;
};

struct sdb__repl_outgoing {
	char *buf;
	size_t len;
};

struct sdb_repl {
	struct sdb *db;
	uint32_t nodeid;
	struct sdb_repl_ops ops;
	int protocol; /* the change protocol we announce: SDB_MSG_PROTOCOL but for the test hook */

	enum sdb__repl_phase phase;
	bool in_sync;  /* our state is the agreed state (false until a round says so) */
	bool diverged; /* a change failed here: we are behind */

	struct sdb__repl_member *members;
	size_t n_members;

	uint64_t next_epoch; /* ours, when we lead */
	uint32_t leader;     /* the round being collected */
	uint64_t epoch;
	int cluster_protocol; /* the last round's (0 before any) */
	uint32_t donor;
	uint64_t donor_version;
	char donor_digest[65];

	char *snap; /* the snapshot text being received */
	size_t snap_len;
	uint64_t snap_next, snap_parts;
	bool snap_refused; /* this round's snapshot was too large: its other parts are ignored */

	struct sdb__repl_buffered *buffer;
	size_t n_buffer, cap_buffer;

	struct sdb__repl_outgoing *out;
	size_t n_out, cap_out;

	uint64_t rounds, snapshots_received, snapshots_sent;
};

/* Tells ops->error. */
void sdb__repl_error(struct sdb_repl *repl, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A new round message of TYPE: {"v":SDB_REPL_ROUND_VERSION,"type":TYPE}. */
json_object *sdb__repl_round_msg_new(const char *type);
/* Queues M (consumed) and tries to send what is queued. */
int sdb__repl_outbox_push(struct sdb_repl *repl, json_object *m);
/* True when MSG carries this round's leader and epoch. */
bool sdb__repl_same_round(struct sdb_repl *repl, json_object *msg);
/* SYNCED from now on: applies the buffer in order. */
void sdb__repl_become_synced(struct sdb_repl *repl);

/* The member NODEID of the current configuration, or NULL. */
struct sdb__repl_member *sdb__repl_member_find(struct sdb_repl *repl, uint32_t nodeid);
/* The leader of the current configuration: its lowest nodeid. */
uint32_t sdb__repl_lowest_member(const struct sdb_repl *repl);
/* Drops the buffered changes (each told to ops->applied as -ECANCELED). */
void sdb__repl_buffer_drop(struct sdb_repl *repl);
/* Drops the round messages not sent yet. */
void sdb__repl_outbox_clear(struct sdb_repl *repl);

/* ---- the round (sdb_repl_round.c) ---- */

/* A confchg or a sync_request: every member starts over, the leader sends sync_start. */
int sdb__repl_round_begin(struct sdb_repl *repl);
void sdb__repl_on_start(struct sdb_repl *repl, uint32_t sender, json_object *msg);
void sdb__repl_on_state(struct sdb_repl *repl, uint32_t sender, json_object *msg);

/* ---- the state transfer (sdb_repl_snapshot.c) ---- */

/* Forgets the snapshot being received. */
void sdb__repl_snapshot_reset(struct sdb_repl *repl);
/* The donor: sends its state, as it is now, in parts of at most ops.snapshot_chunk bytes. */
int sdb__repl_snapshot_send(struct sdb_repl *repl);
/* A sync_snapshot part from SENDER; the last one loads the snapshot. */
void sdb__repl_snapshot_part(struct sdb_repl *repl, uint32_t sender, json_object *msg);
