/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mirror_memory: whether this host has the memory for one more backup (see
 * mirror_memory.c for the rule and why).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

/* MemAvailable of a /proc/meminfo text, in bytes; -EINVAL when it has none. */
int mirror_memory_available(const char *meminfo, uint64_t *ret_bytes);

/*
 * 0 when this host can hold a backup of VM that needs NEED bytes, keeping
 * RESERVE bytes for itself; -ENOMEM when not, -EIO when /proc/meminfo cannot
 * be read; either way MSG says the figures.
 */
int mirror_memory_check(virConnectPtr conn, const char *vm, uint64_t need, uint64_t reserve,
			char *msg, size_t len);
