// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The real thing: a simulated BMC (deploy/bmc/start-bmc, OpenIPMI's
 * ipmi_sim on 127.0.0.1 and a free port) fenced by the real fence_ipmilan
 * through fence_op. Off must run the BMC's power hook and status must then
 * say off. With the BMC stopped, off must fail within the device's timeout
 * and the operation must say "not fenced".
 *
 * The BMC is stopped and the scratch directory removed in .fini, which runs
 * even when an assertion fails; a watchdog process does the same when the
 * test process dies without running .fini (a crash).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fence_check.h"
#include "fence_op.h"
#include "fence_test.h"

#define BMC_USER "admin"
#define BMC_PASSWORD "hasvc-test"

static char *tmp;
static char *state_dir;
static char *bmc_dir;
static char *stop_path;

/* Runs ARGV (no shell), waits; returns the exit code or -1. */
static int run_cmd(char *const argv[])
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int free_udp_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void stop_bmc(void)
{
	char *stop;
	char *pidfile;

	if (!state_dir)
		return;
	cr_assert(asprintf(&pidfile, "%s/bmc.pid", state_dir) > 0);
	if (access(pidfile, F_OK) == 0) {
		cr_assert(asprintf(&stop, "%s/stop-bmc", bmc_dir) > 0);
		char *argv[] = {stop, "--state-dir", state_dir, NULL};
		if (run_cmd(argv) != 0)
			fprintf(stderr, "stop-bmc --state-dir %s failed\n", state_dir);
		free(stop);
	}
	free(pidfile);
}

/*
 * Forks a process that waits for this one to die (EOF on a pipe only we hold
 * the write end of), then stops the BMC and removes the scratch directory.
 */
static void start_watchdog(void)
{
	int fds[2];
	pid_t pid;

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		char c;

		/* keep nothing of the test's: only the pipe, as fd 3 */
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		dup2(fds[0], 3);
		syscall(SYS_close_range, 4U, ~0U, 0U);
		setsid();
		while (read(3, &c, 1) < 0 && errno == EINTR)
			; /* nobody writes: this returns at EOF, when the test process is gone */
		execl("/bin/sh", "sh", "-c",
		      "[ -d \"$1\" ] && \"$0\" --state-dir \"$1\"; rm -rf \"$2\"",
		      stop_path, state_dir, tmp, (char *)NULL);
		_exit(0);
	}
	close(fds[0]); /* fds[1] stays open until this process ends */
}

static void setup(void)
{
	char *stop;

	tmp = test_mkdtemp();
	cr_assert(asprintf(&state_dir, "%s/bmc", tmp) > 0);
	bmc_dir = test_path("../../deploy/bmc");
	cr_assert(asprintf(&stop, "%s/stop-bmc", bmc_dir) > 0);
	stop_path = stop;
	start_watchdog();
}

static void teardown(void)
{
	stop_bmc();
	test_rmdir(tmp);
	free(tmp);
	free(state_dir);
	free(bmc_dir);
	free(stop_path);
	tmp = state_dir = bmc_dir = stop_path = NULL;
}

/* Starts the BMC with a power hook running HOOK_BODY (sh); returns its port. */
static int start_test_bmc(const char *hook_body)
{
	char *start, *hook, *port_s;
	int port = free_udp_port();
	FILE *f;

	cr_assert(asprintf(&hook, "%s/power-hook", tmp) > 0);
	f = fopen(hook, "w");
	cr_assert(f);
	fprintf(f, "#!/bin/sh\n%s", hook_body);
	fclose(f);
	chmod(hook, 0755);
	cr_assert(asprintf(&port_s, "%d", port) > 0);
	cr_assert(asprintf(&start, "%s/start-bmc", bmc_dir) > 0);
	char *argv[] = {start, "--addr", "127.0.0.1", "--port", port_s, "--state-dir", state_dir,
			"--name", "testhost", "--user", BMC_USER, "--password", BMC_PASSWORD,
			"--power-hook", hook, "--initial", "on", NULL};
	cr_assert_eq(run_cmd(argv), 0, "start-bmc failed");
	free(start);
	free(hook);
	free(port_s);
	return port;
}

TestSuite(fence_bmc, .init = setup, .fini = teardown, .timeout = 120);

