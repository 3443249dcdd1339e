/*
 * forward.c - Llama-family inference with a KV cache and MISO multi-input
 * attention.
 *
 * Cost model: the projections (q/k/v/o, gate/up/down, lm_head) are all the
 * FLOPs that matter for prefill, and they are matmul_forward calls over all T
 * tokens at once (sgemm; sgemv for T = 1).  Attention is a plain loop per
 * (token, head): for T up to a few thousand it is a small share of the work,
 * and the loop form lets each query combine any number of key blocks (the
 * context caches of a multi-input prompt and its own cache) by per-block
 * softmax statistics (max m, sum S, unnormalised output O), which is the
 * "LSE merge" of trainer-notes §4.2:
 *   concat: O = Σ_b e^{m_b-M} O_b / Σ_b e^{m_b-M} S_b
 *   fid:    the same with the output block counted n times (eq. 7)
 *   miso:   (1/n) Σ_i (e^{m_i-M_i} O_i + e^{m_o-M_i} O_o) / (e^{m_i-M_i} S_i + e^{m_o-M_i} S_o)
 *
 * RoPE is computed as llama2.c's run.c computes it (inv_freq with powf, the
 * angle pos * inv_freq in float, cosf/sinf), in the rotate_half layout; this
 * is what makes greedy generation match run.c token for token.
 */
#include "forward.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matmul.h"

/* Matrices up to this many elements use the serial loop for one token. */
#define LINEAR_SMALL (1u << 16)
/* Prompts of at least this many tokens take the sgemm attention path. */
#define ATTN_GEMM_MIN_T 16
/* Query rows per sgemm block of the prefill attention. */
#define ATTN_ROWS 256

/* ------------------------------------------------------------------------ */
/* KV cache                                                                  */

void kv_init(KVCache *c, const ModelConfig *cfg, int cap)
{
    memset(c, 0, sizeof *c);
    c->n_layers = cfg->n_layers;
    c->kv_dim = cfg->n_kv_heads * cfg->head_dim;
    c->cap = cap;
    size_t n = size_mul(size_mul((size_t)c->n_layers, (size_t)(cap > 0 ? cap : 1)), (size_t)c->kv_dim);
    c->k = xmalloc(size_mul(n, sizeof(float)));
    c->v = xmalloc(size_mul(n, sizeof(float)));
}

void kv_reset(KVCache *c)
{
    c->len = 0;
}

void kv_release(KVCache *c)
{
    free(c->k);
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */

void fwd_init(Forward *f, const Model *m)
{
    const ModelConfig *c = &m->cfg;
    memset(f, 0, sizeof *f);
    f->m = m;
    int half = c->head_dim / 2;
    f->inv_freq = xmalloc(size_mul((size_t)half, sizeof(float)));
    for (int i = 0; i < half; i++) {
        float inv = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)c->head_dim);
        if (c->rope_factor > 0) {
            /* Llama 3.1 rope_type "llama3": rescale by wavelength band */
            float lo_wl = (float)c->rope_orig_max / c->rope_low_freq;
            float hi_wl = (float)c->rope_orig_max / c->rope_high_freq;
            float wl = 2.0f * (float)M_PI / inv;
            if (wl > lo_wl) {
                inv = inv / c->rope_factor;
            } else if (wl >= hi_wl) {
                float s = ((float)c->rope_orig_max / wl - c->rope_low_freq) / (c->rope_high_freq - c->rope_low_freq);
                inv = (1.0f - s) * inv / c->rope_factor + s * inv;
            }
        }
        f->inv_freq[i] = inv;
    }
}

static void scratch(Forward *f, int T)
{
    if (T <= f->nalloc)
        return;
    const ModelConfig *c = &f->m->cfg;
    size_t t = (size_t)T, QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    float **bufs[] = {&f->x, &f->xb, &f->q, &f->k, &f->v, &f->att, &f->hb, &f->hb2};
    size_t widths[] = {(size_t)c->dim, (size_t)c->dim, QD, KD, KD, QD, (size_t)c->hidden_dim, (size_t)c->hidden_dim};
    for (int i = 0; i < 8; i++) {
        free(*bufs[i]);
        *bufs[i] = xmalloc(size_mul(size_mul(t, widths[i]), sizeof(float)));
    }
    f->nalloc = T;
}

void fwd_release(Forward *f)
{
    free(f->inv_freq);
    free(f->sc), free(f->ob);
    free(f->x), free(f->xb), free(f->q), free(f->k), free(f->v), free(f->att), free(f->hb), free(f->hb2);
    memset(f, 0, sizeof *f);
}

/* ------------------------------------------------------------------------ */
/* Layers                                                                    */

/* out (N) = w (N, K) · x (K) + bias, serial, float accumulation in 8 lanes
 * (which the compiler turns into SIMD without reassociation flags). */
