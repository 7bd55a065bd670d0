/* bind_otp.c — speezy.otp.core: the Lua side of otp.c, wrapped by speezy/otp.lua.
 *
 *   normalize(phone) -> e164 | nil, err
 *   issue(phone, ip, ttl_ms, attempts, max1, window1_ms, ... max4, window4_ms) -> op | nil, err
 *       (the four limits in otp_limit_id_t order: cooldown, per_phone_ip, per_phone, per_ip)
 *   verify(phone, code) -> op | nil, err
 *   wait(op)                yields until Redis answered
 *   result(op) -> phone, code (issue) | true (verify) | nil, err
 *   seal(code) -> text       the code for the delivery job: AES-256-GCM, base64url
 *   unseal(text) -> code | nil, err (OTP_SEALED_INVALID: tampered, or another OTP_SECRET)
 * Errors: VALIDATION_FAILED (err.field "phone" or "code"), RATE_LIMITED (err.limit,
 * err.retry_after in whole seconds rounded up, err.retry_after_ms), OTP_INVALID,
 * OTP_UNAVAILABLE (no Redis or OTP_SECRET, Redis down or full). The answer is copied into the
 * op in the I/O callback and becomes Lua values after the coroutine resumed (as in
 * bind_queue.c); the code is wiped from the op once handed over. Nothing here logs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bind.h"
#include "config.h"
#include "crypto.h"
#include "otp.h"
#include "redis.h"

#define OTP_OP_MT "speezy.otp.op"

typedef struct {
    co_t *co;         /* while it waits */
    otp_op_t *req;    /* while Redis has not answered */
    int done, verify; /* answered; which step */
    otp_result_t res; /* res.message points into message */
    char message[256];
    char phone[OTP_PHONE_SIZE];
} ob_op_t;

static int ob_validation(lua_State *L, const char *field, const char *message)
{
    bind_fail(L, "VALIDATION_FAILED", "%s", message);
    lua_pushstring(L, field);
    lua_setfield(L, -2, "field");
    return 2;
}

/* The phone at idx normalized into out, or pushes nil, err and returns 2. */
static int ob_phone(lua_State *L, int idx, char out[OTP_PHONE_SIZE])
{
    size_t len;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
    if (!s || otp_normalize_phone(s, len, out) != OTP_OK)
        return ob_validation(L, "phone",
                             "phone must be a 10-digit mobile number or +, a country code and "
                             "the number (8 to 15 digits)");
    return 0;
}

static int ob_normalize(lua_State *L)
{
    char phone[OTP_PHONE_SIZE];
    if (ob_phone(L, 1, phone))
        return 2;
    lua_pushstring(L, phone);
    return 1;
}

static void ob_on_answer(const otp_result_t *res, void *ud)
{
    ob_op_t *op = ud;
    op->req = NULL;
    op->done = 1;
    op->res = *res;
    if (res->message) {
        size_t n = strlen(res->message);
        n = n < sizeof(op->message) - 1 ? n : sizeof(op->message) - 1;
        memcpy(op->message, res->message, n);
        op->message[n] = '\0';
    }
    co_t *co = op->co;
    op->co = NULL;
    if (co)
        co_resume(co, 0);
}

static void ob_cancel(void *p)
{
    ob_op_t *op = p;
    otp_abandon(op->req);
    op->req = NULL;
    op->co = NULL;
}

static int ob_gc(lua_State *L)
{
    ob_op_t *op = luaL_checkudata(L, 1, OTP_OP_MT);
    otp_abandon(op->req);
    op->req = NULL;
    explicit_bzero(op->res.code, sizeof(op->res.code));
    return 0;
}

static ob_op_t *ob_new_op(lua_State *L, int verify)
{
    ob_op_t *op = lua_newuserdata(L, sizeof(*op));
    memset(op, 0, sizeof(*op));
    op->verify = verify;
    luaL_getmetatable(L, OTP_OP_MT);
    lua_setmetatable(L, -2);
    return op;
}

