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
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"

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
		if (strcmp(hs_json_str(n, "state"), "offline") == 0 &&
		    json_object_get_boolean(hs_json_get(n, "host_up")))
			printf("  %s: the host is up but hasvcd is not running there: its VMs run "
			       "unmanaged (nothing is failed over for that)\n",
			       hs_json_str(n, "name"));
		if (hs_json_get(n, "fence_message"))
			printf("  %s: last fence %s: %s\n", hs_json_str(n, "name"),
			       hs_json_str(n, "fence_result"), hs_json_str(n, "fence_message"));
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

/* The first non-option argument after the command, or NULL. */
static const char *first_arg(int argc, char **argv)
{
	return argc > 0 ? argv[0] : NULL;
}

static int get_and_print(const struct cli_options *o, const char *path,
			 void (*print)(json_object *answer))
{
	json_object *answer = NULL;
	int r = hs_cli_request(o->socket, "GET", path, NULL, &answer);

	if (r != HS_EXIT_OK)
		return r;
	if (o->json)
		hs_cli_print_json(answer);
	else
		print(answer);
	json_object_put(answer);
	return HS_EXIT_OK;
}

static void print_events(json_object *answer)
{
	json_object *list = hs_json_get(answer, "events");

	for (size_t i = 0; list && i < json_object_array_length(list); i++)
		hs_cli_print_event(json_object_array_get_idx(list, i));
}

static int cmd_events(const struct cli_options *o, int argc, char **argv)
{
	char path[64];
	const char *since = o->since ? o->since : "0";

	if (strspn(since, "0123456789") != strlen(since) || !*since) {
		fprintf(stderr, "hasvc: --since takes an event id, not '%s'\n", since);
		return HS_EXIT_USAGE;
	}
	if (o->follow)
		return hs_cli_events_follow(o, since);
	snprintf(path, sizeof(path), "/v1/events?since=%s", since);
	return get_and_print(o, path, print_events);
}

static void print_fence_log(json_object *answer)
{
	json_object *list = hs_json_get(answer, "fence_log");

	printf("%-20s %-8s %-14s %-7s %-8s %s\n", "STARTED", "TARGET", "AGENT", "ACTION", "RESULT",
	       "MESSAGE");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *f = json_object_array_get_idx(list, i);
		time_t t = (time_t)(json_object_get_int64(hs_json_get(f, "started_usec")) / 1000000);
		char when[32];

		strftime(when, sizeof(when), "%F %T", localtime(&t));
		printf("%-20s %-8s %-14s %-7s %-8s %s\n", when, hs_json_str(f, "target"),
		       hs_json_str(f, "agent"), hs_json_str(f, "action"), hs_json_str(f, "result"),
		       hs_json_str(f, "message"));
	}
}

static int cmd_fence_log(const struct cli_options *o, int argc, char **argv)
{
	return get_and_print(o, "/v1/fence-log", print_fence_log);
}

static int cmd_fence(const struct cli_options *o, int argc, char **argv)
{
	const char *node = first_arg(argc, argv);
	json_object *answer = NULL;
	char path[128];
	int r;

	if (!node) {
		fprintf(stderr, "hasvc: fence needs a node: hasvc fence NODE\n");
		return HS_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/nodes/%s/fence", node);
	fprintf(stderr, "fencing %s (power off through its fence devices, verified)...\n", node);
	r = hs_cli_request(o->socket, "POST", path, NULL, &answer);
	if (r != HS_EXIT_OK)
		return r;
	if (o->json)
		hs_cli_print_json(answer);
	else
		printf("%s\n", hs_json_str(answer, "message"));
	json_object_put(answer);
	return HS_EXIT_OK;
}

static int cmd_fence_check(const struct cli_options *o, int argc, char **argv)
{
	json_object *answer = NULL, *devices;
	bool ok;
	int r;

	r = hs_cli_request(o->socket, "POST", "/v1/fence/check", NULL, &answer);
	if (r != HS_EXIT_OK)
		return r;
	ok = json_object_get_boolean(hs_json_get(answer, "ok"));
	if (o->json) {
		hs_cli_print_json(answer);
	} else {
		devices = hs_json_get(answer, "devices");
		printf("%-10s %-6s %-16s %-6s %s\n", "NODE", "LEVEL", "AGENT", "OK", "MESSAGE");
		for (size_t i = 0; devices && i < json_object_array_length(devices); i++) {
			json_object *d = json_object_array_get_idx(devices, i);
			printf("%-10s %-6s %-16s %-6s %s\n", hs_json_str(d, "node"),
			       hs_json_str(d, "level"), hs_json_str(d, "agent"),
			       json_object_get_boolean(hs_json_get(d, "ok")) ? "yes" : "NO",
			       hs_json_str(d, "message"));
		}
	}
	json_object_put(answer);
	if (!ok)
		fprintf(stderr, "hasvc: some fence devices do not answer: hosts behind them cannot be "
				"fenced, so their VMs cannot fail over\n");
	return ok ? HS_EXIT_OK : HS_EXIT_ERROR;
}

static void print_pairs(json_object *answer)
{
	json_object *list = hs_json_get(answer, "pairs");

	printf("%-20s %-14s %-10s %-10s %-6s %s\n", "VM", "STATE", "PRIMARY", "BACKUP", "MODE",
	       "REASON");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *p = json_object_array_get_idx(list, i);
		printf("%-20s %-14s %-10s %-10s %-6s %s\n", hs_json_str(p, "vm"),
		       hs_json_str(p, "state"), hs_json_str(p, "primary"), hs_json_str(p, "backup"),
		       hs_json_str(p, "mode"), hs_json_str(p, "reason"));
	}
}

