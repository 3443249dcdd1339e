/*
 * nlpre.c - Python re/str semantics on PCRE2 (see nlpre.h).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "nlpre.h"

#include <locale.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

struct NlpRegex {
    pcre2_code *code;
    int jit;
};

struct NlpMatch {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
};

NlpRegex *nlpre_compile(const char *pattern, unsigned flags, Err *err)
{
    uint32_t opt = PCRE2_UTF | PCRE2_UCP;
    if (flags & NLPRE_MULTILINE)
        opt |= PCRE2_MULTILINE;
    if (flags & NLPRE_CASELESS)
        opt |= PCRE2_CASELESS;
    if (flags & NLPRE_ANCHORED)
        opt |= PCRE2_ANCHORED;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc)
        die("out of memory");
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opt, &ec, &eo, cc);
    pcre2_compile_context_free(cc);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        err_set(err, NULL, 0, "regex '%s' at offset %zu: %s", pattern, (size_t)eo, (const char *)msg);
        return NULL;
    }
    NlpRegex *re = xmalloc(sizeof *re);
    re->code = code;
    re->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    return re;
}

void nlpre_free(NlpRegex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    free(re);
}

NlpMatch *nlpre_match_new(void)
{
    NlpMatch *m = xmalloc(sizeof *m);
    m->md = pcre2_match_data_create(10, NULL);
    m->mc = pcre2_match_context_create(NULL);
    m->js = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (!m->md || !m->mc || !m->js)
        die("out of memory");
    pcre2_set_match_limit(m->mc, 10000000);
    pcre2_set_depth_limit(m->mc, 100000);
    pcre2_jit_stack_assign(m->mc, NULL, m->js);
    return m;
}

void nlpre_match_free(NlpMatch *m)
{
    if (!m)
        return;
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mc);
    pcre2_jit_stack_free(m->js);
    free(m);
}

NlpMatch *nlpre_match_tls(void)
{
    static _Thread_local NlpMatch *md;
    if (!md)
        md = nlpre_match_new();
    return md;
}

static int do_match(const NlpRegex *re, const char *s, size_t n, size_t start, uint32_t opt, NlpMatch *m)
{
    if (start > n)
        return 0;
    int rc;
    if (re->jit && !(opt & PCRE2_ANCHORED))
        rc = pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, start, opt, m->md, m->mc);
    else
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, start, opt | PCRE2_NO_UTF_CHECK, m->md, m->mc);
    opt |= PCRE2_NO_UTF_CHECK;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, start, opt | PCRE2_NO_JIT, m->md, m->mc);
    return rc > 0 ? rc : 0;
}

int nlpre_match(const NlpRegex *re, const char *s, size_t n, size_t start, NlpMatch *md)
{
    return do_match(re, s, n, start, 0, md);
}

int nlpre_match_anchored(const NlpRegex *re, const char *s, size_t n, size_t start, NlpMatch *md)
{
    return do_match(re, s, n, start, PCRE2_ANCHORED, md);
}

size_t nlpre_start(const NlpMatch *md, int g) { return pcre2_get_ovector_pointer(md->md)[2 * g]; }
size_t nlpre_end(const NlpMatch *md, int g) { return pcre2_get_ovector_pointer(md->md)[2 * g + 1]; }
int nlpre_group_set(const NlpMatch *md, int g)
{
    return (int)g < (int)pcre2_get_ovector_count(md->md) && pcre2_get_ovector_pointer(md->md)[2 * g] != PCRE2_UNSET;
}

/* Length in bytes of the code point starting at s[i] (s valid UTF-8). */
static size_t cp_len(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return i + k <= n ? k : n - i;
}

size_t nlpre_sub(const NlpRegex *re, const char *s, size_t n, const char *repl, NlpMatch *md, StrBuf *out)
{
    return nlpre_sub_from(re, s, n, 0, repl, md, out);
}

