#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The lab's Linux guest (`deploy/lab vm-create --linux`, docs/lab-guest.md):
#   1. it boots Debian's kernel under TCG and its recorder prints acknowledged
#      records: one boot_id, N = 1, 2, 3, ... with rising timestamps;
#   2. the domain live-migrates to another lab host (`lab migrate`, plain
#      libvirt, disk copied along): the guest goes on there without a reboot,
#      same boot_id, N goes on, its console log continues in node2's file;
#      the gap the host's clock sees between the two hosts' records is printed;
#   3. a reset is a new boot: a new boot_id, N from 1, appended after the
#      first boot's records;
#   4. `virsh shutdown` (the ACPI power button) powers the guest off after its
#      last record; then every record either console printed as acknowledged
#      is on node2's disk with the same N, boot_id and timestamp
#      (deploy/guest/records --check);
#   5. the check itself fails on a record the disk lacks and on a damaged slot;
#   6. bad options, a missing console log, a migration to the same host and a
#      guest that cannot boot (too little memory) are refused, named.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_guest.sh"

RECORDS="$SRC/deploy/guest/records"
LAB_DIR=/var/lib/hasvc-lab/$HASVC_LAB
# console_recs NODE...: the records of the NODEs' console logs, one stream
console_recs() {
	local n
	for n in "$@"; do lab console "$n" vm1; done | recs_in
}
rec_count_above() { [ "$(console_recs "$1" | wc -l)" -gt "$2" ]; }
boot_ids() { console_recs "$1" | awk '{print $2}' | sort -u; }

lab up --hosts 2 --no-daemon

note "1: boot on node1"
out=$(HASVC_LAB_GUEST_REC_MS=50 lab vm-create node1 vm1 64M --linux 2>&1) || fail "vm-create --linux: $out"
note "$out"
echo "$out" | contains 'first record [0-9]* ms after start' || fail "vm-create did not say the boot time"
wait_for 60 "30 records on node1's console" rec_count_above node1 30
[ "$(lab console node1 vm1 | grep -a -c 'hasvc-rec start')" = 1 ] || fail "the recorder started more than once"
boot=$(boot_ids node1)
[ "$(echo "$boot" | wc -l)" = 1 ] || fail "more than one boot_id on node1: $boot"
console_recs node1 >"$LAB_DIR/recs1"
[ "$(head -1 "$LAB_DIR/recs1" | cut -d' ' -f1)" = 1 ] || fail "the first record is not N=1"
contiguous <"$LAB_DIR/recs1" || fail "node1's records do not run 1, 2, 3, ... in time"
note "boot_id $boot, $(wc -l <"$LAB_DIR/recs1") records so far"

note "2: live migration to node2"
# the host's clock on each record as it reaches either console log: the
# guest's own clock does not see the pause (docs/lab-guest.md)
qlog=var/log/libvirt/qemu/vm1.console.log
stamp_start "$LAB_DIR/stamps" "$LAB_DIR/node1/$qlog" "$LAB_DIR/node2/$qlog"
out=$(lab migrate node1 vm1 node2 2>&1) || fail "migrate: $out"
note "$out"
domstate_is node2 vm1 running || fail "vm1 is not running on node2 after the migration"
last1=$(console_recs node1 | tail -1 | cut -d' ' -f1)
wait_for 60 "20 records on node2's console" rec_count_above node2 20
[ "$(boot_ids node2)" = "$boot" ] || fail "the boot_id changed with the migration: $(boot_ids node2) (was $boot)"
! lab console node2 vm1 | contains 'hasvc-rec start' || fail "the recorder started again on node2: a reboot"
console_recs node1 node2 >"$LAB_DIR/recs12"
contiguous <"$LAB_DIR/recs12" || fail "N or time does not go on across the migration"
[ "$(tail -1 "$LAB_DIR/recs12" | cut -d' ' -f1)" -gt "$last1" ] || fail "no record after N=$last1 on node2"
gap=$(awk -v n="$last1" '$1 == n { t = $3 } $1 == n + 1 { print int(($3 - t) / 1000000) }' "$LAB_DIR/recs12")
stamp_stop
# the last record stamped in node1's log and the first in node2's (a record
# whose line the migration cut is in neither)
s1=$(grep "log=$LAB_DIR/node1/" "$LAB_DIR/stamps" | tail -1)
s2=$(grep -m1 "log=$LAB_DIR/node2/" "$LAB_DIR/stamps") ||
	fail "stamp saw no record in node2's log: $(tail -3 "$LAB_DIR/stamps")"
[ -n "$s1" ] || fail "stamp saw no record in node1's log"
host_gap=$(($(stamp_field host_ms "$s2") - $(stamp_field host_ms "$s1")))
[ "$host_gap" -ge 50 ] && [ "$host_gap" -lt 10000 ] ||
	fail "the host saw $host_gap ms between N=$(stamp_field N "$s1") on node1 and N=$(stamp_field N "$s2") on node2 (pace 50 ms)"
note "node1 acknowledged N=1..$last1, node2 goes on with N=$((last1 + 1)); the host saw $host_gap ms" \
	"between N=$(stamp_field N "$s1") on node1 and N=$(stamp_field N "$s2") on node2, the guest's clock ${gap} ms (pace 50 ms)"

note "3: a reset is a new boot, appended"
lab exec node2 virsh -q reset vm1 >/dev/null
wait_for 60 "the recorder to start again on node2" \
	bash -c "'$LAB_CMD' console node2 vm1 | grep -a -q 'hasvc-rec start'"
