/*
 * jobstore.c - the jobs table in SQLite (see jobstore.h).
 *
 * Why SQLite: the store must survive a restart of runboxd (queued jobs
 * run after it, results stay readable) without a server of its own, and
 * several processes (workers, runners, the master) write it at once.
 * WAL mode lets readers go on while one writes; busy_timeout makes a
 * writer wait for another instead of failing.
 *
 * Exactly once: a runner marks a job running, durably (its connection is
 * synchronous=FULL: each commit is on disk when COMMIT returns), before it takes any step of the run.  A job found
 * running by a master that starts, or left by a runner that died, was
 * perhaps half run: it ends as done with error "interrupted" and is never
 * taken again.
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service/jobstore.h"

struct jobstore {
	sqlite3 *db;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS jobs ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL UNIQUE,"
	" owner TEXT NOT NULL DEFAULT '',"
	" state TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" started_ms INTEGER NOT NULL DEFAULT 0,"
	" finished_ms INTEGER NOT NULL DEFAULT 0,"
	" expired_ms INTEGER NOT NULL DEFAULT 0,"
	" body BLOB,"
	" callback_url TEXT,"
	" runner INTEGER NOT NULL DEFAULT 0,"
	" cancel INTEGER NOT NULL DEFAULT 0,"
	" result TEXT,"
	" error_code TEXT,"
	" error_message TEXT,"
	" bytes INTEGER NOT NULL DEFAULT 0,"
	" cb_state TEXT NOT NULL DEFAULT '',"
	" cb_key BLOB,"
	" cb_attempts INTEGER NOT NULL DEFAULT 0,"
	" cb_next_ms INTEGER NOT NULL DEFAULT 0,"
	" cb_error TEXT);"
	"CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq);"
	"CREATE INDEX IF NOT EXISTS jobs_callback ON jobs (cb_state, cb_next_ms);"
	"CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, state);"
	"CREATE TABLE IF NOT EXISTS events ("
	" seq INTEGER NOT NULL, n INTEGER NOT NULL, line BLOB NOT NULL,"
	" PRIMARY KEY (seq, n)) WITHOUT ROWID;"
	/* A job's events go with its result. */
	"CREATE TRIGGER IF NOT EXISTS jobs_expired AFTER UPDATE OF state ON jobs"
	" WHEN new.state = 'expired' BEGIN DELETE FROM events WHERE seq = new.seq; END;"
	"CREATE TRIGGER IF NOT EXISTS jobs_deleted AFTER DELETE ON jobs"
	" BEGIN DELETE FROM events WHERE seq = old.seq; END;";

int64_t jobstore_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct jobstore *js, const char *what, char *err, size_t errlen)
{
	if (err)
		snprintf(err, errlen, "job store: %s: %s", what, sqlite3_errmsg(js->db));
	return -1;
}

