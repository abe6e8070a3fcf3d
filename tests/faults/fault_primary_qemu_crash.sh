#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the guest's QEMU on the primary dies (SIGKILL, by its pid: the OOM
# killer, a QEMU bug) while its host stays well and in the ring, with the
# guest writing. Before keep-running (hs_pair_duty_guest.c) the guest stayed
# down for good: nothing is fenced for a host in the ring, and the plan
# re-protected a pair whose mirror start failed on the dead domain, round
# after round.
# Expect (docs/pairs.md, "A guest whose QEMU dies"): node1 starts vm1 again
# from its disk, says so, and the backup gets a full copy, in sync again;
# every acknowledged block on both copies, never two running. The fourth
# death within 10 minutes is left off: the pair goes guest-down with the
# reason, said once, and nothing is tried on the dead domain (no event while
# it is down); started by hand (virsh start), it is protected again.
source "$(dirname "$0")/lib.sh"

# kill_qemu: node1's QEMU of vm1 killed; its pid printed.
kill_qemu() {
	local pid
	pid=$(lab exec node1 cat /run/libvirt/qemu/vm1.pid)
	[ -n "$pid" ] || fail "no pid file of vm1's QEMU on node1"
	lab exec node1 kill -KILL "$pid"
	echo "$pid"
}

# runs_again_not OLD_PID: vm1 runs on node1 in a QEMU other than OLD_PID
# (libvirt still says "running" for a moment after the kill, its pid file gone).
runs_again_not() {
	local pid
	pid=$(lab exec node1 cat /run/libvirt/qemu/vm1.pid 2>/dev/null) || return 1
	[ -n "$pid" ] && [ "$pid" != "$1" ] && domstate_is node1 vm1 running
}

round() {
	local k old before
	scenario_begin vm1 sync
	faults_start vm1
	for k in 1 2 3; do
		old=$(kill_qemu)
		note "death $k: vm1's QEMU on node1 (pid $old) killed"
		wait_for 60 "vm1 started again on node1" runs_again_not "$old"
		wait_for 240 "vm1 in sync again after death $k" pair_settled node1 vm1 in-sync
		event_count_above node1 "started again from its disk on node1 (start $k of the 3 allowed" 0 ||
			fail "no event of start $k: $(lab exec node1 hasvc events | grep vm1 | tail -4)"
		[ "$(pair_field node1 vm1 copy.kind)" = full ] ||
			fail "the copy after death $k was not full: $(pair_json node1 vm1 | jq -c .copy)"
		[ "$(runner vm1)" = node1 ] || fail "vm1 runs on $(runner vm1), not node1"
		wait_more_acked 3 60
	done
	note "$(lab exec node1 hasvc events | grep -E 'started again' | tail -1)"

	old=$(kill_qemu)
	note "death 4: vm1's QEMU on node1 (pid $old) killed, a fourth time within 10 min"
	wait_for 60 "vm1's pair in guest-down" pair_state_is node1 vm1 guest-down
	before=$(event_count node1 "vm1")
	sleep 6 # three more looks of keep-running, and the plan's rounds
	domstate_is node1 vm1 "shut off" || fail "vm1 is $(domstate node1 vm1) on node1, not left off"
	[ -z "$(runner vm1)" ] || fail "vm1 runs on $(runner vm1) after its fourth death"
	pair_state_is node1 vm1 guest-down || fail "vm1's pair left guest-down: $(pair_field node1 vm1 state)"
	[ "$(event_count node1 "vm1")" = "$before" ] ||
		fail "events while vm1 is left off: $(lab exec node1 hasvc events | grep vm1 | tail -$(($(event_count node1 vm1) - before)))"
	[ "$(event_count node1 "start it by hand")" = 1 ] ||
		fail "'left off' said $(event_count node1 "start it by hand") times, not once"
	note "$(pair_field node1 vm1 reason)"

	note "the admin starts vm1 by hand"
	lab exec node1 virsh start vm1 >/dev/null
	wait_for 30 "guest-down -> degraded" event_count_above node1 "runs again on node1 (started by hand)" 0
	faults_finish node1 vm1
}
rounds round
