// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_repl: the replication engine (API and protocol summary in sdb_repl.h,
 * the full argument in docs/state.md): its phases, the outbox of round
 * messages, the buffer of changes, and the entry points. The sync round is
 * in sdb_repl_round.c, the state transfer in sdb_repl_snapshot.c.
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

struct sdb__repl_member *sdb__repl_member_find(struct sdb_repl *repl, uint32_t nodeid)
{
	for (size_t i = 0; i < repl->n_members; i++)
		if (repl->members[i].nodeid == nodeid)
			return &repl->members[i];
	return NULL;
}

uint32_t sdb__repl_lowest_member(const struct sdb_repl *repl)
{
	uint32_t low = 0;

	for (size_t i = 0; i < repl->n_members; i++)
		if (low == 0 || repl->members[i].nodeid < low)
			low = repl->members[i].nodeid;
	return low;
}

/* ---- outbox ---------------------------------------------------------------------------- */

void sdb__repl_outbox_clear(struct sdb_repl *repl)
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

void sdb__repl_buffer_drop(struct sdb_repl *repl)
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
		sdb__repl_buffer_drop(repl);
		sdb__repl_snapshot_reset(repl);
		sdb__repl_outbox_clear(repl);
		repl->phase = PHASE_IDLE;
		return 0;
	}
	return sdb__repl_round_begin(repl);
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
	    json_object_get_int64(v) != SDB_REPL_ROUND_VERSION || !sdb__repl_member_find(repl, sender))
		return 0;
	if (strcmp(type, "sync_start") == 0)
		sdb__repl_on_start(repl, sender, msg);
	else if (strcmp(type, "sync_state") == 0)
		sdb__repl_on_state(repl, sender, msg);
	else if (strcmp(type, "sync_snapshot") == 0)
		sdb__repl_snapshot_part(repl, sender, msg);
	else if (strcmp(type, "sync_request") == 0)
		return sdb__repl_round_begin(repl);
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
	json_object_object_add(o, "leader", json_object_new_int64(sdb__repl_lowest_member(repl)));
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
	sdb__repl_outbox_clear(repl);
	free(repl->out);
	sdb__repl_snapshot_reset(repl);
	free(repl->members);
	free(repl);
}
