// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_repl: the replication engine (API and protocol summary in sdb_repl.h,
 * the full argument in docs/state.md).
 *
 * Phases of this member:
 *
 *     IDLE --confchg with us--> STARTING --sync_start--> COLLECTING
 *                                   ^                       |  every sync_state in
 *          confchg, sync_request ---+            equal to   |  differs from donor
 *          (from any phase but IDLE)             donor  <---+---> RECEIVING
 *                                                  |                 | snapshot loaded
 *                                                  v                 v
 *                                                SYNCED <------------+
 *                                                  | a change failed here
 *                                                  v
 *                                     STARTING (diverged), sends sync_request
 *
 *     COLLECTING --every sync_state in, ours not the cluster's protocol--> INCOMPATIBLE
 *     (left at the next round only)
 *
 * Round messages ("sync_*") are JSON like the changes; their "v" is the round
 * format (SDB_REPL_ROUND_VERSION, 1 since the first release), not the change
 * protocol, which each member announces in its sync_state:
 *
 *   {"v":1,"type":"sync_start","epoch":E}
 *   {"v":1,"type":"sync_state","leader":L,"epoch":E,"version":N,"digest":"hex",
 *    "in_sync":true,"schema":S,"protocol":P}
 *   {"v":1,"type":"sync_snapshot","leader":L,"epoch":E,"part":i,"parts":n,
 *    "version":N,"digest":"hex","data":"<part i of the dump text>"}
 *   {"v":1,"type":"sync_request","reason":"..."}
 *
 * A round is named by (leader, epoch): the leader's nodeid and a counter of
 * the leader seeded from the clock, so that a round of an earlier incarnation
 * or an earlier configuration cannot be mistaken for this one.
 *
 * The buffer of changes delivered while not SYNCED is dropped at each
 * confchg and sync_request (a joiner has none of it: keeping it elsewhere
 * would make members differ) and at a sync_start reaching a member that was
 * RECEIVING or diverged (whose buffer holds changes the others applied, which
 * the coming snapshot brings). Every member that keeps its buffer holds the
 * same one, and applies it on top of the same state.
 *
 * Round messages that ops->send refuses wait in an outbox, in order, until
 * sdb_repl_flush(); a new round empties it (its messages are stale).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sdb_msg.h"
#include "sdb_repl_internal.h"

static const char *const phase_names[] = {
    [PHASE_IDLE] = "idle",
    [PHASE_STARTING] = "starting",
    [PHASE_COLLECTING] = "collecting",
    [PHASE_RECEIVING] = "receiving",
    [PHASE_SYNCED] = "synced",
    [PHASE_INCOMPATIBLE] = "incompatible",
};

void sdb__repl_error(struct sdb_repl *repl, int error, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (!repl->ops.error)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	repl->ops.error(repl->ops.userdata, error, msg);
}

static struct sdb__repl_member *member_find(struct sdb_repl *repl, uint32_t nodeid)
{
	for (size_t i = 0; i < repl->n_members; i++)
		if (repl->members[i].nodeid == nodeid)
			return &repl->members[i];
	return NULL;
}

static uint32_t lowest_member(const struct sdb_repl *repl)
{
	uint32_t low = 0;

	for (size_t i = 0; i < repl->n_members; i++)
		if (low == 0 || repl->members[i].nodeid < low)
			low = repl->members[i].nodeid;
	return low;
}

/* ---- outbox ---------------------------------------------------------------------------- */

static void outbox_clear(struct sdb_repl *repl)
{
	for (size_t i = 0; i < repl->n_out; i++)
		free(repl->out[i].buf);
	repl->n_out = 0;
}

int sdb_repl_flush(struct sdb_repl *repl)
{
	size_t sent = 0;
	int r = 0;

	while (sent < repl->n_out) {
		r = repl->ops.send(repl->ops.userdata, repl->out[sent].buf, repl->out[sent].len);
		if (r < 0)
			break;
		free(repl->out[sent].buf);
		sent++;
	}
	if (sent > 0 && sent < repl->n_out)
		memmove(repl->out, repl->out + sent, (repl->n_out - sent) * sizeof(*repl->out));
	repl->n_out -= sent;
	return r < 0 ? r : 0;
}