/* Redis and OTP_SECRET, or pushes nil, OTP_UNAVAILABLE and returns 2. */
static int ob_ready(lua_State *L, bind_host_t *host)
{
    if (!host->redis)
        return bind_fail(L, "OTP_UNAVAILABLE", "no Redis is configured (REDIS_URL)");
    if (!host->cfg || !host->cfg->otp_secret)
        return bind_fail(L, "OTP_UNAVAILABLE", "OTP_SECRET is not set");
    return 0;
}

/* A failure to start: nil, err */
static int ob_start_failed(lua_State *L, int rc)
{
    if (rc == OTP_EINVAL)
        return bind_misuse(L, "otp: invalid arguments");
    return bind_fail(L, "OTP_UNAVAILABLE", "%s",
                     rc == OTP_ENOMEM ? "out of memory" : redis_strerror(REDIS_EUNAVAILABLE));
}

static uint64_t ob_count(lua_State *L, int idx, uint64_t min, const char *what)
{
    lua_Number n = luaL_checknumber(L, idx);
    if (!(n >= (lua_Number)min && n <= 9007199254740991.0) || n != (lua_Number)(uint64_t)n)
        bind_misuse(L, "otp.issue: %s must be a whole number of at least %d", what, (int)min);
    return (uint64_t)n;
}

static int ob_issue(lua_State *L)
{
    char phone[OTP_PHONE_SIZE];
    if (ob_phone(L, 1, phone))
        return 2;
    const char *ip = luaL_checkstring(L, 2);
    otp_policy_t p = {.ttl_ms = ob_count(L, 3, 1, "ttl"),
                      .attempts = (uint32_t)ob_count(L, 4, 1, "attempts")};
    for (int i = 0; i < OTP_NLIMITS; i++) {
        uint64_t max = ob_count(L, 5 + 2 * i, 0, "max");
        if (max > UINT32_MAX)
            bind_misuse(L, "otp.issue: max is too large");
        p.limit[i].max = (uint32_t)max;
        p.limit[i].window_ms = ob_count(L, 6 + 2 * i, 1, "window");
    }
    if (strlen(ip) == 0 || strlen(ip) > OTP_IP_MAX)
        bind_misuse(L, "otp.issue: ip must be the client's address (req.ip)");
    bind_check_yieldable(L, "otp.issue");
    bind_host_t *host = bind_host(L);
    if (ob_ready(L, host))
        return 2;
    ob_op_t *op = ob_new_op(L, 0);
    memcpy(op->phone, phone, sizeof(phone));
    const char *secret = host->cfg->otp_secret;
    int rc =
        otp_issue(host->redis, secret, strlen(secret), phone, ip, &p, ob_on_answer, op, &op->req);
    return rc < 0 ? ob_start_failed(L, rc) : 1;
}

static int ob_verify(lua_State *L)
{
    char phone[OTP_PHONE_SIZE];
    if (ob_phone(L, 1, phone))
        return 2;
    size_t clen;
    const char *code = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &clen) : NULL;
    if (!code || !otp_code_valid(code, clen))
        return ob_validation(L, "code", "the code must be 6 digits");
    bind_check_yieldable(L, "otp.verify");
    bind_host_t *host = bind_host(L);
    if (ob_ready(L, host))
        return 2;
    ob_op_t *op = ob_new_op(L, 1);
    const char *secret = host->cfg->otp_secret;
    int rc =
        otp_verify(host->redis, secret, strlen(secret), phone, code, ob_on_answer, op, &op->req);
    return rc < 0 ? ob_start_failed(L, rc) : 1;
}

static int ob_wait(lua_State *L)
{
    ob_op_t *op = luaL_checkudata(L, 1, OTP_OP_MT);
    if (op->done)
        return 0;
    co_t *co = bind_check_yieldable(L, op->verify ? "otp.verify" : "otp.issue");
    op->co = co;
    return co_yield_op(L, co, ob_cancel, op);
}

static int ob_limited(lua_State *L, const otp_result_t *res)
{
    const char *name = otp_limit_name(res->limit);
    uint64_t s = (res->retry_after_ms + 999) / 1000;
    bind_fail(L, "RATE_LIMITED", "too many codes sent (%s): retry in %llu s", name,
              (unsigned long long)s);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "limit");
    lua_pushnumber(L, (lua_Number)s);
    lua_setfield(L, -2, "retry_after");
    lua_pushnumber(L, (lua_Number)res->retry_after_ms);
    lua_setfield(L, -2, "retry_after_ms");
    return 2;
}

