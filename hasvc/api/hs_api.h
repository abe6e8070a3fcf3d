/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_api: the HTTP + JSON API of hasvcd, served from the daemon's qb_loop.
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
 * Requests are routed by one table (hs_api_routes.c). Every JSON answer
 * carries "schema": HS_API_SCHEMA; errors are {"schema", "error", "message"}
 * with the HTTP status of the errno behind them, from one table
 * (hs_api_reply.c).
 *
 * The API reads the core and asks pairs/ and coord/ (fencing) to act; it is
 * the only room that speaks HTTP.
 */
#pragma once

#include "hs_api_schema.h"

struct hs_core;
struct hs_pairs;
struct hs_fencing;
struct hs_api;

int hs_api_new(struct hs_core *core, struct hs_pairs *pairs, struct hs_fencing *fencing,
	       struct hs_api **ret);
void hs_api_free(struct hs_api *api);

/* The replicated state changed: event streams look for new events now. */
void hs_api_changed(struct hs_api *api);
