// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence_op: the fence operation on one host (see fence_op.h for the rules).
 *
 * It is a small sequencer driven by fence_action callbacks on the loop:
 *
 *   (job) --> OFF(device) --ok--> STATUS(device) --off--> next device of the level
 *                 |   |                |                     or FENCED when none is left
 *                 |   +--ok, the agent verifies its off -->-^
 *                 +--fail--------------+--on / fail--> next level, or end of round
 *   end of round --> back-off timer --> round + 1 from the first level,
 *                    or NOT FENCED when the retries are used up
 *
 * An agent that verifies its own off (fence_device_off_verifies: fence_ipmilan
 * reads the power back as off before it exits 0) skips STATUS: the second read
 * of the same BMC would cost one more agent start and verify nothing more.
 * Every other agent's off is verified by STATUS.
 *
 * At any time at most one agent runs; `step` and `cur` say which. Every agent
 * run becomes one attempt record, whatever happened, so the fence log tells
 * the whole story. The first step is started from a loop job, so the
 * callback never runs inside fence_op_start().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence_op.h"
#include "fence_util.h"

#define NSEC_PER_MSEC 1000000ULL

struct fence_op {
	qb_loop_t *loop;
	char *target;
	struct fence_device **devs; /* sorted by level, stable */
	size_t n_devs;
	struct fence_op_options opts;
	fence_op_done_fn done;
	void *userdata;

	unsigned round;
	size_t level_start; /* first device of the level being tried */
	size_t cur;         /* the device being worked on */
	enum fence_verb step; /* FENCE_OFF or FENCE_STATUS */
	struct fence_action *action;
	char *last_failure; /* why the last level failed, for the summary */
	int last_error;

	qb_loop_timer_handle backoff_timer;
	bool backoff_armed;
	bool job_queued;

	struct fence_op_result result;
};

static void run_step(struct fence_op *op);

void fence_op_options_default(struct fence_op_options *opts)
{
	*opts = (struct fence_op_options){
		.retries = FENCE_OP_RETRIES_DEFAULT,
		.backoff_base_ms = FENCE_OP_BACKOFF_BASE_MS_DEFAULT,
		.backoff_max_ms = FENCE_OP_BACKOFF_MAX_MS_DEFAULT,
	};
}

static void attempt_clear(struct fence_attempt *at)
{
	free(at->device);
	free(at->agent);
	free(at->message);
}

static struct fence_attempt *attempt_add(struct fence_op *op)
{
	struct fence_op_result *r = &op->result;
	struct fence_attempt *v;

	v = reallocarray(r->attempts, r->n_attempts + 1, sizeof(*v));
	if (!v)
		return NULL;
	r->attempts = v;
	memset(&v[r->n_attempts], 0, sizeof(*v));
	return &v[r->n_attempts++];
}

/* Records one agent run (RES), or one that could not even start (RES NULL, ERR). */
static void record(struct fence_op *op, const struct fence_action_result *res, int err)
{
	const struct fence_device *dev = op->devs[op->cur];
	struct fence_attempt *at = attempt_add(op);

	if (!at)
		return; /* out of memory: the summary still says what happened */
	at->round = op->round;
	at->level = dev->level;
	at->device = strdup(dev->name);
	at->agent = strdup(dev->agent);
	at->verb = op->step;
	at->exit_status = -1;
	if (res) {
		at->error = res->error;
		at->exit_status = res->exit_status;
		at->timed_out = res->timed_out;
		at->power = res->power;
		at->started_usec = res->started_usec;
		at->duration_usec = res->duration_usec;
		at->message = strdup(res->message);
	} else {
		at->error = err;
		at->started_usec = hs_now_usec(CLOCK_REALTIME);
		at->message = fence__strdupf("cannot start fence agent %s (%s): %s", dev->agent,
					     fence_verb_to_string(op->step), strerror(-err));
	}
}

static void set_failure(struct fence_op *op, int err, char *why)
{
	free(op->last_failure);
	op->last_failure = why;
	op->last_error = err;
}

/* Fills the summary and hands the result over: the last thing to touch OP. */
static void finish(struct fence_op *op, bool verified)
{
	struct fence_op_result *r = &op->result;

	r->verified = verified;
	r->rounds = op->round;
	if (verified) {
		const struct fence_device *dev = op->devs[op->cur];

		r->error = 0;
		r->level = dev->level;
		r->device = strdup(dev->name);
		r->message = fence__strdupf("%s fenced (verified): device '%s' (%s) at level %u "
					    "powered it off and %s",
					    op->target, dev->name, dev->agent, dev->level,
					    fence_device_off_verifies(dev)
						    ? "the agent read the power back as off"
						    : "status reports off");
	} else if (op->n_devs == 0) {
		r->error = -ENODEV;
		r->message = fence__strdupf("%s not fenced: no fence device configured",
					    op->target);
	} else {
		r->error = op->last_error < 0 ? op->last_error : -EIO;
		r->message = fence__strdupf("%s not fenced: every level failed in %u round%s; "
					    "last: %s",
					    op->target, op->round, op->round == 1 ? "" : "s",
					    op->last_failure ? op->last_failure : "unknown error");
	}
	if (!r->message)
		r->message = strdup(verified ? "fenced (verified)" : "not fenced");
	op->done(op, r, op->userdata);
}

