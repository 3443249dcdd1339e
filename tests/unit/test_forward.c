/*
 * test_forward.c - lib/forward, lib/sampler and lib/generate against outside
 * references:
 *   - tests/fixtures/model/<name>/reference.json: float64 logits from
 *     tests/reference/model_ref.py (PyTorch, HF Llama/Qwen2 semantics) for
 *     prompts (prefill and token by token with the KV cache) and for
 *     multi-input prompts under miso, miso-fid and concat;
 *   - tests/fixtures/stories260K_greedy.txt: the ids llama2.c's run.c
 *     generates greedily from BOS on datasets/models/stories260K.bin.
 * Tolerance: max |C - ref| <= 1e-4 * max(1, max |ref|) (F32 against float64).
 */
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "generate.h"
#include "model.h"
#include "sampler.h"
#include "testhelp.h"
#include "tokenizer.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    StrBuf sb = SB_INIT;
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        sb_add(&sb, buf, k);
    fclose(f);
    return sb_detach(&sb, NULL);
}

static int32_t *ids_of(const cJSON *a, int *n)
{
    *n = cJSON_GetArraySize(a);
    int32_t *v = xmalloc(sizeof(int32_t) * (size_t)(*n ? *n : 1));
    for (int i = 0; i < *n; i++)
        v[i] = (int32_t)cJSON_GetArrayItem(a, i)->valuedouble;
    return v;
}

/* max |got - ref| / max(1, max |ref|) over T rows of V logits */
static double rel_diff(const float *got, const cJSON *ref, int T, int V)
{
    double md = 0, mr = 1;
    for (int t = 0; t < T; t++) {
        const cJSON *row = cJSON_GetArrayItem(ref, t);
        for (int v = 0; v < V; v++) {
            double r = cJSON_GetArrayItem(row, v)->valuedouble;
            double d = fabs(r - got[(size_t)t * V + v]);
            if (d > md)
                md = d;
            if (fabs(r) > mr)
                mr = fabs(r);
        }
    }
    return md / mr;
}

static void check_fixture(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/model/%s", name);
    Model m;
    Err e;
    int rc = model_load(&m, path, &e);
    CHECK(rc == 0, "%s: loads", name);
    if (rc < 0) {
        printf("    %s\n", e.msg);
        return;
    }
    snprintf(path, sizeof path, "tests/fixtures/model/%s/reference.json", name);
    char *text = slurp(path);
    cJSON *ref = text ? cJSON_Parse(text) : NULL;
    CHECK(ref != NULL, "%s: reference logits are readable", name);
    if (!ref) {
        model_release(&m);
        free(text);
        return;
    }
    int V = m.cfg.vocab_size;
    Forward f;
    fwd_init(&f, &m);
    const cJSON *cases = cJSON_GetObjectItem(ref, "cases");
    for (const cJSON *c = cases->child; c; c = c->next) {
        const char *kind = cJSON_GetObjectItem(c, "kind")->valuestring;
        int T;
        int32_t *ids = ids_of(cJSON_GetObjectItem(c, "ids"), &T);
        const cJSON *lg = cJSON_GetObjectItem(c, "logits");
        float *out = xmalloc(sizeof(float) * (size_t)T * V);
        if (!strcmp(kind, "plain")) {
            KVCache kc;
            kv_init(&kc, &m.cfg, T);
            fwd_forward(&f, &kc, NULL, 0, 0, ids, T, 0, out, 1);
            double d = rel_diff(out, lg, T, V);
            CHECK(d <= 1e-4, "%s: prefill of %d tokens matches the PyTorch logits (max rel diff %.2e)", name, T, d);
            kv_reset(&kc);
            for (int t = 0; t < T; t++)
                fwd_forward(&f, &kc, NULL, 0, 0, &ids[t], 1, t, out + (size_t)t * V, 0);
            d = rel_diff(out, lg, T, V);
            CHECK(d <= 1e-4, "%s: token-by-token decoding with the KV cache matches (%d tokens, %.2e)", name, T, d);
            kv_release(&kc);
        } else {
            int attn = !strcmp(kind, "miso") ? FWD_ATTN_MISO : !strcmp(kind, "miso-fid") ? FWD_ATTN_MISO_FID
                                                                                          : FWD_ATTN_CONCAT;
            const cJSON *ins = cJSON_GetObjectItem(c, "inputs");
            int n = cJSON_GetArraySize(ins), start = 0;
            KVCache *ctx = xcalloc((size_t)n, sizeof *ctx), **pp = xcalloc((size_t)n, sizeof *pp);
            for (int i = 0; i < n; i++) {
                int len;
                int32_t *in = ids_of(cJSON_GetArrayItem(ins, i), &len);
                kv_init(&ctx[i], &m.cfg, len);
                fwd_forward(&f, &ctx[i], NULL, 0, 0, in, len, 0, NULL, 0);
                pp[i] = &ctx[i];
                if (len > start)
                    start = len;
                free(in);
            }
            KVCache own;
            kv_init(&own, &m.cfg, T);
            fwd_forward(&f, &own, pp, n, attn, ids, T, start, out, 1);
            double d = rel_diff(out, lg, T, V);
            CHECK(d <= 1e-4, "%s: %s with %d input%s matches the PyTorch logits (max rel diff %.2e)", name, kind, n,
                  n == 1 ? "" : "s", d);
            /* the output part decoded one token at a time gives the same */
            kv_reset(&own);
            for (int t = 0; t < T; t++)
                fwd_forward(&f, &own, pp, n, attn, &ids[t], 1, start + t, out + (size_t)t * V, 0);
            d = rel_diff(out, lg, T, V);
            CHECK(d <= 1e-4, "%s: %s decoded token by token matches too (%.2e)", name, kind, d);
            kv_release(&own);
            for (int i = 0; i < n; i++)
                kv_release(&ctx[i]);
            free(ctx);
            free(pp);
        }
        free(out);
        free(ids);
    }
    cJSON_Delete(ref);
    free(text);
    fwd_release(&f);
    model_release(&m);
}

