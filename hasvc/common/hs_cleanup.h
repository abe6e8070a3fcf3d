/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_cleanup: scope-bound cleanup for the whole tree (hasvc/, state/, fence/,
 * mirror/), the systemd idiom: a local declared _cleanup_free_ is freed on
 * every return, and TAKE_PTR/TAKE_FD hand it on. One copy, so every module
 * frees the same way; module-specific ones (sqlite statements, json-c
 * objects) are declared beside their library's header.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

#define _cleanup_free_ __attribute__((cleanup(hs__freep)))
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
