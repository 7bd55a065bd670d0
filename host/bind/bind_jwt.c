/* bind_jwt.c — speezy.jwt.core: the C half of speezy.jwt (host/lib/speezy/jwt.lua fills in the
 * default claims and encodes them; this signs and verifies over host/jwt.c).
 *
 * The keys come from the worker's config (JWT_SECRET, JWT_SECRET_PREVIOUS, JWT_ISSUER,
 * JWT_AUDIENCE), read once when a generation first requires the module; no script argument
 * ever picks or supplies a key. A token that fails is `nil, err` with err.code UNAUTHORIZED
 * and err.reason the stable word of jwt_reason(); the message never quotes the token. */
#include <string.h>
#include <time.h>

#include "../config.h"
#include "../jwt.h"
#include "bind.h"

/* The keys, an upvalue of every function here (a userdata: its HMAC contexts are freed with
 * the VM, by __gc). */
static const jwt_keys_t *bind_jwt_keys(lua_State *L, const char *fname)
{
    const jwt_keys_t *keys = lua_touserdata(L, lua_upvalueindex(1));
    if (!keys->current.secret)
        bind_misuse(L, "%s: JWT_SECRET is not set", fname);
    return keys;
}

/* core.sign(payload_json) -> token. Claims we would refuse to verify for their form are a
 * programming error of the caller. */
static int bind_jwt_sign(lua_State *L)
{
    const jwt_keys_t *keys = bind_jwt_keys(L, "jwt.sign");
    size_t len, n;
    const char *payload = luaL_checklstring(L, 1, &len);
    char token[JWT_MAX_LEN + 1];
    int rc = jwt_sign(keys, payload, len, token, sizeof token, &n);
    if (rc == JWT_ECRYPTO)
        return bind_fail(L, "INTERNAL", "jwt.sign: %s", jwt_message(rc));
    if (rc != JWT_OK)
        return bind_misuse(L, "jwt.sign: %s (%s)", jwt_message(rc), jwt_reason(rc));
    lua_pushlstring(L, token, n);
    return 1;
}

static int bind_jwt_refuse(lua_State *L, int rc)
{
    bind_fail(L, rc == JWT_ECRYPTO ? "INTERNAL" : "UNAUTHORIZED", "%s", jwt_message(rc));
    lua_pushstring(L, jwt_reason(rc));
    lua_setfield(L, -2, "reason");
    return 2;
}

/* The claims table from the members verify read: what speezy.json.decode makes of the payload
 * (the same reader, and the values built by the decoder's code), without reading it again.
 * No name is given twice in a verified payload, so the table has exactly these members. */
static int bind_jwt_claims(lua_State *L, const json_read_members_t *claims)
{
    lua_createtable(L, 0, claims->count);
    for (int i = 0; i < claims->count; i++) {
        const json_read_member_t *m = &claims->member[i];
        lua_pushlstring(L, m->name, m->name_len);
        if (bind_json_push_value(L, &m->value) != JSON_READ_OK)
            return bind_jwt_refuse(L, JWT_ECRYPTO);
        lua_rawset(L, -3);
    }
    return 1;
}

/* core.verify(token) -> claims | nil, err. Anything but a string is no token. */
static int bind_jwt_verify(lua_State *L)
{
    const jwt_keys_t *keys = bind_jwt_keys(L, "jwt.verify");
    if (lua_type(L, 1) != LUA_TSTRING)
        return bind_jwt_refuse(L, JWT_EMALFORMED);
    size_t len;
    const char *token = lua_tolstring(L, 1, &len);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    jwt_verified_t v;
    int rc = jwt_verify(keys, token, len, (double)ts.tv_sec + ts.tv_nsec / 1e9, &v);
    if (rc != JWT_OK)
        return bind_jwt_refuse(L, rc);
    return bind_jwt_claims(L, &v.claims);
}

/* core.defaults() -> issuer, audience: the iss and aud jwt.sign fills in. */
static int bind_jwt_defaults(lua_State *L)
{
    const jwt_keys_t *keys = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushstring(L, keys->issuer);
    lua_pushstring(L, keys->audience);
    return 2;
}

static int bind_jwt_keys_gc(lua_State *L)
{
    jwt_keys_free(lua_touserdata(L, 1));
    return 0;
}

int luaopen_speezy_jwt_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"sign", bind_jwt_sign},
        {"verify", bind_jwt_verify},
        {"defaults", bind_jwt_defaults},
        {NULL, NULL},
    };
    const config_t *cfg = bind_host(L)->cfg;
    jwt_keys_t *keys = lua_newuserdata(L, sizeof *keys);
    memset(keys, 0, sizeof *keys);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, bind_jwt_keys_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    /* Without JWT_SECRET the keys stay empty and sign and verify raise when called: a
     * development setup without tokens still loads its scripts. */
    if (jwt_keys_init(keys, cfg->jwt_secret, cfg->jwt_secret_previous, cfg->jwt_issuer,
                      cfg->jwt_audience) == JWT_ECRYPTO)
        return luaL_error(L, "speezy.jwt: cannot derive the key ids");
    lua_createtable(L, 0, 3);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    return 1;
}
