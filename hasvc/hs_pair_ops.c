// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_ops: the admin's operations on pairs and nodes. Each validates
 * what it is asked against the replicated state, says plainly why it refuses,
 * and otherwise proposes the first transition; the duties (hs_pairs.c) carry
 * the rest out. Nothing here waits for the whole operation: the answer is
 * "accepted" (202) and the pair's state and events tell the rest, which the
 * CLI follows with --wait.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_daemon.h"
#include "hs_pairs.h"
#include "hs_pairs_internal.h"
#include "hs_state.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"
#include "mirror.h"
#include "sdb.h"
#include "sdb_msg.h"

#define HTTP_OK 200
#define HTTP_ACCEPTED 202
#define HTTP_BAD_REQUEST 400
#define HTTP_NOT_FOUND 404
#define HTTP_CONFLICT 409
#define HTTP_INTERNAL 500
#define HTTP_UNAVAILABLE 503

static void reply_error(hs_pairs_reply_fn reply, void *userdata, unsigned status,
			const char *error, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reply_error(hs_pairs_reply_fn reply, void *userdata, unsigned status,
			const char *error, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "message", json_object_new_string(msg ? msg : error));
	reply(userdata, status, o);
}

/* A failure to propose, as the API names it. */
static void reply_propose_error(hs_pairs_reply_fn reply, void *userdata, int r)
{
	if (r == -ENOLINK)
		reply_error(reply, userdata, HTTP_UNAVAILABLE, "no_quorum",
			    "this host's partition has no quorum: it may not change the cluster");
	else if (r == -EALREADY)
		reply_error(reply, userdata, HTTP_CONFLICT, "busy",
			    "a change to this pair is already under way");
	else
		reply_error(reply, userdata, HTTP_INTERNAL, "internal", "cannot propose: %s",
			    strerror(-r));
}

static bool quorate(struct hs_daemon *d)
{
	struct hs_cluster_view v;

	hs_cluster_view_get(d->cluster, &v);
	return v.quorate;
}

static bool vm_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

/* The pair of VM, parsed into *V (row owned by *RET_ROW), or an answer sent. */
static bool pair_find(struct hs_pairs *p, const char *vm, json_object **ret_row,
		      struct pair_view *v, hs_pairs_reply_fn reply, void *userdata)
{
	int r = sdb_pair_get(p->d->db, vm, ret_row);

	if (r == -ENOENT) {
		reply_error(reply, userdata, HTTP_NOT_FOUND, "not_found", "no pair for VM '%s'", vm);
		return false;
	}
	if (r < 0 || hs_pair_view_parse(*ret_row, v) < 0) {
		reply_error(reply, userdata, HTTP_INTERNAL, "internal",
			    "cannot read the pair of %s: %s", vm, sdb_errmsg(p->d->db));
		return false;
	}
	return true;
}

/* --- pair create --------------------------------------------------------- */

struct create {
	struct hs_pairs *p;
	char *vm, *backup, *mode;
	uint64_t bandwidth_mib;
	hs_pairs_reply_fn reply;
	void *userdata;
};

static void create_free(struct create *c)
{
	free(c->vm);
	free(c->backup);
	free(c->mode);
	free(c);
}

