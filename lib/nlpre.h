/*
 * nlpre.h - the Python `re`/`str` semantics the nltk and langdetect ports
 * (lib/punkt, lib/wordtok, lib/langdetect) need, on top of PCRE2:
 * Unicode whitespace as str.isspace() sees it, str.lower(), first-character
 * case, and JIT-compiled regexes with Python-style global substitution.
 *
 * Invariants
 *   - Patterns compile with PCRE2_UTF | PCRE2_UCP | PCRE2_NEWLINE_LF and are
 *     JIT-compiled when the JIT is available.  Never use \s, \S, \w or \b in a
 *     pattern: use NLPRE_S / NLPRE_NS / NLPRE_W (Python's sets, stable across
 *     PCRE2 versions).
 *   - Subjects must be valid UTF-8 (callers validate once; matching uses
 *     PCRE2_NO_UTF_CHECK).  nlpre_valid_copy makes any input valid.
 *   - A compiled NlpRegex is read-only: threads may share it; each thread
 *     uses its own NlpMatch.
 *
 * Ownership
 *   - nlpre_compile returns a regex freed with nlpre_free; nlpre_match_new a
 *     match block freed with nlpre_match_free.  Output StrBufs are the
 *     caller's; functions append to them.
 *
 * Errors
 *   - nlpre_compile returns NULL and fills err for a bad pattern (a bug).
 *   - A match error (match limit) counts as "no match".
 *
 * Usage
 *   NlpRegex *re = nlpre_compile("a(" NLPRE_NS "+)", 0, &err);
 *   NlpMatch *md = nlpre_match_new();
 *   if (nlpre_match(re, s, n, 0, md) > 0) ... nlpre_start(md, 1) ...
 *   nlpre_sub(re, s, n, " $1 ", &out);
 */
#ifndef MISO_NLPRE_H
#define MISO_NLPRE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Python str.isspace() code points, as a class body and as classes. */
#define NLPRE_WS_BODY "\\t\\n\\x{0b}\\x{0c}\\r \\x{1c}-\\x{1f}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
#define NLPRE_S "[" NLPRE_WS_BODY "]"
#define NLPRE_NS "[^" NLPRE_WS_BODY "]"
/* Python's Unicode \w: letters, numbers, underscore. */
#define NLPRE_W "[\\p{L}\\p{N}_]"
#define NLPRE_NW "[^\\p{L}\\p{N}_]"

typedef struct NlpRegex NlpRegex;
typedef struct NlpMatch NlpMatch;

/* NLPRE_ANCHORED: every match must start at the start offset (Python
 * re.match); compiled in, so the JIT serves it (nlpre_match_anchored on an
 * unanchored pattern runs the interpreter). */
enum { NLPRE_MULTILINE = 1, NLPRE_CASELESS = 2, NLPRE_ANCHORED = 4 };

NlpRegex *nlpre_compile(const char *pattern, unsigned flags, Err *err);
void nlpre_free(NlpRegex *re);
NlpMatch *nlpre_match_new(void);
void nlpre_match_free(NlpMatch *md);
/* This thread's shared match block (created on first use, kept for the life of
 * the process): for code that does not nest matches, saves the JIT stack setup. */
NlpMatch *nlpre_match_tls(void);

/* Search s[0..n) from byte offset start: > 0 on a match, 0 otherwise. */
int nlpre_match(const NlpRegex *re, const char *s, size_t n, size_t start, NlpMatch *md);
/* The same, but the match must begin at start (Python re.match). */
int nlpre_match_anchored(const NlpRegex *re, const char *s, size_t n, size_t start, NlpMatch *md);
size_t nlpre_start(const NlpMatch *md, int group);
size_t nlpre_end(const NlpMatch *md, int group);
int nlpre_group_set(const NlpMatch *md, int group);

/* Python re.sub(pattern, repl, s): repl may hold $0..$9 for groups (an unset
 * group is empty).  Returns the substitution count; when it is > 0 the result
 * is appended to out, when it is 0 out is left untouched. */
size_t nlpre_sub(const NlpRegex *re, const char *s, size_t n, const char *repl, NlpMatch *md, StrBuf *out);
/* The same, searching from byte offset from (a code point boundary) only: for a
 * caller that knows no match can start earlier. */
size_t nlpre_sub_from(const NlpRegex *re, const char *s, size_t n, size_t from, const char *repl, NlpMatch *md,
                      StrBuf *out);

/* str.isspace() of one code point. */
int nlpre_is_space(uint32_t cp);
/* Byte length of the code point at s[i] (i < n, s valid UTF-8) if it is
 * str.isspace(), else 0: Python's \s as a scan step, ASCII inline. */
static inline size_t nlpre_space_len(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80)
        return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
    if (c != 0xC2 && c != 0xE1 && c != 0xE2 && c != 0xE3)
        return 0;
    uint32_t cp;
    size_t k = utf8_decode(s + i, n - i, &cp);
    return k && nlpre_is_space(cp) ? k : 0;
}
/* 1 if s[0..n) is empty or all str.isspace() (so s.strip() == ""). */
int nlpre_is_blank(const char *s, size_t n);
/* Byte length of s.rstrip() / start offset of s.lstrip(). */
size_t nlpre_rstrip_len(const char *s, size_t n);
size_t nlpre_lstrip_off(const char *s, size_t n);
/* Number of code points. */
size_t nlpre_cplen(const char *s, size_t n);
/* Append s.lower() (full Unicode lower-casing, C.UTF-8 tables). */
void nlpre_lower(const char *s, size_t n, StrBuf *out);

enum { NLPRE_NONE = 0, NLPRE_UPPER = 1, NLPRE_LOWER = 2 };
/* Case of the first code point: NLPRE_UPPER if s[0].isupper(), NLPRE_LOWER if
 * s[0].islower(), else NLPRE_NONE (also for an empty string). */
int nlpre_first_case(const char *s, size_t n);

/* If s[0..n) is valid UTF-8 return s; else put a copy with each bad byte
 * replaced by U+FFFD in *tmp and return tmp->buf (new length in *n). */
const char *nlpre_valid_copy(const char *s, size_t *n, StrBuf *tmp);

#endif
