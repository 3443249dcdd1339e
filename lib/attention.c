/*
 * attention.c - MISO attention, block log-sum-exp form (see attention.h).
 *
 * Per (sample, head) the output rows need the scores S = Q_out [K_in;
 * K_out]ᵀ / √HD (t_o, Σt_i + t_o), the output block causal.  They are
 * computed by blocks of ROW_BLOCK (64) query rows: rows [j0, j1) against the
 * inputs' keys and the output keys 0 .. j1-1 only, so the masked upper
 * triangle beyond the block is never computed, and one block's S and dP
 * (64 x (Σt_i + j1) floats each, 0.85 MB together at most for the Crab bench
 * samples) stay in the 1 MB L2 cache between the two gemms that make them, the
 * row passes and the gemms that read them.  Each row is normalised per key
 * block (L_b) and the blocks are mixed with per-row coefficients a_b:
 *   mixture: L*_i = logaddexp(L_i, L_o), a_i = w_i e^(L_i - L*_i),
 *            a_o = Σ_i w_i e^(L_o - L*_i)
 *   joint:   L* = logsumexp(L_1..L_n, L_o + beta), a_i = e^(L_i - L*),
 *            a_o = e^(L_o + beta - L*)
 * and P = a_b · softmax_b(S), out = P · V.  The cost is O((Σt_i + t_o) · t_o
 * · HD) per head instead of n full attentions over (t_i + t_o)^2, and the
 * inputs never see each other: each input's own causal attention goes by the
 * same row blocks (about Σ t_i^2/2 products instead of Σ t_i^2).  The row
 * passes take one exp per entry (max, then e^(x - max) and its sum, then a
 * scale), all `omp simd` loops.
 *
 * Measured (tiny preset, 8 Crab-shaped para samples, attention alone,
 * forward + backward of 4 layers, 1 thread, min of 5): one whole-row S per
 * (sample, head) with 128-row output blocks and full t_i x t_i input
 * products took 1.14 s; these 64-row blocks with the vectorised row passes
 * 0.92 s (32-row blocks: +5 %, 128: +10 %).
 *
 * Backward (trainer-notes §4.3), with P̂_b the block softmax recomputed
 * from S and L_b, dP = dO · Vᵀ and δ_b = Σ_{k in b} P̂ dP (= <dO, Ō_b>):
 *   mixture: D_i = λ_i δ_i + r_i δ_o; dS_i = P̂_i (a_i dP - a_i D_i),
 *            dS_o = P̂_o (a_o dP - Σ_i w_i r_i D_i)
 *   joint:   D = Σ_b a_b δ_b; dS_b = P̂_b (a_b dP - a_b D)
 * i.e. dS = P̂ (a_b dP - z_b) with two scalars per row and block, and
 * dV += (a_b P̂)ᵀ dO, dQ += dS K / √HD, dK += dSᵀ Q / √HD.
 *
 * Threads: the (sample, KV head) work items run in an OpenMP loop; a work
 * item handles its group's query heads in order, so the dK/dV sums of a
 * group happen in a fixed order and each item writes disjoint memory.  BLAS
 * called inside a parallel region runs single-threaded (OpenBLAS's OpenMP
 * build checks omp_in_parallel), which suits these small products.
 */
#include "attention.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "matmul.h"

/* The row passes are compiled for AVX2 and for the baseline, picked at
 * load time (GCC/Clang function multiversioning, x86-64 with ifunc): the
 * baseline -O2 build is SSE2, 4 floats wide.  The clones do the same float
 * operations (no FMA contraction: ISO C mode), but the vector width changes
 * the order of the sums of e^x, so the last bits can differ between
 * machines, never between runs or thread counts on one machine. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define ROW_PASS __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef ROW_PASS
#define ROW_PASS
#endif

/* Query rows per block (see the top comment). */
#ifndef ROW_BLOCK
#define ROW_BLOCK 64
#endif

