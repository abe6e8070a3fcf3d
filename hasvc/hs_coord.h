/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_coord: what only the coordinator does, run from the daemon's cron.
 * Now: fence hosts that left the cluster (see hs_coord.c for the rules).
 */
#pragma once

struct hs_daemon;
struct hs_coord;

int hs_coord_new(struct hs_daemon *d, struct hs_coord **ret);
void hs_coord_free(struct hs_coord *c);
void hs_coord_cron(struct hs_coord *c);
