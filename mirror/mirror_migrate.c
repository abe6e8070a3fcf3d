// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_migrate: the live switchover's guest move (docs/mirror.md "Live
 * switchover"): libvirt live migration of the primary to its backup's host
 * without copying a disk, and the new primary's go.
 *
 * The disks need no copy: the backup host's images get every write the guest
 * makes, acknowledged only once they are there (the qmp engine's
 * write-blocking jobs, mirror_qmp.c), first through the backup's QEMU and,
 * for the migration, through a stand-in at the same address
 * (mirror_standin.c), because libvirt starts a QEMU of its own there for the
 * incoming guest. That QEMU opens the images inactive and reads them afresh
 * when it activates them, after the source's last write.
 *
 * The call is virDomainMigrateToURI3 with VIR_MIGRATE_PEER2PEER: the source's
 * libvirtd connects to the destination's and drives every phase itself, so a
 * migration outlives a restart of hasvcd (virDomainMigrate3 would have us
 * hold both connections and run the protocol's phases through our process),
 * and the destination's libvirtd needs no client certificate of hasvcd's.
 * Flags:
 *   LIVE          the guest runs on during the copy of its memory;
 *   PAUSED        it is left paused on the destination: mirror_continue
 *                 resumes it once the stand-in is gone and the reverse
 *                 mirror runs;
 *   PERSIST_DEST  the destination's definition becomes the primary's (it
 *                 was the backup's, with its aliases); the source's stays
 *                 (no UNDEFINE_SOURCE) for the backup to be prepared there;
 *   UNSAFE        libvirt refuses storage it does not know to be shared (and
 *                 cache modes other than none); here the images are kept
 *                 identical by our own write-blocking job, which libvirt
 *                 does not see, so its check does not apply;
 *   TLS           the migration stream over TLS when the mirror's is on
 *                 (qemu.conf migrate_tls_x509_cert_dir on both hosts).
 * The destination URI is qemu+tls://DEST/system, with pkipath= the libvirt/
 * directory next to the mirror's TLS files (deploy/lab makes it: libvirt's
 * file names for the host's certificate) when it exists; the stream goes to
 * tcp://DEST (VIR_MIGRATE_PARAM_URI), the address the caller names, not the
 * destination's hostname.
 *
 * A migration can take long (a guest that dirties memory faster than it is
 * copied never converges): it runs on a thread of its own (request.on_thread)
 * with a connection of its own, which aborts it (virDomainAbortJob) when it
 * has not ended within its bound; the source then runs on. The answer does
 * not wait for the call to return: libvirt returns only once it has reaped
 * the source's QEMU, 1.5-2 s after the guest reached the destination, and
 * the guest waits paused until hasvc resumes it. So the request's thread
 * watches the destination (a connection to its libvirtd) and answers as soon
 * as the guest is there for good; the call ends on a thread of its own. The
 * downtime comes from the destination's completed job statistics
 * (virDomainGetJobStats, VIR_DOMAIN_JOB_STATS_COMPLETED).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "mirror.h"
#include "mirror_inflight.h"
#include "mirror_internal.h"
#include "mirror_tls.h"

#define MIGRATE_TIMEOUT_DEFAULT_S 300

/*
 * What the migration needs. Made by migrate_run, then owned by the threads:
 * the request's (migrate_thread) and the call's (call_main), which frees it
 * when the request was answered before the call returned (DETACHED).
 */
struct migration {
	char dconnuri[4600];
	char uri[320];
	char vm[256];
	unsigned flags;
	unsigned timeout_s;
	struct mirror_inflight *inflight; /* under way until the call returned (LOCK) or never starts */
	pthread_mutex_t lock;
	pthread_cond_t ended;
	bool done;     /* the call returned: RC, WHY */
	bool detached; /* the request was answered: the call's thread cleans up */
	int rc;
	char why[MIRROR_MSG_MAX];
	virConnectPtr conn;
	virDomainPtr d;
	virTypedParameterPtr params;
	int nparams;
};

/* ADDR as a URI's host: an IPv6 address in brackets. */
static void uri_host(const char *addr, char *buf, size_t size)
{
	snprintf(buf, size, strchr(addr, ':') ? "[%s]" : "%s", addr);
}

static void migration_free(struct migration *mg)
{
	mirror_inflight_end(mg->inflight);
	virTypedParamsFree(mg->params, mg->nparams);
	if (mg->d)
		virDomainFree(mg->d);
	if (mg->conn)
		virConnectClose(mg->conn);
	pthread_cond_destroy(&mg->ended);
	pthread_mutex_destroy(&mg->lock);
	free(mg);
}

/*
 * The call, on a thread of its own: it returns only once libvirt has reaped
 * the source's QEMU, 1.5-2 s after the guest is on the destination (the lab,
 * 2026-12-01), which the request does not wait for (arrived, below).
 */
static void *call_main(void *data)
{
	struct migration *mg = data;
	int rc = virDomainMigrateToURI3(mg->d, mg->dconnuri, mg->params, (unsigned)mg->nparams,
					mg->flags);
	bool detached;

	pthread_mutex_lock(&mg->lock);
	mg->done = true;
	mg->rc = rc;
	/*
	 * No longer under way: the guest is where it will stay. Ended here, not
	 * by the request's thread, which may still wait on the destination.
	 */
	mirror_inflight_end(mg->inflight);
	mg->inflight = NULL;
	snprintf(mg->why, sizeof(mg->why), "%s", rc < 0 ? mirror__virt_error() : "");
	detached = mg->detached;
	pthread_cond_signal(&mg->ended);
	pthread_mutex_unlock(&mg->lock);
	if (detached) {
		/* the guest was on the destination when the request was answered */
		if (rc < 0)
			fprintf(stderr, "mirror: the migration of %s ended with an error after the "
					"guest had arrived (its source is gone either way): %s\n",
				mg->vm, mg->why);
		migration_free(mg);
	}
	return NULL;
}

/*
 * The guest is on the destination for good: its domain there is paused by
 * request (VIR_MIGRATE_PAUSED: libvirt's Finish ran, which sets "paused
 * (user)"; during the copy it is "paused (migrating)") and runs no job. From
 * there libvirt's Confirm only kills the source; nothing resumes it.
 */
static bool arrived(virConnectPtr dconn, const char *vm)
{
	virDomainPtr dd = dconn ? virDomainLookupByName(dconn, vm) : NULL;
	virDomainJobInfo job;
	int state, reason;
	bool yes = false;

	if (!dd)
		return false;
	if (virDomainGetState(dd, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
	    reason == VIR_DOMAIN_PAUSED_USER && virDomainGetJobInfo(dd, &job) == 0)
		yes = job.type == VIR_DOMAIN_JOB_NONE;
	virDomainFree(dd);
	return yes;
}

/* The completed job's downtime (ms), -1 when libvirt does not tell. */
static int64_t downtime_of(virDomainPtr d)
{
	virTypedParameterPtr params = NULL;
	unsigned long long v;
	int type, n = 0;
	int64_t ms = -1;

	if (virDomainGetJobStats(d, &type, &params, &n, VIR_DOMAIN_JOB_STATS_COMPLETED) < 0)
		return -1;
	if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1)
		ms = (int64_t)v;
	virTypedParamsFree(params, n);
	return ms;
}

/* The downtime libvirt measured: the destination's completed job has it first. */
static int64_t downtime_now(virConnectPtr dconn, const char *vm)
{
	virDomainPtr dd = dconn ? virDomainLookupByName(dconn, vm) : NULL;
	int64_t ms = dd ? downtime_of(dd) : -1;

	if (dd)
		virDomainFree(dd);
	return ms;
}

#define ARRIVAL_POLL_MS 20

/*
 * On the migration's own thread: starts the call (call_main), then answers
 * as soon as the guest is on the destination (arrived: polled every
 * ARRIVAL_POLL_MS on a connection to the destination's libvirtd), or when
 * the call returns, whichever comes first; aborts it past its bound. The
 * guest waits paused on the destination until the pair resumes it: each
 * second spent waiting for the call to return would be a second of the
 * guest's downtime.
 */
static void migrate_thread(struct mirror *m, struct request *r)
{
	struct migration *mg = r->thread_data;
	int maxparams = 0, state = VIR_DOMAIN_NOSTATE, reason;
	virConnectPtr dconn = NULL;
	pthread_t call;
	int64_t t0, elapsed, downtime = -1;
	bool aborted = false, cancelled = false, early = false;
	int rc;

	r->thread_data = NULL; /* the threads own it now */
	r->thread_data_free = NULL;
	pthread_mutex_init(&mg->lock, NULL);
	pthread_cond_init(&mg->ended, NULL);
	snprintf(mg->vm, sizeof(mg->vm), "%s", r->vm);
	mg->conn = virConnectOpen(mirror__uri(m));
	if (!mg->conn) {
		mirror__say(r, -ECONNREFUSED, "cannot connect to libvirt at %s: %s", mirror__uri(m),
			    mirror__virt_error());
		migration_free(mg);
		return;
	}
	mg->d = virDomainLookupByName(mg->conn, r->vm);
	if (!mg->d) {
		mirror__say(r, -ENOENT, "no domain %s on this host", r->vm);
		migration_free(mg);
		return;
	}
	if (virTypedParamsAddString(&mg->params, &mg->nparams, &maxparams, VIR_MIGRATE_PARAM_URI,
				    mg->uri) < 0) {
		mirror__say(r, -ENOMEM, "out of memory");
		migration_free(mg);
		return;
	}
	/* without it the answer waits for the call: slower, as safe */
	dconn = virConnectOpen(mg->dconnuri);
	/*
	 * A cut link would hold each look at the destination (arrived) as long
	 * as TCP retransmits (~15 min), and this request with it, unanswered:
	 * the pair's next duties wait behind it. The keepalive (the mirror
	 * thread's event loop) closes the connection in ~8 s instead; the
	 * answer then waits for the call.
	 */
	if (dconn && virConnectSetKeepAlive(dconn, 2, 3) < 0)
		fprintf(stderr, "mirror: no keepalive on the connection to %s: %s\n",
			mg->dconnuri, mirror__virt_error());
	/*
	 * That connect waits as long as TCP does on a cut link: the pair may
	 * have given up on this migration meanwhile (mirror_continue): it must
	 * not start once the link heals.
	 */
	if (mirror_inflight_cancelled(mg->inflight)) {
		mirror__say(r, -ECANCELED,
			    "the live migration of %s to %s was cancelled before it started (its "
			    "pair no longer migrates); %s stays here",
			    r->vm, r->host, r->vm);
		if (dconn)
			virConnectClose(dconn);
		migration_free(mg);
		return;
	}
	t0 = mirror__now_ms();
	if (pthread_create(&call, NULL, call_main, mg) != 0) {
		mirror__say(r, -EAGAIN, "cannot start the migration's thread");
		if (dconn)
			virConnectClose(dconn);
		migration_free(mg);
		return;
	}
	pthread_mutex_lock(&mg->lock);
	while (!mg->done) {
		struct timespec next;

		clock_gettime(CLOCK_REALTIME, &next);
		next.tv_nsec += ARRIVAL_POLL_MS * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&mg->ended, &mg->lock, &next);
		if (mg->done)
			break;
		cancelled = cancelled || mirror_inflight_cancelled(mg->inflight);
		pthread_mutex_unlock(&mg->lock);
		if (!aborted && (cancelled || mirror__now_ms() - t0 > (int64_t)mg->timeout_s * 1000)) {
			aborted = true;
			/* a migration past the point of no return refuses it, and completes */
			virDomainAbortJob(mg->d);
		}
		early = !aborted && arrived(dconn, r->vm);
		pthread_mutex_lock(&mg->lock);
		if (early && !mg->done) {
			mg->detached = true;
			break;
		}
		early = false;
	}
	rc = mg->rc;
	elapsed = mirror__now_ms() - t0;
	pthread_mutex_unlock(&mg->lock);
	pthread_detach(call);
	if (early || rc == 0)
		downtime = downtime_now(dconn, r->vm);
	if (dconn)
		virConnectClose(dconn);
	if (early || rc == 0) {
		mirror__answer_clear(r);
		r->migration = (struct mirror_migration){.elapsed_ms = (uint64_t)elapsed,
							 .downtime_ms = downtime};
		r->answer = MIRROR__ANSWER_MIGRATION;
		if (downtime >= 0)
			mirror__say(r, 0,
				    "%s migrated live to %s in %" PRId64 " ms (downtime %" PRId64
				    " ms); paused there, its disks kept in step by the mirror",
				    r->vm, r->host, elapsed, downtime);
		else
			mirror__say(r, 0,
				    "%s migrated live to %s in %" PRId64 " ms; paused there, its "
				    "disks kept in step by the mirror",
				    r->vm, r->host, elapsed);
		if (early)
			return; /* the call's thread frees MG */
		migration_free(mg);
		return;
	}
	virDomainGetState(mg->d, &state, &reason, 0);
	/*
	 * Gone from here though the migration failed: the guest's QEMU died
	 * during it (seen: a write after the hand-over failing QEMU's INACTIVE
	 * assertion), or it left and only the answer was lost. Either way it
	 * does not run here, and -ESRCH lets the pair swap roles: the new
	 * primary resumes the guest, or boots it from its disk, which the mirror
	 * kept in step (the stand-in's images). "keeps running" would be false,
	 * and the backup prepared again here would destroy a guest that arrived.
	 */
	if (!cancelled && !aborted &&
	    (state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED)) {
		mirror__say(r, -ESRCH,
			    "the live migration of %s to %s failed (%s) and %s no longer runs here "
			    "(%s): it went, or its QEMU died",
			    r->vm, r->host, mg->why, r->vm,
			    state == VIR_DOMAIN_CRASHED ? "crashed" : "shut off");
		migration_free(mg);
		return;
	}
	if (cancelled)
		mirror__say(r, -ECANCELED,
			    "the live migration of %s to %s was cancelled (its pair no longer "
			    "migrates): %s; %s %s here",
			    r->vm, r->host, mg->why, r->vm,
			    state == VIR_DOMAIN_RUNNING ? "keeps running" : "is not running");
	else if (aborted)
		mirror__say(r, -ETIMEDOUT,
			    "the live migration of %s to %s did not end within %u s and was "
			    "aborted (%s); %s %s here",
			    r->vm, r->host, mg->timeout_s, mg->why, r->vm,
			    state == VIR_DOMAIN_RUNNING ? "keeps running" : "is not running");
	else
		mirror__say(r, -EIO, "cannot migrate %s to %s: %s; %s %s here", r->vm, r->host,
			    mg->why, r->vm,
			    state == VIR_DOMAIN_RUNNING ? "keeps running" : "is not running");
	migration_free(mg);
}

/* MG, made by migrate_run, whose thread never started (mirror__request_free). */
static void migration_unstarted_free(void *data)
{
	struct migration *mg = data;

	mirror_inflight_end(mg->inflight);
	free(mg);
}

/* On the mirror thread: the checks, then the migration goes to a thread of its own. */
static void migrate_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__live_domain(m, r, &d);
	char dir[4096], pki[4200], host[300], query[4300] = "";
	struct migration *mg = NULL;
	size_t ready = 0;
	int state = VIR_DOMAIN_NOSTATE, reason, tls;

	if (!dom)
		return;
	if (!r->qmp) {
		mirror__say(r, -EOPNOTSUPP,
			    "live switchover needs the qmp engine (HASVC_MIRROR_ENGINE=qmp): "
			    "libvirt's block copy of %s would lose the writes made during the "
			    "migration",
			    r->vm);
		goto out;
	}
	if (virDomainGetState(d, &state, &reason, 0) < 0 || state != VIR_DOMAIN_RUNNING) {
		mirror__say(r, -ESRCH, "%s is not running on this host: nothing to migrate", r->vm);
		goto out;
	}
	if (mirror__jobs_read(r, d, dom, &ready, NULL) < 0) /* quorums too (mirror_qmp_sync.c) */
		goto out;
	if (ready != dom->n_disks) {
		for (size_t i = 0; i < r->jobs.n_disks; i++)
			if (!r->jobs.disks[i].ready) {
				mirror__say(
				    r, -EAGAIN,
				    "%s is not in sync: the mirror of disk %s is %s; a live "
				    "switchover needs every disk's job READY",
				    r->vm, r->jobs.disks[i].target,
				    !r->jobs.disks[i].job     ? "not running"
				    : r->jobs.disks[i].paused ? "paused"
							      : "still copying");
				break;
			}
		mirror__answer_clear(r);
		goto out;
	}
	mirror__answer_clear(r); /* the jobs were for the check */
	if ((tls = mirror__tls_for(r, dir, sizeof(dir))) < 0)
		goto out;
	if (tls == 0) /* the directory all the same: libvirt's client certificates live by it */
		mirror_tls_dir_resolve(r->tls_dir, MIRROR_TLS_QEMU_CONF, dir, sizeof(dir));
	snprintf(pki, sizeof(pki), "%s/libvirt", dir);
	if (access(pki, R_OK) == 0)
		snprintf(query, sizeof(query), "?pkipath=%s", pki);
	mg = calloc(1, sizeof(*mg));
	if (!mg) {
		mirror__say(r, -ENOMEM, "out of memory");
		goto out;
	}
	uri_host(r->host, host, sizeof(host));
	snprintf(mg->dconnuri, sizeof(mg->dconnuri), "qemu+tls://%s/system%s", host, query);
	snprintf(mg->uri, sizeof(mg->uri), "tcp://%s", host);
	mg->flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PAUSED |
		    VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNSAFE | (tls > 0 ? VIR_MIGRATE_TLS : 0);
	mg->timeout_s = r->timeout_s ?: MIGRATE_TIMEOUT_DEFAULT_S;
	/* listed here, on the mirror thread: a mirror_continue queued after it sees it */
	mg->inflight = mirror_inflight_begin(m, r->vm);
	if (!mg->inflight) {
		free(mg);
		mirror__say(r, -ENOMEM, "out of memory");
		goto out;
	}
	r->thread_data = mg;
	r->thread_data_free = migration_unstarted_free;
	r->on_thread = migrate_thread;
	mirror__say(r, 0, "%s: migrating to %s", r->vm, mg->dconnuri);
out:
	virDomainFree(d);
	mirror_domain_free(dom);
}

