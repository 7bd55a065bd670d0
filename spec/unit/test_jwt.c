/* test_jwt.c — jwt.c: what a token signed by us proves, and every token it must refuse.
 *
 * Hostile tokens are built here by hand (header and payload JSON, base64url, an HMAC under
 * whatever key and hash the attack needs), so each refusal is shown on a token that differs
 * from a good one in the one way it names. The time is fixed: NOW. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>

#include "crypto.h"
#include "jwt.h"
#include "test.h"

#define NOW 1700000000.0
#define SECRET "test-secret-0123456789-0123456789-abcdef"
#define PREVIOUS "the-previous-secret-0123456789-0123456789"
#define OTHER "someone-elses-secret-0123456789-012345678"

static jwt_keys_t keys;     /* SECRET, no previous key, iss and aud "speezy" */
static jwt_keys_t rotating; /* SECRET, and PREVIOUS during a rotation */
static jwt_keys_t previous; /* PREVIOUS alone: what signed before the rotation */

static char tok[JWT_MAX_LEN + 64];

static void b64_append(char *out, const void *data, size_t len)
{
    crypto_b64url_encode(data, len, out + strlen(out));
}

/* header.payload.signature with the signature an HMAC of md under key (NULL: no signature). */
static const char *forge_md(const char *header, const char *payload, const char *key,
                            const EVP_MD *md)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    tok[0] = '\0';
    b64_append(tok, header, strlen(header));
    strcat(tok, ".");
    b64_append(tok, payload, strlen(payload));
    if (key)
        HMAC(md, key, (int)strlen(key), (const uint8_t *)tok, strlen(tok), mac, &maclen);
    strcat(tok, ".");
    b64_append(tok, mac, maclen);
    return tok;
}

static const char *forge(const char *header, const char *payload, const char *key)
{
    return forge_md(header, payload, key, EVP_sha256());
}

/* Our header for kid: what jwt_sign writes. */
static const char *header_for(const jwt_keys_t *k)
{
    static char h[128];
    snprintf(h, sizeof h, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", k->current.kid);
    return h;
}

/* A good payload with exp at NOW + exp_in, then any extra members (",\"k\":v..."). */
static const char *claims(double exp_in, const char *extra)
{
    static char p[4096];
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"iss\":\"speezy\",\"aud\":\"speezy\",\"exp\":%.0f%s}",
             NOW + exp_in, extra ? extra : "");
    return p;
}

static int verify_with(const jwt_keys_t *k, const char *token, double now)
{
    static jwt_verified_t v;
    return jwt_verify(k, token, strlen(token), now, &v);
}

static int verify(const char *token)
{
    return verify_with(&keys, token, NOW);
}

/* Signs payload with k, into tok. */
static const char *sign(const jwt_keys_t *k, const char *payload)
{
    size_t n = 0;
    int rc = jwt_sign(k, payload, strlen(payload), tok, sizeof tok, &n);
    CHECK(rc == JWT_OK);
    return rc == JWT_OK ? tok : "";
}

TEST(signs_what_it_verifies)
{
    const char *payload = claims(900, ",\"role\":\"CUSTOMER\",\"n\":[1,{\"x\":null}]");
    size_t n = 0;
    CHECK(jwt_sign(&keys, payload, strlen(payload), tok, sizeof tok, &n) == JWT_OK);
    CHECK(n == strlen(tok));
    jwt_verified_t v;
    CHECK(jwt_verify(&keys, tok, n, NOW, &v) == JWT_OK);
    CHECK(v.payload_len == strlen(payload) && memcmp(v.payload, payload, v.payload_len) == 0);
    CHECK(v.exp == NOW + 900);
    CHECK(v.by_previous == 0);
    /* A hand-made token with our header is the same token: the format is the standard one. */
    char ours[JWT_MAX_LEN];
    strcpy(ours, tok);
    CHECK_STR(forge(header_for(&keys), payload, SECRET), ours);
}

