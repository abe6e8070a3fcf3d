// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_sockets: close a QEMU's TCP connections to a backup that went silent,
 * and tell how long they have been silent.
 *
 * Why. In sync mode a guest write waits until the NBD target acknowledged it.
 * When the backup host is cut off without a reset (a partition, a frozen
 * host), the kernel keeps retransmitting for minutes and QEMU 7.2's NBD
 * client has no I/O timeout, so the guest stalls. Aborting the block job does
 * not help: the job waits for the request in flight. What does help is making
 * the socket fail: QEMU's NBD client then fails its requests, the mirror job
 * stops with an error, and the guest write completes from the source.
 *
 * How. `ss -K` (sock_diag destroy) needs CONFIG_INET_DIAG_DESTROY, which many
 * kernels lack. Instead we take a duplicate of QEMU's own socket with
 * pidfd_getfd(2) (Linux 5.6, needs ptrace rights over QEMU: root has them)
 * and shutdown(2) it: shutdown acts on the socket, not on the descriptor, so
 * QEMU sees EOF and EPIPE at once.
 *
 * Measuring the silence. When only the replication link is cut (the backup
 * host stays in the corosync membership, so nothing cuts the mirror), a sync
 * write would wait for the kernel's retransmission to give up: 15 minutes
 * with Linux's tcp_retries2 (seen by the chaos campaign). TCP_INFO on the
 * same duplicates tells how long the backup has not acknowledged data that
 * waits for it; the primary's hasvcd then records the pair degraded through
 * the cluster and only after that cuts (shuts the sockets down). It must not
 * let the kernel fail the connection by itself (TCP_USER_TIMEOUT, keepalive):
 * a primary that is the one cut off would then acknowledge writes its backup
 * never gets, just before the majority fences it and promotes the backup.
 *
 * Which sockets. The QEMU process is the one in our network namespace whose
 * command line names the domain (`-name guest=VM,...`), which is how libvirt
 * starts every QEMU. Its sockets are matched by inode against the TCP tables
 * of its network namespace (/proc/PID/net/tcp and tcp6), keeping those whose
 * remote end is HOST:PORT.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mirror_sockets.h"

#define INODES_MAX 64
#define COUNT_MAX 1024 /* mirror_sockets_count_local: more than any server's max-connections */

struct peer {
	int family; /* AF_INET or AF_INET6; 0: any address (a local port alone) */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	unsigned port;
};

