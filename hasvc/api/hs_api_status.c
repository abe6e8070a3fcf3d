// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_api_status: the read side of the API about the cluster itself:
 * GET /v1/status, GET /v1/nodes and the cluster part of GET /metrics, all
 * built from the membership view hs_cluster keeps (no I/O, no locks).
 */
#include <stdio.h>
#include <string.h>

#include "hs_api_internal.h"
#include "hs_cleanup.h"
#include "hs_core.h"
#include "hs_json.h"
#include "hs_json_cleanup.h"
#include "hs_op_durations.h"
#include "hs_pair_fsm.h"
#include "sdb.h"

static const char *nodeid_name(const struct hs_core *d, uint32_t nodeid)
{
	const struct hs_config_node *n = hs_config_node_by_id(d->config, nodeid);

	return n ? n->name : NULL;
}

/*
 * A node's state: the membership says online/offline, but a decision
 * recorded in the replicated state (fencing, fenced) wins while it stands.
 */
static enum hs_node_state node_state(struct hs_core *d, const struct hs_node_view *n)
{
	enum hs_node_state recorded = hs_core_node_state(d, n->name);

	if (hs_node_state_decided(recorded))
		return recorded;
	return n->online ? HS_NODE_ONLINE : HS_NODE_OFFLINE;
}

static json_object *node_json(struct hs_core *d, const struct hs_node_view *n)
{
	json_object *o = json_object_new_object();
	enum hs_node_state state = node_state(d, n);
	bool decided = hs_node_state_decided(state);
	bool maintenance = hs_core_node_in_maintenance(d, n->name);

	json_object_object_add(o, "name", json_object_new_string(n->name));
	json_object_object_add(o, "nodeid", json_object_new_int64(n->nodeid));
	json_object_object_add(o, "online", json_object_new_boolean(n->online));
	/* offline but host_up: only hasvcd is missing there; its VMs still run */
	json_object_object_add(o, "host_up", json_object_new_boolean(n->host_up));
	/* "state" says maintenance for a running host in it (the word operators and
	 * dashboards read since schema 1); admin_state tells it apart always */
	json_object_object_add(o, "state",
			       json_object_new_string(maintenance && state == HS_NODE_ONLINE
							  ? "maintenance"
							  : hs_node_state_name(state)));
	json_object_object_add(o, "admin_state",
			       json_object_new_string(maintenance ? "maintenance" : "enabled"));
	json_object_object_add(o, "changed_usec", json_object_new_int64((int64_t)n->changed_usec));
	/* Say why a node is fencing/fenced: the last fence log entry for it. */
	if (decided) {
		json_object *log = NULL, *last, *v;
		if (sdb_fence_log_list(d->db, n->name, 1, &log) == 0 && json_object_array_length(log) > 0) {
			last = json_object_array_get_idx(log, 0);
			if (json_object_object_get_ex(last, "result", &v))
				json_object_object_add(o, "fence_result", json_object_get(v));
			if (json_object_object_get_ex(last, "message", &v))
				json_object_object_add(o, "fence_message", json_object_get(v));
		}
		json_object_put(log);
	}
	return o;
}

json_object *hs__api_nodes_json(struct hs_core *d)
{
	struct hs_cluster_view v;
	json_object *o = json_object_new_object(), *nodes = json_object_new_array();

	hs_cluster_view_get(d->cluster, &v);
	for (size_t i = 0; i < v.n_nodes; i++)
		json_object_array_add(nodes, node_json(d, &v.nodes[i]));
	json_object_object_add(o, "nodes", nodes);
	return o;
}

json_object *hs__api_status_json(struct hs_core *d)
{
	struct hs_cluster_view v;
	json_object *o = hs__api_nodes_json(d), *cl = json_object_new_object();
	const char *coordinator;
	size_t online = 0;

	hs_cluster_view_get(d->cluster, &v);
	for (size_t i = 0; i < v.n_nodes; i++)
		online += v.nodes[i].online;
	coordinator = v.coordinator ? nodeid_name(d, v.coordinator) : NULL;
	json_object_object_add(cl, "joined", json_object_new_boolean(v.joined));
	json_object_object_add(cl, "quorate", json_object_new_boolean(v.quorate));
	json_object_object_add(cl, "coordinator",
			       coordinator ? json_object_new_string(coordinator) : NULL);
	json_object_object_add(cl, "local_nodeid", json_object_new_int64(v.local_nodeid));
	json_object_object_add(cl, "ring_id", json_object_new_int64((int64_t)v.ring_id));
	json_object_object_add(cl, "expected_votes", json_object_new_int64(v.expected_votes));
	json_object_object_add(cl, "total_votes", json_object_new_int64(v.total_votes));
	json_object_object_add(cl, "membership_changes",
			       json_object_new_int64((int64_t)v.membership_changes));
	json_object_object_add(cl, "nodes_online", json_object_new_int64((int64_t)online));
	json_object_object_add(o, "node", json_object_new_string(d->self->name));
	json_object_object_add(o, "version", json_object_new_string(HASVC_VERSION));
	json_object_object_add(o, "started_usec", json_object_new_int64((int64_t)d->started_usec));
	json_object_object_add(o, "cluster", cl);
	json_object_object_add(o, "state", hs_state_status_json(d));
	return o;
}