static int cmd_pair_list(const struct cli_options *o, int argc, char **argv)
{
	return get_and_print(o, "/v1/pairs", print_pairs);
}

/* A byte count for people: bytes below 1 MiB, else whole MiB (UP: rounded up, for what is left). */
static void size_text(char *buf, size_t size, uint64_t bytes, bool up)
{
	if (bytes < (1u << 20))
		snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%llu MiB",
			 (unsigned long long)((bytes + (up ? (1u << 20) - 1 : 0)) >> 20));
}

/*
 * "copy: delta (paused jobs resumed), 16 MiB of 16 MiB left": which kind of
 * copy runs, why, and how much of it is left; after it, which kind the last
 * one was. Nothing for a pair whose copy has not said (or a hasvcd before).
 */
static void print_copy(json_object *p)
{
	json_object *copy = hs_json_get(p, "copy"), *why = hs_json_get(copy, "reason");
	const char *state = hs_json_str(p, "state");
	uint64_t done = (uint64_t)json_object_get_int64(hs_json_get(copy, "bytes_done"));
	uint64_t total = (uint64_t)json_object_get_int64(hs_json_get(copy, "bytes_total"));
	char left[32], all[32];

	if (!hs_json_get(copy, "kind")) {
		if (strcmp(state, "initial-sync") == 0)
			printf("copy:      starting\n");
		return;
	}
	size_text(left, sizeof(left), total > done ? total - done : 0, true);
	size_text(all, sizeof(all), total, false);
	printf("copy:      %s%s%s%s", hs_json_str(copy, "kind"), why ? " (" : "",
	       why ? json_object_get_string(why) : "", why ? ")" : "");
	if (json_object_get_boolean(hs_json_get(copy, "running")))
		printf(", %s of %s left\n", left, all);
	else if (strcmp(state, "in-sync") == 0)
		printf(", copied\n");
	else /* the copy ended without finishing, or the pair moved on */
		printf(", not running\n");
}

/* "verify:    repaired (...) on node1, 2026-12-01 21:40:05 UTC": the last online verify. */
static void print_verify(json_object *p)
{
	json_object *v = hs_json_get(p, "verify");
	time_t at;
	char when[40] = "";

	if (!v)
		return;
	at = (time_t)(json_object_get_int64(hs_json_get(v, "finished_usec")) / 1000000);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&at));
	printf("verify:    %s on %s, %s: %s\n", hs_json_str(v, "result"), hs_json_str(v, "node"),
	       when, hs_json_str(v, "message"));
}

static void print_pair(json_object *p)
{
	const char *bw = hs_json_str(p, "bandwidth_mib");

	printf("vm:        %s\nstate:     %s\nprimary:   %s\nbackup:    %s\nmode:      %s\n"
	       "bandwidth: %s%s\nsync:      %s of %s bytes\nlag:       %s bytes\nreason:    %s\n",
	       hs_json_str(p, "vm"), hs_json_str(p, "state"), hs_json_str(p, "primary"),
	       hs_json_str(p, "backup"), hs_json_str(p, "mode"),
	       strcmp(bw, "0") == 0 ? "unlimited" : bw,
	       strcmp(bw, "0") == 0 ? "" : " MiB/s per disk", hs_json_str(p, "bytes_done"),
	       hs_json_str(p, "bytes_total"), hs_json_str(p, "lag_bytes"),
	       hs_json_str(p, "reason"));
	print_copy(p);
	print_verify(p);
}

