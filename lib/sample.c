/*
 * sample.c - reading instruction records and writing samples.
 *
 * The writer does not build a cJSON tree for the output and print it:
 * crab-split and miso-chunk spend most of their time in JSON text, and a
 * record's inputs are large strings already in hand.  We append the JSON
 * text straight into one reusable buffer with our own escaper (a table of
 * the bytes that need escaping) and write it with one fwrite, so nothing is
 * allocated per record once the buffers have grown.  Fields passed through
 * from the source record are printed from their cJSON nodes by the same
 * escaper.
 */
#include "sample.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* ---------------------------------------------------------------- JSON text */

static const char hexd[] = "0123456789abcdef";

void json_add_string(StrBuf *out, const char *s, size_t n)
{
    sb_grow(out, n + 2);
    sb_addc(out, '"');
    size_t run = 0, i = 0;
    while (i < n) {
        /* measured: 8 bytes at a time took the writer from 20% to about 8%
         * of miso-chunk's time on the bench file */
        i += json_plain_span(s + i, n - i, 0);
        if (i >= n)
            break;
        unsigned char ch = (unsigned char)s[i];
        sb_add(out, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t k = 2;
        switch (ch) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\t': e[1] = 't'; break;
        case '\r': e[1] = 'r'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hexd[ch >> 4], e[5] = hexd[ch & 15];
            k = 6;
        }
        sb_add(out, e, k);
        i++;
    }
    sb_add(out, s + run, n - run);
    sb_addc(out, '"');
}

static void add_number(StrBuf *out, double d)
{
    char tmp[32];
    if (isnan(d) || isinf(d)) {
        sb_adds(out, "null");
        return;
    }
    if (d == (double)(long long)d && fabs(d) < 9.007199254740992e15) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)d);
    } else {
        snprintf(tmp, sizeof tmp, "%.15g", d);
        if (strtod(tmp, NULL) != d)
            snprintf(tmp, sizeof tmp, "%.17g", d);
    }
    sb_adds(out, tmp);
}

void json_add_value(StrBuf *out, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        json_add_string(out, v->valuestring, strlen(v->valuestring));
    } else if (cJSON_IsNumber(v)) {
        add_number(out, v->valuedouble);
    } else if (cJSON_IsTrue(v)) {
        sb_adds(out, "true");
    } else if (cJSON_IsFalse(v)) {
        sb_adds(out, "false");
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v);
        sb_addc(out, obj ? '{' : '[');
        for (const cJSON *e = v->child; e; e = e->next) {
            if (e != v->child)
                sb_addc(out, ',');
            if (obj) {
                json_add_string(out, e->string, strlen(e->string));
                sb_addc(out, ':');
            }
            json_add_value(out, e);
        }
        sb_addc(out, obj ? '}' : ']');
    } else if (cJSON_IsRaw(v)) {
        sb_adds(out, v->valuestring);
    } else {
        sb_adds(out, "null");
    }
}

/* ------------------------------------------------------- raw pass-through */

/* Fields the tools do not read are copied from the record's JSON text, not
 * printed back from cJSON: cJSON keeps numbers as doubles (9.0 -> 9, digits
 * beyond 2^53 lost) and cuts strings at an escaped NUL.  The text was
 * validated by cJSON already, so the scanner below only has to find where
 * each top-level member's value starts and ends. */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* End of the JSON string starting at t[i] == '"' (index after the quote). */
static size_t raw_string_end(const char *t, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        i += json_plain_span(t + i, n - i, 0); /* past plain text */
        if (i >= n)
            break;
        if (t[i] == '\\')
            i++;
        else if (t[i] == '"')
            return i + 1;
    }
    return n;
}

