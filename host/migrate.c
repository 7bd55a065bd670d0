/* migrate.c — applies migrations/NNNN_name.sql under an advisory lock and reports status.
 *
 * A run: read and checksum every file, connect, take the lock, read schema_migrations, refuse
 * if an applied file changed, then apply each pending file in its own transaction. Reading
 * the table only after the lock is what makes two concurrent runs apply each file once. */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "crypto.h"

/* The bytes of "speezy" as a number: any fixed key works, it only has to be ours. */
#define MIGRATE_LOCK_KEY "126926574680697"
#define MIGRATE_CONNECT_TIMEOUT "10"
/* DDL waiting behind a long transaction blocks every query queued after it: give up instead. */
#define MIGRATE_LOCK_TIMEOUT "60s"
/* The one naming rule, NNNN_name.sql: at least four digits, so that a directory listing shows
 * the files in the order they apply; at most 18, so that the version fits an int64. */
#define MIGRATE_MIN_VERSION_DIGITS 4
#define MIGRATE_MAX_VERSION_DIGITS 18

typedef struct {
    int64_t version;
    char *name; /* the file name, e.g. "0001_extensions_and_types.sql" */
    char *sql;
    char checksum[CRYPTO_SHA256_HEX_SIZE];
} migrate_file_t;

typedef struct {
    int64_t version;
    char *name;
    char *checksum;
    char *applied_at;
} migrate_row_t;

typedef struct {
    const char *dir;
    FILE *out;
    char *err;
    size_t errlen;
    PGconn *conn;
    migrate_file_t *files;
    size_t nfiles;
    migrate_row_t *rows;
    size_t nrows;
} migrate_ctx_t;

static int migrate_fail(migrate_ctx_t *m, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int migrate_fail(migrate_ctx_t *m, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, m->errlen, fmt, ap);
    va_end(ap);
    /* libpq's messages end with a newline; the caller prints err as one line. */
    size_t n = strlen(m->err);
    while (n > 0 && m->err[n - 1] == '\n')
        m->err[--n] = '\0';
    return code;
}

static void migrate_free(migrate_ctx_t *m)
{
    for (size_t i = 0; i < m->nfiles; i++) {
        free(m->files[i].name);
        free(m->files[i].sql);
    }
    for (size_t i = 0; i < m->nrows; i++) {
        free(m->rows[i].name);
        free(m->rows[i].checksum);
        free(m->rows[i].applied_at);
    }
    free(m->files);
    free(m->rows);
    if (m->conn)
        PQfinish(m->conn);
}

/* --- files ------------------------------------------------------------------------------- */

static int migrate_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* "NNNN_name.sql" -> version; -1 when the name has another shape. */
static int64_t migrate_parse_version(const char *name)
{
    size_t digits = 0;
    while (isdigit((unsigned char)name[digits]))
        digits++;
    if (digits < MIGRATE_MIN_VERSION_DIGITS || digits > MIGRATE_MAX_VERSION_DIGITS ||
        name[digits] != '_')
        return -1;
    if (strlen(name + digits) <= strlen("_.sql"))
        return -1;
    return strtoll(name, NULL, 10);
}

static int migrate_read_file(migrate_ctx_t *m, const char *name, char **sql, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", m->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return migrate_fail(m, MIGRATE_EFILES, "cannot read %s: %s", path, strerror(errno));
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, 2 * cap + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int failed = !buf || ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return migrate_fail(m, MIGRATE_EFILES, "cannot read %s", path);
    }
    buf[n] = '\0';
    *sql = buf;
    *len = n;
    return MIGRATE_OK;
}

