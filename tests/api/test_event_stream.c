// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the event stream's slots (hs_event_stream.c): each listener's
 * struct hs_event_streams holds HS_EVENT_STREAMS_MAX streams and refuses the
 * next with -EBUSY, whatever the other listener holds (issue 16: the slots
 * were shared, and a read token on TCP could take the unix socket's
 * `hasvc events --follow`); a slot is free again when MHD lets go of the
 * stream's response. And hs_event_stream_peer_closed, with which a suspended
 * stream notices that its client went away, on unix and TCP sockets.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hs_event_stream.h"

/* N streams opened on STREAMS (no database, no connection: they are never read). */
static void open_streams(struct hs_event_streams *streams, struct MHD_Response **resp, int n)
{
	for (int i = 0; i < n; i++)
		cr_assert_eq(hs_event_stream_new(streams, NULL, NULL, 0, &resp[i]), 0,
			     "stream %d of %d refused", i + 1, n);
}

Test(event_stream, a_listener_full_of_streams_leaves_the_others_slots)
{
	struct hs_event_streams tcp = {0}, unix_socket = {0};
	struct MHD_Response *resp[HS_EVENT_STREAMS_MAX], *more = NULL, *cli = NULL;

	open_streams(&tcp, resp, HS_EVENT_STREAMS_MAX);
	cr_assert_eq(hs_event_stream_new(&tcp, NULL, NULL, 0, &more), -EBUSY);
	cr_assert_null(more, "written on failure");
	cr_assert_eq(hs_event_stream_new(&unix_socket, NULL, NULL, 0, &cli), 0,
		     "the unix socket's stream refused while TCP is full");
	MHD_destroy_response(cli);
	for (int i = 0; i < HS_EVENT_STREAMS_MAX; i++)
		MHD_destroy_response(resp[i]);
	cr_assert_eq(tcp.count, 0);
	cr_assert_null(tcp.head);
	cr_assert_eq(unix_socket.count, 0);
}

Test(event_stream, a_slot_is_free_again_once_its_response_is_let_go)
{
	struct hs_event_streams tcp = {0};
	struct MHD_Response *resp[HS_EVENT_STREAMS_MAX], *again = NULL;

	open_streams(&tcp, resp, HS_EVENT_STREAMS_MAX);
	/* the one in the middle of the list ends (its client went away) */
	MHD_destroy_response(resp[HS_EVENT_STREAMS_MAX / 2]);
	cr_assert_eq(tcp.count, HS_EVENT_STREAMS_MAX - 1);
	cr_assert_eq(hs_event_stream_new(&tcp, NULL, NULL, 0, &again), 0);
	resp[HS_EVENT_STREAMS_MAX / 2] = again;
	for (int i = 0; i < HS_EVENT_STREAMS_MAX; i++)
		MHD_destroy_response(resp[i]);
	cr_assert_eq(tcp.count, 0);
}

Test(event_stream, a_unix_peer_that_closed_is_seen_without_reading)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_not(hs_event_stream_peer_closed(sv[0]), "an open peer taken for closed");
	/* a request pipelined behind the stream is data, not a close */
	cr_assert_eq(write(sv[1], "GET", 3), 3);
	cr_assert_not(hs_event_stream_peer_closed(sv[0]), "data taken for a close");
	close(sv[1]);
	cr_assert(hs_event_stream_peer_closed(sv[0]), "a closed peer not seen");
	close(sv[0]);
}

Test(event_stream, a_tcp_peer_that_closed_is_seen_without_reading)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int lfd, client, server;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	client = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	server = accept(lfd, NULL, NULL);
	cr_assert_geq(server, 0);
	cr_assert_not(hs_event_stream_peer_closed(server));
	close(client);
	/* the FIN crosses loopback at once, but give it a moment */
	for (int i = 0; i < 100 && !hs_event_stream_peer_closed(server); i++)
		usleep(10000);
	cr_assert(hs_event_stream_peer_closed(server), "a closed TCP peer not seen");
	close(server);
	close(lfd);
}
