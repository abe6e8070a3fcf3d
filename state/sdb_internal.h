/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdb_internal: what the files of state/ share and nobody else uses (tests
 * excepted): the connection object, the table of prepared statements, the
 * schema migration steps, transactions, error conversion, the canonical dump
 * used for digests and state transfer, and SHA-256.
 *
 * Statements: every SQL text the module runs more than once is one entry of
 * sdb__sql[] (sdb.c), prepared on first use and kept until sdb_close().
 * sdb__stmt() hands it out reset and unbound; declare the local with
 * _cleanup_stmt_ so it is reset again on every return.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "hs_cleanup.h"
#include "hs_json_cleanup.h"
#include "sdb.h"

enum sdb__q {
	SDB_Q_BEGIN,
	SDB_Q_BEGIN_READ,
	SDB_Q_COMMIT,
	SDB_Q_ROLLBACK,
	SDB_Q_CLUSTER_GET,
	SDB_Q_CLUSTER_BUMP,
	SDB_Q_CLUSTER_EVENT_ID,
	SDB_Q_CLUSTER_FENCE_ID,
	SDB_Q_NODE_GET,
	SDB_Q_NODE_INSERT,
	SDB_Q_NODE_UPDATE_INFO,
	SDB_Q_NODE_SET_STATE,
	SDB_Q_NODE_SET_ADMIN,
	SDB_Q_NODE_DELETE,
	SDB_Q_NODES_LIST,
	SDB_Q_PAIR_GET,
	SDB_Q_PAIRS_LIST,
	SDB_Q_PAIRS_BY_NODE,
	SDB_Q_PAIR_INSERT,
	SDB_Q_PAIR_UPDATE,
	SDB_Q_PAIR_PROGRESS,
	SDB_Q_PAIR_SET_BANDWIDTH,
	SDB_Q_PAIR_SET_VERIFY,
	SDB_Q_PAIR_DELETE,
	SDB_Q_PAIR_SPEC,
	SDB_Q_DISKS_GET,
	SDB_Q_DISKS_DELETE,
	SDB_Q_DISKS_RESTART,
	SDB_Q_DISK_INSERT,
	SDB_Q_EVENT_INSERT,
	SDB_Q_EVENTS_PRUNE,
	SDB_Q_EVENTS_LIST,
	SDB_Q_EVENTS_COUNT,
	SDB_Q_TRANSITIONS_COUNT,
	SDB_Q_PAIR_ENTERED_BY,
	SDB_Q_FENCE_GET,
	SDB_Q_FENCE_INSERT,
	SDB_Q_FENCE_FINISH,
	SDB_Q_FENCE_PRUNE,
	SDB_Q_FENCE_LIST,
	SDB_Q_FENCE_LIST_TARGET,
	SDB_Q_OP_GET,
	SDB_Q_OP_INSERT,
	SDB_Q_OP_DELETE,
	SDB_Q_OPS_LIST,
	/* the dump (digest, snapshot), one per replicated table */
	SDB_Q_DUMP_CLUSTER,
	SDB_Q_DUMP_NODES,
	SDB_Q_DUMP_PAIRS,
	SDB_Q_DUMP_DISKS,
	SDB_Q_DUMP_OPS,
	SDB_Q_DUMP_EVENTS,
	SDB_Q_DUMP_FENCE,
	/* the load of a snapshot */
	SDB_Q_WIPE_DISKS,
	SDB_Q_WIPE_OPS,
	SDB_Q_WIPE_PAIRS,
	SDB_Q_WIPE_EVENTS,
	SDB_Q_WIPE_FENCE,
	SDB_Q_WIPE_NODES,
	SDB_Q_LOAD_CLUSTER,
	SDB_Q_LOAD_NODES,
	SDB_Q_LOAD_PAIRS,
	SDB_Q_LOAD_DISKS,
	SDB_Q_LOAD_OPS,
	SDB_Q_LOAD_EVENTS,
	SDB_Q_LOAD_FENCE,
	_SDB_Q_MAX,
};

struct sdb {
	sqlite3 *conn;
	char *path;
	char errmsg[512];
	sqlite3_stmt *stmts[_SDB_Q_MAX];
	/*
	 * The last digest, good while sqlite3_total_changes64() is what it was:
	 * every write goes through this one connection, and the API asks for
	 * the digest on each GET /v1/status (a whole dump and SHA-256 otherwise).
	 */
	bool digest_valid;
	int64_t digest_changes;
	char digest[65];
};

