/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mirror_internal: what the files of mirror/ share and nobody else sees.
 *
 * mirror.c owns the thread, the request queue and the libvirt connection;
 * each operation lives in a file of its purpose (mirror_backup.c,
 * mirror_copy.c, mirror_promote.c, mirror_inspect.c) as a pair of functions:
 * the public mirror_*() one, on the caller's thread, that fills a request
 * and submits it, and a static run function, on the mirror thread, that does
 * the libvirt calls and fills in the request's result. A request carries its
 * run function, so mirror.c runs them without knowing what they are.
 *
 * The helpers below run on the mirror thread unless said otherwise; those
 * that take a request report a failure in it (mirror__say) and return its
 * -errno.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "hs_clock.h"
#include "mirror.h"
#include "mirror_xml.h"

#define MIRROR_MSG_MAX 512

struct mirror;
struct request;

/* Which answer a request carries. */
enum mirror__answer {
	MIRROR__ANSWER_NONE,
	MIRROR__ANSWER_INSPECTION, /* request.inspection */
	MIRROR__ANSWER_JOBS,       /* request.jobs */
	MIRROR__ANSWER_PORT,       /* request.port_bound */
	MIRROR__ANSWER_EVENT,      /* request.event */
	MIRROR__ANSWER_COPY,       /* request.copy, its reason in request.copy_reason */
	MIRROR__ANSWER_STANDIN,    /* request.standin */
	MIRROR__ANSWER_MIGRATION,  /* request.migration */
	MIRROR__ANSWER_VERIFY,     /* request.verification */
};

/* An operation's body, on the mirror thread. */
typedef void (*mirror__run_fn)(struct mirror *m, struct request *r);

struct request {
	struct request *next;
	mirror__run_fn run; /* NULL: no operation, only a result to hand over (job events) */
	char *xml;      /* prepare: the primary's domain XML */
	uint64_t *disk_bytes;
	size_t n_disks;
	char *vm;       /* the domain, for the operations on one by name */
	char *host;     /* NBD address */
	unsigned port;
	char *note;     /* cut: what closing the connections did */
	bool sync;
	bool fresh;     /* prepare: a new pair, nothing of that name may exist */
	bool qmp;       /* the qmp engine (mirror_qmp.c) runs the primary's jobs */
	bool parallel;  /* and sync mode writes both disks at once (mirror_qmp_sync.c) */
	/*
	 * When the connection this request runs on was opened with QEMU's
	 * QUORUM_REPORT_BAD events registered (monotonic ms), 0 without them:
	 * set by mirror__connection().
	 */
	int64_t conn_epoch;
	bool may_resume; /* start: resume our paused jobs into HOST:PORT when they exist */
	bool from_equal; /* start: the disks are equal now, copy only the writes from now on */
	bool resume_only; /* mirror_resume: no full copy when the jobs cannot resume */
	bool release;   /* cut: end the jobs for good (qmp engine: cancel, not pause) */
	bool replace;   /* stand-in: destroy the paused backup QEMU first, then serve its disks */
	bool repair;    /* verify: copy the ranges that differ into the backup */
	bool inactive;  /* stand-in: its images opened inactive, until mirror_standin_activate */
	bool may_start; /* revive: start a domain found shut off (else only say so) */
	/*
	 * Set by a run function whose operation goes on for long (a migration):
	 * mirror.c then runs it on a thread of its own, which mirror_free()
	 * waits for, and the outcome is handed back when it returns.
	 */
	mirror__run_fn on_thread;
	void *thread_data; /* what on_thread needs (flat: freed with the request) */
	void (*thread_data_free)(void *); /* how, when not flat (NULL: free) */
	/*
	 * A reference to the mirror thread's connection, taken by the run
	 * function, for an on_thread run that calls libvirt on it (promote: the
	 * VMs of a lost host are promoted side by side, not one after the
	 * other). It keeps the connection alive whatever the mirror thread does
	 * with its own meanwhile; released with the request.
	 */
	virConnectPtr conn;
	uint64_t memory_reserve; /* prepare: bytes this host keeps for itself */
	uint64_t bandwidth_mib;
	unsigned timeout_s;
	char *tls_dir;  /* mirror_set_tls()'s directory, NULL: libvirt's */
	enum mirror_tls_mode tls_mode;
	char *peer;     /* prepare: the pair's primary node, the one client let in; NULL any */
	char *id_expected, *id_next; /* prepare: the disks' identity (mirror_identity.c) */
	mirror_done_fn done;   /* the answer as JSON DATA, */
	mirror_reply_fn reply; /* or as a record (the *_typed operations) */
	void *userdata;
	int result;
	char message[MIRROR_MSG_MAX];
	/* The answer, for the operations that have one (mirror_reply.c); owned here. */
	enum mirror__answer answer;
	struct mirror_inspection inspection;
	struct mirror_jobs_state jobs;
	unsigned port_bound;
	struct mirror_job_event event;
	struct mirror_copy copy;
	char copy_reason[160];
	struct mirror_standin standin;
	struct mirror_migration migration;
	struct mirror_verification verification;
	struct mirror_disk_check disk_check; /* with ANSWER_PORT, when the prepare had an identity */
	char disk_reason[320];
};

