/* otp.c — the OTP core (see otp.h): phone normalization, codes, their hash, and the send and
 * verify steps as Redis scripts run through redis_eval. */
#include "otp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "embedded.h"

/* the .lua files of host/otp, compiled in by embed.cmake */
extern const embedded_file_t otp_scripts[];

/* ---- phones and codes ------------------------------------------------------------------ */

static int otp_separator(char c)
{
    return c == ' ' || c == '-' || c == '(' || c == ')';
}

int otp_normalize_phone(const char *in, size_t len, char out[OTP_PHONE_SIZE])
{
    char d[15];
    size_t n = 0;
    int plus = 0;
    if (!in || len > OTP_PHONE_INPUT_MAX)
        return OTP_EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (otp_separator(c))
            continue;
        if (c == '+') {
            if (plus || n > 0)
                return OTP_EINVAL;
            plus = 1;
            continue;
        }
        if (c < '0' || c > '9' || n == sizeof(d))
            return OTP_EINVAL;
        d[n++] = c;
    }
    if (!plus) {
        /* an Indian mobile number written nationally */
        if (n != 10 || d[0] < '6')
            return OTP_EINVAL;
        memcpy(out, "+91", 3);
        memcpy(out + 3, d, 10);
        out[13] = '\0';
        return OTP_OK;
    }
    if (n < 8 || d[0] == '0')
        return OTP_EINVAL;
    if (d[0] == '9' && d[1] == '1' && (n != 12 || d[2] < '6'))
        return OTP_EINVAL; /* +91: one form per Indian number, the national one's */
    out[0] = '+';
    memcpy(out + 1, d, n);
    out[n + 1] = '\0';
    return OTP_OK;
}

int otp_code_valid(const char *code, size_t len)
{
    if (!code || len != OTP_CODE_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (code[i] < '0' || code[i] > '9')
            return 0;
    return 1;
}

/* The largest multiple of 10^6 that fits in 2^32: values from it on are drawn again. */
#define OTP_CODE_SPACE 1000000u
#define OTP_CODE_BOUND (UINT32_MAX / OTP_CODE_SPACE * OTP_CODE_SPACE)

int otp_code_from_u32(uint32_t v, char out[OTP_CODE_LEN + 1])
{
    if (v >= OTP_CODE_BOUND)
        return OTP_EINVAL;
    snprintf(out, OTP_CODE_LEN + 1, "%06" PRIu32, v % OTP_CODE_SPACE);
    return OTP_OK;
}

int otp_code_draw(char out[OTP_CODE_LEN + 1])
{
    /* each draw is refused with probability 967296 / 2^32 (0.02 %): 64 in a row never are */
    for (int i = 0; i < 64; i++) {
        uint32_t v;
        if (crypto_random(&v, sizeof(v)) != CRYPTO_OK)
            return OTP_ENOMEM;
        int rc = otp_code_from_u32(v, out);
        explicit_bzero(&v, sizeof(v));
        if (rc == OTP_OK)
            return OTP_OK;
    }
    return OTP_ENOMEM;
}

int otp_hash(const char *secret, size_t secret_len, const char *phone, const char *code,
             char out[65])
{
    char msg[OTP_PHONE_SIZE + OTP_CODE_LEN + 1];
    size_t plen = strlen(phone), clen = strlen(code);
    if (plen >= OTP_PHONE_SIZE || clen != OTP_CODE_LEN)
        return OTP_EINVAL;
    memcpy(msg, phone, plen);
    msg[plen] = '\0';
    memcpy(msg + plen + 1, code, clen);
    uint8_t mac[CRYPTO_SHA256_LEN];
    int rc = crypto_hmac_sha256(secret, secret_len, msg, plen + 1 + clen, mac);
    explicit_bzero(msg, sizeof(msg));
    if (rc != CRYPTO_OK)
        return OTP_ENOMEM;
    crypto_hex(mac, sizeof(mac), out);
    return OTP_OK;
}

const char *otp_limit_name(otp_limit_id_t id)
{
    static const char *const names[OTP_NLIMITS] = {
        [OTP_LIMIT_COOLDOWN] = "cooldown",
        [OTP_LIMIT_PER_PHONE_IP] = "per_phone_ip",
        [OTP_LIMIT_PER_PHONE] = "per_phone",
        [OTP_LIMIT_PER_IP] = "per_ip",
    };
    return (unsigned)id < OTP_NLIMITS ? names[id] : "?";
}

/* ---- the scripts ------------------------------------------------------------------------ */

typedef enum { OTP_SCRIPT_SEND, OTP_SCRIPT_VERIFY, OTP_NSCRIPTS } otp_script_id_t;

static struct {
    const char *module;
    redis_script_t rs;
} otp_script_table[OTP_NSCRIPTS] = {
    [OTP_SCRIPT_SEND] = {"send"},
    [OTP_SCRIPT_VERIFY] = {"verify"},
};

/* Hashed on first use; the process runs one loop thread, and the result is always the same. */
static const redis_script_t *otp_script(otp_script_id_t id)
{
    redis_script_t *rs = &otp_script_table[id].rs;
    if (rs->text)
        return rs;
    for (const embedded_file_t *f = otp_scripts; f->module; f++) {
        if (strcmp(f->module, otp_script_table[id].module) != 0)
            continue;
        if (redis_script_init(rs, f->src, f->len) < 0) {
            rs->text = NULL;
            return NULL;
        }
        return rs;
    }
    return NULL;
}

/* ---- one step in flight ------------------------------------------------------------------- */

struct otp_op {
    redis_eval_t *ev;
    otp_cb cb;
    void *ud;
    int verify;
    char code[OTP_CODE_LEN + 1]; /* send: the code drawn, handed over once stored */
};

static void otp_op_free(otp_op_t *op)
{
    explicit_bzero(op->code, sizeof(op->code));
    free(op);
}

static void otp_unavailable(otp_result_t *res, const char *message)
{
    res->status = OTP_EUNAVAILABLE;
    res->message = message;
}

/* send.lua's { 1 } or { 0, limit, ms } */
static void otp_read_send(const redisReply *r, otp_op_t *op, otp_result_t *res)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        otp_unavailable(res, "unexpected answer from the OTP send script");
        return;
    }
    if (r->element[0]->integer == 1) {
        res->status = OTP_OK;
        memcpy(res->code, op->code, sizeof(res->code));
        return;
    }
    if (r->elements != 3 || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[2]->type != REDIS_REPLY_INTEGER || r->element[1]->integer < 1 ||
        r->element[1]->integer > OTP_NLIMITS || r->element[2]->integer < 0) {
        otp_unavailable(res, "unexpected answer from the OTP send script");
        return;
    }
    res->status = OTP_ELIMITED;
    res->limit = (otp_limit_id_t)(r->element[1]->integer - 1);
    res->retry_after_ms = (uint64_t)r->element[2]->integer;
}

