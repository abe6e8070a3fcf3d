# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lib_qmp.sh: QMP by hand for the data-path experiments (test_lab_resync_path.sh,
# test_lab_quorum_path.sh, exp_quorum_latency.sh). Sourced after lib.sh, with
# $VM naming the domain. Every command goes through libvirt's
# virDomainQemuMonitorCommand (virsh qemu-monitor-command), as hasvc does.

# qmp NODE JSON: the command's "return" (compact JSON); fails on an error reply.
qmp() {
	local out
	out=$(lab exec "$1" virsh qemu-monitor-command "$VM" "$2") || fail "QMP on $1 failed: $2"
	jq -e 'has("return")' >/dev/null <<<"$out" || fail "QMP on $1: $2: $(jq -c .error <<<"$out")"
	jq -c .return <<<"$out"
}
# qmp_error NODE JSON: the error's description; fails when the command succeeds.
qmp_error() {
	local out
	out=$(lab exec "$1" virsh qemu-monitor-command "$VM" "$2") || true
	jq -e 'has("error")' >/dev/null <<<"$out" || fail "QMP on $1 should have failed: $2"
	jq -r .error.desc <<<"$out"
}

# lab_pair_domains: $VM running on node1 (256 MiB qcow2) and its backup
# defined from mirror_xml_backup()'s output (hasvc-backup-xml) on node2,
# started paused on a new image of the same size. The definition stays in
# $labdir/backup.xml for a switchover.
lab_pair_domains() {
	lab vm-create node1 "$VM" 256M
	lab exec node1 virsh dumpxml --inactive "$VM" | "$HASVC_BUILD_DIR/mirror/hasvc-backup-xml" >"$labdir/backup.xml"
	lab exec node2 mkdir -p /var/lib/libvirt/images
	lab exec node2 qemu-img create -q -f qcow2 "/var/lib/libvirt/images/$VM.qcow2" 256M
	lab exec node2 virsh -q define "$labdir/backup.xml" >/dev/null
	lab exec node2 virsh -q start --paused "$VM" >/dev/null
}
