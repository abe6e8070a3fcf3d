// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror: the libvirt thread and the operations it runs.
 *
 * Threads. The caller's thread (the daemon's qb_loop) only queues requests
 * and reads results. The mirror thread owns the libvirt connection and runs
 * virEventRunDefaultImpl(); a request eventfd registered in that event loop
 * wakes it, and it runs queued requests one at a time (blocking calls are
 * fine there: that is what the thread is for). Each result goes on the done
 * list and the done eventfd, polled on the qb_loop, wakes the caller's thread,
 * which runs the completion callbacks. The two lists are the only shared
 * data, each under the one mutex.
 *
 * The connection is opened lazily by the thread and re-opened when a call
 * finds it dead, so a libvirtd restart costs one failed request, not the
 * daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "mirror.h"
#include "mirror_memory.h"
#include "mirror_sockets.h"
#include "mirror_xml.h"

#define DRAIN_TIMEOUT_S 120
#define COPY_BUF_BYTES (64ULL << 20)       /* block copy: bytes in flight */
#define COPY_GRANULARITY_SYNC (1U << 20)   /* block copy, sync mode: chunk size */
#define MSG_MAX 512
#define PORT_TRIES 16 /* prepare: ports tried from the one asked for */

extern char **environ;

enum op {
	OP_PREPARE,
	OP_START,
	OP_PROMOTE,
	OP_INSPECT,
	OP_JOBS,
	OP_CUT,
	OP_STOP_PRIMARY,
	OP_RESTART,
	OP_TEARDOWN,
};

struct request {
	struct request *next;
	enum op op;
	char *xml;      /* OP_PREPARE */
	uint64_t *disk_bytes;
	size_t n_disks;
	char *vm;       /* OP_START, OP_PROMOTE */
	char *host;     /* NBD address */
	unsigned port;
	char *note;     /* OP_CUT: what closing the connections did */
	bool sync;
	bool fresh;     /* OP_PREPARE: a new pair, nothing of that name may exist */
	uint64_t memory_reserve; /* OP_PREPARE: bytes this host keeps for itself */
	uint64_t bandwidth_mib;
	unsigned timeout_s;
	mirror_done_fn done;
	void *userdata;
	int result;
	char message[MSG_MAX];
	json_object *data; /* the answer, for the operations that have one */
};

struct mirror {
	qb_loop_t *loop;
	char *uri;
	pthread_t thread;
	bool thread_started;
	int request_fd; /* eventfd: caller -> thread */
	int done_fd;    /* eventfd: thread -> caller */
	int watch;      /* libvirt event handle of request_fd */
	pthread_mutex_t lock;
	struct request *requests, *done; /* LIFO under lock; done is reversed before use */
	bool stopping;
	virConnectPtr conn; /* thread only */
	int job_callback;   /* thread only: libvirt's id of our block job callback, -1 none */
	mirror_done_fn job_event; /* under lock: block job events go there */
	void *job_event_userdata;
};

static void request_free(struct request *r)
{
	if (!r)
		return;
	free(r->xml);
	free(r->disk_bytes);
	free(r->vm);
	free(r->host);
	free(r->note);
	json_object_put(r->data);
	free(r);
}

