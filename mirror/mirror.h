/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mirror: everything hasvcd asks of libvirt and QEMU, off its main loop.
 *
 * A libvirt call can block as long as a hung QEMU does, so every call runs
 * on one thread owned by this module, which also runs libvirt's default
 * event loop (block-job events arrive there). The daemon's thread submits a
 * request and gets its result later: results travel back through an eventfd
 * polled on the daemon's qb_loop, and the completion callback runs there.
 * Nothing else crosses threads.
 *
 * Operations (each asynchronous, each with a clear message on failure):
 *   mirror_inspect         on the primary host: the running domain's inactive
 *                          XML, uuid and the virtual size of each mirrored disk;
 *   mirror_backup_prepare  on the backup host: define the primary's domain
 *                          (mirror_xml_backup), create missing images of the
 *                          same virtual size, start it paused, export every
 *                          mirrored disk over NBD (writable, writethrough);
 *                          refused when the host lacks the VM's memory;
 *   mirror_start           on the primary host: block copy every mirrored
 *                          disk into the backup's exports (returns once the
 *                          jobs run; mirror_jobs tells when they are READY);
 *   mirror_jobs            on the primary host: per disk, job, READY, progress,
 *                          the speed it may copy at;
 *   mirror_set_speed       on the primary host: change that speed on the running
 *                          jobs (a resync throttled or let go, live);
 *   mirror_cut             on the primary host: abort the block jobs at once
 *                          (qmp engine: pause them, their dirty ranges kept);
 *   mirror_release         on the primary host: end the mirror for good;
 *   mirror_stop_primary    on the primary host (switchover): shut the guest
 *                          down, or pause it, drain the mirror, stop it, and
 *                          make sure the domain is off;
 *   mirror_restart         start the domain again where it is defined;
 *   mirror_promote         on the backup host: remove the exports, stop the
 *                          NBD server, resume the domain;
 *   mirror_teardown        on the backup host: destroy and undefine the backup
 *                          and remove the images it was given;
 *   mirror_verify_typed    on the primary host: compare every mirrored disk
 *                          with the backup's export while the guest runs,
 *                          and repair the ranges that differ.
 *
 * The live switchover (qmp engine only; docs/mirror.md "Live switchover"):
 *   mirror_standin_start   serve a domain's disks over NBD from a
 *                          qemu-storage-daemon instead of its QEMU (on the
 *                          backup host: in place of the paused backup);
 *   mirror_standin_stop    stop it;
 *   mirror_migrate         on the primary host: libvirt live migration to
 *                          the backup host, no disk copy (the mirror keeps
 *                          the disks in step), the guest left paused there;
 *   mirror_continue        on the new primary: stop the stand-in, resume.
 *
 * With TLS (mirror_set_tls, below; on by itself when the host has a CA
 * certificate) the exports speak NBD over TLS and, prepared with
 * mirror_backup_prepare_tls, let in only the pair's primary.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <qb/qbloop.h>

struct mirror;

#include <json-c/json.h>

/*
 * RESULT >= 0 or -errno; MESSAGE says what happened; DATA is the operation's
 * answer (mirror_inspect, mirror_jobs, mirror_backup_prepare) or NULL. Both
 * are valid during the call.
 */
typedef void (*mirror_done_fn)(void *userdata, int result, const char *message,
			       json_object *data);

int mirror_new(qb_loop_t *loop, const char *uri, struct mirror **ret);
/* Waits for the thread to finish the request it is on; pending ones are dropped. */
void mirror_free(struct mirror *m);

/*
 * PRIMARY_XML: the primary's inactive domain XML. DISK_BYTES[i]: the virtual
 * size of its i-th mirrored disk (mirror_domain_parse order). The exports
 * are named after the disk targets ("vda") on NBD_ADDR:PORT.
 * FRESH (a new pair): refuse (-EEXIST) when a domain of that name or any of
 * its image files exists here already: it belongs to someone else. Otherwise
 * an old paused backup is replaced and existing images are reused.
 * -ENOMEM (nothing touched) when this host's available memory, less the
 * memory of the other backups here and MEMORY_RESERVE bytes, is below the
 * VM's <memory> (mirror_memory.c). When PORT is taken on this host, the next
 * free one of the 15 after it is used: DATA {"port"} says which.
 * Not FRESH: a stand-in of the VM here (mirror_standin_start) is stopped
 * before the backup's QEMU opens the images, and that QEMU takes its port.
 */