/* Transitions counted from the kept event log (see docs/api.md). */
/*
 * Counted from the transitions the event log records (state, next state,
 * event: the enum names of hs_pair_fsm.h, NULL for any), never from the
 * events' prose. Events logged before schema 5 record no transition.
 */
static const struct {
	const char *name, *help;
	enum hs_pair_state from, to; /* HS_PAIR_STATE_MAX: any */
	enum hs_pair_event event;
} transition_metrics[] = {
	{"hasvc_failovers", "Backups promoted after their primary's host was fenced.",
	 HS_PAIR_FENCING, HS_PAIR_PROMOTING, HS_EV_FENCED},
	{"hasvc_switchovers", "Planned switchovers that stopped the primary.", HS_PAIR_STATE_MAX,
	 HS_PAIR_STATE_MAX, HS_EV_PRIMARY_STOPPED},
	{"hasvc_promotion_refusals", "Primaries lost before their backup was in sync: not promoted.",
	 HS_PAIR_STATE_MAX, HS_PAIR_LOST_UNSYNCED, HS_EV_PRIMARY_LOST},
	{"hasvc_mirror_failures", "Mirrors cut: backup lost or block job failed.", HS_PAIR_STATE_MAX,
	 HS_PAIR_DEGRADED, HS_EV_MIRROR_FAILED},
};

static const char *state_or_any(enum hs_pair_state s)
{
	return s == HS_PAIR_STATE_MAX ? NULL : hs_pair_state_name(s);
}

/* One gauge NAME per pair, from the pair's numeric field KEY. */
static void pair_gauge(FILE *f, const struct hs_pair_list *l, const char *name, const char *key,
		       const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, "%s{vm=\"%s\"} %lld\n", name, l->pairs[i].vm,
			(long long)hs_json_u64(l->pairs[i].row, key));
}

/*
 * The last online verify of each pair that had one (its "verify", replicated
 * by the primary that ran it): KEY of it as NAME; DIV divides (usec to s).
 */
static void verify_gauge(FILE *f, const struct hs_pair_list *l, const char *name, const char *key,
			 uint64_t div, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (size_t i = 0; i < l->n; i++) {
		json_object *v = hs_json_get(l->pairs[i].row, "verify");

		if (v && json_object_is_type(v, json_type_object))
			fprintf(f, "%s{vm=\"%s\"} %llu\n", name, l->pairs[i].vm,
				(unsigned long long)(hs_json_u64(v, key) / div));
	}
}

/* Pair transitions into D: in one walk, as an operation may span any two events. */
static void pair_durations(struct hs_core *d, struct hs_op_durations *durations)
{
	_cleanup_json_ json_object *events = NULL;

	if (sdb_events_list_kind(d->db, "pair", 0, SDB_EVENTS_KEEP, &events) == 0)
		hs_op_durations_add_pair_events(durations, events);
}

