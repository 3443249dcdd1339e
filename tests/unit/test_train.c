/*
 * test_train.c - the training forward/backward of lib/train:
 *   - finite differences for every parameter tensor (every layer kind) and
 *     every attention variant, para/succ/sft samples in one micro-batch,
 *     Qwen2 biases, tied and untied heads;
 *   - one-input MISO equals plain causal attention over [input; output];
 *   - para loss and gradients do not depend on the order of the inputs;
 *   - the PyTorch reference fixtures (tests/fixtures/train/, written by
 *     tests/reference/train_ref.py) match in loss and every gradient.
 *
 * Finite differences run in float: for each tensor a random unit direction
 * u, (L(p + εu) - L(p - εu)) / 2ε with ε = 1e-2 against <grad, u>; the
 * tolerance is 2e-3 absolute plus 2 % relative (float forward noise on a loss
 * of ~3.6 divided by 2ε is ~1e-4).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "adamw.h"
#include "checkpoint.h"
#include "rng.h"
#include "safetensors.h"
#include "testhelp.h"
#include "train.h"
#include "util.h"

static const char *TNAMES[MODEL_NTENSORS] = {"embed", "attn_norm", "wq", "wk", "wv", "bq", "bk", "bv",
                                              "wo", "ffn_norm", "w_gate", "w_up", "w_down", "final_norm", "lm_head"};

static ModelConfig tiny_cfg(int bias, int tied)
{
    ModelConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.arch, sizeof c.arch, "llama");
    c.dim = 16, c.hidden_dim = 24, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 4;
    c.vocab_size = 37, c.max_seq_len = 64, c.rope_theta = 10000.0f, c.norm_eps = 1e-5f;
    c.tied = tied, c.qkv_bias = bias, c.bos_id = c.eos_id = -1;
    return c;
}

/* Storage for synthetic samples. */
typedef struct {
    int32_t ids[PACK_MAX_INPUTS + 1][64], pos[PACK_MAX_INPUTS + 1][64];
    uint8_t mask[64];
    float w[PACK_MAX_INPUTS];
} SampleBuf;

/* mode para/succ; lens of n inputs, output length to */
static void make_sample(PackSample *s, SampleBuf *b, Rng *g, int mode, int n, const int *lens, int to, int V)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->n_inputs = n;
    int off = 0, mx = 0;
    float ws = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < lens[i]; j++) {
            b->ids[i][j] = (int32_t)rng_below(g, (uint64_t)V);
            b->pos[i][j] = mode == PACK_SUCC ? off + j : j;
        }
        s->in_len[i] = lens[i];
        s->in_ids[i] = b->ids[i];
        s->in_pos[i] = b->pos[i];
        off += lens[i];
        if (lens[i] > mx)
            mx = lens[i];
        b->w[i] = 0.5f + rng_uniformf(g);
        ws += b->w[i];
    }
    for (int i = 0; i < n; i++)
        b->w[i] /= ws;
    int start = mode == PACK_SUCC ? off : mx;
    for (int j = 0; j < to; j++) {
        b->ids[n][j] = (int32_t)rng_below(g, (uint64_t)V);
        b->pos[n][j] = start + j;
        b->mask[j] = j >= 2; /* generation prompt unsupervised */
    }
    s->out_len = to;
    s->out_ids = b->ids[n];
    s->out_pos = b->pos[n];
    s->loss_mask = b->mask;
    s->weights = b->w;
}

static double batch_loss(Train *t, const Model *m, float *grad, const PackSample *s, int nb)
{
    long nsup = 0;
    for (int i = 0; i < nb; i++)
        nsup += train_sample_targets(&s[i]);
    ModelWeights dw;
    if (grad) {
        memset(grad, 0, sizeof(float) * m->nparams);
        model_point_weights(&m->cfg, grad, &dw);
    }
    return train_step(t, &m->w, grad ? &dw : NULL, s, nb, (double)nsup, &nsup) / (double)nsup;
}

