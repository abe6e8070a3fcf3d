// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_apply_pair: applying the changes of a pair (pair_create, pair_update,
 * pair_progress, pair_set, pair_verify, pair_delete) and of its disks.
 *
 * The pair's state moves only along the edges of the pair state machine
 * (hasvc/model/hs_pair_fsm.h, the table the proposers use too): a
 * pair_update that sets "state" names the event that moves it there
 * ("pair_event"), and the apply checks (state in the database, event) ->
 * state against the table, refusing anything else with -EPERM on every host
 * alike. Compare-and-set on the state and the generation comes first, so a
 * stale proposal is told apart (-ESTALE) from a forged or buggy one (-EPERM).
 * An event logged with the change records the transition as data
 * (events.pair_from, pair_to, pair_event).
 */
#include <string.h>

#include <json-c/json.h>

#include "sdb_apply.h"
#include "sdb_msg.h"

/* Runs Q, a statement on the disks of VM alone. */
static int disks_exec(struct sdb *db, enum sdb__q q, const char *vm)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt_key(db, q, vm, &s);
	if (r < 0)
		return r;
	return sdb__exec(db, s, "cannot update disks");
}

/* Replaces the disks of VM with DISKS (checked by sdb__field_disks). */
static int disks_replace(struct sdb *db, const char *vm, json_object *disks)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = disks_exec(db, SDB_Q_DISKS_DELETE, vm);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i), *v;

		r = sdb__stmt_key(db, SDB_Q_DISK_INSERT, vm, &s);
		if (r < 0)
			return r;
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

int sdb__apply_pair_create(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_PAIR_GET, .what = "pair", .want = SDB_ROW_ABSENT};
	const char *uuid, *primary, *backup, *mode, *state, *desired, *reason, *xml, *sizes;
	const char *ev_node, *ev_message;
	json_object *disks;
	uint64_t bandwidth, port;
	const struct sdb__field fields[] = {
	    SDB_STR("vm", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_STR_OPT("uuid", 64, NULL, &uuid),
	    SDB_STR("primary", SDB_NAME_MAX_LEN, NULL, &primary),
	    SDB_STR_OPT("backup", SDB_NAME_MAX_LEN, NULL, &backup),
	    SDB_STR_OPT("mode", 16, sdb__modes, &mode),
	    SDB_U64_OPT("bandwidth_mib", INT64_MAX, &bandwidth, NULL),
	    {"state", SDB_F_PAIR_STATE, false, 0, NULL, &state, NULL},
	    SDB_STR_OPT("desired_state", 32, sdb__desired_states, &desired),
	    SDB_STR_OPT("reason", SDB_TEXT_MAX_LEN, NULL, &reason),
	    SDB_STR_OPT("domain_xml", SDB_DOMAIN_XML_MAX_LEN, NULL, &xml),
	    SDB_U64_OPT("nbd_port", 65535, &port, NULL),
	    SDB_STR_OPT("event_node", SDB_NAME_MAX_LEN, NULL, &ev_node),
	    SDB_STR_OPT("event", SDB_TEXT_MAX_LEN, NULL, &ev_message),
	};
	int r;

	r = sdb__fields_read(db, c->msg, fields, ARRAY_SIZE(fields));
	if (r >= 0)
		r = sdb__field_disks(db, c->msg, &disks);
	if (r >= 0)
		r = sdb__field_disk_sizes(db, c->msg, &sizes);
	if (r >= 0 && backup && strcmp(primary, backup) == 0)
		r = sdb__fail(db, -EINVAL, "primary and backup are both '%s'", primary);
	if (r >= 0)
		r = sdb__apply_begin(db, &row);
	if (r >= 0)
		r = sdb__node_must_exist(db, primary);
	if (r >= 0 && backup)
		r = sdb__node_must_exist(db, backup);
	if (r < 0)
		return r;

	r = sdb__stmt_key(db, SDB_Q_PAIR_INSERT, row.key, &s);
	if (r < 0)
		return r;
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
		r = disks_replace(db, row.key, disks);
	if (r >= 0 && ev_message)
		r = sdb__event_insert(db, c, ev_node, row.key, "pair", ev_message, NULL, NULL);
	return r;
}

/*
 * The one rule of the replicated apply for pair states: the change from the
 * state the pair is in (read here, in the transaction, not the proposer's
 * view) to NEXT must be the row (current, EVENT) of the pair state machine.
 * Every host reads the same current state, so every host refuses alike.
 */
static int check_edge(struct sdb *db, const char *vm, const char *current, enum hs_pair_state next,
		      enum hs_pair_event event)
{
	const struct hs_pair_transition *row;
	enum hs_pair_state cur;