bool sdb_repl_pending(const struct sdb_repl *repl)
{
	return repl->n_out > 0;
}

/* Queues M (consumed) as a round message and tries to send what is queued. */
int sdb__repl_outbox_push(struct sdb_repl *repl, json_object *m)
{
	_cleanup_json_ json_object *owned = m;
	size_t len;
	char *buf;
	int r;

	if (!m)
		return -ENOMEM;
	r = sdb__grow((void **)&repl->out, &repl->cap_out, repl->n_out, sizeof(*repl->out), 8);
	if (r >= 0)
		r = sdb__json_text(m, &buf, &len);
	if (r < 0)
		return r;
	repl->out[repl->n_out++] = (struct sdb__repl_outgoing){buf, len};
	(void)sdb_repl_flush(repl); /* what is refused waits for the caller's flush */
	return 0;
}

json_object *sdb__repl_round_msg_new(const char *type)
{
	json_object *m = json_object_new_object();

	if (!m)
		return NULL;
	json_object_object_add(m, "v", json_object_new_int(SDB_REPL_ROUND_VERSION));
	json_object_object_add(m, "type", json_object_new_string(type));
	return m;
}

/* ---- the buffer of changes ------------------------------------------------------------- */

static int buffer_push(struct sdb_repl *repl, uint32_t sender, json_object *msg)
{
	int r = sdb__grow((void **)&repl->buffer, &repl->cap_buffer, repl->n_buffer,
			  sizeof(*repl->buffer), 16);

	if (r < 0)
		return r;
	repl->buffer[repl->n_buffer++] = (struct sdb__repl_buffered){sender, json_object_get(msg)};
	return 0;
}

static void buffer_drop(struct sdb_repl *repl)
{
	for (size_t i = 0; i < repl->n_buffer; i++) {
		if (repl->ops.applied)
			repl->ops.applied(repl->ops.userdata, repl->buffer[i].sender,
					  repl->buffer[i].msg, -ECANCELED);
		json_object_put(repl->buffer[i].msg);
	}
	repl->n_buffer = 0;
}

/* ---- applying changes ------------------------------------------------------------------ */

static int send_request(struct sdb_repl *repl, const char *reason)
{
	json_object *m = sdb__repl_round_msg_new("sync_request");

	if (m)
		json_object_object_add(m, "reason", json_object_new_string(reason));
	return sdb__repl_outbox_push(repl, m);
}

/* A change failed here: stop applying, buffer, and ask for a round. */
static void diverge(struct sdb_repl *repl, const char *why)
{
	repl->diverged = true;
	repl->in_sync = false;
	repl->phase = PHASE_STARTING;
	if (send_request(repl, why) < 0)
		sdb__repl_error(repl, -ENOMEM, "cannot ask for a sync round");
}

static void apply_one(struct sdb_repl *repl, uint32_t sender, json_object *msg)
{
	int r = sdb__apply_obj(repl->db, sender, msg);

	if (r < 0 && !sdb_apply_refused(r)) {
		sdb__repl_error(repl, r, "cannot apply change, state no longer in sync: %s",
				sdb_errmsg(repl->db));
		diverge(repl, "a change failed");
	}
	if (repl->ops.applied)
		repl->ops.applied(repl->ops.userdata, sender, msg, r);
}

/* SYNCED from now on: apply the buffer in order (stopping if one diverges us). */
void sdb__repl_become_synced(struct sdb_repl *repl)
{
	size_t i;

	repl->phase = PHASE_SYNCED;
	repl->in_sync = true;
	repl->diverged = false;
	sdb__repl_snapshot_reset(repl);
	for (i = 0; i < repl->n_buffer && repl->phase == PHASE_SYNCED; i++) {
		apply_one(repl, repl->buffer[i].sender, repl->buffer[i].msg);
		json_object_put(repl->buffer[i].msg);
	}
	/* after a divergence the rest stays buffered, for the next round to drop */
	if (i > 0 && i < repl->n_buffer)
		memmove(repl->buffer, repl->buffer + i,
			(repl->n_buffer - i) * sizeof(*repl->buffer));
	repl->n_buffer -= i;
	if (repl->phase == PHASE_SYNCED && repl->ops.synced)
		repl->ops.synced(repl->ops.userdata);
}

/* ---- the round --------------------------------------------------------------------------- */