static void fd_check(int variant, int bias, int tied)
{
    ModelConfig c = tiny_cfg(bias, tied);
    Model m;
    model_init_random(&m, &c, 11);
    /* larger weights than the 0.02 init, so every path carries signal */
    Rng g;
    rng_seed(&g, 5);
    for (size_t i = 0; i < m.nparams; i++)
        m.block[i] += 0.3f * (float)rng_normal(&g);
    static SampleBuf bufs[3];
    PackSample s[3];
    int la[3] = {3, 5, 2}, lb[1] = {4}, lc[2] = {3, 3};
    make_sample(&s[0], &bufs[0], &g, PACK_PARA, 3, la, 6, c.vocab_size);
    make_sample(&s[1], &bufs[1], &g, PACK_SFT, 1, lb, 5, c.vocab_size);
    make_sample(&s[2], &bufs[2], &g, PACK_SUCC, 2, lc, 4, c.vocab_size);
    TrainLimits lim = {0};
    train_limits_add(&lim, s, 3);
    Train t;
    train_init(&t, &c, &lim, variant);
    float *grad = xmalloc(sizeof(float) * m.nparams), *u = xmalloc(sizeof(float) * m.nparams);
    batch_loss(&t, &m, grad, s, 3);
    size_t sizes[MODEL_NTENSORS], off = 0;
    model_tensor_sizes(&c, sizes);
    int bad = 0;
    double worst = 0;
    char what[256] = "";
    for (int ti = 0; ti < MODEL_NTENSORS; ti++) {
        if (!sizes[ti])
            continue;
        double nrm = 0, gu = 0;
        for (size_t i = 0; i < sizes[ti]; i++) {
            u[i] = (float)rng_normal(&g);
            nrm += (double)u[i] * u[i];
        }
        nrm = sqrt(nrm);
        for (size_t i = 0; i < sizes[ti]; i++) {
            u[i] = (float)(u[i] / nrm);
            gu += (double)u[i] * grad[off + i];
        }
        float eps = 1e-2f, *p = m.block + off;
        float *keep = xmalloc(sizeof(float) * sizes[ti]);
        memcpy(keep, p, sizeof(float) * sizes[ti]);
        for (size_t i = 0; i < sizes[ti]; i++)
            p[i] = keep[i] + eps * u[i];
        double lp = batch_loss(&t, &m, NULL, s, 3);
        for (size_t i = 0; i < sizes[ti]; i++)
            p[i] = keep[i] - eps * u[i];
        double lm = batch_loss(&t, &m, NULL, s, 3);
        memcpy(p, keep, sizeof(float) * sizes[ti]);
        free(keep);
        double fd = (lp - lm) / (2.0 * eps), diff = fabs(fd - gu);
        if (diff > 2e-3 + 0.02 * fabs(gu)) {
            bad++;
            snprintf(what + strlen(what), sizeof what - strlen(what), " %s(fd %.5g grad %.5g)", TNAMES[ti], fd, gu);
        }
        if (diff > worst)
            worst = diff;
        off += sizes[ti];
    }
    CHECK(!bad, "%s%s%s: every parameter tensor's gradient matches finite differences (worst diff %.2g)%s",
          attn_variant_name(variant), bias ? ", q/k/v biases" : "", tied ? ", tied head" : ", untied head", worst,
          what);
    train_release(&t);
    model_release(&m);
    free(grad), free(u);
}

static double maxdiff(const float *a, const float *b, size_t n)
{
    double md = 0;
    for (size_t i = 0; i < n; i++)
        md = fmax(md, fabs((double)a[i] - b[i]));
    return md;
}

/* One input: [X] -> Y equals the single sequence X[0] -> X[1..] ++ Y with
 * the loss on Y only (plain causal attention over [input; output]). */
