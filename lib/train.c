/*
 * train.c - training forward/backward of a Llama-family model on packed MISO
 * micro-batches (see train.h for the layout and the loss convention).
 *
 * Legend: L layers, T rows (tokens) of the micro-batch, Tin input rows,
 * D width, NH/KVH heads, HD head width (QD = NH*HD, KD = KVH*HD), F FFN
 * width, V vocab.  Per-layer parameter slices use the l_ prefix; gradients
 * the d prefix.
 *
 * Why it is shaped this way (trainer-notes §3.2, §4.4):
 *   - Every linear layer is one sgemm over all rows of the micro-batch, so M
 *     is large and OpenBLAS runs near its peak; BLAS is called from serial
 *     code with OpenBLAS's OpenMP threads, and our elementwise loops are
 *     OpenMP loops on the same pool (no pthread/OpenMP fight).
 *   - The last layer only produces the inputs' K and V, and the head runs on
 *     supervised rows only, in chunks (the (rows, V) logits of the mid preset
 *     would be 260 MB at once; a 512-row chunk is 64 MB).
 *   - Activations are kept (not recomputed) except attention probabilities,
 *     which lib/attention recomputes from the saved log-sum-exps.
 *   - Reductions over rows (norm weights, embedding) loop over columns in
 *     parallel and rows serially, so no sum depends on the thread count.
 *   - Elementwise work is fused where that saves a pass over memory or an
 *     OpenMP barrier: each residual add goes into the RMSNorm that follows
 *     it, q and k are rotated in one region, and an activation gradient's
 *     first write is its sgemm (beta 0) instead of a memset and beta 1.
 *     Each row stays one thread's and no sum changes order, so the result
 *     is bit-identical to the unfused passes.  Measured (perf, mid, 1
 *     thread): those functions 305 -> 247 ms per step, of a ~7 s step.
 */
#include "train.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "matmul.h"

/* ---------------------------------------------------------------------------
 * Limits and sizing */

static long sample_rows(const PackSample *s)
{
    long r = s->out_len;
    for (int i = 0; i < s->n_inputs; i++)
        r += s->in_len[i];
    return r;
}

static int sample_maxpos(const PackSample *s)
{
    int m = 0;
    for (int i = 0; i < s->n_inputs; i++)
        for (int j = 0; j < s->in_len[i]; j++)
            if (s->in_pos[i][j] > m)
                m = s->in_pos[i][j];
    for (int j = 0; j < s->out_len; j++)
        if (s->out_pos[j] > m)
            m = s->out_pos[j];
    return m;
}

static void limits_sample(TrainLimits *lim, const PackSample *s)
{
    long rows = sample_rows(s);
    if (rows > lim->max_keys)
        lim->max_keys = (int)rows;
    if (s->n_inputs > lim->max_n)
        lim->max_n = s->n_inputs;
    if (s->out_len > lim->max_block)
        lim->max_block = s->out_len;
    for (int i = 0; i < s->n_inputs; i++)
        if (s->in_len[i] > lim->max_block)
            lim->max_block = s->in_len[i];
    int mp = sample_maxpos(s);
    if (mp > lim->max_pos)
        lim->max_pos = mp;
}

void train_limits_add(TrainLimits *lim, const PackSample *s, int n)
{
    long rows = 0, outs = 0;
    for (int i = 0; i < n; i++) {
        limits_sample(lim, &s[i]);
        rows += sample_rows(&s[i]);
        outs += s[i].out_len;
    }
    if (rows > lim->max_rows)
        lim->max_rows = (int)rows;
    if (outs > lim->max_out_rows)
        lim->max_out_rows = (int)outs;
    if (n > lim->max_samples)
        lim->max_samples = n;
}

static int cmp_long_desc(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x < y) - (x > y);
}

void train_limits_bound(TrainLimits *lim, const PackSample *s, size_t n, int mb)
{
    long *rows = xmalloc(sizeof(long) * (n ? n : 1)), *outs = xmalloc(sizeof(long) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        limits_sample(lim, &s[i]);
        rows[i] = sample_rows(&s[i]);
        outs[i] = s[i].out_len;
    }
    qsort(rows, n, sizeof(long), cmp_long_desc);
    qsort(outs, n, sizeof(long), cmp_long_desc);
    long r = 0, o = 0;
    for (size_t i = 0; i < n && i < (size_t)mb; i++)
        r += rows[i], o += outs[i];
    if (r > lim->max_rows)
        lim->max_rows = (int)r;
    if (o > lim->max_out_rows)
        lim->max_out_rows = (int)o;
    if (mb > lim->max_samples)
        lim->max_samples = mb;
    free(rows), free(outs);
}

