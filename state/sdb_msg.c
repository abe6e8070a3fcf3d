// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_msg: building and applying the replicated changes (see sdb_msg.h).
 *
 * A message is a flat JSON object; its envelope is
 *
 *     {"v":1, "type":"<type>", "time":<usec, CLOCK_REALTIME of the proposer>, ...}
 *
 * and the rest depends on the type (docs/state.md lists every field). Each
 * type has one apply function below, shaped alike:
 *
 *   1. read and check every field of the message, touching nothing
 *      (-EINVAL for a missing or malformed field or an unknown enum value);
 *   2. BEGIN IMMEDIATE (sdb__apply_obj() ends the transaction);
 *   3. check the state it finds (the pair exists, its state is the one
 *      expected, no other operation runs, ...) and refuse with the same error
 *      any host would get: -ENOENT, -EEXIST, -ESTALE, -EALREADY, -ENOTEMPTY;
 *   4. write, count the change in the cluster row (version + 1), COMMIT.
 *
 * Any failure after 2 rolls back: a message applies whole or not at all.
 * Everything a write depends on comes from the message or from the database,
 * never from this host (its clock, its name), so that every host applying
 * the same message to the same state writes the same rows.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hs_pair_fsm.h"
#include "sdb_internal.h"
#include "sdb_msg.h"

#define SDB_MSG_MAX_LEN (64u << 20) /* a snapshot part is far smaller */
#define NAME_MAX_LEN 255
#define TEXT_MAX_LEN 4096
#define MAX_DISKS 64
#define DOMAIN_XML_MAX_LEN (256 * 1024)

/* membership states; maintenance is an admin state (node_admin) since protocol 2 */
static const char *const node_states[] = { "online", "offline", "fencing", "fenced", NULL };
static const char *const desired_states[] = { "protected", "unprotected", "deleted", NULL };
static const char *const admin_states[] = { "enabled", "maintenance", NULL };
static const char *const modes[] = { "sync", "async", NULL };
static const char *const fence_actions[] = { "off",	"on",	    "reboot", "status",
					     "monitor", "metadata", NULL };
static const char *const fence_results[] = { "success", "failed", "timeout", NULL };

static bool in_set(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(v, *set) == 0)
			return true;
	return false;
}

/* ---- reading fields ------------------------------------------------------------------ */

/*
 * A string field: absent or null gives NULL (or -EINVAL when REQUIRED);
 * otherwise it must be a string of 1..MAX bytes without NUL (0 bytes allowed
 * when EMPTY_OK), and, when SET is given, one of it.
 */
static int field_str(struct sdb *db, json_object *m, const char *key, bool required, bool empty_ok,
		     size_t max, const char *const *set, const char **ret)
{
	json_object *v;
	const char *s;
	size_t len;

	if (!json_object_object_get_ex(m, key, &v) || !v) {
		if (required)
			return sdb__fail(db, -EINVAL, "field '%s' missing", key);
		*ret = NULL;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return sdb__fail(db, -EINVAL, "field '%s' is not a string", key);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len || len > max || (len == 0 && !empty_ok))
		return sdb__fail(db, -EINVAL, "field '%s' is empty, too long or holds NUL", key);
	if (set && !in_set(s, set))
		return sdb__fail(db, -EINVAL, "field '%s' has unknown value '%s'", key, s);
	*ret = s;
	return 0;
}

#define STR_REQ(db, m, key, max, set, ret) field_str(db, m, key, true, false, max, set, ret)
#define STR_OPT(db, m, key, max, set, ret) field_str(db, m, key, false, false, max, set, ret)

