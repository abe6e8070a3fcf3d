// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hasvc: the command-line client of hasvcd.
 *
 * `hasvc <noun> <verb> [options]`, looked up in one command table (the git.c
 * and virsh pattern). The CLI is a client of the HTTP API on the daemon's unix
 * socket, never of the database. Results go to stdout, chatter and errors to
 * stderr; every read command has --json, which prints the API's answer as is.
 * Exit codes are named (hs_cli.h) so scripts can tell "daemon down" from
 * "no quorum" from "no such VM".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_cli.h"
#include "hs_util.h"

struct cli_options {
	const char *socket;
	bool json;
};

struct command {
	const char *noun;
	const char *verb; /* NULL: the noun alone */
	int (*run)(const struct cli_options *o, int argc, char **argv);
	const char *help;
};

static const char *age(uint64_t usec, char *buf, size_t len)
{
	uint64_t now = hs_now_usec(CLOCK_REALTIME), s;

	if (usec == 0)
		return "-";
	s = now > usec ? (now - usec) / 1000000 : 0;
	if (s < 120)
		snprintf(buf, len, "%llus ago", (unsigned long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%llum ago", (unsigned long long)(s / 60));
	else
		snprintf(buf, len, "%lluh ago", (unsigned long long)(s / 3600));
	return buf;
}

static void print_nodes(json_object *answer)
{
	json_object *nodes = NULL;
	char buf[32];

	json_object_object_get_ex(answer, "nodes", &nodes);
	printf("%-16s %-8s %-8s %s\n", "NODE", "NODEID", "STATE", "SINCE");
	for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
		json_object *n = json_object_array_get_idx(nodes, i);
		printf("%-16s %-8s %-8s %s\n", hs_json_str(n, "name"), hs_json_str(n, "nodeid"),
		       hs_json_str(n, "state"),
		       age((uint64_t)json_object_get_int64(hs_json_get(n, "changed_usec")), buf,
			   sizeof(buf)));
	}
}

static int cmd_status(const struct cli_options *o, int argc, char **argv)
{
	json_object *answer = NULL, *cl;
	int r;

	r = hs_cli_request(o->socket, "GET", "/v1/status", NULL, &answer);
	if (r != HS_EXIT_OK)
		return r;
	if (o->json) {
		hs_cli_print_json(answer);
	} else {
		cl = hs_json_get(answer, "cluster");
		if (json_object_get_boolean(hs_json_get(cl, "quorate")))
			printf("cluster: quorate, coordinator %s, %s of %zu nodes online, local node %s\n",
			       hs_json_str(cl, "coordinator"), hs_json_str(cl, "nodes_online"),
			       json_object_array_length(hs_json_get(answer, "nodes")),
			       hs_json_str(answer, "node"));
		else
			printf("cluster: NO QUORUM (%s): this host will not fence, promote or change "
			       "pairs; local node %s\n",
			       json_object_get_boolean(hs_json_get(cl, "joined")) ? "partition too small"
										   : "not connected to corosync",
			       hs_json_str(answer, "node"));
		print_nodes(answer);
	}
	json_object_put(answer);
	return HS_EXIT_OK;
}

static int cmd_node_list(const struct cli_options *o, int argc, char **argv)
{
	json_object *answer = NULL;
	int r;

	r = hs_cli_request(o->socket, "GET", "/v1/nodes", NULL, &answer);
	if (r != HS_EXIT_OK)
		return r;
	if (o->json)
		hs_cli_print_json(answer);
	else
		print_nodes(answer);
	json_object_put(answer);
	return HS_EXIT_OK;
}

static const struct command commands[] = {
	{"status", NULL, cmd_status, "quorum, coordinator and every node [--json]"},
	{"node", "list", cmd_node_list, "the configured nodes and their state [--json]"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: hasvc [--socket PATH] <command> [--json]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		char name[40];
		snprintf(name, sizeof(name), "%s%s%s", commands[i].noun, commands[i].verb ? " " : "",
			 commands[i].verb ? commands[i].verb : "");
		fprintf(out, "  %-22s %s\n", name, commands[i].help);
	}
	fprintf(out, "\nThe daemon's socket is --socket, else $HASVC_SOCKET, else %s.\n",
		HS_CLI_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct cli_options o = {.socket = getenv("HASVC_SOCKET")};
	const char *noun, *verb;
	int c;

	if (!o.socket)
		o.socket = HS_CLI_DEFAULT_SOCKET;
	/* Options may come anywhere: "hasvc status --json" and "hasvc --json status". */
	while ((c = getopt_long(argc, argv, "+s:jhV", options, NULL)) != -1) {
		switch (c) {
		case 's': o.socket = optarg; break;
		case 'j': o.json = true; break;
		case 'h': usage(stdout); return HS_EXIT_OK;
		case 'V': printf("hasvc %s\n", HASVC_VERSION); return HS_EXIT_OK;
		default: fprintf(stderr, "hasvc: see 'hasvc --help'\n"); return HS_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return HS_EXIT_USAGE;
	}
	noun = argv[optind];
	verb = optind + 1 < argc && argv[optind + 1][0] != '-' ? argv[optind + 1] : NULL;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *cmd = &commands[i];
		int rest;

		if (strcmp(cmd->noun, noun) != 0)
			continue;
		if (cmd->verb && (!verb || strcmp(cmd->verb, verb) != 0))
			continue;
		rest = optind + (cmd->verb ? 2 : 1);
		optind = rest;
		/* Options after the command. */
		while ((c = getopt_long(argc, argv, "s:jh", options, NULL)) != -1) {
			switch (c) {
			case 's': o.socket = optarg; break;
			case 'j': o.json = true; break;
			case 'h': usage(stdout); return HS_EXIT_OK;
			default: fprintf(stderr, "hasvc: see 'hasvc --help'\n"); return HS_EXIT_USAGE;
			}
		}
		return cmd->run(&o, argc - optind, argv + optind);
	}
	fprintf(stderr, "hasvc: unknown command '%s%s%s'; see 'hasvc --help'\n", noun,
		verb ? " " : "", verb ? verb : "");
	return HS_EXIT_USAGE;
}
