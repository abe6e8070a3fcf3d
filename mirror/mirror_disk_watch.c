// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_disk_watch: is the backup's QEMU still writing the files at its
 * disks' paths?
 *
 * A QEMU holds its images open. An image replaced at its path while the
 * backup runs (a restore moved into place, a copy put back: issue 13, item
 * 4) leaves the QEMU writing the old file, unlinked, while the path holds
 * another. Everything looks in step (the primary's writes reach the old
 * file), until the backup's QEMU stops: a promoted VM restarted there, or
 * the next preparation, opens the path and finds other data. The identity
 * attribute (mirror_identity.c) is checked when QEMU opens the images; this
 * check covers the time after: the backup host compares, for every mirrored
 * disk, the file at the path with the files the QEMU holds open (stat of
 * /proc/PID/fd/N follows to the open file, unlinked or not).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mirror.h"
#include "mirror_internal.h"
#include "mirror_sockets.h"
#include "mirror_xml.h"

#define OPEN_FILES_MAX 512

struct open_file {
	dev_t dev;
	ino_t ino;
};

/* The (device, inode) of every regular file and block device PID holds open, up to MAX. */
static int open_files(pid_t pid, struct open_file *files, size_t max, size_t *ret_n)
{
	char dir[64], path[320];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) && n < max) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
			files[n++] = (struct open_file){.dev = st.st_dev, .ino = st.st_ino};
	}
	closedir(d);
	*ret_n = n;
	return 0;
}

int mirror__disks_held(pid_t pid, const struct mirror_domain *dom, char *why, size_t len)
{
	struct open_file files[OPEN_FILES_MAX];
	size_t n = 0;
	int r = open_files(pid, files, OPEN_FILES_MAX, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < dom->n_disks; i++) {
		const char *source = dom->disks[i].source;
		struct stat st;
		bool held = false;

		if (stat(source, &st) < 0) {
			snprintf(why, len, "the backup image %s is gone while its QEMU runs on it",
				 source);
			return 0;
		}
		for (size_t k = 0; k < n && !held; k++)
			held = files[k].dev == st.st_dev && files[k].ino == st.st_ino;
		if (!held) {
			snprintf(why, len,
				 "the backup image %s was replaced while its QEMU ran: the QEMU "
				 "writes a file that is no longer at that path",
				 source);
			return 0;
		}
	}
	return 1;
}

int mirror_backup_disks_replaced(const char *primary_xml, pid_t *qemu_pid, char *why,
				 size_t len)
{
	struct mirror_domain *dom = NULL;
	char *error = NULL;
	int r;

	if (mirror_domain_parse(primary_xml, &dom, &error) < 0) {
		free(error);
		return -EINVAL;
	}
	r = mirror_sockets_qemu_pid(dom->name, qemu_pid);
	if (r >= 0)
		r = mirror__disks_held(*qemu_pid, dom, why, len);
	mirror_domain_free(dom);
	if (r < 0)
		return r;
	return r == 0 ? 1 : 0;
}
