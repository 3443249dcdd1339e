/*
 * wordtok.h - nltk.word_tokenize(text, language="english", preserve_line=False)
 * for the IFEval scorer's word counts: Punkt sentences (lib/punkt.h), then
 * nltk's improved Treebank word tokenizer (NLTKWordTokenizer: starting quotes,
 * punctuation, parentheses/brackets, double dashes, ending quotes,
 * contractions) on each sentence.
 *
 * Invariants
 *   - Pure function of (model, text); regexes are compiled once per process
 *     (pthread_once) and shared read-only, so any thread may call it.
 *
 * Ownership
 *   - *tokens is a malloc'd array of malloc'd NUL-terminated strings; free it
 *     with wordtok_free(tokens, count).  *tokens is NULL when count is 0.
 *
 * Errors
 *   - None: any byte string is accepted (each invalid UTF-8 byte becomes
 *     U+FFFD first); out-of-memory aborts.
 *
 * Usage
 *   char **tok;
 *   size_t k = wordtok_tokenize(punkt_english(&err), text, strlen(text), &tok);
 *   ... tok[0..k) ...
 *   wordtok_free(tok, k);
 */
#ifndef MISO_WORDTOK_H
#define MISO_WORDTOK_H

#include <stddef.h>

#include "punkt.h"

/* nltk.word_tokenize(text, language="english", preserve_line=False): Punkt sentences, then the improved
   Treebank word tokenizer (NLTKWordTokenizer) on each. Returns the token count; *tokens is a malloc'd array of
   malloc'd NUL-terminated strings (free with wordtok_free). */
size_t wordtok_tokenize(const PunktModel *m, const char *text, size_t n, char ***tokens);
void wordtok_free(char **tokens, size_t n);

#endif
