// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of mirror_reply: an operation's answer reaches a mirror_done_fn as
 * the JSON DATA mirror.h documents (the shape hasvc and hasvc-mirror read)
 * and a mirror_reply_fn as the same content in records.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mirror_internal.h"

static char *seen_json;
static const struct mirror_reply *seen_reply;
static int seen_result;

static void json_done(void *userdata, int result, const char *message, json_object *data)
{
	seen_result = result;
	free(seen_json);
	seen_json = data ? strdup(json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN))
			 : NULL;
}

/* Checked inside the call: the records live only as long as it. */
static void typed_done(void *userdata, const struct mirror_reply *reply)
{
	void (*check)(const struct mirror_reply *) = userdata;

	seen_reply = reply;
	check(reply);
}

static struct request *jobs_request(void)
{
	struct request *r = mirror__request_new(NULL, json_done, NULL, NULL);

	cr_assert_not_null(r);
	r->result = 0;
	r->answer = MIRROR__ANSWER_JOBS;
	r->jobs.active = true;
	r->jobs.n_disks = 2;
	r->jobs.disks = calloc(2, sizeof(*r->jobs.disks));
	r->jobs.disks[0] = (struct mirror_disk_job){strdup("vda"), true, true, 5, 5, false, 0, NULL};
	r->jobs.disks[1] = (struct mirror_disk_job){strdup("vdb"), true, false, 1, 1ULL << 33, false, 0, NULL};
	return r;
}

Test(mirror_reply, jobs_as_json_keep_their_shape)
{
	struct request *r = jobs_request();

	mirror__answer_deliver(r);
	mirror__request_free(r);
	cr_assert_eq(seen_result, 0);
	cr_assert_str_eq(seen_json,
			 "{\"active\":true,\"paused\":false,\"disks\":["
			 "{\"target\":\"vda\",\"job\":true,\"ready\":true,\"cur\":5,\"end\":5},"
			 "{\"target\":\"vdb\",\"job\":true,\"ready\":false,\"cur\":1,\"end\":8589934592}]}");
}

static void check_jobs(const struct mirror_reply *reply)
{
	cr_assert_eq(reply->result, 0);
	cr_assert_not_null(reply->jobs);
	cr_assert_null(reply->inspection);
	cr_assert_null(reply->event);
	cr_assert(reply->jobs->active && !reply->jobs->paused);
	cr_assert_eq(reply->jobs->n_disks, 2);
	cr_assert_str_eq(reply->jobs->disks[1].target, "vdb");
	cr_assert(!reply->jobs->disks[1].ready);
	cr_assert_eq(reply->jobs->disks[1].end, 1ULL << 33);
}

Test(mirror_reply, jobs_as_records)
{
	struct request *r = jobs_request();

	r->done = NULL;
	r->reply = typed_done;
	r->userdata = check_jobs;
	seen_reply = NULL;
	mirror__answer_deliver(r);
	mirror__request_free(r);
	cr_assert_not_null(seen_reply, "the typed callback ran");
}

Test(mirror_reply, inspection_port_and_event_as_json)
{
	struct request *r = mirror__request_new(NULL, json_done, NULL, NULL);

	r->answer = MIRROR__ANSWER_INSPECTION;
	r->inspection.uuid = strdup("44b9ec38-0bd7-464d-bd05-e6fa4d75f9e2");
	r->inspection.xml = strdup("<domain/>");
	r->inspection.n_disks = 1;
	r->inspection.disks = calloc(1, sizeof(*r->inspection.disks));
	r->inspection.disks[0] = (struct mirror_disk_size){strdup("vda"), 1ULL << 30};
	mirror__answer_deliver(r);
	cr_assert_str_eq(seen_json, "{\"uuid\":\"44b9ec38-0bd7-464d-bd05-e6fa4d75f9e2\","
				    "\"xml\":\"<domain\\/>\",\"disks\":[{\"target\":\"vda\","
				    "\"bytes\":1073741824}]}");

	mirror__answer_clear(r);
	r->answer = MIRROR__ANSWER_PORT;
	r->port_bound = 10811;
	mirror__answer_deliver(r);
	cr_assert_str_eq(seen_json, "{\"port\":10811}");

	mirror__answer_clear(r);
	r->answer = MIRROR__ANSWER_EVENT;
	r->result = -EIO;
	r->event = (struct mirror_job_event){strdup("vm1"), strdup("vda"), MIRROR_JOB_FAILED};
	mirror__answer_deliver(r);
	cr_assert_eq(seen_result, -EIO);
	cr_assert_str_eq(seen_json, "{\"vm\":\"vm1\",\"disk\":\"vda\",\"status\":\"failed\"}");

	/* An operation without an answer (or one that failed before it): no DATA. */
	mirror__answer_clear(r);
	mirror__answer_deliver(r);
	cr_assert_null(seen_json);
	mirror__request_free(r);
}

/* The live switchover's answers: a stand-in's gap only when it replaced a backup. */
Test(mirror_reply, standin_and_migration_as_json)
{
	struct request *r = mirror__request_new(NULL, json_done, NULL, NULL);

	r->answer = MIRROR__ANSWER_STANDIN;
	r->standin = (struct mirror_standin){.pid = 42, .port = 10809, .gap_ms = 160};
	mirror__answer_deliver(r);
	cr_assert_str_eq(seen_json, "{\"pid\":42,\"port\":10809,\"gap_ms\":160}");
	r->standin.gap_ms = -1;
	mirror__answer_deliver(r);
	cr_assert_str_eq(seen_json, "{\"pid\":42,\"port\":10809}");
	mirror__answer_clear(r);
	cr_assert_eq(r->standin.pid, 0);
	r->answer = MIRROR__ANSWER_MIGRATION;
	r->migration = (struct mirror_migration){.elapsed_ms = 1600, .downtime_ms = 15};
	mirror__answer_deliver(r);
	cr_assert_str_eq(seen_json, "{\"elapsed_ms\":1600,\"downtime_ms\":15}");
	r->migration.downtime_ms = -1; /* libvirt did not tell */
	mirror__answer_deliver(r);
	cr_assert_str_eq(seen_json, "{\"elapsed_ms\":1600}");
	mirror__request_free(r);
}

static void check_migration(const struct mirror_reply *reply)
{
	cr_assert_not_null(reply->migration);
	cr_assert_eq(reply->migration->downtime_ms, 15);
	cr_assert_null(reply->standin);
	cr_assert_null(reply->jobs);
}

Test(mirror_reply, migration_as_record)
{
	struct request *r = mirror__request_new(NULL, NULL, typed_done, (void *)check_migration);

	r->answer = MIRROR__ANSWER_MIGRATION;
	r->migration = (struct mirror_migration){.elapsed_ms = 1600, .downtime_ms = 15};
	mirror__answer_deliver(r);
	cr_assert_not_null(seen_reply);
	mirror__request_free(r);
}
