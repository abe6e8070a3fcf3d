// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_web: libmicrohttpd on the daemon's qb_loop, routing and authorisation.
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
 * handler run and the answer queued.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <microhttpd.h>
#include <qb/qblog.h>

#include "hs_api_body.h"
#include "hs_daemon.h"
#include "hs_fencing.h"
#include "hs_pairs.h"
#include "hs_state.h"
#include "sdb.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"
#include "hs_web.h"
#include "hs_web_stream.h"

#define MAX_BODY (64 * 1024)
#define HOUSEKEEPING_MS 500
#define MAX_TOKENS 64

enum token_role { ROLE_NONE, ROLE_READ, ROLE_ADMIN };

struct token {
	char *secret;
	char *name;
	enum token_role role;
};

struct listener {
	struct hs_web *web;
	struct MHD_Daemon *mhd;
	int epoll_fd;
	bool needs_token; /* TCP: yes; the unix socket is guarded by its file mode */
	const char *what;
};

struct hs_web {
	struct hs_daemon *daemon;
	struct listener unix_listener;
	struct listener tcp_listener;
	qb_loop_timer_handle timer;
	struct token tokens[MAX_TOKENS];
	size_t n_tokens;
	struct hs_event_streams streams;
};

struct request {
	char *body;
	size_t len;
	bool too_large;
	/* An answer that needed the loop to finish something (a fence): */
	struct listener *listener;
	struct MHD_Connection *connection;
	bool suspended;
	unsigned deferred_status;
	json_object *deferred; /* queued at the next call of the access handler */
	bool in_handler;       /* an operation answering now is answered directly */
};

struct route {
	const char *method;
	const char *path; /* exact, or a prefix ending in '/' followed by one name */
	int (*handler)(struct hs_web *web, struct MHD_Connection *c, const char *name,
		       struct request *req);
	bool needs_admin;
	/*
	 * The token may also come as ?token= (TCP only): a browser's EventSource
	 * cannot send an Authorization header. Only on a read-only stream, since
	 * a URL ends up in logs and history.
	 */
	bool token_in_query;
};

static int queue_text(struct MHD_Connection *c, unsigned status, const char *type,
		      const char *text, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* Queues OBJ (consumed) with "schema" added. */
static int queue_json(struct MHD_Connection *c, unsigned status, json_object *obj)
{
	const char *text;
	int ok;

	if (!obj)
		return MHD_NO;
	json_object_object_add(obj, "schema", json_object_new_int(HS_API_SCHEMA));
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	ok = queue_text(c, status, "application/json", text, strlen(text));
	json_object_put(obj);
	return ok;
}

static int queue_error(struct MHD_Connection *c, unsigned status, const char *error,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int queue_error(struct MHD_Connection *c, unsigned status, const char *error,
		       const char *fmt, ...)
{
	json_object *obj = json_object_new_object();
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	json_object_object_add(obj, "error", json_object_new_string(error));
	json_object_object_add(obj, "message", json_object_new_string(msg ? msg : error));
	return queue_json(c, status, obj);
}

/*
 * The request body checked against FIELDS (hs_api_body): true with *ret set,
 * or false with the 400 already queued in *ret_ok, naming the field.
 */
static bool body_parse(struct MHD_Connection *c, struct request *req,
		       const struct hs_body_field *fields, size_t n_fields, json_object **ret,
		       int *ret_ok)
{
	struct hs_body_error err;
	json_object *obj;

	if (hs_api_body_parse(req->body, req->len, fields, n_fields, ret, &err) == 0)
		return true;
	obj = json_object_new_object();
	json_object_object_add(obj, "error", json_object_new_string("bad_request"));
	json_object_object_add(obj, "message", json_object_new_string(err.message));
	if (err.field[0])
		json_object_object_add(obj, "field", json_object_new_string(err.field));
	*ret_ok = queue_json(c, MHD_HTTP_BAD_REQUEST, obj);
	return false;
}

/* For the writes that take no body: nothing, or {}. */
static bool body_is_empty(struct MHD_Connection *c, struct request *req, int *ret_ok)
{
	_cleanup_json_ json_object *body = NULL;

	return body_parse(c, req, NULL, 0, &body, ret_ok);
}

/* --- handlers ----------------------------------------------------------- */

static int get_status(struct hs_web *web, struct MHD_Connection *c, const char *name,
		      struct request *req)
{
	return queue_json(c, MHD_HTTP_OK, hs_api_status_json(web->daemon));
}

static int get_nodes(struct hs_web *web, struct MHD_Connection *c, const char *name,
		     struct request *req)
{
	return queue_json(c, MHD_HTTP_OK, hs_api_nodes_json(web->daemon));
}

static int get_metrics(struct hs_web *web, struct MHD_Connection *c, const char *name,
		       struct request *req)
{
	_cleanup_free_ char *text = hs_api_metrics_text(web->daemon);

	if (!text)
		return queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
	return queue_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4", text, strlen(text));
}

/* -errno of the state and fencing layers as an API error. */
static int queue_errno(struct MHD_Connection *c, int err, const char *what)
{
	switch (err) {
	case -ENOLINK:
		return queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no_quorum",
				   "%s: this host's partition has no quorum", what);
	case -EAGAIN:
		return queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "syncing",
				   "%s: the cluster state is being synchronised; try again", what);
	case -EBUSY:
		return queue_error(c, MHD_HTTP_CONFLICT, "busy", "%s: already under way", what);
	case -ENOENT:
		return queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "%s: no such object", what);
	default:
		return queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s: %s", what,
				   strerror(-err));
	}
}

