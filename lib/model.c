/*
 * model.c - the Llama-family parameter block: sizes, presets, random
 * initialisation, loading (Hugging Face directories through safetensors.c,
 * llama2.c .bin checkpoints) and saving (Hugging Face directories).
 *
 * Why one block: the trainer mirrors it for gradients and AdamW moments, so
 * every per-parameter loop is flat, and a checkpoint is one write.  The size
 * table below is the only place where tensor sizes are computed; everything
 * else (pointing, loading, saving) walks it.
 *
 * The RoPE layout: internally q/k rows are in the HF layout (rotate_half).
 * llama2.c checkpoints store the Meta interleaved layout, so their wq/wk rows
 * are permuted on load (Meta row 2i+j of a head becomes HF row j*HD/2 + i);
 * wk is permuted per KV head (the GQA trap of llama2.c's export.py).
 */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* ------------------------------------------------------------------------ */
/* Sizes and pointers                                                        */

size_t model_tensor_sizes(const ModelConfig *c, size_t sizes[MODEL_NTENSORS])
{
    size_t L = (size_t)c->n_layers, D = (size_t)c->dim, F = (size_t)c->hidden_dim, V = (size_t)c->vocab_size;
    size_t QD = size_mul((size_t)c->n_heads, (size_t)c->head_dim);
    size_t KD = size_mul((size_t)c->n_kv_heads, (size_t)c->head_dim);

    sizes[0] = size_mul(V, D);                          /* embed */
    sizes[1] = size_mul(L, D);                          /* attn_norm */
    sizes[2] = size_mul(L, size_mul(QD, D));            /* wq */
    sizes[3] = size_mul(L, size_mul(KD, D));            /* wk */
    sizes[4] = size_mul(L, size_mul(KD, D));            /* wv */
    sizes[5] = c->qkv_bias ? size_mul(L, QD) : 0;       /* bq */
    sizes[6] = c->qkv_bias ? size_mul(L, KD) : 0;       /* bk */
    sizes[7] = c->qkv_bias ? size_mul(L, KD) : 0;       /* bv */
    sizes[8] = size_mul(L, size_mul(D, QD));            /* wo */
    sizes[9] = size_mul(L, D);                          /* ffn_norm */
    sizes[10] = size_mul(L, size_mul(F, D));            /* w_gate */
    sizes[11] = size_mul(L, size_mul(F, D));            /* w_up */
    sizes[12] = size_mul(L, size_mul(D, F));            /* w_down */
    sizes[13] = D;                                      /* final_norm */
    sizes[14] = c->tied ? 0 : size_mul(V, D);           /* lm_head */
    size_t total = 0;
    for (int i = 0; i < MODEL_NTENSORS; i++)
        total = size_add(total, sizes[i]);
    return total;
}

void model_point_weights(const ModelConfig *c, float *block, ModelWeights *w)
{
    size_t sizes[MODEL_NTENSORS];
    model_tensor_sizes(c, sizes);
    float **ptrs[MODEL_NTENSORS] = {&w->embed,  &w->attn_norm, &w->wq,       &w->wk,     &w->wv,
                                    &w->bq,     &w->bk,        &w->bv,       &w->wo,     &w->ffn_norm,
                                    &w->w_gate, &w->w_up,      &w->w_down,   &w->final_norm, &w->lm_head};
    float *p = block;
    for (int i = 0; i < MODEL_NTENSORS; i++) {
        *ptrs[i] = sizes[i] ? p : NULL;
        p += sizes[i];
    }
    if (c->tied)
        w->lm_head = w->embed;
}

/* ------------------------------------------------------------------------ */
/* Presets and random initialisation                                         */

static void config_base(ModelConfig *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->arch, sizeof c->arch, "llama");
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
    c->bos_id = -1;
    c->eos_id = -1;
}

int model_preset(ModelConfig *cfg, const char *name)
{
    ModelConfig c;
    config_base(&c);
    if (!strcmp(name, "tiny")) {
        /* The embedded demo model for the built-in byte tokenizer. */
        c.dim = 128, c.n_layers = 4, c.n_heads = 4, c.n_kv_heads = 2, c.hidden_dim = 352;
        c.vocab_size = 264, c.max_seq_len = 1024, c.tied = 1;
        snprintf(c.tokenizer, sizeof c.tokenizer, "byte");
    } else if (!strcmp(name, "small")) {
        /* trainer-notes §3.2's PyTorch baseline: untied lm_head. */
        c.dim = 256, c.n_layers = 4, c.n_heads = 8, c.n_kv_heads = 4, c.hidden_dim = 704;
        c.vocab_size = 8192, c.max_seq_len = 2048, c.tied = 0;
    } else if (!strcmp(name, "mid")) {
        c.dim = 512, c.n_layers = 8, c.n_heads = 8, c.n_kv_heads = 4, c.hidden_dim = 1408;
        c.vocab_size = 32000, c.max_seq_len = 2048, c.tied = 0;
    } else {
        return -1;
    }
    c.head_dim = c.dim / c.n_heads;
    *cfg = c;
    return 0;
}

void model_init_random(Model *m, const ModelConfig *cfg, uint64_t seed)
{
    size_t sizes[MODEL_NTENSORS];
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->nparams = model_tensor_sizes(cfg, sizes);
    m->block = xmalloc(size_mul(m->nparams ? m->nparams : 1, sizeof(float)));
    model_point_weights(cfg, m->block, &m->w);
    Rng g;
    rng_seed(&g, seed);
    float *p = m->block;
    for (int i = 0; i < MODEL_NTENSORS; i++) {
        /* norms (1, 9, 13) start at 1, biases (5, 6, 7) at 0, matrices N(0, 0.02) */
        for (size_t j = 0; j < sizes[i]; j++) {
            if (i == 1 || i == 9 || i == 13)
                p[j] = 1.0f;
            else if (i >= 5 && i <= 7)
                p[j] = 0.0f;
            else
                p[j] = (float)(0.02 * rng_normal(&g));
        }
        p += sizes[i];
    }
}

void model_release(Model *m)
{
    free(m->block);
    memset(m, 0, sizeof *m);
}
