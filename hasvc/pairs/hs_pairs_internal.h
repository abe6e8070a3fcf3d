/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_pairs_internal: what the files of pairs/ share, and nothing outside
 * pairs/ includes. Each part lives in the file its comment names:
 *
 *   hs_pair_task.c        what this host has under way per VM (struct task)
 *   hs_nbd_ports.c        the NBD port allocator
 *   hs_pair_propose.c     the proposer: every transition and raw change
 *   hs_pair_requests.c    mirror/ requests and their completion
 *   hs_pair_duties.c      the duties of each state, and their dispatcher
 *   hs_pair_duty_*.c      the duties: mirror, move (failover, switchover,
 *                         delete), live (the live switchover)
 *   hs_pair_plan.c        the coordinator's plan (hs_coord_plan) carried out
 *   hs_pair_maintenance.c maintenance: the admin operation and the moves
 *   hs_pair_ops.c         the admin operations on pairs
 *   hs_pairs_round.c      the object and the cron
 */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "hs_core.h"
#include "hs_pair_fsm.h"
#include "hs_pairs.h"
#include "mirror.h"

struct sdb_pair_change;

/* What this host has under way for one VM (lost on restart, on purpose). */
/* keep-running (hs_pair_duty_guest.c): a guest whose QEMU died is started this often at most */
#define KEEP_RUNNING_STARTS 3
#define KEEP_RUNNING_WINDOW_USEC (600 * 1000000ULL)

struct task {
	struct task *next;
	char *vm;
	uint64_t generation;     /* the pair generation the fields below are about */
	enum hs_pair_state state;
	uint64_t changed_usec;   /* with generation: which incarnation of the pair */
	bool running;            /* a mirror/ request is in flight */
	bool urgent_running;     /* the cut is in flight (it may overtake the above) */
	bool done;               /* this generation's duty is over */
	bool mirror_started;     /* initial-sync: the block copy runs */
	bool cut_sent;           /* switching-over: the mirror was cut, the backup left */
	bool seen;               /* the pair still exists (sweep) */
	uint64_t next_usec;      /* not before (polling, retry) */
	uint64_t proposed_gen;   /* a transition from this generation is in flight */
	uint64_t proposed_usec;
	uint64_t progress_usec, progress_done;
	enum hs_pair_event step_event; /* a plan step carried out by this host */
	char *failure;           /* switchover: why the stop failed */
	/*
	 * creating, on the backup host: the prepare's outcome, kept for this
	 * generation and proposed again until the pair moves. A proposal can be
	 * lost (the host without quorum when the answer came, a membership
	 * change); the prepare is not run twice for it.
	 */
	bool outcome_known;
	int outcome;             /* the prepare's result (-errno) */
	unsigned outcome_port;   /* the port bound */
	char *outcome_message;
	/*
	 * ... and the backup disks' identity (issue 13, item 4): the token the
	 * prepare wrote on them, and why the disks found were not the ones
	 * left (NULL: they were, or nothing recorded to check).
	 */
	char outcome_disk_id[33];
	char *outcome_disk_reason;
	/* a live switchover's step (hs_pair_duty_live.c): its event, the port it bound */
	enum hs_pair_event live_event;
	unsigned live_port;
	bool standin_armed;      /* migrating: the way back's stand-in runs here, inactive */
	bool resumed_once;       /* initial-sync: a paused job was resumed in this generation */
	bool continue_sent;      /* a live switchover's guest resumed here in this generation */
	pid_t qemu_pid;          /* the VM's QEMU here, as the link watch last found it */
	pid_t backup_qemu_pid;   /* the backup's QEMU here, as the disk watch last found it */
	uint64_t disks_next_usec; /* the disk watch's next look */
	uint64_t disks_failed_gen; /* the generation whose replaced disk was proposed */
	/*
	 * The link watch's own observation: since when (monotonic) it has seen
	 * data waiting for an ACK with none arriving, and what it read last.
	 * TCP's "last ACK received" alone counts the idle time before a write
	 * too, so the first write after a quiet minute would read as a minute
	 * of silence.
	 */
	uint64_t link_waiting_usec; /* 0: nothing waiting at the last look */
	uint64_t link_seen_usec;
	unsigned link_silent_ms;
	uint64_t speed_next_usec; /* a failed change of the copy's speed: not retried before */
	uint64_t speed_applied;  /* bandwidth_mib + 1 set on the jobs in this generation; 0 none */
	uint64_t speed_noted;    /* bandwidth_mib + 1 whose failure to apply was logged; 0 none */
	/*
	 * initial-sync, on the primary host: what the copy started in this
	 * generation sends (mirror/'s answer, "new backup" for a new pair),
	 * replicated with its progress (pairs.copy_kind) for the API to show.
	 */
	bool copy_known;
	bool copy_recorded;      /* proposed with a progress at least once */
	enum mirror_copy_kind copy_kind;
	char copy_reason[320];
	/*
	 * Across generations: the host this VM was failed over from, here
	 * (promoted on it by a failover, not a switchover), until the next
	 * copy starts. A copy back onto that host is a failback, and its
	 * reason says so (issue 13, item 3). Lost with a restart of this
	 * hasvcd: the copy is as full, only its reason is then the engine's.
	 */
	char failed_over_from[HS_NAME_MAX + 1];
	/*
	 * Across generations, on the primary host: the times this host started
	 * the VM again after its QEMU died (hs_pair_duty_guest.c), the window's
	 * only; whether a failed look was said.
	 */
	uint64_t starts_usec[KEEP_RUNNING_STARTS];
	size_t n_starts;
	bool revive_failed_noted;
	uint64_t keep_next_usec; /* keep-running's next look */
};