static int migrate_add_file(migrate_ctx_t *m, const char *name, int64_t version)
{
    migrate_file_t *grown = realloc(m->files, (m->nfiles + 1) * sizeof *grown);
    if (!grown)
        return migrate_fail(m, MIGRATE_EFILES, "out of memory");
    m->files = grown;
    migrate_file_t *f = &m->files[m->nfiles];
    memset(f, 0, sizeof *f);
    size_t len = 0;
    int rc = migrate_read_file(m, name, &f->sql, &len);
    if (rc != MIGRATE_OK)
        return rc;
    m->nfiles++;
    f->version = version;
    f->name = strdup(name);
    if (!f->name)
        return migrate_fail(m, MIGRATE_EFILES, "out of memory");
    /* libpq takes the SQL as a C string: a NUL inside would silently cut the migration. */
    if (memchr(f->sql, '\0', len))
        return migrate_fail(m, MIGRATE_EFILES, "%s/%s contains a NUL byte", m->dir, name);
    if (crypto_sha256_hex(f->sql, len, f->checksum) != CRYPTO_OK)
        return migrate_fail(m, MIGRATE_EFILES, "cannot checksum %s/%s", m->dir, name);
    return MIGRATE_OK;
}

static int migrate_file_cmp(const void *a, const void *b)
{
    const migrate_file_t *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static int migrate_check_unique(migrate_ctx_t *m)
{
    for (size_t i = 1; i < m->nfiles; i++) {
        if (m->files[i].version == m->files[i - 1].version)
            return migrate_fail(m, MIGRATE_EFILES, "%s and %s share version %" PRId64,
                                m->files[i - 1].name, m->files[i].name, m->files[i].version);
    }
    return MIGRATE_OK;
}

/* Every *.sql of dir must be NNNN_name.sql: a misnamed file would otherwise never run, or run
 * in an order its listing hides. Dot files and other suffixes (notes, *.sql.orig) are not
 * migrations and are left alone. */
static int migrate_scan(migrate_ctx_t *m)
{
    DIR *d = opendir(m->dir);
    if (!d)
        return migrate_fail(m, MIGRATE_EFILES, "cannot open migrations directory %s: %s", m->dir,
                            strerror(errno));
    int rc = MIGRATE_OK;
    struct dirent *e;
    while (rc == MIGRATE_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !migrate_ends_with(e->d_name, ".sql"))
            continue;
        int64_t version = migrate_parse_version(e->d_name);
        if (version < 0)
            rc = migrate_fail(m, MIGRATE_EFILES,
                              "%s/%s: migration files are named NNNN_name.sql (4 to 18 digits, "
                              "an underscore, a name), e.g. 0007_add_ratings.sql",
                              m->dir, e->d_name);
        else
            rc = migrate_add_file(m, e->d_name, version);
    }
    closedir(d);
    if (rc != MIGRATE_OK)
        return rc;
    qsort(m->files, m->nfiles, sizeof *m->files, migrate_file_cmp);
    return migrate_check_unique(m);
}

/* --- database ---------------------------------------------------------------------------- */

static int migrate_result_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

/* Runs sql (no parameters) and checks it returned ok; err names what was being done. */
static int migrate_exec(migrate_ctx_t *m, const char *sql, const char *doing)
{
    PGresult *r = PQexec(m->conn, sql);
    int rc = MIGRATE_OK;
    if (!migrate_result_ok(r)) {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        rc = migrate_fail(m, PQstatus(m->conn) == CONNECTION_OK ? MIGRATE_ESQL : MIGRATE_ECONNECT,
                          "%s: %s", doing, msg ? msg : PQerrorMessage(m->conn));
    }
    PQclear(r);
    return rc;
}

/* Runs sql with one text parameter (or none when param is NULL) and copies the single value it
 * returns into buf; err names what was being done. */
