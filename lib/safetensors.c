/*
 * safetensors.c - a validating safetensors reader (mmap) and an F32/BF16
 * writer.
 *
 * The reader maps the whole file read-only and checks every rule of the
 * format before any tensor is handed out, so a truncated or hostile file
 * fails with a message naming the file and the tensor instead of reading out
 * of bounds.  cJSON does not report duplicate keys, so after parsing, the
 * names are sorted and adjacent equal names rejected; the sorted table also
 * serves st_find (binary search).  Coverage is checked by sorting the
 * tensors by begin offset and requiring each to start where the previous one
 * ended, the first at 0 and the last at the end of the file.
 *
 * Widening: BF16 is the high half of an F32 bit pattern; F16 is decoded
 * exactly (subnormals, inf, NaN).
 */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ofile.h"

#define ST_MAX_HEADER (100u * 1000 * 1000)

static const struct {
    const char *name;
    int size;
} dtypes[ST_NDTYPES] = {
    [ST_F64] = {"F64", 8},   [ST_F32] = {"F32", 4},   [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I64] = {"I64", 8},   [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2},   [ST_I8] = {"I8", 1},     [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
    [ST_U16] = {"U16", 2},   [ST_U32] = {"U32", 4},   [ST_U64] = {"U64", 8},
};

/* Err.file is borrowed: keep the path of the last error alive here. */
static char err_path[4096];

static const char *keep_path(const char *p)
{
    snprintf(err_path, sizeof err_path, "%s", p);
    return err_path;
}

const char *st_dtype_name(int dtype)
{
    return dtype >= 0 && dtype < ST_NDTYPES ? dtypes[dtype].name : "?";
}

uint64_t st_numel(const StTensor *t)
{
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (uint64_t)t->shape[i];
    return n;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

static int cmp_begin(const void *a, const void *b)
{
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int parse_entry(StFile *f, StTensor *t, const cJSON *v, uint64_t datalen, Err *err)
{
    const char *name = t->name;
    if (!cJSON_IsObject(v)) {
        err_set(err, keep_path(f->path), 0, "tensor '%s': entry is not an object", name);
        return -1;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(v, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(v, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off)) {
        err_set(err, keep_path(f->path), 0, "tensor '%s': needs string 'dtype', list 'shape' and list 'data_offsets'",
                name);
        return -1;
    }
    t->dtype = -1;
    for (int i = 0; i < ST_NDTYPES; i++)
        if (!strcmp(dt->valuestring, dtypes[i].name))
            t->dtype = i;
    if (t->dtype < 0) {
        err_set(err, keep_path(f->path), 0, "tensor '%s': unknown dtype '%s'", name, dt->valuestring);
        return -1;
    }
    int nd = cJSON_GetArraySize(sh);
    if (nd > ST_MAX_DIMS) {
        err_set(err, keep_path(f->path), 0, "tensor '%s': %d dimensions (at most %d)", name, nd, ST_MAX_DIMS);
        return -1;
    }
    t->ndim = nd;
    unsigned __int128 numel = 1;
    for (int i = 0; i < nd; i++) {
        const cJSON *d = cJSON_GetArrayItem(sh, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 9.007199254740992e15 ||
            d->valuedouble != (double)(int64_t)d->valuedouble) {
            err_set(err, keep_path(f->path), 0, "tensor '%s': shape entries must be non-negative integers", name);
            return -1;
        }
        t->shape[i] = (int64_t)d->valuedouble;
        numel *= (uint64_t)t->shape[i];
        if (numel > ((unsigned __int128)1 << 62)) {
            err_set(err, keep_path(f->path), 0, "tensor '%s': shape too large", name);
            return -1;
        }
    }
    const cJSON *b = cJSON_GetArrayItem(off, 0), *e = cJSON_GetArrayItem(off, 1);
    if (cJSON_GetArraySize(off) != 2 || !cJSON_IsNumber(b) || !cJSON_IsNumber(e) || b->valuedouble < 0 ||
        e->valuedouble < 0 || b->valuedouble != (double)(uint64_t)b->valuedouble ||
        e->valuedouble != (double)(uint64_t)e->valuedouble) {
        err_set(err, keep_path(f->path), 0, "tensor '%s': data_offsets must be two non-negative integers", name);
        return -1;
    }
    t->begin = (uint64_t)b->valuedouble;
    t->end = (uint64_t)e->valuedouble;
    if (t->end < t->begin) {
        err_set(err, keep_path(f->path), 0, "tensor '%s': data_offsets [%llu, %llu) end before they begin", name,
                (unsigned long long)t->begin, (unsigned long long)t->end);
        return -1;
    }
    if (t->end > datalen) {
        err_set(err, keep_path(f->path), 0,
                "tensor '%s': data_offsets [%llu, %llu) run past the end of the file (data region %llu bytes)", name,
                (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)datalen);
        return -1;
    }
    if ((unsigned __int128)(t->end - t->begin) != numel * (unsigned)dtypes[t->dtype].size) {
        err_set(err, keep_path(f->path), 0, "tensor '%s': %llu bytes for %llu elements of %s", name,
                (unsigned long long)(t->end - t->begin), (unsigned long long)numel, dtypes[t->dtype].name);
        return -1;
    }
    return 0;
}

static int parse_header(StFile *f, const char *hdr, size_t n, Err *err)
{
    if (n < 2 || hdr[0] != '{') {
        err_set(err, keep_path(f->path), 0, "header does not start with '{'");
        return -1;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        err_set(err, keep_path(f->path), 0, "header is not a valid JSON object");
        return -1;
    }
    for (const char *p = end; p < hdr + n; p++)
        if (*p != ' ') {
            cJSON_Delete(root);
            err_set(err, keep_path(f->path), 0, "header has trailing bytes after the JSON object");
            return -1;
        }
    uint64_t datalen = f->size - f->data_start;
    size_t cap = (size_t)cJSON_GetArraySize(root);
    f->t = xcalloc(cap ? cap : 1, sizeof *f->t);
    f->n = 0;
    int nmeta = 0;
    for (const cJSON *v = root->child; v; v = v->next) {
        if (!v->string) {
            cJSON_Delete(root);
            err_set(err, keep_path(f->path), 0, "header entry without a name");
            return -1;
        }
        if (!strcmp(v->string, "__metadata__")) {
            if (nmeta++ || !cJSON_IsObject(v)) {
                cJSON_Delete(root);
                err_set(err, keep_path(f->path), 0, nmeta > 1 ? "duplicate key '__metadata__'" : "'__metadata__' is not an object");
                return -1;
            }
            continue;
        }
        StTensor *t = &f->t[f->n++];
        t->name = xstrdup(v->string);
        if (parse_entry(f, t, v, datalen, err) < 0) {
            cJSON_Delete(root);
            return -1;
        }
    }
    cJSON_Delete(root);
    qsort(f->t, f->n, sizeof *f->t, cmp_name);
    for (size_t i = 1; i < f->n; i++)
        if (!strcmp(f->t[i - 1].name, f->t[i].name)) {
            err_set(err, keep_path(f->path), 0, "duplicate tensor '%s' in the header", f->t[i].name);
            return -1;
        }
    /* coverage: sorted by offset, each tensor starts where the last ended */
    const StTensor **byoff = xmalloc(size_mul(f->n ? f->n : 1, sizeof *byoff));
    for (size_t i = 0; i < f->n; i++)
        byoff[i] = &f->t[i];
    qsort(byoff, f->n, sizeof *byoff, cmp_begin);
    uint64_t pos = 0;
    int rc = 0;
    for (size_t i = 0; i < f->n && rc == 0; i++) {
        if (byoff[i]->begin < pos) {
            err_set(err, keep_path(f->path), 0, "tensor '%s': data_offsets [%llu, %llu) overlap another tensor",
                    byoff[i]->name, (unsigned long long)byoff[i]->begin, (unsigned long long)byoff[i]->end);
            rc = -1;
        } else if (byoff[i]->begin > pos) {
            err_set(err, keep_path(f->path), 0, "hole in the data region before tensor '%s' (bytes %llu..%llu unused)",
                    byoff[i]->name, (unsigned long long)pos, (unsigned long long)byoff[i]->begin);
            rc = -1;
        }
        pos = byoff[i]->end;
    }
    if (rc == 0 && pos != datalen) {
        err_set(err, keep_path(f->path), 0, "data region has %llu bytes but the tensors cover %llu",
                (unsigned long long)datalen, (unsigned long long)pos);
        rc = -1;
    }
    free(byoff);
    return rc;
}

int st_open(StFile *f, const char *path, Err *err)
{
    memset(f, 0, sizeof *f);
    f->path = xstrdup(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        err_set(err, keep_path(path), 0, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    f->size = (size_t)st.st_size;
    if (f->size < 8) {
        close(fd);
        err_set(err, keep_path(path), 0, "file too short for a safetensors header (%zu bytes)", f->size);
        goto fail;
    }
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        err_set(err, keep_path(path), 0, "cannot map: %s", strerror(errno));
        goto fail;
    }
    f->map = m;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | f->map[i];
    if (n > ST_MAX_HEADER) {
        err_set(err, keep_path(path), 0, "header length %llu is larger than the 100 MB limit", (unsigned long long)n);
        goto fail;
    }
    if (n > f->size - 8) {
        err_set(err, keep_path(path), 0, "header length %llu runs past the end of the file (%zu bytes)",
                (unsigned long long)n, f->size);
        goto fail;
    }
    f->data_start = 8 + (size_t)n;
    if (parse_header(f, (const char *)f->map + 8, (size_t)n, err) < 0)
        goto fail;
    return 0;
fail:
    st_close(f);
    return -1;
}

void st_close(StFile *f)
{
    if (f->map)
        munmap((void *)f->map, f->size);
    for (size_t i = 0; i < f->n; i++)
        free(f->t[i].name);
    free(f->t);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const StTensor *st_find(const StFile *f, const char *name)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->t[mid].name, name);
        if (c == 0)
            return &f->t[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

float st_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t st_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            man &= 0x3ff;
            u = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int st_read_f32(const StFile *f, const StTensor *t, float *out, Err *err)
{
    const unsigned char *p = f->map + f->data_start + t->begin;
    uint64_t n = st_numel(t);
    switch (t->dtype) {
    case ST_F32:
        memcpy(out, p, (size_t)n * 4);
        return 0;
    case ST_BF16:
        for (uint64_t i = 0; i < n; i++)
            out[i] = st_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    case ST_F16:
        for (uint64_t i = 0; i < n; i++)
            out[i] = st_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    default:
        err_set(err, keep_path(f->path), 0, "tensor '%s': dtype %s cannot be read as float (F32, BF16, F16 only)",
                t->name, dtypes[t->dtype].name);
        return -1;
    }
}

/* ------------------------------------------------------------------------ */
/* Sharded sets                                                              */

static char *read_small_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    StrBuf sb = SB_INIT;
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, fp)) > 0)
        sb_add(&sb, buf, k);
    fclose(fp);
    return sb_detach(&sb, len);
}

int st_set_open(StSet *s, const char *dir, Err *err)
{
    memset(s, 0, sizeof *s);
    StrBuf p = SB_INIT;
    sb_addf(&p, "%s/model.safetensors", dir);
    struct stat single;
    int have_single = stat(p.buf, &single) == 0;
    sb_reset(&p);
    sb_addf(&p, "%s/model.safetensors.index.json", dir);
    size_t len = 0;
    char *idx = have_single ? NULL : read_small_file(p.buf, &len);
    if (!idx && !have_single && errno == ENOENT) {
        /* no weights we read: say what is there instead */
        static const char *const other[] = {"pytorch_model.bin", "pytorch_model.bin.index.json",
                                            "consolidated.safetensors", "consolidated.00.pth", "model.gguf"};
        const char *found = NULL;
        struct stat o;
        for (size_t i = 0; i < sizeof other / sizeof other[0] && !found; i++) {
            StrBuf q = SB_INIT;
            sb_addf(&q, "%s/%s", dir, other[i]);
            if (stat(q.buf, &o) == 0)
                found = other[i];
            sb_release(&q);
        }
        if (found)
            err_set(err, keep_path(dir), 0, "no model.safetensors or model.safetensors.index.json, only '%s' (%s)",
                    found, !strncmp(found, "pytorch", 7) ? "PyTorch pickles are not read: save the model with "
                                                           "safe_serialization, or convert it to safetensors"
                                                         : "not the Hugging Face layout: use the transformers version "
                                                           "of this model");
        else
            err_set(err, keep_path(dir), 0, "no model.safetensors or model.safetensors.index.json in this directory");
        sb_release(&p);
        return -1;
    }
    if (!idx) {
        sb_reset(&p);
        sb_addf(&p, "%s/model.safetensors", dir);
        s->files = xcalloc(1, sizeof *s->files);
        int rc = st_open(&s->files[0], p.buf, err);
        sb_release(&p);
        if (rc < 0) {
            free(s->files);
            s->files = NULL;
            return -1;
        }
        s->nfiles = 1;
        return 0;
    }
    int rc = -1;
    cJSON *root = cJSON_ParseWithLength(idx, len);
    const cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) {
        err_set(err, keep_path(p.buf), 0, "not a JSON object with a 'weight_map' object");
        goto out;
    }
    size_t cap = 0;
    for (const cJSON *v = wm->child; v; v = v->next) {
        if (!cJSON_IsString(v) || strchr(v->valuestring, '/') || !v->valuestring[0]) {
            err_set(err, keep_path(p.buf), 0, "tensor '%s': shard name must be a plain file name",
                    v->string ? v->string : "?");
            goto out;
        }
        size_t i;
        for (i = 0; i < s->nfiles; i++) {
            const char *base = strrchr(s->files[i].path, '/');
            if (!strcmp(base ? base + 1 : s->files[i].path, v->valuestring))
                break;
        }
        if (i == s->nfiles) {
            s->files = grow_array(s->files, &cap, s->nfiles + 1, sizeof *s->files);
            StrBuf sp = SB_INIT;
            sb_addf(&sp, "%s/%s", dir, v->valuestring);
            int r = st_open(&s->files[s->nfiles], sp.buf, err);
            sb_release(&sp);
            if (r < 0)
                goto out;
            s->nfiles++;
        }
        if (!st_find(&s->files[i], v->string)) {
            err_set(err, keep_path(s->files[i].path), 0, "tensor '%s': listed in the index but missing from the shard",
                    v->string);
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    free(idx);
    sb_release(&p);
    if (rc < 0)
        st_set_close(s);
    return rc;
}

void st_set_close(StSet *s)
{
    for (size_t i = 0; i < s->nfiles; i++)
        st_close(&s->files[i]);
    free(s->files);
    memset(s, 0, sizeof *s);
}

const StTensor *st_set_find(const StSet *s, const char *name, const StFile **file)
{
    for (size_t i = 0; i < s->nfiles; i++) {
        const StTensor *t = st_find(&s->files[i], name);
        if (t) {
            if (file)
                *file = &s->files[i];
            return t;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */

static int cmp_wname(const void *a, const void *b)
{
    return strcmp((*(const StWriteTensor *const *)a)->name, (*(const StWriteTensor *const *)b)->name);
}

int st_write_uncommitted(OutFile *of, const char *path, const StWriteTensor *t, size_t n, int dtype, Err *err)
{
    int es = dtype == ST_BF16 ? 2 : 4;
    const StWriteTensor **order = xmalloc(size_mul(n ? n : 1, sizeof *order));
    for (size_t i = 0; i < n; i++)
        order[i] = &t[i];
    qsort(order, n, sizeof *order, cmp_wname);
    StrBuf h = SB_INIT;
    sb_adds(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t numel = 1;
        sb_addf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", order[i]->name, dtype == ST_BF16 ? "BF16" : "F32");
        for (int d = 0; d < order[i]->ndim; d++) {
            sb_addf(&h, "%s%lld", d ? "," : "", (long long)order[i]->shape[d]);
            numel *= (uint64_t)order[i]->shape[d];
        }
        sb_addf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                (unsigned long long)(off + numel * (uint64_t)es));
        off += numel * (uint64_t)es;
    }
    sb_addc(&h, '}');
    while ((8 + h.len) % 8)
        sb_addc(&h, ' ');
    FILE *fp = ofile_open(of, path, err);
    if (!fp) {
        sb_release(&h);
        free(order);
        return -1;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    fwrite(len8, 1, 8, fp);
    fwrite(h.buf, 1, h.len, fp);
    uint16_t buf[4096];
    for (size_t i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < order[i]->ndim; d++)
            numel *= (uint64_t)order[i]->shape[d];
        if (dtype == ST_F32) {
            fwrite(order[i]->data, 4, (size_t)numel, fp); /* little-endian host */
        } else {
            for (uint64_t j = 0; j < numel;) {
                size_t k = 0;
                for (; k < 4096 && j < numel; k++, j++)
                    buf[k] = st_f32_to_bf16(order[i]->data[j]);
                fwrite(buf, 2, k, fp);
            }
        }
    }
    sb_release(&h);
    free(order);
    return 0;
}

int st_write(const char *path, const StWriteTensor *t, size_t n, int dtype, Err *err)
{
    OutFile of;
    if (st_write_uncommitted(&of, path, t, n, dtype, err) < 0)
        return -1;
    return ofile_commit(&of, err);
}
