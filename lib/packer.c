/*
 * packer.c - sample records -> PackSample (rules in packer.h).
 *
 * Why the output is encoded in context: the model must see, in training,
 * the ids it sees at inference, where prompt and answer are one string.
 * Encoding the answer alone differs for SentencePiece kinds (a leading
 * "▁" is prepended to every encode call: Mistral's "[/INST]Hello" would get
 * "▁Hello" instead of "Hello").  The output is encoded once as the
 * continuation of input 0's rendered prompt; every para input ends with the
 * same end-of-user-turn text, so the output ids are the same after each.
 *
 * Costs: succ encodes the prompt once plus one prefix per chunk boundary
 * (k <= 4 in the paper); the output part costs one encode of prompt +
 * output plus one prefix per segment boundary (2 for a single turn, 3 per
 * extra turn of a conversation).  A sample is thus encoded a few times,
 * which is cheap next to training on it.  Every
 * buffer lives in the Packer and is reused record after record: no
 * allocation in the steady state.
 */
#include "packer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"
#include "sample.h"

struct Packer {
    const Tokenizer *tok;
    ChatTemplate tpl;
    int max_len, vocab;
    PackerStats st;
    IntVec in[PACK_MAX_INPUTS], inpos[PACK_MAX_INPUTS];
    IntVec out, outpos;
    uint8_t *mask;
    size_t mask_cap;
    float weights[PACK_MAX_INPUTS];
    StrBuf id, text, text2, text3;
    int id_given;       /* the id came from the record (not PATH:LINE) */
    StrBuf ctx;                 /* rendered prompt the output follows (input 0 / the succ prompt) */
    StrBuf otext;               /* the output part's text, segment after segment */
    size_t *seg_start;          /* (nseg) byte offsets in otext */
    uint8_t *seg_loss;          /* (nseg) */
    size_t nseg, cap_seg, cap_seg2;
    IntVec whole, prefix, ctxids;
    const char **roles, **contents;
    size_t cap_msgs;
};

/* ---------------------------------------------------------------- setup */

Packer *packer_new(const Tokenizer *tok, ChatTemplate tpl, int max_len, int vocab_size)
{
    Packer *p = xcalloc(1, sizeof *p);
    p->tok = tok;
    p->tpl = tpl;
    p->max_len = max_len > 0 ? max_len : 0;
    p->vocab = vocab_size > 0 ? vocab_size : (tok ? tok_vocab_size(tok) : 0);
    sb_init(&p->id);
    sb_init(&p->text);
    sb_init(&p->text2);
    sb_init(&p->text3);
    sb_init(&p->ctx);
    sb_init(&p->otext);
    return p;
}

void packer_free(Packer *p)
{
    if (!p)
        return;
    for (int i = 0; i < PACK_MAX_INPUTS; i++) {
        intvec_release(&p->in[i]);
        intvec_release(&p->inpos[i]);
    }
    intvec_release(&p->out);
    intvec_release(&p->outpos);
    intvec_release(&p->whole);
    intvec_release(&p->prefix);
    intvec_release(&p->ctxids);
    free(p->mask);
    free(p->roles);
    free(p->contents);
    sb_release(&p->id);
    sb_release(&p->text);
    sb_release(&p->text2);
    sb_release(&p->text3);
    sb_release(&p->ctx);
    sb_release(&p->otext);
    free(p->seg_start);
    free(p->seg_loss);
    free(p);
}

const PackerStats *packer_stats(const Packer *p) { return &p->st; }

int packer_sample_len(const PackSample *s)
{
    return s->out_len > 0 ? s->out_pos[s->out_len - 1] + 1 : 0;
}

/* ---------------------------------------------------------------- helpers */

static void mask_set(Packer *p, size_t i, uint8_t v)
{
    if (i >= p->mask_cap)
        p->mask = grow_array(p->mask, &p->mask_cap, i + 1, 1);
    p->mask[i] = v;
}

static int encode(Packer *p, const char *s, size_t n, IntVec *out, const char *path, long line, Err *err)
{
    if (tok_encode(p->tok, s, n, 1, out) < 0)
        return err_set(err, path, line, "cannot tokenise the text"), -1;
    return 0;
}

