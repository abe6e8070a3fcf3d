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
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "hs_api_internal.h"
#include "hs_cleanup.h"
#include "hs_core.h"

#define HOUSEKEEPING_MS 500

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
	return hs__api_dispatch(l, c, url, method, req) == MHD_YES ? MHD_YES : MHD_NO;
}

static void request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			      enum MHD_RequestTerminationCode code)
{
	struct request *req = *con_cls;

	if (req) {
		json_object_put(req->deferred);
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
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
	hs_event_streams_wake(&api->streams, false);
	if (api->unix_listener.mhd)
		MHD_run(api->unix_listener.mhd);
	if (api->tcp_listener.mhd)
		MHD_run(api->tcp_listener.mhd);
	qb_loop_timer_add(api->core->loop, QB_LOOP_LOW, HOUSEKEEPING_MS * 1000000ULL, api,
			  housekeeping, &api->timer);
}

/* With l->tls_cert set, the listener serves HTTPS with it and l->tls_key. */
static int listener_start(struct hs_api *api, struct listener *l, int fd, bool needs_token,
			  const char *what)
{
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;

	l->api = api;
	l->needs_token = needs_token;
	l->what = what;
	if (l->tls_cert)
		l->mhd = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, access_handler, l,
					  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
					  request_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, 128,
					  MHD_OPTION_CONNECTION_TIMEOUT, 30,
					  MHD_OPTION_HTTPS_MEM_CERT, l->tls_cert,
					  MHD_OPTION_HTTPS_MEM_KEY, l->tls_key, MHD_OPTION_END);
	else
		l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, l,
					  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
					  request_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, 128,
					  MHD_OPTION_CONNECTION_TIMEOUT, 30, MHD_OPTION_END);
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
	r = listener_start(api, &api->unix_listener, fd, false, cfg->api_socket);
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
		r = listener_start(api, &api->tcp_listener, fd, true, cfg->http_listen);
		if (r < 0)
			goto out_free;
		qb_log(LOG_INFO, "TCP API on %s: %s", cfg->http_listen,
		       cfg->http_plain ? "plain HTTP" : "HTTPS");
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
	hs_event_streams_wake(&api->streams, true);
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
	if (api)
		hs_event_streams_wake(&api->streams, false);
}
