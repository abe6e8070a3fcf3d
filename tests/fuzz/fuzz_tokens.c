/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_tokens: the TCP API's token file as hs__api_tokens_load reads it
 * ("TOKEN read|admin NAME" per line). Whatever the file holds, the loader
 * takes it or refuses it, never crashes, and every token it takes stands in
 * the file whole: its secret as a field of its own, followed by its role
 * (issue 16: a secret over 255 characters was cut there, and its tail became
 * the role). Each input is written to a scratch file (mode 0600, as the
 * loader demands) and loaded from there.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "hs_api_internal.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether TEXT holds SECRET as a whole field followed by the word ROLE. */
static bool stands_whole(const char *text, size_t size, const char *secret, const char *role)
{
	size_t slen = strlen(secret), rlen = strlen(role);

	for (size_t i = 0; i + slen <= size; i++) {
		size_t j = i + slen;

		if ((i > 0 && !is_space(text[i - 1])) || memcmp(text + i, secret, slen) != 0)
			continue;
		if (j >= size || !is_space(text[j]))
			continue;
		while (j < size && is_space(text[j]) && text[j] != '\n')
			j++;
		if (j + rlen <= size && memcmp(text + j, role, rlen) == 0 &&
		    (j + rlen == size || is_space(text[j + rlen])))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static struct hs_api api;
	FILE *f;
	int r;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/hasvc-fuzz-tokens.%d", (int)getpid());
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0 || chmod(path, 0600) != 0)
		abort();
	memset(&api, 0, sizeof(api));
	r = hs__api_tokens_load(&api, path);
	for (size_t i = 0; i < api.n_tokens; i++) {
		const struct token *t = &api.tokens[i];

		if (r >= 0 && (strlen(t->secret) > MAX_SECRET || strlen(t->name) > MAX_TOKEN_NAME ||
			       !stands_whole((const char *)data, size, t->secret,
					     t->role == ROLE_ADMIN ? "admin" : "read")))
			abort(); /* a token the file does not hold so */
		free(t->secret);
		free(t->name);
	}
	return 0;
}
