/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mirror_verify: an online verify's compare, chunk by chunk, of two readers
 * of one disk as the guest sees it (mirror_verify_compare.c), and its ranges.
 * No libvirt and no NBD here: mirror_verify.c gives it the two sides (the
 * primary's read-only export and the backup's), tests give it fakes.
 *
 * A chunk that differs is read again on both sides, up to RECHECKS times,
 * WAIT_MS apart (all such chunks of a compare together, one wait per round): a guest write in flight during the read (on the primary,
 * not yet acknowledged, so not yet required on the backup) makes a chunk
 * differ for a moment; in sync mode it is on both before it completes, so a
 * chunk that still differs after the rechecks is out of sync.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One side: reads LEN bytes at OFFSET into BUF; 0 or -errno. */
struct mirror_verify_side {
	int (*read)(void *ctx, void *buf, size_t len, uint64_t offset);
	int (*write)(void *ctx, const void *buf, size_t len, uint64_t offset); /* backup: repair */
	void *ctx;
};

/* A range out of sync of one disk (adjacent differing chunks merged). */
struct mirror_verify_range {
	uint64_t offset, length;
};

struct mirror_verify_ranges {
	struct mirror_verify_range *v;
	size_t n, cap;
};

/* What one disk's compare did. */
struct mirror_verify_count {
	uint64_t bytes;     /* compared */
	uint64_t rechecked; /* chunks read again because they differed once */
};

#define MIRROR_VERIFY_CHUNK (1u << 20)
#define MIRROR_VERIFY_RECHECKS 5
#define MIRROR_VERIFY_WAIT_MS 200
/* Bytes repaired per pause of the guest at most: a pause stays short. */
#define MIRROR_VERIFY_PAUSE_BATCH (64u << 20)

/*
 * Compares LENGTH bytes from OFFSET of PRIMARY and BACKUP in CHUNK bytes; the chunks that
 * still differ after RECHECKS reads WAIT_MS apart are appended to RANGES
 * (merged when adjacent). 0, or the first read error (-errno).
 */
int mirror_verify_compare(const struct mirror_verify_side *primary,
			  const struct mirror_verify_side *backup, uint64_t offset, uint64_t length,
			  size_t chunk, unsigned rechecks, unsigned wait_ms, struct mirror_verify_ranges *ranges,
			  struct mirror_verify_count *count);

/*
 * Copies RANGE from PRIMARY to BACKUP (BACKUP->write), CHUNK bytes at a
 * time; 0 or -errno. The caller holds the guest's writes (paused) meanwhile.
 */
int mirror_verify_copy(const struct mirror_verify_side *primary,
		       const struct mirror_verify_side *backup, const struct mirror_verify_range *range,
		       size_t chunk);

/* Appends [OFFSET, OFFSET+LENGTH) to RANGES, merged into the last when adjacent; -ENOMEM. */
int mirror_verify_range_add(struct mirror_verify_ranges *ranges, uint64_t offset, uint64_t length);
void mirror_verify_ranges_free(struct mirror_verify_ranges *ranges);
/* The total length of RANGES. */
uint64_t mirror_verify_ranges_bytes(const struct mirror_verify_ranges *ranges);
