/*
 * model.c - the Llama-family parameter block: sizes, presets, random
 * initialisation, loading (Hugging Face directories through safetensors.c,
 * llama2.c .bin checkpoints) and saving (Hugging Face directories).
 *
 * Why one block: the trainer mirrors it for gradients and AdamW moments, so
 * every per-parameter loop is flat, and a checkpoint is one write.  The size
 * table below is the only place where tensor sizes are computed; everything
 * else (pointing, loading, saving) walks it.
 *
 * The RoPE layout: internally q/k rows are in the HF layout (rotate_half).
 * llama2.c checkpoints store the Meta interleaved layout, so their wq/wk rows
 * are permuted on load (Meta row 2i+j of a head becomes HF row j*HD/2 + i);
 * wk is permuted per KV head (the GQA trap of llama2.c's export.py).
 */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ofile.h"
#include "rng.h"
#include "safetensors.h"

/* ------------------------------------------------------------------------ */
/* Sizes and pointers                                                        */

size_t model_tensor_sizes(const ModelConfig *c, size_t sizes[MODEL_NTENSORS])
{
    size_t L = (size_t)c->n_layers, D = (size_t)c->dim, F = (size_t)c->hidden_dim, V = (size_t)c->vocab_size;
    size_t QD = size_mul((size_t)c->n_heads, (size_t)c->head_dim);
    size_t KD = size_mul((size_t)c->n_kv_heads, (size_t)c->head_dim);

    sizes[0] = size_mul(V, D);                          /* embed */
    sizes[1] = size_mul(L, D);                          /* attn_norm */
    sizes[2] = size_mul(L, size_mul(QD, D));            /* wq */
    sizes[3] = size_mul(L, size_mul(KD, D));            /* wk */
    sizes[4] = size_mul(L, size_mul(KD, D));            /* wv */
    sizes[5] = c->qkv_bias ? size_mul(L, QD) : 0;       /* bq */
    sizes[6] = c->qkv_bias ? size_mul(L, KD) : 0;       /* bk */
    sizes[7] = c->qkv_bias ? size_mul(L, KD) : 0;       /* bv */
    sizes[8] = size_mul(L, size_mul(D, QD));            /* wo */
    sizes[9] = size_mul(L, D);                          /* ffn_norm */
    sizes[10] = size_mul(L, size_mul(F, D));            /* w_gate */
    sizes[11] = size_mul(L, size_mul(F, D));            /* w_up */
    sizes[12] = size_mul(L, size_mul(D, F));            /* w_down */
    sizes[13] = D;                                      /* final_norm */
    sizes[14] = c->tied ? 0 : size_mul(V, D);           /* lm_head */
    size_t total = 0;
    for (int i = 0; i < MODEL_NTENSORS; i++)
        total = size_add(total, sizes[i]);
    return total;
}

void model_point_weights(const ModelConfig *c, float *block, ModelWeights *w)
{
    size_t sizes[MODEL_NTENSORS];
    model_tensor_sizes(c, sizes);
    float **ptrs[MODEL_NTENSORS] = {&w->embed,  &w->attn_norm, &w->wq,       &w->wk,     &w->wv,
                                    &w->bq,     &w->bk,        &w->bv,       &w->wo,     &w->ffn_norm,
                                    &w->w_gate, &w->w_up,      &w->w_down,   &w->final_norm, &w->lm_head};
    float *p = block;
    for (int i = 0; i < MODEL_NTENSORS; i++) {
        *ptrs[i] = sizes[i] ? p : NULL;
        p += sizes[i];
    }
    if (c->tied)
        w->lm_head = w->embed;
}

/* ------------------------------------------------------------------------ */
/* Presets and random initialisation                                         */

static void config_base(ModelConfig *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->arch, sizeof c->arch, "llama");
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
    c->bos_id = -1;
    c->eos_id = -1;
}

