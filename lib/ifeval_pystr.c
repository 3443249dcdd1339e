/*
 * ifeval_pystr.c - Python str semantics on UTF-8 for the IFEval scorer.
 *
 * Why not plain C: the official scorer's results hinge on Python details
 * (str.isspace() includes \x1c-\x1f but not U+200B; "ǅ".isupper() is False;
 * "İ".lower() is two code points; json.loads accepts NaN and a bare 42 but not
 * a raw tab inside a string).  Case mapping comes from glibc's C.UTF-8 tables
 * (towlower_l), which carry the full Unicode simple mappings; the one
 * unconditional special casing that changes lower() (U+0130) and Greek final
 * sigma are added by hand.  Cased/uppercase/lowercase come from PCRE2's
 * Unicode property tables (\p{Uppercase}, \p{Lowercase}, \p{Lt}), which are
 * exactly the derived properties Python's unicodedata uses.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "ifeval_pystr.h"

/* ---------------------------------------------------------------- set-up */

static locale_t utf8_loc;
static pcre2_code *re_upper, *re_lower, *re_notupper, *re_notlower;

static pcre2_code *compile_class(const char *pat, Err *err)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &ec, &off, NULL);
    if (!c) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        err_set(err, NULL, 0, "cannot compile '%s': %s", pat, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return c;
}

int pystr_init(Err *err)
{
    if (utf8_loc)
        return 0;
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!l) {
        err_set(err, NULL, 0, "cannot load the 'C.UTF-8' locale");
        return -1;
    }
    if (!(re_upper = compile_class("\\p{Uppercase}", err)) ||
        !(re_lower = compile_class("\\p{Lowercase}", err)) ||
        !(re_notupper = compile_class("[\\p{Lowercase}\\p{Lt}]", err)) ||
        !(re_notlower = compile_class("[\\p{Uppercase}\\p{Lt}]", err)))
        return -1;
    utf8_loc = l;
    return 0;
}

/* ---------------------------------------------------------------- whitespace */

int pystr_isspace(uint32_t c)
{
    if (c < 0x80)
        return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
    return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Decode the code point that ends at s[e) going backwards; returns its start. */
static size_t prev_cp(const char *s, size_t e, uint32_t *cp)
{
    size_t b = e - 1;
    while (b > 0 && e - b < 4 && ((unsigned char)s[b] & 0xc0) == 0x80)
        b--;
    if (utf8_decode(s + b, e - b, cp) != e - b) {
        *cp = (unsigned char)s[e - 1];
        return e - 1;
    }
    return b;
}

void pystr_strip(const char *s, size_t n, size_t *pb, size_t *pe)
{
    size_t b = 0, e = n;
    uint32_t cp;
    while (b < e) {
        size_t k = utf8_decode(s + b, e - b, &cp);
        if (!k)
            k = 1;
        if (!pystr_isspace(cp))
            break;
        b += k;
    }
    while (e > b) {
        size_t p = prev_cp(s, e, &cp);
        if (p < b || !pystr_isspace(cp))
            break;
        e = p;
    }
    *pb = b;
    *pe = e;
}

void pystr_strip_ascii(const char *s, size_t n, char ch, size_t *pb, size_t *pe)
{
    size_t b = 0, e = n;
    while (b < e && s[b] == ch)
        b++;
    while (e > b && s[e - 1] == ch)
        e--;
    *pb = b;
    *pe = e;
}

int pystr_isblank(const char *s, size_t n)
{
    size_t b, e;
    pystr_strip(s, n, &b, &e);
    return b == e;
}

size_t pystr_len(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xc0) != 0x80;
    return k;
}

size_t pystr_first_word(const char *s, size_t n, size_t *start)
{
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k)
            k = 1;
        if (!pystr_isspace(cp))
            break;
        i += k;
    }
    size_t b = i;
    while (i < n) {
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k)
            k = 1;
        if (pystr_isspace(cp))
            break;
        i += k;
    }
    *start = b;
    return i - b;
}

/* ---------------------------------------------------------------- case */