/* An NBD port this host put into a proposal, which the state may not show yet. */
struct port_claim {
	char host[HS_NAME_MAX + 1];
	char vm[HS_NAME_MAX + 1];
	unsigned port;
	uint64_t usec; /* when; a claim older than PORT_CLAIM_USEC is forgotten */
};

struct hs_pairs {
	struct hs_core *core;
	struct mirror *mirror;
	struct task *tasks;
	/*
	 * The requests in flight: mirror/ drops its unanswered ones when it is
	 * freed (their callbacks never run), so hs_pairs_free frees them here.
	 */
	struct pending *pendings;
	struct port_claim claims[64]; /* ring: hs__pairs_free_port() */
	size_t next_claim;
	/* pairs whose "cannot leave" was logged, whole names: a cut one never matched */
	char maintenance_noted[64][HS_NAME_MAX + 1];
	size_t n_maintenance_noted;
	struct verify_run *verifies; /* online verifies running on this host (hs_pair_verify.c) */
};

#define RETRY_USEC (5000 * 1000ULL) /* a failed duty that is retried */

/* --- hs_pair_task.c --- */
/* VM's task, made when missing; NULL only out of memory. */
struct task *hs__task_get(struct hs_pairs *p, const char *vm);
/* A new generation of the pair: what was done for the old one no longer counts. */
void hs__task_sync(struct task *t, const struct hs_pair *v);
/* Forgets the VMs whose pair is gone (none of them may have a request in flight). */
void hs__tasks_sweep(struct hs_pairs *p);
void hs__tasks_free(struct hs_pairs *p);

/* --- hs_nbd_ports.c --- */
/*
 * The NBD port for a new backup of EXCEPT_VM on HOST: the first one from
 * nbd_port_base that no other pair backed up on HOST uses, in the state or in
 * a proposal this host made moments ago (a burst of creates, or one plan round
 * re-protecting several pairs onto HOST, is proposed before any is applied).
 * The port is remembered as claimed: call it only for a port that is used.
 * Proposers record it as a first guess; the backup host calls it again when
 * it prepares the backup, binds that port (or the next free one) and
 * records the port bound: only it sees every prepare onto itself. 0: none.
 */
unsigned hs__pairs_free_port(struct hs_pairs *p, const char *host, const char *except_vm);

/* --- hs_pair_propose.c --- */
/*
 * Proposes the FSM transition for EVENT from the pair's state and generation
 * (compare-and-set), with its event text; EXTRA's other fields go along.
 * -EINVAL (logged) when the table has no such edge; -EALREADY when this host
 * proposed from this generation moments ago.
 */
