/*
 * ifeval.c - the IFEval checks (see ifeval.h and reference/ifeval-spec.md).
 *
 * Design
 *   - Regexes: every pattern of the official code, and every kwarg the
 *     official code uses as a regex (keywords, forbidden words, postscript
 *     markers, section spliters), is compiled once: the fixed ones in
 *     ifeval_scorer_new, the kwarg ones when the prompt is parsed, so the nine
 *     texts scored per instruction (strict + eight loose variants) reuse them.
 *     JIT is on; a match context caps the match and depth counts.
 *   - Python `re` is not PCRE2.  Python's \w is [\p{L}\p{N}_] (combining marks
 *     are not word characters; PCRE2 >= 10.43 would add Mn and Pc under UCP),
 *     \s is str.isspace() (with \x1c-\x1f), '.' stops only at '\n', '^' under
 *     MULTILINE also matches after a final '\n'.  pyre_translate() rewrites
 *     \w \W \s \S \b \B \Z in patterns into explicit PCRE2 classes, and
 *     findall/split follow Python's rule after an empty match
 *     (PCRE2_NOTEMPTY_ATSTART at the end of an empty match).
 *   - Loose mode checks up to 8 texts per instruction; a candidate equal to
 *     an earlier one is skipped (checks are pure), which halves the work for
 *     responses without '*'.  pcre2_match would re-validate UTF-8 on every
 *     findall step (quadratic), so a response is validated once and matched
 *     with PCRE2_NO_UTF_CHECK.
 *   - Cost (bench/RESULTS.md): the 541 GPT-4 responses, strict + loose, take
 *     ~0.03 s CPU in these checks (with langdetect stubbed out); with it, the
 *     whole run is ~0.13 s CPU, of which ~0.07 s is loading the langdetect
 *     profiles and most of the rest langdetect's detection.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifeval.h"
#include "ifeval_pystr.h"
#include "langdetect.h"
#include "punkt.h"
#include "rng.h"
#include "wordtok.h"

#define MATCH_LIMIT 20000000u
#define DEPTH_LIMIT 100000u

/* Python str.isspace() as a PCRE2 class body, and \w. */
#define PYSPACE_BODY "\\t\\n\\x0b\\f\\r \\x1c-\\x1f\\x85\\xa0\\x{1680}\\x{2000}-\\x{200a}" \
                     "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
#define PYSPACE "[" PYSPACE_BODY "]"
#define PYWORD_BODY "\\p{L}\\p{N}_"
#define PYWORD "[" PYWORD_BODY "]"

/* ---------------------------------------------------------------- registry */

static const char *const id_names[IFEVAL_N_IDS] = {
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "combination:two_responses",
    "combination:repeat_prompt",
    "startend:end_checker",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
    "startend:quotation",
};

/* kwargs per id: name and type ('s' string, 'i' integer, 'l' list of
 * strings, 'r' relation), in build_description's argument order. */
typedef struct {
    const char *name;
    char type;
} KwSpec;

static const KwSpec kw_specs[IFEVAL_N_IDS][4] = {
    [IF_KEYWORDS_EXISTENCE] = {{"keywords", 'l'}},
    [IF_KEYWORDS_FREQUENCY] = {{"keyword", 's'}, {"frequency", 'i'}, {"relation", 'r'}},
    [IF_KEYWORDS_FORBIDDEN] = {{"forbidden_words", 'l'}},
    [IF_KEYWORDS_LETTER_FREQUENCY] = {{"letter", 's'}, {"let_frequency", 'i'}, {"let_relation", 'r'}},
    [IF_LANGUAGE] = {{"language", 's'}},
    [IF_NUMBER_SENTENCES] = {{"num_sentences", 'i'}, {"relation", 'r'}},
    [IF_NUMBER_PARAGRAPHS] = {{"num_paragraphs", 'i'}},
    [IF_NUMBER_WORDS] = {{"num_words", 'i'}, {"relation", 'r'}},
    [IF_NTH_PARAGRAPH_FIRST_WORD] = {{"num_paragraphs", 'i'}, {"nth_paragraph", 'i'}, {"first_word", 's'}},
    [IF_PLACEHOLDERS] = {{"num_placeholders", 'i'}},
    [IF_POSTSCRIPT] = {{"postscript_marker", 's'}},
    [IF_BULLET_LISTS] = {{"num_bullets", 'i'}},
    [IF_HIGHLIGHTS] = {{"num_highlights", 'i'}},
    [IF_MULTIPLE_SECTIONS] = {{"section_spliter", 's'}, {"num_sections", 'i'}},
    [IF_REPEAT_PROMPT] = {{"prompt_to_repeat", 's'}},
    [IF_END_CHECKER] = {{"end_phrase", 's'}},
    [IF_CAPITAL_WORD_FREQUENCY] = {{"capital_frequency", 'i'}, {"capital_relation", 'r'}},
};

const char *ifeval_id_name(int id)
{
    return id >= 0 && id < IFEVAL_N_IDS ? id_names[id] : "?";
}

int ifeval_id_lookup(const char *name)
{
    for (int i = 0; i < IFEVAL_N_IDS; i++)
        if (!strcmp(name, id_names[i]))
            return i;
    return -1;
}

/* ---------------------------------------------------------------- scorer */

enum {
    RE_WORDS, RE_PARAGRAPHS, RE_PLACEHOLDER, RE_BULLET_STAR, RE_BULLET_DASH,
    RE_HL_SINGLE, RE_HL_DOUBLE, RE_TITLE, RE_PS_PPS, RE_PS_PS, N_FIXED
};

static const char *const fixed_patterns[N_FIXED] = {
    [RE_WORDS] = PYWORD "+",
    [RE_PARAGRAPHS] = PYSPACE "?\\*\\*\\*" PYSPACE "?",
    [RE_PLACEHOLDER] = "\\[.*?\\]",
    [RE_BULLET_STAR] = "^" PYSPACE "*\\*[^\\*].*$",
    [RE_BULLET_DASH] = "^" PYSPACE "*-.*$",
    [RE_HL_SINGLE] = "\\*[^\\n\\*]*\\*",
    [RE_HL_DOUBLE] = "\\*\\*[^\\n\\*]*\\*\\*",
    [RE_TITLE] = "<<[^\\n]+>>",
    [RE_PS_PPS] = PYSPACE "*p\\." PYSPACE "?p\\." PYSPACE "?s.*$",
    [RE_PS_PS] = PYSPACE "*p\\." PYSPACE "?s\\..*$",
};

struct IfevalScorer {
    int compat;
    const PunktModel *punkt;
    const LangDetector *lang;
    pcre2_compile_context *cctx;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    pcre2_match_data *md;
    pcre2_code *fixed[N_FIXED];
    Rng rng;                   /* lm-eval-2023 random letters */
    int limit_hit;             /* set when a regex gave up in the current check */
    int lang_failed;           /* the langdetect profiles could not be loaded */
    Err lang_err;
    uint32_t match_opts;       /* PCRE2_NO_UTF_CHECK once the response is known valid */
    int ascii;                 /* the text being checked is all ASCII (set with match_opts) */
    StrBuf t1, t2;             /* scratch */
};

static const uint32_t BASE_OPTS = PCRE2_UTF | PCRE2_UCP | PCRE2_ALT_CIRCUMFLEX;

static pcre2_code *re_compile_jit(IfevalScorer *s, const char *pat, uint32_t opts, int jit, StrBuf *errmsg)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, BASE_OPTS | opts,
                                  &ec, &off, s->cctx);
    if (!c) {
        PCRE2_UCHAR msg[200];
        pcre2_get_error_message(ec, msg, sizeof msg);
        sb_addf(errmsg, "%s at offset %zu", (char *)msg, (size_t)off);
        return NULL;
    }
    if (jit)
        pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return c;
}

static pcre2_code *re_compile(IfevalScorer *s, const char *pat, uint32_t opts, StrBuf *errmsg)
{
    return re_compile_jit(s, pat, opts, 1, errmsg);
}

