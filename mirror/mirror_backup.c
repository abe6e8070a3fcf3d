// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_backup: the backup's side of a pair, on the backup host. Prepare
 * makes the paused copy the primary's block jobs write into; teardown
 * removes it.
 *
 * Prepare: the primary's definition becomes the backup's (mirror_xml_backup:
 * same name and uuid, the disks shareable by the NBD exports); missing
 * images are created with qemu-img at the primary's virtual sizes; the
 * domain is defined and started paused, so QEMU opens the images but the
 * guest runs nowhere but on the primary; QEMU's NBD server is started and
 * every mirrored disk's format node exported, writable and writethrough (a
 * write the primary's mirror sent is on the backup's disk when acknowledged).
 * The memory check comes before anything is touched, so a backup that would
 * not fit never replaces one that does. A failure part-way removes what this
 * call made (the domain, the images it created): nothing half-made is left.
 *
 * Teardown removes only a hasvc backup (mirror_xml_is_backup) that is not
 * running: the same name on another host may be anyone's guest.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "mirror.h"
#include "mirror_internal.h"
#include "mirror_memory.h"
#include "mirror_tls.h"
#include "mirror_xml.h"

#define PORT_TRIES 16 /* prepare: ports tried from the one asked for */

extern char **environ;

/* mkdir -p of FILE's directory: the backup host may never have held an image there. */
static int parent_dir_create(struct request *r, const char *file)
{
	char *dir = strdup(file), *slash;
	int ret = 0;

	if (!dir)
		return mirror__say(r, -ENOMEM, "out of memory");
	for (slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			ret = mirror__say(r, -errno, "cannot create %s for %s: %s", dir, file,
					  strerror(errno));
			break;
		}
		*slash = '/';
	}
	free(dir);
	return ret;
}

static int image_create(struct request *r, const struct mirror_disk *d, uint64_t bytes)
{
	char size[32];
	char *argv[] = {"qemu-img", "create", "-q", "-f", d->format, d->source, size, NULL};
	pid_t pid;
	int status;

	snprintf(size, sizeof(size), "%llu", (unsigned long long)bytes);
	if (parent_dir_create(r, d->source) < 0)
		return r->result;
	if (posix_spawnp(&pid, "qemu-img", NULL, NULL, argv, environ) != 0)
		return mirror__say(r, -ENOENT, "cannot run qemu-img to create %s", d->source);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return mirror__say(r, -EIO, "qemu-img could not create %s (%llu bytes)", d->source,
				   (unsigned long long)bytes);
	return 0;
}

/*
 * A domain of that name is defined here already. An old backup of ours
 * (paused, or shut off) is replaced; a stopped domain is redefined (the old
 * primary host taking the backup role after a failover or switchover). A
 * running guest is never touched.
 */
static int make_room(struct request *r, virDomainPtr d, const char *name)
{
	int state = VIR_DOMAIN_NOSTATE, reason;
	char *xml;
	bool ours;

	if (virDomainGetState(d, &state, &reason, 0) < 0)
		return mirror__say(r, -EIO, "cannot read the state of %s: %s", name,
				   mirror__virt_error());
	/*
	 * A guest that migrated away from here (a live switchover: this host is
	 * the old primary, and the pair heard of the guest's arrival before
	 * libvirt here had reaped its QEMU, 1.5-2 s): paused by the migration,
	 * then "being shut down" (VIR_DOMAIN_SHUTDOWN: its QEMU quitting), then
	 * shut off. Waited for, not refused.
	 */
	for (int i = 0; i < 100 && (state == VIR_DOMAIN_SHUTDOWN ||
				    (state == VIR_DOMAIN_PAUSED && (reason == VIR_DOMAIN_PAUSED_MIGRATION ||
								    reason == VIR_DOMAIN_PAUSED_POSTCOPY)));
	     i++) {
		usleep(100 * 1000);
		if (virDomainGetState(d, &state, &reason, 0) < 0)
			return mirror__say(r, -EIO, "cannot read the state of %s: %s", name,
					   mirror__virt_error());
	}
	if (state == VIR_DOMAIN_SHUTOFF)
		return 0;
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	ours = mirror_xml_is_backup(xml);
	free(xml);
	if (state == VIR_DOMAIN_RUNNING)
		return mirror__say(
		    r, -EEXIST, "%s is running on this host; refusing to replace it with a backup",
		    name);
	if (state != VIR_DOMAIN_PAUSED || !ours)
		return mirror__say(r, -EEXIST,
				   "%s is active on this host (state %d, reason %d), not a backup of "
				   "ours; refusing to replace it with a backup",
				   name, state, reason);
	if (virDomainDestroy(d) < 0)
		return mirror__say(r, -EIO, "cannot stop the old backup %s: %s", name,
				   mirror__virt_error());
	return 0;
}

