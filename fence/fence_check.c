// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence_check: validate a device, then run its agent's "monitor" action and
 * turn the outcome into one line for the operator (see fence_check.h). A
 * device that fails validation is never run: the report says why instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fence_action.h"
#include "fence_check.h"
#include "fence_util.h"

int fence_check_run_sync(const struct fence_device *dev, char **ret_report)
{
	_cleanup_free_ char *why = NULL;
	struct fence_action_result *res = NULL;
	const char *name;
	char *report;
	int r;

	if (!dev || !dev->agent)
		return -EINVAL;
	name = dev->name ? dev->name : dev->agent;
	r = fence_device_validate(dev, &why);
	if (r < 0) {
		report = fence__strdupf("device '%s' (%s, level %u): %s", name, dev->agent,
					dev->level, why ? why : strerror(-r));
		goto out;
	}
	r = fence_action_run_sync(dev, FENCE_MONITOR, &res);
	if (r < 0) {
		report = fence__strdupf("device '%s' (%s, level %u): cannot run monitor: %s",
					name, dev->agent, dev->level, strerror(-r));
		goto out;
	}
	r = res->error;
	if (r == 0)
		report = fence__strdupf("device '%s' (%s, level %u): ok, monitor answered in "
					"%.1f s",
					name, dev->agent, dev->level,
					(double)res->duration_usec / 1e6);
	else
		report = fence__strdupf("device '%s' (%s, level %u): %s", name, dev->agent,
					dev->level, res->message);
	fence_action_result_free(res);
out:
	if (ret_report)
		*ret_report = report;
	else
		free(report);
	return r;
}
