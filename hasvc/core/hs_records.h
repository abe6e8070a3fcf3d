/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_records: the replicated state's rows as C records, decoded once here at
 * the edge between state/ (whose queries answer json-c rows shaped like the
 * HTTP API) and the daemon's rooms, which use these structs and enums and
 * never read a row's JSON themselves.
 *
 * A struct hs_pair borrows its strings from the row it was decoded from and
 * holds a reference on it: hs_pair_release() drops it. A struct hs_node is a
 * copy (it is small and outlives its query).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "hs_name.h"
#include "hs_node_state.h"
#include "hs_pair_fsm.h"

enum hs_pair_mode {
	HS_MODE_SYNC,  /* a guest write completes once on both disks (the default) */
	HS_MODE_ASYNC, /* the backup follows behind */
};

enum hs_pair_desired {
	HS_DESIRED_PROTECTED,
	HS_DESIRED_UNPROTECTED,
	HS_DESIRED_DELETED, /* the primary stopped mirroring: the backup may go */
};

struct hs_pair {
	json_object *row; /* a reference, dropped by hs_pair_release() */
	const char *vm, *primary, *backup, *reason;
	/*
	 * The backup's disks as their host last prepared them (issue 13, item
	 * 4): the identity written on them (NULL: none recorded since the last
	 * change of primary or backup), and why the disks found were not the
	 * ones left (NULL: they were, or nothing was there to check).
	 */
	const char *backup_disk_id, *backup_disk_reason;
	const char *op; /* the operation running on the VM ("switchover"), or NULL */
	const char *op_ref; /* its reference (a switchover's ends "-from-PRIMARY"), or NULL */
	enum hs_pair_state state;
	enum hs_pair_mode mode;
	enum hs_pair_desired desired;
	bool switchover; /* op is a (cold) switchover */
	bool live;       /* op is a live switchover (its own states: hs_pair_fsm.h) */
	bool allow_cold; /* ... that falls back to a cold one if the guest could not move */
	uint64_t op_started_usec; /* when the op began (0: none) */
	uint64_t generation, changed_usec, bandwidth_mib, bytes_done, bytes_total;
	unsigned nbd_port;
};

struct hs_node {
	char name[HS_NAME_MAX + 1];
	uint32_t nodeid;
	enum hs_node_state state;
	enum hs_node_admin admin;
	uint64_t changed_usec; /* stamped by the proposer of the last change */
};

/* -EINVAL for a row without a VM, a primary or a known state. */
int hs_pair_decode(json_object *row, struct hs_pair *ret);
void hs_pair_release(struct hs_pair *p);
int hs_node_decode(json_object *row, struct hs_node *ret);

const char *hs_pair_mode_name(enum hs_pair_mode m);
/* NULL reads as sync (the default); -EINVAL for another name. */
int hs_pair_mode_from_name(const char *name, enum hs_pair_mode *ret);

/* Every pair of the state (of NODE, as primary or backup, when not NULL). */
struct hs_pair_list {
	json_object *rows;
	struct hs_pair *pairs;
	size_t n;
};
void hs_pair_list_free(struct hs_pair_list *l);