/* An integer field in 0..MAX; absent or null: *RET_SET false (or -EINVAL when REQUIRED). */
static int field_u64(struct sdb *db, json_object *m, const char *key, bool required, uint64_t max,
		     uint64_t *ret, bool *ret_set)
{
	json_object *v;
	int64_t i;

	if (!json_object_object_get_ex(m, key, &v) || !v) {
		if (required)
			return sdb__fail(db, -EINVAL, "field '%s' missing", key);
		if (ret_set)
			*ret_set = false;
		*ret = 0;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return sdb__fail(db, -EINVAL, "field '%s' is not an integer", key);
	i = json_object_get_int64(v);
	if (i < 0 || (uint64_t)i > max)
		return sdb__fail(db, -EINVAL, "field '%s' out of range", key);
	*ret = (uint64_t)i;
	if (ret_set)
		*ret_set = true;
	return 0;
}

/* A pair state field (the names of hs_pair_fsm.h): absent gives NULL. */
static int field_pair_state(struct sdb *db, json_object *m, const char *key, const char **ret,
			    enum hs_pair_state *ret_state)
{
	enum hs_pair_state st = HS_PAIR_STATE_MAX;
	int r;

	r = STR_OPT(db, m, key, 32, NULL, ret);
	if (r < 0)
		return r;
	if (*ret && hs_pair_state_from_name(*ret, &st) < 0)
		return sdb__fail(db, -EINVAL, "field '%s' has unknown value '%s'", key, *ret);
	if (ret_state)
		*ret_state = st;
	return 0;
}

/*
 * "pair_event": the event (a name of hs_pair_fsm.h) that moves the pair to
 * STATE. Required when the change sets a state: the apply checks the edge
 * against the table. Without a state it is not needed, and refused: an event
 * that moves nothing would be a lie in the log.
 */
static int field_pair_event(struct sdb *db, json_object *m, const char *state, const char **ret,
			    enum hs_pair_event *ret_event)
{
	int r;

	r = field_str(db, m, "pair_event", state != NULL, false, 32, NULL, ret);
	if (r < 0)
		return r;
	if (*ret && !state)
		return sdb__fail(db, -EINVAL, "field 'pair_event' without 'state'");
	if (*ret && hs_pair_event_from_name(*ret, ret_event) < 0)
		return sdb__fail(db, -EINVAL, "field 'pair_event' has unknown value '%s'", *ret);
	return 0;
}

static int field_bool(struct sdb *db, json_object *m, const char *key, bool *ret)
{
	json_object *v;

	if (!json_object_object_get_ex(m, key, &v) || !v) {
		*ret = false;
		return 0;
	}
	if (!json_object_is_type(v, json_type_boolean))
		return sdb__fail(db, -EINVAL, "field '%s' is not a boolean", key);
	*ret = json_object_get_boolean(v);
	return 0;
}

/* "disks": absent (*ret NULL) or an array of valid disk objects. */
static int field_disks(struct sdb *db, json_object *m, json_object **ret)
{
	json_object *a;
	size_t n;
	int r;

	if (!json_object_object_get_ex(m, "disks", &a) || !a) {
		*ret = NULL;
		return 0;
	}
	if (!json_object_is_type(a, json_type_array))
		return sdb__fail(db, -EINVAL, "field 'disks' is not an array");
	n = json_object_array_length(a);
	if (n > MAX_DISKS)
		return sdb__fail(db, -EINVAL, "too many disks (%zu)", n);
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(a, i);
		const char *target;
		uint64_t u;
		bool b;

		if (!json_object_is_type(d, json_type_object))
			return sdb__fail(db, -EINVAL, "disk %zu is not an object", i);
		r = STR_REQ(db, d, "target", 64, NULL, &target);
		if (r >= 0)
			r = field_u64(db, d, "bytes_done", false, INT64_MAX, &u, NULL);
		if (r >= 0)
			r = field_u64(db, d, "bytes_total", false, INT64_MAX, &u, NULL);
		if (r >= 0)
			r = field_bool(db, d, "ready", &b);
		if (r < 0)
			return r;
	}
	*ret = a;
	return 0;
}

/* ---- statements used by several types ------------------------------------------------- */

/* 1 when the row of Q keyed by KEY exists, 0 when not; the text of column COL in *ret_text. */
static int row_exists(struct sdb *db, enum sdb__q q, const char *key, int col, char *ret_text,
		      size_t size)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r, rc;

	r = sdb__stmt(db, q, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return sdb__fail_sqlite(db, rc, "cannot read state");
	if (ret_text)
		snprintf(ret_text, size, "%s", (const char *)sqlite3_column_text(s, col) ?: "");
	return 1;
}

static int node_must_exist(struct sdb *db, const char *name)
{
	int r = row_exists(db, SDB_Q_NODE_GET, name, 0, NULL, 0);

	if (r == 0)
		return sdb__fail(db, -ENOENT, "no node '%s'", name);
	return r;
}

/* "disk_sizes": an array of at most MAX_DISKS byte counts; its JSON text in *RET. */
static int field_disk_sizes(struct sdb *db, json_object *m, const char **ret)
{
	json_object *a;

	*ret = NULL;
	if (!json_object_object_get_ex(m, "disk_sizes", &a) || !a)
		return 0;
	if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) > MAX_DISKS)
		return sdb__fail(db, -EINVAL, "field 'disk_sizes' is not an array of sizes");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
			return sdb__fail(db, -EINVAL, "disk size %zu is not a byte count", i);
	}
	*ret = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
	return 0;
}

static int disks_replace(struct sdb *db, const char *vm, json_object *disks)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt(db, SDB_Q_DISKS_DELETE, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, vm);
	r = sdb__exec(db, s, "cannot update disks");
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i), *v;

		r = sdb__stmt(db, SDB_Q_DISK_INSERT, &s);
		if (r < 0)
			return r;
		sdb__bind_text(s, 1, vm);
		json_object_object_get_ex(d, "target", &v);
		sdb__bind_text(s, 2, json_object_get_string(v));
		sqlite3_bind_int64(
		    s, 3,
		    json_object_object_get_ex(d, "bytes_done", &v) ? json_object_get_int64(v) : 0);
		sqlite3_bind_int64(
		    s, 4,
		    json_object_object_get_ex(d, "bytes_total", &v) ? json_object_get_int64(v) : 0);
		sqlite3_bind_int(
		    s, 5,
		    json_object_object_get_ex(d, "ready", &v) ? json_object_get_boolean(v) : 0);
		r = sdb__exec(db, s, "cannot update disks");
		if (r == -EEXIST)
			return sdb__fail(
			    db, -EINVAL, "disk '%s' listed twice",
			    json_object_get_string(json_object_object_get(d, "target")));
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- one apply function per type ----------------------------------------------------- */

