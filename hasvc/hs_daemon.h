/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_daemon: the one object of hasvcd. It owns the qb_loop (the only loop of
 * the main thread) and every module the daemon is made of; handlers get it to
 * reach them. Nothing here is shared with another thread.
 */
#pragma once

#include <json-c/json.h>
#include <qb/qbloop.h>

#include "hs_cluster.h"
#include "hs_config.h"

struct hs_web;
struct hs_fencing;
struct sdb;
struct sdb_repl;
struct hs_outbox;

struct hs_daemon {
	qb_loop_t *loop;
	struct hs_config *config;
	const struct hs_config_node *self;
	struct hs_cluster *cluster;
	struct hs_web *web;
	struct sdb *db;          /* the replicated cluster state */
	struct sdb_repl *repl;   /* its replication over CPG */
	struct hs_outbox *outbox; /* changes waiting for a sync round to end */
	struct hs_fencing *fencing;
	struct hs_coord *coord;
	struct hs_pairs *pairs;  /* pair duties, the plan, admin operations */
	qb_loop_timer_handle cron;
	bool kick_pending;
	uint64_t started_usec; /* CLOCK_REALTIME */
};

int hs_daemon_run(const char *config_path);

/*
 * Runs the coordinator's and the pairs' rounds soon, once, instead of at the
 * next cron tick: called when a change that may call for action was applied
 * or a membership changed, so a failover does not wait for the timer.
 */
void hs_daemon_kick(struct hs_daemon *d);