long train_sample_targets(const PackSample *s)
{
    long n = 0;
    for (int j = 1; j < s->out_len; j++)
        n += s->loss_mask[j] != 0;
    return n;
}

double train_flops_per_token(const ModelConfig *c, int seq)
{
    double QD = (double)c->n_heads * c->head_dim, KD = (double)c->n_kv_heads * c->head_dim;
    double per_layer = c->dim * (QD + 2 * KD) + QD * c->dim + 3.0 * c->dim * c->hidden_dim;
    double nmat = c->n_layers * per_layer + (double)c->vocab_size * c->dim;
    return 6 * nmat + 12.0 * c->n_layers * seq * QD;
}

int train_check_sample(const PackSample *s, const ModelConfig *cfg, int variant, Err *err)
{
    for (int i = 0; i < s->n_inputs; i++)
        for (int j = 0; j < s->in_len[i]; j++)
            if (s->in_ids[i][j] < 0 || s->in_ids[i][j] >= cfg->vocab_size) {
                err_set(err, NULL, 0, "token id %d outside the model's vocabulary (%d)", s->in_ids[i][j],
                        cfg->vocab_size);
                return -1;
            }
    for (int j = 0; j < s->out_len; j++)
        if (s->out_ids[j] < 0 || s->out_ids[j] >= cfg->vocab_size) {
            err_set(err, NULL, 0, "token id %d outside the model's vocabulary (%d)", s->out_ids[j],
                    cfg->vocab_size);
            return -1;
        }
    if (variant == ATTN_WEIGHTS && !s->weights && s->n_inputs > 1) {
        err_set(err, NULL, 0, "attention 'weights' needs per-input weights, and the sample has none");
        return -1;
    }
    return 0;
}

