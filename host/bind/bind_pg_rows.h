/* bind_pg_rows.h — PostgreSQL results (text format) as Lua values; see bind_pg_rows.c. */
#ifndef SPEEZY_BIND_PG_ROWS_H
#define SPEEZY_BIND_PG_ROWS_H

#include <libpq-fe.h>
#include <lua.h>

/* Pushes one column value: s is PostgreSQL's text form of type oid, len bytes followed by a
 * NUL (as PQgetvalue returns it). json/jsonb go through the function decode_ref refers to in
 * the registry (LUA_NOREF keeps their text). Raises on a malformed array. */
void bind_pg_push_value(lua_State *L, int decode_ref, Oid oid, const char *s, size_t len);

/* Pushes rows (an array of tables keyed by column name; SQL NULL is the null sentinel) and
 * the affected row count; returns 2. */
int bind_pg_push_rows(lua_State *L, int decode_ref, const PGresult *res);

#endif
