// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_backup_keep: a prepare that finds the backup still in step keeps
 * it instead of starting it again.
 *
 * After a cut of the replication link alone the backup host never left: its
 * paused QEMU, NBD server and exports are as the last prepare made them, and
 * the primary's paused jobs can resume into them. Stopping that QEMU and
 * starting a new one (what prepare does otherwise) costs a QEMU start (1-2 s
 * under TCG) on every return of the link, and the primary's NBD node must
 * then reconnect to a new server. So prepare keeps the running backup when
 * all of this holds, and starts it afresh otherwise:
 *
 *   - it is our backup (mirror_xml_is_backup), paused, and no stand-in was
 *     stopped for this prepare;
 *   - its disks are the ones the cluster recorded as in step
 *     (mirror_identity.c, with a recorded identity: never on trust), and the
 *     very files its QEMU holds open (mirror_disk_watch.c: not replaced at
 *     their paths while it ran);
 *   - it is the same domain as the primary's (memory, the same mirrored
 *     disks at the same paths and formats);
 *   - its NBD server was started by a prepare for this very address, port,
 *     client (the pair's primary) and TLS choice: the live metadata element
 *     written below records those, since QEMU cannot be asked where its NBD
 *     server listens;
 *   - every disk's export is there (query-block-exports), and its server holds
 *     no more connections than it has disks (below).
 *
 * The record is live metadata of the domain (libvirt keeps it with the
 * running domain's status, across a libvirtd restart, and drops it when
 * QEMU stops), in a namespace of ours.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "hs_cleanup.h"
#include "mirror_internal.h"
#include "mirror_sockets.h"
#include "mirror_xml.h"

#define EXPORT_NS_URI "urn:hasvc:backup-export:1"
#define EXPORT_NS_PREFIX "hasvc"

/*
 * The server's end of a connection whose client went away behind a cut (the
 * client's FIN never arrived) would hold one of the server's 2 x disks + 1
 * slots for good: with keepalive on the listener (copied to every accepted
 * connection) it ends ~16 s after the last sign of the client, or at the
 * first probe after the heal (the client's host answers with a reset). Longer
 * than the primary's link silence (5 s): a cut too short to degrade the pair
 * never ends the connection from this side.
 */
#define KEEPALIVE_IDLE_S 10
#define KEEPALIVE_INTERVAL_S 2
#define KEEPALIVE_COUNT 3

/* What the NBD server of a prepare was started for. */
struct export_record {
	char host[256];
	char peer[256];
	unsigned port;
	bool tls;
};

/* Characters that would need escaping in an attribute: names and addresses have none. */
static bool attr_safe(const char *s)
{
	return !strpbrk(s, "<>&'\"");
}

/*
 * Best effort: a backup whose export is not recorded is only never kept (the
 * next prepare starts it afresh, as before this existed), so a failure here
 * fails nothing.
 */
void mirror__backup_record(struct request *r, virDomainPtr d, unsigned port, bool tls)
{
	char xml[1024];
	const char *peer = r->peer ? r->peer : "";

	if (!attr_safe(r->host) || !attr_safe(peer))
		return;
	snprintf(xml, sizeof(xml), "<export host='%s' port='%u' peer='%s' tls='%s'/>", r->host,
		 port, peer, tls ? "yes" : "no");
	virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, xml, EXPORT_NS_PREFIX, EXPORT_NS_URI,
			     VIR_DOMAIN_AFFECT_LIVE);
}

static int record_read(virDomainPtr d, struct export_record *ret)
{
	_cleanup_free_ char *xml =
	    virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, EXPORT_NS_URI,
				 VIR_DOMAIN_AFFECT_LIVE);
	xmlDocPtr doc;
	xmlNodePtr root;
	xmlChar *host, *port, *peer, *tls;
	int err = -ENOENT;

	if (!xml)
		return -ENOENT;
	doc = xmlReadMemory(xml, (int)strlen(xml), "export.xml", NULL, XML_PARSE_NONET);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root) {
		xmlFreeDoc(doc);
		return -EINVAL;
	}
	host = xmlGetProp(root, BAD_CAST "host");
	port = xmlGetProp(root, BAD_CAST "port");
	peer = xmlGetProp(root, BAD_CAST "peer");
	tls = xmlGetProp(root, BAD_CAST "tls");
	if (host && port && peer && tls) {
		snprintf(ret->host, sizeof(ret->host), "%s", (const char *)host);
		snprintf(ret->peer, sizeof(ret->peer), "%s", (const char *)peer);
		ret->port = (unsigned)strtoul((const char *)port, NULL, 10);
		ret->tls = strcmp((const char *)tls, "yes") == 0;
		err = 0;
	}
	xmlFree(host);
	xmlFree(port);
	xmlFree(peer);
	xmlFree(tls);
	xmlFreeDoc(doc);
	return err;
}

