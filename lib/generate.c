/*
 * generate.c - the generation loop on top of forward.c and sampler.c.
 *
 * Layout of a prompt (DESIGN.md "Token layout"): the context part (one
 * rendered prompt per input) and the output part (the generation prompt,
 * then the generated tokens).  With one input, context and output part are
 * one ordinary sequence in one KV cache.  With several, each input gets its
 * own cache at positions 0..len_i-1 and the output part starts at position
 * max_i len_i, attending to all inputs through fwd_forward's ctx argument.
 *
 * An output part needs at least one token to carry the first query.  When
 * the template has no generation prompt (mistral: the prompt ends in
 * [/INST]) or raw ids are given, the last id of every input is moved to the
 * output part; the inputs must then agree on it.  With one input this is
 * exactly ordinary generation.
 *
 * Caches are sized per call (prompt + max_new_tokens, capped by the model's
 * max_seq_len), so memory follows the request, not the model's maximum.
 */
#include "generate.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chat.h"
#include "forward.h"
#include "model.h"
#include "rng.h"
#include "sampler.h"

struct Generator {
    Model m;
    Forward f;
    Tokenizer *tok;     /* NULL: ids only */
    ChatTemplate tpl;
    int raw;            /* --template none: BOS + the text, no chat template */
    int stop[16];       /* ids that end a response (EOS ids, end of turn) */
    int nstop;
    float *logits;      /* (V) */
};

void gen_options_default(GenOptions *o)
{
    o->temperature = 0.0f;
    o->top_p = 1.0f;
    o->top_k = 0;
    o->max_new_tokens = 512;
    o->seed = MISO_DEFAULT_SEED;
    o->attn = GEN_ATTN_MISO;
}

static int file_exists(const char *dir, const char *name)
{
    StrBuf p = SB_INIT;
    sb_addf(&p, "%s/%s", dir, name);
    struct stat st;
    int ok = stat(p.buf, &st) == 0;
    sb_release(&p);
    return ok;
}

Generator *gen_open(const char *model_path, const char *tokenizer_path, const char *template_name, Err *err)
{
    Generator *g = xcalloc(1, sizeof *g);
    if (model_load(&g->m, model_path, err) < 0) {
        free(g);
        return NULL;
    }
    struct stat st;
    int isdir = stat(model_path, &st) == 0 && S_ISDIR(st.st_mode);
    const char *tp = tokenizer_path;
    if (!tp && isdir) {
        if (!strcmp(g->m.cfg.tokenizer, "byte"))
            tp = "byte";
        else if (file_exists(model_path, "tokenizer.json"))
            tp = model_path;
    }
    if (tp) {
        g->tok = tok_load(tp, err);
        if (!g->tok)
            goto fail;
        if (tok_vocab_size(g->tok) > g->m.cfg.vocab_size) {
            err_set(err, tp, 0, "tokenizer has %d tokens but the model only %d", tok_vocab_size(g->tok),
                    g->m.cfg.vocab_size);
            goto fail;
        }
    }
    if (template_name && !strcmp(template_name, "none")) {
        g->raw = 1;
        g->tpl = CHAT_PLAIN;
    } else if (template_name) {
        if (chat_template_from_name(template_name, &g->tpl) < 0) {
            err_set(err, NULL, 0, "unknown chat template '%s' (llama3, mistral, chatml, plain, none)", template_name);
            goto fail;
        }
    } else if (g->tok) {
        g->tpl = chat_guess(g->tok);
    } else {
        g->tpl = CHAT_PLAIN;
    }
    /* Stop ids.  A llama2.c checkpoint stops where run.c does: at BOS (1),
     * which delimits its training stories.  A Hugging Face model stops at
     * every eos_token_id of config.json and generation_config.json (Llama 3
     * Instruct lists three), at the tokenizer's EOS, and at the template's
     * end-of-turn token. */
    int eos[16];
    int ne = 0;
    if (!isdir) {
        eos[ne++] = g->m.cfg.bos_id >= 0 ? g->m.cfg.bos_id : 1;
    } else {
        ne = model_eos_ids(model_path, eos, 14);
        if (g->m.cfg.eos_id >= 0)
            eos[ne++] = g->m.cfg.eos_id;
        if (g->tok && tok_eos(g->tok) >= 0)
            eos[ne++] = tok_eos(g->tok);
    }
    if (g->tok && !g->raw) {
        const char *eot = chat_end_of_turn_for(g->tpl, g->tok);
        IntVec ids = {0};
        if (eot[0] && tok_encode(g->tok, eot, strlen(eot), 1, &ids) == 0 && ids.n == 1 && ne < 16)
            eos[ne++] = ids.v[0];
        intvec_release(&ids);
    }
    for (int i = 0; i < ne; i++) {
        int dup = 0;
        for (int j = 0; j < g->nstop; j++)
            dup |= g->stop[j] == eos[i];
        if (!dup)
            g->stop[g->nstop++] = eos[i];
    }
    fwd_init(&g->f, &g->m);
    g->logits = xmalloc(size_mul((size_t)g->m.cfg.vocab_size, sizeof(float)));
    return g;
fail:
    if (g->tok)
        tok_free(g->tok);
    model_release(&g->m);
    free(g);
    return NULL;
}

