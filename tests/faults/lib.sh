# SPDX-License-Identifier: LGPL-2.1-or-later
#
# faults/lib.sh: what every fault-injection scenario shares. Sourced, not run.
#
# A scenario sets up a pair, starts the WRITER and the SAMPLER, injects its
# fault, waits for the cluster to settle, and calls the CHECKS:
#
#   writer   writes numbered 1 MiB blocks (block i at (64 + i) MiB, pattern
#            i & 0xff) through HMP qemu-io into the VM wherever it runs, and
#            records block i as acknowledged only when QEMU's log says the
#            write completed ("wrote 1048576/1048576 bytes at offset ...").
#   sampler  polls `virsh domstate` of the VM on every host, recording when
#            each call started and ended and what it said.
#   checks   no acknowledged block missing on the running copy (read back
#            through its block layer) nor on its backup once in sync (read
#            over NBD); never two running copies; never a promotion from a
#            state that was not in-sync; the pair back in sync, or in the
#            state the scenario names.
#
# Each scenario runs HASVC_FAULTS_COUNT rounds (default 1; `make faults`
# runs more), each round on a fresh lab.
source "$(dirname "${BASH_SOURCE[0]}")/../lab/lib.sh"

FAULTS_COUNT=${HASVC_FAULTS_COUNT:-1}
# HASVC_FAULTS_SYNC_WRITES=parallel (`make faults-parallel`): every scenario
# on the qmp engine with parallel sync writes (issue 15), the same checks.
FAULTS_PARALLEL=""
if [ "${HASVC_FAULTS_SYNC_WRITES:-}" = parallel ]; then
	FAULTS_PARALLEL=" HASVC_SYNC_WRITES=parallel"
	export HASVC_LAB_DAEMON_ENV="HASVC_MIRROR_ENGINE=qmp$FAULTS_PARALLEL"
fi
# after_reconnect: with parallel sync writes, a hasvcd that (re)connected to
# libvirt decides 5 s later whether it can vouch for a quorum child added
# before (docs/mirror.md, Vouching); a check of the pair's road waits past it.
after_reconnect() { [ -z "$FAULTS_PARALLEL" ] || sleep 8; }
FAULT_DIR=/var/lib/hasvc-lab/$HASVC_LAB.faults
BLOCKS_MAX=180 # 1 MiB blocks from 65 MiB: what a 256 MiB disk holds
WRITER_PID="" SAMPLER_PID=""

faults_teardown() {
	local rc=$?
	set +e # errexit would end the trap at "(exit $rc)" below, before the lab goes
	[ -z "$WRITER_PID" ] || kill "$WRITER_PID" 2>/dev/null || true
	[ -z "$SAMPLER_PID" ] || kill "$SAMPLER_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	[ $rc -eq 0 ] || [ -z "${HASVC_LAB_KEEP:-}" ] || { echo "keeping $FAULT_DIR" >&2; return; }
	rm -rf "$FAULT_DIR"
	(exit $rc)
	lab_teardown
}
trap faults_teardown EXIT

# nodes: the lab's hosts.
nodes() { local i; for i in $(seq "$(cat "/var/lib/hasvc-lab/$HASVC_LAB/hosts")"); do echo "node$i"; done; }

# runner VM: the host where VM runs now (empty if none).
runner() {
	local n
	for n in $(nodes); do
		[ "$(domstate "$n" "$1")" = running ] && { echo "$n"; return 0; }
	done
	return 0
}

# --- the writer ------------------------------------------------------------

