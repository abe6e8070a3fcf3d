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
