// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of the pair state machine check in the replicated apply: a
 * pair_update that sets a state must name the event (pair_event) of the row
 * of hs_pair_fsm.h that leads there from the state the pair is in; any
 * other change of state is refused with -EPERM, alike on every host, and
 * changes nothing (not even the event log). Changes that set no state need
 * no event.
 */
#include "sdb_internal.h"
#include "state_test.h"

static char *dir;
static struct sdb *db;

static void setup(void)
{
	db = test_db_new(&dir);
	test_populate(db);
}

static void teardown(void)
{
	test_db_free(db, dir);
	db = NULL;
	dir = NULL;
}

TestSuite(pair_edges, .init = setup, .fini = teardown);

static char *pair_state(void)
{
	static char state[32];
	json_object *o = NULL;

	cr_assert_eq(sdb_pair_get(db, "vm1", &o), 0);
	snprintf(state, sizeof(state), "%s",
		 json_object_get_string(json_object_object_get(o, "state")));
	json_object_put(o);
	return state;
}

/* Applies CHANGE expecting ERR; for a refusal, checks that nothing changed. */
static void expect_update(const struct sdb_pair_change *change, int err)
{
	char d0[65], d1[65];
	int r;

	cr_assert_eq(sdb_digest(db, d0), 0);
	r = APPLY(db, sdb_msg_pair_update, change);
	cr_assert_eq(r, err, "expected %d, got %d (%s)", err, r, sdb_errmsg(db));
	if (err == 0)
		return;
	cr_assert(sdb_apply_refused(r), "%d is not refused alike everywhere", r);
	cr_assert_eq(sdb_digest(db, d1), 0);
	cr_assert_str_eq(d0, d1, "a refused change changed the state");
}

Test(pair_edges, valid_edge_applies)
{
	struct sdb_pair_change c = {.vm = "vm1",
				    .expect_state = "creating",
				    .state = "initial-sync",
				    .pair_event = "backup-prepared"};

	expect_update(&c, 0);
	cr_assert_str_eq(pair_state(), "initial-sync");
	c = (struct sdb_pair_change){
	    .vm = "vm1", .state = "in-sync", .pair_event = "mirror-ready"};
	expect_update(&c, 0);
	cr_assert_str_eq(pair_state(), "in-sync");
}

Test(pair_edges, edge_not_in_the_table_is_refused)
{
	/* creating has no row for mirror-ready */
	struct sdb_pair_change c = {.vm = "vm1",
				    .state = "in-sync",
				    .pair_event = "mirror-ready",
				    .event = "creating -> in-sync (mirror-ready): forged"};

	expect_update(&c, -EPERM);
	cr_assert(strstr(sdb_errmsg(db), "pair 'vm1': creating -> in-sync (mirror-ready) is not "
					 "an edge of the pair state machine"),
		  "%s", sdb_errmsg(db));
	cr_assert_str_eq(pair_state(), "creating");
}

Test(pair_edges, event_leading_elsewhere_is_refused)
{
	/* (creating, backup-prepared) exists but leads to initial-sync, not in-sync */
	struct sdb_pair_change c = {.vm = "vm1", .state = "in-sync", .pair_event = "backup-prepared"};

	expect_update(&c, -EPERM);
	cr_assert(strstr(sdb_errmsg(db), "creating -> in-sync (backup-prepared)"), "%s",
		  sdb_errmsg(db));

	/* the edge is checked against the state in the database, not the proposer's view */
	struct sdb_pair_change go = {
	    .vm = "vm1", .state = "initial-sync", .pair_event = "backup-prepared"};
	expect_update(&go, 0);
	struct sdb_pair_change again = {.vm = "vm1",
					.state = "initial-sync",
					.pair_event = "backup-prepared"};
	expect_update(&again, -EPERM);
	cr_assert(strstr(sdb_errmsg(db), "initial-sync -> initial-sync (backup-prepared)"), "%s",
		  sdb_errmsg(db));
}

Test(pair_edges, state_without_event_is_refused)
{
	struct sdb_pair_change c = {.vm = "vm1", .state = "initial-sync"};

	expect_update(&c, -EINVAL);
	cr_assert(strstr(sdb_errmsg(db), "'pair_event' missing"), "%s", sdb_errmsg(db));
	c.pair_event = "teleported";
	expect_update(&c, -EINVAL);
	cr_assert(strstr(sdb_errmsg(db), "unknown value 'teleported'"), "%s", sdb_errmsg(db));
	cr_assert_str_eq(pair_state(), "creating");
}

