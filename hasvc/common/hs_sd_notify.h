/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_sd_notify: tell systemd how the daemon is doing, without libsystemd.
 *
 * A service of Type=notify is started with $NOTIFY_SOCKET naming a unix
 * datagram socket of the service manager; every notification is one datagram
 * of newline-separated VAR=value lines (sd_notify(3)): READY=1 once the
 * service is up, STATUS=<one line> for `systemctl status`, WATCHDOG=1 as a
 * heartbeat, STOPPING=1 on the way out. The protocol is documented as stable
 * and is small enough to speak directly; linking libsystemd for it would pull
 * a dependency into every build for four lines of output.
 *
 * Outside systemd (the lab, a shell) $NOTIFY_SOCKET is unset and every call
 * is a no-op that returns 0, so callers need no "are we under systemd" test.
 *
 * The watchdog: with WatchdogSec= systemd sets $WATCHDOG_USEC (and
 * $WATCHDOG_PID, the pid it is meant for); a service that does not send
 * WATCHDOG=1 within that interval is killed with SIGABRT and, with
 * Restart=on-failure, started again. Send it at half the interval from the
 * main loop: a loop that is wedged must stop sending.
 */
#pragma once

#include <stdint.h>

/*
 * Sends STATE (e.g. "READY=1\nSTATUS=joined, 3 pairs") to $NOTIFY_SOCKET.
 * Returns 1 when sent, 0 when $NOTIFY_SOCKET is unset, -errno on failure
 * (-EINVAL for an address that is neither a path nor '@'abstract, or too long;
 * -EAFNOSUPPORT for vsock: addresses; the socket's own errors otherwise).
 */
int hs_sd_notify(const char *state);

/* hs_sd_notify() of a printf-formatted state. */
int hs_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Whether systemd expects watchdog pings from this process: 1 and the
 * interval in *ret when $WATCHDOG_USEC is set (and $WATCHDOG_PID, if set, is
 * our pid); 0 when not (ret untouched); -EINVAL when either is malformed.
 */
int hs_sd_watchdog_usec(uint64_t *ret);
