/* sms.h — the SMS adapters behind speezy.sms, no Lua; bind_sms.c picks one by SMS_PROVIDER.
 *
 *   outbox  appends the message as one JSON line to a file, for development and test: a
 *           newcomer reads the code there instead of on a phone.
 *   http    POSTs {"to","body"} as JSON to the provider's URL through httpc, with the
 *           Authorization header the settings give; a 2xx answer means delivered.
 *
 * The code (otp) is for the outbox line only: a provider gets it inside the body, where the
 * product team's wording puts it. Nothing here logs, and no message names the URL, the
 * Authorization value, the body or the code: the provider's credential and the user's code
 * must not reach a log line through an error. */
#ifndef SPEEZY_SMS_H
#define SPEEZY_SMS_H

#include <stddef.h>
#include <stdint.h>

#include "httpc.h"
#include "json.h"

#define SMS_ISO_TIME_BYTES 25 /* "2026-01-05T10:20:30.123Z" and its NUL */

enum {
    SMS_EINVAL = -1, /* the caller's mistake: no recipient or body */
    SMS_ENOMEM = -2,
    SMS_EFAILED = -3,     /* the provider answered, but not with a 2xx */
    SMS_EUNAVAILABLE = -4 /* the outbox could not be written, or the provider not reached */
};

typedef struct sms_message {
    const char *to;   /* the phone number as the caller normalized it */
    const char *body; /* the text, the code inside it */
    const char *otp;  /* the code alone, for the outbox line; NULL: none (the line says null) */
} sms_message_t;

/* ---- outbox ---------------------------------------------------------------------------- */

/* ms since the epoch as ISO 8601 UTC with milliseconds, into buf (SMS_ISO_TIME_BYTES). */
void sms_iso_time(char *buf, int64_t ms);
/* The outbox line {"to","otp","body","at"} and its newline, at = at_ms. */
void sms_outbox_line(json_buf_t *b, const sms_message_t *m, int64_t at_ms);
/* Appends the message's line, stamped now, to path: missing parent folders are made (0700),
 * the file is made 0600 (it holds codes). Synchronous. 0, or SMS_EUNAVAILABLE / SMS_ENOMEM
 * with why (naming the path, which is no secret) in message. */
int sms_outbox_append(const char *path, const sms_message_t *m, char *message, size_t msglen);

/* ---- http ------------------------------------------------------------------------------ */

typedef struct sms_http {
    const char *url;
    const char *auth; /* the Authorization header's value as written; NULL: none sent */
    unsigned timeout_ms;
} sms_http_t;

typedef struct sms_req sms_req_t;

/* rc 0: delivered. SMS_EFAILED: the provider answered status (its body is not kept: it may
 * echo the message and its code). SMS_EUNAVAILABLE: no answer (status 0). message says it in
 * words, valid during the call only. */
typedef void (*sms_done_cb)(int rc, int status, const char *message, void *ud);

/* The provider's JSON body {"to","body"}. */
void sms_http_body(json_buf_t *b, const sms_message_t *m);
/* Starts the POST. 0 and, when out is not NULL, a handle valid until cb runs (later, never
 * from inside this call); or a negative code without ever calling cb, with why in message:
 * SMS_EINVAL, SMS_ENOMEM, SMS_EUNAVAILABLE (a URL httpc refuses, a closed client). */
int sms_http_send(httpc_t *c, const sms_http_t *conf, const sms_message_t *m, sms_done_cb cb,
                  void *ud, sms_req_t **out, char *message, size_t msglen);
/* cb will never run; the request stops at once. NULL is fine. */
void sms_request_abandon(sms_req_t *r);

#endif
