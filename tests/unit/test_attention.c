/*
 * test_attention.c - the LSE-merge attention against the literal definition
 * (double precision) for every variant: forward values, and backward against
 * central finite differences of the literal definition.  Also: one input
 * equals plain causal attention over [input; output], and results do not
 * depend on the number of threads.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "attention.h"
#include "rng.h"
#include "testhelp.h"
#include "util.h"

enum { NH = 4, KVH = 2, HD = 8, QD = NH * HD, KD = KVH * HD };

/* Two samples: A with 3 inputs (3, 5, 2) and a 6-token output; B with 1
 * input of 4 and a 3-token output.  Rows: A's inputs, B's input, A's output,
 * B's output (the trainer's layout). */
static void make_batch(AttnBatch *b, AttnSample *s, int variant)
{
    static const float wts[3] = {0.5f, 0.3f, 0.2f};
    memset(s, 0, 2 * sizeof *s);
    s[0].n = 3, s[0].in_len[0] = 3, s[0].in_len[1] = 5, s[0].in_len[2] = 2;
    s[0].in_row = 0, s[0].out_row = 14, s[0].out_len = 6;
    s[1].n = 1, s[1].in_len[0] = 4, s[1].in_row = 10, s[1].out_row = 20, s[1].out_len = 3;
    attn_sample_weights(&s[0], variant, wts);
    static const float one[1] = {1.0f};
    attn_sample_weights(&s[1], variant, one);
    *b = (AttnBatch){.nh = NH, .kvh = KVH, .hd = HD, .ns = 2, .s = s};
    attn_batch_finish(b);
}

#define T 23

static void fill(Rng *g, double *d, float *f, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) {
        d[i] = scale * rng_normal(g);
        f[i] = (float)d[i];
    }
}

/* naive forward of the whole batch, summed against R: the scalar whose
 * gradient the backward computes */
static double naive_loss(const double *q, const double *k, const double *v, const AttnBatch *b, int variant,
                         const double *R, double *out)
{
    memset(out, 0, sizeof(double) * T * QD);
    for (int i = 0; i < b->ns; i++)
        attn_forward_naive(out, q, k, v, &b->s[i], variant, NH, KVH, HD);
    double l = 0;
    for (int i = 0; i < T * QD; i++)
        l += out[i] * R[i];
    return l;
}

static double maxdiff_fd(double *x, const float *g, size_t n, const double *q, const double *k, const double *v,
                         const AttnBatch *b, int variant, const double *R, double *tmp, double *maxref)
{
    double md = 0, eps = 1e-5;
    *maxref = 0;
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + eps;
        double lp = naive_loss(q, k, v, b, variant, R, tmp);
        x[i] = keep - eps;
        double lm = naive_loss(q, k, v, b, variant, R, tmp);
        x[i] = keep;
        double fd = (lp - lm) / (2 * eps);
        if (fabs(fd - g[i]) > md)
            md = fabs(fd - g[i]);
        if (fabs(fd) > *maxref)
            *maxref = fabs(fd);
    }
    return md;
}

