// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the replicated changes: every message type applies and shows in
 * the queries with the API's keys; every refusal (compare-and-set lost, one
 * operation per VM, unknown node or pair) changes nothing and says why; and
 * malformed messages of every kind are rejected with -EINVAL before anything
 * is touched (the digest and the version stay the same).
 */
#include "sdb_internal.h"
#include "state_test.h"

static char *dir;
static struct sdb *db;

static void setup(void)
{
	db = test_db_new(&dir);
}

static void teardown(void)
{
	test_db_free(db, dir);
	db = NULL;
	dir = NULL;
}

TestSuite(msg, .init = setup, .fini = teardown);

static const char *str_of(json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

static int64_t int_of(json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

static uint64_t version(void)
{
	uint64_t v = 0;

	cr_assert_eq(sdb_version(db, &v), 0);
	return v;
}

/* Applies R (an APPLY(...)) expecting ERR, and checks that nothing changed. */
#define EXPECT_REFUSED(err, apply_expr)                                                            \
	do {                                                                                       \
		char _d0[65], _d1[65];                                                             \
		uint64_t _v0 = version();                                                          \
		cr_assert_eq(sdb_digest(db, _d0), 0);                                              \
		int _r = (apply_expr);                                                             \
		cr_assert_eq(_r, err, "expected %d, got %d (%s)", err, _r, sdb_errmsg(db));        \
		cr_assert(sdb_apply_refused(_r));                                                  \
		cr_assert_eq(sdb_digest(db, _d1), 0);                                              \
		cr_assert_str_eq(_d0, _d1, "a refused change changed the state");                  \
		cr_assert_eq(_v0, version());                                                      \
	} while (0)

Test(msg, nodes)
{
	struct sdb_node_info n1 = {
	    .name = "node1", .nodeid = 1, .address = "10.0.0.1", .fence_ref = "ipmi-node1"};
	struct sdb_node_info clash = {.name = "node9", .nodeid = 1};
	json_object *o = NULL;

	cr_assert_eq(APPLY(db, sdb_msg_node_upsert, &n1), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_node_get(db, "node1", &o), 0);
	cr_assert_str_eq(str_of(o, "state"), "offline");
	cr_assert_str_eq(str_of(o, "fence_ref"), "ipmi-node1");
	cr_assert_eq(int_of(o, "nodeid"), 1);
	json_object_put(o);

	cr_assert_eq(APPLY(db, sdb_msg_node_state, "node1", "online", "offline"), 0);
	cr_assert_eq(sdb_node_get(db, "node1", &o), 0);
	cr_assert_str_eq(str_of(o, "state"), "online");
	cr_assert_gt(int_of(o, "changed_usec"), 0);
	json_object_put(o);

	/* upsert again: new address, state kept */
	n1.address = "10.0.0.11";
	cr_assert_eq(APPLY(db, sdb_msg_node_upsert, &n1), 0);
	cr_assert_eq(sdb_node_get(db, "node1", &o), 0);
	cr_assert_str_eq(str_of(o, "address"), "10.0.0.11");
	cr_assert_str_eq(str_of(o, "state"), "online");
	json_object_put(o);

	EXPECT_REFUSED(-ESTALE, APPLY(db, sdb_msg_node_state, "node1", "fencing", "offline"));
	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_node_state, "nodeX", "online", NULL));
	EXPECT_REFUSED(-EEXIST, APPLY(db, sdb_msg_node_upsert, &clash));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_node_state, "node1", "sleeping", NULL));
	/* maintenance is no membership state since protocol 2: node_admin sets it */
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_node_state, "node1", "maintenance", NULL));

	cr_assert_eq(sdb_nodes_list(db, &o), 0);
	cr_assert_eq(json_object_array_length(o), 1);
	json_object_put(o);
	cr_assert_eq(sdb_node_get(db, "nodeX", &o), -ENOENT);
}