void train_init(Train *t, const ModelConfig *cfg, const TrainLimits *lim, int variant)
{
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    t->lim = *lim;
    t->variant = variant;
    t->nthreads = 1;
#ifdef _OPENMP
    t->nthreads = omp_get_max_threads();
#endif
    size_t T = (size_t)(lim->max_rows > 0 ? lim->max_rows : 1), L = (size_t)cfg->n_layers, D = (size_t)cfg->dim;
    size_t QD = (size_t)cfg->n_heads * cfg->head_dim, KD = (size_t)cfg->n_kv_heads * cfg->head_dim;
    size_t F = (size_t)cfg->hidden_dim, V = (size_t)cfg->vocab_size;
    /* Big chunks: each chunk re-reads and re-writes all of dlm_head (V, D),
     * 64 MB for the mid preset, so 128-row chunks cost ~2 GB of traffic per
     * step; logits of 16 M floats bound the chunk's memory instead. */
    size_t HC = TRAIN_HEAD_FLOATS / V;
    HC = HC < 128 ? 128 : HC > 1024 ? 1024 : HC;
    if (HC > T)
        HC = T;
    t->head_chunk = (int)HC;
    size_t NH = (size_t)cfg->n_heads, half = (size_t)cfg->head_dim / 2;
    t->nstats_max = size_add(T, size_mul((size_t)lim->max_out_rows, (size_t)lim->max_n + 1));
    size_t npos = (size_t)lim->max_pos + 1;
    size_t nscr = attn_scratch_floats(lim->max_block > 0 ? lim->max_block : 1, lim->max_keys > 0 ? lim->max_keys : 1,
                                      lim->max_n > 0 ? lim->max_n : 1, t->nthreads);
    /* the size table: one place, checked arithmetic */
    size_t sizes[] = {
        size_mul(L + 1, size_mul(T, D)),                 /* resid */
        size_mul(L, size_mul(T, D)), size_mul(L, T),     /* xn, rstd */
        size_mul(L, size_mul(T, QD)),                    /* q */
        size_mul(L, size_mul(T, KD)), size_mul(L, size_mul(T, KD)), /* k, v */
        size_mul(L, size_mul(T, QD)),                    /* att */
        size_mul(L, size_mul(NH, t->nstats_max)),        /* stats */
        size_mul(L, size_mul(T, D)), size_mul(L, size_mul(T, D)), size_mul(L, T), /* x2, xn2, rstd2 */
        size_mul(L, size_mul(T, F)), size_mul(L, size_mul(T, F)), size_mul(L, size_mul(T, F)), /* gate, up, hh */
        size_mul(T, D), size_mul(T, D),                  /* dx, dxn */
        size_mul(T, QD), size_mul(T, QD),                /* datt, dq */
        size_mul(T, KD), size_mul(T, KD),                /* dk, dv */
        size_mul(T, F), size_mul(T, F), size_mul(T, F),  /* dgate, dup, dh */
        size_mul(HC, D), size_mul(HC, D), HC, size_mul(HC, V), size_mul(HC, D), HC, /* head */
        size_mul(npos, half), size_mul(npos, half),      /* rope */
        nscr,
    };
    float **ptrs[] = {&t->resid, &t->xn, &t->rstd, &t->q, &t->k, &t->v, &t->att, &t->stats, &t->x2, &t->xn2,
                      &t->rstd2, &t->gate, &t->up, &t->hh, &t->dx, &t->dxn, &t->datt, &t->dq, &t->dk, &t->dv,
                      &t->dgate, &t->dup, &t->dh, &t->hx, &t->hxn, &t->hrstd, &t->hlogits, &t->hdx, &t->hloss,
                      &t->rope_cos, &t->rope_sin, &t->scratch};
    size_t nt = sizeof sizes / sizeof sizes[0], total = 0;
    assert(nt == sizeof ptrs / sizeof ptrs[0]);
    for (size_t i = 0; i < nt; i++)
        total = size_add(total, sizes[i]);
    t->block = xcalloc(total, sizeof(float));
    t->nblock = total;
    float *p = t->block;
    for (size_t i = 0; i < nt; i++) {
        *ptrs[i] = p;
        p += sizes[i];
    }
    t->ids = xmalloc(sizeof(int) * T * 4);
    t->pos = t->ids + T, t->sup_row = t->pos + T, t->sup_tgt = t->sup_row + T;
    t->as = xcalloc((size_t)(lim->max_samples > 0 ? lim->max_samples : 1), sizeof(AttnSample));

    /* RoPE tables, HF rotate_half convention, optional Llama 3.1 scaling */
    int hd = cfg->head_dim;
    for (size_t i = 0; i < half; i++) {
        double freq = pow((double)cfg->rope_theta, -2.0 * (double)i / hd);
        if (cfg->rope_factor > 0) {
            double lowf_wl = cfg->rope_orig_max / (double)cfg->rope_low_freq;
            double highf_wl = cfg->rope_orig_max / (double)cfg->rope_high_freq;
            double wl = 2 * M_PI / freq;
            if (wl > lowf_wl) {
                freq /= cfg->rope_factor;
            } else if (wl >= highf_wl) {
                double sm = (cfg->rope_orig_max / wl - cfg->rope_low_freq) /
                            (cfg->rope_high_freq - cfg->rope_low_freq);
                freq = (1 - sm) * freq / cfg->rope_factor + sm * freq;
            }
        }
        for (size_t p2 = 0; p2 < npos; p2++) {
            double a = (double)p2 * freq;
            t->rope_cos[p2 * half + i] = (float)cos(a);
            t->rope_sin[p2 * half + i] = (float)sin(a);
        }
    }
}

void train_release(Train *t)
{
    free(t->block);
    free(t->ids);
    free(t->as);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------------------
 * Layers.  Each backward accumulates (+=) into its parameter gradients. */

/* out (N, D) = x · rstd · w; rstd (N) saved.  With res non-NULL, x += res
 * first: the residual add that precedes every norm of the forward, fused
 * into the norm's row loop (one pass over x and one barrier less).  The
 * sum of squares stays a serial loop, so the result is bit-identical to a
 * separate add and norm. */
static void rmsnorm_forward(float *out, float *rstd, float *x, const float *res, const float *w, int N, int D,
                            float eps)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        float *xr = x + (size_t)r * D;
        float *o = out + (size_t)r * D;
        if (res) {
            const float *rr = res + (size_t)r * D;
#pragma omp simd
            for (int c = 0; c < D; c++)
                xr[c] += rr[c];
        }
        float ss = 0.0f;
        for (int c = 0; c < D; c++)
            ss += xr[c] * xr[c];
        float rs = 1.0f / sqrtf(ss / (float)D + eps);
        rstd[r] = rs;
#pragma omp simd
        for (int c = 0; c < D; c++)
            o[c] = xr[c] * rs * w[c];
    }
}

