// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_nbd_ports: which TCP port a backup's NBD exports listen on (see
 * hs__pairs_free_port in hs_pairs_internal.h for the rule).
 *
 * The state shows the ports of pairs already applied; a proposal this host
 * made moments ago may not be applied yet, so each port handed out is also
 * remembered here, in a ring of claims that expire after PORT_CLAIM_USEC.
 */
#include <stdio.h>
#include <string.h>

#include "hs_cleanup.h"
#include "hs_clock.h"
#include "hs_pairs_internal.h"

/* A port handed out stays claimed this long: its proposal is applied in
 * milliseconds, and after that the state itself shows the port taken. */
#define PORT_CLAIM_USEC (30 * 1000 * 1000ULL)

static bool port_claimed(const struct hs_pairs *p, const char *host, const char *except_vm,
			 unsigned port, uint64_t now)
{
	for (size_t i = 0; i < ARRAY_SIZE(p->claims); i++) {
		const struct port_claim *c = &p->claims[i];

		if (c->port == port && now < c->usec + PORT_CLAIM_USEC &&
		    strcmp(c->host, host) == 0 && strcmp(c->vm, except_vm ? except_vm : "") != 0)
			return true;
	}
	return false;
}

static bool port_used(const struct hs_pair_list *l, const char *host, const char *except_vm,
		      unsigned port)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct hs_pair *v = &l->pairs[i];

		if (v->backup && strcmp(v->backup, host) == 0 &&
		    strcmp(v->vm, except_vm ? except_vm : "") != 0 && v->nbd_port == port)
			return true;
	}
	return false;
}

unsigned hs__pairs_free_port(struct hs_pairs *p, const char *host, const char *except_vm)
{
	struct hs_pair_list l;
	unsigned port = p->core->config->nbd_port_base;
	uint64_t now = hs_now_usec(CLOCK_MONOTONIC);
	struct port_claim *c;

	if (hs_core_pairs_list(p->core, host, &l) < 0)
		return 0;
	while (port < 65535 &&
	       (port_claimed(p, host, except_vm, port, now) || port_used(&l, host, except_vm, port)))
		port++;
	hs_pair_list_free(&l);
	c = &p->claims[p->next_claim];
	p->next_claim = (p->next_claim + 1) % ARRAY_SIZE(p->claims);
	snprintf(c->host, sizeof(c->host), "%s", host);
	snprintf(c->vm, sizeof(c->vm), "%s", except_vm ? except_vm : "");
	c->port = port;
	c->usec = now;
	return port;
}