int mirror_backup_prepare(struct mirror *m, const char *primary_xml, const uint64_t *disk_bytes,
			  size_t n_disks, const char *nbd_addr, unsigned port, bool fresh,
			  uint64_t memory_reserve, mirror_done_fn done, void *userdata);

/*
 * SYNC: writes complete only once on the backup too (write-blocking mirror).
 * BANDWIDTH_MIB: MiB/s per disk for the copy, 0 unlimited. A job left over
 * from an earlier mirror of the same disk is aborted first.
 */
int mirror_start(struct mirror *m, const char *vm, const char *nbd_host, unsigned port, bool sync,
		 uint64_t bandwidth_mib, mirror_done_fn done, void *userdata);

/*
 * The experimental qmp engine (HASVC_MIRROR_ENGINE=qmp in the environment of
 * mirror_new(), docs/mirror.md): the copy is a QEMU job of hasvc's own, which
 * a cut pauses instead of ending. The calls below mean something with it only;
 * with the default engine (libvirt block copy) they are mirror_start, and
 * mirror_resume fails with -EOPNOTSUPP.
 *
 * mirror_start_resync: MAY_RESUME: when our paused jobs into NBD_HOST:PORT still
 * exist (this QEMU ran all along), resume them: only the ranges written since
 * the cut travel. Otherwise (or without MAY_RESUME) a full copy; the message
 * says which and why ("full resync: the primary's QEMU restarted ..."), and
 * the *_typed forms answer the same as a record (struct mirror_copy, below).
 * FROM_EQUAL: the disks are equal at this moment (a switchover's reverse
 * mirror, started while the guest is paused): copy only what is written from
 * now on (sync none).
 */
int mirror_start_resync(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
			bool sync, uint64_t bandwidth_mib, bool may_resume, bool from_equal,
			mirror_done_fn done, void *userdata);
/*
 * The speed of VM's running copy jobs, every mirrored disk's: BANDWIDTH_MIB
 * MiB/s per disk, 0 unlimited, from now on (the jobs keep their progress; a
 * job that waits out its rate limit is woken). The same limit mirror_start
 * takes, for a copy already under way: libvirt's virDomainBlockJobSetSpeed,
 * or with the qmp engine QMP block-job-set-speed on our jobs. A disk without
 * a job is left alone; -ENOENT when no disk has one.
 */
int mirror_set_speed(struct mirror *m, const char *vm, uint64_t bandwidth_mib, mirror_done_fn done,
		     void *userdata);

/* Resumes the paused jobs into NBD_HOST:PORT; -ENOENT/-ESTALE when they cannot be. */
int mirror_resume(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		  mirror_done_fn done, void *userdata);
/* True when this mirror runs the qmp engine. */
bool mirror_engine_qmp(const struct mirror *m);
/* From now on the primary's copies are hasvc's own QEMU jobs (mirror_engine = qmp). */
void mirror_use_qmp_engine(struct mirror *m);
/*
 * From now on sync mode writes both disks at once (sync_writes = parallel,
 * or HASVC_SYNC_WRITES=parallel; with the qmp engine; experimental,
 * docs/mirror.md "Parallel sync writes").
 */
void mirror_use_parallel_sync(struct mirror *m);

/*
 * DATA: {"uuid","xml","disks":[{"target","bytes"}]}; -ENOENT no such domain,
 * -ESRCH not running, else mirror_domain_parse()'s errors.
 */
int mirror_inspect(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata);

/*
 * DATA: {"active":bool,"paused":bool,"disks":[{"target","job":bool,"ready":bool,
 * "cur","end","speed"?}]} ("speed" only when the job is throttled); -ENOENT when
 * the domain is not defined here.
 */
int mirror_jobs(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata);

/*
 * FN is called on the caller's thread for each block-copy job event libvirt
 * reports on this host (VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2: ready, failed,
 * completed, canceled), with DATA {vm, disk, status} and RESULT -EIO for
 * failed. A hint to look again (mirror_jobs) sooner than the next poll;
 * events can be lost with a libvirtd restart, polling stays the truth.
 */
