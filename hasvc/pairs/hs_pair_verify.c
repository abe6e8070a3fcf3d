// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pair_verify: the admin's online verify of a pair (hs_pairs_verify;
 * issue 13, item 6; docs/pairs.md "Online verify").
 *
 * The primary host runs it, because it has the guest's disks as the guest
 * sees them and the guest to pause for a repair: the API of that host takes
 * the request, and another host's refuses it naming the primary. It is not a
 * duty of the pair's state: a verify reads every disk whole, minutes for a
 * large one, while the pair's duties (the mirror's polls, the link watch, a
 * cut) must go on beside it, so it has a record of its own here and no part
 * of the task's one request in flight. Its outcome goes into the replicated
 * state (pair_verify: the pair's "verify" on every host's API and metrics)
 * with an event that names the ranges out of sync.
 *
 * Only a sync pair that is in-sync is verified: in async mode the backup is
 * behind by design (a difference there is the lag, not a fault), and a pair
 * copying (initial-sync, resync) or degraded has no claim to be equal yet.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"
#include "hs_name.h"
#include "hs_pairs_internal.h"
#include "sdb.h"
#include "sdb_msg.h"

struct verify_run {
	struct verify_run *next;
	struct hs_pairs *p;
	char *vm;
	bool repair;
	uint64_t started_usec;
};

void hs__verifies_free(struct hs_pairs *p)
{
	while (p->verifies) {
		struct verify_run *vr = p->verifies;

		p->verifies = vr->next;
		free(vr->vm);
		free(vr);
	}
}

static struct verify_run *verify_find(struct hs_pairs *p, const char *vm)
{
	for (struct verify_run *vr = p->verifies; vr; vr = vr->next)
		if (strcmp(vr->vm, vm) == 0)
			return vr;
	return NULL;
}

bool hs__pairs_verifying(struct hs_pairs *p, const char *vm)
{
	return verify_find(p, vm) != NULL;
}

static void verify_forget(struct verify_run *vr)
{
	struct verify_run **pp = &vr->p->verifies;

	while (*pp && *pp != vr)
		pp = &(*pp)->next;
	if (*pp)
		*pp = vr->next;
	free(vr->vm);
	free(vr);
}

/* "in-sync", "out-of-sync", "repaired", "failed": what an operator reads first. */
static const char *outcome_of(const struct mirror_reply *reply)
{
	const struct mirror_verification *v = reply->verification;

	if (reply->result < 0 || !v)
		return "failed";
	if (v->out_of_sync_bytes == 0)
		return "in-sync";
	if (v->repaired_bytes > 0 && v->remaining_bytes == 0)
		return "repaired";
	return "out-of-sync";
}

/*
 * What the event says: mirror/'s message, whose ranges a few hundred bytes
 * cut short, with every range the verification lists instead (at most
 * MIRROR_VERIFY_RANGES_SHOWN); NULL out of memory.
 */
static char *outcome_text(const struct verify_run *vr, const struct mirror_reply *reply)
{
	const struct mirror_verification *v = reply->verification;
	char *text = NULL;
	int r;

	if (reply->result < 0 || !v || v->out_of_sync_bytes == 0)
		return strdup(reply->message ? reply->message : "");
	if (!vr->repair)
		r = asprintf(&text,
			     "%s: %" PRIu64 " bytes compared in %" PRIu64 " ms: %" PRIu64
			     " bytes out of sync in %" PRIu64 " range(s): %s",
			     vr->vm, v->bytes_compared, v->elapsed_ms, v->out_of_sync_bytes,
			     v->n_ranges, v->ranges ? v->ranges : "");
	else
		r = asprintf(&text,
			     "%s: %" PRIu64 " bytes compared in %" PRIu64 " ms: %" PRIu64
			     " bytes out of sync in %" PRIu64 " range(s) (%s), %" PRIu64
			     " repaired with the guest paused %u time(s), %" PRIu64
			     " ms in all (longest %" PRIu64 " ms); %" PRIu64 " bytes still differ",
			     vr->vm, v->bytes_compared, v->elapsed_ms, v->out_of_sync_bytes,
			     v->n_ranges, v->ranges ? v->ranges : "", v->repaired_bytes, v->pauses,
			     v->pause_ms, v->pause_max_ms, v->remaining_bytes);
	return r < 0 ? NULL : text;
}