Test(msg, pair_lifecycle)
{
	struct sdb_pair_change to_sync = {.vm = "vm1",
					  .expect_state = "creating",
					  .state = "initial-sync",
					  .pair_event = "backup-prepared"};
	struct sdb_pair_change stale = {
	    .vm = "vm1", .expect_state = "creating", .state = "degraded", .pair_event = "backup-lost"};
	struct sdb_disk_spec progress[] = {
	    {.target = "vda", .bytes_done = 1000, .bytes_total = 1000, .ready = true},
	    {.target = "vdb", .bytes_done = 200, .bytes_total = 500}};
	json_object *o = NULL, *disks;

	test_populate(db);
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert_str_eq(str_of(o, "state"), "creating");
	cr_assert_str_eq(str_of(o, "primary"), "node1");
	cr_assert_str_eq(str_of(o, "backup"), "node2");
	cr_assert_str_eq(str_of(o, "mode"), "sync");
	cr_assert_str_eq(str_of(o, "desired_state"), "protected");
	cr_assert_str_eq(str_of(o, "admin_state"), "enabled");
	cr_assert_eq(int_of(o, "generation"), 1);
	cr_assert(json_object_is_type(json_object_object_get(o, "operation"), json_type_null));
	disks = json_object_object_get(o, "disks");
	cr_assert_eq(json_object_array_length(disks), 2);
	cr_assert_eq(int_of(json_object_array_get_idx(disks, 1), "bytes_total"), 500);
	json_object_put(o);

	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &to_sync), 0, "%s", sdb_errmsg(db));
	EXPECT_REFUSED(-ESTALE, APPLY(db, sdb_msg_pair_update, &stale));
	cr_assert(strstr(sdb_errmsg(db), "pair 'vm1' is initial-sync, not creating"), "%s",
		  sdb_errmsg(db));

	/* generation compare-and-set */
	struct sdb_pair_change gen_ok = {
	    .vm = "vm1", .expect_generation = 2, .reason = "mirror started"};
	struct sdb_pair_change gen_old = {
	    .vm = "vm1", .expect_generation = 2, .state = "degraded", .pair_event = "mirror-failed"};
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &gen_ok), 0, "%s", sdb_errmsg(db));
	EXPECT_REFUSED(-ESTALE, APPLY(db, sdb_msg_pair_update, &gen_old));

	cr_assert_eq(APPLY(db, sdb_msg_pair_progress, "vm1", 1200, 1500, progress, 2), 0, "%s",
		     sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert_eq(int_of(o, "bytes_done"), 1200);
	cr_assert_eq(int_of(o, "generation"), 3, "progress does not bump the generation");
	cr_assert_str_eq(str_of(o, "reason"), "mirror started");
	disks = json_object_object_get(o, "disks");
	cr_assert(json_object_get_boolean(
	    json_object_object_get(json_object_array_get_idx(disks, 0), "ready")));
	json_object_put(o);

	/* roles: promote the backup, no backup left (through the edges of the table) */
	static const char *const to_promoting[][2] = {
	    {"in-sync", "mirror-ready"}, {"fencing", "primary-lost"}, {"promoting", "fenced"}};
	for (size_t i = 0; i < ARRAY_SIZE(to_promoting); i++) {
		struct sdb_pair_change step = {
		    .vm = "vm1", .state = to_promoting[i][0], .pair_event = to_promoting[i][1]};
		cr_assert_eq(APPLY(db, sdb_msg_pair_update, &step), 0, "%s", sdb_errmsg(db));
	}
	struct sdb_pair_change promoted = {.vm = "vm1",
					   .state = "unprotected",
					   .pair_event = "promoted",
					   .primary = "node2",
					   .clear_backup = true,
					   .reason = ""};
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &promoted), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert_str_eq(str_of(o, "primary"), "node2");
	cr_assert(json_object_is_type(json_object_object_get(o, "backup"), json_type_null));
	cr_assert(json_object_is_type(json_object_object_get(o, "reason"), json_type_null));
	json_object_put(o);

	/* a backup on the primary itself is refused */
	struct sdb_pair_change same = {.vm = "vm1", .backup = "node2"};
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_pair_update, &same));
	struct sdb_pair_change unknown = {.vm = "vm1", .backup = "node7"};
	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_pair_update, &unknown));

	cr_assert_eq(sdb_pairs_list_by_node(db, "node2", &o), 0);
	cr_assert_eq(json_object_array_length(o), 1);
	json_object_put(o);
	cr_assert_eq(sdb_pairs_list_by_node(db, "node1", &o), 0);
	cr_assert_eq(json_object_array_length(o), 0);
	json_object_put(o);

	/* a node with pairs cannot go */
	EXPECT_REFUSED(-ENOTEMPTY, APPLY(db, sdb_msg_node_delete, "node2"));
	cr_assert_eq(APPLY(db, sdb_msg_node_delete, "node1"), 0, "%s", sdb_errmsg(db));

	EXPECT_REFUSED(-ESTALE, APPLY(db, sdb_msg_pair_delete, "vm1", "in-sync"));
	cr_assert_eq(APPLY(db, sdb_msg_pair_delete, "vm1", "unprotected"), 0);
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), -ENOENT);
	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_pair_delete, "vm1", NULL));
	cr_assert_eq(sdb_pairs_list(db, &o), 0);
	cr_assert_eq(json_object_array_length(o), 0);
	json_object_put(o);
}

Test(msg, pair_create_refusals)
{
	struct sdb_pair_spec dup = {.vm = "vm1", .primary = "node1"};
	struct sdb_pair_spec nowhere = {.vm = "vm2", .primary = "node5"};
	struct sdb_pair_spec self = {.vm = "vm3", .primary = "node1", .backup = "node1"};
	struct sdb_pair_spec badmode = {.vm = "vm4", .primary = "node1", .mode = "semi"};
	struct sdb_disk_spec twice[] = {{.target = "vda"}, {.target = "vda"}};
	struct sdb_pair_spec dupdisk = {
	    .vm = "vm5", .primary = "node1", .disks = twice, .n_disks = 2};

	test_populate(db);
	EXPECT_REFUSED(-EEXIST, APPLY(db, sdb_msg_pair_create, &dup));
	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_pair_create, &nowhere));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_pair_create, &self));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_pair_create, &badmode));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_pair_create, &dupdisk));
}

