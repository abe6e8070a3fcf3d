// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of fence_device: option lines and agent lookup are checked before
 * anything runs, with the message an operator will read.
 */
#include <criterion/criterion.h>

#include "fence_device.h"
#include "fence_test.h"

Test(fence_device, good_options)
{
	cr_assert_eq(fence_option_validate("ip=192.0.2.1", NULL), 0);
	cr_assert_eq(fence_option_validate("password=a=b=c", NULL), 0, "'=' in a value is fine");
	cr_assert_eq(fence_option_validate("lanplus=", NULL), 0, "an empty value is fine");
	cr_assert_eq(fence_option_validate("ipmitool_path=/usr/bin/ipmitool", NULL), 0);
	cr_assert_eq(fence_option_validate("power-wait=3", NULL), 0);
}

Test(fence_device, bad_options)
{
	static const struct {
		const char *option;
		const char *message;
	} cases[] = {
		{"lanplus", "option 'lanplus' is not key=value"},
		{"=x", "option '=x' has an empty key"},
		{"ip=1.2.3.4\naction=on", "option 'ip=1.2.3.4...' contains a line break"},
		{"ip=1.2.3.4\r", "option 'ip=1.2.3.4...' contains a line break"},
		{"action=on", "option 'action' cannot be configured: hasvc sets it per action"},
		{"a b=c", "option 'a b': a key has only letters, digits, '_' and '-'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *msg = NULL;

		cr_assert_eq(fence_option_validate(cases[i].option, &msg), -EINVAL, "%s",
			     cases[i].option);
		cr_assert_str_eq(msg, cases[i].message);
		free(msg);
	}
}

Test(fence_device, missing_agent)
{
	struct fence_device dev = test_device("d", "fence_nope", NULL, 1, 5, NULL, 0);
	char *msg = NULL, *path = NULL;

	cr_assert_eq(fence_device_agent_path(&dev, &path, &msg), -ENOENT);
	cr_assert_str_eq(msg, "fence agent 'fence_nope' not found in /usr/sbin");
	cr_assert_null(path);
	free(msg);

	dev.agent = "/nonexistent/fence_x";
	cr_assert_eq(fence_device_validate(&dev, &msg), -ENOENT);
	cr_assert_str_eq(msg, "fence agent '/nonexistent/fence_x' not found");
	free(msg);
}

Test(fence_device, agent_lookup)
{
	char *dir = test_path("agents"), *path = NULL, *msg = NULL, *want;
	struct fence_device dev = test_device("d", "fence_record", dir, 1, 5, NULL, 0);

	cr_assert_eq(fence_device_agent_path(&dev, &path, &msg), 0, "%s", msg);
	cr_assert(asprintf(&want, "%s/fence_record", dir) > 0);
	cr_assert_str_eq(path, want);
	free(path);

	dev.agent = "bin/fence_record";
	cr_assert_eq(fence_device_agent_path(&dev, &path, &msg), -EINVAL);
	cr_assert_str_eq(msg,
			 "fence agent 'bin/fence_record' must be a bare name or an absolute path");
	free(msg);

	dev.agent = "..";
	cr_assert_eq(fence_device_agent_path(&dev, &path, &msg), -EINVAL);
	free(msg);
	free(want);
	free(dir);
}

Test(fence_device, not_executable)
{
	char *tmp = test_mkdtemp(), *file, *msg = NULL;
	struct fence_device dev = test_device("d", "fence_plain", tmp, 1, 5, NULL, 0);
	FILE *f;

	cr_assert(asprintf(&file, "%s/fence_plain", tmp) > 0);
	f = fopen(file, "w");
	cr_assert(f);
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	chmod(file, 0644);

	cr_assert_eq(fence_device_validate(&dev, &msg), -EACCES);
	cr_assert(strstr(msg, "is not executable"), "%s", msg);
	free(msg);

	dev.agent = tmp; /* a directory */
	cr_assert_eq(fence_device_validate(&dev, &msg), -EACCES);
	cr_assert(strstr(msg, "is not a regular file"), "%s", msg);
	free(msg);

	free(file);
	test_rmdir(tmp);
	free(tmp);
}

Test(fence_device, validate_names_the_device)
{
	char *dir = test_path("agents"), *msg = NULL;
	char *opts[] = {"ip=1.2.3.4", "oops"};
	struct fence_device dev = test_device("node1-ipmi", "fence_record", dir, 1, 5, opts, 2);

	cr_assert_eq(fence_device_validate(&dev, &msg), -EINVAL);
	cr_assert_str_eq(msg, "fence device 'node1-ipmi': option 'oops' is not key=value");
	free(msg);

	dev.n_options = 1;
	dev.timeout_s = 0;
	cr_assert_eq(fence_device_validate(&dev, &msg), -EINVAL);
	cr_assert_str_eq(msg, "fence device 'node1-ipmi': timeout must be 1 s or more");
	free(msg);

	dev.timeout_s = 5;
	cr_assert_eq(fence_device_validate(&dev, &msg), 0);
	free(dir);
}

Test(fence_device, new_copies)
{
	const char *opts[] = {"a=1", "b=2"};
	struct fence_device *dev = NULL;

	cr_assert_eq(fence_device_new("n", "fence_x", NULL, 2, 7, opts, 2, &dev), 0);
	cr_assert_str_eq(dev->name, "n");
	cr_assert_null(dev->agent_dir);
	cr_assert_eq(dev->level, 2);
	cr_assert_eq(dev->timeout_s, 7);
	cr_assert_eq(dev->n_options, 2);
	cr_assert_neq((void *)dev->options[1], (void *)opts[1]);
	cr_assert_str_eq(dev->options[1], "b=2");
	fence_device_free(dev);
	fence_device_free(NULL);
}

Test(fence_device, verbs)
{
	for (int v = 0; v < _FENCE_VERB_MAX; v++)
		cr_assert_eq(fence_verb_from_string(fence_verb_to_string(v)), v);
	cr_assert_str_eq(fence_verb_to_string(FENCE_OFF), "off");
	cr_assert_str_eq(fence_verb_to_string(FENCE_STATUS), "status");
	cr_assert_eq(fence_verb_from_string("explode"), -EINVAL);
	cr_assert_null(fence_verb_to_string(_FENCE_VERB_MAX));
}

Test(fence_device, off_verifies_only_for_fence_ipmilan_and_its_aliases)
{
	struct fence_device dev = test_device("d", "fence_ipmilan", NULL, 1, 5, NULL, 0);

	cr_assert(fence_device_off_verifies(&dev));
	dev.agent = "/usr/sbin/fence_idrac";
	cr_assert(fence_device_off_verifies(&dev));
	dev.agent = "fence_ilo4";
	cr_assert(fence_device_off_verifies(&dev));
	/* anything else is verified with "status" */
	dev.agent = "fence_stillon";
	cr_assert_not(fence_device_off_verifies(&dev));
	dev.agent = "fence_ipmilan.sh";
	cr_assert_not(fence_device_off_verifies(&dev));
	dev.agent = "/opt/fence_ipmilan/fence_virsh";
	cr_assert_not(fence_device_off_verifies(&dev));
	dev.agent = NULL;
	cr_assert_not(fence_device_off_verifies(&dev));
	cr_assert_not(fence_device_off_verifies(NULL));
}
