// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_ops: the admin's operations on pairs: create, delete, switchover,
 * and set (the settings a running pair takes: its copy's bandwidth).
 * Each checks what it is asked against the replicated state, says plainly
 * why it refuses (-errno and a message; api/ turns the errno into a status),
 * and otherwise proposes the first transition; the duties carry the rest
 * out. Nothing here waits for the whole operation: the answer is "accepted"
 * and the pair's state and events tell the rest, which the CLI follows with
 * --wait. The body's JSON types were checked by the API (hs_api_body); what
 * is checked here is what the values mean.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_cleanup.h"
#include "hs_format.h"
#include "hs_clock.h"
#include "hs_json.h"
#include "hs_name.h"
#include "hs_pairs_internal.h"
#include "sdb.h"
#include "sdb_msg.h"

#define MAX_DISKS 64

void hs__pairs_refuse(hs_pairs_reply_fn reply, void *userdata, int result, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = hs_vformat(fmt, ap);
	va_end(ap);
	reply(userdata, result, &(struct hs_pairs_answer){.message = msg ? msg : strerror(-result)});
}

void hs__pairs_refuse_proposal(hs_pairs_reply_fn reply, void *userdata, int r)
{
	if (r == -ENOLINK)
		hs__pairs_refuse(reply, userdata, r,
		       "this host's partition has no quorum: it may not change the cluster");
	else if (r == -EALREADY)
		hs__pairs_refuse(reply, userdata, r, "a change to this pair is already under way");
	else
		hs__pairs_refuse(reply, userdata, r, "cannot propose: %s", strerror(-r));
}

bool hs__pairs_find(struct hs_pairs *p, const char *vm, struct hs_pair *v,
		    hs_pairs_reply_fn reply, void *userdata)
{
	int r = hs_core_pair_get(p->core, vm, v);

	if (r == -ENOENT) {
		hs__pairs_refuse(reply, userdata, -ENOENT, "no pair for VM '%s'", vm);
		return false;
	}
	if (r < 0) {
		hs__pairs_refuse(reply, userdata, -EIO, "cannot read the pair of %s: %s", vm,
		       sdb_errmsg(p->core->db));
		return false;
	}
	return true;
}

/* A bandwidth a pair may take, or false with the answer sent. */
static bool bandwidth_valid(int64_t mib, hs_pairs_reply_fn reply, void *userdata)
{
	if (mib >= 0 && mib <= HS_PAIR_BANDWIDTH_MAX_MIB)
		return true;
	hs__pairs_refuse(reply, userdata, -EINVAL,
			 "bandwidth_mib must be a whole number of MiB/s from 0 (unlimited) to %d, "
			 "not %lld",
			 HS_PAIR_BANDWIDTH_MAX_MIB, (long long)mib);
	return false;
}

/* "5 MiB/s per disk", "unlimited" */
static const char *bandwidth_text(uint64_t mib, char *buf, size_t size)
{
	if (mib == 0)
		return "unlimited";
	snprintf(buf, size, "%llu MiB/s per disk", (unsigned long long)mib);
	return buf;
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

static void inspected(void *userdata, const struct mirror_reply *reply)
{
	struct create *c = userdata;
	struct hs_core *core = c->p->core;
	const struct mirror_inspection *in = reply->inspection;
	int result = reply->result;
	const char *message = reply->message;
	json_object *row = NULL;
	size_t n = result >= 0 && in ? in->n_disks : 0;
	_cleanup_free_ char *event = NULL;
	struct sdb_disk_spec spec[MAX_DISKS];
	uint64_t sizes[MAX_DISKS];
	char *buf = NULL;
	size_t len;
	int r;

	if (result < 0) {
		hs__pairs_refuse(c->reply, c->userdata, result == -ENOENT ? -ENOENT : -EPERM, "%s%s", message,
		       result == -ENOENT ? " (run pair create on the host where the VM runs)" : "");
		goto out;
	}
	if (n == 0 || n > ARRAY_SIZE(spec)) {
		hs__pairs_refuse(c->reply, c->userdata, -EPERM, "%s has %zu mirrorable disks (1 to %zu supported)",
		       c->vm, n, ARRAY_SIZE(spec));
		goto out;
	}
	/* The state may have moved while libvirt answered. */
	if (sdb_pair_get(core->db, c->vm, &row) == 0) {
		json_object_put(row);
		hs__pairs_refuse(c->reply, c->userdata, -EEXIST, "%s is already paired", c->vm);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sizes[i] = in->disks[i].bytes;
		spec[i] = (struct sdb_disk_spec){
			.target = in->disks[i].target,
			.bytes_total = sizes[i],
		};
	}
	/* logged with the pair, in one change: a create refused when applied logs nothing */
	if (asprintf(&event, "pairing %s: primary %s, backup %s, %s mode%s", c->vm,
		     core->self->name, c->backup, c->mode ? c->mode : "sync",
		     c->bandwidth_mib ? ", throttled" : "") < 0) {
		event = NULL;
		hs__pairs_refuse(c->reply, c->userdata, -ENOMEM, "out of memory");
		goto out;
	}
	struct sdb_pair_spec ps = {
		.vm = c->vm,
		.uuid = in->uuid && *in->uuid ? in->uuid : NULL,
		.primary = core->self->name,
		.backup = c->backup,
		.mode = c->mode,
		.bandwidth_mib = c->bandwidth_mib,
		.state = "creating",
		.disks = spec,
		.n_disks = n,
		.domain_xml = in->xml,
		.disk_sizes = sizes,
		.n_disk_sizes = n,
		.nbd_port = hs__pairs_free_port(c->p, c->backup, c->vm),
		.event = event,
		.event_node = core->self->name,
	};
	r = hs_state_ensure_node(core, core->self->name);
	if (r >= 0)
		r = hs_state_ensure_node(core, c->backup);
	if (r >= 0)
		r = sdb_msg_pair_create(&ps, &buf, &len);
	if (r >= 0)
		r = hs_state_propose(core, buf, len);
	if (r < 0) {
		hs__pairs_refuse_proposal(c->reply, c->userdata, r);
		goto out;
	}
	c->reply(c->userdata, HS_PAIRS_ACCEPTED,
		 &(struct hs_pairs_answer){
		     .vm = c->vm, .state = "creating", .primary = core->self->name,
		     .backup = c->backup, .nbd_port = ps.nbd_port,
		     .message = "pairing accepted: the backup host prepares the backup, then the "
				"initial sync starts"});
out:
	create_free(c);
}

void hs_pairs_create(struct hs_pairs *p, const struct hs_pair_request *req,
		     hs_pairs_reply_fn reply, void *userdata)
{
	struct hs_core *core = p->core;
	enum hs_pair_mode mode;
	struct hs_pair pv = {0};
	struct create *c;
	int r;

	if (!hs_name_valid(req->vm)) {
		hs__pairs_refuse(reply, userdata, -EINVAL,
		       "vm must be a domain name (letters, digits, - _ ., 1 to 64)");
		return;
	}
	if (!req->backup) {
		hs__pairs_refuse(reply, userdata, -EINVAL, "backup is required: the node that keeps the backup");
		return;
	}
	if (hs_pair_mode_from_name(req->mode, &mode) < 0) {
		hs__pairs_refuse(reply, userdata, -EINVAL, "mode must be sync or async, not '%s'", req->mode);
		return;
	}
	if (!bandwidth_valid(req->bandwidth_mib, reply, userdata))
		return;
	if (!hs_config_node_by_name(core->config, req->backup)) {
		hs__pairs_refuse(reply, userdata, -ENOENT, "no node '%s' in the configuration", req->backup);
		return;
	}
	if (hs_core_is_self(core, req->backup)) {
		hs__pairs_refuse(reply, userdata, -EPERM,
		       "the backup must be on another host than the primary (%s)", req->backup);
		return;
	}
	if (!hs_core_quorate(core)) {
		hs__pairs_refuse_proposal(reply, userdata, -ENOLINK);
		return;
	}
	if (!hs_core_node_online(core, req->backup)) {
		hs__pairs_refuse(reply, userdata, -EPERM,
		       "%s is not in the cluster now; a backup needs a running host", req->backup);
		return;
	}
	if (hs_core_node_in_maintenance(core, req->backup)) {
		hs__pairs_refuse(reply, userdata, -EPERM, "%s is in maintenance and takes no new backups",
		       req->backup);
		return;
	}
	r = hs_core_pair_get(core, req->vm, &pv);
	if (r == 0 || r == -EINVAL) { /* -EINVAL: a row there that does not decode */
		if (r == 0)
			hs__pairs_refuse(reply, userdata, -EEXIST, "%s is already paired (primary %s, backup %s, %s)",
			       req->vm, pv.primary, pv.backup ? pv.backup : "-",
			       hs_pair_state_name(pv.state));
		else
			hs__pairs_refuse(reply, userdata, -EEXIST, "%s is already paired", req->vm);
		hs_pair_release(&pv);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->vm = strdup(req->vm)) || !(c->backup = strdup(req->backup)) ||
	    (req->mode && !(c->mode = strdup(req->mode)))) {
		if (c)
			create_free(c);
		hs__pairs_refuse(reply, userdata, -ENOMEM, "out of memory");
		return;
	}
	c->p = p;
	c->bandwidth_mib = (uint64_t)req->bandwidth_mib;
	c->reply = reply;
	c->userdata = userdata;
	r = mirror_inspect_typed(p->mirror, req->vm, inspected, c);
	if (r < 0) {
		create_free(c);
		hs__pairs_refuse(reply, userdata, r, "cannot ask libvirt: %s", strerror(-r));
	}
}

/* --- pair set ------------------------------------------------------------ */

/*
 * A setting is no transition: it is proposed as pair_set from any host, in
 * any state, and does not wait for the pair's duties. The host that runs the
 * copy sees the new value in the state at its next poll of the jobs and
 * applies it (hs_pair_duty_mirror.c); a copy started later is started with it.
 */
void hs_pairs_set(struct hs_pairs *p, const struct hs_pair_settings *set, hs_pairs_reply_fn reply,
		  void *userdata)
{
	_cleanup_free_ char *event = NULL, *message = NULL;
	char now_buf[48], was[48], *buf = NULL;
	const char *now;
	struct hs_pair v;
	size_t len;
	int r;

	if (!hs_name_valid(set->vm)) {
		hs__pairs_refuse(reply, userdata, -EINVAL,
				 "vm must be a domain name (letters, digits, - _ ., 1 to 64)");
		return;
	}
	if (!bandwidth_valid(set->bandwidth_mib, reply, userdata))
		return;
	if (!hs__pairs_find(p, set->vm, &v, reply, userdata))
		return;
	now = bandwidth_text((uint64_t)set->bandwidth_mib, now_buf, sizeof(now_buf));
	if (v.bandwidth_mib == (uint64_t)set->bandwidth_mib) {
		r = asprintf(&message, "the bandwidth of %s is %s already", set->vm, now);
		reply(userdata, HS_PAIRS_DONE,
		      &(struct hs_pairs_answer){.vm = set->vm,
						.message = r < 0 ? "no change" : message});
		goto out;
	}
	if (!hs_core_quorate(p->core)) {
		hs__pairs_refuse_proposal(reply, userdata, -ENOLINK);
		goto out;
	}
	if (asprintf(&event, "bandwidth of %s set to %s (was %s) at the admin's request", set->vm,
		     now, bandwidth_text(v.bandwidth_mib, was, sizeof(was))) < 0 ||
	    asprintf(&message,
		     "bandwidth of %s set to %s: %s applies it to the copy under way within "
		     "seconds, and every later copy starts with it",
		     set->vm, now, v.primary) < 0) {
		hs__pairs_refuse(reply, userdata, -ENOMEM, "out of memory");
		goto out;
	}
	struct sdb_pair_settings change = {
		.vm = set->vm,
		.bandwidth_mib = (uint64_t)set->bandwidth_mib,
		.event = event,
		.event_node = p->core->self->name,
	};
	r = sdb_msg_pair_set(&change, &buf, &len);
	if (r >= 0)
		r = hs_state_propose(p->core, buf, len);
	if (r < 0) {
		hs__pairs_refuse_proposal(reply, userdata, r);
		goto out;
	}
	reply(userdata, HS_PAIRS_ACCEPTED,
	      &(struct hs_pairs_answer){.vm = set->vm, .message = message});
out:
	hs_pair_release(&v);
}

/* --- pair delete, switchover --------------------------------------------- */

void hs_pairs_delete(struct hs_pairs *p, const char *vm, hs_pairs_reply_fn reply, void *userdata)
{
	struct sdb_pair_change c = {0};
	struct hs_pair v;
	int r;

	if (!hs__pairs_find(p, vm, &v, reply, userdata))
		return;
	if (!hs_pair_fsm_lookup(v.state, HS_EV_DELETE)) {
		hs__pairs_refuse(reply, userdata, -EBUSY, "%s is %s; unpair it when that is over", vm,
		       hs_pair_state_name(v.state));
		goto out;
	}
	/* Unprotected: the recorded backup host holds the old primary, not a backup. */
	if (v.state == HS_PAIR_UNPROTECTED)
		c.clear_backup = true;
	r = hs__pairs_transition(p, &v, HS_EV_DELETE, &c, "unpairing %s at the admin's request", vm);
	if (r < 0) {
		hs__pairs_refuse_proposal(reply, userdata, r);
		goto out;
	}
	reply(userdata, HS_PAIRS_ACCEPTED,
	      &(struct hs_pairs_answer){
		  .vm = vm, .state = "deleting",
		  .message = "unpairing: the mirror stops, then the backup is removed"});
out:
	hs_pair_release(&v);
}

/* The operation each kind records: hs_records.c reads the kind back from it. */
static const char *const switchover_ops[] = {
	[HS_SWITCHOVER_COLD] = "switchover",
	[HS_SWITCHOVER_LIVE] = "live-switchover",
	[HS_SWITCHOVER_LIVE_OR_COLD] = "live-switchover-or-cold",
};

int hs__pairs_switchover_start(struct hs_pairs *p, const struct hs_pair *v,
				enum hs_switchover_kind kind, const char *why)
{
	bool live = kind != HS_SWITCHOVER_COLD;
	char *buf = NULL, ref[96 + HS_NAME_MAX];
	size_t len;
	int r;

	/* the host the guest leaves, in the reference: whether it has left yet is read from it */
	snprintf(ref, sizeof(ref), "%s-%llu-from-%s", p->core->self->name,
		 (unsigned long long)hs_now_usec(CLOCK_REALTIME), v->primary);
	r = sdb_msg_op_begin(v->vm, switchover_ops[kind], p->core->self->name, ref, &buf, &len);
	if (r >= 0)
		r = hs_state_propose(p->core, buf, len);
	if (r < 0)
		return r;
	return hs__pairs_transition(p, v, live ? HS_EV_LIVE_SWITCHOVER : HS_EV_SWITCHOVER, NULL,
				    "%s: moving %s from %s to %s%s", why, v->vm, v->primary,
				    v->backup, live ? " live (no reboot)" : "");
}

void hs_pairs_switchover(struct hs_pairs *p, const char *vm, enum hs_switchover_kind kind,
			 hs_pairs_reply_fn reply, void *userdata)
{
	bool live = kind != HS_SWITCHOVER_COLD;
	struct hs_pair v;
	int r;

	if (!hs__pairs_find(p, vm, &v, reply, userdata))
		return;
	if (hs_pair_state_busy(v.state) || v.op) {
		hs__pairs_refuse(reply, userdata, -EBUSY, "%s is %s%s%s; try again later", vm,
		       hs_pair_state_name(v.state), v.op ? ", running " : "", v.op ? v.op : "");
		goto out;
	}
	/* (known on the primary's host only: a verify is no replicated operation) */
	if (hs__pairs_verifying(p, vm)) {
		hs__pairs_refuse(reply, userdata, -EBUSY,
				 "a verify of %s runs on this host; switch over once it has ended", vm);
		goto out;
	}
	if (v.state != HS_PAIR_IN_SYNC) {
		hs__pairs_refuse(reply, userdata, -EPERM, "%s is %s: a switchover needs an in-sync backup%s%s%s",
		       vm, hs_pair_state_name(v.state), v.reason ? " (" : "",
		       v.reason ? v.reason : "", v.reason ? ")" : "");
		goto out;
	}
	if (!hs_core_node_online(p->core, v.backup) || !hs_core_node_online(p->core, v.primary)) {
		hs__pairs_refuse(reply, userdata, -EPERM, "both hosts must be in the cluster for a switchover");
		goto out;
	}
	/*
	 * A host in maintenance runs no VMs: its maintenance would move the
	 * guest straight back, and `switchover --wait` would wait for a primary
	 * that no longer is (chaos seed 11, --qemu-kill: 15 min).
	 */
	if (hs_core_node_in_maintenance(p->core, v.backup)) {
		hs__pairs_refuse(reply, userdata, -EPERM,
				 "%s's backup host %s is in maintenance and runs no VMs; `hasvc node "
				 "maintenance %s off` first",
				 vm, v.backup, v.backup);
		goto out;
	}
	/*
	 * Told by this host's engine: the hosts of a cluster run one
	 * configuration. libvirt's block copy would refuse the migration only
	 * after the backup's QEMU had gone, and its job with it: a full copy.
	 */
	if (live && !mirror_engine_qmp(p->mirror)) {
		hs__pairs_refuse(reply, userdata, -EPERM,
				 "a live switchover needs the qmp engine (HASVC_MIRROR_ENGINE=qmp): "
				 "libvirt refuses to migrate beside its own block copy; without --live "
				 "the guest restarts on %s",
				 v.backup);
		goto out;
	}
	r = hs__pairs_switchover_start(p, &v, kind, "switchover at the admin's request");
	if (r < 0) {
		hs__pairs_refuse_proposal(reply, userdata, r);
		goto out;
	}
	if (live)
		reply(userdata, HS_PAIRS_ACCEPTED,
		      &(struct hs_pairs_answer){
			  .vm = vm, .state = "handing-over",
			  .message = "live switchover: a stand-in takes the backup's exports, the "
				     "guest migrates, the mirror turns back; no reboot"});
	else
		reply(userdata, HS_PAIRS_ACCEPTED,
		      &(struct hs_pairs_answer){
			  .vm = vm, .state = "switching-over",
			  .message = "switching over: the primary stops, the mirror drains, the backup "
				     "starts"});
out:
	hs_pair_release(&v);
}
