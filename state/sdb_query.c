// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_query: reading the state, for the daemon and the HTTP API.
 *
 * Each query returns json-c objects whose keys are those of the API (see
 * sdb.h and docs/state.md); the caller owns the result. A row becomes an
 * object through a column map (struct col): the key of each column and how
 * to present it (as stored; a 0/1 as a boolean; a JSON text as JSON). The
 * queries only read, and need no transaction but the implicit one of each
 * statement: a list is one statement, so it is one consistent view.
 */
#include <string.h>

#include "sdb_internal.h"

enum col_kind {
	COL_AUTO, /* integer, text or null, as stored */
	COL_BOOL, /* 0/1 as false/true */
	COL_JSON, /* a JSON text, parsed (null when it does not parse) */
};

struct col {
	const char *key;
	enum col_kind kind;
};

static const struct col node_cols[] = {
    {"name", COL_AUTO},	       {"nodeid", COL_AUTO}, {"address", COL_AUTO},
    {"fence_ref", COL_AUTO},   {"state", COL_AUTO},  {"changed_usec", COL_AUTO},
    {"admin_state", COL_AUTO},
};

static const struct col pair_cols[] = {
    {"vm", COL_AUTO},	      {"uuid", COL_AUTO},	   {"primary", COL_AUTO},
    {"backup", COL_AUTO},     {"mode", COL_AUTO},	   {"bandwidth_mib", COL_AUTO},
    {"state", COL_AUTO},      {"desired_state", COL_AUTO}, {"admin_state", COL_AUTO},
    {"reason", COL_AUTO},     {"bytes_done", COL_AUTO},	   {"bytes_total", COL_AUTO},
    {"generation", COL_AUTO}, {"changed_usec", COL_AUTO},  {"nbd_port", COL_AUTO},
    {"copy_kind", COL_AUTO},  {"copy_reason", COL_AUTO},	   {"backup_disk_id", COL_AUTO},
    {"backup_disk_reason", COL_AUTO}, {"verify", COL_JSON},
};

static const struct col disk_cols[] = {
    {"target", COL_AUTO},
    {"bytes_done", COL_AUTO},
    {"bytes_total", COL_AUTO},
    {"ready", COL_BOOL},
};

static const struct col op_cols[] = {
    {"vm", COL_AUTO},  {"op", COL_AUTO},	   {"node", COL_AUTO},
    {"ref", COL_AUTO}, {"started_usec", COL_AUTO},
};

static const struct col event_cols[] = {
    {"id", COL_AUTO},
    {"time_usec", COL_AUTO},
    {"node", COL_AUTO},
    {"vm", COL_AUTO},
    {"kind", COL_AUTO},
    {"message", COL_AUTO},
    {"detail", COL_JSON},
    /* folded into "transition" by sdb__event_extend() */
    {"pair_from", COL_AUTO},
    {"pair_to", COL_AUTO},
    {"pair_event", COL_AUTO},
};

static const struct col fence_cols[] = {
    {"id", COL_AUTO},		{"ref", COL_AUTO},	     {"target", COL_AUTO},
    {"device", COL_AUTO},	{"agent", COL_AUTO},	     {"level", COL_AUTO},
    {"action", COL_AUTO},	{"result", COL_AUTO},	     {"message", COL_AUTO},
    {"started_usec", COL_AUTO}, {"finished_usec", COL_AUTO},
};

static int sdb__row_json(sqlite3_stmt *s, const struct col *cols, size_t n, json_object **ret)
{
	_cleanup_json_ json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int t = sqlite3_column_type(s, (int)i);
		json_object *v = NULL;

		if (t == SQLITE_NULL)
			v = NULL;
		else if (cols[i].kind == COL_BOOL)
			v = json_object_new_boolean(sqlite3_column_int(s, (int)i) != 0);
		else if (cols[i].kind == COL_JSON)
			v = json_tokener_parse((const char *)sqlite3_column_text(s, (int)i));
		else if (t == SQLITE_INTEGER)
			v = json_object_new_int64(sqlite3_column_int64(s, (int)i));
		else
			v = json_object_new_string((const char *)sqlite3_column_text(s, (int)i));
		if (json_object_object_add(o, cols[i].key, v) < 0) {
			json_object_put(v);
			return -ENOMEM;
		}
	}
	*ret = TAKE_PTR(o);
	return 0;
}

