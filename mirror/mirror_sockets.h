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
 * How long (ms) the peer HOST:PORT of process PID's TCP connections has not
 * acknowledged data sent to it, the longest over them; 0 when nothing waits
 * for an acknowledgement (idle, or answering).
 */
int mirror_sockets_silence(pid_t pid, const char *host, unsigned port, unsigned *ret_ms);

/*
 * The pid of the QEMU running domain VM in this network namespace; -ESRCH if
 * none. A pid already in *RET_PID (> 0) is checked first and kept when it
 * still runs VM: callers that ask often (the link watch) keep it between calls.
 */
int mirror_sockets_qemu_pid(const char *vm, pid_t *ret_pid);