struct apply_ctx {
	json_object *msg;
	uint32_t sender;
	uint64_t time;
};

/* The pair transition an event records (all NULL for other events). */
struct transition {
	const char *from, *to, *event;
};

static int event_insert(struct sdb *db, const struct apply_ctx *c, const char *node, const char *vm,
			const char *kind, const char *message, const char *detail_text,
			const struct transition *t);

static int apply_node_upsert(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *name, *address, *fence_ref;
	uint64_t nodeid;
	int r;

	r = STR_REQ(db, c->msg, "name", NAME_MAX_LEN, NULL, &name);
	if (r >= 0)
		r = field_u64(db, c->msg, "nodeid", true, UINT32_MAX, &nodeid, NULL);
	if (r >= 0 && nodeid == 0)
		r = sdb__fail(db, -EINVAL, "field 'nodeid' is 0");
	if (r >= 0)
		r = STR_OPT(db, c->msg, "address", NAME_MAX_LEN, NULL, &address);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "fence_ref", NAME_MAX_LEN, NULL, &fence_ref);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_NODE_GET, name, 0, NULL, 0);
	if (r < 0)
		return r;
	r = sdb__stmt(db, r ? SDB_Q_NODE_UPDATE_INFO : SDB_Q_NODE_INSERT, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, name);
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

static int apply_node_state(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *name, *state, *expect;
	char cur[32];
	int r;

	r = STR_REQ(db, c->msg, "name", NAME_MAX_LEN, NULL, &name);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "state", 32, node_states, &state);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "expect_state", 32, node_states, &expect);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_NODE_GET, name, 4, cur, sizeof(cur));
	if (r <= 0)
		return r ?: sdb__fail(db, -ENOENT, "no node '%s'", name);
	if (expect && strcmp(cur, expect) != 0)
		return sdb__fail(db, -ESTALE, "node '%s' is %s, not %s", name, cur, expect);
	r = sdb__stmt(db, SDB_Q_NODE_SET_STATE, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, name);
	sdb__bind_text(s, 2, state);
	sqlite3_bind_int64(s, 3, (int64_t)c->time);
	return sdb__exec(db, s, "cannot write node");
}

static int apply_node_admin(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *name, *admin, *expect;
	char cur[32];
	int r;

	r = STR_REQ(db, c->msg, "name", NAME_MAX_LEN, NULL, &name);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "admin_state", 32, admin_states, &admin);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "expect_admin_state", 32, admin_states, &expect);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_NODE_GET, name, 6, cur, sizeof(cur));
	if (r <= 0)
		return r ?: sdb__fail(db, -ENOENT, "no node '%s'", name);
	if (expect && strcmp(cur, expect) != 0)
		return sdb__fail(db, -ESTALE, "node '%s' is in admin state %s, not %s", name, cur,
				 expect);
	r = sdb__stmt(db, SDB_Q_NODE_SET_ADMIN, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, name);
	sdb__bind_text(s, 2, admin);
	return sdb__exec(db, s, "cannot write node");
}

static int apply_node_delete(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *name;
	int r;

	r = STR_REQ(db, c->msg, "name", NAME_MAX_LEN, NULL, &name);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = node_must_exist(db, name);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_PAIRS_BY_NODE, name, 0, NULL, 0);
	if (r != 0)
		return r < 0 ? r : sdb__fail(db, -ENOTEMPTY, "node '%s' still has pairs", name);
	r = sdb__stmt(db, SDB_Q_NODE_DELETE, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, name);
	return sdb__exec(db, s, "cannot delete node");
}

