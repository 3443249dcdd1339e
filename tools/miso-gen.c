/*
 * miso-gen - prompts -> responses, with a local model (lib/generate.h) or an
 * OpenAI-compatible chat-completions server (lib/openai.h), written as
 * IFEval input_response_data lines ({"key", "prompt", "response"}).
 *
 * The output file is a resumable log, the one exception to "whole or not at
 * all": each response is appended with one write(2) as soon as it is known,
 * so a killed run loses at most the answers in flight; a rerun with the same
 * -o reads what is there (dropping an incomplete last line) and asks only
 * for the rest.  When every prompt is answered the file is rewritten in
 * input order (atomically, through lib/ofile) unless --no-reorder.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat.h"
#include "generate.h"
#include "jsonl.h"
#include "ofile.h"
#include "openai.h"
#include "progress.h"
#include "prompts.h"
#include "rng.h"
#include "tokenizer.h"
#include "util.h"

static void usage(void)
{
    printf("usage: miso-gen (--model PATH | --api URL --model-name NAME) [OPTIONS] [FILE...]\n"
           "Answer prompts (IFEval input_data, messages or sample records; JSONL, .gz,\n"
           "'-' = stdin) and write {\"key\", \"prompt\", \"response\"} lines.\n"
           "\n"
           "Output\n"
           "  -o, --output FILE        append answers to FILE as they complete; a rerun\n"
           "                           skips prompts already answered there (default stdout)\n"
           "      --no-reorder         keep completion order (default: rewrite FILE in input\n"
           "                           order once every prompt is answered)\n"
           "  -q, --quiet              no progress or summary on stderr\n"
           "Local model\n"
           "  -m, --model PATH         HF model directory or llama2.c .bin\n"
           "      --tokenizer PATH     tokenizer (default: the model's)\n"
           "      --template NAME      llama3, mistral, chatml, plain (default: guessed), or\n"
           "                           none: BOS + the prompt text as it is (base models)\n"
           "      --attn MODE          multi-input records: miso (default), miso-fid, concat\n"
           "      --top-k N            sample from the N most likely tokens (0 = off)\n"
           "      --prompt-ids         input lines are space-separated token ids\n"
           "      --ids                also write the generated ids (\"response_ids\"); with\n"
           "                           --prompt-ids only the ids\n"
           "HTTP API\n"
           "  -a, --api URL            server base URL, with or without /v1\n"
           "  -M, --model-name NAME    the \"model\" field of each request\n"
           "  -p, --parallel N         requests in flight (default 4)\n"
           "      --retries N          retries on 429, 5xx and network errors (default 5)\n"
           "      --retry-wait SEC     first backoff wait, doubled each retry (default 1)\n"
           "      --timeout SEC        limit for one request (default 600)\n"
           "      --connect-timeout SEC  limit for connecting (default 10)\n"
           "      --api-key-env VAR    read the API key from $VAR (default OPENAI_API_KEY\n"
           "                           when set); the key is never printed\n"
           "Both\n"
           "      --system TEXT        system prompt for records without one\n"
           "  -t, --temperature T      0 = greedy (local default; the server's default\n"
           "                           when not given with --api)\n"
           "      --top-p P            nucleus sampling\n"
           "      --max-new-tokens N   limit of the answer (local default 512)\n"
           "  -s, --seed N             sampling seed (default %u)\n"
           "  -h, --help               show this help\n"
           "      --version            print the version\n",
           MISO_DEFAULT_SEED);
}

enum {
    O_VERSION = 256, O_TOKENIZER, O_TEMPLATE, O_ATTN, O_TOPK, O_PROMPT_IDS, O_IDS, O_RETRIES, O_RETRY_WAIT,
    O_TIMEOUT, O_CONNECT_TIMEOUT, O_KEY_ENV, O_SYSTEM, O_TOPP, O_MAXNEW, O_NO_REORDER
};

typedef struct {
    const char *out_path, *model, *tokenizer, *template_name, *api, *model_name, *key_env, *system;
    int attn, top_k, prompt_ids, ids, parallel, retries, quiet, reorder;
    double retry_wait, timeout, connect_timeout, temperature, top_p;
    int max_new, seed_given;
    uint64_t seed;
} Opts;

/* ---------------------------------------------------------------- option parsing */