static void matvec_small(float *out, const float *x, const float *w, const float *bias, int K, int N)
{
    for (int n = 0; n < N; n++) {
        const float *r = w + (size_t)n * K;
        float acc[8] = {0};
        int k = 0;
        for (; k + 8 <= K; k += 8)
            for (int j = 0; j < 8; j++)
                acc[j] += r[k + j] * x[k + j];
        float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (; k < K; k++)
            s += r[k] * x[k];
        out[n] = bias ? s + bias[n] : s;
    }
}

/* out (T, N) = inp (T, K) · w (N, K)ᵀ + bias.  For one token and a small
 * matrix the sgemv call of the OpenMP OpenBLAS costs more in thread wake-up
 * than the product itself (stories260K: about 1,000 tok/s through sgemv with
 * 2 threads, 9,000 with OMP_NUM_THREADS=1), so such products take a serial
 * loop; everything else goes to lib/matmul. */
static void linear(float *out, const float *inp, const float *w, const float *bias, int T, int K, int N)
{
    if (T == 1 && (size_t)K * (size_t)N <= LINEAR_SMALL)
        matvec_small(out, inp, w, bias, K, N);
    else
        matmul_forward(out, inp, w, bias, T, K, N);
}

/* out (D) = w * x / rms(x) */
static void rmsnorm(float *out, const float *x, const float *w, int D, float eps)
{
    float ss = 0.0f;
    for (int i = 0; i < D; i++)
        ss += x[i] * x[i];
    ss = 1.0f / sqrtf(ss / (float)D + eps);
    for (int i = 0; i < D; i++)
        out[i] = w[i] * (ss * x[i]);
}

/* rotate_half RoPE of nh heads of width HD at position pos, in place */
static void rope(float *x, int nh, int HD, int pos, const float *inv_freq)
{
    int half = HD / 2;
    for (int i = 0; i < half; i++) {
        float a = (float)pos * inv_freq[i];
        float cs = cosf(a), sn = sinf(a);
        for (int h = 0; h < nh; h++) {
            float *p = x + (size_t)h * HD;
            float x0 = p[i], x1 = p[i + half];
            p[i] = x0 * cs - x1 * sn;
            p[i + half] = x1 * cs + x0 * sn;
        }
    }
}

/* Softmax statistics of q against n keys of K (rows stride apart): max *m,
 * sum *s of e^{score-m}, and o (HD) = Σ e^{score-m} v.  sc: n floats. */
static void attn_block(const float *q, const float *K, const float *V, int n, int stride, int HD, float scale,
                       float *sc, float *m, float *s, float *o)
{
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *k = K + (size_t)j * stride;
        float d = 0.0f;
        for (int i = 0; i < HD; i++)
            d += q[i] * k[i];
        sc[j] = d * scale;
        if (sc[j] > mx)
            mx = sc[j];
    }
    float sum = 0.0f;
    memset(o, 0, (size_t)HD * sizeof(float));
    for (int j = 0; j < n; j++) {
        float e = expf(sc[j] - mx);
        sum += e;
        const float *v = V + (size_t)j * stride;
        for (int i = 0; i < HD; i++)
            o[i] += e * v[i];
    }
    *m = mx;
    *s = sum;
}

/* One query head against the context blocks and its own cache (n_own keys). */
static void attn_head(float *out, const float *q, KVCache *const *ctx, int nctx, int attn, const float *Kown,
                      const float *Vown, int n_own, int l, int kv_off, int KVD, int HD, float scale, float *sc,
                      float *ob)
{
    float mo, so;
    float *oo = ob; /* own block's O; context blocks follow */
    attn_block(q, Kown, Vown, n_own, KVD, HD, scale, sc, &mo, &so, oo);
    if (nctx == 0) {
        for (int i = 0; i < HD; i++)
            out[i] = oo[i] / so;
        return;
    }
    float mi[nctx], si[nctx];
    for (int b = 0; b < nctx; b++) {
        const KVCache *c = ctx[b];
        size_t base = (size_t)l * c->cap * KVD + kv_off;
        attn_block(q, c->k + base, c->v + base, c->len, KVD, HD, scale, sc, &mi[b], &si[b], ob + (size_t)(b + 1) * HD);
    }
    if (attn == FWD_ATTN_MISO) {
        memset(out, 0, (size_t)HD * sizeof(float));
        for (int b = 0; b < nctx; b++) {
            float M = mi[b] > mo ? mi[b] : mo;
            float ei = expf(mi[b] - M), eo = expf(mo - M);
            float z = (ei * si[b] + eo * so) * (float)nctx;
            const float *o = ob + (size_t)(b + 1) * HD;
            for (int i = 0; i < HD; i++)
                out[i] += (ei * o[i] + eo * oo[i]) / z;
        }
    } else {
        float wo = attn == FWD_ATTN_MISO_FID ? (float)nctx : 1.0f;
        float M = mo;
        for (int b = 0; b < nctx; b++)
            if (mi[b] > M)
                M = mi[b];
        float eo = wo * expf(mo - M), z = eo * so;
        for (int i = 0; i < HD; i++)
            out[i] = eo * oo[i];
        for (int b = 0; b < nctx; b++) {
            float e = expf(mi[b] - M);
            z += e * si[b];
            const float *o = ob + (size_t)(b + 1) * HD;
            for (int i = 0; i < HD; i++)
                out[i] += e * o[i];
        }
        for (int i = 0; i < HD; i++)
            out[i] /= z;
    }
}

