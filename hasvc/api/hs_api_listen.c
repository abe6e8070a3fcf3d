// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hs_api_listen: the API's sockets and who may use them.
 *
 * The unix socket is created mode 0600 (its parents made as needed, a stale
 * socket of a previous run replaced): whoever can open it has full rights.
 * The TCP listener ("IPv4ADDR:PORT") needs a bearer token from the token
 * file, lines "TOKEN read|admin NAME"; the file must not be readable by
 * group or others, and a missing file means no token works. A line is taken
 * whole or refused (a secret of more than MAX_SECRET characters, a fourth
 * field): the daemon does not start on a token file it would misread.
 *
 * The TCP listener speaks HTTPS: its certificate and key are read here once,
 * at start-up, and checked with GnuTLS before MHD gets them, so that a
 * missing, broken, expired or mismatched file stops the daemon with the
 * file's name rather than as a handshake failure every client sees later.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <qb/qblog.h>

#include "hs_api_internal.h"
#include "hs_cleanup.h"

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int hs__api_unix_socket_open(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	r = mkdir_parents(path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a stale socket of a previous run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (chmod(path, 0600) < 0 || listen(fd, 64) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int hs__api_tcp_socket_open(const char *listen_spec, int *ret_fd)
{
	_cleanup_free_ char *host = strdup(listen_spec);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	_cleanup_close_ int fd = -1;
	char *colon, *end;
	unsigned long port;
	int one = 1;

	if (!host)
		return -ENOMEM;
	colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

#define MAX_PEM (1024 * 1024)

/* PATH's whole text, NUL-terminated, as MHD wants its PEM options. */
static int pem_read(const char *what, const char *path, char **ret, size_t *ret_len)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (!f) {
		int r = -errno;
		qb_log(LOG_ERR, "%s %s: cannot read: %s", what, path, strerror(-r));
		return r;
	}
	text = malloc(MAX_PEM + 1);
	if (!text)
		return -ENOMEM;
	len = fread(text, 1, MAX_PEM + 1, f);
	if (ferror(f) || len > MAX_PEM || len == 0) {
		qb_log(LOG_ERR, "%s %s: %s", what, path,
		       ferror(f) ? "read error" : len ? "larger than 1 MiB" : "empty");
		return ferror(f) ? -EIO : -EINVAL;
	}
	text[len] = '\0';
	*ret = TAKE_PTR(text);
	*ret_len = len;
	return 0;
}

static void day_of(time_t t, char buf[static 32])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M UTC", &tm))
		strcpy(buf, "?");
}

/* The certificate's dates against now: an expired one is an error, not a warning. */
static int cert_check_dates(const char *path, const gnutls_datum_t *pem)
{
	gnutls_x509_crt_t crt;
	time_t now = time(NULL), from, until;
	char when[32];
	int r;

	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	r = gnutls_x509_crt_import(crt, pem, GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		qb_log(LOG_ERR, "http_tls_cert %s: not a PEM certificate: %s", path,
		       gnutls_strerror(r));
		gnutls_x509_crt_deinit(crt);
		return -EINVAL;
	}
	from = gnutls_x509_crt_get_activation_time(crt);
	until = gnutls_x509_crt_get_expiration_time(crt);
	gnutls_x509_crt_deinit(crt);
	if (until != (time_t)-1 && until < now) {
		day_of(until, when);
		qb_log(LOG_ERR, "http_tls_cert %s: the certificate expired on %s; make a new one "
		       "(deploy/hasvc-certs host)", path, when);
		return -EKEYEXPIRED;
	}
	if (from != (time_t)-1 && from > now) {
		day_of(from, when);
		qb_log(LOG_ERR, "http_tls_cert %s: the certificate is not valid before %s "
		       "(is this host's clock right?)", path, when);
		return -EKEYEXPIRED;
	}
	return 0;
}

int hs__api_tls_load(const char *cert_path, const char *key_path, char **ret_cert,
		     char **ret_key)
{
	_cleanup_free_ char *cert = NULL;
	char *key = NULL;
	gnutls_certificate_credentials_t creds;
	gnutls_datum_t cert_pem, key_pem;
	size_t cert_len = 0, key_len = 0;
	struct stat st;
	int r;

	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		qb_log(LOG_ERR, "this libmicrohttpd has no TLS: the TCP API cannot serve HTTPS");
		return -EOPNOTSUPP;
	}
	r = pem_read("http_tls_cert", cert_path, &cert, &cert_len);
	if (r < 0)
		return r;
	r = pem_read("http_tls_key", key_path, &key, &key_len);
	if (r < 0)
		return r;
	if (stat(key_path, &st) == 0 && (st.st_mode & 0077))
		qb_log(LOG_WARNING, "http_tls_key %s is readable by group or others (mode %04o); "
		       "chmod 600 it", key_path, st.st_mode & 07777);
	cert_pem = (gnutls_datum_t){.data = (unsigned char *)cert, .size = (unsigned)cert_len};
	key_pem = (gnutls_datum_t){.data = (unsigned char *)key, .size = (unsigned)key_len};
	r = cert_check_dates(cert_path, &cert_pem);
	if (r < 0)
		goto out_key;
	/* what MHD will do with them: a key that is not the certificate's fails here */
	if (gnutls_certificate_allocate_credentials(&creds) < 0) {
		r = -ENOMEM;
		goto out_key;
	}
	r = gnutls_certificate_set_x509_key_mem(creds, &cert_pem, &key_pem, GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(creds);
	if (r < 0) {
		qb_log(LOG_ERR, "http_tls_key %s: %s (with http_tls_cert %s)", key_path,
		       gnutls_strerror(r), cert_path);
		r = -EINVAL;
		goto out_key;
	}
	*ret_cert = TAKE_PTR(cert);
	*ret_key = key;
	return 0;

out_key:
	explicit_bzero(key, key_len);
	free(key);
	return r;
}

/*
 * A token file line split into its whitespace-separated fields, in place:
 * the number of fields, or -E2BIG past MAX_FIELDS. The whole line is split,
 * so a field is never cut at some length: a long secret is seen as long.
 */
#define MAX_FIELDS 3

static int token_line_split(char *line, char *fields[static MAX_FIELDS])
{
	int n = 0;

	for (char *p = line;;) {
		p += strspn(p, " \t\r\n");
		if (!*p)
			return n;
		if (n == MAX_FIELDS)
			return -E2BIG;
		fields[n++] = p;
		p += strcspn(p, " \t\r\n");
		if (*p)
			*p++ = '\0';
	}
}

/*
 * "TOKEN read|admin [NAME]" per line; the file must not be readable by
 * others. Every line is read whole and refused unless it is exactly that:
 * a secret longer than MAX_SECRET, or a fourth field, is an error naming the
 * file and the line, never cut into a shorter secret and a role made of its
 * tail (a read token that loads as admin).
 */
int hs__api_tokens_load(struct hs_api *api, const char *path)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	struct stat st;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT) {
			qb_log(LOG_WARNING, "no token file %s: the TCP API will refuse every request",
			       path);
			return 0;
		}
		qb_log(LOG_ERR, "cannot read token file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fileno(f), &st) < 0)
		return -errno;
	if (st.st_mode & 0077) {
		qb_log(LOG_ERR, "token file %s is readable by group or others (mode %04o); chmod 600 it",
		       path, st.st_mode & 07777);
		return -EPERM;
	}
	for (ssize_t got; (got = getline(&line, &cap, f)) >= 0;) {
		char *field[MAX_FIELDS];
		char *secret, *name;
		size_t len;
		int n;

		lineno++;
		/* what follows a NUL would be dropped unseen by the split */
		if (strlen(line) != (size_t)got) {
			qb_log(LOG_ERR, "%s:%u: a NUL byte in the line", path, lineno);
			return -EINVAL;
		}
		if (line[strspn(line, " \t\r\n")] == '#')
			continue;
		n = token_line_split(line, field);
		if (n == 0)
			continue;
		if (n < 2 || (strcmp(field[1], "read") != 0 && strcmp(field[1], "admin") != 0)) {
			qb_log(LOG_ERR, "%s:%u: expected 'TOKEN read|admin NAME'%s", path, lineno,
			       n < 0 ? ", found more than three fields (a name has no spaces)" : "");
			return -EINVAL;
		}
		len = strlen(field[0]);
		if (len > MAX_SECRET) {
			qb_log(LOG_ERR, "%s:%u: the token is %zu characters long, more than the %d "
			       "allowed", path, lineno, len, MAX_SECRET);
			return -EINVAL;
		}
		if (n == 3 && strlen(field[2]) > MAX_TOKEN_NAME) {
			qb_log(LOG_ERR, "%s:%u: the token's name is longer than %d characters", path,
			       lineno, MAX_TOKEN_NAME);
			return -EINVAL;
		}
		if (api->n_tokens == MAX_TOKENS) {
			qb_log(LOG_ERR, "%s:%u: more than %d tokens", path, lineno, MAX_TOKENS);
			return -E2BIG;
		}
		secret = strdup(field[0]);
		name = strdup(n == 3 ? field[2] : "unnamed");
		if (!secret || !name) {
			free(secret);
			free(name);
			return -ENOMEM;
		}
		api->tokens[api->n_tokens++] = (struct token){
			.secret = secret,
			.name = name,
			.role = field[1][0] == 'a' ? ROLE_ADMIN : ROLE_READ,
		};
	}
	if (ferror(f)) {
		qb_log(LOG_ERR, "cannot read token file %s: read error", path);
		return -EIO;
	}
	return 0;
}

enum token_role hs__api_token_role(const struct hs_api *api, struct MHD_Connection *c,
				  bool in_query)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");

	if (auth && strncmp(auth, "Bearer ", 7) == 0)
		auth += 7;
	else if (!auth && in_query)
		auth = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	else
		return ROLE_NONE;
	if (!auth)
		return ROLE_NONE;
	for (size_t i = 0; i < api->n_tokens; i++)
		if (strcmp(api->tokens[i].secret, auth) == 0)
			return api->tokens[i].role;
	return ROLE_NONE;
}