/* Append s[0..n) to the output part's text as a segment with loss flag
 * loss (encoded later by finish_output). */
static int out_add(Packer *p, const char *s, size_t n, int loss, const char *path, long line, Err *err)
{
    (void)path, (void)line, (void)err;
    if (!n)
        return 0;
    if (p->nseg == p->cap_seg) {
        size_t c = p->cap_seg;
        p->seg_start = grow_array(p->seg_start, &c, p->nseg + 1, sizeof *p->seg_start);
        p->seg_loss = grow_array(p->seg_loss, &p->cap_seg, p->nseg + 1, 1);
    }
    p->seg_start[p->nseg] = p->otext.len;
    p->seg_loss[p->nseg++] = (uint8_t)loss;
    sb_add(&p->otext, s, n);
    return 0;
}

static size_t common_prefix(const IntVec *a, const IntVec *b);

/* Encode the output segments.  They are encoded in context, as the
 * continuation of p->ctx (whose ids are ctx_ids): full = enc(ctx + output),
 * and segment j starts at the longest common prefix of full and
 * enc(ctx + output before segment j) (a token straddling a boundary goes to
 * the later segment).  So the output ids are exactly those of the
 * single-sequence prompt + answer, which matters for SentencePiece kinds
 * (a piece encoded alone would get a leading "▁").  When enc(ctx) is not a
 * prefix of full (a merge across the prompt/answer boundary), each segment
 * is encoded on its own instead. */
static int finish_output(Packer *p, const IntVec *ctx_ids, const char *path, long line, Err *err)
{
    size_t c0 = ctx_ids->n;
    StrBuf *t = &p->text3;
    sb_reset(t);
    sb_add(t, p->ctx.buf, p->ctx.len);
    sb_add(t, p->otext.buf, p->otext.len);
    p->whole.n = 0;
    if (encode(p, t->buf, t->len, &p->whole, path, line, err) < 0)
        return -1;
    int in_context = p->whole.n >= c0 && !memcmp(p->whole.v, ctx_ids->v, c0 * sizeof *ctx_ids->v);
    size_t prev = c0;
    for (size_t j = 0; j < p->nseg; j++) {
        size_t end = j + 1 < p->nseg ? p->seg_start[j + 1] : p->otext.len, from = p->out.n;
        if (in_context) {
            size_t k = p->whole.n;
            if (j + 1 < p->nseg) {
                p->prefix.n = 0;
                if (encode(p, t->buf, p->ctx.len + end, &p->prefix, path, line, err) < 0)
                    return -1;
                k = common_prefix(&p->whole, &p->prefix);
                if (k < prev)
                    k = prev;
            }
            for (size_t i = prev; i < k; i++)
                intvec_push(&p->out, p->whole.v[i]);
            prev = k;
        } else if (encode(p, p->otext.buf + p->seg_start[j], end - p->seg_start[j], &p->out, path, line, err) < 0)
            return -1;
        for (size_t i = from; i < p->out.n; i++)
            mask_set(p, i, p->seg_loss[j]);
    }
    return 0;
}

static void reset(Packer *p)
{
    for (int i = 0; i < PACK_MAX_INPUTS; i++) {
        p->in[i].n = 0;
        p->inpos[i].n = 0;
    }
    p->out.n = 0;
    p->outpos.n = 0;
    sb_reset(&p->id);
    sb_reset(&p->ctx);
    sb_reset(&p->otext);
    p->nseg = 0;
}

static int mode_of(const cJSON *rec, int n_inputs, int *mode, const char *path, long line, Err *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rec, "mode");
    if (!m) {
        if (n_inputs == 1) {
            *mode = PACK_SFT;
            return 0;
        }
        return err_set(err, path, line, "missing field 'mode' (needed with %d inputs)", n_inputs), -1;
    }
    if (!cJSON_IsString(m))
        return err_set(err, path, line, "field 'mode' must be a string"), -1;
    if (!strcmp(m->valuestring, "sft"))
        *mode = PACK_SFT;
    else if (!strcmp(m->valuestring, "para"))
        *mode = PACK_PARA;
    else if (!strcmp(m->valuestring, "succ"))
        *mode = PACK_SUCC;
    else
        return err_set(err, path, line, "unknown mode '%s' (need sft, para or succ)", m->valuestring), -1;
    if (*mode == PACK_SFT && n_inputs != 1)
        return err_set(err, path, line, "an sft record has %d inputs (need exactly 1)", n_inputs), -1;
    return 0;
}

