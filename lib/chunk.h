/*
 * chunk.h - succ chunking: cut an instruction into k successive pieces at
 * whitespace, of near-equal length, whose concatenation is the instruction
 * byte for byte (MISO-succ, DESIGN.md "succ").
 *
 * Cut points are the byte offsets p (0 < p < len) where text[p-1] is ASCII
 * whitespace and text[p] is not: a piece keeps its trailing whitespace and
 * the next one starts with a word, so cuts never split a UTF-8 sequence.
 * Cut j of k aims at j*len/k and takes the nearest cut point that keeps the
 * cuts increasing with room for the remaining ones (ties go to the earlier
 * point).  A text with fewer than k-1 cut points gets as many pieces as it
 * has points + 1 (a text without whitespace stays whole): chunk_cut returns
 * the number of pieces actually made.
 *
 * NEEDSWORK: only ASCII whitespace counts, so text written without spaces
 * (Chinese, Japanese) is cut only at its newlines; cutting after CJK
 * sentence punctuation would need a rule of its own.
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
