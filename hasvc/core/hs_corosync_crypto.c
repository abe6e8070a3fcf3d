// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_corosync_crypto: read totem.crypto_cipher and totem.crypto_hash from
 * corosync's cmap (see hs_corosync_crypto.h). corosync leaves a key unset
 * when corosync.conf does not name it, which means "none".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corosync/cmap.h>
#include <qb/qblog.h>

#include "hs_corosync_crypto.h"

static void key_get(cmap_handle_t h, const char *key, char *buf, size_t size)
{
	char *value = NULL;

	if (cmap_get_string(h, key, &value) == CS_OK && value && *value)
		snprintf(buf, size, "%s", value);
	else
		snprintf(buf, size, "none");
	free(value);
}

int hs_corosync_crypto_get(char *cipher, size_t cipher_size, char *hash, size_t hash_size)
{
	cmap_handle_t h;

	if (cmap_initialize(&h) != CS_OK)
		return -ECONNREFUSED;
	key_get(h, "totem.crypto_cipher", cipher, cipher_size);
	key_get(h, "totem.crypto_hash", hash, hash_size);
	cmap_finalize(h);
	return 0;
}

bool hs_corosync_crypto_warn(void)
{
	char cipher[32], hash[32];

	if (hs_corosync_crypto_get(cipher, sizeof(cipher), hash, sizeof(hash)) < 0)
		return false; /* not reachable now: the join that follows will tell */
	if (strcmp(cipher, "none") != 0 && strcmp(hash, "none") != 0)
		return false;
	qb_log(LOG_WARNING,
	       "corosync runs without crypto (crypto_cipher %s, crypto_hash %s): anyone on the "
	       "cluster network can inject cluster messages (pair transitions, fence results); "
	       "set crypto_cipher and crypto_hash in corosync.conf with an authkey on every host "
	       "(docs/install.md)",
	       cipher, hash);
	return true;
}
