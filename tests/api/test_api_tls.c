// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of hs__api_tls_load: the TCP API's certificate and key are taken
 * only when GnuTLS can serve them, and every way an operator can get them
 * wrong (a missing file, an expired certificate, another certificate's key,
 * a file that is not PEM) is refused at start-up with its own -errno.
 * The certificates are made by deploy/hasvc-certs, as an operator makes them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_api_internal.h"

static char dir[] = "/tmp/hasvc-test-tls-XXXXXX";

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	cr_assert(n > 0);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
	free(cmd);
}

static void setup(void)
{
	const char *data = getenv("HASVC_TEST_DATA");

	cr_assert_not_null(data, "HASVC_TEST_DATA is not set");
	cr_assert_not_null(mkdtemp(dir));
	run("%s/../../deploy/hasvc-certs ca %s/ca >/dev/null", data, dir);
	run("%s/../../deploy/hasvc-certs host %s/ca node1 127.0.0.1 --out %s/good >/dev/null",
	    data, dir, dir);
	run("%s/../../deploy/hasvc-certs host %s/ca node1 127.0.0.1 --expired --out %s/old "
	    ">/dev/null", data, dir, dir);
	run("echo 'not a certificate' >%s/text.pem", dir);
}

static void teardown(void)
{
	run("rm -rf %s", dir);
	strcpy(dir, "/tmp/hasvc-test-tls-XXXXXX");
}

TestSuite(api_tls, .init = setup, .fini = teardown);

/* hs__api_tls_load on DIR/CERT and DIR/KEY; a good pair is checked and freed. */
static int load(const char *cert, const char *key)
{
	char cert_path[256], key_path[256];
	char *cert_pem = NULL, *key_pem = NULL;
	int r;

	snprintf(cert_path, sizeof(cert_path), "%s/%s", dir, cert);
	snprintf(key_path, sizeof(key_path), "%s/%s", dir, key);
	r = hs__api_tls_load(cert_path, key_path, &cert_pem, &key_pem);
	if (r == 0) {
		cr_assert(strstr(cert_pem, "-----BEGIN CERTIFICATE-----"));
		cr_assert(strstr(key_pem, "PRIVATE KEY-----"));
	} else {
		cr_assert_null(cert_pem, "written on failure");
		cr_assert_null(key_pem, "written on failure");
	}
	free(cert_pem);
	free(key_pem);
	return r;
}

Test(api_tls, a_host_certificate_of_the_cluster_ca_is_taken)
{
	cr_assert_eq(load("good/server-cert.pem", "good/server-key.pem"), 0);
}

Test(api_tls, a_missing_file_is_refused)
{
	cr_assert_eq(load("good/nosuch.pem", "good/server-key.pem"), -ENOENT);
	cr_assert_eq(load("good/server-cert.pem", "good/nosuch.pem"), -ENOENT);
}

Test(api_tls, an_expired_certificate_is_refused)
{
	cr_assert_eq(load("old/server-cert.pem", "old/server-key.pem"), -EKEYEXPIRED);
}

Test(api_tls, another_certificates_key_is_refused)
{
	cr_assert_eq(load("good/server-cert.pem", "old/server-key.pem"), -EINVAL);
}

Test(api_tls, a_file_that_is_not_pem_is_refused)
{
	cr_assert_eq(load("text.pem", "good/server-key.pem"), -EINVAL);
	cr_assert_eq(load("good/server-cert.pem", "text.pem"), -EINVAL);
}
