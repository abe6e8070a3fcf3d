// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_api_reply: how the API answers. JSON with "schema", errors as
 * {"schema","error","message"}, and the one table that turns an -errno of
 * the rooms below (pairs/, coord/, core/) into an HTTP status and an error
 * name: no other room knows a status code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_api_internal.h"
#include "hs_cleanup.h"
#include "hs_format.h"
#include "hs_json_cleanup.h"

int hs__api_queue_text(struct MHD_Connection *c, unsigned status, const char *type,
		      const char *text, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* Queues OBJ (consumed) with "schema" added. */
int hs__api_queue_json(struct MHD_Connection *c, unsigned status, json_object *obj)
{
	const char *text;
	int ok;

	if (!obj)
		return MHD_NO;
	json_object_object_add(obj, "schema", json_object_new_int(HS_API_SCHEMA));
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	ok = hs__api_queue_text(c, status, "application/json", text, strlen(text));
	json_object_put(obj);
	return ok;
}

int hs__api_queue_error(struct MHD_Connection *c, unsigned status, const char *error,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int hs__api_queue_error(struct MHD_Connection *c, unsigned status, const char *error,
		       const char *fmt, ...)
{
	json_object *obj = json_object_new_object();
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = hs_vformat(fmt, ap);
	va_end(ap);
	json_object_object_add(obj, "error", json_object_new_string(error));
	json_object_object_add(obj, "message", json_object_new_string(msg ? msg : error));
	return hs__api_queue_json(c, status, obj);
}

/*
 * The request body checked against FIELDS (hs_api_body): true with *ret set,
 * or false with the 400 already queued in *ret_ok, naming the field.
 */
bool hs__api_body_parse(struct MHD_Connection *c, struct request *req,
		       const struct hs_body_field *fields, size_t n_fields, json_object **ret,
		       int *ret_ok)
{
	struct hs_body_error err;
	json_object *obj;

	if (hs_api_body_parse(req->body, req->len, fields, n_fields, ret, &err) == 0)
		return true;
	obj = json_object_new_object();
	json_object_object_add(obj, "error", json_object_new_string("bad_request"));
	json_object_object_add(obj, "message", json_object_new_string(err.message));
	if (err.field[0])
		json_object_object_add(obj, "field", json_object_new_string(err.field));
	*ret_ok = hs__api_queue_json(c, MHD_HTTP_BAD_REQUEST, obj);
	return false;
}

/* For the writes that take no body: nothing, or {}. */
bool hs__api_body_is_empty(struct MHD_Connection *c, struct request *req, int *ret_ok)
{
	_cleanup_json_ json_object *body = NULL;

	return hs__api_body_parse(c, req, NULL, 0, &body, ret_ok);
}

/* -errno -> HTTP status, error name, and the words for it when the caller has none. */
static const struct {
	int err;
	unsigned status;
	const char *error;
	const char *text;
} errno_table[] = {
	{-EINVAL, MHD_HTTP_BAD_REQUEST, "bad_request", "invalid request"},
	{-ENOENT, MHD_HTTP_NOT_FOUND, "not_found", "no such object"},
	{-EEXIST, MHD_HTTP_CONFLICT, "exists", "it exists already"},
	{-EBUSY, MHD_HTTP_CONFLICT, "busy", "already under way"},
	{-EALREADY, MHD_HTTP_CONFLICT, "busy", "already under way"},
	{-EPERM, MHD_HTTP_CONFLICT, "refused", "refused"},
	{-ENODEV, MHD_HTTP_CONFLICT, "refused", "no fence device is configured"},
	{-ENOLINK, MHD_HTTP_SERVICE_UNAVAILABLE, "no_quorum", "this host's partition has no quorum"},
	{-EAGAIN, MHD_HTTP_SERVICE_UNAVAILABLE, "syncing",
	 "the cluster state is being synchronised; try again"},
};

static int errno_row(int err)
{
	for (size_t i = 0; i < ARRAY_SIZE(errno_table); i++)
		if (errno_table[i].err == err)
			return (int)i;
	return -1;
}

unsigned hs__api_errno_status(int err, const char **ret_error)
{
	int i = errno_row(err);

	*ret_error = i < 0 ? "internal" : errno_table[i].error;
	return i < 0 ? MHD_HTTP_INTERNAL_SERVER_ERROR : errno_table[i].status;
}

int hs__api_queue_errno_message(struct MHD_Connection *c, int err, const char *message)
{
	const char *error;
	unsigned status = hs__api_errno_status(err, &error);

	return hs__api_queue_error(c, status, error, "%s", message);
}

int hs__api_queue_errno(struct MHD_Connection *c, int err, const char *what)
{
	int i = errno_row(err);
	_cleanup_free_ char *msg = NULL;

	if (asprintf(&msg, "%s: %s", what, i < 0 ? strerror(-err) : errno_table[i].text) < 0)
		return MHD_NO;
	return hs__api_queue_errno_message(c, err, msg);
}

void hs__api_answer_later(struct request *req, unsigned status, json_object *answer)
{
	req->deferred = answer;
	req->deferred_status = status;
	req->suspended = false;
	MHD_resume_connection(req->connection);
	MHD_run(req->listener->mhd);
}

int hs__api_suspend(struct MHD_Connection *c, struct request *req)
{
	req->suspended = true;
	MHD_suspend_connection(c);
	return MHD_YES;
}
