// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of hs_histogram and hs_op_durations: the exposition has cumulative
 * buckets ending at +Inf = _count, and operation durations are read off the
 * pair transitions and the fence log the way the daemon logs them; an
 * operation that did not succeed is not counted.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_op_durations.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"

static char *written(void (*write)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	write(f, arg);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static void write_histogram(FILE *f, const void *h)
{
	hs_histogram_write(f, "x_seconds", "op", "failover", h);
}

static void write_durations(FILE *f, const void *d)
{
	hs_op_durations_write(f, d);
}

#define has(text, line) cr_assert(strstr(text, line "\n"), "no line '%s' in:\n%s", line, text)

TestSuite(op_durations);

Test(op_durations, histogram_buckets_are_cumulative)
{
	struct hs_histogram h = {0};
	_cleanup_free_ char *text = NULL;

	hs_histogram_observe(&h, 0.05);
	hs_histogram_observe(&h, 0.3);
	hs_histogram_observe(&h, 2.5); /* le is inclusive */
	hs_histogram_observe(&h, 7200); /* over the last bound: only +Inf */
	hs_histogram_observe(&h, -1);   /* clocks of two hosts: counts as 0 */
	text = written(write_histogram, &h);
	has(text, "x_seconds_bucket{op=\"failover\",le=\"0.1\"} 2");
	has(text, "x_seconds_bucket{op=\"failover\",le=\"0.25\"} 2");
	has(text, "x_seconds_bucket{op=\"failover\",le=\"0.5\"} 3");
	has(text, "x_seconds_bucket{op=\"failover\",le=\"2.5\"} 4");
	has(text, "x_seconds_bucket{op=\"failover\",le=\"3600\"} 4");
	has(text, "x_seconds_bucket{op=\"failover\",le=\"+Inf\"} 5");
	has(text, "x_seconds_sum{op=\"failover\"} 7202.850000");
	has(text, "x_seconds_count{op=\"failover\"} 5");
}

Test(op_durations, empty_histograms_are_all_written)
{
	struct hs_op_durations d = {0};
	_cleanup_free_ char *text = written(write_durations, &d);

	has(text, "# TYPE hasvc_operation_duration_seconds histogram");
	for (int op = 0; op < HS_OP_MAX; op++) {
		char line[128];
		snprintf(line, sizeof(line), "hasvc_operation_duration_seconds_count{op=\"%s\"} 0\n",
			 hs_op_name(op));
		cr_assert(strstr(text, line), "no %s", line);
	}
}

struct pair_event {
	const char *vm;
	double t; /* seconds */
	const char *message;
};

/* The events as sdb_events_list gives them, oldest first. */
static json_object *events_json(const struct pair_event *ev, size_t n)
{
	json_object *list = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "vm", json_object_new_string(ev[i].vm));
		json_object_object_add(e, "time_usec", json_object_new_int64((int64_t)(ev[i].t * 1e6)));
		json_object_object_add(e, "message", json_object_new_string(ev[i].message));
		json_object_array_add(list, e);
	}
	return list;
}

Test(op_durations, pair_operations_from_transitions)
{
	static const struct pair_event ev[] = {
		{"vm1", 100, "pairing vm1: primary node1, backup node2, sync mode"},
		{"vm1", 101, "creating -> initial-sync (backup-prepared): block copy started"},
		{"vm2", 102, "creating -> initial-sync (backup-prepared): block copy started"},
		{"vm1", 131, "initial-sync -> in-sync (mirror-ready): all disks ready"},
		/* vm1 fails over: 4 s from the loss to the promoted backup, 1 s of it promoting */
		{"vm1", 200, "in-sync -> fencing (primary-lost): node1 left"},
		{"vm1", 203, "fencing -> promoting (fenced): node1 off"},
		{"vm1", 204, "promoting -> unprotected (promoted): vm1 runs on node2"},
		/* vm2 never syncs: lost unsynced, no initial sync and no failover counted */
		{"vm2", 205, "initial-sync -> lost-unsynced (primary-lost): not promoted"},
		/* vm1 is protected again, then switches over: 2.5 s */
		{"vm1", 300, "creating -> initial-sync (backup-prepared): again"},
		{"vm1", 310, "initial-sync -> in-sync (mirror-ready): ready"},
		{"vm1", 400, "in-sync -> switching-over (switchover): admin"},
		{"vm1", 402, "switching-over -> promoting (primary-stopped): stopped"},
		{"vm1", 402.5, "promoting -> unprotected (promoted): runs on node1"},
	};
	_cleanup_json_ json_object *list = events_json(ev, ARRAY_SIZE(ev));
	struct hs_op_durations d = {0};

	hs_op_durations_add_pair_events(&d, list);
	cr_assert_eq(d.op[HS_OP_INITIAL_SYNC].count, 2);
	cr_assert_float_eq(d.op[HS_OP_INITIAL_SYNC].sum, 40, 1e-6);
	cr_assert_eq(d.op[HS_OP_FAILOVER].count, 1);
	cr_assert_float_eq(d.op[HS_OP_FAILOVER].sum, 4, 1e-6);
	cr_assert_eq(d.op[HS_OP_SWITCHOVER].count, 1);
	cr_assert_float_eq(d.op[HS_OP_SWITCHOVER].sum, 2.5, 1e-6);
	cr_assert_eq(d.op[HS_OP_PROMOTE].count, 2);
	cr_assert_float_eq(d.op[HS_OP_PROMOTE].sum, 1.5, 1e-6);
}

