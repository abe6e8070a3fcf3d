// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_api_server: libmicrohttpd on the daemon's qb_loop (the object of hs_api.h).
 *
 * Each listener is an MHD daemon in MHD_USE_EPOLL mode with no thread: its
 * epoll fd is added to the qb_loop, and MHD_run() is called when that fd is
 * readable. One re-armed timer (every HOUSEKEEPING_MS) also calls MHD_run()
 * so that idle connections time out. Handlers run on the main loop like
 * everything else, so they read the daemon's state without locks.
 *
 * Request life: MHD calls the access handler first with the headers (we
 * allocate a struct request), then once per chunk of body (appended, refused
 * past MAX_BODY), then a last time with no data: only then is the route's
 * handler run (hs_api_routes.c) and the answer queued.
 *
 * The TCP listener is HTTPS (MHD_USE_TLS, the PEM texts of http_tls_cert and
 * http_tls_key) unless the configuration says http_plain = yes; the unix
 * socket is always plain: it is local and mode 0600.
 *
 * Slow clients (issue 16: 130 connections that each sent a header every 20 s
 * held all 128 of the TCP listener's slots, and every authenticated request
 * waited behind them; headers are read before any token is checked):
 *   - each listener is its own MHD daemon with its own 128 connections, so
 *     nothing done to the TCP port takes the unix socket's (the CLI);
 *   - the TCP listener takes at most http_client_connections (16) from one
 *     client address (MHD_OPTION_PER_IP_CONNECTION_LIMIT); more are closed
 *     as they are accepted;
 *   - a TCP connection has REQUEST_TIMEOUT_S from its accept, or from the end
 *     of its previous request, to deliver a whole request (TLS handshake,
 *     headers and body); a late one is shut down by the housekeeping timer.
 *     libmicrohttpd 0.9.75 (Debian 12) has one timeout only,
 *     MHD_OPTION_CONNECTION_TIMEOUT, and it counts from the last byte: a
 *     client sending one every few seconds is never late for it. It stays at
 *     30 s, for answers being sent to clients that stopped reading. A request
 *     being served (an event stream, a suspended fence check) is not under
 *     the deadline: suspended connections do not time out in MHD either.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "hs_api_internal.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_config.h"
#include "hs_core.h"

#define HOUSEKEEPING_MS 500
/*
 * A TCP client's time to send its request. An honest one sends it in one
 * round trip after the TLS handshake (milliseconds; a second on a bad
 * link): 10 s is ample for it, and a slow client from one address holds its
 * 16 slots for 10 s at a time instead of for ever.
 */
#define REQUEST_TIMEOUT_S 10
/* MHD's inactivity timeout: an answer whose client reads nothing for this long is cut */
#define IDLE_TIMEOUT_S 30
#define CUT_LOG_USEC (60 * 1000000ULL)
#define MHD_LOG_PER_MINUTE 10

/* The tracked connection behind C; NULL on a listener without the deadline. */
static struct client *client_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct request *req = *con_cls;

	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!req->too_large && req->len + *upload_size <= MAX_BODY) {
			char *grown = realloc(req->body, req->len + *upload_size + 1);
			if (!grown)
				return MHD_NO;
			req->body = grown;
			memcpy(req->body + req->len, upload_data, *upload_size);
			req->len += *upload_size;
			req->body[req->len] = '\0';
		} else {
			req->too_large = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->deferred) {
		json_object *answer = TAKE_PTR(req->deferred);
		return hs__api_queue_json(c, req->deferred_status, answer) == MHD_YES ? MHD_YES : MHD_NO;
	}
	if (req->suspended)
		return MHD_YES;
	req->listener = l;
	req->connection = c;
	if (l->request_deadline) {
		struct client *cl = client_of(c);

		/* the whole request is in: what follows is ours to answer */
		if (cl)
			cl->waiting_since_usec = 0;
	}
	return hs__api_dispatch(l, c, url, method, req) == MHD_YES ? MHD_YES : MHD_NO;
}

static void request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			      enum MHD_RequestTerminationCode code)
{
	struct listener *l = cls;
	struct request *req = *con_cls;

	if (l->request_deadline) {
		struct client *cl = client_of(c);

		/* kept alive, it waits for the next request: the deadline again */
		if (cl)
			cl->waiting_since_usec = hs_now_usec(CLOCK_MONOTONIC);
	}
	if (req) {
		json_object_put(req->deferred);
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
}

/* --- the TCP listener's deadline ---------------------------------------- */

static void connection_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	struct listener *l = cls;
	struct client *cl = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		cl = calloc(1, sizeof(*cl));
		if (!cl)
			return; /* untracked: only MHD's idle timeout bounds it */
		cl->connection = c;
		cl->waiting_since_usec = hs_now_usec(CLOCK_MONOTONIC);
		cl->next = l->clients;
		if (l->clients)
			l->clients->prev = cl;
		l->clients = cl;
		*socket_context = cl;
		return;
	}
	if (!cl)
		return;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		l->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	free(cl);
	*socket_context = NULL;
}

