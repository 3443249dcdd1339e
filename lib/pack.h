/*
 * pack.h - the packed training file between miso-pack and miso-train.
 *
 * A packed file holds tokenised MISO samples: per sample the inputs' token
 * ids and position ids, the output's ids, position ids and loss mask, the
 * mode and optional per-input weights.  miso-pack writes it (to a file or a
 * pipe); miso-train loads it whole into memory and indexes it.
 *
 * Layout (little-endian, every field 4-byte aligned)
 *   header, 32 bytes:
 *     char magic[8] = "MISOPACK"; u32 version = 1; u32 vocab_size (0 = unknown);
 *     u32 reserved[4] = 0
 *   then records, one per sample, back to back until end of file:
 *     u32 record_bytes            whole record including this field, multiple of 4
 *     u8  mode                    0 sft, 1 para, 2 succ
 *     u8  flags                   bit 0: weights present
 *     u16 n_inputs                1..PACK_MAX_INPUTS (sft: exactly 1)
 *     u32 out_len                 >= 1
 *     u32 in_len[n_inputs]        >= 1 each
 *     for each input i: i32 ids[in_len[i]], then i32 pos[in_len[i]]
 *     i32 out_ids[out_len], i32 out_pos[out_len]
 *     u8  loss_mask[out_len]      zero-padded to a multiple of 4
 *     f32 weights[n_inputs]       only with flag bit 0; they sum to 1
 *     u32 id_len, char id[id_len] zero-padded to a multiple of 4 (the sample id)
 *
 * Semantics (DESIGN.md "Token layout and position ids")
 *   - loss_mask[j] = 1 means out_ids[j] is a target predicted from output
 *     position j-1 (so loss_mask[0] is always 0): loss is taken on the
 *     response tokens and the end-of-turn token only.
 *   - para: every input's positions count from 0; the output starts at
 *     max_i in_len[i].  succ: inputs end to end, the output follows the last.
 *     With one input both are ordinary SFT.  Positions are stored, not
 *     recomputed, so other layouts can be expressed.
 *   - The number of samples is not stored: a pipe writer cannot know it.
 *
 * Ownership: PackData owns the loaded bytes; PackSample pointers point into
 * them and are valid until pack_release.  PackWriter borrows its FILE.
 *
 * Errors: pack_load validates every record before returning (lengths, modes,
 * ids within vocab_size when known, positions >= 0, loss_mask[0] == 0) and
 * returns -1 with err = "FILE: sample N (byte B): message".  pack_write
 * returns -1 with err on a write error or an invalid sample.
 *
 * Usage
 *   PackData d; if (pack_load(&d, "train.pack", &err) < 0) err_die(&err);
 *   for (size_t i = 0; i < d.n; i++) { PackSample s; pack_sample(&d, i, &s); ... }
 *   pack_release(&d);
 */
#ifndef MISO_PACK_H
#define MISO_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

#define PACK_MAX_INPUTS 64
#define PACK_VERSION 1

enum { PACK_SFT = 0, PACK_PARA = 1, PACK_SUCC = 2 };

typedef struct {
    int mode;                              /* PACK_SFT, PACK_PARA, PACK_SUCC */
    int n_inputs;
    int in_len[PACK_MAX_INPUTS];
    const int32_t *in_ids[PACK_MAX_INPUTS];  /* (in_len[i]) */
    const int32_t *in_pos[PACK_MAX_INPUTS];  /* (in_len[i]) */
    int out_len;
    const int32_t *out_ids;                /* (out_len) */
    const int32_t *out_pos;                /* (out_len) */
    const uint8_t *loss_mask;              /* (out_len) */
    const float *weights;                  /* (n_inputs), NULL when absent */
    const char *id;                        /* not NUL-terminated */
    int id_len;
} PackSample;

typedef struct {
    unsigned char *data;   /* the whole file */
    size_t size;
    size_t n;              /* number of samples */
    size_t *offsets;       /* (n) byte offset of each record */
    int vocab_size;        /* from the header, 0 = unknown */
    const char *path;      /* borrowed display name */
} PackData;

typedef struct {
    FILE *f;
    uint64_t n;            /* samples written */
    int vocab_size;
} PackWriter;

int pack_load(PackData *d, const char *path, Err *err);       /* "-" = stdin; gzip ok */
void pack_sample(const PackData *d, size_t i, PackSample *s);
void pack_release(PackData *d);

int pack_writer_init(PackWriter *w, FILE *f, int vocab_size, Err *err);
int pack_write(PackWriter *w, const PackSample *s, Err *err);

/* Check one sample's invariants (as pack_load does); 0 or -1 with err. */
int pack_validate(const PackSample *s, int vocab_size, Err *err);

#endif