static int exec_sql(struct jobstore *js, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(js->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(js, sql, err, errlen);
	return 0;
}

static sqlite3_stmt *prepare(struct jobstore *js, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(js->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

/* The directory holds every job's program and result: ours alone. */
static int check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "jobs.state_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0) {
		snprintf(err, errlen, "jobs.state_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, errlen, "jobs.state_dir %s must be a directory (not a link) of "
			 "uid %u, writable by it alone", dir, (unsigned)geteuid());
		return -1;
	}
	return 0;
}

struct jobstore *jobstore_open(const char *dir, char *err, size_t errlen)
{
	struct jobstore *js = calloc(1, sizeof *js);
	char path[4096];

	if (!js) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (check_dir(dir, err, errlen) < 0)
		goto fail;
	snprintf(path, sizeof path, "%s/jobs.db", dir);
	/* No umask() here: it is the process's, and a runner's threads open
	   their connections while its main thread makes work directories.
	   The directory (0700) is what keeps the files ours. */
	int rc = sqlite3_open_v2(path, &js->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "job store %s: %s", path,
			 js->db ? sqlite3_errmsg(js->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(js->db, 10000);
	if (exec_sql(js, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err,
		     errlen) < 0 || exec_sql(js, schema, err, errlen) < 0)
		goto fail;
	return js;
fail:
	jobstore_close(js);
	return NULL;
}

int jobstore_durable(struct jobstore *js, char *err, size_t errlen)
{
	return exec_sql(js, "PRAGMA synchronous=FULL", err, errlen);
}

void jobstore_close(struct jobstore *js)
{
	if (!js)
		return;
	sqlite3_close(js->db);
	free(js);
}

int jobstore_interrupt(struct jobstore *js, pid_t pid, char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(js,
		"UPDATE jobs SET state = 'done', finished_ms = ?1, body = NULL, runner = 0,"
		" error_code = 'interrupted', error_message = 'runboxd stopped while the job "
		"ran; it is not run again (a job runs at most once)'"
		" WHERE state = 'running' AND (?2 = 0 OR runner = ?2)");
	if (!st)
		return fail(js, "interrupt", err, errlen);
	sqlite3_bind_int64(st, 1, jobstore_now_ms());
	sqlite3_bind_int64(st, 2, pid);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(js, "interrupt", err, errlen);
	return sqlite3_changes(js->db);
}

int jobstore_submit(struct jobstore *js, const char *host, const char *owner,
		    struct job_new *jobs, size_t n, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int64_t now = jobstore_now_ms();

	if (exec_sql(js, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	st = prepare(js, "INSERT INTO jobs (id, owner, state, created_ms, body, callback_url,"
		     " cb_state, cb_key) VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7)");
	if (!st)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		unsigned char raw[JOB_ID_RANDOM / 2];
		char hex[JOB_ID_RANDOM + 1];
		randombytes_buf(raw, sizeof raw);
		sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
		snprintf(jobs[i].id, sizeof jobs[i].id, "%s-%s", host, hex);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, jobs[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, owner ? owner : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now);
		sqlite3_bind_blob64(st, 4, jobs[i].body, jobs[i].len, SQLITE_STATIC);
		if (jobs[i].callback_url)
			sqlite3_bind_text(st, 5, jobs[i].callback_url, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 5);
		sqlite3_bind_text(st, 6, jobs[i].callback_url ? "waiting" : "", -1, SQLITE_STATIC);
		if (jobs[i].callback_url && jobs[i].sealed_key)
			sqlite3_bind_blob(st, 7, jobs[i].sealed_key, JOB_SEALED_KEY, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 7);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(st);
	return exec_sql(js, "COMMIT", err, errlen);
fail:
	fail(js, "submit", err, errlen);
	sqlite3_finalize(st);
	sqlite3_exec(js->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int64_t jobstore_queued(struct jobstore *js, const char *owner)
{
	sqlite3_stmt *st = prepare(js, owner
		? "SELECT count(*) FROM jobs WHERE owner = ?1 AND state = 'queued'"
		: "SELECT count(*) FROM jobs WHERE state = 'queued'");
	int64_t n = -1;

	if (!st)
		return -1;
	if (owner)
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static char *column_text(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	char *s = malloc((size_t)n + 1);
	if (s) {
		if (n)
			memcpy(s, p, (size_t)n);
		s[n] = '\0';
	}
	return s;
}

#define ROW_COLUMNS "seq, id, owner, state, created_ms, started_ms, finished_ms, " \
	"result, error_code, error_message, callback_url, runner, cancel, cb_state, " \
	"cb_attempts, cb_error"

static void read_row(sqlite3_stmt *st, struct job_row *row)
{
	memset(row, 0, sizeof *row);
	row->seq = sqlite3_column_int64(st, 0);
	snprintf(row->id, sizeof row->id, "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(row->owner, sizeof row->owner, "%s", (const char *)sqlite3_column_text(st, 2));
	snprintf(row->state, sizeof row->state, "%s", (const char *)sqlite3_column_text(st, 3));
	row->created_ms = sqlite3_column_int64(st, 4);
	row->started_ms = sqlite3_column_int64(st, 5);
	row->finished_ms = sqlite3_column_int64(st, 6);
	row->result = column_text(st, 7);
	row->error_code = column_text(st, 8);
	row->error_message = column_text(st, 9);
	row->callback_url = column_text(st, 10);
	row->runner = (pid_t)sqlite3_column_int64(st, 11);
	row->cancel = sqlite3_column_int(st, 12) != 0;
	if (sqlite3_column_count(st) > 15) {
		snprintf(row->cb_state, sizeof row->cb_state, "%s",
			 (const char *)sqlite3_column_text(st, 13));
		row->cb_attempts = (unsigned)sqlite3_column_int(st, 14);
		row->cb_error = column_text(st, 15);
	}
}

int jobstore_get(struct jobstore *js, const char *id, struct job_row *row,
		 char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(js, "SELECT " ROW_COLUMNS " FROM jobs WHERE id = ?1");
	int rc;

	if (!st)
		return fail(js, "get", err, errlen);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_row(st, row);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return fail(js, "get", err, errlen);
}

void job_row_free(struct job_row *row)
{
	free(row->result);
	free(row->error_code);
	free(row->error_message);
	free(row->callback_url);
	free(row->cb_error);
	row->result = row->error_code = row->error_message = row->callback_url = NULL;
	row->cb_error = NULL;
}

/* Run sql with ?1 = seq (and ?2 = now); the rows it changed, or -1. */
static int change(struct jobstore *js, const char *sql, int64_t seq)
{
	sqlite3_stmt *st = prepare(js, sql);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, jobstore_now_ms());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(js->db) : -1;
}

int jobstore_cancel(struct jobstore *js, int64_t seq, char *err, size_t errlen)
{
	int n = change(js, "UPDATE jobs SET state = 'cancelled', finished_ms = ?2, body = NULL,"
		       " cb_state = CASE cb_state WHEN 'waiting' THEN 'pending' ELSE cb_state END,"
		       " cb_next_ms = ?2, error_code = 'cancelled', error_message = 'cancelled before it started'"
		       " WHERE seq = ?1 AND state = 'queued'", seq);
	if (n == 0)
		n = change(js, "UPDATE jobs SET cancel = 1 WHERE seq = ?1 AND state = 'running'",
			   seq);
	if (n < 0)
		return fail(js, "cancel", err, errlen);
	return n > 0 ? 0 : 1;
}

int jobstore_claim(struct jobstore *js, pid_t runner, int (*take)(void *arg),
		   void *arg, struct job_row *row, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	/* A look without the write lock first: most polls find nothing. */
	if ((st = prepare(js, "SELECT 1 FROM jobs WHERE state = 'queued' LIMIT 1"))) {
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc == SQLITE_DONE)
			return 1;
	}
	if (exec_sql(js, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	st = prepare(js, "SELECT seq, id, owner, state, created_ms, started_ms, finished_ms,"
		     " body, error_code, error_message, callback_url, runner, cancel"
		     " FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1");
	if (!st)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		sqlite3_exec(js->db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		goto fail;
	}
	read_row(st, row);
	sqlite3_finalize(st);
	if (take(arg) != 0) {
		job_row_free(row);
		sqlite3_exec(js->db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	if (!(st = prepare(js, "UPDATE jobs SET state = 'running', started_ms = ?2, runner = ?3"
			   " WHERE seq = ?1")))
		goto fail_taken;
	sqlite3_bind_int64(st, 1, row->seq);
	sqlite3_bind_int64(st, 2, row->started_ms = jobstore_now_ms());
	sqlite3_bind_int64(st, 3, runner);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail_taken;
	/* This commit is the promise never to run the job again: on disk
	   before the run starts (the runner's connection is durable). */
	if (exec_sql(js, "COMMIT", err, errlen) < 0) {
		job_row_free(row);
		sqlite3_exec(js->db, "ROLLBACK", NULL, NULL, NULL);
		return -2; /* the slot is the caller's to give back */
	}
	snprintf(row->state, sizeof row->state, "running");
	row->runner = runner;
	return 0;
fail_taken:
	fail(js, "claim", err, errlen);
	job_row_free(row);
	sqlite3_exec(js->db, "ROLLBACK", NULL, NULL, NULL);
	return -2;
fail:
	fail(js, "claim", err, errlen);
	sqlite3_exec(js->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

bool jobstore_cancel_requested(struct jobstore *js, int64_t seq)
{
	sqlite3_stmt *st = prepare(js, "SELECT cancel FROM jobs WHERE seq = ?1");
	bool yes = false;

	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) == SQLITE_ROW)
		yes = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return yes;
}

int jobstore_finish(struct jobstore *js, int64_t seq, const char *state,
		    const char *result, const char *error_code, const char *error_message,
		    char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(js,
		"UPDATE jobs SET state = ?2, finished_ms = ?3, result = ?4, error_code = ?5,"
		" error_message = ?6, body = NULL, runner = 0, bytes = bytes + ?7,"
		" cb_state = CASE cb_state WHEN 'waiting' THEN 'pending' ELSE cb_state END,"
		" cb_next_ms = ?3"
		" WHERE seq = ?1 AND state = 'running'");
	int rc;

	if (!st)
		return fail(js, "finish", err, errlen);
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, jobstore_now_ms());
	if (result)
		sqlite3_bind_text(st, 4, result, -1, SQLITE_STATIC);
	if (error_code)
		sqlite3_bind_text(st, 5, error_code, -1, SQLITE_STATIC);
	if (error_message)
		sqlite3_bind_text(st, 6, error_message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, result ? (int64_t)strlen(result) : 0);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(js, "finish", err, errlen);
}

int jobstore_add_event(struct jobstore *js, int64_t seq, int64_t n, const char *line,
		       size_t len)
{
	sqlite3_stmt *ins = NULL, *upd = NULL;
	int rc = -1;

	if (sqlite3_exec(js->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	ins = prepare(js, "INSERT INTO events (seq, n, line) VALUES (?1, ?2, ?3)");
	upd = prepare(js, "UPDATE jobs SET bytes = bytes + ?2 WHERE seq = ?1");
	if (ins && upd) {
		sqlite3_bind_int64(ins, 1, seq);
		sqlite3_bind_int64(ins, 2, n);
		sqlite3_bind_blob64(ins, 3, line, len, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 1, seq);
		sqlite3_bind_int64(upd, 2, (int64_t)len);
		if (sqlite3_step(ins) == SQLITE_DONE && sqlite3_step(upd) == SQLITE_DONE)
			rc = 0;
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	sqlite3_exec(js->db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int jobstore_events(struct jobstore *js, int64_t seq, int64_t from, int max,
		    int (*fn)(const char *line, size_t len, void *arg), void *arg)
{
	sqlite3_stmt *st = prepare(js, "SELECT line FROM events WHERE seq = ?1 AND n >= ?2"
				   " ORDER BY n LIMIT ?3");
	int n = 0, rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int(st, 3, max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), arg) < 0) {
			n = -1;
			break;
		}
		n++;
	}
	sqlite3_finalize(st);
	return n >= 0 && rc != SQLITE_DONE && rc != SQLITE_ROW ? -1 : n;
}

int jobstore_callback_take(struct jobstore *js, int64_t lease_ms, struct callback_due *d)
{
	int64_t now = jobstore_now_ms();
	sqlite3_stmt *st = prepare(js, "SELECT seq, id, cb_key, cb_attempts, cb_next_ms FROM jobs"
				   " WHERE cb_state = 'pending' AND cb_next_ms <= ?1"
				   " ORDER BY cb_next_ms LIMIT 1");
	int64_t next = 0;
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		d->seq = sqlite3_column_int64(st, 0);
		snprintf(d->id, sizeof d->id, "%s", (const char *)sqlite3_column_text(st, 1));
		memset(d->sealed, 0, sizeof d->sealed);
		if (sqlite3_column_bytes(st, 2) == JOB_SEALED_KEY)
			memcpy(d->sealed, sqlite3_column_blob(st, 2), JOB_SEALED_KEY);
		d->attempts = (unsigned)sqlite3_column_int(st, 3);
		next = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 1 : -1;
	/* The lease: whoever moves the due time first has the attempt. */
	if (!(st = prepare(js, "UPDATE jobs SET cb_next_ms = ?3 WHERE seq = ?1 AND"
			   " cb_state = 'pending' AND cb_next_ms = ?2")))
		return -1;
	sqlite3_bind_int64(st, 1, d->seq);
	sqlite3_bind_int64(st, 2, next);
	sqlite3_bind_int64(st, 3, now + lease_ms);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(js->db) == 1 ? 0 : 1;
}

int jobstore_callback_done(struct jobstore *js, int64_t seq, bool ok, int64_t retry_ms,
			   const char *why)
{
	sqlite3_stmt *st = prepare(js, "UPDATE jobs SET cb_attempts = cb_attempts + 1,"
				   " cb_state = ?2, cb_next_ms = ?3, cb_error = ?4 WHERE seq = ?1");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, ok ? "sent" : retry_ms ? "pending" : "failed", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, jobstore_now_ms() + retry_ms);
	if (why)
		sqlite3_bind_text(st, 4, why, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int jobstore_expire(struct jobstore *js, uint64_t ttl_s, uint64_t max_bytes)
{
	int64_t now = jobstore_now_ms(), total = 0;
	int changed = 0, n;
	sqlite3_stmt *st;
	static const char expire_one[] =
		"UPDATE jobs SET state = 'expired', expired_ms = ?2, result = NULL, body = NULL,"
		" bytes = 0 WHERE seq = ?1";

	if (!(st = prepare(js, "UPDATE jobs SET state = 'expired', expired_ms = ?1,"
			   " result = NULL, body = NULL, bytes = 0"
			   " WHERE state IN ('done', 'cancelled') AND finished_ms < ?2")))
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, now - (int64_t)ttl_s * 1000);
	n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(js->db) : -1;
	sqlite3_finalize(st);
	if (n < 0)
		return -1;
	changed += n;

	/* Past max_bytes: the oldest results go first. */
	if ((st = prepare(js, "SELECT coalesce(sum(bytes), 0) FROM jobs"))) {
		if (sqlite3_step(st) == SQLITE_ROW)
			total = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if ((uint64_t)total > max_bytes &&
	    (st = prepare(js, "SELECT seq, bytes FROM jobs WHERE state IN ('done', 'cancelled')"
			  " ORDER BY finished_ms, seq"))) {
		while ((uint64_t)total > max_bytes && sqlite3_step(st) == SQLITE_ROW) {
			int64_t seq = sqlite3_column_int64(st, 0);
			total -= sqlite3_column_int64(st, 1);
			if (change(js, expire_one, seq) > 0)
				changed++;
		}
		sqlite3_finalize(st);
	}

	if (!(st = prepare(js, "DELETE FROM jobs WHERE state = 'expired' AND expired_ms < ?1")))
		return -1;
	sqlite3_bind_int64(st, 1, now - (int64_t)(ttl_s < 60 ? 60 : ttl_s) * 1000);
	n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(js->db) : -1;
	sqlite3_finalize(st);
	return n < 0 ? -1 : changed + n;
}

int jobstore_stats(struct jobstore *js, struct job_stats *s)
{
	sqlite3_stmt *st = prepare(js,
		"SELECT state, count(*), min(created_ms), coalesce(sum(bytes), 0)"
		" FROM jobs GROUP BY state");

	memset(s, 0, sizeof *s);
	if (!st)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 0);
		uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
		s->bytes += (uint64_t)sqlite3_column_int64(st, 3);
		if (!strcmp(state, "queued")) {
			s->queued = n;
			s->oldest_queued_ms = sqlite3_column_int64(st, 2);
		} else if (!strcmp(state, "running")) {
			s->running = n;
		} else if (!strcmp(state, "expired")) {
			s->expired = n;
		} else {
			s->finished += n;
		}
	}
	sqlite3_finalize(st);
	return 0;
}