static int read_weights(Packer *p, const cJSON *rec, int n, int mode, const float **out, const char *path, long line,
                        Err *err)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(rec, "weights");
    *out = NULL;
    if (!w || cJSON_IsNull(w))
        return 0;
    if (mode == PACK_SFT)
        return err_set(err, path, line, "field 'weights' is only for para and succ records"), -1;
    if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != n)
        return err_set(err, path, line, "field 'weights' must be an array of %d numbers (one per input)", n), -1;
    double sum = 0;
    int i = 0;
    for (const cJSON *e = w->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0) || !isfinite(e->valuedouble))
            return err_set(err, path, line, "weights[%d] must be a number >= 0", i), -1;
        p->weights[i] = (float)e->valuedouble;
        sum += e->valuedouble;
    }
    if (fabs(sum - 1.0) > 1e-3)
        return err_set(err, path, line, "field 'weights' sums to %g (need 1)", sum), -1;
    *out = p->weights;
    return 0;
}

static void read_id(Packer *p, const cJSON *rec, const char *path, long line)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    if (!(cJSON_IsString(id) && id->valuestring[0]) && !cJSON_IsNumber(id)) {
        /* no usable id: where the record came from, stable across reruns */
        sb_addf(&p->id, "%s:%ld", path ? path : "<input>", line);
        p->id_given = 0;
        return;
    }
    p->id_given = 1;
    if (cJSON_IsString(id))
        sb_adds(&p->id, id->valuestring);
    else if (cJSON_IsNumber(id)) {
        double v = id->valuedouble;
        if (v == floor(v) && fabs(v) < 9e15)
            sb_addf(&p->id, "%lld", (long long)v);
        else
            sb_addf(&p->id, "%.17g", v);
    }
}

static size_t common_prefix(const IntVec *a, const IntVec *b)
{
    size_t n = a->n < b->n ? a->n : b->n, i = 0;
    while (i < n && a->v[i] == b->v[i])
        i++;
    return i;
}

/* ---------------------------------------------------------------- text records */

static int need_tok(const Packer *p, const char *path, long line, Err *err)
{
    if (!p->tok)
        return err_set(err, path, line, "text record but no tokenizer (give --tokenizer, or pre-tokenised input_ids)"),
               -1;
    return 0;
}

/* The output part of a single-turn sample. */
static int single_output(Packer *p, const char *resp, const char *path, long line, Err *err)
{
    const char *gen = chat_generation_prompt_for(p->tpl, p->tok), *eot = chat_end_of_turn_for(p->tpl, p->tok);
    if (out_add(p, gen, strlen(gen), 0, path, line, err) < 0 || out_add(p, resp, strlen(resp), 1, path, line, err) < 0 ||
        out_add(p, eot, strlen(eot), 1, path, line, err) < 0)
        return -1;
    return 0;
}

/* succ: render the whole instruction once, cut its ids at the chunk
 * boundaries (see packer.h). */