/* A json-c array from a state query, wrapped as {KEY: [...]}. */
static int queue_list(struct hs_web *web, struct MHD_Connection *c, const char *key, int r,
		      json_object *list)
{
	json_object *o;

	if (r < 0)
		return queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				   "cannot read the cluster state: %s", sdb_errmsg(web->daemon->db));
	o = json_object_new_object();
	json_object_object_add(o, key, list);
	return queue_json(c, MHD_HTTP_OK, o);
}

static int get_pairs(struct hs_web *web, struct MHD_Connection *c, const char *name,
		     struct request *req)
{
	json_object *list = NULL;
	int r = sdb_pairs_list(web->daemon->db, &list);

	return queue_list(web, c, "pairs", r, list);
}

static int get_pair(struct hs_web *web, struct MHD_Connection *c, const char *vm,
		    struct request *req)
{
	json_object *pair = NULL;
	int r = sdb_pair_get(web->daemon->db, vm, &pair);

	if (r == -ENOENT)
		return queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no pair for VM '%s'", vm);
	if (r < 0)
		return queue_errno(c, r, "cannot read the pair");
	return queue_json(c, MHD_HTTP_OK, pair);
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

static int get_events(struct hs_web *web, struct MHD_Connection *c, const char *name,
		      struct request *req)
{
	json_object *list = NULL;
	uint64_t since, limit;
	int r;

	if (query_uint(c, "since", 0, &since) < 0 || query_uint(c, "limit", 1000, &limit) < 0 ||
	    limit == 0 || limit > 10000)
		return queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_query",
				   "since and limit must be whole numbers (limit 1 to 10000)");
	r = sdb_events_list(web->daemon->db, since, (unsigned)limit, &list);
	return queue_list(web, c, "events", r, list);
}

/*
 * GET /v1/events/stream: Server-Sent Events from ?since=ID, or from the
 * Last-Event-ID header a reconnecting EventSource sends (it wins).
 */
static int get_event_stream(struct hs_web *web, struct MHD_Connection *c, const char *name,
			    struct request *req)
{
	const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	struct MHD_Response *resp;
	uint64_t since;
	char *end;
	int r, ok;

	if (query_uint(c, "since", 0, &since) < 0)
		return queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_query",
				   "since must be a whole number");
	if (last && *last) {
		errno = 0;
		since = strtoull(last, &end, 10);
		if (*last < '0' || *last > '9' || *end || errno)
			return queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_query",
					   "Last-Event-ID must be a whole number");
	}
	r = hs_event_stream_new(&web->streams, web->daemon->db, c, since, &resp);
	if (r == -EBUSY)
		return queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
				   "too many event streams are open; poll /v1/events instead");
	if (r < 0)
		return queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ok;
}

static int get_fence_log(struct hs_web *web, struct MHD_Connection *c, const char *name,
			 struct request *req)
{
	json_object *list = NULL;
	int r = sdb_fence_log_list(web->daemon->db, NULL, 0, &list);

	return queue_list(web, c, "fence_log", r, list);
}

/* Answers a suspended request: ANSWER (taken) is queued when MHD calls us again. */
static void answer_later(struct request *req, unsigned status, json_object *answer)
{
	req->deferred = answer;
	req->deferred_status = status;
	req->suspended = false;
	MHD_resume_connection(req->connection);
	MHD_run(req->listener->mhd);
}

