/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_name: the one rule for a name that hasvc accepts from the outside: a
 * VM (a libvirt domain), a host in hasvc.conf, a name in an API path.
 *
 * 1 to HS_NAME_MAX characters of letters, digits, '-', '_' and '.', and not
 * "." or "..": such a name is safe in a URL, a file name, a log line and a
 * Prometheus label without quoting. Every buffer that holds a name is
 * HS_NAME_MAX + 1 bytes, so no copy ever cuts one short (a cut name once made
 * a "cannot leave maintenance" event repeat on every cron tick).
 */
#pragma once

#include <stdbool.h>

#define HS_NAME_MAX 64

/* The text of the rule, for error messages. */
#define HS_NAME_RULE "letters, digits, '-', '_', '.'; at most 64"

bool hs_name_valid(const char *s);