static int succ_inputs(Packer *p, const char *system, const char *const *chunks, int n, const char *path, long line,
                       Err *err)
{
    static const char MARK[] = "\x01\x02miso-user-text\x02\x01";
    StrBuf *cat = &p->text, *full = &p->text2, *mk = &p->text3;
    sb_reset(cat);
    sb_reset(full);
    sb_reset(mk);
    size_t start[PACK_MAX_INPUTS];
    for (int i = 0; i < n; i++) {
        start[i] = cat->len;
        sb_adds(cat, chunks[i]);
    }
    chat_render_prompt(p->tpl, p->tok, system, cat->buf, full);
    chat_render_prompt(p->tpl, p->tok, system, MARK, mk);
    /* where the user text sits in the rendering: pre + user' + suf */
    const char *m = strstr(mk->buf, MARK);
    if (!m)
        return err_set(err, path, line, "cannot locate the user turn in the chat template"), -1;
    size_t pre = (size_t)(m - mk->buf), suf = mk->len - pre - (sizeof MARK - 1);
    if (pre + suf > full->len || memcmp(full->buf, mk->buf, pre) ||
        memcmp(full->buf + full->len - suf, mk->buf + mk->len - suf, suf))
        return err_set(err, path, line, "cannot locate the user turn in the chat template"), -1;
    size_t ulen = full->len - pre - suf, lead = 0;
    if (ulen) { /* templates may trim the content: find where it starts */
        const char *at = memmem(cat->buf, cat->len, full->buf + pre, ulen);
        lead = at ? (size_t)(at - cat->buf) : 0;
    }
    p->whole.n = 0;
    if (encode(p, full->buf, full->len, &p->whole, path, line, err) < 0)
        return -1;
    sb_add(&p->ctx, full->buf, full->len);
    size_t total = p->whole.n;
    if (total < (size_t)n)
        return err_set(err, path, line, "the prompt has %zu tokens, fewer than its %d chunks", total, n), -1;
    size_t cut[PACK_MAX_INPUTS + 1];
    cut[0] = 0;
    for (int i = 1; i < n; i++) {
        size_t b = start[i] > lead ? start[i] - lead : 0;
        if (b > ulen)
            b = ulen;
        p->prefix.n = 0;
        if (encode(p, full->buf, pre + b, &p->prefix, path, line, err) < 0)
            return -1;
        size_t k = common_prefix(&p->whole, &p->prefix);
        if (k < cut[i - 1] + 1)
            k = cut[i - 1] + 1;
        if (k > total - (size_t)(n - i))
            k = total - (size_t)(n - i);
        cut[i] = k;
    }
    cut[n] = total;
    int32_t pos = 0;
    for (int i = 0; i < n; i++)
        for (size_t t = cut[i]; t < cut[i + 1]; t++) {
            intvec_push(&p->in[i], p->whole.v[t]);
            intvec_push(&p->inpos[i], pos++);
        }
    return 0;
}

static int text_record(Packer *p, const cJSON *rec, const cJSON *inputs, int *mode, const float **weights,
                       const char *path, long line, Err *err)
{
    if (!cJSON_IsArray(inputs))
        return err_set(err, path, line, "field 'inputs' must be an array of strings"), -1;
    int n = cJSON_GetArraySize(inputs);
    if (n < 1 || n > PACK_MAX_INPUTS)
        return err_set(err, path, line, "field 'inputs' has %d entries (need 1..%d)", n, PACK_MAX_INPUTS), -1;
    const char *in[PACK_MAX_INPUTS];
    int i = 0;
    for (const cJSON *e = inputs->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e))
            return err_set(err, path, line, "inputs[%d] must be a string", i), -1;
        if (!e->valuestring[0])
            return err_set(err, path, line, "inputs[%d] is empty", i), -1;
        in[i] = e->valuestring;
    }
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(rec, "output");
    if (!o)
        return err_set(err, path, line, "missing field 'output'"), -1;
    if (!cJSON_IsString(o))
        return err_set(err, path, line, "field 'output' must be a string"), -1;
    if (!o->valuestring[0])
        return err_set(err, path, line, "field 'output' is empty"), -1;
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(rec, "system");
    if (sys && !cJSON_IsNull(sys) && !cJSON_IsString(sys))
        return err_set(err, path, line, "field 'system' must be a string"), -1;
    const char *system = cJSON_IsString(sys) && sys->valuestring[0] ? sys->valuestring : NULL;
    if (mode_of(rec, n, mode, path, line, err) < 0 || read_weights(p, rec, n, *mode, weights, path, line, err) < 0 ||
        need_tok(p, path, line, err) < 0)
        return -1;
    if (*mode == PACK_SUCC) {
        if (succ_inputs(p, system, in, n, path, line, err) < 0)
            return -1;
    } else {
        for (i = 0; i < n; i++) {
            sb_reset(&p->text);
            chat_render_prompt(p->tpl, p->tok, system, in[i], &p->text);
            if (encode(p, p->text.buf, p->text.len, &p->in[i], path, line, err) < 0)
                return -1;
            if (i == 0)
                sb_add(&p->ctx, p->text.buf, p->text.len);
            for (size_t t = 0; t < p->in[i].n; t++)
                intvec_push(&p->inpos[i], (int32_t)t);
            if (!p->in[i].n)
                return err_set(err, path, line, "input %d renders to no token", i), -1;
        }
    }
    if (single_output(p, o->valuestring, path, line, err) < 0)
        return -1;
    if (*mode == PACK_SUCC) { /* the chunks' ids are the prompt's ids */
        p->ctxids.n = 0;
        for (i = 0; i < n; i++)
            for (size_t t = 0; t < p->in[i].n; t++)
                intvec_push(&p->ctxids, p->in[i].v[t]);
        if (finish_output(p, &p->ctxids, path, line, err) < 0)
            return -1;
    } else if (finish_output(p, &p->in[0], path, line, err) < 0)
        return -1;
    return n;
}