IfevalScorer *ifeval_scorer_new(int compat, Err *err)
{
    if (pystr_init(err) < 0)
        return NULL;
    const PunktModel *pm = punkt_english(err);
    if (!pm)
        return NULL;
    IfevalScorer *s = xcalloc(1, sizeof *s);
    s->compat = compat;
    s->punkt = pm;
    s->cctx = pcre2_compile_context_create(NULL);
    pcre2_set_newline(s->cctx, PCRE2_NEWLINE_LF);
    s->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(s->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, DEPTH_LIMIT);
    s->jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    s->md = pcre2_match_data_create(4, NULL);
    rng_seed(&s->rng, 0);
    sb_init(&s->t1);
    sb_init(&s->t2);
    for (int i = 0; i < N_FIXED; i++) {
        StrBuf m = SB_INIT;
        uint32_t o = (i == RE_BULLET_STAR || i == RE_BULLET_DASH || i == RE_PS_PPS || i == RE_PS_PS)
                         ? PCRE2_MULTILINE : 0;
        s->fixed[i] = re_compile(s, fixed_patterns[i], o, &m);
        if (!s->fixed[i]) {
            err_set(err, NULL, 0, "internal pattern %d: %s", i, m.buf);
            sb_release(&m);
            ifeval_scorer_free(s);
            return NULL;
        }
    }
    return s;
}

void ifeval_scorer_free(IfevalScorer *s)
{
    if (!s)
        return;
    for (int i = 0; i < N_FIXED; i++)
        pcre2_code_free(s->fixed[i]);
    pcre2_match_data_free(s->md);
    pcre2_jit_stack_free(s->jit_stack);
    pcre2_match_context_free(s->mctx);
    pcre2_compile_context_free(s->cctx);
    sb_release(&s->t1);
    sb_release(&s->t2);
    free(s);
}

/* ---------------------------------------------------------------- Python re */

/* Python's re.IGNORECASE makes i, I, U+0130 and U+0131 one class (sre
 * compares lower() and knows the i/dotless-i equivalence); PCRE2 caseless
 * matching follows Unicode simple case folding, where the two Turkish letters
 * only match themselves.  1 if p[0..] starts with one of the four. */
static size_t turkish_i(const char *p)
{
    if (*p == 'i' || *p == 'I')
        return 1;
    if ((unsigned char)p[0] == 0xc4 && ((unsigned char)p[1] == 0xb0 || (unsigned char)p[1] == 0xb1))
        return 2;
    return 0;
}

#define TURKISH_I_BODY "iI\\x{130}\\x{131}"

/* Rewrite a Python `re` pattern fragment into PCRE2 with Python's classes
 * (and, for IGNORECASE patterns, Python's i-equivalence). */
static void pyre_translate(const char *p, int caseless, StrBuf *out)
{
    int in_class = 0, class_has_i = 0;
    int prev_lit = -1; /* last ASCII literal in the class, for ranges */
    for (size_t i = 0; p[i]; i++) {
        char c = p[i];
        if (c == '\\' && p[i + 1]) {
            char e = p[++i];
            prev_lit = -1;
            if (!in_class) {
                switch (e) {
                case 'w': sb_adds(out, PYWORD); continue;
                case 'W': sb_adds(out, "[^" PYWORD_BODY "]"); continue;
                case 's': sb_adds(out, PYSPACE); continue;
                case 'S': sb_adds(out, "[^" PYSPACE_BODY "]"); continue;
                case 'b': sb_adds(out, "(?:(?<=" PYWORD ")(?!" PYWORD ")|(?<!" PYWORD ")(?=" PYWORD "))"); continue;
                case 'B': sb_adds(out, "(?:(?<=" PYWORD ")(?=" PYWORD ")|(?<!" PYWORD ")(?!" PYWORD "))"); continue;
                case 'Z': sb_adds(out, "\\z"); continue;
                }
            } else {
                switch (e) {
                case 'w': sb_adds(out, PYWORD_BODY); continue;
                case 's': sb_adds(out, PYSPACE_BODY); continue;
                }
            }
            sb_addc(out, '\\');
            sb_addc(out, e);
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            class_has_i = 0;
            prev_lit = -1;
            sb_addc(out, c);
            if (p[i + 1] == '^')
                sb_addc(out, p[++i]);
            if (p[i + 1] == ']')
                sb_addc(out, p[++i]);
            continue;
        }
        if (in_class && c == ']') {
            if (caseless && class_has_i)
                sb_adds(out, TURKISH_I_BODY);
            in_class = 0;
            sb_addc(out, c);
            continue;
        }
        size_t ti = caseless ? turkish_i(p + i) : 0;
        if (ti && !in_class) {
            sb_adds(out, "[" TURKISH_I_BODY "]");
            i += ti - 1;
            continue;
        }
        if (in_class) {
            if (ti)
                class_has_i = 1;
            if (c == '-' && prev_lit >= 0 && p[i + 1] && p[i + 1] != ']' && (unsigned char)p[i + 1] < 0x80) {
                int hi = (unsigned char)p[i + 1];
                if ((prev_lit <= 'i' && 'i' <= hi) || (prev_lit <= 'I' && 'I' <= hi))
                    class_has_i = 1;
            }
            prev_lit = (unsigned char)c < 0x80 ? (unsigned char)c : -1;
        }
        sb_addc(out, c);
    }
}

/* One match at or after *start; returns 1 and sets [*mb, *me), 0 if none.
 * Python findall's rule: after an empty match, the next may not be empty at
 * the same place (notempty_atstart). */