int model_preset(ModelConfig *cfg, const char *name)
{
    ModelConfig c;
    config_base(&c);
    if (!strcmp(name, "tiny")) {
        /* The embedded demo model for the built-in byte tokenizer. */
        c.dim = 128, c.n_layers = 4, c.n_heads = 4, c.n_kv_heads = 2, c.hidden_dim = 352;
        c.vocab_size = 264, c.max_seq_len = 1024, c.tied = 1;
        snprintf(c.tokenizer, sizeof c.tokenizer, "byte");
    } else if (!strcmp(name, "small")) {
        /* trainer-notes §3.2's PyTorch baseline: untied lm_head. */
        c.dim = 256, c.n_layers = 4, c.n_heads = 8, c.n_kv_heads = 4, c.hidden_dim = 704;
        c.vocab_size = 8192, c.max_seq_len = 2048, c.tied = 0;
    } else if (!strcmp(name, "mid")) {
        c.dim = 512, c.n_layers = 8, c.n_heads = 8, c.n_kv_heads = 4, c.hidden_dim = 1408;
        c.vocab_size = 32000, c.max_seq_len = 2048, c.tied = 0;
    } else {
        return -1;
    }
    c.head_dim = c.dim / c.n_heads;
    *cfg = c;
    return 0;
}

void model_init_random(Model *m, const ModelConfig *cfg, uint64_t seed)
{
    size_t sizes[MODEL_NTENSORS];
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->nparams = model_tensor_sizes(cfg, sizes);
    m->block = xmalloc(size_mul(m->nparams ? m->nparams : 1, sizeof(float)));
    model_point_weights(cfg, m->block, &m->w);
    Rng g;
    rng_seed(&g, seed);
    float *p = m->block;
    for (int i = 0; i < MODEL_NTENSORS; i++) {
        /* norms (1, 9, 13) start at 1, biases (5, 6, 7) at 0, matrices N(0, 0.02) */
        for (size_t j = 0; j < sizes[i]; j++) {
            if (i == 1 || i == 9 || i == 13)
                p[j] = 1.0f;
            else if (i >= 5 && i <= 7)
                p[j] = 0.0f;
            else
                p[j] = (float)(0.02 * rng_normal(&g));
        }
        p += sizes[i];
    }
}

void model_release(Model *m)
{
    free(m->block);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------ */
/* The Hugging Face tensor names                                             */

/* The one table of Hugging Face names, in block order ("%d" = layer; the
 * per-layer tensors are the ones whose name has it).  Loading, saving and
 * the trainer's gradient dump (lib/checkpoint) all walk it through
 * model_hf_tensors. */
static const char *const hf_fmt[MODEL_NTENSORS] = {
    "model.embed_tokens.weight",
    "model.layers.%d.input_layernorm.weight",
    "model.layers.%d.self_attn.q_proj.weight",
    "model.layers.%d.self_attn.k_proj.weight",
    "model.layers.%d.self_attn.v_proj.weight",
    "model.layers.%d.self_attn.q_proj.bias",
    "model.layers.%d.self_attn.k_proj.bias",
    "model.layers.%d.self_attn.v_proj.bias",
    "model.layers.%d.self_attn.o_proj.weight",
    "model.layers.%d.post_attention_layernorm.weight",
    "model.layers.%d.mlp.gate_proj.weight",
    "model.layers.%d.mlp.up_proj.weight",
    "model.layers.%d.mlp.down_proj.weight",
    "model.norm.weight",
    "lm_head.weight",
};

size_t model_hf_tensors(const ModelConfig *c, ModelHfTensor *out)
{
    int64_t D = c->dim, F = c->hidden_dim, V = c->vocab_size;
    int64_t QD = (int64_t)c->n_heads * c->head_dim, KD = (int64_t)c->n_kv_heads * c->head_dim;
    /* per-layer shapes (out, in); in 0 for vectors */
    const int64_t shp[MODEL_NTENSORS][2] = {{V, D}, {D, 0},  {QD, D}, {KD, D}, {KD, D}, {QD, 0}, {KD, 0}, {KD, 0},
                                            {D, QD}, {D, 0}, {F, D},  {F, D},  {D, F},  {D, 0},  {V, D}};
    /* Sizes in unsigned arithmetic and without size_mul: the loader names
     * and checks the tensors of a config before model_tensor_sizes has
     * vetted its sizes, so an absurd config must not abort here (its
     * offsets wrap harmlessly and are never used).  For a valid config
     * each equals model_tensor_sizes / layers. */
    size_t n = 0, off = 0;
    for (int t = 0; t < MODEL_NTENSORS; t++) {
        if ((t >= 5 && t <= 7 && !c->qkv_bias) || (t == 14 && c->tied))
            continue; /* no biases, or a tied head */
        int per_layer = strstr(hf_fmt[t], "%d") != NULL;
        int nl = per_layer ? c->n_layers : 1;
        size_t each = (size_t)shp[t][0] * (size_t)(shp[t][1] ? shp[t][1] : 1);
        for (int l = 0; l < nl; l++, n++) {
            if (!out)
                continue;
            ModelHfTensor *e = &out[n];
            snprintf(e->name, sizeof e->name, hf_fmt[t], l);
            e->tensor = t;
            e->layer = per_layer ? l : -1;
            e->offset = off + (size_t)l * each;
            e->numel = each;
            e->ndim = shp[t][1] ? 2 : 1;
            e->shape[0] = shp[t][0], e->shape[1] = shp[t][1];
        }
        off += each * (size_t)nl;
    }
    return n;
}

/* model_hf_tensors into a new array (the caller frees it) */
static ModelHfTensor *hf_tensors_alloc(const ModelConfig *c, size_t *n)
{
    *n = model_hf_tensors(c, NULL);
    ModelHfTensor *e = xmalloc(size_mul(*n ? *n : 1, sizeof *e));
    model_hf_tensors(c, e);
    return e;
}

/* ------------------------------------------------------------------------ */
/* config.json                                                               */

static char err_path[4096];

static const char *keep_path(const char *p)
{
    snprintf(err_path, sizeof err_path, "%s", p);
    return err_path;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    StrBuf sb = SB_INIT;
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, fp)) > 0)
        sb_add(&sb, buf, k);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        sb_release(&sb);
        return NULL;
    }
    return sb_detach(&sb, len);
}