static void run_variant(int variant)
{
    AttnSample s[2];
    AttnBatch b;
    make_batch(&b, s, variant);
    Rng g;
    rng_seed(&g, 42 + (uint64_t)variant);
    double *qd = xmalloc(sizeof(double) * T * QD), *kd = xmalloc(sizeof(double) * T * KD);
    double *vd = xmalloc(sizeof(double) * T * KD), *R = xmalloc(sizeof(double) * T * QD);
    double *od = xmalloc(sizeof(double) * T * QD);
    float *q = xmalloc(sizeof(float) * T * QD), *k = xmalloc(sizeof(float) * T * KD);
    float *v = xmalloc(sizeof(float) * T * KD), *Rf = xmalloc(sizeof(float) * T * QD);
    float *out = xcalloc(T * QD, sizeof(float)), *stats = xmalloc(sizeof(float) * NH * b.nstats);
    fill(&g, qd, q, T * QD, 1.0);
    fill(&g, kd, k, T * KD, 1.0);
    fill(&g, vd, v, T * KD, 1.0);
    fill(&g, R, Rf, T * QD, 1.0);
    int nth = 1;
#ifdef _OPENMP
    nth = omp_get_max_threads();
#endif
    float *scratch = xmalloc(sizeof(float) * attn_scratch_floats(b.max_rows, b.max_keys, b.max_n, nth));
    const char *name = attn_variant_name(variant);

    attn_forward(out, stats, q, k, v, &b, 0, scratch);
    naive_loss(qd, kd, vd, &b, variant, R, od);
    double md = 0;
    for (int i = 0; i < T * QD; i++)
        md = fmax(md, fabs(out[i] - od[i]));
    CHECK(md < 1e-5, "%s: LSE-merge forward equals the literal definition (n=3 and n=1, GQA; max diff %.2g)",
          name, md);

    float *dq = xcalloc(T * QD, sizeof(float)), *dk = xcalloc(T * KD, sizeof(float));
    float *dv = xcalloc(T * KD, sizeof(float));
    attn_backward(dq, dk, dv, Rf, q, k, v, stats, &b, 0, scratch);
    double ref, mq = maxdiff_fd(qd, dq, T * QD, qd, kd, vd, &b, variant, R, od, &ref);
    CHECK(mq < 1e-4 * fmax(1, ref), "%s: dQ matches finite differences of the definition (max diff %.2g)", name,
          mq);
    double mk = maxdiff_fd(kd, dk, T * KD, qd, kd, vd, &b, variant, R, od, &ref);
    CHECK(mk < 1e-4 * fmax(1, ref), "%s: dK matches finite differences of the definition (max diff %.2g)", name,
          mk);
    double mv = maxdiff_fd(vd, dv, T * KD, qd, kd, vd, &b, variant, R, od, &ref);
    CHECK(mv < 1e-4 * fmax(1, ref), "%s: dV matches finite differences of the definition (max diff %.2g)", name,
          mv);

#ifdef _OPENMP
    /* thread count independence: bit-identical results with 1 thread */
    float *out1 = xcalloc(T * QD, sizeof(float)), *dq1 = xcalloc(T * QD, sizeof(float));
    float *dk1 = xcalloc(T * KD, sizeof(float)), *dv1 = xcalloc(T * KD, sizeof(float));
    omp_set_num_threads(1);
    attn_forward(out1, stats, q, k, v, &b, 0, scratch);
    attn_backward(dq1, dk1, dv1, Rf, q, k, v, stats, &b, 0, scratch);
    omp_set_num_threads(nth);
    CHECK(!memcmp(out, out1, sizeof(float) * T * QD) && !memcmp(dq, dq1, sizeof(float) * T * QD) &&
              !memcmp(dk, dk1, sizeof(float) * T * KD) && !memcmp(dv, dv1, sizeof(float) * T * KD),
          "%s: forward and backward are bit-identical with 1 and %d threads", name, nth);
    free(out1), free(dq1), free(dk1), free(dv1);
#endif
    free(qd), free(kd), free(vd), free(R), free(od), free(q), free(k), free(v), free(Rf), free(out), free(stats);
    free(scratch), free(dq), free(dk), free(dv);
}

/* With one input, each variant is plain causal attention over [input; output]. */
static void single_input(void)
{
    enum { TI = 5, TO = 7, TT = TI + TO };
    Rng g;
    rng_seed(&g, 7);
    float q[TT * QD], k[TT * KD], v[TT * KD];
    for (int i = 0; i < TT * QD; i++)
        q[i] = (float)rng_normal(&g);
    for (int i = 0; i < TT * KD; i++)
        k[i] = (float)rng_normal(&g), v[i] = (float)rng_normal(&g);
    /* plain causal attention over rows 0..TT-1 in double */
    double ref[TT * QD];
    for (int h = 0; h < NH; h++) {
        int gg = h / (NH / KVH);
        for (int r = 0; r < TT; r++) {
            double sc[TT], mx = -1e300, sum = 0;
            for (int c = 0; c <= r; c++) {
                double d = 0;
                for (int e = 0; e < HD; e++)
                    d += (double)q[r * QD + h * HD + e] * k[c * KD + gg * HD + e];
                sc[c] = d / sqrt(HD);
                mx = fmax(mx, sc[c]);
            }
            for (int e = 0; e < HD; e++)
                ref[r * QD + h * HD + e] = 0;
            for (int c = 0; c <= r; c++) {
                double p = exp(sc[c] - mx);
                sum += p;
                for (int e = 0; e < HD; e++)
                    ref[r * QD + h * HD + e] += p * v[c * KD + gg * HD + e];
            }
            for (int e = 0; e < HD; e++)
                ref[r * QD + h * HD + e] /= sum;
        }
    }
    for (int variant = 0; variant < 4; variant++) {
        AttnSample s = {.n = 1, .in_len = {TI}, .in_row = 0, .out_row = TI, .out_len = TO};
        float one = 1.0f;
        attn_sample_weights(&s, variant, &one);
        AttnBatch b = {.nh = NH, .kvh = KVH, .hd = HD, .ns = 1, .s = &s};
        attn_batch_finish(&b);
        int nth = 1;
#ifdef _OPENMP
        nth = omp_get_max_threads();
#endif
        float *scratch = xmalloc(sizeof(float) * attn_scratch_floats(b.max_rows, b.max_keys, b.max_n, nth));
        float *stats = xmalloc(sizeof(float) * NH * b.nstats), out[TT * QD];
        attn_forward(out, stats, q, k, v, &b, 0, scratch);
        double md = 0;
        for (int i = 0; i < TT * QD; i++)
            md = fmax(md, fabs(out[i] - ref[i]));
        CHECK(md < 1e-5, "%s with one input equals plain causal attention over [input; output] (max diff %.2g)",
              attn_variant_name(variant), md);
        free(scratch), free(stats);
    }
}

