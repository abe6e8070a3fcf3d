// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of mirror_sockets: a child process blocked reading from a peer that
 * never answers (what a QEMU waiting on a silent NBD server looks like) is
 * woken when its connection to that peer is shut down from outside; its other
 * connections are left alone.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mirror_sockets.h"

/* A listening socket on 127.0.0.1, port in *RET_PORT. */
static int listener(unsigned *ret_port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert(s >= 0);
	cr_assert(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	cr_assert(listen(s, 4) == 0);
	cr_assert(getsockname(s, (struct sockaddr *)&a, &len) == 0);
	*ret_port = ntohs(a.sin_port);
	return s;
}

static int connect_to(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons(port)};
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		_exit(90);
	return s;
}

/*
 * Child: connects to both listeners, says so on READY, then blocks reading
 * from the first. Exit 0 when that read ended (EOF/error) while the second
 * connection is still usable; 2 when the second was closed too.
 */
static pid_t child_start(unsigned port_cut, unsigned port_kept, int *ret_ready)
{
	int p[2];
	pid_t pid;

	cr_assert(pipe(p) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char c;
		int cut, kept;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		cut = connect_to(port_cut);
		kept = connect_to(port_kept);
		if (write(p[1], "r", 1) != 1)
			_exit(91);
		if (recv(cut, &c, 1, 0) > 0)
			_exit(92);
		_exit(send(kept, "x", 1, MSG_NOSIGNAL) == 1 ? 0 : 2);
	}
	close(p[1]);
	*ret_ready = p[0];
	return pid;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	int status;

	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

Test(mirror_sockets, cut_connection_ends_a_blocked_read)
{
	unsigned port_cut, port_kept, closed = 99;
	int l1 = listener(&port_cut), l2 = listener(&port_kept), ready, a1, a2;
	pid_t pid = child_start(port_cut, port_kept, &ready);
	char c;

	cr_assert_eq(read(ready, &c, 1), 1, "the child did not connect");
	a1 = accept(l1, NULL, NULL);
	a2 = accept(l2, NULL, NULL);
	cr_assert(a1 >= 0 && a2 >= 0);
	usleep(50000);
	cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "the child should be blocked in recv()");

	cr_assert_eq(mirror_sockets_shutdown(pid, "127.0.0.1", port_cut, &closed), 0);
	cr_expect_eq(closed, 1, "closed %u connections, expected the one to port %u", closed,
		     port_cut);
	cr_expect_eq(wait_exit(pid, 5000), 0, "the blocked read did not end, or the other "
					      "connection was closed too");
	close(a1);
	close(a2);
	close(l1);
	close(l2);
}

Test(mirror_sockets, no_connection_to_that_peer_closes_nothing)
{
	unsigned port_a, port_b, closed = 99;
	int l1 = listener(&port_a), l2 = listener(&port_b), ready, a1, a2;
	pid_t pid = child_start(port_a, port_b, &ready);
	char c;

	cr_assert_eq(read(ready, &c, 1), 1);
	a1 = accept(l1, NULL, NULL);
	a2 = accept(l2, NULL, NULL);
	/* A port nobody uses, and an address nobody is connected to. */
	cr_assert_eq(mirror_sockets_shutdown(pid, "127.0.0.1", 9, &closed), 0);
	cr_expect_eq(closed, 0);
	cr_assert_eq(mirror_sockets_shutdown(pid, "127.0.0.2", port_a, &closed), 0);
	cr_expect_eq(closed, 0);
	usleep(50000);
	cr_expect_eq(waitpid(pid, NULL, WNOHANG), 0, "the child's read ended without a cut");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(a1);
	close(a2);
	close(l1);
	close(l2);
}

Test(mirror_sockets, unresolvable_host_is_an_error)
{
	unsigned closed = 7;

	cr_expect_eq(mirror_sockets_shutdown(getpid(), "no-such-host.invalid", 10809, &closed),
		     -EHOSTUNREACH);
	cr_expect_eq(closed, 7, "the out-parameter was written on failure");
}