static int say(struct request *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(struct request *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	r->result = err;
	return err;
}

static const char *virt_error(void)
{
	const virError *e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

/* Puts R on LIST (under the lock) and wakes the reader through eventfd FD. */
static int queue_push(struct mirror *m, struct request **list, int fd, struct request *r)
{
	uint64_t one = 1;

	pthread_mutex_lock(&m->lock);
	r->next = *list;
	*list = r;
	pthread_mutex_unlock(&m->lock);
	return write(fd, &one, sizeof(one)) < 0 ? -errno : 0;
}

/* --- on the mirror thread ------------------------------------------------ */

/* Hands R to the caller's thread. A failed eventfd write only means the
 * counter saturated: the reader takes the whole list anyway. */
static void done_push(struct mirror *m, struct request *r)
{
	(void)queue_push(m, &m->done, m->done_fd, r);
}

static const char *job_status_name(int status)
{
	switch (status) {
	case VIR_DOMAIN_BLOCK_JOB_COMPLETED: return "completed";
	case VIR_DOMAIN_BLOCK_JOB_FAILED: return "failed";
	case VIR_DOMAIN_BLOCK_JOB_CANCELED: return "canceled";
	case VIR_DOMAIN_BLOCK_JOB_READY: return "ready";
	default: return "unknown";
	}
}

/*
 * libvirt's VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, on this thread: passed on as a
 * result of no request, to the function mirror_on_job_event() set. Only a
 * hint that something changed: the state is read again with mirror_jobs.
 */
static void job_event(virConnectPtr conn, virDomainPtr dom, const char *disk, int type,
		      int status, void *opaque)
{
	struct mirror *m = opaque;
	struct request *r;
	mirror_done_fn fn;
	void *userdata;

	pthread_mutex_lock(&m->lock);
	fn = m->job_event;
	userdata = m->job_event_userdata;
	pthread_mutex_unlock(&m->lock);
	if (!fn || type != VIR_DOMAIN_BLOCK_JOB_TYPE_COPY ||
	    !(r = calloc(1, sizeof(*r))))
		return;
	r->done = fn;
	r->userdata = userdata;
	r->result = status == VIR_DOMAIN_BLOCK_JOB_FAILED ? -EIO : 0;
	snprintf(r->message, sizeof(r->message), "block job on disk %s of %s: %s", disk,
		 virDomainGetName(dom), job_status_name(status));
	r->data = json_object_new_object();
	json_object_object_add(r->data, "vm", json_object_new_string(virDomainGetName(dom)));
	json_object_object_add(r->data, "disk", json_object_new_string(disk));
	json_object_object_add(r->data, "status", json_object_new_string(job_status_name(status)));
	done_push(m, r);
}

static int connection(struct mirror *m, struct request *r)
{
	if (m->conn && virConnectIsAlive(m->conn) == 1)
		return 0;
	if (m->conn) {
		if (m->job_callback >= 0)
			virConnectDomainEventDeregisterAny(m->conn, m->job_callback);
		m->job_callback = -1;
		virConnectClose(m->conn);
	}
	m->conn = virConnectOpen(m->uri);
	if (!m->conn)
		return say(r, -ECONNREFUSED, "cannot connect to libvirt at %s: %s", m->uri,
			   virt_error());
	/* without it (an old libvirtd) the jobs are still polled: not an error */
	m->job_callback = virConnectDomainEventRegisterAny(
	    m->conn, NULL, VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, VIR_DOMAIN_EVENT_CALLBACK(job_event), m,
	    NULL);
	return 0;
}

/* QMP command CMD on DOM; -EIO with QEMU's error in the request's message. */
static int qmp(struct request *r, virDomainPtr dom, const char *cmd)
{
	char *reply = NULL;
	json_object *parsed = NULL, *error;
	int ret = 0;

	if (virDomainQemuMonitorCommand(dom, cmd, &reply, 0) < 0)
		return say(r, -EIO, "QMP %s failed: %s", cmd, virt_error());
	parsed = json_tokener_parse(reply);
	if (parsed && json_object_object_get_ex(parsed, "error", &error))
		ret = say(r, -EIO, "QMP %s refused: %s", cmd,
			  json_object_get_string(json_object_object_get(error, "desc")));
	json_object_put(parsed);
	free(reply);
	return ret;
}

/* The name of the format node QEMU opened for FILE (e.g. "libvirt-1-format"). */
static int format_node(struct request *r, virDomainPtr dom, const char *file, char *ret,
		       size_t len)
{
	char *reply = NULL;
	json_object *parsed, *nodes;
	int found = -ENOENT;

	if (virDomainQemuMonitorCommand(
		    dom, "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}",
		    &reply, 0) < 0)
		return say(r, -EIO, "cannot list block nodes: %s", virt_error());
	parsed = json_tokener_parse(reply);
	if (parsed && json_object_object_get_ex(parsed, "return", &nodes)) {
		for (size_t i = 0; i < json_object_array_length(nodes); i++) {
			json_object *n = json_object_array_get_idx(nodes, i);
			const char *f = json_object_get_string(json_object_object_get(n, "file"));
			const char *drv = json_object_get_string(json_object_object_get(n, "drv"));
			const char *name = json_object_get_string(json_object_object_get(n, "node-name"));
			if (f && drv && name && strcmp(f, file) == 0 && strcmp(drv, "file") != 0) {
				snprintf(ret, len, "%s", name);
				found = 0;
				break;
			}
		}
	}
	json_object_put(parsed);
	free(reply);
	if (found < 0)
		say(r, found, "QEMU has no block node for %s", file);
	return found;
}

/* mkdir -p of FILE's directory: the backup host may never have held an image there. */
static int parent_dir_create(struct request *r, const char *file)
{
	char *dir = strdup(file), *slash;
	int ret = 0;

	if (!dir)
		return say(r, -ENOMEM, "out of memory");
	for (slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			ret = say(r, -errno, "cannot create %s for %s: %s", dir, file, strerror(errno));
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
		return say(r, -ENOENT, "cannot run qemu-img to create %s", d->source);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return say(r, -EIO, "qemu-img could not create %s (%llu bytes)", d->source,
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
		return say(r, -EIO, "cannot read the state of %s: %s", name, virt_error());
	if (state == VIR_DOMAIN_SHUTOFF)
		return 0;
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	ours = mirror_xml_is_backup(xml);
	free(xml);
	if (state != VIR_DOMAIN_PAUSED || !ours)
		return say(r, -EEXIST, "%s is running on this host; refusing to replace it with a backup",
			   name);
	if (virDomainDestroy(d) < 0)
		return say(r, -EIO, "cannot stop the old backup %s: %s", name, virt_error());
	return 0;
}

/*
 * Starts the backup's NBD server on R's host at *PORT, or, when something
 * else holds that port (a service of the host's own, a backup QEMU left from
 * before), at one of the next PORT_TRIES - 1 ports; *PORT is the one bound.
 * Another error (bad address) is not retried.
 */
static int nbd_listen(struct request *r, virDomainPtr d, unsigned *port)
{
	char cmd[512];
	int ret = -EADDRINUSE;

	for (unsigned i = 0; i < PORT_TRIES && *port + i <= 65535; i++) {
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"nbd-server-start\",\"arguments\":{\"addr\":{\"type\":"
			 "\"inet\",\"data\":{\"host\":\"%s\",\"port\":\"%u\"}}}}",
			 r->host, *port + i);
		ret = qmp(r, d, cmd);
		if (ret == 0) {
			*port += i;
			return 0;
		}
		if (!strstr(r->message, "Address already in use"))
			return ret;
	}
	return say(r, -EADDRINUSE, "ports %u to %u on %s are all in use; cannot export the backup",
		   *port, *port + PORT_TRIES - 1, r->host);
}

static void op_prepare(struct mirror *m, struct request *r)
{
	struct mirror_domain *dom = NULL;
	char *backup_xml = NULL, *error = NULL;
	bool *created = NULL;
	virDomainPtr d = NULL;
	bool defined = false;
	char cmd[1024], node[128];
	unsigned port = r->port;

	if (mirror_domain_parse(r->xml, &dom, &error) < 0 ||
	    mirror_xml_backup(r->xml, &backup_xml, &error) < 0) {
		say(r, -EINVAL, "%s", error ? error : "bad domain XML");
		goto out;
	}
	if (dom->n_disks != r->n_disks) {
		say(r, -EINVAL, "%s has %zu local disks, but %zu sizes were given", dom->name,
		    dom->n_disks, r->n_disks);
		goto out;
	}
	if (connection(m, r) < 0)
		goto out;
	d = virDomainLookupByName(m->conn, dom->name);
	if (d && r->fresh) {
		say(r, -EEXIST, "a domain named %s is already defined on this host", dom->name);
		goto out;
	}
	for (size_t i = 0; r->fresh && i < dom->n_disks; i++) {
		struct stat st;
		if (stat(dom->disks[i].source, &st) == 0) {
			say(r, -EEXIST, "%s exists on this host already; refusing to overwrite it",
			    dom->disks[i].source);
			goto out;
		}
	}
	/* Before anything is touched: an old backup is only replaced by one that fits. */
	if (mirror_memory_check(m->conn, dom->name, dom->memory_bytes, r->memory_reserve,
				r->message, sizeof(r->message)) < 0) {
		r->result = -ENOMEM;
		goto out;
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
	d = virDomainDefineXML(m->conn, backup_xml);
	if (!d) {
		say(r, -EINVAL, "cannot define backup %s: %s", dom->name, virt_error());
		goto out_undo;
	}
	defined = true;
	if (virDomainCreateWithFlags(d, VIR_DOMAIN_START_PAUSED) < 0) {
		say(r, -EIO, "cannot start backup %s paused: %s", dom->name, virt_error());
		goto out_undo;
	}
	if (nbd_listen(r, d, &port) < 0)
		goto out_undo;
	for (size_t i = 0; i < dom->n_disks; i++) {
		if (format_node(r, d, dom->disks[i].source, node, sizeof(node)) < 0)
			goto out_undo;
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"block-export-add\",\"arguments\":{\"type\":\"nbd\","
			 "\"id\":\"hasvc-%s\",\"node-name\":\"%s\",\"name\":\"%s\","
			 "\"writable\":true,\"writethrough\":true}}",
			 dom->disks[i].target, node, dom->disks[i].target);
		if (qmp(r, d, cmd) < 0)
			goto out_undo;
	}
	r->data = json_object_new_object();
	if (!r->data) {
		say(r, -ENOMEM, "out of memory");
		goto out_undo;
	}
	json_object_object_add(r->data, "port", json_object_new_int((int)port));
	say(r, 0, "backup %s defined, paused, %zu disk(s) exported on %s:%u", dom->name,
	    dom->n_disks, r->host, port);
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
	free(created);
	free(backup_xml);
	free(error);
	mirror_domain_free(dom);
}

static struct mirror_domain *live_domain(struct mirror *m, struct request *r, virDomainPtr *ret)
{
	struct mirror_domain *dom = NULL;
	char *xml, *error = NULL;
	virDomainPtr d;

	if (connection(m, r) < 0)
		return NULL;
	d = virDomainLookupByName(m->conn, r->vm);
	if (!d) {
		say(r, -ENOENT, "no domain %s on this host", r->vm);
		return NULL;
	}
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	if (!xml || mirror_domain_parse(xml, &dom, &error) < 0) {
		say(r, -EINVAL, "%s", error ? error : virt_error());
		virDomainFree(d);
		dom = NULL;
	} else {
		*ret = d;
	}
	free(xml);
	free(error);
	return dom;
}

/* Aborts the block job on every mirrored disk that has one; FLAGS as virDomainBlockJobAbort. */
static void jobs_abort(virDomainPtr d, const struct mirror_domain *dom, unsigned flags)
{
	for (size_t i = 0; i < dom->n_disks; i++) {
		virDomainBlockJobInfo info;
		if (virDomainGetBlockJobInfo(d, dom->disks[i].target, &info, 0) == 1)
			virDomainBlockJobAbort(d, dom->disks[i].target, flags);
	}
}

static void op_start(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = live_domain(m, r, &d);
	unsigned flags = VIR_DOMAIN_BLOCK_COPY_REUSE_EXT | VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB;
	/*
	 * QEMU's defaults (16 MiB in flight, the image's cluster size as
	 * granularity: 64 KiB chunks) copied a 1 GiB disk at 0.6 of qemu-img
	 * convert's rate; 64 MiB and 1 MiB chunks at 1.1 of it (bench/sync-
	 * throughput, docs/performance.md). A coarse granularity makes a small write dirty a whole
	 * chunk, which the async mirror copies again; the sync mirror copies
	 * writes as they are made, so only it gets the coarse one.
	 */
	virTypedParameter params[3] = {
		{.field = VIR_DOMAIN_BLOCK_COPY_GRANULARITY,
		 .type = VIR_TYPED_PARAM_UINT,
		 .value.ui = COPY_GRANULARITY_SYNC},
		{.field = VIR_DOMAIN_BLOCK_COPY_BUF_SIZE,
		 .type = VIR_TYPED_PARAM_ULLONG,
		 .value.ul = COPY_BUF_BYTES},
		{.field = VIR_DOMAIN_BLOCK_COPY_BANDWIDTH,
		 .type = VIR_TYPED_PARAM_ULLONG,
		 .value.ul = r->bandwidth_mib << 20},
	};
	virTypedParameter *param = r->sync ? params : params + 1; /* async: no granularity */
	int n_params = r->sync ? 2 : 1;
	char dest[512];

	if (!dom)
		return;
	if (r->sync)
		flags |= VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES;
	/* A job of an earlier mirror (to a backup that is gone) must not linger. */
	jobs_abort(d, dom, 0);
	for (size_t i = 0; i < dom->n_disks; i++) {
		snprintf(dest, sizeof(dest),
			 "<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
			 "<source protocol='nbd' name='%s'><host name='%s' port='%u'/></source></disk>",
			 dom->disks[i].target, r->host, r->port);
		if (virDomainBlockCopy(d, dom->disks[i].target, dest, param,
				       n_params + (r->bandwidth_mib ? 1 : 0), flags) < 0) {
			say(r, -EIO, "cannot mirror disk %s of %s to %s:%u: %s",
			    dom->disks[i].target, r->vm, r->host, r->port, virt_error());
			jobs_abort(d, dom, 0);
			goto out;
		}
	}
	say(r, 0, "%s: %zu disk(s) mirroring to %s:%u (%s%s)", r->vm, dom->n_disks, r->host,
	    r->port, r->sync ? "synchronous writes" : "asynchronous",
	    r->bandwidth_mib ? ", throttled" : "");
out:
	virDomainFree(d);
	mirror_domain_free(dom);
}

/* Appends ", NAME" (or NAME when LIST is empty) to LIST, cut at SIZE. */
static void names_append(char *list, size_t size, const char *name)
{
	size_t used = strlen(list);

	snprintf(list + used, size - used, "%s%s", used ? ", " : "", name);
}

/*
 * Appends to LIST the internal snapshots QEMU sees in the images of D that
 * libvirt does not know (made with qemu-img snapshot or savevm behind its back).
 */
static void qemu_snapshots(virDomainPtr d, char *list, size_t size)
{
	char *reply = NULL;
	json_object *parsed, *devices;

	if (virDomainQemuMonitorCommand(d, "{\"execute\":\"query-block\"}", &reply, 0) < 0)
		return;
	parsed = json_tokener_parse(reply);
	if (parsed && json_object_object_get_ex(parsed, "return", &devices)) {
		for (size_t i = 0; i < json_object_array_length(devices); i++) {
			json_object *dev = json_object_array_get_idx(devices, i), *inserted, *image,
				    *snaps;
			if (!json_object_object_get_ex(dev, "inserted", &inserted) ||
			    !json_object_object_get_ex(inserted, "image", &image) ||
			    !json_object_object_get_ex(image, "snapshots", &snaps))
				continue;
			for (size_t j = 0; j < json_object_array_length(snaps); j++) {
				const char *name = json_object_get_string(json_object_object_get(
				    json_object_array_get_idx(snaps, j), "name"));
				if (name && !strstr(list, name))
					names_append(list, size, name);
			}
		}
	}
	json_object_put(parsed);
	free(reply);
}

/*
 * A block copy takes the disks' current state only: snapshots (internal ones
 * inside the qcow2, external ones as backing files) would not be on the
 * backup, and a failover would lose them without a word. So a domain with
 * snapshots is refused, naming them.
 */
static int snapshots_refuse(struct request *r, virDomainPtr d)
{
	virDomainSnapshotPtr *snaps = NULL;
	int n = virDomainListAllSnapshots(d, &snaps, 0);
	char list[256] = "";

	for (int i = 0; i < n; i++) {
		names_append(list, sizeof(list), virDomainSnapshotGetName(snaps[i]));
		virDomainSnapshotFree(snaps[i]);
	}
	free(snaps);
	qemu_snapshots(d, list, sizeof(list));
	if (!list[0])
		return 0;
	return say(r, -ENOTSUP,
		   "%s has snapshot(s) %s: the backup would not have them and a failover would "
		   "lose them; delete them first (virsh snapshot-delete %s NAME)",
		   r->vm, list, r->vm);
}

static void op_inspect(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = live_domain(m, r, &d);
	json_object *disks;
	char *xml = NULL;

	if (!dom)
		return;
	if (virDomainIsActive(d) != 1) {
		say(r, -ESRCH, "%s is not running on this host", r->vm);
		goto out;
	}
	if (virDomainIsPersistent(d) != 1) {
		say(r, -EINVAL, "%s is a transient domain; define it first (virsh define)", r->vm);
		goto out;
	}
	if (snapshots_refuse(r, d) < 0)
		goto out;
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	if (!xml) {
		say(r, -EIO, "cannot read the definition of %s: %s", r->vm, virt_error());
		goto out;
	}
	r->data = json_object_new_object();
	disks = json_object_new_array();
	json_object_object_add(r->data, "uuid", json_object_new_string(dom->uuid ?: ""));
	json_object_object_add(r->data, "xml", json_object_new_string(xml));
	json_object_object_add(r->data, "disks", disks);
	for (size_t i = 0; i < dom->n_disks; i++) {
		virDomainBlockInfo info;
		json_object *o;

		if (virDomainGetBlockInfo(d, dom->disks[i].target, &info, 0) < 0) {
			say(r, -EIO, "cannot read the size of disk %s of %s: %s",
			    dom->disks[i].target, r->vm, virt_error());
			goto out;
		}
		o = json_object_new_object();
		json_object_object_add(o, "target", json_object_new_string(dom->disks[i].target));
		json_object_object_add(o, "bytes", json_object_new_int64((int64_t)info.capacity));
		json_object_array_add(disks, o);
	}
	say(r, 0, "%s runs here with %zu mirrorable disk(s)", r->vm, dom->n_disks);
out:
	free(xml);
	virDomainFree(d);
	mirror_domain_free(dom);
}

/* Fills R->data with the jobs of DOM; the count of disks READY in *RET_READY. */
static int jobs_read(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
		     size_t *ret_ready, bool *ret_drained)
{
	int state = VIR_DOMAIN_NOSTATE, reason;
	char *live = NULL;
	json_object *disks;
	size_t ready = 0;
	bool drained = true;

	if (virDomainGetState(d, &state, &reason, 0) < 0)
		return say(r, -EIO, "cannot read the state of %s: %s", r->vm, virt_error());
	if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED)
		live = virDomainGetXMLDesc(d, 0);
	json_object_put(r->data);
	r->data = json_object_new_object();
	disks = json_object_new_array();
	json_object_object_add(r->data, "active", json_object_new_boolean(live != NULL));
	json_object_object_add(r->data, "paused", json_object_new_boolean(state == VIR_DOMAIN_PAUSED));
	json_object_object_add(r->data, "disks", disks);
	for (size_t i = 0; i < dom->n_disks; i++) {
		virDomainBlockJobInfo info = {0};
		bool job = false, is_ready = false;
		json_object *o = json_object_new_object();

		if (live)
			mirror_xml_job_state(live, dom->disks[i].target, &job, &is_ready);
		if (job && virDomainGetBlockJobInfo(d, dom->disks[i].target, &info, 0) != 1)
			job = is_ready = false;
		ready += job && is_ready;
		drained = drained && job && is_ready && info.cur == info.end;
		json_object_object_add(o, "target", json_object_new_string(dom->disks[i].target));
		json_object_object_add(o, "job", json_object_new_boolean(job));
		json_object_object_add(o, "ready", json_object_new_boolean(is_ready));
		json_object_object_add(o, "cur", json_object_new_int64((int64_t)info.cur));
		json_object_object_add(o, "end", json_object_new_int64((int64_t)info.end));
		json_object_array_add(disks, o);
	}
	free(live);
	if (ret_ready)
		*ret_ready = ready;
	if (ret_drained)
		*ret_drained = drained;
	return 0;
}

/* After jobs_read: true when a mirrored disk has no block job any more. */
static bool jobs_gone(struct request *r)
{
	json_object *disks = json_object_object_get(r->data, "disks");

	for (size_t i = 0; disks && i < json_object_array_length(disks); i++)
		if (!json_object_get_boolean(
			json_object_object_get(json_object_array_get_idx(disks, i), "job")))
			return true;
	return false;
}

static void op_jobs(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = live_domain(m, r, &d);
	size_t ready;

	if (!dom)
		return;
	if (jobs_read(r, d, dom, &ready, NULL) == 0)
		say(r, 0, "%s: %zu of %zu disk(s) ready", r->vm, ready, dom->n_disks);
	virDomainFree(d);
	mirror_domain_free(dom);
}

/*
 * Closes VM's connections to its NBD exports on HOST:PORT, so that requests in
 * flight to a silent backup fail now instead of after minutes of TCP
 * retransmission (mirror_sockets.c). Returns a note for the result message.
 */
static const char *connections_close(const char *vm, const char *host, unsigned port,
				     char *note, size_t size)
{
	unsigned closed = 0;
	pid_t pid;
	int r = mirror_sockets_qemu_pid(vm, &pid);

	if (r >= 0)
		r = mirror_sockets_shutdown(pid, host, port, &closed);
	if (r < 0)
		snprintf(note, size, "; could not close its connections to %s:%u: %s", host, port,
			 strerror(-r));
	else
		snprintf(note, size, "; %u connection(s) to %s:%u closed", closed, host, port);
	return note;
}

static void op_cut(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = live_domain(m, r, &d);

	if (!dom)
		return;
	/* ASYNC: do not wait for requests in flight to a backup that may be gone. */
	if (virDomainIsActive(d) == 1)
		jobs_abort(d, dom, VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC);
	say(r, 0, "%s: mirror stopped%s", r->vm, r->note ? r->note : "");
	virDomainFree(d);
	mirror_domain_free(dom);
}

static bool wait_shutoff(virDomainPtr d, unsigned timeout_s)
{
	time_t deadline = time(NULL) + timeout_s;

	while (virDomainIsActive(d) == 1) {
		if (time(NULL) >= deadline)
			return false;
		usleep(100000);
	}
	return true;
}

static void op_stop_primary(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = live_domain(m, r, &d);
	bool drained = false;
	time_t deadline;

	if (!dom)
		return;
	if (virDomainIsActive(d) != 1) {
		say(r, -ESRCH, "%s is not running on this host", r->vm);
		goto out;
	}
	if (jobs_read(r, d, dom, NULL, &drained) < 0)
		goto out;
	/*
	 * Synchronous mirror: every write the guest was told is done is on the
	 * backup, so a clean guest shutdown may end the mirror with QEMU.
	 */
	if (r->sync && r->timeout_s > 0 && virDomainShutdown(d) == 0 && wait_shutoff(d, r->timeout_s)) {
		say(r, 0, "%s shut down cleanly", r->vm);
		goto out;
	}
	if (virDomainIsActive(d) != 1) {
		say(r, 0, "%s shut down cleanly", r->vm);
		goto out;
	}
	if (virDomainSuspend(d) < 0) {
		say(r, -EIO, "cannot pause %s: %s", r->vm, virt_error());
		goto out;
	}
	deadline = time(NULL) + DRAIN_TIMEOUT_S;
	while (jobs_read(r, d, dom, NULL, &drained) == 0 && !drained && time(NULL) < deadline) {
		/* a job that failed (its backup went away) never drains: do not wait for it */
		if (jobs_gone(r)) {
			virDomainResume(d);
			say(r, -EPIPE, "the mirror of %s stopped before it drained (is the backup "
				       "host gone?); %s keeps running", r->vm, r->vm);
			goto out;
		}
		usleep(100000);
	}
	if (!drained) {
		/* Roll back: the guest runs on, with its mirror. */
		virDomainResume(d);
		say(r, -ETIMEDOUT, "the mirror of %s did not drain in %d s; %s keeps running",
		    r->vm, DRAIN_TIMEOUT_S, r->vm);
		goto out;
	}
	/* READY and nothing left to copy: stopping the jobs leaves equal disks. */
	jobs_abort(d, dom, 0);
	if (virDomainDestroy(d) < 0) {
		say(r, -EIO, "cannot stop %s: %s", r->vm, virt_error());
		goto out;
	}
	say(r, 0, "%s paused, mirror drained, stopped", r->vm);
out:
	json_object_put(r->data);
	r->data = NULL;
	virDomainFree(d);
	mirror_domain_free(dom);
}

static void op_restart(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	int state = VIR_DOMAIN_NOSTATE, reason;

	if (connection(m, r) < 0)
		return;
	d = virDomainLookupByName(m->conn, r->vm);
	if (!d) {
		say(r, -ENOENT, "no domain %s on this host", r->vm);
		return;
	}
	if (virDomainGetState(d, &state, &reason, 0) < 0)
		say(r, -EIO, "cannot read the state of %s: %s", r->vm, virt_error());
	else if (state == VIR_DOMAIN_RUNNING)
		say(r, 0, "%s already runs", r->vm);
	else if (state == VIR_DOMAIN_PAUSED && virDomainResume(d) < 0)
		say(r, -EIO, "cannot resume %s: %s", r->vm, virt_error());
	else if (state == VIR_DOMAIN_PAUSED)
		say(r, 0, "%s resumed", r->vm);
	else if (virDomainCreate(d) < 0)
		say(r, -EIO, "cannot start %s: %s", r->vm, virt_error());
	else
		say(r, 0, "%s started", r->vm);
	virDomainFree(d);
}

static void op_teardown(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = NULL;
	int state = VIR_DOMAIN_NOSTATE, reason;
	char *xml = NULL, *error = NULL;

	if (connection(m, r) < 0)
		return;
	d = virDomainLookupByName(m->conn, r->vm);
	if (!d) {
		say(r, 0, "no backup %s on this host: nothing to remove", r->vm);
		return;
	}
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	if (virDomainGetState(d, &state, &reason, 0) < 0) {
		say(r, -EIO, "cannot read the state of %s: %s", r->vm, virt_error());
		goto out;
	}
	/* Not ours, or a guest that runs: nothing of the backup is here to remove. */
	if (!mirror_xml_is_backup(xml) || state == VIR_DOMAIN_RUNNING) {
		say(r, 0, "%s on this host is not a hasvc backup; left alone", r->vm);
		goto out;
	}
	if (mirror_domain_parse(xml, &dom, &error) < 0) {
		say(r, -EINVAL, "%s", error ?: "bad domain XML");
		goto out;
	}
	if (state != VIR_DOMAIN_SHUTOFF && virDomainDestroy(d) < 0) {
		say(r, -EIO, "cannot stop backup %s: %s", r->vm, virt_error());
		goto out;
	}
	if (virDomainUndefine(d) < 0) {
		say(r, -EIO, "cannot undefine backup %s: %s", r->vm, virt_error());
		goto out;
	}
	for (size_t i = 0; i < dom->n_disks; i++)
		unlink(dom->disks[i].source);
	say(r, 0, "backup %s removed with its %zu image(s)", r->vm, dom->n_disks);
out:
	free(xml);
	free(error);
	mirror_domain_free(dom);
	virDomainFree(d);
}

static void op_promote(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = live_domain(m, r, &d);
	int state = VIR_DOMAIN_NOSTATE, reason;
	char cmd[256];

	if (!dom)
		return;
	if (virDomainGetState(d, &state, &reason, 0) < 0) {
		say(r, -EIO, "cannot read the state of %s: %s", r->vm, virt_error());
		goto out;
	}
	if (state == VIR_DOMAIN_RUNNING) {
		say(r, 0, "%s already runs here", r->vm); /* a repeated promotion */
		goto out;
	}
	if (state != VIR_DOMAIN_PAUSED) {
		say(r, -ESRCH, "backup %s is not paused here (state %d): nothing to promote", r->vm,
		    state);
		goto out;
	}
	/* The exports go first: nothing may write to the disks once the guest runs. */
	for (size_t i = 0; i < dom->n_disks; i++) {
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"block-export-del\",\"arguments\":{\"id\":\"hasvc-%s\","
			 "\"mode\":\"hard\"}}",
			 dom->disks[i].target);
		if (qmp(r, d, cmd) < 0 && !strstr(r->message, "not found"))
			goto out;
	}
	if (qmp(r, d, "{\"execute\":\"nbd-server-stop\"}") < 0 &&
	    !strstr(r->message, "not running"))
		goto out;
	if (virDomainResume(d) < 0) {
		say(r, -EIO, "cannot resume %s: %s", r->vm, virt_error());
		goto out;
	}
	say(r, 0, "%s promoted: exports removed, domain running", r->vm);
out:
	virDomainFree(d);
	mirror_domain_free(dom);
}

static void requests_run(int watch, int fd, int events, void *opaque)
{
	struct mirror *m = opaque;
	struct request *list, *next, *ordered = NULL;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&m->lock);
	list = m->requests;
	m->requests = NULL;
	pthread_mutex_unlock(&m->lock);
	for (; list; list = next) { /* LIFO -> FIFO */
		next = list->next;
		list->next = ordered;
		ordered = list;
	}
	for (struct request *r = ordered; r; r = next) {
		next = r->next;
		switch (r->op) {
		case OP_PREPARE: op_prepare(m, r); break;
		case OP_START: op_start(m, r); break;
		case OP_PROMOTE: op_promote(m, r); break;
		case OP_INSPECT: op_inspect(m, r); break;
		case OP_JOBS: op_jobs(m, r); break;
		case OP_CUT: op_cut(m, r); break;
		case OP_STOP_PRIMARY: op_stop_primary(m, r); break;
		case OP_RESTART: op_restart(m, r); break;
		case OP_TEARDOWN: op_teardown(m, r); break;
		}
		done_push(m, r);
	}
}

