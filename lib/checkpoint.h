/*
 * checkpoint.h - training checkpoints (resume a run bit for bit) and the
 * safetensors gradient dump of `miso-train --eval-only --dump-grads`.
 *
 * A checkpoint is one file, DIR/checkpoint.bin: a fixed 4096-byte header
 * (magic "MISOCKPT", version, ModelConfig, CkptState) followed by three flat
 * blocks of nparams floats each: parameters, AdamW m, AdamW v, all in the
 * model's block order (lib/model.h), so loading is one fread per block.  It
 * is written to DIR/checkpoint.bin.tmp.XXXXXX, fsynced and renamed (lib/
 * ofile), so a kill at any moment leaves the previous checkpoint intact.
 *
 * CkptState carries what a resumed run needs to continue exactly where it
 * stopped: optimizer steps done, the epoch and micro-batch position in it,
 * the shuffling PRNG state, and the run's shape (total steps, seed, batch
 * sizes) so a resume with different settings is refused.
 *
 * The gradient dump names tensors with lib/model's one table
 * (model_hf_tensors), so its names, shapes and order are those of the
 * model.safetensors that model_save_hf writes.
 *
 * Ownership: ckpt_load allocates *params, *m, *v with xmalloc; the caller
 * frees them.  Errors: 0, or -1 with err naming the file; nothing printed.
 *
 * Usage
 *   CkptState st = {...};
 *   if (ckpt_save("out", &cfg, &st, params, m, v, n, &err) < 0) err_die(&err);
 *   if (ckpt_load("out", &cfg, &st, &params, &m, &v, &n, &err) < 0) err_die(&err);
 *   ckpt_dump_grads("grads.safetensors", &cfg, grad, loss, &err);
 */
#ifndef MISO_CHECKPOINT_H
#define MISO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "rng.h"
#include "util.h"

typedef struct {
    uint64_t step;          /* optimizer steps done */
    uint64_t epoch;         /* current epoch (0-based) */
    uint64_t batch_pos;     /* macro batches done in this epoch */
    uint64_t total_steps;   /* of the whole run */
    uint64_t seed;
    uint64_t nsamples;      /* samples in the packed file */
    int32_t batch, micro_batch, attn;
    uint32_t data_hash;     /* of the packed file, so a resume on other data is refused */
    Rng rng;                /* shuffling stream at the start of this epoch */
    double tokens_seen;
} CkptState;

int ckpt_save(const char *dir, const ModelConfig *c, const CkptState *st, const float *params, const float *m,
              const float *v, size_t n, Err *err);
/* 1 if DIR/checkpoint.bin exists, else 0. */
int ckpt_exists(const char *dir);
int ckpt_load(const char *dir, ModelConfig *c, CkptState *st, float **params, float **m, float **v, size_t *n,
              Err *err);

/* grad (the model's block layout) as F32 safetensors with HF names plus a
 * "loss" tensor of shape [1]. */
int ckpt_dump_grads(const char *path, const ModelConfig *c, const float *grad, double loss, Err *err);

#endif