static void test_stories_greedy(void)
{
    char *text = slurp("tests/fixtures/stories260K_greedy.txt");
    CHECK(text != NULL, "run.c's greedy ids fixture is readable");
    if (!text)
        return;
    IntVec want = {0};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        for (char *p = line, *end; *p; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p)
                break;
            intvec_push(&want, (int32_t)v);
        }
    }
    free(text);
    /* run.c's loop: token 1 at pos 0, argmax, stop when it generates 1 */
    Model m;
    Err e;
    if (model_load(&m, "datasets/models/stories260K.bin", &e) < 0) {
        CHECK(0, "loads stories260K.bin: %s", e.msg);
        intvec_release(&want);
        return;
    }
    Forward f;
    fwd_init(&f, &m);
    KVCache c;
    kv_init(&c, &m.cfg, 512);
    {
        /* a long prompt takes the sgemm attention path; decoding the same
         * tokens one by one takes the loop: they must agree */
        enum { TL = 330 };
        int32_t p[TL];
        for (int i = 0; i < TL; i++)
            p[i] = want.n > (size_t)i ? want.v[i] : (int32_t)(13 + i % 400);
        int V = m.cfg.vocab_size;
        float *a = xmalloc(sizeof(float) * TL * (size_t)V), *b = xmalloc(sizeof(float) * TL * (size_t)V);
        fwd_forward(&f, &c, NULL, 0, 0, p, 30, 0, a, 1);
        fwd_forward(&f, &c, NULL, 0, 0, p + 30, TL - 30, 30, a + (size_t)30 * V, 1); /* after a cached part */
        kv_reset(&c);
        for (int t = 0; t < TL; t++)
            fwd_forward(&f, &c, NULL, 0, 0, &p[t], 1, t, b + (size_t)t * V, 0);
        kv_reset(&c);
        double md = 0, mr = 1;
        for (size_t i = 0; i < (size_t)TL * V; i++) {
            md = fmax(md, fabs(a[i] - b[i]));
            mr = fmax(mr, fabs(b[i]));
        }
        CHECK(md / mr <= 1e-5, "stories260K: prefill of 30 + 300 tokens (sgemm attention, 2 row blocks) equals decoding "
              "them one by one (%.2e)", md / mr);
        /* the thread count must not change the result beyond rounding:
         * NEEDSWORK: not bit for bit, because OpenBLAS's single-threaded
         * sgemm takes other kernels (small-matrix path) than its threaded
         * one; lib/forward's own loops are thread-count independent. */
        int nt = omp_get_max_threads();
        omp_set_num_threads(1);
        kv_reset(&c);
        fwd_forward(&f, &c, NULL, 0, 0, p, TL, 0, b, 1);
        omp_set_num_threads(nt > 1 ? nt : 2);
        kv_reset(&c);
        fwd_forward(&f, &c, NULL, 0, 0, p, TL, 0, a, 1);
        omp_set_num_threads(nt);
        kv_reset(&c);
        md = 0;
        int same_argmax = 1;
        for (int t = 0; t < TL; t++)
            same_argmax &= sampler_argmax(a + (size_t)t * V, V) == sampler_argmax(b + (size_t)t * V, V);
        for (size_t i = 0; i < (size_t)TL * V; i++)
            md = fmax(md, fabs(a[i] - b[i]));
        CHECK(md / mr <= 1e-5 && same_argmax, "prefill with 1 and %d threads agrees to %.2e and in every argmax",
              nt > 1 ? nt : 2, md / mr);
        free(a);
        free(b);
    }
    float *lg = xmalloc(sizeof(float) * (size_t)m.cfg.vocab_size);
    IntVec got = {0};
    int32_t tok = 1;
    for (int pos = 0; pos < 256; pos++) {
        fwd_forward(&f, &c, NULL, 0, 0, &tok, 1, pos, lg, 0);
        int next = sampler_argmax(lg, m.cfg.vocab_size);
        if (next == 1)
            break;
        intvec_push(&got, next);
        tok = next;
    }
    int same = got.n == want.n && want.n > 0 && !memcmp(got.v, want.v, want.n * sizeof(int32_t));
    size_t first = 0;
    while (first < got.n && first < want.n && got.v[first] == want.v[first])
        first++;
    CHECK(same, "greedy generation from BOS on stories260K equals llama2.c run.c token for token (%zu ids, first "
          "difference at %zu)", want.n, first);
    /* the same through the public API (which stops at EOS, never met here) */
    Generator *g = gen_open("datasets/models/stories260K.bin", NULL, NULL, &e);
    CHECK(g != NULL, "gen_open opens a llama2.c .bin without a tokenizer");
    if (g) {
        GenOptions o;
        gen_options_default(&o);
        o.max_new_tokens = 256;
        int32_t bos = 1;
        const int32_t *in[] = {&bos};
        size_t len[] = {1};
        IntVec ids = {0};
        int rc = gen_from_ids(g, in, len, 1, &o, &ids, &e);
        CHECK(rc == 0 && ids.n == want.n && !memcmp(ids.v, want.v, want.n * sizeof(int32_t)),
              "gen_from_ids greedy from BOS gives run.c's ids too");
        StrBuf sb = SB_INIT;
        const char *txt[] = {"hello"};
        CHECK(gen_respond(g, NULL, txt, 1, &o, &sb, &e) < 0 && strstr(e.msg, "no tokenizer"),
              "gen_respond without a tokenizer fails with 'no tokenizer'");
        /* multi-input with one input repeated: miso == the single input */
        int32_t p1[] = {1, 300, 301, 302};
        const int32_t *in2[] = {p1, p1};
        size_t len2[] = {4, 4};
        IntVec a = {0}, b = {0};
        o.max_new_tokens = 20;
        gen_from_ids(g, in2, len2, 1, &o, &a, &e);
        gen_from_ids(g, in2, len2, 2, &o, &b, &e);
        CHECK(a.n == b.n && a.n > 0 && !memcmp(a.v, b.v, a.n * sizeof(int32_t)),
              "miso over two copies of one prompt generates what the prompt alone does");
        int32_t p2[] = {1, 300, 7};
        const int32_t *in3[] = {p1, p2};
        size_t len3[] = {4, 3};
        IntVec x = {0};
        CHECK(gen_from_ids(g, in3, len3, 2, &o, &x, &e) < 0 && strstr(e.msg, "same token"),
              "several raw inputs must end with the same id");
        int32_t bad[] = {1, 9999};
        const int32_t *in4[] = {bad};
        size_t len4[] = {2};
        CHECK(gen_from_ids(g, in4, len4, 1, &o, &x, &e) < 0 && strstr(e.msg, "outside the vocabulary"),
              "rejects a token id outside the vocabulary");
        /* sampling is reproducible with a seed and differs across seeds */
        IntVec s1 = {0}, s2 = {0}, s3 = {0};
        o.temperature = 1.0f, o.top_p = 0.9f, o.max_new_tokens = 40, o.seed = 5;
        gen_from_ids(g, in, len, 1, &o, &s1, &e);
        gen_from_ids(g, in, len, 1, &o, &s2, &e);
        o.seed = 6;
        gen_from_ids(g, in, len, 1, &o, &s3, &e);
        CHECK(s1.n == s2.n && !memcmp(s1.v, s2.v, s1.n * sizeof(int32_t)), "sampling with the same seed repeats");
        CHECK(!(s1.n == s3.n && !memcmp(s1.v, s3.v, s1.n * sizeof(int32_t))), "another seed samples differently");
        intvec_release(&ids), intvec_release(&a), intvec_release(&b), intvec_release(&x);
        intvec_release(&s1), intvec_release(&s2), intvec_release(&s3);
        sb_release(&sb);
        gen_close(g);
    }
    free(lg);
    intvec_release(&got);
    intvec_release(&want);
    kv_release(&c);
    fwd_release(&f);
    model_release(&m);
}

