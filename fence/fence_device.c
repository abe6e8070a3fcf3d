// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence_device: the description of one fence device, and the checks done on
 * it before an agent is ever started.
 *
 * An agent named without a '/' is looked up in the device's agent_dir alone;
 * $PATH is never searched, so what runs is exactly what the configuration
 * names. A relative path is refused for the same reason.
 *
 * Option lines travel on the agent's stdin, one per line (fence_action.c).
 * A newline inside an option would start a second option the operator never
 * wrote (and "action=" sneaked in that way could turn an "off" into an "on"),
 * so newlines and carriage returns are refused here, before spawning, and so
 * is any attempt to set "action" directly.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fence_device.h"
#include "fence_util.h"

static const char *const verb_names[_FENCE_VERB_MAX] = {
	[FENCE_OFF] = "off",
	[FENCE_ON] = "on",
	[FENCE_REBOOT] = "reboot",
	[FENCE_STATUS] = "status",
	[FENCE_MONITOR] = "monitor",
	[FENCE_METADATA] = "metadata",
};

/* Stores a formatted message in *ret_error (when asked for) and returns err. */
static int fail(char **ret_error, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int err, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (!ret_error)
		return err;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*ret_error = s;
	return err;
}

const char *fence_verb_to_string(enum fence_verb verb)
{
	if ((unsigned)verb >= _FENCE_VERB_MAX)
		return NULL;
	return verb_names[verb];
}

