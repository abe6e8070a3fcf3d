// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_apply: applying the replicated changes (sdb_msg.h): the dispatcher and
 * the opening every apply function shares.
 *
 * A message is a flat JSON object; its envelope is
 *
 *     {"v":2, "type":"<type>", "time":<usec, CLOCK_REALTIME of the proposer>, ...}
 *
 * and the rest depends on the type (docs/state.md lists every field).
 * sdb__apply_obj() checks the envelope, hands the message to the apply
 * function of its type (sdb_apply_node.c, sdb_apply_pair.c,
 * sdb_apply_log.c, shaped as sdb_apply.h says), then counts the change in
 * the cluster row (version + 1) and commits, or rolls back: a message
 * applies whole or not at all. Everything a write depends on comes from the
 * message or from the database, never from this host (its clock, its name),
 * so every host applying the same message to the same state writes the
 * same rows and refuses alike.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "sdb_apply.h"
#include "sdb_msg.h"

int sdb__row_exists(struct sdb *db, enum sdb__q q, const char *key)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r = sdb__stmt_key(db, q, key, &s);

	return r < 0 ? r : sdb__step(db, s);
}

int sdb__node_must_exist(struct sdb *db, const char *name)
{
	int r = sdb__row_exists(db, SDB_Q_NODE_GET, name);

	if (r == 0)
		return sdb__fail(db, -ENOENT, "no node '%s'", name);
	return r;
}

/* Reads the row into ROW->exists, ->cur and ->gen (inside the transaction). */
static int row_read(struct sdb *db, struct sdb__row *row)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt_key(db, row->q, row->key, &s);
	if (r >= 0)
		r = sdb__step(db, s);
	if (r < 0)
		return r;
	row->exists = r == 1;
	row->cur[0] = '\0';
	if (row->exists)
		snprintf(row->cur, sizeof(row->cur), "%s",
			 (const char *)sqlite3_column_text(s, row->col) ?: "");
	if (row->exists && row->gen_col > 0)
		row->gen = (uint64_t)sqlite3_column_int64(s, row->gen_col);
	return 0;
}

int sdb__apply_begin(struct sdb *db, struct sdb__row *row)
{
	int r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_read(db, row);
	if (r < 0)
		return r;
	if (row->want == SDB_ROW_EXISTS && !row->exists)
		return sdb__fail(db, -ENOENT, "no %s '%s'", row->what, row->key);
	if (row->want == SDB_ROW_ABSENT && row->exists)
		return row->exists_error == -EALREADY
			   ? sdb__fail(db, -EALREADY, "'%s' is busy with %s", row->key, row->cur)
			   : sdb__fail(db, -EEXIST, "%s '%s' exists", row->what, row->key);
	if (!row->exists)
		return 0;
	if (row->expect && strcmp(row->cur, row->expect) != 0)
		return sdb__fail(db, -ESTALE, "%s '%s' is %s, not %s", row->what, row->key,
				 row->cur, row->expect);
	if (row->has_gen && row->gen != row->expect_gen)
		return sdb__fail(db, -ESTALE, "%s '%s' is at generation %llu, not %llu", row->what,
				 row->key, (unsigned long long)row->gen,
				 (unsigned long long)row->expect_gen);
	return 0;
}

int sdb__apply_open(struct sdb *db, const struct sdb__apply_ctx *c, const struct sdb__field *fields,
		    size_t n, struct sdb__row *row)
{
	int r = sdb__fields_read(db, c->msg, fields, n);

	return r < 0 ? r : sdb__apply_begin(db, row);
}

/* ---- the dispatcher ---------------------------------------------------------------------- */

static const struct {
	const char *type;
	int (*apply)(struct sdb *db, const struct sdb__apply_ctx *c);
} handlers[] = {
    {"node_upsert", sdb__apply_node_upsert},
    {"node_state", sdb__apply_node_state},
    {"node_admin", sdb__apply_node_admin},
    {"node_delete", sdb__apply_node_delete},
    {"pair_create", sdb__apply_pair_create},
    {"pair_update", sdb__apply_pair_update},
    {"pair_progress", sdb__apply_pair_progress},
    {"pair_set", sdb__apply_pair_set},
    {"pair_verify", sdb__apply_pair_verify},
    {"pair_delete", sdb__apply_pair_delete},
    {"event", sdb__apply_event},
    {"fence_start", sdb__apply_fence_start},
    {"fence_finish", sdb__apply_fence_finish},
    {"op_begin", sdb__apply_op_begin},
    {"op_end", sdb__apply_op_end},
};

