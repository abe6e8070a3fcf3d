// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_qmp: the "qmp" mirror engine (experimental, HASVC_MIRROR_ENGINE=qmp,
 * docs/mirror.md): the primary's block copy as a QEMU job of hasvc's own,
 * driven over QMP (virDomainQemuMonitorCommand), so that an outage of the
 * backup pauses the job instead of ending it and a resync copies only what
 * was written meanwhile (issue 13; docs/datapath-experiments.md part A says
 * what QEMU 10.0 and libvirt 11.3 do with each command used here).
 *
 * Per mirrored disk TARGET ("vda"):
 *   - node "hs-nbd-TARGET": the backup's export as an NBD client node
 *     (blockdev-add, reconnect-delay MIRROR__QMP_RECONNECT_DELAY_S;
 *     open-timeout 5), with tls-creds "hs-tls-client"
 *     (object-add tls-creds-x509 endpoint=client on the host's TLS directory)
 *     when the replication runs over TLS; under a quorum node "hs-q-TARGET",
 *     so that a resume can swap in a fresh NBD node (mirror_qmp_target.c);
 *   - job "hs-TARGET": blockdev-mirror from the disk's format node into the
 *     quorum, sync full (or none for a reverse mirror from equal disks),
 *     on-target-error stop (a failed target write pauses the job and leaves
 *     the range dirty: the job's len - offset is what it owes), copy-mode
 *     write-blocking in sync mode, background in async mode.
 *
 * The copy's rate limit is the job's "speed" (blockdev-mirror's argument at
 * the start, block-job-set-speed on a running or paused job afterwards).
 *
 * libvirt neither sees nor touches these jobs (it ignores untracked jobs,
 * and sends no events for them): their state is read with query-block-jobs.
 * A cut pauses them (block-job-pause, after mirror_cut shut the sockets down)
 * and keeps them; a resume (block-job-resume, repeated: QEMU's NBD client
 * reconnects only when a request finds the connection down) copies the dirty
 * ranges only. They are cancelled (block-job-cancel, blockdev-del of the
 * nodes) only when the mirror ends for good: a new full copy, a switchover's
 * drain, a delete.
 *
 * Everything here runs on the mirror thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "mirror_internal.h"
#include "mirror_sockets.h"

#define QMP_GRANULARITY_SYNC (1U << 20) /* as the libvirt engine: see mirror_copy.c */

#define QMP_BUF_BYTES (64ULL << 20)
/* block-job-resumes until READY (a second apart at most) */
#define QMP_RESUME_TRIES 20
/* how long a resume probes a backup port that does not answer before it gives up */
#define QMP_SILENT_MS 10000
#define QMP_PROBE_MS 300          /* connect_kick: is the backup's port reachable? */
#define QMP_CANCEL_WAIT_MS 10000 /* a cancelled job leaves query-block-jobs */


static void job_id(char *buf, size_t size, const char *target)
{
	snprintf(buf, size, "hs-%s", target);
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static uint64_t u64_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

static bool bool_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

void mirror__qmp_jobs_parse(json_object *list, const struct mirror_domain *dom,
			    struct mirror__qmp_job *jobs)
{
	char id[128];

	for (size_t i = 0; i < dom->n_disks; i++) {
		struct mirror__qmp_job *j = &jobs[i];

		*j = (struct mirror__qmp_job){0};
		job_id(id, sizeof(id), dom->disks[i].target);
		for (size_t k = 0; json_object_is_type(list, json_type_array) &&
				   k < json_object_array_length(list);
		     k++) {
			json_object *o = json_object_array_get_idx(list, k);
			const char *dev = str_of(o, "device");

			if (!dev || strcmp(dev, id) != 0)
				continue;
			j->exists = true;
			j->paused = bool_of(o, "paused");
			snprintf(j->status, sizeof(j->status), "%s", str_of(o, "status") ?: "");
			snprintf(j->io_status, sizeof(j->io_status), "%s",
				 str_of(o, "io-status") ?: "");
			j->offset = u64_of(o, "offset");
			j->len = u64_of(o, "len");
			j->speed = u64_of(o, "speed");
			j->ready = strcmp(j->status, "ready") == 0 && !j->paused &&
				   (bool_of(o, "actively-synced") || j->offset == j->len);
		}
	}
}

/* Our jobs of DOM's disks into JOBS[n_disks]; -EIO when QEMU does not answer. */
static int jobs_query(virDomainPtr d, const struct mirror_domain *dom, struct mirror__qmp_job *jobs)
{
	json_object *parsed, *list;

	if (mirror__qmp_return(d, "{\"execute\":\"query-block-jobs\"}", &parsed, &list) < 0)
		return -EIO;
	if (!list || !json_object_is_type(list, json_type_array)) {
		json_object_put(parsed);
		return -EIO;
	}
	mirror__qmp_jobs_parse(list, dom, jobs);
	json_object_put(parsed);
	return 0;
}

int mirror__qmp_jobs_read(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			  size_t *ret_ready, bool *ret_drained)
{
	struct mirror__qmp_job jobs[dom->n_disks ?: 1];
	int state = VIR_DOMAIN_NOSTATE, reason;
	bool active, drained = true;
	size_t ready = 0;

	if (virDomainGetState(d, &state, &reason, 0) < 0)
		return mirror__say(r, -EIO, "cannot read the state of %s: %s", r->vm,
				   mirror__virt_error());
	active = state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED;
	memset(jobs, 0, sizeof(jobs));
	if (active && jobs_query(d, dom, jobs) < 0)
		return mirror__say(r, -EIO, "cannot read the mirror jobs of %s: %s", r->vm,
				   mirror__virt_error());
	mirror__answer_clear(r);
	r->jobs.disks = calloc(dom->n_disks ?: 1, sizeof(*r->jobs.disks));
	if (!r->jobs.disks)
		return mirror__say(r, -ENOMEM, "out of memory");
	r->answer = MIRROR__ANSWER_JOBS;
	r->jobs.active = active;
	r->jobs.paused = state == VIR_DOMAIN_PAUSED;
	for (size_t i = 0; i < dom->n_disks; i++) {
		const struct mirror__qmp_job *q = &jobs[i];
		struct mirror_disk_job *j = &r->jobs.disks[i];

		ready += q->exists && q->ready;
		drained = drained && q->exists && q->ready && q->offset == q->len;
		*j = (struct mirror_disk_job){.target = strdup(dom->disks[i].target),
					      .job = q->exists,
					      .ready = q->ready,
					      .paused = q->exists && q->paused,
					      .cur = q->offset,
					      .end = q->len,
					      .speed = q->exists ? q->speed : 0};
		if (!j->target)
			return mirror__say(r, -ENOMEM, "out of memory");
		r->jobs.n_disks++;
	}
	if (ret_ready)
		*ret_ready = ready;
	if (ret_drained)
		*ret_drained = drained;
	return 0;
}

int mirror__qmp_set_speed(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			  uint64_t speed)
{
	struct mirror__qmp_job jobs[dom->n_disks ?: 1];
	char cmd[256], id[128];
	size_t set = 0;

	if (jobs_query(d, dom, jobs) < 0)
		return mirror__say(r, -EIO, "cannot read the mirror jobs of %s: %s", r->vm,
				   mirror__virt_error());
	for (size_t i = 0; i < dom->n_disks; i++) {
		if (!jobs[i].exists)
			continue;
		job_id(id, sizeof(id), dom->disks[i].target);
		/* a paused job takes it too, for when it is resumed */
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"block-job-set-speed\",\"arguments\":{\"device\":\"%s\","
			 "\"speed\":%" PRIu64 "}}",
			 id, speed);
		if (mirror__qmp(r, d, cmd) < 0) {
			char why[MIRROR_MSG_MAX];

			snprintf(why, sizeof(why), "%s", r->message);
			return mirror__say(r, r->result,
					   "cannot set the copy speed of disk %s of %s: %s",
					   dom->disks[i].target, r->vm, why);
		}
		set++;
	}
	if (set == 0)
		return mirror__say(r, -ENOENT, "%s: no mirror job runs to set the speed of", r->vm);
	if (speed)
		return mirror__say(r, 0,
				   "%s: copy speed %" PRIu64 " MiB/s per disk (%zu disk(s), qmp engine)",
				   r->vm, speed >> 20, set);
	return mirror__say(r, 0, "%s: copy speed unlimited (%zu disk(s), qmp engine)", r->vm, set);
}

void mirror__qmp_jobs_pause(virDomainPtr d, const struct mirror_domain *dom)
{
	char cmd[256], id[128];

	for (size_t i = 0; i < dom->n_disks; i++) {
		job_id(id, sizeof(id), dom->disks[i].target);
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"block-job-pause\",\"arguments\":{\"device\":\"%s\"}}", id);
		mirror__qmp_quiet(d, cmd); /* "already paused" (on-target-error=stop did it) is fine */
	}
}

void mirror__qmp_jobs_cancel(virDomainPtr d, const struct mirror_domain *dom, bool force)
{
	struct mirror__qmp_job jobs[dom->n_disks ?: 1];
	char cmd[256], id[128];
	bool any = false;

	if (jobs_query(d, dom, jobs) < 0)
		return;
	for (size_t i = 0; i < dom->n_disks; i++) {
		if (!jobs[i].exists)
			continue;
		any = true;
		job_id(id, sizeof(id), dom->disks[i].target);
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"block-job-cancel\",\"arguments\":{\"device\":\"%s\","
			 "\"force\":%s}}",
			 id, force ? "true" : "false");
		mirror__qmp_quiet(d, cmd);
	}
	/* the node is held by the job until it is gone */
	for (unsigned waited = 0; any && waited < QMP_CANCEL_WAIT_MS; waited += 100) {
		any = false;
		if (jobs_query(d, dom, jobs) < 0)
			break;
		for (size_t i = 0; i < dom->n_disks; i++)
			any = any || jobs[i].exists;
		if (any)
			usleep(100000);
	}
	for (size_t i = 0; i < dom->n_disks; i++)
		mirror__qmp_target_del(d, dom->disks[i].target);
}

