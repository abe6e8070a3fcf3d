// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_service: READY, STATUS, WATCHDOG and STOPPING for the service manager
 * (see hs_service.h). READY waits for the cluster: a unit ordered after
 * hasvcd (a monitoring agent, a VM started through the API) must find a
 * daemon that answers with the cluster's state, not an empty one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "hs_clock.h"
#include "hs_core.h"
#include "hs_sd_notify.h"
#include "hs_service.h"
#include "sdb_repl.h"

static void sent(struct hs_service *s, int r, const char *what)
{
	if (r >= 0 || s->failed)
		return;
	s->failed = true;
	qb_log(LOG_WARNING, "cannot notify the service manager (%s): %s", what, strerror(-r));
}

void hs_service_init(struct hs_service *s)
{
	uint64_t usec;

	memset(s, 0, sizeof(*s));
	s->enabled = getenv("NOTIFY_SOCKET") != NULL;
	s->started_usec = hs_now_usec(CLOCK_MONOTONIC);
	if (hs_sd_watchdog_usec(&usec) == 1)
		s->watchdog_usec = usec;
}

/* "quorate, coordinator node1, 3/3 nodes online, 2 pairs (2 in-sync)" */
static void status_line(struct hs_core *core, char *buf, size_t size)
{
	struct hs_cluster_view v;
	struct hs_pair_list l = {0};
	const char *coordinator = "none";
	size_t online = 0, in_sync = 0;

	hs_cluster_view_get(core->cluster, &v);
	for (size_t i = 0; i < v.n_nodes; i++) {
		online += v.nodes[i].online;
		if (v.coordinator && v.nodes[i].nodeid == v.coordinator)
			coordinator = v.nodes[i].name;
	}
	if (hs_core_pairs_list(core, NULL, &l) >= 0)
		for (size_t i = 0; i < l.n; i++)
			in_sync += l.pairs[i].state == HS_PAIR_IN_SYNC;
	snprintf(buf, size, "%s, coordinator %s, %zu/%zu nodes online, %zu pairs (%zu in-sync)",
		 !v.joined ? "not joined" : v.quorate ? "quorate" : "no quorum", coordinator, online,
		 v.n_nodes, l.n, in_sync);
	hs_pair_list_free(&l);
}

void hs_service_update(struct hs_service *s, struct hs_core *core)
{
	char status[sizeof(s->status)];
	uint64_t now = hs_now_usec(CLOCK_MONOTONIC);

	/* outside systemd nothing is sent: do not read every pair each tick for it */
	if (!s->enabled)
		return;

	if (s->watchdog_usec && now >= s->last_ping_usec + s->watchdog_usec / 2) {
		s->last_ping_usec = now;
		sent(s, hs_sd_notify("WATCHDOG=1"), "watchdog");
	}
	status_line(core, status, sizeof(status));
	if (!s->ready) {
		struct hs_cluster_view v;

		hs_cluster_view_get(core->cluster, &v);
		/* a freshly started corosync forms a ring of one before it merges:
		 * synced alone is not joined yet */
		if (!v.joined || !sdb_repl_is_synced(core->repl) ||
		    (!v.quorate && now < s->started_usec + HS_SERVICE_READY_GRACE_S * 1000000ULL))
			return;
		s->ready = true;
		snprintf(s->status, sizeof(s->status), "%s", status);
		sent(s, hs_sd_notifyf("READY=1\nSTATUS=%s", status), "ready");
		qb_log(LOG_INFO, "ready: %s", status);
		return;
	}
	if (strcmp(status, s->status) != 0) {
		snprintf(s->status, sizeof(s->status), "%s", status);
		sent(s, hs_sd_notifyf("STATUS=%s", status), "status");
	}
}

void hs_service_stopping(struct hs_service *s)
{
	sent(s, hs_sd_notify("STOPPING=1\nSTATUS=stopping"), "stopping");
}
