// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_api_write: the POST and DELETE handlers. Each checks its body against
 * its fields (hs_api_body: the one validation of a body's shape and types),
 * hands the typed request to pairs/ or coord/, and turns the answer into
 * HTTP: a result of HS_PAIRS_DONE is 200, HS_PAIRS_ACCEPTED 202, and an
 * -errno the status of the errno table (hs_api_reply.c).
 *
 * An operation may answer before it returns (a refusal) or later, from the
 * loop (pair create waits for libvirt; a fence for its agents): the
 * connection is then suspended until the answer comes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hs_api_internal.h"
#include "hs_cleanup.h"
#include "hs_core.h"
#include "hs_fencing.h"
#include "hs_json.h"
#include "hs_json_cleanup.h"
#include "hs_name.h"
#include "hs_pairs.h"

/* --- fencing -------------------------------------------------------------- */

static void fence_done(void *userdata, bool verified, const char *message)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "verified", json_object_new_boolean(verified));
	json_object_object_add(o, "message", json_object_new_string(message ? message : ""));
	if (!verified)
		json_object_object_add(o, "error", json_object_new_string("fence_failed"));
	hs__api_answer_later(userdata, verified ? MHD_HTTP_OK : MHD_HTTP_BAD_GATEWAY, o);
}

static void fence_check_done(void *userdata, json_object *report)
{
	json_object *o = json_object_new_object();
	bool all_ok = true;

	for (size_t i = 0; i < json_object_array_length(report); i++) {
		json_object *d = json_object_array_get_idx(report, i);
		all_ok &= d && hs_json_bool(d, "ok");
	}
	json_object_object_add(o, "ok", json_object_new_boolean(all_ok));
	json_object_object_add(o, "devices", report);
	hs__api_answer_later(userdata, MHD_HTTP_OK, o);
}

/* POST /v1/fence/check: "monitor" on every configured device. */
int hs__api_post_fence_check(struct hs_api *api, struct MHD_Connection *c, const char *name,
			     struct request *req)
{
	int r, ok;

	if (!hs__api_body_is_empty(c, req, &ok))
		return ok;
	r = hs_fencing_check(api->fencing, fence_check_done, req);
	if (r == -ENODEV)
		return hs__api_queue_errno_message(
		    c, r, "no fence device is configured ([fence NAME] in hasvc.conf)");
	if (r < 0)
		return hs__api_queue_errno(c, r, "cannot check the fence devices");
	return hs__api_suspend(c, req);
}

/* POST /v1/nodes/NODE/fence: answered when the fence is over (verified or not). */
static int post_node_fence(struct hs_api *api, struct MHD_Connection *c, const char *node,
			   struct request *req)
{
	_cleanup_free_ char *msg = NULL;
	int r, ok;

	if (!hs__api_body_is_empty(c, req, &ok))
		return ok;
	r = hs_fencing_start(api->fencing, node, "admin request", fence_done, req);
	if (r == 0)
		return hs__api_suspend(c, req);
	if (r == -ENOENT && asprintf(&msg, "no node '%s'", node) < 0)
		msg = NULL;
	else if (r == -EPERM &&
		 asprintf(&msg, "%s is this host: a host cannot fence itself; ask another node",
			  node) < 0)
		msg = NULL;
	else if (r == -ENODEV &&
		 asprintf(&msg, "no fence device is configured for %s ([fence %s] in hasvc.conf)",
			  node, node) < 0)
		msg = NULL;
	return msg ? hs__api_queue_errno_message(c, r, msg) : hs__api_queue_errno(c, r, "cannot fence");
}

/* --- operations of pairs/ ------------------------------------------------- */

static json_object *answer_json(const struct hs_pairs_answer *a)
{
	json_object *o = json_object_new_object();

	if (a->vm)
		json_object_object_add(o, "vm", json_object_new_string(a->vm));
	if (a->node)
		json_object_object_add(o, "node", json_object_new_string(a->node));
	if (a->state)
		json_object_object_add(o, "state", json_object_new_string(a->state));
	if (a->primary)
		json_object_object_add(o, "primary", json_object_new_string(a->primary));
	if (a->backup)
		json_object_object_add(o, "backup", json_object_new_string(a->backup));
	if (a->nbd_port)
		json_object_object_add(o, "nbd_port", json_object_new_int((int)a->nbd_port));
	if (a->message)
		json_object_object_add(o, "message", json_object_new_string(a->message));
	return o;
}

/*
 * The answer of an hs_pairs operation: given while the handler still runs,
 * it is queued directly; later, the suspended connection is resumed with it.
 */