static void continue_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__live_domain(m, r, &d);
	int state = VIR_DOMAIN_NOSTATE, stopped;

	if (!dom)
		return;
	/*
	 * A migration of the guest still under way here, though its pair no
	 * longer migrates (the backup host was lost: degraded): the guest must
	 * stay. It is cancelled (it does not start, or its job is aborted: from
	 * here too, as its own thread may wait on a cut link), and the guest
	 * goes on once it has ended: until then it may yet leave (past the
	 * point of no return) or wait paused at the switch, and neither "runs
	 * already" nor a boot would be true. Found by fault_live_partition_backup:
	 * the migration's connect to the cut-off host waited, the pair went
	 * degraded, this said "runs already" and the op ended; the heal let the
	 * migration go on, and the guest left for that host, paused there for
	 * good, while the pair said it ran here.
	 */
	if (mirror_inflight_cancel(m, r->vm)) {
		virDomainAbortJob(d); /* (none started yet: refused, the flag stops it) */
		mirror__say(r, -EAGAIN,
			    "a live migration of %s is still under way here though its pair no "
			    "longer migrates: cancelled; %s goes on once it has ended",
			    r->vm, r->vm);
		goto out;
	}
	if (mirror__domain_state(r, d, &state) < 0)
		goto out;
	if (state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_PAUSED) {
		mirror__say(r, -ESRCH,
			    "%s is not active on this host (state %d): nothing to resume", r->vm,
			    state);
		goto out;
	}
	/* nothing else may write to the images once the guest runs */
	if ((stopped = mirror__standin_stop(r, r->vm)) < 0)
		goto out;
	if (state == VIR_DOMAIN_PAUSED && virDomainResume(d) < 0) {
		mirror__say(r, -EIO, "cannot resume %s: %s", r->vm, mirror__virt_error());
		goto out;
	}
	mirror__say(r, 0, "%s %s%s", r->vm, state == VIR_DOMAIN_PAUSED ? "resumed" : "runs already",
		    stopped ? " (its stand-in stopped first)" : "");
