// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_apply_node: applying the changes of the nodes table (node_upsert,
 * node_state, node_admin, node_delete).
 *
 * A node has two states of its own: the membership state (online, offline,
 * fencing, fenced), which follows corosync and the fencing decisions, and
 * the admin state (enabled, maintenance), which only the operator changes.
 * Each has its message and its compare-and-set (expect_state,
 * expect_admin_state), so that a membership change never undoes an
 * operator's maintenance, nor the other way round.
 */
#include "sdb_apply.h"

/* node_upsert: created offline and enabled; later upserts change the configuration only. */
int sdb__apply_node_upsert(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_NODE_GET, .what = "node", .want = SDB_ROW_ANY};
	const char *address, *fence_ref;
	uint64_t nodeid;
	const struct sdb__field fields[] = {
	    SDB_STR("name", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_U64("nodeid", UINT32_MAX, &nodeid),
	    SDB_STR_OPT("address", SDB_NAME_MAX_LEN, NULL, &address),
	    SDB_STR_OPT("fence_ref", SDB_NAME_MAX_LEN, NULL, &fence_ref),
	};
	int r;

	r = sdb__fields_read(db, c->msg, fields, ARRAY_SIZE(fields));
	if (r >= 0 && nodeid == 0)
		r = sdb__fail(db, -EINVAL, "field 'nodeid' is 0");
	if (r >= 0)
		r = sdb__apply_begin(db, &row);
	if (r < 0)
		return r;

	r = sdb__stmt(db, row.exists ? SDB_Q_NODE_UPDATE_INFO : SDB_Q_NODE_INSERT, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, row.key);
	sqlite3_bind_int64(s, 2, (int64_t)nodeid);
	sdb__bind_text(s, 3, address);
	sdb__bind_text(s, 4, fence_ref);
	sqlite3_bind_int64(s, 5, (int64_t)c->time); /* the insert only */
	r = sdb__exec(db, s, "cannot write node");
	if (r == -EEXIST)
		return sdb__fail(db, r, "nodeid %llu already belongs to another node",
				 (unsigned long long)nodeid);
	return r;
}

/*
 * node_state and node_admin: one column (Q) set to the value of field KEY
 * (one of SET), compare-and-set on field EXPECT_KEY against column COL.
 */
static int node_set(struct sdb *db, const struct sdb__apply_ctx *c, const char *key,
		    const char *expect_key, const char *const *set, int col, enum sdb__q q)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_NODE_GET, .what = "node", .col = col};
	const char *value;
	const struct sdb__field fields[] = {
	    SDB_STR("name", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_STR(key, 32, set, &value),
	    SDB_STR_OPT(expect_key, 32, set, &row.expect),
	};
	int r;

	r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r < 0)
		return r;

	r = sdb__stmt(db, q, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, row.key);
	sdb__bind_text(s, 2, value);
	if (sqlite3_bind_parameter_count(s) >= 3) /* node_state's changed_usec */
		sqlite3_bind_int64(s, 3, (int64_t)c->time);
	return sdb__exec(db, s, "cannot write node");
}

int sdb__apply_node_state(struct sdb *db, const struct sdb__apply_ctx *c)
{
	return node_set(db, c, "state", "expect_state", sdb__node_states, 4, SDB_Q_NODE_SET_STATE);
}

int sdb__apply_node_admin(struct sdb *db, const struct sdb__apply_ctx *c)
{
	return node_set(db, c, "admin_state", "expect_admin_state", sdb__admin_states, 6,
			SDB_Q_NODE_SET_ADMIN);
}

int sdb__apply_node_delete(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_NODE_GET, .what = "node"};
	const struct sdb__field fields[] = {SDB_STR("name", SDB_NAME_MAX_LEN, NULL, &row.key)};
	int r;

	r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r >= 0)
		r = sdb__row_exists(db, SDB_Q_PAIRS_BY_NODE, row.key);
	if (r != 0)
		return r < 0 ? r : sdb__fail(db, -ENOTEMPTY, "node '%s' still has pairs", row.key);
	return sdb__exec_key(db, SDB_Q_NODE_DELETE, row.key, "cannot delete node");
}
