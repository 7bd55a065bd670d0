/* pg_gate.c — lets a batch of statements leave for PostgreSQL in one send(2).
 *
 * libpq 15 flushes its buffer at every PQpipelineSync (PostgreSQL 17's libpq added
 * PQsendPipelineSync, which doesn't), so a batch of N statements, each with its own sync,
 * would cost N system calls. While the gate is closed on a socket, send() and recv() on it
 * report EAGAIN: a non-blocking libpq connection takes that as "the socket is full, try
 * later" and keeps every message in its buffer (it also tries a read when a send comes up
 * short; that read waits too, results are read when the socket says so). Once the gate is
 * open again, one PQflush sends the whole batch.
 *
 * It works because the program defines send() and recv(): libpq's calls bind to these before
 * libc's. Every other socket and every other thread (PQcancel runs on the threadpool) goes
 * straight to the system call, as libc would. Encrypted sessions are never gated (pg.c corks
 * them instead): a TLS library must not be told to retry a write it did not cause. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pg.h"
#include "pg_int.h"

static _Thread_local int gated_fd = -1;
static _Thread_local unsigned long sends; /* that reached the system, on this thread */

void pg_gate_close(int fd)
{
    gated_fd = fd;
}

void pg_gate_open(void)
{
    gated_fd = -1;
}

unsigned long pg_gate_sends(void)
{
    return sends;
}

static int gated(int fd)
{
    if (fd < 0 || fd != gated_fd)
        return 0;
    errno = EAGAIN;
    return 1;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    if (gated(fd))
        return -1;
    sends++;
    return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    if (gated(fd))
        return -1;
    return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}
