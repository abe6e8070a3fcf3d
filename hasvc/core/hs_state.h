/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_state: the core's side of the replicated cluster state (see hs_state.c
 * for the wiring; state/ for the store and the protocol). Every change this
 * daemon makes to the cluster goes through hs_state_propose().
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

struct hs_core;
struct hs_node_view;

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

/* {"synced","version","digest"} */
json_object *hs_state_status_json(struct hs_core *d);