void gen_close(Generator *g)
{
    if (!g)
        return;
    fwd_release(&g->f);
    if (g->tok)
        tok_free(g->tok);
    model_release(&g->m);
    free(g->logits);
    free(g);
}

int gen_vocab_size(const Generator *g)
{
    return g->m.cfg.vocab_size;
}

int gen_has_tokenizer(const Generator *g)
{
    return g->tok != NULL;
}

/* The loop: contexts inputs[i] (lens[i]), output prefix pre (npre >= 1). */
static int run(Generator *g, const int32_t *const *inputs, const size_t *lens, size_t n, const int32_t *pre,
               size_t npre, const GenOptions *o, IntVec *out, Err *err)
{
    const ModelConfig *c = &g->m.cfg;
    int V = c->vocab_size;
    size_t ctxlen = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < lens[i]; j++)
            if (inputs[i][j] < 0 || inputs[i][j] >= V) {
                err_set(err, NULL, 0, "token id %d of input %zu is outside the vocabulary (0..%d)", (int)inputs[i][j],
                        i + 1, V - 1);
                return -1;
            }
        if (lens[i] > ctxlen)
            ctxlen = lens[i];
        total += lens[i];
    }
    for (size_t j = 0; j < npre; j++)
        if (pre[j] < 0 || pre[j] >= V) {
            err_set(err, NULL, 0, "token id %d is outside the vocabulary (0..%d)", (int)pre[j], V - 1);
            return -1;
        }
    if (npre == 0) {
        err_set(err, NULL, 0, "empty prompt");
        return -1;
    }
    size_t pos0 = n == 1 ? lens[0] : ctxlen;
    if (pos0 + npre > (size_t)c->max_seq_len) {
        err_set(err, NULL, 0, "prompt of %zu tokens does not fit the model's context of %d", pos0 + npre,
                c->max_seq_len);
        return -1;
    }
    size_t maxnew = o->max_new_tokens > 0 ? (size_t)o->max_new_tokens : 0;
    if (maxnew == 0)
        return 0;
    size_t room = (size_t)c->max_seq_len - pos0 - npre + 1; /* tokens that can still be generated */
    if (maxnew > room)
        maxnew = room;
    int fattn = o->attn == GEN_ATTN_MISO_FID ? FWD_ATTN_MISO_FID : o->attn == GEN_ATTN_CONCAT ? FWD_ATTN_CONCAT
                                                                                            : FWD_ATTN_MISO;
    KVCache own;
    KVCache *ctx = NULL, **ctxp = NULL;
    int nctx = 0;
    kv_init(&own, c, (int)((n == 1 ? lens[0] : 0) + npre + maxnew));
    if (n == 1) {
        if (lens[0] > 0)
            fwd_forward(&g->f, &own, NULL, 0, 0, inputs[0], (int)lens[0], 0, NULL, 0);
    } else {
        ctx = xcalloc(n, sizeof *ctx);
        ctxp = xcalloc(n, sizeof *ctxp);
        for (size_t i = 0; i < n; i++) {
            kv_init(&ctx[i], c, lens[i] > 0 ? (int)lens[i] : 1);
            if (lens[i] > 0)
                fwd_forward(&g->f, &ctx[i], NULL, 0, 0, inputs[i], (int)lens[i], 0, NULL, 0);
            ctxp[i] = &ctx[i];
        }
        nctx = (int)n;
    }
    (void)total;
    Sampler s;
    sampler_init(&s, V, o->temperature, o->top_p, o->top_k, o->seed);
    fwd_forward(&g->f, &own, ctxp, nctx, fattn, pre, (int)npre, (int)pos0, g->logits, 0);
    size_t pos = pos0 + npre;
    for (size_t k = 0; k < maxnew; k++) {
        int id = sampler_sample(&s, g->logits), stop = 0;
        for (int i = 0; i < g->nstop; i++)
            stop |= id == g->stop[i];
        if (stop)
            break;
        intvec_push(out, id);
        if (k + 1 == maxnew)
            break;
        int32_t t = id;
        fwd_forward(&g->f, &own, ctxp, nctx, fattn, &t, 1, (int)pos, g->logits, 0);
        pos++;
    }
    sampler_release(&s);
    for (int i = 0; i < nctx; i++)
        kv_release(&ctx[i]);
    free(ctx);
    free(ctxp);
    kv_release(&own);
    return 0;
}

