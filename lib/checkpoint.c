/*
 * checkpoint.c - training checkpoints and the gradient dump (checkpoint.h).
 *
 * The header is a fixed 4096 bytes so the blocks start page-aligned and a
 * future field fits without a format change.  The ModelConfig and CkptState
 * structs are stored as raw bytes: a checkpoint is for resuming on the same
 * build and machine, not an interchange format (the HF directory that
 * miso-train writes at the end is that).  The sizes of both structs are
 * stored and checked, so a checkpoint from a different build is refused.
 */
#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ofile.h"
#include "safetensors.h"

#define CKPT_MAGIC "MISOCKPT"
#define CKPT_VERSION 1u
#define CKPT_HEADER 4096

typedef struct {
    char magic[8];
    uint32_t version, cfg_size, state_size, reserved;
    uint64_t nparams;
} CkptHead;

int ckpt_dump_grads(const char *path, const ModelConfig *c, const float *grad, double loss, Err *err)
{
    size_t n = model_hf_tensors(c, NULL);
    ModelHfTensor *names = xmalloc(size_mul(n ? n : 1, sizeof *names));
    model_hf_tensors(c, names);
    StWriteTensor *t = xcalloc(n + 1, sizeof *t);
    float lossf = (float)loss;
    for (size_t i = 0; i < n; i++) {
        t[i].name = names[i].name;
        t[i].ndim = names[i].ndim;
        t[i].shape[0] = names[i].shape[0], t[i].shape[1] = names[i].shape[1];
        t[i].data = grad + names[i].offset;
    }
    t[n] = (StWriteTensor){.name = "loss", .ndim = 1, .shape = {1}, .data = &lossf};
    int rc = st_write(path, t, n + 1, ST_F32, err);
    free(t);
    free(names);
    return rc;
}

static const char *ckpt_path(const char *dir)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/checkpoint.bin", dir);
    return buf;
}

int ckpt_exists(const char *dir)
{
    FILE *f = fopen(ckpt_path(dir), "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

int ckpt_save(const char *dir, const ModelConfig *c, const CkptState *st, const float *params, const float *m,
              const float *v, size_t n, Err *err)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s", ckpt_path(dir));
    unsigned char *head = xcalloc(CKPT_HEADER, 1);
    CkptHead h = {.version = CKPT_VERSION, .cfg_size = sizeof *c, .state_size = sizeof *st, .nparams = n};
    memcpy(h.magic, CKPT_MAGIC, 8);
    memcpy(head, &h, sizeof h);
    memcpy(head + sizeof h, c, sizeof *c);
    memcpy(head + sizeof h + sizeof *c, st, sizeof *st);
    OutFile o;
    FILE *f = ofile_open(&o, path, err);
    if (!f) {
        free(head);
        return -1;
    }
    fwrite(head, 1, CKPT_HEADER, f);
    fwrite(params, sizeof(float), n, f);
    fwrite(m, sizeof(float), n, f);
    fwrite(v, sizeof(float), n, f);
    free(head);
    if (ofile_commit(&o, err) < 0)
        return -1;
    ofile_sync_dir(path);
    return 0;
}

int ckpt_load(const char *dir, ModelConfig *c, CkptState *st, float **params, float **m, float **v, size_t *n,
              Err *err)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s", ckpt_path(dir));
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, path, 0, "cannot open the checkpoint: %s", strerror(errno));
        return -1;
    }
    unsigned char *head = xmalloc(CKPT_HEADER);
    CkptHead h;
    if (fread(head, 1, CKPT_HEADER, f) != CKPT_HEADER) {
        err_set(err, path, 0, "truncated checkpoint header");
        goto fail;
    }
    memcpy(&h, head, sizeof h);
    if (memcmp(h.magic, CKPT_MAGIC, 8) || h.version != CKPT_VERSION) {
        err_set(err, path, 0, "not a miso-train checkpoint (bad magic or version)");
        goto fail;
    }
    if (h.cfg_size != sizeof *c || h.state_size != sizeof *st) {
        err_set(err, path, 0, "checkpoint written by a different build of miso-train");
        goto fail;
    }
    memcpy(c, head + sizeof h, sizeof *c);
    memcpy(st, head + sizeof h + sizeof *c, sizeof *st);
    size_t sizes[MODEL_NTENSORS];
    if (model_tensor_sizes(c, sizes) != h.nparams) {
        err_set(err, path, 0, "parameter count %llu does not match the stored config", (unsigned long long)h.nparams);
        goto fail;
    }
    *n = h.nparams;
    *params = xmalloc(size_mul(*n, sizeof(float)));
    *m = xmalloc(size_mul(*n, sizeof(float)));
    *v = xmalloc(size_mul(*n, sizeof(float)));
    if (fread(*params, sizeof(float), *n, f) != *n || fread(*m, sizeof(float), *n, f) != *n ||
        fread(*v, sizeof(float), *n, f) != *n) {
        err_set(err, path, 0, "truncated checkpoint");
        free(*params), free(*m), free(*v);
        goto fail;
    }
    free(head);
    fclose(f);
    return 0;
fail:
    free(head);
    fclose(f);
    return -1;
}