int attn_variant_parse(const char *name)
{
    if (!strcmp(name, "miso"))
        return ATTN_MISO;
    if (!strcmp(name, "miso-fid"))
        return ATTN_FID;
    if (!strcmp(name, "weights"))
        return ATTN_WEIGHTS;
    if (!strcmp(name, "concat"))
        return ATTN_CONCAT;
    return -1;
}

const char *attn_variant_name(int v)
{
    static const char *names[] = {"miso", "miso-fid", "weights", "concat"};
    return v >= 0 && v < 4 ? names[v] : "?";
}

void attn_sample_weights(AttnSample *s, int variant, const float *weights)
{
    s->joint = variant == ATTN_FID || variant == ATTN_CONCAT;
    s->beta = variant == ATTN_FID ? logf((float)s->n) : 0.0f;
    for (int i = 0; i < s->n; i++)
        s->w[i] = variant == ATTN_WEIGHTS && weights ? weights[i] : 1.0f / (float)s->n;
}

void attn_batch_finish(AttnBatch *b)
{
    size_t off = 0;
    b->max_rows = b->max_keys = b->max_n = 0;
    for (int si = 0; si < b->ns; si++) {
        AttnSample *s = &b->s[si];
        s->in_total = 0;
        for (int i = 0; i < s->n; i++) {
            s->in_total += s->in_len[i];
            if (s->in_len[i] > b->max_rows)
                b->max_rows = s->in_len[i];
        }
        s->stats_off = off;
        off += (size_t)s->in_total + (size_t)s->out_len * (size_t)(s->n + 1);
        if (s->out_len > b->max_rows)
            b->max_rows = s->out_len;
        if (s->in_total + s->out_len > b->max_keys)
            b->max_keys = s->in_total + s->out_len;
        if (s->n > b->max_n)
            b->max_n = s->n;
    }
    b->nstats = off;
}

/* Per thread: S and dP (ROW_BLOCK rows, keys) plus a and z (n+1 each). */
static int row_block(int max_rows)
{
    return max_rows < ROW_BLOCK ? max_rows : ROW_BLOCK;
}

static size_t scratch_per_thread(int max_rows, int max_keys, int max_n)
{
    size_t sq = size_mul((size_t)row_block(max_rows), (size_t)max_keys);
    return size_add(size_mul(2, sq), size_mul(2, (size_t)max_n + 1)) + 64;
}

size_t attn_scratch_floats(int max_rows, int max_keys, int max_n, int nthreads)
{
    return size_mul(scratch_per_thread(max_rows, max_keys, max_n), (size_t)nthreads);
}

static int nthreads_now(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* ---------------------------------------------------------------------------
 * Row coefficients.  L (n+1) = block LSEs (inputs then output) of one output
 * row; a (n+1) gets the forward mixing coefficients. */
static void row_coefs(const AttnSample *s, const float *L, float *a)
{
    int n = s->n;
    float Lo = L[n];
    if (!s->joint) {
        float ao = 0.0f;
        for (int i = 0; i < n; i++) {
            float m = fmaxf(L[i], Lo);
            float ls = m + logf(expf(L[i] - m) + expf(Lo - m));
            a[i] = s->w[i] * expf(L[i] - ls);
            ao += s->w[i] * expf(Lo - ls);
        }
        a[n] = ao;
    } else {
        float m = Lo + s->beta;
        for (int i = 0; i < n; i++)
            m = fmaxf(m, L[i]);
        double sum = exp((double)(Lo + s->beta - m));
        for (int i = 0; i < n; i++)
            sum += exp((double)(L[i] - m));
        float ls = m + (float)log(sum);
        for (int i = 0; i < n; i++)
            a[i] = expf(L[i] - ls);
        a[n] = expf(Lo + s->beta - ls);
    }
}

/* x[0..n) (n >= 1) := e^(x - max x), one exp per entry; returns the block's
 * log-sum-exp and sets *inv = 1 / Σ e^(x - max), so that the block softmax is
 * x · *inv afterwards. */
ROW_PASS static float exp_block(float *x, int n, float *inv)
{
    float m = x[0];
#pragma omp simd reduction(max : m)
    for (int c = 1; c < n; c++)
        m = x[c] > m ? x[c] : m;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < n; c++) {
        x[c] = attn_exp(x[c] - m);
        sum += x[c];
    }
    *inv = 1.0f / sum;
    return m + logf(sum);
}