static int ob_result(lua_State *L)
{
    ob_op_t *op = luaL_checkudata(L, 1, OTP_OP_MT);
    if (!op->done)
        return luaL_error(L, "speezy.otp.core.result: Redis has not answered yet");
    switch (op->res.status) {
    case OTP_OK:
        if (op->verify) {
            lua_pushboolean(L, 1);
            return 1;
        }
        lua_pushstring(L, op->phone);
        lua_pushstring(L, op->res.code);
        explicit_bzero(op->res.code, sizeof(op->res.code));
        return 2;
    case OTP_ELIMITED:
        return ob_limited(L, &op->res);
    case OTP_EWRONG:
        return bind_fail(L, "OTP_INVALID", "the code is wrong or has expired");
    default:
        return bind_fail(L, "OTP_UNAVAILABLE", "%s", op->message[0] ? op->message : "Redis failed");
    }
}

/* The sealing key: HMAC-SHA256(OTP_SECRET, a label), so the secret itself never keys two
 * algorithms and a job sealed under an old OTP_SECRET fails to open instead of decoding to
 * garbage. */
static int ob_seal_key(lua_State *L, uint8_t key[CRYPTO_AES_KEY_LEN])
{
    static const char label[] = "speezy otp.send seal v1";
    const config_t *cfg = bind_host(L)->cfg;
    if (!cfg || !cfg->otp_secret)
        return bind_misuse(L, "otp.seal: OTP_SECRET is not set");
    if (crypto_hmac_sha256(cfg->otp_secret, strlen(cfg->otp_secret), label, sizeof(label) - 1,
                           key) < 0)
        return luaL_error(L, "otp.seal: OpenSSL failed");
    return 0;
}

static int ob_seal(lua_State *L)
{
    size_t len;
    const char *code = luaL_checklstring(L, 1, &len);
    if (!otp_code_valid(code, len))
        return bind_misuse(L, "otp.seal: expects a code of %d digits", OTP_CODE_LEN);
    uint8_t key[CRYPTO_AES_KEY_LEN], sealed[OTP_CODE_LEN + CRYPTO_GCM_OVERHEAD];
    char text[CRYPTO_B64URL_LEN(sizeof(sealed)) + 1];
    ob_seal_key(L, key);
    int rc = crypto_aes_gcm_seal(key, code, len, NULL, 0, sealed);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc < 0)
        return luaL_error(L, "otp.seal: OpenSSL failed");
    lua_pushlstring(L, text, crypto_b64url_encode(sealed, sizeof(sealed), text));
    return 1;
}

static int ob_unseal(lua_State *L)
{
    size_t len, n = 0;
    const char *text = luaL_checklstring(L, 1, &len);
    uint8_t key[CRYPTO_AES_KEY_LEN], sealed[OTP_CODE_LEN + CRYPTO_GCM_OVERHEAD];
    char code[OTP_CODE_LEN + 1];
    if (len != CRYPTO_B64URL_LEN(sizeof(sealed)) ||
        crypto_b64url_decode(text, len, sealed, &n) < 0 || n != sizeof(sealed))
        return bind_fail(L, "OTP_SEALED_INVALID", "the sealed code is malformed");
    ob_seal_key(L, key);
    int rc = crypto_aes_gcm_open(key, sealed, n, NULL, 0, (uint8_t *)code, &n);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc < 0 || n != OTP_CODE_LEN || !otp_code_valid(code, n))
        return bind_fail(L, "OTP_SEALED_INVALID",
                         "the sealed code does not open under this OTP_SECRET");
    lua_pushlstring(L, code, n);
    OPENSSL_cleanse(code, sizeof(code));
    return 1;
}

int luaopen_speezy_otp_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"normalize", ob_normalize}, {"issue", ob_issue}, {"verify", ob_verify}, {"wait", ob_wait},
        {"result", ob_result},       {"seal", ob_seal},   {"unseal", ob_unseal}, {NULL, NULL}};
    luaL_newmetatable(L, OTP_OP_MT);
    lua_pushcfunction(L, ob_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    return 1;
}
