// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fake_cluster: hs_cluster for the pairs tests (see pairs_test.h). It
 * defines every function of hs_cluster.h, so the linker never takes the real
 * one (and corosync) from libhasvc_core.a.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_cluster.h"
#include "pairs_test.h"

struct hs_cluster {
	struct hs_cluster_callbacks cb;
	struct hs_cluster_view view;
	struct msg {
		void *buf;
		size_t len;
	} queue[4096];
	size_t head, tail;
};

static struct hs_cluster fake;

static void coordinator_update(void)
{
	struct hs_cluster_view *v = &fake.view;

	v->coordinator = 0;
	if (!v->quorate)
		return;
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].online && (!v->coordinator || v->nodes[i].nodeid < v->coordinator))
			v->coordinator = v->nodes[i].nodeid;
}

int hs_cluster_new(qb_loop_t *loop, const struct hs_config *config,
		   const struct hs_cluster_callbacks *cb, struct hs_cluster **ret)
{
	const struct hs_config_node *self = hs_config_node_by_name(config, config->node_name);

	memset(&fake, 0, sizeof(fake));
	fake.cb = *cb;
	fake.view.local_nodeid = self->nodeid;
	fake.view.joined = true;
	fake.view.quorate = true;
	for (size_t i = 0; i < config->n_nodes && i < HS_CLUSTER_MAX_NODES; i++) {
		struct hs_node_view *n = &fake.view.nodes[fake.view.n_nodes++];

		snprintf(n->name, sizeof(n->name), "%s", config->nodes[i].name);
		n->nodeid = config->nodes[i].nodeid;
		n->online = n->host_up = true;
		n->changed_usec = 1;
	}
	coordinator_update();
	*ret = &fake;
	return 0;
}

void hs_cluster_free(struct hs_cluster *c)
{
	if (!c)
		return;
	while (c->head != c->tail)
		free(c->queue[c->head++ % 4096].buf);
}

void hs_cluster_view_get(const struct hs_cluster *c, struct hs_cluster_view *ret)
{
	*ret = c->view;
}

bool hs_cluster_node_get(const struct hs_cluster *c, const char *name, struct hs_node_view *ret)
{
	for (size_t i = 0; i < c->view.n_nodes; i++)
		if (strcmp(c->view.nodes[i].name, name) == 0) {
			*ret = c->view.nodes[i];
			return true;
		}
	return false;
}

int hs_cluster_send(struct hs_cluster *c, const void *msg, size_t len)
{
	struct msg *m;

	if (c->tail - c->head == 4096)
		return -EAGAIN;
	m = &c->queue[c->tail++ % 4096];
	m->buf = malloc(len);
	memcpy(m->buf, msg, len);
	m->len = len;
	return 0;
}

/* The group is this host alone: the state's sync round needs no one else. */
void pt_cluster_form(void)
{
	uint32_t self = fake.view.local_nodeid;

	fake.cb.confchg(fake.cb.userdata, &self, 1);
	pt_deliver();
}

void pt_deliver(void)
{
	while (fake.head != fake.tail) {
		struct msg m = fake.queue[fake.head++ % 4096];

		fake.cb.deliver(fake.cb.userdata, fake.view.local_nodeid, m.buf, m.len);
		free(m.buf);
	}
}

void pt_node_set(const char *node, bool online, bool host_up)
{
	for (size_t i = 0; i < fake.view.n_nodes; i++) {
		struct hs_node_view *n = &fake.view.nodes[i];

		if (strcmp(n->name, node) != 0)
			continue;
		n->online = online;
		n->host_up = host_up;
		n->host_lost = !host_up;
		n->changed_usec++;
	}
	coordinator_update();
}

void pt_quorate_set(bool quorate)
{
	fake.view.quorate = quorate;
	coordinator_update();
}
