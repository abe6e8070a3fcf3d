// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hasvc-mirror: runs one mirror/ operation against this host's libvirtd, on
 * a qb_loop like hasvcd's, and prints its result. A test and debugging tool:
 * the lab tests drive the real module through it.
 *
 *   hasvc-mirror prepare PRIMARY_XML_FILE NBD_ADDR PORT SIZE...
 *   hasvc-mirror start VM NBD_HOST PORT sync|async
 *   hasvc-mirror promote VM
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qbloop.h>

#include "mirror.h"

static qb_loop_t *loop;
static int result = -1;

static void done(void *userdata, int r, const char *message)
{
	fprintf(r < 0 ? stderr : stdout, "%s\n", message);
	result = r;
	qb_loop_stop(loop);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	struct mirror *m = NULL;
	int r = -1;

	loop = qb_loop_create();
	if (!loop || mirror_new(loop, getenv("LIBVIRT_DEFAULT_URI"), &m) < 0) {
		fprintf(stderr, "hasvc-mirror: cannot start the mirror thread\n");
		return 1;
	}
	if (argc >= 6 && strcmp(argv[1], "prepare") == 0) {
		char *xml = slurp(argv[2]);
		size_t n = (size_t)(argc - 5);
		uint64_t *sizes = calloc(n, sizeof(*sizes));
		for (size_t i = 0; sizes && i < n; i++)
			sizes[i] = strtoull(argv[5 + i], NULL, 10);
		if (xml && sizes)
			r = mirror_backup_prepare(m, xml, sizes, n, argv[3], (unsigned)atoi(argv[4]), done,
						  NULL);
		free(xml);
		free(sizes);
	} else if (argc == 6 && strcmp(argv[1], "start") == 0) {
		r = mirror_start(m, argv[2], argv[3], (unsigned)atoi(argv[4]),
				 strcmp(argv[5], "sync") == 0, done, NULL);
	} else if (argc == 3 && strcmp(argv[1], "promote") == 0) {
		r = mirror_promote(m, argv[2], done, NULL);
	} else {
		fprintf(stderr, "usage: hasvc-mirror prepare XMLFILE ADDR PORT SIZE... | start VM HOST PORT "
				"sync|async | promote VM\n");
		return 2;
	}
	if (r == 0)
		qb_loop_run(loop);
	mirror_free(m);
	qb_loop_destroy(loop);
	return result < 0 ? 1 : 0;
}