/* Move the common last id of the inputs into the output part. */
static int split_last(const int32_t *const *inputs, const size_t *lens, size_t n, size_t *cut, int32_t *last,
                      Err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0) {
            err_set(err, NULL, 0, "input %zu is empty", i + 1);
            return -1;
        }
        if (inputs[i][lens[i] - 1] != inputs[0][lens[0] - 1]) {
            err_set(err, NULL, 0, "inputs must end with the same token to share an output part (input %zu ends "
                    "with %d, input 1 with %d)", i + 1, (int)inputs[i][lens[i] - 1], (int)inputs[0][lens[0] - 1]);
            return -1;
        }
        cut[i] = lens[i] - 1;
    }
    *last = inputs[0][lens[0] - 1];
    return 0;
}

int gen_from_ids(Generator *g, const int32_t *const *inputs, const size_t *lens, size_t n_inputs, const GenOptions *o,
                 IntVec *out, Err *err)
{
    if (n_inputs == 0) {
        err_set(err, NULL, 0, "no inputs");
        return -1;
    }
    size_t *cut = xmalloc(size_mul(n_inputs, sizeof *cut));
    int32_t last;
    int rc = split_last(inputs, lens, n_inputs, cut, &last, err);
    if (rc == 0)
        rc = run(g, inputs, cut, n_inputs, &last, 1, o, out, err);
    free(cut);
    return rc;
}

int gen_respond(Generator *g, const char *system, const char *const *inputs, size_t n_inputs, const GenOptions *o,
                StrBuf *out, Err *err)
{
    return gen_respond_ids(g, system, inputs, n_inputs, o, out, NULL, err);
}

int gen_respond_ids(Generator *g, const char *system, const char *const *inputs, size_t n_inputs,
                    const GenOptions *o, StrBuf *out, IntVec *out_ids, Err *err)
{
    if (!g->tok) {
        err_set(err, NULL, 0, "no tokenizer: this model can only generate from token ids");
        return -1;
    }
    if (n_inputs == 0) {
        err_set(err, NULL, 0, "no inputs");
        return -1;
    }
    int rc = -1;
    IntVec *ids = xcalloc(n_inputs, sizeof *ids);
    const int32_t **ptrs = xcalloc(n_inputs, sizeof *ptrs);
    size_t *lens = xcalloc(n_inputs, sizeof *lens), *cut = xcalloc(n_inputs, sizeof *cut);
    IntVec pre = {0}, gen = {0};
    StrBuf text = SB_INIT;
    for (size_t i = 0; i < n_inputs; i++) {
        sb_reset(&text);
        if (g->raw) { /* BOS, then the text as it is (a system text first) */
            if (tok_bos(g->tok) >= 0)
                intvec_push(&ids[i], tok_bos(g->tok));
            if (system)
                sb_addf(&text, "%s\n\n", system);
            sb_adds(&text, inputs[i]);
        } else
            chat_render_prompt(g->tpl, g->tok, system, inputs[i], &text);
        if (tok_encode(g->tok, text.buf, text.len, 1, &ids[i]) < 0) {
            err_set(err, NULL, 0, "cannot encode input %zu", i + 1);
            goto out;
        }
        ptrs[i] = ids[i].v;
        lens[i] = ids[i].n;
    }
    const char *gp = g->raw ? "" : chat_generation_prompt_for(g->tpl, g->tok);
    if (gp[0] && tok_encode(g->tok, gp, strlen(gp), 1, &pre) < 0) {
        err_set(err, NULL, 0, "cannot encode the generation prompt");
        goto out;
    }
    if (pre.n > 0) {
        if (run(g, ptrs, lens, n_inputs, pre.v, pre.n, o, &gen, err) < 0)
            goto out;
    } else {
        int32_t last;
        if (split_last(ptrs, lens, n_inputs, cut, &last, err) < 0 ||
            run(g, ptrs, cut, n_inputs, &last, 1, o, &gen, err) < 0)
            goto out;
    }
    if (tok_decode(g->tok, gen.v, gen.n, 1, out, err) < 0)
        goto out;
    if (out_ids)
        for (size_t i = 0; i < gen.n; i++)
            intvec_push(out_ids, gen.v[i]);
    rc = 0;
out:
    for (size_t i = 0; i < n_inputs; i++)
        intvec_release(&ids[i]);
    free(ids);
    free(ptrs);
    free(lens);
    free(cut);
    intvec_release(&pre);
    intvec_release(&gen);
    sb_release(&text);
    return rc;
}
