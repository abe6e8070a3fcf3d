// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence_action: runs one fence agent action as a child of the daemon, on the
 * daemon's qb_loop. The model is keepalived's core/notify.c.
 *
 * Protocol (fence-agents): the agent is executed with argv = { name } and
 * reads "key=value" lines on stdin until EOF: "action=<verb>" first, then the
 * device's options in configuration order. Nothing goes on the command line
 * (where every user of the host could read a password in /proc) and nothing
 * goes through a shell. Exit code 0 is success; status answers 0 for "on",
 * 2 for "off" and 1 for "cannot tell".
 *
 * Start (fence_action_start, on the loop's thread):
 *
 *   1. check the device (options, agent path): a bad one is refused here,
 *      before any process exists;
 *   2. write the whole stdin text into a pipe before forking: it is small
 *      (options are capped well below a pipe buffer), so the write cannot
 *      block, and it cannot raise SIGPIPE because we still hold the read end;
 *   3. fork. The child: own process group (setpgid), PR_SET_PDEATHSIG =
 *      SIGKILL (and a getppid() check against the race with a dying parent),
 *      signal mask and dispositions reset (exec keeps SIG_IGN otherwise),
 *      stdin/stdout/stderr on the pipes, every other descriptor closed,
 *      cwd "/", environment exactly PATH=/usr/sbin:/usr/bin:/sbin:/bin and
 *      LANG=C, then execve(). The parent sets the group too (whoever runs
 *      first wins; the group exists before anyone could want to kill it);
 *   4. an O_CLOEXEC "exec status" pipe tells the parent whether execve()
 *      worked: EOF means it did, an errno means it did not. This is the one
 *      short blocking read on the loop: it lasts from fork to execve;
 *   5. the parent polls stdout and stderr (non-blocking, each kept up to
 *      FENCE_OUTPUT_MAX, the rest drained and dropped so the agent never
 *      blocks on a full pipe), a pidfd for the child's exit (Linux >= 5.3;
 *      older kernels: a 50 ms timer polls waitid), and arms the timeout.
 *
 * End: when the child has exited, first the rest of its process group is
 * SIGKILLed (the zombie still holds the group id, so that id cannot have been
 * reused), then the child is reaped, what is left in the pipes is read, and
 * the result is classified and handed to the callback. On timeout the whole
 * group is SIGKILLed and the same path runs, with "timed out". A child that
 * does not die within KILL_GRACE_S of SIGKILL (stuck in the kernel) is
 * reported as timed out anyway and left to a background reaper.
 *
 * Every failure reaches the callback from the loop (a qb_loop job for the
 * ones found while starting), so the caller has one path for outcomes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fence_action.h"
#include "fence_util.h"

#define AGENT_PATH_ENV "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define KILL_GRACE_S 5
#define WAIT_POLL_MS 50
#define DETAIL_MAX 240
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

struct output {
	struct fence_action *action;
	int fd; /* read end, -1 once closed */
	char *buf;
	size_t len;
	bool truncated;
};

struct fence_action {
	qb_loop_t *loop;
	struct fence_device *dev; /* our copy */
	const char *agent_name;   /* basename of dev->agent, for messages */
	enum fence_verb verb;
	fence_action_done_fn done;
	void *userdata;

	pid_t pid;  /* > 0 while a child is ours to reap */
	int pidfd;  /* -1: no pidfd, wait_timer polls instead */
	struct output out, err;
	uint64_t start_mono;

	qb_loop_timer_handle timeout_timer;
	bool timeout_armed;
	qb_loop_timer_handle grace_timer;
	bool grace_armed;
	qb_loop_timer_handle wait_timer;
	bool wait_armed;
	bool job_queued; /* an outcome found while starting waits to be delivered */
	bool timed_out;
	bool finished;

	struct fence_action_result result;
};

/* A child given up on (its action freed, or stuck after SIGKILL): reaped later. */
struct reaper {
	qb_loop_t *loop;
	pid_t pid;
	int pidfd;
	qb_loop_timer_handle timer;
};

static int32_t on_output(int32_t fd, int32_t revents, void *data);
static int32_t on_pidfd(int32_t fd, int32_t revents, void *data);
static void on_wait_timer(void *data);

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* --- the child ------------------------------------------------------------------- */

static void child_fail(int fd, int err)
{
	ssize_t n = write(fd, &err, sizeof(err));

	(void)n;
	_exit(127);
}

/*
 * Runs in the child between fork() and execve(): async-signal-safe calls
 * only (the daemon has other threads). Never returns.
 */
