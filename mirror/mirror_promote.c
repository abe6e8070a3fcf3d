// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_promote: the ends of a switchover and of a failover: stop the
 * primary with nothing lost, promote the backup, start a domain again.
 *
 * Stopping the primary (a planned switchover) must leave the backup's disks
 * equal to the primary's. With a synchronous mirror every write the guest
 * was told is done is on the backup already, so a clean guest shutdown is
 * enough. Otherwise the vCPUs are paused, the jobs are polled until every
 * disk is READY with nothing left to copy, the jobs are stopped and the
 * domain destroyed. A mirror that does not drain (its backup went away, or
 * it is too slow) is a failure that leaves the guest running on, resumed:
 * the switchover is refused, not half-done.
 *
 * Promotion, on the backup host: the NBD exports go first (nothing may write
 * to the disks once the guest runs), then the NBD server, then the paused
 * domain is resumed. Repeating it is harmless: a domain that already runs
 * is success. When a stand-in serves the VM's disks here instead (the
 * primary died during a live switchover), see promote_standin(). It all
 * runs on a thread of the request's own, on the mirror thread's connection,
 * so that the VMs of a lost host start side by side (promote_thread()).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "mirror.h"
#include "mirror_internal.h"
#include "mirror_xml.h"

#define DRAIN_TIMEOUT_S 120

static bool wait_shutoff(virDomainPtr d, unsigned timeout_s)
{
	time_t deadline = time(NULL) + timeout_s;

	while (virDomainIsActive(d) == 1) {
		if (time(NULL) >= deadline)
			return false;
		usleep(100000);
	}
	return true;
}

/* After mirror__jobs_read: true when a mirrored disk has no block job any more. */
static bool jobs_gone(const struct request *r)
{
	for (size_t i = 0; i < r->jobs.n_disks; i++)
		if (!r->jobs.disks[i].job || r->jobs.disks[i].paused)
			return true;
	return false;
}

static void stop_primary_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__live_domain(m, r, &d);
	bool drained = false;
	time_t deadline;

	if (!dom)
		return;
	if (virDomainIsActive(d) != 1) {
		mirror__say(r, -ESRCH, "%s is not running on this host", r->vm);
		goto out;
	}
	if (mirror__jobs_read(r, d, dom, NULL, &drained) < 0)
		goto out;
	/*
	 * Synchronous mirror: every write the guest was told is done is on the
	 * backup, so a clean guest shutdown may end the mirror with QEMU.
	 */
	if (r->sync && r->timeout_s > 0 && virDomainShutdown(d) == 0 && wait_shutoff(d, r->timeout_s)) {
		mirror__say(r, 0, "%s shut down cleanly", r->vm);
		goto out;
	}
	if (virDomainIsActive(d) != 1) {
		mirror__say(r, 0, "%s shut down cleanly", r->vm);
		goto out;
	}
	if (virDomainSuspend(d) < 0) {
		/*
		 * The guest powered off between the look above and the pause (a
		 * shutdown that came late, after the wait): in sync mode that is
		 * the clean shutdown asked for (bench/switchover, 3 of 12 cold
		 * moves of a 1 GiB guest).
		 */
		if (r->sync && virDomainIsActive(d) == 0) {
			mirror__say(r, 0, "%s shut down cleanly (late)", r->vm);
			goto out;
		}
		mirror__say(r, -EIO, "cannot pause %s: %s", r->vm, mirror__virt_error());
		goto out;
	}
	deadline = time(NULL) + DRAIN_TIMEOUT_S;
	while (mirror__jobs_read(r, d, dom, NULL, &drained) == 0 && !drained &&
	       time(NULL) < deadline) {
		/* a job that failed (its backup went away) never drains: do not wait for it */
		if (jobs_gone(r)) {
			virDomainResume(d);
			mirror__say(r, -EPIPE,
				    "the mirror of %s stopped before it drained (is the backup "
				    "host gone?); %s keeps running",
				    r->vm, r->vm);
			goto out;
		}
		usleep(100000);
	}
	if (!drained) {
		/* Roll back: the guest runs on, with its mirror. */
		virDomainResume(d);
		mirror__say(r, -ETIMEDOUT,
			    "the mirror of %s did not drain in %d s; %s keeps running", r->vm,
			    DRAIN_TIMEOUT_S, r->vm);
		goto out;
	}
	/* READY and nothing left to copy: stopping the jobs leaves equal disks. */
	mirror__jobs_abort(d, dom, 0);
	if (r->qmp)
		mirror__qmp_jobs_cancel(d, dom, false);
	if (virDomainDestroy(d) < 0) {
		mirror__say(r, -EIO, "cannot stop %s: %s", r->vm, mirror__virt_error());
		goto out;
	}
	mirror__say(r, 0, "%s paused, mirror drained, stopped", r->vm);
