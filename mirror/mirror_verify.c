// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_verify: the online verify of a pair (mirror_verify_typed): both
 * sides of every mirrored disk read as the guest sees them, over NBD with
 * libnbd, compared chunk by chunk (mirror_verify_compare.c), and with repair
 * the ranges that differ copied from the primary into the backup's export.
 *
 * The images are never compared as files: a qcow2 and a raw image of the
 * same disk differ byte for byte. The backup is read through the export its
 * QEMU serves the mirror (TLS with this host's client certificate, which the
 * export's authz lets in; its max-connections keeps one per disk for such a
 * read). The primary is read through an export of its own QEMU's format node,
 * read-only, made for the length of the verify: an NBD server on a unix
 * socket that hasvcd creates and listens on itself, handed to QEMU by fd
 * (getfd; QEMU's NBD server takes a listening socket as "fd"), so that
 * nothing but root on this host reaches it and QEMU's confinement need not
 * let it create a socket file. libvirt has no API for either (docs/mirror.md).
 *
 * Runs on a thread of its own (request.on_thread): a verify reads the whole
 * disk twice, minutes for a large one, and the mirror thread serves the
 * pair's polls meanwhile.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libnbd.h>
#include <libvirt/libvirt-qemu.h>

#include "mirror_internal.h"
#include "mirror_verify.h"

#define VERIFY_RUN_DIR "/run/hasvc-verify"
#define VERIFY_FD_NAME "hs-verify"

/* One side's NBD client, and the mirror whose stop ends the verify. */
struct side {
	struct nbd_handle *h;
	struct mirror *m;
};

/* One disk's two sides. */
struct disk_sides {
	struct side primary, backup;
};

static int nbd_read(void *ctx, void *buf, size_t len, uint64_t offset)
{
	struct side *s = ctx;

	if (mirror__stopping(s->m))
		return -ECANCELED;
	return nbd_pread(s->h, buf, len, offset, 0) < 0 ? -EIO : 0;
}

static int nbd_write(void *ctx, const void *buf, size_t len, uint64_t offset)
{
	struct side *s = ctx;

	/* FUA: on the backup's image when acknowledged, as the mirror's writes are */
	return nbd_pwrite(s->h, buf, len, offset, LIBNBD_CMD_FLAG_FUA) < 0 ? -EIO : 0;
}

static void path_of(const char *vm, char *buf, size_t size)
{
	snprintf(buf, size, VERIFY_RUN_DIR "/%s.sock", vm);
}

/* A unix socket listening at PATH (in a directory only root enters); -errno. */
static int listen_unix(struct request *r, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, e;

	if (mkdir(VERIFY_RUN_DIR, 0700) < 0 && errno != EEXIST)
		return mirror__say(r, -errno, "cannot create %s: %s", VERIFY_RUN_DIR,
				   strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		e = -errno;
		if (fd >= 0)
			close(fd);
		return mirror__say(r, e, "cannot listen on %s: %s", path, strerror(-e));
	}
	return fd;
}

/* Undoes primary_export (what of it was done); errors ignored: nothing else uses them. */
static void primary_unexport(virDomainPtr d, const struct mirror_domain *dom)
{
	char cmd[256], *out = NULL;

	for (size_t i = 0; i < dom->n_disks; i++) {
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"block-export-del\",\"arguments\":{\"id\":\"hs-verify-%s\","
			 "\"mode\":\"hard\"}}",
			 dom->disks[i].target);
		if (virDomainQemuMonitorCommand(d, cmd, &out, 0) == 0)
			free(out);
		out = NULL;
	}
	if (virDomainQemuMonitorCommand(d, "{\"execute\":\"nbd-server-stop\"}", &out, 0) == 0)
		free(out);
}

/*
 * Whether D's QEMU still has exports of an earlier verify (a hasvcd killed
 * during one): its NBD server is then ours, to stop, not someone else's.
 */
static bool verify_leftover(virDomainPtr d)
{
	json_object *parsed = NULL, *list = NULL;
	bool found = false;

	if (mirror__qmp_return(d, "{\"execute\":\"query-block-exports\"}", &parsed, &list) < 0)
		return false;
	for (size_t k = 0; list && json_object_is_type(list, json_type_array) &&
			   k < json_object_array_length(list);
	     k++) {
		json_object *id = json_object_object_get(json_object_array_get_idx(list, k), "id");

		found = found || (id && strncmp(json_object_get_string(id), "hs-verify-", 10) == 0);
	}
	json_object_put(parsed);
	return found;
}