void mirror_on_job_event(struct mirror *m, mirror_done_fn fn, void *userdata);

/*
 * On the backup host: 1 when a disk of the backup of PRIMARY_XML (the
 * pair's domain definition) is no longer the file its running QEMU writes
 * (replaced or removed at its path while the QEMU ran: mirror_disk_watch.c),
 * WHY then saying which; 0 when every disk is; -errno when it cannot tell
 * (-ESRCH: no QEMU of that domain here). Read in the caller's thread (/proc
 * only); *QEMU_PID keeps the pid between calls (0 at first).
 */
int mirror_backup_disks_replaced(const char *primary_xml, pid_t *qemu_pid, char *why,
				 size_t len);

/* Where libvirt's QEMUs write their logs (qemu.conf's default). */
#define MIRROR_QEMU_LOG_DIR "/var/log/libvirt/qemu"

/*
 * On the backup host: 1 when VM's QEMU answered a write (any request) of a
 * client of its NBD server with an error since the last look (its trace in
 * the domain's log: mirror_backup_refusals.c), WHY then saying which; the
 * connections its server at PORT accepted are then shut down, so that the
 * primary's NBD client starts a new one. 0 when none, -errno when it cannot
 * tell. Read in the caller's thread (files and /proc only).
 */
int mirror_backup_refusals(const char *vm, unsigned port, pid_t *qemu_pid, char *why, size_t len);

/*
 * How long (ms) the backup at NBD_HOST:PORT has left VM's QEMU without an
 * acknowledgement of data sent to it (TCP_INFO of QEMU's connections, read
 * in the caller's thread: quick, and never blocked by a stuck QEMU); 0 when
 * nothing waits. A cut replication link shows here while corosync still
 * lists the backup host: the caller records the pair degraded through the
 * cluster, then cuts (never the other way round: a primary that is the one
 * cut off must not acknowledge writes its backup lacks). *QEMU_PID keeps the
 * QEMU's pid between calls (0 at first): asked every second, it spares a walk
 * of /proc.
 */
int mirror_link_silence(const char *vm, const char *nbd_host, unsigned port, pid_t *qemu_pid,
			unsigned *ret_ms);

/*
 * Stops the block jobs of VM at once. NBD_HOST:PORT (optional) is where the
 * backup's exports were: QEMU's TCP connections to it are shut down first,
 * in the caller's thread (mirror_sockets), so guest writes waiting on a
 * silent backup complete from the source alone instead of waiting minutes
 * for TCP to give up; then the jobs are aborted on the mirror thread.
 */
int mirror_cut(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
	       mirror_done_fn done, void *userdata);
/* mirror_cut, and with the qmp engine the paused jobs cancelled too (a delete). */
int mirror_release(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		   mirror_done_fn done, void *userdata);

/*
 * Planned stop for a switchover. SYNC mirror: ask the guest to shut down and
 * wait SHUTDOWN_TIMEOUT_S (every write it acknowledged is on the backup
 * already); otherwise, or in async mode, pause the vCPUs, wait until every job
 * has copied everything (READY, cur == end), stop the jobs, and destroy.
 * Fails, leaving the domain running, if the mirror cannot be drained.
 */
int mirror_stop_primary(struct mirror *m, const char *vm, bool sync, unsigned shutdown_timeout_s,
			mirror_done_fn done, void *userdata);

int mirror_restart(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata);

/*
 * Keeps the primary's guest running: VM's domain found shut off here (its
 * QEMU crashed or was killed, the guest powered itself off) is started from
 * its disk when MAY_START, and the answer is MIRROR_REVIVE_STARTED; without
 * MAY_START it is left off (MIRROR_REVIVE_DOWN). Running, paused (paused is
 * someone's decision: an admin's, an I/O error policy's) or in a migration:
 * MIRROR_REVIVE_RUNS, nothing done. The message says which, and for a shut
 * off domain why libvirt says it stopped ("crashed", "shut down from inside
 * the guest", ...). Shut off by a migration away (it runs elsewhere), a save
 * or a snapshot revert: MIRROR_REVIVE_RUNS, never started. -ENOENT: no such
 * domain here.
 */
