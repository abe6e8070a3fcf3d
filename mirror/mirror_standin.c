// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_standin: a domain's disks served over NBD by a process of hasvc's
 * own instead of the domain's QEMU, for a live switchover (docs/mirror.md
 * "Live switchover").
 *
 * A live migration to the backup host needs the backup's QEMU gone (libvirt
 * starts a QEMU of its own there for the incoming guest) while the primary's
 * write-blocking mirror still needs somewhere to write: the stand-in takes
 * the backup's place at the same address, port and export names, so the
 * primary's paused job resumes into it with only the few writes of the gap.
 * After the migration the roles are the other way round, and the old
 * primary's host serves its image the same way until a backup QEMU is
 * prepared there.
 *
 * The process is one qemu-storage-daemon for all the domain's disks (one NBD
 * server, one --blockdev and --export per disk; qemu-nbd would be a process
 * per image): its images opened with file.locking=off, because the QEMU that
 * a migration starts on this host opens the same images while the stand-in
 * still serves them (that QEMU keeps them inactive, and re-reads them when it
 * activates them at the end of the migration, after the source's last
 * write), exports writable and writethrough (a write is on this host's disk
 * when the primary's guest is told it is done), and with TLS the same
 * credentials and authz as the backup's exports (mirror__tls_export).
 *
 * Where it is: --daemonize makes it outlive hasvcd, and its --pidfile,
 * MIRROR_STANDIN_RUN_DIR/VM.pid, is held locked by it (QEMU's
 * qemu_write_pidfile takes a write lock and keeps the file open): the owner
 * of that lock (F_GETLK) is the stand-in, and a file nobody locks is stale
 * (a stand-in that was SIGKILLed). /run is a tmpfs: a crash of the host
 * takes the file with the process, and nothing is left to clean.
 *
 * Everything here runs on the mirror thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "mirror.h"
#include "mirror_internal.h"
#include "mirror_sockets.h"
#include "mirror_xml.h"

#define STANDIN_BINARY "qemu-storage-daemon"
#define STANDIN_START_MS 30000 /* its startup: open the images, bind, export */
#define STANDIN_STOP_MS 10000  /* SIGTERM to exit: it flushes the images */
#define STANDIN_MAX_ARGS 64


static void pidfile_path(const char *vm, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.pid", MIRROR_STANDIN_RUN_DIR, vm);
}

/* Its QMP monitor (a unix socket): mirror_standin_activate speaks to it. */
void mirror__standin_monitor_path(const char *vm, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.qmp", MIRROR_STANDIN_RUN_DIR, vm);
}

pid_t mirror__standin_pid(const char *vm)
{
	struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char path[4096], comm[32] = "";
	pid_t pid = 0;
	FILE *f;
	int fd;

	pidfile_path(vm, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK)
		pid = lock.l_pid;
	close(fd);
	if (pid <= 0) {
		unlink(path); /* stale: its stand-in died without removing it */
		return 0;
	}
	/* the lock's owner is the stand-in; its name is checked all the same */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((f = fopen(path, "re"))) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
	}
	return strncmp(comm, "qemu-storage-d", 14) == 0 ? pid : 0;
}

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Waits up to MS for PIDFD's process to exit; true when it did. */
static bool exited_within(int pidfd, int ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

int mirror__standin_stop(struct request *r, const char *vm)
{
	pid_t pid = mirror__standin_pid(vm);
	char path[4096];
	int pidfd;
	bool gone;

	if (pid == 0)
		return 0;
	pidfd = pidfd_of(pid);
	if (pidfd < 0)
		return errno == ESRCH
			   ? 0
			   : mirror__say(r, -errno, "cannot watch the stand-in of %s (pid %d): %m",
					 vm, (int)pid);
	if (kill(pid, SIGTERM) < 0 && errno != ESRCH) {
		close(pidfd);
		return mirror__say(r, -errno, "cannot stop the stand-in of %s (pid %d): %m", vm,
				   (int)pid);
	}
	gone = exited_within(pidfd, STANDIN_STOP_MS);
	if (!gone) {
		/* its writes were each flushed (writethrough): nothing acknowledged is lost */
		kill(pid, SIGKILL);
		gone = exited_within(pidfd, 2000);
	}
	close(pidfd);
	if (!gone)
		return mirror__say(r, -ETIMEDOUT, "the stand-in of %s (pid %d) does not exit", vm,
				   (int)pid);
	pidfile_path(vm, path, sizeof(path));
	unlink(path); /* gone already after a clean exit */
	return 1;
}

/* --- start -------------------------------------------------------------------------- */

struct argv {
	char *v[STANDIN_MAX_ARGS + 1];
	size_t n;
};

static int argv_add(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int argv_add(struct argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (a->n >= STANDIN_MAX_ARGS)
		return -E2BIG;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	a->v[a->n++] = s;
	return 0;
}

static int argv_json(struct argv *a, const char *opt, json_object *o)
{
	int e = argv_add(a, "%s", opt);

	if (e == 0)
		e = argv_add(a, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return e;
}

static void argv_free(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

/*
 * qemu-storage-daemon's command line for DOM's disks on R->host:R->port;
 * TLS_DIR NULL plain, RULES (put here) the authz-list's, NULL none. The NBD
 * server comes first: a taken port fails it before any image is opened.
 */
static int standin_argv(struct request *r, const struct mirror_domain *dom, const char *tls_dir,
			json_object *rules, const char *pidfile, struct argv *a)
{
	char server[1024];
	int e = 0, n;

	n = snprintf(server, sizeof(server),
		     "addr.type=inet,addr.host=%s,addr.port=%u,max-connections=%zu%s%s", r->host,
		     r->port, 2 * dom->n_disks + 1, tls_dir ? ",tls-creds=hasvc-tls" : "",
		     rules ? ",tls-authz=hasvc-authz" : "");
	if (n < 0 || (size_t)n >= sizeof(server) || strchr(r->host, ',')) {
		json_object_put(rules);
		return -EINVAL;
	}
	e = argv_add(a, STANDIN_BINARY);
	if (e == 0 && tls_dir) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "qom-type", json_object_new_string("tls-creds-x509"));
		json_object_object_add(o, "id", json_object_new_string("hasvc-tls"));
		json_object_object_add(o, "dir", json_object_new_string(tls_dir));
		json_object_object_add(o, "endpoint", json_object_new_string("server"));
		json_object_object_add(o, "verify-peer", json_object_new_boolean(true));
		e = argv_json(a, "--object", o);
	}
	if (rules) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "qom-type", json_object_new_string("authz-list"));
		json_object_object_add(o, "id", json_object_new_string("hasvc-authz"));
		json_object_object_add(o, "policy", json_object_new_string("deny"));
		json_object_object_add(o, "rules", rules);
		if (e == 0)
			e = argv_json(a, "--object", o);
		else
			json_object_put(o);
	}
	if (e == 0)
		e = argv_add(a, "--nbd-server");
	if (e == 0)
		e = argv_add(a, "%s", server);
	for (size_t i = 0; e == 0 && i < dom->n_disks; i++) {
		const struct mirror_disk *disk = &dom->disks[i];
		json_object *bd = json_object_new_object(), *file = json_object_new_object();
		json_object *ex = json_object_new_object();
		char node[128], id[128];

		snprintf(node, sizeof(node), "hs-standin-%s", disk->target);
		snprintf(id, sizeof(id), "hasvc-%s", disk->target);
		json_object_object_add(file, "driver", json_object_new_string("file"));
		json_object_object_add(file, "filename", json_object_new_string(disk->source));
		/* the QEMU of an incoming migration opens the image meanwhile */
		json_object_object_add(file, "locking", json_object_new_string("off"));
		json_object_object_add(bd, "driver", json_object_new_string(disk->format));
		json_object_object_add(bd, "node-name", json_object_new_string(node));
		json_object_object_add(bd, "file", file);
		/*
		 * Armed (QEMU 10.0): opened inactive while the guest's QEMU still
		 * writes the image, as an incoming migration's QEMU opens it;
		 * activated (blockdev-set-active) once that QEMU is done, which
		 * re-reads the image's metadata then.
		 */
		if (r->inactive) {
			json_object_object_add(bd, "active", json_object_new_boolean(false));
			json_object_object_add(ex, "allow-inactive", json_object_new_boolean(true));
		}
		json_object_object_add(ex, "type", json_object_new_string("nbd"));
		json_object_object_add(ex, "id", json_object_new_string(id));
		json_object_object_add(ex, "node-name", json_object_new_string(node));
		json_object_object_add(ex, "name", json_object_new_string(disk->target));
		json_object_object_add(ex, "writable", json_object_new_boolean(true));
		json_object_object_add(ex, "writethrough", json_object_new_boolean(true));
		e = argv_json(a, "--blockdev", bd);
		if (e == 0)
			e = argv_json(a, "--export", ex);
		else
			json_object_put(ex);
	}
	if (e == 0) {
		char monitor[256];

		mirror__standin_monitor_path(r->vm, monitor, sizeof(monitor));
		unlink(monitor);
		e = argv_add(a, "--chardev");
		if (e == 0)
			e = argv_add(a, "socket,id=hasvc-qmp,path=%s,server=on,wait=off", monitor);
		if (e == 0)
			e = argv_add(a, "--monitor");
		if (e == 0)
			e = argv_add(a, "chardev=hasvc-qmp");
	}
	if (e == 0)
		e = argv_add(a, "--pidfile");
	if (e == 0)
		e = argv_add(a, "%s", pidfile);
	if (e == 0)
		e = argv_add(a, "--daemonize");
	a->v[a->n] = NULL;
	return e;
}