static void otp_on_reply(const redisReply *r, int err, void *ud)
{
    otp_op_t *op = ud;
    otp_result_t res = {.status = OTP_OK};
    op->ev = NULL;
    if (!r)
        otp_unavailable(&res, redis_strerror(err));
    else if (r->type == REDIS_REPLY_ERROR)
        otp_unavailable(&res, r->str); /* OOM under noeviction, BUSY, ... */
    else if (!op->verify)
        otp_read_send(r, op, &res);
    else if (r->type != REDIS_REPLY_INTEGER)
        otp_unavailable(&res, "unexpected answer from the OTP verify script");
    else
        res.status = r->integer == 1 ? OTP_OK : OTP_EWRONG;
    op->cb(&res, op->ud);
    explicit_bzero(res.code, sizeof(res.code));
    otp_op_free(op);
}

static int otp_start(redis_client_t *client, otp_script_id_t id, otp_op_t *op, int nkeys,
                     const char *const *keys, int nargs, const char *const *args, otp_op_t **out)
{
    size_t keylen[OTP_NLIMITS + 1], arglen[12];
    for (int i = 0; i < nkeys; i++)
        keylen[i] = strlen(keys[i]);
    for (int i = 0; i < nargs; i++)
        arglen[i] = strlen(args[i]);
    const redis_script_t *rs = otp_script(id);
    int rc = rs ? redis_eval(client, rs, nkeys, keys, keylen, nargs, args, arglen, otp_on_reply, op,
                             &op->ev)
                : REDIS_ENOMEM;
    if (rc < 0) {
        otp_op_free(op);
        return rc == REDIS_ENOMEM ? OTP_ENOMEM : OTP_EUNAVAILABLE;
    }
    if (out)
        *out = op;
    return OTP_OK;
}

/* An address a limit can key on: printable, no blank, not too long. */
static int otp_ip_valid(const char *ip)
{
    size_t n = ip ? strlen(ip) : 0;
    if (n == 0 || n > OTP_IP_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)ip[i] <= ' ' || (unsigned char)ip[i] >= 127)
            return 0;
    return 1;
}

