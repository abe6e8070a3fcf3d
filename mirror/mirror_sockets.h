// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_sockets: close a process's TCP connections to one peer, from outside
 * that process (see mirror_sockets.c for why and how).
 */
#pragma once

#include <sys/types.h>

/*
 * shutdown(2)s every TCP connection of process PID whose remote end is
 * HOST:PORT (HOST an address or a name). *RET_CLOSED is how many. Returns 0,
 * or -errno: -EPERM without ptrace rights over PID, -EHOSTUNREACH when HOST
 * does not resolve.
 */
int mirror_sockets_shutdown(pid_t pid, const char *host, unsigned port, unsigned *ret_closed);

/*
 * Sets TCP_USER_TIMEOUT (TIMEOUT_MS) and keepalive probes (after TIMEOUT_MS
 * idle, one a second, one missed is fatal) on every TCP connection of process
 * PID to HOST:PORT. *RET_COUNT is how many. -EINVAL for a zero timeout.
 */
int mirror_sockets_set_timeout(pid_t pid, const char *host, unsigned port, unsigned timeout_ms,
			       unsigned *ret_count);

/* The pid of the QEMU running domain VM in this network namespace; -ESRCH if none. */
int mirror_sockets_qemu_pid(const char *vm, pid_t *ret_pid);
