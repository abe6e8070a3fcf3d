# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lib_qmp.sh: QMP by hand for the data-path experiments (test_lab_resync_path.sh,
# test_lab_live_path.sh,
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
# $labdir/backup.xml for a switchover. LAB_PAIR_LINUX=1 boots the lab's Linux
# guest on node1 (vm-create --linux), whose virtio-blk driver turns the
# device's write cache on, as every real guest's does.
lab_pair_domains() {
	lab vm-create node1 "$VM" 256M $([ "${LAB_PAIR_LINUX:-0}" = 0 ] || echo --linux)
	lab exec node1 virsh dumpxml --inactive "$VM" | "$HASVC_BUILD_DIR/mirror/hasvc-backup-xml" >"$labdir/backup.xml"
	lab exec node2 mkdir -p /var/lib/libvirt/images
	lab exec node2 qemu-img create -q -f qcow2 "/var/lib/libvirt/images/$VM.qcow2" 256M
	lab exec node2 virsh -q define "$labdir/backup.xml" >/dev/null
	lab exec node2 virsh -q start --paused "$VM" >/dev/null
}

# --- the qmp engine by hand: our job hs-vda into an NBD node of our own ---

# job NODE FIELD: a field of our mirror job hs-vda ("" when there is none).
job() { qmp "$1" '{"execute":"query-block-jobs"}' | jq -r --arg f "$2" '.[] | select(.device == "hs-vda") | .[$f] | tostring'; }
job_ready() { [ "$(job "$1" status)" = ready ] && [ "$(job "$1" offset)" = "$(job "$1" len)" ]; }
# owed NODE: bytes the job still has to copy.
owed() { echo $(($(job "$1" len) - $(job "$1" offset))); }

# export NODE ADDR PORT: the domain's format node over NBD, writable, writethrough.
export_disk() {
	qmp "$1" "{\"execute\":\"nbd-server-start\",\"arguments\":{\"addr\":{\"type\":\"inet\",\"data\":{\"host\":\"$2\",\"port\":\"$3\"}}}}" >/dev/null
	qmp "$1" '{"execute":"block-export-add","arguments":{"type":"nbd","id":"e-vda","node-name":"libvirt-1-format","name":"vda","writable":true,"writethrough":true}}' >/dev/null
}
unexport_disk() {
	qmp "$1" '{"execute":"block-export-del","arguments":{"id":"e-vda","mode":"hard"}}' >/dev/null
	qmp "$1" '{"execute":"nbd-server-stop"}' >/dev/null
}
# add_nbd NODE NAME ADDR RECONNECT_DELAY: the other side's export as a block node.
add_nbd() {
	qmp "$1" "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"nbd\",\"node-name\":\"$2\",\"server\":{\"type\":\"inet\",\"host\":\"$3\",\"port\":\"10809\"},\"export\":\"vda\",\"reconnect-delay\":$4,\"open-timeout\":5}}" >/dev/null
}
# mirror NODE TARGET SYNC: our job hs-vda from the disk's format node.
mirror() {
	qmp "$1" "{\"execute\":\"blockdev-mirror\",\"arguments\":{\"job-id\":\"hs-vda\",\"device\":\"libvirt-1-format\",\"target\":\"$2\",\"sync\":\"$3\",\"on-target-error\":\"stop\",\"copy-mode\":\"write-blocking\"}}" >/dev/null
}
# resume_until_ready NODE: block-job-resume once a second until READY; prints the attempts.
# (A resume right after the export is back can fail once more: the NBD client
# starts its reconnect on the first request that finds the connection down.)
resume_until_ready() {
	local i
	for i in $(seq 30); do
		qmp "$1" '{"execute":"block-job-resume","arguments":{"device":"hs-vda"}}' >/dev/null 2>&1 || true
		sleep 1
		job_ready "$1" && { echo "$i"; return 0; }
	done
	fail "the job on $1 is not READY after 30 resumes: $(qmp "$1" '{"execute":"query-block-jobs"}')"
}
