/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fence_op: fencing one host, through its devices, level by level, with
 * verification and retries. The caller (the coordinator) decides to fence
 * and what to do with the outcome; fence_op only reports. It never promotes
 * anything and never logs: the result carries one record per agent run, for
 * the caller to write to the fence log, and one summary line.
 *
 * A round:
 *
 *     level 1: for each device of the level:  off --ok--> status --"off"--> next device
 *                 (no status for an agent that verifies its own off, such as
 *                 fence_ipmilan: fence_device_off_verifies)
 *                 any step failing, or status saying "on", fails the level
 *              every device done ==> FENCED (verified)
 *     level 2: ... (only when level 1 failed)
 *     ...
 *     every level failed ==> the round failed
 *
 * "Fenced" means verified: every device of one level accepted "off" and then
 * reported "off" to "status" (or read "off" back itself before exiting 0).
 * Several devices at one level are all needed (two power supplies behind two
 * PDUs); the configuration usually has one.
 *
 * A failed round is repeated after a back-off (base, doubled each round, up
 * to a maximum) until `retries` more rounds have failed; then the result is
 * "not fenced".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qb/qbloop.h>

#include "fence_action.h"
#include "fence_device.h"

#define FENCE_OP_RETRIES_DEFAULT 2
#define FENCE_OP_BACKOFF_BASE_MS_DEFAULT 1000
#define FENCE_OP_BACKOFF_MAX_MS_DEFAULT 30000

struct fence_op;

struct fence_op_options {
	unsigned retries;         /* rounds after the first one */
	unsigned backoff_base_ms; /* wait before round 2; doubled before each later round */
	unsigned backoff_max_ms;  /* the wait never exceeds this */
};

/* One agent run, as the fence log records it. */
struct fence_attempt {
	unsigned round;         /* 1 for the first round */
	unsigned level;
	char *device;
	char *agent;
	enum fence_verb verb;   /* FENCE_OFF or FENCE_STATUS */
	int error;              /* as fence_action_result.error */
	int exit_status;        /* -1 if it did not exit normally or never ran */
	bool timed_out;
	enum fence_power power; /* for status */
	uint64_t started_usec;  /* CLOCK_REALTIME */
	uint64_t duration_usec;
	char *message;
};

struct fence_op_result {
	char *target;
	bool verified;          /* the host is fenced (off, verified by status) */
	int error;              /* 0 when verified, -errno otherwise (-ENODEV: no devices) */
	unsigned level;         /* the level that fenced it, 0 when not fenced */
	char *device;           /* the (last) device of that level, NULL when not fenced */
	unsigned rounds;        /* rounds run */
	struct fence_attempt *attempts; /* in the order they ran */
	size_t n_attempts;
	/*
	 * One line, e.g. "node1 fenced (verified): device 'node1-ipmi' (fence_ipmilan)
	 * at level 1 powered it off and status reports off", or
	 * "node1 not fenced: every level failed in 3 rounds; last: ...".
	 */
	char *message;
};

typedef void (*fence_op_done_fn)(struct fence_op *op, const struct fence_op_result *result,
				 void *userdata);

void fence_op_options_default(struct fence_op_options *opts);

/*
 * Fences TARGET with DEVICES (any order: they are tried by level, and in the
 * given order within a level). Everything is copied. OPTS may be NULL for
 * the defaults. DONE is called once, from the loop, never from inside this
 * call; the op may be freed inside it. Returns -ENOMEM or -EINVAL (a NULL
 * argument); then DONE is never called.
 */
int fence_op_start(qb_loop_t *loop, const char *target, const struct fence_device *devices,
		   size_t n_devices, const struct fence_op_options *opts, fence_op_done_fn done,
		   void *userdata, struct fence_op **ret);

/* Stops an op (a running agent's group is killed); its callback is not called. NULL is fine. */
void fence_op_free(struct fence_op *op);

/* fence_op_start() on a loop of its own, waiting: for the CLI and tests. */
int fence_op_run_sync(const char *target, const struct fence_device *devices, size_t n_devices,
		      const struct fence_op_options *opts, struct fence_op_result **ret);

int fence_op_result_dup(const struct fence_op_result *result, struct fence_op_result **ret);
void fence_op_result_free(struct fence_op_result *result);
