// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fence_action_result: what one fence agent run says, to the caller and to
 * the fence log.
 *
 * The agent's end is classified by the fence-agents protocol: exit 0 is
 * success; status answers 0 for "on", 2 for "off" and 1 for "cannot tell";
 * exit 1 of any other verb is a failure the agent reported; any other code,
 * or a signal, is an answer the protocol does not have. A timeout (the run
 * killed its group) wins over how the process then ended. Each outcome gets
 * one line for the log, with the last line the agent printed (stderr first)
 * made printable, so an operator sees the agent's own words.
 *
 * A result handed to a callback belongs to the action; fence_action_result_dup
 * makes a copy that outlives it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence_action_internal.h"

#define DETAIL_MAX 240


/*
 * The last non-empty line of S (at most DETAIL_MAX bytes), with anything
 * unprintable replaced by '?': enough of the agent's own words for a log line
 * even when it printed junk.
 */
static void last_line(const char *s, size_t len, char *dst, size_t dst_size)
{
	size_t end = len, start, n, j = 0;

	while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r' || s[end - 1] == ' ' ||
			   s[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	n = end - start;
	if (n > DETAIL_MAX)
		start = end - DETAIL_MAX, n = DETAIL_MAX;
	for (size_t i = 0; i < n && j + 1 < dst_size; i++) {
		unsigned char c = (unsigned char)s[start + i];

		dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[j] = '\0';
}

/* ": <what the agent said>" or "" when it said nothing. */
static void agent_detail(const struct fence_action *a, char *dst, size_t dst_size)
{
	char line[DETAIL_MAX + 1];

	line[0] = '\0';
	if (a->err.len)
		last_line(a->err.buf, a->err.len, line, sizeof(line));
	if (!line[0] && a->out.len)
		last_line(a->out.buf, a->out.len, line, sizeof(line));
	if (line[0])
		snprintf(dst, dst_size, ": %s", line);
	else
		dst[0] = '\0';
}

int fence__action_message(struct fence_action *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(a->result.message);
	a->result.message = s;
	return s ? 0 : -ENOMEM;
}

/* fence_action_internal.h: from how the child ended. */
void fence__action_classify(struct fence_action *a, bool status_known, int code, int sig)
{
	struct fence_action_result *r = &a->result;
	const char *verb = fence_verb_to_string(a->verb);
	char detail[DETAIL_MAX + 8];

	agent_detail(a, detail, sizeof(detail));
	r->exit_status = code;
	r->term_signal = sig;

	if (a->timed_out) {
		r->timed_out = true;
		r->error = -ETIMEDOUT;
		fence__action_message(
		    a, "fence agent %s (%s) timed out after %u s; process group killed",
		    a->agent_name, verb, a->dev->timeout_s);
		return;
	}
	if (!status_known) {
		r->error = -ECHILD;
		fence__action_message(a,
				      "fence agent %s (%s): exit status lost (is SIGCHLD ignored?)",
				      a->agent_name, verb);
		return;
	}
	if (sig) {
		r->error = -EPROTO;
		fence__action_message(a, "fence agent %s (%s) was killed by signal %d (%s)%s",
				      a->agent_name, verb, sig, strsignal(sig), detail);
		return;
	}
	if (a->verb == FENCE_STATUS) {
		switch (code) {
		case 0:
			r->power = FENCE_POWER_ON;
			fence__action_message(a, "fence agent %s (status): power is on",
					      a->agent_name);
			return;
		case 2:
			r->power = FENCE_POWER_OFF;
			fence__action_message(a, "fence agent %s (status): power is off",
					      a->agent_name);
			return;
		case 1:
			r->error = -EIO;
			fence__action_message(
			    a, "fence agent %s (status) cannot tell the power state%s",
			    a->agent_name, detail);
			return;
		}
	} else {
		switch (code) {
		case 0:
			fence__action_message(a, "fence agent %s (%s) succeeded", a->agent_name,
					      verb);
			return;
		case 1:
			r->error = -EIO;
			fence__action_message(a, "fence agent %s (%s) failed%s", a->agent_name,
					      verb, detail);
			return;
		}
	}
	r->error = -EPROTO;
	fence__action_message(a, "fence agent %s (%s) exited with unexpected code %d%s",
			      a->agent_name, verb, code, detail);
}

int fence_action_result_dup(const struct fence_action_result *src,
			    struct fence_action_result **ret)
{
	struct fence_action_result *r;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = *src;
	r->device = src->device ? strdup(src->device) : NULL;
	r->agent = src->agent ? strdup(src->agent) : NULL;
	r->message = src->message ? strdup(src->message) : NULL;
	r->out = malloc(src->out_len + 1);
	r->err = malloc(src->err_len + 1);
	if ((src->device && !r->device) || (src->agent && !r->agent) ||
	    (src->message && !r->message) || !r->out || !r->err) {
		fence_action_result_free(r);
		return -ENOMEM;
	}
	if (src->out)
		memcpy(r->out, src->out, src->out_len);
	r->out[src->out ? src->out_len : 0] = '\0';
	if (src->err)
		memcpy(r->err, src->err, src->err_len);
	r->err[src->err ? src->err_len : 0] = '\0';
	*ret = r;
	return 0;
}

void fence_action_result_free(struct fence_action_result *r)
{
	if (!r)
		return;
	free(r->device);
	free(r->agent);
	free(r->out);
	free(r->err);
	free(r->message);
	free(r);
}
