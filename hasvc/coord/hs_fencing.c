// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_fencing: one fence of one host at a time, with a record of everything.
 *
 * The order of writes is the point of this file:
 *   1. node_state "fencing" and a fence_start row (action off) are proposed
 *      before the agent runs: every member knows a fence is under way;
 *   2. fence/ runs the levels, verifying "off" with "status" (or by the
 *      agent itself: fence_ipmilan reads the power back before it exits 0),
 *      retrying with backoff;
 *   3. each agent run becomes an event, then the fence_finish row with the
 *      result, then (only on a verified off) node_state "fenced". Messages are
 *      applied in this order on every member, so a member that sees "fenced"
 *      has the successful fence_finish already committed.
 * A fence that fails leaves the node "fencing": it is never taken as fenced.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "fence_device.h"
#include "fence_op.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_core.h"
#include "hs_fencing.h"
#include "sdb_msg.h"

#define MAX_RUNNING 16

struct running {
	struct hs_fencing *owner;
	struct fence_op *op;
	char *target;
	char *ref;
	struct fence_device *devices; /* borrowing the configuration's strings */
	size_t n_devices;
	char **names;
	hs_fencing_done_fn done;
	void *userdata;
};

struct hs_fencing {
	struct hs_core *d;
	struct running *running[MAX_RUNNING];
};

static void running_free(struct running *r)
{
	if (!r)
		return;
	fence_op_free(r->op);
	for (size_t i = 0; i < r->n_devices; i++)
		free(r->names[i]);
	free(r->names);
	free(r->devices);
	free(r->target);
	free(r->ref);
	free(r);
}

int hs_fencing_new(struct hs_core *d, struct hs_fencing **ret)
{
	struct hs_fencing *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->d = d;
	*ret = f;
	return 0;
}

void hs_fencing_free(struct hs_fencing *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < MAX_RUNNING; i++)
		running_free(f->running[i]);
	free(f);
}

static void propose(struct hs_core *d, int built, char *buf, size_t len, const char *what)
{
	int r = built < 0 ? built : hs_state_propose(d, buf, len);

	if (r < 0)
		qb_log(LOG_ERR, "cannot record %s in the cluster state: %s", what, strerror(-r));
}

static void op_done(struct fence_op *op, const struct fence_op_result *res, void *userdata)
{
	struct running *run = userdata;
	struct hs_fencing *f = run->owner;
	struct hs_core *d = f->d;
	char *buf = NULL;
	size_t len;
	int built;

	for (size_t i = 0; i < res->n_attempts; i++) {
		const struct fence_attempt *a = &res->attempts[i];
		hs_state_event(d, NULL, "fence", "fence %s: round %u level %u %s %s: %s (%llu ms)",
			       run->target, a->round, a->level, a->agent,
			       a->verb == FENCE_OFF ? "off" : "status", a->message ? a->message : "",
			       (unsigned long long)(a->duration_usec / 1000));
	}
	built = sdb_msg_fence_finish(run->ref, res->verified ? "success" : "failed", res->message,
				     &buf, &len);
	propose(d, built, buf, len, "the fence result");
	if (res->verified) {
		built = sdb_msg_node_state(run->target, "fenced", NULL, &buf, &len);
		propose(d, built, buf, len, "the fenced node");
		qb_log(LOG_NOTICE, "%s", res->message);
	} else {
		qb_log(LOG_ERR, "%s", res->message);
		hs_state_event(d, NULL, "fence-failed", "%s", res->message);
	}
	if (run->done)
		run->done(run->userdata, res->verified, res->message);
	for (size_t i = 0; i < MAX_RUNNING; i++)
		if (f->running[i] == run)
			f->running[i] = NULL;
	running_free(run); /* and the op with it: fence/ allows that here */
}

