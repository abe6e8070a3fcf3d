// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror: the libvirt thread, its request queue, and the way back.
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
 * daemon. Block-job events of that connection come back the same way as
 * results, as requests that ran nothing.
 *
 * The operations themselves are in the files of their purpose (see
 * mirror_internal.h): this file knows only that a request has a function to
 * run.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "mirror.h"
#include "mirror_internal.h"

struct mirror {
	qb_loop_t *loop;
	char *uri;
	pthread_t thread;
	bool thread_started;
	int request_fd; /* eventfd: caller -> thread */
	int done_fd;    /* eventfd: thread -> caller */
	int watch;      /* libvirt event handle of request_fd */
	pthread_mutex_t lock;
	struct request *requests, *done; /* LIFO under lock; reversed before use */
	bool stopping;
	virConnectPtr conn; /* thread only */
	int job_callback;   /* thread only: libvirt's id of our block job callback, -1 none */
	mirror_done_fn job_event;        /* under lock: block job events go there, */
	mirror_reply_fn job_event_reply; /* or there */
	void *job_event_userdata;
	char *tls_dir; /* caller's thread only: mirror_set_tls(), copied into each request */
	enum mirror_tls_mode tls_mode;
	bool qmp; /* HASVC_MIRROR_ENGINE=qmp at mirror_new(): mirror_qmp.c runs the jobs */
	bool parallel; /* HASVC_SYNC_WRITES=parallel: sync mode on quorums (mirror_qmp_sync.c) */
	int quorum_callback; /* thread only: libvirt's id of our QUORUM_REPORT_BAD callback, -1 */
	int64_t conn_epoch;  /* thread only: when CONN got that callback (monotonic ms), 0 none */
	unsigned threads;       /* under lock: threads of mirror__thread_start() still running */
	pthread_cond_t threads_gone; /* signalled when THREADS drops to 0 */
};

void mirror__request_free(struct request *r)
{
	if (!r)
		return;
	free(r->xml);
	free(r->disk_bytes);
	free(r->vm);
	free(r->host);
	free(r->note);
	free(r->tls_dir);
	free(r->peer);
	free(r->id_expected);
	free(r->id_next);
	if (r->thread_data_free)
		r->thread_data_free(r->thread_data);
	else
		free(r->thread_data);
	if (r->conn)
		virConnectClose(r->conn); /* our reference only */
	mirror__answer_clear(r);
	free(r);
}

struct request *mirror__request_new(mirror__run_fn run, mirror_done_fn done, mirror_reply_fn reply,
				    void *userdata)
{
	struct request *r = calloc(1, sizeof(*r));

	if (r) {
		r->run = run;
		r->done = done;
		r->reply = reply;
		r->userdata = userdata;
	}
	return r;
}

int mirror__say(struct request *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	r->result = err;
	return err;
}

const char *mirror__virt_error(void)
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

/*
 * Empties LIST (under the lock) after eventfd FD woke us, and returns what
 * it held in the order it was pushed; NULL when the read failed.
 */
static struct request *queue_take(struct mirror *m, struct request **list, int fd)
{
	struct request *taken, *next, *ordered = NULL;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return NULL;
	pthread_mutex_lock(&m->lock);
	taken = *list;
	*list = NULL;
	pthread_mutex_unlock(&m->lock);
	for (; taken; taken = next) { /* LIFO -> FIFO */
		next = taken->next;
		taken->next = ordered;
		ordered = taken;
	}
	return ordered;
}

/* --- on the mirror thread ------------------------------------------------ */

/* Hands R to the caller's thread. A failed eventfd write only means the
 * counter saturated: the reader takes the whole list anyway. */
static void done_push(struct mirror *m, struct request *r)
{
	(void)queue_push(m, &m->done, m->done_fd, r);
}

bool mirror__stopping(struct mirror *m)
{
	return __atomic_load_n(&m->stopping, __ATOMIC_ACQUIRE);
}

const char *mirror__uri(const struct mirror *m)
{
	return m->uri;
}

/* The rest of a long operation (request.on_thread), on a detached thread of its own. */
struct long_run {
	struct mirror *m;
	struct request *r;
};