static double parse_num(const char *s, const char *opt, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi))
        die_usage("option '%s' needs a number in [%g, %g], not '%s'", opt, lo, hi, s);
    return v;
}

static int parse_count(const char *s, const char *opt, int lo)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= (1 << 30)) || v != floor(v))
        die_usage("option '%s' needs an integer >= %d, not '%s'", opt, lo, s);
    return (int)v;
}

/* ---------------------------------------------------------------- the input */

typedef struct {
    cJSON *rec;          /* NULL for --prompt-ids lines */
    char *line;          /* --prompt-ids: the id line */
    const char *path;
    long line_no;
    char *ident;
} Item;

typedef struct {
    Item *v;
    size_t n, cap;
    char **paths;        /* display names the items point at */
    size_t npaths, cap_paths;
} Items;

/* A set of identity strings (open addressing; the values are indices). */
typedef struct {
    char **keys;
    size_t *vals;
    size_t cap, n;
} Set;

static size_t set_slot(const Set *s, const char *k)
{
    size_t i = rng_hash(k, strlen(k)) & (s->cap - 1);
    while (s->keys[i] && strcmp(s->keys[i], k))
        i = (i + 1) & (s->cap - 1);
    return i;
}

static int set_get(const Set *s, const char *k, size_t *val)
{
    if (!s->cap)
        return 0;
    size_t i = set_slot(s, k);
    if (!s->keys[i])
        return 0;
    if (val)
        *val = s->vals[i];
    return 1;
}

/* Insert k (copied) unless present; 1 if inserted. */
static int set_put(Set *s, const char *k, size_t val)
{
    if (2 * (s->n + 1) > s->cap) {
        Set t = {xcalloc(s->cap ? 2 * s->cap : 64, sizeof(char *)), xcalloc(s->cap ? 2 * s->cap : 64, sizeof(size_t)),
                 s->cap ? 2 * s->cap : 64, s->n};
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i]) {
                size_t j = set_slot(&t, s->keys[i]);
                t.keys[j] = s->keys[i];
                t.vals[j] = s->vals[i];
            }
        free(s->keys);
        free(s->vals);
        *s = t;
    }
    size_t i = set_slot(s, k);
    if (s->keys[i])
        return 0;
    s->keys[i] = xstrdup(k);
    s->vals[i] = val;
    s->n++;
    return 1;
}

static void set_release(Set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s->vals);
    memset(s, 0, sizeof *s);
}

static void read_inputs(int argc, char **argv, const Opts *o, Items *items)
{
    Err err;
    Prompt p;
    StrBuf id = SB_INIT;
    prompt_init(&p);
    int nfiles = argc > 0 ? argc : 1;
    for (int fi = 0; fi < nfiles; fi++) {
        const char *path = argc > 0 ? argv[fi] : "-";
        JsonlReader r;
        int rc;
        if (jsonl_open(&r, path, &err) < 0)
            err_die(&err);
        char *disp = xstrdup(r.path); /* items point at it; freed with them */
        items->paths = grow_array(items->paths, &items->cap_paths, items->npaths + 1, sizeof *items->paths);
        items->paths[items->npaths++] = disp;
        for (;;) {
            Item it = {0};
            if (o->prompt_ids) {
                const char *line;
                size_t len;
                if ((rc = jsonl_next_line(&r, &line, &len, &err)) == 0)
                    break;
                if (rc < 0)
                    err_die(&err);
                it.line = xstrndup(line, len);
                sb_reset(&id);
                sb_adds(&id, "prompt=");
                sb_adds(&id, it.line);
            } else {
                if ((rc = jsonl_next(&r, &it.rec, &err)) == 0)
                    break;
                if (rc < 0)
                    err_die(&err);
                if (prompt_read(&p, it.rec, r.path, r.line, &err) < 0)
                    err_die(&err);
                sb_reset(&id);
                prompt_ident(&p, &id);
            }
            it.path = disp;
            it.line_no = r.line;
            it.ident = xstrdup(id.buf);
            items->v = grow_array(items->v, &items->cap, items->n + 1, sizeof *items->v);
            items->v[items->n++] = it;
        }
        jsonl_close(&r);
    }
    prompt_release(&p);
    sb_release(&id);
}

