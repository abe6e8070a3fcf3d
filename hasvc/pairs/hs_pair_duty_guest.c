// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_duty_guest: the primary host keeps its guest running (action
 * keep-running, in degraded and unprotected).
 *
 * A primary's QEMU can die with its host fine: the OOM killer, a QEMU bug,
 * a `kill -9`, a guest that powers itself off. The host stays in the ring,
 * so nothing is fenced or promoted; the mirror's poll sees "the VM is not
 * running" and the pair degrades, and without this duty the guest stayed
 * down for good while the plan re-protected it round after round (each
 * mirror start failing on the dead domain). Pacemaker restarts a failed
 * resource where it ran, and Proxmox HA a VM in state "started"; hasvc does
 * the same: its disk here holds every write it acknowledged, so it boots
 * from it, and the backup is then copied in full (the QEMU restarted: no job
 * to resume, the copy's reason says so).
 *
 * A guest that keeps dying is not started for ever: at most
 * KEEP_RUNNING_STARTS within KEEP_RUNNING_WINDOW_USEC; the next death moves
 * the pair to guest-down (said in the transition), where nothing re-protects
 * it, until someone starts it (virsh start): guest-started, degraded, and
 * re-protected as after any degrade. The count lives in this hasvcd's memory
 * only: a restart of it forgets the window (at worst 3 starts more), which
 * is not worth a replicated record.
 */
#include "hs_clock.h"
#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"

#define KEEP_RUNNING_POLL_USEC (2000 * 1000ULL)

/* The starts of the last window, oldest first; true when one more is allowed. */
bool hs__keep_running_allowed(struct task *t, uint64_t now)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->n_starts; i++)
		if (now < t->starts_usec[i] + KEEP_RUNNING_WINDOW_USEC)
			t->starts_usec[kept++] = t->starts_usec[i];
	t->n_starts = kept;
	return t->n_starts < KEEP_RUNNING_STARTS;
}

static void revived(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		    const char *message, const struct mirror_reply *reply)
{
	uint64_t now = hs_now_usec(CLOCK_REALTIME);

	if (result >= 0)
		t->revive_failed_noted = false;
	switch (result) {
	case MIRROR_REVIVE_RUNS:
		if (v->state == HS_PAIR_GUEST_DOWN)
			hs__pairs_transition(p, v, HS_EV_GUEST_STARTED, NULL,
					     "%s runs again on %s (started by hand); re-protected "
					     "as after any degrade",
					     v->vm, v->primary);
		return;
	case MIRROR_REVIVE_STARTED:
		if (t->n_starts < KEEP_RUNNING_STARTS)
			t->starts_usec[t->n_starts++] = now;
		hs__pairs_event(p, v->vm, "pair",
				"%s on %s (start %zu of the %d allowed within %d min)%s", message,
				v->primary, t->n_starts, KEEP_RUNNING_STARTS,
				(int)(KEEP_RUNNING_WINDOW_USEC / 60000000ULL),
				v->backup ? "; its backup is copied again in full" : "");
		return;
	case MIRROR_REVIVE_DOWN:
		/* (in guest-down it stays there, said when it got there) */
		if (v->state == HS_PAIR_DEGRADED)
			hs__pairs_transition(p, v, HS_EV_GUEST_LEFT_OFF, NULL,
					     "%s on %s: it stopped %d times within %d min; start it "
					     "by hand (virsh start %s on %s) once its cause is found",
					     message, v->primary, KEEP_RUNNING_STARTS,
					     (int)(KEEP_RUNNING_WINDOW_USEC / 60000000ULL), v->vm,
					     v->primary);
		return;
	default:
		/* libvirtd away, the domain gone: the next look, said once per failure */
		if (result < 0 && !t->revive_failed_noted) {
			t->revive_failed_noted = true;
			hs__pairs_event(p, v->vm, "pair", "cannot keep %s running on %s: %s",
					v->vm, v->primary, message);
		}
		return;
	}
}

void hs__duty_keep_running(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	struct pending *pe;
	bool may_start;
	int r;

	/* a live switchover's guest is the op's to resume or boot (hs_pair_duty_live.c) */
	if (v->switchover || now < t->keep_next_usec)
		return;
	t->keep_next_usec = now + KEEP_RUNNING_POLL_USEC;
	/* left off (guest-down): only looked at, until someone starts it */
	may_start = v->state != HS_PAIR_GUEST_DOWN && hs__keep_running_allowed(t, now);
	pe = hs__pending_new(p, t, v, revived, false);
	if (!pe)
		return;
	/* the plan may re-protect the pair before the answer: the start still counts */
	hs__pending_any_state(pe);
	r = mirror_revive(p->mirror, v->vm, may_start, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "look at the guest", r);
}
