/* test_chunk.c - succ chunking: a property test (pieces concatenate to the
 * text, cut at whitespace, never split UTF-8, near-equal) against a naive
 * reference, and the k distribution. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "testhelp.h"

static int ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* The text as code points with their byte offsets (naive UTF-8 decoder). */
static size_t decode_all(const char *t, size_t len, unsigned *cp, size_t *at)
{
    size_t n = 0;
    for (size_t p = 0; p < len;) {
        unsigned char c = (unsigned char)t[p];
        size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        unsigned v = k == 1 ? c : c & (0xFF >> (k + 1));
        for (size_t i = 1; i < k; i++)
            v = v << 6 | ((unsigned char)t[p + i] & 0x3F);
        at[n] = p;
        cp[n++] = v;
        p += k;
    }
    at[n] = len;
    return n;
}

static int in(unsigned c, const unsigned *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == c)
            return 1;
    return 0;
}

static const unsigned WS[] = {9, 10, 11, 12, 13, 32, 0x85, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
                              0x2006, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x205F, 0x3000};
static const unsigned PUNCT[] = {0x3001, 0x3002, 0xFF0C, 0xFF01, 0xFF1F, 0xFF1B, 0xFF1A, 0xFF0E, 0xFF61};
static int cjk(unsigned c)
{
    return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3134F);
}

/* Cut points of the documented rule: after whitespace or CJK punctuation,
 * before a non-space; with too few, also between two CJK letters. */
static size_t points(const char *t, size_t len, size_t k, size_t *cand)
{
    static unsigned cp[8192];
    static size_t at[8193];
    size_t n = decode_all(t, len, cp, at), nc = 0;
    for (int pass = 0; pass < 2; pass++) {
        nc = 0;
        for (size_t i = 1; i < n; i++) {
            int brk = !in(cp[i], WS, 22) && (in(cp[i - 1], WS, 22) || in(cp[i - 1], PUNCT, 9));
            if (pass == 1 && !in(cp[i], WS, 22) && cjk(cp[i - 1]) && cjk(cp[i]))
                brk = 1;
            if (brk)
                cand[nc++] = at[i];
        }
        if (nc + 1 >= k)
            break;
    }
    return nc;
}

/* Naive reference: the nearest cut point to each target by linear scan,
 * under the same monotonic/room rule. */
static size_t naive(const char *t, size_t len, size_t k, size_t *off)
{
    size_t cand[8192];
    size_t nc = points(t, len, k, cand);
    if (k > nc + 1)
        k = nc + 1;
    off[0] = 0;
    size_t lo = 0;
    for (size_t j = 1; j < k; j++) {
        size_t target = (size_t)((double)len * (double)j / (double)k), best = lo;
        size_t hi = nc - (k - 1 - j);
        for (size_t i = lo; i < hi; i++) {
            size_t d = cand[i] > target ? cand[i] - target : target - cand[i];
            size_t db = cand[best] > target ? cand[best] - target : target - cand[best];
            if (d < db)
                best = i;
        }
        off[j] = cand[best];
        lo = best + 1;
    }
    off[k] = len;
    return k;
}

