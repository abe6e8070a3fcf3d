/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_web: the HTTP + JSON API of hasvcd, served from the daemon's qb_loop.
 *
 * Two listeners, one libmicrohttpd daemon each, both in epoll mode without a
 * thread of their own: the epoll fd is polled on the qb_loop and MHD_run() is
 * called when it is readable or when MHD's own timeout expires.
 *   - the unix socket `api_socket` (mode 0600): the CLI, full rights;
 *   - TCP `http_listen` (optional): the dashboard and Prometheus; every request
 *     needs "Authorization: Bearer TOKEN" with a token from `token_file`
 *     (lines "TOKEN read|admin NAME"); read tokens may only GET. The event
 *     stream alone also takes ?token=TOKEN (a browser's EventSource cannot
 *     send headers).
 *
 * Requests are routed by one table {method, path, handler, needs_admin}.
 * Every JSON answer carries "schema": HS_API_SCHEMA; errors are
 * {"schema", "error", "message"} with the matching HTTP status.
 */
#pragma once

#include <json-c/json.h>

#define HS_API_SCHEMA 1

struct hs_daemon;
struct hs_web;

int hs_web_new(struct hs_daemon *daemon, struct hs_web **ret);
void hs_web_free(struct hs_web *web);

/* The replicated state changed: event streams look for new events now. */
void hs_web_changed(struct hs_web *web);

/* Builders shared by the handlers (hs_api_*.c) and their tests. */
json_object *hs_api_status_json(struct hs_daemon *daemon);
json_object *hs_api_nodes_json(struct hs_daemon *daemon);
/* Prometheus text; caller frees. */
char *hs_api_metrics_text(struct hs_daemon *daemon);