static void inspected(void *userdata, int result, const char *message, json_object *data)
{
	struct create *c = userdata;
	struct hs_daemon *d = c->p->d;
	json_object *disks = data ? json_object_object_get(data, "disks") : NULL, *row = NULL;
	size_t n = disks ? json_object_array_length(disks) : 0;
	_cleanup_free_ char *event = NULL;
	struct sdb_disk_spec spec[64];
	uint64_t sizes[64];
	char *buf = NULL;
	size_t len;
	int r;

	if (result < 0) {
		unsigned status = result == -ENOENT ? HTTP_NOT_FOUND : HTTP_CONFLICT;
		reply_error(c->reply, c->userdata, status,
			    result == -ENOENT ? "not_found" : "refused", "%s%s", message,
			    result == -ENOENT ? " (run pair create on the host where the VM runs)"
					      : "");
		goto out;
	}
	if (n == 0 || n > ARRAY_SIZE(spec)) {
		reply_error(c->reply, c->userdata, HTTP_CONFLICT, "refused",
			    "%s has %zu mirrorable disks (1 to %zu supported)", c->vm, n,
			    ARRAY_SIZE(spec));
		goto out;
	}
	/* The state may have moved while libvirt answered. */
	if (sdb_pair_get(d->db, c->vm, &row) == 0) {
		json_object_put(row);
		reply_error(c->reply, c->userdata, HTTP_CONFLICT, "exists", "%s is already paired",
			    c->vm);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *disk = json_object_array_get_idx(disks, i);
		sizes[i] = (uint64_t)json_object_get_int64(json_object_object_get(disk, "bytes"));
		spec[i] = (struct sdb_disk_spec){
			.target = json_object_get_string(json_object_object_get(disk, "target")),
			.bytes_total = sizes[i],
		};
	}
	/* logged with the pair, in one change: a create refused when applied logs nothing */
	if (asprintf(&event, "pairing %s: primary %s, backup %s, %s mode%s", c->vm, d->self->name,
		     c->backup, c->mode ? c->mode : "sync",
		     c->bandwidth_mib ? ", throttled" : "") < 0) {
		event = NULL;
		reply_error(c->reply, c->userdata, HTTP_INTERNAL, "internal", "out of memory");
		goto out;
	}
	{
		struct sdb_pair_spec ps = {
			.vm = c->vm,
			.uuid = json_object_get_string(json_object_object_get(data, "uuid")),
			.primary = d->self->name,
			.backup = c->backup,
			.mode = c->mode,
			.bandwidth_mib = c->bandwidth_mib,
			.state = "creating",
			.disks = spec,
			.n_disks = n,
			.domain_xml = json_object_get_string(json_object_object_get(data, "xml")),
			.disk_sizes = sizes,
			.n_disk_sizes = n,
			.nbd_port = hs_pairs_free_port(d, c->backup, c->vm),
			.event = event,
			.event_node = d->self->name,
		};
		r = hs_state_ensure_node(d, d->self->name);
		if (r >= 0)
			r = hs_state_ensure_node(d, c->backup);
		if (r >= 0)
			r = sdb_msg_pair_create(&ps, &buf, &len);
		if (r >= 0)
			r = hs_state_propose(d, buf, len);
		if (r < 0) {
			reply_propose_error(c->reply, c->userdata, r);
			goto out;
		}
		{
			json_object *o = json_object_new_object();
			json_object_object_add(o, "vm", json_object_new_string(c->vm));
			json_object_object_add(o, "state", json_object_new_string("creating"));
			json_object_object_add(o, "primary", json_object_new_string(d->self->name));
			json_object_object_add(o, "backup", json_object_new_string(c->backup));
			json_object_object_add(o, "nbd_port", json_object_new_int((int)ps.nbd_port));
			json_object_object_add(
			    o, "message",
			    json_object_new_string("pairing accepted: the backup host prepares the "
						   "backup, then the initial sync starts"));
			c->reply(c->userdata, HTTP_ACCEPTED, o);
		}
	}
out:
	create_free(c);
}

void hs_pairs_create(struct hs_pairs *p, json_object *request, hs_pairs_reply_fn reply,
		     void *userdata)
{
	struct hs_daemon *d = p->d;
	json_object *v, *row = NULL;
	const char *vm = NULL, *backup = NULL, *mode = NULL;
	int64_t bw = 0;
	char state[16];
	struct create *c;
	int r;

	if (!request || !json_object_is_type(request, json_type_object)) {
		reply_error(reply, userdata, HTTP_BAD_REQUEST, "bad_request",
			    "the body must be a JSON object {\"vm\",\"backup\",\"mode\","
			    "\"bandwidth_mib\"}");
		return;
	}
	if (json_object_object_get_ex(request, "vm", &v) && json_object_is_type(v, json_type_string))
		vm = json_object_get_string(v);
	if (json_object_object_get_ex(request, "backup", &v) &&
	    json_object_is_type(v, json_type_string))
		backup = json_object_get_string(v);
	if (json_object_object_get_ex(request, "mode", &v) && v)
		mode = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	if (json_object_object_get_ex(request, "bandwidth_mib", &v) && v)
		bw = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
	if (!vm_name_valid(vm)) {
		reply_error(reply, userdata, HTTP_BAD_REQUEST, "bad_request",
			    "vm must be a domain name (letters, digits, - _ ., 1 to 64)");
		return;
	}
	if (!backup) {
		reply_error(reply, userdata, HTTP_BAD_REQUEST, "bad_request",
			    "backup is required: the node that keeps the backup");
		return;
	}
	if (mode && strcmp(mode, "sync") != 0 && strcmp(mode, "async") != 0) {
		reply_error(reply, userdata, HTTP_BAD_REQUEST, "bad_request",
			    "mode must be sync or async, not '%s'", mode);
		return;
	}
	if (bw < 0 || bw > 1000000) {
		reply_error(reply, userdata, HTTP_BAD_REQUEST, "bad_request",
			    "bandwidth_mib must be a whole number of MiB/s from 0 (unlimited) to "
			    "1000000");
		return;
	}
	if (!hs_config_node_by_name(d->config, backup)) {
		reply_error(reply, userdata, HTTP_NOT_FOUND, "not_found",
			    "no node '%s' in the configuration", backup);
		return;
	}
	if (strcmp(backup, d->self->name) == 0) {
		reply_error(reply, userdata, HTTP_CONFLICT, "refused",
			    "the backup must be on another host than the primary (%s)", backup);
		return;
	}
	if (!quorate(d)) {
		reply_propose_error(reply, userdata, -ENOLINK);
		return;
	}
	if (!hs_pairs_node_online(d, backup)) {
		reply_error(reply, userdata, HTTP_CONFLICT, "refused",
			    "%s is not in the cluster now; a backup needs a running host", backup);
		return;
	}
	if (strcmp(hs_pairs_node_state(d, backup, state, sizeof(state)), "maintenance") == 0) {
		reply_error(reply, userdata, HTTP_CONFLICT, "refused",
			    "%s is in maintenance and takes no new backups", backup);
		return;
	}
	if (sdb_pair_get(d->db, vm, &row) == 0) {
		struct pair_view pv;
		if (hs_pair_view_parse(row, &pv) == 0)
			reply_error(reply, userdata, HTTP_CONFLICT, "exists",
				    "%s is already paired (primary %s, backup %s, %s)", vm,
				    pv.primary, pv.backup ? pv.backup : "-",
				    hs_pair_state_name(pv.state));
		json_object_put(row);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->vm = strdup(vm)) || !(c->backup = strdup(backup)) ||
	    (mode && !(c->mode = strdup(mode)))) {
		if (c)
			create_free(c);
		reply_error(reply, userdata, HTTP_INTERNAL, "internal", "out of memory");
		return;
	}
	c->p = p;
	c->bandwidth_mib = (uint64_t)bw;
	c->reply = reply;
	c->userdata = userdata;
	r = mirror_inspect(p->mirror, vm, inspected, c);
	if (r < 0) {
		create_free(c);
		reply_error(reply, userdata, HTTP_INTERNAL, "internal", "cannot ask libvirt: %s",
			    strerror(-r));
	}
}

