// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_xml: reading the primary's domain XML and writing the backup's,
 * with libxml2 (the parser libvirt itself uses).
 *
 * One walk over /domain/devices/disk classifies each disk (mirrored, left
 * alone, refused). Writing the backup's XML edits the same tree: a user alias
 * on each mirrored disk, the qemu namespace on <domain>, and one
 * <qemu:override> holding a share-rw property per mirrored device.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "mirror_xml.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

static int fail(char **ret_error, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int err, const char *fmt, ...)
{
	va_list ap;

	if (ret_error) {
		va_start(ap, fmt);
		if (vasprintf(ret_error, fmt, ap) < 0)
			*ret_error = NULL;
		va_end(ap);
	}
	return err;
}

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
	for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* An attribute as a malloc'd string (xmlGetProp's memory is libxml2's). */
static char *attr(xmlNode *n, const char *name)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
	char *copy = v ? strdup((const char *)v) : NULL;

	xmlFree(v);
	return copy;
}

static char *text_of(xmlNode *n)
{
	xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
	char *copy = v ? strdup((const char *)v) : NULL;

	xmlFree(v);
	return copy;
}

void mirror_domain_free(struct mirror_domain *dom)
{
	if (!dom)
		return;
	for (size_t i = 0; i < dom->n_disks; i++) {
		free(dom->disks[i].target);
		free(dom->disks[i].alias);
		free(dom->disks[i].source);
		free(dom->disks[i].format);
	}
	free(dom->disks);
	free(dom->name);
	free(dom->uuid);
	free(dom);
}

/*
 * Classifies one <disk>: 1 mirrored (filled into *ret), 0 left alone, <0
 * refused with *ret_error.
 */
static int disk_classify(xmlNode *disk, const char *vm, struct mirror_disk *ret, char **ret_error)
{
	char *type = attr(disk, "type"), *device = attr(disk, "device");
	xmlNode *target = child(disk, "target"), *source = child(disk, "source");
	xmlNode *driver = child(disk, "driver"), *backing = child(disk, "backingStore");
	char *dev = attr(target, "dev");
	const char *name = dev ? dev : "(no target)";
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (device && strcmp(device, "disk") != 0 && strcmp(device, "lun") != 0)
		goto out; /* cdrom, floppy: nothing to lose */
	if (child(disk, "shareable") || (type && strcmp(type, "network") == 0))
		goto out; /* shared storage survives the host */
	if (!type || strcmp(type, "file") != 0) {
		r = fail(ret_error, -EMEDIUMTYPE,
			 "disk %s of %s is of type '%s': hasvc mirrors local file images only", name,
			 vm, type ? type : "?");
		goto out;
	}
	if (!dev) {
		r = fail(ret_error, -EINVAL, "a disk of %s has no <target dev=...>", vm);
		goto out;
	}
	if (backing && child(backing, "source")) {
		r = fail(ret_error, -EMEDIUMTYPE,
			 "disk %s of %s has a backing chain (an external snapshot): merge it first "
			 "(virsh blockcommit or blockpull)",
			 name, vm);
		goto out;
	}
	ret->format = attr(driver, "type");
	if (!ret->format || (strcmp(ret->format, "qcow2") != 0 && strcmp(ret->format, "raw") != 0)) {
		r = fail(ret_error, -EMEDIUMTYPE,
			 "disk %s of %s has format '%s': only qcow2 and raw images can be mirrored",
			 name, vm, ret->format ? ret->format : "?");
		goto out;
	}
	ret->source = attr(source, "file");
	if (!ret->source) {
		r = fail(ret_error, -EINVAL, "disk %s of %s has no <source file=...>", name, vm);
		goto out;
	}
	ret->target = dev;
	dev = NULL;
	if (asprintf(&ret->alias, "ua-hasvc-%s", ret->target) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = 1;
out:
	if (r <= 0) {
		free(ret->format);
		free(ret->source);
		free(ret->target);
		memset(ret, 0, sizeof(*ret));
	}
	free(dev);
	free(type);
	free(device);
	return r;
}

/*
 * <memory unit=U>N</memory> in bytes. libvirt writes KiB, but a definition
 * may carry any unit its schema allows (b, k/KiB, KB, M/MiB, MB, G/GiB, GB, T/TiB, TB).
 */
static int memory_parse(xmlNode *memory, uint64_t *ret)
{
	static const struct {
		const char *unit;
		uint64_t scale;
	} units[] = {
		{"b", 1},	{"bytes", 1},		{"KB", 1000},	      {"k", 1024},
		{"KiB", 1024},	{"MB", 1000000},	{"M", 1 << 20},	      {"MiB", 1 << 20},
		{"GB", 1000000000}, {"G", 1 << 30},	{"GiB", 1 << 30},     {"TB", 1000000000000},
		{"T", 1ULL << 40},  {"TiB", 1ULL << 40},
	};
	char *unit = attr(memory, "unit"), *text = text_of(memory), *end;
	uint64_t scale = 0, n;
	int r = -EINVAL;

	if (!memory) {
		*ret = 0;
		r = 0;
		goto out;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(unit ? unit : "KiB", units[i].unit) == 0)
			scale = units[i].scale;
	if (!text || !scale)
		goto out;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || end == text || *end || n > UINT64_MAX / scale)
		goto out;
	*ret = n * scale;
	r = 0;
out:
	free(unit);
	free(text);
	return r;
}

