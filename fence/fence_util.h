/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fence_util: the few helpers the fence/ files share and nobody else sees:
 * a printf into a fresh string, and the loop of its own that the synchronous
 * runs (fence_action_run_sync, fence_op_run_sync) wait on. Cleanup and clocks
 * come from hasvc/common (the tree's one copy, below every module).
 */
#pragma once

#include <stdarg.h>

#include <qb/qbloop.h>

#include "hs_cleanup.h"
#include "hs_clock.h"

/* A malloc'd string from a format, or NULL when out of memory. */
char *fence__strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A synchronous run, for the CLI and tests, never inside the daemon:
 * fence__sync_new makes the loop; the caller starts its action or operation
 * on it with a callback that hands over a copy of the result through
 * fence__sync_done (which stops the loop), runs the loop, frees what it
 * started, and ends with fence__sync_end.
 */
struct fence__sync {
	qb_loop_t *loop;
	void *result; /* the callback's copy of the result */
	int r;        /* what making that copy returned; -EINTR until the callback ran */
};

int fence__sync_new(struct fence__sync *s);
void fence__sync_done(struct fence__sync *s, int r, void *result);
/*
 * Destroys the loop. Returns START_R when starting failed, else what the
 * callback handed over (S->result is then the copy, the caller's to free).
 */
int fence__sync_end(struct fence__sync *s, int start_r);