static void single_input_is_causal(int variant)
{
    ModelConfig c = tiny_cfg(1, 0);
    Model m;
    model_init_random(&m, &c, 3);
    Rng g;
    rng_seed(&g, 9);
    for (size_t i = 0; i < m.nparams; i++)
        m.block[i] += 0.3f * (float)rng_normal(&g);
    static SampleBuf b1, b2;
    PackSample s1, s2;
    int la[1] = {5};
    make_sample(&s1, &b1, &g, PACK_SFT, 1, la, 6, c.vocab_size);
    /* s2: input X[0], output X[1..4] ++ Y, positions 0..10 */
    memset(&s2, 0, sizeof s2);
    s2.mode = PACK_SFT, s2.n_inputs = 1, s2.in_len[0] = 1;
    b2.ids[0][0] = b1.ids[0][0], b2.pos[0][0] = 0;
    for (int j = 0; j < 4; j++)
        b2.ids[1][j] = b1.ids[0][j + 1], b2.pos[1][j] = j + 1, b2.mask[j] = 0;
    for (int j = 0; j < 6; j++)
        b2.ids[1][4 + j] = b1.ids[1][j], b2.pos[1][4 + j] = 5 + j, b2.mask[4 + j] = b1.mask[j];
    s2.in_ids[0] = b2.ids[0], s2.in_pos[0] = b2.pos[0];
    s2.out_len = 10, s2.out_ids = b2.ids[1], s2.out_pos = b2.pos[1], s2.loss_mask = b2.mask;
    TrainLimits lim = {0};
    train_limits_add(&lim, &s1, 1);
    train_limits_add(&lim, &s2, 1);
    Train t;
    train_init(&t, &c, &lim, variant);
    float *g1 = xmalloc(sizeof(float) * m.nparams), *g2 = xmalloc(sizeof(float) * m.nparams);
    double l1 = batch_loss(&t, &m, g1, &s1, 1), l2 = batch_loss(&t, &m, g2, &s2, 1);
    double md = maxdiff(g1, g2, m.nparams);
    CHECK(fabs(l1 - l2) < 1e-5 && md < 1e-5,
          "%s with one input equals plain causal attention over [input; output] (loss %.6f vs %.6f, max grad diff "
          "%.2g)",
          attn_variant_name(variant), l1, l2, md);
    train_release(&t);
    model_release(&m);
    free(g1), free(g2);
}

static void para_order_invariant(int variant)
{
    ModelConfig c = tiny_cfg(0, 1);
    Model m;
    model_init_random(&m, &c, 4);
    Rng g;
    rng_seed(&g, 10);
    for (size_t i = 0; i < m.nparams; i++)
        m.block[i] += 0.3f * (float)rng_normal(&g);
    static SampleBuf b1, b2;
    PackSample s1, s2;
    int la[3] = {4, 2, 5};
    make_sample(&s1, &b1, &g, PACK_PARA, 3, la, 6, c.vocab_size);
    /* s2 = s1 with inputs reversed */
    b2 = b1;
    s2 = s1;
    for (int i = 0; i < 3; i++) {
        s2.in_len[i] = s1.in_len[2 - i];
        memcpy(b2.ids[i], b1.ids[2 - i], sizeof b1.ids[0]);
        memcpy(b2.pos[i], b1.pos[2 - i], sizeof b1.pos[0]);
        b2.w[i] = b1.w[2 - i];
        s2.in_ids[i] = b2.ids[i], s2.in_pos[i] = b2.pos[i];
    }
    s2.out_ids = b2.ids[3], s2.out_pos = b2.pos[3], s2.loss_mask = b2.mask, s2.weights = b2.w;
    TrainLimits lim = {0};
    train_limits_add(&lim, &s1, 1);
    Train t;
    train_init(&t, &c, &lim, variant);
    float *g1 = xmalloc(sizeof(float) * m.nparams), *g2 = xmalloc(sizeof(float) * m.nparams);
    double l1 = batch_loss(&t, &m, g1, &s1, 1), l2 = batch_loss(&t, &m, g2, &s2, 1);
    double md = maxdiff(g1, g2, m.nparams);
    CHECK(fabs(l1 - l2) < 1e-5 && md < 1e-5,
          "%s: para loss and gradients do not depend on the order of the inputs (loss %.6f vs %.6f, max grad diff "
          "%.2g)",
          attn_variant_name(variant), l1, l2, md);
    train_release(&t);
    model_release(&m);
    free(g1), free(g2);
}

