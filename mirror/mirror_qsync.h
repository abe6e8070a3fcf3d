// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_qsync: what the files of parallel sync writes share (private to
 * mirror_qmp_sync.c, mirror_qsync_graph.c and mirror_qsync_resync.c): a
 * disk's state as QEMU's graph says it, and the graph's small edits.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "mirror_internal.h"

#define BITMAP_GRANULARITY 262144 /* as the sync mirror's (mirror_qmp.c says why) */

enum qsync_state { QSYNC_NONE, QSYNC_COPYING, QSYNC_BACKFILL, QSYNC_STEADY, QSYNC_BROKEN };

/* What QEMU says of one disk. */
struct qsync_disk {
	char format[128];    /* the format node */
	bool attached;       /* the guest device sits on hs-g-TARGET */
	char child[128];     /* the NBD child under hs-g, "" none */
	char child_edge[32];
	char qdev[256];      /* the guest device's backend QOM path */
	uint64_t size;       /* the disk's virtual size */
	struct mirror__qmp_job mirror;
	bool backup_job, backup_done, backup_failed;
	uint64_t backup_cur, backup_total;
	char backup_error[200];
	/* our bitmaps, as named: created ms and where the backup was */
	struct {
		char name[200];
		int64_t ms;
		uint64_t count;
	} maps[8];
	size_t n_maps;
	uint64_t dirty; /* the union's count, at most: the sum */
	char where[300]; /* "host:port" of the bitmaps' backup, "" none */
	const char *why; /* BROKEN: why the backup is out, for the pairs */
};

/* --- mirror_qsync_graph.c --- */
const char *mirror__qsync_str(json_object *o, const char *key);
/* A QMP command, its failure ignored (cleanups that may find nothing to do). */
void mirror__qsync_quiet(virDomainPtr d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A QMP command, its failure said in R (-errno). */
int mirror__qsync_cmd(struct request *r, virDomainPtr d, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "hs-g-TARGET": the quorum under TARGET's guest device. */
void mirror__qsync_quorum_name(char *buf, size_t size, const char *target);
/* The edge of child NODE under PARENT ("children.3"); "" when not there. */
void mirror__qsync_child_edge(virDomainPtr d, const char *parent, const char *node, char *edge,
			      size_t size);
/*
 * Everything of DOM's disks in Q[n_disks]; -EIO when QEMU does not answer.
 * ATTACHED counts the disks whose device is on our quorum.
 */
int mirror__qsync_read_disks(virDomainPtr d, const struct mirror_domain *dom, struct qsync_disk *q,
			     size_t *attached);
enum qsync_state mirror__qsync_state(const struct qsync_disk *q);
/* A new bitmap of TARGET, created at MS, for the backup at WHERE ("host:port"). */
int mirror__qsync_bitmap_add(struct request *r, virDomainPtr d, const char *target,
			     const char *format, int64_t ms, const char *where);
void mirror__qsync_bitmap_del(virDomainPtr d, const char *format, const char *name);
/* Where the NBD node NODE goes, "host:port"; -ENOENT. */
int mirror__qsync_node_where(virDomainPtr d, const char *node, char *where, size_t size);
/* Removes TARGET's NBD child from its quorum and deletes it; idempotent. */
void mirror__qsync_child_drop(virDomainPtr d, const char *target, const char *child);
