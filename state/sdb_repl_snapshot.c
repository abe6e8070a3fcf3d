// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb_repl_snapshot: the state transfer of a sync round.
 *
 * When a member's state differs from the donor's, the donor sends its whole
 * state (sdb__dump(), the canonical dump that digests are computed on) as
 * sync_snapshot parts:
 *
 *   {"v":1,"type":"sync_snapshot","leader":L,"epoch":E,"part":i,"parts":n,
 *    "version":N,"digest":"hex","data":"<part i of the dump text>"}
 *
 * of at most ops.snapshot_chunk bytes, never cut inside a UTF-8 sequence.
 * The receivers (RECEIVING) append the parts in order, from the donor of
 * this round only, and load the whole when the last arrives; the load must
 * give the donor's version and digest, or it is refused and the member stays
 * RECEIVING until the caller asks for another round (sdb_repl_resync()).
 *
 * A donor is another host, trusted to be one of ours but not to be right:
 * the parts must come in order with one count of parts, and their total is
 * bounded (ops.snapshot_max, SDB_REPL_SNAPSHOT_MAX_DEFAULT), so a confused
 * or hostile donor cannot make a receiver grow without limit; anything else
 * is refused and forgotten.
 */
#include <stdio.h>
#include <string.h>

#include "sdb_repl_internal.h"

void sdb__repl_snapshot_reset(struct sdb_repl *repl)
{
	free(repl->snap);
	repl->snap = NULL;
	repl->snap_len = 0;
	repl->snap_next = repl->snap_parts = 0;
	repl->snap_refused = false;
}

int sdb__repl_snapshot_send(struct sdb_repl *repl)
{
	_cleanup_json_ json_object *dump = NULL;
	size_t chunk = repl->ops.snapshot_chunk ?: SDB_REPL_CHUNK_DEFAULT;
	const char *text;
	uint64_t parts = 0;
	size_t len;
	int r;

	r = sdb__begin_read(repl->db);
	if (r < 0)
		return r;
	r = sdb__dump(repl->db, &dump);
	sdb__rollback(repl->db);
	if (r < 0)
		return r;
	text = json_object_to_json_string_length(dump, JSON_C_TO_STRING_PLAIN, &len);
	if (!text)
		return -ENOMEM;

	/* parts of at most CHUNK bytes, never cut inside a UTF-8 sequence */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t part = 0;

		for (size_t off = 0, end; off < len && r >= 0; off = end, part++) {
			json_object *m;

			end = off + chunk < len ? off + chunk : len;
			while (end < len && end > off + 1 &&
			       ((unsigned char)text[end] & 0xc0) == 0x80)
				end--;
			if (pass == 0)
				continue; /* counting */
			m = sdb__repl_round_msg_new("sync_snapshot");
			if (m) {
				json_object_object_add(m, "leader",
						       json_object_new_int64(repl->leader));
				json_object_object_add(m, "epoch",
						       json_object_new_int64((int64_t)repl->epoch));
				json_object_object_add(m, "part",
						       json_object_new_int64((int64_t)part));
				json_object_object_add(m, "parts",
						       json_object_new_int64((int64_t)parts));
				json_object_object_add(
				    m, "version",
				    json_object_new_int64((int64_t)repl->donor_version));
				json_object_object_add(m, "digest",
						       json_object_new_string(repl->donor_digest));
				json_object_object_add(
				    m, "data",
				    json_object_new_string_len(text + off, (int)(end - off)));
			}
			r = sdb__repl_outbox_push(repl, m);
		}
		parts = part;
	}
	repl->snapshots_sent++;
	return r;
}

static void load_snapshot(struct sdb_repl *repl)
{
	_cleanup_json_ json_object *dump = NULL;
	char digest[65];
	uint64_t version;
	int r;

	dump = json_tokener_parse(repl->snap);
	if (!dump) {
		r = -EBADMSG;
		sdb__repl_error(repl, r, "cannot load snapshot from node %u: malformed",
				repl->donor);
		goto out_failed;
	}
	r = sdb__load(repl->db, dump);
	if (r < 0) {
		sdb__repl_error(repl, r, "cannot load snapshot from node %u: %s", repl->donor,
				sdb_errmsg(repl->db));
		goto out_failed;
	}
	r = sdb_version(repl->db, &version);
	if (r >= 0)
		r = sdb_digest(repl->db, digest);
	if (r < 0 || version != repl->donor_version || strcmp(digest, repl->donor_digest) != 0) {
		sdb__repl_error(repl, r < 0 ? r : -EBADMSG,
				"snapshot from node %u does not give its state (version %llu)",
				repl->donor, (unsigned long long)repl->donor_version);
		goto out_failed;
	}
	repl->snapshots_received++;
	sdb__repl_become_synced(repl);
	return;

out_failed:
	/* stay RECEIVING (buffering); the caller decides when to sdb_repl_resync() */
	sdb__repl_snapshot_reset(repl);
	repl->in_sync = false;
}

void sdb__repl_snapshot_part(struct sdb_repl *repl, uint32_t sender, json_object *msg)
{
	size_t max = repl->ops.snapshot_max ?: SDB_REPL_SNAPSHOT_MAX_DEFAULT;
	json_object *part, *parts, *data;
	size_t len;
	char *snap;

	if (repl->phase != PHASE_RECEIVING || sender != repl->donor || repl->snap_refused ||
	    !sdb__repl_same_round(repl, msg))
		return;
	if (!json_object_object_get_ex(msg, "part", &part) ||
	    !json_object_object_get_ex(msg, "parts", &parts) ||
	    !json_object_object_get_ex(msg, "data", &data) ||
	    !json_object_is_type(data, json_type_string) ||
	    (uint64_t)json_object_get_int64(part) != repl->snap_next ||
	    (repl->snap_next > 0 && (uint64_t)json_object_get_int64(parts) != repl->snap_parts)) {
		sdb__repl_error(repl, -EBADMSG, "bad snapshot part from node %u", sender);
		sdb__repl_snapshot_reset(repl);
		return;
	}
	repl->snap_parts = (uint64_t)json_object_get_int64(parts);
	len = (size_t)json_object_get_string_len(data);
	if (len > max - repl->snap_len) {
		/* stays RECEIVING, holding nothing: the caller decides when to ask again */
		sdb__repl_error(repl, -EFBIG,
				"snapshot from node %u is larger than %zu bytes: refused", sender,
				max);
		sdb__repl_snapshot_reset(repl);
		repl->snap_refused = true;
		return;
	}
	snap = realloc(repl->snap, repl->snap_len + len + 1);
	if (!snap) {
		sdb__repl_error(repl, -ENOMEM, "cannot receive snapshot");
		sdb__repl_snapshot_reset(repl);
		return;
	}
	memcpy(snap + repl->snap_len, json_object_get_string(data), len);
	repl->snap = snap;
	repl->snap_len += len;
	repl->snap[repl->snap_len] = '\0';
	if (++repl->snap_next == repl->snap_parts)
		load_snapshot(repl);
}
