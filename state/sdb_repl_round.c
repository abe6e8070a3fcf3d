// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_repl_round: the sync round that follows every configuration change
 * (the protocol is in sdb_repl.h and docs/state.md).
 *
 * The leader (the lowest nodeid) opens the round with sync_start; every
 * member answers with sync_state (version, digest, in_sync, schema,
 * protocol); when all states are in, every member decides alike, from the
 * same messages: the change protocol of the cluster (members of another one
 * are refused at join, phase INCOMPATIBLE), the donor, and whether a
 * snapshot must go out (sdb_repl_snapshot.c). Members equal to the donor are
 * SYNCED at once, the others RECEIVING.
 */
#include <stdio.h>
#include <string.h>

#include "sdb_repl_internal.h"

/* Forgets the round that ran: its snapshot, its messages, the states collected. */
static void round_reset(struct sdb_repl *repl, uint32_t leader, uint64_t epoch,
			enum sdb__repl_phase phase)
{
	sdb__repl_snapshot_reset(repl);
	sdb__repl_outbox_clear(repl);
	for (size_t i = 0; i < repl->n_members; i++)
		repl->members[i].have = false;
	repl->leader = leader;
	repl->epoch = epoch;
	repl->donor = 0;
	repl->phase = phase;
}

/* A confchg or a sync_request: every member starts over, the leader sends sync_start. */
int sdb__repl_round_begin(struct sdb_repl *repl)
{
	json_object *m;

	if (repl->phase == PHASE_RECEIVING)
		repl->in_sync = false;
	sdb__repl_buffer_drop(repl);
	round_reset(repl, 0, 0, PHASE_STARTING);
	repl->rounds++;
	if (sdb__repl_lowest_member(repl) != repl->nodeid)
		return 0;
	m = sdb__repl_round_msg_new("sync_start");
	if (m)
		json_object_object_add(m, "epoch",
				       json_object_new_int64((int64_t)++repl->next_epoch));
	return sdb__repl_outbox_push(repl, m);
}

static void send_state(struct sdb_repl *repl)
{
	json_object *m = sdb__repl_round_msg_new("sync_state");
	char digest[65] = "unknown";
	uint64_t version = 0;
	int r;

	r = sdb_version(repl->db, &version);
	if (r >= 0)
		r = sdb_digest(repl->db, digest);
	if (r < 0) {
		sdb__repl_error(repl, r, "cannot read own state for the sync round: %s",
				sdb_errmsg(repl->db));
		repl->in_sync = false;
		version = 0;
		snprintf(digest, sizeof(digest), "unknown");
	}
	if (m) {
		json_object_object_add(m, "leader", json_object_new_int64(repl->leader));
		json_object_object_add(m, "epoch", json_object_new_int64((int64_t)repl->epoch));
		json_object_object_add(m, "version", json_object_new_int64((int64_t)version));
		json_object_object_add(m, "digest", json_object_new_string(digest));
		json_object_object_add(m, "in_sync", json_object_new_boolean(repl->in_sync));
		json_object_object_add(m, "schema", json_object_new_int64(sdb_schema_version()));
		json_object_object_add(m, "protocol", json_object_new_int(repl->protocol));
	}
	if (sdb__repl_outbox_push(repl, m) < 0)
		sdb__repl_error(repl, -ENOMEM, "cannot send sync state");
}

void sdb__repl_on_start(struct sdb_repl *repl, uint32_t sender, json_object *msg)
{
	json_object *v;

	if (sender != sdb__repl_lowest_member(repl) || !json_object_object_get_ex(msg, "epoch", &v))
		return; /* not from this membership's leader: stale */
	if (repl->phase == PHASE_RECEIVING || repl->diverged) {
		/* our buffer holds changes the others applied; the snapshot brings them */
		repl->in_sync = false;
		sdb__repl_buffer_drop(repl);
	}
	round_reset(repl, sender, (uint64_t)json_object_get_int64(v), PHASE_COLLECTING);
	send_state(repl);
}

bool sdb__repl_same_round(struct sdb_repl *repl, json_object *msg)
{
	json_object *l, *e;

	return json_object_object_get_ex(msg, "leader", &l) &&
	       json_object_object_get_ex(msg, "epoch", &e) &&
	       (uint32_t)json_object_get_int64(l) == repl->leader &&
	       (uint64_t)json_object_get_int64(e) == repl->epoch && repl->leader != 0;
}

/*
 * Donor: among the members that speak PROTOCOL (0: any), those in sync if
 * any, the highest version, then the lowest nodeid.
 */
static struct sdb__repl_member *choose_donor(struct sdb_repl *repl, int protocol)
{
	struct sdb__repl_member *best = NULL;
	bool any_in_sync = false;

