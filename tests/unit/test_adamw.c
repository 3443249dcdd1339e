/*
 * test_adamw.c - the vectorised AdamW update against a plain scalar loop
 * (bit for bit: same IEEE operations in the same order) and against
 * PyTorch's torch.optim.AdamW formula evaluated in double (bias
 * corrections, decoupled weight decay applied before the Adam step), on
 * random data, for several thread counts, lengths that are not a multiple
 * of the vector width, and arrays that do not start aligned.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "adamw.h"
#include "rng.h"
#include "testhelp.h"

/* The straightforward scalar AdamW the trainer used before the vector
 * form: one element at a time, float arithmetic, libm sqrtf. */
static void adamw_scalar(const AdamW *o, float *params, const float *grad, float *m, float *v, size_t n,
                         const unsigned char *decay, uint64_t step, double lr)
{
    float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    float c1 = (float)(1.0 - pow(o->beta1, (double)(step + 1)));
    float c2 = (float)(1.0 - pow(o->beta2, (double)(step + 1)));
    float lrf = (float)lr, wdk = (float)(lr * o->wd);
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        float mh = m[i] / c1, vh = v[i] / c2;
        if (decay[i])
            params[i] -= wdk * params[i];
        params[i] -= lrf * mh / (sqrtf(vh) + eps);
    }
}

/* The clipping as it was: one chunk at a time. */
static double clip_scalar(float *grad, size_t n, double clip)
{
    enum { NCH = 1024 };
    double part[NCH];
    size_t ch = n / NCH + 1;
    for (size_t c = 0; c < NCH; c++) {
        double s = 0;
        size_t beg = c * ch, end = beg + ch < n ? beg + ch : n;
        for (size_t i = beg; i < end; i++)
            s += (double)grad[i] * grad[i];
        part[c] = s;
    }
    double total = 0;
    for (size_t c = 0; c < NCH; c++)
        total += part[c];
    double norm = sqrt(total);
    if (clip > 0 && norm > clip && isfinite(norm)) {
        float k = (float)(clip / (norm + 1e-6));
        for (size_t i = 0; i < n; i++)
            grad[i] *= k;
    }
    return norm;
}

typedef struct {
    float *p, *g, *m, *v;
    unsigned char *d;
} Arrays;

static void arrays_fill(Arrays *a, size_t n, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed);
    a->p = malloc(n * sizeof(float)), a->g = malloc(n * sizeof(float));
    a->m = malloc(n * sizeof(float)), a->v = malloc(n * sizeof(float));
    a->d = malloc(n);
    for (size_t i = 0; i < n; i++) {
        a->p[i] = (float)(rng_normal(&r) * 0.05);
        /* gradients over many magnitudes, some exactly zero */
        a->g[i] = i % 97 == 0 ? 0.0f : (float)(rng_normal(&r) * pow(10.0, -1.0 - 6.0 * rng_uniform(&r)));
        a->m[i] = i % 5 == 0 ? 0.0f : (float)(rng_normal(&r) * 1e-3);
        a->v[i] = i % 5 == 0 ? 0.0f : (float)(rng_uniform(&r) * 1e-6);
        /* any nonzero byte means decay */
        a->d[i] = rng_uniform(&r) < 0.5 ? 0 : (unsigned char)(1 + (i % 3) * 3);
    }
}

static void arrays_copy(Arrays *dst, const Arrays *src, size_t n)
{
    dst->p = malloc(n * sizeof(float)), dst->g = malloc(n * sizeof(float));
    dst->m = malloc(n * sizeof(float)), dst->v = malloc(n * sizeof(float));
    dst->d = malloc(n);
    memcpy(dst->p, src->p, n * sizeof(float)), memcpy(dst->g, src->g, n * sizeof(float));
    memcpy(dst->m, src->m, n * sizeof(float)), memcpy(dst->v, src->v, n * sizeof(float));
    memcpy(dst->d, src->d, n);
}

static void arrays_free(Arrays *a)
{
    free(a->p), free(a->g), free(a->m), free(a->v), free(a->d);
}

/* Three updates of n elements starting at offset off (unaligned when off is
 * not a multiple of 4), vector form with nthreads against the scalar loop. */
