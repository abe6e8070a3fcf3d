// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_config: the INI parser of /etc/hasvc/hasvc.conf.
 *
 * The file is read line by line. A line is blank, a comment ('#' or ';' first),
 * a section header "[kind]" or "[kind NAME]", or "key = value". What a key
 * means is said by one table per section kind: the key, the type of its value
 * and where it is stored. Adding a key is adding a row. Repeatable keys
 * (fence "option") append to an array; every other key may appear once.
 *
 * Errors are "file:line: message" and stop the parse: a daemon that guesses
 * what a broken configuration meant might fence the wrong host.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_config.h"
#include "hs_cleanup.h"
#include "hs_name.h"

enum key_type {
	KEY_STRING,   /* char * */
	KEY_UINT,     /* unsigned */
	KEY_NODEID,   /* uint32_t, 1..UINT32_MAX */
	KEY_STRV,     /* repeatable: char ** + size_t count */
	KEY_BOOL,     /* bool: yes/no, true/false, 1/0 */
};

enum section_kind {
	SECTION_NONE,
	SECTION_DAEMON,
	SECTION_NODE,
	SECTION_FENCE,
};

struct key_def {
	enum section_kind section;
	const char *key;
	enum key_type type;
	size_t offset;       /* into struct hs_config, hs_config_node or hs_config_fence */
	size_t count_offset; /* KEY_STRV: where the count lives */
	unsigned max;        /* KEY_UINT: largest allowed value */
};

#define DAEMON_KEY(k, field) {SECTION_DAEMON, k, KEY_STRING, offsetof(struct hs_config, field), 0, 0}

static const struct key_def key_table[] = {
	DAEMON_KEY("node", node_name),
	DAEMON_KEY("state_dir", state_dir),
	DAEMON_KEY("api_socket", api_socket),
	DAEMON_KEY("http_listen", http_listen),
	/* the TCP API is HTTPS unless http_plain = yes (docs/security.md) */
	DAEMON_KEY("http_tls_cert", http_tls_cert),
	DAEMON_KEY("http_tls_key", http_tls_key),
	{SECTION_DAEMON, "http_plain", KEY_BOOL, offsetof(struct hs_config, http_plain), 0, 0},
	DAEMON_KEY("token_file", token_file),
	/* TCP API connections one client address may hold (docs/security.md); 0: 16 */
	{SECTION_DAEMON, "http_client_connections", KEY_UINT,
	 offsetof(struct hs_config, http_client_connections), 0, HS_API_CONNECTIONS},
	DAEMON_KEY("web_dir", web_dir),
	DAEMON_KEY("fence_agent_dir", fence_agent_dir),
	DAEMON_KEY("log_level", log_level),
	DAEMON_KEY("fence_lost_hosts", fence_lost_hosts),
	DAEMON_KEY("reprotect", reprotect),
	DAEMON_KEY("maintenance_switchover", maintenance_switchover),
	{SECTION_DAEMON, "maintenance_moves", KEY_UINT, offsetof(struct hs_config, maintenance_moves),
	 0, 64},
	DAEMON_KEY("libvirt_uri", libvirt_uri),
	/* whose block jobs mirror the disks: libvirt's block copy or hasvc's own (docs/mirror.md) */
	DAEMON_KEY("mirror_engine", mirror_engine),
	DAEMON_KEY("sync_writes", sync_writes),
	{SECTION_DAEMON, "nbd_port_base", KEY_UINT, offsetof(struct hs_config, nbd_port_base), 0,
	 65000},
	{SECTION_DAEMON, "shutdown_timeout", KEY_UINT, offsetof(struct hs_config, shutdown_timeout_s),
	 0, 3600},
	{SECTION_DAEMON, "memory_reserve", KEY_UINT, offsetof(struct hs_config, memory_reserve_mib),
	 0, 1U << 30},
	/* for tests only: POST /v1/test/propose on the unix socket (docs/api.md) */
	{SECTION_DAEMON, "test_hooks", KEY_BOOL, offsetof(struct hs_config, test_hooks), 0, 0},
	{SECTION_NODE, "nodeid", KEY_NODEID, offsetof(struct hs_config_node, nodeid), 0, 0},
	{SECTION_NODE, "address", KEY_STRING, offsetof(struct hs_config_node, address), 0, 0},
	{SECTION_NODE, "replication_address", KEY_STRING,
	 offsetof(struct hs_config_node, replication_address), 0, 0},
	{SECTION_FENCE, "level", KEY_UINT, offsetof(struct hs_config_fence, level), 0, 16},
	{SECTION_FENCE, "agent", KEY_STRING, offsetof(struct hs_config_fence, agent), 0, 0},
	{SECTION_FENCE, "timeout", KEY_UINT, offsetof(struct hs_config_fence, timeout_s), 0, 3600},
	{SECTION_FENCE, "option", KEY_STRV, offsetof(struct hs_config_fence, options),
	 offsetof(struct hs_config_fence, n_options), 0},
};

