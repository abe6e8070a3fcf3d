// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hasvc-backup-xml: the primary's domain XML on stdin, the backup's on
 * stdout (mirror_xml_backup). A test and debugging tool: the lab tests feed
 * its output to a real libvirtd. Exit 1 with the reason when the domain
 * cannot be protected.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mirror_xml.h"

int main(void)
{
	char *in = NULL, *out = NULL, *error = NULL;
	size_t len = 0, n;
	char buf[4096];

	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
		char *grown = realloc(in, len + n + 1);
		if (!grown)
			return 1;
		in = grown;
		for (size_t i = 0; i < n; i++)
			in[len++] = buf[i];
		in[len] = '\0';
	}
	if (!in) {
		fprintf(stderr, "hasvc-backup-xml: no domain XML on stdin\n");
		return 1;
	}
	if (mirror_xml_backup(in, &out, &error) < 0) {
		fprintf(stderr, "hasvc-backup-xml: %s\n", error ? error : "failed");
		return 1;
	}
	fputs(out, stdout);
	free(out);
	free(in);
	return 0;
}