static void op_reply(void *userdata, int result, const struct hs_pairs_answer *answer)
{
	struct request *req = userdata;
	const char *error = NULL;
	unsigned status;
	json_object *body;

	if (result < 0) {
		status = hs__api_errno_status(result, &error);
		body = json_object_new_object();
		json_object_object_add(body, "error", json_object_new_string(error));
		json_object_object_add(
		    body, "message",
		    json_object_new_string(answer && answer->message ? answer->message : error));
	} else {
		status = result == HS_PAIRS_ACCEPTED ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK;
		body = answer_json(answer);
	}
	if (req->in_handler) {
		req->deferred = body;
		req->deferred_status = status;
		return;
	}
	hs__api_answer_later(req, status, body);
}

/* Runs OP (which answers through op_reply) and queues or waits for its answer. */
#define RUN_OP(c, req, call)                                                                       \
	({                                                                                         \
		int _ok;                                                                           \
		(req)->in_handler = true;                                                          \
		call;                                                                              \
		(req)->in_handler = false;                                                         \
		if ((req)->deferred)                                                               \
			_ok = hs__api_queue_json(c, (req)->deferred_status,                        \
						 TAKE_PTR((req)->deferred));                       \
		else                                                                               \
			_ok = hs__api_suspend(c, req);                                             \
		_ok;                                                                               \
	})

/* POST /v1/pairs {"vm","backup","mode","bandwidth_mib"} */
int hs__api_post_pairs(struct hs_api *api, struct MHD_Connection *c, const char *name,
		       struct request *req)
{
	_cleanup_json_ json_object *body = NULL;
	struct hs_pair_request pr;
	json_object *bw;
	int ok;

	if (!hs__api_body_parse(c, req, hs_api_pair_create_fields, hs_api_pair_create_n_fields, &body,
				&ok))
		return ok;
	bw = hs_json_get(body, "bandwidth_mib");
	pr = (struct hs_pair_request){
		.vm = hs_json_str(body, "vm"),
		.backup = hs_json_str(body, "backup"),
		.mode = hs_json_str(body, "mode"),
		.bandwidth_mib = bw ? json_object_get_int64(bw) : 0,
	};
	return RUN_OP(c, req, hs_pairs_create(api->pairs, &pr, op_reply, req));
}

/*
 * PATCH /v1/pairs/VM {"bandwidth_mib"}: a setting of a running pair. The
 * body's range is checked with its type (hs_api_pair_set_fields); whether
 * the pair exists, by pairs/.
 */
int hs__api_patch_pair(struct hs_api *api, struct MHD_Connection *c, const char *vm,
		       struct request *req)
{
	_cleanup_json_ json_object *body = NULL;
	struct hs_pair_settings set;
	int ok;

	if (!vm || !*vm || strchr(vm, '/'))
		return hs__api_queue_error(c, MHD_HTTP_NOT_FOUND, "not_found",
					   "PATCH /v1/pairs/VM");
	if (!hs__api_body_parse(c, req, hs_api_pair_set_fields, hs_api_pair_set_n_fields, &body,
				&ok))
		return ok;
	set = (struct hs_pair_settings){
		.vm = vm,
		.bandwidth_mib = json_object_get_int64(hs_json_get(body, "bandwidth_mib")),
	};
	return RUN_OP(c, req, hs_pairs_set(api->pairs, &set, op_reply, req));
}

/* DELETE /v1/pairs/VM */
int hs__api_delete_pair(struct hs_api *api, struct MHD_Connection *c, const char *vm,
			struct request *req)
{
	int ok;

	if (!vm || !*vm || strchr(vm, '/'))
		return hs__api_queue_error(c, MHD_HTTP_NOT_FOUND, "not_found", "DELETE /v1/pairs/VM");
	if (!hs__api_body_is_empty(c, req, &ok))
		return ok;
	return RUN_OP(c, req, hs_pairs_delete(api->pairs, vm, op_reply, req));
}

/*
 * "NAME/VERB" of a path into NAME (HS_NAME_MAX + 1 bytes) and the verb;
 * false when there is no verb or the name is too long.
 */
static bool path_split(const char *path, char *name, const char **ret_verb)
{
	const char *slash = path ? strchr(path, '/') : NULL;

	if (!slash || (size_t)(slash - path) > HS_NAME_MAX)
		return false;
	memcpy(name, path, (size_t)(slash - path));
	name[slash - path] = '\0';
	*ret_verb = slash;
	return true;
}

