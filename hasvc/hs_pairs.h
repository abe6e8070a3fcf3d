/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_pairs: the pairs' life carried out. Every host runs the same loop over
 * the replicated pairs (from the daemon's cron):
 *
 *   - duties: while a pair is in a state, the host the state names does that
 *     state's work (hs_pairs.c: the duty table) -- the backup host prepares
 *     in `creating`, the primary host mirrors in `initial-sync`, the backup
 *     host promotes in `promoting`, ... -- once per pair generation, and
 *     proposes the transition that follows from the result;
 *   - the coordinator's plan (hs_coord_plan) from the membership: hosts lost
 *     or back, re-protection; the coordinator proposes those transitions.
 *
 * Every transition is a replicated compare-and-set on (state, generation):
 * a stale proposal is refused on every host alike, so duplicate proposals,
 * a coordinator change or a host that restarts half-way do no harm; the next
 * round of the loop picks up from whatever state the pair is in.
 *
 * Admin operations (hs_pair_ops.c) only validate and propose the first
 * transition; their answer comes back through HS_PAIRS_REPLY.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct hs_daemon;
struct hs_pairs;
struct mirror;

int hs_pairs_new(struct hs_daemon *d, struct hs_pairs **ret);
void hs_pairs_free(struct hs_pairs *p);
void hs_pairs_cron(struct hs_pairs *p);

/*
 * The answer to an admin operation: an HTTP status and a JSON body (taken),
 * {"error","message"} on failure. May be called before the operation returns.
 */
typedef void (*hs_pairs_reply_fn)(void *userdata, unsigned status, json_object *body);

/* POST /v1/pairs {"vm","backup","mode","bandwidth_mib"}: the VM must run on this host. */
void hs_pairs_create(struct hs_pairs *p, json_object *request, hs_pairs_reply_fn reply,
		     void *userdata);
/* DELETE /v1/pairs/VM */
void hs_pairs_delete(struct hs_pairs *p, const char *vm, hs_pairs_reply_fn reply, void *userdata);
/* POST /v1/pairs/VM/switchover */
void hs_pairs_switchover(struct hs_pairs *p, const char *vm, hs_pairs_reply_fn reply,
			 void *userdata);
/* POST /v1/nodes/NODE/maintenance {"on":bool} */
void hs_pairs_maintenance(struct hs_pairs *p, const char *node, bool on, hs_pairs_reply_fn reply,
			  void *userdata);

/* --- shared by hs_pairs.c and hs_pair_ops.c ------------------------------ */

/* The NBD port for a new backup of EXCEPT_VM on HOST: the first one from
 * nbd_port_base that no other pair backed up on HOST uses, in the state or in
 * a proposal this host made moments ago (a burst of creates, or one plan round
 * re-protecting several pairs onto HOST, is proposed before any is applied).
 * The port is remembered as claimed: call it only for a port that is used.
 * Proposers record it as a first guess; the backup host calls it again when
 * it prepares the backup, binds that port (or the next free one) and
 * records the port bound: only it sees every prepare onto itself. */
unsigned hs_pairs_free_port(struct hs_daemon *d, const char *host, const char *except_vm);
/* Where HOST's NBD exports listen (its replication_address, else address). */
const char *hs_pairs_replication_address(struct hs_daemon *d, const char *host);
/* The node row's state ("online", "maintenance", ...) into BUF; "" if unknown. */
const char *hs_pairs_node_state(struct hs_daemon *d, const char *node, char *buf, size_t len);
bool hs_pairs_node_online(struct hs_daemon *d, const char *node);
/* NODE's host is in the corosync ring, whether its hasvcd runs or not. */
bool hs_pairs_host_up(struct hs_daemon *d, const char *node);
