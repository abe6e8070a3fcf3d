/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_seeds: writes the seed corpus of fuzz_state_apply: one file per
 * scenario, each a few change messages made by state/'s own builders and
 * separated by NUL bytes (a node, a pair on it, its updates, a fence run...).
 * Seeds from the builders follow the message protocol as it changes; run
 * `fuzz_seeds tests/fuzz/corpus/state_apply` after changing a message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdb_msg.h"

struct seed {
	FILE *f;
	unsigned n;
};

static void add(struct seed *s, int built, char *buf, size_t len)
{
	if (built < 0) {
		fprintf(stderr, "fuzz_seeds: a builder failed: %s\n", strerror(-built));
		exit(1);
	}
	if (s->n++)
		fputc('\0', s->f);
	fwrite(buf, 1, len, s->f);
	free(buf);
}

static FILE *seed_open(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "fuzz_seeds: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return f;
}

#define ADD(s, call)                                                                               \
	do {                                                                                       \
		char *buf_;                                                                        \
		size_t len_;                                                                       \
		int r_ = call;                                                                     \
		add(s, r_, buf_, len_);                                                            \
	} while (0)

static void nodes(struct seed *s)
{
	struct sdb_node_info n1 = {.name = "node1", .nodeid = 1, .address = "10.0.0.1"};
	struct sdb_node_info n2 = {.name = "node2", .nodeid = 2, .address = "10.0.0.2"};

	ADD(s, sdb_msg_node_upsert(&n1, &buf_, &len_));
	ADD(s, sdb_msg_node_upsert(&n2, &buf_, &len_));
	ADD(s, sdb_msg_node_state("node1", "online", NULL, &buf_, &len_));
	ADD(s, sdb_msg_node_state("node2", "online", NULL, &buf_, &len_));
}

int main(int argc, char **argv)
{
	static const struct sdb_disk_spec disks[] = {{.target = "vda", .bytes_total = 1 << 20}};
	static const uint64_t sizes[] = {1 << 20};
	struct sdb_pair_spec pair = {
		.vm = "vm1", .primary = "node1", .backup = "node2", .mode = "sync",
		.domain_xml = "<domain><name>vm1</name></domain>", .disks = disks, .n_disks = 1,
		.disk_sizes = sizes, .n_disk_sizes = 1, .nbd_port = 10809, .event = "pairing",
		.event_node = "node1"};
	struct sdb_pair_change change = {.vm = "vm1", .expect_state = "creating",
					 .expect_generation = 1, .state = "initial-sync",
					 .event = "creating -> initial-sync", .event_node = "node2"};
	struct sdb_fence_start fence = {.ref = "f1", .target = "node1", .agent = "fence_ipmilan",
					.level = 1, .action = "off"};
	struct seed s;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR\n");
		return 2;
	}
	s = (struct seed){seed_open(argv[1], "nodes"), 0};
	nodes(&s);
	fclose(s.f);

	s = (struct seed){seed_open(argv[1], "pair"), 0};
	nodes(&s);
	ADD(&s, sdb_msg_pair_create(&pair, &buf_, &len_));
	ADD(&s, sdb_msg_pair_update(&change, &buf_, &len_));
	ADD(&s, sdb_msg_pair_progress("vm1", 512, 1 << 20, disks, 1, &buf_, &len_));
	ADD(&s, sdb_msg_pair_set(&(struct sdb_pair_settings){.vm = "vm1", .bandwidth_mib = 5},
				 &buf_, &len_));
	ADD(&s, sdb_msg_pair_verify(&(struct sdb_pair_verify){.vm = "vm1",
							     .result = "{\"result\":\"in-sync\"}"},
				    &buf_, &len_));
	ADD(&s, sdb_msg_op_begin("vm1", "switchover", "node1", "op1", &buf_, &len_));
	ADD(&s, sdb_msg_op_end("vm1", "op1", &buf_, &len_));
	ADD(&s, sdb_msg_pair_delete("vm1", NULL, &buf_, &len_));
	fclose(s.f);

	s = (struct seed){seed_open(argv[1], "fence"), 0};
	nodes(&s);
	ADD(&s, sdb_msg_node_state("node1", "fencing", "online", &buf_, &len_));
	ADD(&s, sdb_msg_fence_start(&fence, &buf_, &len_));
	ADD(&s, sdb_msg_fence_finish("f1", "success", "powered off", &buf_, &len_));
	ADD(&s, sdb_msg_node_state("node1", "fenced", "fencing", &buf_, &len_));
	ADD(&s, sdb_msg_event("node2", "vm1", "fence", "node1 fenced", NULL, &buf_, &len_));
	ADD(&s, sdb_msg_node_delete("node2", &buf_, &len_));
	fclose(s.f);
	return 0;
}
