// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_apply_log: applying the changes of the logs and of the operation
 * table: event, fence_start, fence_finish, op_begin, op_end.
 *
 * Events and fence runs are numbered from counters of the cluster row, not
 * by sqlite (no AUTOINCREMENT, no rowid reuse), and pruned to the newest
 * SDB_EVENTS_KEEP / SDB_FENCE_LOG_KEEP by the same message on every host:
 * every host holds the same rows under the same ids. A fence record is
 * started once (its ref is unique in the cluster) and finished once.
 * Operations are one per VM: op_begin claims the VM, op_end releases it.
 */
#include <string.h>

#include "sdb_apply.h"

int sdb__next_id(struct sdb *db, enum sdb__q counter, enum sdb__q prune, int64_t keep, int64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int64_t id;
	int r, rc;

	r = sdb__stmt(db, counter, &s);
	if (r < 0)
		return r;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return sdb__fail_sqlite(db, sqlite3_extended_errcode(db->conn), "cannot count");
	id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (id > keep) {
		r = sdb__stmt(db, prune, &s);
		if (r < 0)
			return r;
		sqlite3_bind_int64(s, 1, id - keep);
		r = sdb__exec(db, s, "cannot prune");
		if (r < 0)
			return r;
	}
	*ret = id;
	return 0;
}

int sdb__event_insert(struct sdb *db, const struct sdb__apply_ctx *c, const char *node,
		      const char *vm, const char *kind, const char *message,
		      const char *detail_text, const struct sdb__transition *t)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int64_t id;
	int r;

	r = sdb__next_id(db, SDB_Q_CLUSTER_EVENT_ID, SDB_Q_EVENTS_PRUNE, SDB_EVENTS_KEEP, &id);
	if (r < 0)
		return r;
	r = sdb__stmt(db, SDB_Q_EVENT_INSERT, &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)c->time);
	sdb__bind_text(s, 3, node);
	sdb__bind_text(s, 4, vm);
	sdb__bind_text(s, 5, kind);
	sdb__bind_text(s, 6, message);
	sdb__bind_text(s, 7, detail_text);
	if (t) {
		sdb__bind_text(s, 8, t->from);
		sdb__bind_text(s, 9, t->to);
		sdb__bind_text(s, 10, t->event);
	}
	return sdb__exec(db, s, "cannot append event");
}

int sdb__apply_event(struct sdb *db, const struct sdb__apply_ctx *c)
{
	const char *node, *vm, *kind, *message, *detail_text = NULL;
	json_object *detail;
	const struct sdb__field fields[] = {
	    SDB_STR_OPT("node", SDB_NAME_MAX_LEN, NULL, &node),
	    SDB_STR_OPT("vm", SDB_NAME_MAX_LEN, NULL, &vm),
	    SDB_STR("kind", 64, NULL, &kind),
	    SDB_STR("message", SDB_TEXT_MAX_LEN, NULL, &message),
	};
	int r;

	r = sdb__fields_read(db, c->msg, fields, ARRAY_SIZE(fields));
	if (r < 0)
		return r;
	if (json_object_object_get_ex(c->msg, "detail", &detail) && detail) {
		if (!json_object_is_type(detail, json_type_object))
			return sdb__fail(db, -EINVAL, "field 'detail' is not an object");
		detail_text = json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN);
		if (!detail_text)
			return -ENOMEM;
		if (strlen(detail_text) > 16 * SDB_TEXT_MAX_LEN)
			return sdb__fail(db, -EINVAL, "field 'detail' too long");
	}

	r = sdb__begin(db);
	if (r < 0)
		return r;
	return sdb__event_insert(db, c, node, vm, kind, message, detail_text, NULL);
}

int sdb__apply_fence_start(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {
	    .q = SDB_Q_FENCE_GET, .what = "fence record", .want = SDB_ROW_ABSENT};
	const char *target, *device, *agent, *action;
	uint64_t level, started;
	bool has_started;
	int64_t id;
	const struct sdb__field fields[] = {
	    SDB_STR("ref", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_STR("target", SDB_NAME_MAX_LEN, NULL, &target),
	    SDB_STR_OPT("device", SDB_NAME_MAX_LEN, NULL, &device),
	    SDB_STR("agent", SDB_NAME_MAX_LEN, NULL, &agent),
	    SDB_U64_OPT("level", 1000, &level, NULL),
	    SDB_STR("action", 16, sdb__fence_actions, &action),
	    SDB_U64_OPT("started_usec", INT64_MAX, &started, &has_started),
	};
	int r;

	r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r >= 0)
		r = sdb__next_id(db, SDB_Q_CLUSTER_FENCE_ID, SDB_Q_FENCE_PRUNE, SDB_FENCE_LOG_KEEP,
				 &id);
	if (r < 0)
		return r;

	r = sdb__stmt(db, SDB_Q_FENCE_INSERT, &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	sdb__bind_text(s, 2, row.key);
	sdb__bind_text(s, 3, target);
	sdb__bind_text(s, 4, device);
	sdb__bind_text(s, 5, agent);
	sqlite3_bind_int64(s, 6, (int64_t)level);
	sdb__bind_text(s, 7, action);
	sqlite3_bind_int64(s, 8, (int64_t)(has_started ? started : c->time));
	return sdb__exec(db, s, "cannot write fence log");
}

/* A fence record is finished once: refused (-ESTALE) unless it is still running. */
int sdb__apply_fence_finish(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_FENCE_GET, .what = "fence record", .expect = "running"};
	const char *result, *message;
	const struct sdb__field fields[] = {
	    SDB_STR("ref", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_STR("result", 16, sdb__fence_results, &result),
	    SDB_STR_OPT("message", SDB_TEXT_MAX_LEN, NULL, &message),
	};
	int r;

	r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r < 0)
		return r;

	r = sdb__stmt_key(db, SDB_Q_FENCE_FINISH, row.key, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 2, result);
	sdb__bind_text(s, 3, message);
	sqlite3_bind_int64(s, 4, (int64_t)c->time);
	return sdb__exec(db, s, "cannot write fence log");
}

int sdb__apply_op_begin(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_OP_GET,
			       .what = "operation on",
			       .want = SDB_ROW_ABSENT,
			       .exists_error = -EALREADY,
			       .col = 1};
	const char *op, *node, *ref;
	const struct sdb__field fields[] = {
	    SDB_STR("vm", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_STR("op", 64, NULL, &op),
	    SDB_STR("node", SDB_NAME_MAX_LEN, NULL, &node),
	    SDB_STR("ref", SDB_NAME_MAX_LEN, NULL, &ref),
	};
	int r;

	r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r < 0)
		return r;

	r = sdb__stmt_key(db, SDB_Q_OP_INSERT, row.key, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 2, op);
	sdb__bind_text(s, 3, node);
	sdb__bind_text(s, 4, ref);
	sqlite3_bind_int64(s, 5, (int64_t)c->time);
	return sdb__exec(db, s, "cannot begin operation");
}

/* REF absent: releases whatever runs (the coordinator cleaning up after a host that left). */
int sdb__apply_op_end(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_OP_GET, .what = "operation on", .col = 3};
	const struct sdb__field fields[] = {
	    SDB_STR("vm", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_STR_OPT("ref", SDB_NAME_MAX_LEN, NULL, &row.expect),
	};
	int r;

	r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r < 0)
		return r;

	return sdb__exec_key(db, SDB_Q_OP_DELETE, row.key, "cannot end operation");
}
