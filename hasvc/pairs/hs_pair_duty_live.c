// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_duty_live: the duties of a live switchover, each run on the host
 * its state names (the table in hs_pair_duties.c; the road in
 * model/hs_pair_fsm.c, the data path in docs/mirror.md "Live switchover"):
 *
 *   handing-over  backup host   the paused backup's QEMU goes (libvirt takes no
 *                               incoming migration beside an active domain of
 *                               the same UUID); a stand-in exports its disks
 *                               on the same port
 *   catching-up   primary host  the jobs copy what the hand-over owed them
 *   migrating     primary host  the way back armed (a stand-in here, its
 *                               images inactive), live migration onto the
 *                               backup host, left paused there; then the
 *                               stand-in activated
 *   reversing     new primary   mirror into that stand-in from equal disks
 *                               (sync none: nothing to copy), then resume
 *   creating, initial-sync, in-sync, degraded
 *                 primary host  a guest a live switchover left paused runs
 *                               again, while its op is claimed
 *
 * Each step's outcome is kept in the task and proposed again at every round
 * until the pair moves: a proposal lost (no quorum at that instant) must not
 * leave the pair half-way with the duty done, and no step is run twice.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"
#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"
#include "sdb.h"
#include "sdb_msg.h"

/*
 * A migration that has not converged after this long is aborted: the guest
 * goes on where it runs and the backup is put back (docs/pairs.md). A guest
 * that dirties memory faster than the link copies it would otherwise keep
 * the pair out of protection for as long as it writes.
 */
#define MIGRATION_TIMEOUT_S 120

