// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of hs__api_tokens_load: the TCP API's token file, "TOKEN read|admin
 * NAME" per line. Each line is taken whole or refused with -EINVAL: a secret
 * longer than MAX_SECRET is refused, never cut into a shorter secret and a
 * role made of its tail (issue 16: a 255-character prefix followed by
 * "admin" loaded a line meant as a read token as an admin one).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hs_api_internal.h"

static char dir[] = "/tmp/hasvc-test-tokens-XXXXXX";
static char path[64];
static struct hs_api api;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tokens", dir);
	memset(&api, 0, sizeof(api));
}

static void teardown(void)
{
	for (size_t i = 0; i < api.n_tokens; i++) {
		free(api.tokens[i].secret);
		free(api.tokens[i].name);
	}
	unlink(path);
	rmdir(dir);
	strcpy(dir, "/tmp/hasvc-test-tokens-XXXXXX");
}

TestSuite(api_tokens, .init = setup, .fini = teardown);

/* TEXT as the token file (mode 0600), loaded into api. */
static int load(const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0600), 0);
	return hs__api_tokens_load(&api, path);
}

/* A secret of LEN characters 'x', then TAIL, as a line. */
static char *long_line(size_t len, const char *tail)
{
	char *line = malloc(len + strlen(tail) + 1);

	cr_assert_not_null(line);
	memset(line, 'x', len);
	strcpy(line + len, tail);
	return line;
}

Test(api_tokens, read_and_admin_lines_load_with_their_names)
{
	cr_assert_eq(load("# comment\n\nsecret-a admin ops\nsecret-r read dashboard\n"
			  "secret-n read\n"),
		     0);
	cr_assert_eq(api.n_tokens, 3);
	cr_assert_str_eq(api.tokens[0].secret, "secret-a");
	cr_assert_eq(api.tokens[0].role, ROLE_ADMIN);
	cr_assert_str_eq(api.tokens[0].name, "ops");
	cr_assert_str_eq(api.tokens[1].secret, "secret-r");
	cr_assert_eq(api.tokens[1].role, ROLE_READ);
	cr_assert_str_eq(api.tokens[1].name, "dashboard");
	cr_assert_str_eq(api.tokens[2].name, "unnamed");
}

Test(api_tokens, blank_lines_and_indented_comments_are_skipped)
{
	cr_assert_eq(load("  \t\n   # an indented comment of many words\nsecret read\n"), 0);
	cr_assert_eq(api.n_tokens, 1);
}

Test(api_tokens, a_secret_of_the_limit_loads_whole)
{
	char *line = long_line(MAX_SECRET, " read dashboard\n");

	cr_assert_eq(load(line), 0);
	cr_assert_eq(api.n_tokens, 1);
	cr_assert_eq(strlen(api.tokens[0].secret), MAX_SECRET);
	cr_assert_eq(api.tokens[0].role, ROLE_READ);
	free(line);
}

/*
 * The defect: "%255s %15s" read 255 x's as the secret and "admin" (the
 * secret's tail) as the role; the line's own "read" became the name.
 */
Test(api_tokens, an_over_long_secret_is_refused_not_split_into_a_role)
{
	char *line = long_line(MAX_SECRET, "admin read dashboard\n");

	cr_assert_eq(load(line), -EINVAL);
	cr_assert_eq(api.n_tokens, 0, "an over-long secret was loaded, role %d", api.tokens[0].role);
	free(line);
}

Test(api_tokens, a_much_longer_secret_is_refused)
{
	char *line = long_line(4000, " read dashboard\n");

	cr_assert_eq(load(line), -EINVAL);
	cr_assert_eq(api.n_tokens, 0);
	free(line);
}

/* Found by fuzz_tokens: the split stopped at a NUL and dropped the rest of the line. */
Test(api_tokens, a_nul_byte_in_a_line_is_refused)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite("secret read\0admin\n", 1, 18, f), 18);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(hs__api_tokens_load(&api, path), -EINVAL);
	cr_assert_eq(api.n_tokens, 0);
}

Test(api_tokens, a_fourth_field_is_refused)
{
	cr_assert_eq(load("secret read my dashboard\n"), -EINVAL);
}

Test(api_tokens, a_bad_role_or_a_missing_one_is_refused)
{
	cr_assert_eq(load("secret write dashboard\n"), -EINVAL);
	cr_assert_eq(load("secret\n"), -EINVAL);
}

Test(api_tokens, a_file_others_can_read_is_refused)
{
	cr_assert_eq(load("secret read dashboard\n"), 0);
	cr_assert_eq(chmod(path, 0644), 0);
	cr_assert_eq(hs__api_tokens_load(&api, path), -EPERM);
}
