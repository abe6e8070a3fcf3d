// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_daemon: start-up, the main loop and shut-down of hasvcd.
 *
 * Order of start-up, each step failing loudly with what to fix:
 *   1. configuration (file:line errors);
 *   2. logging at the configured level;
 *   3. the qb_loop and its signal handlers (SIGTERM/SIGINT stop it);
 *   4. the cluster connection (corosync may come later: hs_cluster retries);
 *   5. the API sockets.
 * Shut-down is the same in reverse, from one place.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <qb/qblog.h>

#include "hs_daemon.h"
#include "hs_coord.h"
#include "hs_pairs.h"
#include "hs_fencing.h"
#include "hs_state.h"
#include "sdb_repl.h"
#include "hs_web.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"

static int log_priority(const char *level)
{
	if (strcmp(level, "error") == 0)
		return LOG_ERR;
	if (strcmp(level, "warning") == 0)
		return LOG_WARNING;
	if (strcmp(level, "debug") == 0)
		return LOG_DEBUG;
	return LOG_INFO;
}

static void log_setup(int priority)
{
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_REMOVE, QB_LOG_FILTER_FILE, "*", LOG_TRACE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", priority);
	qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_REMOVE, QB_LOG_FILTER_FILE, "*", LOG_TRACE);
	qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", priority);
}

static int32_t signal_stop(int32_t sig, void *data)
{
	struct hs_daemon *d = data;

	qb_log(LOG_NOTICE, "signal %s: stopping", strsignal(sig));
	qb_loop_stop(d->loop);
	return 0;
}

#define CRON_MS 300

/*
 * The daemon's one periodic timer, every CRON_MS:
 *   - state: re-send changes corosync refused with TRY_AGAIN; the coordinator
 *     records membership in the replicated nodes table;
 *   - coordinator: fence hosts that were lost (and retry failed fences);
 *   - pairs: every host's duties, the coordinator's plan (hs_pairs.h).
 */
static void cron(void *data)
{
	struct hs_daemon *d = data;

	hs_state_cron(d);
	hs_coord_cron(d->coord);
	hs_pairs_cron(d->pairs);
	qb_loop_timer_add(d->loop, QB_LOOP_LOW, CRON_MS * 1000000ULL, d, cron, &d->cron);
}

static void kicked(void *data)
{
	struct hs_daemon *d = data;

	d->kick_pending = false;
	hs_coord_cron(d->coord);
	hs_pairs_cron(d->pairs);
}

void hs_daemon_kick(struct hs_daemon *d)
{
	qb_loop_timer_handle t;

	if (d->kick_pending || !d->pairs || !d->coord)
		return;
	if (qb_loop_timer_add(d->loop, QB_LOOP_MED, 0, d, kicked, &t) == 0)
		d->kick_pending = true;
}

static void cluster_confchg(void *userdata, const uint32_t *members, size_t n)
{
	struct hs_daemon *d = userdata;
	int r = sdb_repl_confchg(d->repl, members, n);

	if (r < 0)
		qb_log(LOG_ERR, "cannot start a state sync round: %s", strerror(-r));
}

static void cluster_deliver(void *userdata, uint32_t sender, const void *msg, size_t len)
{
	struct hs_daemon *d = userdata;
	int r = sdb_repl_deliver(d->repl, sender, msg, len);

	if (r < 0)
		qb_log(LOG_WARNING, "ignoring a message of %zu bytes from nodeid %u: %s", len, sender,
		       strerror(-r));
}

static void cluster_changed(void *userdata, const struct hs_cluster_view *view)
{
	qb_log(LOG_DEBUG, "cluster view: joined=%d quorate=%d coordinator=%u ring=%llu",
	       view->joined, view->quorate, view->coordinator, (unsigned long long)view->ring_id);
	hs_daemon_kick(userdata);
}

int hs_daemon_run(const char *config_path)
{
	struct hs_daemon d = {0};
	_cleanup_free_ char *error = NULL;
	struct hs_cluster_callbacks cluster_cb = {
		.change = cluster_changed,
		.confchg = cluster_confchg,
		.deliver = cluster_deliver,
		.userdata = &d,
	};
	int r;

	r = hs_config_load(config_path, &d.config, &error);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot load configuration: %s", error ? error : strerror(-r));
		return r;
	}
	log_setup(log_priority(d.config->log_level));
	d.self = hs_config_node_by_name(d.config, d.config->node_name);
	d.started_usec = hs_now_usec(CLOCK_REALTIME);

	d.loop = qb_loop_create();
	if (!d.loop) {
		r = -ENOMEM;
		qb_log(LOG_ERR, "cannot create the main loop");
		goto out_free;
	}
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGTERM, &d, signal_stop, NULL);
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGINT, &d, signal_stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = hs_state_open(&d);
	if (r < 0)
		goto out_free; /* hs_state logged why */
	r = hs_cluster_new(d.loop, d.config, &cluster_cb, &d.cluster);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot set up the cluster connection: %s", strerror(-r));
		goto out_free;
	}
	r = hs_fencing_new(&d, &d.fencing);
	if (r < 0)
		goto out_free;
	r = hs_coord_new(&d, &d.coord);
	if (r < 0)
		goto out_free;
	r = hs_pairs_new(&d, &d.pairs);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot start the libvirt thread: %s", strerror(-r));
		goto out_free;
	}
	r = hs_web_new(&d, &d.web);
	if (r < 0)
		goto out_free; /* hs_web logged why */

	qb_loop_timer_add(d.loop, QB_LOOP_LOW, CRON_MS * 1000000ULL, &d, cron, &d.cron);

	qb_log(LOG_NOTICE, "hasvcd %s started on %s (nodeid %u), API on %s", HASVC_VERSION,
	       d.self->name, d.self->nodeid, d.config->api_socket);
	qb_loop_run(d.loop);
	r = 0;

out_free:
	hs_coord_free(d.coord);
	hs_fencing_free(d.fencing);
	hs_web_free(d.web);
	hs_pairs_free(d.pairs);
	hs_cluster_free(d.cluster);
	hs_state_close(&d);
	if (d.loop)
		qb_loop_destroy(d.loop);
	hs_config_free(d.config);
	return r;
}
