/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdb_apply: what the files that apply change messages share (internal to
 * state/): the limits of a message's fields, their decoding
 * (sdb_msg_field.c), the common opening of every apply function and the
 * event log (sdb_apply.c), and the apply function of each message type
 * (sdb_apply_node.c, sdb_apply_pair.c, sdb_apply_log.c).
 *
 * An apply function is shaped alike for every type:
 *
 *   1. read and check every field of the message, touching nothing
 *      (-EINVAL for a missing or malformed field or an unknown enum value):
 *      one table of struct sdb__field, read by sdb__fields_read();
 *   2. sdb__apply_begin(): BEGIN IMMEDIATE, the row the message is about and
 *      the compare-and-set checks on it (-ENOENT, -EEXIST, -EALREADY,
 *      -ESTALE), the same on every host for the same state;
 *      sdb__apply_open() does 1 and 2 for the types that need nothing else;
 *   3. any further check of the state, then the writes.
 *
 * sdb__apply_obj() (sdb_apply.c) counts the change and commits, or rolls
 * back whatever failed after 2: a message applies whole or not at all.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "hs_pair_fsm.h"
#include "sdb_internal.h"

#define SDB_MSG_MAX_LEN (64u << 20) /* a snapshot part is far smaller */
#define SDB_NAME_MAX_LEN 255
#define SDB_TEXT_MAX_LEN 4096
#define SDB_MAX_DISKS 64
#define SDB_DOMAIN_XML_MAX_LEN (256 * 1024)

/* The values an enumerated field may take (NULL-terminated). */
extern const char *const sdb__node_states[];
extern const char *const sdb__admin_states[];
extern const char *const sdb__desired_states[];
extern const char *const sdb__modes[];
extern const char *const sdb__copy_kinds[]; /* pairs.copy_kind */
extern const char *const sdb__fence_actions[];
extern const char *const sdb__fence_results[];

/* ---- reading fields (sdb_msg_field.c); each records what is wrong and returns -EINVAL -------- */

/*
 * A string field: absent or null gives NULL (or -EINVAL when REQUIRED);
 * otherwise a string of 1..MAX bytes without NUL (0 bytes allowed when
 * EMPTY_OK), and, when SET is given, one of it.
 */
int sdb__field_str(struct sdb *db, json_object *m, const char *key, bool required, bool empty_ok,
		   size_t max, const char *const *set, const char **ret);

/*
 * The fields of a message as one table, read in order, the first failure
 * ending it: what an apply function reads before it touches anything.
 */
enum sdb__field_kind {
	SDB_F_STR,	  /* a string of 1..MAX bytes (one of SET when given): RET const char ** */
	SDB_F_STR0,	  /* the same, "" allowed */
	SDB_F_U64,	  /* an integer 0..MAX: RET uint64_t *, RET_SET bool * (may be NULL) */
	SDB_F_BOOL,	  /* a boolean, false when absent: RET bool * */
	SDB_F_PAIR_STATE, /* a state of hs_pair_fsm.h: RET const char ** */
};

struct sdb__field {
	const char *key;
	enum sdb__field_kind kind;
	bool required;
	uint64_t max;
	const char *const *set;
	void *ret;
	bool *ret_set;
};

/* Required / optional string KEY of at most MAX bytes, one of SET (NULL: any), into RET. */
#define SDB_STR(key, max, set, ret)                                                                \
	{                                                                                          \
		key, SDB_F_STR, true, max, set, ret, NULL                                          \
	}
#define SDB_STR_OPT(key, max, set, ret)                                                            \
	{                                                                                          \
		key, SDB_F_STR, false, max, set, ret, NULL                                         \
	}
#define SDB_U64(key, max, ret)                                                                     \
	{                                                                                          \
		key, SDB_F_U64, true, max, NULL, ret, NULL                                         \
	}
#define SDB_U64_OPT(key, max, ret, ret_set)                                                        \
	{                                                                                          \
		key, SDB_F_U64, false, max, NULL, ret, ret_set                                     \
	}

int sdb__fields_read(struct sdb *db, json_object *m, const struct sdb__field *fields, size_t n);

/* An integer field in 0..MAX; absent or null: *RET_SET false (or -EINVAL when REQUIRED). */
int sdb__field_u64(struct sdb *db, json_object *m, const char *key, bool required, uint64_t max,
		   uint64_t *ret, bool *ret_set);
