/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_json_cleanup: _cleanup_json_, for the modules that speak JSON (the API,
 * the replicated messages, mirror/'s QMP answers): one reference dropped at
 * scope end (json_object_put(NULL) is a no-op).
 */
#pragma once

#include <json-c/json.h>

#include "hs_cleanup.h"

static inline void hs__json_putp(json_object **o)
{
	json_object_put(*o);
}

#define _cleanup_json_ __attribute__((cleanup(hs__json_putp)))
