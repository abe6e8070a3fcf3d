/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_coord: what only the coordinator does, run from the daemon's cron and
 * from its kick on every change (a membership, an applied message): fence
 * hosts that left the cluster, and keep the replicated node table in step
 * with the membership (see hs_coord.c for the rules). Both are idempotent:
 * running them more often proposes nothing twice.
 */
#pragma once

struct hs_core;
struct hs_coord;
struct hs_fencing;

int hs_coord_new(struct hs_core *core, struct hs_fencing *fencing, struct hs_coord **ret);
void hs_coord_free(struct hs_coord *c);
/* Fences lost hosts (and retries failed fences). */
void hs_coord_cron(struct hs_coord *c);
/* Records membership in the nodes table; only once the state is idle (hs_state_idle). */
void hs_coord_nodes_reconcile(struct hs_coord *c);