/*
 * The primary's read-only exports: QEMU's NBD server on the socket FD (getfd,
 * nbd-server-start), one export per disk named after its target. -EBUSY when
 * the QEMU has a server already.
 */
static int primary_export(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			  int fd)
{
	char cmd[512], *result = NULL;

	if (verify_leftover(d))
		primary_unexport(d, dom);

	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"" VERIFY_FD_NAME "\"}}");
	if (virDomainQemuMonitorCommandWithFiles(d, cmd, 1, &fd, NULL, NULL, &result, 0) < 0 ||
	    !result || strstr(result, "\"error\"")) {
		mirror__say(r, -EIO, "cannot hand the verify's socket to %s's QEMU: %s", r->vm,
			    result ? result : mirror__virt_error());
		free(result);
		return r->result;
	}
	free(result);
	if (mirror__qmp(r, d,
			"{\"execute\":\"nbd-server-start\",\"arguments\":{\"addr\":{\"type\":\"fd\","
			"\"data\":{\"str\":\"" VERIFY_FD_NAME "\"}}}}") < 0) {
		char why[MIRROR_MSG_MAX];

		snprintf(why, sizeof(why), "%s", r->message);
		mirror__qmp(r, d, "{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"" VERIFY_FD_NAME
				  "\"}}");
		if (strstr(why, "already"))
			return mirror__say(r, -EBUSY,
					   "%s's QEMU serves NBD already (a live switchover, or a "
					   "verify that did not end): verify refused: %s",
					   r->vm, why);
		return mirror__say(r, -EIO, "cannot start the verify's NBD server in %s: %s", r->vm,
				   why);
	}
	for (size_t i = 0; i < dom->n_disks; i++)
		if (mirror__export_add(r, d, &dom->disks[i], "hs-verify-", false) < 0)
			return r->result;
	return 0;
}

/* An NBD client of export TARGET: on the unix socket PATH, or HOST:PORT (TLS in TLS_DIR). */
static struct nbd_handle *client(struct request *r, const char *target, const char *path,
				 const char *host, unsigned port, const char *tls_dir)
{
	struct nbd_handle *h = nbd_create();
	char port_s[16];
	int e = -1;

	if (!h) {
		mirror__say(r, -ENOMEM, "cannot make an NBD client: %s", nbd_get_error());
		return NULL;
	}
	snprintf(port_s, sizeof(port_s), "%u", port);
	if (nbd_set_export_name(h, target) == 0 &&
	    (!tls_dir || (nbd_set_tls(h, LIBNBD_TLS_REQUIRE) == 0 &&
			  nbd_set_tls_certificates(h, tls_dir) == 0)))
		e = path ? nbd_connect_unix(h, path) : nbd_connect_tcp(h, host, port_s);
	if (e < 0) {
		mirror__say(r, -EIO, "cannot read disk %s of %s %s%s%s%s: %s", target, r->vm,
			    path ? "on this host (" : "on the backup (", path ? path : host,
			    path ? "" : ":", path ? ")" : port_s, nbd_get_error());
		nbd_close(h);
		return NULL;
	}
	return h;
}

/* "vda:OFF+LEN" appended to the verification's RANGES text (bounded). */
static void ranges_note(struct mirror_verification *v, const char *target,
			const struct mirror_verify_ranges *found, char *buf, size_t size)
{
	size_t used = strlen(buf);

	for (size_t i = 0; i < found->n; i++, v->n_ranges++) {
		if (v->n_ranges >= MIRROR_VERIFY_RANGES_SHOWN)
			continue;
		used += (size_t)snprintf(buf + used, used < size ? size - used : 0,
					 "%s%s:%" PRIu64 "+%" PRIu64, used ? ", " : "", target,
					 found->v[i].offset, found->v[i].length);
	}
}

/*
 * Copies RANGES of SIDES from the primary to the backup, the guest paused for
 * at most MIRROR_VERIFY_PAUSE_BATCH bytes at a time: a paused guest issues no
 * write, so what is copied is what the guest has, and no write of its can
 * cross the copy. Counted in R's verification.
 */
