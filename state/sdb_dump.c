// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_dump: the replicated state as one canonical JSON value, and back.
 *
 * The dump is what two hosts compare (its SHA-256 is sdb_digest()) and what a
 * state transfer carries (sdb_repl's snapshot):
 *
 *   {"schema":3,
 *    "cluster":[[1,version,last_event_id,last_fence_id,changed_usec]],
 *    "nodes":[[name,nodeid,address,fence_ref,state,changed_usec,admin_state],...],
 *    "pairs":[[...20 columns...],...], "pair_disks":[...], "operations":[...],
 *    "events":[...], "fence_log":[...]}
 *
 * Tables come in this fixed order, rows in primary-key order, columns in the
 * order of the SDB_Q_DUMP_* statements, values as integers, strings or null:
 * the same rows give the same text, byte for byte, on every host.
 *
 * Loading replaces every replicated table in one transaction (children
 * deleted first, parents inserted first, so foreign keys hold throughout). A
 * dump of another schema version is refused (-EPROTONOSUPPORT): the columns
 * would not line up.
 */
#include <string.h>

#include "sdb_internal.h"

struct sdb__table {
	const char *key;
	enum sdb__q dump, wipe, load;
	int n_cols;
};

/* Parents before children: loaded in this order, wiped in the reverse one. */
static const struct sdb__table tables[] = {
	{"cluster", SDB_Q_DUMP_CLUSTER, _SDB_Q_MAX, SDB_Q_LOAD_CLUSTER, 5},
	{"nodes", SDB_Q_DUMP_NODES, SDB_Q_WIPE_NODES, SDB_Q_LOAD_NODES, 7},
	{"pairs", SDB_Q_DUMP_PAIRS, SDB_Q_WIPE_PAIRS, SDB_Q_LOAD_PAIRS, 23},
	{"pair_disks", SDB_Q_DUMP_DISKS, SDB_Q_WIPE_DISKS, SDB_Q_LOAD_DISKS, 5},
	{"operations", SDB_Q_DUMP_OPS, SDB_Q_WIPE_OPS, SDB_Q_LOAD_OPS, 5},
	{"events", SDB_Q_DUMP_EVENTS, SDB_Q_WIPE_EVENTS, SDB_Q_LOAD_EVENTS, 10},
	{"fence_log", SDB_Q_DUMP_FENCE, SDB_Q_WIPE_FENCE, SDB_Q_LOAD_FENCE, 11},
};

static int sdb__dump_table(struct sdb *db, const struct sdb__table *t, json_object **ret)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	_cleanup_json_ json_object *rows = NULL;
	int r, rc;

	r = sdb__stmt(db, t->dump, &s);
	if (r < 0)
		return r;
	rows = json_object_new_array();
	if (!rows)
		return -ENOMEM;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_object *row = json_object_new_array_ext(t->n_cols), *v;

		if (!row || json_object_array_add(rows, row) < 0) {
			json_object_put(row);
			return -ENOMEM;
		}
		for (int i = 0; i < t->n_cols; i++) {
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_INTEGER:
				v = json_object_new_int64(sqlite3_column_int64(s, i));
				break;
			case SQLITE_NULL:
				v = NULL;
				break;
			default:
				v = json_object_new_string_len(
				    (const char *)sqlite3_column_text(s, i),
				    sqlite3_column_bytes(s, i));
				if (!v)
					return -ENOMEM;
			}
			if (json_object_array_add(row, v) < 0) {
				json_object_put(v);
				return -ENOMEM;
			}
		}
	}
	if (rc != SQLITE_DONE)
		return sdb__fail_sqlite(db, rc, "cannot read state");
	*ret = TAKE_PTR(rows);
	return 0;
}

int sdb__dump(struct sdb *db, json_object **ret)
{
	_cleanup_json_ json_object *dump = json_object_new_object();
	int r;

	if (!dump)
		return -ENOMEM;
	json_object_object_add(dump, "schema", json_object_new_int64(sdb__schema_n_steps));
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
		json_object *rows = NULL;

		r = sdb__dump_table(db, &tables[i], &rows);
		if (r < 0)
			return r;
		if (json_object_object_add(dump, tables[i].key, rows) < 0) {
			json_object_put(rows);
			return -ENOMEM;
		}
	}
	*ret = TAKE_PTR(dump);
	return 0;
}

