#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The live switchover's operations (docs/mirror.md "Live switchover") on real
# libvirt, QEMU and qemu-storage-daemon, through hasvc-mirror with the qmp
# engine, TLS on, hasvcd off (the pair is made by hand):
#   1. vm1 on node1 mirrored (sync) into its paused backup on node2, blocks
#      written.
#   2. node2: the backup's QEMU replaced by a stand-in (standin-start
#      replace); node1's paused job resumed into it: only the gap's writes
#      are copied. More writes go through the stand-in.
#   3. node1 -> node2 live migration (migrate): vm1 paused on node2, off on
#      node1.
#   4. node1: a stand-in of its image; node2: a mirror from equal disks
#      into it (start, FROM_EQUAL), then continue (node2's stand-in stopped,
#      vm1 resumed); writes on node2.
#   5. node1: the backup prepared again (fresh false: its stand-in stopped
#      first, the same port); node2's job resumed: only the delta.
# Every block is on both disks, and the images compare identical over NBD.
# Failures an operator can hit: migrate on the default engine, or with a job
# not READY, is refused with the reason; migrate to a host whose libvirtd is
# stopped fails fast and the guest runs on; a migration that cannot end is
# aborted at its bound; a stand-in on a taken port names it; a stand-in while
# the backup's QEMU runs is refused; the new primary lost while a stand-in
# serves the backup's disks: promotion stops it and boots the domain from its
# disk (6); the old primary lost after the migration completed: promotion
# resumes the migrated guest (7).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576
SLACK=$((2 * MIB)) # the sync mirror's granularity is 1 MiB: one chunk each side
size=$((256 * MIB))
labdir=/var/lib/hasvc-lab/$HASVC_LAB
M="$HASVC_BUILD_DIR/mirror/hasvc-mirror"
# mq NODE ARGS...: hasvc-mirror with the qmp engine on NODE
mq() {
	local node=$1
	shift
	lab exec "$node" env HASVC_MIRROR_ENGINE=qmp ${PRIMARY:+HASVC_MIRROR_PRIMARY=$PRIMARY} \
		${FROM_EQUAL:+HASVC_MIRROR_FROM_EQUAL=1} "$M" "$@"
}
# job NODE FIELD: a field of vm1's job hs-vda on NODE
job() { qmp "$1" '{"execute":"query-block-jobs"}' | jq -r --arg f "$2" '.[] | select(.device == "hs-vda") | .[$f] | tostring'; }
# field JSON_LINES KEY: KEY of the JSON line of an answer
field() { grep '^{' <<<"$1" | jq -r ".$2"; }
standin_pid() { lab exec "$1" cat /run/hasvc-standin/vm1.pid 2>/dev/null || true; }

# compare_disks PRIMARY PADDR BACKUP_ADDR: the running primary's image (through a
# read-only export of its own QEMU on port 10899) and the backup's export, block for block.
compare_disks() {
	local p=$1 paddr=$2 baddr=$3 fmt
	local -a b
	fmt=$(qmp "$p" '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
		jq -r '[.[] | select(.drv == "qcow2" and (.file | endswith("/vm1.qcow2")))][0]."node-name"')
	qmp "$p" "{\"execute\":\"nbd-server-start\",\"arguments\":{\"addr\":{\"type\":\"inet\",\"data\":{\"host\":\"$paddr\",\"port\":\"10899\"}}}}" >/dev/null
	qmp "$p" "{\"execute\":\"block-export-add\",\"arguments\":{\"type\":\"nbd\",\"id\":\"cmp-vda\",\"node-name\":\"$fmt\",\"name\":\"vda\",\"writable\":false}}" >/dev/null
	mapfile -t b < <(nbd_image "$baddr" 10809 vda)
	lab exec "$p" qemu-img compare -q "${b[0]}" "${b[1]}" --image-opts \
		"driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=$paddr,file.server.port=10899,file.export=vda" \
		"${b[3]}" || fail "the primary's and the backup's disks differ"
	qmp "$p" '{"execute":"block-export-del","arguments":{"id":"cmp-vda"}}' >/dev/null
	qmp "$p" '{"execute":"nbd-server-stop"}' >/dev/null
	note "$p's disk and the backup's export at $baddr compare identical"
}

lab up --hosts 2 --no-daemon
[ "$(cat "$labdir/tls")" = on ] || fail "this test runs with TLS (HASVC_LAB_TLS unset)"
lab vm-create node1 vm1 256M
lab exec node1 virsh dumpxml --inactive vm1 >"$labdir/vm1.xml"
qio node1 vm1 "write -P 0x33 0 64M"

note "refused: a live migration on the default engine"
expect 1 "live switchover needs the qmp engine" lab exec node1 "$M" migrate vm1 10.77.0.12

note "1. pair by hand: backup on node2 (for node1 only), sync mirror from node1"
PRIMARY=node1 mq node2 prepare "$labdir/vm1.xml" 10.77.0.12 10809 "$size"
mq node1 start vm1 10.77.0.12 10809 sync
full=$(job node1 offset)
write_blocks node1 vm1 1 8