out:
	mirror__answer_clear(r); /* the jobs were for the drain: no answer */
	virDomainFree(d);
	mirror_domain_free(dom);
}

/*
 * R's domain and its state, for restart and revive: NULL (said) when there is
 * no connection, no such domain, or its state cannot be read.
 */
static virDomainPtr domain_and_state(struct mirror *m, struct request *r, int *state,
				     int *reason)
{
	virConnectPtr conn = mirror__connection(m, r);
	virDomainPtr d;

	if (!conn)
		return NULL;
	d = virDomainLookupByName(conn, r->vm);
	if (!d) {
		mirror__say(r, -ENOENT, "no domain %s on this host", r->vm);
		return NULL;
	}
	if (virDomainGetState(d, state, reason, 0) < 0) {
		mirror__say(r, -EIO, "cannot read the state of %s: %s", r->vm,
			    mirror__virt_error());
		virDomainFree(d);
		return NULL;
	}
	return d;
}

static void restart_run(struct mirror *m, struct request *r)
{
	int state = VIR_DOMAIN_NOSTATE, reason;
	virDomainPtr d = domain_and_state(m, r, &state, &reason);

	if (!d)
		return;
	if (state == VIR_DOMAIN_RUNNING)
		mirror__say(r, 0, "%s already runs", r->vm);
	else if (state == VIR_DOMAIN_PAUSED && virDomainResume(d) < 0)
		mirror__say(r, -EIO, "cannot resume %s: %s", r->vm, mirror__virt_error());
	else if (state == VIR_DOMAIN_PAUSED)
		mirror__say(r, 0, "%s resumed", r->vm);
	/* a live switchover's stand-in of its images goes before the guest boots on them */
	else if (mirror__standin_stop(r, r->vm) < 0)
		; /* said */
	else if (virDomainCreate(d) < 0)
		mirror__say(r, -EIO, "cannot start %s: %s", r->vm, mirror__virt_error());
	else
		mirror__say(r, 0, "%s started", r->vm);
	virDomainFree(d);
}

/*
 * A stand-in of the VM serves its disks here (mirror_standin.c): the primary
 * was lost during a live switchover. The stand-in goes first (it flushes;
 * nothing else may write once the guest runs), then: a migration that
 * completed left the domain paused and active here, and it is resumed; an
 * incoming migration still under way cannot end without its source, and
 * its QEMU is destroyed; the domain is then booted from its disk, which has
 * every write the primary acknowledged (the mirror was write-blocking).
 */
/*
 * True when D is a migration that arrived: paused by request after libvirt's
 * Finish ("paused (user)"; during the copy it is "paused (migrating)"), no
 * job on it. Never virDomainGetJobInfo here: an incoming migration's job
 * admits no query job (libvirt's qemuMigrationJobStart, mask NONE), so with
 * its source just lost the query waits 30 s for the state change lock and
 * fails the promotion (clean-clone CI 2026-12-02, fault_live_crash_primary:
 * promoting -> error). virDomainGetControlInfo takes no job.
 */