static int re_next(IfevalScorer *s, pcre2_code *re, const char *v, size_t n, size_t start,
                   int notempty, size_t *mb, size_t *me)
{
    if (start > n)
        return 0;
    int rc = pcre2_match(re, (PCRE2_SPTR)v, n, start,
                         s->match_opts | (notempty ? PCRE2_NOTEMPTY_ATSTART : 0), s->md, s->mctx);
    if (rc < 0) {
        if (rc != PCRE2_ERROR_NOMATCH)
            s->limit_hit = 1;
        return 0;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    *mb = ov[0];
    *me = ov[1];
    return 1;
}

static int re_search(IfevalScorer *s, pcre2_code *re, const char *v, size_t n)
{
    size_t b, e;
    return re_next(s, re, v, n, 0, 0, &b, &e);
}

/* Iterate findall matches: for (FINDALL(...)) style helper. */
typedef struct {
    size_t pos;
    int empty;
    size_t b, e;
} ReIter;

static int re_iter(IfevalScorer *s, pcre2_code *re, const char *v, size_t n, ReIter *it)
{
    if (!re_next(s, re, v, n, it->pos, it->empty, &it->b, &it->e))
        return 0;
    it->empty = it->b == it->e;
    it->pos = it->e;
    return 1;
}

static long re_count(IfevalScorer *s, pcre2_code *re, const char *v, size_t n)
{
    ReIter it = {0, 0, 0, 0};
    long k = 0;
    while (re_iter(s, re, v, n, &it))
        k++;
    return k;
}

/* ---------------------------------------------------------------- kwargs */

static int relation_of(const char *v, int *less)
{
    if (!strcmp(v, "less than")) {
        *less = 1;
        return 0;
    }
    if (!strcmp(v, "at least")) {
        *less = 0;
        return 0;
    }
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *json_type_name(const cJSON *j)
{
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsArray(j)) return "a list";
    if (cJSON_IsObject(j)) return "an object";
    return "null";
}

static char *strip_dup(const char *v, size_t *len)
{
    size_t b, e;
    pystr_strip(v, strlen(v), &b, &e);
    *len = e - b;
    return xstrndup(v + b, e - b);
}

static char *lower_dup(const char *v, size_t n, size_t *len)
{
    StrBuf sb = SB_INIT;
    pystr_lower(v, n, &sb);
    return sb_detach(&sb, len);
}

/* A keyword the official code hands to re as a pattern is plain text when
 * it is non-empty ASCII without a metacharacter; then, on an ASCII
 * response, re.IGNORECASE is ASCII case folding (Python's non-ASCII case
 * equivalents of ASCII letters — K/KELVIN SIGN, s/LONG S, i/DOTTED I — need
 * a non-ASCII response) and \b is the edge of [A-Za-z0-9_]. */
static int is_literal(const char *w)
{
    if (!*w)
        return 0;
    for (const unsigned char *p = (const unsigned char *)w; *p; p++)
        if (*p >= 0x80 || strchr(".^$*+?{}[]\\|()", *p))
            return 0;
    return 1;
}

/* The PCRE2 form of keyword pattern k: re.search(keyword), re.search(
 * r"\b" + word + r"\b") or re.findall(keyword), all re.IGNORECASE. */
static void keyword_pattern(const IfevalInstruction *in, size_t k, StrBuf *out)
{
    StrBuf pat = SB_INIT;
    if (in->id == IF_KEYWORDS_FREQUENCY) {
        sb_add(&pat, in->str, in->str_len);
    } else {
        if (in->id == IF_KEYWORDS_FORBIDDEN)
            sb_adds(&pat, "\\b");
        sb_adds(&pat, in->words[k]);
        if (in->id == IF_KEYWORDS_FORBIDDEN)
            sb_adds(&pat, "\\b");
    }
    sb_reset(out);
    pyre_translate(pat.buf ? pat.buf : "", 1, out);
    sb_release(&pat);
}

/* Build one instruction from its kwargs object (build_description). */
static int build_instruction(IfevalScorer *s, IfevalInstruction *in, int id, const cJSON *kw,
                             size_t pos, const char *file, long line, Err *err)
{
    const KwSpec *spec = kw_specs[id];
    const cJSON *got[4] = {0};
    const cJSON *it;
    in->id = id;
    for (it = kw->child; it; it = it->next) {
        if (cJSON_IsNull(it))
            continue; /* the Hugging Face copy carries every kwarg, null when unused */
        int k;
        for (k = 0; k < 4 && spec[k].name; k++)
            if (!strcmp(spec[k].name, it->string))
                break;
        if (k == 4 || !spec[k].name) {
            err_set(err, file, line, "unexpected kwarg \"%s\" for \"%s\" (kwargs[%zu])",
                    it->string, id_names[id], pos);
            return -1;
        }
        const char *want = NULL;
        switch (spec[k].type) {
        case 's':
        case 'r':
            if (!cJSON_IsString(it))
                want = "a string";
            break;
        case 'i':
            if (!cJSON_IsNumber(it) || !(fabs(it->valuedouble) < 1e15) ||
                it->valuedouble != floor(it->valuedouble))
                want = "an integer";
            break;
        case 'l':
            if (!cJSON_IsArray(it)) {
                want = "a list of strings";
            } else {
                const cJSON *w;
                for (w = it->child; w; w = w->next)
                    if (!cJSON_IsString(w))
                        want = "a list of strings";
            }
            break;
        }
        if (want) {
            err_set(err, file, line, "kwarg \"%s\" of \"%s\" (kwargs[%zu]) must be %s, not %s",
                    it->string, id_names[id], pos, want, json_type_name(it));
            return -1;
        }
        got[k] = it;
    }
    for (int k = 0; k < 4 && spec[k].name; k++) {
        if (!got[k]) {
            err_set(err, file, line, "missing kwarg \"%s\" for \"%s\" (kwargs[%zu])",
                    spec[k].name, id_names[id], pos);
            return -1;
        }
        if (spec[k].type == 'r' && relation_of(got[k]->valuestring, &in->less_than) < 0) {
            err_set(err, file, line,
                    "kwarg \"%s\" of \"%s\" (kwargs[%zu]) must be \"less than\" or \"at least\", not \"%s\"",
                    spec[k].name, id_names[id], pos, got[k]->valuestring);
            return -1;
        }
        if (spec[k].type == 'i') {
            long v = (long)got[k]->valuedouble;
            /* negative values are redrawn at random by the official build,
             * except capital_frequency, which is used as given */
            if (v < 0 && id != IF_CAPITAL_WORD_FREQUENCY) {
                err_set(err, file, line, "kwarg \"%s\" of \"%s\" (kwargs[%zu]) must not be negative",
                        spec[k].name, id_names[id], pos);
                return -1;
            }
            if (id == IF_NTH_PARAGRAPH_FIRST_WORD && k == 1)
                in->nth = v;
            else
                in->num = v;
        }
        if ((spec[k].type == 'l' && !got[k]->child) ||
            (spec[k].type == 's' && !*got[k]->valuestring &&
             (id == IF_KEYWORDS_FREQUENCY || id == IF_REPEAT_PROMPT))) {
            /* the official build draws random keywords here (or raises) */
            err_set(err, file, line, "kwarg \"%s\" of \"%s\" (kwargs[%zu]) must not be empty",
                    spec[k].name, id_names[id], pos);
            return -1;
        }
        if (spec[k].type == 'l') {
            const cJSON *w;
            size_t n = (size_t)cJSON_GetArraySize(got[k]), i = 0;
            in->words = xcalloc(n ? n : 1, sizeof *in->words);
            for (w = got[k]->child; w; w = w->next)
                in->words[i++] = xstrdup(w->valuestring);
            qsort(in->words, n, sizeof *in->words, cmp_str);
            if (id == IF_KEYWORDS_FORBIDDEN) { /* sorted(set(...)) */
                size_t o = 0;
                for (i = 0; i < n; i++) {
                    if (o && !strcmp(in->words[o - 1], in->words[i]))
                        free(in->words[i]);
                    else
                        in->words[o++] = in->words[i];
                }
                n = o;
            }
            in->n_words = n;
        }
    }

    /* Per-id normalisation (build_description) and regex compilation. */
    StrBuf pat = SB_INIT, msg = SB_INIT;
    const char *sval = NULL;
    for (int k = 0; k < 4 && spec[k].name; k++)
        if (spec[k].type == 's')
            sval = got[k]->valuestring;
    int rc = 0;
    switch (id) {
    case IF_KEYWORDS_EXISTENCE:
    case IF_KEYWORDS_FORBIDDEN:
    case IF_KEYWORDS_FREQUENCY:
        if (id == IF_KEYWORDS_FREQUENCY) {
            in->str = strip_dup(sval, &in->str_len);
            in->literal = is_literal(in->str);
        } else {
            in->literal = 1;
            for (size_t i = 0; i < in->n_words; i++)
                in->literal &= is_literal(in->words[i]);
        }
        in->n_re = id == IF_KEYWORDS_FREQUENCY ? 1 : in->n_words;
        in->re = xcalloc(in->n_re ? in->n_re : 1, sizeof *in->re);
        /* Literal keywords are searched without PCRE2 in ASCII responses;
         * their patterns are compiled on first use by a non-ASCII one
         * (keyword_re).  The others are compiled and checked now. */
        for (size_t i = 0; i < in->n_re && !in->literal && rc == 0; i++) {
            keyword_pattern(in, i, &pat);
            if (!(in->re[i] = re_compile(s, pat.buf, PCRE2_CASELESS, &msg))) {
                if (id == IF_KEYWORDS_FREQUENCY)
                    err_set(err, file, line, "kwarg \"keyword\" of \"%s\" (kwargs[%zu]): bad regex \"%s\": %s",
                            id_names[id], pos, in->str, msg.buf);
                else
                    err_set(err, file, line, "kwarg \"%s\" of \"%s\" (kwargs[%zu]): bad regex \"%s\": %s",
                            spec[0].name, id_names[id], pos, in->words[i], msg.buf);
                rc = -1;
            }
        }
        break;
    case IF_KEYWORDS_LETTER_FREQUENCY: {
        if (pystr_len(sval, strlen(sval)) != 1) {
            /* The official code draws a random letter here; refuse instead. */
            err_set(err, file, line, "kwarg \"letter\" of \"%s\" (kwargs[%zu]) must be one character, not \"%s\"",
                    id_names[id], pos, sval);
            rc = -1;
            break;
        }
        size_t sl;
        char *st = strip_dup(sval, &sl);
        in->str = lower_dup(st, sl, &in->str_len);
        free(st);
        if (s->compat == IFEVAL_COMPAT_LMEVAL2023 &&
            !(in->str_len == 1 && in->str[0] >= 'a' && in->str[0] <= 'z')) {
            static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
            char c = letters[rng_below(&s->rng, 52)];
            free(in->str);
            in->str = xstrndup(&c, 1);
            in->str[0] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
            in->str_len = 1;
        }
        break;
    }
    case IF_LANGUAGE:
        in->str = xstrdup(sval);
        in->str_len = strlen(sval);
        break;
    case IF_NTH_PARAGRAPH_FIRST_WORD:
        if (in->nth < 1 || in->nth > in->num) {
            /* The official code draws a random number here; refuse instead. */
            err_set(err, file, line, "kwarg \"nth_paragraph\" of \"%s\" (kwargs[%zu]) must be in 1..%ld, not %ld",
                    id_names[id], pos, in->num, in->nth);
            rc = -1;
            break;
        }
        in->str = lower_dup(sval, strlen(sval), &in->str_len);
        break;
    case IF_POSTSCRIPT: {
        in->str = strip_dup(sval, &in->str_len);
        if (!strcmp(in->str, "P.P.S"))
            break; /* fixed RE_PS_PPS */
        if (!strcmp(in->str, "P.S."))
            break; /* fixed RE_PS_PS */
        size_t ll;
        char *lo = lower_dup(in->str, in->str_len, &ll);
        sb_adds(&pat, "\\s*");
        sb_adds(&pat, lo);
        sb_adds(&pat, ".*$");
        free(lo);
        StrBuf tr = SB_INIT;
        pyre_translate(pat.buf, 0, &tr);
        in->re = xcalloc(1, sizeof *in->re);
        in->n_re = 1;
        if (!(in->re[0] = re_compile(s, tr.buf, PCRE2_MULTILINE, &msg))) {
            err_set(err, file, line, "kwarg \"postscript_marker\" of \"%s\" (kwargs[%zu]): bad regex \"%s\": %s",
                    id_names[id], pos, in->str, msg.buf);
            rc = -1;
        }
        sb_release(&tr);
        break;
    }
    case IF_MULTIPLE_SECTIONS: {
        in->str = strip_dup(sval, &in->str_len);
        sb_adds(&pat, "\\s?");
        sb_adds(&pat, in->str);
        sb_adds(&pat, "\\s?\\d+\\s?");
        StrBuf tr = SB_INIT;
        pyre_translate(pat.buf, 0, &tr);
        in->re = xcalloc(1, sizeof *in->re);
        in->n_re = 1;
        if (!(in->re[0] = re_compile(s, tr.buf, 0, &msg))) {
            err_set(err, file, line, "kwarg \"section_spliter\" of \"%s\" (kwargs[%zu]): bad regex \"%s\": %s",
                    id_names[id], pos, in->str, msg.buf);
            rc = -1;
        }
        sb_release(&tr);
        break;
    }
    case IF_REPEAT_PROMPT:
    case IF_END_CHECKER: {
        size_t sl;
        char *st = strip_dup(sval, &sl);
        in->str = lower_dup(st, sl, &in->str_len);
        free(st);
        break;
    }
    default:
        break;
    }
    sb_release(&pat);
    sb_release(&msg);
    return rc;
}

static void instruction_release(IfevalInstruction *in)
{
    for (size_t i = 0; i < in->n_words; i++)
        free(in->words[i]);
    free(in->words);
    for (size_t i = 0; i < in->n_re; i++)
        pcre2_code_free(in->re[i]);
    free(in->re);
    free(in->str);
    memset(in, 0, sizeof *in);
}

void ifeval_prompt_release(IfevalPrompt *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->inst)
            instruction_release(&p->inst[i]);
        if (p->ids)
            free(p->ids[i]);
    }
    free(p->inst);
    free(p->ids);
    free(p->key);
    free(p->prompt);
    memset(p, 0, sizeof *p);
}

