// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of mirror_identity (issue 13, item 4): a backup image carries its
 * pair's identity as an extended attribute; a returned one is the one hasvc
 * left only if it carries the identity the cluster recorded. Real files in a
 * temporary directory of the build's filesystem (user xattrs: ext4, tmpfs).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mirror_internal.h"
#include "mirror_xml.h"

static char dir[] = "/tmp/hasvc-identity-XXXXXX";
static char path_a[128], path_b[128];
static struct mirror_disk disks[2];
static struct mirror_domain dom = {.name = "vm1",
				   .uuid = "11111111-2222-3333-4444-555555555555",
				   .disks = disks,
				   .n_disks = 2};

static void touch(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	close(fd);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path_a, sizeof(path_a), "%s/vda.qcow2", dir);
	snprintf(path_b, sizeof(path_b), "%s/vdb.raw", dir);
	touch(path_a);
	touch(path_b);
	disks[0] = (struct mirror_disk){.target = "vda", .source = path_a};
	disks[1] = (struct mirror_disk){.target = "vdb", .source = path_b};
}

static void teardown(void)
{
	unlink(path_a);
	unlink(path_b);
	rmdir(dir);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
}

TestSuite(identity, .init = setup, .fini = teardown);

static int check(const char *expected, const bool *created, char *why, size_t len)
{
	why[0] = '\0';
	return mirror__identity_check(&dom, created, expected, why, len);
}

static void mark(const char *token)
{
	struct request *r = mirror__request_new(NULL, NULL, NULL, NULL);

	cr_assert_eq(mirror__identity_mark(r, &dom, token), 0, "%s", r->message);
	mirror__request_free(r);
}

Test(identity, the_disks_left_are_the_same_and_a_new_mark_moves_on)
{
	char why[320];

	mark("aaaa1111");
	cr_assert_eq(check("aaaa1111", NULL, why, sizeof(why)), 1, "%s", why);
	mark("bbbb2222");
	cr_assert_eq(check("bbbb2222", NULL, why, sizeof(why)), 1, "%s", why);
	/* the earlier token is an earlier copy: this pair's own disk put back */
	cr_assert_eq(check("aaaa1111", NULL, why, sizeof(why)), 0);
	cr_assert_not_null(strstr(why, "is not the copy hasvc left (identity bbbb2222, expected aaaa1111)"),
			   "%s", why);
}

Test(identity, a_replaced_file_has_no_identity)
{
	char why[320];

	mark("aaaa1111");
	/* a restore that writes a new file and moves it into place */
	unlink(path_b);
	touch(path_b);
	cr_assert_eq(check("aaaa1111", NULL, why, sizeof(why)), 0);
	cr_assert_not_null(strstr(why, "vdb.raw carries no hasvc identity"), "%s", why);
}

Test(identity, another_vms_disk_is_named)
{
	const char *other = "99999999-8888-7777-6666-555555555555 aaaa1111";
	char why[320];

	mark("aaaa1111");
	cr_assert_eq(setxattr(path_a, "user.hasvc.disk", other, strlen(other), 0), 0);
	cr_assert_eq(check("aaaa1111", NULL, why, sizeof(why)), 0);
	cr_assert_not_null(strstr(why, "vda.qcow2 is another VM's backup disk (99999999-8888"),
			   "%s", why);
}

Test(identity, a_created_image_is_never_the_one_left)
{
	bool created[2] = {false, true};
	char why[320];

	mark("aaaa1111");
	cr_assert_eq(check("aaaa1111", created, why, sizeof(why)), 0);
	cr_assert_not_null(strstr(why, "vdb.raw was missing and is new"), "%s", why);
	/* nothing recorded (roles changed): trusted, but not a disk made now */
	cr_assert_eq(check(NULL, created, why, sizeof(why)), 0);
	cr_assert_not_null(strstr(why, "vdb.raw is new on this host"), "%s", why);
	cr_assert_eq(check(NULL, NULL, why, sizeof(why)), 1, "%s", why);
}

Test(identity, a_disk_that_cannot_carry_it_says_which)
{
	struct request *r = mirror__request_new(NULL, NULL, NULL, NULL);

	disks[1].source = "/nonexistent/hasvc/vdb.raw";
	cr_assert_lt(mirror__identity_mark(r, &dom, "aaaa1111"), 0);
	cr_assert_not_null(strstr(r->message, "cannot record the identity of /nonexistent/hasvc/vdb.raw"),
			   "%s", r->message);
	mirror__request_free(r);
}

/*
 * A filesystem without user xattrs (procfs here, as NFS without xattr
 * support would be): the mark answers -ENOTSUP, which the prepare takes as
 * "not recorded" (every return a full copy), and the check finds no identity.
 */
Test(identity, a_filesystem_without_xattrs_answers_enotsup_and_is_never_the_same)
{
	struct request *r = mirror__request_new(NULL, NULL, NULL, NULL);
	char why[320];

	disks[1].source = "/proc/self/comm";
	cr_assert_eq(mirror__identity_mark(r, &dom, "aaaa1111"), -ENOTSUP, "%s", r->message);
	mirror__request_free(r);
	cr_assert_eq(check("aaaa1111", NULL, why, sizeof(why)), 0);
	cr_assert_not_null(strstr(why, "the identity of /proc/self/comm cannot be read"), "%s", why);
}

/*
 * mirror_disk_watch: a process holding both images open holds "every disk";
 * an image replaced at its path (a new file moved over it) or removed is
 * named, though the process still holds the old file.
 */
Test(identity, a_disk_replaced_under_its_holder_is_named)
{
	char why[512] = "", fresh[160];
	int fa = open(path_a, O_RDWR), fb = open(path_b, O_RDWR);

	cr_assert(fa >= 0 && fb >= 0);
	cr_expect_eq(mirror__disks_held(getpid(), &dom, why, sizeof(why)), 1, "%s", why);
	snprintf(fresh, sizeof(fresh), "%s.restored", path_b);
	touch(fresh);
	cr_assert_eq(rename(fresh, path_b), 0);
	cr_expect_eq(mirror__disks_held(getpid(), &dom, why, sizeof(why)), 0);
	cr_expect_not_null(strstr(why, "vdb.raw was replaced while its QEMU ran"), "%s", why);
	unlink(path_a);
	cr_expect_eq(mirror__disks_held(getpid(), &dom, why, sizeof(why)), 0);
	cr_expect_not_null(strstr(why, "vda.qcow2 is gone"), "%s", why);
	touch(path_a);
	close(fa);
	close(fb);
}
