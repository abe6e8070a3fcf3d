// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of fence_op: off then status verifies, levels fall through, every
 * device of a level is needed, failed rounds are retried with back-off, and
 * every agent run is an attempt record for the fence log.
 */
#include <criterion/criterion.h>

#include "fence_check.h"
#include "fence_op.h"
#include "fence_test.h"

static char *agents;

static void setup(void)
{
	agents = test_path("agents");
}

static void teardown(void)
{
	free(agents);
}

TestSuite(fence_op, .init = setup, .fini = teardown, .timeout = 60);

static const struct fence_op_options no_retries = {.retries = 0, .backoff_base_ms = 10,
						   .backoff_max_ms = 10};

static struct fence_op_result *fence(struct fence_device *devs, size_t n,
				     const struct fence_op_options *opts)
{
	struct fence_op_result *res = NULL;

	cr_assert_eq(fence_op_run_sync("node1", devs, n, opts, &res), 0);
	cr_assert_not_null(res);
	cr_assert_not_null(res->message);
	return res;
}

static void assert_attempt(const struct fence_attempt *at, unsigned round, unsigned level,
			   const char *device, enum fence_verb verb, int error)
{
	cr_assert_eq(at->round, round, "round of %s", at->message);
	cr_assert_eq(at->level, level, "level of %s", at->message);
	cr_assert_str_eq(at->device, device);
	cr_assert_eq(at->verb, verb, "verb of %s", at->message);
	cr_assert_eq(at->error, error, "%s", at->message);
	cr_assert_not_null(at->message);
	cr_assert_not_null(at->agent);
}

Test(fence_op, off_then_status_verifies)
{
	struct fence_device devs[] = {test_device("ipmi", "fence_record", agents, 1, 5, NULL, 0)};
	struct fence_op_result *res = fence(devs, 1, &no_retries);

	cr_assert(res->verified, "%s", res->message);
	cr_assert_eq(res->error, 0);
	cr_assert_eq(res->level, 1);
	cr_assert_str_eq(res->device, "ipmi");
	cr_assert_str_eq(res->target, "node1");
	cr_assert_str_eq(res->message, "node1 fenced (verified): device 'ipmi' (fence_record) at "
				       "level 1 powered it off and status reports off");
	cr_assert_eq(res->n_attempts, 2);
	assert_attempt(&res->attempts[0], 1, 1, "ipmi", FENCE_OFF, 0);
	assert_attempt(&res->attempts[1], 1, 1, "ipmi", FENCE_STATUS, 0);
	cr_assert_eq(res->attempts[1].power, FENCE_POWER_OFF);
	cr_assert_eq(res->attempts[0].exit_status, 0);
	cr_assert_eq(res->attempts[1].exit_status, 2);
	cr_assert_str_eq(res->attempts[0].agent, "fence_record");
	fence_op_result_free(res);
}

Test(fence_op, levels_fall_through_to_level_2)
{
	/* given out of order on purpose: levels decide, not positions */
	struct fence_device devs[] = {
		test_device("pdu", "fence_record", agents, 2, 5, NULL, 0),
		test_device("ipmi", "fence_junk", agents, 1, 5, NULL, 0),
	};
	struct fence_op_result *res = fence(devs, 2, &no_retries);

	cr_assert(res->verified, "%s", res->message);
	cr_assert_eq(res->level, 2);
	cr_assert_str_eq(res->device, "pdu");
	cr_assert_eq(res->n_attempts, 3);
	assert_attempt(&res->attempts[0], 1, 1, "ipmi", FENCE_OFF, -EPROTO);
	cr_assert_eq(res->attempts[0].exit_status, 7);
	assert_attempt(&res->attempts[1], 1, 2, "pdu", FENCE_OFF, 0);
	assert_attempt(&res->attempts[2], 1, 2, "pdu", FENCE_STATUS, 0);
	fence_op_result_free(res);
}

Test(fence_op, missing_agent_falls_through)
{
	struct fence_device devs[] = {
		test_device("gone", "fence_nope", agents, 1, 5, NULL, 0),
		test_device("pdu", "fence_record", agents, 2, 5, NULL, 0),
	};
	struct fence_op_result *res = fence(devs, 2, &no_retries);

	cr_assert(res->verified, "%s", res->message);
	cr_assert_eq(res->level, 2);
	assert_attempt(&res->attempts[0], 1, 1, "gone", FENCE_OFF, -ENOENT);
	cr_assert(strstr(res->attempts[0].message, "not found in"), "%s", res->attempts[0].message);
	fence_op_result_free(res);
}