static int repair(struct request *r, virDomainPtr d, struct disk_sides *sides,
		  const struct mirror_verify_ranges *ranges)
{
	struct mirror_verification *v = &r->verification;
	struct mirror_verify_side p = {.read = nbd_read, .ctx = &sides->primary};
	struct mirror_verify_side b = {.read = nbd_read, .write = nbd_write, .ctx = &sides->backup};
	size_t i = 0;
	int e = 0;

	while (e >= 0 && i < ranges->n) {
		uint64_t batch = 0;
		int64_t t0 = mirror__now_ms(), ms;

		if (virDomainSuspend(d) < 0)
			return mirror__say(r, -EIO, "cannot pause %s for the repair: %s", r->vm,
					   mirror__virt_error());
		for (; e >= 0 && i < ranges->n && batch < MIRROR_VERIFY_PAUSE_BATCH; i++) {
			e = mirror_verify_copy(&p, &b, &ranges->v[i], MIRROR_VERIFY_CHUNK);
			batch += e >= 0 ? ranges->v[i].length : 0;
		}
		if (e >= 0 && nbd_flush(sides->backup.h, 0) < 0)
			e = -EIO;
		if (virDomainResume(d) < 0)
			e = mirror__say(r, -EIO, "cannot resume %s after the repair: %s", r->vm,
					mirror__virt_error());
		ms = mirror__now_ms() - t0;
		v->pauses++;
		v->pause_ms += (uint64_t)ms;
		if ((uint64_t)ms > v->pause_max_ms)
			v->pause_max_ms = (uint64_t)ms;
		v->repaired_bytes += batch;
	}
	if (e < 0 && r->result >= 0)
		mirror__say(r, e, "cannot repair %s: %s", r->vm, nbd_get_error());
	return e;
}

/* One disk: compared, repaired when asked, the repaired ranges compared again. */
static int verify_disk(struct request *r, virDomainPtr d, const char *target,
		       struct disk_sides *sides, char *text, size_t size)
{
	struct mirror_verification *v = &r->verification;
	struct mirror_verify_side p = {.read = nbd_read, .ctx = &sides->primary};
	struct mirror_verify_side b = {.read = nbd_read, .ctx = &sides->backup};
	struct mirror_verify_ranges found = {0}, left = {0};
	struct mirror_verify_count count, again;
	int64_t size_p = nbd_get_size(sides->primary.h), size_b = nbd_get_size(sides->backup.h);
	int e;

	if (size_p < 0 || size_b < 0 || size_p != size_b) {
		mirror__say(r, -EIO, "disk %s of %s: the primary has %" PRId64 " bytes, the backup's "
				     "export %" PRId64,
			    target, r->vm, size_p, size_b);
		return r->result;
	}
	e = mirror_verify_compare(&p, &b, 0, (uint64_t)size_p, MIRROR_VERIFY_CHUNK,
				  MIRROR_VERIFY_RECHECKS, MIRROR_VERIFY_WAIT_MS, &found, &count);
	v->bytes_compared += count.bytes;
	v->rechecked_chunks += count.rechecked;
	if (e < 0) {
		if (e == -ECANCELED)
			mirror__say(r, e, "verify of %s cancelled: hasvcd stops", r->vm);
		else
			mirror__say(r, e, "cannot compare disk %s of %s: %s", target, r->vm,
				    nbd_get_error() ?: strerror(-e));
		goto out;
	}
	v->out_of_sync_bytes += mirror_verify_ranges_bytes(&found);
	ranges_note(v, target, &found, text, size);
	if (!r->repair || found.n == 0) {
		v->remaining_bytes += mirror_verify_ranges_bytes(&found);
		goto out;
	}
	e = repair(r, d, sides, &found);
	for (size_t i = 0; e >= 0 && i < found.n; i++)
		e = mirror_verify_compare(&p, &b, found.v[i].offset, found.v[i].length,
					  MIRROR_VERIFY_CHUNK, MIRROR_VERIFY_RECHECKS,
					  MIRROR_VERIFY_WAIT_MS, &left, &again);
	v->remaining_bytes += mirror_verify_ranges_bytes(&left);
	if (e < 0 && r->result >= 0)
		mirror__say(r, e, "cannot compare the repaired ranges of disk %s of %s", target,
			    r->vm);
out:
	mirror_verify_ranges_free(&found);
	mirror_verify_ranges_free(&left);
	return e;
}