# acked_write NODE VM I [SLOT]: writes block I (pattern I & 0xff) at slot SLOT
# (default I: (64 + SLOT) MiB) on NODE; true only when QEMU logged one more
# completion at that offset than before (a slot may be written again: the
# chaos campaign's writers cycle through the disk).
acked_write() {
	local node=$1 vm=$2 i=$3 slot=${4:-$3} off dev log before after
	off=$(((64 + slot) * 1048576))
	log=/var/log/libvirt/qemu/$vm.log
	# Only into a running guest, as a guest's own writes: HMP qemu-io ignores
	# the run state, and a write into a source QEMU paused at the end of a
	# live migration (its disks handed over, inactive) fails QEMU's assertion
	# `!(bs->open_flags & BDRV_O_INACTIVE)` and kills it: no guest writes there.
	[ "$(domstate "$node" "$vm")" = running ] || return 1
	! migrating_out "$node" "$vm" || return 1 # (lab/lib.sh says why)
	dev=$(disk_dev "$node" "$vm" 2>/dev/null) || return 1
	before=$("$LAB_CMD" exec "$node" grep -c "^wrote 1048576/1048576 bytes at offset $off$" "$log" 2>/dev/null) || before=0
	timeout 120 "$LAB_CMD" exec "$node" virsh qemu-monitor-command "$vm" --hmp \
		"qemu-io -d $dev \"write -P $((i & 0xff)) $off 1M\"" >/dev/null 2>&1 || return 1
	after=$("$LAB_CMD" exec "$node" grep -c "^wrote 1048576/1048576 bytes at offset $off$" "$log" 2>/dev/null) || after=0
	[ "$after" -gt "$before" ]
}

# writer_start VM [PAUSE_S]: the background writer; acknowledged blocks go to
# $FAULT_DIR/acked, one "I NODE ACK_MS" a line.
writer_start() {
	local vm=$1 pause=${2:-0.2}
	mkdir -p "$FAULT_DIR"
	: >"$FAULT_DIR/acked"
	rm -f "$FAULT_DIR/writer.stop"
	(
		trap - EXIT
		i=1 node=""
		while [ $i -le $BLOCKS_MAX ] && [ ! -e "$FAULT_DIR/writer.stop" ]; do
			[ -n "$node" ] || node=$(runner "$vm")
			if [ -n "$node" ] && acked_write "$node" "$vm" $i; then
				echo "$i $node $(now_ms)" >>"$FAULT_DIR/acked"
				i=$((i + 1))
			else
				node="" # it moved, stopped, or the write failed: find it again
			fi
			sleep "$pause"
		done
	) >/dev/null 2>&1 &
	WRITER_PID=$!
}
writer_stop() {
	[ -n "$WRITER_PID" ] || return 0
	touch "$FAULT_DIR/writer.stop"
	wait "$WRITER_PID" 2>/dev/null || true
	WRITER_PID=""
	note "writer: $(wc -l <"$FAULT_DIR/acked") blocks acknowledged ($(awk '{print $2}' "$FAULT_DIR/acked" | sort | uniq -c | tr '\n' ' '))"
}
acked_count() { wc -l <"$FAULT_DIR/acked"; }
# wait_more_acked N [SECONDS]: the writer has N more acknowledged blocks than now.
wait_more_acked() {
	local want=$(($(acked_count) + $1))
	wait_for "${2:-60}" "$1 more acknowledged writes" bash -c "[ \$(wc -l <'$FAULT_DIR/acked') -ge $want ]"
}

# --- the sampler -----------------------------------------------------------

# sampler_start VM: "START_MS END_MS NODE STATE" lines in $FAULT_DIR/samples.
sampler_start() {
	local vm=$1
	mkdir -p "$FAULT_DIR"
	: >"$FAULT_DIR/samples"
	(
		trap - EXIT
		while true; do
			for n in $(nodes); do
				s=$(now_ms)
				st=$(timeout 10 "$LAB_CMD" exec "$n" virsh domstate "$vm" 2>/dev/null | head -1) || st=-
				echo "$s $(now_ms) $n ${st// /_}" >>"$FAULT_DIR/samples"
			done
			sleep 0.1
		done
	) >/dev/null 2>&1 &
	SAMPLER_PID=$!
}
sampler_stop() {
	[ -n "$SAMPLER_PID" ] || return 0
	kill "$SAMPLER_PID" 2>/dev/null || true
	wait "$SAMPLER_PID" 2>/dev/null || true
	SAMPLER_PID=""
}

