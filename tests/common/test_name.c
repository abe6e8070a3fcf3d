// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the one name rule (hs_name) and the JSON accessors (hs_json): a
 * name of the longest length passes whole, one character more does not, and
 * a missing field reads like a null one.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hs_json.h"
#include "hs_name.h"

Test(name, the_rule)
{
	char longest[HS_NAME_MAX + 2];

	memset(longest, 'v', HS_NAME_MAX);
	longest[HS_NAME_MAX] = '\0';
	cr_assert(hs_name_valid("vm1"));
	cr_assert(hs_name_valid("a.b-c_D9"));
	cr_assert(hs_name_valid(longest), "64 characters are a name");
	longest[HS_NAME_MAX] = 'v';
	longest[HS_NAME_MAX + 1] = '\0';
	cr_assert(!hs_name_valid(longest), "65 are not");
	cr_assert(!hs_name_valid(""));
	cr_assert(!hs_name_valid(NULL));
	cr_assert(!hs_name_valid("."));
	cr_assert(!hs_name_valid(".."));
	cr_assert(!hs_name_valid("a/b"));
	cr_assert(!hs_name_valid("a b"));
	cr_assert(!hs_name_valid("vm\n"));
}

Test(json, accessors)
{
	json_object *o = json_tokener_parse(
	    "{\"s\":\"x\",\"n\":42,\"b\":true,\"z\":null,\"o\":{\"op\":\"switchover\"}}");

	cr_assert_str_eq(hs_json_str(o, "s"), "x");
	cr_assert_null(hs_json_str(o, "z"));
	cr_assert_null(hs_json_str(o, "missing"));
	cr_assert_eq(hs_json_u64(o, "n"), 42);
	cr_assert_eq(hs_json_u64(o, "missing"), 0);
	cr_assert(hs_json_bool(o, "b"));
	cr_assert(!hs_json_bool(o, "z"));
	cr_assert_str_eq(hs_json_str(hs_json_get(o, "o"), "op"), "switchover");
	cr_assert_null(hs_json_str(hs_json_get(o, "z"), "op"), "a null object has no fields");
	cr_assert_null(hs_json_str(NULL, "s"));
	json_object_put(o);
}