static void __attribute__((noreturn))
child_exec(const char *path, const char *argv0, int in_fd, int out_fd, int err_fd, int exec_fd,
	   pid_t parent)
{
	char *const argv[] = {(char *)argv0, NULL};
	char *const envp[] = {AGENT_PATH_ENV, "LANG=C", NULL};
	int src[4] = {in_fd, out_fd, err_fd, exec_fd};
	int tmp[4];
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;

	(void)setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(exec_fd, errno);
	if (getppid() != parent) /* the parent died before prctl() took effect */
		_exit(127);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < _NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);

	/* Out of the way of 0..3 first, then into place. */
	for (int i = 0; i < 4; i++) {
		tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10);
		if (tmp[i] < 0)
			child_fail(exec_fd, errno);
	}
	for (int i = 0; i < 4; i++)
		if (dup2(tmp[i], i) < 0)
			child_fail(tmp[3], errno);
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		child_fail(3, errno);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
#endif
	{
		long max = sysconf(_SC_OPEN_MAX);

		if (max < 0 || max > 65536)
			max = 65536;
		for (int fd = 4; fd < max; fd++)
			(void)close(fd);
	}
	if (chdir("/") < 0)
		child_fail(3, errno);

	execve(path, argv, envp);
	child_fail(3, errno);
	_exit(127); /* not reached */
}

/* --- results --------------------------------------------------------------------- */

/*
 * The last non-empty line of S (at most DETAIL_MAX bytes), with anything
 * unprintable replaced by '?': enough of the agent's own words for a log line
 * even when it printed junk.
 */
