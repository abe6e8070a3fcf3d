// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fake_mirror: mirror/ for the pairs tests (see pairs_test.h). Every request
 * is recorded and answered only when the test says, as libvirt answers on
 * its own time. It defines every function pairs/ calls, so the real mirror.c
 * (and libvirt) is never linked in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror.h"
#include "pairs_test.h"

struct mirror {
	int dummy;
};

static struct mirror the_mirror;
static struct pt_call calls[256];
static size_t n_calls;

static int record(const char *op, const char *vm, unsigned port, bool sync, mirror_done_fn done,
		  void *userdata)
{
	struct pt_call *c;

	if (n_calls == sizeof(calls) / sizeof(calls[0]))
		return -ENOSPC;
	c = &calls[n_calls++];
	memset(c, 0, sizeof(*c));
	snprintf(c->op, sizeof(c->op), "%s", op);
	snprintf(c->vm, sizeof(c->vm), "%s", vm ? vm : "");
	c->port = port;
	c->sync = sync;
	c->done = done;
	c->userdata = userdata;
	return 0;
}

size_t pt_calls(void)
{
	return n_calls;
}

struct pt_call *pt_call(size_t i)
{
	return i < n_calls ? &calls[i] : NULL;
}

struct pt_call *pt_pending(const char *op)
{
	for (size_t i = n_calls; i-- > 0;)
		if (!calls[i].answered && strcmp(calls[i].op, op) == 0)
			return &calls[i];
	return NULL;
}

void pt_answer(struct pt_call *c, int result, const char *message, json_object *data)
{
	c->answered = true;
	c->done(c->userdata, result, message, data);
	json_object_put(data);
	pt_deliver();
}

void pt_calls_clear(void)
{
	n_calls = 0;
}

int mirror_new(qb_loop_t *loop, const char *uri, struct mirror **ret)
{
	n_calls = 0;
	*ret = &the_mirror;
	return 0;
}

void mirror_free(struct mirror *m)
{
}

void mirror_on_job_event(struct mirror *m, mirror_done_fn fn, void *userdata)
{
}

int mirror_backup_prepare(struct mirror *m, const char *primary_xml, const uint64_t *disk_bytes,
			  size_t n_disks, const char *nbd_addr, unsigned port, bool fresh,
			  uint64_t memory_reserve, mirror_done_fn done, void *userdata)
{
	return record("backup_prepare", primary_xml, port, fresh, done, userdata);
}

int mirror_start(struct mirror *m, const char *vm, const char *nbd_host, unsigned port, bool sync,
		 uint64_t bandwidth_mib, mirror_done_fn done, void *userdata)
{
	return record("start", vm, port, sync, done, userdata);
}

int mirror_inspect(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("inspect", vm, 0, false, done, userdata);
}

int mirror_jobs(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("jobs", vm, 0, false, done, userdata);
}

int mirror_cut(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
	       mirror_done_fn done, void *userdata)
{
	return record("cut", vm, port, false, done, userdata);
}

int mirror_stop_primary(struct mirror *m, const char *vm, bool sync, unsigned shutdown_timeout_s,
			mirror_done_fn done, void *userdata)
{
	return record("stop_primary", vm, 0, sync, done, userdata);
}

int mirror_restart(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("restart", vm, 0, false, done, userdata);
}

int mirror_teardown(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("teardown", vm, 0, false, done, userdata);
}

int mirror_promote(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return record("promote", vm, 0, false, done, userdata);
}
