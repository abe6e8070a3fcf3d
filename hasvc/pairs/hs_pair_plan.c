// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_plan: the coordinator's plan (model/hs_coord_plan) carried out.
 *
 * The plan reads the membership and the pairs and names, for each pair that
 * must move, the event to propose: a primary or backup host lost, a host
 * back, a new backup host for re-protection. This file answers the plan's
 * questions about nodes (from the core) and proposes each step with the
 * words an operator reads in the event log. The coordinator proposes every
 * step but one: restarting a VM on its returned host is that host's, which
 * acts first and proposes after.
 *
 * What the plan cannot see in a pair's row, it is told from the replicated
 * event log: whether a degraded pair got there by reprotect-failed (its
 * backup host could not prepare the backup), so that the next backup goes
 * elsewhere rather than round the same failing host for good.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_coord_plan.h"
#include "hs_pairs_internal.h"
#include "sdb_msg.h"

#define REPROTECT_DELAY_USEC (3000 * 1000ULL) /* a pair just degraded waits this long */
/*
 * A pair degraded by its mirror (a failed write, a silent replication link)
 * while its backup host stayed: that host's prepare keeps the running backup
 * (mirror_backup_keep.c) and the primary's jobs resume into it, so a quick
 * try costs a few messages, and every second of waiting is a second of the
 * resync after a heal (bench/resync).
 */
#define LINK_RETURN_DELAY_USEC (500 * 1000ULL)
/*
 * A backup host that could not prepare the backup, when no other host
 * accepts it, is tried again only after this long: its prepare itself waits
 * up to a minute for an absent libvirtd (hs_pair_duty_mirror.c), and the
 * pair spends the wait degraded, with the failure as its reason.
 */
#define RETRY_FAILED_HOST_USEC (60 * 1000 * 1000ULL)

static bool plan_online(void *userdata, const char *node)
{
	return hs_core_node_online(userdata, node);
}

static bool plan_host_up(void *userdata, const char *node)
{
	return hs_core_host_up(userdata, node);
}

static bool plan_fenced(void *userdata, const char *node)
{
	return hs_core_node_state(userdata, node) == HS_NODE_FENCED;
}

static bool plan_accepts_backups(void *userdata, const char *node)
{
	return hs_core_node_online(userdata, node) &&
	       !hs_core_node_in_maintenance(userdata, node);
}

static void step_restarted(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			   int result, const char *message, const struct mirror_reply *reply)
{
	if (result < 0) {
		t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
		return;
	}
	hs__pairs_transition(p, v, t->step_event, NULL, "%s runs on %s again (%s)", v->vm,
			    v->primary, message);
}

/*
 * The coordinator's part of each kind of step, bound by the event enum: the
 * guard that may hold it back (a pair just degraded waits
 * REPROTECT_DELAY_USEC), the fields that go along, and the words the event
 * log keeps. ROW is the table's edge for the pair's state and the event.
 */
typedef void (*plan_step_fn)(struct hs_pairs *p, const struct hs_pair *v,
			     const struct hs_pair_transition *row, const struct hs_plan_step *s);

/* Why a pair in V's state may lack acknowledged writes: its words, in BUF. */
static const char *why_unsynced(const struct hs_pair *v, char *buf, size_t size)
{
	switch (v->state) {
	case HS_PAIR_HANDING_OVER:
	case HS_PAIR_CATCHING_UP:
		return "a live switchover was handing its disks to a stand-in: it may lack the "
		       "writes made meanwhile, which the primary's jobs had not copied yet";
	case HS_PAIR_DEGRADED:
		snprintf(buf, size, "it was degraded (%s): it lacks the writes since",
			 v->reason && *v->reason ? v->reason : "its mirror was cut");
		return buf;
	case HS_PAIR_UNPROTECTED:
		return "it had no backup in sync";
	case HS_PAIR_INITIAL_SYNC:
		/*
		 * Not its first sync (that one ends at generation 2): a resync
		 * after an outage, the backup behind by what was written while it
		 * was away, not a backup that never had the disk.
		 */
		if (v->generation > 2 && v->bytes_total) {
			snprintf(buf, size,
				 "it was resyncing after an outage and lacks writes made while it was "
				 "away (%llu of %llu bytes of the resync copied)",
				 (unsigned long long)v->bytes_done, (unsigned long long)v->bytes_total);
			return buf;
		}
		if (v->generation > 2)
			return "it was resyncing after an outage and lacks writes made while it was "
			       "away (the resync had not reported its progress yet)";
		/* fall through */
	default:
		snprintf(buf, size, "it never finished its initial sync (%llu of %llu bytes copied)",
			 (unsigned long long)v->bytes_done, (unsigned long long)v->bytes_total);
		return buf;
	}
}

