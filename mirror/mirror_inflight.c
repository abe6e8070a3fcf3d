// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_inflight: the live migrations under way, a list under one lock
 * (mirror_inflight.h). A handful at most per process: a list is enough.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mirror_inflight.h"

struct mirror_inflight {
	struct mirror_inflight *next;
	const void *owner;
	char *vm;
	bool cancelled;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mirror_inflight *head;

struct mirror_inflight *mirror_inflight_begin(const void *owner, const char *vm)
{
	struct mirror_inflight *f = calloc(1, sizeof(*f));

	if (!f || !(f->vm = strdup(vm))) {
		free(f);
		return NULL;
	}
	f->owner = owner;
	pthread_mutex_lock(&lock);
	f->next = head;
	head = f;
	pthread_mutex_unlock(&lock);
	return f;
}

bool mirror_inflight_cancel(const void *owner, const char *vm)
{
	bool found = false;

	pthread_mutex_lock(&lock);
	for (struct mirror_inflight *f = head; f; f = f->next)
		if (f->owner == owner && strcmp(f->vm, vm) == 0) {
			f->cancelled = true;
			found = true;
		}
	pthread_mutex_unlock(&lock);
	return found;
}

bool mirror_inflight_cancelled(struct mirror_inflight *f)
{
	bool yes;

	pthread_mutex_lock(&lock);
	yes = f->cancelled;
	pthread_mutex_unlock(&lock);
	return yes;
}

void mirror_inflight_end(struct mirror_inflight *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&lock);
	for (struct mirror_inflight **pp = &head; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	free(f->vm);
	free(f);
}
