// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence_action: runs one fence agent action as a child of the daemon, on the
 * daemon's qb_loop. The model is keepalived's core/notify.c.
 *
 * Protocol (fence-agents): the agent is executed with argv = { name } and
 * reads "key=value" lines on stdin until EOF: "action=<verb>" first, then the
 * device's options in configuration order. Nothing goes on the command line
 * (where every user of the host could read a password in /proc) and nothing
 * goes through a shell.
 *
 * Start (fence_action_start, on the loop's thread):
 *
 *   1. check the device (options, agent path): a bad one is refused here,
 *      before any process exists;
 *   2. start the process with its stdin written (fence_child.c: own process
 *      group, death signal, scrubbed environment, no inherited descriptors);
 *   3. poll its stdout and stderr (non-blocking, each kept up to
 *      FENCE_OUTPUT_MAX, the rest drained and dropped so the agent never
 *      blocks on a full pipe), a pidfd for the child's exit (Linux >= 5.3;
 *      older kernels: a 50 ms timer polls waitid), and arm the timeout.
 *
 * End: when the child has exited, first the rest of its process group is
 * SIGKILLed (the zombie still holds the group id, so that id cannot have been
 * reused), then the child is reaped, what is left in the pipes is read, and
 * the result is classified (fence_action_result.c) and handed to the
 * callback. On timeout the whole group is SIGKILLed and the same path runs,
 * with "timed out". A child that does not die within KILL_GRACE_S of SIGKILL
 * (stuck in the kernel) is reported as timed out anyway and left to a
 * background reaper.
 *
 * Every failure reaches the callback from the loop (a qb_loop job for the
 * ones found while starting), so the caller has one path for outcomes.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fence_action.h"
#include "fence_action_internal.h"
#include "fence_util.h"

#define KILL_GRACE_S 5
#define WAIT_POLL_MS 50
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

static int32_t on_output(int32_t fd, int32_t revents, void *data);
static int32_t on_pidfd(int32_t fd, int32_t revents, void *data);
static void on_wait_timer(void *data);

/* --- the loop side --------------------------------------------------------------- */

static void output_close(struct fence_action *a, struct output *o)
{
	if (o->fd < 0)
		return;
	qb_loop_poll_del(a->loop, o->fd);
	close(o->fd);
	o->fd = -1;
}

/* Reads what is there now; closes on EOF or error. */
static void output_drain(struct output *o)
{
	char scratch[4096];

	while (o->fd >= 0) {
		ssize_t n;

		if (!o->buf) {
			o->buf = malloc(FENCE_OUTPUT_MAX + 1);
			if (!o->buf)
				o->truncated = true;
		}
		if (o->buf && o->len < FENCE_OUTPUT_MAX)
			n = read(o->fd, o->buf + o->len, FENCE_OUTPUT_MAX - o->len);
		else
			n = read(o->fd, scratch, sizeof(scratch));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			output_close(o->action, o);
			return;
		}
		if (o->buf && o->len < FENCE_OUTPUT_MAX)
			o->len += (size_t)n;
		else
			o->truncated = true;
	}
}

static int32_t on_output(int32_t fd, int32_t revents, void *data)
{
	output_drain(data);
	return 0;
}

static void timer_del(qb_loop_t *loop, qb_loop_timer_handle h, bool *armed)
{
	if (*armed)
		qb_loop_timer_del(loop, h);
	*armed = false;
}

static void deliver_job(void *data);

/* Stops watching the child, then hands the result over. The last thing to touch A. */
static void finish(struct fence_action *a)
{
	struct fence_action_result *r = &a->result;

	timer_del(a->loop, a->timeout_timer, &a->timeout_armed);
	timer_del(a->loop, a->grace_timer, &a->grace_armed);
	timer_del(a->loop, a->wait_timer, &a->wait_armed);
	if (a->pidfd >= 0 && a->pid <= 0) {
		qb_loop_poll_del(a->loop, a->pidfd);
		close(a->pidfd);
		a->pidfd = -1;
	}
	output_close(a, &a->out);
	output_close(a, &a->err);

	r->out = a->out.buf ? a->out.buf : strdup("");
	r->out_len = a->out.len;
	r->err = a->err.buf ? a->err.buf : strdup("");
	r->err_len = a->err.len;
	a->out.buf = a->err.buf = NULL;
	if (r->out)
		r->out[r->out_len] = '\0';
	if (r->err)
		r->err[r->err_len] = '\0';
	r->truncated = a->out.truncated || a->err.truncated;
	if (r->started)
		r->duration_usec = hs_now_usec(CLOCK_MONOTONIC) - a->start_mono;
	if (!r->message)
		r->message = strdup("fence agent: out of memory");
	a->finished = true;
	a->done(a, r, a->userdata);
}

static void deliver_job(void *data)
{
	struct fence_action *a = data;

	a->job_queued = false;
	finish(a);
}