static int apply_pair_create(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *vm, *uuid, *primary, *backup, *mode, *state, *desired, *reason, *xml, *sizes;
	const char *ev_node, *ev_message;
	json_object *disks;
	uint64_t bandwidth, port;
	int r;

	r = STR_REQ(db, c->msg, "vm", NAME_MAX_LEN, NULL, &vm);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "uuid", 64, NULL, &uuid);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "primary", NAME_MAX_LEN, NULL, &primary);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "backup", NAME_MAX_LEN, NULL, &backup);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "mode", 16, modes, &mode);
	if (r >= 0)
		r = field_u64(db, c->msg, "bandwidth_mib", false, INT64_MAX, &bandwidth, NULL);
	if (r >= 0)
		r = field_pair_state(db, c->msg, "state", &state, NULL);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "desired_state", 32, desired_states, &desired);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "reason", TEXT_MAX_LEN, NULL, &reason);
	if (r >= 0)
		r = field_disks(db, c->msg, &disks);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "domain_xml", DOMAIN_XML_MAX_LEN, NULL, &xml);
	if (r >= 0)
		r = field_disk_sizes(db, c->msg, &sizes);
	if (r >= 0)
		r = field_u64(db, c->msg, "nbd_port", false, 65535, &port, NULL);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "event_node", NAME_MAX_LEN, NULL, &ev_node);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "event", TEXT_MAX_LEN, NULL, &ev_message);
	if (r >= 0 && backup && strcmp(primary, backup) == 0)
		r = sdb__fail(db, -EINVAL, "primary and backup are both '%s'", primary);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_PAIR_GET, vm, 0, NULL, 0);
	if (r != 0)
		return r < 0 ? r : sdb__fail(db, -EEXIST, "pair '%s' exists", vm);
	r = node_must_exist(db, primary);
	if (r >= 0 && backup)
		r = node_must_exist(db, backup);
	if (r < 0)
		return r;
	r = sdb__stmt(db, SDB_Q_PAIR_INSERT, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, vm);
	sdb__bind_text(s, 2, uuid);
	sdb__bind_text(s, 3, primary);
	sdb__bind_text(s, 4, backup);
	sdb__bind_text(s, 5, mode ?: "sync");
	sqlite3_bind_int64(s, 6, (int64_t)bandwidth);
	sdb__bind_text(s, 7, state ?: "creating");
	sdb__bind_text(s, 8, desired ?: "protected");
	sdb__bind_text(s, 9, reason);
	sqlite3_bind_int64(s, 10, (int64_t)c->time);
	sdb__bind_text(s, 11, xml);
	sdb__bind_text(s, 12, sizes);
	sqlite3_bind_int64(s, 13, (int64_t)port);
	r = sdb__exec(db, s, "cannot create pair");
	if (r >= 0 && disks)
		r = disks_replace(db, vm, disks);
	if (r >= 0 && ev_message)
		r = event_insert(db, c, ev_node, vm, "pair", ev_message, NULL, NULL);
	return r;
}

/*
 * The one rule of the replicated apply for pair states: the change from the
 * state the pair is in (read here, in the transaction, not the proposer's
 * view) to NEXT must be the row (current, EVENT) of the pair state machine.
 * Every host reads the same current state, so every host refuses alike.
 */
static int check_edge(struct sdb *db, const char *vm, const char *current,
		      enum hs_pair_state next, enum hs_pair_event event)
{
	const struct hs_pair_transition *row;
	enum hs_pair_state cur;

	if (hs_pair_state_from_name(current, &cur) < 0)
		return sdb__fail(db, -EPERM, "pair '%s' is in unknown state '%s'", vm, current);
	row = hs_pair_fsm_lookup(cur, event);
	if (!row || row->next != next)
		return sdb__fail(db, -EPERM,
				 "pair '%s': %s -> %s (%s) is not an edge of the pair state machine",
				 vm, current, hs_pair_state_name(next), hs_pair_event_name(event));
	return 0;
}