static void step_primary_lost(struct hs_pairs *p, const struct hs_pair *v,
			      const struct hs_pair_transition *row, const struct hs_plan_step *s)
{
	char why[320];

	if (row->next == HS_PAIR_FENCING)
		hs__pairs_transition(p, v, s->event, NULL,
				     "%s (primary host) left the cluster; fencing it before the backup "
				     "on %s is promoted",
				     v->primary, v->backup);
	else
		hs__pairs_transition(
		    p, v, s->event, NULL,
		    "%s (primary host) left the cluster while the pair was %s: the backup on %s is "
		    "NOT promoted, %s; %s is down until %s returns",
		    v->primary, hs_pair_state_name(v->state), v->backup ? v->backup : "-",
		    why_unsynced(v, why, sizeof(why)), v->vm, v->primary);
}

static void step_backup_lost(struct hs_pairs *p, const struct hs_pair *v,
			     const struct hs_pair_transition *row, const struct hs_plan_step *s)
{
	if (row->next == HS_PAIR_ERROR)
		hs__pairs_transition(p, v, s->event, NULL,
				     "%s (backup host) left the cluster while promoting its backup, "
				     "after %s was fenced: %s runs nowhere; its disks are on %s (data "
				     "up to the fence) and %s",
				     v->backup, v->primary, v->vm, v->primary, v->backup);
	else
		hs__pairs_transition(p, v, s->event, NULL,
				     "%s (backup host) left the cluster; %s keeps running on %s, "
				     "unprotected",
				     v->backup, v->vm, v->primary);
}

static void step_host_returned(struct hs_pairs *p, const struct hs_pair *v,
			       const struct hs_pair_transition *row, const struct hs_plan_step *s)
{
	struct sdb_pair_change c = {0};
	_cleanup_free_ char *why = NULL;
	uint64_t delay = REPROTECT_DELAY_USEC;

	if (v->state == HS_PAIR_FENCING) {
		hs__pairs_transition(p, v, s->event, NULL,
				     "%s came back before it was fenced; nothing was promoted",
				     v->primary);
		return;
	}
	if (s->after_failure)
		delay = RETRY_FAILED_HOST_USEC;
	else if (v->state == HS_PAIR_DEGRADED &&
		 hs_core_pair_entered_by(p->core, v) == HS_EV_MIRROR_FAILED)
		delay = LINK_RETURN_DELAY_USEC;
	if (hs_now_usec(CLOCK_REALTIME) < v->changed_usec + delay)
		return;
	/* A fresh backup, a port chosen afresh: the recorded one may be the
	 * very port whose clash failed the last attempt. */
	if (row->next == HS_PAIR_CREATING && v->backup)
		c.nbd_port = hs__pairs_free_port(p, v->backup, v->vm);
	if (!s->after_failure) {
		hs__pairs_transition(p, v, s->event, &c, "%s is back; a fresh backup goes there",
				     v->backup);
		return;
	}
	/* creating clears the reason: this one says why it is the same host again */
	if (asprintf(&why, "%s is tried again: no other host accepts the backup (%s)", v->backup,
		     v->reason && *v->reason ? v->reason : "the last prepare there failed") < 0)
		return;
	c.reason = why;
	hs__pairs_transition(p, v, s->event, &c, "%s", why);
}

