/*
 * test_model.c - lib/model: the size table and presets (against the
 * parameter counts of trainer-notes §3.2), random initialisation, the
 * llama2.c loader (stories260K.bin), HF save/load round trips with the RoPE
 * layout kept right in both directions (llama2.c .bin -> HF dir -> load ->
 * bit-identical logits), and clear errors for broken model directories.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forward.h"
#include "model.h"
#include "safetensors.h"
#include "testhelp.h"

static char dir[] = "/tmp/miso-model-XXXXXX";

static const char *tmp(const char *name)
{
    static char p[2][512];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static float *logits_of(const Model *m, const int32_t *ids, int T)
{
    Forward f;
    fwd_init(&f, m);
    KVCache c;
    kv_init(&c, &m->cfg, T);
    float *lg = xmalloc(sizeof(float) * (size_t)T * m->cfg.vocab_size);
    fwd_forward(&f, &c, NULL, 0, 0, ids, T, 0, lg, 1);
    kv_release(&c);
    fwd_release(&f);
    return lg;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_presets(void)
{
    ModelConfig c;
    size_t sizes[MODEL_NTENSORS];
    CHECK(model_preset(&c, "mid") == 0, "knows the mid preset");
    size_t n = model_tensor_sizes(&c, sizes);
    CHECK(n > 56300000 && n < 56500000 && !c.tied, "mid is the 56.4 M-parameter untied model of trainer-notes (%zu)", n);
    CHECK(model_preset(&c, "small") == 0 && (n = model_tensor_sizes(&c, sizes)) > 7100000 && n < 7200000 && !c.tied,
          "small is the 7.15 M-parameter untied model (%zu)", n);
    CHECK(model_preset(&c, "tiny") == 0 && c.vocab_size == 264 && c.tied && !strcmp(c.tokenizer, "byte") &&
              c.n_kv_heads == 2 && c.hidden_dim == 352 && c.max_seq_len == 1024,
          "tiny is the byte-tokenizer demo model");
    CHECK(model_preset(&c, "huge") < 0, "rejects an unknown preset");
    Model a, b, d;
    model_preset(&c, "tiny");
    model_tensor_sizes(&c, sizes);
    model_init_random(&a, &c, 1);
    model_init_random(&b, &c, 1);
    model_init_random(&d, &c, 2);
    CHECK(a.nparams == b.nparams && !memcmp(a.block, b.block, a.nparams * sizeof(float)),
          "random initialisation is deterministic for a seed");
    CHECK(memcmp(a.block, d.block, a.nparams * sizeof(float)) != 0, "another seed gives other weights");
    CHECK(a.w.lm_head == a.w.embed && a.w.bq == NULL, "a tied model shares embed and lm_head and has no biases");
    CHECK(a.w.attn_norm[5] == 1.0f && a.w.final_norm[0] == 1.0f, "norm weights start at 1");
    double ss = 0;
    for (size_t i = 0; i < sizes[0]; i++)
        ss += (double)a.w.embed[i] * a.w.embed[i];
    CHECK_NEAR(sqrt(ss / (double)sizes[0]), 0.02, 0.002, "matrices start with standard deviation 0.02");
    CHECK(a.w.final_norm + sizes[13] == a.block + a.nparams, "tensors tile the block in order");
    model_release(&a), model_release(&b), model_release(&d);
}

static void test_llama2c_roundtrip(void)
{
    Model m, h, hb;
    Err e;
    int rc = model_load(&m, "datasets/models/stories260K.bin", &e);
    CHECK(rc == 0 && m.cfg.dim == 64 && m.cfg.n_layers == 5 && m.cfg.n_heads == 8 && m.cfg.n_kv_heads == 4 &&
              m.cfg.vocab_size == 512 && m.cfg.tied && m.cfg.hidden_dim == 172 && m.nparams == 260032,
          "loads stories260K.bin (dim 64, 5 layers, 8/4 heads, vocab 512, tied, 260,032 parameters)");
    if (rc < 0)
        return;
    int32_t ids[] = {1, 400, 13, 77, 250, 300, 9, 511};
    float *l0 = logits_of(&m, ids, 8);
    const char *hd = tmp("stories-hf");
    rc = model_save_hf(&m, hd, MODEL_SAVE_F32, &e);
    CHECK(rc == 0, "saves it as a Hugging Face directory (F32)");
    rc = rc == 0 ? model_load(&h, hd, &e) : -1;
    CHECK(rc == 0, "loads the saved directory back");
    if (rc == 0) {
        float *l1 = logits_of(&h, ids, 8);
        CHECK(h.nparams == m.nparams && !memcmp(h.block, m.block, m.nparams * sizeof(float)),
              "the HF round trip keeps every weight bit for bit (q/k rows stay in the HF layout)");
        CHECK(!memcmp(l0, l1, sizeof(float) * 8 * 512), "llama2.c .bin -> HF save -> load gives identical logits");
        CHECK(h.cfg.rope_theta == 10000.0f && h.cfg.norm_eps == 1e-5f && h.cfg.bos_id == 1 && h.cfg.eos_id == 2 &&
                  h.cfg.max_seq_len == 512,
              "config.json carries theta, eps, max length, bos and eos");
        free(l1);
        model_release(&h);
    }
    StFile f;
    char p[600];
    snprintf(p, sizeof p, "%s/model.safetensors", hd);
    if (st_open(&f, p, &e) == 0) {
        CHECK(st_find(&f, "model.layers.4.self_attn.k_proj.weight") && !st_find(&f, "lm_head.weight") &&
                  f.n == 2 + 9 * 5,
              "the saved file uses HF names, without lm_head when tied");
        st_close(&f);
    }
    rc = model_save_hf(&m, tmp("stories-bf16"), MODEL_SAVE_BF16, &e);
    rc = rc == 0 ? model_load(&hb, tmp("stories-bf16"), &e) : -1;
    CHECK(rc == 0, "saves and reloads BF16");
    if (rc == 0) {
        float *l2 = logits_of(&hb, ids, 8);
        double md = 0, mr = 1;
        for (int i = 0; i < 8 * 512; i++) {
            md = fmax(md, fabs(l2[i] - l0[i]));
            mr = fmax(mr, fabs(l0[i]));
        }
        CHECK(md / mr < 0.05, "BF16 logits stay within 5%% of the logit scale (%.3g)", md / mr);
        free(l2);
        model_release(&hb);
    }
    free(l0);
    model_release(&m);
}

static void test_qwen2_save(void)
{
    Model m, h;
    Err e;
    if (model_load(&m, "tests/fixtures/model/qwen2-bias-tied", &e) < 0) {
        CHECK(0, "loads the qwen2 fixture: %s", e.msg);
        return;
    }
    int rc = model_save_hf(&m, tmp("qwen"), MODEL_SAVE_F32, &e);
    rc = rc == 0 ? model_load(&h, tmp("qwen"), &e) : -1;
    CHECK(rc == 0 && h.cfg.qkv_bias && !strcmp(h.cfg.arch, "qwen2") && h.nparams == m.nparams &&
              !memcmp(h.block, m.block, m.nparams * sizeof(float)) && h.cfg.rope_theta == 1e6f &&
              h.cfg.norm_eps == 1e-6f,
          "a Qwen2 model with q/k/v biases saves and reloads exactly");
    if (rc == 0)
        model_release(&h);
    Model u, u2;
    if (model_load(&u, "tests/fixtures/model/llama3-rope-f16-sharded", &e) == 0) {
        rc = model_save_hf(&u, tmp("l3"), MODEL_SAVE_F32, &e);
        rc = rc == 0 ? model_load(&u2, tmp("l3"), &e) : -1;
        CHECK(rc == 0 && u2.cfg.rope_factor == 8.0f && u2.cfg.rope_orig_max == 16 && u2.cfg.head_dim == 16 &&
                  !memcmp(u2.block, u.block, u.nparams * sizeof(float)),
              "llama3 rope scaling and an explicit head_dim survive a save");
        if (rc == 0)
            model_release(&u2);
        model_release(&u);
    }
    ModelConfig c;
    model_preset(&c, "tiny");
    Model t, t2;
    model_init_random(&t, &c, 3);
    rc = model_save_hf(&t, tmp("tiny"), MODEL_SAVE_F32, &e);
    rc = rc == 0 ? model_load(&t2, tmp("tiny"), &e) : -1;
    CHECK(rc == 0 && !strcmp(t2.cfg.tokenizer, "byte"), "the tiny preset saves \"miso_tokenizer\": \"byte\"");
    if (rc == 0)
        model_release(&t2);
    model_release(&t);
    model_release(&m);
}

/* model_load on a directory must fail with a message containing want */
static void expect_load_fail(const char *d, const char *want, const char *what)
{
    Model m;
    Err e;
    memset(&e, 0, sizeof e);
    int rc = model_load(&m, d, &e);
    CHECK(rc < 0 && strstr(e.msg, want), "%s", what);
    if (rc == 0)
        model_release(&m);
    else if (!strstr(e.msg, want))
        printf("    got: %s: %s\n", e.file ? e.file : "", e.msg);
}