# --- the checks ------------------------------------------------------------

# check_one_runner: never two running copies. A scenario moves a VM at most
# once, so a copy on X seen running (call ended at e1), then one on Y (call
# started after e1, ended at e2), then X again (call started after e2) means
# X and Y ran at the same time: a move X -> Y -> X would be two moves.
check_one_runner() {
	local verdict
	verdict=$(awk '$4 == "running" { n++; s[n] = $1; e[n] = $2; h[n] = $3
			if (!(h[n] in emin) || $2 < emin[h[n]]) emin[h[n]] = $2
			if (!(h[n] in smax) || $1 > smax[h[n]]) smax[h[n]] = $1 }
		END {
			for (x in emin) {
				# the first other copy seen wholly after X was first seen running
				best = -1
				for (j = 1; j <= n; j++)
					if (h[j] != x && s[j] > emin[x] && (best < 0 || e[j] < e[best])) best = j
				if (best > 0 && smax[x] > e[best]) {
					printf "%s seen running until %d, %s from %d to %d, %s again from %d\n", x, emin[x], h[best], s[best], e[best], x, smax[x]
					exit
				}
			}
		}' "$FAULT_DIR/samples")
	[ -z "$verdict" ] || fail "two running copies: $verdict"
	note "never two running copies ($(wc -l <"$FAULT_DIR/samples") samples)"
}

# check_blocks_on_runner VM: every acknowledged block is on the running copy.
# The writer acknowledges blocks 1..N in order (it moves on only after an
# acknowledged write), so that is lab/lib.sh's verify_blocks over 1..N.
check_blocks_on_runner() {
	local vm=$1 node count
	node=$(runner "$vm")
	[ -n "$node" ] || fail "$vm runs nowhere"
	count=$(acked_count)
	verify_blocks "$node" "$vm" 1 "$count"
	note "all $count acknowledged blocks are on $node, where $vm runs"
}

# report_loss_on_runner VM SINCE_MS: async mode may lose the last writes:
# reads every acknowledged block on the running copy and reports how many are
# missing and how long before SINCE_MS (the fault) the oldest was acknowledged.
report_loss_on_runner() {
	local vm=$1 since=$2 node i ms missing=0 oldest="" image
	node=$(runner "$vm")
	[ -n "$node" ] || fail "$vm runs nowhere"
	image=$(lab exec "$node" virsh domblklist "$vm" | awk '$1 == "vda" {print $2}')
	while read -r i _ ms; do
		if ! lab exec "$node" qemu-io -f qcow2 -U -r -c "read -P $((i & 0xff)) $((64 + i))M 1M" \
			"$image" >/dev/null 2>&1; then
			missing=$((missing + 1))
			[ -n "$oldest" ] || oldest=$ms
		fi
	done <"$FAULT_DIR/acked"
	note "async data loss window: $missing of $(acked_count) acknowledged 1 MiB blocks missing on $node" \
		"$([ -z "$oldest" ] || echo "(oldest acknowledged $((since - oldest)) ms before the fault)")"
	echo "$missing" >"$FAULT_DIR/loss"
}

# check_blocks_on_backup VM: the same, over NBD, on the in-sync backup.
check_blocks_on_backup() {
	local vm=$1 backup port i count=0 node
	node=$(runner "$vm")
	backup=$(pair_field "$node" "$vm" backup)
	port=$(pair_field "$node" "$vm" nbd_port)
	for i in $(awk '{print $1}' "$FAULT_DIR/acked"); do
		# over TLS on a TLS lab (lab/lib.sh nbd_io: the backup host's own certificate)
		nbd_io "$backup" "10.77.0.1${backup#node}" "$port" -r \
			-c "read -P $((i & 0xff)) $((64 + i))M 1M" >/dev/null ||
			fail "acknowledged block $i is not on the backup on $backup"
		count=$((count + 1))
	done
	note "all $count acknowledged blocks are on the backup on $backup (read over NBD)"
}

