// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_standin_arm: the way back of a live switchover, ready before the
 * guest leaves (docs/mirror.md "Live switchover"). A stand-in
 * (mirror_standin.c) started with its images inactive, while the guest's
 * QEMU still writes them, and activated over its own QMP monitor once the
 * guest has left: blockdev-set-active (QEMU 10.0) reads the images'
 * metadata again then, in milliseconds, where a stand-in's start would keep
 * the guest waiting paused on its new host for 0.1-0.6 s. The monitor is
 * spoken to directly: the stand-in is a process of hasvc's, not libvirt's.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mirror.h"
#include "mirror_internal.h"

#define STANDIN_QMP_MS 5000 /* its monitor: connect, greet, answer */

/* One line of the monitor within the deadline; -errno. */
static int qmp_line(int fd, char *buf, size_t size, int64_t deadline)
{
	size_t n = 0;

	while (n + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - mirror__now_ms();
		ssize_t k;

		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			return -ETIMEDOUT;
		k = read(fd, buf + n, 1);
		if (k <= 0)
			return k == 0 ? -ECONNRESET : -errno;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -EMSGSIZE;
}

/* CMD on the monitor FD; 0 on its "return", -EIO on an "error" (events skipped). */
static int qmp_command(int fd, const char *cmd, int64_t deadline, char *answer, size_t size)
{
	size_t len = strlen(cmd);
	int e;

	if (write(fd, cmd, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		return -errno;
	for (;;) {
		if ((e = qmp_line(fd, answer, size, deadline)) < 0)
			return e;
		if (strstr(answer, "\"return\""))
			return 0;
		if (strstr(answer, "\"error\""))
			return -EIO;
	}
}

static void standin_activate_run(struct mirror *m, struct request *r)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char answer[4096];
	int64_t t0 = mirror__now_ms(), deadline = t0 + STANDIN_QMP_MS;
	int fd = -1, e;

	if (mirror__standin_pid(r->vm) <= 0) {
		mirror__say(r, -ENOENT, "no stand-in of %s on this host to activate", r->vm);
		return;
	}
	mirror__standin_monitor_path(r->vm, sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		mirror__say(r, -errno, "cannot reach the stand-in of %s at %s: %m", r->vm,
			    sa.sun_path);
		goto out;
	}
	/* the greeting, then the capabilities: the monitor takes commands after both */
	e = qmp_line(fd, answer, sizeof(answer), deadline);
	if (e == 0)
		e = qmp_command(fd, "{\"execute\":\"qmp_capabilities\"}", deadline, answer,
				sizeof(answer));
	/* every node of the stand-in: its images, as they are now on disk */
	if (e == 0)
		e = qmp_command(
		    fd, "{\"execute\":\"blockdev-set-active\",\"arguments\":{\"active\":true}}",
		    deadline, answer, sizeof(answer));
	if (e < 0) {
		mirror__say(r, e, "cannot activate the stand-in of %s: %s", r->vm,
			    e == -EIO ? answer : strerror(-e));
		goto out;
	}
	mirror__say(r, 0, "the stand-in of %s serves its images now (activated in %" PRId64 " ms)",
		    r->vm, mirror__now_ms() - t0);
out:
	if (fd >= 0)
		close(fd);
}

int mirror_standin_arm_xml(struct mirror *m, const char *vm, const char *xml, const char *nbd_addr,
			   unsigned port, const char *primary_node, mirror_done_fn done,
			   void *userdata)
{
	struct request *r = NULL;
	int ret;

	if (!xml)
		return -EINVAL;
	ret = mirror__standin_request(m, vm, xml, nbd_addr, port, false, primary_node, done, NULL,
				      userdata, &r);
	if (ret < 0)
		return ret;
	r->inactive = true;
	return mirror__submit(m, r);
}

int mirror_standin_activate(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	if (strchr(vm, '/'))
		return -EINVAL;
	return mirror__submit_vm(m, standin_activate_run, vm, done, NULL, userdata, NULL);
}