	if (hs_pair_state_from_name(current, &cur) < 0)
		return sdb__fail(db, -EPERM, "pair '%s' is in unknown state '%s'", vm, current);
	row = hs_pair_fsm_lookup(cur, event);
	if (!row || row->next != next)
		return sdb__fail(
		    db, -EPERM, "pair '%s': %s -> %s (%s) is not an edge of the pair state machine",
		    vm, current, hs_pair_state_name(next), hs_pair_event_name(event));
	return 0;
}

int sdb__apply_pair_update(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_PAIR_GET, .what = "pair", .col = 6, .gen_col = 12};
	const char *vm, *state, *desired, *admin, *reason, *primary, *backup, *mode;
	const char *ev_node = NULL, *ev_message = NULL, *pair_event = NULL;
	const char *disk_id = NULL, *disk_reason = NULL;
	enum hs_pair_state next = HS_PAIR_STATE_MAX;
	enum hs_pair_event event = HS_EV_MAX;
	uint64_t bandwidth, port;
	bool has_bw, has_port, clear_backup;
	const struct sdb__field fields[] = {
	    SDB_STR("vm", SDB_NAME_MAX_LEN, NULL, &vm),
	    {"expect_state", SDB_F_PAIR_STATE, false, 0, NULL, &row.expect, NULL},
	    SDB_U64_OPT("expect_generation", INT64_MAX, &row.expect_gen, &row.has_gen),
	    SDB_STR_OPT("desired_state", 32, sdb__desired_states, &desired),
	    SDB_STR_OPT("admin_state", 32, sdb__admin_states, &admin),
	    {"reason", SDB_F_STR0, false, SDB_TEXT_MAX_LEN, NULL, &reason, NULL},
	    SDB_STR_OPT("primary", SDB_NAME_MAX_LEN, NULL, &primary),
	    SDB_STR_OPT("backup", SDB_NAME_MAX_LEN, NULL, &backup),
	    {"clear_backup", SDB_F_BOOL, false, 0, NULL, &clear_backup, NULL},
	    SDB_STR_OPT("mode", 16, sdb__modes, &mode),
	    SDB_U64_OPT("bandwidth_mib", INT64_MAX, &bandwidth, &has_bw),
	    SDB_U64_OPT("nbd_port", 65535, &port, &has_port),
	    SDB_STR_OPT("backup_disk_id", SDB_NAME_MAX_LEN, NULL, &disk_id),
	    {"backup_disk_reason", SDB_F_STR0, false, SDB_TEXT_MAX_LEN, NULL, &disk_reason, NULL},
	    SDB_STR_OPT("event_node", SDB_NAME_MAX_LEN, NULL, &ev_node),
	    SDB_STR_OPT("event", SDB_TEXT_MAX_LEN, NULL, &ev_message),
	};
	int r;

	r = sdb__fields_read(db, c->msg, fields, ARRAY_SIZE(fields));
	if (r >= 0)
		r = sdb__field_pair_state(db, c->msg, "state", &state, &next);
	if (r >= 0)
		r = sdb__field_pair_event(db, c->msg, state, &pair_event, &event);
	if (r >= 0 && clear_backup && backup)
		r = sdb__fail(db, -EINVAL, "both 'backup' and 'clear_backup'");
	if (r >= 0 && (disk_id == NULL) != (disk_reason == NULL))
		r = sdb__fail(db, -EINVAL, "'backup_disk_id' and 'backup_disk_reason' come together");
	row.key = vm;
	if (r >= 0)
		r = sdb__apply_begin(db, &row);
	/* row.cur: the state the pair is in, where the transition starts */
	if (r >= 0 && state)
		r = check_edge(db, vm, row.cur, next, event);
	if (r >= 0 && primary)
		r = sdb__node_must_exist(db, primary);
	if (r >= 0 && backup)
		r = sdb__node_must_exist(db, backup);
	if (r < 0)
		return r;

	r = sdb__stmt_key(db, SDB_Q_PAIR_UPDATE, vm, &s);
	if (r < 0)
		return r;
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
	sdb__bind_text(s, 13, disk_id);
	sdb__bind_text(s, 14, disk_reason);
	r = sdb__exec(db, s, "cannot update pair");
	if (r == -EINVAL)
		return sdb__fail(db, r, "pair '%s' would have the same primary and backup", vm);
	/* a new initial sync: its disks start from nothing copied, as the pair (the SQL) */
	if (r >= 0 && state && strcmp(state, "initial-sync") == 0 && strcmp(row.cur, state) != 0)
		r = disks_exec(db, SDB_Q_DISKS_RESTART, vm);
	/* The transition and its event are one change: no event for a refused one. */
	if (r >= 0 && ev_message)
		r = sdb__event_insert(db, c, ev_node, vm, "pair", ev_message, NULL,
				      state ? &(struct sdb__transition){row.cur, state, pair_event}
					    : NULL);
	return r;
}