/* x[0..n) := e^(x - l); returns Σ x · d (δ = <P̂, dP> of one block) */
ROW_PASS static float exp_dot(float *x, const float *d, int n, float l)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int c = 0; c < n; c++) {
        x[c] = attn_exp(x[c] - l);
        s += x[c] * d[c];
    }
    return s;
}

/* dS = p (a dP - z) into d, P = a p into p */
/* x[0..n) *= f */
ROW_PASS static void scale_block(float *x, int n, float f)
{
#pragma omp simd
    for (int c = 0; c < n; c++)
        x[c] *= f;
}

ROW_PASS static void grad_block(float *p, float *d, int n, float a, float z)
{
#pragma omp simd
    for (int c = 0; c < n; c++) {
        float pc = p[c];
        d[c] = pc * (a * d[c] - z);
        p[c] = a * pc;
    }
}

/* C (M, N) = alpha · A Bᵀ into a zeroed buffer with beta = 1: OpenBLAS's
 * beta = 0 path clears C with its own scalar loop (sgemm_beta, 7-8 % of the
 * attention profile), memset is several times faster, and the kernel's sums
 * are the same. */
static void gemm_nt_zero(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float *C,
                         int ldc)
{
    for (int r = 0; r < M; r++)
        memset(C + (size_t)r * ldc, 0, sizeof(float) * (size_t)N);
    matmul_gemm(0, 1, M, N, K, alpha, A, lda, B, ldb, 1.0f, C, ldc);
}

/* ---------------------------------------------------------------------------
 * Input blocks: plain causal self-attention of rows r0 .. r0+t-1, by blocks
 * of ROW_BLOCK query rows, block [j0, j1) against keys 0 .. j1-1 only.  S and
 * dP hold one row block with row stride j1. */
static void causal_forward(float *out, float *L, const float *q, const float *k, const float *v, int r0, int t, int h,
                           int g, const AttnBatch *b, float *S)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd;
    float scale = 1.0f / sqrtf((float)hd);
    const float *Q = q + (size_t)r0 * QD + (size_t)h * hd, *K = k + (size_t)r0 * KD + (size_t)g * hd;
    const float *V = v + (size_t)r0 * KD + (size_t)g * hd;
    float *O = out + (size_t)r0 * QD + (size_t)h * hd;
    for (int j0 = 0; j0 < t; j0 += ROW_BLOCK) {
        int j1 = j0 + ROW_BLOCK < t ? j0 + ROW_BLOCK : t, m = j1 - j0;
        gemm_nt_zero(m, j1, hd, scale, Q + (size_t)j0 * QD, QD, K, KD, S, j1);
        for (int r = 0; r < m; r++) {
            float *row = S + (size_t)r * j1, inv;
            int len = j0 + r + 1;
            L[j0 + r] = exp_block(row, len, &inv);
            scale_block(row, len, inv);
            for (int c = len; c < j1; c++)
                row[c] = 0.0f;
        }
        matmul_gemm(0, 0, m, hd, j1, 1.0f, S, j1, V, KD, 0.0f, O + (size_t)j0 * QD, QD);
    }
}

