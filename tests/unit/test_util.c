/* test_util.c - StrBuf, UTF-8 helpers, checked sizes, Err formatting. */
#include "testhelp.h"
#include "util.h"

#include <stdlib.h>

int main(void)
{
    StrBuf sb = SB_INIT;
    CHECK(sb.buf[0] == 0 && sb.len == 0, "an empty StrBuf is a valid empty string");
    sb_adds(&sb, "hello");
    sb_addc(&sb, ' ');
    sb_addf(&sb, "%d-%s", 42, "x");
    CHECK_STR(sb.buf, "hello 42-x", "appends strings, chars and formatted text");
    for (int i = 0; i < 1000; i++)
        sb_addf(&sb, "%04d", i);
    CHECK(sb.len == 10 + 4000, "grows past its first allocation (len %zu)", sb.len);
    sb_reset(&sb);
    CHECK(sb.len == 0 && sb.buf[0] == 0, "reset keeps a NUL-terminated empty buffer");
    sb_adds(&sb, "abc");
    size_t n;
    char *d = sb_detach(&sb, &n);
    CHECK(n == 3 && !strcmp(d, "abc") && sb.len == 0, "detach hands over the buffer and re-inits");
    free(d);
    sb_release(&sb);

    CHECK(utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15, NULL), "accepts valid 2-, 3- and 4-byte UTF-8");
    size_t bad = 99;
    CHECK(!utf8_valid("ab\xc3(", 4, &bad) && bad == 2, "rejects a truncated sequence at its offset");
    CHECK(!utf8_valid("\xc0\xaf", 2, NULL), "rejects an overlong encoding");
    CHECK(!utf8_valid("\xed\xa0\x80", 3, NULL), "rejects an encoded surrogate");
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4, NULL), "rejects code points above U+10FFFF");
    char buf[4];
    uint32_t cp;
    size_t k = utf8_encode(0x1F600, buf);
    CHECK(k == 4 && utf8_decode(buf, 4, &cp) == 4 && cp == 0x1F600, "encode/decode round-trips U+1F600");

    CHECK(size_mul(1u << 20, 1u << 10) == (size_t)1 << 30, "multiplies sizes without overflow");
    Err e;
    err_set(&e, "in.jsonl", 3, "missing field '%s'", "output");
    StrBuf m = SB_INIT;
    err_format(&e, &m);
    CHECK_STR(m.buf, "in.jsonl:3: missing field 'output'", "formats FILE:LINE: message");
    sb_release(&m);

    /* The 8-byte scanners against byte-by-byte definitions, on random
     * strings from bytes at the edges of each class, at every alignment. */
    static const unsigned char edge[] = {'a', ' ', '!', '"', '#', '[', '\\', ']', '~', 0x7f, 0x80, 0xc3,
                                         0xff, 0x00, 0x1f, 0x20, 0x21, '\n', 0x5b, 0x5d, 0xa2, 0xdc};
    unsigned long long x = 88172645463325252ULL;
    int bad_span = 0;
    for (int t = 0; t < 20000; t++) {
        char str[40];
        size_t len = (size_t)(t % 40);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* mostly plain letters, so long spans are exercised too */
            str[i] = (char)(x % 4 ? 'a' + (int)(x >> 8) % 26 : edge[(x >> 8) % sizeof edge]);
        }
        size_t a = 0, p = 0, q = 0;
        while (a < len && (unsigned char)str[a] < 0x80)
            a++;
        while (p < len && (unsigned char)str[p] >= 0x20 && str[p] != '"' && str[p] != '\\')
            p++;
        while (q < len && (unsigned char)str[q] >= 0x20 && (unsigned char)str[q] < 0x7f && str[q] != '"' &&
               str[q] != '\\')
            q++;
        if (ascii_span(str, len) != a || json_plain_span(str, len, 0) != p || json_plain_span(str, len, 1) != q)
            bad_span++;
    }
    CHECK(bad_span == 0, "ascii_span and json_plain_span agree with byte loops on 20,000 strings (%d differ)",
          bad_span);
    return TEST_REPORT();
}