static void test_errors(void)
{
    Model m;
    Err e;
    ModelConfig c;
    model_preset(&c, "tiny");
    c.n_layers = 2;
    model_init_random(&m, &c, 9);
    char d[600];
    snprintf(d, sizeof d, "%s", tmp("broken"));
    model_save_hf(&m, d, MODEL_SAVE_F32, &e);
    char cfgp[700], stp[700];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", d);
    snprintf(stp, sizeof stp, "%s/model.safetensors", d);
    /* read the good config to edit */
    FILE *f = fopen(cfgp, "r");
    char good[4096];
    size_t n = fread(good, 1, sizeof good - 1, f);
    good[n] = 0;
    fclose(f);

    write_file(cfgp, "{\"hidden_size\": 128,");
    expect_load_fail(d, "not a valid JSON object", "rejects a config.json that is not JSON");
    {
        Model x;
        Err ee;
        model_load(&x, d, &ee);
        CHECK(ee.file && strstr(ee.file, "config.json"), "the config error names config.json");
    }
    write_file(cfgp, "{\"model_type\": \"gpt2\", \"hidden_size\": 128}");
    expect_load_fail(d, "model_type 'gpt2' is not supported", "rejects an unsupported model_type");
    write_file(cfgp, "{\"model_type\": \"llama\", \"intermediate_size\": 352, \"num_hidden_layers\": 2, "
                     "\"num_attention_heads\": 4, \"vocab_size\": 264}");
    expect_load_fail(d, "missing field 'hidden_size'", "rejects a config without hidden_size");
    write_file(cfgp, "{\"hidden_size\": 128, \"intermediate_size\": 352, \"num_hidden_layers\": 2, "
                     "\"num_attention_heads\": 3, \"num_key_value_heads\": 2, \"vocab_size\": 264}");
    expect_load_fail(d, "multiple of num_key_value_heads", "rejects heads that do not group");
    write_file(cfgp, "{\"hidden_size\": 128, \"intermediate_size\": 352, \"num_hidden_layers\": 2, "
                     "\"num_attention_heads\": 4, \"vocab_size\": 264, \"rope_scaling\": {\"type\": \"yarn\"}}");
    expect_load_fail(d, "rope_scaling type 'yarn'", "rejects an unsupported rope_scaling");
    write_file(cfgp, "{\"hidden_size\": 1000000000, \"intermediate_size\": 1000000000, \"num_hidden_layers\": 100000, "
                     "\"num_attention_heads\": 4, \"vocab_size\": 1000000000}");
    expect_load_fail(d, "does not match the config", "absurd config sizes fail on the shapes, before any allocation");
    /* shape mismatch: the config says FFN 300 */
    char *p = strstr(good, "\"intermediate_size\": 352");
    StrBuf sb = SB_INIT;
    sb_add(&sb, good, (size_t)(p - good));
    sb_adds(&sb, "\"intermediate_size\": 300");
    sb_adds(&sb, p + strlen("\"intermediate_size\": 352"));
    write_file(cfgp, sb.buf);
    expect_load_fail(d, "tensor 'model.layers.0.mlp.gate_proj.weight': shape [352, 128] does not match the config "
                        "[300, 128]",
                     "a shape mismatch names the tensor and both shapes");
    sb_release(&sb);
    write_file(cfgp, good);
    {
        Model x;
        Err ee;
        CHECK(model_load(&x, d, &ee) == 0, "the untouched directory loads");
        model_release(&x);
    }
    /* missing tensor: rewrite the weights without one */
    {
        StFile sf;
        st_open(&sf, stp, &e);
        StWriteTensor *t = xcalloc(sf.n, sizeof *t);
        float **bufs = xcalloc(sf.n, sizeof *bufs);
        size_t k = 0;
        for (size_t i = 0; i < sf.n; i++) {
            if (!strcmp(sf.t[i].name, "model.layers.1.mlp.up_proj.weight"))
                continue;
            bufs[k] = xmalloc(sizeof(float) * (st_numel(&sf.t[i]) + 1));
            st_read_f32(&sf, &sf.t[i], bufs[k], &e);
            t[k].name = sf.t[i].name;
            t[k].ndim = sf.t[i].ndim;
            memcpy(t[k].shape, sf.t[i].shape, sizeof t[k].shape);
            t[k].data = bufs[k];
            k++;
        }
        int wr = st_write(tmp("missing.safetensors"), t, k, ST_F32, &e);
        if (wr < 0)
            printf("    write: %s\n", e.msg);
        st_close(&sf);
        for (size_t i = 0; i < k; i++)
            free(bufs[i]);
        free(bufs);
        free(t);
        rename(tmp("missing.safetensors"), stp);
    }
    expect_load_fail(d, "missing tensor 'model.layers.1.mlp.up_proj.weight'", "a missing tensor is named");
    /* truncated weights file */
    CHECK(truncate(stp, 1000) == 0, "(setup) truncates the weights file");
    expect_load_fail(d, "past the end", "a truncated safetensors file is an error, not a crash");
    rmdir(tmp("nothing"));
    expect_load_fail(tmp("nothing"), "cannot open", "a missing path is an error");
    model_release(&m);

    /* llama2.c: truncated and garbage */
    FILE *in = fopen("datasets/models/stories260K.bin", "rb");
    char *buf = xmalloc(200000);
    n = fread(buf, 1, 200000, in);
    fclose(in);
    f = fopen(tmp("trunc.bin"), "wb");
    fwrite(buf, 1, 100000, f);
    fclose(f);
    Model x;
    CHECK(model_load(&x, tmp("trunc.bin"), &e) < 0 && strstr(e.msg, "needs") && strstr(e.file, "trunc.bin"),
          "a truncated llama2.c checkpoint is an error naming the file");
    memset(buf, 0x7f, 64);
    f = fopen(tmp("junk.bin"), "wb");
    fwrite(buf, 1, 5000, f);
    fclose(f);
    CHECK(model_load(&x, tmp("junk.bin"), &e) < 0 && strstr(e.msg, "not a llama2.c checkpoint"),
          "a file that is not a checkpoint is rejected by its header");
    memcpy(buf, "\x32\x34\x6b\x61\x02\x00\x00\x00", 8);
    f = fopen(tmp("v2.bin"), "wb");
    fwrite(buf, 1, 5000, f);
    fclose(f);
    CHECK(model_load(&x, tmp("v2.bin"), &e) < 0 && strstr(e.msg, "version 2 is not supported"),
          "a version-2 (int8) llama2.c checkpoint is refused clearly");
    free(buf);
}