/* Reports a failure found while starting, from the loop. */
static void fail_later(struct fence_action *a, int err, char *message)
{
	a->result.error = err;
	free(a->result.message);
	a->result.message = message;
	if (!message)
		fence__action_message(a, "fence agent %s (%s): %s", a->agent_name,
				      fence_verb_to_string(a->verb), strerror(-err));
	if (qb_loop_job_add(a->loop, QB_LOOP_HIGH, a, deliver_job) == 0)
		a->job_queued = true;
}

/* Called when the child may have exited. Returns true when it was reaped. */
static bool try_reap(struct fence_action *a)
{
	siginfo_t si = {0};
	int status;
	pid_t r;

	if (a->pid <= 0)
		return true;
	/* Peek first: while the zombie exists its group id cannot be reused. */
	if (waitid(P_PID, (id_t)a->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		if (errno == EINTR)
			return false;
		/* ECHILD: reaped behind our back (SIGCHLD set to SIG_IGN) */
		a->pid = 0;
		output_drain(&a->out);
		output_drain(&a->err);
		fence__action_classify(a, false, -1, 0);
		finish(a);
		return true;
	}
	if (si.si_pid == 0)
		return false;

	(void)killpg(a->pid, SIGKILL); /* whatever the agent left behind in its group */
	r = waitpid(a->pid, &status, WNOHANG);
	if (r != a->pid)
		return false;
	a->pid = 0;
	output_drain(&a->out);
	output_drain(&a->err);
	if (WIFEXITED(status))
		fence__action_classify(a, true, WEXITSTATUS(status), 0);
	else
		fence__action_classify(a, true, -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	finish(a);
	return true;
}

static int32_t on_pidfd(int32_t fd, int32_t revents, void *data)
{
	try_reap(data);
	return 0;
}

static void on_wait_timer(void *data)
{
	struct fence_action *a = data;

	a->wait_armed = false;
	if (try_reap(a))
		return;
	if (qb_loop_timer_add(a->loop, QB_LOOP_MED, WAIT_POLL_MS * NSEC_PER_MSEC, a, on_wait_timer,
			      &a->wait_timer) == 0)
		a->wait_armed = true;
}


static void on_grace(void *data)
{
	struct fence_action *a = data;

	a->grace_armed = false;
	if (a->pid <= 0 || try_reap(a))
		return;
	/* Stuck in the kernel after SIGKILL: report, and reap it whenever it goes. */
	if (a->pidfd >= 0)
		qb_loop_poll_del(a->loop, a->pidfd);
	fence__reaper_adopt(a->loop, a->pid, a->pidfd);
	a->pidfd = -1;
	a->pid = 0;
	output_drain(&a->out);
	output_drain(&a->err);
	fence__action_classify(a, true, -1, SIGKILL);
	finish(a);
}

static void on_timeout(void *data)
{
	struct fence_action *a = data;

	a->timeout_armed = false;
	if (try_reap(a)) /* it exited just now: that is not a timeout */
		return;
	a->timed_out = true;
	fence__group_kill(a->pid);
	if (qb_loop_timer_add(a->loop, QB_LOOP_HIGH, KILL_GRACE_S * NSEC_PER_SEC, a, on_grace,
			      &a->grace_timer) == 0)
		a->grace_armed = true;
}

/* --- start ----------------------------------------------------------------------- */

/* "action=VERB\n" and one line per option. */
static char *stdin_text(const struct fence_device *dev, enum fence_verb verb, size_t *ret_len)
{
	size_t len = strlen("action=\n") + strlen(fence_verb_to_string(verb));
	char *s, *p;

	for (size_t i = 0; i < dev->n_options; i++)
		len += strlen(dev->options[i]) + 1;
	s = malloc(len + 1);
	if (!s)
		return NULL;
	p = stpcpy(stpcpy(stpcpy(s, "action="), fence_verb_to_string(verb)), "\n");
	for (size_t i = 0; i < dev->n_options; i++)
		p = stpcpy(stpcpy(p, dev->options[i]), "\n");
	*ret_len = (size_t)(p - s);
	return s;
}

/* Starts the child and watches it; a failure is left in a->result for fail_later(). */
static int spawn(struct fence_action *a, char **ret_error)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct fence__child child;
	size_t len = 0;
	int r;

	r = fence_device_validate(a->dev, ret_error);
	if (r < 0)
		return r;
	r = fence_device_agent_path(a->dev, &path, ret_error);
	if (r < 0)
		return r;
	text = stdin_text(a->dev, a->verb, &len);
	if (!text)
		return -ENOMEM;

	a->result.started_usec = hs_now_usec(CLOCK_REALTIME);
	a->start_mono = hs_now_usec(CLOCK_MONOTONIC);
	r = fence__child_spawn(path, a->agent_name, text, len, &child, ret_error);
	if (r < 0)
		return r;

	a->pid = child.pid;
	a->result.started = true;
	a->out.fd = child.out_fd;
	a->err.fd = child.err_fd;
	if (qb_loop_poll_add(a->loop, QB_LOOP_MED, a->out.fd, POLLIN, &a->out, on_output) < 0 ||
	    qb_loop_poll_add(a->loop, QB_LOOP_MED, a->err.fd, POLLIN, &a->err, on_output) < 0)
		goto out_kill;

	a->pidfd = fence__pidfd_open(a->pid);
	if (a->pidfd >= 0 &&
	    qb_loop_poll_add(a->loop, QB_LOOP_MED, a->pidfd, POLLIN, a, on_pidfd) < 0) {
		close(a->pidfd);
		a->pidfd = -1;
	}
	if (a->pidfd < 0) {
		if (qb_loop_timer_add(a->loop, QB_LOOP_MED, WAIT_POLL_MS * NSEC_PER_MSEC, a,
				      on_wait_timer, &a->wait_timer) < 0)
			goto out_kill;
		a->wait_armed = true;
	}
	if (qb_loop_timer_add(a->loop, QB_LOOP_HIGH, (uint64_t)a->dev->timeout_s * NSEC_PER_SEC, a,
			      on_timeout, &a->timeout_timer) < 0)
		goto out_kill;
	a->timeout_armed = true;
	return 0;

out_kill:
	/* The loop refused us: the agent must not run unwatched. */
	fence__group_kill(a->pid);
	*ret_error = fence__strdupf("cannot watch fence agent %s on the main loop", a->agent_name);
	return -ENOMEM;
}

int fence_action_start(qb_loop_t *loop, const struct fence_device *dev, enum fence_verb verb,
		       fence_action_done_fn done, void *userdata, struct fence_action **ret)
{
	struct fence_action *a;
	char *error = NULL;
	const char *slash;
	int r;

	if (!loop || !dev || !dev->agent || !done || !ret || (unsigned)verb >= _FENCE_VERB_MAX)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	*a = (struct fence_action){
		.loop = loop,
		.verb = verb,
		.done = done,
		.userdata = userdata,
		.pidfd = -1,
		.out = {.action = a, .fd = -1},
		.err = {.action = a, .fd = -1},
		.result = {.verb = verb, .exit_status = -1},
	};
	r = fence_device_new(dev->name ? dev->name : dev->agent, dev->agent, dev->agent_dir,
			     dev->level, dev->timeout_s, (const char *const *)dev->options,
			     dev->n_options, &a->dev);
	if (r < 0)
		goto out_free;
	slash = strrchr(a->dev->agent, '/');
	a->agent_name = slash ? slash + 1 : a->dev->agent;
	a->result.device = strdup(a->dev->name);
	a->result.agent = strdup(a->dev->agent);
	if (!a->result.device || !a->result.agent) {
		r = -ENOMEM;
		goto out_free;
	}

	r = spawn(a, &error);
	if (r < 0) {
		a->result.exit_status = -1;
		fail_later(a, r, error);
		if (!a->job_queued) {
			r = -ENOMEM;
			goto out_free;
		}
	}
	*ret = a;
	return 0;

out_free:
	fence_action_free(a);
	return r;
}

int fence_action_pid(const struct fence_action *action)
{
	return action && action->pid > 0 ? action->pid : 0;
}

void fence_action_free(struct fence_action *a)
{
	if (!a)
		return;
	if (a->job_queued)
		qb_loop_job_del(a->loop, QB_LOOP_HIGH, a, deliver_job);
	timer_del(a->loop, a->timeout_timer, &a->timeout_armed);
	timer_del(a->loop, a->grace_timer, &a->grace_armed);
	timer_del(a->loop, a->wait_timer, &a->wait_armed);
	output_close(a, &a->out);
	output_close(a, &a->err);
	if (a->pidfd >= 0)
		qb_loop_poll_del(a->loop, a->pidfd);
	if (a->pid > 0) {
		fence__group_kill(a->pid);
		fence__reaper_adopt(a->loop, a->pid, a->pidfd);
	} else if (a->pidfd >= 0) {
		close(a->pidfd);
	}
	free(a->out.buf);
	free(a->err.buf);
	fence_device_free(a->dev);
	free(a->result.device);
	free(a->result.agent);
	free(a->result.out);
	free(a->result.err);
	free(a->result.message);
	free(a);
}

/* --- synchronous ------------------------------------------------------------------- */

static void sync_done(struct fence_action *action, const struct fence_action_result *result,
		      void *userdata)
{
	struct fence_action_result *copy = NULL;
	int r = fence_action_result_dup(result, &copy);

	fence__sync_done(userdata, r, copy);
}

int fence_action_run_sync(const struct fence_device *dev, enum fence_verb verb,
			  struct fence_action_result **ret)
{
	struct fence__sync s;
	struct fence_action *a = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	r = fence__sync_new(&s);
	if (r < 0)
		return r;
	r = fence_action_start(s.loop, dev, verb, sync_done, &s, &a);
	if (r >= 0) {
		qb_loop_run(s.loop);
		fence_action_free(a);
	}
	r = fence__sync_end(&s, r);
	if (r >= 0)
		*ret = s.result;
	return r;
}
