#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What reaches the backup, in both mirror modes (issue 4). vm1 (256 MiB disk,
# 48 MiB written before pairing) is paired node1 -> node2 in sync mode, then
# again in async mode; each time:
#   1. in sync, writes through QEMU's block layer are on the backup, read back
#      over NBD (qemu-io read -P), and with the guest paused and its image
#      flushed, `qemu-img compare` finds the primary's image and the backup's
#      export identical;
#   2. over a throttled link (tc tbf 8 mbit on node1, for NBD traffic only):
#      sync mode: a write is on the backup the moment it is acknowledged;
#      async mode: writes are acknowledged at local speed and the backup lags,
#      which the pair's lag_bytes shows; once the link is free again the lag
#      drains to 0 and the disks compare equal.
# Only the NBD port is throttled (iptables CLASSIFY into an htb class whose
# leaf is the tbf; this kernel has no tc classifiers): corosync shares eth0,
# and a 400 ms queue in front of its knet pings (500 ms timeout) would make
# the membership flap.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
qio node1 vm1 "write -P 0x5a 0 48M"

# on_backup PORT "CMD"...: qemu-io reads of node2's export, run on node2.
on_backup() {
	local port=$1 args=() c
	shift
	for c in "$@"; do args+=(-c "$c"); done
	nbd_io node2 10.77.0.12 "$port" -r "${args[@]}" >/dev/null
}
# identical PORT: with vm1 paused and flushed, its image equals node2's export.
identical() { images_identical node1 node2 "$1"; }
lag() { pair_field node1 vm1 lag_bytes; }
lag_at_least_4m() { [ "$(lag)" -ge $((4 << 20)) ]; }
lag_is_0() { [ "$(lag)" -eq 0 ]; }
# the brief's tbf, 8 mbit, for node1's traffic to node2's export only (lab/lib.sh)
throttle() { nbd_throttle node1 "$1" 8mbit; }
unthrottle() { nbd_unthrottle node1; }

for mode in sync async; do
	note "[$mode] pair vm1 node1 -> node2 and wait for in-sync"
	lab exec node1 hasvc pair create vm1 --backup node2 --mode "$mode" --wait --timeout 120 >/dev/null
	pair_state_is node1 vm1 in-sync || fail "vm1 is $(pair_field node1 vm1 state)"
	# issue 13, honest fallback: a new pair's copy is full, for a new backup
	copy=$(pair_json node1 vm1 | jq -r '.copy.kind + "/" + .copy.reason')
	[ "$copy" = "full/new backup" ] || fail "vm1's copy is '$copy', not full/new backup"
	lab exec node1 hasvc pair show vm1 | contains '^copy:      full (new backup), copied$' ||
		fail "pair show lacks the copy: $(lab exec node1 hasvc pair show vm1)"
	event_count_above node1 "full copy of vm1 to node2 (new backup)" 0 ||
		fail "no event says the copy is full for a new backup"
	[ "$(pair_field node1 vm1 mode)" = "$mode" ] || fail "mode is $(pair_field node1 vm1 mode)"
	port=$(pair_field node1 vm1 nbd_port)

	note "[$mode] 16 numbered blocks written; every one on the backup, over NBD"
	write_blocks node1 vm1 1 16
	reads=("read -P 0x5a 0 48M")
	for i in $(seq 1 16); do reads+=("read -P $i $((64 + i))M 1M"); done
	if [ "$mode" = sync ]; then
		on_backup "$port" "${reads[@]}" || fail "an acknowledged write is missing on the backup"
	else
		wait_for 30 "the async mirror to copy every block" on_backup "$port" "${reads[@]}"
	fi

	note "[$mode] guest paused, image flushed: qemu-img compare, primary image vs backup export"
	lab exec node1 virsh -q suspend vm1 >/dev/null
	qio node1 vm1 "flush"
	if [ "$mode" = sync ]; then
		identical "$port" || fail "the backup differs from the primary: $(identical "$port" 2>&1 || true)"
	else
		wait_for 30 "the backup to equal the primary" identical "$port"
	fi
	lab exec node1 virsh -q resume vm1 >/dev/null

	note "[$mode] node1's link to the export throttled to 8 mbit"
	throttle "$port"
	if [ "$mode" = sync ]; then
		for i in 17 18; do
			t0=$(now_ms)
			write_blocks node1 vm1 $i $i
			took=$(($(now_ms) - t0))
			on_backup "$port" "read -P $i $((64 + i))M 1M" ||
				fail "block $i was acknowledged ($took ms) but is not on the backup"
			note "[$mode] block $i acknowledged after $took ms, on the backup at once"
			[ "$took" -ge 500 ] || fail "a 1 MiB write took $took ms: the link is not throttled"
		done
	else
		t0=$(now_ms)
		write_blocks node1 vm1 17 24
		note "[$mode] 8 MiB acknowledged in $(($(now_ms) - t0)) ms"
		# (reported every 2 s while it changes; the link drains ~1 MiB/s)
		wait_for 10 "a lag of 4 MiB or more" lag_at_least_4m
		note "[$mode] the pair shows the lag: $(lag) bytes ($(pair_json node1 vm1 | jq -c '[.disks[] | {target, lag_bytes}]'))"
		lab exec node1 curl -sf --unix-socket /run/hasvc/hasvcd.sock http://hasvc/metrics |
			contains '^hasvc_pair_lag_bytes{vm="vm1"} [1-9]' || fail "no lag in the metrics"
	fi
	unthrottle
	note "[$mode] link free again: the lag drains to 0, every block is on the backup"
	wait_for 60 "lag_bytes back to 0" lag_is_0
	last=$([ "$mode" = sync ] && echo 18 || echo 24)
	for i in $(seq 17 "$last"); do reads+=("read -P $i $((64 + i))M 1M"); done
	wait_for 30 "every block on the backup" on_backup "$port" "${reads[@]}"
	lab exec node1 virsh -q suspend vm1 >/dev/null
	qio node1 vm1 "flush"
	wait_for 30 "the backup to equal the primary" identical "$port"
	lab exec node1 virsh -q resume vm1 >/dev/null

	note "[$mode] unpair"
	lab exec node1 hasvc pair delete vm1 --wait --timeout 60 >/dev/null
	domstate_is node2 vm1 - || fail "the backup is still on node2"
done
note "PASS"