/*
 * Runs A (daemonizing): 0 once the daemon serves (its parent exited 0), else
 * -errno with its stderr in R's message. stdin and stdout /dev/null, a
 * scrubbed environment; the daemon leaves our session (setsid by QEMU).
 */
static int standin_spawn(struct request *r, struct argv *a)
{
	static char *const envp[] = {
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
	posix_spawn_file_actions_t fa;
	char err[MIRROR_MSG_MAX] = "";
	size_t len = 0;
	int pipefd[2], status = 0, e;
	int64_t deadline = mirror__now_ms() + STANDIN_START_MS;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return mirror__say(r, -errno, "cannot start the stand-in of %s: %m", r->vm);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	e = posix_spawnp(&pid, STANDIN_BINARY, &fa, NULL, a->v, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (e != 0) {
		close(pipefd[0]);
		return mirror__say(r, -e, "cannot run %s for the stand-in of %s: %s",
				   STANDIN_BINARY, r->vm, strerror(e));
	}
	/* until EOF: the parent exits, the daemon points its stderr at /dev/null */
	for (;;) {
		struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
		int64_t left = deadline - mirror__now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			kill(pid, SIGKILL);
			snprintf(err, sizeof(err), "no answer in %d s", STANDIN_START_MS / 1000);
			break;
		}
		n = read(pipefd[0], err + len, sizeof(err) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		err[len] = '\0';
		if (len >= sizeof(err) - 1)
			break;
	}
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		len = strlen(err);
		while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
			err[--len] = '\0';
		if (strstr(err, "Address already in use"))
			return mirror__say(
			    r, -EADDRINUSE,
			    "cannot start the stand-in of %s: port %u on %s is taken "
			    "(%s)",
			    r->vm, r->port, r->host, err);
		return mirror__say(r, -EIO, "the stand-in of %s did not start: %s", r->vm,
				   err[0] ? err : "qemu-storage-daemon failed");
	}
	return 0;
}

/* Whether stand-in PID's NBD server is on HOST:PORT (its command line, standin_argv's). */
static bool serves_at(pid_t pid, const char *host, unsigned port)
{
	char path[64], want[400], args[16384];
	bool found = false;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	snprintf(want, sizeof(want), "addr.host=%s,addr.port=%u,", host, port);
	if (!(f = fopen(path, "re")))
		return false;
	n = fread(args, 1, sizeof(args) - 1, f); /* arguments, each ended by a NUL */
	fclose(f);
	args[n] = '\0';
	for (size_t i = 0; i < n && !found; i += strlen(args + i) + 1)
		found = strstr(args + i, want) != NULL;
	return found;
}

/* The domain is a paused backup of ours, or not active: whether its QEMU must go first. */
static int standin_room(struct request *r, virDomainPtr d, bool *ret_destroy)
{
	int state = VIR_DOMAIN_NOSTATE;
	char *xml;
	bool ours;

	*ret_destroy = false;
	if (mirror__domain_state(r, d, &state) < 0)
		return r->result;
	if (state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED)
		return 0;
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	ours = mirror_xml_is_backup(xml);
	free(xml);
	if (state == VIR_DOMAIN_PAUSED && ours && r->replace) {
		*ret_destroy = true;
		return 0;
	}
	if (state == VIR_DOMAIN_PAUSED && ours)
		return mirror__say(
		    r, -EBUSY,
		    "the backup QEMU of %s runs here and holds its disks: a stand-in "
		    "replaces it only when asked to (replace)",
		    r->vm);
	return mirror__say(r, -EBUSY,
			   "%s is active on this host: its QEMU holds its disks, no stand-in "
			   "may serve them",
			   r->vm);
}

/*
 * Ends the paused backup QEMU of R->vm at once: SIGKILL, waited for, so that
 * its port is free and its images closed in milliseconds (a SIGTERM'd QEMU
 * takes 1.4 s to exit here, libvirt's destroy 1.6 s: docs/mirror.md). Nothing
 * acknowledged is lost: its exports are writethrough, every write was on the
 * disk before the primary heard it was done; a write in flight fails and
 * stays dirty in the primary's job. libvirt sees its QEMU gone (shut off,
 * definition kept); the caller's virDomainDestroy() tidies up after it.
 * -errno when the QEMU cannot be found or killed: the caller destroys.
 */
static int backup_kill(const char *vm)
{
	pid_t pid = 0;
	int pidfd, e;

	if ((e = mirror_sockets_qemu_pid(vm, &pid)) < 0)
		return e;
	if ((pidfd = pidfd_of(pid)) < 0)
		return -errno;
	e = kill(pid, SIGKILL) < 0 ? -errno : 0;
	if (e == 0 && !exited_within(pidfd, 5000))
		e = -ETIMEDOUT;
	close(pidfd);
	return e;
}

/* The images of R->xml (mirror_standin_start_xml), without asking libvirt. */
static struct mirror_domain *xml_domain(struct request *r)
{
	struct mirror_domain *dom = NULL;
	char *error = NULL;

	if (mirror_domain_parse(r->xml, &dom, &error) < 0) {
		mirror__say(r, -EINVAL, "%s", error ? error : "cannot read the domain XML");
		dom = NULL;
	}
	free(error);
	return dom;
}

static void standin_start_run(struct mirror *m, struct request *r)
{
	virDomainPtr d = NULL;
	struct mirror_domain *dom = r->xml ? xml_domain(r) : mirror__live_domain(m, r, &d);
	char dir[4096], pidfile[4096];
	json_object *rules = NULL;
	struct argv a = {0};
	int64_t t0 = 0, t1 = 0, t2 = 0;
	bool destroy;
	pid_t pid;
	int tls, e;

	if (!dom)
		return;
	if ((pid = mirror__standin_pid(r->vm)) > 0) {
		if (serves_at(pid, r->host, r->port))
			mirror__say(r, 0, "the stand-in of %s runs already (pid %d)", r->vm,
				    (int)pid);
		else
			mirror__say(r, -EEXIST,
				    "a stand-in of %s runs already (pid %d), not on %s:%u: stop it "
				    "first",
				    r->vm, (int)pid, r->host, r->port);
		goto out;
	}
	/* Everything that can be checked first is: the backup goes only for a stand-in that starts.
	 */
	destroy = false;
	if (d && standin_room(r, d, &destroy) < 0)
		goto out;
	for (size_t i = 0; i < dom->n_disks; i++) {
		if (access(dom->disks[i].source, R_OK | W_OK) < 0) {
			mirror__say(r, -ENOENT, "cannot serve disk %s of %s: %s: %m",
				    dom->disks[i].target, r->vm, dom->disks[i].source);
			goto out;
		}
	}
	if ((tls = mirror__tls_export(r, dir, sizeof(dir), &rules)) < 0)
		goto out;
	if (mkdir(MIRROR_STANDIN_RUN_DIR, 0755) < 0 && errno != EEXIST) {
		mirror__say(r, -errno, "cannot create %s: %m", MIRROR_STANDIN_RUN_DIR);
		goto out;
	}
	pidfile_path(r->vm, pidfile, sizeof(pidfile));
	unlink(pidfile); /* stale (mirror__standin_pid found no owner) */
	if (standin_argv(r, dom, tls > 0 ? dir : NULL, rules, pidfile, &a) < 0) {
		mirror__say(r, -EINVAL, "cannot build the stand-in's command line for %s on %s:%u",
			    r->vm, r->host, r->port);
		goto out;
	}
	if (destroy) {
		t0 = mirror__now_ms();
		if (backup_kill(r->vm) < 0 && virDomainDestroy(d) < 0) {
			mirror__say(r, -EIO, "cannot stop the backup QEMU of %s: %s", r->vm,
				    mirror__virt_error());
			goto out;
		}
		t1 = mirror__now_ms();
	}
	e = standin_spawn(r, &a);
	t2 = mirror__now_ms();
	/* libvirt's bookkeeping of the killed QEMU, off the gap; an error means it did it already
	 */
	if (destroy && virDomainIsActive(d) == 1)
		virDomainDestroy(d);
	if (e < 0) {
		if (destroy) {
			char why[MIRROR_MSG_MAX];

			snprintf(why, sizeof(why), "%s", r->message);
			mirror__say(r, r->result,
				    "%s; the backup QEMU of %s was stopped (definition kept: "
				    "prepare it again)",
				    why, r->vm);
		}
		goto out;
	}
	mirror__answer_clear(r);
	r->standin = (struct mirror_standin){
	    .pid = mirror__standin_pid(r->vm), .port = r->port, .gap_ms = destroy ? t2 - t0 : -1};
	r->answer = MIRROR__ANSWER_STANDIN;
	if (destroy)
		mirror__say(r, 0,
			    "stand-in of %s (pid %d) serves %zu disk(s) on %s:%u%s in place of its "
			    "backup QEMU; nothing listened for at most %" PRId64 " ms (the "
			    "backup QEMU took %" PRId64 " ms to die, the stand-in's start %" PRId64
			    " ms)",
			    r->vm, (int)r->standin.pid, dom->n_disks, r->host, r->port,
			    tls > 0 ? " (TLS)" : "", r->standin.gap_ms, t1 - t0,
			    r->standin.gap_ms - (t1 - t0));
	else
		mirror__say(r, 0, "stand-in of %s (pid %d) serves %zu disk(s) on %s:%u%s", r->vm,
			    (int)r->standin.pid, dom->n_disks, r->host, r->port,
			    tls > 0 ? " (TLS)" : "");
out:
	argv_free(&a);
	if (d)
		virDomainFree(d);
	mirror_domain_free(dom);
}

static void standin_stop_run(struct mirror *m, struct request *r)
{
	int e = mirror__standin_stop(r, r->vm);

	if (e == 0)
		mirror__say(r, 0, "no stand-in of %s on this host", r->vm);
	else if (e > 0)
		mirror__say(r, 0, "the stand-in of %s stopped", r->vm);
}

int mirror__standin_request(struct mirror *m, const char *vm, const char *xml,
			    const char *nbd_addr, unsigned port, bool replace_backup,
			    const char *primary_node, mirror_done_fn done, mirror_reply_fn reply,
			    void *userdata, struct request **ret)
{
	struct request *r = NULL;
	int e;

	/* a node name, as for mirror_backup_prepare_tls */
	if (primary_node &&
	    (!*primary_node ||
	     strspn(primary_node, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789._-") != strlen(primary_node)))
		return -EINVAL;
	if (strchr(vm, '/') || port == 0 || port > 65535)
		return -EINVAL;
	e = mirror__submit_vm(m, standin_start_run, vm, done, reply, userdata, &r);
	if (e < 0)
		return e;
	r->host = strdup(nbd_addr);
	r->peer = primary_node ? strdup(primary_node) : NULL;
	r->port = port;
	r->replace = replace_backup;
	r->xml = xml ? strdup(xml) : NULL;
	if (!r->host || (primary_node && !r->peer) || (xml && !r->xml)) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

static int standin_submit(struct mirror *m, const char *vm, const char *xml, const char *nbd_addr,
			  unsigned port, bool replace_backup, const char *primary_node,
			  mirror_done_fn done, mirror_reply_fn reply, void *userdata)
{
	struct request *r = NULL;
	int e = mirror__standin_request(m, vm, xml, nbd_addr, port, replace_backup, primary_node,
					done, reply, userdata, &r);

	return e < 0 ? e : mirror__submit(m, r);
}

int mirror_standin_start(struct mirror *m, const char *vm, const char *nbd_addr, unsigned port,
			 bool replace_backup, const char *primary_node, mirror_done_fn done,
			 void *userdata)
{
	return standin_submit(m, vm, NULL, nbd_addr, port, replace_backup, primary_node, done, NULL,
			      userdata);
}

int mirror_standin_start_xml(struct mirror *m, const char *vm, const char *xml,
			     const char *nbd_addr, unsigned port, const char *primary_node,
			     mirror_done_fn done, void *userdata)
{
	if (!xml)
		return -EINVAL;
	return standin_submit(m, vm, xml, nbd_addr, port, false, primary_node, done, NULL,
			      userdata);
}

int mirror_standin_start_typed(struct mirror *m, const char *vm, const char *nbd_addr,
			       unsigned port, bool replace_backup, const char *primary_node,
			       mirror_reply_fn done, void *userdata)
{
	return standin_submit(m, vm, NULL, nbd_addr, port, replace_backup, primary_node, NULL, done,
			      userdata);
}

int mirror_standin_stop(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata)
{
	if (strchr(vm, '/'))
		return -EINVAL;
	return mirror__submit_vm(m, standin_stop_run, vm, done, NULL, userdata, NULL);
}
