/*
 * attention.c - MISO attention, block log-sum-exp form (see attention.h).
 *
 * Per (sample, head) the output rows need one score matrix S (t_o, Σt_i +
 * t_o): one gemm for the inputs, then the output block, whose upper triangle
 * is masked, in 128-row blocks (ROW_BLOCK below).  Each row is then normalised per block (L_b) and the blocks are
 * mixed with per-row coefficients a_b:
 *   mixture: L*_i = logaddexp(L_i, L_o), a_i = w_i e^(L_i - L*_i),
 *            a_o = Σ_i w_i e^(L_o - L*_i)
 *   joint:   L* = logsumexp(L_1..L_n, L_o + beta), a_i = e^(L_i - L*),
 *            a_o = e^(L_o + beta - L*)
 * and P = a_b · softmax_b(S), out = P · V (two more gemms).  The cost is
 * O((Σt_i + t_o) · t_o · HD) per head instead of n full attentions over
 * (t_i + t_o)^2, and the inputs never see each other (Σ t_i^2/2 for their
 * own causal attention).
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

/* Per thread: S and dP (rows, keys) plus a and z (rows, n+1). */
static size_t scratch_per_thread(int max_rows, int max_keys, int max_n)
{
    size_t sq = size_mul((size_t)max_rows, (size_t)max_keys);
    size_t co = size_mul((size_t)max_rows, (size_t)max_n + 1);
    return size_add(size_mul(2, sq), size_mul(2, co)) + 64;
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

/* log-sum-exp of x[0..n) (n >= 1) */
static float lse(const float *x, int n)
{
    float m = x[0];
    for (int c = 1; c < n; c++)
        m = x[c] > m ? x[c] : m;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < n; c++)
        sum += attn_exp(x[c] - m);
    return m + logf(sum);
}

/* ---------------------------------------------------------------------------
 * Input blocks: plain causal self-attention of rows r0 .. r0+t-1. */
static void causal_forward(float *out, float *L, const float *q, const float *k, const float *v, int r0, int t, int h,
                           int g, const AttnBatch *b, float *S)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd;
    float scale = 1.0f / sqrtf((float)hd);
    matmul_gemm(0, 1, t, t, hd, scale, q + (size_t)r0 * QD + (size_t)h * hd, QD, k + (size_t)r0 * KD + (size_t)g * hd,
                KD, 0.0f, S, t);
    for (int r = 0; r < t; r++) {
        float *row = S + (size_t)r * t;
        float l = lse(row, r + 1);
        L[r] = l;
#pragma omp simd
        for (int c = 0; c <= r; c++)
            row[c] = attn_exp(row[c] - l);
        for (int c = r + 1; c < t; c++)
            row[c] = 0.0f;
    }
    matmul_gemm(0, 0, t, hd, t, 1.0f, S, t, v + (size_t)r0 * KD + (size_t)g * hd, KD, 0.0f,
                out + (size_t)r0 * QD + (size_t)h * hd, QD);
}

static void causal_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                            const float *v, const float *L, int r0, int t, int h, int g, const AttnBatch *b, float *S,
                            float *dP)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd;
    float scale = 1.0f / sqrtf((float)hd);
    const float *Q = q + (size_t)r0 * QD + (size_t)h * hd, *K = k + (size_t)r0 * KD + (size_t)g * hd;
    const float *V = v + (size_t)r0 * KD + (size_t)g * hd, *dO = dout + (size_t)r0 * QD + (size_t)h * hd;
    matmul_gemm(0, 1, t, t, hd, scale, Q, QD, K, KD, 0.0f, S, t);
    matmul_gemm(0, 1, t, t, hd, 1.0f, dO, QD, V, KD, 0.0f, dP, t);
    for (int r = 0; r < t; r++) {
        float *row = S + (size_t)r * t, *drow = dP + (size_t)r * t;
        float delta = 0.0f, lr = L[r];
#pragma omp simd reduction(+ : delta)
        for (int c = 0; c <= r; c++) {
            row[c] = attn_exp(row[c] - lr);
            delta += row[c] * drow[c];
        }
        for (int c = 0; c <= r; c++)
            drow[c] = row[c] * (drow[c] - delta);
        for (int c = r + 1; c < t; c++)
            row[c] = drow[c] = 0.0f;
    }
    matmul_gemm(1, 0, t, hd, t, 1.0f, S, t, dO, QD, 1.0f, dv + (size_t)r0 * KD + (size_t)g * hd, KD);
    matmul_gemm(0, 0, t, hd, t, scale, dP, t, K, KD, 1.0f, dq + (size_t)r0 * QD + (size_t)h * hd, QD);
    matmul_gemm(1, 0, t, hd, t, scale, dP, t, Q, QD, 1.0f, dk + (size_t)r0 * KD + (size_t)g * hd, KD);
}

/* ---------------------------------------------------------------------------
 * Output rows.  Column layout of S: the inputs' keys (in_total), then the
 * output block (out_len). */