Test(msg, one_operation_per_vm)
{
	json_object *o = NULL, *op;

	test_populate(db);
	cr_assert_eq(APPLY(db, sdb_msg_op_begin, "vm1", "switchover", "node1", "op-1"), 0);
	EXPECT_REFUSED(-EALREADY, APPLY(db, sdb_msg_op_begin, "vm1", "delete", "node2", "op-2"));
	cr_assert(strstr(sdb_errmsg(db), "busy with switchover"), "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	op = json_object_object_get(o, "operation");
	cr_assert_str_eq(str_of(op, "op"), "switchover");
	cr_assert_str_eq(str_of(op, "ref"), "op-1");
	json_object_put(o);
	cr_assert_eq(sdb_operations_list(db, &o), 0);
	cr_assert_eq(json_object_array_length(o), 1);
	json_object_put(o);

	EXPECT_REFUSED(-ESTALE, APPLY(db, sdb_msg_op_end, "vm1", "op-2"));
	cr_assert_eq(APPLY(db, sdb_msg_op_end, "vm1", "op-1"), 0);
	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_op_end, "vm1", "op-1"));

	/* an operation may claim a VM that has no pair yet; NULL ref clears it */
	cr_assert_eq(APPLY(db, sdb_msg_op_begin, "vm9", "create", "node2", "op-3"), 0);
	cr_assert_eq(APPLY(db, sdb_msg_op_end, "vm9", NULL), 0);
}

Test(msg, events_and_fence_log)
{
	json_object *detail = json_object_new_object(), *a = NULL, *e;
	struct sdb_fence_start f = {.ref = "f-1",
				    .target = "node2",
				    .device = "ipmi-node2",
				    .agent = "fence_ipmilan",
				    .level = 1,
				    .action = "off"};

	json_object_object_add(detail, "level", json_object_new_int(1));
	cr_assert_eq(APPLY(db, sdb_msg_event, "node1", "vm1", "fence", "fencing node2", detail), 0,
		     "%s", sdb_errmsg(db));
	json_object_put(detail);
	cr_assert_eq(APPLY(db, sdb_msg_event, NULL, NULL, "cluster", "quorum regained", NULL), 0);
	cr_assert_eq(sdb_events_list(db, 0, 0, &a), 0);
	cr_assert_eq(json_object_array_length(a), 2);
	e = json_object_array_get_idx(a, 0);
	cr_assert_eq(int_of(e, "id"), 1);
	cr_assert_str_eq(str_of(e, "message"), "fencing node2");
	cr_assert_eq(int_of(json_object_object_get(e, "detail"), "level"), 1);
	cr_assert_gt(int_of(e, "time_usec"), 0);
	json_object_put(a);
	cr_assert_eq(sdb_events_list(db, 1, 10, &a), 0);
	cr_assert_eq(json_object_array_length(a), 1);
	json_object_put(a);
	cr_assert_eq(sdb_events_list(db, 0, 1, &a), 0);
	cr_assert_eq(json_object_array_length(a), 1);
	json_object_put(a);

	cr_assert_eq(APPLY(db, sdb_msg_fence_start, &f), 0, "%s", sdb_errmsg(db));
	EXPECT_REFUSED(-EEXIST, APPLY(db, sdb_msg_fence_start, &f));
	cr_assert_eq(sdb_fence_log_list(db, NULL, 0, &a), 0);
	cr_assert_str_eq(str_of(json_object_array_get_idx(a, 0), "result"), "running");
	json_object_put(a);
	cr_assert_eq(APPLY(db, sdb_msg_fence_finish, "f-1", "success", "powered off"), 0);
	EXPECT_REFUSED(-ESTALE, APPLY(db, sdb_msg_fence_finish, "f-1", "failed", NULL));
	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_fence_finish, "f-9", "failed", NULL));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_fence_finish, "f-1", "maybe", NULL));
	cr_assert_eq(sdb_fence_log_list(db, "node2", 0, &a), 0);
	e = json_object_array_get_idx(a, 0);
	cr_assert_str_eq(str_of(e, "result"), "success");
	cr_assert_str_eq(str_of(e, "device"), "ipmi-node2");
	cr_assert_str_eq(str_of(e, "message"), "powered off");
	cr_assert_geq(int_of(e, "finished_usec"), int_of(e, "started_usec"));
	json_object_put(a);
	cr_assert_eq(sdb_fence_log_list(db, "node1", 0, &a), 0);
	cr_assert_eq(json_object_array_length(a), 0);
	json_object_put(a);
}

Test(msg, event_log_is_pruned_alike)
{
	json_object *a = NULL, *c = NULL;

	sqlite3_exec(db->conn, "PRAGMA synchronous = OFF", NULL, NULL, NULL); /* speed */
	for (int i = 0; i < SDB_EVENTS_KEEP + 5; i++)
		cr_assert_eq(APPLY(db, sdb_msg_event, NULL, NULL, "t", "e", NULL), 0);
	cr_assert_eq(sdb_events_list(db, 0, 1, &a), 0);
	cr_assert_eq(int_of(json_object_array_get_idx(a, 0), "id"), 6);
	json_object_put(a);
	cr_assert_eq(sdb_cluster_get(db, &c), 0);
	cr_assert_eq(int_of(c, "last_event_id"), SDB_EVENTS_KEEP + 5);
	json_object_put(c);
}

static int apply_text(const char *text)
{
	return sdb_apply(db, 1, text, strlen(text));
}

