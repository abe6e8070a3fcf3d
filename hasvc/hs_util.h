/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_util: the few helpers every hasvc/ file uses: scope-bound cleanup (the
 * systemd idiom: a local declared _cleanup_free_ is freed on every return, and
 * TAKE_PTR hands it on), ARRAY_SIZE, and clock readings in microseconds.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void hs__freep(void *p)
{
	free(*(void **)p);
}

static inline void hs__fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void hs__closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

/* json-c objects: one reference dropped at scope end (json_object_put(NULL) is a no-op). */
static inline void hs__json_putp(json_object **o)
{
	json_object_put(*o);
}

#define _cleanup_free_ __attribute__((cleanup(hs__freep)))
#define _cleanup_json_ __attribute__((cleanup(hs__json_putp)))
#define _cleanup_fclose_ __attribute__((cleanup(hs__fclosep)))
#define _cleanup_close_ __attribute__((cleanup(hs__closep)))

/* Returns *p and sets it to NULL, so that its cleanup no longer frees it. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		typeof(p) _taken = (p);                                                            \
		(p) = NULL;                                                                        \
		_taken;                                                                            \
	})

/* Returns fd and sets it to -1, so that its cleanup no longer closes it. */
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _taken = (fd);                                                                 \
		(fd) = -1;                                                                         \
		_taken;                                                                            \
	})

static inline uint64_t hs_now_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