int fence_verb_from_string(const char *s)
{
	for (unsigned i = 0; i < _FENCE_VERB_MAX; i++)
		if (s && strcmp(s, verb_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

const char *fence_power_to_string(enum fence_power power)
{
	switch (power) {
	case FENCE_POWER_ON: return "on";
	case FENCE_POWER_OFF: return "off";
	default: return "unknown";
	}
}

int fence_device_new(const char *name, const char *agent, const char *agent_dir, unsigned level,
		     unsigned timeout_s, const char *const *options, size_t n_options,
		     struct fence_device **ret)
{
	struct fence_device *dev;

	if (!name || !agent || (n_options > 0 && !options) || !ret)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->level = level;
	dev->timeout_s = timeout_s;
	dev->name = strdup(name);
	dev->agent = strdup(agent);
	if (agent_dir)
		dev->agent_dir = strdup(agent_dir);
	if (n_options > 0)
		dev->options = calloc(n_options, sizeof(*dev->options));
	if (!dev->name || !dev->agent || (agent_dir && !dev->agent_dir) ||
	    (n_options > 0 && !dev->options))
		goto out_nomem;
	for (; dev->n_options < n_options; dev->n_options++) {
		dev->options[dev->n_options] = strdup(options[dev->n_options]);
		if (!dev->options[dev->n_options])
			goto out_nomem;
	}
	*ret = dev;
	return 0;

out_nomem:
	fence_device_free(dev);
	return -ENOMEM;
}

void fence_device_free(struct fence_device *dev)
{
	if (!dev)
		return;
	for (size_t i = 0; i < dev->n_options; i++)
		free(dev->options[i]);
	free(dev->options);
	free(dev->name);
	free(dev->agent);
	free(dev->agent_dir);
	free(dev);
}

/* fence_ipmilan and its aliases: one script, installed under each name */
static const char *const self_verifying_agents[] = {
	"fence_ipmilan", "fence_ipmilanplus", "fence_idrac", "fence_ilo3",
	"fence_ilo4",    "fence_ilo5",        "fence_imm",
};

bool fence_device_off_verifies(const struct fence_device *dev)
{
	const char *base;

	if (!dev || !dev->agent)
		return false;
	base = strrchr(dev->agent, '/');
	base = base ? base + 1 : dev->agent;
	for (size_t i = 0; i < sizeof(self_verifying_agents) / sizeof(*self_verifying_agents); i++)
		if (strcmp(base, self_verifying_agents[i]) == 0)
			return true;
	return false;
}

int fence_option_validate(const char *option, char **ret_error)
{
	const char *eq;

	if (!option)
		return fail(ret_error, -EINVAL, "missing option");
	if (strpbrk(option, "\n\r"))
		return fail(ret_error, -EINVAL, "option '%.*s...' contains a line break",
			    (int)strcspn(option, "\n\r"), option);
	eq = strchr(option, '=');
	if (!eq)
		return fail(ret_error, -EINVAL, "option '%s' is not key=value", option);
	if (eq == option)
		return fail(ret_error, -EINVAL, "option '%s' has an empty key", option);
	for (const char *p = option; p < eq; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		      ('0' <= *p && *p <= '9') || *p == '_' || *p == '-'))
			return fail(ret_error, -EINVAL,
				    "option '%.*s': a key has only letters, digits, '_' and '-'",
				    (int)(eq - option), option);
	if ((size_t)(eq - option) == strlen("action") && strncmp(option, "action", 6) == 0)
		return fail(ret_error, -EINVAL,
			    "option 'action' cannot be configured: hasvc sets it per action");
	return 0;
}

int fence_device_agent_path(const struct fence_device *dev, char **ret_path, char **ret_error)
{
	const char *dir = dev->agent_dir ? dev->agent_dir : FENCE_AGENT_DIR_DEFAULT;
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (!dev->agent || !dev->agent[0])
		return fail(ret_error, -EINVAL, "fence device '%s' names no agent",
			    dev->name ? dev->name : "?");
	if (strchr(dev->agent, '/')) {
		if (dev->agent[0] != '/')
			return fail(ret_error, -EINVAL,
				    "fence agent '%s' must be a bare name or an absolute path",
				    dev->agent);
		path = strdup(dev->agent);
	} else {
		if (strcmp(dev->agent, ".") == 0 || strcmp(dev->agent, "..") == 0)
			return fail(ret_error, -EINVAL, "fence agent '%s' is not a name",
				    dev->agent);
		path = fence__strdupf("%s/%s", dir, dev->agent);
	}
	if (!path)
		return -ENOMEM;

	if (stat(path, &st) < 0) {
		int err = -errno;

		if (err == -ENOENT && !strchr(dev->agent, '/'))
			return fail(ret_error, err, "fence agent '%s' not found in %s", dev->agent,
				    dir);
		if (err == -ENOENT)
			return fail(ret_error, err, "fence agent '%s' not found", path);
		return fail(ret_error, err, "cannot look at fence agent '%s': %s", path,
			    strerror(-err));
	}
	if (!S_ISREG(st.st_mode))
		return fail(ret_error, -EACCES, "fence agent '%s' is not a regular file", path);
	if (access(path, X_OK) < 0)
		return fail(ret_error, -EACCES, "fence agent '%s' is not executable", path);

	*ret_path = TAKE_PTR(path);
	return 0;
}

int fence_device_validate(const struct fence_device *dev, char **ret_error)
{
	_cleanup_free_ char *path = NULL;
	size_t bytes = 0;
	int r;

	if (!dev)
		return -EINVAL;
	if (!dev->name || !dev->name[0])
		return fail(ret_error, -EINVAL, "fence device has no name");
	if (dev->timeout_s < 1)
		return fail(ret_error, -EINVAL, "fence device '%s': timeout must be 1 s or more",
			    dev->name);
	for (size_t i = 0; i < dev->n_options; i++) {
		_cleanup_free_ char *why = NULL;

		r = fence_option_validate(dev->options[i], &why);
		if (r < 0)
			return fail(ret_error, r, "fence device '%s': %s", dev->name,
				    why ? why : strerror(-r));
		bytes += strlen(dev->options[i]) + 1;
	}
	if (bytes + 64 > FENCE_OPTIONS_MAX_BYTES)
		return fail(ret_error, -E2BIG, "fence device '%s': options exceed %d bytes",
			    dev->name, FENCE_OPTIONS_MAX_BYTES);
	return fence_device_agent_path(dev, &path, ret_error);
}
