#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Secured replication under hasvcd (TLS lab): when the backup host prepares a
# pair's backup, its NBD export lets in only the pair's primary, by the
# primary's certificate (CN=node1), so node3, with a valid certificate of
# the same cluster CA, is refused; the pair syncs over TLS all the same, and
# a write acknowledged on the primary reads back on the backup.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
[ "$(cat "/var/lib/hasvc-lab/$HASVC_LAB/tls")" = on ] || fail "the lab did not start with TLS on"
for n in node1 node2 node3; do wait_for 30 "$n online" node_online node1 "$n"; done
lab vm-create node1 vm1 >/dev/null
lab exec node1 hasvc pair create vm1 --backup node2 --timeout 120 >/dev/null
pair_state_is node1 vm1 in-sync || fail "vm1 not in sync over TLS"
port=$(pair_field node1 vm1 nbd_port)
lab exec node2 grep -q "TLS, for CN=node1" /var/log/hasvc/hasvcd.log ||
	fail "node2 did not prepare the export for node1 only: $(lab exec node2 grep -i 'backup' /var/log/hasvc/hasvcd.log | tail -3)"

note "node3 with its own valid certificate: refused"
rc=0
out=$(nbd_io node3 10.77.0.12 "$port" -c "write -P 0xee 0 64k" 2>&1) || rc=$?
[ $rc -ne 0 ] || fail "node3's certificate was let into vm1's backup: $out"
note "refused: $(echo "$out" | tail -1)"

qio node1 vm1 "write -P 0x5a 100M 1M"
nbd_io node2 10.77.0.12 "$port" -r -c "read -P 0x5a 100M 1M" | contains -v 'Pattern verification failed' ||
	fail "the write acknowledged on node1 is not on the backup"
nbd_io node2 10.77.0.12 "$port" -r -c "read -P 0x5a 100M 1M" | contains 'read 1048576/1048576' ||
	fail "could not read the backup"
note "PASS"
