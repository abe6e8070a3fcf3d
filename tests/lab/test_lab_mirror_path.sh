#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The data path mirror/ is built on, proven with plain virsh/QMP on the lab's
# real libvirtd and QEMU (TCG), so a change in the platform shows up here
# before it shows up as a failed failover:
#   - a paused backup defined from mirror_xml_backup()'s output (user alias,
#     <qemu:override> share-rw=on) exports its disk over
#     NBD, writable, writethrough;
#   - the primary's block copy (reuse-external, transient job, synchronous
#     writes) into that export reaches READY;
#   - a write acknowledged on the primary is on the backup at once (read back
#     over NBD with qemu-io -P);
#   - after the primary's host crashes, removing the export, stopping the NBD
#     server and resuming the backup gives a running VM holding that write.
source "$(dirname "$0")/lib.sh"

lab up --hosts 2 --no-daemon
labdir=/var/lib/hasvc-lab/$HASVC_LAB
lab vm-create node1 vm1 256M
# hmp NODE DEVICE CMD: qemu-io through the guest device DEVICE's block backend.
hmp() { lab exec "$1" virsh qemu-monitor-command vm1 --hmp "qemu-io -d /machine/peripheral/$2/virtio-backend \"$3\""; }
qmp() { lab exec node2 virsh qemu-monitor-command vm1 "$1" | jq -e '.return' >/dev/null || fail "QMP $1 failed"; }

note "backup: same domain on node2 from mirror_xml_backup(), paused, its disk exported over NBD"
lab exec node1 virsh dumpxml --inactive vm1 | "$HASVC_BUILD_DIR/mirror/hasvc-backup-xml" >"$labdir/backup.xml"
lab exec node2 mkdir -p /var/lib/libvirt/images
lab exec node2 qemu-img create -q -f qcow2 /var/lib/libvirt/images/vm1.qcow2 256M
lab exec node2 virsh -q define "$labdir/backup.xml" >/dev/null
lab exec node2 virsh -q start --paused vm1 >/dev/null
[ "$(lab exec node2 virsh domstate vm1)" = paused ] || fail "backup is not paused"
node=$(lab exec node2 virsh qemu-monitor-command vm1 '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
	jq -r '.return[] | select(.drv == "qcow2") | .["node-name"]')
qmp '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"10.77.0.12","port":"10809"}}}}'
qmp "{\"execute\":\"block-export-add\",\"arguments\":{\"type\":\"nbd\",\"id\":\"e-vda\",\"node-name\":\"$node\",\"name\":\"vda\",\"writable\":true,\"writethrough\":true}}"

note "primary: block copy into the export, synchronous writes"
hmp node1 virtio-disk0 "write -P 0x33 0 32M" >/dev/null
cat >"$labdir/nbd.xml" <<XML
<disk type='network' device='disk'><driver name='qemu' type='raw'/>
<source protocol='nbd' name='vda'><host name='10.77.0.12' port='10809'/></source></disk>
XML
lab exec node1 virsh blockcopy vm1 vda --xml "$labdir/nbd.xml" --reuse-external --transient-job \
	--synchronous-writes --wait --timeout 120 >/dev/null || fail "block copy did not reach READY"
hmp node1 virtio-disk0 "write -P 0x77 100M 1M" >/dev/null
lab exec node1 qemu-io -f raw -r -c 'read -P 0x77 100M 1M' -c 'read -P 0x33 0 32M' \
	nbd://10.77.0.12:10809/vda >/dev/null || fail "an acknowledged write is not on the backup"
if lab exec node1 qemu-io -f raw -r -c 'read -P 0x78 100M 1M' nbd://10.77.0.12:10809/vda >/dev/null; then
	fail "the pattern check cannot fail: it accepted a wrong pattern"
fi

note "crash node1; promote the backup by hand"
lab crash node1
qmp '{"execute":"block-export-del","arguments":{"id":"e-vda"}}'
qmp '{"execute":"nbd-server-stop"}'
lab exec node2 virsh -q resume vm1 >/dev/null
[ "$(lab exec node2 virsh domstate vm1)" = running ] || fail "promoted backup is not running"
hmp node2 ua-hasvc-vda "read -P 0x77 100M 1M" >/dev/null
lab exec node2 grep -q '^read 1048576/1048576 bytes at offset 104857600' /var/log/libvirt/qemu/vm1.log ||
	fail "the promoted VM does not hold the acknowledged write"
! lab exec node2 grep -q 'Pattern verification failed' /var/log/libvirt/qemu/vm1.log || fail "pattern mismatch"
note "PASS"
