// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_cli: one HTTP request to hasvcd over its unix socket, with libcurl.
 *
 * The daemon answers JSON for everything under /v1: on success the answer is
 * handed back parsed, on failure its "message" is printed as the error and
 * its "error" (plus the HTTP status) picks the exit code. A daemon that cannot
 * be reached is its own exit code, with the socket named, because that is the
 * first thing an operator needs to know.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_cli.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"

struct buffer {
	char *data;
	size_t len;
};

static size_t collect(char *ptr, size_t size, size_t n, void *userdata)
{
	struct buffer *b = userdata;
	size_t add = size * n;
	char *grown = realloc(b->data, b->len + add + 1);

	if (!grown)
		return 0;
	memcpy(grown + b->len, ptr, add);
	b->data = grown;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

void hs_cli_print_event(json_object *e)
{
	time_t t = (time_t)(json_object_get_int64(hs_json_get(e, "time_usec")) / 1000000);
	const char *vm = hs_json_str(e, "vm");
	char when[32];

	strftime(when, sizeof(when), "%F %T", localtime(&t));
	printf("%6s %s %-8s %-12s %s%s%s\n", hs_json_str(e, "id"), when, hs_json_str(e, "node"),
	       hs_json_str(e, "kind"), strcmp(vm, "-") ? vm : "", strcmp(vm, "-") ? ": " : "",
	       hs_json_str(e, "message"));
}

/* hs_cli_answer; QUIET: "not found" is only returned, not printed. */
static int answer_read(long status, const char *body, json_object **ret_answer, bool quiet)
{
	json_object *parsed = body ? json_tokener_parse(body) : NULL;
	int r;

	if (!parsed || !json_object_is_type(parsed, json_type_object)) {
		fprintf(stderr, "hasvc: hasvcd answered %ld with something that is not JSON\n", status);
		json_object_put(parsed);
		return HS_EXIT_ERROR;
	}
	r = hs_cli_exit_code(status, json_object_get_string(hs_json_get(parsed, "error")));
	if (r != HS_EXIT_OK && !(quiet && r == HS_EXIT_NOT_FOUND))
		fprintf(stderr, "hasvc: %s\n", hs_json_str(parsed, "message"));
	if (r == HS_EXIT_OK && ret_answer)
		*ret_answer = TAKE_PTR(parsed);
	json_object_put(parsed);
	return r;
}

int hs_cli_answer(long status, const char *body, json_object **ret_answer)
{
	return answer_read(status, body, ret_answer, false);
}

int hs_cli_exit_code(long status, const char *error)
{
	if (status >= 200 && status < 300)
		return HS_EXIT_OK;
	if (error && strcmp(error, "no_quorum") == 0)
		return HS_EXIT_NO_QUORUM;
	if (error && strcmp(error, "busy") == 0)
		return HS_EXIT_BUSY;
	if (status == 404)
		return HS_EXIT_NOT_FOUND;
	if (status == 409)
		return HS_EXIT_REFUSED;
	if (status == 400)
		return HS_EXIT_USAGE;
	if (status == 503)
		return HS_EXIT_UNAVAILABLE;
	return HS_EXIT_ERROR;
}

static int request(const char *socket, const char *method, const char *path, json_object *body,
		   json_object **ret_answer, bool quiet)
{
	struct buffer answer = {0};
	struct curl_slist *headers = NULL;
	_cleanup_free_ char *url = NULL;
	CURL *curl;
	CURLcode rc;
	long status = 0;
	int r;

	curl = curl_easy_init();
	if (!curl || asprintf(&url, "http://localhost%s", path) < 0) {
		fprintf(stderr, "hasvc: out of memory\n");
		r = HS_EXIT_ERROR;
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	if (body) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, json_object_to_json_string(body));
	}
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		fprintf(stderr, "hasvc: cannot reach hasvcd at %s: %s\n", socket,
			curl_easy_strerror(rc));
		r = HS_EXIT_UNAVAILABLE;
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	r = answer_read(status, answer.data, ret_answer, quiet);
out:
	free(answer.data);
	curl_slist_free_all(headers);
	if (curl)
		curl_easy_cleanup(curl);
	return r;
}

int hs_cli_request(const char *socket, const char *method, const char *path,
		   json_object *body, json_object **ret_answer)
{
	return request(socket, method, path, body, ret_answer, false);
}

int hs_cli_get_quiet(const char *socket, const char *path, json_object **ret_answer)
{
	return request(socket, "GET", path, NULL, ret_answer, true);
}

void hs_cli_print_json(json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
}

json_object *hs_json_get(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (obj && json_object_object_get_ex(obj, key, &v))
		return v;
	return NULL;
}

const char *hs_json_str(json_object *obj, const char *key)
{
	json_object *v = hs_json_get(obj, key);

	return v ? json_object_get_string(v) : "-";
}