static void causal_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                            const float *v, const float *L, int r0, int t, int h, int g, const AttnBatch *b, float *S,
                            float *dP)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd;
    float scale = 1.0f / sqrtf((float)hd);
    const float *Q = q + (size_t)r0 * QD + (size_t)h * hd, *K = k + (size_t)r0 * KD + (size_t)g * hd;
    const float *V = v + (size_t)r0 * KD + (size_t)g * hd, *dO = dout + (size_t)r0 * QD + (size_t)h * hd;
    float *dQ = dq + (size_t)r0 * QD + (size_t)h * hd, *dK = dk + (size_t)r0 * KD + (size_t)g * hd;
    float *dV = dv + (size_t)r0 * KD + (size_t)g * hd;
    for (int j0 = 0; j0 < t; j0 += ROW_BLOCK) {
        int j1 = j0 + ROW_BLOCK < t ? j0 + ROW_BLOCK : t, m = j1 - j0;
        const float *Qb = Q + (size_t)j0 * QD, *dOb = dO + (size_t)j0 * QD;
        gemm_nt_zero(m, j1, hd, scale, Qb, QD, K, KD, S, j1);
        gemm_nt_zero(m, j1, hd, 1.0f, dOb, QD, V, KD, dP, j1);
        for (int r = 0; r < m; r++) {
            float *row = S + (size_t)r * j1, *drow = dP + (size_t)r * j1;
            int len = j0 + r + 1;
            float delta = exp_dot(row, drow, len, L[j0 + r]);
            grad_block(row, drow, len, 1.0f, delta);
            for (int c = len; c < j1; c++)
                row[c] = drow[c] = 0.0f;
        }
        matmul_gemm(1, 0, j1, hd, m, 1.0f, S, j1, dOb, QD, 1.0f, dV, KD);
        matmul_gemm(0, 0, m, hd, j1, scale, dP, j1, K, KD, 1.0f, dQ + (size_t)j0 * QD, QD);
        matmul_gemm(1, 0, j1, hd, m, scale, dP, j1, Qb, QD, 1.0f, dK, KD);
    }
}

/* ---------------------------------------------------------------------------
 * Output rows, by blocks of ROW_BLOCK query rows: block [j0, j1) needs the
 * inputs' keys (in_total) and the output keys 0 .. j1-1 only, which is the
 * column layout of S and dP (row stride nkb = in_total + j1).  One block's S
 * and dP stay in the L2 cache between the products and the row passes. */

/* S = scale · Q_out[j0..j1) [K_in; K_out[0..j1)]ᵀ */
static void out_scores(float *S, const float *q, const float *k, const AttnSample *s, int h, int g,
                       const AttnBatch *b, int j0, int j1)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd, ti = s->in_total, nkb = ti + j1;
    float scale = 1.0f / sqrtf((float)hd);
    const float *Q = q + (size_t)(s->out_row + j0) * QD + (size_t)h * hd;
    gemm_nt_zero(j1 - j0, ti, hd, scale, Q, QD, k + (size_t)s->in_row * KD + (size_t)g * hd, KD, S, nkb);
    gemm_nt_zero(j1 - j0, j1, hd, scale, Q, QD, k + (size_t)s->out_row * KD + (size_t)g * hd, KD, S + ti, nkb);
}

static void out_forward(float *out, float *st, const float *q, const float *k, const float *v, const AttnSample *s,
                        int h, int g, const AttnBatch *b, float *S, float *a)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd, to = s->out_len, ti = s->in_total;
    int n = s->n;
    const float *Vi = v + (size_t)s->in_row * KD + (size_t)g * hd, *Vo = v + (size_t)s->out_row * KD + (size_t)g * hd;
    float *O = out + (size_t)s->out_row * QD + (size_t)h * hd;
    float inv[PACK_MAX_INPUTS + 1];
    for (int j0 = 0; j0 < to; j0 += ROW_BLOCK) {
        int j1 = j0 + ROW_BLOCK < to ? j0 + ROW_BLOCK : to, m = j1 - j0, nkb = ti + j1;
        out_scores(S, q, k, s, h, g, b, j0, j1);
        for (int r = 0; r < m; r++) {
            int j = j0 + r;
            float *row = S + (size_t)r * nkb, *L = st + (size_t)j * (n + 1);
            int c0 = 0;
            for (int i = 0; i < n; i++) {
                L[i] = exp_block(row + c0, s->in_len[i], &inv[i]);
                c0 += s->in_len[i];
            }
            L[n] = exp_block(row + ti, j + 1, &inv[n]);
            row_coefs(s, L, a);
            c0 = 0;
            for (int i = 0; i <= n; i++) {
                int len = i < n ? s->in_len[i] : j + 1;
                scale_block(row + (i < n ? c0 : ti), len, a[i] * inv[i]);
                c0 += i < n ? len : 0;
            }
            for (int c = ti + j + 1; c < nkb; c++)
                row[c] = 0.0f;
        }
        matmul_gemm(0, 0, m, hd, ti, 1.0f, S, nkb, Vi, KD, 0.0f, O + (size_t)j0 * QD, QD);
        matmul_gemm(0, 0, m, hd, j1, 1.0f, S + ti, nkb, Vo, KD, 1.0f, O + (size_t)j0 * QD, QD);
    }
}