/* The fields of one input record.  key and prompt come either as text
 * (ktext, ptext with their lengths, which may hold NUL bytes) or as a node
 * (NULL when absent) whose type is wrong unless it is a number or null key. */
static int prompt_fields(IfevalScorer *s, const cJSON *key, const char *ktext, size_t klen,
                         const cJSON *prompt, const char *ptext, size_t plen, const cJSON *ids,
                         const cJSON *kwargs, const char *file, long line, IfevalPrompt *p, Err *err)
{
    memset(p, 0, sizeof *p);
    p->line = line;
    if (ktext) {
        p->key = xmalloc(size_add(klen, 1));
        memcpy(p->key, ktext, klen);
        p->key[klen] = 0;
        p->key_len = klen;
    } else if (key && cJSON_IsNumber(key)) {
        char b[32];
        snprintf(b, sizeof b, fabs(key->valuedouble) < 1e15 && key->valuedouble == floor(key->valuedouble) ? "%.0f" : "%.17g",
                 key->valuedouble);
        p->key = xstrdup(b);
        p->key_len = strlen(b);
    } else if (key && !cJSON_IsNull(key)) {
        err_set(err, file, line, "\"key\" must be an integer or a string, not %s", json_type_name(key));
        return -1;
    }
    if (!ptext) {
        err_set(err, file, line, prompt ? "\"prompt\" must be a string, not %s" : "\"prompt\" is missing%s",
                prompt ? json_type_name(prompt) : "");
        goto fail;
    }
    p->prompt = xmalloc(size_add(plen, 1));
    memcpy(p->prompt, ptext, plen);
    p->prompt[plen] = 0;
    p->prompt_len = plen;
    if (!ids || !cJSON_IsArray(ids)) {
        err_set(err, file, line, "\"instruction_id_list\" %s", ids ? "must be a list of strings" : "is missing");
        goto fail;
    }
    if (!kwargs || !cJSON_IsArray(kwargs)) {
        err_set(err, file, line, "\"kwargs\" %s", kwargs ? "must be a list of objects" : "is missing");
        goto fail;
    }
    size_t n = (size_t)cJSON_GetArraySize(ids);
    if ((size_t)cJSON_GetArraySize(kwargs) != n) {
        err_set(err, file, line, "\"kwargs\" has %d entries but \"instruction_id_list\" has %zu",
                cJSON_GetArraySize(kwargs), n);
        goto fail;
    }
    p->ids = xcalloc(n ? n : 1, sizeof *p->ids);
    p->inst = xcalloc(n ? n : 1, sizeof *p->inst);
    p->n = n;
    const cJSON *id = ids->child, *kw = kwargs->child;
    for (size_t i = 0; i < n; i++, id = id->next, kw = kw->next) {
        if (!cJSON_IsString(id)) {
            err_set(err, file, line, "\"instruction_id_list\"[%zu] must be a string, not %s", i,
                    json_type_name(id));
            goto fail;
        }
        p->ids[i] = xstrdup(id->valuestring);
        int k = ifeval_id_lookup(id->valuestring);
        if (k < 0) {
            err_set(err, file, line, "unknown instruction id \"%s\" in \"instruction_id_list\"[%zu]",
                    id->valuestring, i);
            goto fail;
        }
        if (!cJSON_IsObject(kw)) {
            err_set(err, file, line, "\"kwargs\"[%zu] must be an object, not %s", i, json_type_name(kw));
            goto fail;
        }
        if (build_instruction(s, &p->inst[i], k, kw, i, file, line, err) < 0)
            goto fail;
    }
    return 0;
fail:
    ifeval_prompt_release(p);
    return -1;
}

int ifeval_prompt_parse(IfevalScorer *s, const cJSON *rec, const char *file, long line,
                        IfevalPrompt *p, Err *err)
{
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(rec, "key");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(rec, "prompt");
    return prompt_fields(s, key, cJSON_IsString(key) ? key->valuestring : NULL,
                         cJSON_IsString(key) ? strlen(key->valuestring) : 0, prompt,
                         cJSON_IsString(prompt) ? prompt->valuestring : NULL,
                         cJSON_IsString(prompt) ? strlen(prompt->valuestring) : 0,
                         cJSON_GetObjectItemCaseSensitive(rec, "instruction_id_list"),
                         cJSON_GetObjectItemCaseSensitive(rec, "kwargs"), file, line, p, err);
}

/* One pass of Python's json.loads over the record (pystr_json_object): the
 * prompt, the bulk of a record, is decoded once with its NULs and lone
 * surrogates; only the short instruction_id_list and kwargs texts are read
 * again, into cJSON trees (pystr_json_tree), for the checks above. */
int ifeval_prompt_parse_json(IfevalScorer *s, const char *text, size_t n, size_t *pos, const char *file,
                             long line, IfevalPrompt *p, Err *err)
{
    PyJsonField f[4] = {{"key", 0, SB_INIT}, {"prompt", 0, SB_INIT},
                        {"instruction_id_list", 0, SB_INIT}, {"kwargs", 0, SB_INIT}};
    cJSON *t[4] = {NULL, NULL, NULL, NULL};
    size_t at = *pos;
    int rc = -1;
    memset(p, 0, sizeof *p);
    if (pystr_json_object(text, n, pos, f, 4) < 0) {
        size_t i = at;
        while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
            i++;
        if (i < n && text[i] != '{')
            err_set(err, file, line, "expected a JSON object");
        else if (*pos >= n)
            err_set(err, file, line, "malformed JSON: unexpected end of record");
        else
            err_set(err, file, line, "malformed JSON at column %zu", *pos - at + 1);
        goto out;
    }
    for (int k = 0; k < 4; k++) {
        size_t q = 0;
        if (f[k].type == PYJ_ABSENT || (f[k].type == PYJ_STRING && k < 2))
            continue; /* a string key or prompt is used as decoded */
        t[k] = f[k].type == PYJ_STRING ? cJSON_CreateString("")
                                       : pystr_json_tree(f[k].val.buf, f[k].val.len, &q);
        if (!t[k]) { /* the text was json.loads-valid a moment ago */
            err_set(err, file, line, "malformed JSON in \"%s\"", f[k].name);
            goto out;
        }
    }
    rc = prompt_fields(s, t[0], f[0].type == PYJ_STRING ? f[0].val.buf : NULL, f[0].val.len, t[1],
                       f[1].type == PYJ_STRING ? f[1].val.buf : NULL, f[1].val.len, t[2], t[3], file, line, p,
                       err);
out:
    for (int k = 0; k < 4; k++) {
        sb_release(&f[k].val);
        cJSON_Delete(t[k]);
    }
    return rc;
}