/* End of the JSON value starting at t[i]. */
static size_t raw_value_end(const char *t, size_t n, size_t i)
{
    if (i >= n)
        return n;
    if (t[i] == '"')
        return raw_string_end(t, n, i);
    if (t[i] == '{' || t[i] == '[') {
        int depth = 0;
        while (i < n) {
            char c = t[i];
            if (c == '"') {
                i = raw_string_end(t, n, i);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return n;
    }
    while (i < n && !is_blank(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']')
        i++;
    return i;
}

/* The next top-level member of the object text t[0..n) from *pos (0 at the
 * start): its value is t[*vb..*ve).  1, or 0 at the end or on surprise. */
static int raw_member(const char *t, size_t n, size_t *pos, size_t *kb, size_t *ke, size_t *vb, size_t *ve)
{
    size_t i = *pos;
    if (i == 0) {
        if (n == 0 || t[0] != '{')
            return 0;
        i = 1;
    }
    while (i < n && (is_blank(t[i]) || t[i] == ','))
        i++;
    if (i >= n || t[i] != '"')
        return 0;
    *kb = i;
    *ke = i = raw_string_end(t, n, i);
    while (i < n && is_blank(t[i]))
        i++;
    if (i >= n || t[i] != ':')
        return 0;
    i++;
    while (i < n && is_blank(t[i]))
        i++;
    *vb = i;
    *ve = i = raw_value_end(t, n, i);
    *pos = i;
    return *ve > *vb;
}

/* Append the value text t[b..e) without the blanks between its tokens.
 * cJSON lets raw control characters through inside strings; they are
 * escaped here so the output is strict JSON. */
static void raw_add_compact(StrBuf *out, const char *t, size_t b, size_t e)
{
    size_t run = b;
    int instr = 0;
    for (size_t i = b; i < e; i++) {
        if (instr) {
            i += json_plain_span(t + i, e - i, 0);
            if (i >= e)
                break;
        }
        unsigned char c = (unsigned char)t[i];
        if (instr) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                instr = 0;
            } else if (c < 0x20) {
                sb_add(out, t + run, i - run);
                sb_addf(out, "\\u%04x", c);
                run = i + 1;
            }
        } else if (c == '"') {
            instr = 1;
        } else if (is_blank((char)c)) {
            sb_add(out, t + run, i - run);
            run = i + 1;
        }
    }
    sb_add(out, t + run, e - run);
}

/* Are the escapes in the strings of t[b..e) all valid JSON ones?  cJSON
 * accepts some that are not ("\u00.0"); such a member is printed from its
 * cJSON node instead of copied. */
/* Cursor over the members of s->rec in step with its raw text: cJSON keeps
 * members (duplicates too) in text order, so the k-th child is the k-th
 * member.  Once the scanner disagrees, the rest is printed from cJSON. */
typedef struct {
    const char *t;
    size_t n, pos;
    /* the first pass remembers up to RAW_CACHE member spans, so the second
     * pass (pass-through fields after meta) does not scan the text again */
    size_t span[32][4];
    size_t nspan, next, pos_after_cache;
    int replay;
} RawCursor;

#define RAW_CACHE 32

static int raw_next(RawCursor *rc, size_t *kb, size_t *ke, size_t *vb, size_t *ve)
{
    if (rc->replay && rc->next < rc->nspan) {
        size_t *c = rc->span[rc->next++];
        *kb = c[0], *ke = c[1], *vb = c[2], *ve = c[3];
        if (rc->next == rc->nspan)
            rc->pos = rc->pos_after_cache;
        return 1;
    }
    if (!raw_member(rc->t, rc->n, &rc->pos, kb, ke, vb, ve))
        return 0;
    if (!rc->replay && rc->nspan < RAW_CACHE) {
        size_t *c = rc->span[rc->nspan++];
        c[0] = *kb, c[1] = *ke, c[2] = *vb, c[3] = *ve;
        rc->pos_after_cache = rc->pos;
    }
    return 1;
}

/* Start the second pass over the same members. */
static void raw_rewind(RawCursor *rc, const char *t)
{
    rc->t = t;
    rc->replay = 1;
    rc->next = 0;
    if (rc->nspan == 0)
        rc->pos = 0;
}

/* Skip (want 0) or append the value (want 1) or "key":value (want 2) of
 * the next member, e. */
static void raw_value(StrBuf *out, RawCursor *rc, const cJSON *e, int want)
{
    size_t kb, ke, vb, ve;
    if (rc->t && raw_next(rc, &kb, &ke, &vb, &ve)) {
        /* lib/jsonl refused records with non-JSON escapes, so the text
         * can be copied as it is. */
        if (want == 2) {
            raw_add_compact(out, rc->t, kb, ke);
            sb_addc(out, ':');
        }
        if (want)
            raw_add_compact(out, rc->t, vb, ve);
        return;
    }
    rc->t = NULL;
    if (want == 2) {
        json_add_string(out, e->string, strlen(e->string));
        sb_addc(out, ':');
    }
    if (want)
        json_add_value(out, e);
}

/* Does the JSON text t[b..e) hold a \u0000 escape inside a string? */
static int raw_has_nul(const char *t, size_t b, size_t e)
{
    int instr = 0;
    for (size_t i = b; i < e; i++) {
        if (!instr) {
            instr = t[i] == '"';
        } else if (t[i] == '"') {
            instr = 0;
        } else if (t[i] == '\\') {
            if (i + 5 < e && t[i + 1] == 'u' && !memcmp(t + i + 2, "0000", 4))
                return 1;
            i++;
        }
    }
    return 0;
}

const char *sample_raw_nul(const char *raw, size_t len, const cJSON *rec, const char *const *keys, size_t nkeys,
                           const char *const *keys2, size_t nkeys2)
{
    size_t pos = 0, kb, ke, vb, ve;
    for (const cJSON *e = rec ? rec->child : NULL; e && raw; e = e->next) {
        if (!raw_member(raw, len, &pos, &kb, &ke, &vb, &ve))
            return NULL;
        if (!e->string)
            continue;
        int used = !strcmp(e->string, "id");
        for (size_t i = 0; !used && i < nkeys; i++)
            used = !strcmp(e->string, keys[i]);
        for (size_t i = 0; !used && i < nkeys2; i++)
            used = !strcmp(e->string, keys2[i]);
        if (used && raw_has_nul(raw, vb, ve))
            return e->string;
    }
    return NULL;
}

/* ---------------------------------------------------------------- Conv */

void conv_init(Conv *c)
{
    memset(c, 0, sizeof *c);
    sb_init(&c->joined);
}

void conv_release(Conv *c)
{
    free(c->turns);
    sb_release(&c->joined);
    conv_init(c);
}

static void add_turn(Conv *c, const char *role, const char *content, size_t len)
{
    c->turns = grow_array(c->turns, &c->capTurns, c->nTurns + 1, sizeof *c->turns);
    c->turns[c->nTurns].role = role;
    c->turns[c->nTurns].content = content;
    c->turns[c->nTurns].len = len;
    c->nTurns++;
}

static const cJSON *get_field(const cJSON *rec, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(rec, key);
}

/* A required string field: the string, or NULL with err filled. */
static const char *need_string(const cJSON *rec, const char *key, const char *path, long line, Err *err)
{
    const cJSON *v = get_field(rec, key);
    if (!v) {
        err_set(err, path, line, "missing field '%s'", key);
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        err_set(err, path, line, "field '%s' must be a string", key);
        return NULL;
    }
    return v->valuestring;
}

/* An optional string field: 0 (absent: *out NULL, or present), -1 if mistyped. */
static int opt_string(const cJSON *rec, const char *key, const char **out, const char *path, long line,
                      Err *err)
{
    const cJSON *v = get_field(rec, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v)) {
        err_set(err, path, line, "field '%s' must be a string", key);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

static const char *sharegpt_role(const char *from)
{
    static const char *const user[] = {"human", "user"};
    static const char *const asst[] = {"gpt", "chatgpt", "bing", "bard", "assistant"};
    for (size_t i = 0; i < sizeof user / sizeof *user; i++)
        if (!strcmp(from, user[i]))
            return "user";
    for (size_t i = 0; i < sizeof asst / sizeof *asst; i++)
        if (!strcmp(from, asst[i]))
            return "assistant";
    if (!strcmp(from, "system"))
        return "system";
    return NULL;
}

static int read_turn_array(Conv *c, const cJSON *arr, const char *key, const char *rkey, const char *ckey,
                           const char *path, long line, Err *err)
{
    if (!cJSON_IsArray(arr)) {
        err_set(err, path, line, "field '%s' must be an array", key);
        return -1;
    }
    int i = 0;
    for (const cJSON *t = arr->child; t; t = t->next, i++) {
        if (!cJSON_IsObject(t)) {
            err_set(err, path, line, "field '%s[%d]' must be an object", key, i);
            return -1;
        }
        const cJSON *r = get_field(t, rkey), *v = get_field(t, ckey);
        if (!r || !v) {
            err_set(err, path, line, "missing field '%s[%d].%s'", key, i, !r ? rkey : ckey);
            return -1;
        }
        if (!cJSON_IsString(r) || !cJSON_IsString(v)) {
            err_set(err, path, line, "field '%s[%d].%s' must be a string", key, i,
                    !cJSON_IsString(r) ? rkey : ckey);
            return -1;
        }
        const char *role;
        if (!strcmp(key, "conversations")) {
            role = sharegpt_role(r->valuestring);
        } else {
            role = !strcmp(r->valuestring, "user") ? "user"
                   : !strcmp(r->valuestring, "assistant") ? "assistant"
                   : !strcmp(r->valuestring, "system") ? "system"
                                                         : NULL;
        }
        if (!role) {
            err_set(err, path, line, "unknown role '%s' in '%s[%d]'", r->valuestring, key, i);
            return -1;
        }
        add_turn(c, role, v->valuestring, strlen(v->valuestring));
    }
    return 0;
}

/* Substitute {input} and {reasoning} in tmpl. */
static void render_think(StrBuf *out, const char *tmpl, const char *input, const char *reasoning)
{
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "{input}", 7)) {
            sb_adds(out, input);
            p += 7;
        } else if (!strncmp(p, "{reasoning}", 11)) {
            sb_adds(out, reasoning);
            p += 11;
        } else {
            sb_addc(out, *p++);
        }
    }
}

