// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_histogram: durations into fixed buckets, written in the Prometheus text
 * format. Buckets are kept per bound and summed when written, as the format
 * wants cumulative counts ending with le="+Inf" equal to _count.
 */
#include "hs_histogram.h"

const double hs_histogram_bounds[HS_HISTOGRAM_BUCKETS] = {
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
};

void hs_histogram_observe(struct hs_histogram *h, double seconds)
{
	if (seconds < 0) /* clocks of two hosts: a stop stamped before its start */
		seconds = 0;
	for (int i = 0; i < HS_HISTOGRAM_BUCKETS; i++) {
		if (seconds <= hs_histogram_bounds[i]) {
			h->bucket[i]++;
			break;
		}
	}
	h->count++;
	h->sum += seconds;
}

void hs_histogram_write(FILE *f, const char *name, const char *label, const char *value,
			const struct hs_histogram *h)
{
	uint64_t cumulative = 0;

	for (int i = 0; i < HS_HISTOGRAM_BUCKETS; i++) {
		cumulative += h->bucket[i];
		fprintf(f, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name, label, value,
			hs_histogram_bounds[i], (unsigned long long)cumulative);
	}
	fprintf(f, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label, value,
		(unsigned long long)h->count);
	fprintf(f, "%s_sum{%s=\"%s\"} %.6f\n", name, label, value, h->sum);
	fprintf(f, "%s_count{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)h->count);
}
