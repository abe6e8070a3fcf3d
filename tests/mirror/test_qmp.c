// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the qmp engine's reading of query-block-jobs (mirror_qmp.c): our
 * job of each disk is found by its id ("hs-vda"), others are ignored, and a
 * job is READY in hasvc's sense only when nothing is owed. The answers are
 * the shapes QEMU 10.0 gave in docs/datapath-experiments.md part A.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "mirror_internal.h"

static struct mirror_disk disks[] = {{.target = "vda"}, {.target = "vdb"}};
static const struct mirror_domain dom = {.name = "vm1", .disks = disks, .n_disks = 2};

static void parse(const char *answer, struct mirror__qmp_job *jobs)
{
	json_object *list = json_tokener_parse(answer);

	cr_assert_not_null(list);
	mirror__qmp_jobs_parse(list, &dom, jobs);
	json_object_put(list);
}

Test(qmp, ours_are_found_by_id_others_ignored)
{
	struct mirror__qmp_job jobs[2];

	parse("[{\"device\":\"copy-vda-libvirt-1-format\",\"type\":\"mirror\",\"status\":\"ready\","
	      "\"paused\":false,\"offset\":5,\"len\":5,\"actively-synced\":true},"
	      "{\"device\":\"hs-vdb\",\"type\":\"mirror\",\"status\":\"running\",\"paused\":false,"
	      "\"offset\":1048576,\"len\":268435456,\"io-status\":\"ok\"}]",
	      jobs);
	cr_assert_not(jobs[0].exists, "libvirt's job is not ours");
	cr_assert(jobs[1].exists);
	cr_assert_not(jobs[1].ready, "a job still copying is not ready");
	cr_assert_eq(jobs[1].offset, 1048576);
	cr_assert_eq(jobs[1].len, 268435456);
	cr_assert_str_eq(jobs[1].status, "running");
}

Test(qmp, a_synced_write_blocking_job_is_ready)
{
	struct mirror__qmp_job jobs[2];

	parse("[{\"device\":\"hs-vda\",\"status\":\"ready\",\"paused\":false,\"ready\":true,"
	      "\"offset\":268435456,\"len\":268435456,\"actively-synced\":true,\"io-status\":\"ok\"}]",
	      jobs);
	cr_assert(jobs[0].exists && jobs[0].ready);
	cr_assert_not(jobs[1].exists);
}

Test(qmp, a_job_paused_on_its_target_error_owes_what_was_written)
{
	struct mirror__qmp_job jobs[2];

	parse("[{\"device\":\"hs-vda\",\"status\":\"standby\",\"paused\":true,\"ready\":true,"
	      "\"offset\":268435456,\"len\":276824064,\"actively-synced\":false,"
	      "\"io-status\":\"failed\"}]",
	      jobs);
	cr_assert(jobs[0].exists && jobs[0].paused && !jobs[0].ready);
	cr_assert_eq(jobs[0].len - jobs[0].offset, 8 << 20);
	cr_assert_str_eq(jobs[0].io_status, "failed");
}

Test(qmp, a_resumed_ready_job_is_not_ready_before_its_delta_is_copied)
{
	struct mirror__qmp_job jobs[2];

	/* QEMU says "ready" again at once after block-job-resume */
	parse("[{\"device\":\"hs-vda\",\"status\":\"ready\",\"paused\":false,\"ready\":true,"
	      "\"offset\":268435456,\"len\":276824064,\"actively-synced\":false}]",
	      jobs);
	cr_assert_not(jobs[0].ready, "the pair must not be in-sync with 8 MiB owed");
}

Test(qmp, a_background_job_is_ready_when_caught_up)
{
	struct mirror__qmp_job jobs[2];

	parse("[{\"device\":\"hs-vda\",\"status\":\"ready\",\"paused\":false,\"ready\":true,"
	      "\"offset\":1000,\"len\":1000,\"actively-synced\":false}]",
	      jobs);
	cr_assert(jobs[0].ready);
}

/*
 * x-debug-query-block-graph as QEMU 10.0 answered it in the middle of a swap
 * (tests/lab/exp_quorum_swap.sh), the quorum renamed as mirror_qmp_target.c
 * names it: the job hs-vda writes into hs-q-vda, whose children are edges.
 */