note "refused: a stand-in while the backup's QEMU holds the disks"
expect 1 "replaces it only when asked to" mq node2 standin-start vm1 10.77.0.12 10809
domstate_is node2 vm1 paused || fail "the backup is $(domstate node2 vm1) after a refused stand-in"

note "2. node2: the backup's QEMU replaced by a stand-in"
out=$(PRIMARY=node1 mq node2 standin-start vm1 10.77.0.12 10809 replace)
echo "$out"
gap=$(field "$out" gap_ms)
pid=$(field "$out" pid)
[ "$(standin_pid node2)" = "$pid" ] || fail "pid file says $(standin_pid node2), the answer $pid"
PRIMARY=node1 mq node2 standin-start vm1 10.77.0.12 10809 replace | contains "runs already (pid $pid)" ||
	fail "a repeated standin-start is not success"
expect 1 "not on 10.77.0.12:10810: stop it first" mq node2 standin-start vm1 10.77.0.12 10810
domstate_is node2 vm1 "shut off" || fail "the backup is $(domstate node2 vm1), not shut off"
write_blocks node1 vm1 9 12
off0=$(job node1 offset)
# (0 as a rule: the NBD node holds a write whose connection broke while it
# reconnects, 2 s, and the stand-in listens well within that)
note "the job owes $(($(job node1 len) - off0)) bytes ($(job node1 status)) after 4 MiB written around the gap"
note "refused: a migration while a disk's job is not READY (paused by a cut)"
mq node1 cut vm1 10.77.0.12 10809
expect 1 "is not in sync: the mirror of disk vda is paused" mq node1 migrate vm1 10.77.0.12
write_blocks node1 vm1 13 14 # while paused
owed=$(($(job node1 len) - $(job node1 offset)))
mq node1 resume vm1 10.77.0.12 10809
copied1=$(($(job node1 offset) - off0))
[ "$copied1" -ge "$owed" ] && [ "$copied1" -le $((2 * MIB + SLACK)) ] ||
	fail "the resume copied $copied1 bytes (owed $owed) for 2 MiB written while paused"
write_blocks node1 vm1 15 16 # through the stand-in, write-blocking
note "only the delta copied: $copied1 bytes, $owed owed (the full copy: $full); nothing listened for $gap ms"

note "refused: a migration to a host whose libvirtd is stopped; the guest runs on"
lpid=$(lab exec node2 cat /run/libvirtd.lab.pid)
kill -TERM "$lpid" # node2's own libvirtd, by the lab's pid file
for _ in $(seq 450); do [ -d "/proc/$lpid" ] || break; sleep 0.1; done
[ ! -d "/proc/$lpid" ] || fail "node2's libvirtd did not stop"
t0=$(now_ms)
expect 1 "keeps running here" mq node1 migrate vm1 10.77.0.12 60
fail_ms=$(($(now_ms) - t0))
[ "$fail_ms" -lt 10000 ] || fail "the refused migration took $fail_ms ms"
domstate_is node1 vm1 running || fail "vm1 is $(domstate node1 vm1) on node1 after a failed migration"
[ "$(job node1 status)" = ready ] || fail "the mirror is $(job node1 status) after a failed migration"
lab restart node2 libvirtd # (nothing to stop: it starts it as boot does, listening for TLS)

note "refused: a migration that does not end within its bound is aborted; the guest runs on"
# node1's migration stream throttled to 100 kbit/s (iptables CLASSIFY into an
# htb leaf tbf, as test_mirror_modes.sh: no tc classifiers here): the RAM's
# pages (their headers alone, most are zero) take far longer than the bound.
# (A stream that stalls before QEMU's transfer runs, in libvirt's connect or
# the TLS handshake, is not interrupted by the abort: docs/mirror.md.)
lab exec node1 tc qdisc add dev eth0 root handle 1: htb default 10
lab exec node1 tc class add dev eth0 parent 1: classid 1:10 htb rate 10gbit
lab exec node1 tc class add dev eth0 parent 1: classid 1:30 htb rate 10gbit
lab exec node1 tc qdisc add dev eth0 parent 1:30 tbf rate 100kbit burst 32kbit latency 400ms
lab exec node1 iptables -t mangle -A POSTROUTING -p tcp --dport 49152:49215 -j CLASSIFY --set-class 1:30
t0=$(now_ms)
expect 1 "did not end within 10 s and was aborted" mq node1 migrate vm1 10.77.0.12 10
abort_ms=$(($(now_ms) - t0))
lab exec node1 iptables -t mangle -F POSTROUTING
lab exec node1 tc qdisc del dev eth0 root
[ "$abort_ms" -lt 25000 ] || fail "the migration bounded at 10 s ended after $abort_ms ms"
domstate_is node1 vm1 running || fail "vm1 is $(domstate node1 vm1) on node1 after the aborted migration"
[ "$(job node1 status)" = ready ] || fail "the mirror is $(job node1 status) after the aborted migration"
wait_for 30 "node2 to drop the incoming migration" domstate_is node2 vm1 "shut off"
write_blocks node1 vm1 17 18 # still mirrored through the stand-in