# check_no_unsynced_promotion NODE VM: the event log never shows a backup
# promoted (or sent to fencing) from a state where it was not in sync (the
# live road's handing-over and catching-up among them: the jobs may owe
# writes there). Read from the transitions' fields: the messages in
# `hasvc events --json` do not start with "VM: " (only the text listing
# does), so a match on the message found nothing, whatever happened.
check_no_unsynced_promotion() {
	local bad
	bad=$(lab exec "$1" hasvc events --json |
		jq -r --arg vm "$2" '.events[] | select(.vm == $vm and .transition != null)
			| select(.transition.from | IN("creating", "initial-sync", "degraded", "lost-unsynced", "handing-over", "catching-up"))
			| select(.transition.to | IN("fencing", "promoting")) | .message')
	[ -z "$bad" ] || fail "a backup not in sync was on its way to promotion: $bad"
	[ "$(transition_count "$1" "$2" '*' '*')" -gt 0 ] ||
		fail "no transition of $2 in the event log: nothing to check"
}

# transition_count SEEN_FROM VM FROM TO: how many FROM -> TO transitions of VM
# the event log holds ('*' for any state).
transition_count() {
	lab exec "$1" hasvc events --json | jq --arg vm "$2" --arg f "$3" --arg t "$4" \
		'[.events[] | select(.vm == $vm and .transition != null)
			| select(($f == "*" or .transition.from == $f) and ($t == "*" or .transition.to == $t))] | length'
}

# resync_slowed_under_way SEEN_FROM: vm1 (node1 -> node2, the writer running)
# is cut from node2, 12 more blocks are written, and the link heals with
# node1's NBD traffic throttled to 4 mbit: returns once the pair is back in
# initial-sync and still is a second later, its resumed job copying. The
# caller takes the throttle away (nbd_unthrottle node1).
resync_slowed_under_way() {
	local seen=$1 port st ms
	port=$(pair_field node1 vm1 nbd_port)
	lab repl node2 cut >/dev/null
	wait_for 30 "vm1 degraded" pair_state_is "$seen" vm1 degraded
	wait_more_acked 12 90
	nbd_throttle node1 "$port" 4mbit
	lab repl node2 heal >/dev/null
	read -r st ms < <(catch_state "$seen" vm1 initial-sync 90)
	note "resync under way ($st, ${ms} ms after the heal): $(pair_field "$seen" vm1 'copy | .kind + "/" + .reason')"
	sleep 1
	pair_state_is "$seen" vm1 initial-sync || fail "the resync ended before the crash: $(pair_field "$seen" vm1 state)"
}

# check_images_identical VM: with the writer stopped, the image where VM runs
# holds the same blocks as its backup's export (lab/lib.sh images_identical).
check_images_identical() {
	local node backup port
	node=$(runner "$1")
	backup=$(pair_field "$node" "$1" backup)
	port=$(pair_field "$node" "$1" nbd_port)
	images_identical "$node" "$backup" "$port" "$1" ||
		fail "the images of $1 differ: $(images_identical "$node" "$backup" "$port" "$1" 2>&1 || true)"
	note "the images of $1 are identical (qemu-img compare, primary's image and backup's export)"
}

# pair_settled SEEN_FROM VM STATE: the pair is in STATE with the VM running somewhere.
pair_settled() { pair_state_is "$1" "$2" "$3" && [ -n "$(runner "$2")" ]; }

