// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_api_routes: the route table, routing and authorisation.
 *
 * A route is {method, path, handler, needs_admin, token_in_query, flags}; a
 * path is exact, or a prefix ending in '/' followed by one name (and at most
 * one lowercase verb: "vm1/switchover"), and that name must pass the one name
 * rule (hs_name). On TCP every route but the dashboard's files needs a token,
 * and a write needs an admin token. A test hook route exists only on the unix
 * socket of a daemon whose configuration says `test_hooks = yes`; elsewhere
 * it is "no such path".
 */
#include <string.h>

#include "hs_api_internal.h"
#include "hs_cleanup.h"
#include "hs_core.h"
#include "hs_name.h"

struct route {
	const char *method;
	const char *path;
	hs_api_handler_fn handler;
	bool needs_admin;
	/*
	 * The token may also come as ?token= (TCP only): a browser's EventSource
	 * cannot send an Authorization header. Only on a read-only stream, since
	 * a URL ends up in logs and history.
	 */
	bool token_in_query;
	bool open;      /* no token needed: the dashboard's files */
	bool test_hook; /* unix socket only, test_hooks = yes only */
};

static const struct route routes[] = {
	/* method  path                handler                  admin  query  open   test */
	{"GET", "/v1/status", hs__api_get_status, false, false, false, false},
	{"GET", "/v1/nodes", hs__api_get_nodes, false, false, false, false},
	{"POST", "/v1/nodes/", hs__api_post_node_action, true, false, false, false},
	{"GET", "/v1/pairs", hs__api_get_pairs, false, false, false, false},
	{"GET", "/v1/pairs/", hs__api_get_pair, false, false, false, false},
	{"POST", "/v1/pairs", hs__api_post_pairs, true, false, false, false},
	{"POST", "/v1/pairs/", hs__api_post_pair_action, true, false, false, false},
	{"DELETE", "/v1/pairs/", hs__api_delete_pair, true, false, false, false},
	{"PATCH", "/v1/pairs/", hs__api_patch_pair, true, false, false, false},
	{"GET", "/v1/events", hs__api_get_events, false, false, false, false},
	{"GET", "/v1/events/stream", hs__api_get_event_stream, false, true, false, false},
	{"GET", "/v1/fence-log", hs__api_get_fence_log, false, false, false, false},
	{"POST", "/v1/fence/check", hs__api_post_fence_check, true, false, false, false},
	{"POST", "/v1/test/propose", hs__api_post_test_propose, true, false, false, true},
	{"GET", "/metrics", hs__api_get_metrics, false, false, false, false},
	{"GET", "/", hs__api_get_static, false, false, true, false},
	{"GET", "/static/", hs__api_get_static, false, false, true, false},
};

/* "NAME" or "NAME/verb": a valid name, then at most one lowercase verb. */
static bool path_name_is_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	char head[HS_NAME_MAX + 1];

	if (!slash)
		return hs_name_valid(s);
	if ((size_t)(slash - s) >= sizeof(head))
		return false;
	memcpy(head, s, (size_t)(slash - s));
	head[slash - s] = '\0';
	if (!hs_name_valid(head) || !slash[1])
		return false;
	for (const char *p = slash + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '-'))
			return false;
	return true;
}

/* Matches URL against PATH; for a prefix route, *ret_name is the rest. */
static bool route_matches(const struct route *r, const char *url, const char **ret_name)
{
	size_t n = strlen(r->path);

	*ret_name = NULL;
	if (strcmp(r->path, url) == 0)
		return true;
	if (n > 1 && r->path[n - 1] == '/' && strncmp(r->path, url, n) == 0) {
		*ret_name = url + n;
		return true;
	}
	return false;
}

/* The route exists on listener L (test hooks: on the unix socket of a test daemon only). */
static bool route_offered(const struct route *r, const struct listener *l)
{
	return !r->test_hook || (!l->needs_token && l->api->core->config->test_hooks);
}

int hs__api_dispatch(struct listener *l, struct MHD_Connection *c, const char *url,
		     const char *method, struct request *req)
{
	struct hs_api *api = l->api;
	const struct route *found = NULL;
	const char *name = NULL;
	bool path_known = false;

	if (req->too_large)
		return hs__api_queue_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
					   "request body over %d bytes", MAX_BODY);
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		const char *n;
		if (!route_offered(&routes[i], l) || !route_matches(&routes[i], url, &n))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, method) == 0) {
			found = &routes[i];
			name = n;
			break;
		}
	}
	if (!found)
		return path_known ? hs__api_queue_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
							"method_not_allowed", "%s is not allowed on %s",
							method, url)
				  : hs__api_queue_error(c, MHD_HTTP_NOT_FOUND, "not_found",
							"no such path %s", url);
	if (name && *name && !path_name_is_valid(name))
		return hs__api_queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_name",
					   "'%s' is not a valid name (" HS_NAME_RULE ")", name);
	if (l->needs_token && !found->open) {
		enum token_role role = hs__api_token_role(api, c, found->token_in_query);
		if (role == ROLE_NONE)
			return hs__api_queue_error(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
						   "a valid bearer token is required");
		if (found->needs_admin && role != ROLE_ADMIN)
			return hs__api_queue_error(c, MHD_HTTP_FORBIDDEN, "forbidden",
						   "this token may only read");
	}
	return found->handler(api, c, name, req);
}
