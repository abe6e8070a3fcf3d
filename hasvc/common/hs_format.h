/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_format: a printf-style message as a malloc'd string, for the places
 * that build one sentence from their caller's format (an API error, an
 * operation's refusal, an event): NULL only out of memory, which the callers
 * answer with a fixed text rather than fail.
 */
#pragma once

#include <stdarg.h>
#include <stdio.h>

static inline char *hs_vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}
