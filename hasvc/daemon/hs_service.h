/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_service: what hasvcd tells its service manager (systemd's sd_notify
 * protocol, hasvc/common/hs_sd_notify.h): READY=1 once it has joined the
 * cluster, with quorum, and its replicated state is synced (or, without
 * quorum, after HS_SERVICE_READY_GRACE_S: a survivor of a lost majority must
 * still start, and say why it cannot act), STATUS= with a one-line summary
 * whenever that line changes, WATCHDOG=1 from the main loop at half of
 * WatchdogSec= (a wedged loop stops pinging and systemd restarts it), and
 * STOPPING=1 on the way out. Outside systemd every call does nothing.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct hs_core;

#define HS_SERVICE_READY_GRACE_S 30

struct hs_service {
	bool enabled;           /* $NOTIFY_SOCKET is set: there is someone to tell */
	bool ready;             /* READY=1 was sent */
	uint64_t started_usec;  /* CLOCK_MONOTONIC */
	uint64_t watchdog_usec; /* systemd's interval; 0: no watchdog */
	uint64_t last_ping_usec;
	char status[200];       /* the last STATUS= sent */
	bool failed;            /* a send failed: said once, not at every tick */
};

void hs_service_init(struct hs_service *s);
/* From the cron and the change hook: READY=1 when due, STATUS= when changed, the ping. */
void hs_service_update(struct hs_service *s, struct hs_core *core);
void hs_service_stopping(struct hs_service *s);
