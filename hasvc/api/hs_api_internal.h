/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_api_internal: what the files of api/ share; nothing outside api/
 * includes it.
 *
 *   hs_api_server.c   MHD on the qb_loop: listeners, the request's life
 *   hs_api_listen.c   the sockets and the token file
 *   hs_api_routes.c   the route table, routing and authorisation
 *   hs_api_reply.c    answers: JSON, errors, the errno -> HTTP status table
 *   hs_api_read.c     the GET handlers
 *   hs_api_write.c    the POST and DELETE handlers
 *   hs_api_status.c   status, nodes and metrics builders
 *   hs_api_body.c     POST bodies checked against their fields
 *   hs_event_stream.c the event stream (SSE)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <microhttpd.h>
#include <qb/qbloop.h>

#include "hs_api.h"
#include "hs_api_body.h"
#include "hs_event_stream.h"

#define MAX_BODY (64 * 1024)
#define MAX_TOKENS 64
/* A token file's secret and name, in characters; a longer one is refused. */
#define MAX_SECRET 255
#define MAX_TOKEN_NAME 63

enum token_role { ROLE_NONE, ROLE_READ, ROLE_ADMIN };

struct token {
	char *secret;
	char *name;
	enum token_role role;
};

/*
 * A connection of a listener that limits how long a request may take to
 * arrive (TCP): from MHD_OPTION_NOTIFY_CONNECTION, its socket context.
 */
struct client {
	struct client *next, *prev;
	struct MHD_Connection *connection;
	uint64_t waiting_since_usec; /* accepted, or its last request ended; 0: one is served */
	bool cut;                    /* shut down for being late: MHD closes it next */
};

struct listener {
	struct hs_api *api;
	struct MHD_Daemon *mhd;
	int epoll_fd;
	bool needs_token; /* TCP: yes; the unix socket is guarded by its file mode */
	const char *what;
	/* HTTPS: the PEM texts MHD serves with, kept while it runs; NULL: plain */
	char *tls_cert;
	char *tls_key;
	/* its own event-stream slots: a TCP client cannot take the unix socket's */
	struct hs_event_streams streams;
	/* TCP: its connections, each allowed REQUEST_TIMEOUT_S to send a whole request */
	bool request_deadline;
	struct client *clients;
	unsigned cut_unlogged; /* late connections shut down since the last log line */
	uint64_t cut_logged_usec;
	/* MHD's own messages, rate-limited (a flood would be one line per connection) */
	uint64_t mhd_log_window_usec;
	unsigned mhd_log_count, mhd_log_dropped;
};

struct hs_api {
	struct hs_core *core;
	struct hs_pairs *pairs;
	struct hs_fencing *fencing;
	struct listener unix_listener;
	struct listener tcp_listener;
	qb_loop_timer_handle timer;
	struct token tokens[MAX_TOKENS];
	size_t n_tokens;
};

struct request {
	char *body;
	size_t len;
	bool too_large;
	/* An answer that needed the loop to finish something (a fence): */
	struct listener *listener;
	struct MHD_Connection *connection;
	bool suspended;
	unsigned deferred_status;
	json_object *deferred; /* queued at the next call of the access handler */
	bool in_handler;       /* an operation answering now is answered directly */
};

typedef int (*hs_api_handler_fn)(struct hs_api *api, struct MHD_Connection *c, const char *name,
				 struct request *req);

/* --- hs_api_routes.c --- */
int hs__api_dispatch(struct listener *l, struct MHD_Connection *c, const char *url,
		     const char *method, struct request *req);

/* --- hs_api_listen.c --- */
int hs__api_unix_socket_open(const char *path, int *ret_fd);
int hs__api_tcp_socket_open(const char *listen_spec, int *ret_fd);
/*
 * Reads the TCP API's PEM certificate and key (http_tls_cert, http_tls_key)
 * and checks them as GnuTLS will serve them: readable, parseable, valid now,
 * the key the certificate's. Errors are logged naming the file.
 */
int hs__api_tls_load(const char *cert_path, const char *key_path, char **ret_cert,
		     char **ret_key);
/* "TOKEN read|admin NAME" per line; the file must not be readable by others. */
int hs__api_tokens_load(struct hs_api *api, const char *path);
/* The role of the request's token (header, or ?token= when IN_QUERY). */
enum token_role hs__api_token_role(const struct hs_api *api, struct MHD_Connection *c,
				   bool in_query);

/* --- hs_api_reply.c --- */
int hs__api_queue_text(struct MHD_Connection *c, unsigned status, const char *type,
		       const char *text, size_t len);
/* Queues OBJ (consumed) with "schema" added. */
int hs__api_queue_json(struct MHD_Connection *c, unsigned status, json_object *obj);
int hs__api_queue_error(struct MHD_Connection *c, unsigned status, const char *error,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The HTTP status and error name of -errno ERR, from the one table. */
unsigned hs__api_errno_status(int err, const char **ret_error);
/* ERR as an API error whose message is MESSAGE. */
int hs__api_queue_errno_message(struct MHD_Connection *c, int err, const char *message);
/* ERR as an API error: "WHAT: " and the table's words for it. */
int hs__api_queue_errno(struct MHD_Connection *c, int err, const char *what);
/* The request body checked against FIELDS: true with *ret set, or false with the 400 queued. */
bool hs__api_body_parse(struct MHD_Connection *c, struct request *req,
			const struct hs_body_field *fields, size_t n_fields, json_object **ret,
			int *ret_ok);
/* For the writes that take no body: nothing, or {}. */
bool hs__api_body_is_empty(struct MHD_Connection *c, struct request *req, int *ret_ok);
/* Answers a suspended request: ANSWER (taken) is queued when MHD calls us again. */
void hs__api_answer_later(struct request *req, unsigned status, json_object *answer);
/* Suspends C until hs__api_answer_later(). */
int hs__api_suspend(struct MHD_Connection *c, struct request *req);

/* --- hs_api_read.c, hs_api_write.c: the handlers of the route table --- */
int hs__api_get_status(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_get_nodes(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_get_metrics(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_get_pairs(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_get_pair(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_get_events(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_get_event_stream(struct hs_api *, struct MHD_Connection *, const char *,
			     struct request *);
int hs__api_get_fence_log(struct hs_api *, struct MHD_Connection *, const char *,
			  struct request *);
int hs__api_get_static(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_post_node_action(struct hs_api *, struct MHD_Connection *, const char *,
			     struct request *);
int hs__api_post_pairs(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_post_pair_action(struct hs_api *, struct MHD_Connection *, const char *,
			     struct request *);
int hs__api_delete_pair(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_patch_pair(struct hs_api *, struct MHD_Connection *, const char *, struct request *);
int hs__api_post_fence_check(struct hs_api *, struct MHD_Connection *, const char *,
			     struct request *);
int hs__api_post_test_propose(struct hs_api *, struct MHD_Connection *, const char *,
			      struct request *);

/* --- hs_api_status.c --- */
json_object *hs__api_status_json(struct hs_core *core);
json_object *hs__api_nodes_json(struct hs_core *core);
/* Prometheus text; caller frees. */
char *hs__api_metrics_text(struct hs_core *core);