Test(fence_op, status_still_on_is_not_fenced)
{
	struct fence_device devs[] = {test_device("ipmi", "fence_stillon", agents, 1, 5, NULL, 0)};
	struct fence_op_result *res = fence(devs, 1, &no_retries);

	cr_assert_not(res->verified);
	cr_assert_lt(res->error, 0);
	cr_assert_eq(res->level, 0);
	cr_assert_null(res->device);
	cr_assert_eq(res->rounds, 1);
	cr_assert_str_eq(res->message, "node1 not fenced: every level failed in 1 round; last: "
				       "device 'ipmi': status still reports power on after off");
	cr_assert_eq(res->n_attempts, 2);
	assert_attempt(&res->attempts[0], 1, 1, "ipmi", FENCE_OFF, 0);
	assert_attempt(&res->attempts[1], 1, 1, "ipmi", FENCE_STATUS, 0);
	cr_assert_eq(res->attempts[1].power, FENCE_POWER_ON);
	fence_op_result_free(res);
}

/*
 * A fake "fence_ipmilan" in a scratch directory: it appends each action to
 * DIR/actions; "off" exits OFF_EXIT, "status" says on (so that a status run
 * would show). The real agent exits 1 from "off" when the power does not read
 * off (EC_WAITING_OFF).
 */
static char *fake_ipmilan(int off_exit)
{
	char *dir = test_mkdtemp(), *path;
	FILE *f;

	cr_assert(asprintf(&path, "%s/fence_ipmilan", dir) > 0);
	f = fopen(path, "w");
	cr_assert(f);
	fprintf(f, "#!/bin/sh\naction=\nwhile IFS= read -r l; do case $l in action=*) "
		   "action=${l#action=} ;; esac; done\necho \"$action\" >>%s/actions\n"
		   "[ \"$action\" = status ] && { echo 'Status: ON'; exit 0; }\nexit %d\n",
		dir, off_exit);
	fclose(f);
	cr_assert_eq(chmod(path, 0755), 0);
	free(path);
	return dir;
}

Test(fence_op, fence_ipmilan_off_is_its_own_verification)
{
	char *dir = fake_ipmilan(0), *path, *actions;
	struct fence_device devs[] = {test_device("ipmi", "fence_ipmilan", dir, 1, 5, NULL, 0)};
	struct fence_op_result *res = fence(devs, 1, &no_retries);

	cr_assert(res->verified, "%s", res->message);
	cr_assert_str_eq(res->message, "node1 fenced (verified): device 'ipmi' (fence_ipmilan) at "
				       "level 1 powered it off and the agent read the power back "
				       "as off");
	cr_assert_eq(res->n_attempts, 1);
	assert_attempt(&res->attempts[0], 1, 1, "ipmi", FENCE_OFF, 0);
	cr_assert(asprintf(&path, "%s/actions", dir) > 0);
	actions = test_read_file(path);
	cr_assert_str_eq(actions, "off\n", "no status run after a verifying off");
	free(actions);
	free(path);
	fence_op_result_free(res);
	test_rmdir(dir);
	free(dir);
}

Test(fence_op, fence_ipmilan_off_that_cannot_verify_is_not_fenced)
{
	char *dir = fake_ipmilan(1);
	struct fence_device devs[] = {test_device("ipmi", "fence_ipmilan", dir, 1, 5, NULL, 0)};
	struct fence_op_result *res = fence(devs, 1, &no_retries);

	cr_assert_not(res->verified, "%s", res->message);
	cr_assert_lt(res->error, 0);
	cr_assert_null(res->device);
	cr_assert_eq(res->n_attempts, 1);
	cr_assert_eq(res->attempts[0].verb, FENCE_OFF);
	cr_assert_neq(res->attempts[0].error, 0);
	fence_op_result_free(res);
	test_rmdir(dir);
	free(dir);
}

Test(fence_op, every_device_of_a_level_is_needed)
{
	struct fence_device devs[] = {
		test_device("psu-a", "fence_record", agents, 1, 5, NULL, 0),
		test_device("psu-b", "fence_stillon", agents, 1, 5, NULL, 0),
		test_device("ipmi", "fence_record", agents, 2, 5, NULL, 0),
	};
	struct fence_op_result *res = fence(devs, 3, &no_retries);

	cr_assert(res->verified, "%s", res->message);
	cr_assert_eq(res->level, 2);
	cr_assert_eq(res->n_attempts, 6);
	assert_attempt(&res->attempts[0], 1, 1, "psu-a", FENCE_OFF, 0);
	assert_attempt(&res->attempts[1], 1, 1, "psu-a", FENCE_STATUS, 0);
	assert_attempt(&res->attempts[2], 1, 1, "psu-b", FENCE_OFF, 0);
	assert_attempt(&res->attempts[3], 1, 1, "psu-b", FENCE_STATUS, 0);
	assert_attempt(&res->attempts[4], 1, 2, "ipmi", FENCE_OFF, 0);
	assert_attempt(&res->attempts[5], 1, 2, "ipmi", FENCE_STATUS, 0);
	fence_op_result_free(res);
}

