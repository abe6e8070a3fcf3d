#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Planned switchover and back, 5 times in a row, with writes in between
# (issue 6): each time the roles reverse, the VM runs on exactly one host,
# and every block written so far is on the new primary's disk. A second
# operation on a busy pair is refused as busy; unknown VMs are not found.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
lab exec node1 hasvc pair create vm1 --backup node2 --wait --timeout 120

set +e
out=$(lab exec node1 hasvc switchover vm9 2>&1); rc=$?
set -e
[ $rc -eq 4 ] && echo "$out" | contains "no pair for VM 'vm9'" || fail "unknown VM: rc $rc: $out"

primary=node1 backup=node2 written=0
for round in 1 2 3 4 5; do
	write_blocks "$primary" vm1 $((written + 1)) $((written + 4))
	written=$((written + 4))
	note "round $round: switchover $primary -> $backup after $written blocks"
	t0=$(now_ms)
	lab exec node3 hasvc switchover vm1 &
	op=$!
	sleep 0.3
	set +e
	out=$(lab exec node3 hasvc switchover vm1 2>&1); rc=$?
	set -e
	wait $op || fail "switchover request refused"
	[ $rc -eq 5 ] && echo "$out" | contains "busy\|try again" || fail "a second switchover was not refused as busy: rc $rc: $out"
	wait_for 120 "vm1 in-sync on $backup" bash -c "[ \"\$($LAB_CMD exec node3 hasvc pair show vm1 --json | jq -r '.state + \"/\" + .primary')\" = in-sync/$backup ]"
	note "round $round: roles reversed and in sync in $(($(now_ms) - t0)) ms"
	domstate_is "$backup" vm1 running || fail "vm1 is $(domstate "$backup" vm1) on $backup"
	domstate_is "$primary" vm1 paused || fail "vm1 is $(domstate "$primary" vm1) on $primary (should be the paused backup)"
	verify_blocks "$backup" vm1 1 "$written"
	tmp=$primary primary=$backup backup=$tmp
done
[ "$(event_count node1 "(primary-stopped)")" -eq 5 ] || fail "expected 5 primary-stopped events"
note "PASS"