static void *thread_main(void *data)
{
	struct mirror *m = data;

	while (!__atomic_load_n(&m->stopping, __ATOMIC_ACQUIRE))
		virEventRunDefaultImpl();
	if (m->conn && m->job_callback >= 0)
		virConnectDomainEventDeregisterAny(m->conn, m->job_callback);
	if (m->conn)
		virConnectClose(m->conn);
	return NULL;
}

/* --- on the caller's thread ---------------------------------------------- */

static int32_t done_ready(int32_t fd, int32_t revents, void *data)
{
	struct mirror *m = data;
	struct request *list, *next, *ordered = NULL;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return 0;
	pthread_mutex_lock(&m->lock);
	list = m->done;
	m->done = NULL;
	pthread_mutex_unlock(&m->lock);
	for (; list; list = next) {
		next = list->next;
		list->next = ordered;
		ordered = list;
	}
	for (struct request *r = ordered; r; r = next) {
		next = r->next;
		if (r->done)
			r->done(r->userdata, r->result, r->message, r->data);
		request_free(r);
	}
	return 0;
}

static int submit(struct mirror *m, struct request *r)
{
	return queue_push(m, &m->requests, m->request_fd, r);
}

static bool event_impl_registered;

/* libvirt prints every error to stderr by default; we report them ourselves. */
static void libvirt_error_silent(void *userdata, virErrorPtr error)
{
}