/* A version-1 llama2.c file ("ak42", 256-byte header, arrays in export.py's
 * version1_export order) built from stories260K's version-0 arrays must load
 * to the same weights. */
static void test_llama2c_v1(void)
{
    FILE *in = fopen("datasets/models/stories260K.bin", "rb");
    if (!in) {
        CHECK(0, "opens stories260K.bin");
        return;
    }
    float *raw = xmalloc(1056540);
    int32_t h[7];
    size_t got = fread(h, 4, 7, in);
    got += fread(raw, 4, 264128, in);
    fclose(in);
    CHECK(got == 7 + 264128, "(setup) reads stories260K.bin");
    int D = 64, L = 5, V = 512, F = 172, KD = 32;
    /* v0 offsets */
    size_t o_emb = 0, o_an = o_emb + (size_t)V * D, o_wq = o_an + (size_t)L * D, o_wk = o_wq + (size_t)L * D * D,
           o_wv = o_wk + (size_t)L * KD * D, o_wo = o_wv + (size_t)L * KD * D, o_fn = o_wo + (size_t)L * D * D,
           o_w1 = o_fn + (size_t)L * D, o_w2 = o_w1 + (size_t)L * F * D, o_w3 = o_w2 + (size_t)L * F * D,
           o_nf = o_w3 + (size_t)L * F * D;
    struct { size_t off, n; } order[] = {
        {o_an, (size_t)L * D}, {o_fn, (size_t)L * D}, {o_nf, (size_t)D}, {o_emb, (size_t)V * D},
        {o_wq, (size_t)L * D * D}, {o_wk, (size_t)L * KD * D}, {o_wv, (size_t)L * KD * D}, {o_wo, (size_t)L * D * D},
        {o_w1, (size_t)L * F * D}, {o_w2, (size_t)L * F * D}, {o_w3, (size_t)L * F * D}};
    FILE *out = fopen(tmp("v1.bin"), "wb");
    unsigned char hdr[256] = {0};
    uint32_t magic = 0x616b3432, version = 1;
    memcpy(hdr, &magic, 4);
    memcpy(hdr + 4, &version, 4);
    memcpy(hdr + 8, h, 28);
    hdr[36] = 1; /* shared classifier */
    fwrite(hdr, 1, 256, out);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        fwrite(raw + order[i].off, 4, order[i].n, out);
    fclose(out);
    Model a, b;
    Err e;
    int ra = model_load(&a, "datasets/models/stories260K.bin", &e);
    int rb = model_load(&b, tmp("v1.bin"), &e);
    CHECK(ra == 0 && rb == 0 && a.nparams == b.nparams && !memcmp(a.block, b.block, a.nparams * sizeof(float)),
          "a version-1 llama2.c checkpoint loads to the same weights as the version-0 one");
    if (rb < 0)
        printf("    %s\n", e.msg);
    if (ra == 0)
        model_release(&a);
    if (rb == 0)
        model_release(&b);
    /* version 0 with vocab_size < 0: a separate classifier after the RoPE tables */
    out = fopen(tmp("untied.bin"), "wb");
    int32_t hu[7];
    memcpy(hu, h, sizeof hu);
    hu[5] = -hu[5];
    fwrite(hu, 4, 7, out);
    fwrite(raw, 4, 264128, out);
    fwrite(raw + o_emb, 4, (size_t)V * D, out); /* classifier = a copy of the embedding */
    fclose(out);
    ra = model_load(&a, tmp("untied.bin"), &e);
    CHECK(ra == 0 && !a.cfg.tied && a.w.lm_head != a.w.embed &&
              !memcmp(a.w.lm_head, a.w.embed, sizeof(float) * (size_t)V * D),
          "a version-0 checkpoint with negative vocab_size loads its separate classifier");
    if (ra == 0)
        model_release(&a);
    free(raw);
}