enum mirror_revive {
	MIRROR_REVIVE_RUNS = 0,
	MIRROR_REVIVE_STARTED = 1,
	MIRROR_REVIVE_DOWN = 2,
};
int mirror_revive(struct mirror *m, const char *vm, bool may_start, mirror_done_fn done,
		  void *userdata);

int mirror_teardown(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata);
/*
 * On the backup host. With a stand-in of VM here (the primary was lost during
 * a live switchover) the stand-in is stopped first, then the domain resumed
 * when a completed migration left it paused here, else booted from its disk
 * (an incoming migration that cannot end without its source destroyed
 * first).
 */
int mirror_promote(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata);

/* --- live switchover ------------------------------------------------------------------ */

/*
 * A stand-in: a qemu-storage-daemon of hasvc's (mirror_standin.c) that
 * exports every mirrored disk of VM's definition on this host (its images,
 * mirror_domain_parse) at NBD_ADDR:PORT under the disk target names
 * ("vda"), as the backup's QEMU does: writable, writethrough, with the same
 * TLS, and with PRIMARY_NODE (NULL: any certificate of the CA) the only peer
 * let in besides this host. It holds no image locks, so that the QEMU a
 * live migration starts here may open the images while it serves them.
 * It outlives hasvcd: its pid is in MIRROR_STANDIN_RUN_DIR/VM.pid,
 * locked by it (a pid file that no live process locks is stale), and /run
 * goes with a crash of the host, as the process does.
 * REPLACE_BACKUP: the domain's paused backup QEMU here is ended first
 * (SIGKILL: its exports are writethrough; then virDomainDestroy, the
 * definition kept) and the stand-in started at once, on the port it freed;
 * DATA {"pid","port","gap_ms"} says how long nothing listened (from the kill
 * to the stand-in's start, an upper bound). Without it a domain
 * that is active here is refused (-EBUSY: two processes would write its
 * images). -EADDRINUSE names the port when it is taken; a stand-in of VM
 * that runs already is success on NBD_ADDR:PORT, -EEXIST elsewhere.
 * (The signatures of the live switchover's calls are issue 14's proposal,
 * kept; the *_typed forms are added as for the other operations.)
 */
/* not hasvcd's own /run/hasvc: systemd removes that one when hasvcd stops */
#define MIRROR_STANDIN_RUN_DIR "/run/hasvc-standin"

int mirror_standin_start(struct mirror *m, const char *vm, const char *nbd_addr, unsigned port,
			 bool replace_backup, const char *primary_node, mirror_done_fn done,
			 void *userdata);
/*
 * The same for the way back after a migration left this host: the images of
 * XML (the VM's definition), with no libvirt call and no check that the
 * domain is not active here. libvirt holds the domain locked while it reaps
 * the source's QEMU, 1.5 s after the guest left; the guest waits paused on
 * its new host until this stand-in serves. Only for a VM whose migration
 * away from this host has ended (mirror_migrate answered): its QEMU no
 * longer writes.
 */
int mirror_standin_start_xml(struct mirror *m, const char *vm, const char *xml,
			     const char *nbd_addr, unsigned port, const char *primary_node,
			     mirror_done_fn done, void *userdata);
/*
 * The way back armed ahead (QEMU 10.0): as mirror_standin_start_xml, but the
 * images opened inactive, while the guest's QEMU still runs on them here
 * (as an incoming migration's QEMU opens them), and exported (allow-inactive)
 * without serving; mirror_standin_activate then makes them serve, in
 * milliseconds, once the guest has left: the images' metadata is read again
 * at that moment (blockdev-set-active over the stand-in's own QMP monitor,
 * MIRROR_STANDIN_RUN_DIR/VM.qmp). What a stand-in's start costs (0.1-0.6 s)
 * is then spent while the guest still runs, not while it waits.
 */
int mirror_standin_arm_xml(struct mirror *m, const char *vm, const char *xml,
			   const char *nbd_addr, unsigned port, const char *primary_node,
			   mirror_done_fn done, void *userdata);
int mirror_standin_activate(struct mirror *m, const char *vm, mirror_done_fn done,
			    void *userdata);
/* Stops VM's stand-in here (SIGTERM, waited for: it flushes); none running is success. */
int mirror_standin_stop(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata);

