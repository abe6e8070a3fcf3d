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
 * shutdown(2)s every connection process PID's server at local PORT (any
 * address) accepted, *RET_CLOSED how many: its clients see the connection
 * end at once.
 */
int mirror_sockets_shutdown_served(pid_t pid, unsigned port, unsigned *ret_closed);

/*
 * The inodes of process PID's TCP connections to HOST:PORT that are still
 * ESTABLISHED (at most MAX), *RET_N how many. A socket's inode names it for
 * as long as it lives; one its owner shut down has left ESTABLISHED.
 */
int mirror_sockets_established(pid_t pid, const char *host, unsigned port, unsigned long *inodes,
			       size_t max, size_t *ret_n);

/*
 * How long (ms) the peer HOST:PORT of process PID's TCP connections has not
 * acknowledged data sent to it, the longest over them; 0 when nothing waits
 * for an acknowledgement (idle, or answering).
 */
int mirror_sockets_silence(pid_t pid, const char *host, unsigned port, unsigned *ret_ms);

/*
 * shutdown(2)s those of process PID's TCP sockets to HOST:PORT that are still
 * connecting (SYN_SENT), *RET_SHUT how many: a connect begun while the link
 * was cut waits out the kernel's SYN backoff (1, 2, 4 ... 64 s) even after the
 * link is back; failed, it is tried again by its owner at once or soon.
 */
int mirror_sockets_shutdown_connecting(pid_t pid, const char *host, unsigned port,
				       unsigned *ret_shut);

/*
 * Turns TCP keepalive on (probes after IDLE_S of quiet, then every
 * INTERVAL_S, COUNT unanswered ones end the connection) for process PID's
 * listening socket at HOST:PORT, *RET_SET how many: Linux copies the options
 * of a listener to every connection it accepts from then on, so a server's
 * end of a connection whose client is gone (a cut link, the client's FIN
 * lost) ends on its own instead of holding a slot for good.
 */
int mirror_sockets_listener_keepalive(pid_t pid, const char *host, unsigned port, int idle_s,
				      int interval_s, int count, unsigned *ret_set);

/*
 * Whether a TCP connection to HOST:PORT can be made now: 0 when it was
 * (and closed again at once), -ETIMEDOUT after TIMEOUT_MS, or the connect's
 * -errno (-ECONNREFUSED: nothing listens).
 */
int mirror_sockets_probe(const char *host, unsigned port, unsigned timeout_ms);

/*
 * How many TCP connections of process PID's network namespace have their
 * local end at HOST:PORT (a server's accepted connections; its listening
 * socket is not counted), in *RET_N.
 */
int mirror_sockets_count_local(pid_t pid, const char *host, unsigned port, unsigned *ret_n);

/*
 * The pid of the QEMU running domain VM in this network namespace; -ESRCH if
 * none. A pid already in *RET_PID (> 0) is checked first and kept when it
 * still runs VM: callers that ask often (the link watch) keep it between calls.
 */
int mirror_sockets_qemu_pid(const char *vm, pid_t *ret_pid);
