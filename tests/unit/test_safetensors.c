/*
 * test_safetensors.c - the safetensors reader's validation (each rule of
 * trainer-notes §2.1 broken once, each failure a message naming the file and
 * tensor), the writer's layout (sorted header, 8-byte aligned data), dtype
 * widening, and sharded sets.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "testhelp.h"

static char dir[] = "/tmp/miso-st-XXXXXX";

static const char *tmp(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* u64 header length + header + ndata zero bytes */
static void write_raw(const char *path, const char *hdr, size_t ndata, long long lenfield)
{
    FILE *f = fopen(path, "wb");
    unsigned long long n = lenfield >= 0 ? (unsigned long long)lenfield : strlen(hdr);
    for (int i = 0; i < 8; i++)
        fputc((int)((n >> (8 * i)) & 0xff), f);
    fputs(hdr, f);
    for (size_t i = 0; i < ndata; i++)
        fputc(0, f);
    fclose(f);
}

/* open must fail with a message containing want (and the file named) */
static void expect_fail(const char *hdr, size_t ndata, long long lenfield, const char *want, const char *what)
{
    const char *p = tmp("bad.safetensors");
    write_raw(p, hdr, ndata, lenfield);
    StFile f;
    Err e;
    memset(&e, 0, sizeof e);
    int rc = st_open(&f, p, &e);
    CHECK(rc < 0 && strstr(e.msg, want) && e.file && strstr(e.file, "bad.safetensors"), "%s", what);
    if (rc == 0)
        st_close(&f);
    else if (!strstr(e.msg, want))
        printf("    got: %s\n", e.msg);
}

static void test_corrupt(void)
{
    expect_fail("", 0, 0, "header does not start", "rejects an empty header");
    {
        const char *p = tmp("short.safetensors");
        FILE *f = fopen(p, "wb");
        fputs("abc", f);
        fclose(f);
        StFile sf;
        Err e;
        CHECK(st_open(&sf, p, &e) < 0 && strstr(e.msg, "too short"), "rejects a file shorter than the length field");
    }
    expect_fail("{}", 0, 1000, "runs past the end", "rejects a header length past the end of the file");
    expect_fail("{}", 0, 200000000LL, "100 MB", "rejects a header length over 100 MB");
    expect_fail("{\"a\": ", 0, -1, "not a valid JSON", "rejects a header that is not JSON");
    expect_fail("[1, 2]", 0, -1, "does not start with '{'", "rejects a header that is not an object");
    expect_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, -1, "past the end",
                "rejects data_offsets past the end of the file");
    expect_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, -1, "'w'",
                "names the tensor whose offsets are bad");
    expect_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1, "8 bytes for 3 elements",
                "rejects a shape that does not match the byte size");
    expect_fail("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1, "unknown dtype 'Q4'",
                "rejects an unknown dtype");
    expect_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -1, "non-negative",
                "rejects a negative dimension");
    expect_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, -1, "end before",
                "rejects offsets that end before they begin");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12, -1, "overlap", "rejects overlapping tensors");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                12, -1, "hole", "rejects a hole in the data region");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, -1, "data region has 12 bytes",
                "rejects bytes after the last tensor");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, -1, "duplicate tensor 'a'", "rejects duplicate keys");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, -1, "trailing bytes",
                "rejects trailing bytes after the header object other than spaces");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, -1, "needs string 'dtype'",
                "rejects an entry without data_offsets");
    /* a valid header padded with spaces and a scalar and a zero-size tensor */
    write_raw(tmp("ok.safetensors"),
              "{\"__metadata__\":{\"format\":\"pt\"},\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
              "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}   ",
              4, -1);
    StFile f;
    Err e;
    write_raw(tmp("int.safetensors"), "{\"w\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1);
    if (st_open(&f, tmp("int.safetensors"), &e) == 0) {
        float x[2];
        CHECK(st_read_f32(&f, st_find(&f, "w"), x, &e) < 0 && strstr(e.msg, "tensor 'w': dtype I32 cannot be read"),
              "an integer tensor is listed but refused as float, naming tensor and dtype");
        st_close(&f);
    } else {
        CHECK(0, "opens a file with an I32 tensor: %s", e.msg);
    }
    int rc = st_open(&f, tmp("ok.safetensors"), &e);
    CHECK(rc == 0 && f.n == 2 && st_find(&f, "s") && st_numel(st_find(&f, "s")) == 1 &&
              st_numel(st_find(&f, "z")) == 0,
          "accepts space padding, metadata, a scalar and a zero-size tensor");
    if (rc == 0) {
        float x;
        CHECK(st_read_f32(&f, st_find(&f, "s"), &x, &e) == 0 && x == 0.0f, "reads a scalar");
        st_close(&f);
    }
}

