#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A primary lost during the initial sync is NOT failed over (issue 6, second
# acceptance): vm1 (1 GiB disk, 96 MiB of data) paired node1 -> node2 with
# the copy throttled to 1 MiB/s; node1 crashes mid-sync. The backup on node2
# stays paused, the pair goes lost-unsynced, status and events say why; when
# node1 returns, vm1 runs there again and the pair resyncs.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 1G
qio node1 vm1 "write -P 0x5a 0 96M"

note "pair vm1 node1 -> node2, throttled to 1 MiB/s"
lab exec node1 hasvc pair create vm1 --backup node2 --bandwidth 1 --no-wait
wait_for 60 "initial sync running" pair_state_is node1 vm1 initial-sync
sleep 3
done_bytes=$(pair_field node1 vm1 bytes_done)
note "initial sync under way: $done_bytes bytes copied"

note "bad input: no switchover before the first sync"
set +e
out=$(lab exec node1 hasvc switchover vm1 2>&1); rc=$?
set -e
[ $rc -eq 7 ] && echo "$out" | contains "needs an in-sync backup" || fail "switchover during sync: rc $rc: $out"

note "crash node1 during the initial sync"
lab crash node1
wait_for 60 "lost-unsynced" pair_state_is node2 vm1 lost-unsynced
reason=$(pair_field node2 vm1 reason)
note "reason: $reason"
echo "$reason" | contains "NOT promoted" || fail "the reason does not say the backup is not promoted: $reason"
event_count_above node2 "initial-sync -> lost-unsynced" 0 || fail "no event for the refusal"
lab exec node2 hasvc pair list | contains "lost-unsynced" || fail "pair list does not show it"

note "the backup stays paused: it is never promoted"
for i in $(seq 10); do
	domstate_is node2 vm1 paused || fail "backup on node2 is $(domstate node2 vm1)"
	sleep 0.5
done
! event_count_above node2 "-> promoting" 0 || fail "a promotion was attempted"

note "node1 returns: vm1 runs there again and the pair resyncs"
lab boot node1
wait_for 90 "vm1 running on node1" domstate_is node1 vm1 running
wait_for 60 "the pair leaves lost-unsynced" pair_state_not node1 vm1 lost-unsynced
event_count_above node1 "lost-unsynced -> degraded (host-returned)" 0 || fail "no event for the restart"
qio node1 vm1 "read -P 0x5a 0 96M"
domstate_is node2 vm1 running && fail "vm1 runs on node2 as well"
note "PASS"
