// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_cli_pairs: the CLI's pair and node operations (create, set, delete,
 * switchover, verify, maintenance). Each sends one request;
 * unless --no-wait it then follows the pair through the API (never the database)
 * until the operation is over, printing every state it passes, so a script
 * or an operator at 3 a.m. sees where it stands and why it stopped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_cli.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"

#define POLL_MS 100 /* --wait: how often the pair is looked at (a local call) */
#define NOT_SEEN_S 5 /* a pair accepted but not seen in the state yet, for so long */
#define DEFAULT_TIMEOUT_S 900

static unsigned timeout_s(const struct cli_options *o)
{
	return o->timeout ? (unsigned)strtoul(o->timeout, NULL, 10) : DEFAULT_TIMEOUT_S;
}

/* The pair of VM, or NULL when it is gone (*ret_exit says how the request went). */
/* VM's pair; QUIET: "no such pair" is returned, not printed. */
static json_object *pair_get(const struct cli_options *o, const char *vm, bool quiet,
			     int *ret_exit)
{
	json_object *answer = NULL;
	char path[128];

	snprintf(path, sizeof(path), "/v1/pairs/%s", vm);
	*ret_exit = quiet ? hs_cli_get_quiet(o->socket, path, &answer)
			  : hs_cli_request(o->socket, "GET", path, NULL, &answer);
	return answer;
}

/* The last events about VM: why a pair went away. */
static void print_last_events(const struct cli_options *o, const char *vm)
{
	json_object *answer = NULL, *list;
	const char *found[3] = {NULL, NULL, NULL};

	if (hs_cli_request(o->socket, "GET", "/v1/events?limit=10000", NULL, &answer) != HS_EXIT_OK)
		return;
	list = hs_json_get(answer, "events");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i);
		if (strcmp(hs_json_str(e, "vm"), vm) == 0) {
			found[0] = found[1];
			found[1] = found[2];
			found[2] = hs_json_str(e, "message");
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(found); i++)
		if (found[i])
			fprintf(stderr, "hasvc: %s: %s\n", vm, found[i]);
	json_object_put(answer);
}

/*
 * WAIT_REFUSED: the cluster undid the request (a refused creation is rolled
 * back through deleting): the same verdict, exit 7 with the events that say
 * why, whether the pair is caught in deleting or only seen gone.
 */
enum wait_verdict { WAIT_ON, WAIT_DONE, WAIT_FAILED, WAIT_REFUSED };

/*
 * Polls the pair of VM until JUDGE says done or failed (or the pair is gone:
 * GONE_OK says whether that is success). Prints each new state.
 */
static int wait_pair(const struct cli_options *o, const char *vm, bool gone_ok,
		     enum wait_verdict (*judge)(json_object *pair, const char *arg), const char *arg)
{
	time_t start = time(NULL), deadline = start + timeout_s(o);
	char last[64] = "", pct[32];
	int r;

	for (;;) {
		json_object *pair = pair_get(o, vm, true, &r);
		enum wait_verdict v;

		if (r == HS_EXIT_NOT_FOUND) {
			if (gone_ok) {
				fprintf(stderr, "%s: unpaired\n", vm);
				return HS_EXIT_OK;
			}
			/*
			 * Accepted (202) is not applied yet: a pair never seen may
			 * still be on its way through the cluster. Only one seen and
			 * then gone, or never seen for NOT_SEEN_S, went away.
			 */
			if (!last[0] && time(NULL) < start + NOT_SEEN_S) {
				usleep(POLL_MS * 1000);
				continue;
			}
			fprintf(stderr, "hasvc: no pair for VM '%s'\n", vm);
			print_last_events(o, vm);
			return HS_EXIT_REFUSED;
		}
		if (r != HS_EXIT_OK)
			return r;
		if (strcmp(last, hs_json_str(pair, "state")) != 0) {
			snprintf(last, sizeof(last), "%s", hs_json_str(pair, "state"));
			pct[0] = '\0';
			fprintf(stderr, "%s: %s (primary %s, backup %s)%s%s\n", vm, last,
				hs_json_str(pair, "primary"), hs_json_str(pair, "backup"),
				hs_json_get(pair, "reason") ? ": " : "",
				hs_json_get(pair, "reason") ? hs_json_str(pair, "reason") : "");
		} else if (strcmp(last, "initial-sync") == 0) {
			uint64_t done = (uint64_t)json_object_get_int64(hs_json_get(pair, "bytes_done"));
			uint64_t total = (uint64_t)json_object_get_int64(hs_json_get(pair, "bytes_total"));
			unsigned p = total ? (unsigned)(done * 100 / total) : 0;
			char now[32], bar[21];
			snprintf(now, sizeof(now), "%u%%", p);
			for (unsigned i = 0; i < 20; i++)
				bar[i] = i < p / 5 ? '#' : '.';
			bar[20] = '\0';
			/* total 0: no progress reported yet, nothing to draw */
			if (total && strcmp(now, pct) != 0) {
				fprintf(stderr, "%s: initial sync [%s] %s of %llu MiB\n", vm, bar, now,
					(unsigned long long)(total >> 20));
				snprintf(pct, sizeof(pct), "%s", now);
			}
		}
		v = judge(pair, arg);
		if (v != WAIT_ON) {
			if (o->json)
				hs_cli_print_json(pair);
			json_object_put(pair);
			if (v == WAIT_REFUSED) {
				print_last_events(o, vm);
				return HS_EXIT_REFUSED;
			}
			return v == WAIT_DONE ? HS_EXIT_OK : HS_EXIT_ERROR;
		}
		json_object_put(pair);
		if (time(NULL) >= deadline) {
			fprintf(stderr, "hasvc: %s: still %s after %u s; it goes on in the background\n",
				vm, last, timeout_s(o));
			return HS_EXIT_ERROR;
		}
		usleep(POLL_MS * 1000);
	}
}

