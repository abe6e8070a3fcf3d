// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_pairs: duties by state, the coordinator's plan, and the transitions
 * they propose (see hs_pairs.h for the model).
 *
 * A host remembers, per VM, only what it has under way (struct task): which
 * generation of the pair its duty ran for, whether a mirror/ request is in
 * flight, and when it last proposed a transition. Nothing of this needs to
 * survive a restart: the replicated state says where each pair is, and every
 * duty is safe to run again (mirror/ operations are idempotent or refuse).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "hs_coord_plan.h"
#include "hs_daemon.h"
#include "hs_pair_fsm.h"
#include "hs_pairs.h"
#include "hs_pairs_internal.h"
#include "hs_state.h"
#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_json_cleanup.h"
#include "mirror.h"
#include "sdb.h"
#include "sdb_msg.h"
#include "sdb_repl.h"

#define POLL_USEC (1000 * 1000ULL)          /* mirror jobs, while mirroring */
#define PROGRESS_USEC (2000 * 1000ULL)      /* sync progress, then lag, into the state */
#define PROPOSAL_WAIT_USEC (5000 * 1000ULL) /* before proposing the same step again */
#define RETRY_USEC (5000 * 1000ULL)         /* a failed duty that is retried */
#define LIBVIRT_GRACE_USEC (60 * 1000 * 1000ULL) /* libvirtd away: retry a preparation this long */
#define REPROTECT_DELAY_USEC (3000 * 1000ULL) /* a pair just degraded waits this long */
/* A port handed out stays claimed this long: its proposal is applied in
 * milliseconds, and after that the state itself shows the port taken. */
#define PORT_CLAIM_USEC (30 * 1000 * 1000ULL)

/* --- tasks --------------------------------------------------------------- */

static struct task *task_get(struct hs_pairs *p, const char *vm)
{
	struct task *t;

	for (t = p->tasks; t; t = t->next)
		if (strcmp(t->vm, vm) == 0)
			return t;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->vm = strdup(vm))) {
		free(t);
		return NULL;
	}
	t->next = p->tasks;
	p->tasks = t;
	return t;
}

static void task_free(struct task *t)
{
	free(t->failure);
	free(t->vm);
	free(t);
}

/*
 * A new generation of the pair: what was done for the old one no longer
 * counts. The change time tells a pair deleted and created again (both at
 * generation 1) from the old one.
 */
static void task_sync(struct task *t, const struct pair_view *v)
{
	if (t->generation == v->generation && t->state == v->state &&
	    t->changed_usec == v->changed_usec)
		return;
	t->generation = v->generation;
	t->state = v->state;
	t->changed_usec = v->changed_usec;
	t->proposed_gen = 0; /* what was proposed landed (or lost): the pair moved */
	t->done = false;
	t->mirror_started = false;
	t->cut_sent = false;
	t->next_usec = 0;
}

/* Forgets the VMs whose pair is gone (none of them may have a request in flight). */
static void tasks_sweep(struct hs_pairs *p)
{
	struct task **pp = &p->tasks;

	while (*pp) {
		struct task *t = *pp;
		if (!t->seen && !t->running && !t->urgent_running) {
			*pp = t->next;
			task_free(t);
		} else {
			t->seen = false;
			pp = &t->next;
		}
	}
}

/* --- reading the state --------------------------------------------------- */

static const char *str_or_null(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static uint64_t u64_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? (uint64_t)json_object_get_int64(v) : 0;
}

int hs_pair_view_parse(json_object *row, struct pair_view *v)
{
	json_object *op;

	memset(v, 0, sizeof(*v));
	v->row = row;
	v->vm = str_or_null(row, "vm");
	v->primary = str_or_null(row, "primary");
	v->backup = str_or_null(row, "backup");
	v->mode = str_or_null(row, "mode");
	v->desired = str_or_null(row, "desired_state");
	v->reason = str_or_null(row, "reason");
	v->generation = u64_of(row, "generation");
	v->changed_usec = u64_of(row, "changed_usec");
	v->bandwidth_mib = u64_of(row, "bandwidth_mib");
	v->bytes_done = u64_of(row, "bytes_done");
	v->bytes_total = u64_of(row, "bytes_total");
	v->nbd_port = (unsigned)u64_of(row, "nbd_port");
	if (json_object_object_get_ex(row, "operation", &op) && op)
		v->op = str_or_null(op, "op");
	if (!v->vm || !v->primary || !str_or_null(row, "state") ||
	    hs_pair_state_from_name(str_or_null(row, "state"), &v->state) < 0)
		return -EINVAL;
	return 0;
}

static bool is_self(struct hs_pairs *p, const char *node)
{
	return node && strcmp(node, p->d->self->name) == 0;
}

static bool is_coordinator(struct hs_pairs *p)
{
	struct hs_cluster_view v;

	hs_cluster_view_get(p->d->cluster, &v);
	return v.quorate && v.coordinator == v.local_nodeid;
}

bool hs_pairs_node_online(struct hs_daemon *d, const char *node)
{
	struct hs_node_view n;

	return hs_cluster_node_get(d->cluster, node, &n) && n.online;
}

bool hs_pairs_host_up(struct hs_daemon *d, const char *node)
{
	struct hs_node_view n;

	return hs_cluster_node_get(d->cluster, node, &n) && n.host_up;
}