static void fence_done(void *userdata, bool verified, const char *message)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "verified", json_object_new_boolean(verified));
	json_object_object_add(o, "message", json_object_new_string(message ? message : ""));
	if (!verified)
		json_object_object_add(o, "error", json_object_new_string("fence_failed"));
	answer_later(userdata, verified ? MHD_HTTP_OK : MHD_HTTP_BAD_GATEWAY, o);
}

static void fence_check_done(void *userdata, json_object *report)
{
	json_object *o = json_object_new_object();
	bool all_ok = true;

	for (size_t i = 0; i < json_object_array_length(report); i++) {
		json_object *ok, *d = json_object_array_get_idx(report, i);
		all_ok &= d && json_object_object_get_ex(d, "ok", &ok) && json_object_get_boolean(ok);
	}
	json_object_object_add(o, "ok", json_object_new_boolean(all_ok));
	json_object_object_add(o, "devices", report);
	answer_later(userdata, MHD_HTTP_OK, o);
}

/* POST /v1/fence/check: "monitor" on every configured device. */
static int post_fence_check(struct hs_web *web, struct MHD_Connection *c, const char *name,
			    struct request *req)
{
	int r, ok;

	if (!body_is_empty(c, req, &ok))
		return ok;
	r = hs_fencing_check(web->daemon->fencing, fence_check_done, req);
	if (r == -ENODEV)
		return queue_error(c, MHD_HTTP_CONFLICT, "refused",
				   "no fence device is configured ([fence NAME] in hasvc.conf)");
	if (r < 0)
		return queue_errno(c, r, "cannot check the fence devices");
	req->suspended = true;
	MHD_suspend_connection(c);
	return MHD_YES;
}

static int post_node_maintenance(struct hs_web *web, struct MHD_Connection *c, const char *node,
				 struct request *req);

/* POST /v1/nodes/NODE/fence: answered when the fence is over (verified or not). */
static int post_node_action(struct hs_web *web, struct MHD_Connection *c, const char *path,
			    struct request *req)
{
	char node[65];
	const char *slash = strchr(path, '/');
	int r, ok;

	if (!slash || (strcmp(slash, "/fence") != 0 && strcmp(slash, "/maintenance") != 0) ||
	    (size_t)(slash - path) >= sizeof(node))
		return queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such path /v1/nodes/%s",
				   path);
	memcpy(node, path, (size_t)(slash - path));
	node[slash - path] = '\0';
	if (strcmp(slash, "/maintenance") == 0)
		return post_node_maintenance(web, c, node, req);
	if (!body_is_empty(c, req, &ok))
		return ok;
	r = hs_fencing_start(web->daemon->fencing, node, "admin request", fence_done, req);
	switch (r) {
	case 0:
		req->suspended = true;
		MHD_suspend_connection(c);
		return MHD_YES;
	case -ENOENT:
		return queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no node '%s'", node);
	case -EINVAL:
		return queue_error(c, MHD_HTTP_CONFLICT, "refused",
				   "%s is this host: a host cannot fence itself; ask another node",
				   node);
	case -ENODEV:
		return queue_error(c, MHD_HTTP_CONFLICT, "refused",
				   "no fence device is configured for %s ([fence %s] in hasvc.conf)",
				   node, node);
	default:
		return queue_errno(c, r, "cannot fence");
	}
}

static const struct {
	const char *name;
	const char *type;
} static_files[] = {
	{"index.html", "text/html; charset=utf-8"},
	{"app.js", "text/javascript; charset=utf-8"},
	{"style.css", "text/css; charset=utf-8"},
};

/*
 * The answer of an hs_pairs operation: given while the handler still runs,
 * it is queued directly; later, the suspended connection is resumed with it.
 */
static void op_reply(void *userdata, unsigned status, json_object *body)
{
	struct request *req = userdata;

	if (req->in_handler) {
		req->deferred = body;
		req->deferred_status = status;
		return;
	}
	answer_later(req, status, body);
}

/* Runs OP (which answers through op_reply) and queues or waits for its answer. */
#define RUN_OP(c, req, call)                                                                      \
	({                                                                                         \
		int _ok;                                                                           \
		(req)->in_handler = true;                                                          \
		call;                                                                              \
		(req)->in_handler = false;                                                         \
		if ((req)->deferred) {                                                             \
			_ok = queue_json(c, (req)->deferred_status, TAKE_PTR((req)->deferred));    \
		} else {                                                                           \
			(req)->suspended = true;                                                   \
			MHD_suspend_connection(c);                                                 \
			_ok = MHD_YES;                                                             \
		}                                                                                  \
		_ok;                                                                               \
	})