static void bit_identical(size_t n, size_t off, int nthreads)
{
    AdamW o = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .wd = 0.1};
    Arrays a, b;
    arrays_fill(&a, n + off, 42 + n);
    arrays_copy(&b, &a, n + off);
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(nthreads);
#endif
    for (uint64_t s = 0; s < 3; s++) {
        double lr = 1e-3 * (double)(s + 1);
        adamw_update(&o, a.p + off, a.g + off, a.m + off, a.v + off, n, a.d + off, s, lr);
        adamw_scalar(&o, b.p + off, b.g + off, b.m + off, b.v + off, n, b.d + off, s, lr);
    }
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    size_t nbad = 0;
    for (size_t i = 0; i < n + off; i++) {
        uint32_t x[3], y[3];
        memcpy(&x[0], &a.p[i], 4), memcpy(&x[1], &a.m[i], 4), memcpy(&x[2], &a.v[i], 4);
        memcpy(&y[0], &b.p[i], 4), memcpy(&y[1], &b.m[i], 4), memcpy(&y[2], &b.v[i], 4);
        nbad += memcmp(x, y, sizeof x) != 0;
    }
    CHECK(nbad == 0,
          "%zu elements from offset %zu, %d thread%s: parameters and moments after 3 updates equal the scalar loop "
          "bit for bit (%zu differ)",
          n, off, nthreads, nthreads == 1 ? "" : "s", nbad);
    arrays_free(&a), arrays_free(&b);
}

/* Against torch.optim.AdamW's formula in double:
 *   p -= lr*wd*p (decayed tensors only); m = b1 m + (1-b1) g;
 *   v = b2 v + (1-b2) g^2; p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) */
static void matches_pytorch(void)
{
    enum { N = 4099 };
    AdamW o = {.lr = 2e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .wd = 0.05};
    Arrays a;
    arrays_fill(&a, N, 7);
    double *p = malloc(N * sizeof(double)), *m = malloc(N * sizeof(double)), *v = malloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++)
        p[i] = a.p[i], m[i] = a.m[i], v[i] = a.v[i];
    double worst = 0;
    for (uint64_t s = 0; s < 5; s++) {
        double lr = o.lr * (double)(s + 1) / 5;
        adamw_update(&o, a.p, a.g, a.m, a.v, N, a.d, s, lr);
        double c1 = 1 - pow(o.beta1, (double)(s + 1)), c2 = 1 - pow(o.beta2, (double)(s + 1));
        for (size_t i = 0; i < N; i++) {
            double g = a.g[i];
            if (a.d[i])
                p[i] -= lr * o.wd * p[i];
            m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
            v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
            p[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + o.eps);
        }
    }
    /* each step moves p by at most ~lr; float rounding of the moments
     * keeps the difference a tiny fraction of that */
    for (size_t i = 0; i < N; i++) {
        double d = fabs(a.p[i] - p[i]);
        if (d > worst)
            worst = d;
    }
    CHECK(worst < 1e-6, "5 updates with warm-up lr, wd 0.05, beta2 0.95 match PyTorch's AdamW in double (worst %.2g)",
          worst);
    free(p), free(m), free(v);
    arrays_free(&a);
}

/* adamw_clip (four chunks side by side) against the chunk-at-a-time loop:
 * the same norm and the same scaled gradient, bit for bit. */
static void clip_identical(size_t n, int nthreads)
{
    Arrays a;
    arrays_fill(&a, n ? n : 1, 99 + n);
    float *h = malloc((n ? n : 1) * sizeof(float));
    memcpy(h, a.g, n * sizeof(float));
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(nthreads);
#endif
    double n1 = adamw_clip(a.g, n, 1e-4), n2 = clip_scalar(h, n, 1e-4);
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    CHECK(n1 == n2 && !memcmp(a.g, h, n * sizeof(float)),
          "clipping %zu gradients with %d thread%s: the norm (%.17g) and the scaled gradient equal the chunk-at-a-time "
          "loop bit for bit",
          n, nthreads, nthreads == 1 ? "" : "s", n1);
    free(h);
    arrays_free(&a);
}

int main(void)
{
    clip_identical(0, 1);
    clip_identical(5, 2);
    clip_identical(1023, 1);
    clip_identical(4097, 3);
    clip_identical(1000003, 2);
    bit_identical(1000003, 0, 1);
    bit_identical(1000003, 1, 2);
    bit_identical(1000003, 3, 3);
    bit_identical(3, 0, 2);
    bit_identical(17, 2, 4);
    matches_pytorch();
    return TEST_REPORT();
}