/* An integer field: def when absent or null (def < -1 means required). */
static int json_int(const cJSON *o, const char *key, long def, long *out, const char *path, Err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (def < -1) {
            err_set(err, keep_path(path), 0, "missing field '%s'", key);
            return -1;
        }
        *out = def;
        return 0;
    }
    if (cJSON_IsArray(v)) { /* eos_token_id may be a list: its first id (model_eos_ids has them all) */
        if (cJSON_GetArraySize(v) == 0 && def >= -1) {
            *out = def;
            return 0;
        }
        v = cJSON_GetArrayItem(v, 0);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long)v->valuedouble || fabs(v->valuedouble) > 1e9) {
        err_set(err, keep_path(path), 0, "field '%s' is not an integer", key);
        return -1;
    }
    *out = (long)v->valuedouble;
    return 0;
}

static int json_num(const cJSON *o, const char *key, double def, double *out, const char *path, Err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v)) {
        err_set(err, keep_path(path), 0, "field '%s' is not a number", key);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int config_check(const ModelConfig *c, const char *path, Err *err)
{
    const char *bad = NULL;
    if (c->dim <= 0)
        bad = "hidden_size must be positive";
    else if (c->hidden_dim <= 0)
        bad = "intermediate_size must be positive";
    else if (c->n_layers <= 0)
        bad = "num_hidden_layers must be positive";
    else if (c->n_heads <= 0 || c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads)
        bad = "num_attention_heads must be a positive multiple of num_key_value_heads";
    else if (c->head_dim <= 0 || c->head_dim % 2)
        bad = "head_dim must be positive and even";
    else if (c->vocab_size <= 0)
        bad = "vocab_size must be positive";
    else if (c->max_seq_len <= 0)
        bad = "max_position_embeddings must be positive";
    else if (!(c->rope_theta > 0) || !(c->norm_eps > 0))
        bad = "rope_theta and rms_norm_eps must be positive";
    if (bad) {
        err_set(err, keep_path(path), 0, "%s", bad);
        return -1;
    }
    return 0;
}

static int config_parse(ModelConfig *c, const char *text, size_t len, const char *path, Err *err)
{
    config_base(c);
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        err_set(err, keep_path(path), 0, "not a valid JSON object");
        return -1;
    }
    int rc = -1;
    long v, nh;
    double x;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "model_type");
    const char *arch = cJSON_IsString(mt) ? mt->valuestring : NULL;
    if (!arch) { /* some exports carry only "architectures" */
        const cJSON *ar = cJSON_GetObjectItemCaseSensitive(o, "architectures");
        const cJSON *a0 = cJSON_IsArray(ar) ? cJSON_GetArrayItem(ar, 0) : NULL;
        static const char *const known[][2] = {{"LlamaForCausalLM", "llama"}, {"MistralForCausalLM", "mistral"},
                                               {"Qwen2ForCausalLM", "qwen2"}};
        if (cJSON_IsString(a0)) {
            for (size_t i = 0; i < sizeof known / sizeof known[0] && !arch; i++)
                if (!strcmp(a0->valuestring, known[i][0]))
                    arch = known[i][1];
            if (!arch) {
                err_set(err, keep_path(path), 0,
                        "architecture '%s' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)",
                        a0->valuestring);
                goto out;
            }
        } else
            arch = "llama";
    }
    if (strcmp(arch, "llama") && strcmp(arch, "mistral") && strcmp(arch, "qwen2")) {
        err_set(err, keep_path(path), 0, "model_type '%s' is not supported (llama, mistral, qwen2)", arch);
        goto out;
    }
    snprintf(c->arch, sizeof c->arch, "%s", arch);
    const cJSON *qc = cJSON_GetObjectItemCaseSensitive(o, "quantization_config");
    if (qc && !cJSON_IsNull(qc)) {
        const cJSON *qm = cJSON_GetObjectItemCaseSensitive(qc, "quant_method");
        err_set(err, keep_path(path), 0, "quantized model (quantization_config '%s') is not supported: use the "
                "unquantized F32/BF16/F16 weights", cJSON_IsString(qm) ? qm->valuestring : "?");
        goto out;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    if (cJSON_IsString(act) && strcmp(act->valuestring, "silu")) {
        err_set(err, keep_path(path), 0, "hidden_act '%s' is not supported (silu)", act->valuestring);
        goto out;
    }
    if (json_int(o, "hidden_size", -2, &v, path, err) < 0)
        goto out;
    c->dim = (int)v;
    if (json_int(o, "intermediate_size", -2, &v, path, err) < 0)
        goto out;
    c->hidden_dim = (int)v;
    if (json_int(o, "num_hidden_layers", -2, &v, path, err) < 0)
        goto out;
    c->n_layers = (int)v;
    if (json_int(o, "num_attention_heads", -2, &nh, path, err) < 0)
        goto out;
    c->n_heads = (int)nh;
    if (json_int(o, "num_key_value_heads", nh, &v, path, err) < 0)
        goto out;
    c->n_kv_heads = (int)v;
    if (json_int(o, "head_dim", nh > 0 ? c->dim / nh : 0, &v, path, err) < 0)
        goto out;
    c->head_dim = (int)v;
    if (json_int(o, "vocab_size", -2, &v, path, err) < 0)
        goto out;
    c->vocab_size = (int)v;
    if (json_int(o, "max_position_embeddings", 2048, &v, path, err) < 0)
        goto out;
    c->max_seq_len = (int)v;
    /* transformers 5 moves rope_theta and the scaling into "rope_parameters" */
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "rope_scaling");
    if (!rs || cJSON_IsNull(rs))
        rs = cJSON_GetObjectItemCaseSensitive(o, "rope_parameters");
    if (rs && !cJSON_IsNull(rs) && !cJSON_IsObject(rs)) {
        err_set(err, keep_path(path), 0, "rope_scaling must be an object or null");
        goto out;
    }
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(o, "rope_theta");
    if ((!th || cJSON_IsNull(th)) && rs && cJSON_GetObjectItemCaseSensitive(rs, "rope_theta")) {
        if (json_num(rs, "rope_theta", 10000.0, &x, path, err) < 0)
            goto out;
    } else if (json_num(o, "rope_theta", 10000.0, &x, path, err) < 0)
        goto out;
    c->rope_theta = (float)x;
    if (json_num(o, "rms_norm_eps", 1e-6, &x, path, err) < 0)
        goto out;
    c->norm_eps = (float)x;
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(o, "tie_word_embeddings");
    c->tied = cJSON_IsTrue(tie);
    const cJSON *ab = cJSON_GetObjectItemCaseSensitive(o, "attention_bias");
    const cJSON *mb = cJSON_GetObjectItemCaseSensitive(o, "mlp_bias");
    if (cJSON_IsTrue(mb) || (cJSON_IsTrue(ab) && strcmp(arch, "qwen2"))) {
        err_set(err, keep_path(path), 0, "%s is not supported (o_proj/MLP biases)",
                cJSON_IsTrue(mb) ? "mlp_bias" : "attention_bias");
        goto out;
    }
    c->qkv_bias = !strcmp(arch, "qwen2");
    if (json_int(o, "bos_token_id", -1, &v, path, err) < 0)
        goto out;
    c->bos_id = (int)v;
    if (json_int(o, "eos_token_id", -1, &v, path, err) < 0)
        goto out;
    c->eos_id = (int)v;
    if (rs && !cJSON_IsNull(rs)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
        if (!cJSON_IsString(ty))
            ty = cJSON_GetObjectItemCaseSensitive(rs, "type");
        int plain = !ty && !cJSON_GetObjectItemCaseSensitive(rs, "factor"); /* {"rope_theta": ...} only */
        if (!plain &&
            (!cJSON_IsString(ty) || (strcmp(ty->valuestring, "llama3") && strcmp(ty->valuestring, "default")))) {
            err_set(err, keep_path(path), 0, "rope_scaling type '%s' is not supported (only llama3 and default; "
                    "the model would generate wrongly without it)", cJSON_IsString(ty) ? ty->valuestring : "?");
            goto out;
        }
        if (!plain && !strcmp(ty->valuestring, "llama3")) {
            double f, lo, hi;
            long om;
            if (json_num(rs, "factor", 8, &f, path, err) < 0 || json_num(rs, "low_freq_factor", 1, &lo, path, err) < 0 ||
                json_num(rs, "high_freq_factor", 4, &hi, path, err) < 0 ||
                json_int(rs, "original_max_position_embeddings", 8192, &om, path, err) < 0)
                goto out;
            if (!(f > 0) || !(lo > 0) || !(hi > lo) || om <= 0) {
                err_set(err, keep_path(path), 0, "rope_scaling: bad llama3 parameters");
                goto out;
            }
            c->rope_factor = (float)f, c->rope_low_freq = (float)lo, c->rope_high_freq = (float)hi;
            c->rope_orig_max = (int)om;
        }
    }
    /* Sliding-window attention (Mistral; Qwen2 when use_sliding_window): up
     * to the window it is ordinary causal attention, so the context is
     * capped at the window and the forward pass stays exact. */
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(o, "sliding_window");
    const cJSON *usw = cJSON_GetObjectItemCaseSensitive(o, "use_sliding_window");
    if (cJSON_IsNumber(sw) && (!strcmp(arch, "mistral") || cJSON_IsTrue(usw))) {
        if (json_int(o, "sliding_window", 0, &v, path, err) < 0)
            goto out;
        if (v > 0 && v < c->max_seq_len)
            c->max_seq_len = (int)v;
    }
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(o, "miso_tokenizer");
    if (cJSON_IsString(tk))
        snprintf(c->tokenizer, sizeof c->tokenizer, "%s", tk->valuestring);
    rc = config_check(c, path, err);
