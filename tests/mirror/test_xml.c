// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of mirror_xml: which disks are mirrored, which are left alone, which
 * make the domain refused (with the disk named), and what the backup's
 * definition adds.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror_xml.h"

#define DOMAIN(disks)                                                                              \
	"<domain type='qemu'><name>vm1</name><uuid>44b9ec38-0bd7-464d-bd05-e6fa4d75f9e2</uuid>"   \
	"<memory unit='KiB'>131072</memory><os><type arch='x86_64'>hvm</type></os><devices>"      \
	disks "<interface type='user'><mac address='52:54:00:12:34:56'/></interface>"             \
	"</devices></domain>"

#define FILE_DISK(dev, fmt)                                                                        \
	"<disk type='file' device='disk'><driver name='qemu' type='" fmt "'/>"                     \
	"<source file='/img/" dev ".img'/><target dev='" dev "' bus='virtio'/></disk>"

Test(mirror_xml, local_disks_are_mirrored_others_left_alone)
{
	struct mirror_domain *dom = NULL;
	char *error = NULL;
	const char *xml = DOMAIN(
		FILE_DISK("vda", "qcow2") FILE_DISK("vdb", "raw")
		"<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
		"<source protocol='rbd' name='pool/img'/><target dev='vdc' bus='virtio'/></disk>"
		"<disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='sda' bus='sata'/></disk>"
		"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/shared/s.img'/>"
		"<target dev='vdd' bus='virtio'/><shareable/></disk>");

	cr_assert_eq(mirror_domain_parse(xml, &dom, &error), 0, "%s", error);
	cr_assert_str_eq(dom->name, "vm1");
	cr_assert_str_eq(dom->uuid, "44b9ec38-0bd7-464d-bd05-e6fa4d75f9e2");
	cr_assert_eq(dom->n_disks, 2);
	cr_assert_eq(dom->n_left_alone, 3);
	cr_assert_str_eq(dom->disks[0].target, "vda");
	cr_assert_str_eq(dom->disks[0].source, "/img/vda.img");
	cr_assert_str_eq(dom->disks[0].format, "qcow2");
	cr_assert_str_eq(dom->disks[0].alias, "ua-hasvc-vda");
	cr_assert_str_eq(dom->disks[1].format, "raw");
	cr_assert_eq(dom->memory_bytes, 128ULL << 20);
	mirror_domain_free(dom);
}

/* The backup host checks its free memory against this: every unit counts. */
Test(mirror_xml, memory_in_any_unit)
{
	static const struct {
		const char *memory;
		uint64_t bytes;
	} cases[] = {
		{"<memory unit='KiB'>131072</memory>", 128ULL << 20},
		{"<memory>1024</memory>", 1ULL << 20},
		{"<memory unit='GiB'>4</memory>", 4ULL << 30},
		{"<memory unit='MB'>500</memory>", 500000000ULL},
		{"<memory unit='b'>4096</memory>", 4096},
		{"", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mirror_domain *dom = NULL;
		char *error = NULL, xml[512];

		snprintf(xml, sizeof(xml), "<domain><name>vm1</name>%s<devices>%s</devices></domain>",
			 cases[i].memory, FILE_DISK("vda", "raw"));
		cr_assert_eq(mirror_domain_parse(xml, &dom, &error), 0, "case %zu: %s", i, error);
		cr_assert_eq(dom->memory_bytes, cases[i].bytes, "case %zu", i);
		mirror_domain_free(dom);
	}
}

static const struct {
	const char *xml;
	int err;
	const char *message;
} refused[] = {
	{DOMAIN("<disk type='block' device='disk'><driver name='qemu' type='raw'/>"
		"<source dev='/dev/sdb'/><target dev='vda' bus='virtio'/></disk>"),
	 -EMEDIUMTYPE, "disk vda of vm1 is of type 'block': hasvc mirrors local file images only"},
	{DOMAIN(FILE_DISK("vda", "vmdk")), -EMEDIUMTYPE,
	 "disk vda of vm1 has format 'vmdk': only qcow2 and raw images can be mirrored"},
	{DOMAIN("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
		"<source file='/img/overlay.qcow2'/><backingStore type='file'><format type='qcow2'/>"
		"<source file='/img/base.qcow2'/><backingStore/></backingStore>"
		"<target dev='vda' bus='virtio'/></disk>"),
	 -EMEDIUMTYPE, "disk vda of vm1 has a backing chain (an external snapshot): merge it first"},
	{DOMAIN("<disk type='network' device='disk'><source protocol='nbd' name='x'/>"
		"<target dev='vda' bus='virtio'/></disk>"),
	 -ENODEV, "vm1 has no local disk to protect"},
	{"<domain><name>vm1</name><memory unit='parsecs'>1</memory><devices>" FILE_DISK("vda", "raw")
	 "</devices></domain>",
	 -EINVAL, "the <memory> of vm1 is not a size"},
	{"<network><name>default</name></network>", -EINVAL, "not a libvirt domain definition"},
	{"<domain", -EINVAL, "domain XML does not parse"},
};

/* XML is refused with ERR and MESSAGE, by the parser and by the backup's writer alike. */
static void assert_refused(const char *xml, int err, const char *message, size_t i)
{
	struct mirror_domain *dom = NULL;
	char *error = NULL, *backup = NULL;

	cr_assert_eq(mirror_domain_parse(xml, &dom, &error), err, "case %zu", i);
	cr_assert_null(dom);
	cr_assert(error && strstr(error, message), "case %zu: '%s'", i, error);
	free(error);
	error = NULL;
	cr_assert_eq(mirror_xml_backup(xml, &backup, &error), err, "case %zu", i);
	cr_assert_null(backup);
	cr_assert(error && strstr(error, message), "case %zu: '%s'", i, error);
	free(error);
}

Test(mirror_xml, unmirrorable_domains_are_refused_naming_the_disk)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_refused(refused[i].xml, refused[i].err, refused[i].message, i);
}

