// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_daemon: start-up, the main loop and shut-down of hasvcd.
 *
 * Order of start-up, each step failing loudly with what to fix:
 *   1. configuration (file:line errors);
 *   2. logging at the configured level;
 *   3. the core: the qb_loop, the replicated state, the cluster connection
 *      (corosync may come later: hs_cluster retries);
 *   4. the parts: fencing and the coordinator (coord/), the pairs with their
 *      libvirt thread (pairs/), the API sockets (api/);
 *   5. the hooks: the core's changes wake the API's event streams, and kick
 *      the coordinator's and the pairs' rounds;
 *   6. signal handlers (SIGTERM/SIGINT stop the loop) and the cron.
 * Shut-down is the same in reverse, from one place.
 *
 * The picture of who calls whom is in docs/architecture.md.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_api.h"
#include "hs_cleanup.h"
#include "hs_coord.h"
#include "hs_core.h"
#include "hs_daemon.h"
#include "hs_fencing.h"
#include "hs_pairs.h"
#include "hs_service.h"

#define CRON_MS 300

struct hs_daemon {
	struct hs_core *core;
	struct hs_fencing *fencing;
	struct hs_coord *coord;
	struct hs_pairs *pairs;
	struct hs_api *api;
	qb_loop_timer_handle cron;
	bool kick_pending;
	bool retry_pending; /* a state_retry() timer is armed */
	unsigned retries;   /* its attempts since the state last sent everything */
	struct hs_service service; /* what systemd is told */
};

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
	hs_service_stopping(&d->service);
	qb_loop_stop(d->core->loop);
	return 0;
}

static void state_retry_arm(struct hs_daemon *d);

/*
 * The daemon's one periodic timer, every CRON_MS:
 *   - state: re-send changes corosync refused with TRY_AGAIN, and what waited
 *     in the outbox for a sync round to end;
 *   - coordinator: record membership in the replicated nodes table, fence
 *     hosts that were lost (and retry failed fences);
 *   - pairs: every host's duties, the coordinator's plan (hs_pairs.h);
 *   - the service manager: the watchdog ping, READY once synced, STATUS
 *     when its line changed (hs_service.h).
 */
static void cron(void *data)
{
	struct hs_daemon *d = data;

	hs_state_cron(d->core);
	d->retries = 0; /* the cron's own retry: the next refusal starts at 10 ms again */
	state_retry_arm(d);
	hs_coord_nodes_reconcile(d->coord);
	hs_coord_cron(d->coord);
	hs_pairs_cron(d->pairs);
	hs_service_update(&d->service, d->core);
	qb_loop_timer_add(d->core->loop, QB_LOOP_LOW, CRON_MS * 1000000ULL, d, cron, &d->cron);
}

/*
 * What corosync refused (TRY_AGAIN while it syncs a new membership: the sync
 * round that follows a lost host) is sent again in 10, 20, 40... ms, not at
 * the next cron: the cron's wait was 0-300 ms of a failover's path, before
 * the fence (docs/performance.md). From CRON_MS on the cron retries alone.
 */
static void state_retry(void *data)
{
	struct hs_daemon *d = data;

	d->retry_pending = false;
	hs_state_cron(d->core);
	state_retry_arm(d);
}

static void state_retry_arm(struct hs_daemon *d)
{
	qb_loop_timer_handle t;
	unsigned ms;

	if (!hs_state_sends_waiting(d->core)) {
		d->retries = 0;
		return;
	}
	ms = hs_state_retry_ms(d->retries, CRON_MS);
	if (d->retry_pending || ms == 0)
		return;
	if (qb_loop_timer_add(d->core->loop, QB_LOOP_MED, ms * 1000000ULL, d, state_retry, &t) == 0) {
		d->retry_pending = true;
		d->retries++;
	}
}

static void kicked(void *data)
{
	struct hs_daemon *d = data;

	d->kick_pending = false;
	/* what corosync refused, and what waited for the sync round to end */
	hs_state_cron(d->core);
	state_retry_arm(d);
	/*
	 * The membership first: a lost host is fenced only once the nodes
	 * table says it is offline, and waiting for the cron to record that
	 * cost up to CRON_MS on every failover (docs/performance.md).
	 */
	hs_coord_nodes_reconcile(d->coord);
	hs_coord_cron(d->coord);
	hs_pairs_cron(d->pairs);
}

/*
 * Runs the coordinator's and the pairs' rounds soon, once, instead of at the
 * next cron tick, so that a failover does not wait for the timer: a
 * membership change, a change applied from the cluster, a local event.
 */
static void kick(struct hs_daemon *d)
{
	qb_loop_timer_handle t;

	if (d->kick_pending || !d->pairs || !d->coord)
		return;
	if (qb_loop_timer_add(d->core->loop, QB_LOOP_MED, 0, d, kicked, &t) == 0)
		d->kick_pending = true;
}

/* The core's change hook: what each kind of change asks of the parts. */
static void core_changed(void *userdata, enum hs_core_change what)
{
	struct hs_daemon *d = userdata;

	switch (what) {
	case HS_CORE_LOGGED:
		hs_api_changed(d->api);
		break;
	case HS_CORE_APPLIED:
		hs_api_changed(d->api);
		kick(d);
		break;
	case HS_CORE_SYNCED:
	case HS_CORE_MEMBERSHIP:
		hs_service_update(&d->service, d->core);
		kick(d);
		break;
	case HS_CORE_LOCAL:
		kick(d);
		break;
	}
}

int hs_daemon_run(const char *config_path)
{
	struct hs_daemon d = {0};
	_cleanup_free_ char *error = NULL;
	struct hs_config *config = NULL;
	int r;

	r = hs_config_load(config_path, &config, &error);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot load configuration: %s", error ? error : strerror(-r));
		return r;
	}
	log_setup(log_priority(config->log_level));
	hs_service_init(&d.service);
	r = hs_core_new(config, &d.core);
	if (r < 0)
		return r; /* hs_core logged why */
	r = hs_core_on_change(d.core, core_changed, &d);
	if (r < 0)
		goto out_free;
	r = hs_fencing_new(d.core, &d.fencing);
	if (r < 0)
		goto out_free;
	r = hs_coord_new(d.core, d.fencing, &d.coord);
	if (r < 0)
		goto out_free;
	r = hs_pairs_new(d.core, &d.pairs);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot start the libvirt thread: %s", strerror(-r));
		goto out_free;
	}
	r = hs_api_new(d.core, d.pairs, d.fencing, &d.api);
	if (r < 0)
		goto out_free; /* hs_api logged why */

	qb_loop_signal_add(d.core->loop, QB_LOOP_HIGH, SIGTERM, &d, signal_stop, NULL);
	qb_loop_signal_add(d.core->loop, QB_LOOP_HIGH, SIGINT, &d, signal_stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	qb_loop_timer_add(d.core->loop, QB_LOOP_LOW, CRON_MS * 1000000ULL, &d, cron, &d.cron);

	qb_log(LOG_NOTICE, "hasvcd %s started on %s (nodeid %u), API on %s", HASVC_VERSION,
	       d.core->self->name, d.core->self->nodeid, d.core->config->api_socket);
	qb_loop_run(d.core->loop);
	r = d.core->failed ? -EINVAL : 0; /* hasvc.conf disagrees with corosync: logged */

out_free:
	hs_coord_free(d.coord);
	hs_fencing_free(d.fencing);
	hs_api_free(d.api);
	hs_pairs_free(d.pairs);
	hs_core_free(d.core);
	return r;
}
