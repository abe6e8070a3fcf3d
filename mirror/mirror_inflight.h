/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mirror_inflight: the live migrations under way in this process, by mirror
 * and VM (mirror_migrate.c), so that a request about the same guest on the
 * mirror thread (mirror_continue) can tell that its migration has not ended
 * yet, and cancel it. A migration runs on threads of its own: one waits for
 * the destination's libvirtd (a connect that a cut link holds until TCP gives
 * up, or the link heals), then starts libvirt's call on another, which returns
 * only once the source is reaped. "Under way" lasts until that call returned,
 * or until it is known never to start. Thread-safe.
 */
#pragma once

#include <stdbool.h>

struct mirror_inflight;

/* A migration of VM by OWNER (its struct mirror) begins; NULL: out of memory. */
struct mirror_inflight *mirror_inflight_begin(const void *owner, const char *vm);
/* Marks OWNER's migration of VM cancelled; false when none is under way. */
bool mirror_inflight_cancel(const void *owner, const char *vm);
/* Whether it was cancelled (by mirror_inflight_cancel). */
bool mirror_inflight_cancelled(struct mirror_inflight *f);
/* It ended (its call returned, or will never be made): forgotten, freed. NULL: nothing. */
void mirror_inflight_end(struct mirror_inflight *f);