int sdb_msg_parse(const void *buf, size_t len, json_object **ret)
{
	_cleanup_json_ json_object *o = NULL;
	struct json_tokener *tok;
	json_object *type;
	size_t used;

	if (!buf || len == 0 || len > SDB_MSG_MAX_LEN)
		return -EINVAL;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	/* the whole buffer, one object (a trailing NUL is tolerated) */
	if (!o || (used != len && !(used == len - 1 && ((const char *)buf)[used] == '\0')))
		return -EINVAL;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "type", &type) ||
	    !json_object_is_type(type, json_type_string))
		return -EINVAL;
	*ret = TAKE_PTR(o);
	return 0;
}

const char *sdb_msg_type(json_object *msg)
{
	json_object *type;

	if (!json_object_object_get_ex(msg, "type", &type))
		return NULL;
	return json_object_get_string(type);
}

int sdb__apply_obj(struct sdb *db, uint32_t sender_nodeid, json_object *msg)
{
	struct sdb__apply_ctx c = {.msg = msg, .sender = sender_nodeid};
	const char *type = sdb_msg_type(msg);
	json_object *v;
	int r;

	if (!type)
		return sdb__fail(db, -EINVAL, "message without type");
	if (!json_object_object_get_ex(msg, "v", &v) || !json_object_is_type(v, json_type_int))
		return sdb__fail(db, -EINVAL, "%s: no protocol version", type);
	if (json_object_get_int64(v) != SDB_MSG_PROTOCOL)
		return sdb__fail(
		    db, json_object_get_int64(v) > SDB_MSG_PROTOCOL ? -EPROTONOSUPPORT : -EINVAL,
		    "%s: protocol version %lld, this hasvcd speaks %d", type,
		    (long long)json_object_get_int64(v), SDB_MSG_PROTOCOL);
	r = sdb__field_u64(db, msg, "time", true, INT64_MAX, &c.time, NULL);
	if (r < 0)
		return sdb__fail(db, r, "%s: %s", type, db->errmsg);

	for (size_t i = 0; i < ARRAY_SIZE(handlers); i++) {
		if (strcmp(type, handlers[i].type) != 0)
			continue;
		/*
		 * The handler checks the fields first, outside any transaction
		 * (a malformed message is refused alike everywhere, even where
		 * the database is busy), then begins one; we end it.
		 */
		r = handlers[i].apply(db, &c);
		assert(r < 0 || !sqlite3_get_autocommit(db->conn));
		if (r >= 0)
			r = sdb__version_bump(db, c.time);
		if (r >= 0)
			r = sdb__commit(db);
		if (r < 0)
			goto out_rollback;
		db->errmsg[0] = '\0';
		return 0;
	}
	return sdb__fail(db, -EINVAL, "unknown message type '%s'", type);

out_rollback:
	sdb__rollback(db);
	return sdb__fail(db, r, "%s: %s", type, db->errmsg);
}

int sdb_apply(struct sdb *db, uint32_t sender_nodeid, const void *buf, size_t len)
{
	_cleanup_json_ json_object *msg = NULL;
	int r;

	r = sdb_msg_parse(buf, len, &msg);
	if (r < 0)
		return sdb__fail(db, r, "malformed message (%zu bytes)", len);
	return sdb__apply_obj(db, sender_nodeid, msg);
}

bool sdb_apply_refused(int error)
{
	switch (error) {
	case -EINVAL:
	case -EPROTONOSUPPORT:
	case -ENOENT:
	case -EEXIST:
	case -ESTALE:
	case -EALREADY:
	case -ENOTEMPTY:
	case -EPERM:
		return true;
	default:
		return false;
	}
}