/* A repeated key must repeat its prompt: answers are matched by key, so a
 * second prompt under the same key would never be asked. */
static void check_same_prompt(const Item *a, const Item *b)
{
    Prompt pa, pb;
    Err err;
    prompt_init(&pa);
    prompt_init(&pb);
    prompt_read(&pa, a->rec, a->path, a->line_no, &err); /* read once before: cannot fail */
    prompt_read(&pb, b->rec, b->path, b->line_no, &err);
    if (strcmp(pa.prompt, pb.prompt)) {
        const char *eq = strchr(b->ident, '=');
        err_set(&err, b->path, b->line_no, "%.*s %s was already used at %s:%ld for another prompt (keys must be unique)",
                (int)(eq - b->ident), b->ident, eq + 1, a->path, a->line_no);
        err_die(&err);
    }
    prompt_release(&pa);
    prompt_release(&pb);
}

/* ---------------------------------------------------------------- the resumable log */

/* Read the identities already answered in path (if it exists) into done.
 * An incomplete last line (a run killed mid-write) is cut off. */
static void read_done(const char *path, Set *done)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        if (errno == ENOENT)
            return;
        die("cannot open '%s':", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        die("cannot stat '%s':", path);
    if (st.st_size > 0) {
        char c;
        if (pread(fd, &c, 1, st.st_size - 1) != 1)
            die("cannot read '%s':", path);
        if (c != '\n') {
            off_t end = st.st_size;
            char buf[4096];
            while (end > 0) {
                off_t from = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
                ssize_t k = pread(fd, buf, (size_t)(end - from), from);
                if (k <= 0)
                    die("cannot read '%s':", path);
                off_t i = k;
                while (i > 0 && buf[i - 1] != '\n')
                    i--;
                if (i > 0) {
                    end = from + i;
                    break;
                }
                end = from;
            }
            warn("'%s': dropping an incomplete last line (an interrupted run)", path);
            if (ftruncate(fd, end) < 0)
                die("cannot truncate '%s':", path);
        }
    }
    close(fd);
    JsonlReader r;
    Err err;
    cJSON *rec;
    int rc;
    StrBuf id = SB_INIT;
    if (jsonl_open(&r, path, &err) < 0)
        err_die(&err);
    while ((rc = jsonl_next(&r, &rec, &err)) != 0) {
        if (rc < 0)
            err_die(&err);
        sb_reset(&id);
        if (prompt_ident_response(rec, &id) < 0) {
            err_set(&err, r.path, r.line, "answer without 'key' or 'prompt' (is -o the right file?)");
            err_die(&err);
        }
        set_put(done, id.buf, 0);
        cJSON_Delete(rec);
    }
    jsonl_close(&r);
    sb_release(&id);
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            die("write error:");
        s += k;
        n -= (size_t)k;
    }
}

/* One output line for item it: "response" when text is not NULL,
 * "response_ids" when with_ids. */
static void emit(int fd, const Item *it, const char *text, size_t n, int with_ids, const int32_t *ids, size_t nids)
{
    cJSON *o = cJSON_CreateObject();
    StrBuf clean = SB_INIT;
    if (it->rec) {
        Prompt p;
        Err err;
        prompt_init(&p);
        prompt_read(&p, it->rec, it->path, it->line_no, &err); /* read once before: cannot fail */
        if (p.key)
            cJSON_AddItemToObject(o, p.key_name, cJSON_Duplicate(p.key, 1));
        cJSON_AddStringToObject(o, "prompt", p.prompt);
        prompt_release(&p);
    } else {
        cJSON_AddStringToObject(o, "prompt", it->line);
    }
    if (text) {
        utf8_sanitize(text, n, &clean);
        cJSON_AddStringToObject(o, "response", clean.buf);
    }
    if (with_ids) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < nids; i++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
        cJSON_AddItemToObject(o, "response_ids", a);
    }
    char *s = cJSON_PrintUnformatted(o);
    if (s) {
        size_t len = strlen(s);
        s[len] = '\n'; /* replace the NUL: one write per line */
        write_all(fd, s, len + 1);
        free(s);
    } else
        die("out of memory");
    sb_release(&clean);
    cJSON_Delete(o);
}