/* Protected (in sync) with primary ARG (NULL: any). */
static enum wait_verdict judge_in_sync(json_object *pair, const char *primary)
{
	const char *state = hs_json_str(pair, "state");

	if (strcmp(state, "in-sync") == 0 &&
	    (!primary || strcmp(hs_json_str(pair, "primary"), primary) == 0))
		return WAIT_DONE;
	if (strcmp(state, "deleting") == 0)
		return WAIT_REFUSED;
	if (strcmp(state, "error") == 0 || strcmp(state, "lost-unsynced") == 0 ||
	    strcmp(state, "guest-down") == 0)
		return WAIT_FAILED;
	/* degraded after a switchover attempt: it was rolled back */
	if (strcmp(state, "degraded") == 0 && primary &&
	    strcmp(hs_json_str(pair, "primary"), primary) != 0)
		return WAIT_FAILED;
	return WAIT_ON;
}

static enum wait_verdict judge_gone(json_object *pair, const char *arg)
{
	return WAIT_ON;
}

/* Sends METHOD PATH with BODY (taken); prints the answer's message. */
static int send_op(const struct cli_options *o, const char *method, const char *path,
		   json_object *body, json_object **ret_answer)
{
	json_object *answer = NULL;
	int r = hs_cli_request(o->socket, method, path, body, &answer);

	json_object_put(body);
	if (r != HS_EXIT_OK)
		return r;
	if (o->no_wait && o->json)
		hs_cli_print_json(answer);
	else if (hs_json_get(answer, "message"))
		fprintf(stderr, "%s\n", hs_json_str(answer, "message"));
	if (ret_answer)
		*ret_answer = answer;
	else
		json_object_put(answer);
	return HS_EXIT_OK;
}

/*
 * --bandwidth into BODY as "bandwidth_mib": a whole number of MiB/s, else
 * false with the reason printed. Its range is the daemon's to say (400 names
 * it): one limit, in one place.
 */
static bool bandwidth_arg(const char *text, json_object *body)
{
	char *end = NULL;
	long long bw;

	errno = 0;
	bw = strtoll(text, &end, 10);
	if (errno || !*text || *end || bw < 0) {
		fprintf(stderr,
			"hasvc: --bandwidth must be a whole number of MiB/s (0: unlimited), "
			"not '%s'\n",
			text);
		return false;
	}
	json_object_object_add(body, "bandwidth_mib", json_object_new_int64(bw));
	return true;
}

int hs_cli_pair_create(const struct cli_options *o, int argc, char **argv)
{
	json_object *body;
	int r;

	if (argc < 1 || !o->backup) {
		fprintf(stderr, "hasvc: usage: hasvc pair create VM --backup NODE [--mode sync|async] "
				"[--bandwidth MIB/S] [--no-wait]\n");
		return HS_EXIT_USAGE;
	}
	body = json_object_new_object();
	json_object_object_add(body, "vm", json_object_new_string(argv[0]));
	json_object_object_add(body, "backup", json_object_new_string(o->backup));
	if (o->mode)
		json_object_object_add(body, "mode", json_object_new_string(o->mode));
	if (o->bandwidth && !bandwidth_arg(o->bandwidth, body)) {
		json_object_put(body);
		return HS_EXIT_USAGE;
	}
	r = send_op(o, "POST", "/v1/pairs", body, NULL);
	if (r != HS_EXIT_OK || o->no_wait)
		return r;
	return wait_pair(o, argv[0], false, judge_in_sync, NULL);
}

