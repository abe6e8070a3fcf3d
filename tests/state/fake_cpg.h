/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake_cpg: an in-process stand-in for corosync CPG, for testing sdb_repl.
 *
 * N nodes (nodeids 1..N), each with its own sdb file in a scratch directory
 * and, while it runs, its own sdb_repl. One global queue holds what is to be
 * delivered, in the one order every member sees: messages (appended when a
 * node's repl sends) and configuration changes (a node starting or
 * stopping). fake_cpg_step() delivers the head of the queue to every current
 * member, as CPG does: a message from a node that is no longer a member, or
 * from an earlier run of it, is dropped (virtual synchrony: a crashed node's
 * messages are delivered before its leave, or not at all).
 *
 * A configuration change may be queued at a random position among the
 * messages not yet delivered (never before an earlier configuration change):
 * that is how a message sent "before" a change ends up delivered after it,
 * the race the protocol must survive. Stopping a node is a crash: its repl
 * and sdb are gone at once, its file stays for the next start.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdb.h"
#include "sdb_repl.h"

#define FAKE_CPG_MAX_NODES 8

struct fake_node {
	uint32_t nodeid;
	char *path;
	struct sdb *db;	       /* NULL while stopped */
	struct sdb_repl *repl; /* NULL while stopped */
	unsigned incarnation;  /* bumped at each stop */
	bool send_fails;       /* ops->send says -EAGAIN */
	size_t snapshot_max;   /* ops->snapshot_max at the next start */
	struct fake_cpg *cpg;
	/* what the callbacks saw */
	unsigned synced, applied, refused, canceled, local_errors, errors;
	unsigned snapshots; /* received, over every run */
	char last_error[768]; /* the last message of ops->error */
};

struct fake_cpg;

/* CHUNK: snapshot bytes per message (0: the default). */
int fake_cpg_new(size_t n_nodes, size_t chunk, struct fake_cpg **ret);
void fake_cpg_free(struct fake_cpg *cpg);

struct fake_node *fake_cpg_node(struct fake_cpg *cpg, uint32_t nodeid);
/* Opens the node's sdb, makes its repl, and queues its join; at a random place when RANDOM. */
void fake_cpg_start(struct fake_cpg *cpg, uint32_t nodeid, bool random);
/* Crashes the node now and queues its leave (at a random place when RANDOM). */
void fake_cpg_stop(struct fake_cpg *cpg, uint32_t nodeid, bool random);
bool fake_cpg_running(struct fake_cpg *cpg, uint32_t nodeid);

/* Delivers the head of the queue; false when the queue is empty. */
bool fake_cpg_step(struct fake_cpg *cpg);
/* Delivers until the queue is empty and nothing waits in an outbox; returns steps taken. */
size_t fake_cpg_run(struct fake_cpg *cpg);
size_t fake_cpg_queued(struct fake_cpg *cpg);

/* sdb_repl_propose() on NODEID of a built message (freed); its result. */
int fake_cpg_propose(struct fake_cpg *cpg, uint32_t nodeid, int build_result, char *buf,
		     size_t len);

/* The random generator the fake uses for positions (seeded by the test). */
void fake_cpg_seed(struct fake_cpg *cpg, unsigned seed);
unsigned fake_cpg_rand(struct fake_cpg *cpg);