/* Every row of S (bound by the caller) as an array; EXTEND, if given, adds to each. */
static int sdb__rows_json(struct sdb *db, sqlite3_stmt *s, const struct col *cols, size_t n,
			  int (*extend)(struct sdb *db, json_object *o), json_object **ret)
{
	_cleanup_json_ json_object *a = json_object_new_array();
	int r, rc;

	if (!a)
		return -ENOMEM;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_object *o = NULL;

		r = sdb__row_json(s, cols, n, &o);
		if (r < 0)
			return r;
		if (json_object_array_add(a, o) < 0) {
			json_object_put(o);
			return -ENOMEM;
		}
	}
	if (rc != SQLITE_DONE)
		return sdb__fail_sqlite(db, rc, "cannot read state");
	sqlite3_reset(s); /* an extension may run other statements */
	for (size_t i = 0; extend && i < json_object_array_length(a); i++) {
		r = extend(db, json_object_array_get_idx(a, i));
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(a);
	return 0;
}

/* Every row of Q (KEY bound to ?1 unless NULL) as an array of objects. */
static int sdb__list(struct sdb *db, enum sdb__q q, const char *key, const struct col *cols,
		     size_t n, int (*extend)(struct sdb *db, json_object *o), json_object **ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r = key ? sdb__stmt_key(db, q, key, &s) : sdb__stmt(db, q, &s);

	return r < 0 ? r : sdb__rows_json(db, s, cols, n, extend, ret);
}

/* The count of S (bound by the caller, to be stepped once) in *RET. */
static int sdb__count(struct sdb *db, sqlite3_stmt *s, uint64_t *ret)
{
	int r = sdb__step(db, s);

	if (r == 0)
		return sdb__fail(db, -EIO, "cannot count: no row");
	if (r > 0)
		*ret = (uint64_t)sqlite3_column_int64(s, 0);
	return r < 0 ? r : 0;
}

/* The one row of S, or -ENOENT. */
static int sdb__row_one(struct sdb *db, sqlite3_stmt *s, const struct col *cols, size_t n,
			const char *what, const char *name, json_object **ret)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		return sdb__fail(db, -ENOENT, "no %s '%s'", what, name);
	if (rc != SQLITE_ROW)
		return sdb__fail_sqlite(db, rc, "cannot read state");
	return sdb__row_json(s, cols, n, ret);
}

int sdb_node_get(struct sdb *db, const char *name, json_object **ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt_key(db, SDB_Q_NODE_GET, name, &s);
	if (r < 0)
		return r;
	return sdb__row_one(db, s, node_cols, ARRAY_SIZE(node_cols), "node", name, ret);
}

int sdb_nodes_list(struct sdb *db, json_object **ret)
{
	return sdb__list(db, SDB_Q_NODES_LIST, NULL, node_cols, ARRAY_SIZE(node_cols), NULL, ret);
}

/*
 * "lag_bytes", per disk and for the pair: what the backup lacks of what the
 * primary wrote (job end - cur, as last reported): the rest of the initial
 * sync, then, in async mode, the writes not copied yet.
 */
static void lag_add(json_object *pair, json_object *disks)
{
	int64_t sum = 0;

	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		int64_t lag = json_object_get_int64(json_object_object_get(d, "bytes_total")) -
			      json_object_get_int64(json_object_object_get(d, "bytes_done"));

		lag = lag > 0 ? lag : 0;
		sum += lag;
		json_object_object_add(d, "lag_bytes", json_object_new_int64(lag));
	}
	json_object_object_add(pair, "lag_bytes", json_object_new_int64(sum));
}

/*
 * "copy": the kind of the pair's last (or running) copy, with the pair's
 * progress beside it: {"kind","reason"?,"bytes_done","bytes_total","running"},
 * or null when none is recorded (a new initial sync whose copy has not
 * reported yet, a pair older than schema 7). Built from the columns
 * copy_kind and copy_reason, which leave the flat object.
 */