int mirror_new(qb_loop_t *loop, const char *uri, struct mirror **ret)
{
	struct mirror *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->request_fd = m->done_fd = -1;
	m->job_callback = -1;
	pthread_mutex_init(&m->lock, NULL);
	m->uri = strdup(uri ? uri : "qemu:///system");
	m->request_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m->uri || m->request_fd < 0 || m->done_fd < 0) {
		r = -errno ?: -ENOMEM;
		goto out_free;
	}
	/* libvirt's default event loop is process-wide; register it once. */
	if (!event_impl_registered) {
		virSetErrorFunc(NULL, libvirt_error_silent);
		if (virEventRegisterDefaultImpl() < 0) {
			r = -EIO;
			goto out_free;
		}
		event_impl_registered = true;
	}
	m->watch = virEventAddHandle(m->request_fd, VIR_EVENT_HANDLE_READABLE, requests_run, m, NULL);
	if (m->watch < 0) {
		r = -EIO;
		goto out_free;
	}
	if (qb_loop_poll_add(loop, QB_LOOP_MED, m->done_fd, POLLIN, m, done_ready) < 0) {
		r = -EIO;
		goto out_free;
	}
	r = -pthread_create(&m->thread, NULL, thread_main, m);
	if (r < 0) {
		qb_loop_poll_del(loop, m->done_fd);
		goto out_free;
	}
	m->thread_started = true;
	*ret = m;
	return 0;

