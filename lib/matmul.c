/*
 * matmul.c - OpenBLAS calls.  Row-major throughout; a linear layer computes
 * out = inp · wᵀ, which is cblas_sgemm(RowMajor, NoTrans, Trans).
 *
 * Why the OpenMP build of OpenBLAS: our own loops (attention, RMSNorm) use
 * OpenMP too, and with the pthread build the two pools would fight over the
 * two cores.
 */
#include "matmul.h"

#include <assert.h>
#include <cblas.h>
#include <stddef.h>

void matmul_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                 int ldb, float beta, float *C, int ldc)
{
    assert(M >= 0 && N >= 0 && K >= 0);
    if (M == 0 || N == 0)
        return;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                A, lda, B, ldb, beta, C, ldc);
}

void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int T, int K, int N)
{
    if (T == 1) {
        matmul_vec(out, inp, w, bias, K, N);
        return;
    }
    if (bias) {
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++)
                out[(size_t)t * N + n] = bias[n];
    }
    matmul_gemm(0, 1, T, N, K, 1.0f, inp, K, w, K, bias ? 1.0f : 0.0f, out, N);
}

void matmul_vec(float *out, const float *x, const float *w, const float *bias, int K, int N)
{
    if (bias) {
        for (int n = 0; n < N; n++)
            out[n] = bias[n];
    }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w, K, x, 1, bias ? 1.0f : 0.0f, out, 1);
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                     int T, int K, int N)
{
    if (dinp)
        matmul_gemm(0, 0, T, K, N, 1.0f, dout, N, w, K, 1.0f, dinp, K);
    if (dw)
        matmul_gemm(1, 0, N, K, T, 1.0f, dout, N, inp, K, 1.0f, dw, K);
    if (dbias) {
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++)
                dbias[n] += dout[(size_t)t * N + n];
    }
}

void matmul_forward_naive(float *out, const float *inp, const float *w, const float *bias, int T, int K, int N)
{
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double s = bias ? bias[n] : 0.0;
            for (int k = 0; k < K; k++)
                s += (double)inp[(size_t)t * K + k] * (double)w[(size_t)n * K + k];
            out[(size_t)t * N + n] = (float)s;
        }
}

void matmul_backward_naive(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                           int T, int K, int N)
{
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            float d = dout[(size_t)t * N + n];
            if (dbias)
                dbias[n] += d;
            for (int k = 0; k < K; k++) {
                if (dinp)
                    dinp[(size_t)t * K + k] += d * w[(size_t)n * K + k];
                if (dw)
                    dw[(size_t)n * K + k] += d * inp[(size_t)t * K + k];
            }
        }
}