/* Multi-turn sft (layout in packer.h). */
static int messages_record(Packer *p, const cJSON *rec, const cJSON *msgs, int *mode, const char *path, long line,
                           Err *err)
{
    if (!cJSON_IsArray(msgs))
        return err_set(err, path, line, "field 'messages' must be an array"), -1;
    size_t n = (size_t)cJSON_GetArraySize(msgs);
    if (n > p->cap_msgs) {
        size_t c1 = p->cap_msgs;
        p->roles = grow_array(p->roles, &c1, n, sizeof *p->roles);
        p->contents = grow_array(p->contents, &p->cap_msgs, n, sizeof *p->contents);
    }
    size_t i = 0, first_user = n, last_asst = n;
    for (const cJSON *e = msgs->child; e; e = e->next, i++) {
        const char *role = json_str(e, "role"), *content = json_str(e, "content");
        if (!role || !content)
            return err_set(err, path, line, "messages[%zu] needs string fields 'role' and 'content'", i), -1;
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
            return err_set(err, path, line, "messages[%zu]: unknown role '%s'", i, role), -1;
        p->roles[i] = role;
        p->contents[i] = content;
        if (!strcmp(role, "user") && first_user == n)
            first_user = i;
        if (!strcmp(role, "assistant") && first_user < n)
            last_asst = i;
    }
    if (first_user == n)
        return err_set(err, path, line, "field 'messages' has no user turn"), -1;
    if (last_asst == n)
        return err_set(err, path, line, "field 'messages' has no assistant turn after the first user turn"), -1;
    if (!p->contents[last_asst][0])
        return err_set(err, path, line, "the last assistant message is empty"), -1;
    if (mode_of(rec, 1, mode, path, line, err) < 0)
        return -1;
    if (*mode != PACK_SFT)
        return err_set(err, path, line, "a 'messages' record must be sft"), -1;
    if (need_tok(p, path, line, err) < 0)
        return -1;
    StrBuf *prev = &p->text, *cur = &p->text2;
    sb_reset(prev);
    chat_render_messages(p->tpl, p->tok, p->roles, p->contents, first_user + 1, 0, prev);
    if (encode(p, prev->buf, prev->len, &p->in[0], path, line, err) < 0)
        return -1;
    sb_add(&p->ctx, prev->buf, prev->len);
    for (size_t t = 0; t < p->in[0].n; t++)
        intvec_push(&p->inpos[0], (int32_t)t);
    const char *gen = chat_generation_prompt_for(p->tpl, p->tok), *eot = chat_end_of_turn_for(p->tpl, p->tok);
    size_t glen = strlen(gen), elen = strlen(eot);
    for (size_t k = first_user + 1; k <= last_asst; k++) {
        sb_reset(cur);
        chat_render_messages(p->tpl, p->tok, p->roles, p->contents, k + 1, 0, cur);
        if (cur->len < prev->len || memcmp(cur->buf, prev->buf, prev->len))
            return err_set(err, path, line, "chat template '%s' is not prefix-stable at message %zu",
                           chat_template_name(p->tpl), k), -1;
        const char *d = cur->buf + prev->len;
        size_t dn = cur->len - prev->len;
        if (strcmp(p->roles[k], "assistant")) {
            if (out_add(p, d, dn, 0, path, line, err) < 0)
                return -1;
        } else {
            if (glen && dn >= glen && !memcmp(d, gen, glen)) {
                if (out_add(p, d, glen, 0, path, line, err) < 0)
                    return -1;
                d += glen;
                dn -= glen;
            }
            size_t lossn = dn; /* up to the end of the last end-of-turn */
            for (size_t j = dn >= elen && elen ? dn - elen + 1 : 0; elen && j-- > 0;)
                if (!memcmp(d + j, eot, elen)) {
                    lossn = j + elen;
                    break;
                }
            if (out_add(p, d, lossn, 1, path, line, err) < 0)
                return -1;
            if (k < last_asst && out_add(p, d + lossn, dn - lossn, 0, path, line, err) < 0)
                return -1;
        }
        StrBuf *t = prev;
        prev = cur;
        cur = t;
    }
    return finish_output(p, &p->in[0], path, line, err) < 0 ? -1 : 1;
}

