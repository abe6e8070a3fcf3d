// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_core_state: the daemon's side of the replicated state, part of the core
 * (declared in hs_core.h).
 *
 * Opens the sqlite store (state/) and its replication engine, and wires them
 * to the cluster connection (hs_core.c holds the cluster's callbacks):
 *
 *   hs_cluster confchg -> sdb_repl_confchg   (same point of the order everywhere)
 *   hs_cluster deliver -> sdb_repl_deliver   (one sqlite transaction per change)
 *   sdb_repl send      -> hs_cluster_send    (CPG, agreed order)
 *
 * hs_state_propose() is the one way this daemon changes cluster state: it
 * refuses without quorum, so a minority partition never writes.
 *
 * The cron (hs_state_cron, from the daemon's periodic timer) re-sends what
 * corosync refused with TRY_AGAIN and what waited in the outbox. What the
 * state engine tells (synced, a change applied) goes up through the core's
 * change hooks, never by a call into a room above.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <qb/qblog.h>

#include "hs_cleanup.h"
#include "hs_core.h"
#include "sdb.h"
#include "sdb_msg.h"
#include "sdb_repl.h"

/*
 * The outbox: changes decided while a state sync round runs (the engine says
 * -EAGAIN) wait here, in order, and go out at the next cron tick once the
 * member is synced again. A fence result must not be lost because the fenced
 * host's departure started a round.
 */
struct outbox_entry {
	struct outbox_entry *next;
	size_t len;
	char buf[];
};

struct hs_outbox {
	struct outbox_entry *head;
	struct outbox_entry **tail;
};

static int outbox_push(struct hs_outbox *o, char *buf, size_t len)
{
	struct outbox_entry *e = malloc(sizeof(*e) + len);

	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->len = len;
	memcpy(e->buf, buf, len);
	*o->tail = e;
	o->tail = &e->next;
	return 0;
}

static void outbox_flush(struct hs_core *d)
{
	struct hs_outbox *o = d->outbox;

	while (o->head) {
		struct outbox_entry *e = o->head;
		int r = sdb_repl_propose(d->repl, e->buf, e->len);

		if (r == -EAGAIN)
			return;
		if (r < 0)
			qb_log(LOG_ERR, "dropping a queued change: %s", strerror(-r));
		o->head = e->next;
		if (!o->head)
			o->tail = &o->head;
		free(e);
	}
}

static void outbox_free(struct hs_outbox *o)
{
	if (!o)
		return;
	while (o->head) {
		struct outbox_entry *e = o->head;
		o->head = e->next;
		free(e);
	}
	free(o);
}

static int repl_send(void *userdata, const void *buf, size_t len)
{
	struct hs_core *d = userdata;

	return hs_cluster_send(d->cluster, buf, len);
}

static void repl_synced(void *userdata)
{
	struct hs_core *d = userdata;

	uint64_t version = 0;
	char digest[65] = "";

	hs_core_changed(d, HS_CORE_SYNCED);

	sdb_version(d->db, &version);
	sdb_digest(d->db, digest);
	qb_log(LOG_NOTICE, "cluster state synced: version %llu, digest %.16s",
	       (unsigned long long)version, digest);
}

/*
 * Every host says each pair transition as it applies it, in the same words
 * and the same order everywhere (the proposer said it when it proposed):
 * "vm1: in-sync -> fencing (primary-lost), from nodeid 1".
 */
static void transition_applied(json_object *msg, uint32_t sender)
{
	json_object *vm, *from, *to, *event;

	if (!json_object_object_get_ex(msg, "state", &to) ||
	    !json_object_object_get_ex(msg, "pair_event", &event) ||
	    !json_object_object_get_ex(msg, "vm", &vm))
		return;
	if (!json_object_object_get_ex(msg, "expect_state", &from))
		from = NULL;
	qb_log(LOG_INFO, "%s: %s -> %s (%s), from nodeid %u", json_object_get_string(vm),
	       from ? json_object_get_string(from) : "?", json_object_get_string(to),
	       json_object_get_string(event), sender);
}

static void repl_applied(void *userdata, uint32_t sender, json_object *msg, int result)
{
	struct hs_core *d = userdata;
	const char *type = sdb_msg_type(msg);

	if (result == 0) {
		qb_log(LOG_DEBUG, "applied %s from nodeid %u", type, sender);
		if (strcmp(type, "pair_update") == 0)
			transition_applied(msg, sender);
		/* A pair or a node moved: whoever acts next should not wait for the cron. */
		hs_core_changed(d, strcmp(type, "pair_progress") != 0 && strcmp(type, "event") != 0
					   ? HS_CORE_APPLIED
					   : HS_CORE_LOGGED);
	} else if (result == -ECANCELED) {
		qb_log(LOG_INFO, "change %s from nodeid %u dropped by a membership change", type,
		       sender);
	} else if (sdb_apply_refused(result)) {
		qb_log(LOG_INFO, "change %s from nodeid %u refused on every node: %s", type, sender,
		       sdb_errmsg(d->db));
	} else {
		qb_log(LOG_ERR, "cannot apply %s from nodeid %u here: %s (%s); asking for a copy",
		       type, sender, strerror(-result), sdb_errmsg(d->db));
	}
}

static void repl_error(void *userdata, int error, const char *message)
{
	qb_log(LOG_ERR, "cluster state: %s", message);
}

int hs_state_open(struct hs_core *d)
{
	const struct sdb_repl_ops ops = {
		.send = repl_send,
		.synced = repl_synced,
		.applied = repl_applied,
		.error = repl_error,
		.userdata = d,
	};
	_cleanup_free_ char *path = NULL, *error = NULL;
	int r;

	d->outbox = calloc(1, sizeof(*d->outbox));
	if (!d->outbox)
		return -ENOMEM;
	d->outbox->tail = &d->outbox->head;
	if (mkdir(d->config->state_dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		qb_log(LOG_ERR, "cannot create state_dir %s: %s", d->config->state_dir, strerror(-r));
		return r;
	}
	if (asprintf(&path, "%s/hasvc.db", d->config->state_dir) < 0)
		return -ENOMEM;
	r = sdb_open(path, &d->db, &error);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot open the cluster state %s: %s", path,
		       error ? error : strerror(-r));
		return r;
	}
	r = sdb_repl_new(d->db, d->self->nodeid, &ops, &d->repl);
	if (r < 0) {
		qb_log(LOG_ERR, "cannot start state replication: %s", strerror(-r));
		return r;
	}
	return 0;
}

void hs_state_close(struct hs_core *d)
{
	outbox_free(d->outbox);
	d->outbox = NULL;
	sdb_repl_free(d->repl);
	d->repl = NULL;
	sdb_close(d->db);
	d->db = NULL;
}

int hs_state_propose(struct hs_core *d, char *buf, size_t len)
{
	int r;

	if (!hs_core_quorate(d)) {
		free(buf);
		return -ENOLINK;
	}
	r = d->outbox->head ? -EAGAIN : sdb_repl_propose(d->repl, buf, len);
	if (r == -EAGAIN)
		r = outbox_push(d->outbox, buf, len);
	free(buf);
	return r;
}

int hs_state_event(struct hs_core *d, const char *vm, const char *kind, const char *fmt, ...)
{
	_cleanup_free_ char *message = NULL;
	char *buf = NULL;
	size_t len;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&message, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = sdb_msg_event(d->self->name, vm, kind, message, NULL, &buf, &len);
	if (r < 0)
		return r;
	return hs_state_propose(d, buf, len);
}

int hs_state_propose_node_row(struct hs_core *d, const struct hs_node_view *n)
{
	const struct hs_config_node *cn = hs_config_node_by_name(d->config, n->name);
	struct sdb_node_info info = {
		.name = n->name, .nodeid = n->nodeid, .address = cn ? cn->address : NULL,
		.fence_ref = n->name,
	};
	char *buf = NULL;
	size_t len;
	int r;

	if (!cn || n->nodeid == 0)
		return -ENOENT;
	r = sdb_msg_node_upsert(&info, &buf, &len);
	return r < 0 ? r : hs_state_propose(d, buf, len);
}

int hs_state_ensure_node(struct hs_core *d, const char *name)
{
	struct hs_node_view n;
	json_object *row = NULL;
	int r = sdb_node_get(d->db, name, &row);

	json_object_put(row);
	if (r != -ENOENT)
		return r < 0 ? r : 0;
	return hs_cluster_node_get(d->cluster, name, &n) ? hs_state_propose_node_row(d, &n) : -ENOENT;
}

void hs_state_cron(struct hs_core *d)
{
	if (sdb_repl_pending(d->repl))
		sdb_repl_flush(d->repl);
	if (hs_core_quorate(d) && sdb_repl_is_synced(d->repl))
		outbox_flush(d);
}

bool hs_state_idle(struct hs_core *d)
{
	return sdb_repl_is_synced(d->repl) && !sdb_repl_pending(d->repl) && !d->outbox->head;
}

bool hs_state_sends_waiting(struct hs_core *d)
{
	return sdb_repl_pending(d->repl) ||
	       (d->outbox->head && hs_core_quorate(d) && sdb_repl_is_synced(d->repl));
}

#define STATE_RETRY_FIRST_MS 10

unsigned hs_state_retry_ms(unsigned attempt, unsigned max_ms)
{
	unsigned ms = STATE_RETRY_FIRST_MS;

	for (unsigned i = 0; i < attempt && ms < max_ms; i++)
		ms *= 2;
	return ms < max_ms ? ms : 0;
}

json_object *hs_state_status_json(struct hs_core *d)
{
	json_object *o = json_object_new_object();
	uint64_t version = 0;
	char digest[65] = "";

	sdb_version(d->db, &version);
	sdb_digest(d->db, digest);
	json_object_object_add(o, "synced", json_object_new_boolean(sdb_repl_is_synced(d->repl)));
	json_object_object_add(o, "version", json_object_new_int64((int64_t)version));
	json_object_object_add(o, "digest", json_object_new_string(digest));
	return o;
}
