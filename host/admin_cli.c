/* admin_cli.c — `speezy admin grant PHONE`: makes the live account of PHONE an ADMIN, creating
 * it when the phone never signed in. Phone login never grants ADMIN (scripts/auth/login.lua),
 * so an operator with the database's credentials is the only one who can.
 *
 * The role is in the access tokens the user already holds: it takes effect at their next login
 * or refresh. One statement on a private connection; the phone is normalized as login does. */
#include "admin_cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "otp.h"

static int admin_usage(void)
{
    fprintf(stderr, "usage: speezy admin grant PHONE   (PHONE: 9876543210 or +919876543210)\n");
    return 2;
}

static int admin_grant(const config_t *cfg, const char *phone_in)
{
    char phone[OTP_PHONE_SIZE];
    if (otp_normalize_phone(phone_in, strlen(phone_in), phone) < 0) {
        fprintf(stderr, "speezy admin: '%s' is not a phone number (10 digits, or + and 8 to 15)\n",
                phone_in);
        return 2;
    }
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "speezy-admin", cfg->database_url, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
        fprintf(stderr, "speezy admin: cannot connect to the database: %.*s\n",
                (int)strcspn(msg, "\n"), msg);
        PQfinish(conn);
        return 1;
    }
    const char *params[1] = {phone};
    PGresult *r = PQexecParams(conn,
                               "INSERT INTO users (phone, role) VALUES ($1, 'ADMIN') "
                               "ON CONFLICT (phone) WHERE deleted_at IS NULL "
                               "DO UPDATE SET role = 'ADMIN' "
                               "RETURNING id, (xmax = 0) AS created",
                               1, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        printf("%s %s: user %s is ADMIN (from their next login)\n",
               strcmp(PQgetvalue(r, 0, 1), "t") == 0 ? "created" : "granted", phone,
               PQgetvalue(r, 0, 0));
    } else {
        const char *msg = PQresultErrorMessage(r);
        fprintf(stderr, "speezy admin: %.*s\n", (int)strcspn(msg, "\n"), msg);
        rc = 1;
    }
    PQclear(r);
    PQfinish(conn);
    return rc;
}

int admin_cli_main(const config_t *cfg, int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[0], "grant") != 0)
        return admin_usage();
    if (!cfg->database_url) {
        fprintf(stderr, "speezy admin: DATABASE_URL is not set\n");
        return 1;
    }
    return admin_grant(cfg, argv[1]);
}
