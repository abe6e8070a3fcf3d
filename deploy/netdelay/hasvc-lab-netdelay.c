/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hasvc-lab-netdelay PORT DELAY_US: a TCP relay that holds every byte for
 * DELAY_US microseconds in each direction, for the lab's replication link.
 *
 * Why: every lab host runs on one machine, so the NBD leg of a sync write is
 * CPU work (a loopback round trip and the backup QEMU's write) rather than a
 * wait, and two legs cannot overlap on two shared cores
 * (docs/datapath-experiments.md, B2). Two real hosts wait on their link. The
 * kernel here has no netem qdisc, so the lab delays in user space:
 * `deploy/lab repl-delay NODE US` redirects (iptables REDIRECT, in NODE's
 * namespace) every connection to NODE's NBD ports onto this relay, which asks
 * the kernel where each was going (SO_ORIGINAL_DST) and connects there
 * itself; its own connection is not redirected (OUTPUT, not PREROUTING).
 *
 * Each chunk read is stamped with its due time and written once it is due,
 * in order; a direction's end (EOF) is passed on as a shutdown once its
 * bytes are out. Nothing is parsed. One thread, epoll, a timerfd for the next
 * due chunk. Meant for the lab only: it trusts its peers and keeps at most
 * what the delay holds in flight (64 KiB reads, one queue per direction).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX 65536

struct chunk {
	struct chunk *next;
	uint64_t due_ns;
	size_t len, done;
	char data[];
};

/* One direction: bytes read from `from`, queued, written to `to`. */
struct flow {
	int from, to;
	struct chunk *head, *tail;
	int eof;	 /* `from` said EOF: shut `to` down once the queue is out */
	int shut;	 /* that shutdown is done */
	int want_out; /* `to` was full: waiting for EPOLLOUT */
};

/* What an fd's epoll data names: its relay, and which end it is. */
struct relay;
struct end {
	struct relay *r;
	int is_server;
};

struct relay {
	struct flow up, down; /* client -> server, server -> client */
	int client, server;
	struct end ends[2];   /* client, server */
	struct relay *next;
	int dead;
};

static int ep, timer_fd, listen_fd;
static uint64_t delay_ns;
static struct relay *relays;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "hasvc-lab-netdelay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void watch(int fd, struct end *e, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die("epoll_ctl");
}

static void flow_free(struct flow *f)
{
	while (f->head) {
		struct chunk *c = f->head;

		f->head = c->next;
		free(c);
	}
	f->tail = NULL;
}

static void relay_kill(struct relay *r)
{
	if (r->dead)
		return;
	r->dead = 1;
	close(r->client);
	close(r->server);
	flow_free(&r->up);
	flow_free(&r->down);
}

/* Writes what is due of f; returns -1 when the peer is gone. */
static int flow_push(struct flow *f, uint64_t now)
{
	while (f->head && f->head->due_ns <= now) {
		struct chunk *c = f->head;
		ssize_t n = write(f->to, c->data + c->done, c->len - c->done);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			f->want_out = 1;
			return 0;
		}
		if (n < 0)
			return -1;
		c->done += (size_t)n;
		if (c->done < c->len)
			continue;
		f->head = c->next;
		if (!f->head)
			f->tail = NULL;
		free(c);
	}
	f->want_out = 0;
	if (f->eof && !f->head && !f->shut) {
		shutdown(f->to, SHUT_WR);
		f->shut = 1;
	}
	return 0;
}