static void last_line(const char *s, size_t len, char *dst, size_t dst_size)
{
	size_t end = len, start, n, j = 0;

	while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r' || s[end - 1] == ' ' ||
			   s[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	n = end - start;
	if (n > DETAIL_MAX)
		start = end - DETAIL_MAX, n = DETAIL_MAX;
	for (size_t i = 0; i < n && j + 1 < dst_size; i++) {
		unsigned char c = (unsigned char)s[start + i];

		dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[j] = '\0';
}

/* ": <what the agent said>" or "" when it said nothing. */
static void agent_detail(const struct fence_action *a, char *dst, size_t dst_size)
{
	char line[DETAIL_MAX + 1];

	line[0] = '\0';
	if (a->err.len)
		last_line(a->err.buf, a->err.len, line, sizeof(line));
	if (!line[0] && a->out.len)
		last_line(a->out.buf, a->out.len, line, sizeof(line));
	if (line[0])
		snprintf(dst, dst_size, ": %s", line);
	else
		dst[0] = '\0';
}

static int set_message(struct fence_action *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int set_message(struct fence_action *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(a->result.message);
	a->result.message = s;
	return s ? 0 : -ENOMEM;
}

/* Fills error, power and message from how the child ended. */
static void classify(struct fence_action *a, int status_known, int code, int sig)
{
	struct fence_action_result *r = &a->result;
	const char *verb = fence_verb_to_string(a->verb);
	char detail[DETAIL_MAX + 8];

	agent_detail(a, detail, sizeof(detail));
	r->exit_status = code;
	r->term_signal = sig;

	if (a->timed_out) {
		r->timed_out = true;
		r->error = -ETIMEDOUT;
		set_message(a, "fence agent %s (%s) timed out after %u s; process group killed",
			    a->agent_name, verb, a->dev->timeout_s);
		return;
	}
	if (!status_known) {
		r->error = -ECHILD;
		set_message(a, "fence agent %s (%s): exit status lost (is SIGCHLD ignored?)",
			    a->agent_name, verb);
		return;
	}
	if (sig) {
		r->error = -EPROTO;
		set_message(a, "fence agent %s (%s) was killed by signal %d (%s)%s", a->agent_name,
			    verb, sig, strsignal(sig), detail);
		return;
	}
	if (a->verb == FENCE_STATUS) {
		switch (code) {
		case 0:
			r->power = FENCE_POWER_ON;
			set_message(a, "fence agent %s (status): power is on", a->agent_name);
			return;
		case 2:
			r->power = FENCE_POWER_OFF;
			set_message(a, "fence agent %s (status): power is off", a->agent_name);
			return;
		case 1:
			r->error = -EIO;
			set_message(a, "fence agent %s (status) cannot tell the power state%s",
				    a->agent_name, detail);
			return;
		}
	} else {
		switch (code) {
		case 0:
			set_message(a, "fence agent %s (%s) succeeded", a->agent_name, verb);
			return;
		case 1:
			r->error = -EIO;
			set_message(a, "fence agent %s (%s) failed%s", a->agent_name, verb, detail);
			return;
		}
	}
	r->error = -EPROTO;
	set_message(a, "fence agent %s (%s) exited with unexpected code %d%s", a->agent_name, verb,
		    code, detail);
}

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
		set_message(a, "fence agent %s (%s): %s", a->agent_name,
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
		classify(a, 0, -1, 0);
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
		classify(a, 1, WEXITSTATUS(status), 0);
	else
		classify(a, 1, -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
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

static int32_t on_reaper_pidfd(int32_t fd, int32_t revents, void *data);
static void on_reaper_timer(void *data);

static void reaper_check(struct reaper *rp)
{
	if (waitpid(rp->pid, NULL, WNOHANG) == 0) {
		if (rp->pidfd < 0)
			qb_loop_timer_add(rp->loop, QB_LOOP_LOW, 200 * NSEC_PER_MSEC, rp,
					  on_reaper_timer, &rp->timer);
		return;
	}
	if (rp->pidfd >= 0) {
		qb_loop_poll_del(rp->loop, rp->pidfd);
		close(rp->pidfd);
	}
	free(rp);
}

static int32_t on_reaper_pidfd(int32_t fd, int32_t revents, void *data)
{
	reaper_check(data);
	return 0;
}

static void on_reaper_timer(void *data)
{
	reaper_check(data);
}

/*
 * Takes a SIGKILLed child (and its pidfd) off the action's hands; the loop
 * reaps it when it finally dies. Without a loop, or out of memory, waits.
 */
static void reaper_adopt(qb_loop_t *loop, pid_t pid, int pidfd)
{
	struct reaper *rp;

	if (waitpid(pid, NULL, WNOHANG) != 0)
		goto out_close;
	rp = loop ? calloc(1, sizeof(*rp)) : NULL;
	if (!rp) {
		(void)waitpid(pid, NULL, 0); /* SIGKILLed: normally at once */
		goto out_close;
	}
	*rp = (struct reaper){.loop = loop, .pid = pid, .pidfd = pidfd};
	if (pidfd >= 0 && qb_loop_poll_add(loop, QB_LOOP_LOW, pidfd, POLLIN, rp,
					   on_reaper_pidfd) == 0)
		return;
	rp->pidfd = -1;
	if (qb_loop_timer_add(loop, QB_LOOP_LOW, 200 * NSEC_PER_MSEC, rp, on_reaper_timer,
			      &rp->timer) == 0)
		goto out_close;
	free(rp);
	(void)waitpid(pid, NULL, 0);
out_close:
	if (pidfd >= 0)
		close(pidfd);
}

static void kill_group(struct fence_action *a)
{
	if (a->pid <= 0)
		return;
	(void)killpg(a->pid, SIGKILL);
	(void)kill(a->pid, SIGKILL); /* in case setpgid() never happened */
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
	reaper_adopt(a->loop, a->pid, a->pidfd);
	a->pidfd = -1;
	a->pid = 0;
	output_drain(&a->out);
	output_drain(&a->err);
	classify(a, 1, -1, SIGKILL);
	finish(a);
}

static void on_timeout(void *data)
{
	struct fence_action *a = data;

	a->timeout_armed = false;
	if (try_reap(a)) /* it exited just now: that is not a timeout */
		return;
	a->timed_out = true;
	kill_group(a);
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

static int write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Starts the child; a failure is left in a->result for fail_later(). */
static int spawn(struct fence_action *a, char **ret_error)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	_cleanup_close_ int in_r = -1, in_w = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;
	_cleanup_close_ int exec_r = -1, exec_w = -1;
	int fds[2], err = 0, r;
	size_t len = 0;
	ssize_t n;
	pid_t pid, parent = getpid();

	r = fence_device_validate(a->dev, ret_error);
	if (r < 0)
		return r;
	r = fence_device_agent_path(a->dev, &path, ret_error);
	if (r < 0)
		return r;
	text = stdin_text(a->dev, a->verb, &len);
	if (!text)
		return -ENOMEM;

	if (pipe2(fds, O_CLOEXEC) < 0)
		goto out_errno;
	in_r = fds[0], in_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		goto out_errno;
	out_r = fds[0], out_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		goto out_errno;
	err_r = fds[0], err_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		goto out_errno;
	exec_r = fds[0], exec_w = fds[1];
	if (fcntl(out_r, F_SETFL, O_NONBLOCK) < 0 || fcntl(err_r, F_SETFL, O_NONBLOCK) < 0)
		goto out_errno;

	/* The whole stdin now: it fits in the pipe, and we hold the read end. */
	r = write_all(in_w, text, len);
	if (r < 0) {
		*ret_error = fence__strdupf("cannot write the options of fence agent %s: %s",
					    a->agent_name, strerror(-r));
		return r;
	}
	close(TAKE_FD(in_w));

	a->result.started_usec = hs_now_usec(CLOCK_REALTIME);
	a->start_mono = hs_now_usec(CLOCK_MONOTONIC);
	pid = fork();
	if (pid < 0)
		goto out_errno;
	if (pid == 0)
		child_exec(path, a->agent_name, in_r, out_w, err_w, exec_w, parent);

	(void)setpgid(pid, pid); /* fails harmlessly once the child has exec'd */
	close(TAKE_FD(exec_w));
	do
		n = read(exec_r, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		(void)waitpid(pid, NULL, 0); /* it is exiting: _exit(127) */
		*ret_error = fence__strdupf("cannot execute fence agent '%s': %s", path,
					    strerror(err));
		return -err;
	}

	a->pid = pid;
	a->result.started = true;
	a->out.fd = TAKE_FD(out_r);
	a->err.fd = TAKE_FD(err_r);
	if (qb_loop_poll_add(a->loop, QB_LOOP_MED, a->out.fd, POLLIN, &a->out, on_output) < 0 ||
	    qb_loop_poll_add(a->loop, QB_LOOP_MED, a->err.fd, POLLIN, &a->err, on_output) < 0)
		goto out_kill;

	a->pidfd = pidfd_open_(pid);
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
	kill_group(a);
	*ret_error = fence__strdupf("cannot watch fence agent %s on the main loop", a->agent_name);
	return -ENOMEM;
out_errno:
	r = -errno;
	*ret_error = fence__strdupf("cannot start fence agent %s: %s", a->agent_name, strerror(-r));
	return r;
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
		kill_group(a);
		reaper_adopt(a->loop, a->pid, a->pidfd);
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

/* --- results, owned ------------------------------------------------------------ */

int fence_action_result_dup(const struct fence_action_result *src,
			    struct fence_action_result **ret)
{
	struct fence_action_result *r;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = *src;
	r->device = src->device ? strdup(src->device) : NULL;
	r->agent = src->agent ? strdup(src->agent) : NULL;
	r->message = src->message ? strdup(src->message) : NULL;
	r->out = malloc(src->out_len + 1);
	r->err = malloc(src->err_len + 1);
	if ((src->device && !r->device) || (src->agent && !r->agent) ||
	    (src->message && !r->message) || !r->out || !r->err) {
		fence_action_result_free(r);
		return -ENOMEM;
	}
	if (src->out)
		memcpy(r->out, src->out, src->out_len);
	r->out[src->out ? src->out_len : 0] = '\0';
	if (src->err)
		memcpy(r->err, src->err, src->err_len);
	r->err[src->err ? src->err_len : 0] = '\0';
	*ret = r;
	return 0;
}

void fence_action_result_free(struct fence_action_result *r)
{
	if (!r)
		return;
	free(r->device);
	free(r->agent);
	free(r->out);
	free(r->err);
	free(r->message);
	free(r);
}

/* --- synchronous ------------------------------------------------------------------- */

struct sync_ctx {
	qb_loop_t *loop;
	struct fence_action_result *result;
	int r;
};

static void sync_done(struct fence_action *action, const struct fence_action_result *result,
		      void *userdata)
{
	struct sync_ctx *ctx = userdata;

	ctx->r = fence_action_result_dup(result, &ctx->result);
	qb_loop_stop(ctx->loop);
}

int fence_action_run_sync(const struct fence_device *dev, enum fence_verb verb,
			  struct fence_action_result **ret)
{
	struct sync_ctx ctx = {.r = -EINTR};
	struct fence_action *a = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	ctx.loop = qb_loop_create();
	if (!ctx.loop)
		return -ENOMEM;
	r = fence_action_start(ctx.loop, dev, verb, sync_done, &ctx, &a);
	if (r < 0)
		goto out_loop;
	qb_loop_run(ctx.loop);
	fence_action_free(a);
	r = ctx.r;
	if (r >= 0)
		*ret = ctx.result;
out_loop:
	qb_loop_destroy(ctx.loop);
	return r;
}
