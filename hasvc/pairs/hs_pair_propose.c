// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_propose: the one place a pair's transition is proposed and logged.
 *
 * Every transition is a replicated compare-and-set on (state, generation):
 * the row of the FSM table (model/hs_pair_fsm) for the pair's state and the
 * event gives the next state; a (state, event) not in the table is logged
 * here and refused. The event text, "in-sync -> fencing (primary-lost): ...",
 * is built here only, from the table's names, and travels with the change
 * into the replicated event log. A proposal this host made from the same
 * generation moments ago is not repeated (-EALREADY): the state may not show
 * it yet.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_pairs_internal.h"
#include "sdb_msg.h"

#define PROPOSAL_WAIT_USEC (5000 * 1000ULL) /* before proposing the same step again */

/*
 * The one place a transition of this host's is logged, and every refusal:
 * "vm1: in-sync -> fencing (primary-lost): node2 (primary host) left ...",
 * or "vm1: degraded -> ? (promoted): refused, not an edge of the pair state
 * machine". ROW is NULL for a refusal.
 */
static void edge_log(const struct hs_pair *v, enum hs_pair_event ev,
		     const struct hs_pair_transition *row, const char *detail)
{
	if (!row) {
		qb_log(LOG_WARNING, "%s: %s -> ? (%s): refused, not an edge of the pair state machine",
		       v->vm, hs_pair_state_name(v->state), hs_pair_event_name(ev));
		return;
	}
	qb_log(row->next == HS_PAIR_ERROR || row->next == HS_PAIR_LOST_UNSYNCED ? LOG_WARNING
										 : LOG_NOTICE,
	       "%s: %s", v->vm, detail);
}

/* States whose reason the operator must read; entering any other clears it. */
static bool state_keeps_reason(enum hs_pair_state s)
{
	return s == HS_PAIR_DEGRADED || s == HS_PAIR_LOST_UNSYNCED || s == HS_PAIR_ERROR ||
	       s == HS_PAIR_FENCING || s == HS_PAIR_DELETING || s == HS_PAIR_UNPROTECTED ||
	       s == HS_PAIR_GUEST_DOWN;
}

int hs__pairs_transition(struct hs_pairs *p, const struct hs_pair *v, enum hs_pair_event ev,
			 const struct sdb_pair_change *extra, const char *fmt, ...)
{
	const struct hs_pair_transition *row = hs_pair_fsm_lookup(v->state, ev);
	struct task *t = hs__task_get(p, v->vm);
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	struct sdb_pair_change c = extra ? *extra : (struct sdb_pair_change){0};
	_cleanup_free_ char *detail = NULL, *event = NULL;
	char *buf = NULL;
	size_t len;
	va_list ap;
	int r;

	if (!row) {
		edge_log(v, ev, NULL, NULL);
		return -EINVAL;
	}
	if (t && t->proposed_gen == v->generation && now < t->proposed_usec + PROPOSAL_WAIT_USEC)
		return -EALREADY;
	va_start(ap, fmt);
	r = vasprintf(&detail, fmt, ap);
	va_end(ap);
	if (r < 0 || asprintf(&event, "%s -> %s (%s): %s", hs_pair_state_name(v->state),
			      hs_pair_state_name(row->next), hs_pair_event_name(ev), detail) < 0)
		return -ENOMEM;
	c.vm = v->vm;
	c.expect_state = hs_pair_state_name(v->state);
	c.expect_generation = v->generation;
	c.state = hs_pair_state_name(row->next);
	c.pair_event = hs_pair_event_name(ev); /* the edge, checked by every host as it applies */
	if (!c.reason)
		c.reason = state_keeps_reason(row->next) ? detail : "";
	c.event = event;
	c.event_node = p->core->self->name;
	r = sdb_msg_pair_update(&c, &buf, &len);
	if (r >= 0)
		r = hs_state_propose(p->core, buf, len);
	if (r < 0) {
		qb_log(LOG_ERR, "pair %s: cannot propose %s: %s", v->vm, event, strerror(-r));
		return r;
	}
	edge_log(v, ev, row, event);
	if (t) {
		t->proposed_gen = v->generation;
		t->proposed_usec = now;
	}
	return 0;
}

void hs__pairs_propose(struct hs_pairs *p, int built, char **buf, size_t *len, const char *what)
{
	int r = built < 0 ? built : hs_state_propose(p->core, *buf, *len);

	if (r < 0)
		qb_log(LOG_ERR, "cannot propose %s: %s", what, strerror(-r));
}