static void *long_run_main(void *data)
{
	struct long_run *lr = data;
	struct mirror *m = lr->m;

	lr->r->on_thread(m, lr->r);
	done_push(m, lr->r);
	free(lr);
	pthread_mutex_lock(&m->lock);
	if (--m->threads == 0)
		pthread_cond_broadcast(&m->threads_gone);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* 0 when R goes on on a thread of its own; -errno (R left to the caller) otherwise. */
static int long_run_start(struct mirror *m, struct request *r)
{
	struct long_run *lr = malloc(sizeof(*lr));
	pthread_attr_t attr;
	pthread_t t;
	int e;

	if (!lr)
		return -ENOMEM;
	*lr = (struct long_run){.m = m, .r = r};
	pthread_mutex_lock(&m->lock);
	m->threads++;
	pthread_mutex_unlock(&m->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&t, &attr, long_run_main, lr);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		free(lr);
		pthread_mutex_lock(&m->lock);
		m->threads--;
		pthread_mutex_unlock(&m->lock);
	}
	return -e;
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
	mirror_reply_fn reply;
	void *userdata;

	pthread_mutex_lock(&m->lock);
	fn = m->job_event;
	reply = m->job_event_reply;
	userdata = m->job_event_userdata;
	pthread_mutex_unlock(&m->lock);
	if ((!fn && !reply) || type != VIR_DOMAIN_BLOCK_JOB_TYPE_COPY ||
	    !(r = mirror__request_new(NULL, fn, reply, userdata)))
		return;
	r->result = status == VIR_DOMAIN_BLOCK_JOB_FAILED ? -EIO : 0;
	r->event.status = mirror__job_status(status);
	snprintf(r->message, sizeof(r->message), "block job on disk %s of %s: %s", disk,
		 virDomainGetName(dom), mirror_job_status_name(r->event.status));
	r->event.vm = strdup(virDomainGetName(dom));
	r->event.disk = strdup(disk);
	if (!r->event.vm || !r->event.disk) {
		mirror__request_free(r); /* a hint only: the next poll sees it too */
		return;
	}
	r->answer = MIRROR__ANSWER_EVENT;
	done_push(m, r);
}

/*
 * QEMU's QUORUM_REPORT_BAD on this thread: a write or flush of one of our
 * quorums' children failed. For a backup's child of parallel sync writes
 * (mirror_qmp_sync.c) a request takes it out at once, and its outcome goes
 * to the job event function as a failed job: the pairs look at the VM now.
 */
static void quorum_event(virConnectPtr conn, virDomainPtr dom, const char *event, long long seconds,
			 unsigned int micros, const char *details, void *opaque)
{
	struct mirror *m = opaque;
	json_object *o = details ? json_tokener_parse(details) : NULL, *v;
	const char *node = o && json_object_object_get_ex(o, "node-name", &v) ? json_object_get_string(v) : NULL;
	struct request *r;

	if (node && strncmp(node, "hs-s-", 5) == 0 &&
	    (r = mirror__request_new(mirror__qsync_bad_run, NULL, NULL, NULL))) {
		pthread_mutex_lock(&m->lock);
		r->done = m->job_event;
		r->reply = m->job_event_reply;
		r->userdata = m->job_event_userdata;
		pthread_mutex_unlock(&m->lock);
		r->vm = strdup(virDomainGetName(dom));
		r->note = strdup(node);
		/* queued as is: mirror__submit() reads what is the caller's thread's */
		if (!r->vm || !r->note || queue_push(m, &m->requests, m->request_fd, r) < 0)
			mirror__request_free(r);
	}
	json_object_put(o);
}

virConnectPtr mirror__connection(struct mirror *m, struct request *r)
{
	if (m->conn && virConnectIsAlive(m->conn) == 1) {
		r->conn_epoch = m->conn_epoch;
		return m->conn;
	}
	if (m->conn) {
		if (m->job_callback >= 0)
			virConnectDomainEventDeregisterAny(m->conn, m->job_callback);
		if (m->quorum_callback >= 0)
			virConnectDomainQemuMonitorEventDeregister(m->conn, m->quorum_callback);
		m->job_callback = m->quorum_callback = -1;
		m->conn_epoch = 0;
		virConnectClose(m->conn);
	}
	m->conn = virConnectOpen(m->uri);
	if (!m->conn) {
		mirror__say(r, -ECONNREFUSED, "cannot connect to libvirt at %s: %s", m->uri,
			    mirror__virt_error());
		return NULL;
	}
	/* without it (an old libvirtd) the jobs are still polled: not an error */
	m->job_callback = virConnectDomainEventRegisterAny(
	    m->conn, NULL, VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, VIR_DOMAIN_EVENT_CALLBACK(job_event), m,
	    NULL);
	/* parallel sync writes rely on it: without it they are not started (r->conn_epoch 0) */
	if (m->parallel) {
		m->quorum_callback = virConnectDomainQemuMonitorEventRegister(
		    m->conn, NULL, "QUORUM_REPORT_BAD", quorum_event, m, NULL, 0);
		/* +1: an epoch is never 0, which means none */
		m->conn_epoch = m->quorum_callback >= 0 ? mirror__now_ms() + 1 : 0;
	}
	r->conn_epoch = m->conn_epoch;
	return m->conn;
}