/* The pair's bandwidth_mib is ARG ("5"): the change is in the replicated state. */
static enum wait_verdict judge_bandwidth(json_object *pair, const char *arg)
{
	return strcmp(hs_json_str(pair, "bandwidth_mib"), arg) == 0 ? WAIT_DONE : WAIT_ON;
}

/*
 * pair set VM --bandwidth MIB/S: over once every host's state holds the new
 * value (a moment); the host that runs the copy applies it at its next look
 * at the jobs, which the events tell ("copy speed ...").
 */
int hs_cli_pair_set(const struct cli_options *o, int argc, char **argv)
{
	json_object *body, *answer = NULL;
	char path[128], want[32];
	int r;

	if (argc < 1 || !o->bandwidth) {
		fprintf(stderr, "hasvc: usage: hasvc pair set VM --bandwidth MIB/S [--no-wait]\n");
		return HS_EXIT_USAGE;
	}
	body = json_object_new_object();
	if (!bandwidth_arg(o->bandwidth, body)) {
		json_object_put(body);
		return HS_EXIT_USAGE;
	}
	snprintf(want, sizeof(want), "%s",
		 json_object_to_json_string(hs_json_get(body, "bandwidth_mib")));
	snprintf(path, sizeof(path), "/v1/pairs/%s", argv[0]);
	r = send_op(o, "PATCH", path, body, &answer);
	json_object_put(answer);
	if (r != HS_EXIT_OK || o->no_wait)
		return r;
	return wait_pair(o, argv[0], false, judge_bandwidth, want);
}

