/*
 * pack.c - reading and writing the packed training file (layout in pack.h).
 * Records are 4-byte aligned so the loaded bytes are used in place: a sample
 * costs no copy and no allocation at training time.
 */
#include "pack.h"
#include "jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = {'M', 'I', 'S', 'O', 'P', 'A', 'C', 'K'};

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

int pack_validate(const PackSample *s, int vocab_size, Err *err)
{
    if (s->mode < PACK_SFT || s->mode > PACK_SUCC)
        return err_set(err, NULL, 0, "unknown mode %d", s->mode), -1;
    if (s->n_inputs < 1 || s->n_inputs > PACK_MAX_INPUTS)
        return err_set(err, NULL, 0, "%d inputs (need 1..%d)", s->n_inputs, PACK_MAX_INPUTS), -1;
    if (s->mode == PACK_SFT && s->n_inputs != 1)
        return err_set(err, NULL, 0, "an sft sample has %d inputs (need exactly 1)", s->n_inputs), -1;
    if (s->out_len < 1)
        return err_set(err, NULL, 0, "empty output"), -1;
    if (s->loss_mask[0] != 0)
        return err_set(err, NULL, 0, "loss_mask[0] is 1 (the first output token has no position to be predicted from)"), -1;
    for (int i = 0; i < s->n_inputs; i++) {
        if (s->in_len[i] < 1)
            return err_set(err, NULL, 0, "input %d is empty", i), -1;
        for (int t = 0; t < s->in_len[i]; t++) {
            if (s->in_ids[i][t] < 0 || (vocab_size > 0 && s->in_ids[i][t] >= vocab_size))
                return err_set(err, NULL, 0, "input %d token %d: id %d outside the vocabulary (%d)", i, t,
                               (int)s->in_ids[i][t], vocab_size), -1;
            if (s->in_pos[i][t] < 0)
                return err_set(err, NULL, 0, "input %d token %d: negative position", i, t), -1;
        }
    }
    for (int t = 0; t < s->out_len; t++) {
        if (s->out_ids[t] < 0 || (vocab_size > 0 && s->out_ids[t] >= vocab_size))
            return err_set(err, NULL, 0, "output token %d: id %d outside the vocabulary (%d)", t, (int)s->out_ids[t],
                           vocab_size), -1;
        if (s->out_pos[t] < 0)
            return err_set(err, NULL, 0, "output token %d: negative position", t), -1;
        if (s->loss_mask[t] > 1)
            return err_set(err, NULL, 0, "output token %d: loss mask %d is not 0 or 1", t, s->loss_mask[t]), -1;
    }
    return 0;
}

int pack_writer_init(PackWriter *w, FILE *f, int vocab_size, Err *err)
{
    unsigned char h[32] = {0};
    uint32_t v = PACK_VERSION, vs = vocab_size > 0 ? (uint32_t)vocab_size : 0;
    memcpy(h, MAGIC, 8);
    memcpy(h + 8, &v, 4);
    memcpy(h + 12, &vs, 4);
    w->f = f;
    w->n = 0;
    w->vocab_size = vocab_size;
    if (fwrite(h, 1, sizeof h, f) != sizeof h)
        return err_set(err, NULL, 0, "write error: %s", strerror(errno)), -1;
    return 0;
}

