// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_qsync_vouch: whether a quorum child that hasvcd did not add on its
 * present connection to libvirt still has every write the guest was told
 * is on both disks (parallel sync writes, mirror_qmp_sync.c).
 *
 * A write the NBD child fails is acknowledged to the guest all the same
 * (vote-threshold 1), and QEMU says so once, with QUORUM_REPORT_BAD, to the
 * monitor clients of that moment. While hasvcd or libvirtd restarts, nobody
 * hears it. What can still be known afterwards, and covers the two ways a
 * child's write fails:
 *
 *   - the connection broke (a cut, a reset, a backup QEMU gone): QEMU's NBD
 *     client shuts its socket down at the first error, before it fails any
 *     request or reconnects (block/nbd.c nbd_channel_error_locked), so a
 *     socket still ESTABLISHED is one that never failed a request. The
 *     record below names the child's sockets (their inodes: unique while
 *     they live), taken when the child was added;
 *   - the backup answered a write with an error (its disk full or failing):
 *     the connection stays. The backup's QEMU traces every error reply
 *     (trace event nbd_co_send_chunk_error, switched on with its exports:
 *     mirror_backup_refusals.c), and the backup's hasvcd, which reads that
 *     trace every 2 s, shuts the export's connections down when one
 *     appears: the first case again. A check waits VOUCH_SETTLE_MS after
 *     hasvcd's connection came up before it trusts a socket, so that
 *     shutdown has happened.
 *
 * Once vouched on a connection, the record says so (its epoch), and that
 * connection's events cover the child from then on.
 *
 * The record is a file per disk in MIRROR_VOUCH_RUN_DIR: one line,
 * "CHILD EPOCH HOST PORT INODE...". /run goes with the host's boot, as the
 * QEMU does; a record of another child (a QEMU started since) is ignored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mirror_internal.h"
#include "mirror_sockets.h"

static void record_path(char *buf, size_t size, const char *vm, const char *target)
{
	snprintf(buf, size, "%s/%s.%s", MIRROR_VOUCH_RUN_DIR, vm, target);
}

int mirror__vouch_sockets(const char *vm, const char *host, unsigned port, unsigned long *inodes,
			  size_t max, size_t *ret_n)
{
	pid_t pid = 0;
	int r = mirror_sockets_qemu_pid(vm, &pid);

	if (r < 0)
		return r;
	return mirror_sockets_established(pid, host, port, inodes, max, ret_n);
}

