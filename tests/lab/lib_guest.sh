# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lib_guest.sh: reading the lab's Linux guest (docs/lab-guest.md) from the
# host, for the tests that run it (test_lab_linux_guest.sh,
# test_switchover_live_linux.sh). Sourced after lib.sh.

# recs_in FILE...: "N boot mono_ns" of every acknowledged record in the
# console logs, read as one stream in that order: a line a migration cut in
# two (its start at the end of one file, its end at the start of the next)
# counts whole.
recs_in() {
	cat "$@" | grep -a -o 'hasvc-rec N=[0-9]* mono_ns=[0-9]* boot=[0-9a-f-]*' |
		sed 's/hasvc-rec N=\([0-9]*\) mono_ns=\([0-9]*\) boot=\(.*\)/\1 \3 \2/'
}
# contiguous: on stdin "N boot mono_ns" lines; N runs first, first+1, ... and
# mono_ns rises, or it says where not and fails
contiguous() {
	awk 'NR > 1 && ($1 != n + 1 || $3 <= t) { print "after N=" n ": N=" $1 " mono_ns=" $3; bad = 1 }
	     { n = $1; t = $3 } END { exit bad }'
}

# stamp_start OUT LOG...: deploy/guest/stamp on the LOGs into OUT, in the
# background until stamp_stop or the test's exit
stamp_start() {
	local out=$1
	shift
	"$SRC/deploy/guest/stamp" "$@" >"$out" &
	stamp_pid=$!
	trap stamp_teardown EXIT
}
stamp_teardown() {
	local rc=$?
	kill "$stamp_pid" 2>/dev/null || true
	(exit $rc) # lab_teardown keeps a failed lab by the exit status
	lab_teardown
}
stamp_stop() {
	kill "$stamp_pid"
	wait "$stamp_pid" 2>/dev/null || true
}
# stamp_field NAME LINE: a number field of a stamp line (host_ms, N)
stamp_field() { sed -n "s/.*$1=\([0-9]*\) .*/\1/p" <<<"$2"; }
