#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# mirror/ on real libvirt and QEMU, through the hasvc-mirror tool (the module
# on a qb_loop, as in hasvcd): prepare the backup on node2, mirror vm1 from
# node1 in sync mode until in sync, prove an acknowledged write is on the
# backup, crash node1, promote on node2, and find the write on the running VM.
# Bad input leaves nothing half-made.
source "$(dirname "$0")/lib.sh"

lab up --hosts 2 --no-daemon
labdir=/var/lib/hasvc-lab/$HASVC_LAB
M="$HASVC_BUILD_DIR/mirror/hasvc-mirror"
hmp() { lab exec "$1" virsh qemu-monitor-command vm1 --hmp "qemu-io -d /machine/peripheral/$2/virtio-backend \"$3\""; }
size=$((256 * 1024 * 1024))

lab vm-create node1 vm1 256M
lab exec node1 virsh dumpxml --inactive vm1 >"$labdir/vm1.xml"
hmp node1 virtio-disk0 "write -P 0x33 0 64M" >/dev/null

note "bad input: a domain with a block-device disk is refused, nothing is defined"
sed "s|<disk type='file' device='disk'>|<disk type='block' device='disk'>|" "$labdir/vm1.xml" >"$labdir/bad.xml"
set +e
out=$(lab exec node2 "$M" prepare "$labdir/bad.xml" 10.77.0.12 10809 "$size" 2>&1); rc=$?
set -e
[ $rc -ne 0 ] && echo "$out" | contains "hasvc mirrors local file images only" || fail "block disk not refused: $out"
[ -z "$(lab exec node2 virsh list --all --name | tr -d '[:space:]')" ] || fail "a domain was left on node2"
! lab exec node2 test -e /var/lib/libvirt/images/vm1.qcow2 || fail "an image was left on node2"

note "prepare on node2"
lab exec node2 mkdir -p /var/lib/libvirt/images
lab exec node2 "$M" prepare "$labdir/vm1.xml" 10.77.0.12 10809 "$size"
[ "$(lab exec node2 virsh domstate vm1)" = paused ] || fail "backup not paused"
lab exec node2 qemu-img info -U /var/lib/libvirt/images/vm1.qcow2 | contains "virtual size: 256 MiB" || fail "backup image size"

note "a running guest is never replaced by a backup: prepare on node1 is refused"
set +e
out=$(lab exec node1 "$M" prepare "$labdir/vm1.xml" 10.77.0.11 10809 "$size" 2>&1); rc=$?
set -e
[ $rc -ne 0 ] && echo "$out" | contains "is running on this host" || fail "running VM replaced: $out"
[ "$(lab exec node1 virsh domstate vm1)" = running ] || fail "primary disturbed"

note "a second prepare replaces the old paused backup (re-protection), on a new port"
lab exec node2 "$M" prepare "$labdir/vm1.xml" 10.77.0.12 10810 "$size"
[ "$(lab exec node2 virsh domstate vm1)" = paused ] || fail "backup not paused after re-prepare"
lab exec node2 "$M" prepare "$labdir/vm1.xml" 10.77.0.12 10809 "$size"

note "start the mirror on node1 (sync) and wait for in-sync"
t0=$(now_ms)
lab exec node1 "$M" start vm1 10.77.0.12 10809 sync
note "in sync after $(($(now_ms) - t0)) ms"
lab exec node1 "$M" jobs vm1 | contains '"ready":true' || fail "jobs do not say ready"
hmp node1 virtio-disk0 "write -P 0x77 100M 1M" >/dev/null
nbd_io node1 10.77.0.12 10809 -r -c 'read -P 0x77 100M 1M' -c 'read -P 0x33 0 64M' \
	>/dev/null || fail "acknowledged write missing on the backup"

note "crash node1, promote on node2"
lab crash node1
lab exec node2 "$M" promote vm1
[ "$(lab exec node2 virsh domstate vm1)" = running ] || fail "promoted VM not running"
hmp node2 ua-hasvc-vda "read -P 0x77 100M 1M" >/dev/null
lab exec node2 grep -q '^read 1048576/1048576 bytes at offset 104857600' /var/log/libvirt/qemu/vm1.log ||
	fail "promoted VM lacks the acknowledged write"
! lab exec node2 grep -q 'Pattern verification failed' /var/log/libvirt/qemu/vm1.log || fail "pattern mismatch"
set +e
out=$(lab exec node2 "$M" promote vm9 2>&1); rc=$?
set -e
[ $rc -ne 0 ] && echo "$out" | contains "no domain vm9" || fail "unknown VM: $out"
note "PASS"