static int apply_pair_update(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *vm, *expect, *state, *desired, *admin, *reason, *primary, *backup, *mode;
	const char *ev_node = NULL, *ev_message = NULL, *pair_event = NULL;
	enum hs_pair_state next = HS_PAIR_STATE_MAX;
	enum hs_pair_event event = HS_EV_MAX;
	uint64_t expect_gen, bandwidth, gen, port;
	bool has_gen, has_bw, has_port, clear_backup;
	char from[32];
	int r, rc;

	r = STR_REQ(db, c->msg, "vm", NAME_MAX_LEN, NULL, &vm);
	if (r >= 0)
		r = field_pair_state(db, c->msg, "expect_state", &expect, NULL);
	if (r >= 0)
		r = field_u64(db, c->msg, "expect_generation", false, INT64_MAX, &expect_gen,
			      &has_gen);
	if (r >= 0)
		r = field_pair_state(db, c->msg, "state", &state, &next);
	if (r >= 0)
		r = field_pair_event(db, c->msg, state, &pair_event, &event);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "desired_state", 32, desired_states, &desired);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "admin_state", 32, admin_states, &admin);
	if (r >= 0)
		r = field_str(db, c->msg, "reason", false, true, TEXT_MAX_LEN, NULL, &reason);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "primary", NAME_MAX_LEN, NULL, &primary);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "backup", NAME_MAX_LEN, NULL, &backup);
	if (r >= 0)
		r = field_bool(db, c->msg, "clear_backup", &clear_backup);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "mode", 16, modes, &mode);
	if (r >= 0)
		r = field_u64(db, c->msg, "bandwidth_mib", false, INT64_MAX, &bandwidth, &has_bw);
	if (r >= 0)
		r = field_u64(db, c->msg, "nbd_port", false, 65535, &port, &has_port);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "event_node", NAME_MAX_LEN, NULL, &ev_node);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "event", TEXT_MAX_LEN, NULL, &ev_message);
	if (r >= 0 && clear_backup && backup)
		r = sdb__fail(db, -EINVAL, "both 'backup' and 'clear_backup'");
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = sdb__stmt(db, SDB_Q_PAIR_GET, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, vm);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return sdb__fail(db, -ENOENT, "no pair '%s'", vm);
	if (rc != SQLITE_ROW)
		return sdb__fail_sqlite(db, rc, "cannot read pair");
	if (expect && strcmp((const char *)sqlite3_column_text(s, 6), expect) != 0)
		return sdb__fail(db, -ESTALE, "pair '%s' is %s, not %s", vm,
				 (const char *)sqlite3_column_text(s, 6), expect);
	gen = (uint64_t)sqlite3_column_int64(s, 12);
	if (has_gen && gen != expect_gen)
		return sdb__fail(db, -ESTALE, "pair '%s' is at generation %llu, not %llu", vm,
				 (unsigned long long)gen, (unsigned long long)expect_gen);
	snprintf(from, sizeof(from), "%s", (const char *)sqlite3_column_text(s, 6));
	if (state && (r = check_edge(db, vm, from, next, event)) < 0)
		return r;
	if (primary && (r = node_must_exist(db, primary)) < 0)
		return r;
	if (backup && (r = node_must_exist(db, backup)) < 0)
		return r;

	r = sdb__stmt(db, SDB_Q_PAIR_UPDATE, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, vm);
	sdb__bind_text(s, 2, state);
	sdb__bind_text(s, 3, desired);
	sdb__bind_text(s, 4, admin);
	sdb__bind_text(s, 5, reason);
	sdb__bind_text(s, 6, primary);
	sqlite3_bind_int(s, 7, clear_backup);
	sdb__bind_text(s, 8, backup);
	sdb__bind_text(s, 9, mode);
	if (has_bw)
		sqlite3_bind_int64(s, 10, (int64_t)bandwidth);
	sqlite3_bind_int64(s, 11, (int64_t)c->time);
	if (has_port)
		sqlite3_bind_int64(s, 12, (int64_t)port);
	r = sdb__exec(db, s, "cannot update pair");
	if (r == -EINVAL)
		return sdb__fail(db, r, "pair '%s' would have the same primary and backup", vm);
	/* The transition and its event are one change: no event for a refused one. */
	if (r >= 0 && ev_message)
		r = event_insert(db, c, ev_node, vm, "pair", ev_message, NULL,
				 state ? &(struct transition){from, state, pair_event} : NULL);
	return r;
}

static int apply_pair_progress(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	uint64_t done, total;
	json_object *disks;
	const char *vm;
	int r;

	r = STR_REQ(db, c->msg, "vm", NAME_MAX_LEN, NULL, &vm);
	if (r >= 0)
		r = field_u64(db, c->msg, "bytes_done", true, INT64_MAX, &done, NULL);
	if (r >= 0)
		r = field_u64(db, c->msg, "bytes_total", true, INT64_MAX, &total, NULL);
	if (r >= 0)
		r = field_disks(db, c->msg, &disks);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_PAIR_GET, vm, 0, NULL, 0);
	if (r <= 0)
		return r ?: sdb__fail(db, -ENOENT, "no pair '%s'", vm);
	r = sdb__stmt(db, SDB_Q_PAIR_PROGRESS, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, vm);
	sqlite3_bind_int64(s, 2, (int64_t)done);
	sqlite3_bind_int64(s, 3, (int64_t)total);
	r = sdb__exec(db, s, "cannot update pair");
	if (r >= 0 && disks)
		r = disks_replace(db, vm, disks);
	return r;
}

static int apply_pair_delete(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *vm, *expect;
	char cur[32];
	int r;

	r = STR_REQ(db, c->msg, "vm", NAME_MAX_LEN, NULL, &vm);
	if (r >= 0)
		r = field_pair_state(db, c->msg, "expect_state", &expect, NULL);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_PAIR_GET, vm, 6, cur, sizeof(cur));
	if (r <= 0)
		return r ?: sdb__fail(db, -ENOENT, "no pair '%s'", vm);
	if (expect && strcmp(cur, expect) != 0)
		return sdb__fail(db, -ESTALE, "pair '%s' is %s, not %s", vm, cur, expect);
	r = sdb__stmt(db, SDB_Q_PAIR_DELETE, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, vm);
	return sdb__exec(db, s, "cannot delete pair");
}

/* Takes the next id from the cluster row counter of Q and prunes rows older than KEEP. */
static int next_id(struct sdb *db, enum sdb__q counter, enum sdb__q prune, int64_t keep,
		   int64_t *ret)
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

/* Appends one event row, inside the caller's transaction; T may be NULL. */
static int event_insert(struct sdb *db, const struct apply_ctx *c, const char *node, const char *vm,
			const char *kind, const char *message, const char *detail_text,
			const struct transition *t)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int64_t id;
	int r;

	r = next_id(db, SDB_Q_CLUSTER_EVENT_ID, SDB_Q_EVENTS_PRUNE, SDB_EVENTS_KEEP, &id);
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

