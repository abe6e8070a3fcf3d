// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of hs_corosync_nodes' merge and check: hasvc.conf (as parsed) and
 * corosync's nodelist (as cmap would give it) in, the merged hosts or a
 * "file:line: what" error out. No corosync is needed: the lists are built
 * here; the cmap reader itself is exercised by tests/lab/test_cmap_nodes.sh.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_config.h"
#include "hs_corosync_nodes.h"

static char path[] = "/tmp/hasvc-test-cmap-XXXXXX";

static void cleanup(void)
{
	unlink(path);
	strcpy(path, "/tmp/hasvc-test-cmap-XXXXXX");
}

TestSuite(corosync_nodes, .fini = cleanup);

static struct hs_config *load(const char *text)
{
	struct hs_config *c = NULL;
	char *error = NULL;
	int fd;

	cleanup();
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	return c;
}

/* node1..node3, nodeids 1..3, 10.77.0.11..13; this host is LOCAL */
static void three_nodes(struct hs_corosync_nodelist *l, uint32_t local)
{
	memset(l, 0, sizeof(*l));
	for (uint32_t i = 1; i <= 3; i++) {
		snprintf(l->nodes[l->n].name, sizeof(l->nodes[0].name), "node%u", i);
		l->nodes[l->n].nodeid = i;
		snprintf(l->nodes[l->n].address, sizeof(l->nodes[0].address), "10.77.0.1%u", i);
		l->n++;
	}
	l->local_nodeid = local;
}

Test(corosync_nodes, a_minimal_file_takes_every_host_from_corosync)
{
	struct hs_config *c = load("[daemon]\nstate_dir = /tmp/x\n"
				   "[node node2]\nreplication_address = 10.1.0.2\n"
				   "[fence node3]\nagent = fence_ipmilan\n");
	struct hs_corosync_nodelist l;
	char *error = NULL;

	three_nodes(&l, 2);
	cr_assert_eq(hs_corosync_nodes_merge(c, &l, &error), 0, "error: %s", error);
	cr_assert_str_eq(c->node_name, "node2", "this host from the local nodeid");
	cr_assert_eq(c->n_nodes, 3);
	cr_assert_str_eq(c->nodes[0].name, "node1");
	cr_assert_eq(c->nodes[2].nodeid, 3);
	cr_assert_str_eq(c->nodes[0].address, "10.77.0.11");
	cr_assert_str_eq(c->nodes[0].replication_address, "10.77.0.11", "defaults to ring0");
	cr_assert_str_eq(c->nodes[1].replication_address, "10.1.0.2", "hasvc.conf's own");
	cr_assert_eq(c->nodes[1].line, 3);
	cr_assert_eq(hs_config_node_by_id(c, 3), &c->nodes[2]);
	cr_assert_eq(hs_corosync_nodes_check(c, &l, &error), 0, "merged agrees: %s", error);
	hs_config_free(c);
}

Test(corosync_nodes, a_full_file_that_agrees_is_taken_and_checks)
{
	struct hs_config *c = load("[daemon]\nnode = node1\n"
				   "[node node1]\nnodeid = 1\naddress = 10.77.0.11\n"
				   "[node node2]\nnodeid = 2\naddress = 10.77.0.12\n"
				   "[node node3]\nnodeid = 3\naddress = 10.77.0.13\n");
	struct hs_corosync_nodelist l;
	char *error = NULL;

	cr_assert(hs_config_nodes_complete(c));
	three_nodes(&l, 1);
	cr_assert_eq(hs_corosync_nodes_check(c, &l, &error), 0, "error: %s", error);
	cr_assert_eq(hs_corosync_nodes_merge(c, &l, &error), 0, "error: %s", error);
	cr_assert_str_eq(c->node_name, "node1");
	cr_assert_eq(c->n_nodes, 3);
	hs_config_free(c);
}