/* Merge patch (a JSON object) into d/config.json; a value "__delete__"
 * removes the key. */
static void edit_config(const char *d, const char *patch)
{
    char p[700];
    snprintf(p, sizeof p, "%s/config.json", d);
    FILE *f = fopen(p, "r");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    cJSON *o = cJSON_Parse(buf), *pt = cJSON_Parse(patch);
    for (cJSON *v = pt->child; v; v = v->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, v->string);
        if (!(cJSON_IsString(v) && !strcmp(v->valuestring, "__delete__")))
            cJSON_AddItemToObject(o, v->string, cJSON_Duplicate(v, 1));
    }
    char *out = cJSON_Print(o);
    write_file(p, out);
    free(out);
    cJSON_Delete(o);
    cJSON_Delete(pt);
}

/* Save m into a fresh directory tmp(name) and return its path. */
static const char *fresh(const Model *m, const char *name)
{
    static char d[600];
    Err e;
    snprintf(d, sizeof d, "%s", tmp(name));
    if (model_save_hf(m, d, MODEL_SAVE_F32, &e) < 0)
        printf("    (setup) save failed: %s\n", e.msg);
    return d;
}

static int loads_same(const char *d, const Model *want, Model *got)
{
    Err e;
    if (model_load(got, d, &e) < 0) {
        printf("    load failed: %s\n", e.msg);
        return 0;
    }
    return got->nparams == want->nparams && !memcmp(got->block, want->block, want->nparams * sizeof(float));
}

