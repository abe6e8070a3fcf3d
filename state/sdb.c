// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sdb: opening the store, its statements, transactions and errors.
 *
 * Opening is careful because the file is the only copy of this host's view of
 * the cluster, and a wrong file is better refused than "repaired":
 *
 *   1. the file, when it exists and is not empty, must be readable and start
 *      with sqlite's magic header (else -EBADMSG, before sqlite touches it);
 *   2. its application_id must be ours, or 0 in a database with no tables (a
 *      file we created and crashed before the first step committed); anything
 *      else is another program's database (-EMEDIUMTYPE);
 *   3. its user_version must not be newer than our last migration step
 *      (-ENOTSUP: "upgrade hasvcd");
 *   4. PRAGMA quick_check must say "ok" (-EBADMSG).
 *
 * Only then does it switch to WAL, set synchronous=FULL and foreign_keys=ON,
 * and run the missing migration steps (sdb_schema.c), each with its
 * user_version bump in one BEGIN IMMEDIATE transaction. Nothing is ever
 * deleted or recreated: a refused file is left exactly as it was.
 *
 * Every SQL text lives in sdb__sql[] (sdb_sql.c), is prepared on first use and kept
 * for the life of the connection. Writes are wrapped in BEGIN IMMEDIATE, so a
 * lock held by another connection is met (and waited for, busy_timeout) at
 * the start of a transaction and never half way through it.
 *
 * sqlite errors are turned into -errno in sdb__errno(), the one place that
 * knows sqlite's codes; the sentence for the caller to log is kept in
 * db->errmsg (sdb_errmsg()).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdb_internal.h"

int sdb__errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return -EBADMSG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EPERM;
	case SQLITE_CANTOPEN:
		return -EACCES;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_CONSTRAINT:
		switch (rc) {
		case SQLITE_CONSTRAINT_PRIMARYKEY:
		case SQLITE_CONSTRAINT_UNIQUE:
			return -EEXIST;
		case SQLITE_CONSTRAINT_FOREIGNKEY:
			return -ENOENT;
		default:
			return -EINVAL;
		}
	default:
		return -EIO;
	}
}

int sdb__fail(struct sdb *db, int err, const char *fmt, ...)
{
	char buf[sizeof(db->errmsg)];
	va_list ap;

	/* through a copy: the arguments may include db->errmsg itself */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(db->errmsg, buf, sizeof(buf));
	return err;
}

int sdb__fail_sqlite(struct sdb *db, int rc, const char *context)
{
	const char *why = db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc);

	/* sqlite's message of the connection may belong to another call: trust rc */
	if (db->conn && sqlite3_extended_errcode(db->conn) != rc)
		why = sqlite3_errstr(rc);
	return sdb__fail(db, sdb__errno(rc) ?: -EIO, "%s: %s", context, why);
}

int sdb__stmt(struct sdb *db, enum sdb__q q, sqlite3_stmt **ret)
{
	int rc;

	if (!db->stmts[q]) {
		rc = sqlite3_prepare_v3(db->conn, sdb__sql[q], -1, SQLITE_PREPARE_PERSISTENT,
					&db->stmts[q], NULL);
		if (rc != SQLITE_OK)
			return sdb__fail_sqlite(db, rc, "cannot prepare statement");
	} else {
		sqlite3_reset(db->stmts[q]);
		sqlite3_clear_bindings(db->stmts[q]);
	}
	*ret = db->stmts[q];
	return 0;
}

int sdb__stmt_key(struct sdb *db, enum sdb__q q, const char *key, sqlite3_stmt **ret)
{
	int r = sdb__stmt(db, q, ret);

	if (r >= 0)
		sdb__bind_text(*ret, 1, key);
	return r;
}

int sdb__step(struct sdb *db, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : sdb__fail_sqlite(db, rc, "cannot read state");
}

int sdb__exec_key(struct sdb *db, enum sdb__q q, const char *key, const char *context)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r = sdb__stmt_key(db, q, key, &s);

	return r < 0 ? r : sdb__exec(db, s, context);
}

int sdb__bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (!v)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

int sdb__exec(struct sdb *db, sqlite3_stmt *s, const char *context)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sdb__fail_sqlite(db, sqlite3_extended_errcode(db->conn), context);
	return 0;
}

static int sdb__run(struct sdb *db, enum sdb__q q, const char *context)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt(db, q, &s);
	if (r < 0)
		return r;
	return sdb__exec(db, s, context);
}

int sdb__begin(struct sdb *db)
{
	return sdb__run(db, SDB_Q_BEGIN, "cannot begin transaction");
}

int sdb__begin_read(struct sdb *db)
{
	return sdb__run(db, SDB_Q_BEGIN_READ, "cannot begin transaction");
}