/* A confchg or a sync_request: every member starts over, the leader sends sync_start. */
static int round_begin(struct sdb_repl *repl)
{
	json_object *m;

	if (repl->phase == PHASE_RECEIVING)
		repl->in_sync = false;
	buffer_drop(repl);
	sdb__repl_snapshot_reset(repl);
	outbox_clear(repl);
	for (size_t i = 0; i < repl->n_members; i++)
		repl->members[i].have = false;
	repl->leader = 0;
	repl->epoch = 0;
	repl->donor = 0;
	repl->phase = PHASE_STARTING;
	repl->rounds++;
	if (lowest_member(repl) != repl->nodeid)
		return 0;
	m = sdb__repl_round_msg_new("sync_start");
	if (m)
		json_object_object_add(m, "epoch",
				       json_object_new_int64((int64_t)++repl->next_epoch));
	return sdb__repl_outbox_push(repl, m);
}

int sdb_repl_confchg(struct sdb_repl *repl, const uint32_t *members, size_t n)
{
	struct sdb__repl_member *list = calloc(n ?: 1, sizeof(*list));
	bool us = false;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		list[i].nodeid = members[i];
		us |= members[i] == repl->nodeid;
	}
	free(repl->members);
	repl->members = list;
	repl->n_members = n;
	if (!us) {
		if (repl->phase == PHASE_RECEIVING)
			repl->in_sync = false;
		buffer_drop(repl);
		sdb__repl_snapshot_reset(repl);
		outbox_clear(repl);
		repl->phase = PHASE_IDLE;
		return 0;
	}
	return round_begin(repl);
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

static void on_start(struct sdb_repl *repl, uint32_t sender, json_object *msg)
{
	json_object *v;

	if (sender != lowest_member(repl) || !json_object_object_get_ex(msg, "epoch", &v))
		return; /* not from this membership's leader: stale */
	if (repl->phase == PHASE_RECEIVING || repl->diverged) {
		/* our buffer holds changes the others applied; the snapshot brings them */
		repl->in_sync = false;
		buffer_drop(repl);
	}
	sdb__repl_snapshot_reset(repl);
	outbox_clear(repl);
	for (size_t i = 0; i < repl->n_members; i++)
		repl->members[i].have = false;
	repl->leader = sender;
	repl->epoch = (uint64_t)json_object_get_int64(v);
	repl->donor = 0;
	repl->phase = PHASE_COLLECTING;
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
	leader = member_find(repl, repl->leader);
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
	buffer_drop(repl);
	return true;
}