/* --- mirror.c: requests, on the caller's thread ---------------------------------- */

/*
 * mirror_identity.c. Check: 1 when every disk of DOM is the one hasvc left
 * (its identity attribute is EXPECTED's; EXPECTED NULL: nothing to check,
 * trusted), 0 when not, WHY then saying which and how; an image in CREATED
 * (made by this prepare) is never. Mark: writes TOKEN on every disk;
 * -errno, said in R, when it cannot.
 */
struct mirror_domain;
int mirror__identity_check(const struct mirror_domain *dom, const bool *created,
			   const char *expected, char *why, size_t len);
int mirror__identity_mark(struct request *r, const struct mirror_domain *dom, const char *token);

/*
 * mirror_backup_keep.c. Keepable: 1 when D, the backup domain found by a
 * prepare, is still the one in step and can be kept as it runs (its QEMU,
 * NBD server and exports untouched), 0 when not (WHY says what differs),
 * -errno after mirror__say. Record: writes what its NBD server was started
 * for (R's host and peer, PORT, TLS) into D's live metadata, for the next
 * prepare's check (best effort: unrecorded, the backup is never kept).
 */
int mirror__backup_keepable(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			    char *why, size_t len);
void mirror__backup_record(struct request *r, virDomainPtr d, unsigned port, bool tls);
/*
 * mirror_disk_watch.c: 1 when process PID holds open the very file at every
 * disk path of DOM, 0 when not (WHY says which), -errno.
 */
int mirror__disks_held(pid_t pid, const struct mirror_domain *dom, char *why, size_t len);
/* Keepalive on the backup's NBD listener at PORT (mirror_backup_keep.c says why). */
void mirror__backup_keepalive(struct request *r, const struct mirror_domain *dom, unsigned port);

/* A request of RUN whose outcome goes to DONE, or to REPLY (the other NULL). */
struct request *mirror__request_new(mirror__run_fn run, mirror_done_fn done, mirror_reply_fn reply,
				    void *userdata);
void mirror__request_free(struct request *r);
/* Queues R for the mirror thread, which owns it from now on. */
int mirror__submit(struct mirror *m, struct request *r);
/*
 * A request of RUN on domain VM. With RET, the request is handed back for the
 * caller to fill in the rest and submit; without, it is submitted at once.
 */
int mirror__submit_vm(struct mirror *m, mirror__run_fn run, const char *vm, mirror_done_fn done,
		      mirror_reply_fn reply, void *userdata, struct request **ret);

/* --- mirror.c: on the mirror thread ---------------------------------------------- */

/*
 * Whether mirror_free() has begun (from any thread): a long on_thread run
 * (a verify) ends early instead of holding hasvcd's stop for as long as it
 * would take.
 */