/* ---------------------------------------------------------------- pre-tokenised */

static int read_ids(const cJSON *a, IntVec *out, const char *what, int vocab, const char *path, long line, Err *err)
{
    if (!cJSON_IsArray(a))
        return err_set(err, path, line, "%s must be an array of token ids", what), -1;
    int t = 0;
    for (const cJSON *e = a->child; e; e = e->next, t++) {
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1.5;
        if (v != floor(v) || v < 0 || v > INT32_MAX)
            return err_set(err, path, line, "%s[%d] is not a token id", what, t), -1;
        if (vocab > 0 && v >= vocab)
            return err_set(err, path, line, "%s[%d]: id %.0f outside the vocabulary (%d)", what, t, v, vocab), -1;
        intvec_push(out, (int32_t)v);
    }
    if (!out->n)
        return err_set(err, path, line, "%s is empty", what), -1;
    return 0;
}

static int ids_record(Packer *p, const cJSON *rec, const cJSON *inputs, int *mode, const float **weights,
                      const char *path, long line, Err *err)
{
    if (!cJSON_IsArray(inputs))
        return err_set(err, path, line, "field 'input_ids' must be an array of id arrays"), -1;
    int n = cJSON_GetArraySize(inputs);
    if (n < 1 || n > PACK_MAX_INPUTS)
        return err_set(err, path, line, "field 'input_ids' has %d entries (need 1..%d)", n, PACK_MAX_INPUTS), -1;
    if (mode_of(rec, n, mode, path, line, err) < 0 || read_weights(p, rec, n, *mode, weights, path, line, err) < 0)
        return -1;
    int i = 0;
    char what[48];
    for (const cJSON *e = inputs->child; e; e = e->next, i++) {
        snprintf(what, sizeof what, "input_ids[%d]", i);
        if (read_ids(e, &p->in[i], what, p->vocab, path, line, err) < 0)
            return -1;
    }
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(rec, "output_ids");
    if (!o)
        return err_set(err, path, line, "missing field 'output_ids'"), -1;
    if (read_ids(o, &p->out, "output_ids", p->vocab, path, line, err) < 0)
        return -1;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rec, "output_loss_mask");
    if (m) {
        if (!cJSON_IsArray(m) || (size_t)cJSON_GetArraySize(m) != p->out.n)
            return err_set(err, path, line, "field 'output_loss_mask' must be an array of %zu zeros and ones",
                           p->out.n), -1;
        size_t j = 0;
        for (const cJSON *e = m->child; e; e = e->next, j++) {
            if (!cJSON_IsNumber(e) || (e->valuedouble != 0 && e->valuedouble != 1))
                return err_set(err, path, line, "output_loss_mask[%zu] must be 0 or 1", j), -1;
            mask_set(p, j, (uint8_t)e->valuedouble);
        }
        if (p->mask[0])
            return err_set(err, path, line,
                           "output_loss_mask[0] must be 0 (the first output token has no output position to be "
                           "predicted from)"), -1;
    } else {
        for (size_t j = 0; j < p->out.n; j++)
            mask_set(p, j, j > 0);
    }
    int32_t pos = 0;
    for (i = 0; i < n; i++)
        for (size_t t = 0; t < p->in[i].n; t++)
            intvec_push(&p->inpos[i], *mode == PACK_PARA ? (int32_t)t : pos++);
    return n;
}