static int domain_walk(xmlDoc *doc, struct mirror_domain **ret, char **ret_error)
{
	xmlNode *root = xmlDocGetRootElement(doc), *devices;
	struct mirror_domain *dom;
	int r;

	if (!is(root, "domain"))
		return fail(ret_error, -EINVAL, "not a libvirt domain definition");
	/*
	 * libvirt never writes one: a definition with it did not come from
	 * libvirt, and its entities must not travel into the backup's XML.
	 */
	if (doc->intSubset || doc->extSubset)
		return fail(ret_error, -EINVAL,
			    "domain XML has a <!DOCTYPE>, which libvirt never writes; refusing it");
	dom = calloc(1, sizeof(*dom));
	if (!dom)
		return -ENOMEM;
	dom->name = text_of(child(root, "name"));
	dom->uuid = text_of(child(root, "uuid"));
	if (!dom->name) {
		r = fail(ret_error, -EINVAL, "domain definition has no <name>");
		goto out_free;
	}
	if (!dom->name[0]) {
		r = fail(ret_error, -EINVAL, "domain definition has an empty <name>");
		goto out_free;
	}
	if (memory_parse(child(root, "memory"), &dom->memory_bytes) < 0) {
		r = fail(ret_error, -EINVAL, "the <memory> of %s is not a size", dom->name);
		goto out_free;
	}
	devices = child(root, "devices");
	for (xmlNode *d = devices ? devices->children : NULL; d; d = d->next) {
		struct mirror_disk disk, *grown;

		if (!is(d, "disk"))
			continue;
		r = disk_classify(d, dom->name, &disk, ret_error);
		if (r < 0)
			goto out_free;
		if (r == 0) {
			dom->n_left_alone++;
			continue;
		}
		grown = reallocarray(dom->disks, dom->n_disks + 1, sizeof(*grown));
		if (!grown) {
			free(disk.target);
			free(disk.alias);
			free(disk.source);
			free(disk.format);
			r = -ENOMEM;
			goto out_free;
		}
		dom->disks = grown;
		dom->disks[dom->n_disks++] = disk;
	}
	if (dom->n_disks == 0) {
		r = fail(ret_error, -ENODEV, "%s has no local disk to protect", dom->name);
		goto out_free;
	}
	*ret = dom;
	return 0;

out_free:
	mirror_domain_free(dom);
	return r;
}

