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
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

struct sdb;
struct hs_event_stream;

struct hs_event_streams {
	struct hs_event_stream *head;
	unsigned count;
	bool ending; /* the daemon stops: every stream ends at its next read */
};

/* A stream of the events after SINCE, for connection C; -EBUSY when too many are open. */
int hs_event_stream_new(struct hs_event_streams *streams, struct sdb *db,
			struct MHD_Connection *c, uint64_t since, struct MHD_Response **ret);

/* Resumes every suspended stream, so it looks for new events (or ends, if ENDING). */
void hs_event_streams_wake(struct hs_event_streams *streams, bool ending);