TEST(kid_names_the_key_without_revealing_it)
{
    CHECK(strlen(keys.current.kid) == JWT_KID_LEN);
    CHECK_STR(keys.current.kid, rotating.current.kid); /* the same secret, the same kid */
    CHECK(strcmp(keys.current.kid, previous.current.kid) != 0);
    CHECK_STR(rotating.previous.kid, previous.current.kid);
    CHECK(strstr(SECRET, keys.current.kid) == NULL);
    /* Not a prefix of SHA-256(secret) either, which other code may publish. */
    uint8_t md[CRYPTO_SHA256_LEN];
    char b64[CRYPTO_B64URL_LEN(CRYPTO_SHA256_LEN) + 1];
    crypto_sha256(SECRET, strlen(SECRET), md);
    crypto_b64url_encode(md, 8, b64);
    CHECK(strcmp(b64, keys.current.kid) != 0);
}

TEST(refuses_alg_none_in_any_case)
{
    static const char *const nones[] = {"none", "None", "NONE", "nOnE"};
    char header[128];
    for (size_t i = 0; i < sizeof nones / sizeof nones[0]; i++) {
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"kid\":\"%s\"}", nones[i],
                 keys.current.kid);
        CHECK(verify(forge(header, claims(900, NULL), NULL)) == JWT_EALG);
        /* with our MAC appended all the same */
        CHECK(verify(forge(header, claims(900, NULL), SECRET)) == JWT_EALG);
    }
}

