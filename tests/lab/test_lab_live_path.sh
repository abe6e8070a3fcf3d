#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Live switchover onto the synced backup (issue 14), proven by hand with QMP,
# qemu-nbd and virsh on the lab's real libvirtd 11.3 and QEMU 10.0 (TCG), so
# that a change in the platform shows up here first. What hasvc builds on it
# is in docs/mirror.md; docs/datapath-experiments.md part B explains each
# step and the figures this prints.
#
#   1. The pair as the qmp engine runs it: node1's own write-blocking job
#      hs-vda into node2's paused backup's export, READY.
#   2. Hand-over on node2: the paused backup's QEMU is destroyed (libvirt would
#      refuse an incoming migration next to an active domain of the same
#      UUID) and a stand-in, qemu-nbd, exports the same image at the same
#      address, port and name, without image locks (the migration's incoming
#      QEMU opens the image next). The job goes on into it; what was written
#      while nothing listened is owed and resumed: a delta, never a full copy.
#   3. virsh migrate --live --unsafe --suspend --tls, with the job running and
#      writes going on meanwhile: libvirt does not refuse (the job is not
#      its), the guest ends paused on node2, node1's QEMU is gone, its
#      definition kept. Every write acknowledged on node1, also during the
#      migration, is on node2's image, which node2's QEMU activated.
#   4. The reverse pair from equal disks: a stand-in on node1, node2 mirrors
#      into it with sync=none while the guest is still paused, then resumes
#      it; node1 becomes the backup (its QEMU takes the port back from the
#      stand-in) and node2's job resumes: only the writes since the switch.
#      The images compare identical.
#   5. Why hasvc's NBD node has reconnect-delay 2, not 0: a server replaced
#      on the same port leaves the node's idle connection dead unnoticed;
#      with 0 the next guest write fails on it (the job pauses), with 2 it is
#      retried once the node reconnected, and a write made while nothing
#      listens waits for the server instead of failing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576
labdir=/var/lib/hasvc-lab/$HASVC_LAB
IMG=/var/lib/libvirt/images/$VM.qcow2
DEST_URI="qemu+tls://10.77.0.12/system?pkipath=/etc/hasvc/pki/libvirt"

# standin NODE ADDR: qemu-nbd exports NODE's image as the backup's QEMU did, image unlocked.
standin() {
	lab exec "$1" qemu-nbd --fork --pid-file=/run/hs-standin.pid --persistent --shared=4 \
		--bind="$2" --port=10809 --export-name=vda --cache=writethrough --image-opts \
		"driver=qcow2,file.driver=file,file.filename=$IMG,file.locking=off"
}
standin_stop() {
	local pid
	pid=$(lab exec "$1" cat /run/hs-standin.pid)
	lab exec "$1" kill "$pid"
	wait_for 10 "the stand-in on $1 to exit" bash -c "! $LAB_CMD exec $1 kill -0 $pid 2>/dev/null"
}
# write_at NODE DEV MIB PATTERN: one acknowledged 1 MiB write through the guest's block layer.
write_at() {
	lab exec "$1" virsh qemu-monitor-command "$VM" --hmp \
		"qemu-io -d /machine/peripheral/$2/virtio-backend \"write -P $4 $(($3 * MIB)) 1M\"" >/dev/null
}
# read_ok NODE DEV MIB PATTERN: the block reads back with its pattern on NODE (HMP qemu-io).
read_ok() {
	local log=/var/log/libvirt/qemu/$VM.log bad
	bad=$(lab exec "$1" grep -c 'Pattern verification failed' "$log" || true)
	lab exec "$1" virsh qemu-monitor-command "$VM" --hmp \
		"qemu-io -d /machine/peripheral/$2/virtio-backend \"read -P $4 $(($3 * MIB)) 1M\"" >/dev/null
	[ "$(lab exec "$1" grep -c 'Pattern verification failed' "$log" || true)" = "$bad" ]
}
identical() { lab exec node1 qemu-img compare -q -f raw -F raw "$1" "$2"; }
cmp_export() {
	qmp "$1" "{\"execute\":\"nbd-server-start\",\"arguments\":{\"addr\":{\"type\":\"inet\",\"data\":{\"host\":\"$2\",\"port\":\"10810\"}}}}" >/dev/null
	qmp "$1" '{"execute":"block-export-add","arguments":{"type":"nbd","id":"cmp-vda","node-name":"libvirt-1-format","name":"vda","writable":false}}' >/dev/null
}

lab up --hosts 2 --no-daemon
lab_pair_domains
export_disk node2 10.77.0.12 10809
for i in 0 1 2 3; do write_at node1 virtio-disk0 $i $((i + 1)); done

