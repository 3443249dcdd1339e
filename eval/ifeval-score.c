/*
 * ifeval-score - score responses with the official IFEval rules (strict and
 * loose, prompt and instruction level), compatible with google-research's
 * evaluation_main: --input, --responses, --output-dir give the same
 * eval_results_{strict,loose}.jsonl files and the same report on stdout.
 * The checks live in lib/ifeval.c; this file reads, matches, writes.
 */
#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ifeval.h"
#include "ifeval_pystr.h"
#include "jsonl.h"
#include "ofile.h"
#include "util.h"

static const char usage_text[] =
    "usage: ifeval-score [OPTIONS] --responses FILE\n"
    "Score responses to IFEval prompts exactly as the official google-research scorer.\n"
    "\n"
    "  -i, --input FILE       prompts (input_data.jsonl; default: the shipped IFEval data)\n"
    "  -r, --responses FILE   responses, JSONL {\"prompt\", \"response\"[, \"key\"]} ('-' = stdin)\n"
    "  -d, --output-dir DIR   write DIR/eval_results_strict.jsonl and DIR/eval_results_loose.jsonl\n"
    "  -s, --summary FILE     write the accuracies as JSON (lm-eval metric names, per id, per category)\n"
    "  -e, --explain          also write DIR/eval_explain.jsonl: why each failed check failed\n"
    "  -c, --compat MODE      'current' (default) or 'lm-eval-2023' (older letter_frequency)\n"
    "  -m, --allow-missing    score a prompt without a response as empty instead of failing\n"
    "  -x, --exact-match      match by key or exact prompt text only (no older-wording pairing)\n"
    "  -q, --quiet            no warnings about matching\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n";

typedef struct {
    char *key;        /* a string key may hold NULs: key_len */
    size_t key_len;
    char *prompt;     /* as json.loads gives it, in WTF-8 (may hold NULs) */
    size_t prompt_len;
    char *resp;       /* as Python's json.loads gives it, in WTF-8 */
    char *score;      /* resp, or its copy made valid UTF-8 for the checks */
    size_t resp_len;
    long line;
    int used;
} Resp;

/* ---------------------------------------------------------------- string map */

/* Keys are byte strings with a length: prompts and string keys may hold NUL
 * bytes (\u0000), and Python compares them whole. */
typedef struct {
    const char **k;
    size_t *len;
    long *v;
    size_t cap;
} Map;

static uint64_t hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int same(const char *a, size_t la, const char *b, size_t lb)
{
    return la == lb && !memcmp(a, b, la);
}

static void map_init(Map *m, size_t n)
{
    m->cap = 16;
    while (m->cap < 2 * n + 16)
        m->cap *= 2;
    m->k = xcalloc(m->cap, sizeof *m->k);
    m->len = xcalloc(m->cap, sizeof *m->len);
    m->v = xcalloc(m->cap, sizeof *m->v);
}

static void map_put(Map *m, const char *k, size_t n, long v) /* a later key overrides, like a dict */
{
    size_t i = hash_str(k, n) & (m->cap - 1);
    while (m->k[i] && !same(m->k[i], m->len[i], k, n))
        i = (i + 1) & (m->cap - 1);
    m->k[i] = k;
    m->len[i] = n;
    m->v[i] = v;
}