/* ---------------------------------------------------------------- driver */

/* A template whose generation prompt is empty (mistral: "[/INST]" ends the
 * user turn, the answer follows at once) would leave the first response
 * token unsupervised, since loss_mask[0] is 0.  When every input ends with
 * the same token, that token is moved to the front of the output part
 * instead (loss 0), so the first response token is predicted from it and
 * sees all inputs.  Positions are assigned afterwards, so they stay
 * consistent. */
static void borrow_last_input_token(Packer *p, int mode, int n)
{
    if (!p->mask[0])
        return;
    int32_t last = -1;
    for (int i = mode == PACK_SUCC ? n - 1 : 0; i < n; i++) { /* succ: only the last chunk ends the prompt */
        if (p->in[i].n < 2)
            return;
        int32_t t = p->in[i].v[p->in[i].n - 1];
        if (last >= 0 && t != last)
            return;
        last = t;
    }
    intvec_push(&p->out, 0);
    memmove(p->out.v + 1, p->out.v, (p->out.n - 1) * sizeof *p->out.v);
    p->out.v[0] = last;
    mask_set(p, p->out.n - 1, 0);
    memmove(p->mask + 1, p->mask, p->out.n - 1);
    p->mask[0] = 0;
    for (int i = mode == PACK_SUCC ? n - 1 : 0; i < n; i++) {
        p->in[i].n--;
        p->inpos[i].n--;
    }
}

int packer_next(Packer *p, const cJSON *rec, const char *path, long line, PackSample *s, Err *err)
{
    reset(p);
    int mode = PACK_SFT, n;
    const float *weights = NULL;
    const cJSON *v;
    if (!cJSON_IsObject(rec))
        return err_set(err, path, line, "record is not an object"), -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(rec, "input_ids")))
        n = ids_record(p, rec, v, &mode, &weights, path, line, err);
    else if ((v = cJSON_GetObjectItemCaseSensitive(rec, "messages")))
        n = messages_record(p, rec, v, &mode, path, line, err);
    else if ((v = cJSON_GetObjectItemCaseSensitive(rec, "inputs")))
        n = text_record(p, rec, v, &mode, &weights, path, line, err);
    else
        return err_set(err, path, line, "missing field 'inputs' (or 'messages', or pre-tokenised 'input_ids')"), -1;
    if (n < 0)
        return -1;
    if (!p->out.n)
        return err_set(err, path, line, "the output renders to no token"), -1;
    if (!v->string || strcmp(v->string, "input_ids"))
        borrow_last_input_token(p, mode, n);
    mask_set(p, 0, 0);
    /* output positions */
    int32_t start = 0;
    for (int i = 0; i < n; i++) {
        int32_t end = p->in[i].n ? p->inpos[i].v[p->in[i].n - 1] + 1 : 0;
        if (end > start)
            start = end;
    }
    for (size_t j = 0; j < p->out.n; j++)
        intvec_push(&p->outpos, start + (int32_t)j);
    read_id(p, rec, path, line);

    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->n_inputs = n;
    for (int i = 0; i < n; i++) {
        s->in_len[i] = (int)p->in[i].n;
        s->in_ids[i] = p->in[i].v;
        s->in_pos[i] = p->inpos[i].v;
    }
    s->out_len = (int)p->out.n;
    s->out_ids = p->out.v;
    s->out_pos = p->outpos.v;
    s->loss_mask = p->mask;
    s->weights = weights;
    s->id = p->id.buf;
    s->id_len = (int)p->id.len;

    int len = packer_sample_len(s);
    if (len > p->st.max_len_seen)
        p->st.max_len_seen = len;
    if (p->max_len && len > p->max_len) {
        int keep = p->max_len - start, sup = 0;
        for (int j = 1; j < keep && j < s->out_len; j++)
            sup += s->loss_mask[j];
        if (keep < 2 || !sup) {
            p->st.dropped++;
            return err_set(err, path, line,
                           "sample%s%s%s dropped: its inputs need %d positions, --max-len %d leaves no "
                           "supervised output token",
                           p->id_given ? " '" : "", p->id_given ? p->id.buf : "", p->id_given ? "'" : "",
                           (int)start, p->max_len), 0;
        }
        p->st.truncated++;
        p->st.truncated_tokens += (uint64_t)(s->out_len - keep);
        s->out_len = keep;
    }
    Err e2;
    if (pack_validate(s, p->vocab, &e2) < 0)
        return err_set(err, path, line, "%s", e2.msg), -1;

    p->st.samples++;
    p->st.by_mode[mode]++;
    p->st.inputs += (uint64_t)n;
    if (n > p->st.max_inputs)
        p->st.max_inputs = n;
    for (int i = 0; i < n; i++)
        p->st.input_tokens += (uint64_t)s->in_len[i];
    p->st.output_tokens += (uint64_t)s->out_len;
    for (int j = 0; j < s->out_len; j++)
        p->st.loss_tokens += s->loss_mask[j];
    return 1;
}

