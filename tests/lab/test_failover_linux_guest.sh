#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# hasvc with a real guest (docs/lab-guest.md): the recorder guest paired
# node1 -> node2 in sync mode, writing a record every 50 ms throughout.
#   1. node1 crashes: the backup on node2 boots the guest from its disk (a new
#      boot_id, appended after the first boot's records), and every record the
#      guest acknowledged on node1 is on node2's disk;
#   2. re-protected onto node3, a planned switchover asks the guest to shut
#      down: it powers itself off (no pause after shutdown_timeout), boots on
#      node3, and node3's disk holds every record of all three boots' consoles.
# The disk is read with the guest paused (QEMU drains its I/O), so no record
# is caught half-written.
source "$(dirname "$0")/lib.sh"

RECORDS="$SRC/deploy/guest/records"
LAB_DIR=/var/lib/hasvc-lab/$HASVC_LAB
QLOG=var/log/libvirt/qemu/vm1.console.log
# boots_on NODE: the boot_ids of the records on NODE's console, in order
boots_on() { lab console "$1" vm1 | grep -a -o 'hasvc-rec N=[0-9]* mono_ns=[0-9]* boot=[0-9a-f-]*' | sed 's/.*boot=//' | uniq; }
recs_on() { lab console "$1" vm1 | grep -a -c 'hasvc-rec N=' || true; }
recs_above() { [ "$(recs_on "$1")" -gt "$2" ]; }
# boot_records NODE BOOT: how many records of BOOT NODE's console has
boot_records() { lab console "$1" vm1 | grep -a -c "hasvc-rec N=.* boot=$2" || true; }
new_boot_on() { [ -n "$(boots_on "$1" | grep -vxF -f <(printf '%s\n' "${@:2}"))" ]; }
# check_disk NODE LOG...: with vm1 paused on NODE, every record acknowledged
# on the given hosts' consoles is on NODE's disk
check_disk() {
	local node=$1 out n
	shift
	lab exec "$node" virsh -q suspend vm1 >/dev/null
	local logs=()
	for n in "$@"; do logs+=("$LAB_DIR/$n/$QLOG"); done
	out=$("$RECORDS" "$LAB_DIR/$node/var/lib/libvirt/images/vm1.qcow2" --check "${logs[@]}") ||
		fail "records on $node's disk: $out"
	note "$node's disk: $out"
	"$RECORDS" "$LAB_DIR/$node/var/lib/libvirt/images/vm1.qcow2" --summary
	lab exec "$node" virsh -q resume vm1 >/dev/null
}

lab up --hosts 3
wait_for 30 "quorum" quorate node1
HASVC_LAB_GUEST_REC_MS=50 lab vm-create node1 vm1 64M --linux
boot1=$(boots_on node1)
lab exec node1 hasvc pair create vm1 --backup node2 --mode sync --wait --timeout 180
n=$(recs_on node1)
wait_for 60 "20 records after the pair is in sync" recs_above node1 $((n + 20))

note "1: crash node1 while the guest writes"
t0=$(now_ms)
lab crash node1
acked1=$(boot_records node1 "$boot1")
wait_for 90 "vm1 running on node2" domstate_is node2 vm1 running
wait_for 90 "the guest's records on node2" new_boot_on node2 "$boot1"
boot2=$(boots_on node2 | grep -vx "$boot1")
note "node1 acknowledged $acked1 records; the guest booted again on node2 ($boot2)," \
	"first record $(($(now_ms) - t0)) ms after the crash"
wait_for 30 "records of the second boot" bash -c "[ \$('$LAB_CMD' console node2 vm1 | grep -a -c 'boot=$boot2') -gt 10 ]"
check_disk node2 node1 node2
start=$(lab console node2 vm1 | grep -a 'hasvc-rec start' | tail -1)
slot=$(sed -n 's/.* slot=\([0-9]*\) .*/\1/p' <<<"$start")
[ "$slot" -ge "$acked1" ] || fail "the second boot writes from slot $slot, over the first boot's $acked1 records"

note "2: re-protected onto node3, then a planned switchover to it"
wait_for 180 "vm1 in-sync node2 -> node3" bash -c \
	"[ \"\$('$LAB_CMD' exec node2 hasvc pair show vm1 --json | jq -r '.state + \"/\" + .primary + \"/\" + .backup')\" = in-sync/node2/node3 ]"
n=$(recs_on node2)
wait_for 60 "records after re-protection" recs_above node2 $((n + 10))
t0=$(now_ms)
lab exec node2 hasvc switchover vm1
wait_for 180 "vm1 in-sync node3 -> node2" bash -c \
	"[ \"\$('$LAB_CMD' exec node2 hasvc pair show vm1 --json | jq -r '.state + \"/\" + .primary')\" = in-sync/node3 ]"
lab console node2 vm1 | contains -a "hasvc-rec poweroff after N=" ||
	fail "the guest did not power itself off on node2: $(lab console node2 vm1 | tail -3)"
note "the guest obeyed: $(lab console node2 vm1 | grep -a -o 'hasvc-rec poweroff after N=[0-9]*')"
wait_for 60 "the guest's records on node3" new_boot_on node3 "$boot1" "$boot2"
note "switchover to in-sync and the third boot's first record: $(($(now_ms) - t0)) ms"
n=$(recs_on node3)
wait_for 30 "records on node3" recs_above node3 $((n + 10))
check_disk node3 node1 node2 node3
boot3=$(boots_on node3 | grep -vx -e "$boot1" -e "$boot2")
summary=$("$RECORDS" "$LAB_DIR/node3/var/lib/libvirt/images/vm1.qcow2" --summary)
[ "$(sed 's/ slot=.*//' <<<"$summary" | tr '\n' ' ')" = "boot=$boot1 boot=$boot2 boot=$boot3 " ] ||
	fail "node3's disk does not hold the three boots in order: $summary"
note "PASS"