/* A boolean field; absent: false. */
int sdb__field_bool(struct sdb *db, json_object *m, const char *key, bool *ret);
/* A pair state (a name of hs_pair_fsm.h); absent: NULL and HS_PAIR_STATE_MAX. */
int sdb__field_pair_state(struct sdb *db, json_object *m, const char *key, const char **ret,
			  enum hs_pair_state *ret_state);
/* "pair_event": required with STATE, refused without it (see sdb_msg_field.c). */
int sdb__field_pair_event(struct sdb *db, json_object *m, const char *state, const char **ret,
			  enum hs_pair_event *ret_event);
/* "disks": absent (*ret NULL) or an array of valid disk objects (borrowed). */
int sdb__field_disks(struct sdb *db, json_object *m, json_object **ret);
/* "disk_sizes": absent (NULL) or an array of byte counts; its JSON text in *RET. */
int sdb__field_disk_sizes(struct sdb *db, json_object *m, const char **ret);

/* ---- the common opening and the event log (sdb_apply.c) ------------------------------------ */

struct sdb__apply_ctx {
	json_object *msg;
	uint32_t sender;
	uint64_t time; /* the proposer's, from the message */
};

enum sdb__row_want {
	SDB_ROW_EXISTS, /* -ENOENT "no WHAT 'KEY'" when there is none */
	SDB_ROW_ABSENT, /* EXISTS_ERROR when there is one */
	SDB_ROW_ANY,	/* either: see .exists */
};

/*
 * The row a message is about and what must hold of it. The row is read by
 * the statement Q with KEY bound to ?1; WHAT names it in messages ("node",
 * "pair", "fence record", "operation on").
 */
struct sdb__row {
	enum sdb__q q;
	const char *key;
	const char *what;
	enum sdb__row_want want;
	/* SDB_ROW_ABSENT: -EEXIST ("WHAT 'KEY' exists", the default) or
	 * -EALREADY ("'KEY' is busy with CUR") */
	int exists_error;
	int col; /* the column read into .cur (and compared with EXPECT) */
	/* compare-and-set, each refused with -ESTALE: column COL holds EXPECT
	 * ("WHAT 'KEY' is CUR, not EXPECT"), column GEN_COL holds EXPECT_GEN */
	const char *expect;
	int gen_col;
	bool has_gen;
	uint64_t expect_gen;

	/* what was found */
	bool exists;
	char cur[SDB_NAME_MAX_LEN + 1];
	uint64_t gen;
};

/* BEGIN IMMEDIATE, then ROW read and checked; 0 or -errno (recorded). */
int sdb__apply_begin(struct sdb *db, struct sdb__row *row);
/* The opening of most apply functions: sdb__fields_read(), then sdb__apply_begin(ROW). */
int sdb__apply_open(struct sdb *db, const struct sdb__apply_ctx *c, const struct sdb__field *fields,
		    size_t n, struct sdb__row *row);
/* 1 when the row of Q keyed by KEY exists, 0 when not (inside the transaction). */
int sdb__row_exists(struct sdb *db, enum sdb__q q, const char *key);
/* -ENOENT unless node NAME exists. */
int sdb__node_must_exist(struct sdb *db, const char *name);

/* The pair transition an event records (all NULL for other events). */
struct sdb__transition {
	const char *from, *to, *event;
};

/* Appends one event row, inside the caller's transaction; T may be NULL. */
int sdb__event_insert(struct sdb *db, const struct sdb__apply_ctx *c, const char *node,
		      const char *vm, const char *kind, const char *message,
		      const char *detail_text, const struct sdb__transition *t);
/* Takes the next id from the cluster row counter COUNTER and prunes rows older than KEEP. */
int sdb__next_id(struct sdb *db, enum sdb__q counter, enum sdb__q prune, int64_t keep,
		 int64_t *ret);

/* ---- the apply function of each type -------------------------------------------------------- */

int sdb__apply_node_upsert(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_node_state(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_node_admin(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_node_delete(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_pair_create(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_pair_update(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_pair_progress(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_pair_set(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_pair_verify(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_pair_delete(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_event(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_fence_start(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_fence_finish(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_op_begin(struct sdb *db, const struct sdb__apply_ctx *c);
int sdb__apply_op_end(struct sdb *db, const struct sdb__apply_ctx *c);