static void test_sampler(void)
{
    float l[6] = {0.1f, 3.0f, 3.0f, -1.0f, 2.9f, 0.0f};
    CHECK(sampler_argmax(l, 6) == 1, "argmax takes the lowest id on ties");
    Sampler s;
    sampler_init(&s, 6, 1.0f, 1.0f, 1, 42);
    int ok = 1;
    for (int i = 0; i < 50; i++) {
        float c[6];
        memcpy(c, l, sizeof c);
        ok &= sampler_sample(&s, c) == 1;
    }
    CHECK(ok, "top_k 1 always picks the most likely id");
    sampler_release(&s);
    sampler_init(&s, 6, 1.0f, 0.5f, 0, 42);
    int seen[6] = {0};
    for (int i = 0; i < 300; i++) {
        float c[6];
        memcpy(c, l, sizeof c);
        seen[sampler_sample(&s, c)]++;
    }
    CHECK(seen[0] == 0 && seen[3] == 0 && seen[4] == 0 && seen[5] == 0 && seen[1] > 0 && seen[2] > 0,
          "top_p 0.5 samples only from the two most likely ids");
    sampler_release(&s);
    sampler_init(&s, 6, 1.0f, 1.0f, 0, 42);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 2000; i++) {
        float c[6];
        memcpy(c, l, sizeof c);
        seen[sampler_sample(&s, c)]++;
    }
    CHECK(seen[3] > 0 && seen[0] > 0, "plain sampling reaches unlikely ids");
    sampler_release(&s);
}