size_t nlpre_sub_from(const NlpRegex *re, const char *s, size_t n, size_t from, const char *repl, NlpMatch *md,
                      StrBuf *out)
{
    size_t pos = from, copied = 0, count = 0;
    if (nlpre_match(re, s, n, from, md) <= 0)
        return 0;
    for (int first = 1; first || (pos <= n && nlpre_match(re, s, n, pos, md) > 0); first = 0) {
        size_t ms = nlpre_start(md, 0), me = nlpre_end(md, 0);
        sb_add(out, s + copied, ms - copied);
        for (const char *r = repl; *r; r++) {
            if (r[0] == '$' && r[1] >= '0' && r[1] <= '9') {
                int g = r[1] - '0';
                if (nlpre_group_set(md, g))
                    sb_add(out, s + nlpre_start(md, g), nlpre_end(md, g) - nlpre_start(md, g));
                r++;
            } else {
                sb_addc(out, *r);
            }
        }
        copied = me;
        count++;
        if (me > ms) {
            pos = me;
        } else {
            /* Python: after an empty match the next one starts a character later. */
            if (me >= n)
                break;
            size_t k = cp_len(s, n, me);
            sb_add(out, s + me, k);
            copied = me + k;
            pos = me + k;
        }
    }
    if (copied < n)
        sb_add(out, s + copied, n - copied);
    return count;
}

int nlpre_is_space(uint32_t c)
{
    if (c < 0x80)
        return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
    return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
           c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

int nlpre_is_blank(const char *s, size_t n)
{
    return nlpre_lstrip_off(s, n) == n;
}

size_t nlpre_lstrip_off(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k || !nlpre_is_space(cp))
            break;
        i += k;
    }
    return i;
}

size_t nlpre_rstrip_len(const char *s, size_t n)
{
    while (n > 0) {
        size_t i = n - 1;
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80 && n - i < 4)
            i--;
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (k != n - i || !nlpre_is_space(cp))
            break;
        n = i;
    }
    return n;
}

size_t nlpre_cplen(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Process-wide, created once (pthread_once): the C.UTF-8 case tables and
 * the first-letter case pattern. */
static pthread_once_t statics_once = PTHREAD_ONCE_INIT;
static locale_t utf8_loc;
static NlpRegex *case_re;

static void statics_init(void)
{
    utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!utf8_loc)
        utf8_loc = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
    Err e;
    case_re = nlpre_compile("(\\p{Uppercase})|(\\p{Lowercase})", NLPRE_ANCHORED, &e);
}

static locale_t utf8_locale(void)
{
    pthread_once(&statics_once, statics_init);
    return utf8_loc;
}

void nlpre_lower(const char *s, size_t n, StrBuf *out)
{
    locale_t loc = NULL;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            size_t j = i, len = out->len;
            while (j < n && (unsigned char)s[j] < 0x80)
                j++;
            sb_grow(out, j - i);
            for (size_t q = i; q < j; q++) {
                unsigned char ch = (unsigned char)s[q];
                out->buf[len++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            }
            sb_setlen(out, len);
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
        if (cp == 0x130) { /* Python's one multi-character lower-casing */
            sb_adds(out, "i\xcc\x87");
        } else {
            if (!loc)
                loc = utf8_locale();
            uint32_t lo = loc ? (uint32_t)towlower_l((wint_t)cp, loc) : cp;
            sb_add(out, buf, utf8_encode(lo, buf));
        }
        i += k;
    }
}

int nlpre_first_case(const char *s, size_t n)
{
    if (!n)
        return NLPRE_NONE;
    unsigned char c = (unsigned char)s[0];
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? NLPRE_UPPER : c >= 'a' && c <= 'z' ? NLPRE_LOWER : NLPRE_NONE;
    pthread_once(&statics_once, statics_init);
    const NlpRegex *re = case_re;
    if (!re)
        return NLPRE_NONE;
    NlpMatch *md = nlpre_match_tls();
    if (nlpre_match(re, s, n, 0, md) > 0)
        return nlpre_group_set(md, 1) ? NLPRE_UPPER : NLPRE_LOWER;
    return NLPRE_NONE;
}


const char *nlpre_valid_copy(const char *s, size_t *n, StrBuf *tmp)
{
    if (utf8_valid(s, *n, NULL))
        return s;
    sb_reset(tmp);
    size_t i = 0;
    while (i < *n) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, *n - i, &cp);
        if (!k) {
            sb_adds(tmp, "\xef\xbf\xbd");
            i++;
        } else {
            sb_add(tmp, s + i, k);
            i += k;
        }
    }
    *n = tmp->len;
    return tmp->buf;
}
