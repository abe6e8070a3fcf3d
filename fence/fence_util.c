// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence_util: the out-of-line part of fence_util.h, shared by the fence/
 * files only.
 */
#include <errno.h>
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

int fence__sync_new(struct fence__sync *s)
{
	*s = (struct fence__sync){.r = -EINTR, .loop = qb_loop_create()};
	return s->loop ? 0 : -ENOMEM;
}

void fence__sync_done(struct fence__sync *s, int r, void *result)
{
	s->r = r;
	s->result = result;
	qb_loop_stop(s->loop);
}

int fence__sync_end(struct fence__sync *s, int start_r)
{
	qb_loop_destroy(s->loop);
	s->loop = NULL;
	return start_r < 0 ? start_r : s->r;
}
