/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_api_body: the JSON body of a POST, checked against the fields its
 * endpoint knows before any handler sees it.
 *
 * A write that carries a field we do not know (a typo, a client newer than
 * this daemon) must not half-succeed with the field silently ignored, so the
 * body is refused whole: malformed or trailing JSON, a body that is not an
 * object, an unknown field, a field of the wrong JSON type (null included), a
 * number outside its field's range or a required field missing. The error
 * names the field, so the API can answer 400 {"error": "bad_request",
 * "field": NAME, "message": ...}.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

enum hs_body_type {
	HS_BODY_STRING,
	HS_BODY_INT, /* a JSON integer: 5, not 5.0 nor "5" */
	HS_BODY_BOOL,
};

struct hs_body_field {
	const char *name;
	enum hs_body_type type;
	bool required;
	/* HS_BODY_INT with MAX > MIN: the value must lie in MIN..MAX (named when it does not) */
	int64_t min, max;
};

struct hs_body_error {
	char field[72];    /* empty when the body as a whole is wrong */
	char message[256];
};

/* The bodies the API takes (hs_api_write.c; the fuzzer tests/fuzz/fuzz_api_body.c). */
extern const struct hs_body_field hs_api_pair_create_fields[]; /* POST /v1/pairs */
extern const size_t hs_api_pair_create_n_fields;
extern const struct hs_body_field hs_api_switchover_fields[]; /* POST /v1/pairs/VM/switchover */
extern const size_t hs_api_switchover_n_fields;
extern const struct hs_body_field hs_api_verify_fields[]; /* POST /v1/pairs/VM/verify */
extern const size_t hs_api_verify_n_fields;
extern const struct hs_body_field hs_api_maintenance_fields[]; /* POST /v1/nodes/N/maintenance */
extern const size_t hs_api_maintenance_n_fields;
extern const struct hs_body_field hs_api_pair_set_fields[]; /* PATCH /v1/pairs/VM */
extern const size_t hs_api_pair_set_n_fields;

/*
 * Parses LEN bytes of TEXT (an empty body is {}) into *ret, an object holding
 * only FIELDS of their types. -EINVAL with ERR filled in otherwise.
 */
int hs_api_body_parse(const char *text, size_t len, const struct hs_body_field *fields,
		      size_t n_fields, json_object **ret, struct hs_body_error *err);
