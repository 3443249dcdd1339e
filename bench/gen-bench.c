/*
 * gen-bench.c - the driver of bench/bench-gen.sh (built by it against
 * build/libmiso.a; not part of the default build, like llm.c's dev/cpu/).
 *
 *   gen-bench greedy MODEL STEPS REPS   greedy decoding from BOS as run.c
 *                                       does it; prints tok/s (median of REPS)
 *   gen-bench prefill PRESET T REPS     prefill T random tokens through a
 *                                       random model of PRESET; prints tok/s,
 *                                       GFLOP/s and the FLOPs counted
 *   gen-bench sgemm - N REPS            (N,N)x(N,N) through lib/matmul; GFLOP/s
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "matmul.h"
#include "model.h"
#include "rng.h"
#include "sampler.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    util_set_prog("gen-bench");
    if (argc < 5)
        die_usage("usage: gen-bench greedy|prefill|sgemm ARG N REPS");
    int n = atoi(argv[3]), reps = atoi(argv[4]);
    double *r = xcalloc((size_t)reps, sizeof *r);
    Err e;
    if (!strcmp(argv[1], "greedy")) {
        Model m;
        if (model_load(&m, argv[2], &e) < 0)
            err_die(&e);
        Forward f;
        fwd_init(&f, &m);
        KVCache c;
        kv_init(&c, &m.cfg, n);
        float *lg = xmalloc(sizeof(float) * (size_t)m.cfg.vocab_size);
        for (int k = 0; k < reps; k++) {
            kv_reset(&c);
            int32_t tok = 1;
            double t0 = 0;
            int pos;
            for (pos = 0; pos < n; pos++) {
                fwd_forward(&f, &c, NULL, 0, 0, &tok, 1, pos, lg, 0);
                int next = sampler_argmax(lg, m.cfg.vocab_size);
                if (next == 1)
                    break;
                tok = next;
                if (pos == 0)
                    t0 = util_now(); /* as run.c: the clock starts after the first token */
            }
            r[k] = (pos - 1) / (util_now() - t0);
        }
        printf("greedy %d steps: %.0f tok/s (median of %d)\n", n, median(r, reps), reps);
    } else if (!strcmp(argv[1], "prefill")) {
        ModelConfig cfg;
        if (model_preset(&cfg, argv[2]) < 0)
            die("unknown preset '%s'", argv[2]);
        Model m;
        model_init_random(&m, &cfg, 1);
        Forward f;
        fwd_init(&f, &m);
        KVCache c;
        kv_init(&c, &cfg, n);
        int32_t *ids = xmalloc(sizeof(int32_t) * (size_t)n);
        Rng g;
        rng_seed(&g, 7);
        for (int i = 0; i < n; i++)
            ids[i] = (int32_t)rng_below(&g, (uint64_t)cfg.vocab_size);
        float *lg = xmalloc(sizeof(float) * (size_t)cfg.vocab_size);
        /* FLOPs actually done: every projection for T tokens, lm_head for the
         * last one, QK^T and AV over the causal triangle */
        double D = cfg.dim, F = cfg.hidden_dim, QD = (double)cfg.n_heads * cfg.head_dim,
               KD = (double)cfg.n_kv_heads * cfg.head_dim, L = cfg.n_layers, T = n;
        double per_tok = 2 * L * (D * QD + 2 * D * KD + QD * D + 3 * D * F);
        double flops = per_tok * T + 2 * D * cfg.vocab_size + 4 * L * QD * T * (T + 1) / 2;
        fwd_forward(&f, &c, NULL, 0, 0, ids, n, 0, lg, 0); /* warm-up */
        for (int k = 0; k < reps; k++) {
            kv_reset(&c);
            double t0 = util_now();
            fwd_forward(&f, &c, NULL, 0, 0, ids, n, 0, lg, 0);
            r[k] = util_now() - t0;
        }
        double t = median(r, reps);
        printf("prefill %s T=%d: %.0f tok/s, %.1f GFLOP/s (%.3g FLOP per prompt, %.1f M params)\n", argv[2], n, T / t,
               flops / t / 1e9, flops, (double)m.nparams / 1e6);
    } else if (!strcmp(argv[1], "sgemm")) {
        size_t N = (size_t)n;
        float *a = xmalloc(N * N * 4), *b = xmalloc(N * N * 4), *o = xmalloc(N * N * 4);
        for (size_t i = 0; i < N * N; i++)
            a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
        matmul_gemm(0, 1, n, n, n, 1.0f, a, n, b, n, 0.0f, o, n);
        for (int k = 0; k < reps; k++) {
            double t0 = util_now();
            matmul_gemm(0, 1, n, n, n, 1.0f, a, n, b, n, 0.0f, o, n);
            r[k] = util_now() - t0;
        }
        printf("sgemm %d: %.1f GFLOP/s\n", n, 2.0 * n * n * n / median(r, reps) / 1e9);
    } else {
        die_usage("unknown mode '%s'", argv[1]);
    }
    return 0;
}
