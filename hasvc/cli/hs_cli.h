/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_cli: what the hasvc CLI needs to talk to hasvcd: one request over the
 * daemon's unix socket (libcurl), the mapping of API errors to named exit
 * codes, and small json-c accessors for printing.
 */
#pragma once

#include <json-c/json.h>

#define HS_CLI_DEFAULT_SOCKET "/run/hasvc/hasvcd.sock"

#include <stdbool.h>

struct cli_options {
	const char *socket;
	bool json;
	const char *since;     /* events --since */
	bool follow;           /* events --follow */
	const char *backup;    /* pair create --backup */
	const char *mode;      /* pair create --mode */
	const char *bandwidth; /* pair create, pair set --bandwidth (MiB/s) */
	bool wait;             /* --wait: the default, kept for scripts that say it */
	bool no_wait;          /* return once the request is accepted */
	bool live;             /* switchover --live */
	bool allow_cold;       /* switchover --allow-cold: live, else cold */
	bool repair;           /* pair verify --repair */
	const char *timeout;   /* --wait limit, seconds */
};

enum hs_exit {
	HS_EXIT_OK = 0,
	HS_EXIT_ERROR = 1,       /* the request failed for another reason */
	HS_EXIT_USAGE = 2,       /* bad command line */
	HS_EXIT_UNAVAILABLE = 3, /* hasvcd cannot be reached */
	HS_EXIT_NOT_FOUND = 4,   /* no such VM, node or path */
	HS_EXIT_BUSY = 5,        /* another operation runs on that VM */
	HS_EXIT_NO_QUORUM = 6,   /* this host's partition may not act */
	HS_EXIT_REFUSED = 7,     /* the request is not allowed in the current state */
	HS_EXIT_OUT_OF_SYNC = 8, /* pair verify: ranges out of sync found (and not repaired) */
};

/*
 * Sends METHOD PATH (with BODY as JSON when not NULL) to the daemon on SOCKET.
 * On HTTP 2xx stores the parsed answer in *ret_answer and returns HS_EXIT_OK;
 * otherwise prints "hasvc: MESSAGE" to stderr and returns the exit code that
 * names the failure.
 */
int hs_cli_request(const char *socket, const char *method, const char *path,
		   json_object *body, json_object **ret_answer);
/* GET PATH like hs_cli_request, but "not found" (404) is returned, not printed. */
int hs_cli_get_quiet(const char *socket, const char *path, json_object **ret_answer);
/*
 * Reads an answer BODY with HTTP STATUS: on 2xx stores the parsed object in
 * *RET_ANSWER (when not NULL) and returns HS_EXIT_OK; otherwise prints
 * "hasvc: MESSAGE" and returns the exit code that names the failure.
 */
int hs_cli_answer(long status, const char *body, json_object **ret_answer);
/* The exit code for an HTTP status and API error name. */
int hs_cli_exit_code(long http_status, const char *error);

void hs_cli_print_json(json_object *obj);
/* OBJ[KEY] or NULL. */
json_object *hs_json_get(json_object *obj, const char *key);
/* OBJ[KEY] as text ("-" when missing or null); valid while OBJ lives. */
const char *hs_json_str(json_object *obj, const char *key);

/* One event of the log as a line: "ID TIME NODE KIND VM: MESSAGE". */
void hs_cli_print_event(json_object *event);
/* `hasvc events --follow`: prints events from SINCE on as they happen (hs_cli_events.c). */
int hs_cli_events_follow(const struct cli_options *o, const char *since);

/* Pair and node operations (hs_cli_pairs.c); ARGV holds the words after the command. */
int hs_cli_pair_create(const struct cli_options *o, int argc, char **argv);
int hs_cli_pair_delete(const struct cli_options *o, int argc, char **argv);
int hs_cli_pair_set(const struct cli_options *o, int argc, char **argv);
int hs_cli_switchover(const struct cli_options *o, int argc, char **argv);
int hs_cli_pair_verify(const struct cli_options *o, int argc, char **argv);
int hs_cli_node_maintenance(const struct cli_options *o, int argc, char **argv);