/* columns per block of the row reductions (RMSNorm weights, embedding) */
#define COL_BLOCK 32

/* dx (N, D) += ..., dw (D) += Σ_r dout · x · rstd.  rows[] (if non-NULL) maps
 * row r of dout/x to row rows[r] of dx (the head's gathered rows). */
static void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *rstd,
                             const float *w, int N, int D, const int *rows)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *dy = dout + (size_t)r * D, *xr = x + (size_t)r * D;
        float *d = dx + (size_t)(rows ? rows[r] : r) * D;
        float rs = rstd[r], dot = 0.0f;
        for (int c = 0; c < D; c++)
            dot += dy[c] * w[c] * xr[c];
        float k = rs * rs * rs * dot / (float)D;
#pragma omp simd
        for (int c = 0; c < D; c++)
            d[c] += rs * dy[c] * w[c] - k * xr[c];
    }
    /* column blocks in parallel, rows in order inside a block: each column's
     * sum is the same serial sum as a plain column loop (bit-identical for
     * any thread count), but the rows are read contiguously */
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < D; c0 += COL_BLOCK) {
        int c1 = c0 + COL_BLOCK < D ? c0 + COL_BLOCK : D;
        float s[COL_BLOCK] = {0};
        for (int r = 0; r < N; r++) {
            const float *dy = dout + (size_t)r * D, *xr = x + (size_t)r * D;
            float rs = rstd[r];
#pragma omp simd
            for (int c = c0; c < c1; c++)
                s[c - c0] += dy[c] * xr[c] * rs;
        }
        for (int c = c0; c < c1; c++)
            dw[c] += s[c - c0];
    }
}

/* RoPE (rotate_half) of one row of nh heads in place; dir -1 is the
 * backward (the inverse rotation). */
static inline void rope_row(float *x, const float *cs, const float *sn, int nh, int hd, int dir)
{
    int half = hd / 2;
    for (int h = 0; h < nh; h++) {
        float *v = x + (size_t)h * hd;
#pragma omp simd
        for (int i = 0; i < half; i++) {
            float a = v[i], b = v[i + half], c = cs[i], s = dir > 0 ? sn[i] : -sn[i];
            v[i] = a * c - b * s;
            v[i + half] = b * c + a * s;
        }
    }
}

/* RoPE on rows rq0 .. N-1 of q (N, nq*HD) and on every row of k (N, nk*HD)
 * at positions pos (N), in one parallel region: each row is one thread's,
 * and the row's cos/sin entries are read once for both. */
static void rope_qk(float *q, float *k, const int *pos, int rq0, int N, int nq, int nk, int hd, const float *cosb,
                    const float *sinb, int dir)
{
    int half = hd / 2;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *cs = cosb + (size_t)pos[r] * half, *sn = sinb + (size_t)pos[r] * half;
        if (r >= rq0)
            rope_row(q + (size_t)r * nq * hd, cs, sn, nq, hd, dir);
        rope_row(k + (size_t)r * nk * hd, cs, sn, nk, hd, dir);
    }
}

static float sigmoidf(float x) { return 1.0f / (1.0f + attn_exp(-x)); }

static void swiglu_forward(float *h, const float *g, const float *u, size_t n)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        h[i] = g[i] * sigmoidf(g[i]) * u[i];
}

static void swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, size_t n)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float s = sigmoidf(g[i]);
        du[i] = dh[i] * g[i] * s;
        dg[i] = dh[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
}

static void add_inplace(float *a, const float *b, size_t n)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] += b[i];
}

/* dinp (T, K) = dout (T, N) · w (N, K), overwriting dinp (its zeroing folded
 * into the product: beta 0, where a memset and beta 1 wrote it twice),
 * and dw, dbias += as matmul_backward.  Bit-identical to the memset form. */
