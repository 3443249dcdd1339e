/*
 * forward.h - inference for a Model (lib/model.h) in F32 with a KV cache:
 * batched prefill, token-by-token decoding, and multi-input MISO inference.
 *
 * Legend: L layers, D dim, NH/KVH query/key-value heads, HD head width,
 * KVD = KVH*HD, F FFN width, V vocab, T tokens in one call.
 *
 * The computation is Hugging Face's LlamaForCausalLM / Qwen2ForCausalLM:
 * RMSNorm, q/k/v projections (+ biases for Qwen2), RoPE by rotate_half with
 * inv_freq = 1 / theta^(2i/HD) (Llama 3.1 "llama3" rescaling applied),
 * grouped-query attention (query head h reads KV head h / (NH/KVH)), o_proj,
 * residual, RMSNorm, SwiGLU (down(silu(gate x) * up x)), residual; final
 * RMSNorm and lm_head.  Every projection goes through lib/matmul.
 *
 * Multi-input inference (DESIGN.md "Attention variants"): each input is
 * prefilled into its own KVCache (positions from 0).  The output tokens are
 * run with fwd_forward(..., ctx, nctx, attn, ...) and their queries attend to
 * the keys of every context cache and to their own cache (causally):
 *   FWD_ATTN_MISO      (1/n) Σ_i softmax over [K_i, K_out]
 *   FWD_ATTN_MISO_FID  one softmax over [K_1 .. K_n, K_out] with the output
 *                      block's scores weighted n (paper eq. 7)
 *   FWD_ATTN_CONCAT    one softmax over [K_1 .. K_n, K_out] (PCW)
 * With nctx = 1 all three are ordinary attention over [K_1, K_out]; with
 * nctx = 0 the call is ordinary causal self-attention over the own cache.
 *
 * NEEDSWORK: Mistral's sliding_window is not applied (every query sees the
 * whole cache): the same as transformers for sequences up to the window
 * (4096 for Mistral 7B v0.1, none from v0.2), different beyond it.
 *
 * Invariants: a KVCache holds len positions (k/v after RoPE) of capacity cap;
 * results do not depend on the thread count (each head is computed by one
 * thread in a fixed order).
 *
 * Ownership: a Forward borrows its Model (which must outlive it) and owns its
 * scratch buffers; a KVCache owns its arrays.  *_release frees.
 *
 * Errors: none at run time; shapes and capacity are the caller's contract
 * (asserted): c->len + T <= c->cap, ids within [0, V).
 *
 * Usage
 *   Forward f; fwd_init(&f, &model);
 *   KVCache c; kv_init(&c, &model.cfg, 256);
 *   fwd_forward(&f, &c, NULL, 0, 0, prompt, n, 0, logits, 0);   // prefill
 *   fwd_forward(&f, &c, NULL, 0, 0, &next, 1, n, logits, 0);     // one step
 *   kv_release(&c); fwd_release(&f);
 */
#ifndef MISO_FORWARD_H
#define MISO_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

enum { FWD_ATTN_MISO = 0, FWD_ATTN_MISO_FID = 1, FWD_ATTN_CONCAT = 2 };

typedef struct {
    int n_layers, kv_dim;
    int cap;            /* positions the arrays can hold */
    int len;            /* positions filled */
    float *k, *v;       /* (L, cap, KVD) each, after RoPE */
} KVCache;

void kv_init(KVCache *c, const ModelConfig *cfg, int cap);
void kv_reset(KVCache *c); /* len = 0 */
void kv_release(KVCache *c);

typedef struct {
    const Model *m;
    float *inv_freq;    /* (HD/2) */
    int nalloc;         /* tokens the scratch below can hold */
    float *x, *xb, *q, *k, *v, *att, *hb, *hb2; /* (T, D/D/QD/KVD/KVD/QD/F/F) */
    float *sc, *ob;     /* serial attention scratch: scores, block outputs */
    size_t nsc, nob;
} Forward;

void fwd_init(Forward *f, const Model *m);
void fwd_release(Forward *f);

/* Run T tokens ids at positions pos0 .. pos0+T-1, appending their k/v to c.
 * ctx/nctx: the context caches of a multi-input prompt (NULL/0 for ordinary
 * inference), combined as attn (FWD_ATTN_*).  logits: (T, V) when all is
 * non-zero, else (V) for the last token only; may be NULL. */
void fwd_forward(Forward *f, KVCache *c, KVCache *const *ctx, int nctx, int attn, const int32_t *ids, int T, int pos0,
                 float *logits, int all);

#endif