static void pair_metrics(FILE *f, struct hs_core *d)
{
	struct hs_pair_list l;
	size_t count[HS_PAIR_STATE_MAX] = {0};

	if (!d->db || hs_core_pairs_list(d, NULL, &l) < 0)
		return;
	fprintf(f, "# HELP hasvc_pair_info One series per pair: its roles, mode and state.\n"
		   "# TYPE hasvc_pair_info gauge\n");
	for (size_t i = 0; i < l.n; i++) {
		const struct hs_pair *p = &l.pairs[i];

		count[p->state]++;
		fprintf(f, "hasvc_pair_info{vm=\"%s\",primary=\"%s\",backup=\"%s\",mode=\"%s\","
			   "state=\"%s\"} 1\n",
			p->vm, p->primary, p->backup ? p->backup : "", hs_pair_mode_name(p->mode),
			hs_pair_state_name(p->state));
	}
	fprintf(f, "# HELP hasvc_pairs Pairs in each state.\n# TYPE hasvc_pairs gauge\n");
	for (int s = 0; s < HS_PAIR_STATE_MAX; s++)
		fprintf(f, "hasvc_pairs{state=\"%s\"} %zu\n", hs_pair_state_name(s), count[s]);
	pair_gauge(f, &l, "hasvc_pair_sync_done_bytes", "bytes_done",
		   "Bytes the mirror has copied (initial sync progress, then the block job's).");
	pair_gauge(f, &l, "hasvc_pair_sync_total_bytes", "bytes_total",
		   "Bytes the mirror has to copy (initial sync, then the block job's).");
	pair_gauge(f, &l, "hasvc_pair_lag_bytes", "lag_bytes",
		   "Bytes written on the primary, acknowledged and not yet on the backup, as last "
		   "reported (0 in sync mode once the mirror is ready).");
	fprintf(f, "# HELP hasvc_pair_bandwidth_bytes_per_second The pair's copy speed limit per "
		   "disk (pair create/set --bandwidth), 0 unlimited.\n"
		   "# TYPE hasvc_pair_bandwidth_bytes_per_second gauge\n");
	for (size_t i = 0; i < l.n; i++)
		fprintf(f, "hasvc_pair_bandwidth_bytes_per_second{vm=\"%s\"} %llu\n", l.pairs[i].vm,
			(unsigned long long)(l.pairs[i].bandwidth_mib << 20));
	verify_gauge(f, &l, "hasvc_pair_verify_last_seconds", "finished_usec", 1000000,
		     "When the pair's last online verify ended (pair verify), Unix time.");
	verify_gauge(f, &l, "hasvc_pair_verify_compared_bytes", "bytes_compared", 1,
		     "Bytes the pair's last online verify compared.");
	verify_gauge(f, &l, "hasvc_pair_verify_out_of_sync_bytes", "out_of_sync_bytes", 1,
		     "Bytes the pair's last online verify found different on the backup.");
	verify_gauge(f, &l, "hasvc_pair_verify_remaining_bytes", "remaining_bytes", 1,
		     "Bytes still different after the last verify (found and not repaired, or "
		     "repaired and different again).");
	for (size_t i = 0; i < ARRAY_SIZE(transition_metrics); i++) {
		uint64_t c = 0;
		sdb_transitions_count(d->db, state_or_any(transition_metrics[i].from),
				      state_or_any(transition_metrics[i].to),
				      hs_pair_event_name(transition_metrics[i].event), &c);
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", transition_metrics[i].name,
			transition_metrics[i].help, transition_metrics[i].name,
			transition_metrics[i].name, (unsigned long long)c);
	}
	fprintf(f, "# HELP hasvc_pair_transitions Pair transitions in the kept event log, by event.\n"
		   "# TYPE hasvc_pair_transitions gauge\n");
	for (int e = 0; e < HS_EV_MAX; e++) {
		uint64_t c = 0;
		sdb_transitions_count(d->db, NULL, NULL, hs_pair_event_name(e), &c);
		fprintf(f, "hasvc_pair_transitions{event=\"%s\"} %llu\n", hs_pair_event_name(e),
			(unsigned long long)c);
	}
	hs_pair_list_free(&l);
}

char *hs__api_metrics_text(struct hs_core *d)
{
	struct hs_cluster_view v;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	struct hs_op_durations durations = {0};

	hs_cluster_view_get(d->cluster, &v);
	fprintf(f, "# HELP hasvc_build_info hasvcd version.\n# TYPE hasvc_build_info gauge\n"
		   "hasvc_build_info{version=\"%s\",node=\"%s\"} 1\n",
		HASVC_VERSION, d->self->name);
	fprintf(f, "# HELP hasvc_quorate Whether this host's partition has quorum.\n"
		   "# TYPE hasvc_quorate gauge\nhasvc_quorate %d\n", v.quorate);
	fprintf(f, "# HELP hasvc_coordinator Whether this host is the coordinator.\n"
		   "# TYPE hasvc_coordinator gauge\nhasvc_coordinator %d\n",
		hs_core_is_coordinator(d));
	fprintf(f, "# HELP hasvc_node_up Whether a configured node is a cluster member.\n"
		   "# TYPE hasvc_node_up gauge\n");
	for (size_t i = 0; i < v.n_nodes; i++)
		fprintf(f, "hasvc_node_up{node=\"%s\"} %d\n", v.nodes[i].name, v.nodes[i].online);
	fprintf(f, "# HELP hasvc_membership_changes_total Configuration changes seen.\n"
		   "# TYPE hasvc_membership_changes_total counter\n"
		   "hasvc_membership_changes_total %llu\n",
		(unsigned long long)v.membership_changes);
	{
		json_object *log = NULL;
		unsigned long ok = 0, failed = 0, running = 0;

		if (d->db && sdb_fence_log_list(d->db, NULL, 0, &log) == 0) {
			for (size_t i = 0; i < json_object_array_length(log); i++) {
				const char *r = hs_json_str(json_object_array_get_idx(log, i), "result");

				r = r ? r : "";
				if (strcmp(r, "success") == 0)
					ok++;
				else if (strcmp(r, "running") == 0)
					running++;
				else
					failed++;
			}
			hs_op_durations_add_fence_log(&durations, log);
		}
		json_object_put(log);
		fprintf(f, "# HELP hasvc_fences Fences in the replicated fence log, by result.\n"
			   "# TYPE hasvc_fences gauge\n"
			   "hasvc_fences{result=\"success\"} %lu\nhasvc_fences{result=\"failed\"} %lu\n"
			   "hasvc_fences{result=\"running\"} %lu\n",
			ok, failed, running);
	}
	pair_metrics(f, d);
	if (d->db)
		pair_durations(d, &durations);
	hs_op_durations_write(f, &durations);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
