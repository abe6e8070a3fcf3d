/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_corosync_crypto: whether the local corosync authenticates and encrypts
 * its links, read from its cmap (totem.crypto_cipher, totem.crypto_hash).
 * Without them anyone on the cluster network can inject CPG messages: pair
 * transitions, fence results. hasvcd says so, loudly, every time it joins.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * The cipher and hash corosync runs with ("none" when unset, as corosync
 * defaults). -errno when cmap cannot be read.
 */
int hs_corosync_crypto_get(char *cipher, size_t cipher_size, char *hash, size_t hash_size);
/* Logs a warning when corosync runs without cipher or hash; true when it does. */
bool hs_corosync_crypto_warn(void);