/*
 * The node-name of the format node over DISK's image (query-named-block-nodes:
 * the node whose file is the image and whose driver is its format; a raw
 * image libvirt opened without a format layer: its file node).
 */
int mirror__qmp_format_node(virDomainPtr d, const struct mirror_disk *disk, char *buf, size_t size)
{
	json_object *parsed, *list;
	const char *found = NULL;

	if (mirror__qmp_return(d,
			       "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}",
			       &parsed, &list) < 0)
		return -EIO;
	for (size_t k = 0; list && json_object_is_type(list, json_type_array) &&
			   k < json_object_array_length(list);
	     k++) {
		json_object *o = json_object_array_get_idx(list, k);
		const char *file = str_of(o, "file"), *drv = str_of(o, "drv");
		const char *name = str_of(o, "node-name");

		if (!file || !drv || !name || name[0] == '#' || strcmp(file, disk->source) != 0)
			continue;
		if (strcmp(drv, disk->format) == 0) {
			found = name;
			break;
		}
		if (strcmp(drv, "file") == 0 && !found)
			found = name;
	}
	if (found)
		snprintf(buf, size, "%s", found);
	json_object_put(parsed);
	return found ? 0 : -ENOENT;
}

/* True when our NBD node of TARGET goes to HOST:PORT. */
bool mirror__qmp_node_goes_to(virDomainPtr d, const char *target, const char *host, unsigned port)
{
	json_object *parsed, *list;
	char id[128], where[300];
	bool same = false;

	if (mirror__qmp_target_node(d, target, id, sizeof(id)) < 0)
		return false;
	snprintf(where, sizeof(where), "//%s:%u/", host, port);
	if (mirror__qmp_return(d,
			       "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}",
			       &parsed, &list) < 0)
		return false;
	for (size_t k = 0; list && json_object_is_type(list, json_type_array) &&
			   k < json_object_array_length(list);
	     k++) {
		json_object *o = json_object_array_get_idx(list, k);
		const char *name = str_of(o, "node-name"), *file = str_of(o, "file");

		if (name && file && strcmp(name, id) == 0 && strstr(file, where))
			same = true;
	}
	json_object_put(parsed);
	return same;
}

