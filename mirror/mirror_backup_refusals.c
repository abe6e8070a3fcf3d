// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_backup_refusals: the backup host sees its QEMU answer a write with
 * an error, and makes the primary see it too, whoever listens there.
 *
 * With parallel sync writes a write the backup refuses (its disk full or
 * failing) is still acknowledged to the guest from the local disk, and the
 * primary's QEMU says so once, with QUORUM_REPORT_BAD. A primary hasvcd
 * that restarts at that moment never hears it, and the connection, which
 * stays up, looks as good as before (mirror_qsync_vouch.c). So the backup's
 * QEMU traces its error replies: the trace event nbd_co_send_chunk_error,
 * switched on with the exports, fires only for an error reply (every reply
 * to QEMU 10's NBD client, which negotiates extended headers, is a chunk;
 * nbd/server.c nbd_send_generic_reply) and costs nothing otherwise. With
 * Debian's log backend it lands on QEMU's stderr, the domain's log. The
 * backup host's disk watch reads what was added to that log every 2 s and,
 * at an error reply, shuts down the connections the export's server
 * accepted: QEMU's NBD client on the primary then fails over to a new
 * socket, which no check there takes for the old one.
 *
 * Where it has read to is kept in MIRROR_VOUCH_RUN_DIR/VM.log-read (a
 * restarted hasvcd goes on from there); each prepare that starts exports
 * sets it to the log's end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "mirror.h"
#include "mirror_internal.h"
#include "mirror_sockets.h"

#define TRACE_EVENT "nbd_co_send_chunk_error"
#define READ_MAX (1024 * 1024) /* a look reads at most this much of the log */

static void log_path(char *buf, size_t size, const char *vm)
{
	snprintf(buf, size, "%s/%s.log", MIRROR_QEMU_LOG_DIR, vm);
}

static void offset_path(char *buf, size_t size, const char *vm)
{
	snprintf(buf, size, "%s/%s.log-read", MIRROR_VOUCH_RUN_DIR, vm);
}

static int offset_write(const char *vm, long long offset)
{
	char path[512];
	FILE *f;
	int r = 0;

	if (mkdir(MIRROR_VOUCH_RUN_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	offset_path(path, sizeof(path), vm);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "%lld\n", offset);
	if (fclose(f) != 0)
		r = -errno;
	return r;
}

static int offset_read(const char *vm, long long *ret)
{
	char path[512];
	FILE *f;
	int r = 0;

	offset_path(path, sizeof(path), vm);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%lld", ret) != 1 || *ret < 0)
		r = -EINVAL;
	fclose(f);
	return r;
}

static long long log_size(const char *vm)
{
	char path[512];
	struct stat st;

	log_path(path, sizeof(path), vm);
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

void mirror__backup_trace_refusals(virDomainPtr d, const char *vm)
{
	/* best effort: a QEMU without a trace backend only loses this check */
	mirror__qmp_quiet(d, "{\"execute\":\"trace-event-set-state\",\"arguments\":{\"name\":\""
			     TRACE_EVENT "\",\"enable\":true}}");
	offset_write(vm, log_size(vm));
}

/*
 * Whether a traced error reply LINE answered what a quorum child sends: a
 * write, a write of zeroes, a flush or a discard (nbd/server.c's messages for
 * them). A failed read loses nothing on the backup, and a read error (an
 * online verify's, say) must not cut a mirror whose NBD target cannot
 * reconnect (libvirt's block copy).
 */
static int refused_a_write(const char *line)
{
	static const char *const msgs[] = {"'writing to file failed'", "'flush failed'",
					   "'discard failed'"};

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (strstr(line, msgs[i]))
			return 1;
	return 0;
}

/* Reads VM's log from *OFFSET: 1 and the line in WHY when it has a refused write. */
static int scan(const char *vm, long long *offset, char *why, size_t len)
{
	char path[512], *buf = NULL, *hit, *end, *last_nl;
	long long size = log_size(vm), want;
	size_t got;
	FILE *f;
	int found = 0;

	if (size < *offset)
		*offset = 0; /* a new log (rotated): all of it is new */
	if (size == *offset)
		return 0;
	want = size - *offset > READ_MAX ? READ_MAX : size - *offset;
	log_path(path, sizeof(path), vm);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	buf = malloc((size_t)want + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	if (fseeko(f, (off_t)*offset, SEEK_SET) < 0) {
		free(buf);
		fclose(f);
		return -errno;
	}
	got = fread(buf, 1, (size_t)want, f);
	fclose(f);
	buf[got] = '\0';
	/* whole lines only: a line being written is read at the next look */
	last_nl = strrchr(buf, '\n');
	if (!last_nl) {
		free(buf);
		return 0;
	}
	last_nl[1] = '\0';
	for (hit = strstr(buf, TRACE_EVENT); hit && !found; hit = strstr(hit + 1, TRACE_EVENT)) {
		end = strchr(hit, '\n');
		snprintf(why, len, "%.*s", (int)(end ? end - hit : (long)strlen(hit)), hit);
		found = refused_a_write(why);
	}
	*offset += (long long)(last_nl + 1 - buf);
	free(buf);
	return found;
}

int mirror_backup_refusals(const char *vm, unsigned port, pid_t *qemu_pid, char *why, size_t len)
{
	long long offset;
	unsigned closed = 0;
	size_t used;
	int r, found;

	r = offset_read(vm, &offset);
	if (r < 0) {
		/* no prepare of ours left a mark (an older hasvcd): from here on */
		offset_write(vm, log_size(vm));
		return 0;
	}
	found = scan(vm, &offset, why, len);
	if (found < 0)
		return found;
	offset_write(vm, offset);
	if (!found)
		return 0;
	r = mirror_sockets_qemu_pid(vm, qemu_pid);
	if (r < 0)
		return r;
	r = mirror_sockets_shutdown_served(*qemu_pid, port, &closed);
	if (r < 0)
		return r;
	used = strlen(why);
	snprintf(why + used, len - used, "; %u connection(s) of its NBD server shut down", closed);
	return 1;
}
