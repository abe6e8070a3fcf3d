// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pairs_round: the pairs object (its mirror/ connection, its tasks) and its
 * round, run from the daemon's cron and whenever the core's change hooks
 * say something moved (see hs_pairs.h for the model):
 *
 *   1. the duties of every pair that fall to this host (hs_pair_duties.c);
 *   2. the coordinator's plan (hs_pair_plan.c);
 *   3. the maintenance moves (hs_pair_maintenance.c);
 *   4. tasks of pairs that are gone are forgotten.
 *
 * Only a synced member of a quorate partition acts on the state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_json.h"
#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"

void hs_pairs_cron(struct hs_pairs *p)
{
	struct hs_pair_list l;

	if (!hs_core_may_act(p->core))
		return;
	if (hs_core_pairs_list(p->core, NULL, &l) < 0)
		return;
	for (size_t i = 0; i < l.n; i++)
		hs__pairs_run_duties(p, &l.pairs[i]);
	hs__pairs_run_plan(p, l.pairs, l.n);
	hs__pairs_maintenance_cron(p, l.pairs, l.n);
	hs__pairs_live_fallback(p, l.pairs, l.n);
	hs_pair_list_free(&l);
	hs__tasks_sweep(p);
}

/*
 * A block job of a VM on this host became ready or failed: look at that
 * VM's jobs now rather than at the next poll (READY a second sooner ends
 * the initial sync a second sooner; a failure degrades the pair at once).
 */
static void job_event_seen(void *userdata, const struct mirror_reply *reply)
{
	struct hs_pairs *p = userdata;
	const char *vm = reply->event ? reply->event->vm : NULL;

	qb_log(reply->result < 0 ? LOG_WARNING : LOG_DEBUG, "%s", reply->message);
	for (struct task *t = p->tasks; t && vm; t = t->next)
		if (strcmp(t->vm, vm) == 0)
			t->next_usec = 0;
	hs_core_changed(p->core, HS_CORE_LOCAL);
}

int hs_pairs_new(struct hs_core *core, struct hs_pairs **ret)
{
	struct hs_pairs *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->core = core;
	r = mirror_new(core->loop, core->config->libvirt_uri, &p->mirror);
	if (r < 0) {
		free(p);
		return r;
	}
	/* the environment's HASVC_MIRROR_ENGINE=qmp (the lab's, tests') wins too */
	if (core->config->mirror_engine_qmp)
		mirror_use_qmp_engine(p->mirror);
	/* and HASVC_SYNC_WRITES=parallel */
	if (core->config->sync_writes_parallel)
		mirror_use_parallel_sync(p->mirror);
	mirror_on_job_event_typed(p->mirror, job_event_seen, p);
	*ret = p;
	return 0;
}

void hs_pairs_free(struct hs_pairs *p)
{
	if (!p)
		return;
	mirror_free(p->mirror);
	hs__pendings_free(p);
	hs__verifies_free(p);
	hs__tasks_free(p);
	free(p);
}
