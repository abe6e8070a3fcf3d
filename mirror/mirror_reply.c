// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_reply: an operation's answer, kept as a record in its request
 * (struct mirror_inspection, mirror_jobs_state, the port bound, a job event,
 * the kind of copy a start runs)
 * and handed over on the caller's thread either as that record (the *_typed
 * operations, struct mirror_reply) or encoded once, here, as the JSON DATA of
 * a mirror_done_fn (its shape is in mirror.h).
 *
 * The operations fill the record on the mirror thread and never build JSON:
 * the two forms cannot drift apart, and the mirror thread reads its own
 * answers (a drain polling the jobs) without parsing anything back.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "mirror.h"
#include "mirror_internal.h"

const char *mirror_job_status_name(enum mirror_job_status status)
{
	switch (status) {
	case MIRROR_JOB_COMPLETED: return "completed";
	case MIRROR_JOB_FAILED: return "failed";
	case MIRROR_JOB_CANCELED: return "canceled";
	case MIRROR_JOB_READY: return "ready";
	default: return "unknown";
	}
}

const char *mirror_copy_kind_name(enum mirror_copy_kind kind)
{
	return kind == MIRROR_COPY_DELTA ? "delta" : "full";
}

void mirror__answer_copy(struct request *r, enum mirror_copy_kind kind, const char *fmt, ...)
{
	va_list ap;

	mirror__answer_clear(r);
	va_start(ap, fmt);
	vsnprintf(r->copy_reason, sizeof(r->copy_reason), fmt, ap);
	va_end(ap);
	r->copy = (struct mirror_copy){.kind = kind, .reason = r->copy_reason};
	r->answer = MIRROR__ANSWER_COPY;
}

enum mirror_job_status mirror__job_status(int libvirt_status)
{
	switch (libvirt_status) {
	case VIR_DOMAIN_BLOCK_JOB_COMPLETED: return MIRROR_JOB_COMPLETED;
	case VIR_DOMAIN_BLOCK_JOB_FAILED: return MIRROR_JOB_FAILED;
	case VIR_DOMAIN_BLOCK_JOB_CANCELED: return MIRROR_JOB_CANCELED;
	case VIR_DOMAIN_BLOCK_JOB_READY: return MIRROR_JOB_READY;
	default: return MIRROR_JOB_UNKNOWN;
	}
}

void mirror__answer_clear(struct request *r)
{
	for (size_t i = 0; i < r->inspection.n_disks; i++)
		free(r->inspection.disks[i].target);
	free(r->inspection.disks);
	free(r->inspection.uuid);
	free(r->inspection.xml);
	for (size_t i = 0; i < r->jobs.n_disks; i++) {
		free(r->jobs.disks[i].target);
		free(r->jobs.disks[i].why);
	}
	free(r->jobs.disks);
	free(r->event.vm);
	free(r->event.disk);
	r->inspection = (struct mirror_inspection){0};
	r->jobs = (struct mirror_jobs_state){0};
	r->event = (struct mirror_job_event){0};
	r->copy = (struct mirror_copy){0};
	r->copy_reason[0] = '\0';
	r->port_bound = 0;
	r->disk_check = (struct mirror_disk_check){0};
	r->disk_reason[0] = '\0';
	r->standin = (struct mirror_standin){0};
	r->migration = (struct mirror_migration){0};
	free(r->verification.ranges);
	r->verification = (struct mirror_verification){0};
	r->answer = MIRROR__ANSWER_NONE;
}

static json_object *inspection_json(const struct mirror_inspection *in)
{
	json_object *o = json_object_new_object(), *disks = json_object_new_array();

	json_object_object_add(o, "uuid", json_object_new_string(in->uuid ?: ""));
	json_object_object_add(o, "xml", json_object_new_string(in->xml ?: ""));
	json_object_object_add(o, "disks", disks);
	for (size_t i = 0; i < in->n_disks; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "target", json_object_new_string(in->disks[i].target));
		json_object_object_add(d, "bytes", json_object_new_int64((int64_t)in->disks[i].bytes));
		json_object_array_add(disks, d);
	}
	return o;
}