/* ---------------------------------------------------------------------------
 * PyTorch reference fixtures (tests/reference/train_ref.py, float64 autograd
 * on the literal definitions).  Tolerance per tensor: max |diff| <= 2e-5 +
 * 1e-3 * max |reference| (float32 against float64); loss within 1e-5. */

static float *st_get(const StFile *f, const char *name, size_t *n)
{
    const StTensor *t = st_find(f, name);
    if (!t)
        return NULL;
    Err err;
    float *buf = xmalloc(sizeof(float) * (st_numel(t) ? st_numel(t) : 1));
    if (st_read_f32(f, t, buf, &err) < 0) {
        free(buf);
        return NULL;
    }
    if (n)
        *n = st_numel(t);
    return buf;
}

static void fixture_check(const char *mode)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/train/ref-%s.safetensors", mode);
    StFile f;
    Err err;
    if (st_open(&f, path, &err) < 0) {
        CHECK(0, "opens the PyTorch fixture %s", path);
        return;
    }
    float *cf = st_get(&f, "config", NULL);
    ModelConfig c = tiny_cfg((int)cf[8], (int)cf[7]);
    c.dim = (int)cf[0], c.hidden_dim = (int)cf[1], c.n_layers = (int)cf[2], c.n_heads = (int)cf[3];
    c.n_kv_heads = (int)cf[4], c.head_dim = (int)cf[5], c.vocab_size = (int)cf[6];
    c.rope_theta = cf[9], c.norm_eps = cf[10];
    free(cf);
    Model m;
    model_init_random(&m, &c, 1);
    size_t nn = model_hf_tensors(&c, NULL);
    ModelHfTensor *names = xmalloc(sizeof(ModelHfTensor) * nn);
    model_hf_tensors(&c, names);
    int missing = 0;
    for (size_t i = 0; i < nn; i++) {
        size_t k = 0;
        float *w = st_get(&f, names[i].name, &k);
        if (!w || k != names[i].numel) {
            missing++;
        } else {
            memcpy(m.block + names[i].offset, w, sizeof(float) * k);
        }
        free(w);
    }
    CHECK(!missing, "%s fixture: every HF-named weight is present with the right size", mode);
    /* samples */
    enum { MAXS = 8 };
    PackSample s[MAXS];
    float *owned[MAXS * (2 * PACK_MAX_INPUTS + 4)];
    int32_t *iowned[MAXS * (2 * PACK_MAX_INPUTS + 2)];
    int no = 0, nio = 0, ns = 0;
    uint8_t masks[MAXS][256];
    for (; ns < MAXS; ns++) {
        char nm[96];
        size_t k;
        memset(&s[ns], 0, sizeof s[ns]);
        snprintf(nm, sizeof nm, "sample.%d.out.ids", ns);
        float *oi = st_get(&f, nm, &k);
        if (!oi)
            break;
        s[ns].out_len = (int)k;
        int32_t *ids = xmalloc(sizeof(int32_t) * k), *pos = xmalloc(sizeof(int32_t) * k);
        snprintf(nm, sizeof nm, "sample.%d.out.pos", ns);
        float *op = st_get(&f, nm, NULL);
        snprintf(nm, sizeof nm, "sample.%d.out.mask", ns);
        float *om = st_get(&f, nm, NULL);
        for (size_t j = 0; j < k; j++)
            ids[j] = (int32_t)oi[j], pos[j] = (int32_t)op[j], masks[ns][j] = om[j] != 0;
        free(oi), free(op), free(om);
        s[ns].out_ids = ids, s[ns].out_pos = pos, s[ns].loss_mask = masks[ns];
        iowned[nio++] = ids, iowned[nio++] = pos;
        for (int i = 0; i < PACK_MAX_INPUTS; i++) {
            snprintf(nm, sizeof nm, "sample.%d.in.%d.ids", ns, i);
            float *ii = st_get(&f, nm, &k);
            if (!ii)
                break;
            snprintf(nm, sizeof nm, "sample.%d.in.%d.pos", ns, i);
            float *ip = st_get(&f, nm, NULL);
            int32_t *a = xmalloc(sizeof(int32_t) * k), *b = xmalloc(sizeof(int32_t) * k);
            for (size_t j = 0; j < k; j++)
                a[j] = (int32_t)ii[j], b[j] = (int32_t)ip[j];
            free(ii), free(ip);
            s[ns].in_ids[i] = a, s[ns].in_pos[i] = b, s[ns].in_len[i] = (int)k;
            s[ns].n_inputs = i + 1;
            iowned[nio++] = a, iowned[nio++] = b;
        }
        s[ns].mode = s[ns].n_inputs == 1 ? PACK_SFT : !strcmp(mode, "para") ? PACK_PARA : PACK_SUCC;
        snprintf(nm, sizeof nm, "sample.%d.weights", ns);
        float *w = st_get(&f, nm, NULL);
        s[ns].weights = w;
        owned[no++] = w;
    }
    TrainLimits lim = {0};
    train_limits_add(&lim, s, ns);
    float *grad = xmalloc(sizeof(float) * m.nparams);
    for (int variant = 0; variant < 4; variant++) {
        const char *vn = attn_variant_name(variant);
        Train t;
        train_init(&t, &c, &lim, variant);
        double loss = batch_loss(&t, &m, grad, s, ns);
        char nm[160];
        snprintf(nm, sizeof nm, "loss.%s", vn);
        float *rl = st_get(&f, nm, NULL);
        CHECK(rl && fabs(loss - rl[0]) < 1e-5, "%s %s: loss matches the PyTorch reference (%.6f vs %.6f)", mode, vn,
              loss, rl ? rl[0] : 0.0f);
        free(rl);
        int bad = 0;
        double worst = 0;
        char which[160] = "";
        for (size_t i = 0; i < nn; i++) {
            snprintf(nm, sizeof nm, "grad.%s.%s", vn, names[i].name);
            size_t k = 0;
            float *rg = st_get(&f, nm, &k);
            if (!rg || k != names[i].numel) {
                bad++;
                free(rg);
                continue;
            }
            double md = 0, mr = 0;
            for (size_t j = 0; j < k; j++) {
                md = fmax(md, fabs((double)grad[names[i].offset + j] - rg[j]));
                mr = fmax(mr, fabs((double)rg[j]));
            }
            if (md > 2e-5 + 1e-3 * mr) {
                if (!bad)
                    snprintf(which, sizeof which, " first: %s diff %.3g", names[i].name, md);
                bad++;
            }
            worst = fmax(worst, md);
            free(rg);
        }
        CHECK(!bad, "%s %s: all %zu gradients match the PyTorch reference (max diff %.2g)%s", mode, vn, nn, worst,
              which);
        train_release(&t);
    }
    for (int i = 0; i < no; i++)
        free(owned[i]);
    for (int i = 0; i < nio; i++)
        free(iowned[i]);
    free(grad), free(names);
    model_release(&m);
    st_close(&f);
}