/* OBJ as a QMP command: "{"execute":EXECUTE,"arguments":OBJ}" in CMD; OBJ is put. */
static int qmp_build(const char *execute, json_object *obj, char *cmd, size_t len)
{
	json_object *c = json_object_new_object();
	int n;

	json_object_object_add(c, "execute", json_object_new_string(execute));
	json_object_object_add(c, "arguments", obj);
	n = snprintf(cmd, len, "%s", json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
	json_object_put(c);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * With TLS (mirror__tls_for): the NBD server's credentials and who may
 * connect, as QOM objects of the backup's QEMU, made with object-add (libvirt
 * has no API for an NBD server of our own: docs/mirror.md). They live as long
 * as this QEMU, as the exports do. ARGS gets nbd-server-start's TLS arguments
 * and, TLS or not, max-connections: the block copy holds one connection per
 * disk; one more per disk lets a restarted mirror or a reconnecting client in
 * while QEMU still holds the old connection, and one an operator's read. A
 * 0 return with *RET_TLS false is plain NBD.
 */
static int tls_objects_add(struct request *r, virDomainPtr d, size_t n_disks, json_object *args,
			   bool *ret_tls)
{
	char dir[4096], msg[MIRROR_MSG_MAX], cmd[8192];
	json_object *o, *rules;
	int tls;

	json_object_object_add(args, "max-connections", json_object_new_int((int)(2 * n_disks + 1)));
	tls = mirror__tls_export(r, dir, sizeof(dir), &rules);
	*ret_tls = tls > 0;
	if (tls <= 0)
		return tls;

	o = json_object_new_object();
	json_object_object_add(o, "qom-type", json_object_new_string("tls-creds-x509"));
	json_object_object_add(o, "id", json_object_new_string("hasvc-tls"));
	json_object_object_add(o, "dir", json_object_new_string(dir));
	json_object_object_add(o, "endpoint", json_object_new_string("server"));
	json_object_object_add(o, "verify-peer", json_object_new_boolean(true));
	if (qmp_build("object-add", o, cmd, sizeof(cmd)) < 0 || mirror__qmp(r, d, cmd) < 0) {
		json_object_put(rules);
		snprintf(msg, sizeof(msg), "%s", r->message);
		return mirror__say(r, -EIO, "cannot load the TLS credentials of %s: %s", dir,
				   msg);
	}
	json_object_object_add(args, "tls-creds", json_object_new_string("hasvc-tls"));
	if (!rules)
		return 0;

	o = json_object_new_object();
	json_object_object_add(o, "qom-type", json_object_new_string("authz-list"));
	json_object_object_add(o, "id", json_object_new_string("hasvc-authz"));
	json_object_object_add(o, "policy", json_object_new_string("deny"));
	json_object_object_add(o, "rules", rules);
	if (qmp_build("object-add", o, cmd, sizeof(cmd)) < 0 || mirror__qmp(r, d, cmd) < 0) {
		snprintf(msg, sizeof(msg), "%s", r->message);
		return mirror__say(r, -EIO, "cannot limit the exports to %s: %s", r->peer,
				   msg);
	}
	json_object_object_add(args, "tls-authz", json_object_new_string("hasvc-authz"));
	return 0;
}

/*
 * Starts the backup's NBD server on R's host at *PORT, or, when something
 * else holds that port (a service of the host's own, a backup QEMU left from
 * before), at one of the next PORT_TRIES - 1 ports; *PORT is the one bound.
 * Another error (bad address) is not retried. OPTIONS: nbd-server-start's
 * arguments but the address (tls_objects_add).
 */
static int nbd_listen(struct request *r, virDomainPtr d, json_object *options, unsigned *port)
{
	char cmd[1024], portstr[16];
	int ret = -EADDRINUSE;

	for (unsigned i = 0; i < PORT_TRIES && *port + i <= 65535; i++) {
		json_object *args = NULL, *addr, *data;

		if (json_object_deep_copy(options, &args, NULL) < 0)
			return mirror__say(r, -ENOMEM, "out of memory");
		addr = json_object_new_object();
		data = json_object_new_object();
		snprintf(portstr, sizeof(portstr), "%u", *port + i);
		json_object_object_add(data, "host", json_object_new_string(r->host));
		json_object_object_add(data, "port", json_object_new_string(portstr));
		json_object_object_add(addr, "type", json_object_new_string("inet"));
		json_object_object_add(addr, "data", data);
		json_object_object_add(args, "addr", addr);
		if (qmp_build("nbd-server-start", args, cmd, sizeof(cmd)) < 0)
			return mirror__say(r, -EINVAL, "address %s too long", r->host);
		ret = mirror__qmp(r, d, cmd);
		if (ret == 0) {
			*port += i;
			return 0;
		}
		if (!strstr(r->message, "Address already in use"))
			return ret;
	}
	return mirror__say(r, -EADDRINUSE,
			   "ports %u to %u on %s are all in use; cannot export the backup", *port,
			   *port + PORT_TRIES - 1, r->host);
}

/*
 * The running backup is still in step (mirror_backup_keep.c): its QEMU,
 * NBD server and exports stay, and the primary's paused jobs resume into
 * them. Only the disks' identity moves on to this prepare's token, as a
 * fresh start would have it.
 */
static void keep_running(struct request *r, const struct mirror_domain *dom)
{
	/* the check found the attribute on every disk: the filesystem has user xattrs */
	if (mirror__identity_mark(r, dom, r->id_next) < 0)
		return;
	r->disk_check.same = true;
	r->disk_check.reason = NULL;
	r->port_bound = r->port;
	r->answer = MIRROR__ANSWER_PORT;
	mirror__say(r, 0,
		    "backup %s kept as it runs: paused, its disks in step, %zu disk(s) still "
		    "exported on %s:%u",
		    dom->name, dom->n_disks, r->host, r->port);
}

static void prepare_run(struct mirror *m, struct request *r)
{
	struct mirror_domain *dom = NULL;
	char *backup_xml = NULL, *error = NULL;
	bool *created = NULL;
	virDomainPtr d = NULL;
	bool defined = false;
	virConnectPtr conn;
	unsigned port = r->port;
	json_object *listen_args = json_object_new_object();
	bool tls = false, unmarked = false;
	char why_not_kept[320] = "";
	int standin = 0;

	if (mirror_domain_parse(r->xml, &dom, &error) < 0 ||
	    mirror_xml_backup(r->xml, &backup_xml, &error) < 0) {
		mirror__say(r, -EINVAL, "%s", error ? error : "bad domain XML");
		goto out;
	}
	if (dom->n_disks != r->n_disks) {
		mirror__say(r, -EINVAL, "%s has %zu local disks, but %zu sizes were given",
			    dom->name, dom->n_disks, r->n_disks);
		goto out;
	}
	if (!(conn = mirror__connection(m, r)))
		goto out;
	d = virDomainLookupByName(conn, dom->name);
	if (d && r->fresh) {
		mirror__say(r, -EEXIST, "a domain named %s is already defined on this host",
			    dom->name);
		goto out;
	}
	for (size_t i = 0; r->fresh && i < dom->n_disks; i++) {
		struct stat st;
		if (stat(dom->disks[i].source, &st) == 0) {
			mirror__say(r, -EEXIST,
				    "%s exists on this host already; refusing to overwrite it",
				    dom->disks[i].source);
			goto out;
		}
	}
	/* Before anything is touched: an old backup is only replaced by one that fits. */
	if (mirror_memory_check(conn, dom->name, dom->memory_bytes, r->memory_reserve,
				r->message, sizeof(r->message)) < 0) {
		r->result = -ENOMEM;
		goto out;
	}
	/*
	 * A stand-in serving these images (a live switchover) goes before the
	 * backup's QEMU opens them: two processes caching one qcow2's metadata
	 * would corrupt it. The primary's job pauses meanwhile and resumes into
	 * the new export with what was written in the gap.
	 */
	if (!r->fresh && (standin = mirror__standin_stop(r, dom->name)) < 0)
		goto out;
	if (d && !r->fresh && standin == 0) {
		int keep = mirror__backup_keepable(r, d, dom, why_not_kept, sizeof(why_not_kept));

		if (keep < 0)
			goto out;
		if (keep > 0) {
			keep_running(r, dom);
			goto out;
		}
	}
	if (d && make_room(r, d, dom->name) < 0)
		goto out;
	if (d) {
		virDomainFree(d);
		d = NULL;
	}
	created = calloc(dom->n_disks, sizeof(*created));
	for (size_t i = 0; created && i < dom->n_disks; i++) {
		struct stat st;
		if (stat(dom->disks[i].source, &st) == 0)
			continue;
		if (image_create(r, &dom->disks[i], r->disk_bytes[i]) < 0)
			goto out_undo;
		created[i] = true;
	}
	/*
	 * The disks' identity, read before QEMU opens them and written after
	 * the check: a prepare that fails from here leaves the new token on
	 * them, which the cluster never recorded, so the next return copies
	 * in full. Never wrong, only slower.
	 */
	if (r->id_next && created) {
		int marked;

		r->disk_check.same = mirror__identity_check(dom, created, r->id_expected,
							    r->disk_reason,
							    sizeof(r->disk_reason)) == 1;
		r->disk_check.reason = r->disk_check.same ? NULL : r->disk_reason;
		marked = mirror__identity_mark(r, dom, r->id_next);
		/*
		 * A filesystem without user xattrs: the next check cannot read
		 * one either, so every return copies in full. Slower, never
		 * wrong; said in the answer. Any other failure is the prepare's.
		 */
		if (marked == -ENOTSUP || marked == -EOPNOTSUPP)
			unmarked = true;
		else if (marked < 0)
			goto out_undo;
	}
	d = virDomainDefineXML(conn, backup_xml);
	if (!d) {
		mirror__say(r, -EINVAL, "cannot define backup %s: %s", dom->name,
			    mirror__virt_error());
		goto out_undo;
	}
	defined = true;
	if (virDomainCreateWithFlags(d, VIR_DOMAIN_START_PAUSED) < 0) {
		mirror__say(r, -EIO, "cannot start backup %s paused: %s", dom->name,
			    mirror__virt_error());
		goto out_undo;
	}
	if (!listen_args) {
		mirror__say(r, -ENOMEM, "out of memory");
		goto out_undo;
	}
	if (tls_objects_add(r, d, dom->n_disks, listen_args, &tls) < 0 ||
	    nbd_listen(r, d, listen_args, &port) < 0)
		goto out_undo;
	for (size_t i = 0; i < dom->n_disks; i++)
		if (mirror__export_add(r, d, &dom->disks[i], "hasvc-", true) < 0)
			goto out_undo;
	mirror__backup_record(r, d, port, tls);
	mirror__backup_keepalive(r, dom, port);
	mirror__backup_trace_refusals(d, dom->name);
	r->port_bound = port;
	r->answer = MIRROR__ANSWER_PORT;
	mirror__say(r, 0, "backup %s defined, paused, %zu disk(s) exported on %s:%u%s%s%s%s%s%s%s%s%s",
		    dom->name, dom->n_disks, r->host, port,
		    !tls ? "" : r->peer ? " (TLS, for CN=" : " (TLS, any certificate of the CA",
		    tls && r->peer ? r->peer : "", tls ? ")" : "",
		    standin > 0 ? "; its stand-in stopped first" : "",
		    r->disk_check.reason ? "; " : "",
		    r->disk_check.reason ? r->disk_check.reason : "",
		    unmarked ? "; the disks' identity is not recorded (no user xattrs on this "
			       "filesystem): every return copies in full"
			     : "",
		    why_not_kept[0] ? "; the running backup was started afresh: " : "",
		    why_not_kept);
	goto out;

out_undo:
	/* Nothing half-made is left: the domain and the images we created go. */
	if (d && defined) {
		virDomainDestroy(d);
		virDomainUndefine(d);
	}
	for (size_t i = 0; created && i < dom->n_disks; i++)
		if (created[i])
			unlink(dom->disks[i].source);
out:
	if (d)
		virDomainFree(d);
	json_object_put(listen_args);
	free(created);
	free(backup_xml);
	free(error);
	mirror_domain_free(dom);
}


static void teardown_run(struct mirror *m, struct request *r)
{
	virConnectPtr conn;
	virDomainPtr d = NULL;
	struct mirror_domain *dom = NULL;
	int state = VIR_DOMAIN_NOSTATE, reason;
	char *xml = NULL, *error = NULL;

	if (!(conn = mirror__connection(m, r)))
		return;
	d = virDomainLookupByName(conn, r->vm);
	if (!d) {
		mirror__say(r, 0, "no backup %s on this host: nothing to remove", r->vm);
		return;
	}
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	if (virDomainGetState(d, &state, &reason, 0) < 0) {
		mirror__say(r, -EIO, "cannot read the state of %s: %s", r->vm,
			    mirror__virt_error());
		goto out;
	}
	/* Not ours, or a guest that runs: nothing of the backup is here to remove. */
	if (!mirror_xml_is_backup(xml) || state == VIR_DOMAIN_RUNNING) {
		mirror__say(r, 0, "%s on this host is not a hasvc backup; left alone", r->vm);
		goto out;
	}
	if (mirror_domain_parse(xml, &dom, &error) < 0) {
		mirror__say(r, -EINVAL, "%s", error ?: "bad domain XML");
		goto out;
	}
	if (state != VIR_DOMAIN_SHUTOFF && virDomainDestroy(d) < 0) {
		mirror__say(r, -EIO, "cannot stop backup %s: %s", r->vm, mirror__virt_error());
		goto out;
	}
	if (virDomainUndefine(d) < 0) {
		mirror__say(r, -EIO, "cannot undefine backup %s: %s", r->vm, mirror__virt_error());
		goto out;
	}
	for (size_t i = 0; i < dom->n_disks; i++)
		unlink(dom->disks[i].source);
	mirror__say(r, 0, "backup %s removed with its %zu image(s)", r->vm, dom->n_disks);
out:
	free(xml);
	free(error);
	mirror_domain_free(dom);
	virDomainFree(d);
}

static int prepare_submit(struct mirror *m, const char *primary_xml, const uint64_t *disk_bytes,
			  size_t n_disks, const char *nbd_addr, unsigned port, bool fresh,
			  uint64_t memory_reserve, const char *peer,
			  const struct mirror_disk_identity *identity, mirror_done_fn done,
			  mirror_reply_fn reply, void *userdata)
{
	struct request *r;

	/* a node name, nothing a distinguished name would read differently */
	if (peer && (!*peer || strspn(peer, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789._-") != strlen(peer)))
		return -EINVAL;
	r = mirror__request_new(prepare_run, done, reply, userdata);
	if (!r)
		return -ENOMEM;
	if (peer && !(r->peer = strdup(peer))) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	if (identity && identity->next &&
	    (!(r->id_next = strdup(identity->next)) ||
	     (identity->expected && !(r->id_expected = strdup(identity->expected))))) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	r->memory_reserve = memory_reserve;
	r->xml = strdup(primary_xml);
	r->host = strdup(nbd_addr);
	r->port = port;
	r->fresh = fresh;
	r->n_disks = n_disks;
	r->disk_bytes = calloc(n_disks ? n_disks : 1, sizeof(*disk_bytes));
	if (!r->xml || !r->host || !r->disk_bytes) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	memcpy(r->disk_bytes, disk_bytes, n_disks * sizeof(*disk_bytes));
	return mirror__submit(m, r);
}

int mirror_backup_prepare(struct mirror *m, const char *primary_xml, const uint64_t *disk_bytes,
			  size_t n_disks, const char *nbd_addr, unsigned port, bool fresh,
			  uint64_t memory_reserve, mirror_done_fn done, void *userdata)
{
	return prepare_submit(m, primary_xml, disk_bytes, n_disks, nbd_addr, port, fresh,
			      memory_reserve, NULL, NULL, done, NULL, userdata);
}

int mirror_backup_prepare_typed(struct mirror *m, const char *primary_xml,
				const uint64_t *disk_bytes, size_t n_disks, const char *nbd_addr,
				unsigned port, bool fresh, uint64_t memory_reserve,
				mirror_reply_fn done, void *userdata)
{
	return prepare_submit(m, primary_xml, disk_bytes, n_disks, nbd_addr, port, fresh,
			      memory_reserve, NULL, NULL, NULL, done, userdata);
}

int mirror_backup_prepare_tls(struct mirror *m, const char *primary_xml,
			      const uint64_t *disk_bytes, size_t n_disks, const char *nbd_addr,
			      unsigned port, bool fresh, uint64_t memory_reserve,
			      const char *primary_node, const struct mirror_disk_identity *identity,
			      mirror_reply_fn done, void *userdata)
{
	return prepare_submit(m, primary_xml, disk_bytes, n_disks, nbd_addr, port, fresh,
			      memory_reserve, primary_node, identity, NULL, done, userdata);
}

int mirror_teardown(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return mirror__submit_vm(m, teardown_run, vm, done, NULL, userdata, NULL);
}
