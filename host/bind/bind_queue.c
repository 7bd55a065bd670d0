/* bind_queue.c — speezy.queue.core: what speezy/queue.lua needs from the queue's C core.
 *
 *   prefix                      the Redis key prefix of every queue ("sq:")
 *   script(name) -> text        a queue script (common.lua + its own), as the consumer runs it
 *   cron_check(expr) -> true | false, message
 */
#include <time.h>

#include "bind.h"
#include "cron.h"
#include "queue.h"

static int qb_script(lua_State *L)
{
    queue_script_t s;
    size_t len;
    const char *text;
    if (queue_script_by_name(luaL_checkstring(L, 1), &s) < 0 ||
        !(text = queue_script_text(s, &len)))
        return luaL_error(L, "speezy.queue.core.script: no queue script %s", lua_tostring(L, 1));
    lua_pushlstring(L, text, len);
    return 1;
}

/* Syntax, and that the expression fires at all ("0 0 30 2 *" never does). */
static int qb_cron_check(lua_State *L)
{
    cron_expr_t e;
    char err[256];
    if (cron_parse(luaL_checkstring(L, 1), &e, err, sizeof(err)) < 0) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, err);
        return 2;
    }
    if (cron_next(&e, (int64_t)time(NULL) * 1000) < 0) {
        lua_pushboolean(L, 0);
        lua_pushfstring(L, "cron: %s never fires", lua_tostring(L, 1));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_speezy_queue_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"script", qb_script}, {"cron_check", qb_cron_check}, {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_pushliteral(L, QUEUE_PREFIX);
    lua_setfield(L, -2, "prefix");
    return 1;
}