const char *hs_pairs_node_state(struct hs_daemon *d, const char *node, char *buf, size_t len)
{
	json_object *row = NULL;
	const char *s;

	buf[0] = '\0';
	if (node && sdb_node_get(d->db, node, &row) == 0 && (s = str_or_null(row, "state")))
		snprintf(buf, len, "%s", s);
	json_object_put(row);
	return buf;
}

const char *hs_pairs_replication_address(struct hs_daemon *d, const char *host)
{
	const struct hs_config_node *n = hs_config_node_by_name(d->config, host);

	if (!n)
		return NULL;
	return n->replication_address ? n->replication_address : n->address;
}

static bool port_claimed(const struct hs_pairs *p, const char *host, const char *except_vm,
			 unsigned port, uint64_t now)
{
	for (size_t i = 0; i < ARRAY_SIZE(p->claims); i++) {
		const struct port_claim *c = &p->claims[i];

		if (c->port == port && now < c->usec + PORT_CLAIM_USEC &&
		    strcmp(c->host, host) == 0 && strcmp(c->vm, except_vm ? except_vm : "") != 0)
			return true;
	}
	return false;
}

unsigned hs_pairs_free_port(struct hs_daemon *d, const char *host, const char *except_vm)
{
	struct hs_pairs *p = d->pairs;
	json_object *pairs = NULL;
	unsigned port = d->config->nbd_port_base;
	uint64_t now = hs_now_usec(CLOCK_MONOTONIC);
	bool taken = true;

	if (sdb_pairs_list_by_node(d->db, host, &pairs) < 0)
		return 0;
	while (taken && port < 65535) {
		taken = port_claimed(p, host, except_vm, port, now);
		for (size_t i = 0; !taken && i < json_object_array_length(pairs); i++) {
			json_object *row = json_object_array_get_idx(pairs, i);
			const char *backup = str_or_null(row, "backup");
			if (backup && strcmp(backup, host) == 0 &&
			    strcmp(str_or_null(row, "vm"), except_vm ? except_vm : "") != 0 &&
			    u64_of(row, "nbd_port") == port)
				taken = true;
		}
		if (taken)
			port++;
	}
	json_object_put(pairs);
	{
		struct port_claim *c = &p->claims[p->next_claim];

		p->next_claim = (p->next_claim + 1) % ARRAY_SIZE(p->claims);
		snprintf(c->host, sizeof(c->host), "%s", host);
		snprintf(c->vm, sizeof(c->vm), "%s", except_vm ? except_vm : "");
		c->port = port;
		c->usec = now;
	}
	return port;
}

/* --- proposing ----------------------------------------------------------- */

/* States whose reason the operator must read; entering any other clears it. */
static bool state_keeps_reason(enum hs_pair_state s)
{
	return s == HS_PAIR_DEGRADED || s == HS_PAIR_LOST_UNSYNCED || s == HS_PAIR_ERROR ||
	       s == HS_PAIR_FENCING || s == HS_PAIR_DELETING || s == HS_PAIR_UNPROTECTED;
}

int hs_pairs_transition(struct hs_pairs *p, const struct pair_view *v, enum hs_pair_event ev,
			const struct sdb_pair_change *extra, const char *fmt, ...)
{
	const struct hs_pair_transition *row = hs_pair_fsm_lookup(v->state, ev);
	struct task *t = task_get(p, v->vm);
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	struct sdb_pair_change c = extra ? *extra : (struct sdb_pair_change){0};
	_cleanup_free_ char *detail = NULL, *event = NULL;
	char *buf = NULL;
	size_t len;
	va_list ap;
	int r;

	if (!row) {
		qb_log(LOG_WARNING, "pair %s: %s is not allowed in state %s; ignored", v->vm,
		       hs_pair_event_name(ev), hs_pair_state_name(v->state));
		return -EINVAL;
	}
	if (t && t->proposed_gen == v->generation && now < t->proposed_usec + PROPOSAL_WAIT_USEC)
		return -EALREADY;
	va_start(ap, fmt);
	r = vasprintf(&detail, fmt, ap);
	va_end(ap);
	if (r < 0 || asprintf(&event, "%s -> %s (%s): %s", hs_pair_state_name(v->state),
			      hs_pair_state_name(row->next), hs_pair_event_name(ev), detail) < 0)
		return -ENOMEM;
	c.vm = v->vm;
	c.expect_state = hs_pair_state_name(v->state);
	c.expect_generation = v->generation;
	c.state = hs_pair_state_name(row->next);
	if (!c.reason)
		c.reason = state_keeps_reason(row->next) ? detail : "";
	c.event = event;
	c.event_node = p->d->self->name;
	r = sdb_msg_pair_update(&c, &buf, &len);
	if (r >= 0)
		r = hs_state_propose(p->d, buf, len);
	if (r < 0) {
		qb_log(LOG_ERR, "pair %s: cannot propose %s: %s", v->vm, event, strerror(-r));
		return r;
	}
	qb_log(row->next == HS_PAIR_ERROR || row->next == HS_PAIR_LOST_UNSYNCED ? LOG_WARNING
										 : LOG_NOTICE,
	       "pair %s: %s", v->vm, event);
	if (t) {
		t->proposed_gen = v->generation;
		t->proposed_usec = now;
	}
	return 0;
}