/* ---------------------------------------------------------------- the checks */

static int compare(long n, long want, int less)
{
    return less ? n < want : n >= want;
}

static const char *rel_text(int less)
{
    return less ? "less than" : "at least";
}

#define WHY(...) do { if (why) sb_addf(why, __VA_ARGS__); } while (0)

static const char *lang_or_none(const char *l)
{
    return l ? l : "(no features)";
}

/* Python-like display of a short quoted snippet for reasons. */
static void why_snip(StrBuf *why, const char *v, size_t n)
{
    size_t k = n > 40 ? 40 : n;
    while (k < n && k > 0 && ((unsigned char)v[k] & 0xc0) == 0x80)
        k--;
    sb_addc(why, '"');
    for (size_t i = 0; i < k; i++)
        sb_addc(why, v[i] == '\n' ? ' ' : v[i]);
    sb_adds(why, k < n ? "...\"" : "\"");
}

static int check_paragraphs(IfevalScorer *s, const IfevalInstruction *in, const char *v, size_t n,
                            StrBuf *why)
{
    /* parts = re.split(r"\s?\*\*\*\s?", v) */
    ReIter it = {0, 0, 0, 0};
    size_t prev = 0, idx = 0;
    long count = 0;
    int done = 0;
    while (!done) {
        size_t pb, pe;
        if (re_iter(s, s->fixed[RE_PARAGRAPHS], v, n, &it)) {
            pb = prev;
            pe = it.b;
            prev = it.e;
        } else {
            pb = prev;
            pe = n;
            done = 1;
        }
        count++;
        if (pystr_isblank(v + pb, pe - pb)) {
            if (idx == 0 || done) {
                count--;
            } else {
                WHY("paragraph %zu (separated by ***) is empty", idx + 1);
                return 0;
            }
        }
        idx++;
    }
    if (count == in->num)
        return 1;
    WHY("found %ld paragraphs separated by ***, need exactly %ld", count, in->num);
    return 0;
}

static int check_nth_paragraph(IfevalScorer *s, const IfevalInstruction *in, const char *v, size_t n,
                               StrBuf *why)
{
    (void)s;
    /* paragraphs = re.split(r"\n\n", v): collect part boundaries */
    size_t nparts = 1, cap = 16;
    size_t *starts = xmalloc(cap * sizeof *starts), *ends = xmalloc(cap * sizeof *ends);
    starts[0] = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (v[i] == '\n' && v[i + 1] == '\n') {
            if (nparts == cap) {
                cap *= 2;
                starts = xrealloc(starts, cap * sizeof *starts);
                ends = xrealloc(ends, cap * sizeof *ends);
            }
            ends[nparts - 1] = i;
            starts[nparts++] = i + 2;
            i++;
        }
    }
    ends[nparts - 1] = n;
    long count = (long)nparts;
    for (size_t i = 0; i < nparts; i++)
        if (pystr_isblank(v + starts[i], ends[i] - starts[i]))
            count--;
    int ok = 0;
    if (in->nth > count) {
        WHY("found %ld non-empty paragraphs, fewer than nth_paragraph %ld", count, in->nth);
        goto out;
    }
    if (in->nth < 1) {
        WHY("nth_paragraph %ld is not a paragraph", in->nth);
        goto out;
    }
    size_t b, e;
    size_t idx = (size_t)(in->nth - 1);
    pystr_strip(v + starts[idx], ends[idx] - starts[idx], &b, &e);
    const char *par = v + starts[idx] + b;
    size_t plen = e - b;
    if (!plen) {
        WHY("paragraph %ld is empty", in->nth);
        goto out;
    }
    size_t ws;
    size_t wl = pystr_first_word(par, plen, &ws);
    const char *w = par + ws;
    while (wl && *w == '\'') { w++; wl--; }
    while (wl && *w == '"') { w++; wl--; }
    size_t k = 0;
    while (k < wl && !strchr(".,?!'\"", w[k]))
        k++;
    StrBuf lo = SB_INIT; /* lower-cased letter by letter, as the official loop does */
    for (size_t j = 0; j < k;) {
        uint32_t cp;
        size_t cl = utf8_decode(w + j, k - j, &cp);
        if (!cl)
            cl = 1;
        pystr_lower(w + j, cl, &lo);
        j += cl;
    }
    int word_ok = lo.len == in->str_len && !memcmp(lo.buf, in->str, lo.len);
    ok = count == in->num && word_ok;
    if (!ok) {
        if (count != in->num)
            WHY("found %ld paragraphs separated by blank lines, need exactly %ld", count, in->num);
        if (!word_ok)
            WHY("%sparagraph %ld starts with \"%s\", need \"%s\"", count != in->num ? "; " : "",
                in->nth, lo.buf, in->str);
    }
    sb_release(&lo);
out:
    free(starts);
    free(ends);
    return ok;
}

static int check_highlights(IfevalScorer *s, const IfevalInstruction *in, const char *v, size_t n,
                            StrBuf *why)
{
    long count = 0;
    ReIter it = {0, 0, 0, 0};
    while (re_iter(s, s->fixed[RE_HL_SINGLE], v, n, &it)) {
        size_t b, e, b2, e2;
        pystr_strip_ascii(v + it.b, it.e - it.b, '*', &b, &e);
        pystr_strip(v + it.b + b, e - b, &b2, &e2);
        count += e2 > b2;
    }
    ReIter it2 = {0, 0, 0, 0};
    while (re_iter(s, s->fixed[RE_HL_DOUBLE], v, n, &it2)) {
        /* removeprefix("**").removesuffix("**"): a 4-char "****" loses both */
        size_t b = it2.b + 2, e = it2.e;
        if (e - b >= 2)
            e -= 2;
        count += !pystr_isblank(v + b, e - b);
    }
    if (count >= in->num)
        return 1;
    WHY("found %ld highlighted sections, need at least %ld", count, in->num);
    return 0;
}

static int check_two_responses(const char *v, size_t n, StrBuf *why)
{
    /* v.split("******") */
    size_t prev = 0, idx = 0;
    const char *kept[2];
    size_t klen[2];
    long nkept = 0;
    int done = 0;
    while (!done) {
        const char *hit = NULL;
        for (size_t i = prev; i + 6 <= n; i++)
            if (!memcmp(v + i, "******", 6)) {
                hit = v + i;
                break;
            }
        size_t pb = prev, pe;
        if (hit) {
            pe = (size_t)(hit - v);
            prev = pe + 6;
        } else {
            pe = n;
            done = 1;
        }
        size_t b, e;
        pystr_strip(v + pb, pe - pb, &b, &e);
        if (b == e) {
            if (idx != 0 && !done) {
                WHY("part %zu between ****** separators is empty", idx + 1);
                return 0;
            }
        } else {
            if (nkept < 2) {
                kept[nkept] = v + pb + b;
                klen[nkept] = e - b;
            }
            nkept++;
        }
        idx++;
    }
    if (nkept != 2) {
        WHY("found %ld responses separated by ******, need exactly 2", nkept);
        return 0;
    }
    if (klen[0] == klen[1] && !memcmp(kept[0], kept[1], klen[0])) {
        WHY("the two responses are identical");
        return 0;
    }
    return 1;
}

int ifeval_preload(Err *err)
{
    const LangDetector *d;
    /* langdetect_default's first call is not thread-safe */
#pragma omp critical(ifeval_langdetect)
    d = langdetect_default(err);
    return d ? 0 : -1;
}

int ifeval_scorer_error(const IfevalScorer *s, Err *err)
{
    if (!s->lang_failed)
        return 0;
    *err = s->lang_err;
    return -1;
}

