#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Issue 14's acceptance with the lab's Linux guest (docs/lab-guest.md): the
# recorder guest, paired node1 -> node2 in sync mode with the qmp engine,
# writes a record every 50 ms while `hasvc switchover vm1 --live` moves it to
# node2 and then back to node1. Proven and printed:
#   - no reboot: one boot_id runs through every console log, the recorder
#     never starts again, and N goes on by one across both moves; the QEMU on
#     each destination started after the guest had booted (it is the
#     migration's incoming one, never booted the guest itself);
#   - no acknowledged record lost: with the guest paused on node1 at the end,
#     both hosts' images hold every record of the consoles, read in the order
#     the guest ran (node1, node2, node1 again: node1's log is split where
#     the guest left it the first time);
#   - the guest-visible downtime of each move, timed on the host (stamp: the
#     guest's clock stops with the VM under TCG), next to libvirt's downtime
#     from the `migrated` event;
#   - the copy back after each move is a delta, its bytes printed, and no
#     move took the cold path (no `primary-stopped`);
#   - the checks themselves fail on a missing record and on a second boot_id.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_guest.sh"

RECORDS="$SRC/deploy/guest/records"
LAB_DIR=/var/lib/hasvc-lab/$HASVC_LAB
QLOG=var/log/libvirt/qemu/vm1.console.log
PACE_MS=50
DISK_BYTES=$((64 * 1048576))
log_of() { echo "$LAB_DIR/$1/$QLOG"; }
recs_on() { recs_in "$(log_of "$1")" | wc -l; }
recs_above() { [ "$(recs_on "$1")" -gt "$2" ]; }
# no_reboot BOOT FILE...: the guest of the logs never booted again: one
# boot_id, BOOT, no second recorder start, N runs first, first+1, ... and
# mono_ns rises; says what breaks it
no_reboot() {
	local boot=$1 ids starts
	shift
	ids=$(recs_in "$@" | awk '{print $2}' | sort -u)
	[ "$ids" = "$boot" ] || { echo "boot_ids $(tr "\n" " " <<<"$ids")(the guest's is $boot)"; return 1; }
	starts=$(cat "$@" | grep -a -c 'hasvc-rec start' || true)
	[ "$starts" -le 1 ] || { echo "the recorder started $starts times"; return 1; }
	recs_in "$@" | contiguous
}
# qemu_started_ms NODE: when vm1's QEMU on NODE started (its pid's start time, 1 s resolution)
qemu_started_ms() {
	echo $(($(lab exec "$1" bash -c 'date -d "$(ps -o lstart= -p "$(cat /run/libvirt/qemu/vm1.pid)")" +%s') * 1000))
}
pair_is() { [ "$(pair_json node3 vm1 | jq -r '.state + "/" + .primary')" = "$1" ]; }

HASVC_LAB_DAEMON_ENV="HASVC_MIRROR_ENGINE=qmp" lab up --hosts 3
wait_for 30 "quorum" quorate node1
HASVC_LAB_GUEST_REC_MS=$PACE_MS lab vm-create node1 vm1 64M --linux
booted_ms=$(now_ms) # the guest printed its first record: it booted before this
boot=$(recs_in "$(log_of node1)" | awk '{print $2}' | sort -u)
[ "$(echo "$boot" | wc -l)" = 1 ] || fail "more than one boot_id on node1: $boot"
lab exec node1 hasvc pair create vm1 --backup node2 --mode sync --wait --timeout 180
note "vm1 (boot_id $boot) in sync node1 -> node2"

# the host's clock on every record as it reaches either host's console log
stamp_start "$LAB_DIR/stamps" "$(log_of node1)" "$(log_of node2)"