/*
 * Proposes a raw change (no transition): pair_progress, op_end... BUILT is
 * the builder's result; *BUF and *LEN are read only after it ran.
 */
static void propose(struct hs_pairs *p, int built, char **buf, size_t *len, const char *what)
{
	int r = built < 0 ? built : hs_state_propose(p->d, *buf, *len);

	if (r < 0)
		qb_log(LOG_ERR, "cannot propose %s: %s", what, strerror(-r));
}

/* --- mirror/ requests and their completion ------------------------------- */

struct pending {
	struct hs_pairs *p;
	char *vm;
	uint64_t generation;
	enum hs_pair_state state;
	bool urgent; /* counted in task.urgent_running, not task.running */
	void (*then)(struct hs_pairs *p, struct task *t, const struct pair_view *v, int result,
		     const char *message, json_object *data);
};

static void task_request_ended(struct task *t, const struct pending *pe)
{
	if (pe->urgent)
		t->urgent_running = false;
	else
		t->running = false;
}

/* Runs the continuation only when the pair is still where the request found it. */
static void request_done(void *userdata, int result, const char *message, json_object *data)
{
	struct pending *pe = userdata;
	struct hs_pairs *p = pe->p;
	struct task *t = task_get(p, pe->vm);
	json_object *row = NULL;
	struct pair_view v;

	if (t)
		task_request_ended(t, pe);
	if (result < 0)
		qb_log(LOG_WARNING, "pair %s: %s", pe->vm, message);
	else
		qb_log(LOG_DEBUG, "pair %s: %s", pe->vm, message);
	if (t && sdb_pair_get(p->d->db, pe->vm, &row) == 0 && hs_pair_view_parse(row, &v) == 0 &&
	    v.generation == pe->generation && v.state == pe->state)
		pe->then(p, t, &v, result, message, data);
	json_object_put(row);
	free(pe->vm);
	free(pe);
}

typedef int (*mirror_vm_fn)(struct mirror *, const char *, mirror_done_fn, void *);

/* A request of V's task in flight; URGENT ones are counted apart (task.urgent_running). */
static struct pending *pending_alloc(struct hs_pairs *p, struct task *t, const struct pair_view *v,
				     void *then, bool urgent)
{
	struct pending *pe = calloc(1, sizeof(*pe));

	if (!pe || !(pe->vm = strdup(v->vm))) {
		free(pe);
		return NULL;
	}
	pe->p = p;
	pe->generation = v->generation;
	pe->state = v->state;
	pe->urgent = urgent;
	pe->then = then;
	if (urgent)
		t->urgent_running = true;
	else
		t->running = true;
	return pe;
}

static struct pending *pending_new(struct hs_pairs *p, struct task *t, const struct pair_view *v,
				   void *then)
{
	return pending_alloc(p, t, v, then, false);
}

static void pending_failed(struct task *t, struct pending *pe, const char *what, int r)
{
	qb_log(LOG_ERR, "pair %s: cannot %s: %s", pe->vm, what, strerror(-r));
	task_request_ended(t, pe);
	t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
	free(pe->vm);
	free(pe);
}

static void submit_vm(struct hs_pairs *p, struct task *t, const struct pair_view *v,
		      mirror_vm_fn fn, const char *what, void *then)
{
	struct pending *pe = pending_new(p, t, v, then);
	int r;

	if (!pe)
		return;
	r = fn(p->mirror, v->vm, request_done, pe);
	if (r < 0)
		pending_failed(t, pe, what, r);
}

/* --- duties -------------------------------------------------------------- */

/*
 * libvirtd restarting (an upgrade, a crash) is not a failed mirror or backup:
 * QEMU and its block jobs live on without it. Such a request is tried again:
 * a job check always; starting a mirror or preparing a backup (GRACE) for
 * LIBVIRT_GRACE_USEC after the pair entered its state, then it fails.
 */
static bool libvirtd_away(struct task *t, const struct pair_view *v, int result,
			  const char *message, bool grace)
{
	uint64_t now = hs_now_usec(CLOCK_REALTIME);

	if (result != -ECONNREFUSED || (grace && now >= v->changed_usec + LIBVIRT_GRACE_USEC))
		return false;
	qb_log(LOG_WARNING, "pair %s: %s; trying again", t->vm, message);
	t->next_usec = now + RETRY_USEC;
	return true;
}

/* creating, on the backup host */
static void prepared(struct hs_pairs *p, struct task *t, const struct pair_view *v, int result,
		     const char *message, json_object *data)
{
	if (libvirtd_away(t, v, result, message, true))
		return;
	t->done = true;
	if (result >= 0) {
		/* the port the backup listens on is the one it bound, not the one asked */
		struct sdb_pair_change port = {
		    .nbd_port = (unsigned)json_object_get_int(json_object_object_get(data, "port")),
		};
		hs_pairs_transition(p, v, HS_EV_BACKUP_PREPARED, &port, "%s", message);
	} else if (v->generation == 1) /* a new pair: creating it failed, it goes */
		hs_pairs_transition(p, v, HS_EV_PREPARE_FAILED, NULL,
				    "the backup could not be prepared on %s: %s", p->d->self->name,
				    message);
	else
		hs_pairs_transition(p, v, HS_EV_REPROTECT_FAILED, NULL,
				    "a new backup could not be prepared on %s: %s",
				    p->d->self->name, message);
}