/*
 * On the primary host: live-migrates VM to DEST_ADDR's libvirtd
 * (virDomainMigrateToURI3, peer to peer, to qemu+tls://DEST_ADDR/system with
 * the client certificates of mirror_set_tls's directory's libvirt/ when it
 * exists; the migration stream on tcp://DEST_ADDR, TLS when the mirror's
 * is on), left paused there and defined there (the primary's definition),
 * the source's kept. Its disks are not copied: they are the backup's images,
 * kept in step by our write-blocking jobs (the qmp engine), which the
 * destination must serve through a stand-in meanwhile. -EOPNOTSUPP "live
 * switchover needs the qmp engine" otherwise, -EAGAIN when a disk's job is
 * not READY. Aborted, with -ETIMEDOUT, when it has not ended after TIMEOUT_S
 * (0: 300 s); the guest then keeps running here. The migration runs on a
 * thread of its own: the mirror thread serves other requests meanwhile.
 * DATA {"elapsed_ms","downtime_ms"?} (downtime as libvirt measured it).
 */
int mirror_migrate(struct mirror *m, const char *vm, const char *dest_addr, unsigned timeout_s,
		   mirror_done_fn done, void *userdata);
/*
 * On the new primary after a migration: stops VM's stand-in here, if any,
 * then resumes the domain (already running: success). On a host whose
 * migration of VM is still under way (its pair gave up on it: the backup
 * host lost), cancels that migration and fails with -EAGAIN until it has
 * ended (mirror_inflight.h): only then is it known where the guest is.
 */
int mirror_continue(struct mirror *m, const char *vm, mirror_done_fn done, void *userdata);

/* --- typed answers ------------------------------------------------------------------- */

/*
 * The answers of the operations that have one, as records: the same content
 * as their JSON DATA above, for callers that want to decode nothing. An
 * operation started with its *_typed() form hands its answer to a
 * mirror_reply_fn instead of a mirror_done_fn; everything else about it is
 * the same.
 */

/* A mirrored disk of a running domain and its virtual size (mirror_inspect). */
struct mirror_disk_size {
	char *target; /* "vda" */
	uint64_t bytes;
};

struct mirror_inspection {
	char *uuid; /* "" when the definition has none */
	char *xml;  /* the inactive definition, secrets included: the backup is defined from it */
	struct mirror_disk_size *disks; /* the mirrored disks, mirror_domain_parse() order */
	size_t n_disks;
};

/* A mirrored disk's block copy (mirror_jobs). */
struct mirror_disk_job {
	char *target;
	bool job;     /* a block copy job runs on it */
	bool ready;   /* READY: every write since reaches both sides */
	uint64_t cur; /* bytes copied of END (0 and 0 without a job) */
	uint64_t end;
	bool paused;  /* qmp engine: the job is paused (its backup went away), ranges kept */
	uint64_t speed; /* bytes/s the job may copy at (its rate limit), 0 unlimited */
	char *why;    /* paused: why, when mirror/ knows better than "a failed write"; NULL */
};

struct mirror_jobs_state {
	bool active; /* the domain runs here, or is paused */
	bool paused;
	struct mirror_disk_job *disks;
	size_t n_disks;
};

enum mirror_job_status {
	MIRROR_JOB_COMPLETED,
	MIRROR_JOB_FAILED,
	MIRROR_JOB_CANCELED,
	MIRROR_JOB_READY,
	MIRROR_JOB_UNKNOWN,
};

/* A block-copy job event (mirror_on_job_event). */
struct mirror_job_event {
	char *vm;
	char *disk;
	enum mirror_job_status status;
};

/* "ready", "failed", ...: the JSON form's "status". */
const char *mirror_job_status_name(enum mirror_job_status status);

/*
 * What a started copy sends (mirror_start_typed, mirror_start_resync_typed):
 * every block, or only what was written since the backup went away (the qmp
 * engine's paused jobs resumed; a switchover's reverse mirror from equal
 * disks). A record, so that the pairs show and log it without reading the
 * message. The JSON form: DATA {"kind":"full"|"delta","reason"?}.
 */
enum mirror_copy_kind {
	MIRROR_COPY_FULL,
	MIRROR_COPY_DELTA,
};