/* A live switchover counts until the guest runs on the new host; a failed one does not count. */
Test(op_durations, live_switchovers_that_moved_the_guest)
{
	static const struct pair_event ev[] = {
		{"vm1", 10, "in-sync -> handing-over (live-switchover): admin"},
		{"vm1", 11, "handing-over -> catching-up (standin-ready): stand-in"},
		{"vm1", 12, "catching-up -> migrating (mirror-ready): ready"},
		{"vm1", 14, "migrating -> reversing (migrated): on node2"},
		{"vm1", 14.25, "reversing -> creating (reversed): runs on node2"},
		{"vm1", 20, "in-sync -> handing-over (live-switchover): admin"},
		{"vm1", 21, "handing-over -> catching-up (standin-ready): stand-in"},
		{"vm1", 22, "catching-up -> migrating (mirror-ready): ready"},
		{"vm1", 30, "migrating -> creating (migration-failed): not converged"},
	};
	_cleanup_json_ json_object *list = events_json(ev, ARRAY_SIZE(ev));
	struct hs_op_durations d = {0};

	hs_op_durations_add_pair_events(&d, list);
	cr_assert_eq(d.op[HS_OP_LIVE_SWITCHOVER].count, 1);
	cr_assert_float_eq(d.op[HS_OP_LIVE_SWITCHOVER].sum, 4.25, 1e-6);
	cr_assert_eq(d.op[HS_OP_SWITCHOVER].count, 0, "not the cold one");
}

/* Since schema 5 the transition is a field of its own: the text is only for people. */
Test(op_durations, the_recorded_transition_wins_over_the_text)
{
	_cleanup_json_ json_object *list = json_tokener_parse(
	    "[{\"vm\":\"vm1\",\"time_usec\":10000000,\"message\":\"vm1 is on its way\","
	    "  \"transition\":{\"from\":\"creating\",\"to\":\"initial-sync\",\"event\":\"backup-prepared\"}},"
	    " {\"vm\":\"vm1\",\"time_usec\":16000000,\"message\":\"in-sync -> fencing (x): a misleading text\","
	    "  \"transition\":{\"from\":\"initial-sync\",\"to\":\"in-sync\",\"event\":\"mirror-ready\"}}]");
	struct hs_op_durations d = {0};

	hs_op_durations_add_pair_events(&d, list);
	cr_assert_eq(d.op[HS_OP_INITIAL_SYNC].count, 1);
	cr_assert_float_eq(d.op[HS_OP_INITIAL_SYNC].sum, 6, 1e-6);
	cr_assert_eq(d.op[HS_OP_FAILOVER].count, 0);
}

Test(op_durations, operations_that_did_not_succeed_are_not_counted)
{
	static const struct pair_event ev[] = {
		/* the host came back before its fence: nothing promoted */
		{"vm1", 10, "in-sync -> fencing (primary-lost): node1 left"},
		{"vm1", 12, "fencing -> in-sync (host-returned): node1 is back"},
		/* a promotion that failed; what follows does not finish it */
		{"vm1", 20, "in-sync -> fencing (primary-lost): node1 left"},
		{"vm1", 22, "fencing -> promoting (fenced): off"},
		{"vm1", 23, "promoting -> error (promote-failed): QEMU died"},
		{"vm1", 30, "error -> unprotected (promoted): not a real row, not counted"},
	};
	_cleanup_json_ json_object *list = events_json(ev, ARRAY_SIZE(ev));
	struct hs_op_durations d = {0};

	hs_op_durations_add_pair_events(&d, list);
	for (int op = 0; op < HS_OP_MAX; op++)
		cr_assert_eq(d.op[op].count, 0, "%s counted", hs_op_name(op));
}

Test(op_durations, finished_fences_from_the_log)
{
	_cleanup_json_ json_object *log = json_tokener_parse(
		"[{\"result\":\"success\",\"started_usec\":1000000,\"finished_usec\":3600000},"
		" {\"result\":\"failed\",\"started_usec\":5000000,\"finished_usec\":35000000},"
		" {\"result\":\"running\",\"started_usec\":9000000,\"finished_usec\":null}]");
	struct hs_op_durations d = {0};

	hs_op_durations_add_fence_log(&d, log);
	cr_assert_eq(d.op[HS_OP_FENCE].count, 2);
	cr_assert_float_eq(d.op[HS_OP_FENCE].sum, 32.6, 1e-6);
	cr_assert_eq(d.op[HS_OP_FENCE].bucket[5], 1); /* 2.6 s: le="5" */
}