/* The SQL text of each statement (sdb_sql.c). */
extern const char *const sdb__sql[_SDB_Q_MAX];

/* The migration steps: step i takes user_version i to i + 1 (and sets it). */
extern const char *const sdb__schema_steps[];
extern const unsigned sdb__schema_n_steps;

/* Cleanup: the tree's helpers (hasvc/common), and one for statements. */
static inline void sdb__stmt_resetp(sqlite3_stmt **s)
{
	if (*s) {
		sqlite3_reset(*s);
		sqlite3_clear_bindings(*s);
	}
}

#define _cleanup_stmt_ __attribute__((cleanup(sdb__stmt_resetp)))

/* -errno for a sqlite result code (extended codes understood). */
int sdb__errno(int rc);
/* Records "context: sqlite's message" as the last error; returns sdb__errno(rc). */
int sdb__fail_sqlite(struct sdb *db, int rc, const char *context);
/* Records a formatted message as the last error; returns ERR. */
int sdb__fail(struct sdb *db, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The prepared statement Q, reset and unbound. */
int sdb__stmt(struct sdb *db, enum sdb__q q, sqlite3_stmt **ret);
/* The prepared statement Q with KEY bound to ?1. */
int sdb__stmt_key(struct sdb *db, enum sdb__q q, const char *key, sqlite3_stmt **ret);
/* Steps S: 1 for a row, 0 when there is none (more), -errno (recorded). */
int sdb__step(struct sdb *db, sqlite3_stmt *s);
/* Runs Q, a statement that returns no row, with KEY bound to ?1. */
int sdb__exec_key(struct sdb *db, enum sdb__q q, const char *key, const char *context);
/* The cluster row (SDB_Q_CLUSTER_GET) stepped in *RET; -EBADMSG when it is missing. */
int sdb__cluster_row(struct sdb *db, sqlite3_stmt **ret);
/* M's plain JSON text, malloc'd and NUL-terminated, its length in *RET_LEN. */
int sdb__json_text(json_object *m, char **ret_buf, size_t *ret_len);
/* Makes room for one more element in *ARR (of N, CAP allocated); FIRST: the first CAP. */
int sdb__grow(void **arr, size_t *cap, size_t n, size_t elem, size_t first);
/* Binds a text, or NULL when S is NULL. */
int sdb__bind_text(sqlite3_stmt *s, int i, const char *v);
/* Steps a statement that returns no row; 0 or -errno (recorded). */
int sdb__exec(struct sdb *db, sqlite3_stmt *s, const char *context);

/* BEGIN IMMEDIATE / BEGIN (read) / COMMIT; ROLLBACK never fails. */
int sdb__begin(struct sdb *db);
int sdb__begin_read(struct sdb *db);
int sdb__commit(struct sdb *db);
void sdb__rollback(struct sdb *db);

/* Counts one applied change at TIME_USEC in the cluster row (inside a transaction). */
int sdb__version_bump(struct sdb *db, uint64_t time_usec);

/*
 * The canonical dump of the replicated state: {"schema":N,"cluster":[...],
 * "nodes":[[...],...],...}, each table's rows as arrays of column values in
 * primary-key order. Call inside a (read) transaction for a consistent view.
 */
int sdb__dump(struct sdb *db, json_object **ret);
/* Replaces the replicated state with a dump, in one transaction. */
int sdb__load(struct sdb *db, json_object *dump);
/* SHA-256 of the dump's plain JSON text. */
int sdb__digest_of(json_object *dump, char ret_hex[65]);

/* Applies a parsed message (see sdb_apply). */
int sdb__apply_obj(struct sdb *db, uint32_t sender_nodeid, json_object *msg);

/* SHA-256. */
struct sdb__sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};
void sdb__sha256_init(struct sdb__sha256 *c);
void sdb__sha256_update(struct sdb__sha256 *c, const void *data, size_t len);
void sdb__sha256_final(struct sdb__sha256 *c, uint8_t out[32]);
void sdb__sha256_hex(const void *data, size_t len, char ret_hex[65]);
