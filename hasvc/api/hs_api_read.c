// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_api_read: the GET handlers: status, nodes, metrics, pairs, events (a
 * page, or the stream), the fence log, and the dashboard's files. Reads
 * only: each answers from the core's state on the main loop, without locks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_api_internal.h"
#include "hs_cleanup.h"
#include "hs_core.h"
#include "sdb.h"

int hs__api_get_status(struct hs_api *api, struct MHD_Connection *c, const char *name,
		      struct request *req)
{
	return hs__api_queue_json(c, MHD_HTTP_OK, hs__api_status_json(api->core));
}

int hs__api_get_nodes(struct hs_api *api, struct MHD_Connection *c, const char *name,
		     struct request *req)
{
	return hs__api_queue_json(c, MHD_HTTP_OK, hs__api_nodes_json(api->core));
}

int hs__api_get_metrics(struct hs_api *api, struct MHD_Connection *c, const char *name,
		       struct request *req)
{
	_cleanup_free_ char *text = hs__api_metrics_text(api->core);

	if (!text)
		return hs__api_queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
	return hs__api_queue_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4", text, strlen(text));
}

/* A json-c array from a state query, wrapped as {KEY: [...]}. */
static int queue_list(struct hs_api *api, struct MHD_Connection *c, const char *key, int r,
		      json_object *list)
{
	json_object *o;

	if (r < 0)
		return hs__api_queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				   "cannot read the cluster state: %s", sdb_errmsg(api->core->db));
	o = json_object_new_object();
	json_object_object_add(o, key, list);
	return hs__api_queue_json(c, MHD_HTTP_OK, o);
}

int hs__api_get_pairs(struct hs_api *api, struct MHD_Connection *c, const char *name,
		     struct request *req)
{
	json_object *list = NULL;
	int r = sdb_pairs_list(api->core->db, &list);

	return queue_list(api, c, "pairs", r, list);
}

int hs__api_get_pair(struct hs_api *api, struct MHD_Connection *c, const char *vm,
		    struct request *req)
{
	json_object *pair = NULL;
	int r = sdb_pair_get(api->core->db, vm, &pair);

	if (r == -ENOENT)
		return hs__api_queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no pair for VM '%s'", vm);
	if (r < 0)
		return hs__api_queue_errno(c, r, "cannot read the pair");
	return hs__api_queue_json(c, MHD_HTTP_OK, pair);
}

/* A whole number query argument, or DEFAULT; -EINVAL for junk. */
static int query_uint(struct MHD_Connection *c, const char *key, uint64_t def, uint64_t *ret)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
	char *end;

	*ret = def;
	if (!v)
		return 0;
	errno = 0;
	*ret = strtoull(v, &end, 10);
	return (*v < '0' || *v > '9' || *end || errno) ? -EINVAL : 0;
}

int hs__api_get_events(struct hs_api *api, struct MHD_Connection *c, const char *name,
		      struct request *req)
{
	json_object *list = NULL;
	uint64_t since, limit;
	int r;

	if (query_uint(c, "since", 0, &since) < 0 || query_uint(c, "limit", 1000, &limit) < 0 ||
	    limit == 0 || limit > 10000)
		return hs__api_queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_query",
				   "since and limit must be whole numbers (limit 1 to 10000)");
	r = sdb_events_list(api->core->db, since, (unsigned)limit, &list);
	return queue_list(api, c, "events", r, list);
}

/*
 * GET /v1/events/stream: Server-Sent Events from ?since=ID, or from the
 * Last-Event-ID header a reconnecting EventSource sends (it wins).
 */
int hs__api_get_event_stream(struct hs_api *api, struct MHD_Connection *c, const char *name,
			    struct request *req)
{
	const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	struct MHD_Response *resp;
	uint64_t since;
	char *end;
	int r, ok;

	if (query_uint(c, "since", 0, &since) < 0)
		return hs__api_queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_query",
				   "since must be a whole number");
	if (last && *last) {
		errno = 0;
		since = strtoull(last, &end, 10);
		if (*last < '0' || *last > '9' || *end || errno)
			return hs__api_queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_query",
					   "Last-Event-ID must be a whole number");
	}
	r = hs_event_stream_new(&req->listener->streams, api->core->db, c, since, &resp);
	if (r == -EBUSY)
		return hs__api_queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
				   "too many event streams are open; poll /v1/events instead");
	if (r < 0)
		return hs__api_queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ok;
}

int hs__api_get_fence_log(struct hs_api *api, struct MHD_Connection *c, const char *name,
			 struct request *req)
{
	json_object *list = NULL;
	int r = sdb_fence_log_list(api->core->db, NULL, 0, &list);

	return queue_list(api, c, "fence_log", r, list);
}

/* Answers a suspended request: ANSWER (taken) is queued when MHD calls us again. */

static const struct {
	const char *name;
	const char *type;
} static_files[] = {
	{"index.html", "text/html; charset=utf-8"},
	{"app.js", "text/javascript; charset=utf-8"},
	{"style.css", "text/css; charset=utf-8"},
};

int hs__api_get_static(struct hs_api *api, struct MHD_Connection *c, const char *name,
		      struct request *req)
{
	const char *url_name = name && *name ? name : "index.html";
	_cleanup_free_ char *path = NULL, *data = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	size_t i, len;
	long size;

	for (i = 0; i < ARRAY_SIZE(static_files); i++)
		if (strcmp(static_files[i].name, url_name) == 0)
			break;
	if (i == ARRAY_SIZE(static_files))
		return hs__api_queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no page '%s'", url_name);
	if (asprintf(&path, "%s/%s", api->core->config->web_dir, static_files[i].name) < 0)
		return MHD_NO;
	f = fopen(path, "re");
	if (!f || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		return hs__api_queue_error(c, MHD_HTTP_NOT_FOUND, "not_found",
				   "dashboard file %s is missing: %s", path, strerror(errno));
	data = malloc((size_t)size + 1);
	if (!data)
		return MHD_NO;
	len = fread(data, 1, (size_t)size, f);
	return hs__api_queue_text(c, MHD_HTTP_OK, static_files[i].type, data, len);
}
