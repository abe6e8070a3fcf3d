/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fence_util: the few helpers the fence/ files share and nobody else sees:
 * a printf into a fresh string. Cleanup
 * and clocks come from hasvc/common (the tree's one copy, below every module).
 */
#pragma once

#include <stdarg.h>

#include "hs_cleanup.h"
#include "hs_clock.h"

/* A malloc'd string from a format, or NULL when out of memory. */
char *fence__strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
