/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdb_msg: the replicated changes to the cluster state.
 *
 * A change is a JSON object {"v":2,"type":"pair_create","time":<usec>,...},
 * built here by a sdb_msg_*() builder on the host that wants the change,
 * multicast over CPG with agreed ordering, and applied on every host, in
 * delivery order, by sdb_apply(): one sqlite transaction that also counts the
 * change in the cluster row's version. The proposer's clock ("time") is part
 * of the message, so every host stores the same timestamps; ids of events and
 * fence log rows are assigned from counters of the cluster row, so every host
 * assigns the same ones.
 *
 * Whether a change applies depends only on the message and the state it finds,
 * so every host decides alike. A change that does not apply changes nothing
 * and is not counted; its error says why:
 *   -EINVAL           malformed message, unknown type, bad field or value
 *   -EPROTONOSUPPORT  "v" newer than this hasvcd speaks
 *   -ENOENT           the node, pair, operation or fence record does not exist
 *   -EEXIST           the pair already exists
 *   -ESTALE           a compare-and-set expectation failed (expect_state,
 *                     expect_generation, the operation's ref)
 *   -EALREADY         another operation runs on that VM
 *   -ENOTEMPTY        the node still has pairs (node_delete)
 *   -EPERM            the pair state change is not an edge of the pair state
 *                     machine (hs_pair_fsm.h) from the state the pair is in
 * sdb_apply_refused() tells these (the same on every host) from local
 * failures (-EBUSY, -ENOSPC, -EIO, ...), after which this host's state is
 * behind the others' and must be transferred again (sdb_repl does that).
 *
 * Builders return 0 and a malloc'd, NUL-terminated JSON text in *ret_buf
 * (its length, without the NUL, in *ret_len), or -EINVAL when a required
 * argument is missing, or -ENOMEM. Optional string arguments may be NULL.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sdb.h"

/* The message protocol version this build speaks ("v"). */
#define SDB_MSG_PROTOCOL 2

struct sdb_node_info {
	const char *name;      /* required */
	uint32_t nodeid;       /* corosync nodeid, required (> 0) */
	const char *address;   /* optional */
	const char *fence_ref; /* optional: the fence device group in the config */
};

struct sdb_disk_spec {
	const char *target; /* "vda" */
	uint64_t bytes_done;
	uint64_t bytes_total;
	bool ready; /* block job READY */
};

struct sdb_pair_spec {
	const char *vm;		   /* required */
	const char *uuid;	   /* optional */
	const char *primary;	   /* required, a known node */
	const char *backup;	   /* optional, a known node */
	const char *mode;	   /* "sync" (default) | "async" */
	uint64_t bandwidth_mib;	   /* 0: unlimited */
	const char *state;	   /* default "creating" */
	const char *desired_state; /* default "protected" */
	const char *reason;	   /* optional */
	const struct sdb_disk_spec *disks;
	size_t n_disks;
	const char *domain_xml;	   /* the primary's inactive domain XML */
	const uint64_t *disk_sizes; /* virtual size of each mirrored disk, in XML order */
	size_t n_disk_sizes;
	unsigned nbd_port;	   /* where the backup host exports the disks; 0: none yet */
	/* When set, an event (kind "pair") logged with the pair, atomically: a
	 * refused create logs nothing. */
	const char *event;
	const char *event_node; /* the host that proposed it */
};

/* Every field but vm is optional: NULL / 0 / false leaves it alone. */
struct sdb_pair_change {
	const char *vm;
	const char *expect_state;   /* refuse (-ESTALE) unless the pair is in this state */
	uint64_t expect_generation; /* refuse (-ESTALE) unless generation equals this */
	const char *state;
	/*
	 * Required with STATE: the event of the pair state machine that moves
	 * the pair there, as hs_pair_event_name() gives it ("mirror-ready").
	 * The apply refuses (-EPERM) a change whose (current state, event) is
	 * not a row of the table or whose row leads elsewhere than STATE.
	 */
	const char *pair_event;
	const char *desired_state; /* "protected" | "unprotected" | "deleted" */
	const char *admin_state;   /* "enabled" | "maintenance" */
	const char *reason;	   /* "" clears it */
	const char *primary;
	const char *backup;
	bool clear_backup; /* set backup to none */
	const char *mode;
	bool set_bandwidth;
	uint64_t bandwidth_mib;
	unsigned nbd_port; /* 0 leaves it */
	/*
	 * Schema 9 (issue 13, item 4), set together by a backup-prepared: the
	 * identity the backup host wrote on the backup's disks, and why the
	 * disks it found were not the ones it had left ("" when they were, or
	 * there was nothing to check). NULL leaves both; a change of primary or
	 * backup forgets them. A hasvcd before schema 9 ignores both.
	 */
	const char *backup_disk_id;
	const char *backup_disk_reason;
	/* When set, an event (kind "pair") logged with the change, atomically. */
	const char *event;
	const char *event_node; /* the host that proposed it */
};

/*
 * What an admin tunes on a pair while it runs (pair_set): no transition, so
 * neither the generation nor changed_usec moves and the duty under way (an
 * initial sync, a resync) goes on; the host that runs the mirror applies the
 * new value to its jobs.
 */
struct sdb_pair_settings {
	const char *vm;		/* required */
	uint64_t bandwidth_mib; /* MiB/s per disk, 0: unlimited; at most SDB_BANDWIDTH_MAX_MIB */
	/* When set, an event (kind "pair") logged with the change, atomically. */
	const char *event;
	const char *event_node; /* the host that proposed it */
};

/* A pair_set bandwidth above this is refused: in bytes/s it still fits an int64. */
#define SDB_BANDWIDTH_MAX_MIB (INT64_MAX >> 20)

struct sdb_fence_start {
	const char *ref;    /* required: unique in the cluster, chosen by the proposer */
	const char *target; /* required: the host being fenced */
	const char *device; /* optional */
	const char *agent;  /* required: "fence_ipmilan" */
	unsigned level;
	const char *action;    /* "off" | "on" | "reboot" | "status" | "monitor" | "metadata" */
	uint64_t started_usec; /* 0: now */
};

/* Nodes: created "offline" and "enabled" on first upsert; the upsert keeps their states. */
int sdb_msg_node_upsert(const struct sdb_node_info *node, char **ret_buf, size_t *ret_len);
/*
 * The membership state. STATE: "online" | "offline" | "fencing" | "fenced"
 * ("maintenance" was one before protocol 2: now refused, see node_admin).
 */
int sdb_msg_node_state(const char *name, const char *state, const char *expect_state,
		       char **ret_buf, size_t *ret_len);
/*
 * The admin state, what the operator asked, beside the membership state:
 * ADMIN_STATE "enabled" | "maintenance"; refused (-ESTALE) unless the node's
 * admin state is EXPECT_ADMIN_STATE, when given.
 */
int sdb_msg_node_admin(const char *name, const char *admin_state, const char *expect_admin_state,
		       char **ret_buf, size_t *ret_len);
int sdb_msg_node_delete(const char *name, char **ret_buf, size_t *ret_len);

/* Pairs: generation starts at 1 and grows by one at each pair_update. */
int sdb_msg_pair_create(const struct sdb_pair_spec *spec, char **ret_buf, size_t *ret_len);
int sdb_msg_pair_update(const struct sdb_pair_change *change, char **ret_buf, size_t *ret_len);
/* Sync progress: the pair's totals and, optionally, per disk (replacing them). */
int sdb_msg_pair_progress(const char *vm, uint64_t bytes_done, uint64_t bytes_total,
			  const struct sdb_disk_spec *disks, size_t n_disks, char **ret_buf,
			  size_t *ret_len);

/*
 * What the pair's copy sends (pairs.copy_kind, copy_reason; schema 7): KIND
 * "full" (REASON: why no delta) or "delta". Cleared by the transition into
 * initial-sync, recorded by the copy's first progress.
 */
struct sdb_copy_kind {
	const char *kind;   /* required: "full" | "delta" */
	const char *reason; /* optional */
};

/*
 * sdb_msg_pair_progress with the copy's kind, COPY (NULL: the one recorded
 * stays). A hasvcd before schema 7 ignores copy_kind and copy_reason, as it
 * ignores every field it does not know: the progress still applies there.
 */
int sdb_msg_pair_copy_progress(const char *vm, uint64_t bytes_done, uint64_t bytes_total,
			       const struct sdb_disk_spec *disks, size_t n_disks,
			       const struct sdb_copy_kind *copy, char **ret_buf, size_t *ret_len);
int sdb_msg_pair_delete(const char *vm, const char *expect_state, char **ret_buf, size_t *ret_len);
/* The pair's settings (struct sdb_pair_settings); -ENOENT when applied to no pair. */
int sdb_msg_pair_set(const struct sdb_pair_settings *set, char **ret_buf, size_t *ret_len);

/*
 * The outcome of a pair's online verify (pair_verify), as the primary host
 * that ran it reports it: RESULT a JSON object (its keys: docs/state.md)
 * shown as the pair's "verify", replacing the last one; no transition.
 * EVENT (optional) is logged with it, atomically.
 */
struct sdb_pair_verify {
	const char *vm;     /* required */
	const char *result; /* required: a JSON object, at most SDB_VERIFY_MAX_LEN bytes */
	const char *event;
	const char *event_node;
};

#define SDB_VERIFY_MAX_LEN 4096

int sdb_msg_pair_verify(const struct sdb_pair_verify *verify, char **ret_buf, size_t *ret_len);

/* Event log: KIND is a short word ("fence", "promote"); DETAIL is borrowed. */
int sdb_msg_event(const char *node, const char *vm, const char *kind, const char *message,
		  json_object *detail, char **ret_buf, size_t *ret_len);

/* Fence log: one row per agent run, started then finished. */
int sdb_msg_fence_start(const struct sdb_fence_start *start, char **ret_buf, size_t *ret_len);
/* RESULT: "success" | "failed" | "timeout". */
int sdb_msg_fence_finish(const char *ref, const char *result, const char *message, char **ret_buf,
			 size_t *ret_len);

/*
 * One operation per VM: op_begin claims the VM for OP ("switchover",
 * "create", ...) on behalf of NODE, under REF (unique, chosen by the
 * proposer); refused with -EALREADY while another runs. op_end releases it
 * when REF matches (-ESTALE otherwise); REF NULL releases whatever runs (the
 * coordinator cleaning up after a host that left).
 */
int sdb_msg_op_begin(const char *vm, const char *op, const char *node, const char *ref,
		     char **ret_buf, size_t *ret_len);
int sdb_msg_op_end(const char *vm, const char *ref, char **ret_buf, size_t *ret_len);

/*
 * Applies one change message (LEN bytes at BUF) from SENDER_NODEID in one
 * transaction; 0 when applied, -errno as above. On failure nothing changed.
 */
int sdb_apply(struct sdb *db, uint32_t sender_nodeid, const void *buf, size_t len);

/* True for the errors every host gets alike for the same message and state. */
bool sdb_apply_refused(int error);

/*
 * Parses a message far enough to know its type: 0 and a new reference to the
 * object in *ret (json_object_put() it), -EINVAL when it is not a JSON object
 * with a string "type".
 */
int sdb_msg_parse(const void *buf, size_t len, json_object **ret);
const char *sdb_msg_type(json_object *msg);