TEST(refuses_other_algorithms_under_the_same_secret)
{
    char header[128];
    snprintf(header, sizeof header, "{\"alg\":\"HS384\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             keys.current.kid);
    CHECK(verify(forge_md(header, claims(900, NULL), SECRET, EVP_sha384())) == JWT_EALG);
    snprintf(header, sizeof header, "{\"alg\":\"HS512\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             keys.current.kid);
    CHECK(verify(forge_md(header, claims(900, NULL), SECRET, EVP_sha512())) == JWT_EALG);
    static const char *const others[] = {
        "{\"alg\":\"RS256\",\"kid\":\"%s\"}",  "{\"alg\":\"hs256\",\"kid\":\"%s\"}",
        "{\"alg\":\"HS256 \",\"kid\":\"%s\"}", "{\"alg\":[\"HS256\"],\"kid\":\"%s\"}",
        "{\"alg\":null,\"kid\":\"%s\"}",       "{\"kid\":\"%s\"}"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        snprintf(header, sizeof header, others[i], keys.current.kid);
        CHECK(verify(forge(header, claims(900, NULL), SECRET)) == JWT_EALG);
    }
    /* An escaped HS256 is HS256. */
    snprintf(header, sizeof header, "{\"alg\":\"HS\\u0032\\u00356\",\"kid\":\"%s\"}",
             keys.current.kid);
    CHECK(verify(forge(header, claims(900, NULL), SECRET)) == JWT_OK);
}

TEST(refuses_keys_and_certificates_in_the_header)
{
    static const char *const members[] = {
        "\"jwk\":{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}",
        "\"jku\":\"https://evil.example/jwks.json\"",
        "\"x5u\":\"https://evil.example/cert.pem\"",
        "\"x5c\":[\"MIIB\"]",
        "\"crit\":[\"exp\"]",
        "\"\\u006awk\":{}", /* "jwk", escaped */
    };
    char header[256];
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        snprintf(header, sizeof header, "{\"alg\":\"HS256\",%s,\"kid\":\"%s\"}", members[i],
                 keys.current.kid);
        CHECK(verify(forge(header, claims(900, NULL), SECRET)) == JWT_EHEADER);
    }
}

TEST(refuses_a_changed_signature)
{
    char good[JWT_MAX_LEN];
    strcpy(good, sign(&keys, claims(900, NULL)));
    char *sig = strrchr(tok, '.') + 1;
    CHECK(strlen(sig) == 43);
    /* Each of the 32 bytes counts: one character changed anywhere but the last. */
    for (int i = 0; i < 42; i++) {
        strcpy(tok, good);
        sig[i] = sig[i] == 'A' ? 'B' : 'A';
        CHECK(verify(tok) == JWT_ESIGNATURE);
    }
    sig[10] = '\0'; /* truncated */
    CHECK(verify(tok) == JWT_ESIGNATURE);
    sign(&keys, claims(900, NULL));
    strcat(tok, "AAAA"); /* lengthened */
    CHECK(verify(tok) == JWT_ESIGNATURE);
    sign(&keys, claims(900, NULL));
    *strrchr(tok, '.') = '\0';
    strcat(tok, "."); /* none at all */
    CHECK(verify(tok) == JWT_ESIGNATURE);
    /* the last character's unused bits: another text for the same bytes is no signature */
    sign(&keys, claims(900, NULL));
    sig = strrchr(tok, '.') + 1;
    sig[42] = (char)(sig[42] == 'A' ? 'B' : sig[42] == 'B' ? 'A' : sig[42] ^ 1);
    CHECK(verify(tok) != JWT_OK);
}

TEST(refuses_a_changed_payload_or_header)
{
    sign(&keys, claims(900, ",\"role\":\"CUSTOMER\""));
    char good[JWT_MAX_LEN];
    strcpy(good, tok);
    /* Each character of the header and payload changed in turn: never accepted. */
    size_t upto = (size_t)(strrchr(good, '.') - good);
    for (size_t i = 0; i < upto; i++) {
        strcpy(tok, good);
        tok[i] = tok[i] == 'A' ? 'B' : 'A';
        CHECK(verify(tok) != JWT_OK);
    }
    /* The role swapped for another, signed by someone without our key. */
    CHECK(verify(forge(header_for(&keys), claims(900, ",\"role\":\"ADMIN\""), OTHER)) ==
          JWT_ESIGNATURE);
}

TEST(refuses_another_secret)
{
    /* Signed with another secret under our kid: the kid picks our key, and it does not match. */
    CHECK(verify(forge(header_for(&keys), claims(900, NULL), OTHER)) == JWT_ESIGNATURE);
    /* Signed by a server with another secret: its kid is not ours. */
    CHECK(verify(sign(&previous, claims(900, NULL))) == JWT_EKID);
}

TEST(picks_the_key_by_kid_during_a_rotation)
{
    jwt_verified_t v;
    /* A token signed before the rotation verifies with the previous key, by its kid. */
    sign(&previous, claims(900, NULL));
    CHECK(jwt_verify(&rotating, tok, strlen(tok), NOW, &v) == JWT_OK);
    CHECK(v.by_previous == 1);
    /* New tokens are signed with the current key and say so. */
    sign(&rotating, claims(900, NULL));
    CHECK(strncmp(tok, keys.current.header, keys.current.header_len) == 0);
    CHECK(jwt_verify(&rotating, tok, strlen(tok), NOW, &v) == JWT_OK);
    CHECK(v.by_previous == 0);
    CHECK(verify(tok) == JWT_OK);
    /* The kid decides: the previous secret's MAC under the current kid fails, and the
     * current one's under the previous kid too. */
    CHECK(verify_with(&rotating, forge(header_for(&keys), claims(900, NULL), PREVIOUS), NOW) ==
          JWT_ESIGNATURE);
    CHECK(verify_with(&rotating, forge(header_for(&previous), claims(900, NULL), SECRET), NOW) ==
          JWT_ESIGNATURE);
    /* Once the rotation is over (no JWT_SECRET_PREVIOUS), the old tokens are refused. */
    CHECK(verify(sign(&previous, claims(900, NULL))) == JWT_EKID);
}

TEST(refuses_unknown_or_missing_kid)
{
    CHECK(verify(forge("{\"alg\":\"HS256\",\"kid\":\"AAAAAAAAAAA\"}", claims(900, NULL), SECRET)) ==
          JWT_EKID);
    CHECK(verify(forge("{\"alg\":\"HS256\"}", claims(900, NULL), SECRET)) == JWT_EKID);
    CHECK(verify(forge("{\"alg\":\"HS256\",\"kid\":7}", claims(900, NULL), SECRET)) == JWT_EKID);
    /* An empty kid is nobody's, even when the unset previous key's kid is empty too. */
    CHECK(verify(forge("{\"alg\":\"HS256\",\"kid\":\"\"}", claims(900, NULL), "")) == JWT_EKID);
    /* The previous key's kid means nothing while no previous key is configured. */
    char header[128];
    snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"kid\":\"%s\"}", rotating.previous.kid);
    CHECK(verify(forge(header, claims(900, NULL), PREVIOUS)) == JWT_EKID);
}

