// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of mirror_verify_compare against fake sides of a disk held in
 * memory: equal sides report nothing; a difference is reported in whole
 * chunks, adjacent ones merged, a short last chunk as it is; a difference
 * that a write in flight makes for a moment (gone by a recheck) is not
 * reported, one that outlasts every recheck is; a read error ends the
 * compare; the repair's copy makes the backup equal on exactly the range.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mirror_verify.h"

#define CHUNK 4096
#define SIZE (10 * CHUNK + 100) /* a short last chunk */

struct fake_disk {
	unsigned char bytes[SIZE];
	unsigned reads;
	/* a write in flight: BYTES at HEAL_AT differ until HEAL_AFTER more reads */
	size_t heal_at;
	unsigned heal_after;
	unsigned char heal_value;
	int fail_at_read; /* 1-based: that read fails (-EIO); 0 never */
};

static int fake_read(void *ctx, void *buf, size_t len, uint64_t offset)
{
	struct fake_disk *d = ctx;

	cr_assert_leq(offset + len, SIZE);
	if (++d->reads == (unsigned)d->fail_at_read)
		return -EIO;
	if (d->heal_after && --d->heal_after == 0)
		d->bytes[d->heal_at] = d->heal_value;
	memcpy(buf, d->bytes + offset, len);
	return 0;
}

static int fake_write(void *ctx, const void *buf, size_t len, uint64_t offset)
{
	struct fake_disk *d = ctx;

	cr_assert_leq(offset + len, SIZE);
	memcpy(d->bytes + offset, buf, len);
	return 0;
}

static struct fake_disk primary, backup;
static struct mirror_verify_side p = {.read = fake_read, .ctx = &primary};
static struct mirror_verify_side b = {.read = fake_read, .write = fake_write, .ctx = &backup};
static struct mirror_verify_ranges ranges;
static struct mirror_verify_count count;

static void setup(void)
{
	memset(&primary, 0, sizeof(primary));
	for (size_t i = 0; i < SIZE; i++)
		primary.bytes[i] = (unsigned char)(i * 7);
	backup = primary;
	ranges = (struct mirror_verify_ranges){0};
}

static void teardown(void)
{
	mirror_verify_ranges_free(&ranges);
}

static int compare_all(unsigned rechecks)
{
	return mirror_verify_compare(&p, &b, 0, SIZE, CHUNK, rechecks, 0, &ranges, &count);
}

TestSuite(mirror_verify, .init = setup, .fini = teardown);

Test(mirror_verify, equal_sides_report_nothing)
{
	cr_assert_eq(compare_all(3), 0);
	cr_assert_eq(ranges.n, 0);
	cr_assert_eq(count.bytes, SIZE);
	cr_assert_eq(count.rechecked, 0);
}

Test(mirror_verify, differences_are_whole_chunks_adjacent_ones_merged)
{
	backup.bytes[2 * CHUNK + 5] ^= 1; /* chunk 2 */
	backup.bytes[3 * CHUNK] ^= 1;     /* chunk 3: adjacent, merged */
	backup.bytes[7 * CHUNK + 9] ^= 1; /* chunk 7 */
	backup.bytes[SIZE - 1] ^= 1;      /* the short last chunk */
	cr_assert_eq(compare_all(2), 0);
	cr_assert_eq(ranges.n, 3);
	cr_assert_eq(ranges.v[0].offset, 2 * CHUNK);
	cr_assert_eq(ranges.v[0].length, 2 * CHUNK);
	cr_assert_eq(ranges.v[1].offset, 7 * CHUNK);
	cr_assert_eq(ranges.v[1].length, CHUNK);
	cr_assert_eq(ranges.v[2].offset, 10 * CHUNK);
	cr_assert_eq(ranges.v[2].length, 100);
	cr_assert_eq(mirror_verify_ranges_bytes(&ranges), 3 * CHUNK + 100);
	cr_assert_eq(count.rechecked, 4 * 2, "each differing chunk read again twice");
}

