/*
 * wordtok.c - nltk.word_tokenize: Punkt sentences, then NLTKWordTokenizer
 * (nltk/tokenize/destructive.py, nltk 3.8) on each.  See wordtok.h.
 *
 * NLTKWordTokenizer.tokenize is 31 regex substitutions applied one after the
 * other, then str.split().  Running them as 31 PCRE2 passes cost ~25,000
 * instructions per sentence (the pass setup, not the scanning, dominates)
 * and one malloc per token.  Here each rule is a hand-written scan with the
 * same re.sub semantics (leftmost match, non-overlapping, scanning resumes
 * after the match, lookbehinds see the text before the match), and a pass
 * copies the sentence only when it has a match.  Rules are merged into one
 * scan only where the merge provably changes nothing (the argument is at
 * each merged pass); the rest keep nltk's order.  A pass whose trigger bytes
 * are absent from the sentence is skipped.
 *
 * Python's classes on str: \w is [\p{L}\p{N}_] and \d is \p{Nd}, decided
 * with PCRE2 for non-ASCII code points (rare, so one tiny anchored regex per
 * class); \s is str.isspace() (nlpre_is_space).  (?i) follows Python's
 * sre: besides ASCII case, 'i' also matches U+0130 and U+0131 and 's'
 * matches U+017F (PCRE2's caseless mode differs on the first two).
 *
 * Measured (callgrind, the 541-response ifeval-score run): wordtok_tokenize
 * 21.5 M -> 5.6 M instructions, Punkt included (bench/RESULTS.md "IFEval text
 * analysis").  Checked against nltk 3.8 by tests/sh/textref.sh, whose wfuzz
 * texts glue contraction halves, quotes, (?i) folds and Unicode digits and
 * spaces together.
 */
#include "wordtok.h"
#include "nlpre.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- character classes ------------------------------------------------ */

static NlpRegex *re_word, *re_digit;
static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

static void classes_init(void)
{
    Err err;
    re_word = nlpre_compile(NLPRE_W, NLPRE_ANCHORED, &err);
    re_digit = nlpre_compile("\\p{Nd}", NLPRE_ANCHORED, &err);
}

/* Byte length of the code point at s[i] (s valid UTF-8, i < n). */
static size_t cp_len(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return i + k <= n ? k : n - i;
}

/* Offset of the code point before byte offset i (i > 0). */
static size_t back_one(const char *s, size_t i)
{
    i--;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

static int ascii_word(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
}

/* Python's \w at the code point s[i] (i < n). */
static int word_at(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80)
        return ascii_word(c);
    pthread_once(&classes_once, classes_init);
    return re_word && nlpre_match(re_word, s, n, i, nlpre_match_tls()) > 0;
}

/* Python's \d at the code point s[i] (i < n). */
static int digit_at(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80)
        return c >= '0' && c <= '9';
    pthread_once(&classes_once, classes_init);
    return re_digit && nlpre_match(re_digit, s, n, i, nlpre_match_tls()) > 0;
}

/* \w right before byte offset i (a lookbehind; 0 at the start). */
static int word_before(const char *s, size_t n, size_t i)
{
    return i > 0 && word_at(s, n, back_one(s, i));
}

/* \w at byte offset i (a lookahead; 0 at the end). */
static int word_after(const char *s, size_t n, size_t i)
{
    return i < n && word_at(s, n, i);
}

#define space_len nlpre_space_len

