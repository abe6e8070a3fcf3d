/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdb: the cluster state of hasvc, kept in one sqlite database per host.
 *
 * Every host holds the same content: nodes, VM pairs (with per-disk sync
 * progress), the operation running on each VM, the event log, the fence log
 * and one "cluster" row whose `version` counts the replicated changes applied
 * so far. Nothing writes to it except sdb_apply() (one replicated change, see
 * sdb_msg.h) and the state transfer of sdb_repl.h, so two hosts that applied
 * the same messages in the same order hold byte-for-byte the same rows, which
 * sdb_digest() lets anyone check.
 *
 * The file is precious: sdb_open() refuses, and never recreates over, a file
 * that is not ours (another application_id, not sqlite, corrupt, unreadable,
 * or written by a newer hasvcd). It upgrades an older schema in place, one
 * migration step per transaction.
 *
 * Errors: functions return >= 0 on success and -errno on failure; the sqlite
 * cause is converted once (SQLITE_BUSY -> -EBUSY, SQLITE_FULL -> -ENOSPC,
 * corruption -> -EBADMSG, ...) and described by sdb_errmsg(), for the caller
 * to log: state/ itself never logs.
 *
 * Threads: a struct sdb is one sqlite connection, used by one thread.
 *
 * Query results are json-c objects owned by the caller (json_object_put()).
 * Their keys are those of the HTTP API: see docs/state.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* PRAGMA application_id of a hasvc database: 'HSVC'. */
#define SDB_APPLICATION_ID 0x48535643
/* Default time a write waits for a lock held by another connection. */
#define SDB_BUSY_TIMEOUT_MS 5000
/* The event log and the fence log keep this many newest rows. */
#define SDB_EVENTS_KEEP 10000
#define SDB_FENCE_LOG_KEEP 2000

struct sdb;

/*
 * Opens (creating it when missing) and migrates the database at PATH. On
 * failure, *ret_error (when not NULL) gets a malloc'd sentence saying why,
 * e.g. "database schema version 7 is newer than this hasvcd (3); upgrade
 * hasvcd". Errors: -EBADMSG not sqlite or corrupt, -EMEDIUMTYPE another
 * application's database, -ENOTSUP schema too new, -EACCES/-ENOENT/-EISDIR/...
 * cannot be opened, -EBUSY locked by another process.
 */
int sdb_open(const char *path, struct sdb **ret, char **ret_error);
void sdb_close(struct sdb *db);

/* The last error of DB, e.g. "cannot begin transaction: database is locked". */
const char *sdb_errmsg(const struct sdb *db);

/* How long a write waits for a lock held by another connection (default above). */
int sdb_busy_timeout_set(struct sdb *db, unsigned msec);

/* The schema version this build migrates to (PRAGMA user_version). */
unsigned sdb_schema_version(void);

/* The number of replicated changes applied so far (the cluster row). */
int sdb_version(struct sdb *db, uint64_t *ret_version);

/*
 * SHA-256, in hex, of the canonical dump of the replicated state (every
 * replicated table in primary-key order, and the version). Equal digests mean
 * equal state.
 */
int sdb_digest(struct sdb *db, char ret_hex[65]);

/* Queries. -ENOENT when the one object asked for does not exist. */

/* {"name","nodeid","address","fence_ref","state","changed_usec"} */
int sdb_node_get(struct sdb *db, const char *name, json_object **ret);
/* Array of nodes, by name. */
int sdb_nodes_list(struct sdb *db, json_object **ret);

/*
 * {"vm","uuid","primary","backup","mode","bandwidth_mib","state","desired_state",
 *  "admin_state","reason","bytes_done","bytes_total","generation","changed_usec","nbd_port",
 *  "disks":[{"target","bytes_done","bytes_total","ready"}],
 *  "copy":{"kind","reason"?,"bytes_done","bytes_total","running"} or null,
 *  "operation":{"op","node","ref","started_usec"} or null}
 * "copy": what the pair's copy sends (pairs.copy_kind, copy_reason, beside the
 * pair's progress; "running" while the pair is in initial-sync).
 */
int sdb_pair_get(struct sdb *db, const char *vm, json_object **ret);
/*
 * What the backup host builds the backup from: the primary's inactive domain
 * XML (malloc'd, NULL when unknown) and the disks' virtual sizes (a JSON
 * array of integers, or NULL).
 */
int sdb_pair_spec_get(struct sdb *db, const char *vm, char **ret_xml, json_object **ret_sizes);
/* Array of pairs, by VM name. */
int sdb_pairs_list(struct sdb *db, json_object **ret);
/* Pairs whose primary or backup is NODE. */
int sdb_pairs_list_by_node(struct sdb *db, const char *node, json_object **ret);

/*
 * Events with id > SINCE_ID, oldest first, at most LIMIT (0: 1000):
 * [{"id","time_usec","node","vm","kind","message","detail","transition"?}]; "transition"
 * is {"from","to","event"} on a pair event that changed the state.
 */
int sdb_events_list(struct sdb *db, uint64_t since_id, unsigned limit, json_object **ret);

/* The same, of one KIND only (NULL: every kind) (metrics: pair transitions for operation durations). */
int sdb_events_list_kind(struct sdb *db, const char *kind, uint64_t since_id, unsigned limit,
			 json_object **ret);

/* How many kept events of KIND contain TEXT (metrics: failovers, refusals...). */
int sdb_events_count(struct sdb *db, const char *kind, const char *text, uint64_t *ret);

/*
 * How many kept events record a pair transition FROM -> TO by EVENT (names
 * of hs_pair_fsm.h; NULL matches any): metrics count failovers (fencing,
 * promoting, fenced), refusals (NULL, lost-unsynced, primary-lost), ...
 * Events logged before schema 5 record none.
 */
int sdb_transitions_count(struct sdb *db, const char *from, const char *to, const char *event,
			  uint64_t *ret);

/*
 * The event of VM's newest kept transition, when it led into STATE (the
 * event that put the pair where it is: "reprotect-failed"), in *RET_EVENT
 * (free() it); NULL when the newest went elsewhere or none is kept (pruned
 * past SDB_EVENTS_KEEP, or logged before schema 5). The replicated log is
 * the same on every host, so every coordinator reads the same answer.
 */
int sdb_pair_entered_by(struct sdb *db, const char *vm, const char *state, char **ret_event);

/*
 * Fence log, newest first, at most LIMIT (0: 1000), of TARGET or of every
 * host when NULL: [{"id","ref","target","device","agent","level","action",
 * "result","message","started_usec","finished_usec"}].
 */
int sdb_fence_log_list(struct sdb *db, const char *target, unsigned limit, json_object **ret);

/* The running operations, by VM: [{"vm","op","node","ref","started_usec"}]. */
int sdb_operations_list(struct sdb *db, json_object **ret);

/* {"version","last_event_id","last_fence_id","changed_usec","schema"} */
int sdb_cluster_get(struct sdb *db, json_object **ret);
