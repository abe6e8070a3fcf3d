// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_duties: the one dispatcher of the pairs' duties, and the binding of
 * each action to its handler.
 *
 * What each state asks of whom is a table of model/ (hs_pair_fsm_duties),
 * beside the transition table, so that a state, its duties and the events
 * that leave it are read in one place. This file binds each action to the
 * function that carries it out (hs_pair_duty_mirror.c, hs_pair_duty_move.c,
 * hs_pair_duty_live.c).
 *
 * Every host runs the dispatcher over every pair at each round of the cron.
 * A row falls to this host when the row's actor is this host: the pair's
 * primary host, its backup host, or the coordinator. A duty runs once per
 * pair generation (task.done) and never while a request of its VM is in
 * flight -- except an urgent one (the cut), which runs beside a slow request
 * that may itself be stuck behind the silent backup.
 */
#include "hs_clock.h"
#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"

/*
 * The handler of each action a state's duty names (the duty table is
 * model/hs_pair_fsm.c's hs_pair_fsm_duties): one array, indexed by the
 * action enum; an action no duty names has none.
 */
static const hs_pair_duty_fn handlers[HS_ACT_MAX] = {
	[HS_ACT_PREPARE_BACKUP] = hs__duty_prepare,
	[HS_ACT_START_MIRROR] = hs__duty_mirror,
	[HS_ACT_WATCH_MIRROR] = hs__duty_mirror,
	[HS_ACT_CUT_MIRROR] = hs__duty_cut,
	[HS_ACT_WATCH_BACKUP] = hs__duty_switchover_watch,
	[HS_ACT_AWAIT_FENCE] = hs__duty_await_fence,
	[HS_ACT_PROMOTE] = hs__duty_promote,
	[HS_ACT_SWITCHOVER] = hs__duty_stop_primary,
	[HS_ACT_RELEASE_MIRROR] = hs__duty_delete_primary,
	[HS_ACT_TEARDOWN] = hs__duty_delete_backup,
	[HS_ACT_REMOVE_ORPHAN] = hs__duty_delete_orphan,
	[HS_ACT_WATCH_LINK] = hs__duty_watch_link,
	[HS_ACT_HAND_OVER] = hs__duty_hand_over,
	[HS_ACT_CATCH_UP] = hs__duty_catch_up,
	[HS_ACT_MIGRATE] = hs__duty_migrate,
	[HS_ACT_REVERSE] = hs__duty_reverse,
	[HS_ACT_CONTINUE] = hs__duty_continue,
	[HS_ACT_WATCH_DISKS] = hs__duty_watch_disks,
	[HS_ACT_KEEP_RUNNING] = hs__duty_keep_running,
};

hs_pair_duty_fn hs__pair_duty_handler(enum hs_pair_action action)
{
	return (unsigned)action < HS_ACT_MAX ? handlers[action] : NULL;
}

static bool acts_as(struct hs_pairs *p, enum hs_pair_actor actor, const struct hs_pair *v)
{
	switch (actor) {
	case HS_ACTOR_PRIMARY: return hs_core_is_self(p->core, v->primary);
	case HS_ACTOR_BACKUP: return hs_core_is_self(p->core, v->backup);
	case HS_ACTOR_COORDINATOR: return hs_core_is_coordinator(p->core);
	default: return false;
	}
}

void hs__pairs_run_duties(struct hs_pairs *p, const struct hs_pair *v)
{
	struct task *t = hs__task_get(p, v->vm);
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	const struct hs_pair_duty *duties;
	size_t n;

	if (!t)
		return;
	t->seen = true;
	hs__task_sync(t, v);
	duties = hs_pair_fsm_duties(v->state, &n);
	/* every duty of the state that falls to this host (an urgent one beside a slow one) */
	for (size_t i = 0; i < n; i++) {
		hs_pair_duty_fn run = hs__pair_duty_handler(duties[i].action);
		bool busy = duties[i].urgent ? t->urgent_running : t->running;

		if (run && acts_as(p, duties[i].actor, v) && !busy && now >= t->next_usec)
			run(p, t, v);
	}
}