static void copy_add(json_object *pair)
{
	json_object *kind = json_object_object_get(pair, "copy_kind");
	json_object *why = json_object_object_get(pair, "copy_reason");
	json_object *state = json_object_object_get(pair, "state");
	json_object *copy = NULL;

	if (kind && json_object_is_type(kind, json_type_string)) {
		copy = json_object_new_object();
		json_object_object_add(copy, "kind", json_object_get(kind));
		if (why && json_object_is_type(why, json_type_string))
			json_object_object_add(copy, "reason", json_object_get(why));
		json_object_object_add(copy, "bytes_done",
				       json_object_get(json_object_object_get(pair, "bytes_done")));
		json_object_object_add(copy, "bytes_total",
				       json_object_get(json_object_object_get(pair, "bytes_total")));
		json_object_object_add(copy, "running",
				       json_object_new_boolean(state && strcmp(json_object_get_string(state),
									      "initial-sync") == 0));
	}
	json_object_object_del(pair, "copy_kind");
	json_object_object_del(pair, "copy_reason");
	json_object_object_add(pair, "copy", copy);
}

/* Adds "disks" (with their lag), "copy" and "operation" to a pair object. */
static int sdb__pair_extend(struct sdb *db, json_object *pair)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	json_object *vm, *disks = NULL, *op = NULL;
	int r, rc;

	if (!json_object_object_get_ex(pair, "vm", &vm))
		return -EINVAL;
	r = sdb__stmt_key(db, SDB_Q_DISKS_GET, json_object_get_string(vm), &s);
	if (r < 0)
		return r;
	r = sdb__rows_json(db, s, disk_cols, ARRAY_SIZE(disk_cols), NULL, &disks);
	if (r < 0)
		return r;
	json_object_object_add(pair, "disks", disks);
	lag_add(pair, disks);
	copy_add(pair);

	r = sdb__stmt_key(db, SDB_Q_OP_GET, json_object_get_string(vm), &s);
	if (r < 0)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		r = sdb__row_json(s, op_cols, ARRAY_SIZE(op_cols), &op);
		if (r < 0)
			return r;
		json_object_object_del(op, "vm");
	} else if (rc != SQLITE_DONE) {
		return sdb__fail_sqlite(db, rc, "cannot read state");
	}
	json_object_object_add(pair, "operation", op);
	return 0;
}

int sdb_pair_get(struct sdb *db, const char *vm, json_object **ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	_cleanup_json_ json_object *pair = NULL;
	int r;

	r = sdb__stmt_key(db, SDB_Q_PAIR_GET, vm, &s);
	if (r < 0)
		return r;
	r = sdb__row_one(db, s, pair_cols, ARRAY_SIZE(pair_cols), "pair", vm, &pair);
	if (r < 0)
		return r;
	sqlite3_reset(s);
	r = sdb__pair_extend(db, pair);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(pair);
	return 0;
}

int sdb_pair_spec_get(struct sdb *db, const char *vm, char **ret_xml, json_object **ret_sizes)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *xml, *sizes;
	int r, rc;

	r = sdb__stmt_key(db, SDB_Q_PAIR_SPEC, vm, &s);
	if (r < 0)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return sdb__fail(db, -ENOENT, "no pair '%s'", vm);
	if (rc != SQLITE_ROW)
		return sdb__fail_sqlite(db, rc, "cannot read state");
	xml = (const char *)sqlite3_column_text(s, 0);
	sizes = (const char *)sqlite3_column_text(s, 1);
	*ret_xml = xml ? strdup(xml) : NULL;
	*ret_sizes = sizes ? json_tokener_parse(sizes) : NULL;
	if ((xml && !*ret_xml) || (sizes && !*ret_sizes)) {
		free(*ret_xml);
		json_object_put(*ret_sizes);
		return -ENOMEM;
	}
	return 0;
}

int sdb_pairs_list(struct sdb *db, json_object **ret)
{
	return sdb__list(db, SDB_Q_PAIRS_LIST, NULL, pair_cols, ARRAY_SIZE(pair_cols),
			 sdb__pair_extend, ret);
}

int sdb_pairs_list_by_node(struct sdb *db, const char *node, json_object **ret)
{
	return sdb__list(db, SDB_Q_PAIRS_BY_NODE, node, pair_cols, ARRAY_SIZE(pair_cols),
			 sdb__pair_extend, ret);
}

