// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of hs_api_body: a POST body is taken only when it is one JSON object
 * of known fields of the right types; anything else is refused with a
 * message, and the field named when there is one.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "hs_api_body.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"

static const struct hs_body_field fields[] = {
	{.name = "vm", .type = HS_BODY_STRING, .required = true},
	{.name = "backup", .type = HS_BODY_STRING, .required = true},
	{.name = "mode", .type = HS_BODY_STRING},
	{.name = "bandwidth_mib", .type = HS_BODY_INT},
	{.name = "on", .type = HS_BODY_BOOL},
};

static int parse(const char *text, json_object **ret, struct hs_body_error *err)
{
	return hs_api_body_parse(text, strlen(text), fields, ARRAY_SIZE(fields), ret, err);
}

/* TEXT is refused, naming FIELD ("" for the body as a whole) and saying WHAT. */
static void refused(const char *text, const char *field, const char *what)
{
	struct hs_body_error err;
	json_object *o = NULL;

	cr_assert_eq(parse(text, &o, &err), -EINVAL, "%s was taken", text);
	cr_assert_null(o);
	cr_assert_str_eq(err.field, field, "%s: field '%s'", text, err.field);
	cr_assert(strstr(err.message, what), "%s: message '%s' lacks '%s'", text, err.message, what);
}

TestSuite(api_body);

Test(api_body, good_body_is_taken)
{
	struct hs_body_error err;
	_cleanup_json_ json_object *o = NULL;

	cr_assert_eq(parse(" {\"vm\": \"vm1\", \"backup\": \"node2\", \"bandwidth_mib\": 50}\n", &o,
			   &err),
		     0, "%s", err.message);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "vm")), "vm1");
	cr_assert_eq(json_object_get_int64(json_object_object_get(o, "bandwidth_mib")), 50);
}

Test(api_body, empty_body_is_an_empty_object)
{
	struct hs_body_error err;
	_cleanup_json_ json_object *o = NULL;

	cr_assert_eq(hs_api_body_parse(NULL, 0, NULL, 0, &o, &err), 0);
	cr_assert(json_object_is_type(o, json_type_object));
	json_object_put(TAKE_PTR(o));
	cr_assert_eq(hs_api_body_parse("{}", 2, NULL, 0, &o, &err), 0);
}

Test(api_body, unknown_field_is_named)
{
	refused("{\"vm\": \"vm1\", \"backup\": \"node2\", \"bakup\": \"node3\"}", "bakup",
		"unknown field 'bakup' (known: vm, backup, mode, bandwidth_mib, on)");
}

Test(api_body, no_field_where_none_is_taken)
{
	struct hs_body_error err;
	json_object *o = NULL;

	cr_assert_eq(hs_api_body_parse("{\"force\":true}", 14, NULL, 0, &o, &err), -EINVAL);
	cr_assert_str_eq(err.field, "force");
	cr_assert(strstr(err.message, "takes no fields"));
}

Test(api_body, wrong_types_are_named)
{
	refused("{\"vm\": 7, \"backup\": \"node2\"}", "vm", "must be a string, not int");
	refused("{\"vm\": \"vm1\", \"backup\": \"node2\", \"bandwidth_mib\": \"50\"}",
		"bandwidth_mib", "must be a whole number, not string");
	refused("{\"vm\": \"vm1\", \"backup\": \"node2\", \"bandwidth_mib\": 5.5}", "bandwidth_mib",
		"not double");
	refused("{\"vm\": \"vm1\", \"backup\": \"node2\", \"on\": 1}", "on", "true or false");
	refused("{\"vm\": \"vm1\", \"backup\": null}", "backup", "not null");
}

Test(api_body, missing_required_field_is_named)
{
	refused("{\"vm\": \"vm1\"}", "backup", "field 'backup' is required");
}

Test(api_body, malformed_json_is_refused)
{
	refused("{\"vm\": ", "", "not JSON");
	refused("{\"vm\": \"vm1\",}", "", "not JSON");
	refused("{\"vm\": \"vm1\", \"backup\": \"node2\"} x", "", "not JSON");
	refused("{'vm': 'vm1'}", "", "not JSON");
	refused("[\"vm1\"]", "", "must be a JSON object");
	refused("\"vm1\"", "", "must be a JSON object");
}

Test(api_body, nul_byte_is_refused)
{
	struct hs_body_error err;
	json_object *o = NULL;

	cr_assert_eq(hs_api_body_parse("{}\0{}", 5, NULL, 0, &o, &err), -EINVAL);
	cr_assert(strstr(err.message, "NUL"));
}

/* A body of PATCH /v1/pairs/VM (CREATE: of POST /v1/pairs instead). */
static int parse_as(const char *text, bool create, json_object **ret, struct hs_body_error *err)
{
	return create ? hs_api_body_parse(text, strlen(text), hs_api_pair_create_fields,
					  hs_api_pair_create_n_fields, ret, err)
		      : hs_api_body_parse(text, strlen(text), hs_api_pair_set_fields,
					  hs_api_pair_set_n_fields, ret, err);
}

/* Issue 13: PATCH /v1/pairs/VM's bandwidth, range checked with its type, the value named. */
Test(api_body, pair_set_bandwidth_is_range_checked)
{
	static const char *const bad[][2] = {
	    {"{\"bandwidth_mib\": -1}", "from 0 to 1000000, not -1"},
	    {"{\"bandwidth_mib\": 1000001}", "not 1000001"},
	    {"{\"bandwidth_mib\": 99999999999999999999}", "from 0 to 1000000"},
	    {"{\"bandwidth_mib\": 18446744073709551615}", "from 0 to 1000000"},
	    {"{}", "field 'bandwidth_mib' is required"},
	    {"{\"bandwidth_mib\": \"5\"}", "must be a whole number, not string"},
	    {"{\"bandwidth_mib\": 5, \"mode\": \"async\"}", "unknown field 'mode'"},
	};
	struct hs_body_error err;
	json_object *o = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		o = NULL;
		cr_assert_eq(parse_as(bad[i][0], false, &o, &err), -EINVAL, "%s was taken",
			     bad[i][0]);
		cr_assert_null(o);
		cr_assert(strstr(err.message, bad[i][1]), "%s: '%s'", bad[i][0], err.message);
	}
	/* the ends of the range are in it */
	for (int64_t v = 0; v <= 1000000; v += 1000000) {
		char text[64];

		snprintf(text, sizeof(text), "{\"bandwidth_mib\": %lld}", (long long)v);
		cr_assert_eq(parse_as(text, false, &o, &err), 0, "%s: %s", text, err.message);
		cr_assert_eq(json_object_get_int64(json_object_object_get(o, "bandwidth_mib")), v);
		json_object_put(o);
	}
	/* create takes the same range */
	cr_assert_eq(parse_as("{\"vm\":\"vm1\",\"backup\":\"node2\",\"bandwidth_mib\":-5}", true,
			      &o, &err),
		     -EINVAL);
	cr_assert_str_eq(err.field, "bandwidth_mib");
	cr_assert(strstr(err.message, "from 0 to 1000000, not -5"), "%s", err.message);
}