static int peer_resolve(const char *host, unsigned port, struct peer *ret)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	struct peer p = {.port = port};
	int r;

	if (inet_pton(AF_INET, host, &p.addr.v4) == 1) {
		p.family = AF_INET;
	} else if (inet_pton(AF_INET6, host, &p.addr.v6) == 1) {
		p.family = AF_INET6;
	} else {
		r = getaddrinfo(host, NULL, &hints, &res);
		if (r != 0 || !res)
			return -EHOSTUNREACH;
		p.family = res->ai_family;
		if (p.family == AF_INET)
			p.addr.v4 = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		else
			p.addr.v6 = ((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
		freeaddrinfo(res);
	}
	*ret = p;
	return 0;
}

/*
 * One line of /proc/net/tcp{,6}: "sl local rem st ... inode". The kernel prints
 * each 32-bit word of the address as a native-endian hex number, so a parsed
 * word equals the same word of the address in memory; the port is in host order.
 */
#define TCP_STATE_LISTEN 0x0A /* as /proc/net/tcp prints it */

/*
 * Whether LINE's socket has P at its local (LOCAL_END) or remote end, its
 * inode in *RET_INODE; listening sockets only when LISTENING, else only
 * connections.
 */
static bool tcp_line_matches_end(const char *line, const struct peer *p, bool local_end,
				 bool listening, unsigned long *ret_inode)
{
	char loc[64], remote[64], *rem = local_end ? loc : remote;
	unsigned port, words[4], st;
	unsigned long inode;
	char *colon;

	if (sscanf(line, "%*s %63s %63s %x %*s %*s %*s %*s %*s %lu", loc, remote, &st, &inode) != 4)
		return false;
	if ((st == TCP_STATE_LISTEN) != listening)
		return false;
	colon = strchr(rem, ':');
	if (!colon || sscanf(colon + 1, "%x", &port) != 1 || port != p->port)
		return false;
	*colon = '\0';
	if (p->family == 0) {
		/* any address */
	} else if (p->family == AF_INET) {
		if (strlen(rem) != 8 || sscanf(rem, "%8x", &words[0]) != 1 ||
		    words[0] != p->addr.v4.s_addr)
			return false;
	} else {
		uint32_t want[4];

		if (strlen(rem) != 32 ||
		    sscanf(rem, "%8x%8x%8x%8x", &words[0], &words[1], &words[2], &words[3]) != 4)
			return false;
		memcpy(want, &p->addr.v6, sizeof(want));
		for (int i = 0; i < 4; i++)
			if (words[i] != want[i])
				return false;
	}
	*ret_inode = inode;
	return inode != 0;
}

static bool tcp_line_matches(const char *line, const struct peer *p, unsigned long *ret_inode)
{
	return tcp_line_matches_end(line, p, false, false, ret_inode);
}

/*
 * Which sockets a walk takes: those with the peer at their remote end, a
 * listener at it, or the connections a server at it accepted.
 */
enum walk_kind { WALK_TO_PEER, WALK_LISTENER, WALK_ACCEPTED };

/*
 * The inodes of PID's network namespace's TCP sockets of KIND at P (both
 * tables for any address); -errno without the table.
 */
static ssize_t peer_inodes(pid_t pid, const struct peer *p, enum walk_kind kind,
			   unsigned long *inodes, size_t max)
{
	static const char *const tables[] = {"tcp", "tcp6"};
	char path[64], line[512];
	size_t n = 0;

	for (size_t t = 0; t < 2; t++) {
		FILE *f;

		if ((p->family == AF_INET && t == 1) || (p->family == AF_INET6 && t == 0))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, tables[t]);
		f = fopen(path, "re");
		if (!f) {
			if (p->family == 0 && t == 1 && errno == ENOENT)
				continue; /* no IPv6: its table is not there */
			return -errno;
		}
		while (n < max && fgets(line, sizeof(line), f))
			if (kind == WALK_TO_PEER
				    ? tcp_line_matches(line, p, &inodes[n])
				    : tcp_line_matches_end(line, p, true, kind == WALK_LISTENER,
							   &inodes[n]))
				n++;
		fclose(f);
	}
	return (ssize_t)n;
}

static bool inode_listed(unsigned long inode, const unsigned long *inodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (inodes[i] == inode)
			return true;
	return false;
}

/*
 * Calls FN with a duplicate of every socket of PID whose remote end is
 * HOST:PORT (pidfd_getfd(2): the duplicate is the same socket, so what FN does
 * to it, QEMU's descriptor sees). *RET_COUNT is how many.
 */
static int sockets_each(pid_t pid, const char *host, unsigned port, enum walk_kind kind,
			int (*fn)(int sock, const void *arg), const void *arg, unsigned *ret_count)
{
	unsigned long inodes[INODES_MAX];
	char path[64], link[64];
	struct dirent *e;
	struct peer peer;
	unsigned count = 0;
	int pidfd = -1, r = 0;
	ssize_t n;
	DIR *dir = NULL;

	if (host) {
		r = peer_resolve(host, port, &peer);
		if (r < 0)
			return r;
	} else {
		peer = (struct peer){.family = 0, .port = port};
	}
	/* no table to read: no socket to walk, as when none matches */
	n = peer_inodes(pid, &peer, kind, inodes, INODES_MAX);
	if (n <= 0)
		goto out;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		r = -errno;
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir) {
		r = -errno;
		goto out;
	}
	while ((e = readdir(dir))) {
		unsigned long inode;
		char fdpath[320];
		ssize_t len;
		int dup;

		if (e->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &inode) != 1 || !inode_listed(inode, inodes, (size_t)n))
			continue;
		dup = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
		if (dup < 0) {
			r = -errno;
			goto out;
		}
		r = fn(dup, arg);
		close(dup);
		if (r < 0)
			goto out;
		count++;
	}
out:
	if (dir)
		closedir(dir);
	if (pidfd >= 0)
		close(pidfd);
	if (r >= 0 && ret_count)
		*ret_count = count;
	return r < 0 ? r : 0;
}

