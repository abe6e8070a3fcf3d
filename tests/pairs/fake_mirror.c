// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fake_mirror: mirror/ for the pairs tests (see pairs_test.h). Every request
 * is recorded and answered only when the test says, as libvirt answers on
 * its own time. It defines every function pairs/ calls, so the real mirror.c
 * (and libvirt) is never linked in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror.h"
#include "pairs_test.h"

struct mirror {
	int dummy;
};

static struct mirror the_mirror;
bool pt_engine_qmp; /* what mirror_engine_qmp() says */
bool pt_sync_parallel; /* set by mirror_use_parallel_sync() */
static struct pt_call calls[256];
static size_t n_calls;

static int record(const char *op, const char *vm, unsigned port, bool sync, mirror_done_fn done,
		  void *userdata)
{
	struct pt_call *c;

	if (n_calls == sizeof(calls) / sizeof(calls[0]))
		return -ENOSPC;
	c = &calls[n_calls++];
	memset(c, 0, sizeof(*c));
	snprintf(c->op, sizeof(c->op), "%s", op);
	snprintf(c->vm, sizeof(c->vm), "%s", vm ? vm : "");
	c->port = port;
	c->sync = sync;
	c->done = done;
	c->userdata = userdata;
	return 0;
}

unsigned pt_link_silence_ms;
bool pt_revive_runs = true;

int mirror_link_silence(const char *vm, const char *host, unsigned port, pid_t *qemu_pid,
			unsigned *ret_ms)
{
	*ret_ms = pt_link_silence_ms;
	return 0;
}

const char *pt_disks_replaced; /* the disk watch's answer: NULL, every disk is its QEMU's */

int mirror_backup_disks_replaced(const char *primary_xml, pid_t *qemu_pid, char *why,
				 size_t len)
{
	(void)primary_xml;
	(void)qemu_pid;
	if (!pt_disks_replaced)
		return 0;
	snprintf(why, len, "%s", pt_disks_replaced);
	return 1;
}

int mirror_backup_refusals(const char *vm, unsigned port, pid_t *qemu_pid, char *why, size_t len)
{
	(void)vm;
	(void)port;
	(void)qemu_pid;
	(void)why;
	(void)len;
	return 0; /* the lab shows it: tests/lab/test_sync_parallel_refusal.sh */
}

size_t pt_calls(void)
{
	return n_calls;
}

struct pt_call *pt_call(size_t i)
{
	return i < n_calls ? &calls[i] : NULL;
}

struct pt_call *pt_pending(const char *op)
{
	for (size_t i = n_calls; i-- > 0;)
		if (!calls[i].answered && strcmp(calls[i].op, op) == 0)
			return &calls[i];
	return NULL;
}

/*
 * The records a typed operation answers with, from the JSON the tests give
 * (the shape mirror/'s JSON answers have: "port"; "active" and "disks" of
 * {"target","job","ready","cur","end","paused"?,"speed"?}).
 */
