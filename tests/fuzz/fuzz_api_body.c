/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_api_body: request bodies as the API sees them (POST /v1/pairs, the
 * maintenance switch, PATCH /v1/pairs/VM), through hs_api_body_parse with the
 * API's own field tables. Anyone with a token can send one: the parser answers with an object of
 * exactly the declared fields and types, or -EINVAL and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hs_api_body.h"

static void check(const char *text, size_t len, const struct hs_body_field *fields, size_t n)
{
	struct hs_body_error err = {0};
	json_object *body = NULL;
	int r = hs_api_body_parse(text, len, fields, n, &body, &err);

	if (r < 0) {
		if (body || !err.message[0])
			abort();
		return;
	}
	if (!body || !json_object_is_type(body, json_type_object))
		abort();
	json_object_object_foreach(body, key, value) {
		size_t i;

		for (i = 0; i < n && strcmp(fields[i].name, key) != 0; i++)
			;
		if (i == n) /* a field that is not declared got through */
			abort();
		(void)value;
	}
	json_object_put(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check((const char *)data, size, hs_api_pair_create_fields, hs_api_pair_create_n_fields);
	check((const char *)data, size, hs_api_maintenance_fields, hs_api_maintenance_n_fields);
	check((const char *)data, size, hs_api_pair_set_fields, hs_api_pair_set_n_fields);
	check((const char *)data, size, hs_api_verify_fields, hs_api_verify_n_fields);
	return 0;
}
