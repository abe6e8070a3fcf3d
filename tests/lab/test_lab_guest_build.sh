#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# deploy/guest/build-guest, the kernel and initramfs of the lab's Linux guest
# (docs/lab-guest.md), without a lab:
#   1. the real path: Debian's kernel that linux-image-amd64 depends on, and an
#      initramfs holding /init, a static busybox, the recorder and the modules
#      in an order where each comes after what its .modinfo says it depends on;
#      a second run rebuilds nothing;
#   2. apt names no kernel (no `apt-get update` yet) and nothing is cached:
#      refused, saying what to do;
#   3. apt names no kernel but one is cached: that one is used, said so;
#   4. the download fails: refused, named, nothing half-made left in the cache.
# Needs root (mknod), like the lab.
set -euo pipefail
SRC=${HASVC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD="$SRC/deploy/guest/build-guest"
TEST_NAME=$(basename "$0" .sh)
note() { echo "[$TEST_NAME $(date +%T.%3N)] $*"; }
fail() {
	echo "[$TEST_NAME] FAIL: $*" >&2
	exit 1
}
TMP=$(mktemp -d /tmp/hasvc-guest-build.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

note "1: the real kernel and initramfs"
out=$("$BUILD") || fail "build-guest: $out"
kernel=$(sed -n 's/^KERNEL=//p' <<<"$out")
initrd=$(sed -n 's/^INITRD=//p' <<<"$out")
kdir=$(dirname "$kernel")
want=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p' | head -1)
[ -n "$want" ] || fail "apt-cache names no 6.1 kernel for linux-image-amd64"
grep -q "^$want " "$kdir/package" || fail "build-guest took $(cat "$kdir/package"), apt wants $want"
head -c 4 "$kernel" | od -An -c | grep -q 'E   L   F' || fail "$kernel is not the ELF vmlinux"
mkdir "$TMP/root"
(cd "$TMP/root" && zcat "$initrd" | cpio --quiet -i) || fail "$initrd is not a gzip'd cpio"
for f in init bin/busybox bin/recorder modules dev/console; do
	[ -e "$TMP/root/$f" ] || fail "no $f in the initramfs"
done
file "$TMP/root/bin/recorder" | grep -q 'statically linked' || fail "the recorder is not static"
file "$TMP/root/bin/busybox" | grep -q 'statically linked' || fail "busybox is not static"
# every module after all it depends on
loaded=" "
while read -r ko; do
	[ -f "$TMP/root/lib/modules/$ko" ] || fail "/modules lists $ko, which is not in the initramfs"
	deps=$(objcopy -O binary --only-section=.modinfo "$TMP/root/lib/modules/$ko" /dev/stdout |
		tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' ')
	for d in $deps; do
		[[ $loaded == *" $d "* ]] || fail "$ko is loaded before $d, which it depends on"
	done
	loaded="$loaded${ko%.ko} "
done <"$TMP/root/modules"
for m in virtio_pci virtio_blk button evdev; do
	[[ $loaded == *" $m "* ]] || fail "$m is not loaded by /init"
done
note "$want: modules in order:$loaded"
again=$("$BUILD") && [ "$again" = "$out" ] || fail "a second run gave $again (first: $out)"
[ "$(find "$kdir" -newer "$initrd" -name 'initrd-*' | wc -l)" = 0 ] || fail "a second run built another initramfs"

# a fake apt: apt-cache names nothing, apt-get download fails
mkdir "$TMP/bin"
printf '#!/bin/sh\nexit 0\n' >"$TMP/bin/apt-cache"
printf '#!/bin/sh\necho "E: no such package" >&2\nexit 100\n' >"$TMP/bin/apt-get"
chmod 755 "$TMP/bin/apt-cache" "$TMP/bin/apt-get"

note "2: apt names no kernel, nothing cached"
set +e
out=$(PATH="$TMP/bin:$PATH" HASVC_LAB_GUEST_CACHE="$TMP/empty" "$BUILD" 2>&1)
rc=$?
set -e
[ $rc = 1 ] && grep -q 'apt-get update first' <<<"$out" || fail "no kernel known: rc $rc, said: $out"
note "refused: $out"

note "3: apt names no kernel, one is cached"
mkdir -p "$TMP/cache"
cp -a "$kdir" "$TMP/cache/"
rm -f "$TMP/cache/$(basename "$kdir")"/initrd-*
out=$(PATH="$TMP/bin:$PATH" HASVC_LAB_GUEST_CACHE="$TMP/cache" "$BUILD" 2>"$TMP/err") ||
	fail "with a cached kernel: $(cat "$TMP/err")"
grep -q "using the cached $want" "$TMP/err" || fail "build-guest did not say it used the cached kernel: $(cat "$TMP/err")"
[ -f "$(sed -n 's/^INITRD=//p' <<<"$out")" ] || fail "no initramfs built in the cache: $out"
note "$(cat "$TMP/err")"

note "4: the download fails"
printf '#!/bin/sh\necho "  Depends: %s"\necho "Candidate: 9.9"\n' "$want" >"$TMP/bin/apt-cache"
set +e
out=$(PATH="$TMP/bin:$PATH" HASVC_LAB_GUEST_CACHE="$TMP/dl" "$BUILD" 2>&1)
rc=$?
set -e
[ $rc = 1 ] && grep -q "apt-get download $want=9.9 failed" <<<"$out" || fail "failed download: rc $rc, said: $out"
[ -z "$(find "$TMP/dl" -mindepth 1 -not -name .lock)" ] || fail "the failed download left $(ls -A "$TMP/dl")"
note "refused: $(tail -1 <<<"$out")"
note "PASS"