static int migrate_value(migrate_ctx_t *m, const char *sql, const char *param, char *buf,
                         size_t len, const char *doing)
{
    PGresult *r = PQexecParams(m->conn, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
    int rc = MIGRATE_OK;
    if (ok)
        snprintf(buf, len, "%s", PQgetvalue(r, 0, 0));
    else
        rc = migrate_fail(m, PQstatus(m->conn) == CONNECTION_OK ? MIGRATE_ESQL : MIGRATE_ECONNECT,
                          "%s: %s", doing, PQerrorMessage(m->conn));
    PQclear(r);
    return rc;
}

static void migrate_notice(void *arg, const char *message)
{
    fprintf((FILE *)arg, "  %s", message);
}

static int migrate_connect(migrate_ctx_t *m, const char *url)
{
    if (!url || !*url)
        return migrate_fail(m, MIGRATE_ECONNECT, "DATABASE_URL is not set");
    /* Later keywords win: the URL may override the timeout, never the dbname expansion. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {MIGRATE_CONNECT_TIMEOUT, "speezy-migrate", url, NULL};
    m->conn = PQconnectdbParams(keys, vals, 1);
    if (!m->conn)
        return migrate_fail(m, MIGRATE_ECONNECT, "out of memory");
    if (PQstatus(m->conn) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(m->conn);
        int n = (int)strcspn(msg, "\n");
        return migrate_fail(m, MIGRATE_ECONNECT, "cannot connect to the database: %.*s", n, msg);
    }
    PQsetNoticeProcessor(m->conn, migrate_notice, m->out);
    /* Keep warnings (a migration's own RAISE WARNING), drop "already exists, skipping". */
    return migrate_exec(m, "SET client_min_messages = warning", "configuring the session");
}

static int migrate_lock(migrate_ctx_t *m)
{
    PGresult *r = PQexec(m->conn, "SELECT pg_try_advisory_lock(" MIGRATE_LOCK_KEY ")");
    int got = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!got) {
        fprintf(m->out, "waiting for another migrate to finish (advisory lock %s)\n",
                MIGRATE_LOCK_KEY);
        fflush(m->out);
        int rc = migrate_exec(m, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "locking");
        if (rc != MIGRATE_OK)
            return rc;
    }
    return migrate_exec(m, "SET lock_timeout = '" MIGRATE_LOCK_TIMEOUT "'", "setting lock_timeout");
}

static int migrate_ensure_table(migrate_ctx_t *m)
{
    return migrate_exec(m,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version bigint PRIMARY KEY,"
                        " name text NOT NULL,"
                        " checksum text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())",
                        "creating schema_migrations");
}

