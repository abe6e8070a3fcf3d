/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz: the entry point every harness defines (libFuzzer's, or fuzz_driver.c's caller). */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
