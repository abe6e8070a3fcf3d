#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The hosts come from corosync (issue 18, part 3): the lab's hasvc.conf names
# no host ([daemon] node unset, no [node] section, fence sections only), and
# hasvc status still lists node1..node3 with corosync's nodeids, each hasvcd
# knowing itself by corosync's local nodeid. A hasvc.conf that disagrees with
# corosync's nodelist (a wrong nodeid, a host corosync does not list, a
# [daemon] node that is not this host) makes hasvcd exit non-zero at start-up
# with an error that names the file, the line and the node. With corosync down
# at start-up, a hasvc.conf that names every host on its own is taken and
# checked at the first join (a mismatch then stops hasvcd, exit 1); one that
# leaves the hosts to corosync makes hasvcd wait for corosync.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
all="node1 node2 node3"

conf=$(lab exec node3 cat /etc/hasvc/hasvc.conf)
grep -q '^\[node ' <<<"$conf" && fail "the lab's hasvc.conf still has [node] sections"
grep -q '^node *=' <<<"$conf" && fail "the lab's hasvc.conf still sets [daemon] node"

for n in $all; do wait_for 30 "$n online" node_online node1 "$n"; done
wait_for 10 "quorum" quorate node1
for n in $all; do
	got=$(status_json "$n" | jq -r '[.nodes[] | "\(.name)=\(.nodeid)"] | join(" ")')
	[ "$got" = "node1=1 node2=2 node3=3" ] || fail "$n lists '$got', want node1=1 node2=2 node3=3"
	lab exec "$n" grep -q "3 nodes from corosync's nodelist; this host is $n" /var/log/hasvc/hasvcd.log ||
		fail "$n did not log that it took corosync's nodelist as $n"
done
note "every host lists node1=1 node2=2 node3=3 from corosync"

etc=/var/lib/hasvc-lab/$HASVC_LAB/node3/etc/hasvc
[ -f "$etc/hasvc.conf" ] || fail "no $etc/hasvc.conf"

# Writes node3's doctored.conf: the lab's hasvc.conf on a socket and state of
# its own (the running hasvcd is not touched), edited by the sed script $1,
# with $2 appended; runs hasvcd by hand on it and sets rc and out.
run_doctored() {
	sed -e 's|^api_socket = .*|api_socket = /run/hasvc/doctored.sock|' \
		-e 's|^state_dir = .*|state_dir = /tmp/hasvc-doctored|' -e '/^http_listen = /d' \
		-e "$1" "$etc/hasvc.conf" >"$etc/doctored.conf"
	printf '%b' "$2" >>"$etc/doctored.conf"
	lab exec node3 mkdir -p /tmp/hasvc-doctored
	set +e
	out=$(lab exec node3 timeout 30 hasvcd -f -c /etc/hasvc/doctored.conf 2>&1 </dev/null)
	rc=$?
	set -e
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "hasvcd exited $rc, want an error; it said: $out"
}

note "a wrong nodeid for node2: hasvcd exits with the error naming it"
run_doctored '' '\n[node node2]\nnodeid = 5\n'
line=$(grep -n '^\[node node2\]' "$etc/doctored.conf" | cut -d: -f1)
want="/etc/hasvc/doctored.conf:$line: node2 has nodeid 5 here but 2 in corosync's nodelist"
grep -qF -- "$want" <<<"$out" || fail "hasvcd said '$out', want '$want'"
note "exit $rc: $(grep -F -- "$want" <<<"$out")"

note "a [fence] for a host corosync does not list"
run_doctored '' '\n[fence node7]\nagent = fence_ipmilan\n'
want="[fence node7]: corosync's nodelist has no node node7 (it lists node1, node2, node3)"
grep -qF -- "$want" <<<"$out" || fail "hasvcd said '$out', want '$want'"
note "exit $rc: $(grep -F -- "$want" <<<"$out")"

note "[daemon] node naming another host than corosync's local nodeid"
run_doctored '/^\[daemon\]$/a node = node2' ''
want="[daemon] node = node2 (nodeid 2), but corosync runs here as nodeid 3"
grep -qF -- "$want" <<<"$out" || fail "hasvcd said '$out', want '$want'"
note "exit $rc: $(grep -F -- "$want" <<<"$out")"
rm -f "$etc/doctored.conf"
lab exec node3 rm -rf /tmp/hasvc-doctored

note "the running cluster was not disturbed"
for n in $all; do node_online node1 "$n" || fail "$n went offline"; done