out_free:
	mirror_free(m);
	return r;
}

void mirror_free(struct mirror *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	if (m->thread_started) {
		__atomic_store_n(&m->stopping, true, __ATOMIC_RELEASE);
		if (write(m->request_fd, &one, sizeof(one)) < 0)
			(void)0; /* the thread also wakes on its next event */
		pthread_join(m->thread, NULL);
		qb_loop_poll_del(m->loop, m->done_fd);
	}
	if (m->watch > 0)
		virEventRemoveHandle(m->watch);
	for (struct request *r = m->requests, *n; r; r = n) {
		n = r->next;
		request_free(r);
	}
	for (struct request *r = m->done, *n; r; r = n) {
		n = r->next;
		request_free(r);
	}
	if (m->request_fd >= 0)
		close(m->request_fd);
	if (m->done_fd >= 0)
		close(m->done_fd);
	pthread_mutex_destroy(&m->lock);
	free(m->uri);
	free(m);
}

static struct request *request_new(enum op op, mirror_done_fn done, void *userdata)
{
	struct request *r = calloc(1, sizeof(*r));

	if (r) {
		r->op = op;
		r->done = done;
		r->userdata = userdata;
	}
	return r;
}

int mirror_backup_prepare(struct mirror *m, const char *primary_xml, const uint64_t *disk_bytes,
			  size_t n_disks, const char *nbd_addr, unsigned port, bool fresh,
			  uint64_t memory_reserve, mirror_done_fn done, void *userdata)
{
	struct request *r = request_new(OP_PREPARE, done, userdata);

	if (!r)
		return -ENOMEM;
	r->memory_reserve = memory_reserve;
	r->xml = strdup(primary_xml);
	r->host = strdup(nbd_addr);
	r->port = port;
	r->fresh = fresh;
	r->n_disks = n_disks;
	r->disk_bytes = calloc(n_disks ? n_disks : 1, sizeof(*disk_bytes));
	if (!r->xml || !r->host || !r->disk_bytes) {
		request_free(r);
		return -ENOMEM;
	}
	memcpy(r->disk_bytes, disk_bytes, n_disks * sizeof(*disk_bytes));
	return submit(m, r);
}