Test(corosync_nodes, a_file_without_hosts_is_not_complete)
{
	struct hs_config *c = load("[daemon]\nnode = node1\n[node node1]\nnodeid = 1\n");

	cr_assert(!hs_config_nodes_complete(c), "no address");
	hs_config_free(c);
	c = load("[daemon]\n");
	cr_assert(!hs_config_nodes_complete(c));
	hs_config_free(c);
}

struct bad_case {
	const char *text;
	uint32_t local;     /* corosync's local nodeid */
	bool check;         /* hs_corosync_nodes_check instead of the merge */
	const char *expect; /* substring of the error, after the path */
};

#define FULL3                                                                                      \
	"[node node1]\nnodeid = 1\naddress = 10.77.0.11\n"                                         \
	"[node node2]\nnodeid = 2\naddress = 10.77.0.12\n"

static const struct bad_case bad_cases[] = {
	{"[daemon]\n[node node1]\n[node node2]\nnodeid = 5\n", 1, false,
	 ":3: node2 has nodeid 5 here but 2 in corosync's nodelist"},
	{"[daemon]\n[node node2]\naddress = 10.9.9.9\n", 1, false,
	 ":2: node2 has address 10.9.9.9 here but 10.77.0.12 in corosync's nodelist"},
	{"[daemon]\n\n[node node4]\nreplication_address = x\n", 1, false,
	 ":3: [node node4]: corosync's nodelist has no node node4 (it lists node1, node2, node3)"},
	{"[daemon]\n[fence node9]\nagent = x\n", 1, false,
	 ":2: [fence node9]: corosync's nodelist has no node node9"},
	{"[daemon]\nnode = node9\n", 1, false,
	 ": [daemon] node = node9, but corosync's nodelist has no node node9"},
	{"[daemon]\nnode = node2\n", 1, false,
	 ": [daemon] node = node2 (nodeid 2), but corosync runs here as nodeid 1"},
	{"[daemon]\n", 7, false, ": [daemon] node is not set and corosync's local nodeid 7 is not in"},
	{"[daemon]\n", 0, false, ": [daemon] node is not set and corosync's local nodeid 0"},
	/* started from a full file while corosync was down, checked at the join */
	{"[daemon]\nnode = node1\n" FULL3, 1, true,
	 ": corosync's nodelist has node node3 (nodeid 3), which hasvc.conf does not name"},
	{"[daemon]\nnode = node1\n[node node1]\nnodeid = 1\naddress = 10.77.0.11\n"
	 "[node node2]\nnodeid = 5\naddress = 10.77.0.12\n",
	 1, true, ":6: node2 has nodeid 5 here but 2 in corosync's nodelist"},
};

Test(corosync_nodes, every_mismatch_is_named)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct hs_config *c = load(bad_cases[i].text);
		struct hs_corosync_nodelist l;
		char *error = NULL, *expected;
		size_t n_before = c->n_nodes;
		int r;

		three_nodes(&l, bad_cases[i].local);
		r = bad_cases[i].check ? hs_corosync_nodes_check(c, &l, &error) :
					 hs_corosync_nodes_merge(c, &l, &error);
		cr_assert_eq(r, -EINVAL, "case %zu accepted", i);
		cr_assert_not_null(error, "case %zu: no message", i);
		cr_assert(asprintf(&expected, "%s%s", path, bad_cases[i].expect) > 0);
		cr_assert(strstr(error, expected), "case %zu: got '%s', want '%s'", i, error, expected);
		cr_assert_eq(c->n_nodes, n_before, "case %zu: config changed on failure", i);
		free(expected);
		free(error);
		hs_config_free(c);
	}
}

Test(corosync_nodes, an_empty_nodelist_says_what_corosync_needs)
{
	struct hs_config *c = load("[daemon]\n");
	struct hs_corosync_nodelist l = {0};
	char *error = NULL;

	cr_assert_eq(hs_corosync_nodes_merge(c, &l, &error), -EINVAL);
	cr_assert(strstr(error, "corosync's nodelist is empty"), "%s", error);
	free(error);
	hs_config_free(c);
}
