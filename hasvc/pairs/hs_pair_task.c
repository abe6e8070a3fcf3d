// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_task: what this host has under way for each VM (struct task in
 * hs_pairs_internal.h): which generation of the pair its duty ran for,
 * whether a mirror/ request is in flight, and when it last proposed a
 * transition. Nothing of this needs to survive a restart: the replicated
 * state says where each pair is, and every duty is safe to run again
 * (mirror/ operations are idempotent or refuse).
 */
#include <stdlib.h>
#include <string.h>

#include "hs_pairs_internal.h"

struct task *hs__task_get(struct hs_pairs *p, const char *vm)
{
	struct task *t;

	for (t = p->tasks; t; t = t->next)
		if (strcmp(t->vm, vm) == 0)
			return t;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->vm = strdup(vm))) {
		free(t);
		return NULL;
	}
	t->next = p->tasks;
	p->tasks = t;
	return t;
}

static void task_free(struct task *t)
{
	free(t->outcome_message);
	free(t->outcome_disk_reason);
	free(t->failure);
	free(t->vm);
	free(t);
}

/*
 * The change time tells a pair deleted and created again (both at
 * generation 1) from the old one.
 */
void hs__task_sync(struct task *t, const struct hs_pair *v)
{
	if (t->generation == v->generation && t->state == v->state &&
	    t->changed_usec == v->changed_usec)
		return;
	t->generation = v->generation;
	t->state = v->state;
	t->changed_usec = v->changed_usec;
	t->proposed_gen = 0; /* what was proposed landed (or lost): the pair moved */
	t->done = false;
	t->outcome_known = false;
	free(t->outcome_message);
	t->outcome_message = NULL;
	free(t->outcome_disk_reason);
	t->outcome_disk_reason = NULL;
	t->outcome_disk_id[0] = '\0';
	t->mirror_started = false;
	t->copy_known = false; /* a new copy says its own kind */
	t->copy_recorded = false;
	t->cut_sent = false;
	t->standin_armed = false;
	t->resumed_once = false;
	t->continue_sent = false;
	t->next_usec = 0;
	t->speed_applied = 0; /* a new copy may start: its jobs are compared afresh */
}

void hs__tasks_sweep(struct hs_pairs *p)
{
	struct task **pp = &p->tasks;

	while (*pp) {
		struct task *t = *pp;
		if (!t->seen && !t->running && !t->urgent_running) {
			*pp = t->next;
			task_free(t);
		} else {
			t->seen = false;
			pp = &t->next;
		}
	}
}

void hs__tasks_free(struct hs_pairs *p)
{
	while (p->tasks) {
		struct task *t = p->tasks;
		p->tasks = t->next;
		task_free(t);
	}
}
