/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mirror_tls: where a host's replication certificates are and whether they
 * are fit to use (mirror_tls.c). No libvirt here: what the backup's QEMU is
 * told to do with them is in mirror_backup.c, the primary's in mirror_copy.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define MIRROR_TLS_QEMU_CONF "/etc/libvirt/qemu.conf"

/*
 * The directory libvirt's QEMU driver takes NBD certificates from, as
 * qemu.conf's TEXT sets it: nbd_tls_x509_cert_dir, else
 * default_tls_x509_cert_dir (the last assignment of each wins, as in
 * libvirt's parser). 1 and *RET when one is set, 0 when none is, -EINVAL
 * when the value does not fit in LEN.
 */
int mirror_tls_conf_dir(const char *text, char *ret, size_t len);

/*
 * The TLS directory to use: DIR when given, else qemu.conf's at CONF_PATH
 * (mirror_tls_conf_dir), else MIRROR_TLS_DIR_DEFAULT.
 */
void mirror_tls_dir_resolve(const char *dir, const char *conf_path, char *ret, size_t len);

/* TLS is on by itself (MIRROR_TLS_AUTO) when DIR holds the CA's certificate. */
bool mirror_tls_present(const char *dir);

/*
 * Checks DIR/CERT (and its key KEY) the way the other side will: present,
 * within its validity, signed by DIR/ca-cert.pem. On success *RET_DN (when
 * given) is its subject as QEMU reads a peer's (gnutls_x509_crt_get_dn:
 * "CN=node1"). On failure MSG says what is wrong and what to run, and the
 * result is -ENOENT (a missing file), -EKEYEXPIRED (expired or not yet
 * valid), -EKEYREJECTED (not signed by the CA) or -EINVAL (unreadable).
 */
int mirror_tls_cert_check(const char *dir, const char *cert, const char *key, char *ret_dn,
			  size_t dn_len, char *msg, size_t msg_len);