static void step_reprotect(struct hs_pairs *p, const struct hs_pair *v,
			   const struct hs_pair_transition *row, const struct hs_plan_step *s)
{
	struct sdb_pair_change c = {0};

	if (hs_now_usec(CLOCK_REALTIME) < v->changed_usec + REPROTECT_DELAY_USEC || !s->new_backup)
		return;
	c.backup = s->new_backup;
	c.nbd_port = hs__pairs_free_port(p, s->new_backup, v->vm);
	if (s->after_failure)
		hs__pairs_transition(p, v, s->event, &c,
				     "re-protecting %s with a new backup on %s: %s could not prepare "
				     "it",
				     v->vm, s->new_backup, v->backup);
	else
		hs__pairs_transition(p, v, s->event, &c, "re-protecting %s with a new backup on %s",
				     v->vm, s->new_backup);
}

/* Events the plan names and the coordinator proposes; the others are not its to propose. */
static const plan_step_fn coordinator_steps[HS_EV_MAX] = {
	[HS_EV_PRIMARY_LOST] = step_primary_lost,
	[HS_EV_BACKUP_LOST] = step_backup_lost,
	[HS_EV_HOST_RETURNED] = step_host_returned,
	[HS_EV_REPROTECT] = step_reprotect,
};

static void plan_step(struct hs_pairs *p, const struct hs_pair *v, const struct hs_plan_step *s)
{
	const struct hs_pair_transition *row = hs_pair_fsm_lookup(v->state, s->event);
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	struct task *t;

	if (!row || (unsigned)s->event >= HS_EV_MAX)
		return;
	/* Restarting the VM is the primary host's: it acts, then proposes. */
	if (row->action == HS_ACT_RESTART_PRIMARY) {
		t = hs__task_get(p, v->vm);
		if (t && hs_core_is_self(p->core, v->primary) && !t->running && now >= t->next_usec) {
			t->step_event = s->event;
			hs__submit_vm(p, t, v, mirror_restart, "restart the VM", step_restarted);
		}
		return;
	}
	if (hs_core_is_coordinator(p->core) && coordinator_steps[s->event])
		coordinator_steps[s->event](p, v, row, s);
}

void hs__pairs_run_plan(struct hs_pairs *p, const struct hs_pair *views, size_t n)
{
	const struct hs_config *cfg = p->core->config;
	const char *names[HS_CLUSTER_MAX_NODES];
	struct hs_pair_brief briefs[n ? n : 1];
	struct hs_plan_step steps[n ? 2 * n : 1];
	struct hs_plan_nodes nodes = {
		.online = plan_online,
		.host_up = plan_host_up,
		.accepts_backups = plan_accepts_backups,
		.fenced = plan_fenced,
		.names = names,
		.n_names = 0,
		.old_host_only = cfg->reprotect_old_host,
		.userdata = p->core,
	};
	bool coordinator = hs_core_is_coordinator(p->core);
	size_t n_steps;

	for (size_t i = 0; i < cfg->n_nodes && i < HS_CLUSTER_MAX_NODES; i++)
		names[nodes.n_names++] = cfg->nodes[i].name;
	for (size_t i = 0; i < n; i++)
		briefs[i] = (struct hs_pair_brief){
		    .vm = views[i].vm,
		    .primary = views[i].primary,
		    .backup = views[i].backup,
		    .state = views[i].state,
		    .switchover = views[i].switchover,
		    /* only the coordinator re-protects; the log is read for degraded pairs only */
		    .backup_failed = coordinator && views[i].state == HS_PAIR_DEGRADED &&
				     hs_core_pair_entered_by(p->core, &views[i]) ==
					 HS_EV_REPROTECT_FAILED,
		};
	n_steps = hs_coord_plan(briefs, n, &nodes, steps, ARRAY_SIZE(steps));
	for (size_t i = 0; i < n_steps && i < ARRAY_SIZE(steps); i++)
		plan_step(p, &views[steps[i].pair], &steps[i]);
}