/* AdamW against the PyTorch formulas, the HF schedule, clipping. */
static void adamw_checks(void)
{
    AdamW o = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .wd = 0.1, .warmup_ratio = 0.1};
    CHECK(adamw_lr(&o, 0, 100) == 0.0 && fabs(adamw_lr(&o, 5, 100) - 5e-4) < 1e-12 &&
              fabs(adamw_lr(&o, 10, 100) - 1e-3) < 1e-12 && fabs(adamw_lr(&o, 55, 100) - 5e-4) < 1e-12 &&
              adamw_lr(&o, 100, 100) == 0.0,
          "linear schedule: 0 at the first update, peak after 10%% warm-up, half way down at step 55");
    o.schedule = SCHED_COSINE;
    CHECK(fabs(adamw_lr(&o, 55, 100) - 5e-4) < 1e-12 && fabs(adamw_lr(&o, 10, 100) - 1e-3) < 1e-12,
          "cosine schedule: peak after warm-up, half at mid-decay");
    o.schedule = SCHED_LINEAR;
    float p[2] = {0.5f, 0.5f}, g[2] = {0.2f, -0.1f}, m[2] = {0}, v[2] = {0};
    unsigned char dec[2] = {1, 0};
    /* torch.optim.AdamW, two steps with the same gradient:
     * p -= lr*wd*p; m = .9m + .1g; v = .999v + .001g^2; p -= lr*(m/(1-.9^t))/(sqrt(v/(1-.999^t))+eps) */
    double pr[2] = {0.5, 0.5}, mr[2] = {0}, vr[2] = {0};
    for (int t = 0; t < 2; t++) {
        adamw_update(&o, p, g, m, v, 2, dec, (uint64_t)t, 1e-2);
        for (int i = 0; i < 2; i++) {
            if (dec[i])
                pr[i] -= 1e-2 * 0.1 * pr[i];
            mr[i] = 0.9 * mr[i] + 0.1 * g[i];
            vr[i] = 0.999 * vr[i] + 0.001 * (double)g[i] * g[i];
            pr[i] -= 1e-2 * (mr[i] / (1 - pow(0.9, t + 1))) / (sqrt(vr[i] / (1 - pow(0.999, t + 1))) + 1e-8);
        }
    }
    CHECK(fabs(p[0] - pr[0]) < 1e-6 && fabs(p[1] - pr[1]) < 1e-6,
          "AdamW matches the PyTorch update with decay on matrices only (%.7f %.7f vs %.7f %.7f)", p[0], p[1], pr[0],
          pr[1]);
    float cg[3] = {3.0f, 4.0f, 0.0f};
    double n = adamw_clip(cg, 3, 1.0);
    CHECK(fabs(n - 5.0) < 1e-9 && fabs(cg[0] - 0.6f) < 1e-5 && fabs(cg[1] - 0.8f) < 1e-5,
          "clipping returns the global norm (5) and scales the gradient to norm 1");
    ModelConfig c = tiny_cfg(1, 0);
    size_t sizes[MODEL_NTENSORS], tot = model_tensor_sizes(&c, sizes);
    unsigned char *mask = xmalloc(tot);
    adamw_decay_mask(&c, mask);
    size_t off_norm = sizes[0], off_bq = sizes[0] + sizes[1] + sizes[2] + sizes[3] + sizes[4];
    CHECK(mask[0] == 1 && mask[off_norm] == 0 && mask[off_bq] == 0 && mask[tot - 1] == 1,
          "weight decay applies to the embedding and matrices, not to norms and biases");
    free(mask);
}

