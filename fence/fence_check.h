/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fence_check: `hasvc fence check` for one device: is it configured right,
 * and does it answer? The configuration is checked first (options, agent
 * present and executable), then the agent's "monitor" action runs: 0 means
 * the device (BMC, PDU, ...) is reachable with these credentials. Nothing is
 * powered on or off.
 */
#pragma once

#include "fence_device.h"

/*
 * Returns 0 when the device answered, -errno otherwise (as
 * fence_action_result.error, or from fence_device_validate()). In both cases,
 * when ret_report is not NULL, a malloc'd line for the operator goes there:
 * "device 'node1-ipmi' (fence_ipmilan, level 1): ok, monitor answered in 0.2 s"
 * or "device 'node1-ipmi' (fence_ipmilan, level 1): fence agent fence_ipmilan
 * (monitor) failed: ...". Runs a loop of its own: for the CLI and tests.
 */
int fence_check_run_sync(const struct fence_device *dev, char **ret_report);
