// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_records: decoding state/'s rows into struct hs_pair and struct hs_node
 * (see hs_records.h). The only place of the daemon that reads a pair's or a
 * node's fields out of JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_json.h"
#include "hs_records.h"

static const char *const mode_names[] = {[HS_MODE_SYNC] = "sync", [HS_MODE_ASYNC] = "async"};

const char *hs_pair_mode_name(enum hs_pair_mode m)
{
	return m == HS_MODE_ASYNC ? "async" : "sync";
}

int hs_pair_mode_from_name(const char *name, enum hs_pair_mode *ret)
{
	if (!name) {
		*ret = HS_MODE_SYNC;
		return 0;
	}
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(mode_names[i], name) == 0) {
			*ret = (enum hs_pair_mode)i;
			return 0;
		}
	return -EINVAL;
}

int hs_pair_decode(json_object *row, struct hs_pair *ret)
{
	struct hs_pair v = {0};
	const char *state, *desired;

	v.vm = hs_json_str(row, "vm");
	v.primary = hs_json_str(row, "primary");
	v.backup = hs_json_str(row, "backup");
	v.reason = hs_json_str(row, "reason");
	v.backup_disk_id = hs_json_str(row, "backup_disk_id");
	v.backup_disk_reason = hs_json_str(row, "backup_disk_reason");
	v.generation = hs_json_u64(row, "generation");
	v.changed_usec = hs_json_u64(row, "changed_usec");
	v.bandwidth_mib = hs_json_u64(row, "bandwidth_mib");
	v.bytes_done = hs_json_u64(row, "bytes_done");
	v.bytes_total = hs_json_u64(row, "bytes_total");
	v.nbd_port = (unsigned)hs_json_u64(row, "nbd_port");
	v.op = hs_json_str(hs_json_get(row, "operation"), "op");
	v.op_ref = hs_json_str(hs_json_get(row, "operation"), "ref");
	v.switchover = v.op && strcmp(v.op, "switchover") == 0;
	v.allow_cold = v.op && strcmp(v.op, "live-switchover-or-cold") == 0;
	v.live = v.allow_cold || (v.op && strcmp(v.op, "live-switchover") == 0);
	v.op_started_usec = hs_json_u64(hs_json_get(row, "operation"), "started_usec");
	/* a mode this daemon does not know mirrors as the default does */
	if (hs_pair_mode_from_name(hs_json_str(row, "mode"), &v.mode) < 0)
		v.mode = HS_MODE_SYNC;
	desired = hs_json_str(row, "desired_state");
	v.desired = desired && strcmp(desired, "deleted") == 0	      ? HS_DESIRED_DELETED
		    : desired && strcmp(desired, "unprotected") == 0 ? HS_DESIRED_UNPROTECTED
								      : HS_DESIRED_PROTECTED;
	state = hs_json_str(row, "state");
	if (!v.vm || !v.primary || !state || hs_pair_state_from_name(state, &v.state) < 0)
		return -EINVAL;
	v.row = json_object_get(row);
	*ret = v;
	return 0;
}

void hs_pair_release(struct hs_pair *p)
{
	if (!p)
		return;
	json_object_put(p->row);
	p->row = NULL;
}

int hs_node_decode(json_object *row, struct hs_node *ret)
{
	const char *name = hs_json_str(row, "name");

	if (!name)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	ret->nodeid = (uint32_t)hs_json_u64(row, "nodeid");
	ret->state = hs_node_state_from_name(hs_json_str(row, "state"));
	ret->admin = hs_node_admin_from_name(hs_json_str(row, "admin_state"));
	ret->changed_usec = hs_json_u64(row, "changed_usec");
	return 0;
}

void hs_pair_list_free(struct hs_pair_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		hs_pair_release(&l->pairs[i]);
	free(l->pairs);
	json_object_put(l->rows);
	*l = (struct hs_pair_list){0};
}
