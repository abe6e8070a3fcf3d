// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_schema: the database schema, as the list of steps that built it.
 *
 * Step i takes a database from PRAGMA user_version i to i + 1, and ends by
 * setting user_version to i + 1 itself; sdb_open() runs each step, with that
 * bump, in one BEGIN IMMEDIATE transaction, so a crash leaves the database at
 * a step boundary. Steps are never edited once released: a change to the
 * schema is a new step appended here (and a test in tests/state/test_schema.c
 * that opens a database of the previous version, with data, and checks the
 * data survived).
 *
 * Replicated tables are nodes, pairs, pair_disks, operations, events,
 * fence_log and the single-row cluster table; their rows must be identical on
 * every host, so nothing here may depend on the local host (no defaults taken
 * from the clock, no AUTOINCREMENT: ids come from the cluster row's counters).
 * Enumerations are CHECK constraints, the last line of defence behind the
 * validation in sdb_msg_field.c. docs/state.md describes every column.
 */
#include "sdb_internal.h"

const char *const sdb__schema_steps[] = {
	/* 0 -> 1: the first schema */
	"PRAGMA application_id = 1213421123;" /* SDB_APPLICATION_ID, 'HSVC' */
	"CREATE TABLE cluster ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  version INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),"
	"  last_event_id INTEGER NOT NULL DEFAULT 0,"
	"  last_fence_id INTEGER NOT NULL DEFAULT 0,"
	"  changed_usec INTEGER NOT NULL DEFAULT 0"
	");"
	"INSERT INTO cluster (id) VALUES (1);"
	"CREATE TABLE nodes ("
	"  name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 255),"
	"  nodeid INTEGER NOT NULL UNIQUE CHECK (nodeid > 0),"
	"  address TEXT,"
	"  fence_ref TEXT,"
	"  state TEXT NOT NULL DEFAULT 'offline'"
	"    CHECK (state IN ('online', 'offline', 'fencing', 'fenced', 'maintenance')),"
	"  changed_usec INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE pairs ("
	"  vm TEXT PRIMARY KEY NOT NULL CHECK (length(vm) BETWEEN 1 AND 255),"
	"  uuid TEXT,"
	"  primary_node TEXT NOT NULL REFERENCES nodes (name),"
	"  backup_node TEXT REFERENCES nodes (name),"
	"  mode TEXT NOT NULL DEFAULT 'sync' CHECK (mode IN ('sync', 'async')),"
	"  bandwidth_mib INTEGER NOT NULL DEFAULT 0 CHECK (bandwidth_mib >= 0),"
	"  state TEXT NOT NULL CHECK (state IN ('creating', 'initial-sync', 'in-sync',"
	"    'degraded', 'fencing', 'promoting', 'unprotected', 'lost-unsynced',"
	"    'switching-over', 'deleting', 'error')),"
	"  desired_state TEXT NOT NULL DEFAULT 'protected'"
	"    CHECK (desired_state IN ('protected', 'unprotected', 'deleted')),"
	"  admin_state TEXT NOT NULL DEFAULT 'enabled'"
	"    CHECK (admin_state IN ('enabled', 'maintenance')),"
	"  reason TEXT,"
	"  bytes_done INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),"
	"  bytes_total INTEGER NOT NULL DEFAULT 0 CHECK (bytes_total >= 0),"
	"  generation INTEGER NOT NULL DEFAULT 1,"
	"  created_usec INTEGER NOT NULL,"
	"  changed_usec INTEGER NOT NULL,"
	"  CHECK (backup_node IS NULL OR backup_node <> primary_node)"
	");"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  time_usec INTEGER NOT NULL,"
	"  node TEXT,"
	"  vm TEXT,"
	"  kind TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  detail TEXT CHECK (detail IS NULL OR json_valid(detail))"
	");"
	"CREATE TABLE fence_log ("
	"  id INTEGER PRIMARY KEY,"
	"  ref TEXT NOT NULL UNIQUE,"
	"  target TEXT NOT NULL,"
	"  agent TEXT NOT NULL,"
	"  level INTEGER NOT NULL DEFAULT 0 CHECK (level >= 0),"
	"  action TEXT NOT NULL"
	"    CHECK (action IN ('off', 'on', 'reboot', 'status', 'monitor', 'metadata')),"
	"  result TEXT NOT NULL DEFAULT 'running'"
	"    CHECK (result IN ('running', 'success', 'failed', 'timeout')),"
	"  message TEXT,"
	"  started_usec INTEGER NOT NULL,"
	"  finished_usec INTEGER"
	");"
	"PRAGMA user_version = 1;",

	/* 1 -> 2: per-disk progress, one operation per VM */
	"CREATE TABLE pair_disks ("
	"  vm TEXT NOT NULL REFERENCES pairs (vm) ON DELETE CASCADE,"
	"  target TEXT NOT NULL CHECK (length(target) BETWEEN 1 AND 64),"
	"  bytes_done INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),"
	"  bytes_total INTEGER NOT NULL DEFAULT 0 CHECK (bytes_total >= 0),"
	"  ready INTEGER NOT NULL DEFAULT 0 CHECK (ready IN (0, 1)),"
	"  PRIMARY KEY (vm, target)"
	");"
	/* no foreign key: "create" runs before its pair exists */
	"CREATE TABLE operations ("
	"  vm TEXT PRIMARY KEY NOT NULL CHECK (length(vm) BETWEEN 1 AND 255),"
	"  op TEXT NOT NULL CHECK (length(op) BETWEEN 1 AND 64),"
	"  node TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  started_usec INTEGER NOT NULL"
	");"
	"PRAGMA user_version = 2;",

	/* 2 -> 3: the fence device of each agent run; lookups by host */
	"ALTER TABLE fence_log ADD COLUMN device TEXT;"
	"CREATE INDEX fence_log_target ON fence_log (target, id);"
	"CREATE INDEX pairs_primary ON pairs (primary_node);"
	"CREATE INDEX pairs_backup ON pairs (backup_node);"
	"PRAGMA user_version = 3;",

	/*
	 * 3 -> 4: what the backup host needs to build the backup without asking
	 * the primary host (which may be gone by then): the primary's inactive
	 * domain XML, the virtual size of each mirrored disk, the NBD port.
	 */
	"ALTER TABLE pairs ADD COLUMN domain_xml TEXT;"
	"ALTER TABLE pairs ADD COLUMN disk_sizes TEXT"
	"  CHECK (disk_sizes IS NULL OR json_valid(disk_sizes));"
	"ALTER TABLE pairs ADD COLUMN nbd_port INTEGER NOT NULL DEFAULT 0"
	"  CHECK (nbd_port BETWEEN 0 AND 65535);"
	"PRAGMA user_version = 4;",

	/*
	 * 4 -> 5: the transition a pair event records, as data: metrics count
	 * them instead of parsing the message. Older events keep NULLs.
	 */
	"ALTER TABLE events ADD COLUMN pair_from TEXT;"
	"ALTER TABLE events ADD COLUMN pair_to TEXT;"
	"ALTER TABLE events ADD COLUMN pair_event TEXT;"
	"CREATE INDEX events_transition ON events (pair_event, pair_to) WHERE pair_to IS NOT NULL;"
	"PRAGMA user_version = 5;",

	/*
	 * 5 -> 6: maintenance is the node's admin state, beside its membership
	 * state: a node in maintenance is online (it was, to be put there) and
	 * its admin state says what the operator asked. 'maintenance' stays in
	 * the CHECK of nodes.state for rows of older snapshots only; node_state
	 * messages no longer set it.
	 */
	"ALTER TABLE nodes ADD COLUMN admin_state TEXT NOT NULL DEFAULT 'enabled'"
	"  CHECK (admin_state IN ('enabled', 'maintenance'));"
	"UPDATE nodes SET state = 'online', admin_state = 'maintenance'"
	"  WHERE state = 'maintenance';"
	"PRAGMA user_version = 6;",

	/*
	 * 6 -> 7: what the pair's copy sends, replicated with its progress: every
	 * block (full, and why no delta) or only what changed (delta), so that
	 * any host can tell an operator which resync runs. NULL before the
	 * first copy of this schema, and from each transition into initial-sync
	 * until its copy reports.
	 */
	"ALTER TABLE pairs ADD COLUMN copy_kind TEXT"
	"  CHECK (copy_kind IS NULL OR copy_kind IN ('full', 'delta'));"
	"ALTER TABLE pairs ADD COLUMN copy_reason TEXT;"
	"PRAGMA user_version = 7;",

	/*
	 * 7 -> 8: the live switchover's states (handing-over, catching-up,
	 * migrating, reversing). SQLite cannot change a CHECK in place: the
	 * table is made again with every column so far, rows copied, indexes
	 * remade. Dropping the old table deletes its rows, and with them (ON
	 * DELETE CASCADE) the pair_disks rows: those are kept aside and put
	 * back.
	 */
	"CREATE TEMP TABLE pair_disks_v8 AS SELECT * FROM pair_disks;"
	"CREATE TABLE pairs_v8 ("
	"  vm TEXT PRIMARY KEY NOT NULL CHECK (length(vm) BETWEEN 1 AND 255),"
	"  uuid TEXT,"
	"  primary_node TEXT NOT NULL REFERENCES nodes (name),"
	"  backup_node TEXT REFERENCES nodes (name),"
	"  mode TEXT NOT NULL DEFAULT 'sync' CHECK (mode IN ('sync', 'async')),"
	"  bandwidth_mib INTEGER NOT NULL DEFAULT 0 CHECK (bandwidth_mib >= 0),"
	"  state TEXT NOT NULL CHECK (state IN ('creating', 'initial-sync', 'in-sync',"
	"    'degraded', 'fencing', 'promoting', 'unprotected', 'lost-unsynced',"
	"    'switching-over', 'deleting', 'error', 'handing-over', 'catching-up',"
	"    'migrating', 'reversing')),"
	"  desired_state TEXT NOT NULL DEFAULT 'protected'"
	"    CHECK (desired_state IN ('protected', 'unprotected', 'deleted')),"
	"  admin_state TEXT NOT NULL DEFAULT 'enabled'"
	"    CHECK (admin_state IN ('enabled', 'maintenance')),"
	"  reason TEXT,"
	"  bytes_done INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),"
	"  bytes_total INTEGER NOT NULL DEFAULT 0 CHECK (bytes_total >= 0),"
	"  generation INTEGER NOT NULL DEFAULT 1,"
	"  created_usec INTEGER NOT NULL,"
	"  changed_usec INTEGER NOT NULL,"
	"  domain_xml TEXT,"
	"  disk_sizes TEXT CHECK (disk_sizes IS NULL OR json_valid(disk_sizes)),"
	"  nbd_port INTEGER NOT NULL DEFAULT 0 CHECK (nbd_port BETWEEN 0 AND 65535),"
	"  copy_kind TEXT CHECK (copy_kind IS NULL OR copy_kind IN ('full', 'delta')),"
	"  copy_reason TEXT,"
	"  CHECK (backup_node IS NULL OR backup_node <> primary_node)"
	");"
	"INSERT INTO pairs_v8 (vm, uuid, primary_node, backup_node, mode, bandwidth_mib, state,"
	"  desired_state, admin_state, reason, bytes_done, bytes_total, generation,"
	"  created_usec, changed_usec, domain_xml, disk_sizes, nbd_port, copy_kind, copy_reason)"
	"  SELECT vm, uuid, primary_node, backup_node, mode, bandwidth_mib, state,"
	"  desired_state, admin_state, reason, bytes_done, bytes_total, generation,"
	"  created_usec, changed_usec, domain_xml, disk_sizes, nbd_port, copy_kind, copy_reason"
	"  FROM pairs;"
	"DROP TABLE pairs;"
	"ALTER TABLE pairs_v8 RENAME TO pairs;"
	"CREATE INDEX pairs_primary ON pairs (primary_node);"
	"CREATE INDEX pairs_backup ON pairs (backup_node);"
	"DELETE FROM pair_disks;"
	"INSERT INTO pair_disks SELECT * FROM pair_disks_v8;"
	"DROP TABLE pair_disks_v8;"
	"PRAGMA user_version = 8;",

	/*
	 * 8 -> 9: the identity of the backup's disks (issue 13, item 4): the
	 * token the backup host wrote on them at its last prepare, and why the
	 * disks it found there were not the ones it had left (NULL when they
	 * were, or when there was nothing to check). A primary resumes its
	 * paused jobs into a returned backup only when that reason is NULL.
	 */
	"ALTER TABLE pairs ADD COLUMN backup_disk_id TEXT;"
	"ALTER TABLE pairs ADD COLUMN backup_disk_reason TEXT;"
	"PRAGMA user_version = 9;",

	/*
	 * 9 -> 10: the pair's last online verify (issue 13, item 6), as the
	 * primary host that ran it reported it: a JSON object (pair_verify,
	 * docs/state.md), NULL before the first.
	 */
	"ALTER TABLE pairs ADD COLUMN verify TEXT;"
	"PRAGMA user_version = 10;",

	/*
	 * 10 -> 11: guest-down, a pair whose primary's guest kept dying and is
	 * left off until started by hand (hasvc/pairs/hs_pair_duty_guest.c).
	 * The table made again as in 7 -> 8, with every column so far.
	 */
	"CREATE TEMP TABLE pair_disks_v11 AS SELECT * FROM pair_disks;"
	"CREATE TABLE pairs_v11 ("
	"  vm TEXT PRIMARY KEY NOT NULL CHECK (length(vm) BETWEEN 1 AND 255),"
	"  uuid TEXT,"
	"  primary_node TEXT NOT NULL REFERENCES nodes (name),"
	"  backup_node TEXT REFERENCES nodes (name),"
	"  mode TEXT NOT NULL DEFAULT 'sync' CHECK (mode IN ('sync', 'async')),"
	"  bandwidth_mib INTEGER NOT NULL DEFAULT 0 CHECK (bandwidth_mib >= 0),"
	"  state TEXT NOT NULL CHECK (state IN ('creating', 'initial-sync', 'in-sync',"
	"    'degraded', 'fencing', 'promoting', 'unprotected', 'lost-unsynced',"
	"    'switching-over', 'deleting', 'error', 'handing-over', 'catching-up',"
	"    'migrating', 'reversing', 'guest-down')),"
	"  desired_state TEXT NOT NULL DEFAULT 'protected'"
	"    CHECK (desired_state IN ('protected', 'unprotected', 'deleted')),"
	"  admin_state TEXT NOT NULL DEFAULT 'enabled'"
	"    CHECK (admin_state IN ('enabled', 'maintenance')),"
	"  reason TEXT,"
	"  bytes_done INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),"
	"  bytes_total INTEGER NOT NULL DEFAULT 0 CHECK (bytes_total >= 0),"
	"  generation INTEGER NOT NULL DEFAULT 1,"
	"  created_usec INTEGER NOT NULL,"
	"  changed_usec INTEGER NOT NULL,"
	"  domain_xml TEXT,"
	"  disk_sizes TEXT CHECK (disk_sizes IS NULL OR json_valid(disk_sizes)),"
	"  nbd_port INTEGER NOT NULL DEFAULT 0 CHECK (nbd_port BETWEEN 0 AND 65535),"
	"  copy_kind TEXT CHECK (copy_kind IS NULL OR copy_kind IN ('full', 'delta')),"
	"  copy_reason TEXT,"
	"  backup_disk_id TEXT,"
	"  backup_disk_reason TEXT,"
	"  verify TEXT,"
	"  CHECK (backup_node IS NULL OR backup_node <> primary_node)"
	");"
	"INSERT INTO pairs_v11 (vm, uuid, primary_node, backup_node, mode, bandwidth_mib, state,"
	"  desired_state, admin_state, reason, bytes_done, bytes_total, generation,"
	"  created_usec, changed_usec, domain_xml, disk_sizes, nbd_port, copy_kind, copy_reason,"
	"  backup_disk_id, backup_disk_reason, verify)"
	"  SELECT vm, uuid, primary_node, backup_node, mode, bandwidth_mib, state,"
	"  desired_state, admin_state, reason, bytes_done, bytes_total, generation,"
	"  created_usec, changed_usec, domain_xml, disk_sizes, nbd_port, copy_kind, copy_reason,"
	"  backup_disk_id, backup_disk_reason, verify"
	"  FROM pairs;"
	"DROP TABLE pairs;"
	"ALTER TABLE pairs_v11 RENAME TO pairs;"
	"CREATE INDEX pairs_primary ON pairs (primary_node);"
	"CREATE INDEX pairs_backup ON pairs (backup_node);"
	"DELETE FROM pair_disks;"
	"INSERT INTO pair_disks SELECT * FROM pair_disks_v11;"
	"DROP TABLE pair_disks_v11;"
	"PRAGMA user_version = 11;",
};

const unsigned sdb__schema_n_steps = ARRAY_SIZE(sdb__schema_steps);