static void duty_prepare(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	_cleanup_free_ char *xml = NULL;
	_cleanup_json_ json_object *sizes = NULL;
	uint64_t bytes[64];
	size_t n = 0;
	struct pending *pe;
	unsigned port;
	int r;

	if (t->done)
		return;
	r = sdb_pair_spec_get(p->d->db, v->vm, &xml, &sizes);
	if (r < 0 || !xml || !sizes) {
		prepared(p, t, v, -EINVAL, "the pair carries no domain definition or disk sizes",
			 NULL);
		return;
	}
	/*
	 * The port the proposer recorded is only its guess: two hosts creating
	 * pairs onto this one at the same moment can guess alike. This host
	 * binds the ports, so it chooses (its claims keep its own prepares
	 * apart) and records the one bound with backup-prepared.
	 */
	port = hs_pairs_free_port(p->d, p->d->self->name, v->vm);
	if (port == 0) {
		prepared(p, t, v, -EADDRINUSE, "no free NBD port", NULL);
		return;
	}
	for (n = 0; n < json_object_array_length(sizes) && n < ARRAY_SIZE(bytes); n++)
		bytes[n] = (uint64_t)json_object_get_int64(json_object_array_get_idx(sizes, n));
	pe = pending_new(p, t, v, prepared);
	if (!pe)
		return;
	r = mirror_backup_prepare(p->mirror, xml, bytes, n,
				  hs_pairs_replication_address(p->d, p->d->self->name), port,
				  v->generation == 1, (uint64_t)p->d->config->memory_reserve_mib << 20,
				  request_done, pe);
	if (r < 0)
		pending_failed(t, pe, "prepare the backup", r);
}

/* initial-sync and in-sync, on the primary host */
static void mirror_failed(struct hs_pairs *p, const struct pair_view *v, const char *why)
{
	hs_pairs_transition(p, v, HS_EV_MIRROR_FAILED, NULL, "%s; %s runs on %s unprotected", why,
			    v->vm, v->primary);
}

static void jobs_seen(struct hs_pairs *p, struct task *t, const struct pair_view *v, int result,
		      const char *message, json_object *data)
{
	json_object *disks = data ? json_object_object_get(data, "disks") : NULL;
	size_t n = disks ? json_object_array_length(disks) : 0, ready = 0;
	struct sdb_disk_spec spec[64];
	uint64_t done = 0, total = 0, now = hs_now_usec(CLOCK_REALTIME);
	char *buf = NULL;
	size_t len;

	if (libvirtd_away(t, v, result, message, false))
		return;
	if (result < 0) {
		mirror_failed(p, v, message);
		return;
	}
	if (!json_object_get_boolean(json_object_object_get(data, "active"))) {
		mirror_failed(p, v, "the VM is not running");
		return;
	}
	for (size_t i = 0; i < n && i < ARRAY_SIZE(spec); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		if (!json_object_get_boolean(json_object_object_get(d, "job"))) {
			char why[128];
			snprintf(why, sizeof(why), "the block copy of disk %s stopped",
				 str_or_null(d, "target"));
			mirror_failed(p, v, why);
			return;
		}
		spec[i] = (struct sdb_disk_spec){
			.target = str_or_null(d, "target"),
			.bytes_done = u64_of(d, "cur"),
			.bytes_total = u64_of(d, "end"),
			.ready = json_object_get_boolean(json_object_object_get(d, "ready")),
		};
		ready += spec[i].ready;
		done += spec[i].bytes_done;
		total += spec[i].bytes_total;
	}
	if (v->state == HS_PAIR_INITIAL_SYNC && n > 0 && ready == n) {
		propose(p, sdb_msg_pair_progress(v->vm, done, total, spec, n, &buf, &len), &buf, &len,
			"sync progress");
		hs_pairs_transition(p, v, HS_EV_MIRROR_READY, NULL,
				    "all %zu disk(s) copied to %s; every write now reaches both",
				    n, v->backup);
		return;
	}
	/*
	 * In sync, what the state shows is the lag (end - cur: written on the
	 * primary, not yet on the backup; async mode only, or a sync mirror
	 * catching up). It is replicated when it changes, no more often than
	 * the progress: a pair that keeps up costs no messages however much
	 * its guest writes.
	 */
	if (v->state == HS_PAIR_IN_SYNC && now >= t->progress_usec + PROGRESS_USEC &&
	    total - done != v->bytes_total - v->bytes_done) {
		t->progress_usec = now;
		buf = NULL;
		propose(p, sdb_msg_pair_progress(v->vm, done, total, spec, n, &buf, &len), &buf, &len,
			"mirror lag");
		return;
	}
	if (v->state == HS_PAIR_INITIAL_SYNC && now >= t->progress_usec + PROGRESS_USEC &&
	    done != t->progress_done) {
		t->progress_usec = now;
		t->progress_done = done;
		buf = NULL;
		propose(p, sdb_msg_pair_progress(v->vm, done, total, spec, n, &buf, &len), &buf, &len,
			"sync progress");
	}
}