/* ---------------------------------------------------------------- JSONL export */

static void add_ints(StrBuf *b, const int32_t *v, int n, int *first)
{
    for (int i = 0; i < n; i++) {
        if (!*first)
            sb_addc(b, ',');
        *first = 0;
        sb_addf(b, "%d", (int)v[i]);
    }
}

int packer_write_jsonl(FILE *f, const PackSample *s, StrBuf *b)
{
    static const char *const MODES[] = {"sft", "para", "succ"};
    sb_reset(b);
    sb_adds(b, "{\"id\":");
    json_add_string(b, s->id ? s->id : "", (size_t)s->id_len);
    sb_addf(b, ",\"mode\":\"%s\",\"input_ids\":[", MODES[s->mode]);
    int first = 1;
    for (int i = 0; i < s->n_inputs; i++)
        add_ints(b, s->in_ids[i], s->in_len[i], &first);
    add_ints(b, s->out_ids, s->out_len, &first);
    sb_adds(b, "],\"position_ids\":[");
    first = 1;
    for (int i = 0; i < s->n_inputs; i++)
        add_ints(b, s->in_pos[i], s->in_len[i], &first);
    add_ints(b, s->out_pos, s->out_len, &first);
    sb_adds(b, "],\"segment_ids\":[");
    first = 1;
    for (int i = 0; i <= s->n_inputs; i++) {
        int len = i < s->n_inputs ? s->in_len[i] : s->out_len;
        for (int t = 0; t < len; t++) {
            sb_addf(b, first ? "%d" : ",%d", i + 1);
            first = 0;
        }
    }
    sb_adds(b, "],\"labels\":[");
    first = 1;
    for (int i = 0; i < s->n_inputs; i++)
        for (int t = 0; t < s->in_len[i]; t++) {
            sb_adds(b, first ? "-100" : ",-100");
            first = 0;
        }
    for (int j = 0; j < s->out_len; j++) {
        sb_addf(b, first ? "%d" : ",%d", s->loss_mask[j] ? (int)s->out_ids[j] : -100);
        first = 0;
    }
    sb_addc(b, ']');
    if (s->weights) {
        sb_adds(b, ",\"weights\":[");
        for (int i = 0; i < s->n_inputs; i++)
            sb_addf(b, i ? ",%.9g" : "%.9g", (double)s->weights[i]);
        sb_addc(b, ']');
    }
    sb_adds(b, "}\n");
    return fwrite(b->buf, 1, b->len, f) == b->len ? 0 : -1;
}
