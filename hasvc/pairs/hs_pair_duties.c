// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_duties: what each state of a pair asks of whom while the pair is
 * in it, and the one dispatcher that runs it.
 *
 * Every host runs the dispatcher over every pair at each round of the cron.
 * A row falls to this host when the row's actor is this host: the pair's
 * primary host, its backup host, or the coordinator. A duty runs once per
 * pair generation (task.done) and never while a request of its VM is in
 * flight -- except an urgent one (the cut), which runs beside a slow request
 * that may itself be stuck behind the silent backup.
 */
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"

struct duty {
	enum hs_pair_state state;
	enum hs_pair_actor actor;
	hs_pair_duty_fn run;
	bool urgent; /* runs even while another request of the VM is in flight */
};

static const struct duty duties[] = {
	{HS_PAIR_CREATING, HS_ACTOR_BACKUP, hs__duty_prepare, false},
	{HS_PAIR_INITIAL_SYNC, HS_ACTOR_PRIMARY, hs__duty_mirror, false},
	{HS_PAIR_IN_SYNC, HS_ACTOR_PRIMARY, hs__duty_mirror, false},
	{HS_PAIR_DEGRADED, HS_ACTOR_PRIMARY, hs__duty_cut, true},
	{HS_PAIR_FENCING, HS_ACTOR_COORDINATOR, hs__duty_await_fence, false},
	{HS_PAIR_PROMOTING, HS_ACTOR_BACKUP, hs__duty_promote, false},
	{HS_PAIR_SWITCHING_OVER, HS_ACTOR_PRIMARY, hs__duty_stop_primary, false},
	{HS_PAIR_SWITCHING_OVER, HS_ACTOR_PRIMARY, hs__duty_switchover_watch, true},
	{HS_PAIR_DELETING, HS_ACTOR_PRIMARY, hs__duty_delete_primary, false},
	{HS_PAIR_DELETING, HS_ACTOR_BACKUP, hs__duty_delete_backup, false},
	{HS_PAIR_DELETING, HS_ACTOR_COORDINATOR, hs__duty_delete_orphan, false},
};

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

	if (!t)
		return;
	t->seen = true;
	hs__task_sync(t, v);
	/* every row of the state that falls to this host (an urgent one beside a slow one) */
	for (size_t i = 0; i < ARRAY_SIZE(duties); i++)
		if (duties[i].state == v->state && acts_as(p, duties[i].actor, v)) {
			bool busy = duties[i].urgent ? t->urgent_running : t->running;

			if (!busy && now >= t->next_usec)
				duties[i].run(p, t, v);
		}
}