static void mirror_started(struct hs_pairs *p, struct task *t, const struct pair_view *v,
			   int result, const char *message, json_object *data)
{
	if (libvirtd_away(t, v, result, message, true))
		return;
	if (result < 0) {
		t->done = true;
		mirror_failed(p, v, message);
		return;
	}
	t->mirror_started = true;
	t->next_usec = hs_now_usec(CLOCK_REALTIME) + POLL_USEC;
}

static void duty_mirror(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	struct pending *pe;
	int r;

	if (t->done)
		return;
	if (v->state == HS_PAIR_INITIAL_SYNC && !t->mirror_started) {
		const char *addr = hs_pairs_replication_address(p->d, v->backup);

		if (!addr || !v->nbd_port) {
			t->done = true;
			mirror_failed(p, v, "the backup host has no address or port");
			return;
		}
		pe = pending_new(p, t, v, mirror_started);
		if (!pe)
			return;
		r = mirror_start(p->mirror, v->vm, addr, v->nbd_port,
				 !v->mode || strcmp(v->mode, "sync") == 0, v->bandwidth_mib,
				 request_done, pe);
		if (r < 0)
			pending_failed(t, pe, "start the mirror", r);
		return;
	}
	t->next_usec = hs_now_usec(CLOCK_REALTIME) + POLL_USEC;
	submit_vm(p, t, v, mirror_jobs, "read the mirror jobs", jobs_seen);
}

/* degraded, on the primary host: the mirror goes at once, guest I/O must not wait on it */
static void restarted_after_switchover(struct hs_pairs *p, struct task *t,
				       const struct pair_view *v, int result, const char *message,
				       json_object *data)
{
	char *buf = NULL;
	size_t len;

	if (result < 0) {
		t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
		hs_state_event(p->d, v->vm, "pair", "switchover rolled back, but %s", message);
		return;
	}
	t->done = true;
	hs_state_event(p->d, v->vm, "pair", "switchover rolled back: %s runs on %s (%s)", v->vm,
		       v->primary, message);
	propose(p, sdb_msg_op_end(v->vm, NULL, &buf, &len), &buf, &len, "end of switchover");
}

static void cut(struct hs_pairs *p, struct task *t, const struct pair_view *v, int result,
		const char *message, json_object *data)
{
	if (v->op && strcmp(v->op, "switchover") == 0) {
		submit_vm(p, t, v, mirror_restart, "restart the VM", restarted_after_switchover);
		return;
	}
	t->done = result >= 0;
	if (result < 0)
		t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
}

/*
 * Cuts the mirror of V, closing the connections to its backup's exports first.
 * Urgent: it does not wait for a request in flight, which may itself be stuck
 * behind a guest write waiting on the silent backup (mirror_cut).
 */
static void submit_cut(struct hs_pairs *p, struct task *t, const struct pair_view *v, void *then)
{
	struct pending *pe = pending_alloc(p, t, v, then, true);
	int r;

	if (!pe)
		return;
	r = mirror_cut(p->mirror, v->vm,
		       v->backup ? hs_pairs_replication_address(p->d, v->backup) : NULL, v->nbd_port,
		       request_done, pe);
	if (r < 0)
		pending_failed(t, pe, "stop the mirror", r);
}

static void duty_cut(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	if (!t->done)
		submit_cut(p, t, v, cut);
}

static void cut_during_switchover(struct hs_pairs *p, struct task *t, const struct pair_view *v,
				  int result, const char *message, json_object *data)
{
	/* the stop in flight sees its jobs fail, resumes the guest and reports */
}

/*
 * switching-over, on the primary host, beside the stop: if the backup host
 * leaves the ring, the stop's drain would wait on a write stuck on it (the
 * guest paused meanwhile). Closing the connections fails that write and the
 * jobs at once: the stop gives up, the guest runs on, the switchover rolls back.
 */
static void duty_switchover_watch(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	if (t->cut_sent || !v->backup || hs_pairs_host_up(p->d, v->backup))
		return;
	t->cut_sent = true;
	submit_cut(p, t, v, cut_during_switchover);
}

/* fencing, on the coordinator: promotion waits for a verified fence, nothing else */
static void duty_await_fence(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	char state[16];

	if (strcmp(hs_pairs_node_state(p->d, v->primary, state, sizeof(state)), "fenced") != 0)
		return;
	hs_pairs_transition(p, v, HS_EV_FENCED, NULL,
			    "%s is fenced (powered off, verified); promoting the backup on %s",
			    v->primary, v->backup);
}

/* promoting, on the backup host */
static void promoted(struct hs_pairs *p, struct task *t, const struct pair_view *v, int result,
		     const char *message, json_object *data)
{
	bool switchover = v->op && strcmp(v->op, "switchover") == 0;
	struct sdb_pair_change c = {.primary = p->d->self->name, .backup = v->primary};
	char *buf = NULL;
	size_t len;

	t->done = true;
	if (result < 0) {
		hs_pairs_transition(p, v, switchover ? HS_EV_SWITCHOVER_FAILED : HS_EV_PROMOTE_FAILED,
				    NULL, "the backup on %s did not start: %s", p->d->self->name,
				    message);
		return;
	}
	/* The old primary host stays recorded as the backup: re-protection may go back there. */
	if (hs_pairs_transition(p, v, HS_EV_PROMOTED, &c, "%s runs on %s now (%s)", v->vm,
				p->d->self->name, message) == 0 && switchover)
		propose(p, sdb_msg_op_end(v->vm, NULL, &buf, &len), &buf, &len, "end of switchover");
}