static xmlDoc *parse(const char *xml)
{
	return xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

int mirror_domain_parse(const char *xml, struct mirror_domain **ret, char **ret_error)
{
	xmlDoc *doc = parse(xml);
	int r;

	if (!doc)
		return fail(ret_error, -EINVAL, "domain XML does not parse");
	r = domain_walk(doc, ret, ret_error);
	xmlFreeDoc(doc);
	return r;
}

/* Sets (or replaces) the alias of the mirrored disk with target DEV. */
static void disk_set_alias(xmlNode *devices, const struct mirror_disk *disk)
{
	for (xmlNode *d = devices->children; d; d = d->next) {
		xmlNode *alias;
		char *dev;
		bool match;

		if (!is(d, "disk"))
			continue;
		dev = attr(child(d, "target"), "dev");
		match = dev && strcmp(dev, disk->target) == 0;
		free(dev);
		if (!match)
			continue;
		alias = child(d, "alias");
		if (!alias)
			alias = xmlNewChild(d, NULL, (const xmlChar *)"alias", NULL);
		xmlSetProp(alias, (const xmlChar *)"name", (const xmlChar *)disk->alias);
		return;
	}
}

int mirror_xml_backup(const char *primary_xml, char **ret_xml, char **ret_error)
{
	struct mirror_domain *dom = NULL;
	xmlDoc *doc = parse(primary_xml);
	xmlNode *root, *override;
	xmlNs *ns;
	xmlChar *out = NULL;
	int r, len = 0;

	if (!doc)
		return fail(ret_error, -EINVAL, "domain XML does not parse");
	r = domain_walk(doc, &dom, ret_error);
	if (r < 0)
		goto out;
	root = xmlDocGetRootElement(doc);
	ns = xmlSearchNsByHref(doc, root, (const xmlChar *)QEMU_NS);
	if (!ns)
		ns = xmlNewNs(root, (const xmlChar *)QEMU_NS, (const xmlChar *)"qemu");
	override = xmlNewChild(root, ns, (const xmlChar *)"override", NULL);
	for (size_t i = 0; i < dom->n_disks; i++) {
		xmlNode *device, *frontend, *prop;

		disk_set_alias(child(root, "devices"), &dom->disks[i]);
		device = xmlNewChild(override, ns, (const xmlChar *)"device", NULL);
		xmlSetProp(device, (const xmlChar *)"alias", (const xmlChar *)dom->disks[i].alias);
		frontend = xmlNewChild(device, ns, (const xmlChar *)"frontend", NULL);
		prop = xmlNewChild(frontend, ns, (const xmlChar *)"property", NULL);
		xmlSetProp(prop, (const xmlChar *)"name", (const xmlChar *)"share-rw");
		xmlSetProp(prop, (const xmlChar *)"type", (const xmlChar *)"bool");
		xmlSetProp(prop, (const xmlChar *)"value", (const xmlChar *)"true");
	}
	xmlDocDumpFormatMemory(doc, &out, &len, 1);
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	*ret_xml = strdup((const char *)out);
	r = *ret_xml ? 0 : -ENOMEM;
out:
	xmlFree(out);
	mirror_domain_free(dom);
	xmlFreeDoc(doc);
	return r;
}

int mirror_xml_job_state(const char *live_xml, const char *target, bool *ret_job, bool *ret_ready)
{
	xmlDoc *doc = parse(live_xml);
	xmlNode *root, *devices;
	int r = -ENOENT;

	if (!doc)
		return -EINVAL;
	*ret_job = *ret_ready = false;
	root = xmlDocGetRootElement(doc);
	devices = is(root, "domain") ? child(root, "devices") : NULL;
	for (xmlNode *d = devices ? devices->children : NULL; d; d = d->next) {
		xmlNode *mirror;
		char *dev, *ready;
		bool match;

		if (!is(d, "disk"))
			continue;
		dev = attr(child(d, "target"), "dev");
		match = dev && strcmp(dev, target) == 0;
		free(dev);
		if (!match)
			continue;
		mirror = child(d, "mirror");
		*ret_job = mirror != NULL;
		ready = mirror ? attr(mirror, "ready") : NULL;
		*ret_ready = ready && strcmp(ready, "yes") == 0;
		free(ready);
		r = 0;
		break;
	}
	xmlFreeDoc(doc);
	return r;
}

bool mirror_xml_is_backup(const char *xml)
{
	/* Only mirror_xml_backup() writes these aliases. */
	return xml && strstr(xml, "ua-hasvc-") != NULL;
}