static int apply_event(struct sdb *db, const struct apply_ctx *c)
{
	const char *node, *vm, *kind, *message, *detail_text = NULL;
	json_object *detail;
	int r;

	r = STR_OPT(db, c->msg, "node", NAME_MAX_LEN, NULL, &node);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "vm", NAME_MAX_LEN, NULL, &vm);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "kind", 64, NULL, &kind);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "message", TEXT_MAX_LEN, NULL, &message);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(c->msg, "detail", &detail) && detail) {
		if (!json_object_is_type(detail, json_type_object))
			return sdb__fail(db, -EINVAL, "field 'detail' is not an object");
		detail_text = json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN);
		if (!detail_text)
			return -ENOMEM;
		if (strlen(detail_text) > 16 * TEXT_MAX_LEN)
			return sdb__fail(db, -EINVAL, "field 'detail' too long");
	}

	r = sdb__begin(db);
	if (r < 0)
		return r;
	return event_insert(db, c, node, vm, kind, message, detail_text, NULL);
}

static int apply_fence_start(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *ref, *target, *device, *agent, *action;
	uint64_t level, started;
	bool has_started;
	int64_t id;
	int r;

	r = STR_REQ(db, c->msg, "ref", NAME_MAX_LEN, NULL, &ref);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "target", NAME_MAX_LEN, NULL, &target);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "device", NAME_MAX_LEN, NULL, &device);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "agent", NAME_MAX_LEN, NULL, &agent);
	if (r >= 0)
		r = field_u64(db, c->msg, "level", false, 1000, &level, NULL);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "action", 16, fence_actions, &action);
	if (r >= 0)
		r = field_u64(db, c->msg, "started_usec", false, INT64_MAX, &started, &has_started);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_FENCE_GET, ref, 0, NULL, 0);
	if (r != 0)
		return r < 0 ? r : sdb__fail(db, -EEXIST, "fence record '%s' exists", ref);
	r = next_id(db, SDB_Q_CLUSTER_FENCE_ID, SDB_Q_FENCE_PRUNE, SDB_FENCE_LOG_KEEP, &id);
	if (r < 0)
		return r;
	r = sdb__stmt(db, SDB_Q_FENCE_INSERT, &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	sdb__bind_text(s, 2, ref);
	sdb__bind_text(s, 3, target);
	sdb__bind_text(s, 4, device);
	sdb__bind_text(s, 5, agent);
	sqlite3_bind_int64(s, 6, (int64_t)level);
	sdb__bind_text(s, 7, action);
	sqlite3_bind_int64(s, 8, (int64_t)(has_started ? started : c->time));
	return sdb__exec(db, s, "cannot write fence log");
}

static int apply_fence_finish(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *ref, *result, *message;
	char cur[32];
	int r;

	r = STR_REQ(db, c->msg, "ref", NAME_MAX_LEN, NULL, &ref);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "result", 16, fence_results, &result);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "message", TEXT_MAX_LEN, NULL, &message);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_FENCE_GET, ref, 0, cur, sizeof(cur));
	if (r <= 0)
		return r ?: sdb__fail(db, -ENOENT, "no fence record '%s'", ref);
	if (strcmp(cur, "running") != 0)
		return sdb__fail(db, -ESTALE, "fence record '%s' already finished (%s)", ref, cur);
	r = sdb__stmt(db, SDB_Q_FENCE_FINISH, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, ref);
	sdb__bind_text(s, 2, result);
	sdb__bind_text(s, 3, message);
	sqlite3_bind_int64(s, 4, (int64_t)c->time);
	return sdb__exec(db, s, "cannot write fence log");
}

static int apply_op_begin(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *vm, *op, *node, *ref;
	char cur[80];
	int r;

	r = STR_REQ(db, c->msg, "vm", NAME_MAX_LEN, NULL, &vm);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "op", 64, NULL, &op);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "node", NAME_MAX_LEN, NULL, &node);
	if (r >= 0)
		r = STR_REQ(db, c->msg, "ref", NAME_MAX_LEN, NULL, &ref);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_OP_GET, vm, 1, cur, sizeof(cur));
	if (r != 0)
		return r < 0 ? r : sdb__fail(db, -EALREADY, "'%s' is busy with %s", vm, cur);
	r = sdb__stmt(db, SDB_Q_OP_INSERT, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, vm);
	sdb__bind_text(s, 2, op);
	sdb__bind_text(s, 3, node);
	sdb__bind_text(s, 4, ref);
	sqlite3_bind_int64(s, 5, (int64_t)c->time);
	return sdb__exec(db, s, "cannot begin operation");
}