static int read_alpaca(Conv *c, const cJSON *rec, const char *path, long line, Err *err)
{
    const char *ins = need_string(rec, "instruction", path, line, err);
    if (!ins)
        return -1;
    const char *input, *sys;
    if (opt_string(rec, "input", &input, path, line, err) < 0 || opt_string(rec, "system", &sys, path, line, err) < 0)
        return -1;
    const char *out = need_string(rec, "output", path, line, err);
    if (!out)
        return -1;
    const cJSON *hist = get_field(rec, "history");
    if (sys)
        add_turn(c, "system", sys, strlen(sys));
    if (hist && !cJSON_IsNull(hist)) {
        if (!cJSON_IsArray(hist)) {
            err_set(err, path, line, "field 'history' must be an array");
            return -1;
        }
        int i = 0;
        for (const cJSON *h = hist->child; h; h = h->next, i++) {
            if (cJSON_GetArraySize(h) != 2 || !cJSON_IsString(h->child) || !cJSON_IsString(h->child->next)) {
                err_set(err, path, line, "field 'history[%d]' must be a [question, answer] pair of strings", i);
                return -1;
            }
            add_turn(c, "user", h->child->valuestring, strlen(h->child->valuestring));
            add_turn(c, "assistant", h->child->next->valuestring, strlen(h->child->next->valuestring));
        }
    }
    sb_adds(&c->joined, ins);
    if (input && *input) {
        sb_addc(&c->joined, '\n');
        sb_adds(&c->joined, input);
    }
    add_turn(c, "user", NULL, c->joined.len);  /* content set once joined is final */
    c->turns[c->nTurns - 1].content = c->joined.buf;
    add_turn(c, "assistant", out, strlen(out));
    c->consumed[c->nConsumed++] = "instruction";
    c->consumed[c->nConsumed++] = "input";
    c->consumed[c->nConsumed++] = "output";
    c->consumed[c->nConsumed++] = "system";
    c->consumed[c->nConsumed++] = "history";
    return 0;
}