/* --- pair delete, switchover --------------------------------------------- */

static void reply_accepted(hs_pairs_reply_fn reply, void *userdata, const char *vm,
			   const char *state, const char *message)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "vm", json_object_new_string(vm));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "message", json_object_new_string(message));
	reply(userdata, HTTP_ACCEPTED, o);
}

void hs_pairs_delete(struct hs_pairs *p, const char *vm, hs_pairs_reply_fn reply, void *userdata)
{
	_cleanup_json_ json_object *row = NULL;
	struct sdb_pair_change c = {0};
	struct pair_view v;
	int r;

	if (!pair_find(p, vm, &row, &v, reply, userdata))
		return;
	if (!hs_pair_fsm_lookup(v.state, HS_EV_DELETE)) {
		reply_error(reply, userdata, HTTP_CONFLICT, "busy",
			    "%s is %s; unpair it when that is over", vm, hs_pair_state_name(v.state));
		return;
	}
	/* Unprotected: the recorded backup host holds the old primary, not a backup. */
	if (v.state == HS_PAIR_UNPROTECTED)
		c.clear_backup = true;
	r = hs_pairs_transition(p, &v, HS_EV_DELETE, &c, "unpairing %s at the admin's request", vm);
	if (r < 0) {
		reply_propose_error(reply, userdata, r);
		return;
	}
	reply_accepted(reply, userdata, vm, "deleting",
		       "unpairing: the mirror stops, then the backup is removed");
}

static int switchover_start(struct hs_pairs *p, const struct pair_view *v, const char *why)
{
	char *buf = NULL, ref[96];
	size_t len;
	int r;

	snprintf(ref, sizeof(ref), "%s-%llu", p->d->self->name,
		 (unsigned long long)hs_now_usec(CLOCK_REALTIME));
	r = sdb_msg_op_begin(v->vm, "switchover", p->d->self->name, ref, &buf, &len);
	if (r >= 0)
		r = hs_state_propose(p->d, buf, len);
	if (r < 0)
		return r;
	return hs_pairs_transition(p, v, HS_EV_SWITCHOVER, NULL, "%s: moving %s from %s to %s",
				   why, v->vm, v->primary, v->backup);
}