#define GRAPH_NODES                                                                             \
	"\"nodes\":[{\"name\":\"hs-nbd-vda-2\",\"type\":\"block-driver\",\"id\":9},"           \
	"{\"name\":\"#block176\",\"type\":\"block-driver\",\"id\":2},"                          \
	"{\"name\":\"hs-q-vda\",\"type\":\"block-driver\",\"id\":4},"                           \
	"{\"name\":\"hs-nbd-vda-1\",\"type\":\"block-driver\",\"id\":8},"                       \
	"{\"name\":\"libvirt-1-format\",\"type\":\"block-driver\",\"id\":6},"                   \
	"{\"name\":\"hs-vda\",\"type\":\"block-job\",\"id\":5},"                                \
	"{\"name\":\"\",\"type\":\"block-backend\",\"id\":3}]"
#define EDGE(parent, child, name)                                                               \
	"{\"name\":\"" name "\",\"parent\":" #parent ",\"perm\":[\"write\"],\"shared-perm\":[],"  \
	"\"child\":" #child "}"

static int graph_child(const char *answer, const char *parent, char *node, char *edge)
{
	json_object *graph = json_tokener_parse(answer);
	int e;

	cr_assert_not_null(graph, "test input is JSON: %s", answer);
	e = mirror__qmp_graph_child(graph, parent, node, 128, edge, 64);
	json_object_put(graph);
	return e;
}

Test(qmp, the_quorums_one_child_is_found_with_its_edge)
{
	char node[128] = "", edge[64] = "";

	cr_assert_eq(graph_child("{" GRAPH_NODES ",\"edges\":[" EDGE(2, 6, "backing") ","
				 EDGE(4, 9, "children.1") "," EDGE(5, 4, "target") "]}",
				 "hs-q-vda", node, edge),
		     0);
	cr_assert_str_eq(node, "hs-nbd-vda-2");
	cr_assert_str_eq(edge, "children.1");
}

Test(qmp, a_quorum_left_with_two_children_is_refused_not_guessed)
{
	char node[128] = "", edge[64] = "";

	cr_assert_eq(graph_child("{" GRAPH_NODES ",\"edges\":[" EDGE(4, 8, "children.0") ","
				 EDGE(4, 9, "children.1") "]}",
				 "hs-q-vda", node, edge),
		     -EEXIST);
}

Test(qmp, no_quorum_or_no_child_or_another_shape)
{
	char node[128] = "", edge[64] = "";

	/* a job started before the quorum: its target is the NBD node itself */
	cr_assert_eq(graph_child("{" GRAPH_NODES ",\"edges\":[" EDGE(5, 8, "target") "]}",
				 "hs-q-vdb", node, edge),
		     -ENOENT);
	cr_assert_eq(graph_child("{" GRAPH_NODES ",\"edges\":[]}", "hs-q-vda", node, edge), -ENOENT);
	cr_assert_eq(graph_child("{\"nodes\":{},\"edges\":[]}", "hs-q-vda", node, edge), -EINVAL);
	cr_assert_eq(graph_child("{\"edges\":[]}", "hs-q-vda", node, edge), -EINVAL);
	/* an edge to a node the answer does not list */
	cr_assert_eq(graph_child("{" GRAPH_NODES ",\"edges\":[" EDGE(4, 77, "children.0") "]}",
				 "hs-q-vda", node, edge),
		     -ENOENT);
	cr_assert_str_eq(node, "", "nothing is written on a refusal");
}

/* Parallel sync writes (mirror_qmp_sync.c): what its names carry, read back. */
Test(qsync, a_childs_name_gives_its_disk_and_the_connection_that_added_it)
{
	char target[64];

	cr_assert_eq(mirror__qsync_child_target("hs-s-vda-1897755.1", target, sizeof(target)), 0);
	cr_assert_str_eq(target, "vda");
	cr_assert_eq(mirror__qsync_child_epoch("hs-s-vda-1897755.1"), 1897755);
	cr_assert_eq(mirror__qsync_child_target("hs-s-sd-a-42.3", target, sizeof(target)), 0);
	cr_assert_str_eq(target, "sd-a", "a disk name with a dash");
	cr_assert_eq(mirror__qsync_child_epoch("hs-s-sd-a-42.3"), 42);
	cr_assert_lt(mirror__qsync_child_target("hs-nbd-vda-2", target, sizeof(target)), 0);
	cr_assert_lt(mirror__qsync_child_epoch("hs-s-vda-x.1"), 0, "no epoch");
	cr_assert_lt(mirror__qsync_child_epoch("hs-s-vda-12"), 0, "no counter: not ours");
}