/* Rewrite path with its lines in input order (lines of prompts not in the
 * input keep their order at the end). */
static void reorder(const char *path, const Set *index)
{
    JsonlReader r;
    Err err;
    cJSON *rec;
    int rc;
    struct L { size_t order, seq; char *text; } *v = NULL;
    size_t n = 0, cap = 0;
    StrBuf id = SB_INIT;
    if (jsonl_open(&r, path, &err) < 0)
        err_die(&err);
    while ((rc = jsonl_next(&r, &rec, &err)) != 0) {
        if (rc < 0)
            err_die(&err);
        sb_reset(&id);
        size_t ord = (size_t)-1;
        if (prompt_ident_response(rec, &id) == 0)
            set_get(index, id.buf, &ord);
        v = grow_array(v, &cap, n + 1, sizeof *v);
        v[n].order = ord;
        v[n].seq = n;
        v[n].text = cJSON_PrintUnformatted(rec);
        n++;
        cJSON_Delete(rec);
    }
    jsonl_close(&r);
    /* stable insertion sort by input order: fine for the thousands of lines of an eval */
    for (size_t i = 1; i < n; i++) {
        struct L t = v[i];
        size_t j = i;
        while (j > 0 && (v[j - 1].order > t.order || (v[j - 1].order == t.order && v[j - 1].seq > t.seq))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
    OutFile of;
    FILE *f = ofile_open(&of, path, &err);
    if (!f)
        err_die(&err);
    for (size_t i = 0; i < n; i++) {
        fputs(v[i].text, f);
        fputc('\n', f);
        free(v[i].text);
    }
    free(v);
    sb_release(&id);
    if (ofile_commit(&of, &err) < 0)
        err_die(&err);
}

/* ---------------------------------------------------------------- generation */

typedef struct {
    const Opts *o;
    Items *items;
    size_t *todo, ntodo;
    int fd;
    Progress prog;
    size_t answered, failed, cut;
} Run;

static void fail(Run *run, const Item *it, const char *why)
{
    const char *eq = strchr(it->ident, '=');
    progress_done(&run->prog); /* clear the progress line; the next update redraws it */
    if (strncmp(it->ident, "prompt=", 7))
        warn("%s:%ld: prompt %.*s %s: %s", it->path, it->line_no, (int)(eq - it->ident), it->ident, eq + 1, why);
    else
        warn("%s:%ld: prompt '%.40s%s': %s", it->path, it->line_no, it->ident + 7,
             strlen(it->ident + 7) > 40 ? "..." : "", why);
    run->failed++;
}

static void run_api(Run *run)
{
    const Opts *o = run->o;
    OaiConfig cfg;
    oai_config_default(&cfg);
    cfg.url = o->api;
    cfg.model = o->model_name;
    cfg.parallel = o->parallel;
    cfg.retries = o->retries;
    cfg.timeout_ms = (long)(o->timeout * 1000);
    cfg.connect_timeout_ms = (long)(o->connect_timeout * 1000);
    cfg.temperature = o->temperature;
    cfg.top_p = o->top_p;
    cfg.max_tokens = o->max_new;
    cfg.seed = o->seed_given ? (long long)o->seed : -1;
    cfg.backoff_ms = o->retry_wait * 1000;
    const char *env = o->key_env ? o->key_env : "OPENAI_API_KEY";
    const char *key = getenv(env);
    if (o->key_env && (!key || !*key))
        die("environment variable '%s' is not set (it should hold the API key)", env);
    cfg.api_key = key;
    Err err;
    OaiClient *c = oai_new(&cfg, &err);
    if (!c)
        err_die(&err);
    Prompt p;
    prompt_init(&p);
    size_t next = 0;
    while (next < run->ntodo || oai_active(c)) {
        while (next < run->ntodo && oai_active(c) < (size_t)cfg.parallel) {
            Item *it = &run->items->v[run->todo[next]];
            prompt_read(&p, it->rec, it->path, it->line_no, &err);
            if (o->system && !p.system) { /* --system for records without one */
                const char **r = xmalloc((p.n_msgs + 1) * sizeof *r), **t = xmalloc((p.n_msgs + 1) * sizeof *t);
                r[0] = "system";
                t[0] = o->system;
                memcpy(r + 1, p.roles, p.n_msgs * sizeof *r);
                memcpy(t + 1, p.contents, p.n_msgs * sizeof *t);
                oai_submit(c, run->todo[next], r, t, p.n_msgs + 1);
                free(r);
                free(t);
            } else
                oai_submit(c, run->todo[next], p.roles, p.contents, p.n_msgs);
            next++;
        }
        OaiResult r;
        if (!oai_wait(c, &r))
            break;
        Item *it = &run->items->v[r.tag];
        if (r.ok) {
            emit(run->fd, it, r.content.buf, r.content.len, 0, NULL, 0);
            run->answered++;
            run->cut += r.cut != 0;
        } else
            fail(run, it, r.error);
        oai_result_release(&r);
        progress_update(&run->prog, run->answered + run->failed, NULL);
    }
    prompt_release(&p);
    oai_free(c);
    if (run->cut && !o->quiet) {
        progress_done(&run->prog);
        warn("%zu answer%s cut at the length limit (finish_reason \"length\"; kept as answers)", run->cut,
             run->cut == 1 ? " was" : "s were");
    }
}

static int parse_ids(const char *s, IntVec *v)
{
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        char *end;
        errno = 0;
        long x = strtol(s, &end, 10);
        if (end == s || errno || x < 0 || x > INT32_MAX || (*end && *end != ' ' && *end != '\t'))
            return -1;
        intvec_push(v, (int32_t)x);
        s = end;
    }
    return v->n ? 0 : -1;
}

/* The tokenizer gen_open picks for the model (for conversations rendered
 * here): --tokenizer, the built-in byte tokenizer when config.json says
 * "miso_tokenizer": "byte", else the model directory's own. */
static Tokenizer *load_tokenizer(const Opts *o, Err *err)
{
    if (o->tokenizer)
        return tok_load(o->tokenizer, err);
    StrBuf cfg = SB_INIT;
    sb_addf(&cfg, "%s/config.json", o->model);
    FILE *f = fopen(cfg.buf, "rb");
    int byte = 0;
    if (f) {
        StrBuf text = SB_INIT;
        char buf[4096];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, f)) > 0)
            sb_add(&text, buf, k);
        fclose(f);
        cJSON *c = cJSON_Parse(text.buf);
        const char *t = c ? json_str(c, "miso_tokenizer") : NULL;
        byte = t && !strcmp(t, "byte");
        cJSON_Delete(c);
        sb_release(&text);
    }
    sb_release(&cfg);
    return tok_load(byte ? "byte" : o->model, err);
}

