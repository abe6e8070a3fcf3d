// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_inspect: on the primary host, what a new pair needs to know of the
 * running domain: its inactive definition (with secrets: the backup is
 * defined from it), its uuid, and the virtual size of each mirrored disk
 * (the backup's images are created at those sizes).
 *
 * It is also where a domain that cannot be protected faithfully is refused,
 * before anything happens on the backup host: one not running, a transient
 * one (there would be no definition to start on the backup), and one with
 * snapshots, which a block copy does not carry (libvirt's own, and internal
 * ones QEMU sees in the images that libvirt does not know).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "mirror.h"
#include "mirror_internal.h"
#include "mirror_xml.h"

/* Appends ", NAME" (or NAME when LIST is empty) to LIST, cut at SIZE. */
static void names_append(char *list, size_t size, const char *name)
{
	size_t used = strlen(list);

	snprintf(list + used, size - used, "%s%s", used ? ", " : "", name);
}

/*
 * Appends to LIST the internal snapshots QEMU sees in the images of D that
 * libvirt does not know (made with qemu-img snapshot or savevm behind its back).
 */
static void qemu_snapshots(virDomainPtr d, char *list, size_t size)
{
	json_object *parsed, *devices;

	if (mirror__qmp_return(d, "{\"execute\":\"query-block\"}", &parsed, &devices) < 0)
		return;
	for (size_t i = 0; devices && i < json_object_array_length(devices); i++) {
		json_object *dev = json_object_array_get_idx(devices, i), *inserted, *image, *snaps;
		if (!json_object_object_get_ex(dev, "inserted", &inserted) ||
		    !json_object_object_get_ex(inserted, "image", &image) ||
		    !json_object_object_get_ex(image, "snapshots", &snaps))
			continue;
		for (size_t j = 0; j < json_object_array_length(snaps); j++) {
			const char *name = json_object_get_string(
			    json_object_object_get(json_object_array_get_idx(snaps, j), "name"));
			if (name && !strstr(list, name))
				names_append(list, size, name);
		}
	}
	json_object_put(parsed);
}

/*
 * A block copy takes the disks' current state only: snapshots (internal ones
 * inside the qcow2, external ones as backing files) would not be on the
 * backup, and a failover would lose them without a word. So a domain with
 * snapshots is refused, naming them.
 */
static int snapshots_refuse(struct request *r, virDomainPtr d)
{
	virDomainSnapshotPtr *snaps = NULL;
	int n = virDomainListAllSnapshots(d, &snaps, 0);
	char list[256] = "";

	for (int i = 0; i < n; i++) {
		names_append(list, sizeof(list), virDomainSnapshotGetName(snaps[i]));
		virDomainSnapshotFree(snaps[i]);
	}
	free(snaps);
	qemu_snapshots(d, list, sizeof(list));
	if (!list[0])
		return 0;
	return mirror__say(
	    r, -ENOTSUP,
	    "%s has snapshot(s) %s: the backup would not have them and a failover would "
	    "lose them; delete them first (virsh snapshot-delete %s NAME)",
	    r->vm, list, r->vm);
}

static void inspect_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__live_domain(m, r, &d);
	char *xml = NULL;

	if (!dom)
		return;
	if (virDomainIsActive(d) != 1) {
		mirror__say(r, -ESRCH, "%s is not running on this host", r->vm);
		goto out;
	}
	if (virDomainIsPersistent(d) != 1) {
		mirror__say(r, -EINVAL, "%s is a transient domain; define it first (virsh define)",
			    r->vm);
		goto out;
	}
	if (snapshots_refuse(r, d) < 0)
		goto out;
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	if (!xml) {
		mirror__say(r, -EIO, "cannot read the definition of %s: %s", r->vm,
			    mirror__virt_error());
		goto out;
	}
	r->inspection = (struct mirror_inspection){
		.uuid = strdup(dom->uuid ?: ""),
		.xml = xml,
		.disks = calloc(dom->n_disks ?: 1, sizeof(*r->inspection.disks)),
	};
	xml = NULL;
	r->answer = MIRROR__ANSWER_INSPECTION;
	if (!r->inspection.uuid || !r->inspection.disks) {
		mirror__say(r, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < dom->n_disks; i++) {
		struct mirror_disk_size *size = &r->inspection.disks[i];
		virDomainBlockInfo info;

		if (virDomainGetBlockInfo(d, dom->disks[i].target, &info, 0) < 0) {
			mirror__say(r, -EIO, "cannot read the size of disk %s of %s: %s",
				    dom->disks[i].target, r->vm, mirror__virt_error());
			goto out;
		}
		size->target = strdup(dom->disks[i].target);
		size->bytes = info.capacity;
		if (!size->target) {
			mirror__say(r, -ENOMEM, "out of memory");
			goto out;
		}
		r->inspection.n_disks++;
	}
	mirror__say(r, 0, "%s runs here with %zu mirrorable disk(s)", r->vm, dom->n_disks);
out:
	free(xml);
	virDomainFree(d);
	mirror_domain_free(dom);
}

int mirror_inspect(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return mirror__submit_vm(m, inspect_run, vm, done, NULL, userdata, NULL);
}

int mirror_inspect_typed(struct mirror *m, const char *vm, mirror_reply_fn done, void *userdata)
{
	return mirror__submit_vm(m, inspect_run, vm, NULL, done, userdata, NULL);
}