static void on_backoff(void *data)
{
	struct fence_op *op = data;

	op->backoff_armed = false;
	op->round++;
	op->level_start = op->cur = 0;
	op->step = FENCE_OFF;
	run_step(op);
}

static void round_failed(struct fence_op *op)
{
	uint64_t delay_ms;

	if (op->round > op->opts.retries) {
		finish(op, false);
		return;
	}
	delay_ms = op->opts.backoff_base_ms;
	for (unsigned i = 1; i < op->round && delay_ms < op->opts.backoff_max_ms; i++)
		delay_ms *= 2;
	if (delay_ms > op->opts.backoff_max_ms)
		delay_ms = op->opts.backoff_max_ms;
	if (qb_loop_timer_add(op->loop, QB_LOOP_MED, delay_ms * NSEC_PER_MSEC, op, on_backoff,
			      &op->backoff_timer) < 0) {
		finish(op, false);
		return;
	}
	op->backoff_armed = true;
}

static void level_failed(struct fence_op *op)
{
	size_t next = op->level_start;

	while (next < op->n_devs && op->devs[next]->level == op->devs[op->level_start]->level)
		next++;
	if (next >= op->n_devs) {
		round_failed(op);
		return;
	}
	op->level_start = op->cur = next;
	op->step = FENCE_OFF;
	run_step(op);
}

/* The current device is verified off: on to the next one of its level, or done. */
static void device_fenced(struct fence_op *op)
{
	const struct fence_device *dev = op->devs[op->cur];

	if (op->cur + 1 < op->n_devs && op->devs[op->cur + 1]->level == dev->level) {
		op->cur++;
		op->step = FENCE_OFF;
		run_step(op);
		return;
	}
	finish(op, true);
}

static void on_action_done(struct fence_action *action, const struct fence_action_result *res,
			   void *userdata)
{
	struct fence_op *op = userdata;
	const struct fence_device *dev = op->devs[op->cur];
	/* RES belongs to the action, which goes now: keep what is needed. */
	_cleanup_free_ char *message = strdup(res->message);
	enum fence_power power = res->power;
	int error = res->error;

	record(op, res, 0);
	fence_action_free(op->action);
	op->action = NULL;

	if (op->step == FENCE_OFF) {
		if (error == 0 && fence_device_off_verifies(dev)) {
			device_fenced(op);
			return;
		}
		if (error == 0) {
			op->step = FENCE_STATUS;
			run_step(op);
			return;
		}
		set_failure(op, error, fence__strdupf("device '%s': %s", dev->name,
						      message ? message : strerror(-error)));
		level_failed(op);
		return;
	}

	if (error == 0 && power == FENCE_POWER_OFF) {
		device_fenced(op);
		return;
	}
	if (error == 0)
		set_failure(op, -EIO,
			    fence__strdupf("device '%s': status still reports power on after off",
					   dev->name));
	else
		set_failure(op, error, fence__strdupf("device '%s': verification failed: %s",
						      dev->name,
						      message ? message : strerror(-error)));
	level_failed(op);
}

static void run_step(struct fence_op *op)
{
	const struct fence_device *dev = op->devs[op->cur];
	int r;

	r = fence_action_start(op->loop, dev, op->step, on_action_done, op, &op->action);
	if (r >= 0)
		return;
	op->action = NULL;
	record(op, NULL, r);
	set_failure(op, r, fence__strdupf("device '%s': cannot start fence agent %s: %s",
					  dev->name, dev->agent, strerror(-r)));
	level_failed(op);
}

static void first_step_job(void *data)
{
	struct fence_op *op = data;

	op->job_queued = false;
	op->round = 1;
	if (op->n_devs == 0) {
		finish(op, false);
		return;
	}
	run_step(op);
}

