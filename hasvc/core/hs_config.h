/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_config: /etc/hasvc/hasvc.conf, an INI file parsed by a keyword table.
 *
 * Sections:
 *   [daemon]          this host's daemon: node name, directories, API sockets
 *   [node NAME]       optional, one per cluster host: its replication address;
 *                     the hosts themselves (names, nodeids, ring0 addresses)
 *                     come from corosync's nodelist (hs_corosync_nodes.h), and
 *                     a nodeid or address given here must agree with it
 *   [fence NAME]      one per fence device of host NAME; several are tried in
 *                     the order of their `level` (1 first)
 *
 * Every key is known to the table; an unknown key, a missing value, a bad
 * number or a duplicate section is an error reported as "file:line: what".
 * VM pairs are cluster state (state/), never configuration.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_CONFIG_DEFAULT_PATH "/etc/hasvc/hasvc.conf"
/* Connections each API listener takes at once; http_client_connections is at most this. */
#define HS_API_CONNECTIONS 128

struct hs_config_fence {
	char *node;            /* the host this device fences */
	unsigned level;        /* 1 is tried first */
	char *agent;           /* e.g. "fence_ipmilan"; a name looked up in agent_dir, or a path */
	unsigned timeout_s;    /* per action */
	char **options;        /* "key=value" lines written to the agent's stdin */
	size_t n_options;
	unsigned line;         /* of its section header, for errors found later */
};

struct hs_config_node {
	char *name;
	uint32_t nodeid;       /* corosync nodeid; 0 until merged when hasvc.conf omits it */
	char *address;         /* cluster (ring0) address; NULL until merged when omitted */
	char *replication_address; /* where NBD exports listen; defaults to address */
	unsigned line;         /* of its [node] header; 0: not in hasvc.conf */
};

struct hs_config {
	char *path;
	/* [daemon] */
	char *node_name;       /* which node this host is; NULL: corosync's local nodeid says */
	char *state_dir;       /* sqlite database lives here */
	char *api_socket;      /* unix socket of the HTTP API (CLI, full rights) */
	char *http_listen;     /* "ADDR:PORT" of the dashboard API, NULL = off */
	char *http_tls_cert;   /* PEM certificate of the TCP API (HTTPS) */
	char *http_tls_key;    /* its PEM private key */
	bool http_plain;       /* http_listen without TLS, asked for explicitly */
	char *token_file;      /* bearer tokens for the TCP API */
	unsigned http_client_connections; /* TCP API connections per client address, 1..128 */
	char *web_dir;         /* static dashboard files */
	char *fence_agent_dir; /* where agents named without a path are found */
	char *log_level;       /* error, warning, info, debug */
	char *fence_lost_hosts; /* "with-primaries" (default) or "always" */
	char *libvirt_uri;      /* NULL: qemu:///system */
	char *mirror_engine;    /* "libvirt" (default: its block copy) or "qmp" (hasvc's own jobs) */
	char *sync_writes;      /* "sequential" (default) or "parallel" (experimental, qmp engine) */
	char *reprotect;        /* new backup after a failover: "any" host at once, or "old-host" */
	unsigned nbd_port_base; /* first TCP port of the backups' NBD exports on a host */
	unsigned shutdown_timeout_s; /* switchover: how long the guest gets to shut down; 0 pauses */
	unsigned memory_reserve_mib; /* kept for the host: a backup that would eat into it is refused */
	bool test_hooks;        /* for tests only: POST /v1/test/propose on the unix socket */
	/* the policies above, decoded once */
	bool fence_always;       /* fence_lost_hosts = always */
	bool reprotect_old_host; /* reprotect = old-host */
	bool mirror_engine_qmp;  /* mirror_engine = qmp */
	bool sync_writes_parallel; /* sync_writes = parallel */
	/* maintenance: "auto" (live with the qmp engine, else cold), "live" or "cold" */
	char *maintenance_switchover;
	unsigned maintenance_moves; /* switchovers a maintenance runs at once; 0 read: 2 */
	/* [node ...]; after hs_corosync_nodes_merge(), corosync's whole nodelist */
	struct hs_config_node *nodes;
	size_t n_nodes;
	/* [fence ...] sorted by node, then level */
	struct hs_config_fence *fences;
	size_t n_fences;
};

/*
 * Parses PATH. On failure returns -errno (-EINVAL for a syntax or value error)
 * and, when ret_error is not NULL, a malloc'd "file:line: message" there.
 */
int hs_config_load(const char *path, struct hs_config **ret, char **ret_error);
void hs_config_free(struct hs_config *config);

const struct hs_config_node *hs_config_node_by_name(const struct hs_config *config,
						    const char *name);
const struct hs_config_node *hs_config_node_by_id(const struct hs_config *config,
						  uint32_t nodeid);