int mirror__qmp_resumable(virDomainPtr d, const struct mirror_domain *dom, const char *host,
			  unsigned port, char *why, size_t size)
{
	struct mirror__qmp_job jobs[dom->n_disks ?: 1];

	if (jobs_query(d, dom, jobs) < 0) {
		snprintf(why, size, "its jobs cannot be read");
		return -EIO;
	}
	for (size_t i = 0; i < dom->n_disks; i++) {
		if (!jobs[i].exists) {
			/* also after a switchover: this QEMU never mirrored the pair */
			snprintf(why, size,
				 "the primary's QEMU restarted, its dirty bitmap is gone (no mirror "
				 "job of disk %s on this host)",
				 dom->disks[i].target);
			return -ENOENT;
		}
		if (!mirror__qmp_node_goes_to(d, dom->disks[i].target, host, port)) {
			snprintf(why, size,
				 "the mirror of disk %s went to another backup than %s:%u",
				 dom->disks[i].target, host, port);
			return -ESTALE;
		}
	}
	return 0;
}

/*
 * Whether the backup's port answers a TCP probe of ours, tried before every
 * resume: a resume while the link is still cut only makes the guest's
 * writes wait on the dead target again (write-blocking: up to the node's
 * reconnect delay each time), and nothing is copied. 1 when it answers, 0
 * when not.
 *
 * A link that is back, while the NBD node's connect attempt begun during the
 * cut still waits on the kernel's SYN backoff (up to a minute, not seconds:
 * its connect thread, QEMU nbd/client-connection.c, retries only once that
 * connect() fails): the stale attempt is shut down so that the thread tries
 * again after its own short sleep (1 s, doubling only after failed attempts).
 * *KICKED counts such attempts.
 */
