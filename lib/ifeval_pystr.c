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

/* For ASCII text: 1 if it has an upper-case letter, 2 if a lower-case one
 * (ASCII has no title-case letters and no other cased characters); -1 when
 * a byte is not ASCII and the Unicode tables must decide. */
static int ascii_cases(const char *s, size_t n)
{
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            return -1;
        seen |= (c >= 'A' && c <= 'Z') | ((c >= 'a' && c <= 'z') << 1);
    }
    return seen;
}

int pystr_isupper(const char *s, size_t n)
{
    int c = ascii_cases(s, n);
    if (c >= 0)
        return c == 1;
    return has_match(re_upper, s, n) && !has_match(re_notupper, s, n);
}

int pystr_islower(const char *s, size_t n)
{
    int c = ascii_cases(s, n);
    if (c >= 0)
        return c == 2;
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

/* ---------------------------------------------------------------- json.loads of a record */

static unsigned hexval(char c)
{
    return isdig(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

static unsigned hex4(const char *s)
{
    return hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]);
}

/* Decode the string at p->i (on its opening quote) into out as WTF-8, as
 * CPython's scanstring does: a \ud800-\udbff escape directly followed by a
 * \udc00-\udfff escape is one code point, any other surrogate escape stays a
 * lone surrogate (3 bytes ED A0..BF 80..BF); \u0000 is a NUL byte. */
static int jp_string_decode(JP *p, StrBuf *out)
{
    p->i++;
    while (p->i < p->n) {
        size_t j = p->i + json_plain_span(p->s + p->i, p->n - p->i, 0);
        sb_add(out, p->s + p->i, j - p->i);
        p->i = j;
        if (j >= p->n)
            return 0;
        unsigned char c = (unsigned char)p->s[j];
        if (c == '"') {
            p->i++;
            return 1;
        }
        if (c < 0x20 || ++p->i >= p->n)
            return 0;
        char e = p->s[p->i];
        if (e != 'u') {
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *k = e ? strchr(from, e) : NULL;
            if (!k)
                return 0;
            sb_addc(out, to[k - from]);
            p->i++;
            continue;
        }
        if (p->n - p->i < 5)
            return 0;
        for (int h = 1; h <= 4; h++)
            if (!ishex(p->s[p->i + h]))
                return 0;
        uint32_t cp = hex4(p->s + p->i + 1);
        p->i += 5;
        if (cp >= 0xd800 && cp <= 0xdbff && p->n - p->i >= 6 && p->s[p->i] == '\\' &&
            p->s[p->i + 1] == 'u' && ishex(p->s[p->i + 2]) && ishex(p->s[p->i + 3]) &&
            ishex(p->s[p->i + 4]) && ishex(p->s[p->i + 5])) {
            uint32_t lo = hex4(p->s + p->i + 2);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p->i += 6;
            }
        }
        char b[4];
        if (cp >= 0xd800 && cp <= 0xdfff) { /* lone surrogate: WTF-8 */
            b[0] = (char)0xed;
            b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
            b[2] = (char)(0x80 | (cp & 0x3f));
            sb_add(out, b, 3);
        } else {
            sb_add(out, b, utf8_encode(cp, b));
        }
    }
    return 0;
}