/* checkpoint round trip and the gradient dump read back */
static void checkpoint_checks(void)
{
    ModelConfig c = tiny_cfg(1, 0);
    Model m;
    model_init_random(&m, &c, 21);
    float *mo = xmalloc(sizeof(float) * m.nparams), *ve = xmalloc(sizeof(float) * m.nparams);
    for (size_t i = 0; i < m.nparams; i++)
        mo[i] = (float)i * 1e-3f, ve[i] = (float)i * 1e-6f;
    char dir[] = "/tmp/miso-ckpt-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "makes a temporary directory");
    CkptState st = {.step = 7, .epoch = 1, .batch_pos = 2, .total_steps = 20, .seed = 5, .nsamples = 9,
                    .batch = 4, .micro_batch = 2};
    rng_seed(&st.rng, 99);
    Err err;
    int rc = ckpt_save(dir, &c, &st, m.block, mo, ve, m.nparams, &err);
    ModelConfig c2;
    CkptState st2;
    float *p2, *m2, *v2;
    size_t n2;
    int rc2 = ckpt_load(dir, &c2, &st2, &p2, &m2, &v2, &n2, &err);
    CHECK(rc == 0 && rc2 == 0 && n2 == m.nparams && !memcmp(&c, &c2, sizeof c) && !memcmp(&st, &st2, sizeof st) &&
              !memcmp(p2, m.block, sizeof(float) * n2) && !memcmp(m2, mo, sizeof(float) * n2) &&
              !memcmp(v2, ve, sizeof(float) * n2),
          "a checkpoint reloads bit for bit (config, state, weights, both moments)");
    if (rc2 == 0)
        free(p2), free(m2), free(v2);
    char path[256];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    FILE *f = fopen(path, "r+b");
    if (f) {
        fwrite("XXXX", 1, 4, f);
        fclose(f);
    }
    CHECK(ckpt_load(dir, &c2, &st2, &p2, &m2, &v2, &n2, &err) < 0 && strstr(err.msg, "not a miso-train checkpoint"),
          "a damaged checkpoint is refused: %s", err.msg);
    snprintf(path, sizeof path, "%s/g.safetensors", dir);
    rc = ckpt_dump_grads(path, &c, m.block, 1.25, &err);
    StFile sf;
    int ok = rc == 0 && st_open(&sf, path, &err) == 0;
    if (ok) {
        const StTensor *t = st_find(&sf, "model.layers.1.self_attn.k_proj.bias"), *l = st_find(&sf, "loss");
        float buf[64] = {0}, lv = 0;
        ok = t && l && st_numel(t) == 8 && st_read_f32(&sf, t, buf, &err) == 0 && st_read_f32(&sf, l, &lv, &err) == 0 &&
             !memcmp(buf, m.w.bk + 8, sizeof(float) * 8) && lv == 1.25f && st_find(&sf, "lm_head.weight");
        st_close(&sf);
    }
    CHECK(ok, "the gradient dump has HF names (layer 1's k_proj.bias at its block offset) and a loss tensor");
    unlink(path);
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    unlink(path);
    rmdir(dir);
    free(mo), free(ve);
    model_release(&m);
}