static int peer_sockets_each(pid_t pid, const char *host, unsigned port,
			     int (*fn)(int sock, const void *arg), const void *arg,
			     unsigned *ret_count)
{
	return sockets_each(pid, host, port, WALK_TO_PEER, fn, arg, ret_count);
}

static int sock_shutdown(int sock, const void *arg)
{
	if (shutdown(sock, SHUT_RDWR) < 0 && errno != ENOTCONN)
		return -errno;
	return 0;
}

int mirror_sockets_shutdown(pid_t pid, const char *host, unsigned port, unsigned *ret_closed)
{
	return peer_sockets_each(pid, host, port, sock_shutdown, NULL, ret_closed);
}

int mirror_sockets_shutdown_served(pid_t pid, unsigned port, unsigned *ret_closed)
{
	return sockets_each(pid, NULL, port, WALK_ACCEPTED, sock_shutdown, NULL, ret_closed);
}

struct established {
	unsigned long *inodes;
	size_t max, n;
};

static int sock_established(int sock, const void *arg)
{
	struct established *e = (struct established *)arg;
	struct tcp_info info;
	socklen_t len = sizeof(info);
	struct stat st;

	if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &info, &len) < 0 || fstat(sock, &st) < 0)
		return -errno;
	/* shut down by its owner (a broken connection) it has left ESTABLISHED */
	if (info.tcpi_state == TCP_ESTABLISHED && e->n < e->max)
		e->inodes[e->n++] = (unsigned long)st.st_ino;
	return 0;
}

int mirror_sockets_established(pid_t pid, const char *host, unsigned port, unsigned long *inodes,
			       size_t max, size_t *ret_n)
{
	struct established e = {.inodes = inodes, .max = max};
	int r = peer_sockets_each(pid, host, port, sock_established, &e, NULL);

	if (r >= 0)
		*ret_n = e.n;
	return r;
}

static int sock_shutdown_connecting(int sock, const void *arg)
{
	unsigned *shut = (unsigned *)arg;
	struct tcp_info info;
	socklen_t len = sizeof(info);

	if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &info, &len) < 0)
		return -errno;
	if (info.tcpi_state != TCP_SYN_SENT)
		return 0;
	if (shutdown(sock, SHUT_RDWR) < 0 && errno != ENOTCONN)
		return -errno;
	(*shut)++;
	return 0;
}

int mirror_sockets_shutdown_connecting(pid_t pid, const char *host, unsigned port,
				       unsigned *ret_shut)
{
	unsigned shut = 0;
	int r = peer_sockets_each(pid, host, port, sock_shutdown_connecting, &shut, NULL);

	if (r >= 0)
		*ret_shut = shut;
	return r;
}

static int sock_keepalive(int sock, const void *arg)
{
	const int *v = arg, on = 1;

	if (setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 ||
	    setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, &v[0], sizeof(v[0])) < 0 ||
	    setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, &v[1], sizeof(v[1])) < 0 ||
	    setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, &v[2], sizeof(v[2])) < 0)
		return -errno;
	return 0;
}

int mirror_sockets_listener_keepalive(pid_t pid, const char *host, unsigned port, int idle_s,
				      int interval_s, int count, unsigned *ret_set)
{
	const int v[3] = {idle_s, interval_s, count};

	return sockets_each(pid, host, port, WALK_LISTENER, sock_keepalive, v, ret_set);
}

int mirror_sockets_probe(const char *host, unsigned port, unsigned timeout_ms)
{
	struct peer p;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} a = {0};
	struct pollfd pfd;
	socklen_t alen, elen = sizeof(int);
	int s, r, err = 0;

	r = peer_resolve(host, port, &p);
	if (r < 0)
		return r;
	if (p.family == AF_INET) {
		a.v4 = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port),
					    .sin_addr = p.addr.v4};
		alen = sizeof(a.v4);
	} else {
		a.v6 = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = htons(port),
					     .sin6_addr = p.addr.v6};
		alen = sizeof(a.v6);
	}
	s = socket(p.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&a, alen) == 0)
		goto out;
	if (errno != EINPROGRESS) {
		err = -errno;
		goto out;
	}
	pfd = (struct pollfd){.fd = s, .events = POLLOUT};
	r = poll(&pfd, 1, (int)timeout_ms);
	if (r == 0)
		err = -ETIMEDOUT;
	else if (r < 0)
		err = -errno;
	else if (getsockopt(s, SOL_SOCKET, SO_ERROR, &r, &elen) < 0)
		err = -errno;
	else if (r != 0)
		err = -r;