int pystr_json_object(const char *s, size_t n, size_t *pos, PyJsonField *f, size_t nf)
{
    JP p = {s, n, *pos, 0};
    StrBuf key = SB_INIT;
    for (size_t k = 0; k < nf; k++) {
        f[k].type = PYJ_ABSENT;
        sb_reset(&f[k].val);
    }
    jp_ws(&p);
    if (p.i >= n || s[p.i] != '{')
        goto bad;
    p.i++;
    jp_ws(&p);
    if (p.i < n && s[p.i] == '}') {
        p.i++;
        goto end;
    }
    for (;;) {
        if (p.i >= n || s[p.i] != '"')
            goto bad;
        sb_reset(&key);
        if (!jp_string_decode(&p, &key))
            goto bad;
        jp_ws(&p);
        if (p.i >= n || s[p.i] != ':')
            goto bad;
        p.i++;
        jp_ws(&p);
        PyJsonField *want = NULL;
        for (size_t k = 0; k < nf && !want; k++)
            if (strlen(f[k].name) == key.len && !memcmp(f[k].name, key.buf, key.len))
                want = &f[k]; /* a repeated member overrides, as in a dict */
        if (want)
            sb_reset(&want->val);
        size_t at = p.i;
        if (want && at < n && s[at] == '"') {
            if (!jp_string_decode(&p, &want->val))
                goto bad;
            want->type = PYJ_STRING;
        } else {
            if (!jp_value(&p))
                goto bad;
            if (want) {
                char c = s[at];
                want->type = c == 'n' ? PYJ_NULL
                           : (c == '-' || isdig(c) || c == 'N' || c == 'I') ? PYJ_NUMBER
                           : PYJ_OTHER;
                sb_add(&want->val, s + at, p.i - at);
            }
        }
        jp_ws(&p);
        if (p.i >= n)
            goto bad;
        if (s[p.i] == '}') {
            p.i++;
            break;
        }
        if (s[p.i] != ',')
            goto bad;
        p.i++;
        jp_ws(&p);
    }
end:
    sb_release(&key);
    *pos = p.i;
    return 0;
bad:
    sb_release(&key);
    *pos = p.i;
    return -1;
}

void pystr_wtf8_for_scoring(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            s[i] = 1;
        else if (c == 0xed && i + 2 < n && (unsigned char)s[i + 1] >= 0xa0) {
            s[i] = (char)0xee;
            s[i + 1] = (char)((unsigned char)s[i + 1] - 0x20);
            i += 2;
        }
    }
}

/* ---------------------------------------------------------------- json.loads as a cJSON tree */

/* cJSON allocates with malloc and returns NULL only when it runs out of
 * memory; out of memory aborts, as xmalloc does. */
static cJSON *tree_must(cJSON *j)
{
    if (!j)
        abort();
    return j;
}

/* A string at p->i decoded as Python does, then in its scoring form so that
 * it is a C string (pystr_wtf8_for_scoring); into tmp, NULL if malformed. */
static const char *jp_tree_string(JP *p, StrBuf *tmp)
{
    sb_reset(tmp);
    if (!jp_string_decode(p, tmp))
        return NULL;
    pystr_wtf8_for_scoring(tmp->buf, tmp->len);
    return tmp->buf;
}