TEST(refuses_wrong_shapes)
{
    char good[JWT_MAX_LEN], bad[JWT_MAX_LEN + 64];
    strcpy(good, sign(&keys, claims(900, NULL)));
    const char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    CHECK(verify("") == JWT_EMALFORMED);
    CHECK(verify("abc") == JWT_EMALFORMED);
    CHECK(verify("a.b") == JWT_EMALFORMED);
    snprintf(bad, sizeof bad, "%s.", good); /* four parts */
    CHECK(verify(bad) == JWT_EMALFORMED);
    snprintf(bad, sizeof bad, "%s.%s", good, dot2 + 1);
    CHECK(verify(bad) == JWT_EMALFORMED);
    snprintf(bad, sizeof bad, "%.*s", (int)(dot2 - good), good); /* two parts */
    CHECK(verify(bad) == JWT_EMALFORMED);
    snprintf(bad, sizeof bad, "%s", dot1); /* empty header */
    CHECK(verify(bad) == JWT_EMALFORMED);
    snprintf(bad, sizeof bad, "%.*s.%s", (int)(dot1 - good), good, dot2); /* empty payload */
    CHECK(verify(bad) == JWT_EMALFORMED);
    snprintf(bad, sizeof bad, "%.*s.%s", (int)(dot1 - good), good, dot2 + 1);
    CHECK(verify(bad) == JWT_EMALFORMED);
    /* The same token with padding, or a character outside base64url, in each part. */
    snprintf(bad, sizeof bad, "%.*s=%s", (int)(dot1 - good), good, dot1);
    CHECK(verify(bad) == JWT_EMALFORMED);
    snprintf(bad, sizeof bad, "%.*s+%s", (int)(dot1 - good), good, dot1);
    CHECK(verify(bad) == JWT_EMALFORMED);
    strcpy(bad, good);
    bad[strlen(bad) - 1] = '/';
    CHECK(verify(bad) == JWT_EMALFORMED);
    snprintf(bad, sizeof bad, "%.*s=%s", (int)(dot2 - good), good, dot2); /* payload padded */
    CHECK(verify(bad) == JWT_ESIGNATURE); /* the MAC covers the text: it fails first */
    CHECK(verify_with(&keys, "a.b.c", NOW) == JWT_EMALFORMED);
}

TEST(refuses_a_header_or_payload_that_is_no_object)
{
    static const char *const headers[] = {
        "[]", "\"HS256\"", "null", "1", "", "{", "{}x", "{\"alg\":\"HS256\",}", "{'alg':'HS256'}"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        int rc = verify(forge(headers[i], claims(900, NULL), SECRET));
        CHECK(rc == JWT_EMALFORMED);
        if (rc != JWT_EMALFORMED)
            fprintf(stderr, "  header %s: %d\n", headers[i], rc);
    }
    static const char *const payloads[] = {"[]",
                                           "\"x\"",
                                           "null",
                                           "3",
                                           "{\"exp\":1}{}",
                                           "{\"exp\":1e999}",
                                           "{\"exp\":01}",
                                           "{\"a\":\"\\x\"}",
                                           "{\"a\":\"\\ud800\"}",
                                           "{\"a\":\"\\udc00\\udc00\"}"};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        int rc = verify(forge(header_for(&keys), payloads[i], SECRET));
        CHECK(rc == JWT_EMALFORMED);
        if (rc != JWT_EMALFORMED)
            fprintf(stderr, "  payload %s: %d\n", payloads[i], rc);
    }
}