/* The output-to-output block is causal: its products go by blocks of
 * ROW_BLOCK query rows, block [j0, j1) against keys 0 .. j1-1 only, which
 * skips most of the masked upper triangle (63 % of the full products for a
 * 511-row output instead of 100 %) while each gemm keeps >= 128 rows.  Entries
 * right of j1 in S and dP are never computed; the row loops zero every
 * masked entry before the products read them. */
#define ROW_BLOCK 128

/* S = scale · Q_out [K_in; K_out]ᵀ (output block: lower block triangle) */
static void out_scores(float *S, const float *q, const float *k, const AttnSample *s, int h, int g,
                       const AttnBatch *b)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd, to = s->out_len, ti = s->in_total, nk = ti + to;
    float scale = 1.0f / sqrtf((float)hd);
    const float *Q = q + (size_t)s->out_row * QD + (size_t)h * hd;
    matmul_gemm(0, 1, to, ti, hd, scale, Q, QD, k + (size_t)s->in_row * KD + (size_t)g * hd, KD, 0.0f, S, nk);
    for (int j0 = 0; j0 < to; j0 += ROW_BLOCK) {
        int j1 = j0 + ROW_BLOCK < to ? j0 + ROW_BLOCK : to;
        matmul_gemm(0, 1, j1 - j0, j1, hd, scale, Q + (size_t)j0 * QD, QD,
                    k + (size_t)s->out_row * KD + (size_t)g * hd, KD, 0.0f, S + (size_t)j0 * nk + ti, nk);
    }
}

static void out_forward(float *out, float *st, const float *q, const float *k, const float *v, const AttnSample *s,
                        int h, int g, const AttnBatch *b, float *S, float *a)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd, to = s->out_len, ti = s->in_total, nk = ti + to;
    int n = s->n;
    out_scores(S, q, k, s, h, g, b);
    for (int j = 0; j < to; j++) {
        float *row = S + (size_t)j * nk, *L = st + (size_t)j * (n + 1);
        int c0 = 0;
        for (int i = 0; i < n; i++) {
            L[i] = lse(row + c0, s->in_len[i]);
            c0 += s->in_len[i];
        }
        L[n] = lse(row + ti, j + 1);
        row_coefs(s, L, a);
        c0 = 0;
        for (int i = 0; i < n; i++) {
            float ai = a[i], li = L[i];
#pragma omp simd
            for (int c = c0; c < c0 + s->in_len[i]; c++)
                row[c] = ai * attn_exp(row[c] - li);
            c0 += s->in_len[i];
        }
        float an = a[n], ln = L[n];
#pragma omp simd
        for (int c = 0; c <= j; c++)
            row[ti + c] = an * attn_exp(row[ti + c] - ln);
        for (int c = j + 1; c < to; c++)
            row[ti + c] = 0.0f;
    }
    float *O = out + (size_t)s->out_row * QD + (size_t)h * hd;
    matmul_gemm(0, 0, to, hd, ti, 1.0f, S, nk, v + (size_t)s->in_row * KD + (size_t)g * hd, KD, 0.0f, O, QD);
    for (int j0 = 0; j0 < to; j0 += ROW_BLOCK) {
        int j1 = j0 + ROW_BLOCK < to ? j0 + ROW_BLOCK : to;
        matmul_gemm(0, 0, j1 - j0, hd, j1, 1.0f, S + (size_t)j0 * nk + ti, nk,
                    v + (size_t)s->out_row * KD + (size_t)g * hd, KD, 1.0f, O + (size_t)j0 * QD, QD);
    }
}