Test(msg, malformed_messages_change_nothing)
{
	static const char *const bad[] = {
	    "",
	    "not json",
	    "[1,2,3]",
	    "{\"v\":2,\"time\":1}",
	    "{\"v\":2,\"type\":\"launch_missiles\",\"time\":1}",
	    "{\"type\":\"event\",\"time\":1,\"kind\":\"k\",\"message\":\"m\"}",
	    "{\"v\":\"1\",\"type\":\"event\",\"time\":1,\"kind\":\"k\",\"message\":\"m\"}",
	    "{\"v\":2,\"type\":\"event\",\"kind\":\"k\",\"message\":\"m\"}",
	    "{\"v\":2,\"type\":\"event\",\"time\":-5,\"kind\":\"k\",\"message\":\"m\"}",
	    "{\"v\":2,\"type\":\"event\",\"time\":1,\"message\":\"m\"}",
	    "{\"v\":2,\"type\":\"event\",\"time\":1,\"kind\":\"\",\"message\":\"m\"}",
	    "{\"v\":2,\"type\":\"event\",\"time\":1,\"kind\":7,\"message\":\"m\"}",
	    "{\"v\":2,\"type\":\"event\",\"time\":1,\"kind\":\"k\",\"message\":\"m\","
	    "\"detail\":\"not an object\"}",
	    "{\"v\":2,\"type\":\"event\",\"time\":1,\"kind\":\"k\",\"message\":\"m\"} trailing",
	    "{\"v\":2,\"type\":\"event\",\"time\":1,\"kind\":\"k\\u0000x\",\"message\":\"m\"}",
	    "{\"v\":2,\"type\":\"node_upsert\",\"time\":1,\"name\":\"n\",\"nodeid\":0}",
	    "{\"v\":2,\"type\":\"node_upsert\",\"time\":1,\"name\":\"n\",\"nodeid\":4294967296}",
	    "{\"v\":2,\"type\":\"node_upsert\",\"time\":1,\"nodeid\":3}",
	    "{\"v\":2,\"type\":\"pair_update\",\"time\":1,\"vm\":\"vm1\",\"state\":\"happy\"}",
	    "{\"v\":2,\"type\":\"pair_update\",\"time\":1,\"vm\":\"vm1\",\"backup\":\"node2\","
	    "\"clear_backup\":true}",
	    "{\"v\":2,\"type\":\"pair_update\",\"time\":1,\"vm\":\"vm1\",\"clear_backup\":1}",
	    "{\"v\":2,\"type\":\"pair_progress\",\"time\":1,\"vm\":\"vm1\",\"bytes_done\":1}",
	    "{\"v\":2,\"type\":\"pair_progress\",\"time\":1,\"vm\":\"vm1\",\"bytes_done\":1,"
	    "\"bytes_total\":2,\"disks\":[{\"bytes_done\":1}]}",
	    "{\"v\":2,\"type\":\"pair_progress\",\"time\":1,\"vm\":\"vm1\",\"bytes_done\":1,"
	    "\"bytes_total\":2,\"disks\":{}}",
	    "{\"v\":2,\"type\":\"pair_progress\",\"time\":1,\"vm\":\"vm1\",\"bytes_done\":1,"
	    "\"bytes_total\":2,\"copy_kind\":\"some\"}",
	    "{\"v\":2,\"type\":\"pair_progress\",\"time\":1,\"vm\":\"vm1\",\"bytes_done\":1,"
	    "\"bytes_total\":2,\"copy_kind\":\"full\",\"copy_reason\":7}",
	    "{\"v\":2,\"type\":\"pair_create\",\"time\":1,\"vm\":\"vm2\",\"primary\":\"node1\","
	    "\"desired_state\":\"elsewhere\"}",
	    "{\"v\":2,\"type\":\"fence_start\",\"time\":1,\"ref\":\"r\",\"target\":\"node2\","
	    "\"agent\":\"fence_x\",\"action\":\"explode\"}",
	    "{\"v\":2,\"type\":\"sync_state\",\"time\":1}",
	};
	char before[65], after[65];
	uint64_t v0;

	test_populate(db);
	cr_assert_eq(sdb_digest(db, before), 0);
	v0 = version();
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = apply_text(bad[i]);

		cr_assert_eq(r, -EINVAL, "message %zu (%s) gave %d: %s", i, bad[i], r,
			     sdb_errmsg(db));
		cr_assert(sdb_apply_refused(r));
	}
	/* a newer protocol is refused distinctly */
	cr_assert_eq(apply_text("{\"v\":3,\"type\":\"event\",\"time\":1,\"kind\":\"k\","
				"\"message\":\"m\"}"),
		     -EPROTONOSUPPORT);
	cr_assert(strstr(sdb_errmsg(db), "protocol version 3"), "%s", sdb_errmsg(db));
	/* an older one too: protocol 1 knew no pair_event, its state changes are unchecked */
	cr_assert_eq(apply_text("{\"v\":1,\"type\":\"event\",\"time\":1,\"kind\":\"k\","
				"\"message\":\"m\"}"),
		     -EINVAL);
	cr_assert(strstr(sdb_errmsg(db), "protocol version 1, this hasvcd speaks 2"), "%s",
		  sdb_errmsg(db));
	cr_assert_eq(sdb_digest(db, after), 0);
	cr_assert_str_eq(before, after);
	cr_assert_eq(v0, version());

	/* the good one, and unknown extra fields are tolerated */
	cr_assert_eq(apply_text("{\"v\":2,\"type\":\"event\",\"time\":1,\"kind\":\"k\","
				"\"message\":\"m\",\"later\":true}"),
		     0, "%s", sdb_errmsg(db));
	cr_assert_eq(version(), v0 + 1);
}

