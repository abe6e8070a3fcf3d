// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_copy: the primary's side of a pair's data path, on the primary host:
 * start the block copy of every mirrored disk into the backup's NBD exports,
 * read how far the jobs are, change the speed they may copy at, and cut them.
 *
 * The copy is libvirt's block copy (QEMU's drive-mirror) onto an NBD disk
 * with REUSE_EXT (the backup's export exists) and TRANSIENT_JOB (the domain
 * stays migratable and nothing of the job is in its definition). In sync
 * mode the job is write-blocking: a guest write completes once it is on the
 * backup too. Progress is read from two places: the live XML says whether a
 * disk has a copy job and whether it reached READY, and the job info says how
 * much is copied (cur of end).
 *
 * Cutting must not wait on a silent backup: QEMU's TCP connections to its
 * exports are shut down first, on the caller's thread, then the jobs are
 * aborted asynchronously on the mirror thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "mirror.h"
#include "mirror_internal.h"
#include "mirror_sockets.h"
#include "mirror_tls.h"
#include "mirror_xml.h"

#define COPY_BUF_BYTES (64ULL << 20)       /* block copy: bytes in flight */
#define COPY_GRANULARITY_SYNC (1U << 20)   /* block copy, sync mode: chunk size */
#define START_PORT_WAIT_MS 10000 /* a start waits this long for the backup's port (port_wait) */
#define START_PROBE_MS 300

/*
 * Closes VM's connections to its NBD exports on HOST:PORT, so that requests in
 * flight to a silent backup fail now instead of after minutes of TCP
 * retransmission (mirror_sockets.c). Returns a note for the result message.
 */
static const char *connections_close(const char *vm, const char *host, unsigned port,
				     char *note, size_t size)
{
	unsigned closed = 0;
	pid_t pid = 0;
	int r = mirror_sockets_qemu_pid(vm, &pid);

	if (r >= 0)
		r = mirror_sockets_shutdown(pid, host, port, &closed);
	if (r < 0)
		snprintf(note, size, "; could not close its connections to %s:%u: %s", host, port,
			 strerror(-r));
	else
		snprintf(note, size, "; %u connection(s) to %s:%u closed", closed, host, port);
	return note;
}

int mirror_link_silence(const char *vm, const char *host, unsigned port, pid_t *qemu_pid,
			unsigned *ret_ms)
{
	pid_t pid = *qemu_pid;
	int r = mirror_sockets_qemu_pid(vm, &pid);

	*qemu_pid = r >= 0 ? pid : 0;

	if (r >= 0)
		r = mirror_sockets_silence(pid, host, port, ret_ms);
	return r;
}

/*
 * The qmp engine's start (mirror_qmp.c): our paused jobs resumed when they
 * may be and still exist, else a full copy whose message says why. A silent
 * backup is seen by the pairs as for the default engine (mirror_link_silence
 * reads the same QEMU's connections to HOST:PORT), which cut it: the job
 * then pauses.
 */
/* Why no delta, in the few words of struct mirror_copy: mirror__qmp_resumable's refusal. */
static const char *full_reason(int resumable)
{
	switch (resumable) {
	case -ENOENT: /* also after a failover or switchover: this QEMU never mirrored the pair */
		return "the primary's QEMU restarted or never mirrored this pair: no job to resume";
	case -ESTALE: return "the paused jobs went to another backup";
	default: return "the paused jobs cannot be read";
	}
}