static const struct hs_body_field pair_create_fields[] = {
	{"vm", HS_BODY_STRING, true},
	{"backup", HS_BODY_STRING, true},
	{"mode", HS_BODY_STRING, false},
	{"bandwidth_mib", HS_BODY_INT, false},
};

static const struct hs_body_field maintenance_fields[] = {
	{"on", HS_BODY_BOOL, true},
};

/* POST /v1/pairs {"vm","backup","mode","bandwidth_mib"} */
static int post_pairs(struct hs_web *web, struct MHD_Connection *c, const char *name,
		      struct request *req)
{
	_cleanup_json_ json_object *body = NULL;
	int ok;

	if (!body_parse(c, req, pair_create_fields, ARRAY_SIZE(pair_create_fields), &body, &ok))
		return ok;
	return RUN_OP(c, req, hs_pairs_create(web->daemon->pairs, body, op_reply, req));
}

/* DELETE /v1/pairs/VM */
static int delete_pair(struct hs_web *web, struct MHD_Connection *c, const char *vm,
		       struct request *req)
{
	int ok;

	if (!vm || !*vm || strchr(vm, '/'))
		return queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "DELETE /v1/pairs/VM");
	if (!body_is_empty(c, req, &ok))
		return ok;
	return RUN_OP(c, req, hs_pairs_delete(web->daemon->pairs, vm, op_reply, req));
}

/* POST /v1/pairs/VM/switchover */
static int post_pair_action(struct hs_web *web, struct MHD_Connection *c, const char *path,
			    struct request *req)
{
	char vm[65];
	const char *slash = path ? strchr(path, '/') : NULL;
	int ok;

	if (!slash || strcmp(slash, "/switchover") != 0 || (size_t)(slash - path) >= sizeof(vm))
		return queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such path /v1/pairs/%s",
				   path ? path : "");
	if (!body_is_empty(c, req, &ok))
		return ok;
	memcpy(vm, path, (size_t)(slash - path));
	vm[slash - path] = '\0';
	return RUN_OP(c, req, hs_pairs_switchover(web->daemon->pairs, vm, op_reply, req));
}

/* POST /v1/nodes/NODE/maintenance {"on": true|false} */
static int post_node_maintenance(struct hs_web *web, struct MHD_Connection *c, const char *node,
				 struct request *req)
{
	_cleanup_json_ json_object *body = NULL;
	int ok;

	if (!body_parse(c, req, maintenance_fields, ARRAY_SIZE(maintenance_fields), &body, &ok))
		return ok;
	return RUN_OP(c, req,
		      hs_pairs_maintenance(web->daemon->pairs, node,
					   json_object_get_boolean(json_object_object_get(body, "on")),
					   op_reply, req));
}

/* The dashboard's files: a fixed list, so no name from the URL reaches open(). */
static int get_static(struct hs_web *web, struct MHD_Connection *c, const char *name,
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
		return queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no page '%s'", url_name);
	if (asprintf(&path, "%s/%s", web->daemon->config->web_dir, static_files[i].name) < 0)
		return MHD_NO;
	f = fopen(path, "re");
	if (!f || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		return queue_error(c, MHD_HTTP_NOT_FOUND, "not_found",
				   "dashboard file %s is missing: %s", path, strerror(errno));
	data = malloc((size_t)size + 1);
	if (!data)
		return MHD_NO;
	len = fread(data, 1, (size_t)size, f);
	return queue_text(c, MHD_HTTP_OK, static_files[i].type, data, len);
}

/* {method, path, handler, needs_admin, token_in_query} */
static const struct route routes[] = {
	{"GET", "/v1/status", get_status, false, false},
	{"GET", "/v1/nodes", get_nodes, false, false},
	{"POST", "/v1/nodes/", post_node_action, true, false},
	{"GET", "/v1/pairs", get_pairs, false, false},
	{"GET", "/v1/pairs/", get_pair, false, false},
	{"POST", "/v1/pairs", post_pairs, true, false},
	{"POST", "/v1/pairs/", post_pair_action, true, false},
	{"DELETE", "/v1/pairs/", delete_pair, true, false},
	{"GET", "/v1/events", get_events, false, false},
	{"GET", "/v1/events/stream", get_event_stream, false, true},
	{"GET", "/v1/fence-log", get_fence_log, false, false},
	{"POST", "/v1/fence/check", post_fence_check, true, false},
	{"GET", "/metrics", get_metrics, false, false},
	{"GET", "/", get_static, false, false},
	{"GET", "/static/", get_static, false, false},
};

/* --- routing and authorisation ------------------------------------------ */

static bool name_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

/* "NAME" or "NAME/verb": a valid name, then at most one lowercase verb. */
static bool path_name_is_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	char head[66];

	if (!slash)
		return name_is_valid(s);
	if ((size_t)(slash - s) >= sizeof(head))
		return false;
	memcpy(head, s, (size_t)(slash - s));
	head[slash - s] = '\0';
	if (!name_is_valid(head) || !slash[1])
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

static enum token_role token_role(const struct hs_web *web, struct MHD_Connection *c,
				  bool in_query)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");

	if (auth && strncmp(auth, "Bearer ", 7) == 0)
		auth += 7;
	else if (!auth && in_query)
		auth = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	else
		return ROLE_NONE;
	if (!auth)
		return ROLE_NONE;
	for (size_t i = 0; i < web->n_tokens; i++)
		if (strcmp(web->tokens[i].secret, auth) == 0)
			return web->tokens[i].role;
	return ROLE_NONE;
}

