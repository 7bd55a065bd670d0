/* config.c — reads .env and the environment into a validated config_t.
 *
 * .env values are put into the process environment (without overriding what is already
 * set), so every later lookup — and every worker — sees one merged view. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "netaddr.h"

#define SECRET_MIN_BYTES 32

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* KEY=VALUE lines; '#' comments; optional "export "; single or double quotes. */
static int load_dotenv(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (strncmp(s, "export ", 7) == 0)
            s = trim(s + 7);
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected KEY=VALUE", path, lineno);
            fclose(f);
            return -1;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vlen = strlen(val);
        if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') && val[vlen - 1] == val[0]) {
            val[vlen - 1] = '\0';
            val++;
        } else {
            char *hash = strstr(val, " #");
            if (hash) {
                *hash = '\0';
                val = trim(val);
            }
        }
        setenv(key, val, 0);
    }
    fclose(f);
    return 0;
}

const char *config_get(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *dup_or(const char *name, const char *def)
{
    const char *v = config_get(name);
    return v ? strdup(v) : def ? strdup(def) : NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int get_num(const char *name, long long def, long long min, long long max, long long *out,
                   char *err, size_t errlen)
{
    const char *v = config_get(name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return fail(err, errlen, "%s must be an integer between %lld and %lld", name, min, max);
    *out = n;
    return 0;
}

typedef struct {
    const char *name;
    long long def, min, max;
    size_t offset;
    int size; /* sizeof the field: 4 (int/unsigned) or 8 (size_t) */
} num_setting_t;

#define NUM(name, def, min, max, field)                                                            \
    {                                                                                              \
        name, def, min, max, offsetof(config_t, field), (int)sizeof(((config_t *)0)->field)        \
    }

static const num_setting_t num_settings[] = {
    NUM("PORT", 4000, 0, 65535, port),
    NUM("BODY_LIMIT", 1 << 20, 0, 1LL << 32, body_limit),
    NUM("MAX_HEADER_BYTES", 16384, 256, 1 << 20, max_header_bytes),
    NUM("MAX_URL_BYTES", 8192, 64, 1 << 20, max_url_bytes),
    NUM("MAX_CONNECTIONS", 10000, 1, 1000000, max_connections),
    NUM("HEADER_TIMEOUT_MS", 10000, 1, 3600000, header_timeout_ms),
    NUM("BODY_TIMEOUT_MS", 30000, 1, 3600000, body_timeout_ms),
    NUM("KEEPALIVE_TIMEOUT_MS", 15000, 1, 3600000, keepalive_timeout_ms),
    NUM("REQUEST_TIMEOUT_MS", 30000, 1, 3600000, request_timeout_ms),
    NUM("DRAIN_TIMEOUT_MS", 30000, 0, 3600000, drain_timeout_ms),
    NUM("VM_MEMORY_LIMIT_MB", 1024, 0, 1 << 20, vm_memory_limit_mb),
    NUM("PG_POOL_SIZE", 10, 1, 1000, pg_pool_size),
    NUM("PG_POOL_WAIT_MS", 2000, 1, 600000, pg_pool_wait_ms),
    NUM("PG_STATEMENT_TIMEOUT_MS", 15000, 0, 3600000, pg_statement_timeout_ms),
    NUM("PG_CONNECT_TIMEOUT_MS", 5000, 1, 600000, pg_connect_timeout_ms),
    NUM("PG_PIPELINE_DEPTH", 16, 1, 1000, pg_pipeline_depth),
    NUM("PG_PREPARED_STATEMENTS", 256, 0, 100000, pg_prepared_statements),
    NUM("REDIS_TIMEOUT_MS", 5000, 1, 600000, redis_timeout_ms),
    NUM("REDIS_BLOCKING_POOL", 4, 1, 1000, redis_blocking_pool),
    NUM("READYZ_TIMEOUT_MS", 800, 1, 600000, readyz_timeout_ms),
    NUM("QUEUE_CONSUME", 1, 0, 1, queue_consume),
    NUM("QUEUE_LOCK_MS", 30000, 500, 3600000, queue_lock_ms),
    NUM("HTTP_TIMEOUT_MS", 10000, 1, 3600000, http_timeout_ms),
    NUM("HTTP_MAX_RESPONSE_BYTES", 1 << 20, 1, 1LL << 30, http_max_response_bytes),
    NUM("SMS_HTTP_TIMEOUT_MS", 10000, 1, 3600000, sms_http_timeout_ms),
    NUM("GRAPHQL_MAX_DEPTH", 15, 1, 1000, graphql_max_depth),
    NUM("GRAPHQL_MAX_ALIASES", 30, 0, 1000000, graphql_max_aliases),
    NUM("GRAPHQL_MAX_COMPLEXITY", 1000, 1, 1000000000, graphql_max_complexity),
    NUM("GRAPHQL_MAX_TOKENS", 10000, 100, 1000000, graphql_max_tokens),
    NUM("GRAPHQL_APQ_TTL_SECONDS", 604800, 1, 31536000, graphql_apq_ttl_seconds),
    NUM("GRAPHQL_CACHE_DOCUMENTS", 1000, 0, 1000000, graphql_cache_documents),
    NUM("GRAPHQL_CACHE_BYTES", 4 << 20, 0, 1LL << 30, graphql_cache_bytes),
};

long long config_default(const char *name)
{
    for (size_t i = 0; i < sizeof(num_settings) / sizeof(num_settings[0]); i++)
        if (strcmp(num_settings[i].name, name) == 0)
            return num_settings[i].def;
    return -1;
}

static int load_numbers(config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(num_settings) / sizeof(num_settings[0]); i++) {
        const num_setting_t *s = &num_settings[i];
        long long v;
        if (get_num(s->name, s->def, s->min, s->max, &v, err, errlen) < 0)
            return -1;
        char *field = (char *)cfg + s->offset;
        if (s->size == 8)
            *(size_t *)field = (size_t)v;
        else
            *(int *)field = (int)v;
    }
    return 0;
}

/* Production refuses missing secrets, short ones and the placeholders of .env.example. */
static int check_secret(const config_t *cfg, const char *name, const char *value, char *err,
                        size_t errlen)
{
    if (cfg->env != ENV_PRODUCTION)
        return 0;
    if (!value)
        return fail(err, errlen,
                    "%s is not set: production needs a random secret of at least %d bytes", name,
                    SECRET_MIN_BYTES);
    if (strlen(value) < SECRET_MIN_BYTES)
        return fail(err, errlen, "%s is too short: production needs at least %d bytes", name,
                    SECRET_MIN_BYTES);
    if (strstr(value, "change-me") || strstr(value, "your_") || strstr(value, "generated-by"))
        return fail(err, errlen, "%s still holds the example placeholder", name);
    return 0;
}

/* SMS_PROVIDER and what it needs. The outbox writes every code in clear into a file, so
 * production refuses it as it refuses a weak secret. Messages name settings, never the URL
 * or SMS_HTTP_AUTH: either may hold the provider's credential. */
static int load_sms(config_t *cfg, char *err, size_t errlen)
{
    const char *p = config_get("SMS_PROVIDER");
    if (!p)
        cfg->sms_provider = cfg->env == ENV_PRODUCTION ? CONFIG_SMS_NONE : CONFIG_SMS_OUTBOX;
    else if (strcmp(p, "outbox") == 0)
        cfg->sms_provider = CONFIG_SMS_OUTBOX;
    else if (strcmp(p, "http") == 0)
        cfg->sms_provider = CONFIG_SMS_HTTP;
    else
        return fail(err, errlen, "SMS_PROVIDER must be outbox or http, not \"%.40s\"", p);
    if (cfg->sms_provider == CONFIG_SMS_OUTBOX && cfg->env == ENV_PRODUCTION)
        return fail(err, errlen,
                    "SMS_PROVIDER=outbox writes the codes into a file: production refuses it; "
                    "set SMS_PROVIDER=http with SMS_HTTP_URL");
    cfg->sms_outbox_path = dup_or("SMS_OUTBOX_PATH", ".run/sms-outbox.jsonl");
    if (cfg->sms_provider != CONFIG_SMS_HTTP)
        return 0;
    cfg->sms_http_url = dup_or("SMS_HTTP_URL", NULL);
    cfg->sms_http_auth = dup_or("SMS_HTTP_AUTH", NULL);
    const char *url = cfg->sms_http_url;
    if (!url)
        return fail(err, errlen, "SMS_HTTP_URL is not set: SMS_PROVIDER=http needs it");
    int https = strncasecmp(url, "https://", 8) == 0, http = strncasecmp(url, "http://", 7) == 0;
    if (cfg->env == ENV_PRODUCTION && !https)
        return fail(err, errlen, "SMS_HTTP_URL must be an https:// URL in production");
    if (!https && !http)
        return fail(err, errlen, "SMS_HTTP_URL must be an http:// or https:// URL");
    for (const char *a = cfg->sms_http_auth; a && *a; a++)
        if ((unsigned char)*a < 0x20 || *a == 0x7f)
            return fail(err, errlen, "SMS_HTTP_AUTH holds a control character (a line break?)");
    return 0;
}

int config_load(config_t *cfg, const char *dotenv_path, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    if (load_dotenv(dotenv_path ? dotenv_path : ".env", err, errlen) < 0)
        return err[0] ? -1 : fail(err, errlen, "cannot read %s", dotenv_path);

    const char *env = config_get("SPEEZY_ENV");
    if (!env || strcmp(env, "development") == 0)
        cfg->env = ENV_DEVELOPMENT, cfg->env_name = "development";
    else if (strcmp(env, "test") == 0)
        cfg->env = ENV_TEST, cfg->env_name = "test";
    else if (strcmp(env, "production") == 0)
        cfg->env = ENV_PRODUCTION, cfg->env_name = "production";
    else
        return fail(err, errlen, "SPEEZY_ENV must be development, test or production");

    if (load_numbers(cfg, err, errlen) < 0)
        return -1;
    long long workers, watch;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (get_num("WORKERS", ncpu > 0 ? ncpu : 1, 1, 256, &workers, err, errlen) < 0)
        return -1;
    cfg->workers = (int)workers;
    if (get_num("WATCH_SCRIPTS", cfg->env == ENV_DEVELOPMENT, 0, 1, &watch, err, errlen) < 0)
        return -1;
    cfg->watch_scripts = (int)watch;
    /* Introspection shows a client the whole schema: off by default in production. The value
     * in force goes into the environment, where speezy.graphql.introspection reads it
     * (core.setting) in every worker, so this default is the only one. */
    long long introspect;
    if (get_num("GRAPHQL_INTROSPECTION", cfg->env != ENV_PRODUCTION, 0, 1, &introspect, err,
                errlen) < 0)
        return -1;
    cfg->graphql_introspection = (int)introspect;
    setenv("GRAPHQL_INTROSPECTION", introspect ? "1" : "0", 1);

    cfg->host = dup_or("HOST", "0.0.0.0");
    cfg->log_level = dup_or("LOG_LEVEL", "info");
    cfg->scripts_dir = dup_or("SCRIPTS_DIR", "scripts");
    cfg->pid_file = dup_or("PID_FILE", ".run/speezy.pid");
    /* where `make deps` installs them in a clone: `make run` serves /docs as it is */
    cfg->ui_assets_dir = dup_or("UI_ASSETS_DIR", "spec/tools/js/node_modules");
    cfg->database_url = dup_or("DATABASE_URL", NULL);
    cfg->redis_url = dup_or("REDIS_URL", NULL);
    cfg->jwt_secret = dup_or("JWT_SECRET", NULL);
    cfg->jwt_secret_previous = dup_or("JWT_SECRET_PREVIOUS", NULL);
    cfg->jwt_issuer = dup_or("JWT_ISSUER", "speezy");
    cfg->jwt_audience = dup_or("JWT_AUDIENCE", "speezy");
    cfg->otp_secret = dup_or("OTP_SECRET", NULL);
    cfg->admin_token = dup_or("ADMIN_TOKEN", NULL);
    cfg->http_ca_file = dup_or("HTTP_CA_FILE", NULL);

    if (check_secret(cfg, "JWT_SECRET", cfg->jwt_secret, err, errlen) < 0 ||
        check_secret(cfg, "OTP_SECRET", cfg->otp_secret, err, errlen) < 0)
        return -1;
    if (cfg->env == ENV_PRODUCTION && cfg->admin_token &&
        check_secret(cfg, "ADMIN_TOKEN", cfg->admin_token, err, errlen) < 0)
        return -1;
    if (cfg->http_ca_file && access(cfg->http_ca_file, R_OK) < 0)
        return fail(err, errlen, "HTTP_CA_FILE %s is not readable: %s", cfg->http_ca_file,
                    strerror(errno));
    if (cfg->env == ENV_PRODUCTION && cfg->jwt_secret_previous &&
        check_secret(cfg, "JWT_SECRET_PREVIOUS", cfg->jwt_secret_previous, err, errlen) < 0)
        return -1;
    const char *proxies = config_get("TRUSTED_PROXIES");
    char why[160];
    if (proxies && netaddr_cidr_list_parse(proxies, &cfg->trusted_proxies, &cfg->ntrusted_proxies,
                                           why, sizeof(why)) < 0)
        return fail(err, errlen, "TRUSTED_PROXIES: %s", why);
    if (cfg->env == ENV_PRODUCTION && (!cfg->database_url || !cfg->redis_url))
        return fail(err, errlen, "%s is not set: production needs it",
                    cfg->database_url ? "REDIS_URL" : "DATABASE_URL");
    return load_sms(cfg, err, errlen);
}

void config_free(config_t *cfg)
{
    free(cfg->host);
    free(cfg->log_level);
    free(cfg->scripts_dir);
    free(cfg->pid_file);
    free(cfg->ui_assets_dir);
    free(cfg->database_url);
    free(cfg->redis_url);
    free(cfg->jwt_secret);
    free(cfg->jwt_secret_previous);
    free(cfg->jwt_issuer);
    free(cfg->jwt_audience);
    free(cfg->otp_secret);
    free(cfg->admin_token);
    free(cfg->http_ca_file);
    free(cfg->trusted_proxies);
    free(cfg->sms_outbox_path);
    free(cfg->sms_http_url);
    free(cfg->sms_http_auth);
    memset(cfg, 0, sizeof(*cfg));
}