/* A conversation with earlier turns: rendered with the chat template
 * (generation prompt added), generated from ids, cut at the end of turn. */
static int respond_conversation(Generator *g, Tokenizer *tok, ChatTemplate tpl, const Prompt *p, const char *system,
                                const GenOptions *go, IntVec *ids, IntVec *gen, StrBuf *text, StrBuf *out, Err *err)
{
    const char **roles = xmalloc((p->n_msgs + 1) * sizeof *roles), **contents = xmalloc((p->n_msgs + 1) * sizeof *contents);
    size_t n = 0;
    if (system && !p->system) {
        roles[n] = "system";
        contents[n++] = system;
    }
    for (size_t i = 0; i < p->n_msgs; i++) {
        roles[n] = p->roles[i];
        contents[n++] = p->contents[i];
    }
    sb_reset(text);
    chat_render_messages(tpl, tok, roles, contents, n, 1, text);
    free(roles);
    free(contents);
    ids->n = gen->n = 0;
    if (tok_encode(tok, text->buf, text->len, 1, ids) < 0)
        return err_set(err, NULL, 0, "cannot tokenise the conversation"), -1;
    const int32_t *in[1] = {ids->v};
    size_t len[1] = {ids->n};
    if (gen_from_ids(g, in, len, 1, go, gen, err) < 0)
        return -1;
    int eot = tok_token_id(tok, chat_end_of_turn_for(tpl, tok));
    for (size_t i = 0; eot >= 0 && i < gen->n; i++)
        if (gen->v[i] == eot) {
            gen->n = i;
            break;
        }
    return tok_decode(tok, gen->v, gen->n, 1, out, err);
}