static void verify_thread(struct mirror *m, struct request *r)
{
	struct mirror_verification *v = &r->verification;
	char path[108], tls_dir[4096], text[2048] = "";
	int64_t t0 = mirror__now_ms();
	virDomainPtr d = NULL;
	struct mirror_domain *dom = mirror__domain_on(r->conn, r, &d);
	int state, fd = -1, tls, e = 0;

	mirror__answer_clear(r);
	r->answer = MIRROR__ANSWER_VERIFY;
	if (!dom)
		return;
	if (mirror__domain_state(r, d, &state) < 0)
		goto out;
	if (state != VIR_DOMAIN_RUNNING) {
		mirror__say(r, -ESRCH, "%s does not run here (state %d): nothing to verify", r->vm,
			    state);
		goto out;
	}
	tls = mirror__tls_for(r, tls_dir, sizeof(tls_dir));
	if (tls < 0)
		goto out;
	path_of(r->vm, path, sizeof(path));
	fd = listen_unix(r, path);
	if (fd < 0)
		goto out;
	if (primary_export(r, d, dom, fd) < 0)
		goto out_unexport;
	for (size_t i = 0; e >= 0 && i < dom->n_disks; i++) {
		const char *target = dom->disks[i].target;
		struct disk_sides sides = {
			.primary = {client(r, target, path, NULL, 0, NULL), m},
			.backup = {client(r, target, NULL, r->host, r->port, tls ? tls_dir : NULL), m},
		};

		e = sides.primary.h && sides.backup.h
			? verify_disk(r, d, target, &sides, text, sizeof(text))
			: r->result;
		nbd_close(sides.primary.h);
		nbd_close(sides.backup.h);
	}
	if (e >= 0) {
		if (v->n_ranges > MIRROR_VERIFY_RANGES_SHOWN) {
			size_t used = strlen(text);

			snprintf(text + used, sizeof(text) - used, " ... and %" PRIu64 " more",
				 v->n_ranges - MIRROR_VERIFY_RANGES_SHOWN);
		}
		v->ranges = strdup(text);
		v->elapsed_ms = (uint64_t)(mirror__now_ms() - t0);
		if (v->out_of_sync_bytes == 0)
			mirror__say(r, 0, "%s: %" PRIu64 " bytes compared in %" PRIu64 " ms: in sync",
				    r->vm, v->bytes_compared, v->elapsed_ms);
		else if (!r->repair)
			mirror__say(r, 0,
				    "%s: %" PRIu64 " bytes compared in %" PRIu64 " ms: %" PRIu64
				    " bytes out of sync in %" PRIu64 " range(s): %s",
				    r->vm, v->bytes_compared, v->elapsed_ms, v->out_of_sync_bytes,
				    v->n_ranges, text);
		else
			mirror__say(r, 0,
				    "%s: %" PRIu64 " bytes compared in %" PRIu64 " ms: %" PRIu64
				    " bytes out of sync in %" PRIu64 " range(s) (%s), %" PRIu64
				    " repaired with the guest paused %u time(s), %" PRIu64
				    " ms in all (longest %" PRIu64 " ms); %" PRIu64
				    " bytes still differ",
				    r->vm, v->bytes_compared, v->elapsed_ms, v->out_of_sync_bytes,
				    v->n_ranges, text, v->repaired_bytes, v->pauses, v->pause_ms,
				    v->pause_max_ms, v->remaining_bytes);
	}
out_unexport:
	primary_unexport(d, dom);
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
	virDomainFree(d);
	mirror_domain_free(dom);
}

/* On the mirror thread: the connection, for the thread that verifies. */
static void verify_run(struct mirror *m, struct request *r)
{
	virConnectPtr conn = mirror__connection(m, r);

	if (!conn)
		return;
	if (virConnectRef(conn) < 0) {
		mirror__say(r, -EIO, "cannot verify %s: %s", r->vm, mirror__virt_error());
		return;
	}
	r->conn = conn;
	r->on_thread = verify_thread;
}

int mirror_verify_typed(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
			bool repair_ranges, mirror_reply_fn done, void *userdata)
{
	struct request *r = NULL;
	int e;

	if (!nbd_host || !port)
		return -EINVAL;
	e = mirror__submit_vm(m, verify_run, vm, NULL, done, userdata, &r);
	if (e < 0)
		return e;
	r->host = strdup(nbd_host);
	if (!r->host) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	r->port = port;
	r->repair = repair_ranges;
	return mirror__submit(m, r);
}