note "3. live migration node1 -> node2"
out=$(mq node1 migrate vm1 10.77.0.12 120)
echo "$out"
mig_ms=$(field "$out" elapsed_ms)
down_ms=$(field "$out" downtime_ms)
domstate_is node2 vm1 paused || fail "vm1 is $(domstate node2 vm1) on node2 after the migration"
# (the answer comes once the guest is on node2, before libvirt has reaped node1's QEMU)
wait_for 10 "vm1 shut off on node1 after the migration" domstate_is node1 vm1 "shut off"

note "refused: a stand-in on a taken port (node1's libvirtd listens on 16514)"
expect 1 "port 16514 on 10.77.0.11 is taken" mq node1 standin-start vm1 10.77.0.11 16514

note "4. node1 serves its image; node2 mirrors from equal disks, then runs"
PRIMARY=node2 mq node1 standin-start vm1 10.77.0.11 10809
FROM_EQUAL=1 mq node2 start vm1 10.77.0.11 10809 sync
equal_copied=$(job node2 offset)
[ "$equal_copied" -eq 0 ] || fail "the mirror from equal disks copied $equal_copied bytes"
mq node2 continue vm1
domstate_is node2 vm1 running || fail "vm1 is $(domstate node2 vm1) on node2 after continue"
[ -z "$(standin_pid node2)" ] || fail "node2's stand-in still runs after continue"
write_blocks node2 vm1 19 26

note "5. node1: the backup prepared again in place of its stand-in; node2's job resumed"
PRIMARY=node2 mq node1 prepare "$labdir/vm1.xml" 10.77.0.11 10809 "$size" | tee "$labdir/prep.out"
contains "its stand-in stopped first" <"$labdir/prep.out" || fail "prepare did not stop the stand-in"
[ -z "$(standin_pid node1)" ] || fail "node1's stand-in survived the prepare"
write_blocks node2 vm1 27 28
off0=$(job node2 offset)
note "node2's job owes $(($(job node2 len) - off0)) bytes ($(job node2 status))"
mq node2 resume vm1 10.77.0.11 10809
copied2=$(($(job node2 offset) - off0))
[ "$copied2" -le $((2 * MIB + SLACK)) ] || fail "the resume into the new backup copied $copied2 bytes"
[ "$(job node2 status)" = ready ] || fail "node2's job is $(job node2 status)"

note "every block on both hosts"
verify_blocks node2 vm1 1 28
qio node2 vm1 "read -P 0x33 0 64M"
nbd_io node2 10.77.0.11 10809 -r -c 'read -P 0x33 0 64M' -c 'read -P 1 65M 1M' -c 'read -P 28 92M 1M' \
	>/dev/null || fail "a block is missing on node1's backup"
compare_disks node2 10.77.0.12 10.77.0.11

note "6. the new primary lost during a live switchover: node1's stand-in in place of its backup"
PRIMARY=node2 mq node1 standin-start vm1 10.77.0.11 10809 replace
write_blocks node2 vm1 29 30 # around the gap
mq node2 resume vm1 10.77.0.11 10809
write_blocks node2 vm1 31 32 # through the stand-in
lab crash node2
mq node1 promote vm1 | tee "$labdir/promote.out"
contains "booted from its disk" <"$labdir/promote.out" || fail "promotion did not boot from the disk"
domstate_is node1 vm1 running || fail "vm1 is $(domstate node1 vm1) on node1 after the promotion"
[ -z "$(standin_pid node1)" ] || fail "node1's stand-in survived the promotion"
verify_blocks node1 vm1 1 32

note "7. the old primary lost after the migration completed: node2 resumes the migrated guest"
lab boot node2
wait_for 30 "node2's libvirtd" lab exec node2 virsh -q list --all
[ -z "$(lab exec node2 ls /run/hasvc-standin 2>/dev/null)" ] || fail "node2's crash left a stand-in's file behind"
PRIMARY=node1 mq node2 prepare "$labdir/vm1.xml" 10.77.0.12 10809 "$size"
mq node1 start vm1 10.77.0.12 10809 sync
PRIMARY=node1 mq node2 standin-start vm1 10.77.0.12 10809 replace
write_blocks node1 vm1 33 34
mq node1 resume vm1 10.77.0.12 10809
mq node1 migrate vm1 10.77.0.12 120
lab crash node1
mq node2 promote vm1 | tee "$labdir/promote2.out"
contains "the migrated domain resumed" <"$labdir/promote2.out" || fail "promotion did not resume the migrated guest"
domstate_is node2 vm1 running || fail "vm1 is $(domstate node2 vm1) on node2 after the promotion"
[ -z "$(standin_pid node2)" ] || fail "node2's stand-in survived the promotion"
verify_blocks node2 vm1 1 34

note "figures: stand-in gap $gap ms, migration $mig_ms ms, downtime ${down_ms} ms, failed migration $fail_ms ms, aborted one $abort_ms ms, copied $copied1 + $copied2 bytes (full copy $full)"
note "PASS"