static int dispatch(struct listener *l, struct MHD_Connection *c, const char *url,
		    const char *method, struct request *req)
{
	struct hs_web *web = l->web;
	const struct route *found = NULL;
	const char *name = NULL;
	bool path_known = false;

	if (req->too_large)
		return queue_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
				   "request body over %d bytes", MAX_BODY);
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		const char *n;
		if (!route_matches(&routes[i], url, &n))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, method) == 0) {
			found = &routes[i];
			name = n;
			break;
		}
	}
	if (!found)
		return path_known ? queue_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
						"%s is not allowed on %s", method, url)
				  : queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such path %s",
						url);
	if (name && *name && !path_name_is_valid(name))
		return queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_name",
				   "'%s' is not a valid name (letters, digits, '-', '_', '.'; at most 64)",
				   name);
	if (l->needs_token && found->handler != get_static) {
		enum token_role role = token_role(web, c, found->token_in_query);
		if (role == ROLE_NONE)
			return queue_error(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
					   "a valid bearer token is required");
		if (found->needs_admin && role != ROLE_ADMIN)
			return queue_error(c, MHD_HTTP_FORBIDDEN, "forbidden",
					   "this token may only read");
	}
	return found->handler(web, c, name, req);
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
		return queue_json(c, req->deferred_status, answer) == MHD_YES ? MHD_YES : MHD_NO;
	}
	if (req->suspended)
		return MHD_YES;
	req->listener = l;
	req->connection = c;
	return dispatch(l, c, url, method, req) == MHD_YES ? MHD_YES : MHD_NO;
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
	struct hs_web *web = data;

	/* idle event streams: keep-alives are due, closed clients are noticed */
	hs_event_streams_wake(&web->streams, false);
	if (web->unix_listener.mhd)
		MHD_run(web->unix_listener.mhd);
	if (web->tcp_listener.mhd)
		MHD_run(web->tcp_listener.mhd);
	qb_loop_timer_add(web->daemon->loop, QB_LOOP_LOW, HOUSEKEEPING_MS * 1000000ULL, web,
			  housekeeping, &web->timer);
}

static int listener_start(struct hs_web *web, struct listener *l, int fd, bool needs_token,
			  const char *what)
{
	const union MHD_DaemonInfo *info;

	l->web = web;
	l->needs_token = needs_token;
	l->what = what;
	l->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, access_handler,
				  l, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
				  request_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, 128,
				  MHD_OPTION_CONNECTION_TIMEOUT, 30, MHD_OPTION_END);
	if (!l->mhd) {
		close(fd);
		qb_log(LOG_ERR, "cannot start the API on %s", what);
		return -EIO;
	}
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	l->epoll_fd = info ? info->epoll_fd : -1;
	if (l->epoll_fd < 0 || qb_loop_poll_add(web->daemon->loop, QB_LOOP_MED, l->epoll_fd, POLLIN,
						l, listener_ready) < 0) {
		qb_log(LOG_ERR, "cannot poll the API on %s", what);
		return -EIO;
	}
	return 0;
}

