// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the digest and the dump: SHA-256 against the FIPS 180-2 vectors;
 * two stores that applied the same messages have the same digest and any
 * difference shows; a dump loaded elsewhere gives the same digest; a dump of
 * another schema, or one that cannot be written (disk full), leaves the
 * target as it was.
 */
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

TestSuite(digest, .init = setup, .fini = teardown);

static struct sdb *open_db(const char *name)
{
	_cleanup_free_ char *path = test_join(dir, name);
	struct sdb *db = NULL;
	char *error = NULL;

	cr_assert_eq(sdb_open(path, &db, &error), 0, "%s", error);
	return db;
}

Test(digest, sha256_vectors)
{
	static const struct {
		const char *in, *out;
	} v[] = {
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	struct sdb__sha256 c;
	uint8_t md[32];
	char hex[65];

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		sdb__sha256_hex(v[i].in, strlen(v[i].in), hex);
		cr_assert_str_eq(hex, v[i].out, "vector %zu", i);
	}
	/* a million 'a', fed in odd pieces */
	sdb__sha256_init(&c);
	for (int i = 0; i < 1000000; i += 997) {
		char a[997];

		memset(a, 'a', sizeof(a));
		sdb__sha256_update(&c, a, 1000000 - i < 997 ? (size_t)(1000000 - i) : sizeof(a));
	}
	sdb__sha256_final(&c, md);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Applies the same message bytes to every store given. */
static void apply_all(struct sdb **dbs, size_t n, int build_result, char *buf, size_t len)
{
	cr_assert_eq(build_result, 0);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sdb_apply(dbs[i], 1, buf, len), 0, "%s", sdb_errmsg(dbs[i]));
	free(buf);
}

#define APPLY_ALL(dbs, n, builder, ...)                                                            \
	do {                                                                                       \
		char *_b = NULL;                                                                   \
		size_t _l = 0;                                                                     \
		int _r = builder(__VA_ARGS__, &_b, &_l);                                           \
		apply_all(dbs, n, _r, _b, _l);                                                     \
	} while (0)

Test(digest, same_messages_same_digest)
{
	struct sdb *dbs[2] = {open_db("a.db"), open_db("b.db")};
	struct sdb_node_info n1 = {.name = "node1", .nodeid = 1};
	struct sdb_node_info n2 = {.name = "node2", .nodeid = 2};
	struct sdb_pair_spec p = {.vm = "vm1", .primary = "node1", .backup = "node2"};
	char a[65], b[65];

	cr_assert_eq(sdb_digest(dbs[0], a), 0);
	cr_assert_eq(sdb_digest(dbs[1], b), 0);
	cr_assert_str_eq(a, b, "two empty stores differ");

	APPLY_ALL(dbs, 2, sdb_msg_node_upsert, &n1);
	APPLY_ALL(dbs, 2, sdb_msg_node_upsert, &n2);
	APPLY_ALL(dbs, 2, sdb_msg_pair_create, &p);
	APPLY_ALL(dbs, 2, sdb_msg_event, "node1", "vm1", "create", "vm1 paired", NULL);
	cr_assert_eq(sdb_digest(dbs[0], a), 0);
	cr_assert_eq(sdb_digest(dbs[1], b), 0);
	cr_assert_str_eq(a, b);

	/* one more change on one side shows */
	APPLY_ALL(dbs, 1, sdb_msg_node_state, "node2", "online", NULL);
	cr_assert_eq(sdb_digest(dbs[0], a), 0);
	cr_assert_str_neq(a, b);
	sdb_close(dbs[0]);
	sdb_close(dbs[1]);
}

/* The digest is kept between calls: every kind of write must still show in it. */
Test(digest, cached_digest_follows_every_write)
{
	struct sdb *db = open_db("c.db"), *empty = open_db("e.db");
	struct sdb_node_info n1 = {.name = "node1", .nodeid = 1};
	json_object *dump = NULL;
	char d0[65], d1[65], again[65], e[65];

	cr_assert_eq(sdb_digest(db, d0), 0);
	cr_assert_eq(APPLY(db, sdb_msg_node_upsert, &n1), 0);
	cr_assert_eq(sdb_digest(db, d1), 0);
	cr_assert_str_neq(d0, d1, "a message applied after a digest does not show");
	cr_assert_eq(sdb_digest(db, again), 0);
	cr_assert_str_eq(d1, again);
	cr_assert_eq(APPLY(db, sdb_msg_event, NULL, NULL, "k", "one more", NULL), 0);
	cr_assert_eq(sdb_digest(db, again), 0);
	cr_assert_str_neq(d1, again, "an event does not show");

	/* a whole snapshot loaded (tables wiped, then filled) shows too */
	cr_assert_eq(sdb__dump(empty, &dump), 0);
	cr_assert_eq(sdb__load(db, dump), 0, "%s", sdb_errmsg(db));
	json_object_put(dump);
	cr_assert_eq(sdb_digest(db, again), 0);
	cr_assert_eq(sdb_digest(empty, e), 0);
	cr_assert_str_eq(again, e, "the loaded snapshot does not show");
	sdb_close(db);
	sdb_close(empty);
}

