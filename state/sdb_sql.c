// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_sql: every SQL text the module runs, one entry per enum sdb__q
 * (sdb_internal.h), prepared on first use by sdb__stmt() and kept for the
 * life of the connection. Parameters are always bound (?1, ?2, ...), never
 * printed into the text. The dump, wipe and load statements of one table
 * list its columns in the same order: that order is the snapshot's and the
 * digest's (sdb_dump.c), so a column is added at the end of all three.
 */
#include "sdb_internal.h"

const char *const sdb__sql[_SDB_Q_MAX] = {
	[SDB_Q_BEGIN] = "BEGIN IMMEDIATE",
	[SDB_Q_BEGIN_READ] = "BEGIN",
	[SDB_Q_COMMIT] = "COMMIT",
	[SDB_Q_ROLLBACK] = "ROLLBACK",
	[SDB_Q_CLUSTER_GET] = "SELECT version, last_event_id, last_fence_id, changed_usec"
			      " FROM cluster WHERE id = 1",
	[SDB_Q_CLUSTER_BUMP] = "UPDATE cluster SET version = version + 1, changed_usec = ?1"
			       " WHERE id = 1",
	[SDB_Q_CLUSTER_EVENT_ID] = "UPDATE cluster SET last_event_id = last_event_id + 1"
				   " WHERE id = 1 RETURNING last_event_id",
	[SDB_Q_CLUSTER_FENCE_ID] = "UPDATE cluster SET last_fence_id = last_fence_id + 1"
				   " WHERE id = 1 RETURNING last_fence_id",
	[SDB_Q_NODE_GET] = "SELECT name, nodeid, address, fence_ref, state, changed_usec,"
			   " admin_state FROM nodes WHERE name = ?1",
	[SDB_Q_NODE_INSERT] = "INSERT INTO nodes (name, nodeid, address, fence_ref, state,"
			      " changed_usec) VALUES (?1, ?2, ?3, ?4, 'offline', ?5)",
	[SDB_Q_NODE_UPDATE_INFO] = "UPDATE nodes SET nodeid = ?2, address = ?3, fence_ref = ?4"
				   " WHERE name = ?1",
	[SDB_Q_NODE_SET_STATE] = "UPDATE nodes SET changed_usec = CASE WHEN state = ?2"
				 " THEN changed_usec ELSE ?3 END, state = ?2 WHERE name = ?1",
	[SDB_Q_NODE_SET_ADMIN] = "UPDATE nodes SET admin_state = ?2 WHERE name = ?1",
	[SDB_Q_NODE_DELETE] = "DELETE FROM nodes WHERE name = ?1",
	[SDB_Q_NODES_LIST] = "SELECT name, nodeid, address, fence_ref, state, changed_usec,"
			     " admin_state FROM nodes ORDER BY name",
	[SDB_Q_PAIR_GET] = "SELECT vm, uuid, primary_node, backup_node, mode, bandwidth_mib,"
			   " state, desired_state, admin_state, reason, bytes_done, bytes_total,"
			   " generation, changed_usec, nbd_port, copy_kind, copy_reason,"
			   " backup_disk_id, backup_disk_reason, verify FROM pairs WHERE vm = ?1",
	[SDB_Q_PAIRS_LIST] = "SELECT vm, uuid, primary_node, backup_node, mode, bandwidth_mib,"
			     " state, desired_state, admin_state, reason, bytes_done, bytes_total,"
			     " generation, changed_usec, nbd_port, copy_kind, copy_reason,"
			     " backup_disk_id, backup_disk_reason, verify FROM pairs ORDER BY vm",
	[SDB_Q_PAIRS_BY_NODE] = "SELECT vm, uuid, primary_node, backup_node, mode, bandwidth_mib,"
				" state, desired_state, admin_state, reason, bytes_done,"
				" bytes_total, generation, changed_usec, nbd_port, copy_kind,"
				" copy_reason, backup_disk_id, backup_disk_reason, verify FROM pairs"
				" WHERE primary_node = ?1 OR backup_node = ?1 ORDER BY vm",
	[SDB_Q_PAIR_INSERT] = "INSERT INTO pairs (vm, uuid, primary_node, backup_node, mode,"
			      " bandwidth_mib, state, desired_state, reason, created_usec,"
			      " changed_usec, domain_xml, disk_sizes, nbd_port)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13)",
	[SDB_Q_PAIR_UPDATE] =
		"UPDATE pairs SET state = coalesce(?2, state),"
		" desired_state = coalesce(?3, desired_state),"
		" admin_state = coalesce(?4, admin_state),"
		" reason = CASE WHEN ?5 IS NULL THEN reason WHEN ?5 = '' THEN NULL ELSE ?5 END,"
		" primary_node = coalesce(?6, primary_node),"
		" backup_node = CASE WHEN ?7 THEN NULL ELSE coalesce(?8, backup_node) END,"
		" mode = coalesce(?9, mode), bandwidth_mib = coalesce(?10, bandwidth_mib),"
		" nbd_port = coalesce(?12, nbd_port),"
		/* a new initial sync: the last copy's kind no longer says what runs */
		" copy_kind = CASE WHEN ?2 = 'initial-sync' AND state <> ?2 THEN NULL"
		"   ELSE copy_kind END,"
		" copy_reason = CASE WHEN ?2 = 'initial-sync' AND state <> ?2 THEN NULL"
		"   ELSE copy_reason END,"
		/* nor its bytes: a reverse pair's progress began at the forward
		 * pair's 100 % until its first report (issue 14) */
		" bytes_done = CASE WHEN ?2 = 'initial-sync' AND state <> ?2 THEN 0"
		"   ELSE bytes_done END,"
		" bytes_total = CASE WHEN ?2 = 'initial-sync' AND state <> ?2 THEN 0"
		"   ELSE bytes_total END,"
		/*
		 * the backup's disk identity: set with a prepare (?13, ?14: ""
		 * when the disks were the ones left); forgotten when the primary
		 * or the backup changes (another host's disks, or roles swapped)
		 */
		" backup_disk_id = CASE WHEN ?13 IS NOT NULL THEN ?13"
		"   WHEN coalesce(?6, primary_node) <> primary_node OR ?7"
		"     OR coalesce(?8, backup_node) IS NOT backup_node THEN NULL"
		"   ELSE backup_disk_id END,"
		" backup_disk_reason = CASE WHEN ?13 IS NOT NULL THEN nullif(?14, '')"
		"   WHEN coalesce(?6, primary_node) <> primary_node OR ?7"
		"     OR coalesce(?8, backup_node) IS NOT backup_node THEN NULL"
		"   ELSE backup_disk_reason END,"
		" generation = generation + 1, changed_usec = ?11 WHERE vm = ?1",
	/* a progress without the copy's kind (a hasvcd before schema 7) keeps the one recorded */
	[SDB_Q_PAIR_PROGRESS] = "UPDATE pairs SET bytes_done = ?2, bytes_total = ?3,"
				" copy_kind = coalesce(?4, copy_kind),"
				" copy_reason = CASE WHEN ?4 IS NULL THEN copy_reason ELSE ?5 END"
				" WHERE vm = ?1",
	[SDB_Q_PAIR_SET_BANDWIDTH] = "UPDATE pairs SET bandwidth_mib = ?2 WHERE vm = ?1",
	[SDB_Q_PAIR_SET_VERIFY] = "UPDATE pairs SET verify = ?2 WHERE vm = ?1",
	[SDB_Q_PAIR_DELETE] = "DELETE FROM pairs WHERE vm = ?1",
	[SDB_Q_PAIR_SPEC] = "SELECT domain_xml, disk_sizes FROM pairs WHERE vm = ?1",
	[SDB_Q_DISKS_GET] = "SELECT target, bytes_done, bytes_total, ready FROM pair_disks"
			    " WHERE vm = ?1 ORDER BY target",
	[SDB_Q_DISKS_DELETE] = "DELETE FROM pair_disks WHERE vm = ?1",
	[SDB_Q_DISKS_RESTART] = "UPDATE pair_disks SET bytes_done = 0, ready = 0 WHERE vm = ?1",
	[SDB_Q_DISK_INSERT] = "INSERT INTO pair_disks (vm, target, bytes_done, bytes_total, ready)"
			      " VALUES (?1, ?2, ?3, ?4, ?5)",
	[SDB_Q_EVENT_INSERT] = "INSERT INTO events (id, time_usec, node, vm, kind, message, detail,"
			       " pair_from, pair_to, pair_event)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[SDB_Q_EVENTS_PRUNE] = "DELETE FROM events WHERE id <= ?1",
	[SDB_Q_EVENTS_LIST] = "SELECT id, time_usec, node, vm, kind, message, detail, pair_from,"
			      " pair_to, pair_event FROM events"
			      " WHERE id > ?1 AND (?3 IS NULL OR kind = ?3) ORDER BY id LIMIT ?2",
	[SDB_Q_EVENTS_COUNT] = "SELECT count(*) FROM events WHERE kind = ?1 AND instr(message, ?2) > 0",
	[SDB_Q_TRANSITIONS_COUNT] = "SELECT count(*) FROM events WHERE pair_to IS NOT NULL"
				    " AND (?1 IS NULL OR pair_from = ?1)"
				    " AND (?2 IS NULL OR pair_to = ?2)"
				    " AND (?3 IS NULL OR pair_event = ?3)",
	/* the newest transition of ?1 (a scan from the newest event back), if it led into ?2 */
	[SDB_Q_PAIR_ENTERED_BY] = "SELECT pair_event FROM (SELECT pair_to, pair_event FROM events"
				  " WHERE vm = ?1 AND pair_to IS NOT NULL ORDER BY id DESC LIMIT 1)"
				  " WHERE pair_to = ?2",
	[SDB_Q_FENCE_GET] = "SELECT result FROM fence_log WHERE ref = ?1",
	[SDB_Q_FENCE_INSERT] = "INSERT INTO fence_log (id, ref, target, device, agent, level,"
			       " action, started_usec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[SDB_Q_FENCE_FINISH] = "UPDATE fence_log SET result = ?2, message = ?3,"
			       " finished_usec = ?4 WHERE ref = ?1",
	[SDB_Q_FENCE_PRUNE] = "DELETE FROM fence_log WHERE id <= ?1",
	[SDB_Q_FENCE_LIST] = "SELECT id, ref, target, device, agent, level, action, result,"
			     " message, started_usec, finished_usec FROM fence_log"
			     " ORDER BY id DESC LIMIT ?1",
	[SDB_Q_FENCE_LIST_TARGET] = "SELECT id, ref, target, device, agent, level, action, result,"
				    " message, started_usec, finished_usec FROM fence_log"
				    " WHERE target = ?2 ORDER BY id DESC LIMIT ?1",
	[SDB_Q_OP_GET] = "SELECT vm, op, node, ref, started_usec FROM operations WHERE vm = ?1",
	[SDB_Q_OP_INSERT] = "INSERT INTO operations (vm, op, node, ref, started_usec)"
			    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[SDB_Q_OP_DELETE] = "DELETE FROM operations WHERE vm = ?1",
	[SDB_Q_OPS_LIST] = "SELECT vm, op, node, ref, started_usec FROM operations ORDER BY vm",

	[SDB_Q_DUMP_CLUSTER] = "SELECT id, version, last_event_id, last_fence_id, changed_usec"
			       " FROM cluster ORDER BY id",
	[SDB_Q_DUMP_NODES] = "SELECT name, nodeid, address, fence_ref, state, changed_usec,"
			     " admin_state FROM nodes ORDER BY name",
	[SDB_Q_DUMP_PAIRS] = "SELECT vm, uuid, primary_node, backup_node, mode, bandwidth_mib,"
			     " state, desired_state, admin_state, reason, bytes_done, bytes_total,"
			     " generation, created_usec, changed_usec, domain_xml, disk_sizes, nbd_port,"
			     " copy_kind, copy_reason, backup_disk_id, backup_disk_reason, verify"
			     " FROM pairs ORDER BY vm",
	[SDB_Q_DUMP_DISKS] = "SELECT vm, target, bytes_done, bytes_total, ready FROM pair_disks"
			     " ORDER BY vm, target",
	[SDB_Q_DUMP_OPS] = "SELECT vm, op, node, ref, started_usec FROM operations ORDER BY vm",
	[SDB_Q_DUMP_EVENTS] = "SELECT id, time_usec, node, vm, kind, message, detail, pair_from,"
			      " pair_to, pair_event FROM events ORDER BY id",
	[SDB_Q_DUMP_FENCE] = "SELECT id, ref, target, device, agent, level, action, result,"
			     " message, started_usec, finished_usec FROM fence_log ORDER BY id",

	[SDB_Q_WIPE_DISKS] = "DELETE FROM pair_disks",
	[SDB_Q_WIPE_OPS] = "DELETE FROM operations",
	[SDB_Q_WIPE_PAIRS] = "DELETE FROM pairs",
	[SDB_Q_WIPE_EVENTS] = "DELETE FROM events",
	[SDB_Q_WIPE_FENCE] = "DELETE FROM fence_log",
	[SDB_Q_WIPE_NODES] = "DELETE FROM nodes",
	[SDB_Q_LOAD_CLUSTER] = "UPDATE cluster SET version = ?2, last_event_id = ?3,"
			       " last_fence_id = ?4, changed_usec = ?5 WHERE id = ?1",
	[SDB_Q_LOAD_NODES] = "INSERT INTO nodes (name, nodeid, address, fence_ref, state,"
			     " changed_usec, admin_state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SDB_Q_LOAD_PAIRS] = "INSERT INTO pairs (vm, uuid, primary_node, backup_node, mode,"
			     " bandwidth_mib, state, desired_state, admin_state, reason,"
			     " bytes_done,"
			     " bytes_total, generation, created_usec, changed_usec, domain_xml,"
			     " disk_sizes, nbd_port, copy_kind, copy_reason, backup_disk_id,"
			     " backup_disk_reason, verify)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
			     " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
	[SDB_Q_LOAD_DISKS] = "INSERT INTO pair_disks (vm, target, bytes_done, bytes_total, ready)"
			     " VALUES (?1, ?2, ?3, ?4, ?5)",
	[SDB_Q_LOAD_OPS] = "INSERT INTO operations (vm, op, node, ref, started_usec)"
			   " VALUES (?1, ?2, ?3, ?4, ?5)",
	[SDB_Q_LOAD_EVENTS] = "INSERT INTO events (id, time_usec, node, vm, kind, message, detail,"
			      " pair_from, pair_to, pair_event)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[SDB_Q_LOAD_FENCE] = "INSERT INTO fence_log (id, ref, target, device, agent, level,"
			     " action, result, message, started_usec, finished_usec)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
};
