# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lib.sh: what every lab integration test shares. Sourced, not run.
#
# Each test gets a lab of its own (HASVC_LAB=t<pid>) and tears it down on any
# exit, failed or not. Assertions print what was expected and what was seen.
set -euo pipefail

SRC=${HASVC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export HASVC_BUILD_DIR=${HASVC_BUILD_DIR:-$SRC/build}
export HASVC_LAB=${HASVC_LAB:-t$$}
LAB_CMD="$SRC/deploy/lab"
TEST_NAME=$(basename "$0" .sh)

lab() { "$LAB_CMD" "$@"; }

note() { echo "[$TEST_NAME $(date +%T.%3N)] $*"; }
fail() {
	echo "[$TEST_NAME] FAIL: $*" >&2
	exit 1
}

lab_teardown() {
	local rc=$?
	if [ $rc -ne 0 ] && [ -n "${HASVC_LAB_KEEP:-}" ]; then
		echo "[$TEST_NAME] keeping lab '$HASVC_LAB' for inspection" >&2
		return
	fi
	if [ $rc -ne 0 ] && [ -d "/var/lib/hasvc-lab/$HASVC_LAB" ]; then
		# Leave the evidence in the test log before it goes.
		for f in /var/lib/hasvc-lab/"$HASVC_LAB"/node*/var/log/hasvc/hasvcd.log; do
			[ -f "$f" ] && { echo "--- $f (last 30 lines)"; tail -30 "$f"; } >&2
		done
	fi
	lab down >/dev/null 2>&1 || true
}
trap lab_teardown EXIT

now_ms() { date +%s%3N; }

# CMD | contains GREP_ARGS...: grep -q on the whole of stdin. "CMD | grep -q"
# fails under pipefail when grep stops reading early and CMD dies of SIGPIPE
# (e.g. curl on a large /metrics): read everything first.
contains() {
	local in
	in=$(cat)
	grep -q "$@" <<<"$in"
}

# expect RC TEXT CMD...: CMD exits RC and says TEXT (an operator's mistake refused, named).
expect() {
	local want=$1 text=$2 out rc
	shift 2
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
	[ $rc -eq "$want" ] && echo "$out" | contains -- "$text" ||
		fail "'${*:3}' exited $rc (want $want) saying: $out (want: $text)"
	note "refused as expected (rc $rc): $(echo "$out" | grep -m1 -- "$text")"
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local limit=$1 what=$2
	shift 2
	local deadline=$(($(now_ms) + limit * 1000))
	until "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "timed out after ${limit} s waiting for $what"
		sleep 0.1
	done
}

# status_json NODE: the cluster as NODE's hasvcd sees it.
status_json() { lab exec "$1" hasvc status --json; }

# node_online SEEN_FROM NODE: true when SEEN_FROM's hasvcd lists NODE online.
node_online() {
	[ "$(status_json "$1" | jq -r --arg n "$2" '.nodes[] | select(.name == $n) | .online')" = true ]
}
node_offline() {
	[ "$(status_json "$1" | jq -r --arg n "$2" '.nodes[] | select(.name == $n) | .online')" = false ]
}
quorate() { [ "$(status_json "$1" | jq -r '.cluster.quorate')" = true ]; }
not_quorate() { [ "$(status_json "$1" | jq -r '.cluster.quorate')" = false ]; }

# digest NODE: SHA-256 of NODE's replicated state; synced NODE: its round is over.
digest() { status_json "$1" | jq -r '.state.digest'; }
synced() { [ "$(status_json "$1" | jq -r '.state.synced')" = true ]; }
# digests_equal NODE...: every NODE synced, all with the same digest.
digests_equal() {
	local first="" n d
	for n in "$@"; do
		synced "$n" || return 1
		d=$(digest "$n")
		[ -n "$first" ] || first=$d
		[ "$d" = "$first" ] || return 1
	done
}
# node_state SEEN_FROM NODE: online, offline, fencing, fenced or maintenance.
node_state() { status_json "$1" | jq -r --arg n "$2" '.nodes[] | select(.name == $n) | .state'; }
node_state_is() { [ "$(node_state "$1" "$2")" = "$3" ]; }
# event_count NODE TEXT: how many events in NODE's replicated log contain TEXT.
event_count() { lab exec "$1" hasvc events --json | jq --arg t "$2" '[.events[] | select(.message | contains($t))] | length'; }
# event_count_above NODE TEXT N: more than N such events.
event_count_above() { [ "$(event_count "$1" "$2")" -gt "$3" ]; }

# --- pairs ------------------------------------------------------------------

# pair_json SEEN_FROM VM / pair_field SEEN_FROM VM FIELD / pair_state_is SEEN_FROM VM STATE
# print_road NODE VM T0: VM's events since T0 (ms; a second before, for the
# request's own), each as ms from T0 and its message, as NODE's log has them
print_road() {
	lab exec "$1" hasvc events --json | jq -r --arg vm "$2" --argjson t0 "$3" '.events[]
		| select(.vm == $vm and .time_usec / 1000 >= $t0 - 1000)
		| "  +\((.time_usec / 1000 - $t0) | floor) ms  \(.message)"' | cut -c1-220
}
pair_json() { lab exec "$1" hasvc pair show "$2" --json; }
pair_field() { pair_json "$1" "$2" | jq -r ".$3"; }
pair_state_is() { [ "$(pair_field "$1" "$2" state)" = "$3" ]; }
pair_state_not() { [ "$(pair_field "$1" "$2" state)" != "$3" ]; }
pair_gone() { ! lab exec "$1" hasvc pair show "$2" >/dev/null 2>&1; }
# domstate NODE VM: libvirt's word for the domain on NODE ("running", "paused", "shut off", "-").
domstate() {
	local s
	s=$(lab exec "$1" virsh domstate "$2" 2>/dev/null | head -1) || true
	echo "${s:--}"
}
domstate_is() { [ "$(domstate "$1" "$2")" = "$3" ]; }
# migrating_out NODE VM: a migration job of VM runs on NODE (libvirt's
# domjobinfo). A test's HMP qemu-io write ignores the run state: one that
# lands after the migration has handed the disks over (the source paused,
# its nodes inactive) fails QEMU's assertion `!(bs->open_flags &
# BDRV_O_INACTIVE)` and kills the guest, which a guest's own write never
# could (its vCPUs stopped first). Writers check this right before each write:
# a migration takes far longer from its job's start to the hand-over (the
# incoming QEMU starts first) than the write takes to reach QEMU.
migrating_out() { lab exec "$1" virsh domjobinfo "$2" 2>/dev/null | grep -q '^Job type: *Unbounded'; }

# The qemu-io device path of a VM's first disk: the primary's own alias, or
# the backup's user alias once a backup became the primary.
disk_dev() {
	# (not "| contains": with pipefail, virsh's SIGPIPE would read as no match)
	local xml
	xml=$(lab exec "$1" virsh dumpxml "$2")
	if [[ $xml == *ua-hasvc-vda* ]]; then
		echo /machine/peripheral/ua-hasvc-vda/virtio-backend
	else
		echo /machine/peripheral/virtio-disk0/virtio-backend
	fi
}
# qio NODE VM "CMD": one qemu-io command through VM's block layer (HMP), checked.
qio() {
	local out
	out=$(lab exec "$1" virsh qemu-monitor-command "$2" --hmp "qemu-io -d $(disk_dev "$1" "$2") \"$3\"")
	! echo "$out" | contains -iE "fail|error|pattern verification" || { echo "$out" >&2; return 1; }
}
# write_blocks NODE VM FIRST LAST: 1 MiB blocks FIRST..LAST at (64 + i) MiB,
# pattern i & 0xff, each acknowledged before the next.
write_blocks() {
	local i
	for i in $(seq "$3" "$4"); do qio "$1" "$2" "write -P $((i & 0xff)) $((64 + i))M 1M"; done
}
# verify_blocks NODE VM FIRST LAST: every block is on VM's disk on NODE
# (qemu-io prints its reads into the QEMU log, where a mismatch shows).
verify_blocks() {
	local i log=/var/log/libvirt/qemu/$2.log bad reads dev
	bad=$(lab exec "$1" grep -c 'Pattern verification failed' "$log" || true)
	reads=$(lab exec "$1" grep -c '^read 1048576/1048576' "$log" || true)
	dev=$(disk_dev "$1" "$2")
	for i in $(seq "$3" "$4"); do
		lab exec "$1" virsh qemu-monitor-command "$2" --hmp \
			"qemu-io -d $dev \"read -P $((i & 0xff)) $((64 + i))M 1M\"" >/dev/null
	done
	[ "$(lab exec "$1" grep -c 'Pattern verification failed' "$log" || true)" = "$bad" ] ||
		fail "a block written on the primary differs on $1"
	[ "$(lab exec "$1" grep -c '^read 1048576/1048576' "$log" || true)" = $((reads + $4 - $3 + 1)) ] ||
		fail "not every read of blocks $3..$4 ran on $1"
}

# A backup's NBD export, read the way the lab's replication runs: over TLS
# with the reading host's own certificate when the lab has TLS on (the
# backup lets its own host in), plain NBD otherwise (deploy/lab, docs/security.md).
# nbd_image HOST PORT EXPORT [CERT_DIR]: qemu's --object/--image-opts arguments
# (one a line) for EXPORT on HOST:PORT, the raw format on top.
nbd_image() {
	local host=$1 port=$2 export=$3 dir=${4:-/etc/hasvc/pki}
	if [ "$(cat "/var/lib/hasvc-lab/$HASVC_LAB/tls" 2>/dev/null)" = on ] || [ -n "${4:-}" ]; then
		printf '%s\n' --object "tls-creds-x509,id=hasvc-tls0,endpoint=client,dir=$dir" --image-opts \
			"driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=$host,file.server.port=$port,file.export=$export,file.tls-creds=hasvc-tls0"
	else
		printf '%s\n' -f raw "nbd://$host:$port/$export"
	fi
}
# images_identical PRIMARY BACKUP PORT [VM]: VM's (vm1) qcow2 image on PRIMARY
# holds the same blocks as the backup's export vda on BACKUP:PORT (qemu-img
# compare with the image shared, -U: pause and flush the guest first).
images_identical() {
	local primary=$1 backup=$2 port=$3 img=/var/lib/libvirt/images/${4:-vm1}.qcow2 nbd=()
	mapfile -t nbd < <(nbd_image "10.77.0.1${backup#node}" "$port" vda)
	if [ "${nbd[0]}" = --object ]; then # TLS: both images as options
		lab exec "$primary" qemu-img compare -q -U "${nbd[0]}" "${nbd[1]}" --image-opts \
			"driver=qcow2,file.driver=file,file.filename=$img" "${nbd[3]}"
	else
		lab exec "$primary" qemu-img compare -q -U -f qcow2 -F raw "$img" "${nbd[2]}"
	fi
}
# nbd_throttle NODE PORT RATE: NODE's TCP traffic to PORT (a backup's export)
# through a token bucket of RATE ("8mbit"), everything else at full speed (an
# htb class for it, iptables CLASSIFY); nbd_unthrottle NODE undoes it.
nbd_throttle() {
	lab exec "$1" tc qdisc add dev eth0 root handle 1: htb default 10
	lab exec "$1" tc class add dev eth0 parent 1: classid 1:10 htb rate 10gbit
	lab exec "$1" tc class add dev eth0 parent 1: classid 1:30 htb rate 10gbit
	lab exec "$1" tc qdisc add dev eth0 parent 1:30 tbf rate "$3" burst 32kbit latency 400ms
	lab exec "$1" iptables -t mangle -A POSTROUTING -p tcp --dport "$2" -j CLASSIFY --set-class 1:30
}
nbd_unthrottle() {
	lab exec "$1" iptables -t mangle -F POSTROUTING
	lab exec "$1" tc qdisc del dev eth0 root
}
# nbd_io NODE HOST PORT QEMU_IO_ARGS...: qemu-io on NODE against export vda
# (NBD_EXPORT: another) of HOST:PORT.
# NBD_CERT_DIR: a certificate directory other than NODE's own (forces TLS).
nbd_io() {
	local node=$1 host=$2 port=$3 img=()
	shift 3
	mapfile -t img < <(nbd_image "$host" "$port" "${NBD_EXPORT:-vda}" ${NBD_CERT_DIR:+"$NBD_CERT_DIR"})
	# the image last: qemu-io takes its options before the file name
	lab exec "$node" qemu-io "${img[@]:0:${#img[@]}-1}" "$@" "${img[-1]}"
}
