// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_domain: the domain an operation works on, as the operations on the
 * mirror thread all need it: looked up by name with its definition parsed
 * (which disks are mirrored), QMP commands to its QEMU, and its block jobs
 * aborted.
 *
 * QMP goes through libvirt (virDomainQemuMonitorCommand), never a socket of
 * our own: libvirt owns the monitor, and the commands used here (NBD server,
 * block exports, node and snapshot queries) are ones libvirt has no API for
 * on a paused backup. Replies are parsed with json-c; a reply that does not
 * parse reads as one without an answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>

#include "mirror_internal.h"

struct mirror_domain *mirror__live_domain(struct mirror *m, struct request *r, virDomainPtr *ret)
{
	virConnectPtr conn = mirror__connection(m, r);

	return conn ? mirror__domain_on(conn, r, ret) : NULL;
}

struct mirror_domain *mirror__domain_on(virConnectPtr conn, struct request *r, virDomainPtr *ret)
{
	struct mirror_domain *dom = NULL;
	char *xml, *error = NULL;
	virDomainPtr d;

	d = virDomainLookupByName(conn, r->vm);
	if (!d) {
		mirror__say(r, -ENOENT, "no domain %s on this host", r->vm);
		return NULL;
	}
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	if (!xml || mirror_domain_parse(xml, &dom, &error) < 0) {
		mirror__say(r, -EINVAL, "%s", error ? error : mirror__virt_error());
		virDomainFree(d);
		dom = NULL;
	} else {
		*ret = d;
	}
	free(xml);
	free(error);
	return dom;
}

int mirror__domain_state(struct request *r, virDomainPtr d, int *ret_state)
{
	int state = VIR_DOMAIN_NOSTATE, reason;

	if (virDomainGetState(d, &state, &reason, 0) < 0)
		return mirror__say(r, -EIO, "cannot read the state of %s: %s", virDomainGetName(d),
				   mirror__virt_error());
	*ret_state = state;
	return 0;
}

int mirror__qmp_return(virDomainPtr d, const char *cmd, json_object **ret_parsed,
		       json_object **ret_return)
{
	char *reply = NULL;
	json_object *parsed;

	*ret_parsed = *ret_return = NULL;
	if (virDomainQemuMonitorCommand(d, cmd, &reply, 0) < 0)
		return -EIO;
	parsed = json_tokener_parse(reply);
	free(reply);
	if (parsed && !json_object_object_get_ex(parsed, "return", ret_return))
		*ret_return = NULL;
	*ret_parsed = parsed;
	return 0;
}

int mirror__qmp(struct request *r, virDomainPtr d, const char *cmd)
{
	json_object *parsed, *answer, *error;
	int ret = 0;

	if (mirror__qmp_return(d, cmd, &parsed, &answer) < 0)
		return mirror__say(r, -EIO, "QMP %s failed: %s", cmd, mirror__virt_error());
	if (parsed && json_object_object_get_ex(parsed, "error", &error))
		ret = mirror__say(r, -EIO, "QMP %s refused: %s", cmd,
				  json_object_get_string(json_object_object_get(error, "desc")));
	json_object_put(parsed);
	return ret;
}

void mirror__qmp_quiet(virDomainPtr d, const char *cmd)
{
	json_object *parsed, *answer;

	if (mirror__qmp_return(d, cmd, &parsed, &answer) == 0)
		json_object_put(parsed);
}

int mirror__export_add(struct request *r, virDomainPtr d, const struct mirror_disk *disk,
		       const char *id_prefix, bool writable)
{
	char node[128], cmd[512];

	if (mirror__qmp_format_node(d, disk, node, sizeof(node)) < 0)
		return mirror__say(r, -ENOENT, "cannot find the block node of disk %s (%s) of %s",
				   disk->target, disk->source, r->vm);
	/* writethrough: a write the primary's mirror sent is on disk when acknowledged */
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"block-export-add\",\"arguments\":{\"type\":\"nbd\","
		 "\"id\":\"%s%s\",\"node-name\":\"%s\",\"name\":\"%s\",%s}}",
		 id_prefix, disk->target, node, disk->target,
		 writable ? "\"writable\":true,\"writethrough\":true" : "\"writable\":false");
	return mirror__qmp(r, d, cmd);
}

void mirror__jobs_abort(virDomainPtr d, const struct mirror_domain *dom, unsigned flags)
{
	for (size_t i = 0; i < dom->n_disks; i++) {
		virDomainBlockJobInfo info;
		if (virDomainGetBlockJobInfo(d, dom->disks[i].target, &info, 0) == 1)
			virDomainBlockJobAbort(d, dom->disks[i].target, flags);
	}
}