Test(mirror_xml, backup_definition_shares_every_mirrored_device)
{
	char *backup = NULL, *error = NULL;
	struct mirror_domain *again = NULL;

	cr_assert_eq(mirror_xml_backup(DOMAIN(FILE_DISK("vda", "qcow2") FILE_DISK("vdb", "raw")),
				       &backup, &error),
		     0, "%s", error);
	cr_assert(strstr(backup, "xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\""));
	cr_assert(strstr(backup, "<alias name=\"ua-hasvc-vda\"/>"));
	cr_assert(strstr(backup, "<alias name=\"ua-hasvc-vdb\"/>"));
	cr_assert(strstr(backup, "<qemu:device alias=\"ua-hasvc-vdb\">"));
	cr_assert(strstr(backup, "<qemu:property name=\"share-rw\" type=\"bool\" value=\"true\"/>"));
	cr_assert(strstr(backup, "<mac address=\"52:54:00:12:34:56\"/>"), "same MAC");
	cr_assert(strstr(backup, "<uuid>44b9ec38-0bd7-464d-bd05-e6fa4d75f9e2</uuid>"), "same uuid");
	/* The result is itself a valid domain with the same disks. */
	cr_assert_eq(mirror_domain_parse(backup, &again, &error), 0, "%s", error);
	cr_assert_eq(again->n_disks, 2);
	mirror_domain_free(again);
	free(backup);
}

/*
 * libvirt never writes a DOCTYPE, so one in a definition did not come from
 * libvirt: it is refused, not copied into the backup's XML, where its
 * internal subset (entities, possibly external ones) would reach the backup
 * host's libvirtd.
 */
Test(mirror_xml, doctype_is_refused_not_copied_into_the_backup)
{
	static const char *const xmls[] = {
		"<!DOCTYPE domain>" DOMAIN(FILE_DISK("vda", "raw")),
		"<!DOCTYPE domain [<!ENTITY where SYSTEM 'file:///etc/shadow'>]>"
		"<domain><name>vm1</name><description>&where;</description><devices>"
		FILE_DISK("vda", "raw") "</devices></domain>",
		"<!DOCTYPE domain SYSTEM 'http://example.com/domain.dtd'>" DOMAIN(FILE_DISK("vda", "raw")),
	};

	for (size_t i = 0; i < sizeof(xmls) / sizeof(xmls[0]); i++)
		assert_refused(xmls[i], -EINVAL, "has a <!DOCTYPE>", i);
}

/* A domain needs a name: libvirt refuses an empty one, and so does hasvc, before it is used. */
Test(mirror_xml, empty_name_is_refused)
{
	static const char *const xmls[] = {
		"<domain><name/><devices>" FILE_DISK("vda", "raw") "</devices></domain>",
		"<domain><name></name><devices>" FILE_DISK("vda", "raw") "</devices></domain>",
	};

	for (size_t i = 0; i < sizeof(xmls) / sizeof(xmls[0]); i++)
		assert_refused(xmls[i], -EINVAL, "has an empty <name>", i);
}