/* The pair's "verify" object (docs/api.md); TEXT its message. */
static json_object *result_json(const struct verify_run *vr, const char *node,
				const struct mirror_reply *reply, const char *text)
{
	const struct mirror_verification *v = reply->verification;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "result", json_object_new_string(outcome_of(reply)));
	json_object_object_add(o, "node", json_object_new_string(node));
	json_object_object_add(o, "repair", json_object_new_boolean(vr->repair));
	json_object_object_add(o, "started_usec", json_object_new_int64((int64_t)vr->started_usec));
	json_object_object_add(o, "finished_usec",
			       json_object_new_int64((int64_t)hs_now_usec(CLOCK_REALTIME)));
	if (v && reply->result >= 0) {
		json_object_object_add(o, "bytes_compared",
				       json_object_new_int64((int64_t)v->bytes_compared));
		json_object_object_add(o, "out_of_sync_bytes",
				       json_object_new_int64((int64_t)v->out_of_sync_bytes));
		json_object_object_add(o, "ranges_count", json_object_new_int64((int64_t)v->n_ranges));
		json_object_object_add(o, "ranges", json_object_new_string(v->ranges ? v->ranges : ""));
		json_object_object_add(o, "repaired_bytes",
				       json_object_new_int64((int64_t)v->repaired_bytes));
		json_object_object_add(o, "remaining_bytes",
				       json_object_new_int64((int64_t)v->remaining_bytes));
		json_object_object_add(o, "rechecked_chunks",
				       json_object_new_int64((int64_t)v->rechecked_chunks));
		json_object_object_add(o, "elapsed_ms", json_object_new_int64((int64_t)v->elapsed_ms));
		json_object_object_add(o, "pause_ms", json_object_new_int64((int64_t)v->pause_ms));
		json_object_object_add(o, "pause_max_ms",
				       json_object_new_int64((int64_t)v->pause_max_ms));
		json_object_object_add(o, "pauses", json_object_new_int((int)v->pauses));
	}
	/* the ranges are in "ranges" already: the message is bounded, so the object fits */
	json_object_object_add(o, "message", json_object_new_string_len(text, (int)strnlen(text, 1024)));
	return o;
}

static void verify_done(void *userdata, const struct mirror_reply *reply)
{
	struct verify_run *vr = userdata;
	struct hs_pairs *p = vr->p;
	_cleanup_free_ char *text = outcome_text(vr, reply);
	_cleanup_json_ json_object *o =
	    result_json(vr, p->core->self->name, reply, text ? text : reply->message);
	char *buf = NULL;
	size_t len;
	int r;

	if (reply->result < 0)
		qb_log(LOG_WARNING, "pair %s: verify failed: %s", vr->vm, reply->message);
	else
		qb_log(LOG_NOTICE, "pair %s: verify: %s", vr->vm, text ? text : reply->message);
	r = sdb_msg_pair_verify(
	    &(struct sdb_pair_verify){.vm = vr->vm,
				      .result = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
				      .event = reply->result < 0 ? NULL : (text ? text : reply->message),
				      .event_node = p->core->self->name},
	    &buf, &len);
	hs__pairs_propose(p, r, &buf, &len, "verify result");
	if (reply->result < 0)
		hs__pairs_event(p, vr->vm, "pair", "verify of %s failed: %s", vr->vm, reply->message);
	verify_forget(vr);
}