Test(msg, builders_refuse_missing_arguments)
{
	struct sdb_pair_spec nameless = {.primary = "node1"};
	struct sdb_node_info noid = {.name = "n"};
	char *buf = NULL;
	size_t len;

	cr_assert_eq(sdb_msg_pair_create(&nameless, &buf, &len), -EINVAL);
	cr_assert_eq(sdb_msg_node_upsert(&noid, &buf, &len), -EINVAL);
	cr_assert_eq(sdb_msg_event(NULL, NULL, NULL, "m", NULL, &buf, &len), -EINVAL);
	cr_assert_eq(sdb_msg_op_begin("vm", "op", NULL, "r", &buf, &len), -EINVAL);
	cr_assert_null(buf);

	cr_assert_eq(sdb_msg_op_end("vm1", "r", &buf, &len), 0);
	cr_assert_eq(strlen(buf), len);
	cr_assert(strstr(buf, "\"v\":2"), "%s", buf);
	cr_assert(strstr(buf, "\"type\":\"op_end\""), "%s", buf);
	free(buf);
}

/* The backup host builds the backup from what pair_create carried. */
Test(msg, pair_spec_travels_with_the_pair)
{
	static const uint64_t sizes[] = {268435456, 1048576};
	struct sdb_pair_spec spec = {
	    .vm = "vm9", .primary = "node1", .backup = "node2",
	    .domain_xml = "<domain><name>vm9</name></domain>",
	    .disk_sizes = sizes, .n_disk_sizes = 2, .nbd_port = 10901};
	struct sdb_pair_change port = {.vm = "vm9", .nbd_port = 10902};
	json_object *pair = NULL, *got_sizes = NULL;
	char *xml = NULL;

	test_populate(db);
	cr_assert_eq(APPLY(db, sdb_msg_pair_create, &spec), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_spec_get(db, "vm9", &xml, &got_sizes), 0);
	cr_assert_str_eq(xml, spec.domain_xml);
	cr_assert_eq(json_object_array_length(got_sizes), 2);
	cr_assert_eq(json_object_get_int64(json_object_array_get_idx(got_sizes, 0)), 268435456);
	cr_assert_eq(sdb_pair_get(db, "vm9", &pair), 0);
	cr_assert_eq(int_of(pair, "nbd_port"), 10901);
	json_object_put(pair);
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &port), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm9", &pair), 0);
	cr_assert_eq(int_of(pair, "nbd_port"), 10902);
	cr_assert_eq(sdb_pair_spec_get(db, "nope", &xml, &got_sizes), -ENOENT);
	json_object_put(pair);
	json_object_put(got_sizes);
	free(xml);
}

Test(msg, pair_spec_refusals)
{
	EXPECT_REFUSED(-EINVAL, apply_text("{\"v\":2,\"type\":\"pair_create\",\"time\":1,"
					   "\"vm\":\"v\",\"primary\":\"node1\",\"disk_sizes\":[-1]}"));
	EXPECT_REFUSED(-EINVAL, apply_text("{\"v\":2,\"type\":\"pair_create\",\"time\":1,"
					   "\"vm\":\"v\",\"primary\":\"node1\",\"disk_sizes\":\"x\"}"));
	EXPECT_REFUSED(-EINVAL, apply_text("{\"v\":2,\"type\":\"pair_create\",\"time\":1,"
					   "\"vm\":\"v\",\"primary\":\"node1\",\"nbd_port\":70000}"));
}

/* How many events the log holds. */
static size_t events_count(void)
{
	json_object *events = NULL;
	size_t n;

	cr_assert_eq(sdb_events_list(db, 0, 0, &events), 0);
	n = json_object_array_length(events);
	json_object_put(events);
	return n;
}

/* The event at INDEX is MESSAGE, about VM, from NODE, of kind "pair". */
static void expect_pair_event(size_t index, const char *message, const char *vm, const char *node)
{
	json_object *events = NULL, *e;

	cr_assert_eq(sdb_events_list(db, 0, 0, &events), 0);
	cr_assert_eq(json_object_array_length(events), index + 1);
	e = json_object_array_get_idx(events, index);
	cr_assert_str_eq(str_of(e, "message"), message);
	cr_assert_str_eq(str_of(e, "vm"), vm);
	cr_assert_str_eq(str_of(e, "node"), node);
	cr_assert_str_eq(str_of(e, "kind"), "pair");
	json_object_put(events);
}

/* A pair and its "pairing" event are one change: a refused create logs
 * nothing (it did, as a separate event, when a create raced the node rows). */
Test(msg, pair_create_logs_its_event)
{
	struct sdb_pair_spec nowhere = {.vm = "vm7", .primary = "node1", .backup = "node9",
					.event = "pairing vm7", .event_node = "node1"};
	struct sdb_pair_spec ok = {.vm = "vm7", .primary = "node1", .backup = "node2",
				   .event = "pairing vm7", .event_node = "node1"};
	size_t before;

	test_populate(db);
	before = events_count();
	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_pair_create, &nowhere));
	cr_assert_eq(events_count(), before, "a refused create logged an event");
	cr_assert_eq(APPLY(db, sdb_msg_pair_create, &ok), 0, "%s", sdb_errmsg(db));
	expect_pair_event(before, "pairing vm7", "vm7", "node1");
}

/* A transition and its event are one change: a refused one logs nothing. */
Test(msg, pair_update_logs_its_event)
{
	struct sdb_pair_change go = {.vm = "vm1", .expect_state = "creating", .state = "initial-sync",
				     .pair_event = "backup-prepared",
				     .event = "creating -> initial-sync (backup-prepared)",
				     .event_node = "node2"};
	size_t before;

	test_populate(db);
	before = events_count();
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &go), 0, "%s", sdb_errmsg(db));
	expect_pair_event(before, go.event, "vm1", "node2");
	EXPECT_REFUSED(-ESTALE, APPLY(db, sdb_msg_pair_update, &go));
	cr_assert_eq(events_count(), before + 1, "a refused transition logged an event");
}