int conv_read(Conv *c, const cJSON *rec, const char *think_template, const char *path, long line, Err *err)
{
    c->nTurns = 0;
    c->nConsumed = 0;
    sb_reset(&c->joined);
    const cJSON *v;
    if ((v = get_field(rec, "messages"))) {
        c->shape = CONV_MESSAGES;
        c->consumed[c->nConsumed++] = "messages";
        if (read_turn_array(c, v, "messages", "role", "content", path, line, err) < 0)
            return -1;
    } else if ((v = get_field(rec, "conversations"))) {
        c->shape = CONV_SHAREGPT;
        c->consumed[c->nConsumed++] = "conversations";
        if (read_turn_array(c, v, "conversations", "from", "value", path, line, err) < 0)
            return -1;
        const char *sys;
        if (opt_string(rec, "system", &sys, path, line, err) < 0)
            return -1;
        if (sys) {
            /* ShareGPT keeps the system prompt beside the turns: put it first. */
            add_turn(c, "system", sys, strlen(sys));
            memmove(c->turns + 1, c->turns, (c->nTurns - 1) * sizeof *c->turns);
            c->turns[0].role = "system", c->turns[0].content = sys, c->turns[0].len = strlen(sys);
            c->consumed[c->nConsumed++] = "system";
        }
    } else if (get_field(rec, "instruction")) {
        c->shape = CONV_ALPACA;
        if (read_alpaca(c, rec, path, line, err) < 0)
            return -1;
    } else if (get_field(rec, "input") || get_field(rec, "reasoning_content")) {
        c->shape = CONV_R1;
        const char *in = need_string(rec, "input", path, line, err);
        const char *rs = in ? need_string(rec, "reasoning_content", path, line, err) : NULL;
        const char *ct = rs ? need_string(rec, "content", path, line, err) : NULL;
        if (!ct)
            return -1;
        render_think(&c->joined, think_template ? think_template : CONV_THINK_TEMPLATE_DEFAULT, in, rs);
        add_turn(c, "user", c->joined.buf, c->joined.len);
        add_turn(c, "assistant", ct, strlen(ct));
        c->consumed[c->nConsumed++] = "input";
        c->consumed[c->nConsumed++] = "reasoning_content";
        c->consumed[c->nConsumed++] = "content";
    } else {
        err_set(err, path, line,
                "unrecognised record: expected a field 'messages', 'conversations', 'instruction' or 'input'");
        return -1;
    }
    const char *key = c->shape == CONV_SHAREGPT ? "conversations" : "messages";
    if (c->nTurns == 0 || strcmp(c->turns[c->nTurns - 1].role, "assistant")) {
        err_set(err, path, line, "field '%s' must end with an assistant turn", key);
        return -1;
    }
    if (c->nTurns < 2 || strcmp(c->turns[c->nTurns - 2].role, "user")) {
        err_set(err, path, line, "field '%s' needs a user turn before the last assistant turn", key);
        return -1;
    }
    return 0;
}