/* The gradient dump and model_save_hf name tensors from one table
 * (model_hf_tensors): its offsets are those of model_point_weights, and
 * dumping the parameter block as if it were a gradient gives the saved F32
 * model's tensors (same names, shapes and bytes) plus "loss". */
static void dump_matches_save(int bias, int tied)
{
    ModelConfig c = tiny_cfg(bias, tied);
    Model m;
    model_init_random(&m, &c, 8);
    size_t nn = model_hf_tensors(&c, NULL), nbadoff = 0;
    ModelHfTensor *e = xmalloc(sizeof *e * nn);
    model_hf_tensors(&c, e);
    const float *base[MODEL_NTENSORS] = {m.w.embed,  m.w.attn_norm, m.w.wq,    m.w.wk,     m.w.wv,
                                         m.w.bq,     m.w.bk,        m.w.bv,    m.w.wo,     m.w.ffn_norm,
                                         m.w.w_gate, m.w.w_up,      m.w.w_down, m.w.final_norm, m.w.lm_head};
    for (size_t i = 0; i < nn; i++)
        nbadoff += m.block + e[i].offset != base[e[i].tensor] + (size_t)(e[i].layer > 0 ? e[i].layer : 0) * e[i].numel;
    CHECK(nbadoff == 0 && e[nn - 1].offset + e[nn - 1].numel == m.nparams,
          "%s, %s head: the %zu HF tensors sit where model_point_weights puts them and cover the block",
          bias ? "q/k/v biases" : "no biases", tied ? "tied" : "untied", nn);
    free(e);
    char dir[] = "/tmp/miso-names-XXXXXX", gpath[300], mpath[300], cpath[300];
    if (!mkdtemp(dir)) {
        CHECK(0, "makes a temporary directory");
        return;
    }
    snprintf(gpath, sizeof gpath, "%s/g.safetensors", dir);
    snprintf(mpath, sizeof mpath, "%s/model.safetensors", dir);
    snprintf(cpath, sizeof cpath, "%s/config.json", dir);
    Err err;
    StFile g, s;
    int ok = ckpt_dump_grads(gpath, &c, m.block, 2.5, &err) == 0 && model_save_hf(&m, dir, MODEL_SAVE_F32, &err) == 0;
    ok = ok && st_open(&g, gpath, &err) == 0;
    if (ok && st_open(&s, mpath, &err) < 0) {
        st_close(&g);
        ok = 0;
    }
    size_t nsame = 0;
    if (ok) {
        for (size_t i = 0; i < s.n; i++) {
            const StTensor *a = &s.t[i], *b = st_find(&g, a->name);
            nsame += b && a->dtype == b->dtype && a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof a->shape) &&
                     a->end - a->begin == b->end - b->begin &&
                     !memcmp(s.map + s.data_start + a->begin, g.map + g.data_start + b->begin, a->end - a->begin);
        }
        ok = s.n == nn && g.n == nn + 1 && nsame == nn && st_find(&g, "loss");
        st_close(&g), st_close(&s);
    }
    CHECK(ok,
          "%s, %s head: the gradient dump holds the %zu tensors of the saved model.safetensors (names, shapes and "
          "bytes; %zu equal) plus a loss",
          bias ? "q/k/v biases" : "no biases", tied ? "tied" : "untied", nn, nsame);
    unlink(gpath), unlink(mpath), unlink(cpath), rmdir(dir);
    model_release(&m);
}

