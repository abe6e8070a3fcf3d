/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fence_action: one run of one fence agent (off, on, reboot, status, monitor,
 * metadata) on the daemon's qb_loop.
 *
 * The agent is started with no arguments and reads its options from stdin,
 * as fence-agents define it: "action=off\nip=...\nusername=...\n". It runs
 * in a process group of its own, with a scrubbed environment, no inherited
 * file descriptors, and dies with the thread that started it. When the
 * device's timeout expires, the whole group is SIGKILLed. The outcome
 * arrives in one callback, from the loop, never from inside the start call.
 *
 * Exit codes (fence-agents): 0 is success; for status 0 means "on", 2 means
 * "off", 1 "cannot tell". Anything else is an unexpected answer.
 *
 * The daemon must not set SIGCHLD to SIG_IGN (children would vanish before
 * their exit code is read), and must start actions from the thread that runs
 * the loop (PR_SET_PDEATHSIG follows the starting thread).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qb/qbloop.h>

#include "fence_device.h"

/* Bytes of stdout and of stderr kept per action; the rest is read and dropped. */
#define FENCE_OUTPUT_MAX (64 * 1024)

struct fence_action;

/*
 * What one action did. Everything in it is owned by the result; in a
 * callback it lives until the callback returns (fence_action_result_dup()
 * keeps a copy).
 */
struct fence_action_result {
	char *device;          /* the device's name */
	char *agent;           /* the agent as configured, e.g. "fence_ipmilan" */
	enum fence_verb verb;
	/*
	 * 0: the agent did what was asked (for status: it answered on or off).
	 * -EINVAL bad option, -ENOENT/-EACCES agent missing/not executable,
	 * -ETIMEDOUT killed at the timeout, -EIO the agent reported failure
	 * (exit 1), -EPROTO an exit code or a signal the protocol does not
	 * have, other -errno: hasvc could not start it (fork, pipe, ...).
	 */
	int error;
	bool started;          /* a process ran (false: refused before spawning) */
	bool timed_out;
	int exit_status;       /* exit code, -1 if it did not exit normally */
	int term_signal;       /* the signal that ended it, 0 if none */
	enum fence_power power; /* status only: what it reported */
	uint64_t started_usec;  /* CLOCK_REALTIME, for the fence log */
	uint64_t duration_usec;
	char *out;             /* captured stdout, NUL-terminated, at most FENCE_OUTPUT_MAX */
	size_t out_len;
	char *err;             /* captured stderr, likewise */
	size_t err_len;
	bool truncated;        /* some output was dropped */
	/*
	 * One line for the log and the fence log, always set, e.g.
	 * "fence agent fence_ipmilan (off) timed out after 5 s; process group killed".
	 */
	char *message;
};

/*
 * Called once, from the loop, when the action is over. The action may be
 * freed from inside the callback (and must be freed by its owner at some
 * point, inside or after it).
 */
typedef void (*fence_action_done_fn)(struct fence_action *action,
				     const struct fence_action_result *result, void *userdata);

/*
 * Starts VERB on DEV. The device is copied: it may be freed once this
 * returns. Problems of the world (bad option, missing agent, fork failing,
 * timeout, agent failure) are reported through DONE, from the loop. Returns
 * -ENOMEM or -EINVAL (a NULL argument, a verb out of range) otherwise; then
 * DONE is never called.
 */
int fence_action_start(qb_loop_t *loop, const struct fence_device *dev, enum fence_verb verb,
		       fence_action_done_fn done, void *userdata, struct fence_action **ret);

/*
 * Frees an action. One still running is SIGKILLed (its whole group) and
 * reaped in the background; its callback is not called. NULL is fine.
 */
void fence_action_free(struct fence_action *action);

/* The process id of a running agent (its process group too), 0 otherwise. */
int fence_action_pid(const struct fence_action *action);

/*
 * Runs VERB on DEV on a loop of its own and waits for the outcome: for the
 * CLI and tests, never inside the daemon. Returns -ENOMEM or -EINVAL when
 * nothing could be tried; otherwise 0 and the result (whose ->error says how
 * the action went) in *ret.
 */
int fence_action_run_sync(const struct fence_device *dev, enum fence_verb verb,
			  struct fence_action_result **ret);

int fence_action_result_dup(const struct fence_action_result *result,
			    struct fence_action_result **ret);
void fence_action_result_free(struct fence_action_result *result);
