// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pairs_test: the harness of the pairs tests (see pairs_test.h): a scratch
 * directory with a three-node hasvc.conf and this host's state, the core and
 * the pairs built as hasvcd builds them, over the fakes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_cleanup.h"
#include "hs_core.h"
#include "pairs_test.h"
#include "sdb.h"
#include "sdb_msg.h"

struct pt pt;

void pt_propose(int built, char *buf, size_t len)
{
	cr_assert_eq(built, 0, "a test message does not build: %d", built);
	cr_assert_eq(hs_state_propose(pt.core, buf, len), 0);
	pt_deliver();
}

void pt_setup(const char *self)
{
	struct hs_config *config = NULL;
	char path[128], *error = NULL;
	FILE *f;

	pt_revive_runs = true;
	snprintf(pt.dir, sizeof(pt.dir), "/tmp/hasvc-test-pairs-XXXXXX");
	cr_assert_not_null(mkdtemp(pt.dir));
	snprintf(path, sizeof(path), "%s/hasvc.conf", pt.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "[daemon]\nnode = %s\nstate_dir = %s\napi_socket = %s/api.sock\n", self, pt.dir,
		pt.dir);
	for (int i = 1; i <= 3; i++)
		fprintf(f, "[node node%d]\nnodeid = %d\naddress = 10.0.0.%d\n", i, i, i);
	fclose(f);
	cr_assert_eq(hs_config_load(path, &config, &error), 0, "config: %s", error);
	cr_assert_eq(hs_core_new(config, &pt.core), 0);
	cr_assert_eq(hs_pairs_new(pt.core, &pt.pairs), 0);
	pt_cluster_form();
	for (uint32_t i = 1; i <= 3; i++) {
		char name[16], *buf = NULL;
		size_t len;

		snprintf(name, sizeof(name), "node%u", i);
		int built = sdb_msg_node_upsert(&(struct sdb_node_info){.name = name, .nodeid = i}, &buf,
					    &len);

		pt_propose(built, buf, len);
		pt_node_state(name, "online");
	}
}

void pt_teardown(void)
{
	char cmd[160];

	hs_pairs_free(pt.pairs);
	hs_core_free(pt.core);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pt.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", pt.dir);
	memset(&pt, 0, sizeof(pt));
}

void pt_node_admin(const char *node, const char *admin_state)
{
	char *buf = NULL;
	size_t len;

	int built = sdb_msg_node_admin(node, admin_state, NULL, &buf, &len);

	pt_propose(built, buf, len);
}

void pt_node_state(const char *node, const char *state)
{
	char *buf = NULL;
	size_t len;

	int built = sdb_msg_node_state(node, state, NULL, &buf, &len);

	pt_propose(built, buf, len);
}

void pt_pair_change(const struct sdb_pair_change *c)
{
	char *buf = NULL;
	size_t len;

	int built = sdb_msg_pair_update(c, &buf, &len);

	pt_propose(built, buf, len);
}

void pt_pair_put(const char *vm, const char *primary, const char *backup, const char *state)
{
	static const uint64_t sizes[] = {1 << 20};
	const struct sdb_disk_spec disk = {.target = "vda", .bytes_total = 1 << 20};
	char *buf = NULL;
	size_t len;
	struct sdb_pair_spec spec = {
		.vm = vm,
		.primary = primary,
		.backup = backup,
		.state = state,
		.disks = &disk,
		.n_disks = 1,
		.domain_xml = "<domain type='kvm'/>",
		.disk_sizes = sizes,
		.n_disk_sizes = 1,
		.nbd_port = 10809,
	};

	int built = sdb_msg_pair_create(&spec, &buf, &len);

	pt_propose(built, buf, len);
	cr_assert_str_eq(pt_pair_state(vm), state, "the pair %s was not created", vm);
}

struct hs_pair pt_pair(const char *vm)
{
	struct hs_pair v = {0};

	cr_assert_eq(hs_core_pair_get(pt.core, vm, &v), 0, "no pair %s", vm);
	return v;
}

const char *pt_pair_state(const char *vm)
{
	struct hs_pair v;
	const char *name;

	if (hs_core_pair_get(pt.core, vm, &v) < 0)
		return "gone";
	name = hs_pair_state_name(v.state);
	hs_pair_release(&v);
	return name;
}

uint64_t pt_events(const char *kind, const char *text)
{
	uint64_t n = 0;

	cr_assert_eq(sdb_events_count(pt.core->db, kind, text, &n), 0);
	return n;
}

void pt_round(void)
{
	hs_pairs_cron(pt.pairs);
	pt_deliver();
}

void pt_reply_fn(void *userdata, int result, const struct hs_pairs_answer *answer)
{
	struct pt_reply *r = userdata;

	r->got = true;
	r->result = result;
	snprintf(r->message, sizeof(r->message), "%s", answer && answer->message ? answer->message : "");
	snprintf(r->state, sizeof(r->state), "%s", answer && answer->state ? answer->state : "");
}