static int backup_answers(struct request *r, unsigned *kicked)
{
	unsigned shut = 0;
	pid_t pid = 0;
	int e = mirror_sockets_probe(r->host, r->port, QMP_PROBE_MS);

	if (e < 0) {
		/* a probe lost behind a cut has waited its time: the next at once */
		if (e != -ETIMEDOUT)
			usleep(200 * 1000);
		return 0;
	}
	if (mirror_sockets_qemu_pid(r->vm, &pid) == 0 &&
	    mirror_sockets_shutdown_connecting(pid, r->host, r->port, &shut) == 0)
		*kicked += shut;
	return 1;
}

/*
 * Every disk's job gets a fresh NBD node once per resume, paused or not.
 * What calls for a resume (a backup QEMU started afresh, a stand-in taking
 * its place or giving it back, a heal) has mostly left the old node's
 * connection dead, and a write on a dead node waits for its reconnect: a
 * connect refused while the new server starts puts the retries 1, 2, 4 s
 * apart (QEMU's nbd/client-connection.c), past the 2 s reconnect-delay, so a
 * job READY now pauses on that write a second later and the pair degrades
 * (seen in a live switchover's hand-back). The swap's drain lets such a write
 * end first; a job it paused is resumed below. False when a disk could not
 * be read.
 */
static bool fresh_targets(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			  bool tls, struct mirror__qmp_job *jobs, unsigned *swapped, char *no_swap,
			  size_t no_swap_size)
{
	for (size_t i = 0; i < dom->n_disks; i++) {
		int e = mirror__qmp_target_swap(r, d, dom->disks[i].target, tls);

		*swapped += e == 0;
		if (e < 0)
			snprintf(no_swap, no_swap_size, "; %s", r->message);
	}
	return jobs_query(d, dom, jobs) == 0;
}

static bool all_ready(const struct mirror_domain *dom, const struct mirror__qmp_job *jobs)
{
	bool ready = true;

	for (size_t i = 0; i < dom->n_disks; i++)
		ready = ready && jobs[i].exists && jobs[i].ready && !jobs[i].paused;
	return ready;
}