out:
    cJSON_Delete(o);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */

static void model_alloc(Model *m, const ModelConfig *c)
{
    size_t sizes[MODEL_NTENSORS];
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    m->nparams = model_tensor_sizes(c, sizes);
    m->block = xmalloc(size_mul(m->nparams, sizeof(float)));
    model_point_weights(c, m->block, &m->w);
}

static int load_hf(Model *m, const char *dir, Err *err)
{
    StrBuf p = SB_INIT;
    sb_addf(&p, "%s/config.json", dir);
    size_t len;
    char *text = slurp(p.buf, &len);
    if (!text) {
        err_set(err, keep_path(p.buf), 0, "cannot read: %s", strerror(errno));
        sb_release(&p);
        return -1;
    }
    ModelConfig c;
    int rc = config_parse(&c, text, len, p.buf, err);
    free(text);
    sb_release(&p);
    if (rc < 0)
        return -1;
    StSet s;
    if (st_set_open(&s, dir, err) < 0)
        return -1;
    /* Pass 0 checks every tensor's presence and shape before anything is
     * allocated (so a config with absurd sizes fails on the shapes, not on
     * the allocation); pass 1 reads them into the block. */
    size_t ne;
    ModelHfTensor *e = hf_tensors_alloc(&c, &ne);
    rc = -1;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            model_alloc(m, &c);
        for (size_t i = 0; i < ne; i++) {
            const char *name = e[i].name;
            const StFile *f;
            const StTensor *t = st_set_find(&s, name, &f);
            if (!t && !strncmp(name, "model.", 6)) /* exports without the "model." prefix */
                t = st_set_find(&s, name + 6, &f);
            if (!t) {
                err_set(err, keep_path(s.nfiles == 1 ? s.files[0].path : dir), 0, "missing tensor '%s'%s", name,
                        e[i].tensor == MODEL_NTENSORS - 1
                            ? " (config.json does not say \"tie_word_embeddings\": true)"
                            : "");
                goto out;
            }
            int want_nd = e[i].ndim;
            if (t->ndim != want_nd || t->shape[0] != e[i].shape[0] || (want_nd == 2 && t->shape[1] != e[i].shape[1])) {
                StrBuf sh = SB_INIT;
                for (int k = 0; k < t->ndim; k++)
                    sb_addf(&sh, "%s%lld", k ? ", " : "", (long long)t->shape[k]);
                if (want_nd == 2)
                    err_set(err, keep_path(f->path), 0,
                            "tensor '%s': shape [%s] does not match the config [%lld, %lld]", name, sh.buf,
                            (long long)e[i].shape[0], (long long)e[i].shape[1]);
                else
                    err_set(err, keep_path(f->path), 0, "tensor '%s': shape [%s] does not match the config [%lld]",
                            name, sh.buf, (long long)e[i].shape[0]);
                sb_release(&sh);
                goto out;
            }
            if (pass == 1 && st_read_f32(f, t, m->block + e[i].offset, err) < 0)
                goto out;
        }
    }
    rc = 0;