int sdb__apply_pair_progress(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_PAIR_GET, .what = "pair"};
	const char *kind = NULL, *why = NULL;
	uint64_t done, total;
	json_object *disks;
	const struct sdb__field fields[] = {
	    SDB_STR("vm", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_U64("bytes_done", INT64_MAX, &done),
	    SDB_U64("bytes_total", INT64_MAX, &total),
	    SDB_STR_OPT("copy_kind", 16, sdb__copy_kinds, &kind),
	    SDB_STR_OPT("copy_reason", SDB_TEXT_MAX_LEN, NULL, &why),
	};
	int r;

	r = sdb__field_disks(db, c->msg, &disks);
	if (r >= 0)
		r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r < 0)
		return r;

	r = sdb__stmt_key(db, SDB_Q_PAIR_PROGRESS, row.key, &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 2, (int64_t)done);
	sqlite3_bind_int64(s, 3, (int64_t)total);
	sdb__bind_text(s, 4, kind);
	sdb__bind_text(s, 5, kind ? why : NULL);
	r = sdb__exec(db, s, "cannot update pair");
	if (r >= 0 && disks)
		r = disks_replace(db, row.key, disks);
	return r;
}

/*
 * pair_set: a setting of a running pair, no transition. The generation and
 * changed_usec stay, so what the pair's hosts do for this generation (an
 * initial sync under way) is not started again, and no compare-and-set of
 * another proposal is made stale by it.
 */
int sdb__apply_pair_set(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_PAIR_GET, .what = "pair"};
	const char *ev_node = NULL, *ev_message = NULL;
	uint64_t bandwidth;
	const struct sdb__field fields[] = {
	    SDB_STR("vm", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_U64("bandwidth_mib", SDB_BANDWIDTH_MAX_MIB, &bandwidth),
	    SDB_STR_OPT("event_node", SDB_NAME_MAX_LEN, NULL, &ev_node),
	    SDB_STR_OPT("event", SDB_TEXT_MAX_LEN, NULL, &ev_message),
	};
	int r;

	r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r < 0)
		return r;
	r = sdb__stmt_key(db, SDB_Q_PAIR_SET_BANDWIDTH, row.key, &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 2, (int64_t)bandwidth);
	r = sdb__exec(db, s, "cannot update pair");
	if (r >= 0 && ev_message)
		r = sdb__event_insert(db, c, ev_node, row.key, "pair", ev_message, NULL, NULL);
	return r;
}

/*
 * pair_verify: the last online verify's outcome, as its primary reported it
 * (a JSON object, kept as text and shown parsed). No transition, as pair_set.
 */
int sdb__apply_pair_verify(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_PAIR_GET, .what = "pair"};
	const char *ev_node = NULL, *ev_message = NULL, *result = NULL;
	const struct sdb__field fields[] = {
	    SDB_STR("vm", SDB_NAME_MAX_LEN, NULL, &row.key),
	    SDB_STR("result", SDB_VERIFY_MAX_LEN, NULL, &result),
	    SDB_STR_OPT("event_node", SDB_NAME_MAX_LEN, NULL, &ev_node),
	    SDB_STR_OPT("event", SDB_TEXT_MAX_LEN, NULL, &ev_message),
	};
	json_object *parsed;
	bool is_object;
	int r;

	r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r < 0)
		return r;
	parsed = json_tokener_parse(result);
	is_object = parsed && json_object_is_type(parsed, json_type_object);
	json_object_put(parsed);
	if (!is_object)
		return sdb__fail(db, -EINVAL, "'result' must be a JSON object");
	r = sdb__stmt_key(db, SDB_Q_PAIR_SET_VERIFY, row.key, &s);
	if (r < 0)
		return r;
	sqlite3_bind_text(s, 2, result, -1, SQLITE_STATIC);
	r = sdb__exec(db, s, "cannot update pair");
	if (r >= 0 && ev_message)
		r = sdb__event_insert(db, c, ev_node, row.key, "pair", ev_message, NULL, NULL);
	return r;
}

int sdb__apply_pair_delete(struct sdb *db, const struct sdb__apply_ctx *c)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct sdb__row row = {.q = SDB_Q_PAIR_GET, .what = "pair", .col = 6};
	const struct sdb__field fields[] = {
	    SDB_STR("vm", SDB_NAME_MAX_LEN, NULL, &row.key),
	    {"expect_state", SDB_F_PAIR_STATE, false, 0, NULL, &row.expect, NULL},
	};
	int r;

	r = sdb__apply_open(db, c, fields, ARRAY_SIZE(fields), &row);
	if (r < 0)
		return r;

	return sdb__exec_key(db, SDB_Q_PAIR_DELETE, row.key, "cannot delete pair");
}
