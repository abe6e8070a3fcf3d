/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * state_test: helpers shared by the state/ tests: a scratch directory per
 * test, reading a file whole (to prove a refused file was left untouched),
 * and building-then-applying a change in one line.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sdb.h"
#include "sdb_msg.h"

/* A fresh scratch directory; free the string, remove with test_rmdir(). */
static inline char *test_mkdtemp(void)
{
	char *d = strdup("/tmp/hasvc-state-test.XXXXXX");

	cr_assert(d && mkdtemp(d), "mkdtemp: %s", strerror(errno));
	return d;
}

static inline void test_rmdir(const char *dir)
{
	char *cmd;

	if (!dir || strncmp(dir, "/tmp/hasvc-state-test.", 22) != 0)
		return;
	if (asprintf(&cmd, "rm -rf '%s'", dir) > 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
		free(cmd);
	}
}

static inline char *test_join(const char *dir, const char *name)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* A fresh database in a fresh scratch directory (*RET_DIR); undo with test_db_free(). */
static inline struct sdb *test_db_new(char **ret_dir)
{
	struct sdb *db = NULL;
	char *error = NULL, *path;

	*ret_dir = test_mkdtemp();
	path = test_join(*ret_dir, "state.db");
	cr_assert_eq(sdb_open(path, &db, &error), 0, "%s", error);
	free(path);
	return db;
}

static inline void test_db_free(struct sdb *db, char *dir)
{
	sdb_close(db);
	test_rmdir(dir);
	free(dir);
}

/* The whole content of PATH (malloc'd) and its size. */
static inline char *test_read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, n;
	char chunk[65536];

	cr_assert(f, "cannot open %s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = realloc(buf, len + n + 1);
		cr_assert(buf);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		buf = calloc(1, 1);
	*ret_len = len;
	return buf;
}

static inline void test_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert(f, "cannot create %s: %s", path, strerror(errno));
	cr_assert(fwrite(data, 1, len, f) == len);
	cr_assert(fclose(f) == 0);
}

/* Applies a built message (freeing it); returns sdb_apply's result. */
static inline int test_apply(struct sdb *db, int build_result, char *buf, size_t len)
{
	int r;

	cr_assert_eq(build_result, 0, "building a message failed: %s", strerror(-build_result));
	r = sdb_apply(db, 1, buf, len);
	free(buf);
	return r;
}

#define APPLY(db, builder, ...)                                                                    \
	({                                                                                         \
		char *apply_buf_ = NULL;                                                           \
		size_t apply_len_ = 0;                                                             \
		int apply_r_ = builder(__VA_ARGS__, &apply_buf_, &apply_len_);                     \
		test_apply(db, apply_r_, apply_buf_, apply_len_);                                  \
	})

/* Node NAME is in membership STATE and admin state ADMIN. */
static inline void test_expect_node(struct sdb *db, const char *name, const char *state,
				    const char *admin)
{
	json_object *o = NULL;

	cr_assert_eq(sdb_node_get(db, name, &o), 0, "%s", sdb_errmsg(db));
	cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "state")), state);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "admin_state")), admin);
	json_object_put(o);
}

/* Two nodes, node1 and node2, and pair vm1 between them. */
static inline void test_populate(struct sdb *db)
{
	struct sdb_node_info n1 = {.name = "node1", .nodeid = 1, .address = "10.0.0.1"};
	struct sdb_node_info n2 = {.name = "node2", .nodeid = 2, .address = "10.0.0.2"};
	struct sdb_disk_spec disks[] = {{.target = "vda", .bytes_total = 1000},
					{.target = "vdb", .bytes_total = 500}};
	struct sdb_pair_spec pair = {.vm = "vm1",
				     .uuid = "0d7e3c2a-2f1b-4c39-9d45-8e0c8c3e2a11",
				     .primary = "node1",
				     .backup = "node2",
				     .disks = disks,
				     .n_disks = 2};

	cr_assert_eq(APPLY(db, sdb_msg_node_upsert, &n1), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(APPLY(db, sdb_msg_node_upsert, &n2), 0, "%s", sdb_errmsg(db));
	cr_assert_eq(APPLY(db, sdb_msg_pair_create, &pair), 0, "%s", sdb_errmsg(db));
}