static void linear_backward_first(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                                  const float *w, int T, int K, int N)
{
    matmul_gemm(0, 0, T, K, N, 1.0f, dout, N, w, K, 0.0f, dinp, K);
    matmul_backward(NULL, dw, dbias, dout, inp, w, T, K, N);
}

/* ---------------------------------------------------------------------------
 * The step */

/* Lay the micro-batch out in rows; returns Tin, sets *T and the sup list. */
static int layout(Train *t, const PackSample *batch, int nb, int *Tp, int *nsup)
{
    int r = 0, ns = 0;
    for (int s = 0; s < nb; s++) {
        const PackSample *p = &batch[s];
        AttnSample *a = &t->as[s];
        memset(a, 0, sizeof *a);
        a->n = p->n_inputs;
        a->in_row = r;
        for (int i = 0; i < p->n_inputs; i++) {
            a->in_len[i] = p->in_len[i];
            for (int j = 0; j < p->in_len[i]; j++, r++) {
                t->ids[r] = p->in_ids[i][j];
                t->pos[r] = p->in_pos[i][j];
            }
        }
        attn_sample_weights(a, t->variant, p->weights);
    }
    int Tin = r;
    for (int s = 0; s < nb; s++) {
        const PackSample *p = &batch[s];
        t->as[s].out_row = r;
        t->as[s].out_len = p->out_len;
        for (int j = 0; j < p->out_len; j++, r++) {
            t->ids[r] = p->out_ids[j];
            t->pos[r] = p->out_pos[j];
            if (j > 0 && p->loss_mask[j]) {
                t->sup_row[ns] = r - 1;
                t->sup_tgt[ns++] = p->out_ids[j];
            }
        }
    }
    *Tp = r;
    *nsup = ns;
    return Tin;
}