static int apply_op_end(struct sdb *db, const struct apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *vm, *ref;
	char cur[NAME_MAX_LEN + 1];
	int r;

	r = STR_REQ(db, c->msg, "vm", NAME_MAX_LEN, NULL, &vm);
	if (r >= 0)
		r = STR_OPT(db, c->msg, "ref", NAME_MAX_LEN, NULL, &ref);
	if (r < 0)
		return r;

	r = sdb__begin(db);
	if (r < 0)
		return r;
	r = row_exists(db, SDB_Q_OP_GET, vm, 3, cur, sizeof(cur));
	if (r <= 0)
		return r ?: sdb__fail(db, -ENOENT, "no operation runs on '%s'", vm);
	if (ref && strcmp(cur, ref) != 0)
		return sdb__fail(db, -ESTALE, "the operation on '%s' is '%s', not '%s'", vm, cur,
				 ref);
	r = sdb__stmt(db, SDB_Q_OP_DELETE, &s);
	if (r < 0)
		return r;
	sdb__bind_text(s, 1, vm);
	return sdb__exec(db, s, "cannot end operation");
}

static const struct {
	const char *type;
	int (*apply)(struct sdb *db, const struct apply_ctx *c);
} handlers[] = {
	{"node_upsert", apply_node_upsert}, {"node_state", apply_node_state},
	{"node_admin", apply_node_admin},   {"node_delete", apply_node_delete},
	{"pair_create", apply_pair_create},
	{"pair_update", apply_pair_update}, {"pair_progress", apply_pair_progress},
	{"pair_delete", apply_pair_delete}, {"event", apply_event},
	{"fence_start", apply_fence_start}, {"fence_finish", apply_fence_finish},
	{"op_begin", apply_op_begin},	{"op_end", apply_op_end},
};

/* ---- applying ------------------------------------------------------------------------- */

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
	struct apply_ctx c = {.msg = msg, .sender = sender_nodeid};
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
	r = field_u64(db, msg, "time", true, INT64_MAX, &c.time, NULL);
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

/* ---- builders ------------------------------------------------------------------------- */

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static json_object *msg_new(const char *type)
{
	json_object *m = json_object_new_object();

	if (!m)
		return NULL;
	json_object_object_add(m, "v", json_object_new_int(SDB_MSG_PROTOCOL));
	json_object_object_add(m, "type", json_object_new_string(type));
	json_object_object_add(m, "time", json_object_new_int64((int64_t)now_usec()));
	return m;
}

static void add_str(json_object *m, const char *key, const char *v)
{
	if (v)
		json_object_object_add(m, key, json_object_new_string(v));
}