int pack_write(PackWriter *w, const PackSample *s, Err *err)
{
    if (pack_validate(s, w->vocab_size, err) < 0)
        return -1;
    size_t nin = (size_t)s->n_inputs, bytes = 12 + 4 * nin;
    for (size_t i = 0; i < nin; i++)
        bytes += 8 * (size_t)s->in_len[i];
    bytes += 8 * (size_t)s->out_len + pad4((size_t)s->out_len);
    if (s->weights)
        bytes += 4 * nin;
    bytes += 4 + pad4((size_t)s->id_len);
    if (bytes > UINT32_MAX)
        return err_set(err, NULL, 0, "sample too large (%zu bytes)", bytes), -1;
    unsigned char *buf = xcalloc(bytes, 1), *p = buf;
    uint32_t u32 = (uint32_t)bytes;
    uint16_t u16 = (uint16_t)nin;
    memcpy(p, &u32, 4);
    p[4] = (unsigned char)s->mode;
    p[5] = s->weights ? 1 : 0;
    memcpy(p + 6, &u16, 2);
    u32 = (uint32_t)s->out_len;
    memcpy(p + 8, &u32, 4);
    p += 12;
    for (size_t i = 0; i < nin; i++) {
        u32 = (uint32_t)s->in_len[i];
        memcpy(p, &u32, 4);
        p += 4;
    }
    for (size_t i = 0; i < nin; i++) {
        size_t n = 4 * (size_t)s->in_len[i];
        memcpy(p, s->in_ids[i], n);
        memcpy(p + n, s->in_pos[i], n);
        p += 2 * n;
    }
    size_t n = 4 * (size_t)s->out_len;
    memcpy(p, s->out_ids, n);
    memcpy(p + n, s->out_pos, n);
    p += 2 * n;
    memcpy(p, s->loss_mask, (size_t)s->out_len);
    p += pad4((size_t)s->out_len);
    if (s->weights) {
        memcpy(p, s->weights, 4 * nin);
        p += 4 * nin;
    }
    u32 = (uint32_t)s->id_len;
    memcpy(p, &u32, 4);
    if (s->id_len)
        memcpy(p + 4, s->id, (size_t)s->id_len);
    size_t wrote = fwrite(buf, 1, bytes, w->f);
    free(buf);
    if (wrote != bytes)
        return err_set(err, NULL, 0, "write error: %s", strerror(errno)), -1;
    w->n++;
    return 0;
}

/* Parse the record at off into s without trusting it; -1 + err on damage. */
static int parse_record(const PackData *d, size_t off, PackSample *s, size_t *next, Err *err)
{
    const unsigned char *p = d->data + off, *end;
    size_t avail = d->size - off;
    uint32_t bytes, u32;
    uint16_t nin;
    if (avail < 12)
        return err_set(err, NULL, 0, "truncated record header"), -1;
    memcpy(&bytes, p, 4);
    if (bytes < 16 || bytes % 4 || bytes > avail)
        return err_set(err, NULL, 0, "bad record length %u (%zu bytes left)", bytes, avail), -1;
    end = p + bytes;
    s->mode = p[4];
    memcpy(&nin, p + 6, 2);
    memcpy(&u32, p + 8, 4);
    s->n_inputs = nin;
    s->out_len = (int)u32;
    if (nin < 1 || nin > PACK_MAX_INPUTS)
        return err_set(err, NULL, 0, "%u inputs (need 1..%d)", nin, PACK_MAX_INPUTS), -1;
    const unsigned char *q = p + 12;
    if ((size_t)(end - q) < 4u * nin)
        return err_set(err, NULL, 0, "record too short for its input lengths"), -1;
    for (int i = 0; i < nin; i++) {
        memcpy(&u32, q, 4);
        q += 4;
        if (u32 > bytes)
            return err_set(err, NULL, 0, "input %d length %u exceeds the record", i, u32), -1;
        s->in_len[i] = (int)u32;
    }
    for (int i = 0; i < nin; i++) {
        size_t n = 4 * (size_t)s->in_len[i];
        if ((size_t)(end - q) < 2 * n)
            return err_set(err, NULL, 0, "record too short for input %d", i), -1;
        s->in_ids[i] = (const int32_t *)q;
        s->in_pos[i] = (const int32_t *)(q + n);
        q += 2 * n;
    }
    if ((size_t)s->out_len > bytes)
        return err_set(err, NULL, 0, "output length %d exceeds the record", s->out_len), -1;
    size_t n = 4 * (size_t)s->out_len;
    if ((size_t)(end - q) < 2 * n + pad4((size_t)s->out_len))
        return err_set(err, NULL, 0, "record too short for its output"), -1;
    s->out_ids = (const int32_t *)q;
    s->out_pos = (const int32_t *)(q + n);
    q += 2 * n;
    s->loss_mask = q;
    q += pad4((size_t)s->out_len);
    s->weights = NULL;
    if (p[5] & 1) {
        if ((size_t)(end - q) < 4u * nin)
            return err_set(err, NULL, 0, "record too short for its weights"), -1;
        s->weights = (const float *)q;
        q += 4u * nin;
    }
    if (end - q < 4)
        return err_set(err, NULL, 0, "record too short for its id"), -1;
    memcpy(&u32, q, 4);
    q += 4;
    if ((size_t)(end - q) < pad4(u32))
        return err_set(err, NULL, 0, "record too short for its id"), -1;
    s->id = (const char *)q;
    s->id_len = (int)u32;
    *next = off + bytes;
    return 0;
}

