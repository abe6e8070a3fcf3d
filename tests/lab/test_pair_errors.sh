#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every way an operator can get pair create/delete wrong (issue 6): each is
# refused with an error naming the problem and the matching exit code, and
# none leaves a pair, a domain or an image behind. A domain of the same name
# on the backup host is never overwritten. Delete removes the backup.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 128M

# expect RC TEXT CMD...: CMD exits RC and says TEXT.
expect() {
	local want=$1 text=$2 out rc
	shift 2
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
	[ $rc -eq "$want" ] && echo "$out" | grep -q -- "$text" ||
		fail "'${*:3}' exited $rc (want $want) saying: $out (want: $text)"
	note "refused as expected (rc $rc): $(echo "$out" | head -1)"
}
no_pairs() { [ "$(lab exec node1 hasvc pair list --json | jq '.pairs | length')" -eq 0 ]; }

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