static void answer_typed(struct pt_call *c, int result, const char *message, json_object *data)
{
	struct mirror_disk_job disks[16];
	struct mirror_jobs_state jobs = {.disks = disks};
	struct mirror_disk_size sizes[16];
	struct mirror_inspection in = {.disks = sizes};
	struct mirror_copy copy = {0};
	struct mirror_reply reply = {.result = result, .message = message};
	json_object *v, *list;

	struct mirror_disk_check check = {.same = true};

	if (json_object_object_get_ex(data, "port", &v))
		reply.port = (unsigned)json_object_get_int(v);
	/* backup_prepare: {"disk_reason": "..."} answers disks that were not the ones left */
	if (strcmp(c->op, "backup_prepare") == 0 && c->id_next[0]) {
		if (json_object_object_get_ex(data, "disk_reason", &v)) {
			check.same = false;
			check.reason = json_object_get_string(v);
		}
		reply.disk_check = &check;
	}
	if (strcmp(c->op, "jobs") == 0 && data) {
		jobs.active = json_object_object_get_ex(data, "active", &v) && json_object_get_boolean(v);
		if (json_object_object_get_ex(data, "disks", &list))
			for (size_t i = 0; i < json_object_array_length(list) && i < 16; i++) {
				json_object *d = json_object_array_get_idx(list, i), *f;

				disks[i] = (struct mirror_disk_job){
				    .target = json_object_object_get_ex(d, "target", &f)
						  ? (char *)json_object_get_string(f)
						  : (char *)"",
				    .job = json_object_object_get_ex(d, "job", &f) && json_object_get_boolean(f),
				    .ready = json_object_object_get_ex(d, "ready", &f) && json_object_get_boolean(f),
				    .cur = json_object_object_get_ex(d, "cur", &f) ? (uint64_t)json_object_get_int64(f) : 0,
				    .end = json_object_object_get_ex(d, "end", &f) ? (uint64_t)json_object_get_int64(f) : 0,
				    .paused = json_object_object_get_ex(d, "paused", &f) && json_object_get_boolean(f),
				    .speed = json_object_object_get_ex(d, "speed", &f) ? (uint64_t)json_object_get_int64(f) : 0,
				    .why = json_object_object_get_ex(d, "why", &f) ? (char *)json_object_get_string(f) : NULL,
				};
				jobs.n_disks++;
			}
		reply.jobs = &jobs;
	}
	if (strcmp(c->op, "inspect") == 0 && data) {
		in.uuid = json_object_object_get_ex(data, "uuid", &v) ? (char *)json_object_get_string(v) : (char *)"";
		in.xml = json_object_object_get_ex(data, "xml", &v) ? (char *)json_object_get_string(v) : NULL;
		if (json_object_object_get_ex(data, "disks", &list))
			for (size_t i = 0; i < json_object_array_length(list) && i < 16; i++) {
				json_object *d = json_object_array_get_idx(list, i), *f;

				sizes[i] = (struct mirror_disk_size){
				    .target = json_object_object_get_ex(d, "target", &f)
						  ? (char *)json_object_get_string(f)
						  : (char *)"",
				    .bytes = json_object_object_get_ex(d, "bytes", &f) ? (uint64_t)json_object_get_int64(f) : 0,
				};
				in.n_disks++;
			}
		reply.inspection = &in;
	}
	/* a start's answer: {"kind":"full"|"delta","reason"?} */
	if (json_object_object_get_ex(data, "kind", &v)) {
		copy.kind = strcmp(json_object_get_string(v), "delta") == 0 ? MIRROR_COPY_DELTA
									    : MIRROR_COPY_FULL;
		copy.reason = json_object_object_get_ex(data, "reason", &v)
				  ? json_object_get_string(v)
				  : "";
		reply.copy = &copy;
	}
	/* verify: {"bytes_compared","out_of_sync_bytes","ranges","repaired_bytes",...} */
	struct mirror_verification ver = {0};

	if (strcmp(c->op, "verify") == 0 && data) {
		ver.bytes_compared = json_object_object_get_ex(data, "bytes_compared", &v) ? (uint64_t)json_object_get_int64(v) : 0;
		ver.out_of_sync_bytes = json_object_object_get_ex(data, "out_of_sync_bytes", &v) ? (uint64_t)json_object_get_int64(v) : 0;
		ver.n_ranges = json_object_object_get_ex(data, "ranges_count", &v) ? (uint64_t)json_object_get_int64(v) : 0;
		ver.repaired_bytes = json_object_object_get_ex(data, "repaired_bytes", &v) ? (uint64_t)json_object_get_int64(v) : 0;
		ver.ranges = json_object_object_get_ex(data, "ranges", &v) ? (char *)json_object_get_string(v) : (char *)"";
		reply.verification = &ver;
	}
	c->reply(c->userdata, &reply);
}

void pt_answer(struct pt_call *c, int result, const char *message, json_object *data)
{
	c->answered = true;
	if (c->reply)
		answer_typed(c, result, message, data);
	else
		c->done(c->userdata, result, message, data);
	json_object_put(data);
	pt_deliver();
}

void pt_calls_clear(void)
{
	n_calls = 0;
}

int mirror_new(qb_loop_t *loop, const char *uri, struct mirror **ret)
{
	n_calls = 0;
	*ret = &the_mirror;
	return 0;
}

void mirror_free(struct mirror *m)
{
}

void mirror_on_job_event_typed(struct mirror *m, mirror_reply_fn fn, void *userdata)
{
}

