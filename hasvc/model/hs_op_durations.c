// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_op_durations: operation durations from the replicated logs (see
 * hs_op_durations.h for what each operation spans and why no clock is read).
 *
 * The pair events are walked once, oldest first, with one row of start times
 * per VM; each transition, per operation: the finishing transition observes
 * the time since the start, entering the first state (re)starts, entering a
 * state off the operation's path forgets it.
 */
#include <stdio.h>
#include <string.h>

#include "hs_op_durations.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"

static const char *const op_names[HS_OP_MAX] = {
	[HS_OP_FAILOVER] = "failover",
	[HS_OP_SWITCHOVER] = "switchover",
	[HS_OP_FENCE] = "fence",
	[HS_OP_INITIAL_SYNC] = "initial_sync",
	[HS_OP_PROMOTE] = "promote",
	[HS_OP_LIVE_SWITCHOVER] = "live_switchover",
};

/* The pair operations: entered at BEGIN, through PATH, over at END_FROM -> END_TO. */
static const struct {
	enum hs_op op;
	const char *begin;
	const char *path[4];
	const char *end_from, *end_to;
} pair_ops[] = {
	{HS_OP_INITIAL_SYNC, "initial-sync", {"initial-sync", NULL}, "initial-sync", "in-sync"},
	{HS_OP_FAILOVER, "fencing", {"fencing", "promoting"}, "promoting", "unprotected"},
	{HS_OP_SWITCHOVER, "switching-over", {"switching-over", "promoting"}, "promoting",
	 "unprotected"},
	{HS_OP_PROMOTE, "promoting", {"promoting", NULL}, "promoting", "unprotected"},
	/* until the guest runs on the new host; its new backup's delta is an initial_sync */
	{HS_OP_LIVE_SWITCHOVER, "handing-over", {"handing-over", "catching-up", "migrating", "reversing"},
	 "reversing", "creating"},
};

struct vm_starts {
	char vm[65];
	uint64_t start[ARRAY_SIZE(pair_ops)]; /* 0: not under way */
};

const char *hs_op_name(enum hs_op op)
{
	return op < HS_OP_MAX ? op_names[op] : "?";
}

static const char *field_string(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static uint64_t field_usec(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? (uint64_t)json_object_get_int64(v) : 0;
}

static void observe(struct hs_op_durations *d, enum hs_op op, uint64_t start, uint64_t end)
{
	hs_histogram_observe(&d->op[op], ((double)end - (double)start) / 1e6);
}

static bool on_path(size_t i, const char *state)
{
	for (size_t k = 0; k < ARRAY_SIZE(pair_ops[i].path) && pair_ops[i].path[k]; k++)
		if (strcmp(pair_ops[i].path[k], state) == 0)
			return true;
	return false;
}

static void transition(struct hs_op_durations *d, struct vm_starts *v, const char *from,
		       const char *to, uint64_t t)
{
	for (size_t i = 0; i < ARRAY_SIZE(pair_ops); i++) {
		if (v->start[i] && strcmp(from, pair_ops[i].end_from) == 0 &&
		    strcmp(to, pair_ops[i].end_to) == 0) {
			observe(d, pair_ops[i].op, v->start[i], t);
			v->start[i] = 0;
		} else if (strcmp(to, pair_ops[i].begin) == 0) {
			v->start[i] = t ? t : 1;
		} else if (!on_path(i, to)) {
			v->start[i] = 0;
		}
	}
}

/*
 * The transition an event records: its "transition" {from, to, event} (state/
 * stores it for every state change since schema 5). An event logged before
 * that carries it only in its text, "FROM -> TO (EVENT): detail", read as a
 * fallback so durations survive the upgrade; other pair events ("pairing
 * vm1: ...") are no transitions.
 */
static bool event_transition(json_object *e, char from[32], char to[32])
{
	json_object *t;
	const char *f, *s, *msg;

	if (json_object_object_get_ex(e, "transition", &t)) {
		f = field_string(t, "from");
		s = field_string(t, "to");
		if (!f || !s || strlen(f) >= 32 || strlen(s) >= 32)
			return false;
		strcpy(from, f);
		strcpy(to, s);
		return true;
	}
	msg = field_string(e, "message");
	return msg && sscanf(msg, "%31s -> %31s (", from, to) == 2;
}

void hs_op_durations_add_pair_events(struct hs_op_durations *d, json_object *events)
{
	size_t n = json_object_array_length(events), n_vms = 0, cap = 0;
	_cleanup_free_ struct vm_starts *vms = NULL;

	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(events, i);
		const char *vm = field_string(e, "vm");
		char from[32], to[32];
		size_t k;

		if (!vm || strlen(vm) >= sizeof(vms[0].vm) || !event_transition(e, from, to))
			continue;
		for (k = 0; k < n_vms && strcmp(vms[k].vm, vm) != 0; k++)
			;
		if (k == n_vms) {
			if (n_vms == cap) {
				struct vm_starts *grown = realloc(vms, (cap ? 2 * cap : 16) * sizeof(*vms));
				if (!grown)
					return;
				vms = grown;
				cap = cap ? 2 * cap : 16;
			}
			vms[n_vms] = (struct vm_starts){0};
			strcpy(vms[n_vms++].vm, vm);
		}
		transition(d, &vms[k], from, to, field_usec(e, "time_usec"));
	}
}

void hs_op_durations_add_fence_log(struct hs_op_durations *d, json_object *log)
{
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *result = field_string(e, "result");
		uint64_t started = field_usec(e, "started_usec"), finished = field_usec(e, "finished_usec");

		if (!result || strcmp(result, "running") == 0 || !started || !finished)
			continue;
		observe(d, HS_OP_FENCE, started, finished);
	}
}

void hs_op_durations_write(FILE *f, const struct hs_op_durations *d)
{
	fprintf(f, "# HELP hasvc_operation_duration_seconds How long operations that succeeded took "
		   "(fences: every finished one), from the kept replicated logs.\n"
		   "# TYPE hasvc_operation_duration_seconds histogram\n");
	for (int op = 0; op < HS_OP_MAX; op++)
		hs_histogram_write(f, "hasvc_operation_duration_seconds", "op", op_names[op],
				   &d->op[op]);
}
