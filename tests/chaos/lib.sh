# SPDX-License-Identifier: LGPL-2.1-or-later
#
# chaos/lib.sh: the campaign's workload and its checks over the whole history,
# for several VMs at once. Sourced by tests/chaos/run, after faults/lib.sh
# (whose acked_write, runner and lab helpers it uses).
#
#   writers  one per VM: block i goes to slot ((i - 1) % SLOTS) + 1, pattern
#            i & 0xff, wherever the VM runs; "i node ack_ms" lines in
#            $CHAOS_DIR/<vm>.acked once QEMU logged its completion. A writer
#            moves to i + 1 only after i was acknowledged, so the only write
#            that may be in flight at a fault is the next one.
#   sampler  every host's `virsh domstate` of every VM, in sweeps:
#            "sweep start_ms end_ms node vm state" lines in $CHAOS_DIR/samples.
#   checks   (chaos_check_*) one running copy, the acknowledged blocks on the
#            copy that runs (sync) or the loss measured (async), no promotion
#            of an unsynced backup, no promotion before a verified fence,
#            every pair settled, identical state digests.
CHAOS_DIR=/var/lib/hasvc-lab/$HASVC_LAB.chaos
SLOTS=180 # 1 MiB slots from 65 MiB: what a 256 MiB disk holds
WRITER_PIDS=()
CHAOS_SAMPLER_PID=""

chaos_writer_start() {
	local vm=$1 pause=${2:-0.3}
	mkdir -p "$CHAOS_DIR"
	: >"$CHAOS_DIR/$vm.acked"
	(
		trap - EXIT
		i=1 node=""
		while [ ! -e "$CHAOS_DIR/writers.stop" ]; do
			[ -n "$node" ] || node=$(runner "$vm")
			if [ -n "$node" ] && acked_write "$node" "$vm" $i $(((i - 1) % SLOTS + 1)); then
				echo "$i $node $(now_ms)" >>"$CHAOS_DIR/$vm.acked"
				i=$((i + 1))
			else
				node="" # it moved, stopped, or the write failed: find it again
				sleep 0.5
			fi
			sleep "$pause"
		done
	) >/dev/null 2>&1 &
	WRITER_PIDS+=($!)
}

chaos_writers_stop() {
	local p
	touch "$CHAOS_DIR/writers.stop"
	for p in "${WRITER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	WRITER_PIDS=()
}

chaos_sampler_start() {
	mkdir -p "$CHAOS_DIR"
	: >"$CHAOS_DIR/samples"
	(
		trap - EXIT
		sweep=0
		while [ ! -e "$CHAOS_DIR/sampler.stop" ]; do
			sweep=$((sweep + 1))
			for n in $(nodes); do
				for vm in "$@"; do
					s=$(now_ms)
					st=$(timeout 10 "$LAB_CMD" exec "$n" virsh domstate "$vm" 2>/dev/null | head -1) || st=-
					echo "$sweep $s $(now_ms) $n $vm ${st// /_}" >>"$CHAOS_DIR/samples"
				done
			done
			sleep 0.2
		done
	) >/dev/null 2>&1 &
	CHAOS_SAMPLER_PID=$!
}

chaos_sampler_stop() {
	[ -n "$CHAOS_SAMPLER_PID" ] || return 0
	touch "$CHAOS_DIR/sampler.stop"
	wait "$CHAOS_SAMPLER_PID" 2>/dev/null || true
	CHAOS_SAMPLER_PID=""
}