/* The admin state of a node is its own field: maintenance leaves the membership state alone. */
Test(msg, node_admin_state)
{
	struct sdb_node_info n1 = {.name = "node1", .nodeid = 1};
	json_object *o = NULL;

	cr_assert_eq(APPLY(db, sdb_msg_node_upsert, &n1), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(APPLY(db, sdb_msg_node_state, "node1", "online", NULL), 0);
	test_expect_node(db, "node1", "online", "enabled");

	cr_assert_eq(APPLY(db, sdb_msg_node_admin, "node1", "maintenance", "enabled"), 0, "%s",
		     sdb_errmsg(db));
	test_expect_node(db, "node1", "online", "maintenance");

	/* the membership state moves on its own, the admin state stays */
	cr_assert_eq(APPLY(db, sdb_msg_node_state, "node1", "offline", "online"), 0);
	n1.address = "10.0.0.9";
	cr_assert_eq(APPLY(db, sdb_msg_node_upsert, &n1), 0);
	test_expect_node(db, "node1", "offline", "maintenance");

	EXPECT_REFUSED(-ESTALE, APPLY(db, sdb_msg_node_admin, "node1", "enabled", "enabled"));
	cr_assert(strstr(sdb_errmsg(db), "node 'node1' is maintenance, not enabled"),
		  "%s", sdb_errmsg(db));
	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_node_admin, "node7", "enabled", NULL));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_node_admin, "node1", "asleep", NULL));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_node_admin, "node1", "enabled", "offline"));
	cr_assert_eq(APPLY(db, sdb_msg_node_admin, "node1", "enabled", NULL), 0);
	cr_assert_eq(sdb_nodes_list(db, &o), 0);
	cr_assert_str_eq(str_of(json_object_array_get_idx(o, 0), "admin_state"), "enabled");
	json_object_put(o);
}

/* Issue 16: numbers above INT64_MAX are refused, not clamped to it (sqlite stores int64). */
Test(msg, numbers_above_int64_are_refused)
{
	static const char *const big[] = {
	    "{\"v\":2,\"type\":\"pair_progress\",\"time\":1,\"vm\":\"vm1\","
	    "\"bytes_done\":9223372036854775808,\"bytes_total\":1}",
	    "{\"v\":2,\"type\":\"pair_progress\",\"time\":1,\"vm\":\"vm1\",\"bytes_done\":1,"
	    "\"bytes_total\":18446744073709551615}",
	    "{\"v\":2,\"type\":\"pair_progress\",\"time\":1,\"vm\":\"vm1\",\"bytes_done\":1,"
	    "\"bytes_total\":2,\"disks\":[{\"target\":\"vda\",\"bytes_done\":9223372036854775808}]}",
	    "{\"v\":2,\"type\":\"event\",\"time\":9223372036854775808,\"kind\":\"k\",\"message\":\"m\"}",
	    "{\"v\":2,\"type\":\"pair_create\",\"time\":1,\"vm\":\"vm2\",\"primary\":\"node1\","
	    "\"disk_sizes\":[1024,9223372036854775808]}",
	    "{\"v\":2,\"type\":\"pair_create\",\"time\":1,\"vm\":\"vm2\",\"primary\":\"node1\","
	    "\"disk_sizes\":[18446744073709551615]}",
	};

	test_populate(db);
	for (size_t i = 0; i < ARRAY_SIZE(big); i++)
		EXPECT_REFUSED(-EINVAL, apply_text(big[i]));
	/* INT64_MAX itself is a number like any other */
	cr_assert_eq(apply_text("{\"v\":2,\"type\":\"pair_progress\",\"time\":1,\"vm\":\"vm1\","
				"\"bytes_done\":9223372036854775807,\"bytes_total\":1}"),
		     0, "%s", sdb_errmsg(db));
}

/*
 * Issue 13: pair_set changes the bandwidth of a running pair without a
 * transition: generation and changed_usec stay (an initial sync under way is
 * not started again), the event goes with it, and a bad value or an unknown
 * pair changes nothing.
 */
Test(msg, pair_set_bandwidth_keeps_the_generation)
{
	struct sdb_pair_settings set = {
	    .vm = "vm1", .bandwidth_mib = 5, .event = "bandwidth of vm1 set", .event_node = "node1"};
	struct sdb_pair_settings nobody = {.vm = "vm9", .bandwidth_mib = 5};
	struct sdb_pair_settings huge = {.vm = "vm1", .bandwidth_mib = SDB_BANDWIDTH_MAX_MIB + 1};
	json_object *o = NULL;
	int64_t gen, changed;
	size_t before;

	test_populate(db);
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	gen = int_of(o, "generation");
	changed = int_of(o, "changed_usec");
	json_object_put(o);
	before = events_count();

	cr_assert_eq(APPLY(db, sdb_msg_pair_set, &set), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert_eq(int_of(o, "bandwidth_mib"), 5);
	cr_assert_eq(int_of(o, "generation"), gen, "a setting is no transition");
	cr_assert_eq(int_of(o, "changed_usec"), changed);
	json_object_put(o);
	expect_pair_event(before, "bandwidth of vm1 set", "vm1", "node1");

	set.bandwidth_mib = 0; /* unlimited again */
	set.event = NULL;
	cr_assert_eq(APPLY(db, sdb_msg_pair_set, &set), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert_eq(int_of(o, "bandwidth_mib"), 0);
	json_object_put(o);

	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_pair_set, &nobody));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_pair_set, &huge));
	EXPECT_REFUSED(-EINVAL, apply_text("{\"v\":2,\"type\":\"pair_set\",\"time\":1,\"vm\":\"vm1\"}"));
	EXPECT_REFUSED(-EINVAL, apply_text("{\"v\":2,\"type\":\"pair_set\",\"time\":1,\"vm\":\"vm1\","
					   "\"bandwidth_mib\":-1}"));
	cr_assert_eq(sdb_msg_pair_set(NULL, NULL, NULL), -EINVAL);
}