/* Rewrite d/model.safetensors with every name passed through strip (drop a
 * leading "model.") and, when shard is set, as a one-shard sharded set
 * whose index carries extra metadata. */
static void rewrite_weights(const char *d, int strip, int shard)
{
    char stp[700], out[700];
    Err e;
    snprintf(stp, sizeof stp, "%s/model.safetensors", d);
    StFile sf;
    st_open(&sf, stp, &e);
    StWriteTensor *t = xcalloc(sf.n, sizeof *t);
    float **bufs = xcalloc(sf.n, sizeof *bufs);
    StrBuf idx = SB_INIT;
    sb_adds(&idx, "{\"metadata\": {\"total_size\": 1, \"format\": \"pt\"}, \"weight_map\": {");
    for (size_t i = 0; i < sf.n; i++) {
        const char *nm = sf.t[i].name;
        if (strip && !strncmp(nm, "model.", 6))
            nm += 6;
        t[i].name = nm;
        t[i].ndim = sf.t[i].ndim;
        memcpy(t[i].shape, sf.t[i].shape, sizeof t[i].shape);
        bufs[i] = xmalloc(st_numel(&sf.t[i]) * sizeof(float) + 1);
        st_read_f32(&sf, &sf.t[i], bufs[i], &e);
        t[i].data = bufs[i];
        sb_addf(&idx, "%s\"%s\": \"model-00001-of-00001.safetensors\"", i ? ", " : "", nm);
    }
    sb_adds(&idx, "}}");
    snprintf(out, sizeof out, "%s/%s", d, shard ? "model-00001-of-00001.safetensors" : "model.safetensors");
    st_write(out, t, sf.n, ST_F32, &e);
    if (shard) {
        unlink(stp);
        snprintf(out, sizeof out, "%s/model.safetensors.index.json", d);
        write_file(out, idx.buf);
    }
    for (size_t i = 0; i < sf.n; i++)
        free(bufs[i]);
    free(bufs);
    free(t);
    sb_release(&idx);
    st_close(&sf);
}