/* Attention of T new tokens by the per-(token, head) loop: decoding and
 * multi-input prompts. */
static void attn_loop(Forward *f, KVCache *c, KVCache *const *ctx, int nctx, int attn, const float *Kc,
                      const float *Vc, int T, int NH, int grp, int HD, int KVD, int l, int maxkeys, float scale)
{
    int QD = NH * HD;
    long work = (long)T * NH * maxkeys * HD;
    if (work <= 200000) {
        /* one token of a small model: no parallel region, no allocation */
        f->sc = grow_array(f->sc, &f->nsc, (size_t)maxkeys, sizeof(float));
        f->ob = grow_array(f->ob, &f->nob, (size_t)(nctx + 1) * HD, sizeof(float));
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                int kv_off = (h / grp) * HD;
                attn_head(f->att + (size_t)t * QD + (size_t)h * HD, f->q + (size_t)t * QD + (size_t)h * HD, ctx, nctx,
                          attn, Kc + kv_off, Vc + kv_off, c->len + t + 1, l, kv_off, KVD, HD, scale, f->sc, f->ob);
            }
        return;
    }
#pragma omp parallel
    {
        float *sc = xmalloc(size_mul((size_t)maxkeys, sizeof(float)));
        float *ob = xmalloc(size_mul((size_t)(nctx + 1) * HD, sizeof(float)));
#pragma omp for collapse(2) schedule(static)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                int kv_off = (h / grp) * HD;
                attn_head(f->att + (size_t)t * QD + (size_t)h * HD, f->q + (size_t)t * QD + (size_t)h * HD, ctx, nctx,
                          attn, Kc + kv_off, Vc + kv_off, c->len + t + 1, l, kv_off, KVD, HD, scale, sc, ob);
            }
        free(sc);
        free(ob);
    }
}

/* Causal self-attention of a prompt of T tokens (after len0 cached ones) by
 * two sgemm calls per (head, block of up to ATTN_ROWS query rows):
 * S = Q Kᵀ (rows, len0+T), masked row softmax, O = P V written into att.
 * Same result as attn_loop up to rounding; it turns the O(T² HD) attention
 * work of a long prefill into BLAS work.  The (head, block) pairs are spread
 * over the OpenMP threads and each sgemm runs single-threaded inside the
 * region (OpenBLAS does so when called from a parallel region): one barrier
 * per layer instead of one per call, and the same kernels whatever the
 * thread count.  Scratch: ATTN_ROWS x (len0+T) floats per thread. */
static void attn_prefill(Forward *f, const float *Kc, const float *Vc, int len0, int T, int NH, int KVH, int HD,
                         float scale)
{
    int QD = NH * HD, KVD = KVH * HD, grp = NH / KVH, NK = len0 + T;
    int nblk = (T + ATTN_ROWS - 1) / ATTN_ROWS;
#pragma omp parallel
    {
        float *S = xmalloc(size_mul(size_mul((size_t)ATTN_ROWS, (size_t)NK), sizeof(float)));
#pragma omp for collapse(2) schedule(static)
        for (int h = 0; h < NH; h++)
            for (int b = 0; b < nblk; b++) {
                int kv_off = (h / grp) * HD, t0 = b * ATTN_ROWS, R = T - t0 < ATTN_ROWS ? T - t0 : ATTN_ROWS;
                int nk = len0 + t0 + R; /* keys any row of this block can see */
                matmul_gemm(0, 1, R, nk, HD, scale, f->q + (size_t)t0 * QD + (size_t)h * HD, QD, Kc + kv_off, KVD, 0.0f,
                            S, nk);
                for (int r = 0; r < R; r++) {
                    float *row = S + (size_t)r * nk;
                    int n = len0 + t0 + r + 1;
                    float mx = row[0];
                    for (int j = 1; j < n; j++)
                        if (row[j] > mx)
                            mx = row[j];
                    float sum = 0.0f;
                    for (int j = 0; j < n; j++) {
                        row[j] = expf(row[j] - mx);
                        sum += row[j];
                    }
                    float inv = 1.0f / sum;
                    for (int j = 0; j < n; j++)
                        row[j] *= inv;
                    for (int j = n; j < nk; j++)
                        row[j] = 0.0f;
                }
                matmul_gemm(0, 0, R, HD, nk, 1.0f, S, nk, Vc + kv_off, KVD, 0.0f,
                            f->att + (size_t)t0 * QD + (size_t)h * HD, QD);
            }
        free(S);
    }
}

