/*
 * attention.h - MISO attention forward and backward over a packed batch
 * (paper §4 eq. 3 and 7; DESIGN.md "Attention variants"; trainer-notes §4).
 *
 * A sample has inputs 1..n (lengths t_i) and one output (length t_o).  Each
 * input attends causally to itself only (inputs never attend to each
 * other).  Each output row j attends to the input blocks and to the output
 * rows 0..j, combined in one of two ways:
 *   - mixture (variants `miso`, uniform w_i = 1/n, and `weights`, w_i =
 *     Score_i): O = Σ_i w_i · softmax over [K_i ; K_out] (eq. 3);
 *   - joint (variants `miso-fid`, beta = ln n, and `concat`, beta = 0): one
 *     softmax over [K_1 … K_n ; K_out] with beta added to the output-block
 *     logits.  fid's Score_i = (S_i + S_out) / Σ_j (S_j + S_out) (eq. 7) is
 *     exactly this with beta = ln n (trainer-notes §4.1 identity 3).
 * With n = 1 every variant is ordinary causal attention over [input; output].
 *
 * How it is computed (trainer-notes §4.2-4.3): per output row and block the
 * block log-sum-exp L_b is kept; the output-to-output block is computed once
 * per sample and each input merged by its L_b.  The backward recomputes the
 * probabilities from Q, K and the stored L_b (flash style), so the saved
 * state per layer is AttnBatch.nstats floats per head.  Every product is a
 * matmul_gemm call on strided slices of q/k/v, by blocks of 64 query rows
 * against the keys those rows can see (attention.c); work is split over
 * (sample, KV head) pairs, each owned by one thread, so results do not
 * depend on the number of threads.  The row passes are compiled twice (AVX2
 * and baseline, chosen at load time), so the last bits of a result may
 * differ between machines with and without AVX2, never between runs.
 *
 * Packed layout: q is (T, NH*HD), k and v (T, KVH*HD), out (T, NH*HD).
 * Sample s's inputs are the rows in_row .. in_row + Σ t_i - 1, input after
 * input in order; its output is the rows out_row .. out_row + t_o - 1.  The
 * trainer puts all inputs of a batch first and all outputs after them, so
 * the output rows form one contiguous suffix.
 *
 * Ownership: AttnBatch borrows nothing; the caller fills samples[] and
 * calls attn_batch_finish.  Scratch is caller-owned, attn_scratch_floats
 * long, allocated once.  No allocation here, no errors: shapes are the
 * caller's contract.
 *
 * Usage
 *   AttnBatch b = {.nh = NH, .kvh = KVH, .hd = HD};
 *   b.ns = 1; b.s[0] = (AttnSample){.n = 2, .in_len = {3, 4}, .in_row = 0,
 *                                    .out_row = 7, .out_len = 5};
 *   attn_sample_weights(&b.s[0], ATTN_MISO, NULL);
 *   attn_batch_finish(&b);
 *   attn_forward(out, stats, q, k, v, &b, 0, scratch);
 *   attn_backward(dq, dk, dv, dout, q, k, v, stats, &b, 0, scratch);
 */
#ifndef MISO_ATTENTION_H
#define MISO_ATTENTION_H

#include <stddef.h>
#include <string.h>

#include "pack.h"

typedef enum { ATTN_MISO = 0, ATTN_FID = 1, ATTN_WEIGHTS = 2, ATTN_CONCAT = 3 } AttnVariant;

/* "miso", "miso-fid", "weights", "concat" -> variant; -1 when unknown. */
int attn_variant_parse(const char *name);
const char *attn_variant_name(int v);

typedef struct {
    int n;                          /* number of inputs, >= 1 */
    int in_len[PACK_MAX_INPUTS];    /* t_i */
    int in_row;                     /* first input row */
    int out_row, out_len;           /* output rows */
    int joint;                      /* 0 mixture, 1 joint softmax */
    float w[PACK_MAX_INPUTS];       /* mixture weights (sum 1) */
    float beta;                     /* joint: bias of the output block logits */
    /* set by attn_batch_finish */
    int in_total;                   /* Σ t_i */
    size_t stats_off;               /* offset of this sample in a head's stats */
} AttnSample;

typedef struct {
    int nh, kvh, hd;                /* NH, KVH, HD */
    int ns;                         /* samples */
    AttnSample *s;                  /* (ns), caller-owned */
    /* set by attn_batch_finish */
    size_t nstats;                  /* stats floats per head; per layer NH * nstats */
    int max_rows, max_keys, max_n;  /* largest query block, key block and n */
} AttnBatch;

/* Set the combination rule of one sample: ATTN_MISO (1/n), ATTN_WEIGHTS
 * (weights[], which must be given), ATTN_FID (joint, beta = ln n) or
 * ATTN_CONCAT (joint, beta = 0). */
void attn_sample_weights(AttnSample *s, int variant, const float *weights);
/* Compute in_total, stats offsets and the maxima. */
void attn_batch_finish(AttnBatch *b);
/* Scratch floats needed for nthreads threads for samples up to these sizes:
 * max_rows query rows, max_keys keys per sample, max_n inputs. */
size_t attn_scratch_floats(int max_rows, int max_keys, int max_n, int nthreads);

/* out (T, NH*HD) for every input row (unless skip_inputs) and output row;
 * stats (NH * nstats) gets the block log-sum-exps.  With skip_inputs the
 * inputs' own attention is not computed (their rows of out are untouched):
 * the last layer needs the inputs' K and V only. */
void attn_forward(float *out, float *stats, const float *q, const float *k, const float *v, const AttnBatch *b,
                  int skip_inputs, float *scratch);
/* Backward; dq (T, NH*HD), dk and dv (T, KVH*HD) accumulate (+=).  dout's
 * input rows are ignored when skip_inputs. */
void attn_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                   const float *stats, const AttnBatch *b, int skip_inputs, float *scratch);

/* e^x in float, inlinable and vectorisable (the softmaxes of attention and
 * of the head, and SwiGLU's sigmoid, spend most of their time in exp; glibc's
 * expf is a scalar call).  Cephes' range reduction x = n ln2 + r, |r| <=
 * ln2/2, a degree-5 minimax polynomial for e^r, and 2^n built in the exponent
 * bits.  Relative error below 2.5e-7 (tested against exp() in double over
 * [-87, 88]); 2^n is clamped to [2^-126, 2^127], so arguments below about
 * -87.3 give a tiny normal number (~1e-38) instead of a denormal or 0, above
 * 88.7 a large finite one, and NaN stays NaN.  Pure float
 * arithmetic in a fixed order: the result does not depend on the thread
 * count or on vectorisation. */
static inline float attn_exp(float x)
{
    /* round(x log2 e) with the 1.5 * 2^23 trick: n sits in the low bits */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    int ti;
    memcpy(&ti, &t, sizeof ti);
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* the clamp is on the integer exponent (a float compare would keep the
     * loop from vectorising under -ftrapping-math) */
    int ni = ti - 0x4B400000;
    ni = ni < -126 ? -126 : ni;
    ni = ni > 127 ? 127 : ni;
    int si = (ni + 127) * (1 << 23);
    float sc;
    memcpy(&sc, &si, sizeof sc);
    return p * sc;
}

/* The literal definition in double precision, one sample, for tests:
 * for every variant, softmaxes over the concatenated keys, no LSE merge
 * (fid by eq. 7's Score_i).  q/k/v/out use the same packed layout with the
 * sample's rows; variant and weights as in attn_sample_weights. */
void attn_forward_naive(double *out, const double *q, const double *k, const double *v, const AttnSample *s,
                        int variant, int nh, int kvh, int hd);

#endif