/* gen_respond on a random tiny-preset model with the built-in byte
 * tokenizer: the chat layout is the one gen_from_ids sees when given the
 * rendered prompt ids, and several inputs work with every variant. */
static void test_respond(void)
{
    char dir[] = "/tmp/miso-gen-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    ModelConfig c;
    model_preset(&c, "tiny");
    c.n_layers = 2;
    Model m;
    model_init_random(&m, &c, 11);
    /* scale the embedding so the random model has peaked logits */
    for (size_t i = 0; i < (size_t)c.vocab_size * c.dim; i++)
        m.w.embed[i] *= 50.0f;
    Err e;
    int rc = model_save_hf(&m, dir, MODEL_SAVE_F32, &e);
    model_release(&m);
    Generator *g = rc == 0 ? gen_open(dir, NULL, NULL, &e) : NULL;
    CHECK(g != NULL, "gen_open finds the byte tokenizer through \"miso_tokenizer\": \"byte\"");
    if (!g) {
        printf("    %s\n", e.msg);
        return;
    }
    CHECK(gen_vocab_size(g) == 264, "gen_vocab_size is the model's vocabulary");
    GenOptions o;
    gen_options_default(&o);
    o.max_new_tokens = 12;
    const char *in[] = {"Write a poem.", "Use no commas.", "Be short."};
    StrBuf a = SB_INIT, b = SB_INIT;
    rc = gen_respond(g, "sys", in, 1, &o, &a, &e);
    CHECK(rc == 0 && a.len <= 12 * 4, "gen_respond answers one input within max_new_tokens (%zu bytes)", a.len);
    gen_respond(g, "sys", in, 1, &o, &b, &e);
    CHECK(!strcmp(a.buf, b.buf), "greedy answers repeat");
    /* the same through raw ids: rendered prompt (sys + user) then the
     * generation prompt, as chat.h renders them for the byte tokenizer */
    Tokenizer *t = tok_load("byte", &e);
    IntVec ids = {0}, out = {0};
    const char *text = "<s><|system|>\nsys<|end|>\n<|user|>\nWrite a poem.<|end|>\n<|assistant|>\n";
    tok_encode(t, text, strlen(text), 1, &ids);
    const int32_t *pi[] = {ids.v};
    size_t pl[] = {ids.n};
    gen_from_ids(g, pi, pl, 1, &o, &out, &e);
    StrBuf c2 = SB_INIT;
    tok_decode(t, out.v, out.n, 1, &c2, &e);
    CHECK(!strcmp(c2.buf, a.buf), "gen_respond equals gen_from_ids on the rendered prompt + generation prompt");
    for (int attn = GEN_ATTN_MISO; attn <= GEN_ATTN_CONCAT; attn++) {
        sb_reset(&b);
        o.attn = attn;
        rc = gen_respond(g, NULL, in, 3, &o, &b, &e);
        CHECK(rc == 0, "gen_respond with 3 inputs works with attention variant %d", attn);
    }
    o.attn = GEN_ATTN_MISO;
    o.max_new_tokens = 2000;
    sb_reset(&b);
    rc = gen_respond(g, NULL, in, 1, &o, &b, &e);
    CHECK(rc == 0, "generation stops at the model's context length instead of overrunning it");
    tok_free(t);
    intvec_release(&ids), intvec_release(&out);
    sb_release(&a), sb_release(&b), sb_release(&c2);
    gen_close(g);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", dir);
}

int main(void)
{
    check_fixture("llama-gqa-untied");
    check_fixture("qwen2-bias-tied");
    check_fixture("llama3-rope-f16-sharded");
    test_stories_greedy();
    test_sampler();
    test_respond();
    return TEST_REPORT();
}