static int has_history(const Prompt *p)
{
    int users = 0;
    for (size_t i = 0; i < p->n_msgs; i++)
        users += !strcmp(p->roles[i], "user") || !strcmp(p->roles[i], "assistant");
    return users > 1;
}

static void run_local(Run *run)
{
    const Opts *o = run->o;
    Err err;
    Generator *g = gen_open(o->model, o->tokenizer, o->template_name, &err);
    if (!g)
        err_die(&err);
    if (!o->prompt_ids && !gen_has_tokenizer(g))
        die("model '%s' has no tokenizer (no tokenizer.json): give --tokenizer PATH, or token ids with --prompt-ids",
            o->model);
    GenOptions go;
    gen_options_default(&go);
    go.temperature = o->temperature > 0 ? (float)o->temperature : 0.0f;
    if (o->top_p >= 0)
        go.top_p = (float)o->top_p;
    go.top_k = o->top_k;
    if (o->max_new > 0)
        go.max_new_tokens = o->max_new;
    go.seed = o->seed;
    go.attn = o->attn;
    Tokenizer *tok = NULL;
    if (o->prompt_ids && !o->ids) { /* decode generated ids to text */
        if (!(tok = tok_load(o->tokenizer ? o->tokenizer : o->model, &err)))
            die("--prompt-ids without --ids needs a tokenizer to decode the answer (%s); give --tokenizer or --ids",
                err.msg);
    }
    Prompt p;
    prompt_init(&p);
    StrBuf out = SB_INIT, text = SB_INIT;
    IntVec ids = {0}, gen = {0};
    Tokenizer *ctok = NULL; /* for conversations, loaded when one comes */
    ChatTemplate ctpl = CHAT_PLAIN;
    for (size_t k = 0; k < run->ntodo; k++) {
        Item *it = &run->items->v[run->todo[k]];
        sb_reset(&out);
        int rc;
        if (o->prompt_ids) {
            ids.n = gen.n = 0;
            if (parse_ids(it->line, &ids) < 0) {
                err_set(&err, it->path, it->line_no, "expected space-separated token ids");
                err_die(&err);
            }
            const int32_t *in[1] = {ids.v};
            size_t len[1] = {ids.n};
            rc = gen_from_ids(g, in, len, 1, &go, &gen, &err);
            if (rc == 0 && tok)
                rc = tok_decode(tok, gen.v, gen.n, 1, &out, &err);
        } else {
            prompt_read(&p, it->rec, it->path, it->line_no, &err);
            const char *system = p.system ? p.system : o->system;
            if (has_history(&p) && o->template_name && !strcmp(o->template_name, "none")) {
                err_set(&err, NULL, 0, "--template none answers single prompts, not conversations");
                rc = -1;
            } else if (has_history(&p)) {
                if (!ctok) {
                    if (!(ctok = load_tokenizer(o, &err)))
                        err_die(&err);
                    ctpl = chat_guess(ctok);
                    if (o->template_name && chat_template_from_name(o->template_name, &ctpl) < 0)
                        die_usage("unknown template '%s'", o->template_name);
                }
                rc = respond_conversation(g, ctok, ctpl, &p, system, &go, &ids, &gen, &text, &out, &err);
            } else {
                gen.n = 0;
                rc = gen_respond_ids(g, system, p.inputs, p.n_inputs, &go, &out, &gen, &err);
            }
        }
        if (rc < 0)
            fail(run, it, err.msg);
        else {
            if (o->ids && o->prompt_ids) /* ids in, ids out */
                emit(run->fd, it, NULL, 0, 1, gen.v, gen.n);
            else /* text prompts: the text, and with --ids its ids too */
                emit(run->fd, it, out.buf ? out.buf : "", out.len, o->ids, gen.v, gen.n);
            run->answered++;
        }
        progress_update(&run->prog, run->answered + run->failed, NULL);
    }
    intvec_release(&ids);
    intvec_release(&gen);
    sb_release(&out);
    sb_release(&text);
    prompt_release(&p);
    tok_free(tok);
    tok_free(ctok);
    gen_close(g);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"output", required_argument, 0, 'o'},     {"no-reorder", no_argument, 0, O_NO_REORDER},
        {"quiet", no_argument, 0, 'q'},            {"model", required_argument, 0, 'm'},
        {"tokenizer", required_argument, 0, O_TOKENIZER}, {"template", required_argument, 0, O_TEMPLATE},
        {"attn", required_argument, 0, O_ATTN},    {"top-k", required_argument, 0, O_TOPK},
        {"prompt-ids", no_argument, 0, O_PROMPT_IDS}, {"ids", no_argument, 0, O_IDS},
        {"api", required_argument, 0, 'a'},        {"model-name", required_argument, 0, 'M'},
        {"parallel", required_argument, 0, 'p'},   {"retries", required_argument, 0, O_RETRIES},
        {"retry-wait", required_argument, 0, O_RETRY_WAIT}, {"timeout", required_argument, 0, O_TIMEOUT},
        {"connect-timeout", required_argument, 0, O_CONNECT_TIMEOUT},
        {"api-key-env", required_argument, 0, O_KEY_ENV}, {"system", required_argument, 0, O_SYSTEM},
        {"temperature", required_argument, 0, 't'}, {"top-p", required_argument, 0, O_TOPP},
        {"max-new-tokens", required_argument, 0, O_MAXNEW}, {"seed", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},             {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0}};
    Opts o = {0};
    o.parallel = 4;
    o.retries = 5;
    o.retry_wait = 1;
    o.timeout = 600;
    o.connect_timeout = 10;
    o.temperature = -1;
    o.top_p = -1;
    o.seed = MISO_DEFAULT_SEED;
    o.reorder = 1;
    o.attn = GEN_ATTN_MISO;
    int c, attn_given = 0;
    util_set_prog(argv[0]);
    while ((c = getopt_long(argc, argv, "o:qm:a:M:p:t:s:h", lo, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_path = optarg; break;
        case O_NO_REORDER: o.reorder = 0; break;
        case 'q': o.quiet = 1; break;
        case 'm': o.model = optarg; break;
        case O_TOKENIZER: o.tokenizer = optarg; break;
        case O_TEMPLATE: o.template_name = optarg; break;
        case O_ATTN:
            attn_given = 1;
            if (!strcmp(optarg, "miso"))
                o.attn = GEN_ATTN_MISO;
            else if (!strcmp(optarg, "miso-fid"))
                o.attn = GEN_ATTN_MISO_FID;
            else if (!strcmp(optarg, "concat"))
                o.attn = GEN_ATTN_CONCAT;
            else
                die_usage("unknown attention '%s' (need miso, miso-fid or concat)", optarg);
            break;
        case O_TOPK: o.top_k = parse_count(optarg, "--top-k", 0); break;
        case O_PROMPT_IDS: o.prompt_ids = 1; break;
        case O_IDS: o.ids = 1; break;
        case 'a': o.api = optarg; break;
        case 'M': o.model_name = optarg; break;
        case 'p': o.parallel = parse_count(optarg, "--parallel", 1); break;
        case O_RETRIES: o.retries = parse_count(optarg, "--retries", 0); break;
        case O_RETRY_WAIT: o.retry_wait = parse_num(optarg, "--retry-wait", 0, 3600); break;
        case O_TIMEOUT: o.timeout = parse_num(optarg, "--timeout", 0.001, 1e6); break;
        case O_CONNECT_TIMEOUT: o.connect_timeout = parse_num(optarg, "--connect-timeout", 0.001, 1e6); break;
        case O_KEY_ENV: o.key_env = optarg; break;
        case O_SYSTEM: o.system = optarg; break;
        case 't': o.temperature = parse_num(optarg, "--temperature", 0, 100); break;
        case O_TOPP: o.top_p = parse_num(optarg, "--top-p", 0, 1); break;
        case O_MAXNEW: o.max_new = parse_count(optarg, "--max-new-tokens", 1); break;
        case 's':
            o.seed = (uint64_t)parse_num(optarg, "--seed", 0, 9007199254740992.0);
            o.seed_given = 1;
            break;
        case 'h': usage(); return 0;
        case O_VERSION: util_print_version();
        default: die_usage("unknown option");
        }
    }
    if (!o.model == !o.api)
        die_usage("give either --model PATH (local) or --api URL (HTTP server)");
    if (o.api && !o.model_name)
        die_usage("--api needs --model-name");
    if (o.api && (attn_given || o.top_k || o.prompt_ids || o.ids || o.tokenizer || o.template_name))
        die_usage("--attn, --top-k, --prompt-ids, --ids, --tokenizer and --template are for --model");

    if (o.model && o.temperature <= 0 && (o.top_p >= 0 || o.top_k) && !o.quiet)
        warn("--top-p and --top-k have no effect with greedy decoding (give --temperature above 0 to sample)");

    Items items = {0};
    read_inputs(argc - optind, argv + optind, &o, &items);

    /* what is left to do: not answered before, first occurrence of each prompt */
    Set done = {0}, index = {0};
    if (o.out_path)
        read_done(o.out_path, &done);
    size_t *todo = xcalloc(items.n ? items.n : 1, sizeof *todo), ntodo = 0, skipped = 0;
    for (size_t i = 0; i < items.n; i++) {
        int fresh = set_put(&index, items.v[i].ident, i);
        size_t first;
        if (!fresh && items.v[i].rec && set_get(&index, items.v[i].ident, &first))
            check_same_prompt(&items.v[first], &items.v[i]);
        if (set_get(&done, items.v[i].ident, NULL) || !fresh)
            skipped++;
        else
            todo[ntodo++] = i;
    }
    int fd = 1;
    if (o.out_path && (fd = open(o.out_path, O_WRONLY | O_CREAT | O_APPEND, 0644)) < 0)
        die("cannot open '%s':", o.out_path);

    Run run = {.o = &o, .items = &items, .todo = todo, .ntodo = ntodo, .fd = fd};
    double t0 = util_now();
    progress_init(&run.prog, "miso-gen", ntodo, o.quiet);
    run.prog.unit = "prompt";
    if (ntodo)
        (o.api ? run_api : run_local)(&run);
    progress_done(&run.prog);
    double dt = util_now() - t0;
    if (o.out_path && close(fd) < 0)
        die("write error on '%s':", o.out_path);
    if (!o.quiet)
        fprintf(stderr, "miso-gen: %zu prompts: %zu answered now, %zu already answered, %zu failed (%.1f s, %.2f/s)\n",
                items.n, run.answered, skipped, run.failed, dt, dt > 0 ? (double)run.answered / dt : 0.0);
    if (o.out_path && o.reorder && !run.failed)
        reorder(o.out_path, &index);
    for (size_t i = 0; i < items.n; i++) {
        cJSON_Delete(items.v[i].rec);
        free(items.v[i].line);
        free(items.v[i].ident);
    }
    free(items.v);
    for (size_t i = 0; i < items.npaths; i++)
        free(items.paths[i]);
    free(items.paths);
    free(todo);
    set_release(&done);
    set_release(&index);
    if (run.failed)
        die("%zu prompt%s failed%s", run.failed, run.failed == 1 ? "" : "s",
            o.out_path ? " (rerun with the same --output to retry them)" : "");
    util_close_stdout();
    return 0;
}
