// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_verify_compare: an online verify's compare of two sides of a disk,
 * chunk by chunk, with the rechecks that tell a write in flight from a
 * difference that stays (mirror_verify.h), and the repair's copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mirror_verify.h"

int mirror_verify_range_add(struct mirror_verify_ranges *ranges, uint64_t offset, uint64_t length)
{
	struct mirror_verify_range *last = ranges->n ? &ranges->v[ranges->n - 1] : NULL;

	if (last && last->offset + last->length == offset) {
		last->length += length;
		return 0;
	}
	if (ranges->n == ranges->cap) {
		size_t cap = ranges->cap ? 2 * ranges->cap : 16;
		struct mirror_verify_range *v = realloc(ranges->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ranges->v = v;
		ranges->cap = cap;
	}
	ranges->v[ranges->n++] = (struct mirror_verify_range){.offset = offset, .length = length};
	return 0;
}

void mirror_verify_ranges_free(struct mirror_verify_ranges *ranges)
{
	free(ranges->v);
	*ranges = (struct mirror_verify_ranges){0};
}

uint64_t mirror_verify_ranges_bytes(const struct mirror_verify_ranges *ranges)
{
	uint64_t n = 0;

	for (size_t i = 0; i < ranges->n; i++)
		n += ranges->v[i].length;
	return n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Both sides' LEN bytes at OFFSET: 1 equal, 0 not, -errno. */
static int chunk_equal(const struct mirror_verify_side *a, const struct mirror_verify_side *b,
		       void *buf_a, void *buf_b, size_t len, uint64_t offset)
{
	int r = a->read(a->ctx, buf_a, len, offset);

	if (r >= 0)
		r = b->read(b->ctx, buf_b, len, offset);
	if (r < 0)
		return r;
	return memcmp(buf_a, buf_b, len) == 0;
}

/*
 * The chunks that differed once are read again together, one wait before
 * each round: a backup that differs in many chunks costs RECHECKS waits in
 * all, not RECHECKS waits per chunk (80 differing chunks took 80 s so).
 */
int mirror_verify_compare(const struct mirror_verify_side *primary,
			  const struct mirror_verify_side *backup, uint64_t offset, uint64_t length,
			  size_t chunk, unsigned rechecks, unsigned wait_ms,
			  struct mirror_verify_ranges *ranges, struct mirror_verify_count *count)
{
	char *a = malloc(chunk), *b = malloc(chunk);
	struct mirror_verify_ranges suspects = {0}, still = {0};
	int r = a && b ? 0 : -ENOMEM;

	*count = (struct mirror_verify_count){0};
	for (uint64_t off = offset; r >= 0 && off < offset + length; off += chunk) {
		uint64_t left = offset + length - off;
		size_t len = left < chunk ? (size_t)left : chunk;

		r = chunk_equal(primary, backup, a, b, len, off);
		if (r == 0)
			r = mirror_verify_range_add(&suspects, off, len);
		count->bytes += r >= 0 ? len : 0;
	}
	/* a guest write in flight on one side: give it time to reach both */
	for (unsigned round = 0; r >= 0 && suspects.n && round < rechecks; round++) {
		sleep_ms(wait_ms);
		for (size_t i = 0; r >= 0 && i < suspects.n; i++) {
			const struct mirror_verify_range *g = &suspects.v[i];

			for (uint64_t off = g->offset; r >= 0 && off < g->offset + g->length;
			     off += chunk) {
				uint64_t left = g->offset + g->length - off;
				size_t len = left < chunk ? (size_t)left : chunk;

				count->rechecked++;
				r = chunk_equal(primary, backup, a, b, len, off);
				if (r == 0)
					r = mirror_verify_range_add(&still, off, len);
			}
		}
		mirror_verify_ranges_free(&suspects);
		suspects = still;
		still = (struct mirror_verify_ranges){0};
	}
	for (size_t i = 0; r >= 0 && i < suspects.n; i++)
		r = mirror_verify_range_add(ranges, suspects.v[i].offset, suspects.v[i].length);
	mirror_verify_ranges_free(&suspects);
	mirror_verify_ranges_free(&still);
	free(a);
	free(b);
	return r < 0 ? r : 0;
}

int mirror_verify_copy(const struct mirror_verify_side *primary,
		       const struct mirror_verify_side *backup, const struct mirror_verify_range *range,
		       size_t chunk)
{
	char *buf = malloc(chunk);
	int r = buf ? 0 : -ENOMEM;

	for (uint64_t off = range->offset; r >= 0 && off < range->offset + range->length;
	     off += chunk) {
		uint64_t left = range->offset + range->length - off;
		size_t len = left < chunk ? (size_t)left : chunk;

		r = primary->read(primary->ctx, buf, len, off);
		if (r >= 0)
			r = backup->write(backup->ctx, buf, len, off);
	}
	free(buf);
	return r < 0 ? r : 0;
}