static void start_run_qmp(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			  const char *tls_dir)
{
	char why[256];
	int e = -ENOENT;

	/*
	 * A start onto quorums in sync mode, from equal disks too (a live
	 * switchover's way back); a resume reads what the graph holds, quorums
	 * or jobs (mirror_resume's request names no mode).
	 */
	bool parallel = r->parallel && r->sync;
	bool resume_quorums = r->parallel && (r->sync || r->resume_only);

	if (r->may_resume || r->resume_only)
		e = resume_quorums ? mirror__qsync_resumable(d, dom, r->host, r->port, why, sizeof(why))
				   : mirror__qmp_resumable(d, dom, r->host, r->port, why, sizeof(why));
	if (e == 0) {
		if ((resume_quorums ? mirror__qsync_resume(r, d, dom, tls_dir != NULL)
				    : mirror__qmp_resume(r, d, dom, tls_dir != NULL)) >= 0)
			mirror__answer_copy(r, MIRROR_COPY_DELTA, "paused jobs resumed");
	} else if (r->resume_only) {
		mirror__say(r, e, "%s: cannot resume the mirror: %s", r->vm, why);
	} else {
		/* a libvirt block copy left from the default engine holds the node */
		mirror__jobs_abort(d, dom, 0);
		if ((parallel ? mirror__qsync_start(r, d, dom, tls_dir, r->may_resume ? why : NULL)
			      : mirror__qmp_start(r, d, dom, tls_dir, r->may_resume ? why : NULL)) < 0)
			return;
		if (r->from_equal)
			mirror__answer_copy(r, MIRROR_COPY_DELTA,
					    "the disks are equal: only writes from now on");
		else if (!r->may_resume)
			mirror__answer_copy(r, MIRROR_COPY_FULL, "no resume asked");
		else
			mirror__answer_copy(r, MIRROR_COPY_FULL, "%s", full_reason(e));
	}
}

/*
 * A start waits, up to START_PORT_WAIT_MS, for the backup's port to answer a
 * TCP probe of ours. A start onto a cut replication link only hurts: the
 * NBD target's connect (libvirt's blockdev-add, ours) holds the primary's
 * QEMU until the kernel's SYN backoff gives up, and the guest's writes with
 * it; and the retries of a pair that degraded (0.5 s later) would come as
 * fast as they fail, each with its events. Waiting here makes a cut's round
 * of degraded, creating, initial-sync take about START_PORT_WAIT_MS, and a
 * heal within it is taken at the next probe.
 */
static int port_wait(struct request *r)
{
	int64_t deadline = mirror__now_ms() + START_PORT_WAIT_MS;
	int e;

	while ((e = mirror_sockets_probe(r->host, r->port, START_PROBE_MS)) < 0) {
		if (mirror__now_ms() >= deadline)
			return mirror__say(r, -EHOSTUNREACH,
					   "%s: the backup's port %s:%u does not answer (%s; a cut "
					   "replication link?): not mirrored after %d s of tries",
					   r->vm, r->host, r->port, strerror(-e),
					   START_PORT_WAIT_MS / 1000);
		/* a probe lost behind a cut has waited its time: the next at once */
		if (e != -ETIMEDOUT)
			usleep(200 * 1000);
	}
	return 0;
}

