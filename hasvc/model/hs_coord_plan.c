// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_coord_plan: the coordinator's rules, one pair at a time.
 *
 *   primary host down         -> primary-lost  (in-sync: fencing; others refuse promotion)
 *   backup host down          -> backup-lost   (mirror cut, degraded); with two
 *                               nodes only once it is fenced
 *
 * "Down" is the host gone from the corosync ring. A host whose hasvcd alone
 * stopped (crashed, restarting, upgraded) still runs its VMs and their mirrors:
 * nothing is fenced or failed over for that; the host's own duties wait for
 * its hasvcd to return.
 *   degraded, backup back     -> host-returned (resync onto the same host)
 *   degraded by reprotect-failed (its backup host could not prepare the
 *                               backup, and never left) -> reprotect onto
 *                               the next host that accepts backups; only
 *                               when there is none, host-returned onto the
 *                               same host again (the coordinator waits
 *                               longer before that retry)
 *   lost-unsynced, primary back -> host-returned (restart the VM there)
 *   degraded/unprotected, no backup host usable -> reprotect onto another host
 *                               (unless old_host_only: then wait for it)
 *   fencing, primary back     -> host-returned (back in sync, nothing promoted)
 *   promoting in a switchover, backup host down -> wait until it is fenced,
 *                               then switchover-failed (the primary restarts)
 *
 * Losing the primary is looked at first: when both hosts are gone, what
 * matters is that the VM is down, and that the backup may not be promoted
 * unless it was in sync.
 *
 * Choosing a new backup host: the pair's previous backup if it accepts
 * backups again (its disk already holds most of the data), else the first
 * host in configuration order that accepts backups and is not the primary.
 * After a failed prepare, the host after the one that failed, in
 * configuration order and round (so that several failing hosts are each
 * tried in turn rather than the first two forever).
 * Placement by free memory and load is the coordinator's business later.
 */
#include <string.h>

#include "hs_coord_plan.h"

static bool node_online(const struct hs_plan_nodes *nodes, const char *name)
{
	return name && nodes->online(nodes->userdata, name);
}

static bool node_fenced(const struct hs_plan_nodes *nodes, const char *name)
{
	return name && nodes->fenced && nodes->fenced(nodes->userdata, name);
}

/* Lost means the host left the ring: a hasvcd restarting is not a host lost. */
static bool host_up(const struct hs_plan_nodes *nodes, const char *name)
{
	if (!nodes->host_up)
		return node_online(nodes, name);
	return name && nodes->host_up(nodes->userdata, name);
}

static const char *choose_backup(const struct hs_pair_brief *p, const struct hs_plan_nodes *nodes)
{
	if (p->backup && strcmp(p->backup, p->primary) != 0 &&
	    nodes->accepts_backups(nodes->userdata, p->backup))
		return p->backup;
	for (size_t i = 0; i < nodes->n_names; i++) {
		const char *n = nodes->names[i];
		if (strcmp(n, p->primary) != 0 && nodes->accepts_backups(nodes->userdata, n))
			return n;
	}
	return NULL;
}

/* After FAILED could not prepare the backup: the next host after it that accepts backups. */
static const char *choose_after(const struct hs_pair_brief *p, const struct hs_plan_nodes *nodes,
				const char *failed)
{
	size_t start = 0;

	for (size_t i = 0; i < nodes->n_names; i++)
		if (strcmp(nodes->names[i], failed) == 0)
			start = i + 1;
	for (size_t k = 0; k < nodes->n_names; k++) {
		const char *n = nodes->names[(start + k) % nodes->n_names];
		if (strcmp(n, p->primary) != 0 && strcmp(n, failed) != 0 &&
		    nodes->accepts_backups(nodes->userdata, n))
			return n;
	}
	return NULL;
}

/* The event this pair needs now, or HS_EV_MAX for none. */
static enum hs_pair_event pair_next_event(const struct hs_pair_brief *p,
					  const struct hs_plan_nodes *nodes,
					  const char **ret_backup)
{
	bool primary_up = host_up(nodes, p->primary);
	bool backup_up = host_up(nodes, p->backup);

	*ret_backup = NULL;
	if (!primary_up && hs_pair_fsm_lookup(p->state, HS_EV_PRIMARY_LOST))
		return HS_EV_PRIMARY_LOST;
	/*
	 * A switchover lost its backup host while promoting: the primary is
	 * stopped, with every write. It may run again only once that host is
	 * fenced (the backup may have resumed there); then the switchover fails
	 * back onto the primary host.
	 */
	if (p->state == HS_PAIR_PROMOTING && p->switchover && p->backup && !backup_up)
		return node_fenced(nodes, p->backup) ? HS_EV_SWITCHOVER_FAILED : HS_EV_MAX;
	/*
	 * Two nodes: both halves of a split keep quorum, and the other half may
	 * be about to fence us and promote the backup. Cutting the mirror now
	 * would acknowledge writes that backup never gets: keep them waiting
	 * until the backup host is fenced (the lower nodeid wins that race).
	 */
	if (p->backup && !backup_up && p->state != HS_PAIR_DEGRADED &&
	    hs_pair_fsm_lookup(p->state, HS_EV_BACKUP_LOST)) {
		if (nodes->n_names == 2 && !node_fenced(nodes, p->backup))
			return HS_EV_MAX;
		return HS_EV_BACKUP_LOST;
	}

	switch (p->state) {
	case HS_PAIR_FENCING:
		/* back before its fence: it never stopped, nothing was promoted */
		return primary_up ? HS_EV_HOST_RETURNED : HS_EV_MAX;
	case HS_PAIR_DEGRADED:
		/*
		 * Its backup host could not prepare the backup: it never left, and
		 * trying it again at once would fail alike (the pair would go round
		 * creating -> degraded for good). Another host takes the backup;
		 * only when none can is the same host tried again.
		 */
		if (p->backup_failed && p->backup && primary_up && !nodes->old_host_only) {
			*ret_backup = choose_after(p, nodes, p->backup);
			if (*ret_backup)
				return HS_EV_REPROTECT;
		}
		if (p->backup && backup_up && nodes->accepts_backups(nodes->userdata, p->backup))
			return HS_EV_HOST_RETURNED;
		/* the old backup host is gone or closed: find another */
		__attribute__((fallthrough));
	case HS_PAIR_UNPROTECTED:
		if (!primary_up)
			return HS_EV_MAX;
		*ret_backup = choose_backup(p, nodes);
		/* old-host policy: wait for the previous host rather than copy elsewhere */
		if (*ret_backup && nodes->old_host_only && p->backup &&
		    strcmp(*ret_backup, p->backup) != 0)
			*ret_backup = NULL;
		return *ret_backup ? HS_EV_REPROTECT : HS_EV_MAX;
	case HS_PAIR_LOST_UNSYNCED:
		return primary_up ? HS_EV_HOST_RETURNED : HS_EV_MAX;
	default:
		return HS_EV_MAX;
	}
}

size_t hs_coord_plan(const struct hs_pair_brief *pairs, size_t n_pairs,
		     const struct hs_plan_nodes *nodes, struct hs_plan_step *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < n_pairs; i++) {
		const char *backup;
		enum hs_pair_event ev = pair_next_event(&pairs[i], nodes, &backup);

		if (ev == HS_EV_MAX)
			continue;
		if (n < max)
			out[n] = (struct hs_plan_step){
			    .pair = i,
			    .event = ev,
			    .new_backup = backup,
			    .after_failure =
				pairs[i].state == HS_PAIR_DEGRADED && pairs[i].backup_failed,
			};
		n++;
	}
	return n;
}