int mirror__qmp_resume(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
		       bool tls)
{
	struct mirror__qmp_job jobs[dom->n_disks ?: 1];
	char cmd[256], id[128], no_swap[MIRROR_MSG_MAX + 2] = "";
	uint64_t owed = 0;
	unsigned tries = 0, silent = 0, kicked = 0, swapped = 0, resumed = 0;
	int64_t silent_ms = 0;
	bool ready, fresh_tried = false;
	int answers = 1;

	if (jobs_query(d, dom, jobs) < 0)
		return mirror__say(r, -EIO, "cannot read the mirror jobs of %s: %s", r->vm,
				   mirror__virt_error());
	for (size_t i = 0; i < dom->n_disks; i++) {
		if (!jobs[i].exists)
			return mirror__say(r, -ENOENT, "%s: no mirror job of disk %s to resume",
					   r->vm, dom->disks[i].target);
		owed += jobs[i].len - jobs[i].offset;
	}
	ready = all_ready(dom, jobs);
	while ((!ready || !fresh_tried) && tries < QMP_RESUME_TRIES && silent_ms < QMP_SILENT_MS) {
		int64_t probed = mirror__now_ms();

		answers = backup_answers(r, &kicked);
		if (!answers) {
			if (ready)
				break; /* nothing owed: the old node reconnects on the next write */
			silent++;
			silent_ms += mirror__now_ms() - probed;
			continue;
		}
		tries++;
		if (!fresh_tried) {
			fresh_tried = true;
			if (!fresh_targets(r, d, dom, tls, jobs, &swapped, no_swap,
					   sizeof(no_swap)))
				return mirror__say(r, -EIO, "cannot read the mirror jobs of %s: %s",
						   r->vm, mirror__virt_error());
			ready = all_ready(dom, jobs);
		}
		for (size_t i = 0; i < dom->n_disks; i++) {
			if (!jobs[i].paused)
				continue;
			job_id(id, sizeof(id), dom->disks[i].target);
			snprintf(cmd, sizeof(cmd),
				 "{\"execute\":\"block-job-resume\",\"arguments\":{\"device\":\"%s\"}}",
				 id);
			mirror__qmp_quiet(d, cmd);
			resumed++;
		}
		/* READY is looked for every 50 ms: a small delta is copied at once */
		for (int k = 0; k < 20 && !ready; k++) {
			usleep(50000);
			if (jobs_query(d, dom, jobs) < 0)
				break;
			ready = all_ready(dom, jobs);
			/* paused again (the node reconnects on the next request): resume again */
			for (size_t i = 0; i < dom->n_disks && !ready; i++)
				if (jobs[i].paused)
					k = 20;
		}
	}
	if (!ready) {
		bool running = true;

		for (size_t i = 0; i < dom->n_disks; i++)
			running = running && jobs[i].exists && !jobs[i].paused;
		if (!answers)
			return mirror__say(r, -EHOSTUNREACH,
					   "%s: the backup's port %s:%u does not answer (%u probe(s), "
					   "%u resume(s)); its %" PRIu64 " dirty bytes are kept",
					   r->vm, r->host, r->port, silent, tries, owed);
		if (!running)
			return mirror__say(r, -EHOSTUNREACH,
					   "%s: the mirror stays paused after %u resume(s) (is the "
					   "backup's export back?); its %" PRIu64
					   " dirty bytes are kept",
					   r->vm, tries, owed);
	}
	if (resumed == 0)
		return mirror__say(r, 0,
				   "%s: incremental resync: every mirror job is READY, none paused: "
				   "nothing to resume%s%s",
				   r->vm, swapped ? " (now on a fresh NBD connection)" : "", no_swap);
	return mirror__say(r, 0,
			   "%s: incremental resync: %zu paused mirror job(s) resumed after %u "
			   "try(s)%s%s, %" PRIu64 " bytes %s (written while the backup was away)%s",
			   r->vm, dom->n_disks, tries,
			   swapped ? ", on a fresh NBD connection" : "",
			   kicked ? " (a connect attempt from during the cut restarted)" : "", owed,
			   ready ? "copied" : "to copy, copying", no_swap);
}

int mirror__qmp_start(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
		      const char *tls_dir, const char *why_full)
{
	return mirror__qmp_start_from(r, d, dom, tls_dir, why_full, NULL);
}