static void out_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                         const float *v, const float *st, const AttnSample *s, int h, int g, const AttnBatch *b,
                         float *S, float *dP, float *a, float *z)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd, to = s->out_len, ti = s->in_total;
    int n = s->n;
    float scale = 1.0f / sqrtf((float)hd);
    const float *dO = dout + (size_t)s->out_row * QD + (size_t)h * hd;
    const float *Q = q + (size_t)s->out_row * QD + (size_t)h * hd;
    const float *Ki = k + (size_t)s->in_row * KD + (size_t)g * hd, *Ko = k + (size_t)s->out_row * KD + (size_t)g * hd;
    const float *Vi = v + (size_t)s->in_row * KD + (size_t)g * hd, *Vo = v + (size_t)s->out_row * KD + (size_t)g * hd;
    float *dQ = dq + (size_t)s->out_row * QD + (size_t)h * hd;
    float *dKi = dk + (size_t)s->in_row * KD + (size_t)g * hd, *dKo = dk + (size_t)s->out_row * KD + (size_t)g * hd;
    float *dVi = dv + (size_t)s->in_row * KD + (size_t)g * hd, *dVo = dv + (size_t)s->out_row * KD + (size_t)g * hd;
    for (int j0 = 0; j0 < to; j0 += ROW_BLOCK) {
        int j1 = j0 + ROW_BLOCK < to ? j0 + ROW_BLOCK : to, m = j1 - j0, nkb = ti + j1;
        const float *Qb = Q + (size_t)j0 * QD, *dOb = dO + (size_t)j0 * QD;
        out_scores(S, q, k, s, h, g, b, j0, j1);
        gemm_nt_zero(m, ti, hd, 1.0f, dOb, QD, Vi, KD, dP, nkb);
        gemm_nt_zero(m, j1, hd, 1.0f, dOb, QD, Vo, KD, dP + ti, nkb);
        for (int r = 0; r < m; r++) {
            int j = j0 + r;
            float *row = S + (size_t)r * nkb, *drow = dP + (size_t)r * nkb;
            const float *L = st + (size_t)j * (n + 1);
            float delta[PACK_MAX_INPUTS + 1];
            int c0 = 0;
            for (int i = 0; i <= n; i++) {
                int len = i < n ? s->in_len[i] : j + 1, base = i < n ? c0 : ti;
                delta[i] = exp_dot(row + base, drow + base, len, L[i]);
                c0 += i < n ? len : 0;
            }
            row_coefs(s, L, a);
            if (!s->joint) {
                /* a[i] = w_i λ_i; r_i recomputed; D_i = λ_i δ_i + r_i δ_o */
                float zo = 0.0f;
                for (int i = 0; i < n; i++) {
                    float mx = fmaxf(L[i], L[n]);
                    float ls = mx + logf(expf(L[i] - mx) + expf(L[n] - mx));
                    float lam = expf(L[i] - ls), rr = expf(L[n] - ls);
                    float D = lam * delta[i] + rr * delta[n];
                    z[i] = a[i] * D;
                    zo += s->w[i] * rr * D;
                }
                z[n] = zo;
            } else {
                float D = 0.0f;
                for (int i = 0; i <= n; i++)
                    D += a[i] * delta[i];
                for (int i = 0; i <= n; i++)
                    z[i] = a[i] * D;
            }
            c0 = 0;
            for (int i = 0; i <= n; i++) {
                int len = i < n ? s->in_len[i] : j + 1, base = i < n ? c0 : ti;
                grad_block(row + base, drow + base, len, a[i], z[i]);
                c0 += i < n ? len : 0;
            }
            for (int c = ti + j + 1; c < nkb; c++)
                row[c] = drow[c] = 0.0f;
        }
        /* dV += Pᵀ dO, dQ += dS K / √HD, dK += dSᵀ Q / √HD, inputs then output */
        matmul_gemm(1, 0, ti, hd, m, 1.0f, S, nkb, dOb, QD, 1.0f, dVi, KD);
        matmul_gemm(1, 0, j1, hd, m, 1.0f, S + ti, nkb, dOb, QD, 1.0f, dVo, KD);
        matmul_gemm(0, 0, m, hd, ti, scale, dP, nkb, Ki, KD, 1.0f, dQ + (size_t)j0 * QD, QD);
        matmul_gemm(0, 0, m, hd, j1, scale, dP + ti, nkb, Ko, KD, 1.0f, dQ + (size_t)j0 * QD, QD);
        matmul_gemm(1, 0, ti, hd, m, scale, dP, nkb, Qb, QD, 1.0f, dKi, KD);
        matmul_gemm(1, 0, j1, hd, m, scale, dP + ti, nkb, Qb, QD, 1.0f, dKo, KD);
    }
}