static int has_match(pcre2_code *re, const char *s, size_t n)
{
    /* match data per call, so any number of threads may ask at once */
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

int pystr_isupper(const char *s, size_t n)
{
    return has_match(re_upper, s, n) && !has_match(re_notupper, s, n);
}

int pystr_islower(const char *s, size_t n)
{
    return has_match(re_lower, s, n) && !has_match(re_notlower, s, n);
}

/* Cased or case-ignorable, for the final-sigma rule (an approximation of
 * Unicode's Case_Ignorable: apostrophes, periods, colons, combining marks). */
static int is_cased(uint32_t c)
{
    return iswupper_l(c, utf8_loc) || iswlower_l(c, utf8_loc) ||
           towlower_l(c, utf8_loc) != (wint_t)c || towupper_l(c, utf8_loc) != (wint_t)c;
}

static int is_case_ignorable(uint32_t c)
{
    return c == '\'' || c == '.' || c == ':' || c == 0x00b7 || c == 0x2019 || c == 0x00ad ||
           (c >= 0x0300 && c <= 0x036f);
}

/* Python's final sigma: Σ after a cased letter and not before one -> ς. */
static int final_sigma(const char *s, size_t n, size_t at, size_t len)
{
    uint32_t cp;
    size_t i = at;
    int before = 0;
    while (i > 0) {
        i = prev_cp(s, i, &cp);
        if (is_case_ignorable(cp))
            continue;
        before = is_cased(cp);
        break;
    }
    if (!before)
        return 0;
    i = at + len;
    while (i < n) {
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k)
            k = 1;
        i += k;
        if (is_case_ignorable(cp))
            continue;
        return !is_cased(cp);
    }
    return 1;
}

void pystr_lower(const char *s, size_t n, StrBuf *out)
{
    sb_grow(out, n);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) { /* a run of ASCII: copy, then lower in place */
            size_t j = i + 1;
            while (j < n && (unsigned char)s[j] < 0x80)
                j++;
            size_t at = out->len;
            sb_add(out, s + i, j - i);
            for (char *q = out->buf + at, *qe = out->buf + out->len; q < qe; q++)
                if (*q >= 'A' && *q <= 'Z')
                    *q += 32;
            i = j;
            continue;
        }
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k) {
            sb_addc(out, c);
            i++;
            continue;
        }
        char buf[4];
        if (cp == 0x0130) {
            sb_adds(out, "i\xcc\x87");
        } else if (cp == 0x03a3 && final_sigma(s, n, i, k)) {
            sb_adds(out, "\xcf\x82");
        } else {
            uint32_t lo = (uint32_t)towlower_l(cp, utf8_loc);
            sb_add(out, buf, utf8_encode(lo, buf));
        }
        i += k;
    }
}

/* ---------------------------------------------------------------- json.loads */

/* A validating recursive-descent parser with the rules of CPython's json
 * module (c scanner, strict=True).  Depth is capped (CPython would raise
 * RecursionError near 1000 levels, which the official checker does not catch:
 * we say "invalid" instead of crashing). */
typedef struct {
    const char *s;
    size_t n, i;
    int depth;
} JP;

static void jp_ws(JP *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int jp_lit(JP *p, const char *w)
{
    size_t k = strlen(w);
    if (p->n - p->i >= k && !memcmp(p->s + p->i, w, k)) {
        p->i += k;
        return 1;
    }
    return 0;
}

static int isdig(char c) { return c >= '0' && c <= '9'; }
static int ishex(char c)
{
    return isdig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int jp_string(JP *p)
{
    p->i++; /* opening quote */
    while (p->i < p->n) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (++p->i >= p->n)
                return 0;
            char e = p->s[p->i];
            if (e == 'u') {
                if (p->n - p->i < 5)
                    return 0;
                for (int j = 1; j <= 4; j++)
                    if (!ishex(p->s[p->i + j]))
                        return 0;
                p->i += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == 0)
                return 0;
        }
        p->i++;
    }
    return 0;
}

static int jp_number(JP *p)
{
    size_t i = p->i;
    if (i < p->n && p->s[i] == '-')
        i++;
    if (i >= p->n || !isdig(p->s[i]))
        return 0;
    if (p->s[i] == '0')
        i++;
    else
        while (i < p->n && isdig(p->s[i]))
            i++;
    if (i + 1 < p->n && p->s[i] == '.' && isdig(p->s[i + 1])) {
        i++;
        while (i < p->n && isdig(p->s[i]))
            i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < p->n && (p->s[j] == '+' || p->s[j] == '-'))
            j++;
        if (j < p->n && isdig(p->s[j])) {
            while (j < p->n && isdig(p->s[j]))
                j++;
            i = j;
        }
    }
    p->i = i;
    return 1;
}

