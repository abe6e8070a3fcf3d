/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_state: the daemon's side of the replicated cluster state (see hs_state.c
 * for the wiring; state/ for the store and the protocol).
 */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

struct hs_daemon;

int hs_state_open(struct hs_daemon *d);
void hs_state_close(struct hs_daemon *d);

/*
 * Proposes the change message BUF (taken: freed here). -ENOLINK without
 * quorum, -EAGAIN while a state transfer runs, else what CPG said.
 */
int hs_state_propose(struct hs_daemon *d, char *buf, size_t len);
/* Appends an event to the replicated log, from this node. */
int hs_state_event(struct hs_daemon *d, const char *vm, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * The coordinator records every member in the nodes table soon after the
 * cluster forms; a change that names a node must not race it (a pair created
 * right after start-up was refused on every node: "no node 'node1'"). When
 * NAME has no row yet, its row is proposed now, ahead of the caller's change
 * (CPG keeps the order; a second upsert of the same row changes nothing).
 * -ENOENT when NAME is not a member.
 */
int hs_state_ensure_node(struct hs_daemon *d, const char *name);
/* Periodic: re-send what corosync refused; coordinator keeps node rows current. */
void hs_state_cron(struct hs_daemon *d);

/* {"synced","version","digest"} */
json_object *hs_state_status_json(struct hs_daemon *d);
