// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_duty_move: the duties that move a pair's VM or end the pair, each
 * run on the host its state names (the table in hs_pair_duties.c):
 *
 *   fencing         coordinator   wait for the verified fence of the primary host
 *   promoting       backup host   resume the backup: it is the primary now
 *   switching-over  primary host  stop the guest cleanly, drain the mirror
 *   deleting        primary host  stop mirroring; then the backup host removes
 *                                 the backup; the coordinator removes a pair
 *                                 whose backup host is gone
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_clock.h"
#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"
#include "sdb_msg.h"

/* fencing, on the coordinator: promotion waits for a verified fence, nothing else */
void hs__duty_await_fence(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	if (hs_core_node_state(p->core, v->primary) != HS_NODE_FENCED)
		return;
	hs__pairs_transition(p, v, HS_EV_FENCED, NULL,
			    "%s is fenced (powered off, verified); promoting the backup on %s",
			    v->primary, v->backup);
}

/* promoting, on the backup host */
static void promoted(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		     const char *message, const struct mirror_reply *reply)
{
	bool switchover = v->switchover;
	struct sdb_pair_change c = {.primary = p->core->self->name, .backup = v->primary};
	char *buf = NULL;
	size_t len;

	t->done = true;
	if (result < 0) {
		hs__pairs_transition(p, v, switchover ? HS_EV_SWITCHOVER_FAILED : HS_EV_PROMOTE_FAILED,
				    NULL, "the backup on %s did not start: %s", p->core->self->name,
				    message);
		return;
	}
	/*
	 * The old primary host stays recorded as the backup: re-protection may
	 * go back there, and that copy is a failback's (copy_note).
	 */
	if (!switchover)
		snprintf(t->failed_over_from, sizeof(t->failed_over_from), "%s", v->primary);
	if (hs__pairs_transition(p, v, HS_EV_PROMOTED, &c, "%s runs on %s now (%s)", v->vm,
				p->core->self->name, message) == 0 && switchover)
		hs__pairs_propose(p, sdb_msg_op_end(v->vm, NULL, &buf, &len), &buf, &len, "end of switchover");
}

void hs__duty_promote(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	if (!t->done)
		hs__submit_vm(p, t, v, mirror_promote, "promote the backup", promoted);
}

/* switching-over, on the primary host */
static void restarted_primary(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			      int result, const char *message, const struct mirror_reply *reply)
{
	hs__pairs_transition(p, v, HS_EV_SWITCHOVER_FAILED, NULL,
			    "switchover failed (%s); %s %s on %s", t->failure ? t->failure : "?",
			    v->vm, result >= 0 ? "runs again" : "could not be restarted",
			    v->primary);
	free(t->failure);
	t->failure = NULL;
}

static void stopped(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		    const char *message, const struct mirror_reply *reply)
{
	t->done = true;
	if (result >= 0) {
		hs__pairs_transition(p, v, HS_EV_PRIMARY_STOPPED, NULL,
				    "%s on %s: %s; promoting the backup on %s", v->vm, v->primary,
				    message, v->backup);
		return;
	}
	free(t->failure);
	t->failure = strdup(message);
	hs__submit_vm(p, t, v, mirror_restart, "restart the VM", restarted_primary);
}

void hs__duty_stop_primary(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	struct pending *pe;
	int r;

	if (t->done)
		return;
	pe = hs__pending_new(p, t, v, stopped, false);
	if (!pe)
		return;
	r = mirror_stop_primary(p->mirror, v->vm, v->mode == HS_MODE_SYNC,
				p->core->config->shutdown_timeout_s, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "stop the primary", r);
}

/* deleting: the primary stops mirroring, then the backup host removes the backup */
static void delete_cut(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		       const char *message, const struct mirror_reply *reply)
{
	struct sdb_pair_change c = {.vm = v->vm, .expect_state = "deleting",
				    .expect_generation = v->generation, .desired_state = "deleted"};
	char *buf = NULL;
	size_t len;

	t->done = true;
	hs__pairs_propose(p, sdb_msg_pair_update(&c, &buf, &len), &buf, &len, "mirror stopped");
}

void hs__duty_delete_primary(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	if (!t->done && v->desired != HS_DESIRED_DELETED)
		hs__submit_release(p, t, v, delete_cut);
}

static void pair_remove(struct hs_pairs *p, const struct hs_pair *v, const char *how)
{
	char *buf = NULL;
	size_t len;

	if (sdb_msg_pair_delete(v->vm, "deleting", &buf, &len) < 0 ||
	    hs_state_propose(p->core, buf, len) < 0)
		return;
	hs_state_event(p->core, v->vm, "pair", "pair %s removed: %s", v->vm, how);
}

static void torn_down(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		      const char *message, const struct mirror_reply *reply)
{
	if (result < 0) {
		t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
		hs_state_event(p->core, v->vm, "pair", "cannot remove the backup on %s: %s",
			       p->core->self->name, message);
		return;
	}
	t->done = true;
	pair_remove(p, v, message);
}

/* The primary host is done with the mirror (or gone): the backup may go. */
static bool mirror_released(struct hs_pairs *p, const struct hs_pair *v)
{
	return v->desired == HS_DESIRED_DELETED ||
	       !hs_core_node_online(p->core, v->primary);
}

void hs__duty_delete_backup(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	if (!t->done && mirror_released(p, v))
		hs__submit_vm(p, t, v, mirror_teardown, "remove the backup", torn_down);
}

/* deleting, on the coordinator: a pair whose backup host is gone is removed without it */
void hs__duty_delete_orphan(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	if (t->done || !mirror_released(p, v) || (v->backup && hs_core_node_online(p->core, v->backup)))
		return;
	t->done = true;
	pair_remove(p, v, v->backup ? "its backup host is not in the cluster; remove the backup "
				      "domain there by hand if it ever returns"
				    : "it had no backup");
}
