/*
 * langdetect.h - a bit-exact port of Python langdetect 1.0.9 (itself a port of
 * Shuyo's language-detection), as IFEval's language:response_language checker
 * uses it: langdetect.detect(text) with DetectorFactory.seed = seed.
 *
 * The port covers text cleaning (URLs, e-mail addresses, Latin-vs-non-Latin
 * filter), NGram normalisation by Unicode block (including the CJK, Latin and
 * Vietnamese tables of messages.properties), profile loading (55 JSON
 * profiles), and the randomised detection loop (7 trials, alpha smoothing,
 * ITERATION_LIMIT, CONV_THRESHOLD, PROB_THRESHOLD) driven by an exact copy of
 * CPython's random.Random(seed) (MT19937, random(), gauss(), choice()).
 *
 * Exactness
 *   - Profiles load in sorted file-name order.  Python loads them in
 *     os.listdir order, which only changes the order of a float sum: with
 *     sorted order on both sides the probabilities agree to the last bit
 *     (tests/sh/textref.sh), with stock listdir order the detected language
 *     agrees on every test text.
 *   - Python's random is reproduced exactly (seed as random.seed(int)); the
 *     official IFEval scorer never seeds, so seed 0 is a fixed stand-in.
 *
 * Invariants
 *   - A loaded LangDetector is immutable; detection keeps all state on the
 *     stack/heap of the call, so concurrent calls on one detector are safe.
 *
 * Ownership
 *   - langdetect_load returns a detector the caller frees with
 *     langdetect_free; langdetect_default returns a shared cached one, read
 *     from the precompiled datasets/langdetect/langdetect.table (mmap'd, the
 *     same numbers as the profiles give) or, if that file is missing or
 *     malformed, from the JSON profiles.
 *   - Returned language codes are static strings owned by the detector.
 *
 * Errors
 *   - langdetect_load/langdetect_default return NULL and fill err when the
 *     profile folder is missing or a profile is malformed.
 *
 * Usage
 *   const LangDetector *d = langdetect_default(&err);
 *   if (!d) err_die(&err);
 *   const char *lang = langdetect_detect(d, text, strlen(text), 0);
 *   if (!lang) ... no features (langdetect raises LangDetectException) ...
 */
#ifndef MISO_LANGDETECT_H
#define MISO_LANGDETECT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct LangDetector LangDetector;

LangDetector *langdetect_load(const char *profiles_dir, Err *err);
const LangDetector *langdetect_default(Err *err);       /* shipped profiles, loaded once, cached (any thread) */
void langdetect_free(LangDetector *d);
/* Append the precompiled table of a loaded detector (the bytes of
 * datasets/langdetect/langdetect.table, which langdetect_default maps instead
 * of parsing the JSON profiles when it is present and well-formed). */
void langdetect_table(const LangDetector *d, StrBuf *out);
/* langdetect.detect(text) with DetectorFactory.seed = seed (default use: 0): the language code ("en", "zh-cn", ...)
   as a static string, or NULL where langdetect raises LangDetectException (no features). */
const char *langdetect_detect(const LangDetector *d, const char *text, size_t n, uint64_t seed);
/* langdetect.detect_langs(text): up to max languages with probability > 0.1, highest first, into
   langs[]/probs[]; returns how many (0: detect() would say "unknown"), or -1 where langdetect raises. */
int langdetect_probabilities(const LangDetector *d, const char *text, size_t n, uint64_t seed, const char **langs,
                             double *probs, int max);

#endif