static json_object *dump_of(struct sdb *db)
{
	json_object *dump = NULL;

	cr_assert_eq(sdb__dump(db, &dump), 0, "%s", sdb_errmsg(db));
	return dump;
}

Test(digest, dump_loads_elsewhere_identically)
{
	struct sdb *src = open_db("src.db"), *dst = open_db("dst.db");
	struct sdb_fence_start f = {
	    .ref = "f", .target = "node2", .agent = "fence_ipmilan", .action = "off"};
	json_object *dump, *detail = json_object_new_object();
	char a[65], b[65];

	json_object_object_add(detail, "note", json_object_new_string("ünïcödé \"quoted\""));
	test_populate(src);
	cr_assert_eq(APPLY(src, sdb_msg_event, "node1", "vm1", "k", "with detail", detail), 0);
	cr_assert_eq(APPLY(src, sdb_msg_fence_start, &f), 0);
	cr_assert_eq(APPLY(src, sdb_msg_op_begin, "vm1", "switchover", "node1", "r1"), 0);
	json_object_put(detail);

	/* the target has other, older content: all of it goes */
	cr_assert_eq(APPLY(dst, sdb_msg_event, NULL, NULL, "k", "old stuff", NULL), 0);

	dump = dump_of(src);
	cr_assert_eq(sdb__load(dst, dump), 0, "%s", sdb_errmsg(dst));
	json_object_put(dump);
	cr_assert_eq(sdb_digest(src, a), 0);
	cr_assert_eq(sdb_digest(dst, b), 0);
	cr_assert_str_eq(a, b);

	/* and both go on alike: ids continue from the same counters */
	cr_assert_eq(APPLY(src, sdb_msg_event, NULL, NULL, "k", "next", NULL), 0);
	dump = dump_of(src);
	json_object *events = json_object_object_get(dump, "events");
	json_object *last = json_object_array_get_idx(events, json_object_array_length(events) - 1);
	cr_assert_eq(json_object_get_int(json_object_array_get_idx(last, 0)), 2);
	json_object_put(dump);
	sdb_close(src);
	sdb_close(dst);
}

Test(digest, bad_dumps_change_nothing)
{
	struct sdb *src = open_db("src.db"), *dst = open_db("dst.db");
	json_object *dump;
	char a[65], b[65];

	test_populate(src);
	cr_assert_eq(APPLY(dst, sdb_msg_event, NULL, NULL, "k", "mine", NULL), 0);
	cr_assert_eq(sdb_digest(dst, a), 0);

	dump = dump_of(src);
	json_object_object_add(dump, "schema", json_object_new_int(999));
	cr_assert_eq(sdb__load(dst, dump), -EPROTONOSUPPORT);
	json_object_put(dump);

	dump = dump_of(src);
	json_object_array_add(json_object_array_get_idx(json_object_object_get(dump, "nodes"), 0),
			      json_object_new_int(1)); /* a column too many */
	cr_assert_eq(sdb__load(dst, dump), -EINVAL);
	json_object_put(dump);

	/* a pair whose primary is not in the dump breaks a foreign key half way */
	dump = dump_of(src);
	json_object_array_del_idx(json_object_object_get(dump, "nodes"), 0, 1);
	cr_assert_lt(sdb__load(dst, dump), 0);
	json_object_put(dump);

	/* disk full half way through */
	for (int i = 0; i < 200; i++)
		cr_assert_eq(APPLY(src, sdb_msg_event, "node1", "vm1", "k",
				   "an event long enough to need some pages when there are many of "
				   "them, which there are",
				   NULL),
			     0);
	cr_assert_eq(sqlite3_exec(dst->conn, "PRAGMA max_page_count = 1", NULL, NULL, NULL),
		     SQLITE_OK);
	dump = dump_of(src);
	cr_assert_eq(sdb__load(dst, dump), -ENOSPC, "%s", sdb_errmsg(dst));
	json_object_put(dump);

	cr_assert_eq(sdb_digest(dst, b), 0);
	cr_assert_str_eq(a, b, "a refused dump changed the state");
	sdb_close(src);
	sdb_close(dst);
}