/*
 * Shuts down the connections that did not deliver a request in time. MHD
 * owns the socket: shutdown() (not close) makes its next read see the end,
 * and MHD closes the connection as any other the client ended.
 */
static void listener_cut_late(struct listener *l)
{
	uint64_t now = hs_now_usec(CLOCK_MONOTONIC);

	for (struct client *cl = l->clients; cl; cl = cl->next) {
		const union MHD_ConnectionInfo *info;

		if (cl->cut || !cl->waiting_since_usec ||
		    now - cl->waiting_since_usec < REQUEST_TIMEOUT_S * 1000000ULL)
			continue;
		info = MHD_get_connection_info(cl->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!info)
			continue;
		shutdown(info->connect_fd, SHUT_RDWR);
		cl->cut = true;
		l->cut_unlogged++;
	}
	if (l->cut_unlogged && now - l->cut_logged_usec >= CUT_LOG_USEC) {
		qb_log(LOG_NOTICE, "API on %s: closed %u connections that sent no whole request "
		       "within %d s", l->what, l->cut_unlogged, REQUEST_TIMEOUT_S);
		l->cut_unlogged = 0;
		l->cut_logged_usec = now;
	}
}

/*
 * MHD's messages (MHD_USE_ERROR_LOG) into our log, at most
 * MHD_LOG_PER_MINUTE a minute: at its connection limits MHD says one line
 * per connection it refuses, and a flood must not become one in the log.
 */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct listener *l = cls;
	uint64_t now = hs_now_usec(CLOCK_MONOTONIC);
	char msg[256];
	size_t len;

	if (now - l->mhd_log_window_usec >= 60 * 1000000ULL) {
		if (l->mhd_log_dropped)
			qb_log(LOG_WARNING, "API on %s: %u more libmicrohttpd messages not logged",
			       l->what, l->mhd_log_dropped);
		l->mhd_log_window_usec = now;
		l->mhd_log_count = l->mhd_log_dropped = 0;
	}
	if (l->mhd_log_count >= MHD_LOG_PER_MINUTE) {
		l->mhd_log_dropped++;
		return;
	}
	l->mhd_log_count++;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		msg[--len] = '\0';
	qb_log(LOG_WARNING, "API on %s: libmicrohttpd: %s", l->what, msg);
}

/* --- listeners on the loop ---------------------------------------------- */

static int32_t listener_ready(int32_t fd, int32_t revents, void *data)
{
	struct listener *l = data;

	MHD_run(l->mhd);
	return 0;
}

static void housekeeping(void *data)
{
	struct hs_api *api = data;

	/* idle event streams: keep-alives are due, closed clients are noticed */
	hs_event_streams_wake(&api->unix_listener.streams, false);
	hs_event_streams_wake(&api->tcp_listener.streams, false);
	/* slow clients: the TCP connections late with their request are shut down */
	if (api->tcp_listener.mhd)
		listener_cut_late(&api->tcp_listener);
	if (api->unix_listener.mhd)
		MHD_run(api->unix_listener.mhd);
	if (api->tcp_listener.mhd)
		MHD_run(api->tcp_listener.mhd);
	qb_loop_timer_add(api->core->loop, QB_LOOP_LOW, HOUSEKEEPING_MS * 1000000ULL, api,
			  housekeeping, &api->timer);
}

/*
 * With l->tls_cert set, the listener serves HTTPS with it and l->tls_key.
 * PER_CLIENT > 0 (TCP): that many connections per client address, and the
 * request deadline; 0 (the unix socket): neither, its peers are local.
 */
static int listener_start(struct hs_api *api, struct listener *l, int fd, bool needs_token,
			  unsigned per_client, const char *what)
{
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	struct MHD_OptionItem opts[10];
	size_t n = 0;

	l->api = api;
	l->needs_token = needs_token;
	l->what = what;
	l->request_deadline = per_client > 0;
	/* first, or MHD logs what the options before it say its own way */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, l};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
					    (intptr_t)request_completed, l};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, HS_API_CONNECTIONS, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, NULL};
	if (per_client) {
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_client,
						    NULL};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION,
						    (intptr_t)connection_notify, l};
	}
	if (l->tls_cert) {
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, l->tls_cert};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, l->tls_key};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	assert(n <= sizeof(opts) / sizeof(opts[0]));
	l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, l, MHD_OPTION_ARRAY, opts,
				  MHD_OPTION_END);
	if (!l->mhd) {
		close(fd);
		qb_log(LOG_ERR, "cannot start the API on %s", what);
		return -EIO;
	}
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	l->epoll_fd = info ? info->epoll_fd : -1;
	if (l->epoll_fd < 0 || qb_loop_poll_add(api->core->loop, QB_LOOP_MED, l->epoll_fd, POLLIN,
						l, listener_ready) < 0) {
		qb_log(LOG_ERR, "cannot poll the API on %s", what);
		return -EIO;
	}
	return 0;
}