int mirror_start(struct mirror *m, const char *vm, const char *nbd_host, unsigned port, bool sync,
		 uint64_t bandwidth_mib, mirror_done_fn done, void *userdata)
{
	struct request *r = request_new(OP_START, done, userdata);

	if (!r)
		return -ENOMEM;
	r->vm = strdup(vm);
	r->host = strdup(nbd_host);
	r->port = port;
	r->sync = sync;
	r->bandwidth_mib = bandwidth_mib;
	if (!r->vm || !r->host) {
		request_free(r);
		return -ENOMEM;
	}
	return submit(m, r);
}

/* The operations that take only the domain's name. */
static int submit_vm(struct mirror *m, enum op op, const char *vm, mirror_done_fn done,
		     void *userdata, struct request **ret)
{
	struct request *r = request_new(op, done, userdata);

	if (!r)
		return -ENOMEM;
	r->vm = strdup(vm);
	if (!r->vm) {
		request_free(r);
		return -ENOMEM;
	}
	if (ret) {
		*ret = r; /* the caller fills in the rest, then submits */
		return 0;
	}
	return submit(m, r);
}

int mirror_promote(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return submit_vm(m, OP_PROMOTE, vm, done, userdata, NULL);
}

int mirror_inspect(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return submit_vm(m, OP_INSPECT, vm, done, userdata, NULL);
}

