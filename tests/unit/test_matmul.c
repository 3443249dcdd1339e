/* test_matmul.c - the BLAS wrapper against its triple-loop reference. */
#include "testhelp.h"
#include "matmul.h"
#include "rng.h"
#include "util.h"

#include <stdlib.h>

static float maxdiff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (d > m)
            m = d;
    }
    return m;
}

static void fill(Rng *g, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rng_normal(g);
}

int main(void)
{
    Rng g;
    rng_seed(&g, 1);
    int shapes[][3] = {{1, 7, 5}, {3, 16, 9}, {17, 64, 33}, {64, 128, 96}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int T = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        float *inp = xmalloc(sizeof(float) * T * K), *w = xmalloc(sizeof(float) * N * K), *b = xmalloc(sizeof(float) * N);
        float *o1 = xmalloc(sizeof(float) * T * N), *o2 = xmalloc(sizeof(float) * T * N);
        float *dout = xmalloc(sizeof(float) * T * N);
        float *di1 = xcalloc((size_t)T * K, sizeof(float)), *di2 = xcalloc((size_t)T * K, sizeof(float));
        float *dw1 = xcalloc((size_t)N * K, sizeof(float)), *dw2 = xcalloc((size_t)N * K, sizeof(float));
        float *db1 = xcalloc(N, sizeof(float)), *db2 = xcalloc(N, sizeof(float));
        fill(&g, inp, (size_t)T * K);
        fill(&g, w, (size_t)N * K);
        fill(&g, b, N);
        fill(&g, dout, (size_t)T * N);
        matmul_forward(o1, inp, w, b, T, K, N);
        matmul_forward_naive(o2, inp, w, b, T, K, N);
        float d = maxdiff(o1, o2, (size_t)T * N);
        CHECK(d < 1e-3f, "forward (%d,%d)x(%d,%d)^T + bias matches the naive product (max diff %.2g)", T, K, N, K, d);
        matmul_forward(o1, inp, w, NULL, T, K, N);
        matmul_forward_naive(o2, inp, w, NULL, T, K, N);
        CHECK(maxdiff(o1, o2, (size_t)T * N) < 1e-3f, "forward without bias matches (T=%d)", T);
        matmul_backward(di1, dw1, db1, dout, inp, w, T, K, N);
        matmul_backward_naive(di2, dw2, db2, dout, inp, w, T, K, N);
        CHECK(maxdiff(di1, di2, (size_t)T * K) < 1e-3f && maxdiff(dw1, dw2, (size_t)N * K) < 1e-3f &&
                  maxdiff(db1, db2, N) < 1e-3f,
              "backward accumulates dinp, dw and dbias like the naive loops (T=%d K=%d N=%d)", T, K, N);
        free(inp); free(w); free(b); free(o1); free(o2); free(dout);
        free(di1); free(di2); free(dw1); free(dw2); free(db1); free(db2);
    }
    return TEST_REPORT();
}
