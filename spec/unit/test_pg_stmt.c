/* test_pg_stmt.c — SQL text inspection and the prepared statement cache (host/pg_stmt.c),
 * without a server. */
#include <stdio.h>
#include <string.h>

#include "pg_stmt.h"
#include "test.h"

TEST(transaction_control_is_recognised)
{
    CHECK(pg_sql_controls_transaction("BEGIN"));
    CHECK(pg_sql_controls_transaction("  begin;"));
    CHECK(pg_sql_controls_transaction("start transaction isolation level serializable"));
    CHECK(pg_sql_controls_transaction("-- a comment\n\tBegin"));
    CHECK(pg_sql_controls_transaction("/* a /* nested */ comment */ BEGIN"));
    CHECK(pg_sql_controls_transaction(";;BEGIN"));
    CHECK(pg_sql_controls_transaction("COMMIT"));
    CHECK(pg_sql_controls_transaction("commit and chain"));
    CHECK(pg_sql_controls_transaction("END"));
    CHECK(pg_sql_controls_transaction("abort work"));
    CHECK(pg_sql_controls_transaction("ROLLBACK"));
    CHECK(pg_sql_controls_transaction("rollback /* to */ work"));
    CHECK(pg_sql_controls_transaction("PREPARE TRANSACTION 'x'"));
    CHECK(pg_sql_controls_transaction("prepare -- c\n transaction 'x'"));
    CHECK(!pg_sql_controls_transaction("ROLLBACK TO SAVEPOINT a"));
    CHECK(!pg_sql_controls_transaction("rollback /* c */ to a"));
    CHECK(!pg_sql_controls_transaction("PREPARE q AS SELECT 1"));
    CHECK(!pg_sql_controls_transaction("SAVEPOINT a"));
    CHECK(!pg_sql_controls_transaction("RELEASE SAVEPOINT a"));
    CHECK(!pg_sql_controls_transaction("SELECT 'BEGIN'"));
    CHECK(!pg_sql_controls_transaction("beginning"));
    CHECK(!pg_sql_controls_transaction("begin_at"));
    CHECK(!pg_sql_controls_transaction("endpoint"));
    CHECK(!pg_sql_controls_transaction("rollbacks"));
    CHECK(!pg_sql_controls_transaction("/* unterminated"));
    CHECK(!pg_sql_controls_transaction("-- only a comment"));
    CHECK(!pg_sql_controls_transaction(""));
}

TEST(session_sets_are_recognised)
{
    CHECK(pg_sql_sets_session("SET statement_timeout = 0"));
    CHECK(pg_sql_sets_session("set TimeZone to 'Asia/Kolkata'"));
    CHECK(pg_sql_sets_session("SET SESSION search_path = x"));
    CHECK(pg_sql_sets_session("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"));
    CHECK(pg_sql_sets_session("/* c */ SET ROLE admin"));
    CHECK(!pg_sql_sets_session("SET LOCAL statement_timeout = 50"));
    CHECK(!pg_sql_sets_session("set -- c\n local x = 1"));
    CHECK(!pg_sql_sets_session("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"));
    CHECK(!pg_sql_sets_session("SET CONSTRAINTS ALL DEFERRED"));
    CHECK(!pg_sql_sets_session("SELECT set_config('a.b', 'c', true)"));
    CHECK(!pg_sql_sets_session("settle"));
    CHECK(!pg_sql_sets_session("RESET statement_timeout"));
    CHECK(!pg_sql_sets_session("UPDATE t SET a = 1"));
}

TEST(plannable_statements)
{
    CHECK(pg_sql_plannable("SELECT 1"));
    CHECK(pg_sql_plannable(" /* c */ insert into t values (1)"));
    CHECK(pg_sql_plannable("WITH x AS (SELECT 1) SELECT * FROM x"));
    CHECK(pg_sql_plannable("update t set a = 1"));
    CHECK(pg_sql_plannable("DELETE FROM t"));
    CHECK(pg_sql_plannable("VALUES (1)"));
    CHECK(!pg_sql_plannable("BEGIN"));
    CHECK(!pg_sql_plannable("SAVEPOINT speezy_sp1"));
    CHECK(!pg_sql_plannable("SET LOCAL statement_timeout = 100"));
    CHECK(!pg_sql_plannable("CREATE TABLE t (a int)"));
    CHECK(!pg_sql_plannable("selected"));
}

TEST(cache_names_and_forgets)
{
    pg_stmt_cache_t c;
    pg_stmt_cache_init(&c, 100);
    pg_stmt_t *a = pg_stmt_get(&c, "SELECT 1");
    CHECK(a && a->state == PG_STMT_NEW && strcmp(a->sql, "SELECT 1") == 0);
    CHECK(pg_stmt_get(&c, "SELECT 1") == a);
    CHECK(pg_stmt_get(&c, "BEGIN") == NULL);
    unsigned id = a->id;
    a->state = PG_STMT_PENDING;
    pg_stmt_prepared(a, id);
    CHECK(a->state == PG_STMT_READY);
    char old[24];
    snprintf(old, sizeof(old), "%s", a->name);
    pg_stmt_forget(&c, a, id);
    CHECK(a->state == PG_STMT_NEW && a->id != id && strcmp(a->name, old) != 0);
    /* an outcome for the old name changes nothing any more */
    pg_stmt_prepared(a, id);
    pg_stmt_forget(&c, a, id);
    CHECK(a->state == PG_STMT_NEW);
    /* many entries: each found again after the table grew */
    char sql[64];
    int found = 0;
    for (int i = 0; i < 99; i++) {
        snprintf(sql, sizeof(sql), "SELECT %d", i + 2);
        CHECK(pg_stmt_get(&c, sql) != NULL);
    }
    for (int i = 0; i < 99; i++) {
        snprintf(sql, sizeof(sql), "SELECT %d", i + 2);
        pg_stmt_t *s = pg_stmt_get(&c, sql);
        found += s && strcmp(s->sql, sql) == 0;
    }
    CHECK(found == 99);
    CHECK(pg_stmt_get(&c, "SELECT 'one too many'") == NULL); /* full: runs unnamed */
    CHECK(pg_stmt_get(&c, "SELECT 1") == a);
    pg_stmt_cache_clear(&c);
    CHECK(c.n == 0 && c.max == 100);
    a = pg_stmt_get(&c, "SELECT 'after clear'");
    CHECK(a != NULL && a->state == PG_STMT_NEW);
    pg_stmt_cache_clear(&c);
}

int main(void)
{
    RUN(transaction_control_is_recognised);
    RUN(session_sets_are_recognised);
    RUN(plannable_statements);
    RUN(cache_names_and_forgets);
    return test_summary();
}
