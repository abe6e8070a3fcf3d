/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_config: hasvc.conf as hs_config_load reads it. The file is written by
 * an operator, often by hand at 3 a.m.: whatever it holds, the loader must
 * answer with a config or with a "file:line: ..." error, never crash.
 * Each input is written to a scratch file and loaded from there (the loader
 * takes a path, as the daemon does).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "hs_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct hs_config *config = NULL;
	char *error = NULL;
	FILE *f;
	int r;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/hasvc-fuzz-config.%d.conf", (int)getpid());
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	r = hs_config_load(path, &config, &error);
	if (r < 0 && (!error || !*error))
		abort(); /* every refusal names what is wrong */
	if (r >= 0 && !config)
		abort();
	hs_config_free(config);
	free(error);
	return 0;
}
