/*
 * tok_nfc.c - Unicode Normalization Form C for tokenizer.json's "NFC"
 * normalizer (Qwen2 and Qwen3 ship it).  Internal to lib/tokenizer.c, which
 * declares tok_nfc() itself; not a public module.
 *
 * Why here and not a library: the obvious one (utf8proc) would be a new link
 * dependency for one function on a path almost no text takes: a string
 * whose code points are all below U+0300 is already NFC, so real text is
 * copied through by the fast path.  The tables (lib/tok_nfc_table.h, ~3,900
 * lines) are generated from Python's unicodedata by
 * tests/reference/gen-nfc-table.py.
 *
 * Algorithm (UAX #15): full canonical decomposition (tables, Hangul by
 * arithmetic), canonical ordering of each run of non-starters by combining
 * class (stable), then canonical composition with the blocking rule.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "tok_nfc_table.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21, TCOUNT = 28,
       NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static int ccc_of(uint32_t cp)
{
    if (cp < 0x300)
        return 0;
    size_t lo = 0, hi = NELEM(nfc_ccc);
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (nfc_ccc[m][0] < cp)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < NELEM(nfc_ccc) && nfc_ccc[lo][0] == cp ? (int)nfc_ccc[lo][1] : 0;
}

static const uint32_t *dec_of(uint32_t cp)
{
    size_t lo = 0, hi = NELEM(nfc_dec);
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (nfc_dec[m][0] < cp)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < NELEM(nfc_dec) && nfc_dec[lo][0] == cp ? nfc_dec[lo] : NULL;
}

/* The primary composite of a + b, or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = NELEM(nfc_comp);
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (nfc_comp[m][0] < a || (nfc_comp[m][0] == a && nfc_comp[m][1] < b))
            lo = m + 1;
        else
            hi = m;
    }
    if (lo < NELEM(nfc_comp) && nfc_comp[lo][0] == a && nfc_comp[lo][1] == b)
        return nfc_comp[lo][2];
    return 0;
}

typedef struct {
    uint32_t *v;
    size_t n, cap;
} CpVec;

static void cp_push(CpVec *c, uint32_t x)
{
    if (c->n == c->cap)
        c->v = grow_array(c->v, &c->cap, c->n + 1, sizeof *c->v);
    c->v[c->n++] = x;
}

static void decompose(uint32_t cp, CpVec *out)
{
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t s = cp - SBASE;
        cp_push(out, LBASE + s / NCOUNT);
        cp_push(out, VBASE + (s % NCOUNT) / TCOUNT);
        if (s % TCOUNT)
            cp_push(out, TBASE + s % TCOUNT);
        return;
    }
    const uint32_t *d = cp >= 0xC0 ? dec_of(cp) : NULL;
    if (!d) {
        cp_push(out, cp);
        return;
    }
    decompose(d[1], out);
    if (d[2])
        decompose(d[2], out);
}

/* Appends the NFC form of the valid UTF-8 s[0..n) to out.  Returns 1 if it
 * differs from the input, 0 if the input was copied unchanged. */
int tok_nfc(const char *s, size_t n, StrBuf *out);

int tok_nfc(const char *s, size_t n, StrBuf *out)
{
    /* fast path: below U+0300 every string is NFC ("\xCC" leads U+0300..) */
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0xCC)
        i++;
    if (i == n) {
        sb_add(out, s, n);
        return 0;
    }
    CpVec cps = {0};
    for (i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (k == 0)
            k = 1;
        decompose(cp, &cps);
        i += k;
    }
    /* canonical ordering: stable insertion sort of non-starter runs */
    for (size_t a = 0; a < cps.n; a++) {
        int ca = ccc_of(cps.v[a]);
        if (ca == 0)
            continue;
        size_t b = a;
        while (b > 0) {
            int cb = ccc_of(cps.v[b - 1]);
            if (cb == 0 || cb <= ca)
                break;
            uint32_t t = cps.v[b];
            cps.v[b] = cps.v[b - 1];
            cps.v[b - 1] = t;
            b--;
        }
    }
    /* canonical composition; starter = -1 until the first starter */
    size_t outn = 0;
    long starter = -1;
    int last = 0;
    for (size_t d = 0; d < cps.n; d++) {
        uint32_t ch = cps.v[d];
        int cc = ccc_of(ch);
        if (starter >= 0 && (last == 0 || last < cc)) {
            uint32_t comp = compose(cps.v[starter], ch);
            if (comp) {
                cps.v[starter] = comp;
                continue;
            }
        }
        if (cc == 0) {
            starter = (long)outn;
            last = 0;
        } else {
            last = cc;
        }
        cps.v[outn++] = ch;
    }
    size_t start = out->len;
    for (size_t k = 0; k < outn; k++) {
        char u[4];
        sb_add(out, u, utf8_encode(cps.v[k], u));
    }
    free(cps.v);
    return out->len - start != n || memcmp(out->buf + start, s, n) != 0;
}