out:
	virDomainFree(d);
	mirror_domain_free(dom);
}

static int migrate_submit(struct mirror *m, const char *vm, const char *dest_addr,
			  unsigned timeout_s, mirror_done_fn done, mirror_reply_fn reply,
			  void *userdata)
{
	struct request *r = NULL;
	int ret;

	if (!*dest_addr || strlen(dest_addr) > 255 || strpbrk(dest_addr, "/?#@[] "))
		return -EINVAL;
	ret = mirror__submit_vm(m, migrate_run, vm, done, reply, userdata, &r);
	if (ret < 0)
		return ret;
	r->host = strdup(dest_addr);
	r->timeout_s = timeout_s;
	if (!r->host) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	return mirror__submit(m, r);
}

int mirror_migrate(struct mirror *m, const char *vm, const char *dest_addr, unsigned timeout_s,
		   mirror_done_fn done, void *userdata)
{
	return migrate_submit(m, vm, dest_addr, timeout_s, done, NULL, userdata);
}

int mirror_migrate_typed(struct mirror *m, const char *vm, const char *dest_addr,
			 unsigned timeout_s, mirror_reply_fn done, void *userdata)
{
	return migrate_submit(m, vm, dest_addr, timeout_s, NULL, done, userdata);
}

int mirror_continue(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return mirror__submit_vm(m, continue_run, vm, done, NULL, userdata, NULL);
}