out:
    free(e);
    st_set_close(&s);
    if (rc < 0 && m->block)
        model_release(m);
    return rc;
}

/* Meta interleaved rows -> HF rotate_half rows, per head: row 2i+j of a head
 * becomes row j*HD/2 + i.  w is (nh*HD, D). */
static void permute_meta_to_hf(float *w, int nh, int HD, int D)
{
    float *tmp = xmalloc(size_mul(size_mul((size_t)HD, (size_t)D), sizeof(float)));
    for (int h = 0; h < nh; h++) {
        float *head = w + (size_t)h * HD * D;
        for (int i = 0; i < HD / 2; i++)
            for (int j = 0; j < 2; j++)
                memcpy(tmp + ((size_t)j * HD / 2 + i) * D, head + ((size_t)2 * i + j) * D, (size_t)D * sizeof(float));
        memcpy(head, tmp, (size_t)HD * D * sizeof(float));
    }
    free(tmp);
}

/* llama2.c checkpoints: version 0 (7 int32 header, Meta layout, RoPE tables,
 * vocab < 0 = separate classifier) and version 1 ("ak42", 256-byte header). */
static int load_llama2c(Model *m, const char *path, Err *err)
{
    /* mapped, not read: the weights are copied once, from the page cache
     * into the block (a 7B checkpoint would otherwise need twice its size) */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        err_set(err, keep_path(path), 0, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (buf == MAP_FAILED) {
        err_set(err, keep_path(path), 0, "cannot map: %s", strerror(errno));
        return -1;
    }
    int rc = -1;
    int32_t h[9];
    int version = 0;
    size_t off;
    if (len >= 8 && !memcmp(buf, "\x32\x34\x6b\x61", 4)) {
        memcpy(&version, buf + 4, 4);
        if (version != 1) {
            err_set(err, keep_path(path), 0, "llama2.c checkpoint version %d is not supported (0 and 1)", version);
            goto out;
        }
        if (len < 256) {
            err_set(err, keep_path(path), 0, "truncated llama2.c header (%zu bytes)", len);
            goto out;
        }
        memcpy(h, buf + 8, 7 * 4);
        if (!buf[36])
            h[5] = -h[5]; /* not shared: the classifier is stored */
        off = 256;
    } else {
        if (len < 28) {
            err_set(err, keep_path(path), 0, "truncated llama2.c header (%zu bytes)", len);
            goto out;
        }
        memcpy(h, buf, 7 * 4);
        off = 28;
    }
    ModelConfig c;
    config_base(&c);
    c.dim = h[0], c.hidden_dim = h[1], c.n_layers = h[2], c.n_heads = h[3], c.n_kv_heads = h[4];
    c.vocab_size = h[5] < 0 ? -h[5] : h[5];
    c.tied = h[5] > 0;
    c.max_seq_len = h[6];
    c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
    c.bos_id = 1, c.eos_id = 2;
    if (c.dim <= 0 || c.dim > 1 << 16 || c.hidden_dim <= 0 || c.hidden_dim > 1 << 18 || c.n_layers <= 0 ||
        c.n_layers > 1024 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.vocab_size <= 0 || c.vocab_size > 1 << 24 ||
        c.max_seq_len <= 0 || c.max_seq_len > 1 << 24 || c.dim % c.n_heads || config_check(&c, path, err) < 0) {
        err_set(err, keep_path(path), 0, "not a llama2.c checkpoint (implausible header: dim %d, layers %d, heads %d/%d, "
                "vocab %d, seq_len %d)", h[0], h[2], h[3], h[4], h[5], h[6]);
        goto out;
    }
    size_t sizes[MODEL_NTENSORS];
    size_t need = model_tensor_sizes(&c, sizes);
    if (version == 0)
        need = size_add(need, size_mul((size_t)c.max_seq_len, (size_t)c.head_dim)); /* RoPE tables */
    need = size_mul(need, 4);
    if (len - off != need) {
        err_set(err, keep_path(path), 0, "file has %zu bytes of weights but the header (dim %d, layers %d, vocab %d) "
                "needs %zu", len - off, c.dim, c.n_layers, c.vocab_size, need);
        goto out;
    }
    model_alloc(m, &c);
    ModelWeights *w = &m->w;
    const unsigned char *src = buf + off; /* little-endian F32 arrays */
    /* the order of the arrays in the file */
    float *v0[] = {w->embed, w->attn_norm, w->wq, w->wk, w->wv, w->wo, w->ffn_norm, w->w_gate, w->w_down, w->w_up,
                   w->final_norm};
    size_t n0[] = {sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], sizes[8], sizes[9], sizes[10], sizes[12],
                   sizes[11], sizes[13]};
    float *v1[] = {w->attn_norm, w->ffn_norm, w->final_norm, w->embed, w->wq, w->wk, w->wv, w->wo, w->w_gate,
                   w->w_down, w->w_up};
    size_t n1[] = {sizes[1], sizes[9], sizes[13], sizes[0], sizes[2], sizes[3], sizes[4], sizes[8], sizes[10],
                   sizes[12], sizes[11]};
    for (int i = 0; i < 11; i++) {
        float *dst = version ? v1[i] : v0[i];
        size_t n = version ? n1[i] : n0[i];
        memcpy(dst, src, n * 4);
        src += n * 4;
    }
    if (version == 0)
        src += (size_t)c.max_seq_len * (size_t)c.head_dim * 4;
    if (!c.tied)
        memcpy(w->lm_head, src, sizes[14] * 4);
    for (int l = 0; l < c.n_layers; l++) {
        permute_meta_to_hf(w->wq + (size_t)l * sizes[2] / (size_t)c.n_layers, c.n_heads, c.head_dim, c.dim);
        permute_meta_to_hf(w->wk + (size_t)l * sizes[3] / (size_t)c.n_layers, c.n_kv_heads, c.head_dim, c.dim);
    }
    rc = 0;
out:
    if (buf)
        munmap(buf, len);
    return rc;
}