struct mirror_copy {
	enum mirror_copy_kind kind;
	/*
	 * FULL: why no delta, in a few words ("libvirt block copy has no
	 * delta", "the primary's QEMU restarted: its jobs are gone"); DELTA:
	 * what the delta is ("paused jobs resumed"). Never NULL.
	 */
	const char *reason;
};

/* "full", "delta": the JSON form's "kind". */
const char *mirror_copy_kind_name(enum mirror_copy_kind kind);

/* A started stand-in (mirror_standin_start). */
struct mirror_standin {
	pid_t pid;
	unsigned port;
	int64_t gap_ms; /* REPLACE_BACKUP: ms from the backup's destroy to the stand-in's start; -1 */
};

/* A completed migration (mirror_migrate). */
struct mirror_migration {
	uint64_t elapsed_ms; /* the migration call, as hasvc timed it */
	int64_t downtime_ms; /* the guest's downtime as libvirt measured it; -1 not told */
};

/*
 * An online verify (mirror_verify_typed): what was compared and found. RANGES
 * names what differed ("vda:1048576+65536, vdb:0+1048576", at most
 * MIRROR_VERIFY_RANGES_SHOWN of them, then "... and N more"), "" when nothing did.
 */
struct mirror_verification {
	uint64_t bytes_compared;
	uint64_t out_of_sync_bytes; /* found different (every recheck) */
	uint64_t n_ranges;
	uint64_t repaired_bytes;    /* copied from the primary (repair) */
	uint64_t remaining_bytes;   /* still different after the repair */
	uint64_t rechecked_chunks;  /* read again because they differed once */
	uint64_t elapsed_ms;
	uint64_t pause_ms;          /* repair: the guest paused, in total */
	uint64_t pause_max_ms;      /* ... the longest pause */
	unsigned pauses;
	char *ranges;
};

#define MIRROR_VERIFY_RANGES_SHOWN 32

/*
 * One outcome. RESULT and MESSAGE as for mirror_done_fn; of the rest only the
 * member of the operation that ran can be set (NULL or 0 otherwise, and when
 * it failed before it had an answer). Everything lives during the call only.
 */
/*
 * The identity of a backup's disks (mirror_backup_prepare_tls; issue 13,
 * item 4, mirror_identity.c): EXPECTED the token the cluster recorded for
 * this pair's backup disks (NULL: none to check), NEXT the token this
 * prepare writes on them.
 */
struct mirror_disk_identity {
	const char *expected;
	const char *next;
};

/* What the prepare found: SAME the disks hasvc left (or nothing to check), else REASON. */
struct mirror_disk_check {
	bool same;
	const char *reason; /* NULL when same */
};

struct mirror_reply {
	int result;
	const char *message;
	const struct mirror_inspection *inspection; /* mirror_inspect_typed */
	const struct mirror_jobs_state *jobs;       /* mirror_jobs_typed */
	unsigned port;                              /* mirror_backup_prepare_typed: the port bound */
	const struct mirror_disk_check *disk_check; /* ... _tls with an identity: the disks found */
	const struct mirror_job_event *event;       /* mirror_on_job_event_typed */
	const struct mirror_copy *copy;             /* mirror_start*_typed: what the copy sends */
	const struct mirror_standin *standin;       /* mirror_standin_start_typed */
	const struct mirror_migration *migration;   /* mirror_migrate_typed */
	const struct mirror_verification *verification; /* mirror_verify_typed */
};

typedef void (*mirror_reply_fn)(void *userdata, const struct mirror_reply *reply);

int mirror_backup_prepare_typed(struct mirror *m, const char *primary_xml,
				const uint64_t *disk_bytes, size_t n_disks, const char *nbd_addr,
				unsigned port, bool fresh, uint64_t memory_reserve,
				mirror_reply_fn done, void *userdata);
int mirror_inspect_typed(struct mirror *m, const char *vm, mirror_reply_fn done, void *userdata);
int mirror_jobs_typed(struct mirror *m, const char *vm, mirror_reply_fn done, void *userdata);
int mirror_start_typed(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
		       bool sync, uint64_t bandwidth_mib, mirror_reply_fn done, void *userdata);
