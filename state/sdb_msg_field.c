// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_msg_field: decoding the fields of a change message, before anything is
 * touched.
 *
 * Every field is checked for its type, its size and, for an enumeration,
 * its value, so that a malformed message is refused with -EINVAL alike on
 * every host (even one whose database is busy) and nothing half-applies.
 * Strings are borrowed from the message. The names of pair states and
 * events are those of hs_pair_fsm.h (one list for the whole tree); the other
 * enumerations are below and are the CHECK constraints of sdb_schema.c.
 */
#include <string.h>

#include "sdb_apply.h"

/* membership states; maintenance is an admin state (node_admin) since protocol 2 */
const char *const sdb__node_states[] = {"online", "offline", "fencing", "fenced", NULL};
const char *const sdb__admin_states[] = {"enabled", "maintenance", NULL};
const char *const sdb__desired_states[] = {"protected", "unprotected", "deleted", NULL};
const char *const sdb__modes[] = {"sync", "async", NULL};
const char *const sdb__copy_kinds[] = {"full", "delta", NULL};
const char *const sdb__fence_actions[] = {"off",     "on",	 "reboot", "status",
					  "monitor", "metadata", NULL};
const char *const sdb__fence_results[] = {"success", "failed", "timeout", NULL};

#define STR_REQ(db, m, key, max, set, ret) sdb__field_str(db, m, key, true, false, max, set, ret)
#define STR_OPT(db, m, key, max, set, ret) sdb__field_str(db, m, key, false, false, max, set, ret)

static bool in_set(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(v, *set) == 0)
			return true;
	return false;
}

/*
 * A string field: absent or null gives NULL (or -EINVAL when REQUIRED);
 * otherwise it must be a string of 1..MAX bytes without NUL (0 bytes allowed
 * when EMPTY_OK), and, when SET is given, one of it.
 */
int sdb__field_str(struct sdb *db, json_object *m, const char *key, bool required, bool empty_ok,
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

/*
 * A JSON integer as a byte count, a time, an id: 0..INT64_MAX (what sqlite
 * stores), in *RET. json-c keeps integers above INT64_MAX (up to UINT64_MAX)
 * and json_object_get_int64() clamps them to INT64_MAX: that would store
 * another number than the one sent, so it is refused like a negative one.
 */
static bool json_count(json_object *v, uint64_t *ret)
{
	int64_t i;

	if (!json_object_is_type(v, json_type_int))
		return false;
	i = json_object_get_int64(v);
	if (i < 0 || (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX))
		return false;
	*ret = (uint64_t)i;
	return true;
}

/* An integer field in 0..MAX; absent or null: *RET_SET false (or -EINVAL when REQUIRED). */
int sdb__field_u64(struct sdb *db, json_object *m, const char *key, bool required, uint64_t max,
		   uint64_t *ret, bool *ret_set)
{
	json_object *v;
	uint64_t u;

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
	if (!json_count(v, &u) || u > max)
		return sdb__fail(db, -EINVAL, "field '%s' out of range", key);
	*ret = u;
	if (ret_set)
		*ret_set = true;
	return 0;
}

/* A pair state field (the names of hs_pair_fsm.h): absent gives NULL. */
int sdb__field_pair_state(struct sdb *db, json_object *m, const char *key, const char **ret,
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
int sdb__field_pair_event(struct sdb *db, json_object *m, const char *state, const char **ret,
			  enum hs_pair_event *ret_event)
{
	int r;

	r = sdb__field_str(db, m, "pair_event", state != NULL, false, 32, NULL, ret);
	if (r < 0)
		return r;
	if (*ret && !state)
		return sdb__fail(db, -EINVAL, "field 'pair_event' without 'state'");
	if (*ret && hs_pair_event_from_name(*ret, ret_event) < 0)
		return sdb__fail(db, -EINVAL, "field 'pair_event' has unknown value '%s'", *ret);
	return 0;
}

int sdb__field_bool(struct sdb *db, json_object *m, const char *key, bool *ret)
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
int sdb__field_disks(struct sdb *db, json_object *m, json_object **ret)
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
	if (n > SDB_MAX_DISKS)
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
			r = sdb__field_u64(db, d, "bytes_done", false, INT64_MAX, &u, NULL);
		if (r >= 0)
			r = sdb__field_u64(db, d, "bytes_total", false, INT64_MAX, &u, NULL);
		if (r >= 0)
			r = sdb__field_bool(db, d, "ready", &b);
		if (r < 0)
			return r;
	}
	*ret = a;
	return 0;
}

int sdb__fields_read(struct sdb *db, json_object *m, const struct sdb__field *f, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		switch (f[i].kind) {
		case SDB_F_STR:
		case SDB_F_STR0:
			r = sdb__field_str(db, m, f[i].key, f[i].required, f[i].kind == SDB_F_STR0,
					   f[i].max, f[i].set, f[i].ret);
			break;
		case SDB_F_U64:
			r = sdb__field_u64(db, m, f[i].key, f[i].required, f[i].max, f[i].ret,
					   f[i].ret_set);
			break;
		case SDB_F_BOOL:
			r = sdb__field_bool(db, m, f[i].key, f[i].ret);
			break;
		case SDB_F_PAIR_STATE:
			r = sdb__field_pair_state(db, m, f[i].key, f[i].ret, NULL);
			break;
		}
	}
	return r;
}

/* "disk_sizes": an array of at most SDB_MAX_DISKS byte counts; its JSON text in *RET. */
int sdb__field_disk_sizes(struct sdb *db, json_object *m, const char **ret)
{
	json_object *a;

	*ret = NULL;
	if (!json_object_object_get_ex(m, "disk_sizes", &a) || !a)
		return 0;
	if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) > SDB_MAX_DISKS)
		return sdb__fail(db, -EINVAL, "field 'disk_sizes' is not an array of sizes");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		uint64_t size;

		if (!json_count(json_object_array_get_idx(a, i), &size))
			return sdb__fail(db, -EINVAL, "disk size %zu is not a byte count", i);
	}
	*ret = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
	return 0;
}