static void requests_run(int watch, int fd, int events, void *opaque)
{
	struct mirror *m = opaque;
	struct request *next;

	for (struct request *r = queue_take(m, &m->requests, fd); r; r = next) {
		next = r->next;
		if (r->run)
			r->run(m, r);
		/* (R is not read again once its thread runs: that thread owns it) */
		if (r->result >= 0 && r->on_thread) {
			int e = long_run_start(m, r);

			if (e == 0)
				continue;
			mirror__say(r, e, "cannot start a thread for %s", r->vm ?: "the request");
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
	if (m->conn && m->quorum_callback >= 0)
		virConnectDomainQemuMonitorEventDeregister(m->conn, m->quorum_callback);
	if (m->conn)
		virConnectClose(m->conn);
	return NULL;
}

/* --- on the caller's thread ---------------------------------------------- */

static int32_t done_ready(int32_t fd, int32_t revents, void *data)
{
	struct mirror *m = data;
	struct request *next;

	for (struct request *r = queue_take(m, &m->done, fd); r; r = next) {
		next = r->next;
		mirror__answer_deliver(r);
		mirror__request_free(r);
	}
	return 0;
}

int mirror__submit(struct mirror *m, struct request *r)
{
	/* The TLS settings travel with the request: the thread never reads M's. */
	r->tls_mode = m->tls_mode;
	r->qmp = m->qmp;
	r->parallel = m->qmp && m->parallel;
	if (m->tls_dir && !(r->tls_dir = strdup(m->tls_dir))) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	return queue_push(m, &m->requests, m->request_fd, r);
}

int mirror__submit_vm(struct mirror *m, mirror__run_fn run, const char *vm, mirror_done_fn done,
		      mirror_reply_fn reply, void *userdata, struct request **ret)
{
	struct request *r = mirror__request_new(run, done, reply, userdata);

	if (!r)
		return -ENOMEM;
	r->vm = strdup(vm);
	if (!r->vm) {
		mirror__request_free(r);
		return -ENOMEM;
	}
	if (ret) {
		*ret = r; /* the caller fills in the rest, then submits */
		return 0;
	}
	return mirror__submit(m, r);
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
	m->job_callback = m->quorum_callback = -1;
	/* per host (docs/mirror.md): the config's mirror_engine = qmp, or this for tests */
	m->qmp = getenv("HASVC_MIRROR_ENGINE") && strcmp(getenv("HASVC_MIRROR_ENGINE"), "qmp") == 0;
	/* experimental (docs/mirror.md, "Parallel sync writes"): with the qmp engine only */
	m->parallel = getenv("HASVC_SYNC_WRITES") && strcmp(getenv("HASVC_SYNC_WRITES"), "parallel") == 0;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->threads_gone, NULL);
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

static void requests_free(struct request *list)
{
	for (struct request *r = list, *n; r; r = n) {
		n = r->next;
		mirror__request_free(r);
	}
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
	/* a migration's thread ends within its bound and pushes onto M->done */
	pthread_mutex_lock(&m->lock);
	while (m->threads > 0)
		pthread_cond_wait(&m->threads_gone, &m->lock);
	pthread_mutex_unlock(&m->lock);
	if (m->watch > 0)
		virEventRemoveHandle(m->watch);
	requests_free(m->requests); /* pending ones are dropped */
	requests_free(m->done);
	if (m->request_fd >= 0)
		close(m->request_fd);
	if (m->done_fd >= 0)
		close(m->done_fd);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->threads_gone);
	free(m->uri);
	free(m->tls_dir);
	free(m);
}

void mirror_use_qmp_engine(struct mirror *m)
{
	m->qmp = true;
}

bool mirror_engine_qmp(const struct mirror *m)
{
	return m->qmp;
}

void mirror_use_parallel_sync(struct mirror *m)
{
	/* before the thread's first connection, which registers the events by it */
	m->parallel = true;
}

int mirror_set_tls(struct mirror *m, const struct mirror_tls *tls)
{
	char *dir = NULL;

	if (tls->dir && !(dir = strdup(tls->dir)))
		return -ENOMEM;
	free(m->tls_dir);
	m->tls_dir = dir;
	m->tls_mode = tls->mode;
	return 0;
}

static void job_event_set(struct mirror *m, mirror_done_fn fn, mirror_reply_fn reply,
			  void *userdata)
{
	pthread_mutex_lock(&m->lock);
	m->job_event = fn;
	m->job_event_reply = reply;
	m->job_event_userdata = userdata;
	pthread_mutex_unlock(&m->lock);
}

void mirror_on_job_event(struct mirror *m, mirror_done_fn fn, void *userdata)
{
	job_event_set(m, fn, NULL, userdata);
}

void mirror_on_job_event_typed(struct mirror *m, mirror_reply_fn fn, void *userdata)
{
	job_event_set(m, NULL, fn, userdata);
}