int hs_cli_pair_delete(const struct cli_options *o, int argc, char **argv)
{
	char path[128];
	int r;

	if (argc < 1) {
		fprintf(stderr, "hasvc: usage: hasvc pair delete VM [--no-wait]\n");
		return HS_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/pairs/%s", argv[0]);
	r = send_op(o, "DELETE", path, NULL, NULL);
	if (r != HS_EXIT_OK || o->no_wait)
		return r;
	return wait_pair(o, argv[0], true, judge_gone, NULL);
}

int hs_cli_switchover(const struct cli_options *o, int argc, char **argv)
{
	json_object *pair, *body = NULL;
	char path[128], target[65];
	int r;

	if (argc < 1) {
		fprintf(stderr, "hasvc: usage: hasvc switchover VM [--live [--allow-cold]] [--no-wait]\n");
		return HS_EXIT_USAGE;
	}
	pair = pair_get(o, argv[0], false, &r);
	if (r != HS_EXIT_OK)
		return r;
	snprintf(target, sizeof(target), "%s", hs_json_str(pair, "backup"));
	json_object_put(pair);
	snprintf(path, sizeof(path), "/v1/pairs/%s/switchover", argv[0]);
	if (o->allow_cold && !o->live) {
		fprintf(stderr, "hasvc: --allow-cold is the fallback of --live: give both\n");
		return HS_EXIT_USAGE;
	}
	if (o->live) {
		body = json_object_new_object();
		json_object_object_add(body, "live", json_object_new_boolean(true));
		if (o->allow_cold)
			json_object_object_add(body, "allow_cold", json_object_new_boolean(true));
	}
	r = send_op(o, "POST", path, body, NULL);
	if (r != HS_EXIT_OK || o->no_wait)
		return r;
	/* Over when the VM runs on the other host and is protected again. */
	return wait_pair(o, argv[0], false, judge_in_sync, target);
}

/* Maintenance is over when NODE runs no primary that could move. */
static int wait_node_empty(const struct cli_options *o, const char *node)
{
	time_t deadline = time(NULL) + timeout_s(o);
	size_t last = (size_t)-1;

	for (;;) {
		json_object *answer = NULL, *list;
		size_t left = 0, stuck = 0;
		int r = hs_cli_request(o->socket, "GET", "/v1/pairs", NULL, &answer);

		if (r != HS_EXIT_OK)
			return r;
		list = hs_json_get(answer, "pairs");
		for (size_t i = 0; list && i < json_object_array_length(list); i++) {
			json_object *p = json_object_array_get_idx(list, i);
			const char *state = hs_json_str(p, "state");
			if (strcmp(hs_json_str(p, "primary"), node) != 0)
				continue;
			left++;
			if (strcmp(state, "degraded") == 0 || strcmp(state, "unprotected") == 0 ||
			    strcmp(state, "error") == 0 || strcmp(state, "lost-unsynced") == 0 ||
			    strcmp(state, "guest-down") == 0) {
				stuck++;
				if (last == (size_t)-1)
					fprintf(stderr, "%s: cannot move, it is %s\n",
						hs_json_str(p, "vm"), state);
			}
		}
		json_object_put(answer);
		if (left != last)
			fprintf(stderr, "%s: %zu VM(s) still run here\n", node, left);
		last = left;
		if (left == stuck)
			return stuck ? HS_EXIT_ERROR : HS_EXIT_OK;
		if (time(NULL) >= deadline)
			return HS_EXIT_ERROR;
		usleep(POLL_MS * 1000);
	}
}

int hs_cli_node_maintenance(const struct cli_options *o, int argc, char **argv)
{
	json_object *body;
	char path[128];
	bool on;
	int r;

	if (argc < 2 || (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0)) {
		fprintf(stderr, "hasvc: usage: hasvc node maintenance NODE on|off [--no-wait]\n");
		return HS_EXIT_USAGE;
	}
	on = strcmp(argv[1], "on") == 0;
	body = json_object_new_object();
	json_object_object_add(body, "on", json_object_new_boolean(on));
	snprintf(path, sizeof(path), "/v1/nodes/%s/maintenance", argv[0]);
	r = send_op(o, "POST", path, body, NULL);
	if (r != HS_EXIT_OK)
		return r;
	fprintf(stderr, "%s: %s\n", argv[0], on ? "in maintenance" : "out of maintenance");
	if (o->no_wait || !on)
		return HS_EXIT_OK;
	return wait_node_empty(o, argv[0]);
}

/* The pair's last verify's end (finished_usec), 0 before the first. */
static int64_t verify_stamp(json_object *pair)
{
	return json_object_get_int64(hs_json_get(hs_json_get(pair, "verify"), "finished_usec"));
}

/*
 * pair verify: the verify runs on the primary's hasvcd (this host's, which
 * must be it); its outcome arrives as the pair's "verify" in the state,
 * newer than the one before the request. Exit 0 in sync or repaired, 8 when
 * ranges are out of sync, 1 when the verify failed.
 */
int hs_cli_pair_verify(const struct cli_options *o, int argc, char **argv)
{
	time_t deadline = time(NULL) + timeout_s(o);
	json_object *pair, *body = NULL;
	char path[128];
	int64_t before;
	int r;

	if (argc != 1 || o->backup || o->mode || o->bandwidth || o->live || o->allow_cold) {
		fprintf(stderr, "hasvc: usage: hasvc pair verify VM [--repair] [--no-wait] "
				"[--timeout SECONDS]\n");
		return HS_EXIT_USAGE;
	}
	pair = pair_get(o, argv[0], false, &r);
	if (r != HS_EXIT_OK)
		return r;
	before = verify_stamp(pair);
	json_object_put(pair);
	if (o->repair) {
		body = json_object_new_object();
		json_object_object_add(body, "repair", json_object_new_boolean(true));
	}
	snprintf(path, sizeof(path), "/v1/pairs/%s/verify", argv[0]);
	r = send_op(o, "POST", path, body, NULL);
	if (r != HS_EXIT_OK || o->no_wait)
		return r;
	for (;;) {
		json_object *v;
		const char *result;

		pair = pair_get(o, argv[0], false, &r);
		if (r != HS_EXIT_OK)
			return r;
		if (verify_stamp(pair) != before) {
			v = hs_json_get(pair, "verify");
			result = hs_json_str(v, "result");
			if (o->json)
				hs_cli_print_json(v);
			else
				printf("%s: %s: %s\n", argv[0], result, hs_json_str(v, "message"));
			r = strcmp(result, "in-sync") == 0 || strcmp(result, "repaired") == 0
				? HS_EXIT_OK
				: strcmp(result, "out-of-sync") == 0 ? HS_EXIT_OUT_OF_SYNC
								     : HS_EXIT_ERROR;
			json_object_put(pair);
			return r;
		}
		json_object_put(pair);
		if (time(NULL) >= deadline) {
			fprintf(stderr, "hasvc: the verify of %s has not ended after %u s (--timeout); "
					"it goes on: hasvc pair show %s tells its outcome\n",
				argv[0], timeout_s(o), argv[0]);
			return HS_EXIT_ERROR;
		}
		usleep(5 * POLL_MS * 1000);
	}
}