/* ---------------------------------------------------------------------------
 * Drivers: one work item per (sample, KV head). */

void attn_forward(float *out, float *stats, const float *q, const float *k, const float *v, const AttnBatch *b,
                  int skip_inputs, float *scratch)
{
    size_t per = scratch_per_thread(b->max_rows, b->max_keys, b->max_n);
    size_t sq = (size_t)row_block(b->max_rows) * (size_t)b->max_keys;
    int G = b->nh / b->kvh;
    long nwork = (long)b->ns * b->kvh;
    assert(b->nh % b->kvh == 0);
#pragma omp parallel for schedule(dynamic, 1)
    for (long w = 0; w < nwork; w++) {
        const AttnSample *s = &b->s[w / b->kvh];
        int g = (int)(w % b->kvh);
        float *S = scratch + per * (size_t)nthreads_now();
        float *a = S + 2 * sq;
        for (int h = g * G; h < (g + 1) * G; h++) {
            float *st = stats + (size_t)h * b->nstats + s->stats_off;
            if (!skip_inputs) {
                int r0 = s->in_row;
                for (int i = 0; i < s->n; i++) {
                    causal_forward(out, st + (r0 - s->in_row), q, k, v, r0, s->in_len[i], h, g, b, S);
                    r0 += s->in_len[i];
                }
            }
            out_forward(out, st + s->in_total, q, k, v, s, h, g, b, S, a);
        }
    }
}

