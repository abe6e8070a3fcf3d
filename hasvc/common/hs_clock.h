/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_clock: clock readings in microseconds, the unit of every timestamp in
 * the tree (replicated state, timers, durations). CLOCK_REALTIME for what is
 * stored or shown, CLOCK_MONOTONIC for timeouts and intervals.
 */
#pragma once

#include <stdint.h>
#include <time.h>

static inline uint64_t hs_now_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