double train_step(Train *t, const ModelWeights *w, ModelWeights *dw, const PackSample *batch, int nb, double norm,
                  long *nsup_out)
{
    const ModelConfig *c = &t->cfg;
    int L = c->n_layers, D = c->dim, NH = c->n_heads, KVH = c->n_kv_heads, HD = c->head_dim, F = c->hidden_dim;
    int V = c->vocab_size, QD = NH * HD, KD = KVH * HD;
    size_t Tm = (size_t)t->lim.max_rows;
    int T, nsup;
    assert(nb <= t->lim.max_samples);
    int Tin = layout(t, batch, nb, &T, &nsup);
    assert(T <= t->lim.max_rows && T - Tin <= t->lim.max_out_rows);
    AttnBatch ab = {.nh = NH, .kvh = KVH, .hd = HD, .ns = nb, .s = t->as};
    attn_batch_finish(&ab);
    assert(ab.nstats <= t->nstats_max && ab.max_rows <= t->lim.max_block && ab.max_keys <= t->lim.max_keys);

    /* embedding */
    for (int r = 0; r < T; r++)
        memcpy(t->resid + (size_t)r * D, w->embed + (size_t)t->ids[r] * D, sizeof(float) * D);

    /* ---- forward through the layers ---- */
    /* layer 0's attention norm; every later one is fused with the residual
     * add that ends the layer before it */
    rmsnorm_forward(t->xn, t->rstd, t->resid, NULL, w->attn_norm, T, D, c->norm_eps);
    for (int l = 0; l < L; l++) {
        int last = l == L - 1, r0 = last ? Tin : 0, Nq = T - r0;
        float *x = t->resid + l * Tm * D, *xo = t->resid + (l + 1) * Tm * D;
        float *xn = t->xn + l * Tm * D, *q = t->q + l * Tm * QD;
        float *k = t->k + l * Tm * KD, *v = t->v + l * Tm * KD, *att = t->att + l * Tm * QD;
        float *st = t->stats + l * (size_t)NH * t->nstats_max;
        float *x2 = t->x2 + l * Tm * D, *xn2 = t->xn2 + l * Tm * D, *rstd2 = t->rstd2 + l * Tm;
        float *g = t->gate + l * Tm * F, *u = t->up + l * Tm * F, *hh = t->hh + l * Tm * F;
        size_t lq = (size_t)l * QD, lk = (size_t)l * KD;
        matmul_forward(q + (size_t)r0 * QD, xn + (size_t)r0 * D, w->wq + lq * D, w->bq ? w->bq + lq : NULL, Nq, D,
                       QD);
        matmul_forward(k, xn, w->wk + lk * D, w->bk ? w->bk + lk : NULL, T, D, KD);
        matmul_forward(v, xn, w->wv + lk * D, w->bv ? w->bv + lk : NULL, T, D, KD);
        rope_qk(q, k, t->pos, r0, T, NH, KVH, HD, t->rope_cos, t->rope_sin, 1);
        attn_forward(att, st, q, k, v, &ab, last, t->scratch);
        matmul_forward(x2 + (size_t)r0 * D, att + (size_t)r0 * QD, w->wo + lq * D, NULL, Nq, QD, D);
        rmsnorm_forward(xn2 + (size_t)r0 * D, rstd2 + r0, x2 + (size_t)r0 * D, x + (size_t)r0 * D,
                        w->ffn_norm + (size_t)l * D, Nq, D, c->norm_eps);
        matmul_forward(g + (size_t)r0 * F, xn2 + (size_t)r0 * D, w->w_gate + (size_t)l * F * D, NULL, Nq, D, F);
        matmul_forward(u + (size_t)r0 * F, xn2 + (size_t)r0 * D, w->w_up + (size_t)l * F * D, NULL, Nq, D, F);
        swiglu_forward(hh + (size_t)r0 * F, g + (size_t)r0 * F, u + (size_t)r0 * F, (size_t)Nq * F);
        matmul_forward(xo + (size_t)r0 * D, hh + (size_t)r0 * F, w->w_down + (size_t)l * D * F, NULL, Nq, F, D);
        if (!last)
            rmsnorm_forward(t->xn + (l + 1) * Tm * D, t->rstd + (l + 1) * Tm, xo, x2, w->attn_norm + (size_t)(l + 1) * D,
                            T, D, c->norm_eps);
        else
            add_inplace(xo + (size_t)r0 * D, x2 + (size_t)r0 * D, (size_t)Nq * D);
    }

    /* ---- head on supervised rows, chunked, backward fused ---- */
    const float *xl = t->resid + (size_t)L * Tm * D;
    if (dw)
        memset(t->dx, 0, sizeof(float) * (size_t)T * D);
    double loss = 0;
    for (int c0 = 0; c0 < nsup; c0 += t->head_chunk) {
        int nc = nsup - c0 < t->head_chunk ? nsup - c0 : t->head_chunk;
        for (int i = 0; i < nc; i++)
            memcpy(t->hx + (size_t)i * D, xl + (size_t)t->sup_row[c0 + i] * D, sizeof(float) * D);
        rmsnorm_forward(t->hxn, t->hrstd, t->hx, NULL, w->final_norm, nc, D, c->norm_eps);
        matmul_forward(t->hlogits, t->hxn, w->lm_head, NULL, nc, D, V);
        float inv = (float)(1.0 / norm);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < nc; i++) {
            float *lg = t->hlogits + (size_t)i * V;
            float m = lg[0];
            for (int j = 1; j < V; j++)
                m = lg[j] > m ? lg[j] : m;
            /* the exponentials stay in lg for the gradient: one exp per
             * logit instead of two (softmax = e / s, not exp(lg - lz)) */
            int tg = t->sup_tgt[c0 + i];
            float ltg = lg[tg], s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (int j = 0; j < V; j++) {
                float e = attn_exp(lg[j] - m);
                lg[j] = e;
                s += e;
            }
            /* s >= 1: the largest logit contributes exp(0) (V >= 1) */
            // cppcheck-suppress invalidFunctionArg
            t->hloss[i] = m + (float)log(s) - ltg;
            if (dw) {
                float k = inv / s;
#pragma omp simd
                for (int j = 0; j < V; j++)
                    lg[j] *= k;
                lg[tg] -= inv;
            }
        }
        for (int i = 0; i < nc; i++)
            loss += t->hloss[i];
        if (!dw)
            continue;
        linear_backward_first(t->hdx, dw->lm_head, NULL, t->hlogits, t->hxn, w->lm_head, nc, D, V);
        rmsnorm_backward(t->dx, dw->final_norm, t->hdx, t->hx, t->hrstd, w->final_norm, nc, D, t->sup_row + c0);
    }
    *nsup_out = nsup;
    if (!dw)
        return loss;

    /* ---- backward through the layers; t->dx is d(residual) ---- */
    for (int l = L - 1; l >= 0; l--) {
        int last = l == L - 1, r0 = last ? Tin : 0, Nq = T - r0;
        float *x = t->resid + l * Tm * D;
        float *xn = t->xn + l * Tm * D, *rstd = t->rstd + l * Tm, *q = t->q + l * Tm * QD;
        float *k = t->k + l * Tm * KD, *v = t->v + l * Tm * KD, *att = t->att + l * Tm * QD;
        float *st = t->stats + l * (size_t)NH * t->nstats_max;
        float *x2 = t->x2 + l * Tm * D, *xn2 = t->xn2 + l * Tm * D, *rstd2 = t->rstd2 + l * Tm;
        float *g = t->gate + l * Tm * F, *u = t->up + l * Tm * F, *hh = t->hh + l * Tm * F;
        size_t lq = (size_t)l * QD, lk = (size_t)l * KD;
        float *dxr = t->dx + (size_t)r0 * D;
        /* MLP: xo = x2 + hh · w_downᵀ */
        linear_backward_first(t->dh, dw->w_down + (size_t)l * D * F, NULL, dxr, hh + (size_t)r0 * F,
                        w->w_down + (size_t)l * D * F, Nq, F, D);
        swiglu_backward(t->dgate, t->dup, t->dh, g + (size_t)r0 * F, u + (size_t)r0 * F, (size_t)Nq * F);
        linear_backward_first(t->dxn, dw->w_gate + (size_t)l * F * D, NULL, t->dgate, xn2 + (size_t)r0 * D,
                        w->w_gate + (size_t)l * F * D, Nq, D, F);
        matmul_backward(t->dxn, dw->w_up + (size_t)l * F * D, NULL, t->dup, xn2 + (size_t)r0 * D,
                        w->w_up + (size_t)l * F * D, Nq, D, F);
        rmsnorm_backward(dxr, dw->ffn_norm + (size_t)l * D, t->dxn, x2 + (size_t)r0 * D, rstd2 + r0,
                         w->ffn_norm + (size_t)l * D, Nq, D, NULL);
        /* attention: x2 = x + att · woᵀ */
        /* the inputs' rows of the last layer get no gradient from o_proj */
        memset(t->datt, 0, sizeof(float) * (size_t)r0 * QD);
        linear_backward_first(t->datt + (size_t)r0 * QD, dw->wo + lq * D, NULL, dxr, att + (size_t)r0 * QD, w->wo + lq * D,
                        Nq, QD, D);
        memset(t->dq, 0, sizeof(float) * (size_t)T * QD);
        memset(t->dk, 0, sizeof(float) * (size_t)T * KD);
        memset(t->dv, 0, sizeof(float) * (size_t)T * KD);
        attn_backward(t->dq, t->dk, t->dv, t->datt, q, k, v, st, &ab, last, t->scratch);
        rope_qk(t->dq, t->dk, t->pos, r0, T, NH, KVH, HD, t->rope_cos, t->rope_sin, -1);
        memset(t->dxn, 0, sizeof(float) * (size_t)r0 * D);
        linear_backward_first(t->dxn + (size_t)r0 * D, dw->wq + lq * D, dw->bq ? dw->bq + lq : NULL, t->dq + (size_t)r0 * QD,
                        xn + (size_t)r0 * D, w->wq + lq * D, Nq, D, QD);
        matmul_backward(t->dxn, dw->wk + lk * D, dw->bk ? dw->bk + lk : NULL, t->dk, xn, w->wk + lk * D, T, D, KD);
        matmul_backward(t->dxn, dw->wv + lk * D, dw->bv ? dw->bv + lk : NULL, t->dv, xn, w->wv + lk * D, T, D, KD);
        rmsnorm_backward(t->dx, dw->attn_norm + (size_t)l * D, t->dxn, x, rstd, w->attn_norm + (size_t)l * D, T, D,
                         NULL);
    }
    /* embedding: column-parallel, rows in order */
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < D; c0 += COL_BLOCK) {
        int c1 = c0 + COL_BLOCK < D ? c0 + COL_BLOCK : D;
        for (int r = 0; r < T; r++) {
            float *e = dw->embed + (size_t)t->ids[r] * D;
            const float *d = t->dx + (size_t)r * D;
            for (int cc = c0; cc < c1; cc++)
                e[cc] += d[cc];
        }
    }
    return loss;
}
