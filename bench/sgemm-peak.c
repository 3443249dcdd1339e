/*
 * sgemm-peak.c - the sgemm peak of this machine through lib/matmul (the one
 * BLAS wrapper): square C = A·Bᵀ for n = 512..2048 plus training shapes,
 * best of several repetitions after a warm-up; prints GFLOP/s.
 *   sgemm-peak            -> "sgemm peak: 185.3 GFLOP/s (n=1024)"
 */
#include <stdio.h>
#include <stdlib.h>

#include "matmul.h"
#include "util.h"

int main(void)
{
    static const int shapes[][3] = {{512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},
                                    {2048, 1408, 512}, {2048, 512, 1408}, {2048, 8192, 256}};
    double best = 0;
    int bi = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *a = xmalloc(sizeof(float) * (size_t)M * K), *b = xmalloc(sizeof(float) * (size_t)N * K);
        float *c = xmalloc(sizeof(float) * (size_t)M * N);
        for (size_t i = 0; i < (size_t)M * K; i++)
            a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)N * K; i++)
            b[i] = (float)(i % 5) * 0.1f;
        matmul_forward(c, a, b, NULL, M, K, N);
        for (int r = 0; r < 5; r++) {
            double t0 = util_now();
            matmul_forward(c, a, b, NULL, M, K, N);
            double g = 2.0 * M * N * K / (util_now() - t0) / 1e9;
            if (g > best)
                best = g, bi = (int)s;
        }
        free(a), free(b), free(c);
    }
    printf("sgemm peak: %.1f GFLOP/s (M=%d N=%d K=%d)\n", best, shapes[bi][0], shapes[bi][1], shapes[bi][2]);
    return 0;
}