/* attn_exp against exp() in double on every 997th float of [-87, 88] (all
 * exponents, 2.2 M values), plus the tails and NaN. */
static void fast_exp(void)
{
    double worst = 0;
    long n = 0;
    for (int sign = 0; sign < 2; sign++) {
        float lim = sign ? 87.0f : 88.0f;
        uint32_t top;
        memcpy(&top, &lim, sizeof top);
        for (uint32_t u = 0; u <= top; u += 997, n++) {
            float x;
            memcpy(&x, &u, sizeof x);
            x = sign ? -x : x;
            double e = exp((double)x), r = fabs((double)attn_exp(x) - e) / e;
            worst = r > worst ? r : worst;
        }
    }
    CHECK(n > 2000000 && worst < 2.5e-7, "fast exp is within 2.5e-7 relative of exp() on %ld floats of [-87, 88] "
          "(worst %.2g)", n, worst);
    CHECK(attn_exp(0.0f) == 1.0f && isnan(attn_exp(NAN)), "fast exp gives e^0 = 1 exactly and keeps NaN");
    float lo = attn_exp(-1000.0f), hi = attn_exp(1000.0f);
    CHECK(lo > 0.0f && lo < 2e-38f && isfinite(hi) && hi > 1e38f,
          "fast exp gives a tiny positive number far below -87 and a large finite one above 88");
    float prev = 0.0f;
    int mono = 1;
    for (float x = -20.0f; x <= 0.0f; x += 1e-3f) {
        float e = attn_exp(x);
        mono &= e >= prev;
        prev = e;
    }
    CHECK(mono, "fast exp is monotone on [-20, 0] in steps of 1e-3");
}

/* Long blocks span several of attention.c's row blocks (64 query rows; the
 * output block is causal, and so is each input's own attention): forward
 * against the definition, and dQ/dK/dV against finite differences at
 * entries spread over the rows, either side of every block edge.  Case 0: two
 * short inputs and a 300-row output; case 1: inputs of 150 and 70 rows (three
 * and two blocks) and a 140-row output. */
typedef struct {
    int n, len[2], out;
} LongCase;

static const LongCase long_cases[] = {{2, {5, 7}, 300}, {2, {150, 70}, 140}};

static double long_loss(const double *q, const double *k, const double *v, const AttnSample *s, int variant,
                        const double *R, double *out, int tl)
{
    memset(out, 0, sizeof(double) * (size_t)tl * QD);
    attn_forward_naive(out, q, k, v, s, variant, NH, KVH, HD);
    double l = 0;
    for (int i = 0; i < tl * QD; i++)
        l += out[i] * R[i];
    return l;
}

/* rows either side of each 64-row edge of a block starting at r0, length t */
static int edge_rows(int *rows, int nr, int r0, int t)
{
    rows[nr++] = r0;
    for (int e = 64; e < t; e += 64) {
        rows[nr++] = r0 + e - 1;
        rows[nr++] = r0 + e;
    }
    rows[nr++] = r0 + t - 1;
    return nr;
}

