/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_op_durations: how long hasvc's operations took, for the histogram
 * hasvc_operation_duration_seconds{op} of GET /metrics.
 *
 * Nothing is timed on the spot: the replicated logs already hold every time
 * needed, and every host holds the same logs, so every host reports the same
 * histograms, and a coordinator that took over mid-failover loses nothing.
 *   - fence: each finished entry of the fence log, finished - started;
 *   - the rest from the pair transitions of the event log (kind "pair",
 *     message "FROM -> TO (EVENT): ..."), per VM, first entry to last:
 *       initial_sync  -> initial-sync ... initial-sync -> in-sync
 *       failover      -> fencing ... promoting -> unprotected
 *       switchover    -> switching-over ... promoting -> unprotected
 *       promote       -> promoting ... promoting -> unprotected
 *       live_switchover -> handing-over ... reversing -> creating (the guest
 *                     runs on the new host)
 *     An operation that leaves its path another way (a host that returned
 *     before its fence, a promotion that failed) is not counted: the
 *     histograms are of operations that succeeded.
 * The stamps of one operation may come from two hosts' clocks; a negative
 * difference counts as 0.
 */
#pragma once

#include <json-c/json.h>

#include "hs_histogram.h"

enum hs_op {
	HS_OP_FAILOVER,
	HS_OP_SWITCHOVER,
	HS_OP_FENCE,
	HS_OP_INITIAL_SYNC,
	HS_OP_PROMOTE,
	HS_OP_LIVE_SWITCHOVER,
	HS_OP_MAX,
};

struct hs_op_durations {
	struct hs_histogram op[HS_OP_MAX];
};

/* "failover", "switchover", "fence", "initial_sync", "promote", "live_switchover" */
const char *hs_op_name(enum hs_op op);

/* Pair events [{"time_usec","vm","message"...}], oldest first, as sdb_events_list gives them. */
void hs_op_durations_add_pair_events(struct hs_op_durations *d, json_object *events);

/* Fence log entries [{"result","started_usec","finished_usec"...}]; running ones are skipped. */
void hs_op_durations_add_fence_log(struct hs_op_durations *d, json_object *log);

/* The whole histogram metric, HELP and TYPE included. */
void hs_op_durations_write(FILE *f, const struct hs_op_durations *d);