/* Reads what `from` has; returns -1 when it failed. */
static int flow_pull(struct flow *f)
{
	for (;;) {
		struct chunk *c = malloc(sizeof(*c) + CHUNK_MAX);
		ssize_t n;

		if (!c)
			die("malloc");
		n = read(f->from, c->data, CHUNK_MAX);
		if (n <= 0) {
			free(c);
			if (n == 0) {
				f->eof = 1;
				return 0;
			}
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		c->next = NULL;
		c->len = (size_t)n;
		c->done = 0;
		c->due_ns = now_ns() + delay_ns;
		if (f->tail)
			f->tail->next = c;
		else
			f->head = c;
		f->tail = c;
	}
}

static void rearm_timer(void)
{
	uint64_t next = 0;
	struct itimerspec its = { 0 };

	for (struct relay *r = relays; r; r = r->next) {
		const struct flow *fl[2] = { &r->up, &r->down };

		if (r->dead)
			continue;
		for (int i = 0; i < 2; i++)
			if (fl[i]->head && !fl[i]->want_out && (!next || fl[i]->head->due_ns < next))
				next = fl[i]->head->due_ns;
	}
	if (next) {
		its.it_value.tv_sec = (time_t)(next / 1000000000u);
		its.it_value.tv_nsec = (long)(next % 1000000000u);
	}
	if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		die("timerfd_settime");
}

/* What each end waits for: input until EOF, output while its flow is full. */
static void rewatch(struct relay *r)
{
	uint32_t cev = (r->up.eof ? 0 : EPOLLIN) | (r->down.want_out ? EPOLLOUT : 0);
	uint32_t sev = (r->down.eof ? 0 : EPOLLIN) | (r->up.want_out ? EPOLLOUT : 0);

	watch(r->client, &r->ends[0], cev, EPOLL_CTL_MOD);
	watch(r->server, &r->ends[1], sev, EPOLL_CTL_MOD);
}

static void accept_one(void)
{
	struct sockaddr_in dst;
	socklen_t len = sizeof(dst);
	int c, s, one = 1;
	struct relay *r;

	c = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	if (getsockopt(c, SOL_IP, SO_ORIGINAL_DST, &dst, &len) < 0) {
		fprintf(stderr, "hasvc-lab-netdelay: a connection without an original destination: %s\n",
			strerror(errno));
		close(c);
		return;
	}
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		/* as the server would have: refused */
		if (s >= 0)
			close(s);
		close(c);
		return;
	}
	fcntl(s, F_SETFL, O_NONBLOCK);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = calloc(1, sizeof(*r));
	if (!r)
		die("calloc");
	r->client = c;
	r->server = s;
	r->up = (struct flow){ .from = c, .to = s };
	r->down = (struct flow){ .from = s, .to = c };
	r->next = relays;
	relays = r;
	r->ends[0] = (struct end){ r, 0 };
	r->ends[1] = (struct end){ r, 1 };
	watch(c, &r->ends[0], EPOLLIN, EPOLL_CTL_ADD);
	watch(s, &r->ends[1], EPOLLIN, EPOLL_CTL_ADD);
}

/* Pushes every due chunk, frees what has ended (after an epoll batch, so no
 * event of it is pending: its fds are closed) and sets what each end waits
 * for. */
static void push_all(void)
{
	uint64_t now = now_ns();

	for (struct relay **p = &relays; *p;) {
		struct relay *r = *p;

		if (!r->dead && (flow_push(&r->up, now) < 0 || flow_push(&r->down, now) < 0))
			relay_kill(r);
		if (!r->dead && r->up.shut && r->down.shut)
			relay_kill(r);
		if (r->dead) {
			*p = r->next;
			free(r);
			continue;
		}
		rewatch(r);
		p = &r->next;
	}
	rearm_timer();
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN };
	char *end;
	long port, us;
	int one = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: hasvc-lab-netdelay PORT DELAY_US\n");
		return 2;
	}
	port = strtol(argv[1], &end, 10);
	if (*end || port < 1 || port > 65535) {
		fprintf(stderr, "hasvc-lab-netdelay: PORT '%s' is not a port\n", argv[1]);
		return 2;
	}
	us = strtol(argv[2], &end, 10);
	if (*end || us < 0 || us > 10000000) {
		fprintf(stderr, "hasvc-lab-netdelay: DELAY_US '%s' is not 0..10000000\n", argv[2]);
		return 2;
	}
	delay_ns = (uint64_t)us * 1000u;
	signal(SIGPIPE, SIG_IGN);

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		die("socket");
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(listen_fd, 64) < 0)
		die("bind/listen");
	ep = epoll_create1(EPOLL_CLOEXEC);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ep < 0 || timer_fd < 0)
		die("epoll/timerfd");
	ev.data.ptr = &listen_fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
	ev.data.ptr = &timer_fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, timer_fd, &ev);

	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &listen_fd) {
				accept_one();
			} else if (p == &timer_fd) {
				uint64_t x;

				(void)!read(timer_fd, &x, sizeof(x));
			} else {
				struct end *e = p;
				struct relay *r = e->r;

				if (r->dead)
					continue;
				if ((evs[i].events & EPOLLIN) || (evs[i].events & (EPOLLHUP | EPOLLERR))) {
					if (flow_pull(e->is_server ? &r->down : &r->up) < 0) {
						relay_kill(r);
						continue;
					}
				}
				if (evs[i].events & EPOLLOUT)
					(e->is_server ? &r->up : &r->down)->want_out = 0;
			}
		}
		push_all();
	}
}