static char *migrate_dup(const char *s, int *oom)
{
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static int migrate_load_rows(migrate_ctx_t *m)
{
    PGresult *r =
        PQexec(m->conn, "SELECT version, name, checksum,"
                        " to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                        " FROM schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = migrate_fail(m, MIGRATE_ESQL, "reading schema_migrations: %s",
                              PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
        PQclear(r);
        return rc;
    }
    int n = PQntuples(r), oom = 0;
    m->rows = calloc((size_t)n + 1, sizeof *m->rows);
    oom = m->rows == NULL;
    for (int i = 0; !oom && i < n; i++) {
        migrate_row_t *row = &m->rows[m->nrows++];
        row->version = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        row->name = migrate_dup(PQgetvalue(r, i, 1), &oom);
        row->checksum = migrate_dup(PQgetvalue(r, i, 2), &oom);
        row->applied_at = migrate_dup(PQgetvalue(r, i, 3), &oom);
    }
    PQclear(r);
    return oom ? migrate_fail(m, MIGRATE_ESQL, "out of memory") : MIGRATE_OK;
}

/* Status must not create the table, so it asks first. */
static int migrate_table_exists(migrate_ctx_t *m, int *exists)
{
    PGresult *r = PQexec(m->conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (ok)
        *exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return ok ? MIGRATE_OK : migrate_fail(m, MIGRATE_ECONNECT, "%s", PQerrorMessage(m->conn));
}

/* --- comparing files with rows ----------------------------------------------------------- */

static const migrate_row_t *migrate_row_of(const migrate_ctx_t *m, int64_t version)
{
    for (size_t i = 0; i < m->nrows; i++) {
        if (m->rows[i].version == version)
            return &m->rows[i];
    }
    return NULL;
}

static const migrate_file_t *migrate_file_of(const migrate_ctx_t *m, int64_t version)
{
    for (size_t i = 0; i < m->nfiles; i++) {
        if (m->files[i].version == version)
            return &m->files[i];
    }
    return NULL;
}

static int migrate_changed(const migrate_file_t *f, const migrate_row_t *row)
{
    return row && strcmp(f->checksum, row->checksum) != 0;
}

/* Refuses the whole run when an applied file was edited: its edit would never be applied, and
 * the database would silently differ from what the file says. */
static int migrate_verify(migrate_ctx_t *m)
{
    for (size_t i = 0; i < m->nfiles; i++) {
        const migrate_file_t *f = &m->files[i];
        const migrate_row_t *row = migrate_row_of(m, f->version);
        if (migrate_changed(f, row))
            return migrate_fail(m, MIGRATE_ECHANGED,
                                "%s/%s was edited after it was applied (on %s): checksum %.12s... "
                                "differs from the applied %.12s...; restore the file and put the "
                                "change in a new migration",
                                m->dir, f->name, row->applied_at, f->checksum, row->checksum);
    }
    for (size_t i = 0; i < m->nrows; i++) {
        if (!migrate_file_of(m, m->rows[i].version))
            fprintf(m->out, "warning: %s is recorded as applied (on %s) but missing from %s/\n",
                    m->rows[i].name, m->rows[i].applied_at, m->dir);
    }
    return MIGRATE_OK;
}

/* --- applying ---------------------------------------------------------------------------- */

/* PostgreSQL reports an error position in characters from 1: turn it into a line number. */
static int migrate_line_of(const char *sql, const char *position)
{
    long chars = position ? strtol(position, NULL, 10) : 0;
    int line = 1;
    for (const unsigned char *p = (const unsigned char *)sql; *p && chars > 1; p++) {
        if ((*p & 0xC0) != 0x80)
            chars--;
        if (*p == '\n')
            line++;
    }
    return line;
}

/* "dir/file" and, when r failed, ":line: message (SQLSTATE x)". Called before anything else runs
 * on the connection, which would replace its error message. */
static void migrate_describe(const migrate_ctx_t *m, const migrate_file_t *f, const PGresult *r,
                             char *buf, size_t len)
{
    if (migrate_result_ok(r)) {
        snprintf(buf, len, "%s/%s", m->dir, f->name);
        return;
    }
    const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    char where[32] = "";
    if (pos)
        snprintf(where, sizeof where, ":%d", migrate_line_of(f->sql, pos));
    snprintf(buf, len, "%s/%s%s: %s (SQLSTATE %s)", m->dir, f->name, where,
             msg ? msg : PQerrorMessage(m->conn), state ? state : "?");
}

static int migrate_rolled_back(migrate_ctx_t *m, const char *what)
{
    return migrate_fail(m, PQstatus(m->conn) == CONNECTION_OK ? MIGRATE_ESQL : MIGRATE_ECONNECT,
                        "%s; rolled back, nothing of it was applied", what);
}

/* Bookkeeping failed inside the migration's own transaction: undo the file with it. */
static int migrate_apply_failed(migrate_ctx_t *m, const migrate_file_t *f, PGresult *r)
{
    char what[512];
    migrate_describe(m, f, r, what, sizeof what);
    int rc = migrate_rolled_back(m, what);
    PQclear(PQexec(m->conn, "ROLLBACK"));
    return rc;
}

/* Opens the migration's transaction and notes its id (assigned now; the file's first write
 * would assign it anyway): only the id tells later whether the file ended it. */
static int migrate_begin(migrate_ctx_t *m, const migrate_file_t *f, char *xid, size_t len)
{
    int rc = migrate_exec(m, "BEGIN", "starting a transaction");
    if (rc == MIGRATE_OK)
        rc = migrate_value(m, "SELECT pg_current_xact_id()", NULL, xid, len, f->name);
    return rc;
}

/* Whether the file's SQL left the migration's transaction (xid) open and never committed. The
 * server knows; a scan of the SQL would guess, as COMMIT, ROLLBACK and END also appear in
 * comments, strings and function bodies. Idle: the file ended it. In a transaction: ours, or
 * one the file began after ending ours (ROLLBACK; BEGIN; ...). Aborted: it answers no query,
 * so it is rolled back first; ours then being committed means the file committed it before
 * beginning the one that failed (BEGIN; ... COMMIT; BEGIN; ... error). */
static int migrate_still_ours(migrate_ctx_t *m, const migrate_file_t *f, const char *xid, int *ours)
{
    char answer[16] = "";
    int rc = MIGRATE_OK;
    switch (PQtransactionStatus(m->conn)) {
    case PQTRANS_INTRANS:
        rc = migrate_value(m, "SELECT pg_current_xact_id() = $1::xid8", xid, answer, sizeof answer,
                           f->name);
        *ours = strcmp(answer, "t") == 0;
        break;
    case PQTRANS_INERROR:
        PQclear(PQexec(m->conn, "ROLLBACK"));
        rc = migrate_value(m, "SELECT pg_xact_status($1::xid8)", xid, answer, sizeof answer,
                           f->name);
        *ours = strcmp(answer, "committed") != 0;
        break;
    default: /* idle: the file ended ours; nothing is open to record into */
        *ours = 0;
        break;
    }
    return rc;
}

/* The file committed or rolled back the migration's transaction itself: what it did before
 * (and after, in the implicit transactions of a multi-statement query) may be committed, which
 * no rollback from here can undo; recording it would claim all of it applied. */
static int migrate_ended(migrate_ctx_t *m, const char *what, int failed)
{
    return migrate_fail(m, MIGRATE_ETRANSACTION,
                        "%s%s ends the migration's transaction itself (COMMIT or ROLLBACK inside "
                        "the file), so some of it may already be committed; it is not recorded "
                        "as applied: remove the transaction control from the file (each file "
                        "already runs in its own transaction), check what of it the database "
                        "already has, then run migrate again",
                        what, failed ? "; the file" : "");
}

/* MIGRATE_OK when the file ran in the migration's own transaction, which is still open and
 * takes its schema_migrations row next; otherwise whatever is still open is rolled back. */
static int migrate_settle(migrate_ctx_t *m, const migrate_file_t *f, const char *xid,
                          const PGresult *r)
{
    char what[512];
    migrate_describe(m, f, r, what, sizeof what);
    int failed = !migrate_result_ok(r);
    if (PQstatus(m->conn) != CONNECTION_OK)
        return migrate_fail(m, MIGRATE_ECONNECT,
                            "%s; the connection was lost, so it is not recorded as applied", what);
    int ours = 0;
    int rc = migrate_still_ours(m, f, xid, &ours);
    if (rc == MIGRATE_OK && ours && !failed)
        return MIGRATE_OK;
    if (rc == MIGRATE_OK)
        rc = ours ? migrate_rolled_back(m, what) : migrate_ended(m, what, failed);
    if (PQtransactionStatus(m->conn) != PQTRANS_IDLE)
        PQclear(PQexec(m->conn, "ROLLBACK"));
    return rc;
}

static int migrate_record(migrate_ctx_t *m, const migrate_file_t *f)
{
    char version[24];
    snprintf(version, sizeof version, "%" PRId64, f->version);
    const char *params[] = {version, f->name, f->checksum};
    PGresult *r = PQexecParams(m->conn,
                               "INSERT INTO schema_migrations (version, name, checksum)"
                               " VALUES ($1, $2, $3)",
                               3, NULL, params, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? MIGRATE_OK : migrate_apply_failed(m, f, r);
    PQclear(r);
    return rc;
}

static double migrate_ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The file and its schema_migrations row commit together or not at all. */
static int migrate_apply(migrate_ctx_t *m, const migrate_file_t *f)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char xid[32];
    int rc = migrate_begin(m, f, xid, sizeof xid);
    if (rc != MIGRATE_OK)
        return rc;
    PGresult *r = PQexec(m->conn, f->sql);
    rc = migrate_settle(m, f, xid, r);
    PQclear(r);
    if (rc != MIGRATE_OK)
        return rc;
    rc = migrate_record(m, f);
    if (rc == MIGRATE_OK)
        rc = migrate_exec(m, "COMMIT", f->name);
    if (rc == MIGRATE_OK)
        fprintf(m->out, "applied %s (%.0f ms)\n", f->name, migrate_ms_since(&t0));
    fflush(m->out);
    return rc;
}

static int migrate_apply_pending(migrate_ctx_t *m)
{
    size_t applied = 0;
    int64_t last = m->nrows ? m->rows[m->nrows - 1].version : -1;
    for (size_t i = 0; i < m->nfiles; i++) {
        const migrate_file_t *f = &m->files[i];
        if (migrate_row_of(m, f->version))
            continue;
        if (f->version < last)
            fprintf(m->out,
                    "warning: %s is older than the last applied version %" PRId64
                    "; applying it out of order\n",
                    f->name, last);
        int rc = migrate_apply(m, f);
        if (rc != MIGRATE_OK)
            return rc;
        applied++;
    }
    if (applied)
        fprintf(m->out, "%zu migration%s applied\n", applied, applied == 1 ? "" : "s");
    else
        fprintf(m->out, "nothing to apply: the database is up to date (%zu applied)\n", m->nrows);
    return MIGRATE_OK;
}

int migrate_run(const char *database_url, const char *dir, FILE *out, char *err, size_t errlen)
{
    migrate_ctx_t m = {.dir = dir, .out = out, .err = err, .errlen = errlen};
    err[0] = '\0';
    int rc = migrate_scan(&m);
    if (rc == MIGRATE_OK)
        rc = migrate_connect(&m, database_url);
    if (rc == MIGRATE_OK)
        rc = migrate_lock(&m);
    if (rc == MIGRATE_OK)
        rc = migrate_ensure_table(&m);
    if (rc == MIGRATE_OK)
        rc = migrate_load_rows(&m);
    if (rc == MIGRATE_OK)
        rc = migrate_verify(&m);
    if (rc == MIGRATE_OK)
        rc = migrate_apply_pending(&m);
    /* The advisory lock is session-level: closing the connection releases it. */
    migrate_free(&m);
    return rc;
}

/* --- status ------------------------------------------------------------------------------ */

static void migrate_print_file(const migrate_ctx_t *m, const migrate_file_t *f, int *changed,
                               size_t *pending)
{
    const migrate_row_t *row = migrate_row_of(m, f->version);
    if (!row) {
        fprintf(m->out, "pending  %-20s  %s\n", "-", f->name);
        (*pending)++;
    } else if (migrate_changed(f, row)) {
        fprintf(m->out, "CHANGED  %-20s  %s (edited after it was applied)\n", row->applied_at,
                f->name);
        *changed = 1;
    } else {
        fprintf(m->out, "applied  %-20s  %s\n", row->applied_at, f->name);
    }
}

static int migrate_print_status(migrate_ctx_t *m)
{
    int changed = 0;
    size_t pending = 0, fi = 0, ri = 0;
    /* Merge the sorted files and rows so missing files appear at their version. */
    while (fi < m->nfiles || ri < m->nrows) {
        if (ri < m->nrows && (fi == m->nfiles || m->rows[ri].version < m->files[fi].version)) {
            if (!migrate_file_of(m, m->rows[ri].version))
                fprintf(m->out, "missing  %-20s  %s (applied, file not found in %s/)\n",
                        m->rows[ri].applied_at, m->rows[ri].name, m->dir);
            ri++;
            continue;
        }
        if (ri < m->nrows && m->rows[ri].version == m->files[fi].version)
            ri++;
        migrate_print_file(m, &m->files[fi++], &changed, &pending);
    }
    fprintf(m->out, "%zu applied, %zu pending\n", m->nrows, pending);
    if (changed)
        return migrate_fail(
            m, MIGRATE_ECHANGED,
            "an applied migration was edited (CHANGED above): restore it and put the "
            "change in a new migration");
    return MIGRATE_OK;
}

int migrate_status(const char *database_url, const char *dir, FILE *out, char *err, size_t errlen)
{
    migrate_ctx_t m = {.dir = dir, .out = out, .err = err, .errlen = errlen};
    err[0] = '\0';
    int exists = 0;
    int rc = migrate_scan(&m);
    if (rc == MIGRATE_OK)
        rc = migrate_connect(&m, database_url);
    if (rc == MIGRATE_OK)
        rc = migrate_table_exists(&m, &exists);
    if (rc == MIGRATE_OK && exists)
        rc = migrate_load_rows(&m);
    if (rc == MIGRATE_OK)
        rc = migrate_print_status(&m);
    migrate_free(&m);
    return rc;
}
