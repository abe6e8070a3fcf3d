/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hs_pairs: what hs_pairs.c (duties, plan) and hs_pair_ops.c (admin operations) share. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "hs_pair_fsm.h"
#include "hs_pairs.h"

struct sdb_pair_change;

/* One row of the pairs table; the strings are borrowed from ROW. */
struct pair_view {
	json_object *row;
	const char *vm, *primary, *backup, *mode, *desired, *reason;
	const char *op; /* the operation running on the VM ("switchover"), or NULL */
	enum hs_pair_state state;
	uint64_t generation, changed_usec, bandwidth_mib, bytes_done, bytes_total;
	unsigned nbd_port;
};

/* What this host has under way for one VM (lost on restart, on purpose). */
struct task {
	struct task *next;
	char *vm;
	uint64_t generation;     /* the pair generation the fields below are about */
	enum hs_pair_state state;
	uint64_t changed_usec;   /* with generation: which incarnation of the pair */
	bool running;            /* a mirror/ request is in flight */
	bool urgent_running;     /* the cut is in flight (it may overtake the above) */
	bool done;               /* this generation's duty is over */
	bool mirror_started;     /* initial-sync: the block copy runs */
	bool cut_sent;           /* switching-over: the mirror was cut, the backup left */
	bool seen;               /* the pair still exists (sweep) */
	uint64_t next_usec;      /* not before (polling, retry) */
	uint64_t proposed_gen;   /* a transition from this generation is in flight */
	uint64_t proposed_usec;
	uint64_t progress_usec, progress_done;
	enum hs_pair_event step_event; /* a plan step carried out by this host */
	char *failure;           /* switchover: why the stop failed */
};

/* An NBD port this host put into a proposal, which the state may not show yet. */
struct port_claim {
	char host[64];
	char vm[65];
	unsigned port;
	uint64_t usec; /* when; a claim older than PORT_CLAIM_USEC is forgotten */
};

struct hs_pairs {
	struct hs_daemon *d;
	struct mirror *mirror;
	struct task *tasks;
	struct port_claim claims[64]; /* ring: hs_pairs_free_port() */
	size_t next_claim;
	char maintenance_noted[64][64]; /* pairs whose "cannot move" was logged */
	size_t n_maintenance_noted;
};

int hs_pair_view_parse(json_object *row, struct pair_view *v);

/*
 * Proposes the FSM transition for EVENT from the pair's state and generation
 * (compare-and-set), with its event text; EXTRA's other fields go along.
 * -EALREADY when this host proposed from this generation moments ago.
 */
int hs_pairs_transition(struct hs_pairs *p, const struct pair_view *v, enum hs_pair_event event,
			const struct sdb_pair_change *extra, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Coordinator: switch over the primaries of hosts in maintenance. */
void hs_pairs_maintenance_cron(struct hs_pairs *p, const struct pair_view *views, size_t n);