int mirror_start_resync_typed(struct mirror *m, const char *vm, const char *nbd_host,
			      unsigned port, bool sync, uint64_t bandwidth_mib, bool may_resume,
			      bool from_equal, mirror_reply_fn done, void *userdata);
int mirror_standin_start_typed(struct mirror *m, const char *vm, const char *nbd_addr,
			       unsigned port, bool replace_backup, const char *primary_node,
			       mirror_reply_fn done, void *userdata);
int mirror_migrate_typed(struct mirror *m, const char *vm, const char *dest_addr,
			 unsigned timeout_s, mirror_reply_fn done, void *userdata);
/*
 * On the primary host, while the guest runs: compares every mirrored disk of
 * VM as the guest sees it with the backup's export of it at NBD_HOST:PORT
 * (mirror_verify.c, docs/mirror.md "Online verify"), 1 MiB at a time, a
 * chunk that differs read again a few times (a write in flight); REPAIR:
 * the ranges that still differ are copied from the primary into the
 * backup's export with the guest paused (batches of at most 64 MiB, resumed
 * between them), then compared again. The primary is read through a
 * read-only NBD export of its own QEMU for the length of the verify (-EBUSY
 * when that QEMU has an NBD server already). Runs on a thread of its own.
 */
int mirror_verify_typed(struct mirror *m, const char *vm, const char *nbd_host, unsigned port,
			bool repair, mirror_reply_fn done, void *userdata);

/* Replaces what mirror_on_job_event() set, and the other way round. */
void mirror_on_job_event_typed(struct mirror *m, mirror_reply_fn fn, void *userdata);

/* --- secured replication (TLS) -------------------------------------------------------- */

/*
 * The backup's NBD server and the primary's block copy into it speak TLS
 * (x509, both ends verified) when the host's TLS directory holds a CA
 * certificate, and refuse to run with certificates that are missing, expired
 * or not signed by that CA, saying which (docs/security.md, docs/mirror.md).
 *
 * The directory: DIR when set here, else the one libvirt's QEMU driver takes
 * NBD client certificates from (qemu.conf nbd_tls_x509_cert_dir, else
 * default_tls_x509_cert_dir), else MIRROR_TLS_DIR_DEFAULT; its files are
 * those deploy/hasvc-certs makes. The primary's side is made by libvirt from
 * qemu.conf's directory whatever is set here: set DIR only to the same one.
 *
 * MODE: AUTO (what a mirror does without this call) "TLS is on when
 * DIR/ca-cert.pem exists"; ON: a host without certificates refuses to export
 * or to copy; OFF: plain NBD as before, whatever DIR holds.
 */
#define MIRROR_TLS_DIR_DEFAULT "/etc/pki/qemu"

enum mirror_tls_mode {
	MIRROR_TLS_AUTO,
	MIRROR_TLS_ON,
	MIRROR_TLS_OFF,
};

struct mirror_tls {
	const char *dir; /* NULL: libvirt's, as above */
	enum mirror_tls_mode mode;
};

/* For the operations submitted from now on; TLS is copied. */
int mirror_set_tls(struct mirror *m, const struct mirror_tls *tls);

/*
 * mirror_backup_prepare_typed(), and with TLS on only the pair's primary may
 * connect: PRIMARY_NODE is its node name, the CN of its host certificate
 * (QEMU's authz matches the client's distinguished name "CN=<PRIMARY_NODE>"),
 * and this host's own certificate is let in too (it holds the disk already;
 * an operator may read the export from here). PRIMARY_NODE NULL, and
 * mirror_backup_prepare() and _typed(): any certificate the CA signed gets
 * in (the data is still encrypted, and a host outside the cluster is kept
 * out, but any host of the cluster could write).
 * IDENTITY (NULL: none): the disks found are checked against
 * IDENTITY->expected before QEMU opens them, and carry IDENTITY->next after;
 * the reply's disk_check says whether they were the ones hasvc left.
 */
int mirror_backup_prepare_tls(struct mirror *m, const char *primary_xml,
			      const uint64_t *disk_bytes, size_t n_disks, const char *nbd_addr,
			      unsigned port, bool fresh, uint64_t memory_reserve,
			      const char *primary_node, const struct mirror_disk_identity *identity,
			      mirror_reply_fn done, void *userdata);