/* POST /v1/pairs/VM/verify [{"repair": true}]: 202 once the verify runs on this (primary) host. */
static int post_pair_verify(struct hs_api *api, struct MHD_Connection *c, const char *vm,
			    struct request *req)
{
	_cleanup_json_ json_object *body = NULL;
	int ok;

	if (!hs__api_body_parse(c, req, hs_api_verify_fields, hs_api_verify_n_fields, &body, &ok))
		return ok;
	return RUN_OP(c, req,
		      hs_pairs_verify(api->pairs, vm, hs_json_bool(body, "repair"), op_reply, req));
}

/* POST /v1/pairs/VM/switchover [{"live": true[, "allow_cold": true]}], POST /v1/pairs/VM/verify */
int hs__api_post_pair_action(struct hs_api *api, struct MHD_Connection *c, const char *path,
			     struct request *req)
{
	_cleanup_json_ json_object *body = NULL;
	char vm[HS_NAME_MAX + 1];
	const char *verb;
	int ok;

	if (path_split(path, vm, &verb) && strcmp(verb, "/verify") == 0)
		return post_pair_verify(api, c, vm, req);
	if (!path_split(path, vm, &verb) || strcmp(verb, "/switchover") != 0)
		return hs__api_queue_error(c, MHD_HTTP_NOT_FOUND, "not_found",
					   "no such path /v1/pairs/%s", path ? path : "");
	if (!hs__api_body_parse(c, req, hs_api_switchover_fields, hs_api_switchover_n_fields, &body,
				&ok))
		return ok;
	if (hs_json_bool(body, "allow_cold") && !hs_json_bool(body, "live"))
		return hs__api_queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_request",
					   "allow_cold is the fallback of a live switchover: it needs "
					   "\"live\": true");
	return RUN_OP(c, req,
		      hs_pairs_switchover(api->pairs, vm,
					  !hs_json_bool(body, "live")	      ? HS_SWITCHOVER_COLD
					  : hs_json_bool(body, "allow_cold") ? HS_SWITCHOVER_LIVE_OR_COLD
									     : HS_SWITCHOVER_LIVE,
					  op_reply, req));
}

/* POST /v1/nodes/NODE/maintenance {"on": true|false} */
static int post_node_maintenance(struct hs_api *api, struct MHD_Connection *c, const char *node,
				 struct request *req)
{
	_cleanup_json_ json_object *body = NULL;
	int ok;

	if (!hs__api_body_parse(c, req, hs_api_maintenance_fields, hs_api_maintenance_n_fields, &body,
				&ok))
		return ok;
	return RUN_OP(c, req,
		      hs_pairs_maintenance(api->pairs, node, hs_json_bool(body, "on"), op_reply,
					   req));
}

/* POST /v1/nodes/NODE/fence, POST /v1/nodes/NODE/maintenance */
int hs__api_post_node_action(struct hs_api *api, struct MHD_Connection *c, const char *path,
			     struct request *req)
{
	char node[HS_NAME_MAX + 1];
	const char *verb;

	if (!path_split(path, node, &verb) ||
	    (strcmp(verb, "/fence") != 0 && strcmp(verb, "/maintenance") != 0))
		return hs__api_queue_error(c, MHD_HTTP_NOT_FOUND, "not_found",
					   "no such path /v1/nodes/%s", path);
	if (strcmp(verb, "/maintenance") == 0)
		return post_node_maintenance(api, c, node, req);
	return post_node_fence(api, c, node, req);
}

/* --- test hooks ------------------------------------------------------------ */

/*
 * POST /v1/test/propose (unix socket only, `test_hooks = yes` only): the
 * body, verbatim, proposed as a replicated change message. For the lab's
 * tests of what every host's apply refuses (docs/api.md); never for
 * operators: nothing here checks what the message says.
 */
int hs__api_post_test_propose(struct hs_api *api, struct MHD_Connection *c, const char *name,
			      struct request *req)
{
	char *buf;
	json_object *o;
	int r;

	if (req->len == 0)
		return hs__api_queue_errno_message(c, -EINVAL,
						   "the body is the change message to propose");
	buf = malloc(req->len);
	if (!buf)
		return hs__api_queue_errno(c, -ENOMEM, "cannot propose");
	memcpy(buf, req->body, req->len);
	r = hs_state_propose(api->core, buf, req->len);
	if (r < 0)
		return hs__api_queue_errno(c, r, "cannot propose");
	o = json_object_new_object();
	json_object_object_add(o, "message", json_object_new_string("proposed"));
	return hs__api_queue_json(c, MHD_HTTP_ACCEPTED, o);
}
