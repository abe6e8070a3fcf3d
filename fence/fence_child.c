// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence_child: the fence agent as a process: started the way keepalived's
 * core/notify.c starts its scripts, killed as a group, reaped even when
 * nobody waits for it any more.
 *
 * Start (fence__child_spawn):
 *
 *   1. write the whole stdin text into a pipe before forking: it is small
 *      (options are capped well below a pipe buffer), so the write cannot
 *      block, and it cannot raise SIGPIPE because we still hold the read end;
 *   2. fork. The child: own process group (setpgid), PR_SET_PDEATHSIG =
 *      SIGKILL (and a getppid() check against the race with a dying parent),
 *      signal mask and dispositions reset (exec keeps SIG_IGN otherwise),
 *      stdin/stdout/stderr on the pipes, every other descriptor closed,
 *      cwd "/", environment exactly PATH=/usr/sbin:/usr/bin:/sbin:/bin and
 *      LANG=C, then execve(). The parent sets the group too (whoever runs
 *      first wins; the group exists before anyone could want to kill it);
 *   3. an O_CLOEXEC "exec status" pipe tells the parent whether execve()
 *      worked: EOF means it did, an errno means it did not. This is the one
 *      short blocking read on the loop: it lasts from fork to execve.
 *
 * A child given up on (its action freed while it ran, or stuck in the kernel
 * after SIGKILL) is adopted by a reaper on the loop, which waits for it
 * through its pidfd, or a timer where there is none.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fence_action_internal.h"
#include "fence_util.h"

#define AGENT_PATH_ENV "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define REAPER_POLL_NSEC (200 * 1000000ULL)

/* A child given up on (its action freed, or stuck after SIGKILL): reaped later. */
struct reaper {
	qb_loop_t *loop;
	pid_t pid;
	int pidfd;
	qb_loop_timer_handle timer;
};

int fence__pidfd_open(pid_t pid)
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

/* --- the parent ------------------------------------------------------------------ */

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


static int pipe_open(int *ret_read, int *ret_write)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	*ret_read = fds[0];
	*ret_write = fds[1];
	return 0;
}

int fence__child_spawn(const char *path, const char *argv0, const char *text, size_t len,
		       struct fence__child *ret, char **ret_error)
{
	_cleanup_close_ int in_r = -1, in_w = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;
	_cleanup_close_ int exec_r = -1, exec_w = -1;
	int err = 0, r;
	ssize_t n;
	pid_t pid, parent = getpid();

	if (pipe_open(&in_r, &in_w) < 0 || pipe_open(&out_r, &out_w) < 0 ||
	    pipe_open(&err_r, &err_w) < 0 || pipe_open(&exec_r, &exec_w) < 0 ||
	    fcntl(out_r, F_SETFL, O_NONBLOCK) < 0 || fcntl(err_r, F_SETFL, O_NONBLOCK) < 0)
		goto out_errno;

	/* The whole stdin now: it fits in the pipe, and we hold the read end. */
	r = write_all(in_w, text, len);
	if (r < 0) {
		*ret_error = fence__strdupf("cannot write the options of fence agent %s: %s", argv0,
					    strerror(-r));
		return r;
	}
	close(TAKE_FD(in_w));

	pid = fork();
	if (pid < 0)
		goto out_errno;
	if (pid == 0)
		child_exec(path, argv0, in_r, out_w, err_w, exec_w, parent);

	(void)setpgid(pid, pid); /* fails harmlessly once the child has exec'd */
	close(TAKE_FD(exec_w));
	do
		n = read(exec_r, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		(void)waitpid(pid, NULL, 0); /* it is exiting: _exit(127) */
		*ret_error =
		    fence__strdupf("cannot execute fence agent '%s': %s", path, strerror(err));
		return -err;
	}
	*ret =
	    (struct fence__child){.pid = pid, .out_fd = TAKE_FD(out_r), .err_fd = TAKE_FD(err_r)};
	return 0;

out_errno:
	r = -errno;
	*ret_error = fence__strdupf("cannot start fence agent %s: %s", argv0, strerror(-r));
	return r;
}

void fence__group_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	(void)killpg(pid, SIGKILL);
	(void)kill(pid, SIGKILL); /* in case setpgid() never happened */
}

/* --- children given up on -------------------------------------------------------- */

static int32_t on_reaper_pidfd(int32_t fd, int32_t revents, void *data);
static void on_reaper_timer(void *data);

static void reaper_check(struct reaper *rp)
{
	if (waitpid(rp->pid, NULL, WNOHANG) == 0) {
		if (rp->pidfd < 0)
			qb_loop_timer_add(rp->loop, QB_LOOP_LOW, REAPER_POLL_NSEC, rp,
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
void fence__reaper_adopt(qb_loop_t *loop, pid_t pid, int pidfd)
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
	if (qb_loop_timer_add(loop, QB_LOOP_LOW, REAPER_POLL_NSEC, rp, on_reaper_timer,
			      &rp->timer) == 0)
		goto out_close;
	free(rp);
	(void)waitpid(pid, NULL, 0);
out_close:
	if (pidfd >= 0)
		close(pidfd);
}
