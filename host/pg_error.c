/* pg_error.c — what a PostgreSQL failure means to a caller: SQLSTATEs and results mapped to
 * the pool's stable error codes, and the codes' names (the `code` scripts see). */
#include <string.h>

#include "pg.h"

int pg_sqlstate_error(const char *s)
{
    if (!s || strlen(s) != 5)
        return PG_EDB;
    if (strcmp(s, "23505") == 0)
        return PG_ECONFLICT;
    if (strcmp(s, "23503") == 0)
        return PG_EREFERENCE;
    if (strncmp(s, "23", 2) == 0)
        return PG_ECONSTRAINT;
    if (strncmp(s, "22", 2) == 0)
        return PG_EINPUT;
    if (strcmp(s, "57014") == 0)
        return PG_ETIMEOUT;
    if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0)
        return PG_ESERIALIZATION;
    /* 08P01 is also what a statement given the wrong number of parameters gets: a script bug
     * on a healthy session (a real protocol breakage ends the session: PG_ECONNLOST). */
    if (strcmp(s, "08P01") == 0)
        return PG_EDB;
    if (strncmp(s, "08", 2) == 0 || strncmp(s, "57P0", 4) == 0 || strcmp(s, "53300") == 0)
        return PG_EUNAVAILABLE;
    return PG_EDB;
}

int pg_result_error(const PGresult *res)
{
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
        return 0;
    default:
        return pg_sqlstate_error(PQresultErrorField(res, PG_DIAG_SQLSTATE));
    }
}

const char *pg_error_name(int err)
{
    switch (err) {
    case PG_ECONFLICT:
        return "CONFLICT";
    case PG_EREFERENCE:
        return "INVALID_REFERENCE";
    case PG_ECONSTRAINT:
        return "CONSTRAINT_VIOLATION";
    case PG_EINPUT:
        return "INVALID_INPUT";
    case PG_ETIMEOUT:
        return "TIMEOUT";
    case PG_ESERIALIZATION:
        return "SERIALIZATION_FAILURE";
    case PG_EUNAVAILABLE:
    case PG_ECONNLOST:
    case PG_ECLOSED:
        return "DB_UNAVAILABLE";
    default:
        return "DB_ERROR";
    }
}