static cJSON *jp_tree(JP *p, StrBuf *tmp)
{
    if (p->i >= p->n)
        return NULL;
    char c = p->s[p->i];
    size_t at = p->i;
    switch (c) {
    case '"': {
        const char *v = jp_tree_string(p, tmp);
        return v ? tree_must(cJSON_CreateString(v)) : NULL;
    }
    case '{':
    case '[': {
        if (++p->depth > 990)
            return NULL;
        char close = c == '{' ? '}' : ']';
        cJSON *o = tree_must(c == '{' ? cJSON_CreateObject() : cJSON_CreateArray());
        p->i++;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            p->depth--;
            return o;
        }
        for (;;) {
            char *name = NULL;
            if (c == '{') {
                const char *k = p->i < p->n && p->s[p->i] == '"' ? jp_tree_string(p, tmp) : NULL;
                if (!k)
                    goto bad;
                name = xstrdup(k);
                jp_ws(p);
                if (p->i >= p->n || p->s[p->i] != ':') {
                    free(name);
                    goto bad;
                }
                p->i++;
                jp_ws(p);
            }
            cJSON *v = jp_tree(p, tmp);
            if (!v) {
                free(name);
                goto bad;
            }
            /* a repeated member is kept twice, in order: a reader walking
             * the children sees the last one last, as a dict keeps it */
            if (name ? !cJSON_AddItemToObject(o, name, v) : !cJSON_AddItemToArray(o, v))
                abort(); /* out of memory copying the name */
            free(name);
            jp_ws(p);
            if (p->i >= p->n)
                goto bad;
            if (p->s[p->i] == close) {
                p->i++;
                p->depth--;
                return o;
            }
            if (p->s[p->i] != ',')
                goto bad;
            p->i++;
            jp_ws(p);
        }
    bad:
        cJSON_Delete(o);
        return NULL;
    }
    case 'n':
        return jp_lit(p, "null") ? tree_must(cJSON_CreateNull()) : NULL;
    case 't':
        return jp_lit(p, "true") ? tree_must(cJSON_CreateTrue()) : NULL;
    case 'f':
        return jp_lit(p, "false") ? tree_must(cJSON_CreateFalse()) : NULL;
    case 'N':
        return jp_lit(p, "NaN") ? tree_must(cJSON_CreateNumber(NAN)) : NULL;
    case 'I':
        return jp_lit(p, "Infinity") ? tree_must(cJSON_CreateNumber(INFINITY)) : NULL;
    default:
        if (jp_lit(p, "-Infinity"))
            return tree_must(cJSON_CreateNumber(-INFINITY));
        if (!jp_number(p))
            return NULL;
        /* strtod needs a terminated copy; numbers are short but unbounded */
        sb_reset(tmp);
        sb_add(tmp, p->s + at, p->i - at);
        return tree_must(cJSON_CreateNumber(strtod(tmp->buf, NULL)));
    }
}

cJSON *pystr_json_tree(const char *s, size_t n, size_t *pos)
{
    JP p = {s, n, *pos, 0};
    StrBuf tmp = SB_INIT;
    jp_ws(&p);
    cJSON *t = jp_tree(&p, &tmp);
    sb_release(&tmp);
    *pos = p.i;
    return t;
}

/* ---------------------------------------------------------------- json.dumps */

/* 1 for the bytes json.dumps(ensure_ascii) copies as they are: ' '..'~'
 * except '"' and '\\' (DEL is written \u007f, as Python's ESCAPE_ASCII does). */
static const unsigned char plain_ascii[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

void pystr_json_dump_str(StrBuf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_grow(out, n + 2);
    sb_addc(out, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (plain_ascii[c]) {
            size_t j = i + 1;
            j += json_plain_span(s + j, n - j, 1);
            while (j < n && plain_ascii[(unsigned char)s[j]])
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
            } else if (c == 0xed && n - i >= 3 && (unsigned char)s[i + 1] >= 0xa0 &&
                       (unsigned char)s[i + 1] <= 0xbf && ((unsigned char)s[i + 2] & 0xc0) == 0x80) {
                /* a lone surrogate kept in WTF-8 (pystr_json_object) */
                cp = 0xd000 | ((uint32_t)(s[i + 1] & 0x3f) << 6) | (uint32_t)(s[i + 2] & 0x3f);
                k = 3;
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
    /* Shortest %.Pe that round-trips gives repr's digits and exponent.
     * P = 16 always round-trips, and if P does, P + 1 does (the nearer
     * decimal stays inside x's symmetric rounding interval), so bisect;
     * at a power of two the interval is lopsided: scan from P = 0 there. */
    char buf[40];
    int e2, lo = 0, hi = 16;
    if (frexp(x, &e2) == 0.5 || frexp(x, &e2) == -0.5) {
        while (lo < hi) {
            snprintf(buf, sizeof buf, "%.*e", lo, x);
            if (strtod(buf, NULL) == x)
                break;
            lo++;
        }
        hi = lo;
    }
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        snprintf(buf, sizeof buf, "%.*e", mid, x);
        if (strtod(buf, NULL) == x)
            hi = mid;
        else
            lo = mid + 1;
    }
    int p = lo;
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
