/*
 * wordtok.h - nltk.word_tokenize(text, language="english", preserve_line=False)
 * for the IFEval scorer's word counts: Punkt sentences (lib/punkt.h), then
 * nltk's improved Treebank word tokenizer (NLTKWordTokenizer: starting quotes,
 * punctuation, parentheses/brackets, double dashes, ending quotes,
 * contractions) on each sentence.
 *
 * Invariants
 *   - Pure function of (model, text), output identical to nltk 3.8; the
 *     Treebank rules are hand-written scans (lib/wordtok.c), the few shared
 *     tables are built once per process (pthread_once), so any thread may
 *     call it.
 *
 * Ownership
 *   - *tokens is one malloc'd block: the array of count pointers followed by
 *     the NUL-terminated strings they point to.  Free it with
 *     wordtok_free(tokens, count) (a plain free(tokens) also does).  *tokens
 *     is NULL when count is 0.
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
   Treebank word tokenizer (NLTKWordTokenizer) on each. Returns the token count; *tokens is one malloc'd block
   (pointer array, then the strings; free with wordtok_free). */
size_t wordtok_tokenize(const PunktModel *m, const char *text, size_t n, char ***tokens);
void wordtok_free(char **tokens, size_t n);

#endif