static void long_blocks(int variant, const LongCase *lc)
{
    int tl = lc->len[0] + lc->len[1] + lc->out;
    AttnSample s = {.n = lc->n, .in_len = {lc->len[0], lc->len[1]}, .in_row = 0,
                    .out_row = lc->len[0] + lc->len[1], .out_len = lc->out};
    static const float wts[2] = {0.6f, 0.4f};
    attn_sample_weights(&s, variant, wts);
    AttnBatch b = {.nh = NH, .kvh = KVH, .hd = HD, .ns = 1, .s = &s};
    attn_batch_finish(&b);
    Rng g;
    rng_seed(&g, 7 + (uint64_t)variant + 100 * (uint64_t)lc->len[0]);
    double *qd = xmalloc(sizeof(double) * tl * QD), *kd = xmalloc(sizeof(double) * tl * KD);
    double *vd = xmalloc(sizeof(double) * tl * KD), *R = xmalloc(sizeof(double) * tl * QD);
    double *od = xmalloc(sizeof(double) * tl * QD);
    float *q = xmalloc(sizeof(float) * tl * QD), *k = xmalloc(sizeof(float) * tl * KD);
    float *v = xmalloc(sizeof(float) * tl * KD), *Rf = xmalloc(sizeof(float) * tl * QD);
    float *out = xcalloc((size_t)tl * QD, sizeof(float)), *stats = xmalloc(sizeof(float) * NH * b.nstats);
    float *dq = xcalloc((size_t)tl * QD, sizeof(float)), *dk = xcalloc((size_t)tl * KD, sizeof(float));
    float *dv = xcalloc((size_t)tl * KD, sizeof(float));
    fill(&g, qd, q, (size_t)tl * QD, 1.0);
    fill(&g, kd, k, (size_t)tl * KD, 1.0);
    fill(&g, vd, v, (size_t)tl * KD, 1.0);
    fill(&g, R, Rf, (size_t)tl * QD, 1.0);
    int nth = 1;
#ifdef _OPENMP
    nth = omp_get_max_threads();
#endif
    float *scratch = xmalloc(sizeof(float) * attn_scratch_floats(b.max_rows, b.max_keys, b.max_n, nth));
    attn_forward(out, stats, q, k, v, &b, 0, scratch);
    long_loss(qd, kd, vd, &s, variant, R, od, tl);
    double md = 0;
    for (int i = 0; i < tl * QD; i++)
        md = fmax(md, fabs(out[i] - od[i]));
    CHECK(md < 1e-5, "%s: inputs of %d and %d rows and a %d-row output (several row blocks) equal the definition "
          "(max diff %.2g)", attn_variant_name(variant), lc->len[0], lc->len[1], lc->out, md);
    attn_backward(dq, dk, dv, Rf, q, k, v, stats, &b, 0, scratch);
    int rows[64], nr = 0;
    nr = edge_rows(rows, nr, 0, lc->len[0]);
    nr = edge_rows(rows, nr, lc->len[0], lc->len[1]);
    nr = edge_rows(rows, nr, s.out_row, lc->out);
    double worst = 0, ref = 0, eps = 1e-5;
    int nchk = 0;
    for (int which = 0; which < 3; which++)
        for (int ri = 0; ri < nr; ri++)
            for (int col = 0; col < 2; col++, nchk++) {
                int W = which == 0 ? QD : KD;
                size_t i = (size_t)rows[ri] * W + (size_t)(col * 7 + ri) % W;
                double *x = which == 0 ? qd : which == 1 ? kd : vd;
                const float *gr = which == 0 ? dq : which == 1 ? dk : dv;
                double keep = x[i];
                x[i] = keep + eps;
                double lp = long_loss(qd, kd, vd, &s, variant, R, od, tl);
                x[i] = keep - eps;
                double lm = long_loss(qd, kd, vd, &s, variant, R, od, tl);
                x[i] = keep;
                double fd = (lp - lm) / (2 * eps);
                worst = fmax(worst, fabs(fd - gr[i]));
                ref = fmax(ref, fabs(fd));
            }
    CHECK(ref > 0 && worst < 1e-4 * fmax(1, ref),
          "%s: dQ, dK, dV with inputs of %d and %d rows and a %d-row output match finite differences at %d entries "
          "either side of every row-block edge (max diff %.2g)", attn_variant_name(variant), lc->len[0], lc->len[1],
          lc->out, nchk, worst);
    free(qd), free(kd), free(vd), free(R), free(od), free(q), free(k), free(v), free(Rf), free(out), free(stats);
    free(dq), free(dk), free(dv), free(scratch);
}

int main(void)
{
    for (size_t c = 0; c < sizeof long_cases / sizeof long_cases[0]; c++) {
        long_blocks(ATTN_MISO, &long_cases[c]);
        long_blocks(ATTN_FID, &long_cases[c]);
    }
    fast_exp();
    CHECK(attn_variant_parse("miso-fid") == ATTN_FID && attn_variant_parse("bogus") == -1,
          "parses variant names and rejects unknown ones");
    for (int variant = 0; variant < 4; variant++)
        run_variant(variant);
    single_input();
    return TEST_REPORT();
}
