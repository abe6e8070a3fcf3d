// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_msg_build: the builders of the change messages (sdb_msg.h).
 *
 * A builder turns its arguments into the message's JSON text, envelope
 * first: {"v":SDB_MSG_PROTOCOL, "type":..., "time":<usec of this host's
 * CLOCK_REALTIME>}. The time is the proposer's, carried in the message so
 * that every host stores the same timestamps. Optional arguments that are
 * NULL (or 0 where 0 means "leave it") are left out of the message; the
 * apply side (sdb_apply*.c) checks every field again, since a message may
 * come from any host, of any build.
 */
#include <string.h>
#include <time.h>

#include "sdb_internal.h"
#include "sdb_msg.h"

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static json_object *msg_new(const char *type)
{
	json_object *m = json_object_new_object();

	if (!m)
		return NULL;
	json_object_object_add(m, "v", json_object_new_int(SDB_MSG_PROTOCOL));
	json_object_object_add(m, "type", json_object_new_string(type));
	json_object_object_add(m, "time", json_object_new_int64((int64_t)now_usec()));
	return m;
}

static void add_str(json_object *m, const char *key, const char *v)
{
	if (v)
		json_object_object_add(m, key, json_object_new_string(v));
}

static void add_u64(json_object *m, const char *key, uint64_t v)
{
	json_object_object_add(m, key,
			       json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

static int add_disks(json_object *m, const struct sdb_disk_spec *disks, size_t n)
{
	json_object *a = json_object_new_array();

	if (!a)
		return -ENOMEM;
	json_object_object_add(m, "disks", a);
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_new_object();

		if (!d || !disks[i].target) {
			json_object_put(d);
			return -EINVAL;
		}
		json_object_array_add(a, d);
		add_str(d, "target", disks[i].target);
		add_u64(d, "bytes_done", disks[i].bytes_done);
		add_u64(d, "bytes_total", disks[i].bytes_total);
		json_object_object_add(d, "ready", json_object_new_boolean(disks[i].ready));
	}
	return 0;
}

/* Serializes and frees M. */
static int msg_finish(json_object *m, char **ret_buf, size_t *ret_len)
{
	_cleanup_json_ json_object *owned = m;

	return m ? sdb__json_text(m, ret_buf, ret_len) : -ENOMEM;
}

int sdb_msg_node_upsert(const struct sdb_node_info *node, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!node || !node->name || node->nodeid == 0)
		return -EINVAL;
	m = msg_new("node_upsert");
	if (m) {
		add_str(m, "name", node->name);
		add_u64(m, "nodeid", node->nodeid);
		add_str(m, "address", node->address);
		add_str(m, "fence_ref", node->fence_ref);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_node_state(const char *name, const char *state, const char *expect_state,
		       char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!name || !state)
		return -EINVAL;
	m = msg_new("node_state");
	if (m) {
		add_str(m, "name", name);
		add_str(m, "state", state);
		add_str(m, "expect_state", expect_state);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_node_admin(const char *name, const char *admin_state, const char *expect_admin_state,
		       char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!name || !admin_state)
		return -EINVAL;
	m = msg_new("node_admin");
	if (m) {
		add_str(m, "name", name);
		add_str(m, "admin_state", admin_state);
		add_str(m, "expect_admin_state", expect_admin_state);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_node_delete(const char *name, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!name)
		return -EINVAL;
	m = msg_new("node_delete");
	if (m)
		add_str(m, "name", name);
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_create(const struct sdb_pair_spec *spec, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!spec || !spec->vm || !spec->primary)
		return -EINVAL;
	m = msg_new("pair_create");
	if (m) {
		add_str(m, "vm", spec->vm);
		add_str(m, "uuid", spec->uuid);
		add_str(m, "primary", spec->primary);
		add_str(m, "backup", spec->backup);
		add_str(m, "mode", spec->mode);
		add_u64(m, "bandwidth_mib", spec->bandwidth_mib);
		add_str(m, "state", spec->state);
		add_str(m, "desired_state", spec->desired_state);
		add_str(m, "reason", spec->reason);
		add_str(m, "domain_xml", spec->domain_xml);
		if (spec->nbd_port)
			add_u64(m, "nbd_port", spec->nbd_port);
		add_str(m, "event_node", spec->event_node);
		add_str(m, "event", spec->event);
		if (spec->n_disk_sizes > 0) {
			json_object *a = json_object_new_array();
			for (size_t i = 0; a && i < spec->n_disk_sizes; i++)
				json_object_array_add(
				    a, json_object_new_int64((int64_t)spec->disk_sizes[i]));
			json_object_object_add(m, "disk_sizes", a);
		}
		if (spec->n_disks > 0 && add_disks(m, spec->disks, spec->n_disks) < 0) {
			json_object_put(m);
			return -EINVAL;
		}
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_update(const struct sdb_pair_change *change, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!change || !change->vm)
		return -EINVAL;
	m = msg_new("pair_update");
	if (m) {
		add_str(m, "vm", change->vm);
		add_str(m, "expect_state", change->expect_state);
		if (change->expect_generation)
			add_u64(m, "expect_generation", change->expect_generation);
		add_str(m, "state", change->state);
		add_str(m, "pair_event", change->pair_event);
		add_str(m, "desired_state", change->desired_state);
		add_str(m, "admin_state", change->admin_state);
		add_str(m, "reason", change->reason);
		add_str(m, "primary", change->primary);
		add_str(m, "backup", change->backup);
		if (change->clear_backup)
			json_object_object_add(m, "clear_backup", json_object_new_boolean(1));
		add_str(m, "mode", change->mode);
		if (change->set_bandwidth)
			add_u64(m, "bandwidth_mib", change->bandwidth_mib);
		if (change->nbd_port)
			add_u64(m, "nbd_port", change->nbd_port);
		if (change->backup_disk_id) {
			add_str(m, "backup_disk_id", change->backup_disk_id);
			add_str(m, "backup_disk_reason",
				change->backup_disk_reason ? change->backup_disk_reason : "");
		}
		add_str(m, "event_node", change->event_node);
		add_str(m, "event", change->event);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_progress(const char *vm, uint64_t bytes_done, uint64_t bytes_total,
			  const struct sdb_disk_spec *disks, size_t n_disks, char **ret_buf,
			  size_t *ret_len)
{
	return sdb_msg_pair_copy_progress(vm, bytes_done, bytes_total, disks, n_disks, NULL,
					  ret_buf, ret_len);
}

int sdb_msg_pair_copy_progress(const char *vm, uint64_t bytes_done, uint64_t bytes_total,
			       const struct sdb_disk_spec *disks, size_t n_disks,
			       const struct sdb_copy_kind *copy, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!vm || (copy && !copy->kind))
		return -EINVAL;
	m = msg_new("pair_progress");
	if (m) {
		add_str(m, "vm", vm);
		add_u64(m, "bytes_done", bytes_done);
		add_u64(m, "bytes_total", bytes_total);
		if (copy) {
			add_str(m, "copy_kind", copy->kind);
			add_str(m, "copy_reason", copy->reason);
		}
		if (n_disks > 0 && add_disks(m, disks, n_disks) < 0) {
			json_object_put(m);
			return -EINVAL;
		}
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_set(const struct sdb_pair_settings *set, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!set || !set->vm)
		return -EINVAL;
	m = msg_new("pair_set");
	if (m) {
		add_str(m, "vm", set->vm);
		add_u64(m, "bandwidth_mib", set->bandwidth_mib);
		add_str(m, "event_node", set->event_node);
		add_str(m, "event", set->event);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_verify(const struct sdb_pair_verify *verify, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!verify || !verify->vm || !verify->result)
		return -EINVAL;
	m = msg_new("pair_verify");
	if (m) {
		add_str(m, "vm", verify->vm);
		add_str(m, "result", verify->result);
		add_str(m, "event_node", verify->event_node);
		add_str(m, "event", verify->event);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_pair_delete(const char *vm, const char *expect_state, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!vm)
		return -EINVAL;
	m = msg_new("pair_delete");
	if (m) {
		add_str(m, "vm", vm);
		add_str(m, "expect_state", expect_state);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_event(const char *node, const char *vm, const char *kind, const char *message,
		  json_object *detail, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!kind || !message)
		return -EINVAL;
	m = msg_new("event");
	if (m) {
		add_str(m, "node", node);
		add_str(m, "vm", vm);
		add_str(m, "kind", kind);
		add_str(m, "message", message);
		if (detail)
			json_object_object_add(m, "detail", json_object_get(detail));
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_fence_start(const struct sdb_fence_start *start, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!start || !start->ref || !start->target || !start->agent || !start->action)
		return -EINVAL;
	m = msg_new("fence_start");
	if (m) {
		add_str(m, "ref", start->ref);
		add_str(m, "target", start->target);
		add_str(m, "device", start->device);
		add_str(m, "agent", start->agent);
		add_u64(m, "level", start->level);
		add_str(m, "action", start->action);
		if (start->started_usec)
			add_u64(m, "started_usec", start->started_usec);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_fence_finish(const char *ref, const char *result, const char *message, char **ret_buf,
			 size_t *ret_len)
{
	json_object *m;

	if (!ref || !result)
		return -EINVAL;
	m = msg_new("fence_finish");
	if (m) {
		add_str(m, "ref", ref);
		add_str(m, "result", result);
		add_str(m, "message", message);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_op_begin(const char *vm, const char *op, const char *node, const char *ref,
		     char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!vm || !op || !node || !ref)
		return -EINVAL;
	m = msg_new("op_begin");
	if (m) {
		add_str(m, "vm", vm);
		add_str(m, "op", op);
		add_str(m, "node", node);
		add_str(m, "ref", ref);
	}
	return msg_finish(m, ret_buf, ret_len);
}

int sdb_msg_op_end(const char *vm, const char *ref, char **ret_buf, size_t *ret_len)
{
	json_object *m;

	if (!vm)
		return -EINVAL;
	m = msg_new("op_end");
	if (m) {
		add_str(m, "vm", vm);
		add_str(m, "ref", ref);
	}
	return msg_finish(m, ret_buf, ret_len);
}
