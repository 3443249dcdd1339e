/*
 * ifeval_pystr.h - the Python 3 string semantics the IFEval checks rely on, on UTF-8.
 *
 * The official IFEval scorer is Python: its lengths are code points, its
 * strip()/split() use str.isspace(), its lower() is full Unicode lower-casing,
 * isupper()/islower() look at "cased" characters only, json.loads has its own
 * leniency and json.dumps/float repr have exact textual forms.  This module
 * reproduces those pieces on UTF-8 byte strings (reference/ifeval-spec.md §3).
 *
 * Invariants
 *   - Input text is well-formed UTF-8 (the JSONL reader guarantees it); an
 *     invalid byte is treated as U+FFFD and never read past n.
 *   - Ranges are byte offsets into the caller's buffer; nothing here keeps a
 *     pointer to it.
 *
 * Ownership: functions that produce text append to a caller-owned StrBuf.
 * Threads: after pystr_init, every function may be called from any number of
 * threads at once (the case tables are read-only).
 *
 * Errors: none; these functions cannot fail (only OOM aborts in sb_*).
 *   pystr_init() must be called once before pystr_lower/isupper/islower
 *   (it builds the case tables); it returns -1 and fills err if the C.UTF-8
 *   locale or a PCRE2 class cannot be set up.
 *
 * Usage
 *   size_t b, e; pystr_strip(s, n, &b, &e);      // s[b..e) is s.strip()
 *   StrBuf lo = SB_INIT; pystr_lower(s, n, &lo);  // lo.buf is s.lower()
 *   if (pystr_json_loads_ok(t, m)) ...           // json.loads(t) succeeds
 */
#ifndef MISO_IFEVAL_PYSTR_H
#define MISO_IFEVAL_PYSTR_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "util.h"

int pystr_init(Err *err);

/* str.isspace() for one code point. */
int pystr_isspace(uint32_t cp);
/* s.strip() / lstrip() / rstrip(): [*b, *e) is the kept range. */
void pystr_strip(const char *s, size_t n, size_t *b, size_t *e);
/* s.strip(ch) for an ASCII ch (both ends, repeatedly). */
void pystr_strip_ascii(const char *s, size_t n, char ch, size_t *b, size_t *e);
/* 1 if s.strip() is empty. */
int pystr_isblank(const char *s, size_t n);
/* Number of code points in s[0..n). */
size_t pystr_len(const char *s, size_t n);
/* s.lower(), full Unicode (U+0130 -> "i\u0307", final sigma), appended. */
void pystr_lower(const char *s, size_t n, StrBuf *out);
/* str.isupper() / str.islower(). */
int pystr_isupper(const char *s, size_t n);
int pystr_islower(const char *s, size_t n);
/* Byte length of the first whitespace-delimited word of s (str.split()[0]),
 * *start its offset; 0 if there is none. */
size_t pystr_first_word(const char *s, size_t n, size_t *start);
/* 1 if json.loads(s) would succeed (Python's json module, strict=True). */
int pystr_json_loads_ok(const char *s, size_t n);
/* One member of a JSON record that pystr_json_object extracts. */
enum { PYJ_ABSENT, PYJ_STRING, PYJ_NUMBER, PYJ_NULL, PYJ_OTHER };
typedef struct {
    const char *name; /* member name (set by the caller) */
    int type;         /* PYJ_*: what the member's value was */
    StrBuf val;       /* a string decoded as WTF-8 with its true length, else
                       * the value's JSON text; caller-owned, reused */
} PyJsonField;
/* json.loads of the JSON object starting at s[*pos] (after optional
 * whitespace), with the named members extracted; 0 with *pos just after the
 * object, or -1 with *pos the byte offset where the text stops being JSON
 * (or is not an object).  Python's rules: NaN and
 * Infinity accepted, no raw control characters inside strings, a repeated
 * member overrides.  Strings keep what Python's str keeps: \u0000 is a NUL
 * byte inside val (use val.len), a surrogate escape not paired with the next
 * one is a lone surrogate, stored as its 3-byte WTF-8 form (ED A0..BF xx). */
int pystr_json_object(const char *s, size_t n, size_t *pos, PyJsonField *f, size_t nf);
/* In place, make WTF-8 text from pystr_json_object valid UTF-8 that every
 * check treats as Python treats the original: NUL becomes U+0001 and a lone
 * surrogate U+D800+k becomes U+E000+k (private use), same byte length.  For
 * Python all four are one code point that is not whitespace, not alphanumeric,
 * not cased, unchanged by lower() and outside every regex class the checks,
 * Punkt, word_tokenize and langdetect use; a genuine U+0001 or U+E000-U+E7FF in
 * the same text is therefore scored identically. */
void pystr_wtf8_for_scoring(char *s, size_t n);
/* json.loads of the JSON value at s[*pos] (after optional whitespace) as a
 * cJSON tree, for the small parts of a record a reader wants as a tree (the
 * IFEval kwargs).  Python's rules, as pystr_json_object: NaN, Infinity and
 * -Infinity become cJSON numbers with those values, every number is a double
 * (strtod), a repeated member is kept twice in source order (walk the
 * children and let the last win, as a dict does), and every string and member
 * name is given in its scoring form (pystr_wtf8_for_scoring: \u0000 becomes
 * U+0001, a lone surrogate a private-use character), so it is a C string.
 * Returns the tree (the caller frees it with cJSON_Delete) with *pos just
 * after the value, or NULL with *pos where the text stops being JSON. */
cJSON *pystr_json_tree(const char *s, size_t n, size_t *pos);
/* Append json.dumps(s) with ensure_ascii (the quotes included); a lone
 * surrogate in WTF-8 form is written as its \udXXX escape, as Python does. */
void pystr_json_dump_str(StrBuf *out, const char *s, size_t n);
/* Append repr(x) of a finite double ("0.7707948243992606", "1.0").  Exact
 * for every ratio k/n it prints (checked against Python on 530,791 of them,
 * all n < 1200 and random n < 60,000); a double whose correctly rounded 16
 * digits do not round-trip gets 17 digits where repr may find another
 * 16-digit string (e.g. 7.678447687145631e-239). */
void pystr_float_repr(StrBuf *out, double x);

#endif