static void listener_stop(struct hs_web *web, struct listener *l)
{
	if (!l->mhd)
		return;
	qb_loop_poll_del(web->daemon->loop, l->epoll_fd);
	MHD_stop_daemon(l->mhd);
	l->mhd = NULL;
}

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static int unix_socket_open(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	r = mkdir_parents(path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a stale socket of a previous run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (chmod(path, 0600) < 0 || listen(fd, 64) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int tcp_socket_open(const char *listen_spec, int *ret_fd)
{
	_cleanup_free_ char *host = strdup(listen_spec);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	_cleanup_close_ int fd = -1;
	char *colon, *end;
	unsigned long port;
	int one = 1;

	if (!host)
		return -ENOMEM;
	colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* "TOKEN read|admin NAME" per line; the file must not be readable by others. */
static int tokens_load(struct hs_web *web, const char *path)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	struct stat st;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT) {
			qb_log(LOG_WARNING, "no token file %s: the TCP API will refuse every request",
			       path);
			return 0;
		}
		qb_log(LOG_ERR, "cannot read token file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fileno(f), &st) < 0)
		return -errno;
	if (st.st_mode & 0077) {
		qb_log(LOG_ERR, "token file %s is readable by group or others (mode %04o); chmod 600 it",
		       path, st.st_mode & 07777);
		return -EPERM;
	}
	while (getline(&line, &cap, f) >= 0) {
		char secret[256], role[16], name[64];
		int n;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		n = sscanf(line, "%255s %15s %63s", secret, role, name);
		if (n < 2 || (strcmp(role, "read") != 0 && strcmp(role, "admin") != 0)) {
			qb_log(LOG_ERR, "%s:%u: expected 'TOKEN read|admin NAME'", path, lineno);
			return -EINVAL;
		}
		if (web->n_tokens == MAX_TOKENS) {
			qb_log(LOG_ERR, "%s:%u: more than %d tokens", path, lineno, MAX_TOKENS);
			return -E2BIG;
		}
		web->tokens[web->n_tokens++] = (struct token){
			.secret = strdup(secret),
			.name = strdup(n == 3 ? name : "unnamed"),
			.role = role[0] == 'a' ? ROLE_ADMIN : ROLE_READ,
		};
	}
	return 0;
}

int hs_web_new(struct hs_daemon *daemon, struct hs_web **ret)
{
	const struct hs_config *cfg = daemon->config;
	struct hs_web *web;
	int fd = -1, r;

	web = calloc(1, sizeof(*web));
	if (!web)
		return -ENOMEM;
	web->daemon = daemon;

	r = unix_socket_open(cfg->api_socket, &fd);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot listen on %s: %s", cfg->api_socket, strerror(-r));
		goto out_free;
	}
	r = listener_start(web, &web->unix_listener, fd, false, cfg->api_socket);
	if (r < 0)
		goto out_free;

	if (cfg->http_listen) {
		r = tokens_load(web, cfg->token_file);
		if (r < 0)
			goto out_free;
		r = tcp_socket_open(cfg->http_listen, &fd);
		if (r < 0) {
			qb_log(LOG_ERR, "cannot listen on %s (http_listen): %s", cfg->http_listen,
			       r == -EINVAL ? "expected IPv4ADDR:PORT" : strerror(-r));
			goto out_free;
		}
		r = listener_start(web, &web->tcp_listener, fd, true, cfg->http_listen);
		if (r < 0)
			goto out_free;
	}
	qb_loop_timer_add(daemon->loop, QB_LOOP_LOW, HOUSEKEEPING_MS * 1000000ULL, web,
			  housekeeping, &web->timer);
	*ret = web;
	return 0;

out_free:
	hs_web_free(web);
	return r;
}

void hs_web_free(struct hs_web *web)
{
	if (!web)
		return;
	qb_loop_timer_del(web->daemon->loop, web->timer);
	/*
	 * MHD must not be stopped with connections suspended; one more run lets
	 * the streams end their answer properly rather than be cut.
	 */
	hs_event_streams_wake(&web->streams, true);
	if (web->unix_listener.mhd)
		MHD_run(web->unix_listener.mhd);
	if (web->tcp_listener.mhd)
		MHD_run(web->tcp_listener.mhd);
	listener_stop(web, &web->unix_listener);
	listener_stop(web, &web->tcp_listener);
	for (size_t i = 0; i < web->n_tokens; i++) {
		free(web->tokens[i].secret);
		free(web->tokens[i].name);
	}
	free(web);
}

void hs_web_changed(struct hs_web *web)
{
	if (web)
		hs_event_streams_wake(&web->streams, false);
}
