/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_domain_xml: domain XML as mirror/ reads it: the primary's inactive
 * XML (parsed, and turned into the backup's XML), and libvirt's live XML
 * (block job state). The primary's XML travels in the replicated pair record
 * and is read on the backup host: a hostile or broken one must be refused
 * with a message, never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mirror_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *xml = malloc(size + 1);
	struct mirror_domain *dom = NULL;
	char *error = NULL, *backup = NULL;
	bool job, ready;
	int r;

	if (!xml)
		return 0;
	memcpy(xml, data, size);
	xml[size] = '\0';
	r = mirror_domain_parse(xml, &dom, &error);
	if (r < 0 && (!error || dom))
		abort();
	mirror_domain_free(dom);
	free(error);
	error = NULL;
	r = mirror_xml_backup(xml, &backup, &error);
	if (r < 0 && (!error || backup))
		abort();
	/* the backup's XML must parse as a domain again, and say it is a backup */
	if (r >= 0) {
		char *again_error = NULL;

		dom = NULL;
		if (mirror_domain_parse(backup, &dom, &again_error) < 0 || !mirror_xml_is_backup(backup))
			abort();
		mirror_domain_free(dom);
		free(again_error);
	}
	free(backup);
	free(error);
	(void)mirror_xml_job_state(xml, "vda", &job, &ready);
	(void)mirror_xml_is_backup(xml);
	free(xml);
	return 0;
}
