// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of mirror_tls: the TLS directory both ends of a mirror use is the
 * one libvirt's qemu.conf names for NBD (nbd_tls_x509_cert_dir, else
 * default_tls_x509_cert_dir, else /etc/pki/qemu), and a missing certificate
 * is named.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mirror.h"
#include "mirror_tls.h"

Test(mirror_tls, nbd_dir_before_default_dir)
{
	char dir[256];

	cr_assert_eq(mirror_tls_conf_dir("default_tls_x509_cert_dir = \"/etc/pki/x\"\n"
					 "  nbd_tls_x509_cert_dir=\"/etc/hasvc/pki\"\n",
					 dir, sizeof(dir)),
		     1);
	cr_assert_str_eq(dir, "/etc/hasvc/pki");
	cr_assert_eq(
	    mirror_tls_conf_dir("default_tls_x509_cert_dir = \"/etc/pki/x\"", dir, sizeof(dir)), 1);
	cr_assert_str_eq(dir, "/etc/pki/x");
}

Test(mirror_tls, comments_and_other_keys_are_not_settings)
{
	char dir[256] = "unchanged";

	cr_assert_eq(mirror_tls_conf_dir("#nbd_tls_x509_cert_dir = \"/etc/pki/libvirt-nbd\"\n"
					 "vnc_tls_x509_cert_dir = \"/etc/pki/vnc\"\n"
					 "nbd_tls_x509_cert_dir_x = \"/nope\"\n"
					 "nbd_tls = 1\n",
					 dir, sizeof(dir)),
		     0);
	cr_assert_str_eq(dir, "unchanged");
}

Test(mirror_tls, last_assignment_wins_and_too_long_is_an_error)
{
	char dir[8];

	cr_assert_eq(mirror_tls_conf_dir("nbd_tls_x509_cert_dir = \"/a\"\n"
					 "nbd_tls_x509_cert_dir = \"/b\"\n",
					 dir, sizeof(dir)),
		     1);
	cr_assert_str_eq(dir, "/b");
	cr_assert_eq(
	    mirror_tls_conf_dir("nbd_tls_x509_cert_dir = \"/a/long/path\"\n", dir, sizeof(dir)),
	    -EINVAL);
}

Test(mirror_tls, resolve_prefers_the_given_dir_then_qemu_conf_then_the_default)
{
	char path[] = "/tmp/hasvc-test-qemu-conf-XXXXXX", dir[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs("nbd_tls_x509_cert_dir = \"/etc/hasvc/pki\"\n", f);
	fclose(f);
	mirror_tls_dir_resolve("/given", path, dir, sizeof(dir));
	cr_assert_str_eq(dir, "/given");
	mirror_tls_dir_resolve(NULL, path, dir, sizeof(dir));
	cr_assert_str_eq(dir, "/etc/hasvc/pki");
	mirror_tls_dir_resolve(NULL, "/nonexistent/qemu.conf", dir, sizeof(dir));
	cr_assert_str_eq(dir, MIRROR_TLS_DIR_DEFAULT);
	unlink(path);
}

Test(mirror_tls, a_missing_file_is_named)
{
	char msg[512];

	cr_assert_not(mirror_tls_present("/nonexistent"));
	cr_assert_eq(mirror_tls_cert_check("/nonexistent", "client-cert.pem", "client-key.pem",
					   NULL, 0, msg, sizeof(msg)),
		     -ENOENT);
	cr_assert(strstr(msg, "/nonexistent/client-key.pem is missing"), "%s", msg);
}
