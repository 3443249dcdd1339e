/*
 * chunk.c - succ chunking (see chunk.h).
 *
 * One pass collects the cut points, then each of the k-1 cuts is a binary
 * search in that sorted list: O(len + k log len) per record, so chunking is
 * a small fraction of miso-chunk's time next to JSON parsing.
 */
#include "chunk.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The code point at text[p] (valid UTF-8, the reader checked) and its
 * length in bytes. */
static uint32_t decode(const unsigned char *t, size_t len, size_t p, size_t *n)
{
    unsigned c = t[p];
    size_t k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (p + k > len)
        k = 1;
    uint32_t cp = k == 1 ? c : k == 2 ? (c & 0x1f) : k == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t i = 1; i < k; i++)
        cp = (cp << 6) | (t[p + i] & 0x3f);
    *n = k;
    return cp;
}

/* Unicode White_Space without the no-break spaces (U+00A0, U+2007, U+202F:
 * their writer asked for no break there). */
static int is_ws(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a && c != 0x2007) ||
           c == 0x2028 || c == 0x2029 || c == 0x205f || c == 0x3000;
}

/* CJK punctuation after which a piece may end: 、。，！？；： (ideographic and
 * fullwidth forms) and the fullwidth full stop. */
static int is_cjk_punct(uint32_t c)
{
    return c == 0x3001 || c == 0x3002 || c == 0xff0c || c == 0xff01 || c == 0xff1f || c == 0xff1b || c == 0xff1a ||
           c == 0xff0e || c == 0xff61;
}

/* Letters of scripts written without spaces: CJK ideographs, kana, Hangul. */
static int is_cjk(uint32_t c)
{
    return (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) ||
           (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x20000 && c <= 0x3134f);
}

static void add_cand(ChunkCuts *cc, size_t *nc, size_t p)
{
    cc->cand = grow_array(cc->cand, &cc->capCand, *nc + 1, sizeof *cc->cand);
    cc->cand[(*nc)++] = p;
}

size_t chunk_cut(ChunkCuts *cc, const char *text, size_t len, size_t k)
{
    if (k < 1)
        k = 1;
    const unsigned char *t = (const unsigned char *)text;
    size_t nc = 0, n;
    uint32_t prev = 0;
    for (size_t p = 0; p < len; p += n) {
        uint32_t c = decode(t, len, p, &n);
        if (p > 0 && !is_ws(c) && (is_ws(prev) || is_cjk_punct(prev)))
            add_cand(cc, &nc, p);
        prev = c;
    }
    if (nc + 1 < k) {
        /* Too few breaks for k pieces: a run of CJK text may also be cut
         * between two of its letters (never inside a Latin word or a number).
         * Collected again in one pass so the points stay sorted. */
        nc = 0;
        prev = 0;
        for (size_t p = 0; p < len; p += n) {
            uint32_t c = decode(t, len, p, &n);
            if (p > 0 && !is_ws(c) && (is_ws(prev) || is_cjk_punct(prev) || (is_cjk(prev) && is_cjk(c))))
                add_cand(cc, &nc, p);
            prev = c;
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
        /* plain decimal numbers only: strtod would also take " 0.5", hex
         * floats ("0x1p-1") and "-0" */
        size_t plain = strspn(p, "0123456789.eE+-");
        if (end == p || errno || !(v >= 0) || v > 1e300 || plain < (size_t)(end - p) || *p == '+' || *p == '-' || *p == 'e' ||
            *p == 'E') {
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
