/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fence_test: helpers shared by the fence/ tests: where the fixture agents
 * are (HASVC_TEST_DATA/agents), a scratch directory per test, reading a file
 * whole, and telling whether a process is gone (a zombie counts as gone: it
 * runs nothing and only waits for whoever reaps orphans).
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fence_device.h"

static inline const char *test_data_dir(void)
{
	const char *d = getenv("HASVC_TEST_DATA");

	cr_assert(d, "HASVC_TEST_DATA is not set (run through ctest)");
	return d;
}

/* A malloc'd path under the test data directory. */
static inline char *test_path(const char *rel)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", test_data_dir(), rel) > 0);
	return p;
}

/* A fresh scratch directory; free the string, remove with test_rmdir(). */
static inline char *test_mkdtemp(void)
{
	char *d = strdup("/tmp/hasvc-fence-test.XXXXXX");

	cr_assert(d && mkdtemp(d), "mkdtemp: %s", strerror(errno));
	return d;
}

static inline void test_rmdir(const char *dir)
{
	char *cmd;

	if (!dir || strncmp(dir, "/tmp/hasvc-fence-test.", 22) != 0)
		return;
	if (asprintf(&cmd, "rm -rf '%s'", dir) > 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
		free(cmd);
	}
}

/* The whole file as a string, or NULL. */
static inline char *test_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&s, &len, '\0', f) < 0) {
		free(s);
		s = strdup("");
	}
	fclose(f);
	return s;
}

static inline bool test_pid_gone(pid_t pid)
{
	char path[64], *stat, *close_paren;
	bool gone;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	stat = test_read_file(path);
	if (!stat)
		return true;
	close_paren = strrchr(stat, ')');
	gone = close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
	free(stat);
	return gone;
}

/* Waits up to 3 s for PID to be gone. */
static inline bool test_wait_pid_gone(pid_t pid)
{
	for (int i = 0; i < 300; i++) {
		if (test_pid_gone(pid))
			return true;
		usleep(10000);
	}
	return false;
}

static inline double test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A device on a fixture agent (borrowed strings: nothing to free but the
 * agent_dir, which the caller owns).
 */
static inline struct fence_device test_device(const char *name, const char *agent,
					      const char *agent_dir, unsigned level,
					      unsigned timeout_s, char **options, size_t n_options)
{
	return (struct fence_device){
		.name = (char *)name,
		.agent = (char *)agent,
		.agent_dir = (char *)agent_dir,
		.level = level,
		.timeout_s = timeout_s,
		.options = options,
		.n_options = n_options,
	};
}