int fence_op_start(qb_loop_t *loop, const char *target, const struct fence_device *devices,
		   size_t n_devices, const struct fence_op_options *opts, fence_op_done_fn done,
		   void *userdata, struct fence_op **ret)
{
	struct fence_op *op;
	int r = -ENOMEM;

	if (!loop || !target || (n_devices > 0 && !devices) || !done || !ret)
		return -EINVAL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->loop = loop;
	op->done = done;
	op->userdata = userdata;
	if (opts)
		op->opts = *opts;
	else
		fence_op_options_default(&op->opts);
	op->target = strdup(target);
	op->result.target = strdup(target);
	if (!op->target || !op->result.target)
		goto out_free;
	if (n_devices > 0) {
		op->devs = calloc(n_devices, sizeof(*op->devs));
		if (!op->devs)
			goto out_free;
	}
	for (; op->n_devs < n_devices; op->n_devs++) {
		const struct fence_device *d = &devices[op->n_devs];

		if (!d->agent) {
			r = -EINVAL;
			goto out_free;
		}
		r = fence_device_new(d->name ? d->name : d->agent, d->agent, d->agent_dir,
				     d->level, d->timeout_s, (const char *const *)d->options,
				     d->n_options, &op->devs[op->n_devs]);
		if (r < 0)
			goto out_free;
	}
	/* By level; an insertion sort, so that the given order holds within a level. */
	for (size_t i = 1; i < op->n_devs; i++)
		for (size_t j = i; j > 0 && op->devs[j - 1]->level > op->devs[j]->level; j--) {
			struct fence_device *t = op->devs[j];

			op->devs[j] = op->devs[j - 1];
			op->devs[j - 1] = t;
		}
	r = qb_loop_job_add(loop, QB_LOOP_MED, op, first_step_job);
	if (r < 0)
		goto out_free;
	op->job_queued = true;
	*ret = op;
	return 0;

out_free:
	fence_op_free(op);
	return r;
}

static void result_clear(struct fence_op_result *r)
{
	for (size_t i = 0; i < r->n_attempts; i++)
		attempt_clear(&r->attempts[i]);
	free(r->attempts);
	free(r->target);
	free(r->device);
	free(r->message);
}

void fence_op_free(struct fence_op *op)
{
	if (!op)
		return;
	if (op->job_queued)
		qb_loop_job_del(op->loop, QB_LOOP_MED, op, first_step_job);
	if (op->backoff_armed)
		qb_loop_timer_del(op->loop, op->backoff_timer);
	fence_action_free(op->action);
	for (size_t i = 0; i < op->n_devs; i++)
		fence_device_free(op->devs[i]);
	free(op->devs);
	free(op->target);
	free(op->last_failure);
	result_clear(&op->result);
	free(op);
}

int fence_op_result_dup(const struct fence_op_result *src, struct fence_op_result **ret)
{
	struct fence_op_result *r;
	bool nomem = false;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = *src;
	r->target = src->target ? strdup(src->target) : NULL;
	r->device = src->device ? strdup(src->device) : NULL;
	r->message = src->message ? strdup(src->message) : NULL;
	r->attempts = NULL;
	r->n_attempts = 0;
	nomem = (src->target && !r->target) || (src->device && !r->device) ||
		(src->message && !r->message);
	if (!nomem && src->n_attempts > 0) {
		r->attempts = calloc(src->n_attempts, sizeof(*r->attempts));
		nomem = !r->attempts;
	}
	for (size_t i = 0; !nomem && i < src->n_attempts; i++) {
		const struct fence_attempt *s = &src->attempts[i];
		struct fence_attempt *d = &r->attempts[i];

		*d = *s;
		d->device = s->device ? strdup(s->device) : NULL;
		d->agent = s->agent ? strdup(s->agent) : NULL;
		d->message = s->message ? strdup(s->message) : NULL;
		r->n_attempts++;
		nomem = (s->device && !d->device) || (s->agent && !d->agent) ||
			(s->message && !d->message);
	}
	if (nomem) {
		fence_op_result_free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

void fence_op_result_free(struct fence_op_result *r)
{
	if (!r)
		return;
	result_clear(r);
	free(r);
}

static void sync_done(struct fence_op *op, const struct fence_op_result *result, void *userdata)
{
	struct fence_op_result *copy = NULL;
	int r = fence_op_result_dup(result, &copy);

	fence__sync_done(userdata, r, copy);
}

int fence_op_run_sync(const char *target, const struct fence_device *devices, size_t n_devices,
		      const struct fence_op_options *opts, struct fence_op_result **ret)
{
	struct fence__sync s;
	struct fence_op *op = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	r = fence__sync_new(&s);
	if (r < 0)
		return r;
	r = fence_op_start(s.loop, target, devices, n_devices, opts, sync_done, &s, &op);
	if (r >= 0) {
		qb_loop_run(s.loop);
		fence_op_free(op);
	}
	r = fence__sync_end(&s, r);
	if (r >= 0)
		*ret = s.result;
	return r;
}
