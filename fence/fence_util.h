/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fence_util: the few helpers the fence/ files share and nobody else sees:
 * scope-bound cleanup (the systemd idiom, as hasvc/hs_util.h has it: a local
 * declared _cleanup_free_ is freed on every return and TAKE_PTR hands it on),
 * a monotonic clock in microseconds, and a printf into a fresh string.
 *
 * fence/ is a library of its own (hasvc_fence) and must not include hasvc/
 * headers, hence this small copy under the fence__ prefix.
 */
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline void fence__freep(void *p)
{
	free(*(void **)p);
}

static inline void fence__closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_free_ __attribute__((cleanup(fence__freep)))
#define _cleanup_close_ __attribute__((cleanup(fence__closep)))

/* Returns *p and sets it to NULL, so that its cleanup no longer frees it. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		typeof(p) _taken = (p);                                                            \
		(p) = NULL;                                                                        \
		_taken;                                                                            \
	})

/* Returns *fd and sets it to -1, so that its cleanup no longer closes it. */
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _taken = (fd);                                                                 \
		(fd) = -1;                                                                         \
		_taken;                                                                            \
	})

static inline uint64_t fence__now_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A malloc'd string from a format, or NULL when out of memory. */
char *fence__strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