int sdb__commit(struct sdb *db)
{
	int r = sdb__run(db, SDB_Q_COMMIT, "cannot commit transaction");

	if (r < 0)
		sdb__rollback(db);
	return r;
}

void sdb__rollback(struct sdb *db)
{
	char saved[sizeof(db->errmsg)];

	if (sqlite3_get_autocommit(db->conn))
		return; /* sqlite already rolled back (or nothing began) */
	memcpy(saved, db->errmsg, sizeof(saved));
	(void)sdb__run(db, SDB_Q_ROLLBACK, "cannot roll back");
	memcpy(db->errmsg, saved, sizeof(saved)); /* keep the error that made us roll back */
}

int sdb__version_bump(struct sdb *db, uint64_t time_usec)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r;

	r = sdb__stmt(db, SDB_Q_CLUSTER_BUMP, &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, (int64_t)time_usec);
	return sdb__exec(db, s, "cannot count the change");
}

const char *sdb_errmsg(const struct sdb *db)
{
	return db && db->errmsg[0] ? db->errmsg : "no error";
}

unsigned sdb_schema_version(void)
{
	return sdb__schema_n_steps;
}

int sdb_busy_timeout_set(struct sdb *db, unsigned msec)
{
	int rc = sqlite3_busy_timeout(db->conn, (int)msec);

	if (rc != SQLITE_OK)
		return sdb__fail_sqlite(db, rc, "cannot set busy timeout");
	return 0;
}

int sdb__cluster_row(struct sdb *db, sqlite3_stmt **ret)
{
	int r = sdb__stmt(db, SDB_Q_CLUSTER_GET, ret);

	if (r >= 0)
		r = sdb__step(db, *ret);
	return r == 0 ? sdb__fail(db, -EBADMSG, "cluster row missing") : r;
}

int sdb__grow(void **arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t want = *cap ? 2 * *cap : first;
	void *a;

	if (n < *cap)
		return 0;
	a = realloc(*arr, want * elem);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = want;
	return 0;
}

int sdb_version(struct sdb *db, uint64_t *ret_version)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int r = sdb__cluster_row(db, &s);

	if (r < 0)
		return r;
	*ret_version = (uint64_t)sqlite3_column_int64(s, 0);
	return 0;
}

/* Runs a constant SQL text with no parameters and no result wanted (open time only). */
static int sdb__exec_text(struct sdb *db, const char *sql, const char *context)
{
	int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return sdb__fail_sqlite(db, sqlite3_extended_errcode(db->conn), context);
	return 0;
}

/* Runs a constant PRAGMA returning one value, as integer and/or text (open time only). */
static int sdb__pragma(struct sdb *db, const char *sql, int64_t *ret_int, char *ret_text,
		       size_t text_size)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->conn, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			if (ret_int)
				*ret_int = sqlite3_column_int64(s, 0);
			if (ret_text)
				snprintf(ret_text, text_size, "%s",
					 (const char *)sqlite3_column_text(s, 0) ?: "");
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK)
		rc = sqlite3_extended_errcode(db->conn);
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		return sdb__fail_sqlite(db, rc, sql);
	return 0;
}

/* Step 1 of the checks: before sqlite sees it, the file must look like sqlite. */
static int sdb__check_file(struct sdb *db)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	fd = open(db->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* created below */
		return sdb__fail(db, -errno, "cannot open database '%s': %m", db->path);
	}
	if (fstat(fd, &st) < 0) {
		r = sdb__fail(db, -errno, "cannot stat database '%s': %m", db->path);
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = sdb__fail(db, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
			      "database '%s' is not a regular file", db->path);
		goto out_close;
	}
	if (st.st_size == 0)
		goto out_close; /* created, never written: sqlite makes it a database */
	n = pread(fd, head, sizeof(head), 0);
	if (n < 0) {
		r = sdb__fail(db, -errno, "cannot read database '%s': %m", db->path);
		goto out_close;
	}
	if (n != sizeof(head) || memcmp(head, magic, sizeof(magic)) != 0)
		r = sdb__fail(db, -EBADMSG, "'%s' is not an sqlite database (refusing to touch it)",
			      db->path);
out_close:
	close(fd);
	return r;
}

