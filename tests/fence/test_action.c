// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of fence_action: the stdin protocol, the child's environment and
 * descriptors, exit-code meanings, the timeout that kills the whole process
 * group, junk output, and everything refused before spawning.
 */
#include <criterion/criterion.h>
#include <fcntl.h>

#include "fence_action.h"
#include "fence_test.h"

static char *agents;
static char *tmp;

static void setup(void)
{
	agents = test_path("agents");
	tmp = test_mkdtemp();
}

static void teardown(void)
{
	test_rmdir(tmp);
	free(tmp);
	free(agents);
}

TestSuite(fence_action, .init = setup, .fini = teardown, .timeout = 60);

static struct fence_action_result *run(const char *agent, unsigned timeout_s, enum fence_verb verb,
				       char **opts, size_t n)
{
	struct fence_device dev = test_device("dev1", agent, agents, 1, timeout_s, opts, n);
	struct fence_action_result *res = NULL;

	cr_assert_eq(fence_action_run_sync(&dev, verb, &res), 0);
	cr_assert_not_null(res);
	cr_assert_not_null(res->message);
	return res;
}

Test(fence_action, options_on_stdin_env_scrubbed_fds_closed)
{
	char *record, *opt_record, *text, *fds, *marker;
	struct fence_action_result *res;
	int leak;

	/* A descriptor without O_CLOEXEC: it must not reach the agent. */
	cr_assert(asprintf(&marker, "%s/leak-marker", tmp) > 0);
	leak = open(marker, O_RDONLY | O_CREAT, 0600);
	cr_assert_geq(leak, 3);
	setenv("HASVC_SECRET_TEST", "leaked", 1);
	cr_assert(asprintf(&record, "%s/record", tmp) > 0);
	cr_assert(asprintf(&opt_record, "record=%s", record) > 0);
	char *opts[] = {"ip=192.0.2.1", "username=admin", "password=s3cret with spaces", opt_record,
			"lanplus=1"};

	res = run("fence_record", 10, FENCE_OFF, opts, 5);
	cr_assert_eq(res->error, 0, "%s", res->message);
	cr_assert(res->started);
	cr_assert_eq(res->exit_status, 0);
	cr_assert_str_eq(res->message, "fence agent fence_record (off) succeeded");
	cr_assert_str_eq(res->out, "Success: off\n");
	cr_assert_str_eq(res->device, "dev1");
	cr_assert_str_eq(res->agent, "fence_record");
	cr_assert_gt(res->started_usec, 0);

	text = test_read_file(record);
	cr_assert_not_null(text, "the agent did not run");
	char *want_head;
	cr_assert(asprintf(&want_head,
			   "argc=0\naction=off\nip=192.0.2.1\nusername=admin\n"
			   "password=s3cret with spaces\n%s\nlanplus=1\n--env\n",
			   opt_record) > 0);
	cr_assert_eq(strncmp(text, want_head, strlen(want_head)), 0, "recorded:\n%s", text);
	cr_assert(strstr(text, "\nLANG=C\n"), "%s", text);
	cr_assert(strstr(text, "\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n"), "%s", text);
	cr_assert_null(strstr(text, "HASVC_SECRET_TEST"), "environment not scrubbed:\n%s", text);
	/* exactly PATH, LANG and what sh adds itself (PWD) */
	char *env = strstr(text, "--env\n") + 6;
	for (char *line = env; *line && strncmp(line, "--fds", 5) != 0;
	     line = strchr(line, '\n') + 1)
		cr_assert(strncmp(line, "PATH=", 5) == 0 || strncmp(line, "LANG=", 5) == 0 ||
				  strncmp(line, "PWD=", 4) == 0,
			  "unexpected environment line: %.40s", line);
	fds = strstr(text, "--fds\n");
	cr_assert_not_null(fds);
	cr_assert_null(strstr(fds, "leak-marker"), "fd %d leaked into the agent:\n%s", leak, fds);
	cr_assert(strstr(fds, " 0 -> pipe:"), "stdin is not a pipe:\n%s", fds);
	cr_assert(strstr(fds, " 1 -> pipe:"), "stdout is not a pipe:\n%s", fds);
	cr_assert(strstr(fds, " 2 -> pipe:"), "stderr is not a pipe:\n%s", fds);

	close(leak);
	free(marker);
	free(want_head);
	free(text);
	free(record);
	free(opt_record);
	fence_action_result_free(res);
}