static void duty_promote(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	if (!t->done)
		submit_vm(p, t, v, mirror_promote, "promote the backup", promoted);
}

/* switching-over, on the primary host */
static void restarted_primary(struct hs_pairs *p, struct task *t, const struct pair_view *v,
			      int result, const char *message, json_object *data)
{
	hs_pairs_transition(p, v, HS_EV_SWITCHOVER_FAILED, NULL,
			    "switchover failed (%s); %s %s on %s", t->failure ? t->failure : "?",
			    v->vm, result >= 0 ? "runs again" : "could not be restarted",
			    v->primary);
	free(t->failure);
	t->failure = NULL;
}

static void stopped(struct hs_pairs *p, struct task *t, const struct pair_view *v, int result,
		    const char *message, json_object *data)
{
	t->done = true;
	if (result >= 0) {
		hs_pairs_transition(p, v, HS_EV_PRIMARY_STOPPED, NULL,
				    "%s on %s: %s; promoting the backup on %s", v->vm, v->primary,
				    message, v->backup);
		return;
	}
	free(t->failure);
	t->failure = strdup(message);
	submit_vm(p, t, v, mirror_restart, "restart the VM", restarted_primary);
}

static void duty_stop_primary(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	struct pending *pe;
	int r;

	if (t->done)
		return;
	pe = pending_new(p, t, v, stopped);
	if (!pe)
		return;
	r = mirror_stop_primary(p->mirror, v->vm, !v->mode || strcmp(v->mode, "sync") == 0,
				p->d->config->shutdown_timeout_s, request_done, pe);
	if (r < 0)
		pending_failed(t, pe, "stop the primary", r);
}

/* deleting: the primary stops mirroring, then the backup host removes the backup */
static void delete_cut(struct hs_pairs *p, struct task *t, const struct pair_view *v, int result,
		       const char *message, json_object *data)
{
	struct sdb_pair_change c = {.vm = v->vm, .expect_state = "deleting",
				    .expect_generation = v->generation, .desired_state = "deleted"};
	char *buf = NULL;
	size_t len;

	t->done = true;
	propose(p, sdb_msg_pair_update(&c, &buf, &len), &buf, &len, "mirror stopped");
}

static void duty_delete_primary(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	if (!t->done && (!v->desired || strcmp(v->desired, "deleted") != 0))
		submit_cut(p, t, v, delete_cut);
}

static void pair_remove(struct hs_pairs *p, const struct pair_view *v, const char *how)
{
	char *buf = NULL;
	size_t len;

	if (sdb_msg_pair_delete(v->vm, "deleting", &buf, &len) < 0 ||
	    hs_state_propose(p->d, buf, len) < 0)
		return;
	hs_state_event(p->d, v->vm, "pair", "pair %s removed: %s", v->vm, how);
}

static void torn_down(struct hs_pairs *p, struct task *t, const struct pair_view *v, int result,
		      const char *message, json_object *data)
{
	if (result < 0) {
		t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
		hs_state_event(p->d, v->vm, "pair", "cannot remove the backup on %s: %s",
			       p->d->self->name, message);
		return;
	}
	t->done = true;
	pair_remove(p, v, message);
}

/* The primary host is done with the mirror (or gone): the backup may go. */
static bool mirror_released(struct hs_pairs *p, const struct pair_view *v)
{
	return (v->desired && strcmp(v->desired, "deleted") == 0) ||
	       !hs_pairs_node_online(p->d, v->primary);
}

static void duty_delete_backup(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	if (!t->done && mirror_released(p, v))
		submit_vm(p, t, v, mirror_teardown, "remove the backup", torn_down);
}

/* deleting, on the coordinator: a pair whose backup host is gone is removed without it */
static void duty_delete_orphan(struct hs_pairs *p, struct task *t, const struct pair_view *v)
{
	if (t->done || !mirror_released(p, v) || (v->backup && hs_pairs_node_online(p->d, v->backup)))
		return;
	t->done = true;
	pair_remove(p, v, v->backup ? "its backup host is not in the cluster; remove the backup "
				      "domain there by hand if it ever returns"
				    : "it had no backup");
}

struct duty {
	enum hs_pair_state state;
	enum hs_pair_actor actor;
	void (*run)(struct hs_pairs *p, struct task *t, const struct pair_view *v);
	bool urgent; /* runs even while another request of the VM is in flight */
};

