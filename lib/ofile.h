/*
 * ofile.h - output files that appear whole or not at all.
 *
 * ofile_open("-" or NULL) writes to standard output.  An existing path
 * that is not a regular file (/dev/null, a FIFO) is written in place.  Any
 * other path is
 * written to a temporary file in the same directory ("PATH.tmp.XXXXXX") and
 * renamed over PATH by ofile_commit() after fflush + fsync, so a reader never
 * sees a half-written file and a failed run leaves the old file intact.
 *
 * Temporaries not yet committed are unlinked when the process exits (die(),
 * exit(1)) or is killed by SIGINT, SIGTERM, SIGHUP or SIGPIPE: a program only
 * has to call ofile_commit on success.
 *
 * Ownership: the OutFile owns its FILE and names; ofile_commit/ofile_abort
 * close the FILE and release them.  For stdout, commit just flushes.
 *
 * Errors: ofile_open returns NULL and fills err if the temporary cannot be
 * created; ofile_commit returns -1 and fills err if writing, syncing or
 * renaming failed (the temporary is removed then).
 *
 *   OutFile o; FILE *f = ofile_open(&o, path, &err); if (!f) err_die(&err);
 *   ... fprintf(f, ...) ...
 *   if (ofile_commit(&o, &err) < 0) err_die(&err);
 */
#ifndef MISO_OFILE_H
#define MISO_OFILE_H

#include <stdio.h>
#include "util.h"

typedef struct {
    FILE *f;
    char *path;    /* final name, NULL for stdout */
    char *tmp;     /* temporary name */
    int slot;      /* index in the cleanup table */
} OutFile;

FILE *ofile_open(OutFile *o, const char *path, Err *err);
int ofile_commit(OutFile *o, Err *err);
void ofile_abort(OutFile *o);

/* Write n bytes to path ("-" = stdout) whole or not at all: ofile_open,
 * one fwrite, ofile_commit.  0, or -1 with err filled. */
int ofile_write_all(const char *path, const void *data, size_t n, Err *err);

/* fsync the directory holding path (after a rename); best effort. */
void ofile_sync_dir(const char *path);

#endif
