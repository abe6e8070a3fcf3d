// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of hs_sd_notify: a fake service manager (a unix datagram socket
 * bound where $NOTIFY_SOCKET says, on a path or in the abstract namespace)
 * receives exactly the message sent; without $NOTIFY_SOCKET nothing is sent
 * and nothing fails; a bad address or a manager that is gone is an error;
 * $WATCHDOG_USEC/$WATCHDOG_PID are read as sd_watchdog_enabled(3) reads them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hs_sd_notify.h"

static char dir[] = "/tmp/hasvc-test-notify-XXXXXX";
static char path[sizeof(dir) + 16];
static int manager = -1;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
	if (manager >= 0)
		close(manager);
	manager = -1;
	unlink(path);
	rmdir(dir);
	strcpy(dir, "/tmp/hasvc-test-notify-XXXXXX");
}

TestSuite(sd_notify, .init = setup, .fini = teardown);

/* The fake manager: bound to NAME ('@' for abstract), $NOTIFY_SOCKET set to it. */
static void manager_listen(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(name);

	manager = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(manager >= 0);
	memcpy(sa.sun_path, name, strlen(name));
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		len++;
	cr_assert_eq(bind(manager, (struct sockaddr *)&sa, len), 0, "bind: %s", strerror(errno));
	cr_assert_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
}

/* The next datagram the manager holds, as a string (none waiting: fails). */
static const char *manager_receive(void)
{
	static char buf[512];
	ssize_t n = recv(manager, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	cr_assert(n >= 0, "no datagram: %s", strerror(errno));
	buf[n] = '\0';
	return buf;
}

Test(sd_notify, path_socket_receives_the_message)
{
	manager_listen(path);
	cr_assert_eq(hs_sd_notify("READY=1\nSTATUS=joined, 2 pairs"), 1);
	cr_assert_str_eq(manager_receive(), "READY=1\nSTATUS=joined, 2 pairs");
}

Test(sd_notify, abstract_socket_receives_the_message)
{
	char name[64];

	snprintf(name, sizeof(name), "@hasvc-test-notify-%d", (int)getpid());
	manager_listen(name);
	cr_assert_eq(hs_sd_notify("WATCHDOG=1"), 1);
	cr_assert_str_eq(manager_receive(), "WATCHDOG=1");
}

Test(sd_notify, formatted_message)
{
	manager_listen(path);
	cr_assert_eq(hs_sd_notifyf("STATUS=%s, %d pairs", "quorate", 3), 1);
	cr_assert_str_eq(manager_receive(), "STATUS=quorate, 3 pairs");
}

Test(sd_notify, one_datagram_per_call)
{
	manager_listen(path);
	cr_assert_eq(hs_sd_notify("STATUS=a"), 1);
	cr_assert_eq(hs_sd_notify("STATUS=b"), 1);
	cr_assert_str_eq(manager_receive(), "STATUS=a");
	cr_assert_str_eq(manager_receive(), "STATUS=b");
}

Test(sd_notify, without_notify_socket_is_a_no_op)
{
	cr_assert_eq(hs_sd_notify("READY=1"), 0);
	cr_assert_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
	cr_assert_eq(hs_sd_notify("READY=1"), 0);
}

Test(sd_notify, bad_addresses_are_refused)
{
	char longname[200];

	cr_assert_eq(setenv("NOTIFY_SOCKET", "relative/notify", 1), 0);
	cr_assert_eq(hs_sd_notify("READY=1"), -EINVAL);
	cr_assert_eq(setenv("NOTIFY_SOCKET", "@", 1), 0);
	cr_assert_eq(hs_sd_notify("READY=1"), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(setenv("NOTIFY_SOCKET", longname, 1), 0);
	cr_assert_eq(hs_sd_notify("READY=1"), -EINVAL);
	cr_assert_eq(setenv("NOTIFY_SOCKET", "vsock:2:1234", 1), 0);
	cr_assert_eq(hs_sd_notify("READY=1"), -EAFNOSUPPORT);
}

Test(sd_notify, manager_gone_is_an_error)
{
	cr_assert_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
	cr_assert_eq(hs_sd_notify("READY=1"), -ENOENT); /* nothing bound there */
	manager_listen(path);
	close(manager);
	manager = -1;
	cr_assert_eq(hs_sd_notify("READY=1"), -ECONNREFUSED); /* bound, nobody reads */
}

Test(sd_notify, watchdog_unset)
{
	uint64_t usec = 7;

	cr_assert_eq(hs_sd_watchdog_usec(&usec), 0);
	cr_assert_eq(usec, 7);
}

Test(sd_notify, watchdog_for_us)
{
	char pid[32];
	uint64_t usec = 0;

	cr_assert_eq(setenv("WATCHDOG_USEC", "30000000", 1), 0);
	cr_assert_eq(hs_sd_watchdog_usec(&usec), 1);
	cr_assert_eq(usec, 30000000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	cr_assert_eq(setenv("WATCHDOG_PID", pid, 1), 0);
	usec = 0;
	cr_assert_eq(hs_sd_watchdog_usec(&usec), 1);
	cr_assert_eq(usec, 30000000);
}

Test(sd_notify, watchdog_for_another_process)
{
	char pid[32];
	uint64_t usec = 7;

	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	cr_assert_eq(setenv("WATCHDOG_USEC", "30000000", 1), 0);
	cr_assert_eq(setenv("WATCHDOG_PID", pid, 1), 0);
	cr_assert_eq(hs_sd_watchdog_usec(&usec), 0);
	cr_assert_eq(usec, 7);
}

Test(sd_notify, watchdog_malformed)
{
	static const char *const bad[] = {"0", "-5", "abc", "30s", " 30"};
	uint64_t usec = 7;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(setenv("WATCHDOG_USEC", bad[i], 1), 0);
		cr_assert_eq(hs_sd_watchdog_usec(&usec), -EINVAL, "WATCHDOG_USEC=%s", bad[i]);
	}
	cr_assert_eq(setenv("WATCHDOG_USEC", "1000", 1), 0);
	cr_assert_eq(setenv("WATCHDOG_PID", "x", 1), 0);
	cr_assert_eq(hs_sd_watchdog_usec(&usec), -EINVAL);
	cr_assert_eq(usec, 7);
}