static void add_u64(json_object *m, const char *key, uint64_t v)
{
	json_object_object_add(m, key,
			       json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

static int add_disks(json_object *m, const struct sdb_disk_spec *disks, size_t n)
{
	json_object *a = json_object_new_array();

	if (!a)
		return -ENOMEM;
	json_object_object_add(m, "disks", a);
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_new_object();

		if (!d || !disks[i].target) {
			json_object_put(d);
			return -EINVAL;
		}
		json_object_array_add(a, d);
		add_str(d, "target", disks[i].target);
		add_u64(d, "bytes_done", disks[i].bytes_done);
		add_u64(d, "bytes_total", disks[i].bytes_total);
		json_object_object_add(d, "ready", json_object_new_boolean(disks[i].ready));
	}
	return 0;
}

/* Serializes and frees M. */
static int msg_finish(json_object *m, char **ret_buf, size_t *ret_len)
{
	_cleanup_json_ json_object *owned = m;
	const char *text;
	size_t len;
	char *buf;

	if (!m)
		return -ENOMEM;
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

int sdb_msg_node_upsert(const struct sdb_node_info *node, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!node || !node->name || node->nodeid == 0)
		return -EINVAL;
	m = msg_new("node_upsert");
	if (m) {
		add_str(m, "name", node->name);
		add_u64(m, "nodeid", node->nodeid);
		add_str(m, "address", node->address);
		add_str(m, "fence_ref", node->fence_ref);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_node_state(const char *name, const char *state, const char *expect_state,
		       char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!name || !state)
		return -EINVAL;
	m = msg_new("node_state");
	if (m) {
		add_str(m, "name", name);
		add_str(m, "state", state);
		add_str(m, "expect_state", expect_state);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_node_admin(const char *name, const char *admin_state, const char *expect_admin_state,
		       char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!name || !admin_state)
		return -EINVAL;
	m = msg_new("node_admin");
	if (m) {
		add_str(m, "name", name);
		add_str(m, "admin_state", admin_state);
		add_str(m, "expect_admin_state", expect_admin_state);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_node_delete(const char *name, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!name)
		return -EINVAL;
	m = msg_new("node_delete");
	if (m)
		add_str(m, "name", name);
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_create(const struct sdb_pair_spec *spec, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!spec || !spec->vm || !spec->primary)
		return -EINVAL;
	m = msg_new("pair_create");
	if (m) {
		add_str(m, "vm", spec->vm);
		add_str(m, "uuid", spec->uuid);
		add_str(m, "primary", spec->primary);
		add_str(m, "backup", spec->backup);
		add_str(m, "mode", spec->mode);
		add_u64(m, "bandwidth_mib", spec->bandwidth_mib);
		add_str(m, "state", spec->state);
		add_str(m, "desired_state", spec->desired_state);
		add_str(m, "reason", spec->reason);
		add_str(m, "domain_xml", spec->domain_xml);
		if (spec->nbd_port)
			add_u64(m, "nbd_port", spec->nbd_port);
		add_str(m, "event_node", spec->event_node);
		add_str(m, "event", spec->event);
		if (spec->n_disk_sizes > 0) {
			json_object *a = json_object_new_array();
			for (size_t i = 0; a && i < spec->n_disk_sizes; i++)
				json_object_array_add(a, json_object_new_int64((int64_t)spec->disk_sizes[i]));
			json_object_object_add(m, "disk_sizes", a);
		}
		if (spec->n_disks > 0 && add_disks(m, spec->disks, spec->n_disks) < 0) {
			json_object_put(m);
			return -EINVAL;
		}
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_update(const struct sdb_pair_change *change, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!change || !change->vm)
		return -EINVAL;
	m = msg_new("pair_update");
	if (m) {
		add_str(m, "vm", change->vm);
		add_str(m, "expect_state", change->expect_state);
		if (change->expect_generation)
			add_u64(m, "expect_generation", change->expect_generation);
		add_str(m, "state", change->state);
		add_str(m, "pair_event", change->pair_event);
		add_str(m, "desired_state", change->desired_state);
		add_str(m, "admin_state", change->admin_state);
		add_str(m, "reason", change->reason);
		add_str(m, "primary", change->primary);
		add_str(m, "backup", change->backup);
		if (change->clear_backup)
			json_object_object_add(m, "clear_backup", json_object_new_boolean(1));
		add_str(m, "mode", change->mode);
		if (change->set_bandwidth)
			add_u64(m, "bandwidth_mib", change->bandwidth_mib);
		if (change->nbd_port)
			add_u64(m, "nbd_port", change->nbd_port);
		add_str(m, "event_node", change->event_node);
		add_str(m, "event", change->event);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_progress(const char *vm, uint64_t bytes_done, uint64_t bytes_total,
			  const struct sdb_disk_spec *disks, size_t n_disks, char **ret_buf,
			  size_t *ret_len)
{
	json_object *m;

	if (!vm)
		return -EINVAL;
	m = msg_new("pair_progress");
	if (m) {
		add_str(m, "vm", vm);
		add_u64(m, "bytes_done", bytes_done);
		add_u64(m, "bytes_total", bytes_total);
		if (n_disks > 0 && add_disks(m, disks, n_disks) < 0) {
			json_object_put(m);
			return -EINVAL;
		}
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_delete(const char *vm, const char *expect_state, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!vm)
		return -EINVAL;
	m = msg_new("pair_delete");
	if (m) {
		add_str(m, "vm", vm);
		add_str(m, "expect_state", expect_state);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_event(const char *node, const char *vm, const char *kind, const char *message,
		  json_object *detail, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!kind || !message)
		return -EINVAL;
	m = msg_new("event");
	if (m) {
		add_str(m, "node", node);
		add_str(m, "vm", vm);
		add_str(m, "kind", kind);
		add_str(m, "message", message);
		if (detail)
			json_object_object_add(m, "detail", json_object_get(detail));
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_fence_start(const struct sdb_fence_start *start, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!start || !start->ref || !start->target || !start->agent || !start->action)
		return -EINVAL;
	m = msg_new("fence_start");
	if (m) {
		add_str(m, "ref", start->ref);
		add_str(m, "target", start->target);
		add_str(m, "device", start->device);
		add_str(m, "agent", start->agent);
		add_u64(m, "level", start->level);
		add_str(m, "action", start->action);
		if (start->started_usec)
			add_u64(m, "started_usec", start->started_usec);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_fence_finish(const char *ref, const char *result, const char *message, char **ret_buf,
			 size_t *ret_len)
{
	json_object *m;

	if (!ref || !result)
		return -EINVAL;
	m = msg_new("fence_finish");
	if (m) {
		add_str(m, "ref", ref);
		add_str(m, "result", result);
		add_str(m, "message", message);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_op_begin(const char *vm, const char *op, const char *node, const char *ref,
		     char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!vm || !op || !node || !ref)
		return -EINVAL;
	m = msg_new("op_begin");
	if (m) {
		add_str(m, "vm", vm);
		add_str(m, "op", op);
		add_str(m, "node", node);
		add_str(m, "ref", ref);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_op_end(const char *vm, const char *ref, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!vm)
		return -EINVAL;
	m = msg_new("op_end");
	if (m) {
		add_str(m, "vm", vm);
		add_str(m, "ref", ref);
	}
	return msg_finish(m, ret_buf, ret_len);
}