Test(fence_op, retries_with_backoff)
{
	struct fence_device devs[] = {
		test_device("ipmi", "fence_junk", agents, 1, 5, NULL, 0),
		test_device("pdu", "fence_stillon", agents, 2, 5, NULL, 0),
	};
	struct fence_op_options opts = {.retries = 2, .backoff_base_ms = 200,
					.backoff_max_ms = 10000};
	double t0 = test_now(), dt;
	struct fence_op_result *res = fence(devs, 2, &opts);

	dt = test_now() - t0;
	cr_assert_not(res->verified);
	cr_assert_eq(res->rounds, 3);
	/* each round: ipmi off (fails), pdu off, pdu status (on) */
	cr_assert_eq(res->n_attempts, 9);
	for (unsigned round = 1; round <= 3; round++) {
		const struct fence_attempt *at = &res->attempts[(round - 1) * 3];

		assert_attempt(&at[0], round, 1, "ipmi", FENCE_OFF, -EPROTO);
		assert_attempt(&at[1], round, 2, "pdu", FENCE_OFF, 0);
		assert_attempt(&at[2], round, 2, "pdu", FENCE_STATUS, 0);
	}
	/* waits of 200 ms then 400 ms */
	cr_assert_geq(dt, 0.6, "3 rounds in %.2f s: no back-off", dt);
	cr_assert_lt(dt, 5.0, "3 rounds in %.2f s", dt);
	cr_assert(strstr(res->message, "every level failed in 3 rounds"), "%s", res->message);
	fence_op_result_free(res);
}

Test(fence_op, backoff_is_capped)
{
	struct fence_device devs[] = {test_device("ipmi", "fence_junk", agents, 1, 5, NULL, 0)};
	struct fence_op_options opts = {.retries = 3, .backoff_base_ms = 100,
					.backoff_max_ms = 150};
	double t0 = test_now(), dt;
	struct fence_op_result *res = fence(devs, 1, &opts);

	dt = test_now() - t0;
	cr_assert_eq(res->rounds, 4);
	cr_assert_eq(res->n_attempts, 4);
	cr_assert_geq(dt, 0.39, "waits 100 + 150 + 150 ms, took %.2f s", dt);
	cr_assert_lt(dt, 3.0);
	fence_op_result_free(res);
}

Test(fence_op, no_devices)
{
	struct fence_op_result *res = fence(NULL, 0, NULL);

	cr_assert_not(res->verified);
	cr_assert_eq(res->error, -ENODEV);
	cr_assert_str_eq(res->message, "node1 not fenced: no fence device configured");
	fence_op_result_free(res);
}

static void op_never_called(struct fence_op *op, const struct fence_op_result *r, void *ud)
{
	cr_assert_fail("callback of a freed op ran");
}

static void stop_loop(void *data)
{
	qb_loop_stop(data);
}

Test(fence_op, free_while_running)
{
	struct fence_device devs[] = {test_device("hang", "fence_hang", agents, 1, 30, NULL, 0)};
	qb_loop_t *loop = qb_loop_create();
	qb_loop_timer_handle th;
	struct fence_op *op = NULL;

	cr_assert_eq(fence_op_start(loop, "node1", devs, 1, NULL, op_never_called, NULL, &op), 0);
	qb_loop_timer_add(loop, QB_LOOP_LOW, 300 * 1000000ULL, loop, stop_loop, &th);
	qb_loop_run(loop);
	fence_op_free(op);
	qb_loop_timer_add(loop, QB_LOOP_LOW, 100 * 1000000ULL, loop, stop_loop, &th);
	qb_loop_run(loop);
	qb_loop_destroy(loop);
}

Test(fence_op, check_reports)
{
	struct fence_device dev = test_device("ipmi", "fence_record", agents, 1, 5, NULL, 0);
	char *report = NULL;

	cr_assert_eq(fence_check_run_sync(&dev, &report), 0, "%s", report);
	cr_assert(strncmp(report, "device 'ipmi' (fence_record, level 1): ok, monitor answered in",
			  62) == 0,
		  "%s", report);
	free(report);

	dev.agent = "fence_nope";
	cr_assert_eq(fence_check_run_sync(&dev, &report), -ENOENT);
	cr_assert(strstr(report, "fence agent 'fence_nope' not found in"), "%s", report);
	free(report);

	dev.agent = "fence_junk";
	cr_assert_eq(fence_check_run_sync(&dev, &report), -EPROTO);
	cr_assert(strstr(report, "(monitor) exited with unexpected code 7"), "%s", report);
	free(report);
}