static void out_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                         const float *v, const float *st, const AttnSample *s, int h, int g, const AttnBatch *b,
                         float *S, float *dP, float *a, float *z)
{
    int QD = b->nh * b->hd, KD = b->kvh * b->hd, hd = b->hd, to = s->out_len, ti = s->in_total, nk = ti + to;
    int n = s->n;
    float scale = 1.0f / sqrtf((float)hd);
    const float *dO = dout + (size_t)s->out_row * QD + (size_t)h * hd;
    const float *Vi = v + (size_t)s->in_row * KD + (size_t)g * hd, *Vo = v + (size_t)s->out_row * KD + (size_t)g * hd;
    out_scores(S, q, k, s, h, g, b);
    matmul_gemm(0, 1, to, ti, hd, 1.0f, dO, QD, Vi, KD, 0.0f, dP, nk);
    for (int j0 = 0; j0 < to; j0 += ROW_BLOCK) {
        int j1 = j0 + ROW_BLOCK < to ? j0 + ROW_BLOCK : to;
        matmul_gemm(0, 1, j1 - j0, j1, hd, 1.0f, dO + (size_t)j0 * QD, QD, Vo, KD, 0.0f, dP + (size_t)j0 * nk + ti, nk);
    }
    for (int j = 0; j < to; j++) {
        float *row = S + (size_t)j * nk, *drow = dP + (size_t)j * nk;
        const float *L = st + (size_t)j * (n + 1);
        float delta[PACK_MAX_INPUTS + 1];
        int c0 = 0;
        for (int i = 0; i <= n; i++) {
            int len = i < n ? s->in_len[i] : j + 1;
            int base = i < n ? c0 : ti;
            float d = 0.0f, li = L[i];
#pragma omp simd reduction(+ : d)
            for (int c = base; c < base + len; c++) {
                row[c] = attn_exp(row[c] - li);
                d += row[c] * drow[c];
            }
            delta[i] = d;
            if (i < n)
                c0 += len;
        }
        row_coefs(s, L, a);
        if (!s->joint) {
            /* a[i] = w_i λ_i; r_i recomputed; D_i = λ_i δ_i + r_i δ_o */
            float zo = 0.0f;
            for (int i = 0; i < n; i++) {
                float m = fmaxf(L[i], L[n]);
                float ls = m + logf(expf(L[i] - m) + expf(L[n] - m));
                float lam = expf(L[i] - ls), r = expf(L[n] - ls);
                float D = lam * delta[i] + r * delta[n];
                z[i] = a[i] * D;
                zo += s->w[i] * r * D;
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
            int len = i < n ? s->in_len[i] : j + 1;
            int base = i < n ? c0 : ti;
            for (int c = base; c < base + len; c++) {
                float p = row[c];
                drow[c] = p * (a[i] * drow[c] - z[i]);
                row[c] = a[i] * p;
            }
            if (i < n)
                c0 += len;
        }
        for (int c = ti + j + 1; c < nk; c++)
            row[c] = drow[c] = 0.0f;
    }
    const float *Q = q + (size_t)s->out_row * QD + (size_t)h * hd;
    float *dQ = dq + (size_t)s->out_row * QD + (size_t)h * hd;
    /* dV += Pᵀ dO */
    matmul_gemm(1, 0, ti, hd, to, 1.0f, S, nk, dO, QD, 1.0f, dv + (size_t)s->in_row * KD + (size_t)g * hd, KD);
    /* dQ += dS K / √HD */
    matmul_gemm(0, 0, to, hd, ti, scale, dP, nk, k + (size_t)s->in_row * KD + (size_t)g * hd, KD, 1.0f, dQ, QD);
    /* dK += dSᵀ Q / √HD */
    matmul_gemm(1, 0, ti, hd, to, scale, dP, nk, Q, QD, 1.0f, dk + (size_t)s->in_row * KD + (size_t)g * hd, KD);
    /* the output block, by row blocks: dV_o += P̂ᵀ dO, dQ += dS K_o, dK_o += dSᵀ Q */
    float *dVo = dv + (size_t)s->out_row * KD + (size_t)g * hd, *dKo = dk + (size_t)s->out_row * KD + (size_t)g * hd;
    const float *Ko = k + (size_t)s->out_row * KD + (size_t)g * hd;
    for (int j0 = 0; j0 < to; j0 += ROW_BLOCK) {
        int j1 = j0 + ROW_BLOCK < to ? j0 + ROW_BLOCK : to, m = j1 - j0;
        const float *Sb = S + (size_t)j0 * nk + ti, *dPb = dP + (size_t)j0 * nk + ti;
        matmul_gemm(1, 0, j1, hd, m, 1.0f, Sb, nk, dO + (size_t)j0 * QD, QD, 1.0f, dVo, KD);
        matmul_gemm(0, 0, m, hd, j1, scale, dPb, nk, Ko, KD, 1.0f, dQ + (size_t)j0 * QD, QD);
        matmul_gemm(1, 0, j1, hd, m, scale, dPb, nk, Q + (size_t)j0 * QD, QD, 1.0f, dKo, KD);
    }
}

/* ---------------------------------------------------------------------------
 * Drivers: one work item per (sample, KV head). */

void attn_forward(float *out, float *stats, const float *q, const float *k, const float *v, const AttnBatch *b,
                  int skip_inputs, float *scratch)
{
    size_t per = scratch_per_thread(b->max_rows, b->max_keys, b->max_n);
    int G = b->nh / b->kvh;
    long nwork = (long)b->ns * b->kvh;
    assert(b->nh % b->kvh == 0);
#pragma omp parallel for schedule(dynamic, 1)
    for (long w = 0; w < nwork; w++) {
        const AttnSample *s = &b->s[w / b->kvh];
        int g = (int)(w % b->kvh);
        float *S = scratch + per * (size_t)nthreads_now();
        float *a = S + 2 * (size_t)b->max_rows * (size_t)b->max_keys;
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
    int G = b->nh / b->kvh;
    long nwork = (long)b->ns * b->kvh;
#pragma omp parallel for schedule(dynamic, 1)
    for (long w = 0; w < nwork; w++) {
        const AttnSample *s = &b->s[w / b->kvh];
        int g = (int)(w % b->kvh);
        float *S = scratch + per * (size_t)nthreads_now();
        float *dP = S + (size_t)b->max_rows * (size_t)b->max_keys;
        float *a = dP + (size_t)b->max_rows * (size_t)b->max_keys;
        float *z = a + (size_t)b->max_rows * (size_t)(b->max_n + 1);
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