static void round_complete(struct sdb_repl *repl)
{
	int protocol = cluster_protocol(repl);
	struct sdb__repl_member *donor = choose_donor(repl, protocol),
				*me = member_find(repl, repl->nodeid);
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

static void on_state(struct sdb_repl *repl, uint32_t sender, json_object *msg)
{
	struct sdb__repl_member *m = member_find(repl, sender);
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

/* ---- entry points ------------------------------------------------------------------------ */

int sdb_repl_deliver(struct sdb_repl *repl, uint32_t sender, const void *buf, size_t len)
{
	_cleanup_json_ json_object *msg = NULL;
	const char *type;
	json_object *v;
	int r;

	r = sdb_msg_parse(buf, len, &msg);
	if (r < 0)
		return r;
	if (repl->phase == PHASE_IDLE)
		return 0;
	type = sdb_msg_type(msg);
	if (strncmp(type, "sync_", 5) != 0) {
		if (repl->phase == PHASE_SYNCED)
			apply_one(repl, sender, msg);
		else if (repl->phase != PHASE_INCOMPATIBLE) /* not joined: not ours to keep */
			r = buffer_push(repl, sender, msg);
		return r;
	}
	if (!json_object_object_get_ex(msg, "v", &v) ||
	    json_object_get_int64(v) != SDB_REPL_ROUND_VERSION || !member_find(repl, sender))
		return 0;
	if (strcmp(type, "sync_start") == 0)
		on_start(repl, sender, msg);
	else if (strcmp(type, "sync_state") == 0)
		on_state(repl, sender, msg);
	else if (strcmp(type, "sync_snapshot") == 0)
		sdb__repl_snapshot_part(repl, sender, msg);
	else if (strcmp(type, "sync_request") == 0)
		return round_begin(repl);
	return 0;
}

int sdb_repl_propose(struct sdb_repl *repl, const void *buf, size_t len)
{
	_cleanup_json_ json_object *msg = NULL;
	int r;

	r = sdb_msg_parse(buf, len, &msg);
	if (r < 0 || strncmp(sdb_msg_type(msg), "sync_", 5) == 0)
		return -EINVAL;
	if (repl->phase == PHASE_INCOMPATIBLE)
		return -EPROTONOSUPPORT;
	if (repl->phase != PHASE_SYNCED)
		return -EAGAIN;
	if (repl->n_out > 0 && sdb_repl_flush(repl) < 0)
		return -EAGAIN;
	return repl->ops.send(repl->ops.userdata, buf, len);
}

int sdb_repl_resync(struct sdb_repl *repl)
{
	if (repl->phase == PHASE_IDLE)
		return -ENOTCONN;
	return send_request(repl, "asked");
}

bool sdb_repl_is_synced(const struct sdb_repl *repl)
{
	return repl->phase == PHASE_SYNCED;
}

int sdb_repl_status(const struct sdb_repl *repl, json_object **ret)
{
	json_object *o = json_object_new_object(), *members = json_object_new_array();

	if (!o || !members) {
		json_object_put(o);
		json_object_put(members);
		return -ENOMEM;
	}
	for (size_t i = 0; i < repl->n_members; i++)
		json_object_array_add(members, json_object_new_int64(repl->members[i].nodeid));
	json_object_object_add(o, "phase", json_object_new_string(phase_names[repl->phase]));
	json_object_object_add(o, "in_sync", json_object_new_boolean(repl->in_sync));
	json_object_object_add(o, "members", members);
	json_object_object_add(o, "leader", json_object_new_int64(lowest_member(repl)));
	json_object_object_add(o, "donor", json_object_new_int64(repl->donor));
	json_object_object_add(o, "rounds", json_object_new_int64((int64_t)repl->rounds));
	json_object_object_add(o, "snapshots_received",
			       json_object_new_int64((int64_t)repl->snapshots_received));
	json_object_object_add(o, "snapshots_sent",
			       json_object_new_int64((int64_t)repl->snapshots_sent));
	json_object_object_add(o, "buffered", json_object_new_int64((int64_t)repl->n_buffer));
	json_object_object_add(o, "pending", json_object_new_int64((int64_t)repl->n_out));
	json_object_object_add(o, "protocol", json_object_new_int(repl->protocol));
	json_object_object_add(o, "cluster_protocol", json_object_new_int(repl->cluster_protocol));
	*ret = o;
	return 0;
}

int sdb_repl_new(struct sdb *db, uint32_t local_nodeid, const struct sdb_repl_ops *ops,
		 struct sdb_repl **ret)
{
	struct sdb_repl *repl;
	struct timespec ts;
	const char *hook;
	char *end;

	if (!db || local_nodeid == 0 || !ops || !ops->send)
		return -EINVAL;
	repl = calloc(1, sizeof(*repl));
	if (!repl)
		return -ENOMEM;
	repl->db = db;
	repl->nodeid = local_nodeid;
	repl->ops = *ops;
	repl->phase = PHASE_IDLE;
	repl->protocol = SDB_MSG_PROTOCOL;
	/*
	 * A test hook, and nothing else: announce another change protocol in
	 * the sync round, as a host of another version would, to test that a
	 * mixed cluster refuses the newcomer clearly (tests/lab/
	 * test_state_protocol.sh). This host's messages stay what they are.
	 */
	hook = getenv("HASVC_TEST_STATE_PROTOCOL");
	if (hook && *hook) {
		long v = strtol(hook, &end, 10);

		if (*end == '\0' && v > 0 && v < 1000)
			repl->protocol = (int)v;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	repl->next_epoch = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	*ret = repl;
	return 0;
}

void sdb_repl_free(struct sdb_repl *repl)
{
	if (!repl)
		return;
	for (size_t i = 0; i < repl->n_buffer; i++)
		json_object_put(repl->buffer[i].msg);
	free(repl->buffer);
	outbox_clear(repl);
	free(repl->out);
	sdb__repl_snapshot_reset(repl);
	free(repl->members);
	free(repl);
}