Test(mirror_verify, a_write_in_flight_that_lands_before_the_last_recheck_is_not_reported)
{
	/* the primary has the write, the backup gets it 3 reads later */
	primary.bytes[4 * CHUNK + 1] = 0xee;
	backup.heal_at = 4 * CHUNK + 1;
	backup.heal_value = 0xee;
	backup.heal_after = 11 + 2; /* differs in the pass (11 reads) and its 1st recheck, healed at the 2nd */
	cr_assert_eq(compare_all(3), 0);
	cr_assert_eq(ranges.n, 0, "a difference that went away is no fault");
	cr_assert_eq(count.rechecked, 2);
}

Test(mirror_verify, a_difference_that_outlasts_the_rechecks_is_reported)
{
	primary.bytes[4 * CHUNK + 1] = 0xee;
	backup.heal_at = 4 * CHUNK + 1;
	backup.heal_value = 0xee;
	backup.heal_after = 11 + 3 + 1; /* healed only after the pass and 3 rechecks */
	cr_assert_eq(compare_all(3), 0);
	cr_assert_eq(ranges.n, 1);
	cr_assert_eq(ranges.v[0].offset, 4 * CHUNK);
	cr_assert_eq(count.rechecked, 3);
}

Test(mirror_verify, a_read_error_ends_the_compare)
{
	backup.fail_at_read = 3;
	cr_assert_eq(compare_all(3), -EIO);
	cr_assert_eq(count.bytes, 2 * CHUNK, "the chunks before the error were compared");
}

Test(mirror_verify, a_part_of_the_disk_is_compared_alone)
{
	backup.bytes[1 * CHUNK] ^= 1;
	backup.bytes[6 * CHUNK] ^= 1;
	cr_assert_eq(mirror_verify_compare(&p, &b, 5 * CHUNK, 2 * CHUNK, CHUNK, 0, 0, &ranges,
					   &count),
		     0);
	cr_assert_eq(count.bytes, 2 * CHUNK);
	cr_assert_eq(ranges.n, 1);
	cr_assert_eq(ranges.v[0].offset, 6 * CHUNK);
}

Test(mirror_verify, the_copy_repairs_exactly_the_range)
{
	struct mirror_verify_range r = {.offset = 3 * CHUNK, .length = 2 * CHUNK + 10};

	memset(backup.bytes, 0, SIZE);
	cr_assert_eq(mirror_verify_copy(&p, &b, &r, CHUNK), 0);
	cr_assert_eq(memcmp(backup.bytes + r.offset, primary.bytes + r.offset, r.length), 0);
	for (size_t i = 0; i < SIZE; i++)
		if (i < r.offset || i >= r.offset + r.length)
			cr_assert_eq(backup.bytes[i], 0, "byte %zu outside the range was written", i);
}

Test(mirror_verify, ranges_merge_only_when_adjacent)
{
	cr_assert_eq(mirror_verify_range_add(&ranges, 0, 10), 0);
	cr_assert_eq(mirror_verify_range_add(&ranges, 10, 5), 0);
	cr_assert_eq(mirror_verify_range_add(&ranges, 16, 1), 0);
	cr_assert_eq(ranges.n, 2);
	cr_assert_eq(ranges.v[0].length, 15);
	for (uint64_t i = 0; i < 100; i++)
		cr_assert_eq(mirror_verify_range_add(&ranges, 100 + 2 * i, 1), 0);
	cr_assert_eq(ranges.n, 102);
	cr_assert_eq(mirror_verify_ranges_bytes(&ranges), 116);
}

Test(mirror_verify, many_differing_chunks_wait_once_per_round_not_per_chunk)
{
	struct timespec t0, t1;
	int64_t ms;

	for (size_t i = 0; i < 10; i++)
		backup.bytes[i * CHUNK] ^= 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(mirror_verify_compare(&p, &b, 0, SIZE, CHUNK, 2, 100, &ranges, &count), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_eq(ranges.n, 1, "chunks 0-9 merged");
	cr_assert_eq(ranges.v[0].length, 10 * CHUNK);
	cr_assert_eq(count.rechecked, 10 * 2);
	/* 2 rounds of 100 ms; one wait per chunk would be 2000 ms */
	cr_assert_geq(ms, 200);
	cr_assert_lt(ms, 1000, "%lld ms: the waits were per chunk", (long long)ms);
}