# chaos_check_one_runner: never two running copies of a VM. Copies on X seen
# running at A and again at C, with no sample of X in between that says
# otherwise, and a copy on Y seen running at B wholly between them: X and Y
# ran at once (X stopping and starting again between two samples, well under
# a second apart, would be two moves; a move takes seconds, and stops the old
# copy before the new one resumes). The sampler takes one sample at a time,
# so samples never overlap.
chaos_check_one_runner() {
	local verdict
	verdict=$(sort -k2,2n "$CHAOS_DIR/samples" | awk '
		{ vm = $5; host = $4 }
		$6 != "running" { delete cont[vm, host]; next }
		{
			if ((vm, host) in cont) {
				for (k in lastStart) {
					split(k, kk, SUBSEP)
					if (kk[1] != vm || kk[2] == host) continue
					if (lastStart[k] > cont[vm, host] && lastEnd[k] < $2 && !found) {
						printf "%s: running on %s until %.0f, on %s from %.0f to %.0f, on %s again from %.0f (ms)\n", vm, host, cont[vm, host], kk[2], lastStart[k], lastEnd[k], host, $2
						found = 1
					}
				}
			}
			cont[vm, host] = $3
			lastStart[vm, host] = $2
			lastEnd[vm, host] = $3
		}')
	[ -z "$verdict" ] || chaos_fail "two running copies: $verdict"
}

# chaos_check_promotions SEEN_FROM: in the whole event log, no backup on its
# way to promotion from a state that was not in sync, and every promotion
# after a lost host follows a successful, verified fence of that host.
chaos_check_promotions() {
	local node=$1 events fences bad
	events=$(lab exec "$node" hasvc events --json) || chaos_fail "no event log from $node"
	bad=$(jq -r '.events[] | select(.kind == "pair") | select(.message | test("^[^ ]+: (creating|initial-sync|degraded|lost-unsynced) -> (fencing|promoting)")) | .message' <<<"$events")
	[ -z "$bad" ] || chaos_fail "a backup not in sync was on its way to promotion: $bad"
	fences=$(lab exec "$node" hasvc fence log --json) || chaos_fail "no fence log from $node"
	# "vm1: fencing -> promoting (fenced): node1 is fenced (powered off, verified); ..."
	bad=$(jq -r --argjson f "$fences" '
		.events[] | select(.kind == "pair") | select(.message | test(": fencing -> promoting "))
		| . as $e | ($e.message | capture("\\): (?<host>[^ ]+) is fenced").host) as $h
		| select([$f.fence_log[] | select(.target == $h and .result == "success" and
			.finished_usec <= $e.time_usec)] | length == 0)
		| $e.message' <<<"$events") || chaos_fail "cannot read the logs of $node"
	[ -z "$bad" ] || chaos_fail "a promotion without a verified fence of the lost host before it: $bad"
}

# chaos_check_blocks VM MODE: the acknowledged writes on the copy that runs.
# Each slot must hold its last acknowledged block; the slot of the block after
# the last acknowledged one may hold that block instead (it was in flight).
# Sync: every acknowledged write is there, or the run fails. Async: the blocks
# missing are counted (the loss), not failed.
chaos_check_blocks() {
	local vm=$1 mode=$2 node dev log n slot i alt bad=0 lost=0 before after
	node=$(runner "$vm")
	[ -n "$node" ] || chaos_fail "$vm runs nowhere"
	n=$(tail -n 1 "$CHAOS_DIR/$vm.acked" | awk '{print $1}')
	[ -n "$n" ] || { note "$vm: no write acknowledged"; return 0; }
	dev=$(disk_dev "$node" "$vm")
	log=/var/log/libvirt/qemu/$vm.log
	for slot in $(seq 1 "$SLOTS"); do
		# the last acknowledged block of this slot
		i=$(( n - ((n - slot) % SLOTS + SLOTS) % SLOTS ))
		[ "$i" -ge 1 ] || continue
		alt=$((i + SLOTS))
		for p in $i $([ "$alt" -eq $((n + 1)) ] && echo "$alt"); do
			before=$(lab exec "$node" grep -c 'Pattern verification failed' "$log" || true)
			lab exec "$node" virsh qemu-monitor-command "$vm" --hmp \
				"qemu-io -d $dev \"read -P $((p & 0xff)) $(((64 + slot) * 1048576)) 1M\"" >/dev/null
			after=$(lab exec "$node" grep -c 'Pattern verification failed' "$log" || true)
			[ "$after" = "$before" ] && continue 2
		done
		if [ "$mode" = sync ]; then
			bad=$((bad + 1))
			echo "$vm: slot $slot lacks acknowledged block $i on $node" >&2
		else
			lost=$((lost + 1))
		fi
	done
	[ "$bad" -eq 0 ] || chaos_fail "$vm (sync): $bad acknowledged blocks missing on $node"
	note "$vm ($mode): $n writes acknowledged, all there on $node$([ "$mode" = async ] && echo " but $lost slots (async loss)")"
	echo "$vm $mode $n $lost" >>"$CHAOS_DIR/loss"
}
