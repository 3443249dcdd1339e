/*
 * matmul.h - the one wrapper around BLAS (OpenBLAS, OpenMP build).  Every
 * matrix product in miso goes through here; nothing else includes cblas.h.
 *
 * Conventions: all matrices are row-major.  A linear layer's weight w is
 * (N, K) as PyTorch stores nn.Linear (out_features, in_features), so a layer
 * maps inp (T, K) to out (T, N) = inp · wᵀ.
 *
 * Naive reference versions sit beside the fast ones (STYLE.md: keep a naive
 * reference next to the fast path) and tests compare the two.
 *
 * No allocation, no errors: shapes are the caller's contract (asserted).
 *
 *   matmul_forward(out, inp, w, bias, T, K, N);          // out = inp·wᵀ + bias
 *   matmul_backward(dinp, dw, dbias, dout, inp, w, T, K, N);  // accumulates
 */
#ifndef MISO_MATMUL_H
#define MISO_MATMUL_H

/* out (T, N) = inp (T, K) · w (N, K)ᵀ + bias (N); bias may be NULL.  Overwrites out. */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int T, int K, int N);

/* Backward of matmul_forward; every output accumulates (+=) and may be NULL:
 *   dinp (T, K) += dout (T, N) · w (N, K)
 *   dw   (N, K) += dout (T, N)ᵀ · inp (T, K)
 *   dbias (N)   += Σ_t dout (t, :) */
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                     int T, int K, int N);

/* General row-major SGEMM: C (M, N) = alpha · op(A) · op(B) + beta · C, where
 * op(A) is (M, K) (A stored (K, M) when transA) and op(B) is (K, N) (B stored
 * (N, K) when transB).  lda/ldb/ldc are row strides in floats. */
void matmul_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                 int ldb, float beta, float *C, int ldc);

/* Matrix-vector: out (N) = w (N, K) · x (K) + bias (N); bias may be NULL. */
void matmul_vec(float *out, const float *x, const float *w, const float *bias, int K, int N);

/* Triple-loop references (double accumulation), for tests. */
void matmul_forward_naive(float *out, const float *inp, const float *w, const float *bias, int T, int K, int N);
void matmul_backward_naive(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                           int T, int K, int N);

#endif
