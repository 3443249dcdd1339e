/*
 * adamw.h - AdamW over the flat parameter block, the learning-rate schedule
 * and global-norm gradient clipping.
 *
 * Parameters, gradients and the moments m and v share the model's block
 * layout (lib/model.h), so the update is one flat loop over nparams floats.
 * Weight decay is decoupled (Loshchilov & Hutter; PyTorch's AdamW) and, as
 * in Hugging Face's Trainer, applies to the 2-D matrices (embedding, linear
 * weights, lm_head) but not to norm weights and biases: adamw_decay_mask
 * marks them per tensor.
 *
 * Schedule (Hugging Face get_linear_schedule_with_warmup / _cosine_):
 * warm-up steps = ceil(warmup_ratio * total); step s (0-based, the s-th
 * update) uses lr * s / warmup during warm-up, then linear decay to 0 at
 * total (or a half cosine).  So the first update has lr 0 when warm-up > 0,
 * exactly as in the Trainer.
 *
 * Clipping: the global L2 norm over the whole gradient block, accumulated in
 * double in a fixed order (deterministic); gradients are scaled by
 * clip / norm when norm > clip (clip <= 0 disables it).
 *
 * No allocation inside a step; no errors.
 *
 *   AdamW o = {.lr = 5e-6, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .wd = 0};
 *   double gn = adamw_clip(grad, n, 1.0);
 *   adamw_update(&o, params, grad, m, v, n, decay, step, adamw_lr(&o, step, total));
 */
#ifndef MISO_ADAMW_H
#define MISO_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

enum { SCHED_LINEAR = 0, SCHED_COSINE = 1, SCHED_CONSTANT = 2 };

typedef struct {
    double lr, beta1, beta2, eps, wd;
    double warmup_ratio;
    int schedule;
} AdamW;

/* Learning rate of update `step` (0-based) of `total`. */
double adamw_lr(const AdamW *o, uint64_t step, uint64_t total);
/* Global L2 norm of grad (before clipping); scales grad when above clip. */
double adamw_clip(float *grad, size_t n, double clip);
/* decay (nparams bytes): 1 where weight decay applies. */
void adamw_decay_mask(const ModelConfig *c, unsigned char *decay);
/* One update; step is 0-based (bias correction uses step + 1). */
void adamw_update(const AdamW *o, float *params, const float *grad, float *m, float *v, size_t n,
                  const unsigned char *decay, uint64_t step, double lr);

#endif