/* s[i..n) is all \s (so "\s*$" matches there). */
static int blank_from(const char *s, size_t n, size_t i)
{
    while (i < n) {
        size_t k = space_len(s, n, i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* (?i) match of the lower-case ASCII letter lc at s[i]: bytes matched, or 0.
 * Python's sre also folds U+0130/U+0131 to 'i' and U+017F to 's'. */
static size_t ci_letter(const char *s, size_t n, size_t i, char lc)
{
    if (i >= n)
        return 0;
    unsigned char c = (unsigned char)s[i];
    if (c == (unsigned char)lc || c == (unsigned char)(lc - 32))
        return 1;
    if (lc == 'i' && c == 0xC4 && i + 1 < n && ((unsigned char)s[i + 1] == 0xB0 || (unsigned char)s[i + 1] == 0xB1))
        return 2;
    if (lc == 's' && c == 0xC5 && i + 1 < n && (unsigned char)s[i + 1] == 0xBF)
        return 2;
    return 0;
}

/* (?i) match of the literal w (lower-case letters and "'") at s[i]: the end
 * offset, or 0. */
static size_t ci_word(const char *s, size_t n, size_t i, const char *w)
{
    for (; *w; w++) {
        if (*w == '\'') {
            if (i >= n || s[i] != '\'')
                return 0;
            i++;
            continue;
        }
        size_t k = ci_letter(s, n, i, *w);
        if (!k)
            return 0;
        i += k;
    }
    return i;
}

/* ---- the substitution machinery ----------------------------------------- */

/* One pass: re.sub over s[0..n) into out.  The output is started lazily at
 * the first match (a pass without a match copies nothing). */
typedef struct {
    const char *s;
    size_t n;
    StrBuf *out;
    char *o;     /* write position in out->buf, NULL before the first match */
    size_t last; /* s[0..last) is already written */
} Sub;

/* Every pass at most quadruples its input (the largest replacement is
 * '"' -> " '' "), plus a few bytes. */
static void sub_begin(Sub *x, size_t at)
{
    if (!x->o) {
        sb_reset(x->out);
        sb_grow(x->out, 4 * x->n + 16);
        x->o = x->out->buf;
    }
    memcpy(x->o, x->s + x->last, at - x->last);
    x->o += at - x->last;
}

static void put(Sub *x, const char *p, size_t k)
{
    memcpy(x->o, p, k);
    x->o += k;
}

static void putc1(Sub *x, char c) { *x->o++ = c; }

/* Finish: returns 1 and completes out if there was a match, else 0. */
static int sub_end(Sub *x)
{
    if (!x->o)
        return 0;
    sub_begin(x, x->n);
    x->out->len = (size_t)(x->o - x->out->buf);
    x->out->buf[x->out->len] = 0;
    return 1;
}

/* " " + s[i..e) + " " in place of s[i..e). */
static void pad(Sub *x, size_t i, size_t e)
{
    sub_begin(x, i);
    putc1(x, ' ');
    put(x, x->s + i, e - i);
    putc1(x, ' ');
    x->last = e;
}

/* Bytes that start a pass's match: one table per pass, bit per pass. */
enum {
    T_OPENQ = 1 << 0,  /* S1: ` and the lead bytes of « “ ‘ „ */
    T_PUNCT = 1 << 1,  /* P5: ; @ # $ % & */
    T_QM = 1 << 2,     /* P7: ? ! */
    T_BRACK = 1 << 3,  /* P9, PARENS_BRACKETS, DOUBLE_DASHES: * [ ] ( ) { } < > - */
    T_ENDQ = 1 << 4,   /* E1-E3: ' " and the lead bytes of » ” ’ */
    T_C2 = 1 << 5,     /* CONTRACTIONS2 first letters */
    T_SPACE = 1 << 6,  /* ASCII str.isspace() */
    T_LEAD = 1 << 7,   /* a non-ASCII lead byte that may start a Unicode space */
    T_DQ = 1 << 8,     /* S4: " ' */
};
static unsigned short cls[256];
static pthread_once_t cls_once = PTHREAD_ONCE_INIT;

static void cls_init(void)
{
    const char *sets[] = {"`\xc2\xe2", ";@#$%&", "?!", "*[](){}<>-", "'\"\xc2\xe2", "cCdDgGlLmMwW",
                          " \t\n\v\f\r\x1c\x1d\x1e\x1f", "\xc2\xe1\xe2\xe3", "\"'"};
    for (int k = 0; k < 9; k++)
        for (const unsigned char *p = (const unsigned char *)sets[k]; *p; p++)
            cls[*p] |= (unsigned short)(1u << k);
}

/* Skip to the next byte of class mask from i. */
static size_t next_of(const char *s, size_t n, size_t i, unsigned mask)
{
    while (i < n && !(cls[(unsigned char)s[i]] & mask))
        i++;
    return i;
}

static int is3(const char *s, size_t n, size_t i, const char *t)
{
    return i + 3 <= n && !memcmp(s + i, t, 3);
}

static int is2(const char *s, size_t n, size_t i, const char *t)
{
    return i + 2 <= n && !memcmp(s + i, t, 2);
}

/* ---- STARTING_QUOTES ---------------------------------------------------- */

/* ([«“‘„]|[`]+) -> " \1 " */
static int s_open_quotes(const char *s, size_t n, StrBuf *out)
{
    Sub x = {s, n, out, NULL, 0};
    for (size_t i = next_of(s, n, 0, T_OPENQ); i < n; i = next_of(s, n, i, T_OPENQ)) {
        size_t e = i;
        if (s[i] == '`') {
            while (e < n && s[e] == '`')
                e++;
        } else if (is2(s, n, i, "\xc2\xab")) {
            e = i + 2;
        } else if (is3(s, n, i, "\xe2\x80\x9c") || is3(s, n, i, "\xe2\x80\x98") || is3(s, n, i, "\xe2\x80\x9e")) {
            e = i + 3;
        } else {
            i++;
            continue;
        }
        pad(&x, i, e);
        i = e;
    }
    return sub_end(&x);
}

/* ^" -> `` */
static int s_first_quote(const char *s, size_t n, StrBuf *out)
{
    if (!n || s[0] != '"')
        return 0;
    Sub x = {s, n, out, NULL, 0};
    sub_begin(&x, 0);
    put(&x, "``", 2);
    x.last = 1;
    return sub_end(&x);
}

/* (``) -> " \1 " */
static int s_backticks(const char *s, size_t n, StrBuf *out)
{
    Sub x = {s, n, out, NULL, 0};
    size_t i = 0;
    for (const char *p; i < n && (p = memchr(s + i, '`', n - i));) {
        i = (size_t)(p - s);
        if (i + 1 < n && s[i + 1] == '`') {
            pad(&x, i, i + 2);
            i += 2;
        } else {
            i++;
        }
    }
    return sub_end(&x);
}

/* ([ \(\[{<])(\"|\'{2}) -> "\1 `` ".  Found from the quote at q: \1 is
 * the byte before it, which must not belong to the previous match. */
static int s_open_double(const char *s, size_t n, StrBuf *out)
{
    Sub x = {s, n, out, NULL, 0};
    size_t q = next_of(s, n, 1, T_DQ);
    while (q < n) {
        size_t e = s[q] == '"' ? q + 1 : (q + 1 < n && s[q + 1] == '\'') ? q + 2 : 0;
        char c = s[q - 1];
        if (e && q - 1 >= x.last && (c == ' ' || c == '(' || c == '[' || c == '{' || c == '<')) {
            sub_begin(&x, q - 1);
            putc1(&x, c);
            put(&x, " `` ", 4);
            x.last = e;
            q = next_of(s, n, e, T_DQ);
            continue;
        }
        q = next_of(s, n, q + 1, T_DQ);
    }
    return sub_end(&x);
}

/* (?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b -> "\1 \2" */
static int s_quote_letter(const char *s, size_t n, StrBuf *out)
{
    Sub x = {s, n, out, NULL, 0};
    size_t i = 0;
    for (const char *p; i < n && (p = memchr(s + i, '\'', n - i));) {
        i = (size_t)(p - s);
        size_t j = i + 1;
        if (j >= n) {
            break;
        }
        int excluded = ci_word(s, n, j, "re") || ci_word(s, n, j, "ve") || ci_word(s, n, j, "ll") ||
                       ci_letter(s, n, j, 'm') || ci_letter(s, n, j, 't') || ci_letter(s, n, j, 's') ||
                       ci_letter(s, n, j, 'd') || ci_letter(s, n, j, 'n');
        if (!excluded && word_at(s, n, j)) {
            size_t e = j + cp_len(s, n, j);
            if (!word_after(s, n, e)) {
                sub_begin(&x, i);
                put(&x, "' ", 2);
                put(&x, s + j, e - j);
                x.last = e;
                i = e;
                continue;
            }
        }
        i++;
    }
    return sub_end(&x);
}

/* ---- PUNCTUATION --------------------------------------------------------- */

/* The closing marks of the first final-period rule: ] ) } > " ' space » ” ’
 * (wide = 1), or of the second: ] ) } > " ' (wide = 0).  Byte length or 0. */
static size_t closer_len(const char *s, size_t n, size_t i, int wide)
{
    char c = s[i];
    if (c == ']' || c == ')' || c == '}' || c == '>' || c == '"' || c == '\'')
        return 1;
    if (!wide)
        return 0;
    if (c == ' ')
        return 1;
    if (is2(s, n, i, "\xc2\xbb"))
        return 2;
    if (is3(s, n, i, "\xe2\x80\x9d") || is3(s, n, i, "\xe2\x80\x99"))
        return 3;
    return 0;
}

/* ([^\.])(\.)([<closers>]*)\s*$ -> "\1 \2 \3 " (wide) or "\1 \2\3 ".
 * No closer and no \s is '.', so a match uses the last '.': the code point
 * before it must not be '.', the closers are taken greedily (giving some
 * back cannot help: only ' ' is in both sets, and what follows the greedy
 * run is not \s), and the rest must be \s up to the end (which also covers
 * "$" before a final "\n"). */
static int p_final_period(const char *s, size_t n, StrBuf *out, int wide)
{
    const char *dot = memrchr(s, '.', n);
    if (!dot || dot == s || dot[-1] == '.')
        return 0;
    size_t d = (size_t)(dot - s), j = d + 1;
    for (size_t k; j < n && (k = closer_len(s, n, j, wide));)
        j += k;
    if (!blank_from(s, n, j))
        return 0;
    Sub x = {s, n, out, NULL, 0};
    sub_begin(&x, d);
    put(&x, wide ? " . " : " .", wide ? 3 : 2);
    put(&x, s + d + 1, j - d - 1);
    putc1(&x, ' ');
    x.last = n;
    return sub_end(&x);
}

/* ([:,])([^\d]) -> " \1 \2" */
static int p_colon_comma(const char *s, size_t n, StrBuf *out)
{
    Sub x = {s, n, out, NULL, 0};
    const char *pc = memchr(s, ',', n), *pk = memchr(s, ':', n);
    size_t i = 0;
    for (;;) {
        /* the next ',' or ':' from i (memchr: they are rare, sentences are not) */
        if (pc && (size_t)(pc - s) < i)
            pc = i < n ? memchr(s + i, ',', n - i) : NULL;
        if (pk && (size_t)(pk - s) < i)
            pk = i < n ? memchr(s + i, ':', n - i) : NULL;
        const char *p = !pc ? pk : !pk ? pc : pc < pk ? pc : pk;
        if (!p)
            break;
        i = (size_t)(p - s);
        if (i + 1 >= n)
            break;
        if (digit_at(s, n, i + 1)) {
            i++;
            continue;
        }
        size_t e = i + 1 + cp_len(s, n, i + 1);
        sub_begin(&x, i);
        putc1(&x, ' ');
        putc1(&x, s[i]);
        putc1(&x, ' ');
        put(&x, s + i + 1, e - i - 1);
        x.last = e;
        i = e;
    }
    return sub_end(&x);
}

/* ([:,])$ -> " \1 " ($: the end, or before a final "\n") */
static int p_colon_comma_end(const char *s, size_t n, StrBuf *out)
{
    size_t i;
    if (n >= 1 && (s[n - 1] == ':' || s[n - 1] == ','))
        i = n - 1;
    else if (n >= 2 && s[n - 1] == '\n' && (s[n - 2] == ':' || s[n - 2] == ','))
        i = n - 2;
    else
        return 0;
    Sub x = {s, n, out, NULL, 0};
    pad(&x, i, i + 1);
    return sub_end(&x);
}

/* \.{2,} -> " \g<0> " */
static int p_dots(const char *s, size_t n, StrBuf *out)
{
    Sub x = {s, n, out, NULL, 0};
    size_t i = 0;
    for (const char *p; i < n && (p = memchr(s + i, '.', n - i));) {
        i = (size_t)(p - s);
        size_t e = i + 1;
        while (e < n && s[e] == '.')
            e++;
        if (e - i >= 2)
            pad(&x, i, e);
        i = e;
    }
    return sub_end(&x);
}

/* One-character rules: [set] -> " \g<0> " for the bytes of class mask. */
static int p_chars(const char *s, size_t n, StrBuf *out, unsigned mask)
{
    Sub x = {s, n, out, NULL, 0};
    for (size_t i = next_of(s, n, 0, mask); i < n; i = next_of(s, n, i + 1, mask))
        pad(&x, i, i + 1);
    return sub_end(&x);
}

/* ([^'])' -> "\1 ' " */
static int p_quote_space(const char *s, size_t n, StrBuf *out)
{
    Sub x = {s, n, out, NULL, 0};
    size_t i = 1; /* the apostrophe; the code point before it is \1 */
    for (const char *p; i < n && (p = memchr(s + i, '\'', n - i));) {
        i = (size_t)(p - s);
        if (i + 1 < n && s[i + 1] == ' ' && i > x.last && s[i - 1] != '\'') {
            sub_begin(&x, i);
            put(&x, " ' ", 3);
            x.last = i + 2;
            i += 2;
        } else {
            i++;
        }
    }
    return sub_end(&x);
}

/* [*] -> " * ", then [\]\[\(\)\{\}\<\>] -> " \g<0> ", then -- -> " -- ", then
 * " " + text + " ", in one scan: the first two add spaces around their own
 * characters only, whatever the context, and never put a space between two
 * '-', so the "--" pairs are the same as after them.  Always rewrites. */
static void p_brackets_dashes(const char *s, size_t n, StrBuf *out)
{
    Sub x = {s, n, out, NULL, 0};
    sub_begin(&x, 0);
    putc1(&x, ' ');
    for (size_t i = next_of(s, n, 0, T_BRACK); i < n; i = next_of(s, n, i, T_BRACK)) {
        if (s[i] == '-') {
            if (i + 1 < n && s[i + 1] == '-') {
                pad(&x, i, i + 2);
                i += 2;
            } else {
                i++;
            }
            continue;
        }
        pad(&x, i, i + 1);
        i++;
    }
    sub_begin(&x, n);
    x.last = n;
    putc1(&x, ' ');
    sub_end(&x);
}

/* ---- ENDING_QUOTES ------------------------------------------------------- */

/* ([»”’]) -> " \1 ", then '' -> " '' ", then " -> " '' ", in one scan: the
 * first adds spaces around » ” ’ only (never between two '), and the '' pairs
 * are found before '"' becomes '' (the third rule's output is not paired). */
static int e_quotes(const char *s, size_t n, StrBuf *out)
{
    Sub x = {s, n, out, NULL, 0};
    for (size_t i = next_of(s, n, 0, T_ENDQ); i < n; i = next_of(s, n, i, T_ENDQ)) {
        if (s[i] == '\'') {
            if (i + 1 < n && s[i + 1] == '\'') {
                pad(&x, i, i + 2);
                i += 2;
            } else {
                i++;
            }
        } else if (s[i] == '"') {
            sub_begin(&x, i);
            put(&x, " '' ", 4);
            x.last = ++i;
        } else if (is2(s, n, i, "\xc2\xbb")) {
            pad(&x, i, i + 2);
            i += 2;
        } else if (is3(s, n, i, "\xe2\x80\x9d") || is3(s, n, i, "\xe2\x80\x99")) {
            pad(&x, i, i + 3);
            i += 3;
        } else {
            i++;
        }
    }
    return sub_end(&x);
}

/* ([^' ])('[sS]|'[mM]|'[dD]|') -> "\1 \2 " (clitics = 0), or
 * ([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) -> "\1 \2 " (clitics = 1).
 * Found from the apostrophe: \1 is the code point before the group. */
static int e_clitics(const char *s, size_t n, StrBuf *out, int second)
{
    Sub x = {s, n, out, NULL, 0};
    size_t i = 0;
    for (const char *p; i < n && (p = memchr(s + i, '\'', n - i));) {
        size_t q = (size_t)(p - s), g = q, e = 0;
        if (!second) {
            char c1 = q + 1 < n ? s[q + 1] : 0;
            if ((c1 == 's' || c1 == 'S' || c1 == 'm' || c1 == 'M' || c1 == 'd' || c1 == 'D') && q + 2 < n && s[q + 2] == ' ')
                e = q + 3;
            else if (q + 1 < n && s[q + 1] == ' ')
                e = q + 2;
        } else {
            static const char *const two[] = {"ll", "LL", "re", "RE", "ve", "VE"};
            for (int k = 0; k < 6 && !e; k++)
                if (q + 3 < n && s[q + 1] == two[k][0] && s[q + 2] == two[k][1] && s[q + 3] == ' ')
                    e = q + 4;
            if (!e && q >= 1 && q + 2 < n && s[q + 1] == 't' && s[q - 1] == 'n' && s[q + 2] == ' ')
                g = q - 1, e = q + 3;
            if (!e && q >= 1 && q + 2 < n && s[q + 1] == 'T' && s[q - 1] == 'N' && s[q + 2] == ' ')
                g = q - 1, e = q + 3;
        }
        /* \1: one code point, not ' or space, not already consumed */
        if (e && g > x.last && s[g - 1] != '\'' && s[g - 1] != ' ') {
            sub_begin(&x, g);
            putc1(&x, ' ');
            put(&x, s + g, e - 1 - g);
            putc1(&x, ' ');
            x.last = e;
            i = e;
        } else {
            i = q + 1;
        }
    }
    return sub_end(&x);
}

/* ---- CONTRACTIONS -------------------------------------------------------- */

/* CONTRACTIONS2, the eight (?i)\b(A)(B)\b rules -> " \1 \2 ", in one scan.
 * A match is a whole word (\b on both sides; wanna needs \s after), and
 * inside a match the only non-word character is the ' of d'ye and more'n,
 * followed by y or n, which start no rule: so matches never overlap or
 * touch, the spaces one rule adds never change another rule's \b, and
 * the split halves (can/not, gim/me, ...) are no rule's whole word.  Each
 * rule's matches are therefore the same in the text the earlier rules left
 * and in their input. */
static int c_contractions2(const char *s, size_t n, StrBuf *out)
{
    static const struct {
        const char *a, *b;
    } rules[] = {
        {"can", "not"}, {"d", "'ye"}, {"gim", "me"}, {"gon", "na"}, {"got", "ta"},
        {"lem", "me"}, {"more", "'n"}, {"wan", "na"},
    };
    Sub x = {s, n, out, NULL, 0};
    for (size_t i = next_of(s, n, 0, T_C2); i < n; i = next_of(s, n, i + 1, T_C2)) {
        if (i > 0 && (ascii_word((unsigned char)s[i - 1]) ||
                      ((unsigned char)s[i - 1] >= 0x80 && word_before(s, n, i))))
            continue;
        size_t r0, r1; /* the rules that can start with this letter */
        switch (s[i] | 0x20) {
        case 'c': r0 = 0, r1 = 1; break;
        case 'd': r0 = 1, r1 = 2; break;
        case 'g': r0 = 2, r1 = 5; break;
        case 'l': r0 = 5, r1 = 6; break;
        case 'm': r0 = 6, r1 = 7; break;
        default: r0 = 7, r1 = 8; break; /* w */
        }
        for (size_t r = r0; r < r1; r++) {
            size_t m = ci_word(s, n, i, rules[r].a);
            size_t e = m ? ci_word(s, n, m, rules[r].b) : 0;
            if (!e)
                continue;
            if (r == 7 ? !(e < n && space_len(s, n, e)) : word_after(s, n, e))
                continue;
            sub_begin(&x, i);
            putc1(&x, ' ');
            put(&x, s + i, m - i);
            putc1(&x, ' ');
            put(&x, s + m, e - m);
            putc1(&x, ' ');
            x.last = e;
            i = e - 1;
            break;
        }
    }
    return sub_end(&x);
}

/* (?i) ('t)(is)\b -> " \1 \2 " (or was) */
static int c_tis(const char *s, size_t n, StrBuf *out, const char *word)
{
    Sub x = {s, n, out, NULL, 0};
    size_t i = 0;
    for (const char *p; i < n && (p = memchr(s + i, '\'', n - i));) {
        size_t q = (size_t)(p - s);
        size_t t = ci_letter(s, n, q + 1, 't');
        size_t e = t ? ci_word(s, n, q + 1 + t, word) : 0;
        if (q > x.last && s[q - 1] == ' ' && e && !word_after(s, n, e)) {
            sub_begin(&x, q - 1);
            putc1(&x, ' ');
            put(&x, s + q, 1 + t);
            putc1(&x, ' ');
            put(&x, s + q + 1 + t, e - q - 1 - t);
            putc1(&x, ' ');
            x.last = e;
            i = e;
        } else {
            i = q + 1;
        }
    }
    return sub_end(&x);
}

/* ---- NLTKWordTokenizer.tokenize ------------------------------------------- */

/* Apply the rules to s[0..n); the result is left in *a (b is scratch). */
static void treebank(const char *s, size_t n, StrBuf *a, StrBuf *b)
{
    unsigned char have[256];
    memset(have, 0, sizeof have);
    for (size_t j = 0; j < n; j++)
        have[(unsigned char)s[j]] = 1;
    sb_reset(a);
    sb_add(a, s, n);
#define APPLY(call)                                                                                                    \
    do {                                                                                                               \
        const char *s_ = a->buf;                                                                                       \
        size_t n_ = a->len;                                                                                            \
        (void)s_, (void)n_;                                                                                            \
        if (call) {                                                                                                    \
            StrBuf t_ = *a;                                                                                            \
            *a = *b;                                                                                                   \
            *b = t_;                                                                                                   \
        }                                                                                                              \
    } while (0)
    int hi = have[0xc2] || have[0xe2];
    /* STARTING_QUOTES */
    if (have['`'] || hi)
        APPLY(s_open_quotes(s_, n_, b));
    if (have['"']) {
        APPLY(s_first_quote(s_, n_, b));
        have['`'] = 1;
    }
    if (have['`'])
        APPLY(s_backticks(s_, n_, b));
    if (have['"'] || have['\'']) {
        APPLY(s_open_double(s_, n_, b));
    }
    if (have['\''])
        APPLY(s_quote_letter(s_, n_, b));
    /* PUNCTUATION */
    if (have['.'])
        APPLY(p_final_period(s_, n_, b, 1));
    if (have[':'] || have[',']) {
        APPLY(p_colon_comma(s_, n_, b));
        APPLY(p_colon_comma_end(s_, n_, b));
    }
    if (have['.'])
        APPLY(p_dots(s_, n_, b));
    if (have[';'] || have['@'] || have['#'] || have['$'] || have['%'] || have['&'])
        APPLY(p_chars(s_, n_, b, T_PUNCT));
    if (have['.'])
        APPLY(p_final_period(s_, n_, b, 0));
    if (have['?'] || have['!'])
        APPLY(p_chars(s_, n_, b, T_QM));
    if (have['\''])
        APPLY(p_quote_space(s_, n_, b));
    /* [*], PARENS_BRACKETS, DOUBLE_DASHES, " " + text + " " */
    APPLY((p_brackets_dashes(s_, n_, b), 1));
    /* ENDING_QUOTES */
    if (have['\''] || have['"'] || hi) {
        APPLY(e_quotes(s_, n_, b));
        if (have['\''] || have['"']) {
            APPLY(e_clitics(s_, n_, b, 0));
            APPLY(e_clitics(s_, n_, b, 1));
        }
    }
    /* CONTRACTIONS2, CONTRACTIONS3 */
    APPLY(c_contractions2(s_, n_, b));
    if (have['\''] || have['"']) {
        APPLY(c_tis(s_, n_, b, "is"));
        APPLY(c_tis(s_, n_, b, "was"));
    }
#undef APPLY
}

/* str.split(): append s[0..n) and a NUL to the byte buffer with its white
 * space zeroed, so each token is a NUL-terminated string in place, and the
 * tokens' offsets in the buffer to off (a text of n bytes holds at most
 * (n + 1) / 2 tokens). */
static void split_ws(const char *s, size_t n, StrBuf *bytes, size_t **off, size_t *noff, size_t *cap)
{
    sb_grow(bytes, n + 1);
    *off = grow_array(*off, cap, *noff + n / 2 + 1, sizeof **off);
    char *b = bytes->buf + bytes->len;
    memcpy(b, s, n);
    b[n] = 0;
    size_t *f = *off + *noff;
    size_t i = 0, k;
    while (i < n) {
        unsigned c = (unsigned char)b[i];
        if (cls[c] & T_SPACE) {
            b[i++] = 0;
            continue;
        }
        if ((cls[c] & T_LEAD) && (k = space_len(b, n, i))) {
            memset(b + i, 0, k);
            i += k;
            continue;
        }
        *f++ = bytes->len + i;
        for (i++; i < n; i++) {
            c = (unsigned char)b[i];
            if ((cls[c] & T_SPACE) || ((cls[c] & T_LEAD) && space_len(b, n, i)))
                break;
        }
    }
    bytes->len += n + 1;
    *noff = (size_t)(f - *off);
}

size_t wordtok_tokenize(const PunktModel *m, const char *text, size_t n, char ***tokens)
{
    pthread_once(&cls_once, cls_init);
    StrBuf valid = SB_INIT;
    text = nlpre_valid_copy(text, &n, &valid);
    Span *sp;
    size_t ns = punkt_sentences(m, text, n, &sp);
    StrBuf a = SB_INIT, b = SB_INIT, bytes = SB_INIT;
    size_t *off = NULL, noff = 0, cap = 0;
    for (size_t s = 0; s < ns; s++) {
        treebank(text + sp[s].start, sp[s].end - sp[s].start, &a, &b);
        split_ws(a.buf, a.len, &bytes, &off, &noff, &cap);
    }
    /* One block: the pointer array, then the strings. */
    char **tok = NULL;
    if (noff) {
        tok = xmalloc(size_add(size_mul(noff, sizeof *tok), bytes.len));
        char *base = (char *)(tok + noff);
        memcpy(base, bytes.buf, bytes.len);
        for (size_t i = 0; i < noff; i++)
            tok[i] = base + off[i];
    }
    free(off);
    sb_release(&a);
    sb_release(&b);
    sb_release(&bytes);
    sb_release(&valid);
    free(sp);
    *tokens = tok;
    return noff;
}

void wordtok_free(char **tokens, size_t n)
{
    (void)n;
    free(tokens);
}
