#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every way an operator can get pair create/delete wrong (issues 4, 6): each
# is refused with an error naming the problem and the matching exit code, and
# none leaves a pair, a domain, an NBD export or an image behind. Refused: a
# VM with a snapshot (named), a disk of a type hasvc cannot mirror (named), a
# backup host without the VM's memory. A domain of the same name on the
# backup host is never overwritten. Delete removes the backup.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 128M

no_pairs() { [ "$(lab exec node1 hasvc pair list --json | jq '.pairs | length')" -eq 0 ]; }
# nothing_left VM: no pair, and no domain, image or NBD listener for VM on node2 or node3.
nothing_left() {
	local n
	wait_for 10 "no pair left" no_pairs
	for n in node2 node3; do
		domstate_is "$n" "$1" - || fail "a domain $1 was left on $n: $(domstate "$n" "$1")"
		! lab exec "$n" test -e "/var/lib/libvirt/images/$1.qcow2" || fail "an image of $1 was left on $n"
		[ -z "$(lab exec "$n" ss -Htln 'sport >= :10809 and sport <= :10899')" ] ||
			fail "an NBD export still listens on $n: $(lab exec "$n" ss -Htln)"
	done
}
# vm_like NODE NAME DISK_XML: a running copy of vm1 named NAME, with its own
# 64 MiB image and DISK_XML added as a second disk.
vm_like() {
	local xml=/var/lib/hasvc-lab/$HASVC_LAB/$2.xml
	lab exec "$1" qemu-img create -q -f qcow2 "/var/lib/libvirt/images/$2.qcow2" 64M
	lab exec "$1" virsh dumpxml --inactive vm1 | sed -e "/<uuid>/d" -e "s|<name>vm1</name>|<name>$2</name>|" \
		-e "s|/vm1.qcow2|/$2.qcow2|" -e "s|</devices>|$3</devices>|" >"$xml"
	lab exec "$1" virsh -q define "$xml" >/dev/null
	lab exec "$1" virsh -q start "$2" >/dev/null
}

expect 2 "usage" lab exec node1 hasvc pair create vm1
expect 4 "no node 'node9'" lab exec node1 hasvc pair create vm1 --backup node9
expect 7 "another host than the primary" lab exec node1 hasvc pair create vm1 --backup node1
expect 2 "mode must be sync or async" lab exec node1 hasvc pair create vm1 --backup node2 --mode semi
expect 2 "bandwidth" lab exec node1 hasvc pair create vm1 --backup node2 --bandwidth lots
expect 4 "no domain vmX" lab exec node1 hasvc pair create vmX --backup node2
expect 22 "vm must be a domain name" lab exec node1 curl -s --fail-with-body --unix-socket /run/hasvc/hasvcd.sock \
	-X POST -d '{"vm":"../x","backup":"node2"}' http://hasvc/v1/pairs
lab exec node1 virsh destroy vm1 >/dev/null
expect 7 "not running" lab exec node1 hasvc pair create vm1 --backup node2
lab exec node1 virsh start vm1 >/dev/null
no_pairs || fail "a refused create left a pair"

note "a VM with a snapshot: refused, naming the snapshot (the backup would not have it)"
lab exec node1 virsh -q snapshot-create-as vm1 before-upgrade >/dev/null
expect 7 "vm1 has snapshot(s) before-upgrade" lab exec node1 hasvc pair create vm1 --backup node2
nothing_left vm1
lab exec node1 virsh -q snapshot-delete vm1 before-upgrade >/dev/null

note "a VM with a disk of an unsupported type (a host directory as a FAT disk): refused, naming it"
mkdir -p "/var/lib/hasvc-lab/$HASVC_LAB/fat"
vm_like node1 vm3 "<disk type='dir' device='disk'><driver name='qemu' type='fat'/><source dir='/var/lib/hasvc-lab/$HASVC_LAB/fat'/><target dev='vdb' bus='virtio'/><readonly/></disk>"
expect 7 "disk vdb of vm3 is of type 'dir': hasvc mirrors local file images only" \
	lab exec node1 hasvc pair create vm3 --backup node2
nothing_left vm3
lab exec node1 virsh -q destroy vm3 >/dev/null

note "node2 keeps more memory for itself than it has: the backup host refuses vm1"
lab exec node2 sed -i '/^\[daemon\]/a memory_reserve = 100000000' /etc/hasvc/hasvc.conf
lab restart-daemon node2
wait_for 30 "node2's hasvcd back" digests_equal node1 node2
wait_for 30 "node1 sees node2" node_online node1 node2
expect 7 "not enough memory for the backup of vm1: it needs 128 MiB, this host has 0 MiB" \
	lab exec node1 hasvc pair create vm1 --backup node2 --wait --timeout 60
nothing_left vm1
lab exec node2 sed -i '/^memory_reserve = /d' /etc/hasvc/hasvc.conf
lab restart-daemon node2
wait_for 30 "node2's hasvcd back" digests_equal node1 node2
wait_for 30 "node1 sees node2" node_online node1 node2

note "a domain named vm1 on node2 already: the backup never overwrites it"
lab exec node2 mkdir -p /var/lib/libvirt/images
lab exec node2 qemu-img create -q -f qcow2 /var/lib/libvirt/images/vm1.qcow2 64M
lab exec node2 qemu-io -f qcow2 -c "write -P 0x99 0 1M" /var/lib/libvirt/images/vm1.qcow2 >/dev/null
before=$(lab exec node2 sha256sum /var/lib/libvirt/images/vm1.qcow2)
expect 7 "exists on this host already" lab exec node1 hasvc pair create vm1 --backup node2 --wait --timeout 60
[ "$(lab exec node2 sha256sum /var/lib/libvirt/images/vm1.qcow2)" = "$before" ] || fail "node2's own image was touched"
domstate_is node2 vm1 - || fail "a domain was left on node2: $(domstate node2 vm1)"
wait_for 10 "no pair left" no_pairs
lab exec node2 rm /var/lib/libvirt/images/vm1.qcow2

note "paired once; a second create is refused"
lab exec node1 hasvc pair create vm1 --backup node2 --wait --timeout 120
expect 7 "already paired" lab exec node1 hasvc pair create vm1 --backup node3

note "delete removes the backup domain and its image on node2; vm1 keeps running"
expect 4 "no pair for VM 'vm7'" lab exec node1 hasvc pair delete vm7
lab exec node3 hasvc pair delete vm1 --wait --timeout 60
domstate_is node2 vm1 - || fail "the backup is still on node2: $(domstate node2 vm1)"
! lab exec node2 test -e /var/lib/libvirt/images/vm1.qcow2 || fail "the backup image is still on node2"
domstate_is node1 vm1 running || fail "vm1 on node1 is $(domstate node1 vm1)"
no_pairs || fail "the pair is still listed"
note "PASS"
