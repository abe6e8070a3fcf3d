// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_requests: a duty's mirror/ request and its completion.
 *
 * mirror/ runs libvirt on its own thread and answers on the main loop. A
 * request remembers the pair's generation and state when it was made; its
 * continuation (hs_pair_then_fn) runs only if the pair is still there when
 * the answer comes, so an answer about a pair that moved on meanwhile is
 * logged and dropped. A task counts one ordinary request in flight, and one
 * urgent one (the cut) beside it, which may overtake a request stuck behind a
 * guest write waiting on a silent backup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_clock.h"
#include "hs_pairs_internal.h"

struct pending {
	struct hs_pairs *p;
	char *vm;
	uint64_t generation;
	enum hs_pair_state state;
	bool urgent; /* counted in task.urgent_running, not task.running */
	bool any_state; /* THEN runs whatever the pair's generation and state now */
	hs_pair_then_fn then;
	struct pending *prev, *next; /* hs_pairs.pendings */
};

/* Unlinks PE from its pairs' list and frees it. */
static void pending_free(struct pending *pe)
{
	if (pe->prev)
		pe->prev->next = pe->next;
	else
		pe->p->pendings = pe->next;
	if (pe->next)
		pe->next->prev = pe->prev;
	free(pe->vm);
	free(pe);
}

void hs__pendings_free(struct hs_pairs *p)
{
	while (p->pendings)
		pending_free(p->pendings);
}

static void task_request_ended(struct task *t, const struct pending *pe)
{
	if (pe->urgent)
		t->urgent_running = false;
	else
		t->running = false;
}

void hs__request_reply(void *userdata, const struct mirror_reply *reply)
{
	struct pending *pe = userdata;
	struct hs_pairs *p = pe->p;
	struct task *t = hs__task_get(p, pe->vm);
	struct hs_pair v;

	if (t)
		task_request_ended(t, pe);
	if (reply->result < 0)
		qb_log(LOG_WARNING, "pair %s: %s", pe->vm, reply->message);
	else
		qb_log(LOG_DEBUG, "pair %s: %s", pe->vm, reply->message);
	if (t && hs_core_pair_get(p->core, pe->vm, &v) == 0) {
		if (pe->any_state || (v.generation == pe->generation && v.state == pe->state))
			pe->then(p, t, &v, reply->result, reply->message, reply);
		hs_pair_release(&v);
	}
	pending_free(pe);
}

/* The operations with no records to answer (start, cut, promote, ...): result and message. */
void hs__request_done(void *userdata, int result, const char *message, json_object *data)
{
	hs__request_reply(userdata, &(struct mirror_reply){.result = result, .message = message});
}

struct pending *hs__pending_new(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
				hs_pair_then_fn then, bool urgent)
{
	struct pending *pe = calloc(1, sizeof(*pe));

	if (!pe || !(pe->vm = strdup(v->vm))) {
		free(pe);
		return NULL;
	}
	pe->p = p;
	pe->next = p->pendings;
	if (pe->next)
		pe->next->prev = pe;
	p->pendings = pe;
	pe->generation = v->generation;
	pe->state = v->state;
	pe->urgent = urgent;
	pe->then = then;
	if (urgent)
		t->urgent_running = true;
	else
		t->running = true;
	return pe;
}

void hs__pending_any_state(struct pending *pe)
{
	pe->any_state = true;
}

void hs__pending_failed(struct task *t, struct pending *pe, const char *what, int r)
{
	qb_log(LOG_ERR, "pair %s: cannot %s: %s", pe->vm, what, strerror(-r));
	task_request_ended(t, pe);
	t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
	pending_free(pe);
}

void hs__submit_vm(struct hs_pairs *p, struct task *t, const struct hs_pair *v, mirror_vm_fn fn,
		   const char *what, hs_pair_then_fn then)
{
	struct pending *pe = hs__pending_new(p, t, v, then, false);
	int r;

	if (!pe)
		return;
	r = fn(p->mirror, v->vm, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, what, r);
}

void hs__submit_vm_typed(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			 mirror_vm_typed_fn fn, const char *what, hs_pair_then_fn then)
{
	struct pending *pe = hs__pending_new(p, t, v, then, false);
	int r;

	if (!pe)
		return;
	r = fn(p->mirror, v->vm, hs__request_reply, pe);
	if (r < 0)
		hs__pending_failed(t, pe, what, r);
}

/*
 * Cuts the mirror of V, closing the connections to its backup's exports first.
 * Urgent: it does not wait for a request in flight, which may itself be stuck
 * behind a guest write waiting on the silent backup (mirror_cut).
 */
void hs__submit_cut(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
		    hs_pair_then_fn then)
{
	struct pending *pe = hs__pending_new(p, t, v, then, true);
	int r;

	if (!pe)
		return;
	r = mirror_cut(p->mirror, v->vm, v->backup ? hs_core_replication_address(p->core, v->backup) : NULL,
		       v->nbd_port, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "stop the mirror", r);
}

/* hs__submit_cut, for good: the qmp engine's paused jobs go too (an unpairing). */
void hs__submit_release(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			hs_pair_then_fn then)
{
	struct pending *pe;
	int r;

	if (!mirror_engine_qmp(p->mirror)) {
		hs__submit_cut(p, t, v, then);
		return;
	}
	if (!(pe = hs__pending_new(p, t, v, then, true)))
		return;
	r = mirror_release(p->mirror, v->vm,
			   v->backup ? hs_core_replication_address(p->core, v->backup) : NULL,
			   v->nbd_port, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "stop the mirror", r);
}
