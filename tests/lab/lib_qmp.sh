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
