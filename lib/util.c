/*
 * util.c - diagnostics, allocation wrappers, StrBuf and UTF-8 helpers.
 * See util.h for the contract.
 */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

char sb_empty[1];
static const char *prog = "miso";

void util_set_prog(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    prog = slash ? slash + 1 : argv0;
}

const char *util_prog(void) { return prog; }

static void vreport(const char *fmt, va_list ap)
{
    int saved = errno;
    fflush(stdout);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    size_t n = strlen(fmt);
    if (n && fmt[n - 1] == ':')
        fprintf(stderr, " %s", strerror(saved));
    fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    exit(1);
}

void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    fprintf(stderr, "try '%s --help' for more information\n", prog);
    exit(2);
}

void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
}

void util_print_version(void)
{
    printf("%s (miso) %s\n", prog, MISO_VERSION);
    util_close_stdout();
    exit(0);
}

void util_close_stdout(void)
{
    int err = ferror(stdout);
    if (fclose(stdout) != 0 || err) {
        if (errno == EPIPE)
            exit(1);
        fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno ? errno : EIO));
        exit(1);
    }
}

static MISO_NORETURN void oom(size_t n)
{
    fprintf(stderr, "%s: out of memory (allocating %zu bytes)\n", prog, n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(size_mul(n, size));
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(size_add(n, 1));
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

size_t size_mul(size_t a, size_t b)
{
    if (b && a > SIZE_MAX / b) {
        fprintf(stderr, "%s: size overflow (%zu * %zu)\n", prog, a, b);
        abort();
    }
    return a * b;
}

size_t size_add(size_t a, size_t b)
{
    if (a > SIZE_MAX - b) {
        fprintf(stderr, "%s: size overflow (%zu + %zu)\n", prog, a, b);
        abort();
    }
    return a + b;
}

void *grow_array(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n = size_mul(n, 2);
    *cap = n;
    return xrealloc(p, size_mul(n, elem));
}

/* ---------------------------------------------------------------- StrBuf */

void sb_init(StrBuf *sb)
{
    sb->buf = sb_empty;
    sb->len = sb->cap = 0;
}

void sb_release(StrBuf *sb)
{
    if (sb->cap)
        free(sb->buf);
    sb_init(sb);
}

char *sb_detach(StrBuf *sb, size_t *len)
{
    char *r;
    if (len)
        *len = sb->len;
    r = sb->cap ? sb->buf : xstrdup("");
    sb_init(sb);
    return r;
}

void sb_grow(StrBuf *sb, size_t extra)
{
    size_t need = size_add(size_add(sb->len, extra), 1);
    if (need <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap = size_mul(cap, 2);
    if (sb->cap) {
        sb->buf = xrealloc(sb->buf, cap);
    } else {
        sb->buf = xmalloc(cap);
        sb->buf[0] = 0;
    }
    sb->cap = cap;
}

void sb_add(StrBuf *sb, const void *data, size_t n)
{
    sb_grow(sb, n);
    memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
    sb->buf[sb->len] = 0;
}

void sb_adds(StrBuf *sb, const char *s) { sb_add(sb, s, strlen(s)); }

void sb_addc(StrBuf *sb, int c)
{
    sb_grow(sb, 1);
    sb->buf[sb->len++] = (char)c;
    sb->buf[sb->len] = 0;
}

void sb_vaddf(StrBuf *sb, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(sb->buf + sb->len, sb->cap ? sb->cap - sb->len : 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n + 1 > (sb->cap ? sb->cap - sb->len : 0)) {
        sb_grow(sb, (size_t)n);
        vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    }
    sb->len += (size_t)n;
}

void sb_addf(StrBuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vaddf(sb, fmt, ap);
    va_end(ap);
}

void sb_reset(StrBuf *sb) { sb_setlen(sb, 0); }

void sb_setlen(StrBuf *sb, size_t len)
{
    if (!sb->cap)
        return;
    sb->len = len;
    sb->buf[len] = 0;
}

/* ---------------------------------------------------------------- UTF-8 */

size_t utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t c;
    size_t len;
    if (n == 0)
        goto bad;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    } else if ((u[0] & 0xE0) == 0xC0) {
        c = u[0] & 0x1F;
        len = 2;
    } else if ((u[0] & 0xF0) == 0xE0) {
        c = u[0] & 0x0F;
        len = 3;
    } else if ((u[0] & 0xF8) == 0xF0) {
        c = u[0] & 0x07;
        len = 4;
    } else {
        goto bad;
    }
    if (n < len)
        goto bad;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            goto bad;
        c = (c << 6) | (u[i] & 0x3F);
    }
    if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
        c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        goto bad;
    *cp = c;
    return len;
bad:
    *cp = 0xFFFD;
    return 0;
}

int utf8_valid(const char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i += ascii_span(s + i, n - i);
            continue;
        }
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k) {
            if (bad)
                *bad = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

#ifdef __SSE2__
/* SSE2 is part of x86-64: 16 bytes per step, a byte mask from movemask. */
size_t ascii_span(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s + i)));
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
    while (i < n && (unsigned char)s[i] < 0x80)
        i++;
    return i;
}

size_t json_plain_span(const char *s, size_t n, int ascii)
{
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f),
                  c20 = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash));
        if (ascii) /* signed: below 0x20 takes in 0x80..0xff too */
            m = _mm_or_si128(m, _mm_or_si128(_mm_cmplt_epi8(v, c20), _mm_cmpeq_epi8(v, del)));
        else /* unsigned v <= 0x1f */
            m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v));
        unsigned k = (unsigned)_mm_movemask_epi8(m);
        if (k)
            return i + (size_t)__builtin_ctz(k);
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || (ascii && c >= 0x7f))
            break;
    }
    return i;
}
#else
size_t ascii_span(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & HIGHS)
            break;
    }
    while (i < n && (unsigned char)s[i] < 0x80)
        i++;
    return i;
}

size_t json_plain_span(const char *s, size_t n, int ascii)
{
    /* (x - ONES) & ~x & HIGHS is nonzero iff x has a zero byte (the classic
     * test; its false positives only sit above a true one, so "any" is
     * exact), likewise (w - 0x20 ONES) & ~w for a byte below 0x20 */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
        uint64_t r = ((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b);
        if (ascii) {
            uint64_t d = w ^ (ONES * 0x7f);
            r |= w | ((d - ONES) & ~d);
        }
        if (r & HIGHS)
            break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || (ascii && c >= 0x7f))
            break;
    }
    return i;
}
#endif

size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

#ifndef MISO_DATADIR
#define MISO_DATADIR "datasets"
#endif

const char *util_datadir(void)
{
    const char *e = getenv("MISO_DATA");
    return e && *e ? e : MISO_DATADIR;
}

const char *util_datapath(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", util_datadir(), rel);
    return buf;
}

double util_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- Err */

void err_set(Err *e, const char *file, long line, const char *fmt, ...)
{
    va_list ap;
    if (!e)
        return;
    e->file = file;
    e->line = line;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

void err_format(const Err *e, StrBuf *out)
{
    if (e->file && e->line > 0)
        sb_addf(out, "%s:%ld: ", e->file, e->line);
    else if (e->file)
        sb_addf(out, "%s: ", e->file);
    sb_adds(out, e->msg);
}

void err_warn(const Err *e)
{
    StrBuf sb = SB_INIT;
    err_format(e, &sb);
    fflush(stdout);
    fprintf(stderr, "%s: %s\n", prog, sb.buf);
    sb_release(&sb);
}

void err_die(const Err *e)
{
    err_warn(e);
    exit(1);
}
