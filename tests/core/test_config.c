// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of hs_config: a good file is read whole, and every kind of mistake an
 * operator can make is refused with "file:line: what is wrong".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_config.h"

static char path[] = "/tmp/hasvc-test-config-XXXXXX";

static void write_config(const char *text)
{
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void cleanup(void)
{
	unlink(path);
	strcpy(path, "/tmp/hasvc-test-config-XXXXXX");
}

TestSuite(config, .fini = cleanup);

#define GOOD_NODES                                                                                 \
	"[node node1]\nnodeid = 1\naddress = 10.0.0.1\n"                                           \
	"[node node2]\nnodeid = 2\naddress = 10.0.0.2\nreplication_address = 10.1.0.2\n"

Test(config, good_file_is_read_whole)
{
	struct hs_config *c = NULL;
	char *error = NULL;

	write_config("# comment\n[daemon]\nnode = node2\nstate_dir = /tmp/x\nlog_level = debug\n"
		     "http_listen = 127.0.0.1:7480\nhttp_tls_cert = /tmp/c.pem\n"
		     "http_tls_key = /tmp/k.pem\n" GOOD_NODES
		     "[fence node1]\nlevel = 2\nagent = fence_b\noption = ip=1.2.3.4\n"
		     "[fence node1]\nlevel = 1\nagent = fence_ipmilan\ntimeout = 7\n"
		     "option = ip=10.9.0.1\noption = username=admin\n");
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert_str_eq(c->node_name, "node2");
	cr_assert_str_eq(c->state_dir, "/tmp/x");
	cr_assert_str_eq(c->api_socket, "/run/hasvc/hasvcd.sock", "default applies");
	cr_assert_str_eq(c->http_tls_cert, "/tmp/c.pem");
	cr_assert_str_eq(c->http_tls_key, "/tmp/k.pem");
	cr_assert(!c->http_plain, "HTTPS unless asked otherwise");
	cr_assert_eq(c->http_client_connections, 16, "16 connections per client address");
	cr_assert_eq(c->n_nodes, 2);
	cr_assert_eq(c->nodes[1].nodeid, 2);
	cr_assert_str_eq(c->nodes[0].replication_address, "10.0.0.1", "defaults to address");
	cr_assert_str_eq(c->nodes[1].replication_address, "10.1.0.2");
	cr_assert_eq(c->n_fences, 2);
	cr_assert_eq(c->fences[0].level, 1, "fences sorted by level");
	cr_assert_str_eq(c->fences[0].agent, "fence_ipmilan");
	cr_assert_eq(c->fences[0].timeout_s, 7);
	cr_assert_eq(c->fences[0].n_options, 2);
	cr_assert_str_eq(c->fences[0].options[1], "username=admin");
	cr_assert_eq(c->fences[1].timeout_s, 20, "default timeout");
	cr_assert_eq(hs_config_node_by_id(c, 2), &c->nodes[1]);
	cr_assert_null(hs_config_node_by_name(c, "node3"));
	hs_config_free(c);
}

Test(config, test_hooks_are_off_unless_asked_for)
{
	struct hs_config *c = NULL;
	char *error = NULL;

	write_config("[daemon]\nnode = node1\n" GOOD_NODES);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert(!c->test_hooks);
	cr_assert(!c->fence_always);
	cr_assert(!c->reprotect_old_host);
	cr_assert_str_eq(c->maintenance_switchover, "auto");
	cr_assert_str_eq(c->mirror_engine, "libvirt");
	cr_assert_not(c->mirror_engine_qmp);
	cr_assert_eq(c->maintenance_moves, 2);
	hs_config_free(c);
	cleanup();
	write_config("[daemon]\nnode = node1\ntest_hooks = yes\nfence_lost_hosts = always\n"
		     "reprotect = old-host\n" GOOD_NODES);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert(c->test_hooks);
	cr_assert(c->fence_always);
	cr_assert(c->reprotect_old_host);
	hs_config_free(c);
}

Test(config, the_qmp_mirror_engine_is_chosen_by_name)
{
	struct hs_config *c = NULL;
	char *error = NULL;

	write_config("[daemon]\nnode = node1\nmirror_engine = qmp\n" GOOD_NODES);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert_str_eq(c->mirror_engine, "qmp");
	cr_assert(c->mirror_engine_qmp);
	hs_config_free(c);
}

Test(config, parallel_sync_writes_are_chosen_by_name_with_the_qmp_engine)
{
	struct hs_config *c = NULL;
	char *error = NULL;

	write_config("[daemon]\nnode = node1\nmirror_engine = qmp\nsync_writes = parallel\n" GOOD_NODES);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert(c->sync_writes_parallel);
	hs_config_free(c);
	cleanup();
	write_config("[daemon]\nnode = node1\n" GOOD_NODES);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert_not(c->sync_writes_parallel, "sequential by default");
	hs_config_free(c);
}

Test(config, http_client_connections_is_read)
{
	struct hs_config *c = NULL;
	char *error = NULL;

	write_config("[daemon]\nnode = node1\nhttp_client_connections = 4\n" GOOD_NODES);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert_eq(c->http_client_connections, 4);
	hs_config_free(c);
}

Test(config, plain_http_only_when_asked_for)
{
	struct hs_config *c = NULL;
	char *error = NULL;

	write_config("[daemon]\nnode = node1\nhttp_listen = 127.0.0.1:7480\nhttp_plain = yes\n"
		     GOOD_NODES);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert(c->http_plain);
	cr_assert_null(c->http_tls_cert);
	hs_config_free(c);
	cleanup();
	/* no TCP API: nothing to secure, no key needed */
	write_config("[daemon]\nnode = node1\n" GOOD_NODES);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert(!c->http_plain);
	cr_assert_null(c->http_tls_cert);
	hs_config_free(c);
}

Test(config, a_host_name_of_the_longest_length_is_taken_whole)
{
	/* 64 characters: the one name rule of hs_name.h */
	const char *name = "n123456789012345678901234567890123456789012345678901234567890123";
	struct hs_config *c = NULL;
	char *error = NULL, text[512];

	cr_assert_eq(strlen(name), 64);
	snprintf(text, sizeof(text), "[daemon]\nnode = %s\n[node %s]\nnodeid = 1\naddress = a\n", name,
		 name);
	write_config(text);
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert_str_eq(c->nodes[0].name, name);
	hs_config_free(c);
}

struct bad_case {
	const char *text;
	const char *expect; /* substring of the error, after "path:" */
};

static const struct bad_case bad_cases[] = {
	{"[daemon]\nnode = node1\ncolour = blue\n" GOOD_NODES, ":3: unknown key 'colour'"},
	{"node = node1\n", ":1: 'node' before any section"},
	{"[daemon]\nnode =\n", ":2: 'node' needs a value"},
	{"[daemon]\nnode = node1\nnode = node2\n", ":3: 'node' is set twice"},
	{"[daemon]\nnode = node1\n[daemon]\nnode = node2\n",
	 ":3: section [daemon] appears twice (first at line 1)"},
	{"[daemon]\nnode = node1\n[disk foo]\n", ":3: unknown section [disk]"},
	{"[daemon]\nnode = node1\n[node]\n", ":3: section [node] needs a host name"},
	{"[daemon]\nnode = node1\n[node a/b]\n", ":3: bad host name 'a/b'"},
	{"[daemon]\nnode = node1\n[node node1\n", ":3: bad section header"},
	{"[daemon]\nnode = node1\njust words\n", ":3: expected 'key = value'"},
	{"[daemon]\nnode = node1\n[node node1]\nnodeid = one\n", ":4: 'nodeid' must be a corosync nodeid"},
	{"[daemon]\nnode = node1\n[node node1]\nnodeid = 0\n", ":4: 'nodeid' must be a corosync nodeid"},
	{"[daemon]\nnode = node1\n" GOOD_NODES "[node node1]\n", ":10: node 'node1' is defined twice"},
	{"[daemon]\nnode = node1\n" GOOD_NODES "[fence node1]\nagent = x\ntimeout = -1\n",
	 ":12: 'timeout' must be a whole number from 0 to 3600"},
	{"[daemon]\nnode = node1\n" GOOD_NODES "[fence node1]\nagent = x\noption = novalue\n",
	 ":12: 'option' must be key=value"},
	{"[daemon]\nnode = node1\n[node node1]\nnodeid = 1\naddress = a\n[node node2]\nnodeid = 1\naddress = b\n",
	 ": nodes node1 and node2 share nodeid 1"},
	{"[daemon]\nnode = node1\n" GOOD_NODES "[fence node1]\nlevel = 1\n", ": [fence node1] level 1 has no agent"},
	{"[daemon]\nnode = node1\n" GOOD_NODES "[fence node1]\nagent = a\n[fence node1]\nagent = b\n",
	 ": [fence node1] has two devices at level 1"},
	{"[daemon]\nnode = node1\nfence_lost_hosts = never\n" GOOD_NODES,
	 ": fence_lost_hosts must be always or with-primaries, not 'never'"},
	{"[daemon]\nnode = node1\nlog_level = loud\n" GOOD_NODES, ": log_level must be error, warning, info or debug"},
	{"[daemon]\nnode = node1\nmirror_engine = drbd\n" GOOD_NODES,
	 ": mirror_engine must be libvirt or qmp, not 'drbd'"},
	{"[daemon]\nnode = node1\nmirror_engine = qmp\nsync_writes = both\n" GOOD_NODES,
	 ": sync_writes must be sequential or parallel, not 'both'"},
	{"[daemon]\nnode = node1\nsync_writes = parallel\n" GOOD_NODES,
	 ": sync_writes = parallel needs mirror_engine = qmp"},
	{"[daemon]\nnode = node1\nmaintenance_switchover = warm\n" GOOD_NODES,
	 ": maintenance_switchover must be auto, live or cold, not 'warm'"},
	{"[daemon]\nnode = node1\nmaintenance_moves = 65\n" GOOD_NODES,
	 ":3: 'maintenance_moves' must be a whole number from 0 to 64"},
	{"[daemon]\nnode = node1\ntest_hooks = maybe\n" GOOD_NODES, ":3: 'test_hooks' must be yes or no"},
	{"[daemon]\nnode = node1\nhttp_listen = 127.0.0.1:7480\n" GOOD_NODES,
	 ": http_listen needs http_tls_cert and http_tls_key, or http_plain = yes"},
	{"[daemon]\nnode = node1\nhttp_listen = 127.0.0.1:7480\nhttp_plain = no\n" GOOD_NODES,
	 ": http_listen needs http_tls_cert and http_tls_key, or http_plain = yes"},
	{"[daemon]\nnode = node1\nhttp_listen = 127.0.0.1:7480\nhttp_tls_cert = /c.pem\n" GOOD_NODES,
	 ": http_tls_cert is set but http_tls_key is not"},
	{"[daemon]\nnode = node1\nhttp_tls_key = /k.pem\n" GOOD_NODES,
	 ": http_tls_key is set but http_tls_cert is not"},
	{"[daemon]\nnode = node1\nhttp_listen = 127.0.0.1:7480\nhttp_tls_cert = /c.pem\n"
	 "http_tls_key = /k.pem\nhttp_plain = yes\n" GOOD_NODES,
	 ": http_plain = yes and http_tls_cert/http_tls_key are both set"},
	{"[daemon]\nnode = node1\nhttp_plain = sometimes\n" GOOD_NODES, ":3: 'http_plain' must be yes or no"},
	{"[daemon]\nnode = node1\nhttp_client_connections = 129\n" GOOD_NODES,
	 ":3: 'http_client_connections' must be a whole number from 0 to 128, not '129'"},
	{"[daemon]\nnode = node1\nhttp_tls_cert =\n", ":3: 'http_tls_cert' needs a value"},
	{"[daemon]\nnode = node1\n[node n12345678901234567890123456789012345678901234567890123456789012345]\n",
	 ":3: bad host name"},
};

/*
 * The hosts are corosync's (hs_corosync_nodes): a file that leaves them out,
 * or gives a [node] only its replication address, is read; whether its names
 * and nodeids are right is tested in test_corosync_nodes.c.
 */
Test(config, node_sections_may_be_left_to_corosync)
{
	struct hs_config *c = NULL;
	char *error = NULL;

	write_config("[daemon]\nstate_dir = /tmp/x\n"
		     "[node node2]\nreplication_address = 10.1.0.2\n"
		     "[fence node3]\nagent = fence_ipmilan\n");
	cr_assert_eq(hs_config_load(path, &c, &error), 0, "error: %s", error);
	cr_assert_null(c->node_name, "corosync's local nodeid will say");
	cr_assert_eq(c->n_nodes, 1);
	cr_assert_eq(c->nodes[0].nodeid, 0);
	cr_assert_null(c->nodes[0].address);
	cr_assert_eq(c->nodes[0].line, 3);
	cr_assert_str_eq(c->nodes[0].replication_address, "10.1.0.2");
	cr_assert_eq(c->n_fences, 1);
	cr_assert_eq(c->fences[0].line, 5);
	hs_config_free(c);
}

Test(config, every_mistake_is_named_with_its_line)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct hs_config *c = NULL;
		char *error = NULL;
		char *expected;

		write_config(bad_cases[i].text);
		cr_assert_eq(hs_config_load(path, &c, &error), -EINVAL, "case %zu loaded", i);
		cr_assert_null(c);
		cr_assert_not_null(error, "case %zu: no message", i);
		cr_assert(asprintf(&expected, "%s%s", path, bad_cases[i].expect) > 0);
		cr_assert(strstr(error, expected), "case %zu: got '%s', want '%s'", i, error, expected);
		free(expected);
		free(error);
		cleanup();
	}
}

Test(config, missing_file_says_so)
{
	struct hs_config *c = NULL;
	char *error = NULL;

	cr_assert_eq(hs_config_load("/nonexistent/hasvc.conf", &c, &error), -ENOENT);
	cr_assert_str_eq(error, "/nonexistent/hasvc.conf: cannot open: No such file or directory");
	free(error);
}

Test(config, shipped_example_is_valid)
{
	const char *dir = getenv("HASVC_TEST_DATA");
	struct hs_config *c = NULL;
	char *example, *error = NULL;

	cr_assert_not_null(dir, "HASVC_TEST_DATA is not set");
	cr_assert(asprintf(&example, "%s/../../deploy/hasvc.conf.example", dir) > 0);
	cr_assert_eq(hs_config_load(example, &c, &error), 0, "%s", error);
	cr_assert_eq(c->n_nodes, 2);
	cr_assert_eq(c->n_fences, 2);
	hs_config_free(c);
	free(example);
}