TEST(refuses_a_name_given_twice)
{
    /* The decoder a script reads claims with keeps the last: no token may say two things. */
    CHECK(verify(forge(header_for(&keys), claims(900, ",\"exp\":99999999999"), SECRET)) ==
          JWT_EDUPLICATE);
    CHECK(verify(forge(header_for(&keys), claims(900, ",\"e\\u0078p\":99999999999"), SECRET)) ==
          JWT_EDUPLICATE);
    CHECK(verify(forge(header_for(&keys), claims(900, ",\"role\":\"A\",\"role\":\"B\""), SECRET)) ==
          JWT_EDUPLICATE);
    char header[128];
    snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"alg\":\"none\",\"kid\":\"%s\"}",
             keys.current.kid);
    CHECK(verify(forge(header, claims(900, NULL), SECRET)) == JWT_EDUPLICATE);
    /* Twice in a nested object is that object's business. */
    CHECK(verify(forge(header_for(&keys), claims(900, ",\"x\":{\"a\":1,\"a\":2}"), SECRET)) ==
          JWT_OK);
}

TEST(expiry_with_leeway)
{
    CHECK(verify(sign(&keys, claims(-3600, NULL))) == JWT_EEXPIRED);
    /* exp is honoured up to JWT_LEEWAY seconds after it, not at it. */
    CHECK(verify(sign(&keys, claims(-JWT_LEEWAY, NULL))) == JWT_EEXPIRED);
    CHECK(verify(sign(&keys, claims(-JWT_LEEWAY + 1, NULL))) == JWT_OK);
    CHECK(verify_with(&keys, sign(&keys, claims(-JWT_LEEWAY, NULL)), NOW - 0.001) == JWT_OK);
    CHECK(verify(sign(&keys, claims(0, NULL))) == JWT_OK);
    /* A token without exp is refused, and one whose exp is no number. */
    CHECK(verify(forge(header_for(&keys), "{\"iss\":\"speezy\",\"aud\":\"speezy\"}", SECRET)) ==
          JWT_ENOEXP);
    CHECK(verify(forge(header_for(&keys),
                       "{\"iss\":\"speezy\",\"aud\":\"speezy\",\"exp\":\"1999999999\"}", SECRET)) ==
          JWT_ECLAIM);
}

TEST(not_before_with_leeway)
{
    char nbf[64];
    snprintf(nbf, sizeof nbf, ",\"nbf\":%.0f", NOW + JWT_LEEWAY);
    CHECK(verify(sign(&keys, claims(900, nbf))) == JWT_OK);
    snprintf(nbf, sizeof nbf, ",\"nbf\":%.0f", NOW + JWT_LEEWAY + 1);
    CHECK(verify(sign(&keys, claims(900, nbf))) == JWT_ENOTYET);
    snprintf(nbf, sizeof nbf, ",\"nbf\":%.0f", NOW + 3600);
    CHECK(verify(sign(&keys, claims(7200, nbf))) == JWT_ENOTYET);
    CHECK(verify(forge(header_for(&keys), claims(900, ",\"nbf\":\"soon\""), SECRET)) == JWT_ECLAIM);
    CHECK(verify(forge(header_for(&keys), claims(900, ",\"iat\":true"), SECRET)) == JWT_ECLAIM);
}

