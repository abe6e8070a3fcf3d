/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pairs_test: the pair logic of hasvc/pairs on one host, against fakes.
 *
 * fake_cluster.c stands in for hs_cluster (corosync): the membership view is
 * whatever the test says, and every message this host multicasts is queued
 * and delivered back to it, in order, by pt_deliver() -- the replicated
 * state (state/, a real sqlite file in a scratch directory) applies it as it
 * would from CPG. fake_mirror.c stands in for mirror/ (libvirt): each request
 * is recorded, and the test answers it when it likes with pt_answer().
 *
 * The host is node1, node2 or node3 of a three-node configuration; who
 * coordinates follows the view (the lowest online nodeid).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "hs_core.h"
#include "hs_pairs.h"
#include "mirror.h"

struct pt {
	struct hs_core *core;
	struct hs_pairs *pairs;
	char dir[64];
};

extern struct pt pt;

/* --- the host and its cluster --- */
/* Sets up host SELF ("node1"...) with every node online, state synced; node rows recorded. */
void pt_setup(const char *self);
void pt_teardown(void);
/* The group forms (this host alone in the state's sync round): the state syncs. */
void pt_cluster_form(void);
/* Delivers every queued message (and what applying them queues), in order. */
void pt_deliver(void);
/* NODE's membership as this host sees it. */
void pt_node_set(const char *node, bool online, bool host_up);
void pt_quorate_set(bool quorate);
/* Proposes a message (BUILT: its builder's result) and delivers it. */
void pt_propose(int built, char *buf, size_t len);
/* Proposes a node_state change of NODE (to STATE) and delivers it. */
void pt_node_state(const char *node, const char *state);
/* The admin state of NODE's row: "enabled" | "maintenance". */
void pt_node_admin(const char *node, const char *admin_state);
struct sdb_pair_change;
/* Proposes and delivers the pair change C (a pair_update), as another host would. */
void pt_pair_change(const struct sdb_pair_change *c);

/* --- pairs --- */
/* A pair row as the state would hold it, delivered. */
void pt_pair_put(const char *vm, const char *primary, const char *backup, const char *state);
/* The pair's state name, or "gone". */
const char *pt_pair_state(const char *vm);
struct hs_pair pt_pair(const char *vm); /* release with hs_pair_release() */
/* Events of KIND whose message contains TEXT. */
uint64_t pt_events(const char *kind, const char *text);
/* One cron round of the pairs, then every proposal delivered. */
void pt_round(void);

/* --- the fake mirror --- */
struct pt_call {
	char op[24]; /* "backup_prepare", "start", "jobs", "cut", "promote", ... */
	char vm[80];
	unsigned port;
	bool sync;
	mirror_done_fn done;
	mirror_reply_fn reply; /* the typed operations answer here instead */
	char primary[80];      /* backup_prepare: the one host its export lets in */
	char id_expected[80], id_next[80]; /* backup_prepare: the disks' identity ("" none) */
	void *userdata;
	bool answered;
	bool may_resume; /* start_resync: resume our paused jobs if they exist */
	bool from_equal; /* start_resync: the disks are equal, copy only new writes */
	bool replace;    /* standin_start: the paused backup's QEMU goes first */
	char host[80];   /* standin_start: the address; migrate: the destination */
	uint64_t bandwidth_mib; /* start, start_resync, set_speed: the speed asked */
	bool repair;     /* verify: copy what differs */
	bool may_start;  /* revive: start a domain found shut off */
};
/* The fake mirror's engine: false the default (libvirt block copy), true qmp. */
extern bool pt_engine_qmp;
extern bool pt_sync_parallel;
/* What mirror_link_silence() answers: how long the backup acknowledged nothing. */
extern unsigned pt_link_silence_ms;
extern const char *pt_disks_replaced;
/*
 * true (pt_setup's default): mirror_revive answers at once that the guest
 * runs, so keep-running stays out of the tests of other duties; false: it is
 * recorded ("revive") and answered by the test (tests/pairs/test_guest.c).
 */
extern bool pt_revive_runs;
/* The requests made, oldest first. */
size_t pt_calls(void);
struct pt_call *pt_call(size_t i);
/* The last unanswered request of OP, or NULL. */
struct pt_call *pt_pending(const char *op);
/* Answers C (DATA taken); delivers what the answer proposed. */
void pt_answer(struct pt_call *c, int result, const char *message, json_object *data);
void pt_calls_clear(void);

/* --- the answers of operations --- */
struct pt_reply {
	bool got;
	int result;
	char message[512];
	char state[32];
};
void pt_reply_fn(void *userdata, int result, const struct hs_pairs_answer *answer);
/* REPLY (a struct pt_reply *) came, with result RES and a message containing TEXT. */
#define expect_answer(reply, res, text)                                                            \
	do {                                                                                       \
		struct pt_reply *_r = (reply);                                                     \
		cr_assert(_r->got, "no answer");                                                   \
		cr_assert_eq(_r->result, res, "result %d (%s)", _r->result, _r->message);          \
		cr_assert_not_null(strstr(_r->message, text), "message: %s", _r->message);         \
	} while (0)

