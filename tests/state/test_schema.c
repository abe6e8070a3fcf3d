// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of opening the store: a new database is set up (WAL, synchronous
 * FULL, foreign keys, application_id, latest schema); every migration step
 * upgrades an older database without losing its rows; and every file that
 * is not a healthy hasvc database of a version we know is refused with a
 * clear message and left byte-for-byte as it was. Also the two write
 * failures an operator meets: a database locked by another process (-EBUSY
 * after busy_timeout) and a full disk (-ENOSPC, nothing half-applied).
 */
#include <sqlite3.h>

#include "sdb_internal.h"
#include "state_test.h"

static char *dir;

static void setup(void)
{
	dir = test_mkdtemp();
}

static void teardown(void)
{
	test_rmdir(dir);
	free(dir);
}

TestSuite(schema, .init = setup, .fini = teardown);

static int64_t pragma_int(sqlite3 *conn, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v;

	cr_assert_eq(sqlite3_prepare_v2(conn, sql, -1, &s, NULL), SQLITE_OK, "%s",
		     sqlite3_errmsg(conn));
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void raw_exec(sqlite3 *conn, const char *sql)
{
	char *err = NULL;

	cr_assert_eq(sqlite3_exec(conn, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql, err);
}

/* Opens PATH, expecting failure R with a message containing WHAT; the file must not change. */
static void expect_refused(const char *path, int r, const char *what)
{
	struct sdb *db = NULL;
	char *error = NULL, *before, *after;
	size_t before_len, after_len;

	before = test_read_file(path, &before_len);
	cr_assert_eq(sdb_open(path, &db, &error), r, "%s", error ?: "(no error)");
	cr_assert_null(db);
	cr_assert(error && strstr(error, what), "error '%s' does not say '%s'", error, what);
	after = test_read_file(path, &after_len);
	cr_assert_eq(before_len, after_len, "the refused file changed size");
	cr_assert(memcmp(before, after, before_len) == 0, "the refused file changed");
	free(error);
	free(before);
	free(after);
}

Test(schema, new_database_is_set_up)
{
	_cleanup_free_ char *path = test_join(dir, "state.db");
	json_object *cluster = NULL;
	struct sdb *db = NULL;
	char *error = NULL;
	uint64_t version = 99;
	char digest[65];

	cr_assert_eq(sdb_open(path, &db, &error), 0, "%s", error);
	cr_assert_eq(pragma_int(db->conn, "PRAGMA application_id"), SDB_APPLICATION_ID);
	cr_assert_eq(pragma_int(db->conn, "PRAGMA user_version"), sdb_schema_version());
	cr_assert_eq(pragma_int(db->conn, "PRAGMA synchronous"), 2 /* FULL */);
	cr_assert_eq(pragma_int(db->conn, "PRAGMA foreign_keys"), 1);
	cr_assert_gt(pragma_int(db->conn, "PRAGMA busy_timeout"), 0);
	cr_assert_eq(sdb_version(db, &version), 0);
	cr_assert_eq(version, 0);
	cr_assert_eq(sdb_digest(db, digest), 0);
	cr_assert_eq(strlen(digest), 64);
	cr_assert_eq(sdb_cluster_get(db, &cluster), 0);
	cr_assert_eq(json_object_get_int(json_object_object_get(cluster, "schema")),
		     (int)sdb_schema_version());
	json_object_put(cluster);
	sdb_close(db);

	/* WAL is a property of the file */
	sqlite3 *conn;
	cr_assert_eq(sqlite3_open(path, &conn), SQLITE_OK);
	sqlite3_stmt *s;
	cr_assert_eq(sqlite3_prepare_v2(conn, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(conn);
}

Test(schema, reopening_keeps_the_state)
{
	_cleanup_free_ char *path = test_join(dir, "state.db");
	struct sdb *db = NULL;
	char before[65], after[65];
	json_object *pair = NULL;

	cr_assert_eq(sdb_open(path, &db, NULL), 0);
	test_populate(db);
	cr_assert_eq(sdb_digest(db, before), 0);
	sdb_close(db);
	cr_assert_eq(sdb_open(path, &db, NULL), 0);
	cr_assert_eq(sdb_digest(db, after), 0);
	cr_assert_str_eq(before, after);
	cr_assert_eq(sdb_pair_get(db, "vm1", &pair), 0);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(pair, "backup")), "node2");
	json_object_put(pair);
	sdb_close(db);
}

/*
 * Rows valid at every schema version >= 1, and per-disk rows from version 2
 * on; node3 in maintenance as each version wrote it (a membership state
 * before 6, the admin state from 6 on).
 */
static void insert_fixture(sqlite3 *conn, unsigned version)
{
	raw_exec(conn, "INSERT INTO nodes (name, nodeid, address, state, changed_usec)"
		       " VALUES ('node1', 1, '10.0.0.1', 'online', 10),"
		       " ('node2', 2, '10.0.0.2', 'offline', 11),"
		       " ('node3', 3, '10.0.0.3', 'maintenance', 12)");
	if (version >= 6)
		raw_exec(conn, "UPDATE nodes SET state = 'online', admin_state = 'maintenance'"
			       " WHERE name = 'node3'");
	raw_exec(conn, "INSERT INTO pairs (vm, primary_node, backup_node, state, bytes_done,"
		       " bytes_total, generation, created_usec, changed_usec)"
		       " VALUES ('vm1', 'node1', 'node2', 'in-sync', 7, 7, 4, 20, 21)");
	raw_exec(conn, "INSERT INTO events (id, time_usec, node, vm, kind, message)"
		       " VALUES (1, 30, 'node1', 'vm1', 'sync', 'vm1 in sync')");
	raw_exec(conn, "INSERT INTO fence_log (id, ref, target, agent, level, action, result,"
		       " started_usec, finished_usec)"
		       " VALUES (1, 'f1', 'node2', 'fence_ipmilan', 1, 'off', 'success', 40, 41)");
	raw_exec(conn, "UPDATE cluster SET version = 5, last_event_id = 1, last_fence_id = 1");
	if (version >= 2)
		raw_exec(conn, "INSERT INTO pair_disks (vm, target, bytes_done, bytes_total, ready)"
			       " VALUES ('vm1', 'vda', 7, 7, 1)");
}

Test(schema, every_step_sets_its_version)
{
	_cleanup_free_ char *path = test_join(dir, "steps.db");
	sqlite3 *conn;

	cr_assert_eq(sqlite3_open(path, &conn), SQLITE_OK);
	for (unsigned k = 0; k < sdb__schema_n_steps; k++) {
		raw_exec(conn, sdb__schema_steps[k]);
		cr_assert_eq(pragma_int(conn, "PRAGMA user_version"), k + 1, "step %u", k);
	}
	cr_assert_eq(pragma_int(conn, "PRAGMA application_id"), SDB_APPLICATION_ID);
	sqlite3_close(conn);
}

Test(schema, every_migration_step_keeps_the_data)
{
	for (unsigned k = 1; k < sdb__schema_n_steps; k++) {
		_cleanup_free_ char *name = NULL, *path = NULL;
		json_object *o = NULL, *a = NULL;
		struct sdb *db = NULL;
		char *error = NULL;
		uint64_t version;
		sqlite3 *conn;

		cr_assert(asprintf(&name, "v%u.db", k) > 0);
		path = test_join(dir, name);
		/* a database as hasvcd with k steps left it */
		cr_assert_eq(sqlite3_open(path, &conn), SQLITE_OK);
		raw_exec(conn, "PRAGMA journal_mode = WAL");
		for (unsigned i = 0; i < k; i++)
			raw_exec(conn, sdb__schema_steps[i]);
		insert_fixture(conn, k);
		sqlite3_close(conn);

		cr_assert_eq(sdb_open(path, &db, &error), 0, "from version %u: %s", k, error);
		cr_assert_eq(pragma_int(db->conn, "PRAGMA user_version"), sdb_schema_version());
		cr_assert_eq(sdb_version(db, &version), 0);
		cr_assert_eq(version, 5);
		test_expect_node(db, "node1", "online", "enabled");
		/* maintenance was a membership state before schema 6: now an admin state */
		test_expect_node(db, "node3", "online", "maintenance");
		cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
		cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "state")),
				 "in-sync");
		cr_assert_eq(json_object_get_int(json_object_object_get(o, "generation")), 4);
		cr_assert_eq(json_object_array_length(json_object_object_get(o, "disks")),
			     k >= 2 ? 1 : 0);
		/* no copy recorded before schema 7 */
		cr_assert(json_object_is_type(json_object_object_get(o, "copy"), json_type_null));
		json_object_put(o);
		/* and the pair's next copy records its kind (schema 7) */
		cr_assert_eq(APPLY(db, sdb_msg_pair_copy_progress, "vm1", 1, 8, NULL, 0,
				   &(struct sdb_copy_kind){"full", "new backup"}),
			     0, "%s", sdb_errmsg(db));
		cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
		cr_assert_str_eq(json_object_get_string(json_object_object_get(
				     json_object_object_get(o, "copy"), "reason")),
				 "new backup");
		json_object_put(o);
		cr_assert_eq(sdb_events_list(db, 0, 0, &a), 0);
		cr_assert_eq(json_object_array_length(a), 1);
		/* an event older than the transition columns (schema 5) records none */
		cr_assert(!json_object_object_get_ex(json_object_array_get_idx(a, 0), "transition",
						     NULL));
		json_object_put(a);
		cr_assert_eq(sdb_fence_log_list(db, "node2", 0, &a), 0);
		cr_assert_eq(json_object_array_length(a), 1);
		o = json_object_array_get_idx(a, 0);
		cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "result")),
				 "success");
		cr_assert(json_object_is_type(json_object_object_get(o, "device"), json_type_null));
		json_object_put(a);

		/* and it goes on from there: the next event is number 2 */
		cr_assert_eq(APPLY(db, sdb_msg_event, "node1", NULL, "test", "after upgrade", NULL),
			     0, "%s", sdb_errmsg(db));
		cr_assert_eq(sdb_events_list(db, 1, 0, &a), 0);
		cr_assert_eq(json_object_get_int(
				 json_object_object_get(json_object_array_get_idx(a, 0), "id")),
			     2);
		json_object_put(a);
		sdb_close(db);
	}
}

