/* progress.c - see progress.h. */
#include "progress.h"
#include "util.h"

#include <stdio.h>
#include <unistd.h>

void progress_init(Progress *p, const char *label, uint64_t total, int quiet)
{
    p->label = label;
    p->unit = "rec";
    p->total = total;
    p->done = 0;
    p->start = p->last = util_now();
    p->enabled = !quiet && isatty(2);
    p->drawn = 0;
}

static void fmt_eta(char *buf, size_t n, double s)
{
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void progress_update(Progress *p, uint64_t done, const char *extra)
{
    p->done = done;
    if (!p->enabled)
        return;
    double now = util_now();
    if (now - p->last < 0.1 && !(p->total && done == p->total))
        return;
    p->last = now;
    double el = now - p->start;
    double rate = el > 0 ? (double)done / el : 0;
    char eta[32] = "";
    if (p->total && rate > 0)
        fmt_eta(eta, sizeof eta, (double)(p->total - done) / rate);
    if (p->total)
        fprintf(stderr, "\r\033[K[%s] %llu/%llu %5.1f%%  %.1f %s/s  ETA %s%s%s", p->label,
                (unsigned long long)done, (unsigned long long)p->total, 100.0 * (double)done / (double)p->total,
                rate, p->unit, eta, extra ? "  " : "", extra ? extra : "");
    else
        fprintf(stderr, "\r\033[K[%s] %llu  %.1f %s/s%s%s", p->label, (unsigned long long)done, rate, p->unit,
                extra ? "  " : "", extra ? extra : "");
    fflush(stderr);
    p->drawn = 1;
}

void progress_done(Progress *p)
{
    if (p->enabled && p->drawn)
        fprintf(stderr, "\r\033[K");
    p->drawn = 0;
}