void fwd_forward(Forward *f, KVCache *c, KVCache *const *ctx, int nctx, int attn, const int32_t *ids, int T, int pos0,
                 float *logits, int all)
{
    const Model *m = f->m;
    const ModelConfig *cf = &m->cfg;
    const ModelWeights *w = &m->w;
    int D = cf->dim, F = cf->hidden_dim, V = cf->vocab_size, NH = cf->n_heads, KVH = cf->n_kv_heads, HD = cf->head_dim;
    int QD = NH * HD, KVD = KVH * HD, grp = NH / KVH;
    assert(T > 0 && c->len + T <= c->cap);
    scratch(f, T);
    float scale = 1.0f / sqrtf((float)HD);
    int maxkeys = c->len + T;
    for (int b = 0; b < nctx; b++)
        if (ctx[b]->len > maxkeys)
            maxkeys = ctx[b]->len;

    for (int t = 0; t < T; t++) {
        assert(ids[t] >= 0 && ids[t] < V);
        memcpy(f->x + (size_t)t * D, w->embed + (size_t)ids[t] * D, (size_t)D * sizeof(float));
    }
    for (int l = 0; l < cf->n_layers; l++) {
        for (int t = 0; t < T; t++)
            rmsnorm(f->xb + (size_t)t * D, f->x + (size_t)t * D, w->attn_norm + (size_t)l * D, D, cf->norm_eps);
        linear(f->q, f->xb, w->wq + (size_t)l * QD * D, w->bq ? w->bq + (size_t)l * QD : NULL, T, D, QD);
        linear(f->k, f->xb, w->wk + (size_t)l * KVD * D, w->bk ? w->bk + (size_t)l * KVD : NULL, T, D, KVD);
        linear(f->v, f->xb, w->wv + (size_t)l * KVD * D, w->bv ? w->bv + (size_t)l * KVD : NULL, T, D, KVD);
        float *Kc = c->k + (size_t)l * c->cap * KVD, *Vc = c->v + (size_t)l * c->cap * KVD;
        for (int t = 0; t < T; t++) {
            rope(f->q + (size_t)t * QD, NH, HD, pos0 + t, f->inv_freq);
            rope(f->k + (size_t)t * KVD, KVH, HD, pos0 + t, f->inv_freq);
            memcpy(Kc + (size_t)(c->len + t) * KVD, f->k + (size_t)t * KVD, (size_t)KVD * sizeof(float));
            memcpy(Vc + (size_t)(c->len + t) * KVD, f->v + (size_t)t * KVD, (size_t)KVD * sizeof(float));
        }
        if (nctx == 0 && T >= ATTN_GEMM_MIN_T)
            attn_prefill(f, Kc, Vc, c->len, T, NH, KVH, HD, scale);
        else
            attn_loop(f, c, ctx, nctx, attn, Kc, Vc, T, NH, grp, HD, KVD, l, maxkeys, scale);
        linear(f->xb, f->att, w->wo + (size_t)l * D * QD, NULL, T, QD, D);
        for (size_t i = 0; i < (size_t)T * D; i++)
            f->x[i] += f->xb[i];
        for (int t = 0; t < T; t++)
            rmsnorm(f->xb + (size_t)t * D, f->x + (size_t)t * D, w->ffn_norm + (size_t)l * D, D, cf->norm_eps);
        linear(f->hb, f->xb, w->w_gate + (size_t)l * F * D, NULL, T, D, F);
        linear(f->hb2, f->xb, w->w_up + (size_t)l * F * D, NULL, T, D, F);
        for (size_t i = 0; i < (size_t)T * F; i++) {
            float g = f->hb[i];
            f->hb[i] = g / (1.0f + expf(-g)) * f->hb2[i];
        }
        linear(f->xb, f->hb, w->w_down + (size_t)l * D * F, NULL, T, F, D);
        for (size_t i = 0; i < (size_t)T * D; i++)
            f->x[i] += f->xb[i];
    }
    c->len += T;
    if (!logits)
        return;
    int t0 = all ? 0 : T - 1, nt = all ? T : 1;
    for (int t = t0; t < T; t++)
        rmsnorm(f->xb + (size_t)(t - t0) * D, f->x + (size_t)t * D, w->final_norm, D, cf->norm_eps);
    linear(logits, f->xb, w->lm_head, NULL, nt, D, V);
}
