/*
 * adamw.c - AdamW, schedule, clipping (adamw.h).  The update is elementwise
 * and memory-bound: ~16 bytes read and 12 written per parameter, so it runs
 * as one OpenMP loop (the mid preset's 56 M parameters take ~0.1 s on two
 * cores; trainer-notes §3.2 measured 0.17 s for PyTorch).
 */
#include "adamw.h"

#include <math.h>
#include <string.h>

double adamw_lr(const AdamW *o, uint64_t step, uint64_t total)
{
    if (o->schedule == SCHED_CONSTANT)
        return o->lr;
    uint64_t warm = (uint64_t)ceil(o->warmup_ratio * (double)total);
    if (step < warm)
        return o->lr * (double)step / (double)warm;
    if (total <= warm)
        return o->lr;
    double progress = (double)(step - warm) / (double)(total - warm);
    if (progress > 1)
        progress = 1;
    if (o->schedule == SCHED_COSINE)
        return o->lr * 0.5 * (1.0 + cos(M_PI * progress));
    return o->lr * (1.0 - progress);
}

double adamw_clip(float *grad, size_t n, double clip)
{
    /* fixed chunks, their sums added in order: deterministic for any
     * thread count */
    enum { NCH = 1024 };
    static double part[NCH];
    size_t ch = n / NCH + 1;
#pragma omp parallel for schedule(static)
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
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            grad[i] *= k;
    }
    return norm;
}

void adamw_decay_mask(const ModelConfig *c, unsigned char *decay)
{
    size_t sizes[MODEL_NTENSORS], off = 0;
    model_tensor_sizes(c, sizes);
    /* block order: embed, attn_norm, wq, wk, wv, bq, bk, bv, wo, ffn_norm,
     * w_gate, w_up, w_down, final_norm, lm_head */
    static const unsigned char is_matrix[MODEL_NTENSORS] = {1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1};
    for (int t = 0; t < MODEL_NTENSORS; t++) {
        memset(decay + off, is_matrix[t], sizes[t]);
        off += sizes[t];
    }
}

void adamw_update(const AdamW *o, float *params, const float *grad, float *m, float *v, size_t n,
                  const unsigned char *decay, uint64_t step, double lr)
{
    float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    float c1 = (float)(1.0 - pow(o->beta1, (double)(step + 1)));
    float c2 = (float)(1.0 - pow(o->beta2, (double)(step + 1)));
    float lrf = (float)lr, wdk = (float)(lr * o->wd);
#pragma omp parallel for schedule(static)
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
