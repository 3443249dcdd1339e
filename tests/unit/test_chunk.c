/* test_chunk.c - succ chunking: a property test (pieces concatenate to the
 * text, cut at whitespace, never split UTF-8, near-equal) against a naive
 * reference, and the k distribution. */
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "testhelp.h"

static int ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Naive reference: the nearest cut point to each target by linear scan,
 * under the same monotonic/room rule. */
static size_t naive(const char *t, size_t len, size_t k, size_t *off)
{
    size_t cand[4096], nc = 0;
    for (size_t p = 1; p < len; p++)
        if (ws(t[p - 1]) && !ws(t[p]))
            cand[nc++] = p;
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
    static const char *const atoms[] = {"a", "word", "é", "日本語", "🙂", " ", "  ", "\n", "\t", "xyz.", "\n\n"};
    ChunkCuts cc = {0};
    int concat_ok = 1, ws_ok = 1, utf8_ok = 1, ref_ok = 1, nonempty = 1, balanced = 1;
    size_t off[128];
    for (int iter = 0; iter < 5000; iter++) {
        StrBuf t = SB_INIT;
        size_t natoms = rng_below(&g, 60);
        int nows = iter % 5 == 0; /* every 5th text has no whitespace at all */
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
                if (!ws(t.buf[p - 1]) || ws(t.buf[p]))
                    ws_ok = 0;
                if (((unsigned char)t.buf[p] & 0xC0) == 0x80)
                    utf8_ok = 0;
            }
        }
        if (cat.len != t.len || memcmp(cat.buf, t.buf, t.len))
            concat_ok = 0;
        if (nows && k != 1)
            ws_ok = 0;
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
    CHECK(ws_ok, "every cut follows whitespace and precedes a non-space; texts without whitespace stay whole");
    CHECK(utf8_ok, "no cut falls inside a UTF-8 sequence");
    CHECK(nonempty, "no piece is empty");
    CHECK(ref_ok, "cut points equal the naive nearest-point reference");

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

    double probs[CHUNK_MAX_K];
    size_t n;
    Err err;
    CHECK(chunk_parse_probs("0.55,0.15,0.15,0.15", probs, &n, &err) == 0 && n == 4, "parses the default --probs");
    CHECK(chunk_parse_probs("1,1", probs, &n, &err) == 0 && n == 2 && probs[0] == 0.5, "normalises weights to sum 1");
    CHECK(chunk_parse_probs("0.5,x", probs, &n, &err) < 0, "rejects a non-number");
    CHECK(chunk_parse_probs("0,0", probs, &n, &err) < 0, "rejects weights summing to 0");
    CHECK(chunk_parse_probs("-1,2", probs, &n, &err) < 0, "rejects a negative weight");
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