static bool migration_arrived(virDomainPtr d)
{
	virDomainControlInfo control = {0};
	int state, reason;

	return virDomainGetState(d, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
	       reason != VIR_DOMAIN_PAUSED_MIGRATION &&
	       virDomainGetControlInfo(d, &control, 0) == 0 &&
	       control.state == VIR_DOMAIN_CONTROL_OK;
}

static void promote_standin(struct request *r, virDomainPtr d, int state)
{
	if (mirror__standin_stop(r, r->vm) < 0)
		return;
	if (state == VIR_DOMAIN_PAUSED && migration_arrived(d)) {
		if (virDomainResume(d) < 0)
			mirror__say(r, -EIO, "cannot resume %s: %s", r->vm, mirror__virt_error());
		else
			mirror__say(r, 0, "%s promoted: its stand-in stopped, the migrated domain "
					  "resumed", r->vm);
		return;
	}
	if (state == VIR_DOMAIN_PAUSED && virDomainDestroy(d) < 0) {
		mirror__say(r, -EIO, "cannot stop the incomplete incoming migration of %s: %s",
			    r->vm, mirror__virt_error());
		return;
	}
	if (virDomainCreate(d) < 0) {
		mirror__say(r, -EIO, "cannot start %s: %s", r->vm, mirror__virt_error());
		return;
	}
	mirror__say(r, 0, "%s promoted: its stand-in stopped, the domain booted from its disk%s",
		    r->vm, state == VIR_DOMAIN_PAUSED ? " (an incomplete incoming migration "
						       "destroyed first)" : "");
}

/*
 * On a thread of the request's own (request.on_thread): a host that lost a
 * primary host with many VMs promotes them all at once, and one after the
 * other on the mirror thread they started up to a second apart (17 VMs:
 * 0.76 s from the first resume to the last, docs/performance.md). Each
 * request owns its domain: the pairs ask for one promotion of a VM at a
 * time, so nothing else of hasvc's acts on that domain meanwhile.
 */
static void promote_thread(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__domain_on(r->conn, r, &d);
	int state = VIR_DOMAIN_NOSTATE;
	char cmd[256];

	if (!dom)
		return;
	if (mirror__domain_state(r, d, &state) < 0)
		goto out;
	if (state == VIR_DOMAIN_RUNNING) {
		/* a repeated promotion; a stand-in left beside it must not serve its images */
		if (mirror__standin_stop(r, r->vm) > 0)
			mirror__say(r, 0, "%s already runs here (its stand-in stopped)", r->vm);
		else if (r->result >= 0)
			mirror__say(r, 0, "%s already runs here", r->vm);
		goto out;
	}
	if (mirror__standin_pid(r->vm) > 0) {
		promote_standin(r, d, state);
		goto out;
	}
	if (state != VIR_DOMAIN_PAUSED) {
		mirror__say(r, -ESRCH,
			    "backup %s is not paused here (state %d): nothing to promote", r->vm,
			    state);
		goto out;
	}
	/* The exports go first: nothing may write to the disks once the guest runs. */
	for (size_t i = 0; i < dom->n_disks; i++) {
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"block-export-del\",\"arguments\":{\"id\":\"hasvc-%s\","
			 "\"mode\":\"hard\"}}",
			 dom->disks[i].target);
		if (mirror__qmp(r, d, cmd) < 0 && !strstr(r->message, "not found"))
			goto out;
	}
	if (mirror__qmp(r, d, "{\"execute\":\"nbd-server-stop\"}") < 0 &&
	    !strstr(r->message, "not running"))
		goto out;
	if (virDomainResume(d) < 0) {
		mirror__say(r, -EIO, "cannot resume %s: %s", r->vm, mirror__virt_error());
		goto out;
	}
	mirror__say(r, 0, "%s promoted: exports removed, domain running", r->vm);
out:
	virDomainFree(d);
	mirror_domain_free(dom);
}

