/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mirror: everything hasvcd asks of libvirt and QEMU, off its main loop.
 *
 * A libvirt call can block as long as a hung QEMU does, so every call runs
 * on one thread owned by this module, which also runs libvirt's default
 * event loop (block-job events arrive there). The daemon's thread submits a
 * request and gets its result later: results travel back through an eventfd
 * polled on the daemon's qb_loop, and the completion callback runs there.
 * Nothing else crosses threads.
 *
 * Operations (each asynchronous, each with a clear message on failure):
 *   mirror_backup_prepare  on the backup host: define the primary's domain
 *                          (mirror_xml_backup), create missing images of the
 *                          same virtual size, start it paused, export every
 *                          mirrored disk over NBD (writable, writethrough);
 *   mirror_start           on the primary host: block copy every mirrored
 *                          disk into the backup's exports;
 *   mirror_promote         on the backup host: remove the exports, stop the
 *                          NBD server, resume the domain.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <qb/qbloop.h>

struct mirror;

/* RESULT >= 0 or -errno; MESSAGE says what happened (valid during the call). */
typedef void (*mirror_done_fn)(void *userdata, int result, const char *message);

int mirror_new(qb_loop_t *loop, const char *uri, struct mirror **ret);
/* Waits for the thread to finish the request it is on; pending ones are dropped. */
void mirror_free(struct mirror *m);

/*
 * PRIMARY_XML: the primary's inactive domain XML. DISK_BYTES[i]: the virtual
 * size of its i-th mirrored disk (mirror_domain_parse order). The exports
 * are named after the disk targets ("vda") on NBD_ADDR:PORT.
 */
int mirror_backup_prepare(struct mirror *m, const char *primary_xml, const uint64_t *disk_bytes,
			  size_t n_disks, const char *nbd_addr, unsigned port, mirror_done_fn done,
			  void *userdata);

/* SYNC: writes complete only once on the backup too (write-blocking mirror). */
int mirror_start(struct mirror *m, const char *vm, const char *nbd_host, unsigned port, bool sync,
		 mirror_done_fn done, void *userdata);

int mirror_promote(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata);