Test(schema, newer_schema_is_refused)
{
	_cleanup_free_ char *path = test_join(dir, "newer.db");
	_cleanup_free_ char *want = NULL;
	struct sdb *db = NULL;
	sqlite3 *conn;

	cr_assert_eq(sdb_open(path, &db, NULL), 0);
	test_populate(db);
	sdb_close(db);
	cr_assert_eq(sqlite3_open(path, &conn), SQLITE_OK);
	raw_exec(conn, "PRAGMA user_version = 1000");
	sqlite3_close(conn);

	cr_assert(asprintf(&want,
			   "database schema version 1000 is newer than this hasvcd (%u); "
			   "upgrade hasvcd",
			   sdb_schema_version()) > 0);
	expect_refused(path, -ENOTSUP, want);
}

Test(schema, non_sqlite_file_is_refused)
{
	_cleanup_free_ char *path = test_join(dir, "garbage.db");
	const char text[] = "this is not a database, but somebody's notes\n";

	test_write_file(path, text, sizeof(text) - 1);
	expect_refused(path, -EBADMSG, "is not an sqlite database");
	cr_assert(access(path, F_OK) == 0);
}

Test(schema, corrupt_database_is_refused)
{
	_cleanup_free_ char *path = test_join(dir, "corrupt.db");
	struct sdb *db = NULL;
	char *bytes;
	size_t len;

	cr_assert_eq(sdb_open(path, &db, NULL), 0);
	test_populate(db);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(APPLY(db, sdb_msg_event, "node1", "vm1", "test",
				   "some event text to fill a few pages of the events table", NULL),
			     0);
	sdb_close(db);

	/* scribble over every page but the first (the header stays intact) */
	bytes = test_read_file(path, &len);
	cr_assert_gt(len, 8192u);
	for (size_t off = 4096 + 8; off < len; off += 4096)
		memset(bytes + off, 0xa5, 64);
	test_write_file(path, bytes, len);
	free(bytes);

	expect_refused(path, -EBADMSG, "is damaged");
}

