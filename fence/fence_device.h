/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fence_device: one fence device of a host, as the configuration describes it
 * ([fence NAME] in hasvc.conf): which agent to run, where to find it, how long
 * one action may take, the agent's own options, and the level at which the
 * device is tried.
 *
 * The agent is a standard fence agent (fence-agents: fence_ipmilan, fence_ilo,
 * fence_virsh, ...). It is named either by a bare name ("fence_ipmilan"),
 * looked up in agent_dir only (never in $PATH), or by an absolute path.
 *
 * Options are "key=value" strings handed to the agent unchanged, one per
 * line on its stdin (see fence_action.h). They are checked before anything is
 * run: a line without '=', with an empty or odd key, with a newline or a
 * carriage return, or setting "action" (which hasvc writes itself) is refused.
 *
 * Nothing here logs: a function that can fail returns -errno and, when asked,
 * a malloc'd message for the caller to log.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define FENCE_AGENT_DIR_DEFAULT "/usr/sbin"
#define FENCE_TIMEOUT_DEFAULT_S 20
/* Options (all lines with their newlines) must fit in one pipe buffer. */
#define FENCE_OPTIONS_MAX_BYTES 32768

/*
 * What a fence agent is asked to do; the names are the fence-agents "action"
 * values. (A verb, not "enum fence_action": that tag is the running action.)
 */
enum fence_verb {
	FENCE_OFF,      /* power the host off; exit 0 = done */
	FENCE_ON,       /* power the host on; exit 0 = done */
	FENCE_REBOOT,   /* off then on; exit 0 = done */
	FENCE_STATUS,   /* exit 0 = powered on, 2 = powered off, 1 = cannot tell */
	FENCE_MONITOR,  /* is the device reachable; exit 0 = yes */
	FENCE_METADATA, /* the agent's XML self-description on stdout */
	_FENCE_VERB_MAX,
};

/* The power state a status action found. */
enum fence_power {
	FENCE_POWER_UNKNOWN, /* not a status action, or it failed */
	FENCE_POWER_ON,
	FENCE_POWER_OFF,
};

struct fence_device {
	char *name;      /* for messages and the fence log, e.g. "node1-ipmi" */
	char *agent;     /* "fence_ipmilan" (looked up in agent_dir) or an absolute path */
	char *agent_dir; /* NULL: FENCE_AGENT_DIR_DEFAULT */
	unsigned level;  /* 1 is tried first */
	unsigned timeout_s; /* per action; the whole process group is killed after it */
	char **options;  /* "key=value", written to the agent's stdin in this order */
	size_t n_options;
};

/*
 * A device owning copies of everything given. agent_dir may be NULL; options
 * may be NULL when n_options is 0. Values are not checked here: that is
 * fence_device_validate().
 */
int fence_device_new(const char *name, const char *agent, const char *agent_dir, unsigned level,
		     unsigned timeout_s, const char *const *options, size_t n_options,
		     struct fence_device **ret);
void fence_device_free(struct fence_device *dev);

/*
 * Checks what can be checked without running anything: the name and options
 * are well-formed, the timeout is at least 1 s, the agent exists and is an
 * executable regular file. On failure returns -errno (-EINVAL for a bad
 * option, -ENOENT for a missing agent, -EACCES for one that is not
 * executable) and, when ret_error is not NULL, a malloc'd message there.
 */
int fence_device_validate(const struct fence_device *dev, char **ret_error);

/*
 * Checks one option line: "key=value", key of [A-Za-z0-9_-], no newline or
 * carriage return anywhere, key not "action". Same error convention.
 */
int fence_option_validate(const char *option, char **ret_error);

/*
 * The absolute path of the device's agent, checked to be an executable
 * regular file: "fence agent 'fence_foo' not found in /usr/sbin" (-ENOENT),
 * "... is not executable" (-EACCES). Same error convention.
 */
int fence_device_agent_path(const struct fence_device *dev, char **ret_path, char **ret_error);

/*
 * Whether the device's agent verifies its own "off": it exits 0 only once it
 * has read the power back as off, so a separate "status" would read the same
 * BMC a second time and add nothing but its run time (~0.2-0.6 s of python
 * and ipmitool). True for fence_ipmilan and the agents that are the same
 * script under another name (fence_idrac, fence_ilo3/4/5, fence_imm,
 * fence_ipmilanplus): fence-agents' fencing library (lib/fencing.py.py,
 * fence_action -> set_multi_power_fn -> async_set_multi_power_fn) powers off,
 * then polls get_power_status until it reads "off" and fails the action
 * (EC_WAITING_OFF, exit 1) when power_timeout runs out first; an "off" of a
 * host already off is answered from a status read too ("Success: Already
 * OFF"). Judged by the agent's base name; any other agent is verified with
 * "status" (docs/fencing.md).
 */
bool fence_device_off_verifies(const struct fence_device *dev);

/* "off", "on", "reboot", "status", "monitor", "metadata"; NULL when out of range. */
const char *fence_verb_to_string(enum fence_verb verb);
/* The verb for a name, or -EINVAL. */
int fence_verb_from_string(const char *s);
const char *fence_power_to_string(enum fence_power power);