primary=node1 backup=node2 results=()
for move in 1 2; do
	n=$(recs_on "$primary")
	wait_for 60 "20 records on $primary before move $move" recs_above "$primary" $((n + 20))
	qemu_before=$(lab exec "$backup" cat /run/libvirt/qemu/vm1.pid 2>/dev/null || echo none)
	note "move $move: live switchover $primary -> $backup"
	t0=$(now_ms)
	lab exec node3 hasvc switchover vm1 --live --no-wait
	wait_for 180 "vm1 in-sync with primary $backup" pair_is "in-sync/$backup"
	t1=$(now_ms)
	# the guest left node1 for good the first time: the rest of node1's log
	# is the third part of the guest's life
	[ "$move" = 1 ] && split1=$(stat -c %s "$(log_of node1)")
	n=$(recs_on "$backup")
	wait_for 60 "20 records on $backup after move $move" recs_above "$backup" $((n + 20))
	note "move $move: the road from the event log, ms from the request"
	print_road node3 vm1 "$t0"

	domstate_is "$backup" vm1 running || fail "vm1 is $(domstate "$backup" vm1) on $backup"
	domstate_is "$primary" vm1 paused || fail "vm1 is $(domstate "$primary" vm1) on $primary (not the paused backup)"
	qemu_pid=$(lab exec "$backup" cat /run/libvirt/qemu/vm1.pid)
	qemu_ms=$(qemu_started_ms "$backup")
	[ "$qemu_pid" != "$qemu_before" ] && [ "$qemu_ms" -gt "$booted_ms" ] ||
		fail "the QEMU running vm1 on $backup (pid $qemu_pid, was $qemu_before) started at $qemu_ms, not after the guest booted ($booted_ms)"
	copy=$(pair_json node3 vm1 | jq -c '.copy')
	[ "$(jq -r '.kind' <<<"$copy")" = delta ] || fail "the copy back after move $move was not a delta: $copy"
	copied=$(jq -r '.bytes_total' <<<"$copy")
	[ "$copied" -lt $((DISK_BYTES / 8)) ] || fail "the delta after move $move copied $copied of $DISK_BYTES bytes"
	migrated=$(lab exec node3 hasvc events --json | jq -r '[.events[] | select(.vm == "vm1" and (.message | contains("(migrated)")))] | last | .message')
	qemu_down=$(grep -o 'downtime [0-9]* ms' <<<"$migrated" | grep -o '[0-9]*') ||
		fail "no downtime in the migrated event: $migrated"

	# the guest-visible downtime, from the host's stamps within the move: the
	# step from the last record seen in the source's log to the first in the
	# destination's, and the largest step between any two records
	win=$(awk -v a="$t0" -v b="$t1" '{ t = substr($1, 9) + 0 } t >= a - 1000 && t <= b + 5000' "$LAB_DIR/stamps" | sort -t= -k2 -n)
	s1=$({ grep "log=$(log_of "$primary")" <<<"$win" || true; } | tail -1)
	s2=$(grep -m1 "log=$(log_of "$backup")" <<<"$win") || fail "stamp saw no record on $backup in move $move"
	[ -n "$s1" ] || fail "stamp saw no record on $primary in move $move"
	switch_gap=$(($(stamp_field host_ms "$s2") - $(stamp_field host_ms "$s1")))
	max=$(awk '{ t = substr($1, 9) + 0; n = $2 } NR > 1 && t - p > m { m = t - p; at = pn " -> " n }
		{ p = t; pn = n } END { print m + 0, at }' <<<"$win")
	[ "$switch_gap" -lt 10000 ] || fail "move $move: the guest stood still $switch_gap ms across the switch"
	results+=("move $move $primary -> $backup: in-sync again $((t1 - t0)) ms after the request;\
 guest-visible downtime $((switch_gap - PACE_MS)) ms (the host saw $switch_gap ms between\
 $(sed 's/ boot.*//' <<<"${s1#* }") on $primary at +$(($(stamp_field host_ms "$s1") - t0)) ms and\
 $(sed 's/ boot.*//' <<<"${s2#* }") on $backup at +$(($(stamp_field host_ms "$s2") - t0)) ms, pace $PACE_MS ms;\
 largest step ${max%% *} ms at ${max#* }), libvirt's downtime $qemu_down ms;\
 copy back $(jq -r '.kind + " (" + .reason + ")"' <<<"$copy"), $copied bytes")
	note "${results[-1]}"
	tmp=$primary primary=$backup backup=$tmp
done
stamp_stop

[ "$(event_count node3 "(migrated)")" -eq 2 ] || fail "expected 2 migrated transitions"
[ "$(event_count node3 "(primary-stopped)")" -eq 0 ] || fail "a live switchover stopped the guest (cold path)"

note "the guest's life in the order it ran: node1, node2, node1 again"
lab exec node1 virsh -q suspend vm1 >/dev/null
c1=$(log_of node1)
[ "$(stat -c %s "$c1")" -ge "$split1" ] || fail "node1's console log shrank: it was started again"
head -c "$split1" "$c1" >"$LAB_DIR/life1"
cp "$(log_of node2)" "$LAB_DIR/life2"
tail -c +$((split1 + 1)) "$c1" >"$LAB_DIR/life3"
for f in life1 life2 life3; do
	[ "$(recs_in "$LAB_DIR/$f" | wc -l)" -gt 20 ] || fail "$f has $(recs_in "$LAB_DIR/$f" | wc -l) records"
done
lives=("$LAB_DIR/life1" "$LAB_DIR/life2" "$LAB_DIR/life3")
why=$(no_reboot "$boot" "${lives[@]}") || fail "the guest rebooted: $why"
acked=$(recs_in "${lives[@]}" | wc -l)
note "one boot ($boot), N=1..$(recs_in "${lives[@]}" | tail -1 | cut -d' ' -f1) without a gap:" \
	"$(recs_in "$LAB_DIR/life1" | wc -l) records on node1, $(recs_in "$LAB_DIR/life2" | wc -l) on node2," \
	"$(recs_in "$LAB_DIR/life3" | wc -l) on node1 again"
for node in node1 node2; do
	out=$("$RECORDS" "$LAB_DIR/$node/var/lib/libvirt/images/vm1.qcow2" --check "${lives[@]}") ||
		fail "records on $node's disk: $out"
	echo "$out" | contains "^checked $acked acknowledged records" || fail "$node's check did not read all $acked records: $out"
	note "$node's disk: $(head -1 <<<"$out")"
done

note "the checks fail on a lost record and on a reboot"
cp "$LAB_DIR/life3" "$LAB_DIR/lost"
echo "hasvc-rec N=999999 mono_ns=1 boot=$boot" >>"$LAB_DIR/lost"
expect 1 "missing N=999999" "$RECORDS" "$LAB_DIR/node1/var/lib/libvirt/images/vm1.qcow2" \
	--check "$LAB_DIR/life1" "$LAB_DIR/life2" "$LAB_DIR/lost"
other=00000000-0000-4000-8000-000000000000
{ echo "hasvc-rec start boot=$other dev=/dev/vda slot=9 slots=9 rec_ms=50"
  echo "hasvc-rec N=1 mono_ns=1 boot=$other"; } >"$LAB_DIR/reboot"
! why=$(no_reboot "$boot" "${lives[@]}" "$LAB_DIR/reboot") || fail "no_reboot missed a second boot"
note "a second boot is caught: $why"
awk '/hasvc-rec N=/ && ++k == 10 { next } { print }' "$LAB_DIR/life2" >"$LAB_DIR/gap"
! why=$(no_reboot "$boot" "$LAB_DIR/life1" "$LAB_DIR/gap" "$LAB_DIR/life3") || fail "no_reboot missed a gap in N"
note "a gap in N is caught: $why"
lab exec node1 virsh -q resume vm1 >/dev/null

note "figures:"
printf '  %s\n' "${results[@]}"
note "PASS"