/* On the mirror thread: the connection, for the thread that promotes. */
static void promote_run(struct mirror *m, struct request *r)
{
	virConnectPtr conn = mirror__connection(m, r);

	if (!conn)
		return;
	if (virConnectRef(conn) < 0) {
		mirror__say(r, -EIO, "cannot promote %s: %s", r->vm, mirror__virt_error());
		return;
	}
	r->conn = conn;
	r->on_thread = promote_thread;
}

int mirror_stop_primary(struct mirror *m, const char *vm, bool sync, unsigned shutdown_timeout_s,
			mirror_done_fn done, void *userdata)
{
	struct request *r = NULL;
	int ret = mirror__submit_vm(m, stop_primary_run, vm, done, NULL, userdata, &r);

	if (ret < 0)
		return ret;
	r->sync = sync;
	r->timeout_s = shutdown_timeout_s;
	return mirror__submit(m, r);
}

/* Why libvirt says a domain is shut off, in the words of an event. */
static const char *shutoff_why(int reason)
{
	switch (reason) {
	case VIR_DOMAIN_SHUTOFF_CRASHED: return "its QEMU crashed or was killed";
	case VIR_DOMAIN_SHUTOFF_SHUTDOWN: return "shut down from inside the guest";
	case VIR_DOMAIN_SHUTOFF_DESTROYED: return "destroyed (virsh destroy or its QEMU killed)";
	case VIR_DOMAIN_SHUTOFF_FAILED: return "its QEMU failed to start";
	default: return "shut off, reason unknown";
	}
}

static void revive_run(struct mirror *m, struct request *r)
{
	int state = VIR_DOMAIN_NOSTATE, reason = 0;
	virDomainPtr d = domain_and_state(m, r, &state, &reason);
	const char *why;

	if (!d)
		return;
	why = state == VIR_DOMAIN_CRASHED ? "crashed" : shutoff_why(reason);
	if (state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_CRASHED)
		mirror__say(r, MIRROR_REVIVE_RUNS, "%s is not shut off here (state %d)", r->vm,
			    state);
	/*
	 * Migrated away, it runs elsewhere (a second copy must never start);
	 * saved or reverted to a snapshot, someone means to bring it back so.
	 */
	else if (state == VIR_DOMAIN_SHUTOFF && (reason == VIR_DOMAIN_SHUTOFF_MIGRATED ||
						 reason == VIR_DOMAIN_SHUTOFF_SAVED ||
						 reason == VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT))
		mirror__say(r, MIRROR_REVIVE_RUNS, "%s is shut off here by a %s: not started",
			    r->vm,
			    reason == VIR_DOMAIN_SHUTOFF_MIGRATED ? "migration away"
			    : reason == VIR_DOMAIN_SHUTOFF_SAVED  ? "save to a file"
								  : "snapshot revert");
	else if (!r->may_start)
		mirror__say(r, MIRROR_REVIVE_DOWN, "%s is shut off (%s); left off", r->vm, why);
	/* (a stand-in of its images, left by a live switchover, goes first) */
	else if (mirror__standin_stop(r, r->vm) < 0)
		; /* said */
	else if (virDomainCreate(d) < 0)
		mirror__say(r, -EIO, "%s was shut off (%s) and cannot start: %s", r->vm, why,
			    mirror__virt_error());
	else
		mirror__say(r, MIRROR_REVIVE_STARTED, "%s was shut off (%s); started again from its disk",
			    r->vm, why);
	virDomainFree(d);
}

int mirror_revive(struct mirror *m, const char *vm, bool may_start, mirror_done_fn done,
		  void *userdata)
{
	struct request *r = NULL;
	int ret = mirror__submit_vm(m, revive_run, vm, done, NULL, userdata, &r);

	if (ret < 0)
		return ret;
	r->may_start = may_start;
	return mirror__submit(m, r);
}

int mirror_restart(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return mirror__submit_vm(m, restart_run, vm, done, NULL, userdata, NULL);
}

int mirror_promote(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return mirror__submit_vm(m, promote_run, vm, done, NULL, userdata, NULL);
}