	for (size_t i = 0; i < repl->n_members; i++)
		any_in_sync |= repl->members[i].in_sync &&
			       (!protocol || repl->members[i].protocol == protocol);
	for (size_t i = 0; i < repl->n_members; i++) {
		struct sdb__repl_member *m = &repl->members[i];

		if ((protocol && m->protocol != protocol) || (any_in_sync && !m->in_sync))
			continue;
		if (!best || m->version > best->version ||
		    (m->version == best->version && m->nodeid < best->nodeid))
			best = m;
	}
	return best;
}

/*
 * The change protocol the cluster speaks: that of its members in sync (the
 * best of them, as a donor is chosen: they agree, since a member of another
 * protocol is never synced), else, when nobody is (the whole cluster
 * starting), the leader's. Every member computes it from the same
 * sync_states, so every member agrees on who is out.
 */
static int cluster_protocol(struct sdb_repl *repl)
{
	struct sdb__repl_member *best = choose_donor(repl, 0), *leader;

	if (best && best->in_sync)
		return best->protocol;
	leader = sdb__repl_member_find(repl, repl->leader);
	return leader ? leader->protocol : repl->protocol;
}

/*
 * A member of another change protocol than the cluster's would apply the
 * changes differently, or not at all: it is not synced, its changes are not
 * taken (sdb_repl_propose() refuses them with -EPROTONOSUPPORT), and it says
 * so, as the others do of it. The next configuration change asks again.
 */
static bool refuse_incompatible(struct sdb_repl *repl, int protocol)
{
	bool me_out = repl->protocol != protocol;

	for (size_t i = 0; i < repl->n_members; i++) {
		const struct sdb__repl_member *m = &repl->members[i];

		if (m->protocol != protocol && !me_out)
			sdb__repl_error(
			    repl, -EPROTONOSUPPORT,
			    "node %u speaks state protocol %d, the cluster %d: not synced, "
			    "its changes are refused",
			    m->nodeid, m->protocol, protocol);
	}
	if (!me_out)
		return false;
	sdb__repl_error(repl, -EPROTONOSUPPORT,
			"state protocol %d here, cluster speaks %d: not joining", repl->protocol,
			protocol);
	repl->phase = PHASE_INCOMPATIBLE;
	repl->in_sync = false;
	sdb__repl_buffer_drop(repl);
	return true;
}

static void round_complete(struct sdb_repl *repl)
{
	int protocol = cluster_protocol(repl);
	struct sdb__repl_member *donor = choose_donor(repl, protocol),
				*me = sdb__repl_member_find(repl, repl->nodeid);
	bool all_equal = true;
	int r;

	repl->cluster_protocol = protocol;
	if (refuse_incompatible(repl, protocol))
		return;
	repl->donor = donor->nodeid;
	repl->donor_version = donor->version;
	memcpy(repl->donor_digest, donor->digest, sizeof(repl->donor_digest));
	for (size_t i = 0; i < repl->n_members; i++)
		all_equal &= repl->members[i].protocol != protocol ||
			     (repl->members[i].version == donor->version &&
			      strcmp(repl->members[i].digest, donor->digest) == 0);

	if (me->version != donor->version || strcmp(me->digest, donor->digest) != 0) {
		repl->in_sync = false;
		repl->phase = PHASE_RECEIVING;
		return;
	}
	if (donor == me && !all_equal) {
		/* the state as it is now, before the buffer: what the others start from */
		r = sdb__repl_snapshot_send(repl);
		if (r < 0)
			sdb__repl_error(repl, r, "cannot send state snapshot: %s",
					sdb_errmsg(repl->db));
	}
	sdb__repl_become_synced(repl);
}

void sdb__repl_on_state(struct sdb_repl *repl, uint32_t sender, json_object *msg)
{
	struct sdb__repl_member *m = sdb__repl_member_find(repl, sender);
	json_object *version, *digest, *in_sync, *protocol;

	if (repl->phase != PHASE_COLLECTING || !m || m->have || !sdb__repl_same_round(repl, msg))
		return;
	if (!json_object_object_get_ex(msg, "version", &version) ||
	    !json_object_object_get_ex(msg, "digest", &digest) ||
	    !json_object_is_type(digest, json_type_string))
		return;
	m->have = true;
	m->version = (uint64_t)json_object_get_int64(version);
	snprintf(m->digest, sizeof(m->digest), "%s", json_object_get_string(digest));
	m->in_sync =
	    json_object_object_get_ex(msg, "in_sync", &in_sync) && json_object_get_boolean(in_sync);
	/* hosts of change protocol 1 did not say it */
	m->protocol = json_object_object_get_ex(msg, "protocol", &protocol) &&
			      json_object_is_type(protocol, json_type_int)
			  ? json_object_get_int(protocol)
			  : 1;
	for (size_t i = 0; i < repl->n_members; i++)
		if (!repl->members[i].have)
			return;
	round_complete(repl);
}