/* libvirt starts QEMU with "-name guest=VM,debug-threads=on": a stand-in with that argument. */
Test(mirror_sockets, qemu_pid_found_by_guest_name)
{
	pid_t child = fork(), pid = 0;

	cr_assert(child >= 0);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("sh", "sh", "-c", "sleep 10; exit 0", "-name", "guest=hasvc-test-vm,debug-threads=on",
		       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && pid != child; i++) {
		if (mirror_sockets_qemu_pid("hasvc-test-vm", &pid) < 0)
			usleep(10000);
	}
	cr_expect_eq(pid, child, "found pid %d, expected %d", (int)pid, (int)child);
	/* A name that is only a prefix of the guest's is not that guest. */
	cr_expect_eq(mirror_sockets_qemu_pid("hasvc-test", &pid), -ESRCH);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

Test(mirror_sockets, qemu_pid_not_found)
{
	pid_t pid = 0;

	cr_expect_eq(mirror_sockets_qemu_pid("hasvc-test-no-such-guest", &pid), -ESRCH);
	cr_expect_eq(mirror_sockets_qemu_pid("bad,name", &pid), -EINVAL);
}

/*
 * A server's accepted connections are counted by their local end, its
 * listening socket is not, and a connection that is closed leaves the count:
 * how prepare tells whether a kept backup's NBD server has room for the
 * primary's reconnects (mirror_backup_keep.c).
 */
Test(mirror_sockets, accepted_connections_counted_by_local_end)
{
	unsigned port, other, n = 99;
	int l = listener(&port), l2 = listener(&other), c1, c2, a1, a2;

	cr_assert_eq(mirror_sockets_count_local(getpid(), "127.0.0.1", port, &n), 0);
	cr_expect_eq(n, 0, "a listening socket alone counted as %u connection(s)", n);
	c1 = connect_to(port);
	c2 = connect_to(port);
	a1 = accept(l, NULL, NULL);
	a2 = accept(l, NULL, NULL);
	cr_assert(a1 >= 0 && a2 >= 0);
	cr_assert_eq(mirror_sockets_count_local(getpid(), "127.0.0.1", port, &n), 0);
	/* both ends are ours here: the accepted two have the port as local end, the clients not */
	cr_expect_eq(n, 2, "counted %u connections at port %u, expected 2", n, port);
	cr_assert_eq(mirror_sockets_count_local(getpid(), "127.0.0.1", other, &n), 0);
	cr_expect_eq(n, 0, "the other listener has no connection, counted %u", n);
	close(c1);
	close(a1);
	usleep(20000);
	cr_assert_eq(mirror_sockets_count_local(getpid(), "127.0.0.1", port, &n), 0);
	/* closed on both ends: gone, or an orphan without an owner (inode 0), which no fd holds */
	cr_expect_eq(n, 1, "counted %u connections after one of two closed, expected 1", n);
	close(c2);
	close(a2);
	close(l);
	close(l2);
}

/*
 * Keepalive set on a listener from outside reaches the connections it accepts
 * afterwards (what the backup's NBD server needs: mirror_backup_keep.c).
 */
Test(mirror_sockets, listener_keepalive_reaches_accepted_connections)
{
	unsigned port, set = 0;
	int l = listener(&port), c, a, on = 0, idle = 0;
	socklen_t len = sizeof(on);

	cr_assert_eq(mirror_sockets_listener_keepalive(getpid(), "127.0.0.1", port, 7, 2, 3, &set),
		     0);
	cr_expect_eq(set, 1, "set on %u listening sockets, expected 1", set);
	c = connect_to(port);
	a = accept(l, NULL, NULL);
	cr_assert(a >= 0);
	cr_assert_eq(getsockopt(a, SOL_SOCKET, SO_KEEPALIVE, &on, &len), 0);
	cr_expect_eq(on, 1, "the accepted connection has no keepalive");
	len = sizeof(idle);
	cr_assert_eq(getsockopt(a, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len), 0);
	cr_expect_eq(idle, 7, "the accepted connection's keepalive idle is %d, not 7", idle);
	close(c);
	close(a);
	close(l);
}

Test(mirror_sockets, probe_tells_a_listener_from_a_closed_port)
{
	unsigned port;
	int l = listener(&port);

	cr_expect_eq(mirror_sockets_probe("127.0.0.1", port, 300), 0);
	close(l);
	cr_expect_eq(mirror_sockets_probe("127.0.0.1", port, 300), -ECONNREFUSED);
}