int sdb__json_text(json_object *m, char **ret_buf, size_t *ret_len)
{
	const char *text;
	size_t len;
	char *buf;

	text = json_object_to_json_string_length(m, JSON_C_TO_STRING_PLAIN, &len);
	if (!text)
		return -ENOMEM;
	buf = strndup(text, len);
	if (!buf)
		return -ENOMEM;
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int sdb__digest_of(json_object *dump, char ret_hex[65])
{
	size_t len;
	const char *text = json_object_to_json_string_length(dump, JSON_C_TO_STRING_PLAIN, &len);

	if (!text)
		return -ENOMEM;
	sdb__sha256_hex(text, len, ret_hex);
	return 0;
}

int sdb_digest(struct sdb *db, char ret_hex[65])
{
	_cleanup_json_ json_object *dump = NULL;
	int64_t changes = sqlite3_total_changes64(db->conn);
	int r;

	if (db->digest_valid && db->digest_changes == changes) {
		memcpy(ret_hex, db->digest, sizeof(db->digest));
		return 0;
	}
	r = sdb__begin_read(db);
	if (r < 0)
		return r;
	r = sdb__dump(db, &dump);
	sdb__rollback(db); /* read only: ending it is all */
	if (r < 0)
		return r;
	r = sdb__digest_of(dump, ret_hex);
	if (r < 0)
		return r;
	memcpy(db->digest, ret_hex, sizeof(db->digest));
	db->digest_changes = changes;
	db->digest_valid = true;
	return 0;
}

static int sdb__load_table(struct sdb *db, const struct sdb__table *t, json_object *rows)
{
	size_t n = json_object_array_length(rows);
	int r;

	for (size_t i = 0; i < n; i++) {
		_cleanup_stmt_ sqlite3_stmt *s = NULL;
		json_object *row = json_object_array_get_idx(rows, i);

		if (!json_object_is_type(row, json_type_array) ||
		    json_object_array_length(row) != (size_t)t->n_cols)
			return sdb__fail(db, -EINVAL, "snapshot: bad row %zu of %s", i, t->key);
		r = sdb__stmt(db, t->load, &s);
		if (r < 0)
			return r;
		for (int c = 0; c < t->n_cols; c++) {
			json_object *v = json_object_array_get_idx(row, c);

			switch (json_object_get_type(v)) {
			case json_type_null:
				sqlite3_bind_null(s, c + 1);
				break;
			case json_type_int:
				sqlite3_bind_int64(s, c + 1, json_object_get_int64(v));
				break;
			case json_type_string:
				sqlite3_bind_text(s, c + 1, json_object_get_string(v),
						  json_object_get_string_len(v), SQLITE_TRANSIENT);
				break;
			default:
				return sdb__fail(db, -EINVAL, "snapshot: bad value in %s", t->key);
			}
		}
		r = sdb__exec(db, s, "cannot load snapshot");
		if (r < 0)
			return r;
		if (t->wipe == _SDB_Q_MAX && sqlite3_changes(db->conn) != 1)
			return sdb__fail(db, -EINVAL, "snapshot: bad %s row", t->key);
	}
	return 0;
}

int sdb__load(struct sdb *db, json_object *dump)
{
	json_object *schema, *rows[ARRAY_SIZE(tables)];
	int r;

	if (!json_object_is_type(dump, json_type_object) ||
	    !json_object_object_get_ex(dump, "schema", &schema) ||
	    !json_object_is_type(schema, json_type_int))
		return sdb__fail(db, -EINVAL, "snapshot: not a state dump");
	if (json_object_get_int64(schema) != (int64_t)sdb__schema_n_steps)
		return sdb__fail(db, -EPROTONOSUPPORT,
				 "snapshot of schema version %lld, this hasvcd has %u",
				 (long long)json_object_get_int64(schema), sdb__schema_n_steps);
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
		if (!json_object_object_get_ex(dump, tables[i].key, &rows[i]) ||
		    !json_object_is_type(rows[i], json_type_array))
			return sdb__fail(db, -EINVAL, "snapshot: no table %s", tables[i].key);
	if (json_object_array_length(rows[0]) != 1)
		return sdb__fail(db, -EINVAL, "snapshot: bad cluster row");

	r = sdb__begin(db);
	if (r < 0)
		return r;
	for (size_t i = ARRAY_SIZE(tables); i-- > 0;) {
		_cleanup_stmt_ sqlite3_stmt *s = NULL;

		if (tables[i].wipe == _SDB_Q_MAX)
			continue;
		r = sdb__stmt(db, tables[i].wipe, &s);
		if (r >= 0)
			r = sdb__exec(db, s, "cannot replace state");
		if (r < 0)
			goto out_rollback;
	}
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
		r = sdb__load_table(db, &tables[i], rows[i]);
		if (r < 0)
			goto out_rollback;
	}
	return sdb__commit(db);

out_rollback:
	sdb__rollback(db);
	return r;
}
