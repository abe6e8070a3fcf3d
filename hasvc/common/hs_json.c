// SPDX-License-Identifier: LGPL-2.1-or-later
/* hs_json: field accessors for json-c objects (see hs_json.h). */
#include "hs_json.h"

json_object *hs_json_get(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

const char *hs_json_str(json_object *o, const char *key)
{
	json_object *v = hs_json_get(o, key);

	return v ? json_object_get_string(v) : NULL;
}

uint64_t hs_json_u64(json_object *o, const char *key)
{
	json_object *v = hs_json_get(o, key);

	return v ? (uint64_t)json_object_get_int64(v) : 0;
}

bool hs_json_bool(json_object *o, const char *key)
{
	json_object *v = hs_json_get(o, key);

	return v && json_object_get_boolean(v);
}