/*
 * Issue 13, item 6: pair_verify records the last online verify as the pair's
 * "verify" (parsed JSON), with its event, no transition; what is not a JSON
 * object, a missing result or an unknown pair changes nothing.
 */
Test(msg, pair_verify_records_the_last_verify)
{
	struct sdb_pair_verify ver = {.vm = "vm1",
				      .result = "{\"result\":\"out-of-sync\",\"out_of_sync_bytes\":4096,"
						"\"ranges\":\"vda:0+4096\"}",
				      .event = "vm1: 4096 bytes out of sync in 1 range(s): vda:0+4096",
				      .event_node = "node1"};
	json_object *o = NULL, *v;
	int64_t gen;
	size_t before;

	test_populate(db);
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert_not(json_object_object_get_ex(o, "verify", &v) && v, "no verify before the first");
	gen = int_of(o, "generation");
	json_object_put(o);
	before = events_count();

	cr_assert_eq(APPLY(db, sdb_msg_pair_verify, &ver), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	v = json_object_object_get(o, "verify");
	cr_assert(json_object_is_type(v, json_type_object), "verify is shown parsed");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(v, "ranges")), "vda:0+4096");
	cr_assert_eq(int_of(v, "out_of_sync_bytes"), 4096);
	cr_assert_eq(int_of(o, "generation"), gen, "a verify is no transition");
	json_object_put(o);
	expect_pair_event(before, "vm1: 4096 bytes out of sync in 1 range(s): vda:0+4096", "vm1",
			  "node1");

	ver.result = "{\"result\":\"in-sync\"}"; /* the next replaces it */
	ver.event = NULL;
	cr_assert_eq(APPLY(db, sdb_msg_pair_verify, &ver), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	v = json_object_object_get(o, "verify");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(v, "result")), "in-sync");
	cr_assert_not(json_object_object_get_ex(v, "ranges", NULL));
	json_object_put(o);

	EXPECT_REFUSED(-ENOENT, APPLY(db, sdb_msg_pair_verify,
				      &((struct sdb_pair_verify){.vm = "vm9", .result = "{}"})));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_pair_verify,
				      &((struct sdb_pair_verify){.vm = "vm1", .result = "[1]"})));
	EXPECT_REFUSED(-EINVAL, APPLY(db, sdb_msg_pair_verify,
				      &((struct sdb_pair_verify){.vm = "vm1", .result = "{oops"})));
	EXPECT_REFUSED(-EINVAL, apply_text("{\"v\":2,\"type\":\"pair_verify\",\"time\":1,"
					   "\"vm\":\"vm1\"}"));
	cr_assert_eq(sdb_msg_pair_verify(&((struct sdb_pair_verify){.vm = "vm1"}), NULL, NULL),
		     -EINVAL);
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	v = json_object_object_get(o, "verify");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(v, "result")), "in-sync",
			 "a refused pair_verify changed nothing");
	json_object_put(o);
}

static json_object *copy_of_vm1(void)
{
	json_object *o = NULL, *copy;

	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0, "%s", sdb_errmsg(db));
	cr_assert(!json_object_object_get_ex(o, "copy_kind", NULL), "the columns are \"copy\" only");
	copy = json_object_get(json_object_object_get(o, "copy"));
	json_object_put(o);
	return copy;
}

/*
 * Issue 13, honest fallback: the progress records which kind of copy runs
 * (schema 7). A progress without it (a hasvcd before) keeps the one recorded;
 * the transition into initial-sync clears it until the new copy says; the
 * API's "copy" carries the pair's bytes beside it.
 */
