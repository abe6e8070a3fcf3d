// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of mirror_memory: the available memory a backup host checks a new
 * backup against is MemAvailable, read from /proc/meminfo's text.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "mirror_memory.h"

Test(mirror_memory, mem_available_in_bytes)
{
	uint64_t bytes = 0;

	cr_assert_eq(mirror_memory_available("MemTotal:       24684084 kB\n"
					     "MemFree:         1000000 kB\n"
					     "MemAvailable:   23783756 kB\n"
					     "Buffers:           12 kB\n",
					     &bytes),
		     0);
	cr_assert_eq(bytes, 23783756ULL * 1024);
}

Test(mirror_memory, no_mem_available_is_an_error)
{
	uint64_t bytes = 7;

	cr_assert_eq(mirror_memory_available("MemTotal: 1 kB\nMemFree: 1 kB\n", &bytes), -EINVAL);
	cr_assert_eq(mirror_memory_available("XMemAvailable: 5 kB\n", &bytes), -EINVAL);
	cr_assert_eq(mirror_memory_available("MemAvailable: lots\n", &bytes), -EINVAL);
	cr_assert_eq(bytes, 7, "written only on success");
}
