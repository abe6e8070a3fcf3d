/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fence_action_internal: what the three files of one fence agent run share.
 *
 *   fence_action.c         the run on the loop: start, watch the output, the
 *                          exit and the timeout, finish, free; the
 *                          synchronous wrapper;
 *   fence_child.c          the process: pipes, fork, the child's setup up to
 *                          execve(), killing its group, and reaping children
 *                          given up on;
 *   fence_action_result.c  what the run says: how the agent's end is
 *                          classified and worded, and the result's copies.
 *
 * The child side knows nothing of an action (it works on a pid and fds); the
 * result side reads the action's state after the child is gone.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <qb/qbloop.h>

#include "fence_action.h"

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

/* --- fence_child.c --------------------------------------------------------------- */

/* A started agent: its pid (and process group) and the read ends of its output. */
struct fence__child {
	pid_t pid;
	int out_fd; /* stdout, non-blocking, CLOEXEC */
	int err_fd; /* stderr, likewise */
};

/*
 * Starts PATH as ARGV0 with the LEN bytes of TEXT on its stdin (at most a
 * pipe buffer: it is written before the fork) and returns once execve()
 * worked. -errno otherwise, with *RET_ERROR (malloc'd) saying what failed.
 */
int fence__child_spawn(const char *path, const char *argv0, const char *text, size_t len,
		       struct fence__child *ret, char **ret_error);
/* A pidfd for PID (Linux >= 5.3), or -1: the caller then polls waitid. */
int fence__pidfd_open(pid_t pid);
/* SIGKILLs PID's whole process group, and PID itself in case it had none yet. */
void fence__group_kill(pid_t pid);
/*
 * Takes a SIGKILLed child (and its pidfd, -1 for none) off the caller's
 * hands; LOOP reaps it when it finally dies. Without a loop, or out of
 * memory, waits for it.
 */
void fence__reaper_adopt(qb_loop_t *loop, pid_t pid, int pidfd);

/* --- fence_action_result.c ------------------------------------------------------- */

/* Sets A's result message from a format; -ENOMEM leaves it NULL. */
int fence__action_message(struct fence_action *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Fills A's result error, power, exit status and message from how the child
 * ended: STATUS_KNOWN false when its exit status was lost, else its exit CODE
 * (-1 when it did not exit) or the signal SIG that ended it; A->timed_out
 * wins over both.
 */
void fence__action_classify(struct fence_action *a, bool status_known, int code, int sig);