Test(qsync, a_bitmaps_name_gives_its_time_and_backup)
{
	char where[300];
	int64_t ms = 0;

	cr_assert_eq(mirror__qsync_bitmap_parse("hs-d-vda-1898938@10.77.0.12:10809", "vda", &ms,
						where, sizeof(where)), 0);
	cr_assert_eq(ms, 1898938);
	cr_assert_str_eq(where, "10.77.0.12:10809");
	cr_assert_lt(mirror__qsync_bitmap_parse("hs-d-vdb-1@10.77.0.12:10809", "vda", &ms, where,
						sizeof(where)), 0, "another disk's");
	cr_assert_lt(mirror__qsync_bitmap_parse("hs-d-vda-1@nowhere", "vda", &ms, where,
						sizeof(where)), 0, "no port");
	cr_assert_lt(mirror__qsync_bitmap_parse("hs-r-vda", "vda", &ms, where, sizeof(where)), 0);
	cr_assert_lt(mirror__qsync_bitmap_parse("hs-d-vda-@10.77.0.12:1", "vda", &ms, where,
						sizeof(where)), 0, "no time");
}

Test(vouch, a_record_line_parses_back)
{
	struct mirror__vouch_record rec;

	cr_assert_eq(mirror__vouch_record_parse("hs-s-vda-42.1 42 10.77.0.12 10809 1234 5678\n", &rec), 0);
	cr_assert_str_eq(rec.child, "hs-s-vda-42.1");
	cr_assert_eq(rec.epoch, 42);
	cr_assert_str_eq(rec.host, "10.77.0.12");
	cr_assert_eq(rec.port, 10809);
	cr_assert_eq(rec.n_inodes, 2);
	cr_assert_eq(rec.inodes[1], 5678);
	cr_assert_eq(mirror__vouch_record_parse("hs-s-vda-42.1 42 10.77.0.12 10809\n", &rec), 0,
		     "no socket known: parses, vouches for nothing");
	cr_assert_eq(rec.n_inodes, 0);
	cr_assert_lt(mirror__vouch_record_parse("hs-s-vda-42.1 42 10.77.0.12\n", &rec), 0, "no port");
	cr_assert_lt(mirror__vouch_record_parse("hs-s-vda-42.1 42 h 1 12x\n", &rec), 0, "a bad inode");
}

Test(vouch, a_child_is_vouched_only_while_its_sockets_live)
{
	struct mirror__vouch_record rec = {.child = "hs-s-vda-42.1", .epoch = 42, .host = "h",
					   .port = 1, .inodes = {100, 200}, .n_inodes = 2};
	const unsigned long both[] = {300, 200, 100}, one[] = {100, 300};
	const int64_t epoch = 90000, later = epoch + MIRROR__VOUCH_SETTLE_MS;
	char why[300] = "";

	cr_assert_eq(mirror__vouch_judge(&rec, "hs-s-vda-42.1", 42, later, NULL, 0, why, sizeof(why)),
		     1, "its own connection's events cover it");
	cr_assert_eq(mirror__vouch_judge(&rec, "hs-s-vda-42.1", epoch, epoch + 100, both, 3, why,
					 sizeof(why)),
		     2, "too soon after the connection: the backup may still shut the sockets");
	cr_assert_eq(mirror__vouch_judge(&rec, "hs-s-vda-42.1", epoch, later, both, 3, why,
					 sizeof(why)),
		     1, "both sockets still established");
	cr_assert_eq(mirror__vouch_judge(&rec, "hs-s-vda-42.1", epoch, later, one, 2, why,
					 sizeof(why)),
		     0, "socket 200 ended");
	cr_assert(strstr(why, "(socket 200) ended"), "%s", why);
	cr_assert_eq(mirror__vouch_judge(&rec, "hs-s-vda-77.1", epoch, later, both, 3, why,
					 sizeof(why)),
		     0, "a record of another child");
	rec.n_inodes = 0;
	cr_assert_eq(mirror__vouch_judge(&rec, "hs-s-vda-42.1", epoch, later, both, 3, why,
					 sizeof(why)),
		     0, "no socket was known");
}
