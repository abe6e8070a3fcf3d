/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_event_stream: GET /v1/events/stream, the replicated event log as
 * Server-Sent Events (text/event-stream), internal to api/.
 *
 * Every stream is an MHD callback response that reads the sqlite events table
 * from the main loop (the only thread that touches sqlite). When it has
 * nothing to send it suspends its connection; hs_event_streams_wake() resumes
 * them all when the state changes and on the API's housekeeping timer, and
 * each then sends what is new, or a keep-alive comment once 15 s passed
 * without anything, or suspends again.
 *
 * Each listener has its own struct hs_event_streams and so its own
 * HS_EVENT_STREAMS_MAX slots: tokens on TCP cannot take the unix socket's
 * (`hasvc events --follow`). A stream whose client has gone (its socket
 * closed: FIN or RST) ends at the next wake, within one housekeeping period
 * (500 ms), rather than at the next keep-alive that fails to send (15 s and
 * more): its slot is free again at once.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

struct sdb;
struct hs_event_stream;

/* Streams one listener may serve at once: of the 128 connections it takes, room for the API. */
#define HS_EVENT_STREAMS_MAX 32

struct hs_event_streams {
	struct hs_event_stream *head;
	unsigned count;
	bool ending; /* the daemon stops: every stream ends at its next read */
};

/* A stream of the events after SINCE, for connection C; -EBUSY when STREAMS has no slot left. */
int hs_event_stream_new(struct hs_event_streams *streams, struct sdb *db,
			struct MHD_Connection *c, uint64_t since, struct MHD_Response **ret);

/* Resumes every suspended stream, so it looks for new events (or ends, if ENDING). */
void hs_event_streams_wake(struct hs_event_streams *streams, bool ending);

/*
 * Whether the peer of socket FD has closed it (FIN or RST seen), without
 * reading: what a suspended stream's connection is checked with.
 */
bool hs_event_stream_peer_closed(int fd);
