#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# hasvcd and its service manager (hasvcd.service is Type=notify with
# WatchdogSec=): a stand-in for systemd's notify socket on node3 receives
#   - no READY=1 while corosync is down there (hasvcd waits for the cluster),
#   - READY=1 with a STATUS= line once it joined and its state is synced,
#   - WATCHDOG=1 at half of WATCHDOG_USEC, from the main loop,
#   - STOPPING=1 on SIGTERM.
# And corosync's crypto: with the lab's default (aes256/sha256) hasvcd says
# nothing; a lab started with HASVC_LAB_COROSYNC_CRYPTO=off makes it warn.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
for n in node1 node2 node3; do wait_for 30 "$n online" node_online node1 "$n"; done
! lab exec node1 grep -q 'runs without crypto' /var/log/hasvc/hasvcd.log ||
	fail "hasvcd warned about crypto although corosync runs with it"

note "node3: corosync and hasvcd stopped; a notify socket; hasvcd started under it"
lab exec node3 bash -c 'kill -KILL $(cat /run/hasvcd.lab.pid) $(cat /run/corosync.lab.pid)'
lab exec node3 bash -c 'python3 -u -c "
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(\"/run/notify.sock\")
while True:
    m = s.recv(4096).decode()
    for line in m.split(\"\\n\"):
        print(int(time.time() * 1000), line, flush=True)
" >/run/notify.log 2>&1 & echo $! >/run/notify.pid'
wait_for 5 "the notify socket" lab exec node3 test -S /run/notify.sock
lab exec node3 bash -c 'NOTIFY_SOCKET=/run/notify.sock WATCHDOG_USEC=1000000 WATCHDOG_PID= \
	hasvcd -c /etc/hasvc/hasvc.conf -f </dev/null >>/var/log/hasvc/hasvcd.log 2>&1 & echo $! >/run/hasvcd.lab.pid'
sleep 3
! lab exec node3 grep -q 'READY=1' /run/notify.log || fail "READY=1 before corosync runs on node3"
pings=$(lab exec node3 grep -c 'WATCHDOG=1' /run/notify.log || true)
[ "$pings" -ge 3 ] || fail "$pings watchdog pings in 3 s at WATCHDOG_USEC=1 s (want 3 or more)"
note "no READY while corosync is down; $pings watchdog pings in 3 s"

t0=$(now_ms)
lab restart node3 corosync
wait_for 30 "READY=1 from node3's hasvcd" lab exec node3 grep -q 'READY=1' /run/notify.log
note "READY=1 $(( $(now_ms) - t0 )) ms after corosync started"
status=$(lab exec node3 grep -m1 '^[0-9]* STATUS=' /run/notify.log)
[[ $status == *"quorate, coordinator node1, 3/3 nodes online"* ]] || fail "status line: $status"
synced node3 || fail "node3 said READY but is not synced"

lab exec node3 bash -c 'kill -TERM $(cat /run/hasvcd.lab.pid)'
wait_for 10 "STOPPING=1" lab exec node3 grep -q 'STOPPING=1' /run/notify.log
lab exec node3 bash -c 'kill $(cat /run/notify.pid)'

note "a lab with corosync crypto off: hasvcd warns"
lab down >/dev/null
HASVC_LAB_COROSYNC_CRYPTO=off lab up --hosts 2
wait_for 30 "node1 joined" node_online node1 node1
wait_for 10 "the crypto warning" lab exec node1 grep -q 'corosync runs without crypto (crypto_cipher none' \
	/var/log/hasvc/hasvcd.log
note "PASS"
