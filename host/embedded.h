/* embedded.h — the Lua runtime library (host/lib) compiled into the binary by embed.cmake. */
#ifndef SPEEZY_EMBEDDED_H
#define SPEEZY_EMBEDDED_H
#include <stddef.h>

typedef struct {
    const char *module; /* "speezy.app" */
    const char *path;   /* "speezy/app.lua", for chunk names */
    const char *src;
    size_t len;
} embedded_file_t;

/* Terminated by an entry whose module is NULL. */
extern const embedded_file_t embedded_lib[];

#endif