TEST(checks_issuer_and_audience)
{
    const char *h = header_for(&keys);
    char p[256];
    CHECK(verify(forge(h, "{\"exp\":1800000000,\"aud\":\"speezy\"}", SECRET)) == JWT_EISSUER);
    CHECK(verify(forge(h, "{\"exp\":1800000000,\"iss\":\"other\",\"aud\":\"speezy\"}", SECRET)) ==
          JWT_EISSUER);
    CHECK(verify(forge(h, "{\"exp\":1800000000,\"iss\":\"speezy\"}", SECRET)) == JWT_EAUDIENCE);
    static const char *const auds[][2] = {
        {"\"other\"", "no"},
        {"\"speezy2\"", "no"},
        {"\"\"", "no"},
        {"[]", "no"},
        {"[\"other\",\"spee\"]", "no"},
        {"[\"other\",\"speezy\"]", "yes"},
        {"[\"speezy\"]", "yes"},
        {"\"\\u0073peezy\"", "yes"},
    };
    for (size_t i = 0; i < sizeof auds / sizeof auds[0]; i++) {
        snprintf(p, sizeof p, "{\"exp\":1800000000,\"iss\":\"speezy\",\"aud\":%s}", auds[i][0]);
        int want = strcmp(auds[i][1], "yes") == 0 ? JWT_OK : JWT_EAUDIENCE;
        CHECK(verify(forge(h, p, SECRET)) == want);
    }
    CHECK(verify(forge(h, "{\"exp\":1800000000,\"iss\":\"speezy\",\"aud\":[\"speezy\",3]}",
                       SECRET)) == JWT_ECLAIM);
    CHECK(verify(forge(h, "{\"exp\":1800000000,\"iss\":\"speezy\",\"aud\":{}}", SECRET)) ==
          JWT_ECLAIM);
    /* Another deployment's settings. */
    jwt_keys_t shop;
    CHECK(jwt_keys_init(&shop, SECRET, NULL, "auth.shop", "api.shop") == JWT_OK);
    CHECK(verify_with(&shop, sign(&keys, claims(900, NULL)), NOW) == JWT_EISSUER);
    const char *theirs = "{\"exp\":1800000000,\"iss\":\"auth.shop\",\"aud\":[\"x\",\"api.shop\"]}";
    CHECK(verify_with(&shop, sign(&shop, theirs), NOW) == JWT_OK);
    CHECK(verify(sign(&shop, theirs)) == JWT_EISSUER);
    jwt_keys_free(&shop);
}

/* Good claims padded with a long "x" to exactly size bytes. */
static const char *claims_of_size(size_t size)
{
    static char p[JWT_PAYLOAD_MAX + 1];
    const char *head = claims(900, ",\"x\":\"");
    size_t hlen = strlen(head) - 1; /* without its closing brace */
    memcpy(p, head, hlen);
    memset(p + hlen, 'x', size - hlen - 2);
    memcpy(p + size - 2, "\"}", 3);
    return p;
}

TEST(bounds_the_length_first)
{
    char *big = malloc(JWT_MAX_LEN + 2);
    memset(big, 'A', JWT_MAX_LEN + 1);
    big[JWT_MAX_LEN + 1] = '\0';
    CHECK(verify(big) == JWT_ETOOLONG);
    jwt_keys_t none = {0};
    /* Checked before anything else: even without a key. */
    CHECK(verify_with(&none, big, NOW) == JWT_ETOOLONG);
    free(big);
    /* Claims too big for a token are refused by sign, not cut: too long to read, too long
     * once encoded, and the longest that fits. */
    size_t n = 0, room = JWT_MAX_LEN - keys.current.header_len - 2 - 43, fits = room / 4 * 3;
    while (CRYPTO_B64URL_LEN(fits + 1) <= room)
        fits++;
    CHECK(jwt_sign(&keys, "", JWT_PAYLOAD_MAX + 1, tok, sizeof tok, &n) == JWT_ETOOLONG);
    CHECK(jwt_sign(&keys, claims_of_size(fits + 1), fits + 1, tok, sizeof tok, &n) == JWT_ETOOLONG);
    CHECK(jwt_sign(&keys, claims_of_size(fits), fits, tok, sizeof tok, &n) == JWT_OK);
    CHECK(n == JWT_MAX_LEN && verify(tok) == JWT_OK);
}

