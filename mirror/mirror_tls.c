// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_tls: the certificates of secured replication (docs/security.md).
 *
 * Both ends read one directory, in the layout of QEMU's tls-creds-x509
 * (ca-cert.pem, server-cert.pem/-key.pem, client-cert.pem/-key.pem; made by
 * deploy/hasvc-certs). On the primary it is libvirt that gives QEMU the
 * client's certificate for the block copy target, from qemu.conf's
 * nbd_tls_x509_cert_dir (else default_tls_x509_cert_dir, else /etc/pki/qemu),
 * so the backup takes its server's from the same place by default: one
 * directory per host, named once, in libvirt's own configuration.
 *
 * The certificates are checked here before QEMU is given them, because
 * QEMU's word for a bad one comes late and from the other end (the backup's
 * QEMU drops the primary's connection; the primary sees "TLS handshake
 * failed"). What can be known locally is said locally: the file that is
 * missing, the date it expired, that it is not signed by this host's CA.
 * The subject is read with gnutls_x509_crt_get_dn(), the call QEMU's TLS
 * session makes for the peer's name its authz objects match.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-c/json.h>

#include "mirror.h"
#include "mirror_internal.h"
#include "mirror_tls.h"

/* VALUE of `KEY = "VALUE"` on LINE (up to END), or NULL. */
static const char *conf_value(const char *line, const char *end, const char *key, size_t *ret_len)
{
	size_t klen = strlen(key);
	const char *p = line, *q;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) <= klen || strncmp(p, key, klen) != 0)
		return NULL;
	p += klen;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p++ != '=')
		return NULL;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p++ != '"')
		return NULL;
	q = memchr(p, '"', (size_t)(end - p));
	if (!q)
		return NULL;
	*ret_len = (size_t)(q - p);
	return p;
}

int mirror_tls_conf_dir(const char *text, char *ret, size_t len)
{
	static const char *const keys[] = {"nbd_tls_x509_cert_dir", "default_tls_x509_cert_dir"};

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *found = NULL;
		size_t found_len = 0;

		for (const char *line = text; line && *line;) {
			const char *end = strchr(line, '\n'), *v;
			size_t vlen;

			if (!end)
				end = line + strlen(line);
			v = conf_value(line, end, keys[k], &vlen);
			if (v) {
				found = v;
				found_len = vlen;
			}
			line = *end ? end + 1 : end;
		}
		if (found) {
			if (found_len == 0 || found_len >= len)
				return -EINVAL;
			memcpy(ret, found, found_len);
			ret[found_len] = '\0';
			return 1;
		}
	}
	return 0;
}

void mirror_tls_dir_resolve(const char *dir, const char *conf_path, char *ret, size_t len)
{
	FILE *f;
	char *text = NULL;
	size_t n = 0;

	snprintf(ret, len, "%s", dir ? dir : MIRROR_TLS_DIR_DEFAULT);
	if (dir || !conf_path || !(f = fopen(conf_path, "re")))
		return;
	if (getdelim(&text, &n, '\0', f) >= 0 && mirror_tls_conf_dir(text, ret, len) <= 0)
		snprintf(ret, len, "%s", MIRROR_TLS_DIR_DEFAULT);
	free(text);
	fclose(f);
}

bool mirror_tls_present(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/ca-cert.pem", dir);
	return access(path, F_OK) == 0;
}

static int cert_load(const char *path, gnutls_x509_crt_t *ret, char *msg, size_t msg_len)
{
	gnutls_datum_t data = {0};
	gnutls_x509_crt_t crt;
	int r;

	if (access(path, F_OK) < 0) {
		snprintf(msg, msg_len, "%s is missing (deploy/hasvc-certs host makes it)", path);
		return -ENOENT;
	}
	r = gnutls_load_file(path, &data);
	if (r < 0) {
		snprintf(msg, msg_len, "cannot read %s: %s", path, gnutls_strerror(r));
		return -EINVAL;
	}
	r = gnutls_x509_crt_init(&crt);
	if (r >= 0) {
		r = gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM);
		if (r < 0)
			gnutls_x509_crt_deinit(crt);
	}
	gnutls_free(data.data);
	if (r < 0) {
		snprintf(msg, msg_len, "%s is not a PEM certificate: %s", path, gnutls_strerror(r));
		return -EINVAL;
	}
	*ret = crt;
	return 0;
}

static const char *date_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
	return buf;
}

