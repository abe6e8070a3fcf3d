// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_api_body: POST bodies checked against their endpoint's field list (see
 * hs_api_body.h for why a body is refused whole).
 *
 * json-c is run in strict mode on exactly the bytes received, so a NUL inside
 * the body, trailing garbage after the object ("{}x") or an unfinished
 * document ("{") are malformed rather than quietly cut short.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hs_api_body.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"
#include "hs_pairs.h"

static const char *type_name(enum hs_body_type t)
{
	switch (t) {
	case HS_BODY_STRING:
		return "a string";
	case HS_BODY_INT:
		return "a whole number";
	case HS_BODY_BOOL:
		return "true or false";
	}
	return "?";
}

static bool type_matches(json_object *v, enum hs_body_type t)
{
	switch (t) {
	case HS_BODY_STRING:
		return json_object_is_type(v, json_type_string);
	case HS_BODY_INT:
		return json_object_is_type(v, json_type_int);
	case HS_BODY_BOOL:
		return json_object_is_type(v, json_type_boolean);
	}
	return false;
}

/*
 * An integer field with a range. json-c saturates integers beyond int64 at
 * INT64_MIN/MAX when it parses them, so a number too large for any range is
 * out of it too, shown as sent.
 */
static bool in_range(json_object *v, const struct hs_body_field *f)
{
	int64_t n;

	if (f->type != HS_BODY_INT || f->max <= f->min)
		return true;
	n = json_object_get_int64(v);
	return n >= f->min && n <= f->max;
}

static int refuse(struct hs_body_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct hs_body_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* "vm, backup, mode" for the messages; "" when the endpoint takes no body. */
static void field_list(const struct hs_body_field *fields, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", fields[i].name);
}

static json_object *parse_strict(const char *text, size_t len, struct hs_body_error *err)
{
	struct json_tokener *tok;
	enum json_tokener_error e;
	json_object *obj;
	size_t end;

	if (len == 0)
		return json_object_new_object();
	if (memchr(text, '\0', len)) {
		refuse(err, NULL, "the request body is not JSON: it contains a NUL byte");
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		refuse(err, NULL, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e == json_tokener_continue || (e == json_tokener_success && !obj)) {
		json_object_put(obj);
		refuse(err, NULL, "the request body is not JSON: it ends in the middle of a value");
		return NULL;
	}
	if (e != json_tokener_success) {
		refuse(err, NULL, "the request body is not JSON: %s at byte %zu",
		       json_tokener_error_desc(e), end);
		return NULL;
	}
	for (size_t i = end; i < len; i++) {
		if (!strchr(" \t\r\n", text[i])) {
			json_object_put(obj);
			refuse(err, NULL, "the request body is not JSON: text after the value at byte %zu",
			       i);
			return NULL;
		}
	}
	return obj;
}

int hs_api_body_parse(const char *text, size_t len, const struct hs_body_field *fields,
		      size_t n_fields, json_object **ret, struct hs_body_error *err)
{
	_cleanup_json_ json_object *obj = NULL;
	char known[256];
	size_t i;

	obj = parse_strict(text ? text : "", text ? len : 0, err);
	if (!obj)
		return -EINVAL;
	field_list(fields, n_fields, known, sizeof(known));
	if (!json_object_is_type(obj, json_type_object))
		return refuse(err, NULL, "the request body must be a JSON object%s%s%s",
			      n_fields ? " {" : "", known, n_fields ? "}" : "");
	json_object_object_foreach(obj, key, val) {
		for (i = 0; i < n_fields; i++)
			if (strcmp(fields[i].name, key) == 0)
				break;
		if (i == n_fields)
			return n_fields ? refuse(err, key, "unknown field '%s' (known: %s)", key, known)
					: refuse(err, key, "unknown field '%s': this request takes no fields",
						 key);
		if (!val || !type_matches(val, fields[i].type))
			return refuse(err, key, "field '%s' must be %s, not %s", key,
				      type_name(fields[i].type),
				      val ? json_type_to_name(json_object_get_type(val)) : "null");
		if (!in_range(val, &fields[i]))
			return refuse(err, key,
				      "field '%s' must be a whole number from %lld to %lld, not %s",
				      key, (long long)fields[i].min, (long long)fields[i].max,
				      json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
	}
	for (i = 0; i < n_fields; i++)
		if (fields[i].required && !json_object_object_get_ex(obj, fields[i].name, NULL))
			return refuse(err, fields[i].name, "field '%s' is required (%s)",
				      fields[i].name, type_name(fields[i].type));
	*ret = TAKE_PTR(obj);
	return 0;
}

const struct hs_body_field hs_api_pair_create_fields[] = {
	{.name = "vm", .type = HS_BODY_STRING, .required = true},
	{.name = "backup", .type = HS_BODY_STRING, .required = true},
	{.name = "mode", .type = HS_BODY_STRING},
	{.name = "bandwidth_mib", .type = HS_BODY_INT, .max = HS_PAIR_BANDWIDTH_MAX_MIB},
};
const size_t hs_api_pair_create_n_fields = ARRAY_SIZE(hs_api_pair_create_fields);

/* Optional: a switchover is cold (the guest restarts) unless "live" says otherwise. */
const struct hs_body_field hs_api_switchover_fields[] = {
	{.name = "live", .type = HS_BODY_BOOL},
	{.name = "allow_cold", .type = HS_BODY_BOOL},
};
const size_t hs_api_switchover_n_fields = ARRAY_SIZE(hs_api_switchover_fields);

/* Optional: a verify only reports unless "repair" asks it to copy what differs. */
const struct hs_body_field hs_api_verify_fields[] = {
	{.name = "repair", .type = HS_BODY_BOOL},
};
const size_t hs_api_verify_n_fields = ARRAY_SIZE(hs_api_verify_fields);

const struct hs_body_field hs_api_maintenance_fields[] = {
	{.name = "on", .type = HS_BODY_BOOL, .required = true},
};
const size_t hs_api_maintenance_n_fields = ARRAY_SIZE(hs_api_maintenance_fields);

/* The settings `pair set` changes; one required while it is the only one. */
const struct hs_body_field hs_api_pair_set_fields[] = {
	{.name = "bandwidth_mib",
	 .type = HS_BODY_INT,
	 .required = true,
	 .max = HS_PAIR_BANDWIDTH_MAX_MIB},
};
const size_t hs_api_pair_set_n_fields = ARRAY_SIZE(hs_api_pair_set_fields);