void attn_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                   const float *stats, const AttnBatch *b, int skip_inputs, float *scratch)
{
    size_t per = scratch_per_thread(b->max_rows, b->max_keys, b->max_n);
    size_t sq = (size_t)row_block(b->max_rows) * (size_t)b->max_keys;
    int G = b->nh / b->kvh;
    long nwork = (long)b->ns * b->kvh;
#pragma omp parallel for schedule(dynamic, 1)
    for (long w = 0; w < nwork; w++) {
        const AttnSample *s = &b->s[w / b->kvh];
        int g = (int)(w % b->kvh);
        float *S = scratch + per * (size_t)nthreads_now();
        float *dP = S + sq;
        float *a = dP + sq;
        float *z = a + (size_t)(b->max_n + 1);
        for (int h = g * G; h < (g + 1) * G; h++) {
            const float *st = stats + (size_t)h * b->nstats + s->stats_off;
            out_backward(dq, dk, dv, dout, q, k, v, st + s->in_total, s, h, g, b, S, dP, a, z);
            if (!skip_inputs) {
                int r0 = s->in_row;
                for (int i = 0; i < s->n; i++) {
                    causal_backward(dq, dk, dv, dout, q, k, v, st + (r0 - s->in_row), r0, s->in_len[i], h, g, b,
                                    S, dP);
                    r0 += s->in_len[i];
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * Naive reference: the definitions, literally, in double. */

/* softmax-weighted sum over the keys listed in idx[0..m) for query row qr,
 * head h; returns the summed exponentials (S in eq. 7) and the normalised
 * attention output in o (hd). */
static double naive_attend(double *o, const double *q, const double *k, const double *v, int qr, const int *idx,
                           int m, int h, int g, int nh, int kvh, int hd)
{
    int QD = nh * hd, KD = kvh * hd;
    double sc[4096], mx = -INFINITY, sum = 0;
    assert(m <= 4096);
    for (int c = 0; c < m; c++) {
        double d = 0;
        for (int e = 0; e < hd; e++)
            d += q[(size_t)qr * QD + h * hd + e] * k[(size_t)idx[c] * KD + g * hd + e];
        sc[c] = d / sqrt((double)hd);
        if (sc[c] > mx)
            mx = sc[c];
    }
    for (int e = 0; e < hd; e++)
        o[e] = 0;
    for (int c = 0; c < m; c++) {
        double p = exp(sc[c] - mx);
        sum += p;
        for (int e = 0; e < hd; e++)
            o[e] += p * v[(size_t)idx[c] * KD + g * hd + e];
    }
    for (int e = 0; e < hd; e++)
        o[e] /= sum;
    return sum * exp(mx);
}

void attn_forward_naive(double *out, const double *q, const double *k, const double *v, const AttnSample *s,
                        int variant, int nh, int kvh, int hd)
{
    int QD = nh * hd, G = nh / kvh, n = s->n;
    int idx[4096], start[PACK_MAX_INPUTS + 1];
    double o[512], oi[PACK_MAX_INPUTS][512], S[PACK_MAX_INPUTS];
    assert(hd <= 512);
    start[0] = s->in_row;
    for (int i = 1; i <= n; i++)
        start[i] = start[i - 1] + s->in_len[i - 1];
    for (int h = 0; h < nh; h++) {
        int g = h / G;
        for (int i = 0; i < n; i++) /* inputs: causal within themselves */
            for (int r = 0; r < s->in_len[i]; r++) {
                for (int c = 0; c <= r; c++)
                    idx[c] = start[i] + c;
                naive_attend(o, q, k, v, start[i] + r, idx, r + 1, h, g, nh, kvh, hd);
                memcpy(out + (size_t)(start[i] + r) * QD + h * hd, o, sizeof(double) * hd);
            }
        for (int j = 0; j < s->out_len; j++) {
            int qr = s->out_row + j;
            double *dst = out + (size_t)qr * QD + h * hd;
            if (variant == ATTN_CONCAT) {
                int m = 0;
                for (int c = s->in_row; c < start[n]; c++)
                    idx[m++] = c;
                for (int c = 0; c <= j; c++)
                    idx[m++] = s->out_row + c;
                naive_attend(dst, q, k, v, qr, idx, m, h, g, nh, kvh, hd);
                continue;
            }
            double tot = 0;
            for (int i = 0; i < n; i++) { /* CausalAttention(Q, [K_i, K_out]) */
                int m = 0;
                for (int c = 0; c < s->in_len[i]; c++)
                    idx[m++] = start[i] + c;
                for (int c = 0; c <= j; c++)
                    idx[m++] = s->out_row + c;
                S[i] = naive_attend(oi[i], q, k, v, qr, idx, m, h, g, nh, kvh, hd);
                tot += S[i];
            }
            for (int e = 0; e < hd; e++)
                dst[e] = 0;
            for (int i = 0; i < n; i++) {
                /* fid: S[i] is already S_i + S_out, eq. 7 */
                double w = variant == ATTN_FID ? S[i] / tot
                           : variant == ATTN_WEIGHTS ? (double)s->w[i] : 1.0 / n;
                for (int e = 0; e < hd; e++)
                    dst[e] += w * oi[i][e];
            }
        }
    }
}
