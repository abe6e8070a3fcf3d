#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Secured replication (issue 18 part 4, docs/security.md), through the
# hasvc-mirror tool on a TLS lab (each host has a certificate of the lab CA):
#  (a) node2 exports vm1's backup for node1 only (mirror_backup_prepare_tls),
#      node1's block copy reaches READY over TLS, and a write acknowledged on
#      node1 reads back from node2's export;
#  (b) the issue's attack from node3 is refused: the plain-NBD write, and the
#      same write over TLS with node3's own valid certificate (authz), and the
#      backup's disk is unchanged;
#  (c) a primary whose certificate is from another CA, or expired, cannot
#      attach, with an error that names the TLS failure; with its own
#      certificate back it attaches again.
# The daemon's path (hasvcd preparing backups) runs with TLS on in the other
# lab tests; this one pins what each certificate may do, in ~10 s.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3 --no-daemon
labdir=/var/lib/hasvc-lab/$HASVC_LAB
[ "$(cat "$labdir/tls")" = on ] || fail "the lab did not start with TLS on"
M="$HASVC_BUILD_DIR/mirror/hasvc-mirror"
C="$SRC/deploy/hasvc-certs"
pki1=$labdir/node1/etc/hasvc/pki
hmp() { lab exec "$1" virsh qemu-monitor-command vm1 --hmp "qemu-io -d /machine/peripheral/$2/virtio-backend \"$3\""; }
size=$((64 * 1024 * 1024))

"$C" check "$pki1" | contains "ok (CN=node1)" || fail "node1's certificate: $("$C" check "$pki1")"

lab vm-create node1 vm1 64M
lab exec node1 virsh dumpxml --inactive vm1 >"$labdir/vm1.xml"
hmp node1 virtio-disk0 "write -P 0x33 0 16M" >/dev/null

note "(a) node2 exports vm1 for node1 only; node1 mirrors over TLS"
lab exec node2 mkdir -p /var/lib/libvirt/images
out=$(lab exec node2 env HASVC_MIRROR_PRIMARY=node1 "$M" prepare "$labdir/vm1.xml" 10.77.0.12 10809 "$size")
echo "$out" | contains "TLS, for CN=node1" || fail "prepare did not export over TLS: $out"
out=$(lab exec node1 "$M" start vm1 10.77.0.12 10809 sync)
echo "$out" | contains ", TLS)" || fail "the mirror does not say TLS: $out"
lab exec node2 virsh qemu-monitor-command vm1 '{"execute":"query-block-exports"}' | contains hasvc-vda ||
	fail "no export on node2"
hmp node1 virtio-disk0 "write -P 0x77 32M 1M" >/dev/null
nbd_io node2 10.77.0.12 10809 -r -c 'read -P 0x77 32M 1M' -c 'read -P 0x33 0 16M' >/dev/null ||
	fail "an acknowledged write is not on the backup"

note "(b) node3, plain NBD: the issue's write is refused"
set +e
out=$(lab exec node3 qemu-io -f raw -c "write -P 0xee 0 64k" nbd://10.77.0.12:10809/vda 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "a plain NBD write from node3 was accepted: $out"
echo "$out" | contains -i "tls" || fail "the refusal does not say TLS: $out"
note "refused: $(echo "$out" | head -1)"

note "(b) node3 with its own valid certificate: refused by the authz"
set +e
out=$(nbd_io node3 10.77.0.12 10809 -c "write -P 0xee 0 64k" 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "node3's certificate was let in: $out"
note "refused: $(echo "$out" | head -1)"
nbd_io node2 10.77.0.12 10809 -r -c 'read -P 0x33 0 64k' >/dev/null || fail "node3 changed the backup's disk"

note "(c) node1 with a certificate of another CA cannot attach"
lab exec node1 "$M" cut vm1 10.77.0.12 10809 >/dev/null
cp -a "$pki1" "$labdir/pki1.good"
"$C" ca "$labdir/other-ca" >/dev/null
"$C" host "$labdir/other-ca" node1 10.77.0.11 --out "$labdir/pki1.other" >/dev/null
cp "$labdir/pki1.other/"*.pem "$pki1/"
set +e
out=$(lab exec node1 "$M" start vm1 10.77.0.12 10809 sync 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "a primary with another CA's certificate attached: $out"
echo "$out" | contains -iE "tls|certificate|handshake" || fail "the error does not name TLS: $out"
note "refused: $out"

note "(c) node1 with an expired certificate cannot attach (hasvc says so first; QEMU would not use it either)"
cp "$labdir/pki1.good/"*.pem "$pki1/"
"$C" host "$labdir/pki" node1 10.77.0.11 --expired --out "$labdir/pki1.expired" >/dev/null
cp "$labdir/pki1.expired/"*.pem "$pki1/"
set +e
out=$(lab exec node1 "$M" start vm1 10.77.0.12 10809 sync 2>&1); rc=$?
set -e
[ $rc -ne 0 ] && echo "$out" | contains "expired on" || fail "an expired certificate attached: $out"
note "refused: $out"
set +e
out=$(nbd_io node1 10.77.0.12 10809 -r -c 'read 0 64k' 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "an expired certificate was let in: $out"
note "QEMU refuses it too: $(echo "$out" | head -1)"

note "node1 with its own certificate back attaches again"
cp "$labdir/pki1.good/"*.pem "$pki1/"
lab exec node1 "$M" start vm1 10.77.0.12 10809 sync | contains ", TLS)" || fail "cannot mirror again"
note "PASS"