# corosync down at start-up: a hasvc.conf that names every host on its own
# lets hasvcd start (its API answers) and is checked once corosync answers.
note "corosync stopped on node3; hasvcd started on a full hasvc.conf with a wrong nodeid"
log=/var/log/hasvc/doctored.log
full='[node node1]\nnodeid = 1\naddress = 10.77.0.11\n[node node2]\nnodeid = 5\naddress = 10.77.0.12\n'
full+='[node node3]\nnodeid = 3\naddress = 10.77.0.13\n'
sed -e 's|^api_socket = .*|api_socket = /run/hasvc/doctored.sock|' \
	-e 's|^state_dir = .*|state_dir = /tmp/hasvc-doctored|' -e '/^http_listen = /d' \
	-e '/^\[daemon\]$/a node = node3' "$etc/hasvc.conf" >"$etc/doctored.conf"
printf '%b' "$full" >>"$etc/doctored.conf"
grep -q 'ring0_addr: 10.77.0.11$' "$etc/../corosync/corosync.conf" ||
	fail "node1's ring0_addr is not 10.77.0.11 in corosync.conf"
corosync_pid=$(lab exec node3 cat /run/corosync.lab.pid)
[ "$(cat "/proc/$corosync_pid/comm")" = corosync ] || fail "no lab corosync at pid $corosync_pid"
kill -TERM "$corosync_pid"
wait_for 30 "node3's corosync stopped" bash -c "[ ! -d /proc/$corosync_pid ]"
lab exec node3 bash -c "mkdir -p /tmp/hasvc-doctored; rm -f /tmp/hasvc-doctored/rc
	(hasvcd -f -c /etc/hasvc/doctored.conf </dev/null >$log 2>&1; echo \$? >/tmp/hasvc-doctored/rc) &"
log_has() { lab exec node3 grep -qF -- "$1" "$log"; }
wait_for 20 "hasvcd starts on hasvc.conf's nodes" \
	log_has "corosync does not answer: starting with hasvc.conf's 3 nodes"
wait_for 20 "its API answers without corosync" \
	lab exec node3 hasvc --socket /run/hasvc/doctored.sock status --json
note "corosync back on node3: the doctored hasvcd must stop with the error"
lab restart node3 corosync
rc_set() { lab exec node3 test -s /tmp/hasvc-doctored/rc; }
wait_for 30 "the doctored hasvcd exits" rc_set
rc=$(lab exec node3 cat /tmp/hasvc-doctored/rc)
[ "$rc" -ne 0 ] || fail "hasvcd exited 0 on a nodeid corosync contradicts"
line=$(grep -n '^\[node node2\]' "$etc/doctored.conf" | cut -d: -f1)
want="/etc/hasvc/doctored.conf:$line: node2 has nodeid 5 here but 2 in corosync's nodelist"
log_has "$want" || fail "its log lacks '$want': $(lab exec node3 tail -5 "$log")"
note "exit $rc: $want"
rm -f "$etc/doctored.conf"
lab exec node3 rm -rf /tmp/hasvc-doctored "$log"
wait_for 30 "node3's own hasvcd back online" node_online node1 node3

# corosync down at start-up and a hasvc.conf that leaves the hosts to it:
# hasvcd waits for corosync (which host this is decides the state's identity),
# then starts as the host corosync says.
note "node3's hasvcd restarted on the lab's hasvc.conf while its corosync is down"
main_log=/var/log/hasvc/hasvcd.log
took_list() { lab exec node3 grep -c "3 nodes from corosync's nodelist; this host is node3" "$main_log" || true; }
before=$(took_list)
kill -KILL "$(lab exec node3 cat /run/hasvcd.lab.pid)"
corosync_pid=$(lab exec node3 cat /run/corosync.lab.pid)
[ "$(cat "/proc/$corosync_pid/comm")" = corosync ] || fail "no lab corosync at pid $corosync_pid"
kill -TERM "$corosync_pid"
wait_for 30 "node3's corosync stopped" bash -c "[ ! -d /proc/$corosync_pid ]"
lab exec node3 bash -c 'hasvcd -f -c /etc/hasvc/hasvc.conf </dev/null >>/var/log/hasvc/hasvcd.log 2>&1 &
	echo $! >/run/hasvcd.lab.pid'
main_has() { lab exec node3 grep -qF -- "$1" "$main_log"; }
wait_for 20 "hasvcd says it waits for corosync" main_has "waiting for it to read its nodelist"
note "corosync back on node3: hasvcd starts as node3"
lab restart node3 corosync
wait_for 30 "node3 online again" node_online node1 node3
[ "$(took_list)" -gt "$before" ] || fail "node3's hasvcd did not log taking corosync's nodelist"
got=$(status_json node3 | jq -r '[.nodes[] | "\(.name)=\(.nodeid)"] | join(" ")')
[ "$got" = "node1=1 node2=2 node3=3" ] || fail "node3 lists '$got' after the wait"
note "PASS"