const ConvTurn *conv_system(const Conv *c)
{
    for (size_t i = 0; i < c->nTurns; i++)
        if (!strcmp(c->turns[i].role, "system"))
            return &c->turns[i];
    return NULL;
}

size_t conv_last_user(const Conv *c)
{
    return c->nTurns - 2;
}

size_t conv_history(const Conv *c)
{
    size_t n = 0;
    for (size_t i = 0; i + 2 < c->nTurns; i++)
        if (strcmp(c->turns[i].role, "system"))
            n++;
    return n;
}

/* ---------------------------------------------------------------- Sample */

void sample_init(Sample *s)
{
    memset(s, 0, sizeof *s);
    sb_init(&s->id);
    sb_init(&s->output);
    sb_init(&s->system);
    sb_init(&s->meta);
}

static void meta_key(Sample *s, const char *key)
{
    if (s->meta.len)
        sb_addc(&s->meta, ',');
    json_add_string(&s->meta, key, strlen(key));
    sb_addc(&s->meta, ':');
}

void sample_meta_str(Sample *s, const char *key, const char *v, size_t n)
{
    meta_key(s, key);
    json_add_string(&s->meta, v, n);
}

void sample_meta_int(Sample *s, const char *key, long long v)
{
    meta_key(s, key);
    sb_addf(&s->meta, "%lld", v);
}

void sample_meta_strs(Sample *s, const char *key, const char *const *texts, const size_t *lens, size_t n)
{
    meta_key(s, key);
    sb_addc(&s->meta, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_addc(&s->meta, ',');
        json_add_string(&s->meta, texts[i], lens ? lens[i] : strlen(texts[i]));
    }
    sb_addc(&s->meta, ']');
}