int pack_load(PackData *d, const char *path, Err *err)
{
    memset(d, 0, sizeof *d);
    int is_stdin = !path || !strcmp(path, "-");
    d->path = is_stdin ? "<stdin>" : path;
    int fd = is_stdin ? dup(0) : open(path, O_RDONLY);
    if (fd < 0)
        return err_set(err, NULL, 0, "cannot open '%s': %s", d->path, strerror(errno)), -1;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return err_set(err, NULL, 0, "cannot open '%s'", d->path), -1;
    }
    size_t cap = 1 << 20;
    d->data = xmalloc(cap);
    for (;;) {
        if (cap - d->size < (1 << 20)) {
            cap = size_mul(cap, 2);
            d->data = xrealloc(d->data, cap);
        }
        int k = gzread(gz, d->data + d->size, 1 << 20);
        if (k < 0) {
            int e;
            const char *m = jsonl_gz_error(gz, &e);
            err_set(err, d->path, 0, "read error: %s", e == Z_ERRNO ? strerror(errno) : m);
            gzclose(gz);
            pack_release(d);
            return -1;
        }
        if (k == 0)
            break;
        d->size += (size_t)k;
    }
    int zerr;
    const char *zmsg = jsonl_gz_error(gz, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        err_set(err, d->path, 0, "truncated or corrupt gzip input: %s", zmsg);
        gzclose(gz);
        pack_release(d);
        return -1;
    }
    gzclose(gz);
    uint32_t version, vocab;
    if (d->size < 32 || memcmp(d->data, MAGIC, 8) != 0) {
        err_set(err, d->path, 0, "not a miso packed file (bad magic; make it with miso-pack)");
        pack_release(d);
        return -1;
    }
    memcpy(&version, d->data + 8, 4);
    memcpy(&vocab, d->data + 12, 4);
    if (version != PACK_VERSION) {
        err_set(err, d->path, 0, "packed file version %u (this miso reads %d)", version, PACK_VERSION);
        pack_release(d);
        return -1;
    }
    d->vocab_size = (int)vocab;
    size_t off = 32, capn = 0;
    while (off < d->size) {
        PackSample s;
        size_t next;
        if (parse_record(d, off, &s, &next, err) < 0 || pack_validate(&s, d->vocab_size, err) < 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            err_set(err, d->path, 0, "sample %zu (byte %zu): %s", d->n + 1, off, msg);
            pack_release(d);
            return -1;
        }
        d->offsets = grow_array(d->offsets, &capn, d->n + 1, sizeof *d->offsets);
        d->offsets[d->n++] = off;
        off = next;
    }
    return 0;
}

void pack_sample(const PackData *d, size_t i, PackSample *s)
{
    size_t next;
    Err e;
    int rc = parse_record(d, d->offsets[i], s, &next, &e);
    (void)rc; /* validated at load time */
}

void pack_release(PackData *d)
{
    free(d->data);
    free(d->offsets);
    memset(d, 0, sizeof *d);
}