int sdb_events_count(struct sdb *db, const char *kind, const char *text, uint64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt_key(db, SDB_Q_EVENTS_COUNT, kind, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 2, text);
	return sdb__count(db, s, ret);
}

/*
 * "transition":{"from","to","event"} on the pair events that recorded one
 * (an applied pair_update that changed the state); absent on the others.
 */
static int sdb__event_extend(struct sdb *db, json_object *event)
{
	static const char *const keys[][2] = {
	    {"pair_from", "from"}, {"pair_to", "to"}, {"pair_event", "event"}};
	_cleanup_json_ json_object *t = NULL;
	json_object *v;

	if (json_object_object_get_ex(event, "pair_to", &v) && v) {
		t = json_object_new_object();
		if (!t)
			return -ENOMEM;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (t && json_object_object_get_ex(event, keys[i][0], &v))
			json_object_object_add(t, keys[i][1], json_object_get(v));
		json_object_object_del(event, keys[i][0]);
	}
	if (t && json_object_object_add(event, "transition", t) < 0)
		return -ENOMEM;
	TAKE_PTR(t);
	return 0;
}

int sdb_transitions_count(struct sdb *db, const char *from, const char *to, const char *event,
			  uint64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt_key(db, SDB_Q_TRANSITIONS_COUNT, from, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 2, to);
	sdb__bind_text(s, 3, event);
	return sdb__count(db, s, ret);
}

int sdb_pair_entered_by(struct sdb *db, const char *vm, const char *state, char **ret_event)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *ev;
	int r, rc;

	r = sdb__stmt_key(db, SDB_Q_PAIR_ENTERED_BY, vm, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 2, state);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		*ret_event = NULL;
		return 0;
	}
	if (rc != SQLITE_ROW)
		return sdb__fail_sqlite(db, rc, "cannot read state");
	ev = (const char *)sqlite3_column_text(s, 0);
	*ret_event = ev ? strdup(ev) : NULL;
	return ev && !*ret_event ? -ENOMEM : 0;
}

int sdb_events_list(struct sdb *db, uint64_t since_id, unsigned limit, json_object **ret)
{
	return sdb_events_list_kind(db, NULL, since_id, limit, ret);
}

int sdb_events_list_kind(struct sdb *db, const char *kind, uint64_t since_id, unsigned limit,
			 json_object **ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt(db, SDB_Q_EVENTS_LIST, &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, since_id > INT64_MAX ? INT64_MAX : (int64_t)since_id);
	sqlite3_bind_int64(s, 2, limit ? limit : 1000);
	sdb__bind_text(s, 3, kind);
	return sdb__rows_json(db, s, event_cols, ARRAY_SIZE(event_cols), sdb__event_extend, ret);
}

int sdb_fence_log_list(struct sdb *db, const char *target, unsigned limit, json_object **ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt(db, target ? SDB_Q_FENCE_LIST_TARGET : SDB_Q_FENCE_LIST, &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, limit ? limit : 1000);
	if (target)
		sdb__bind_text(s, 2, target);
	return sdb__rows_json(db, s, fence_cols, ARRAY_SIZE(fence_cols), NULL, ret);
}

int sdb_operations_list(struct sdb *db, json_object **ret)
{
	return sdb__list(db, SDB_Q_OPS_LIST, NULL, op_cols, ARRAY_SIZE(op_cols), NULL, ret);
}

int sdb_cluster_get(struct sdb *db, json_object **ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	_cleanup_json_ json_object *o = NULL;
	int r;

	r = sdb__cluster_row(db, &s);
	if (r < 0)
		return r;
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "version", json_object_new_int64(sqlite3_column_int64(s, 0)));
	json_object_object_add(o, "last_event_id",
			       json_object_new_int64(sqlite3_column_int64(s, 1)));
	json_object_object_add(o, "last_fence_id",
			       json_object_new_int64(sqlite3_column_int64(s, 2)));
	json_object_object_add(o, "changed_usec",
			       json_object_new_int64(sqlite3_column_int64(s, 3)));
	json_object_object_add(o, "schema", json_object_new_int64(sdb__schema_n_steps));
	*ret = TAKE_PTR(o);
	return 0;
}
