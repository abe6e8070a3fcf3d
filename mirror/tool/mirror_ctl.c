// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hasvc-mirror: runs one mirror/ operation against this host's libvirtd, on
 * a qb_loop like hasvcd's, and prints its result. A test and debugging tool:
 * the lab tests drive the real module through it.
 *
 *   hasvc-mirror prepare PRIMARY_XML_FILE NBD_ADDR PORT SIZE...
 *   hasvc-mirror start VM NBD_HOST PORT sync|async [MIB/S]  (waits until READY)
 *   hasvc-mirror jobs|inspect|restart|teardown|promote VM
 *   hasvc-mirror cut VM [NBD_HOST PORT]
 *   hasvc-mirror speed VM MIB/S  (0: unlimited; the running jobs)
 *   hasvc-mirror stop VM sync|async TIMEOUT_S
 *   hasvc-mirror resume VM NBD_HOST PORT     (qmp engine; waits until READY)
 * The live switchover (docs/mirror.md):
 *   hasvc-mirror standin-start VM NBD_ADDR PORT [replace]
 *   hasvc-mirror standin-stop|continue VM
 *   hasvc-mirror migrate VM DEST_ADDR [TIMEOUT_S]
 *
 * Environment: HASVC_MIRROR_FRESH (prepare: a new pair), HASVC_MIRROR_PRIMARY
 * (prepare, standin-start: only this node's certificate may connect,
 * mirror_backup_prepare_tls), HASVC_MIRROR_FROM_EQUAL (start: the disks are
 * equal, only the writes from now on: mirror_start_resync's FROM_EQUAL),
 * HASVC_MIRROR_TLS auto|on|off and HASVC_MIRROR_TLS_DIR (mirror_set_tls).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qbloop.h>

#include "mirror.h"

static qb_loop_t *loop;
static struct mirror *m;
static int result = -1;
static const char *waiting_vm;

static void done(void *userdata, int r, const char *message, json_object *data)
{
	fprintf(r < 0 ? stderr : stdout, "%s\n", message);
	if (data)
		printf("%s\n", json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN));
	result = r;
	qb_loop_stop(loop);
}

static void replied(void *userdata, const struct mirror_reply *reply)
{
	fprintf(reply->result < 0 ? stderr : stdout, "%s\n", reply->message);
	if (reply->result >= 0)
		printf("{\"port\":%u}\n", reply->port);
	result = reply->result;
	qb_loop_stop(loop);
}

/* HASVC_MIRROR_TLS / HASVC_MIRROR_TLS_DIR, when set. */
static int tls_from_env(void)
{
	const char *mode = getenv("HASVC_MIRROR_TLS");
	struct mirror_tls tls = {.dir = getenv("HASVC_MIRROR_TLS_DIR"), .mode = MIRROR_TLS_AUTO};

	if (mode && strcmp(mode, "on") == 0)
		tls.mode = MIRROR_TLS_ON;
	else if (mode && strcmp(mode, "off") == 0)
		tls.mode = MIRROR_TLS_OFF;
	else if (mode && strcmp(mode, "auto") != 0)
		return -EINVAL;
	return mirror_set_tls(m, &tls);
}

static void poll_jobs(void *data);

/* After start: poll until every disk is READY, as hasvcd does. */
static void jobs_seen(void *userdata, int r, const char *message, json_object *data)
{
	json_object *disks = data ? json_object_object_get(data, "disks") : NULL;
	size_t ready = 0, n = disks ? json_object_array_length(disks) : 0;
	qb_loop_timer_handle t;

	for (size_t i = 0; i < n; i++)
		ready += json_object_get_boolean(
		    json_object_object_get(json_object_array_get_idx(disks, i), "ready"));
	if (r < 0 || (n > 0 && ready == n)) {
		done(NULL, r, message, NULL);
		return;
	}
	qb_loop_timer_add(loop, QB_LOOP_MED, 100 * 1000000ULL, NULL, poll_jobs, &t);
}

static void poll_jobs(void *data)
{
	if (mirror_jobs(m, waiting_vm, jobs_seen, NULL) < 0)
		qb_loop_stop(loop);
}