static int check_language(IfevalScorer *s, const char *v, size_t n, const char *want, StrBuf *why)
{
    if (!s->lang) {
        if (s->lang_failed)
            return 0;
#pragma omp critical(ifeval_langdetect)
        s->lang = langdetect_default(&s->lang_err);
        if (!s->lang) {
            s->lang_failed = 1;
            WHY("langdetect profiles not loaded");
            return 0;
        }
    }
    const char *l = langdetect_detect(s->lang, v, n, 0);
    if (!l)
        return 1; /* LangDetectException counts as followed */
    if (!strcmp(l, want))
        return 1;
    WHY("detected language \"%s\", need \"%s\"", lang_or_none(l), want);
    return 0;
}

static int ascii_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* The next case-insensitive occurrence of the ASCII literal w in the ASCII
 * text v at or after *pos (with \b at both ends when bounded): its start,
 * or -1.  Occurrences are tried left to right like re's search. */
static long lit_next(const char *v, size_t n, const char *w, size_t wl, size_t pos, int bounded)
{
    const unsigned char *t = (const unsigned char *)v, *k = (const unsigned char *)w;
    unsigned char k0 = ascii_lower(k[0]);
    for (size_t i = pos; i + wl <= n; i++) {
        if (ascii_lower(t[i]) != k0)
            continue;
        size_t j = 1;
        while (j < wl && ascii_lower(t[i + j]) == ascii_lower(k[j]))
            j++;
        if (j < wl)
            continue;
        if (bounded && ((i > 0 && ascii_word(t[i - 1])) == ascii_word(k[0]) ||
                        (i + wl < n && ascii_word(t[i + wl])) == ascii_word(k[wl - 1])))
            continue;
        return (long)i;
    }
    return -1;
}

/* re.findall(w, v, re.IGNORECASE) for a literal: non-overlapping count. */
static long lit_count(const char *v, size_t n, const char *w, size_t wl)
{
    long c = 0, at;
    size_t pos = 0;
    while ((at = lit_next(v, n, w, wl, pos, 0)) >= 0) {
        c++;
        pos = (size_t)at + wl;
    }
    return c;
}

/* len(RegexpTokenizer(r"\w+").tokenize(v)) for ASCII text. */
static long ascii_words(const char *v, size_t n)
{
    long c = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        int w = ascii_word((unsigned char)v[i]);
        c += w && !in;
        in = w;
    }
    return c;
}

/* Keyword pattern k of a literal instruction, compiled on first use (by any
 * thread: the first compiled copy is published, others are freed); NULL
 * only if PCRE2 fails, which a literal pattern cannot make it do. */
static pcre2_code *keyword_re(IfevalScorer *s, const IfevalInstruction *in, size_t k)
{
    pcre2_code *c = __atomic_load_n((pcre2_code **)&in->re[k], __ATOMIC_ACQUIRE);
    if (c)
        return c;
    StrBuf pat = SB_INIT, msg = SB_INIT;
    keyword_pattern(in, k, &pat);
    c = re_compile_jit(s, pat.buf, PCRE2_CASELESS, 0, &msg);
    sb_release(&pat);
    sb_release(&msg);
    pcre2_code *seen = NULL;
    if (c && !__atomic_compare_exchange_n((pcre2_code **)&in->re[k], &seen, c, 0, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE)) {
        pcre2_code_free(c);
        c = seen;
    }
    if (!c)
        s->limit_hit = 1; /* counted as not followed, with a reason */
    return c;
}

static int kw_search(IfevalScorer *s, const IfevalInstruction *in, size_t k, const char *v, size_t n)
{
    if (!in->literal)
        return re_search(s, in->re[k], v, n);
    if (s->ascii)
        return lit_next(v, n, in->words[k], strlen(in->words[k]), 0, in->id == IF_KEYWORDS_FORBIDDEN) >= 0;
    pcre2_code *re = keyword_re(s, in, k);
    return re ? re_search(s, re, v, n) : 0;
}

static long kw_count(IfevalScorer *s, const IfevalInstruction *in, const char *v, size_t n)
{
    if (!in->literal)
        return re_count(s, in->re[0], v, n);
    if (s->ascii)
        return lit_count(v, n, in->str, in->str_len);
    pcre2_code *re = keyword_re(s, in, 0);
    return re ? re_count(s, re, v, n) : 0;
}

static int check_one(IfevalScorer *s, const IfevalPrompt *p, size_t i, const char *v, size_t n,
                     StrBuf *why)
{
    const IfevalInstruction *in = &p->inst[i];
    switch (in->id) {
    case IF_KEYWORDS_EXISTENCE:
        for (size_t k = 0; k < in->n_words; k++)
            if (!kw_search(s, in, k, v, n)) {
                WHY("keyword \"%s\" not found", in->words[k]);
                return 0;
            }
        return 1;
    case IF_KEYWORDS_FREQUENCY: {
        long c = kw_count(s, in, v, n);
        if (compare(c, in->num, in->less_than))
            return 1;
        WHY("found %ld occurrences of \"%s\", need %s %ld", c, in->str, rel_text(in->less_than), in->num);
        return 0;
    }
    case IF_KEYWORDS_FORBIDDEN:
        for (size_t k = 0; k < in->n_words; k++)
            if (kw_search(s, in, k, v, n)) {
                WHY("found forbidden word \"%s\"", in->words[k]);
                return 0;
            }
        return 1;
    case IF_KEYWORDS_LETTER_FREQUENCY: {
        StrBuf *lo = &s->t1;
        sb_reset(lo);
        pystr_lower(v, n, lo);
        long c = 0;
        /* collections.Counter(v)[letter]: a letter that lower() made two
         * code points long (U+0130) never equals one code point */
        for (const char *q = pystr_len(in->str, in->str_len) == 1 ? lo->buf : NULL; q && (q = memmem(q, lo->len - (size_t)(q - lo->buf), in->str, in->str_len));
             q += in->str_len)
            c++;
        if (compare(c, in->num, in->less_than))
            return 1;
        WHY("found %ld \"%s\", need %s %ld", c, in->str, rel_text(in->less_than), in->num);
        return 0;
    }
    case IF_LANGUAGE:
        return check_language(s, v, n, in->str, why);
    case IF_NUMBER_SENTENCES: {
        Span *sp = NULL;
        long c = (long)punkt_sentences(s->punkt, v, n, &sp);
        free(sp);
        if (compare(c, in->num, in->less_than))
            return 1;
        WHY("found %ld sentences, need %s %ld", c, rel_text(in->less_than), in->num);
        return 0;
    }
    case IF_NUMBER_PARAGRAPHS:
        return check_paragraphs(s, in, v, n, why);
    case IF_NUMBER_WORDS: {
        long c = s->ascii ? ascii_words(v, n) : re_count(s, s->fixed[RE_WORDS], v, n);
        if (compare(c, in->num, in->less_than))
            return 1;
        WHY("found %ld words, need %s %ld", c, rel_text(in->less_than), in->num);
        return 0;
    }
    case IF_NTH_PARAGRAPH_FIRST_WORD:
        return check_nth_paragraph(s, in, v, n, why);
    case IF_PLACEHOLDERS: {
        long c = re_count(s, s->fixed[RE_PLACEHOLDER], v, n);
        if (c >= in->num)
            return 1;
        WHY("found %ld [placeholders], need at least %ld", c, in->num);
        return 0;
    }
    case IF_POSTSCRIPT: {
        StrBuf *lo = &s->t1;
        sb_reset(lo);
        pystr_lower(v, n, lo);
        pcre2_code *re = !strcmp(in->str, "P.P.S") ? s->fixed[RE_PS_PPS]
                         : !strcmp(in->str, "P.S.") ? s->fixed[RE_PS_PS] : in->re[0];
        if (re_search(s, re, lo->buf, lo->len))
            return 1;
        WHY("postscript marker \"%s\" not found", in->str);
        return 0;
    }
    case IF_BULLET_LISTS: {
        long c = re_count(s, s->fixed[RE_BULLET_STAR], v, n) + re_count(s, s->fixed[RE_BULLET_DASH], v, n);
        if (c == in->num)
            return 1;
        WHY("found %ld bullet points (* or -), need exactly %ld", c, in->num);
        return 0;
    }
    case IF_CONSTRAINED_RESPONSE: {
        size_t b, e;
        pystr_strip(v, n, &b, &e);
        static const char *const opts[] = {"My answer is yes.", "My answer is no.", "My answer is maybe."};
        for (int k = 0; k < 3; k++)
            if (memmem(v + b, e - b, opts[k], strlen(opts[k])))
                return 1;
        WHY("none of \"My answer is yes.\", \"My answer is no.\", \"My answer is maybe.\" found");
        return 0;
    }
    case IF_HIGHLIGHTS:
        return check_highlights(s, in, v, n, why);
    case IF_MULTIPLE_SECTIONS: {
        long c = re_count(s, in->re[0], v, n);
        if (c >= in->num)
            return 1;
        WHY("found %ld sections marked \"%s N\", need at least %ld", c, in->str, in->num);
        return 0;
    }
    case IF_JSON_FORMAT: {
        size_t b, e;
        pystr_strip(v, n, &b, &e);
        const char *t = v + b;
        size_t m = e - b;
        static const char *const pre[] = {"```json", "```Json", "```JSON", "```"};
        for (int k = 0; k < 4; k++) {
            size_t pl = strlen(pre[k]);
            if (m >= pl && !memcmp(t, pre[k], pl)) {
                t += pl;
                m -= pl;
            }
        }
        if (m >= 3 && !memcmp(t + m - 3, "```", 3))
            m -= 3;
        pystr_strip(t, m, &b, &e);
        if (pystr_json_loads_ok(t + b, e - b))
            return 1;
        WHY("not valid JSON after removing ``` fences");
        return 0;
    }
    case IF_TITLE: {
        ReIter it = {0, 0, 0, 0};
        while (re_iter(s, s->fixed[RE_TITLE], v, n, &it)) {
            size_t b = it.b, e = it.e;
            while (b < e && v[b] == '<')
                b++;
            while (e > b && v[e - 1] == '>')
                e--;
            if (!pystr_isblank(v + b, e - b))
                return 1;
        }
        WHY("no title in <<double angular brackets>>");
        return 0;
    }
    case IF_TWO_RESPONSES:
        return check_two_responses(v, n, why);
    case IF_REPEAT_PROMPT:
    case IF_END_CHECKER: {
        size_t b, e;
        pystr_strip(v, n, &b, &e);
        if (in->id == IF_END_CHECKER) {
            size_t b2, e2;
            pystr_strip_ascii(v + b, e - b, '"', &b2, &e2);
            e = b + e2;
            b = b + b2;
        }
        StrBuf *lo = &s->t1;
        sb_reset(lo);
        pystr_lower(v + b, e - b, lo);
        if (in->id == IF_REPEAT_PROMPT) {
            if (lo->len >= in->str_len && !memcmp(lo->buf, in->str, in->str_len))
                return 1;
            WHY("response does not start with the prompt to repeat");
            return 0;
        }
        if (lo->len >= in->str_len && !memcmp(lo->buf + lo->len - in->str_len, in->str, in->str_len))
            return 1;
        if (why) {
            sb_addf(why, "response does not end with \"%s\" (ends with ", in->str);
            size_t k = lo->len > 30 ? lo->len - 30 : 0;
            while (k > 0 && ((unsigned char)lo->buf[k] & 0xc0) == 0x80)
                k--;
            why_snip(why, lo->buf + k, lo->len - k);
            sb_addc(why, ')');
        }
        return 0;
    }
    case IF_CAPITAL_WORD_FREQUENCY: {
        char **tok;
        size_t nt = wordtok_tokenize(s->punkt, v, n, &tok);
        long c = 0;
        for (size_t k = 0; k < nt; k++)
            c += pystr_isupper(tok[k], strlen(tok[k]));
        wordtok_free(tok, nt);
        if (compare(c, in->num, in->less_than))
            return 1;
        WHY("found %ld all-capital words, need %s %ld", c, rel_text(in->less_than), in->num);
        return 0;
    }
    case IF_ENGLISH_CAPITAL:
    case IF_ENGLISH_LOWERCASE: {
        int cap = in->id == IF_ENGLISH_CAPITAL;
        if (!(cap ? pystr_isupper(v, n) : pystr_islower(v, n))) {
            WHY("response is not all %s", cap ? "capital letters" : "lowercase letters");
            return 0;
        }
        return check_language(s, v, n, "en", why);
    }
    case IF_NO_COMMA:
        if (!memchr(v, ',', n))
            return 1;
        WHY("found a comma");
        return 0;
    case IF_QUOTATION: {
        size_t b, e;
        pystr_strip(v, n, &b, &e);
        if (pystr_len(v + b, e - b) > 1 && v[b] == '"' && v[e - 1] == '"')
            return 1;
        WHY("response is not wrapped in double quotation marks");
        return 0;
    }
    }
    return 0;
}

