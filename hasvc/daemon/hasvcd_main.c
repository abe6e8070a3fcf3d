// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hasvcd: the hasvc daemon, one per host. Only option parsing lives here;
 * everything else is hs_daemon_run().
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_config.h"
#include "hs_daemon.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: hasvcd [-c CONFIG] [-f] [-v]\n"
		     "  -c, --config PATH   configuration file (default %s)\n"
		     "  -f, --foreground    log to stderr as well as syslog\n"
		     "  -V, --version       print the version and exit\n",
		HS_CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"foreground", no_argument, NULL, 'f'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *config = HS_CONFIG_DEFAULT_PATH;
	int foreground = 0, c, r;

	while ((c = getopt_long(argc, argv, "c:fVh", options, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'f': foreground = 1; break;
		case 'V': printf("hasvcd %s\n", HASVC_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "hasvcd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	qb_log_init("hasvcd", LOG_DAEMON, LOG_INFO);
	/* milliseconds: failover steps are tens of ms apart (docs/performance.md) */
	qb_log_format_set(QB_LOG_STDERR, "%T %N[%P] %p: %b");
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, foreground ? QB_TRUE : QB_FALSE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_INFO);
	r = hs_daemon_run(config);
	qb_log_fini();
	return r < 0 ? 1 : 0;
}