/* What each state asks of whom, while the pair is in it. */
static const struct duty duties[] = {
	{HS_PAIR_CREATING, HS_ACTOR_BACKUP, duty_prepare, false},
	{HS_PAIR_INITIAL_SYNC, HS_ACTOR_PRIMARY, duty_mirror, false},
	{HS_PAIR_IN_SYNC, HS_ACTOR_PRIMARY, duty_mirror, false},
	{HS_PAIR_DEGRADED, HS_ACTOR_PRIMARY, duty_cut, true},
	{HS_PAIR_FENCING, HS_ACTOR_COORDINATOR, duty_await_fence, false},
	{HS_PAIR_PROMOTING, HS_ACTOR_BACKUP, duty_promote, false},
	{HS_PAIR_SWITCHING_OVER, HS_ACTOR_PRIMARY, duty_stop_primary, false},
	{HS_PAIR_SWITCHING_OVER, HS_ACTOR_PRIMARY, duty_switchover_watch, true},
	{HS_PAIR_DELETING, HS_ACTOR_PRIMARY, duty_delete_primary, false},
	{HS_PAIR_DELETING, HS_ACTOR_BACKUP, duty_delete_backup, false},
	{HS_PAIR_DELETING, HS_ACTOR_COORDINATOR, duty_delete_orphan, false},
};

static bool acts_as(struct hs_pairs *p, enum hs_pair_actor actor, const struct pair_view *v)
{
	switch (actor) {
	case HS_ACTOR_PRIMARY: return is_self(p, v->primary);
	case HS_ACTOR_BACKUP: return is_self(p, v->backup);
	case HS_ACTOR_COORDINATOR: return is_coordinator(p);
	default: return false;
	}
}

static void run_duties(struct hs_pairs *p, const struct pair_view *v)
{
	struct task *t = task_get(p, v->vm);
	uint64_t now = hs_now_usec(CLOCK_REALTIME);

	if (!t)
		return;
	t->seen = true;
	task_sync(t, v);
	/* every row of the state that falls to this host (an urgent one beside a slow one) */
	for (size_t i = 0; i < ARRAY_SIZE(duties); i++)
		if (duties[i].state == v->state && acts_as(p, duties[i].actor, v)) {
			bool busy = duties[i].urgent ? t->urgent_running : t->running;

			if (!busy && now >= t->next_usec)
				duties[i].run(p, t, v);
		}
}

/* --- the coordinator's plan ---------------------------------------------- */

static bool plan_online(void *userdata, const char *node)
{
	return hs_pairs_node_online(userdata, node);
}

static bool plan_host_up(void *userdata, const char *node)
{
	return hs_pairs_host_up(userdata, node);
}

static bool plan_fenced(void *userdata, const char *node)
{
	char state[16];

	return strcmp(hs_pairs_node_state(userdata, node, state, sizeof(state)), "fenced") == 0;
}

static bool plan_accepts_backups(void *userdata, const char *node)
{
	char state[16];

	return hs_pairs_node_online(userdata, node) &&
	       strcmp(hs_pairs_node_state(userdata, node, state, sizeof(state)), "maintenance") != 0;
}

static void step_restarted(struct hs_pairs *p, struct task *t, const struct pair_view *v,
			   int result, const char *message, json_object *data)
{
	if (result < 0) {
		t->next_usec = hs_now_usec(CLOCK_REALTIME) + RETRY_USEC;
		return;
	}
	hs_pairs_transition(p, v, t->step_event, NULL, "%s runs on %s again (%s)", v->vm,
			    v->primary, message);
}

static void plan_step(struct hs_pairs *p, const struct pair_view *v, const struct hs_plan_step *s)
{
	const struct hs_pair_transition *row = hs_pair_fsm_lookup(v->state, s->event);
	struct sdb_pair_change c = {0};
	uint64_t now = hs_now_usec(CLOCK_REALTIME);
	struct task *t;

	if (!row)
		return;
	/* Restarting the VM is the primary host's: it acts, then proposes. */
	if (row->action == HS_ACT_RESTART_PRIMARY) {
		t = task_get(p, v->vm);
		if (t && is_self(p, v->primary) && !t->running && now >= t->next_usec) {
			t->step_event = s->event;
			submit_vm(p, t, v, mirror_restart, "restart the VM", step_restarted);
		}
		return;
	}
	if (!is_coordinator(p))
		return;
	switch (s->event) {
	case HS_EV_PRIMARY_LOST:
		if (row->next == HS_PAIR_FENCING)
			hs_pairs_transition(p, v, s->event, NULL,
					    "%s (primary host) left the cluster; fencing it before "
					    "the backup on %s is promoted",
					    v->primary, v->backup);
		else
			hs_pairs_transition(
			    p, v, s->event, NULL,
			    "%s (primary host) left the cluster while the pair was %s: the backup "
			    "on %s is NOT promoted, it never finished its initial sync (%llu of "
			    "%llu bytes copied); %s is down until %s returns",
			    v->primary, hs_pair_state_name(v->state), v->backup ? v->backup : "-",
			    (unsigned long long)v->bytes_done, (unsigned long long)v->bytes_total,
			    v->vm, v->primary);
		break;
	case HS_EV_BACKUP_LOST:
		if (row->next == HS_PAIR_ERROR)
			hs_pairs_transition(p, v, s->event, NULL,
					    "%s (backup host) left the cluster while promoting its "
					    "backup, after %s was fenced: %s runs nowhere; its disks "
					    "are on %s (data up to the fence) and %s",
					    v->backup, v->primary, v->vm, v->primary, v->backup);
		else
			hs_pairs_transition(p, v, s->event, NULL,
					    "%s (backup host) left the cluster; %s keeps running on %s, "
					    "unprotected",
					    v->backup, v->vm, v->primary);
		break;
	case HS_EV_SWITCHOVER_FAILED:
		break; /* a RESTART_PRIMARY row: the primary host acts (above) */
	case HS_EV_HOST_RETURNED:
		if (v->state == HS_PAIR_FENCING) {
			hs_pairs_transition(p, v, s->event, NULL,
					    "%s came back before it was fenced; nothing was promoted",
					    v->primary);
			break;
		}
		if (now < v->changed_usec + REPROTECT_DELAY_USEC)
			break;
		/* A fresh backup, a port chosen afresh: the recorded one may be the
		 * very port whose clash failed the last attempt. */
		if (row->next == HS_PAIR_CREATING && v->backup)
			c.nbd_port = hs_pairs_free_port(p->d, v->backup, v->vm);
		hs_pairs_transition(p, v, s->event, &c, "%s is back; a fresh backup goes there",
				    v->backup);
		break;
	case HS_EV_REPROTECT:
		if (now < v->changed_usec + REPROTECT_DELAY_USEC || !s->new_backup)
			break;
		c.backup = s->new_backup;
		c.nbd_port = hs_pairs_free_port(p->d, s->new_backup, v->vm);
		hs_pairs_transition(p, v, s->event, &c, "re-protecting %s with a new backup on %s",
				    v->vm, s->new_backup);
		break;
	default:
		break;
	}
}