void hs_pairs_switchover(struct hs_pairs *p, const char *vm, hs_pairs_reply_fn reply,
			 void *userdata)
{
	_cleanup_json_ json_object *row = NULL;
	struct pair_view v;
	int r;

	if (!pair_find(p, vm, &row, &v, reply, userdata))
		return;
	if (hs_pair_state_busy(v.state) || v.op) {
		reply_error(reply, userdata, HTTP_CONFLICT, "busy", "%s is %s%s%s; try again later",
			    vm, hs_pair_state_name(v.state), v.op ? ", running " : "",
			    v.op ? v.op : "");
		return;
	}
	if (v.state != HS_PAIR_IN_SYNC) {
		reply_error(reply, userdata, HTTP_CONFLICT, "refused",
			    "%s is %s: a switchover needs an in-sync backup%s%s", vm,
			    hs_pair_state_name(v.state), v.reason ? " (" : "",
			    v.reason ? v.reason : "");
		return;
	}
	if (!hs_pairs_node_online(p->d, v.backup) || !hs_pairs_node_online(p->d, v.primary)) {
		reply_error(reply, userdata, HTTP_CONFLICT, "refused",
			    "both hosts must be in the cluster for a switchover");
		return;
	}
	r = switchover_start(p, &v, "switchover at the admin's request");
	if (r < 0) {
		reply_propose_error(reply, userdata, r);
		return;
	}
	reply_accepted(reply, userdata, vm, "switching-over",
		       "switching over: the primary stops, the mirror drains, the backup starts");
}

/* --- maintenance --------------------------------------------------------- */

void hs_pairs_maintenance(struct hs_pairs *p, const char *node, bool on, hs_pairs_reply_fn reply,
			  void *userdata)
{
	struct hs_daemon *d = p->d;
	const char *want = on ? "maintenance" : (hs_pairs_node_online(d, node) ? "online" : "offline");
	char state[16], *buf = NULL;
	json_object *o;
	size_t len;
	int r;

	if (!hs_config_node_by_name(d->config, node)) {
		reply_error(reply, userdata, HTTP_NOT_FOUND, "not_found", "no node '%s'", node);
		return;
	}
	hs_pairs_node_state(d, node, state, sizeof(state));
	if (!on && strcmp(state, "maintenance") != 0) {
		reply_error(reply, userdata, HTTP_CONFLICT, "refused", "%s is not in maintenance",
			    node);
		return;
	}
	if (on && (strcmp(state, "fencing") == 0 || strcmp(state, "fenced") == 0)) {
		reply_error(reply, userdata, HTTP_CONFLICT, "refused",
			    "%s is %s; maintenance is for a running host", node, state);
		return;
	}
	if (strcmp(state, want) != 0) {
		/* not recorded yet (the cluster just formed): its row goes first;
		 * not a member (-ENOENT): the change alone, the state refuses it */
		r = hs_state_ensure_node(d, node);
		if (r >= 0 || r == -ENOENT)
			r = sdb_msg_node_state(node, want, state[0] ? state : NULL, &buf, &len);
		if (r >= 0)
			r = hs_state_propose(d, buf, len);
		if (r < 0) {
			reply_propose_error(reply, userdata, r);
			return;
		}
		hs_state_event(d, NULL, "maintenance", "node %s %s", node,
			       on ? "enters maintenance: its primaries move away, it takes no new "
				    "backups"
				  : "leaves maintenance: it takes backups again");
	}
	p->n_maintenance_noted = 0;
	o = json_object_new_object();
	json_object_object_add(o, "node", json_object_new_string(node));
	json_object_object_add(o, "state", json_object_new_string(want));
	reply(userdata, HTTP_OK, o);
}

static bool noted(struct hs_pairs *p, const char *vm)
{
	for (size_t i = 0; i < p->n_maintenance_noted; i++)
		if (strcmp(p->maintenance_noted[i], vm) == 0)
			return true;
	if (p->n_maintenance_noted < ARRAY_SIZE(p->maintenance_noted))
		snprintf(p->maintenance_noted[p->n_maintenance_noted++],
			 sizeof(p->maintenance_noted[0]), "%s", vm);
	return false;
}

void hs_pairs_maintenance_cron(struct hs_pairs *p, const struct pair_view *views, size_t n)
{
	struct hs_cluster_view cv;
	char state[16];

	hs_cluster_view_get(p->d->cluster, &cv);
	if (!cv.quorate || cv.coordinator != cv.local_nodeid)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct pair_view *v = &views[i];

		if (strcmp(hs_pairs_node_state(p->d, v->primary, state, sizeof(state)),
			   "maintenance") != 0)
			continue;
		if (v->state == HS_PAIR_IN_SYNC && !v->op && hs_pairs_node_online(p->d, v->backup)) {
			switchover_start(p, v, "maintenance");
		} else if (!hs_pair_state_busy(v->state) && v->state != HS_PAIR_INITIAL_SYNC &&
			   !noted(p, v->vm)) {
			hs_state_event(p->d, v->vm, "maintenance",
				       "%s cannot leave %s yet: it is %s, a move needs an in-sync "
				       "backup",
				       v->vm, v->primary, hs_pair_state_name(v->state));
		}
	}
}