static int cmd_pair_show(const struct cli_options *o, int argc, char **argv)
{
	const char *vm = first_arg(argc, argv);
	char path[128];

	if (!vm) {
		fprintf(stderr, "hasvc: pair show needs a VM: hasvc pair show VM\n");
		return HS_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/pairs/%s", vm);
	return get_and_print(o, path, print_pair);
}

static const struct command commands[] = {
	{"status", NULL, cmd_status, "quorum, coordinator and every node [--json]"},
	{"node", "list", cmd_node_list, "the configured nodes and their state [--json]"},
	{"pair", "list", cmd_pair_list, "every VM pair and its state [--json]"},
	{"pair", "show", cmd_pair_show, "VM: one pair in detail [--json]"},
	{"events", NULL, cmd_events,
	 "the cluster's event log [--since ID] [--follow: print new events as they happen] [--json]"},
	{"fence", "check", cmd_fence_check, "run 'monitor' on every fence device [--json]"},
	{"fence", "log", cmd_fence_log, "every fence attempt, newest first [--json]"},
	{"fence", NULL, cmd_fence, "NODE: power NODE off through its fence devices and verify"},
	{"pair", "create", hs_cli_pair_create,
	 "VM --backup NODE [--mode sync|async] [--bandwidth MIB/S] [--no-wait]: protect VM "
	 "(run it on the VM's host)"},
	{"pair", "set", hs_cli_pair_set,
	 "VM --bandwidth MIB/S [--no-wait]: change the copy's speed limit per disk (0: unlimited), "
	 "also of a copy under way"},
	{"pair", "verify", hs_cli_pair_verify,
	 "VM [--repair] [--no-wait]: compare VM's disks with its backup's while it runs, report "
	 "the ranges out of sync (exit 8), --repair: copy them from the primary (run it on the "
	 "primary's host)"},
	{"pair", "delete", hs_cli_pair_delete, "VM [--no-wait]: stop protecting VM, remove its backup"},
	{"switchover", NULL, hs_cli_switchover,
	 "VM [--live [--allow-cold]] [--no-wait]: move VM to its backup host, no data lost, "
	 "roles reversed (--live: by live migration, the guest keeps running; needs the qmp "
	 "engine; --allow-cold: if it cannot move live, restart it there)"},
	{"node", "maintenance", hs_cli_node_maintenance,
	 "NODE on|off [--no-wait]: move NODE's VMs away, take no backups there / take them again"},
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
	fprintf(out, "\nOperations follow their progress until they are over (--timeout SECONDS, "
		     "default 900),\nprinting each state the pair passes; --no-wait returns once the "
		     "request is accepted.\n");
	fprintf(out, "\nThe daemon's socket is --socket, else $HASVC_SOCKET, else %s.\n",
		HS_CLI_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"since", required_argument, NULL, 'S'},
		{"follow", no_argument, NULL, 'F'},
		{"backup", required_argument, NULL, 'b'},
		{"mode", required_argument, NULL, 'm'},
		{"bandwidth", required_argument, NULL, 'B'},
		{"wait", no_argument, NULL, 'w'},
		{"no-wait", no_argument, NULL, 'W'},
		{"live", no_argument, NULL, 'L'},
		{"allow-cold", no_argument, NULL, 'C'},
		{"repair", no_argument, NULL, 'R'},
		{"timeout", required_argument, NULL, 't'},
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
		/*
		 * Options after the command, anywhere among its words. getopt keeps
		 * the "+" (stop at the first word) of the first scan unless it
		 * starts afresh (optind 0), so the rest is scanned as a new vector.
		 */
		argv[rest - 1] = argv[0];
		argc -= rest - 1;
		argv += rest - 1;
		optind = 0;
		while ((c = getopt_long(argc, argv, "s:jh", options, NULL)) != -1) {
			switch (c) {
			case 's': o.socket = optarg; break;
			case 'j': o.json = true; break;
			case 'S': o.since = optarg; break;
			case 'F': o.follow = true; break;
			case 'b': o.backup = optarg; break;
			case 'm': o.mode = optarg; break;
			case 'B': o.bandwidth = optarg; break;
			case 'w': o.wait = true; break;
			case 'W': o.no_wait = true; break;
			case 'L': o.live = true; break;
			case 'C': o.allow_cold = true; break;
			case 'R': o.repair = true; break;
			case 't': o.timeout = optarg; break;
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
