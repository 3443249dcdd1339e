/*
 * progress.h - a one-line progress display on stderr, shown only when stderr
 * is a terminal and the program was not given --quiet.
 *
 *   [crab-split] 1234/5000  24.7%  812.3 rec/s  ETA 0:04  loss 2.31
 *
 * total may be 0 (unknown): then only the count and rate are shown.  Updates
 * are rate-limited to ~10 per second, so calling progress_update for every
 * record is cheap.  progress_done clears the line.  No allocation beyond the
 * struct; no errors.
 *
 *   Progress p; progress_init(&p, "miso-gen", n, quiet);
 *   for (...) progress_update(&p, i + 1, NULL);
 *   progress_done(&p);
 */
#ifndef MISO_PROGRESS_H
#define MISO_PROGRESS_H

#include <stdint.h>

typedef struct {
    const char *label;
    const char *unit;     /* "rec" by default */
    uint64_t total, done;
    double start, last;
    int enabled;
    int drawn;
} Progress;

void progress_init(Progress *p, const char *label, uint64_t total, int quiet);
void progress_update(Progress *p, uint64_t done, const char *extra);
void progress_done(Progress *p);

#endif