/* pcre2_match checks UTF-8 validity of the subject on every call, from the
 * start offset on, which makes findall quadratic: validate once here instead
 * (every candidate text derived from a valid response stays valid). */
static int check_valid(IfevalScorer *s, const IfevalPrompt *p, size_t i, const char *v, size_t n,
                       StrBuf *why)
{
    s->limit_hit = 0;
    size_t mark = why ? why->len : 0;
    int ok = check_one(s, p, i, v, n, why);
    if (s->limit_hit && why) {
        sb_setlen(why, mark);
        sb_adds(why, "a regex hit the PCRE2 match limit, counted as not followed");
    }
    return ok;
}

int ifeval_check(IfevalScorer *s, const IfevalPrompt *p, size_t i, const char *v, size_t n,
                 StrBuf *why)
{
    s->match_opts = utf8_valid(v, n, NULL) ? PCRE2_NO_UTF_CHECK : 0;
    s->ascii = ascii_span(v, n) == n;
    int ok = check_valid(s, p, i, v, n, why);
    s->match_opts = 0;
    s->ascii = 0;
    return ok;
}

/* ---------------------------------------------------------------- strict and loose */

static void add_without_stars(StrBuf *out, const char *v, size_t n)
{
    sb_grow(out, n);
    const char *end = v + n;
    while (v < end) {
        const char *star = memchr(v, '*', (size_t)(end - v));
        size_t k = star ? (size_t)(star - v) : (size_t)(end - v);
        sb_add(out, v, k);
        v += k + (star != NULL);
    }
}

void ifeval_score(IfevalScorer *s, const IfevalPrompt *p, const char *resp, size_t n,
                  unsigned char *strict, unsigned char *loose,
                  StrBuf *why_strict, StrBuf *why_loose)
{
    int blank = pystr_isblank(resp, n);
    s->match_opts = utf8_valid(resp, n, NULL) ? PCRE2_NO_UTF_CHECK : 0;
    /* the loose variants only remove characters: ASCII stays ASCII */
    s->ascii = ascii_span(resp, n) == n;
    for (size_t i = 0; i < p->n; i++) {
        if (blank) {
            strict[i] = 0;
            if (why_strict)
                sb_adds(&why_strict[i], "response is empty");
        } else {
            strict[i] = (unsigned char)check_valid(s, p, i, resp, n, why_strict ? &why_strict[i] : NULL);
        }
    }
    if (!loose) {
        s->match_opts = 0;
        s->ascii = 0;
        return;
    }

    /* The eight candidates of test_instruction_following_loose. */
    const char *first_nl = memchr(resp, '\n', n);
    const char *last_nl = memrchr(resp, '\n', n);
    size_t rb[3], re[3]; /* remove_first, remove_last, remove_both: raw ranges */
    if (first_nl) {
        rb[0] = (size_t)(first_nl - resp) + 1; re[0] = n;
        rb[1] = 0; re[1] = (size_t)(last_nl - resp);
        if (last_nl > first_nl) {
            rb[2] = rb[0]; re[2] = re[1];
        } else {
            rb[2] = re[2] = 0;
        }
    } else {
        for (int k = 0; k < 3; k++)
            rb[k] = re[k] = 0;
    }
    StrBuf cand[8];
    for (int k = 0; k < 8; k++)
        sb_init(&cand[k]);
    sb_add(&cand[0], resp, n);
    add_without_stars(&cand[1], resp, n);
    for (int k = 0; k < 3; k++) {
        size_t b, e;
        pystr_strip(resp + rb[k], re[k] - rb[k], &b, &e);
        sb_add(&cand[2 + k], resp + rb[k] + b, e - b);
        add_without_stars(&cand[5 + k], resp + rb[k] + b, e - b);
    }
    /* A candidate equal to an earlier one gives the same answer (every check
     * is a pure function of the text): skip it.  Without '*' in the response
     * half of the candidates are such copies. */
    int ok_cand[8];
    for (int k = 0; k < 8; k++) {
        ok_cand[k] = !pystr_isblank(cand[k].buf, cand[k].len);
        for (int j = 0; j < k && ok_cand[k]; j++)
            if (cand[j].len == cand[k].len && !memcmp(cand[j].buf, cand[k].buf, cand[k].len))
                ok_cand[k] = 0;
    }
    for (size_t i = 0; i < p->n; i++) {
        loose[i] = 0;
        if (strict[i]) { /* candidate 0 is the strict input */
            loose[i] = 1;
            continue;
        }
        for (int k = 1; k < 8 && !loose[i]; k++)
            if (ok_cand[k] && check_valid(s, p, i, cand[k].buf, cand[k].len, NULL))
                loose[i] = 1;
        if (!loose[i] && why_loose) {
            if (why_strict)
                sb_add(&why_loose[i], why_strict[i].buf, why_strict[i].len);
            else if (blank)
                sb_adds(&why_loose[i], "response is empty");
            else
                check_valid(s, p, i, resp, n, &why_loose[i]);
            if (!blank)
                sb_adds(&why_loose[i], " (and in every loose variant)");
        }
    }
    for (int k = 0; k < 8; k++)
        sb_release(&cand[k]);
    s->match_opts = 0;
    s->ascii = 0;
}