static void started(void *userdata, int r, const char *message, json_object *data)
{
	fprintf(r < 0 ? stderr : stdout, "%s\n", message);
	if (r < 0) {
		result = r;
		qb_loop_stop(loop);
		return;
	}
	poll_jobs(NULL);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	int r = -1;

	loop = qb_loop_create();
	if (!loop || mirror_new(loop, getenv("LIBVIRT_DEFAULT_URI"), &m) < 0) {
		fprintf(stderr, "hasvc-mirror: cannot start the mirror thread\n");
		return 1;
	}
	if (tls_from_env() < 0) {
		fprintf(stderr, "hasvc-mirror: HASVC_MIRROR_TLS is auto, on or off\n");
		return 2;
	}
	if (argc >= 6 && strcmp(argv[1], "prepare") == 0) {
		char *xml = slurp(argv[2]);
		size_t n = (size_t)(argc - 5);
		uint64_t *sizes = calloc(n, sizeof(*sizes));
		for (size_t i = 0; sizes && i < n; i++)
			sizes[i] = strtoull(argv[5 + i], NULL, 10);
		if (xml && sizes && getenv("HASVC_MIRROR_PRIMARY"))
			r = mirror_backup_prepare_tls(m, xml, sizes, n, argv[3],
						      (unsigned)atoi(argv[4]),
						      getenv("HASVC_MIRROR_FRESH") != NULL, 0,
						      getenv("HASVC_MIRROR_PRIMARY"), NULL, replied, NULL);
		else if (xml && sizes)
			r = mirror_backup_prepare(m, xml, sizes, n, argv[3], (unsigned)atoi(argv[4]),
						  getenv("HASVC_MIRROR_FRESH") != NULL, 0, done, NULL);
		free(xml);
		free(sizes);
	} else if ((argc == 6 || argc == 7) && strcmp(argv[1], "start") == 0) {
		waiting_vm = argv[2];
		r = mirror_start_resync(m, argv[2], argv[3], (unsigned)atoi(argv[4]),
					strcmp(argv[5], "sync") == 0,
					argc == 7 ? strtoull(argv[6], NULL, 10) : 0, false,
					getenv("HASVC_MIRROR_FROM_EQUAL") != NULL, started, NULL);
	} else if (argc == 5 && strcmp(argv[1], "resume") == 0) {
		waiting_vm = argv[2];
		r = mirror_resume(m, argv[2], argv[3], (unsigned)atoi(argv[4]), started, NULL);
		if (r == -EOPNOTSUPP)
			fprintf(stderr, "hasvc-mirror: resume needs the qmp engine (HASVC_MIRROR_ENGINE=qmp)\n");
	} else if ((argc == 5 || argc == 6) && strcmp(argv[1], "standin-start") == 0) {
		if (argc == 6 && strcmp(argv[5], "replace") != 0)
			r = -1;
		else
			r = mirror_standin_start(m, argv[2], argv[3], (unsigned)atoi(argv[4]),
						 argc == 6, getenv("HASVC_MIRROR_PRIMARY"), done, NULL);
	} else if ((argc == 4 || argc == 5) && strcmp(argv[1], "migrate") == 0) {
		r = mirror_migrate(m, argv[2], argv[3], argc == 5 ? (unsigned)atoi(argv[4]) : 0,
				   done, NULL);
	} else if (argc == 5 && strcmp(argv[1], "stop") == 0) {
		r = mirror_stop_primary(m, argv[2], strcmp(argv[3], "sync") == 0,
					(unsigned)atoi(argv[4]), done, NULL);
	} else if (argc == 4 && strcmp(argv[1], "speed") == 0) {
		r = mirror_set_speed(m, argv[2], strtoull(argv[3], NULL, 10), done, NULL);
	} else if ((argc == 3 || argc == 5) && strcmp(argv[1], "cut") == 0) {
		r = mirror_cut(m, argv[2], argc == 5 ? argv[3] : NULL,
			       argc == 5 ? (unsigned)atoi(argv[4]) : 0, done, NULL);
	} else if (argc == 3) {
		static const struct {
			const char *name;
			int (*fn)(struct mirror *, const char *, mirror_done_fn, void *);
		} ops[] = {
			{"promote", mirror_promote}, {"jobs", mirror_jobs},
			{"inspect", mirror_inspect},
			{"restart", mirror_restart}, {"teardown", mirror_teardown},
			{"standin-stop", mirror_standin_stop}, {"continue", mirror_continue},
		};
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (strcmp(argv[1], ops[i].name) == 0)
				r = ops[i].fn(m, argv[2], done, NULL);
	}
	if (r == -1 && result == -1 && !waiting_vm && argc >= 2 && strcmp(argv[1], "prepare") != 0) {
		fprintf(stderr, "usage: hasvc-mirror prepare XMLFILE ADDR PORT SIZE... | start VM HOST "
				"PORT sync|async [MIB/S] | stop VM sync|async TIMEOUT_S | "
				"speed VM MIB/S | resume VM HOST PORT | "
				"standin-start VM ADDR PORT [replace] | migrate VM DEST [TIMEOUT_S] | "
				"promote|jobs|inspect|cut|restart|teardown|standin-stop|continue VM\n");
		return 2;
	}
	if (r == 0)
		qb_loop_run(loop);
	mirror_free(m);
	qb_loop_destroy(loop);
	return result < 0 ? 1 : 0;
}
