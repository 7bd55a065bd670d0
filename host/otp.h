/* otp.h — one-time codes for phone login: the phone's one stored form, the code, its keyed
 * hash, and the two steps on Redis (send, verify), each one atomic Redis script
 * (host/otp/send.lua, host/otp/verify.lua). No Lua.
 *
 * Redis holds only HMAC-SHA256(OTP_SECRET, phone "\0" code) as hex, never the code, so a
 * copy of Redis without the secret tells nothing about live codes. A send stores a new code
 * (replacing the phone's previous one) only when every limit passes; a verify consumes the
 * code on success and counts a wrong guess otherwise, both inside one script, so of any number
 * of concurrent verifies of one code exactly one succeeds. */
#ifndef SPEEZY_OTP_H
#define SPEEZY_OTP_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

#define OTP_PREFIX "otp:"
/* "+" and at most 15 digits (E.164), NUL included */
#define OTP_PHONE_SIZE 17
/* Longest phone text normalization looks at, separators included. */
#define OTP_PHONE_INPUT_MAX 64
#define OTP_CODE_LEN 6
/* The longest client address a limit keys on (an IPv6 text is at most 45). */
#define OTP_IP_MAX 64

enum {
    OTP_OK = 0,
    OTP_EINVAL = -1,      /* a phone, code or address that is not one */
    OTP_ENOMEM = -2,      /* or the CSPRNG failed */
    OTP_ELIMITED = -3,    /* send: a limit refuses; see otp_result_t */
    OTP_EWRONG = -4,      /* verify: wrong, dead (too many wrong guesses) or expired: one answer */
    OTP_EUNAVAILABLE = -5 /* Redis down, timed out, full, or answering something unexpected */
};

/* ---- pure parts ------------------------------------------------------------------------- */

/* The one stored form of a phone number, E.164 ("+919876543210"):
 *   - spaces, hyphens and parentheses anywhere are separators, dropped;
 *   - "+" then 8 to 15 digits, the first not 0, is E.164 as it is; a number under India's
 *     country code 91 must then be a national mobile number (10 digits, the first 6 to 9);
 *   - exactly 10 digits without "+", the first 6 to 9, is an Indian mobile number as the
 *     seed writes them ("9876543210") and becomes "+91" and the 10 digits;
 *   - anything else is refused: other characters, a second "+" or one after a digit, a
 *     national number of another length or starting 0 to 5 (trunk prefix "0" included), an
 *     empty text, more than OTP_PHONE_INPUT_MAX bytes.
 * So "9876543210", "+91 98765-43210" and "(+91) 98765 43210" are one phone, and the result
 * normalizes to itself. 0, or OTP_EINVAL. */
int otp_normalize_phone(const char *in, size_t len, char out[OTP_PHONE_SIZE]);

/* Exactly OTP_CODE_LEN ASCII digits. */
int otp_code_valid(const char *code, size_t len);

/* The code for 32 random bits v: v mod 10^6 as 6 digits, or OTP_EINVAL when v is one of the
 * 2^32 mod 10^6 largest values, which would make the low codes likelier (rejection sampling:
 * draw again). */
int otp_code_from_u32(uint32_t v, char out[OTP_CODE_LEN + 1]);
/* A code drawn uniformly from the CSPRNG. 0, or OTP_ENOMEM when it failed. */
int otp_code_draw(char out[OTP_CODE_LEN + 1]);

/* HMAC-SHA256 under secret of phone "\0" code, as 64 lower-case hex digits. The NUL cannot
 * occur in either part, so no two (phone, code) pairs give the same message. */
int otp_hash(const char *secret, size_t secret_len, const char *phone, const char *code,
             char out[65]);

/* ---- limits ------------------------------------------------------------------------------ */

typedef enum {
    OTP_LIMIT_COOLDOWN,     /* per phone: one send per window */
    OTP_LIMIT_PER_PHONE_IP, /* per phone and client address */
    OTP_LIMIT_PER_PHONE,
    OTP_LIMIT_PER_IP,
    OTP_NLIMITS
} otp_limit_id_t;

/* At most max sends within any window_ms (a sliding window, ms-exact on Redis' clock);
 * max 0 turns the limit off. */
typedef struct otp_limit {
    uint32_t max;
    uint64_t window_ms;
} otp_limit_t;

typedef struct otp_policy {
    uint64_t ttl_ms;   /* how long a code lives */
    uint32_t attempts; /* wrong guesses a code survives: the attempts-th wrong one kills it */
    otp_limit_t limit[OTP_NLIMITS];
} otp_policy_t;

/* "cooldown", "per_phone_ip", "per_phone", "per_ip" (the names scripts use). */
const char *otp_limit_name(otp_limit_id_t id);

/* ---- the steps on Redis ------------------------------------------------------------------ */

typedef struct otp_result {
    int status;                  /* OTP_OK or a negative OTP_E* */
    char code[OTP_CODE_LEN + 1]; /* send, OTP_OK: the code for the SMS, never to be logged */
    otp_limit_id_t limit;        /* OTP_ELIMITED: the limit with the longest wait */
    uint64_t retry_after_ms;     /* OTP_ELIMITED: after it every limit passes again */
    const char *message;         /* OTP_EUNAVAILABLE: why (valid during the callback) */
} otp_result_t;

typedef void (*otp_cb)(const otp_result_t *res, void *ud);
typedef struct otp_op otp_op_t;

/* Draws a code and stores its hash for phone (normalized) if every limit of p passes for
 * phone and ip (the client's address). The callback runs later, never from inside the call;
 * a negative return (OTP_EINVAL, OTP_ENOMEM, OTP_EUNAVAILABLE) means it never runs. */
int otp_issue(redis_client_t *client, const char *secret, size_t secret_len, const char *phone,
              const char *ip, const otp_policy_t *p, otp_cb cb, void *ud, otp_op_t **out);
/* Consumes phone's code when code is it (OTP_OK), else OTP_EWRONG. Same contract. */
int otp_verify(redis_client_t *client, const char *secret, size_t secret_len, const char *phone,
               const char *code, otp_cb cb, void *ud, otp_op_t **out);
/* The callback will not run (the step may still happen in Redis). */
void otp_abandon(otp_op_t *op);

#endif