int mirror_backup_prepare(struct mirror *m, const char *primary_xml, const uint64_t *disk_bytes,
			  size_t n_disks, const char *nbd_addr, unsigned port, bool fresh,
			  uint64_t memory_reserve, mirror_done_fn done, void *userdata)
{
	return record("backup_prepare", primary_xml, port, fresh, done, userdata);
}

int mirror_backup_prepare_tls(struct mirror *m, const char *primary_xml,
			      const uint64_t *disk_bytes, size_t n_disks, const char *nbd_addr,
			      unsigned port, bool fresh, uint64_t memory_reserve,
			      const char *primary_node, const struct mirror_disk_identity *identity,
			      mirror_reply_fn done, void *userdata)
{
	int r = record("backup_prepare", primary_xml, port, fresh, NULL, userdata);

	if (r >= 0) {
		struct pt_call *c = &calls[n_calls - 1];

		c->reply = done;
		snprintf(c->primary, sizeof(c->primary), "%s", primary_node ? primary_node : "");
		snprintf(c->id_expected, sizeof(c->id_expected), "%s",
			 identity && identity->expected ? identity->expected : "");
		snprintf(c->id_next, sizeof(c->id_next), "%s",
			 identity && identity->next ? identity->next : "");
	}
	return r;
}

int mirror_start(struct mirror *m, const char *vm, const char *nbd_host, unsigned port, bool sync,
		 uint64_t bandwidth_mib, mirror_done_fn done, void *userdata)
{
	int r = record("start", vm, port, sync, done, userdata);

	if (r >= 0)
		calls[n_calls - 1].bandwidth_mib = bandwidth_mib;
	return r;
}

int mirror_start_typed(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		       bool sync, uint64_t bandwidth_mib, mirror_reply_fn done, void *userdata)
{
	int r = record("start", vm, port, sync, NULL, userdata);

	if (r >= 0) {
		calls[n_calls - 1].reply = done;
		calls[n_calls - 1].bandwidth_mib = bandwidth_mib;
	}
	return r;
}

int mirror_start_resync_typed(struct mirror *m, const char *vm, const char *nbd_host,
			      unsigned port, bool sync, uint64_t bandwidth_mib, bool may_resume,
			      bool from_equal, mirror_reply_fn done, void *userdata)
{
	int r = record("start_resync", vm, port, sync, NULL, userdata);

	if (r >= 0) {
		calls[n_calls - 1].reply = done;
		calls[n_calls - 1].from_equal = from_equal;
		calls[n_calls - 1].may_resume = may_resume;
		calls[n_calls - 1].bandwidth_mib = bandwidth_mib;
	}
	return r;
}

const char *mirror_copy_kind_name(enum mirror_copy_kind kind)
{
	return kind == MIRROR_COPY_DELTA ? "delta" : "full";
}

int mirror_set_speed(struct mirror *m, const char *vm, uint64_t bandwidth_mib, mirror_done_fn done,
		     void *userdata)
{
	int r = record("set_speed", vm, 0, false, done, userdata);

	if (r >= 0)
		calls[n_calls - 1].bandwidth_mib = bandwidth_mib;
	return r;
}

int mirror_start_resync(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
			bool sync, uint64_t bandwidth_mib, bool may_resume, bool from_equal,
			mirror_done_fn done, void *userdata)
{
	int r = record("start_resync", vm, port, sync, done, userdata);

	if (r >= 0) {
		calls[n_calls - 1].may_resume = may_resume;
		calls[n_calls - 1].bandwidth_mib = bandwidth_mib;
	}
	return r;
}

int mirror_resume(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		  mirror_done_fn done, void *userdata)
{
	return record("resume", vm, port, false, done, userdata);
}

int mirror_release(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		   mirror_done_fn done, void *userdata)
{
	return record("release", vm, port, false, done, userdata);
}

bool mirror_engine_qmp(const struct mirror *m)
{
	return pt_engine_qmp;
}

void mirror_use_parallel_sync(struct mirror *m)
{
	(void)m;
	pt_sync_parallel = true;
}

void mirror_use_qmp_engine(struct mirror *m)
{
	(void)m;
	pt_engine_qmp = true;
}

