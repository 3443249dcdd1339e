/*
 * safetensors.h - read and write the safetensors format (Hugging Face's
 * weight files), single files and sharded sets.
 *
 * Format (trainer-notes §2.1): u64 little-endian header length N, then N
 * bytes of a JSON object (may end in spaces), then the data region.  Each
 * key names a tensor: {"dtype", "shape", "data_offsets": [begin, end)}
 * relative to the data region; "__metadata__" is a string map.
 *
 * Invariants checked by st_open (each failure is an error, never a crash):
 * N >= 2 and at most 100 MB and within the file; the header is valid JSON,
 * an object, starting with '{'; no duplicate keys; every dtype is known;
 * every shape is a list of non-negative integers (at most 8 dims); the
 * offsets are ordered, inside the file, sized numel * dtype size; and the
 * tensors cover the data region exactly, with no holes or overlaps.
 *
 * Reading widens F32, BF16 and F16 to F32 (other dtypes are listed but
 * cannot be read as float).  Writing emits F32 or BF16 (round to nearest
 * even), keys sorted, data 8-byte aligned (header padded with spaces), as
 * the Python writer does, with {"format": "pt"} metadata.
 *
 * Ownership: StFile / StSet own the mapping and the parsed header;
 * st_close / st_set_close release them.  Tensor names stay valid until then.
 *
 * Errors: functions return 0 (or a pointer) on success, -1 (NULL) with err
 * naming the file and, where it applies, the tensor.  Err.file points to a
 * static copy of the path (valid until the next error from this module).
 *
 * Usage
 *   StSet s; Err err;
 *   if (st_set_open(&s, "model-dir", &err) < 0) err_die(&err);
 *   const StTensor *t = st_set_find(&s, "model.norm.weight", &f);
 *   st_read_f32(f, t, buf, &err);
 *   st_set_close(&s);
 */
#ifndef MISO_SAFETENSORS_H
#define MISO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "ofile.h"
#include "util.h"

enum { ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL, ST_F8_E4M3, ST_F8_E5M2,
       ST_U16, ST_U32, ST_U64, ST_NDTYPES };

#define ST_MAX_DIMS 8

typedef struct {
    char *name;
    int dtype;                  /* ST_* */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t begin, end;        /* offsets in the data region */
} StTensor;

typedef struct {
    char *path;
    const unsigned char *map;   /* the whole file (mmap) */
    size_t size;
    size_t data_start;          /* 8 + N */
    StTensor *t;                /* sorted by name */
    size_t n;
} StFile;

/* Open and validate one file.  0, or -1 with err. */
int st_open(StFile *f, const char *path, Err *err);
void st_close(StFile *f);
/* The tensor called name, or NULL. */
const StTensor *st_find(const StFile *f, const char *name);
/* Number of elements of t (product of its shape). */
uint64_t st_numel(const StTensor *t);
const char *st_dtype_name(int dtype);
/* Widen t into out (st_numel floats).  -1 with err for a dtype that is not
 * F32/BF16/F16. */
int st_read_f32(const StFile *f, const StTensor *t, float *out, Err *err);

/* A model's weights: dir/model.safetensors when it exists (transformers
 * prefers it too, so a model saved over a sharded directory loads the new
 * weights), else the shards named by dir/model.safetensors.index.json (every
 * shard validated; a tensor the index maps to a shard that lacks it is an
 * error; keys other than "weight_map", such as "metadata", are ignored). */
typedef struct {
    StFile *files;
    size_t nfiles;
} StSet;

int st_set_open(StSet *s, const char *dir, Err *err);
void st_set_close(StSet *s);
/* Find name in any file of the set; *file (if non-NULL) gets its file. */
const StTensor *st_set_find(const StSet *s, const char *name, const StFile **file);

/* Write n tensors (names, shapes as ndim + dims, F32 data) to path through
 * lib/ofile (atomic) in dtype ST_F32 or ST_BF16.  0, or -1 with err. */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;
} StWriteTensor;

int st_write(const char *path, const StWriteTensor *t, size_t n, int dtype, Err *err);
/* The same, but the file is left written and uncommitted in *of: the caller
 * calls ofile_commit (or ofile_abort), so several files can appear together
 * (model_save_hf).  On -1 nothing is left behind. */
int st_write_uncommitted(OutFile *of, const char *path, const StWriteTensor *t, size_t n, int dtype, Err *err);

/* BF16 <-> F32 helpers (round to nearest even; NaN stays NaN). */
uint16_t st_f32_to_bf16(float f);
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);

#endif
