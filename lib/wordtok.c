/*
 * wordtok.c - nltk.word_tokenize: Punkt sentences, then NLTKWordTokenizer
 * (nltk/tokenize/destructive.py, nltk 3.8) on each.  See wordtok.h.
 */
#include "wordtok.h"
#include "nlpre.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define W NLPRE_W
#define S NLPRE_S

typedef struct {
    const char *pat;
    unsigned flags;
    const char *repl;
    const char *need; /* the rule can only match if one of these bytes is present
                         (ASCII letters compared lower-cased); "" = always try */
    int from;         /* where a match can start: FROM_ANY, or FROM_LAST_DOT (the
                         code point before the last '.': the pattern needs a '.'
                         followed by closing marks and white space to the end),
                         FROM_END (the last two code points: "[:,]$") */
} Rule;

enum { FROM_ANY = 0, FROM_LAST_DOT, FROM_END };

/* The substitutions, in the order NLTKWordTokenizer.tokenize applies them.
 * A NULL pattern marks where " " + text + " " happens. */
static const Rule rules[] = {
    /* STARTING_QUOTES */
    {"([«“‘„]|[`]+)", 0, " $1 ", "`\xc2\xe2", FROM_ANY},
    {"^\"", 0, "``", "\"", FROM_ANY},
    {"(``)", 0, " $1 ", "`", FROM_ANY},
    {"([ (\\[{<])(\"|'{2})", 0, "$1 `` ", "\"'", FROM_ANY},
    {"(')(?!re|ve|ll|m|t|s|d|n)(" W ")(?!" W ")", NLPRE_CASELESS, "$1 $2", "'", FROM_ANY},
    /* PUNCTUATION */
    {"([^.])(\\.)([\\])}>\"'»”’ ]*)" S "*$", 0, "$1 $2 $3 ", ".", FROM_LAST_DOT},
    {"([:,])([^\\p{Nd}])", 0, " $1 $2", ":,", FROM_ANY},
    {"([:,])$", 0, " $1 ", ":,", FROM_END},
    {"\\.{2,}", 0, " $0 ", ".", FROM_ANY},
    {"[;@#$%&]", 0, " $0 ", ";@#$%&", FROM_ANY},
    {"([^.])(\\.)([\\])}>\"']*)" S "*$", 0, "$1 $2$3 ", ".", FROM_LAST_DOT},
    {"[?!]", 0, " $0 ", "?!", FROM_ANY},
    {"([^'])' ", 0, "$1 ' ", "'", FROM_ANY},
    {"[*]", 0, " $0 ", "*", FROM_ANY},
    /* PARENS_BRACKETS */
    {"[\\]\\[(){}<>]", 0, " $0 ", "[](){}<>", FROM_ANY},
    /* DOUBLE_DASHES */
    {"--", 0, " -- ", "-", FROM_ANY},
    {NULL, 0, NULL, "", FROM_ANY},
    /* ENDING_QUOTES */
    {"([»”’])", 0, " $1 ", "\xc2\xe2", FROM_ANY},
    {"''", 0, " '' ", "'", FROM_ANY},
    {"\"", 0, " '' ", "\"", FROM_ANY},
    {"([^' ])('[sS]|'[mM]|'[dD]|') ", 0, "$1 $2 ", "'", FROM_ANY},
    {"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", 0, "$1 $2 ", "'", FROM_ANY},
    /* CONTRACTIONS2 */
    {"(?<!" W ")(can)(not)(?!" W ")", NLPRE_CASELESS, " $1 $2 ", "c", FROM_ANY},
    {"(?<!" W ")(d)('ye)(?!" W ")", NLPRE_CASELESS, " $1 $2 ", "'", FROM_ANY},
    {"(?<!" W ")(gim)(me)(?!" W ")", NLPRE_CASELESS, " $1 $2 ", "g", FROM_ANY},
    {"(?<!" W ")(gon)(na)(?!" W ")", NLPRE_CASELESS, " $1 $2 ", "g", FROM_ANY},
    {"(?<!" W ")(got)(ta)(?!" W ")", NLPRE_CASELESS, " $1 $2 ", "g", FROM_ANY},
    {"(?<!" W ")(lem)(me)(?!" W ")", NLPRE_CASELESS, " $1 $2 ", "l", FROM_ANY},
    {"(?<!" W ")(more)('n)(?!" W ")", NLPRE_CASELESS, " $1 $2 ", "'", FROM_ANY},
    {"(?<!" W ")(wan)(na)(?=" S ")", NLPRE_CASELESS, " $1 $2 ", "w", FROM_ANY},
    /* CONTRACTIONS3 */
    {" ('t)(is)(?!" W ")", NLPRE_CASELESS, " $1 $2 ", "'", FROM_ANY},
    {" ('t)(was)(?!" W ")", NLPRE_CASELESS, " $1 $2 ", "'", FROM_ANY},
};
#define NRULES (sizeof rules / sizeof *rules)

