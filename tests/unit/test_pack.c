/* test_pack.c - packed-file round trip and validation of damaged files. */
#include "testhelp.h"
#include "pack.h"

#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    char path[] = "/tmp/miso-test-pack-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "wb");
    Err err;
    PackWriter w;
    CHECK(pack_writer_init(&w, f, 100, &err) == 0, "writes a header");
    int32_t a[3] = {1, 5, 6}, ap[3] = {0, 1, 2}, b[2] = {1, 7}, bp[2] = {0, 1};
    int32_t o[4] = {9, 10, 11, 2}, op[4] = {3, 4, 5, 6};
    uint8_t m[4] = {0, 1, 1, 1};
    float wts[2] = {0.25f, 0.75f};
    PackSample s = {0};
    s.mode = PACK_PARA;
    s.n_inputs = 2;
    s.in_len[0] = 3, s.in_ids[0] = a, s.in_pos[0] = ap;
    s.in_len[1] = 2, s.in_ids[1] = b, s.in_pos[1] = bp;
    s.out_len = 4, s.out_ids = o, s.out_pos = op, s.loss_mask = m;
    s.weights = wts;
    s.id = "crab-1", s.id_len = 6;
    CHECK(pack_write(&w, &s, &err) == 0, "writes a para sample with weights");
    PackSample t = s;
    t.mode = PACK_SFT, t.n_inputs = 1, t.weights = NULL, t.id = "x", t.id_len = 1;
    CHECK(pack_write(&w, &t, &err) == 0, "writes an sft sample");
    PackSample bad = t;
    int32_t big[4] = {9, 10, 100, 2};
    bad.out_ids = big;
    CHECK(pack_write(&w, &bad, &err) < 0 && strstr(err.msg, "outside the vocabulary"), "refuses an id outside the vocabulary: %s", err.msg);
    bad = t;
    uint8_t m0[4] = {1, 1, 1, 1};
    bad.loss_mask = m0;
    CHECK(pack_write(&w, &bad, &err) < 0, "refuses a loss mask on the first output token");
    fclose(f);

    PackData d;
    CHECK(pack_load(&d, path, &err) == 0 && d.n == 2 && d.vocab_size == 100, "loads two samples back");
    PackSample r;
    pack_sample(&d, 0, &r);
    CHECK(r.mode == PACK_PARA && r.n_inputs == 2 && r.in_len[1] == 2 && r.in_ids[1][1] == 7 && r.out_len == 4 &&
              r.out_pos[3] == 6 && r.loss_mask[1] == 1 && r.weights && r.weights[1] == 0.75f && r.id_len == 6 &&
              !memcmp(r.id, "crab-1", 6),
          "the first sample round-trips field by field");
    pack_sample(&d, 1, &r);
    CHECK(r.mode == PACK_SFT && r.weights == NULL && r.in_ids[0][2] == 6, "the second sample round-trips");
    size_t size = d.size;
    pack_release(&d);

    CHECK(truncate(path, (off_t)size - 8) == 0, "truncates the file");
    CHECK(pack_load(&d, path, &err) < 0 && strstr(err.msg, "sample 2"), "reports a truncated last sample: %s", err.msg);
    f = fopen(path, "wb");
    fputs("{\"not\": \"a pack\"}\n", f);
    fclose(f);
    CHECK(pack_load(&d, path, &err) < 0 && strstr(err.msg, "not a miso packed file"), "rejects a file that is not packed: %s", err.msg);
    unlink(path);
    return TEST_REPORT();
}
