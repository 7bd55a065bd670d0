/* migrate.h — schema migrations: the files DIR/NNNN_name.sql, applied in version order, once.
 *
 * Each file of DIR ending in .sql must be named NNNN_name.sql: 4 to 18 digits (the version),
 * an underscore and a name; any other is refused (EFILES) before anything connects. Dot files
 * and files not ending in .sql are ignored.
 *
 * For the CLI only (`speezy migrate`, `speezy migrate status`): it uses blocking libpq, which
 * would stall a worker's loop. Both functions connect to database_url (a libpq URI or
 * conninfo), write progress and warnings as plain lines to out, and on failure return a
 * negative MIGRATE_E* code with a one-line message in err naming the file concerned. main.c
 * maps 0 to exit code 0 and anything else to 1:
 *
 *   char err[1024];
 *   if (migrate_run(cfg.database_url, dir, stdout, err, sizeof err) != MIGRATE_OK) {
 *       fprintf(stderr, "speezy migrate: %s\n", err);
 *       return 1;
 *   }
 *
 * dir comes from env MIGRATIONS_DIR, default "migrations".
 *
 * migrate_run holds a PostgreSQL advisory lock (per database, fixed key) for its whole run,
 * so concurrent instances apply each file exactly once: the second waits, then finds nothing
 * pending. It records every file in schema_migrations (version, name, checksum = SHA-256 hex
 * of the file's bytes, applied_at), and applies each pending file in its own transaction
 * together with its schema_migrations row. Before applying anything it refuses (ECHANGED) when
 * an applied file's checksum changed; a file recorded as applied but missing on disk only
 * warns. Migration files must not contain transaction control (BEGIN, COMMIT, ROLLBACK, END;
 * savepoints are fine) nor statements that refuse to run in a transaction block (CREATE INDEX
 * CONCURRENTLY). A file that ends the migration's transaction itself is caught after it ran,
 * by asking the server (transaction status, id and fate) rather than by scanning the SQL: it
 * is never recorded, whatever of it is still open is rolled back, and the run stops there with
 * ETRANSACTION, saying that some of it may already be committed.
 *
 * migrate_status lists every version as applied, pending, missing (applied, no file) or
 * changed, then a summary line; it changes nothing, takes no lock, and returns ECHANGED when
 * an applied file changed (after listing). */
#ifndef SPEEZY_MIGRATE_H
#define SPEEZY_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

enum {
    MIGRATE_OK = 0,
    MIGRATE_ECONNECT = -1,    /* no DATABASE_URL, cannot connect, or the connection broke */
    MIGRATE_EFILES = -2,      /* unreadable dir or file, bad file name, duplicate version */
    MIGRATE_ECHANGED = -3,    /* an applied file was edited afterwards: nothing was applied */
    MIGRATE_ESQL = -4,        /* a migration failed and was rolled back (or bookkeeping failed) */
    MIGRATE_ETRANSACTION = -5 /* a migration ended its own transaction: not recorded, some of it
                                 may be committed */
};

int migrate_run(const char *database_url, const char *dir, FILE *out, char *err, size_t errlen);
int migrate_status(const char *database_url, const char *dir, FILE *out, char *err, size_t errlen);

#endif