static int record_write(const struct mirror__vouch_record *rec, const char *vm, const char *target)
{
	char path[512], tmp[520];
	FILE *f;
	int r = 0;

	if (mkdir(MIRROR_VOUCH_RUN_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	record_path(path, sizeof(path), vm, target);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%s %" PRId64 " %s %u", rec->child, rec->epoch, rec->host, rec->port);
	for (size_t i = 0; i < rec->n_inodes; i++)
		fprintf(f, " %lu", rec->inodes[i]);
	fputc('\n', f);
	if (fflush(f) != 0 || ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int mirror__vouch_record_parse(const char *line, struct mirror__vouch_record *rec)
{
	int used = 0;
	const char *p;

	memset(rec, 0, sizeof(*rec));
	if (sscanf(line, "%127s %" SCNd64 " %255s %u%n", rec->child, &rec->epoch, rec->host,
		   &rec->port, &used) != 4)
		return -EINVAL;
	for (p = line + used; rec->n_inodes < MIRROR__VOUCH_INODES_MAX;) {
		char *end;
		unsigned long v;

		while (*p == ' ')
			p++;
		if (*p == '\n' || *p == '\0')
			break;
		v = strtoul(p, &end, 10);
		if (end == p || v == 0)
			return -EINVAL;
		rec->inodes[rec->n_inodes++] = v;
		p = end;
	}
	return 0;
}

static int record_read(const char *vm, const char *target, struct mirror__vouch_record *rec)
{
	char path[512], line[1024];
	FILE *f;
	int r;

	record_path(path, sizeof(path), vm, target);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	r = fgets(line, sizeof(line), f) ? mirror__vouch_record_parse(line, rec) : -EINVAL;
	fclose(f);
	return r;
}

int mirror__vouch_record(const char *vm, const char *target, const char *child, int64_t epoch,
			 const char *host, unsigned port, const unsigned long *before,
			 size_t n_before)
{
	struct mirror__vouch_record rec = {.epoch = epoch, .port = port};
	unsigned long now[MIRROR__VOUCH_INODES_MAX];
	size_t n_now = 0;
	int r;

	snprintf(rec.child, sizeof(rec.child), "%s", child);
	snprintf(rec.host, sizeof(rec.host), "%s", host);
	r = mirror__vouch_sockets(vm, host, port, now, MIRROR__VOUCH_INODES_MAX, &n_now);
	/* the child's: what is there now and was not before its add */
	for (size_t i = 0; r >= 0 && i < n_now; i++) {
		bool old = false;

		for (size_t k = 0; k < n_before && !old; k++)
			old = before[k] == now[i];
		if (!old && rec.n_inodes < MIRROR__VOUCH_INODES_MAX)
			rec.inodes[rec.n_inodes++] = now[i];
	}
	/* none found: the record still names the child, and vouches for nothing */
	return record_write(&rec, vm, target);
}

int mirror__vouch_judge(const struct mirror__vouch_record *rec, const char *child, int64_t epoch,
			int64_t now_ms, const unsigned long *live, size_t n_live, char *why,
			size_t len)
{
	if (strcmp(rec->child, child) != 0) {
		snprintf(why, len, "no record of its connection to the backup (the record is of %s)",
			 rec->child);
		return 0;
	}
	if (rec->epoch == epoch)
		return 1;
	if (now_ms - epoch < MIRROR__VOUCH_SETTLE_MS)
		return 2;
	if (rec->n_inodes == 0) {
		snprintf(why, len, "its connection to the backup was not known when it was added");
		return 0;
	}
	for (size_t i = 0; i < rec->n_inodes; i++) {
		bool found = false;

		for (size_t k = 0; k < n_live && !found; k++)
			found = live[k] == rec->inodes[i];
		if (!found) {
			snprintf(why, len, "its connection to the backup (socket %lu) ended while "
				 "no one heard QEMU's events, so a write to the backup may have "
				 "failed unseen", rec->inodes[i]);
			return 0;
		}
	}
	return 1;
}

int mirror__vouch_check(const char *vm, const char *target, const char *child, int64_t epoch,
			char *why, size_t len)
{
	struct mirror__vouch_record rec;
	unsigned long live[MIRROR__VOUCH_INODES_MAX];
	size_t n_live = 0;
	int r, v;

	r = record_read(vm, target, &rec);
	if (r < 0) {
		snprintf(why, len, "no record of its connection to the backup (%s)", strerror(-r));
		return 0;
	}
	/* decided without the sockets (vouched on this connection, or too soon): no walk of /proc */
	v = mirror__vouch_judge(&rec, child, epoch, mirror__now_ms(), NULL, 0, why, len);
	if (v == 2 || (v == 1 && rec.epoch == epoch) || strcmp(rec.child, child) != 0)
		return v;
	r = mirror__vouch_sockets(vm, rec.host, rec.port, live, MIRROR__VOUCH_INODES_MAX, &n_live);
	if (r < 0) {
		snprintf(why, len, "its QEMU's connections cannot be read (%s)", strerror(-r));
		return 0;
	}
	v = mirror__vouch_judge(&rec, child, epoch, mirror__now_ms(), live, n_live, why, len);
	if (v == 1 && rec.epoch != epoch) {
		/* from now on this connection's events cover it */
		rec.epoch = epoch;
		if (record_write(&rec, vm, target) < 0)
			return 1; /* vouched now; checked again at the next poll */
	}
	return v;
}

void mirror__vouch_forget(const char *vm, const char *target)
{
	char path[512];

	record_path(path, sizeof(path), vm, target);
	unlink(path);
}