bool mirror__stopping(struct mirror *m);
/* The libvirt URI of M, for a thread that opens a connection of its own (on_thread). */
const char *mirror__uri(const struct mirror *m);

/* Sets R's result to ERR and its message; returns ERR. */
int mirror__say(struct request *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* libvirt's last error on this thread, for a message. */
const char *mirror__virt_error(void);
/* The connection to libvirtd, opened or re-opened when dead; NULL after mirror__say. */
virConnectPtr mirror__connection(struct mirror *m, struct request *r);

/* --- mirror_domain.c: the domain an operation works on ---------------------------- */

/* The domain R->vm defined here (*RET) and its parsed inactive XML; NULL after mirror__say. */
struct mirror_domain *mirror__live_domain(struct mirror *m, struct request *r, virDomainPtr *ret);
/* The same on CONN, from any thread (an on_thread run with its R->conn). */
struct mirror_domain *mirror__domain_on(virConnectPtr conn, struct request *r, virDomainPtr *ret);
/* D's state (VIR_DOMAIN_RUNNING, ...) in *RET_STATE; -EIO after mirror__say. */
int mirror__domain_state(struct request *r, virDomainPtr d, int *ret_state);
/* QMP command CMD on D; -EIO with QEMU's error in R's message. */
int mirror__qmp(struct request *r, virDomainPtr d, const char *cmd);
/*
 * QMP command CMD on D, its answer parsed: *RET_PARSED the whole reply (the
 * caller puts it), *RET_RETURN its "return" member. -EIO when the command
 * could not be sent or answered otherwise (nothing is reported in a request).
 */
int mirror__qmp_return(virDomainPtr d, const char *cmd, json_object **ret_parsed,
		       json_object **ret_return);
/* QMP command CMD on D, errors ignored (a pause of a paused job, a delete of no node). */
void mirror__qmp_quiet(virDomainPtr d, const char *cmd);
/*
 * DISK's format node exported on D's NBD server as export DISK->target, id
 * ID_PREFIX + target: WRITABLE writable and writethrough (a backup's), else
 * read-only (a verify's). -errno after mirror__say.
 */
int mirror__export_add(struct request *r, virDomainPtr d, const struct mirror_disk *disk,
		       const char *id_prefix, bool writable);
/* Aborts the block job on every mirrored disk that has one; FLAGS as virDomainBlockJobAbort. */
void mirror__jobs_abort(virDomainPtr d, const struct mirror_domain *dom, unsigned flags);

/* --- mirror_tls.c: the host's TLS settings, for an operation ---------------------- */

/*
 * Whether R runs with TLS (1, the directory in RET) or without (0), by R's
 * mode and the host's files; -errno after mirror__say when mode ON finds
 * no certificates.
 */
int mirror__tls_for(struct request *r, char *ret, size_t len);
/*
 * What an NBD server of ours (the backup's QEMU, a stand-in) is given with
 * TLS on: this host's server certificate in DIR checked, and the rules of an
 * authz-list letting in only R->peer ("CN=<peer>") and this host's own client
 * certificate, in *RET_RULES (NULL without a peer: any certificate of the
 * CA). 1 with TLS, 0 plain NBD, -errno after mirror__say.
 */
int mirror__tls_export(struct request *r, char *dir, size_t len, json_object **ret_rules);

/* --- mirror_standin.c: a stand-in's process, for the operations that meet one -------- */

/* Milliseconds on the monotonic clock (hs_clock.h), for a bound or a figure of a request. */
static inline int64_t mirror__now_ms(void)
{
	return (int64_t)(hs_now_usec(CLOCK_MONOTONIC) / 1000);
}

/*
 * A stand-in's start, checked and filled in, not submitted yet (the caller
 * sets what its kind needs, then mirror__submit): mirror_standin.c, for
 * mirror_standin_arm.c.
 */
int mirror__standin_request(struct mirror *m, const char *vm, const char *xml,
			    const char *nbd_addr, unsigned port, bool replace_backup,
			    const char *primary_node, mirror_done_fn done, mirror_reply_fn reply,
			    void *userdata, struct request **ret);
/* Where the stand-in of VM keeps its QMP monitor (a unix socket). */
void mirror__standin_monitor_path(const char *vm, char *buf, size_t size);

/* The pid of the stand-in of VM on this host, 0 when none runs. */
pid_t mirror__standin_pid(const char *vm);
/*
 * Stops the stand-in of VM on this host, if any (SIGTERM, waited for; it
 * flushes); 1 when one was stopped, 0 when none ran, -errno after mirror__say.
 */
int mirror__standin_stop(struct request *r, const char *vm);

/* --- mirror_copy.c: how far the block jobs are ------------------------------------ */

/*
 * Fills R->jobs with the jobs of DOM (mirror_jobs' answer); the count of disks
 * READY in *RET_READY, and in *RET_DRAINED whether every disk is READY with
 * nothing left to copy. Either may be NULL.
 */
int mirror__jobs_read(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
		      size_t *ret_ready, bool *ret_drained);

/* --- mirror_reply.c: the answers, as records and as JSON -------------------------- */

/* Frees R's answer and sets it to none. */
void mirror__answer_clear(struct request *r);
/* Hands R's outcome to its callback, on the caller's thread: as a record, or as JSON. */
void mirror__answer_deliver(struct request *r);
/* R's answer: a copy of KIND, for the reason formatted (see struct mirror_copy). */
void mirror__answer_copy(struct request *r, enum mirror_copy_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum mirror_job_status mirror__job_status(int libvirt_status);

/* --- mirror_qmp.c: the qmp engine (HASVC_MIRROR_ENGINE=qmp) ----------------------- */

#define MIRROR__QMP_TLS_ID "hs-tls-client" /* tls-creds-x509 of the NBD client nodes */
/*
 * How long the NBD node holds a request whose connection broke, while it
 * reconnects, before failing it (and pausing the job). Not 0: a server that
 * is replaced on the same port (the backup's QEMU by a live switchover's
 * stand-in and back, a backup restarted) leaves the node's idle connection
 * dead without its knowing, and with 0 the first request after, a guest
 * write, fails on it: the job pauses, the pair degrades, and during a
 * migration the guest's new host would miss that write. With a delay the
 * node retries the request once reconnected (its connect attempts come 1 s
 * apart: 2 s covers a server back within about a second). The cost: a
 * backup that is really gone holds one write 2 s longer before the job
 * pauses (docs/datapath-experiments.md A2, C4).
 */
#define MIRROR__QMP_RECONNECT_DELAY_S 2

/* One disk's job as query-block-jobs tells it. */
struct mirror__qmp_job {
	bool exists;
	bool paused;
	/*
	 * READY in hasvc's sense: every write reaches both sides and nothing is
	 * owed. QEMU's status "ready" is not enough: a READY job that paused
	 * and is resumed is "ready" again at once, with its delta still to copy.
	 * A write-blocking job says "actively-synced" once its bitmap is clean
	 * (false again on a target error); a background one never does, and is
	 * ready when it caught up (offset == len).
	 */
	bool ready;
	char status[16];
	char io_status[16];
	uint64_t offset, len;
	uint64_t speed; /* bytes/s, 0 unlimited */
};

/* Our jobs of DOM's disks (JOBS[n_disks]) from query-block-jobs' LIST; others ignored. */
void mirror__qmp_jobs_parse(json_object *list, const struct mirror_domain *dom,
			    struct mirror__qmp_job *jobs);
/*
 * The block node of DISK that holds what the guest sees: its format node
 * (qcow2, raw), the file node of a raw disk without one; found by the image
 * file in query-named-block-nodes, so libvirt's names and ours alike.
 * -ENOENT when none, -EIO when QMP fails.
 */
int mirror__qmp_format_node(virDomainPtr d, const struct mirror_disk *disk, char *buf,
			    size_t size);
/* mirror__jobs_read() for our own jobs (query-block-jobs). */
int mirror__qmp_jobs_read(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			  size_t *ret_ready, bool *ret_drained);
/* mirror_set_speed() for our jobs: SPEED bytes/s (0 unlimited); R's result and message. */
int mirror__qmp_set_speed(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			  uint64_t speed);
/* Pauses our jobs (a paused one stays so); their dirty ranges are kept. */
void mirror__qmp_jobs_pause(virDomainPtr d, const struct mirror_domain *dom);
/* Cancels our jobs, waits until they are gone, deletes our NBD nodes. */
void mirror__qmp_jobs_cancel(virDomainPtr d, const struct mirror_domain *dom, bool force);
/*
 * 0 when every disk has our job into HOST:PORT; else -errno and WHY says,
 * for the event, why the resync must be full.
 */
int mirror__qmp_resumable(virDomainPtr d, const struct mirror_domain *dom, const char *host,
			  unsigned port, char *why, size_t size);
/*
 * Resumes the paused jobs until READY (a few tries), each on a fresh NBD
 * node (TLS: with our client credentials) when it can; the message has the
 * bytes copied.
 */
int mirror__qmp_resume(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
		       bool tls);

/* --- mirror_qmp_target.c: the qmp engine's target nodes ----------------------------- */

/*
 * The target of our job of disk TARGET: NBD node "hs-nbd-TARGET" to R->host:
 * R->port (TLS: with MIRROR__QMP_TLS_ID) under quorum node "hs-q-TARGET",
 * whose name goes to NODE. -errno after mirror__say; nothing left on failure.
 */
int mirror__qmp_target_add(struct request *r, virDomainPtr d, const char *target, bool tls,
			   char *node, size_t size);
/* The NBD node our job of TARGET writes to now; -EIO when QEMU does not answer. */
int mirror__qmp_target_node(virDomainPtr d, const char *target, char *node, size_t size);
/*
 * An NBD node NODE to R->host:R->port's export TARGET (reconnect-delay,
 * TLS when asked): the qmp engine's targets and parallel writes' children.
 */
int mirror__qmp_nbd_add(struct request *r, virDomainPtr d, const char *node, const char *target,
			bool tls);
/* Whether the mirror of disk TARGET writes to HOST:PORT. */
bool mirror__qmp_node_goes_to(virDomainPtr d, const char *target, const char *host, unsigned port);
/*
 * A new NBD node to R->host:R->port swapped in for the current one under the
 * quorum of TARGET (the job should be paused). 0 swapped; 1 nothing to swap
 * (a job into a bare NBD node); -errno after mirror__say, the old node still
 * in place.
 */
int mirror__qmp_target_swap(struct request *r, virDomainPtr d, const char *target, bool tls);
/* Deletes our quorum and NBD nodes of TARGET (the job gone first); errors ignored. */
void mirror__qmp_target_del(virDomainPtr d, const char *target);
/*
 * From x-debug-query-block-graph's GRAPH: the one child of node PARENT (its
 * node name in NODE, its edge name in EDGE). -ENOENT when PARENT or a child
 * is missing, -EEXIST when it has more than one, -EINVAL for another shape.
 */
int mirror__qmp_graph_child(json_object *graph, const char *parent, char *node, size_t node_size,
			    char *edge, size_t edge_size);
/* A new job per disk into R->host:R->port; TLS_DIR NULL plain; WHY_FULL for the message. */
int mirror__qmp_start(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
		      const char *tls_dir, const char *why_full);
/* The same, each job's source node SOURCE_PREFIX + target ("hs-g-vda"); NULL: the format node. */
int mirror__qmp_start_from(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			   const char *tls_dir, const char *why_full, const char *source_prefix);

/* --- mirror_qmp_sync.c (+ mirror_qsync_graph.c, mirror_qsync_resync.c): parallel sync writes --- */

/* mirror__jobs_read() when the disks sit on our quorums; else the qmp engine's. */
int mirror__qsync_jobs_read(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			    size_t *ret_ready, bool *ret_drained);
/* mirror__qmp_resumable() for them: the dirty bitmaps are for HOST:PORT. */
int mirror__qsync_resumable(virDomainPtr d, const struct mirror_domain *dom, const char *host,
			    unsigned port, char *why, size_t size);
/* The resync of the disks whose backup was taken out: mirror sync none + backup from the bitmaps. */
int mirror__qsync_resume(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			 bool tls);
/* A full copy, or from equal disks (R->from_equal): the guest devices onto our quorums
 * (paused a moment), a mirror from each. */
int mirror__qsync_start(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			const char *tls_dir, const char *why_full);
/* A cut: every NBD child out of its quorum (the bitmaps keep what it misses). */
void mirror__qsync_cut(virDomainPtr d, const struct mirror_domain *dom);
/* The end: the guest devices back on libvirt's format nodes, bitmaps and jobs gone. */
void mirror__qsync_detach(virDomainPtr d, const struct mirror_domain *dom);
/*
 * The request of mirror.c's QUORUM_REPORT_BAD callback (R->vm, the node in
 * R->note): the child out, R's answer a failed job event of its disk.
 */
void mirror__qsync_bad_run(struct mirror *m, struct request *r);
/* QUORUM_REPORT_BAD named NODE: that child out at once; R says so (-EIO). */
int mirror__qsync_child_failed(struct request *r, virDomainPtr d, const struct mirror_domain *dom,
			       const char *node);
/* Parsing of our names (unit-tested): a child's disk and epoch, a bitmap's time and backup. */
int mirror__qsync_child_target(const char *node, char *target, size_t size);
int64_t mirror__qsync_child_epoch(const char *node);
int mirror__qsync_bitmap_parse(const char *name, const char *target, int64_t *ms, char *where,
			       size_t size);

/* After a backup's exports: its QEMU traces each error reply, from the log's end on. */
void mirror__backup_trace_refusals(virDomainPtr d, const char *vm);

/* --- mirror_qsync_vouch.c: a quorum child vouched for across restarts --- */
#define MIRROR_VOUCH_RUN_DIR "/run/hasvc-vouch"
#define MIRROR__VOUCH_INODES_MAX 16
/*
 * How long after hasvcd's connection came up a socket is trusted: the
 * backup's hasvcd shuts its export's connections down within ~2 s of an
 * error reply it traced (its watch's period), which a check must not beat.
 */
#define MIRROR__VOUCH_SETTLE_MS 5000
struct mirror__vouch_record {
	char child[128];
	int64_t epoch; /* the connection whose events cover the child */
	char host[256];
	unsigned port;
	unsigned long inodes[MIRROR__VOUCH_INODES_MAX]; /* the child's sockets */
	size_t n_inodes;
};
/* The inodes of VM's QEMU's ESTABLISHED connections to HOST:PORT. */
int mirror__vouch_sockets(const char *vm, const char *host, unsigned port, unsigned long *inodes,
			  size_t max, size_t *ret_n);
/*
 * After CHILD of disk TARGET was added on connection EPOCH: records the
 * child's sockets, those to HOST:PORT now that were not in BEFORE.
 */
int mirror__vouch_record(const char *vm, const char *target, const char *child, int64_t epoch,
			 const char *host, unsigned port, const unsigned long *before,
			 size_t n_before);
/*
 * Whether CHILD (of another connection than EPOCH) is vouched for: 1 yes
 * (the record then names EPOCH), 2 not decided yet (EPOCH younger than
 * MIRROR__VOUCH_SETTLE_MS), 0 no, WHY saying why.
 */
int mirror__vouch_check(const char *vm, const char *target, const char *child, int64_t epoch,
			char *why, size_t len);
void mirror__vouch_forget(const char *vm, const char *target);
/* The decision and the record's line, apart from the files (unit-tested). */
int mirror__vouch_judge(const struct mirror__vouch_record *rec, const char *child, int64_t epoch,
			int64_t now_ms, const unsigned long *live, size_t n_live, char *why,
			size_t len);
int mirror__vouch_record_parse(const char *line, struct mirror__vouch_record *rec);