void sample_clear(Sample *s)
{
    sb_reset(&s->id);
    sb_reset(&s->output);
    sb_reset(&s->system);
    s->has_system = 0;
    s->nInputs = 0;
    s->messages = NULL;
    s->nMessages = 0;
    s->rec = NULL;
    s->id_from_rec = 0;
    s->raw = NULL;
    s->raw_len = 0;
    s->consumed = s->consumed2 = NULL;
    s->nConsumed = s->nConsumed2 = 0;
    s->mode = SAMPLE_SFT;
    sb_reset(&s->meta);
}

void sample_release(Sample *s)
{
    for (size_t i = 0; i < s->capInputs; i++)
        sb_release(&s->inputs[i]);
    free(s->inputs);
    sb_release(&s->id);
    sb_release(&s->output);
    sb_release(&s->system);
    sb_release(&s->meta);
    sample_init(s);
}

StrBuf *sample_add_input(Sample *s, const char *text, size_t len)
{
    if (s->nInputs == s->capInputs) {
        size_t old = s->capInputs;
        s->inputs = grow_array(s->inputs, &s->capInputs, s->nInputs + 1, sizeof *s->inputs);
        for (size_t i = old; i < s->capInputs; i++)
            sb_init(&s->inputs[i]);
    }
    StrBuf *b = &s->inputs[s->nInputs++];
    sb_reset(b);
    sb_add(b, text, len);
    return b;
}

void sample_set_id(Sample *s, const cJSON *rec, const Conv *c, const char *suffix)
{
    sb_reset(&s->id);
    const cJSON *v = rec ? get_field(rec, "id") : NULL;
    s->id_from_rec = 1;
    if (cJSON_IsString(v) && v->valuestring[0]) {
        sb_adds(&s->id, v->valuestring);
    } else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15) {
        sb_addf(&s->id, "%lld", (long long)v->valuedouble);
    } else {
        /* an empty, fractional, huge or non-scalar id is kept as meta.orig_id */
        s->id_from_rec = 0;
        /* No usable id: hash the turns (role and content, NUL-separated). */
        uint64_t h = 0x6d69736fULL;
        for (size_t i = 0; c && i < c->nTurns; i++) {
            uint64_t a = rng_hash(c->turns[i].role, strlen(c->turns[i].role));
            uint64_t b = rng_hash(c->turns[i].content, c->turns[i].len);
            h = rng_hash(&(uint64_t[3]){h, a, b}, sizeof(uint64_t[3]));
        }
        if (s->raw) {
            /* and the whole record, so records that share their turns but
             * differ elsewhere (source, score, the unusable id) get their
             * own ids; blanks between tokens do not count */
            StrBuf t = SB_INIT;
            raw_add_compact(&t, s->raw, 0, s->raw_len);
            uint64_t r = rng_hash(t.buf, t.len);
            h = rng_hash(&(uint64_t[2]){h, r}, sizeof(uint64_t[2]));
            sb_release(&t);
        }
        sb_addf(&s->id, "h%016llx", (unsigned long long)h);
    }
    if (suffix)
        sb_adds(&s->id, suffix);
}

static const char *const reserved[] = {"id", "mode", "inputs", "messages", "output", "system", "weights", "meta"};

static int in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k, list[i]))
            return 1;
    return 0;
}

