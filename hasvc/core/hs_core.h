/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_core: what every part of hasvcd stands on -- the main loop, the
 * configuration, this host, the cluster connection and the replicated state
 * (store, replication, outbox) -- and the questions about nodes that the
 * parts above ask (online? host up? coordinator?), each answered in one place.
 *
 * The rooms above (pairs/, coord/, api/) get a struct hs_core and never each
 * other. Core never calls up: when something happens that a room above must
 * act on (a change applied, a sync round over, the membership moved, a local
 * block job event), it calls the change hooks that the composition root
 * (daemon/) registered with hs_core_on_change(), as corosync hands its
 * services one function table (exec/apidef.c).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qb/qbloop.h>

#include "hs_cluster.h"
#include "hs_config.h"
#include "hs_records.h"

struct sdb;
struct sdb_repl;
struct hs_outbox;

enum hs_core_change {
	HS_CORE_LOGGED,     /* a change was applied that asks nothing of anyone: an event, progress */
	HS_CORE_APPLIED,    /* a change was applied that moved a pair or a node */
	HS_CORE_SYNCED,     /* this member's state sync round is over */
	HS_CORE_MEMBERSHIP, /* membership or quorum changed */
	HS_CORE_LOCAL,      /* something on this host moved (a block job): act soon */
};

typedef void (*hs_core_change_fn)(void *userdata, enum hs_core_change what);

#define HS_CORE_MAX_HOOKS 8

struct hs_core {
	qb_loop_t *loop;
	struct hs_config *config;
	const struct hs_config_node *self;
	struct hs_cluster *cluster;
	struct sdb *db;           /* the replicated cluster state */
	struct sdb_repl *repl;    /* its replication over CPG */
	struct hs_outbox *outbox; /* changes waiting for a sync round to end */
	uint64_t started_usec;    /* CLOCK_REALTIME */
	bool failed;              /* the cluster refused this configuration: exit non-zero */
	struct {
		hs_core_change_fn fn;
		void *userdata;
	} hooks[HS_CORE_MAX_HOOKS];
	size_t n_hooks;
};

/*
 * Builds the core from CONFIG (taken, freed by hs_core_free even on
 * failure): the hosts (corosync's nodelist merged with CONFIG's, see
 * hs_corosync_nodes.h), the loop, the replicated state, the cluster
 * connection. Each failure is logged with what to fix; a configuration that
 * disagrees with corosync is -EINVAL.
 *
 * When corosync does not answer yet and CONFIG names every host on its own
 * (nodeid and address in each [node], [daemon] node), the core starts with
 * CONFIG's list and checks it at the first join: a mismatch then stops the
 * loop with core->failed set. Otherwise it waits for corosync here, since
 * which host this is decides the state's identity.
 */
int hs_core_new(struct hs_config *config, struct hs_core **ret);
void hs_core_free(struct hs_core *core);

/* FN is called on the loop with each change; -ENOSPC past HS_CORE_MAX_HOOKS. */
int hs_core_on_change(struct hs_core *core, hs_core_change_fn fn, void *userdata);
/* Calls every hook with WHAT. */
void hs_core_changed(struct hs_core *core, enum hs_core_change what);

/* --- nodes: one place for each question ------------------------------- */

bool hs_core_is_self(const struct hs_core *core, const char *node);
bool hs_core_quorate(const struct hs_core *core);
/* This host coordinates: the quorate partition's lowest nodeid (hs_cluster.h). */
bool hs_core_is_coordinator(const struct hs_core *core);
/* NODE's hasvcd is a member of the group now. */
bool hs_core_node_online(const struct hs_core *core, const char *node);
/* NODE's host is in the corosync ring, whether its hasvcd runs or not. */
bool hs_core_host_up(const struct hs_core *core, const char *node);
/* The state NODE's row records; HS_NODE_UNKNOWN without a row. */
enum hs_node_state hs_core_node_state(const struct hs_core *core, const char *node);
/* NODE's row whole (state and admin state); -ENOENT when it has none yet. */
int hs_core_node_get(const struct hs_core *core, const char *node, struct hs_node *ret);
/* The admin put NODE in maintenance (false for a node without a row). */
bool hs_core_node_in_maintenance(const struct hs_core *core, const char *node);
/* Where HOST's NBD exports listen (its replication_address, else address); NULL if unknown. */
const char *hs_core_replication_address(const struct hs_core *core, const char *host);
/* A synced member of a quorate partition, with nothing of its own unsent: it may act. */
bool hs_core_may_act(const struct hs_core *core);

/* --- pairs, decoded (hs_records.h) ------------------------------------ */

/* -ENOENT when VM has no pair; release *RET with hs_pair_release(). */
int hs_core_pair_get(const struct hs_core *core, const char *vm, struct hs_pair *ret);
/* Every pair, or those whose primary or backup is NODE; rows that do not decode are left out. */
int hs_core_pairs_list(const struct hs_core *core, const char *node, struct hs_pair_list *ret);
/*
 * The event that put V where it is (its newest transition, from the
 * replicated event log); HS_EV_MAX when that is not known (pruned, or the
 * log unreadable).
 */
enum hs_pair_event hs_core_pair_entered_by(const struct hs_core *core, const struct hs_pair *v);

/* --- the replicated state (hs_core_state.c) ------------------------------
 * The core's side of the replicated cluster state (state/ has the store and
 * the protocol). Every change this daemon makes to the cluster goes through
 * hs_state_propose(). Declared here, with the rest of the core, so that the
 * core's files form no include cycle. */

int hs_state_open(struct hs_core *d);
void hs_state_close(struct hs_core *d);

/*
 * Proposes the change message BUF (taken: freed here). -ENOLINK without
 * quorum, -EAGAIN while a state transfer runs, else what CPG said.
 */
int hs_state_propose(struct hs_core *d, char *buf, size_t len);
/* Appends an event to the replicated log, from this node. */
int hs_state_event(struct hs_core *d, const char *vm, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * The coordinator records every member in the nodes table soon after the
 * cluster forms; a change that names a node must not race it (a pair created
 * right after start-up was refused on every node: "no node 'node1'"). When
 * NAME has no row yet, its row is proposed now, ahead of the caller's change
 * (CPG keeps the order; a second upsert of the same row changes nothing).
 * -ENOENT when NAME is not a member.
 */
int hs_state_ensure_node(struct hs_core *d, const char *name);
/* Proposes the row of node N, from the configuration and the membership. */
int hs_state_propose_node_row(struct hs_core *d, const struct hs_node_view *n);
/* Periodic: re-send what corosync refused and what waited in the outbox. */
void hs_state_cron(struct hs_core *d);
/* Synced, nothing unsent, nothing queued: a round of proposals may start. */
bool hs_state_idle(struct hs_core *d);
/*
 * True while something hs_state_cron() would send waits for corosync: round
 * messages it refused (TRY_AGAIN, as right after a membership change) or
 * changes queued for a sync round that has ended. The daemon then retries
 * after hs_state_retry_ms(ATTEMPT) (0, 1, ...) rather than at its cron:
 * the sync round after a lost host is on the failover's path.
 */
bool hs_state_sends_waiting(struct hs_core *d);
/* 10 ms doubling with each ATTEMPT; 0 from where the cron (MAX_MS) does as well. */
unsigned hs_state_retry_ms(unsigned attempt, unsigned max_ms);

/* {"synced","version","digest"} */
json_object *hs_state_status_json(struct hs_core *d);