# scenario_begin VM [MODE [PRIMARY [BACKUP]]]: a fresh lab (HOSTS hosts, 3;
# LAB_UP_ARGS for `lab up`), VM on PRIMARY (node1) paired with BACKUP
# (node2), in sync. SETUP_BACKUP, if set, is run first (e.g. a small disk).
scenario_begin() {
	local vm=$1 mode=${2:-sync} primary=${3:-node1} backup=${4:-node2}
	# shellcheck disable=SC2086
	lab up --hosts "${HOSTS:-3}" ${LAB_UP_ARGS:-}
	wait_for 30 "quorum" quorate "$primary"
	for n in $(nodes); do wait_for 30 "$n online" node_online "$primary" "$n"; done
	[ -z "${SETUP_BACKUP:-}" ] || "$SETUP_BACKUP" "$backup"
	lab vm-create "$primary" "$vm" 256M >/dev/null
	lab exec "$primary" hasvc pair create "$vm" --backup "$backup" --mode "$mode" --timeout 120 >/dev/null
	pair_state_is "$primary" "$vm" in-sync || fail "$vm not in sync after pair create"
	if [ -n "$FAULTS_PARALLEL" ] && [ "$mode" = sync ]; then
		event_count_above "$primary" "to both disks at once" 0 ||
			fail "HASVC_FAULTS_SYNC_WRITES=parallel, but $vm's mirror does not say it writes both disks at once"
		note "$vm writes both disks at once (parallel sync writes)"
	fi
}

# faults_start VM [PAUSE_S]: the sampler and the writer running, 5 writes acknowledged.
faults_start() {
	sampler_start "$1"
	writer_start "$1" "${2:-0.2}"
	wait_more_acked 5
}

# faults_stop SEEN_FROM VM: stops the helpers; checks what holds in every
# scenario (no unsynced promotion, one runner, every block where VM runs).
faults_stop() {
	writer_stop
	sampler_stop
	check_no_unsynced_promotion "$1" "$2"
	check_one_runner
	check_blocks_on_runner "$2"
}

# faults_finish SEEN_FROM VM: waits until VM is protected again and written
# to, then faults_stop and the backup check.
faults_finish() {
	wait_for 240 "$2 protected again" pair_settled "$1" "$2" in-sync
	wait_more_acked 3 60
	faults_stop "$1" "$2"
	check_blocks_on_backup "$2"
}

# round_end: stop the background work; the next round starts from a fresh lab.
round_end() {
	writer_stop
	sampler_stop
	lab down >/dev/null 2>&1 || true
}

# rounds FN: runs FN once per round.
rounds() {
	local r
	for r in $(seq "$FAULTS_COUNT"); do
		note "round $r of $FAULTS_COUNT"
		"$1"
		round_end
	done
	note "PASS"
}

# --- live switchover (issue 14) --------------------------------------------
#
# The live road's states last from ~40 ms (reversing) to a few seconds
# (docs/pairs.md, "Live switchover"): the scenarios catch one by polling the
# replicated state fast and act the moment it is seen.

# live_lab_env: every host's hasvcd with the qmp engine, which the live road needs.
live_lab_env() { export HASVC_LAB_DAEMON_ENV="HASVC_MIRROR_ENGINE=qmp$FAULTS_PARALLEL"; }

# live_switchover_start VM [FROM]: asks for the live switchover (from node3,
# a host that takes no part), not waiting for it.
live_switchover_start() { lab exec "${2:-node3}" hasvc switchover "$1" --live --no-wait >/dev/null; }

# catch_state SEEN_FROM VM REGEX [SECONDS]: polls the pair every ~50 ms until
# its state matches REGEX (whole word); prints the state and the ms since the
# call. Fails, naming the states seen, if it never does.
catch_state() {
	local seen=$1 vm=$2 re=$3 secs=${4:-60} t0 st road=""
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt $((secs * 1000)) ]; do
		st=$("$LAB_CMD" exec "$seen" hasvc pair show "$vm" --json 2>/dev/null | jq -r .state) || st=-
		[[ $st =~ ^($re)$ ]] && { echo "$st $(($(now_ms) - t0))"; return 0; }
		[[ $road == *" $st" ]] || road="$road $st"
		sleep 0.05
	done
	fail "$vm never seen in $re within ${secs}s (seen:$road)"
}

# hasvcd_signal NODE SIG: sends SIG to NODE's hasvcd (its lab pid file).
hasvcd_signal() { lab exec "$1" sh -c "kill -$2 \"\$(cat /run/hasvcd.lab.pid)\""; }

