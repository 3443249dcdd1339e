/*
 * ofile.c - atomic output files.  The cleanup table is a small fixed array:
 * programs hold at most a handful of outputs at once.
 */
#include "ofile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PENDING 32

static char *pending[MAX_PENDING];
static int installed;

static void cleanup(void)
{
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i])
            unlink(pending[i]);
}

static void on_signal(int sig)
{
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i])
            unlink(pending[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install(void)
{
    if (installed)
        return;
    installed = 1;
    atexit(cleanup);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction sa;
        struct sigaction old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

FILE *ofile_open(OutFile *o, const char *path, Err *err)
{
    memset(o, 0, sizeof *o);
    o->slot = -1;
    if (!path || !strcmp(path, "-")) {
        o->f = stdout;
        return o->f;
    }
    /* A device, FIFO or socket (-o /dev/null, -o >(gzip ...)) is written in
     * place: renaming a temporary over it would replace /dev/null with a
     * regular file for every process on the machine. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            err_set(err, NULL, 0, "cannot write '%s': is a directory", path);
            return NULL;
        }
        o->f = fopen(path, "w");
        if (!o->f)
            err_set(err, NULL, 0, "cannot open '%s': %s", path, strerror(errno));
        return o->f;
    }
    install();
    o->path = xstrdup(path);
    size_t n = strlen(path);
    o->tmp = xmalloc(n + 16);
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        err_set(err, NULL, 0, "cannot create '%s': %s", path, strerror(errno));
        free(o->path);
        free(o->tmp);
        o->path = o->tmp = NULL;
        return NULL;
    }
    if (fchmod(fd, 0644) != 0) { /* mkstemp makes 0600; outputs are ordinary files */ }
    for (int i = 0; i < MAX_PENDING; i++)
        if (!pending[i]) {
            pending[i] = o->tmp;
            o->slot = i;
            break;
        }
    o->f = fdopen(fd, "w");
    if (!o->f) {
        err_set(err, NULL, 0, "cannot open '%s': %s", path, strerror(errno));
        close(fd);
        ofile_abort(o);
        return NULL;
    }
    return o->f;
}

static void forget(OutFile *o)
{
    if (o->slot >= 0)
        pending[o->slot] = NULL;
    o->slot = -1;
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
    o->f = NULL;
}

void ofile_abort(OutFile *o)
{
    if (!o->path) {
        if (o->f && o->f != stdout)
            fclose(o->f);
        o->f = NULL;
        return;
    }
    if (o->f)
        fclose(o->f);
    unlink(o->tmp);
    forget(o);
}

void ofile_sync_dir(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int ofile_commit(OutFile *o, Err *err)
{
    if (!o->path) {
        FILE *f = o->f;
        o->f = NULL;
        if (f && f != stdout) {
            int bad = fflush(f) != 0 || ferror(f);
            if (fclose(f) != 0 || bad) {
                err_set(err, NULL, 0, "write error: %s", strerror(errno));
                return -1;
            }
            return 0;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            err_set(err, NULL, 0, "write error on standard output: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    int bad = fflush(o->f) != 0 || ferror(o->f);
    if (!bad && fsync(fileno(o->f)) != 0 && errno != EINVAL)
        bad = 1;
    int saved = errno;
    if (fclose(o->f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    o->f = NULL;
    if (!bad && rename(o->tmp, o->path) != 0) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        err_set(err, NULL, 0, "cannot write '%s': %s", o->path, strerror(saved));
        unlink(o->tmp);
        forget(o);
        return -1;
    }
    ofile_sync_dir(o->path);
    forget(o);
    return 0;
}

int ofile_write_all(const char *path, const void *data, size_t n, Err *err)
{
    OutFile o;
    FILE *f = ofile_open(&o, path, err);
    if (!f)
        return -1;
    if (n && fwrite(data, 1, n, f) != n) {
        err_set(err, NULL, 0, "cannot write '%s': %s", path, strerror(errno));
        ofile_abort(&o);
        return -1;
    }
    return ofile_commit(&o, err);
}
