// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_duty_mirror: the duties of a pair's mirror, each run on the host
 * its state names (the table in hs_pair_duties.c):
 *
 *   creating        backup host   prepare the paused backup, export its disks
 *   initial-sync    primary host  start the block copy, report progress, READY
 *   in-sync         primary host  watch the jobs, report the lag
 *   (both)          primary host  keep the jobs' speed at the pair's bandwidth
 *   degraded        primary host  cut the mirror at once (guest I/O must not wait)
 *   switching-over  primary host  cut the mirror if the backup host leaves the ring
 *
 * Each duty asks mirror/ (hs_pair_requests.c) and proposes the transition
 * that follows from the answer (hs_pair_propose.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <qb/qblog.h>

#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json.h"
#include "hs_json_cleanup.h"
#include "hs_pair_duties.h"
#include "hs_pairs_internal.h"
#include "sdb.h"
#include "sdb_msg.h"

#define POLL_USEC (1000 * 1000ULL)          /* mirror jobs, while mirroring */
#define PROGRESS_USEC (2000 * 1000ULL)      /* sync progress, then lag, into the state */
/*
 * A backup that acknowledged nothing of what waits for it for this long,
 * while corosync still lists its host, is behind a cut replication link: the
 * pair goes degraded (through the cluster: a primary without quorum cannot,
 * and keeps its writes held until it is fenced), and only then the mirror is
 * cut and the guest's writes complete. Longer than corosync takes to see a
 * lost host (token + consensus: 2.2 s at the default 1 s token; up to 4.7 s
 * measured on a loaded lab), so that a lost host is still seen as lost
 * (backup-lost) and only a link cut comes here.
 */
#define LINK_SILENCE_MS 5000
#define LIBVIRT_GRACE_USEC (60 * 1000 * 1000ULL) /* libvirtd away: retry a preparation this long */

/*
 * libvirtd restarting (an upgrade, a crash) is not a failed mirror or backup:
 * QEMU and its block jobs live on without it. Such a request is tried again:
 * a job check always; starting a mirror or preparing a backup (GRACE) for
 * LIBVIRT_GRACE_USEC after the pair entered its state, then it fails.
 */
static bool libvirtd_away(struct task *t, const struct hs_pair *v, int result,
			  const char *message, bool grace)
{
	uint64_t now = hs_now_usec(CLOCK_REALTIME);

	if (result != -ECONNREFUSED || (grace && now >= v->changed_usec + LIBVIRT_GRACE_USEC))
		return false;
	qb_log(LOG_WARNING, "pair %s: %s; trying again", t->vm, message);
	t->next_usec = now + RETRY_USEC;
	return true;
}

/*
 * creating, on the backup host: the transition the prepare's outcome asks
 * for. Proposed again at each round until the pair moves (hs__pairs_transition
 * waits a few seconds between two proposals from one generation): a lost
 * proposal must not leave the pair in creating for good, with the duty done.
 */
static void propose_outcome(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	const char *message = t->outcome_message ? t->outcome_message : "";

	if (t->outcome >= 0) {
		/*
		 * The port the backup listens on is the one it bound, not the one
		 * asked; the disks' identity goes with it: the primary resumes
		 * its paused jobs into them only if they were the ones left.
		 */
		struct sdb_pair_change port = {
		    .nbd_port = t->outcome_port,
		    .backup_disk_id = t->outcome_disk_id[0] ? t->outcome_disk_id : NULL,
		    .backup_disk_reason = t->outcome_disk_reason ? t->outcome_disk_reason : "",
		};
		hs__pairs_transition(p, v, HS_EV_BACKUP_PREPARED, &port, "%s", message);
	} else if (v->generation == 1) /* a new pair: creating it failed, it goes */
		hs__pairs_transition(p, v, HS_EV_PREPARE_FAILED, NULL,
				    "the backup could not be prepared on %s: %s", p->core->self->name,
				    message);
	else
		hs__pairs_transition(p, v, HS_EV_REPROTECT_FAILED, NULL,
				    "a new backup could not be prepared on %s: %s",
				    p->core->self->name, message);
}

static void prepared(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		     const char *message, const struct mirror_reply *reply)
{
	if (libvirtd_away(t, v, result, message, true))
		return;
	t->outcome_known = true;
	t->outcome = result;
	t->outcome_port = result >= 0 && reply ? reply->port : 0;
	free(t->outcome_message);
	t->outcome_message = strdup(message ? message : "");
	free(t->outcome_disk_reason);
	t->outcome_disk_reason = NULL;
	if (result < 0 || !reply || !reply->disk_check)
		t->outcome_disk_id[0] = '\0'; /* nothing written on the disks: nothing to record */
	else if (!reply->disk_check->same && v->generation > 1)
		/* (a new pair's disks are new: nothing to say, nothing to resume) */
		t->outcome_disk_reason = strdup(reply->disk_check->reason ? reply->disk_check->reason
									   : "not the disks left");
	propose_outcome(p, t, v);
}

/* A new identity for the backup's disks: 128 random bits, in hex. -errno when none. */
static int disk_token_new(char out[33])
{
	uint8_t raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -errno;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

void hs__duty_prepare(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	_cleanup_free_ char *xml = NULL;
	_cleanup_json_ json_object *sizes = NULL;
	uint64_t bytes[64];
	size_t n = 0;
	struct pending *pe;
	struct mirror_disk_identity identity;
	unsigned port;
	int r;

	if (t->outcome_known) {
		propose_outcome(p, t, v);
		return;
	}
	r = sdb_pair_spec_get(p->core->db, v->vm, &xml, &sizes);
	if (r < 0 || !xml || !sizes) {
		prepared(p, t, v, -EINVAL, "the pair carries no domain definition or disk sizes",
			 NULL);
		return;
	}
	/*
	 * The port the proposer recorded is only its guess: two hosts creating
	 * pairs onto this one at the same moment can guess alike. This host
	 * binds the ports, so it chooses (its claims keep its own prepares
	 * apart) and records the one bound with backup-prepared.
	 */
	port = hs__pairs_free_port(p, p->core->self->name, v->vm);
	if (port == 0) {
		prepared(p, t, v, -EADDRINUSE, "no free NBD port", NULL);
		return;
	}
	for (n = 0; n < json_object_array_length(sizes) && n < ARRAY_SIZE(bytes); n++)
		bytes[n] = (uint64_t)json_object_get_int64(json_object_array_get_idx(sizes, n));
	r = disk_token_new(t->outcome_disk_id);
	if (r < 0) {
		prepared(p, t, v, r, "no random bytes for the backup disks' identity", NULL);
		return;
	}
	identity = (struct mirror_disk_identity){.expected = v->backup_disk_id,
						 .next = t->outcome_disk_id};
	pe = hs__pending_new(p, t, v, prepared, false);
	if (!pe)
		return;
	/* with TLS, the export lets in only the pair's primary (CN=<primary>) */
	r = mirror_backup_prepare_tls(p->mirror, xml, bytes, n,
				      hs_core_replication_address(p->core, p->core->self->name), port,
				      v->generation == 1,
				      (uint64_t)p->core->config->memory_reserve_mib << 20, v->primary,
				      &identity, hs__request_reply, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "prepare the backup", r);
}

/*
 * initial-sync and in-sync, on the primary host. The event names the backup
 * host: a mirror that fails as its host leaves the ring (the job's end and
 * the membership race) still tells the operator which host it was.
 */
static void mirror_failed(struct hs_pairs *p, const struct hs_pair *v, const char *why)
{
	hs__pairs_transition(p, v, HS_EV_MIRROR_FAILED, NULL,
			    "%s (backup on %s); %s runs on %s unprotected", why,
			    v->backup ? v->backup : "no host", v->vm, v->primary);
}

static void speed_set(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		      const char *message, const struct mirror_reply *reply)
{
	if (result >= 0) {
		t->speed_noted = 0;
		t->speed_applied = v->bandwidth_mib + 1;
		hs_state_event(p->core, v->vm, "pair", "%s", message);
		return;
	}
	/* tried again after a pause; said once per value, not at every poll */
	t->speed_next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
	if (t->speed_noted != v->bandwidth_mib + 1) {
		t->speed_noted = v->bandwidth_mib + 1;
		hs_state_event(p->core, v->vm, "pair", "the bandwidth of %s is not applied yet: %s",
			       v->vm, message);
	}
}

/*
 * The pair's bandwidth is what the admin asked (pair create --bandwidth, pair
 * set); the jobs' speed is what QEMU does. A copy is started with the
 * bandwidth, and a change made while it runs (a slow initial sync let go, a
 * resync throttled in office hours) reaches the jobs here, at the poll after
 * the change was applied: the jobs' answer says their speed, and any disk
 * that differs is set again. So a restarted hasvcd, or a change that landed
 * while the copy was starting, converges too.
 */
static void speed_keep(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
		       const struct mirror_jobs_state *jobs)
{
	uint64_t want = v->bandwidth_mib << 20;
	struct pending *pe;
	bool differs = false;
	int r;

	for (size_t i = 0; i < jobs->n_disks; i++)
		differs = differs || (jobs->disks[i].job && jobs->disks[i].speed != want);
	if (!differs || hs_now_usec(CLOCK_REALTIME) < t->speed_next_usec)
		return;
	/* set once already and the jobs still say otherwise: not again at every poll */
	if (t->speed_applied == v->bandwidth_mib + 1) {
		if (t->speed_noted != v->bandwidth_mib + 1) {
			t->speed_noted = v->bandwidth_mib + 1;
			qb_log(LOG_WARNING,
			       "pair %s: the copy speed was set to %llu MiB/s, the jobs report "
			       "another",
			       v->vm, (unsigned long long)v->bandwidth_mib);
		}
		return;
	}
	pe = hs__pending_new(p, t, v, speed_set, false);
	if (!pe)
		return;
	r = mirror_set_speed(p->mirror, v->vm, v->bandwidth_mib, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "set the copy speed", r);
}

/* The copy's kind as state/ records it, NULL while the copy has not said. */
static const struct sdb_copy_kind *copy_of(const struct task *t, struct sdb_copy_kind *buf)
{
	if (!t->copy_known)
		return NULL;
	*buf = (struct sdb_copy_kind){.kind = mirror_copy_kind_name(t->copy_kind),
				      .reason = t->copy_reason};
	return buf;
}

static void paused_resumed(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			   int result, const char *message, const struct mirror_reply *reply)
{
	if (result < 0)
		mirror_failed(p, v, message);
}

/* initial-sync: a job paused by a write that failed is resumed once (WHY said). */
static void resume_paused(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			  const char *why)
{
	struct pending *pe = hs__pending_new(p, t, v, paused_resumed, false);
	int r;

	if (!pe)
		return;
	hs__pairs_event(p, v->vm, "pair", "%s; resumed, the pair still syncing", why);
	r = mirror_resume(p->mirror, v->vm, hs_core_replication_address(p->core, v->backup),
			  v->nbd_port, hs__request_done, pe);
	if (r < 0)
		hs__pending_failed(t, pe, "resume the mirror", r);
}

static void jobs_seen(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		      const char *message, const struct mirror_reply *reply)
{
	const struct mirror_jobs_state *jobs = reply->jobs;
	size_t n = jobs ? jobs->n_disks : 0, ready = 0;
	struct sdb_disk_spec spec[64];
	struct sdb_copy_kind copy_buf;
	const struct sdb_copy_kind *copy = copy_of(t, &copy_buf);
	uint64_t done = 0, total = 0, now = hs_now_usec(CLOCK_REALTIME);
	char *buf = NULL;
	size_t len;

	if (libvirtd_away(t, v, result, message, false))
		return;
	if (result < 0) {
		mirror_failed(p, v, message);
		return;
	}
	if (!jobs || !jobs->active) {
		mirror_failed(p, v, "the VM is not running");
		return;
	}
	for (size_t i = 0; i < n && i < ARRAY_SIZE(spec); i++) {
		const struct mirror_disk_job *d = &jobs->disks[i];
		if (!d->job) {
			char why[128];
			snprintf(why, sizeof(why), "the block copy of disk %s stopped", d->target);
			mirror_failed(p, v, why);
			return;
		}
		/*
		 * qmp engine: a failed target write paused the job, which keeps
		 * what it owes; the pair is not protected until a resume copied it.
		 */
		if (d->paused) {
			char why[400];
			if (d->why)
				snprintf(why, sizeof(why), "%s (%llu bytes owed, kept for an incremental resync)",
					 d->why, (unsigned long long)(d->end - d->cur));
			else
				snprintf(why, sizeof(why),
					 "the mirror of disk %s paused on a failed write to the backup "
					 "(%llu bytes owed, kept for an incremental resync)",
					 d->target, (unsigned long long)(d->end - d->cur));
			/*
			 * Still syncing, the backup's host up: resumed rather than
			 * degraded. A backup just prepared may take longer to listen
			 * than the NBD node waits (a live switchover's way back: the
			 * stand-in stops, the backup's QEMU starts): a write made
			 * meanwhile fails, and only the resume copies it anyway.
			 */
			if (v->state == HS_PAIR_INITIAL_SYNC && !t->resumed_once && v->backup &&
			    hs_core_host_up(p->core, v->backup)) {
				t->resumed_once = true;
				resume_paused(p, t, v, why);
				return;
			}
			mirror_failed(p, v, why);
			return;
		}
		/*
		 * A write-blocking (sync) job that is READY completes a guest
		 * write only once the backup has it: end - cur is then writes
		 * in flight, not yet acknowledged to the guest, which the
		 * backup lacks no more than the primary does. Reported as
		 * copied, so the lag says what an operator reads in it:
		 * acknowledged writes the backup lacks, 0 here. A target write
		 * that fails ends the job (libvirt) or pauses it (qmp): the
		 * pair then leaves in-sync, above.
		 */
		spec[i] = (struct sdb_disk_spec){
			.target = d->target,
			.bytes_done = v->mode == HS_MODE_SYNC && d->ready ? d->end : d->cur,
			.bytes_total = d->end,
			.ready = d->ready,
		};
		ready += spec[i].ready;
		done += spec[i].bytes_done;
		total += spec[i].bytes_total;
	}
	speed_keep(p, t, v, jobs);
	if (v->state == HS_PAIR_INITIAL_SYNC && n > 0 && ready == n) {
		hs__pairs_propose(p,
				  sdb_msg_pair_copy_progress(v->vm, done, total, spec, n, copy, &buf,
							     &len),
				  &buf, &len, "sync progress");
		hs__pairs_transition(p, v, HS_EV_MIRROR_READY, NULL,
				    "all %zu disk(s) copied to %s; every write now reaches both",
				    n, v->backup);
		return;
	}
	/*
	 * In sync, what the state shows is the lag (end - cur: written on the
	 * primary, not yet on the backup; async mode only, or a sync mirror
	 * catching up: a READY sync job has none, see above). It is replicated
	 * when it changes, no more often than the progress: a pair that keeps
	 * up costs no messages however much its guest writes.
	 */
	if (v->state == HS_PAIR_IN_SYNC && now >= t->progress_usec + PROGRESS_USEC &&
	    total - done != v->bytes_total - v->bytes_done) {
		t->progress_usec = now;
		buf = NULL;
		hs__pairs_propose(p, sdb_msg_pair_progress(v->vm, done, total, spec, n, &buf, &len), &buf, &len,
			"mirror lag");
		return;
	}
	/* the copy's kind is recorded at the first look at its jobs, not one progress later */
	if (v->state == HS_PAIR_INITIAL_SYNC &&
	    ((now >= t->progress_usec + PROGRESS_USEC && done != t->progress_done) ||
	     (copy && !t->copy_recorded))) {
		t->progress_usec = now;
		t->progress_done = done;
		t->copy_recorded = copy != NULL;
		buf = NULL;
		hs__pairs_propose(p,
				  sdb_msg_pair_copy_progress(v->vm, done, total, spec, n, copy, &buf,
							     &len),
				  &buf, &len, "sync progress");
	}
}

/*
 * Which kind of copy runs, and why: the operator's question after an outage.
 * Kept for the progress to record (the API's "copy") and said in the event.
 * A new pair's backup is new whatever the engine could do: nothing on it to
 * resync from, and that is the reason an operator wants to read.
 */
static void copy_note(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
		      const struct mirror_reply *reply, const char *message)
{
	const struct mirror_copy *c = reply ? reply->copy : NULL;

	t->copy_known = true;
	t->copy_recorded = false;
	t->copy_kind = c ? c->kind : MIRROR_COPY_FULL;
	if (t->copy_kind == MIRROR_COPY_FULL && v->generation <= 2)
		snprintf(t->copy_reason, sizeof(t->copy_reason), "new backup");
	else if (t->copy_kind == MIRROR_COPY_FULL && v->backup_disk_reason)
		/* issue 13, item 4: what the backup host found instead of its disks */
		snprintf(t->copy_reason, sizeof(t->copy_reason),
			 "the backup's disk is not the one in step: %s", v->backup_disk_reason);
	else if (t->copy_kind == MIRROR_COPY_FULL && v->backup &&
		 strcmp(v->backup, t->failed_over_from) == 0)
		/*
		 * Failback (issue 13, item 3; docs/pairs.md): the returning disk
		 * was the primary's until the crash and may hold writes that never
		 * reached this host (written, not yet acknowledged). No bitmap
		 * knows them, so the whole disk is copied (a compare pass is not
		 * built: see the docs for why).
		 */
		snprintf(t->copy_reason, sizeof(t->copy_reason),
			 "failback: %s ran the VM until the failover; its disk may hold writes "
			 "never acknowledged, so all of it is copied",
			 v->backup);
	else
		snprintf(t->copy_reason, sizeof(t->copy_reason), "%s",
			 c && c->reason ? c->reason : "not said");
	t->failed_over_from[0] = '\0'; /* a later copy is not the failback's */
	hs_state_event(p->core, v->vm, "pair", "%s copy of %s to %s (%s): %s",
		       t->copy_kind == MIRROR_COPY_DELTA ? "delta" : "full", v->vm, v->backup,
		       t->copy_reason, message);
}

static void mirror_started(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			   int result, const char *message, const struct mirror_reply *reply)
{
	if (libvirtd_away(t, v, result, message, true))
		return;
	if (result < 0) {
		t->done = true;
		mirror_failed(p, v, message);
		return;
	}
	t->mirror_started = true;
	/*
	 * The jobs are read at once, not a poll later: a resume answers once
	 * its delta is copied (READY), and the pair is in sync from that look.
	 */
	t->next_usec = hs_now_usec(CLOCK_REALTIME);
	copy_note(p, t, v, reply, message);
}

/*
 * initial-sync and in-sync, on the primary host, urgent (it runs while a
 * block-job request waits: libvirt's calls on the domain queue behind a
 * monitor command stuck on the write): a replication link silent for
 * LINK_SILENCE_MS proposes the pair degraded. No request, a quick look at
 * QEMU's sockets.
 */
/*
 * How long data has waited on the link with no ACK, as far as the watch can
 * tell: TCP's time since the last ACK, but no more than the watch itself has
 * seen data waiting (the last ACK may predate the write by an idle spell).
 * An ACK between two looks shows as a silence shorter than the last one plus
 * the time between: a new stretch starts.
 */
static unsigned link_silence_seen(struct task *t, unsigned silent_ms)
{
	uint64_t now = hs_now_usec(CLOCK_MONOTONIC);
	uint64_t since_look_ms = (now - t->link_seen_usec) / 1000;
	unsigned seen_ms;

	if (!silent_ms) {
		t->link_waiting_usec = 0;
		return 0;
	}
	if (!t->link_waiting_usec || silent_ms + 100 < t->link_silent_ms + since_look_ms)
		t->link_waiting_usec = now;
	t->link_seen_usec = now;
	t->link_silent_ms = silent_ms;
	seen_ms = (unsigned)((now - t->link_waiting_usec) / 1000);
	return seen_ms < silent_ms ? seen_ms : silent_ms;
}

void hs__duty_watch_link(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	const char *addr = hs_core_replication_address(p->core, v->backup);
	unsigned silent_ms = 0;

	if (!addr || !v->nbd_port ||
	    mirror_link_silence(v->vm, addr, v->nbd_port, &t->qemu_pid, &silent_ms) < 0)
		return;
	silent_ms = link_silence_seen(t, silent_ms);
	if (silent_ms < LINK_SILENCE_MS)
		return;
	char why[160];
	snprintf(why, sizeof(why),
		 "the backup at %s:%u acknowledged nothing for %u ms (replication link cut?)", addr,
		 v->nbd_port, silent_ms);
	mirror_failed(p, v, why);
}

void hs__duty_mirror(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	struct pending *pe;
	int r;

	if (t->done)
		return;
	if (v->state == HS_PAIR_INITIAL_SYNC && !t->mirror_started) {
		const char *addr = hs_core_replication_address(p->core, v->backup);

		if (!addr || !v->nbd_port) {
			t->done = true;
			mirror_failed(p, v, "the backup host has no address or port");
			return;
		}
		pe = hs__pending_new(p, t, v, mirror_started, false);
		if (!pe)
			return;
		/*
		 * qmp engine: a pair that had a backup before (not a new one) may
		 * still have its paused jobs into this backup's export; mirror/
		 * resumes them if so (only the delta travels), else copies in full
		 * and says why. A new pair comes here at generation 2 (created,
		 * then backup-prepared): every later initial sync has a larger one.
		 * Never into disks that are not the ones those jobs wrote to (the
		 * backup host found them replaced: backup_disk_reason).
		 */
		if (mirror_engine_qmp(p->mirror))
			r = mirror_start_resync_typed(p->mirror, v->vm, addr, v->nbd_port,
						      v->mode == HS_MODE_SYNC, v->bandwidth_mib,
						      v->generation > 2 && !v->backup_disk_reason,
						      false, hs__request_reply, pe);
		else
			r = mirror_start_typed(p->mirror, v->vm, addr, v->nbd_port,
					       v->mode == HS_MODE_SYNC, v->bandwidth_mib,
					       hs__request_reply, pe);
		if (r < 0)
			hs__pending_failed(t, pe, "start the mirror", r);
		return;
	}
	t->next_usec = hs_now_usec(CLOCK_REALTIME) + POLL_USEC;
	hs__submit_vm_typed(p, t, v, mirror_jobs_typed, "read the mirror jobs", jobs_seen);
}

/* degraded, on the primary host: the mirror goes at once, guest I/O must not wait on it */
static void restarted_after_switchover(struct hs_pairs *p, struct task *t,
				       const struct hs_pair *v, int result, const char *message,
				       const struct mirror_reply *reply)
{
	char *buf = NULL;
	size_t len;

	if (result < 0) {
		t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
		hs_state_event(p->core, v->vm, "pair", "switchover rolled back, but %s", message);
		return;
	}
	t->done = true;
	hs_state_event(p->core, v->vm, "pair", "switchover rolled back: %s runs on %s (%s)", v->vm,
		       v->primary, message);
	hs__pairs_propose(p, sdb_msg_op_end(v->vm, NULL, &buf, &len), &buf, &len, "end of switchover");
}

static void cut(struct hs_pairs *p, struct task *t, const struct hs_pair *v, int result,
		const char *message, const struct mirror_reply *reply)
{
	if (v->switchover) {
		hs__submit_vm(p, t, v, mirror_restart, "restart the VM", restarted_after_switchover);
		return;
	}
	t->done = result >= 0;
	if (result < 0)
		t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
}

void hs__duty_cut(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	if (!t->done)
		hs__submit_cut(p, t, v, cut);
}

static void cut_during_switchover(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
				  int result, const char *message, const struct mirror_reply *reply)
{
	/* the stop in flight sees its jobs fail, resumes the guest and reports */
}

/*
 * switching-over, on the primary host, beside the stop: if the backup host
 * leaves the ring, or only its replication link goes silent, the stop's
 * drain would wait on a write or flush stuck on it (the guest paused
 * meanwhile), for as long as TCP retransmits (a quarter of an hour), and
 * this host's mirror thread with it. Closing the connections fails that
 * request and the jobs at once: the stop gives up, the guest runs on, the
 * switchover rolls back. (Chaos seed 1, 500 steps: a pair in sync with no
 * write since its backup's link was cut was moved by a maintenance, and the
 * stop's flush hung.)
 */
void hs__duty_switchover_watch(struct hs_pairs *p, struct task *t, const struct hs_pair *v)
{
	const char *addr;
	unsigned silent_ms = 0;

	if (t->cut_sent || !v->backup)
		return;
	if (hs_core_host_up(p->core, v->backup)) {
		addr = hs_core_replication_address(p->core, v->backup);
		if (!addr || !v->nbd_port ||
		    mirror_link_silence(v->vm, addr, v->nbd_port, &t->qemu_pid, &silent_ms) < 0 ||
		    link_silence_seen(t, silent_ms) < LINK_SILENCE_MS)
			return;
		hs_state_event(p->core, v->vm, "pair",
			       "the backup at %s:%u acknowledged nothing for %u ms during %s's "
			       "switchover drain (replication link cut?): its connections are "
			       "closed so that the drain ends (the switchover completes if the backup "
			       "is owed nothing, else it rolls back and %s keeps running on %s)",
			       addr, v->nbd_port, silent_ms, v->vm, v->vm, v->primary);
	}
	t->cut_sent = true;
	hs__submit_cut(p, t, v, cut_during_switchover);
}