static const char *const log_levels[] = {"error", "warning", "info", "debug", NULL};

struct parser {
	struct hs_config *config;
	const char *path;
	unsigned line;
	enum section_kind section;
	void *target;          /* the struct the current section's keys go into */
	uint64_t seen;         /* bit per key_table row seen in this section */
	unsigned daemon_line;  /* where [daemon] began; 0: not yet */
	char *error;
};

static int parse_error(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int parse_error(struct parser *p, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(p->error);
	if (p->line > 0) {
		if (asprintf(&p->error, "%s:%u: %s", p->path, p->line, msg ? msg : "error") < 0)
			p->error = NULL;
	} else if (asprintf(&p->error, "%s: %s", p->path, msg ? msg : "error") < 0) {
		p->error = NULL;
	}
	free(msg);
	return -EINVAL;
}

static char *strip(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int section_begin(struct parser *p, char *header)
{
	char *kind = strip(header);
	char *name = strchr(kind, ' ');

	if (name) {
		*name++ = '\0';
		name = strip(name);
	}
	p->seen = 0;
	if (strcmp(kind, "daemon") == 0) {
		if (name)
			return parse_error(p, "section [daemon] takes no name");
		/* a second one would silently override the first's keys */
		if (p->daemon_line)
			return parse_error(p, "section [daemon] appears twice (first at line %u)",
					   p->daemon_line);
		p->daemon_line = p->line;
		p->section = SECTION_DAEMON;
		p->target = p->config;
		return 0;
	}
	if (strcmp(kind, "node") != 0 && strcmp(kind, "fence") != 0)
		return parse_error(p, "unknown section [%s]; expected daemon, node or fence", kind);
	if (!name || !*name)
		return parse_error(p, "section [%s] needs a host name: [%s NAME]", kind, kind);
	if (!hs_name_valid(name))
		return parse_error(p, "bad host name '%s' (" HS_NAME_RULE ")", name);

	if (strcmp(kind, "node") == 0) {
		struct hs_config *c = p->config;
		struct hs_config_node *nodes;

		if (hs_config_node_by_name(c, name))
			return parse_error(p, "node '%s' is defined twice", name);
		nodes = reallocarray(c->nodes, c->n_nodes + 1, sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		c->nodes = nodes;
		memset(&nodes[c->n_nodes], 0, sizeof(*nodes));
		nodes[c->n_nodes].name = strdup(name);
		if (!nodes[c->n_nodes].name)
			return -ENOMEM;
		nodes[c->n_nodes].line = p->line;
		p->target = &nodes[c->n_nodes++];
		p->section = SECTION_NODE;
	} else {
		struct hs_config *c = p->config;
		struct hs_config_fence *fences;

		fences = reallocarray(c->fences, c->n_fences + 1, sizeof(*fences));
		if (!fences)
			return -ENOMEM;
		c->fences = fences;
		memset(&fences[c->n_fences], 0, sizeof(*fences));
		fences[c->n_fences].node = strdup(name);
		if (!fences[c->n_fences].node)
			return -ENOMEM;
		fences[c->n_fences].level = 1;
		fences[c->n_fences].line = p->line;
		fences[c->n_fences].timeout_s = 20;
		p->target = &fences[c->n_fences++];
		p->section = SECTION_FENCE;
	}
	return 0;
}

static int parse_uint(const char *value, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (*value < '0' || *value > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int key_set(struct parser *p, char *key, char *value)
{
	const struct key_def *def = NULL;
	size_t row;
	char *target;
	unsigned long v;

	if (p->section == SECTION_NONE)
		return parse_error(p, "'%s' before any section; start with [daemon]", key);
	for (row = 0; row < ARRAY_SIZE(key_table); row++) {
		if (key_table[row].section == p->section && strcmp(key_table[row].key, key) == 0) {
			def = &key_table[row];
			break;
		}
	}
	if (!def)
		return parse_error(p, "unknown key '%s' in this section", key);
	if (!*value)
		return parse_error(p, "'%s' needs a value", key);
	if (def->type != KEY_STRV && (p->seen & (1ULL << row)))
		return parse_error(p, "'%s' is set twice in this section", key);
	p->seen |= 1ULL << row;
	target = (char *)p->target + def->offset;

	switch (def->type) {
	case KEY_STRING: {
		char *copy = strdup(value);
		if (!copy)
			return -ENOMEM;
		*(char **)target = copy;
		return 0;
	}
	case KEY_UINT:
		if (parse_uint(value, def->max, &v) < 0)
			return parse_error(p, "'%s' must be a whole number from 0 to %u, not '%s'", key,
					   def->max, value);
		*(unsigned *)target = (unsigned)v;
		return 0;
	case KEY_NODEID:
		if (parse_uint(value, UINT32_MAX, &v) < 0 || v == 0)
			return parse_error(p, "'%s' must be a corosync nodeid (1 to %u), not '%s'", key,
					   UINT32_MAX, value);
		*(uint32_t *)target = (uint32_t)v;
		return 0;
	case KEY_STRV: {
		size_t *count = (size_t *)((char *)p->target + def->count_offset);
		char **strv = *(char ***)target;
		char **grown;

		if (!strchr(value, '=') || value[0] == '=')
			return parse_error(p, "'%s' must be key=value, not '%s'", key, value);
		grown = reallocarray(strv, *count + 1, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		*(char ***)target = grown;
		grown[*count] = strdup(value);
		if (!grown[*count])
			return -ENOMEM;
		(*count)++;
		return 0;
	}
	case KEY_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
			*(bool *)target = true;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
			 strcmp(value, "0") == 0)
			*(bool *)target = false;
		else
			return parse_error(p, "'%s' must be yes or no, not '%s'", key, value);
		return 0;
	}
	return -EINVAL;
}

static int set_default(char **field, const char *value)
{
	if (*field)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

static int fence_cmp(const void *a, const void *b)
{
	const struct hs_config_fence *x = a, *y = b;
	int c = strcmp(x->node, y->node);

	if (c)
		return c;
	return (x->level > y->level) - (x->level < y->level);
}

/* Whole-file checks, once every section is read. */
static int config_validate(struct parser *p)
{
	struct hs_config *c = p->config;
	int r;

	p->line = 0;
	/*
	 * The hosts are corosync's (hs_corosync_nodes_merge): here only what
	 * hasvc.conf says on its own is checked, the rest once corosync answers.
	 */
	for (size_t i = 0; i < c->n_nodes; i++) {
		struct hs_config_node *n = &c->nodes[i];

		for (size_t j = 0; j < i; j++)
			if (n->nodeid && c->nodes[j].nodeid == n->nodeid)
				return parse_error(p, "nodes %s and %s share nodeid %u",
						   c->nodes[j].name, n->name, n->nodeid);
		if (n->address) {
			r = set_default(&n->replication_address, n->address);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; i < c->n_fences; i++) {
		struct hs_config_fence *f = &c->fences[i];

		if (!f->agent)
			return parse_error(p, "[fence %s] level %u has no agent", f->node, f->level);
		if (f->level == 0)
			return parse_error(p, "[fence %s] level must be 1 or more", f->node);
		if (f->timeout_s == 0)
			return parse_error(p, "[fence %s] timeout must be 1 s or more", f->node);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->fences[j].node, f->node) == 0 && c->fences[j].level == f->level)
				return parse_error(p, "[fence %s] has two devices at level %u", f->node,
						   f->level);
	}
	if (c->n_fences) /* qsort wants an array, even of nothing */
		qsort(c->fences, c->n_fences, sizeof(*c->fences), fence_cmp);
	if (c->log_level) {
		bool known = false;
		for (const char *const *l = log_levels; *l; l++)
			known |= strcmp(*l, c->log_level) == 0;
		if (!known)
			return parse_error(p, "log_level must be error, warning, info or debug, not '%s'",
					   c->log_level);
	}
	if (c->fence_lost_hosts && strcmp(c->fence_lost_hosts, "always") != 0 &&
	    strcmp(c->fence_lost_hosts, "with-primaries") != 0)
		return parse_error(p, "fence_lost_hosts must be always or with-primaries, not '%s'",
				   c->fence_lost_hosts);
	if (c->reprotect && strcmp(c->reprotect, "any") != 0 &&
	    strcmp(c->reprotect, "old-host") != 0)
		return parse_error(p, "reprotect must be any or old-host, not '%s'", c->reprotect);
	if (c->maintenance_switchover && strcmp(c->maintenance_switchover, "auto") != 0 &&
	    strcmp(c->maintenance_switchover, "live") != 0 &&
	    strcmp(c->maintenance_switchover, "cold") != 0)
		return parse_error(p, "maintenance_switchover must be auto, live or cold, not '%s'",
				   c->maintenance_switchover);
	if (c->mirror_engine && strcmp(c->mirror_engine, "libvirt") != 0 &&
	    strcmp(c->mirror_engine, "qmp") != 0)
		return parse_error(p, "mirror_engine must be libvirt or qmp, not '%s'", c->mirror_engine);
	c->mirror_engine_qmp = c->mirror_engine && strcmp(c->mirror_engine, "qmp") == 0;
	if (c->sync_writes && strcmp(c->sync_writes, "sequential") != 0 &&
	    strcmp(c->sync_writes, "parallel") != 0)
		return parse_error(p, "sync_writes must be sequential or parallel, not '%s'", c->sync_writes);
	c->sync_writes_parallel = c->sync_writes && strcmp(c->sync_writes, "parallel") == 0;
	if (c->sync_writes_parallel && !c->mirror_engine_qmp)
		return parse_error(p, "sync_writes = parallel needs mirror_engine = qmp (it is hasvc's own "
				      "QEMU graph)");
	if (c->maintenance_moves == 0)
		c->maintenance_moves = 2;
	c->fence_always = c->fence_lost_hosts && strcmp(c->fence_lost_hosts, "always") == 0;
	c->reprotect_old_host = c->reprotect && strcmp(c->reprotect, "old-host") == 0;
	/*
	 * Tokens cross the network in every request: plain HTTP must be asked
	 * for, never the fallback of a forgotten key. A key without the other
	 * is a half-done setup, refused even with http_plain.
	 */
	if (!c->http_tls_cert != !c->http_tls_key)
		return parse_error(p, "%s is set but %s is not: the TCP API needs both",
				   c->http_tls_cert ? "http_tls_cert" : "http_tls_key",
				   c->http_tls_cert ? "http_tls_key" : "http_tls_cert");
	if (c->http_plain && c->http_tls_cert)
		return parse_error(p, "http_plain = yes and http_tls_cert/http_tls_key are both set: "
				   "choose HTTPS or plain HTTP");
	if (c->http_listen && !c->http_tls_cert && !c->http_plain)
		return parse_error(p, "http_listen needs http_tls_cert and http_tls_key, "
				   "or http_plain = yes");
	if (c->http_client_connections == 0)
		c->http_client_connections = 16;
	if (c->nbd_port_base == 0)
		c->nbd_port_base = 10809;
	if (c->nbd_port_base < 1024)
		return parse_error(p, "nbd_port_base must be 1024 or more, not %u", c->nbd_port_base);
	if ((r = set_default(&c->reprotect, "any")) < 0 ||
	    (r = set_default(&c->maintenance_switchover, "auto")) < 0 ||
	    (r = set_default(&c->mirror_engine, "libvirt")) < 0 ||
	    (r = set_default(&c->fence_lost_hosts, "with-primaries")) < 0 ||
	    (r = set_default(&c->state_dir, "/var/lib/hasvc")) < 0 ||
	    (r = set_default(&c->api_socket, "/run/hasvc/hasvcd.sock")) < 0 ||
	    (r = set_default(&c->token_file, "/etc/hasvc/tokens")) < 0 ||
	    (r = set_default(&c->web_dir, "/usr/share/hasvc/web")) < 0 ||
	    (r = set_default(&c->fence_agent_dir, "/usr/sbin")) < 0 ||
	    (r = set_default(&c->log_level, "info")) < 0)
		return r;
	return 0;
}

static int parse_line(struct parser *p, char *raw)
{
	char *line = strip(raw);
	char *eq;

	if (*line == '\0' || *line == '#' || *line == ';')
		return 0;
	if (*line == '[') {
		char *close = strchr(line, ']');
		if (!close || strip(close + 1)[0] != '\0')
			return parse_error(p, "bad section header '%s'", line);
		*close = '\0';
		return section_begin(p, line + 1);
	}
	eq = strchr(line, '=');
	if (!eq)
		return parse_error(p, "expected 'key = value' or '[section]', not '%s'", line);
	*eq = '\0';
	return key_set(p, strip(line), strip(eq + 1));
}

int hs_config_load(const char *path, struct hs_config **ret, char **ret_error)
{
	struct parser p = {.path = path};
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0;
	int r;

	p.config = calloc(1, sizeof(*p.config));
	if (!p.config)
		return -ENOMEM;
	p.config->path = strdup(path);
	p.config->shutdown_timeout_s = 60; /* a key may set 0: defaults go first */
	if (!p.config->path) {
		r = -ENOMEM;
		goto out_free;
	}

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		parse_error(&p, "cannot open: %s", strerror(-r));
		goto out_free;
	}
	while (getline(&buf, &cap, f) >= 0) {
		p.line++;
		r = parse_line(&p, buf);
		if (r < 0)
			goto out_free;
	}
	if (ferror(f)) {
		r = -EIO;
		p.line = 0;
		parse_error(&p, "read error");
		goto out_free;
	}
	r = config_validate(&p);
	if (r < 0)
		goto out_free;

	*ret = p.config;
	return 0;

out_free:
	if (r == -ENOMEM && !p.error)
		p.error = strdup("out of memory");
	if (ret_error)
		*ret_error = p.error;
	else
		free(p.error);
	hs_config_free(p.config);
	return r;
}

void hs_config_free(struct hs_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_nodes; i++) {
		free(c->nodes[i].name);
		free(c->nodes[i].address);
		free(c->nodes[i].replication_address);
	}
	free(c->nodes);
	for (size_t i = 0; i < c->n_fences; i++) {
		free(c->fences[i].node);
		free(c->fences[i].agent);
		for (size_t j = 0; j < c->fences[i].n_options; j++)
			free(c->fences[i].options[j]);
		free(c->fences[i].options);
	}
	free(c->fences);
	free(c->path);
	free(c->node_name);
	free(c->state_dir);
	free(c->api_socket);
	free(c->http_listen);
	free(c->http_tls_cert);
	free(c->http_tls_key);
	free(c->token_file);
	free(c->web_dir);
	free(c->fence_agent_dir);
	free(c->log_level);
	free(c->fence_lost_hosts);
	free(c->maintenance_switchover);
	free(c->reprotect);
	free(c->mirror_engine);
	free(c->sync_writes);
	free(c->libvirt_uri);
	free(c);
}

const struct hs_config_node *hs_config_node_by_name(const struct hs_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (strcmp(c->nodes[i].name, name) == 0)
			return &c->nodes[i];
	return NULL;
}

const struct hs_config_node *hs_config_node_by_id(const struct hs_config *c, uint32_t nodeid)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].nodeid == nodeid)
			return &c->nodes[i];
	return NULL;
}