static void run_plan(struct hs_pairs *p, struct pair_view *views, size_t n)
{
	const struct hs_config *cfg = p->d->config;
	const char *names[HS_CLUSTER_MAX_NODES];
	struct hs_pair_brief briefs[n ? n : 1];
	struct hs_plan_step steps[n ? 2 * n : 1];
	struct hs_plan_nodes nodes = {
		.online = plan_online,
		.host_up = plan_host_up,
		.accepts_backups = plan_accepts_backups,
		.fenced = plan_fenced,
		.names = names,
		.n_names = 0,
		.old_host_only = strcmp(cfg->reprotect, "old-host") == 0,
		.userdata = p->d,
	};
	size_t n_steps;

	for (size_t i = 0; i < cfg->n_nodes && i < HS_CLUSTER_MAX_NODES; i++)
		names[nodes.n_names++] = cfg->nodes[i].name;
	for (size_t i = 0; i < n; i++)
		briefs[i] = (struct hs_pair_brief){views[i].vm, views[i].primary, views[i].backup,
						   views[i].state,
						   views[i].op && strcmp(views[i].op, "switchover") == 0};
	n_steps = hs_coord_plan(briefs, n, &nodes, steps, ARRAY_SIZE(steps));
	for (size_t i = 0; i < n_steps && i < ARRAY_SIZE(steps); i++)
		plan_step(p, &views[steps[i].pair], &steps[i]);
}

/* --- the loop ------------------------------------------------------------ */

void hs_pairs_cron(struct hs_pairs *p)
{
	struct hs_daemon *d = p->d;
	struct hs_cluster_view cv;
	_cleanup_json_ json_object *pairs = NULL;
	size_t n;

	/* Only a synced member of a quorate partition acts on the state. */
	hs_cluster_view_get(d->cluster, &cv);
	if (!cv.quorate || !sdb_repl_is_synced(d->repl) || sdb_repl_pending(d->repl))
		return;
	if (sdb_pairs_list(d->db, &pairs) < 0)
		return;
	n = json_object_array_length(pairs);
	{
		struct pair_view views[n ? n : 1];
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			if (hs_pair_view_parse(json_object_array_get_idx(pairs, i), &views[m]) == 0)
				m++;
		for (size_t i = 0; i < m; i++)
			run_duties(p, &views[i]);
		run_plan(p, views, m);
		hs_pairs_maintenance_cron(p, views, m);
	}
	tasks_sweep(p);
}

/*
 * A block job of a VM on this host became ready or failed: look at that
 * VM's jobs now rather than at the next poll (READY a second sooner ends
 * the initial sync a second sooner; a failure degrades the pair at once).
 */
static void job_event_seen(void *userdata, int result, const char *message, json_object *data)
{
	struct hs_pairs *p = userdata;
	json_object *vm = data ? json_object_object_get(data, "vm") : NULL;

	qb_log(result < 0 ? LOG_WARNING : LOG_DEBUG, "%s", message);
	for (struct task *t = p->tasks; t && vm; t = t->next)
		if (strcmp(t->vm, json_object_get_string(vm)) == 0)
			t->next_usec = 0;
	hs_daemon_kick(p->d);
}

int hs_pairs_new(struct hs_daemon *d, struct hs_pairs **ret)
{
	struct hs_pairs *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->d = d;
	r = mirror_new(d->loop, d->config->libvirt_uri, &p->mirror);
	if (r < 0) {
		free(p);
		return r;
	}
	mirror_on_job_event(p->mirror, job_event_seen, p);
	*ret = p;
	return 0;
}

void hs_pairs_free(struct hs_pairs *p)
{
	if (!p)
		return;
	mirror_free(p->mirror);
	while (p->tasks) {
		struct task *t = p->tasks;
		p->tasks = t->next;
		task_free(t);
	}
	free(p);
}
