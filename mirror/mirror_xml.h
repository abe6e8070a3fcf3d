/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mirror_xml: from the primary's domain XML, which disks are mirrored and
 * what the backup's definition is.
 *
 * Which disks: every <disk type='file' device='disk'> with a qcow2 or raw
 * image is local and mirrored. Network disks, shareable disks, CD-ROMs and
 * floppies are left alone (they are not lost with the host, or hold nothing to
 * lose). A block-device disk, an image in another format, or a disk with a
 * backing chain (an external snapshot) cannot be mirrored faithfully and makes
 * the whole domain refused, with the disk named.
 *
 * The backup's definition is the primary's (same name, uuid, MACs, vCPUs,
 * memory, disks) plus, for each mirrored disk, the virtio-blk property
 * share-rw=on set through <qemu:override>: QEMU refuses a writable NBD export
 * of a disk whose guest device holds the write permission, which a paused
 * domain's device does unless shared. The override addresses the device by
 * alias, so every mirrored disk gets a user alias "ua-hasvc-<target>".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mirror_disk {
	char *target; /* "vda" */
	char *alias;  /* "ua-hasvc-vda": the device's alias in the backup */
	char *source; /* the image file */
	char *format; /* "qcow2" or "raw" */
};

struct mirror_domain {
	char *name;
	char *uuid;
	uint64_t memory_bytes; /* <memory>: what the guest may use, so what its backup needs */
	struct mirror_disk *disks; /* the mirrored disks, in XML order */
	size_t n_disks;
	size_t n_left_alone; /* network, shareable, removable */
};

/*
 * Parses the primary's domain XML. -EINVAL for XML that is not a domain
 * (or has a <!DOCTYPE>, which libvirt never writes, or an empty <name>),
 * -EMEDIUMTYPE for a disk that cannot be mirrored, -ENODEV for a domain with
 * no local disk; *ret_error then says which disk and why. -EINVAL also for a
 * <memory> that is not a size (a missing one reads as 0).
 */
int mirror_domain_parse(const char *xml, struct mirror_domain **ret, char **ret_error);
void mirror_domain_free(struct mirror_domain *dom);

/* The backup's definition (malloc'd), or an error as mirror_domain_parse(). */
int mirror_xml_backup(const char *primary_xml, char **ret_xml, char **ret_error);

/*
 * From a running domain's live XML: whether disk TARGET has a block copy job
 * (*RET_JOB) and whether it reached READY (*RET_READY: every write since goes
 * to both sides). -ENOENT: no such disk; -EINVAL: not a domain.
 */
int mirror_xml_job_state(const char *live_xml, const char *target, bool *ret_job, bool *ret_ready);

/* True for a definition made by mirror_xml_backup() (a hasvc backup). */
bool mirror_xml_is_backup(const char *xml);