# live_road SEEN_FROM VM SINCE_MS: the pair's events since SINCE_MS, ms from it.
live_road() {
	lab exec "$1" hasvc events --json | jq -r --arg vm "$2" --argjson t0 "$3" '.events[]
		| select(.vm == $vm and .time_usec / 1000 >= $t0 - 1000)
		| "  +\((.time_usec / 1000 - $t0) | floor) ms  \(.message)"' | cut -c1-220
}

# live_begin VM REGEX CMD...: VM paired node1 -> node2 in sync, the writer
# and the sampler running, a live switchover asked for; CMD runs the moment
# the pair is seen (from node3) in a state matching REGEX. Sets LIVE_T0 (the
# request, ms), LIVE_STATE and LIVE_MS (the state caught and when).
live_begin() {
	local vm=$1 re=$2
	shift 2
	scenario_begin "$vm" sync
	faults_start "$vm"
	LIVE_T0=$(now_ms)
	live_switchover_start "$vm"
	read -r LIVE_STATE LIVE_MS < <(catch_state node3 "$vm" "$re" 60)
	"$@"
	note "$LIVE_STATE seen $LIVE_MS ms after the request; then: $*"
}

# standin_of NODE VM: the pid of VM's stand-in (qemu-storage-daemon) on
# NODE, if one runs (its pid file, mirror.h MIRROR_STANDIN_RUN_DIR).
standin_of() {
	lab exec "$1" sh -c "p=\$(cat /run/hasvc/standin-$2.pid 2>/dev/null) && [ -n \"\$p\" ] &&
		grep -qs '^qemu-storage' /proc/\$p/comm && echo \$p" 2>/dev/null || true
}

# check_live_end VM: once the pair is protected again, the live road left
# nothing behind: no stand-in on a host that is up (it holds the VM's images
# open read-write, beside whatever QEMU now has them, and the NBD port), and
# a promotion found the guest to promote, not one something else had started
# already ("already runs here": started outside the promotion, before the
# fence it waits for).
check_live_end() {
	local n pid how
	for n in $(nodes); do
		[ "$(cat "/var/lib/hasvc-lab/$HASVC_LAB/$n/power" 2>/dev/null)" != off ] || continue
		pid=$(standin_of "$n" "$1")
		[ -z "$pid" ] || fail "a stand-in of $1 (pid $pid) still runs on $n, $1 $(domstate "$n" "$1") there, the pair $(pair_field node3 "$1" state)"
	done
	how=$(promoted_how node3 "$1")
	[[ $how != *"already runs here"* ]] || fail "the promotion found $1 running already: $how"
	note "no stand-in left; promotion: ${how:-none}"
}

# live_finish VM: the road so far, then VM written to, protected again (in
# sync within faults_finish's bound), every check; the road's last steps.
live_finish() {
	live_road node3 "$1" "$LIVE_T0"
	wait_more_acked 3
	faults_finish node3 "$1"
	live_road node3 "$1" "$LIVE_T0" | tail -4
	check_live_end "$1"
}

# wait_guest_left VM NODE: polls (every ~20 ms) until VM no longer runs on
# NODE (a migration's switch); sets LEFT_MS, the ms it took.
wait_guest_left() {
	local t0
	t0=$(now_ms)
	while domstate_is "$2" "$1" running; do
		[ $(($(now_ms) - t0)) -lt 30000 ] || fail "$1 never left $2"
		sleep 0.02
	done
	LEFT_MS=$(($(now_ms) - t0))
}

# promoted_how SEEN_FROM VM: the message of VM's last promotion.
promoted_how() {
	lab exec "$1" hasvc events --json | jq -r --arg vm "$2" '[.events[] | select(.vm == $vm and .transition.event == "promoted")] | last | .message // empty'
}

# hold_in_catching_up: catching-up lasts ~17 ms since the resume looks for
# READY every 100 ms (5d83ddb): too short to poll. Called the moment
# handing-over is seen, it stops node1's hasvcd (catching-up is its duty),
# so the pair waits in catching-up once node2's hand-over is done.
hold_in_catching_up() {
	hasvcd_signal node1 STOP
	read -r LIVE_STATE LIVE_MS < <(catch_state node3 vm1 catching-up 30)
}