#ifdef _OPENMP
/* A step with 1 thread and with all of them agrees to float rounding: our
 * own reductions have a fixed order, but OpenBLAS partitions a product
 * differently for other thread counts (measured: 2.6e-8 here).  Bit
 * identity holds for a fixed thread count (the resume test). */
static void thread_independence(void)
{
    ModelConfig c = tiny_cfg(1, 0);
    c.dim = 64, c.hidden_dim = 160, c.head_dim = 16, c.vocab_size = 300;
    Model m;
    model_init_random(&m, &c, 8);
    Rng g;
    rng_seed(&g, 12);
    static SampleBuf bufs[2];
    PackSample s[2];
    int la[3] = {30, 50, 20}, lb[1] = {60};
    make_sample(&s[0], &bufs[0], &g, PACK_PARA, 3, la, 60, c.vocab_size);
    make_sample(&s[1], &bufs[1], &g, PACK_SFT, 1, lb, 60, c.vocab_size);
    TrainLimits lim = {0};
    train_limits_add(&lim, s, 2);
    int nth = omp_get_max_threads();
    float *g1 = xmalloc(sizeof(float) * m.nparams), *g2 = xmalloc(sizeof(float) * m.nparams);
    omp_set_num_threads(1);
    Train t;
    train_init(&t, &c, &lim, ATTN_MISO);
    double l1 = batch_loss(&t, &m, g1, s, 2);
    train_release(&t);
    omp_set_num_threads(nth);
    train_init(&t, &c, &lim, ATTN_MISO);
    double l2 = batch_loss(&t, &m, g2, s, 2);
    train_release(&t);
    CHECK(fabs(l1 - l2) < 1e-6 && maxdiff(g1, g2, m.nparams) < 1e-6,
          "a training step agrees within 1e-6 with 1 and %d threads (loss %.9g vs %.9g, max grad diff %.2g)", nth, l1,
          l2, maxdiff(g1, g2, m.nparams));
    free(g1), free(g2);
    model_release(&m);
}
#endif

int main(void)
{
#ifdef _OPENMP
    thread_independence();
#endif
    checkpoint_checks();
    adamw_checks();
    dump_matches_save(1, 0);
    dump_matches_save(0, 1);
    fixture_check("para");
    fixture_check("succ");
    for (int v = 0; v < 4; v++)
        fd_check(v, 1, 0);
    fd_check(ATTN_MISO, 0, 1);
    fd_check(ATTN_FID, 0, 1);
    for (int v = 0; v < 4; v++)
        single_input_is_causal(v);
    for (int v = 0; v < 4; v++)
        para_order_invariant(v);
    return TEST_REPORT();
}