static void test_hf_variants(void)
{
    Model m, x;
    Err e;
    ModelConfig c;
    model_preset(&c, "tiny");
    c.n_layers = 1, c.vocab_size = 32, c.dim = 32, c.hidden_dim = 64, c.tied = 0, c.n_kv_heads = 4;
    c.head_dim = 8, c.tokenizer[0] = 0;
    model_init_random(&m, &c, 5);
    const char *d;

    /* whole or nothing */
    d = tmp("savefail");
    mkdir(d, 0777);
    char sub[700];
    snprintf(sub, sizeof sub, "%s/model.safetensors", d);
    mkdir(sub, 0777); /* the weights cannot be renamed into place */
    int rc = model_save_hf(&m, d, MODEL_SAVE_F32, &e);
    snprintf(sub, sizeof sub, "%s/config.json", d);
    CHECK(rc < 0 && access(sub, F_OK) != 0, "a failed save leaves no config.json behind (%s)", rc < 0 ? e.msg : "saved");
    {
        char cmd[800];
        snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c tmp", d);
        FILE *pp = popen(cmd, "r");
        int k = -1;
        if (pp && fscanf(pp, "%d", &k) != 1)
            k = -1;
        if (pp)
            pclose(pp);
        CHECK(k == 0, "a failed save leaves no temporary files (%d)", k);
    }

    {
        /* a write that fails half way (a 4 KB file-size limit): nothing is
         * left, not even the directory the save created */
        struct rlimit old, lim = {4096, 4096};
        getrlimit(RLIMIT_FSIZE, &old);
        lim.rlim_max = old.rlim_max;
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        const char *nd = tmp("halfway");
        rc = model_save_hf(&m, nd, MODEL_SAVE_F32, &e);
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, SIG_DFL);
        CHECK(rc < 0 && access(nd, F_OK) != 0, "a save whose write fails removes the directory it created (%s)",
              rc < 0 ? e.msg : "saved");
    }

    d = fresh(&m, "plain");
    CHECK(loads_same(d, &m, &x), "(setup) an untied llama directory round-trips");
    model_release(&x);

    /* a stale shard index does not shadow the saved weights */
    snprintf(sub, sizeof sub, "%s/model.safetensors.index.json", d);
    write_file(sub, "{\"weight_map\": {\"model.norm.weight\": \"gone.safetensors\"}}");
    CHECK(loads_same(d, &m, &x), "model.safetensors is preferred over a shard index, as transformers does");
    model_release(&x);
    unlink(sub);

    d = fresh(&m, "noprefix");
    rewrite_weights(d, 1, 0);
    CHECK(loads_same(d, &m, &x), "loads tensors stored without the 'model.' prefix");
    model_release(&x);

    d = fresh(&m, "sharded-meta");
    rewrite_weights(d, 0, 1);
    CHECK(loads_same(d, &m, &x), "loads a shard index carrying extra metadata");
    model_release(&x);

    d = fresh(&m, "fields");
    edit_config(d, "{\"model_type\": \"__delete__\", \"architectures\": [\"LlamaForCausalLM\"], \"torch_dtype\": "
                   "\"bfloat16\", \"rope_scaling\": null, \"head_dim\": null, \"num_key_value_heads\": \"__delete__\", "
                   "\"tie_word_embeddings\": \"__delete__\", \"eos_token_id\": [5, 7, 9], \"sliding_window\": null, "
                   "\"max_window_layers\": 28, \"bos_token_id\": null}");
    rc = loads_same(d, &m, &x);
    CHECK(rc && !strcmp(x.cfg.arch, "llama") && x.cfg.n_kv_heads == 4 && x.cfg.head_dim == 8 && !x.cfg.tied &&
              x.cfg.eos_id == 5 && x.cfg.bos_id == -1 && x.cfg.max_seq_len == c.max_seq_len,
          "reads a real-world config: architectures only, torch_dtype, null rope_scaling/head_dim/sliding_window, "
          "absent num_key_value_heads and tie_word_embeddings, eos list");
    model_release(&x);
    int ids[8];
    snprintf(sub, sizeof sub, "%s/generation_config.json", d);
    write_file(sub, "{\"eos_token_id\": [9, 11], \"bos_token_id\": 1}");
    int n = model_eos_ids(d, ids, 8);
    CHECK(n == 4 && ids[0] == 5 && ids[1] == 7 && ids[2] == 9 && ids[3] == 11,
          "model_eos_ids gathers every eos id of config.json and generation_config.json (%d)", n);
    CHECK(model_eos_ids(tmp("nowhere"), ids, 8) == 0, "model_eos_ids of a missing directory is empty");

    edit_config(d, "{\"rope_theta\": \"__delete__\", \"rope_parameters\": {\"rope_type\": \"default\", "
                   "\"rope_theta\": 500000.0}}");
    rc = model_load(&x, d, &e);
    CHECK(rc == 0 && x.cfg.rope_theta == 500000.0f, "reads rope_theta from transformers 5's rope_parameters");
    if (rc == 0)
        model_release(&x);

    edit_config(d, "{\"eos_token_id\": []}");
    rc = model_load(&x, d, &e);
    CHECK(rc == 0 && x.cfg.eos_id == -1, "an empty eos_token_id list means no EOS id");
    if (rc == 0)
        model_release(&x);

    edit_config(d, "{\"model_type\": \"mistral\", \"sliding_window\": 64}");
    rc = model_load(&x, d, &e);
    CHECK(rc == 0 && x.cfg.max_seq_len == 64, "a Mistral sliding_window caps the context at the window (exact)");
    if (rc == 0)
        model_release(&x);

    edit_config(d, "{\"model_type\": \"__delete__\", \"architectures\": [\"GPT2LMHeadModel\"]}");
    expect_load_fail(d, "architecture 'GPT2LMHeadModel' is not supported", "refuses an unknown architectures entry");
    edit_config(d, "{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}");
    expect_load_fail(d, "rope_scaling type 'linear' is not supported", "refuses linear rope_scaling clearly");
    edit_config(d, "{\"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 2.0}}");
    expect_load_fail(d, "rope_scaling type 'dynamic' is not supported", "refuses dynamic rope_scaling clearly");
    edit_config(d, "{\"rope_scaling\": null, \"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4}}");
    expect_load_fail(d, "quantized model (quantization_config 'gptq') is not supported",
                     "refuses a quantized model by its quant_method");
    edit_config(d, "{\"quantization_config\": \"__delete__\", \"rope_parameters\": \"__delete__\", "
                   "\"attention_bias\": true}");
    expect_load_fail(d, "attention_bias is not supported", "refuses attention_bias on Llama (o_proj biases)");
    edit_config(d, "{\"attention_bias\": false, \"mlp_bias\": true}");
    expect_load_fail(d, "mlp_bias is not supported", "refuses mlp_bias");
    edit_config(d, "{\"mlp_bias\": false}");
    CHECK(loads_same(d, &m, &x), "(setup) the edited config loads again");
    model_release(&x);

    /* a directory with weights in a form that is not read says so */
    {
        char nd[700], f2[800];
        snprintf(nd, sizeof nd, "%s", tmp("pickle"));
        mkdir(nd, 0777);
        snprintf(f2, sizeof f2, "%s/config.json", nd);
        write_file(f2, "{\"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 1, "
                       "\"num_attention_heads\": 4, \"vocab_size\": 32}");
        expect_load_fail(nd, "no model.safetensors or model.safetensors.index.json in this directory",
                         "a directory without weights says which files it lacks");
        snprintf(f2, sizeof f2, "%s/pytorch_model.bin", nd);
        write_file(f2, "PK");
        expect_load_fail(nd, "only 'pytorch_model.bin' (PyTorch pickles are not read",
                         "a directory with only pytorch_model.bin says pickles are not read");
    }

    /* lm_head present although the config says tied: ignored, embed used */
    edit_config(d, "{\"tie_word_embeddings\": true}");
    rc = model_load(&x, d, &e);
    CHECK(rc == 0 && x.cfg.tied && x.w.lm_head == x.w.embed, "a stored lm_head.weight is ignored when the config ties");
    if (rc == 0)
        model_release(&x);

    /* an untied config whose weights lack lm_head says why */
    model_release(&m);
    c.tied = 1;
    model_init_random(&m, &c, 6);
    d = fresh(&m, "tiedsaved");
    edit_config(d, "{\"tie_word_embeddings\": false}");
    expect_load_fail(d, "missing tensor 'lm_head.weight' (config.json does not say \"tie_word_embeddings\": true)",
                     "a missing lm_head names tie_word_embeddings");
    model_release(&m);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_presets();
    test_llama2c_roundtrip();
    test_llama2c_v1();
    test_qwen2_save();
    test_errors();
    test_hf_variants();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", dir);
    return TEST_REPORT();
}