static void start_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__live_domain(m, r, &d);
	unsigned flags = VIR_DOMAIN_BLOCK_COPY_REUSE_EXT | VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB;
	/*
	 * QEMU's defaults (16 MiB in flight, the image's cluster size as
	 * granularity: 64 KiB chunks) copied a 1 GiB disk at 0.6 of qemu-img
	 * convert's rate; 64 MiB and 1 MiB chunks at 1.1 of it (bench/sync-
	 * throughput, docs/performance.md). A coarse granularity makes a small write dirty a whole
	 * chunk, which the async mirror copies again; the sync mirror copies
	 * writes as they are made, so only it gets the coarse one.
	 */
	virTypedParameter params[3] = {
		{.field = VIR_DOMAIN_BLOCK_COPY_GRANULARITY,
		 .type = VIR_TYPED_PARAM_UINT,
		 .value.ui = COPY_GRANULARITY_SYNC},
		{.field = VIR_DOMAIN_BLOCK_COPY_BUF_SIZE,
		 .type = VIR_TYPED_PARAM_ULLONG,
		 .value.ul = COPY_BUF_BYTES},
		{.field = VIR_DOMAIN_BLOCK_COPY_BANDWIDTH,
		 .type = VIR_TYPED_PARAM_ULLONG,
		 .value.ul = r->bandwidth_mib << 20},
	};
	virTypedParameter *param = r->sync ? params : params + 1; /* async: no granularity */
	int n_params = r->sync ? 2 : 1;
	char dest[512], dir[4096], msg[MIRROR_MSG_MAX];
	int tls;

	if (!dom)
		return;
	/*
	 * libvirt makes the client's tls-creds-x509 object from qemu.conf's NBD
	 * certificate directory for a source with tls='yes'; its files are
	 * checked here first, so a bad one is named instead of a failed handshake.
	 */
	tls = mirror__tls_for(r, dir, sizeof(dir));
	if (tls < 0)
		goto out;
	if (tls > 0) {
		int e = mirror_tls_cert_check(dir, "client-cert.pem", "client-key.pem", NULL, 0,
					      msg, sizeof(msg));
		if (e < 0) {
			mirror__say(r, e, "cannot mirror %s to %s:%u over TLS: %s", r->vm, r->host,
				    r->port, msg);
			goto out;
		}
	}
	if (port_wait(r) < 0)
		goto out;
	if (r->qmp) {
		start_run_qmp(r, d, dom, tls > 0 ? dir : NULL);
		goto out;
	}
	if (r->sync)
		flags |= VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES;
	/* A job of an earlier mirror (to a backup that is gone) must not linger. */
	mirror__jobs_abort(d, dom, 0);
	for (size_t i = 0; i < dom->n_disks; i++) {
		snprintf(
		    dest, sizeof(dest),
		    "<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
		    "<source protocol='nbd' name='%s' tls='%s'><host name='%s' port='%u'/></source>"
		    "</disk>",
		    dom->disks[i].target, tls > 0 ? "yes" : "no", r->host, r->port);
		if (virDomainBlockCopy(d, dom->disks[i].target, dest, param,
				       n_params + (r->bandwidth_mib ? 1 : 0), flags) < 0) {
			mirror__say(r, -EIO, "cannot mirror disk %s of %s to %s:%u: %s",
				    dom->disks[i].target, r->vm, r->host, r->port,
				    mirror__virt_error());
			mirror__jobs_abort(d, dom, 0);
			goto out;
		}
	}
	mirror__say(r, 0, "%s: %zu disk(s) mirroring to %s:%u (%s%s%s)", r->vm, dom->n_disks,
		    r->host, r->port, r->sync ? "synchronous writes" : "asynchronous",
		    r->bandwidth_mib ? ", throttled" : "", tls > 0 ? ", TLS" : "");
	/* the block copy job starts from zero: libvirt gives it no dirty bitmap to start from */
	mirror__answer_copy(r, MIRROR_COPY_FULL, "libvirt block copy has no delta");
out:
	virDomainFree(d);
	mirror_domain_free(dom);
}


/* mirror_jobs' answer, in R->jobs (mirror_internal.h). */
int mirror__jobs_read(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
		      size_t *ret_ready, bool *ret_drained)
{
	int state = VIR_DOMAIN_NOSTATE, reason;
	char *live = NULL;
	size_t ready = 0;
	bool drained = true;

	if (r->qmp && r->parallel)
		return mirror__qsync_jobs_read(r, d, dom, ret_ready, ret_drained);
	if (r->qmp)
		return mirror__qmp_jobs_read(r, d, dom, ret_ready, ret_drained);
	if (virDomainGetState(d, &state, &reason, 0) < 0)
		return mirror__say(r, -EIO, "cannot read the state of %s: %s", r->vm,
				   mirror__virt_error());
	if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED)
		live = virDomainGetXMLDesc(d, 0);
	mirror__answer_clear(r);
	r->jobs.disks = calloc(dom->n_disks ?: 1, sizeof(*r->jobs.disks));
	if (!r->jobs.disks) {
		free(live);
		return mirror__say(r, -ENOMEM, "out of memory");
	}
	r->answer = MIRROR__ANSWER_JOBS;
	r->jobs.active = live != NULL;
	r->jobs.paused = state == VIR_DOMAIN_PAUSED;
	for (size_t i = 0; i < dom->n_disks; i++) {
		struct mirror_disk_job *j = &r->jobs.disks[i];
		virDomainBlockJobInfo info = {0};
		bool job = false, is_ready = false;

		if (live)
			mirror_xml_job_state(live, dom->disks[i].target, &job, &is_ready);
		/* in bytes/s, as the job was given it: MiB/s would round a speed down */
		if (job && virDomainGetBlockJobInfo(d, dom->disks[i].target, &info,
						    VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES) != 1)
			job = is_ready = false;
		ready += job && is_ready;
		drained = drained && job && is_ready && info.cur == info.end;
		*j = (struct mirror_disk_job){.target = strdup(dom->disks[i].target),
					      .job = job,
					      .ready = is_ready,
					      .cur = info.cur,
					      .end = info.end,
					      .speed = job ? info.bandwidth : 0};
		if (!j->target) {
			free(live);
			return mirror__say(r, -ENOMEM, "out of memory");
		}
		r->jobs.n_disks++;
	}
	free(live);
	if (ret_ready)
		*ret_ready = ready;
	if (ret_drained)
		*ret_drained = drained;
	return 0;
}