static int otp_policy_valid(const otp_policy_t *p)
{
    if (p->ttl_ms == 0 || p->attempts == 0)
        return 0;
    for (int i = 0; i < OTP_NLIMITS; i++)
        if (p->limit[i].max > 0 && p->limit[i].window_ms == 0)
            return 0;
    return 1;
}

/* The phone as it is: normalized phones hold only "+" and digits. */
static int otp_phone_valid(const char *phone)
{
    char again[OTP_PHONE_SIZE];
    return phone && otp_normalize_phone(phone, strlen(phone), again) == OTP_OK &&
           strcmp(again, phone) == 0;
}

int otp_issue(redis_client_t *client, const char *secret, size_t secret_len, const char *phone,
              const char *ip, const otp_policy_t *p, otp_cb cb, void *ud, otp_op_t **out)
{
    if (out)
        *out = NULL;
    if (!otp_phone_valid(phone) || !otp_ip_valid(ip) || !otp_policy_valid(p))
        return OTP_EINVAL;
    otp_op_t *op = calloc(1, sizeof(*op));
    if (!op)
        return OTP_ENOMEM;
    *op = (otp_op_t){.cb = cb, .ud = ud};
    char hash[65];
    uint8_t nonce[8];
    if (otp_code_draw(op->code) < 0 || otp_hash(secret, secret_len, phone, op->code, hash) < 0 ||
        crypto_random(nonce, sizeof(nonce)) != CRYPTO_OK) {
        otp_op_free(op);
        return OTP_ENOMEM;
    }
    char keys[OTP_NLIMITS + 1][sizeof(OTP_PREFIX) + 16 + OTP_PHONE_SIZE + OTP_IP_MAX];
    snprintf(keys[0], sizeof(keys[0]), OTP_PREFIX "code:%s", phone);
    snprintf(keys[1 + OTP_LIMIT_COOLDOWN], sizeof(keys[0]), OTP_PREFIX "cooldown:%s", phone);
    snprintf(keys[1 + OTP_LIMIT_PER_PHONE_IP], sizeof(keys[0]), OTP_PREFIX "per_phone_ip:%s:%s",
             phone, ip);
    snprintf(keys[1 + OTP_LIMIT_PER_PHONE], sizeof(keys[0]), OTP_PREFIX "per_phone:%s", phone);
    snprintf(keys[1 + OTP_LIMIT_PER_IP], sizeof(keys[0]), OTP_PREFIX "per_ip:%s", ip);
    char num[2 + 2 * OTP_NLIMITS][24], member[17];
    snprintf(num[0], sizeof(num[0]), "%" PRIu64, p->ttl_ms);
    snprintf(num[1], sizeof(num[1]), "%" PRIu32, p->attempts);
    for (int i = 0; i < OTP_NLIMITS; i++) {
        snprintf(num[2 + 2 * i], sizeof(num[0]), "%" PRIu32, p->limit[i].max);
        snprintf(num[3 + 2 * i], sizeof(num[0]), "%" PRIu64, p->limit[i].window_ms);
    }
    crypto_hex(nonce, sizeof(nonce), member);
    const char *k[OTP_NLIMITS + 1], *a[12] = {hash};
    for (int i = 0; i <= OTP_NLIMITS; i++)
        k[i] = keys[i];
    for (int i = 0; i < 2 + 2 * OTP_NLIMITS; i++)
        a[1 + i] = num[i];
    a[11] = member;
    return otp_start(client, OTP_SCRIPT_SEND, op, OTP_NLIMITS + 1, k, 12, a, out);
}

int otp_verify(redis_client_t *client, const char *secret, size_t secret_len, const char *phone,
               const char *code, otp_cb cb, void *ud, otp_op_t **out)
{
    if (out)
        *out = NULL;
    if (!otp_phone_valid(phone) || !code || !otp_code_valid(code, strlen(code)))
        return OTP_EINVAL;
    otp_op_t *op = calloc(1, sizeof(*op));
    if (!op)
        return OTP_ENOMEM;
    *op = (otp_op_t){.cb = cb, .ud = ud, .verify = 1};
    char hash[65], key[sizeof(OTP_PREFIX) + 8 + OTP_PHONE_SIZE];
    if (otp_hash(secret, secret_len, phone, code, hash) < 0) {
        otp_op_free(op);
        return OTP_ENOMEM;
    }
    snprintf(key, sizeof(key), OTP_PREFIX "code:%s", phone);
    const char *k[1] = {key}, *a[1] = {hash};
    return otp_start(client, OTP_SCRIPT_VERIFY, op, 1, k, 1, a, out);
}

void otp_abandon(otp_op_t *op)
{
    if (!op)
        return;
    redis_eval_abandon(op->ev);
    otp_op_free(op);
}