# hold_until_left: called the moment migrating is seen. Waits until the
# incoming QEMU is up on node2 (the migration has begun: libvirt's, peer to
# peer, it goes on without hasvcd), stops node1's hasvcd so that it cannot
# propose `migrated`, and waits until the guest has left node1 (LEFT_MS).
hold_until_left() {
	local t0
	t0=$(now_ms)
	until domstate_is node2 vm1 paused; do
		[ $(($(now_ms) - t0)) -lt 30000 ] || fail "no incoming migration on node2"
		sleep 0.02
	done
	hasvcd_signal node1 STOP
	wait_guest_left vm1 node1
	pair_state_is node3 vm1 migrating || fail "vm1 left node1 but the pair is $(pair_field node3 vm1 state)"
}

# --- live switchover partitions (issue 14) ---------------------------------
#
# A partition is not a crash: the cut host runs on, its hasvcd and libvirtd
# alive, and nothing it sends reaches the others (no TCP reset either: `lab
# partition` downs its cluster link, which carries corosync, the NBD mirror
# and the migration stream; its BMC stays reachable on the management net).

# out_of_ring NODE: NODE is no longer in the membership node3 sees.
out_of_ring() { ! "$LAB_CMD" exec node3 corosync-quorumtool -l 2>/dev/null | grep -qw "$1"; }

# live_rejoin NODE: heals NODE's cluster link; boots it whenever its fence
# powered it off (a fence decided before the heal may land after it: the
# cluster lists a host online again only once no fence of it is in flight);
# waits until the cluster lists it online again, its hasvcd up.
live_rejoin() {
	local t0 booted=""
	lab heal "$1"
	t0=$(now_ms)
	until node_state_is node3 "$1" online; do
		[ $(($(now_ms) - t0)) -lt 120000 ] || fail "$1 not online again within 120 s ($(node_state node3 "$1"))"
		if [ "$(cat "/var/lib/hasvc-lab/$HASVC_LAB/$1/power" 2>/dev/null)" = off ]; then
			lab power "$1" on >/dev/null
			booted=" and booted (its fence had powered it off)"
		fi
		sleep 0.5
	done
	note "$1 healed$booted, online again"
}

# check_no_stray_copy VM: once the pair is protected again, VM is active
# (running or paused) only on its primary and its backup host: a host cut
# off during a live switchover may have kept a copy (the migrated guest,
# paused; an incoming QEMU) that nothing would ever stop, and that a resume
# would make a second running guest.
check_no_stray_copy() {
	local vm=$1 n primary backup st
	primary=$(pair_field node3 "$vm" primary)
	backup=$(pair_field node3 "$vm" backup)
	for n in $(nodes); do
		[ "$n" != "$primary" ] && [ "$n" != "$backup" ] || continue
		st=$(domstate "$n" "$vm")
		[ "$st" != running ] && [ "$st" != paused ] ||
			fail "a stray copy of $vm is $st on $n (primary $primary, backup $backup)"
	done
	note "$vm active only on $primary (running) and $backup (its backup)"
}

# live_partition_end CUT PRIMARY: CUT healed (and booted if fenced), vm1
# protected again with every check (live_finish), PRIMARY its primary, no
# other active copy of vm1 on any host, its op over.
live_partition_end() {
	live_rejoin "$1"
	live_finish vm1
	[ "$(pair_field node3 vm1 primary)" = "$2" ] || fail "vm1's primary is $(pair_field node3 vm1 primary), not $2"
	check_no_stray_copy vm1
	# the op ends once the guest runs where it stays (a continue waiting for
	# a cancelled migration tries again): a claimed op would refuse the next
	# switchover (busy)
	wait_for 60 "the live switchover's op over" op_over vm1
}
op_over() { [ "$(pair_field node3 "$1" operation.op)" = null ]; }