static void jobs_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__live_domain(m, r, &d);
	size_t ready;

	if (!dom)
		return;
	if (mirror__jobs_read(r, d, dom, &ready, NULL) == 0)
		mirror__say(r, 0, "%s: %zu of %zu disk(s) ready", r->vm, ready, dom->n_disks);
	virDomainFree(d);
	mirror_domain_free(dom);
}

/*
 * mirror_set_speed: the rate limit of every running job of R->vm, changed in
 * place. QEMU keeps the job's progress and dirty state; a job sleeping out
 * its old limit is woken, so a limit lifted takes effect at once.
 */
static void speed_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__live_domain(m, r, &d);
	uint64_t bytes = r->bandwidth_mib << 20;
	size_t set = 0;

	if (!dom)
		return;
	if (r->qmp) {
		mirror__qmp_set_speed(r, d, dom, bytes);
		goto out;
	}
	for (size_t i = 0; i < dom->n_disks; i++) {
		virDomainBlockJobInfo info = {0};

		if (virDomainGetBlockJobInfo(d, dom->disks[i].target, &info, 0) != 1)
			continue; /* no job on this disk: nothing to throttle */
		if (virDomainBlockJobSetSpeed(d, dom->disks[i].target, bytes,
					      VIR_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES) < 0) {
			mirror__say(r, -EIO, "cannot set the copy speed of disk %s of %s: %s",
				    dom->disks[i].target, r->vm, mirror__virt_error());
			goto out;
		}
		set++;
	}
	if (set == 0)
		mirror__say(r, -ENOENT, "%s: no copy job runs to set the speed of", r->vm);
	else if (bytes)
		mirror__say(r, 0, "%s: copy speed %" PRIu64 " MiB/s per disk (%zu disk(s))", r->vm,
			    r->bandwidth_mib, set);
	else
		mirror__say(r, 0, "%s: copy speed unlimited (%zu disk(s))", r->vm, set);
out:
	virDomainFree(d);
	mirror_domain_free(dom);
}

static void cut_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__live_domain(m, r, &d);

	if (!dom)
		return;
	/*
	 * qmp engine: the sockets are shut down already; the jobs pause (most
	 * have, on their failed target write) and keep what they owe, for a
	 * resync of the delta when the backup is back. A release ends them.
	 */
	if (r->qmp && !r->release && virDomainIsActive(d) == 1) {
		if (r->parallel)
			mirror__qsync_cut(d, dom);
		mirror__qmp_jobs_pause(d, dom);
		mirror__say(r, 0, "%s: mirror paused, its dirty ranges kept%s", r->vm,
			    r->note ? r->note : "");
		goto out;
	}
	if (r->qmp && virDomainIsActive(d) == 1)
		mirror__qmp_jobs_cancel(d, dom, true);
	/* the guest devices back on libvirt's nodes (whatever this host's setting now) */
	if (r->qmp && virDomainIsActive(d) == 1)
		mirror__qsync_detach(d, dom);
	/* ASYNC: do not wait for requests in flight to a backup that may be gone. */
	if (virDomainIsActive(d) == 1)
		mirror__jobs_abort(d, dom, VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC);
	mirror__say(r, 0, "%s: mirror stopped%s", r->vm, r->note ? r->note : "");
out:
	virDomainFree(d);
	mirror_domain_free(dom);
}

int mirror_start(struct mirror *m, const char *vm, const char *nbd_host, unsigned port, bool sync,
		 uint64_t bandwidth_mib, mirror_done_fn done, void *userdata)
{
	return mirror_start_resync(m, vm, nbd_host, port, sync, bandwidth_mib, false, false, done,
				   userdata);
}

