/*
 * chunk.c - succ chunking (see chunk.h).
 *
 * One pass collects the cut points, then each of the k-1 cuts is a binary
 * search in that sorted list: O(len + k log len) per record, so chunking is
 * a small fraction of miso-chunk's time next to JSON parsing.
 */
#include "chunk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

size_t chunk_cut(ChunkCuts *cc, const char *text, size_t len, size_t k)
{
    if (k < 1)
        k = 1;
    size_t nc = 0;
    for (size_t p = 1; p < len; p++) {
        if (is_ws((unsigned char)text[p - 1]) && !is_ws((unsigned char)text[p])) {
            cc->cand = grow_array(cc->cand, &cc->capCand, nc + 1, sizeof *cc->cand);
            cc->cand[nc++] = p;
        }
    }
    if (k > nc + 1)
        k = nc + 1;
    cc->off = grow_array(cc->off, &cc->capOff, k + 1, sizeof *cc->off);
    cc->off[0] = 0;
    size_t lo = 0; /* first usable candidate index */
    for (size_t j = 1; j < k; j++) {
        size_t hi = nc - (k - 1 - j); /* exclusive: leave room for the later cuts */
        /* target j*len/k without overflow */
        size_t target = (size_t)((double)len * (double)j / (double)k);
        /* first candidate >= target in [lo, hi) */
        size_t a = lo, b = hi;
        while (a < b) {
            size_t m = a + (b - a) / 2;
            if (cc->cand[m] < target)
                a = m + 1;
            else
                b = m;
        }
        size_t best;
        if (a == hi)
            best = hi - 1;
        else if (a == lo)
            best = lo;
        else
            best = (target - cc->cand[a - 1] <= cc->cand[a] - target) ? a - 1 : a;
        cc->off[j] = cc->cand[best];
        lo = best + 1;
    }
    cc->off[k] = len;
    return k;
}

void chunk_release(ChunkCuts *cc)
{
    free(cc->off);
    free(cc->cand);
    memset(cc, 0, sizeof *cc);
}

size_t chunk_draw_k(Rng *g, const double *probs, size_t n)
{
    double u = rng_uniform(g), acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += probs[i];
        if (u < acc)
            return i + 1;
    }
    /* rounding: the last k with non-zero probability */
    for (size_t i = n; i > 0; i--)
        if (probs[i - 1] > 0)
            return i;
    return 1;
}

int chunk_parse_probs(const char *s, double *probs, size_t *n, Err *err)
{
    size_t k = 0;
    double sum = 0;
    const char *p = s;
    for (;;) {
        if (k == CHUNK_MAX_K) {
            err_set(err, NULL, 0, "too many probabilities in '%s' (at most %d)", s, CHUNK_MAX_K);
            return -1;
        }
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !(v >= 0) || v > 1e300) {
            err_set(err, NULL, 0, "bad probability list '%s' (want numbers >= 0 separated by commas)", s);
            return -1;
        }
        probs[k++] = v;
        sum += v;
        p = end;
        if (*p == '\0')
            break;
        if (*p != ',') {
            err_set(err, NULL, 0, "bad probability list '%s' (want numbers >= 0 separated by commas)", s);
            return -1;
        }
        p++;
    }
    if (!(sum > 0)) {
        err_set(err, NULL, 0, "probabilities in '%s' sum to 0", s);
        return -1;
    }
    for (size_t i = 0; i < k; i++)
        probs[i] /= sum;
    *n = k;
    return 0;
}