int model_load(Model *m, const char *path, Err *err)
{
    struct stat st;
    memset(m, 0, sizeof *m);
    if (stat(path, &st) < 0) {
        err_set(err, keep_path(path), 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        return load_hf(m, path, err);
    return load_llama2c(m, path, err);
}

static int add_eos(const cJSON *v, int *ids, int n, int max)
{
    if (cJSON_IsArray(v)) {
        for (const cJSON *e = v->child; e; e = e->next)
            n = add_eos(e, ids, n, max);
        return n;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9 || v->valuedouble != floor(v->valuedouble))
        return n;
    int id = (int)v->valuedouble;
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return n;
    if (n < max)
        ids[n++] = id;
    return n;
}

int model_eos_ids(const char *path, int *ids, int max)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    static const char *const files[] = {"config.json", "generation_config.json"};
    int n = 0;
    for (int k = 0; k < 2; k++) {
        StrBuf p = SB_INIT;
        sb_addf(&p, "%s/%s", path, files[k]);
        size_t len;
        char *text = slurp(p.buf, &len);
        sb_release(&p);
        if (!text)
            continue;
        cJSON *o = cJSON_ParseWithLength(text, len);
        free(text);
        if (cJSON_IsObject(o))
            n = add_eos(cJSON_GetObjectItemCaseSensitive(o, "eos_token_id"), ids, n, max);
        cJSON_Delete(o);
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Saving                                                                    */

/* The shortest decimal that reads back as the same float (so config.json
 * says 1e-05, not 9.99999974737875e-06). */
static void add_float(StrBuf *sb, float x)
{
    char buf[64];
    if (x == floorf(x) && fabsf(x) < 1e15f) {
        snprintf(buf, sizeof buf, "%.1f", (double)x); /* 10000.0, not 1e+04 */
        sb_adds(sb, buf);
        return;
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x)
            break;
    }
    if (!strpbrk(buf, ".en"))
        strcat(buf, ".0");
    sb_adds(sb, buf);
}

int model_save_hf(const Model *m, const char *dir, int dtype, Err *err)
{
    const ModelConfig *c = &m->cfg;
    int made = mkdir(dir, 0777) == 0;
    if (!made && errno != EEXIST) {
        err_set(err, keep_path(dir), 0, "cannot create directory: %s", strerror(errno));
        return -1;
    }
    /* q/k/v biases exist only in qwen2 among the supported architectures */
    const char *arch = c->qkv_bias ? "qwen2" : (c->arch[0] ? c->arch : "llama");
    const char *cls = !strcmp(arch, "qwen2") ? "Qwen2ForCausalLM" : !strcmp(arch, "mistral") ? "MistralForCausalLM"
                                                                                               : "LlamaForCausalLM";
    StrBuf j = SB_INIT;
    sb_addf(&j, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n", cls, arch);
    sb_addf(&j, "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n", c->dim,
            c->hidden_dim, c->n_layers);
    sb_addf(&j, "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"head_dim\": %d,\n", c->n_heads,
            c->n_kv_heads, c->head_dim);
    sb_addf(&j, "  \"vocab_size\": %d,\n  \"max_position_embeddings\": %d,\n", c->vocab_size, c->max_seq_len);
    sb_adds(&j, "  \"rope_theta\": ");
    add_float(&j, c->rope_theta);
    sb_adds(&j, ",\n  \"rms_norm_eps\": ");
    add_float(&j, c->norm_eps);
    sb_addf(&j, ",\n  \"tie_word_embeddings\": %s,\n  \"hidden_act\": \"silu\",\n", c->tied ? "true" : "false");
    if (strcmp(arch, "qwen2"))
        sb_adds(&j, "  \"attention_bias\": false,\n  \"mlp_bias\": false,\n");
    if (!strcmp(arch, "mistral"))
        sb_adds(&j, "  \"sliding_window\": null,\n");
    if (c->rope_factor > 0) {
        sb_adds(&j, "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": ");
        add_float(&j, c->rope_factor);
        sb_adds(&j, ", \"low_freq_factor\": ");
        add_float(&j, c->rope_low_freq);
        sb_adds(&j, ", \"high_freq_factor\": ");
        add_float(&j, c->rope_high_freq);
        sb_addf(&j, ", \"original_max_position_embeddings\": %d},\n", c->rope_orig_max);
    } else {
        sb_adds(&j, "  \"rope_scaling\": null,\n");
    }
    if (c->bos_id >= 0)
        sb_addf(&j, "  \"bos_token_id\": %d,\n", c->bos_id);
    if (c->eos_id >= 0)
        sb_addf(&j, "  \"eos_token_id\": %d,\n", c->eos_id);
    if (c->tokenizer[0])
        sb_addf(&j, "  \"miso_tokenizer\": \"%s\",\n", c->tokenizer);
    sb_addf(&j, "  \"initializer_range\": 0.02,\n  \"use_cache\": true,\n  \"torch_dtype\": \"%s\"\n}\n",
            dtype == MODEL_SAVE_BF16 ? "bfloat16" : "float32");

    /* Whole or nothing: both files are written to temporaries in dir first;
     * the weights are renamed into place, then the config, so config.json
     * never appears (or changes) unless its weights were written. */
    StrBuf p = SB_INIT;
    int rc = -1, have_cfg = 0;
    StWriteTensor *t = NULL;
    sb_addf(&p, "%s/config.json", dir);
    OutFile of, ow;
    FILE *fp = ofile_open(&of, p.buf, err);
    if (!fp)
        goto out;
    have_cfg = 1;
    fwrite(j.buf, 1, j.len, fp);

    size_t nt;
    ModelHfTensor *e = hf_tensors_alloc(c, &nt);
    t = xcalloc(nt ? nt : 1, sizeof *t);
    for (size_t i = 0; i < nt; i++) {
        t[i].name = e[i].name;
        t[i].ndim = e[i].ndim;
        t[i].shape[0] = e[i].shape[0];
        t[i].shape[1] = e[i].shape[1];
        t[i].data = m->block + e[i].offset;
    }
    sb_reset(&p);
    sb_addf(&p, "%s/model.safetensors", dir);
    if (st_write_uncommitted(&ow, p.buf, t, nt, dtype == MODEL_SAVE_BF16 ? ST_BF16 : ST_F32, err) == 0) {
        if (ofile_commit(&ow, err) == 0) {
            have_cfg = 0;
            rc = ofile_commit(&of, err);
        }
    }
    free(e);
out:
    if (have_cfg)
        ofile_abort(&of);
    if (rc < 0 && made)
        rmdir(dir); /* a directory this call created goes too (it is empty) */
    free(t);
    sb_release(&p);
    sb_release(&j);
    return rc;
}