static void listener_stop(struct hs_api *api, struct listener *l)
{
	if (l->mhd) {
		qb_loop_poll_del(api->core->loop, l->epoll_fd);
		MHD_stop_daemon(l->mhd);
		l->mhd = NULL;
	}
	if (l->tls_key)
		explicit_bzero(l->tls_key, strlen(l->tls_key));
	free(l->tls_key);
	free(l->tls_cert);
	l->tls_key = l->tls_cert = NULL;
}

int hs_api_new(struct hs_core *core, struct hs_pairs *pairs, struct hs_fencing *fencing,
	       struct hs_api **ret)
{
	const struct hs_config *cfg = core->config;
	struct hs_api *api;
	int fd = -1, r;

	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->core = core;
	api->pairs = pairs;
	api->fencing = fencing;

	/*
	 * The certificate first: a bad one stops the daemon before it takes
	 * the unix socket (and its path) from anyone.
	 */
	if (cfg->http_listen && cfg->http_plain) {
		qb_log(LOG_WARNING, "http_plain = yes: the TCP API on %s is plain HTTP, its "
		       "tokens cross the network in clear; set http_tls_cert and "
		       "http_tls_key for HTTPS", cfg->http_listen);
	} else if (cfg->http_listen) {
		/* hs_config refuses http_listen without both, or http_plain */
		r = hs__api_tls_load(cfg->http_tls_cert, cfg->http_tls_key,
				     &api->tcp_listener.tls_cert, &api->tcp_listener.tls_key);
		if (r < 0)
			goto out_free;
	}
	r = hs__api_unix_socket_open(cfg->api_socket, &fd);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot listen on %s: %s", cfg->api_socket, strerror(-r));
		goto out_free;
	}
	r = listener_start(api, &api->unix_listener, fd, false, 0, cfg->api_socket);
	if (r < 0)
		goto out_free;

	if (cfg->http_listen) {
		r = hs__api_tokens_load(api, cfg->token_file);
		if (r < 0)
			goto out_free;
		r = hs__api_tcp_socket_open(cfg->http_listen, &fd);
		if (r < 0) {
			qb_log(LOG_ERR, "cannot listen on %s (http_listen): %s", cfg->http_listen,
			       r == -EINVAL ? "expected IPv4ADDR:PORT" : strerror(-r));
			goto out_free;
		}
		r = listener_start(api, &api->tcp_listener, fd, true, cfg->http_client_connections,
				   cfg->http_listen);
		if (r < 0)
			goto out_free;
		qb_log(LOG_INFO, "TCP API on %s: %s, %u connections per client address", cfg->http_listen,
		       cfg->http_plain ? "plain HTTP" : "HTTPS", cfg->http_client_connections);
	}
	qb_loop_timer_add(core->loop, QB_LOOP_LOW, HOUSEKEEPING_MS * 1000000ULL, api,
			  housekeeping, &api->timer);
	*ret = api;
	return 0;

out_free:
	hs_api_free(api);
	return r;
}

void hs_api_free(struct hs_api *api)
{
	if (!api)
		return;
	qb_loop_timer_del(api->core->loop, api->timer);
	/*
	 * MHD must not be stopped with connections suspended; one more run lets
	 * the streams end their answer properly rather than be cut.
	 */
	hs_event_streams_wake(&api->unix_listener.streams, true);
	hs_event_streams_wake(&api->tcp_listener.streams, true);
	if (api->unix_listener.mhd)
		MHD_run(api->unix_listener.mhd);
	if (api->tcp_listener.mhd)
		MHD_run(api->tcp_listener.mhd);
	listener_stop(api, &api->unix_listener);
	listener_stop(api, &api->tcp_listener);
	for (size_t i = 0; i < api->n_tokens; i++) {
		free(api->tokens[i].secret);
		free(api->tokens[i].name);
	}
	free(api);
}

void hs_api_changed(struct hs_api *api)
{
	if (!api)
		return;
	hs_event_streams_wake(&api->unix_listener.streams, false);
	hs_event_streams_wake(&api->tcp_listener.streams, false);
}
