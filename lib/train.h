/*
 * train.h - the Llama-family training forward and backward over a micro-batch
 * of packed MISO samples (embedding, RMSNorm, RoPE rotate_half at the packed
 * position ids, grouped-query attention in any lib/attention variant, SwiGLU,
 * tied or untied head, Qwen2 q/k/v biases), in F32 through lib/matmul.
 *
 * Layout: all tokens of a micro-batch are packed into one (T, D) matrix per
 * linear layer: rows 0 .. Tin-1 are every sample's inputs (sample after
 * sample, input after input), rows Tin .. T-1 every sample's output.  So
 *   - RoPE reads each row's position id from the packed file;
 *   - the last layer computes q, attention, o_proj and the MLP for the
 *     output rows only (the inputs' last-layer hidden states feed nothing:
 *     only their K and V are used), and
 *   - the final norm and head run only on the rows whose next token is a
 *     supervised target (loss_mask), in chunks of head_chunk rows (logits of
 *     at most TRAIN_HEAD_FLOATS floats, 128 to 1024 rows), the head's backward
 *     fused with its forward.
 *
 * Loss convention: train_step returns Σ cross-entropy over the supervised
 * tokens of the micro-batch and accumulates the gradient of (that sum /
 * norm).  The trainer passes norm = number of supervised tokens of the whole
 * macro batch (all micro-batches, all ranks), so the gradient is that of the
 * token mean over the macro batch.
 *
 * Invariants: every buffer is carved from one activation block sized by
 * train_init from TrainLimits; train_step allocates nothing.  A micro-batch
 * exceeding the limits is a programmer error (asserted).  Reductions run in a
 * fixed order (row- or column-parallel loops with no shared sums), so a step
 * is bit-reproducible for a given thread count; the attention part is
 * independent of it.
 *
 * Ownership: Train owns its activation block (train_release frees it);
 * weights and gradients are the caller's (a ModelWeights view into a block
 * of Model.nparams floats, see model_point_weights).
 *
 * Errors: train_check_sample returns -1 with err for a sample the model
 * cannot take (token id outside the vocabulary, variant `weights` without
 * weights); nothing else fails.
 *
 * Usage
 *   TrainLimits lim = {0}; train_limits_add(&lim, samples, n);  // per batch
 *   Train t; train_init(&t, &m.cfg, &lim, ATTN_MISO);
 *   memset(grad, 0, ...); long nsup;
 *   double sum = train_step(&t, &m.w, &gw, batch, nb, norm, &nsup);
 *   train_release(&t);
 */
#ifndef MISO_TRAIN_H
#define MISO_TRAIN_H

#include <stddef.h>

#include "attention.h"
#include "model.h"
#include "pack.h"

#define TRAIN_HEAD_FLOATS (16u << 20)

typedef struct {
    int max_rows;      /* tokens in one micro-batch */
    int max_out_rows;  /* output tokens in one micro-batch */
    int max_samples;   /* samples in one micro-batch */
    int max_block;     /* longest single input or output */
    int max_keys;      /* longest sample, Σ t_i + t_o */
    int max_n;         /* most inputs in a sample */
    int max_pos;       /* largest position id */
} TrainLimits;

/* Grow lim so that a micro-batch made of these n samples fits. */
void train_limits_add(TrainLimits *lim, const PackSample *s, int n);
/* Grow lim so that any micro-batch of up to mb of these n samples fits
 * (sums of the mb largest), whatever the shuffling. */
void train_limits_bound(TrainLimits *lim, const PackSample *s, size_t n, int mb);

typedef struct {
    ModelConfig cfg;
    TrainLimits lim;
    int variant;
    int nthreads;
    int head_chunk;         /* rows of the head per chunk (HC) */
    float *block;           /* the activation block */
    size_t nblock;
    /* carved from block; shapes with T = lim.max_rows */
    float *resid;           /* (L+1, T, D) residual stream before each layer, and after the last */
    float *xn, *rstd;       /* (L, T, D), (L, T) attention RMSNorm output and 1/rms */
    float *q, *k, *v;       /* (L, T, NH*HD), (L, T, KVH*HD) x2, after RoPE */
    float *att;             /* (L, T, NH*HD) attention output */
    float *stats;           /* (L, NH, nstats) attention log-sum-exps */
    float *x2, *xn2, *rstd2;/* (L, T, D) x2, (L, T) */
    float *gate, *up, *hh;  /* (L, T, F) x3; hh = silu(gate) * up */
    float *dx, *dxn;        /* (T, D) */
    float *datt, *dq;       /* (T, NH*HD) */
    float *dk, *dv;         /* (T, KVH*HD) */
    float *dgate, *dup, *dh;/* (T, F) */
    float *hx, *hxn, *hrstd, *hlogits, *hdx, *hloss; /* head chunk: (HC, D) x2, (HC), (HC, V), (HC, D), (HC) */
    float *rope_cos, *rope_sin; /* (max_pos + 1, HD/2) */
    float *scratch;         /* attention scratch */
    size_t nstats_max;
    int *ids, *pos;         /* (T) */
    int *sup_row, *sup_tgt; /* (T) */
    AttnSample *as;         /* (max_samples) */
} Train;

void train_init(Train *t, const ModelConfig *cfg, const TrainLimits *lim, int variant);
void train_release(Train *t);

/* 0 if sample s can be trained by a model with cfg and variant, else -1
 * with err ("token id 300 outside the vocabulary (264)"). */
int train_check_sample(const PackSample *s, const ModelConfig *cfg, int variant, Err *err);

/* Forward (and backward unless dw is NULL) of the nb samples.  Returns
 * Σ CE over supervised tokens; *nsup gets their number.  dw accumulates
 * (+=) the gradient of Σ CE / norm. */
double train_step(Train *t, const ModelWeights *w, ModelWeights *dw, const PackSample *batch, int nb, double norm,
                  long *nsup);

/* Supervised tokens of a sample (loss_mask ones). */
long train_sample_targets(const PackSample *s);

/* Model FLOPs per token (6·N_matmul + attention), for MFU reports. */
double train_flops_per_token(const ModelConfig *cfg, int seq);

#endif
