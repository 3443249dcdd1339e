/*
 * chunk.h - succ chunking: cut an instruction into k successive pieces at
 * whitespace, of near-equal length, whose concatenation is the instruction
 * byte for byte (MISO-succ, DESIGN.md "succ").
 *
 * Cut points are the byte offsets p (0 < p < len) where text[p] starts a
 * character that is not whitespace and the character before it is
 *   - whitespace: Unicode White_Space (ASCII blanks, U+0085, U+1680,
 *     U+2000-U+200A, U+2028, U+2029, U+205F, U+3000) except the no-break
 *     spaces U+00A0, U+2007 and U+202F, whose writer asked for no break; or
 *   - CJK punctuation that ends a clause: U+3001 U+3002 and the fullwidth
 *     , ! ? ; : . (U+FF0C U+FF01 U+FF1F U+FF1B U+FF1A U+FF0E U+FF61).
 * A piece keeps its trailing whitespace or punctuation and the next one
 * starts with a word; cuts fall on character boundaries, never inside a
 * UTF-8 sequence.  Fallback: a text with fewer than k-1 such points may
 * also be cut between two adjacent CJK letters (ideographs, kana, Hangul),
 * so Chinese or Japanese written without spaces is still cut into k pieces;
 * a Latin word or a number is never split.
 * Cut j of k aims at j*len/k and takes the nearest cut point that keeps the
 * cuts increasing with room for the remaining ones (ties go to the earlier
 * point).  A text with fewer than k-1 cut points gets as many pieces as it
 * has points + 1 (a text without any stays whole): chunk_cut returns
 * the number of pieces actually made.
 *
 * k is drawn by chunk_draw_k from a probability table (k = 1..n, the
 * default 0.55/0.15/0.15/0.15); chunk_parse_probs reads "--probs" text.
 *
 * No allocation except the ChunkCuts arrays (owned by the struct,
 * chunk_release frees them).  No errors except chunk_parse_probs, which
 * returns -1 with a message in err (no file/line).
 *
 *   ChunkCuts cc = {0};
 *   size_t k = chunk_cut(&cc, text, len, chunk_draw_k(&rng, probs, n));
 *   piece i is text[cc.off[i] .. cc.off[i+1])   (off[0] = 0, off[k] = len)
 *   chunk_release(&cc);
 */
#ifndef MISO_CHUNK_H
#define MISO_CHUNK_H

#include <stddef.h>

#include "rng.h"
#include "util.h"

#define CHUNK_MAX_K 64

typedef struct {
    size_t *off;       /* k + 1 offsets */
    size_t *cand;      /* cut points (scratch) */
    size_t capOff, capCand;
} ChunkCuts;

size_t chunk_cut(ChunkCuts *cc, const char *text, size_t len, size_t k);
void chunk_release(ChunkCuts *cc);

/* Draw k in 1..n with probabilities probs[0..n) (summing to 1). */
size_t chunk_draw_k(Rng *g, const double *probs, size_t n);
/* "0.55,0.15,0.15,0.15" -> probs (normalised to sum 1), *n.  At most
 * CHUNK_MAX_K values, each >= 0, sum > 0.  0, or -1 with err->msg set. */
int chunk_parse_probs(const char *s, double *probs, size_t *n, Err *err);

#endif