TEST(sign_refuses_claims_it_would_not_verify)
{
    size_t n = 0;
    static const struct {
        const char *payload;
        int rc;
    } cases[] = {
        {"{\"sub\":\"u1\"}", JWT_ENOEXP},
        {"{\"exp\":\"never\"}", JWT_ECLAIM},
        {"{\"exp\":1,\"aud\":[1]}", JWT_ECLAIM},
        {"{\"exp\":1,\"iss\":{}}", JWT_ECLAIM},
        {"{\"exp\":1,\"exp\":2}", JWT_EDUPLICATE},
        {"[1]", JWT_EMALFORMED},
        {"{\"exp\":1", JWT_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(jwt_sign(&keys, cases[i].payload, strlen(cases[i].payload), tok, sizeof tok, &n) ==
              cases[i].rc);
    jwt_keys_t none;
    CHECK(jwt_keys_init(&none, NULL, NULL, "speezy", "speezy") == JWT_ENOKEY);
    CHECK(jwt_sign(&none, "{\"exp\":1}", 9, tok, sizeof tok, &n) == JWT_ENOKEY);
    CHECK(verify_with(&none, "a.b.c", NOW) == JWT_ENOKEY);
    CHECK(jwt_keys_init(&none, "", NULL, "speezy", "speezy") == JWT_ENOKEY);
    /* A token would not fit a small buffer: refused, nothing cut. */
    CHECK(jwt_sign(&keys, "{\"exp\":1}", 9, tok, 40, &n) == JWT_ETOOLONG);
}

TEST(every_failure_has_a_reason_and_a_message)
{
    const char *seen[32] = {0};
    for (int rc = -1; rc >= JWT_ECRYPTO; rc--) {
        const char *reason = jwt_reason(rc), *message = jwt_message(rc);
        CHECK(reason && message && *reason && *message);
        if (!reason)
            continue;
        CHECK(strspn(reason, "abcdefghijklmnopqrstuvwxyz_") == strlen(reason));
        for (int i = 0; i < -rc - 1; i++)
            CHECK(strcmp(seen[i], reason) != 0);
        seen[-rc - 1] = reason;
    }
    CHECK(jwt_reason(JWT_OK) == NULL && jwt_reason(JWT_ECRYPTO - 1) == NULL);
    CHECK_STR(jwt_reason(JWT_EEXPIRED), "expired");
    CHECK_STR(jwt_reason(JWT_ESIGNATURE), "bad_signature");
    CHECK_STR(jwt_reason(JWT_EKID), "unknown_kid");
}

int main(void)
{
    if (jwt_keys_init(&keys, SECRET, NULL, "speezy", "speezy") != JWT_OK ||
        jwt_keys_init(&rotating, SECRET, PREVIOUS, "speezy", "speezy") != JWT_OK ||
        jwt_keys_init(&previous, PREVIOUS, NULL, "speezy", "speezy") != JWT_OK) {
        fprintf(stderr, "jwt_keys_init failed\n");
        return 1;
    }
    RUN(signs_what_it_verifies);
    RUN(kid_names_the_key_without_revealing_it);
    RUN(refuses_alg_none_in_any_case);
    RUN(refuses_other_algorithms_under_the_same_secret);
    RUN(refuses_keys_and_certificates_in_the_header);
    RUN(refuses_a_changed_signature);
    RUN(refuses_a_changed_payload_or_header);
    RUN(refuses_another_secret);
    RUN(picks_the_key_by_kid_during_a_rotation);
    RUN(refuses_unknown_or_missing_kid);
    RUN(refuses_wrong_shapes);
    RUN(refuses_a_header_or_payload_that_is_no_object);
    RUN(refuses_a_name_given_twice);
    RUN(expiry_with_leeway);
    RUN(not_before_with_leeway);
    RUN(checks_issuer_and_audience);
    RUN(bounds_the_length_first);
    RUN(sign_refuses_claims_it_would_not_verify);
    RUN(every_failure_has_a_reason_and_a_message);
    jwt_keys_free(&keys);
    jwt_keys_free(&rotating);
    jwt_keys_free(&previous);
    return test_summary();
}