static void test_roundtrip(void)
{
    float a[6] = {1.0f, -2.5f, 3.25f, 1e-3f, 65504.0f, -0.0f}, b[3] = {0.1f, 0.2f, 0.3f};
    StWriteTensor t[2] = {{"zeta", 2, {2, 3}, a}, {"alpha", 1, {3}, b}};
    Err e;
    CHECK(st_write(tmp("rt.safetensors"), t, 2, ST_F32, &e) == 0, "writes an F32 file");
    StFile f;
    int rc = st_open(&f, tmp("rt.safetensors"), &e);
    CHECK(rc == 0, "reads back what it wrote");
    if (rc < 0)
        return;
    CHECK(f.data_start % 8 == 0, "data starts 8-byte aligned (header padded)");
    const char *h = (const char *)f.map + 8;
    const char *pa = strstr(h, "\"alpha\""), *pz = strstr(h, "\"zeta\""), *pm = strstr(h, "__metadata__");
    CHECK(pa && pz && pm && pm < pa && pa < pz, "header keys are sorted, metadata first");
    const StTensor *z = st_find(&f, "zeta");
    float got[6];
    CHECK(z && z->ndim == 2 && z->shape[0] == 2 && z->shape[1] == 3 && st_read_f32(&f, z, got, &e) == 0 &&
              !memcmp(got, a, sizeof a),
          "F32 values and shape round-trip exactly");
    CHECK(st_find(&f, "nope") == NULL, "a missing name is not found");
    st_close(&f);

    CHECK(st_write(tmp("bf.safetensors"), t, 2, ST_BF16, &e) == 0, "writes a BF16 file");
    rc = st_open(&f, tmp("bf.safetensors"), &e);
    if (rc == 0) {
        z = st_find(&f, "zeta");
        int ok = z && z->dtype == ST_BF16 && st_read_f32(&f, z, got, &e) == 0;
        for (int i = 0; ok && i < 6; i++)
            ok = got[i] == st_bf16_to_f32(st_f32_to_bf16(a[i])) && fabsf(got[i] - a[i]) <= fabsf(a[i]) / 128;
        CHECK(ok, "BF16 values read back as the rounded F32 values");
        st_close(&f);
    } else {
        CHECK(0, "reads back the BF16 file: %s", e.msg);
    }
    CHECK(st_f32_to_bf16(1.0f + 1.0f / 256) == 0x3f80, "BF16 rounding ties to even (down)");
    CHECK(st_f32_to_bf16(1.0f + 3.0f / 256) == 0x3f82, "BF16 rounding ties to even (up)");
    CHECK(st_f16_to_f32(0x3c00) == 1.0f && st_f16_to_f32(0xc000) == -2.0f && st_f16_to_f32(0x0001) == ldexpf(1, -24) &&
              isinf(st_f16_to_f32(0x7c00)) && st_f16_to_f32(0x7bff) == 65504.0f,
          "F16 decodes normals, subnormals, the maximum and infinity");
}

static void test_sharded(void)
{
    float a[2] = {1, 2}, b[2] = {3, 4};
    StWriteTensor ta = {"a", 1, {2}, a}, tb = {"b", 1, {2}, b};
    Err e;
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sh", dir);
    mkdir(sub, 0777);
    snprintf(sub, sizeof sub, "%s/sh/m1.safetensors", dir);
    st_write(sub, &ta, 1, ST_F32, &e);
    snprintf(sub, sizeof sub, "%s/sh/m2.safetensors", dir);
    st_write(sub, &tb, 1, ST_F32, &e);
    snprintf(sub, sizeof sub, "%s/sh/model.safetensors.index.json", dir);
    FILE *f = fopen(sub, "w");
    fputs("{\"metadata\":{},\"weight_map\":{\"a\":\"m1.safetensors\",\"b\":\"m2.safetensors\"}}", f);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/sh", dir);
    StSet s;
    int rc = st_set_open(&s, sub, &e);
    const StFile *sf = NULL;
    const StTensor *t = rc == 0 ? st_set_find(&s, "b", &sf) : NULL;
    float got[2];
    CHECK(rc == 0 && s.nfiles == 2 && t && st_read_f32(sf, t, got, &e) == 0 && got[1] == 4.0f,
          "a sharded set finds tensors in every shard");
    if (rc == 0)
        st_set_close(&s);
    snprintf(sub, sizeof sub, "%s/sh/model.safetensors.index.json", dir);
    f = fopen(sub, "w");
    fputs("{\"weight_map\":{\"a\":\"m1.safetensors\",\"c\":\"m2.safetensors\"}}", f);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/sh", dir);
    CHECK(st_set_open(&s, sub, &e) < 0 && strstr(e.msg, "'c'") && strstr(e.file, "m2.safetensors"),
          "an index naming a tensor its shard lacks is an error naming shard and tensor");
    snprintf(sub, sizeof sub, "%s/sh/model.safetensors.index.json", dir);
    f = fopen(sub, "w");
    fputs("{\"weight_map\":{\"a\":\"m9.safetensors\"}}", f);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/sh", dir);
    CHECK(st_set_open(&s, sub, &e) < 0 && strstr(e.file, "m9.safetensors") && strstr(e.msg, "cannot open"),
          "a missing shard is an error naming the shard");
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_corrupt();
    test_roundtrip();
    test_sharded();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", dir);
    return TEST_REPORT();
}