Test(schema, foreign_database_is_refused)
{
	_cleanup_free_ char *path = test_join(dir, "other.db");
	_cleanup_free_ char *path0 = test_join(dir, "other0.db");
	sqlite3 *conn;

	cr_assert_eq(sqlite3_open(path, &conn), SQLITE_OK);
	raw_exec(conn, "PRAGMA application_id = 42; CREATE TABLE t (x); INSERT INTO t VALUES (1)");
	sqlite3_close(conn);
	expect_refused(path, -EMEDIUMTYPE, "is not a hasvc database (application_id 0x0000002a");

	/* no application_id at all, but somebody's tables */
	cr_assert_eq(sqlite3_open(path0, &conn), SQLITE_OK);
	raw_exec(conn, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
	sqlite3_close(conn);
	expect_refused(path0, -EMEDIUMTYPE, "is not a hasvc database");
}

Test(schema, unusable_paths_are_refused)
{
	_cleanup_free_ char *sub = test_join(dir, "a-directory");
	_cleanup_free_ char *missing = test_join(dir, "no/such/dir/state.db");
	_cleanup_free_ char *locked = test_join(dir, "unreadable.db");
	struct sdb *db = NULL;
	char *error = NULL;

	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(sdb_open(sub, &db, &error), -EISDIR);
	cr_assert(strstr(error, "is not a regular file"), "%s", error);
	free(error);

	cr_assert_lt(sdb_open(missing, &db, &error), 0);
	cr_assert(strstr(error, "cannot open database"), "%s", error);
	free(error);
	cr_assert(access(missing, F_OK) < 0);

	if (geteuid() == 0)
		return; /* root reads anything: the case below cannot be staged */
	cr_assert_eq(sdb_open(locked, &db, NULL), 0);
	sdb_close(db);
	cr_assert_eq(chmod(locked, 0), 0);
	cr_assert_eq(sdb_open(locked, &db, &error), -EACCES);
	cr_assert(strstr(error, "Permission denied"), "%s", error);
	free(error);
}

Test(schema, locked_database_gives_ebusy)
{
	_cleanup_free_ char *path = test_join(dir, "state.db");
	struct sdb *db = NULL;
	uint64_t version;
	sqlite3 *other;

	cr_assert_eq(sdb_open(path, &db, NULL), 0);
	test_populate(db);
	cr_assert_eq(sdb_busy_timeout_set(db, 200), 0);

	/* another process holds the write lock */
	cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
	raw_exec(other, "BEGIN IMMEDIATE");
	cr_assert_eq(APPLY(db, sdb_msg_event, "node1", NULL, "test", "blocked", NULL), -EBUSY);
	cr_assert(strstr(sdb_errmsg(db), "database is locked"), "%s", sdb_errmsg(db));
	cr_assert(!sdb_apply_refused(-EBUSY));
	/* reads still work (WAL) */
	cr_assert_eq(sdb_version(db, &version), 0);
	cr_assert_eq(version, 3);
	raw_exec(other, "ROLLBACK");
	sqlite3_close(other);

	cr_assert_eq(APPLY(db, sdb_msg_event, "node1", NULL, "test", "free again", NULL), 0);
	cr_assert_eq(sdb_version(db, &version), 0);
	cr_assert_eq(version, 4);
	sdb_close(db);
}

Test(schema, full_disk_gives_enospc_and_changes_nothing)
{
	_cleanup_free_ char *path = test_join(dir, "state.db");
	char text[4000], before[65], after[65];
	struct sdb *db = NULL;
	uint64_t v_before, v_after;
	int r = 0, applied = 0;

	cr_assert_eq(sdb_open(path, &db, NULL), 0);
	test_populate(db);
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';

	/* the disk is full: the file may not grow by a single page */
	int64_t pages = pragma_int(db->conn, "PRAGMA page_count");
	cr_assert_eq(pragma_int(db->conn, "PRAGMA max_page_count = 1"), pages);

	for (int i = 0; i < 100 && r == 0; i++) {
		cr_assert_eq(sdb_digest(db, before), 0);
		cr_assert_eq(sdb_version(db, &v_before), 0);
		r = APPLY(db, sdb_msg_event, "node1", "vm1", "test", text, NULL);
		applied += r == 0;
	}
	cr_assert_eq(r, -ENOSPC, "got %d: %s", r, sdb_errmsg(db));
	cr_assert(strstr(sdb_errmsg(db), "full"), "%s", sdb_errmsg(db));
	cr_assert(!sdb_apply_refused(r));
	cr_assert_eq(sdb_digest(db, after), 0);
	cr_assert_eq(sdb_version(db, &v_after), 0);
	cr_assert_str_eq(before, after, "a failed change left something behind");
	cr_assert_eq(v_before, v_after);
	cr_assert_eq(v_after, 3 + (uint64_t)applied);
	sdb_close(db);
}