static long map_get(const Map *m, const char *k, size_t n)
{
    size_t i = hash_str(k, n) & (m->cap - 1);
    while (m->k[i]) {
        if (same(m->k[i], m->len[i], k, n))
            return m->v[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

static void map_release(Map *m)
{
    free(m->k);
    free(m->len);
    free(m->v);
}

/* ---------------------------------------------------------------- reading */

/* Both files are read with Python's json.loads rules rather than cJSON, as
 * the official evaluation_main reads them (json.loads per line): a prompt or
 * a response may hold \u0000 or a lone surrogate escape, which Python keeps
 * in its str and the official scorer matches, scores and writes back (cJSON
 * cuts a string at NUL and rejects lone surrogates).  Strings come back as
 * WTF-8 with their length; each response gets a scoring copy
 * (pystr_wtf8_for_scoring) and the original is what the result files write
 * back.  The prompts' kwargs get their scoring form (ifeval_prompt_parse_json). */
typedef struct {
    Resp *rs;
    size_t n, cap;
    PyJsonField f[3]; /* response, prompt, key */
} RespReader;

static char *dup_len(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void resp_add(RespReader *rr, const char *s, size_t n, size_t *pos, const char *path, long line)
{
    Err err;
    PyJsonField *re = &rr->f[0], *pr = &rr->f[1], *key = &rr->f[2];
    size_t at = *pos;
    if (pystr_json_object(s, n, pos, rr->f, 3) < 0) {
        size_t i = at;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i < n && s[i] != '{')
            err_set(&err, path, line, "expected a JSON object");
        else if (*pos >= n)
            err_set(&err, path, line, "malformed JSON: unexpected end of record");
        else
            err_set(&err, path, line, "malformed JSON at column %zu", *pos - at + 1);
        err_die(&err);
    }
    if (re->type == PYJ_ABSENT)
        err_set(&err, path, line, "\"response\" is missing"), err_die(&err);
    if (re->type != PYJ_STRING)
        err_set(&err, path, line, "\"response\" must be a string"), err_die(&err);
    if (pr->type == PYJ_ABSENT && key->type == PYJ_ABSENT)
        err_set(&err, path, line, "neither \"prompt\" nor \"key\" is given"), err_die(&err);
    if (pr->type != PYJ_ABSENT && pr->type != PYJ_STRING)
        err_set(&err, path, line, "\"prompt\" must be a string"), err_die(&err);
    if (key->type != PYJ_ABSENT && key->type != PYJ_NULL && key->type != PYJ_NUMBER &&
        key->type != PYJ_STRING)
        err_set(&err, path, line, "\"key\" must be an integer or a string"), err_die(&err);
    rr->rs = grow_array(rr->rs, &rr->cap, rr->n + 1, sizeof *rr->rs);
    Resp *r = &rr->rs[rr->n++];
    r->key = NULL;
    r->key_len = 0;
    if (key->type == PYJ_STRING) {
        r->key = dup_len(key->val.buf, key->val.len);
        r->key_len = key->val.len;
    } else if (key->type == PYJ_NUMBER) {
        char b[32];
        double v = strtod(key->val.buf, NULL);
        snprintf(b, sizeof b, fabs(v) < 1e15 && v == floor(v) ? "%.0f" : "%.17g", v);
        r->key = xstrdup(b);
        r->key_len = strlen(b);
    }
    r->prompt = pr->type == PYJ_STRING ? dup_len(pr->val.buf, pr->val.len) : NULL;
    r->prompt_len = pr->type == PYJ_STRING ? pr->val.len : 0;
    r->resp = dup_len(re->val.buf, re->val.len);
    r->resp_len = re->val.len;
    r->score = r->resp;
    if (memchr(r->resp, 0, r->resp_len) || memmem(r->resp, r->resp_len, "\xed", 1)) {
        r->score = dup_len(r->resp, r->resp_len);
        pystr_wtf8_for_scoring(r->score, r->resp_len);
    }
    r->line = line;
    r->used = 0;
}

/* Parses the object at s[*pos] into ctx and moves *pos past it, or dies
 * with path:line and the reason.  whole_line: s[0..n) is one JSONL line,
 * which fn may also just keep and step over (*pos = n), checking it later. */
typedef void RecordFn(void *ctx, const char *s, size_t n, size_t *pos, const char *path, long line,
                      int whole_line);

static void resp_record(void *ctx, const char *s, size_t n, size_t *pos, const char *path, long line,
                        int whole_line)
{
    (void)whole_line;
    resp_add(ctx, s, n, pos, path, line);
}

/* Prompt records: a JSONL line is kept as text (parsed later, in
 * parallel); an element of a JSON-array file is parsed at once (its end is
 * only known by parsing it). */
typedef struct {
    size_t off, len; /* in text, or len == SIZE_MAX: already parsed into ps */
    long line;
} PromptText;

typedef struct {
    IfevalScorer *sc;
    IfevalPrompt *ps;
    PromptText *pt;
    size_t n, cap, tcap;
    StrBuf text;
} PromptReader;

static void prompt_record(void *ctx, const char *s, size_t n, size_t *pos, const char *path, long line,
                          int whole_line)
{
    PromptReader *pr = ctx;
    Err err;
    pr->ps = grow_array(pr->ps, &pr->cap, pr->n + 1, sizeof *pr->ps);
    pr->pt = grow_array(pr->pt, &pr->tcap, pr->n + 1, sizeof *pr->pt);
    memset(&pr->ps[pr->n], 0, sizeof pr->ps[pr->n]);
    pr->pt[pr->n].line = line;
    if (whole_line) {
        pr->pt[pr->n].off = pr->text.len;
        pr->pt[pr->n].len = n - *pos;
        sb_add(&pr->text, s + *pos, n - *pos);
        *pos = n;
    } else {
        pr->pt[pr->n].len = SIZE_MAX;
        if (ifeval_prompt_parse_json(pr->sc, s, n, pos, path, line, &pr->ps[pr->n], &err) < 0)
            err_die(&err);
    }
    pr->n++;
}

/* Every record of path (JSONL, or one JSON array of records; gzip or not)
 * through fn; returns the file's display name (caller frees).  An error in
 * the file's structure (bad line, bad UTF-8, array syntax) dies, or, when
 * defer is given, stops the reading and is left in *defer (defer->msg[0]
 * stays 0 when there was none) for the caller to report after the records
 * before it: a JSONL line's own trailing characters are then the caller's
 * to check, as fn took the whole line. */
#define FAIL(...) do { err_set(&err, __VA_ARGS__); if (!defer) err_die(&err); *defer = err; goto out; } while (0)
static char *read_records(const char *path, RecordFn *fn, void *ctx, Err *defer)
{
    JsonlReader r;
    Err err;
    if (defer)
        defer->msg[0] = 0;
    const char *s;
    size_t n;
    int rc;
    StrBuf all = SB_INIT; /* the whole text when the file is one JSON array */
    long first = 0, blank = 0;
    if (jsonl_open(&r, path, &err) < 0)
        err_die(&err);
    char *display = xstrdup(r.path);
    while ((rc = jsonl_next_line(&r, &s, &n, &err)) != 0) {
        if (rc < 0) {
            if (!defer)
                err_die(&err);
            *defer = err;
            goto out;
        }
        size_t bad;
        if (!utf8_valid(s, n, &bad))
            FAIL(r.path, r.line, "invalid UTF-8 at byte %zu", bad + 1);
        if (!first) {
            size_t i = 0;
            while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
                i++;
            if (i == n) { /* blank lines: allowed before an array only */
                if (!blank)
                    blank = r.line;
                continue;
            }
            first = s[i] == '[' ? r.line : -1;
            if (first < 0 && blank)
                FAIL(r.path, blank, "empty line");
        }
        if (first > 0) {
            sb_add(&all, s, n);
            sb_addc(&all, '\n');
            continue;
        }
        if (n && s[n - 1] == '\r')
            n--; /* Python reads the file with universal newlines */
        if (n == 0)
            FAIL(r.path, r.line, "empty line");
        size_t pos = 0;
        fn(ctx, s, n, &pos, r.path, r.line, 1);
        while (pos < n && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r'))
            pos++;
        if (pos < n)
            FAIL(r.path, r.line, "malformed JSON: trailing characters at column %zu", pos + 1);
    }
    if (first > 0) { /* [ {...}, {...} ]: each element's line is where it starts */
        const char *t = all.buf;
        size_t len = all.len, pos = 0, nl_at = 0;
        long line = first;
#define SKIP_WS()                                                                         \
    while (pos < len && (t[pos] == ' ' || t[pos] == '\t' || t[pos] == '\n' || t[pos] == '\r')) \
        pos++
        SKIP_WS();
        pos++; /* '[' */
        SKIP_WS();
        int closed = pos < len && t[pos] == ']';
        if (closed)
            pos++;
        while (!closed) {
            SKIP_WS();
            for (; nl_at < pos; nl_at++)
                line += t[nl_at] == '\n';
            fn(ctx, t, len, &pos, r.path, line, 0);
            SKIP_WS();
            if (pos < len && t[pos] == ']') {
                pos++;
                closed = 1;
            } else if (pos >= len || t[pos] != ',') {
                for (; nl_at < pos && nl_at < len; nl_at++)
                    line += t[nl_at] == '\n';
                FAIL(r.path, line, pos >= len ? "malformed JSON: the array is not closed"
                                              : "malformed JSON: expected ',' or ']'");
            } else {
                pos++;
            }
        }
        SKIP_WS();
#undef SKIP_WS
        if (pos < len)
            FAIL(r.path, line, "malformed JSON: text after the array");
    }
out:
    jsonl_close(&r);
    sb_release(&all);
    return display;
}
#undef FAIL

/* The JSONL lines are parsed in parallel, one scorer per thread (but in
 * order on one thread in lm-eval-2023 mode, whose letter draws depend on
 * it); the error reported is the one the reading in file order meets
 * first: a record's, or the file's structure after the last good record. */
static IfevalPrompt *read_prompts(IfevalScorer **scs, int nth, int compat, const char *path, size_t *np)
{
    PromptReader pr = {scs[0], NULL, NULL, 0, 0, 0, SB_INIT};
    Err defer;
    char *display = read_records(path, prompt_record, &pr, &defer);
    size_t nbad = pr.n;
    Err *errs = xcalloc(pr.n ? pr.n : 1, sizeof *errs);
#pragma omp parallel for schedule(dynamic, 8) num_threads(compat == IFEVAL_COMPAT_CURRENT ? nth : 1)
    for (size_t i = 0; i < pr.n; i++) {
        const PromptText *t = &pr.pt[i];
        if (t->len == SIZE_MAX)
            continue;
        const char *s = pr.text.buf + t->off;
        size_t pos = 0;
        int rc = ifeval_prompt_parse_json(scs[omp_get_thread_num()], s, t->len, &pos, display, t->line,
                                          &pr.ps[i], &errs[i]);
        while (rc == 0 && pos < t->len && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r'))
            pos++;
        if (rc == 0 && pos < t->len) {
            ifeval_prompt_release(&pr.ps[i]);
            err_set(&errs[i], display, t->line, "malformed JSON: trailing characters at column %zu", pos + 1);
            rc = -1;
        }
        if (rc < 0) {
#pragma omp critical(ifeval_first_bad)
            if (i < nbad)
                nbad = i;
        }
    }
    if (nbad < pr.n)
        err_die(&errs[nbad]);
    if (defer.msg[0])
        err_die(&defer);
    free(errs);
    free(pr.pt);
    sb_release(&pr.text);
    free(display);
    if (!pr.n)
        die("'%s': no prompts", path);
    *np = pr.n;
    return pr.ps;
}

static Resp *read_responses(const char *path, size_t *nr, const char **display)
{
    RespReader rr = {NULL, 0, 0, {{"response", 0, SB_INIT}, {"prompt", 0, SB_INIT}, {"key", 0, SB_INIT}}};
    *display = read_records(path, resp_record, &rr, NULL);
    for (int k = 0; k < 3; k++)
        sb_release(&rr.f[k].val);
    *nr = rr.n;
    return rr.rs;
}

/* ---------------------------------------------------------------- matching */

/* (common prefix + common suffix) / longer length, in [0, 1]. */
static double similarity(const char *a, size_t la, const char *b, size_t lb)
{
    size_t m = la < lb ? la : lb, p = 0, s = 0;
    while (p < m && a[p] == b[p])
        p++;
    while (s < m - p && a[la - 1 - s] == b[lb - 1 - s])
        s++;
    size_t mx = la > lb ? la : lb;
    return mx ? (double)(p + s) / (double)mx : 1.0;
}

/* match[i] = index of the response of prompt i, or -1.  By key when the
 * response has one, else by exact prompt text (a later duplicate wins, as in
 * the official dict); a prompt left over is paired with the one unused
 * response whose prompt text is clearly the most similar (the key-2785 case:
 * an older wording of the same prompt), with a warning. */
static long *match_responses(const IfevalPrompt *ps, size_t np, Resp *rs, size_t nr,
                             const char *rpath, int quiet, int exact)
{
    long *match = xmalloc(size_mul(np ? np : 1, sizeof *match));
    Map by_key, by_prompt;
    map_init(&by_key, nr);
    map_init(&by_prompt, nr);
    for (size_t j = 0; j < nr; j++) {
        if (rs[j].key)
            map_put(&by_key, rs[j].key, rs[j].key_len, (long)j);
        if (rs[j].prompt)
            map_put(&by_prompt, rs[j].prompt, rs[j].prompt_len, (long)j);
    }
    long keydiff = 0, keydiff_line = 0;
    for (size_t i = 0; i < np; i++) {
        long j = ps[i].key ? map_get(&by_key, ps[i].key, ps[i].key_len) : -1;
        if (j >= 0) {
            if (rs[j].prompt && !same(rs[j].prompt, rs[j].prompt_len, ps[i].prompt, ps[i].prompt_len) &&
                !keydiff++)
                keydiff_line = rs[j].line;
        } else {
            j = map_get(&by_prompt, ps[i].prompt, ps[i].prompt_len);
        }
        match[i] = j;
        if (j >= 0)
            rs[j].used = 1;
    }
    if (keydiff && !quiet)
        warn("%s:%ld: %ld response(s) matched by \"key\" carry a different prompt text than the input",
             rpath, keydiff_line, keydiff);
    for (size_t i = 0; i < np && !exact; i++) {
        if (match[i] >= 0)
            continue;
        double best = 0, second = 0;
        long bj = -1;
        for (size_t j = 0; j < nr; j++) {
            if (rs[j].used || !rs[j].prompt)
                continue;
            double sim = similarity(rs[j].prompt, rs[j].prompt_len, ps[i].prompt, ps[i].prompt_len);
            if (sim > best) {
                second = best;
                best = sim;
                bj = (long)j;
            } else if (sim > second) {
                second = sim;
            }
        }
        if (bj >= 0 && best >= 0.8 && best - second >= 0.1) {
            match[i] = bj;
            rs[bj].used = 1;
            if (!quiet)
                warn("%s:%ld: prompt text differs from the input prompt%s%s (line %ld); matched as "
                     "its older wording (%.0f%% similar)",
                     rpath, rs[bj].line, ps[i].key ? " with key " : "", ps[i].key ? ps[i].key : "",
                     ps[i].line, 100 * best);
        }
    }
    long unused = 0, first_unused = 0;
    for (size_t j = 0; j < nr; j++)
        if (!rs[j].used && !unused++)
            first_unused = rs[j].line;
    if (unused && !quiet)
        warn("%s:%ld: %ld response(s) match no input prompt and are ignored", rpath, first_unused, unused);
    map_release(&by_key);
    map_release(&by_prompt);
    return match;
}

/* ---------------------------------------------------------------- writing */

static void join_path(StrBuf *out, const char *dir, const char *name)
{
    sb_reset(out);
    sb_adds(out, dir);
    if (out->len && out->buf[out->len - 1] != '/')
        sb_addc(out, '/');
    sb_adds(out, name);
}

static void write_file(const char *path, const StrBuf *data)
{
    Err err;
    if (ofile_write_all(path, data->buf, data->len, &err) < 0)
        err_die(&err);
}

static void add_reasons(StrBuf *out, const StrBuf *why, size_t n, const unsigned char *ok)
{
    sb_addc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_adds(out, ", ");
        if (ok[i])
            sb_adds(out, "null");
        else
            pystr_json_dump_str(out, why[i].buf, why[i].len);
    }
    sb_addc(out, ']');
}

/* ---------------------------------------------------------------- scoring */

typedef struct {
    unsigned char *st, *lo;        /* strict / loose result per position */
    StrBuf line_s, line_l, line_x; /* eval_results lines, explain line */
} Scored;

static void score_one(IfevalScorer *sc, const IfevalPrompt *p, const char *resp, const char *scored, size_t rlen,
                      int lines, int explain, Scored *o)
{
    o->st = xmalloc(p->n + 1);
    o->lo = xmalloc(p->n + 1);
    sb_init(&o->line_s);
    sb_init(&o->line_l);
    sb_init(&o->line_x);
    StrBuf *ws = NULL, *wl = NULL;
    if (explain) {
        ws = xcalloc(p->n + 1, sizeof *ws);
        wl = xcalloc(p->n + 1, sizeof *wl);
        for (size_t k = 0; k < p->n; k++) {
            sb_init(&ws[k]);
            sb_init(&wl[k]);
        }
    }
    ifeval_score(sc, p, scored, rlen, o->st, o->lo, ws, wl);
    if (lines) {
        ifeval_result_lines(&o->line_s, &o->line_l, p, resp, rlen, o->st, o->lo);
    }
    if (!explain)
        return;
    StrBuf *x = &o->line_x;
    sb_adds(x, "{\"key\": ");
    if (p->key && p->key_len && strspn(p->key, "-0123456789") == p->key_len)
        sb_adds(x, p->key); /* an integer key stays an integer */
    else if (p->key)
        pystr_json_dump_str(x, p->key, p->key_len);
    else
        sb_adds(x, "null");
    sb_adds(x, ", \"instruction_id_list\": [");
    for (size_t k = 0; k < p->n; k++) {
        if (k)
            sb_adds(x, ", ");
        pystr_json_dump_str(x, p->ids[k], strlen(p->ids[k]));
    }
    sb_adds(x, "], \"strict_reasons\": ");
    add_reasons(x, ws, p->n, o->st);
    sb_adds(x, ", \"loose_reasons\": ");
    add_reasons(x, wl, p->n, o->lo);
    sb_adds(x, "}\n");
    for (size_t k = 0; k < p->n; k++) {
        sb_release(&ws[k]);
        sb_release(&wl[k]);
    }
    free(ws);
    free(wl);
}

/* The result files (strict, loose and, when asked, explain) from the
 * per-prompt lines: opened in turn (ofile's cleanup table is not
 * thread-safe), then written and committed side by side, so their
 * writing and fsyncs overlap; whole or not at all each. */
static void write_results(const char *outdir, const char *const *names, int nf, const Scored *out, size_t np,
                          int nth)
{
    OutFile o[3];
    FILE *f[3];
    Err err[3];
    int rc[3] = {0, 0, 0};
    StrBuf path = SB_INIT;
    for (int m = 0; m < nf; m++) {
        join_path(&path, outdir, names[m]);
        if (!(f[m] = ofile_open(&o[m], path.buf, &err[0])))
            err_die(&err[0]);
    }
    sb_release(&path);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth > 1 ? 2 : 1)
    for (int m = 0; m < nf; m++) {
        setvbuf(f[m], NULL, _IOFBF, 1 << 20);
        for (size_t i = 0; i < np; i++) {
            const StrBuf *l = m == 0 ? &out[i].line_s : m == 1 ? &out[i].line_l : &out[i].line_x;
            if (l->len)
                fwrite(l->buf, 1, l->len, f[m]);
        }
        rc[m] = ofile_commit(&o[m], &err[m]);
    }
    for (int m = 0; m < nf; m++)
        if (rc[m] < 0)
            err_die(&err[m]);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"responses", required_argument, NULL, 'r'},
        {"output-dir", required_argument, NULL, 'd'},
        {"summary", required_argument, NULL, 's'},
        {"explain", no_argument, NULL, 'e'},
        {"compat", required_argument, NULL, 'c'},
        {"allow-missing", no_argument, NULL, 'm'},
        {"exact-match", no_argument, NULL, 'x'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *input = NULL, *responses = NULL, *outdir = NULL, *summary = NULL;
    int explain = 0, compat = IFEVAL_COMPAT_CURRENT, allow_missing = 0, quiet = 0, exact = 0, c;
    util_set_prog(argv[0]);
    while ((c = getopt_long(argc, argv, "i:r:d:s:ec:mxqhV", opts, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'r': responses = optarg; break;
        case 'd': outdir = optarg; break;
        case 's': summary = optarg; break;
        case 'e': explain = 1; break;
        case 'c':
            if (!strcmp(optarg, "current"))
                compat = IFEVAL_COMPAT_CURRENT;
            else if (!strcmp(optarg, "lm-eval-2023"))
                compat = IFEVAL_COMPAT_LMEVAL2023;
            else
                die_usage("unknown --compat mode '%s' (current, lm-eval-2023)", optarg);
            break;
        case 'm': allow_missing = 1; break;
        case 'x': exact = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage_text, stdout); util_close_stdout(); return 0;
        case 'V': util_print_version();
        default: die_usage("unknown option");
        }
    }
    if (optind < argc)
        die_usage("unexpected argument '%s'", argv[optind]);
    if (!responses)
        die_usage("--responses is required");
    if (explain && !outdir)
        die_usage("--explain needs --output-dir");
    char *input_path = xstrdup(input ? input : util_datapath("ifeval/input_data.jsonl"));

    Err err, err2;
    IfevalScorer *sc = NULL;
    size_t np, nr;
    IfevalPrompt *ps = NULL;
    Resp *rs = NULL;
    long *match = NULL;
    const char *rdisplay = NULL;
    /* The shipped models (Punkt parameters, the mmap'd langdetect table)
     * load beside the reading of the response file (~10% of the 541-prompt
     * run's instructions off the critical path); the input file is read
     * after both.  Only one user file is read in parallel, so which error
     * is reported never depends on timing: a bad response file's, then a
     * bad input file's.  A missing model is an installation error,
     * reported after the section. */
    /* Threads: scoring is ~70% of the instructions for the 541 dev prompts,
     * so two threads shorten the wall time on an idle machine; on a busy one
     * the idle thread's spinning at the barriers costs CPU.
     * OMP_NUM_THREADS=1 picks the cheaper one.  One scorer per thread. */
    int nth = omp_get_max_threads();
    if (nth < 1)
        nth = 1;
    IfevalScorer **scs = xcalloc((size_t)nth, sizeof *scs);
    int model_ok = 1;
#pragma omp parallel sections num_threads(nth > 1 ? 2 : 1)
    {
#pragma omp section
        {
            for (int t = 0; t < nth && model_ok; t++)
                model_ok = (scs[t] = ifeval_scorer_new(compat, &err2)) != NULL;
            model_ok = model_ok && ifeval_preload(&err2) == 0;
        }
#pragma omp section
        rs = read_responses(responses, &nr, &rdisplay);
    }
    if (!model_ok)
        err_die(&err2);
    sc = scs[0];
    ps = read_prompts(scs, nth, compat, input_path, &np);
    match = match_responses(ps, np, rs, nr, rdisplay, quiet, exact);
    long missing = 0;
    for (size_t i = 0; i < np; i++) {
        if (match[i] >= 0)
            continue;
        if (!allow_missing)
            die("%s:%ld: no response for the prompt%s%s in '%s' (--allow-missing scores it as empty)",
                input_path, ps[i].line, ps[i].key ? " with key " : "", ps[i].key ? ps[i].key : "",
                rdisplay);
        missing++;
    }
    if (missing && !quiet)
        warn("%ld prompt(s) without a response, scored as empty responses", missing);

    if (outdir && mkdir(outdir, 0777) < 0 && errno != EEXIST)
        die("cannot create '%s':", outdir);

    /* Score in parallel (prompts and responses are read-only), then tally
     * and write in input order. */
    Scored *out = xcalloc(np, sizeof *out);
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t i = 0; i < np; i++) {
        const char *resp = match[i] >= 0 ? rs[match[i]].resp : "";
        const char *scored = match[i] >= 0 ? rs[match[i]].score : "";
        size_t rlen = match[i] >= 0 ? rs[match[i]].resp_len : 0;
        score_one(scs[omp_get_thread_num()], &ps[i], resp, scored, rlen, outdir != NULL, explain, &out[i]);
    }
    for (int t = 0; t < nth; t++)
        if (ifeval_scorer_error(scs[t], &err) < 0)
            err_die(&err);
    for (int t = 1; t < nth; t++)
        ifeval_scorer_free(scs[t]);
    free(scs);

    IfevalTally ts = {0}, tl = {0};
    for (size_t i = 0; i < np; i++) {
        ifeval_tally_add(&ts, &ps[i], out[i].st);
        ifeval_tally_add(&tl, &ps[i], out[i].lo);
    }
    StrBuf path = SB_INIT, rep = SB_INIT;
    const char *names[3] = {"eval_results_strict.jsonl", "eval_results_loose.jsonl", "eval_explain.jsonl"};
    if (outdir)
        write_results(outdir, names, explain ? 3 : 2, out, np, nth);
    for (int m = 0; m < 2; m++) {
        if (outdir) {
            join_path(&path, outdir, names[m]);
        } else {
            sb_reset(&path);
            sb_adds(&path, names[m]);
        }
        sb_adds(&rep, "================================================================\n");
        sb_addf(&rep, "%s Accuracy Scores:\n", path.buf);
        ifeval_report(&rep, m ? &tl : &ts);
    }
    for (size_t i = 0; i < np; i++) {
        free(out[i].st);
        free(out[i].lo);
        sb_release(&out[i].line_s);
        sb_release(&out[i].line_l);
        sb_release(&out[i].line_x);
    }
    free(out);
    if (summary) {
        StrBuf sj = SB_INIT;
        ifeval_summary(&sj, &ts, &tl, input_path, rdisplay);
        write_file(summary, &sj);
        sb_release(&sj);
    }
    fwrite(rep.buf, 1, rep.len, stdout);

    sb_release(&path);
    sb_release(&rep);
    free(match);
    for (size_t j = 0; j < nr; j++) {
        free(rs[j].key);
        free(rs[j].prompt);
        if (rs[j].score != rs[j].resp)
            free(rs[j].score);
        free(rs[j].resp);
    }
    free(rs);
    for (size_t i = 0; i < np; i++)
        ifeval_prompt_release(&ps[i]);
    free(ps);
    free((char *)rdisplay);
    free(input_path);
    ifeval_scorer_free(sc);
    util_close_stdout();
    return 0;
}