/* ---------------------------------------------------------------- output */

static void result_head(StrBuf *out, const IfevalPrompt *p, const unsigned char *follow)
{
    int all = 1;
    for (size_t i = 0; i < p->n; i++)
        all &= follow[i];
    sb_adds(out, "{\"follow_all_instructions\": ");
    sb_adds(out, all ? "true" : "false");
    sb_adds(out, ", \"follow_instruction_list\": [");
    for (size_t i = 0; i < p->n; i++)
        sb_adds(out, i ? (follow[i] ? ", true" : ", false") : (follow[i] ? "true" : "false"));
}

static void result_tail(StrBuf *out, const IfevalPrompt *p, const char *resp, size_t n)
{
    sb_adds(out, "], \"instruction_id_list\": [");
    for (size_t i = 0; i < p->n; i++) {
        if (i)
            sb_adds(out, ", ");
        pystr_json_dump_str(out, p->ids[i], strlen(p->ids[i]));
    }
    sb_adds(out, "], \"prompt\": ");
    pystr_json_dump_str(out, p->prompt, p->prompt_len);
    sb_adds(out, ", \"response\": ");
    pystr_json_dump_str(out, resp, n);
    sb_adds(out, "}\n");
}

void ifeval_result_line(StrBuf *out, const IfevalPrompt *p, const char *resp, size_t n,
                        const unsigned char *follow)
{
    result_head(out, p, follow);
    result_tail(out, p, resp, n);
}

void ifeval_result_lines(StrBuf *out_s, StrBuf *out_l, const IfevalPrompt *p, const char *resp, size_t n,
                         const unsigned char *strict, const unsigned char *loose)
{
    result_head(out_s, p, strict);
    size_t at = out_s->len;
    result_tail(out_s, p, resp, n); /* escaped once, copied to the loose line */
    result_head(out_l, p, loose);
    sb_add(out_l, out_s->buf + at, out_s->len - at);
}

void ifeval_tally_add(IfevalTally *t, const IfevalPrompt *p, const unsigned char *follow)
{
    int all = 1;
    for (size_t i = 0; i < p->n; i++) {
        all &= follow[i];
        t->n_inst++;
        t->inst_ok += follow[i];
        t->id_n[p->inst[i].id]++;
        t->id_ok[p->inst[i].id] += follow[i];
    }
    t->n_prompts++;
    t->prompts_ok += all;
}

/* Ids sorted by name, and the categories (text before ':') in sorted order. */
static void sorted_ids(int *order)
{
    for (int i = 0; i < IFEVAL_N_IDS; i++)
        order[i] = i;
    for (int i = 1; i < IFEVAL_N_IDS; i++)
        for (int j = i; j > 0 && strcmp(id_names[order[j - 1]], id_names[order[j]]) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

static size_t cat_len(const char *name)
{
    return (size_t)(strchr(name, ':') - name);
}

typedef struct {
    const char *name;
    size_t len;
    long n_s, ok_s, n_l, ok_l;
} Cat;

static int collect_cats(const IfevalTally *a, const IfevalTally *b, const int *order, Cat *cats)
{
    int nc = 0;
    for (int k = 0; k < IFEVAL_N_IDS; k++) {
        int i = order[k];
        if (!a->id_n[i] && !(b && b->id_n[i]))
            continue;
        const char *nm = id_names[i];
        size_t l = cat_len(nm);
        if (!nc || cats[nc - 1].len != l || memcmp(cats[nc - 1].name, nm, l)) {
            cats[nc].name = nm;
            cats[nc].len = l;
            cats[nc].n_s = cats[nc].ok_s = cats[nc].n_l = cats[nc].ok_l = 0;
            nc++;
        }
        cats[nc - 1].n_s += a->id_n[i];
        cats[nc - 1].ok_s += a->id_ok[i];
        if (b) {
            cats[nc - 1].n_l += b->id_n[i];
            cats[nc - 1].ok_l += b->id_ok[i];
        }
    }
    return nc;
}

static void add_ratio(StrBuf *out, long num, long den)
{
    pystr_float_repr(out, den ? (double)num / (double)den : 0.0);
}

void ifeval_report(StrBuf *out, const IfevalTally *t)
{
    int order[IFEVAL_N_IDS];
    Cat cats[IFEVAL_N_IDS];
    sorted_ids(order);
    sb_adds(out, "prompt-level: ");
    add_ratio(out, t->prompts_ok, t->n_prompts);
    sb_adds(out, "\ninstruction-level: ");
    add_ratio(out, t->inst_ok, t->n_inst);
    sb_adds(out, "\n\n");
    int nc = collect_cats(t, NULL, order, cats);
    for (int c = 0; c < nc; c++) {
        sb_add(out, cats[c].name, cats[c].len);
        sb_addc(out, ' ');
        add_ratio(out, cats[c].ok_s, cats[c].n_s);
        sb_addc(out, '\n');
    }
    sb_addc(out, '\n');
    for (int k = 0; k < IFEVAL_N_IDS; k++) {
        int i = order[k];
        if (!t->id_n[i])
            continue;
        sb_addf(out, "%s ", id_names[i]);
        add_ratio(out, t->id_ok[i], t->id_n[i]);
        sb_addc(out, '\n');
    }
}

void ifeval_summary(StrBuf *out, const IfevalTally *st, const IfevalTally *lo,
                    const char *input, const char *responses)
{
    int order[IFEVAL_N_IDS];
    Cat cats[IFEVAL_N_IDS];
    sorted_ids(order);
    sb_adds(out, "{\"prompt_level_strict_acc\": ");
    add_ratio(out, st->prompts_ok, st->n_prompts);
    sb_adds(out, ", \"inst_level_strict_acc\": ");
    add_ratio(out, st->inst_ok, st->n_inst);
    sb_adds(out, ", \"prompt_level_loose_acc\": ");
    add_ratio(out, lo->prompts_ok, lo->n_prompts);
    sb_adds(out, ", \"inst_level_loose_acc\": ");
    add_ratio(out, lo->inst_ok, lo->n_inst);
    sb_addf(out, ", \"n_prompts\": %ld, \"n_instructions\": %ld, \"per_instruction\": {",
            st->n_prompts, st->n_inst);
    int first = 1;
    for (int k = 0; k < IFEVAL_N_IDS; k++) {
        int i = order[k];
        if (!st->id_n[i])
            continue;
        sb_addf(out, "%s\"%s\": {\"n\": %ld, \"strict\": ", first ? "" : ", ", id_names[i], st->id_n[i]);
        add_ratio(out, st->id_ok[i], st->id_n[i]);
        sb_adds(out, ", \"loose\": ");
        add_ratio(out, lo->id_ok[i], lo->id_n[i]);
        sb_addc(out, '}');
        first = 0;
    }
    sb_adds(out, "}, \"per_category\": {");
    int nc = collect_cats(st, lo, order, cats);
    for (int c = 0; c < nc; c++) {
        sb_addf(out, "%s\"%.*s\": {\"n\": %ld, \"strict\": ", c ? ", " : "", (int)cats[c].len,
                cats[c].name, cats[c].n_s);
        add_ratio(out, cats[c].ok_s, cats[c].n_s);
        sb_adds(out, ", \"loose\": ");
        add_ratio(out, cats[c].ok_l, cats[c].n_l);
        sb_addc(out, '}');
    }
    sb_adds(out, "}, \"input\": ");
    pystr_json_dump_str(out, input, strlen(input));
    sb_adds(out, ", \"responses\": ");
    pystr_json_dump_str(out, responses, strlen(responses));
    sb_adds(out, "}\n");
}
