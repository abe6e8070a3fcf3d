/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_fencing: fencing a host from the daemon: devices from the configuration,
 * the run itself by fence/ on the daemon's loop, and every attempt and its
 * result written to the replicated fence log before anything acts on it.
 */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

struct hs_core;
struct hs_fencing;

/* VERIFIED: the host is off, checked with status. MESSAGE says what happened. */
typedef void (*hs_fencing_done_fn)(void *userdata, bool verified, const char *message);

int hs_fencing_new(struct hs_core *core, struct hs_fencing **ret);
void hs_fencing_free(struct hs_fencing *f);

/*
 * Fences TARGET; DONE is called on the loop when it is over. Errors, with
 * *ret_message (static text or NULL) saying why: -ENOLINK no quorum, -ENOENT
 * unknown node, -EPERM TARGET is this host, -ENODEV no fence device
 * configured for it, -EBUSY a fence of TARGET is already running.
 */
int hs_fencing_start(struct hs_fencing *f, const char *target, const char *origin,
		     hs_fencing_done_fn done, void *userdata);

/*
 * Runs "monitor" on every configured fence device at once; DONE gets an
 * array [{node, level, agent, ok, message, duration_ms}] (owned by DONE).
 * -ENODEV when no device is configured.
 */
typedef void (*hs_fencing_check_fn)(void *userdata, json_object *report);
int hs_fencing_check(struct hs_fencing *f, hs_fencing_check_fn done, void *userdata);
