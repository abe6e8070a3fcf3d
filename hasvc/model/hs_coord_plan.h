/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_coord_plan: what the coordinator should do about the pairs, given who is
 * online. Pure: it reads a snapshot of the pairs and the membership and
 * returns events to propose; the coordinator turns each into a replicated
 * compare-and-set transition. Running it twice on the same input gives the
 * same plan, and a plan step whose pair has moved on in the meantime is
 * refused when applied, so a new coordinator can run it right after taking
 * over and finish what the old one left half done.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "hs_pair_fsm.h"

struct hs_pair_brief {
	const char *vm;
	const char *primary;      /* host the VM runs (or ran) on */
	const char *backup;       /* host of the backup; NULL when there is none */
	enum hs_pair_state state;
	bool switchover;          /* an admin switchover is under way */
	/*
	 * Degraded by reprotect-failed: BACKUP could not prepare the new
	 * backup (libvirtd away, no room, no port). That host never left, so
	 * "it is back" says nothing about it: another host is tried first.
	 */
	bool backup_failed;
};

struct hs_plan_step {
	size_t pair;              /* index into the pairs given */
	enum hs_pair_event event;
	const char *new_backup;   /* HS_EV_REPROTECT: the host chosen; else NULL */
	/*
	 * The pair's backup host failed to prepare the last backup (the
	 * brief's backup_failed): HS_EV_HOST_RETURNED tries that same host
	 * again (no other accepts backups), HS_EV_REPROTECT another one.
	 */
	bool after_failure;
};

/* Node facts the plan needs; callbacks so the caller keeps its own model. */
struct hs_plan_nodes {
	bool (*online)(void *userdata, const char *node);  /* its hasvcd is a member */
	/* its host is up (in the corosync ring), hasvcd or not; NULL: as online */
	bool (*host_up)(void *userdata, const char *node);
	bool (*accepts_backups)(void *userdata, const char *node); /* online, not in maintenance */
	bool (*fenced)(void *userdata, const char *node); /* powered off, verified; NULL: never */
	const char *const *names; /* every configured node, in a stable order */
	size_t n_names;
	bool old_host_only; /* re-protect only onto the pair's previous host */
	void *userdata;
};

/*
 * Writes at most MAX steps to OUT and returns how many there are (which may be
 * more than MAX: call again with a larger array).
 */
size_t hs_coord_plan(const struct hs_pair_brief *pairs, size_t n_pairs,
		     const struct hs_plan_nodes *nodes, struct hs_plan_step *out, size_t max);