out:
	close(s);
	return err;
}

struct silence {
	unsigned longest_ms; /* the longest time without an ACK while data waited for one */
};

/* True when SOCK has bytes sent and unacknowledged, or queued and not sent yet. */
static bool waiting_to_send(int sock, const struct tcp_info *info)
{
	int queued = 0;

	if (info->tcpi_unacked > 0)
		return true;
	return ioctl(sock, SIOCOUTQ, &queued) == 0 && queued > 0;
}

static int sock_silence(int sock, const void *arg)
{
	struct silence *sl = (struct silence *)arg;
	struct tcp_info info;
	socklen_t len = sizeof(info);

	if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &info, &len) < 0)
		return -errno;
	/*
	 * Only a connection in use: one shut down at an earlier cut (FIN_WAIT1,
	 * its FIN and last data still unacknowledged behind the cut) carries no
	 * write any more, and its silence grows with the kernel's backoff after
	 * the heal, which would degrade a resync that is going well.
	 */
	if (info.tcpi_state != TCP_ESTABLISHED)
		return 0;
	/*
	 * Data waiting, and the peer silent since: a cut link (an idle
	 * connection has nothing waiting: it is not silent). Waiting is what
	 * the send queue holds, sent or not: a link cut while the backup's
	 * receive window was closed leaves everything unsent and nothing
	 * unacknowledged, the kernel probing the window with no answer (chaos
	 * seed 2, 4 hosts: a switchover's stop hung on such a connection).
	 * A live peer answers every probe, so its last ACK stays recent.
	 */
	if (!waiting_to_send(sock, &info))
		return 0;
	if (info.tcpi_last_ack_recv > sl->longest_ms)
		sl->longest_ms = info.tcpi_last_ack_recv;
	return 0;
}

int mirror_sockets_silence(pid_t pid, const char *host, unsigned port, unsigned *ret_ms)
{
	struct silence sl = {0};
	int r = peer_sockets_each(pid, host, port, sock_silence, &sl, NULL);

	if (r >= 0)
		*ret_ms = sl.longest_ms;
	return r;
}

/* True when PID's network namespace is ours. */
static bool same_netns(pid_t pid)
{
	struct stat mine, theirs;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	return stat("/proc/self/ns/net", &mine) == 0 && stat(path, &theirs) == 0 &&
	       mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

/* True when PID's command line has an argument "guest=VM" or starting "guest=VM,". */
static bool cmdline_names_guest(pid_t pid, const char *vm)
{
	char path[64], buf[8192];
	size_t vm_len = strlen(vm), len;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (size_t i = 0; i < len && !found; i += strlen(buf + i) + 1) {
		const char *arg = buf + i;

		found = strncmp(arg, "guest=", 6) == 0 && strncmp(arg + 6, vm, vm_len) == 0 &&
			(arg[6 + vm_len] == '\0' || arg[6 + vm_len] == ',');
	}
	return found;
}

int mirror_sockets_qemu_pid(const char *vm, pid_t *ret_pid)
{
	struct dirent *e;
	pid_t found = 0;
	DIR *dir;

	if (strchr(vm, ','))
		return -EINVAL; /* QEMU would have escaped it as ",,": not worth matching */
	/* the one found last time, if it still runs VM: no walk of /proc */
	if (*ret_pid > 0 && cmdline_names_guest(*ret_pid, vm) && same_netns(*ret_pid))
		return 0;
	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((e = readdir(dir)) && !found) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (cmdline_names_guest((pid_t)pid, vm) && same_netns((pid_t)pid))
			found = (pid_t)pid;
	}
	closedir(dir);
	if (!found)
		return -ESRCH;
	*ret_pid = found;
	return 0;
}

int mirror_sockets_count_local(pid_t pid, const char *host, unsigned port, unsigned *ret_n)
{
	unsigned long inodes[COUNT_MAX];
	struct peer local;
	ssize_t n;
	int r;

	r = peer_resolve(host, port, &local);
	if (r < 0)
		return r;
	n = peer_inodes(pid, &local, WALK_ACCEPTED, inodes, COUNT_MAX);
	if (n < 0)
		return (int)n;
	*ret_n = (unsigned)n;
	return 0;
}
