#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The foundation on the real lab: three hosts form a quorate cluster that
# hasvc status reports from any host; a crashed host is shown offline no later
# than 1 s after corosync itself drops it; it rejoins after boot; a partitioned
# host loses quorum while the others keep it; the cluster links run with
# corosync crypto (aes256/sha256) by default; and `deploy/lab down` leaves no
# namespace, process, mount or file behind.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
labdir=/var/lib/hasvc-lab/$HASVC_LAB

note "waiting for node1..node3 online and quorate, seen from node2"
for n in node1 node2 node3; do
	wait_for 30 "$n online" node_online node2 "$n"
done
wait_for 10 "quorum" quorate node2
lab exec node2 hasvc status
coordinator=$(status_json node2 | jq -r '.cluster.coordinator')
[ "$coordinator" = node1 ] || fail "coordinator is '$coordinator', want node1 (lowest nodeid)"
# the lab's cluster links are authenticated unless HASVC_LAB_COROSYNC_CRYPTO=off
want_cipher=aes256
[ "${HASVC_LAB_COROSYNC_CRYPTO:-on}" = on ] || want_cipher=none
cipher=$(lab exec node2 corosync-cmapctl -g totem.crypto_cipher 2>/dev/null | sed 's/.* = //')
[ "$cipher" = "$want_cipher" ] || fail "corosync runs with crypto_cipher '$cipher', want $want_cipher"

note "crash node3"
t0=$(now_ms)
lab crash node3
corosync_ms= hasvc_ms=
while [ -z "$corosync_ms" ] || [ -z "$hasvc_ms" ]; do
	[ $(($(now_ms) - t0)) -lt 20000 ] || fail "node3 still listed after 20 s (corosync ${corosync_ms:-?} ms, hasvc ${hasvc_ms:-?} ms)"
	if [ -z "$corosync_ms" ] && ! lab exec node2 corosync-quorumtool -l 2>/dev/null | contains -w node3; then
		corosync_ms=$(($(now_ms) - t0))
	fi
	if [ -z "$hasvc_ms" ] && node_offline node2 node3; then
		hasvc_ms=$(($(now_ms) - t0))
	fi
	sleep 0.05
done
note "node3 dropped by corosync after ${corosync_ms} ms, shown offline by hasvc after ${hasvc_ms} ms"
[ "$hasvc_ms" -le $((corosync_ms + 1000)) ] || fail "hasvc lagged corosync by more than 1 s"
quorate node1 || fail "node1 lost quorum with 2 of 3 hosts up"
lab exec node1 hasvc status

note "boot node3: it rejoins"
lab boot node3
wait_for 30 "node3 back online" node_online node1 node3

note "power node3 off through its BMC (the fence agents' path): it leaves; on: it returns"
lab power node3 status | contains "Power is on" || fail "BMC of node3 does not say on"
lab power node3 off
lab power node3 status | contains "Power is off" || fail "BMC of node3 does not say off"
wait_for 15 "node3 offline after power off" node_offline node1 node3
lab power node3 on
wait_for 30 "node3 online after power on" node_online node1 node3

note "partition node1: it loses quorum, node2 and node3 keep it"
lab partition node1
wait_for 15 "node1 without quorum" not_quorate node1
wait_for 15 "node1 offline as seen by node2" node_offline node2 node1
quorate node2 || fail "node2 lost quorum"
[ "$(status_json node2 | jq -r '.cluster.coordinator')" = node2 ] || fail "node2 should coordinate now"
lab exec node1 hasvc status | contains "NO QUORUM" || fail "node1's status does not say NO QUORUM"
lab heal node1
wait_for 30 "node1 back, quorate" quorate node1

note "down: nothing may be left behind"
holders=$(cat "$labdir"/node*/holder.pid)
others=$(for n in node1 node2 node3; do lab exec "$n" cat /run/corosync.lab.pid /run/libvirtd.lab.pid /run/hasvcd.lab.pid; done)
bmcs=$(cat "$labdir"/node*/bmc/bmc.pid 2>/dev/null || true)
lab down
# A killed process may linger as a zombie until init reaps it: dead all the same.
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
for pid in $holders $others $bmcs; do
	if alive "$pid"; then fail "pid $pid ($(cat "/proc/$pid/comm")) survived lab down"; fi
done
if ip netns list | grep -E "^$HASVC_LAB-"; then fail "namespaces left behind"; fi
[ ! -e "$labdir" ] || fail "$labdir left behind"
if grep -q "hasvc-lab/$HASVC_LAB" /proc/mounts; then fail "mounts left behind"; fi
lab down # twice is fine
note "PASS"