static json_object *jobs_json(const struct mirror_jobs_state *jobs)
{
	json_object *o = json_object_new_object(), *disks = json_object_new_array();

	json_object_object_add(o, "active", json_object_new_boolean(jobs->active));
	json_object_object_add(o, "paused", json_object_new_boolean(jobs->paused));
	json_object_object_add(o, "disks", disks);
	for (size_t i = 0; i < jobs->n_disks; i++) {
		const struct mirror_disk_job *j = &jobs->disks[i];
		json_object *d = json_object_new_object();

		json_object_object_add(d, "target", json_object_new_string(j->target));
		json_object_object_add(d, "job", json_object_new_boolean(j->job));
		json_object_object_add(d, "ready", json_object_new_boolean(j->ready));
		json_object_object_add(d, "cur", json_object_new_int64((int64_t)j->cur));
		json_object_object_add(d, "end", json_object_new_int64((int64_t)j->end));
		if (j->paused) /* qmp engine only: the JSON of the default engine stays as it was */
			json_object_object_add(d, "paused", json_object_new_boolean(true));
		if (j->why)
			json_object_object_add(d, "why", json_object_new_string(j->why));
		if (j->speed) /* throttled only: an unlimited job's JSON stays as it was */
			json_object_object_add(d, "speed",
					       json_object_new_int64((int64_t)j->speed));
		json_object_array_add(disks, d);
	}
	return o;
}

static json_object *event_json(const struct mirror_job_event *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "vm", json_object_new_string(e->vm));
	json_object_object_add(o, "disk", json_object_new_string(e->disk));
	json_object_object_add(o, "status",
			       json_object_new_string(mirror_job_status_name(e->status)));
	return o;
}

static json_object *copy_json(const struct mirror_copy *copy)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(mirror_copy_kind_name(copy->kind)));
	if (copy->reason && *copy->reason)
		json_object_object_add(o, "reason", json_object_new_string(copy->reason));
	return o;
}

static json_object *port_json(unsigned port)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "port", json_object_new_int((int)port));
	return o;
}

static json_object *standin_json(const struct mirror_standin *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pid", json_object_new_int((int)s->pid));
	json_object_object_add(o, "port", json_object_new_int((int)s->port));
	if (s->gap_ms >= 0)
		json_object_object_add(o, "gap_ms", json_object_new_int64(s->gap_ms));
	return o;
}

static json_object *migration_json(const struct mirror_migration *mg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "elapsed_ms", json_object_new_int64((int64_t)mg->elapsed_ms));
	if (mg->downtime_ms >= 0)
		json_object_object_add(o, "downtime_ms", json_object_new_int64(mg->downtime_ms));
	return o;
}

void mirror__answer_deliver(struct request *r)
{
	json_object *data = NULL;

	if (r->reply) {
		struct mirror_reply reply = {.result = r->result, .message = r->message};

		switch (r->answer) {
		case MIRROR__ANSWER_INSPECTION: reply.inspection = &r->inspection; break;
		case MIRROR__ANSWER_JOBS: reply.jobs = &r->jobs; break;
		case MIRROR__ANSWER_PORT:
			reply.port = r->port_bound;
			reply.disk_check = r->id_next ? &r->disk_check : NULL;
			break;
		case MIRROR__ANSWER_EVENT: reply.event = &r->event; break;
		case MIRROR__ANSWER_COPY: reply.copy = &r->copy; break;
		case MIRROR__ANSWER_STANDIN: reply.standin = &r->standin; break;
		case MIRROR__ANSWER_MIGRATION: reply.migration = &r->migration; break;
		case MIRROR__ANSWER_VERIFY: reply.verification = &r->verification; break;
		case MIRROR__ANSWER_NONE: break;
		}
		r->reply(r->userdata, &reply);
		return;
	}
	if (!r->done)
		return;
	switch (r->answer) {
	case MIRROR__ANSWER_INSPECTION: data = inspection_json(&r->inspection); break;
	case MIRROR__ANSWER_JOBS: data = jobs_json(&r->jobs); break;
	case MIRROR__ANSWER_PORT: data = port_json(r->port_bound); break;
	case MIRROR__ANSWER_EVENT: data = event_json(&r->event); break;
	case MIRROR__ANSWER_COPY: data = copy_json(&r->copy); break;
	case MIRROR__ANSWER_STANDIN: data = standin_json(&r->standin); break;
	case MIRROR__ANSWER_MIGRATION: data = migration_json(&r->migration); break;
	case MIRROR__ANSWER_VERIFY: /* typed only (mirror_verify_typed) */
	case MIRROR__ANSWER_NONE: break;
	}
	r->done(r->userdata, r->result, r->message, data);
	json_object_put(data);
}