int mirror__qmp_start_from(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			   const char *tls_dir, const char *why_full, const char *source_prefix)
{
	char cmd[1024], node[128], id[128], format[128];
	json_object *parsed, *answer, *error;

	mirror__qmp_jobs_cancel(d, dom, true);
	if (tls_dir) {
		json_object *o = json_object_new_object(), *args = json_object_new_object();

		mirror__qmp_quiet(d, "{\"execute\":\"object-del\",\"arguments\":{\"id\":\"" MIRROR__QMP_TLS_ID "\"}}");
		json_object_object_add(o, "execute", json_object_new_string("object-add"));
		json_object_object_add(args, "qom-type", json_object_new_string("tls-creds-x509"));
		json_object_object_add(args, "id", json_object_new_string(MIRROR__QMP_TLS_ID));
		json_object_object_add(args, "dir", json_object_new_string(tls_dir));
		json_object_object_add(args, "endpoint", json_object_new_string("client"));
		json_object_object_add(args, "verify-peer", json_object_new_boolean(true));
		json_object_object_add(o, "arguments", args);
		if (mirror__qmp(r, d, json_object_to_json_string(o)) < 0) {
			json_object_put(o);
			return r->result;
		}
		json_object_put(o);
	}
	for (size_t i = 0; i < dom->n_disks; i++) {
		const struct mirror_disk *disk = &dom->disks[i];

		if (source_prefix)
			snprintf(format, sizeof(format), "%s%s", source_prefix, disk->target);
		else if (mirror__qmp_format_node(d, disk, format, sizeof(format)) < 0) {
			mirror__qmp_jobs_cancel(d, dom, true);
			return mirror__say(r, -ENOENT, "cannot find the block node of disk %s of %s",
					   disk->target, r->vm);
		}
		job_id(id, sizeof(id), disk->target);
		if (mirror__qmp_target_add(r, d, disk->target, tls_dir != NULL, node,
					   sizeof(node)) < 0)
			goto out_cancel;
		/*
		 * Sync mode's granularity: what a small write dirties, so what a
		 * resync copies again for it. bench/resync (4 GiB, W = 64 MiB of
		 * random 4 KiB-1 MiB writes, 2026-12-01, loaded machine): 1 MiB
		 * copied 3.0 x W, 256 KiB 1.5 x W, 64 KiB 1.1 x W, the full copy
		 * 20.9, 18.1 and 17.1 s. 256 KiB: the goal (<= 2 x W) with room,
		 * and coarser than QEMU's 64 KiB default, which an older run found
		 * slower for the initial copy (docs/performance.md).
		 */
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"blockdev-mirror\",\"arguments\":{\"job-id\":\"%s\","
			 "\"device\":\"%s\",\"target\":\"%s\",\"sync\":\"%s\","
			 "\"on-target-error\":\"stop\",\"copy-mode\":\"%s\",\"buf-size\":%llu,"
			 "\"speed\":%" PRIu64 "%s}}",
			 id, format, node, r->from_equal ? "none" : "full",
			 r->sync ? "write-blocking" : "background", QMP_BUF_BYTES,
			 r->bandwidth_mib << 20,
			 r->sync ? ",\"granularity\":262144" : "");
		if (mirror__qmp_return(d, cmd, &parsed, &answer) < 0) {
			mirror__say(r, -EIO, "cannot mirror disk %s of %s: %s", disk->target,
				    r->vm, mirror__virt_error());
			goto out_cancel;
		}
		if (parsed && json_object_object_get_ex(parsed, "error", &error)) {
			mirror__say(r, -EIO, "cannot mirror disk %s of %s to %s:%u: %s",
				    disk->target, r->vm, r->host, r->port,
				    str_of(error, "desc") ?: "refused");
			json_object_put(parsed);
			goto out_cancel;
		}
		json_object_put(parsed);
	}
	return mirror__say(r, 0, "%s: %zu disk(s) mirroring to %s:%u (qmp engine, %s%s%s)%s%s",
			   r->vm, dom->n_disks, r->host, r->port,
			   !r->sync	     ? "asynchronous"
			   : source_prefix ? "synchronous writes, to both disks at once once in step"
					   : "synchronous writes",
			   r->from_equal ? ", only writes from now on (the disks are equal)"
				    : ", full copy",
			   tls_dir ? ", TLS" : "", why_full ? "; full resync: " : "",
			   why_full ? why_full : "");

out_cancel:
	mirror__qmp_jobs_cancel(d, dom, true);
	return r->result;
}
