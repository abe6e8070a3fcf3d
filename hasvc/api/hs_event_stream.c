// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_event_stream: the event log as Server-Sent Events (see hs_event_stream.h).
 *
 * Wire format, one block per event, oldest first:
 *
 *	id: 42
 *	event: pair
 *	data: {"id":42,"time_usec":...,"node":"node1","vm":"vm1","kind":"pair",...}
 *	<empty line>
 *
 * and a comment line ": keep-alive" when nothing was sent for KEEPALIVE_USEC,
 * so that proxies and clients do not take a quiet cluster for a dead stream.
 * The id is the event's id in the replicated log, so a client that
 * reconnects with Last-Event-ID gets exactly what it missed (unless the log
 * was pruned meanwhile).
 *
 * MHD calls stream_read() whenever the socket can take more. A read with
 * nothing pending fills the buffer from sqlite (at most PAGE events); when
 * there is nothing to say it suspends the connection and returns 0, which
 * MHD allows in external polling mode. Suspended connections do not time out
 * and are not polled, so an idle stream costs one query per wake.
 *
 * Because a suspended connection is not polled, MHD would notice a client
 * that went away only when a keep-alive fails to send (15 s, and a write to
 * a socket the peer closed first succeeds: one more round). So before it
 * fills or suspends, a stream looks at its socket itself (poll with
 * POLLRDHUP, which does not read): a closed one ends the response and frees
 * the slot. Every wake resumes every stream, and the housekeeping timer
 * wakes them every 500 ms: a vanished client's slot is free within that.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "hs_clock.h"
#include "hs_json_cleanup.h"
#include "hs_api_schema.h"
#include "hs_event_stream.h"
#include "sdb.h"

#define KEEPALIVE_USEC (15 * 1000000ULL)
#define PAGE 100
#define BLOCK_SIZE (16 * 1024)

struct hs_event_stream {
	struct hs_event_streams *streams;
	struct hs_event_stream *next;
	struct sdb *db;
	struct MHD_Connection *connection;
	bool suspended;
	uint64_t last_id;
	uint64_t last_sent_usec;
	char *buf; /* what is still to send: buf[off..len) */
	size_t len, off;
};

/* The events after last_id into the buffer; nothing when there are none. */
static int stream_fill(struct hs_event_stream *s)
{
	_cleanup_json_ json_object *list = NULL;
	FILE *f;
	int r;

	free(s->buf);
	s->buf = NULL;
	s->len = s->off = 0;
	r = sdb_events_list(s->db, s->last_id, PAGE, &list);
	if (r < 0)
		return r;
	if (json_object_array_length(list) == 0 &&
	    hs_now_usec(CLOCK_MONOTONIC) < s->last_sent_usec + KEEPALIVE_USEC)
		return 0;
	f = open_memstream(&s->buf, &s->len);
	if (!f)
		return -ENOMEM;
	if (json_object_array_length(list) == 0)
		fputs(": keep-alive\n\n", f);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i);
		uint64_t id = (uint64_t)json_object_get_int64(json_object_object_get(e, "id"));
		const char *kind = json_object_get_string(json_object_object_get(e, "kind"));

		json_object_object_add(e, "schema", json_object_new_int(HS_API_SCHEMA));
		/* PLAIN escapes newlines inside strings: the data stays on one line */
		fprintf(f, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)id,
			kind && !strpbrk(kind, "\r\n") ? kind : "event",
			json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
		s->last_id = id;
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct hs_event_stream *s = cls;
	size_t n;

	if (s->off == s->len) {
		const union MHD_ConnectionInfo *info;

		if (s->streams->ending)
			return MHD_CONTENT_READER_END_OF_STREAM;
		info = s->connection ? MHD_get_connection_info(s->connection,
							       MHD_CONNECTION_INFO_CONNECTION_FD)
				     : NULL;
		if (info && hs_event_stream_peer_closed(info->connect_fd))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (stream_fill(s) < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (s->len == 0) {
			s->suspended = true;
			MHD_suspend_connection(s->connection);
			return 0;
		}
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->buf + s->off, n);
	s->off += n;
	s->last_sent_usec = hs_now_usec(CLOCK_MONOTONIC);
	return (ssize_t)n;
}

/* MHD is done with the response: the connection is closed. */
static void stream_free(void *cls)
{
	struct hs_event_stream *s = cls, **p;

	for (p = &s->streams->head; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			s->streams->count--;
			break;
		}
	}
	free(s->buf);
	free(s);
}

int hs_event_stream_new(struct hs_event_streams *streams, struct sdb *db,
			struct MHD_Connection *c, uint64_t since, struct MHD_Response **ret)
{
	struct hs_event_stream *s;
	struct MHD_Response *r;

	if (streams->count >= HS_EVENT_STREAMS_MAX)
		return -EBUSY;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct hs_event_stream){
		.streams = streams,
		.db = db,
		.connection = c,
		.last_id = since,
		.last_sent_usec = hs_now_usec(CLOCK_MONOTONIC),
	};
	/* A first line at once: the client sees the stream open before any event. */
	s->buf = strdup("retry: 2000\n: hasvc events\n\n");
	if (!s->buf) {
		free(s);
		return -ENOMEM;
	}
	s->len = strlen(s->buf);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK_SIZE, stream_read, s,
					      stream_free);
	if (!r) {
		free(s->buf);
		free(s);
		return -ENOMEM;
	}
	s->next = streams->head;
	streams->head = s;
	streams->count++;
	*ret = r;
	return 0;
}

void hs_event_streams_wake(struct hs_event_streams *streams, bool ending)
{
	streams->ending |= ending;
	for (struct hs_event_stream *s = streams->head; s; s = s->next) {
		if (!s->suspended)
			continue;
		s->suspended = false;
		MHD_resume_connection(s->connection);
	}
}

bool hs_event_stream_peer_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}