/* Keeps the step's outcome for this generation and proposes it. */
static void outcome(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
		    enum hs_pair_event event, unsigned port, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void propose_kept(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	struct sdb_pair_change swap = {0};
	const char *message = t->outcome_message ? t->outcome_message : "";
	char *buf = NULL;
	size_t len;

	/* migrated: the guest is on the backup host; the roles swap with it */
	if (t->live_event == HS_EV_MIGRATED)
		swap = (struct sdb_pair_change){.primary = v->backup, .backup = v->primary,
						.nbd_port = t->live_port};
	if (hs__pairs_transition(p, v, t->live_event, &swap, "%s", message) < 0)
		return;
	/*
	 * Where the operation is over, the VM is free for the next one. A
	 * failure with the guest still on the primary keeps an --allow-cold
	 * operation: once in sync again it goes on cold (hs__pairs_live_fallback).
	 */
	if (t->live_event == HS_EV_REVERSED ||
	    (!v->allow_cold && (t->live_event == HS_EV_SWITCHOVER_FAILED ||
				t->live_event == HS_EV_MIGRATION_FAILED ||
				t->live_event == HS_EV_MIRROR_FAILED)))
		hs__pairs_propose(p, sdb_msg_op_end(v->vm, NULL, &buf, &len), &buf, &len,
				  "end of live switchover");
}

static void outcome(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
		    enum hs_pair_event event, unsigned port, const char *fmt, ...)
{
	va_list ap;
	char *message = NULL;

	va_start(ap, fmt);
	if (vasprintf(&message, fmt, ap) < 0)
		message = NULL;
	va_end(ap);
	t->done = true;
	t->outcome_known = true;
	t->live_event = event;
	t->live_port = port;
	free(t->outcome_message);
	t->outcome_message = message;
	propose_kept(p, t, v);
}

/*
 * An --allow-cold switchover whose guest has not left its primary host: its
 * op stays for the cold move (hs__pairs_live_fallback). The reference names
 * the host the guest was to leave.
 */
static bool cold_still_to_come(const struct hs_pair *v)
{
	size_t n = v->op_ref ? strlen(v->op_ref) : 0, k = strlen(v->primary) + 6;

	return v->allow_cold && n > k && strcmp(v->op_ref + n - k + 6, v->primary) == 0 &&
	       strncmp(v->op_ref + n - k, "-from-", 6) == 0;
}

/* The duty's outcome is known: proposed again (the pair has not moved). */
static bool kept(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	if (!t->outcome_known)
		return false;
	propose_kept(p, t, v);
	return true;
}

/* --- handing-over, on the backup host ------------------------------------------------- */

static void handed_over(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
			const char *message, const struct mirror_reply *reply)
{
	if (result < 0) {
		outcome(p, t, v, HS_EV_SWITCHOVER_FAILED, 0,
			"live switchover of %s: no stand-in for the backup on %s (%s); the backup "
			"is prepared again, %s keeps running on %s",
			v->vm, v->backup, message, v->vm, v->primary);
		return;
	}
	outcome(p, t, v, HS_EV_STANDIN_READY, 0,
		"live switchover of %s: a stand-in on %s serves the backup's disks on port %u (%s); "
		"the primary's jobs catch up",
		v->vm, v->backup, v->nbd_port, message);
}

void hs__duty_hand_over(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	struct pending *pe;
	int r;

	if (kept(p, t, v) || t->done)
		return;
	pe = hs__pending_new(p, t, v, handed_over, false);
	if (!pe)
		return;
	/* with TLS, as the backup's own exports: only the pair's primary gets in */
	r = mirror_standin_start(p->mirror, v->vm,
				 hs_core_replication_address(p->core, p->core->self->name),
				 v->nbd_port, true, v->primary, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "start the stand-in", r);
}

/* --- catching-up, on the primary host ------------------------------------------------- */

static void caught_up(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		      const char *message, const struct mirror_reply *reply)
{
	if (result < 0) {
		outcome(p, t, v, HS_EV_MIRROR_FAILED, 0,
			"live switchover of %s: the jobs did not catch up with the stand-in on %s "
			"(%s); the backup is prepared again, %s keeps running on %s",
			v->vm, v->backup, message, v->vm, v->primary);
		return;
	}
	outcome(p, t, v, HS_EV_MIRROR_READY, 0,
		"live switchover of %s: every disk READY again (%s); migrating to %s", v->vm,
		message, v->backup);
}

void hs__duty_catch_up(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	struct pending *pe;
	int r;

	if (kept(p, t, v) || t->done)
		return;
	pe = hs__pending_new(p, t, v, caught_up, false);
	if (!pe)
		return;
	r = mirror_resume(p->mirror, v->vm, hs_core_replication_address(p->core, v->backup),
			  v->nbd_port, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "resume the mirror", r);
}

/* --- migrating, on the primary host --------------------------------------------------- */

static void way_back_ready(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			   int result, const char *message, const struct mirror_reply *reply)
{
	/*
	 * The guest left either way. Without a stand-in here the new primary's
	 * mirror back fails and it runs unprotected (reverse-failed), saying so.
	 */
	if (result < 0)
		outcome(p, t, v, HS_EV_MIGRATED, t->live_port,
			"live switchover of %s: %s on %s (paused until its mirror back runs); no "
			"stand-in on %s for it (%s)",
			v->vm, t->failure ? t->failure : "migrated", v->backup, v->primary, message);
	else
		outcome(p, t, v, HS_EV_MIGRATED, t->live_port,
			"live switchover of %s: %s on %s (paused until its mirror back runs); a "
			"stand-in on %s port %u takes it",
			v->vm, t->failure ? t->failure : "migrated", v->backup, v->primary,
			t->live_port);
	free(t->failure);
	t->failure = NULL;
}

/* The way back started only now (the armed one failed): from the pair's definition. */
static void way_back_start(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	_cleanup_free_ char *xml = NULL;
	_cleanup_json_ json_object *sizes = NULL;
	struct pending *pe;
	int r;

	if (sdb_pair_spec_get(p->core->db, v->vm, &xml, &sizes) < 0 || !xml) {
		way_back_ready(p, t, v, -EINVAL, "the pair carries no domain definition", NULL);
		return;
	}
	pe = hs__pending_new(p, t, v, way_back_ready, false);
	if (!pe)
		return;
	/*
	 * From the pair's definition, not libvirt's: libvirt holds the domain
	 * while it reaps the QEMU that left, and the guest waits paused until
	 * this serves.
	 */
	r = mirror_standin_start_xml(p->mirror, v->vm, xml,
				     hs_core_replication_address(p->core, p->core->self->name),
				     t->live_port, v->backup, hs__request_done, pe);
	if (r < 0) {
		hs__pending_failed(t, pe, "start the stand-in", r);
		way_back_ready(p, t, v, r, "the request could not be made", NULL);
	}
}

static void unarmed(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		    const char *message, const struct mirror_reply *reply)
{
	way_back_start(p, t, v);
}

static void way_back_activated(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			       int result, const char *message, const struct mirror_reply *reply)
{
	if (result >= 0) {
		way_back_ready(p, t, v, result, message, reply);
		return;
	}
	/* it would not activate: stopped, and one started now, slower */
	hs__pairs_event(p, v->vm, "pair", "the armed stand-in of %s did not serve (%s); starting one",
			v->vm, message);
	hs__submit_vm(p, t, v, mirror_standin_stop, "stop the stand-in", unarmed);
}

static void armed_stand_in_stopped(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
				   int result, const char *message, const struct mirror_reply *reply)
{
	outcome(p, t, v, HS_EV_MIGRATION_FAILED, 0, "%s", t->failure ? t->failure : message);
	free(t->failure);
	t->failure = NULL;
}

static void migrated(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		     const char *message, const struct mirror_reply *reply)
{
	/*
	 * Not running here: a migration that ended before this hasvcd
	 * restarted (the guest waits paused on the backup host), a guest that
	 * stopped, or one whose QEMU died during the migration (mirror_migrate
	 * says -ESRCH then too). Either way it is not here, and the backup host's disk
	 * holds every write: the roles swap, and the new primary resumes it or,
	 * if it never arrived, boots it from that disk. A failed migration
	 * (the guest runs on here) puts the backup back instead: preparing it
	 * destroys whatever paused copy the backup host has.
	 */
	if (result < 0 && result != -ESRCH) {
		char *why = NULL;

		if (asprintf(&why,
			     "live switchover of %s to %s failed: %s; %s keeps running on %s, the "
			     "backup is prepared again",
			     v->vm, v->backup, message, v->vm, v->primary) < 0)
			why = NULL;
		free(t->failure);
		t->failure = why;
		/* the armed way back goes too: its port and images are this host's again */
		if (t->standin_armed)
			hs__submit_vm(p, t, v, mirror_standin_stop, "stop the stand-in",
				      armed_stand_in_stopped);
		else
			armed_stand_in_stopped(p, t, v, 0, message, NULL);
		return;
	}
	/* the migration's own words (how long, the downtime) go into the event */
	free(t->failure);
	t->failure = strdup(message);
	if (t->standin_armed)
		hs__submit_vm(p, t, v, mirror_standin_activate, "activate the stand-in",
			      way_back_activated);
	else
		way_back_start(p, t, v);
}

static void migrate_now(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	struct pending *pe = hs__pending_new(p, t, v, migrated, false);
	int r;

	if (!pe)
		return;
	r = mirror_migrate(p->mirror, v->vm, hs_core_replication_address(p->core, v->backup),
			   MIGRATION_TIMEOUT_S, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "migrate", r);
}

static void armed(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		  const char *message, const struct mirror_reply *reply)
{
	/* without it the way back is started after the migration: slower, as safe */
	t->standin_armed = result >= 0;
	if (result < 0)
		hs__pairs_event(p, v->vm, "pair",
				"the way back of %s is not armed ahead (%s): started after the "
				"migration",
				v->vm, message);
	migrate_now(p, t, v);
}

/*
 * migrating, on the primary host: first the way back, armed (a stand-in of
 * this host's images, inactive while the guest runs on them), then the
 * migration; once the guest has left, the stand-in is activated in
 * milliseconds, where starting one would keep the guest waiting paused on
 * its new host for 0.1-0.6 s.
 */
void hs__duty_migrate(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	_cleanup_free_ char *xml = NULL;
	_cleanup_json_ json_object *sizes = NULL;
	struct pending *pe;
	int r;

	if (kept(p, t, v) || t->done)
		return;
	t->live_port = hs__pairs_free_port(p, p->core->self->name, v->vm);
	if (sdb_pair_spec_get(p->core->db, v->vm, &xml, &sizes) < 0 || !xml || !t->live_port) {
		armed(p, t, v, -EINVAL, "no domain definition or no free port", NULL);
		return;
	}
	pe = hs__pending_new(p, t, v, armed, false);
	if (!pe)
		return;
	r = mirror_standin_arm_xml(p->mirror, v->vm, xml,
				   hs_core_replication_address(p->core, p->core->self->name),
				   t->live_port, v->backup, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "arm the stand-in", r);
}

/* --- reversing, on the new primary host ------------------------------------------------ */

static void resumed(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		    const char *message, const struct mirror_reply *reply)
{
	if (result < 0) {
		/* degraded's continue tries again; the mirror back runs already */
		outcome(p, t, v, HS_EV_REVERSE_FAILED, 0,
			"live switchover of %s: the guest did not resume on %s: %s", v->vm,
			v->primary, message);
		return;
	}
	outcome(p, t, v, HS_EV_REVERSED, 0,
		"%s runs on %s (live switchover, no reboot); it mirrors back into %s from equal "
		"disks, which becomes its backup",
		v->vm, v->primary, v->backup);
}

static void mirrored_back(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			  int result, const char *message, const struct mirror_reply *reply)
{
	if (result < 0) {
		/*
		 * The guest resumes only once the pair says degraded (continue):
		 * until then the old host counts as holding every write, and
		 * would be promoted if this one failed.
		 */
		outcome(p, t, v, HS_EV_REVERSE_FAILED, 0,
			"live switchover of %s: no mirror back into %s (%s); %s runs on %s "
			"unprotected",
			v->vm, v->backup, message, v->vm, v->primary);
		return;
	}
	hs__submit_vm(p, t, v, mirror_continue, "resume the guest", resumed);
}

void hs__duty_reverse(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	struct pending *pe;
	int r;

	if (kept(p, t, v) || t->done)
		return;
	t->done = true;
	pe = hs__pending_new(p, t, v, mirrored_back, false);
	if (!pe)
		return;
	/* the guest is paused here and both disks are equal: only what it writes from now on */
	r = mirror_start_resync_typed(p->mirror, v->vm,
				      hs_core_replication_address(p->core, v->backup), v->nbd_port,
				      v->mode == HS_MODE_SYNC, v->bandwidth_mib, false, true,
				      hs__request_reply, pe);
	if (r < 0) {
		t->done = false;
		hs__pending_failed(t, pe, "mirror back", r);
	}
}

/* --- degraded, on the primary host: after the cut (hs_pair_duty_mirror.c) ---------- */

static void continued(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		      const char *message, const struct mirror_reply *reply);

/* The guest never arrived here (its old host lost it): booted from this host's disk. */
static void booted(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		   const char *message, const struct mirror_reply *reply)
{
	if (result >= 0)
		hs__pairs_event(p, v->vm, "pair",
				"%s was not here after its live switchover; booted from this host's "
				"disk, which holds every acknowledged write (%s)",
				v->vm, message);
	/* (not -ESRCH again: that would ask for the boot once more) */
	continued(p, t, v, result == -ESRCH ? -EIO : result, message, reply);
}

static void continued(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		      const char *message, const struct mirror_reply *reply)
{
	char *buf = NULL;
	size_t len;

	if (result == -ESRCH) {
		hs__submit_vm(p, t, v, mirror_promote, "boot the guest", booted);
		return;
	}
	if (result < 0) {
		t->continue_sent = false; /* tried again */
		t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
		hs__pairs_event(p, v->vm, "pair", "%s cannot resume on %s: %s", v->vm,
				p->core->self->name, message);
		return;
	}
	if (!cold_still_to_come(v))
		hs__pairs_propose(p, sdb_msg_op_end(v->vm, NULL, &buf, &len), &buf, &len,
				  "end of live switchover");
}

/*
 * continue, on the primary host, in every state a live switchover can end in
 * (creating, initial-sync, in-sync, degraded): while its op is still claimed,
 * the guest it may have left paused here (a mirror back that failed, a lost
 * host) runs again, or boots from this host's disk if it never arrived, and
 * the op ends. A duty of each such state, not a step after one transition:
 * the pair may move on before a slow request ends (a mirror back stuck on a
 * dead stand-in holds the mirror thread 5 s), and the guest must not stay
 * paused for good behind it (fault_live_crash_backup_host). An admin's own
 * pause of a guest that is in no live switchover is left alone.
 */
void hs__duty_continue(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	if (!v->live || t->continue_sent)
		return;
	t->continue_sent = true;
	hs__submit_vm(p, t, v, mirror_continue, "resume the guest", continued);
}

/*
 * Coordinator: a live switchover that could not move the guest, asked with
 * --allow-cold (or a maintenance's auto), goes on as a cold one once the
 * pair is protected again. In sync since the operation began tells it from a
 * request whose first transition has not landed yet.
 */
void hs__pairs_live_fallback(struct hs_pairs *p, const struct hs_pair *pairs, size_t n)
{
	if (!hs_core_is_coordinator(p->core))
		return;
	for (size_t i = 0; i < n; i++) {
		const struct hs_pair *v = &pairs[i];
		char *buf = NULL;
		size_t len;

		if (!cold_still_to_come(v) || v->state != HS_PAIR_IN_SYNC ||
		    v->changed_usec <= v->op_started_usec)
			continue;
		hs__pairs_propose(p, sdb_msg_op_end(v->vm, NULL, &buf, &len), &buf, &len,
				  "end of live switchover");
		hs__pairs_switchover_start(p, v, HS_SWITCHOVER_COLD,
					   "the live switchover could not move the guest (see the "
					   "events before); a cold switchover, as asked (--allow-cold)");
	}
}
