/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_json: the one set of accessors for a field of a json-c object, used
 * where rows of state/ and answers of mirror/ are decoded into C records
 * (hasvc/core/hs_records.c and the few edges that read JSON).
 *
 * A missing field and a JSON null read alike: NULL, 0 or false. Nothing here
 * allocates; strings are borrowed from the object.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

/* The string at KEY, or NULL when missing or null. */
const char *hs_json_str(json_object *o, const char *key);
/* The integer at KEY, or 0. */
uint64_t hs_json_u64(json_object *o, const char *key);
bool hs_json_bool(json_object *o, const char *key);
/* The object or array at KEY, or NULL (borrowed). */
json_object *hs_json_get(json_object *o, const char *key);
