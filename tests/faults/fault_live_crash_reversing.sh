#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the new primary host loses power in a live switchover's reversing
# step (issue 14): the guest is on node2, paused, and the roles are swapped;
# node1 has only a stand-in exporting its images.
# Reversing lasts ~40 ms in the lab, less than one poll of the state (`lab
# exec` + `hasvc pair show`, ~22 ms, every 50 ms), so it cannot be caught
# reliably by polling: node2's hasvcd is stopped (SIGSTOP) while the pair is
# still catching up or migrating, whose duties are node1's; node1 proposes
# `migrated`, and the pair then waits in reversing for node2, which cannot
# act. It is crashed there: the state the road passes through, only held.
# Expect (docs/pairs.md, "Live switchover", safety): node2 is fenced and
# node1, the old primary host, promoted: vm1 boots from the stand-in's
# images, which hold every acknowledged write; never two running copies;
# re-protected (in sync) afterwards.
source "$(dirname "$0")/lib.sh"
live_lab_env

round() {
	live_begin vm1 'catching-up|migrating' hasvcd_signal node2 STOP
	read -r st ms < <(catch_state node3 vm1 reversing 60)
	[ "$(pair_field node3 vm1 primary)" = node2 ] || fail "in reversing vm1's primary is $(pair_field node3 vm1 primary)"
	note "$st held ($ms ms later): vm1 is $(domstate node2 vm1) on node2, $(domstate node1 vm1) on node1"
	lab crash node2
	note "node2 (the new primary) crashed in reversing"
	wait_for 90 "vm1 running on node1" domstate_is node1 vm1 running
	[ "$(transition_count node3 vm1 reversing fencing)" -gt 0 ] || fail "no reversing -> fencing"
	live_finish vm1
}
rounds round