int mirror_tls_cert_check(const char *dir, const char *cert, const char *key, char *ret_dn,
			  size_t dn_len, char *msg, size_t msg_len)
{
	char path[4096], ca_path[4096], when[64];
	gnutls_x509_crt_t crt = NULL, ca = NULL;
	time_t now = time(NULL), t;
	unsigned status = 0;
	size_t size = dn_len;
	int r;

	snprintf(ca_path, sizeof(ca_path), "%s/ca-cert.pem", dir);
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (access(path, F_OK) < 0) {
		snprintf(msg, msg_len, "%s is missing (deploy/hasvc-certs host makes it)", path);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, cert);
	if ((r = cert_load(ca_path, &ca, msg, msg_len)) < 0 ||
	    (r = cert_load(path, &crt, msg, msg_len)) < 0)
		goto out;
	if ((t = gnutls_x509_crt_get_expiration_time(crt)) != (time_t)-1 && t <= now) {
		snprintf(msg, msg_len, "%s expired on %s", path, date_utc(t, when, sizeof(when)));
		r = -EKEYEXPIRED;
		goto out;
	}
	if ((t = gnutls_x509_crt_get_activation_time(crt)) != (time_t)-1 && t > now) {
		snprintf(msg, msg_len, "%s is not valid before %s", path,
			 date_utc(t, when, sizeof(when)));
		r = -EKEYEXPIRED;
		goto out;
	}
	if ((t = gnutls_x509_crt_get_expiration_time(ca)) != (time_t)-1 && t <= now) {
		snprintf(msg, msg_len, "%s (the CA) expired on %s", ca_path,
			 date_utc(t, when, sizeof(when)));
		r = -EKEYEXPIRED;
		goto out;
	}
	r = gnutls_x509_crt_verify(crt, &ca, 1, GNUTLS_VERIFY_DISABLE_TIME_CHECKS, &status);
	if (r < 0 || status != 0) {
		snprintf(msg, msg_len, "%s is not signed by the CA in %s", path, ca_path);
		r = -EKEYREJECTED;
		goto out;
	}
	if (ret_dn && gnutls_x509_crt_get_dn(crt, ret_dn, &size) < 0) {
		snprintf(msg, msg_len, "cannot read the subject of %s", path);
		r = -EINVAL;
		goto out;
	}
	r = 0;
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	return r;
}

int mirror__tls_for(struct request *r, char *ret, size_t len)
{
	if (r->tls_mode == MIRROR_TLS_OFF)
		return 0;
	mirror_tls_dir_resolve(r->tls_dir, MIRROR_TLS_QEMU_CONF, ret, len);
	if (mirror_tls_present(ret))
		return 1;
	if (r->tls_mode == MIRROR_TLS_ON)
		return mirror__say(r, -ENOENT,
				   "TLS is required but %s/ca-cert.pem is missing "
				   "(deploy/hasvc-certs, docs/security.md)",
				   ret);
	return 0;
}

/* An authz-list rule letting DN in (QEMU matches the peer's whole DN, "exact"). */
static json_object *authz_rule(const char *dn)
{
	json_object *rule = json_object_new_object();

	json_object_object_add(rule, "match", json_object_new_string(dn));
	json_object_object_add(rule, "policy", json_object_new_string("allow"));
	json_object_object_add(rule, "format", json_object_new_string("exact"));
	return rule;
}

int mirror__tls_export(struct request *r, char *dir, size_t len, json_object **ret_rules)
{
	char self[512] = "", msg[MIRROR_MSG_MAX];
	json_object *rules;
	int tls = mirror__tls_for(r, dir, len), e;

	*ret_rules = NULL;
	if (tls <= 0)
		return tls;
	e = mirror_tls_cert_check(dir, "server-cert.pem", "server-key.pem", NULL, 0, msg,
				  sizeof(msg));
	if (e < 0)
		return mirror__say(r, e, "cannot export over TLS: %s", msg);
	if (!r->peer)
		return 1;
	/* Our own client certificate (an operator reading the export here); optional. */
	if (mirror_tls_cert_check(dir, "client-cert.pem", "client-key.pem", self, sizeof(self),
				  msg, sizeof(msg)) < 0)
		self[0] = '\0';
	rules = json_object_new_array();
	snprintf(msg, sizeof(msg), "CN=%s", r->peer);
	json_object_array_add(rules, authz_rule(msg));
	if (self[0] && strcmp(self, msg) != 0)
		json_object_array_add(rules, authz_rule(self));
	*ret_rules = rules;
	return 1;
}