static int jp_value(JP *p)
{
    if (p->i >= p->n)
        return 0;
    char c = p->s[p->i];
    switch (c) {
    case '"':
        return jp_string(p);
    case '{':
    case '[': {
        if (++p->depth > 990)
            return 0;
        char close = c == '{' ? '}' : ']';
        p->i++;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            p->depth--;
            return 1;
        }
        for (;;) {
            if (c == '{') {
                if (p->i >= p->n || p->s[p->i] != '"' || !jp_string(p))
                    return 0;
                jp_ws(p);
                if (p->i >= p->n || p->s[p->i] != ':')
                    return 0;
                p->i++;
                jp_ws(p);
            }
            if (!jp_value(p))
                return 0;
            jp_ws(p);
            if (p->i >= p->n)
                return 0;
            if (p->s[p->i] == close) {
                p->i++;
                p->depth--;
                return 1;
            }
            if (p->s[p->i] != ',')
                return 0;
            p->i++;
            jp_ws(p);
        }
    }
    case 'n':
        return jp_lit(p, "null");
    case 't':
        return jp_lit(p, "true");
    case 'f':
        return jp_lit(p, "false");
    case 'N':
        return jp_lit(p, "NaN");
    case 'I':
        return jp_lit(p, "Infinity");
    case '-':
        if (jp_lit(p, "-Infinity"))
            return 1;
        return jp_number(p);
    default:
        return jp_number(p);
    }
}

int pystr_json_loads_ok(const char *s, size_t n)
{
    JP p = {s, n, 0, 0};
    if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
        return 0; /* "Unexpected UTF-8 BOM" */
    jp_ws(&p);
    if (!jp_value(&p))
        return 0;
    jp_ws(&p);
    return p.i == n;
}

/* ---------------------------------------------------------------- json.dumps */

void pystr_json_dump_str(StrBuf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_grow(out, n + 2);
    sb_addc(out, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            size_t j = i + 1;
            while (j < n && (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x80 &&
                   s[j] != '"' && s[j] != '\\')
                j++;
            sb_add(out, s + i, j - i);
            i = j;
            continue;
        }
        uint32_t cp;
        size_t k = 1;
        switch (c) {
        case '"': sb_adds(out, "\\\""); break;
        case '\\': sb_adds(out, "\\\\"); break;
        case '\n': sb_adds(out, "\\n"); break;
        case '\r': sb_adds(out, "\\r"); break;
        case '\t': sb_adds(out, "\\t"); break;
        case '\b': sb_adds(out, "\\b"); break;
        case '\f': sb_adds(out, "\\f"); break;
        default:
            if (c < 0x20) {
                cp = c;
            } else {
                k = utf8_decode(s + i, n - i, &cp);
                if (!k)
                    k = 1; /* cp is U+FFFD */
            }
            if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                uint32_t hi = 0xd800 | (v >> 10), lo = 0xdc00 | (v & 0x3ff);
                char b[13] = {'\\', 'u', hex[hi >> 12], hex[(hi >> 8) & 15], hex[(hi >> 4) & 15],
                              hex[hi & 15], '\\', 'u', hex[lo >> 12], hex[(lo >> 8) & 15],
                              hex[(lo >> 4) & 15], hex[lo & 15], 0};
                sb_add(out, b, 12);
            } else {
                char b[7] = {'\\', 'u', hex[cp >> 12], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
                             hex[cp & 15], 0};
                sb_add(out, b, 6);
            }
        }
        i += k;
    }
    sb_addc(out, '"');
}

/* ---------------------------------------------------------------- float repr */

void pystr_float_repr(StrBuf *out, double x)
{
    if (x == 0) {
        sb_adds(out, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    if (!isfinite(x)) {
        sb_adds(out, isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf"));
        return;
    }
    /* Shortest %.Pe that round-trips gives repr's digits and exponent. */
    char buf[40];
    int p;
    for (p = 0; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    snprintf(buf, sizeof buf, "%.*e", p, x);
    char digits[24];
    int nd = 0, neg = 0;
    char *q = buf;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (isdig(*q))
            digits[nd++] = *q;
    digits[nd] = 0;
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = 0;
    if (neg)
        sb_addc(out, '-');
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            sb_adds(out, "0.");
            for (int i = 0; i < -exp - 1; i++)
                sb_addc(out, '0');
            sb_adds(out, digits);
        } else {
            for (int i = 0; i <= exp; i++)
                sb_addc(out, i < nd ? digits[i] : '0');
            sb_addc(out, '.');
            if (nd > exp + 1)
                sb_adds(out, digits + exp + 1);
            else
                sb_addc(out, '0');
        }
    } else {
        sb_addc(out, digits[0]);
        if (nd > 1) {
            sb_addc(out, '.');
            sb_adds(out, digits + 1);
        }
        sb_addf(out, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}
