// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence_util: the out-of-line part of fence_util.h, shared by the fence/
 * files only.
 */
#include <stdarg.h>
#include <stdio.h>

#include "fence_util.h"

char *fence__strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}
