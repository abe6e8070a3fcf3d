// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_identity: is a returned backup's disk the one hasvc left there?
 * (issue 13, item 4; docs/pairs.md, "The backup disk's identity")
 *
 * A primary resumes its paused jobs into a backup that comes back, and only
 * the ranges written meanwhile travel: right only if the backup's images are
 * the very ones those jobs wrote before. Each backup image carries, as the
 * extended attribute user.hasvc.disk, "<domain uuid> <token>": the token of
 * the prepare that last made it this pair's backup, which the cluster
 * records with the pair (pairs.backup_disk_id). The next prepare reads it
 * before the image is opened and compares; then writes its own token.
 *
 * What it catches: an image replaced by another file (a restore from a
 * backup tool, qemu-img convert, a copy moved into place: a new inode has no
 * attribute or an older token), another VM's disk (another uuid), this
 * pair's own earlier copy put back (an older token). What it cannot: the same
 * file written in place (dd, qemu-io, a guest booted on it by hand): the
 * attribute stays, and nothing in a raw image could tell. An attribute that
 * cannot be written (a filesystem without user xattrs: -ENOTSUP) makes every
 * later return a full copy: never wrong, only slower; the prepare says so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include "mirror_internal.h"
#include "mirror_xml.h"

#define IDENTITY_XATTR "user.hasvc.disk"
#define IDENTITY_MAX 256

int mirror__identity_check(const struct mirror_domain *dom, const bool *created,
			   const char *expected, char *why, size_t len)
{
	char want[IDENTITY_MAX], have[IDENTITY_MAX];

	snprintf(want, sizeof(want), "%s %s", dom->uuid ? dom->uuid : "-", expected ? expected : "");
	for (size_t i = 0; i < dom->n_disks; i++) {
		const struct mirror_disk *d = &dom->disks[i];
		ssize_t n;

		if (created && created[i]) {
			/* nothing recorded: a backup on a new host, not a disk gone */
			snprintf(why, len, expected ? "%s was missing and is new" : "%s is new on this host",
				 d->source);
			return 0;
		}
		/*
		 * Nothing recorded: the primary or the backup changed since the
		 * last prepare (a live switchover's reverse pair: the disks are
		 * equal by construction; after a failover or onto another host
		 * there is no job to resume anyway), or a hasvcd before schema 9
		 * prepared it. Trusted, as before this check existed.
		 */
		if (!expected)
			continue;
		n = getxattr(d->source, IDENTITY_XATTR, have, sizeof(have) - 1);
		if (n < 0) {
			if (errno == ENODATA)
				snprintf(why, len, "%s carries no hasvc identity: replaced, or never this backup",
					 d->source);
			else
				snprintf(why, len, "the identity of %s cannot be read: %s", d->source,
					 strerror(errno));
			return 0;
		}
		have[n] = '\0';
		if (strcmp(have, want) == 0)
			continue;
		if (strncmp(have, want, strcspn(want, " ") + 1) != 0)
			snprintf(why, len, "%s is another VM's backup disk (%.*s)", d->source,
				 (int)strcspn(have, " "), have);
		else
			snprintf(why, len,
				 "%s is not the copy hasvc left (identity %.8s, expected %.8s): restored or replaced",
				 d->source, have + strcspn(have, " ") + 1, expected);
		return 0;
	}
	return 1;
}

int mirror__identity_mark(struct request *r, const struct mirror_domain *dom, const char *token)
{
	char value[IDENTITY_MAX];

	snprintf(value, sizeof(value), "%s %s", dom->uuid ? dom->uuid : "-", token);
	for (size_t i = 0; i < dom->n_disks; i++)
		if (setxattr(dom->disks[i].source, IDENTITY_XATTR, value, strlen(value), 0) < 0)
			return mirror__say(r, -errno,
					   "cannot record the identity of %s (%s %s): %s",
					   dom->disks[i].source, IDENTITY_XATTR, value,
					   strerror(errno));
	return 0;
}
