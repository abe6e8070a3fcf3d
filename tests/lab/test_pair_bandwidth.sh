#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A pair's copy bandwidth changed while it runs (issue 13, item 7), and what
# the lag of a sync pair says (issue 13, last acceptance bullet). vm1 (256 MiB
# disk, 96 MiB written) is paired node1 -> node2 in sync mode at 1 MiB/s:
#   1. the initial sync crawls at about 1 MiB/s (progress sampled from the
#      state: QEMU copies a 64 MiB batch, then waits it out), QEMU's job says "Bandwidth limit: 1048576 bytes/s" (virsh
#      blockjob --info --bytes on the primary), the pair and /metrics show it;
#   2. bad values are refused through the CLI, naming what is wrong, with the
#      exit code, and change nothing: not a number, negative, beyond any
#      number, above the limit, no value, a VM without a pair;
#   3. `hasvc pair set vm1 --bandwidth 0` from another host (node2): the same
#      initial sync (no restart: the progress goes on from where it was)
#      reaches in-sync within seconds, and the job runs unlimited;
#   4. in-sync, the steady mirror takes a new limit too (5 MiB/s on the job);
#   5. in-sync in sync mode, with writes running, every sample of lag_bytes
#      is 0 (every acknowledged write is on the backup); the blocks written
#      are read back from the backup's export over NBD. (The lab's writes are
#      HMP qemu-io commands, which hold QEMU's monitor: the jobs are never
#      read while one is in flight, so the case the lag was wrong in, a write
#      in flight as the jobs are read, is tests/pairs/test_bandwidth.c's.)
# With HASVC_LAB_DAEMON_ENV=HASVC_MIRROR_ENGINE=qmp the same runs on the qmp
# engine (block-job-set-speed), libvirt's view of the job left out.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
qio node1 vm1 "write -P 0x5a 0 96M"