/* Steps 2 to 4: whose database, which version, intact. */
static int sdb__check_content(struct sdb *db, unsigned *ret_version)
{
	int64_t app_id = 0, version = 0, n_tables = 0;
	char check[256];
	int r;

	r = sdb__pragma(db, "PRAGMA application_id", &app_id, NULL, 0);
	if (r < 0)
		return sdb__fail(db, r, "cannot read database '%s': %s", db->path, db->errmsg);
	r = sdb__pragma(db, "PRAGMA user_version", &version, NULL, 0);
	if (r < 0)
		return sdb__fail(db, r, "cannot read database '%s': %s", db->path, db->errmsg);
	r = sdb__pragma(db, "SELECT count(*) FROM sqlite_schema", &n_tables, NULL, 0);
	if (r == -EBADMSG) /* a schema larger than the first page, damaged beyond it */
		return sdb__fail(db, r, "database '%s' is damaged: %s", db->path, db->errmsg);
	if (r < 0)
		return sdb__fail(db, r, "cannot read database '%s': %s", db->path, db->errmsg);

	if (app_id != SDB_APPLICATION_ID && (app_id != 0 || version != 0 || n_tables != 0))
		return sdb__fail(db, -EMEDIUMTYPE,
				 "'%s' is not a hasvc database (application_id 0x%08llx, expected "
				 "0x%08x); refusing to touch it",
				 db->path, (unsigned long long)(uint32_t)app_id,
				 SDB_APPLICATION_ID);
	if (version < 0 || version > (int64_t)sdb__schema_n_steps)
		return sdb__fail(db, -ENOTSUP,
				 "database schema version %lld is newer than this hasvcd (%u); "
				 "upgrade hasvcd",
				 (long long)version, sdb__schema_n_steps);

	r = sdb__pragma(db, "PRAGMA quick_check", NULL, check, sizeof(check));
	if (r < 0)
		return sdb__fail(db, r, "database '%s' is damaged: %s", db->path, db->errmsg);
	if (strcmp(check, "ok") != 0)
		return sdb__fail(db, -EBADMSG, "database '%s' is damaged (quick_check: %s)",
				 db->path, check);

	*ret_version = (unsigned)version;
	return 0;
}

static int sdb__migrate(struct sdb *db, unsigned from)
{
	int r;

	for (unsigned v = from; v < sdb__schema_n_steps; v++) {
		r = sdb__begin(db);
		if (r < 0)
			return sdb__fail(db, r, "cannot migrate database '%s' to version %u: %s",
					 db->path, v + 1, db->errmsg);
		r = sdb__exec_text(db, sdb__schema_steps[v], "migration failed");
		if (r >= 0)
			r = sdb__commit(db);
		if (r < 0) {
			sdb__rollback(db);
			return sdb__fail(db, r, "cannot migrate database '%s' to version %u: %s",
					 db->path, v + 1, db->errmsg);
		}
	}
	return 0;
}

static int sdb__configure(struct sdb *db)
{
	char mode[32];
	int r;

	r = sdb__pragma(db, "PRAGMA journal_mode = WAL", NULL, mode, sizeof(mode));
	if (r >= 0 && strcmp(mode, "wal") != 0)
		r = sdb__fail(db, -ENOTSUP, "journal mode is '%s'", mode);
	if (r >= 0)
		r = sdb__exec_text(db, "PRAGMA synchronous = FULL", "PRAGMA synchronous");
	if (r >= 0)
		r = sdb__exec_text(db, "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys");
	if (r < 0)
		return sdb__fail(db, r, "cannot set up database '%s': %s", db->path, db->errmsg);
	return 0;
}

int sdb_open(const char *path, struct sdb **ret, char **ret_error)
{
	struct sdb *db;
	unsigned version = 0;
	int r, rc;

	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->path = strdup(path);
	if (!db->path) {
		r = -ENOMEM;
		goto out_free;
	}

	r = sdb__check_file(db);
	if (r < 0)
		goto out_free;

	rc = sqlite3_open_v2(path, &db->conn,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
				 SQLITE_OPEN_EXRESCODE,
			     NULL);
	if (rc != SQLITE_OK) {
		int sys = db->conn ? sqlite3_system_errno(db->conn) : 0;

		r = sys ? -sys : sdb__errno(rc);
		sdb__fail(db, r, "cannot open database '%s': %s", path,
			  sys ? strerror(sys) : sqlite3_errstr(rc));
		goto out_free;
	}
	sqlite3_extended_result_codes(db->conn, 1);
	sqlite3_busy_timeout(db->conn, SDB_BUSY_TIMEOUT_MS);

	r = sdb__check_content(db, &version);
	if (r < 0)
		goto out_free;
	r = sdb__configure(db);
	if (r < 0)
		goto out_free;
	r = sdb__migrate(db, version);
	if (r < 0)
		goto out_free;

	db->errmsg[0] = '\0';
	*ret = db;
	return 0;

out_free:
	if (ret_error)
		*ret_error = strdup(db->errmsg[0] ? db->errmsg : strerror(-r));
	sdb_close(db);
	return r;
}

void sdb_close(struct sdb *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(db->stmts); i++)
		sqlite3_finalize(db->stmts[i]);
	sqlite3_close_v2(db->conn);
	free(db->path);
	free(db);
}