int mirror_resume(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		  mirror_done_fn done, void *userdata)
{
	struct request *r = NULL;
	int ret;

	if (!mirror_engine_qmp(m))
		return -EOPNOTSUPP;
	ret = mirror__submit_vm(m, start_run, vm, done, NULL, userdata, &r);
	if (ret < 0)
		return ret;
	r->host = strdup(nbd_host);
	r->port = port;
	r->resume_only = true;
	if (!r->host) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	return mirror__submit(m, r);
}

static int start_submit(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
			bool sync, uint64_t bandwidth_mib, bool may_resume, bool from_equal,
			mirror_done_fn done, mirror_reply_fn reply, void *userdata)
{
	struct request *r = NULL;
	int ret = mirror__submit_vm(m, start_run, vm, done, reply, userdata, &r);

	if (ret < 0)
		return ret;
	r->host = strdup(nbd_host);
	r->port = port;
	r->sync = sync;
	r->bandwidth_mib = bandwidth_mib;
	r->may_resume = may_resume;
	r->from_equal = from_equal;
	if (!r->host) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	return mirror__submit(m, r);
}

int mirror_start_resync(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
			bool sync, uint64_t bandwidth_mib, bool may_resume, bool from_equal,
			mirror_done_fn done, void *userdata)
{
	return start_submit(m, vm, nbd_host, port, sync, bandwidth_mib, may_resume, from_equal,
			    done, NULL, userdata);
}

int mirror_start_resync_typed(struct mirror *m, const char *vm, const char *nbd_host,
			      unsigned port, bool sync, uint64_t bandwidth_mib, bool may_resume,
			      bool from_equal, mirror_reply_fn done, void *userdata)
{
	return start_submit(m, vm, nbd_host, port, sync, bandwidth_mib, may_resume, from_equal,
			    NULL, done, userdata);
}

int mirror_start_typed(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		       bool sync, uint64_t bandwidth_mib, mirror_reply_fn done, void *userdata)
{
	return start_submit(m, vm, nbd_host, port, sync, bandwidth_mib, false, false, NULL, done,
			    userdata);
}

int mirror_set_speed(struct mirror *m, const char *vm, uint64_t bandwidth_mib, mirror_done_fn done,
		     void *userdata)
{
	struct request *r = NULL;
	int ret;

	/* in bytes/s it must fit libvirt's unsigned long and QEMU's int64 */
	if (bandwidth_mib > ((uint64_t)INT64_MAX >> 20))
		return -EINVAL;
	ret = mirror__submit_vm(m, speed_run, vm, done, NULL, userdata, &r);
	if (ret < 0)
		return ret;
	r->bandwidth_mib = bandwidth_mib;
	return mirror__submit(m, r);
}

int mirror_jobs(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return mirror__submit_vm(m, jobs_run, vm, done, NULL, userdata, NULL);
}

int mirror_jobs_typed(struct mirror *m, const char *vm, mirror_reply_fn done, void *userdata)
{
	return mirror__submit_vm(m, jobs_run, vm, NULL, done, userdata, NULL);
}

static int cut_submit(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		      bool release, mirror_done_fn done, void *userdata)
{
	struct request *r = NULL;
	int ret = mirror__submit_vm(m, cut_run, vm, done, NULL, userdata, &r);
	char note[256];

	if (ret < 0)
		return ret;
	r->release = release;
	/*
	 * Here, in the caller's thread, not queued: the mirror thread may be
	 * stuck in a libvirt call that waits for the very request in flight to
	 * the silent backup (anything taking the domain's job lock does). It is
	 * only /proc reads and two syscalls per socket.
	 */
	if (nbd_host && port &&
	    !(r->note = strdup(connections_close(vm, nbd_host, port, note, sizeof(note))))) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	return mirror__submit(m, r);
}

int mirror_cut(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
	       mirror_done_fn done, void *userdata)
{
	return cut_submit(m, vm, nbd_host, port, false, done, userdata);
}

int mirror_release(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		   mirror_done_fn done, void *userdata)
{
	return cut_submit(m, vm, nbd_host, port, true, done, userdata);
}