static NlpRegex *compiled[NRULES];
static int compiled_ok;
static pthread_once_t compiled_once = PTHREAD_ONCE_INIT;

static void compile_once(void)
{
    for (size_t i = 0; i < NRULES; i++) {
        Err err;
        if (rules[i].pat && !(compiled[i] = nlpre_compile(rules[i].pat, rules[i].flags, &err)))
            return;
    }
    compiled_ok = 1;
}

/* The rules are compiled once per process, whichever thread comes first. */
static int compile_rules(void)
{
    pthread_once(&compiled_once, compile_once);
    return compiled_ok;
}

/* Offset of the code point before byte offset i (0 stays 0). */
static size_t back_one(const char *s, size_t i)
{
    if (i == 0)
        return 0;
    i--;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* Length of the code point at s[i] if it is str.isspace() white space, else 0. */
static size_t space_len(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80)
        return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
    uint32_t cp;
    size_t k = utf8_decode(s + i, n - i, &cp);
    return k && nlpre_is_space(cp) ? k : 0;
}

/* Split on str.split() whitespace, appending tokens. */
static void split_ws(const char *s, size_t n, char ***tok, size_t *ntok, size_t *cap)
{
    size_t i = 0;
    while (i < n) {
        size_t k = space_len(s, n, i);
        if (k) {
            i += k;
            continue;
        }
        size_t st = i;
        while (i < n) {
            unsigned char c = (unsigned char)s[i];
            if (c < 0x80 ? (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) : space_len(s, n, i) > 0)
                break;
            i++;
        }
        *tok = grow_array(*tok, cap, *ntok + 1, sizeof **tok);
        (*tok)[(*ntok)++] = xstrndup(s + st, i - st);
    }
}

size_t wordtok_tokenize(const PunktModel *m, const char *text, size_t n, char ***tokens)
{
    *tokens = NULL;
    if (!compile_rules())
        return 0;
    StrBuf valid = SB_INIT;
    text = nlpre_valid_copy(text, &n, &valid);
    Span *sp;
    size_t ns = punkt_sentences(m, text, n, &sp);
    StrBuf a = SB_INIT, b = SB_INIT;
    NlpMatch *md = nlpre_match_tls();
    char **tok = NULL;
    size_t ntok = 0, cap = 0;
    for (size_t s = 0; s < ns; s++) {
        sb_reset(&a);
        sb_add(&a, text + sp[s].start, sp[s].end - sp[s].start);
        /* Bytes present (ASCII letters lower-cased): a rule none of whose
         * needed bytes is present cannot match.  Substitutions only copy
         * text and add the bytes of their templates, so the set stays a
         * superset of what the text holds. */
        unsigned char have[256] = {0};
        for (size_t j = 0; j < a.len; j++) {
            unsigned char ch = (unsigned char)a.buf[j];
            have[ch >= 'A' && ch <= 'Z' ? ch + 32 : ch] = 1;
        }
        for (size_t i = 0; i < NRULES; i++) {
            const unsigned char *nd = (const unsigned char *)rules[i].need;
            if (*nd) {
                while (*nd && !have[*nd])
                    nd++;
                if (!*nd)
                    continue;
            }
            sb_reset(&b);
            if (!rules[i].pat) {
                sb_addc(&b, ' ');
                sb_add(&b, a.buf, a.len);
                sb_addc(&b, ' ');
            } else {
                size_t from = 0;
                if (rules[i].from == FROM_LAST_DOT) {
                    const char *dot = memrchr(a.buf, '.', a.len);
                    if (!dot)
                        continue;
                    from = back_one(a.buf, (size_t)(dot - a.buf));
                } else if (rules[i].from == FROM_END) {
                    from = back_one(a.buf, back_one(a.buf, a.len));
                }
                if (!nlpre_sub_from(compiled[i], a.buf, a.len, from, rules[i].repl, md, &b))
                    continue;
            }
            for (const unsigned char *r = (const unsigned char *)(rules[i].repl ? rules[i].repl : " "); *r; r++)
                have[*r >= 'A' && *r <= 'Z' ? *r + 32 : *r] = 1;
            StrBuf t = a;
            a = b;
            b = t;
        }
        split_ws(a.buf, a.len, &tok, &ntok, &cap);
    }
    sb_release(&a);
    sb_release(&b);
    sb_release(&valid);
    free(sp);
    *tokens = tok;
    return ntok;
}

void wordtok_free(char **tokens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tokens[i]);
    free(tokens);
}
