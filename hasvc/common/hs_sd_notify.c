// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_sd_notify: the sd_notify(3) datagram protocol, spoken directly (see
 * hs_sd_notify.h for what the messages mean).
 *
 * $NOTIFY_SOCKET is either a filesystem path ("/run/systemd/notify") or an
 * abstract socket name written with a leading '@' ("@/org/freedesktop/..."),
 * whose address is the name with that '@' replaced by a NUL byte and whose
 * length counts no terminating NUL. systemd can also hand out "vsock:" addresses
 * (a service in a VM telling the host); hasvcd never runs so, and says
 * -EAFNOSUPPORT. One socket per message, closed at once: notifications are
 * rare (start, status changes, a watchdog ping a few times a minute), and a
 * socket kept open would leak into every fence agent we fork.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hs_cleanup.h"
#include "hs_sd_notify.h"

/* Fills *sa from $NOTIFY_SOCKET's value; returns the address length or -errno. */
static int notify_address(const char *name, struct sockaddr_un *sa)
{
	size_t len = strlen(name);

	if (strncmp(name, "vsock:", 6) == 0)
		return -EAFNOSUPPORT;
	if ((name[0] != '/' && name[0] != '@') || len < 2 || len >= sizeof(sa->sun_path))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, name, len);
	if (name[0] == '@') {
		sa->sun_path[0] = '\0';
		return (int)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

int hs_sd_notify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -1;
	size_t len = strlen(state);
	ssize_t n;
	int salen;

	if (!name || !*name)
		return 0;
	salen = notify_address(name, &sa);
	if (salen < 0)
		return salen;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, (socklen_t)salen);
	if (n < 0)
		return -errno;
	/* a datagram goes whole or not at all */
	return (size_t)n == len ? 1 : -EMSGSIZE;
}

int hs_sd_notifyf(const char *fmt, ...)
{
	_cleanup_free_ char *state = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&state, fmt, ap);
	va_end(ap);
	if (r < 0) {
		state = NULL; /* vasprintf leaves it undefined on failure */
		return -ENOMEM;
	}
	return hs_sd_notify(state);
}

/* A decimal unsigned number, all of S; -EINVAL otherwise. */
static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int hs_sd_watchdog_usec(uint64_t *ret)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t u, p;

	if (!usec || !*usec)
		return 0;
	if (parse_u64(usec, &u) < 0 || u == 0)
		return -EINVAL;
	if (pid && *pid) {
		/* set for the main process; a child that inherited it is not meant */
		if (parse_u64(pid, &p) < 0 || p == 0)
			return -EINVAL;
		if (p != (uint64_t)getpid())
			return 0;
	}
	*ret = u;
	return 1;
}