void mirror_on_job_event(struct mirror *m, mirror_done_fn fn, void *userdata)
{
	pthread_mutex_lock(&m->lock);
	m->job_event = fn;
	m->job_event_userdata = userdata;
	pthread_mutex_unlock(&m->lock);
}

int mirror_jobs(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return submit_vm(m, OP_JOBS, vm, done, userdata, NULL);
}

int mirror_cut(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
	       mirror_done_fn done, void *userdata)
{
	struct request *r = NULL;
	int ret = submit_vm(m, OP_CUT, vm, done, userdata, &r);

	char note[256];

	if (ret < 0)
		return ret;
	/*
	 * Here, in the caller's thread, not queued: the mirror thread may be
	 * stuck in a libvirt call that waits for the very request in flight to
	 * the silent backup (anything taking the domain's job lock does). It is
	 * only /proc reads and two syscalls per socket.
	 */
	if (nbd_host && port &&
	    !(r->note = strdup(connections_close(vm, nbd_host, port, note, sizeof(note))))) {
		request_free(r);
		return -ENOMEM;
	}
	return submit(m, r);
}

int mirror_stop_primary(struct mirror *m, const char *vm, bool sync, unsigned shutdown_timeout_s,
			mirror_done_fn done, void *userdata)
{
	struct request *r = NULL;
	int ret = submit_vm(m, OP_STOP_PRIMARY, vm, done, userdata, &r);

	if (ret < 0)
		return ret;
	r->sync = sync;
	r->timeout_s = shutdown_timeout_s;
	return submit(m, r);
}

int mirror_restart(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return submit_vm(m, OP_RESTART, vm, done, userdata, NULL);
}

int mirror_teardown(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	return submit_vm(m, OP_TEARDOWN, vm, done, userdata, NULL);
}