/* Whether V may be verified now, from this host; false with the answer sent. */
static bool verify_allowed(struct hs_pairs *p, const struct hs_pair *v, hs_pairs_reply_fn reply,
			   void *userdata)
{
	const char *self = p->core->self->name;

	if (strcmp(v->primary, self) != 0) {
		hs__pairs_refuse(reply, userdata, -EPERM,
				 "the primary host of %s is %s: it runs the verify (it holds the "
				 "guest's disks and can pause the guest for a repair); ask its API",
				 v->vm, v->primary);
		return false;
	}
	if (v->mode != HS_MODE_SYNC) {
		hs__pairs_refuse(reply, userdata, -EPERM,
				 "%s is an async pair: its backup lags the primary by design, so a "
				 "difference is not a fault; verify compares sync pairs only",
				 v->vm);
		return false;
	}
	if (v->state != HS_PAIR_IN_SYNC) {
		hs__pairs_refuse(reply, userdata, -EPERM,
				 "%s is %s, not in-sync: its backup is not meant to be equal yet "
				 "(a copy under way, or the backup away); verify it once it is "
				 "in-sync",
				 v->vm, hs_pair_state_name(v->state));
		return false;
	}
	if (v->op) {
		hs__pairs_refuse(reply, userdata, -EBUSY, "%s is busy with a %s; verify it after",
				 v->vm, v->op);
		return false;
	}
	if (verify_find(p, v->vm)) {
		hs__pairs_refuse(reply, userdata, -EALREADY,
				 "a verify of %s runs already on %s; its result will be the pair's "
				 "\"verify\"",
				 v->vm, self);
		return false;
	}
	return true;
}

void hs_pairs_verify(struct hs_pairs *p, const char *vm, bool repair, hs_pairs_reply_fn reply,
		     void *userdata)
{
	_cleanup_free_ char *message = NULL;
	struct verify_run *vr;
	struct hs_pair v;
	int r;

	if (!hs_name_valid(vm)) {
		hs__pairs_refuse(reply, userdata, -EINVAL,
				 "vm must be a domain name (letters, digits, - _ ., 1 to 64)");
		return;
	}
	if (!hs__pairs_find(p, vm, &v, reply, userdata))
		return;
	if (!verify_allowed(p, &v, reply, userdata))
		goto out;
	if (!hs_core_quorate(p->core)) {
		/* its outcome could not be recorded; a repair must not race a failover */
		hs__pairs_refuse_proposal(reply, userdata, -ENOLINK);
		goto out;
	}
	vr = calloc(1, sizeof(*vr));
	if (!vr || !(vr->vm = strdup(vm))) {
		free(vr);
		hs__pairs_refuse(reply, userdata, -ENOMEM, "out of memory");
		goto out;
	}
	vr->p = p;
	vr->repair = repair;
	vr->started_usec = hs_now_usec(CLOCK_REALTIME);
	r = mirror_verify_typed(p->mirror, vm, hs_core_replication_address(p->core, v.backup),
				v.nbd_port, repair, verify_done, vr);
	if (r < 0) {
		free(vr->vm);
		free(vr);
		hs__pairs_refuse(reply, userdata, r, "cannot start the verify of %s: %s", vm,
				 strerror(-r));
		goto out;
	}
	vr->next = p->verifies;
	p->verifies = vr;
	hs__pairs_event(p, vm, "pair", "verify of %s started on %s%s at the admin's request", vm,
			p->core->self->name, repair ? ", ranges out of sync to be repaired" : "");
	if (asprintf(&message,
		     "verify of %s started on %s%s: the pair's \"verify\" and its events tell the "
		     "outcome",
		     vm, p->core->self->name, repair ? " (with repair)" : "") < 0)
		message = NULL;
	reply(userdata, HS_PAIRS_ACCEPTED,
	      &(struct hs_pairs_answer){.vm = vm, .node = p->core->self->name,
					.message = message ? message : "verify started"});
out:
	hs_pair_release(&v);
}