/* The running backup is the primary's domain as DOM describes it (memory, mirrored disks). */
static bool same_domain(virDomainPtr d, const struct mirror_domain *dom)
{
	_cleanup_free_ char *xml = virDomainGetXMLDesc(d, 0);
	struct mirror_domain *live = NULL;
	char *error = NULL;
	bool same;

	if (!xml || mirror_domain_parse(xml, &live, &error) < 0) {
		free(error);
		return false;
	}
	same = live->memory_bytes == dom->memory_bytes && live->n_disks == dom->n_disks &&
	       strcmp(live->uuid ? live->uuid : "", dom->uuid ? dom->uuid : "") == 0;
	for (size_t i = 0; same && i < dom->n_disks; i++)
		same = strcmp(live->disks[i].target, dom->disks[i].target) == 0 &&
		       strcmp(live->disks[i].source, dom->disks[i].source) == 0 &&
		       strcmp(live->disks[i].format, dom->disks[i].format) == 0;
	mirror_domain_free(live);
	return same;
}

/* Every mirrored disk of DOM has its export (id "hasvc-<target>") in D's QEMU. */
static bool exports_present(virDomainPtr d, const struct mirror_domain *dom)
{
	json_object *parsed, *list;
	size_t found = 0;

	if (mirror__qmp_return(d, "{\"execute\":\"query-block-exports\"}", &parsed, &list) < 0)
		return false;
	for (size_t i = 0; i < dom->n_disks; i++) {
		char id[128];

		snprintf(id, sizeof(id), "hasvc-%s", dom->disks[i].target);
		for (size_t k = 0; list && k < json_object_array_length(list); k++) {
			json_object *e = json_object_array_get_idx(list, k);
			const char *eid = json_object_get_string(json_object_object_get(e, "id"));
			json_object *down = json_object_object_get(e, "shutting-down");

			if (eid && strcmp(eid, id) == 0 && !json_object_get_boolean(down)) {
				found++;
				break;
			}
		}
	}
	json_object_put(parsed);
	return found == dom->n_disks;
}

void mirror__backup_keepalive(struct request *r, const struct mirror_domain *dom, unsigned port)
{
	unsigned set = 0;
	pid_t pid = 0;

	/* best effort: without it a kept backup may only be started afresh sooner */
	if (mirror_sockets_qemu_pid(dom->name, &pid) == 0)
		mirror_sockets_listener_keepalive(pid, r->host, port, KEEPALIVE_IDLE_S,
						  KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT, &set);
}

int mirror__backup_keepable(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			    char *why, size_t len)
{
	struct export_record rec;
	char dir[4096], *xml;
	unsigned held = 0;
	pid_t pid = 0;
	int state = VIR_DOMAIN_NOSTATE, reason, tls;
	bool ours;

	if (virDomainGetState(d, &state, &reason, 0) < 0 || state != VIR_DOMAIN_PAUSED) {
		snprintf(why, len, "not a paused backup");
		return 0;
	}
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	ours = mirror_xml_is_backup(xml);
	free(xml);
	if (!ours) {
		snprintf(why, len, "not a backup of ours");
		return 0;
	}
	if (!r->id_expected || !r->id_next ||
	    mirror__identity_check(dom, NULL, r->id_expected, why, len) != 1) {
		if (!r->id_expected || !r->id_next)
			snprintf(why, len, "no identity recorded for its disks");
		return 0;
	}
	if (mirror_sockets_qemu_pid(dom->name, &pid) < 0) {
		snprintf(why, len, "its QEMU cannot be found");
		return 0;
	}
	held = (unsigned)mirror__disks_held(pid, dom, why, len);
	if ((int)held < 0)
		snprintf(why, len, "its QEMU's open files cannot be read");
	if (held != 1)
		return 0;
	if (!same_domain(d, dom)) {
		snprintf(why, len, "its memory or disks differ from the primary's now");
		return 0;
	}
	if (record_read(d, &rec) < 0) {
		snprintf(why, len, "its NBD server has no record of ours");
		return 0;
	}
	tls = mirror__tls_for(r, dir, sizeof(dir));
	if (tls < 0)
		return tls;
	if (strcmp(rec.host, r->host) != 0 || rec.port != r->port ||
	    strcmp(rec.peer, r->peer ? r->peer : "") != 0 || rec.tls != (tls > 0)) {
		snprintf(why, len, "its NBD server listens for %s:%u, %s, %s; this prepare is for "
			 "%s:%u, %s, %s",
			 rec.host, rec.port, rec.peer[0] ? rec.peer : "any client",
			 rec.tls ? "TLS" : "plain", r->host, r->port, r->peer ? r->peer : "any client",
			 tls > 0 ? "TLS" : "plain");
		return 0;
	}
	if (!exports_present(d, dom)) {
		snprintf(why, len, "not every disk is exported");
		return 0;
	}
	/*
	 * Connections the server still holds: a cut link leaves the server's
	 * end of each old one open for as long as no FIN gets through, and the
	 * server takes 2 x disks + 1 (mirror_backup.c). Kept only while the
	 * primary's reconnects fit beside them; otherwise a fresh QEMU drops them.
	 */
	if (mirror_sockets_count_local(pid, r->host, r->port, &held) < 0) {
		snprintf(why, len, "its QEMU's connections cannot be read");
		return 0;
	}
	if (held > dom->n_disks) {
		snprintf(why, len, "its NBD server still holds %u connection(s), more than its %zu "
			 "disk(s)", held, dom->n_disks);
		return 0;
	}
	return 1;
}