Test(fence_bmc, fence_ipmilan_against_ipmi_sim)
{
	char *hook, *hook_log, *opt_port, *power, *log;
	char *report = NULL;
	struct fence_op_result *res = NULL;
	struct fence_action_result *ares = NULL;
	int port;

	if (access("/usr/sbin/fence_ipmilan", X_OK) != 0 ||
	    access("/usr/bin/ipmi_sim", X_OK) != 0 || access("/usr/bin/ipmitool", X_OK) != 0)
		cr_skip_test("fence_ipmilan, ipmi_sim or ipmitool is not installed");

	/* The power hook: appends its last argument to a file. */
	cr_assert(asprintf(&hook_log, "%s/hook.out", tmp) > 0);
	cr_assert(asprintf(&hook, "for last; do :; done\necho \"$last\" >>%s\n", hook_log) > 0);
	port = start_test_bmc(hook);
	cr_assert(asprintf(&opt_port, "ipport=%d", port) > 0);
	char *opts[] = {"ip=127.0.0.1", opt_port, "username=" BMC_USER, "password=" BMC_PASSWORD,
			"lanplus=1", "cipher=3"};
	struct fence_device dev =
		test_device("testhost-ipmi", "fence_ipmilan", NULL, 1, 20, opts, 6);

	/* fence check: monitor answers */
	cr_assert_eq(fence_check_run_sync(&dev, &report), 0, "%s", report);
	free(report);

	/* status says on before we start */
	cr_assert_eq(fence_action_run_sync(&dev, FENCE_STATUS, &ares), 0);
	cr_assert_eq(ares->error, 0, "%s\n%s", ares->message, ares->err);
	cr_assert_eq(ares->power, FENCE_POWER_ON, "%s", ares->message);
	fence_action_result_free(ares);

	/* fence: off, which fence_ipmilan verifies itself (no status run) */
	cr_assert_eq(fence_op_run_sync("testhost", &dev, 1, NULL, &res), 0);
	cr_assert(res->verified, "%s", res->message);
	cr_assert_eq(res->level, 1);
	cr_assert_eq(res->n_attempts, 1);
	cr_assert_eq(res->attempts[0].verb, FENCE_OFF);
	fence_op_result_free(res);

	/* and the BMC does say off: what the fence took for verified is true */
	cr_assert_eq(fence_action_run_sync(&dev, FENCE_STATUS, &ares), 0);
	cr_assert_eq(ares->error, 0, "%s\n%s", ares->message, ares->err);
	cr_assert_eq(ares->power, FENCE_POWER_OFF, "%s", ares->message);
	fence_action_result_free(ares);

	log = test_read_file(hook_log);
	cr_assert_not_null(log, "the power hook never ran");
	cr_assert_str_eq(log, "off\n");
	free(log);
	cr_assert(asprintf(&power, "%s/power", state_dir) > 0);
	log = test_read_file(power);
	cr_assert_str_eq(log, "off\n");
	free(log);
	free(power);

	/* BMC gone: off fails within its timeout, nothing is fenced */
	stop_bmc();
	dev.timeout_s = 5;
	double t0 = test_now();
	cr_assert_eq(fence_action_run_sync(&dev, FENCE_OFF, &ares), 0);
	double dt = test_now() - t0;
	cr_assert_neq(ares->error, 0, "off succeeded with no BMC: %s", ares->message);
	cr_assert_lt(dt, 5.0 + 6.0, "off took %.1f s with a 5 s timeout", dt);
	fence_action_result_free(ares);

	struct fence_op_options once = {.retries = 0};
	cr_assert_eq(fence_op_run_sync("testhost", &dev, 1, &once, &res), 0);
	cr_assert_not(res->verified, "%s", res->message);
	cr_assert_lt(res->error, 0);
	cr_assert(strncmp(res->message, "testhost not fenced:", 20) == 0, "%s", res->message);
	cr_assert_eq(res->n_attempts, 1);
	cr_assert_eq(res->attempts[0].verb, FENCE_OFF);
	fence_op_result_free(res);

	free(hook);
	free(hook_log);
	free(opt_port);
}

/*
 * The evidence behind skipping "status" after fence_ipmilan's "off"
 * (fence_device_off_verifies): a BMC that acknowledges the off but leaves the
 * power on (its power hook fails, so the state stays "on") must make the real
 * agent's off fail, not exit 0, and the fence must not be verified.
 */
Test(fence_bmc, fence_ipmilan_off_that_leaves_power_on_fails)
{
	char *opt_port;
	struct fence_op_result *res = NULL;
	struct fence_action_result *ares = NULL;
	struct fence_op_options once = {.retries = 0};

	if (access("/usr/sbin/fence_ipmilan", X_OK) != 0 ||
	    access("/usr/bin/ipmi_sim", X_OK) != 0 || access("/usr/bin/ipmitool", X_OK) != 0)
		cr_skip_test("fence_ipmilan, ipmi_sim or ipmitool is not installed");

	int port = start_test_bmc("exit 1\n"); /* the host cannot be powered off */

	cr_assert(asprintf(&opt_port, "ipport=%d", port) > 0);
	/* power_timeout: how many status reads (1 s apart) the agent waits for "off" */
	char *opts[] = {"ip=127.0.0.1", opt_port, "username=" BMC_USER, "password=" BMC_PASSWORD,
			"lanplus=1", "cipher=3", "power_wait=0", "power_timeout=2"};
	struct fence_device dev =
		test_device("testhost-ipmi", "fence_ipmilan", NULL, 1, 20, opts, 8);

	cr_assert_eq(fence_op_run_sync("testhost", &dev, 1, &once, &res), 0);
	cr_assert_not(res->verified, "%s", res->message);
	cr_assert_eq(res->n_attempts, 1);
	cr_assert_eq(res->attempts[0].verb, FENCE_OFF);
	cr_assert_neq(res->attempts[0].error, 0, "%s", res->attempts[0].message);
	cr_assert_not(res->attempts[0].timed_out, "%s", res->attempts[0].message);
	fence_op_result_free(res);

	cr_assert_eq(fence_action_run_sync(&dev, FENCE_STATUS, &ares), 0);
	cr_assert_eq(ares->power, FENCE_POWER_ON, "%s", ares->message);
	fence_action_result_free(ares);
	free(opt_port);
}