note "1. node1's job hs-vda (sync full, write-blocking, on-target-error stop) into node2's export"
add_nbd node1 hs-nbd-vda 10.77.0.12 0
mirror node1 hs-nbd-vda full
wait_for 60 "hs-vda READY" job_ready node1
len0=$(job node1 len)

note "2. hand-over on node2: the backup's QEMU destroyed, a stand-in on the same port"
t0=$(now_ms)
lab exec node2 virsh -q destroy $VM >/dev/null
standin node2 10.77.0.12
gap=$(($(now_ms) - t0))
for i in 10 11 12; do write_at node1 virtio-disk0 $i $((i + 1)); done
owed=$(($(job node1 len) - $(job node1 offset)))
tries=$(resume_until_ready node1)
copied=$(($(job node1 len) - len0))
note "nothing listened for $gap ms; the job owed $owed bytes, READY after $tries resume(s); copied $copied bytes since READY for 3 MiB written (disk 256 MiB)"
[ "$copied" = $((3 * MIB)) ] || fail "the hand-over cost $copied bytes of copy, not the 3 MiB written"

note "3. live migration with the job running and writes going on"
log1=$labdir/node1/var/log/libvirt/qemu/$VM.log
: >"$labdir/acked"
# Writes only while the migration is early in its pre-copy (or not begun):
# HMP qemu-io ignores the run state, and a write that reaches the source
# after its disks went inactive at the switch fails QEMU's assertion
# `!(bs->open_flags & BDRV_O_INACTIVE)` and kills it ("domain is not
# running", 2 of 7 runs on 2026-12-01). Half the RAM still to send leaves
# the switch far enough away for the write that follows the look.
early() {
	local m
	m=$(lab exec node1 virsh qemu-monitor-command "$VM" '{"execute":"query-migrate"}' 2>/dev/null) || return 1
	jq -e '.return | (.status // "none") as $s | $s == "none" or $s == "setup" or
		($s == "active" and (.ram.remaining // 0) * 2 > (.ram.total // 0))' >/dev/null <<<"$m"
}
(
	i=20
	while [ ! -e "$labdir/migrated" ] && [ $i -lt 60 ] && early; do
		write_at node1 virtio-disk0 $i $((i + 1)) 2>/dev/null && echo $i >>"$labdir/acked" || break
		i=$((i + 1))
	done
) &
writer=$!
sleep 0.5
t0=$(now_ms)
if ! lab exec node1 virsh migrate --live --unsafe --suspend --tls --persistent $VM "$DEST_URI" \
	--migrateuri tcp://10.77.0.12; then
	# The look above and the write after it are two virsh calls: on a loaded
	# machine the switch can come between them (clean-clone CI 2026-12-02).
	# That kills the source on QEMU's assertion, a race of this harness only
	# (a guest's own writes stop with its vCPUs before the switch): the test
	# runs again from a fresh lab, twice at most. Any other failure fails.
	if lab exec node1 grep -q 'BDRV_O_INACTIVE' "/var/log/libvirt/qemu/$VM.log" &&
		[ "${LIVE_PATH_TRY:-1}" -lt 3 ]; then
		note "a test write reached node1's QEMU after its disks went inactive (the harness's race); again from a fresh lab"
		kill "$writer" 2>/dev/null || true
		trap - EXIT
		lab down >/dev/null 2>&1 || true
		LIVE_PATH_TRY=$((${LIVE_PATH_TRY:-1} + 1)) exec bash "$0"
	fi
	fail "virsh migrate failed"
fi
mig_ms=$(($(now_ms) - t0))
touch "$labdir/migrated"
wait "$writer" || true
acked=$(wc -l <"$labdir/acked")
downtime=$(lab exec node2 virsh domjobinfo $VM --completed 2>/dev/null | awk '/^Total downtime:/ { print $3 }')
note "migrated in $mig_ms ms (downtime $downtime ms by libvirt); $acked writes acknowledged on node1 meanwhile"
[ "$acked" -gt 0 ] || fail "no write went through during the migration"
domstate_is node2 $VM paused || fail "$VM is $(domstate node2 $VM) on node2, not paused"
domstate_is node1 $VM "shut off" || fail "$VM is $(domstate node1 $VM) on node1, not shut off"
[ "$(qmp node2 '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' | jq '[.[] | select(.active == false)] | length')" = 0 ] ||
	fail "node2's QEMU left a node inactive"

note "4. the reverse pair from equal disks; node1 becomes the backup"
standin_stop node2
t0=$(now_ms)
standin node1 10.77.0.11
add_nbd node2 hs-nbd-vda 10.77.0.11 0
mirror node2 hs-nbd-vda none
lab exec node2 virsh -q resume $VM >/dev/null
note "paused after the migration until resumed: $(($(now_ms) - t0)) ms for the reverse mirror (stand-in, node, job)"
for i in 0 1 2 3 10 11 12 $(cat "$labdir/acked"); do
	read_ok node2 virtio-disk0 $i $((i + 1)) || fail "block $i, acknowledged on node1, differs on node2"
done
note "every block acknowledged on node1 ($((7 + acked))) reads back on node2"
for i in 70 71 72 73; do write_at node2 virtio-disk0 $i $((i + 1)); done
[ "$(job node2 offset)" = $((4 * MIB)) ] || fail "the reverse job copied $(job node2 offset) bytes, not 4 MiB"
standin_stop node1
lab exec node1 virsh -q undefine $VM >/dev/null
lab exec node1 virsh -q define "$labdir/backup.xml" >/dev/null
lab exec node1 virsh -q start --paused $VM >/dev/null
export_disk node1 10.77.0.11 10809
for i in 74 75; do write_at node2 virtio-disk0 $i $((i + 1)); done
tries=$(resume_until_ready node2)
note "reverse job READY after $tries resume(s): $(job node2 offset) bytes copied in all for 6 MiB written since the switch"
[ "$(job node2 offset)" = $((6 * MIB)) ] || fail "the reverse job copied $(job node2 offset) bytes, not 6 MiB"
cmp_export node2 10.77.0.12
identical nbd://10.77.0.12:10810/vda nbd://10.77.0.11:10809/vda ||
	fail "node1's and node2's images differ after the live switchover"
note "images identical; no full copy in either direction"

note "5. reconnect-delay 0 against 2, the backup's QEMU replaced while the connection is idle"
restart_backup() { # NODE: the backup's QEMU replaced, no write meanwhile
	lab exec "$1" virsh -q destroy $VM >/dev/null
	lab exec "$1" virsh -q start --paused $VM >/dev/null
	export_disk "$1" 10.77.0.11 10809
}
restart_backup node1
write_at node2 virtio-disk0 80 81
[ "$(job node2 paused)" = true ] ||
	fail "with reconnect-delay 0 the first write after an unseen restart did not fail (job $(job node2 status))"
note "delay 0: the first write after the restart failed on the dead connection; the job paused owing $(owed node2) bytes"
resume_until_ready node2 >/dev/null
qmp node2 '{"execute":"block-job-cancel","arguments":{"device":"hs-vda"}}' >/dev/null
wait_for 10 "hs-vda gone" bash -c "[ \"\$($LAB_CMD exec node2 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq '.return | length')\" = 0 ]"
qmp node2 '{"execute":"blockdev-del","arguments":{"node-name":"hs-nbd-vda"}}' >/dev/null
add_nbd node2 hs-nbd-vda 10.77.0.11 2
mirror node2 hs-nbd-vda none
restart_backup node1
t0=$(now_ms)
write_at node2 virtio-disk0 82 83
note "delay 2: the first write after the restart took $(($(now_ms) - t0)) ms, job $(job node2 status), paused $(job node2 paused)"
[ "$(job node2 paused)" = false ] || fail "with reconnect-delay 2 the write after an unseen restart failed"
lab exec node1 virsh -q destroy $VM >/dev/null
t0=$(now_ms)
write_at node2 virtio-disk0 84 85 &
w=$!
sleep 0.3
lab exec node1 virsh -q start --paused $VM >/dev/null
export_disk node1 10.77.0.11 10809
up_ms=$(($(now_ms) - t0))
wait $w || fail "the write made while nothing listened failed"
note "delay 2: a write made while nothing listened waited $(($(now_ms) - t0)) ms for the new server (listening after $up_ms ms); job $(job node2 status), owes $(owed node2)"
if [ "$(job node2 paused)" = true ] && [ "$up_ms" -gt 900 ]; then
	# The node's connect thread tries at once, then 1 s later, then 2 s
	# after that: a server that listens only after the first retry (a
	# loaded machine starts QEMU slowly) comes after the 2 s delay ran out,
	# and the job pauses owing the write: QEMU's other outcome, not a fault
	# (hasvc resumes it, a delta). Resumed here for the comparison below.
	note "the new server came after the node's first retry: the job paused owing the write, resumed"
	resume_until_ready node2 >/dev/null
else
	[ "$(job node2 paused)" = false ] && [ "$(owed node2)" = 0 ] || fail "the write in the gap paused the job"
fi
identical nbd://10.77.0.12:10810/vda nbd://10.77.0.11:10809/vda || fail "images differ after step 5"
note "PASS"
