/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_state_apply: every replicated change message as state/ decodes and
 * applies it. A message from another host crosses a trust boundary: a
 * corrupted or hostile one must be refused, never crash, and never
 * half-apply. The input is one or more messages separated by NUL bytes,
 * applied in order to one store (so a fuzzer can build a node, then a pair,
 * then mutate the pair's updates). After every refused message the digest
 * must be what it was before: a refusal changes nothing, which is the
 * property every host's identical state rests on.
 *
 * The store lives in a scratch directory for the whole run and is started
 * afresh every RESET_EVERY inputs, so states do not pile up without bound.
 * The digest before a message is the one after the last refused message,
 * when there was one: the refusal was just checked to have changed nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "sdb.h"
#include "sdb_msg.h"

#define RESET_EVERY 2000

static struct sdb *db;
static char path[64];
static unsigned runs;
static char before[65];
static bool before_known;

static void store_reset(void)
{
	char *err = NULL;
	char wal[80], shm[80];

	sdb_close(db);
	db = NULL;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);
	if (sdb_open(path, &db, &err) < 0) {
		fprintf(stderr, "fuzz_state_apply: cannot open %s: %s\n", path, err ? err : "?");
		abort();
	}
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;

	if (!db || ++runs % RESET_EVERY == 0) {
		if (!path[0])
			snprintf(path, sizeof(path), "/dev/shm/hasvc-fuzz-state.%d.db", (int)getpid());
		store_reset();
		before_known = false;
	}
	while (p < end) {
		const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
		size_t len = (size_t)((nul ? nul : end) - p);
		char after[65];
		int r;

		if (!before_known && sdb_digest(db, before) < 0)
			abort();
		r = sdb_apply(db, 2, p, len);
		before_known = false;
		if (r < 0) {
			if (!sdb_apply_refused(r))
				abort(); /* a local failure on a scratch store: a bug here */
			if (sdb_digest(db, after) < 0 || strcmp(before, after) != 0)
				abort(); /* a refused change left something behind */
			before_known = true;
		}
		p += len + (nul ? 1 : 0);
	}
	return 0;
}