Test(pair_edges, changes_without_state_need_no_event)
{
	struct sdb_pair_change c = {.vm = "vm1",
				    .reason = "backup host is slow",
				    .nbd_port = 10901,
				    .desired_state = "unprotected"};
	struct sdb_pair_change event_only = {.vm = "vm1", .pair_event = "mirror-ready"};

	expect_update(&c, 0);
	cr_assert_str_eq(pair_state(), "creating");
	/* an event that moves nothing is refused: it would be a lie in the log */
	expect_update(&event_only, -EINVAL);
}

Test(pair_edges, refused_edge_logs_no_event)
{
	struct sdb_pair_change c = {.vm = "vm1",
				    .state = "promoting",
				    .pair_event = "fenced",
				    .event = "creating -> promoting (fenced): forged",
				    .event_node = "node2"};
	json_object *events = NULL;

	expect_update(&c, -EPERM);
	cr_assert_eq(sdb_events_list(db, 0, 100, &events), 0);
	cr_assert_eq(json_object_array_length(events), 0);
	json_object_put(events);
}

static json_object *last_event(json_object **events)
{
	size_t n;

	cr_assert_eq(sdb_events_list(db, 0, 0, events), 0);
	n = json_object_array_length(*events);
	cr_assert_gt(n, 0);
	return json_object_array_get_idx(*events, n - 1);
}

/* An applied state change records its transition as data, beside the prose. */
Test(pair_edges, event_records_the_transition)
{
	struct sdb_pair_change go = {.vm = "vm1",
				     .state = "initial-sync",
				     .pair_event = "backup-prepared",
				     .event = "creating -> initial-sync (backup-prepared): ready",
				     .event_node = "node2"};
	struct sdb_pair_change note = {
	    .vm = "vm1", .reason = "slow", .event = "vm1 is slow", .event_node = "node1"};
	json_object *events = NULL, *e, *t;
	uint64_t n = 99;

	expect_update(&go, 0);
	e = last_event(&events);
	cr_assert(json_object_object_get_ex(e, "transition", &t), "%s",
		  json_object_to_json_string(e));
	cr_assert_str_eq(json_object_get_string(json_object_object_get(t, "from")), "creating");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(t, "to")), "initial-sync");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(t, "event")),
			 "backup-prepared");
	cr_assert_null(json_object_object_get(e, "pair_from"), "the columns show only as transition");
	json_object_put(events);

	/* an event of a change that moves no state records none */
	expect_update(&note, 0);
	e = last_event(&events);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(e, "message")), "vm1 is slow");
	cr_assert(!json_object_object_get_ex(e, "transition", NULL));
	json_object_put(events);

	cr_assert_eq(sdb_transitions_count(db, NULL, NULL, NULL, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(sdb_transitions_count(db, "creating", "initial-sync", "backup-prepared", &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(sdb_transitions_count(db, NULL, "degraded", NULL, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(sdb_transitions_count(db, NULL, NULL, "mirror-ready", &n), 0);
	cr_assert_eq(n, 0);
}

static char *entered_by(const char *state)
{
	static char name[32];
	char *ev = NULL;

	cr_assert_eq(sdb_pair_entered_by(db, "vm1", state, &ev), 0, "%s", sdb_errmsg(db));
	snprintf(name, sizeof(name), "%s", ev ? ev : "(none)");
	free(ev);
	return name;
}

/* The plan's question: which event put the pair where it is (reprotect-failed?). */
Test(pair_edges, entered_by_is_the_newest_transition_into_the_state)
{
	struct sdb_pair_change go = {.vm = "vm1",
				     .state = "degraded",
				     .pair_event = "reprotect-failed",
				     .event = "creating -> degraded (reprotect-failed): no libvirtd",
				     .event_node = "node2"};
	struct sdb_pair_change note = {
	    .vm = "vm1", .reason = "slow", .event = "vm1 is slow", .event_node = "node1"};
	struct sdb_pair_change back = {.vm = "vm1",
				       .state = "creating",
				       .pair_event = "host-returned",
				       .event = "degraded -> creating (host-returned): back",
				       .event_node = "node1"};

	cr_assert_str_eq(entered_by("creating"), "(none)", "created: no transition yet");
	expect_update(&go, 0);
	cr_assert_str_eq(entered_by("degraded"), "reprotect-failed");
	expect_update(&note, 0);
	cr_assert_str_eq(entered_by("degraded"), "reprotect-failed", "an event that moves nothing");
	expect_update(&back, 0);
	cr_assert_str_eq(entered_by("creating"), "host-returned");
	cr_assert_str_eq(entered_by("degraded"), "(none)", "not the newest transition any more");
}
