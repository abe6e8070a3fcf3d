/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_histogram: a Prometheus histogram of durations in seconds, and its text
 * exposition (_bucket lines with cumulative counts and le="+Inf", _sum,
 * _count), one fixed set of bounds for every operation hasvc times: from a
 * fast promotion (a fraction of a second) to a long initial sync (an hour).
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#define HS_HISTOGRAM_BUCKETS 14

struct hs_histogram {
	uint64_t bucket[HS_HISTOGRAM_BUCKETS]; /* observations <= hs_histogram_bounds[i], not cumulative */
	uint64_t count;
	double sum;
};

extern const double hs_histogram_bounds[HS_HISTOGRAM_BUCKETS];

void hs_histogram_observe(struct hs_histogram *h, double seconds);

/*
 * NAME_bucket{LABEL="VALUE",le="..."}, NAME_sum and NAME_count of H into F
 * (the # HELP and # TYPE lines are the caller's: they come once per metric).
 */
void hs_histogram_write(FILE *f, const char *name, const char *label, const char *value,
			const struct hs_histogram *h);
