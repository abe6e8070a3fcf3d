#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Live switchover through hasvcd (issue 14), five live moves back and forth
# in a row, then a maintenance: six in all, with writes throughout, on the qmp
# engine: each time the guest's QEMU moves by live migration (the QEMU on
# the new host is the migration's incoming one, never booted), writes made
# before and during the move are on the new primary's disk, the old primary
# becomes the paused backup, and the copy back is a delta of what was written
# since the switch, never the whole disk; after the fifth, with the guest
# paused and flushed, its whole image equals the backup's. Then maintenance of the primary's
# host with three VMs on it moves all three live, two at a time. (The refusal without the qmp engine and the
# --allow-cold fallback are unit tests: tests/pairs/test_ops.c, test_live.c.)
source "$(dirname "$0")/lib.sh"

HASVC_LAB_DAEMON_ENV="HASVC_MIRROR_ENGINE=qmp" lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
lab exec node1 hasvc pair create vm1 --backup node2 --wait --timeout 120

copy_of() { pair_json node3 vm1 | jq -r '(.copy.kind // "-") + "/" + (.copy.reason // "-")'; }

primary=node1 backup=node2 written=0
for round in 1 2 3 4 5; do
	write_blocks "$primary" vm1 $((written + 1)) $((written + 4))
	written=$((written + 4))
	note "round $round: live switchover $primary -> $backup after $written blocks"
	t0=$(now_ms)
	lab exec node3 hasvc switchover vm1 --live --no-wait
	# writes while it moves: each acknowledged one must be on the new primary.
	# (HMP qemu-io answers before its write ran; QEMU's log says whether it
	# did: one sent as the guest left may never run.)
	during=0 tried=()
	# (none once the migration runs: lib.sh migrating_out)
	while domstate_is "$primary" vm1 running && ! migrating_out "$primary" vm1 && [ $during -lt 8 ]; do
		qio "$primary" vm1 "write -P $(((written + 1) & 0xff)) $((64 + written + 1))M 1M" 2>/dev/null || break
		written=$((written + 1)) during=$((during + 1))
		tried+=("$written")
	done
	wait_for 120 "vm1 in-sync on $backup" bash -c "[ \"\$($LAB_CMD exec node3 hasvc pair show vm1 --json | jq -r '.state + \"/\" + .primary')\" = in-sync/$backup ]"
	note "round $round: moved live and in sync again in $(($(now_ms) - t0)) ms ($during writes during the move)"
	# the road as the event log has it, ms from the request
	print_road node3 vm1 "$t0"
	domstate_is "$backup" vm1 running || fail "vm1 is $(domstate "$backup" vm1) on $backup"
	domstate_is "$primary" vm1 paused || fail "vm1 is $(domstate "$primary" vm1) on $primary (should be the paused backup)"
	event_count node3 "(live switchover, no reboot)" | grep -qx "$round" ||
		fail "no 'live switchover, no reboot' event for round $round"
	kind=$(copy_of)
	[[ $kind == delta/* ]] || fail "the copy back after a live switchover was $kind, not a delta"
	acked=0 unacked=()
	for i in "${tried[@]}"; do
		if grep -qx "wrote 1048576/1048576 bytes at offset $(((64 + i) * 1048576))" \
			"/var/lib/hasvc-lab/$HASVC_LAB/$primary/var/log/libvirt/qemu/vm1.log"; then
			verify_blocks "$backup" vm1 "$i" "$i"
			acked=$((acked + 1))
		else
			unacked+=("$i")
		fi
	done
	[ "$acked" -gt 0 ] || fail "no write was acknowledged during the move"
	# the ones that never ran are written again where the guest is now
	for i in "${unacked[@]}"; do write_blocks "$backup" vm1 "$i" "$i"; done
	note "round $round: $acked writes acknowledged during the move, each on $backup; ${#unacked[@]} never ran"
	verify_blocks "$backup" vm1 1 "$written"
	tmp=$primary primary=$backup backup=$tmp
done
[ "$(event_count node3 "(migrated)")" -eq 5 ] || fail "expected 5 migrated transitions"

# identical: with the guest paused and flushed on $primary, its whole image
# equals the backup's export on $backup (after five moves, each a delta)
identical() { images_identical "$primary" "$backup" "$(pair_field node3 vm1 nbd_port)"; }
lab exec "$primary" virsh -q suspend vm1 >/dev/null
qio "$primary" vm1 "flush"
identical || fail "after 5 live moves $primary's image differs from $backup's: $(identical 2>&1 || true)"
note "after 5 live moves: $primary's whole image equals $backup's"
lab exec "$primary" virsh -q resume vm1 >/dev/null

note "maintenance of $primary with 3 VMs: all move live, two at a time (maintenance_switchover auto, the qmp engine)"
for vm in vm2 vm3; do
	lab vm-create "$primary" $vm 128M
	lab exec "$primary" hasvc pair create $vm --backup "$backup" --wait --timeout 120
	write_blocks "$primary" $vm 1 2
done
lab exec node3 hasvc node maintenance "$primary" on --wait --timeout 300
for vm in vm1 vm2 vm3; do
	wait_for 120 "$vm in-sync on $backup" bash -c "[ \"\$($LAB_CMD exec node3 hasvc pair show $vm --json | jq -r '.state + \"/\" + .primary')\" = in-sync/$backup ]"
	domstate_is "$backup" $vm running || fail "$vm is $(domstate "$backup" $vm) on $backup"
done
[ "$(event_count node3 "(migrated)")" -eq 8 ] || fail "maintenance did not move all three live"
verify_blocks "$backup" vm1 1 "$written"
verify_blocks "$backup" vm2 1 2
verify_blocks "$backup" vm3 1 2
lab exec node3 hasvc node maintenance "$primary" off
[ "$(event_count node3 "(primary-stopped)")" -eq 0 ] || fail "a live switchover stopped a guest"
note "PASS"