done_bytes() { pair_field node1 vm1 bytes_done; }
# job_info: virsh's view of vm1's block job on vda on node1, in bytes (the
# default engine; libvirt does not know the qmp engine's jobs)
job_info() { lab exec node1 virsh blockjob vm1 vda --info --bytes 2>&1; }
# job_speed: QEMU's own word, the "speed" of vm1's one block job (query-block-jobs)
job_speed() {
	lab exec node1 virsh qemu-monitor-command vm1 '{"execute":"query-block-jobs"}' |
		jq -e '.return | if length == 1 then .[0].speed else error("jobs: \(length)") end'
}
qmp_engine() { [[ ${HASVC_LAB_DAEMON_ENV:-} == *HASVC_MIRROR_ENGINE=qmp* ]]; }
metrics() { lab exec "$1" curl -sf --unix-socket /run/hasvc/hasvcd.sock http://hasvc/metrics; }
started_sync() { pair_state_is node1 vm1 initial-sync && [ "$(done_bytes)" -gt 0 ]; }
# limited_to BYTES: the job runs at BYTES/s (0: unlimited), in QEMU and as libvirt tells it
limited_to() {
	[ "$(job_speed)" = "$1" ] || return 1
	qmp_engine && return 0
	if [ "$1" = 0 ]; then
		! job_info | contains "Bandwidth limit"
	else
		job_info | contains "Bandwidth limit: $1 bytes/s"
	fi
}

note "pair vm1 at 1 MiB/s per disk"
lab exec node1 hasvc pair create vm1 --backup node2 --bandwidth 1 --no-wait >/dev/null
wait_for 90 "the initial sync under way" started_sync
wait_for 10 "QEMU's job limited to 1 MiB/s" limited_to 1048576
qmp_engine || note "job: $(job_info | tr -s ' \n' ' ')"
[ "$(pair_field node2 vm1 bandwidth_mib)" = 1 ] || fail "node2's state has bandwidth $(pair_field node2 vm1 bandwidth_mib)"
lab exec node2 hasvc pair show vm1 | contains '^bandwidth: 1 MiB/s per disk$' || fail "pair show lacks the bandwidth"
metrics node3 | contains '^hasvc_pair_bandwidth_bytes_per_second{vm="vm1"} 1048576$' ||
	fail "metrics lack the bandwidth: $(metrics node3 | grep bandwidth)"

# QEMU takes a batch of up to buf-size (64 MiB, mirror_copy.c) of dirty chunks
# per iteration and then sleeps until the limit is met again: at 1 MiB/s the
# copy moves 64 MiB, then waits about 64 s. So the rate is asserted over the
# sync so far, batch by batch: not above one batch, where unthrottled the 96
# MiB take about a second.
note "the throttled initial sync, sampled for 12 s"
t0=$(now_ms)
for i in 1 2 3 4 5 6; do
	sleep 2
	note "throttled: $(done_bytes) of $(pair_field node1 vm1 bytes_total) bytes after $((($(now_ms) - t0) / 1000)) s, job speed $(job_speed) bytes/s"
done
d1=$(done_bytes) total=$(pair_field node1 vm1 bytes_total)
[ "$d1" -le $((68 << 20)) ] || fail "the throttled sync copied $d1 bytes in 12 s: more than one 64 MiB batch"
[ "$d1" -lt "$total" ] || fail "the throttled sync is done already ($d1 of $total)"
pair_state_is node1 vm1 initial-sync || fail "vm1 is $(pair_field node1 vm1 state) before the limit was lifted"
note "bad values: refused, naming what is wrong"
expect 2 "whole number of MiB/s (0: unlimited), not 'lots'" lab exec node1 hasvc pair set vm1 --bandwidth lots
expect 2 "not '-1'" lab exec node1 hasvc pair set vm1 --bandwidth -1
expect 2 "not '99999999999999999999'" lab exec node1 hasvc pair set vm1 --bandwidth 99999999999999999999
expect 2 "must be a whole number from 0 to 1000000, not 2000000" lab exec node1 hasvc pair set vm1 --bandwidth 2000000
expect 2 "usage: hasvc pair set VM --bandwidth" lab exec node1 hasvc pair set vm1
expect 4 "no pair for VM 'vmX'" lab exec node1 hasvc pair set vmX --bandwidth 5
expect 22 "field 'bandwidth_mib' must be a whole number, not string" lab exec node1 curl -s --fail-with-body \
	--unix-socket /run/hasvc/hasvcd.sock -X PATCH -d '{"bandwidth_mib":"5"}' http://hasvc/v1/pairs/vm1
[ "$(pair_field node1 vm1 bandwidth_mib)" = 1 ] || fail "a refused set changed the bandwidth"
limited_to 1048576 || fail "a refused set changed the job: speed $(job_speed)"

note "lift the limit, from node2"
gen=$(pair_field node1 vm1 generation)
before=$(done_bytes)
t0=$(now_ms)
lab exec node2 hasvc pair set vm1 --bandwidth 0
wait_for 10 "the job unlimited" limited_to 0
t_set=$(($(now_ms) - t0))
wait_for 120 "in-sync" pair_state_is node1 vm1 in-sync
t_sync=$(($(now_ms) - t0))
note "unlimited on the job after $t_set ms; in-sync $t_sync ms after the set (from $before of $(pair_field node1 vm1 bytes_total) bytes)"
# the rest at 1 MiB/s would have taken a batch's wait, about a minute
[ "$t_sync" -lt 20000 ] || fail "in-sync only $t_sync ms after the limit was lifted"
[ "$(event_count node1 "bandwidth of vm1 set to unlimited (was 1 MiB/s per disk)")" -eq 1 ] || fail "no event of the set"
[ "$(event_count node1 "vm1: copy speed unlimited")" -ge 1 ] || fail "no event of the speed applied"
# the set is no transition: the same generation's sync went on to mirror-ready, not restarted
[ "$(pair_field node1 vm1 generation)" -eq $((gen + 1)) ] || fail "generation $(pair_field node1 vm1 generation), want $((gen + 1)) (mirror-ready only)"
metrics node1 | contains '^hasvc_pair_bandwidth_bytes_per_second{vm="vm1"} 0$' || fail "metrics still show a limit"

note "the steady mirror takes a limit too"
lab exec node1 hasvc pair set vm1 --bandwidth 5 >/dev/null 2>&1
wait_for 10 "QEMU's job limited to 5 MiB/s" limited_to $((5 << 20))
pair_state_is node1 vm1 in-sync || fail "vm1 left in-sync: $(pair_field node1 vm1 state)"
lab exec node1 hasvc pair set vm1 --bandwidth 0 >/dev/null 2>&1
wait_for 10 "the job unlimited again" limited_to 0

note "sync mode, in-sync, writes running: lag_bytes sampled"
samples=0 nonzero=0
write_blocks node1 vm1 0 31 &
writer=$!
while kill -0 $writer 2>/dev/null; do
	l=$(pair_field node1 vm1 lag_bytes)
	samples=$((samples + 1))
	[ "$l" = 0 ] || nonzero=$((nonzero + 1))
	sleep 0.2
done
wait $writer || fail "the writes failed"
note "lag_bytes: $nonzero of $samples samples above 0"
[ "$nonzero" -eq 0 ] || fail "an in-sync sync pair showed a lag in $nonzero of $samples samples"
[ "$samples" -gt 3 ] || fail "only $samples samples"
pair_state_is node1 vm1 in-sync || fail "vm1 left in-sync: $(pair_field node1 vm1 state)"
reads=()
for i in $(seq 0 31); do reads+=(-c "read -P $((i & 0xff)) $((64 + i))M 1M"); done
nbd_io node2 10.77.0.12 "$(pair_field node1 vm1 nbd_port)" -r "${reads[@]}" >/dev/null ||
	fail "a block written in sync is not on the backup"
note "ok"