int hs_fencing_start(struct hs_fencing *f, const char *target, const char *origin,
		     hs_fencing_done_fn done, void *userdata)
{
	struct hs_core *d = f->d;
	const struct hs_config *cfg = d->config;
	struct fence_op_options opts;
	struct running *run = NULL;
	size_t slot = MAX_RUNNING;
	char *buf = NULL;
	size_t len;
	int r;

	if (!hs_core_quorate(d))
		return -ENOLINK;
	if (!hs_config_node_by_name(cfg, target))
		return -ENOENT;
	if (hs_core_is_self(d, target))
		return -EPERM;
	for (size_t i = 0; i < MAX_RUNNING; i++) {
		if (f->running[i] && strcmp(f->running[i]->target, target) == 0)
			return -EBUSY;
		if (!f->running[i] && slot == MAX_RUNNING)
			slot = i;
	}
	if (slot == MAX_RUNNING)
		return -EBUSY;

	run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	run->owner = f;
	run->done = done;
	run->userdata = userdata;
	run->target = strdup(target);
	if (!run->target ||
	    asprintf(&run->ref, "%s-%s-%llu", target, d->self->name,
		     (unsigned long long)hs_now_usec(CLOCK_REALTIME)) < 0) {
		r = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < cfg->n_fences; i++) {
		const struct hs_config_fence *cf = &cfg->fences[i];
		struct fence_device *grown;
		char **names;

		if (strcmp(cf->node, target) != 0)
			continue;
		grown = reallocarray(run->devices, run->n_devices + 1, sizeof(*grown));
		if (grown)
			run->devices = grown;
		names = reallocarray(run->names, run->n_devices + 1, sizeof(*names));
		if (names)
			run->names = names;
		if (!grown || !names ||
		    asprintf(&run->names[run->n_devices], "%s-level%u", target, cf->level) < 0) {
			r = -ENOMEM;
			goto out_free;
		}
		run->devices[run->n_devices++] = (struct fence_device){
			.name = run->names[run->n_devices - 1],
			.agent = cf->agent,
			.agent_dir = cfg->fence_agent_dir,
			.level = cf->level,
			.timeout_s = cf->timeout_s,
			.options = cf->options,
			.n_options = cf->n_options,
		};
	}
	if (run->n_devices == 0) {
		r = -ENODEV;
		goto out_free;
	}

	/* Recorded before the agent runs. */
	r = sdb_msg_node_state(target, "fencing", NULL, &buf, &len);
	if (r == 0)
		r = hs_state_propose(d, buf, len);
	if (r < 0)
		goto out_free;
	{
		struct sdb_fence_start start = {
			.ref = run->ref, .target = target, .device = run->devices[0].name,
			.agent = run->devices[0].agent, .level = run->devices[0].level,
			.action = "off",
		};
		r = sdb_msg_fence_start(&start, &buf, &len);
		if (r == 0)
			r = hs_state_propose(d, buf, len);
		if (r < 0)
			goto out_free;
	}
	hs_state_event(d, NULL, "fence", "fencing %s (%s)", target, origin);
	qb_log(LOG_WARNING, "fencing %s (%s), %zu device(s)", target, origin, run->n_devices);

	fence_op_options_default(&opts);
	r = fence_op_start(d->loop, target, run->devices, run->n_devices, &opts, op_done, run, &run->op);
	if (r < 0)
		goto out_free;
	f->running[slot] = run;
	return 0;

out_free:
	running_free(run);
	return r;
}

/* --- fence check: "monitor" on every device, all at once ---------------- */

struct check {
	hs_fencing_check_fn done;
	void *userdata;
	json_object *report;
	size_t pending;
};

struct check_item {
	struct check *check;
	size_t index;
	const struct hs_config_fence *device;
};

static void check_action_done(struct fence_action *action, const struct fence_action_result *res,
			      void *userdata)
{
	struct check_item *item = userdata;
	struct check *check = item->check;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "node", json_object_new_string(item->device->node));
	json_object_object_add(o, "level", json_object_new_int(item->device->level));
	json_object_object_add(o, "agent", json_object_new_string(item->device->agent));
	json_object_object_add(o, "ok", json_object_new_boolean(res->error == 0));
	json_object_object_add(o, "message", json_object_new_string(res->message));
	json_object_object_add(o, "duration_ms",
			       json_object_new_int64((int64_t)(res->duration_usec / 1000)));
	json_object_array_put_idx(check->report, item->index, o);
	if (res->error)
		qb_log(LOG_WARNING, "fence check: %s", res->message);
	fence_action_free(action);
	free(item);
	if (--check->pending == 0) {
		check->done(check->userdata, check->report);
		free(check);
	}
}

int hs_fencing_check(struct hs_fencing *f, hs_fencing_check_fn done, void *userdata)
{
	const struct hs_config *cfg = f->d->config;
	struct check *check;

	if (cfg->n_fences == 0)
		return -ENODEV;
	check = calloc(1, sizeof(*check));
	if (!check)
		return -ENOMEM;
	check->done = done;
	check->userdata = userdata;
	check->report = json_object_new_array();
	check->pending = cfg->n_fences;
	for (size_t i = 0; i < cfg->n_fences; i++) {
		const struct hs_config_fence *cf = &cfg->fences[i];
		struct check_item *item = calloc(1, sizeof(*item));
		char name[96];
		struct fence_device dev = {
			.name = name, .agent = cf->agent, .agent_dir = cfg->fence_agent_dir,
			.level = cf->level, .timeout_s = cf->timeout_s, .options = cf->options,
			.n_options = cf->n_options,
		};
		struct fence_action *action;

		snprintf(name, sizeof(name), "%s-level%u", cf->node, cf->level);
		/*
		 * Out of memory midway: count the device as done so the report
		 * still completes, with a null entry for it.
		 */
		if (!item) {
			check->pending--;
			continue;
		}
		*item = (struct check_item){.check = check, .index = i, .device = cf};
		if (fence_action_start(f->d->loop, &dev, FENCE_MONITOR, check_action_done, item,
				       &action) < 0) {
			free(item);
			check->pending--;
		}
	}
	if (check->pending == 0) { /* nothing could start */
		json_object_put(check->report);
		free(check);
		return -ENOMEM;
	}
	return 0;
}