wait_for 60 "records of the second boot" bash -c \
	"'$LAB_CMD' console node2 vm1 | grep -a 'hasvc-rec N=' | grep -a -v -q 'boot=$boot'"
start=$(lab console node2 vm1 | grep -a -m1 'hasvc-rec start')
# after the first boot's last record printed whole, N=lastn: the reset may
# have cut the next one's line, or come between its write and its line
lastn=$(console_recs node2 | awk -v b="$boot" '$2 == b { n = $1 } END { print n }')
slot=$(echo "$start" | sed -n 's/.* slot=\([0-9]*\) .*/\1/p')
[ "$slot" -ge "$lastn" ] && [ "$slot" -le $((lastn + 2)) ] ||
	fail "the second boot does not append after the first's $lastn records: $start"
boot2=$(boot_ids node2 | grep -vx "$boot")
note "second boot $boot2: $start"

note "4: the guest obeys the ACPI power button; every acknowledged record is on node2's disk"
sleep 1
lab exec node2 virsh -q shutdown vm1 >/dev/null
wait_for 30 "vm1 to power itself off on node2" domstate_is node2 vm1 "shut off"
off=$(lab console node2 vm1 | grep -a -o 'hasvc-rec poweroff after N=[0-9]*') ||
	fail "vm1 went off without the recorder's poweroff line"
[ "${off##*N=}" = "$(console_recs node2 | tail -1 | cut -d' ' -f1)" ] ||
	fail "'$off', but the last record on the console is $(console_recs node2 | tail -1)"
note "$off"
img=$LAB_DIR/node2/var/lib/libvirt/images/vm1.qcow2
lab console node1 vm1 >"$LAB_DIR/console1"
lab console node2 vm1 >"$LAB_DIR/console2"
out=$("$RECORDS" "$img" --check "$LAB_DIR/console1" "$LAB_DIR/console2") || fail "records --check: $out"
note "$out"
acked=$(grep -a -c 'hasvc-rec N=' "$LAB_DIR/console1" "$LAB_DIR/console2" | awk -F: '{s += $2} END {print s}')
echo "$out" | contains "^checked $acked acknowledged records" || fail "the check did not read all $acked console records"
# a line cut in two by a migration (its start at the end of node1's log, the
# rest at the start of node2's) still counts: the logs are read as one stream
line=$(grep -a -m1 'hasvc-rec N=' "$LAB_DIR/console2")
{ cat "$LAB_DIR/console1"; printf '%s' "${line:0:20}"; } >"$LAB_DIR/split1"
awk -v l="$line" -v t="${line:20}" '!done && $0 == l { print t; done = 1; next } { print }' \
	"$LAB_DIR/console2" >"$LAB_DIR/split2"
out=$("$RECORDS" "$img" --check "$LAB_DIR/split1" "$LAB_DIR/split2") || fail "records --check, a line cut: $out"
echo "$out" | contains "^checked $acked acknowledged records" || fail "a line cut in two was not counted: $out"
summary=$("$RECORDS" "$img" --summary) || fail "records --summary: $summary"
note "$summary"
[ "$(echo "$summary" | wc -l)" = 2 ] && echo "$summary" | head -1 | contains "boot=$boot slot=0 N=1\.\." &&
	echo "$summary" | tail -1 | contains "boot=$boot2 " || fail "the disk does not hold the two boots in order"

note "5: the check fails when a record is missing or damaged"
cp "$LAB_DIR/console2" "$LAB_DIR/console-extra"
echo "hasvc-rec N=999999 mono_ns=1 boot=$boot" >>"$LAB_DIR/console-extra"
expect 1 "missing N=999999" "$RECORDS" "$img" --check "$LAB_DIR/console1" "$LAB_DIR/console-extra"
cp "$img" "$LAB_DIR/damaged.qcow2"
# slot 3 (N=4 of the first boot): bytes 100..107 of its 512 changed
qemu-io -f qcow2 -c "write -P 0x55 $((1048576 + 3 * 512 + 100)) 8" "$LAB_DIR/damaged.qcow2" >/dev/null
expect 1 "damaged slot=3" "$RECORDS" "$LAB_DIR/damaged.qcow2" --check "$LAB_DIR/console1"
expect 1 "missing N=4 boot=$boot" "$RECORDS" "$LAB_DIR/damaged.qcow2" --check "$LAB_DIR/console1"

note "6: what an operator can get wrong is refused, named"
expect 1 "unknown option '--linx'" lab vm-create node1 vm2 --linx
expect 1 "HASVC_LAB_GUEST_REC_MS is a number of ms, not 'fast'" \
	env HASVC_LAB_GUEST_REC_MS=fast "$LAB_CMD" vm-create node1 vm2 --linux
expect 1 "no console log of 'vm2' on node1" lab console node1 vm2
expect 1 "vm1 is on node2 already" lab migrate node2 vm1 node2
# too little memory: the kernel panics before /init, and vm-create says so
# with the end of the console instead of waiting for ever
expect 1 "vm2 on node1 wrote no record within 8 s" \
	env HASVC_LAB_VM_MEMORY_MIB=64 HASVC_LAB_GUEST_BOOT_TIMEOUT=8 "$LAB_CMD" vm-create node1 vm2 --linux
lab exec node1 virsh -q destroy vm2 >/dev/null 2>&1 || true
note "PASS"
