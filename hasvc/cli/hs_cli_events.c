// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_cli_events: `hasvc events --follow`, the event log as it grows.
 *
 * A client of GET /v1/events/stream (Server-Sent Events) over the daemon's
 * unix socket: each frame's "data:" line is one event, the same JSON object
 * /v1/events lists, printed as `hasvc events` prints it (or as a JSON line
 * with --json) the moment it arrives. Comment lines (keep-alives) and the
 * "id:"/"event:" lines are skipped. Runs until interrupted or until the
 * daemon ends the stream (it does when it stops); then exits 3, as when it
 * cannot be reached, so a supervising script can tell and reconnect with
 * --since LAST_ID.
 */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_cli.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"

struct follow {
	CURL *curl;
	bool json;
	char line[65536];
	size_t len;
	bool overlong;     /* the current line did not fit: skip it */
	char error[1024];  /* the body of a non-200 answer */
	size_t error_len;
};

static void line_done(struct follow *f)
{
	json_object *e;

	f->line[f->len] = '\0';
	if (!f->overlong && strncmp(f->line, "data: ", 6) == 0 &&
	    (e = json_tokener_parse(f->line + 6))) {
		if (f->json)
			printf("%s\n", json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
		else
			hs_cli_print_event(e);
		fflush(stdout);
		json_object_put(e);
	}
	f->len = 0;
	f->overlong = false;
}

static size_t arrived(char *ptr, size_t size, size_t n, void *userdata)
{
	struct follow *f = userdata;
	size_t bytes = size * n;
	long status = 0;

	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) { /* an error answer: keep it for the message */
		size_t room = sizeof(f->error) - 1 - f->error_len, take = bytes < room ? bytes : room;
		memcpy(f->error + f->error_len, ptr, take);
		f->error_len += take;
		f->error[f->error_len] = '\0';
		return bytes;
	}
	for (size_t i = 0; i < bytes; i++) {
		if (ptr[i] == '\n')
			line_done(f);
		else if (f->len < sizeof(f->line) - 1)
			f->line[f->len++] = ptr[i];
		else
			f->overlong = true;
	}
	return bytes;
}

int hs_cli_events_follow(const struct cli_options *o, const char *since)
{
	struct follow *f = calloc(1, sizeof(*f));
	_cleanup_free_ char *url = NULL;
	long status = 0;
	CURLcode rc;
	int r;

	if (!f || asprintf(&url, "http://localhost/v1/events/stream?since=%s", since) < 0 ||
	    !(f->curl = curl_easy_init())) {
		fprintf(stderr, "hasvc: out of memory\n");
		r = HS_EXIT_ERROR;
		goto out;
	}
	f->json = o->json;
	curl_easy_setopt(f->curl, CURLOPT_UNIX_SOCKET_PATH, o->socket);
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, arrived);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, f);
	rc = curl_easy_perform(f->curl);
	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 && status != 0) {
		r = hs_cli_answer(status, f->error, NULL);
		goto out;
	}
	fprintf(stderr, "hasvc: the event stream from %s ended: %s\n", o->socket,
		rc == CURLE_OK ? "hasvcd closed it" : curl_easy_strerror(rc));
	r = HS_EXIT_UNAVAILABLE;
out:
	if (f && f->curl)
		curl_easy_cleanup(f->curl);
	free(f);
	return r;
}