Test(msg, pair_progress_records_the_copy_kind)
{
	struct sdb_pair_change lost = {.vm = "vm1", .state = "degraded", .pair_event = "mirror-failed"};
	struct sdb_pair_change again = {
	    .vm = "vm1", .state = "creating", .pair_event = "host-returned"};
	struct sdb_pair_change prepared = {
	    .vm = "vm1", .state = "initial-sync", .pair_event = "backup-prepared"};
	struct sdb_disk_spec copied[] = {
	    {.target = "vda", .bytes_done = 500, .bytes_total = 500, .ready = true},
	    {.target = "vdb", .bytes_done = 100, .bytes_total = 500}};
	json_object *copy;

	test_populate(db);
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &prepared), 0, "%s", sdb_errmsg(db));
	copy = copy_of_vm1();
	cr_assert_null(copy, "no copy recorded yet");
	cr_assert_eq(APPLY(db, sdb_msg_pair_copy_progress, "vm1", 100, 1000, NULL, 0,
			   &(struct sdb_copy_kind){"full", "new backup"}),
		     0, "%s", sdb_errmsg(db));
	copy = copy_of_vm1();
	cr_assert_str_eq(str_of(copy, "kind"), "full");
	cr_assert_str_eq(str_of(copy, "reason"), "new backup");
	cr_assert_eq(int_of(copy, "bytes_done"), 100);
	cr_assert_eq(int_of(copy, "bytes_total"), 1000);
	cr_assert(json_object_get_boolean(json_object_object_get(copy, "running")));
	json_object_put(copy);

	/* an older proposer's progress: the kind stays */
	cr_assert_eq(APPLY(db, sdb_msg_pair_progress, "vm1", 600, 1000, copied, 2), 0, "%s",
		     sdb_errmsg(db));
	copy = copy_of_vm1();
	cr_assert_str_eq(str_of(copy, "kind"), "full");
	cr_assert_eq(int_of(copy, "bytes_done"), 600);
	json_object_put(copy);

	/* a builder without a kind refuses, a bad kind is refused by the apply (bad messages) */
	{
		char *buf = NULL;
		size_t len;

		cr_assert_eq(sdb_msg_pair_copy_progress("vm1", 1, 2, NULL, 0,
							&(struct sdb_copy_kind){NULL, "x"}, &buf,
							&len),
			     -EINVAL);
		cr_assert_null(buf);
	}

	/* out of initial-sync and back: the old kind does not say what runs now */
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &lost), 0, "%s", sdb_errmsg(db));
	copy = copy_of_vm1();
	cr_assert_not_null(copy, "kept after the copy, until a new initial sync");
	cr_assert_not(json_object_get_boolean(json_object_object_get(copy, "running")));
	json_object_put(copy);
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &again), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &prepared), 0, "%s", sdb_errmsg(db));
	copy = copy_of_vm1();
	cr_assert_null(copy, "a new initial sync clears the last copy's kind");
	/* and its bytes: the CLI drew a reverse pair at the forward pair's 100 % */
	{
		json_object *o = NULL, *disks;

		cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0, "%s", sdb_errmsg(db));
		cr_assert_eq(int_of(o, "bytes_done"), 0);
		cr_assert_eq(int_of(o, "bytes_total"), 0);
		disks = json_object_object_get(o, "disks");
		cr_assert_eq(json_object_array_length(disks), 2, "the disks stay, with their sizes");
		for (size_t i = 0; i < 2; i++) {
			json_object *d = json_object_array_get_idx(disks, i);

			cr_assert_eq(int_of(d, "bytes_done"), 0);
			cr_assert_gt(int_of(d, "bytes_total"), 0);
			cr_assert_not(json_object_get_boolean(json_object_object_get(d, "ready")));
		}
		json_object_put(o);
	}
	cr_assert_eq(APPLY(db, sdb_msg_pair_copy_progress, "vm1", 0, 1000, NULL, 0,
			   &(struct sdb_copy_kind){"delta", "paused jobs resumed"}),
		     0, "%s", sdb_errmsg(db));
	copy = copy_of_vm1();
	cr_assert_str_eq(str_of(copy, "kind"), "delta");
	json_object_put(copy);
}

/*
 * Issue 13, item 4 (schema 9): the backup-prepared records the identity the
 * backup host wrote on the backup's disks and why the disks it found were
 * not the ones left ("" when they were: NULL); a change of primary or backup
 * forgets both; one without the other is refused.
 */
Test(msg, the_backup_disk_identity_is_recorded_and_forgotten_with_the_roles)
{
	struct sdb_pair_change prepared = {.vm = "vm1",
					   .state = "initial-sync",
					   .pair_event = "backup-prepared",
					   .backup_disk_id = "aaaa1111",
					   .backup_disk_reason = ""};
	struct sdb_pair_change lost = {.vm = "vm1", .state = "degraded", .pair_event = "backup-lost"};
	struct sdb_pair_change back = {.vm = "vm1", .state = "creating", .pair_event = "host-returned"};
	struct sdb_pair_change found = prepared;
	struct sdb_pair_change swapped = {.vm = "vm1", .primary = "node2", .backup = "node1"};
	json_object *o = NULL;

	test_populate(db);
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &prepared), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert_str_eq(str_of(o, "backup_disk_id"), "aaaa1111");
	cr_assert(json_object_is_type(json_object_object_get(o, "backup_disk_reason"), json_type_null),
		  "the disks were the ones left");
	json_object_put(o);

	/* the backup is lost and comes back with other disks */
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &lost), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &back), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert_str_eq(str_of(o, "backup_disk_id"), "aaaa1111", "kept while the roles stay");
	json_object_put(o);
	found.backup_disk_id = "bbbb2222";
	found.backup_disk_reason = "vda.qcow2 carries no hasvc identity";
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &found), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert_str_eq(str_of(o, "backup_disk_id"), "bbbb2222");
	cr_assert_str_eq(str_of(o, "backup_disk_reason"), "vda.qcow2 carries no hasvc identity");
	json_object_put(o);

	/* roles swapped (a promotion, a migration): the record was of the other host's disks */
	cr_assert_eq(APPLY(db, sdb_msg_pair_update, &swapped), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	cr_assert(json_object_is_type(json_object_object_get(o, "backup_disk_id"), json_type_null));
	cr_assert(json_object_is_type(json_object_object_get(o, "backup_disk_reason"), json_type_null));
	json_object_put(o);

	EXPECT_REFUSED(-EINVAL, apply_text("{\"v\":2,\"type\":\"pair_update\",\"time\":1,\"vm\":\"vm1\","
					   "\"backup_disk_id\":\"cccc\"}"));
}