int mirror_verify_typed(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
			bool repair, mirror_reply_fn done, void *userdata)
{
	int r = record("verify", vm, port, false, NULL, userdata);

	if (r >= 0) {
		calls[n_calls - 1].reply = done;
		calls[n_calls - 1].repair = repair;
		snprintf(calls[n_calls - 1].host, sizeof(calls[n_calls - 1].host), "%s", nbd_host);
	}
	return r;
}

int mirror_inspect_typed(struct mirror *m, const char *vm, mirror_reply_fn done, void *userdata)
{
	int r = record("inspect", vm, 0, false, NULL, userdata);

	if (r >= 0)
		calls[n_calls - 1].reply = done;
	return r;
}

int mirror_jobs(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("jobs", vm, 0, false, done, userdata);
}

int mirror_jobs_typed(struct mirror *m, const char *vm, mirror_reply_fn done, void *userdata)
{
	int r = record("jobs", vm, 0, false, NULL, userdata);

	if (r >= 0)
		calls[n_calls - 1].reply = done;
	return r;
}

int mirror_cut(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
	       mirror_done_fn done, void *userdata)
{
	return record("cut", vm, port, false, done, userdata);
}

int mirror_stop_primary(struct mirror *m, const char *vm, bool sync, unsigned shutdown_timeout_s,
			mirror_done_fn done, void *userdata)
{
	return record("stop_primary", vm, 0, sync, done, userdata);
}

int mirror_restart(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("restart", vm, 0, false, done, userdata);
}

int mirror_revive(struct mirror *m, const char *vm, bool may_start, mirror_done_fn done,
		  void *userdata)
{
	int r;

	if (pt_revive_runs) {
		done(userdata, MIRROR_REVIVE_RUNS, "the guest runs", NULL);
		return 0;
	}
	r = record("revive", vm, 0, false, done, userdata);
	if (r >= 0)
		calls[n_calls - 1].may_start = may_start;
	return r;
}

int mirror_teardown(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("teardown", vm, 0, false, done, userdata);
}

int mirror_promote(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("promote", vm, 0, false, done, userdata);
}

int mirror_standin_start(struct mirror *m, const char *vm, const char *nbd_addr, unsigned port,
			 bool replace_backup, const char *primary_node, mirror_done_fn done,
			 void *userdata)
{
	int r = record("standin_start", vm, port, false, done, userdata);

	if (r >= 0) {
		calls[n_calls - 1].replace = replace_backup;
		snprintf(calls[n_calls - 1].host, sizeof(calls[0].host), "%s", nbd_addr ? nbd_addr : "");
		snprintf(calls[n_calls - 1].primary, sizeof(calls[0].primary), "%s",
			 primary_node ? primary_node : "");
	}
	return r;
}

int mirror_standin_start_xml(struct mirror *m, const char *vm, const char *xml,
			     const char *nbd_addr, unsigned port, const char *primary_node,
			     mirror_done_fn done, void *userdata)
{
	return mirror_standin_start(m, vm, nbd_addr, port, false, primary_node, done, userdata);
}

int mirror_standin_arm_xml(struct mirror *m, const char *vm, const char *xml,
			   const char *nbd_addr, unsigned port, const char *primary_node,
			   mirror_done_fn done, void *userdata)
{
	int r = record("standin_arm", vm, port, false, done, userdata);

	if (r >= 0)
		snprintf(calls[n_calls - 1].primary, sizeof(calls[0].primary), "%s",
			 primary_node ? primary_node : "");
	return r;
}

int mirror_standin_activate(struct mirror *m, const char *vm, mirror_done_fn done,
			    void *userdata)
{
	return record("standin_activate", vm, 0, false, done, userdata);
}

int mirror_standin_stop(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("standin_stop", vm, 0, false, done, userdata);
}

int mirror_migrate(struct mirror *m, const char *vm, const char *dest_addr, unsigned timeout_s,
		   mirror_done_fn done, void *userdata)
{
	int r = record("migrate", vm, 0, false, done, userdata);

	if (r >= 0)
		snprintf(calls[n_calls - 1].host, sizeof(calls[0].host), "%s", dest_addr ? dest_addr : "");
	return r;
}

int mirror_continue(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("continue", vm, 0, false, done, userdata);
}