int sample_write(FILE *f, const Sample *s, StrBuf *o)
{
    static const char *const modes[] = {"para", "succ", "sft"};
    sb_reset(o);
    sb_adds(o, "{\"id\":");
    json_add_string(o, s->id.buf, s->id.len);
    sb_adds(o, ",\"mode\":\"");
    sb_adds(o, modes[s->mode]);
    sb_addc(o, '"');
    if (s->messages) {
        sb_adds(o, ",\"messages\":[");
        for (size_t i = 0; i < s->nMessages; i++) {
            sb_adds(o, i ? ",{\"role\":\"" : "{\"role\":\"");
            sb_adds(o, s->messages[i].role);
            sb_adds(o, "\",\"content\":");
            json_add_string(o, s->messages[i].content, s->messages[i].len);
            sb_addc(o, '}');
        }
        sb_addc(o, ']');
    } else {
        sb_adds(o, ",\"inputs\":[");
        for (size_t i = 0; i < s->nInputs; i++) {
            if (i)
                sb_addc(o, ',');
            json_add_string(o, s->inputs[i].buf, s->inputs[i].len);
        }
        sb_adds(o, "],\"output\":");
        json_add_string(o, s->output.buf, s->output.len);
        if (s->has_system) {
            sb_adds(o, ",\"system\":");
            json_add_string(o, s->system.buf, s->system.len);
        }
    }
    /* A reserved key of the source record that the reader did not consume
     * (a "meta" or "weights" of its own) would collide: it goes into meta
     * as "orig_<key>" instead, so nothing is lost. */
    sb_adds(o, ",\"meta\":{");
    sb_add(o, s->meta.buf, s->meta.len);
    int first = s->meta.len == 0;
    RawCursor rc;
    rc.t = s->raw, rc.n = s->raw_len, rc.pos = 0, rc.nspan = rc.next = rc.pos_after_cache = 0, rc.replay = 0;
    for (const cJSON *e = s->rec ? s->rec->child : NULL; e; e = e->next) {
        if (!e->string || (!strcmp(e->string, "id") && s->id_from_rec) || in_list(e->string, s->consumed, s->nConsumed) ||
            in_list(e->string, s->consumed2, s->nConsumed2) || !in_list(e->string, reserved, 8)) {
            raw_value(o, &rc, e, 0);
            continue;
        }
        if (!first)
            sb_addc(o, ',');
        first = 0;
        sb_adds(o, "\"orig_");
        sb_adds(o, e->string); /* reserved names need no escaping */
        sb_adds(o, "\":");
        raw_value(o, &rc, e, 1);
    }
    sb_addc(o, '}');
    raw_rewind(&rc, s->raw);
    for (const cJSON *e = s->rec ? s->rec->child : NULL; e; e = e->next) {
        if (!e->string || in_list(e->string, s->consumed, s->nConsumed) ||
            in_list(e->string, s->consumed2, s->nConsumed2) || in_list(e->string, reserved, 8)) {
            raw_value(o, &rc, e, 0);
            continue;
        }
        sb_addc(o, ',');
        raw_value(o, &rc, e, 2);
    }
    sb_adds(o, "}\n");
    return fwrite(o->buf, 1, o->len, f) == o->len ? 0 : -1;
}

/* ---------------------------------------------------------------- skipping */

void err_reason(const char *msg, StrBuf *out)
{
    /* Positions and sizes vary per record, the kind of problem does not:
     * cut " at column 4", " (more than ... bytes)", " in 'messages[2]'", and
     * the system text after "read error:"/"truncated or corrupt gzip input:". */
    sb_reset(out);
    size_t n = strlen(msg);
    const char *cuts[] = {" at ", " (", " in '"};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        const char *p = strstr(msg, cuts[i]);
        if (p && (size_t)(p - msg) < n)
            n = (size_t)(p - msg);
    }
    const char *colon = strchr(msg, ':');
    if (colon && (!strncmp(msg, "read error:", 11) || !strncmp(msg, "truncated or corrupt gzip input:", 32)))
        n = (size_t)(colon - msg);
    sb_add(out, msg, n);
}

void skip_add(SkipCount *k, const char *msg)
{
    StrBuf r = SB_INIT;
    err_reason(msg, &r);
    k->total++;
    for (size_t i = 0; i < k->n; i++) {
        if (!strcmp(k->reasons[i], r.buf)) {
            k->counts[i]++;
            sb_release(&r);
            return;
        }
    }
    if (k->n == k->cap) {
        size_t cap = k->cap;
        k->reasons = grow_array(k->reasons, &cap, k->n + 1, sizeof *k->reasons);
        k->counts = xrealloc(k->counts, size_mul(cap, sizeof *k->counts));
        k->cap = cap;
    }
    k->reasons[k->n] = sb_detach(&r, NULL);
    k->counts[k->n] = 1;
    k->n++;
}

void skip_report(const SkipCount *k, FILE *f, const char *prog)
{
    if (!k->total)
        return;
    fprintf(f, "%s: skipped %zu bad record%s:", prog, k->total, k->total == 1 ? "" : "s");
    for (size_t i = 0; i < k->n; i++)
        fprintf(f, "%s %zu %s", i ? "," : "", k->counts[i], k->reasons[i]);
    fputc('\n', f);
}

void skip_release(SkipCount *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->reasons[i]);
    free(k->reasons);
    free(k->counts);
    memset(k, 0, sizeof *k);
}
