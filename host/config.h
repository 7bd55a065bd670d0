/* config.h — settings from the environment and .env, validated once at start-up.
 *
 * The environment wins over .env. Production refuses to start with a missing or weak secret
 * and names the variable, never its value. */
#ifndef SPEEZY_CONFIG_H
#define SPEEZY_CONFIG_H

#include <stddef.h>

typedef enum { ENV_DEVELOPMENT, ENV_TEST, ENV_PRODUCTION } config_env_t;

/* Where speezy.sms sends (SMS_PROVIDER): none is production's default, as production must
 * choose its provider; outbox (a file) is development's and test's, and production refuses it. */
typedef enum { CONFIG_SMS_NONE, CONFIG_SMS_OUTBOX, CONFIG_SMS_HTTP } config_sms_t;

typedef struct config {
    config_env_t env;
    const char *env_name;
    char *host;
    int port;
    int workers;
    char *log_level;
    char *scripts_dir;
    char *pid_file;
    char *database_url; /* NULL when unset */
    char *redis_url;    /* NULL when unset */
    char *jwt_secret;
    char *jwt_secret_previous; /* still verifies tokens during a rotation; NULL when unset */
    char *jwt_issuer;          /* iss of the tokens we sign and accept */
    char *jwt_audience;        /* aud likewise */
    char *otp_secret;
    char *admin_token;

    /* HTTP limits and timeouts */
    size_t body_limit;
    size_t max_header_bytes;
    size_t max_url_bytes;
    unsigned max_connections;
    unsigned header_timeout_ms;
    unsigned body_timeout_ms;
    unsigned keepalive_timeout_ms;
    unsigned request_timeout_ms;
    unsigned drain_timeout_ms;
    char *ui_assets_dir;       /* UI_ASSETS_DIR: the npm packages the host's pages load (ui.h) */
    int watch_scripts;         /* reload on file change; default on in development */
    size_t vm_memory_limit_mb; /* per script generation (each worker's VM); 0: none */
    int graphql_introspection; /* __schema and __type answer (GRAPHQL_INTROSPECTION) */

    /* PostgreSQL */
    int pg_pool_size;
    unsigned pg_pool_wait_ms;
    unsigned pg_statement_timeout_ms;
    unsigned pg_connect_timeout_ms;
    int pg_pipeline_depth;
    int pg_prepared_statements; /* per session; 0: none */

    /* Redis */
    unsigned redis_timeout_ms;
    int redis_blocking_pool;

    /* job queue */
    int queue_consume;      /* serve's workers consume the declared queues (QUEUE_CONSUME) */
    unsigned queue_lock_ms; /* a running job's lock; stalled check every half of it */

    /* GET /readyz */
    unsigned readyz_timeout_ms; /* bound on the pings to PostgreSQL and Redis, together */

    /* outgoing HTTP (speezy.http) */
    unsigned http_timeout_ms;       /* of a request that names no timeout */
    char *http_ca_file;             /* a PEM bundle trusted besides the system's CAs; NULL: none */
    size_t http_max_response_bytes; /* an answer's body beyond it fails with HTTP_TOO_LARGE */
    /* TRUSTED_PROXIES: peers whose X-Forwarded-For names the client (netaddr.h) */
    struct netaddr_cidr *trusted_proxies;
    size_t ntrusted_proxies;

    /* GraphQL (speezy.graphql): read by the Lua library through core.setting; here so a bad
     * value refuses the start and the defaults have one home */
    unsigned graphql_max_depth;       /* nested fields of an operation */
    unsigned graphql_max_aliases;     /* aliased fields of a document */
    unsigned graphql_max_complexity;  /* 1 per field, list selections times first/last or 10 */
    unsigned graphql_max_tokens;      /* the parser stops past it */
    unsigned graphql_apq_ttl_seconds; /* a persisted query's life in Redis */
    unsigned graphql_cache_documents; /* parsed and validated documents kept per generation */
    size_t graphql_cache_bytes;       /* their total text */

    /* SMS delivery (speezy.sms) */
    config_sms_t sms_provider;
    char *sms_outbox_path;        /* outbox: the JSON-lines file, relative to the working dir */
    char *sms_http_url;           /* http: where messages are POSTed; NULL unless http */
    char *sms_http_auth;          /* http: the Authorization header's value, or NULL; a secret */
    unsigned sms_http_timeout_ms; /* http: the whole exchange with the provider */
} config_t;

/* Loads .env (path may be NULL for "./.env"), then the environment. Returns 0, or -1 with a
 * message in err naming the bad variable. */
int config_load(config_t *cfg, const char *dotenv_path, char *err, size_t errlen);
/* The default of a numeric setting by its name ("PG_POOL_SIZE"), from the one table in
 * config.c that config_load reads too: a core whose caller leaves an option at 0 falls back
 * to it, so a default is written once and the documented one is the one served. -1 for a name
 * the table does not hold. */
long long config_default(const char *name);
/* The value of any setting by name (env over .env), for scripts' non-secret settings. */
const char *config_get(const char *name);
void config_free(config_t *cfg);

#endif
