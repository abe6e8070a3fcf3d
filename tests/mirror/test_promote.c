// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of mirror_promote (mirror_promote.c), which runs on a thread of the
 * request's own so that many VMs are promoted side by side. Against
 * libvirt's test driver (test:///default, one state for every connection of
 * the process), which has domains, states and resume but no QEMU monitor:
 * every QMP command fails there, as in a QEMU that cannot drop its exports.
 * The safety asked of it: a backup whose exports stay is never resumed.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <qb/qbloop.h>

#include "mirror.h"

#define N_VMS 8

static qb_loop_t *loop;
static virConnectPtr conn;
static struct mirror *m;
static int answers, wanted, results[N_VMS];
static char messages[N_VMS][512];

static void quiet(void *userdata, virErrorPtr error) {}

static void setup(void)
{
	virSetErrorFunc(NULL, quiet);
	loop = qb_loop_create();
	cr_assert_not_null(loop);
	conn = virConnectOpen("test:///default");
	cr_assert_not_null(conn);
	cr_assert_eq(mirror_new(loop, "test:///default", &m), 0);
}

static void teardown(void)
{
	mirror_free(m);
	virConnectClose(conn);
	qb_loop_destroy(loop);
}

/* A running domain NAME with one disk, paused when PAUSED. */
static void domain(const char *name, bool paused)
{
	char xml[1024];
	virDomainPtr d;

	snprintf(xml, sizeof(xml),
		 "<domain type='test'><name>%s</name><memory>65536</memory>"
		 "<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
		 "<driver name='qemu' type='qcow2'/>"
		 "<source file='/var/lib/hasvc-test/%s.qcow2'/><target dev='vda' bus='virtio'/>"
		 "</disk></devices></domain>",
		 name, name);
	d = virDomainDefineXML(conn, xml);
	cr_assert_not_null(d, "define %s", name);
	cr_assert_eq(virDomainCreate(d), 0);
	if (paused)
		cr_assert_eq(virDomainSuspend(d), 0);
	virDomainFree(d);
}

static int state_of(const char *name)
{
	virDomainPtr d = virDomainLookupByName(conn, name);
	int state = -1, reason;

	cr_assert_not_null(d);
	cr_assert_eq(virDomainGetState(d, &state, &reason, 0), 0);
	virDomainFree(d);
	return state;
}

static void answered(void *userdata, int result, const char *message, json_object *data)
{
	int i = (int)(intptr_t)userdata;

	results[i] = result;
	snprintf(messages[i], sizeof(messages[i]), "%s", message);
	if (++answers >= wanted)
		qb_loop_stop(loop);
}

static void give_up(void *data)
{
	qb_loop_stop(data);
}

/* Runs the loop until N answers came, or 20 s. */
static void wait_answers(int n)
{
	qb_loop_timer_handle timer;

	wanted = n;
	qb_loop_timer_add(loop, QB_LOOP_MED, 20000ULL * 1000 * 1000, loop, give_up, &timer);
	qb_loop_run(loop);
	qb_loop_timer_del(loop, timer);
	cr_assert_eq(answers, n, "%d of %d answers within 20 s", answers, n);
}

TestSuite(promote, .init = setup, .fini = teardown);

Test(promote, a_backup_whose_exports_stay_is_not_resumed)
{
	char name[32];

	for (int i = 0; i < N_VMS; i++) {
		snprintf(name, sizeof(name), "hs-promote-%d", i);
		domain(name, true);
	}
	/* all at once, as a lost host's VMs are: each answered on its own */
	for (int i = 0; i < N_VMS; i++) {
		snprintf(name, sizeof(name), "hs-promote-%d", i);
		cr_assert_eq(mirror_promote(m, name, answered, (void *)(intptr_t)i), 0);
	}
	wait_answers(N_VMS);
	for (int i = 0; i < N_VMS; i++) {
		snprintf(name, sizeof(name), "hs-promote-%d", i);
		cr_assert_lt(results[i], 0, "%s: %s", name, messages[i]);
		cr_assert(strstr(messages[i], "block-export-del"), "%s: %s", name, messages[i]);
		cr_assert_eq(state_of(name), VIR_DOMAIN_PAUSED, "%s resumed with its export on", name);
	}
}

Test(promote, a_running_domain_is_promoted_already)
{
	domain("hs-promote-run", false);
	cr_assert_eq(mirror_promote(m, "hs-promote-run", answered, (void *)0), 0);
	wait_answers(1);
	cr_assert_eq(results[0], 0, "%s", messages[0]);
	cr_assert(strstr(messages[0], "already runs here"), "%s", messages[0]);
}

Test(promote, a_domain_neither_paused_nor_running_is_refused)
{
	virDomainPtr d;

	domain("hs-promote-off", false);
	d = virDomainLookupByName(conn, "hs-promote-off");
	cr_assert_eq(virDomainDestroy(d), 0);
	virDomainFree(d);
	cr_assert_eq(mirror_promote(m, "hs-promote-off", answered, (void *)0), 0);
	wait_answers(1);
	cr_assert_lt(results[0], 0);
	cr_assert(strstr(messages[0], "not paused here"), "%s", messages[0]);
	cr_assert_eq(state_of("hs-promote-off"), VIR_DOMAIN_SHUTOFF);
}

Test(promote, an_unknown_domain_is_named)
{
	cr_assert_eq(mirror_promote(m, "hs-promote-none", answered, (void *)0), 0);
	wait_answers(1);
	cr_assert_lt(results[0], 0);
	cr_assert(strstr(messages[0], "no domain hs-promote-none"), "%s", messages[0]);
}