int main(void)
{
    Rng g;
    rng_seed(&g, 7);
    static const char *const atoms[] = {"a",  "word", "é",       "日本語", "🙂",      " ",       "  ",     "\n", "\t",
                                        "xyz.", "\n\n", "\u3000", "\u00a0", "\u2003", "。",     "，",     "한국", "12"};
    ChunkCuts cc = {0};
    int concat_ok = 1, ws_ok = 1, utf8_ok = 1, ref_ok = 1, nonempty = 1, balanced = 1;
    size_t off[128];
    for (int iter = 0; iter < 5000; iter++) {
        StrBuf t = SB_INIT;
        size_t natoms = rng_below(&g, 60);
        int nows = iter % 5 == 0; /* every 5th text has no ASCII whitespace at all */
        for (size_t i = 0; i < natoms; i++) {
            const char *a = atoms[rng_below(&g, sizeof atoms / sizeof *atoms)];
            if (nows && ws(a[0]))
                continue;
            sb_adds(&t, a);
        }
        size_t want = 1 + rng_below(&g, 6);
        size_t k = chunk_cut(&cc, t.buf, t.len, want);
        StrBuf cat = SB_INIT;
        for (size_t i = 0; i < k; i++) {
            sb_add(&cat, t.buf + cc.off[i], cc.off[i + 1] - cc.off[i]);
            if (t.len && cc.off[i + 1] <= cc.off[i])
                nonempty = 0;
            if (i > 0) {
                size_t p = cc.off[i];
                if (((unsigned char)t.buf[p] & 0xC0) == 0x80)
                    utf8_ok = 0;
                if (ws(t.buf[p]) || (isalnum((unsigned char)t.buf[p - 1]) && isalnum((unsigned char)t.buf[p])))
                    ws_ok = 0;
            }
        }
        if (cat.len != t.len || memcmp(cat.buf, t.buf, t.len))
            concat_ok = 0;
        size_t kn = naive(t.buf, t.len, want, off);
        if (kn != k)
            ref_ok = 0;
        for (size_t i = 0; ref_ok && i <= k; i++)
            if (off[i] != cc.off[i])
                ref_ok = 0;
        sb_release(&cat);
        sb_release(&t);
    }
    CHECK(concat_ok, "5000 random texts (multibyte, no whitespace, runs of spaces): pieces concatenate to the text byte for byte");
    CHECK(ws_ok, "no cut precedes ASCII whitespace or splits a Latin word or a number");
    CHECK(utf8_ok, "no cut falls inside a UTF-8 sequence");
    CHECK(nonempty, "no piece is empty");
    CHECK(ref_ok, "cut points equal the naive reference (Unicode whitespace, CJK punctuation, CJK letters when short)");

    /* evenly spaced words: pieces of near-equal length */
    StrBuf t = SB_INIT;
    for (int i = 0; i < 400; i++)
        sb_adds(&t, "abcd ");
    size_t k = chunk_cut(&cc, t.buf, t.len, 4);
    for (size_t i = 0; i < k; i++) {
        long d = (long)(cc.off[i + 1] - cc.off[i]) - (long)t.len / 4;
        if (d < -5 || d > 5)
            balanced = 0;
    }
    CHECK(k == 4 && balanced, "cuts 2000 bytes of 5-byte words into 4 pieces within one word of 500 bytes");
    CHECK(chunk_cut(&cc, "", 0, 3) == 1 && cc.off[0] == 0 && cc.off[1] == 0, "the empty text is one empty piece");
    CHECK(chunk_cut(&cc, "a b", 3, 4) == 2 && cc.off[1] == 2, "a text with one cut point gives at most 2 pieces");
    sb_release(&t);
    CHECK(chunk_cut(&cc, "a\xc2\xa0" "b c", 6, 3) == 2 && cc.off[1] == 5, "no cut after a no-break space (U+00A0)");
    CHECK(chunk_cut(&cc, "ab\xe3\x80\x80" "cd", 7, 2) == 2 && cc.off[1] == 5, "cuts after an ideographic space (U+3000)");
    CHECK(chunk_cut(&cc, "\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82\xe5\x86\x8d\xe8\xa7\x81", 15, 2) == 2 && cc.off[1] == 9,
          "cuts Chinese after the ideographic full stop");
    CHECK(chunk_cut(&cc, "\xe4\xbd\xa0\xe5\xa5\xbd\xe5\x86\x8d\xe8\xa7\x81", 12, 2) == 2 && cc.off[1] == 6,
          "cuts Chinese without spaces or punctuation between two ideographs");
    CHECK(chunk_cut(&cc, "Supercalifragilistic", 20, 4) == 1, "a Latin word without spaces stays whole");

    double probs[CHUNK_MAX_K];
    size_t n;
    Err err;
    CHECK(chunk_parse_probs("0.55,0.15,0.15,0.15", probs, &n, &err) == 0 && n == 4, "parses the default --probs");
    CHECK(chunk_parse_probs("1,1", probs, &n, &err) == 0 && n == 2 && probs[0] == 0.5, "normalises weights to sum 1");
    CHECK(chunk_parse_probs("0.5,x", probs, &n, &err) < 0, "rejects a non-number");
    CHECK(chunk_parse_probs("0,0", probs, &n, &err) < 0, "rejects weights summing to 0");
    CHECK(chunk_parse_probs("-1,2", probs, &n, &err) < 0, "rejects a negative weight");
    CHECK(chunk_parse_probs("0x1p-1,0.5", probs, &n, &err) < 0 && chunk_parse_probs(" 0.5", probs, &n, &err) < 0 &&
              chunk_parse_probs("1,-0", probs, &n, &err) < 0 && chunk_parse_probs("0.5,", probs, &n, &err) < 0,
          "rejects hex floats, leading blanks, '-0' and a trailing comma");
    CHECK(chunk_parse_probs("1e-1,.9,2E-1", probs, &n, &err) == 0 && n == 3, "accepts exponents and a leading dot");
    chunk_parse_probs("0.55,0.15,0.15,0.15", probs, &n, &err);
    size_t hist[5] = {0};
    for (int i = 0; i < 100000; i++) {
        Rng r;
        char key[16];
        int kl = snprintf(key, sizeof key, "id-%d", i);
        rng_seed_key(&r, 1234, key, (size_t)kl);
        hist[chunk_draw_k(&r, probs, n)]++;
    }
    CHECK_NEAR(hist[1] / 1e5, 0.55, 0.01, "k = 1 drawn with probability 0.55 over 100000 ids");
    CHECK_NEAR(hist[4] / 1e5, 0.15, 0.01, "k = 4 drawn with probability 0.15 over 100000 ids");
    chunk_release(&cc);
    return TEST_REPORT();
}