Test(fence_action, status_exit_codes)
{
	static const struct {
		const char *opt;
		int error;
		enum fence_power power;
		const char *message;
	} cases[] = {
		{"status_exit=0", 0, FENCE_POWER_ON,
		 "fence agent fence_record (status): power is on"},
		{"status_exit=2", 0, FENCE_POWER_OFF,
		 "fence agent fence_record (status): power is off"},
		{"status_exit=1", -EIO, FENCE_POWER_UNKNOWN,
		 "fence agent fence_record (status) cannot tell the power state"},
		{"status_exit=5", -EPROTO, FENCE_POWER_UNKNOWN,
		 "fence agent fence_record (status) exited with unexpected code 5"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *opts[] = {(char *)cases[i].opt};
		struct fence_action_result *res = run("fence_record", 10, FENCE_STATUS, opts, 1);

		cr_assert_eq(res->error, cases[i].error, "%s: %s", cases[i].opt, res->message);
		cr_assert_eq(res->power, cases[i].power, "%s", cases[i].opt);
		cr_assert_str_eq(res->message, cases[i].message);
		fence_action_result_free(res);
	}
}

Test(fence_action, failure_exit_1_is_eio_with_detail)
{
	char *opts[] = {"exit=1"};
	struct fence_action_result *res = run("fence_record", 10, FENCE_OFF, opts, 1);

	cr_assert_eq(res->error, -EIO);
	cr_assert_eq(res->exit_status, 1);
	cr_assert_str_eq(res->message, "fence agent fence_record (off) failed: Success: off");
	fence_action_result_free(res);
}

Test(fence_action, timeout_kills_the_whole_group)
{
	char *pidfile, *opt, *pids;
	int agent_pid = 0, grandchild = 0;
	double t0 = test_now(), dt;
	struct fence_action_result *res;

	cr_assert(asprintf(&pidfile, "%s/pids", tmp) > 0);
	cr_assert(asprintf(&opt, "pidfile=%s", pidfile) > 0);
	char *opts[] = {opt};

	res = run("fence_hang", 1, FENCE_OFF, opts, 1);
	dt = test_now() - t0;
	cr_assert_eq(res->error, -ETIMEDOUT, "%s", res->message);
	cr_assert(res->timed_out);
	cr_assert_eq(res->exit_status, -1);
	cr_assert_eq(res->term_signal, SIGKILL);
	cr_assert_str_eq(res->message,
			 "fence agent fence_hang (off) timed out after 1 s; process group killed");
	cr_assert_geq(dt, 0.9, "returned after %.2f s, before its timeout", dt);
	cr_assert_lt(dt, 4.0, "took %.2f s", dt);
	cr_assert_str_eq(res->out, "connecting...\n");

	pids = test_read_file(pidfile);
	cr_assert_not_null(pids, "the agent did not write its pids");
	cr_assert_eq(sscanf(pids, "%d %d", &agent_pid, &grandchild), 2, "%s", pids);
	cr_assert(test_wait_pid_gone(agent_pid), "agent %d survived", agent_pid);
	cr_assert(test_wait_pid_gone(grandchild), "grandchild %d survived the timeout",
		  grandchild);
	free(pids);
	free(pidfile);
	free(opt);
	fence_action_result_free(res);
}

Test(fence_action, junk_output_and_unexpected_exit)
{
	struct fence_action_result *res = run("fence_junk", 10, FENCE_OFF, NULL, 0);

	cr_assert_eq(res->error, -EPROTO, "%s", res->message);
	cr_assert_eq(res->exit_status, 7);
	cr_assert_str_eq(res->message, "fence agent fence_junk (off) exited with unexpected code 7: "
					 "?[31mboom?bang");
	for (const char *p = res->message; *p; p++)
		cr_assert(*p >= 0x20 && *p < 0x7f, "unprintable byte in the message");
	cr_assert_gt(res->out_len, 0);
	fence_action_result_free(res);
}

Test(fence_action, output_is_bounded)
{
	char *opts[] = {"spew=1"};
	struct fence_action_result *res = run("fence_record", 10, FENCE_OFF, opts, 1);

	cr_assert_eq(res->error, 0, "%s", res->message);
	cr_assert_eq(res->out_len, FENCE_OUTPUT_MAX);
	cr_assert(res->truncated);
	cr_assert_eq(strlen(res->out), FENCE_OUTPUT_MAX);
	fence_action_result_free(res);
}

Test(fence_action, missing_agent_is_not_spawned)
{
	struct fence_action_result *res = run("fence_nope", 5, FENCE_OFF, NULL, 0);
	char *want;

	cr_assert_eq(res->error, -ENOENT);
	cr_assert_not(res->started);
	cr_assert_eq(res->exit_status, -1);
	cr_assert(asprintf(&want, "fence agent 'fence_nope' not found in %s", agents) > 0);
	cr_assert_str_eq(res->message, want);
	free(want);
	fence_action_result_free(res);
}

Test(fence_action, bad_options_are_refused_before_spawning)
{
	char *record, *opt_record;

	cr_assert(asprintf(&record, "%s/record", tmp) > 0);
	cr_assert(asprintf(&opt_record, "record=%s", record) > 0);
	char *no_equals[] = {opt_record, "lanplus"};
	char *newline[] = {opt_record, "ip=1.2.3.4\naction=on"};
	char *action[] = {opt_record, "action=on"};
	char **sets[] = {no_equals, newline, action};

	for (size_t i = 0; i < 3; i++) {
		struct fence_action_result *res = run("fence_record", 5, FENCE_OFF, sets[i], 2);

		cr_assert_eq(res->error, -EINVAL, "%s", res->message);
		cr_assert_not(res->started);
		cr_assert(strstr(res->message, "fence device 'dev1': option"), "%s", res->message);
		cr_assert_eq(access(record, F_OK), -1, "the agent ran despite a bad option");
		fence_action_result_free(res);
	}
	free(record);
	free(opt_record);
}

/* --- the async API on a loop ---------------------------------------------------- */

struct async_ctx {
	qb_loop_t *loop;
	int calls;
	int error;
};

static void async_done(struct fence_action *a, const struct fence_action_result *r, void *ud)
{
	struct async_ctx *ctx = ud;

	ctx->calls++;
	ctx->error = r->error;
	fence_action_free(a); /* freeing inside the callback is allowed */
	qb_loop_stop(ctx->loop);
}

Test(fence_action, async_callback_comes_from_the_loop)
{
	struct fence_device dev = test_device("d", "fence_nope", agents, 1, 5, NULL, 0);
	struct async_ctx ctx = {.loop = qb_loop_create()};
	struct fence_action *a = NULL;

	cr_assert_not_null(ctx.loop);
	cr_assert_eq(fence_action_start(ctx.loop, &dev, FENCE_OFF, async_done, &ctx, &a), 0);
	cr_assert_eq(ctx.calls, 0, "callback ran inside fence_action_start()");
	qb_loop_run(ctx.loop);
	cr_assert_eq(ctx.calls, 1);
	cr_assert_eq(ctx.error, -ENOENT);

	dev.agent = "fence_record";
	cr_assert_eq(fence_action_start(ctx.loop, &dev, FENCE_MONITOR, async_done, &ctx, &a), 0);
	cr_assert_gt(fence_action_pid(a), 0);
	qb_loop_run(ctx.loop);
	cr_assert_eq(ctx.calls, 2);
	cr_assert_eq(ctx.error, 0);
	qb_loop_destroy(ctx.loop);
}

static void never_called(struct fence_action *a, const struct fence_action_result *r, void *ud)
{
	cr_assert_fail("callback of a freed action ran");
}

static void stop_loop(void *data)
{
	qb_loop_stop(data);
}

Test(fence_action, free_while_running_kills_the_group)
{
	char *pidfile, *opt, *pids = NULL;
	struct fence_device dev;
	qb_loop_t *loop = qb_loop_create();
	qb_loop_timer_handle th;
	struct fence_action *a = NULL;
	int agent_pid = 0, grandchild = 0;

	cr_assert(asprintf(&pidfile, "%s/pids", tmp) > 0);
	cr_assert(asprintf(&opt, "pidfile=%s", pidfile) > 0);
	char *opts[] = {opt};
	dev = test_device("d", "fence_hang", agents, 1, 30, opts, 1);

	cr_assert_eq(fence_action_start(loop, &dev, FENCE_OFF, never_called, NULL, &a), 0);
	for (int i = 0; i < 50 && !pids; i++) {
		qb_loop_timer_add(loop, QB_LOOP_LOW, 100 * 1000000ULL, loop, stop_loop, &th);
		qb_loop_run(loop);
		pids = test_read_file(pidfile);
	}
	cr_assert_not_null(pids, "the agent did not start");
	cr_assert_eq(sscanf(pids, "%d %d", &agent_pid, &grandchild), 2);
	cr_assert_eq(fence_action_pid(a), agent_pid);

	fence_action_free(a);
	/* let the background reaper run */
	qb_loop_timer_add(loop, QB_LOOP_LOW, 300 * 1000000ULL, loop, stop_loop, &th);
	qb_loop_run(loop);
	cr_assert(test_wait_pid_gone(agent_pid));
	cr_assert(test_wait_pid_gone(grandchild));
	qb_loop_destroy(loop);
	free(pids);
	free(pidfile);
	free(opt);
}