int hs__pairs_transition(struct hs_pairs *p, const struct hs_pair *v, enum hs_pair_event event,
			 const struct sdb_pair_change *extra, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/*
 * Proposes a raw change (no transition): pair_progress, op_end... BUILT is
 * the builder's result; *BUF and *LEN are read only after it ran.
 */
void hs__pairs_propose(struct hs_pairs *p, int built, char **buf, size_t *len, const char *what);
/* An event about V in the replicated log, from this host. */
#define hs__pairs_event(p, vm, kind, ...) hs_state_event((p)->core, vm, kind, __VA_ARGS__)

/* --- hs_pair_requests.c --- */
struct pending;
/*
 * What runs when a request ends, if the pair is still where the request found
 * it: RESULT and MESSAGE, and REPLY, mirror/'s answer as records (its port,
 * its jobs), valid during the call.
 */
typedef void (*hs_pair_then_fn)(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
				int result, const char *message, const struct mirror_reply *reply);
typedef int (*mirror_vm_fn)(struct mirror *, const char *, mirror_done_fn, void *);
typedef int (*mirror_vm_typed_fn)(struct mirror *, const char *, mirror_reply_fn, void *);
/* A request of V's task in flight; URGENT ones are counted apart (task.urgent_running). */
struct pending *hs__pending_new(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
				hs_pair_then_fn then, bool urgent);
/* The mirror/ callbacks of every request (PE is its userdata): with records, or none. */
void hs__request_reply(void *pe, const struct mirror_reply *reply);
void hs__request_done(void *pe, int result, const char *message, json_object *data);
/*
 * PE's answer is acted on even when the pair moved meanwhile (a new
 * generation or state): for what happened whatever the pair does next
 * (keep-running's start of a guest, counted and said).
 */
void hs__pending_any_state(struct pending *pe);
/* The request could not be submitted (R): logged, the duty retried later. */
void hs__pending_failed(struct task *t, struct pending *pe, const char *what, int r);
/* Frees the requests mirror/ never answered (after mirror_free). */
void hs__pendings_free(struct hs_pairs *p);
/* FN(mirror, vm) as a request of T. */
void hs__submit_vm(struct hs_pairs *p, struct task *t, const struct hs_pair *v, mirror_vm_fn fn,
		   const char *what, hs_pair_then_fn then);
/* The same, for an operation that answers with records (mirror_jobs_typed). */
void hs__submit_vm_typed(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			 mirror_vm_typed_fn fn, const char *what, hs_pair_then_fn then);
/* Cuts V's mirror, urgently (see hs_pair_requests.c). */
void hs__submit_cut(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
		    hs_pair_then_fn then);
void hs__submit_release(struct hs_pairs *p, struct task *t, const struct hs_pair *v,
			hs_pair_then_fn then);

/* --- hs_pair_duties.c --- */
/* Every duty of V's state that falls to this host. */
void hs__pairs_run_duties(struct hs_pairs *p, const struct hs_pair *v);

/* --- hs_pair_plan.c --- */
/* Coordinator (and, for restarts, the primary host): the plan's steps. */
void hs__pairs_run_plan(struct hs_pairs *p, const struct hs_pair *pairs, size_t n);

/* --- hs_pair_ops.c --- */
/* Answers RESULT (< 0) with a message. */
void hs__pairs_refuse(hs_pairs_reply_fn reply, void *userdata, int result, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A failure R to propose, in the words the API has always used. */
void hs__pairs_refuse_proposal(hs_pairs_reply_fn reply, void *userdata, int r);
/* The pair of VM into *V, or false with the answer sent (-ENOENT, -EIO). */
bool hs__pairs_find(struct hs_pairs *p, const char *vm, struct hs_pair *v,
		    hs_pairs_reply_fn reply, void *userdata);

/* --- hs_pair_verify.c --- */
struct verify_run;
/* The verifies whose answer has not come (mirror_free drops them unanswered). */
void hs__verifies_free(struct hs_pairs *p);
/* A verify of VM runs on this host. */
bool hs__pairs_verifying(struct hs_pairs *p, const char *vm);

/* --- hs_pair_maintenance.c --- */
/* Coordinator: switch over the primaries of hosts in maintenance. */
void hs__pairs_maintenance_cron(struct hs_pairs *p, const struct hs_pair *pairs, size_t n);
/* Starts a switchover of V as KIND says (the op, then the transition); -errno. */
int hs__pairs_switchover_start(struct hs_pairs *p, const struct hs_pair *v,
				enum hs_switchover_kind kind, const char *why);
